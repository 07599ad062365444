/* test_copy_keep.c - lib/copy_keep.c (owned by product_optimize). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "copy_keep.h"
#include "tap.h"

/* c gets the model's tags and title. */
static void
model(struct copy *c, const char *title)
{
	static const char *t[] = { "Wall Art", "gift", "SUMMER", "keep" };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->fields = COPY_TAGS | COPY_TITLE;
	c->title = strdup(title);
	c->tags = calloc(4, sizeof(*c->tags));
	for (i = 0; i < 4; i++)
		c->tags[i] = strdup(t[i]);
	c->ntags = 4;
}

static char *
joined(const struct copy *c)
{
	static char buf[512];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < c->ntags; i++) {
		if (i > 0)
			(void)strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		(void)strncat(buf, c->tags[i], sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

int
main(void)
{
	json_t *rules = json_loads("[{\"column\":\"tag\",\"relation\":"
	    "\"equals\",\"condition\":\"summer\"},{\"column\":\"tag\","
	    "\"relation\":\"not_equals\",\"condition\":\"wall art\"},"
	    "{\"column\":\"title\",\"relation\":\"contains\",\"condition\":"
	    "\"mug\"}]", 0, NULL);
	json_t *before = json_loads("[\"Keep\",\"summer\",\"mine\"]", 0, NULL);
	struct copy_owner own = { false, "keep", rules };
	struct rb_err err = { 0 };
	struct copy c;
	bool kept;

	model(&c, "A great poster");
	ok(copy_keep(&c, before, "Big mug", &own, &kept, &err) == 0, "keep");
	is_str(joined(&c), "Keep,summer,mine,gift", "merged: every own tag "
	    "stays, rule tags never added, duplicates by case dropped");
	ok(kept && (c.fields & COPY_TITLE) == 0 && c.title == NULL,
	    "a title rule would judge the new title otherwise: kept");
	copy_free(&c);

	own.manage_tags = true;
	model(&c, "Another mug");
	ok(copy_keep(&c, before, "Big mug", &own, &kept, &err) == 0, "keep");
	is_str(joined(&c), "Keep,summer,gift", "manage_tags: protect and "
	    "rule tags stay, the owner's other tag goes");
	ok(!kept && strcmp(c.title, "Another mug") == 0, "the rule judges "
	    "the new title the same: rewritten");
	copy_free(&c);

	ok(copy_rule_matches("starts_with", "Ab", "abc") == 1, "starts_with");
	ok(copy_rule_matches("ends_with", "BC", "abc") == 1, "ends_with");
	ok(copy_rule_matches("ends_with", "abcd", "bc") == 0, "ends_with, "
	    "longer condition");
	ok(copy_rule_matches("not_contains", "x", "abc") == 1,
	    "not_contains");
	ok(copy_rule_matches("greater_than", "1", "abc") == -1, "unknown");
	json_decref(rules);
	json_decref(before);
	return done_testing();
}
