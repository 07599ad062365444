/*
 * reboss-replace-job (PRODUCT.md, Jobs 2).  Owned by "catalog".
 *
 * Per shop, in the worker:
 *  1. Loads and validates catalog_settings (invalid: the shop fails with a
 *     sentence naming the setting; nothing is touched).  No managed
 *     collections: nothing to do.
 *  1a. Fresh data or no decision (sales_fresh()): unless the sales tracker
 *     has completely read every local day through yesterday
 *     (sales_cursors.complete_through, lib/sales.h) the shop is skipped
 *     with the reason (job_skip(): recorded 'skipped', not failed) and
 *     nothing is judged, stored or changed.
 *  1b. Before deciding (not in a dry run): reconciles this shop's retire
 *     decisions that a dead worker (or a lost answer, step 4) left
 *     failed/"interrupted" without a slot (last 30 days).  Shopify may have applied the productUpdate
 *     before the worker died; then the product is a draft/archived (or out
 *     of the collection), is never judged again, and without this its slot
 *     would never open.  Per decision one product query: when the retire
 *     took effect for the decision's action (DRAFT / ARCHIVED / not in the
 *     decision's collection) the decision becomes 'done' with a note and
 *     its slot opens exactly as after a normal retire (record_retired(),
 *     one transaction); otherwise (product deleted, retire not applied)
 *     the decision stays 'failed' and its error says what was found, so it
 *     is looked at once only (the product is judged again normally if it
 *     is still active in the collection).  record_retired() is guarded:
 *     only a decision still failed/"interrupted" becomes done, and
 *     catalog_slots.decision_id is UNIQUE (ON CONFLICT DO NOTHING), so no
 *     decision ever gets two slots, whoever records it.
 *  2. (lib/replace_plan.c, shared with the owner's preview.)
 *     Reads every product of each managed collection live from Shopify
 *     (id, title, status, tags, publishedAt): membership and the protect
 *     tag are as the owner left them this morning, not as of the last
 *     mirror.  A managed collection the shop does not have fails the shop.
 *  3. Reads the units of the relevant local days from product_sales_daily
 *     (kept by sales_tracker) and runs replace_decide() (lib/replace.c).
 *     Unless the shop's allow_shrink is set, at most as many products are
 *     retired as the design queue can refill (pending items not already
 *     needed by an open slot); the others are kept, "no_replacement".
 *  4. Stores every decision in replace_decisions.  A retire decision is
 *     first stored as failed/"interrupted" (so a death before Shopify
 *     answers leaves a trace), then acted on with productUpdate (status
 *     DRAFT or ARCHIVED, or collectionsToLeave for the managed collections
 *     it is in); Shopify's answer updates the row, and on success one
 *     transaction opens a catalog_slots row for product_creation and
 *     updates the products mirror.  userErrors fail that decision with
 *     Shopify's words; the others go on; the shop fails at the end with a
 *     count when any did.  A failure after which Shopify may have made
 *     the change anyway (timeout, cut connection or answer, 5xx) leaves
 *     the decision failed/"interrupted", so step 1b settles it next run.
 *  --dry-run or the shop's dry_run switch: decisions are stored with
 *  outcome 'dry_run' and nothing is changed in Shopify, no slot opened.
 *  Test knob: REBOSS_TEST_CRASH_AFTER_RETIRE=1 makes the worker SIGKILL
 *  itself right after Shopify accepted a productUpdate, before it is
 *  recorded (crash-safety test of the reconciliation).
 *  Time: catalog_now() (database clock; --as-of only under
 *  REBOSS_TEST_CLOCK=1, see lib/catalog_settings.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog_settings.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "replace.h"
#include "replace_plan.h"
#include "sales.h"
#include "shop_limits.h"
#include "shopify.h"
#include "util.h"

static const char M_UPDATE[] =
	"mutation Retire($product: ProductUpdateInput!) { productUpdate("
	"product: $product) { product { id status } userErrors { field "
	"message } } }";

/* Latest answer of Shopify's live state for a decision's product; with
 * inCollection when the action was remove_from_collection. */
