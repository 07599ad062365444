/*
 * fuzz_pinterest.c - what Pinterest sends back and what we send it
 * (owner: fuzzing), through the pure parts of lib/pinterest.h: list pages
 * (pinterest_parse_page, then pinterest_find_board / pinterest_find_pin
 * over the items), create answers (pinterest_parse_id), the 429 wait
 * (pinterest_wait_ms), the text trimming (pinterest_trim,
 * rb_utf8_len) and the request bodies built from shop data
 * (pinterest_pin_body, pinterest_board_body, pinterest_valid_url).
 *
 * The client itself (call(): 401 refresh, 429 loop, error message of a
 * 4xx) is not reached: pinterest.o needs more of lib/http.o than
 * http_request() (http_header, http_backoff_ms, http_urlencode), so the
 * fuzz_shopify trick of a fake http_request() does not link.
 *
 * Input: byte 0 = mode (mod 4), byte 1 = parameter, rest:
 *   0 answer: an answer body (list page, create answer, error, 429 body);
 *     byte 1 picks the bookmark buffer size.
 *   1 pin: NUL-separated title, description, alt_text, link, image_url,
 *     board_id (missing ones are NULL); byte 1 = a trim limit.
 *   2 wait: header lines "name: value"; byte 1 = attempt.
 *   3 url: a URL; byte 1 bit 0 = allow_http.
 * Invariants: parse_page / parse_id accept exactly what jansson says is
 * such an answer (oracle below), append exactly the items, keep the
 * bookmark within its buffer; a found board or pin is one of the items
 * and has a digits id; trimmed text is at most max code points, without
 * control characters or doubled/edge spaces, ends with U+2026 when cut,
 * is valid UTF-8 (and at most 4*max bytes) when the input was; pin and
 * board bodies hold exactly the trimmed fields (title <= 100,
 * description <= 800, alt_text <= 500, board name <= 50, board
 * description <= 500 code points) and only valid URLs; a 429 wait is
 * within [100 ms, PINTEREST_MAX_WAIT_MS].
 */
#include <jansson.h>
#include <stdbool.h>
#include <strings.h>
#include <syslog.h>

#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "pinterest.h"
#include "util.h"

const char fuzz_target[] = "pinterest";

#define ELLIPSIS	"\xe2\x80\xa6"
#define NOW_S		1767225600L	/* 2026-01-01T00:00:00Z */
#define MARKER		"[reboss:0123abcd:c42]"
#define BOARD_NAME	"Summer Collection"
#define PIN_LINK	"https://demo-shop.example/products/linen-shirt"

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool
valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0') {
		unsigned c = *s;
		size_t n, i;
		unsigned long cp;

		if (c < 0x80) {
			s++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		s += n + 1;
	}
	return true;
}

static bool
all_digits_id(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= PINTEREST_ID_MAX &&
	    strspn(s, "0123456789") == n;
}

/* Checks pinterest_trim(s, max) and returns its result (caller frees). */
static char *
check_trim(const char *s, size_t max)
{
	char *t = pinterest_trim(s, max);
	size_t len, i;

	FUZZ_CHECK(t != NULL);
	len = strlen(t);
	FUZZ_CHECK(rb_utf8_len(t) <= max);
	if (max == 0)
		FUZZ_CHECK(len == 0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		if (c == ' ')
			FUZZ_CHECK(i > 0 && i + 1 < len && t[i + 1] != ' ');
	}
	if (s != NULL && valid_utf8(s)) {
		FUZZ_CHECK(valid_utf8(t));
		FUZZ_CHECK(len <= 4 * max);
	}
	/* Not cut: the plain text is all there, so trimming again with no
	 * limit that bites keeps every character it has. */
	if (len < sizeof(ELLIPSIS) - 1 ||
	    strcmp(t + len - (sizeof(ELLIPSIS) - 1), ELLIPSIS) != 0) {
		char *u = pinterest_trim(s, max + 1);

		FUZZ_CHECK(u != NULL);
		if (max > 0)
			FUZZ_CHECK(strcmp(t, u) == 0);
		free(u);
	}
	return t;
}

/* The oracle for pinterest_parse_id. */
static bool
expect_id(const json_t *o)
{
	const char *v = json_string_value(json_object_get(o, "id"));

	return v != NULL && all_digits_id(v);
}

