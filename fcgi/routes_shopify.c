/*
 * routes_shopify.c - POST /api/shopify/test-connection and
 * POST /api/shopify/get-collections (both need auth).
 *
 * Field validation (validate.h) has already run: shop_domain is the
 * normalized "*.myshopify.com" form and access_token has the token shape.
 * Tokens are wiped after use: field values by request.c, the stored token
 * here.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "crypto.h"
#include "log.h"
#include "shop.h"
#include "shopify.h"
#include "util.h"

/* ---- POST /api/shopify/test-connection {shop_domain, access_token} ---- */

enum { TC_DOMAIN, TC_TOKEN };
static const struct field_spec test_connection_fields[] = {
	[TC_DOMAIN] = { .name = "shop_domain", .type = FIELD_SHOP_DOMAIN,
	    .flags = FIELD_REQUIRED },
	[TC_TOKEN] = { .name = "access_token", .type = FIELD_SHOPIFY_TOKEN,
	    .flags = FIELD_REQUIRED },
};
const struct api_body body_shopify_test_connection = {
	test_connection_fields, RB_NELEM(test_connection_fields)
};

#define API_SHOPIFY_TIMEOUT_MS		15000L
#define API_SHOPIFY_ATTEMPTS		2
#define API_SHOPIFY_THROTTLE_RETRIES	4

/* A request must not wait on Shopify as long as a job may. */
static void
api_shopify_limits(struct api_ctx *ctx, struct shopify *s)
{
	s->stop = ctx->stop;
	s->timeout_ms = API_SHOPIFY_TIMEOUT_MS;
	s->max_attempts = API_SHOPIFY_ATTEMPTS;
	s->max_throttle_retries = API_SHOPIFY_THROTTLE_RETRIES;
}

int
api_shopify_open(struct api_ctx *ctx, struct shopify *s, const char *domain,
    const char *token, struct rb_err *err)
{
	if (shopify_open(s, ctx->http, ctx->cfg, domain, token, err) == -1)
		return -1;
	api_shopify_limits(ctx, s);
	return 0;
}

int
api_shopify_open_shop(struct api_ctx *ctx, struct shopify *s,
    const char *shop_id, struct rb_err *err)
{
	struct shop sh;
	struct db *db;

	if ((db = api_db(ctx, err)) == NULL ||
	    shop_load(db, shop_id, ctx->user_id, &sh, err) == -1)
		return -1;
	if (shop_client_open(s, db, ctx->cfg, ctx->http, shop_id, 0,
	    err) == -1) {
		if (strcmp(err->code, "shop_not_connected") == 0)
			err->status = 409;
		return -1;
	}
	api_shopify_limits(ctx, s);
	return 0;
}

int
h_shopify_test_connection(struct api_ctx *ctx, struct rb_err *err)
{
	struct shopify s;
	json_t *shop = NULL;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (api_shopify_open(ctx, &s, ctx->fields[TC_DOMAIN].str,
	    ctx->fields[TC_TOKEN].str, err) == -1)
		goto fail;
	if (shopify_get_shop(&s, &shop, err) == -1)
		goto fail;
	rc = api_reply(ctx, 200, json_pack("{s:b,s:o}", "success", 1,
	    "shop", shop), err);
	shop = NULL;		/* json_pack "o" took it, even on failure */
fail:
	shopify_close(&s);
	json_decref(shop);
	return rc;
}

/* ---- POST /api/shopify/get-collections ----------------------------------
 * {shop_id}: a shop of the caller, token from the database; or
 * {shop_domain, access_token}: a shop not stored yet.  Exactly one form. */

enum { GC_SHOP_ID, GC_DOMAIN, GC_TOKEN };
static const struct field_spec get_collections_fields[] = {
	[GC_SHOP_ID] = { .name = "shop_id", .type = FIELD_UUID },
	[GC_DOMAIN] = { .name = "shop_domain", .type = FIELD_SHOP_DOMAIN },
	[GC_TOKEN] = { .name = "access_token", .type = FIELD_SHOPIFY_TOKEN },
};
const struct api_body body_shopify_get_collections = {
	get_collections_fields, RB_NELEM(get_collections_fields)
};

/* Which form the body took; 400 naming what is missing or extra. */
static int
collections_form(const struct api_ctx *ctx, bool *by_id, struct rb_err *err)
{
	bool id = ctx->fields[GC_SHOP_ID].present;
	bool dom = ctx->fields[GC_DOMAIN].present;
	bool tok = ctx->fields[GC_TOKEN].present;

	*by_id = id;
	if (id && (dom || tok))
		return rb_err_set(err, 400, "invalid_field",
		    "Send either shop_id, or shop_domain with access_token, "
		    "not both: remove %s.", dom && tok ?
		    "shop_domain and access_token" : dom ? "shop_domain" :
		    "access_token");
	if (!id && !dom && !tok)
		return rb_err_set(err, 400, "missing_field",
		    "shop_id is required (or shop_domain with access_token).");
	if (!id && !tok)
		return rb_err_set(err, 400, "missing_field",
		    "access_token is required with shop_domain.");
	if (!id && !dom)
		return rb_err_set(err, 400, "missing_field",
		    "shop_domain is required with access_token.");
	return 0;
}

int
h_shopify_get_collections(struct api_ctx *ctx, struct rb_err *err)
{
	struct shopify s;
	json_t *cols = NULL;
	bool by_id;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (collections_form(ctx, &by_id, err) == -1)
		goto fail;
	if (by_id) {
		if (api_shopify_open_shop(ctx, &s, ctx->fields[GC_SHOP_ID].str,
		    err) == -1)
			goto fail;
	} else if (api_shopify_open(ctx, &s, ctx->fields[GC_DOMAIN].str,
	    ctx->fields[GC_TOKEN].str, err) == -1)
		goto fail;
	if (shopify_get_collections(&s, &cols, err) == -1)
		goto fail;
	rc = api_reply(ctx, 200, json_pack("{s:b,s:o}", "success", 1,
	    "collections", cols), err);
	cols = NULL;
fail:
	shopify_close(&s);
	json_decref(cols);
	return rc;
}
