/*
 * fuzz_jwt.c - jwt_verify on access tokens from the Authorization header
 * (owner: fuzzing).  Keys: a fixed HS256 secret and a fixed JWKS with one
 * P-256 and one RSA public key (fixed_jwks.h); "now" is fixed.
 *
 * Invariants for every token jwt_verify accepts:
 *   - its header "alg" is HS256, ES256 or RS256;
 *   - HS256: the signature is exactly HMAC-SHA256(secret, header.payload),
 *     recomputed here with OpenSSL (an oracle independent of lib/jwt.c);
 *   - it verifies again with the same claims (no hidden state);
 *   - changing any one character of the signature makes it fail;
 *   - claims->sub is a UUID and exp is not in the past beyond the leeway.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "encode.h"
#include "fixed_jwks.h"
#include "fuzz.h"
#include "jwt.h"
#include "util.h"

const char fuzz_target[] = "jwt";

#define SECRET	"fuzz-hs256-secret-0123456789abcdef"
#define NOW	((time_t)1767225600)	/* 2026-01-01T00:00:00Z */

static struct jwt_keys *keys;

static char *
header_alg(const char *token)
{
	const char *dot = strchr(token, '.');
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	json_t *h;
	char *alg = NULL;

	if (dot == NULL || rb_b64url_decode(token, (size_t)(dot - token),
	    &raw, &rawlen) == -1)
		return NULL;
	h = json_loadb((const char *)raw, rawlen, 0, NULL);
	if (json_is_string(json_object_get(h, "alg")))
		alg = strdup(json_string_value(json_object_get(h, "alg")));
	json_decref(h);
	free(raw);
	return alg;
}

static void
check_hs256(const char *token)
{
	const char *sig = strrchr(token, '.');
	unsigned char mac[EVP_MAX_MD_SIZE], *raw = NULL;
	unsigned maclen = 0;
	size_t rawlen = 0;

	FUZZ_CHECK(sig != NULL);
	FUZZ_CHECK(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)token, (size_t)(sig - token), mac,
	    &maclen) != NULL);
	FUZZ_CHECK(rb_b64url_decode(sig + 1, strlen(sig + 1), &raw,
	    &rawlen) == 0);
	FUZZ_CHECK(rawlen == maclen && memcmp(raw, mac, maclen) == 0);
	free(raw);
}

static void
check_accepted(const char *token, const struct jwt_claims *c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	struct jwt_claims again;
	struct rb_err err;
	char *alg, *bad;
	const char *sig;
	size_t i, n;

	FUZZ_CHECK(rb_is_uuid(c->sub));
	FUZZ_CHECK(c->exp + 60 >= (long long)NOW);
	alg = header_alg(token);
	FUZZ_CHECK(alg != NULL);
	FUZZ_CHECK(strcmp(alg, "HS256") == 0 || strcmp(alg, "ES256") == 0 ||
	    strcmp(alg, "RS256") == 0);
	if (strcmp(alg, "HS256") == 0)
		check_hs256(token);
	free(alg);

	memset(&again, 0, sizeof(again));
	FUZZ_CHECK(jwt_verify(keys, token, NOW, &again, &err) == 0);
	FUZZ_CHECK(strcmp(again.sub, c->sub) == 0 && again.exp == c->exp);

	/* Each signature character changed in turn (capped for speed). */
	sig = strrchr(token, '.');
	FUZZ_CHECK(sig != NULL && sig[1] != '\0');
	if ((bad = strdup(token)) == NULL)
		abort();
	n = strlen(sig + 1);
	for (i = 0; i < n && i < 8; i++) {
		size_t pos = (size_t)(sig + 1 - token) + i * n / 8;
		const char *p = strchr(alphabet, bad[pos]);
		char keep = bad[pos];

		bad[pos] = p != NULL ? alphabet[(p - alphabet + 17) % 64] : 'A';
		if (jwt_verify(keys, bad, NOW, &again, &err) == 0) {
			fprintf(stderr, "accepted with signature char %zu "
			    "changed: %s\n", pos, bad);
			abort();
		}
		bad[pos] = keep;
	}
	free(bad);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims claims;
	struct rb_err err;
	char *token;

	if (keys == NULL && jwt_keys_load(&keys, SECRET, fixed_jwks,
	    &err) == -1) {
		fprintf(stderr, "fixed keys: %s\n", err.msg);
		abort();
	}
	if (size > JWT_MAX_LEN + 64)
		return 0;
	token = fuzz_str(data, size);
	memset(&claims, 0, sizeof(claims));
	if (jwt_verify(keys, token, NOW, &claims, &err) == 0)
		check_accepted(token, &claims);
	else
		FUZZ_CHECK(err.status == 401 && err.code[0] != '\0');
	free(token);
	return 0;
}
