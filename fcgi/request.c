/*
 * request.c - one reboss-api worker: the FastCGI accept loop and everything
 * a request goes through before and after its handler.
 *
 * Order of checks: params -> route (404/405) -> query (400) -> auth (401)
 * -> Content-Length cap (413, before reading) -> Content-Type (415) ->
 * body read (400 when short) -> JSON object (400) -> fields (400) ->
 * handler.  Every error body is {"success":false,"error":...,"code":...}.
 *
 * Signals: SIGTERM/SIGINT set w_stop and FCGX_ShutdownPending().  They are
 * blocked while a request is being served (so libfcgi's reads and writes
 * are not cut by EINTR) and unblocked only around FCGX_Accept_r(), which
 * the request was initialised to fail on EINTR: an idle worker ends at
 * once, a busy one after its current request.  SIGHUP (the supervisor's
 * reload, pool.c) sets w_retire: the same, except that upstream calls of
 * the request being served are not cut short.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api.h"
#include "env.h"
#include "migrate.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "request_parse.h"
#include "util.h"

#define ACCEPT_FAIL_MAX	50	/* consecutive accept failures: give up */
#define HEALTH_PING_MS	1000	/* health: "SELECT 1" at most this often */
#define REQID_POOL	1024	/* random bytes for 64 request ids */

static volatile sig_atomic_t w_stop, w_retire;

static void
on_term(int sig)
{
	if (sig == SIGHUP)
		w_retire = 1;
	else
		w_stop = 1;
	FCGX_ShutdownPending();
}

/* ---- helpers for handlers ----------------------------------------------- */

const struct api_body api_raw_body = { NULL, 0 };

