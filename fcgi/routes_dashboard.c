/*
 * routes_dashboard.c - what the dashboard asks the API beyond shops and
 * linked accounts (issue 18, doc/dashboard.md).  Owner: the "dashboard"
 * module.
 *
 * GET /api/shops/{id}/jobs: per job (all five, in the order of job_names,
 * a job that never ran for the shop with nulls) the last run's time,
 * status and error from shop_job_status, and how many runs in a row
 * failed.  Another user's shop, or none, is 404 shop_not_found.
 *
 * GET /api/shops/{id}/roi: the AutomationRoi tab (below).
 */
#include <limits.h>
#include <stdlib.h>
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
	goto out;
oom:
	rb_err_oom(err);
out:
	json_decref(jobs);
	PQclear(res);
	return rc;
}

/* ---- GET /api/shops/{id}/roi?from=YYYY-MM-DD&to=YYYY-MM-DD -------------------
 * reboss_automation_roi() and reboss_openai_usage() (sql/015_dashboard.sql)
 * for the owner's shop, plus what the tokens cost by the operator's
 * openai_prices (a model not in the table: cost null, named in
 * unpriced_models).  from/to are the shop's local days; left out: the last
 * 30 days.  A bad range is 400 invalid_range with the database's sentence. */

/* A query value that must be a date: NULL (absent) or "YYYY-MM-DD". */
static int
date_param(struct api_ctx *ctx, const char *key, const char **out,
    struct rb_err *err)
{
	const char *v = api_query_get(ctx, key);
	size_t i;

	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return 0;
	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? v[i] != '-' :
		    !(v[i] >= '0' && v[i] <= '9'))
			break;
	if (i != 10 || v[10] != '\0')
		return rb_err_set(err, 400, "invalid_range",
		    "'%s' must be a date written YYYY-MM-DD.", key);
	*out = v;
	return 0;
}

/* A database refusal of the range (SQLSTATE class 22: a bad date, or
 * reboss_sales_range's checks) is the caller's: 400 with its sentence. */
static void
range_error(const struct db *db, struct rb_err *err)
{
	char msg[sizeof(err->msg)];
	const char *m;

	if (strncmp(db->sqlstate, "22", 2) != 0)
		return;
	m = strstr(err->msg, "): ");
	rb_strlcpy(msg, m != NULL ? m + 3 : "not a valid range of days",
	    sizeof(msg));
	(void)rb_err_set(err, 400, "invalid_range", "from/to: %s", msg);
}

static json_t *
num_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() :
	    json_real(strtod(PQgetvalue(res, row, col), NULL));
}

/* The "jobs" array: one object per row of reboss_automation_roi(). */
static json_t *
roi_jobs(PGresult *res)
{
	json_t *a = json_array(), *o;
	int i;

	for (i = 0; a != NULL && i < PQntuples(res); i++) {
		o = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}",
		    "job_type", PQgetvalue(res, i, 0),
		    "action", PQgetvalue(res, i, 1),
		    "products", int_or_null(res, i, 2),
		    "units_before", int_or_null(res, i, 3),
		    "revenue_before", num_or_null(res, i, 4),
		    "units_after", int_or_null(res, i, 5),
		    "revenue_after", num_or_null(res, i, 6));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The "openai" object: per model tokens and cost, and the totals. */
static json_t *
roi_openai(const struct rb_config *cfg, PGresult *res)
{
	json_t *models = json_array(), *unpriced = json_array(), *o;
	double in, out, cost, total = 0;
	long tokens = 0, t;
	const char *why;
	int i, found;

	for (i = 0; models != NULL && unpriced != NULL && i < PQntuples(res);
	    i++) {
		const char *model = PQgetvalue(res, i, 0);

		found = config_openai_price(cfg->openai_prices != NULL ?
		    cfg->openai_prices : "", model, &in, &out, &why);
		cost = found == 1 ? (strtod(PQgetvalue(res, i, 2), NULL) * in +
		    strtod(PQgetvalue(res, i, 3), NULL) * out) / 1e6 : 0;
		if (found == 1)
			total += cost;
		else if (json_array_append_new(unpriced,
		    json_string(model)) == -1)
			goto oom;
		if (rb_parse_long(PQgetvalue(res, i, 4), 0, LONG_MAX, &t) == 0)
			tokens += t;
		o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "model", model,
		    "calls", int_or_null(res, i, 1),
		    "prompt_tokens", int_or_null(res, i, 2),
		    "completion_tokens", int_or_null(res, i, 3),
		    "total_tokens", int_or_null(res, i, 4),
		    "cost_usd", found == 1 ? json_real(cost) : json_null());
		if (o == NULL || json_array_append_new(models, o) == -1)
			goto oom;
	}
	if (models == NULL || unpriced == NULL)
		goto oom;
	return json_pack("{s:o,s:I,s:f,s:o}", "models", models,
	    "total_tokens", (json_int_t)tokens, "cost_usd", total,
	    "unpriced_models", unpriced);
oom:
	json_decref(models);
	json_decref(unpriced);
	return NULL;
}

int
h_shops_roi(struct api_ctx *ctx, struct rb_err *err)
{
	const char *p[3] = { ctx->id, NULL, NULL };
	PGresult *range = NULL, *jobs = NULL, *ai = NULL;
	json_t *j = NULL, *o = NULL;
	struct db *db;
	int rc = -1;

	if (date_param(ctx, "from", &p[1], err) == -1 ||
	    date_param(ctx, "to", &p[2], err) == -1)
		return -1;
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	if (api_own_shop(ctx, db, err) == -1)
		return -1;
	if ((range = db_query(db, "SELECT r_from::text, r_to::text FROM "
	    "public.reboss_sales_range($1, $2::date, $3::date)", 3, p,
	    err)) == NULL ||
	    (jobs = db_query(db, "SELECT * FROM public.reboss_automation_roi("
	    "$1, $2::date, $3::date)", 3, p, err)) == NULL ||
	    (ai = db_query(db, "SELECT * FROM public.reboss_openai_usage("
	    "$1, $2::date, $3::date)", 3, p, err)) == NULL) {
		range_error(db, err);
		goto out;
	}
	if (PQntuples(range) != 1 || (j = roi_jobs(jobs)) == NULL ||
	    (o = roi_openai(ctx->cfg, ai)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:s,s:s,s:O,s:O}",
	    "success", 1, "shop_id", ctx->id, "from",
	    PQgetvalue(range, 0, 0), "to", PQgetvalue(range, 0, 1),
	    "jobs", j, "openai", o), err);
out:
	json_decref(j);
	json_decref(o);
	PQclear(range);
	PQclear(jobs);
	PQclear(ai);
	return rc;
}
