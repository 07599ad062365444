/*
 * migrate.c - applies sql/NNN_name.sql in order, each once (see migrate.h).
 *
 * Ledger: public.reboss_migrations (version = file name without ".sql",
 * checksum = SHA-256 hex of the file, applied_at).  Every step runs under
 * pg_advisory_xact_lock(MIGRATE_LOCK_KEY), so two "rebossctl migrate" at
 * the same time (two hosts, a package upgrade and an operator) take turns
 * and each file is applied exactly once.  Each file is applied in its own
 * transaction together with its ledger row: a failing file leaves nothing
 * behind and is tried again next time.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "db.h"
#include "encode.h"
#include "migrate.h"
#include "util.h"

#define MIGRATE_FILE_MAX	(4u * 1024 * 1024)	/* one file, bytes */
#define MIGRATE_FILES_MAX	1000
#define MIGRATE_NAME_MAX	128
/* Any constant shared by every ReBoss version; "rebossmg" in ASCII. */
#define MIGRATE_LOCK_KEY	"8243120587090962279"

struct mfile {
	char	name[MIGRATE_NAME_MAX];		/* "001_core.sql" */
	char	version[MIGRATE_NAME_MAX];	/* "001_core" */
};

struct mlist {
	struct mfile	*v;
	size_t		 n;
};

/* ^[0-9]{3}_[a-z0-9_]+\.sql$ */
static bool
is_migration_name(const char *s)
{
	size_t len = strlen(s), i;

	if (len < 3 + 1 + 1 + 4 || len >= MIGRATE_NAME_MAX)
		return false;
	for (i = 0; i < 3; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[3] != '_' || strcmp(s + len - 4, ".sql") != 0)
		return false;
	for (i = 4; i < len - 4; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int
cmp_mfile(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->name,
	    ((const struct mfile *)b)->name);
}

static int
list_dir(const char *dir, struct mlist *l, struct rb_err *err)
{
	DIR *d;
	struct dirent *de;
	struct mfile *nv;
	size_t i, len;

	l->v = NULL;
	l->n = 0;
	if ((d = opendir(dir)) == NULL)
		return rb_err_set(err, 500, "migrations_unreadable",
		    "Cannot open the migrations directory %s: %s.", dir,
		    strerror(errno));
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!is_migration_name(de->d_name))
			continue;
		if (l->n >= MIGRATE_FILES_MAX) {
			rb_err_set(err, 500, "migrations_unreadable",
			    "%s holds more than %d migration files.", dir,
			    MIGRATE_FILES_MAX);
			goto fail;
		}
		if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL) {
			rb_err_oom(err);
			goto fail;
		}
		l->v = nv;
		len = strlen(de->d_name);	/* < MIGRATE_NAME_MAX */
		rb_strlcpy(l->v[l->n].name, de->d_name,
		    sizeof(l->v[l->n].name));
		memcpy(l->v[l->n].version, de->d_name, len - 4);
		l->v[l->n].version[len - 4] = '\0';
		l->n++;
		errno = 0;
	}
	if (errno != 0) {
		rb_err_set(err, 500, "migrations_unreadable",
		    "Cannot read the migrations directory %s: %s.", dir,
		    strerror(errno));
		goto fail;
	}
	closedir(d);
	d = NULL;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_mfile);
	for (i = 1; i < l->n; i++) {
		if (memcmp(l->v[i - 1].name, l->v[i].name, 3) == 0) {
			rb_err_set(err, 500, "migrations_conflict",
			    "%s and %s in %s share the number %.3s; each "
			    "migration needs its own number.", l->v[i - 1].name,
			    l->v[i].name, dir, l->v[i].name);
			goto fail;
		}
	}
	return 0;
fail:
	if (d != NULL)
		closedir(d);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	return -1;
}

