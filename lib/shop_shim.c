/* shop_shim.c - INTERIM, see shop_shim.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "shop_shim.h"
#include "util.h"

int
shop_store_install(struct db *db, const struct rb_config *cfg,
    const char *user_id, const char *domain, const struct shop_grant *g,
    char shop_id[37], struct rb_err *err)
{
	const char *p[3];
	char aad[96], *sealed = NULL;
	PGresult *res = NULL;

	shop_id[0] = '\0';
	if (db_begin(db, err) == -1)
		return -1;
	p[0] = domain;
	if ((res = db_query(db, "SELECT id, user_id FROM shops WHERE "
	    "shop_domain = $1 FOR UPDATE", 1, p, err)) == NULL)
		goto fail;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1),
	    user_id) != 0) {
		rb_err_set(err, 409, "shop_taken", "This shop is already "
		    "connected to another ReBoss account; the shop's owner "
		    "must remove it there first, or contact support.");
		goto fail;
	}
	if (PQntuples(res) == 1)
		rb_strlcpy(shop_id, PQgetvalue(res, 0, 0), 37);
	else if (rb_uuid_v4(shop_id) == -1) {
		rb_err_set(err, 500, "internal_error", "No shop id.");
		goto fail;
	}
	PQclear(res);
	res = NULL;
	(void)snprintf(aad, sizeof(aad), "shops.access_token:%s", shop_id);
	if (crypto_seal(cfg->token_key, aad, g->access_token,
	    strlen(g->access_token), &sealed, err) == -1)
		goto fail;
	p[0] = shop_id;
	p[1] = user_id;
	p[2] = domain;
	if (db_exec(db, "INSERT INTO shops (id, user_id, shop_domain, "
	    "connection_status, last_connected_at) VALUES ($1, $2, $3, "
	    "'connected', now()) ON CONFLICT (id) DO UPDATE SET "
	    "connection_status = 'connected', last_connected_at = now()", 3, p,
	    err) == -1)
		goto fail;
	p[1] = sealed;
	if (db_exec(db, "UPDATE shops SET access_token = $2 WHERE id = $1", 2,
	    p, err) == -1 || db_commit(db, err) == -1)
		goto fail;
	free(sealed);
	return 0;
fail:
	PQclear(res);
	db_rollback(db);
	free(sealed);
	return -1;
}

int
shop_mark_uninstalled(struct db *db, const char *domain, const char *reason,
    bool *found, struct rb_err *err)
{
	const char *p[1] = { domain };
	PGresult *res;

	(void)reason;
	if ((res = db_query(db, "UPDATE shops SET access_token = NULL, "
	    "connection_status = 'disconnected' WHERE shop_domain = $1 "
	    "RETURNING id", 1, p, err)) == NULL)
		return -1;
	*found = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}
