/*
 * alert_cmds.c - rebossctl's monitoring commands (see alert_cmds.h).
 * Owned by monitoring (issue 10).
 *
 *   rebossctl alert UNIT
 *       Run by reboss-alert@UNIT.service (OnFailure= of every ReBoss unit).
 *       Tells the operator that UNIT failed: a JSON POST to
 *       alert_webhook_url (Slack reads "text", Discord "content", anything
 *       else the other fields) and/or a mail to alert_email through
 *       sendmail -t.  It names the unit, the host, the last run of the job
 *       (status, counts), the first failing shops with their errors and the
 *       journalctl command that shows the rest.
 *   rebossctl check [--alert] [--sql-dir DIR]
 *       One status line in the monitoring-plugins convention (exit 0 OK,
 *       1 WARNING, 2 CRITICAL, 3 UNKNOWN) with perfdata: every job
 *       completed within twice its interval (warning after 1.5 times when
 *       no run is going), no shop failing 3 runs in a row (warning), no
 *       token expiring within 3 days (warning) or expired (critical), the
 *       database reachable and every migration applied (critical).  With
 *       --alert (reboss-check.timer) it raises an alert itself when the
 *       state turns bad, changes, has lasted another day, or recovers.
 *
 * Delivery: each channel is tried ALERT_ATTEMPTS times with backoff; an
 * alert still undeliverable is written to alert_spool_dir and every later
 * "alert" or "check" sends the spool first (oldest first), so nothing is
 * lost silently: every failure is logged, every spooled file is counted.
 * Secrets: no configured secret (nor anything shaped like an access token)
 * leaves in an alert, the webhook URL is never logged (it is a credential:
 * only its host is), and the spool holds rendered alerts, never the URL.
 *
 * Environment for tests: REBOSS_SENDMAIL (default /usr/sbin/sendmail),
 * REBOSS_ALERT_ATTEMPTS (3), REBOSS_ALERT_RETRY_MS (2000, doubled each
 * time).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ctl.h"
#include "alert_cmds.h"
#include "alert_deliver.h"
#include "owner_mail.h"
#include "config.h"
#include "db.h"
#include "encode.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "util.h"

#ifndef REBOSS_SQLDIR
#define REBOSS_SQLDIR	"/usr/share/reboss/sql"
#endif

#define ST_OK		0
#define ST_WARNING	1
#define ST_CRITICAL	2
#define ST_UNKNOWN	3


#define ALERT_SHOPS_SHOWN	5	/* failing shops named in an alert */
#define ALERT_ERROR_MAX		300	/* characters of one shop's error */
#define ALERT_TEXT_MAX		(16u << 10)
#define ALERT_DISCORD_MAX	1900	/* Discord's "content" limit is 2000 */
#define CHECK_REALERT_S		86400	/* a bad state is repeated daily */
#define CHECK_TOKEN_WARN	"3 days"
#define CHECK_FAILS_IN_A_ROW	"3"

static const char *const state_names[] = { "OK", "WARNING", "CRITICAL",
	"UNKNOWN" };

/* Interval of each job's timer, seconds (systemd/reboss-*.timer). */
static const long job_interval_s[JOB__COUNT] = {
	[JOB_SALES_TRACKER] = 86400,
	[JOB_REPLACE] = 86400,
	[JOB_PRODUCT_OPTIMIZE] = 86400,
	[JOB_PRODUCT_CREATION] = 86400,
	[JOB_PINTEREST_SYNC] = 4 * 3600,
};

bool
alert_cmd_known(const char *cmd)
{
	return cmd != NULL && (strcmp(cmd, "alert") == 0 ||
	    strcmp(cmd, "check") == 0);
}

/* A count from the database; 0 when not a number. */
static long
num(const char *s)
{
	long v;

	if (rb_parse_long(s, 0, 1L << 40, &v) == -1)
		return 0;
	return v;
}

/* --- secrets out ------------------------------------------------------------ */

/* Replaces every occurrence of needle (when long enough to matter). */
static void
scrub_one(char *s, const char *needle)
{
	static const char mark[] = "[redacted]";
	size_t n, m = sizeof(mark) - 1;
	char *p;

	if (needle == NULL || (n = strlen(needle)) < 6)
		return;
	while ((p = strstr(s, needle)) != NULL) {
		if (n >= m) {
			memcpy(p, mark, m);
			memmove(p + m, p + n, strlen(p + n) + 1);
		} else {
			memset(p, '*', n);
		}
	}
}

/* What follows a token-shaped prefix, up to the end of the word. */
static void
scrub_prefix(char *s, const char *prefix)
{
	size_t n = strlen(prefix), k;
	char *p = s;

	while ((p = strstr(p, prefix)) != NULL) {
		p += n;
		for (k = 0; p[k] != '\0' && p[k] != ' ' && p[k] != '"' &&
		    p[k] != '\'' && p[k] != ',' && p[k] != '\n' &&
		    p[k] != ')' && p[k] != ';'; k++)
			p[k] = '*';
	}
}

