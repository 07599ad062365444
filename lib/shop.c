/* shop.c - the one owner of a shop row and its credentials (see shop.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "env.h"
#include "http.h"
#include "log.h"
#include "shop.h"
#include "shopify_app.h"
#include "util.h"

static const char *const auth_names[] = {
	[SHOP_AUTH_LEGACY] = "legacy_token",
	[SHOP_AUTH_APP_INSTALL] = "app_install",
	[SHOP_AUTH_CLIENT_CREDENTIALS] = "client_credentials",
};
static const char *const status_names[] = {
	[SHOP_CONNECTED] = "connected",
	[SHOP_REAUTHORIZE] = "reauthorize_required",
	[SHOP_FROZEN] = "frozen",
	[SHOP_UNINSTALLED] = "uninstalled",
};

static long renewals;		/* this process's, for tests */

long
shop_renewals(void)
{
	return renewals;
}

const char *
shop_auth_name(enum shop_auth a)
{
	return (unsigned)a < RB_NELEM(auth_names) ? auth_names[a] : "?";
}

const char *
shop_status_name(enum shop_status s)
{
	return (unsigned)s < RB_NELEM(status_names) ? status_names[s] : "?";
}

int
shop_status_parse(const char *s, enum shop_status *out)
{
	size_t i;

	for (i = 0; s != NULL && i < RB_NELEM(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum shop_status)i;
			return 0;
		}
	return -1;
}

int
shop_auth_parse(const char *s, enum shop_auth *out)
{
	size_t i;

	for (i = 0; s != NULL && i < RB_NELEM(auth_names); i++)
		if (strcmp(s, auth_names[i]) == 0) {
			*out = (enum shop_auth)i;
			return 0;
		}
	return -1;
}

/* ---- credentials at rest ------------------------------------------------ */

static bool
column_ok(const char *c)
{
	return c != NULL && (strcmp(c, "access_token") == 0 ||
	    strcmp(c, "refresh_token") == 0 ||
	    strcmp(c, "shopify_client_secret") == 0);
}

int
shop_aad(const char *column, const char *shop_id, char *out, size_t outsz,
    struct rb_err *err)
{
	int n;

	if (!column_ok(column) || shop_id == NULL || !rb_is_uuid(shop_id))
		return rb_err_set(err, 500, "internal_error",
		    "No sealing context for this shop column.");
	n = snprintf(out, outsz, "shops.%s:%s", column, shop_id);
	if (n < 0 || (size_t)n >= outsz)
		return rb_err_set(err, 500, "internal_error",
		    "The sealing context does not fit.");
	return 0;
}

int
shop_seal(const struct rb_config *cfg, const char *shop_id,
    const char *column, const char *plain, char **sealed, struct rb_err *err)
{
	char aad[128];

	*sealed = NULL;
	if (shop_aad(column, shop_id, aad, sizeof(aad), err) == -1)
		return -1;
	return crypto_seal(cfg->token_key, aad, plain, strlen(plain), sealed,
	    err);
}

int
shop_open(const struct rb_config *cfg, const char *shop_id,
    const char *column, const char *sealed, char **plain, struct rb_err *err)
{
	char aad[128];
	size_t len;

	*plain = NULL;
	if (shop_aad(column, shop_id, aad, sizeof(aad), err) == -1)
		return -1;
	if (sealed == NULL || !crypto_is_sealed(sealed) ||
	    crypto_open(cfg->token_key, aad, sealed, plain, &len, err) == -1) {
		log_err("shop %s: the stored %s does not open", shop_id,
		    column);
		return rb_err_set(err, 500, "token_unreadable",
		    "The shop's stored credentials cannot be decrypted; the "
		    "operator must check token_key, or the shop must be "
		    "connected again.");
	}
	return 0;
}

/* Wipes what libpq holds of a credential column before PQclear. */
static void
wipe_cell(PGresult *r, int row, int col)
{
	if (r != NULL && row < PQntuples(r) && col < PQnfields(r) &&
	    !PQgetisnull(r, row, col))
		OPENSSL_cleanse(PQgetvalue(r, row, col),
		    strlen(PQgetvalue(r, row, col)));
}

/* ---- loading ---------------------------------------------------------------- */

