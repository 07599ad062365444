/*
 * fuzz_body.c - JSON request bodies as reboss-api reads them: json_loadb,
 * then validate_object with the field table of each route (owner:
 * fuzzing).
 *
 * The tables are copies of the ones in fcgi/routes_*.c (kept in sync by
 * hand; fcgi/ is not linked here) plus one synthetic table that uses every
 * field type, so validators no route uses yet are covered too.  The first
 * input byte picks the table; the rest is the body.
 *
 * Invariants when validate_object accepts:
 *   every FIELD_REQUIRED field is present; a present string field has a
 *   str; SHOP_DOMAIN values match the myshopify.com pattern; UUID values
 *   are UUIDs; SHOPIFY_TOKEN and APP_CREDENTIAL values are
 *   [A-Za-z0-9_-]{16,255}; INT values are within [min, max]; BOOL values
 *   are 0 or 1; of a table with alternatives (.alt) exactly one is
 *   present, whole, and no field of another.
 * When it refuses: a 400 with one of the documented codes.
 */
#include <jansson.h>
#include <limits.h>

#include "fuzz.h"
#include "util.h"
#include "validate.h"

const char fuzz_target[] = "body";

/* fcgi/routes_shopify.c: POST /api/shopify/test-connection */
static const struct field_spec test_connection_fields[] = {
	{ .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
	{ .name = "access_token", .type = FIELD_SHOPIFY_TOKEN,
	    .flags = FIELD_REQUIRED },
};
/* fcgi/routes_shopify.c: POST /api/shopify/get-collections */
static const struct field_spec get_collections_fields[] = {
	{ .name = "shop_id", .type = FIELD_UUID },
	{ .name = "shop_domain", .type = FIELD_SHOP_DOMAIN },
	{ .name = "access_token", .type = FIELD_SHOPIFY_TOKEN },
};
/* fcgi/routes_shops.c: POST /api/shops */
static const struct field_spec shops_create_fields[] = {
	{ .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
	{ .name = "access_token", .type = FIELD_SHOPIFY_TOKEN, .alt = 1 },
	{ .name = "client_id", .type = FIELD_APP_CREDENTIAL, .alt = 2 },
	{ .name = "client_secret", .type = FIELD_APP_CREDENTIAL, .alt = 2 },
};
/* fcgi/routes_oauth.c: POST /api/oauth/{provider}/start */
static const struct field_spec oauth_start_fields[] = {
	{ .name = "shop_id", .type = FIELD_UUID, .flags = FIELD_REQUIRED },
};
/* fcgi/routes_owner.c: POST /api/shops/{id}/jobs/{pause,resume,run} */
static const char *const job_values[] = { "sales_tracker", "replace_job",
	"product_optimize", "product_creation", "pinterest_sync", NULL };
/* Synthetic: every type, including the ones no route uses yet. */
static const struct field_spec all_types_fields[] = {
	{ .name = "name", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
	    .max_len = 40 },
	{ .name = "note", .type = FIELD_STRING },
	{ .name = "id", .type = FIELD_UUID },
	{ .name = "shop", .type = FIELD_SHOP_DOMAIN },
	{ .name = "token", .type = FIELD_SHOPIFY_TOKEN },
	{ .name = "secret", .type = FIELD_APP_CREDENTIAL },
	{ .name = "count", .type = FIELD_INT, .min = -5, .max = 1000 },
	{ .name = "job", .type = FIELD_ENUM, .values = job_values },
	{ .name = "big", .type = FIELD_INT, .min = LLONG_MIN,
	    .max = LLONG_MAX },
	{ .name = "on", .type = FIELD_BOOL },
};

static const struct {
	const struct field_spec	*spec;
	size_t			 n;
} tables[] = {
	{ test_connection_fields, RB_NELEM(test_connection_fields) },
	{ get_collections_fields, RB_NELEM(get_collections_fields) },
	{ shops_create_fields, RB_NELEM(shops_create_fields) },
	{ oauth_start_fields, RB_NELEM(oauth_start_fields) },
	{ all_types_fields, RB_NELEM(all_types_fields) },
};

static bool
domain_ok(const char *s)
{
	static const char suffix[] = ".myshopify.com";
	size_t n = strlen(s), name, i;

	if (n <= sizeof(suffix) - 1 ||
	    strcmp(s + n - (sizeof(suffix) - 1), suffix) != 0)
		return false;
	name = n - (sizeof(suffix) - 1);
	if (name > 63)
		return false;
	for (i = 0; i < name; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!an && (c != '-' || i == 0 || i == name - 1))
			return false;
	}
	return true;
}

static bool
token_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 16 || n > 255)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Exactly one alternative whole, nothing of the others. */
static void
check_alternatives(const struct field_spec *spec, size_t n,
    const struct field_value *v)
{
	unsigned a, whole = 0, any = 0;
	size_t i;

	for (a = 1; a <= FIELD_ALT_MAX; a++) {
		bool all = true, some = false, has = false;

		for (i = 0; i < n; i++) {
			if (spec[i].alt != a)
				continue;
			has = true;
			all = all && v[i].present;
			some = some || v[i].present;
		}
		whole += has && all;
		any += some;
	}
	for (i = 0; i < n && spec[i].alt == 0; i++)
		;
	if (i < n)
		FUZZ_CHECK(whole == 1 && any == 1);
}

