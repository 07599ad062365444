/*
 * routes_shops.c - the caller's shops (all routes need auth).
 * Owner: the "shops" module; a shop's row and credentials are written only
 * through lib/shop.c (their one owner).
 *
 * POST /api/shops connects a shop, one of two ways (the third, the ReBoss
 * app's install, is routes_shopify_app.c):
 *   {shop_domain, access_token}             a legacy custom app's token;
 *   {shop_domain, client_id, client_secret} the owner's own Dev Dashboard
 *       app: a token is fetched with the client credentials grant (24 h;
 *       lib/shop.c fetches the next one), the client secret is stored
 *       sealed.
 * Either way, in this order: the token is tried on Shopify with one
 * request that reads the shop and the scopes it was granted
 * (currentAppInstallation.accessScopes); too few scopes are refused with
 * 403 missing_scopes naming them; only then is the shop stored for the
 * caller, and only then can another account's shop be refused (409
 * shop_taken, never whose): whoever has not proven credentials of the
 * shop learns nothing about it.  Adding the same shop again updates it.
 * 201 {"success":true,"created":bool,"shop":{...}[,"notice":...]} (201
 * also for an update, as the contract says); notice when Shopify did not
 * grant read_all_orders (sales history limited to 60 days).
 *
 * GET /api/shops: the caller's shops with how each is connected and its
 * connection status; never a token, refresh token or client secret.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "integrations.h"
#include "log.h"
#include "shop.h"
#include "shopify.h"
#include "shopify_app.h"
#include "shopify_scopes.h"
#include "util.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* What the dashboard is told about a shop (GET /api/shops, POST's 201):
 * never a token, secret or refresh token. */
#define SHOPS_LIMIT	1000
#define SHOP_COLUMNS \
	"id, user_id, shop_domain, shop_name, connection_status, " \
	"connection_reason, " \
	ISO("connection_changed_at") " AS connection_changed_at, " \
	"auth_method, granted_scopes, " \
	ISO("access_expires_at") " AS access_expires_at, " \
	"currency, iana_timezone, plan_name, shop_email, " \
	ISO("last_connected_at") " AS last_connected_at, " \
	ISO("created_at") " AS created_at, " \
	ISO("updated_at") " AS updated_at"

/* What the owner does about missing scopes, per way in. */
#define LEGACY_SCOPES_TODO \
	"Give the custom app these Admin API access scopes in the Shopify " \
	"admin (Settings, Apps, Develop apps, Configuration), then connect " \
	"the shop again."
#define OWN_APP_SCOPES_TODO \
	"Select these access scopes for your app in Shopify's Dev Dashboard " \
	"(Apps, the app, Versions: create and release a version), approve " \
	"them on the store, then connect the shop again."

/* ---- a shop as the dashboard sees it ------------------------------------------ */

/* granted_scopes ("a,b" or NULL) as an array, and whether sales history
 * is limited to 60 days (null when the scopes are not known: a shop
 * connected before they were recorded). */
static int
scopes_json(json_t *o, const char *granted)
{
	json_t *arr;
	const char *p = granted;
	int e = 0;

	if (granted == NULL)
		return json_object_set_new(o, "granted_scopes", json_null()) |
		    json_object_set_new(o, "sales_history_limited",
		    json_null());
	if ((arr = json_array()) == NULL)
		return -1;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c != NULL ? (size_t)(c - p) : strlen(p);

		if (n > 0)
			e |= json_array_append_new(arr, json_stringn(p, n));
		p += n + (c != NULL);
	}
	e |= json_object_set_new(o, "granted_scopes", arr);
	e |= json_object_set_new(o, "sales_history_limited", json_boolean(
	    !shopify_scope_granted(granted, SHOPIFY_SCOPE_ALL_ORDERS)));
	return e;
}

/* One row of SHOP_COLUMNS as the dashboard's JSON object; NULL: out of
 * memory. */
