/*
 * job.c - job_main(): command line, the run, and the parent's loop that
 * claims shops and keeps at most `parallel` workers going (see job.h).
 *
 * The parent keeps SIGTERM, SIGINT, SIGHUP and SIGCHLD blocked except while
 * it waits in ppoll(), so a signal is only ever seen at the top of the loop:
 * handlers just set flags, children are reaped with waitpid(WNOHANG).
 */

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "db.h"
#include "env.h"
#include "http.h"
#include "job_int.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "util.h"

#define JOB_GRACE_DEFAULT_S	30
#define JOB_LEASE_DEFAULT_S	300
#define JOB_POLL_DEFAULT_MS	10000
#define JOB_DB_MAX_FAILURES	20	/* consecutive, then the run fails */
#define JOB_DB_MAX_WAIT_MS	30000	/* backoff cap: ~8 min in all */

static volatile sig_atomic_t got_term;	/* signal number */
static volatile sig_atomic_t got_chld;

static void
on_term(int sig)
{
	got_term = sig;
}

static void
on_chld(int sig)
{
	(void)sig;
	got_chld = 1;
}

enum shop_state {
	SHOP_PENDING,
	SHOP_RUNNING,
	SHOP_FINISHED,		/* processed by this run (ok or failed) */
	SHOP_SKIPPED,		/* done by another run, or deleted */
	SHOP_CANCELLED,		/* interrupted by our cancellation */
	SHOP_UNRESOLVED		/* worker ended, result not read yet (db) */
};

struct slot {
	pid_t	 pid;		/* 0: free */
	size_t	 shop;
	int64_t	 started;	/* mono ms */
};

struct run {
	const struct job_def	*def;
	struct rb_config	 cfg;
	struct db		 db;
	struct job_lease_ref	 ref;
	struct job_shop		*shops;
	size_t			 nshops;
	unsigned char		*state;
	int64_t			*retry_at;
	int			*wstatus;	/* wait status, unresolved */
	int64_t			*took;		/* ms, unresolved */
	size_t			 nunresolved;
	struct slot		*slots;
	struct db		*sessions;	/* one per slot (job_worker.c) */
	bool			 handoff;	/* hand sessions down */
	int64_t			 session_retry_at;
	int			 parallel;
	int			 nrunning;
	size_t			 npending;
	size_t			 first;		/* no pending shop before it */
	size_t			 processed, failed, skipped, cancelled;
	size_t			 withheld;	/* processed, recorded 'skipped' */
	json_t			*errlog;
	size_t			 errlog_dropped;
	char			 host[256];
	char			 gen[64];
	bool			 dry_run;
	int			 lease_s, grace_s, poll_ms;
	int64_t			 t0, next_heartbeat, grace_deadline;
	int64_t			 db_retry_at, last_progress;
	bool			 cancelling, killed_all, dirty, db_lost;
	bool			 full;		/* no --shop, no --dry-run */
	int			 db_failures;
	int			 stop_sig;
	char			 db_error[600];
	sigset_t		 runmask;	/* signals open: used in ppoll */
};

/* ------------------------------------------------------------------------ */

void
job_describe_wait_status(int st, char *buf, size_t size)
{
	if (WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));

		(void)snprintf(buf, size, "killed by signal %d (SIG%s)%s",
		    WTERMSIG(st), name != NULL ? name : "?",
		    WCOREDUMP(st) ? ", core dumped" : "");
	} else if (WIFEXITED(st)) {
		(void)snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(st));
	} else {
		(void)snprintf(buf, size, "ended with wait status 0x%x", st);
	}
}

static void
usage(FILE *f, const struct job_def *def)
{
	(void)fprintf(f,
	    "Usage: %s [--config FILE] [--shop ID|DOMAIN] [--dry-run] "
	    "[--parallel N]\n"
	    "%s\n\n"
	    "  --config FILE     configuration file (default: $REBOSS_CONFIG, "
	    "else %s)\n"
	    "  --shop ID|DOMAIN  process only this shop (uuid or "
	    "name[.myshopify.com])\n"
	    "  --dry-run         decide and record, change nothing upstream\n"
	    "  --parallel N      workers at once (default: [%s] parallel)\n"
	    "  --help, --version\n\n"
	    "Exit status: 0 every shop succeeded, 1 shops failed, 2 could not "
	    "run.\n",
	    def->program, def->summary != NULL ? def->summary : "",
	    CONFIG_DEFAULT_PATH, job_names[def->kind]);
}

