/*
 * encode.h - hex and base64 (standard and url-safe) of lib/encode.c.
 * Strict decoders: a malformed input is -1, never a partial result.
 */
#ifndef RB_ENCODE_H
#define RB_ENCODE_H

#include <stddef.h>

#include "rb.h"

/* Exactly 2*n hex digits into n bytes. */
int	rb_hex_decode(const char *hex, unsigned char *out, size_t n) RB_WUR;
void	rb_hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
/* Value of one hex digit (0-9, a-f, A-F), or -1. */
int	rb_hexval(int c);

/* base64url without padding (JWT, state values, PKCE). */
int	rb_b64url_encode(const unsigned char *in, size_t n, char **out) RB_WUR;
int	rb_b64url_decode(const char *in, size_t n, unsigned char **out,
	    size_t *outlen) RB_WUR;
/* The same, but only the one canonical spelling of non-empty input. */
int	rb_b64url_decode_strict(const char *in, size_t n, unsigned char **out,
	    size_t *outlen) RB_WUR;
/* standard base64 with padding */
int	rb_b64_encode(const unsigned char *in, size_t n, char **out) RB_WUR;
int	rb_b64_decode(const char *in, size_t n, unsigned char **out,
	    size_t *outlen) RB_WUR;

#endif