static int
read_migration(const char *dir, const struct mfile *f, char **text,
    char hex[65], struct rb_err *err)
{
	char path[4096];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 0;
	int n;

	*text = NULL;
	n = snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return rb_err_set(err, 500, "migrations_unreadable",
		    "The path of migration %s is too long.", f->name);
	if (rb_read_file(path, MIGRATE_FILE_MAX, text, &len, err) == -1)
		return -1;
	if (strlen(*text) != len) {
		rb_err_set(err, 500, "migrations_unreadable",
		    "Migration %s contains a NUL byte.", path);
		goto fail;
	}
	if (EVP_Digest(*text, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		rb_err_set(err, 500, "migrations_unreadable",
		    "Cannot compute the SHA-256 of %s.", path);
		goto fail;
	}
	rb_hex_encode(md, mdlen, hex);
	return 0;
fail:
	free(*text);
	*text = NULL;
	return -1;
}

static int
lock_ledger(struct db *db, struct rb_err *err)
{
	const char *p[] = { MIGRATE_LOCK_KEY };

	return db_exec(db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p,
	    err);
}

/*
 * The ledger lives in public so Supabase's tooling sees it.  RLS on and no
 * policy, plus the REVOKE: on Supabase new tables in public are granted to
 * anon and authenticated by default privileges.
 */
static int
ensure_ledger(struct db *db, struct rb_err *err)
{
	if (db_exec(db,
	    "CREATE TABLE IF NOT EXISTS public.reboss_migrations ("
	    " version text PRIMARY KEY,"
	    " checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
	    err) == -1)
		return -1;
	if (db_exec(db, "ALTER TABLE public.reboss_migrations "
	    "ENABLE ROW LEVEL SECURITY", 0, NULL, err) == -1)
		return -1;
	return db_exec(db, "REVOKE ALL ON public.reboss_migrations FROM PUBLIC",
	    0, NULL, err);
}

/* NULL in *checksum when the version is not in the ledger. */
static int
ledger_checksum(struct db *db, const char *version, char out[65],
    bool *found, struct rb_err *err)
{
	const char *p[] = { version };
	PGresult *res;

	*found = false;
	out[0] = '\0';
	res = db_query(db, "SELECT checksum FROM public.reboss_migrations "
	    "WHERE version = $1", 1, p, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*found = true;
		rb_strlcpy(out, PQgetvalue(res, 0, 0), 65);
	}
	PQclear(res);
	return 0;
}

/* 1-based line of character position pos (PG_DIAG_STATEMENT_POSITION). */
static long
line_of(const char *text, const char *pos)
{
	long p, chars = 0, line = 1;
	const unsigned char *s = (const unsigned char *)text;

	if (pos == NULL || rb_parse_long(pos, 1, 1L << 30, &p) == -1)
		return 0;
	for (; *s != '\0'; s++) {
		if ((*s & 0xc0) == 0x80)
			continue;	/* UTF-8 continuation byte */
		if (++chars >= p)
			break;
		if (*s == '\n')
			line++;
	}
	return line;
}

/*
 * The file is sent with PQexec, the simple query protocol, because a
 * migration holds many statements (and DO blocks) and PQexecParams takes
 * exactly one.  This is the one allowed exception to "PQexecParams only"
 * (DEVELOPERS.md): the text is our own file from the package's sql/
 * directory, never user input, and no value is spliced into it.
 * A migration must not contain BEGIN/COMMIT: it runs inside ours.
 */
static int
run_file(struct db *db, const struct mfile *f, const char *text,
    struct rb_err *err)
{
	PGresult *res;
	ExecStatusType st;
	const char *msg, *state;
	long line;
	int rc = 0;

	res = PQexec(db->conn, text);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
	    st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return 0;
	}
	msg = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	line = res != NULL ? line_of(text,
	    PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION)) : 0;
	rb_strlcpy(db->sqlstate, state != NULL ? state : "XX000",
	    sizeof(db->sqlstate));
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		db->in_tx = false;
		rc = rb_err_set(err, 503, "database_unavailable",
		    "The database connection was lost while applying %s.",
		    f->name);
	} else if (line > 0) {
		rc = rb_err_set(err, 500, "migration_failed",
		    "Migration %s failed at line %ld (SQLSTATE %s): %s.",
		    f->name, line, db->sqlstate, msg != NULL ? msg : "error");
	} else {
		rc = rb_err_set(err, 500, "migration_failed",
		    "Migration %s failed (SQLSTATE %s): %s.", f->name,
		    db->sqlstate, msg != NULL ? msg : "error");
	}
	PQclear(res);
	return rc;
}

