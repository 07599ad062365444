/*
 * test_validate.c - lib/validate.c: the declarative body validator.
 *
 * Table-driven: each row is a JSON body, the expected outcome (error code or
 * success) and, on success, the expected normalized values.  Shop-domain
 * rows assert only what PRODUCT.md fixes (shopify_normalize_domain belongs
 * to lib/shopify.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "validate.h"

static const struct field_spec spec[] = {
	{ .name = "name", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
	    .max_len = 10 },
	{ .name = "id", .type = FIELD_UUID },
	{ .name = "shop_domain", .type = FIELD_SHOP_DOMAIN },
	{ .name = "access_token", .type = FIELD_SHOPIFY_TOKEN },
	{ .name = "count", .type = FIELD_INT, .min = 1, .max = 100 },
	{ .name = "flag", .type = FIELD_BOOL },
	{ .name = "note", .type = FIELD_STRING },	/* default max 1024 */
	{ .name = "job", .type = FIELD_ENUM, .values = (const char *const[]){
	    "sales_tracker", "replace_job", NULL } },
};
enum { F_NAME, F_ID, F_DOMAIN, F_TOKEN, F_COUNT, F_FLAG, F_NOTE, F_JOB,
	F__N };

#define TOK16	"shpat_0123456789"
#define TOK	"0123456789abcdef0123456789abcdef"
#define TOK255	"shpat_0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"	\
	"012345678"

struct row {
	const char	*body;		/* JSON, loaded with JSON_ALLOW_NUL */
	const char	*code;		/* NULL: must succeed */
	const char	*msg_has;	/* error message must contain this */
	int		 field;		/* on success: field to check, or -1 */
	const char	*want_str;	/* its normalized string, NULL: absent */
	long long	 want_num;
};