/* In place: every configured secret and anything shaped like a Shopify,
 * OpenAI, sealed or bearer token. */
static void
scrub(const struct rb_config *cfg, char *s)
{
	static const char *const prefixes[] = { "shpat_", "shpca_", "shppa_",
		"shpss_", "sk-", "rbs1:", "Bearer ", "bearer ",
		"access_token=", "refresh_token=", "password=" };
	char hex[65];
	size_t i;

	if (s == NULL)
		return;
	if (cfg != NULL) {
		const char *const secrets[] = { cfg->database_url,
			cfg->jwt_secret, cfg->pinterest_app_secret,
			cfg->meta_app_secret, cfg->google_client_secret,
			cfg->openai_api_key, cfg->alert_webhook_url };

		for (i = 0; i < RB_NELEM(secrets); i++)
			scrub_one(s, secrets[i]);
		rb_hex_encode(cfg->token_key, sizeof(cfg->token_key), hex);
		scrub_one(s, hex);
	}
	for (i = 0; i < RB_NELEM(prefixes); i++)
		scrub_prefix(s, prefixes[i]);
}

/* A copy for a message: control characters become spaces, at most max
 * bytes (cut at a UTF-8 boundary, "..." appended). */
static char *
clean_copy(const char *s, size_t max)
{
	size_t n = strlen(s), i;
	char *o;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if ((o = malloc(n + 4)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		o[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' :
		    s[i];
	if (n < strlen(s)) {
		memcpy(o + n, "...", 3);
		n += 3;
	}
	o[n] = '\0';
	return o;
}

/* --- composing an alert ------------------------------------------------------ */

struct alert {
	char		 subject[512];
	struct rb_buf	 text;		/* plain text, for people */
	json_t		*json;		/* the webhook body's fields */
};

static void
alert_free(struct alert *a)
{
	rb_buf_free(&a->text);
	json_decref(a->json);
	a->json = NULL;
}

/* Of two outcomes (0 delivered, 1 spooled, 2 lost), the worse. */
static int
worst(int a, int b)
{
	return a > b ? a : b;
}

/* Delivers a by every configured channel; 0 delivered (or nothing to
 * deliver to: journal only), 1 spooled, 2 lost (logged). */
static int
alert_send(const struct rb_config *cfg, struct alert *a)
{
	struct rb_buf mail = { .max = ALERT_FILE_MAX };
	char *body = NULL, *content = NULL, host[256];
	int rc = 0;

	scrub(cfg, a->text.data);
	scrub(cfg, a->subject);
	/* Always in the journal too: the alert is never only elsewhere. */
	log_notice("ALERT %s", a->subject);
	if (cfg->alert_webhook_url == NULL && cfg->alert_email == NULL) {
		log_warn("neither alert_webhook_url nor alert_email is set: "
		    "this alert is in the journal only:\n%s", a->text.data);
		return 0;
	}
	if (cfg->alert_webhook_url != NULL) {
		if ((content = clean_copy(a->text.data, ALERT_DISCORD_MAX))
		    == NULL ||
		    json_object_set_new(a->json, "text",
		    json_string(a->text.data)) == -1 ||
		    json_object_set_new(a->json, "content",
		    json_string(content)) == -1 ||
		    (body = json_dumps(a->json, JSON_COMPACT)) == NULL) {
			log_err("out of memory composing the alert");
			rc = 2;
			goto out;
		}
		scrub(cfg, body);
		rc = worst(rc, alert_deliver_or_spool(cfg, ALERT_WEBHOOK, body,
		    a->text.data));
	}
	if (cfg->alert_email != NULL) {
		if (gethostname(host, sizeof(host) - 1) == -1)
			rb_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		if (rb_buf_printf(&mail, "To: %s\n", cfg->alert_email) == -1 ||
		    (cfg->alert_from != NULL && rb_buf_printf(&mail,
		    "From: %s\n", cfg->alert_from) == -1) ||
		    rb_buf_printf(&mail, "Subject: %s\nAuto-Submitted: "
		    "auto-generated\nMIME-Version: 1.0\nContent-Type: text/"
		    "plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
		    "\n%s\n", a->subject, a->text.data) == -1) {
			log_err("out of memory composing the alert mail");
			rc = 2;
			goto out;
		}
		scrub(cfg, mail.data);
		rc = worst(rc, alert_deliver_or_spool(cfg, ALERT_MAIL, mail.data,
		    a->text.data));
	}
out:
	free(body);
	free(content);
	rb_buf_free(&mail);
	return rc;
}

/* A mail address list we can put into a header: no CR/LF, no quoting. */
static bool
emails_ok(const char *s)
{
	bool at = false;
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' ||
		    c == ';' || c == ':')
			return false;
		if (c == '@')
			at = true;
	}
	return at && n < 1000;
}

static bool
unit_ok(const char *u)
{
	size_t n = 0;

	for (; *u != '\0'; u++, n++)
		if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
		    (*u >= '0' && *u <= '9') || strchr("@._:-\\", *u) != NULL))
			return false;
	return n > 0 && n <= 256;
}

