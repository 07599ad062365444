/*
 * routes_preview.c - GET /api/shops/{id}/replace-preview: what replace_job
 * would decide for the owner's shop now, without acting (issue 18, doc/
 * dashboard.md "Owner actions").  Owner: the "owner" module.
 *
 * The job's own reading and deciding (lib/replace_plan.c: live members of
 * the managed collections through Shopify queries only, the sales, the
 * design queue's fill budget, the owner's and operator's limits, then
 * lib/replace.c), with the shop's catalog_settings.  Nothing is written to
 * Shopify and nothing to replace_decisions or catalog_slots; the preview
 * itself is recorded in owner_actions (preview_replace, with its counts).
 * Sales not known through yesterday: 200 with "would_skip" saying why and
 * no decisions, as the job would skip the shop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "catalog_settings.h"
#include "replace_plan.h"
#include "sales.h"
#include "shop_limits.h"
#include "shopify.h"
#include "util.h"

/* One decision as the dashboard shows it. */
static json_t *
decision_json(const struct replace_plan *pl, const struct replace_decision *d)
{
	char why[300];
	const char *title = pl->ps[d->product].title;

	if (replace_explain(d, why, sizeof(why)) == -1)
		why[0] = '\0';
	return json_pack("{s:I,s:s?,s:s,s:s,s:s,s:i,s:s?,s:s?,s:I,s:i,s:s}",
	    "product_id", (json_int_t)d->product_id, "title", title,
	    "verdict", replace_verdict_name(d->verdict), "reason", d->reason,
	    "phase", d->phase, "age_days", d->age_days,
	    "window_start", d->window_start[0] ? d->window_start : NULL,
	    "window_end", d->window_end[0] ? d->window_end : NULL,
	    "units", (json_int_t)d->units, "threshold", d->threshold,
	    "explanation", why);
}

/* The answer and the owner_actions row. */
static int
preview_reply(struct api_ctx *ctx, struct db *db,
    const struct catalog_settings *set, const struct shop_limits *lim,
    const struct replace_plan *pl, const char *skip, struct rb_err *err)
{
	json_t *a = json_array(), *o;
	size_t i, nretire = 0;
	char det[128];
	const char *p[3] = { ctx->id, ctx->user_id, det };

	for (i = 0; a != NULL && pl != NULL && i < pl->nd; i++) {
		nretire += pl->ds[i].verdict == REPLACE_RETIRE;
		if ((o = decision_json(pl, &pl->ds[i])) == NULL ||
		    json_array_append_new(a, o) == -1) {
			json_decref(a);
			a = NULL;
		}
	}
	if (a == NULL)
		return rb_err_oom(err);
	(void)snprintf(det, sizeof(det), "{\"judged\": %zu, \"retire\": %zu}",
	    pl != NULL ? pl->nd : 0, nretire);
	if (db_exec(db, "INSERT INTO public.owner_actions (shop_id, user_id, "
	    "action, target, details) VALUES ($1, $2, 'preview_replace', "
	    "'replace_job', $3::jsonb)", 3, p, err) == -1) {
		json_decref(a);
		return -1;
	}
	return api_reply(ctx, 200, json_pack("{s:b,s:s,s:b,s:b,s:s,s:s?,s:I,"
	    "s:I,s:o}", "success", 1, "shop_id", ctx->id, "preview", 1,
	    "paused", !lim->enabled, "action", catalog_action_name(set->action),
	    "would_skip", skip, "judged", (json_int_t)(pl != NULL ? pl->nd : 0),
	    "would_retire", (json_int_t)nretire, "decisions", a), err);
}

/* Shopify (interactive limits), the zone, the freshness rule, the plan. */
static int
preview_shop(struct api_ctx *ctx, struct db *db,
    const struct catalog_settings *set, const struct shop_limits *lim,
    struct rb_err *err)
{
	struct replace_plan_in in;
	struct replace_plan pl;
	struct shopify sh;
	char tz[SALES_TZ_MAX], why[400];
	int rc = -1, fresh;

	memset(&sh, 0, sizeof(sh));
	memset(&pl, 0, sizeof(pl));
	memset(&in, 0, sizeof(in));
	if (catalog_now(db, &in.now, err) == -1)
		return -1;
	if (api_shopify_open_shop(ctx, &sh, ctx->id, err) == -1 ||
	    catalog_shop_zone(&sh, tz, sizeof(tz), err) == -1)
		goto out;
	if ((fresh = replace_sales_fresh(db, ctx->id, tz, in.now, why,
	    sizeof(why), err)) == -1)
		goto out;
	if (fresh == 1) {
		rc = preview_reply(ctx, db, set, lim, NULL, why, err);
		goto out;
	}
	in.db = db;
	in.sh = &sh;
	in.shop_id = ctx->id;
	in.set = set;
	in.tz = tz;
	in.max_retirements = lim->retirements_per_run;
	in.stop = ctx->stop;
	if (replace_plan_make(&in, &pl, err) == 0)
		rc = preview_reply(ctx, db, set, lim, &pl, NULL, err);
out:
	replace_plan_free(&pl);
	shopify_close(&sh);
	return rc;
}

int
h_owner_replace_preview(struct api_ctx *ctx, struct rb_err *err)
{
	struct catalog_settings set;
	struct shop_limits lim;
	struct db *db;
	int rc;

	if ((db = api_db(ctx, err)) == NULL || api_own_shop(ctx, db, err) == -1)
		return -1;
	if (shop_limits_load(db, ctx->cfg, ctx->id, JOB_REPLACE, &lim,
	    err) == -1)
		return -1;
	if (catalog_settings_load(db, ctx->id, &set, err) == -1)
		return -1;
	if (set.nmanaged == 0) {
		struct replace_plan none;

		memset(&none, 0, sizeof(none));
		rc = preview_reply(ctx, db, &set, &lim, &none, NULL, err);
	} else
		rc = preview_shop(ctx, db, &set, &lim, err);
	catalog_settings_free(&set);
	return rc;
}
