/*
 * reboss-sales-tracker (PRODUCT.md, Jobs 1).  Owned by the sales_tracker.
 *
 * Per shop, in the worker (job_main() forks one per shop):
 *  1. Opens the shop's Shopify client (job_shopify_open(): the token is
 *     renewed as it runs out), reads the shop's IANA zone from Shopify (and
 *     writes it back to shops when it changed).
 *  2. Mirrors every product into `products` (one upsert per page of 25);
 *     once the whole list was read, products not seen are marked deleted.
 *  3. Orders: T0 = database now() at the start; SINCE = (cursor, or T0 - 60
 *     days on the first run) - 10 minutes of overlap (Shopify's search
 *     index lags a little).  Reads every order with updated_at >= SINCE
 *     (dates quoted in the search query, as Shopify's syntax asks) and
 *     replaces each order's rows in order_lines_ledger, then recomputes the
 *     touched (product, day) rows of product_sales_daily from the ledger,
 *     in one transaction per batch of SALES_BATCH_ORDERS orders
 *     (REBOSS_SALES_BATCH_ORDERS overrides it for tests).  What an order
 *     contributes is computed by lib/sales_bulk.c from Shopify's exact
 *     money fields (see there and reboss-jobs(8)).  Only when every order
 *     is committed does the cursor move to T0 (cursor rule: the cursor
 *     never passes an order that is not stored; a failure leaves it where
 *     it was and the next run reads the same orders again, which is
 *     harmless: replacing an order's contribution is idempotent); then
 *     complete_through and orders_access are written with it.
 *  4. Bulk: when ordersCount for the filter exceeds SALES_BULK_MIN_ORDERS
 *     (REBOSS_SALES_BULK_MIN_ORDERS for tests), [SINCE, T0) is read through
 *     bulkOperationRunQuery exports of at most SALES_BULK_RANGE_ORDERS
 *     orders each (a range with more is halved by date), each streamed
 *     from the download into the parser (never held whole), its refunds
 *     read by id, written, and the cursor moved to the range's end.
 * --dry-run reads everything and rolls every write back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "env.h"
#include "http.h"
#include "job.h"
#include "log.h"
#include "sales.h"
#include "sales_bulk.h"
#include "shopify.h"
#include "util.h"

#define SALES_BULK_MIN_ORDERS	1000L
/* Most orders one bulk export covers: more are split by date range (the
 * orders of a range are held until its last line, ~300 bytes each). */
#define SALES_BULK_RANGE_ORDERS	50000L
#define SALES_BULK_CHUNK	200	/* orders per transaction (bulk) */
#define SALES_REFUNDS_PER_QUERY	25
#define SALES_BATCH_MAX		1000	/* REBOSS_SALES_BATCH_ORDERS cap */
#define SALES_BULK_POLL_MAX_MS	10000
#define SALES_BATCH_ORDERS	100	/* orders per transaction (pages) */
/* Orders updated this long before a run's start are read again by the next
 * run: Shopify's search index lags a little behind. */
#define SALES_OVERLAP		"10 minutes"

/* accessScopes: without read_all_orders Shopify shows only the orders of
 * the last 60 days (sales_cursors.orders_access says which). */
static const char Q_SHOP[] =
	"query { shop { ianaTimezone currencyCode } currentAppInstallation { "
	"accessScopes { handle } } }";

static const char Q_PRODUCTS[] =
	"query Products($cursor: String) { products(first: 25, after: $cursor, "
	"sortKey: ID) { nodes { id title handle status createdAt publishedAt "
	"onlineStoreUrl featuredMedia { ... on MediaImage { image { url } } } "
	"collections(first: 25) { nodes { id } pageInfo { hasNextPage "
	"endCursor } } } pageInfo { hasNextPage endCursor } } }";

static const char Q_PRODUCT_COLLECTIONS[] =
	"query ProductCollections($id: ID!, $cursor: String) { product(id: $id) "
	"{ collections(first: 250, after: $cursor) { nodes { id } pageInfo { "
	"hasNextPage endCursor } } } }";

static const char Q_ORDERS_COUNT[] =
	"query OrdersCount($q: String) { ordersCount(query: $q) { count "
	"precision } }";

/* The exact money fields (lib/sales_bulk.h says what is made of them). */
#define MONEY(f) f " { shopMoney { amount } }"
#define ORDER_FIELDS "id processedAt cancelledAt test updatedAt"
#define LINE_FIELDS "id quantity currentQuantity product { id } " \
	MONEY("originalTotalSet") " discountAllocations { " \
	MONEY("allocatedAmountSet") " }"
#define REFUND_LINE_FIELDS "id quantity lineItem { id } " MONEY("subtotalSet")

static const char Q_ORDERS[] =
	"query Orders($cursor: String, $q: String) { orders(first: 10, "
	"after: $cursor, query: $q, sortKey: UPDATED_AT) { nodes { "
	ORDER_FIELDS " lineItems(first: 8) { nodes { " LINE_FIELDS " } "
	"pageInfo { hasNextPage endCursor } } refunds { id refundLineItems("
	"first: 4) { nodes { " REFUND_LINE_FIELDS " } pageInfo { hasNextPage "
	"} } } } pageInfo { hasNextPage endCursor } } }";

