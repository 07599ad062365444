/*
 * db.c - PostgreSQL through libpq (see db.h).
 *
 * Every statement goes through PQexecParams in text format, even without
 * parameters: the extended protocol sends one statement only, so a value
 * can never turn into a second statement.  (lib/migrate.c is the one place
 * that uses PQexec, for our own migration files.)
 *
 * Error messages never carry the conninfo: it may hold a password.  libpq's
 * own connection messages name host, port and user but not the password;
 * as a second guard any occurrence of the password is blanked out.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define DB_CONNECT_TIMEOUT	"10"	/* seconds, unless the conninfo says */

static void
db_cleanse_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* The password of a conninfo, or NULL; caller frees with db_cleanse_free. */
static char *
conninfo_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *pw = NULL;

	if ((opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return NULL;
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0') {
			pw = strdup(o->val);
			break;
		}
	}
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			OPENSSL_cleanse(o->val, strlen(o->val));
	PQconninfoFree(opts);
	return pw;
}

/*
 * First line of a libpq message into out, with the password (if any)
 * replaced by "***" and control characters dropped.
 */
static void
first_line(const char *conninfo, const char *msg, char *out, size_t outsz)
{
	char *pw = NULL, *hit;
	size_t n = 0, pwlen;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (msg == NULL || msg[0] == '\0') {
		rb_strlcpy(out, "no message from libpq", outsz);
		return;
	}
	while (msg[n] != '\0' && msg[n] != '\n' && n < outsz - 1) {
		unsigned char c = (unsigned char)msg[n];

		out[n] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		n++;
	}
	out[n] = '\0';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	if (conninfo != NULL && (pw = conninfo_password(conninfo)) != NULL) {
		pwlen = strlen(pw);
		while ((hit = strstr(out, pw)) != NULL)
			memset(hit, '*', pwlen);
		db_cleanse_free(pw);
	}
}

static bool
is_unavailable_state(const char *state)
{
	/* Class 08: connection exception (but 08P01, a protocol violation,
	 * is our bug, not an outage); 57P01-57P03: the server is shutting
	 * down or starting; 53300: too many connections. */
	return (strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
	    strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
	    strcmp(state, "53300") == 0;
}

/*
 * Server notices and warnings go to the log (libpq would print them on
 * stderr): WARNING as a warning, the rest (NOTICE "... already exists,
 * skipping" and the like) at debug level.
 */
static void
notice_to_log(void *arg, const PGresult *res)
{
	const char *sev, *msg;

	(void)arg;
	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		return;
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		log_warn("database: %s", msg);
	else
		log_debug("database: %s", msg);
}

static int
open_conn(struct db *db, struct rb_err *err)
{
	/* Later keywords override earlier ones: connect_timeout is a default
	 * the conninfo may override; client_encoding is always UTF8. */
	const char *const keys[] = { "connect_timeout", "dbname",
	    "client_encoding", NULL };
	const char *vals[] = { DB_CONNECT_TIMEOUT, db->conninfo, "UTF8", NULL };
	char line[400];
	PQconninfoOption *parsed;

	if ((parsed = PQconninfoParse(db->conninfo, NULL)) == NULL)
		/* libpq's parse message may quote the conninfo: not shown. */
		return rb_err_set(err, 500, "database_unavailable",
		    "database_url is not a valid libpq connection string or "
		    "URI.");
	PQconninfoFree(parsed);
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL)
		return rb_err_set(err, 503, "database_unavailable",
		    "Cannot connect to the database: out of memory.");
	if (PQstatus(db->conn) != CONNECTION_OK) {
		first_line(db->conninfo, PQerrorMessage(db->conn), line,
		    sizeof(line));
		PQfinish(db->conn);
		db->conn = NULL;
		rb_strlcpy(db->sqlstate, "08001", sizeof(db->sqlstate));
		return rb_err_set(err, 503, "database_unavailable",
		    "Cannot connect to the database: %s.", line);
	}
	(void)PQsetNoticeReceiver(db->conn, notice_to_log, NULL);
	db->in_tx = false;
	return 0;
}

int
db_connect(struct db *db, const char *conninfo, struct rb_err *err)
{
	memset(db, 0, sizeof(*db));
	if (conninfo == NULL || conninfo[0] == '\0')
		return rb_err_set(err, 500, "database_unavailable",
		    "No database_url is configured.");
	if ((db->conninfo = strdup(conninfo)) == NULL)
		return rb_err_oom(err);
	if (open_conn(db, err) == -1) {
		db_cleanse_free(db->conninfo);
		db->conninfo = NULL;
		return -1;
	}
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db_cleanse_free(db->conninfo);
	memset(db, 0, sizeof(*db));
}

