/*
 * fuzz_catalog.c - the catalog cycle's settings and what Shopify says
 * back (owner: fuzzing): catalog_settings_parse (the dashboard's row as
 * JSON), catalog_template_check and catalog_price_ok (the creation
 * template), shopify_user_error (a mutation payload's userErrors, as
 * every job and rebossctl report them; lib/shopify.c).
 *
 * Input: byte 0 = mode (mod 4), the rest:
 *   0: a catalog_settings row (JSON); 1: a template (JSON);
 *   2: a price; 3: byte 1 = buffer size, then a mutation payload (JSON).
 * Invariants:
 *   settings: accepted => every number is the row's value (or the default
 *     when absent or null) and within its range, the collection ids are
 *     the row's, the action and protect tag are the row's (or draft,
 *     reboss-keep), the template is the row's (or the default) and passes
 *     the check again; refused => 400 invalid_settings naming a setting.
 *   template: accepted => 1..100 variants (exactly 1 without options),
 *     every price and compare_at_price a price, every option value of a
 *     variant listed by its option, tags without commas; one price made
 *     invalid, or a variant naming an unlisted value, is refused.
 *   price: accepted <=> 1..24 characters of digits, at most one '.' with
 *     digits on both sides and at most 4 after it.
 *   userErrors: true <=> a non-empty userErrors list; the text is
 *     terminated within the buffer and is "field.path: message" (or the
 *     message alone, "error" without one), cut to the buffer.
 */
#include <jansson.h>
#include <stdbool.h>

#include "catalog_settings.h"
#include "shopify.h"
#include "fuzz.h"

const char fuzz_target[] = "catalog";

static bool
model_price(const char *s)
{
	size_t n = strlen(s), d = strspn(s, "0123456789"), f;

	if (n == 0 || n > 24 || d == 0)
		return false;
	if (d == n)
		return true;
	if (s[d] != '.')
		return false;
	f = strspn(s + d + 1, "0123456789");
	return f >= 1 && f <= 4 && d + 1 + f == n;
}

static void
price(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);

	FUZZ_CHECK(catalog_price_ok(s) == model_price(s));
	free(s);
}

/* What an accepted template must be. */
static void
template_holds(json_t *t)
{
	json_t *opts = json_object_get(t, "options"), *vars, *v, *x, *tag;
	size_t i, j, nopts = json_array_size(opts);

	vars = json_object_get(t, "variants");
	FUZZ_CHECK(json_array_size(vars) >= 1 && json_array_size(vars) <= 100);
	FUZZ_CHECK(nopts > 0 || json_array_size(vars) == 1);
	FUZZ_CHECK(nopts <= CATALOG_MAX_OPTIONS);
	json_array_foreach(json_object_get(t, "tags"), i, tag)
		FUZZ_CHECK(json_is_string(tag) &&
		    strchr(json_string_value(tag), ',') == NULL);
	json_array_foreach(vars, i, v) {
		FUZZ_CHECK(model_price(json_string_value(json_object_get(v,
		    "price")) ? json_string_value(json_object_get(v, "price")) :
		    ""));
		x = json_object_get(v, "compare_at_price");
		FUZZ_CHECK(x == NULL || json_is_null(x) ||
		    (json_is_string(x) && model_price(json_string_value(x))));
		if (nopts == 0)
			continue;
		FUZZ_CHECK(json_array_size(json_object_get(v, "options")) ==
		    nopts);
		json_array_foreach(json_object_get(v, "options"), j, x) {
			json_t *vals = json_object_get(json_array_get(opts, j),
			    "values"), *y;
			size_t k;
			bool listed = false;

			json_array_foreach(vals, k, y)
				if (json_equal(x, y))
					listed = true;
			FUZZ_CHECK(listed);
		}
	}
}

static void
template(json_t *t)
{
	struct rb_err err;
	json_t *v, *vars;

	rb_err_clear(&err);
	if (catalog_template_check(t, "creation_template", &err) == -1) {
		FUZZ_CHECK(err.status == 400 &&
		    strcmp(err.code, "invalid_settings") == 0 &&
		    strncmp(err.msg, "The setting creation_template",
		    29) == 0);
		return;
	}
	template_holds(t);
	/* one bad price, or an unlisted option value, is refused */
	vars = json_object_get(t, "variants");
	v = json_array_get(vars, json_array_size(vars) - 1);
	if (json_object_set_new(v, "price", json_string("1.2.3")) == -1)
		abort();
	FUZZ_CHECK(catalog_template_check(t, "creation_template", &err) ==
	    -1);
	if (json_object_set_new(v, "price", json_string("19.99")) == -1)
		abort();
	if (json_array_size(json_object_get(v, "options")) > 0) {
		/* longer than any value an option may list (255) */
		char unlisted[300];

		memset(unlisted, 'x', sizeof(unlisted) - 1);
		unlisted[sizeof(unlisted) - 1] = '\0';
		if (json_array_set_new(json_object_get(v, "options"), 0,
		    json_string(unlisted)) == -1)
			abort();
		FUZZ_CHECK(catalog_template_check(t, "creation_template",
		    &err) == -1);
	}
}

/* An integer setting is the row's value, or def when absent or null. */
static void
same_int(json_t *row, const char *key, int def, int min, int max, int got)
{
	json_t *v = json_object_get(row, key);

	FUZZ_CHECK(got >= min && got <= max);
	if (v == NULL || json_is_null(v))
		FUZZ_CHECK(got == def);
	else
		FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == got);
}

