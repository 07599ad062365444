/*
 * replace_plan.c - see replace_plan.h.  Moved here from jobs/replace_job.c
 * so that the owner's preview runs the job's own reading and deciding.
 * Every Shopify call here is a query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "replace_plan.h"
#include "sales.h"
#include "shopify.h"
#include "util.h"

static const char Q_COLLECTION[] =
	"query Collection($id: ID!) { collection(id: $id) { id title } }";

static const char Q_MEMBERS[] =
	"query Members($id: ID!, $cursor: String) { collection(id: $id) { "
	"products(first: 100, after: $cursor) { nodes { id title status "
	"tags publishedAt } pageInfo { hasNextPage endCursor } } } }";

static int
member_page(void *arg, json_t *nodes, struct rb_err *err)
{
	struct replace_plan *pl = arg;
	json_t *n, *p, *cols;
	const char *g;
	size_t i;

	if (pl->in->stop != NULL && *pl->in->stop)
		return rb_err_set(err, 503, "cancelled", "The run was "
		    "stopped before this shop was finished.");
	json_array_foreach(nodes, i, n) {
		g = json_string_value(json_object_get(n, "id"));
		if (g == NULL || shopify_gid_id(g) <= 0)
			return rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned a product without a valid id.");
		p = json_object_get(pl->products, g);
		if (p == NULL) {
			if ((p = json_deep_copy(n)) == NULL ||
			    json_object_set_new(p, "cols", json_array()) ==
			    -1 || json_object_set_new(pl->products, g, p) == -1)
				goto oom;
		}
		cols = json_object_get(p, "cols");
		if (json_array_append_new(cols, json_integer(pl->cur_col)) ==
		    -1)
			goto oom;
	}
	return 0;
oom:
	return rb_err_oom(err);
}

static int
read_members(struct replace_plan *pl, struct rb_err *err)
{
	const struct catalog_settings *set = pl->in->set;
	json_t *v = NULL, *data = NULL;
	char g[64];
	size_t i;

	for (i = 0; i < set->nmanaged; i++) {
		(void)snprintf(g, sizeof(g), "gid://shopify/Collection/%lld",
		    set->managed[i]);
		if ((v = json_pack("{s:s}", "id", g)) == NULL)
			return rb_err_oom(err);
		if (shopify_graphql(pl->in->sh, Q_COLLECTION, v, &data,
		    err) == -1)
			goto fail;
		if (!json_is_object(json_object_get(data, "collection"))) {
			rb_err_set(err, 400, "invalid_settings", "The setting "
			    "managed_collection_ids names collection %lld, "
			    "which this shop does not have; fix it in the "
			    "dashboard (nothing in this shop was changed).",
			    set->managed[i]);
			goto fail;
		}
		json_decref(data);
		data = NULL;
		pl->cur_col = set->managed[i];
		if (shopify_paginate(pl->in->sh, Q_MEMBERS, v,
		    "collection.products", member_page, pl, err) == -1)
			goto fail;
		json_decref(v);
		v = NULL;
	}
	return 0;
fail:
	json_decref(v);
	json_decref(data);
	return -1;
}

static int
read_sales(struct replace_plan *pl, long today, size_t *n,
    struct rb_err *err)
{
	const struct catalog_settings *set = pl->in->set;
	char from[REPLACE_DAY_LEN];
	const char *p[2];
	PGresult *r;
	int i, rows;

	*n = 0;
	replace_day_format(today - set->start_days - set->post_days - 2, from);
	p[0] = pl->in->shop_id;
	p[1] = from;
	r = db_query(pl->in->db, "SELECT product_id, day::text, units FROM "
	    "public.product_sales_daily WHERE shop_id = $1 AND day >= "
	    "$2::date AND units > 0 ORDER BY product_id, day", 2, p, err);
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	if (rows > 0 && (pl->sales = calloc((size_t)rows,
	    sizeof(*pl->sales))) == NULL) {
		PQclear(r);
		return rb_err_oom(err);
	}
	for (i = 0; i < rows; i++) {
		pl->sales[i].product_id = strtoll(PQgetvalue(r, i, 0), NULL,
		    10);
		pl->sales[i].units = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		(void)rb_strlcpy(pl->sales[i].day, PQgetvalue(r, i, 1),
		    sizeof(pl->sales[i].day));
	}
	*n = (size_t)rows;
	PQclear(r);
	return 0;
}

int
replace_sales_fresh(struct db *db, const char *shop_id, const char *tz,
    time_t now, char *why, size_t whysz, struct rb_err *err)
{
	char through[SALES_DAY_LEN], need[REPLACE_DAY_LEN];
	long today, have;

	if (replace_local_day(now, tz, &today) == -1)
		return rb_err_set(err, 500, "invalid_timezone", "The shop's "
		    "time zone is not known on this host.");
	replace_day_format(today - 1, need);
	if (sales_complete_through(db, shop_id, through, err) == -1)
		return -1;
	if (through[0] == '\0') {
		(void)snprintf(why, whysz, "Sales are not known yet (the sales "
		    "tracker has not completed for this shop); replace_job "
		    "judges on complete sales through %s only, so nothing was "
		    "judged or changed.", need);
		return 1;
	}
	if (replace_day_parse(through, &have) == -1 || have < today - 1) {
		(void)snprintf(why, whysz, "Sales are complete through %s only; "
		    "replace_job judges on complete sales through %s (%s), so "
		    "nothing was judged or changed until the sales tracker has "
		    "read that day.", through, need, tz);
		return 1;
	}
	return 0;
}

/*
 * How many retirements the design queue can refill: pending items not yet
 * needed by an open slot (a slot an item is being created for is not
 * counted twice).  The setting allow_shrink lifts the limit.
 */