static void
notify_status(struct run *r)
{
	double min = (double)(rb_mono_ms() - r->t0) / 60000.0;
	size_t done = r->processed + r->skipped;
	double rate = min > 0.0 ? (double)r->processed / min : 0.0;

	if (r->skipped > 0)
		(void)sd_notifyf(0, "STATUS=%zu/%zu shops done, %zu failed, "
		    "%.1f shops/min (%zu by other runs)", done, r->nshops,
		    r->failed, rate, r->skipped);
	else
		(void)sd_notifyf(0, "STATUS=%zu/%zu shops done, %zu failed, "
		    "%.1f shops/min", done, r->nshops, r->failed, rate);
}

static void
errlog_add(struct run *r, const char *shop_id, const char *error)
{
	json_t *e;

	if (json_array_size(r->errlog) >= JOB_ERROR_LOG_MAX) {
		r->errlog_dropped++;
		return;
	}
	e = json_pack("{s:s, s:s}", "shop_id", shop_id, "error",
	    error != NULL && *error ? error : "failed");
	if (e == NULL || json_array_append_new(r->errlog, e) == -1)
		r->errlog_dropped++;
}

/* A database failure of the parent: back off, and give up after
 * JOB_DB_MAX_FAILURES in a row (the run then ends 'failed'). */
static void
db_trouble(struct run *r, const char *what, const struct rb_err *err)
{
	int64_t wait;

	r->db_failures++;
	(void)snprintf(r->db_error, sizeof(r->db_error), "%s: %s", what,
	    err->msg);
	if (r->db_failures >= JOB_DB_MAX_FAILURES) {
		log_err("database failed %d times in a row; no more shops are "
		    "claimed (%s)", r->db_failures, r->db_error);
		r->db_lost = true;
		return;
	}
	wait = 500LL << (r->db_failures < 7 ? r->db_failures : 7);
	if (wait > JOB_DB_MAX_WAIT_MS)
		wait = JOB_DB_MAX_WAIT_MS;
	log_warn("%s failed (%s); retrying in %.1f s", what, err->msg,
	    (double)wait / 1000.0);
	r->db_retry_at = rb_mono_ms() + wait;
}

/* ------------------------------------------------------------------------ */

static void
record_parent(struct run *r, size_t i, const char *outcome, const char *msg)
{
	struct rb_err err;
	bool held;

	rb_err_clear(&err);
	if (jobdb_record(&r->db, &r->ref, r->shops[i].id, outcome, msg, 0,
	    &held, &err) == -1)
		log_err("shop %s: could not record '%s' (%s): %s",
		    r->shops[i].domain, outcome, msg, err.msg);
}

static void
shop_failed(struct run *r, size_t i, const char *msg)
{
	r->state[i] = SHOP_FINISHED;
	r->processed++;
	r->failed++;
	errlog_add(r, r->shops[i].id, msg);
}

/* A worker ended: trust what its lease row says it recorded; record
 * anything else here with the cause. */
