/*
 * copy_validate.h - checks product copy written by a model before any of it
 * reaches Shopify (PRODUCT.md, Jobs 4).  Pure: no I/O, unit-tested.
 * Owned by product_optimize.
 *
 * copy_validate() takes the model's parsed JSON answer and the fields that
 * were asked for, and either fills a struct copy with the cleaned values or
 * fails with err->code "invalid_answer" and a reason naming the field:
 *   title            plain text, 1..255 characters, no markup, no control
 *                    characters;
 *   description_html reduced to <p> <ul> <ol> <li> <strong> <em> <br> <h2>
 *                    <h3> with every attribute dropped; <script>, <style>
 *                    (and other raw-text elements) removed with their
 *                    content; comments dropped; stray '<' '>' escaped; must
 *                    keep visible text; at most COPY_DESCRIPTION_MAX bytes;
 *   tags             each trimmed, empty ones dropped, de-duplicated case-
 *                    insensitively (first spelling kept), 1..250 tags, each
 *                    <= 255 characters, no markup, no comma;
 *   seo_title        plain text, 1..70 characters;
 *   seo_description  plain text, 1..320 characters.
 * A key that was not asked for, or a value of the wrong type, is refused:
 * the answer broke the schema.  Characters are Unicode code points.
 */
#ifndef RB_COPY_VALIDATE_H
#define RB_COPY_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

#define COPY_TITLE		0x01u
#define COPY_DESCRIPTION	0x02u
#define COPY_TAGS		0x04u
#define COPY_SEO_TITLE		0x08u
#define COPY_SEO_DESCRIPTION	0x10u
#define COPY_ALL		0x1fu

#define COPY_TITLE_MAX		255
#define COPY_SEO_TITLE_MAX	70
#define COPY_SEO_DESC_MAX	320
#define COPY_TAGS_MAX		250
#define COPY_TAG_MAX		255
#define COPY_DESCRIPTION_MAX	65536	/* bytes, after cleaning */

struct copy {
	unsigned	 fields;	/* COPY_* that are set */
	char		*title;
	char		*description_html;
	char		*seo_title;
	char		*seo_description;
	char		**tags;
	size_t		 ntags;
};

/* The JSON key of one COPY_* bit ("title", "description_html", "tags",
 * "seo_title", "seo_description"), NULL for anything else. */
const char *copy_field_key(unsigned field);
/* Settings name -> bit: "title", "description", "tags", "seo_title",
 * "seo_description"; 0 when unknown. */
unsigned copy_field_from_name(const char *name);

int	copy_validate(const json_t *answer, unsigned fields, struct copy *out,
	    struct rb_err *err) RB_WUR;
void	copy_free(struct copy *c);

/* The description cleaner on its own; *out is owned by the caller. */
int	copy_sanitize_html(const char *in, char **out, struct rb_err *err)
	    RB_WUR;
/* True when s contains something a browser would read as markup. */
bool	copy_has_markup(const char *s);

#endif
