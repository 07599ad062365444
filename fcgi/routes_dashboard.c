/*
 * routes_dashboard.c - what the dashboard asks the API beyond shops and
 * linked accounts (issue 18, doc/dashboard.md).  Owner: the "dashboard"
 * module.
 *
 * GET /api/shops/{id}/jobs: per job (all five, in the order of job_names,
 * a job that never ran for the shop with nulls) the last run's time,
 * status and error from shop_job_status, and how many runs in a row
 * failed.  Another user's shop, or none, is 404 shop_not_found.
 */
#include <limits.h>
#include <string.h>

#include "api.h"
#include "util.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int
api_own_shop(struct api_ctx *ctx, struct db *db, struct rb_err *err)
{
	const char *params[2] = { ctx->id, ctx->user_id };
	PGresult *res;
	int n;

	if ((res = db_query(db, "SELECT 1 FROM public.shops WHERE id = $1 "
	    "AND user_id = $2", 2, params, err)) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return rb_err_set(err, 404, "shop_not_found",
		    "No shop with this id belongs to your account.");
	return 0;
}

static json_t *
text_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() :
	    json_string(PQgetvalue(res, row, col));
}

/* A bigint column as a JSON integer, or null. */
static json_t *
int_or_null(PGresult *res, int row, int col)
{
	long v;

	if (PQgetisnull(res, row, col) ||
	    rb_parse_long(PQgetvalue(res, row, col), 0, LONG_MAX, &v) == -1)
		return json_null();
	return json_integer(v);
}

/* One row of the answer: the row of res for this job, or -1 (never ran). */
static json_t *
job_entry(const char *job, PGresult *res, int row)
{
	if (row < 0)
		return json_pack("{s:s,s:n,s:n,s:n,s:n,s:i}", "job_type", job,
		    "last_run_at", "last_status", "last_error",
		    "last_duration_ms", "consecutive_failures", 0);
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "job_type", job,
	    "last_run_at", text_or_null(res, row, 1),
	    "last_status", text_or_null(res, row, 2),
	    "last_error", text_or_null(res, row, 3),
	    "last_duration_ms", int_or_null(res, row, 5),
	    "consecutive_failures", int_or_null(res, row, 4));
}

int
h_shops_jobs(struct api_ctx *ctx, struct rb_err *err)
{
	const char *params[1] = { ctx->id };
	PGresult *res = NULL;
	struct db *db;
	json_t *jobs = NULL, *e;
	int rc = -1, i, r, rows;

	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (api_own_shop(ctx, db, err) == -1)
		return -1;
	if ((res = db_query(db, "SELECT job_type, " ISO("last_run_at") ", "
	    "last_status, last_error, consecutive_failures, last_duration_ms "
	    "FROM public.shop_job_status WHERE shop_id = $1", 1, params,
	    err)) == NULL)
		return -1;
	rows = PQntuples(res);
	if ((jobs = json_array()) == NULL)
		goto oom;
	for (i = 0; i < JOB__COUNT; i++) {
		for (r = 0; r < rows; r++)
			if (strcmp(PQgetvalue(res, r, 0), job_names[i]) == 0)
				break;
		if ((e = job_entry(job_names[i], res, r < rows ? r : -1)) ==
		    NULL || json_array_append_new(jobs, e) == -1)
			goto oom;
	}
	rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:O}", "success", 1,
	    "shop_id", ctx->id, "jobs", jobs), err);
	goto done;
oom:
	rb_err_set(err, 500, "out_of_memory",
	    "The server ran out of memory; try again.");
done:
	json_decref(jobs);
	PQclear(res);
	return rc;
}
