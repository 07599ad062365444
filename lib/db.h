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
#include <stdint.h>

#include "rb.h"

struct db {
	PGconn	*conn;
	char	*conninfo;
	bool	 in_tx;
	char	 sqlstate[6];
	/* db_send: the statement in flight, kept to send it again */
	bool			 pending;
	const char		*pend_sql;
	int			 pend_n;
	const char *const	*pend_params;
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

/*
 * db_exec in two halves, so that the server works while the caller waits
 * for something else (a job writes one page while it reads the next from
 * Shopify).  db_send sends and returns; db_wait collects the outcome,
 * with db_exec's errors and its one resend on a lost connection outside a
 * transaction.  sql and params (the array and the strings) must stay valid
 * until db_wait returns.  One statement at a time: db_send, db_query and
 * db_exec first wait for the one in flight (its failure is theirs).
 * db_wait without a statement in flight returns 0.
 */
int	db_send(struct db *db, const char *sql, int nparams,
	    const char *const *params, struct rb_err *err) RB_WUR;
int	db_wait(struct db *db, struct rb_err *err) RB_WUR;

int	db_begin(struct db *db, struct rb_err *err) RB_WUR;
int	db_commit(struct db *db, struct rb_err *err) RB_WUR;
void	db_rollback(struct db *db);
/* "SELECT 1", reconnecting when needed. */
int	db_ping(struct db *db, struct rb_err *err) RB_WUR;
/*
 * A cheap health check of a long-lived connection (the API's health route,
 * on every request).  Without blocking it looks whether the server sent
 * something or closed the socket while we were idle: a stopped or
 * restarted server and a terminated backend send FATAL and close, so they
 * are seen at once, and the connection is re-opened (once, outside a
 * transaction; inside one this is db_ping).  "SELECT 1" is sent only when
 * the last verified round trip is max_age_ms or older: that catches a
 * server that keeps the socket open but no longer answers.  *verified_ms
 * is the rb_mono_ms() of that round trip (0: never); the caller keeps it
 * with the connection and sets it to 0 when it opens a new one.
 * Errors as db_ping ("database_unavailable", 503).
 */
int	db_alive(struct db *db, int64_t *verified_ms, int64_t max_age_ms,
	    struct rb_err *err) RB_WUR;

#endif