static int
resolve(struct run *r, size_t i, int st, int64_t took)
{
	const struct job_shop *shop = &r->shops[i];
	char outcome[16], error[600], cause[128], msg[700];
	struct rb_err err;
	bool ours;

	rb_err_clear(&err);
	r->dirty = true;
	job_describe_wait_status(st, cause, sizeof(cause));
	if (r->db_lost) {
		(void)snprintf(msg, sizeof(msg), "The worker process ended "
		    "(%s); its result is unknown (database: %.300s).", cause,
		    r->db_error);
		shop_failed(r, i, msg);
		return 0;
	}
	if (rb_mono_ms() < r->db_retry_at)
		return -1;	/* backing off: one failure is enough */
	if (jobdb_outcome(&r->db, &r->ref, shop->id, &ours, outcome,
	    sizeof(outcome), error, sizeof(error), &err) == -1) {
		/* Read it again once the database is back. */
		db_trouble(r, "reading a worker's result", &err);
		return -1;
	}
	if (!ours) {
		log_err("shop %s: worker %s after its lease was taken over "
		    "by another run", shop->domain, cause);
		shop_failed(r, i, "Its lease was taken over by another run "
		    "(lease renewals failed).");
		return 0;
	}
	r->db_failures = 0;
	if (strcmp(outcome, "success") == 0 ||
	    strcmp(outcome, "skipped") == 0) {
		r->state[i] = SHOP_FINISHED;
		r->processed++;
		if (outcome[1] == 'k')
			r->withheld++;
		return 0;
	}
	if (strcmp(outcome, "failed") == 0) {
		shop_failed(r, i, error);
		return 0;
	}
	if (r->cancelling) {
		/* Interrupted by our cancellation: released, not counted. */
		if (outcome[0] == '\0') {
			(void)snprintf(msg, sizeof(msg), "The run was "
			    "cancelled; the worker %s before it finished.",
			    cause);
			record_parent(r, i, "cancelled", msg);
		}
		log_notice("shop %s: interrupted by the cancellation (worker "
		    "%s after %lld ms)", shop->domain, cause, (long long)took);
		r->state[i] = SHOP_CANCELLED;
		r->cancelled++;
		return 0;
	}
	/* Unrecorded ending, or stopped by a signal we did not send. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == JOB_WORKER_NODB)
		(void)snprintf(msg, sizeof(msg), "The worker could not connect "
		    "to the database (%s).", cause);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == JOB_WORKER_NORECORD)
		(void)snprintf(msg, sizeof(msg), "The worker could not record "
		    "its result in the database (%s).", cause);
	else if (strcmp(outcome, "cancelled") == 0)
		(void)snprintf(msg, sizeof(msg), "The worker was stopped by a "
		    "signal before it finished (%s).", cause);
	else
		(void)snprintf(msg, sizeof(msg), "The worker process ended: "
		    "%s.", cause);
	log_err("shop %s failed: %s (after %lld ms)", shop->domain, msg,
	    (long long)took);
	rb_err_clear(&err);
	record_parent(r, i, "failed", msg);
	shop_failed(r, i, msg);
	return 0;
}

static void
worker_ended(struct run *r, struct slot *s, int st)
{
	size_t i = s->shop;
	int64_t took = rb_mono_ms() - s->started;

	r->nrunning--;
	if (resolve(r, i, st, took) == -1) {
		r->state[i] = SHOP_UNRESOLVED;
		r->wstatus[i] = st;
		r->took[i] = took;
		r->nunresolved++;
	}
}

/* Workers whose result could not be read while the database was away. */
static void
resolve_pending(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nshops && r->nunresolved > 0; i++) {
		if (r->state[i] != SHOP_UNRESOLVED)
			continue;
		if (resolve(r, i, r->wstatus[i], r->took[i]) == -1)
			return;
		r->nunresolved--;
	}
}

static void
reap(struct run *r)
{
	pid_t pid;
	int st, k;

	got_chld = 0;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (k = 0; k < r->parallel; k++)
			if (r->slots[k].pid == pid)
				break;
		if (k == r->parallel) {
			log_warn("reaped unknown child %d", (int)pid);
			continue;
		}
		worker_ended(r, &r->slots[k], st);
		r->slots[k].pid = 0;
		/* Reused only when the worker says it left it idle. */
		if (r->sessions[k].conn != NULL && (!WIFEXITED(st) ||
		    WEXITSTATUS(st) > JOB_WORKER_SKIPPED))
			db_close(&r->sessions[k]);
	}
}

/*
 * The slot's session, opened here in the parent so that it outlives the
 * worker.  Without one (sessions off, TLS, or the database refusing) the
 * worker connects itself, as it always could.
 */
