/* test_sales.c - lib/sales.c: money, RFC 3339 times, local days across DST
 * changes, and an order's per-product contribution. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb.h"
#include "sales.h"
#include "tap.h"

static void
test_money(void)
{
	int64_t m = 0;
	char buf[SALES_MONEY_LEN];

	ok(sales_parse_money("12.34", &m) == 0 && m == 12340000, "12.34");
	ok(sales_parse_money("-0.5", &m) == 0 && m == -500000, "-0.5");
	ok(sales_parse_money("7", &m) == 0 && m == 7000000, "7");
	ok(sales_parse_money("0.123456", &m) == 0 && m == 123456, "6 decimals");
	ok(sales_parse_money("0.1234567", &m) == -1, "7 decimals refused");
	ok(sales_parse_money("1e3", &m) == -1, "exponent refused");
	ok(sales_parse_money("", &m) == -1, "empty refused");
	ok(sales_parse_money("1.", &m) == -1, "dot without digits refused");
	ok(sales_parse_money("1000000000000", &m) == -1, "too large refused");
	ok(sales_format_money(-12340000, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "-12.340000") == 0, "format negative");
	ok(sales_format_money(5, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "0.000005") == 0, "format micro");
	ok(sales_format_money(5, buf, 4) == -1, "format truncation reported");
}

static void
test_time(void)
{
	time_t t = 0;

	ok(sales_parse_time("2026-03-08T07:30:00Z", &t) == 0 &&
	    t == 1772955000, "Z");
	ok(sales_parse_time("2026-03-08T08:30:00.250+01:00", &t) == 0 &&
	    t == 1772955000, "offset and fraction");
	ok(sales_parse_time("2026-03-08T02:30:00-05:00", &t) == 0 &&
	    t == 1772955000, "negative offset");
	ok(sales_parse_time("2026-03-08T07:30:00", &t) == -1, "no zone refused");
	ok(sales_parse_time("2026-13-08T07:30:00Z", &t) == -1, "month 13");
	ok(sales_parse_time("2026-03-08T07:30:00Zjunk", &t) == -1, "junk");
}

static void
day_is(const char *iso, const char *tz, const char *want)
{
	time_t t;
	char day[SALES_DAY_LEN] = "";

	if (sales_parse_time(iso, &t) == -1 ||
	    sales_local_day(t, tz, day) == -1) {
		ok(0, "day of %s in %s", iso, tz);
		return;
	}
	is_str(day, want, "day of %s in %s", iso, tz);
}

static void
test_days(void)
{
	char day[SALES_DAY_LEN];

	/* New York, DST starts 2026-03-08 02:00 EST -> 03:00 EDT. */
	day_is("2026-03-08T04:59:59Z", "America/New_York", "2026-03-07");
	day_is("2026-03-08T05:00:00Z", "America/New_York", "2026-03-08");
	day_is("2026-03-09T03:59:59Z", "America/New_York", "2026-03-08");
	day_is("2026-03-09T04:00:00Z", "America/New_York", "2026-03-09");
	/* ... and ends 2026-11-01 02:00 EDT -> 01:00 EST (a 25 h day). */
	day_is("2026-11-01T03:59:59Z", "America/New_York", "2026-10-31");
	day_is("2026-11-01T04:00:00Z", "America/New_York", "2026-11-01");
	day_is("2026-11-02T04:59:59Z", "America/New_York", "2026-11-01");
	day_is("2026-11-02T05:00:00Z", "America/New_York", "2026-11-02");
	/* Berlin, DST starts 2026-03-29 02:00 CET. */
	day_is("2026-03-28T22:59:59Z", "Europe/Berlin", "2026-03-28");
	day_is("2026-03-28T23:00:00Z", "Europe/Berlin", "2026-03-29");
	day_is("2026-03-29T21:59:59Z", "Europe/Berlin", "2026-03-29");
	day_is("2026-03-29T22:00:00Z", "Europe/Berlin", "2026-03-30");
	day_is("2026-06-30T18:14:59Z", "Asia/Kathmandu", "2026-06-30");
	day_is("2026-06-30T18:15:00Z", "Asia/Kathmandu", "2026-07-01");
	day_is("2026-06-30T23:59:59Z", "UTC", "2026-06-30");
	ok(sales_local_day(0, "Mars/Olympus", day) == -1, "unknown zone");
	ok(sales_local_day(0, "../../etc/passwd", day) == -1, "path refused");
	ok(!sales_tz_valid("Europe/Berlin\n"), "control char refused");
	ok(getenv("TZ") != NULL && strcmp(getenv("TZ"), "UTC") == 0,
	    "TZ is the last valid zone asked for, not a refused one");
	/* Someone else changing TZ is noticed: the zone is loaded again. */
	(void)setenv("TZ", "Asia/Kathmandu", 1);
	tzset();
	day_is("2026-06-30T23:59:59Z", "UTC", "2026-06-30");
	day_is("2026-06-30T18:15:00Z", "Asia/Kathmandu", "2026-07-01");
	day_is("2026-06-30T18:15:00Z", "UTC", "2026-06-30");
}

