/*
 * job_int.h - private to lib/job*.c: the SQL of the job runtime
 * (job_lease.c) and the worker (job_worker.c).  Jobs include job.h only.
 */
#ifndef RB_JOB_INT_H
#define RB_JOB_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "job.h"

struct db;

/* Exit statuses of a worker.  0-3 mean "I recorded my shop and the
 * session I was handed is idle again" (the parent hands it to the next
 * worker); 4-7 the same record, but the session is not to be reused (the
 * worker had none, replaced it, or could not leave it idle).  The parent
 * still reads the lease row to be sure, and records any other ending
 * itself with its cause. */
#define JOB_WORKER_OK		0	/* recorded success */
#define JOB_WORKER_FAILED	1	/* recorded failure */
#define JOB_WORKER_CANCELLED	2	/* stopped early, lease released */
#define JOB_WORKER_SKIPPED	3	/* recorded a skip with its reason */
#define JOB_WORKER_NOSESSION	4	/* added to 0-3: session not returned */
#define JOB_WORKER_NODB		8	/* could not connect to the database */
#define JOB_WORKER_NORECORD	9	/* could not record its result */

enum job_claim {
	JOB_CLAIM_WON,		/* the shop is ours now */
	JOB_CLAIM_DONE,		/* finished in our generation by some run */
	JOB_CLAIM_HELD,		/* another run holds a live lease: retry */
	JOB_CLAIM_GONE		/* the shop was deleted */
};

struct job_lease_ref {
	char	lease_type[64];	/* "sales_tracker" / "sales_tracker:dry-run" */
	const char *job_type;	/* "sales_tracker" */
	char	run_id[37];
	bool	write_status;	/* shop_job_status rows (not for dry runs) */
};

/* --- job_lease.c ---------------------------------------------------------- */

/* Every connected shop (arg NULL), or the one arg names by id or domain
 * ("name" or "name.myshopify.com").  Unknown: -1 with code "unknown_shop". */
/* arg NULL: every connected shop, longest last time first (see the
 * query); else the one shop named by id or domain. */
int	jobdb_select_shops(struct db *db, const char *job_type,
	    const char *arg, struct job_shop **out, size_t *n,
	    struct rb_err *err) RB_WUR;

/* Inserts the running job_runs row; gen gets the run's generation (joined
 * from live full runs when joinable, else its own started_at). */
int	jobdb_run_start(struct db *db, const struct job_lease_ref *ref,
	    const char *host, size_t total, bool dry_run, bool joinable,
	    int lease_s, char *gen, size_t gensz, struct rb_err *err) RB_WUR;

/* Marks runs of this job that stopped reporting long ago as failed. */
int	jobdb_fail_stale_runs(struct db *db, const char *job_type,
	    int lease_s, struct rb_err *err) RB_WUR;

/* info gets a few words about who held the shop (for the log). */
int	jobdb_claim(struct db *db, const struct job_lease_ref *ref,
	    const char *shop_id, const char *host, long pid, int lease_s,
	    const char *gen, enum job_claim *res, char *info, size_t infosz,
	    struct rb_err *err) RB_WUR;

/* Extends every unfinished lease of the run; refreshes the run's counts
 * and updated_at (the liveness other runs look at). */
int	jobdb_heartbeat(struct db *db, const struct job_lease_ref *ref,
	    int lease_s, bool renew, size_t processed, size_t failed,
	    struct rb_err *err) RB_WUR;

/* outcome "success"/"failed": lease done + shop_job_status row, in one
 * transaction.  "cancelled": lease released, shop_job_status untouched.
 * *held says whether the lease still was ours. */
int	jobdb_record(struct db *db, const struct job_lease_ref *ref,
	    const char *shop_id, const char *outcome, const char *error,
	    long long duration_ms, bool *held, struct rb_err *err) RB_WUR;

/* What the lease row of the shop says about our run: *ours false when
 * another run holds the row; outcome "" when nothing was recorded. */
int	jobdb_outcome(struct db *db, const struct job_lease_ref *ref,
	    const char *shop_id, bool *ours, char *outcome, size_t outsz,
	    char *error, size_t errsz, struct rb_err *err) RB_WUR;

int	jobdb_run_finish(struct db *db, const struct job_lease_ref *ref,
	    const char *status, const char *reason, size_t processed,
	    size_t failed, const char *error_log_json, struct rb_err *err)
	    RB_WUR;

/* --- job_worker.c --------------------------------------------------------- */

struct job_worker {
	const struct job_def	*def;
	const struct rb_config	*cfg;
	const struct job_shop	*shop;
	const struct job_lease_ref *ref;
	bool			 dry_run;
	/* sessions[0..nsessions) are the slots' database sessions, opened
	 * by the parent and handed from worker to worker: this worker takes
	 * sessions[slot] (conn NULL: it connects itself) and never touches
	 * the others, nor parent_db; those are only disarmed. */
	struct db		*sessions;
	size_t			 nsessions, slot;
	const struct db		*parent_db;
	pid_t			 parent_pid;
	const sigset_t		*mask;		/* the mask to run with */
};

/* Runs in the forked child; never returns. */
void	job_worker_main(const struct job_worker *w)
	    __attribute__((noreturn));

#endif
