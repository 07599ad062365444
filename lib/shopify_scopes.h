/*
 * shopify_scopes.h - the access scopes a shop granted ReBoss, and whether
 * they are enough.  Owner: the "shops" module.  Used by every connect
 * (POST /api/shops with a legacy token or client credentials, the install
 * callback), which asks Shopify what was granted with
 * shopify_get_shop_scopes() (currentAppInstallation.accessScopes) and
 * refuses with shopify_check_scopes() before anything is stored.
 *
 * A scope list is comma-separated ("read_products,write_products"),
 * spaces around names ignored.  write_X covers read_X, as on Shopify.
 */
#ifndef RB_SHOPIFY_SCOPES_H
#define RB_SHOPIFY_SCOPES_H

#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

struct rb_config;

#define SHOPIFY_SCOPES_MAX	1024	/* bytes of a scope list */
/* Without it Shopify shows only the orders of the last 60 days. */
#define SHOPIFY_SCOPE_ALL_ORDERS	"read_all_orders"
/* What a connect answers when read_all_orders is missing. */
#define SHOPIFY_HISTORY_NOTICE \
	"Shopify did not grant read_all_orders, so sales history is " \
	"limited to the last 60 days; ask Shopify for read_all_orders and " \
	"connect the shop again to read older orders."

/* The scopes of wanted that granted does not cover, ", "-separated into
 * missing ("" when none).  Returns how many, -1 when missing is short. */
int	shopify_missing_scopes(const char *wanted, const char *granted,
	    char *missing, size_t missingsz);
/* Is scope (or, for read_X, write_X) in granted? */
bool	shopify_scope_granted(const char *granted, const char *scope);

/* The scopes ReBoss needs: shopify_scopes of the configuration, or
 * SHOPIFY_DEFAULT_SCOPES. */
const char *shopify_wanted_scopes(const struct rb_config *cfg);

/* Compares what the shop granted with what ReBoss needs.  0 when enough;
 * *limited (may be NULL) is true when only read_all_orders is missing
 * (then sales history is limited to 60 days, not refused).  Otherwise -1,
 * 403 missing_scopes with a sentence naming every missing scope followed
 * by todo (what the owner does about it, one sentence), and the names in
 * missing (", "-separated). */
int	shopify_check_scopes(const struct rb_config *cfg, const char *granted,
	    const char *todo, char *missing, size_t missingsz, bool *limited,
	    struct rb_err *err) RB_WUR;

#endif