static void
settings(json_t *row)
{
	static const char *const keys[] = {
		"start_days", "start_min_sales", "post_days", "post_min_sales",
		"max_replacements", "daily_creation_quota",
		"managed_collection_ids", "retire_action", "protect_tag",
		"creation_collection_id", "dry_run", "creation_template", "row",
	};
	static const char *const actions[] = {
		"draft", "archive", "remove_from_collection",
	};
	struct catalog_settings s;
	struct rb_err err;
	json_t *v, *x;
	size_t i;
	bool named = false;

	rb_err_clear(&err);
	if (catalog_settings_parse(row, &s, &err) == -1) {
		FUZZ_CHECK(strcmp(err.code, "invalid_settings") == 0 ||
		    strcmp(err.code, "out_of_memory") == 0);
		for (i = 0; i < RB_NELEM(keys); i++)
			if (strncmp(err.msg + 12, keys[i], strlen(keys[i])) ==
			    0)
				named = true;
		FUZZ_CHECK(named || err.status == 500);
		FUZZ_CHECK(s.template == NULL);
		return;
	}
	FUZZ_CHECK(json_is_object(row));
	same_int(row, "start_days", 7, 1, 90, s.start_days);
	same_int(row, "start_min_sales", 1, 0, 100000, s.start_min_sales);
	same_int(row, "post_days", 14, 1, 365, s.post_days);
	same_int(row, "post_min_sales", 1, 0, 100000, s.post_min_sales);
	same_int(row, "max_replacements", 10, 0, 1000, s.max_replacements);
	same_int(row, "daily_creation_quota", 0, 0, 250, s.daily_quota);
	v = json_object_get(row, "managed_collection_ids");
	FUZZ_CHECK(s.nmanaged == json_array_size(v));
	json_array_foreach(v, i, x)
		FUZZ_CHECK(s.managed[i] > 0 && json_integer_value(x) ==
		    s.managed[i]);
	v = json_object_get(row, "retire_action");
	FUZZ_CHECK(strcmp(catalog_action_name(s.action), actions[s.action]) ==
	    0);
	if (v == NULL || json_is_null(v))
		FUZZ_CHECK(s.action == CATALOG_DRAFT);
	else
		FUZZ_CHECK(strcmp(json_string_value(v), actions[s.action]) ==
		    0);
	v = json_object_get(row, "protect_tag");
	FUZZ_CHECK(strcmp(s.protect_tag, v == NULL || json_is_null(v) ?
	    "reboss-keep" : json_string_value(v)) == 0);
	FUZZ_CHECK(s.protect_tag[0] != '\0');
	v = json_object_get(row, "creation_collection_id");
	FUZZ_CHECK(v == NULL || json_is_null(v) ? s.creation_collection == 0 :
	    s.creation_collection == json_integer_value(v) &&
	    s.creation_collection > 0);
	FUZZ_CHECK(s.dry_run == json_is_true(json_object_get(row, "dry_run")));
	v = json_object_get(row, "creation_template");
	if (v != NULL && !json_is_null(v))
		FUZZ_CHECK(json_equal(v, s.template));
	FUZZ_CHECK(catalog_template_check(s.template, "creation_template",
	    &err) == 0);
	template_holds(s.template);
	catalog_settings_free(&s);
	FUZZ_CHECK(s.template == NULL);
}

/* The model of shopify_user_error's text. */
static void
user_errors(size_t size, json_t *payload)
{
	json_t *ue = json_object_get(payload, "userErrors"), *e, *f, *x;
	struct rb_buf want = { .max = 1 << 20 };
	char *buf = malloc(size + 1);
	const char *m;
	size_t i, n;
	bool got;

	if (buf == NULL)
		abort();
	memset(buf, 0x5a, size + 1);
	got = shopify_user_error(payload, buf, size);
	FUZZ_CHECK(got == (json_is_array(ue) && json_array_size(ue) > 0));
	FUZZ_CHECK((unsigned char)buf[size] == 0x5a);
	if (!got || size == 0)
		goto out;
	e = json_array_get(ue, 0);
	m = json_string_value(json_object_get(e, "message"));
	f = json_object_get(e, "field");
	json_array_foreach(f, i, x)
		if (rb_buf_printf(&want, "%s%s", i ? "." : "",
		    json_is_string(x) ? json_string_value(x) : "?") == -1)
			abort();
	if (rb_buf_printf(&want, "%s%s", json_array_size(f) > 0 ? ": " : "",
	    m != NULL ? m : "error") == -1)
		abort();
	FUZZ_CHECK(memchr(buf, '\0', size) != NULL);
	n = want.len < size - 1 ? want.len : size - 1;
	FUZZ_CHECK(strlen(buf) == n && memcmp(buf, want.data, n) == 0);
out:
	rb_buf_free(&want);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	unsigned mode;

	if (size < 2)
		return 0;
	mode = data[0] % 4;
	if (mode == 2) {
		price(data + 1, size - 1);
		return 0;
	}
	if (mode == 3) {
		j = json_loadb((const char *)data + 2, size - 2, 0, NULL);
		if (j != NULL)
			user_errors(data[1] * 4u, j);
	} else {
		j = json_loadb((const char *)data + 1, size - 1,
		    JSON_REJECT_DUPLICATES, NULL);
		if (j == NULL)
			return 0;
		if (mode == 0)
			settings(j);
		else
			template(j);
	}
	json_decref(j);
	return 0;
}
