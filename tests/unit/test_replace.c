/*
 * test_replace.c - replace_decide() as a table (lib/replace.h), and
 * catalog_settings_parse() defaults and refusals.  Owned by "catalog".
 * Zone: America/New_York (EST -5, EDT -4 from 2026-03-08 02:00 local).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog_settings.h"
#include "replace.h"
#include "sales.h"
#include "tap.h"

static const long long COL = 100, OTHER = 200;
static const long long in_col[] = { 100 };
static const long long out_col[] = { 200 };
static const long long both[] = { 200, 100 };
static const char *const no_tags[] = { NULL };
static const char *const keep_tags[] = { "summer", "KEEP" };

static time_t
T(const char *iso)
{
	time_t t = 0;

	if (sales_parse_time(iso, &t) == -1) {
		printf("# bad time %s\n", iso);
		abort();
	}
	return t;
}

static struct replace_params
params(const char *now)
{
	static const long long managed[] = { 100 };
	struct replace_params p;

	memset(&p, 0, sizeof(p));
	p.start_days = 7;
	p.start_min_sales = 2;
	p.post_days = 14;
	p.post_min_sales = 3;
	p.max_replacements = 10;
	p.managed = managed;
	p.nmanaged = 1;
	p.protect_tag = "keep";
	p.tz = "America/New_York";
	p.now = T(now);
	return p;
}

static struct replace_product
prod(long long id, const char *published)
{
	struct replace_product p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.title = "P";
	p.status = "ACTIVE";
	p.has_published = published != NULL;
	p.published_at = published ? T(published) : 0;
	p.tags = no_tags;
	p.ntags = 0;
	p.collections = in_col;
	p.ncollections = 1;
	return p;
}

static const struct replace_decision *
find(const struct replace_decision *d, size_t n, long long id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (d[i].product_id == id)
			return &d[i];
	return NULL;
}

static void
test_threshold(void)
{
	/* Published Mon 2026-01-05 10:00 EST; start days 01-05..01-11. */
	struct replace_product ps[3];
	struct replace_sale s[] = {
		{ 1, "2026-01-04", 5 },	/* before publish: not counted */
		{ 1, "2026-01-06", 2 },	/* exactly the threshold */
		{ 1, "2026-01-12", 9 },	/* after the window */
		{ 2, "2026-01-11", 1 },	/* one below */
	};
	struct replace_params pa = params("2026-01-12T15:00:00Z");
	struct replace_decision *d = NULL;
	const struct replace_decision *x;
	struct rb_err err;
	size_t n;

	ps[0] = prod(1, "2026-01-05T15:00:00Z");
	ps[1] = prod(2, "2026-01-05T15:00:00Z");
	ps[2] = prod(3, "2026-01-05T15:00:00Z");
	ok(replace_decide(ps, 3, s, 4, &pa, &d, &n, &err) == 0, "decide");
	is_int(n, 3, "three decisions");
	x = find(d, n, 1);
	ok(x && x->verdict == REPLACE_KEEP, "exactly at the threshold: keep");
	is_str(x ? x->reason : "", "start_phase_passed", "reason");
	is_int(x ? x->units : -1, 2, "units in window");
	is_int(x ? x->threshold : -1, 2, "threshold");
	is_str(x ? x->window_start : "", "2026-01-05", "window starts on "
	    "the publish day");
	is_str(x ? x->window_end : "", "2026-01-11", "window is 7 days");
	is_str(x ? x->phase : "", "start", "phase");
	is_int(x ? x->age_days : -1, 7, "age");
	x = find(d, n, 2);
	ok(x && x->verdict == REPLACE_RETIRE, "one below: retire");
	is_str(x ? x->reason : "", "start_phase_below", "reason");
	is_int(x ? x->collection_id : 0, COL, "collection recorded");
	x = find(d, n, 3);
	ok(x && x->verdict == REPLACE_RETIRE && x->units == 0,
	    "no sales at all: retire");
	free(d);
}