static const char Q_LIVE[] =
	"query Live($id: ID!) { product(id: $id) { id status } }";
static const char Q_LIVE_IN[] =
	"query LiveIn($id: ID!, $col: ID!) { product(id: $id) { id status "
	"inCollection(id: $col) } }";

/* The mark of a retire decision stored before Shopify answered. */
static const char INTERRUPTED[] = "interrupted before Shopify answered";

/* At most this many interrupted decisions are checked per run (oldest
 * first); the query also looks back 30 days only. */
#define RECONCILE_MAX_ROWS	"200"

static long crash_retires;	/* passes of the crash drill's hook */

struct rj {
	struct job_ctx		*ctx;
	struct shopify		 sh;
	struct catalog_settings	 set;
	char			 tz[SALES_TZ_MAX];
	time_t			 now;
	json_t			*products;	/* the plan's: gid -> product */
};

/* Inserts one decision row; returns its id in idbuf. */
static int
store_decision(struct rj *rj, const struct replace_decision *d,
    json_t *prod, const char *outcome, const char *error, char *idbuf,
    size_t idsize, struct rb_err *err)
{
	char pid[24], col[24], age[16], units[24], thr[16], asof[32];
	const char *p[16];
	const char *pub = json_string_value(json_object_get(prod,
	    "publishedAt"));
	bool numbers = strcmp(d->phase, "none") != 0;
	PGresult *r;

	(void)snprintf(pid, sizeof(pid), "%lld", d->product_id);
	(void)snprintf(col, sizeof(col), "%lld", d->collection_id);
	(void)snprintf(age, sizeof(age), "%d", d->age_days);
	(void)snprintf(units, sizeof(units), "%lld", d->units);
	(void)snprintf(thr, sizeof(thr), "%d", d->threshold);
	catalog_iso_utc(rj->now, asof);
	p[0] = rj->ctx->run_id;
	p[1] = rj->ctx->shop->id;
	p[2] = pid;
	p[3] = json_string_value(json_object_get(prod, "title"));
	p[4] = col;
	p[5] = asof;
	p[6] = pub;
	p[7] = d->age_days >= 0 ? age : NULL;
	p[8] = d->phase;
	p[9] = numbers ? d->window_start : NULL;
	p[10] = numbers ? d->window_end : NULL;
	p[11] = numbers ? units : NULL;
	p[12] = numbers ? thr : NULL;
	p[13] = replace_verdict_name(d->verdict);
	p[14] = d->reason;
	p[15] = d->verdict == REPLACE_RETIRE ?
	    catalog_action_name(rj->set.action) : NULL;
	{
		const char *q[18];

		memcpy(q, p, sizeof(p));
		q[16] = outcome;
		q[17] = error;
		r = db_query(rj->ctx->db, "INSERT INTO public.replace_decisions "
		    "(run_id, shop_id, product_id, product_title, "
		    "collection_id, as_of, published_at, age_days, phase, "
		    "window_start, window_end, units, threshold, verdict, "
		    "reason, action, outcome, error) VALUES ($1::uuid, $2, "
		    "$3::bigint, coalesce($4, ''), $5::bigint, "
		    "$6::timestamptz, $7::timestamptz, $8::integer, $9, "
		    "$10::date, $11::date, $12::bigint, $13::integer, $14, "
		    "$15, $16, $17, $18) RETURNING id", 18, q, err);
	}
	if (r == NULL)
		return -1;
	(void)rb_strlcpy(idbuf, PQgetvalue(r, 0, 0), idsize);
	PQclear(r);
	return 0;
}

/* Acts on one retire decision; 0 done, -1 failed (err has why). */
static int
retire(struct rj *rj, const struct replace_decision *d, json_t *prod,
    struct rb_err *err)
{
	json_t *in = NULL, *v = NULL, *data = NULL, *leave, *c;
	const char *g = json_string_value(json_object_get(prod, "id"));
	char cg[64], msg[400];
	size_t i;

