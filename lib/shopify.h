/*
 * shopify.h - the Shopify Admin GraphQL client.
 *
 * shopify_normalize_domain() is the only way a user-supplied shop reaches a
 * URL: it accepts "name" or "name.myshopify.com" (scheme and one trailing
 * '/' stripped, lower-cased, name = letters, digits, hyphens) and refuses
 * everything else with "invalid_shop_domain" before any connection.
 *
 * Failures map Shopify's answers to stable codes (see shopify_map_status):
 * shopify_invalid_token 401->400, shopify_payment_required 402, 
 * shopify_missing_scope 403, shopify_shop_not_found 404, shopify_shop_locked
 * 423, shopify_unavailable 5xx->502, shopify_timeout 504,
 * shopify_throttled 503, shopify_bad_response 502, shopify_graphql_error 502.
 */
#ifndef RB_SHOPIFY_H
#define RB_SHOPIFY_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "rb.h"

struct rb_config;
struct http_client;

#define SHOPIFY_DOMAIN_MAX	96	/* name (<= 63) + ".myshopify.com" + NUL */
#define SHOPIFY_TOKEN_MAX	256

int	shopify_normalize_domain(const char *in, char out[SHOPIFY_DOMAIN_MAX],
	    struct rb_err *err) RB_WUR;

struct shopify {
	struct http_client	*http;			/* borrowed */
	char			 domain[SHOPIFY_DOMAIN_MAX];
	char			 url[512];		/* .../graphql.json */
	char			 token[SHOPIFY_TOKEN_MAX]; /* wiped on close */
	long			 timeout_ms;		/* per request */
	int			 max_attempts;	/* HTTP tries per request; 0: lib/http's */
	int			 max_throttle_retries;
	volatile const sig_atomic_t *stop;
	/* Last extensions.cost.throttleStatus seen. */
	double			 available, maximum, restore_rate;
	double			 requested;	/* last requestedQueryCost */
	long			 requests, throttled_waits, throttle_wait_ms;
	long			 deprecations;		/* reserved */
	/* Set by the owner of the shop's credentials (shop_client_open(),
	 * lib/shop.c); this client never touches the database.  renew is
	 * called before a request once the clock reaches renew_at (0:
	 * never), and once per request after a 401 with the refused token;
	 * it writes the new token and the next renew_at.  refused is called
	 * when Shopify refused the shop for good (401 after the renewal,
	 * 402, 404, 423) with the token it refused.  shopify_close frees
	 * hook_arg when renew is set. */
	int			(*renew)(void *arg, const char *refused,
				    char token[SHOPIFY_TOKEN_MAX],
				    long long *renew_at, struct rb_err *err);
	void			(*refused)(void *arg, long status,
				    const char *token);
	void			*hook_arg;
	long long		 renew_at;		/* unix s */
	long			 renewed;	/* renew calls that succeeded */
};

/* domain must already be normalized; token is copied. */
int	shopify_open(struct shopify *s, struct http_client *http,
	    const struct rb_config *cfg, const char *domain, const char *token,
	    struct rb_err *err) RB_WUR;
void	shopify_close(struct shopify *s);

/* Runs one query or mutation; *data is a new reference to "data".
 * Waits for the cost bucket and retries THROTTLED. */
int	shopify_graphql(struct shopify *s, const char *query, json_t *vars,
	    json_t **data, struct rb_err *err) RB_WUR;

/* Runs a query with a $cursor variable over every page of the connection at
 * path (dot-separated inside data, e.g. "collections"), calling page() with
 * the page's "nodes" array (borrowed) and err: a page() that fails returns
 * -1 with err filled, which ends the walk. */
int	shopify_paginate(struct shopify *s, const char *query, json_t *vars,
	    const char *path, int (*page)(void *ctx, json_t *nodes,
	    struct rb_err *err), void *ctx, struct rb_err *err) RB_WUR;

/* The REST shop.json keys the dashboard knows, built from GraphQL. */
int	shopify_get_shop(struct shopify *s, json_t **shop, struct rb_err *err)
	    RB_WUR;
/* A connect's one request: the shop as shopify_get_shop() and the access
 * scopes the token was granted (currentAppInstallation.accessScopes),
 * comma-separated into scopes (shopify_scopes.h compares them). */
int	shopify_get_shop_scopes(struct shopify *s, json_t **shop,
	    char *scopes, size_t scopessz, struct rb_err *err) RB_WUR;
/* Every collection, PRODUCT.md's shape, custom and smart told apart. */
int	shopify_get_collections(struct shopify *s, json_t **collections,
	    struct rb_err *err) RB_WUR;

/* Pure helpers, unit-tested. */
int	shopify_map_status(long http_status, const char *body,
	    struct rb_err *err);	/* 0 for 2xx, else -1 and err */
long	shopify_throttle_wait_ms(double needed, double available,
	    double restore_rate);
/* "gid://shopify/Collection/123" -> 123; -1 if not that form. */
long long shopify_gid_id(const char *gid);
/* A mutation payload's first userErrors[] entry as "field.path: message"
 * (the message alone without a field; "error" without a message) into buf,
 * cut at size; true when the payload has userErrors.  The one parser of
 * userErrors: every job and rebossctl use it (fuzz/fuzz_catalog.c). */
bool	shopify_user_error(json_t *payload, char *buf, size_t size);

#endif
