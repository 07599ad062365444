/*
 * rebossctl - the operator's tool (PRODUCT.md, Operations).
 *
 *   rebossctl [--config FILE] migrate [--sql-dir DIR]
 *   rebossctl [--config FILE] check-config
 *   rebossctl [--config FILE] status [--json]
 *   rebossctl [--config FILE] seal-tokens
 *   rebossctl help | --version
 *
 * Run by root with the installed configuration (no --config, no
 * $REBOSS_CONFIG), rebossctl acts as the
 * reboss user, as the units do (as_service_user()): the same peer
 * authentication to a local PostgreSQL, the same credential files (read
 * from CONFIG_CREDENTIALS_DIR, lib/config.c), the same file owners.
 *
 * Exit codes: 0 ok; 1 a problem was found and reported; 2 usage error, or
 * the configuration or the database could not be used.  Messages go to
 * stderr as "rebossctl: ...".  No secret is ever printed.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

/* "config.h" alone would find autoconf's config.h of the build dir. */
#include "ctl.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "shop.h"
#include "optimize_cmds.h"	/* product_optimize's commands */
#include "alert_cmds.h"	/* monitoring: alert, check */
#include "nginx_cmds.h"	/* the edge: nginx-origins */
#include "run_requests.h"	/* the owner: run-now requests */
#include "util.h"

#ifndef REBOSS_SQLDIR
#define REBOSS_SQLDIR	"/usr/share/reboss/sql"
#endif


#define RUNS_PER_JOB	"5"
#define FAILING_MAX	"100"
#define CELL_MAX	60	/* characters shown of a long cell */
#define SHRINK_MIN	16	/* a shrunk column keeps at least this */

static const char usage_text[] =
"usage: rebossctl [--config FILE] COMMAND [OPTIONS]\n"
"\n"
"commands:\n"
"  migrate [--sql-dir DIR]  apply pending SQL migrations (default DIR:\n"
"                           $REBOSS_SQLDIR, else " REBOSS_SQLDIR ")\n"
"  check-config             report every problem of the configuration file\n"
"  status [--json]          recent job runs and failing shops\n"
"  seal-tokens              seal shop access tokens stored in plain text\n"
OPTIMIZE_CMDS_USAGE
ALERT_CMDS_USAGE
NGINX_CMDS_USAGE
RUN_REQUESTS_USAGE
"  help, --version          this text; the version\n"
"\n"
"The configuration file is --config FILE, else $REBOSS_CONFIG, else\n"
CONFIG_DEFAULT_PATH ".\n"
"Run as root with that file, rebossctl acts as the reboss user, as the\n"
"units do.\n"
"Exit status: 0 ok, 1 a problem was reported, 2 usage error or the\n"
"configuration or database could not be used.\n";

#define SERVICE_USER	"reboss"

/*
 * Root with the installed configuration becomes the reboss user before
 * anything is read, so that a hand-run command sees what the units see
 * (peer authentication maps the OS user to the database role).  Any other
 * configuration (a test's, a copy) is used as the caller is.
 */
static int
as_service_user(int argc, char **argv)
{
	struct passwd pwbuf, *pw = NULL;
	char buf[4096];
	int i;
	const char *env = getenv("REBOSS_CONFIG");

	if (geteuid() != 0 || (env != NULL && *env != '\0' &&
	    strcmp(env, CONFIG_DEFAULT_PATH) != 0))
		return 0;
	/* --config may also follow the command: any of them counts */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 ||
		    strncmp(argv[i], "--config", 8) == 0)
			return 0;
	if (getpwnam_r(SERVICE_USER, &pwbuf, buf, sizeof(buf), &pw) != 0 ||
	    pw == NULL) {
		fprintf(stderr, "rebossctl: there is no user '%s' (the package "
		    "creates it); cannot act as the services do\n",
		    SERVICE_USER);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "rebossctl: cannot become the user '%s': "
		    "%s\n", SERVICE_USER, strerror(errno));
		return -1;
	}
	return 0;
}


static void usage_error(const char *fmt, ...) RB_PRINTF(1, 2);

static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rebossctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'rebossctl help'.\n", stderr);
}

