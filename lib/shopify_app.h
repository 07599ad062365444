/*
 * shopify_app.h - the ReBoss app of Shopify's Dev Dashboard: its install
 * flow (authorization code grant) and its webhooks.
 * Owner: the "install" module (lib/shopify_app.c); used by
 * fcgi/routes_shopify_app.c, the fuzzers and the unit tests.
 *
 * The checks are pure functions (no database, no clock of their own), so
 * that the fuzz harnesses and unit tests reach exactly what the API runs:
 *
 *  - the callback query: hex HMAC-SHA256, keyed with the app's client
 *    secret, over the percent-decoded pairs without "hmac" (and
 *    "signature"), sorted by key, each key and value encoded again as
 *    application/x-www-form-urlencoded with %20 for a space, joined with
 *    '&' (what Shopify's own shopify-api-js computes);
 *  - a webhook: base64 HMAC-SHA256 of the raw body, same key.
 * Both compare in constant time before anything else of the request is
 * trusted.
 *
 * Error codes (the "?error=" values of the callback, the webhook's 401):
 *   invalid_hmac       hmac missing, malformed or not matching
 *   invalid_callback   a required parameter missing or malformed, a key
 *                      twice, bad %-escapes, too many or too long pairs
 *   invalid_shop_domain the shop parameter is not NAME.myshopify.com
 *   stale_callback     the timestamp is too old or in the future
 * Never a code, token or secret in an err or a log line.
 */
#ifndef RB_SHOPIFY_APP_H
#define RB_SHOPIFY_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "rb.h"
#include "shopify.h"

struct rb_config;
struct http_client;
struct rb_buf;

#define SHOPIFY_APP_QUERY_MAX	4096	/* bytes of a callback query */
#define SHOPIFY_APP_PAIRS_MAX	16	/* pairs of a callback query */
#define SHOPIFY_APP_VALUE_MAX	512	/* bytes of one decoded value */
#define SHOPIFY_APP_CODE_MAX	256	/* authorization code */
#define SHOPIFY_APP_STATE_MAX	64
#define SHOPIFY_APP_SCOPES_MAX	1024
/* How old a callback's timestamp may be, and how far in the future
 * (clock skew).  Shopify's own library allows 90 s either way; a person
 * on a slow connection gets a little more on the past side. */
#define SHOPIFY_APP_TS_PAST_S	300
#define SHOPIFY_APP_TS_FUTURE_S	90

/* {shopify_base_url with {shop} = domain}{path}; domain must be a
 * shopify_normalize_domain() result (checked again here). */
int	shopify_app_shop_url(const struct rb_config *cfg, const char *domain,
	    const char *path, char *out, size_t outsz, struct rb_err *err)
	    RB_WUR;
/* {api_url}/api/shopify/callback */
int	shopify_app_redirect_uri(const struct rb_config *cfg, char *out,
	    size_t outsz, struct rb_err *err) RB_WUR;
/* The consent URL {shop}/admin/oauth/authorize?client_id&scope&
 * redirect_uri&state (offline access: no grant_options[]).  Owned by the
 * caller. */
int	shopify_app_consent_url(const struct rb_config *cfg,
	    const char *domain, const char *state, char **url,
	    struct rb_err *err) RB_WUR;

/* What a verified callback says. */
struct shopify_callback {
	char		code[SHOPIFY_APP_CODE_MAX + 1];
	char		shop[SHOPIFY_DOMAIN_MAX];	/* normalized */
	char		state[SHOPIFY_APP_STATE_MAX + 1];
	long long	timestamp;			/* seconds */
};

/* The message the callback's HMAC signs (into msg, reset first) and the
 * hmac parameter as received (hex, into hmac; "" when absent).  -1 with
 * invalid_callback when the query cannot be parsed. */
int	shopify_app_query_message(const char *query, struct rb_buf *msg,
	    char hmac[65], struct rb_err *err) RB_WUR;
/* Verifies the HMAC of a raw callback query (what follows '?', as
 * received), then reads code, shop, state and timestamp.  Nothing of the
 * query is looked at before the HMAC matched.  cb is zeroed on failure. */
int	shopify_app_verify_callback(const char *query, const char *secret,
	    struct shopify_callback *cb, struct rb_err *err) RB_WUR;
/* -1 stale_callback unless now - SHOPIFY_APP_TS_PAST_S <= ts <=
 * now + SHOPIFY_APP_TS_FUTURE_S. */
int	shopify_app_check_timestamp(long long ts, long long now,
	    struct rb_err *err) RB_WUR;

/* A webhook's X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body
 * with the client secret); -1 with 401 invalid_hmac when it is missing,
 * malformed or does not match. */
int	shopify_app_verify_webhook(const void *body, size_t len,
	    const char *hmac_b64, const char *secret, struct rb_err *err)
	    RB_WUR;

/* HMAC-SHA256 of data with secret, as 64 lower-case hex digits or as
 * base64 (45 bytes with NUL): the fake, the unit tests and the fuzzers
 * compute their references with these. */
int	shopify_app_hmac_hex(const char *secret, const void *data, size_t len,
	    char out[65]) RB_WUR;
int	shopify_app_hmac_b64(const char *secret, const void *data, size_t len,
	    char out[45]) RB_WUR;

/* The token endpoint's answer (authorization_code grant). */
struct shopify_app_tokens {
	char		*access_token;		/* wiped by _free */
	char		*refresh_token;		/* NULL when none came */
	long long	 expires_in;		/* -1: none (non-expiring) */
	long long	 refresh_expires_in;	/* -1: unknown */
	char		 scope[SHOPIFY_APP_SCOPES_MAX];	/* as granted */
	/* A refusal (status not 200, not 5xx): the status and Shopify's
	 * error word ("invalid_grant"); 0 and "" otherwise. */
	long		 status;
	char		 error[72];
};
void	shopify_app_tokens_free(struct shopify_app_tokens *t);
/* 200 with access_token -> 0; anything else -1 with
 * token_exchange_failed (4xx, bad body) or provider_unreachable (5xx).
 * Shopify's error word (e.g. invalid_request) goes into err->msg. */
int	shopify_app_parse_token_response(long status, const char *body,
	    size_t len, struct shopify_app_tokens *t, struct rb_err *err)
	    RB_WUR;
/* POST {shop}/admin/oauth/access_token {client_id, client_secret, code,
 * expiring: "1"} once (a code is single use). */
int	shopify_app_exchange_code(struct http_client *http,
	    const struct rb_config *cfg, const char *domain, const char *code,
	    struct shopify_app_tokens *t, struct rb_err *err) RB_WUR;
/* POST {grant_type: refresh_token, refresh_token, client_id,
 * client_secret} once: a new access token and a NEW refresh token (Shopify
 * rotates it; the previous one stays valid until the new one is used). */
int	shopify_app_refresh(struct http_client *http,
	    const struct rb_config *cfg, const char *domain,
	    const char *refresh_token, struct shopify_app_tokens *t,
	    struct rb_err *err) RB_WUR;
/* POST {grant_type: client_credentials, client_id, client_secret} once,
 * with the owner's own Dev Dashboard app: a 24-hour token, no refresh
 * token (only for stores of the app's own organization). */
int	shopify_app_client_credentials(struct http_client *http,
	    const struct rb_config *cfg, const char *domain,
	    const char *client_id, const char *client_secret,
	    struct shopify_app_tokens *t, struct rb_err *err) RB_WUR;

#endif
