/*
 * oauth.h - OAuth 2.0 with Pinterest (v5), Meta (Graph) and Google.
 * Owner: the "oauth" module (lib/oauth.c); used by fcgi/routes_oauth.c and
 * lib/integrations.c.
 *
 * Pure parts (unit-tested): consent URLs, callback query checks, token
 * response parsing.  Provider calls go through lib/http with
 * retry_unsafe false (a code is used once) and a bounded answer.
 *
 * Error codes (err->code) of the provider calls, the "?error=" values the
 * dashboard sees:
 *   token_exchange_failed  the provider refused (4xx) or answered nonsense
 *   provider_unreachable   transport error, timeout or 5xx
 *   refresh_refused        (oauth_refresh) the provider refused the refresh
 *                          token: the link is broken, the owner must link
 *                          the account again
 * Never a token, code or secret in an err or a log line.
 */
#ifndef RB_OAUTH_H
#define RB_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

struct rb_config;
struct http_client;

enum oauth_provider {
	OAUTH_PINTEREST,
	OAUTH_META,
	OAUTH_GOOGLE,
	OAUTH__COUNT
};

#define OAUTH_STATE_BYTES	32	/* -> 43 base64url characters */
#define OAUTH_STATE_LEN		43
#define OAUTH_VERIFIER_BYTES	48	/* -> 64 characters (RFC 7636: 43..128) */
#define OAUTH_CODE_MAX		2048	/* longest authorization code accepted */
#define OAUTH_TOKEN_MAX		4096	/* longest token accepted from a provider */
#define OAUTH_SCOPES_MAX	512
#define OAUTH_RESPONSE_MAX	(64 * 1024)

/* "pinterest", "meta", "google"; NULL for an invalid value. */
const char *oauth_provider_name(enum oauth_provider p);
/* -1 when unknown. */
int	oauth_provider_from_name(const char *name);
/* "pinterest_auth", "meta_auth", "google_auth". */
const char *oauth_table(enum oauth_provider p);

/* {api_url}/api/oauth/{provider}/callback (api_url's trailing '/' dropped). */
int	oauth_redirect_uri(const struct rb_config *cfg, enum oauth_provider p,
	    char *out, size_t outsz, struct rb_err *err) RB_WUR;

/* The provider's consent URL (owned by the caller).  state: the value the
 * callback must bring back; code_challenge: PKCE S256 challenge (Google;
 * ignored by the others, may be NULL for them). */
int	oauth_consent_url(const struct rb_config *cfg, enum oauth_provider p,
	    const char *state, const char *code_challenge, char **url,
	    struct rb_err *err) RB_WUR;

/* What the callback query says.  code/state/error as received (NULL when
 * absent).  Returns 0 when a code and a well-formed state came; -1
 * otherwise with err->code:
 *   access_denied  the provider sent error=... (the user said no); a
 *                  well-formed state is still copied so the flow can end
 *   invalid_state  state missing or not of our shape
 *   invalid_callback  code missing, too long or of a bad charset
 * state_out gets the state when it is well formed (else ""). */
int	oauth_check_callback(const char *code, const char *state,
	    const char *error, char state_out[OAUTH_STATE_LEN + 1],
	    struct rb_err *err) RB_WUR;

/* Tokens from a token endpoint; the strings are owned and wiped by
 * oauth_tokens_free().  Times are seconds from the answer; -1 unknown. */
struct oauth_tokens {
	char		*access_token;
	char		*refresh_token;		/* NULL when none came */
	long long	 expires_in;
	long long	 refresh_expires_in;
	char		 scopes[OAUTH_SCOPES_MAX];	/* space-separated */
};
void	oauth_tokens_free(struct oauth_tokens *t);

/* Parses a token endpoint's answer (status, body).  2xx with the
 * provider's success shape -> 0; an error shape or a bad 2xx -> -1 with
 * token_exchange_failed (4xx, bad body) or provider_unreachable (5xx).
 * The provider's own error code (e.g. "invalid_grant") goes into
 * err->msg when it is a plain word; nothing else of the body does. */
int	oauth_parse_token_response(enum oauth_provider p, long status,
	    const char *body, size_t len, struct oauth_tokens *t,
	    struct rb_err *err) RB_WUR;

/* Exchanges an authorization code.  Meta: the code's token is exchanged
 * at once for the long-lived one (grant_type=fb_exchange_token).
 * Google: code_verifier is the PKCE verifier (required). */
int	oauth_exchange_code(struct http_client *http,
	    const struct rb_config *cfg, enum oauth_provider p,
	    const char *code, const char *code_verifier,
	    struct oauth_tokens *t, struct rb_err *err) RB_WUR;

/* Refreshes with a refresh token (Pinterest: continuous_refresh, a new
 * refresh token comes back; Google: the old refresh token stays, t has
 * refresh_token NULL).  Meta has no refresh: -1 "refresh_unsupported". */
int	oauth_refresh(struct http_client *http, const struct rb_config *cfg,
	    enum oauth_provider p, const char *refresh_token,
	    struct oauth_tokens *t, struct rb_err *err) RB_WUR;

/* Revokes the grant where the provider offers it: Google's revoke
 * endpoint (a token it already forgot counts as revoked); Meta's DELETE
 * /me/permissions with the user's token (an expired token cannot revoke:
 * -1 provider_refused).  Pinterest: nothing to call, *revoked false, 0. */
int	oauth_revoke(struct http_client *http, const struct rb_config *cfg,
	    enum oauth_provider p, const char *token, bool *revoked,
	    struct rb_err *err) RB_WUR;

#endif
