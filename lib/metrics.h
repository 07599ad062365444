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

#endif