static void
check_values(const struct field_spec *spec, size_t n,
    const struct field_value *v)
{
	size_t i;

	check_alternatives(spec, n, v);
	for (i = 0; i < n; i++) {
		if (spec[i].flags & FIELD_REQUIRED)
			FUZZ_CHECK(v[i].present);
		if (!v[i].present)
			continue;
		switch (spec[i].type) {
		case FIELD_STRING:
			FUZZ_CHECK(v[i].str != NULL && v[i].str[0] != '\0');
			FUZZ_CHECK(strlen(v[i].str) <= 4 * (spec[i].max_len ?
			    spec[i].max_len : 1024));
			break;
		case FIELD_UUID:
			FUZZ_CHECK(v[i].str != NULL && rb_is_uuid(v[i].str));
			break;
		case FIELD_SHOP_DOMAIN:
			FUZZ_CHECK(v[i].str != NULL && domain_ok(v[i].str));
			break;
		case FIELD_SHOPIFY_TOKEN:
		case FIELD_APP_CREDENTIAL:
			FUZZ_CHECK(v[i].str != NULL && token_ok(v[i].str));
			break;
		case FIELD_INT:
			FUZZ_CHECK(v[i].num >= spec[i].min &&
			    v[i].num <= spec[i].max);
			break;
		case FIELD_BOOL:
			FUZZ_CHECK(v[i].num == 0 || v[i].num == 1);
			break;
		case FIELD_ENUM:
			FUZZ_CHECK(v[i].str != NULL && v[i].num >= 0 &&
			    strcmp(v[i].str, spec[i].values[v[i].num]) == 0);
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field_value vals[RB_NELEM(all_types_fields)];
	struct rb_err err;
	json_error_t jerr;
	json_t *root;
	size_t t;

	if (size < 1 || size > 65536)
		return 0;
	t = data[0] % RB_NELEM(tables);
	/* As request.c parses bodies (a JSON object, no duplicate keys). */
	root = json_loadb((const char *)data + 1, size - 1,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	memset(vals, 0, sizeof(vals));
	rb_err_clear(&err);
	if (validate_object(root, tables[t].spec, tables[t].n, vals,
	    &err) == 0)
		check_values(tables[t].spec, tables[t].n, vals);
	else
		FUZZ_CHECK(err.status == 400 &&
		    (strcmp(err.code, "missing_field") == 0 ||
		    strcmp(err.code, "invalid_field") == 0 ||
		    strcmp(err.code, "invalid_shop_domain") == 0 ||
		    strcmp(err.code, "invalid_access_token") == 0));
	field_values_free(vals, tables[t].n);
	json_decref(root);
	return 0;
}