	if ((in = json_pack("{s:s}", "id", g)) == NULL)
		goto oom;
	if (rj->set.action == CATALOG_REMOVE_FROM_COLLECTION) {
		if ((leave = json_array()) == NULL ||
		    json_object_set_new(in, "collectionsToLeave", leave) == -1)
			goto oom;
		json_array_foreach(json_object_get(prod, "cols"), i, c) {
			(void)snprintf(cg, sizeof(cg),
			    "gid://shopify/Collection/%lld",
			    (long long)json_integer_value(c));
			if (json_array_append_new(leave, json_string(cg)) == -1)
				goto oom;
		}
	} else if (json_object_set_new(in, "status", json_string(
	    rj->set.action == CATALOG_ARCHIVE ? "ARCHIVED" : "DRAFT")) == -1)
		goto oom;
	if ((v = json_pack("{s:O}", "product", in)) == NULL)
		goto oom;
	if (shopify_graphql(&rj->sh, M_UPDATE, v, &data, err) == -1)
		goto fail;
	if (shopify_user_error(json_object_get(data, "productUpdate"), msg,
	    sizeof(msg))) {
		rb_err_set(err, 422, "shopify_user_error", "Shopify refused to "
		    "retire product %lld: %s", d->product_id, msg);
		goto fail;
	}
	if (json_object_get(json_object_get(data, "productUpdate"),
	    "product") == NULL) {
		rb_err_set(err, 502, "shopify_bad_response", "Shopify answered "
		    "productUpdate for product %lld without a product.",
		    d->product_id);
		goto fail;
	}
	json_decref(in);
	json_decref(v);
	json_decref(data);
	return 0;
oom:
	rb_err_oom(err);
fail:
	json_decref(in);
	json_decref(v);
	json_decref(data);
	return -1;
}

/*
 * After a successful retire (or a reconciled one): the decision is done, a
 * slot is open, the mirror says what Shopify now says.  One transaction.
 * Only a decision still failed/"interrupted" becomes done (the row lock
 * of that UPDATE orders two recorders; the second sees 'done' and leaves),
 * and the slot insert does nothing when the decision has one already
 * (UNIQUE decision_id): a decision never gets two slots.  note: NULL for a
 * normal retire, else kept in error as what happened.  cols: the
 * collections the product left (JSON array of ids; remove only).
 * *opened: whether this call did it (false: it was recorded already).
 */
static int
record_retired(struct rj *rj, const char *decision_id, const char *pid,
    const char *col, enum catalog_action action, json_t *cols,
    const char *note, bool *opened, struct rb_err *err)
{
	char asof[32];
	const char *p[5];
	char *tcols = NULL;
	PGresult *r;
	int n;

	*opened = false;
	catalog_iso_utc(rj->now, asof);
	if ((tcols = json_dumps(cols, JSON_COMPACT)) == NULL)
		return rb_err_oom(err);
	if (db_begin(rj->ctx->db, err) == -1)
		goto fail;
	p[0] = decision_id;
	p[1] = note;
	p[2] = rj->ctx->shop->id;
	p[3] = INTERRUPTED;
	r = db_query(rj->ctx->db, "UPDATE public.replace_decisions SET "
	    "outcome = 'done', error = $2 WHERE id = $1::bigint AND shop_id = "
	    "$3 AND outcome = 'failed' AND error = $4 RETURNING id", 4, p,
	    err);
	if (r == NULL)
		goto fail_tx;
	n = PQntuples(r);
	PQclear(r);
	if (n == 0) {
		db_rollback(rj->ctx->db);
		free(tcols);
		return 0;
	}
	p[0] = rj->ctx->shop->id;
	p[1] = col;
	p[2] = decision_id;
	p[3] = asof;
	if (db_exec(rj->ctx->db, "INSERT INTO public.catalog_slots (shop_id, "
	    "collection_id, decision_id, opened_at) VALUES ($1, $2::bigint, "
	    "$3::bigint, $4::timestamptz) ON CONFLICT (decision_id) DO "
	    "NOTHING", 4, p, err) == -1)
		goto fail_tx;
	p[1] = pid;
	p[2] = action == CATALOG_ARCHIVE ? "ARCHIVED" :
	    action == CATALOG_DRAFT ? "DRAFT" : NULL;
	p[3] = tcols;
	if (db_exec(rj->ctx->db, "UPDATE public.products SET status = "
	    "coalesce($3, status), collection_ids = CASE WHEN $3 IS NULL "
	    "THEN ARRAY(SELECT x FROM unnest(collection_ids) x WHERE NOT x = "
	    "ANY (ARRAY(SELECT jsonb_array_elements_text($4::jsonb)::bigint))"
	    ") ELSE collection_ids END WHERE shop_id = $1 AND product_id = "
	    "$2::bigint", 4, p, err) == -1)
		goto fail_tx;
	if (db_commit(rj->ctx->db, err) == -1)
		goto fail;
	free(tcols);
	*opened = true;
	return 0;
fail_tx:
	db_rollback(rj->ctx->db);
fail:
	free(tcols);
	return -1;
}

