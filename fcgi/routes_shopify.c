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

int
api_shopify_open(struct api_ctx *ctx, struct shopify *s, const char *domain,
    const char *token, struct rb_err *err)
{
	if (shopify_open(s, ctx->http, ctx->cfg, domain, token, err) == -1)
		return -1;
	s->stop = ctx->stop;
	s->timeout_ms = API_SHOPIFY_TIMEOUT_MS;
	s->max_attempts = API_SHOPIFY_ATTEMPTS;
	s->max_throttle_retries = API_SHOPIFY_THROTTLE_RETRIES;
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

/* Loads the caller's shop: normalized domain and the plain token (owned,
 * wipe with crypto_free_secret).  A plain stored token is sealed in place. */
static int
load_shop(struct api_ctx *ctx, const char *shop_id,
    char domain[SHOPIFY_DOMAIN_MAX], char **token, struct rb_err *err)
{
	const char *params[3];
	PGresult *res = NULL;
	struct db *db;
	struct rb_err serr;
	char aad[96], *stored, *sealed = NULL;
	size_t len;
	int rc = -1;

	*token = NULL;
	if ((db = api_db(ctx, err)) == NULL)
		return -1;
	params[0] = shop_id;
	params[1] = ctx->user_id;
	if ((res = db_query(db, "SELECT shop_domain, access_token FROM shops "
	    "WHERE id = $1 AND user_id = $2", 2, params, err)) == NULL)
		goto fail;
	/* Another user's shop answers exactly like no shop. */
	if (PQntuples(res) != 1) {
		rb_err_set(err, 404, "shop_not_found",
		    "No shop with this shop_id belongs to your account.");
		goto fail;
	}
	if (shopify_normalize_domain(PQgetvalue(res, 0, 0), domain,
	    err) == -1) {
		rb_err_set(err, 409, "invalid_shop_domain",
		    "The stored domain of this shop is not a valid "
		    "*.myshopify.com domain; reconnect the shop.");
		goto fail;
	}
	stored = PQgetvalue(res, 0, 1);
	if (PQgetisnull(res, 0, 1) || stored[0] == '\0') {
		rb_err_set(err, 409, "shop_token_missing",
		    "This shop has no stored access token; reconnect it.");
		goto fail;
	}
	if (snprintf(aad, sizeof(aad), "shops.access_token:%s", shop_id) >=
	    (int)sizeof(aad)) {
		rb_err_set(err, 500, "internal_error", "Shop id too long.");
		goto fail;
	}
	if (crypto_is_sealed(stored)) {
		if (crypto_open(ctx->cfg->token_key, aad, stored, token, &len,
		    err) == -1) {
			log_err("get-collections: the stored token of shop %s "
			    "does not open: %s", shop_id, err->msg);
			rb_err_set(err, 500, "token_unreadable",
			    "The shop's stored access token cannot be "
			    "decrypted; the operator must check token_key, or "
			    "reconnect the shop.");
			goto fail;
		}
	} else {
		/* Written plain (by the dashboard): use it, and seal it in
		 * place unless someone changed it meanwhile. */
		if ((*token = strdup(stored)) == NULL) {
			rb_err_oom(err);
			goto fail;
		}
		rb_err_clear(&serr);
		if (crypto_seal(ctx->cfg->token_key, aad, *token,
		    strlen(*token), &sealed, &serr) == -1) {
			log_warn("get-collections: cannot seal the token of "
			    "shop %s: %s", shop_id, serr.msg);
		} else {
			params[0] = sealed;
			params[1] = shop_id;
			params[2] = stored;
			if (db_exec(db, "UPDATE shops SET access_token = $1 "
			    "WHERE id = $2 AND access_token = $3", 3, params,
			    &serr) == -1)
				log_warn("get-collections: cannot store the "
				    "sealed token of shop %s: %s", shop_id,
				    serr.msg);
			else
				log_notice("get-collections: sealed the "
				    "plain stored token of shop %s", shop_id);
		}
	}
	if (validate_shopify_token("the stored access token", *token,
	    err) == -1) {
		rb_err_set(err, 409, "invalid_access_token",
		    "The shop's stored access token is not a valid Shopify "
		    "token; reconnect the shop.");
		goto fail;
	}
	rc = 0;
fail:
	if (rc == -1) {
		crypto_free_secret(*token);
		*token = NULL;
	}
	crypto_free_secret(sealed);
	if (res != NULL) {
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
			stored = PQgetvalue(res, 0, 1);
			OPENSSL_cleanse(stored, strlen(stored));
		}
		PQclear(res);
	}
	return rc;
}

int
h_shopify_get_collections(struct api_ctx *ctx, struct rb_err *err)
{
	struct shopify s;
	char domain[SHOPIFY_DOMAIN_MAX];
	char *token = NULL;
	json_t *cols = NULL;
	bool by_id;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (collections_form(ctx, &by_id, err) == -1)
		goto fail;
	if (by_id) {
		if (load_shop(ctx, ctx->fields[GC_SHOP_ID].str, domain, &token,
		    err) == -1)
			goto fail;
	} else {
		rb_strlcpy(domain, ctx->fields[GC_DOMAIN].str, sizeof(domain));
	}
	if (api_shopify_open(ctx, &s, domain,
	    by_id ? token : ctx->fields[GC_TOKEN].str, err) == -1)
		goto fail;
	crypto_free_secret(token);	/* shopify_open copied it */
	token = NULL;
	if (shopify_get_collections(&s, &cols, err) == -1)
		goto fail;
	rc = api_reply(ctx, 200, json_pack("{s:b,s:o}", "success", 1,
	    "collections", cols), err);
	cols = NULL;
fail:
	shopify_close(&s);
	crypto_free_secret(token);
	json_decref(cols);
	return rc;
}
