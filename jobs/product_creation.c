/*
 * reboss-product-creation (PRODUCT.md, Jobs 3).  Owned by "catalog".
 *
 * Per shop, in the worker:
 *  1. Loads and validates catalog_settings (invalid: the shop fails with a
 *     sentence naming the setting; nothing is touched).
 *  2. Finishes items left 'creating' by a worker that died (below), then
 *     works out how many products to make: every open catalog_slots row
 *     plus what is left of daily_creation_quota today (local day of the
 *     shop; quota products are created_products rows without a slot).
 *  3. For each, the next 'pending' design_queue item (position, then age):
 *     template + the item's overrides are validated (invalid: that item
 *     fails with a sentence), then the item is marked 'creating' with its
 *     handle (title slug + the first 8 hex digits of its id), slot and
 *     collection, and committed BEFORE anything is sent to Shopify.
 *  4. Creating an item: productByIdentifier(handle) first: when the
 *     product is there (a worker killed after the create) it is used, not
 *     made again; it must carry the item's tag "reboss-q-<8 hex>", else
 *     the handle belongs to someone else and the item fails.  Otherwise
 *     productSet (synchronous) creates it with options, variants, prices,
 *     tags, the image as media and its collection in one mutation; every
 *     variant untracked (print on demand, no stock) or, when the template
 *     says "inventory": "continue", tracked and sold when out of stock,
 *     so the product can always be bought.  Then
 *     publishablePublish to the Online Store publication (publications ->
 *     catalog.title "Online Store").  Finally one transaction records it:
 *     created_products, the queue item 'created', the slot filled, and the
 *     products mirror row (published_at = the start of its start phase).
 *     So a queue item yields at most one product whatever dies when.
 *  5. userErrors fail that item with Shopify's words (its slot stays open
 *     for the next item); the others go on; the shop fails at the end with
 *     a count when any item failed.
 *  --dry-run or the shop's dry_run switch: plans and logs only; nothing is
 *  written to Shopify or the database.
 *  Test knob: REBOSS_TEST_CRASH_AFTER_CREATE=1 makes the worker SIGKILL
 *  itself right after productSet returns a product (crash-safety test).
 *  Time: catalog_now() (see lib/catalog_settings.h).
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog_settings.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "replace.h"
#include "sales.h"
#include "shop_limits.h"
#include "shopify.h"
#include "util.h"

static long crash_creates;	/* passes of the crash drill's hook */

static const char Q_BY_HANDLE[] =
	"query ByHandle($h: String!) { productByIdentifier(identifier: "
	"{handle: $h}) { id handle tags status publishedAt } }";

static const char M_SET[] =
	"mutation Create($input: ProductSetInput!) { productSet(input: "
	"$input, synchronous: true) { product { id handle status publishedAt "
	"} userErrors { field message code } } }";

static const char Q_PUBLICATIONS[] =
	"query Publications($cursor: String) { publications(first: 50, after: "
	"$cursor) { nodes { id catalog { title } } pageInfo { hasNextPage "
	"endCursor } } }";

static const char M_PUBLISH[] =
	"mutation Publish($id: ID!, $pub: ID!) { publishablePublish(id: $id, "
	"input: [{publicationId: $pub}]) { publishable { ... on Product { id "
	"publishedAt } } userErrors { field message } } }";

struct pc {
	struct job_ctx		*ctx;
	struct shopify		 sh;
	struct catalog_settings	 set;
	char			 tz[SALES_TZ_MAX];
	time_t			 now;
	char			 now_iso[32];
	char			 online_store[128];	/* publication gid */
	bool			 dry;
	long			 created, failed;
	char			 first_err[300];
	struct rb_err		*err;
};

struct item {
	char		id[37];
	char		title[256];
	char		*description;
	char		*image_url;
	json_t		*tags;		/* array of strings */
	json_t		*overrides;
	char		handle[80];
	char		qtag[24];	/* reboss-q-<8 hex> */
	char		slot_id[24];	/* "" = quota */
	long long	collection;
};

static void
item_free(struct item *it)
{
	free(it->description);
	free(it->image_url);
	json_decref(it->tags);
	json_decref(it->overrides);
	memset(it, 0, sizeof(*it));
}

