/*
 * run_requests.c - "rebossctl run-requests" (run_requests.h).
 *
 * One pass every REBOSS_JOB_REQUEST_POLL_MS (15000) while anything runs:
 *   1. a request another runner left 'running' without a heartbeat for
 *      three minutes (its host died) becomes 'failed' with the reason;
 *   2. pending requests are claimed oldest first, at most RUN_MAX running
 *      at once on this host (UPDATE ... FOR UPDATE SKIP LOCKED: of two
 *      hosts exactly one takes a request), state 'running', picked_by
 *      this host;
 *   3. each is run as the job program with --shop (the job runtime: leases,
 *      shop_job_status, the owner's switches and limits apply as in a
 *      timer's run); the heartbeat of the running ones is refreshed;
 *   4. a job that ended records state 'done' (exit 0) or 'failed' with its
 *      exit status and cause.
 * It ends when nothing is running and nothing is pending, so the timer
 * starts it again within a minute.  SIGTERM: no more claims, SIGTERM to the
 * jobs (they end safely and record 'cancelled'), their ends recorded.
 * The job programs are in BINDIR (REBOSS_TEST_JOB_BINDIR for tests); the
 * configuration is passed on with --config.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "config.h"
#include "db.h"
#include "env.h"
#include "job.h"
#include "log.h"
#include "run_requests.h"
#include "util.h"

#define RUN_MAX		4	/* jobs at once on one host */

struct slot {
	pid_t	pid;		/* 0: free */
	char	id[37];		/* job_requests.id */
};

static volatile sig_atomic_t stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Only there so that a job's end interrupts the pause between passes. */
static void
on_child(int sig)
{
	(void)sig;
}

bool
run_requests_cmd_known(const char *cmd)
{
	return cmd != NULL && strcmp(cmd, "run-requests") == 0;
}

/* "replace_job" -> BINDIR/reboss-replace-job */
static int
job_program(const char *job, char *out, size_t outsz)
{
	const char *dir = getenv("REBOSS_TEST_JOB_BINDIR");
	size_t i, n;
	int k;

	k = snprintf(out, outsz, "%s/reboss-%s", dir != NULL && *dir != '\0' ?
	    dir : REBOSS_BINDIR, job);
	if (k < 0 || (size_t)k >= outsz)
		return -1;
	n = strlen(out) - strlen(job);
	for (i = n; out[i] != '\0'; i++)
		if (out[i] == '_')
			out[i] = '-';
	return 0;
}

static pid_t
start_job(const char *config, const char *job, const char *shop)
{
	char prog[512];
	pid_t pid;

	if (job_program(job, prog, sizeof(prog)) == -1)
		return -1;
	if ((pid = fork()) != 0)
		return pid;
	(void)signal(SIGTERM, SIG_DFL);
	if (config != NULL)
		execl(prog, prog, "--config", config, "--shop", shop,
		    (char *)NULL);
	else
		execl(prog, prog, "--shop", shop, (char *)NULL);
	fprintf(stderr, "rebossctl: cannot run %s: %s\n", prog,
	    strerror(errno));
	_exit(127);
}

