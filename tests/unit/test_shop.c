/* test_shop.c - lib/shop.c without a database: the one aad builder,
 * sealing bound to shop and column, the names of ways in and statuses. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "config.h"
#include "crypto.h"
#include "shop.h"
#include "shopify_app.h"
#include "tap.h"

static const char ID1[] = "7d5e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
static const char ID2[] = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

static void
test_aad(void)
{
	struct rb_err err;
	char out[128], small[20];

	rb_err_clear(&err);
	ok(shop_aad("access_token", ID1, out, sizeof(out), &err) == 0,
	    "aad of access_token");
	is_str(out, "shops.access_token:7d5e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
	    "the aad the sealed tokens of 001-016 were bound to");
	ok(shop_aad("refresh_token", ID1, out, sizeof(out), &err) == 0 &&
	    strcmp(out, "shops.refresh_token:7d5e6f1a-2b3c-4d5e-8f90-"
	    "a1b2c3d4e5f6") == 0, "aad of refresh_token");
	ok(shop_aad("shopify_client_secret", ID1, out, sizeof(out), &err) ==
	    0, "aad of shopify_client_secret");
	ok(shop_aad("shop_name", ID1, out, sizeof(out), &err) == -1,
	    "no aad for a column that holds no credential");
	ok(shop_aad("access_token", "not-a-uuid", out, sizeof(out), &err) ==
	    -1, "no aad for a shop id that is not a uuid");
	ok(shop_aad("access_token", NULL, out, sizeof(out), &err) == -1,
	    "no aad without a shop id");
	ok(shop_aad("access_token", ID1, small, sizeof(small), &err) == -1,
	    "a buffer too small is refused, not cut");
}

static void
test_seal(struct rb_config *cfg)
{
	struct rb_err err;
	char *s = NULL, *p = NULL;

	rb_err_clear(&err);
	ok(shop_seal(cfg, ID1, "refresh_token", "shprt_abc", &s, &err) == 0 &&
	    crypto_is_sealed(s), "sealed");
	ok(shop_open(cfg, ID1, "refresh_token", s, &p, &err) == 0 &&
	    strcmp(p, "shprt_abc") == 0, "opens for the same shop and column");
	crypto_free_secret(p);
	p = NULL;
	ok(shop_open(cfg, ID2, "refresh_token", s, &p, &err) == -1 &&
	    p == NULL, "another shop's row: does not open");
	is_str(err.code, "token_unreadable", "code");
	ok(strstr(err.msg, "shprt_") == NULL, "the message names no token");
	ok(shop_open(cfg, ID1, "access_token", s, &p, &err) == -1,
	    "another column: does not open");
	ok(shop_open(cfg, ID1, "refresh_token", "shprt_abc", &p, &err) ==
	    -1, "a plain value is refused");
	free(s);
}

static void
test_names(void)
{
	enum shop_status st;
	enum shop_auth a;
	int i;
	const char *sn[] = { "connected", "reauthorize_required", "frozen",
	    "uninstalled" };
	const char *an[] = { "legacy_token", "app_install",
	    "client_credentials" };

	for (i = 0; i < 4; i++)
		ok(shop_status_parse(sn[i], &st) == 0 && (int)st == i &&
		    strcmp(shop_status_name(st), sn[i]) == 0,
		    "status %s round trip", sn[i]);
	for (i = 0; i < 3; i++)
		ok(shop_auth_parse(an[i], &a) == 0 && (int)a == i &&
		    strcmp(shop_auth_name(a), an[i]) == 0,
		    "auth %s round trip", an[i]);
	ok(shop_status_parse("disconnected", &st) == -1,
	    "the old 'disconnected' is no status any more");
	ok(shop_status_parse(NULL, &st) == -1, "NULL");
	ok(shop_auth_parse("shpat", &a) == -1, "unknown way in");
	is_str(shop_status_name((enum shop_status)9), "?", "out of range");
}

/* What the renewal decides on: a refusal keeps Shopify's status and word
 * (a refused refresh ends the connection); 5xx is no refusal. */
static void
test_refusal(void)
{
	struct shopify_app_tokens t;
	struct rb_err err;
	const char *b400 = "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"used\"}";
	const char *ok200 = "{\"access_token\":\"shpat_1\",\"expires_in\":3600,"
	    "\"refresh_token\":\"shprt_2\",\"refresh_token_expires_in\":"
	    "7776000,\"scope\":\"read_products\"}";

	rb_err_clear(&err);
	ok(shopify_app_parse_token_response(400, b400, strlen(b400), &t,
	    &err) == -1, "400 refused");
	ok(t.status == 400 && strcmp(t.error, "invalid_grant") == 0,
	    "status and Shopify's word kept: %ld %s", t.status, t.error);
	ok(t.access_token == NULL && t.refresh_token == NULL, "no tokens");
	ok(shopify_app_parse_token_response(503, "", 0, &t, &err) == -1 &&
	    t.status == 0, "503 is no refusal (tried again later)");
	is_str(err.code, "provider_unreachable", "503 code");
	ok(shopify_app_parse_token_response(200, ok200, strlen(ok200), &t,
	    &err) == 0, "200 parsed");
	ok(t.expires_in == 3600 && t.refresh_expires_in == 7776000 &&
	    strcmp(t.refresh_token, "shprt_2") == 0 && t.status == 0,
	    "expiries and the new refresh token");
	shopify_app_tokens_free(&t);
}

int
main(void)
{
	struct rb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	if (RAND_bytes(cfg.token_key, 32) != 1)
		return 2;
	test_aad();
	test_seal(&cfg);
	test_names();
	test_refusal();
	return done_testing();
}