static int
stopped(struct pc *pc, struct rb_err *err)
{
	if (*pc->ctx->stop)
		return rb_err_set(err, 503, "cancelled", "The run was stopped "
		    "before this shop was finished.");
	return 0;
}

static void
make_handle(struct item *it)
{
	size_t i, n = 0;
	bool dash = false;
	const char *t = it->title;

	for (i = 0; t[i] != '\0' && n < 48; i++) {
		unsigned char c = (unsigned char)t[i];

		if (isalnum(c) && c < 0x80) {
			if (dash && n > 0)
				it->handle[n++] = '-';
			dash = false;
			it->handle[n++] = (char)tolower(c);
		} else
			dash = true;
	}
	if (n > 0)
		it->handle[n++] = '-';
	memcpy(it->handle + n, it->id, 8);
	it->handle[n + 8] = '\0';
	(void)snprintf(it->qtag, sizeof(it->qtag), "reboss-q-%.8s", it->id);
}

/* The item's template: settings template + overrides, validated. */
static int
item_template(struct pc *pc, struct item *it, json_t **out,
    struct rb_err *err)
{
	json_t *t, *o = it->overrides, *v, *tags, *x;
	const char *k;
	char what[96];
	size_t i;

	*out = NULL;
	if ((t = json_deep_copy(pc->set.template)) == NULL)
		return rb_err_oom(err);
	(void)snprintf(what, sizeof(what), "overrides of design %.8s", it->id);
	json_object_foreach(o, k, v) {
		if (strcmp(k, "product_type") == 0 || strcmp(k, "vendor") == 0
		    || strcmp(k, "status") == 0) {
			if (json_object_set(t, k, v) == -1)
				goto oom;
		} else if (strcmp(k, "tags") == 0) {
			if (!json_is_array(v)) {
				rb_err_set(err, 400, "invalid_settings", "The "
				    "setting %s.tags must be a list of tags.",
				    what);
				goto fail;
			}
			tags = json_object_get(t, "tags");
			if (tags == NULL) {
				if (json_object_set_new(t, "tags",
				    json_array()) == -1)
					goto oom;
				tags = json_object_get(t, "tags");
			}
			if (json_array_extend(tags, v) == -1)
				goto oom;
		} else if (strcmp(k, "price") == 0) {
			if (!catalog_price_ok(json_string_value(v))) {
				rb_err_set(err, 400, "invalid_settings", "The "
				    "setting %s.price must be a price such as "
				    "\"19.99\".", what);
				goto fail;
			}
			json_array_foreach(json_object_get(t, "variants"), i,
			    x)
				if (json_object_set(x, "price", v) == -1)
					goto oom;
		} else if (strcmp(k, "collection_id") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0) {
				rb_err_set(err, 400, "invalid_settings", "The "
				    "setting %s.collection_id must be a "
				    "positive collection id.", what);
				goto fail;
			}
		} else {
			rb_err_set(err, 400, "invalid_settings", "The setting "
			    "%s has the unknown key '%.40s' (known: "
			    "product_type, vendor, status, tags, price, "
			    "collection_id).", what, k);
			goto fail;
		}
	}
	tags = json_object_get(t, "tags");
	if (tags == NULL) {
		if (json_object_set_new(t, "tags", json_array()) == -1)
			goto oom;
		tags = json_object_get(t, "tags");
	}
	if (json_array_extend(tags, it->tags) == -1 ||
	    json_array_append_new(tags, json_string(it->qtag)) == -1)
		goto oom;
	if (catalog_template_check(t, what, err) == -1)
		goto fail;
	*out = t;
	return 0;
oom:
	rb_err_oom(err);
fail:
	json_decref(t);
	return -1;
}

