/*
 * copy_validate.c - see copy_validate.h.  Owned by product_optimize.
 *
 * The HTML cleaner does not try to repair HTML: it emits only tags it
 * writes itself (from the allowlist, without attributes) and text in which
 * '<' and '>' are escaped, so nothing the model wrote can become an element
 * or attribute a browser would act on, whatever tricks the input plays
 * ("<scr<script>ipt>", unterminated tags, comments, quoted '>').
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "copy_validate.h"
#include "util.h"

static const char *const allowed_tags[] = {
	"p", "ul", "ol", "li", "strong", "em", "br", "h2", "h3",
};

/* Removed together with everything up to their end tag. */
static const char *const dropped_with_content[] = {
	"script", "style", "iframe", "noscript", "textarea", "title",
	"template", "xmp", "noembed", "noframes", "object", "svg", "math",
	"head",
};

static const struct {
	unsigned	 bit;
	const char	*key;
	const char	*name;
} field_names[] = {
	{ COPY_TITLE, "title", "title" },
	{ COPY_DESCRIPTION, "description_html", "description" },
	{ COPY_TAGS, "tags", "tags" },
	{ COPY_SEO_TITLE, "seo_title", "seo_title" },
	{ COPY_SEO_DESCRIPTION, "seo_description", "seo_description" },
};

const char *
copy_field_key(unsigned field)
{
	size_t i;

	for (i = 0; i < RB_NELEM(field_names); i++)
		if (field_names[i].bit == field)
			return field_names[i].key;
	return NULL;
}

unsigned
copy_field_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < RB_NELEM(field_names); i++)
		if (strcmp(field_names[i].name, name) == 0)
			return field_names[i].bit;
	return 0;
}

bool
copy_has_markup(const char *s)
{
	const char *p, *q;

	if (s == NULL)
		return false;
	for (p = s; *p != '\0'; p++) {
		if (*p == '<' && (isalpha((unsigned char)p[1]) ||
		    p[1] == '/' || p[1] == '!' || p[1] == '?'))
			return true;
		if (*p == '&') {
			/* an entity: "&name;" or "&#123;" / "&#x1f;"; the
			 * analyzer does not model glibc's ctype table */
			/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript) */
			for (q = p + 1; isalnum((unsigned char)*q) || *q == '#';
			    q++)
				;
			if (q > p + 1 && *q == ';')
				return true;
		}
	}
	return false;
}

static bool
in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* Case-insensitive search for "</name" in s; NULL when absent. */
static const char *
find_end_tag(const char *s, const char *name)
{
	size_t n = strlen(name);

	for (; *s != '\0'; s++)
		if (s[0] == '<' && s[1] == '/' &&
		    strncasecmp(s + 2, name, n) == 0 &&
		    !isalnum((unsigned char)s[2 + n]))
			return s;
	return NULL;
}

/* Index of the '>' ending a tag that starts at s (quotes respected), or
 * NULL when the tag never ends. */
static const char *
tag_end(const char *s)
{
	char quote = '\0';

	for (; *s != '\0'; s++) {
		if (quote != '\0') {
			if (*s == quote)
				quote = '\0';
		} else if (*s == '"' || *s == '\'') {
			quote = *s;
		} else if (*s == '>') {
			return s;
		}
	}
	return NULL;
}

/* True when html has text outside tags that is not whitespace. */
static bool
has_visible_text(const char *html)
{
	bool in_tag = false;
	const char *p;

	for (p = html; *p != '\0'; p++) {
		if (*p == '<')
			in_tag = true;
		else if (*p == '>')
			in_tag = false;
		else if (!in_tag && !isspace((unsigned char)*p))
			return true;
	}
	return false;
}

