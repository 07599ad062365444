/*
 * validate.c - declarative validation of JSON request bodies (validate.h).
 *
 * Messages name the field and what it must be; they never repeat the value
 * (it may be a token).  JSON null and "" count as "not given",
 * except "" for a shop domain or token (a wrong value).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "shopify.h"
#include "util.h"
#include "validate.h"

#define STRING_DEFAULT_MAX	1024
#define TOKEN_MIN		16
#define TOKEN_MAX		255

static const char *
type_noun(enum field_type t)
{
	switch (t) {
	case FIELD_INT:
		return "an integer";
	case FIELD_BOOL:
		return "true or false";
	case FIELD_UUID:
		return "a UUID string";
	case FIELD_SHOP_DOMAIN:
		return "a shop domain string";
	case FIELD_SHOPIFY_TOKEN:
		return "an access token string";
	case FIELD_ENUM:
		return "one of the names listed";
	case FIELD_APP_CREDENTIAL:
		return "a string copied from the app's settings";
	case FIELD_STRING:
		break;
	}
	return "a string";
}

int
validate_uuid(const char *field, const char *s, struct rb_err *err)
{
	if (s == NULL || !rb_is_uuid(s))
		return rb_err_set(err, 400, "invalid_field",
		    "%s must be a UUID like 123e4567-e89b-12d3-a456-426614174000.",
		    field);
	return 0;
}

int
validate_shopify_token(const char *field, const char *s, struct rb_err *err)
{
	size_t i, n;

	if (s == NULL)
		goto bad;
	n = strlen(s);
	if (n < TOKEN_MIN || n > TOKEN_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isascii(c) && (isalnum(c) || c == '_' || c == '-')))
			goto bad;
	}
	return 0;
bad:
	return rb_err_set(err, 400, "invalid_access_token",
	    "%s must be a Shopify Admin API access token: %d to %d letters, "
	    "digits, '_' or '-' (copy it from the custom app's API "
	    "credentials).", field, TOKEN_MIN, TOKEN_MAX);
}

/* One of sp->values; the error lists them all. */
static int
validate_enum(const struct field_spec *sp, const char *s,
    struct field_value *out, struct rb_err *err)
{
	char list[256];
	size_t i, len = 0;
	int n;

	for (i = 0; sp->values != NULL && sp->values[i] != NULL; i++)
		if (strcmp(sp->values[i], s) == 0) {
			if ((out->str = strdup(s)) == NULL)
				return rb_err_set(err, 500, "out_of_memory",
				    "The server ran out of memory; try again.");
			out->num = (long long)i;
			out->present = true;
			return 0;
		}
	list[0] = '\0';
	for (i = 0; sp->values != NULL && sp->values[i] != NULL; i++) {
		n = snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? ", " : "", sp->values[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - len)
			break;
		len += (size_t)n;
	}
	return rb_err_set(err, 400, "invalid_field", "%s must be one of: %s.",
	    sp->name, list);
}

/* A Dev Dashboard app's client id (32 hex digits) or client secret
 * (shpss_ and hex): the access token's alphabet and lengths. */
static int
validate_app_credential(const char *field, const char *s, struct rb_err *err)
{
	struct rb_err terr;

	rb_err_clear(&terr);
	if (validate_shopify_token(field, s, &terr) == 0)
		return 0;
	return rb_err_set(err, 400, "invalid_field",
	    "%s must be copied from the app's settings in Shopify's Dev "
	    "Dashboard (Apps, the app, Settings): %d to %d letters, digits, "
	    "'_' or '-'.", field, TOKEN_MIN, TOKEN_MAX);
}