static void
slot_session(struct run *r, struct db *session)
{
	struct rb_err err;
	int64_t now;

	if (!r->handoff || session->conn != NULL)
		return;
	now = rb_mono_ms();
	if (now < r->session_retry_at)
		return;
	rb_err_clear(&err);
	if (db_connect(session, r->cfg.database_url, &err) == -1) {
		log_warn("workers connect one by one for a while: %s",
		    err.msg);
		r->session_retry_at = now + JOB_DB_MAX_WAIT_MS;
		return;
	}
	if (PQsslInUse(session->conn) || PQgssEncInUse(session->conn)) {
		/* Encryption state cannot follow the session across fork. */
		log_info("database sessions are encrypted: every worker opens "
		    "its own");
		db_close(session);
		r->handoff = false;
	}
}

static void
spawn(struct run *r, size_t i)
{
	struct job_worker w;
	char msg[300];
	pid_t pid;
	int k;

	for (k = 0; k < r->parallel; k++)
		if (r->slots[k].pid == 0)
			break;
	if (k == r->parallel) {		/* cannot happen: caller checked */
		record_parent(r, i, "cancelled", "no free worker slot");
		r->state[i] = SHOP_PENDING;
		return;
	}
	slot_session(r, &r->sessions[k]);
	memset(&w, 0, sizeof(w));
	w.def = r->def;
	w.cfg = &r->cfg;
	w.shop = &r->shops[i];
	w.ref = &r->ref;
	w.dry_run = r->dry_run;
	w.sessions = r->sessions;
	w.nsessions = (size_t)r->parallel;
	w.slot = (size_t)k;
	w.parent_db = &r->db;
	w.parent_pid = getpid();
	w.mask = &r->runmask;
	(void)fflush(NULL);
	pid = fork();
	if (pid == 0)
		job_worker_main(&w);	/* never returns */
	if (pid == -1) {
		(void)snprintf(msg, sizeof(msg), "could not start a worker: "
		    "fork: %s", strerror(errno));
		log_err("shop %s failed: %s", r->shops[i].domain, msg);
		record_parent(r, i, "failed", msg);
		shop_failed(r, i, msg);
		r->dirty = true;
		return;
	}
	r->slots[k].pid = pid;
	r->slots[k].shop = i;
	r->slots[k].started = rb_mono_ms();
	r->state[i] = SHOP_RUNNING;
	r->nrunning++;
	log_debug("shop %s: worker %d", r->shops[i].domain, (int)pid);
}

/* Claims pending shops while there are free slots. */
static void
fill(struct run *r)
{
	struct rb_err err;
	enum job_claim res;
	char info[300];
	int64_t now = rb_mono_ms();
	size_t i;

	rb_err_clear(&err);
	while (r->first < r->nshops && r->state[r->first] != SHOP_PENDING)
		r->first++;
	for (i = r->first; i < r->nshops && r->nrunning < r->parallel; i++) {
		if (r->state[i] != SHOP_PENDING || r->retry_at[i] > now)
			continue;
		if (jobdb_claim(&r->db, &r->ref, r->shops[i].id, r->host,
		    (long)getpid(), r->lease_s, r->gen, &res, info,
		    sizeof(info), &err) == -1) {
			db_trouble(r, "claiming a shop", &err);
			return;
		}
		r->db_failures = 0;
		switch (res) {
		case JOB_CLAIM_WON:
			if (info[0] != '\0')
				log_notice("shop %s: %s", r->shops[i].domain,
				    info);
			r->npending--;
			spawn(r, i);
			break;
		case JOB_CLAIM_DONE:
		case JOB_CLAIM_GONE:
			log_info("shop %s: skipped, %s", r->shops[i].domain,
			    res == JOB_CLAIM_GONE ? "deleted meanwhile" : info);
			r->state[i] = SHOP_SKIPPED;
			r->npending--;
			r->skipped++;
			r->dirty = true;
			break;
		case JOB_CLAIM_HELD:
			log_debug("shop %s: %s; retrying later",
			    r->shops[i].domain, info);
			r->retry_at[i] = now + r->poll_ms;
			break;
		}
	}
}

static void
signal_workers(struct run *r, int sig)
{
	int k;

	for (k = 0; k < r->parallel; k++)
		if (r->slots[k].pid > 0)
			(void)kill(r->slots[k].pid, sig);
}

