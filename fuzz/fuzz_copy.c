/*
 * fuzz_copy.c - product copy written by a model (lib/copy_validate.h;
 * owner: fuzzing): copy_sanitize_html on raw text and copy_validate on a
 * JSON answer.
 *
 * Input: byte 0 = mode (odd: JSON answer, even: HTML), byte 1 = the
 * COPY_* fields asked for; the rest is the text.
 * Invariants: sanitized HTML contains no "<script" (any case), no
 * attribute: every '<' starts exactly "<name>" or "</name>" with name from
 * the allowlist, and there is no '>' outside such a tag; it is at most
 * COPY_DESCRIPTION_MAX bytes.  An accepted copy holds only the fields asked
 * for; its plain-text fields have no markup and are within their limits;
 * tags have no comma and are unique case-insensitively.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strcasestr */
#endif
#include <jansson.h>
#include <strings.h>

#include "copy_validate.h"
#include "fuzz.h"
#include "util.h"

const char fuzz_target[] = "copy";

static const char *const allowed[] = {
	"p", "ul", "ol", "li", "strong", "em", "br", "h2", "h3",
};

static void
check_html(const char *h)
{
	const char *p, *q;
	size_t i, n;
	bool ok;

	FUZZ_CHECK(strlen(h) <= COPY_DESCRIPTION_MAX);
	FUZZ_CHECK(strcasestr(h, "<script") == NULL);
	for (p = h; *p != '\0'; p++) {
		if (*p == '>') {
			fprintf(stderr, "stray '>' at %zu: %s\n",
			    (size_t)(p - h), h);
			abort();
		}
		if (*p != '<')
			continue;
		q = p + 1;
		if (*q == '/')
			q++;
		ok = false;
		for (i = 0; i < RB_NELEM(allowed); i++) {
			n = strlen(allowed[i]);
			if (strncmp(q, allowed[i], n) == 0 && q[n] == '>') {
				ok = true;
				p = q + n;	/* at the '>' */
				break;
			}
		}
		if (!ok) {
			fprintf(stderr, "tag not from the allowlist at %zu: "
			    "%s\n", (size_t)(p - h), h);
			abort();
		}
	}
}

static void
plain(const char *s, size_t max)
{
	FUZZ_CHECK(s != NULL && s[0] != '\0');
	FUZZ_CHECK(rb_utf8_len(s) <= max);
	FUZZ_CHECK(!copy_has_markup(s));
}

static void
check_copy(const struct copy *c, unsigned fields)
{
	size_t i, j;

	FUZZ_CHECK((c->fields & ~fields) == 0);
	if (c->fields & COPY_TITLE)
		plain(c->title, COPY_TITLE_MAX);
	if (c->fields & COPY_SEO_TITLE)
		plain(c->seo_title, COPY_SEO_TITLE_MAX);
	if (c->fields & COPY_SEO_DESCRIPTION)
		plain(c->seo_description, COPY_SEO_DESC_MAX);
	if (c->fields & COPY_DESCRIPTION) {
		FUZZ_CHECK(c->description_html != NULL);
		check_html(c->description_html);
	}
	if (c->fields & COPY_TAGS) {
		FUZZ_CHECK(c->ntags >= 1 && c->ntags <= COPY_TAGS_MAX);
		for (i = 0; i < c->ntags; i++) {
			plain(c->tags[i], COPY_TAG_MAX);
			FUZZ_CHECK(strchr(c->tags[i], ',') == NULL);
			for (j = i + 1; j < c->ntags; j++)
				FUZZ_CHECK(strcasecmp(c->tags[i],
				    c->tags[j]) != 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_err err;
	struct copy c;
	char *s, *out = NULL;
	json_t *answer;
	unsigned fields;

	if (size < 2 || size > 256 * 1024)
		return 0;
	fields = data[1] & COPY_ALL;
	if (data[0] % 2 == 0) {
		s = fuzz_str(data + 2, size - 2);
		if (copy_sanitize_html(s, &out, &err) == 0) {
			FUZZ_CHECK(out != NULL);
			check_html(out);
		}
		free(out);
		(void)copy_has_markup(s);
		(void)rb_utf8_len(s);
		free(s);
		return 0;
	}
	answer = json_loadb((const char *)data + 2, size - 2, 0, NULL);
	if (answer == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	if (copy_validate(answer, fields, &c, &err) == 0)
		check_copy(&c, fields);
	else
		FUZZ_CHECK(strcmp(err.code, "invalid_answer") == 0);
	copy_free(&c);
	json_decref(answer);
	return 0;
}
