/*
 * job_worker.c - the forked worker: one shop, a database session of its
 * own for the shop's lifetime, its own HTTP client, then _exit().
 *
 * The session: the parent keeps one open PostgreSQL session per slot and
 * hands it down through fork() to each worker of that slot in turn (a new
 * backend per shop costs more server CPU than most shops' own work).  The
 * worker owns it alone while it runs; at the end it leaves it idle (no
 * transaction, nothing unread) and exits without PQfinish(), so the session
 * lives on in the parent for the next shop; the exit status says whether
 * it did (job_int.h).  Only plain sessions are handed down: TLS state
 * cannot be shared across processes, so the parent never offers one.
 *
 * Every other session that came along with fork() (the parent's own, the
 * other slots') is never used and never PQfinish()ed (a Terminate message
 * would end it for its owner): /dev/null is laid over its descriptor, so
 * that even a stray write cannot reach the server.  Every path ends in
 * _exit(): no atexit handler or stdio buffer of the parent runs twice.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "db.h"
#include "env.h"
#include "http.h"
#include "job_int.h"
#include "shop.h"
#include "shopify.h"
#include "log.h"
#include "shop_limits.h"
#include "util.h"

static volatile sig_atomic_t worker_stop;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
worker_signals(const sigset_t *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, mask, NULL);
}

/* Keeps the descriptor number taken (so nothing else lands on it) while
 * cutting it off from the server. */