static void
begin_cancel(struct run *r)
{
	r->cancelling = true;
	r->stop_sig = got_term;
	r->grace_deadline = rb_mono_ms() + (int64_t)r->grace_s * 1000;
	(void)sd_notify(0, "STOPPING=1");
	log_notice("received SIG%s: no more shops are claimed; asking %d "
	    "workers to stop (%d s grace)", sigabbrev_np(r->stop_sig),
	    r->nrunning, r->grace_s);
	signal_workers(r, SIGTERM);
}

static void
heartbeat(struct run *r, bool renew)
{
	struct rb_err err;

	rb_err_clear(&err);
	if (jobdb_heartbeat(&r->db, &r->ref, r->lease_s, renew, r->processed,
	    r->failed, &err) == -1)
		log_warn("could not renew leases / report progress: %s",
		    err.msg);
	r->last_progress = rb_mono_ms();
}

static int64_t
next_wakeup(const struct run *r, int64_t now)
{
	int64_t t = now + 1000;
	size_t i;

	if (r->next_heartbeat < t)
		t = r->next_heartbeat;
	if (r->cancelling && !r->killed_all && r->grace_deadline < t)
		t = r->grace_deadline;
	if (r->nunresolved > 0 && r->db_retry_at > now && r->db_retry_at < t)
		t = r->db_retry_at;
	if (!r->cancelling && !r->db_lost && r->nrunning < r->parallel) {
		if (r->db_retry_at > now && r->db_retry_at < t)
			t = r->db_retry_at;
		for (i = r->first; i < r->nshops; i++)
			if (r->state[i] == SHOP_PENDING && r->retry_at[i] < t)
				t = r->retry_at[i];
	}
	return t < now ? now : t;
}

static void
loop(struct run *r)
{
	struct timespec ts;
	int64_t now, wake;

	for (;;) {
		if (got_term && !r->cancelling)
			begin_cancel(r);
		reap(r);
		now = rb_mono_ms();
		if (r->cancelling && !r->killed_all &&
		    now >= r->grace_deadline && r->nrunning > 0) {
			log_warn("grace period over: killing %d workers",
			    r->nrunning);
			signal_workers(r, SIGKILL);
			r->killed_all = true;
		}
		if (r->nunresolved > 0 && (r->db_lost || now >= r->db_retry_at))
			resolve_pending(r);
		if (!r->cancelling && !r->db_lost && r->nunresolved == 0 &&
		    now >= r->db_retry_at)
			fill(r);
		if (r->dirty) {
			notify_status(r);
			if (rb_mono_ms() - r->last_progress >= 1000)
				heartbeat(r, false);
			r->dirty = false;
		}
		if (r->nrunning == 0 && r->nunresolved == 0 &&
		    (r->cancelling || r->db_lost || r->npending == 0))
			break;
		now = rb_mono_ms();
		if (now >= r->next_heartbeat) {
			heartbeat(r, true);
			r->next_heartbeat = now + (int64_t)r->lease_s * 200;
		}
		wake = next_wakeup(r, now);
		ts.tv_sec = (time_t)((wake - now) / 1000);
		ts.tv_nsec = (long)((wake - now) % 1000) * 1000000L;
		if (!got_term && !got_chld)
			(void)ppoll(NULL, 0, &ts, &r->runmask);
	}
}

/* ------------------------------------------------------------------------ */

/* node_exporter textfile metrics of a full run (lib/metrics.c, owner:
 * monitoring); a failure is logged and changes nothing else. */
static void
write_metrics(const struct run *r, const char *status)
{
	struct metrics_run m;
	struct rb_err err;

	memset(&m, 0, sizeof(m));
	rb_err_clear(&err);
	m.job = r->ref.job_type;
	m.status = status;
	m.finished = (double)rb_now_ms() / 1000.0;
	m.duration_s = (double)(rb_mono_ms() - r->t0) / 1000.0;
	m.started = m.finished - m.duration_s;
	m.total = r->nshops;
	m.processed = r->processed;
	m.failed = r->failed;
	m.skipped = r->skipped;
	m.cancelled = r->cancelled;
	if (metrics_job_finished(&r->cfg, &m, &err) == -1)
		log_warn("could not write the run's metrics: %s", err.msg);
}

