/*
 * fuzz_http.c - what lib/http.c reads from upstream servers and what it
 * logs of a URL (owner: fuzzing): the header callback
 * (http_header_line, http_header, http_parse_retry_after) and the URL
 * checks (http_safe_url, http_host).
 *
 * Input: byte 0 = mode.
 *   even: the header block of one or more responses, one line per '\n'
 *         (kept, as curl hands it), including status lines.
 *   odd:  a URL; byte 1 picks the size of the output buffers.
 * Invariants:
 *   headers: what is kept equals a model: since the last status line,
 *     the first 24 allowed headers (retry-after, content-type, location,
 *     link, x-request-id, x-ratelimit-*, x-shopify-*), names lower-cased,
 *     values without edge blanks or CR/LF, capped at 255 bytes;
 *     http_header() finds the first of a name in any case; a Retry-After
 *     gives -1 or a wait of at most 31 days.
 *   URL: nothing is written past the buffer, the result is terminated;
 *     the safe URL is scheme + host[:port] + path of the URL and the host
 *     its host[:port], cut to the buffer: never the userinfo (up to the
 *     last '@' of the authority), the query or the fragment.
 */
#include <ctype.h>
#include <stdbool.h>
#include <strings.h>

#include "fuzz.h"
#include "http.h"

const char fuzz_target[] = "http";

static bool
allowed(const char *name)
{
	static const char *const keep[] = {
		"retry-after", "content-type", "location", "link",
		"x-request-id",
	};
	size_t i;

	for (i = 0; i < RB_NELEM(keep); i++)
		if (strcmp(name, keep[i]) == 0)
			return true;
	return strncmp(name, "x-ratelimit-", 12) == 0 ||
	    strncmp(name, "x-shopify-", 10) == 0;
}

/* The model's view of one line: appends to m what must be kept. */
static void
model_line(struct http_response *m, const uint8_t *l, size_t n)
{
	const uint8_t *colon = memchr(l, ':', n);
	size_t nlen, a, b, k;

	if (n >= 5 && memcmp(l, "HTTP/", 5) == 0) {
		m->nhdr = 0;
		return;
	}
	if (colon == NULL || m->nhdr >= HTTP_MAX_HEADERS)
		return;
	nlen = (size_t)(colon - l);
	if (nlen == 0 || nlen > 63)
		return;
	for (k = 0; k < nlen; k++)
		m->hdr[m->nhdr].name[k] = (char)tolower(l[k]);
	m->hdr[m->nhdr].name[nlen] = '\0';
	if (!allowed(m->hdr[m->nhdr].name))
		return;
	for (a = nlen + 1; a < n && (l[a] == ' ' || l[a] == '\t'); a++)
		;
	for (b = n; b > a && strchr(" \t\r\n", l[b - 1]) != NULL &&
	    l[b - 1] != '\0'; b--)
		;
	if (b - a > 255)
		b = a + 255;
	memcpy(m->hdr[m->nhdr].value, l + a, b - a);
	m->hdr[m->nhdr].value[b - a] = '\0';
	m->nhdr++;
}

static void
headers(const uint8_t *data, size_t size)
{
	struct http_response r, m;
	const char *v;
	int i;

	memset(&r, 0, sizeof(r));
	memset(&m, 0, sizeof(m));
	while (size > 0) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t n = nl != NULL ? (size_t)(nl - data) + 1 : size;
		/* a copy of the exact size: ASan sees any read past it */
		char *line = malloc(n);

		if (line == NULL)
			abort();
		memcpy(line, data, n);
		FUZZ_CHECK(http_header_line(&r, line, n) == n);
		free(line);
		model_line(&m, data, n);
		data += n;
		size -= n;
	}
	FUZZ_CHECK(r.nhdr == m.nhdr && r.nhdr <= HTTP_MAX_HEADERS);
	for (i = 0; i < r.nhdr; i++) {
		char upper[64];
		size_t k;

		FUZZ_CHECK(strcmp(r.hdr[i].name, m.hdr[i].name) == 0);
		FUZZ_CHECK(strcmp(r.hdr[i].value, m.hdr[i].value) == 0);
		/* http_header: the first one of that name, in any case */
		for (k = 0; r.hdr[i].name[k] != '\0'; k++)
			upper[k] = (char)toupper((unsigned char)r.hdr[i].name[k]);
		upper[k] = '\0';
		v = http_header(&r, upper);
		FUZZ_CHECK(v != NULL);
		for (k = 0; k < (size_t)i; k++)
			if (strcasecmp(r.hdr[k].name, upper) == 0)
				break;
		FUZZ_CHECK(v == r.hdr[k].value);
	}
	if ((v = http_header(&r, "retry-after")) != NULL) {
		long ms = http_parse_retry_after(v, 1767225600L);

		FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= 31L * 24 * 3600 *
		    1000));
	}
}

/* ---- URLs ----------------------------------------------------------------- */

/* Where the host part starts: past "scheme://" when that comes before
 * any '/', '?' or '#'; else the URL has no scheme. */
static size_t
model_authority(const char *u)
{
	const char *p = strstr(u, "://");

	return p != NULL && (size_t)(p - u) < strcspn(u, "/?#") ?
	    (size_t)(p - u) + 3 : 0;
}

static void
check_out(const char *out, size_t outsz, const char *want)
{
	size_t n = strlen(want) < outsz - 1 ? strlen(want) : outsz - 1;

	FUZZ_CHECK(memchr(out, '\0', outsz) != NULL);
	FUZZ_CHECK(strlen(out) == n && memcmp(out, want, n) == 0);
	/* the canary right after the buffer */
	FUZZ_CHECK((unsigned char)out[outsz] == 0xa5);
}

static void
url(unsigned pick, const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 8, 32, 128, 256 };
	size_t outsz = sizes[pick % RB_NELEM(sizes)], a, hlen, plen;
	char *u = fuzz_str(data, size), *want, *out;
	const char *host, *at;

	a = model_authority(u);
	hlen = strcspn(u + a, "/?#");
	host = u + a;
	for (at = u + a + hlen; at > u + a && at[-1] != '@'; at--)
		;
	if (at > u + a)
		host = at;	/* past the last '@' */
	hlen = (size_t)(u + a + hlen - host);
	plen = strcspn(host, "?#");
	if ((want = malloc(a + plen + 1)) == NULL ||
	    (out = malloc(outsz + 1)) == NULL)
		abort();
	memcpy(want, u, a);
	memcpy(want + a, host, plen);
	want[a + plen] = '\0';
	memset(out, 0xa5, outsz + 1);
	http_safe_url(u, out, outsz);
	check_out(out, outsz, want);
	FUZZ_CHECK(strpbrk(out, "?#") == NULL);

	memcpy(want, host, hlen);
	want[hlen] = '\0';
	memset(out, 0xa5, outsz + 1);
	http_host(u, out, outsz);
	check_out(out, outsz, want);
	FUZZ_CHECK(strpbrk(out, "@/?#") == NULL);
	free(out);
	free(want);
	free(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] % 2 == 0)
		headers(data + 1, size - 1);
	else
		url(data[1], data + 2, size - 2);
	return 0;
}
