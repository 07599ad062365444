/*
 * optimize_rollback.c - see optimize_rollback.h.  Moved here from rebossctl
 * (ctl/optimize_cmds.c) so that the owner's API route runs the same code.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "optimize_rollback.h"
#include "util.h"

static const char M_UPDATE[] =
	"mutation ProductUpdate($product: ProductUpdateInput!) { "
	"productUpdate(product: $product) { product { id } userErrors { field "
	"message } } }";

/* One SEO field of before into in.seo (created on first use). */
static int
restore_seo(json_t *in, json_t **seo, const char *name, json_t *before)
{
	bool t = strcmp(name, "seo_title") == 0;
	const char *s;

	if (*seo == NULL && ((*seo = json_object()) == NULL ||
	    json_object_set_new(in, "seo", *seo) == -1))
		return -1;
	s = json_string_value(json_object_get(before, name));
	return json_object_set_new(*seo, t ? "title" : "description",
	    json_string(s != NULL ? s : ""));
}

/* productUpdate input restoring before's values of the named fields. */
static json_t *
restore_input(const char *gid, json_t *fields, json_t *before)
{
	json_t *in, *v, *seo = NULL, *f;
	const char *name, *s;
	size_t i;

	if ((in = json_pack("{s:s}", "id", gid)) == NULL)
		return NULL;
	json_array_foreach(fields, i, f) {
		name = json_string_value(f);
		if (name == NULL)
			continue;
		if (strcmp(name, "title") == 0) {
			s = json_string_value(json_object_get(before, "title"));
			if (s == NULL || json_object_set_new(in, "title",
			    json_string(s)) == -1)
				goto fail;
		} else if (strcmp(name, "description") == 0) {
			s = json_string_value(json_object_get(before,
			    "description_html"));
			if (json_object_set_new(in, "descriptionHtml",
			    json_string(s != NULL ? s : "")) == -1)
				goto fail;
		} else if (strcmp(name, "tags") == 0) {
			v = json_object_get(before, "tags");
			if (json_object_set_new(in, "tags", json_is_array(v) ?
			    json_incref(v) : json_array()) == -1)
				goto fail;
		} else if ((strcmp(name, "seo_title") == 0 ||
		    strcmp(name, "seo_description") == 0) &&
		    restore_seo(in, &seo, name, before) == -1)
			goto fail;
	}
	return in;
fail:
	json_decref(in);
	return NULL;
}

int
optimize_rollback_load(struct db *db, const char *id, const char *shop_id,
    struct optimize_rollback *rb, struct rb_err *err)
{
	const char *p[2] = { id, shop_id };
	json_t *fields = NULL, *before = NULL, *in = NULL;
	PGresult *r;
	int rc = -1;

	memset(rb, 0, sizeof(*rb));
	if (!rb_is_uuid(id))
		return rb_err_set(err, 400, "invalid_field", "'%s' is not an "
		    "optimization id (a UUID).", id);
	if ((r = db_query(db, "SELECT o.shop_id::text, s.shop_domain, "
	    "o.product_id::text, o.status, o.rolled_back_at IS NOT NULL, "
	    "array_to_json(o.fields)::text, o.before::text FROM "
	    "public.product_optimizations o JOIN public.shops s ON s.id = "
	    "o.shop_id WHERE o.id = $1::uuid AND ($2::uuid IS NULL OR "
	    "o.shop_id = $2::uuid)", 2, p, err)) == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		rb_err_set(err, 404, "optimization_not_found", "No "
		    "optimization %s%s.", id, shop_id != NULL ?
		    " in this shop" : "");
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 3), "failed") == 0) {
		rb_err_set(err, 409, "optimization_failed", "Optimization %s "
		    "failed and wrote nothing to Shopify: nothing to roll "
		    "back.", id);
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 4), "t") == 0) {
		rb_err_set(err, 409, "already_rolled_back", "Optimization %s "
		    "was already rolled back.", id);
		goto out;
	}
	(void)rb_strlcpy(rb->id, id, sizeof(rb->id));
	(void)rb_strlcpy(rb->shop_id, PQgetvalue(r, 0, 0),
	    sizeof(rb->shop_id));
	(void)snprintf(rb->gid, sizeof(rb->gid), "gid://shopify/Product/%s",
	    PQgetvalue(r, 0, 2));
	if (shopify_normalize_domain(PQgetvalue(r, 0, 1), rb->domain,
	    err) == -1)
		goto out;
	if ((fields = json_loads(PQgetvalue(r, 0, 5), 0, NULL)) == NULL ||
	    (before = json_loads(PQgetvalue(r, 0, 6), 0, NULL)) == NULL ||
	    (in = restore_input(rb->gid, fields, before)) == NULL ||
	    (rb->vars = json_pack("{s:O}", "product", in)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	rc = 0;
out:
	json_decref(fields);
	json_decref(before);
	json_decref(in);
	PQclear(r);
	return rc;
}

int
optimize_rollback_apply(struct db *db, struct shopify *sh,
    struct optimize_rollback *rb, struct rb_err *err)
{
	const char *p[1] = { rb->id };
	json_t *data = NULL, *pu;
	char msg[320];
	PGresult *r = NULL;
	int rc = -1;

	if (shopify_graphql(sh, M_UPDATE, rb->vars, &data, err) == -1)
		return -1;
	pu = json_object_get(data, "productUpdate");
	if (shopify_user_error(pu, msg, sizeof(msg))) {
		rb_err_set(err, 422, "shopify_refused", "Shopify refused the "
		    "old copy: %s", msg);
		goto out;
	}
	if (!json_is_object(json_object_get(pu, "product"))) {
		rb_err_set(err, 502, "product_gone", "Shopify did not confirm "
		    "the update (was the product deleted?).");
		goto out;
	}
	if ((r = db_query(db, "UPDATE public.product_optimizations SET "
	    "rolled_back_at = now() WHERE id = $1::uuid AND rolled_back_at "
	    "IS NULL RETURNING 1", 1, p, err)) == NULL)
		goto out;
	if (PQntuples(r) != 1) {
		rb_err_set(err, 409, "already_rolled_back", "Optimization %s "
		    "was rolled back by someone else meanwhile.", rb->id);
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	json_decref(data);
	return rc;
}

void
optimize_rollback_free(struct optimize_rollback *rb)
{
	json_decref(rb->vars);
	rb->vars = NULL;
}
