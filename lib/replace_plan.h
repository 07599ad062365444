/*
 * replace_plan.h - what replace_job decides for a shop, read-only: the live
 * members of its managed collections (Shopify queries, no mutation), the
 * units of the judged days (product_sales_daily), the design queue's fill
 * budget and the owner's limit, then replace_decide() (lib/replace.c).
 * One code path for reboss-replace-job (which then acts on the decisions)
 * and the owner's preview, GET /api/shops/{id}/replace-preview (which only
 * shows them).  Owned by "catalog".
 */
#ifndef RB_REPLACE_PLAN_H
#define RB_REPLACE_PLAN_H

#include <signal.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "catalog_settings.h"
#include "rb.h"
#include "replace.h"

struct db;
struct shopify;

struct replace_plan_in {
	struct db			*db;
	struct shopify			*sh;		/* open, the shop's */
	const char			*shop_id;
	const struct catalog_settings	*set;
	const char			*tz;		/* the shop's zone */
	time_t				 now;
	long				 max_retirements; /* owner/operator */
	volatile const sig_atomic_t	*stop;		/* NULL: none */
};

struct replace_plan {
	json_t			*products;	/* gid -> product + "cols" */
	struct replace_decision	*ds;		/* nd decisions */
	size_t			 nd;
	/* owned by the plan: what ds[] points into */
	struct replace_product	*ps;
	const char		**tags;
	long long		*cols;
	struct replace_sale	*sales;
	long long		 cur_col;
	const struct replace_plan_in *in;
};

/*
 * 0 when the sales tracker has read every local day through yesterday in
 * tz; 1 when not, why[] saying so (replace_job skips the shop: "no sales"
 * is never assumed); -1 and err.
 */
int	replace_sales_fresh(struct db *db, const char *shop_id, const char *tz,
	    time_t now, char *why, size_t whysz, struct rb_err *err) RB_WUR;

/* Reads the members and decides; the caller frees with replace_plan_free()
 * (also after a failure). */
int	replace_plan_make(const struct replace_plan_in *in,
	    struct replace_plan *plan, struct rb_err *err) RB_WUR;
void	replace_plan_free(struct replace_plan *plan);

#endif