static const char Q_ORDER_LINES[] =
	"query OrderLines($id: ID!, $cursor: String) { order(id: $id) { "
	"lineItems(first: 100, after: $cursor) { nodes { " LINE_FIELDS " } "
	"pageInfo { hasNextPage endCursor } } } }";

/* Refunds the bulk export names by id only (a connection inside a list
 * is not exported), SALES_REFUNDS_PER_QUERY at a time. */
static const char Q_REFUND_LINES[] =
	"query RefundLines($ids: [ID!]!) { nodes(ids: $ids) { ... on Refund { "
	"id refundLineItems(first: 100) { nodes { " REFUND_LINE_FIELDS " } "
	"pageInfo { hasNextPage } } } } }";

static const char M_BULK[] =
	"mutation BulkOrders($q: String!) { bulkOperationRunQuery(query: $q) "
	"{ bulkOperation { id status } userErrors { field message code } } }";

static const char Q_BULK[] =
	"query BulkOperation($id: ID!) { bulkOperation(id: $id) { id status "
	"errorCode objectCount url } }";

struct st {
	struct job_ctx	*ctx;
	struct shopify	 sh;
	char		 tz[SALES_TZ_MAX];
	char		 currency[16];		/* "" when Shopify said none */
	char		 sync_at[64];		/* the run's start, server time */
	char		 since[32];		/* orders updated since (ISO) */
	bool		 bulk;			/* orders read in bulk */
	bool		 all_orders;		/* read_all_orders granted */
	json_t		*prod_rows;
	long		 nproducts, norders, nwrites;
	long		 batch;		/* orders per transaction (pages) */
	struct sales_bulk *acc;		/* orders being read (lib/sales_bulk.h) */
	const char	*cur_gid;	/* order whose lines are paginated */
	long long	 batch_ids[SALES_BATCH_MAX];	/* orders in acc (pages) */
	size_t		 nbatch;
	long		 range_max, nranges;	/* bulk */
	struct rb_err	 sink_err;	/* why bulk_sink stopped a download */
	char		 sync_iso[32];		/* bulk's end: sync_at's next second */
	struct sales_order *orders;		/* a batch, joined */
	json_t		*updated;		/* updatedAt per order */
	size_t		 n, cap;
	/* The page written while the next one is read (db_send): its
	 * parameters live until st_wait. */
	const char	*wparams[3];
	char		*wtext[2];
};


static int
stopped(struct st *st, struct rb_err *err)
{
	if (*st->ctx->stop)
		return rb_err_set(err, 503, "cancelled",
		    "The run was stopped before this shop was finished.");
	return 0;
}

/* The last page's write finished (its failure is the shop's); its texts
 * freed.  Before any other use of the session. */
static int
st_wait(struct st *st, struct rb_err *err)
{
	int rc = db_wait(st->ctx->db, err);

	free(st->wtext[0]);
	free(st->wtext[1]);
	st->wtext[0] = st->wtext[1] = NULL;
	return rc;
}

/* Sends a page's write, which then runs in PostgreSQL while the next page
 * is read from Shopify; takes t0 and t1 (the texts its parameters point
 * into).  One page in flight: the previous one is waited for first. */
static int
st_send(struct st *st, const char *sql, int nparams, char *t0, char *t1,
    struct rb_err *err)
{
	if (st_wait(st, err) == -1) {
		free(t0);
		free(t1);
		return -1;
	}
	st->wtext[0] = t0;
	st->wtext[1] = t1;
	return db_send(st->ctx->db, sql, nparams, st->wparams, err);
}

static bool
has_scope(json_t *data, const char *handle)
{
	json_t *sc = json_object_get(json_object_get(data,
	    "currentAppInstallation"), "accessScopes"), *v;
	size_t i;

	json_array_foreach(sc, i, v) {
		const char *h = json_string_value(json_object_get(v, "handle"));

		if (h != NULL && strcmp(h, handle) == 0)
			return true;
	}
	return false;
}

