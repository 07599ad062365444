/*
 * integrations.c - stored links of a shop to Pinterest, Meta and Google
 * (see integrations.h).  Owner: the "oauth" module.
 *
 * SQL text is fixed per provider (tables differ: meta_auth has no refresh
 * token); values only ever travel as $n parameters.
 */
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "integrations.h"
#include "log.h"
#include "util.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- sealing -------------------------------------------------------------- */

static int
aad_for(enum oauth_provider p, const char *column, const char *shop_id,
    char *out, size_t outsz, struct rb_err *err)
{
	int w = snprintf(out, outsz, "%s.%s:%s", oauth_table(p), column,
	    shop_id);

	if (w < 0 || (size_t)w >= outsz)
		return rb_err_set(err, 500, "internal_error",
		    "The shop id is too long.");
	return 0;
}

static int
seal(const struct rb_config *cfg, enum oauth_provider p, const char *column,
    const char *shop_id, const char *plain, char **sealed, struct rb_err *err)
{
	char aad[128];

	*sealed = NULL;
	if (plain == NULL)
		return 0;
	if (aad_for(p, column, shop_id, aad, sizeof(aad), err) == -1)
		return -1;
	return crypto_seal(cfg->token_key, aad, plain, strlen(plain), sealed,
	    err);
}

/* Opens a stored value; a plain one (written by someone else) is refused:
 * this module only ever stores sealed values. */
static int
unseal(const struct rb_config *cfg, enum oauth_provider p, const char *column,
    const char *shop_id, const char *stored, char **plain, struct rb_err *err)
{
	char aad[128];
	size_t len;

	*plain = NULL;
	if (aad_for(p, column, shop_id, aad, sizeof(aad), err) == -1)
		return -1;
	if (!crypto_is_sealed(stored) || crypto_open(cfg->token_key, aad,
	    stored, plain, &len, err) == -1) {
		log_err("integrations: the stored %s.%s of shop %s does not "
		    "open", oauth_table(p), column, shop_id);
		return rb_err_set(err, 500, "token_unreadable",
		    "The stored %s credentials cannot be decrypted; link the "
		    "account again, or the operator must check token_key.",
		    oauth_provider_name(p));
	}
	return 0;
}

static void
wipe_result(PGresult *res)
{
	int r, c;

	if (res == NULL)
		return;
	for (r = 0; r < PQntuples(res); r++)
		for (c = 0; c < PQnfields(res); c++)
			if (!PQgetisnull(res, r, c)) {
				char *v = PQgetvalue(res, r, c);

				OPENSSL_cleanse(v, strlen(v));
			}
	PQclear(res);
}

/* ---- store ---------------------------------------------------------------- */

static const char *const store_sql[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] =
	    "INSERT INTO pinterest_auth (shop_id, access_token, refresh_token, "
	    "scopes, expires_at, refresh_expires_at, broken, broken_reason, "
	    "connected_at, refreshed_at) VALUES ($1, $2, $3, $4, "
	    "now() + make_interval(secs => $5::double precision), "
	    "now() + make_interval(secs => $6::double precision), false, NULL, "
	    "now(), NULL) ON CONFLICT (shop_id) DO UPDATE SET "
	    "access_token = EXCLUDED.access_token, "
	    "refresh_token = EXCLUDED.refresh_token, scopes = EXCLUDED.scopes, "
	    "expires_at = EXCLUDED.expires_at, "
	    "refresh_expires_at = EXCLUDED.refresh_expires_at, broken = false, "
	    "broken_reason = NULL, connected_at = now(), refreshed_at = NULL",
	[OAUTH_META] =
	    "INSERT INTO meta_auth (shop_id, access_token, scopes, expires_at, "
	    "broken, broken_reason, connected_at) VALUES ($1, $2, $4, "
	    "now() + make_interval(secs => $5::double precision), false, NULL, "
	    "now()) ON CONFLICT (shop_id) DO UPDATE SET "
	    "access_token = EXCLUDED.access_token, scopes = EXCLUDED.scopes, "
	    "expires_at = EXCLUDED.expires_at, broken = false, "
	    "broken_reason = NULL, connected_at = now() "
	    /* $3 and $6 (refresh token, its expiry) do not exist for Meta;
	     * every parameter must appear in the statement. */
	    "RETURNING $3::text IS NULL, $6::text IS NULL",
	[OAUTH_GOOGLE] =
	    "INSERT INTO google_auth (shop_id, access_token, refresh_token, "
	    "scopes, expires_at, refresh_expires_at, broken, broken_reason, "
	    "connected_at, refreshed_at) VALUES ($1, $2, $3, $4, "
	    "now() + make_interval(secs => $5::double precision), "
	    "now() + make_interval(secs => $6::double precision), false, NULL, "
	    "now(), NULL) ON CONFLICT (shop_id) DO UPDATE SET "
	    "access_token = EXCLUDED.access_token, "
	    "refresh_token = EXCLUDED.refresh_token, scopes = EXCLUDED.scopes, "
	    "expires_at = EXCLUDED.expires_at, "
	    "refresh_expires_at = EXCLUDED.refresh_expires_at, broken = false, "
	    "broken_reason = NULL, connected_at = now(), refreshed_at = NULL",
};

