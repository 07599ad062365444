/*
 * fuzz_crypto.c - the sealed-token format "rbs1:" base64url(nonce|ct|tag)
 * read by crypto_open (owner: fuzzing).  Sealed values come back from the
 * database, which we treat as outside input.
 *
 * Input: first byte selects the mode, the rest is
 *   mode even: a sealed text.  Nothing here was sealed with the fixed key,
 *              so crypto_open must never accept it (a forgery).
 *   mode odd:  a plaintext: crypto_seal it, crypto_open must give it back;
 *              then one character chosen by the input is changed, and the
 *              result, and the original under another aad, must not open.
 */
#include "crypto.h"
#include "fuzz.h"
#include "util.h"

const char fuzz_target[] = "crypto";

static const unsigned char key[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
#define AAD	"shops.access_token:7c3f1a52-5d2e-4c41-9a0e-2f6a9b1e0d11"
#define AAD2	"shops.access_token:7c3f1a52-5d2e-4c41-9a0e-2f6a9b1e0d12"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
open_must_fail(const char *aad, const char *sealed)
{
	struct rb_err err;
	char *plain = NULL;
	size_t len = 0;

	FUZZ_CHECK(crypto_open(key, aad, sealed, &plain, &len, &err) == -1);
	crypto_free_secret(plain);
}

static void
roundtrip(const uint8_t *data, size_t size, unsigned pick)
{
	struct rb_err err;
	char *sealed = NULL, *plain = NULL, *bad;
	size_t len = 0, n, pos;
	const char *c;

	if (crypto_seal(key, AAD, (const char *)data, size, &sealed,
	    &err) == -1)
		return;		/* e.g. over a size cap: nothing to open */
	FUZZ_CHECK(crypto_is_sealed(sealed));
	FUZZ_CHECK(crypto_open(key, AAD, sealed, &plain, &len, &err) == 0);
	FUZZ_CHECK(len == size && (size == 0 ||
	    memcmp(plain, data, size) == 0) && plain[len] == '\0');
	crypto_free_secret(plain);
	open_must_fail(AAD2, sealed);
	open_must_fail("", sealed);

	/* One changed character anywhere after the prefix. */
	n = strlen(sealed);
	if (n > strlen(SEAL_PREFIX)) {
		if ((bad = strdup(sealed)) == NULL)
			abort();
		pos = strlen(SEAL_PREFIX) + pick % (n - strlen(SEAL_PREFIX));
		c = strchr(b64url, bad[pos]);
		bad[pos] = c != NULL ? b64url[(size_t)(c - b64url + 1 +
		    (pick >> 8) % 63) % 64] : 'A';
		open_must_fail(AAD, bad);
		/* Truncated by one character. */
		bad[n - 1] = '\0';
		open_must_fail(AAD, bad);
		free(bad);
	}
	free(sealed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	unsigned pick;

	if (size < 1 || size > 16384)
		return 0;
	if (data[0] % 2 == 0) {
		s = fuzz_str(data + 1, size - 1);
		open_must_fail(AAD, s);
		free(s);
		return 0;
	}
	pick = size >= 3 ? (unsigned)data[1] | (unsigned)data[2] << 8 : 0;
	roundtrip(data + 1, size - 1, pick);
	return 0;
}
