/*
 * sales_bulk.c - order objects in any order -> contributions (see
 * sales_bulk.h).  Objects are kept as small records in three arrays and
 * joined once, by sorting, when all are in: no child waits for its parent
 * and the order of the lines does not matter.
 */
#include <stdlib.h>
#include <string.h>

#include "sales_bulk.h"
#include "shopify.h"
#include "util.h"

#define CENT_MICROS	10000LL
#define UNITS_MAX	10000000LL

struct b_order {
	long long	id;
	char		day[SALES_DAY_LEN];
	bool		skip;		/* cancelled or test */
	char		updated[SALES_UPDATED_LEN];
	size_t		first, nlines;	/* into lines, after finish */
};

struct b_line {
	long long	id, order_id, product_id;	/* product 0: none */
	long long	qty, cur, rqty;
	int64_t		orig, alloc, refunded;
};

struct b_refund {
	long long	line_id, qty;
	int64_t		subtotal;
};

struct sales_bulk {
	char		 tz[SALES_TZ_MAX];
	struct b_order	*orders;
	struct b_line	*lines;
	struct b_refund	*refunds;
	size_t		 no, co, nl, cl, nr, cr;
	long long	*pend;		/* refunds whose lines are not in */
	size_t		 np, cp;
	char		*buf;		/* the JSONL line being read */
	size_t		 blen;
	long		 lineno;
	bool		 finished;
};

static int
oom(struct rb_err *err)
{
	return rb_err_oom(err);
}

static int
bad(struct rb_err *err, const char *what)
{
	return rb_err_set(err, 502, "shopify_bad_response", "Shopify's order "
	    "data has %s.", what);
}

/* Room for one more element in *arr (n used, *cap allocated). */
static int
grow(void **arr, size_t n, size_t *cap, size_t size, struct rb_err *err)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	if ((p = realloc(*arr, c * size)) == NULL)
		return oom(err);
	*arr = p;
	*cap = c;
	return 0;
}

