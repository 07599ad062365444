/*
 * shop.h - the one owner of a shop row and its Shopify credentials
 * (issue 14; PRODUCT.md "Connecting a shop").  Owner: the "connect" module.
 *
 * Everything that loads a shop, checks its owner, seals or opens one of
 * its credentials, stores a connection, changes its connection_status or
 * needs "a valid access token for shop X" goes through here: the API
 * (POST /api/shops, the install callback, the webhooks, get-collections),
 * the jobs (through job_shopify_open(), job.h) and rebossctl.
 *
 * Credentials at rest (table shops, sql/017_connect.sql): access_token,
 * refresh_token and shopify_client_secret are sealed (crypto.h) with the
 * aad "shops.<column>:<shop uuid>" built by shop_aad() alone.  No column
 * holding one is readable by the dashboard's role, and the dashboard can
 * neither insert shops nor write tokens, secrets or statuses.
 *
 * Three ways in (enum shop_auth), one row:
 *   legacy_token        a pasted shpat_ token, never expires, never renewed;
 *   app_install         the ReBoss app's authorization code grant: an
 *                       expiring offline token (1 h) and a refresh token
 *                       that rotates on every refresh;
 *   client_credentials  the owner's own Dev Dashboard app: client id and
 *                       (sealed) secret; tokens live 24 h and are fetched
 *                       again.
 *
 * Renewal (shop_token_get): a token is renewed SHOP_RENEW_MARGIN_S before
 * it expires, and once after Shopify answered 401 to it.  At most one
 * renewal per shop at a time across processes and hosts: the renewer holds
 * the shop's row lock (SELECT ... FOR UPDATE) and re-reads the row after
 * taking it, so a caller that waited gets the token the other one stored.
 * New tokens are committed before anyone uses them.  A refresh Shopify
 * refuses (invalid_grant, 401) sets reauthorize_required with the reason.
 * A refresh whose answer was lost is recovered: Shopify keeps the previous
 * refresh token valid until the new one is used, so the next attempt with
 * the stored (previous) refresh token succeeds.
 *
 * connection_status: connected, reauthorize_required, frozen, uninstalled,
 * with connection_reason and connection_changed_at.  Only connected shops
 * get a token (else -1 with code "shop_not_connected", status 409, and the
 * reason in err->msg).
 */
#ifndef RB_SHOP_H
#define RB_SHOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb.h"
#include "shopify.h"

struct db;
struct rb_config;
struct http_client;

/* Renew this long before a token's expiry (and treat it as expired). */
#define SHOP_RENEW_MARGIN_S	300
#define SHOP_REASON_MAX		512
#define SHOP_SCOPES_MAX		1024
#define SHOP_CLIENT_ID_MAX	128

enum shop_auth {
	SHOP_AUTH_LEGACY = 0,		/* "legacy_token" */
	SHOP_AUTH_APP_INSTALL,		/* "app_install" */
	SHOP_AUTH_CLIENT_CREDENTIALS	/* "client_credentials" */
};

enum shop_status {
	SHOP_CONNECTED = 0,		/* "connected" */
	SHOP_REAUTHORIZE,		/* "reauthorize_required" */
	SHOP_FROZEN,			/* "frozen" (Shopify 402/423) */
	SHOP_UNINSTALLED		/* "uninstalled" (webhook, 404) */
};

const char	*shop_auth_name(enum shop_auth a);
const char	*shop_status_name(enum shop_status s);
/* -1 when the text is none of the names. */
int		 shop_status_parse(const char *s, enum shop_status *out);
int		 shop_auth_parse(const char *s, enum shop_auth *out);

/* A shop as stored; never a credential. */
struct shop {
	char		 id[37];
	char		 user_id[37];
	char		 domain[SHOPIFY_DOMAIN_MAX];
	enum shop_auth	 auth;
	enum shop_status status;
	char		 reason[SHOP_REASON_MAX];	/* "" when none */
	char		 granted_scopes[SHOP_SCOPES_MAX];
	long long	 access_expires_at;	/* unix s; 0: never */
	long long	 refresh_expires_at;	/* unix s; 0: unknown */
};

/* Loads the shop.  user_id non-NULL: it must be that user's shop, else
 * 404 shop_not_found (another user's shop answers exactly like none). */
int	shop_load(struct db *db, const char *shop_id, const char *user_id,
	    struct shop *out, struct rb_err *err) RB_WUR;