static int
apply_one(struct db *db, const char *dir, const struct mfile *f,
    bool *applied, struct rb_err *err)
{
	char *text = NULL, hex[65], have[65];
	const char *p[2];
	bool found;

	*applied = false;
	if (read_migration(dir, f, &text, hex, err) == -1)
		return -1;
	if (db_begin(db, err) == -1)
		goto fail;
	if (lock_ledger(db, err) == -1 ||
	    ledger_checksum(db, f->version, have, &found, err) == -1)
		goto fail;
	if (found) {
		/* Applied meanwhile by a concurrent migrate. */
		if (strcmp(have, hex) != 0) {
			rb_err_set(err, 500, "migration_changed",
			    "Migration %s/%s was changed after it was applied "
			    "(checksum %.12s... in the database, %.12s... on "
			    "disk); restore the file and put changes into a "
			    "new migration.", dir, f->name, have, hex);
			goto fail;
		}
		db_rollback(db);
		free(text);
		return 0;
	}
	/* Only warnings reach the operator, not "already exists, skipping". */
	if (db_exec(db, "SET LOCAL client_min_messages = warning", 0, NULL,
	    err) == -1)
		goto fail;
	if (run_file(db, f, text, err) == -1)
		goto fail;
	p[0] = f->version;
	p[1] = hex;
	if (db_exec(db, "INSERT INTO public.reboss_migrations (version, "
	    "checksum) VALUES ($1, $2)", 2, p, err) == -1)
		goto fail;
	if (db_commit(db, err) == -1)
		goto fail;
	*applied = true;
	free(text);
	return 0;
fail:
	db_rollback(db);
	free(text);
	return -1;
}

/*
 * Checks every file against the ledger before anything is applied, so a
 * changed file stops the run before later files go in.  Returns the number
 * of pending files, or -1.  want_ledger creates the ledger when missing.
 */
static int
check_all(struct db *db, const char *dir, const struct mlist *l,
    bool want_ledger, struct rb_err *err)
{
	PGresult *res = NULL;
	char *text = NULL, hex[65];
	size_t i;
	int r, pending = 0;
	bool exists;

	if (db_begin(db, err) == -1)
		return -1;
	if (lock_ledger(db, err) == -1)
		goto fail;
	if (want_ledger && ensure_ledger(db, err) == -1)
		goto fail;
	res = db_query(db, "SELECT to_regclass('public.reboss_migrations') "
	    "IS NOT NULL", 0, NULL, err);
	if (res == NULL)
		goto fail;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	res = NULL;
	if (!exists) {
		db_rollback(db);
		return (int)l->n;
	}
	res = db_query(db, "SELECT version, checksum FROM "
	    "public.reboss_migrations", 0, NULL, err);
	if (res == NULL)
		goto fail;
	for (i = 0; i < l->n; i++) {
		const char *have = NULL;

		for (r = 0; r < PQntuples(res); r++) {
			if (strcmp(PQgetvalue(res, r, 0), l->v[i].version)
			    == 0) {
				have = PQgetvalue(res, r, 1);
				break;
			}
		}
		if (have == NULL) {
			pending++;
			continue;
		}
		if (read_migration(dir, &l->v[i], &text, hex, err) == -1)
			goto fail;
		free(text);
		text = NULL;
		if (strcmp(have, hex) != 0) {
			rb_err_set(err, 500, "migration_changed",
			    "Migration %s/%s was changed after it was applied "
			    "(checksum %.12s... in the database, %.12s... on "
			    "disk); restore the file and put changes into a "
			    "new migration.", dir, l->v[i].name, have, hex);
			goto fail;
		}
	}
	PQclear(res);
	res = NULL;
	if (db_commit(db, err) == -1)
		return -1;
	return pending;
fail:
	PQclear(res);
	db_rollback(db);
	return -1;
}

int
migrate_apply(struct db *db, const char *dir, int *applied,
    struct rb_err *err)
{
	struct mlist l;
	size_t i;
	bool did;

	*applied = 0;
	if (list_dir(dir, &l, err) == -1)
		return -1;
	if (check_all(db, dir, &l, true, err) == -1)
		goto fail;
	for (i = 0; i < l.n; i++) {
		if (apply_one(db, dir, &l.v[i], &did, err) == -1)
			goto fail;
		if (did)
			(*applied)++;
	}
	free(l.v);
	return 0;
fail:
	free(l.v);
	return -1;
}

int
migrate_pending(struct db *db, const char *dir, struct rb_err *err)
{
	struct mlist l;
	int n;

	if (list_dir(dir, &l, err) == -1)
		return -1;
	n = check_all(db, dir, &l, false, err);
	free(l.v);
	return n;
}

int
migrate_require(struct db *db, const char *version, struct rb_err *err)
{
	char sum[65];
	bool found = false;

	if (ledger_checksum(db, version, sum, &found, err) == -1 &&
	    strcmp(db->sqlstate, "42P01") != 0)	/* no ledger at all */
		return -1;
	if (found)
		return 0;
	return rb_err_set(err, 500, "schema_outdated", "The database schema "
	    "is older than this program (migration %s is missing): run "
	    "`rebossctl migrate`, as after every upgrade.", version);
}
