/* test_pinterest.c - lib/pinterest.c pure parts (owned by pinterest_sync):
 * trimming within Pinterest's limits, URL checks, request bodies, answer
 * parsing, board/pin matching, 429 waits.  Shapes follow
 * tests/specs/pinterest-v5-openapi.json.gz (PinCreate, BoardCreate,
 * Board, Pin, list pages with items + bookmark). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "pinterest.h"
#include "tap.h"
#include "util.h"

static void
set_hdr(struct http_response *r, const char *name, const char *value)
{
	int i = r->nhdr++;

	strncpy(r->hdr[i].name, name, sizeof(r->hdr[i].name) - 1);
	strncpy(r->hdr[i].value, value, sizeof(r->hdr[i].value) - 1);
}

static void
test_trim(void)
{
	char big[3000], *t;
	size_t i;

	t = pinterest_trim("  <p>Sunset &amp; <b>Sea</b></p>\n\tposter  ", 100);
	is_str(t, "Sunset & Sea poster", "tags dropped, entities, spaces");
	free(t);

	for (i = 0; i < 250; i++)
		big[i] = (char)('a' + i % 26);
	big[250] = '\0';
	t = pinterest_trim(big, PINTEREST_TITLE_MAX);
	is_int(rb_utf8_len(t), PINTEREST_TITLE_MAX, "cut to 100 chars");
	ok(strcmp(t + strlen(t) - 3, "\xe2\x80\xa6") == 0, "ends with an ellipsis");
	free(t);

	/* multi-byte: 300 x "é" (2 bytes each) -> 100 characters */
	for (i = 0; i < 300; i++) {
		big[2 * i] = (char)0xc3;
		big[2 * i + 1] = (char)0xa9;
	}
	big[600] = '\0';
	t = pinterest_trim(big, PINTEREST_TITLE_MAX);
	is_int(rb_utf8_len(t), PINTEREST_TITLE_MAX,
	    "counted in characters, not bytes");
	ok(strlen(t) == 99 * 2 + 3, "no UTF-8 sequence split (%zu bytes)",
	    strlen(t));
	free(t);

	/* word boundary near the end */
	memset(big, 0, sizeof(big));
	for (i = 0; i < 200; i++)
		big[i] = i % 10 == 9 ? ' ' : 'w';
	t = pinterest_trim(big, 95);
	ok(rb_utf8_len(t) <= 95, "description within its limit");
	ok(t[strlen(t) - 4] == 'w', "cut at a word, no space before \xe2\x80\xa6");
	free(t);

	for (i = 0; i < 2000; i++)
		big[i] = 'd';
	big[2000] = '\0';
	t = pinterest_trim(big, PINTEREST_DESCRIPTION_MAX);
	is_int(rb_utf8_len(t), 800, "description <= 800");
	free(t);
	t = pinterest_trim(big, PINTEREST_ALT_TEXT_MAX);
	is_int(rb_utf8_len(t), 500, "alt text <= 500");
	free(t);
	t = pinterest_trim("short", 100);
	is_str(t, "short", "short text unchanged");
	free(t);
}

static void
test_urls(void)
{
	char longurl[2100];

	ok(pinterest_valid_url("https://acme.example/products/sunset", false),
	    "https product URL");
	ok(!pinterest_valid_url("http://acme.example/products/x", false),
	    "plain http link refused");
	ok(pinterest_valid_url("http://cdn.example/a.png", true),
	    "http image allowed");
	ok(!pinterest_valid_url("javascript:alert(1)", true), "no javascript:");
	ok(!pinterest_valid_url("https://user@evil.example/", false),
	    "no userinfo");
	ok(!pinterest_valid_url("https:///path", false), "a host is needed");
	ok(!pinterest_valid_url("https://a.example/x y", false), "no spaces");
	ok(!pinterest_valid_url(NULL, false), "NULL");
	ok(!pinterest_valid_url("", false), "empty");
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "https://a.example/", 18);
	ok(!pinterest_valid_url(longurl, false), "over 2048 bytes refused");
}