/* 1 when every named table exists, 0 when one is missing, -1 on error. */
static int
tables_exist(struct db *db, struct rb_err *err)
{
	PGresult *res;
	int rc;

	res = db_query(db, "SELECT to_regclass('public.shops') IS NOT NULL "
	    "AND to_regclass('public.job_runs') IS NOT NULL "
	    "AND to_regclass('public.shop_job_status') IS NOT NULL",
	    0, NULL, err);
	if (res == NULL)
		return -1;
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

/* --- migrate ------------------------------------------------------------- */

static int
cmd_migrate(const char *cli_config, const char *sql_dir)
{
	struct rb_config cfg;
	struct db db = { 0 };
	struct rb_err err = { 0 };
	int applied = 0, rc = EXIT_UNUSABLE;

	if (sql_dir == NULL)
		sql_dir = getenv("REBOSS_SQLDIR");
	if (sql_dir == NULL || sql_dir[0] == '\0')
		sql_dir = REBOSS_SQLDIR;
	if (ctl_open(cli_config, &cfg, &db) != 0)
		return EXIT_UNUSABLE;
	if (migrate_apply(&db, sql_dir, &applied, &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		if (applied > 0)
			fprintf(stderr, "rebossctl: %d migration(s) were "
			    "applied before the failure\n", applied);
		/* A failing or changed migration is a problem reported (1);
		 * no database or no readable sql/ means nothing could run (2). */
		rc = strcmp(err.code, "database_unavailable") == 0 ||
		    strcmp(err.code, "migrations_unreadable") == 0 ?
		    EXIT_UNUSABLE : EXIT_PROBLEM;
		goto out;
	}
	if (applied == 0)
		printf("database is current\n");
	else
		printf("applied %d migration(s)\n", applied);
	rc = 0;
out:
	db_close(&db);
	config_free(&cfg);
	return rc;
}

/* --- check-config ------------------------------------------------------- */

static void
report_problem(void *ctx, const char *problem)
{
	int *n = ctx;

	(*n)++;
	fprintf(stderr, "%s\n", problem);
}

/* What is allowed but probably not meant: warnings, exit status 0. */
static void
check_config_warnings(const char *cli_config)
{
	struct rb_config cfg;
	struct rb_err err = { 0 };

	if (config_load(&cfg, config_path(cli_config), &err) == -1)
		return;
	if (cfg.jwt_issuer == NULL)
		fprintf(stderr, "warning: jwt_issuer is not set: access tokens "
		    "of any issuer signed with the key are accepted; set it to "
		    "the project's https://<project>.supabase.co/auth/v1\n");
	(void)nginx_origins_warn(&cfg);
	config_free(&cfg);
}

static int
cmd_check_config(const char *cli_config)
{
	const char *path = config_path(cli_config);
	int seen = 0, n;

	n = config_check(path, report_problem, &seen);
	if (n < 0) {
		fprintf(stderr, "rebossctl: %s: cannot be checked\n", path);
		return EXIT_UNUSABLE;
	}
	if (n == 0 && seen == 0) {
		check_config_warnings(cli_config);
		printf("%s: OK\n", path);
		return 0;
	}
	fprintf(stderr, "rebossctl: %s: %d problem(s)\n", path,
	    n > seen ? n : seen);
	return EXIT_PROBLEM;
}

/* --- status ----------------------------------------------------------------- */

/* Number of UTF-8 characters in s. */
static size_t
u8len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * A cell for the terminal: control characters (from error texts written by
 * jobs, which may quote upstream answers) become spaces so nothing can move
 * the cursor or recolour the terminal; at most CELL_MAX characters.
 */
static char *
cell(const char *s, size_t maxchars)
{
	size_t len = strlen(s), i, o = 0, chars = 0;
	char *out;

	if ((out = malloc(len + 4)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80) {
			if (chars == maxchars) {
				/* ellipsis in place of the rest */
				if (o >= 3)
					memcpy(out + o - 3, "...", 3);
				break;
			}
			chars++;
		}
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[o] = '\0';
	return out;
}

/*
 * A table for a person: as wide as the terminal (term_width()).  When the
 * natural widths do not fit, the wrap column (if any) moves to an
 * indented line of its own under each row, then the columns in drop[] are
 * left out in that order, then the shrink column is cut ("...").  --json
 * has everything.
 */
struct table {
	int		 ncols;
	const char	*const *heads;
	char		**cells;	/* nrows * ncols */
	int		 nrows;
	const int	*drop;		/* column indexes, -1 ends */
	int		 wrap;		/* column that may go below; -1: none */
	int		 shrink;	/* column cut last ("..."); -1: none */
};

/* $COLUMNS, else the terminal's width, else 80. */
static size_t
term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long v;

	if (env != NULL && rb_parse_long(env, 20, 1000, &v) == 0)
		return (size_t)v;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) ==
	    0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static int
table_add(struct table *t, const char *const *vals)
{
	char **nc;
	int c;

	nc = realloc(t->cells, (size_t)(t->nrows + 1) * (size_t)t->ncols *
	    sizeof(*nc));
	if (nc == NULL)
		return -1;
	t->cells = nc;
	for (c = 0; c < t->ncols; c++) {
		nc[t->nrows * t->ncols + c] = cell(vals[c], CELL_MAX);
		if (nc[t->nrows * t->ncols + c] == NULL) {
			while (--c >= 0)
				free(nc[t->nrows * t->ncols + c]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

static size_t
table_line_width(const size_t *w, const bool *show, int ncols)
{
	size_t total = 0;
	int c, shown = 0;

	for (c = 0; c < ncols; c++)
		if (show[c]) {
			total += w[c];
			shown++;
		}
	return total + (shown > 1 ? 2 * (size_t)(shown - 1) : 0);
}

/* Prints s padded to width (UTF-8 characters), cut with "..." if longer. */
static void
put_cell(const char *s, size_t width, bool pad)
{
	size_t n = u8len(s), i;
	char *cut = NULL;

	if (n > width && (cut = cell(s, width)) != NULL)
		s = cut;
	fputs(s, stdout);
	if (pad)
		for (i = u8len(s); i < width; i++)
			putchar(' ');
	free(cut);
}

static void
table_print(const struct table *t)
{
	size_t w[16] = { 0 }, l, width = term_width();
	bool show[16] = { false }, below = false;
	int ncols = t->ncols < 16 ? t->ncols : 16;
	int r, c, d, last;

	for (c = 0; c < t->ncols && c < 16; c++) {
		w[c] = u8len(t->heads[c]);
		show[c] = true;
	}
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols && c < 16; c++)
			if ((l = u8len(t->cells[r * t->ncols + c])) > w[c])
				w[c] = l;
	if (t->wrap >= 0 && table_line_width(w, show, t->ncols) > width) {
		show[t->wrap] = false;
		below = true;
	}
	for (d = 0; t->drop != NULL && t->drop[d] >= 0 &&
	    table_line_width(w, show, t->ncols) > width; d++)
		show[t->drop[d]] = false;
	if (t->shrink >= 0 && (l = table_line_width(w, show, t->ncols)) >
	    width)
		w[t->shrink] = w[t->shrink] > l - width + SHRINK_MIN ?
		    w[t->shrink] - (l - width) : SHRINK_MIN;
	for (last = ncols - 1; last > 0 && !show[last]; last--)
		;
	for (r = -1; r < t->nrows; r++) {
		for (c = 0; c < t->ncols && c < 16; c++) {
			if (!show[c])
				continue;
			put_cell(r < 0 ? t->heads[c] : t->cells[r * t->ncols +
			    c], w[c], c < last);
			if (c < last)
				fputs("  ", stdout);
		}
		putchar('\n');
		if (below && r >= 0) {
			fputs("    ", stdout);
			put_cell(t->cells[r * t->ncols + t->wrap], width > 8 ?
			    width - 4 : 4, false);
			putchar('\n');
		}
	}
}

static void
table_free(struct table *t)
{
	int i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

static void
fmt_duration(const char *secs, char *out, size_t outsz)
{
	long s;

	if (rb_parse_long(secs, 0, 1L << 40, &s) == -1) {
		rb_strlcpy(out, "-", outsz);
		return;
	}
	if (s >= 86400)
		(void)snprintf(out, outsz, "%ldd%02ldh", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		(void)snprintf(out, outsz, "%ldh%02ldm", s / 3600,
		    s % 3600 / 60);
	else if (s >= 60)
		(void)snprintf(out, outsz, "%ldm%02lds", s / 60, s % 60);
	else
		(void)snprintf(out, outsz, "%lds", s);
}

/* "2025-01-02T03:04:05Z" -> "2025-01-02 03:04" for the table (--json
 * keeps the seconds). */
static void
fmt_time(const char *iso, char *out, size_t outsz)
{
	size_t n;

	rb_strlcpy(out, iso, outsz);
	if ((n = strlen(out)) > 0 && out[n - 1] == 'Z')
		out[n - 1] = '\0';
	if (strlen(out) > 10 && out[10] == 'T')
		out[10] = ' ';
	if (strlen(out) == 19)
		out[16] = '\0';
	if (out[0] == '\0')
		rb_strlcpy(out, "-", outsz);
}

#define ISO(col) "coalesce(to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

static const char runs_sql[] =
    "SELECT job_type, id::text, status, " ISO("started_at") ", "
    ISO("completed_at") ", "
    "greatest(0, floor(extract(epoch FROM coalesce(completed_at, now()) "
    "- started_at)))::bigint::text, shops_processed::text, "
    "shops_failed::text, coalesce(shops_total::text, ''), "
    "coalesce(host, ''), coalesce(finish_reason, '') "
    "FROM (SELECT *, row_number() OVER (PARTITION BY job_type "
    "ORDER BY started_at DESC) AS rn FROM public.job_runs) r "
    "WHERE rn <= $1::int ORDER BY job_type, started_at DESC";

static const char failing_sql[] =
    "SELECT s.id::text, s.shop_domain, j.job_type, "
    "coalesce(j.last_status, ''), " ISO("j.last_run_at") ", "
    "j.consecutive_failures::text, coalesce(j.last_error, '') "
    "FROM public.shop_job_status j JOIN public.shops s ON s.id = j.shop_id "
    "WHERE j.last_status IS DISTINCT FROM 'success' "
    "AND j.last_status IS NOT NULL "
    "ORDER BY j.last_run_at DESC NULLS LAST, s.shop_domain "
    "LIMIT $1::int";

/* Shops whose sales history Shopify limits (sales_cursors.orders_access,
 * sql/011_sales_history.sql): without read_all_orders only the orders of
 * the last 60 days are visible. */
static const char limited_sql[] =
    "SELECT s.id::text, s.shop_domain, coalesce(c.complete_through::text, "
    "''), " ISO("c.orders_access_checked_at") " "
    "FROM public.sales_cursors c JOIN public.shops s ON s.id = c.shop_id "
    "WHERE c.orders_access = 'last_60_days' ORDER BY s.shop_domain "
    "LIMIT $1::int";

/* Shops the jobs skip until their owner acts (lib/shop.c sets the status:
 * reauthorize_required, frozen, uninstalled), newest change first. */
static const char idle_sql[] =
    "SELECT s.id::text, s.shop_domain, s.connection_status, "
    ISO("s.connection_changed_at") ", coalesce(s.connection_reason, '') "
    "FROM public.shops s WHERE s.connection_status <> 'connected' "
    "ORDER BY s.connection_changed_at DESC NULLS LAST, s.shop_domain "
    "LIMIT $1::int";

static json_t *
json_int_or_null(const char *s)
{
	long v;

	if (s[0] == '\0' || rb_parse_long(s, -(1L << 40), 1L << 40, &v) == -1)
		return json_null();
	return json_integer(v);
}

static json_t *
json_str_or_null(const char *s)
{
	return s[0] == '\0' ? json_null() : json_string(s);
}

static int
status_json(const PGresult *runs, const PGresult *fail, const PGresult *lim,
    const PGresult *idle)
{
	json_t *root = NULL, *ra, *fa, *la, *ia, *o;
	int r, rc = -1;

	if ((root = json_object()) == NULL || (ra = json_array()) == NULL ||
	    json_object_set_new(root, "runs", ra) == -1 ||
	    (fa = json_array()) == NULL ||
	    json_object_set_new(root, "failing_shops", fa) == -1 ||
	    (la = json_array()) == NULL ||
	    json_object_set_new(root, "sales_history_limited", la) == -1 ||
	    (ia = json_array()) == NULL ||
	    json_object_set_new(root, "shops_not_connected", ia) == -1)
		goto out;
	for (r = 0; r < PQntuples(idle); r++) {
		o = json_pack("{s:s, s:s, s:s, s:o, s:o}",
		    "shop_id", PQgetvalue(idle, r, 0),
		    "shop_domain", PQgetvalue(idle, r, 1),
		    "connection_status", PQgetvalue(idle, r, 2),
		    "since", json_str_or_null(PQgetvalue(idle, r, 3)),
		    "reason", json_str_or_null(PQgetvalue(idle, r, 4)));
		if (o == NULL || json_array_append_new(ia, o) == -1)
			goto out;
	}
	for (r = 0; r < PQntuples(lim); r++) {
		o = json_pack("{s:s, s:s, s:o, s:o, s:s}",
		    "shop_id", PQgetvalue(lim, r, 0),
		    "shop_domain", PQgetvalue(lim, r, 1),
		    "complete_through", json_str_or_null(PQgetvalue(lim, r, 2)),
		    "checked_at", json_str_or_null(PQgetvalue(lim, r, 3)),
		    "reason", "no read_all_orders: Shopify shows only the last "
		    "60 days of orders");
		if (o == NULL || json_array_append_new(la, o) == -1)
			goto out;
	}
	for (r = 0; r < PQntuples(runs); r++) {
		o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, "
		    "s:o, s:o}",
		    "job_type", PQgetvalue(runs, r, 0),
		    "id", PQgetvalue(runs, r, 1),
		    "status", PQgetvalue(runs, r, 2),
		    "started_at", json_str_or_null(PQgetvalue(runs, r, 3)),
		    "completed_at", json_str_or_null(PQgetvalue(runs, r, 4)),
		    "duration_s", json_int_or_null(PQgetvalue(runs, r, 5)),
		    "shops_processed", json_int_or_null(PQgetvalue(runs, r, 6)),
		    "shops_failed", json_int_or_null(PQgetvalue(runs, r, 7)),
		    "shops_total", json_int_or_null(PQgetvalue(runs, r, 8)),
		    "host", json_str_or_null(PQgetvalue(runs, r, 9)),
		    "finish_reason", json_str_or_null(PQgetvalue(runs, r, 10)));
		if (o == NULL || json_array_append_new(ra, o) == -1)
			goto out;
	}
	for (r = 0; r < PQntuples(fail); r++) {
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}",
		    "shop_id", PQgetvalue(fail, r, 0),
		    "shop_domain", PQgetvalue(fail, r, 1),
		    "job_type", PQgetvalue(fail, r, 2),
		    "last_status", PQgetvalue(fail, r, 3),
		    "last_run_at", json_str_or_null(PQgetvalue(fail, r, 4)),
		    "consecutive_failures",
		    json_int_or_null(PQgetvalue(fail, r, 5)),
		    "last_error", json_str_or_null(PQgetvalue(fail, r, 6)));
		if (o == NULL || json_array_append_new(fa, o) == -1)
			goto out;
	}
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) == -1)
		goto out;
	putchar('\n');
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Shops not connected: the jobs skip them (not failures) until the owner
 * reconnects; the reason is the owner's sentence, on its own line. */
static int
status_not_connected(const PGresult *idle)
{
	static const char *const h[] = { "SHOP", "STATUS", "SINCE (UTC)",
	    "REASON" };
	static const int drop[] = { 2, -1 };		/* SINCE */
	struct table t = { .ncols = 4, .heads = h, .drop = drop,
	    .wrap = 3, .shrink = 0 };
	char since[32];
	const char *v[4];
	int r;

	printf("\nShops not connected (skipped by the jobs until the owner "
	    "reconnects)\n");
	if (PQntuples(idle) == 0)
		printf("  none\n");
	for (r = 0; r < PQntuples(idle); r++) {
		fmt_time(PQgetvalue(idle, r, 3), since, sizeof(since));
		v[0] = PQgetvalue(idle, r, 1);
		v[1] = PQgetvalue(idle, r, 2);
		v[2] = since;
		v[3] = PQgetvalue(idle, r, 4)[0] != '\0' ?
		    PQgetvalue(idle, r, 4) : "-";
		if (table_add(&t, v) == -1) {
			table_free(&t);
			return -1;
		}
	}
	if (t.nrows > 0)
		table_print(&t);
	table_free(&t);
	return 0;
}

static int
status_table(const PGresult *runs, const PGresult *fail, const PGresult *lim,
    const PGresult *idle)
{
	static const char *const rh[] = { "JOB", "STARTED (UTC)", "TOOK",
	    "STATUS", "SHOPS", "FAILED", "HOST", "RUN" };
	static const char *const fh[] = { "SHOP", "JOB", "STATUS",
	    "LAST RUN (UTC)", "FAILURES", "ERROR" };
	static const int rdrop[] = { 6, 7, -1 };	/* HOST, RUN */
	static const int fdrop[] = { 3, -1 };		/* LAST RUN */
	struct table t = { .ncols = 8, .heads = rh, .drop = rdrop,
	    .wrap = -1, .shrink = 0 };
	char started[32], dur[32], shops[48], run[16];
	const char *v[8];
	int r;

	printf("Recent runs (at most %s per job, newest first)\n",
	    RUNS_PER_JOB);
	if (PQntuples(runs) == 0)
		printf("  no runs recorded yet\n");
	for (r = 0; r < PQntuples(runs); r++) {
		fmt_time(PQgetvalue(runs, r, 3), started, sizeof(started));
		fmt_duration(PQgetvalue(runs, r, 5), dur, sizeof(dur));
		if (PQgetvalue(runs, r, 8)[0] != '\0')
			(void)snprintf(shops, sizeof(shops), "%s/%s",
			    PQgetvalue(runs, r, 6), PQgetvalue(runs, r, 8));
		else
			rb_strlcpy(shops, PQgetvalue(runs, r, 6),
			    sizeof(shops));
		v[0] = PQgetvalue(runs, r, 0);
		v[1] = started;
		v[2] = dur;
		v[3] = PQgetvalue(runs, r, 2);
		v[4] = shops;
		v[5] = PQgetvalue(runs, r, 7);
		v[6] = PQgetvalue(runs, r, 9)[0] != '\0' ?
		    PQgetvalue(runs, r, 9) : "-";
		/* the first 8 hex digits name a run well enough here */
		rb_strlcpy(run, PQgetvalue(runs, r, 1), 9);
		v[7] = run;
		if (table_add(&t, v) == -1)
			goto fail;
	}
	if (t.nrows > 0)
		table_print(&t);
	table_free(&t);

	t.ncols = 6;
	t.heads = fh;
	t.drop = fdrop;
	t.wrap = 5;
	t.shrink = 0;	/* SHOP: the domain's end is what is cut */
	printf("\nFailing shops (last outcome not success)\n");
	if (PQntuples(fail) == 0)
		printf("  none\n");
	for (r = 0; r < PQntuples(fail); r++) {
		fmt_time(PQgetvalue(fail, r, 4), started, sizeof(started));
		v[0] = PQgetvalue(fail, r, 1);
		v[1] = PQgetvalue(fail, r, 2);
		v[2] = PQgetvalue(fail, r, 3);
		v[3] = started;
		v[4] = PQgetvalue(fail, r, 5);
		v[5] = PQgetvalue(fail, r, 6)[0] != '\0' ?
		    PQgetvalue(fail, r, 6) : "-";
		if (table_add(&t, v) == -1)
			goto fail;
	}
	if (t.nrows > 0)
		table_print(&t);
	table_free(&t);
	printf("\nSales history limited by Shopify to the last 60 days\n");
	if (PQntuples(lim) == 0)
		printf("  none\n");
	for (r = 0; r < PQntuples(lim); r++)
		printf("  %s: the app lacks read_all_orders (refunds and edits "
		    "of older orders cannot reach the sales)\n",
		    PQgetvalue(lim, r, 1));
	return status_not_connected(idle);
fail:
	table_free(&t);
	return -1;
}

/* The configuration and its database, with the ReBoss tables in it: 0,
 * else the exit code (EXIT_UNUSABLE: no configuration or connection;
 * EXIT_PROBLEM: not migrated), said on stderr.  The caller closes db and
 * frees cfg either way (ctl_open leaves both empty when it fails). */
static int
open_migrated(const char *cli_config, struct rb_config *cfg, struct db *db)
{
	struct rb_err err = { 0 };
	int have;

	if (ctl_open(cli_config, cfg, db) != 0)
		return EXIT_UNUSABLE;
	if ((have = tables_exist(db, &err)) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		return EXIT_UNUSABLE;
	}
	if (have == 0) {
		fprintf(stderr, "rebossctl: the database has no ReBoss tables "
		    "yet: run rebossctl migrate\n");
		return EXIT_PROBLEM;
	}
	return 0;
}

static int
cmd_status(const char *cli_config, bool as_json)
{
	struct rb_config cfg;
	struct db db = { 0 };
	struct rb_err err = { 0 };
	PGresult *runs = NULL, *fail = NULL, *lim = NULL, *idle = NULL;
	const char *p_runs[] = { RUNS_PER_JOB };
	const char *p_fail[] = { FAILING_MAX };
	int rc = EXIT_UNUSABLE;

	if ((rc = open_migrated(cli_config, &cfg, &db)) != 0)
		goto out;
	rc = EXIT_UNUSABLE;
	if ((runs = db_query(&db, runs_sql, 1, p_runs, &err)) == NULL ||
	    (fail = db_query(&db, failing_sql, 1, p_fail, &err)) == NULL ||
	    (lim = db_query(&db, limited_sql, 1, p_fail, &err)) == NULL ||
	    (idle = db_query(&db, idle_sql, 1, p_fail, &err)) == NULL)
		goto dberr;
	if ((as_json ? status_json(runs, fail, lim, idle) :
	    status_table(runs, fail, lim, idle)) == -1) {
		fprintf(stderr, "rebossctl: out of memory\n");
		goto out;
	}
	if (fflush(stdout) == EOF) {
		perror("rebossctl: stdout");
		goto out;
	}
	rc = 0;
	goto out;
dberr:
	fprintf(stderr, "rebossctl: %s\n", err.msg);
out:
	PQclear(runs);
	PQclear(fail);
	PQclear(lim);
	PQclear(idle);
	db_close(&db);
	config_free(&cfg);
	return rc;
}

/* --- seal-tokens ------------------------------------------------------------ */

/*
 * Seals one shop's token under a row lock, so a token the dashboard writes
 * at the same moment is not overwritten with an older value.  1 when sealed
 * now, 0 when nothing was left to do, -1 on error.
 */
static int
seal_one(struct db *db, const struct rb_config *cfg, const char *id,
    struct rb_err *err)
{
	PGresult *res = NULL;
	char *plain = NULL, *sealed = NULL;
	const char *p[2];
	int rc = -1;

	if (db_begin(db, err) == -1)
		return -1;
	p[0] = id;
	res = db_query(db, "SELECT access_token FROM public.shops "
	    "WHERE id = $1::uuid FOR UPDATE", 1, p, err);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
	    crypto_is_sealed(PQgetvalue(res, 0, 0))) {
		rc = 0;		/* deleted or sealed meanwhile */
		goto fail;
	}
	if ((plain = strdup(PQgetvalue(res, 0, 0))) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	/* libpq's copy is wiped as far as we can reach it. */
	OPENSSL_cleanse(PQgetvalue(res, 0, 0), strlen(plain));
	PQclear(res);
	res = NULL;
	if (shop_seal(cfg, id, "access_token", plain, &sealed, err) == -1)
		goto fail;
	p[1] = sealed;
	if (db_exec(db, "UPDATE public.shops SET access_token = $2 "
	    "WHERE id = $1::uuid", 2, p, err) == -1)
		goto fail;
	if (db_commit(db, err) == -1)
		goto fail;
	crypto_free_secret(plain);
	free(sealed);
	return 1;
fail:
	PQclear(res);
	db_rollback(db);
	crypto_free_secret(plain);
	free(sealed);
	return rc;
}

static int
cmd_seal_tokens(const char *cli_config)
{
	struct rb_config cfg;
	struct db db = { 0 };
	struct rb_err err = { 0 };
	PGresult *ids = NULL;
	int rc = EXIT_UNUSABLE, r, sealed = 0, failed = 0, one;

	if ((rc = open_migrated(cli_config, &cfg, &db)) != 0)
		goto out;
	rc = EXIT_UNUSABLE;
	/* Candidates only by prefix (no token leaves the server here);
	 * crypto_is_sealed() decides under the row lock. */
	ids = db_query(&db, "SELECT id::text FROM public.shops "
	    "WHERE access_token IS NOT NULL "
	    "AND left(access_token, 5) <> 'rbs1:' ORDER BY id", 0, NULL, &err);
	if (ids == NULL)
		goto dberr;
	for (r = 0; r < PQntuples(ids); r++) {
		one = seal_one(&db, &cfg, PQgetvalue(ids, r, 0), &err);
		if (one == 1) {
			sealed++;
		} else if (one == -1) {
			failed++;
			fprintf(stderr, "rebossctl: shop %s: %s\n",
			    PQgetvalue(ids, r, 0), err.msg);
			if (strcmp(err.code, "database_unavailable") == 0)
				goto out;
		}
	}
	printf("sealed %d token(s)\n", sealed);
	rc = failed > 0 ? EXIT_PROBLEM : 0;
	goto out;
dberr:
	fprintf(stderr, "rebossctl: %s\n", err.msg);
out:
	PQclear(ids);
	db_close(&db);
	config_free(&cfg);
	return rc;
}

/* --- main ------------------------------------------------------------------ */

enum { OPT_SQL_DIR = 256, OPT_JSON };

int
main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option sopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "sql-dir", required_argument, NULL, OPT_SQL_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *sql_dir = NULL, *cmd;
	bool json = false;
	int c, sub_argc;
	char **sub_argv;

	log_init("rebossctl");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:h", gopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("rebossctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage_error("unknown or incomplete option '%s'",
			    argv[optind - 1]);
			return EXIT_UNUSABLE;
		}
	}
	if (optind >= argc) {
		usage_error("%s", "no command given");
		return EXIT_UNUSABLE;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (as_service_user(argc, argv) == -1)
		return EXIT_UNUSABLE;
	if (optimize_cmd_known(cmd))
		return optimize_cmd(config, argc - optind, argv + optind);
	if (alert_cmd_known(cmd))
		return alert_cmd(config, argc - optind, argv + optind);
	if (nginx_cmd_known(cmd))
		return nginx_cmd(config, argc - optind, argv + optind);
	if (run_requests_cmd_known(cmd))
		return run_requests_cmd(config, argc - optind, argv + optind);
	if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "check-config") != 0 &&
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "seal-tokens") != 0) {
		usage_error("unknown command '%s'", cmd);
		return EXIT_UNUSABLE;
	}

	/* The command's own options; --config is accepted here too. */
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	optind = 0;
	while ((c = getopt_long(sub_argc, sub_argv, "+c:h", sopts, NULL))
	    != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_SQL_DIR:
			if (strcmp(cmd, "migrate") != 0) {
				usage_error("--sql-dir belongs to migrate, "
				    "not %s", cmd);
				return EXIT_UNUSABLE;
			}
			sql_dir = optarg;
			break;
		case OPT_JSON:
			if (strcmp(cmd, "status") != 0) {
				usage_error("--json belongs to status, not %s",
				    cmd);
				return EXIT_UNUSABLE;
			}
			json = true;
			break;
		default:
			usage_error("unknown or incomplete option '%s'",
			    sub_argv[optind - 1]);
			return EXIT_UNUSABLE;
		}
	}
	if (optind < sub_argc) {
		usage_error("unexpected argument '%s'", sub_argv[optind]);
		return EXIT_UNUSABLE;
	}

	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(config, sql_dir);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(config);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(config, json);
	return cmd_seal_tokens(config);
}