/* "reboss-sales-tracker.service" -> JOB_SALES_TRACKER, else -1. */
static int
unit_job(const char *unit)
{
	char name[128];
	size_t n, i;

	if (strncmp(unit, "reboss-", 7) != 0)
		return -1;
	rb_strlcpy(name, unit + 7, sizeof(name));
	n = strlen(name);
	if (n > 8 && strcmp(name + n - 8, ".service") == 0)
		name[n - 8] = '\0';
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] == '-')
			name[i] = '_';
	return job_kind_from_name(name);
}

#define ISO(col) "coalesce(to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

static const char last_run_sql[] =
    "SELECT id::text, status, " ISO("started_at") ", " ISO("completed_at")
    ", greatest(0, floor(extract(epoch FROM coalesce(completed_at, now()) "
    "- started_at)))::bigint::text, coalesce(shops_total, 0)::text, "
    "shops_processed::text, shops_failed::text, coalesce(host, ''), "
    "coalesce(finish_reason, ''), jsonb_array_length(error_log)::text "
    "FROM public.job_runs WHERE job_type = $1 AND NOT dry_run "
    "ORDER BY started_at DESC LIMIT 1";

static const char run_errors_sql[] =
    "SELECT coalesce(e.v->>'shop_id', ''), coalesce(s.shop_domain, ''), "
    "coalesce(e.v->>'error', '') "
    "FROM public.job_runs r CROSS JOIN LATERAL "
    "jsonb_array_elements(r.error_log) WITH ORDINALITY AS e(v, i) "
    "LEFT JOIN public.shops s ON s.id::text = e.v->>'shop_id' "
    "WHERE r.id = $1::uuid ORDER BY e.i LIMIT $2::int";

/* Adds the last run of job (and its first failing shops) to a. */
static int
add_run(const struct rb_config *cfg, struct db *db, int job, struct alert *a,
    struct rb_err *err)
{
	PGresult *run = NULL, *errs = NULL;
	const char *p[2];
	json_t *r = NULL, *shops = NULL;
	char lim[16];
	long total_errs = 0;
	int i, rc = -1;

	(void)cfg;
	p[0] = job_names[job];
	if ((run = db_query(db, last_run_sql, 1, p, err)) == NULL)
		goto out;
	if (PQntuples(run) == 0) {
		if (rb_buf_printf(&a->text, "Job %s: no run is recorded.\n",
		    job_names[job]) == -1)
			goto oom;
		rc = 0;
		goto out;
	}
#define V(c) PQgetvalue(run, 0, c)
	total_errs = num(V(10));
	r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s}",
	    "id", V(0), "job", job_names[job], "status", V(1),
	    "started_at", V(2),
	    "completed_at", V(3)[0] != '\0' ? json_string(V(3)) : json_null(),
	    "duration_s", json_integer(strtoll(V(4), NULL, 10)),
	    "shops_total", json_integer(strtoll(V(5), NULL, 10)),
	    "shops_processed", json_integer(strtoll(V(6), NULL, 10)),
	    "shops_failed", json_integer(strtoll(V(7), NULL, 10)),
	    "host", V(8), "finish_reason", V(9));
	if (r == NULL || json_object_set_new(a->json, "run", r) == -1)
		goto oom;
	if (rb_buf_printf(&a->text, "Run %s of %s on %s: %s, started %s, "
	    "%s s; %s shops: %s processed, %s failed.%s%s\n", V(0),
	    job_names[job], V(8)[0] != '\0' ? V(8) : "?", V(1), V(2), V(4),
	    V(5), V(6), V(7), V(9)[0] != '\0' ? " Reason: " : "", V(9)) == -1)
		goto oom;
	(void)snprintf(lim, sizeof(lim), "%d", ALERT_SHOPS_SHOWN);
	p[0] = V(0);
	p[1] = lim;
