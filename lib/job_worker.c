/*
 * job_worker.c - the forked worker: one shop, its own database connection
 * and HTTP client, then _exit().
 *
 * The parent's PGconn came along with fork().  The worker never uses it and
 * never PQfinish()es it (that would send a Terminate message on the shared
 * socket and end the parent's session); it lays /dev/null over the socket's
 * descriptor instead, so that even a stray write cannot reach the server.
 * Every path ends in _exit(): no atexit handler or stdio buffer of the
 * parent runs twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "db.h"
#include "http.h"
#include "job_int.h"
#include "log.h"
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
disarm_parent_db(struct db *pdb)
{
	int fd, nul;

	if (pdb == NULL || pdb->conn == NULL)
		return;
	fd = PQsocket(pdb->conn);
	if (fd < 0)
		return;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0) {
		(void)close(fd);
		return;
	}
	if (nul != fd) {
		if (dup2(nul, fd) == fd)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)close(nul);
	}
}

void
job_worker_main(const struct job_worker *w)
{
	struct db db;
	struct rb_err err, rerr;
	struct job_ctx ctx;
	struct http_client *http = NULL;
	const char *outcome;
	const char *msg;
	int64_t t0;
	long long dur;
	bool held;
	int rc, code;

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
	disarm_parent_db(w->parent_db);
	log_set_field("SHOP_ID", w->shop->id);
	log_set_field("SHOP_DOMAIN", w->shop->domain);

	if (db_connect(&db, w->cfg->database_url, &err) == -1) {
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
		rc = w->def->process_shop(&ctx, &err);
	}
	dur = (long long)(rb_mono_ms() - t0);

	if (rc == 0) {
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
	db_close(&db);
	rb_child_exit(code);
}