#define SHOP_COLS "id::text, user_id::text, shop_domain, auth_method, " \
	"connection_status, coalesce(connection_reason, ''), " \
	"coalesce(granted_scopes, ''), " \
	"coalesce(floor(extract(epoch FROM access_expires_at))::bigint, 0), " \
	"coalesce(floor(extract(epoch FROM refresh_expires_at))::bigint, 0)"
#define SHOP_NCOLS 9

static int
shop_from_row(PGresult *r, int row, struct shop *out, struct rb_err *err)
{
	memset(out, 0, sizeof(*out));
	rb_strlcpy(out->id, PQgetvalue(r, row, 0), sizeof(out->id));
	rb_strlcpy(out->user_id, PQgetvalue(r, row, 1), sizeof(out->user_id));
	rb_strlcpy(out->domain, PQgetvalue(r, row, 2), sizeof(out->domain));
	if (shop_auth_parse(PQgetvalue(r, row, 3), &out->auth) == -1 ||
	    shop_status_parse(PQgetvalue(r, row, 4), &out->status) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "The shop's stored connection is of an unknown kind; run "
		    "rebossctl migrate.");
	rb_strlcpy(out->reason, PQgetvalue(r, row, 5), sizeof(out->reason));
	rb_strlcpy(out->granted_scopes, PQgetvalue(r, row, 6),
	    sizeof(out->granted_scopes));
	out->access_expires_at = strtoll(PQgetvalue(r, row, 7), NULL, 10);
	out->refresh_expires_at = strtoll(PQgetvalue(r, row, 8), NULL, 10);
	return 0;
}

int
shop_load(struct db *db, const char *shop_id, const char *user_id,
    struct shop *out, struct rb_err *err)
{
	const char *p[2] = { shop_id, user_id };
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (shop_id == NULL || !rb_is_uuid(shop_id))
		return rb_err_set(err, 404, "shop_not_found",
		    "No shop with this shop_id belongs to your account.");
	r = db_query(db, user_id != NULL ?
	    "SELECT " SHOP_COLS " FROM public.shops WHERE id = $1::uuid "
	    "AND user_id = $2::uuid" :
	    "SELECT " SHOP_COLS " FROM public.shops WHERE id = $1::uuid",
	    user_id != NULL ? 2 : 1, p, err);
	if (r == NULL)
		return -1;
	/* Another user's shop answers exactly like no shop. */
	if (PQntuples(r) != 1)
		rc = rb_err_set(err, 404, "shop_not_found",
		    "No shop with this shop_id belongs to your account.");
	else
		rc = shop_from_row(r, 0, out, err);
	PQclear(r);
	return rc;
}

/* ---- connecting ------------------------------------------------------------- */