/* One string field: type, text and length checks, then the copy. */
static int
validate_string(const struct field_spec *sp, const json_t *v,
    struct field_value *out, struct rb_err *err)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), max;
	char dom[SHOPIFY_DOMAIN_MAX];
	struct rb_err derr;
	long chars;
	size_t i;

	if (memchr(s, '\0', n) != NULL || (chars = rb_utf8_text_chars(
	    (const unsigned char *)s, n)) < 0) {
		if (sp->type == FIELD_SHOPIFY_TOKEN)
			return validate_shopify_token(sp->name, NULL, err);
		if (sp->type == FIELD_APP_CREDENTIAL)
			return validate_app_credential(sp->name, NULL, err);
		if (sp->type == FIELD_SHOP_DOMAIN)
			goto bad_domain;
		return rb_err_set(err, 400, "invalid_field",
		    "%s must be UTF-8 text without control characters.",
		    sp->name);
	}
	switch (sp->type) {
	case FIELD_STRING:
		max = sp->max_len ? sp->max_len : STRING_DEFAULT_MAX;
		if ((size_t)chars > max)
			return rb_err_set(err, 400, "invalid_field",
			    "%s must be at most %zu characters long.",
			    sp->name, max);
		out->str = strdup(s);
		break;
	case FIELD_UUID:
		if (validate_uuid(sp->name, s, err) == -1)
			return -1;
		if ((out->str = strdup(s)) != NULL)
			for (i = 0; out->str[i] != '\0'; i++)
				out->str[i] = (char)tolower(
				    (unsigned char)out->str[i]);
		break;
	case FIELD_SHOP_DOMAIN:
		rb_err_clear(&derr);
		if (shopify_normalize_domain(s, dom, &derr) == -1)
			goto bad_domain;
		out->str = strdup(dom);
		break;
	case FIELD_SHOPIFY_TOKEN:
		if (validate_shopify_token(sp->name, s, err) == -1)
			return -1;
		out->str = strdup(s);
		break;
	case FIELD_ENUM:
		return validate_enum(sp, s, out, err);
	case FIELD_APP_CREDENTIAL:
		if (validate_app_credential(sp->name, s, err) == -1)
			return -1;
		out->str = strdup(s);
		break;
	case FIELD_INT:
	case FIELD_BOOL:
		return rb_err_set(err, 500, "internal_error",
		    "Field %s has a broken validator.", sp->name);
	}
	if (out->str == NULL)
		return rb_err_oom(err);
	out->present = true;
	return 0;
bad_domain:
	return rb_err_set(err, 400, "invalid_shop_domain",
	    "%s must be your shop's name or its name.myshopify.com address "
	    "(letters, digits and hyphens), e.g. \"my-shop\" or "
	    "\"my-shop.myshopify.com\".", sp->name);
}

/* "access_token, or client_id with client_secret" into b (cut at its
 * size: the names are the table's own, short). */
static void
describe_alternatives(const struct field_spec *spec, size_t n, char *b,
    size_t bsz)
{
	unsigned a, seen = 0;
	size_t i, o = 0;
	int w;

	b[0] = '\0';
	for (a = 1; a <= FIELD_ALT_MAX; a++) {
		bool first = true;

		for (i = 0; i < n; i++) {
			if (spec[i].alt != a)
				continue;
			w = snprintf(b + o, bsz - o, "%s%s", first ? (seen > 0 ?
			    ", or " : "") : " with ", spec[i].name);
			if (w < 0 || (size_t)w >= bsz - o)
				return;
			o += (size_t)w;
			first = false;
		}
		seen += !first;
	}
}

