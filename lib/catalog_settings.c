/*
 * catalog_settings.c - settings, clock and shop access shared by
 * replace_job and product_creation.  Owned by "catalog".  The defaults
 * here are the column defaults of sql/005_catalog.sql: change both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_settings.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "job.h"
#include "sales.h"
#include "shopify.h"
#include "util.h"

static bool	clock_set;
static time_t	clock_as_of;

const char *
catalog_action_name(enum catalog_action a)
{
	switch (a) {
	case CATALOG_ARCHIVE:
		return "archive";
	case CATALOG_REMOVE_FROM_COLLECTION:
		return "remove_from_collection";
	case CATALOG_DRAFT:
	default:
		return "draft";
	}
}

void
catalog_settings_free(struct catalog_settings *s)
{
	json_decref(s->template);
	s->template = NULL;
}

static int
bad(struct rb_err *err, const char *setting, const char *why)
{
	return rb_err_set(err, 400, "invalid_settings", "The setting %s %s; "
	    "fix it in the dashboard (nothing in this shop was changed).",
	    setting, why);
}

/* An integer setting: absent -> def; else within [min, max]. */
static int
int_setting(json_t *row, const char *key, int def, int min, int max,
    int *out, struct rb_err *err)
{
	json_t *v = row ? json_object_get(row, key) : NULL;
	json_int_t i;
	char why[96];

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v))
		return bad(err, key, "is not a whole number");
	i = json_integer_value(v);
	if (i < min || i > max) {
		(void)snprintf(why, sizeof(why), "is %lld, but must be from %d "
		    "to %d", (long long)i, min, max);
		return bad(err, key, why);
	}
	*out = (int)i;
	return 0;
}

bool
catalog_price_ok(const char *s)
{
	size_t i, n, dots = 0, dec = 0;

	if (s == NULL || (n = strlen(s)) == 0 || n > 24)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (++dots > 1 || i == 0 || i == n - 1)
				return false;
		} else if (s[i] < '0' || s[i] > '9')
			return false;
		else if (dots)
			dec++;
	}
	return dec <= 4;
}

static bool
str_ok(json_t *v, size_t max, bool empty_ok)
{
	const char *s = json_string_value(v);

	return s != NULL && strlen(s) <= max && (empty_ok || *s != '\0') &&
	    json_string_length(v) == strlen(s);
}

static int
tags_check(json_t *tags, const char *what, struct rb_err *err)
{
	char setting[96];
	json_t *t;
	size_t i;

	(void)snprintf(setting, sizeof(setting), "%s.tags", what);
	if (tags == NULL)
		return 0;
	if (!json_is_array(tags) || json_array_size(tags) > 250)
		return bad(err, setting, "must be a list of at most 250 tags");
	json_array_foreach(tags, i, t)
		if (!str_ok(t, 255, false) || strchr(json_string_value(t), ',')
		    != NULL)
			return bad(err, setting, "must hold non-empty tags of "
			    "at most 255 characters without commas");
	return 0;
}

static bool
in_values(json_t *values, const char *v)
{
	json_t *x;
	size_t i;

	json_array_foreach(values, i, x)
		if (strcmp(json_string_value(x), v) == 0)
			return true;
	return false;
}

const char *
catalog_inventory_policy(const char *inventory)
{
	if (inventory == NULL || strcmp(inventory, "untracked") == 0)
		return "DENY";	/* not tracked: the policy never applies */
	if (strcmp(inventory, "continue") == 0)
		return "CONTINUE";
	return NULL;
}