#undef V
	if ((errs = db_query(db, run_errors_sql, 2, p, err)) == NULL)
		goto out;
	if ((shops = json_array()) == NULL ||
	    json_object_set_new(a->json, "failing_shops", shops) == -1)
		goto oom;
	if (json_object_set_new(a->json, "failing_shops_total",
	    json_integer(total_errs)) == -1)
		goto oom;
	if (PQntuples(errs) > 0 && rb_buf_printf(&a->text, "Failing shops "
	    "(first %d of %ld):\n", PQntuples(errs), total_errs) == -1)
		goto oom;
	for (i = 0; i < PQntuples(errs); i++) {
		char *e = clean_copy(PQgetvalue(errs, i, 2), ALERT_ERROR_MAX);
		const char *dom = PQgetvalue(errs, i, 1);

		if (e == NULL)
			goto oom;
		if (json_array_append_new(shops, json_pack("{s:s, s:s, s:s}",
		    "shop_id", PQgetvalue(errs, i, 0), "shop_domain", dom,
		    "error", e)) == -1 ||
		    rb_buf_printf(&a->text, "- %s: %s\n", dom[0] != '\0' ? dom :
		    PQgetvalue(errs, i, 0), e) == -1) {
			free(e);
			goto oom;
		}
		free(e);
	}
	rc = 0;
	goto out;
oom:
	rb_err_oom(err);
out:
	PQclear(run);
	PQclear(errs);
	return rc;
}

static int
cmd_alert(const char *cli_config, const char *unit)
{
	struct rb_config cfg;
	struct rb_err err = { 0 };
	struct db db = { 0 };
	struct alert a = { .text = { .max = ALERT_TEXT_MAX } };
	const char *result = getenv("MONITOR_SERVICE_RESULT");
	const char *code = getenv("MONITOR_EXIT_CODE");
	const char *status = getenv("MONITOR_EXIT_STATUS");
	const char *inv = getenv("MONITOR_INVOCATION_ID");
	char host[256], journal[400], invj[200] = "";
	size_t left;
	int job, rc = EXIT_UNUSABLE, sent;

	if (!unit_ok(unit)) {
		fprintf(stderr, "rebossctl: alert: '%s' is not a unit name\n",
		    unit);
		return EXIT_UNUSABLE;
	}
	if (config_load(&cfg, config_path(cli_config), &err) == -1) {
		log_err("alert for %s: the configuration cannot be read: %s",
		    unit, err.msg);
		alert_mail_root(unit, err.msg);
		return EXIT_UNUSABLE;
	}
	if (cfg.alert_email != NULL && !emails_ok(cfg.alert_email)) {
		log_err("alert_email is not a list of mail addresses; the "
		    "alert goes to the webhook and the journal only");
		free(cfg.alert_email);
		cfg.alert_email = NULL;
	}
	alert_spool_flush(&cfg, &left);
	if (gethostname(host, sizeof(host) - 1) == -1)
		rb_strlcpy(host, "unknown", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(journal, sizeof(journal), "journalctl -u %s -n 200",
	    unit);
	/* systemd's invocation id: 32 hex digits. */
	if (inv != NULL && strlen(inv) == 32 &&
	    strspn(inv, "0123456789abcdef") == 32)
		(void)snprintf(invj, sizeof(invj),
		    "journalctl _SYSTEMD_INVOCATION_ID=%s", inv);
	(void)snprintf(a.subject, sizeof(a.subject), "[ReBoss] %s failed on "
	    "%s", unit, host);
	a.json = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
	    "unit", unit, "host", host, "journalctl", journal,
	    "service_result", result != NULL ? json_string(result) :
	    json_null(),
	    "exit_code", code != NULL ? json_string(code) : json_null(),
	    "exit_status", status != NULL ? json_string(status) : json_null(),
	    "run", json_null(), "failing_shops", json_array());
	if (a.json == NULL ||
	    rb_buf_printf(&a.text, "%s failed on %s", unit, host) == -1 ||
	    (result != NULL && rb_buf_printf(&a.text, " (result %s%s%s%s%s)",
	    result, code != NULL ? ", " : "", code != NULL ? code : "",
	    status != NULL ? " " : "", status != NULL ? status : "") == -1) ||
	    rb_buf_puts(&a.text, ".\n") == -1) {
		log_err("out of memory composing the alert");
		goto out;
	}
	if ((job = unit_job(unit)) >= 0) {
		if (db_connect(&db, cfg.database_url, &err) == -1 ||
		    add_run(&cfg, &db, job, &a, &err) == -1) {
			log_warn("alert: the run of %s cannot be read: %s",
			    job_names[job], err.msg);
			if (rb_buf_printf(&a.text, "The last run cannot be "
			    "read: %s\n", err.msg) == -1)
				goto out;
		}
	}
	if (rb_buf_printf(&a.text, "More: %s%s%s; rebossctl status\n",
	    journal, invj[0] != '\0' ? "; " : "", invj) == -1)
		goto out;
	sent = alert_send(&cfg, &a);
	rc = sent == 0 ? 0 : EXIT_PROBLEM;
out:
	alert_free(&a);
	db_close(&db);
	config_free(&cfg);
	return rc;
}

/* --- check ------------------------------------------------------------------------ */

