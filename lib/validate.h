/*
 * validate.h - declarative validation of JSON request bodies at the edge.
 *
 * A route declares a table of field -> validator; validate_object() checks a
 * body against it and fills one struct field_value per spec (same order).
 * Errors are 400 naming the field: "missing_field", "invalid_field",
 * "invalid_shop_domain", "invalid_access_token".  Unknown fields are ignored.
 * A FIELD_ENUM error lists the accepted values.
 *
 * Alternatives: fields with the same .alt (1, 2, ...) form one way of
 * saying something (POST /api/shops: access_token, or client_id with
 * client_secret).  When a table has any, the body must carry exactly one
 * alternative, whole: none is 400 missing_field naming every alternative,
 * two are 400 invalid_field naming what was given, part of one is 400
 * missing_field naming the field that is missing.
 */
#ifndef RB_VALIDATE_H
#define RB_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>

#include "rb.h"

enum field_type {
	FIELD_STRING,		/* non-empty UTF-8 text up to max_len */
	FIELD_UUID,		/* canonical UUID */
	FIELD_SHOP_DOMAIN,	/* normalized with shopify_normalize_domain */
	FIELD_SHOPIFY_TOKEN,	/* [A-Za-z0-9_-], 16..255 chars */
	FIELD_APP_CREDENTIAL,	/* the same alphabet: a Dev Dashboard app's
				 * client id or client secret */
	FIELD_INT,		/* JSON integer within [min, max] */
	FIELD_BOOL,
	FIELD_ENUM,		/* one of values[] (num = its index) */
};

#define FIELD_REQUIRED	0x1

struct field_spec {
	const char	*name;
	enum field_type	 type;
	unsigned	 flags;
	size_t		 max_len;	/* FIELD_STRING; 0 = 1024 */
	long long	 min, max;	/* FIELD_INT */
	const char *const *values;	/* FIELD_ENUM: NULL-terminated */
	unsigned	 alt;		/* 0, or the alternative it belongs to */
};
#define FIELD_ALT_MAX	8	/* alternatives of one table */

struct field_value {
	bool		 present;
	char		*str;		/* owned copy (normalized); NULL if absent */
	long long	 num;		/* FIELD_INT, FIELD_BOOL */
};

int	validate_object(const json_t *obj, const struct field_spec *spec,
	    size_t n, struct field_value *out, struct rb_err *err) RB_WUR;
void	field_values_free(struct field_value *v, size_t n); /* wipes strings */

/* Single validators, shared with query-string parsing. */
int	validate_uuid(const char *field, const char *s, struct rb_err *err)
	    RB_WUR;
int	validate_shopify_token(const char *field, const char *s,
	    struct rb_err *err) RB_WUR;

#endif