static const char *
info_str(json_t *info, const char *key)
{
	const char *s = json_string_value(json_object_get(info, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The shop's id for domain, created for the user if new; 409 shop_taken
 * when another user has it.  Inside the caller's transaction. */
static int
claim_row(struct db *db, const char *user_id, const char *domain,
    char shop_id[37], bool *created, struct rb_err *err)
{
	const char *p[3];
	PGresult *r;
	int rc = -1;

	*created = false;
	p[0] = domain;
	if ((r = db_query(db, "SELECT id::text, user_id::text FROM "
	    "public.shops WHERE shop_domain = $1 FOR UPDATE", 1, p,
	    err)) == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		if (strcmp(PQgetvalue(r, 0, 1), user_id) != 0) {
			rb_err_set(err, 409, "shop_taken", "This shop is "
			    "already connected to another ReBoss account; the "
			    "shop's owner must remove it there first, or "
			    "contact support.");
			goto out;
		}
		rb_strlcpy(shop_id, PQgetvalue(r, 0, 0), 37);
		rc = 0;
		goto out;
	}
	PQclear(r);
	if (rb_uuid_v4(shop_id) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "No shop id could be made; try again.");
	p[0] = shop_id;
	p[1] = user_id;
	p[2] = domain;
	if ((r = db_query(db, "INSERT INTO public.shops (id, user_id, "
	    "shop_domain) VALUES ($1, $2, $3) ON CONFLICT (shop_domain) DO "
	    "NOTHING RETURNING id", 3, p, err)) == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		rb_err_set(err, 409, "shop_conflict", "This shop was added by "
		    "another request at the same time; try again.");
		goto out;
	}
	*created = true;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* "3600" or NULL (never / unknown) */
static const char *
secs(long long v, char *buf, size_t n)
{
	if (v < 0)
		return NULL;
	(void)snprintf(buf, n, "%lld", v);	/* 24 bytes hold it */
	return buf;
}

static int
store_connect_row(struct db *db, const struct rb_config *cfg,
    const char *shop_id, const struct shop_connect *c, struct rb_err *err)
{
	char *at = NULL, *rt = NULL, *cs = NULL, e1[24], e2[24];
	const char *p[14];
	int rc = -1;

	if (shop_seal(cfg, shop_id, "access_token", c->access_token, &at,
	    err) == -1 || (c->refresh_token != NULL && shop_seal(cfg, shop_id,
	    "refresh_token", c->refresh_token, &rt, err) == -1) ||
	    (c->client_secret != NULL && shop_seal(cfg, shop_id,
	    "shopify_client_secret", c->client_secret, &cs, err) == -1))
		goto out;
	p[0] = shop_id;
	p[1] = shop_auth_name(c->auth);
	p[2] = at;
	p[3] = rt;
	p[4] = secs(c->expires_in, e1, sizeof(e1));
	p[5] = c->refresh_token != NULL ? secs(c->refresh_expires_in, e2,
	    sizeof(e2)) : NULL;
	p[6] = c->auth == SHOP_AUTH_CLIENT_CREDENTIALS ? c->client_id : NULL;
	p[7] = cs;
	p[8] = c->scopes;
	p[9] = info_str(c->shop_info, "name");
	p[10] = info_str(c->shop_info, "currency");
	p[11] = info_str(c->shop_info, "iana_timezone");
	p[12] = info_str(c->shop_info, "plan_name");
	p[13] = info_str(c->shop_info, "email");
	rc = db_exec(db, "UPDATE public.shops SET auth_method = $2, "
	    "access_token = $3, refresh_token = $4, access_expires_at = "
	    "now() + make_interval(secs => $5::bigint), refresh_expires_at = "
	    "now() + make_interval(secs => $6::bigint), shopify_client_id = "
	    "$7, shopify_client_secret = $8, granted_scopes = $9, "
	    "connection_status = 'connected', connection_reason = NULL, "
	    "connection_changed_at = now(), last_connected_at = now(), "
	    "shop_name = coalesce($10, shop_name), currency = coalesce($11, "
	    "currency), iana_timezone = coalesce($12, iana_timezone), "
	    "plan_name = coalesce($13, plan_name), shop_email = coalesce($14, "
	    "shop_email) WHERE id = $1", 14, p, err);
out:
	free(at);
	free(rt);
	free(cs);
	return rc;
}

int
shop_store_connect(struct db *db, const struct rb_config *cfg,
    const char *user_id, const char *domain, const struct shop_connect *c,
    char shop_id[37], bool *created, struct rb_err *err)
{
	bool made = false;

	shop_id[0] = '\0';
	if (created != NULL)
		*created = false;
	if (c == NULL || c->access_token == NULL || c->access_token[0] == '\0'
	    || (c->auth == SHOP_AUTH_CLIENT_CREDENTIALS && (c->client_id ==
	    NULL || c->client_secret == NULL)) || (c->auth !=
	    SHOP_AUTH_CLIENT_CREDENTIALS && c->client_secret != NULL) ||
	    (c->auth != SHOP_AUTH_APP_INSTALL && c->refresh_token != NULL))
		return rb_err_set(err, 500, "internal_error",
		    "The shop's credentials do not fit its way of "
		    "connecting.");
	if (db_begin(db, err) == -1)
		return -1;
	if (claim_row(db, user_id, domain, shop_id, &made, err) == -1 ||
	    store_connect_row(db, cfg, shop_id, c, err) == -1 ||
	    db_commit(db, err) == -1) {
		db_rollback(db);
		shop_id[0] = '\0';
		return -1;
	}
	if (created != NULL)
		*created = made;
	log_info("shop %s (%s) connected by %s", shop_id, domain,
	    shop_auth_name(c->auth));
	return 0;
}

/* ---- statuses --------------------------------------------------------------- */

/* sealed: only while the stored access token is still that one (a shop
 * reconnected meanwhile keeps its new connection); NULL: any. */
static int
set_status(struct db *db, const char *shop_id, enum shop_status st,
    const char *reason, const char *sealed, bool *changed,
    struct rb_err *err)
{
	const char *p[4];
	PGresult *r;

	*changed = false;
	if (st == SHOP_CONNECTED)
		return rb_err_set(err, 500, "internal_error", "Only a new "
		    "connection makes a shop connected again.");
	p[0] = shop_id;
	p[1] = shop_status_name(st);
	p[2] = reason;
	p[3] = sealed;
	/* uninstalled replaces any status; the others replace connected. */
	r = db_query(db, "UPDATE public.shops SET connection_status = $2, "
	    "connection_reason = left($3, 512), connection_changed_at = "
	    "CASE WHEN connection_status = $2 THEN connection_changed_at ELSE "
	    "now() END WHERE id = $1::uuid AND (connection_status = "
	    "'connected' OR $2 = 'uninstalled') AND ($4::text IS NULL OR "
	    "access_token = $4) RETURNING id", 4, p, err);
	if (r == NULL)
		return -1;
	*changed = PQntuples(r) == 1;
	PQclear(r);
	if (*changed)
		log_notice("shop %s is now %s: %s", shop_id, p[1],
		    reason != NULL ? reason : "");
	return 0;
}

int
shop_set_status(struct db *db, const char *shop_id, enum shop_status status,
    const char *reason, struct rb_err *err)
{
	bool changed;

	return set_status(db, shop_id, status, reason, NULL, &changed, err);
}

int
shop_mark_uninstalled(struct db *db, const char *domain, const char *reason,
    bool *found, struct rb_err *err)
{
	const char *p[2] = { domain, reason };
	PGresult *r;

	*found = false;
	if ((r = db_query(db, "UPDATE public.shops SET access_token = NULL, "
	    "refresh_token = NULL, shopify_client_secret = NULL, "
	    "access_expires_at = NULL, refresh_expires_at = NULL, "
	    "connection_status = 'uninstalled', connection_reason = "
	    "left($2, 512), connection_changed_at = now() WHERE shop_domain = "
	    "$1 RETURNING id::text", 2, p, err)) == NULL)
		return -1;
	*found = PQntuples(r) == 1;
	if (*found)
		log_notice("shop %s (%s) is now uninstalled: %s",
		    PQgetvalue(r, 0, 0), domain, reason);
	PQclear(r);
	return 0;
}

/* ---- tokens ----------------------------------------------------------------- */

/* The renewal margin: SHOP_RENEW_MARGIN_S, or REBOSS_SHOP_RENEW_MARGIN_S
 * (tests whose fake tokens live seconds). */
static long long
renew_margin(void)
{
	return rb_env_long("REBOSS_SHOP_RENEW_MARGIN_S", 0, 86400,
	    SHOP_RENEW_MARGIN_S);
}

enum { T_STATUS, T_REASON, T_AUTH, T_ACCESS, T_EXPIRES, T_REFRESH,
	T_CLIENT_ID, T_SECRET, T_DOMAIN, T_NCOLS };
#define TOKEN_SELECT "SELECT connection_status, coalesce(connection_reason, " \
	"''), auth_method, access_token, coalesce(floor(extract(epoch FROM " \
	"access_expires_at))::bigint, 0), refresh_token, shopify_client_id, " \
	"shopify_client_secret, shop_domain FROM public.shops WHERE " \
	"id = $1::uuid"

static int
not_connected(PGresult *r, struct rb_err *err)
{
	const char *reason = PQgetvalue(r, 0, T_REASON);

	return rb_err_set(err, 409, "shop_not_connected", "The shop is %s%s%s",
	    PQgetvalue(r, 0, T_STATUS), reason[0] != '\0' ? ": " : ".",
	    reason);
}

/* Does the stored row need a renewal?  refused: the token Shopify
 * refused (renew only while it is still the stored one). */
static bool
needs_renewal(const struct rb_config *cfg, PGresult *r, const char *shop_id,
    const char *refused, unsigned flags)
{
	long long exp = strtoll(PQgetvalue(r, 0, T_EXPIRES), NULL, 10);
	char *plain = NULL;
	struct rb_err e;
	bool same;

	if (flags & SHOP_TOKEN_NO_RENEW)
		return false;
	if (exp > 0 && (long long)time(NULL) >= exp - renew_margin())
		return true;
	if (!(flags & SHOP_TOKEN_RENEW) || refused == NULL)
		return false;
	rb_err_clear(&e);
	if (shop_open(cfg, shop_id, "access_token", PQgetvalue(r, 0, T_ACCESS),
	    &plain, &e) == -1)
		return true;
	same = strcmp(plain, refused) == 0;
	crypto_free_secret(plain);
	return same;
}

/* Reads the row (FOR UPDATE when lock); NULL and err when it cannot be
 * used (no such shop, not connected, no token). */
static PGresult *
token_row(struct db *db, const char *shop_id, bool lock, struct rb_err *err)
{
	const char *p[1] = { shop_id };
	PGresult *r;

	r = db_query(db, lock ? TOKEN_SELECT " FOR UPDATE" : TOKEN_SELECT, 1,
	    p, err);
	if (r == NULL)
		return NULL;
	if (PQntuples(r) != 1) {
		PQclear(r);
		rb_err_set(err, 404, "shop_not_found", "The shop no longer "
		    "exists.");
		return NULL;
	}
	if (strcmp(PQgetvalue(r, 0, T_STATUS), "connected") != 0) {
		not_connected(r, err);
		goto fail;
	}
	if (PQgetisnull(r, 0, T_ACCESS) || *PQgetvalue(r, 0, T_ACCESS) ==
	    '\0') {
		rb_err_set(err, 409, "shop_token_missing", "The shop has no "
		    "access token; connect it again in the dashboard.");
		goto fail;
	}
	return r;
fail:
	wipe_cell(r, 0, T_ACCESS);
	wipe_cell(r, 0, T_REFRESH);
	wipe_cell(r, 0, T_SECRET);
	PQclear(r);
	return NULL;
}

static void
clear_row(PGresult *r)
{
	wipe_cell(r, 0, T_ACCESS);
	wipe_cell(r, 0, T_REFRESH);
	wipe_cell(r, 0, T_SECRET);
	PQclear(r);
}

/* The stored access token, opened; a plain one (written before tokens
 * were sealed) is used and sealed in place unless seal is false. */
static int
open_access(struct db *db, const struct rb_config *cfg, const char *shop_id,
    PGresult *r, bool seal, char **token, long long *expires_at,
    struct rb_err *err)
{
	const char *stored = PQgetvalue(r, 0, T_ACCESS), *p[3];
	char *sealed = NULL;
	struct rb_err serr;

	if (expires_at != NULL)
		*expires_at = strtoll(PQgetvalue(r, 0, T_EXPIRES), NULL, 10);
	if (crypto_is_sealed(stored))
		return shop_open(cfg, shop_id, "access_token", stored, token,
		    err);
	if ((*token = strdup(stored)) == NULL)
		return rb_err_oom(err);
	rb_err_clear(&serr);
	if (!seal || shop_seal(cfg, shop_id, "access_token", *token, &sealed,
	    &serr) == -1)
		return 0;
	p[0] = shop_id;
	p[1] = sealed;
	p[2] = stored;
	if (db_exec(db, "UPDATE public.shops SET access_token = $2 WHERE id = "
	    "$1::uuid AND access_token = $3", 3, p, &serr) == -1)
		log_warn("shop %s: the plain stored token could not be sealed: "
		    "%s", shop_id, serr.msg);
	free(sealed);
	return 0;
}

/* Stores a renewal's tokens (inside the locked transaction). */
static int
store_renewal(struct db *db, const struct rb_config *cfg, const char *shop_id,
    const struct shopify_app_tokens *t, struct rb_err *err)
{
	char *at = NULL, *rt = NULL, e1[24], e2[24];
	const char *p[5];
	int rc = -1;

	if (shop_seal(cfg, shop_id, "access_token", t->access_token, &at,
	    err) == -1 || (t->refresh_token != NULL && shop_seal(cfg, shop_id,
	    "refresh_token", t->refresh_token, &rt, err) == -1))
		goto out;
	p[0] = shop_id;
	p[1] = at;
	p[2] = rt;
	p[3] = secs(t->expires_in, e1, sizeof(e1));
	p[4] = secs(t->refresh_expires_in, e2, sizeof(e2));
	/* A refresh token that did not come keeps the stored one. */
	rc = db_exec(db, "UPDATE public.shops SET access_token = $2, "
	    "refresh_token = coalesce($3, refresh_token), access_expires_at = "
	    "now() + make_interval(secs => $4::bigint), refresh_expires_at = "
	    "CASE WHEN $3::text IS NULL THEN refresh_expires_at ELSE now() + "
	    "make_interval(secs => $5::bigint) END WHERE id = $1::uuid", 5, p,
	    err);
out:
	free(at);
	free(rt);
	return rc;
}

/* Asks Shopify for new tokens by the shop's way in.  1: Shopify refused
 * (reason set), 0: *t filled, -1: could not ask (err). */
static int
ask_renewal(struct db *db, const struct rb_config *cfg,
    struct http_client *http, const char *shop_id, PGresult *r,
    struct shopify_app_tokens *t, char *reason, size_t reasonsz,
    struct rb_err *err)
{
	const char *auth = PQgetvalue(r, 0, T_AUTH);
	const char *domain = PQgetvalue(r, 0, T_DOMAIN);
	char *secret = NULL;
	int rc;

	(void)db;
	if (strcmp(auth, "app_install") == 0 && !PQgetisnull(r, 0, T_REFRESH)) {
		if (shop_open(cfg, shop_id, "refresh_token", PQgetvalue(r, 0,
		    T_REFRESH), &secret, err) == -1)
			return -1;
		rc = shopify_app_refresh(http, cfg, domain, secret, t, err);
		(void)snprintf(reason, reasonsz, "Shopify refused to renew "
		    "the shop's access (%s); install the ReBoss app again.",
		    t->error[0] != '\0' ? t->error : "no reason given");
	} else if (strcmp(auth, "client_credentials") == 0 &&
	    !PQgetisnull(r, 0, T_SECRET) && !PQgetisnull(r, 0, T_CLIENT_ID)) {
		if (shop_open(cfg, shop_id, "shopify_client_secret",
		    PQgetvalue(r, 0, T_SECRET), &secret, err) == -1)
			return -1;
		rc = shopify_app_client_credentials(http, cfg, domain,
		    PQgetvalue(r, 0, T_CLIENT_ID), secret, t, err);
		(void)snprintf(reason, reasonsz, "Shopify refused the app's "
		    "client credentials (%s); check the client secret and "
		    "connect the shop again.", t->error[0] != '\0' ? t->error :
		    "no reason given");
	} else {
		(void)snprintf(reason, reasonsz, "Shopify refused the shop's "
		    "access token; connect the shop again.");
		return 1;
	}
	crypto_free_secret(secret);
	if (rc == 0)
		return 0;
	/* A refusal (4xx) ends the connection; anything else (5xx, no
	 * answer) is tried again later: a refresh whose answer was lost
	 * is recovered, the previous refresh token is still valid. */
	return t->status >= 400 && t->status < 500 && t->status != 429 ? 1 :
	    -1;
}

/* Under the row lock of the transaction on db: renews unless someone did
 * (the row is read again), then commits. */
static int
renew_locked(struct db *db, const struct rb_config *cfg,
    struct http_client *http, const char *shop_id, unsigned flags,
    const char *refused, char **token, long long *expires_at,
    struct rb_err *err)
{
	struct shopify_app_tokens t;
	char reason[SHOP_REASON_MAX];
	bool changed;
	PGresult *r;
	int rc = -1, asked;

	memset(&t, 0, sizeof(t));
	if ((r = token_row(db, shop_id, true, err)) == NULL)
		goto out;
	if (!needs_renewal(cfg, r, shop_id, refused, flags)) {
		/* Someone renewed while we waited for the lock. */
		rc = open_access(db, cfg, shop_id, r, true, token, expires_at,
		    err);
		clear_row(r);
		r = NULL;
		if (rc == -1 || (rc = db_commit(db, err)) == -1)
			goto out;
		return 0;
	}
	asked = ask_renewal(db, cfg, http, shop_id, r, &t, reason,
	    sizeof(reason), err);
	if (asked == 1) {
		if (set_status(db, shop_id, SHOP_REAUTHORIZE, reason,
		    PQgetvalue(r, 0, T_ACCESS), &changed, err) == -1 ||
		    db_commit(db, err) == -1)
			goto out;
		clear_row(r);
		shopify_app_tokens_free(&t);
		return rb_err_set(err, 409, "shop_not_connected", "The shop is "
		    "reauthorize_required: %s", reason);
	}
	if (asked == -1 || store_renewal(db, cfg, shop_id, &t, err) == -1 ||
	    db_commit(db, err) == -1)
		goto out;
	/* Committed: now it may be used. */
	renewals++;
	log_info("shop %s: access token renewed (%s)", shop_id,
	    PQgetvalue(r, 0, T_AUTH));
	if ((*token = strdup(t.access_token)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	if (expires_at != NULL)
		*expires_at = t.expires_in >= 0 ? (long long)time(NULL) +
		    t.expires_in : 0;
	rc = 0;
out:
	if (rc == -1) {
		db_rollback(db);
		crypto_free_secret(*token);
		*token = NULL;
	}
	if (r != NULL)
		clear_row(r);
	shopify_app_tokens_free(&t);
	return rc;
}

/* Renews in a transaction of its own on db (idle). */
static int
renew(struct db *db, const struct rb_config *cfg, struct http_client *http,
    const char *shop_id, unsigned flags, const char *refused, char **token,
    long long *expires_at, struct rb_err *err)
{
	if (http == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "A token renewal needs an HTTP client.");
	if (db_begin(db, err) == -1)
		return -1;
	return renew_locked(db, cfg, http, shop_id, flags, refused, token,
	    expires_at, err);
}

static int
token_get(struct db *db, const struct rb_config *cfg,
    struct http_client *http, const char *shop_id, unsigned flags,
    const char *refused, char **token, long long *expires_at,
    struct rb_err *err)
{
	PGresult *r;
	int rc;

	if ((r = token_row(db, shop_id, false, err)) == NULL)
		return -1;
	if (!needs_renewal(cfg, r, shop_id, refused, flags) ||
	    (strcmp(PQgetvalue(r, 0, T_AUTH), "legacy_token") == 0 &&
	    !(flags & SHOP_TOKEN_RENEW))) {
		/* Valid, or a legacy token: nothing to renew it with. */
		rc = open_access(db, cfg, shop_id, r,
		    !(flags & SHOP_TOKEN_NO_RENEW), token, expires_at, err);
		clear_row(r);
		return rc;
	}
	clear_row(r);
	return renew(db, cfg, http, shop_id, flags, refused, token,
	    expires_at, err);
}

/* The caller's session, or one of our own when the caller's is busy (in a
 * transaction of its own, or a statement in flight): its work is neither
 * committed by ours nor waited for, and new tokens are committed before
 * anyone uses them.  Close *own with db_close (a no-op when unused). */
static struct db *
idle_session(struct db *db, struct db *own, struct rb_err *err)
{
	memset(own, 0, sizeof(*own));
	if (!db->in_tx && !db->pending)
		return db;
	if (db_connect(own, db->conninfo, err) == -1)
		return NULL;
	return own;
}

int
shop_token_get(struct db *db, const struct rb_config *cfg,
    struct http_client *http, const char *shop_id, unsigned flags,
    const char *refused, char **token, long long *expires_at,
    struct rb_err *err)
{
	struct db own, *use;
	int rc;

	*token = NULL;
	if (expires_at != NULL)
		*expires_at = 0;
	if (shop_id == NULL || !rb_is_uuid(shop_id))
		return rb_err_set(err, 404, "shop_not_found",
		    "The shop no longer exists.");
	if ((use = idle_session(db, &own, err)) == NULL)
		return -1;
	rc = token_get(use, cfg, http, shop_id, flags, refused, token,
	    expires_at, err);
	db_close(&own);
	return rc;
}

/* ---- the Shopify client of a stored shop ------------------------------ */

struct shop_client {
	struct db		*db;
	const struct rb_config	*cfg;
	struct http_client	*http;
	char			 shop_id[37];
	unsigned		 flags;
};

static long long
renew_at(long long expires_at)
{
	return expires_at > 0 ? expires_at - renew_margin() : 0;
}

static int
client_renew(void *arg, const char *refused, char token[SHOPIFY_TOKEN_MAX],
    long long *at, struct rb_err *err)
{
	struct shop_client *c = arg;
	char *t = NULL;
	long long exp;
	size_t n;

	if (shop_token_get(c->db, c->cfg, c->http, c->shop_id, c->flags |
	    (refused != NULL ? SHOP_TOKEN_RENEW : 0), refused, &t, &exp,
	    err) == -1)
		return -1;
	n = strlen(t);
	if (n >= SHOPIFY_TOKEN_MAX) {
		crypto_free_secret(t);
		return rb_err_set(err, 502, "shopify_bad_response",
		    "Shopify handed out an access token that is too long.");
	}
	memcpy(token, t, n + 1);
	crypto_free_secret(t);
	/* A token that is still within the margin (a legacy one, or the
	 * margin longer than its life) is not asked again before it
	 * expires: Shopify's 401 says when. */
	*at = renew_at(exp);
	if (*at > 0 && *at <= (long long)time(NULL))
		*at = exp;
	return 0;
}

/* Shopify refused the shop: the status it means, while the stored token is
 * still the refused one (a shop reconnected meanwhile is left alone). */
static void
client_refused(void *arg, long status, const char *token)
{
	struct shop_client *c = arg;
	enum shop_status st;
	const char *reason, *p[1] = { c->shop_id };
	struct rb_err e;
	struct db own = { 0 }, *db = NULL;
	PGresult *r = NULL;
	char *plain = NULL;
	bool changed;

	switch (status) {
	case 401:
		st = SHOP_REAUTHORIZE;
		reason = "Shopify refused the shop's access token even after "
		    "a renewal (401); connect the shop again.";
		break;
	case 402:
		st = SHOP_FROZEN;
		reason = "Shopify says the shop is frozen for an unpaid bill "
		    "(402); the shop owner must settle it, then reconnect.";
		break;
	case 423:
		st = SHOP_FROZEN;
		reason = "Shopify has locked the shop (423); the shop owner "
		    "must contact Shopify support, then reconnect.";
		break;
	case 404:
		st = SHOP_UNINSTALLED;
		reason = "Shopify has no shop at this domain any more (404).";
		break;
	default:
		return;
	}
	rb_err_clear(&e);
	if (c->flags & SHOP_TOKEN_NO_RENEW)
		return;
	if ((db = idle_session(c->db, &own, &e)) == NULL ||
	    db_begin(db, &e) == -1)
		goto fail;
	if ((r = db_query(db, "SELECT access_token FROM public.shops WHERE "
	    "id = $1::uuid FOR UPDATE", 1, p, &e)) == NULL || PQntuples(r) != 1
	    || PQgetisnull(r, 0, 0))
		goto fail;
	if ((crypto_is_sealed(PQgetvalue(r, 0, 0)) ? shop_open(c->cfg,
	    c->shop_id, "access_token", PQgetvalue(r, 0, 0), &plain, &e) :
	    ((plain = strdup(PQgetvalue(r, 0, 0))) != NULL ? 0 : -1)) == -1)
		goto fail;
	if (strcmp(plain, token) != 0 || set_status(db, c->shop_id, st,
	    reason, NULL, &changed, &e) == -1)
		goto fail;
	if (db_commit(db, &e) == 0)
		goto out;
fail:
	if (e.code[0] != '\0')
		log_warn("shop %s: status %s not recorded: %s", c->shop_id,
		    shop_status_name(st), e.msg);
out:
	if (db != NULL)
		db_rollback(db);
	db_close(&own);
	crypto_free_secret(plain);
	if (r != NULL)
		clear_row(r);
}

int
shop_client_open(struct shopify *s, struct db *db,
    const struct rb_config *cfg, struct http_client *http,
    const char *shop_id, unsigned flags, struct rb_err *err)
{
	struct shop_client *c = NULL;
	struct shop sh;
	char *token = NULL;
	long long exp;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (shop_load(db, shop_id, NULL, &sh, err) == -1 ||
	    shop_token_get(db, cfg, http, shop_id, flags, NULL, &token, &exp,
	    err) == -1)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	if (shopify_open(s, http, cfg, sh.domain, token, err) == -1)
		goto out;
	c->db = db;
	c->cfg = cfg;
	c->http = http;
	rb_strlcpy(c->shop_id, shop_id, sizeof(c->shop_id));
	c->flags = flags & SHOP_TOKEN_NO_RENEW;
	s->renew = client_renew;
	s->refused = client_refused;
	s->hook_arg = c;
	s->renew_at = renew_at(exp);
	if (s->renew_at > 0 && s->renew_at <= (long long)time(NULL))
		s->renew_at = exp;
	c = NULL;
	rc = 0;
out:
	free(c);
	crypto_free_secret(token);
	return rc;
}
