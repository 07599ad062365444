/*
 * test_shopify_scopes.c - lib/shopify_scopes.c: what is missing (write_X
 * covers read_X, read_X never covers write_X), what refuses a connect and
 * what only limits sales history to 60 days, and the sentence that names
 * the missing scopes.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "shopify_scopes.h"
#include "tap.h"

static void
test_missing(void)
{
	char m[256];

	is_int(shopify_missing_scopes("read_products,write_products",
	    "write_products", m, sizeof(m)), 0, "write covers read");
	is_int(shopify_missing_scopes("read_products, read_orders,"
	    "write_publications", "read_products", m, sizeof(m)), 2, "two");
	is_str(m, "read_orders, write_publications", "named");
	is_int(shopify_missing_scopes("write_products", "read_products", m,
	    sizeof(m)), 1, "read does not cover write");
	is_int(shopify_missing_scopes("read_orders", "", m, sizeof(m)), 1,
	    "none granted");
	is_int(shopify_missing_scopes("read_orders", NULL, m, sizeof(m)), 1,
	    "NULL is none");
	is_int(shopify_missing_scopes("read_orders,read_products", "", m,
	    5), -1, "too small");
	is_int(shopify_missing_scopes("read_orders", "", m, 12), 1,
	    "an exact fit (11 bytes and the NUL) is enough");
	is_str(m, "read_orders", "an exact fit: the name");
	is_int(shopify_missing_scopes("read_orders,x", "", m, 15), 2,
	    "two names, exact fit ('read_orders, x' and the NUL)");
	is_int(shopify_missing_scopes("read_orders,x", "", m, 14), -1,
	    "two names, one byte short");
	is_int(shopify_missing_scopes("read_orders", "read_orders_x,"
	    "xread_orders", m, sizeof(m)), 1, "names compared whole");
	is_int(shopify_missing_scopes(" read_orders ,", " read_orders ", m,
	    sizeof(m)), 0, "spaces and empty names ignored");
	ok(shopify_scope_granted("write_all_orders", "read_all_orders"),
	    "granted: write covers read");
	ok(!shopify_scope_granted("read_orders", "read_all_orders"),
	    "granted: read_orders is not read_all_orders");
}

static void
test_check(void)
{
	static char one[] = "read_products,read_all_orders";
	static char two[] = "read_products,read_all_orders,read_files";
	struct rb_config cfg;
	struct rb_err err;
	char m[256];
	bool limited = false;

	memset(&cfg, 0, sizeof(cfg));
	rb_err_clear(&err);
	is_int(shopify_check_scopes(&cfg, SHOPIFY_DEFAULT_SCOPES, "Do it.", m,
	    sizeof(m), &limited, &err), 0, "the default scopes are enough");
	ok(limited, "without read_all_orders: limited");
	is_int(shopify_check_scopes(&cfg, SHOPIFY_DEFAULT_SCOPES
	    ",read_all_orders", "Do it.", m, sizeof(m), &limited, &err), 0,
	    "with read_all_orders");
	ok(!limited, "with read_all_orders: not limited");

	is_int(shopify_check_scopes(&cfg, "read_products,read_orders",
	    "Do it.", m, sizeof(m), &limited, &err), -1, "too few refused");
	is_int(err.status, 403, "403");
	is_str(err.code, "missing_scopes", "code");
	is_str(m, "write_products, read_publications, write_publications",
	    "missing named");
	ok(strstr(err.msg, "missing: write_products, read_publications, "
	    "write_publications.  Do it.") != NULL, "the sentence: %s",
	    err.msg);

	/* The operator asks for read_all_orders: still only limited. */
	cfg.shopify_scopes = one;
	is_int(shopify_check_scopes(&cfg, "write_products", "Do it.", m,
	    sizeof(m), &limited, &err), 0, "read_all_orders never refuses");
	ok(limited, "but limits");
	is_str(m, "", "nothing named");
	cfg.shopify_scopes = two;
	is_int(shopify_check_scopes(&cfg, "write_products", "Do it.", m,
	    sizeof(m), &limited, &err), -1, "configured scopes are wanted");
	is_str(m, "read_files", "only the one that refuses is named");
}

int
main(void)
{
	test_missing();
	test_check();
	return done_testing();
}