/* Brings a lost connection back; only outside a transaction. */
static int
reconnect(struct db *db, struct rb_err *err)
{
	if (db->conninfo == NULL)
		return rb_err_set(err, 503, "database_unavailable",
		    "Not connected to the database.");
	if (db->conn != NULL) {
		PQreset(db->conn);	/* keeps the notice receiver */
		if (PQstatus(db->conn) == CONNECTION_OK) {
			db->in_tx = false;
			return 0;
		}
	}
	return open_conn(db, err);
}

static void
fail_from_result(struct db *db, const PGresult *res, struct rb_err *err)
{
	const char *state = NULL, *msg = NULL;
	char line[400];

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		rb_strlcpy(db->sqlstate, state != NULL ? state : "08006",
		    sizeof(db->sqlstate));
		first_line(db->conninfo, msg != NULL ? msg :
		    (db->conn != NULL ? PQerrorMessage(db->conn) : NULL),
		    line, sizeof(line));
		rb_err_set(err, 503, "database_unavailable",
		    "The database connection was lost: %s.", line);
		return;
	}
	if (res != NULL && PQresultStatus(res) == PGRES_EMPTY_QUERY) {
		rb_strlcpy(db->sqlstate, "42601", sizeof(db->sqlstate));
		rb_err_set(err, 500, "database_error",
		    "Database error: empty statement.");
		return;
	}
	if (res != NULL && (PQresultStatus(res) == PGRES_COPY_IN ||
	    PQresultStatus(res) == PGRES_COPY_OUT ||
	    PQresultStatus(res) == PGRES_COPY_BOTH)) {
		rb_strlcpy(db->sqlstate, "0A000", sizeof(db->sqlstate));
		rb_err_set(err, 500, "database_error",
		    "Database error: COPY is not supported here.");
		return;
	}
	rb_strlcpy(db->sqlstate, state != NULL ? state : "XX000",
	    sizeof(db->sqlstate));
	first_line(db->conninfo, msg != NULL ? msg :
	    PQerrorMessage(db->conn), line, sizeof(line));
	if (is_unavailable_state(db->sqlstate))
		rb_err_set(err, 503, "database_unavailable",
		    "The database is unavailable: %s.", line);
	else
		rb_err_set(err, 500, "database_error",
		    "Database error (SQLSTATE %s): %s.", db->sqlstate, line);
}

/* A connection to send on: re-opened when lost, but not in a
 * transaction (its work is gone: the caller must start over). */
static int
usable(struct db *db, struct rb_err *err)
{
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_BAD)
		return 0;
	if (db->in_tx) {
		db->in_tx = false;
		rb_strlcpy(db->sqlstate, "08006", sizeof(db->sqlstate));
		return rb_err_set(err, 503, "database_unavailable",
		    "The database connection was lost during a "
		    "transaction.");
	}
	return reconnect(db, err);
}

/*
 * A statement that failed because the connection was lost is sent once
 * more on a fresh connection, but only outside a transaction: inside one
 * the work done so far is gone and the caller must start over.
 */
PGresult *
db_query(struct db *db, const char *sql, int nparams,
    const char *const *params, struct rb_err *err)
{
	PGresult *res = NULL;
	ExecStatusType st;
	int attempt;

	if (db_wait(db, err) == -1)
		return NULL;
	db->sqlstate[0] = '\0';
	if (nparams < 0 || (nparams > 0 && params == NULL)) {
		rb_err_set(err, 500, "database_error",
		    "Database error: bad parameter list.");
		return NULL;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		if (usable(db, err) == -1)
			return NULL;
		res = PQexecParams(db->conn, sql, nparams, NULL, params,
		    NULL, NULL, 0);
		st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return res;
		if (PQstatus(db->conn) == CONNECTION_BAD && !db->in_tx &&
		    attempt == 0) {
			PQclear(res);
			res = NULL;
			continue;
		}
		break;
	}
	fail_from_result(db, res, err);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		db->in_tx = false;
	PQclear(res);
	return NULL;
}