static void
test_last_hour(void)
{
	struct replace_product ps[1];
	struct replace_params pa;
	struct replace_decision *d = NULL;
	struct rb_err err;
	size_t n;

	ps[0] = prod(1, "2026-01-05T15:00:00Z");
	/* 2026-01-11 23:30 EST: the last hour of day 7. */
	pa = params("2026-01-12T04:30:00Z");
	ok(replace_decide(ps, 1, NULL, 0, &pa, &d, &n, &err) == 0 && n == 1,
	    "decide (last hour)");
	ok(n == 1 && d[0].verdict == REPLACE_KEEP, "last hour of day 7: "
	    "still in its start phase");
	is_str(n ? d[0].reason : "", "start_phase_running", "reason");
	is_int(n ? d[0].age_days : -1, 6, "age 6");
	free(d);
	/* 2026-01-12 00:00 EST: the phase has ended. */
	pa = params("2026-01-12T05:00:00Z");
	ok(replace_decide(ps, 1, NULL, 0, &pa, &d, &n, &err) == 0 && n == 1,
	    "decide (midnight)");
	ok(n == 1 && d[0].verdict == REPLACE_RETIRE, "local midnight after "
	    "day 7: judged");
	free(d);
}

static void
test_dst(void)
{
	/* Published 2026-03-02 12:00 EST; start days 03-02..03-08 (DST
	 * begins 03-08 02:00).  The phase ends 03-09 00:00 EDT = 04:00Z,
	 * 167 hours after local midnight of 03-02 (05:00Z), not 168. */
	struct replace_product ps[1];
	struct replace_sale s[] = { { 1, "2026-03-08", 1 } };
	struct replace_params pa;
	struct replace_decision *d = NULL;
	struct rb_err err;
	size_t n;

	ps[0] = prod(1, "2026-03-02T17:00:00Z");
	pa = params("2026-03-09T03:59:59Z");
	ok(replace_decide(ps, 1, s, 1, &pa, &d, &n, &err) == 0 && n == 1,
	    "decide (DST, before)");
	ok(n == 1 && d[0].verdict == REPLACE_KEEP && strcmp(d[0].reason,
	    "start_phase_running") == 0, "03-08 23:59 EDT: still running");
	free(d);
	pa = params("2026-03-09T04:00:00Z");
	ok(replace_decide(ps, 1, s, 1, &pa, &d, &n, &err) == 0 && n == 1,
	    "decide (DST, at the boundary)");
	ok(n == 1 && d[0].verdict == REPLACE_RETIRE, "03-09 00:00 EDT: "
	    "judged one hour before UTC+168h would");
	is_str(n ? d[0].window_end : "", "2026-03-08", "window ends on the "
	    "DST day");
	is_int(n ? d[0].units : -1, 1, "the DST day's sale counts");
	free(d);
}

static void
test_overrides(void)
{
	struct replace_product ps[5];
	struct replace_params pa = params("2026-02-10T15:00:00Z");
	struct replace_decision *d = NULL;
	const struct replace_decision *x;
	struct rb_err err;
	size_t n;

	ps[0] = prod(1, NULL);				/* no publish date */
	ps[1] = prod(2, "2026-01-05T15:00:00Z");	/* protected */
	ps[1].tags = keep_tags;
	ps[1].ntags = 2;
	ps[2] = prod(3, "2026-01-05T15:00:00Z");	/* left collection */
	ps[2].collections = out_col;
	ps[3] = prod(4, "2026-01-05T15:00:00Z");	/* draft already */
	ps[3].status = "DRAFT";
	ps[4] = prod(5, "2026-01-05T15:00:00Z");	/* in two, one ours */
	ps[4].collections = both;
	ps[4].ncollections = 2;
	ok(replace_decide(ps, 5, NULL, 0, &pa, &d, &n, &err) == 0,
	    "decide (overrides)");
	is_int(n, 3, "left the collection and drafts are not judged");
	x = find(d, n, 1);
	ok(x && x->verdict == REPLACE_SKIP, "no publish date: skipped");
	is_str(x ? x->reason : "", "no_publish_date", "reason");
	is_str(x ? x->phase : "", "none", "no phase");
	x = find(d, n, 2);
	ok(x && x->verdict == REPLACE_SKIP, "protected tag (any case): "
	    "never retired");
	is_str(x ? x->reason : "", "protected", "reason");
	is_str(x ? x->phase : "", "post", "numbers still computed");
	ok(find(d, n, 3) == NULL, "a product that left the collection: no "
	    "decision");
	ok(find(d, n, 4) == NULL, "a draft: no decision");
	x = find(d, n, 5);
	ok(x && x->verdict == REPLACE_RETIRE && x->collection_id == COL,
	    "judged by the managed collection it is in");
	(void)OTHER;
	free(d);
}

