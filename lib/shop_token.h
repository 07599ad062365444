/*
 * shop_token.h - the one way a job reads a shop's Shopify access token.
 *
 * shops.access_token is sealed by the backend (aad
 * "shops.access_token:<id>"); the dashboard may have written a plain one.
 * A plain token is used and, unless the caller says not to (dry runs),
 * sealed in place: UPDATE ... WHERE the column still holds that plain value,
 * so a concurrent writer wins.  The caller frees *token with
 * crypto_free_secret().
 */
#ifndef RB_SHOP_TOKEN_H
#define RB_SHOP_TOKEN_H

#include <stdbool.h>

#include "rb.h"

struct db;

int	shop_token_open(struct db *db, const unsigned char key[32],
	    const char *shop_id, bool seal_plain, char **token,
	    struct rb_err *err) RB_WUR;

#endif
