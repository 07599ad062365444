/* encode.c - hex and base64 (standard and url-safe), declared in util.h.
 * OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock do the work; we only translate
 * the url-safe alphabet and padding, and check lengths before arithmetic. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "encode.h"
#include "util.h"

#define B64_MAX_IN	(16u << 20)	/* nothing we encode is larger */

int
rb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
rb_hex_decode(const char *hex, unsigned char *out, size_t n)
{
	size_t i;

	if (strlen(hex) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int hi = rb_hexval((unsigned char)hex[2 * i]);
		int lo = rb_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void
rb_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
rb_b64_encode(const unsigned char *in, size_t n, char **out)
{
	char *s;

	*out = NULL;
	if (n > B64_MAX_IN)
		return -1;
	if ((s = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return -1;
	(void)EVP_EncodeBlock((unsigned char *)s, in, (int)n);
	*out = s;
	return 0;
}

int
rb_b64url_encode(const unsigned char *in, size_t n, char **out)
{
	char *s, *p;
	size_t len;

	if (rb_b64_encode(in, n, &s) == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	*out = s;
	return 0;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : 63;
}

/* Strict: only the alphabet, padding only at the end (standard form). */
static int
b64_decode_std(char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	size_t pad = 0, i;
	int got;

	if (n % 4 != 0 || n > B64_MAX_IN)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/'))
			return -1;
	}
	/* Canonical only: the bits a padded last group does not use must be
	 * zero, or two spellings would decode to the same bytes. */
	if ((pad == 1 && (b64val(s[n - 2]) & 0x3) != 0) ||
	    (pad == 2 && (b64val(s[n - 3]) & 0xf) != 0))
		return -1;
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	got = EVP_DecodeBlock(buf, (unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		return -1;
	}
	*outlen = (size_t)got - pad;
	buf[*outlen] = '\0';
	*out = buf;
	return 0;
}

int
rb_b64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
	char *s;
	int rc;

	*out = NULL;
	if (n > B64_MAX_IN || (s = malloc(n + 1)) == NULL)
		return -1;
	memcpy(s, in, n);
	s[n] = '\0';
	rc = b64_decode_std(s, n, out, outlen);
	free(s);
	return rc;
}

int
rb_b64url_decode(const char *in, size_t n, unsigned char **out,
    size_t *outlen)
{
	size_t i, m;
	char *s;
	int rc;

	*out = NULL;
	if (n > B64_MAX_IN || n % 4 == 1)
		return -1;
	m = n + (4 - n % 4) % 4;
	if ((s = malloc(m + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		char c = in[i];
		if (c == '+' || c == '/' || c == '=') {
			free(s);
			return -1;
		}
		s[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	for (; i < m; i++)
		s[i] = '=';
	s[m] = '\0';
	rc = b64_decode_std(s, m, out, outlen);
	free(s);
	return rc;
}

/*
 * rb_b64url_decode lets unused low bits of the last character through, so
 * two texts can decode to the same bytes.  This one insists on the one
 * canonical spelling (re-encode and compare) and refuses empty input.
 */
int
rb_b64url_decode_strict(const char *in, size_t n, unsigned char **out,
    size_t *outlen)
{
	char *again = NULL;

	*out = NULL;
	*outlen = 0;
	if (n == 0 || rb_b64url_decode(in, n, out, outlen) == -1)
		goto fail;
	if (rb_b64url_encode(*out, *outlen, &again) == -1)
		goto fail;
	if (strlen(again) != n || memcmp(again, in, n) != 0)
		goto fail;
	free(again);
	return 0;
fail:
	free(again);
	free(*out);
	*out = NULL;
	*outlen = 0;
	return -1;
}
