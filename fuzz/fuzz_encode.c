/*
 * fuzz_encode.c - hex, base64url and base64 decoders of lib/encode.c
 * (owner: fuzzing).  They read sealed tokens, JWTs, JWKS keys and the
 * token_key of the config file.
 *
 * Invariants (the decoders are strict/canonical, util.h):
 *   decode(s) accepted  =>  encode(decode(s)) == s  (hex: case-folded)
 *   for any bytes b:        decode(encode(b)) == b
 */
#include <ctype.h>

#include "encode.h"
#include "fuzz.h"
#include "util.h"

const char fuzz_target[] = "encode";

static void
check_b64(const char *s, size_t n, bool url)
{
	unsigned char *dec = NULL, *dec2 = NULL;
	char *enc = NULL;
	size_t dlen = 0, dlen2 = 0;
	int rc;

	rc = url ? rb_b64url_decode(s, n, &dec, &dlen) :
	    rb_b64_decode(s, n, &dec, &dlen);
	if (rc == 0) {
		FUZZ_CHECK(dec != NULL || dlen == 0);
		rc = url ? rb_b64url_encode(dec, dlen, &enc) :
		    rb_b64_encode(dec, dlen, &enc);
		FUZZ_CHECK(rc == 0 && enc != NULL);
		/* Canonical: exactly one text per byte string. */
		FUZZ_CHECK(strlen(enc) == n && memcmp(enc, s, n) == 0);
		free(enc);
		free(dec);
	}
	/* The other direction on the raw input bytes. */
	enc = NULL;
	rc = url ? rb_b64url_encode((const unsigned char *)s, n, &enc) :
	    rb_b64_encode((const unsigned char *)s, n, &enc);
	FUZZ_CHECK(rc == 0 && enc != NULL);
	rc = url ? rb_b64url_decode(enc, strlen(enc), &dec2, &dlen2) :
	    rb_b64_decode(enc, strlen(enc), &dec2, &dlen2);
	FUZZ_CHECK(rc == 0 && dlen2 == n);
	FUZZ_CHECK(n == 0 || memcmp(dec2, s, n) == 0);
	free(enc);
	free(dec2);
}

static void
check_hex(const char *s, size_t n)
{
	unsigned char *out;
	char *back;
	size_t i, half = n / 2;

	if ((out = malloc(half + 1)) == NULL ||
	    (back = malloc(2 * half + 1)) == NULL)
		abort();
	if (rb_hex_decode(s, out, half) == 0) {
		/* Exactly 2*half hex digits were consumed and nothing else
		 * accepted: re-encoding gives the input, lower-cased. */
		FUZZ_CHECK(n == 2 * half);
		rb_hex_encode(out, half, back);
		for (i = 0; i < 2 * half; i++)
			FUZZ_CHECK(back[i] ==
			    (char)tolower((unsigned char)s[i]));
		FUZZ_CHECK(back[2 * half] == '\0');
	}
	free(out);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if (size > 65536)
		return 0;
	s = fuzz_str(data, size);
	n = strlen(s);		/* the decoders take C strings */
	check_b64(s, n, true);
	check_b64(s, n, false);
	check_hex(s, n);
	free(s);
	return 0;
}
