/*
 * fuzz_jwks.c - jwt_keys_load on a JWKS document (jwks_file of the
 * config; owner: fuzzing).  A set that loads is used to verify three
 * fixed tokens (HS256, ES256 "ec-1", RS256 "rsa-1", signed with the
 * thrown-away private keys of fixed_jwks.h), so the parsed key material
 * is exercised too.  Invariant: the HS256 token, signed with another
 * secret than the one loaded here, never verifies.
 */
#include "fuzz.h"
#include "jwt.h"

const char fuzz_target[] = "jwks";

#define NOW	((time_t)1767225600)

static const char tok_hs[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIyYjZmMGNjOS0"
    "wNGI1LTRkOGMtOWYwZS04ZTFlNmY0YTdjMjEiLCJhdWQiOiJhdXRoZW50aWN"
    "hdGVkIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJlbWFpbCI6Im93bmVyQGV"
    "4YW1wbGUuY29tIiwiZXhwIjoxNzY3MjI5MjAwLCJpYXQiOjE3NjcyMjU1OTB"
    "9.Y-tFiSHEWpJF28MXrjTxEYkpOMLShJudYaIazYHAdmI";
static const char tok_es[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjLTEifQ.eyJzd"
    "WIiOiIyYjZmMGNjOS0wNGI1LTRkOGMtOWYwZS04ZTFlNmY0YTdjMjEiLCJhd"
    "WQiOiJhdXRoZW50aWNhdGVkIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJlb"
    "WFpbCI6Im93bmVyQGV4YW1wbGUuY29tIiwiZXhwIjoxNzY3MjI5MjAwLCJpY"
    "XQiOjE3NjcyMjU1OTB9.d7_Fjqgv98WSHF8z_0jHa1CgjJTi9tkGBASxbsCv"
    "XcA0HpODN8xnd7ecM6cgZuJRaDzx8VJyPAGa9a0XLfK3vQ";
static const char tok_rs[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0.eyJz"
    "dWIiOiIyYjZmMGNjOS0wNGI1LTRkOGMtOWYwZS04ZTFlNmY0YTdjMjEiLCJh"
    "dWQiOiJhdXRoZW50aWNhdGVkIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJl"
    "bWFpbCI6Im93bmVyQGV4YW1wbGUuY29tIiwiZXhwIjoxNzY3MjI5MjAwLCJp"
    "YXQiOjE3NjcyMjU1OTB9.S4JlfO_5WYUJ5F3W_hqq5FWrZjkHCxC4PEsimk0"
    "gyxb0kpVV1QR0xSIB3jBTsh62H6gJPEZ89ByIzSrpw-Wee1n9pNKX9aq3auE"
    "tplqXDfdPkdi-sq3IuBSgOKusz3LoKmwkpRP7yRRGNV7pD-Er38FQPFy_46M"
    "wzyoyZY37gX9g8Pcm-CMM4UVnMqQF4KWRr49FSPTjmZLy1HfRDbqCN34Py1J"
    "WUkVLSVVuzttZupCl4LLtbYqj499rUl-EChrbzD4JnRApPTEoT6fHkkdEvKZ"
    "FBb6VKmoPLykzKeIgK37ADwJ1kmRgjK740QNBMkuRElNoaCphJEzH3eNlHvi"
    "xvg";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_keys *k = NULL;
	struct jwt_claims claims;
	struct rb_err err;
	char *json;

	if (size > 256 * 1024)
		return 0;
	json = fuzz_str(data, size);
	if (jwt_keys_load(&k, "another-secret-than-the-token-had", json,
	    &err) == 0) {
		FUZZ_CHECK(k != NULL);
		FUZZ_CHECK(jwt_verify(k, tok_hs, NOW, &claims, &err) == -1);
		/* May verify when the set holds the fixed public keys. */
		if (jwt_verify(k, tok_es, NOW, &claims, &err) == 0)
			FUZZ_CHECK(claims.sub[0] != '\0');
		if (jwt_verify(k, tok_rs, NOW, &claims, &err) == 0)
			FUZZ_CHECK(claims.sub[0] != '\0');
		jwt_keys_free(k);
	} else
		FUZZ_CHECK(k == NULL && err.code[0] != '\0');
	k = NULL;
	if (jwt_keys_load(&k, NULL, json, &err) == 0) {
		FUZZ_CHECK(k != NULL);
		FUZZ_CHECK(jwt_verify(k, tok_hs, NOW, &claims, &err) == -1);
		jwt_keys_free(k);
	}
	free(json);
	return 0;
}
