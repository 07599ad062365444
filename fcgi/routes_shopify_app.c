/*
 * routes_shopify_app.c - the ReBoss app of Shopify's Dev Dashboard.
 * Owner: the "install" module.  The checks are lib/shopify_app.c's pure
 * functions; a shop's credentials are stored and deleted only through
 * lib/shop.c (their one owner).
 *
 *   POST /api/shopify/install {shop_domain}   (auth) -> {"url": consent}
 *   GET  /api/shopify/callback?code&hmac&host&shop&state&timestamp
 *        (no auth: Shopify's HMAC and the state are the proof)
 *        -> 302 {frontend_url}/shops/{id}?shopify=connected, or ?error=
 *   POST /api/shopify/webhooks (no auth: the HMAC of the raw body)
 *
 * The callback checks, in this order and before any request to Shopify:
 * the HMAC (invalid_hmac; also invalid_callback, invalid_shop_domain for a
 * signed query without usable parameters), the state, used once
 * (invalid_state, state_reused), the shop against the state's
 * (shop_mismatch), the state's age (expired_state), the timestamp's age
 * (stale_callback).  Then the code exchange (token_exchange_failed,
 * provider_unreachable), the granted scopes as Shopify reports them for
 * the new token (currentAppInstallation.accessScopes, one request with
 * the shop; missing_scopes with &missing=..., nothing stored; without
 * read_all_orders the shop is connected with &sales_history=limited),
 * storing (shop_taken: the shop belongs to another account,
 * never whose; storage_failed).  Without a state of this user's no shop
 * is known and the redirect goes to {frontend_url}/?error=...
 *
 * Webhooks: the HMAC first (401 invalid_hmac, nothing read or changed),
 * then the headers; a delivery is recorded in shopify_webhooks in the
 * same transaction that applies it, so a X-Shopify-Webhook-Id seen before
 * is answered 200 without doing anything, and a failure leaves no record
 * (Shopify retries).  Only database work, no upstream call: the answer
 * comes at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "shop.h"
#include "shopify.h"
#include "shopify_app.h"
#include "shopify_scopes.h"
#include "util.h"

#define WEBHOOK_ID_MAX		128

/* ---- install ---------------------------------------------------------------- */