static bool
has_item(const json_t *items, const char *id, const char *key,
    const char *value, bool substring)
{
	const json_t *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *iid = json_string_value(json_object_get(it, "id"));
		const char *v = json_string_value(json_object_get(it, key));

		if (iid == NULL || v == NULL || strcmp(iid, id) != 0)
			continue;
		if (substring ? strstr(v, value) != NULL :
		    strcmp(v, value) == 0)
			return true;
	}
	return false;
}

static void
answer(unsigned param, const uint8_t *data, size_t size)
{
	static const size_t bsizes[] = { 1024, 64, 8, 1 };
	char *body = fuzz_str(data, size);
	json_t *o = json_loadb(body, size, 0, NULL);
	json_t *items = json_object_get(o, "items");
	json_t *bm = json_object_get(o, "bookmark");
	json_t *all = json_array();
	size_t bsz = bsizes[param % RB_NELEM(bsizes)];
	char bookmark[1024], id[PINTEREST_ID_MAX + 1];
	bool want;
	int rc;

	FUZZ_CHECK(all != NULL);
	FUZZ_CHECK(json_array_append_new(all, json_object()) == 0);
	memset(bookmark, 'x', sizeof(bookmark));
	want = json_is_array(items) && (bm == NULL || json_is_null(bm) ||
	    (json_is_string(bm) && strlen(json_string_value(bm)) < bsz));
	rc = pinterest_parse_page(body, size, all, bookmark, bsz);
	FUZZ_CHECK((rc == 0) == want);
	FUZZ_CHECK(memchr(bookmark, '\0', bsz) != NULL);
	if (rc == 0) {
		FUZZ_CHECK(json_array_size(all) == 1 + json_array_size(items));
		FUZZ_CHECK(strcmp(bookmark, json_is_string(bm) ?
		    json_string_value(bm) : "") == 0);
	} else
		FUZZ_CHECK(json_array_size(all) == 1);

	/* What pinterest_sync does with the items. */
	memset(id, 'x', sizeof(id));
	if (pinterest_find_board(all, MARKER, BOARD_NAME, id)) {
		FUZZ_CHECK(memchr(id, '\0', sizeof(id)) != NULL);
		FUZZ_CHECK(all_digits_id(id));
		FUZZ_CHECK(has_item(all, id, "description", MARKER, true) ||
		    has_item(all, id, "name", BOARD_NAME, false));
	}
	memset(id, 'x', sizeof(id));
	if (pinterest_find_pin(all, PIN_LINK, id)) {
		FUZZ_CHECK(memchr(id, '\0', sizeof(id)) != NULL);
		FUZZ_CHECK(all_digits_id(id));
		FUZZ_CHECK(has_item(all, id, "link", PIN_LINK, false));
	}
	/* Nothing matches what no item carries. */
	FUZZ_CHECK(!pinterest_find_board(all, NULL, NULL, id));
	FUZZ_CHECK(!pinterest_find_pin(all, NULL, id));

	/* The same bytes as a create answer (a 201, or an error body that
	 * must not give an id). */
	memset(id, 'x', sizeof(id));
	rc = pinterest_parse_id(body, size, id);
	FUZZ_CHECK((rc == 0) == expect_id(o));
	if (rc == 0)
		FUZZ_CHECK(strcmp(id, json_string_value(json_object_get(o,
		    "id"))) == 0);

	json_decref(all);
	json_decref(o);
	free(body);
}

static void
check_field(json_t *o, const char *key, const char *want, size_t max)
{
	const char *v = json_string_value(json_object_get(o, key));

	FUZZ_CHECK(v != NULL);
	FUZZ_CHECK(strcmp(v, want) == 0);
	FUZZ_CHECK(rb_utf8_len(v) <= max);
}

