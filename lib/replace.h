/*
 * replace.h - the pure decision of replace_job (PRODUCT.md, Jobs 2):
 * (products, daily sales, settings, now) -> one decision per product that
 * is live (status ACTIVE) in a managed collection, each with its reason and
 * numbers.  No I/O; owned by "catalog" (jobs/replace_job.c acts on it).
 *
 * Time, in the shop's IANA zone (sales are per local day, sales_tracker):
 *   pub_day  = local date of published_at; today = local date of now;
 *   age      = today - pub_day (whole local days).
 *   age <  start_days                   start phase running: keep.
 *   start_days <= age < start_days+post_days
 *            start phase judged: units of the local days
 *            [pub_day, pub_day + start_days - 1] (start_days complete days,
 *            publish day included) below start_min_sales -> retire.
 *   age >= start_days + post_days
 *            post phase judged: units of the last post_days complete local
 *            days [today - post_days, today - 1] below post_min_sales ->
 *            retire.
 *   So the start phase ends at local midnight after day start_days (a DST
 *   change makes that 167 or 169 hours, not 168), and a product gets the
 *   post check only once it has post_days of history after its start
 *   phase.  "Below" is strict: exactly the threshold keeps the product.
 *   Judging is stateless: a missed run judges the same way a day later.
 * Overrides: no publish date -> skip ("no_publish_date"); the protect tag
 * (case-insensitive, as Shopify tags are) -> skip ("protected"), numbers
 * still filled in.  Cap: of the retire verdicts the max_replacements worst
 * (fewest units, then lowest units/threshold, then oldest, then lowest id)
 * stay retire; the others become keep with reason "cap_reached".  With
 * fill_limited only the fill_budget worst of those stay retire; the others
 * within the cap become keep with reason "no_replacement" (a retired
 * product's slot must be refillable from the design queue).
 */
#ifndef RB_REPLACE_H
#define RB_REPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "rb.h"

#define REPLACE_DAY_LEN	11	/* "YYYY-MM-DD" + NUL */

struct replace_product {
	long long		 id;		/* Product legacy id */
	const char		*title;
	const char		*status;	/* "ACTIVE", "DRAFT", ... */
	bool			 has_published;
	time_t			 published_at;
	const char *const	*tags;
	size_t			 ntags;
	const long long		*collections;	/* legacy ids it is in */
	size_t			 ncollections;
};

/* One row of product_sales_daily.  The array passed in must be sorted by
 * (product_id, day). */
struct replace_sale {
	long long	product_id;
	char		day[REPLACE_DAY_LEN];
	long long	units;
};

struct replace_params {
	int			 start_days, start_min_sales;
	int			 post_days, post_min_sales;
	int			 max_replacements;
	const long long		*managed;
	size_t			 nmanaged;
	const char		*protect_tag;
	const char		*tz;		/* IANA zone of the shop */
	time_t			 now;
	/* Never shrink the collection: at most fill_budget retirements (the
	 * design queue items not yet promised to an open slot).  false:
	 * no such limit (the owner allows shrinking). */
	bool			 fill_limited;
	long			 fill_budget;
};

enum replace_verdict { REPLACE_KEEP, REPLACE_RETIRE, REPLACE_SKIP };

struct replace_decision {
	size_t			 product;	/* index into products[] */
	long long		 product_id;
	long long		 collection_id;	/* first managed one it is in */
	enum replace_verdict	 verdict;
	const char		*reason;	/* stable code, see replace.c */
	const char		*phase;		/* "start", "post", "none" */
	int			 age_days;	/* -1 without publish date */
	char			 window_start[REPLACE_DAY_LEN]; /* "" if none */
	char			 window_end[REPLACE_DAY_LEN];
	long long		 units;
	int			 threshold;
};

/* Fills *out (malloc'd, caller frees) with *n decisions in products[]
 * order.  -1 and err on a bad zone or out of memory. */
int	replace_decide(const struct replace_product *products, size_t nproducts,
	    const struct replace_sale *sales, size_t nsales,
	    const struct replace_params *params,
	    struct replace_decision **out, size_t *n, struct rb_err *err)
	    RB_WUR;

const char *replace_verdict_name(enum replace_verdict v);
/* A sentence for people: "sold 0 of the 1 units needed in its start phase
 * (2026-03-02 to 2026-03-08)". */
int	replace_explain(const struct replace_decision *d, char *buf,
	    size_t size) RB_WUR;

/* "YYYY-MM-DD" <-> days since 1970-01-01 (proleptic Gregorian). */
int	replace_day_parse(const char *s, long *day) RB_WUR;
void	replace_day_format(long day, char out[REPLACE_DAY_LEN]);
/* Local date of t in tz as a day number. */
int	replace_local_day(time_t t, const char *tz, long *day) RB_WUR;

#endif