/* ProductSetInput from the item and its template. */
static json_t *
set_input(struct item *it, json_t *t)
{
	json_t *in, *opts, *vars, *o, *v, *po, *vals, *x, *ov, *pv;
	const char *inv = json_string_value(json_object_get(t, "inventory"));
	const char *policy = catalog_inventory_policy(inv);
	int tracked = inv != NULL && strcmp(inv, "continue") == 0;
	char cg[64];
	size_t i, j;

	if (policy == NULL)	/* validated before: cannot happen */
		return NULL;

	(void)snprintf(cg, sizeof(cg), "gid://shopify/Collection/%lld",
	    it->collection);
	in = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O, s:[s]}",
	    "title", it->title, "descriptionHtml", it->description,
	    "handle", it->handle,
	    "productType", json_string_value(json_object_get(t,
	    "product_type")),
	    "vendor", json_string_value(json_object_get(t, "vendor")),
	    "status", json_string_value(json_object_get(t, "status")),
	    "tags", json_object_get(t, "tags"), "collections", cg);
	if (in == NULL)
		return NULL;
	opts = json_object_get(t, "options");
	if ((po = json_array()) == NULL ||
	    json_object_set_new(in, "productOptions", po) == -1)
		goto fail;
	if (json_array_size(opts) == 0) {
		if (json_array_append_new(po, json_pack("{s:s, s:i, s:[{s:s}]}",
		    "name", "Title", "position", 1, "values", "name",
		    "Default Title")) == -1)
			goto fail;
	}
	json_array_foreach(opts, i, o) {
		if ((vals = json_array()) == NULL)
			goto fail;
		json_array_foreach(json_object_get(o, "values"), j, x)
			if (json_array_append_new(vals, json_pack("{s:O}",
			    "name", x)) == -1) {
				json_decref(vals);
				goto fail;
			}
		if (json_array_append_new(po, json_pack("{s:O, s:i, s:o}",
		    "name", json_object_get(o, "name"), "position", (int)i + 1,
		    "values", vals)) == -1)
			goto fail;
	}
	vars = json_object_get(t, "variants");
	if ((pv = json_array()) == NULL ||
	    json_object_set_new(in, "variants", pv) == -1)
		goto fail;
	json_array_foreach(vars, i, v) {
		if ((ov = json_array()) == NULL)
			goto fail;
		if (json_array_size(opts) == 0)
			(void)json_array_append_new(ov, json_pack("{s:s, s:s}",
			    "optionName", "Title", "name", "Default Title"));
		json_array_foreach(json_object_get(v, "options"), j, x)
			(void)json_array_append_new(ov, json_pack("{s:O, s:O}",
			    "optionName", json_object_get(json_array_get(opts,
			    j), "name"), "name", x));
		/* Purchasable without stock (catalog_settings.h). */
		x = json_pack("{s:o, s:O, s:s, s:{s:b}}", "optionValues", ov,
		    "price", json_object_get(v, "price"), "inventoryPolicy",
		    policy, "inventoryItem", "tracked", tracked);
		if (x == NULL || json_array_append_new(pv, x) == -1)
			goto fail;
		if (json_is_string(json_object_get(v, "compare_at_price")))
			(void)json_object_set(x, "compareAtPrice",
			    json_object_get(v, "compare_at_price"));
		if (json_is_string(json_object_get(v, "sku")))
			(void)json_object_set(x, "sku",
			    json_object_get(v, "sku"));
	}
	if (it->image_url != NULL && *it->image_url != '\0' &&
	    json_object_set_new(in, "files", json_pack("[{s:s, s:s, s:s}]",
	    "originalSource", it->image_url, "contentType", "IMAGE", "alt",
	    it->title)) == -1)
		goto fail;
	return in;
fail:
	json_decref(in);
	return NULL;
}

static int
pub_page(void *arg, json_t *nodes, struct rb_err *err)
{
	struct pc *pc = arg;
	json_t *n;
	size_t i;
	const char *t;

	(void)err;	/* nothing here can fail */
	json_array_foreach(nodes, i, n) {
		t = json_string_value(json_object_get(json_object_get(n,
		    "catalog"), "title"));
		if (t != NULL && strcmp(t, "Online Store") == 0 &&
		    pc->online_store[0] == '\0')
			(void)rb_strlcpy(pc->online_store, json_string_value(
			    json_object_get(n, "id")), sizeof(pc->online_store));
	}
	return 0;
}

