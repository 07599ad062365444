/* test_crypto.c - sealed values, random values, PKCE, comparison. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto.h"
#include "encode.h"
#include "util.h"
#include "tap.h"

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned char key1[32], key2[32];

/* open must fail with the one error code and reveal nothing. */
static void
refused(const unsigned char *key, const char *aad, const char *sealed,
    const char *what)
{
	struct rb_err err;
	static char sentinel[] = "sentinel";
	char *plain = sentinel;
	size_t len = 99;
	int rc;

	rb_err_clear(&err);
	rc = crypto_open(key, aad, sealed, &plain, &len, &err);
	ok(rc == -1, "open refuses: %s", what);
	ok(plain == NULL && len == 0, "no output on refusal: %s", what);
	is_str(err.code, "token_unreadable", "code: %s", what);
	is_int(err.status, 500, "status: %s", what);
	ok(err.msg[0] != '\0' && strstr(err.msg, "s3cr3t") == NULL &&
	    (sealed == NULL || strlen(sealed) < 12 ||
	    strstr(err.msg, sealed + 5) == NULL) &&
	    (aad == NULL || *aad == '\0' || strstr(err.msg, aad) == NULL),
	    "message has no secret, value or aad: %s", what);
	if (rc == 0)
		crypto_free_secret(plain);
}

static char *
seal_ok(const unsigned char *key, const char *aad, const char *plain,
    size_t len)
{
	struct rb_err err;
	char *s = NULL;

	rb_err_clear(&err);
	if (crypto_seal(key, aad, plain, len, &s, &err) == -1) {
		printf("# seal failed: %s %s\n", err.code, err.msg);
		return NULL;
	}
	return s;
}

/* sealed text -> raw bytes (nonce|ct|tag) */
static unsigned char *
raw_of(const char *sealed, size_t *n)
{
	unsigned char *raw = NULL;

	if (rb_b64url_decode(sealed + 5, strlen(sealed + 5), &raw, n) == -1)
		return NULL;
	return raw;
}

static char *
sealed_of(const unsigned char *raw, size_t n)
{
	struct rb_buf b = { 0 };
	char *t = NULL;

	if (rb_b64url_encode(raw, n, &t) == -1 || rb_buf_puts(&b, "rbs1:") ||
	    rb_buf_puts(&b, t)) {
		free(t);
		rb_buf_free(&b);
		return NULL;
	}
	free(t);
	return b.data;
}

static void
test_round_trip(void)
{
	const char *aad = "shops.access_token:7d5e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
	const char *secret = "shpat_s3cr3t_0123456789abcdef";
	struct rb_err err;
	char *s, *s2, *plain = NULL;
	unsigned char *r1, *r2;
	size_t len = 0, n1 = 0, n2 = 0;

	s = seal_ok(key1, aad, secret, strlen(secret));
	ok(s != NULL, "seal works");
	if (s == NULL)
		return;
	ok(strncmp(s, "rbs1:", 5) == 0, "sealed value starts with rbs1:");
	ok(strstr(s, "s3cr3t") == NULL, "sealed value does not show plain");
	ok(crypto_is_sealed(s), "is_sealed on a sealed value");
	ok(strspn(s + 5, B64URL) == strlen(s + 5), "base64url after prefix");
	is_int(strlen(s + 5), (12 + strlen(secret) + 16) * 4 / 3 +
	    ((12 + strlen(secret) + 16) % 3 ? 1 : 0), "encoded length");
	rb_err_clear(&err);
	ok(crypto_open(key1, aad, s, &plain, &len, &err) == 0,
	    "open works");
	is_str(plain, secret, "round trip gives the plain text");
	is_int(len, strlen(secret), "round trip length");
	crypto_free_secret(plain);

	s2 = seal_ok(key1, aad, secret, strlen(secret));
	ok(s2 != NULL && strcmp(s, s2) != 0, "two seals differ");
	r1 = raw_of(s, &n1);
	r2 = s2 ? raw_of(s2, &n2) : NULL;
	ok(r1 && r2 && n1 == n2 && memcmp(r1, r2, 12) != 0,
	    "the nonces of two seals differ");
	free(r1);
	free(r2);
	free(s2);

	refused(key2, aad, s, "wrong key");
	refused(key1, "shops.access_token:00000000-0000-4000-8000-000000000000",
	    s, "wrong aad");
	refused(key1, NULL, s, "aad missing");
	free(s);

	/* NULL aad is the same as "" */
	s = seal_ok(key1, NULL, "x", 1);
	plain = NULL;
	ok(s != NULL && crypto_open(key1, "", s, &plain, &len, &err) == 0 &&
	    plain != NULL && strcmp(plain, "x") == 0,
	    "NULL aad seals like \"\"");
	crypto_free_secret(plain);
	if (s != NULL)
		refused(key1, "row:qqq", s, "aad given where none was bound");
	free(s);

	/* empty plain text and binary plain text */
	s = seal_ok(key1, "t", "", 0);
	plain = NULL;
	ok(s != NULL && crypto_open(key1, "t", s, &plain, &len, &err) == 0 &&
	    plain != NULL && len == 0 && plain[0] == '\0',
	    "empty plain text round trip");
	crypto_free_secret(plain);
	free(s);
	s = seal_ok(key1, "t", "a\0b\xff", 4);
	plain = NULL;
	ok(s != NULL && crypto_open(key1, "t", s, &plain, &len, &err) == 0 &&
	    len == 4 && memcmp(plain, "a\0b\xff", 5) == 0,
	    "binary plain text round trip, NUL-terminated");
	crypto_free_secret(plain);
	free(s);
}

