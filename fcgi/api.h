/*
 * api.h - reboss-api, the FastCGI worker pool (PRODUCT.md "HTTP API").
 *
 * main.c    arguments, config, the listening socket
 * pool.c    prefork supervisor: N workers on one listening fd
 * request.c one worker: accept loop, params, body, auth, responses, logging
 * router.c  THE route table (one row per route) and path matching
 * routes_*.c handlers, each with the field spec of its JSON body
 *
 * Adding a route: write the handler (and its struct api_body when it takes
 * a JSON body) in a routes_*.c file, declare both below, add one row to
 * the table in router.c (and a new file to Makefile.am).  The router and
 * request.c do routing, 404/405, authentication (401), body cap (413),
 * content type (415), JSON parsing and field validation (400) before the
 * handler runs; the handler only does the work and fills ctx->reply.
 */
#ifndef RB_API_H
#define RB_API_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* By path: the build directory's autoconf config.h (found first through
 * -I.) has the same name. */
#include "config.h"
#include "db.h"
#include "jwt.h"
#include "rb.h"
#include "validate.h"

struct http_client;

/* ---- per-process state of one worker (request.c) ------------------------ */
struct api_worker {
	const struct rb_config	*cfg;
	struct db		 db;
	bool			 db_open;	/* db_connect() succeeded once */
	/* Health (db_alive): rb_mono_ms() of the last verified round trip
	 * (0: none yet) and how old it may be before "SELECT 1" again. */
	int64_t			 db_verified_ms;
	int64_t			 health_ping_ms;
	struct http_client	*http;		/* created after fork */
	struct jwt_keys		*jwt;		/* NULL: keys did not load */
};

/* ---- one request, as a handler sees it ---------------------------------- */
#define API_QUERY_MAX		16	/* key=value pairs kept */
#define API_QUERY_KEY_MAX	64
#define API_QUERY_VAL_MAX	512
#define API_EXTRA_HDR_MAX	4

struct api_query_pair {
	char	key[API_QUERY_KEY_MAX];
	char	value[API_QUERY_VAL_MAX];	/* percent-decoded, UTF-8 */
};

struct api_ctx {
	/* in */
	const struct rb_config	*cfg;
	struct api_worker	*worker;	/* use api_db() for the db */
	struct http_client	*http;
	const struct jwt_claims	*claims;	/* NULL on routes without auth */
	const char		*user_id;	/* claims->sub, or NULL */
	const struct field_value *fields;	/* one per spec row, same order */
	size_t			 nfields;
	char			 id[37];	/* "{id}" of the path, lower-case */
	int			 nquery;	/* query[0..nquery) are set */
	const char		*raw_query;	/* as received, "" when none */
	/* Routes with body == &api_raw_body: the body's bytes exactly as
	 * received (capped by api_body_max; not NUL-terminated). */
	const unsigned char	*raw_body;
	size_t			 raw_len;
	char *const		*envp;		/* FastCGI params (api_param) */
	const char		*request_id;
	volatile const sig_atomic_t *stop;	/* set on SIGTERM */
	/* out */
	int			 status;	/* 200 unless set */
	json_t			*reply;		/* owned; NULL: empty body */
	int			 nhdr;		/* hdr[0..nhdr) are set */
	/* The two arrays (~13 KB) stay last: request.c zeroes the struct
	 * only up to query (API_CTX_ZERO); nquery/nhdr say what is valid. */
	struct api_query_pair	 query[API_QUERY_MAX];
	struct {
		char	name[32];
		char	value[1024];
	} hdr[API_EXTRA_HDR_MAX];
};
#define API_CTX_ZERO	offsetof(struct api_ctx, query)

/* Returns 0 and fills ctx->reply/status, or -1 with err (any status). */
typedef int (*api_handler)(struct api_ctx *ctx, struct rb_err *err);

/* The JSON body a route takes: its field spec table (validate.h). */
struct api_body {
	const struct field_spec	*spec;
	size_t			 n;
};

/* A route whose body is read raw, not parsed (signed webhooks: the
 * signature covers the bytes as they came). */
extern const struct api_body api_raw_body;

#define API_PUBLIC	false
#define API_AUTH	true

struct api_route {
	const char		*method;	/* "GET", "POST", "DELETE" */
	const char		*pattern;	/* "/api/shops/{id}/integrations" */
	bool			 needs_auth;
	const struct api_body	*body;		/* NULL: no JSON body read */
	api_handler		 handler;
};

/* ---- helpers for handlers (request.c) ----------------------------------- */
/* The worker's database connection, connected on first use; NULL and a 503
 * "database_unavailable" in err when the server cannot be reached. */
