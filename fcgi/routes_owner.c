/*
 * routes_owner.c - what the owner does to one of their shops through the API
 * (issue 18, doc/dashboard.md "Owner actions").  Owner: the "owner" module.
 *
 *   POST /api/shops/{id}/rollback        {optimization_id}
 *   POST /api/shops/{id}/designs/retry   {design_id}
 *   POST /api/shops/{id}/jobs/pause      {job}
 *   POST /api/shops/{id}/jobs/resume     {job}
 *   POST /api/shops/{id}/jobs/run        {job}
 *   GET  /api/shops/{id}/replace-preview (routes_preview.c)
 *
 * Another user's shop, or none, is 404 shop_not_found.  Every action that
 * was carried out (and a rollback Shopify refused) is one owner_actions row
 * (sql/018_owner_actions.sql): who (the token's user), when, what; the owner
 * reads them through RLS.  Where the action is a single database change it
 * and its record are one statement, so neither exists without the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "optimize_rollback.h"
#include "shopify.h"
#include "util.h"

/* Run-now: at most this many requests per shop and job in an hour (the
 * dashboard's button is not a scheduler); more is 429 with Retry-After. */
#define RUN_NOW_PER_HOUR	"4"

/* The five jobs, as a FIELD_ENUM (job_names[] order). */
static const char *const job_values[] = { "sales_tracker", "replace_job",
	"product_optimize", "product_creation", "pinterest_sync", NULL };

/* One owner_actions row; details is a JSON object's text. */
static int
record(struct db *db, struct api_ctx *ctx, const char *action,
    const char *target, const char *outcome, const char *details,
    struct rb_err *err)
{
	const char *p[6] = { ctx->id, ctx->user_id, action, target, outcome,
		details };

	return db_exec(db, "INSERT INTO public.owner_actions (shop_id, "
	    "user_id, action, target, outcome, details) VALUES ($1, $2, $3, "
	    "$4, $5, $6::jsonb)", 6, p, err);
}

/* ---- POST /api/shops/{id}/rollback {optimization_id} --------------------- */
enum { RB_OPT };
static const struct field_spec rollback_fields[] = {
	[RB_OPT] = { .name = "optimization_id", .type = FIELD_UUID,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_owner_rollback = { rollback_fields,
	RB_NELEM(rollback_fields) };

/* Opens the shop's Shopify client (interactive limits, the one token
 * owner lib/shop.c) and writes the old copy back: the same code as
 * "rebossctl rollback". */
static int
rollback_shopify(struct api_ctx *ctx, struct db *db,
    struct optimize_rollback *rb, struct rb_err *err)
{
	struct shopify sh;
	int rc = -1;

	memset(&sh, 0, sizeof(sh));
	if (api_shopify_open_shop(ctx, &sh, rb->shop_id, err) == 0)
		rc = optimize_rollback_apply(db, &sh, rb, err);
	shopify_close(&sh);
	return rc;
}

int
h_owner_rollback(struct api_ctx *ctx, struct rb_err *err)
{
	const char *oid = ctx->fields[RB_OPT].str;
	struct optimize_rollback rb;
	struct rb_err rerr;
	json_t *d = NULL;
	char *dtext = NULL;
	struct db *db;
	int rc = -1;

	if ((db = api_db(ctx, err)) == NULL || api_own_shop(ctx, db, err) == -1)
		return -1;
	if (optimize_rollback_load(db, oid, ctx->id, &rb, err) == -1)
		return -1;
	rc = rollback_shopify(ctx, db, &rb, err);
	/* Recorded either way once Shopify was asked: the owner sees the
	 * attempt and Shopify's answer. */
	if ((d = json_pack("{s:s,s:s?}", "product", rb.gid, "error",
	    rc == 0 ? NULL : err->msg)) == NULL ||
	    (dtext = json_dumps(d, JSON_COMPACT)) == NULL) {
		rc = rb_err_oom(err);
		goto out;
	}
	rb_err_clear(&rerr);
	if (record(db, ctx, "rollback_optimization", oid, rc == 0 ? "done" :
	    "failed", dtext, &rerr) == -1) {
		if (rc == 0)
			*err = rerr;
		rc = -1;
		goto out;
	}
	if (rc == 0)
		rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:s,s:s}",
		    "success", 1, "shop_id", ctx->id, "optimization_id", oid,
		    "product", rb.gid), err);