static void
test_tamper(void)
{
	const char *aad = "pinterest_auth.refresh_token:x";
	char *s, *t;
	unsigned char *raw;
	size_t n = 0, i, bad = 0;

	/* 12 + 6 + 16 = 34 bytes: the last character has unused bits */
	s = seal_ok(key1, aad, "abcdef", 6);
	ok(s != NULL, "seal for tamper tests");
	if (s == NULL)
		return;
	raw = raw_of(s, &n);
	is_int(n, 34, "raw length nonce+ct+tag");
	for (i = 0; raw != NULL && i < n; i++) {
		struct rb_err err;
		char *plain = NULL;
		size_t len;

		raw[i] ^= 0x01;
		t = sealed_of(raw, n);
		raw[i] ^= 0x01;
		if (t == NULL ||
		    crypto_open(key1, aad, t, &plain, &len, &err) == 0 ||
		    strcmp(err.code, "token_unreadable") != 0)
			bad++;
		crypto_free_secret(plain);
		free(t);
	}
	is_int(bad, 0, "every flipped bit (nonce, ciphertext, tag) refused");

	/* truncations: last char, last 4 chars, down to less than 28 bytes */
	t = strdup(s);
	t[strlen(t) - 1] = '\0';
	refused(key1, aad, t, "last character cut");
	t[strlen(t) - 3] = '\0';
	refused(key1, aad, t, "last four characters cut");
	if (raw != NULL) {
		char *u = sealed_of(raw, 27);
		refused(key1, aad, u, "shorter than nonce+tag");
		free(u);
		u = sealed_of(raw, 33);
		refused(key1, aad, u, "tag cut by one byte");
		free(u);
	}
	free(t);
	refused(key1, aad, "rbs1:", "prefix only");

	/* a changed character in the middle */
	t = strdup(s);
	t[20] = t[20] == 'A' ? 'B' : 'A';
	refused(key1, aad, t, "changed character");
	free(t);

	/* non-canonical last character: same bytes, other text */
	t = strdup(s);
	{
		size_t last = strlen(t) - 1;
		const char *p = strchr(B64URL, t[last]);

		t[last] = B64URL[(p - B64URL) ^ 1];
	}
	refused(key1, aad, t, "non-canonical base64url");
	free(t);

	/* other prefixes and versions, bad base64url */
	t = strdup(s);
	t[3] = '2';
	refused(key1, aad, t, "version rbs2");
	ok(!crypto_is_sealed(t), "is_sealed false for rbs2:");
	t[3] = '1';
	t[0] = 'R';
	refused(key1, aad, t, "prefix RBS1");
	free(t);
	refused(key1, aad, s + 5, "no prefix");
	t = strdup(s);
	t[10] = '+';
	refused(key1, aad, t, "'+' in base64url");
	t[10] = '=';
	refused(key1, aad, t, "'=' in base64url");
	t[10] = ' ';
	refused(key1, aad, t, "space in base64url");
	free(t);
	refused(key1, aad, NULL, "NULL");
	refused(key1, aad, "", "empty");
	refused(key1, aad, "shpat_plaintoken", "plain text token");
	free(raw);
	free(s);
}

