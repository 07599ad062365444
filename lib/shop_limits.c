/*
 * shop_limits.c - see shop_limits.h.  The per-shop values are checked by
 * the table's CHECK constraints; they are parsed here within the same
 * bounds, so a value the database should not hold fails the shop rather
 * than lifting a limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "shop_limits.h"
#include "util.h"

void
shop_limits_default(const struct rb_config *cfg, struct shop_limits *lim)
{
	lim->enabled = true;
	lim->creations_per_day = cfg->max_creations_per_day;
	lim->retirements_per_run = cfg->max_retirements_per_run;
	lim->pins_per_run = cfg->max_pins_per_run;
	lim->openai_tokens_per_day = cfg->max_openai_tokens_per_day;
}

long
shop_limit_min(long limit, long own)
{
	return own < limit ? own : limit;
}

/* A NULL column leaves *v (the operator's cap); a value lowers it. */
static int
lower(const PGresult *r, int col, long max, long *v)
{
	long n;

	if (PQgetisnull(r, 0, col))
		return 0;
	if (rb_parse_long(PQgetvalue(r, 0, col), 0, max, &n) == -1)
		return -1;
	*v = shop_limit_min(*v, n);
	return 0;
}

int
shop_limits_load(struct db *db, const struct rb_config *cfg,
    const char *shop_id, enum job_kind kind, struct shop_limits *lim,
    struct rb_err *err)
{
	const char *p[2] = { shop_id, job_names[kind] };
	PGresult *r;
	int rc = -1;

	shop_limits_default(cfg, lim);
	r = db_query(db, "SELECT CASE $2 WHEN 'sales_tracker' THEN "
	    "sales_tracker_enabled WHEN 'replace_job' THEN replace_job_enabled "
	    "WHEN 'product_creation' THEN product_creation_enabled "
	    "WHEN 'product_optimize' THEN product_optimize_enabled "
	    "WHEN 'pinterest_sync' THEN pinterest_sync_enabled END, "
	    "creations_per_day, retirements_per_run, pins_per_run, "
	    "openai_tokens_per_day FROM public.shop_settings "
	    "WHERE shop_id = $1", 2, p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		rc = 0;
		goto out;
	}
	lim->enabled = strcmp(PQgetvalue(r, 0, 0), "f") != 0;
	if (lower(r, 1, 250, &lim->creations_per_day) == -1 ||
	    lower(r, 2, 1000, &lim->retirements_per_run) == -1 ||
	    lower(r, 3, 1000, &lim->pins_per_run) == -1 ||
	    lower(r, 4, 100000000, &lim->openai_tokens_per_day) == -1) {
		rb_err_set(err, 500, "invalid_settings", "The shop's limits "
		    "(shop_settings) could not be read.");
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

void
shop_limit_reached(struct db *db, const char *shop_id, const char *limit,
    const char *fmt, ...)
{
	char detail[400];
	const char *p[3] = { shop_id, limit, detail };
	struct rb_err err;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rb_err_clear(&err);
	if (db_exec(db, "SELECT public.reboss_notify_limit($1::uuid, $2, $3)",
	    3, p, &err) == -1)
		log_warn("the owner could not be notified of %s: %s", limit,
		    err.msg);
}