static int
parse_action(const char *s, enum catalog_action *a)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "draft") == 0)
		*a = CATALOG_DRAFT;
	else if (strcmp(s, "archive") == 0)
		*a = CATALOG_ARCHIVE;
	else if (strcmp(s, "remove_from_collection") == 0)
		*a = CATALOG_REMOVE_FROM_COLLECTION;
	else
		return -1;
	return 0;
}

/* An interrupted decision whose retire did not take effect (or whose
 * product is gone) stays failed; its error now says what was found, so
 * the next runs do not look again (and a later, unrelated draft by the
 * owner can never be taken for this retire). */
static int
mark_unreconciled(struct rj *rj, const char *decision_id, const char *msg,
    struct rb_err *err)
{
	const char *p[4] = { decision_id, msg, rj->ctx->shop->id,
	    INTERRUPTED };

	return db_exec(rj->ctx->db, "UPDATE public.replace_decisions SET "
	    "error = $2 WHERE id = $1::bigint AND shop_id = $3 AND outcome = "
	    "'failed' AND error = $4", 4, p, err);
}

/* Checks one interrupted decision against Shopify; counts what it found. */
static int
reconcile_one(struct rj *rj, const char *did, const char *pid,
    const char *col, const char *action_name, size_t *ndone, size_t *nnot,
    size_t *ngone, struct rb_err *err)
{
	enum catalog_action action;
	json_t *v = NULL, *data = NULL, *cols = NULL, *prod;
	const char *status;
	char g[64], cg[64], msg[300], note[300];
	bool took, opened;
	int rc = -1;

	if (parse_action(action_name, &action) == -1 ||
	    (action == CATALOG_REMOVE_FROM_COLLECTION && col == NULL)) {
		log_warn("decision %s: cannot tell whether its retire took "
		    "effect (action %s, collection %s); left as it is", did,
		    action_name != NULL ? action_name : "none",
		    col != NULL ? col : "none");
		return 0;
	}
	(void)snprintf(g, sizeof(g), "gid://shopify/Product/%s", pid);
	if (action == CATALOG_REMOVE_FROM_COLLECTION) {
		(void)snprintf(cg, sizeof(cg), "gid://shopify/Collection/%s",
		    col);
		v = json_pack("{s:s, s:s}", "id", g, "col", cg);
	} else
		v = json_pack("{s:s}", "id", g);
	if (v == NULL || (cols = json_array()) == NULL)
		goto oom;
	if (shopify_graphql(&rj->sh, action == CATALOG_REMOVE_FROM_COLLECTION ?
	    Q_LIVE_IN : Q_LIVE, v, &data, err) == -1)
		goto out;
	prod = json_object_get(data, "product");
	if (!json_is_object(prod)) {
		(*ngone)++;
		(void)snprintf(msg, sizeof(msg), "%s; product %s no longer "
		    "exists in Shopify, nothing to reconcile", INTERRUPTED,
		    pid);
		log_info("decision %s: %s", did, msg);
		rc = mark_unreconciled(rj, did, msg, err);
		goto out;
	}
	status = json_string_value(json_object_get(prod, "status"));
	if (status == NULL) {
		rb_err_set(err, 502, "shopify_bad_response", "Shopify answered "
		    "product %s without its status.", pid);
		goto out;
	}
	switch (action) {
	case CATALOG_DRAFT:
		took = strcmp(status, "DRAFT") == 0;
		break;
	case CATALOG_ARCHIVE:
		took = strcmp(status, "ARCHIVED") == 0;
		break;
	default:
		if (!json_is_boolean(json_object_get(prod, "inCollection"))) {
			rb_err_set(err, 502, "shopify_bad_response", "Shopify "
			    "answered product %s without inCollection.", pid);
			goto out;
		}
		took = json_is_false(json_object_get(prod, "inCollection"));
		break;
	}
	if (!took) {
		(*nnot)++;
		(void)snprintf(msg, sizeof(msg), "%s; a later run found that "
		    "Shopify had not applied it (product %s is %s%s), so it "
		    "was not retired", INTERRUPTED, pid, status,
		    action == CATALOG_REMOVE_FROM_COLLECTION ? " and still in "
		    "the collection" : "");
		log_info("decision %s: %s", did, msg);
		rc = mark_unreconciled(rj, did, msg, err);
		goto out;
	}
	if (action == CATALOG_REMOVE_FROM_COLLECTION &&
	    json_array_append_new(cols, json_integer(strtoll(col, NULL, 10)))
	    == -1)
		goto oom;
	if (action == CATALOG_REMOVE_FROM_COLLECTION)
		(void)snprintf(note, sizeof(note), "the worker was interrupted "
		    "after Shopify had removed product %s from collection %s; "
		    "a later run found that and opened its slot", pid, col);
	else
		(void)snprintf(note, sizeof(note), "the worker was interrupted "
		    "after Shopify had set product %s to %s; a later run found "
		    "that and opened its slot", pid, status);
	if (record_retired(rj, did, pid, col, action, cols, note, &opened,
	    err) == -1)
		goto out;
	if (opened) {
		(*ndone)++;
		log_info("reconciled decision %s: product %s was retired (%s) "
		    "before the worker died; decision done, slot opened", did,
		    pid, catalog_action_name(action));
	}
	rc = 0;
	goto out;
oom:
	rb_err_oom(err);
out:
	json_decref(v);
	json_decref(data);
	json_decref(cols);
	return rc;
}