struct check {
	int		 state;
	struct rb_buf	 msg;		/* "a; b; c" */
	struct rb_buf	 perf;		/* "k=v;w;c;min ..." */
	struct rb_buf	 key;		/* what the problems are, for --alert */
	bool		 oom;		/* an append failed: UNKNOWN */
};

static void RB_PRINTF(3, 4)
problem(struct check *c, int state, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One status line: no line breaks, no '|' (perfdata separator). */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '|')
			*p = ' ';
	if (state > c->state)
		c->state = state;
	if (rb_buf_printf(&c->msg, "%s%s", c->msg.len > 0 ? "; " : "",
	    line) == -1)
		c->oom = true;
}

static void RB_PRINTF(2, 3)
perf(struct check *c, const char *fmt, ...)
{
	char item[200];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	if (rb_buf_printf(&c->perf, "%s%s", c->perf.len > 0 ? " " : "",
	    item) == -1)
		c->oom = true;
}

static void
key_add(struct check *c, const char *k)
{
	if (rb_buf_printf(&c->key, "%s%s", c->key.len > 0 ? "," : "", k) == -1)
		c->oom = true;
}

static void
fmt_age(long s, char *out, size_t outsz)
{
	if (s >= 172800)
		(void)snprintf(out, outsz, "%ldh", s / 3600);
	else if (s >= 3600)
		(void)snprintf(out, outsz, "%ldh%02ldm", s / 3600,
		    s % 3600 / 60);
	else
		(void)snprintf(out, outsz, "%ldm", s / 60);
}

static const char jobs_sql[] =
    "SELECT j.name, coalesce(floor(extract(epoch FROM now() - "
    "max(r.completed_at) FILTER (WHERE r.status IN ('completed', "
    "'completed_with_errors'))))::bigint::text, ''), "
    "count(r.id)::text, "
    "coalesce(bool_or(r.status = 'running'), false)::text "
    "FROM unnest($1::text[]) AS j(name) "
    "LEFT JOIN public.job_runs r ON r.job_type = j.name "
    "AND NOT r.dry_run AND r.generation IS NOT NULL "
    "GROUP BY j.name";

static const char failing_sql[] =
    "SELECT count(DISTINCT j.shop_id)::text, "
    "coalesce(string_agg(DISTINCT s.shop_domain, ', '), '') "
    "FROM public.shop_job_status j JOIN public.shops s ON s.id = j.shop_id "
    "WHERE j.consecutive_failures >= $1::int "
    "AND s.connection_status = 'connected'";

/* Tokens a person must renew: an access token without refresh token, or
 * the refresh token itself.  Broken links are the owner's, shown in the
 * dashboard; disconnected shops do not count. */
/* The links the server keeps alive by refreshing (Pinterest, Google).
 * Meta's long-lived token cannot be renewed by the server: only the shop
 * owner can link again, and the integrations route says so
 * (needs_reconnect); an expired Meta token alerting the operator every
 * day would be noise nobody here can act on. */
static const char tokens_sql[] =
    "WITH t AS ("
    " SELECT 'pinterest' AS p, a.shop_id, CASE WHEN a.refresh_token IS NOT "
    "NULL THEN a.refresh_expires_at ELSE a.expires_at END AS exp"
    " FROM public.pinterest_auth a WHERE NOT a.broken"
    " UNION ALL SELECT 'google', a.shop_id, CASE WHEN a.refresh_token IS "
    "NOT NULL THEN a.refresh_expires_at ELSE a.expires_at END"
    " FROM public.google_auth a WHERE NOT a.broken) "
    "SELECT count(*) FILTER (WHERE t.exp <= now())::text, "
    "count(*) FILTER (WHERE t.exp > now() AND t.exp <= now() + "
    "$1::interval)::text, "
    "coalesce(string_agg(DISTINCT s.shop_domain || ' (' || t.p || ')', "
    "', ') FILTER (WHERE t.exp <= now() + $1::interval), '') "
    "FROM t JOIN public.shops s ON s.id = t.shop_id "
    "WHERE s.connection_status = 'connected'";

