/*
 * fuzz_bulk.c - the Shopify bulk JSONL parser (lib/sales_bulk.h; owner:
 * sales_tracker): lines of Order, LineItem and RefundLineItem objects in
 * any order, fed in pieces of any size.
 *
 * Input: byte 0 = piece size (1 + b % 64, or whole when b >= 192), byte 1
 * = permutation seed, then JSONL.  Invariants:
 *   - the same lines in another order (children before parents) and cut
 *     differently are accepted or refused alike, and when accepted give
 *     the same orders;
 *   - accepted, every order's per-product units and revenue equal a
 *     simple reference computed here straight from the JSON (O(n^2),
 *     no sorting): units = sum of currentQuantity, revenue = originalTotal
 *     - discounts - refunded subtotals - removed units' share;
 *   - test and cancelled orders contribute nothing.
 */
#include <jansson.h>

#include "fuzz.h"
#include "sales_bulk.h"
#include "shopify.h"

const char fuzz_target[] = "bulk";

#define MAX_LINES	512
#define SUMMARY_MAX	65536

struct input {
	char	*line[MAX_LINES];
	size_t	 n;
};

static void
split(const uint8_t *data, size_t size, struct input *in)
{
	const uint8_t *p = data, *e = data + size, *nl;

	in->n = 0;
	while (p < e && in->n < MAX_LINES) {
		nl = memchr(p, '\n', (size_t)(e - p));
		if (nl == NULL)
			nl = e;
		in->line[in->n++] = fuzz_str(p, (size_t)(nl - p));
		p = nl + 1;
	}
}

/* "order day [skip] product:units:revenue ...;" for every order. */
static bool
summarize(struct sales_bulk *b, char *out)
{
	struct sales_order o;
	struct rb_err err;
	char upd[SALES_UPDATED_LEN], one[128];
	size_t i, j;

	out[0] = '\0';
	for (i = 0; i < sales_bulk_orders(b); i++) {
		if (sales_bulk_order(b, i, &o, upd, &err) == -1)
			return false;
		(void)snprintf(one, sizeof(one), "%lld %s%s", o.order_id,
		    o.day, o.cancelled ? " skip" : "");
		strncat(out, one, SUMMARY_MAX - strlen(out) - 1);
		FUZZ_CHECK(!o.cancelled || o.n == 0);
		for (j = 0; j < o.n; j++) {
			(void)snprintf(one, sizeof(one), " %lld:%lld:%lld",
			    o.lines[j].product_id, o.lines[j].units,
			    (long long)o.lines[j].revenue);
			strncat(out, one, SUMMARY_MAX - strlen(out) - 1);
		}
		strncat(out, ";", SUMMARY_MAX - strlen(out) - 1);
		sales_order_free(&o);
	}
	return true;
}

/* Parses the lines in the order perm, fed `piece` bytes at a time. */
static bool
parse(struct input *in, const size_t *perm, size_t piece, char *out)
{
	struct sales_bulk *b = sales_bulk_new("Europe/Berlin");
	struct rb_err err;
	bool okay = false;
	size_t i, off, len, k;

	FUZZ_CHECK(b != NULL);
	for (i = 0; i < in->n; i++) {
		const char *l = in->line[perm[i]];

		len = strlen(l);
		for (off = 0; off < len; off += k) {
			k = len - off < piece ? len - off : piece;
			if (sales_bulk_feed(b, l + off, k, &err) == -1)
				goto out;
		}
		if (sales_bulk_feed(b, "\n", 1, &err) == -1)
			goto out;
	}
	okay = sales_bulk_finish(b, &err) == 0 && summarize(b, out);
out:
	sales_bulk_free(b);
	return okay;
}

static const char *
amount(json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(o, k), "shopMoney"), "amount"));
}

static int64_t
money(json_t *o, const char *k)
{
	int64_t m = 0;

	FUZZ_CHECK(sales_parse_money(amount(o, k), &m) == 0);
	return m;
}

static bool
is(json_t *o, const char *type)
{
	const char *id = json_string_value(json_object_get(o, "id"));

	return id != NULL && strncmp(id, type, strlen(type)) == 0;
}

/* The reference revenue of line item l (micros) given every refund line
 * item (array rls). */
static int64_t
ref_revenue(json_t *rls, json_t *l)
{
	const char *lid = json_string_value(json_object_get(l, "id"));
	__int128 base, removed_share = 0, q;
	long long qty, cur, rq = 0, removed;
	int64_t refunded = 0;
	size_t i;
	json_t *a;

	base = money(l, "originalTotalSet");
	json_array_foreach(json_object_get(l, "discountAllocations"), i, a)
		base -= money(a, "allocatedAmountSet");
	json_array_foreach(rls, i, a) {
		const char *rl = json_string_value(json_object_get(
		    json_object_get(a, "lineItem"), "id"));

		if (rl != NULL && shopify_gid_id(rl) == shopify_gid_id(lid)) {
			refunded += money(a, "subtotalSet");
			rq += json_integer_value(json_object_get(a,
			    "quantity"));
		}
	}
	qty = json_integer_value(json_object_get(l, "quantity"));
	cur = json_integer_value(json_object_get(l, "currentQuantity"));
	removed = qty - cur - rq;
	if (removed > 0 && qty > 0) {
		q = (__int128)qty * 10000;
		removed_share = base * removed;
		removed_share = (removed_share >= 0 ? removed_share + q / 2 :
		    removed_share - q / 2) / q * 10000;
	}
	return (int64_t)(base - refunded - removed_share);
}