/* Step 0 of the header comment. */
static int
reconcile_interrupted(struct rj *rj, struct rb_err *err)
{
	const char *p[3] = { rj->ctx->shop->id, INTERRUPTED,
	    RECONCILE_MAX_ROWS };
	size_t ndone = 0, nnot = 0, ngone = 0;
	PGresult *r;
	int i, rows, rc = -1;

	r = db_query(rj->ctx->db, "SELECT d.id, d.product_id, "
	    "d.collection_id, d.action FROM public.replace_decisions d WHERE "
	    "d.shop_id = $1 AND d.verdict = 'retire' AND d.outcome = 'failed' "
	    "AND d.error = $2 AND d.decided_at > now() - interval '30 days' "
	    "AND NOT EXISTS (SELECT 1 FROM public.catalog_slots s WHERE "
	    "s.decision_id = d.id) AND NOT EXISTS (SELECT 1 FROM "
	    "public.replace_decisions l WHERE l.shop_id = d.shop_id AND "
	    "l.product_id = d.product_id AND l.id > d.id AND l.verdict = "
	    "'retire' AND l.outcome = 'done') ORDER BY d.id LIMIT "
	    "$3::integer", 3, p, err);
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		if (*rj->ctx->stop) {
			rb_err_set(err, 503, "cancelled", "The run was stopped "
			    "before this shop was finished.");
			goto out;
		}
		if (reconcile_one(rj, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
		    PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3), &ndone,
		    &nnot, &ngone, err) == -1)
			goto out;
	}
	if (rows > 0)
		log_info("%d interrupted retirements checked: %zu had taken "
		    "effect (done, slot opened), %zu had not, %zu products "
		    "gone", rows, ndone, nnot, ngone);
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/*
 * A failure after which Shopify may still have made the change: no answer
 * in time, the connection cut, the answer cut off or garbled, a 5xx.  The
 * decision then stays failed/"interrupted" and the next run asks Shopify
 * what happened (reconcile_interrupted), as after a crash.  A refusal
 * (userErrors, 4xx, THROTTLED, a GraphQL error) changed nothing.
 */
