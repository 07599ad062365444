/*
 * catalog_settings.h - per-shop settings of the catalog cycle
 * (sql/005_catalog.sql catalog_settings) and what replace_job and
 * product_creation share.  Owned by "catalog".
 *
 * catalog_settings_parse() takes the row as JSON (row_to_json; NULL = no
 * row = defaults), applies the defaults to missing keys and validates every
 * setting; an invalid one fails with err->code "invalid_settings" and a
 * sentence naming the setting and why, before anything is touched.
 *
 * Time control (catalog_clock_*): the jobs judge "as of" a moment.  In
 * production that is the database clock.  Tests may pass a hidden
 * "--as-of <RFC 3339 | epoch seconds>", honoured ONLY when the environment
 * has REBOSS_TEST_CLOCK=1: catalog_clock_init() then removes it from argv
 * before job_main() sees it.  Without REBOSS_TEST_CLOCK=1 the option is
 * left in argv and job_main() refuses it as unknown (exit 2), so a stray
 * --as-of can never change what production does.
 */
#ifndef RB_CATALOG_SETTINGS_H
#define RB_CATALOG_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "rb.h"

struct db;
struct job_ctx;
struct shopify;

#define CATALOG_MAX_COLLECTIONS	50
#define CATALOG_TAG_MAX		256
#define CATALOG_MAX_OPTIONS	3
#define CATALOG_MAX_VARIANTS	100

enum catalog_action {
	CATALOG_DRAFT,
	CATALOG_ARCHIVE,
	CATALOG_REMOVE_FROM_COLLECTION
};

struct catalog_settings {
	int			start_days;		/* 7 */
	int			start_min_sales;	/* 1 */
	int			post_days;		/* 14 */
	int			post_min_sales;		/* 1 */
	long long		managed[CATALOG_MAX_COLLECTIONS];
	size_t			nmanaged;
	enum catalog_action	action;			/* draft */
	char			protect_tag[CATALOG_TAG_MAX]; /* reboss-keep */
	int			max_replacements;	/* 10 */
	json_t			*template;	/* validated, owned */
	long long		creation_collection;	/* 0 = managed[0] */
	int			daily_quota;		/* 0 */
	bool			dry_run;		/* false */
	/* true: replace_job may retire a product whose slot the design
	 * queue cannot fill (the collection shrinks). */
	bool			allow_shrink;		/* false */
};

/* row: a JSON object of catalog_settings columns, or NULL for defaults. */
int	catalog_settings_parse(json_t *row, struct catalog_settings *s,
	    struct rb_err *err) RB_WUR;
void	catalog_settings_free(struct catalog_settings *s);
/* Loads the shop's row (or defaults) and parses it. */
int	catalog_settings_load(struct db *db, const char *shop_id,
	    struct catalog_settings *s, struct rb_err *err) RB_WUR;
const char *catalog_action_name(enum catalog_action a);

/* Validates a creation template (also per-item overrides merged into one);
 * what names the setting in the message ("creation_template"). */
int	catalog_template_check(json_t *t, const char *what,
	    struct rb_err *err) RB_WUR;
/*
 * creation_template.inventory: how a created variant is stocked.  A
 * print-on-demand variant has no stock, and Shopify sells a tracked
 * variant without stock only with inventoryPolicy CONTINUE, so:
 *   "untracked" (default, also when absent): inventoryItem.tracked false;
 *   "continue": tracked, inventoryPolicy CONTINUE (sold when out of stock).
 * Returns the inventoryPolicy to send, NULL for anything else.
 */
const char *catalog_inventory_policy(const char *inventory);
/* "19.99": digits, at most one '.', at most 4 decimals, <= 24 chars. */
bool	catalog_price_ok(const char *s);

/* See the header comment.  Call from main() before job_main(). */
void	catalog_clock_init(int *argc, char **argv);
/* The job's "now": the --as-of moment, else the database clock. */
int	catalog_now(struct db *db, time_t *now, struct rb_err *err) RB_WUR;

/* Opens the shop's sealed (or plain) token and the GraphQL client, then
 * reads the shop's IANA zone into tz. */
int	catalog_open_shop(struct job_ctx *ctx, struct shopify *sh, char *tz,
	    size_t tzsize, struct rb_err *err) RB_WUR;
/* The shop's IANA zone as Shopify reports it (and this host knows). */
int	catalog_shop_zone(struct shopify *sh, char *tz, size_t tzsize,
	    struct rb_err *err) RB_WUR;

/* "%Y-%m-%dT%H:%M:%SZ" */
void	catalog_iso_utc(time_t t, char out[32]);

#endif