static int
shop_zone(struct st *st, struct rb_err *err)
{
	json_t *data = NULL, *shop;
	const char *tz, *cur;

	if (shopify_graphql(&st->sh, Q_SHOP, NULL, &data, err) == -1)
		return -1;
	shop = json_object_get(data, "shop");
	tz = json_string_value(json_object_get(shop, "ianaTimezone"));
	cur = json_string_value(json_object_get(shop, "currencyCode"));
	st->all_orders = has_scope(data, "read_all_orders");
	if (!st->all_orders)
		log_warn("no read_all_orders: sales history is the last 60 "
		    "days");
	if (tz == NULL || !sales_tz_valid(tz)) {
		json_decref(data);
		return rb_err_set(err, 502, "invalid_timezone",
		    "Shopify reported a time zone this host does not know; "
		    "install or update the tzdata package.");
	}
	(void)rb_strlcpy(st->tz, tz, sizeof(st->tz));
	if (cur != NULL && strlen(cur) >= sizeof(st->currency))
		cur = NULL;	/* ISO 4217 codes are three letters */
	(void)rb_strlcpy(st->currency, cur != NULL ? cur : "",
	    sizeof(st->currency));
	json_decref(data);
	if ((st->acc = sales_bulk_new(st->tz)) == NULL)
		return rb_err_oom(err);
	if (st->ctx->dry_run)
		return 0;
	/* Written while the first page of products is read. */
	st->wparams[0] = st->ctx->shop->id;
	st->wparams[1] = st->tz;
	st->wparams[2] = st->currency[0] != '\0' ? st->currency : NULL;
	return st_send(st, "UPDATE public.shops SET iana_timezone = $2, "
	    "currency = coalesce($3, currency) WHERE id = $1 AND "
	    "(iana_timezone IS DISTINCT FROM $2 OR "
	    "($3::text IS NOT NULL AND currency IS DISTINCT FROM $3))", 3,
	    NULL, NULL, err);
}

/* The run's start by the server's clock (products seen in this pass are
 * marked with it) and where the orders pass begins: the cursor less ten
 * minutes, or sixty days back on the first run.  One round trip, before
 * anything is read.  The cursor later moves to sync_at: orders updated
 * after it are read again next time, never missed.  The bulk ranges end
 * at sync_iso, the second after sync_at: Shopify's updatedAt has whole
 * seconds, so an order updated in the run's first second (before it
 * started) says that second, and an end cut down to it would leave the
 * order out while the cursor and complete_through moved past it.
 * Reading the orders of that one second more is harmless (converges). */
static int
run_times(struct st *st, struct rb_err *err)
{
	PGresult *r;
	const char *p[1];

	p[0] = st->ctx->shop->id;
	r = db_query(st->ctx->db, "SELECT now()::text, to_char(("
	    "coalesce(c.orders_cursor, now() - interval '60 days') - "
	    "interval '" SALES_OVERLAP "') AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char((date_trunc('second', "
	    "now()) + interval '1 second') AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	    "FROM (SELECT 1) x "
	    "LEFT JOIN public.sales_cursors c ON c.shop_id = $1", 1, p, err);
	if (r == NULL)
		return -1;
	(void)rb_strlcpy(st->sync_at, PQgetvalue(r, 0, 0),
	    sizeof(st->sync_at));
	(void)rb_strlcpy(st->since, PQgetvalue(r, 0, 1), sizeof(st->since));
	(void)rb_strlcpy(st->sync_iso, PQgetvalue(r, 0, 2),
	    sizeof(st->sync_iso));
	PQclear(r);
	return 0;
}

/* ---- products ------------------------------------------------------------ */

static int
collection_page(void *arg, json_t *nodes, struct rb_err *err)
{
	json_t *ids = arg, *n;
	size_t i;
	long long id;

	json_array_foreach(nodes, i, n) {
		id = shopify_gid_id(json_string_value(json_object_get(n,
		    "id")));
		if (id > 0 && json_array_append_new(ids,
		    json_integer(id)) == -1)
			return rb_err_oom(err);
	}
	return 0;
}

static const char *
opt_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
product_page(void *arg, json_t *nodes, struct rb_err *err)
{
	struct st *st = arg;
	json_t *rows = NULL, *n, *row, *ids, *conn, *v;
	const char *gid, *img;
	long long id;
	size_t i;
	char *text = NULL;

	if (stopped(st, err) == -1)
		return -1;
	if ((rows = json_array()) == NULL)
		goto oom;
	json_array_foreach(nodes, i, n) {
		gid = opt_str(n, "id");
		if ((id = shopify_gid_id(gid)) <= 0) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned a product without a valid id.");
			goto fail;
		}
		if ((ids = json_array()) == NULL)
			goto oom;
		conn = json_object_get(n, "collections");
		if (collection_page(ids, json_object_get(conn, "nodes"), err) ==
		    -1) {
			json_decref(ids);
			goto oom;
		}
		if (json_is_true(json_object_get(json_object_get(conn,
		    "pageInfo"), "hasNextPage"))) {
			/* More than 25 collections: read them all. */
			json_array_clear(ids);
			v = json_pack("{s:s}", "id", gid);
			if (v == NULL || shopify_paginate(&st->sh,
			    Q_PRODUCT_COLLECTIONS, v, "product.collections",
			    collection_page, ids, err) == -1) {
				json_decref(v);
				json_decref(ids);
				goto fail;
			}
			json_decref(v);
		}
		img = json_string_value(json_object_get(json_object_get(
		    json_object_get(n, "featuredMedia"), "image"), "url"));
		row = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, "
		    "s:s?, s:s?}",
		    "product_id", (json_int_t)id,
		    "title", opt_str(n, "title"), "handle", opt_str(n, "handle"),
		    "status", opt_str(n, "status"),
		    "created_at", opt_str(n, "createdAt"),
		    "published_at", opt_str(n, "publishedAt"),
		    "collection_ids", ids, "image_url", img,
		    "online_store_url", opt_str(n, "onlineStoreUrl"));
		if (row == NULL || json_array_append_new(rows, row) == -1)
			goto oom;
	}
	st->nproducts += (long)json_array_size(rows);
	if (st->ctx->dry_run || json_array_size(rows) == 0) {
		json_decref(rows);
		return 0;
	}
	if ((text = json_dumps(rows, JSON_COMPACT)) == NULL)
		goto oom;
	json_decref(rows);
	/* One call per page (sql/008_sales_fast.sql): the upsert's plan is
	 * cached by PL/pgSQL for the session instead of parsed per page.
	 * It runs while the next page is read. */
	st->wparams[0] = st->ctx->shop->id;
	st->wparams[1] = text;
	st->wparams[2] = st->sync_at;
	return st_send(st, "SELECT public.reboss_sales_store_products("
	    "$1::uuid, $2::jsonb, $3::timestamptz)", 3, text, NULL,
	    err);