int
integrations_store(struct db *db, const struct rb_config *cfg,
    const char *shop_id, enum oauth_provider p, const struct oauth_tokens *t,
    struct rb_err *err)
{
	char *sa = NULL, *sr = NULL, exp[24], rexp[24];
	const char *params[6];
	PGresult *res = NULL;
	int rc = -1;

	if (oauth_table(p) == NULL || !rb_is_uuid(shop_id) ||
	    t->access_token == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "Nothing to store for this link.");
	if (seal(cfg, p, "access_token", shop_id, t->access_token, &sa,
	    err) == -1 ||
	    (p != OAUTH_META && seal(cfg, p, "refresh_token", shop_id,
	    t->refresh_token, &sr, err) == -1))
		goto fail;
	(void)snprintf(exp, sizeof(exp), "%lld", t->expires_in);
	(void)snprintf(rexp, sizeof(rexp), "%lld", t->refresh_expires_in);
	params[0] = shop_id;
	params[1] = sa;
	params[2] = sr;
	params[3] = t->scopes[0] ? t->scopes : NULL;
	params[4] = t->expires_in >= 0 ? exp : NULL;
	params[5] = t->refresh_expires_in >= 0 && sr != NULL ? rexp : NULL;
	if ((res = db_query(db, store_sql[p], 6, params, err)) == NULL)
		goto fail;
	rc = 0;
fail:
	PQclear(res);
	crypto_free_secret(sa);
	crypto_free_secret(sr);
	return rc;
}

/* ---- delete ---------------------------------------------------------------- */

static const char *const delete_sql[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "DELETE FROM pinterest_auth WHERE shop_id = $1 "
	    "RETURNING access_token, NULL::text",
	[OAUTH_META] = "DELETE FROM meta_auth WHERE shop_id = $1 "
	    "RETURNING access_token, NULL::text",
	[OAUTH_GOOGLE] = "DELETE FROM google_auth WHERE shop_id = $1 "
	    "RETURNING access_token, refresh_token",
};

int
integrations_delete(struct db *db, const struct rb_config *cfg,
    const char *shop_id, enum oauth_provider p, char **token, bool *existed,
    struct rb_err *err)
{
	const char *params[1] = { shop_id };
	PGresult *res;
	struct rb_err oerr;
	int col;

	if (token != NULL)
		*token = NULL;
	*existed = false;
	if (oauth_table(p) == NULL)
		return rb_err_set(err, 404, "unknown_provider",
		    "Unknown OAuth provider.");
	if ((res = db_query(db, delete_sql[p], 1, params, err)) == NULL)
		return -1;
	*existed = PQntuples(res) > 0;
	if (*existed && token != NULL) {
		/* Revoking Google's refresh token ends the whole grant. */
		col = !PQgetisnull(res, 0, 1) ? 1 : 0;
		rb_err_clear(&oerr);
		if (!PQgetisnull(res, 0, col) && unseal(cfg, p,
		    col == 1 ? "refresh_token" : "access_token", shop_id,
		    PQgetvalue(res, 0, col), token, &oerr) == -1)
			*token = NULL;	/* deleted anyway; nothing to revoke */
	}
	wipe_result(res);
	return 0;
}

/* ---- get a valid token ------------------------------------------------------ */