static void
test_bodies(void)
{
	struct pinterest_pin_in in;
	struct rb_err err;
	char title[400], *s;
	json_t *o;
	size_t i;

	for (i = 0; i < 300; i++)
		title[i] = 'T';
	title[300] = '\0';
	memset(&in, 0, sizeof(in));
	in.board_id = "549755885175";
	in.title = title;
	in.description = "<p>A <em>bold</em> print.</p>";
	in.link = "https://acme.example/products/sunset";
	in.image_url = "https://cdn.example/sunset.png";
	s = pinterest_pin_body(&in, &err);
	ok(s != NULL, "pin body built");
	o = s != NULL ? json_loads(s, 0, NULL) : NULL;
	is_str(json_string_value(json_object_get(o, "board_id")),
	    "549755885175", "board_id");
	is_int(rb_utf8_len(json_string_value(json_object_get(o,
	    "title"))), 100, "title trimmed to 100");
	is_str(json_string_value(json_object_get(o, "description")),
	    "A bold print.", "description is plain text");
	is_int(rb_utf8_len(json_string_value(json_object_get(o,
	    "alt_text"))), 300, "alt text (from title) kept up to 500");
	is_str(json_string_value(json_object_get(o, "link")), in.link, "link");
	is_str(json_string_value(json_object_get(json_object_get(o,
	    "media_source"), "source_type")), "image_url", "media source type");
	is_str(json_string_value(json_object_get(json_object_get(o,
	    "media_source"), "url")), in.image_url, "media source url");
	json_decref(o);
	free(s);

	in.link = "http://acme.example/products/sunset";
	s = pinterest_pin_body(&in, &err);
	ok(s == NULL && strcmp(err.code, "invalid_pin") == 0,
	    "an http link is refused");
	free(s);
	in.link = "https://acme.example/p";
	in.image_url = NULL;
	s = pinterest_pin_body(&in, &err);
	ok(s == NULL, "no image: refused");
	free(s);
	in.image_url = "https://cdn.example/a.png";
	in.title = "<b></b>";
	s = pinterest_pin_body(&in, &err);
	ok(s == NULL, "empty title refused");
	free(s);
	in.title = "ok";
	in.board_id = "12a";
	s = pinterest_pin_body(&in, &err);
	ok(s == NULL, "bad board id refused");
	free(s);

	s = pinterest_board_body("Posters", "Our posters [reboss:0a1b2c3d:c42]", &err);
	o = s != NULL ? json_loads(s, 0, NULL) : NULL;
	is_str(json_string_value(json_object_get(o, "name")), "Posters",
	    "board name");
	is_str(json_string_value(json_object_get(o, "description")),
	    "Our posters [reboss:0a1b2c3d:c42]", "board description keeps the marker");
	is_str(json_string_value(json_object_get(o, "privacy")), "PUBLIC",
	    "privacy");
	json_decref(o);
	free(s);
	s = pinterest_board_body("   ", "", &err);
	ok(s == NULL && strcmp(err.code, "invalid_board_name") == 0,
	    "blank board name refused");
	free(s);
}

