/*
 * routes_health.c - GET /health and GET /api/health (no auth).
 *
 * 200 {"status":"ok","database":"ok"} when the worker's connection is alive,
 * 503 {"status":"degraded","database":"unreachable"} otherwise, and 503
 * {"status":"degraded","database":"schema_outdated","message":...} when the
 * schema is older than this program (run `rebossctl migrate`).  This is not
 * an error body: monitors read "status" and "database" in both cases.
 *
 * "Alive" is db_alive(): every request looks at the connection's socket
 * without a round trip (a stopped server or a killed backend is seen at
 * once, then one reconnect is tried), and "SELECT 1" goes to the server at
 * most every health_ping_ms (1 s; REBOSS_TEST_HEALTH_PING_MS in tests) per
 * worker, for a server that hangs with the socket open.  Health is the
 * endpoint monitors and load balancers hit most; a round trip per request
 * cost PostgreSQL ~45 us of CPU each (bench/README.md).
 */
#include <string.h>

#include "api.h"
#include "log.h"

/* Both answers are built once per worker and shared (jansson reference
 * counts; a worker is one thread).  NULL: could not be built, api_reply
 * answers 500 out_of_memory. */
static json_t *
reply_once(json_t **slot, bool ok)
{
	if (*slot == NULL)
		*slot = ok ? json_pack("{s:s,s:s}", "status", "ok", "database",
		    "ok") : json_pack("{s:s,s:s}", "status", "degraded",
		    "database", "unreachable");
	return json_incref(*slot);
}

int
h_health(struct api_ctx *ctx, struct rb_err *err)
{
	static json_t *ok_reply, *down_reply;
	struct api_worker *w = ctx->worker;
	struct rb_err derr;
	struct db *db;

	rb_err_clear(&derr);
	if ((db = api_db(ctx, &derr)) != NULL && db_alive(db,
	    &w->db_verified_ms, w->health_ping_ms, &derr) == 0)
		return api_reply(ctx, 200, reply_once(&ok_reply, true), err);
	if (strcmp(derr.code, "schema_outdated") == 0) {
		log_err("health: %s", derr.msg);
		return api_reply(ctx, 503, json_pack("{s:s,s:s,s:s}", "status",
		    "degraded", "database", "schema_outdated", "message",
		    derr.msg), err);
	}
	log_warn("health: the database is unreachable: %s (%s)", derr.msg,
	    derr.code[0] ? derr.code : "database_unavailable");
	return api_reply(ctx, 503, reply_once(&down_reply, false), err);
}