oom:
	rb_err_oom(err);
fail:
	free(text);
	json_decref(rows);
	return -1;
}

static int
sync_products(struct st *st, struct rb_err *err)
{
	if (shopify_paginate(&st->sh, Q_PRODUCTS, NULL, "products",
	    product_page, st, err) == -1)
		return -1;
	if (st->ctx->dry_run)
		return 0;
	/* The whole list was read: what was not seen is gone.  Written
	 * while the orders are counted. */
	st->wparams[0] = st->ctx->shop->id;
	st->wparams[1] = st->sync_at;
	return st_send(st, "UPDATE public.products SET deleted_at = now() "
	    "WHERE shop_id = $1 AND deleted_at IS NULL AND last_seen_at < "
	    "$2::timestamptz", 2, NULL, NULL, err);
}

/* ---- orders -------------------------------------------------------------- */

static void
orders_clear(struct st *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		sales_order_free(&st->orders[i]);
	st->n = 0;
	json_array_clear(st->updated);
}

/* Takes o (and its updatedAt) into the batch. */
static int
orders_push(struct st *st, struct sales_order *o, const char *updated,
    struct rb_err *err)
{
	struct sales_order *no;

	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;

		no = realloc(st->orders, cap * sizeof(*no));
		if (no == NULL)
			goto oom;
		st->orders = no;
		st->cap = cap;
	}
	if (json_array_append_new(st->updated, updated[0] != '\0' ?
	    json_string(updated) : json_null()) == -1)
		goto oom;
	st->orders[st->n++] = *o;
	memset(o, 0, sizeof(*o));
	return 0;
oom:
	sales_order_free(o);
	return rb_err_oom(err);
}

/* Writes the orders collected in st: replaces their ledger rows and
 * recomputes the touched product_sales_daily rows, in one call of
 * public.reboss_sales_store_orders() (sql/008_sales_fast.sql): one round
 * trip and one transaction per page, with the function's plans cached by
 * PL/pgSQL for the session.  No client-side prepared statements and no
 * session settings: the session may serve the next shop's worker.
 * --dry-run runs the same call inside BEGIN ... ROLLBACK. */
static int
store_orders(struct st *st, struct rb_err *err)
{
	static const char sql[] = "SELECT public.reboss_sales_store_orders("
	    "$1::uuid, $2::jsonb, $3::jsonb)";
	struct db *db = st->ctx->db;
	json_t *rows = NULL, *ids = NULL, *row;
	char *trows = NULL, *tids = NULL;
	char money[SALES_MONEY_LEN];
	const char *p[3];
	size_t i, j;
	bool in_tx = false;

	if (st->n == 0)
		return 0;
	if ((rows = json_array()) == NULL || (ids = json_array()) == NULL)
		goto oom;
	for (i = 0; i < st->n; i++) {
		struct sales_order *o = &st->orders[i];

		if (json_array_append_new(ids, json_integer(o->order_id)) == -1)
			goto oom;
		for (j = 0; j < o->n; j++) {
			struct sales_line *l = &o->lines[j];

			if (l->units == 0 && l->revenue == 0)
				continue;
			if (sales_format_money(l->revenue, money,
			    sizeof(money)) == -1)
				goto oom;
			row = json_pack("{s:I, s:I, s:s, s:I, s:s, s:O}",
			    "order_id", (json_int_t)o->order_id,
			    "product_id", (json_int_t)l->product_id,
			    "day", o->day, "units", (json_int_t)l->units,
			    "revenue", money,
			    "updated_at", json_array_get(st->updated, i));
			if (row == NULL || json_array_append_new(rows, row) ==
			    -1)
				goto oom;
		}
	}
	if ((tids = json_dumps(ids, JSON_COMPACT)) == NULL ||
	    (trows = json_dumps(rows, JSON_COMPACT)) == NULL)
		goto oom;
	json_decref(rows);
	json_decref(ids);
	rows = ids = NULL;
	st->norders += (long)st->n;
	st->nwrites++;
	if (!st->ctx->dry_run) {
		/* Runs while the next page is read. */
		st->wparams[0] = st->ctx->shop->id;
		st->wparams[1] = tids;
		st->wparams[2] = trows;
		return st_send(st, sql, 3, tids, trows, err);
	}
	p[0] = st->ctx->shop->id;
	p[1] = tids;
	p[2] = trows;
	if (db_begin(db, err) == -1)
		goto fail;
	in_tx = true;
	if (db_exec(db, sql, 3, p, err) == -1)
		goto fail;
	db_rollback(db);	/* dry run: the call's writes are undone */
	free(trows);
	free(tids);
	return 0;
oom:
	rb_err_oom(err);
fail:
	if (in_tx)
		db_rollback(db);
	free(trows);
	free(tids);
	json_decref(rows);
	json_decref(ids);
	return -1;
}

