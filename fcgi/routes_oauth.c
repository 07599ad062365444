/*
 * routes_oauth.c - linking Pinterest, Meta and Google accounts to a shop.
 * Owner: the "oauth" module.
 *
 *   POST   /api/oauth/{provider}/start {shop_id}   (auth) -> {"url": ...}
 *   GET    /api/oauth/{provider}/callback?code&state (no auth: the state is
 *          the proof) -> 302 {frontend_url}/shops/{shop}?{provider}=connected
 *          or ?error=<code>
 *   DELETE /api/oauth/{provider}?shop_id=          (auth)
 *
 * The router matches fixed paths only, so each provider has its own rows
 * and the thin h_oauth_*_{pinterest,meta,google} wrappers below.
 *
 * State: 32 random bytes (base64url) sent to the provider; only its
 * SHA-256 is stored (oauth_states), bound to user, shop and provider,
 * valid 10 minutes, used once (UPDATE ... WHERE used_at IS NULL; the row
 * stays a day so that a replay is recognised).  Google's PKCE verifier is
 * stored sealed in the same row.
 *
 * Callback errors (?error=): access_denied, invalid_state, expired_state,
 * state_reused, invalid_callback, token_exchange_failed,
 * provider_unreachable, oauth_not_configured, storage_failed.  Without a
 * known state no shop is known, and the redirect goes to {frontend_url}/.
 * A state whose shop no longer belongs to the user who started the flow is
 * refused as invalid_state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "crypto.h"
#include "http.h"
#include "integrations.h"
#include "log.h"
#include "oauth.h"
#include "util.h"


static void
cleanse_str(char *s)
{
	OPENSSL_cleanse(s, strlen(s));
}

/* ---- shared ---------------------------------------------------------------- */

/* 404 unless shop_id is a shop of the caller. */
static int
own_shop(struct api_ctx *ctx, struct db *db, const char *shop_id,
    struct rb_err *err)
{
	const char *params[2] = { shop_id, ctx->user_id };
	PGresult *res;
	int n;