struct sales_bulk *
sales_bulk_new(const char *tz)
{
	struct sales_bulk *b;

	if (tz == NULL || strlen(tz) >= SALES_TZ_MAX ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	(void)rb_strlcpy(b->tz, tz, sizeof(b->tz));
	return b;
}

void
sales_bulk_reset(struct sales_bulk *b)
{
	if (b == NULL)
		return;
	free(b->orders);
	free(b->lines);
	free(b->refunds);
	free(b->buf);
	free(b->pend);
	b->pend = NULL;
	b->np = b->cp = 0;
	b->orders = NULL;
	b->lines = NULL;
	b->refunds = NULL;
	b->buf = NULL;
	b->no = b->co = b->nl = b->cl = b->nr = b->cr = 0;
	b->blen = 0;
	b->lineno = 0;
	b->finished = false;
}

void
sales_bulk_free(struct sales_bulk *b)
{
	sales_bulk_reset(b);
	free(b);
}

static const char *
str_at(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* o.k.shopMoney.amount as micros; a missing bag is 0 when optional. */
static int
money_at(json_t *o, const char *k, int64_t *m)
{
	const char *a = str_at(json_object_get(json_object_get(o, k),
	    "shopMoney"), "amount");

	return a != NULL && sales_parse_money(a, m) == 0 ? 0 : -1;
}

static int
int_at(json_t *o, const char *k, long long *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    json_integer_value(j) > UNITS_MAX)
		return -1;
	*v = json_integer_value(j);
	return 0;
}

static int add_refund(struct sales_bulk *, json_t *, struct rb_err *);

/* The order's refunds: their line items when they came along (pages),
 * else the refund is left for the caller to fetch (bulk: a connection
 * inside a list cannot be exported). */
static int
order_refunds(struct sales_bulk *b, json_t *obj, struct rb_err *err)
{
	json_t *refunds = json_object_get(obj, "refunds"), *r, *conn, *n;
	size_t i, j;
	long long id;

	if (refunds != NULL && !json_is_array(refunds))
		return bad(err, "an order with invalid refunds");
	json_array_foreach(refunds, i, r) {
		conn = json_object_get(r, "refundLineItems");
		if (conn != NULL && !json_is_true(json_object_get(
		    json_object_get(conn, "pageInfo"), "hasNextPage"))) {
			json_array_foreach(json_object_get(conn, "nodes"), j,
			    n)
				if (add_refund(b, n, err) == -1)
					return -1;
			continue;
		}
		if ((id = shopify_gid_id(str_at(r, "id"))) <= 0)
			return bad(err, "a refund without a valid id");
		if (grow((void **)&b->pend, b->np, &b->cp, sizeof(*b->pend),
		    err) == -1)
			return -1;
		b->pend[b->np++] = id;
	}
	return 0;
}

size_t
sales_bulk_pending_refunds(const struct sales_bulk *b, const long long **ids)
{
	*ids = b->pend;
	return b->np;
}

void
sales_bulk_clear_pending(struct sales_bulk *b)
{
	b->np = 0;
}

static int
add_order(struct sales_bulk *b, json_t *obj, long long id, struct rb_err *err)
{
	struct sales_order so;
	struct b_order *o;
	const char *u;
	json_t *c;

	if (grow((void **)&b->orders, b->no, &b->co, sizeof(*o), err) == -1)
		return -1;
	if (sales_order_init(&so, obj, b->tz, err) == -1)
		return -1;
	o = &b->orders[b->no];
	memset(o, 0, sizeof(*o));
	o->id = id;
	memcpy(o->day, so.day, sizeof(o->day));
	c = json_object_get(obj, "test");
	o->skip = so.cancelled || json_is_true(c);
	sales_order_free(&so);
	u = str_at(obj, "updatedAt");
	if (u != NULL && strlen(u) < sizeof(o->updated))
		(void)rb_strlcpy(o->updated, u, sizeof(o->updated));
	b->no++;
	return order_refunds(b, obj, err);
}

static int
add_line(struct sales_bulk *b, json_t *obj, long long id, const char *parent,
    struct rb_err *err)
{
	struct b_line *l;
	json_t *prod, *allocs, *a;
	size_t i;
	int64_t m;

	if (grow((void **)&b->lines, b->nl, &b->cl, sizeof(*l), err) == -1)
		return -1;
	l = &b->lines[b->nl];
	memset(l, 0, sizeof(*l));
	l->id = id;
	if (parent == NULL || (l->order_id = shopify_gid_id(parent)) <= 0 ||
	    strncmp(parent, "gid://shopify/Order/", 20) != 0)
		return bad(err, "a line item without its order");
	prod = json_object_get(obj, "product");
	if (prod != NULL && !json_is_null(prod) &&
	    (l->product_id = shopify_gid_id(str_at(prod, "id"))) <= 0)
		return bad(err, "a line item with an invalid product");
	if (int_at(obj, "quantity", &l->qty) == -1 ||
	    int_at(obj, "currentQuantity", &l->cur) == -1 ||
	    l->cur > l->qty || money_at(obj, "originalTotalSet", &l->orig) ==
	    -1)
		return bad(err, "a line item without a valid quantity or "
		    "total");
	allocs = json_object_get(obj, "discountAllocations");
	if (allocs != NULL && !json_is_array(allocs))
		return bad(err, "a line item with invalid discounts");
	json_array_foreach(allocs, i, a) {
		if (money_at(a, "allocatedAmountSet", &m) == -1 ||
		    __builtin_add_overflow(l->alloc, m, &l->alloc))
			return bad(err, "a line item with an invalid discount");
	}
	b->nl++;
	return 0;
}

static int
add_refund(struct sales_bulk *b, json_t *obj, struct rb_err *err)
{
	struct b_refund *r;

	if (grow((void **)&b->refunds, b->nr, &b->cr, sizeof(*r), err) == -1)
		return -1;
	r = &b->refunds[b->nr];
	r->line_id = shopify_gid_id(str_at(json_object_get(obj, "lineItem"),
	    "id"));
	if (r->line_id <= 0 || int_at(obj, "quantity", &r->qty) == -1 ||
	    money_at(obj, "subtotalSet", &r->subtotal) == -1)
		return bad(err, "a refund line item without a valid line, "
		    "quantity or subtotal");
	b->nr++;
	return 0;
}

int
sales_bulk_add(struct sales_bulk *b, json_t *obj, const char *parent_gid,
    struct rb_err *err)
{
	const char *id = str_at(obj, "id"), *p = str_at(obj, "__parentId");
	long long n;

	if (b->finished)
		return rb_err_set(err, 500, "internal_error", "Order data "
		    "added after the end.");
	if (b->no + b->nl + b->nr >= SALES_BULK_OBJECTS_MAX)
		return rb_err_set(err, 502, "shopify_bulk_too_big", "Shopify's "
		    "order export holds more than %u objects.",
		    SALES_BULK_OBJECTS_MAX);
	if (!json_is_object(obj) || id == NULL ||
	    (n = shopify_gid_id(id)) <= 0)
		return bad(err, "an object without a valid id");
	if (p == NULL)
		p = parent_gid;
	if (strncmp(id, "gid://shopify/Order/", 20) == 0)
		return add_order(b, obj, n, err);
	if (strncmp(id, "gid://shopify/LineItem/", 23) == 0)
		return add_line(b, obj, n, p, err);
	if (strncmp(id, "gid://shopify/RefundLineItem/", 29) == 0)
		return add_refund(b, obj, err);
	return bad(err, "an object of an unexpected type");
}

static int
take_line(struct sales_bulk *b, const char *s, size_t n, struct rb_err *err)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	b->lineno++;
	if (n == 0)
		return 0;
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return rb_err_set(err, 502, "shopify_bad_response", "Line %ld "
		    "of the bulk result is not a JSON object.", b->lineno);
	}
	rc = sales_bulk_add(b, o, NULL, err);
	json_decref(o);
	if (rc == -1 && err != NULL) {
		char m[32];
		size_t k = strlen(err->msg);

		(void)snprintf(m, sizeof(m), " (line %ld)", b->lineno);
		if (k > 0 && err->msg[k - 1] == '.' &&
		    k + strlen(m) < sizeof(err->msg)) {
			(void)rb_strlcpy(err->msg + k - 1, m,
			    sizeof(err->msg) - (k - 1));
			k = strlen(err->msg);
			(void)rb_strlcpy(err->msg + k, ".",
			    sizeof(err->msg) - k);
		}
	}
	return rc;
}