static int
check_jobs(struct check *c, struct db *db, struct rb_err *err)
{
	struct rb_buf arr = { .max = 512 };
	PGresult *res = NULL;
	const char *p[1];
	char age[32];
	int i, j, rc = -1;

	for (j = 0; j < JOB__COUNT; j++)
		if (rb_buf_printf(&arr, "%s%s", j ? "," : "{", job_names[j])
		    == -1)
			goto out;
	if (rb_buf_puts(&arr, "}") == -1)
		goto out;
	p[0] = arr.data;
	if ((res = db_query(db, jobs_sql, 1, p, err)) == NULL)
		goto out;
	for (j = 0; j < JOB__COUNT; j++) {
		long crit = 2 * job_interval_s[j], warn = crit * 3 / 4, a = -1,
		    runs = 0;
		bool running = false;

		for (i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 0), job_names[j]) == 0)
				break;
		if (i < PQntuples(res)) {
			if (PQgetvalue(res, i, 1)[0] != '\0' &&
			    rb_parse_long(PQgetvalue(res, i, 1), -(1L << 40),
			    1L << 40, &a) == -1)
				a = -1;
			if (rb_parse_long(PQgetvalue(res, i, 2), 0, 1L << 40,
			    &runs) == -1)
				runs = 0;
			running = strcmp(PQgetvalue(res, i, 3), "true") == 0;
		}
		if (a < 0 && runs == 0) {
			problem(c, ST_WARNING, "%s never ran", job_names[j]);
			perf(c, "%s_age=U", job_names[j]);
			key_add(c, job_names[j]);
			continue;
		}
		if (a < 0) {
			problem(c, ST_CRITICAL, "%s never completed (%ld "
			    "runs)", job_names[j], runs);
			perf(c, "%s_age=U", job_names[j]);
			key_add(c, job_names[j]);
			continue;
		}
		perf(c, "%s_age=%lds;%ld;%ld;0", job_names[j], a, warn, crit);
		fmt_age(a, age, sizeof(age));
		if (a > crit) {
			problem(c, ST_CRITICAL, "%s last success %s ago%s",
			    job_names[j], age, running ? " (a run is going)" :
			    "");
			key_add(c, job_names[j]);
		} else if (a > warn && !running) {
			problem(c, ST_WARNING, "%s last success %s ago",
			    job_names[j], age);
			key_add(c, job_names[j]);
		}
	}
	rc = 0;
out:
	if (rc == -1 && err->msg[0] == '\0')
		rb_err_oom(err);
	PQclear(res);
	rb_buf_free(&arr);
	return rc;
}

static int
check_shops_tokens(struct check *c, struct db *db, struct rb_err *err)
{
	PGresult *res = NULL;
	const char *p[1];
	long n = 0, expired = 0, soon = 0;
	char *names = NULL;

	p[0] = CHECK_FAILS_IN_A_ROW;
	if ((res = db_query(db, failing_sql, 1, p, err)) == NULL)
		return -1;
	n = num(PQgetvalue(res, 0, 0));
	perf(c, "failing_shops=%ld;0;;0", n);
	if (n > 0) {
		if ((names = clean_copy(PQgetvalue(res, 0, 1), 120)) == NULL) {
			PQclear(res);
			return rb_err_oom(err);
		}
		problem(c, ST_WARNING, "%ld shop%s failing %s runs in a row "
		    "(%s)", n, n == 1 ? "" : "s", CHECK_FAILS_IN_A_ROW, names);
		key_add(c, "failing");
		free(names);
		names = NULL;
	}
	PQclear(res);
	p[0] = CHECK_TOKEN_WARN;
	if ((res = db_query(db, tokens_sql, 1, p, err)) == NULL)
		return -1;
	expired = num(PQgetvalue(res, 0, 0));
	soon = num(PQgetvalue(res, 0, 1));
	perf(c, "tokens_expired=%ld;;0;0 tokens_expiring=%ld;0;;0", expired,
	    soon);
	if (expired + soon > 0 &&
	    (names = clean_copy(PQgetvalue(res, 0, 2), 120)) == NULL) {
		PQclear(res);
		return rb_err_oom(err);
	}
	if (expired > 0) {
		problem(c, ST_CRITICAL, "%ld token%s expired", expired,
		    expired == 1 ? "" : "s");
		key_add(c, "expired");
	}
	if (soon > 0) {
		problem(c, ST_WARNING, "%ld token%s expiring within %s",
		    soon, soon == 1 ? "" : "s", CHECK_TOKEN_WARN);
		key_add(c, "expiring");
	}
	if (names != NULL)
		problem(c, ST_OK, "renew: %s", names);
	free(names);
	PQclear(res);
	return 0;
}

/* Shopify's X-Shopify-API-Deprecated-Reason answers in each job's last
 * full run, as the job wrote them into metrics_dir (lib/metrics.h).  The
 * project uses nothing deprecated, so any is a WARNING naming the jobs
 * (their journal has the reason).  No metrics_dir or no file: nothing to
 * say. */