static json_t *
line(const char *product, long qty, const char *price)
{
	return json_pack("{s:o, s:i, s:{s:{s:s}}}",
	    "product", product ? json_pack("{s:s}", "id", product) :
	    json_null(), "currentQuantity", (json_int_t)qty,
	    "discountedUnitPriceAfterAllDiscountsSet", "shopMoney",
	    "amount", price);
}

static void
test_order(void)
{
	struct sales_order o;
	struct rb_err err;
	json_t *ord, *l;
	int rc = 0;

	ord = json_pack("{s:s, s:s, s:n}", "id", "gid://shopify/Order/42",
	    "processedAt", "2026-03-08T04:30:00Z", "cancelledAt");
	ok(sales_order_init(&o, ord, "America/New_York", &err) == 0,
	    "init");
	is_int(o.order_id, 42, "order id");
	is_str(o.day, "2026-03-07", "day before the DST change");
	ok(!o.cancelled, "not cancelled");
	l = line("gid://shopify/Product/7", 2, "10.50");
	rc |= sales_order_add_line(&o, l, &err);
	json_decref(l);
	l = line("gid://shopify/Product/8", 1, "3.333333");
	rc |= sales_order_add_line(&o, l, &err);
	json_decref(l);
	l = line("gid://shopify/Product/7", 3, "9.99");
	rc |= sales_order_add_line(&o, l, &err);
	json_decref(l);
	l = line(NULL, 5, "1.00");
	rc |= sales_order_add_line(&o, l, &err);
	json_decref(l);
	l = line("gid://shopify/Product/9", 0, "5.00");
	rc |= sales_order_add_line(&o, l, &err);
	json_decref(l);
	ok(rc == 0, "lines added");
	is_int(o.n, 3, "three products (custom item skipped)");
	is_int(o.lines[0].product_id, 7, "product 7 first");
	is_int(o.lines[0].units, 5, "units summed per product");
	is_int(o.lines[0].revenue, 50970000, "2x10.50 + 3x9.99 exact");
	is_int(o.lines[1].revenue, 3333333, "micro-units kept");
	is_int(o.lines[2].units, 0, "fully refunded line has 0 units");
	l = line("gid://shopify/Product/7", -1, "1.00");
	ok(sales_order_add_line(&o, l, &err) == -1 &&
	    strcmp(err.code, "shopify_bad_response") == 0, "negative qty");
	json_decref(l);
	l = line("gid://shopify/Product/7", 1, "abc");
	ok(sales_order_add_line(&o, l, &err) == -1, "bad price");
	json_decref(l);
	sales_order_free(&o);
	json_decref(ord);

	ord = json_pack("{s:s, s:s, s:s}", "id", "gid://shopify/Order/43",
	    "processedAt", "2026-11-01T05:30:00Z", "cancelledAt",
	    "2026-11-02T00:00:00Z");
	ok(sales_order_init(&o, ord, "America/New_York", &err) == 0 &&
	    o.cancelled, "cancelled order");
	is_str(o.day, "2026-11-01", "day on the 25-hour day");
	l = line("gid://shopify/Product/7", 2, "10.00");
	ok(sales_order_add_line(&o, l, &err) == 0 && o.n == 0,
	    "cancelled order contributes nothing");
	json_decref(l);
	sales_order_free(&o);
	json_decref(ord);

	ord = json_pack("{s:s}", "id", "gid://shopify/Order/44");
	ok(sales_order_init(&o, ord, "UTC", &err) == -1, "no processedAt");
	json_decref(ord);
	ord = json_pack("{s:s, s:s}", "id", "nope", "processedAt",
	    "2026-01-01T00:00:00Z");
	ok(sales_order_init(&o, ord, "UTC", &err) == -1, "bad id");
	json_decref(ord);
}

int
main(void)
{
	(void)unsetenv("TZ");
	test_money();
	test_time();
	test_days();
	test_order();
	return done_testing();
}