static int
find_online_store(struct pc *pc, struct rb_err *err)
{
	if (pc->online_store[0] != '\0')
		return 0;
	if (shopify_paginate(&pc->sh, Q_PUBLICATIONS, NULL, "publications",
	    pub_page, pc, err) == -1)
		return -1;
	if (pc->online_store[0] == '\0')
		return rb_err_set(err, 409, "no_online_store", "The shop has no "
		    "Online Store sales channel to publish new products to; "
		    "add it in Shopify.");
	return 0;
}

static bool
has_tag(json_t *tags, const char *tag)
{
	json_t *x;
	size_t i;

	json_array_foreach(tags, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), tag) == 0)
			return true;
	return false;
}

/* Shopify side of one item; fills *gid and *published (new strings).
 * Item-level failures return -1 with err->code "item_failed" (or
 * "invalid_settings"); others are the shop's. */
static int
create_in_shopify(struct pc *pc, struct item *it, json_t *t,
    json_t **product, struct rb_err *err)
{
	json_t *v = NULL, *data = NULL, *in = NULL, *p, *pay;
	char msg[400];
	const char *g;

	*product = NULL;
	if ((v = json_pack("{s:s}", "h", it->handle)) == NULL)
		goto oom;
	if (shopify_graphql(&pc->sh, Q_BY_HANDLE, v, &data, err) == -1)
		goto fail;
	p = json_object_get(data, "productByIdentifier");
	if (json_is_object(p)) {
		if (!has_tag(json_object_get(p, "tags"), it->qtag)) {
			rb_err_set(err, 409, "item_failed", "Design %.8s: the "
			    "handle %s already belongs to another product.",
			    it->id, it->handle);
			goto fail;
		}
		log_info("design %.8s: product %s already exists (an earlier "
		    "run was interrupted); not creating it again", it->id,
		    json_string_value(json_object_get(p, "id")));
	} else {
		json_decref(v);
		json_decref(data);
		data = NULL;
		v = NULL;
		if ((in = set_input(it, t)) == NULL ||
		    (v = json_pack("{s:o}", "input", in)) == NULL)
			goto oom;
		in = NULL;
		if (shopify_graphql(&pc->sh, M_SET, v, &data, err) == -1)
			goto fail;
		pay = json_object_get(data, "productSet");
		if (shopify_user_error(pay, msg, sizeof(msg))) {
			rb_err_set(err, 422, "item_failed", "Design %.8s "
			    "(\"%.60s\"): Shopify refused it: %s", it->id,
			    it->title, msg);
			goto fail;
		}
		p = json_object_get(pay, "product");
		if (!json_is_object(p)) {
			rb_err_set(err, 502, "shopify_bad_response", "Shopify "
			    "answered productSet without a product.");
			goto fail;
		}
		job_crash_point("REBOSS_TEST_CRASH_AFTER_CREATE",
		    &crash_creates);
	}
	g = json_string_value(json_object_get(p, "id"));
	if (g == NULL || shopify_gid_id(g) <= 0) {
		rb_err_set(err, 502, "shopify_bad_response", "Shopify returned "
		    "a product without a valid id.");
		goto fail;
	}
	*product = json_incref(p);
	json_decref(v);
	json_decref(data);
	return 0;
oom:
	rb_err_oom(err);
fail:
	json_decref(in);
	json_decref(v);
	json_decref(data);
	return -1;
}

static int
publish(struct pc *pc, struct item *it, json_t *product, char *published,
    size_t size, struct rb_err *err)
{
	json_t *v, *data = NULL, *pay;
	const char *pa;
	char msg[400];

	if (find_online_store(pc, err) == -1)
		return -1;
	v = json_pack("{s:O, s:s}", "id", json_object_get(product, "id"),
	    "pub", pc->online_store);
	if (v == NULL)
		return rb_err_oom(err);
	if (shopify_graphql(&pc->sh, M_PUBLISH, v, &data, err) == -1) {
		json_decref(v);
		return -1;
	}
	json_decref(v);
	pay = json_object_get(data, "publishablePublish");
	if (shopify_user_error(pay, msg, sizeof(msg))) {
		rb_err_set(err, 422, "item_failed", "Design %.8s: Shopify did "
		    "not publish it to the Online Store: %s", it->id, msg);
		json_decref(data);
		return -1;
	}
	pa = json_string_value(json_object_get(json_object_get(pay,
	    "publishable"), "publishedAt"));
	(void)rb_strlcpy(published, pa ? pa : "", size);
	json_decref(data);
	return 0;
}

