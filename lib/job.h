/*
 * job.h - the runtime every batch job is built on (PRODUCT.md, Jobs).
 *
 * A job program is one line: main() { return job_main(&def, argc, argv); }.
 * job_main() parses "[--config FILE] [--shop ID|DOMAIN] [--dry-run]
 * [--parallel N]" (+ --help, --version), writes the job_runs row, claims
 * shops with expiring leases, forks one worker per claimed shop (at most
 * `parallel` at once, a new one as soon as one ends), records every shop in
 * shop_job_status, and finishes the run.  def->process_shop is the job's
 * business logic; it runs in the worker with a database session and an
 * HTTP client of its own and must end at a safe point once *ctx->stop is
 * set.  The session outlives the worker: the parent hands it to the next
 * worker of the slot (job_worker.c), so a job leaves no session state
 * behind: no PQprepare()d statements, no session-level SET, every
 * transaction ended (one left open is rolled back and fails the shop).
 *
 * Exit status of the program:
 *   0  the run completed and every shop it processed succeeded;
 *   1  the run finished with failed shops (also a cancelled run that had
 *      failed shops);
 *   2  it could not run: usage, configuration, database (also a run that
 *      lost its database for good half-way: job_runs says 'failed');
 *   a run cancelled by SIGTERM/SIGINT without failed shops ends by that same
 *   signal (the shell sees 143/130, systemd counts it as a clean stop);
 *   job_runs says 'cancelled' with the true counts.
 *
 * Counts in job_runs: shops_total = shops selected at the start;
 * shops_processed = shops this run finished (succeeded + failed);
 * shops_failed = those that failed.  Shops another run (another host)
 * finished, and shops a cancellation interrupted, are in neither.
 * error_log = JSON array of {shop_id, error}, at most JOB_ERROR_LOG_MAX.
 *
 * Leases and "exactly once" (table job_leases, sql/002_jobs.sql).  Every
 * timestamp comes from the database clock, so host clocks do not matter.
 *   - One row per (job_type, shop_id).  A run owns a shop while its lease
 *     row names the run, done_at IS NULL and expires_at is in the future;
 *     the parent renews all its leases every JOB lease/5 (default lease
 *     5 min, renewed every minute) for as long as the shop runs.
 *   - When a worker ends, done_at (and outcome, error) is set on the row in
 *     the same transaction as the shop_job_status row: the lease row is the
 *     record of "this shop was processed at done_at".
 *   - Generation: a full run (no --shop, no --dry-run) computes once, after
 *     its job_runs row is committed, gen = the smallest generation (or
 *     started_at) of all live full runs of its job type, itself included
 *     (live = status 'running' and updated_at fresher than one lease
 *     period; the parent refreshes updated_at with every renewal).  It stores
 *     gen in job_runs.generation so later joiners inherit it.
 *   - A shop is claimable iff it has no lease row, or its lease is
 *     unfinished and expired (a dead host), or it was finished before gen
 *     (done_at < gen).  The claim is one INSERT ... ON CONFLICT DO UPDATE
 *     ... WHERE <claimable> RETURNING, so of two claimers exactly one wins
 *     (the loser re-evaluates the WHERE on the winner's row and gets none).
 *   - Why two concurrent runs A and B process each shop exactly once: say
 *     A finished shop X at d (d > A's claim > A's row commit >= A.start).
 *     If B saw A's row when computing gen, gen_B <= gen_A <= A.start < d;
 *     if not, A's row was committed after B's gen query, so
 *     d > that query >= B.start >= gen_B.  Either way d >= gen_B and B
 *     skips X.  A shop still leased by the other live run is retried every
 *     poll interval until it is done (skip) or its lease expires (take
 *     over), so a run ends only when every selected shop is done in its
 *     generation, and a dead host's shops are picked up.
 *   - Only a lease that outlives its owner (renewals failing for a whole
 *     lease period, e.g. the parent cut off from the database) can let a
 *     shop be processed twice.  Workers die with their parent
 *     (PR_SET_PDEATHSIG), so a killed parent leaves no worker running.
 *   - --shop runs and --dry-run runs use their own generation (they are
 *     never joined); dry runs lease under "<job>:dry-run" so they never
 *     take a shop from a real run, and do not write shop_job_status.
 *
 * Knobs for tests and operators (environment, not part of the contract):
 *   REBOSS_JOB_GRACE_SEC   SIGTERM -> SIGKILL grace for workers (30)
 *   REBOSS_JOB_LEASE_SEC   lease length in seconds (300, minimum 5)
 *   REBOSS_JOB_POLL_MS     retry interval for shops leased elsewhere (10000)
 *   REBOSS_JOB_SESSIONS    0: every worker opens its own session (1)
 * There is no time limit on a run or on a shop.
 */
