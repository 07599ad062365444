/*
 * reboss-sales-tracker (PRODUCT.md, Jobs 1).  Owned by the sales_tracker.
 *
 * Per shop, in the worker (job_main() forks one per shop):
 *  1. Opens the shop's token (a plain token left by the dashboard is used
 *     and sealed in place), reads the shop's IANA zone from Shopify (and
 *     writes it back to shops when it changed).
 *  2. Mirrors every product into `products` (one upsert per page of 25);
 *     once the whole list was read, products not seen are marked deleted.
 *  3. Orders: T0 = database now() at the start; SINCE = (cursor, or T0 - 60
 *     days on the first run) - 10 minutes of overlap (Shopify's search
 *     index lags a little).  Reads every order with updated_at >= SINCE and
 *     replaces each order's rows in order_lines_ledger, then recomputes the
 *     touched (product, day) rows of product_sales_daily from the ledger,
 *     in one transaction per batch of SALES_BATCH_ORDERS orders (pages are
 *     collected: a database call costs about as much for 10 orders as for
 *     100; REBOSS_SALES_BATCH_ORDERS overrides it for tests).  Only when every order is committed does
 *     the cursor move to T0 (cursor rule: the cursor never passes an order
 *     that is not stored; a failure leaves it where it was and the next
 *     run reads the same orders again, which is harmless: replacing an
 *     order's contribution is idempotent).
 *  4. Bulk threshold: when ordersCount for the filter exceeds
 *     SALES_BULK_MIN_ORDERS (1000 = 100 pages of 10 orders; override with
 *     REBOSS_SALES_BULK_MIN_ORDERS for tests), the orders are read with one
 *     bulkOperationRunQuery (JSONL) instead of pages.
 * --dry-run reads everything and rolls every write back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "job.h"
#include "log.h"
#include "sales.h"
#include "shopify.h"
#include "util.h"
#include "shop_token.h"

#define SALES_BULK_MIN_ORDERS	1000L
#define SALES_BULK_MAX_BYTES	(256u * 1024u * 1024u)
#define SALES_BULK_CHUNK	200	/* orders per transaction (bulk) */
#define SALES_BULK_POLL_MAX_MS	10000
#define SALES_BATCH_ORDERS	100	/* orders per transaction (pages) */
/* Orders updated this long before a run's start are read again by the next
 * run: Shopify's search index lags a little behind. */
#define SALES_OVERLAP		"10 minutes"

static const char Q_SHOP[] =
	"query { shop { ianaTimezone currencyCode } }";

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

#define LINE_FIELDS "currentQuantity product { id } " \
	"discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } }"

static const char Q_ORDERS[] =
	"query Orders($cursor: String, $q: String) { orders(first: 10, "
	"after: $cursor, query: $q, sortKey: UPDATED_AT) { nodes { id "
	"processedAt cancelledAt updatedAt lineItems(first: 20) { nodes { "
	LINE_FIELDS " } pageInfo { hasNextPage endCursor } } } pageInfo { "
	"hasNextPage endCursor } } }";

static const char Q_ORDER_LINES[] =
	"query OrderLines($id: ID!, $cursor: String) { order(id: $id) { "
	"lineItems(first: 100, after: $cursor) { nodes { " LINE_FIELDS " } "
	"pageInfo { hasNextPage endCursor } } } }";

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
	json_t		*prod_rows;
	long		 nproducts, norders, nwrites;
	long		 batch;		/* orders per transaction (pages) */
	/* lines of the order being built (paginated lineItems) */
	struct sales_order *cur;
	json_t		*cur_updated;
	struct sales_order *orders;		/* a page */
	json_t		*updated;		/* updatedAt per order */
	size_t		 n, cap;
	/* The page written while the next one is read (db_send): its
	 * parameters live until st_wait. */
	const char	*wparams[3];
	char		*wtext[2];
};

static struct rb_err *page_err;		/* paginate callbacks report here */

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

/* ---- token and shop ----------------------------------------------------- */