out:
	free(dtext);
	json_decref(d);
	optimize_rollback_free(&rb);
	return rc;
}

/* ---- POST /api/shops/{id}/designs/retry {design_id} ---------------------- */
enum { RT_DESIGN };
static const struct field_spec retry_fields[] = {
	[RT_DESIGN] = { .name = "design_id", .type = FIELD_UUID,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_owner_retry = { retry_fields,
	RB_NELEM(retry_fields) };

/*
 * A failed design back to 'pending' (product_creation's queue takes it in
 * its next run; its handle is derived from its id, so a product an earlier
 * attempt did create is found and adopted, never made twice).  The change
 * and its record are one statement.
 */
int
h_owner_retry_design(struct api_ctx *ctx, struct rb_err *err)
{
	const char *p[3] = { ctx->fields[RT_DESIGN].str, ctx->id,
		ctx->user_id };
	PGresult *r;
	struct db *db;
	int rc = -1;

	if ((db = api_db(ctx, err)) == NULL || api_own_shop(ctx, db, err) == -1)
		return -1;
	if ((r = db_query(db, "WITH d AS (SELECT id, status, error FROM "
	    "public.design_queue WHERE id = $1::uuid AND shop_id = $2::uuid), "
	    "u AS (UPDATE public.design_queue q SET status = 'pending', "
	    "error = NULL, slot_id = NULL FROM d WHERE q.id = d.id AND "
	    "d.status = 'failed' RETURNING q.id), "
	    "a AS (INSERT INTO public.owner_actions (shop_id, user_id, action, "
	    "target, details) SELECT $2::uuid, $3::uuid, 'retry_design', "
	    "u.id::text, jsonb_build_object('previous_error', d.error) FROM u, "
	    "d RETURNING id) "
	    "SELECT d.status, (SELECT count(*) FROM a) FROM d", 3, p,
	    err)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rb_err_set(err, 404, "design_not_found", "No design %s in this "
		    "shop's queue.", p[0]);
	else if (strcmp(PQgetvalue(r, 0, 1), "1") != 0)
		rb_err_set(err, 409, "design_not_failed", "Design %s is %s, "
		    "not failed: only a failed design can be retried.", p[0],
		    PQgetvalue(r, 0, 0));
	else
		rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:s,s:s}",
		    "success", 1, "shop_id", ctx->id, "design_id", p[0],
		    "status", "pending"), err);
	PQclear(r);
	return rc;
}

/* ---- POST /api/shops/{id}/jobs/{pause,resume} {job} ---------------------- */
enum { JB_JOB };
static const struct field_spec job_fields[] = {
	[JB_JOB] = { .name = "job", .type = FIELD_ENUM, .flags =
	    FIELD_REQUIRED, .values = job_values },
};
const struct api_body body_owner_job = { job_fields, RB_NELEM(job_fields) };

/*
 * The job's switch in shop_settings (the GeneralSettings tab's), created
 * with the defaults when the shop has no row; the previous value, the new
 * one and the record in one statement.
 */
static int
set_enabled(struct api_ctx *ctx, bool on, struct rb_err *err)
{
	const char *job = ctx->fields[JB_JOB].str;
	const char *p[4] = { ctx->id, job, on ? "t" : "f", ctx->user_id };
	PGresult *r;
	struct db *db;
	bool was;
	int rc;

	if ((db = api_db(ctx, err)) == NULL || api_own_shop(ctx, db, err) == -1)
		return -1;
	if (db_exec(db, "INSERT INTO public.shop_settings (shop_id) VALUES "
	    "($1) ON CONFLICT (shop_id) DO NOTHING", 1, p, err) == -1)
		return -1;
#define SWITCH(col, name) #col " = CASE WHEN $2 = '" name "' THEN " \
	"$3::boolean ELSE s." #col " END"
	if ((r = db_query(db, "WITH old AS (SELECT * FROM public.shop_settings "
	    "WHERE shop_id = $1::uuid FOR UPDATE), u AS (UPDATE "
	    "public.shop_settings s SET "
	    SWITCH(sales_tracker_enabled, "sales_tracker") ", "
	    SWITCH(replace_job_enabled, "replace_job") ", "
	    SWITCH(product_creation_enabled, "product_creation") ", "
	    SWITCH(product_optimize_enabled, "product_optimize") ", "
	    SWITCH(pinterest_sync_enabled, "pinterest_sync") " "
	    "FROM old WHERE s.shop_id = old.shop_id RETURNING 1), "
	    "w AS (SELECT CASE $2 WHEN 'sales_tracker' THEN "
	    "sales_tracker_enabled WHEN 'replace_job' THEN replace_job_enabled "
	    "WHEN 'product_creation' THEN product_creation_enabled "
	    "WHEN 'product_optimize' THEN product_optimize_enabled "
	    "ELSE pinterest_sync_enabled END AS was FROM old), "
	    "a AS (INSERT INTO public.owner_actions (shop_id, user_id, action, "
	    "target, details) SELECT $1::uuid, $4::uuid, CASE WHEN $3::boolean "
	    "THEN 'resume_job' ELSE 'pause_job' END, $2, "
	    "jsonb_build_object('was_enabled', w.was) FROM w, u) "
	    "SELECT w.was FROM w", 4, p, err)) == NULL)
		return -1;
#undef SWITCH
	if (PQntuples(r) != 1) {
		PQclear(r);
		return rb_err_set(err, 409, "settings_changed", "The shop's "
		    "settings were deleted meanwhile; try again.");
	}
	was = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	rc = api_reply(ctx, 200, json_pack("{s:b,s:s,s:s,s:b,s:b}", "success",
	    1, "shop_id", ctx->id, "job", job, "enabled", on, "changed",
	    was != on), err);
	return rc;
}

int
h_owner_pause_job(struct api_ctx *ctx, struct rb_err *err)
{
	return set_enabled(ctx, false, err);
}

int
h_owner_resume_job(struct api_ctx *ctx, struct rb_err *err)
{
	return set_enabled(ctx, true, err);
}

/* ---- POST /api/shops/{id}/jobs/run {job} --------------------------------- */

/* 409 when the job is paused for the shop or the shop is not connected,
 * 429 (Retry-After) past the hourly limit. */
static int
run_allowed(struct api_ctx *ctx, struct db *db, const char *job,
    struct rb_err *err)
{
	const char *p[2] = { ctx->id, job };
	PGresult *r;
	int rc = -1;

	if ((r = db_query(db, "SELECT s.connection_status, coalesce((SELECT "
	    "CASE $2 WHEN 'sales_tracker' THEN sales_tracker_enabled "
	    "WHEN 'replace_job' THEN replace_job_enabled WHEN "
	    "'product_creation' THEN product_creation_enabled WHEN "
	    "'product_optimize' THEN product_optimize_enabled ELSE "
	    "pinterest_sync_enabled END FROM public.shop_settings WHERE "
	    "shop_id = s.id), true), (SELECT count(*) FROM "
	    "public.owner_actions a WHERE a.shop_id = s.id AND a.action = "
	    "'run_job' AND a.target = $2 AND a.created_at > now() - interval "
	    "'1 hour'), (SELECT greatest(1, ceil(extract(epoch FROM min("
	    "a.created_at) + interval '1 hour' - now())))::bigint FROM "
	    "public.owner_actions a WHERE a.shop_id = s.id AND a.action = "
	    "'run_job' AND a.target = $2 AND a.created_at > now() - interval "
	    "'1 hour') FROM public.shops s WHERE s.id = $1::uuid", 2, p,
	    err)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rb_err_set(err, 404, "shop_not_found", "No shop with this id "
		    "belongs to your account.");
	else if (strcmp(PQgetvalue(r, 0, 0), "connected") != 0)
		rb_err_set(err, 409, "shop_not_connected", "The shop is %s, "
		    "not connected: the jobs leave it alone until it is "
		    "connected again.", PQgetvalue(r, 0, 0));
	else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		rb_err_set(err, 409, "job_paused", "%s is paused for this "
		    "shop; resume it first (POST /api/shops/%s/jobs/resume).",
		    job, ctx->id);
	else if (strtol(PQgetvalue(r, 0, 2), NULL, 10) >=
	    strtol(RUN_NOW_PER_HOUR, NULL, 10)) {
		if (api_set_header(ctx, "Retry-After", PQgetvalue(r, 0, 3)) ==
		    -1)
			rb_err_set(err, 500, "internal_error", "Bad header.");
		else
			rb_err_set(err, 429, "rate_limited", "%s was started "
			    "by hand " RUN_NOW_PER_HOUR " times for this shop "
			    "in the last hour; try again in %s seconds.", job,
			    PQgetvalue(r, 0, 3));
	} else
		rc = 0;
	PQclear(r);
	return rc;
}

/*
 * Queues the request (202): "rebossctl run-requests" on some host picks it
 * up within a minute and runs the job with --shop.  A second request while
 * one is pending is 409 run_already_pending naming it.  The request and its
 * record are one statement.
 */
int
h_owner_run_job(struct api_ctx *ctx, struct rb_err *err)
{
	const char *job = ctx->fields[JB_JOB].str;
	const char *p[3] = { ctx->id, job, ctx->user_id };
	PGresult *r;
	struct db *db;
	int rc = -1;

	if ((db = api_db(ctx, err)) == NULL || api_own_shop(ctx, db, err) == -1)
		return -1;
	if (run_allowed(ctx, db, job, err) == -1)
		return -1;
	if ((r = db_query(db, "WITH q AS (INSERT INTO public.job_requests "
	    "(shop_id, job_type, requested_by) VALUES ($1::uuid, $2, $3::uuid) "
	    "ON CONFLICT (shop_id, job_type) WHERE state = 'pending' DO "
	    "NOTHING RETURNING id, requested_at), a AS (INSERT INTO "
	    "public.owner_actions (shop_id, user_id, action, target, details) "
	    "SELECT $1::uuid, $3::uuid, 'run_job', $2, "
	    "jsonb_build_object('request_id', q.id) FROM q) "
	    "SELECT true, id::text, to_char(requested_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM q UNION ALL "
	    "SELECT false, id::text, NULL FROM public.job_requests WHERE "
	    "shop_id = $1::uuid AND job_type = $2 AND state = 'pending' AND "
	    "NOT EXISTS (SELECT 1 FROM q)", 3, p, err)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rb_err_set(err, 409, "run_already_pending", "A run of %s for "
		    "this shop was just queued or has started; try again.",
		    job);
	else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
		rb_err_set(err, 409, "run_already_pending", "A run of %s for "
		    "this shop is already queued (request %s); it starts "
		    "within a minute.", job, PQgetvalue(r, 0, 1));
	else
		rc = api_reply(ctx, 202, json_pack("{s:b,s:s,s:{s:s,s:s,s:s,"
		    "s:s}}", "success", 1, "shop_id", ctx->id, "request",
		    "id", PQgetvalue(r, 0, 1), "job", job, "state", "pending",
		    "requested_at", PQgetvalue(r, 0, 2)), err);
	PQclear(r);
	return rc;
}