struct db *api_db(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
/* A FastCGI param of the request ("HTTP_X_SHOPIFY_TOPIC"), or NULL. */
const char *api_param(const struct api_ctx *ctx, const char *name);
/* Value of a query-string key (first occurrence), or NULL. */
const char *api_query_get(const struct api_ctx *ctx, const char *key);
/* Adds a response header (e.g. Location for a 302); -1 when full/invalid. */
int	api_set_header(struct api_ctx *ctx, const char *name,
	    const char *value) RB_WUR;
/* Sets ctx->reply (taking the reference) and ctx->status; -1 on NULL. */
int	api_reply(struct api_ctx *ctx, int status, json_t *reply,
	    struct rb_err *err) RB_WUR;

/* ---- oauth_state.c: what the consent flows share ------------------------ */
#define OAUTH_STATE_TTL_S		600	/* a state lives 10 minutes */
#define OAUTH_STATES_PER_USER_MAX	50	/* live states per user at once */
/* 429 too_many_link_requests when the user holds too many live states. */
int	api_oauth_states_room(struct db *db, const char *user_id,
	    struct rb_err *err) RB_WUR;
/* A new random state, its SHA-256 (what is stored) and a row id. */
int	api_oauth_state_new(char state[64], char hash[64], char id[37],
	    struct rb_err *err) RB_WUR;
/* 302 to {frontend_url}/shops/{shop_id}?{key}={value}[&{xkey}={xvalue}],
 * or to {frontend_url}/?... when shop_id is NULL.  key, value and xkey are
 * fixed words; xvalue is URL-encoded. */
int	api_front_redirect(struct api_ctx *ctx, const char *shop_id,
	    const char *key, const char *value, const char *xkey,
	    const char *xvalue, struct rb_err *err) RB_WUR;

/* ---- router.c ------------------------------------------------------------ */
enum router_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Matches method and path against the table.  ROUTE_FOUND: *route set and
 * the "{id}" segment (if any) copied lower-cased into id.  ROUTE_BAD_METHOD:
 * allow holds "GET, POST" for the Allow header. */
enum router_result router_match(const char *method, const char *path,
	    const struct api_route **route, char id[37], char *allow,
	    size_t allowsz);
/* The route table; returns its number of rows.  A row's index is its
 * metrics slot; slot [rows] counts the requests no row matched. */
size_t	router_routes(const struct api_route **table);
/* Parses a query string into ctx->query; 400 "invalid_query" on
 * bad %-escapes, control characters, bad UTF-8 or too many/long pairs. */
int	router_parse_query(const char *qs, struct api_ctx *ctx,
	    struct rb_err *err) RB_WUR;

/* ---- handlers (routes_*.c) ----------------------------------------------- */
/* shopify_open() with the limits of an interactive request: a person is
 * waiting and a pool worker is busy, so short timeouts and few retries
 * (the whole call stays well inside nginx's fastcgi_read_timeout). */
struct shopify;
int	api_shopify_open(struct api_ctx *ctx, struct shopify *s,
	    const char *domain, const char *token, struct rb_err *err) RB_WUR;
/* The same for a stored shop of the caller (404 shop_not_found for
 * another user's): shop_client_open() (lib/shop.h), so the token is
 * renewed as needed and Shopify's refusals become the shop's status; a
 * shop that is not connected is 409 shop_not_connected. */
int	api_shopify_open_shop(struct api_ctx *ctx, struct shopify *s,
	    const char *shop_id, struct rb_err *err) RB_WUR;

int	h_health(struct api_ctx *ctx, struct rb_err *err) RB_WUR;

extern const struct api_body body_shopify_test_connection;
int	h_shopify_test_connection(struct api_ctx *ctx, struct rb_err *err)
	    RB_WUR;
extern const struct api_body body_shopify_get_collections;
int	h_shopify_get_collections(struct api_ctx *ctx, struct rb_err *err)
	    RB_WUR;

/* routes_shops.c (owner: shops) */
extern const struct api_body body_shops_create;
int	h_shops_create(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_shops_list(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_shops_integrations(struct api_ctx *ctx, struct rb_err *err) RB_WUR;

/* routes_dashboard.c (owner: dashboard) */
/* 0 when the path's {id} is a shop of the caller; else 404 shop_not_found
 * (another user's shop looks exactly like none). */
int	api_own_shop(struct api_ctx *ctx, struct db *db, struct rb_err *err)
	    RB_WUR;
int	h_shops_jobs(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_shops_roi(struct api_ctx *ctx, struct rb_err *err) RB_WUR;

/* routes_owner.c, routes_preview.c (owner: owner): the owner's actions */
extern const struct api_body body_owner_rollback;
int	h_owner_rollback(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
extern const struct api_body body_owner_retry;
int	h_owner_retry_design(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
extern const struct api_body body_owner_job;
int	h_owner_pause_job(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_owner_resume_job(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_owner_run_job(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_owner_replace_preview(struct api_ctx *ctx, struct rb_err *err)
	    RB_WUR;

/* routes_oauth.c (owner: oauth): one handler per provider and step */
extern const struct api_body body_oauth_start;
#define API_OAUTH_HANDLERS(name) \
int	h_oauth_start_##name(struct api_ctx *ctx, struct rb_err *err) RB_WUR; \
int	h_oauth_callback_##name(struct api_ctx *ctx, struct rb_err *err) \
	    RB_WUR; \
int	h_oauth_delete_##name(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
API_OAUTH_HANDLERS(pinterest)
API_OAUTH_HANDLERS(meta)
API_OAUTH_HANDLERS(google)
#undef API_OAUTH_HANDLERS

/* routes_shopify_app.c (owner: install): the ReBoss app's install flow
 * and its webhooks */
extern const struct api_body body_shopify_install;
int	h_shopify_install(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_shopify_callback(struct api_ctx *ctx, struct rb_err *err) RB_WUR;
int	h_shopify_webhooks(struct api_ctx *ctx, struct rb_err *err) RB_WUR;

/* ---- request.c / pool.c -------------------------------------------------- */
/* Serves requests on listen_fd until SIGTERM/SIGINT (or, pooled, SIGHUP:
 * retire after the current request); returns exit status. */
int	worker_run(const struct rb_config *cfg, int listen_fd, bool pooled);
/* Prefork supervisor; returns the exit status of the program.  SIGHUP
 * re-reads cfgpath into *cfg and replaces the workers (pool.c). */
int	pool_run(const char *cfgpath, struct rb_config *cfg, int listen_fd,
	    int workers);
/* The supervisor's MAP_SHARED per-route counters (metrics.h), inherited
 * by its workers; NULL in single-worker mode (no supervisor to write
 * them), where nothing is counted. */
extern struct metrics_api_slot *api_metrics;

#endif