static int
record(struct pc *pc, struct item *it, json_t *product, json_t *t,
    const char *published, struct rb_err *err)
{
	char pid[24], col[24];
	const char *p[10];
	long long id = shopify_gid_id(json_string_value(json_object_get(
	    product, "id")));
	const char *status = json_string_value(json_object_get(product,
	    "status"));

	(void)snprintf(pid, sizeof(pid), "%lld", id);
	(void)snprintf(col, sizeof(col), "%lld", it->collection);
	if (status == NULL)
		status = json_string_value(json_object_get(t, "status"));
	if (db_begin(pc->ctx->db, err) == -1)
		return -1;
	p[0] = pc->ctx->shop->id;
	p[1] = pid;
	p[2] = it->id;
	p[3] = it->handle;
	p[4] = col;
	p[5] = it->slot_id[0] ? it->slot_id : NULL;
	p[6] = *published ? published : NULL;
	p[7] = pc->now_iso;
	if (db_exec(pc->ctx->db, "INSERT INTO public.created_products "
	    "(shop_id, product_id, queue_item_id, handle, collection_id, "
	    "slot_id, published_at, created_at) VALUES ($1, $2::bigint, "
	    "$3::uuid, $4, $5::bigint, $6::bigint, $7::timestamptz, "
	    "$8::timestamptz) ON CONFLICT (shop_id, product_id) DO NOTHING",
	    8, p, err) == -1)
		goto fail;
	p[0] = it->id;
	p[1] = pid;
	if (db_exec(pc->ctx->db, "UPDATE public.design_queue SET status = "
	    "'created', product_id = $2::bigint, error = NULL WHERE id = "
	    "$1::uuid", 2, p, err) == -1)
		goto fail;
	if (it->slot_id[0]) {
		p[0] = it->slot_id;
		p[1] = it->id;
		p[2] = pc->now_iso;
		if (db_exec(pc->ctx->db, "UPDATE public.catalog_slots SET "
		    "filled_at = $3::timestamptz, filled_by = $2::uuid WHERE "
		    "id = $1::bigint AND filled_at IS NULL", 3, p, err) == -1)
			goto fail;
	}
	p[0] = pc->ctx->shop->id;
	p[1] = pid;
	p[2] = it->title;
	p[3] = it->handle;
	p[4] = status ? status : "ACTIVE";
	p[5] = *published ? published : NULL;
	p[6] = col;
	p[7] = it->image_url;
	p[8] = pc->now_iso;
	if (db_exec(pc->ctx->db, "INSERT INTO public.products (shop_id, "
	    "product_id, title, handle, status, shopify_created_at, "
	    "published_at, collection_ids, image_url) VALUES ($1, $2::bigint, "
	    "$3, $4, $5, $9::timestamptz, $6::timestamptz, "
	    "ARRAY[$7::bigint], $8) ON CONFLICT (shop_id, product_id) DO "
	    "UPDATE SET status = EXCLUDED.status, published_at = "
	    "coalesce(public.products.published_at, EXCLUDED.published_at), "
	    "collection_ids = ARRAY(SELECT DISTINCT unnest("
	    "public.products.collection_ids || EXCLUDED.collection_ids)), "
	    "deleted_at = NULL", 9, p, err) == -1)
		goto fail;
	return db_commit(pc->ctx->db, err);
fail:
	db_rollback(pc->ctx->db);
	return -1;
}

static int
item_fail(struct pc *pc, struct item *it, const struct rb_err *why,
    struct rb_err *err)
{
	const char *p[2] = { it->id, why->msg };

	pc->failed++;
	if (pc->first_err[0] == '\0')
		(void)rb_strlcpy(pc->first_err, why->msg,
		    sizeof(pc->first_err));
	log_warn("%s", why->msg);
	if (pc->dry)
		return 0;
	/* The slot (if any) stays open for the next item. */
	return db_exec(pc->ctx->db, "UPDATE public.design_queue SET status = "
	    "'failed', error = $2, slot_id = NULL WHERE id = $1::uuid", 2, p,
	    err);
}