/* The ONE aad builder: "shops.<column>:<shop_id>" (column one of
 * access_token, refresh_token, shopify_client_secret). */
int	shop_aad(const char *column, const char *shop_id, char *out,
	    size_t outsz, struct rb_err *err) RB_WUR;
/* Seal / open a value of that column of that shop (crypto.h); shop_open
 * refuses a value that is not sealed (500 token_unreadable).  *plain is
 * wiped and freed with crypto_free_secret(). */
int	shop_seal(const struct rb_config *cfg, const char *shop_id,
	    const char *column, const char *plain, char **sealed,
	    struct rb_err *err) RB_WUR;
int	shop_open(const struct rb_config *cfg, const char *shop_id,
	    const char *column, const char *sealed, char **plain,
	    struct rb_err *err) RB_WUR;

/* What a connect hands over (plain; sealed by the callee, never kept). */
struct shop_connect {
	enum shop_auth	 auth;
	const char	*access_token;
	long long	 expires_in;		/* s; -1: never expires */
	const char	*refresh_token;		/* app_install or NULL */
	long long	 refresh_expires_in;	/* s; -1: unknown */
	const char	*client_id;		/* client_credentials */
	const char	*client_secret;	/* client_credentials */
	const char	*scopes;		/* as granted, comma-separated */
	json_t		*shop_info;	/* shopify_get_shop()'s, or NULL */
};

/* Creates the user's shop or updates it (same user): the credentials of
 * its way in replace every earlier one (the other ways' columns are
 * cleared), status connected, reason cleared, connection_changed_at now.
 * Another user's shop: 409 shop_taken, nothing said about whose.  One
 * transaction.  *created tells which (may be NULL). */
int	shop_store_connect(struct db *db, const struct rb_config *cfg,
	    const char *user_id, const char *domain,
	    const struct shop_connect *c, char shop_id[37], bool *created,
	    struct rb_err *err) RB_WUR;

/* Sets the status with its reason (NULL clears it), connection_changed_at
 * when the status changes.  reauthorize_required and frozen replace only
 * connected (a shop already uninstalled stays so); uninstalled replaces
 * any.  connected is refused here: only shop_store_connect() restores a
 * shop.  No such row, or a status that does not apply: 0, nothing done. */
int	shop_set_status(struct db *db, const char *shop_id,
	    enum shop_status status, const char *reason, struct rb_err *err)
	    RB_WUR;
/* app/uninstalled (by domain): status uninstalled with the reason, every
 * Shopify credential of the shop deleted.  *found: a shop had it. */
int	shop_mark_uninstalled(struct db *db, const char *domain,
	    const char *reason, bool *found, struct rb_err *err) RB_WUR;

/* shop_token_get flags */
#define SHOP_TOKEN_RENEW	0x1	/* Shopify refused `refused`: renew
					 * unless someone already did */
#define SHOP_TOKEN_NO_RENEW	0x2	/* hand out, never renew nor write
					 * (a caller that must not) */

/* A valid access token of a connected shop (plain; the caller frees it
 * with crypto_free_secret) and its expiry (unix s, 0: never; may be NULL).
 * Renews it when it expires within SHOP_RENEW_MARGIN_S, or, with
 * SHOP_TOKEN_RENEW, when the stored token is still `refused`.  A legacy
 * token that Shopify refused cannot be renewed: the shop becomes
 * reauthorize_required.  http: the caller's client (for the renewal). */
int	shop_token_get(struct db *db, const struct rb_config *cfg,
	    struct http_client *http, const char *shop_id, unsigned flags,
	    const char *refused, char **token, long long *expires_at,
	    struct rb_err *err) RB_WUR;

/* Opens a Shopify client for a stored shop: the token from
 * shop_token_get(), the renewal callback wired (lib/shopify.c calls it
 * before a token runs out and once after a 401), and Shopify's refusals
 * turned into statuses: 401 after the renewal -> reauthorize_required,
 * 402/423 -> frozen, 404 -> uninstalled.  db must outlive the client. */
int	shop_client_open(struct shopify *s, struct db *db,
	    const struct rb_config *cfg, struct http_client *http,
	    const char *shop_id, unsigned flags, struct rb_err *err) RB_WUR;

/* For tests and for SHOP_TOKEN_*: counts of this process's renewals. */
long	shop_renewals(void);

#endif