int
catalog_template_check(json_t *t, const char *what, struct rb_err *err)
{
	json_t *opts, *vars, *o, *v, *vals, *x, *vo;
	const char *st;
	char setting[96];
	size_t i, j;

	if (!json_is_object(t))
		return bad(err, what, "must be a JSON object");
	(void)snprintf(setting, sizeof(setting), "%s.product_type", what);
	if ((x = json_object_get(t, "product_type")) != NULL &&
	    !str_ok(x, 255, true))
		return bad(err, setting, "must be text of at most 255 "
		    "characters");
	(void)snprintf(setting, sizeof(setting), "%s.vendor", what);
	if ((x = json_object_get(t, "vendor")) != NULL &&
	    !str_ok(x, 255, true))
		return bad(err, setting, "must be text of at most 255 "
		    "characters");
	(void)snprintf(setting, sizeof(setting), "%s.status", what);
	if ((x = json_object_get(t, "status")) != NULL &&
	    ((st = json_string_value(x)) == NULL ||
	    (strcmp(st, "ACTIVE") != 0 && strcmp(st, "DRAFT") != 0)))
		return bad(err, setting, "must be ACTIVE or DRAFT");
	(void)snprintf(setting, sizeof(setting), "%s.inventory", what);
	if ((x = json_object_get(t, "inventory")) != NULL && !json_is_null(x)
	    && catalog_inventory_policy(json_string_value(x)) == NULL)
		return bad(err, setting, "must be untracked (print on demand: "
		    "the default) or continue (tracked, sold when out of "
		    "stock)");
	if (tags_check(json_object_get(t, "tags"), what, err) == -1)
		return -1;
	opts = json_object_get(t, "options");
	(void)snprintf(setting, sizeof(setting), "%s.options", what);
	if (opts != NULL && (!json_is_array(opts) ||
	    json_array_size(opts) > CATALOG_MAX_OPTIONS))
		return bad(err, setting, "must be a list of at most 3 options");
	json_array_foreach(opts, i, o) {
		vals = json_object_get(o, "values");
		if (!str_ok(json_object_get(o, "name"), 255, false) ||
		    !json_is_array(vals) || json_array_size(vals) == 0 ||
		    json_array_size(vals) > CATALOG_MAX_VARIANTS)
			return bad(err, setting, "must each have a name and "
			    "1 to 100 values");
		json_array_foreach(vals, j, x)
			if (!str_ok(x, 255, false))
				return bad(err, setting, "must have non-empty "
				    "values of at most 255 characters");
	}
	vars = json_object_get(t, "variants");
	(void)snprintf(setting, sizeof(setting), "%s.variants", what);
	if (!json_is_array(vars) || json_array_size(vars) == 0 ||
	    json_array_size(vars) > CATALOG_MAX_VARIANTS)
		return bad(err, setting, "must be a list of 1 to 100 variants");
	if (json_array_size(opts) == 0 && json_array_size(vars) != 1)
		return bad(err, setting, "must be exactly one variant when "
		    "there are no options");
	json_array_foreach(vars, i, v) {
		vo = json_object_get(v, "options");
		if (!catalog_price_ok(json_string_value(json_object_get(v,
		    "price"))))
			return bad(err, setting, "must each have a price such "
			    "as \"19.99\"");
		if ((x = json_object_get(v, "compare_at_price")) != NULL &&
		    !json_is_null(x) && !catalog_price_ok(json_string_value(x)))
			return bad(err, setting, "have a compare_at_price that "
			    "is not a price such as \"24.99\"");
		if ((x = json_object_get(v, "sku")) != NULL && !json_is_null(x)
		    && !str_ok(x, 255, true))
			return bad(err, setting, "have a sku that is not text "
			    "of at most 255 characters");
		if (json_array_size(opts) == 0) {
			if (vo != NULL && json_array_size(vo) != 0)
				return bad(err, setting, "name option values "
				    "but the template has no options");
			continue;
		}
		if (!json_is_array(vo) || json_array_size(vo) !=
		    json_array_size(opts))
			return bad(err, setting, "must each name one value "
			    "per option, in the options' order");
		json_array_foreach(vo, j, x) {
			vals = json_object_get(json_array_get(opts, j),
			    "values");
			if (!json_is_string(x) || !in_values(vals,
			    json_string_value(x)))
				return bad(err, setting, "name an option value "
				    "that the option does not list");
		}
	}
	return 0;
}