/* Records how a job ended; 1 when it failed. */
static int
finish(struct db *db, struct slot *s, int st)
{
	struct rb_err err = { 0 };
	char code[16], why[128];
	const char *p[3] = { s->id, code, why };
	int failed = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	(void)snprintf(code, sizeof(code), "%d", WIFEXITED(st) ?
	    WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
	job_describe_wait_status(st, why, sizeof(why));
	if (db_exec(db, "UPDATE public.job_requests SET state = CASE WHEN "
	    "$2::integer = 0 THEN 'done' ELSE 'failed' END, finished_at = "
	    "now(), exit_status = $2::integer, error = CASE WHEN $2::integer "
	    "= 0 THEN NULL ELSE 'the job ' || $3 || ' (shop_job_status and "
	    "job_runs say why)' END WHERE id = $1::uuid", 3, p, &err) == -1)
		log_err("request %s: %s", s->id, err.msg);
	log_info("request %s: the job %s", s->id, why);
	s->pid = 0;
	return failed;
}

/* Steps 1 and 2: claims up to nfree requests and starts their jobs. */
static int
claim(struct db *db, const char *config, const char *host,
    struct slot *slots, int nfree, struct rb_err *err)
{
	char lim[8];
	const char *p[2] = { host, lim };
	PGresult *r;
	int i, k = 0;

	if (db_exec(db, "UPDATE public.job_requests SET state = 'failed', "
	    "finished_at = now(), error = 'the runner on ' || coalesce("
	    "picked_by, 'another host') || ' stopped before the job ended' "
	    "WHERE state = 'running' AND heartbeat_at < now() - interval "
	    "'3 minutes'", 0, NULL, err) == -1)
		return -1;
	(void)snprintf(lim, sizeof(lim), "%d", nfree);
	if ((r = db_query(db, "UPDATE public.job_requests q SET state = "
	    "'running', picked_at = now(), heartbeat_at = now(), picked_by = "
	    "$1 WHERE q.id IN (SELECT id FROM public.job_requests WHERE state "
	    "= 'pending' ORDER BY requested_at LIMIT $2::integer FOR UPDATE "
	    "SKIP LOCKED) RETURNING q.id::text, q.shop_id::text, q.job_type",
	    2, p, err)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++) {
		while (k < RUN_MAX && slots[k].pid != 0)
			k++;
		if (k == RUN_MAX)
			break;		/* cannot happen: nfree bounds it */
		(void)rb_strlcpy(slots[k].id, PQgetvalue(r, i, 0),
		    sizeof(slots[k].id));
		slots[k].pid = start_job(config, PQgetvalue(r, i, 2),
		    PQgetvalue(r, i, 1));
		log_info("request %s: %s for shop %s started", slots[k].id,
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 1));
		if (slots[k].pid == -1)
			(void)finish(db, &slots[k], 127 << 8);
	}
	PQclear(r);
	return 0;
}

static void
heartbeat(struct db *db, const char *host)
{
	struct rb_err err = { 0 };
	const char *p[1] = { host };

	if (db_exec(db, "UPDATE public.job_requests SET heartbeat_at = now() "
	    "WHERE state = 'running' AND picked_by = $1", 1, p, &err) == -1)
		log_warn("heartbeat: %s", err.msg);
}

static int
run_loop(struct db *db, const char *config, const char *host)
{
	struct slot slots[RUN_MAX];
	struct rb_err err = { 0 };
	long poll_ms = rb_env_long("REBOSS_JOB_REQUEST_POLL_MS", 100, 600000, 15000);
	struct timespec ts;
	int running, i, st, failed = 0, rc = 0;
	pid_t pid;

	memset(slots, 0, sizeof(slots));
	for (;;) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (i = 0; i < RUN_MAX; i++)
				if (slots[i].pid == pid)
					failed |= finish(db, &slots[i], st);
		for (running = 0, i = 0; i < RUN_MAX; i++)
			running += slots[i].pid != 0;
		if (!stop_flag && running < RUN_MAX) {
			if (claim(db, config, host, slots, RUN_MAX - running,
			    &err) == -1) {
				log_err("%s", err.msg);
				rc = EXIT_UNUSABLE;
				stop_flag = 1;
			}
			for (running = 0, i = 0; i < RUN_MAX; i++)
				running += slots[i].pid != 0;
		}
		if (running == 0)
			break;
		if (stop_flag)
			for (i = 0; i < RUN_MAX; i++)
				if (slots[i].pid > 0)
					(void)kill(slots[i].pid, SIGTERM);
		heartbeat(db, host);
		ts.tv_sec = poll_ms / 1000;
		ts.tv_nsec = (poll_ms % 1000) * 1000000L;
		(void)nanosleep(&ts, NULL);	/* a child's end cuts it short */
	}
	return rc != 0 ? rc : failed ? EXIT_PROBLEM : 0;
}

int
run_requests_cmd(const char *cli_config, int argc, char **argv)
{
	struct rb_config cfg;
	struct db db = { 0 };
	struct sigaction sa;
	char host[256];
	int rc;

	if (argc != 1) {
		fprintf(stderr, "rebossctl: run-requests takes no arguments, "
		    "not '%s'\n", argv[1]);
		return EXIT_UNUSABLE;
	}
	if (ctl_open(cli_config, &cfg, &db) != 0)
		return EXIT_UNUSABLE;
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1)
		(void)rb_strlcpy(host, "unknown", sizeof(host));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	(void)sigaction(SIGCHLD, &sa, NULL);
	rc = run_loop(&db, cfg.path, host);
	db_close(&db);
	config_free(&cfg);
	return rc;
}