/* Writes and forgets the orders collected so far. */
static int
orders_flush(struct st *st, struct rb_err *err)
{
	if (store_orders(st, err) == -1)
		return -1;
	orders_clear(st);
	return 0;
}

/* The refunds the accumulator was given by id only: their line items,
 * SALES_REFUNDS_PER_QUERY refunds a query. */
static int
fetch_refunds(struct st *st, struct rb_err *err)
{
	const long long *ids;
	size_t n = sales_bulk_pending_refunds(st->acc, &ids), i, j, k;
	json_t *v = NULL, *arr, *data = NULL, *node, *conn, *ln;
	char g[64];

	for (i = 0; i < n; i += SALES_REFUNDS_PER_QUERY) {
		if (stopped(st, err) == -1 || (v = json_pack("{s:[]}", "ids"))
		    == NULL)
			goto fail;
		arr = json_object_get(v, "ids");
		for (k = i; k < n && k < i + SALES_REFUNDS_PER_QUERY; k++) {
			(void)snprintf(g, sizeof(g), "gid://shopify/Refund/%lld",
			    ids[k]);
			if (json_array_append_new(arr, json_string(g)) == -1)
				goto oom;
		}
		if (shopify_graphql(&st->sh, Q_REFUND_LINES, v, &data, err) ==
		    -1)
			goto fail;
		json_array_foreach(json_object_get(data, "nodes"), k, node) {
			conn = json_object_get(node, "refundLineItems");
			if (conn == NULL || json_is_true(json_object_get(
			    json_object_get(conn, "pageInfo"), "hasNextPage"))) {
				rb_err_set(err, 502, "shopify_bad_response",
				    "A refund has no line items or more than "
				    "100 of them.");
				goto fail;
			}
			json_array_foreach(json_object_get(conn, "nodes"), j,
			    ln) {
				if (sales_bulk_add(st->acc, ln, NULL, err) ==
				    -1)
					goto fail;
			}
		}
		json_decref(v);
		json_decref(data);
		v = data = NULL;
	}
	sales_bulk_clear_pending(st->acc);
	return 0;
oom:
	rb_err_oom(err);
fail:
	json_decref(v);
	json_decref(data);
	return -1;
}

/* Everything of the accumulated orders is in: they are joined and written
 * `chunk` orders a transaction; the accumulator is emptied. */
static int
acc_store(struct st *st, long chunk, struct rb_err *err)
{
	struct sales_order o;
	char upd[SALES_UPDATED_LEN];
	size_t i, n;
	int rc = -1;

	if (fetch_refunds(st, err) == -1 ||
	    sales_bulk_finish(st->acc, err) == -1)
		goto out;
	n = sales_bulk_orders(st->acc);
	for (i = 0; i < n; i++) {
		if (sales_bulk_order(st->acc, i, &o, upd, err) == -1 ||
		    orders_push(st, &o, upd, err) == -1)
			goto out;
		if ((long)st->n >= chunk && (stopped(st, err) == -1 ||
		    orders_flush(st, err) == -1))
			goto out;
	}
	rc = orders_flush(st, err);
out:
	sales_bulk_reset(st->acc);
	return rc;
}

static int
line_page(void *arg, json_t *nodes, struct rb_err *err)
{
	struct st *st = arg;
	json_t *n;
	size_t i;

	json_array_foreach(nodes, i, n)
		if (sales_bulk_add(st->acc, n, st->cur_gid, err) == -1)
			return -1;
	return 0;
}

/* Whether order id is in the batch being collected. */
static bool
batch_has(struct st *st, long long id)
{
	size_t i;

	for (i = 0; i < st->nbatch; i++)
		if (st->batch_ids[i] == id)
			return true;
	return false;
}

