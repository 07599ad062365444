/*
 * fuzz_sales.c - Shopify order data as the sales tracker reads it
 * (lib/sales.h; owner: fuzzing): money amounts, RFC 3339 times, zone
 * names and whole Order/LineItem objects.
 *
 * Input: byte 0 = mode (mod 3).
 *   0: a money string.  Accepted => format(parse(s)) parses to the same
 *      micros, and |micros| < 1e18.  Also: 8 input bytes as an int64,
 *      format then parse gives it back when it is within the cap.
 *   1: a time string for sales_parse_time, then sales_local_day in UTC
 *      (accepted day: "YYYY-MM-DD").
 *   2: JSON {"tz": "...", "order": {...}, "lineItems": [...]}.  Accepted
 *      lines: per product units and revenue are the sums (checked by
 *      adding up again), a cancelled order contributes no line.
 */
#include <ctype.h>
#include <jansson.h>

#include "fuzz.h"
#include "sales.h"

const char fuzz_target[] = "sales";

static const char *const zones[] = {
	"UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata",
	"Pacific/Chatham", "Australia/Lord_Howe",
};

static void
money(const uint8_t *data, size_t size)
{
	char buf[SALES_MONEY_LEN];
	char *s = fuzz_str(data, size);
	int64_t m = 0, m2 = 0;

	if (sales_parse_money(s, &m) == 0) {
		FUZZ_CHECK(m > -1000000000000000000LL &&
		    m < 1000000000000000000LL);
		FUZZ_CHECK(sales_format_money(m, buf, sizeof(buf)) == 0);
		FUZZ_CHECK(sales_parse_money(buf, &m2) == 0 && m2 == m);
	}
	if (size >= 8) {
		int64_t v;

		memcpy(&v, data, sizeof(v));
		if (sales_format_money(v, buf, sizeof(buf)) == 0 &&
		    sales_parse_money(buf, &m2) == 0)
			FUZZ_CHECK(m2 == v);
		/* Small buffers must fail, not overflow. */
		if (sales_format_money(v, buf, (size_t)(data[0] % 8)) == 0)
			FUZZ_CHECK(strlen(buf) < (size_t)(data[0] % 8));
	}
	free(s);
}

static bool
day_ok(const char *d)
{
	size_t i;

	if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
			return false;
	return true;
}

static void
times(const uint8_t *data, size_t size)
{
	char day[SALES_DAY_LEN];
	char *s = fuzz_str(data, size);
	time_t t;

	if (sales_parse_time(s, &t) == 0 &&
	    sales_local_day(t, "UTC", day) == 0)
		FUZZ_CHECK(day_ok(day));
	free(s);
}

static void
order(unsigned pick, const uint8_t *data, size_t size)
{
	struct sales_order o;
	struct rb_err err;
	json_t *root, *lines, *line, *tzv;
	const char *tz = zones[pick % RB_NELEM(zones)];
	long long units = 0, u;
	size_t i;

	root = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(root))
		goto out;
	tzv = json_object_get(root, "tz");
	if (json_is_string(tzv))
		tz = json_string_value(tzv);
	(void)sales_tz_valid(tz);
	memset(&o, 0, sizeof(o));
	if (sales_order_init(&o, json_object_get(root, "order"), tz,
	    &err) == 0) {
		FUZZ_CHECK(day_ok(o.day));
		lines = json_object_get(root, "lineItems");
		json_array_foreach(lines, i, line) {
			if (sales_order_add_line(&o, line, &err) == -1)
				break;
		}
		FUZZ_CHECK(o.n <= o.cap);
		if (o.cancelled)
			FUZZ_CHECK(o.n == 0);
		for (i = 0; i < o.n; i++) {
			size_t j;

			for (j = i + 1; j < o.n; j++)
				FUZZ_CHECK(o.lines[i].product_id !=
				    o.lines[j].product_id);
			u = o.lines[i].units;
			FUZZ_CHECK(!__builtin_add_overflow(units, u, &units));
		}
	}
	sales_order_free(&o);
out:
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 256 * 1024)
		return 0;
	switch (data[0] % 3) {
	case 0:
		money(data + 2, size - 2);
		break;
	case 1:
		times(data + 2, size - 2);
		break;
	default:
		order(data[1], data + 2, size - 2);
		break;
	}
	return 0;
}