	if ((res = db_query(db, "SELECT 1 FROM shops WHERE id = $1 AND "
	    "user_id = $2", 2, params, err)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return rb_err_set(err, 404, "shop_not_found",
		    "No shop with this shop_id belongs to your account.");
	return 0;
}

/* ---- start ------------------------------------------------------------------ */

enum { OS_SHOP_ID };
static const struct field_spec oauth_start_fields[] = {
	[OS_SHOP_ID] = { .name = "shop_id", .type = FIELD_UUID,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_oauth_start = {
	oauth_start_fields, RB_NELEM(oauth_start_fields)
};

static int
oauth_start(struct api_ctx *ctx, enum oauth_provider p, struct rb_err *err)
{
	const char *shop_id = ctx->fields[OS_SHOP_ID].str;
	char state[64], hash[64], verifier[160], challenge[64], id[37];
	char *sealed = NULL, *url = NULL, aad[96];
	const char *params[7];
	char ttl[16];
	struct db *db;
	int rc = -1;

	verifier[0] = challenge[0] = state[0] = '\0';
	(void)snprintf(ttl, sizeof(ttl), "%d", OAUTH_STATE_TTL_S);
	if (config_require_oauth(ctx->cfg, oauth_provider_name(p), err) == -1)
		return -1;
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (own_shop(ctx, db, shop_id, err) == -1)
		return -1;
	if (api_oauth_states_room(db, ctx->user_id, err) == -1 ||
	    api_oauth_state_new(state, hash, id, err) == -1)
		goto fail;
	if (p == OAUTH_GOOGLE) {
		if (crypto_random_b64url(OAUTH_VERIFIER_BYTES, verifier,
		    sizeof(verifier)) == -1 || crypto_sha256_b64url(verifier,
		    strlen(verifier), challenge, sizeof(challenge)) == -1) {
			rb_err_set(err, 500, "internal_error",
			    "No PKCE verifier could be made; try again.");
			goto fail;
		}
		(void)snprintf(aad, sizeof(aad), "oauth_states.code_verifier:%s", id);
		if (crypto_seal(ctx->cfg->token_key, aad, verifier,
		    strlen(verifier), &sealed, err) == -1)
			goto fail;
	}
	if (oauth_consent_url(ctx->cfg, p, state, challenge, &url, err) == -1)
		goto fail;
	/* Old rows go: a day is long enough to recognise a replay. */
	if (db_exec(db, "DELETE FROM oauth_states WHERE created_at < now() - "
	    "interval '1 day'", 0, NULL, err) == -1)
		goto fail;
	params[0] = id;
	params[1] = hash;
	params[2] = ctx->user_id;
	params[3] = shop_id;
	params[4] = oauth_provider_name(p);
	params[5] = sealed;
	params[6] = ttl;
	if (db_exec(db, "INSERT INTO oauth_states (id, state_hash, user_id, "
	    "shop_id, provider, code_verifier, expires_at) VALUES ($1, $2, $3, "
	    "$4, $5, $6, now() + make_interval(secs => $7::double precision))",
	    7, params, err) == -1)
		goto fail;
	rc = api_reply(ctx, 200, json_pack("{s:s,s:s}", "url", url,
	    "provider", oauth_provider_name(p)), err);
fail:
	crypto_free_secret(sealed);
	crypto_free_secret(url);
	cleanse_str(state);
	cleanse_str(verifier);
	return rc;
}

/* ---- callback ------------------------------------------------------------------ */

static int
fail_redirect(struct api_ctx *ctx, enum oauth_provider p,
    const char *shop_id, const char *code, struct rb_err *err)
{
	log_notice("oauth: %s callback ends with error=%s%s%s",
	    oauth_provider_name(p), code, shop_id ? " for shop " : "",
	    shop_id ? shop_id : "");
	return api_front_redirect(ctx, shop_id, "error", code, NULL, NULL,
	    err);
}

static int
oauth_callback(struct api_ctx *ctx, enum oauth_provider p, struct rb_err *err)
{
	const char *code = api_query_get(ctx, "code");
	const char *perror = api_query_get(ctx, "error");
	char state[OAUTH_STATE_LEN + 1], hash[64], shop_id[37], aad[96];
	char *verifier = NULL;
	const char *params[2];
	PGresult *res = NULL;
	struct oauth_tokens t;
	struct rb_err cerr, xerr;
	struct db *db;
	const char *fail_code = NULL;
	bool shop_known = false;
	size_t vlen;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	rb_err_clear(&cerr);
	rb_err_clear(&xerr);
	shop_id[0] = '\0';
	if (oauth_check_callback(code, api_query_get(ctx, "state"), perror,
	    state, &cerr) == -1 && state[0] == '\0') {
		rc = fail_redirect(ctx, p, NULL, cerr.code, err);
		goto out;
	}
	if (crypto_sha256_b64url(state, strlen(state), hash, sizeof(hash)) ==
	    -1) {
		rb_err_set(err, 500, "internal_error", "Hashing failed.");
		goto out;
	}
	if ((db = api_db(ctx, err)) == NULL)
		goto out;
	params[0] = hash;
	params[1] = oauth_provider_name(p);
	/* Used once: only one request can flip used_at. */
	if ((res = db_query(db, "UPDATE oauth_states st SET used_at = now() "
	    "WHERE state_hash = $1 AND provider = $2 AND used_at IS NULL "
	    "RETURNING id, shop_id, code_verifier, expires_at <= now(), "
	    "EXISTS (SELECT 1 FROM shops s WHERE s.id = st.shop_id AND "
	    "s.user_id = st.user_id)", 2, params, err)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		if ((res = db_query(db, "SELECT shop_id FROM oauth_states "
		    "WHERE state_hash = $1 AND provider = $2 AND used_at IS "
		    "NOT NULL", 2, params, err)) == NULL)
			goto out;
		if (PQntuples(res) == 1) {
			rb_strlcpy(shop_id, PQgetvalue(res, 0, 0),
			    sizeof(shop_id));
			fail_code = "state_reused";
			shop_known = true;
		} else
			fail_code = "invalid_state";
		goto refuse;
	}
	rb_strlcpy(shop_id, PQgetvalue(res, 0, 1), sizeof(shop_id));
	if (strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
		fail_code = "invalid_state";	/* not the shop owner's flow */
		goto refuse;
	}
	shop_known = true;
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		fail_code = "expired_state";
		goto refuse;
	}
	if (cerr.code[0] != '\0') {	/* access_denied, invalid_callback */
		fail_code = cerr.code;
		goto refuse;
	}
	if (p == OAUTH_GOOGLE) {
		(void)snprintf(aad, sizeof(aad), "oauth_states.code_verifier:%s",
		    PQgetvalue(res, 0, 0));
		if (PQgetisnull(res, 0, 2) || crypto_open(ctx->cfg->token_key,
		    aad, PQgetvalue(res, 0, 2), &verifier, &vlen, &xerr) ==
		    -1) {
			log_err("oauth: the PKCE verifier of a google state "
			    "does not open");
			fail_code = "invalid_state";
			goto refuse;
		}
	}
	if (oauth_exchange_code(ctx->http, ctx->cfg, p, code, verifier, &t,
	    &xerr) == -1) {
		log_warn("oauth: %s code exchange for shop %s failed: %s",
		    oauth_provider_name(p), shop_id, xerr.msg);
		fail_code = xerr.code[0] ? xerr.code : "token_exchange_failed";
		goto refuse;
	}
	if (integrations_store(db, ctx->cfg, shop_id, p, &t, &xerr) == -1) {
		log_err("oauth: storing the %s link of shop %s failed: %s",
		    oauth_provider_name(p), shop_id, xerr.msg);
		fail_code = "storage_failed";
		goto refuse;
	}
	log_info("oauth: %s account linked to shop %s",
	    oauth_provider_name(p), shop_id);
	rc = api_front_redirect(ctx, shop_id, oauth_provider_name(p),
	    "connected", NULL, NULL, err);
	goto out;
refuse:
	rc = fail_redirect(ctx, p, shop_known ? shop_id : NULL, fail_code,
	    err);
out:
	if (res != NULL) {
		if (PQntuples(res) == 1 && PQnfields(res) > 2 &&
		    !PQgetisnull(res, 0, 2))
			cleanse_str(PQgetvalue(res, 0, 2));
		PQclear(res);
	}
	crypto_free_secret(verifier);
	oauth_tokens_free(&t);
	return rc;
}

/* ---- disconnect ---------------------------------------------------------------- */

static int
oauth_delete(struct api_ctx *ctx, enum oauth_provider p, struct rb_err *err)
{
	const char *shop_id = api_query_get(ctx, "shop_id");
	struct rb_err rerr;
	struct db *db;
	char *token = NULL, id[37];
	bool existed = false, revoked = false;
	int rc = -1;

	if (shop_id == NULL)
		return rb_err_set(err, 400, "missing_field",
		    "shop_id is required in the query string.");
	if (validate_uuid("shop_id", shop_id, err) == -1)
		return -1;
	rb_strlcpy(id, shop_id, sizeof(id));
	for (char *c = id; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (own_shop(ctx, db, id, err) == -1)
		return -1;
	if (integrations_delete(db, ctx->cfg, id, p, &token, &existed,
	    err) == -1)
		goto fail;
	rb_err_clear(&rerr);
	if (token != NULL && oauth_revoke(ctx->http, ctx->cfg, p, token,
	    &revoked, &rerr) == -1)
		log_warn("oauth: revoking the %s link of shop %s failed: %s "
		    "(deleted here anyway)", oauth_provider_name(p), id,
		    rerr.msg);
	log_info("oauth: %s link of shop %s %s%s", oauth_provider_name(p), id,
	    existed ? "deleted" : "was not there",
	    revoked ? " and revoked" : "");
	rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:s,s:b,s:b}",
	    "success", 1, "shop_id", id, "provider", oauth_provider_name(p),
	    "deleted", existed, "revoked", revoked), err);
fail:
	crypto_free_secret(token);
	return rc;
}

/* ---- one handler per provider (the router has fixed paths) ----------------------- */

#define PROVIDER_HANDLERS(name, P) \
int h_oauth_start_##name(struct api_ctx *ctx, struct rb_err *err) \
{ return oauth_start(ctx, P, err); } \
int h_oauth_callback_##name(struct api_ctx *ctx, struct rb_err *err) \
{ return oauth_callback(ctx, P, err); } \
int h_oauth_delete_##name(struct api_ctx *ctx, struct rb_err *err) \
{ return oauth_delete(ctx, P, err); }

PROVIDER_HANDLERS(pinterest, OAUTH_PINTEREST)
PROVIDER_HANDLERS(meta, OAUTH_META)
PROVIDER_HANDLERS(google, OAUTH_GOOGLE)