static json_t *
shop_json(const PGresult *res, int row)
{
	json_t *o;
	int i, e = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < PQnfields(res); i++) {
		const char *name = PQfname(res, i);
		const char *v = PQgetisnull(res, row, i) ? NULL :
		    PQgetvalue(res, row, i);

		if (strcmp(name, "granted_scopes") == 0)
			e |= scopes_json(o, v);
		else
			e |= json_object_set_new(o, name, v != NULL ?
			    json_string(v) : json_null());
	}
	if (e != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- POST /api/shops --------------------------------------------------------- */

enum { SC_DOMAIN, SC_TOKEN, SC_CLIENT_ID, SC_CLIENT_SECRET };
static const struct field_spec shops_create_fields[] = {
	[SC_DOMAIN] = { .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
	/* a custom app's Admin API token (made before 2026) */
	[SC_TOKEN] = { .name = "access_token", .type = FIELD_SHOPIFY_TOKEN,
	    .alt = 1 },
	/* or the owner's own Dev Dashboard app */
	[SC_CLIENT_ID] = { .name = "client_id", .type = FIELD_APP_CREDENTIAL,
	    .alt = 2 },
	[SC_CLIENT_SECRET] = { .name = "client_secret",
	    .type = FIELD_APP_CREDENTIAL, .alt = 2 },
};
const struct api_body body_shops_create = {
	shops_create_fields, RB_NELEM(shops_create_fields)
};

/* One connect as it goes: the credentials, then what Shopify said. */
struct connect_try {
	struct shop_connect	 c;	/* what shop_store_connect gets */
	struct shopify_app_tokens t;	/* the client credentials grant's */
	json_t			*info;	/* the shop, REST keys */
	char			 granted[SHOPIFY_SCOPES_MAX];
	bool			 limited;	/* no read_all_orders */
};

/* The client credentials grant's refusals, in words the owner can act
 * on (Shopify: 401 invalid_client, 400 unauthorized_client). */
static int
grant_refused(const struct shopify_app_tokens *t, struct rb_err *err)
{
	if (t->status == 401 || strcmp(t->error, "invalid_client") == 0)
		return rb_err_set(err, 400, "invalid_client_credentials",
		    "Shopify refused the app's client_id and client_secret "
		    "(invalid_client); copy both again from the app's "
		    "settings in the Dev Dashboard.");
	if (strcmp(t->error, "unauthorized_client") == 0)
		return rb_err_set(err, 400, "client_credentials_not_allowed",
		    "Shopify does not let this app use the client credentials "
		    "grant on this store (unauthorized_client): the app must "
		    "belong to the store's own organization and be installed "
		    "on it.  Install it from the Dev Dashboard, or install the "
		    "ReBoss app instead.");
	return -1;	/* err as shopify_app_client_credentials set it */
}

/* 1. A token: the one given, or one fetched with the client credentials
 * grant (nothing is stored before it is proven). */
static int
connect_token(struct api_ctx *ctx, const char *domain, struct connect_try *ct,
    struct rb_err *err)
{
	const struct field_value *f = ctx->fields;

	if (f[SC_TOKEN].present) {
		ct->c.auth = SHOP_AUTH_LEGACY;
		ct->c.access_token = f[SC_TOKEN].str;
		ct->c.expires_in = -1;
		ct->c.refresh_expires_in = -1;
		return 0;
	}
	ct->c.auth = SHOP_AUTH_CLIENT_CREDENTIALS;
	ct->c.client_id = f[SC_CLIENT_ID].str;
	ct->c.client_secret = f[SC_CLIENT_SECRET].str;
	if (shopify_app_client_credentials(ctx->http, ctx->cfg, domain,
	    ct->c.client_id, ct->c.client_secret, &ct->t, err) == -1) {
		(void)grant_refused(&ct->t, err);
		log_notice("shops: %s: client credentials grant refused (%s)",
		    domain, err->code);
		return -1;
	}
	ct->c.access_token = ct->t.access_token;
	ct->c.expires_in = ct->t.expires_in;
	ct->c.refresh_expires_in = -1;
	return 0;
}

/* 2. Proven: the token reads the shop and was granted enough scopes. */
static int
connect_prove(struct api_ctx *ctx, const char *domain, struct connect_try *ct,
    struct rb_err *err)
{
	char missing[SHOPIFY_SCOPES_MAX];
	struct shopify s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (api_shopify_open(ctx, &s, domain, ct->c.access_token, err) == -1 ||
	    shopify_get_shop_scopes(&s, &ct->info, ct->granted,
	    sizeof(ct->granted), err) == -1)
		goto out;
	if (shopify_check_scopes(ctx->cfg, ct->granted,
	    ct->c.auth == SHOP_AUTH_LEGACY ? LEGACY_SCOPES_TODO :
	    OWN_APP_SCOPES_TODO, missing, sizeof(missing), &ct->limited,
	    err) == -1) {
		log_notice("shops: %s refused: missing scopes %s", domain,
		    missing);
		goto out;
	}
	ct->c.scopes = ct->granted;
	ct->c.shop_info = ct->info;
	rc = 0;
out:
	shopify_close(&s);
	return rc;
}

static int
reply_created(struct api_ctx *ctx, struct db *db, const char *id,
    bool created, bool limited, struct rb_err *err)
{
	const char *params[1] = { id };
	PGresult *res;
	json_t *shop, *out;

	if ((res = db_query(db, "SELECT " SHOP_COLUMNS " FROM shops WHERE "
	    "id = $1", 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rb_err_set(err, 409, "shop_conflict",
		    "This shop was removed by another request at the same "
		    "time; try again.");
	}
	shop = shop_json(res, 0);
	PQclear(res);
	if (shop == NULL)
		return rb_err_oom(err);
	out = json_pack("{s:b,s:b,s:o}", "success", 1, "created", created,
	    "shop", shop);
	if (out != NULL && limited && json_object_set_new(out, "notice",
	    json_string(SHOPIFY_HISTORY_NOTICE)) == -1) {
		json_decref(out);
		out = NULL;
	}
	return api_reply(ctx, 201, out, err);
}

int
h_shops_create(struct api_ctx *ctx, struct rb_err *err)
{
	const char *domain = ctx->fields[SC_DOMAIN].str;
	struct connect_try ct;
	struct db *db;
	char id[37];
	bool created = false;
	int rc = -1;

	memset(&ct, 0, sizeof(ct));
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (connect_token(ctx, domain, &ct, err) == -1 ||
	    connect_prove(ctx, domain, &ct, err) == -1)
		goto out;
	/* 3. Stored; another account's shop is refused only now. */
	if (shop_store_connect(db, ctx->cfg, ctx->user_id, domain, &ct.c, id,
	    &created, err) == -1) {
		log_notice("shops: %s not stored: %s", domain, err->code);
		goto out;
	}
	log_info("shops: %s shop %s (%s, %s)%s", created ? "added" :
	    "updated", id, domain, shop_auth_name(ct.c.auth), ct.limited ?
	    ", no read_all_orders" : "");
	rc = reply_created(ctx, db, id, created, ct.limited, err);
out:
	shopify_app_tokens_free(&ct.t);
	json_decref(ct.info);
	return rc;
}

/* ---- GET /api/shops ----------------------------------------------------------- */

int
h_shops_list(struct api_ctx *ctx, struct rb_err *err)
{
	const char *params[2];
	char limit[16];
	struct db *db;
	PGresult *res;
	json_t *list = NULL, *o;
	int i, n, rc = -1;

	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	(void)snprintf(limit, sizeof(limit), "%d", SHOPS_LIMIT + 1);
	params[0] = ctx->user_id;
	params[1] = limit;
	/* The caller's shops only: the API's role is not bound by RLS, so
	 * the owner is in the WHERE (rls.test holds the dashboard's role to
	 * the same). */
	if ((res = db_query(db, "SELECT " SHOP_COLUMNS " FROM shops WHERE "
	    "user_id = $1 ORDER BY created_at, id LIMIT $2::int", 2, params,
	    err)) == NULL)
		return -1;
	if ((list = json_array()) == NULL)
		goto oom;
	n = PQntuples(res) > SHOPS_LIMIT ? SHOPS_LIMIT : PQntuples(res);
	for (i = 0; i < n; i++)
		if ((o = shop_json(res, i)) == NULL ||
		    json_array_append_new(list, o) == -1)
			goto oom;
	rc = api_reply(ctx, 200, json_pack("{s:b,s:o,s:b}", "success", 1,
	    "shops", list, "truncated", PQntuples(res) > SHOPS_LIMIT), err);
	list = NULL;
	goto out;
oom:
	rb_err_oom(err);
out:
	json_decref(list);
	PQclear(res);
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