static void
disarm(const struct db *db, int nul)
{
	int fd;

	if (db == NULL || db->conn == NULL || (fd = PQsocket(db->conn)) < 0 ||
	    fd == nul)
		return;
	if (nul < 0 || dup2(nul, fd) != fd)
		(void)close(fd);
	else
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void
disarm_sessions(const struct job_worker *w)
{
	size_t i;
	int nul;

	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	disarm(w->parent_db, nul);
	for (i = 0; i < w->nsessions; i++)
		if (i != w->slot)
			disarm(&w->sessions[i], nul);
	if (nul >= 0)
		(void)close(nul);
}

/* An idle session has nothing to say: anything readable (a FATAL from a
 * terminated backend, EOF) or an error means it is not fit for use. */
static bool
session_idle(PGconn *conn)
{
	struct pollfd pfd;

	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE ||
	    (pfd.fd = PQsocket(conn)) < 0)
		return false;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* Takes the slot's session when it is fit, else connects.  *backend is
 * the handed session's backend pid (0: none taken). */
static int
worker_db(const struct job_worker *w, struct db *db, int *backend,
    struct rb_err *err)
{
	const struct db *own = w->sessions != NULL && w->slot < w->nsessions ?
	    &w->sessions[w->slot] : NULL;

	*backend = 0;
	if (own != NULL && own->conn != NULL) {
		if (session_idle(own->conn)) {
			*db = *own;
			*backend = PQbackendPID(db->conn);
			return 0;
		}
		/* Left alone (the parent's copy owns the memory; the exit
		 * status tells the parent to close it). */
		log_info("the slot's database session is gone; connecting");
	}
	return db_connect(db, w->cfg->database_url, err);
}

/* The session goes back only exactly as it came: same backend, idle. */
static bool
worker_db_return(struct db *db, int backend)
{
	if (backend == 0 || db->conn == NULL || db->in_tx ||
	    PQbackendPID(db->conn) != backend || !session_idle(db->conn)) {
		db_close(db);
		return false;
	}
	return true;
}

int
job_skip(struct rb_err *err, const char *fmt, ...)
{
	va_list ap;

	err->status = 200;
	(void)rb_strlcpy(err->code, "shop_skipped", sizeof(err->code));
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return JOB_SHOP_SKIPPED;
}

int
job_shopify_open(struct job_ctx *ctx, struct shopify *sh, struct rb_err *err)
{
	if (shop_client_open(sh, ctx->db, ctx->cfg, ctx->http, ctx->shop->id,
	    0, err) == -1)
		return -1;
	sh->stop = ctx->stop;
	return 0;
}

/* JOB_SHOP_SKIPPED with the reason when the shop is not connected (or
 * gone); 0 when it is (or cannot be read: the job's own error stands). */
static int
not_connected(struct db *db, const char *shop_id, struct rb_err *err)
{
	struct shop sh;
	struct rb_err e;

	rb_err_clear(&e);
	if (db->in_tx)
		db_rollback(db);
	if (shop_load(db, shop_id, NULL, &sh, &e) == -1)
		return strcmp(e.code, "shop_not_found") == 0 ? job_skip(err,
		    "the shop was removed") : 0;
	if (sh.status == SHOP_CONNECTED)
		return 0;
	return job_skip(err, "the shop is %s%s%s", shop_status_name(sh.status),
	    sh.reason[0] != '\0' ? ": " : "", sh.reason);
}

void
job_worker_main(const struct job_worker *w)
{
	struct db db;
	struct rb_err err, rerr;
	struct job_ctx ctx;
	struct shop_limits lim;
	struct http_client *http = NULL;
	const char *outcome;
	const char *msg;
	int64_t t0;
	long long dur;
	bool held;
	int rc, code, backend;

	memset(&db, 0, sizeof(db));
	rb_err_clear(&err);
	rb_err_clear(&rerr);
	worker_signals(w->mask);
	/* A worker does not outlive its parent: nobody would renew its lease
	 * and another host would take the shop while it still runs. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != w->parent_pid)
		worker_stop = 1;
	(void)unsetenv("NOTIFY_SOCKET");	/* only the parent reports */
	disarm_sessions(w);
	log_set_field("SHOP_ID", w->shop->id);
	log_set_field("SHOP_DOMAIN", w->shop->domain);

	if (worker_db(w, &db, &backend, &err) == -1) {
		log_err("worker cannot connect to the database: %s", err.msg);
		_exit(JOB_WORKER_NODB);
	}
	t0 = rb_mono_ms();
	http = http_client_new(w->cfg);
	if (http == NULL) {
		rc = rb_err_set(&err, 500, "http_setup_failed",
		    "Could not set up the HTTP client (libcurl).");
	} else {
		http_client_set_stop(http, &worker_stop);
		memset(&ctx, 0, sizeof(ctx));
		ctx.cfg = w->cfg;
		ctx.kind = w->def->kind;
		ctx.db = &db;
		ctx.http = http;
		ctx.shop = w->shop;
		ctx.dry_run = w->dry_run;
		ctx.stop = &worker_stop;
		ctx.run_id = w->ref->run_id;
		ctx.user = w->def->user;
		ctx.limits = &lim;
		rc = shop_limits_load(&db, w->cfg, w->shop->id, w->def->kind,
		    &lim, &err);
		if (rc == 0 && !lim.enabled)
			rc = job_skip(&err, "%s is turned off for this shop "
			    "(shop_settings.%s_enabled)", job_names[w->def->kind],
			    job_names[w->def->kind]);
		else if (rc == 0 && (rc = not_connected(&db, w->shop->id,
		    &err)) == 0)
			rc = w->def->process_shop(&ctx, &err);
		/* Given up on a shop that is no longer connected (Shopify
		 * refused it, the app was uninstalled): skipped, not failed. */
		if (rc == -1 && !worker_stop)
			rc = not_connected(&db, w->shop->id, &err) ==
			    JOB_SHOP_SKIPPED ? JOB_SHOP_SKIPPED : -1;
	}
	dur = (long long)(rb_mono_ms() - t0);
	if (db.in_tx) {
		/* A bug in the job; the session must go back idle. */
		db_rollback(&db);
		if (rc == 0 || rc == JOB_SHOP_SKIPPED)
			rc = rb_err_set(&err, 500, "transaction_left_open",
			    "The job left a database transaction open (a bug: "
			    "report it); its uncommitted work was rolled "
			    "back.");
	}

	if (rc == JOB_SHOP_SKIPPED) {
		outcome = "skipped";
		msg = err.msg[0] ? err.msg : "skipped without a reason (a bug: "
		    "report it)";
		code = JOB_WORKER_SKIPPED;
		log_notice("shop %s skipped, nothing changed: %s",
		    w->shop->domain, msg);
	} else if (rc == 0) {
		outcome = "success";
		msg = NULL;
		code = JOB_WORKER_OK;
		log_info("shop %s done in %lld ms", w->shop->domain, dur);
	} else if (worker_stop) {
		outcome = "cancelled";
		msg = "The run was stopped before this shop finished.";
		code = JOB_WORKER_CANCELLED;
		log_notice("shop %s stopped before it finished (%s)",
		    w->shop->domain, err.msg[0] ? err.msg : "no detail");
	} else {
		outcome = "failed";
		msg = err.msg[0] ? err.msg : err.code[0] ? err.code :
		    "The job failed without saying why (a bug: report it).";
		code = JOB_WORKER_FAILED;
		log_err("shop %s failed after %lld ms: %s", w->shop->domain,
		    dur, msg);
	}
	if (http != NULL)
		http_client_free(http);
	/* The record is written even when stopping: it is short, and the
	 * parent's grace period covers it. */
	if (jobdb_record(&db, w->ref, w->shop->id, outcome, msg, dur, &held,
	    &rerr) == -1) {
		log_err("shop %s: could not record the result (%s): %s",
		    w->shop->domain, outcome, rerr.msg);
		db_close(&db);
		_exit(JOB_WORKER_NORECORD);
	}
	if (!held)
		log_warn("shop %s: the lease was no longer ours when the "
		    "result was recorded (renewals failed?)", w->shop->domain);
	if (!worker_db_return(&db, backend))
		code += JOB_WORKER_NOSESSION;
	rb_child_exit(code);
}

void
job_crash_point(const char *knob, long *count)
{
	long n = rb_env_long(knob, 1, 1000000, 0);

	if (n == 0 || ++*count < n)
		return;
	log_warn("%s: killing this worker on purpose", knob);
	(void)raise(SIGKILL);
}
