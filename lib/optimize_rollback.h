/*
 * optimize_rollback.h - undo one product_optimize rewrite: write the stored
 * "before" of the fields it rewrote back to Shopify (productUpdate) and set
 * product_optimizations.rolled_back_at.  The one code path of "rebossctl
 * rollback" (the operator) and POST /api/shops/{id}/rollback (the owner).
 * Owned by product_optimize.
 *
 *   optimize_rollback_load()   the row, checked: 404 optimization_not_found
 *                              (none, or not of shop_id when given), 409
 *                              optimization_failed (it wrote nothing), 409
 *                              already_rolled_back
 *   (the caller opens the shop's Shopify client: its own limits)
 *   optimize_rollback_apply()  productUpdate; 422 shopify_refused with
 *                              Shopify's words, 502 product_gone when
 *                              Shopify confirms no product; then
 *                              rolled_back_at, only if still unset (409
 *                              already_rolled_back: another rollback won)
 */
#ifndef RB_OPTIMIZE_ROLLBACK_H
#define RB_OPTIMIZE_ROLLBACK_H

#include <jansson.h>

#include "rb.h"
#include "shopify.h"

struct db;

struct optimize_rollback {
	char	 id[37];
	char	 shop_id[37];
	char	 domain[SHOPIFY_DOMAIN_MAX];	/* normalized */
	char	 gid[64];			/* gid://shopify/Product/N */
	json_t	*vars;				/* productUpdate's variables */
};

int	optimize_rollback_load(struct db *db, const char *id,
	    const char *shop_id, struct optimize_rollback *rb,
	    struct rb_err *err) RB_WUR;
int	optimize_rollback_apply(struct db *db, struct shopify *sh,
	    struct optimize_rollback *rb, struct rb_err *err) RB_WUR;
void	optimize_rollback_free(struct optimize_rollback *rb);

#endif
