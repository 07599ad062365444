/*
 * routes_health.c - GET /health and GET /api/health (no auth).
 *
 * 200 {"status":"ok","database":"ok"} when "SELECT 1" answers,
 * 503 {"status":"degraded","database":"unreachable"} otherwise.  This is not
 * an error body: monitors read "status" and "database" in both cases.
 */
#include "api.h"
#include "log.h"

int
h_health(struct api_ctx *ctx, struct rb_err *err)
{
	struct rb_err derr;
	struct db *db;

	rb_err_clear(&derr);
	if ((db = api_db(ctx, &derr)) != NULL && db_ping(db, &derr) == 0)
		return api_reply(ctx, 200, json_pack("{s:s,s:s}",
		    "status", "ok", "database", "ok"), err);
	log_warn("health: the database is unreachable: %s (%s)", derr.msg,
	    derr.code[0] ? derr.code : "database_unavailable");
	return api_reply(ctx, 503, json_pack("{s:s,s:s}",
	    "status", "degraded", "database", "unreachable"), err);
}