/* Item-level codes: the item fails, the shop goes on. */
static bool
item_level(const struct rb_err *e)
{
	return strcmp(e->code, "item_failed") == 0 ||
	    strcmp(e->code, "invalid_settings") == 0;
}

static int
load_item(PGresult *r, int i, struct item *it, struct rb_err *err)
{
	json_error_t je;

	memset(it, 0, sizeof(*it));
	(void)rb_strlcpy(it->id, PQgetvalue(r, i, 0), sizeof(it->id));
	(void)rb_strlcpy(it->title, PQgetvalue(r, i, 1), sizeof(it->title));
	it->description = strdup(PQgetvalue(r, i, 2));
	it->image_url = PQgetisnull(r, i, 3) ? NULL :
	    strdup(PQgetvalue(r, i, 3));
	it->tags = json_loads(PQgetvalue(r, i, 4), 0, &je);
	it->overrides = json_loads(PQgetvalue(r, i, 5), 0, &je);
	if (it->description == NULL || (!PQgetisnull(r, i, 3) &&
	    it->image_url == NULL) || it->tags == NULL || it->overrides ==
	    NULL) {
		item_free(it);
		return rb_err_oom(err);
	}
	if (!PQgetisnull(r, i, 6))
		(void)rb_strlcpy(it->handle, PQgetvalue(r, i, 6),
		    sizeof(it->handle));
	if (!PQgetisnull(r, i, 7))
		(void)rb_strlcpy(it->slot_id, PQgetvalue(r, i, 7),
		    sizeof(it->slot_id));
	if (!PQgetisnull(r, i, 8))
		it->collection = strtoll(PQgetvalue(r, i, 8), NULL, 10);
	return 0;
}

#define ITEM_COLS "id, title, description, image_url, to_json(tags), " \
	"overrides::text, handle, slot_id, collection_id"

/* Shopify + bookkeeping for an item already marked 'creating'. */
static int
finish_item(struct pc *pc, struct item *it, struct rb_err *err)
{
	json_t *t = NULL, *product = NULL;
	char published[64] = "";
	struct rb_err ierr;

	rb_err_clear(&ierr);
	if (item_template(pc, it, &t, &ierr) == -1 ||
	    create_in_shopify(pc, it, t, &product, &ierr) == -1 ||
	    publish(pc, it, product, published, sizeof(published), &ierr) ==
	    -1) {
		json_decref(t);
		json_decref(product);
		if (item_level(&ierr))
			return item_fail(pc, it, &ierr, err);
		*err = ierr;
		return -1;
	}
	if (record(pc, it, product, t, published, err) == -1) {
		json_decref(t);
		json_decref(product);
		return -1;
	}
	pc->created++;
	log_info("design %.8s -> product %s (%s) in collection %lld%s",
	    it->id, json_string_value(json_object_get(product, "id")),
	    it->handle, it->collection, it->slot_id[0] ? ", fills a slot" :
	    ", daily quota");
	json_decref(t);
	json_decref(product);
	return 0;
}

static int
resume_creating(struct pc *pc, struct rb_err *err)
{
	const char *p[1] = { pc->ctx->shop->id };
	struct item it;
	PGresult *r;
	int i, n;

	r = db_query(pc->ctx->db, "SELECT " ITEM_COLS " FROM "
	    "public.design_queue WHERE shop_id = $1 AND status = 'creating' "
	    "ORDER BY position, created_at", 1, p, err);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		if (stopped(pc, err) == -1 || load_item(r, i, &it, err) == -1)
			goto fail;
		if (it.handle[0] == '\0' || it.collection <= 0) {
			item_free(&it);
			continue;
		}
		(void)snprintf(it.qtag, sizeof(it.qtag), "reboss-q-%.8s",
		    it.id);
		log_info("design %.8s was being created when a run ended; "
		    "finishing it", it.id);
		if (finish_item(pc, &it, err) == -1) {
			item_free(&it);
			goto fail;
		}
		item_free(&it);
	}
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	return -1;
}

/* How many slots are open (not claimed by a 'creating' item), how much
 * of today's quota is left, and how many products the shop's
 * creations_per_day (under the operator's cap) still allows today. */
