/*
 * sales.h - the pure part of the sales tracker (jobs/sales_tracker.c):
 * one Shopify order -> its contribution per product to the shop's daily
 * sales, in the shop's own time zone.  Owned by the sales_tracker.
 *
 * What an order contributes (PRODUCT.md, Jobs 1; reboss-jobs(8)):
 *   day      the local date of Order.processedAt in the shop's IANA zone
 *            (the date Shopify's own reports use);
 *   units and revenue per product: lib/sales_bulk.h (exact money fields);
 *   sales_order_add_line() is the older per-line form (units x an
 *   "approximate" unit price), no longer used by the tracker.
 * Money is kept in micro-units (1e-6) in int64 so sums stay exact.
 */
#ifndef RB_SALES_H
#define RB_SALES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rb.h"

#define SALES_MICROS		1000000LL
#define SALES_DAY_LEN		11	/* "YYYY-MM-DD" + NUL */
#define SALES_MONEY_LEN		32
#define SALES_TZ_MAX		64

struct sales_line {
	long long	product_id;	/* Product legacy id */
	long long	units;
	int64_t		revenue;	/* micro-units */
};

struct sales_order {
	long long		 order_id;	/* Order legacy id */
	char			 day[SALES_DAY_LEN];
	bool			 cancelled;
	size_t			 n, cap;
	struct sales_line	*lines;		/* one per product */
};

/* "-12.34" -> -12340000.  At most 6 decimals, |value| < 1e12. */
int	sales_parse_money(const char *s, int64_t *micros) RB_WUR;
/* -12340000 -> "-12.340000". */
int	sales_format_money(int64_t micros, char *buf, size_t size) RB_WUR;
/* RFC 3339 "2026-03-08T07:30:00Z", "...T07:30:00.123+01:00" -> time_t. */
int	sales_parse_time(const char *iso, time_t *t) RB_WUR;
/* A zone name we accept: tzdata names only ("Europe/Berlin", "UTC"),
 * present under /usr/share/zoneinfo. */
bool	sales_tz_valid(const char *tz);
/* Local date of t in tz.  Sets TZ for the process to tz and leaves it so
 * (a worker is single-threaded and uses local time nowhere else): the zone
 * file is read once, not once per order.  An invalid tz changes nothing. */
int	sales_local_day(time_t t, const char *tz, char day[SALES_DAY_LEN])
	    RB_WUR;

/* Starts o from an Order object {id, processedAt, cancelledAt}. */
int	sales_order_init(struct sales_order *o, json_t *order, const char *tz,
	    struct rb_err *err) RB_WUR;
/* Adds one LineItem {currentQuantity, product{id},
 * discountedUnitPriceAfterAllDiscountsSet{shopMoney{amount}}}. */
int	sales_order_add_line(struct sales_order *o, json_t *line,
	    struct rb_err *err) RB_WUR;
/* Adds units and revenue (micros) of product to o. */
int	sales_order_add(struct sales_order *o, long long product,
	    long long units, int64_t revenue, struct rb_err *err) RB_WUR;
void	sales_order_free(struct sales_order *o);

struct db;
/*
 * How far the shop's sales are known (sales_cursors.complete_through,
 * sql/011_sales_history.sql): out gets "YYYY-MM-DD", the last local day
 * (shop's zone) whose orders are completely read and stored, or "" when
 * nothing is known (the tracker never completed for the shop).  Whatever
 * acts on sales judges only days <= out.  -1 and err on a database error.
 */
int	sales_complete_through(struct db *db, const char *shop_id,
	    char out[SALES_DAY_LEN], struct rb_err *err) RB_WUR;

#endif