static int
finish(struct run *r)
{
	struct rb_err err;
	const char *status, *reason = NULL;
	char why[800];
	char *json = NULL;
	int attempt, rc;

	if (r->db_lost) {
		status = "failed";
		(void)snprintf(why, sizeof(why), "database unreachable: %s",
		    r->db_error);
		reason = why;
	} else if (r->cancelling) {
		status = "cancelled";
		(void)snprintf(why, sizeof(why), "signal SIG%s; %zu shops "
		    "interrupted, %zu not started", sigabbrev_np(r->stop_sig),
		    r->cancelled, r->npending);
		reason = why;
	} else {
		status = r->failed > 0 ? "completed_with_errors" : "completed";
	}
	if (r->errlog_dropped > 0)
		log_notice("error_log keeps the first %d failures; %zu more "
		    "are in the journal only", JOB_ERROR_LOG_MAX,
		    r->errlog_dropped);
	json = json_dumps(r->errlog, JSON_COMPACT);
	if (json == NULL) {
		log_err("out of memory while writing error_log");
		return JOB_EXIT_CANNOT_RUN;
	}
	/* The last word of the run: worth a few tries over a database hiccup
	 * (a reconnect is part of db_exec already). */
	rc = -1;
	for (attempt = 0; attempt < 5 && rc == -1; attempt++) {
		rb_err_clear(&err);
		if (attempt > 0)
			(void)rb_sleep_ms(2000LL * attempt, NULL);
		rc = jobdb_run_finish(&r->db, &r->ref, status, reason,
		    r->processed, r->failed, json, &err);
		if (rc == -1)
			log_warn("could not record the end of the run: %s",
			    err.msg);
	}
	free(json);
	(void)sd_notify(0, "STOPPING=1");
	notify_status(r);
	/* "P of T shops processed, F failed" leads: tools and the demo read it. */
	log_notice("run %s %s: %zu of %zu shops processed, %zu failed, %zu "
	    "skipped with a reason, %zu done by other runs, %zu interrupted, "
	    "%lld s", r->ref.run_id, status, r->processed, r->nshops,
	    r->failed, r->withheld, r->skipped, r->cancelled,
	    (long long)((rb_mono_ms() - r->t0) / 1000));
	if (r->full)
		write_metrics(r, status);
	if (rc == -1 || r->db_lost)
		return JOB_EXIT_CANNOT_RUN;
	if (r->failed > 0)
		return JOB_EXIT_FAILED;
	if (r->cancelling)
		return -r->stop_sig;	/* die by it: see job_main */
	return JOB_EXIT_OK;
}

static void
run_free(struct run *r)
{
	int k;

	for (k = 0; r->sessions != NULL && k < r->parallel; k++)
		db_close(&r->sessions[k]);
	free(r->sessions);
	db_close(&r->db);
	config_free(&r->cfg);
	free(r->shops);
	free(r->state);
	free(r->retry_at);
	free(r->wstatus);
	free(r->took);
	free(r->slots);
	json_decref(r->errlog);
}

static int
setup_signals(struct run *r)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return -1;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &block, &r->runmask) == -1)
		return -1;
	sigdelset(&r->runmask, SIGTERM);
	sigdelset(&r->runmask, SIGINT);
	sigdelset(&r->runmask, SIGHUP);
	sigdelset(&r->runmask, SIGCHLD);
	return 0;
}

/* The command line.  Returns -1 to go on, else the exit code (--help,
 * --version, or a bad argument after saying what was wrong). */