int
copy_sanitize_html(const char *in, char **out, struct rb_err *err)
{
	struct rb_buf b = { .max = COPY_DESCRIPTION_MAX * 4 };
	const char *p = in, *e, *end;
	char name[16];
	size_t nlen, start, len;
	bool closing;

	*out = NULL;
	if (in == NULL)
		return rb_err_set(err, 422, "invalid_answer",
		    "The description is missing.");
	while (*p != '\0') {
		if (*p == '>') {
			if (rb_buf_puts(&b, "&gt;") == -1)
				goto oom;
			p++;
			continue;
		}
		if (*p != '<') {
			/* control characters other than white space go */
			if ((unsigned char)*p >= 0x20 || *p == '\n' ||
			    *p == '\t' || *p == '\r') {
				if (rb_buf_append(&b, p, 1) == -1)
					goto oom;
			}
			p++;
			continue;
		}
		if (strncmp(p, "<!--", 4) == 0) {
			e = strstr(p + 4, "-->");
			p = e != NULL ? e + 3 : p + strlen(p);
			continue;
		}
		if (p[1] == '!' || p[1] == '?') {
			e = tag_end(p + 2);
			p = e != NULL ? e + 1 : p + strlen(p);
			continue;
		}
		closing = p[1] == '/';
		e = p + 1 + (closing ? 1 : 0);
		if (!isalpha((unsigned char)*e)) {
			/* not a tag: a literal '<' */
			if (rb_buf_puts(&b, "&lt;") == -1)
				goto oom;
			p++;
			continue;
		}
		for (nlen = 0; isalnum((unsigned char)e[nlen]); nlen++)
			;
		if ((end = tag_end(e + nlen)) == NULL)
			break;	/* an unterminated tag: browsers drop the rest */
		if (nlen < sizeof(name)) {
			size_t i;

			for (i = 0; i < nlen; i++)
				name[i] = (char)tolower((unsigned char)e[i]);
			name[nlen] = '\0';
		} else {
			name[0] = '\0';	/* no allowed tag is that long */
		}
		p = end + 1;
		if (!closing && in_list(name, dropped_with_content,
		    RB_NELEM(dropped_with_content))) {
			if ((e = find_end_tag(p, name)) == NULL) {
				p += strlen(p);
			} else {
				end = tag_end(e + 2);
				p = end != NULL ? end + 1 : e + strlen(e);
			}
			continue;
		}
		if (!in_list(name, allowed_tags, RB_NELEM(allowed_tags)))
			continue;
		if (closing && strcmp(name, "br") == 0)
			continue;
		if (rb_buf_printf(&b, "<%s%s>", closing ? "/" : "", name) == -1)
			goto oom;
	}
	if (b.data == NULL && rb_buf_append(&b, "", 0) == -1)
		goto oom;
	/* trim */
	for (start = 0; isspace((unsigned char)b.data[start]); start++)
		;
	len = b.len - start;
	while (len > 0 && isspace((unsigned char)b.data[start + len - 1]))
		len--;
	memmove(b.data, b.data + start, len);
	b.data[len] = '\0';
	b.len = len;
	if (!has_visible_text(b.data)) {
		rb_buf_free(&b);
		return rb_err_set(err, 422, "invalid_answer",
		    "The description has no text left after removing "
		    "markup that is not allowed.");
	}
	if (b.len > COPY_DESCRIPTION_MAX) {
		rb_buf_free(&b);
		return rb_err_set(err, 422, "invalid_answer",
		    "The description is longer than %d bytes.",
		    COPY_DESCRIPTION_MAX);
	}
	*out = b.data;
	return 0;
oom:
	rb_buf_free(&b);
	return rb_err_oom(err);
}

/* Plain text: white space runs (newlines, tabs) become one space, ends
 * trimmed, other control characters and markup refused. */
static int
clean_plain(const char *what, const char *in, size_t maxchars, char **out,
    struct rb_err *err)
{
	char *s;
	size_t i, n = 0, chars;
	bool space = false;

	*out = NULL;
	if ((s = malloc(strlen(in) + 1)) == NULL)
		return rb_err_oom(err);
	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = n > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			free(s);
			return rb_err_set(err, 422, "invalid_answer",
			    "The %s contains control characters.", what);
		}
		if (space)
			s[n++] = ' ';
		space = false;
		s[n++] = (char)c;
	}
	s[n] = '\0';
	if (n == 0) {
		free(s);
		return rb_err_set(err, 422, "invalid_answer",
		    "The %s is empty.", what);
	}
	if (copy_has_markup(s)) {
		free(s);
		return rb_err_set(err, 422, "invalid_answer",
		    "The %s contains markup; it must be plain text.", what);
	}
	if ((chars = rb_utf8_len(s)) > maxchars) {
		free(s);
		return rb_err_set(err, 422, "invalid_answer",
		    "The %s is %zu characters long; at most %zu are allowed.",
		    what, chars, maxchars);
	}
	*out = s;
	return 0;
}

static bool
tag_seen(const struct copy *c, const char *t)
{
	size_t i;

	/* tags[0..ntags) are all set; the analyzer sees calloc's NULLs */
	for (i = 0; i < c->ntags; i++)
		if (strcasecmp(c->tags[i], t) == 0) /* NOLINT(clang-analyzer-core.NonNullParamChecker) */
			return true;
	return false;
}