static void
test_parse(void)
{
	static const char page1[] =
	    "{\"items\":[{\"id\":\"1001\",\"name\":\"Posters\",\"description\":"
	    "\"x\",\"privacy\":\"PUBLIC\"},{\"id\":\"1002\",\"name\":\"Mugs\","
	    "\"description\":\"Mugs [reboss:0a1b2c3d:c7]\",\"privacy\":\"PUBLIC\"}],"
	    "\"bookmark\":\"Ym9va21hcms=\"}";
	static const char page2[] =
	    "{\"items\":[{\"id\":\"1003\",\"name\":\"Renamed\",\"description\":"
	    "\"[reboss:0a1b2c3d:c42] ours\"}],\"bookmark\":null}";
	char bm[64], id[PINTEREST_ID_MAX + 1], mk[32];
	json_t *all = json_array(), *pins;

	ok(pinterest_parse_page(page1, strlen(page1), all, bm, sizeof(bm)) == 0,
	    "page 1 parsed");
	is_str(bm, "Ym9va21hcms=", "bookmark");
	ok(pinterest_parse_page(page2, strlen(page2), all, bm, sizeof(bm)) == 0,
	    "page 2 parsed");
	is_str(bm, "", "null bookmark: last page");
	is_int(json_array_size(all), 3, "items appended");
	ok(pinterest_parse_page("{\"bookmark\":null}", 17, all, bm,
	    sizeof(bm)) == -1, "no items: bad page");
	ok(pinterest_parse_page("{\"items\":[],\"bookmark\":\"0123456789\"}",
	    36, all, bm, 5) == -1, "too long bookmark refused");

	ok(pinterest_board_marker("0a1b2c3d-0000-4000-8000-000000000000", 42, mk,
	    sizeof(mk)) == 0, "marker");
	is_str(mk, "[reboss:0a1b2c3d:c42]", "marker text");
	ok(pinterest_find_board(all, mk, "Posters", id), "found by marker");
	is_str(id, "1003", "the marked board wins over the name");
	ok(pinterest_find_board(all, "[reboss:0a1b2c3d:c9]", "Posters", id),
	    "found by name");
	is_str(id, "1001", "by name");
	ok(!pinterest_find_board(all, "[reboss:0a1b2c3d:c9]", "Nope", id), "not found");
	ok(!pinterest_find_board(all, "[reboss:0a1b2c3d:c4]", "Nope", id),
	    "marker c4 does not match c42");
	json_decref(all);

	pins = json_loads("[{\"id\":\"77\",\"link\":\"https://a.example/p/1\"},"
	    "{\"id\":\"78\",\"link\":null},{\"id\":\"79\",\"link\":"
	    "\"https://a.example/p/2\"}]", 0, NULL);
	ok(pinterest_find_pin(pins, "https://a.example/p/2", id) &&
	    strcmp(id, "79") == 0, "pin found by link");
	ok(!pinterest_find_pin(pins, "https://a.example/p/3", id),
	    "unknown link");
	json_decref(pins);

	ok(pinterest_parse_id("{\"id\":\"813744226420795884\"}", 27, id) == 0 &&
	    strcmp(id, "813744226420795884") == 0, "id parsed");
	ok(pinterest_parse_id("{\"id\":\"12x\"}", 12, id) == -1,
	    "non-digit id refused");
	ok(pinterest_parse_id("{\"id\":12}", 9, id) == -1, "number id refused");
	ok(pinterest_parse_id("nope", 4, id) == -1, "not JSON");
}

static void
test_wait(void)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	r.retry_after_ms = 2000;
	is_int(pinterest_wait_ms(&r, 1, 1000), 2000, "Retry-After wins");
	r.retry_after_ms = -1;
	set_hdr(&r, "x-ratelimit-reset", "3");
	is_int(pinterest_wait_ms(&r, 1, 1000), 3000, "x-ratelimit-reset secs");
	memset(&r, 0, sizeof(r));
	r.retry_after_ms = -1;
	set_hdr(&r, "x-ratelimit-reset", "1700000005");
	is_int(pinterest_wait_ms(&r, 1, 1700000000L), 5000,
	    "x-ratelimit-reset as epoch");
	memset(&r, 0, sizeof(r));
	r.retry_after_ms = 99999999;
	is_int(pinterest_wait_ms(&r, 1, 0), PINTEREST_MAX_WAIT_MS, "capped");
	memset(&r, 0, sizeof(r));
	r.retry_after_ms = -1;
	ok(pinterest_wait_ms(&r, 1, 0) >= 100, "backoff without headers");
}

int
main(void)
{
	test_trim();
	test_urls();
	test_bodies();
	test_parse();
	test_wait();
	return done_testing();
}