static int
plan(struct pc *pc, long *slots, long *quota, long *allowed,
    struct rb_err *err)
{
	char day[SALES_DAY_LEN];
	const char *p[3];
	PGresult *r;
	long used, made;

	if (sales_local_day(pc->now, pc->tz, day) == -1)
		return rb_err_set(err, 500, "invalid_timezone", "The shop's "
		    "time zone is not known on this host.");
	p[0] = pc->ctx->shop->id;
	p[1] = day;
	p[2] = pc->tz;
	r = db_query(pc->ctx->db, "SELECT (SELECT count(*) FROM "
	    "public.catalog_slots s WHERE s.shop_id = $1 AND s.filled_at IS "
	    "NULL), (SELECT count(*) FROM public.created_products c WHERE "
	    "c.shop_id = $1 AND c.slot_id IS NULL AND c.created_at >= "
	    "($2::date::timestamp AT TIME ZONE $3)), (SELECT count(*) FROM "
	    "public.created_products c WHERE c.shop_id = $1 AND c.created_at "
	    ">= ($2::date::timestamp AT TIME ZONE $3))", 3, p, err);
	if (r == NULL)
		return -1;
	*slots = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	used = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	made = strtol(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	*quota = pc->set.daily_quota > used ? pc->set.daily_quota - used : 0;
	*allowed = pc->ctx->limits->creations_per_day > made ?
	    pc->ctx->limits->creations_per_day - made : 0;
	return 0;
}

/* Next pending item into it; 0 found, 1 none left, -1 error. */
static int
next_item(struct pc *pc, long skip, struct item *it, struct rb_err *err)
{
	char off[24];
	const char *p[2] = { pc->ctx->shop->id, off };
	PGresult *r;
	int rc;

	(void)snprintf(off, sizeof(off), "%ld", skip);
	r = db_query(pc->ctx->db, "SELECT " ITEM_COLS " FROM "
	    "public.design_queue WHERE shop_id = $1 AND status = 'pending' "
	    "ORDER BY position, created_at, id OFFSET $2::bigint LIMIT 1", 2,
	    p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	rc = load_item(r, 0, it, err);
	PQclear(r);
	return rc;
}

/* The oldest open slot: id and collection ("" if none). */
static int
oldest_slot(struct pc *pc, char *id, size_t idsize, long long *col,
    struct rb_err *err)
{
	const char *p[1] = { pc->ctx->shop->id };
	PGresult *r;

	*id = '\0';
	*col = 0;
	r = db_query(pc->ctx->db, "SELECT s.id, s.collection_id FROM "
	    "public.catalog_slots s WHERE s.shop_id = $1 AND s.filled_at IS "
	    "NULL AND NOT EXISTS (SELECT 1 FROM public.design_queue q WHERE "
	    "q.slot_id = s.id AND q.status = 'creating') ORDER BY opened_at, "
	    "id LIMIT 1", 1, p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		(void)rb_strlcpy(id, PQgetvalue(r, 0, 0), idsize);
		if (!PQgetisnull(r, 0, 1))
			*col = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return 0;
}

static int
create_new(struct pc *pc, struct rb_err *err)
{
	long slots = 0, quota = 0, allowed = 0, want, skip = 0, done = 0;
	long long def_col, scol;
	struct item it;
	json_t *t = NULL;
	struct rb_err ierr;
	const char *p[5];
	char col[24];
	int rc;

	if (plan(pc, &slots, &quota, &allowed, err) == -1)
		return -1;
	want = slots + quota;
	if (want > allowed) {
		log_notice("creations_per_day: %ld of %ld product(s) wait for "
		    "tomorrow (%ld more allowed today)", want - allowed, want,
		    allowed);
		if (!pc->ctx->dry_run)
			shop_limit_reached(pc->ctx->db, pc->ctx->shop->id,
			    "creations_per_day", "product_creation may make "
			    "%ld more product(s) today, and %ld wait for "
			    "tomorrow.", allowed, want - allowed);
		want = allowed;
	}
	def_col = pc->set.creation_collection ? pc->set.creation_collection :
	    pc->set.nmanaged ? pc->set.managed[0] : 0;
	log_info("%ld open slots, %ld left of today's quota of %d", slots,
	    quota, pc->set.daily_quota);
	while (done < want) {
		if (stopped(pc, err) == -1)
			return -1;
		rc = next_item(pc, skip, &it, err);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			log_info("the design queue is empty: %ld of %ld "
			    "products not made", want - done, want);
			break;
		}
		done++;
		make_handle(&it);
		if (oldest_slot(pc, it.slot_id, sizeof(it.slot_id), &scol,
		    err) == -1)
			goto fail;
		if (pc->dry && done > slots)
			it.slot_id[0] = '\0';
		it.collection = json_is_integer(json_object_get(it.overrides,
		    "collection_id")) ? json_integer_value(json_object_get(
		    it.overrides, "collection_id")) : scol ? scol : def_col;
		rb_err_clear(&ierr);
		if (it.collection <= 0) {
			rb_err_set(&ierr, 400, "invalid_settings", "The setting "
			    "creation_collection_id is not set and there are "
			    "no managed collections: new products have no "
			    "collection to go to.");
			*err = ierr;
			goto fail;
		}
		if (item_template(pc, &it, &t, &ierr) == -1) {
			if (pc->dry)
				skip++;
			if (!item_level(&ierr) || item_fail(pc, &it, &ierr,
			    err) == -1) {
				if (!item_level(&ierr))
					*err = ierr;
				goto fail;
			}
			done--;		/* a failed item takes no slot */
			item_free(&it);
			continue;
		}
		json_decref(t);
		t = NULL;
		if (pc->dry) {
			log_info("dry run: would create \"%s\" (%s) in "
			    "collection %lld%s", it.title, it.handle,
			    it.collection, it.slot_id[0] ? " for a slot" : "");
			skip++;
			item_free(&it);
			continue;
		}
		(void)snprintf(col, sizeof(col), "%lld", it.collection);
		p[0] = it.id;
		p[1] = it.handle;
		p[2] = it.slot_id[0] ? it.slot_id : NULL;
		p[3] = col;
		if (db_exec(pc->ctx->db, "UPDATE public.design_queue SET "
		    "status = 'creating', handle = $2, slot_id = $3::bigint, "
		    "collection_id = $4::bigint, attempts = attempts + 1 "
		    "WHERE id = $1::uuid AND status = 'pending'", 4, p,
		    err) == -1)
			goto fail;
		rc = (int)pc->failed;
		if (finish_item(pc, &it, err) == -1)
			goto fail;
		if (pc->failed != rc)
			done--;		/* its slot is still open */
		item_free(&it);
	}
	return 0;
fail:
	json_decref(t);
	item_free(&it);
	return -1;
}

static int
process_shop(struct job_ctx *ctx, struct rb_err *err)
{
	struct pc pc;
	int rc = -1;

	memset(&pc, 0, sizeof(pc));
	pc.ctx = ctx;
	if (catalog_settings_load(ctx->db, ctx->shop->id, &pc.set, err) == -1)
		return -1;
	pc.dry = ctx->dry_run || pc.set.dry_run;
	if (catalog_now(ctx->db, &pc.now, err) == -1)
		goto out;
	catalog_iso_utc(pc.now, pc.now_iso);
	if (catalog_open_shop(ctx, &pc.sh, pc.tz, sizeof(pc.tz), err) == -1)
		goto out;
	if ((!pc.dry && resume_creating(&pc, err) == -1) ||
	    create_new(&pc, err) == -1)
		goto close;
	log_info("%ld products created, %ld designs failed", pc.created,
	    pc.failed);
	if (pc.failed > 0) {
		rb_err_set(err, 422, "designs_failed", "%ld design%s could not "
		    "become products; the first: %s", pc.failed,
		    pc.failed == 1 ? "" : "s", pc.first_err);
		goto close;
	}
	rc = 0;
close:
	shopify_close(&pc.sh);
out:
	catalog_settings_free(&pc.set);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct job_def def = {
		.kind = JOB_PRODUCT_CREATION,
		.program = "reboss-product-creation",
		.summary = "turn designs from the queue into products for open "
		    "slots and the daily quota",
		.process_shop = process_shop,
	};

	catalog_clock_init(&argc, argv);
	return job_main(&def, argc, argv);
}