#ifndef RB_JOB_H
#define RB_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "rb.h"

struct db;
struct http_client;
struct shop_limits;

#define JOB_EXIT_OK		0
#define JOB_EXIT_FAILED		1
#define JOB_EXIT_CANNOT_RUN	2

#define JOB_ERROR_LOG_MAX	1000	/* entries kept in job_runs.error_log */

struct job_shop {
	char	id[37];			/* shops.id, lower-case uuid */
	char	domain[256];		/* shops.shop_domain */
	char	user_id[37];		/* shops.user_id ("" when NULL) */
};

struct job_ctx {
	const struct rb_config	*cfg;
	enum job_kind		 kind;
	struct db		*db;	/* the worker's own connection */
	struct http_client	*http;	/* the worker's own client, stop set */
	const struct job_shop	*shop;
	bool			 dry_run;
	volatile const sig_atomic_t *stop; /* set on SIGTERM: end safely */
	const char		*run_id;	/* job_runs.id */
	void			*user;		/* def->user */
	/* The owner's limits under the operator's caps (shop_limits.h);
	 * a job the owner turned off never gets here. */
	const struct shop_limits *limits;
};

struct job_def {
	enum job_kind	 kind;
	const char	*program;	/* "reboss-sales-tracker" */
	const char	*summary;	/* one line for --help */
	/* 0 on success; -1 and err on failure; JOB_SHOP_SKIPPED (job_skip())
	 * when the shop was left alone on purpose, err->msg saying why.  Runs
	 * in the worker.  When it returns -1 after *ctx->stop was set the shop
	 * counts as interrupted (cancelled), not failed. */
	int		(*process_shop)(struct job_ctx *ctx, struct rb_err *err);
	void		*user;
};

/*
 * A shop left alone on purpose (its data is not complete yet, the provider
 * refuses the app's access level, ...): not a failure.  The worker records
 * outcome 'skipped' with the reason in the lease and shop_job_status
 * (last_status 'skipped', last_error the reason; consecutive_failures
 * back to 0), the run counts it as processed, not failed, and logs it.
 * Use: return job_skip(err, "sales are known through %s only", day);
 */
#define JOB_SHOP_SKIPPED	1
int	job_skip(struct rb_err *err, const char *fmt, ...) RB_PRINTF(2, 3);

/*
 * The one way a job opens the shop's Shopify client (shop_client_open(),
 * lib/shop.c): a valid token, renewed before it runs out and once after a
 * 401, and Shopify's refusals recorded as the shop's connection_status
 * (reauthorize_required, frozen, uninstalled).  sh->stop is ctx->stop.
 * A shop that is not connected (any more): -1 with code
 * "shop_not_connected"; the worker records such a shop as skipped with
 * the reason, never as failed, whenever the job gives up on it (a shop
 * whose status changes mid-run ends cleanly as skipped).
 */
struct shopify;
int	job_shopify_open(struct job_ctx *ctx, struct shopify *sh,
	    struct rb_err *err) RB_WUR;

/* The whole main() of a job program; returns the exit status. */
int	job_main(const struct job_def *def, int argc, char **argv);

/* Test hook for crash drills: when the environment sets knob to N
 * (1..1000000), the worker kills itself with SIGKILL the Nth time it
 * passes here; *count counts the passes (a static of the caller). */
void	job_crash_point(const char *knob, long *count);

/* "killed by signal 9 (SIGKILL)", "exited with status 3": the cause the
 * parent records for a worker that ended without recording its shop. */
void	job_describe_wait_status(int status, char *buf, size_t size);

#endif
