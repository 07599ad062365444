/*
 * copy_keep.c - merge the model's copy with what the owner set (see
 * copy_keep.h).  Owned by product_optimize.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "copy_keep.h"

int
copy_rule_matches(const char *rel, const char *cond, const char *v)
{
	size_t lc = strlen(cond), lv = strlen(v);

	if (strcmp(rel, "equals") == 0)
		return strcasecmp(v, cond) == 0;
	if (strcmp(rel, "not_equals") == 0)
		return strcasecmp(v, cond) != 0;
	if (strcmp(rel, "contains") == 0)
		return strcasestr(v, cond) != NULL;
	if (strcmp(rel, "not_contains") == 0)
		return strcasestr(v, cond) == NULL;
	if (strcmp(rel, "starts_with") == 0)
		return lv >= lc && strncasecmp(v, cond, lc) == 0;
	if (strcmp(rel, "ends_with") == 0)
		return lv >= lc && strcasecmp(v + lv - lc, cond) == 0;
	return -1;
}

static const char *
rule_str(const json_t *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r, key));

	return s != NULL ? s : "";
}

/* Does a smart collection's rule name this tag? */
static bool
rule_tag(const json_t *rules, const char *tag)
{
	const json_t *r;
	size_t i;

	json_array_foreach(rules, i, r)
		if (strcmp(rule_str(r, "column"), "tag") == 0 &&
		    strcasecmp(rule_str(r, "condition"), tag) == 0)
			return true;
	return false;
}

static bool
has_tag(char **tags, size_t n, const char *tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(tags[i], tag) == 0)
			return true;
	return false;
}

static int
keep_tags(struct copy *c, const json_t *before, const struct copy_owner *own)
{
	char **out;
	const json_t *t;
	const char *s;
	size_t i, n = 0;

	if ((out = calloc(COPY_TAGS_MAX, sizeof(*out))) == NULL)
		return -1;
	json_array_foreach(before, i, t) {
		s = json_string_value(t);
		if (s == NULL || n == COPY_TAGS_MAX || has_tag(out, n, s))
			continue;
		if (own->manage_tags && !rule_tag(own->rules, s) &&
		    (own->protect_tag == NULL ||
		    strcasecmp(s, own->protect_tag) != 0))
			continue;	/* the job may replace it */
		if ((out[n] = strdup(s)) == NULL)
			goto oom;
		n++;
	}
	for (i = 0; i < c->ntags && n < COPY_TAGS_MAX; i++) {
		if (has_tag(out, n, c->tags[i]) ||
		    rule_tag(own->rules, c->tags[i]))
			continue;
		if ((out[n] = strdup(c->tags[i])) == NULL)
			goto oom;
		n++;
	}
	for (i = 0; i < c->ntags; i++)
		free(c->tags[i]);
	free(c->tags);
	c->tags = out;
	c->ntags = n;
	return 0;
oom:
	for (i = 0; i < n; i++)
		free(out[i]);
	free(out);
	return -1;
}

/* Would any rule on the title judge new differently from old? */
static bool
title_moves(const json_t *rules, const char *old, const char *new)
{
	const json_t *r;
	size_t i;
	int a, b;

	if (strcmp(old, new) == 0)
		return false;
	json_array_foreach(rules, i, r) {
		if (strcmp(rule_str(r, "column"), "title") != 0)
			continue;
		a = copy_rule_matches(rule_str(r, "relation"),
		    rule_str(r, "condition"), old);
		b = copy_rule_matches(rule_str(r, "relation"),
		    rule_str(r, "condition"), new);
		if (a == -1 || a != b)
			return true;
	}
	return false;
}

int
copy_keep(struct copy *c, const json_t *before_tags, const char *before_title,
    const struct copy_owner *own, bool *title_kept, struct rb_err *err)
{
	*title_kept = false;
	if ((c->fields & COPY_TAGS) != 0 && keep_tags(c, before_tags, own) ==
	    -1)
		return rb_err_oom(err);
	if ((c->fields & COPY_TITLE) != 0 && before_title != NULL &&
	    title_moves(own->rules, before_title, c->title)) {
		free(c->title);
		c->title = NULL;
		c->fields &= ~COPY_TITLE;
		*title_kept = true;
	}
	return 0;
}