/* Exactly one alternative, whole (see validate.h). */
static int
check_alternatives(const struct field_spec *spec, size_t n,
    const struct field_value *out, struct rb_err *err)
{
	const char *given[2] = { NULL, NULL };
	unsigned a, touched = 0, chosen = 0;
	char all[256];
	size_t i;

	for (a = 1; a <= FIELD_ALT_MAX; a++) {
		for (i = 0; i < n; i++)
			if (spec[i].alt == a && out[i].present)
				break;
		if (i == n)
			continue;
		if (touched < 2)
			given[touched] = spec[i].name;
		touched++;
		chosen = a;
	}
	for (i = 0; i < n && spec[i].alt == 0; i++)
		;
	if (i == n)
		return 0;		/* no alternatives in this table */
	describe_alternatives(spec, n, all, sizeof(all));
	if (touched == 0)
		return rb_err_set(err, 400, "missing_field",
		    "Send %s.", all);
	if (touched > 1)
		return rb_err_set(err, 400, "invalid_field",
		    "Send %s, only one of them: %s and %s were given.", all,
		    given[0], given[1]);
	for (i = 0; i < n; i++)
		if (spec[i].alt == chosen && !out[i].present)
			return rb_err_set(err, 400, "missing_field",
			    "%s is required with %s.", spec[i].name,
			    given[0]);
	return 0;
}

int
validate_object(const json_t *obj, const struct field_spec *spec, size_t n,
    struct field_value *out, struct rb_err *err)
{
	size_t i;

	memset(out, 0, n * sizeof(*out));
	if (!json_is_object(obj))
		return rb_err_set(err, 400, "invalid_json",
		    "The request body must be a JSON object.");
	for (i = 0; i < n; i++) {
		const struct field_spec *sp = &spec[i];
		/* json_object_get takes a non-const object but does not
		 * change it. */
		const json_t *v = json_object_get(obj, sp->name);
		bool is_string_type = sp->type == FIELD_STRING ||
		    sp->type == FIELD_UUID || sp->type == FIELD_SHOP_DOMAIN ||
		    sp->type == FIELD_SHOPIFY_TOKEN || sp->type == FIELD_ENUM ||
		    sp->type == FIELD_APP_CREDENTIAL;

		/* "" given as a shop domain or token is a wrong value, named
		 * by its own validator ("" is no shop domain); anywhere else
		 * "" means "not given". */
		bool empty_is_value = sp->type == FIELD_SHOP_DOMAIN ||
		    sp->type == FIELD_SHOPIFY_TOKEN ||
		    sp->type == FIELD_APP_CREDENTIAL;

		if (v == NULL || json_is_null(v) ||
		    (json_is_string(v) && json_string_length(v) == 0 &&
		    is_string_type && !empty_is_value)) {
			if (sp->flags & FIELD_REQUIRED) {
				rb_err_set(err, 400, "missing_field",
				    "%s is required.", sp->name);
				goto fail;
			}
			continue;
		}
		if (is_string_type) {
			if (!json_is_string(v)) {
				rb_err_set(err, 400, "invalid_field",
				    "%s must be %s.", sp->name,
				    type_noun(sp->type));
				goto fail;
			}
			if (validate_string(sp, v, &out[i], err) == -1)
				goto fail;
			continue;
		}
		if (sp->type == FIELD_INT) {
			json_int_t x;

			if (!json_is_integer(v)) {
				rb_err_set(err, 400, "invalid_field",
				    "%s must be an integer.", sp->name);
				goto fail;
			}
			x = json_integer_value(v);
			if ((long long)x < sp->min || (long long)x > sp->max) {
				rb_err_set(err, 400, "invalid_field",
				    "%s must be between %lld and %lld.",
				    sp->name, sp->min, sp->max);
				goto fail;
			}
			out[i].num = (long long)x;
		} else {	/* FIELD_BOOL */
			if (!json_is_boolean(v)) {
				rb_err_set(err, 400, "invalid_field",
				    "%s must be true or false.", sp->name);
				goto fail;
			}
			out[i].num = json_is_true(v) ? 1 : 0;
		}
		out[i].present = true;
	}
	if (check_alternatives(spec, n, out, err) == -1)
		goto fail;
	return 0;
fail:
	field_values_free(out, n);
	return -1;
}

void
field_values_free(struct field_value *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (v[i].str != NULL) {
			OPENSSL_cleanse(v[i].str, strlen(v[i].str));
			free(v[i].str);
		}
		memset(&v[i], 0, sizeof(v[i]));
	}
}
