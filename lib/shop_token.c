/* shop_token.c - a shop's Shopify access token, opened (see shop_token.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "shop_token.h"

int
shop_token_open(struct db *db, const unsigned char key[32],
    const char *shop_id, bool seal_plain, char **token, struct rb_err *err)
{
	const char *p[3];
	char aad[96], *sealed = NULL;
	PGresult *r;
	size_t len;
	int n;

	*token = NULL;
	n = snprintf(aad, sizeof(aad), "shops.access_token:%s", shop_id);
	if (n < 0 || (size_t)n >= sizeof(aad))
		return rb_err_set(err, 500, "internal_error", "Bad shop id.");
	p[0] = shop_id;
	r = db_query(db, "SELECT access_token FROM public.shops WHERE id = $1",
	    1, p, err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) ||
	    *PQgetvalue(r, 0, 0) == '\0') {
		PQclear(r);
		return rb_err_set(err, 400, "shop_token_missing",
		    "The shop has no access token; connect it again in the "
		    "dashboard.");
	}
	if (crypto_is_sealed(PQgetvalue(r, 0, 0))) {
		n = crypto_open(key, aad, PQgetvalue(r, 0, 0), token, &len,
		    err);
		PQclear(r);
		return n;
	}
	/* A plain token (written by the dashboard): use it, seal it. */
	*token = strdup(PQgetvalue(r, 0, 0));
	explicit_bzero(PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)));
	PQclear(r);
	if (*token == NULL)
		return rb_err_oom(err);
	if (!seal_plain)
		return 0;
	if (crypto_seal(key, aad, *token, strlen(*token), &sealed, err) == -1)
		goto fail;
	p[1] = sealed;
	p[2] = *token;
	if (db_exec(db, "UPDATE public.shops SET access_token = $2 "
	    "WHERE id = $1 AND access_token = $3", 3, p, err) == -1)
		goto fail;
	free(sealed);
	return 0;
fail:
	free(sealed);
	crypto_free_secret(*token);
	*token = NULL;
	return -1;
}
