/*
 * routes_shops.c - POST /api/shops and GET /api/shops/{id}/integrations
 * (both need auth).  Owner: the "oauth" module.
 *
 * POST /api/shops {shop_domain, access_token}: tests the connection
 * (shopify_get_shop), then stores the shop for the caller through
 * shop_store_connect() (lib/shop.c seals the token).  Adding the same shop
 * again updates it (token, name, plan...).  A shop of another user is
 * refused with 409 shop_taken, without saying whose it is, and before
 * Shopify is contacted.  201 {"success":true,"created":bool,"shop":{...}}
 * (201 also for an update, as the contract says); never the token.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "integrations.h"
#include "shop.h"
#include "log.h"
#include "shopify.h"
#include "shopify_scopes.h"
#include "util.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* What the owner of a legacy custom app does about missing scopes. */
#define LEGACY_SCOPES_TODO \
	"Give the custom app these Admin API access scopes in the Shopify " \
	"admin (Settings, Apps, Develop apps, Configuration), then connect " \
	"the shop again."

enum { SC_DOMAIN, SC_TOKEN };
static const struct field_spec shops_create_fields[] = {
	[SC_DOMAIN] = { .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
	[SC_TOKEN] = { .name = "access_token", .type = FIELD_SHOPIFY_TOKEN,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_shops_create = {
	shops_create_fields, RB_NELEM(shops_create_fields)
};

static int
taken(struct rb_err *err)
{
	return rb_err_set(err, 409, "shop_taken",
	    "This shop is already connected to another ReBoss account; the "
	    "shop's owner must remove it there first, or contact support.");
}

/* Looks the domain up: *id gets its id ("" when new); another user's shop
 * is refused.  lock: FOR UPDATE (inside the transaction). */
static int
lookup(struct db *db, const char *domain, const char *user_id, bool lock,
    char id[37], struct rb_err *err)
{
	const char *params[1] = { domain };
	PGresult *res;
	int rc = -1;

	id[0] = '\0';
	if ((res = db_query(db, lock ? "SELECT id, user_id FROM shops WHERE "
	    "shop_domain = $1 FOR UPDATE" : "SELECT id, user_id FROM shops "
	    "WHERE shop_domain = $1", 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 1), user_id) != 0) {
			taken(err);
			goto fail;
		}
		rb_strlcpy(id, PQgetvalue(res, 0, 0), 37);
	}
	rc = 0;
fail:
	PQclear(res);
	return rc;
}

int
h_shops_create(struct api_ctx *ctx, struct rb_err *err)
{
	const char *domain = ctx->fields[SC_DOMAIN].str;
	const char *token = ctx->fields[SC_TOKEN].str;
	struct shop_connect c;
	struct shopify s;
	struct db *db;
	json_t *shop = NULL, *out = NULL;
	PGresult *res = NULL;
	const char *params[1];
	char id[37];
	char granted[SHOPIFY_SCOPES_MAX], missing[SHOPIFY_SCOPES_MAX];
	bool created, limited = false;
	int rc = -1, i;

	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (lookup(db, domain, ctx->user_id, false, id, err) == -1)
		return -1;
	if (api_shopify_open(ctx, &s, domain, token, err) == -1)
		goto out;
	if (shopify_get_shop_scopes(&s, &shop, granted, sizeof(granted),
	    err) == -1)
		goto out;
	if (shopify_check_scopes(ctx->cfg, granted, LEGACY_SCOPES_TODO,
	    missing, sizeof(missing), &limited, err) == -1) {
		log_notice("shops: %s refused: missing scopes %s", domain,
		    missing);
		goto out;
	}
	c.auth = SHOP_AUTH_LEGACY;
	c.access_token = token;
	c.expires_in = -1;
	c.refresh_expires_in = -1;
	c.scopes = granted;
	c.shop_info = shop;
	if (shop_store_connect(db, ctx->cfg, ctx->user_id, domain, &c, id,
	    &created, err) == -1)
		goto out;
	params[0] = id;
	if ((res = db_query(db, "SELECT id, shop_domain, shop_name, "
	    "connection_status, currency, iana_timezone, plan_name, "
	    "shop_email, " ISO("last_connected_at") " AS last_connected_at, "
	    ISO("created_at") " AS created_at, "
	    ISO("updated_at") " AS updated_at FROM shops WHERE id = $1", 1,
	    params, err)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rb_err_set(err, 409, "shop_conflict",
		    "This shop was removed by another request at the same "
		    "time; try again.");
		goto out;
	}
	if ((out = json_object()) == NULL)
		goto oom;
	for (i = 0; i < PQnfields(res); i++) {
		const char *name = PQfname(res, i);

		if (json_object_set_new(out, name, PQgetisnull(res, 0, i) ?
		    json_null() :
		    json_string(PQgetvalue(res, 0, i))) == -1)
			goto oom;
	}
	if (json_object_set_new(out, "user_id", json_string(ctx->user_id)) ==
	    -1)
		goto oom;
	log_info("shops: %s shop %s (%s)", created ? "added" : "updated", id,
	    domain);
	if (json_object_set_new(out, "granted_scopes", json_string(granted)) ==
	    -1 || json_object_set_new(out, "sales_history_limited",
	    json_boolean(limited)) == -1)
		goto oom;
	rc = api_reply(ctx, 201, limited ? json_pack("{s:b,s:b,s:O,s:s}",
	    "success", 1, "created", created, "shop", out, "notice",
	    SHOPIFY_HISTORY_NOTICE) : json_pack("{s:b,s:b,s:O}", "success", 1,
	    "created", created, "shop", out), err);
	goto out;
oom:
	rb_err_oom(err);
out:
	shopify_close(&s);
	PQclear(res);
	json_decref(shop);
	json_decref(out);
	return rc;
}

/* ---- GET /api/shops/{id}/integrations ----------------------------------------- */

int
h_shops_integrations(struct api_ctx *ctx, struct rb_err *err)
{
	struct db *db;
	json_t *st = NULL;

	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (api_own_shop(ctx, db, err) == -1)
		return -1;
	if (integrations_status(db, ctx->id, &st, err) == -1)
		return -1;
	if (json_object_set_new(st, "success", json_true()) == -1 ||
	    json_object_set_new(st, "shop_id", json_string(ctx->id)) == -1) {
		json_decref(st);
		return rb_err_oom(err);
	}
	return api_reply(ctx, 200, st, err);
}
