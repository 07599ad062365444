/*
 * copy_keep.h - what product_optimize must leave as the owner set it
 * (PRODUCT.md, Jobs: "never removes what the owner set").  Pure: no I/O,
 * unit-tested.  Owned by product_optimize.
 *
 * Shopify's productUpdate replaces ALL tags with the list it is given, so
 * the model's tags are never sent as they are.  copy_keep() rewrites a
 * validated struct copy against the product as it is now:
 *   tags   manage_tags false (the default): every tag the product has is
 *          kept, the model's new tags are added after them;
 *          manage_tags true: the model's tags replace the others, but the
 *          protect tag and every tag a smart collection's rule names are
 *          kept when the product has them;
 *          either way a tag a rule names is never added (that would move
 *          the product into or out of a smart collection), tags compare
 *          case-insensitively as Shopify's do, and at most COPY_TAGS_MAX.
 *   title  when a smart collection's rule on the title would judge the new
 *          title differently from the old one, the title is not rewritten
 *          (COPY_TITLE is cleared; *title_kept says so).
 * rules: a JSON array of {column, relation, condition} as
 * shopify_get_collections() gives them ("tag", "title"; "equals",
 * "not_equals", "contains", "not_contains", "starts_with", "ends_with";
 * another relation on the title keeps the old title whenever it changes).
 */
#ifndef RB_COPY_KEEP_H
#define RB_COPY_KEEP_H

#include <jansson.h>
#include <stdbool.h>

#include "copy_validate.h"
#include "rb.h"

struct copy_owner {
	bool		 manage_tags;
	const char	*protect_tag;	/* "" or NULL: none */
	const json_t	*rules;		/* array, may be NULL */
};

int	copy_keep(struct copy *c, const json_t *before_tags,
	    const char *before_title, const struct copy_owner *own,
	    bool *title_kept, struct rb_err *err) RB_WUR;

/* One rule on one value, as Shopify matches text (case-insensitive);
 * -1 when the relation is not one of the six above. */
int	copy_rule_matches(const char *relation, const char *condition,
	    const char *value);

#endif