const char *
api_param(const struct api_ctx *ctx, const char *name)
{
	size_t len = strlen(name);
	char *const *e;

	if (ctx->envp == NULL)
		return NULL;
	for (e = ctx->envp; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

struct db *
api_db(struct api_ctx *ctx, struct rb_err *err)
{
	struct api_worker *w = ctx->worker;

	if (!w->db_open) {
		memset(&w->db, 0, sizeof(w->db));
		w->db_verified_ms = 0;
		if (db_connect(&w->db, w->cfg->database_url, err) == -1) {
			db_close(&w->db);
			memset(&w->db, 0, sizeof(w->db));
			if (err != NULL && (err->status == 0 ||
			    err->code[0] == '\0'))
				rb_err_set(err, 503, "database_unavailable",
				    "The database cannot be reached; try again "
				    "in a moment.");
			return NULL;
		}
		/* A schema older than this program (an upgrade without its
		 * migration): every request that needs the database is
		 * refused with the jobs' message, checked again on the
		 * next connection (lib/migrate.h). */
		if (migrate_require(&w->db, MIGRATE_REQUIRED, err) == -1) {
			db_close(&w->db);
			memset(&w->db, 0, sizeof(w->db));
			if (err != NULL) {
				if (strcmp(err->code, "schema_outdated") == 0)
					err->status = 503;
				else
					rb_err_set(err, 503,
					    "database_unavailable", "The "
					    "database cannot be reached; try "
					    "again in a moment.");
			}
			return NULL;
		}
		w->db_open = true;
	}
	return &w->db;
}

static bool
header_text_ok(const char *s, bool name)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (name && !(c == '-' || (c >= '0' && c <= '9') ||
		    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

int
api_set_header(struct api_ctx *ctx, const char *name, const char *value)
{
	if (ctx->nhdr >= API_EXTRA_HDR_MAX || !header_text_ok(name, true) ||
	    !header_text_ok(value, false) || name[0] == '\0' ||
	    strlen(name) >= sizeof(ctx->hdr[0].name) ||
	    strlen(value) >= sizeof(ctx->hdr[0].value))
		return -1;
	rb_strlcpy(ctx->hdr[ctx->nhdr].name, name, sizeof(ctx->hdr[0].name));
	rb_strlcpy(ctx->hdr[ctx->nhdr].value, value,
	    sizeof(ctx->hdr[0].value));
	ctx->nhdr++;
	return 0;
}

int
api_reply(struct api_ctx *ctx, int status, json_t *reply, struct rb_err *err)
{
	if (reply == NULL)
		return rb_err_oom(err);
	json_decref(ctx->reply);
	ctx->reply = reply;
	ctx->status = status;
	return 0;
}

/* ---- response ------------------------------------------------------------ */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 423: return "Locked";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return status < 400 ? "OK" : "Error";
	}
}

/* Turns err into the contract's error body on ctx (status, reply). */
static void
set_error(struct api_ctx *ctx, const struct rb_err *err)
{
	int status = err->status >= 400 && err->status <= 599 ?
	    err->status : 500;
	const char *code = err->code[0] ? err->code : "internal_error";
	const char *msg = err->msg[0] ? err->msg :
	    "The server could not answer this request; try again later.";

	/* lib/db's sentences name hosts and sockets: for the operator's log
	 * (request.c logs every 5xx), not for the browser. */
	if (strcmp(code, "database_unavailable") == 0)
		msg = "The database is unavailable right now; try again in a "
		    "moment.";
	else if (strcmp(code, "database_error") == 0)
		msg = "A database error stopped this request; try again, and "
		    "tell the operator if it persists.";

	json_decref(ctx->reply);
	ctx->reply = json_pack("{s:b,s:s,s:s}", "success", 0, "error", msg,
	    "code", code);
	ctx->status = status;
}

/* libfcgi's FCGX_FPrintF has its own, smaller printf: the fixed headers
 * are built with one snprintf (the old four rb_buf_printf calls were two
 * vsnprintf each, a fifth of a health request); the rest is written piece
 * by piece with FCGX_PutStr (it copies into libfcgi's stream buffer). */
static void
write_response(FCGX_Request *req, struct api_ctx *ctx, bool head)
{
	static const char oom[] = "Status: 500 Internal Server Error\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n\r\n"
	    "{\"success\":false,\"error\":\"The server ran out of memory; "
	    "try again.\",\"code\":\"out_of_memory\"}";
	char fixed[512], *body = NULL;
	size_t blen = 0;
	int i, n, rc = 0;

	if (ctx->reply != NULL && (body = json_dumps(ctx->reply,
	    JSON_COMPACT)) == NULL)
		goto oom;
	if (body != NULL)
		blen = strlen(body);
	/* request_id is at most 64 characters (req_reqid_ok, reqid_new). */
	n = snprintf(fixed, sizeof(fixed), "Status: %d %s\r\n%s"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n%s%s%s",
	    ctx->status, reason(ctx->status), body != NULL ?
	    "Content-Type: application/json; charset=utf-8\r\n" : "", blen,
	    ctx->request_id != NULL ? "X-Request-Id: " : "",
	    ctx->request_id != NULL ? ctx->request_id : "",
	    ctx->request_id != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(fixed))
		goto oom;
	rc |= FCGX_PutStr(fixed, n, req->out) < 0;
	/* extra headers: api_set_header checked them (no CR/LF, bounded) */
	for (i = 0; i < ctx->nhdr; i++) {
		rc |= FCGX_PutS(ctx->hdr[i].name, req->out) < 0;
		rc |= FCGX_PutStr(": ", 2, req->out) < 0;
		rc |= FCGX_PutS(ctx->hdr[i].value, req->out) < 0;
		rc |= FCGX_PutStr("\r\n", 2, req->out) < 0;
	}
	rc |= FCGX_PutStr("\r\n", 2, req->out) < 0;
	if (body != NULL && !head && blen > 0)
		rc |= FCGX_PutStr(body, (int)blen, req->out) < 0;
	goto out;
oom:
	ctx->status = 500;
	rc |= FCGX_PutStr(oom, (int)(head ? strstr(oom, "\r\n\r\n") + 4 - oom :
	    (long)sizeof(oom) - 1), req->out) < 0;
out:
	if (rc)
		log_debug("the web server went away before the answer was "
		    "written");
	free(body);
}

/* ---- params and body ------------------------------------------------------ */

/* Wipes the Authorization value (all of it: see req_read_params). */
static void
auth_wipe(struct req_info *ri)
{
	size_t n = strnlen(ri->auth, sizeof(ri->auth));

	if (n > 0)
		OPENSSL_cleanse(ri->auth, n);
}

/*
 * A random UUID v4 for a request without a usable X-Request-Id, from a
 * pool of random bytes: one RAND_bytes() per 64 requests instead of one
 * per request, and no snprintf.  Not a secret, only unique.  The pool is
 * emptied in worker_run, after fork, so workers never share bytes.
 */
static unsigned char reqid_pool[REQID_POOL];
static size_t reqid_used = REQID_POOL;

static int
reqid_new(char out[REQ_REQID_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	size_t i, o = 0;

	if (reqid_used + sizeof(r) > sizeof(reqid_pool)) {
		if (RAND_bytes(reqid_pool, sizeof(reqid_pool)) != 1)
			return -1;
		reqid_used = 0;
	}
	memcpy(r, reqid_pool + reqid_used, sizeof(r));
	reqid_used += sizeof(r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof(r); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

/* The params (request_parse.c), and a request id when nginx sent none
 * that we can use. */
static int
read_params(FCGX_Request *req, struct req_info *ri, struct rb_err *err)
{
	if (req_read_params(req->envp, ri, err) == -1)
		return -1;
	if (ri->reqid[0] == '\0' && reqid_new(ri->reqid) == -1)
		rb_strlcpy(ri->reqid, "-", sizeof(ri->reqid));
	return 0;
}

static int
fcgx_read(void *arg, char *buf, int n)
{
	return FCGX_GetStr(buf, n, ((FCGX_Request *)arg)->in);
}

/* "Bearer <token>" -> jwt_verify; 401 codes from jwt.h. */
static int
authenticate(struct api_worker *w, struct req_info *ri,
    struct jwt_claims *claims, struct rb_err *err)
{
	const char *tok;

	if (req_bearer(ri->auth, &tok, err) == -1)
		return -1;
	if (w->jwt == NULL)
		return rb_err_set(err, 503, "auth_unavailable",
		    "The server cannot check sign-ins right now: its JWT keys "
		    "did not load (the operator must fix jwt_secret or "
		    "jwks_file).");
	if (jwt_verify(w->jwt, tok, time(NULL), claims, err) == -1) {
		if (err != NULL && (err->status == 0 || err->code[0] == '\0'))
			rb_err_set(err, 401, "invalid_token",
			    "The access token is not valid; sign in again.");
		return -1;
	}
	return 0;
}

/* ---- one request --------------------------------------------------------- */

static void
handle_request(struct api_worker *w, FCGX_Request *req)
{
	struct req_info ri;
	struct api_ctx ctx;
	struct jwt_claims claims;
	struct rb_err err;
	struct field_value fields[16];
	unsigned char *raw = NULL;
	size_t nfields = 0, rawlen = 0;
	const struct api_route *route = NULL;
	json_t *root = NULL;
	char allow[64];
	int64_t t0 = rb_mono_ms();
	bool head;

	/* ri and ctx's query/hdr arrays are not zeroed: ~28 KB per request
	 * for nothing (see struct req_info and API_CTX_ZERO). */
	req_info_init(&ri);
	memset(&ctx, 0, API_CTX_ZERO);
	memset(&claims, 0, sizeof(claims));
	memset(fields, 0, sizeof(fields));
	rb_err_clear(&err);
	ctx.cfg = w->cfg;
	ctx.worker = w;
	ctx.http = w->http;
	ctx.status = 200;
	ctx.stop = &w_stop;

	if (read_params(req, &ri, &err) == -1)
		goto fail;
	ctx.request_id = ri.reqid;
	ctx.raw_query = ri.query;
	ctx.envp = req->envp;
	head = strcmp(ri.method, "HEAD") == 0;
	switch (router_match(ri.method, ri.uri, &route, ctx.id, allow,
	    sizeof(allow))) {
	case ROUTE_FOUND:
		break;
	case ROUTE_BAD_METHOD:
		if (api_set_header(&ctx, "Allow", allow) == -1)
			log_debug("Allow header not set");
		rb_err_set(&err, 405, "method_not_allowed",
		    "%s is not allowed here; use %s.", ri.method, allow);
		goto fail;
	case ROUTE_NOT_FOUND:
		rb_err_set(&err, 404, "not_found",
		    "There is no such endpoint; check the URL.");
		goto fail;
	}
	if (router_parse_query(ri.query, &ctx, &err) == -1)
		goto fail;
	if (route->needs_auth) {
		int rc = authenticate(w, &ri, &claims, &err);

		auth_wipe(&ri);
		if (rc == -1) {
			if (err.status == 401 && api_set_header(&ctx,
			    "WWW-Authenticate", strcmp(err.code,
			    "missing_token") == 0 ? "Bearer" :
			    "Bearer error=\"invalid_token\"") == -1)
				log_debug("WWW-Authenticate not set");
			goto fail;
		}
		ctx.claims = &claims;
		ctx.user_id = claims.sub;
	}
	auth_wipe(&ri);
	if (route->body == &api_raw_body) {
		if (req_read_raw_body(&ri, w->cfg->api_body_max, fcgx_read,
		    req, &raw, &rawlen, &err) == -1)
			goto fail;
		ctx.raw_body = raw;
		ctx.raw_len = rawlen;
	} else if (route->body != NULL) {
		if (route->body->n > RB_NELEM(fields)) {
			rb_err_set(&err, 500, "internal_error",
			    "This endpoint declares too many fields.");
			goto fail;
		}
		if (req_read_body(&ri, w->cfg->api_body_max, fcgx_read, req,
		    &root, &err) == -1)
			goto fail;
		nfields = route->body->n;
		if (validate_object(root, route->body->spec, nfields, fields,
		    &err) == -1) {
			nfields = 0;
			goto fail;
		}
		ctx.fields = fields;
		ctx.nfields = nfields;
	}
	if (route->handler(&ctx, &err) == -1)
		goto fail;
	if (ctx.status == 0)
		ctx.status = 200;
	goto respond;
fail:
	set_error(&ctx, &err);
	if (ctx.status >= 500)
		log_warn("%s %s: %s (%s) rid=%s", ri.method,
		    route ? route->pattern : "-", err.msg,
		    err.code[0] ? err.code : "internal_error", ri.reqid);
	head = strcmp(ri.method, "HEAD") == 0;
respond:
	write_response(req, &ctx, head);
	if (api_metrics != NULL) {
		const struct api_route *table;
		size_t nroutes = router_routes(&table);

		metrics_api_observe(&api_metrics[route != NULL ?
		    (size_t)(route - table) : nroutes], ctx.status,
		    (long long)(rb_mono_ms() - t0) * 1000);
	}
	/* The path is logged only when it matched a route: the pattern,
	 * never ids or query values of unknown URLs.  A healthy answer to a
	 * health check is debug: monitors poll it, the metrics count it, and
	 * the journal keeps what matters. */
	log_msg(route != NULL && route->handler == h_health &&
	    ctx.status < 400 ? LOG_DEBUG : LOG_INFO,
	    "%s %s %d %lldms rid=%s%s%s", ri.method[0] ? ri.method : "-",
	    route ? route->pattern : "(no route)", ctx.status,
	    (long long)(rb_mono_ms() - t0), ri.reqid[0] ? ri.reqid : "-",
	    ctx.status >= 400 && err.code[0] ? " code=" : "",
	    ctx.status >= 400 && err.code[0] ? err.code : "");
	json_decref(ctx.reply);
	json_decref(root);
	if (raw != NULL) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
	}
	field_values_free(fields, nfields);
	auth_wipe(&ri);		/* 404, 405 and 400 come before authenticate */
	OPENSSL_cleanse(&claims, sizeof(claims));
}

/* ---- the accept loop ------------------------------------------------------ */

int
worker_run(const struct rb_config *cfg, int listen_fd, bool pooled)
{
	struct api_worker w;
	struct sigaction sa;
	sigset_t term, old;
	FCGX_Request req;
	struct rb_err err;
	int fails = 0, status = 0;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	/* test knob: how old health's last "SELECT 1" may be */
	w.health_ping_ms = rb_env_long("REBOSS_TEST_HEALTH_PING_MS", 0,
	    86400000L, HEALTH_PING_MS);
	w_stop = 0;
	w_retire = 0;
	reqid_used = sizeof(reqid_pool);	/* fresh bytes after fork */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: accept() fails */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		log_err("worker: cannot install signal handlers: %s",
		    strerror(errno));
		return 1;
	}
	/* Alone (no supervisor to start a successor) a worker ignores
	 * SIGHUP; in the pool it is the supervisor's "retire". */
	if (!pooled)
		sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &term, &old);

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("worker: libfcgi could not be initialised");
		return 1;
	}
	if ((w.http = http_client_new(cfg)) == NULL) {
		log_err("worker: the HTTP client could not be created");
		return 1;
	}
	http_client_set_stop(w.http, &w_stop);
	rb_err_clear(&err);
	if (jwt_keys_load(&w.jwt, cfg->jwt_secret, cfg->jwks_json,
	    &err) == -1 || jwt_keys_set_issuer(w.jwt, cfg->jwt_issuer,
	    &err) == -1) {
		/* Stay up: health answers, authenticated routes say 503. */
		log_err("worker: JWT keys did not load, authenticated routes "
		    "will fail: %s", err.msg);
		jwt_keys_free(w.jwt);
		w.jwt = NULL;
	}
	/* The database is opened on first use (api_db), after fork. */

	while (!w_stop && !w_retire) {
		int rc;

		(void)sigprocmask(SIG_UNBLOCK, &term, NULL);
		rc = w_stop || w_retire ? -1 : FCGX_Accept_r(&req);
		(void)sigprocmask(SIG_BLOCK, &term, NULL);
		if (rc < 0) {
			if (w_stop || w_retire)
				break;
			if (++fails >= ACCEPT_FAIL_MAX) {
				log_err("worker: accepting connections keeps "
				    "failing (%d); is the listening socket "
				    "valid?", rc);
				status = 1;
				break;
			}
			(void)rb_sleep_ms(100, &w_stop);
			continue;
		}
		fails = 0;
		handle_request(&w, &req);
		FCGX_Finish_r(&req);
	}
	FCGX_Finish_r(&req);
	if (w.db_open)
		db_close(&w.db);
	http_client_free(w.http);
	jwt_keys_free(w.jwt);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}
