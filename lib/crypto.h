/*
 * crypto.h - sealed tokens and random values (OpenSSL).
 *
 * Sealed format, version 1:  "rbs1:" base64url(nonce[12] | ciphertext | tag[16])
 * AES-256-GCM under token_key; aad binds the value to where it is stored
 * (convention: "shops.access_token:<shop uuid>", "pinterest_auth.refresh_token:<shop uuid>")
 * so a sealed value copied to another row does not open.
 */
#ifndef RB_CRYPTO_H
#define RB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

#define SEAL_PREFIX	"rbs1:"

int	crypto_seal(const unsigned char key[32], const char *aad,
	    const char *plain, size_t len, char **sealed, struct rb_err *err)
	    RB_WUR;
/* *plain is NUL-terminated; wipe it (crypto_free_secret) when done. */
int	crypto_open(const unsigned char key[32], const char *aad,
	    const char *sealed, char **plain, size_t *len, struct rb_err *err)
	    RB_WUR;
bool	crypto_is_sealed(const char *s);
void	crypto_free_secret(char *s);	/* cleanse and free; NULL ok */

/* nbytes random bytes as base64url (state values, PKCE verifiers). */
int	crypto_random_b64url(size_t nbytes, char *out, size_t outsz) RB_WUR;
/* base64url(SHA-256(in)): PKCE S256 challenge. */
int	crypto_sha256_b64url(const char *in, size_t len, char *out,
	    size_t outsz) RB_WUR;
/* Constant-time comparison of equal-length buffers. */
bool	crypto_equal(const void *a, const void *b, size_t n);

#endif
