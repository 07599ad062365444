/*
 * oauth_state.c - what the two consent flows share: Pinterest/Meta/Google
 * linking (routes_oauth.c) and the ReBoss app's install (routes_shopify_app.c).
 * Owner: the "oauth" module.
 *
 * A state is 32 random bytes (base64url) sent to the provider; only its
 * SHA-256 is stored in oauth_states, with a new row id.  A user may hold
 * OAUTH_STATES_PER_USER_MAX live states at once.  Both callbacks end in a
 * 302 to the dashboard (frontend_url).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "http.h"
#include "oauth.h"
#include "util.h"

int
api_oauth_states_room(struct db *db, const char *user_id, struct rb_err *err)
{
	const char *params[1] = { user_id };
	PGresult *res;
	long live;

	if ((res = db_query(db, "SELECT count(*) FROM oauth_states WHERE "
	    "user_id = $1 AND used_at IS NULL AND expires_at > now()", 1,
	    params, err)) == NULL)
		return -1;
	if (rb_parse_long(PQgetvalue(res, 0, 0), 0, 1L << 40, &live) == -1)
		live = 0;
	PQclear(res);
	if (live >= OAUTH_STATES_PER_USER_MAX)
		return rb_err_set(err, 429, "too_many_link_requests",
		    "Too many installs or account links were started in the "
		    "last minutes; finish or wait ten minutes, then try again.");
	return 0;
}

int
api_oauth_state_new(char state[64], char hash[64], char id[37],
    struct rb_err *err)
{
	if (crypto_random_b64url(OAUTH_STATE_BYTES, state, 64) == -1 ||
	    strlen(state) != OAUTH_STATE_LEN ||
	    crypto_sha256_b64url(state, strlen(state), hash, 64) == -1 ||
	    rb_uuid_v4(id) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "No random state could be made; try again.");
	return 0;
}

int
api_front_redirect(struct api_ctx *ctx, const char *shop_id, const char *key,
    const char *value, const char *xkey, const char *xvalue,
    struct rb_err *err)
{
	char loc[1024], *enc = NULL;
	const char *f = ctx->cfg->frontend_url;
	size_t n;
	int w;

	if (f == NULL || f[0] == '\0')
		return rb_err_set(err, 503, "oauth_not_configured",
		    "frontend_url is not set in the configuration; the "
		    "operator must set it.");
	if (xkey != NULL && (enc = http_urlencode(xvalue)) == NULL)
		return rb_err_oom(err);
	n = strlen(f);
	while (n > 0 && f[n - 1] == '/')
		n--;
	w = snprintf(loc, sizeof(loc), "%.*s/%s%s?%s=%s%s%s%s%s", (int)n, f,
	    shop_id != NULL ? "shops/" : "", shop_id != NULL ? shop_id : "",
	    key, value, enc != NULL ? "&" : "", enc != NULL ? xkey : "",
	    enc != NULL ? "=" : "", enc != NULL ? enc : "");
	free(enc);
	if (w < 0 || (size_t)w >= sizeof(loc) ||
	    api_set_header(ctx, "Location", loc) == -1)
		return rb_err_set(err, 500, "oauth_not_configured",
		    "frontend_url is too long for a redirect.");
	json_decref(ctx->reply);
	ctx->reply = NULL;
	ctx->status = 302;
	return 0;
}