static const char *const load_sql[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "SELECT access_token, refresh_token, "
	    "extract(epoch FROM expires_at - now())::bigint, broken "
	    "FROM pinterest_auth WHERE shop_id = $1 FOR UPDATE",
	[OAUTH_META] = "SELECT access_token, NULL::text, "
	    "extract(epoch FROM expires_at - now())::bigint, broken "
	    "FROM meta_auth WHERE shop_id = $1 FOR UPDATE",
	[OAUTH_GOOGLE] = "SELECT access_token, refresh_token, "
	    "extract(epoch FROM expires_at - now())::bigint, broken "
	    "FROM google_auth WHERE shop_id = $1 FOR UPDATE",
};

/* After a refresh: new access token, maybe a new refresh token (Pinterest
 * rotates it; Google keeps the old one: COALESCE). */
static const char *const refreshed_sql[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "UPDATE pinterest_auth SET access_token = $2, "
	    "refresh_token = COALESCE($3, refresh_token), "
	    "scopes = COALESCE($4, scopes), "
	    "expires_at = now() + make_interval(secs => $5::double precision), "
	    "refresh_expires_at = CASE WHEN $3 IS NULL THEN refresh_expires_at "
	    "ELSE now() + make_interval(secs => $6::double precision) END, "
	    "refreshed_at = now() WHERE shop_id = $1",
	[OAUTH_META] = NULL,
	[OAUTH_GOOGLE] = "UPDATE google_auth SET access_token = $2, "
	    "refresh_token = COALESCE($3, refresh_token), "
	    "scopes = COALESCE($4, scopes), "
	    "expires_at = now() + make_interval(secs => $5::double precision), "
	    "refresh_expires_at = CASE WHEN $3 IS NULL THEN refresh_expires_at "
	    "ELSE now() + make_interval(secs => $6::double precision) END, "
	    "refreshed_at = now() WHERE shop_id = $1",
};

static const char *const broken_sql[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "UPDATE pinterest_auth SET broken = true, "
	    "broken_reason = $2 WHERE shop_id = $1",
	[OAUTH_META] = "UPDATE meta_auth SET broken = true, "
	    "broken_reason = $2 WHERE shop_id = $1",
	[OAUTH_GOOGLE] = "UPDATE google_auth SET broken = true, "
	    "broken_reason = $2 WHERE shop_id = $1",
};

