/* test_copy_validate.c - lib/copy_validate.c (owned by product_optimize). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "copy_validate.h"
#include "tap.h"
#include "util.h"

static void
html(const char *in, const char *want, const char *name)
{
	struct rb_err err = { 0 };
	char *out = NULL;
	int rc = copy_sanitize_html(in, &out, &err);

	if (want == NULL) {
		ok(rc == -1 && strcmp(err.code, "invalid_answer") == 0,
		    "%s: refused (%s)", name, err.msg);
	} else {
		ok(rc == 0, "%s: accepted", name);
		is_str(out, want, "%s: cleaned", name);
	}
	free(out);
}

static int
validate(const char *answer, unsigned fields, struct copy *c,
    struct rb_err *err)
{
	json_t *a = json_loads(answer, 0, NULL);
	int rc;

	if (a == NULL) {
		printf("# bad test JSON: %s\n", answer);
		return -2;
	}
	rc = copy_validate(a, fields, c, err);
	json_decref(a);
	return rc;
}

static void
refused(const char *answer, unsigned fields, const char *needle,
    const char *name)
{
	struct copy c;
	struct rb_err err = { 0 };
	int rc = validate(answer, fields, &c, &err);

	ok(rc == -1 && strcmp(err.code, "invalid_answer") == 0 &&
	    strstr(err.msg, needle) != NULL, "%s (%s)", name, err.msg);
	ok(c.title == NULL && c.tags == NULL && c.fields == 0,
	    "%s: nothing left filled", name);
	copy_free(&c);
}

int
main(void)
{
	struct copy c;
	struct rb_err err = { 0 };
	char buf[1200];
	size_t i;

	/* ---- HTML allowlist ---- */
	html("<p>Hello <strong>world</strong></p>",
	    "<p>Hello <strong>world</strong></p>", "allowed tags stay");
	html("<p class=\"x\" onclick='alert(1)'>Hi</p>", "<p>Hi</p>",
	    "attributes dropped");
	html("<p>A</p><script>alert('x')</script><p>B</p>", "<p>A</p><p>B</p>",
	    "script removed with its content");
	html("<STYLE>p{color:red}</style ><P>B</P>", "<p>B</p>",
	    "style removed, upper case tags");
	html("<p>x</p><script src=a.js>", "<p>x</p>",
	    "unclosed script drops the rest");
	html("<div><a href=\"javascript:x\">link</a> <img src=x onerror=y>"
	    "<span>t</span></div>", "link t",
	    "other tags dropped, text kept");
	html("<p>a > b and c < d</p>", "<p>a &gt; b and c &lt; d</p>",
	    "stray < > escaped");
	html("<p>x<!-- <script>bad()</script> --></p>", "<p>x</p>",
	    "comments dropped");
	html("<scr<script>ipt>alert(1)</script><p>ok</p>", "ipt&gt;alert(1)"
	    "<p>ok</p>" , "nested trick cannot rebuild a script tag");
	html("<p title=\"a>b\">q</p>", "<p>q</p>", "quoted > inside attribute");
	html("<br/>line<br >two</br>", "<br>line<br>two", "br forms");
	html("<ul><li>one</li><li>two</li></ul><h2>H</h2><h3>h</h3><em>e</em>"
	    "<ol><li>x</li></ol>",
	    "<ul><li>one</li><li>two</li></ul><h2>H</h2><h3>h</h3><em>e</em>"
	    "<ol><li>x</li></ol>", "the whole allowlist");
	html("<p> </p><script>only()</script>", NULL, "no text left");
	html("", NULL, "empty");
	html("  <p>t</p>\n", "<p>t</p>", "trimmed");
	html("<iframe src=x>inner</iframe><p>k</p>", "<p>k</p>",
	    "iframe removed with content");

	/* ---- markup and lengths ---- */
	ok(copy_has_markup("a <b>x</b>"), "tag is markup");
	ok(copy_has_markup("Tom &amp; Jerry"), "entity is markup");
	ok(!copy_has_markup("Tom & Jerry < 5"), "bare & and < are text");
	is_int(rb_utf8_len("Größe"), 5, "code points, not bytes");

	/* ---- full answers ---- */
	ok(validate("{\"title\":\"  Sunset   Poster\\n\",\"description_html\":"
	    "\"<p>Warm</p><script>x()</script>\",\"tags\":[\" Poster\",\"poster"
	    "\",\"Sunset\",\"\",\"  \",\"SUNSET\",\"Wall art\"],\"seo_title\":"
	    "\"Sunset Poster\",\"seo_description\":\"A warm sunset.\"}",
	    COPY_ALL, &c, &err) == 0, "good answer accepted (%s)", err.msg);
	is_str(c.title, "Sunset Poster", "title whitespace normalised");
	is_str(c.description_html, "<p>Warm</p>", "description cleaned");
	is_int(c.ntags, 3, "tags trimmed, empties dropped, case-insensitive "
	    "de-duplication");
	is_str(c.ntags > 0 ? c.tags[0] : NULL, "Poster", "first spelling kept");
	is_str(c.ntags > 2 ? c.tags[2] : NULL, "Wall art", "order kept");
	is_int(c.fields, COPY_ALL, "every field set");
	copy_free(&c);

	ok(validate("{\"title\":\"Only title\"}", COPY_TITLE, &c, &err) == 0,
	    "subset of fields");
	ok(c.description_html == NULL && c.tags == NULL, "others untouched");
	copy_free(&c);

	refused("{\"title\":\"A <b>bold</b> title\"}", COPY_TITLE, "markup",
	    "markup in the title");
	memset(buf, 'x', 256);
	buf[256] = '\0';
	{
		char a[1400];

		(void)snprintf(a, sizeof(a), "{\"title\":\"%s\"}", buf);
		refused(a, COPY_TITLE, "256 characters", "title of 256");
		buf[255] = '\0';
		(void)snprintf(a, sizeof(a), "{\"title\":\"%s\"}", buf);
		ok(validate(a, COPY_TITLE, &c, &err) == 0, "title of 255 ok");
		copy_free(&c);
	}
	{
		/* 255 two-byte characters are 255 characters, not 510 */
		char a[700];
		size_t n = 0;

		n += (size_t)snprintf(a, sizeof(a), "{\"title\":\"");
		for (i = 0; i < 255; i++) {
			a[n++] = (char)0xc3;
			a[n++] = (char)0xa4;
		}
		(void)snprintf(a + n, sizeof(a) - n, "\"}");
		ok(validate(a, COPY_TITLE, &c, &err) == 0,
		    "255 umlauts fit the title");
		copy_free(&c);
	}
	memset(buf, 's', 71);
	buf[71] = '\0';
	{
		char a[1400];

		(void)snprintf(a, sizeof(a), "{\"seo_title\":\"%s\"}", buf);
		refused(a, COPY_SEO_TITLE, "at most 70", "SEO title of 71");
	}
	memset(buf, 'd', 321);
	buf[321] = '\0';
	{
		char a[1400];

		(void)snprintf(a, sizeof(a), "{\"seo_description\":\"%s\"}",
		    buf);
		refused(a, COPY_SEO_DESCRIPTION, "at most 320",
		    "SEO description of 321");
		buf[320] = '\0';
		(void)snprintf(a, sizeof(a), "{\"seo_description\":\"%s\"}",
		    buf);
		ok(validate(a, COPY_SEO_DESCRIPTION, &c, &err) == 0,
		    "SEO description of 320 ok");
		copy_free(&c);
	}
	refused("{\"title\":\"   \"}", COPY_TITLE, "empty", "blank title");
	refused("{\"title\":\"x\"}", COPY_TITLE | COPY_TAGS, "\"tags\"",
	    "missing field");
	refused("{\"title\":\"x\",\"tags\":\"a,b\"}", COPY_TITLE | COPY_TAGS,
	    "not a list", "tags not a list");
	refused("{\"title\":5}", COPY_TITLE, "not a string",
	    "title not a string");
	refused("{\"title\":\"x\",\"vendor\":\"y\"}", COPY_TITLE,
	    "not asked for", "extra key");
	refused("{\"title\":\"x\",\"tags\":[\"a\"]}", COPY_TITLE,
	    "not asked for", "field not asked for");
	refused("{\"tags\":[\"\",\" \"]}", COPY_TAGS, "no tags",
	    "only empty tags");
	refused("{\"tags\":[\"a,b\"]}", COPY_TAGS, "comma", "comma in a tag");
	refused("{\"tags\":[\"a\", 3]}", COPY_TAGS, "not a string",
	    "tag not a string");
	refused("{\"description_html\":\"<script>x</script>\"}",
	    COPY_DESCRIPTION, "no text", "description only script");
	refused("[1]", COPY_TITLE, "not a JSON object", "array answer");
	{
		/* 251 distinct tags refused; 250 + duplicates accepted */
		json_t *a = json_object(), *t = json_array();
		char tag[16];

		json_object_set_new(a, "tags", t);
		for (i = 0; i < 251; i++) {
			(void)snprintf(tag, sizeof(tag), "t%zu", i);
			json_array_append_new(t, json_string(tag));
		}
		ok(copy_validate(a, COPY_TAGS, &c, &err) == -1 &&
		    strstr(err.msg, "251") != NULL, "251 tags refused (%s)",
		    err.msg);
		copy_free(&c);
		json_array_remove(t, 250);
		json_array_append_new(t, json_string("T0"));
		ok(copy_validate(a, COPY_TAGS, &c, &err) == 0 && c.ntags == 250,
		    "250 tags plus a duplicate accepted");
		copy_free(&c);
		memset(buf, 'g', 256);
		buf[256] = '\0';
		json_array_clear(t);
		json_array_append_new(t, json_string(buf));
		ok(copy_validate(a, COPY_TAGS, &c, &err) == -1 &&
		    strstr(err.msg, "256") != NULL, "tag of 256 refused");
		copy_free(&c);
		json_decref(a);
	}
	is_int(copy_field_from_name("description"), COPY_DESCRIPTION,
	    "settings name -> bit");
	is_int(copy_field_from_name("vendor"), 0, "unknown name");
	is_str(copy_field_key(COPY_SEO_TITLE), "seo_title", "bit -> key");
	return done_testing();
}
