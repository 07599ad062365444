/* test_sales_bulk.c - lib/sales_bulk.c: order objects in any order (bulk
 * JSONL without grouping, split anywhere) give the same contributions;
 * exact money: discounts, refunds, removed units; bad input named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb.h"
#include "sales_bulk.h"
#include "tap.h"

#define O(id, at, extra) "{\"id\":\"gid://shopify/Order/" #id "\"," \
	"\"processedAt\":\"" at "\",\"cancelledAt\":null,\"updatedAt\":" \
	"\"2026-11-30T10:00:00Z\"" extra "}"
#define MONEY(a) "{\"shopMoney\":{\"amount\":\"" a "\"}}"
#define L(id, order, prod, q, cur, orig, allocs) "{\"id\":" \
	"\"gid://shopify/LineItem/" #id "\",\"__parentId\":" \
	"\"gid://shopify/Order/" #order "\",\"quantity\":" #q "," \
	"\"currentQuantity\":" #cur ",\"product\":" prod "," \
	"\"originalTotalSet\":" MONEY(orig) ",\"discountAllocations\":[" \
	allocs "]}"
#define P(n) "{\"id\":\"gid://shopify/Product/" #n "\"}"
#define A(a) "{\"allocatedAmountSet\":" MONEY(a) "}"
#define R(id, line, q, sub) "{\"id\":\"gid://shopify/RefundLineItem/" #id \
	"\",\"__parentId\":\"gid://shopify/Refund/9\",\"quantity\":" #q "," \
	"\"lineItem\":{\"id\":\"gid://shopify/LineItem/" #line "\"}," \
	"\"subtotalSet\":" MONEY(sub) "}"

/* Order 1 (Berlin, 30 Nov): line 11 product 7, 3 x 10.00, 0.10 line
 * discount and 1.00 of an order discount, 1 unit refunded for 9.63;
 * line 12 product 8, 2 x 5.00, 1 removed by an edit; line 13 a custom
 * item.  Order 2: a test order.  Order 3: cancelled.  Order 4 (1 Dec
 * 23:30 UTC = 2 Dec in Berlin): line 41 product 7, 1 x 4.00. */
static const char *const lines[] = {
	O(1, "2026-11-30T12:00:00Z", ",\"refunds\":[{\"id\":"
	    "\"gid://shopify/Refund/9\"}]"),
	L(11, 1, P(7), 3, 2, "30.00", A("0.10") "," A("1.00")),
	L(12, 1, P(8), 2, 1, "10.00", ""),
	L(13, 1, "null", 1, 1, "2.50", ""),
	R(91, 11, 1, "9.63"),
	O(2, "2026-11-30T12:00:00Z", ",\"test\":true"),
	L(21, 2, P(7), 5, 5, "50.00", ""),
	"{\"id\":\"gid://shopify/Order/3\",\"processedAt\":"
	    "\"2026-11-30T12:00:00Z\",\"cancelledAt\":\"2026-12-01T00:00:00Z\"}",
	L(31, 3, P(7), 1, 1, "10.00", ""),
	O(4, "2026-12-01T23:30:00Z", ""),
	L(41, 4, P(7), 1, 1, "4.00", ""),
};
#define NLINES (sizeof(lines) / sizeof(lines[0]))

/* The orders as one string "id day product:units:revenue ...;". */
static int
summarize(struct sales_bulk *b, char *out, size_t size)
{
	struct rb_err err;
	struct sales_order o;
	char upd[SALES_UPDATED_LEN], m[SALES_MONEY_LEN], one[128];
	size_t i, j;

	out[0] = '\0';
	for (i = 0; i < sales_bulk_orders(b); i++) {
		if (sales_bulk_order(b, i, &o, upd, &err) == -1)
			return -1;
		(void)snprintf(one, sizeof(one), "%lld %s%s", o.order_id,
		    o.day, o.cancelled ? " skip" : "");
		strncat(out, one, size - strlen(out) - 1);
		for (j = 0; j < o.n; j++) {
			if (sales_format_money(o.lines[j].revenue, m,
			    sizeof(m)) == -1)
				return -1;
			(void)snprintf(one, sizeof(one), " %lld:%lld:%s",
			    o.lines[j].product_id, o.lines[j].units, m);
			strncat(out, one, size - strlen(out) - 1);
		}
		strncat(out, ";", size - strlen(out) - 1);
		sales_order_free(&o);
	}
	return 0;
}