static int
job_args(const struct job_def *def, int argc, char **argv, struct run *r,
    const char **cfg_arg, const char **shop_arg, long *parallel)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "shop", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*cfg_arg = optarg;
			break;
		case 's':
			*shop_arg = optarg;
			break;
		case 'n':
			r->dry_run = true;
			break;
		case 'p':
			if (rb_parse_long(optarg, CONFIG_PARALLEL_MIN,
			    CONFIG_PARALLEL_MAX, parallel) == -1) {
				(void)fprintf(stderr, "%s: --parallel wants a "
				    "number from %d to %d, not '%s'\n",
				    def->program, CONFIG_PARALLEL_MIN,
				    CONFIG_PARALLEL_MAX, optarg);
				return JOB_EXIT_CANNOT_RUN;
			}
			break;
		case 'h':
			usage(stdout, def);
			return JOB_EXIT_OK;
		case 'V':
			(void)printf("%s %s\n", def->program, PACKAGE_VERSION);
			return JOB_EXIT_OK;
		default:
			(void)fprintf(stderr, "%s: unknown or incomplete "
			    "option '%s'\n", def->program,
			    argv[optind - 1] != NULL ? argv[optind - 1] : "");
			usage(stderr, def);
			return JOB_EXIT_CANNOT_RUN;
		}
	}
	if (optind < argc) {
		(void)fprintf(stderr, "%s: unexpected argument '%s'\n",
		    def->program, argv[optind]);
		usage(stderr, def);
		return JOB_EXIT_CANNOT_RUN;
	}
	return -1;
}

/* The configuration, the knobs and the names of the run. */
static int
job_settings(struct run *r, const char *cfg_arg, const char *shop_arg,
    long parallel, struct rb_err *err)
{
	const struct job_def *def = r->def;
	int n;

	if (config_load(&r->cfg, config_path(cfg_arg), err) == -1)
		return -1;
	/* Both were checked against CONFIG_PARALLEL_MIN..MAX. */
	r->parallel = parallel > 0 ? (int)parallel : r->cfg.parallel[def->kind];
	r->grace_s = (int)rb_env_long("REBOSS_JOB_GRACE_SEC", 0, 86400,
	    JOB_GRACE_DEFAULT_S);
	r->lease_s = (int)rb_env_long("REBOSS_JOB_LEASE_SEC", 5, 86400,
	    JOB_LEASE_DEFAULT_S);
	r->poll_ms = (int)rb_env_long("REBOSS_JOB_POLL_MS", 10, 3600000,
	    JOB_POLL_DEFAULT_MS);
	r->handoff = rb_env_long("REBOSS_JOB_SESSIONS", 0, 1, 1) == 1;
	if (gethostname(r->host, sizeof(r->host) - 1) == -1)
		rb_strlcpy(r->host, "unknown", sizeof(r->host));
	r->ref.job_type = job_names[def->kind];
	r->ref.write_status = !r->dry_run;
	r->full = shop_arg == NULL && !r->dry_run;
	n = snprintf(r->ref.lease_type, sizeof(r->ref.lease_type), "%s%s",
	    job_names[def->kind], r->dry_run ? ":dry-run" : "");
	if (n < 0 || (size_t)n >= sizeof(r->ref.lease_type))
		return rb_err_set(err, 500, "internal_error", "The lease name "
		    "of %s does not fit.", job_names[def->kind]);
	return 0;
}

/* The database, the shops to process and the run's own state.  Every
 * failure is logged here. */