static void
pin(unsigned param, const uint8_t *data, size_t size)
{
	char *f[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	char *t, *d, *a, *bn, *bd, *s;
	struct pinterest_pin_in in;
	struct rb_err err;
	json_t *o;
	size_t i;

	for (i = 0; i < RB_NELEM(f) && size > 0; i++)
		f[i] = fuzz_field(&data, &size, '\0');

	free(check_trim(f[0], param));
	t = check_trim(f[0], PINTEREST_TITLE_MAX);
	d = check_trim(f[1], PINTEREST_DESCRIPTION_MAX);
	a = check_trim(f[2] != NULL ? f[2] : f[0], PINTEREST_ALT_TEXT_MAX);
	bn = check_trim(f[0], PINTEREST_BOARD_NAME_MAX);
	bd = check_trim(f[1], PINTEREST_BOARD_DESC_MAX);

	memset(&in, 0, sizeof(in));
	in.title = f[0];
	in.description = f[1];
	in.alt_text = f[2];
	in.link = f[3];
	in.image_url = f[4];
	in.board_id = f[5];
	rb_err_clear(&err);
	if ((s = pinterest_pin_body(&in, &err)) != NULL) {
		FUZZ_CHECK(*t != '\0');
		FUZZ_CHECK(pinterest_valid_url(in.link, false));
		FUZZ_CHECK(pinterest_valid_url(in.image_url, true));
		FUZZ_CHECK(all_digits_id(in.board_id));
		o = json_loads(s, 0, NULL);
		FUZZ_CHECK(json_is_object(o));
		check_field(o, "title", t, PINTEREST_TITLE_MAX);
		check_field(o, "description", d, PINTEREST_DESCRIPTION_MAX);
		check_field(o, "alt_text", a, PINTEREST_ALT_TEXT_MAX);
		check_field(o, "link", in.link, PINTEREST_LINK_MAX);
		check_field(o, "board_id", in.board_id, PINTEREST_ID_MAX);
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(
		    json_object_get(o, "media_source"), "url")),
		    in.image_url) == 0);
		json_decref(o);
		free(s);
	} else {
		FUZZ_CHECK(err.status == 400 || err.status == 500);
		FUZZ_CHECK(err.code[0] != '\0');
	}

	rb_err_clear(&err);
	if ((s = pinterest_board_body(f[0], f[1], &err)) != NULL) {
		o = json_loads(s, 0, NULL);
		FUZZ_CHECK(json_is_object(o));
		check_field(o, "name", bn, PINTEREST_BOARD_NAME_MAX);
		check_field(o, "description", bd, PINTEREST_BOARD_DESC_MAX);
		FUZZ_CHECK(*bn != '\0');
		json_decref(o);
		free(s);
	} else
		FUZZ_CHECK(*bn == '\0' || strcmp(err.code, "out_of_memory")
		    == 0);

	free(t);
	free(d);
	free(a);
	free(bn);
	free(bd);
	for (i = 0; i < RB_NELEM(f); i++)
		free(f[i]);
}

static void
wait_answer(unsigned param, const uint8_t *data, size_t size)
{
	struct http_response resp;
	char *line, *v;
	long w;

	memset(&resp, 0, sizeof(resp));
	resp.status = 429;
	resp.retry_after_ms = -1;
	while (size > 0 && resp.nhdr < HTTP_MAX_HEADERS) {
		if ((line = fuzz_header(&data, &size, &resp, &v)) == NULL)
			continue;
		if (strcmp(line, "retry-after") == 0)
			resp.retry_after_ms = http_parse_retry_after(v, NOW_S);
		free(line);
	}
	w = pinterest_wait_ms(&resp, (int)param % 12 + 1, NOW_S);
	FUZZ_CHECK(w >= 100 && w <= PINTEREST_MAX_WAIT_MS);
	w = pinterest_wait_ms(&resp, (int)param + 1, 0);
	FUZZ_CHECK(w >= 100 && w <= PINTEREST_MAX_WAIT_MS);
}

static void
url(unsigned param, const uint8_t *data, size_t size)
{
	char *u = fuzz_str(data, size);
	bool allow_http = (param & 1) != 0;
	const char *h, *end;
	size_t i, n = strlen(u);

	if (pinterest_valid_url(u, allow_http)) {
		FUZZ_CHECK(n > 0 && n <= PINTEREST_LINK_MAX);
		FUZZ_CHECK(pinterest_valid_url(u, true));
		if (strncasecmp(u, "https://", 8) == 0)
			h = u + 8;
		else {
			FUZZ_CHECK(allow_http);
			FUZZ_CHECK(strncasecmp(u, "http://", 7) == 0);
			h = u + 7;
		}
		end = h + strcspn(h, "/?#");
		FUZZ_CHECK(end > h);
		FUZZ_CHECK(memchr(h, '@', (size_t)(end - h)) == NULL);
		for (i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)u[i] > 0x20 &&
			    (unsigned char)u[i] != 0x7f && u[i] != '"');
	}
	free(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1024 * 1024)
		return 0;
	log_set_level(LOG_EMERG);
	switch (data[0] % 4) {
	case 0:
		answer(data[1], data + 2, size - 2);
		break;
	case 1:
		pin(data[1], data + 2, size - 2);
		break;
	case 2:
		wait_answer(data[1], data + 2, size - 2);
		break;
	default:
		url(data[1], data + 2, size - 2);
		break;
	}
	return 0;
}