/* Feeds lines in the order perm, as JSONL cut every `step` bytes. */
static int
run(const size_t *perm, size_t step, char *out, size_t size)
{
	struct sales_bulk *b = sales_bulk_new("Europe/Berlin");
	struct rb_err err;
	char text[8192];
	size_t i, off;
	int rc = -1;

	text[0] = '\0';
	for (i = 0; i < NLINES; i++) {
		strncat(text, lines[perm[i]], sizeof(text) - strlen(text) - 1);
		if (i + 1 < NLINES)	/* the last line unterminated */
			strncat(text, "\n", sizeof(text) - strlen(text) - 1);
	}
	for (off = 0; off < strlen(text); off += step) {
		size_t k = strlen(text) - off < step ? strlen(text) - off :
		    step;

		if (sales_bulk_feed(b, text + off, k, &err) == -1)
			goto out;
	}
	if (sales_bulk_finish(b, &err) == -1)
		goto out;
	rc = summarize(b, out, size);
out:
	if (rc == -1)
		printf("# error: %s\n", err.msg);
	sales_bulk_free(b);
	return rc;
}

static void
test_any_order(void)
{
	static const char want[] = "1 2026-11-30 7:2:19.270000 8:1:5.000000;"
	    "2 2026-11-30 skip;3 2026-11-30 skip;4 2026-12-02 7:1:4.000000;";
	size_t perm[NLINES], i, k, t;
	char got[1024];
	unsigned seed = 7;

	for (i = 0; i < NLINES; i++)
		perm[i] = i;
	ok(run(perm, 4096, got, sizeof(got)) == 0 && strcmp(got, want) == 0,
	    "grouped: %s", got);
	for (i = 0; i < NLINES; i++)
		perm[i] = NLINES - 1 - i;
	ok(run(perm, 1, got, sizeof(got)) == 0 && strcmp(got, want) == 0,
	    "children first, fed byte by byte: %s", got);
	for (t = 0; t < 20; t++) {
		for (i = NLINES - 1; i > 0; i--) {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 8) % (i + 1);
			size_t x = perm[i];
			perm[i] = perm[k];
			perm[k] = x;
		}
		if (run(perm, 1 + t * 7, got, sizeof(got)) != 0 ||
		    strcmp(got, want) != 0)
			break;
	}
	ok(t == 20, "20 shuffles cut at different sizes agree");
}

static void
expect_error(const char *jsonl, const char *what)
{
	struct sales_bulk *b = sales_bulk_new("UTC");
	struct rb_err err;
	int rc;

	rb_err_clear(&err);
	rc = sales_bulk_feed(b, jsonl, strlen(jsonl), &err);
	if (rc == 0)
		rc = sales_bulk_finish(b, &err);
	ok(rc == -1 && strstr(err.msg, what) != NULL, "refused: %s (%s)",
	    what, err.msg);
	sales_bulk_free(b);
}

static void
test_bad(void)
{
	expect_error(L(11, 1, P(7), 1, 1, "1.00", "") "\n",
	    "a line item of an unknown order");
	expect_error(O(1, "2026-11-30T12:00:00Z", "") "\n" R(91, 11, 1, "1.00")
	    "\n", "a refund of an unknown line item");
	expect_error(O(1, "2026-11-30T12:00:00Z", "") "\n"
	    O(1, "2026-11-30T12:00:00Z", "") "\n", "an order twice");
	expect_error("{\"id\":1}\n", "without a valid id (line 1)");
	expect_error("not json\n", "Line 1 of the bulk result");
	expect_error(O(1, "2026-11-30T12:00:00Z", "") "\n"
	    L(11, 1, P(7), 1, 2, "1.00", "") "\n", "valid quantity");
	expect_error(O(1, "2026-11-30T12:00:00Z", "") "\n"
	    L(11, 1, P(7), 1, 1, "1.0.0", "") "\n", "valid quantity or total");
	{
		struct sales_bulk *b = sales_bulk_new("UTC");
		struct rb_err err;
		char *big = malloc(SALES_BULK_LINE_MAX + 2);

		memset(big, ' ', SALES_BULK_LINE_MAX + 1);
		ok(sales_bulk_feed(b, big, SALES_BULK_LINE_MAX + 1, &err) == -1
		    && strstr(err.msg, "longer than") != NULL,
		    "an endless line is refused: %s", err.msg);
		free(big);
		sales_bulk_free(b);
	}
}

/* Units removed by an edit take their share rounded half away from zero:
 * 3 units for 10.00 less 0.01, one removed: 3.33. */
static void
test_removed_rounding(void)
{
	static const char *const l2[] = {
		O(5, "2026-11-30T12:00:00Z", ""),
		L(51, 5, P(7), 3, 2, "10.00", A("0.01")),
	};
	struct sales_bulk *b = sales_bulk_new("UTC");
	struct rb_err err;
	char got[256];
	size_t i;

	for (i = 0; i < 2; i++) {
		if (sales_bulk_feed(b, l2[i], strlen(l2[i]), &err) == -1 ||
		    sales_bulk_feed(b, "\n", 1, &err) == -1)
			break;
	}
	ok(sales_bulk_finish(b, &err) == 0 && summarize(b, got, sizeof(got))
	    == 0 && strcmp(got, "5 2026-11-30 7:2:6.660000;") == 0,
	    "removed unit's share: %s", got);
	sales_bulk_free(b);
}

int
main(void)
{
	test_any_order();
	test_bad();
	test_removed_rounding();
	return done_testing();
}