static int
open_token(struct st *st, char **token, struct rb_err *err)
{
	return shop_token_open(st->ctx->db, st->ctx->cfg->token_key,
	    st->ctx->shop->id, !st->ctx->dry_run, token, err);
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
 * after it are read again next time, never missed. */
static int
run_times(struct st *st, struct rb_err *err)
{
	PGresult *r;
	const char *p[1];

	p[0] = st->ctx->shop->id;
	r = db_query(st->ctx->db, "SELECT now()::text, to_char(("
	    "coalesce(c.orders_cursor, now() - interval '60 days') - "
	    "interval '" SALES_OVERLAP "') AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM (SELECT 1) x "
	    "LEFT JOIN public.sales_cursors c ON c.shop_id = $1", 1, p, err);
	if (r == NULL)
		return -1;
	(void)rb_strlcpy(st->sync_at, PQgetvalue(r, 0, 0),
	    sizeof(st->sync_at));
	(void)rb_strlcpy(st->since, PQgetvalue(r, 0, 1), sizeof(st->since));
	PQclear(r);
	return 0;
}

/* ---- products ------------------------------------------------------------ */

static int
collection_page(void *arg, json_t *nodes)
{
	json_t *ids = arg, *n;
	size_t i;
	long long id;

	json_array_foreach(nodes, i, n) {
		id = shopify_gid_id(json_string_value(json_object_get(n,
		    "id")));
		if (id > 0 && json_array_append_new(ids,
		    json_integer(id)) == -1)
			return -1;
	}
	return 0;
}

static const char *
opt_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
product_page(void *arg, json_t *nodes)
{
	struct st *st = arg;
	json_t *rows = NULL, *n, *row, *ids, *conn, *v;
	const char *gid, *img;
	long long id;
	size_t i;
	char *text = NULL;

	if (stopped(st, page_err) == -1)
		return -1;
	if ((rows = json_array()) == NULL)
		goto oom;
	json_array_foreach(nodes, i, n) {
		gid = opt_str(n, "id");
		if ((id = shopify_gid_id(gid)) <= 0) {
			rb_err_set(page_err, 502, "shopify_bad_response",
			    "Shopify returned a product without a valid id.");
			goto fail;
		}
		if ((ids = json_array()) == NULL)
			goto oom;
		conn = json_object_get(n, "collections");
		if (collection_page(ids, json_object_get(conn, "nodes")) ==
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
			    collection_page, ids, page_err) == -1) {
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
	    page_err);
oom:
	rb_err_set(page_err, 500, "out_of_memory", "Out of memory.");
fail:
	free(text);
	json_decref(rows);
	return -1;
}

static int
sync_products(struct st *st, struct rb_err *err)
{
	page_err = err;
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

static struct sales_order *
orders_push(struct st *st, json_t *order, struct rb_err *err)
{
	struct sales_order *no;
	json_t *u;

	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;

		no = realloc(st->orders, cap * sizeof(*no));
		if (no == NULL) {
			rb_err_set(err, 500, "out_of_memory", "Out of memory.");
			return NULL;
		}
		st->orders = no;
		st->cap = cap;
	}
	if (sales_order_init(&st->orders[st->n], order, st->tz, err) == -1)
		return NULL;
	u = json_object_get(order, "updatedAt");
	if (json_array_append_new(st->updated, json_is_string(u) ?
	    json_copy(u) : json_null()) == -1) {
		sales_order_free(&st->orders[st->n]);
		rb_err_set(err, 500, "out_of_memory", "Out of memory.");
		return NULL;
	}
	return &st->orders[st->n++];
}

static int
line_page(void *arg, json_t *nodes)
{
	struct st *st = arg;
	json_t *n;
	size_t i;

	json_array_foreach(nodes, i, n)
		if (sales_order_add_line(st->cur, n, page_err) == -1)
			return -1;
	return 0;
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
	rb_err_set(err, 500, "out_of_memory", "Out of memory.");
fail:
	if (in_tx)
		db_rollback(db);
	free(trows);
	free(tids);
	json_decref(rows);
	json_decref(ids);
	return -1;
}

/* The order just pushed was already in the batch (updated while the pages
 * were read, so it came again on a later page): the newer one takes the
 * older one's place.  Returns where the order now is. */
static struct sales_order *
orders_dedupe_last(struct st *st)
{
	struct sales_order *last = &st->orders[st->n - 1];
	size_t k;

	for (k = 0; k + 1 < st->n; k++) {
		if (st->orders[k].order_id != last->order_id)
			continue;
		sales_order_free(&st->orders[k]);
		st->orders[k] = *last;
		if (json_array_set(st->updated, k, json_array_get(st->updated,
		    st->n - 1)) == -1 ||
		    json_array_remove(st->updated, st->n - 1) == -1)
			return NULL;
		st->n--;
		return &st->orders[k];
	}
	return last;
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

static int
order_page(void *arg, json_t *nodes)
{
	struct st *st = arg;
	json_t *n, *li, *v;
	struct sales_order *o;
	size_t i;

	if (stopped(st, page_err) == -1)
		return -1;
	json_array_foreach(nodes, i, n) {
		if (orders_push(st, n, page_err) == NULL)
			return -1;
		if ((o = orders_dedupe_last(st)) == NULL)
			return rb_err_set(page_err, 500, "out_of_memory",
			    "Out of memory.");
		li = json_object_get(n, "lineItems");
		st->cur = o;
		if (json_is_true(json_object_get(json_object_get(li,
		    "pageInfo"), "hasNextPage"))) {
			/* A big order: read all its lines on their own. */
			v = json_pack("{s:O}", "id", json_object_get(n, "id"));
			if (v == NULL || shopify_paginate(&st->sh,
			    Q_ORDER_LINES, v, "order.lineItems", line_page, st,
			    page_err) == -1) {
				json_decref(v);
				return -1;
			}
			json_decref(v);
		} else if (line_page(st, json_object_get(li, "nodes")) == -1) {
			return -1;
		}
	}
	return (long)st->n >= st->batch ? orders_flush(st, page_err) : 0;
}

/* JSONL of a bulk operation: order lines, then line items with
 * __parentId.  Orders are stored SALES_BULK_CHUNK at a time once all
 * lines are read (a child may come after other orders). */
static int
bulk_parse(struct st *st, char *body, size_t len, struct rb_err *err)
{
	json_t *index = NULL, *o = NULL, *iv;
	json_error_t jerr;
	char *p = body, *end = body + len, *nl;
	size_t i, done;
	struct sales_order *so;
	const char *parent;
	long lineno = 0;

	orders_clear(st);
	if ((index = json_object()) == NULL)
		goto oom;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		if (nl > p) {
			o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
			if (!json_is_object(o)) {
				rb_err_set(err, 502, "shopify_bad_response",
				    "Line %ld of the bulk result is not JSON.",
				    lineno);
				goto fail;
			}
			parent = opt_str(o, "__parentId");
			if (parent == NULL) {
				if (orders_push(st, o, err) == NULL)
					goto fail;
				if (json_object_set_new(index, opt_str(o, "id"),
				    json_integer((json_int_t)(st->n - 1))) ==
				    -1)
					goto oom;
			} else {
				iv = json_object_get(index, parent);
				if (!json_is_integer(iv)) {
					rb_err_set(err, 502,
					    "shopify_bad_response", "Line %ld "
					    "of the bulk result names an "
					    "unknown parent.", lineno);
					goto fail;
				}
				so = &st->orders[json_integer_value(iv)];
				if (sales_order_add_line(so, o, err) == -1)
					goto fail;
			}
			json_decref(o);
			o = NULL;
		}
		p = nl + 1;
	}
	json_decref(index);
	index = NULL;
	/* Store in chunks: move each chunk to the front and store it. */
	{
		struct sales_order *all = st->orders;
		json_t *upd = st->updated;
		size_t total = st->n, cap = st->cap;

		for (done = 0; done < total; done += i) {
			i = total - done < SALES_BULK_CHUNK ? total - done :
			    SALES_BULK_CHUNK;
			if (stopped(st, err) == -1)
				goto restore_fail;
			st->orders = all + done;
			st->n = i;
			st->cap = i;
			if ((st->updated = json_array()) == NULL)
				goto restore_oom;
			{
				size_t k;

				for (k = 0; k < i; k++)
					(void)json_array_append(st->updated,
					    json_array_get(upd, done + k));
			}
			if (store_orders(st, err) == -1) {
				json_decref(st->updated);
				goto restore_fail;
			}
			json_decref(st->updated);
		}
		st->orders = all;
		st->updated = upd;
		st->n = total;
		st->cap = cap;
		orders_clear(st);
		return 0;
restore_oom:
		rb_err_set(err, 500, "out_of_memory", "Out of memory.");
restore_fail:
		st->orders = all;
		st->updated = upd;
		st->n = total;
		st->cap = cap;
		orders_clear(st);
		return -1;
	}
oom:
	rb_err_set(err, 500, "out_of_memory", "Out of memory.");
fail:
	json_decref(o);
	json_decref(index);
	orders_clear(st);
	return -1;
}

static int
bulk_orders(struct st *st, const char *since, struct rb_err *err)
{
	char q[1024];
	json_t *v = NULL, *data = NULL, *op, *ue;
	const char *id, *status, *url;
	struct http_request req;
	struct http_response resp;
	long wait = 1000;
	char opid[256];
	int n;

	memset(&resp, 0, sizeof(resp));
	n = snprintf(q, sizeof(q), "{ orders(query: \"updated_at:>=%s\", "
	    "sortKey: UPDATED_AT) { edges { node { id processedAt cancelledAt "
	    "updatedAt lineItems { edges { node { " LINE_FIELDS " } } } } } } }",
	    since);
	if (n < 0 || (size_t)n >= sizeof(q))
		return rb_err_set(err, 500, "internal_error", "Bulk query too "
		    "long.");
	if ((v = json_pack("{s:s}", "q", q)) == NULL)
		goto oom;
	if (shopify_graphql(&st->sh, M_BULK, v, &data, err) == -1)
		goto fail;
	json_decref(v);
	v = NULL;
	op = json_object_get(json_object_get(data, "bulkOperationRunQuery"),
	    "bulkOperation");
	ue = json_object_get(json_object_get(data, "bulkOperationRunQuery"),
	    "userErrors");
	id = opt_str(op, "id");
	if (id == NULL || json_array_size(ue) > 0) {
		const char *m = opt_str(json_array_get(ue, 0), "message");

		rb_err_set(err, 502, "shopify_bulk_failed", "Shopify refused "
		    "the bulk order export: %.200s", m ? m : "no operation");
		goto fail;
	}
	(void)rb_strlcpy(opid, id, sizeof(opid));
	log_info("bulk operation %s started for orders since %s", opid, since);
	for (;;) {
		json_decref(data);
		data = NULL;
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
		if (shopify_graphql(&st->sh, Q_BULK, v, &data, err) == -1)
			goto fail;
		json_decref(v);
		v = NULL;
		op = json_object_get(data, "bulkOperation");
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
	url = opt_str(op, "url");
	if (url == NULL) {		/* no orders at all */
		json_decref(data);
		return 0;
	}
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;		/* a signed URL: no token goes there */
	req.service = "shopify";	/* metrics label */
	req.timeout_ms = 30L * 60L * 1000L;
	req.max_response = SALES_BULK_MAX_BYTES;
	if (http_request(st->ctx->http, &req, &resp, err) == -1)
		goto fail;
	if (resp.status != 200) {
		rb_err_set(err, 502, "shopify_bulk_failed", "Downloading the "
		    "bulk order export answered HTTP %ld.", resp.status);
		goto fail;
	}
	if (bulk_parse(st, resp.body, resp.len, err) == -1)
		goto fail;
	http_response_free(&resp);
	json_decref(data);
	return 0;
oom:
	rb_err_set(err, 500, "out_of_memory", "Out of memory.");
fail:
	http_response_free(&resp);
	json_decref(v);
	json_decref(data);
	return -1;
}

/* Test knobs (environment), with the production value as default. */
static long
env_knob(const char *name, long min, long max, long def)
{
	const char *e = getenv(name);
	long v;

	if (e != NULL && rb_parse_long(e, min, max, &v) == 0)
		return v;
	return def;
}

static long
bulk_min_orders(void)
{
	return env_knob("REBOSS_SALES_BULK_MIN_ORDERS", 0, 1000000000L,
	    SALES_BULK_MIN_ORDERS);
}

static int
sync_orders(struct st *st, struct rb_err *err)
{
	char qs[64];
	const char *since = st->since;
	json_t *v = NULL, *data = NULL;
	long long count;
	int n;

	n = snprintf(qs, sizeof(qs), "updated_at:>=%s", since);
	if (n < 0 || (size_t)n >= sizeof(qs))
		return rb_err_set(err, 500, "internal_error", "Bad cursor.");
	if ((v = json_pack("{s:s}", "q", qs)) == NULL)
		return rb_err_set(err, 500, "out_of_memory", "Out of memory.");
	if (shopify_graphql(&st->sh, Q_ORDERS_COUNT, v, &data, err) == -1)
		goto fail;
	count = json_integer_value(json_object_get(json_object_get(data,
	    "ordersCount"), "count"));
	json_decref(data);
	data = NULL;
	st->bulk = count > bulk_min_orders();
	log_info("%lld orders updated since %s: reading them %s", count,
	    since, st->bulk ? "with a bulk operation" : "page by page");
	if (st->bulk) {
		if (bulk_orders(st, since, err) == -1)
			goto fail;
	} else {
		page_err = err;
		orders_clear(st);
		st->batch = env_knob("REBOSS_SALES_BATCH_ORDERS", 1, 10000,
		    SALES_BATCH_ORDERS);
		/* The last batch is written while the products are read. */
		if (shopify_paginate(&st->sh, Q_ORDERS, v, "orders",
		    order_page, st, err) == -1 || orders_flush(st, err) == -1)
			goto fail;
	}
	json_decref(v);
	return 0;
fail:
	json_decref(v);
	json_decref(data);
	return -1;
}

/* Every write of this run done: the cursor moves to the run's start. */
static int
store_cursor(struct st *st, struct rb_err *err)
{
	char count_s[24];
	const char *p[5];
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
	/* complete_through (sql/011_sales_history.sql): every order updated
	 * before sync_at less the overlap (Shopify's search index may lag)
	 * is stored, so every local day that ended by then is complete. */
	return db_exec(st->ctx->db, "INSERT INTO public.sales_cursors "
	    "(shop_id, orders_cursor, last_mode, last_orders, "
	    "complete_through) VALUES ($1, $2::timestamptz, $3, $4::integer, "
	    "((($2::timestamptz - interval '" SALES_OVERLAP "') AT TIME ZONE "
	    "$5)::date - 1)) ON CONFLICT (shop_id) DO UPDATE "
	    "SET orders_cursor = EXCLUDED.orders_cursor, last_mode = "
	    "EXCLUDED.last_mode, last_orders = EXCLUDED.last_orders, "
	    "complete_through = EXCLUDED.complete_through",
	    5, p, err);
}

/* ---- the worker ---------------------------------------------------------- */

static int
process_shop(struct job_ctx *ctx, struct rb_err *err)
{
	struct st st;
	char *token = NULL;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	st.ctx = ctx;
	if ((st.updated = json_array()) == NULL)
		return rb_err_set(err, 500, "out_of_memory", "Out of memory.");
	if (open_token(&st, &token, err) == -1)
		goto out;
	if (shopify_open(&st.sh, ctx->http, ctx->cfg, ctx->shop->domain,
	    token, err) == -1) {
		crypto_free_secret(token);
		goto out;
	}
	crypto_free_secret(token);
	token = NULL;
	st.sh.stop = ctx->stop;
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