enum { SI_DOMAIN };
static const struct field_spec install_fields[] = {
	[SI_DOMAIN] = { .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_shopify_install = {
	install_fields, RB_NELEM(install_fields)
};

int
h_shopify_install(struct api_ctx *ctx, struct rb_err *err)
{
	const char *domain = ctx->fields[SI_DOMAIN].str;
	char state[64], hash[64], id[37], ttl[16];
	const char *params[6];
	char *url = NULL;
	struct db *db;
	int rc = -1;

	state[0] = '\0';
	(void)snprintf(ttl, sizeof(ttl), "%d", OAUTH_STATE_TTL_S);
	if (config_require_oauth(ctx->cfg, "shopify", err) == -1)
		return -1;
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (api_oauth_states_room(db, ctx->user_id, err) == -1)
		return -1;
	if (api_oauth_state_new(state, hash, id, err) == -1)
		goto fail;
	if (shopify_app_consent_url(ctx->cfg, domain, state, &url, err) == -1)
		goto fail;
	/* Old rows go: a day is long enough to recognise a replay. */
	if (db_exec(db, "DELETE FROM oauth_states WHERE created_at < now() - "
	    "interval '1 day'", 0, NULL, err) == -1)
		goto fail;
	params[0] = id;
	params[1] = hash;
	params[2] = ctx->user_id;
	params[3] = domain;
	params[4] = ttl;
	if (db_exec(db, "INSERT INTO oauth_states (id, state_hash, user_id, "
	    "provider, shop_domain, expires_at) VALUES ($1, $2, $3, 'shopify', "
	    "$4, now() + make_interval(secs => $5::double precision))", 5,
	    params, err) == -1)
		goto fail;
	log_info("install: consent URL made for %s", domain);
	rc = api_reply(ctx, 200, json_pack("{s:s,s:s}", "url", url,
	    "shop_domain", domain), err);
fail:
	free(url);
	OPENSSL_cleanse(state, sizeof(state));
	return rc;
}

/* ---- callback ---------------------------------------------------------------- */

/* What the state row said. */
struct install_state {
	char	user_id[37];
	char	shop[SHOPIFY_DOMAIN_MAX];
	bool	expired;
};

/* Uses the state once.  0 with *st filled; -1 with err->code
 * invalid_state / state_reused (nothing else of the flow happens). */
static int
use_state(struct db *db, const char *state, struct install_state *st,
    struct rb_err *err)
{
	char hash[64];
	const char *params[1];
	PGresult *res = NULL;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (strlen(state) != OAUTH_STATE_LEN || crypto_sha256_b64url(state,
	    strlen(state), hash, sizeof(hash)) == -1)
		return rb_err_set(err, 400, "invalid_state",
		    "The install's state is not one of ours.");
	params[0] = hash;
	/* Used once: only one request can flip used_at. */
	if ((res = db_query(db, "UPDATE oauth_states SET used_at = now() "
	    "WHERE state_hash = $1 AND provider = 'shopify' AND used_at IS "
	    "NULL RETURNING user_id, shop_domain, expires_at <= now()", 1,
	    params, err)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		rb_strlcpy(st->user_id, PQgetvalue(res, 0, 0),
		    sizeof(st->user_id));
		rb_strlcpy(st->shop, PQgetvalue(res, 0, 1), sizeof(st->shop));
		st->expired = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		rc = 0;
		goto out;
	}
	PQclear(res);
	if ((res = db_query(db, "SELECT 1 FROM oauth_states WHERE state_hash "
	    "= $1 AND provider = 'shopify'", 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) == 1)
		rb_err_set(err, 400, "state_reused",
		    "This install was already completed or refused; start it "
		    "again from the dashboard.");
	else
		rb_err_set(err, 400, "invalid_state",
		    "The install's state is not one of ours.");
out:
	PQclear(res);
	return rc;
}

/* What the owner does about missing scopes at install. */
#define INSTALL_SCOPES_TODO \
	"Install the app again and approve every access scope it asks for."

/* Exchanges the code, asks Shopify which scopes the token was granted
 * (with the shop), refuses too few, stores the shop; *shop_id set on
 * success, *limited when sales history is limited to 60 days. */
static int
connect_shop(struct api_ctx *ctx, struct db *db,
    const struct install_state *st, const struct shopify_callback *cb,
    char shop_id[37], char *missing, size_t missingsz, bool *limited,
    struct rb_err *err)
{
	char granted[SHOPIFY_SCOPES_MAX];
	struct shopify_app_tokens t;
	struct shop_connect g;
	struct shopify s;
	json_t *info = NULL;
	int rc = -1;

	memset(&g, 0, sizeof(g));
	memset(&s, 0, sizeof(s));
	if (shopify_app_exchange_code(ctx->http, ctx->cfg, cb->shop, cb->code,
	    &t, err) == -1) {
		log_warn("install: code exchange for %s failed: %s", cb->shop,
		    err->msg);
		return -1;
	}
	if (api_shopify_open(ctx, &s, cb->shop, t.access_token, err) == -1 ||
	    shopify_get_shop_scopes(&s, &info, granted, sizeof(granted),
	    err) == -1) {
		log_warn("install: %s: the new token could not be tried: %s",
		    cb->shop, err->msg);
		goto out;
	}
	if (shopify_check_scopes(ctx->cfg, granted, INSTALL_SCOPES_TODO,
	    missing, missingsz, limited, err) == -1) {
		log_warn("install: %s granted too few scopes (missing %s)",
		    cb->shop, missing);
		goto out;
	}
	g.auth = SHOP_AUTH_APP_INSTALL;
	g.access_token = t.access_token;
	g.expires_in = t.expires_in;
	g.refresh_token = t.refresh_token;
	g.refresh_expires_in = t.refresh_expires_in;
	g.scopes = granted;
	if (shop_store_connect(db, ctx->cfg, st->user_id, cb->shop, &g,
	    shop_id, NULL, err) == -1) {
		if (strcmp(err->code, "shop_taken") != 0) {
			log_err("install: storing %s failed: %s", cb->shop,
			    err->msg);
			rb_err_set(err, 500, "storage_failed",
			    "The shop could not be stored; try again.");
		}
		goto out;
	}
	rc = 0;
out:
	shopify_close(&s);
	json_decref(info);
	shopify_app_tokens_free(&t);
	return rc;
}

int
h_shopify_callback(struct api_ctx *ctx, struct rb_err *err)
{
	struct shopify_callback cb;
	struct install_state st;
	struct rb_err cerr;
	struct db *db;
	char shop_id[37], missing[SHOPIFY_SCOPES_MAX];
	bool limited = false;
	int rc;

	rb_err_clear(&cerr);
	missing[0] = '\0';
	if (config_require_oauth(ctx->cfg, "shopify", &cerr) == -1)
		goto refuse;
	/* 1. the HMAC: nothing of the query is used before it matched */
	if (shopify_app_verify_callback(ctx->raw_query,
	    ctx->cfg->shopify_client_secret, &cb, &cerr) == -1)
		goto refuse;
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	/* 2. the state, used once whatever follows */
	if (use_state(db, cb.state, &st, &cerr) == -1) {
		if (cerr.status >= 500)
			goto fail;
		goto refuse;
	}
	/* 3. the shop Shopify signed for is the one the user started */
	if (strcmp(st.shop, cb.shop) != 0) {
		rb_err_set(&cerr, 400, "shop_mismatch",
		    "Shopify answered for another shop than the one the "
		    "install was started for.");
		goto refuse;
	}
	if (st.expired) {
		rb_err_set(&cerr, 400, "expired_state",
		    "The install took longer than ten minutes; start it again.");
		goto refuse;
	}
	/* 4. the timestamp's age */
	if (shopify_app_check_timestamp(cb.timestamp, (long long)time(NULL),
	    &cerr) == -1)
		goto refuse;
	if (connect_shop(ctx, db, &st, &cb, shop_id, missing, sizeof(missing),
	    &limited, &cerr) == -1)
		goto refuse;
	log_info("install: %s connected as shop %s%s", cb.shop, shop_id,
	    limited ? " (no read_all_orders: 60 days of sales history)" : "");
	rc = api_front_redirect(ctx, shop_id, "shopify", "connected",
	    limited ? "sales_history" : NULL, "limited", err);
	OPENSSL_cleanse(&cb, sizeof(cb));
	return rc;
refuse:
	log_notice("install: callback refused with error=%s (%s)",
	    cerr.code[0] ? cerr.code : "invalid_callback", cerr.msg);
	OPENSSL_cleanse(&cb, sizeof(cb));
	/* The shop's page only when it is known to be this user's: the
	 * dashboard knows no other. */
	return api_front_redirect(ctx, NULL, "error", cerr.code[0] ? cerr.code :
	    "invalid_callback", missing[0] ? "missing" : NULL, missing, err);
fail:
	OPENSSL_cleanse(&cb, sizeof(cb));
	*err = cerr;
	return -1;
}

/* ---- webhooks ---------------------------------------------------------------- */

enum topic {
	T_UNINSTALLED, T_DATA_REQUEST, T_CUSTOMERS_REDACT, T_SHOP_REDACT,
	T__COUNT
};
static const char *const topics[T__COUNT] = {
	"app/uninstalled", "customers/data_request", "customers/redact",
	"shop/redact",
};

static bool
header_word(const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0, i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* Applies one topic inside the delivery's transaction; *detail (owned)
 * says what was done. */
static int
apply_topic(struct api_ctx *ctx, struct db *db, enum topic t,
    const char *domain, json_t *payload, json_t **detail,
    struct rb_err *err)
{
	const char *params[1] = { domain };
	PGresult *res;
	bool found = false;
	json_t *orders;

	(void)ctx;
	switch (t) {
	case T_UNINSTALLED:
		if (shop_mark_uninstalled(db, domain, "The ReBoss app was "
		    "uninstalled from the shop.", &found, err) == -1)
			return -1;
		*detail = json_pack("{s:b}", "uninstalled", found);
		break;
	case T_DATA_REQUEST:
		/* ReBoss holds no customer data (README, "Customer data"):
		 * there is nothing to hand over. */
		*detail = json_pack("{s:i}", "customer_records", 0);
		break;
	case T_CUSTOMERS_REDACT:
		/* Nothing of a customer is stored; the order ids of the
		 * payload are counted, not kept. */
		orders = json_object_get(payload, "orders_to_redact");
		*detail = json_pack("{s:i,s:I}", "customer_records", 0,
		    "orders_named", (json_int_t)(json_is_array(orders) ?
		    json_array_size(orders) : 0));
		break;
	case T_SHOP_REDACT:
	default:
		if ((res = db_query(db, "SELECT reboss_shop_redact($1)::text",
		    1, params, err)) == NULL)
			return -1;
		*detail = PQgetisnull(res, 0, 0) ? json_pack("{s:{}}",
		    "deleted") : json_pack("{s:o}", "deleted",
		    json_loads(PQgetvalue(res, 0, 0), 0, NULL));
		PQclear(res);
		break;
	}
	if (*detail == NULL)
		return rb_err_oom(err);
	return 0;
}

/* Records the delivery and applies it, in one transaction.  *dup: it was
 * recorded before (nothing done). */
static int
deliver(struct api_ctx *ctx, struct db *db, enum topic t, const char *id,
    const char *domain, const char *version, json_t *payload, bool *dup,
    json_t **detail, struct rb_err *err)
{
	const char *params[4];
	char *text = NULL;
	PGresult *res;
	int rc = -1;

	*dup = false;
	*detail = NULL;
	if (db_begin(db, err) == -1)
		return -1;
	params[0] = id;
	params[1] = topics[t];
	/* shop/redact leaves nothing that names the shop, itself included */
	params[2] = t == T_SHOP_REDACT ? NULL : domain;
	params[3] = version;
	if ((res = db_query(db, "INSERT INTO shopify_webhooks (webhook_id, "
	    "topic, shop_domain, api_version) VALUES ($1, $2, $3, $4) ON "
	    "CONFLICT (webhook_id) DO NOTHING RETURNING 1", 4, params,
	    err)) == NULL)
		goto fail;
	*dup = PQntuples(res) == 0;
	PQclear(res);
	if (*dup) {
		rc = db_commit(db, err);
		if (rc == -1)
			goto fail;
		return 0;
	}
	if (apply_topic(ctx, db, t, domain, payload, detail, err) == -1 ||
	    (text = json_dumps(*detail, JSON_COMPACT)) == NULL)
		goto fail;
	params[1] = text;
	if (db_exec(db, "UPDATE shopify_webhooks SET detail = $2::jsonb "
	    "WHERE webhook_id = $1", 2, params, err) == -1 ||
	    db_commit(db, err) == -1)
		goto fail;
	free(text);
	return 0;
fail:
	db_rollback(db);
	free(text);
	json_decref(*detail);
	*detail = NULL;
	if (err->code[0] == '\0')
		rb_err_set(err, 500, "internal_error",
		    "The webhook could not be applied.");
	return -1;
}

/* The headers Shopify sends with every webhook, checked after the HMAC. */
static int
webhook_headers(struct api_ctx *ctx, enum topic *t, const char **id,
    char domain[SHOPIFY_DOMAIN_MAX], const char **version,
    struct rb_err *err)
{
	const char *topic = api_param(ctx, "HTTP_X_SHOPIFY_TOPIC");
	const char *shop = api_param(ctx, "HTTP_X_SHOPIFY_SHOP_DOMAIN");
	size_t i;

	*id = api_param(ctx, "HTTP_X_SHOPIFY_WEBHOOK_ID");
	*version = api_param(ctx, "HTTP_X_SHOPIFY_API_VERSION");
	if (!header_word(*id, WEBHOOK_ID_MAX))
		return rb_err_set(err, 400, "missing_header",
		    "X-Shopify-Webhook-Id is missing or malformed.");
	if (*version != NULL && !header_word(*version, 16))
		*version = NULL;
	if (shop == NULL || shopify_normalize_domain(shop, domain, err) == -1 ||
	    strcmp(shop, domain) != 0)
		return rb_err_set(err, 400, "invalid_shop_domain",
		    "X-Shopify-Shop-Domain is missing or not a "
		    "NAME.myshopify.com domain.");
	for (i = 0; i < T__COUNT; i++)
		if (topic != NULL && strcmp(topic, topics[i]) == 0)
			break;
	*t = (enum topic)i;
	return 0;
}

int
h_shopify_webhooks(struct api_ctx *ctx, struct rb_err *err)
{
	const char *id, *version;
	char domain[SHOPIFY_DOMAIN_MAX];
	json_t *payload = NULL, *detail = NULL;
	struct db *db;
	enum topic t = T__COUNT;	/* set by webhook_headers() */
	bool dup;
	int rc = -1;

	/* 1. the HMAC of the bytes as received, before anything else */
	if (shopify_app_verify_webhook(ctx->raw_body, ctx->raw_len,
	    api_param(ctx, "HTTP_X_SHOPIFY_HMAC_SHA256"),
	    ctx->cfg->shopify_client_secret, err) == -1) {
		log_notice("webhook: refused: %s", err->msg);
		return -1;
	}
	if (webhook_headers(ctx, &t, &id, domain, &version, err) == -1)
		return -1;
	if (t == T__COUNT) {
		/* a topic this app does not subscribe to: nothing to do */
		log_info("webhook: topic not handled, ignored");
		return api_reply(ctx, 200, json_pack("{s:b,s:b}", "success",
		    1, "ignored", 1), err);
	}
	payload = json_loadb((const char *)ctx->raw_body, ctx->raw_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(payload)) {
		rb_err_set(err, 400, "invalid_json",
		    "The webhook's body is not a JSON object.");
		goto out;
	}
	if ((db = api_db(ctx, err)) == NULL)
		goto out;
	if (deliver(ctx, db, t, id, domain, version, payload, &dup, &detail,
	    err) == -1) {
		log_err("webhook: %s for %s failed: %s", topics[t], domain,
		    err->msg);
		goto out;
	}
	log_info("webhook: %s for %s %s", topics[t], domain,
	    dup ? "seen before, not applied again" : "applied");
	rc = api_reply(ctx, 200, dup ? json_pack("{s:b,s:s,s:b}", "success", 1,
	    "topic", topics[t], "duplicate", 1) : json_pack("{s:b,s:s,s:O}",
	    "success", 1, "topic", topics[t], "detail", detail), err);
out:
	json_decref(payload);
	json_decref(detail);
	return rc;
}