/* Missing or null: false. */
static int
bool_setting(json_t *row, const char *key, bool *out, struct rb_err *err)
{
	json_t *v = row ? json_object_get(row, key) : NULL;

	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return bad(err, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int
catalog_settings_parse(json_t *row, struct catalog_settings *s,
    struct rb_err *err)
{
	json_t *v, *x;
	const char *a;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (row != NULL && !json_is_object(row))
		return bad(err, "row", "is not an object");
	if (int_setting(row, "start_days", 7, 1, 90, &s->start_days,
	    err) == -1 ||
	    int_setting(row, "start_min_sales", 1, 0, 100000,
	    &s->start_min_sales, err) == -1 ||
	    int_setting(row, "post_days", 14, 1, 365, &s->post_days,
	    err) == -1 ||
	    int_setting(row, "post_min_sales", 1, 0, 100000,
	    &s->post_min_sales, err) == -1 ||
	    int_setting(row, "max_replacements", 10, 0, 1000,
	    &s->max_replacements, err) == -1 ||
	    int_setting(row, "daily_creation_quota", 0, 0, 250,
	    &s->daily_quota, err) == -1)
		return -1;
	v = row ? json_object_get(row, "managed_collection_ids") : NULL;
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v) ||
		    json_array_size(v) > CATALOG_MAX_COLLECTIONS)
			return bad(err, "managed_collection_ids", "must be a "
			    "list of at most 50 collection ids");
		json_array_foreach(v, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) <= 0)
				return bad(err, "managed_collection_ids",
				    "must hold positive collection ids");
			s->managed[s->nmanaged++] = json_integer_value(x);
		}
	}
	v = row ? json_object_get(row, "retire_action") : NULL;
	a = json_string_value(v);
	if (v == NULL || json_is_null(v) || strcmp(a ? a : "", "draft") == 0)
		s->action = CATALOG_DRAFT;
	else if (strcmp(a ? a : "", "archive") == 0)
		s->action = CATALOG_ARCHIVE;
	else if (strcmp(a ? a : "", "remove_from_collection") == 0)
		s->action = CATALOG_REMOVE_FROM_COLLECTION;
	else
		return bad(err, "retire_action", "must be draft, archive or "
		    "remove_from_collection");
	v = row ? json_object_get(row, "protect_tag") : NULL;
	if (v == NULL || json_is_null(v))
		(void)rb_strlcpy(s->protect_tag, "reboss-keep",
		    sizeof(s->protect_tag));
	else if (!str_ok(v, CATALOG_TAG_MAX - 1, false))
		return bad(err, "protect_tag", "must be a tag of 1 to 255 "
		    "characters");
	else
		(void)rb_strlcpy(s->protect_tag, json_string_value(v),
		    sizeof(s->protect_tag));
	v = row ? json_object_get(row, "creation_collection_id") : NULL;
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return bad(err, "creation_collection_id", "must be a "
			    "positive collection id");
		s->creation_collection = json_integer_value(v);
	}
	if (bool_setting(row, "dry_run", &s->dry_run, err) == -1 ||
	    bool_setting(row, "allow_shrink", &s->allow_shrink, err) == -1)
		return -1;
	v = row ? json_object_get(row, "creation_template") : NULL;
	if (v == NULL || json_is_null(v))
		s->template = json_pack("{s:s, s:s, s:s, s:[], s:[], "
		    "s:[{s:[], s:s}]}", "product_type", "", "vendor", "",
		    "status", "ACTIVE", "tags", "options", "variants",
		    "options", "price", "19.99");
	else
		s->template = json_deep_copy(v);
	if (s->template == NULL)
		return rb_err_oom(err);
	if (catalog_template_check(s->template, "creation_template",
	    err) == -1) {
		catalog_settings_free(s);
		return -1;
	}
	return 0;
}