int
integrations_get_token(struct db *db, struct http_client *http,
    const struct rb_config *cfg, const char *shop_id, enum oauth_provider p,
    long min_valid_s, char **access_token, struct rb_err *err)
{
	const char *params[6];
	PGresult *res = NULL;
	struct oauth_tokens t;
	struct rb_err rerr;
	char *refresh = NULL, *sa = NULL, *sr = NULL, exp[24], rexp[24];
	long long left = -1;
	bool has_exp, in_tx = false;
	int rc = -1;

	*access_token = NULL;
	memset(&t, 0, sizeof(t));
	if (oauth_table(p) == NULL || !rb_is_uuid(shop_id))
		return rb_err_set(err, 500, "internal_error",
		    "Bad provider or shop id.");
	if (db_begin(db, err) == -1)
		return -1;
	in_tx = true;
	params[0] = shop_id;
	if ((res = db_query(db, load_sql[p], 1, params, err)) == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		rb_err_set(err, 404, "integration_not_connected",
		    "No %s account is linked to this shop; link one in the "
		    "dashboard.", oauth_provider_name(p));
		goto fail;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		rb_err_set(err, 409, "integration_broken",
		    "The %s link of this shop stopped working; link the "
		    "account again in the dashboard.", oauth_provider_name(p));
		goto fail;
	}
	has_exp = !PQgetisnull(res, 0, 2);
	if (has_exp) {
		long v;

		if (rb_parse_long(PQgetvalue(res, 0, 2), -(1L << 40), 1L << 40,
		    &v) == -1) {
			rb_err_set(err, 500, "internal_error",
			    "The stored expiry of this link is unreadable.");
			goto fail;
		}
		left = v;
	}
	if (unseal(cfg, p, "access_token", shop_id, PQgetvalue(res, 0, 0),
	    access_token, err) == -1)
		goto fail;
	if (!has_exp || left >= min_valid_s) {
		rc = 0;
		goto fail;	/* commit below: nothing changed */
	}
	if (p == OAUTH_META || PQgetisnull(res, 0, 1)) {
		if (left > 0) {
			rc = 0;		/* cannot refresh; still valid */
			goto fail;
		}
		rb_err_set(err, 409, "integration_expired",
		    "The %s link of this shop has expired; link the account "
		    "again in the dashboard.", oauth_provider_name(p));
		goto fail;
	}
	if (unseal(cfg, p, "refresh_token", shop_id, PQgetvalue(res, 0, 1),
	    &refresh, err) == -1)
		goto fail;
	rb_err_clear(&rerr);
	if (oauth_refresh(http, cfg, p, refresh, &t, &rerr) == -1) {
		if (strcmp(rerr.code, "refresh_refused") == 0) {
			params[1] = rerr.msg;
			if (db_exec(db, broken_sql[p], 2, params, err) == -1 ||
			    db_commit(db, err) == -1)
				goto fail;
			in_tx = false;
			log_warn("integrations: %s refused the refresh of shop "
			    "%s; the link is marked broken",
			    oauth_provider_name(p), shop_id);
			rb_err_set(err, 409, "integration_broken",
			    "%s refused to renew the link of this shop; link "
			    "the account again in the dashboard.",
			    oauth_provider_name(p));
			goto fail;
		}
		if (left > 0) {
			log_warn("integrations: refreshing the %s token of shop "
			    "%s failed (%s); using the current one",
			    oauth_provider_name(p), shop_id, rerr.code);
			rc = 0;
			goto fail;
		}
		*err = rerr;
		goto fail;
	}
	if (seal(cfg, p, "access_token", shop_id, t.access_token, &sa,
	    err) == -1 || seal(cfg, p, "refresh_token", shop_id,
	    t.refresh_token, &sr, err) == -1)
		goto fail;
	(void)snprintf(exp, sizeof(exp), "%lld", t.expires_in);
	(void)snprintf(rexp, sizeof(rexp), "%lld", t.refresh_expires_in);
	params[1] = sa;
	params[2] = sr;
	params[3] = t.scopes[0] ? t.scopes : NULL;
	params[4] = t.expires_in >= 0 ? exp : NULL;
	params[5] = t.refresh_expires_in >= 0 ? rexp : NULL;
	if (db_exec(db, refreshed_sql[p], 6, params, err) == -1 ||
	    db_commit(db, err) == -1)
		goto fail;
	in_tx = false;
	crypto_free_secret(*access_token);
	if ((*access_token = strdup(t.access_token)) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	log_info("integrations: refreshed the %s token of shop %s",
	    oauth_provider_name(p), shop_id);
	rc = 0;
fail:
	if (in_tx) {
		if (rc == 0) {
			if (db_commit(db, err) == -1)
				rc = -1;
		} else
			db_rollback(db);
	}
	if (rc == -1) {
		crypto_free_secret(*access_token);
		*access_token = NULL;
	}
	wipe_result(res);
	crypto_free_secret(refresh);
	crypto_free_secret(sa);
	crypto_free_secret(sr);
	oauth_tokens_free(&t);
	return rc;
}

int
integrations_renew_token(void *arg, char **access_token, struct rb_err *err)
{
	const struct integrations_renewal *r = arg;

	/* A horizon no token reaches: the token is refreshed now. */
	return integrations_get_token(r->db, r->http, r->cfg, r->shop_id,
	    r->provider, LONG_MAX / 2, access_token, err);
}

/* ---- status ------------------------------------------------------------------ */

/* Whether a link the server renews can no longer be renewed: its refresh
 * token ran out, or it has none and the access token did. */
#define RENEWABLE_GONE "coalesce(CASE WHEN refresh_token IS NOT NULL THEN " \
	"refresh_expires_at <= now() ELSE expires_at <= now() END, false)"

int
integrations_status(struct db *db, const char *shop_id, json_t **out,
    struct rb_err *err)
{
	static const char sql[] =
	    "SELECT 'pinterest', scopes, " ISO("expires_at") ", "
	    ISO("refresh_expires_at") ", broken, broken_reason, "
	    ISO("connected_at") ", CASE WHEN refresh_token IS NOT NULL THEN "
	    "refresh_expires_at IS NOT NULL AND refresh_expires_at < now() + "
	    "make_interval(secs => $2::double precision) ELSE expires_at IS "
	    "NOT NULL AND expires_at < now() + make_interval(secs => "
	    "$2::double precision) END, " RENEWABLE_GONE " FROM pinterest_auth "
	    "WHERE shop_id = $1 "
	    "UNION ALL "
	    "SELECT 'meta', scopes, " ISO("expires_at") ", NULL, broken, "
	    "broken_reason, " ISO("connected_at") ", expires_at IS NOT NULL "
	    "AND expires_at < now() + make_interval(secs => $2::double "
	    "precision), coalesce(expires_at <= now(), false) FROM meta_auth "
	    "WHERE shop_id = $1 "
	    "UNION ALL "
	    "SELECT 'google', scopes, " ISO("expires_at") ", "
	    ISO("refresh_expires_at") ", broken, broken_reason, "
	    ISO("connected_at") ", CASE WHEN refresh_token IS NOT NULL THEN "
	    "refresh_expires_at IS NOT NULL AND refresh_expires_at < now() + "
	    "make_interval(secs => $2::double precision) ELSE expires_at IS "
	    "NOT NULL AND expires_at < now() + make_interval(secs => "
	    "$2::double precision) END, " RENEWABLE_GONE " FROM google_auth "
	    "WHERE shop_id = $1";
	const char *params[2];
	char soon[24];
	PGresult *res = NULL;
	json_t *o = NULL, *e, *sc;
	int i, r, rc = -1;

	*out = NULL;
	(void)snprintf(soon, sizeof(soon), "%ld", INTEGRATIONS_SOON_S);
	params[0] = shop_id;
	params[1] = soon;
	if ((res = db_query(db, sql, 2, params, err)) == NULL)
		return -1;
	if ((o = json_object()) == NULL)
		goto oom;
	for (i = 0; i < OAUTH__COUNT; i++) {
		e = json_pack("{s:b,s:[],s:n,s:n,s:b,s:b,s:n,s:n,s:b}",
		    "connected", 0, "scopes", "expires_at", "refresh_expires_at",
		    "expiring_soon", 0, "broken", 0, "broken_reason",
		    "connected_at", "needs_reconnect", 0);
		if (e == NULL || json_object_set_new(o,
		    oauth_provider_name((enum oauth_provider)i), e) == -1)
			goto oom;
	}
	for (r = 0; r < PQntuples(res); r++) {
		const char *s;
		char word[OAUTH_SCOPES_MAX];
		size_t n;
		bool broken = strcmp(PQgetvalue(res, r, 4), "t") == 0;
		/* Broken, or expired past what the server can renew (Meta:
		 * any expired token): only the owner linking again helps. */
		bool gone = broken || strcmp(PQgetvalue(res, r, 8), "t") == 0;

		e = json_object_get(o, PQgetvalue(res, r, 0));
		if (e == NULL)
			continue;
		sc = json_object_get(e, "scopes");
		for (s = PQgetvalue(res, r, 1); *s != '\0'; s += n) {
			while (*s == ' ')
				s++;
			n = strcspn(s, " ");
			if (n == 0)
				break;
			if (n >= sizeof(word))
				continue;
			memcpy(word, s, n);
			word[n] = '\0';
			if (json_array_append_new(sc, json_string(word)) == -1)
				goto oom;
		}
#define SET_OPT(key, col) \
		if (!PQgetisnull(res, r, col) && json_object_set_new(e, key, \
		    json_string(PQgetvalue(res, r, col))) == -1) \
			goto oom
		SET_OPT("expires_at", 2);
		SET_OPT("refresh_expires_at", 3);
		SET_OPT("broken_reason", 5);
		SET_OPT("connected_at", 6);
#undef SET_OPT
		if (json_object_set_new(e, "connected", json_boolean(!gone))
		    == -1 || json_object_set_new(e, "needs_reconnect",
		    json_boolean(gone)) == -1 || json_object_set_new(e, "broken",
		    json_boolean(broken)) == -1 ||
		    json_object_set_new(e, "expiring_soon", json_boolean(
		    strcmp(PQgetvalue(res, r, 7), "t") == 0)) == -1)
			goto oom;
	}
	*out = o;
	o = NULL;
	rc = 0;
	goto out;
oom:
	rb_err_oom(err);
out:
	json_decref(o);
	PQclear(res);
	return rc;
}