static const struct row rows[] = {
	/* enum: the value and its index; a wrong one lists the accepted */
	{ "{\"name\":\"a\",\"job\":\"replace_job\"}", NULL, NULL, F_JOB,
	    "replace_job", 1 },
	{ "{\"name\":\"a\",\"job\":\"Replace_job\"}", "invalid_field",
	    "job must be one of: sales_tracker, replace_job.", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"job\":3}", "invalid_field", "job", -1, NULL,
	    0 },
	/* required / absent */
	{ "{\"name\":\"abc\"}", NULL, NULL, F_NAME, "abc", 0 },
	{ "{\"name\":\"abc\"}", NULL, NULL, F_ID, NULL, 0 },
	{ "{}", "missing_field", "name", -1, NULL, 0 },
	{ "{\"name\":null}", "missing_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"\"}", "missing_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"id\":null}", NULL, NULL, F_ID, NULL, 0 },
	{ "{\"name\":\"a\",\"extra\":[1,{\"x\":2}]}", NULL, NULL, F_NAME, "a",
	    0 },
	/* wrong JSON types name the field and the type */
	{ "{\"name\":5}", "invalid_field", "name must be a string", -1, NULL,
	    0 },
	{ "{\"name\":[\"a\"]}", "invalid_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"id\":12}", "invalid_field", "id must be a UUID",
	    -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":7}", "invalid_field",
	    "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"access_token\":true}", "invalid_field",
	    "access_token", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"count\":\"5\"}", "invalid_field",
	    "count must be an integer", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"count\":1.5}", "invalid_field", "count", -1, NULL,
	    0 },
	{ "{\"name\":\"a\",\"flag\":\"true\"}", "invalid_field",
	    "flag must be true or false", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"flag\":1}", "invalid_field", "flag", -1, NULL, 0 },
	/* strings: length in characters, UTF-8, no control characters */
	{ "{\"name\":\"0123456789\"}", NULL, NULL, F_NAME, "0123456789", 0 },
	{ "{\"name\":\"0123456789a\"}", "invalid_field", "at most 10", -1,
	    NULL, 0 },
	{ "{\"name\":\"\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4"
	    "\xc3\xb6\xc3\xbc\xe2\x82\xac\"}", NULL, NULL, F_NAME,
	    "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6\xc3\xbc\xc3\xa4\xc3\xb6"
	    "\xc3\xbc\xe2\x82\xac", 0 },
	{ "{\"name\":\"\xf0\x9f\x98\x80 ok\"}", NULL, NULL, F_NAME,
	    "\xf0\x9f\x98\x80 ok", 0 },
	{ "{\"name\":\"a\\u0000b\"}", "invalid_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\\u0001b\"}", "invalid_field", "control", -1, NULL, 0 },
	{ "{\"name\":\"a\\nb\"}", "invalid_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\\tb\"}", "invalid_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\\u007fb\"}", "invalid_field", "name", -1, NULL, 0 },
	{ "{\"name\":\"a\\u0085b\"}", "invalid_field", "name", -1, NULL, 0 },
	/* UUID: canonical, stored lower-case */
	{ "{\"name\":\"a\",\"id\":\"123E4567-E89B-12D3-A456-426614174000\"}",
	    NULL, NULL, F_ID, "123e4567-e89b-12d3-a456-426614174000", 0 },
	{ "{\"name\":\"a\",\"id\":\"123e4567e89b12d3a456426614174000\"}",
	    "invalid_field", "id", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"id\":\"123e4567-e89b-12d3-a456-42661417400\"}",
	    "invalid_field", "id", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"id\":\"{123e4567-e89b-12d3-a456-426614174000}\"}",
	    "invalid_field", "id", -1, NULL, 0 },
	/* shop domains: only what PRODUCT.md fixes */
	{ "{\"name\":\"a\",\"shop_domain\":\"shop\"}", NULL, NULL, F_DOMAIN,
	    "shop.myshopify.com", 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"my-shop-2.myshopify.com\"}", NULL,
	    NULL, F_DOMAIN, "my-shop-2.myshopify.com", 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"https://My-Shop.myshopify.com/\"}",
	    NULL, NULL, F_DOMAIN, "my-shop.myshopify.com", 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"evil.com\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"shop.myshopify.com.evil.com\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"127.0.0.1\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"shop.myshopify.com:443\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"user@shop.myshopify.com\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"shop.myshopify.com/admin\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"sh%6fp\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"shop_domain\":\"sh\\u0000op\"}",
	    "invalid_shop_domain", "shop_domain", -1, NULL, 0 },
	/* Shopify tokens: [A-Za-z0-9_-], 16..255 */
	{ "{\"name\":\"a\",\"access_token\":\"" TOK16 "\"}", NULL, NULL,
	    F_TOKEN, TOK16, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"" TOK255 "\"}", NULL, NULL,
	    F_TOKEN, TOK255, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"" TOK255 "x\"}",
	    "invalid_access_token", "access_token", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"shpat_012345678\"}",
	    "invalid_access_token", "access_token", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"shpat_0123 456789\"}",
	    "invalid_access_token", "access_token", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"shpat_0123456789\\n\"}",
	    "invalid_access_token", "access_token", -1, NULL, 0 },
	{ "{\"name\":\"a\",\"access_token\":\"shpat_0123456789\\u00e4\"}",
	    "invalid_access_token", "access_token", -1, NULL, 0 },
	/* integers and booleans */
	{ "{\"name\":\"a\",\"count\":1}", NULL, NULL, F_COUNT, NULL, 1 },
	{ "{\"name\":\"a\",\"count\":100}", NULL, NULL, F_COUNT, NULL, 100 },
	{ "{\"name\":\"a\",\"count\":0}", "invalid_field", "between 1 and 100",
	    -1, NULL, 0 },
	{ "{\"name\":\"a\",\"count\":101}", "invalid_field", "count", -1, NULL,
	    0 },
	{ "{\"name\":\"a\",\"flag\":true}", NULL, NULL, F_FLAG, NULL, 1 },
	{ "{\"name\":\"a\",\"flag\":false}", NULL, NULL, F_FLAG, NULL, 0 },
};