static int
fill_budget(struct db *db, const char *shop_id, long *budget,
    struct rb_err *err)
{
	const char *p[1] = { shop_id };
	PGresult *r;

	r = db_query(db, "SELECT (SELECT count(*) FROM "
	    "public.design_queue WHERE shop_id = $1 AND status = 'pending') - "
	    "(SELECT count(*) FROM public.catalog_slots s WHERE s.shop_id = $1 "
	    "AND s.filled_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
	    "public.design_queue q WHERE q.shop_id = $1 AND q.slot_id = s.id "
	    "AND q.status = 'creating'))", 1, p, err);
	if (r == NULL)
		return -1;
	if (rb_parse_long(PQgetvalue(r, 0, 0), -2147483647L, 2147483647L,
	    budget) == -1) {
		PQclear(r);
		return rb_err_set(err, 500, "internal_error", "Could not read "
		    "the size of the design queue.");
	}
	PQclear(r);
	if (*budget < 0)
		*budget = 0;
	return 0;
}

/* replace_decide()'s products from the members read. */
static int
build_products(struct replace_plan *pl, size_t *np, struct rb_err *err)
{
	size_t i = 0, j, nt = 0, nc = 0, ti = 0, ci = 0;
	const char *key;
	json_t *p, *x;
	time_t t;

	json_object_foreach(pl->products, key, p) {
		nt += json_array_size(json_object_get(p, "tags"));
		nc += json_array_size(json_object_get(p, "cols"));
	}
	*np = json_object_size(pl->products);
	/* +1: never NULL, so "tags + ti" is never arithmetic on NULL (UB) */
	if ((pl->ps = calloc(*np + 1, sizeof(*pl->ps))) == NULL ||
	    (pl->tags = calloc(nt + 1, sizeof(*pl->tags))) == NULL ||
	    (pl->cols = calloc(nc + 1, sizeof(*pl->cols))) == NULL)
		return rb_err_oom(err);
	json_object_foreach(pl->products, key, p) {
		struct replace_product *ps = &pl->ps[i++];
		const char *pub = json_string_value(json_object_get(p,
		    "publishedAt"));

		ps->id = shopify_gid_id(key);
		ps->title = json_string_value(json_object_get(p, "title"));
		ps->status = json_string_value(json_object_get(p, "status"));
		ps->has_published = pub != NULL &&
		    sales_parse_time(pub, &t) == 0;
		ps->published_at = ps->has_published ? t : 0;
		ps->tags = pl->tags + ti;
		json_array_foreach(json_object_get(p, "tags"), j, x)
			pl->tags[ti++] = json_string_value(x);
		ps->ntags = (size_t)(pl->tags + ti - ps->tags);
		ps->collections = pl->cols + ci;
		json_array_foreach(json_object_get(p, "cols"), j, x)
			pl->cols[ci++] = json_integer_value(x);
		ps->ncollections = (size_t)(pl->cols + ci - ps->collections);
	}
	return 0;
}

int
replace_plan_make(const struct replace_plan_in *in, struct replace_plan *pl,
    struct rb_err *err)
{
	const struct catalog_settings *set = in->set;
	struct replace_params pa;
	size_t np, ns = 0;
	long today;

	memset(pl, 0, sizeof(*pl));
	pl->in = in;
	if ((pl->products = json_object()) == NULL)
		return rb_err_oom(err);
	if (read_members(pl, err) == -1 || build_products(pl, &np, err) == -1)
		return -1;
	if (replace_local_day(in->now, in->tz, &today) == -1)
		return rb_err_set(err, 500, "invalid_timezone", "The shop's "
		    "time zone is not known on this host.");
	if (read_sales(pl, today, &ns, err) == -1)
		return -1;
	memset(&pa, 0, sizeof(pa));
	pa.start_days = set->start_days;
	pa.start_min_sales = set->start_min_sales;
	pa.post_days = set->post_days;
	pa.post_min_sales = set->post_min_sales;
	/* The owner's retirements_per_run and the operator's cap bound the
	 * rule's own max_replacements. */
	pa.max_replacements = (int)(in->max_retirements <
	    set->max_replacements ? in->max_retirements :
	    set->max_replacements);
	pa.managed = set->managed;
	pa.nmanaged = set->nmanaged;
	pa.protect_tag = set->protect_tag;
	pa.tz = in->tz;
	pa.now = in->now;
	pa.fill_limited = !set->allow_shrink;
	if (pa.fill_limited && fill_budget(in->db, in->shop_id,
	    &pa.fill_budget, err) == -1)
		return -1;
	return replace_decide(pl->ps, np, pl->sales, ns, &pa, &pl->ds,
	    &pl->nd, err);
}

void
replace_plan_free(struct replace_plan *pl)
{
	free(pl->ds);
	free(pl->sales);
	free(pl->cols);
	free(pl->tags);
	free(pl->ps);
	json_decref(pl->products);
	memset(pl, 0, sizeof(*pl));
}
