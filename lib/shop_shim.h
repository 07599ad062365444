/*
 * shop_shim.h - INTERIM: the two calls the install flow and the webhooks
 * make into the one owner of a shop and its credentials (lib/shop.c, being
 * written by the "connect" module; /work/wt/NEEDS-from-install.md).  Until
 * it lands these write only what the schema has today (the sealed access
 * token and connection_status); the refresh token cannot be kept yet.
 * When lib/shop.c provides the same functions, this file and shop_shim.c
 * go (the linker will say so: the names are the same).
 */
#ifndef RB_SHOP_SHIM_H
#define RB_SHOP_SHIM_H

#include <stdbool.h>

#include "rb.h"

struct db;
struct rb_config;

struct shop_grant {
	const char *access_token;	/* plain; sealed by the callee */
	long long   expires_in;		/* seconds, -1 unknown */
	const char *refresh_token;	/* plain; NULL when none came */
	long long   refresh_expires_in;	/* seconds, -1 unknown */
	const char *scopes;		/* granted, comma-separated */
};

/* Creates or updates (same user) the shop domain; 409 shop_taken when it
 * is another user's (no owner named). */
int	shop_store_install(struct db *db, const struct rb_config *cfg,
	    const char *user_id, const char *domain, const struct shop_grant *g,
	    char shop_id[37], struct rb_err *err) RB_WUR;
/* app/uninstalled: the shop's token deleted, status no longer connected. */
int	shop_mark_uninstalled(struct db *db, const char *domain,
	    const char *reason, bool *found, struct rb_err *err) RB_WUR;

#endif