static void
run_row(size_t i, const struct row *r)
{
	struct field_value out[F__N];
	struct rb_err err;
	json_error_t jerr;
	json_t *obj;
	int rc;
	size_t k;

	obj = json_loads(r->body, JSON_ALLOW_NUL, &jerr);
	if (!ok(obj != NULL, "row %zu: test body parses (%s)", i, jerr.text))
		return;
	rb_err_clear(&err);
	memset(out, 0xa5, sizeof(out));	/* must be reset by validate */
	rc = validate_object(obj, spec, F__N, out, &err);
	if (r->code != NULL) {
		is_int(rc, -1, "row %zu: %s fails", i, r->body);
		is_str(err.code, r->code, "row %zu: code", i);
		is_int(err.status, 400, "row %zu: status 400", i);
		ok(strstr(err.msg, r->msg_has) != NULL,
		    "row %zu: message \"%s\" contains \"%s\"", i, err.msg,
		    r->msg_has);
		for (k = 0; k < F__N; k++)
			if (out[k].present || out[k].str != NULL)
				break;
		is_int(k, F__N, "row %zu: no values left after failure", i);
	} else {
		is_int(rc, 0, "row %zu: %s passes (%s)", i, r->body, err.msg);
		if (rc == 0 && r->field >= 0) {
			if (r->want_str != NULL || r->field == F_COUNT ||
			    r->field == F_FLAG) {
				ok(out[r->field].present,
				    "row %zu: field %d present", i, r->field);
				is_str(out[r->field].str, r->want_str,
				    "row %zu: value", i);
				is_int(out[r->field].num, r->want_num,
				    "row %zu: number", i);
			} else {
				ok(!out[r->field].present &&
				    out[r->field].str == NULL,
				    "row %zu: field %d absent", i, r->field);
			}
		}
		if (rc == 0)
			field_values_free(out, F__N);
	}
	json_decref(obj);
}

/* Error messages never repeat a token's value. */
static void
test_no_echo(void)
{
	static const char *bad[] = {
		"shpat_0123 456789secret", "secret-but-far-too-" TOK255,
		"shpat_\xc3\xa4secretsecret",
	};
	struct field_value out[F__N];
	struct rb_err err;
	size_t i;

	for (i = 0; i < RB_NELEM(bad); i++) {
		json_t *obj = json_pack("{s:s,s:s}", "name", "a",
		    "access_token", bad[i]);

		rb_err_clear(&err);
		is_int(validate_object(obj, spec, F__N, out, &err), -1,
		    "bad token %zu refused", i);
		is_str(err.code, "invalid_access_token", "bad token %zu code",
		    i);
		ok(strstr(err.msg, "secret") == NULL,
		    "bad token %zu: the message does not echo it", i);
		json_decref(obj);
	}
}

/* Values jansson would not produce from text, built directly. */
static void
test_raw_strings(void)
{
	struct field_value out[F__N];
	struct rb_err err;
	json_t *obj;

	obj = json_object();
	(void)json_object_set_new(obj, "name",
	    json_stringn_nocheck("a\xff", 2));
	rb_err_clear(&err);
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "invalid UTF-8 refused");
	is_str(err.code, "invalid_field", "invalid UTF-8 code");
	(void)json_object_set_new(obj, "name",
	    json_stringn_nocheck("\xc0\xaf", 2));
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "overlong UTF-8 refused");
	(void)json_object_set_new(obj, "name",
	    json_stringn_nocheck("\xed\xa0\x80", 3));
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "UTF-8 surrogate refused");
	(void)json_object_set_new(obj, "name", json_stringn("a\0b", 3));
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "embedded NUL refused");
	json_decref(obj);

	obj = json_array();
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "array body refused");
	is_str(err.code, "invalid_json", "array body code");
	json_decref(obj);
}

/* Default max_len 1024 characters. */
static void
test_default_max(void)
{
	struct field_value out[F__N];
	struct rb_err err;
	char buf[1026];
	json_t *obj;

	memset(buf, 'x', sizeof(buf) - 1);
	buf[1024] = '\0';
	obj = json_pack("{s:s,s:s}", "name", "a", "note", buf);
	is_int(validate_object(obj, spec, F__N, out, &err), 0,
	    "1024 characters accepted by default");
	field_values_free(out, F__N);
	ok(out[F_NOTE].str == NULL && !out[F_NOTE].present,
	    "field_values_free clears");
	json_decref(obj);
	buf[1024] = 'x';
	buf[1025] = '\0';
	obj = json_pack("{s:s,s:s}", "name", "a", "note", buf);
	rb_err_clear(&err);
	is_int(validate_object(obj, spec, F__N, out, &err), -1,
	    "1025 characters refused by default");
	ok(strstr(err.msg, "note") != NULL, "message names note");
	json_decref(obj);
}

