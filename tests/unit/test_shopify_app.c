/*
 * test_shopify_app.c - lib/shopify_app.c: the install callback's HMAC
 * (Shopify's documented example, shopify-api-js's %20 rule), every
 * refusal, the webhook HMAC, the token answer, the consent URL (scopes:
 * test_shopify_scopes.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "shopify_app.h"
#include "tap.h"
#include "util.h"

static const char SECRET[] = "hush";
static const char STATE[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL012-_";

/* A query signed as Shopify signs it: the reference message is written
 * out by hand here, not computed by the code under test. */
static void
signed_query(char *out, size_t outsz, const char *msg, const char *extra)
{
	char hex[65];

	if (shopify_app_hmac_hex(SECRET, msg, strlen(msg), hex) == -1)
		hex[0] = '\0';
	snprintf(out, outsz, "%s&hmac=%s%s", msg, hex, extra);
}

static void
test_documented_example(void)
{
	/* shopify.dev's OAuth verification example: secret "hush". */
	static const char q[] = "code=0907a61c0c8d55e99db179b68161bc00&"
	    "hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c"
	    "4d20&shop=some-shop.myshopify.com&timestamp=1337178173";
	struct rb_buf msg = { .max = 8192 };
	struct rb_err err;
	char hmac[65], want[65];

	rb_err_clear(&err);
	ok(shopify_app_query_message(q, &msg, hmac, &err) == 0, "parses");
	is_str(msg.data, "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop."
	    "myshopify.com&timestamp=1337178173", "message without hmac");
	ok(shopify_app_hmac_hex(SECRET, msg.data, msg.len, want) == 0, "hmac");
	is_str(want, "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26"
	    "fa3c4d20", "the documented hmac");
	is_str(hmac, want, "the hmac parameter is returned");
	/* shopify-api-js: a space is signed as %20, '+' in the query is a
	 * space, other bytes percent-encoded upper-case */
	ok(shopify_app_query_message("shop=the+shop%20URL&code=a%2Fb%3D*~&"
	    "hmac=x&signature=y", &msg, hmac, &err) == 0, "parses escapes");
	is_str(msg.data, "code=a%2Fb%3D*%7E&shop=the%20shop%20URL",
	    "sorted, hmac and signature left out, re-encoded as Shopify does");
	ok(shopify_app_query_message("a=1&a=2", &msg, hmac, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "a key twice refused");
	ok(shopify_app_query_message("a=%4", &msg, hmac, &err) == -1,
	    "a cut escape refused");
	ok(shopify_app_query_message("a=%00", &msg, hmac, &err) == -1,
	    "NUL refused");
	rb_buf_free(&msg);
}

static void
test_verify_callback(void)
{
	char msg[512], q[1024], bad[1024];
	struct shopify_callback cb;
	struct rb_err err;
	size_t i, n;
	int fails = 0;

	snprintf(msg, sizeof(msg), "code=abc123&host=YWRtaW4uc2hvcGlmeS5jb20v"
	    "c3RvcmUvYQ%%3D%%3D&shop=a-shop.myshopify.com&state=%s&"
	    "timestamp=1780000000", STATE);
	signed_query(q, sizeof(q), msg, "");
	rb_err_clear(&err);
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == 0,
	    "a signed callback verifies: %s", err.msg);
	is_str(cb.code, "abc123", "code");
	is_str(cb.shop, "a-shop.myshopify.com", "shop");
	is_str(cb.state, STATE, "state");
	ok(cb.timestamp == 1780000000LL, "timestamp");

	/* every single changed byte of the signed query fails */
	n = strlen(q);
	for (i = 0; i < n; i++) {
		memcpy(bad, q, n + 1);
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		rb_err_clear(&err);
		if (shopify_app_verify_callback(bad, SECRET, &cb, &err) == 0)
			fails++;
	}
	is_int(fails, 0, "no changed byte verifies");

	ok(shopify_app_verify_callback(q, "other", &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_hmac") == 0, "another secret: refused");
	ok(shopify_app_verify_callback(msg, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_hmac") == 0, "no hmac: invalid_hmac");
	snprintf(bad, sizeof(bad), "%s&extra=1", q);
	ok(shopify_app_verify_callback(bad, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_hmac") == 0, "an added pair: refused");
	ok(shopify_app_verify_callback(q, "", &cb, &err) == -1,
	    "no secret: refused");
	ok(shopify_app_verify_callback(NULL, SECRET, &cb, &err) == -1,
	    "no query: refused");

	/* signed, but unusable: refused after the HMAC, naming why */
	signed_query(q, sizeof(q), "code=abc&shop=evil.example.com&state=s&"
	    "timestamp=1", "");
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_shop_domain") == 0, "not myshopify: %s",
	    err.code);
	signed_query(q, sizeof(q), "code=abc&shop=A.myshopify.com&state=s&"
	    "timestamp=1", "");
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_shop_domain") == 0,
	    "not normalized: refused");
	signed_query(q, sizeof(q), "code=abc&shop=a.myshopify.com&timestamp=1",
	    "");
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "no state: refused");
	signed_query(q, sizeof(q), "shop=a.myshopify.com&state=s&timestamp=1",
	    "");
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "no code: refused");
	signed_query(q, sizeof(q), "code=a&shop=a.myshopify.com&state=s&"
	    "timestamp=-5", "");
	ok(shopify_app_verify_callback(q, SECRET, &cb, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "bad timestamp");
}

static void
test_timestamp(void)
{
	struct rb_err err;

	ok(shopify_app_check_timestamp(1000, 1000, &err) == 0, "now");
	ok(shopify_app_check_timestamp(1000 - SHOPIFY_APP_TS_PAST_S, 1000,
	    &err) == 0, "oldest accepted");
	ok(shopify_app_check_timestamp(999 - SHOPIFY_APP_TS_PAST_S, 1000,
	    &err) == -1 && strcmp(err.code, "stale_callback") == 0, "too old");
	ok(shopify_app_check_timestamp(1000 + SHOPIFY_APP_TS_FUTURE_S, 1000,
	    &err) == 0, "skew accepted");
	ok(shopify_app_check_timestamp(1001 + SHOPIFY_APP_TS_FUTURE_S, 1000,
	    &err) == -1, "future refused");
}

static void
test_webhook(void)
{
	static const char body[] = "{\"shop_id\":1,\"shop_domain\":"
	    "\"a.myshopify.com\"}";
	char b64[45], bad[64];
	struct rb_err err;

	ok(shopify_app_hmac_b64(SECRET, body, strlen(body), b64) == 0, "b64");
	ok(strlen(b64) == 44, "44 characters");
	rb_err_clear(&err);
	ok(shopify_app_verify_webhook(body, strlen(body), b64, SECRET,
	    &err) == 0, "a signed body verifies");
	ok(shopify_app_verify_webhook(body, strlen(body) - 1, b64, SECRET,
	    &err) == -1 && err.status == 401 && strcmp(err.code,
	    "invalid_hmac") == 0, "a cut body: 401");
	ok(shopify_app_verify_webhook(body, strlen(body), NULL, SECRET,
	    &err) == -1 && err.status == 401, "no header: 401");
	ok(shopify_app_verify_webhook(body, strlen(body), "", SECRET,
	    &err) == -1, "empty header: 401");
	snprintf(bad, sizeof(bad), "%s", b64);
	bad[3] = bad[3] == 'A' ? 'B' : 'A';
	ok(shopify_app_verify_webhook(body, strlen(body), bad, SECRET,
	    &err) == -1, "a changed signature: 401");
	ok(shopify_app_verify_webhook(body, strlen(body), b64, "other",
	    &err) == -1, "another secret: 401");
	ok(shopify_app_verify_webhook(body, strlen(body), b64, NULL,
	    &err) == -1 && err.status == 503, "no secret: 503");
	/* RFC 4231 test case 2 as a reference for the HMAC itself */
	{
		char hex[65];

		ok(shopify_app_hmac_hex("Jefe", "what do ya want for nothing?",
		    28, hex) == 0, "hex");
		is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839"
		    "dec58b964ec3843", "RFC 4231 case 2");
	}
}

static void
test_token_response(void)
{
	static const char good[] = "{\"access_token\":\"shpat_abc\",\"scope\":"
	    "\"write_products,read_orders\",\"expires_in\":3600,"
	    "\"refresh_token\":\"shprt_def\",\"refresh_token_expires_in\":"
	    "7776000}";
	static const char refused[] = "{\"error\":\"invalid_request\","
	    "\"error_description\":\"The authorization code was not found or "
	    "was already used\"}";
	struct shopify_app_tokens t;
	struct rb_err err;

	rb_err_clear(&err);
	ok(shopify_app_parse_token_response(200, good, strlen(good), &t,
	    &err) == 0, "an expiring offline token parses");
	is_str(t.access_token, "shpat_abc", "access token");
	is_str(t.refresh_token, "shprt_def", "refresh token");
	ok(t.expires_in == 3600 && t.refresh_expires_in == 7776000,
	    "both expiries");
	is_str(t.scope, "write_products,read_orders", "scopes");
	shopify_app_tokens_free(&t);
	ok(shopify_app_parse_token_response(200, "{\"access_token\":\"x\"}", 20,
	    &t, &err) == 0 && t.refresh_token == NULL && t.expires_in == -1,
	    "a non-expiring token: no refresh token, no expiry");
	shopify_app_tokens_free(&t);
	ok(shopify_app_parse_token_response(400, refused, strlen(refused), &t,
	    &err) == -1 &&
	    strcmp(err.code, "token_exchange_failed") == 0 &&
	    strstr(err.msg, "invalid_request") != NULL &&
	    strstr(err.msg, "authorization code was not") == NULL,
	    "a refusal: the error word, not Shopify's text");
	ok(t.status == 400 && strcmp(t.error, "invalid_request") == 0 &&
	    t.access_token == NULL,
	    "a refusal keeps its status and word for the caller");
	ok(shopify_app_parse_token_response(503, "x", 1, &t, &err) == -1 &&
	    strcmp(err.code, "provider_unreachable") == 0, "5xx");
	ok(shopify_app_parse_token_response(200, "{\"scope\":\"a\"}", 13, &t,
	    &err) == -1, "no access token");
	ok(shopify_app_parse_token_response(200, "{\"access_token\":\"a b\"}",
	    22, &t, &err) == -1, "a token with a space");
}

static void
test_consent_url(void)
{
	static char api[] = "https://api.reboss.test/", id[] = "cid123",
	    secret[] = "s", base[] = "http://127.0.0.1:9/{shop}",
	    scopes[] = "read_products,write_products";
	struct rb_config cfg;
	struct rb_err err;
	char *url = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.api_url = api;
	cfg.shopify_base_url = base;
	cfg.shopify_scopes = scopes;
	ok(shopify_app_consent_url(&cfg, "a.myshopify.com", STATE, &url,
	    &err) == -1 && strcmp(err.code, "oauth_not_configured") == 0,
	    "no client id: not configured");
	cfg.shopify_client_id = id;
	cfg.shopify_client_secret = secret;
	ok(shopify_app_consent_url(&cfg, "a.myshopify.com", STATE, &url,
	    &err) == 0, "built");
	is_str(url, "http://127.0.0.1:9/a.myshopify.com/admin/oauth/authorize?"
	    "client_id=cid123&scope=read_products%2Cwrite_products&"
	    "redirect_uri=https%3A%2F%2Fapi.reboss.test%2Fapi%2Fshopify%2F"
	    "callback&state=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL012-_",
	    "the consent URL");
	free(url);
	ok(shopify_app_consent_url(&cfg, "evil.com", STATE, &url, &err) == -1,
	    "another host never becomes a URL");
	ok(shopify_app_consent_url(&cfg, "A.myshopify.com", STATE, &url,
	    &err) == -1, "a domain not normalized: refused");
}

int
main(void)
{
	test_documented_example();
	test_verify_callback();
	test_timestamp();
	test_webhook();
	test_token_response();
	test_consent_url();
	return done_testing();
}
