/*
 * crypto.c - sealed tokens and random values (see crypto.h).
 *
 * Sealed format, version 1:  "rbs1:" base64url(nonce[12] | ct | tag[16]),
 * AES-256-GCM, a fresh random 96-bit nonce per seal, the aad bound in.
 * Every way a sealed value can fail to open gives the same error code,
 * "token_unreadable", and a message that names no key, aad or value.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "encode.h"
#include "util.h"

#define SEAL_NONCE_LEN	12
#define SEAL_TAG_LEN	16
#define SEAL_PLAIN_MAX	(16u * 1024)	/* tokens are far smaller */
#define SEAL_AAD_MAX	1024		/* "<table>.<column>:<uuid>" */
#define SEAL_RAW_MAX	(SEAL_NONCE_LEN + SEAL_PLAIN_MAX + SEAL_TAG_LEN)
/* base64url without padding of SEAL_RAW_MAX bytes */
#define SEAL_B64_MAX	((SEAL_RAW_MAX * 4 + 2) / 3)
#define SEAL_B64_MIN	(((SEAL_NONCE_LEN + SEAL_TAG_LEN) * 4 + 2) / 3)
#define RANDOM_MAX	1024

static int
is_b64url_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
crypto_seal(const unsigned char key[32], const char *aad, const char *plain,
    size_t len, char **sealed, struct rb_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *b64 = NULL, *res = NULL;
	size_t aadlen, rawlen, b64len, reslen;
	int n, outl;

	*sealed = NULL;
	if (aad == NULL)
		aad = "";
	aadlen = strlen(aad);
	if (key == NULL || (plain == NULL && len != 0)) {
		rb_err_set(err, 500, "seal_failed",
		    "Cannot seal a value: no key or no value was given.");
		goto fail;
	}
	if (len > SEAL_PLAIN_MAX || aadlen > SEAL_AAD_MAX) {
		rb_err_set(err, 500, "seal_failed",
		    "Cannot seal a value longer than %u bytes (aad: %u).",
		    SEAL_PLAIN_MAX, SEAL_AAD_MAX);
		goto fail;
	}
	rawlen = SEAL_NONCE_LEN + len + SEAL_TAG_LEN;	/* bounded above */
	if ((raw = malloc(rawlen)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	if (RAND_bytes(raw, SEAL_NONCE_LEN) != 1)
		goto crypto_fail;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto crypto_fail;
	if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) != 1)
		goto crypto_fail;
	if (aadlen > 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
	    (int)aadlen) != 1)
		goto crypto_fail;
	n = 0;
	if (len > 0) {
		if (EVP_EncryptUpdate(ctx, raw + SEAL_NONCE_LEN, &outl,
		    (const unsigned char *)plain, (int)len) != 1)
			goto crypto_fail;
		n = outl;
	}
	if (EVP_EncryptFinal_ex(ctx, raw + SEAL_NONCE_LEN + n, &outl) != 1)
		goto crypto_fail;
	n += outl;
	if ((size_t)n != len)	/* GCM is a stream mode */
		goto crypto_fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN,
	    raw + SEAL_NONCE_LEN + len) != 1)
		goto crypto_fail;
	if (rb_b64url_encode(raw, rawlen, &b64) == -1) {
		rb_err_oom(err);
		goto fail;
	}
	b64len = strlen(b64);
	reslen = sizeof(SEAL_PREFIX) - 1 + b64len;
	if ((res = malloc(reslen + 1)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	memcpy(res, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1);
	memcpy(res + sizeof(SEAL_PREFIX) - 1, b64, b64len + 1);
	free(b64);
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	EVP_CIPHER_CTX_free(ctx);
	*sealed = res;
	return 0;
crypto_fail:
	rb_err_set(err, 500, "seal_failed",
	    "Cannot seal a value: the AES-256-GCM encryption failed.");
fail:
	free(b64);
	if (raw != NULL)
		OPENSSL_cleanse(raw, rawlen);
	free(raw);
	EVP_CIPHER_CTX_free(ctx);
	return -1;
}

int
crypto_open(const unsigned char key[32], const char *aad, const char *sealed,
    char **plain, size_t *len, struct rb_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL, *out = NULL;
	unsigned char tag[SEAL_TAG_LEN];
	const char *b64;
	size_t aadlen, b64len, rawlen = 0, ctlen = 0;
	int n, outl;

	*plain = NULL;
	if (len != NULL)
		*len = 0;
	if (aad == NULL)
		aad = "";
	aadlen = strlen(aad);
	if (key == NULL || sealed == NULL ||
	    strncmp(sealed, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) != 0) {
		rb_err_set(err, 500, "token_unreadable",
		    "A stored token is not in the sealed format rbs1; "
		    "run rebossctl seal-tokens.");
		goto fail;
	}
	b64 = sealed + sizeof(SEAL_PREFIX) - 1;
	b64len = strnlen(b64, SEAL_B64_MAX + 1);
	if (b64len > SEAL_B64_MAX || aadlen > SEAL_AAD_MAX ||
	    rb_b64url_decode_strict(b64, b64len, &raw, &rawlen) == -1 ||
	    rawlen < SEAL_NONCE_LEN + SEAL_TAG_LEN || rawlen > SEAL_RAW_MAX) {
		rb_err_set(err, 500, "token_unreadable",
		    "A stored token is damaged: its sealed text is malformed.");
		goto fail;
	}
	ctlen = rawlen - SEAL_NONCE_LEN - SEAL_TAG_LEN;
	memcpy(tag, raw + rawlen - SEAL_TAG_LEN, SEAL_TAG_LEN);
	if ((out = malloc(ctlen + 1)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) != 1)
		goto open_fail;
	if (aadlen > 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
	    (int)aadlen) != 1)
		goto open_fail;
	n = 0;
	if (ctlen > 0) {
		if (EVP_DecryptUpdate(ctx, out, &outl, raw + SEAL_NONCE_LEN,
		    (int)ctlen) != 1)
			goto open_fail;
		n = outl;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN,
	    tag) != 1)
		goto open_fail;
	if (EVP_DecryptFinal_ex(ctx, out + n, &outl) != 1)
		goto open_fail;
	n += outl;
	if ((size_t)n != ctlen)
		goto open_fail;
	out[ctlen] = '\0';
	free(raw);
	EVP_CIPHER_CTX_free(ctx);
	*plain = (char *)out;
	if (len != NULL)
		*len = ctlen;
	return 0;