static int
clean_tags(const json_t *arr, struct copy *c, struct rb_err *err)
{
	const json_t *v;
	char *t = NULL;
	size_t i, n;
	struct rb_err e2;

	n = json_array_size(arr);
	if (n > 4 * COPY_TAGS_MAX)
		return rb_err_set(err, 422, "invalid_answer",
		    "The answer has %zu tags; at most %d are allowed.", n,
		    COPY_TAGS_MAX);
	if ((c->tags = calloc(n + 1, sizeof(*c->tags))) == NULL)
		return rb_err_oom(err);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return rb_err_set(err, 422, "invalid_answer",
			    "Tag %zu is not a string: the answer does not "
			    "follow the schema.", i + 1);
		if (clean_plain("tag", json_string_value(v), COPY_TAG_MAX, &t,
		    &e2) == -1) {
			if (strcmp(e2.code, "out_of_memory") == 0) {
				*err = e2;
				return -1;
			}
			if (strstr(e2.msg, "is empty") != NULL)
				continue;	/* empty tags are dropped */
			return rb_err_set(err, 422, "invalid_answer",
			    "Tag %zu: %s", i + 1, e2.msg);
		}
		if (strchr(t, ',') != NULL) {
			free(t);
			return rb_err_set(err, 422, "invalid_answer",
			    "Tag %zu contains a comma, which Shopify reads as "
			    "two tags.", i + 1);
		}
		if (tag_seen(c, t)) {
			free(t);
			continue;
		}
		c->tags[c->ntags++] = t;
	}
	if (c->ntags == 0)
		return rb_err_set(err, 422, "invalid_answer",
		    "The answer has no tags.");
	if (c->ntags > COPY_TAGS_MAX)
		return rb_err_set(err, 422, "invalid_answer",
		    "The answer has %zu distinct tags; at most %d are "
		    "allowed.", c->ntags, COPY_TAGS_MAX);
	return 0;
}

int
copy_validate(const json_t *answer, unsigned fields, struct copy *out,
    struct rb_err *err)
{
	const char *key;
	const json_t *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(answer))
		return rb_err_set(err, 422, "invalid_answer",
		    "The answer is not a JSON object.");
	if ((fields & COPY_ALL) == 0)
		return rb_err_set(err, 422, "invalid_answer",
		    "No field to rewrite was asked for.");
	/* Keys that were not asked for break the schema. */
	json_object_foreach((json_t *)(uintptr_t)answer, key, v) {
		bool known = false;

		for (i = 0; i < RB_NELEM(field_names); i++)
			if ((fields & field_names[i].bit) != 0 &&
			    strcmp(key, field_names[i].key) == 0)
				known = true;
		if (!known)
			return rb_err_set(err, 422, "invalid_answer",
			    "The answer has a key that was not asked for: it "
			    "does not follow the schema.");
	}
	for (i = 0; i < RB_NELEM(field_names); i++) {
		unsigned bit = field_names[i].bit;

		if ((fields & bit) == 0)
			continue;
		v = json_object_get(answer, field_names[i].key);
		if (v == NULL)
			goto missing;
		if (bit == COPY_TAGS ? !json_is_array(v) : !json_is_string(v))
			goto wrong_type;
	}
	if ((fields & COPY_TITLE) != 0 && clean_plain("title",
	    json_string_value(json_object_get(answer, "title")),
	    COPY_TITLE_MAX, &out->title, err) == -1)
		goto fail;
	if ((fields & COPY_DESCRIPTION) != 0 && copy_sanitize_html(
	    json_string_value(json_object_get(answer, "description_html")),
	    &out->description_html, err) == -1)
		goto fail;
	if ((fields & COPY_TAGS) != 0 &&
	    clean_tags(json_object_get(answer, "tags"), out, err) == -1)
		goto fail;
	if ((fields & COPY_SEO_TITLE) != 0 && clean_plain("SEO title",
	    json_string_value(json_object_get(answer, "seo_title")),
	    COPY_SEO_TITLE_MAX, &out->seo_title, err) == -1)
		goto fail;
	if ((fields & COPY_SEO_DESCRIPTION) != 0 && clean_plain(
	    "SEO description",
	    json_string_value(json_object_get(answer, "seo_description")),
	    COPY_SEO_DESC_MAX, &out->seo_description, err) == -1)
		goto fail;
	out->fields = fields & COPY_ALL;
	return 0;
missing:
	rb_err_set(err, 422, "invalid_answer",
	    "The answer has no \"%s\": it does not follow the schema.",
	    field_names[i].key);
	goto fail;
wrong_type:
	rb_err_set(err, 422, "invalid_answer",
	    "The answer's \"%s\" is not a %s: it does not follow the schema.",
	    field_names[i].key,
	    field_names[i].bit == COPY_TAGS ? "list" : "string");
fail:
	copy_free(out);
	return -1;
}

void
copy_free(struct copy *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->title);
	free(c->description_html);
	free(c->seo_title);
	free(c->seo_description);
	for (i = 0; c->tags != NULL && i < c->ntags; i++)
		free(c->tags[i]);
	free(c->tags);
	memset(c, 0, sizeof(*c));
}
