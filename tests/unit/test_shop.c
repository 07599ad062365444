/* test_shop.c - lib/shop.c without a database: the one aad builder,
 * sealing bound to shop and column, the names of ways in and statuses. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "config.h"
#include "crypto.h"
#include "shop.h"
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
	return done_testing();
}