static int
order_page(void *arg, json_t *nodes, struct rb_err *err)
{
	struct st *st = arg;
	json_t *n, *li, *v;
	const char *gid;
	long long id;
	size_t i;

	if (stopped(st, err) == -1)
		return -1;
	json_array_foreach(nodes, i, n) {
		gid = opt_str(n, "id");
		if ((id = shopify_gid_id(gid)) <= 0)
			return rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify returned an order without a valid id.");
		/* Updated while the pages were read, it comes again on a
		 * later page: the batch so far is written first, so the
		 * newer state is written last. */
		if (batch_has(st, id) || st->nbatch == SALES_BATCH_MAX) {
			if (acc_store(st, st->batch, err) == -1)
				return -1;
			st->nbatch = 0;
		}
		st->batch_ids[st->nbatch++] = id;
		if (sales_bulk_add(st->acc, n, NULL, err) == -1)
			return -1;
		li = json_object_get(n, "lineItems");
		st->cur_gid = gid;
		if (json_is_true(json_object_get(json_object_get(li,
		    "pageInfo"), "hasNextPage"))) {
			/* A big order: read all its lines on their own. */
			v = json_pack("{s:s}", "id", gid);
			if (v == NULL || shopify_paginate(&st->sh,
			    Q_ORDER_LINES, v, "order.lineItems", line_page, st,
			    err) == -1) {
				json_decref(v);
				return -1;
			}
			json_decref(v);
		} else if (line_page(st, json_object_get(li, "nodes"), err) == -1) {
			return -1;
		}
	}
	if ((long)st->nbatch < st->batch)
		return 0;
	st->nbatch = 0;
	return acc_store(st, st->batch, err);
}

/* The bulk result as it arrives, into the accumulator (never held). */
static int
bulk_sink(void *arg, const char *data, size_t len)
{
	struct st *st = arg;

	if (*st->ctx->stop)
		return -1;
	return sales_bulk_feed(st->acc, data, len, &st->sink_err);
}

/* Starts a bulk export of the orders updated in [from, to) and waits
 * until Shopify has it; *url gets its address (NULL: no orders). */
static int
bulk_run(struct st *st, const char *from, const char *to, json_t **data,
    const char **url, struct rb_err *err)
{
	char q[1024];
	json_t *v = NULL, *op;
	char msg[256] = "";
	const char *id, *status;
	long wait = 1000;
	char opid[256];
	int n;

	*data = NULL;
	n = snprintf(q, sizeof(q), "{ orders(query: \"updated_at:>='%s' AND "
	    "updated_at:<'%s'\", sortKey: UPDATED_AT) { edges { node { "
	    ORDER_FIELDS " refunds { id } lineItems { edges { node { "
	    LINE_FIELDS " } } } } } } }", from, to);
	if (n < 0 || (size_t)n >= sizeof(q))
		return rb_err_set(err, 500, "internal_error", "Bulk query too "
		    "long.");
	if ((v = json_pack("{s:s}", "q", q)) == NULL)
		goto oom;
	if (shopify_graphql(&st->sh, M_BULK, v, data, err) == -1)
		goto fail;
	json_decref(v);
	v = NULL;
	op = json_object_get(json_object_get(*data, "bulkOperationRunQuery"),
	    "bulkOperation");
	id = opt_str(op, "id");
	if (shopify_user_error(json_object_get(*data,
	    "bulkOperationRunQuery"), msg, sizeof(msg)) || id == NULL) {
		rb_err_set(err, 502, "shopify_bulk_failed", "Shopify refused "
		    "the bulk order export: %s", id == NULL && msg[0] == '\0' ?
		    "no operation" : msg);
		goto fail;
	}
	(void)rb_strlcpy(opid, id, sizeof(opid));
	log_info("bulk operation %s started for orders updated from %s to %s",
	    opid, from, to);
	for (;;) {
		json_decref(*data);
		*data = NULL;
		if (rb_sleep_ms(wait, st->ctx->stop) == -1 ||
		    stopped(st, err) == -1) {
			rb_err_set(err, 503, "cancelled", "The run was stopped "
			    "while Shopify prepared the bulk export.");
			goto fail;
		}
		if (wait < SALES_BULK_POLL_MAX_MS)
			wait *= 2;
		if ((v = json_pack("{s:s}", "id", opid)) == NULL)
			goto oom;
		if (shopify_graphql(&st->sh, Q_BULK, v, data, err) == -1)
			goto fail;
		json_decref(v);
		v = NULL;
		op = json_object_get(*data, "bulkOperation");
		status = opt_str(op, "status");
		if (status == NULL) {
			rb_err_set(err, 502, "shopify_bad_response",
			    "Shopify lost the bulk operation %s.", opid);
			goto fail;
		}
		if (strcmp(status, "COMPLETED") == 0)
			break;
		if (strcmp(status, "CREATED") != 0 &&
		    strcmp(status, "RUNNING") != 0) {
			const char *ec = opt_str(op, "errorCode");

			rb_err_set(err, 502, "shopify_bulk_failed", "Shopify's "
			    "bulk order export ended %s (%s).", status,
			    ec ? ec : "no error code");
			goto fail;
		}
	}
	*url = opt_str(op, "url");
	return 0;
oom:
	rb_err_oom(err);
fail:
	json_decref(v);
	json_decref(*data);
	*data = NULL;
	return -1;
}

/* One range's export, streamed into the accumulator, then written. */
static int
bulk_range_read(struct st *st, const char *from, const char *to,
    struct rb_err *err)
{
	json_t *data = NULL;
	const char *url = NULL;
	struct http_request req;
	struct http_response resp;

