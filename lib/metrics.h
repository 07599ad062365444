/*
 * metrics.h - Prometheus text-format metrics for node_exporter's textfile
 * collector (owner: monitoring, issue 10).
 *
 * At the end of every full run (no --shop, no --dry-run) the job runtime
 * calls metrics_job_finished(), which writes metrics_dir/reboss_<job>.prom
 * atomically (a temp file in the same directory, fsync, rename), so the
 * collector never reads half a file.  A missing metrics_dir (no
 * node_exporter installed) is not an error: nothing is written.  A failure
 * to write is logged by the caller and never changes the run's outcome.
 *
 * Series (every one labelled job="<job>"):
 *   reboss_job_last_run_start_timestamp_seconds
 *   reboss_job_last_run_end_timestamp_seconds
 *   reboss_job_last_run_duration_seconds
 *   reboss_job_last_run_shops{state="total|processed|failed|skipped|
 *       cancelled"}
 *   reboss_job_last_run_status{status="completed|completed_with_errors|
 *       cancelled|failed"}   1 for the run's status, 0 for the others
 *   reboss_job_last_success_timestamp_seconds  end of the newest run that
 *       completed (with or without failed shops); carried over from the
 *       previous file when this run did not; absent until the first one.
 */
#ifndef RB_METRICS_H
#define RB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "rb.h"
#include "util.h"

struct rb_config;

#define METRICS_MAX_FILE	(64u << 10)

struct metrics_run {
	const char	*job;		/* "sales_tracker" ([a-z_]+) */
	const char	*status;	/* job_runs.status of the run */
	double		 started;	/* unix time, seconds */
	double		 finished;	/* unix time, seconds */
	double		 duration_s;
	size_t		 total, processed, failed, skipped, cancelled;
	double		 last_success;	/* unix time; 0: none known */
};

/* The .prom text of one run into out (appended). */
int	metrics_format_run(const struct metrics_run *m, struct rb_buf *out,
	    struct rb_err *err) RB_WUR;

/* Writes dir/name atomically (temp file, fsync, rename), mode 0644. */
int	metrics_write_file(const char *dir, const char *name,
	    const char *text, size_t len, struct rb_err *err) RB_WUR;

/* Value of the first sample of series (exact name and labels, e.g.
 * "reboss_job_last_success_timestamp_seconds{job=\"x\"}") in text, or -1
 * when absent or not a number. */
double	metrics_find_value(const char *text, const char *series);

/* The hook of the job runtime: last_success filled in (from this run, else
 * from the previous file), formatted and written to cfg->metrics_dir.
 * 0 also when metrics_dir does not exist (nothing written); -1 and err. */
int	metrics_job_finished(const struct rb_config *cfg,
	    const struct metrics_run *m, struct rb_err *err) RB_WUR;

/* ---- upstream calls of a job run (lib/http.c and the API clients) ------
 * The job parent calls metrics_upstream_share() before it forks its
 * workers: one MAP_SHARED table, inherited by every worker, counts per
 * service ("shopify", "pinterest", "openai", "google", "meta"; anything
 * else is "other") the HTTP exchanges (every attempt), the failed ones
 * (transport failure, 429 or 5xx) and the milliseconds slept on rate
 * limits.  Without the table (the API, tools) the calls do nothing.
 * metrics_job_finished() adds the table as
 *   reboss_job_last_run_upstream_requests{job,service}
 *   reboss_job_last_run_upstream_errors{job,service}
 *   reboss_job_last_run_upstream_rate_limit_wait_seconds{job,service}
 *   reboss_job_last_run_upstream_deprecated{job,service}  answers that said
 *       the call uses something deprecated (Shopify's
 *       X-Shopify-API-Deprecated-Reason); rebossctl check warns on it */
#define METRICS_NSERVICES	6
extern const char *const metrics_services[METRICS_NSERVICES];

struct metrics_upstream {
	unsigned long long	requests[METRICS_NSERVICES];
	unsigned long long	errors[METRICS_NSERVICES];
	unsigned long long	wait_ms[METRICS_NSERVICES];
	unsigned long long	deprecated[METRICS_NSERVICES];
};

int	metrics_upstream_share(void);	/* 0, or -1 (mmap failed) */
void	metrics_upstream_request(const char *service, bool failed);
void	metrics_upstream_wait(const char *service, long ms);
void	metrics_upstream_deprecated(const char *service);
/* A snapshot of the table (zeros when there is none). */
void	metrics_upstream_get(struct metrics_upstream *out);
int	metrics_format_upstream(const char *job,
	    const struct metrics_upstream *u, struct rb_buf *out,
	    struct rb_err *err) RB_WUR;

/* ---- reboss-api: requests per route, written by the pool supervisor -----
 * The supervisor maps one MAP_SHARED table (one slot per route row plus
 * one "unmatched" slot) before forking; the workers add to it with atomic
 * adds; the supervisor formats it into metrics_dir/reboss_api.prom every
 * REBOSS_API_METRICS_SEC (60) seconds and at shutdown.
 *   reboss_api_requests_total{method,route,code="2xx"}   counter
 *   reboss_api_request_duration_seconds{method,route}    histogram
 *   reboss_api_workers_alive, reboss_api_worker_restarts_total */
#define METRICS_NBUCKETS	11	/* 5 ms .. 10 s, plus +Inf */
extern const double metrics_buckets[METRICS_NBUCKETS];

struct metrics_api_slot {
	unsigned long long	by_class[5];	/* 1xx .. 5xx */
	unsigned long long	bucket[METRICS_NBUCKETS + 1];	/* last: > 10 s */
	unsigned long long	sum_us;
};

struct metrics_api_route {
	const char	*method;
	const char	*pattern;	/* NULL: the "unmatched" slot */
};

/* A zeroed MAP_SHARED|MAP_ANONYMOUS table of n slots, or NULL. */
struct metrics_api_slot *metrics_api_table(size_t n);
/* Atomic; status outside 100..599 counts as 5xx. */
void	metrics_api_observe(struct metrics_api_slot *slot, int status,
	    long long us);
#define METRICS_API_MAX_FILE	(512u << 10)
int	metrics_format_api(const struct metrics_api_route *routes,
	    const struct metrics_api_slot *slots, size_t n, int workers_alive,
	    unsigned long long restarts, struct rb_buf *out,
	    struct rb_err *err) RB_WUR;
/* Formats and writes cfg->metrics_dir/reboss_api.prom; 0 also when the
 * directory does not exist (nothing written). */
int	metrics_api_write(const struct rb_config *cfg,
	    const struct metrics_api_route *routes,
	    const struct metrics_api_slot *slots, size_t n, int workers_alive,
	    unsigned long long restarts, struct rb_err *err) RB_WUR;

#endif
