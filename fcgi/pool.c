/*
 * pool.c - the prefork supervisor of reboss-api.
 *
 * Forks N workers that all accept on the one listening fd, replaces a
 * worker that dies (logging why), and backs off when workers die faster
 * than DEATH_BURST per DEATH_WINDOW_MS (a crash loop must not eat the CPU).
 * On SIGTERM/SIGINT it stops replacing, forwards SIGTERM, waits up to
 * STOP_GRACE_MS for the workers to finish their requests, SIGKILLs the
 * rest and exits 0.
 *
 * On SIGHUP (systemctl reload reboss-api) it re-reads the configuration
 * file; when that works it starts a full set of new workers on the new
 * configuration and only then asks each old worker to retire (SIGHUP:
 * finish the request in hand, accept no more, exit), so the listening
 * socket is never without workers and no request is dropped.  A file with
 * problems is reported and the running workers keep the old one.  The pool
 * size and the listening socket stay as they were started.
 *
 * Signal handlers only set flags.  Signals stay blocked except inside
 * ppoll(), so a flag set by a handler is always seen; children are reaped
 * in a waitpid(-1, WNOHANG) loop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* ppoll() */
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api.h"
#include "env.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define DEATH_BURST	5		/* deaths ... */
#define DEATH_WINDOW_MS	10000		/* ... within this: back off */
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000
#define STOP_GRACE_MS	25000		/* < systemd's TimeoutStopSec */

static volatile sig_atomic_t p_stop, p_chld, p_reload;

static void
on_stop(int sig)
{
	(void)sig;
	p_stop = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	p_reload = 1;
}

static void
on_chld(int sig)
{
	(void)sig;
	p_chld = 1;
}

/* 2n slots: n workers of the current generation, plus old ones that
 * retire after a reload. */
struct pool {
	pid_t	*pids;			/* 0: free slot */
	unsigned *gens;			/* generation of each slot's worker */
	unsigned gen;			/* current generation */
	int	 n;
	int	 alive;			/* workers of the current generation */
	int	 retiring;		/* older workers not yet reaped */
	unsigned long long restarts;	/* deaths outside a stop */
	int64_t	 deaths[DEATH_BURST];	/* ring of recent death times */
	int	 ndeath;
	int64_t	 backoff_ms;
	int64_t	 next_spawn;		/* mono ms; 0 = now */
};

static void
log_exit(pid_t pid, int st, bool stopping)
{
	if (WIFSIGNALED(st))
		log_msg(stopping && (WTERMSIG(st) == SIGTERM ||
		    WTERMSIG(st) == SIGKILL) ? LOG_INFO : LOG_ERR,
		    "worker %ld killed by signal %d (%s)%s", (long)pid,
		    WTERMSIG(st), strsignal(WTERMSIG(st)),
		    WCOREDUMP(st) ? ", core dumped" : "");
	else if (WIFEXITED(st))
		log_msg(WEXITSTATUS(st) == 0 && stopping ? LOG_INFO : LOG_ERR,
		    "worker %ld exited with status %d", (long)pid,
		    WEXITSTATUS(st));
}

/* Reaps every child that ended; returns how many. */
static int
reap(struct pool *p, bool stopping)
{
	pid_t pid;
	int st, i, n = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < 2 * p->n; i++) {
			bool old;

			if (p->pids[i] != pid)
				continue;
			old = p->gens[i] != p->gen;
			p->pids[i] = 0;
			if (old)
				p->retiring--;
			else
				p->alive--;
			n++;
			log_exit(pid, st, stopping || old);
			if (!stopping && !old) {
				p->deaths[p->ndeath++ % DEATH_BURST] =
				    rb_mono_ms();
				p->restarts++;
			}
			break;
		}
	}
	return n;
}

/* True when DEATH_BURST workers died within DEATH_WINDOW_MS. */
static bool
dying_too_fast(const struct pool *p, int64_t now)
{
	int64_t oldest;

	if (p->ndeath < DEATH_BURST)
		return false;
	oldest = p->deaths[p->ndeath % DEATH_BURST];	/* next to be overwritten */
	return now - oldest < DEATH_WINDOW_MS;
}

