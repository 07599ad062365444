/*
 * db.h - PostgreSQL through libpq.  Parameterised statements only: every
 * statement goes through PQexecParams, values never enter SQL text.
 *
 * When the server went away, a statement outside a transaction reconnects
 * once and is sent again; inside a transaction the failure is returned and
 * the caller rolls back.  Failures: err->code "database_unavailable" (503)
 * for connection problems, "database_error" (500) otherwise; db->sqlstate
 * keeps the SQLSTATE of the last failure (e.g. "23505").
 */
#ifndef RB_DB_H
#define RB_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "rb.h"

struct db {
	PGconn	*conn;
	char	*conninfo;
	bool	 in_tx;
	char	 sqlstate[6];
};

int	db_connect(struct db *db, const char *conninfo, struct rb_err *err)
	    RB_WUR;
void	db_close(struct db *db);

/* Result with PGRES_TUPLES_OK or PGRES_COMMAND_OK, else NULL and err.
 * Caller PQclear()s.  params may hold NULL for SQL NULL. */
PGresult *db_query(struct db *db, const char *sql, int nparams,
	    const char *const *params, struct rb_err *err) RB_WUR;
/* The same, result discarded. */
int	db_exec(struct db *db, const char *sql, int nparams,
	    const char *const *params, struct rb_err *err) RB_WUR;

int	db_begin(struct db *db, struct rb_err *err) RB_WUR;
int	db_commit(struct db *db, struct rb_err *err) RB_WUR;
void	db_rollback(struct db *db);
/* "SELECT 1", reconnecting when needed. */
int	db_ping(struct db *db, struct rb_err *err) RB_WUR;

#endif