	memset(&resp, 0, sizeof(resp));
	rb_err_clear(&st->sink_err);
	if (bulk_run(st, from, to, &data, &url, err) == -1)
		return -1;
	if (url != NULL) {
		memset(&req, 0, sizeof(req));
		req.method = "GET";
		req.url = url;		/* a signed URL: no token goes there */
		req.service = "shopify";	/* metrics label */
		req.timeout_ms = 30L * 60L * 1000L;
		req.max_response = 64u * 1024u;	/* error bodies only */
		req.sink = bulk_sink;
		req.sink_arg = st;
		if (http_request(st->ctx->http, &req, &resp, err) == -1) {
			if (strcmp(err->code, "sink_stopped") == 0 &&
			    st->sink_err.code[0] != '\0')
				*err = st->sink_err;
			goto fail;
		}
		if (resp.status != 200) {
			rb_err_set(err, 502, "shopify_bulk_failed", "Downloading "
			    "the bulk order export answered HTTP %ld.",
			    resp.status);
			goto fail;
		}
		http_response_free(&resp);
	}
	json_decref(data);
	return acc_store(st, SALES_BULK_CHUNK, err);
fail:
	sales_bulk_reset(st->acc);
	http_response_free(&resp);
	json_decref(data);
	return -1;
}

/* Orders updated in [from, to) by Shopify's count, at most limit
 * (*more: there are more than limit). */
static int
count_orders(struct st *st, const char *from, const char *to, long limit,
    long long *count, bool *more, struct rb_err *err)
{
	char qs[160];
	json_t *v, *data = NULL, *c;
	int n;

	if (to != NULL)
		n = snprintf(qs, sizeof(qs), "updated_at:>='%s' AND "
		    "updated_at:<'%s'", from, to);
	else
		n = snprintf(qs, sizeof(qs), "updated_at:>='%s'", from);
	if (n < 0 || (size_t)n >= sizeof(qs))
		return rb_err_set(err, 500, "internal_error", "Bad cursor.");
	if ((v = json_pack("{s:s, s:I}", "q", qs, "limit", (json_int_t)limit))
	    == NULL)
		return rb_err_oom(err);
	if (shopify_graphql(&st->sh, Q_ORDERS_COUNT, v, &data, err) == -1) {
		json_decref(v);
		return -1;
	}
	json_decref(v);
	c = json_object_get(data, "ordersCount");
	*count = json_integer_value(json_object_get(c, "count"));
	*more = *count >= limit || (opt_str(c, "precision") != NULL &&
	    strcmp(opt_str(c, "precision"), "EXACT") != 0);
	json_decref(data);
	return 0;
}

static int
iso_of(time_t t, char out[32])
{
	struct tm tm;

	return gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ? -1 : 0;
}

/* A bulk range is written: orders updated before `to` are stored, so
 * the cursor may move there (never back), but not past the run's start
 * (the last range ends at the second after it). */
static int
st_cursor(struct st *st, const char *to, struct rb_err *err)
{
	const char *p[2];

	if (st_wait(st, err) == -1)
		return -1;
	if (st->ctx->dry_run)
		return 0;
	p[0] = st->ctx->shop->id;
	p[1] = strcmp(to, st->sync_iso) == 0 ? st->sync_at : to;
	return db_exec(st->ctx->db, "INSERT INTO public.sales_cursors "
	    "(shop_id, orders_cursor, last_mode) VALUES ($1, $2::timestamptz, "
	    "'bulk') ON CONFLICT (shop_id) DO UPDATE SET orders_cursor = "
	    "greatest(public.sales_cursors.orders_cursor, "
	    "EXCLUDED.orders_cursor)", 2, p, err);
}

/* Orders updated in [from, to) through bulk exports of at most
 * range_max orders each: a range with more is halved (earlier half
 * first).  After each range is written the cursor moves to its end, so
 * a run that fails later resumes there. */
static int
bulk_ranges(struct st *st, const char *from, const char *to, int depth,
    long long known, struct rb_err *err)
{
	long long count = known;
	bool more = false;
	time_t a, b;
	char mid[32];

	if (stopped(st, err) == -1)
		return -1;
	/* known: an upper bound already counted (-1: none) */
	if ((known < 0 || known > st->range_max) && count_orders(st, from, to,
	    st->range_max, &count, &more, err) == -1)
		return -1;
	if (sales_parse_time(from, &a) == -1 || sales_parse_time(to, &b) ==
	    -1)
		return rb_err_set(err, 500, "internal_error", "Bad range.");
	if (more && b - a >= 2 && depth < 40) {
		if (iso_of(a + (b - a) / 2, mid) == -1)
			return rb_err_set(err, 500, "internal_error",
			    "Bad range.");
		return bulk_ranges(st, from, mid, depth + 1, -1, err) == -1 ?
		    -1 : bulk_ranges(st, mid, to, depth + 1, -1, err);
	}
	if (count == 0)
		return 0;
	st->nranges++;
	if (bulk_range_read(st, from, to, err) == -1)
		return -1;
	return st_cursor(st, to, err);
}