static bool
maybe_applied(const struct rb_err *e)
{
	return strcmp(e->code, "shopify_timeout") == 0 ||
	    strcmp(e->code, "shopify_unavailable") == 0 ||
	    strcmp(e->code, "shopify_bad_response") == 0;
}

static int
fail_decision(struct rj *rj, const char *decision_id, const char *msg,
    struct rb_err *err)
{
	const char *p[2] = { decision_id, msg };

	return db_exec(rj->ctx->db, "UPDATE public.replace_decisions SET "
	    "outcome = 'failed', error = $2 WHERE id = $1::bigint", 2, p, err);
}

/* Fresh data or no decision (replace_sales_fresh(), lib/replace_plan.c):
 * the shop is skipped with the reason unless the sales tracker has read
 * every local day through yesterday; "no sales" is never assumed. */
static int
sales_fresh(struct rj *rj, struct rb_err *err)
{
	char why[400];
	int rc;

	rc = replace_sales_fresh(rj->ctx->db, rj->ctx->shop->id, rj->tz,
	    rj->now, why, sizeof(why), err);
	return rc == 1 ? job_skip(err, "%s", why) : rc;
}

/* What acting on a shop's decisions did. */
struct act_tally {
	size_t	retired, failed, kept, dry;
	char	first_err[300];
};

/* Records one decision and, for a retirement outside a dry run, acts on
 * it.  A failed retirement is counted (and recorded unless Shopify may
 * have applied it); -1 only for what stops the shop. */
static int
act_one(struct rj *rj, const struct replace_decision *d, bool dry,
    struct act_tally *t, struct rb_err *err)
{
	char g[64], did[24], pid[24], col[24];
	struct rb_err aerr;
	json_t *prod;
	bool opened;

	(void)snprintf(g, sizeof(g), "gid://shopify/Product/%lld",
	    d->product_id);
	prod = json_object_get(rj->products, g);
	if (d->verdict != REPLACE_RETIRE || dry) {
		t->kept += d->verdict != REPLACE_RETIRE;
		t->dry += d->verdict == REPLACE_RETIRE;
		return store_decision(rj, d, prod, d->verdict !=
		    REPLACE_RETIRE ? "none" : "dry_run", NULL, did,
		    sizeof(did), err);
	}
	if (*rj->ctx->stop)
		return rb_err_set(err, 503, "cancelled", "The run was stopped "
		    "before this shop was finished.");
	if (store_decision(rj, d, prod, "failed", INTERRUPTED, did,
	    sizeof(did), err) == -1)
		return -1;
	rb_err_clear(&aerr);
	if (retire(rj, d, prod, &aerr) == -1) {
		if (strcmp(aerr.code, "cancelled") == 0) {
			*err = aerr;
			return -1;
		}
		t->failed++;
		if (t->first_err[0] == '\0')
			(void)rb_strlcpy(t->first_err, aerr.msg,
			    sizeof(t->first_err));
		if (maybe_applied(&aerr)) {
			log_warn("%s (the next run asks Shopify whether "
			    "product %lld was retired)", aerr.msg,
			    d->product_id);
			return 0;
		}
		log_warn("%s", aerr.msg);
		return fail_decision(rj, did, aerr.msg, err);
	}
	job_crash_point("REBOSS_TEST_CRASH_AFTER_RETIRE", &crash_retires);
	(void)snprintf(pid, sizeof(pid), "%lld", d->product_id);
	(void)snprintf(col, sizeof(col), "%lld", d->collection_id);
	if (record_retired(rj, did, pid, col, rj->set.action,
	    json_object_get(prod, "cols"), NULL, &opened, err) == -1)
		return -1;
	if (!opened)
		log_info("decision %s was recorded by another run meanwhile",
		    did);
	t->retired++;
	log_info("retired product %lld (%s, %s): %lld of %d units in %s..%s",
	    d->product_id, catalog_action_name(rj->set.action), d->reason,
	    d->units, d->threshold, d->window_start, d->window_end);
	return 0;
}