static void
check_deprecations(struct check *c, const struct rb_config *cfg)
{
	struct rb_err ignore = { 0 };
	char path[4096], series[200], names[256] = "";
	char *text;
	size_t len, k;
	double v;
	long total = 0;
	int j, n;

	for (j = 0; cfg->metrics_dir != NULL && j < JOB__COUNT; j++) {
		n = snprintf(path, sizeof(path), "%s/reboss_%s.prom",
		    cfg->metrics_dir, job_names[j]);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		text = NULL;
		if (rb_read_file(path, METRICS_MAX_FILE, &text, &len,
		    &ignore) == -1)
			continue;
		(void)snprintf(series, sizeof(series),
		    "reboss_job_last_run_upstream_deprecated{job=\"%s\","
		    "service=\"shopify\"}", job_names[j]);
		v = metrics_find_value(text, series);
		free(text);
		if (v < 1)
			continue;
		total += (long)v;
		k = strlen(names);
		(void)snprintf(names + k, sizeof(names) - k, "%s%s",
		    k > 0 ? ", " : "", job_names[j]);
	}
	perf(c, "shopify_deprecated=%ld;0;;0", total);
	if (total > 0) {
		problem(c, ST_WARNING, "Shopify said %ld call%s of the last "
		    "runs use%s something deprecated (%s; the reason is in "
		    "the job's journal)", total, total == 1 ? "" : "s",
		    total == 1 ? "s" : "", names);
		key_add(c, "deprecated");
	}
}

/* --alert: raise an alert when the state turns bad, its problems change,
 * it lasted another day, or it recovers.  The last alerted state lives in
 * alert_spool_dir/check.state ("STATE KEY EPOCH"). */