int
db_exec(struct db *db, const char *sql, int nparams,
    const char *const *params, struct rb_err *err)
{
	PGresult *res;

	if ((res = db_query(db, sql, nparams, params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_send(struct db *db, const char *sql, int nparams,
    const char *const *params, struct rb_err *err)
{
	int attempt;

	if (db_wait(db, err) == -1)
		return -1;
	db->sqlstate[0] = '\0';
	if (nparams < 0 || (nparams > 0 && params == NULL))
		return rb_err_set(err, 500, "database_error",
		    "Database error: bad parameter list.");
	for (attempt = 0; attempt < 2; attempt++) {
		if (usable(db, err) == -1)
			return -1;
		if (PQsendQueryParams(db->conn, sql, nparams, NULL, params,
		    NULL, NULL, 0) == 1) {
			db->pending = true;
			db->pend_sql = sql;
			db->pend_n = nparams;
			db->pend_params = params;
			return 0;
		}
		if (PQstatus(db->conn) != CONNECTION_BAD || db->in_tx)
			break;
	}
	fail_from_result(db, NULL, err);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		db->in_tx = false;
	return -1;
}

int
db_wait(struct db *db, struct rb_err *err)
{
	PGresult *res, *bad = NULL;
	ExecStatusType st;
	bool answered = false;

	if (!db->pending)
		return 0;
	db->pending = false;
	while ((res = PQgetResult(db->conn)) != NULL) {
		st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			answered = true;
			PQclear(res);
		} else if (bad == NULL)
			bad = res;
		else
			PQclear(res);
	}
	if (!answered && PQstatus(db->conn) == CONNECTION_BAD &&
	    !db->in_tx) {
		/* Lost before the answer: sent once more, as db_query does. */
		PQclear(bad);
		return db_exec(db, db->pend_sql, db->pend_n, db->pend_params,
		    err);
	}
	if (bad == NULL && answered)
		return 0;
	fail_from_result(db, bad, err);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		db->in_tx = false;
	PQclear(bad);
	return -1;
}

int
db_begin(struct db *db, struct rb_err *err)
{
	if (db->in_tx)
		return rb_err_set(err, 500, "database_error",
		    "Database error: a transaction is already open.");
	if (db_exec(db, "BEGIN", 0, NULL, err) == -1)
		return -1;
	db->in_tx = true;
	return 0;
}

int
db_commit(struct db *db, struct rb_err *err)
{
	PGresult *res;
	bool rolled_back;

	if (!db->in_tx)
		return rb_err_set(err, 500, "database_error",
		    "Database error: no transaction to commit.");
	res = db_query(db, "COMMIT", 0, NULL, err);
	db->in_tx = false;
	if (res == NULL)
		return -1;
	/* COMMIT of a failed transaction "succeeds" with tag ROLLBACK. */
	rolled_back = strcmp(PQcmdStatus(res), "COMMIT") != 0;
	PQclear(res);
	if (rolled_back) {
		rb_strlcpy(db->sqlstate, "40000", sizeof(db->sqlstate));
		return rb_err_set(err, 500, "database_error",
		    "Database error: the transaction had failed and was "
		    "rolled back.");
	}
	return 0;
}

void
db_rollback(struct db *db)
{
	PGresult *res;

	if (db == NULL || !db->in_tx)
		return;
	if (db->pending) {
		struct rb_err ignored;

		if (db_wait(db, &ignored) == -1)
			log_debug("rolling back after: %s", ignored.msg);
	}
	db->in_tx = false;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	res = PQexecParams(db->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(res);
}

int
db_ping(struct db *db, struct rb_err *err)
{
	return db_exec(db, "SELECT 1", 0, NULL, err);
}

/*
 * What the server sent while the connection was idle, read without
 * blocking.  1: open and quiet; 0: gone (EOF, error, bad status); -1: data
 * keeps coming, or poll() failed: only a round trip can tell.  A stopping
 * server's FATAL message and its EOF may need two reads, hence the loop.
 */
static int
idle_conn_state(PGconn *conn)
{
	struct pollfd pfd;
	PGnotify *n;
	int i, rc;

	for (i = 0; i < 4; i++) {
		if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0)
			return 0;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, 0);
		if (rc == 0)
			return 1;
		if (rc < 0)
			return errno == EINTR ? -1 : 0;
		if (pfd.revents & POLLNVAL)
			return 0;
		/* An ErrorResponse while idle goes to the notice receiver;
		 * EOF makes PQconsumeInput fail and the status BAD. */
		if (PQconsumeInput(conn) == 0)
			return 0;
		while ((n = PQnotifies(conn)) != NULL)
			PQfreemem(n);
	}
	return PQstatus(conn) == CONNECTION_OK ? -1 : 0;
}

int
db_alive(struct db *db, int64_t *verified_ms, int64_t max_age_ms,
    struct rb_err *err)
{
	int64_t now = rb_mono_ms();
	int state = 0;

	if (db->in_tx)
		goto ping;
	db->sqlstate[0] = '\0';
	if (db->conn != NULL)
		state = idle_conn_state(db->conn);
	if (state == 0) {
		/* A fresh login is a verified round trip. */
		*verified_ms = 0;
		if (reconnect(db, err) == -1)
			return -1;
		*verified_ms = rb_mono_ms();
		return 0;
	}
	if (state == 1 && *verified_ms != 0 && now >= *verified_ms &&
	    now - *verified_ms < max_age_ms)
		return 0;
ping:
	*verified_ms = 0;
	if (db_ping(db, err) == -1)
		return -1;
	*verified_ms = rb_mono_ms();
	return 0;
}