static void
test_limits(void)
{
	struct rb_err err;
	char *big, *s = NULL, *plain = NULL;
	size_t len = 0;
	unsigned char *raw;

	big = malloc(16385);
	memset(big, 'q', 16385);
	rb_err_clear(&err);
	ok(crypto_seal(key1, "a", big, 16385, &s, &err) == -1 && s == NULL,
	    "seal refuses 16 KiB + 1");
	ok(err.code[0] != '\0', "seal refusal has a code");
	s = seal_ok(key1, "a", big, 16384);
	ok(s != NULL && crypto_open(key1, "a", s, &plain, &len, &err) == 0 &&
	    len == 16384 && memcmp(plain, big, 16384) == 0,
	    "16 KiB round trip");
	crypto_free_secret(plain);
	free(s);

	/* a well-formed, authenticated-looking value that is too long */
	raw = calloc(1, 12 + 16385 + 16);
	s = sealed_of(raw, 12 + 16385 + 16);
	refused(key1, "row:big", s, "longer than the cap");
	free(s);
	free(raw);
	free(big);
}

static void
test_is_sealed(void)
{
	char *s = seal_ok(key1, "a", "v", 1);

	ok(s != NULL && crypto_is_sealed(s), "is_sealed: fresh value");
	ok(!crypto_is_sealed(NULL), "is_sealed: NULL");
	ok(!crypto_is_sealed(""), "is_sealed: empty");
	ok(!crypto_is_sealed("rbs1:"), "is_sealed: prefix only");
	ok(!crypto_is_sealed("rbs1:abc"), "is_sealed: too short");
	ok(!crypto_is_sealed("shpat_0123456789abcdef0123456789abcdef01234"),
	    "is_sealed: plain token");
	ok(!crypto_is_sealed("rbs1:AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAA"),
	    "is_sealed: not base64url");
	free(s);
}

static void
test_random_sha_equal(void)
{
	char a[64], b[64], small[10];
	char h[64];
	const char *v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

	ok(crypto_random_b64url(32, a, sizeof(a)) == 0, "random 32 bytes");
	ok(crypto_random_b64url(32, b, sizeof(b)) == 0, "random again");
	is_int(strlen(a), 43, "32 bytes -> 43 characters");
	ok(strspn(a, B64URL) == 43, "random is base64url");
	ok(strcmp(a, b) != 0, "two random values differ");
	ok(crypto_random_b64url(32, small, sizeof(small)) == -1 &&
	    small[0] == '\0', "random refuses a small buffer");
	ok(crypto_random_b64url(0, a, sizeof(a)) == -1, "random 0 refused");
	ok(crypto_random_b64url(32, a, 44) == 0, "random fits exactly");

	ok(crypto_sha256_b64url(v, strlen(v), h, sizeof(h)) == 0,
	    "sha256 works");
	is_str(h, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
	    "RFC 7636 appendix B S256 challenge");
	ok(crypto_sha256_b64url("abc", 3, h, sizeof(h)) == 0, "sha256 abc");
	is_str(h, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
	    "FIPS 180-2 'abc' vector");
	ok(crypto_sha256_b64url("abc", 3, h, 43) == -1,
	    "sha256 refuses a small buffer");

	ok(crypto_equal("abcdef", "abcdef", 6), "equal: same");
	ok(!crypto_equal("abcdef", "abcdeg", 6), "equal: last byte differs");
	ok(!crypto_equal("xbcdef", "abcdef", 6), "equal: first byte differs");
	ok(crypto_equal("abc", "abd", 2), "equal: only n bytes compared");
	crypto_free_secret(NULL);
	crypto_free_secret(strdup("secret"));
	ok(1, "free_secret NULL and heap string");
}

int
main(void)
{
	if (RAND_bytes(key1, 32) != 1 || RAND_bytes(key2, 32) != 1)
		return 2;
	test_round_trip();
	test_tamper();
	test_limits();
	test_is_sealed();
	test_random_sha_equal();
	return done_testing();
}