/* Checks the parser's summary against the reference, order by order. */
static void
reference(struct input *in, const char *got)
{
	json_t *objs[MAX_LINES], *rls = json_array(), *r, *x;
	size_t n = 0, i, j, k;
	const char *sum;

	FUZZ_CHECK(rls != NULL);
	for (i = 0; i < in->n; i++) {
		json_t *o = json_loads(in->line[i], 0, NULL);

		if (!json_is_object(o)) {
			json_decref(o);
			continue;
		}
		objs[n++] = o;
		if (is(o, "gid://shopify/RefundLineItem/"))
			FUZZ_CHECK(json_array_append(rls, o) == 0);
		if (!is(o, "gid://shopify/Order/"))
			continue;
		/* refund line items that came inside the order (pages) */
		json_array_foreach(json_object_get(o, "refunds"), j, r) {
			json_t *conn = json_object_get(r, "refundLineItems");

			if (conn == NULL || json_is_true(json_object_get(
			    json_object_get(conn, "pageInfo"), "hasNextPage")))
				continue;
			json_array_foreach(json_object_get(conn, "nodes"), k,
			    x)
				FUZZ_CHECK(json_array_append(rls, x) == 0);
		}
	}
	/* Every order the parser lists must be an Order line; its products
	 * summed here in the parser's format and compared per order. */
	for (i = 0; i < n; i++) {
		json_t *c;
		long long oid;
		bool skip;
		char head[64];
		const char *at;

		if (!is(objs[i], "gid://shopify/Order/"))
			continue;
		oid = shopify_gid_id(json_string_value(json_object_get(objs[i],
		    "id")));
		c = json_object_get(objs[i], "cancelledAt");
		skip = (c != NULL && !json_is_null(c)) ||
		    json_is_true(json_object_get(objs[i], "test"));
		(void)snprintf(head, sizeof(head), ";%lld ", oid);
		sum = strstr(got, head) != NULL ? strstr(got, head) + 1 :
		    strncmp(got, head + 1, strlen(head + 1)) == 0 ?
		    got : NULL;
		FUZZ_CHECK(sum != NULL);
		at = sum + strlen(head + 1);
		FUZZ_CHECK(skip == (strncmp(at + 10, " skip", 5) == 0));
		if (skip)
			continue;
		/* each product: units and revenue over its lines */
		for (j = 0; j < n; j++) {
			json_t *l = objs[j], *prod;
			long long pid, units = 0;
			int64_t rev = 0;
			char part[96];
			const char *end = strchr(at, ';');

			if (!is(l, "gid://shopify/LineItem/") ||
			    shopify_gid_id(json_string_value(json_object_get(l,
			    "__parentId"))) != oid)
				continue;
			prod = json_object_get(l, "product");
			if (prod == NULL || json_is_null(prod))
				continue;
			pid = shopify_gid_id(json_string_value(json_object_get(
			    prod, "id")));
			/* first line of this product in this order only */
			for (k = 0; k < j; k++)
				if (is(objs[k], "gid://shopify/LineItem/") &&
				    shopify_gid_id(json_string_value(
				    json_object_get(objs[k], "__parentId"))) ==
				    oid && shopify_gid_id(json_string_value(
				    json_object_get(json_object_get(objs[k],
				    "product"), "id"))) == pid)
					break;
			if (k < j)
				continue;
			for (k = j; k < n; k++) {
				json_t *m = objs[k];

				if (!is(m, "gid://shopify/LineItem/") ||
				    shopify_gid_id(json_string_value(
				    json_object_get(m, "__parentId"))) != oid ||
				    shopify_gid_id(json_string_value(
				    json_object_get(json_object_get(m,
				    "product"), "id"))) != pid)
					continue;
				units += json_integer_value(json_object_get(m,
				    "currentQuantity"));
				rev += ref_revenue(rls, m);
			}
			(void)snprintf(part, sizeof(part), " %lld:%lld:%lld",
			    pid, units, (long long)rev);
			FUZZ_CHECK(end != NULL);
			FUZZ_CHECK(memmem(at, (size_t)(end - at), part,
			    strlen(part)) != NULL);
		}
	}
	for (i = 0; i < n; i++)
		json_decref(objs[i]);
	json_decref(rls);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	size_t perm[MAX_LINES] = { 0 }, i, k, piece;
	char *a, *b;
	bool ra, rb;
	uint32_t seed;

	if (size < 2 || size > 64 * 1024)
		return 0;
	piece = data[0] >= 192 ? SIZE_MAX : (size_t)(1 + data[0] % 64);
	seed = data[1] * 2654435761u + 1;
	split(data + 2, size - 2, &in);
	a = malloc(SUMMARY_MAX);
	b = malloc(SUMMARY_MAX);
	FUZZ_CHECK(a != NULL && b != NULL);
	for (i = 0; i < in.n; i++)
		perm[i] = i;
	ra = parse(&in, perm, SIZE_MAX, a);
	for (i = in.n; i > 1; i--) {
		size_t x;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % i;
		x = perm[i - 1];
		perm[i - 1] = perm[k];
		perm[k] = x;
	}
	rb = parse(&in, perm, piece, b);
	FUZZ_CHECK(ra == rb);
	if (ra) {
		FUZZ_CHECK(strcmp(a, b) == 0);
		reference(&in, a);
	}
	for (i = 0; i < in.n; i++)
		free(in.line[i]);
	free(a);
	free(b);
	return 0;
}