static int
job_prepare(struct run *r, const char *shop_arg)
{
	struct rb_err err;

	rb_err_clear(&err);
	if (http_global_init() == -1) {
		log_err("libcurl could not be initialised");
		return -1;
	}
	if (http_ca_preload(r->cfg.ca_file) == -1)
		log_warn("the trusted CAs (%s) could not be loaded before the "
		    "workers start; each worker loads them", r->cfg.ca_file !=
		    NULL && r->cfg.ca_file[0] != '\0' ? r->cfg.ca_file :
		    "the system's");
	if (db_connect(&r->db, r->cfg.database_url, &err) == -1) {
		log_err("cannot connect to the database: %s", err.msg);
		return -1;
	}
	if (migrate_require(&r->db, MIGRATE_REQUIRED, &err) == -1 ||
	    jobdb_select_shops(&r->db, r->ref.job_type, shop_arg, &r->shops,
	    &r->nshops, &err) == -1) {
		log_err("%s", err.msg);
		return -1;
	}
	r->state = calloc(r->nshops + 1, 1);
	r->retry_at = calloc(r->nshops + 1, sizeof(*r->retry_at));
	r->slots = calloc((size_t)r->parallel, sizeof(*r->slots));
	r->sessions = calloc((size_t)r->parallel, sizeof(*r->sessions));
	r->wstatus = calloc(r->nshops + 1, sizeof(*r->wstatus));
	r->took = calloc(r->nshops + 1, sizeof(*r->took));
	r->errlog = json_array();
	if (r->state == NULL || r->retry_at == NULL || r->slots == NULL ||
	    r->sessions == NULL ||
	    r->wstatus == NULL || r->took == NULL || r->errlog == NULL) {
		log_err("out of memory for %zu shops", r->nshops);
		return -1;
	}
	r->npending = r->nshops;
	if (setup_signals(r) == -1) {
		log_err("cannot set up signal handling: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The run recorded in job_runs (after failing runs whose lease ran
 * out) and announced. */
static int
job_open_run(struct run *r, const char *shop_arg)
{
	struct rb_err err;

	rb_err_clear(&err);
	if (jobdb_fail_stale_runs(&r->db, r->ref.job_type, r->lease_s,
	    &err) == -1)
		log_warn("could not look for abandoned runs: %s", err.msg);
	rb_err_clear(&err);
	if (rb_uuid_v4(r->ref.run_id) == -1) {
		log_err("cannot generate a run id");
		return -1;
	}
	if (jobdb_run_start(&r->db, &r->ref, r->host, r->nshops, r->dry_run,
	    shop_arg == NULL && !r->dry_run, r->lease_s, r->gen,
	    sizeof(r->gen), &err) == -1) {
		log_err("cannot record the run in job_runs: %s", err.msg);
		return -1;
	}
	log_set_field("RUN_ID", r->ref.run_id);
	r->t0 = rb_mono_ms();
	r->last_progress = r->t0;
	r->next_heartbeat = r->t0 + (int64_t)r->lease_s * 200;
	(void)sd_notify(0, "READY=1");
	notify_status(r);
	log_notice("run %s started on %s: %zu shops, %d at once%s%s, "
	    "generation %s", r->ref.run_id, r->host, r->nshops, r->parallel,
	    r->dry_run ? ", dry run" : "", shop_arg != NULL ? ", one shop" :
	    "", r->gen);
	return 0;
}

/* Cancelled without failures: end by the signal we got, so the caller
 * (shell, systemd) sees a clean stop by it. */
static int
exit_by_signal(int sig)
{
	struct sigaction sa;
	sigset_t s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigaction(sig, &sa, NULL);
	sigemptyset(&s);
	sigaddset(&s, sig);
	(void)sigprocmask(SIG_UNBLOCK, &s, NULL);
	(void)raise(sig);
	return JOB_EXIT_FAILED;	/* not reached */
}

int
job_main(const struct job_def *def, int argc, char **argv)
{
	struct run run, *r = &run;
	struct rb_err err;
	const char *cfg_arg = NULL, *shop_arg = NULL;
	long parallel = 0;
	int rc = JOB_EXIT_CANNOT_RUN;

	memset(r, 0, sizeof(*r));
	rb_err_clear(&err);
	r->def = def;
	log_init(def->program);
	log_set_field("JOB", job_names[def->kind]);
	if ((rc = job_args(def, argc, argv, r, &cfg_arg, &shop_arg,
	    &parallel)) != -1)
		return rc;
	rc = JOB_EXIT_CANNOT_RUN;
	if (job_settings(r, cfg_arg, shop_arg, parallel, &err) == -1) {
		log_err("%s", err.msg);
		goto out;
	}
	if (job_prepare(r, shop_arg) == -1 || job_open_run(r, shop_arg) == -1)
		goto out;
	/* Upstream counters shared with the forked workers (metrics.h). */
	if (r->full && metrics_upstream_share() == -1)
		log_warn("no upstream metrics for this run: mmap failed");
	loop(r);
	rc = finish(r);
out:
	run_free(r);
	if (rc < 0)
		rc = exit_by_signal(-rc);
	return rc;
}