static int
sync_orders(struct st *st, struct rb_err *err)
{
	char qs[64];
	const char *since = st->since;
	json_t *v = NULL;
	long long count;
	bool more;
	int n;

	if (count_orders(st, since, NULL, 10000, &count, &more, err) == -1)
		return -1;
	st->bulk = count > rb_env_long("REBOSS_SALES_BULK_MIN_ORDERS", 0,
	    1000000000L, SALES_BULK_MIN_ORDERS);
	log_info("%lld%s orders updated since %s: reading them %s", count,
	    more ? " or more" : "", since, st->bulk ?
	    "with bulk operations" : "page by page");
	if (st->bulk) {
		st->range_max = rb_env_long("REBOSS_SALES_BULK_RANGE_ORDERS", 1,
		    10000000L, SALES_BULK_RANGE_ORDERS);
		if (bulk_ranges(st, since, st->sync_iso, 0, more ? -1 : count,
		    err) == -1)
			return -1;
		log_info("bulk: %ld range(s)", st->nranges);
		return 0;
	}
	n = snprintf(qs, sizeof(qs), "updated_at:>='%s'", since);
	if (n < 0 || (size_t)n >= sizeof(qs))
		return rb_err_set(err, 500, "internal_error", "Bad cursor.");
	if ((v = json_pack("{s:s}", "q", qs)) == NULL)
		return rb_err_oom(err);
	orders_clear(st);
	st->nbatch = 0;
	st->batch = rb_env_long("REBOSS_SALES_BATCH_ORDERS", 1, SALES_BATCH_MAX,
	    SALES_BATCH_ORDERS);
	/* The last batch is written while the products are read. */
	if (shopify_paginate(&st->sh, Q_ORDERS, v, "orders", order_page, st,
	    err) == -1 || acc_store(st, st->batch, err) == -1) {
		json_decref(v);
		return -1;
	}
	json_decref(v);
	return 0;
}

/* Every write of this run done: the cursor moves to the run's start. */
static int
store_cursor(struct st *st, struct rb_err *err)
{
	char count_s[24];
	const char *p[6];
	int n;

	if (st_wait(st, err) == -1)
		return -1;
	if (st->ctx->dry_run)
		return 0;
	n = snprintf(count_s, sizeof(count_s), "%ld", st->norders);
	if (n < 0 || (size_t)n >= sizeof(count_s))
		return rb_err_set(err, 500, "internal_error", "Bad count.");
	p[0] = st->ctx->shop->id;
	p[1] = st->sync_at;
	p[2] = st->bulk ? "bulk" : "pages";
	p[3] = count_s;
	p[4] = st->tz;
	p[5] = st->all_orders ? "all" : "last_60_days";
	/* complete_through (sql/011_sales_history.sql): every order updated
	 * before sync_at less the overlap (Shopify's search index may lag)
	 * is stored, so every local day that ended by then is complete. */
	return db_exec(st->ctx->db, "INSERT INTO public.sales_cursors "
	    "(shop_id, orders_cursor, last_mode, last_orders, "
	    "complete_through, orders_access, orders_access_checked_at) "
	    "VALUES ($1, $2::timestamptz, $3, $4::integer, "
	    "((($2::timestamptz - interval '" SALES_OVERLAP "') AT TIME ZONE "
	    "$5)::date - 1), $6, now()) ON CONFLICT (shop_id) DO UPDATE "
	    "SET orders_cursor = EXCLUDED.orders_cursor, last_mode = "
	    "EXCLUDED.last_mode, last_orders = EXCLUDED.last_orders, "
	    "complete_through = EXCLUDED.complete_through, orders_access = "
	    "EXCLUDED.orders_access, orders_access_checked_at = "
	    "EXCLUDED.orders_access_checked_at",
	    6, p, err);
}

/* ---- the worker ---------------------------------------------------------- */

static int
process_shop(struct job_ctx *ctx, struct rb_err *err)
{
	struct st st;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	st.ctx = ctx;
	if ((st.updated = json_array()) == NULL)
		return rb_err_oom(err);

	if (job_shopify_open(ctx, &st.sh, err) == -1)
		goto out;
	/* Orders before products: the orders' last batch, the biggest
	 * write, runs in PostgreSQL while the products are read. */
	if (run_times(&st, err) == -1 || shop_zone(&st, err) == -1 ||
	    sync_orders(&st, err) == -1 || sync_products(&st, err) == -1 ||
	    store_cursor(&st, err) == -1)
		goto close;
	log_info("%ld products, %ld orders stored (%s)", st.nproducts,
	    st.norders, st.tz);
	rc = 0;
close:
	shopify_close(&st.sh);
out:
	if (rc == -1) {
		struct rb_err later;	/* the first failure is the one told */

		rb_err_clear(&later);
		(void)st_wait(&st, &later);
	}
	orders_clear(&st);
	free(st.orders);
	json_decref(st.updated);
	sales_bulk_free(st.acc);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct job_def def = {
		.kind = JOB_SALES_TRACKER,
		.program = "reboss-sales-tracker",
		.summary = "mirror products and keep exact daily sales per "
		    "product",
		.process_shop = process_shop,
	};

	return job_main(&def, argc, argv);
}