static void
test_single(void)
{
	struct rb_err err;

	rb_err_clear(&err);
	is_int(validate_uuid("shop_id", "123e4567-e89b-12d3-a456-426614174000",
	    &err), 0, "validate_uuid accepts");
	is_int(validate_uuid("shop_id", "123e4567", &err), -1,
	    "validate_uuid refuses");
	is_str(err.code, "invalid_field", "validate_uuid code");
	ok(strstr(err.msg, "shop_id") != NULL, "validate_uuid names field");
	is_int(validate_uuid("shop_id", NULL, &err), -1,
	    "validate_uuid refuses NULL");
	is_int(validate_shopify_token("t", TOK16, &err), 0,
	    "validate_shopify_token accepts 16");
	is_int(validate_shopify_token("t", "abc_DEF-0123456789", &err), 0,
	    "validate_shopify_token accepts _ and -");
	is_int(validate_shopify_token("t", "abc.DEF-0123456789", &err), -1,
	    "validate_shopify_token refuses '.'");
	is_str(err.code, "invalid_access_token", "token code");
	is_int(validate_shopify_token("t", NULL, &err), -1,
	    "validate_shopify_token refuses NULL");
	is_int(validate_shopify_token("t", "", &err), -1,
	    "validate_shopify_token refuses empty");
}

/* Alternatives: exactly one, whole (POST /api/shops' table). */
static void
test_alternatives(void)
{
	enum { A_DOMAIN, A_TOKEN, A_ID, A_SECRET, A__N };
	static const struct field_spec alt[] = {
		[A_DOMAIN] = { .name = "shop_domain",
		    .type = FIELD_SHOP_DOMAIN, .flags = FIELD_REQUIRED },
		[A_TOKEN] = { .name = "access_token",
		    .type = FIELD_SHOPIFY_TOKEN, .alt = 1 },
		[A_ID] = { .name = "client_id", .type = FIELD_APP_CREDENTIAL,
		    .alt = 2 },
		[A_SECRET] = { .name = "client_secret",
		    .type = FIELD_APP_CREDENTIAL, .alt = 2 },
	};
	static const struct {
		const char *body, *code, *msg;
	} alts[] = {
		{ "{\"shop_domain\":\"a\",\"access_token\":\"" TOK "\"}",
		    NULL, NULL },
		{ "{\"shop_domain\":\"a\",\"client_id\":\"" TOK "\","
		    "\"client_secret\":\"shpss_" TOK "\"}", NULL, NULL },
		{ "{\"shop_domain\":\"a\"}", "missing_field",
		    "Send access_token, or client_id with client_secret." },
		{ "{\"shop_domain\":\"a\",\"access_token\":null,"
		    "\"client_id\":\"\"}", "invalid_field", "client_id must be "
		    "copied from the app's settings" },
		{ "{\"shop_domain\":\"a\",\"client_id\":\"" TOK "\"}",
		    "missing_field", "client_secret is required with "
		    "client_id." },
		{ "{\"shop_domain\":\"a\",\"client_secret\":\"" TOK "\"}",
		    "missing_field", "client_id is required with "
		    "client_secret." },
		{ "{\"shop_domain\":\"a\",\"access_token\":\"" TOK "\","
		    "\"client_secret\":\"" TOK "\"}", "invalid_field",
		    "only one of them: access_token and client_secret were "
		    "given." },
		{ "{\"shop_domain\":\"a\",\"client_id\":\"a b\","
		    "\"client_secret\":\"" TOK "\"}", "invalid_field",
		    "client_id must be copied" },
		{ "{\"shop_domain\":\"a\",\"client_id\":7,"
		    "\"client_secret\":\"" TOK "\"}", "invalid_field",
		    "client_id must be a string copied" },
	};
	struct field_value out[A__N];
	struct rb_err err;
	size_t i;

	for (i = 0; i < RB_NELEM(alts); i++) {
		json_t *obj = json_loads(alts[i].body, 0, NULL);
		int rc;

		rb_err_clear(&err);
		rc = validate_object(obj, alt, A__N, out, &err);
		if (alts[i].code == NULL) {
			is_int(rc, 0, "alt %zu passes (%s)", i, err.msg);
			if (rc == 0)
				field_values_free(out, A__N);
		} else {
			is_int(rc, -1, "alt %zu refused", i);
			is_str(err.code, alts[i].code, "alt %zu code", i);
			ok(strstr(err.msg, alts[i].msg) != NULL,
			    "alt %zu: \"%s\" has \"%s\"", i, err.msg,
			    alts[i].msg);
			ok(strstr(err.msg, TOK) == NULL,
			    "alt %zu: no value echoed", i);
		}
		json_decref(obj);
	}
}

int
main(void)
{
	size_t i;

	for (i = 0; i < RB_NELEM(rows); i++)
		run_row(i, &rows[i]);
	test_no_echo();
	test_raw_strings();
	test_default_max();
	test_single();
	test_alternatives();
	return done_testing();
}