static void
test_post_phase(void)
{
	/* Published 2026-01-05; now 2026-02-10 10:00 EST: age 36 >= 21;
	 * post window = 01-27..02-09. */
	struct replace_product ps[2];
	struct replace_sale s[] = {
		{ 1, "2026-01-26", 50 },	/* just before the window */
		{ 1, "2026-01-27", 2 },
		{ 1, "2026-02-09", 1 },
		{ 1, "2026-02-10", 9 },		/* today: incomplete */
		{ 2, "2026-01-27", 2 },
	};
	struct replace_params pa = params("2026-02-10T15:00:00Z");
	struct replace_decision *d = NULL;
	const struct replace_decision *x;
	struct rb_err err;
	size_t n;

	ps[0] = prod(1, "2026-01-05T15:00:00Z");
	ps[1] = prod(2, "2026-01-05T15:00:00Z");
	ok(replace_decide(ps, 2, s, 5, &pa, &d, &n, &err) == 0 && n == 2,
	    "decide (post)");
	x = find(d, n, 1);
	ok(x && x->verdict == REPLACE_KEEP && x->units == 3,
	    "post phase at the threshold: keep");
	is_str(x ? x->window_start : "", "2026-01-27", "post window start");
	is_str(x ? x->window_end : "", "2026-02-09", "post window end");
	x = find(d, n, 2);
	ok(x && x->verdict == REPLACE_RETIRE, "post phase below: retire");
	is_str(x ? x->reason : "", "post_phase_below", "reason");
	is_int(x ? x->threshold : -1, 3, "post threshold");
	free(d);
	/* Day 8..21: still judged by its start phase. */
	pa = params("2026-01-20T15:00:00Z");
	ok(replace_decide(ps, 2, s, 5, &pa, &d, &n, &err) == 0 && n == 2,
	    "decide (between)");
	x = find(d, n, 1);
	ok(x && strcmp(x->phase, "start") == 0 && x->verdict ==
	    REPLACE_RETIRE, "age 15: start phase result stands");
	free(d);
}

static void
test_cap(void)
{
	struct replace_product ps[5];
	struct replace_sale s[] = {
		{ 1, "2026-01-06", 1 },
		{ 3, "2026-01-06", 1 },
		{ 5, "2026-01-06", 5 },
	};
	struct replace_params pa = params("2026-01-13T15:00:00Z");
	struct replace_decision *d = NULL;
	const struct replace_decision *x;
	struct rb_err err;
	size_t n, i, retired = 0;

	ps[0] = prod(1, "2026-01-05T15:00:00Z");	/* 1 unit */
	ps[1] = prod(2, "2026-01-06T15:00:00Z");	/* 0, younger */
	ps[2] = prod(3, "2026-01-05T15:00:00Z");	/* 1 unit */
	ps[3] = prod(4, "2026-01-05T15:00:00Z");	/* 0, older */
	ps[4] = prod(5, "2026-01-05T15:00:00Z");	/* passes */
	pa.max_replacements = 2;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0 && n == 5,
	    "decide (cap)");
	for (i = 0; i < n; i++)
		retired += d[i].verdict == REPLACE_RETIRE;
	is_int(retired, 2, "the cap holds");
	x = find(d, n, 4);
	ok(x && x->verdict == REPLACE_RETIRE, "worst (0 units) goes");
	x = find(d, n, 2);
	ok(x && x->verdict == REPLACE_RETIRE, "the other 0-unit one goes");
	x = find(d, n, 1);
	ok(x && x->verdict == REPLACE_KEEP && strcmp(x->reason,
	    "cap_reached") == 0, "1 unit: kept by the cap");
	x = find(d, n, 5);
	is_str(x ? x->reason : "", "start_phase_passed", "a good one is "
	    "untouched by the cap");
	free(d);
	pa.max_replacements = 1;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0, "decide");
	x = find(d, n, 4);
	ok(x && x->verdict == REPLACE_RETIRE, "equal units: the older goes "
	    "first");
	x = find(d, n, 2);
	ok(x && x->verdict == REPLACE_KEEP, "the younger waits");
	free(d);
	pa.max_replacements = 0;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0, "decide");
	for (i = 0, retired = 0; i < n; i++)
		retired += d[i].verdict == REPLACE_RETIRE;
	is_int(retired, 0, "max_replacements 0 retires nothing");
	free(d);
	/* The design queue can refill one slot: only the worst goes. */
	pa.max_replacements = 10;
	pa.fill_limited = true;
	pa.fill_budget = 1;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0, "decide");
	for (i = 0, retired = 0; i < n; i++)
		retired += d[i].verdict == REPLACE_RETIRE;
	is_int(retired, 1, "one refill, one retirement");
	x = find(d, n, 4);
	ok(x && x->verdict == REPLACE_RETIRE, "the worst goes");
	x = find(d, n, 2);
	is_str(x ? x->reason : "", "no_replacement", "the next waits for "
	    "the queue");
	free(d);
	pa.fill_budget = 0;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0, "decide");
	for (i = 0, retired = 0; i < n; i++)
		retired += d[i].verdict == REPLACE_RETIRE;
	is_int(retired, 0, "an empty queue retires nothing");
	free(d);
	pa.fill_budget = 3;
	pa.max_replacements = 1;
	ok(replace_decide(ps, 5, s, 3, &pa, &d, &n, &err) == 0, "decide");
	x = find(d, n, 2);
	is_str(x ? x->reason : "", "cap_reached", "beyond the cap: the cap "
	    "says why");
	free(d);
}