static pid_t
spawn(const struct rb_config *cfg, int fd, const sigset_t *orig)
{
	struct sigaction sa;
	pid_t pid, parent = getpid();

	pid = fork();
	if (pid != 0)
		return pid;
	/* child: default dispositions, the mask we started with */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, orig, NULL);
	/* A supervisor killed with SIGKILL must not leave workers behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(1);
	rb_child_exit(worker_run(cfg, fd, true));
}

static void
fill(struct pool *p, const struct rb_config *cfg, int fd,
    const sigset_t *orig)
{
	int64_t now = rb_mono_ms();
	int i;

	if (p->alive >= p->n || now < p->next_spawn)
		return;
	if (p->next_spawn == 0 && dying_too_fast(p, now)) {
		p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 :
		    BACKOFF_MIN_MS;
		if (p->backoff_ms > BACKOFF_MAX_MS)
			p->backoff_ms = BACKOFF_MAX_MS;
		p->next_spawn = now + p->backoff_ms;
		log_err("workers are dying fast (%d within %d s): waiting "
		    "%lld ms before starting new ones", DEATH_BURST,
		    DEATH_WINDOW_MS / 1000, (long long)p->backoff_ms);
		return;
	}
	p->next_spawn = 0;
	if (!dying_too_fast(p, now))
		p->backoff_ms = 0;
	for (i = 0; i < 2 * p->n && p->alive < p->n; i++) {
		pid_t pid;

		if (p->pids[i] != 0)
			continue;
		if ((pid = spawn(cfg, fd, orig)) == -1) {
			log_err("cannot start a worker: %s", strerror(errno));
			p->deaths[p->ndeath++ % DEATH_BURST] = now;
			return;
		}
		p->pids[i] = pid;
		p->gens[i] = p->gen;
		p->alive++;
		log_debug("worker %ld started", (long)pid);
	}
}

/* Waits for a signal or timeout_ms, signals unblocked only meanwhile. */
static void
wait_signal(int64_t timeout_ms, const sigset_t *orig)
{
	struct timespec ts;

	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (timeout_ms % 1000) * 1000000;
	(void)ppoll(NULL, 0, &ts, orig);
}

static void
stop_all(struct pool *p, const sigset_t *orig)
{
	int64_t deadline;
	int i;

	(void)sd_notify(0, "STOPPING=1");
	log_info("stopping %d workers", p->alive + p->retiring);
	for (i = 0; i < 2 * p->n; i++)
		if (p->pids[i] != 0)
			(void)kill(p->pids[i], SIGTERM);
	deadline = rb_mono_ms() + STOP_GRACE_MS;
	while (p->alive + p->retiring > 0 && rb_mono_ms() < deadline) {
		p_chld = 0;
		(void)reap(p, true);
		if (p->alive + p->retiring == 0)
			break;
		wait_signal(deadline - rb_mono_ms() < 1000 ?
		    deadline - rb_mono_ms() : 1000, orig);
	}
	if (p->alive + p->retiring > 0) {
		log_warn("%d workers did not stop within %d s: killing them",
		    p->alive + p->retiring, STOP_GRACE_MS / 1000);
		for (i = 0; i < 2 * p->n; i++)
			if (p->pids[i] != 0)
				(void)kill(p->pids[i], SIGKILL);
		for (i = 0; i < 2 * p->n; i++) {
			int st;

			if (p->pids[i] == 0)
				continue;
			while (waitpid(p->pids[i], &st, 0) == -1 &&
			    errno == EINTR)
				;
			log_exit(p->pids[i], st, true);
			p->pids[i] = 0;
		}
		p->alive = p->retiring = 0;
	}
}

/*
 * SIGHUP: a new configuration, then a new generation of workers.  The old
 * workers are asked to retire by retire_old() once the new ones run.
 */
static void
reload(struct pool *p, const char *cfgpath, struct rb_config *cfg)
{
	struct rb_config fresh;
	struct rb_err err;

	memset(&fresh, 0, sizeof(fresh));
	rb_err_clear(&err);
	if (config_load(&fresh, cfgpath, &err) == -1) {
		log_err("reload: %s; the workers keep the configuration they "
		    "have", err.msg);
		return;
	}
	(void)sd_notify(0, "RELOADING=1");
	config_free(cfg);
	*cfg = fresh;
	p->gen++;
	p->retiring += p->alive;
	p->alive = 0;
	p->ndeath = 0;		/* the new generation starts without history */
	p->next_spawn = 0;
	log_info("reload: %s read again; replacing %d workers", cfgpath,
	    p->retiring);
}

/* Asks every old worker to retire, once a full new generation runs; again
 * on every pass of the loop until it is gone (a SIGHUP that came just
 * before the worker blocked in accept() would wait for the next request). */