open_fail:
	rb_err_set(err, 500, "token_unreadable",
	    "A stored token does not open: it was sealed under another "
	    "token_key or for another row, or it was altered.");
fail:
	if (out != NULL)
		OPENSSL_cleanse(out, ctlen + 1);
	free(out);
	free(raw);
	EVP_CIPHER_CTX_free(ctx);
	return -1;
}

bool
crypto_is_sealed(const char *s)
{
	size_t i;

	if (s == NULL || strncmp(s, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) != 0)
		return false;
	s += sizeof(SEAL_PREFIX) - 1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SEAL_B64_MAX || !is_b64url_char((unsigned char)s[i]))
			return false;
	}
	return i >= SEAL_B64_MIN;
}

void
crypto_free_secret(char *s)
{
	if (s == NULL)
		return;
	/* The whole allocation, not just up to the first NUL: an opened
	 * value may hold NUL bytes (glibc). */
	OPENSSL_cleanse(s, malloc_usable_size(s));
	free(s);
}

int
crypto_random_b64url(size_t nbytes, char *out, size_t outsz)
{
	unsigned char r[RANDOM_MAX];
	char *b64 = NULL;
	int rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (nbytes == 0 || nbytes > RANDOM_MAX)
		return -1;
	if (RAND_bytes(r, (int)nbytes) != 1)
		goto out;
	if (rb_b64url_encode(r, nbytes, &b64) == -1)
		goto out;
	if (rb_strlcpy(out, b64, outsz) >= outsz) {
		OPENSSL_cleanse(out, outsz);
		out[0] = '\0';
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(r, sizeof(r));
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return rc;
}

int
crypto_sha256_b64url(const char *in, size_t len, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *b64 = NULL;
	int rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (in == NULL && len != 0)
		return -1;
	if (EVP_Digest(in == NULL ? "" : in, len, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32)
		goto out;
	if (rb_b64url_encode(md, mdlen, &b64) == -1)
		goto out;
	if (rb_strlcpy(out, b64, outsz) >= outsz) {
		out[0] = '\0';
		goto out;
	}
	rc = 0;
out:
	free(b64);
	return rc;
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
