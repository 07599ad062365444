/*
 * routes_shops.c - POST /api/shops and GET /api/shops/{id}/integrations
 * (both need auth).  Owner: the "oauth" module.
 *
 * POST /api/shops {shop_domain, access_token}: tests the connection
 * (shopify_get_shop), then stores the shop for the caller with the token
 * sealed (aad "shops.access_token:<shop uuid>").  Adding the same shop
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

static const char *
shop_str(json_t *shop, const char *key)
{
	const char *s = json_string_value(json_object_get(shop, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

int
h_shops_create(struct api_ctx *ctx, struct rb_err *err)
{
	const char *domain = ctx->fields[SC_DOMAIN].str;
	const char *token = ctx->fields[SC_TOKEN].str;
	struct shopify s;
	struct db *db;
	json_t *shop = NULL, *out = NULL;
	PGresult *res = NULL;
	const char *params[9];
	char id[37], aad[96], *sealed = NULL;
	char granted[SHOPIFY_SCOPES_MAX], missing[SHOPIFY_SCOPES_MAX];
	bool created, in_tx = false, limited = false;
	int rc = -1, i;

	memset(&s, 0, sizeof(s));
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (lookup(db, domain, ctx->user_id, false, id, err) == -1)
		return -1;
	if (api_shopify_open(ctx, &s, domain, token, err) == -1)
		goto fail;
	if (shopify_get_shop_scopes(&s, &shop, granted, sizeof(granted),
	    err) == -1)
		goto fail;
	if (shopify_check_scopes(ctx->cfg, granted, LEGACY_SCOPES_TODO,
	    missing, sizeof(missing), &limited, err) == -1) {
		log_notice("shops: %s refused: missing scopes %s", domain,
		    missing);
		goto fail;
	}
	if (db_begin(db, err) == -1)
		goto fail;
	in_tx = true;
	if (lookup(db, domain, ctx->user_id, true, id, err) == -1)
		goto fail;
	created = id[0] == '\0';
	if (created && rb_uuid_v4(id) == -1) {
		rb_err_set(err, 500, "internal_error",
		    "No shop id could be made; try again.");
		goto fail;
	}
	(void)snprintf(aad, sizeof(aad), "shops.access_token:%s", id);
	if (crypto_seal(ctx->cfg->token_key, aad, token, strlen(token),
	    &sealed, err) == -1)
		goto fail;
	params[0] = id;
	params[1] = ctx->user_id;
	params[2] = domain;
	params[3] = shop_str(shop, "name");
	params[4] = sealed;
	params[5] = shop_str(shop, "currency");
	params[6] = shop_str(shop, "iana_timezone");
	params[7] = shop_str(shop, "plan_name");
	params[8] = shop_str(shop, "email");
	/* The id check catches a row inserted since the lookup (the token
	 * was sealed for our id). */
	if ((res = db_query(db, "INSERT INTO shops (id, user_id, shop_domain, "
	    "shop_name, access_token, connection_status, currency, "
	    "iana_timezone, plan_name, shop_email, last_connected_at) VALUES "
	    "($1, $2, $3, $4, $5, 'connected', $6, $7, $8, $9, now()) "
	    "ON CONFLICT (shop_domain) DO UPDATE SET "
	    "shop_name = EXCLUDED.shop_name, "
	    "access_token = EXCLUDED.access_token, "
	    "connection_status = 'connected', currency = EXCLUDED.currency, "
	    "iana_timezone = EXCLUDED.iana_timezone, "
	    "plan_name = EXCLUDED.plan_name, shop_email = EXCLUDED.shop_email, "
	    "last_connected_at = now() "
	    "WHERE shops.id = EXCLUDED.id AND shops.user_id = EXCLUDED.user_id "
	    "RETURNING id, shop_domain, shop_name, connection_status, "
	    "currency, iana_timezone, plan_name, shop_email, "
	    ISO("last_connected_at") " AS last_connected_at, "
	    ISO("created_at") " AS created_at, "
	    ISO("updated_at") " AS updated_at", 9, params, err)) == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		rb_err_set(err, 409, "shop_conflict",
		    "This shop was added by another request at the same time; "
		    "try again.");
		goto fail;
	}
	if (db_commit(db, err) == -1)
		goto fail;
	in_tx = false;
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
	goto fail;
oom:
	rb_err_oom(err);
fail:
	if (in_tx)
		db_rollback(db);
	shopify_close(&s);
	crypto_free_secret(sealed);
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