static void
test_days(void)
{
	char buf[REPLACE_DAY_LEN];
	long d;

	ok(replace_day_parse("1970-01-01", &d) == 0 && d == 0, "epoch day");
	ok(replace_day_parse("2024-02-29", &d) == 0, "leap day");
	replace_day_format(d, buf);
	is_str(buf, "2024-02-29", "round trip");
	ok(replace_day_parse("2026-02-29", &d) == -1, "not a leap year");
	ok(replace_day_parse("2026-1-01", &d) == -1, "bad form");
	ok(replace_local_day(T("2026-01-12T04:30:00Z"), "America/New_York",
	    &d) == 0, "local day");
	replace_day_format(d, buf);
	is_str(buf, "2026-01-11", "local day in New York");
}

static void
test_settings(void)
{
	struct catalog_settings s;
	struct rb_err err;
	json_t *row;

	ok(catalog_settings_parse(NULL, &s, &err) == 0, "defaults");
	is_int(s.start_days, 7, "start_days 7");
	is_int(s.post_days, 14, "post_days 14");
	is_int(s.action, CATALOG_DRAFT, "draft");
	is_str(s.protect_tag, "reboss-keep", "protect tag");
	is_int(s.max_replacements, 10, "cap 10");
	ok(!s.dry_run, "not dry");
	catalog_settings_free(&s);

	row = json_pack("{s:i}", "start_days", 0);
	ok(catalog_settings_parse(row, &s, &err) == -1, "start_days 0 "
	    "refused");
	is_str(err.code, "invalid_settings", "code");
	ok(strstr(err.msg, "start_days") && strstr(err.msg, "from 1 to 90"),
	    "the sentence names the setting and why: %s", err.msg);
	json_decref(row);

	row = json_pack("{s:s}", "retire_action", "delete");
	ok(catalog_settings_parse(row, &s, &err) == -1 &&
	    strstr(err.msg, "retire_action") != NULL, "unknown action");
	json_decref(row);

	row = json_pack("{s:{s:[{s:s, s:[s, s]}], s:[{s:[s], s:s}]}}",
	    "creation_template", "options", "name", "Size", "values", "S",
	    "M", "variants", "options", "XL", "price", "10.00");
	ok(catalog_settings_parse(row, &s, &err) == -1 &&
	    strstr(err.msg, "creation_template.variants") != NULL,
	    "a variant naming an unknown option value: %s", err.msg);
	json_decref(row);

	row = json_pack("{s:{s:[], s:[{s:[], s:s}]}}", "creation_template",
	    "options", "variants", "options", "price", "-1");
	ok(catalog_settings_parse(row, &s, &err) == -1, "negative price");
	json_decref(row);

	row = json_pack("{s:[I, I], s:s, s:b, s:i}", "managed_collection_ids",
	    (json_int_t)11, (json_int_t)12, "retire_action",
	    "remove_from_collection", "dry_run", 1, "daily_creation_quota", 3);
	ok(catalog_settings_parse(row, &s, &err) == 0, "valid row");
	is_int(s.nmanaged, 2, "two managed");
	is_int(s.managed[1], 12, "ids kept");
	is_int(s.action, CATALOG_REMOVE_FROM_COLLECTION, "action");
	ok(s.dry_run, "dry switch");
	is_int(s.daily_quota, 3, "quota");
	catalog_settings_free(&s);
	json_decref(row);
	ok(catalog_price_ok("19.99") && catalog_price_ok("5") &&
	    !catalog_price_ok("1.2.3") && !catalog_price_ok("") &&
	    !catalog_price_ok("abc"), "prices");
}

int
main(void)
{
	test_threshold();
	test_last_hour();
	test_dst();
	test_overrides();
	test_post_phase();
	test_cap();
	test_days();
	test_settings();
	return done_testing();
}
