/*
 * job_probe.c - a job built on job_main() whose per-shop work is steered by
 * the environment, for tests/integration/jobs.test.mjs.  It runs as kind
 * sales_tracker (job_runs.job_type must be one of the five): use it only
 * against a throwaway database.
 *
 *   PROBE_SLEEP_MS       work per shop (interrupted by the stop flag)
 *   PROBE_FAIL_DOMAIN    this shop returns an error ("probe failure")
 *   PROBE_CRASH_DOMAIN   this shop's worker raises SIGSEGV
 *   PROBE_EXIT3_DOMAIN   this shop's worker calls _exit(3)
 *   PROBE_HANG_DOMAIN    this shop sleeps until the worker is stopped
 *   PROBE_IGNORE_TERM    "1": workers ignore the stop flag (grace test)
 *   PROBE_OPEN_TX_DOMAIN this shop leaves a transaction open and succeeds
 *   PROBE_KILL_SESSION_DOMAIN  this shop has its own backend terminated
 *                        (pg_terminate_backend) and succeeds
 *   PROBE_LOG_FILE       appends "start PID DOMAIN BACKEND TX" and "done PID
 *                        DOMAIN BACKEND TX" lines (one write each, O_APPEND):
 *                        BACKEND is the session's backend pid (0 when
 *                        none), TX PQtransactionStatus() (0 = idle)
 *   PROBE_COUNT_FILE     "NOW PEAK ARRIVED\n", kept under flock(2): shops in
 *                        progress, the most ever at once, shops started
 *   PROBE_BARRIER        N: the first N shops wait (up to 60 s) until N
 *                        have started, so a peak of N is reached at any
 *                        machine load; a shop that gave up waiting adds
 *                        "barrier-timeout" to PROBE_LOG_FILE
 * A *_DOMAIN value may list several domains separated by commas.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "db.h"
#include "job.h"
#include "util.h"

static bool
listed(const char *env, const char *domain)
{
	const char *v = getenv(env), *p;
	size_t n = strlen(domain);

	if (v == NULL || n == 0)
		return false;
	for (p = v; (p = strstr(p, domain)) != NULL; p += n)
		if ((p == v || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

static void
note(const char *what, const char *domain, const struct db *db)
{
	const char *path = getenv("PROBE_LOG_FILE");
	PGconn *c = db != NULL ? db->conn : NULL;
	char line[400];
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	n = snprintf(line, sizeof(line), "%s %ld %s %d %d\n", what,
	    (long)getpid(), domain, c != NULL ? PQbackendPID(c) : 0,
	    c != NULL ? (int)PQtransactionStatus(c) : -1);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		(void)fprintf(stderr, "probe: short write to %s\n", path);
	(void)close(fd);
}

/*
 * Adds delta to the shops in progress in PROBE_COUNT_FILE (and, for a start,
 * to those started), all under an exclusive flock; returns how many have
 * started, -1 without a file.
 */
static long
count_shops(int delta)
{
	const char *path = getenv("PROBE_COUNT_FILE");
	long now = 0, peak = 0, arrived = 0;
	char buf[96];
	ssize_t n;
	int fd, len;

	if (path == NULL || *path == '\0')
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -1;
	if (flock(fd, LOCK_EX) == -1) {
		(void)close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && sscanf(buf, "%ld %ld %ld", &now, &peak, &arrived) != 3)
		now = peak = arrived = 0;
	now += delta;
	if (now > peak)
		peak = now;
	if (delta > 0)
		arrived += delta;
	len = snprintf(buf, sizeof(buf), "%ld %ld %ld\n", now, peak, arrived);
	if (len > 0 && (pwrite(fd, buf, (size_t)len, 0) != len ||
	    ftruncate(fd, len) == -1))
		(void)fprintf(stderr, "probe: cannot write %s\n", path);
	(void)close(fd);	/* releases the lock */
	return arrived;
}

/* PROBE_BARRIER: hold the first N shops until N have started. */
static void
barrier(long arrived, const char *domain)
{
	const char *v = getenv("PROBE_BARRIER");
	long n = 0, waited;

	if (v == NULL || rb_parse_long(v, 1, 100000, &n) == -1 ||
	    arrived < 0 || arrived > n)
		return;
	for (waited = 0; arrived < n; waited += 5) {
		if (waited >= 60000) {
			note("barrier-timeout", domain, NULL);
			return;
		}
		(void)usleep(5000);
		arrived = count_shops(0);
	}
}

static int
probe_shop(struct job_ctx *ctx, struct rb_err *err)
{
	const char *d = ctx->shop->domain, *v;
	static const sig_atomic_t never = 0;
	long ms = 0;

	note("start", d, ctx->db);
	barrier(count_shops(1), d);
	if (listed("PROBE_CRASH_DOMAIN", d)) {
		/* Die by the signal itself, also under ASan (whose SIGSEGV
		 * handler would turn it into a report and exit status 1). */
		(void)signal(SIGSEGV, SIG_DFL);
		(void)raise(SIGSEGV);
	}
	if (listed("PROBE_EXIT3_DOMAIN", d))
		_exit(3);
	if (listed("PROBE_FAIL_DOMAIN", d))
		return rb_err_set(err, 502, "probe_failure",
		    "probe failure for %s", d);
	if (listed("PROBE_HANG_DOMAIN", d)) {
		while (!*ctx->stop)
			(void)rb_sleep_ms(1000, ctx->stop);
		return rb_err_set(err, 503, "cancelled", "stopped");
	}
	v = getenv("PROBE_SLEEP_MS");
	if (v != NULL && rb_parse_long(v, 0, 3600000, &ms) == -1)
		ms = 0;
	if (ms > 0) {
		v = getenv("PROBE_IGNORE_TERM");
		if (rb_sleep_ms(ms, v != NULL && strcmp(v, "1") == 0 ?
		    &never : ctx->stop) == -1)
			return rb_err_set(err, 503, "cancelled",
			    "stopped after part of %ld ms", ms);
	}
	note("done", d, ctx->db);
	(void)count_shops(-1);
	if (listed("PROBE_OPEN_TX_DOMAIN", d) && db_begin(ctx->db, err) == -1)
		return -1;
	if (listed("PROBE_DELETE_DOMAIN", d)) {
		/* The shop deleted while its worker ran (the owner removed
		 * it from the dashboard): there is no row left to record
		 * the result on. */
		const char *p[1] = { ctx->shop->id };

		if (db_exec(ctx->db, "DELETE FROM public.shops WHERE id = $1",
		    1, p, err) == -1)
			return -1;
	}
	if (listed("PROBE_KILL_SESSION_DOMAIN", d) && db_exec(ctx->db,
	    "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL,
	    err) == -1 && ctx->db->conn != NULL &&
	    PQstatus(ctx->db->conn) == CONNECTION_OK)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct job_def def = {
		.kind = JOB_SALES_TRACKER,
		.program = "job-probe",
		.summary = "Test probe of the job runtime (tests/jobs).",
		.process_shop = probe_shop,
	};

	return job_main(&def, argc, argv);
}
