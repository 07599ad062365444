/*
 * integrations.h - a shop's linked Pinterest, Meta and Google accounts as
 * stored in pinterest_auth, meta_auth and google_auth (sql/003).
 * Owner: the "oauth" module.  Used by fcgi/routes_oauth.c,
 * fcgi/routes_shops.c and the jobs (pinterest_sync asks for a valid token
 * with integrations_get_token() and hands its client
 * integrations_renew_token(): clients never reach into this storage).
 *
 * Tokens are sealed at rest with aad "<table>.<column>:<shop uuid>".
 * Error codes: integration_not_connected (404), integration_broken (409,
 * the provider refused the refresh: the owner must link again),
 * integration_expired (409, Meta's token ran out), provider_unreachable
 * (502), token_unreadable (500, token_key changed), database_*.
 */
#ifndef RB_INTEGRATIONS_H
#define RB_INTEGRATIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "oauth.h"
#include "rb.h"

struct db;
struct http_client;
struct rb_config;

/* A link whose renewal horizon (refresh token expiry, or the access
 * token's when there is no refresh token) is closer than this is
 * "expiring_soon". */
#define INTEGRATIONS_SOON_S	(7L * 24 * 3600)

/* Upserts the tokens of (shop, provider), sealed; clears "broken".  One
 * statement: nothing is half-stored. */
int	integrations_store(struct db *db, const struct rb_config *cfg,
	    const char *shop_id, enum oauth_provider p,
	    const struct oauth_tokens *t, struct rb_err *err) RB_WUR;

/* Deletes the stored link.  *token (may be NULL) receives the token to
 * revoke (Google: the refresh token, which revokes the grant; else the
 * access token), opened, or NULL when it does not open; wipe with
 * crypto_free_secret().  *existed: whether there was a row. */
int	integrations_delete(struct db *db, const struct rb_config *cfg,
	    const char *shop_id, enum oauth_provider p, char **token,
	    bool *existed, struct rb_err *err) RB_WUR;

/* A usable access token of (shop, provider), valid for at least
 * min_valid_s more seconds when the provider can refresh (Pinterest,
 * Google): refreshed under a row lock (two workers never refresh the
 * same link at once) and stored sealed.  When the provider refuses the
 * refresh, the link is marked broken and integration_broken returned.
 * When it cannot be reached, a still valid token is returned.
 * *access_token: wipe with crypto_free_secret(). */
int	integrations_get_token(struct db *db, struct http_client *http,
	    const struct rb_config *cfg, const char *shop_id,
	    enum oauth_provider p, long min_valid_s, char **access_token,
	    struct rb_err *err) RB_WUR;

/* A client's renewal callback (lib/pinterest.h pinterest_renew_fn): a
 * fresh access token of (shop, provider), refreshed now whatever its
 * expiry (a 401 said the stored one no longer works) and stored sealed.
 * arg is a struct integrations_renewal that outlives the client. */
struct integrations_renewal {
	struct db		*db;
	struct http_client	*http;
	const struct rb_config	*cfg;
	const char		*shop_id;
	enum oauth_provider	 provider;
};
int	integrations_renew_token(void *arg, char **access_token,
	    struct rb_err *err) RB_WUR;

/* {"pinterest": {...}, "meta": {...}, "google": {...}}, each
 * {connected, scopes[], expires_at, refresh_expires_at, expiring_soon,
 *  broken, broken_reason, connected_at, needs_reconnect} (times ISO 8601
 * UTC or null).  needs_reconnect: broken, or expired past what the server
 * can renew (Meta's token expired; a refresh token ran out): only the
 * owner linking again helps, and connected is false.
 * Never a token. */
int	integrations_status(struct db *db, const char *shop_id, json_t **out,
	    struct rb_err *err) RB_WUR;

#endif