static void
check_alert(const struct rb_config *cfg, const struct check *c,
    const char *line)
{
	struct alert a = { .text = { .max = ALERT_TEXT_MAX } };
	struct rb_err err = { 0 };
	char path[4096], *old = NULL, host[256], key[1024], tmp[4200];
	long last_state = ST_OK, last_t = 0;
	size_t len;
	FILE *f;
	int n;

	n = snprintf(path, sizeof(path), "%s/check.state",
	    cfg->alert_spool_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	rb_strlcpy(key, c->key.data != NULL ? c->key.data : "-", sizeof(key));
	if (rb_read_file(path, 4096, &old, &len, &err) == 0) {
		char *sp1 = strchr(old, ' '), *sp2, *nl;

		if (sp1 != NULL && (sp2 = strchr(sp1 + 1, ' ')) != NULL) {
			*sp1 = *sp2 = '\0';
			if ((nl = strchr(sp2 + 1, '\n')) != NULL)
				*nl = '\0';
			if (rb_parse_long(old, 0, 3, &last_state) == -1 ||
			    rb_parse_long(sp2 + 1, 0, 1L << 40, &last_t) == -1)
				last_state = ST_OK;
			else if (last_state == c->state &&
			    strcmp(sp1 + 1, key) == 0 &&
			    time(NULL) - last_t < CHECK_REALERT_S)
				goto out;	/* said already */
		}
	}
	if (c->state == ST_OK && last_state == ST_OK)
		goto out;
	if (gethostname(host, sizeof(host) - 1) == -1)
		rb_strlcpy(host, "unknown", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(a.subject, sizeof(a.subject), "[ReBoss] check %s on %s%s",
	    state_names[c->state], host, c->state == ST_OK ? " (recovered)" :
	    "");
	a.json = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o}",
	    "unit", "reboss-check.service", "host", host,
	    "journalctl", "journalctl -u reboss-check.service -n 200",
	    "check", line, "check_state", c->state, "run", json_null(),
	    "failing_shops", json_array());
	if (a.json == NULL || rb_buf_printf(&a.text, "%s\nHost: %s\nMore: "
	    "rebossctl status; journalctl -u reboss-check.service -n 200\n",
	    line, host) == -1) {
		log_err("out of memory composing the check alert");
		goto out;
	}
	if (alert_send(cfg, &a) == 2)
		goto out;	/* lost: logged; say it again next time */
	/* Remember what was said (spooled counts: it will be delivered). */
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (f = fopen(tmp, "we")) ==
	    NULL) {
		log_warn("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	fprintf(f, "%d %s %lld\n", c->state, key, (long long)time(NULL));
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		log_warn("cannot write %s: %s", path, strerror(errno));
out:
	free(old);
	alert_free(&a);
}

static int
cmd_check(const char *cli_config, const char *sql_dir, bool raise)
{
	struct rb_config cfg;
	struct rb_err err = { 0 };
	struct db db = { 0 };
	struct check c = { .msg = { .max = 4096 }, .perf = { .max = 4096 },
	    .key = { .max = 1000 } };
	struct rb_buf line = { .max = 9000 };
	char *dbmsg;
	size_t left = 0;
	int pending;

	if (sql_dir == NULL)
		sql_dir = getenv("REBOSS_SQLDIR");
	if (sql_dir == NULL || sql_dir[0] == '\0')
		sql_dir = REBOSS_SQLDIR;
	if (config_load(&cfg, config_path(cli_config), &err) == -1) {
		printf("REBOSS UNKNOWN - configuration: %s\n", err.msg);
		return ST_UNKNOWN;
	}
	alert_spool_flush(&cfg, &left);
	if (db_connect(&db, cfg.database_url, &err) == -1 ||
	    db_ping(&db, &err) == -1) {
		if ((dbmsg = clean_copy(err.msg, 160)) != NULL)
			scrub(&cfg, dbmsg);
		problem(&c, ST_CRITICAL, "database unreachable: %s",
		    dbmsg != NULL ? dbmsg : "?");
		free(dbmsg);
		key_add(&c, "database");
		goto out;
	}
	pending = migrate_pending(&db, sql_dir, &err);
	if (pending < 0) {
		problem(&c, ST_UNKNOWN, "migrations cannot be checked: %.160s",
		    err.msg);
		key_add(&c, "migrations");
		goto out;
	}
	perf(&c, "migrations_pending=%d;;0;0", pending);
	if (pending > 0) {
		problem(&c, ST_CRITICAL, "%d migration%s pending (run "
		    "rebossctl migrate)", pending, pending == 1 ? "" : "s");
		key_add(&c, "migrations");
		goto out;	/* the other checks need the schema */
	}
	/* Owners' notifications (owner_mail = 1): the schema is current. */
	(void)owner_mail_send(&cfg, &db);
	rb_err_clear(&err);
	if (check_jobs(&c, &db, &err) == -1 ||
	    check_shops_tokens(&c, &db, &err) == -1) {
		problem(&c, ST_UNKNOWN, "query failed: %.160s", err.msg);
		key_add(&c, "query");
	}
	check_deprecations(&c, &cfg);
out:
	perf(&c, "alerts_spooled=%zu;0;;0", left);
	if (left > 0) {
		problem(&c, ST_WARNING, "%zu alert%s undeliverable, kept in %s",
		    left, left == 1 ? "" : "s", cfg.alert_spool_dir);
		key_add(&c, "spool");
	}
	if (c.msg.len == 0 || c.state == ST_OK) {
		/* OK: say what was checked, then any notes. */
		struct rb_buf m = { .max = 4096 };

		if (rb_buf_printf(&m, "%d jobs fresh, no shop failing, no "
		    "token expiring, database and migrations current%s%s",
		    JOB__COUNT, c.msg.len > 0 ? "; " : "",
		    c.msg.data != NULL ? c.msg.data : "") == -1)
			c.oom = true;
		rb_buf_free(&c.msg);
		c.msg = m;
	}
	if (c.oom || rb_buf_printf(&line, "REBOSS %s - %s | %s",
	    state_names[c.state], c.msg.data != NULL ? c.msg.data : "",
	    c.perf.data != NULL ? c.perf.data : "") == -1) {
		printf("REBOSS UNKNOWN - out of memory\n");
		c.state = ST_UNKNOWN;
		raise = false;
	} else {
		scrub(&cfg, line.data);
		printf("%s\n", line.data);
	}
	(void)fflush(stdout);
	if (raise)
		check_alert(&cfg, &c, line.data);
	db_close(&db);
	config_free(&cfg);
	rb_buf_free(&c.msg);
	rb_buf_free(&c.perf);
	rb_buf_free(&c.key);
	rb_buf_free(&line);
	return c.state;
}

/* --- entry ------------------------------------------------------------------------ */

enum { OPT_SQL_DIR = 256, OPT_ALERT };

int
alert_cmd(const char *cli_config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sql-dir", required_argument, NULL, OPT_SQL_DIR },
		{ "alert", no_argument, NULL, OPT_ALERT },
		{ NULL, 0, NULL, 0 }
	};
	const char *cmd = argv[0], *sql_dir = NULL;
	bool is_check = strcmp(cmd, "check") == 0, raise = false;
	int c, bad = is_check ? ST_UNKNOWN : EXIT_UNUSABLE;

	/* A webhook or sendmail that goes away must not kill us. */
	(void)signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_INFO);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli_config = optarg;
			break;
		case OPT_SQL_DIR:
		case OPT_ALERT:
			if (!is_check) {
				fprintf(stderr, "rebossctl: %s belongs to "
				    "check, not %s\n", argv[optind - 1], cmd);
				return bad;
			}
			if (c == OPT_SQL_DIR)
				sql_dir = optarg;
			else
				raise = true;
			break;
		default:
			fprintf(stderr, "rebossctl: unknown or incomplete "
			    "option '%s'\n", argv[optind - 1]);
			return bad;
		}
	}
	if (is_check) {
		if (optind < argc) {
			fprintf(stderr, "rebossctl: unexpected argument "
			    "'%s'\n", argv[optind]);
			return bad;
		}
		return cmd_check(cli_config, sql_dir, raise);
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "rebossctl: alert wants one UNIT, e.g. "
		    "'rebossctl alert reboss-sales-tracker.service'\n");
		return bad;
	}
	return cmd_alert(cli_config, argv[optind]);
}