int
catalog_settings_load(struct db *db, const char *shop_id,
    struct catalog_settings *s, struct rb_err *err)
{
	const char *p[1] = { shop_id };
	json_t *row = NULL;
	json_error_t je;
	PGresult *r;
	int rc;

	r = db_query(db, "SELECT row_to_json(c) FROM public.catalog_settings "
	    "c WHERE shop_id = $1", 1, p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		row = json_loads(PQgetvalue(r, 0, 0), 0, &je);
		if (row == NULL) {
			PQclear(r);
			return rb_err_set(err, 500, "database_error",
			    "catalog_settings could not be read as JSON.");
		}
	}
	PQclear(r);
	rc = catalog_settings_parse(row, s, err);
	json_decref(row);
	return rc;
}

/* ---- clock ----------------------------------------------------------------- */

void
catalog_clock_init(int *argc, char **argv)
{
	const char *e = getenv("REBOSS_TEST_CLOCK"), *val = NULL;
	int i, skip = 0, j;
	long v;

	if (e == NULL || strcmp(e, "1") != 0)
		return;		/* production: job_main refuses --as-of */
	for (i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--as-of") == 0 && i + 1 < *argc) {
			val = argv[i + 1];
			skip = 2;
			break;
		}
		if (strncmp(argv[i], "--as-of=", 8) == 0) {
			val = argv[i] + 8;
			skip = 1;
			break;
		}
	}
	if (val == NULL)
		return;
	if (rb_parse_long(val, 0, 253402300799L, &v) == 0) {
		clock_as_of = (time_t)v;
		clock_set = true;
	} else if (sales_parse_time(val, &clock_as_of) == 0)
		clock_set = true;
	else
		return;		/* left in argv: job_main reports it */
	for (j = i; j + skip <= *argc; j++)
		argv[j] = argv[j + skip];
	*argc -= skip;
}

int
catalog_now(struct db *db, time_t *now, struct rb_err *err)
{
	PGresult *r;
	long v;

	if (clock_set) {
		*now = clock_as_of;
		return 0;
	}
	r = db_query(db, "SELECT floor(extract(epoch FROM now()))::bigint",
	    0, NULL, err);
	if (r == NULL)
		return -1;
	if (rb_parse_long(PQgetvalue(r, 0, 0), 0, 253402300799L, &v) == -1) {
		PQclear(r);
		return rb_err_set(err, 500, "database_error",
		    "The database clock is out of range.");
	}
	PQclear(r);
	*now = (time_t)v;
	return 0;
}

void
catalog_iso_utc(time_t t, char out[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)rb_strlcpy(out, "1970-01-01T00:00:00Z", 32);
}

/* ---- shop access ----------------------------------------------------------- */

int
catalog_shop_zone(struct shopify *sh, char *tz, size_t tzsize,
    struct rb_err *err)
{
	json_t *data = NULL;
	const char *z;
	int rc = -1;

	if (shopify_graphql(sh, "query { shop { ianaTimezone } }", NULL,
	    &data, err) == -1)
		return -1;
	z = json_string_value(json_object_get(json_object_get(data, "shop"),
	    "ianaTimezone"));
	if (z == NULL || !sales_tz_valid(z) || strlen(z) >= tzsize)
		rb_err_set(err, 502, "invalid_timezone", "Shopify reported a "
		    "time zone this host does not know; install or update the "
		    "tzdata package.");
	else {
		(void)rb_strlcpy(tz, z, tzsize);
		rc = 0;
	}
	json_decref(data);
	return rc;
}

int
catalog_open_shop(struct job_ctx *ctx, struct shopify *sh, char *tz,
    size_t tzsize, struct rb_err *err)
{
	if (job_shopify_open(ctx, sh, err) == -1)
		return -1;
	if (catalog_shop_zone(sh, tz, tzsize, err) == -1) {
		shopify_close(sh);
		return -1;
	}
	return 0;
}
