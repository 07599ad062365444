/*
 * shop_limits.h - the owner's per-shop switches and limits (table
 * shop_settings, sql/016_shop_settings.sql) under the operator's caps
 * (reboss.conf max_creations_per_day, ...).  Owner: the "owner" module.
 *
 * The job runtime loads them for every shop before the job's own work
 * (job_worker.c): a job the owner turned off leaves the shop 'skipped'
 * with the reason; the others find the effective limits in ctx->limits,
 * each the smaller of the shop's setting (none: no per-shop limit) and the
 * operator's cap.  A job with a setting of its own for the same thing
 * (catalog_settings.max_replacements, pod_ai_settings.daily_token_budget)
 * uses the smallest of the three: shop_limit_min().
 */
#ifndef RB_SHOP_LIMITS_H
#define RB_SHOP_LIMITS_H

#include <stdbool.h>

#include "config.h"
#include "rb.h"

struct db;

struct shop_limits {
	bool	enabled;		/* shop_settings.<job>_enabled */
	long	creations_per_day;
	long	retirements_per_run;
	long	pins_per_run;
	long	openai_tokens_per_day;
};

/* The operator's caps alone (a shop without a shop_settings row). */
void	shop_limits_default(const struct rb_config *cfg,
	    struct shop_limits *lim);
/* The effective limits of shop for job kind. */
int	shop_limits_load(struct db *db, const struct rb_config *cfg,
	    const char *shop_id, enum job_kind kind, struct shop_limits *lim,
	    struct rb_err *err) RB_WUR;
/* The smaller of a limit and a job's own setting. */
long	shop_limit_min(long limit, long own);

/*
 * A limit stopped work for the shop (limit: "creations_per_day", ...;
 * detail: a sentence saying what waits): a notification for the owner,
 * at most one per limit and day (reboss_notify_limit(), sql/019).  Called
 * outside a transaction; a failure is logged and never fails the shop.
 */
void	shop_limit_reached(struct db *db, const char *shop_id,
	    const char *limit, const char *fmt, ...) RB_PRINTF(4, 5);

#endif