int
sales_bulk_feed(struct sales_bulk *b, const char *data, size_t len,
    struct rb_err *err)
{
	const char *nl;
	size_t k;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		k = nl != NULL ? (size_t)(nl - data) : len;
		if (b->blen == 0 && nl != NULL) {
			/* A whole line in the piece: no copy. */
			if (take_line(b, data, k, err) == -1)
				return -1;
		} else {
			if (k > SALES_BULK_LINE_MAX - b->blen)
				return rb_err_set(err, 502,
				    "shopify_bad_response", "Line %ld of the "
				    "bulk result is longer than %u bytes.",
				    b->lineno + 1, SALES_BULK_LINE_MAX);
			if (b->buf == NULL &&
			    (b->buf = malloc(SALES_BULK_LINE_MAX)) == NULL)
				return oom(err);
			memcpy(b->buf + b->blen, data, k);
			b->blen += k;
			if (nl != NULL) {
				if (take_line(b, b->buf, b->blen, err) == -1)
					return -1;
				b->blen = 0;
			}
		}
		if (nl == NULL)
			break;
		data += k + 1;
		len -= k + 1;
	}
	return 0;
}

/* qsort, which may not be given NULL even for no elements. */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int
cmp_ll(long long a, long long b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_order(const void *a, const void *b)
{
	return cmp_ll(((const struct b_order *)a)->id,
	    ((const struct b_order *)b)->id);
}

static int
cmp_line_id(const void *a, const void *b)
{
	return cmp_ll(((const struct b_line *)a)->id,
	    ((const struct b_line *)b)->id);
}

static int
cmp_line_order(const void *a, const void *b)
{
	const struct b_line *x = a, *y = b;

	return x->order_id != y->order_id ? cmp_ll(x->order_id, y->order_id) :
	    cmp_ll(x->id, y->id);
}

static int
cmp_refund(const void *a, const void *b)
{
	return cmp_ll(((const struct b_refund *)a)->line_id,
	    ((const struct b_refund *)b)->line_id);
}

/* Each refund line item onto its line (lines sorted by id). */
static int
join_refunds(struct sales_bulk *b, struct rb_err *err)
{
	size_t i, j = 0;

	sort(b->refunds, b->nr, sizeof(*b->refunds), cmp_refund);
	for (i = 0; i < b->nr; i++) {
		struct b_refund *r = &b->refunds[i];

		while (j < b->nl && b->lines[j].id < r->line_id)
			j++;
		if (j == b->nl || b->lines[j].id != r->line_id)
			return bad(err, "a refund of an unknown line item");
		if (__builtin_add_overflow(b->lines[j].refunded, r->subtotal,
		    &b->lines[j].refunded) || (b->lines[j].rqty += r->qty) >
		    UNITS_MAX)
			return bad(err, "refunds out of range");
	}
	free(b->refunds);
	b->refunds = NULL;
	b->nr = b->cr = 0;
	return 0;
}

int
sales_bulk_finish(struct sales_bulk *b, struct rb_err *err)
{
	size_t i, j = 0;

	if (b->blen > 0) {
		if (take_line(b, b->buf, b->blen, err) == -1)
			return -1;
		b->blen = 0;
	}
	free(b->buf);
	b->buf = NULL;
	sort(b->orders, b->no, sizeof(*b->orders), cmp_order);
	for (i = 1; i < b->no; i++)
		if (b->orders[i].id == b->orders[i - 1].id)
			return bad(err, "an order twice");
	sort(b->lines, b->nl, sizeof(*b->lines), cmp_line_id);
	for (i = 1; i < b->nl; i++)
		if (b->lines[i].id == b->lines[i - 1].id)
			return bad(err, "a line item twice");
	if (join_refunds(b, err) == -1)
		return -1;
	sort(b->lines, b->nl, sizeof(*b->lines), cmp_line_order);
	for (i = 0; i < b->no; i++) {
		struct b_order *o = &b->orders[i];

		if (j < b->nl && b->lines[j].order_id < o->id)
			return bad(err, "a line item of an unknown order");
		o->first = j;
		while (j < b->nl && b->lines[j].order_id == o->id)
			j++;
		o->nlines = j - o->first;
	}
	if (j < b->nl)
		return bad(err, "a line item of an unknown order");
	b->finished = true;
	return 0;
}

size_t
sales_bulk_orders(const struct sales_bulk *b)
{
	return b->finished ? b->no : 0;
}

/* What line l contributes to revenue (sales_bulk.h), in micros. */
static int
line_revenue(const struct b_line *l, int64_t *rev)
{
	__int128 base, x, q;
	long long removed = l->qty - l->cur - l->rqty;

	base = (__int128)l->orig - l->alloc;
	x = 0;
	if (removed > 0 && l->qty > 0) {
		/* removed units' share, rounded half away from zero to the
		 * cent */
		x = base * removed;
		q = (__int128)l->qty * CENT_MICROS;
		x = (x >= 0 ? x + q / 2 : x - q / 2) / q * CENT_MICROS;
	}
	x = base - l->refunded - x;
	if (x > INT64_MAX / 2 || x < -(INT64_MAX / 2))
		return -1;
	*rev = (int64_t)x;
	return 0;
}

int
sales_bulk_order(struct sales_bulk *b, size_t i, struct sales_order *o,
    char updated[SALES_UPDATED_LEN], struct rb_err *err)
{
	struct b_order *bo;
	size_t k;
	int64_t rev;

	memset(o, 0, sizeof(*o));
	if (!b->finished || i >= b->no)
		return rb_err_set(err, 500, "internal_error", "No order %zu.",
		    i);
	bo = &b->orders[i];
	o->order_id = bo->id;
	memcpy(o->day, bo->day, sizeof(o->day));
	o->cancelled = bo->skip;
	(void)rb_strlcpy(updated, bo->updated, SALES_UPDATED_LEN);
	if (bo->skip)
		return 0;
	for (k = bo->first; k < bo->first + bo->nlines; k++) {
		const struct b_line *l = &b->lines[k];

		if (l->product_id <= 0)
			continue;
		if (line_revenue(l, &rev) == -1 ||
		    sales_order_add(o, l->product_id, l->cur, rev, err) == -1) {
			sales_order_free(o);
			return bad(err, "a line item out of range");
		}
	}
	return 0;
}