static void
retire_old(struct pool *p, bool *announced)
{
	int i;

	if (p->retiring == 0) {
		if (!*announced) {
			log_info("reload: done, every worker runs the new "
			    "configuration");
			(void)sd_notifyf(0, "READY=1\nSTATUS=serving with %d "
			    "workers", p->n);
			*announced = true;
		}
		return;
	}
	*announced = false;
	if (p->alive < p->n)
		return;
	for (i = 0; i < 2 * p->n; i++)
		if (p->pids[i] != 0 && p->gens[i] != p->gen)
			(void)kill(p->pids[i], SIGHUP);
}

/* ---- metrics: the per-route table of the workers (metrics.h) ----------
 * reboss_api.prom is written every REBOSS_API_METRICS_SEC (default 60)
 * seconds from the main loop and once more after the workers stopped. */
struct metrics_api_slot *api_metrics;

struct pool_metrics {
	struct metrics_api_route *routes;	/* n labels, NULL: off */
	size_t	 n;				/* route rows + unmatched */
	int64_t	 every_ms, next;
};

static void
metrics_setup(struct pool_metrics *m)
{
	const struct api_route *table;
	size_t i, rows = router_routes(&table);
	long sec = rb_env_long("REBOSS_API_METRICS_SEC", 1, 86400, 60);

	memset(m, 0, sizeof(*m));
	m->every_ms = sec * 1000;
	m->n = rows + 1;
	if ((m->routes = calloc(m->n, sizeof(*m->routes))) == NULL ||
	    (api_metrics = metrics_api_table(m->n)) == NULL) {
		log_warn("no API metrics: the shared table cannot be made");
		free(m->routes);
		m->routes = NULL;
		return;
	}
	for (i = 0; i < rows; i++) {
		m->routes[i].method = table[i].method;
		m->routes[i].pattern = table[i].pattern;
	}
}

static void
metrics_write(struct pool_metrics *m, const struct rb_config *cfg,
    const struct pool *p)
{
	struct rb_err err;

	if (m->routes == NULL)
		return;
	rb_err_clear(&err);
	m->next = rb_mono_ms() + m->every_ms;
	if (metrics_api_write(cfg, m->routes, api_metrics, m->n, p->alive,
	    p->restarts, &err) == -1)
		log_warn("could not write the API metrics: %s", err.msg);
}

int
pool_run(const char *cfgpath, struct rb_config *cfg, int listen_fd,
    int workers)
{
	struct pool_metrics pm;
	struct pool p;
	struct sigaction sa;
	sigset_t block, orig;
	bool ready = false, reloaded = true;

	memset(&p, 0, sizeof(p));
	p.n = workers;
	p.pids = calloc(2 * (size_t)workers, sizeof(*p.pids));
	p.gens = calloc(2 * (size_t)workers, sizeof(*p.gens));
	if (p.pids == NULL || p.gens == NULL) {
		log_err("out of memory");
		free(p.pids);
		free(p.gens);
		return 1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP;
	(void)sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = 0;
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	/* the children restore the original mask, minus nothing */
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);
	sigdelset(&orig, SIGCHLD);
	sigdelset(&orig, SIGHUP);

	log_info("supervisor %ld starting %d workers", (long)getpid(),
	    workers);
	metrics_setup(&pm);
	while (!p_stop) {
		int64_t wait_ms = 60000;

		p_chld = 0;
		(void)reap(&p, false);
		if (p_stop)
			break;
		if (p_reload) {
			p_reload = 0;
			reload(&p, cfgpath, cfg);
		}
		fill(&p, cfg, listen_fd, &orig);
		if (ready)
			retire_old(&p, &reloaded);
		if (!ready && p.alive > 0) {
			(void)sd_notifyf(0, "READY=1\nSTATUS=serving with %d "
			    "workers\nMAINPID=%ld", workers, (long)getpid());
			ready = true;
		}
		if (p.next_spawn != 0)
			wait_ms = p.next_spawn - rb_mono_ms();
		else if (p.alive < p.n || p.retiring > 0)
			wait_ms = 100;
		if (pm.routes != NULL) {
			if (rb_mono_ms() >= pm.next)
				metrics_write(&pm, cfg, &p);
			if (pm.next - rb_mono_ms() < wait_ms)
				wait_ms = pm.next - rb_mono_ms();
		}
		if (!p_chld && !p_stop && !p_reload)
			wait_signal(wait_ms, &orig);
	}
	stop_all(&p, &orig);
	metrics_write(&pm, cfg, &p);	/* every request is counted now */
	log_info("supervisor stopped");
	free(p.pids);
	free(p.gens);
	free(pm.routes);
	return 0;
}