static int
decide_and_act(struct rj *rj, struct rb_err *err)
{
	struct replace_plan_in in;
	struct replace_plan plan;
	struct act_tally t;
	size_t i;
	bool dry = rj->ctx->dry_run || rj->set.dry_run;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	memset(&in, 0, sizeof(in));
	in.db = rj->ctx->db;
	in.sh = &rj->sh;
	in.shop_id = rj->ctx->shop->id;
	in.set = &rj->set;
	in.tz = rj->tz;
	in.now = rj->now;
	in.max_retirements = rj->ctx->limits->retirements_per_run;
	in.stop = rj->ctx->stop;
	if (replace_plan_make(&in, &plan, err) == -1)
		goto out;
	rj->products = plan.products;
	for (i = 0; i < plan.nd; i++)
		if (act_one(rj, &plan.ds[i], dry, &t, err) == -1)
			goto out;
	log_info("%zu products judged: %zu retired, %zu would be retired "
	    "(dry run), %zu kept or skipped, %zu failed", plan.nd, t.retired,
	    t.dry, t.kept, t.failed);
	if (t.failed > 0) {
		rb_err_set(err, 502, "retire_failed", "%zu of %zu retirements "
		    "failed; the first: %s", t.failed, t.failed + t.retired,
		    t.first_err);
		goto out;
	}
	rc = 0;
out:
	rj->products = NULL;
	replace_plan_free(&plan);
	return rc;
}

static int
process_shop(struct job_ctx *ctx, struct rb_err *err)
{
	struct rj rj;
	int rc = -1;

	memset(&rj, 0, sizeof(rj));
	rj.ctx = ctx;
	if (catalog_settings_load(ctx->db, ctx->shop->id, &rj.set, err) == -1)
		return -1;
	if (rj.set.nmanaged == 0) {
		log_info("no managed collections: nothing to judge");
		catalog_settings_free(&rj.set);
		return 0;
	}
	if (catalog_now(ctx->db, &rj.now, err) == -1)
		goto out;
	if (catalog_open_shop(ctx, &rj.sh, rj.tz, sizeof(rj.tz), err) == -1)
		goto out;
	if ((rc = sales_fresh(&rj, err)) != 0)
		goto close;
	rc = -1;
	/* Not in a dry run: it opens slots. */
	if (!ctx->dry_run && !rj.set.dry_run &&
	    reconcile_interrupted(&rj, err) == -1)
		goto close;
	if (decide_and_act(&rj, err) == -1)
		goto close;
	rc = 0;
close:
	shopify_close(&rj.sh);
out:
	catalog_settings_free(&rj.set);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct job_def def = {
		.kind = JOB_REPLACE,
		.program = "reboss-replace-job",
		.summary = "retire products that do not sell and open slots "
		    "for new ones",
		.process_shop = process_shop,
	};

	catalog_clock_init(&argc, argv);
	return job_main(&def, argc, argv);
}
