/*
 * metrics.c - Prometheus textfile metrics of the jobs (see metrics.h).
 * Owner: monitoring (issue 10).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "util.h"

static const char *const statuses[] = { "completed", "completed_with_errors",
	"cancelled", "failed" };

static int
is_label_value(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return 0;
	return 1;
}

static int
gauge_head(struct rb_buf *b, const char *name, const char *help)
{
	return rb_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help,
	    name);
}

int
metrics_format_run(const struct metrics_run *m, struct rb_buf *b,
    struct rb_err *err)
{
	const struct {
		const char *state;
		size_t n;
	} shops[] = {
		{ "total", m->total }, { "processed", m->processed },
		{ "failed", m->failed }, { "skipped", m->skipped },
		{ "cancelled", m->cancelled },
	};
	const char *j = m->job;
	size_t i;

	if (!is_label_value(m->job) || !is_label_value(m->status))
		return rb_err_set(err, 500, "metrics_invalid",
		    "Job name or status is not [a-z_]+.");
	if (!isfinite(m->started) || !isfinite(m->finished) ||
	    !isfinite(m->duration_s) || !isfinite(m->last_success))
		return rb_err_set(err, 500, "metrics_invalid",
		    "A metric value is not a finite number.");
	if (gauge_head(b, "reboss_job_last_run_start_timestamp_seconds",
	    "Start of the last run of the job (unix time).") == -1 ||
	    rb_buf_printf(b, "reboss_job_last_run_start_timestamp_seconds"
	    "{job=\"%s\"} %.3f\n", j, m->started) == -1 ||
	    gauge_head(b, "reboss_job_last_run_end_timestamp_seconds",
	    "End of the last run of the job (unix time).") == -1 ||
	    rb_buf_printf(b, "reboss_job_last_run_end_timestamp_seconds"
	    "{job=\"%s\"} %.3f\n", j, m->finished) == -1 ||
	    gauge_head(b, "reboss_job_last_run_duration_seconds",
	    "Duration of the last run of the job.") == -1 ||
	    rb_buf_printf(b, "reboss_job_last_run_duration_seconds"
	    "{job=\"%s\"} %.3f\n", j, m->duration_s) == -1 ||
	    gauge_head(b, "reboss_job_last_run_shops", "Shops of the last run "
	    "by state (processed = succeeded + failed).") == -1)
		goto oom;
	for (i = 0; i < RB_NELEM(shops); i++)
		if (rb_buf_printf(b, "reboss_job_last_run_shops{job=\"%s\","
		    "state=\"%s\"} %zu\n", j, shops[i].state, shops[i].n) == -1)
			goto oom;
	if (gauge_head(b, "reboss_job_last_run_status", "1 for the status the "
	    "last run of the job ended with, 0 for the others.") == -1)
		goto oom;
	for (i = 0; i < RB_NELEM(statuses); i++)
		if (rb_buf_printf(b, "reboss_job_last_run_status{job=\"%s\","
		    "status=\"%s\"} %d\n", j, statuses[i],
		    strcmp(statuses[i], m->status) == 0) == -1)
			goto oom;
	if (m->last_success > 0 &&
	    (gauge_head(b, "reboss_job_last_success_timestamp_seconds",
	    "End of the newest run of the job that completed (unix time).")
	    == -1 ||
	    rb_buf_printf(b, "reboss_job_last_success_timestamp_seconds"
	    "{job=\"%s\"} %.3f\n", j, m->last_success) == -1))
		goto oom;
	return 0;
oom:
	return rb_err_set(err, 500, "out_of_memory", "Out of memory.");
}

double
metrics_find_value(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;
	char *end;
	double v;

	if (text == NULL || n == 0)
		return -1;
	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ') {
			errno = 0;
			v = strtod(p + n + 1, &end);
			if (errno != 0 || end == p + n + 1 || !isfinite(v) ||
			    (*end != '\n' && *end != '\0' && *end != ' '))
				return -1;
			return v;
		}
		p += n;
	}
	return -1;
}

int
metrics_write_file(const char *dir, const char *name, const char *text,
    size_t len, struct rb_err *err)
{
	char tmp[4096], dst[4096];
	int fd = -1, n;
	size_t off = 0;
	ssize_t w;

	n = snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(dst))
		return rb_err_set(err, 500, "metrics_path", "The metrics path "
		    "is too long.");
	/* A dot file: node_exporter reads *.prom only. */
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return rb_err_set(err, 500, "metrics_path", "The metrics path "
		    "is too long.");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1) {
		rb_err_set(err, 500, "metrics_write", "Cannot create %s: %s.",
		    tmp, strerror(errno));
		goto fail;
	}
	/* The umask of a sandboxed unit is 0077; node_exporter must read. */
	if (fchmod(fd, 0644) == -1) {
		rb_err_set(err, 500, "metrics_write", "Cannot chmod %s: %s.",
		    tmp, strerror(errno));
		goto fail;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			rb_err_set(err, 500, "metrics_write", "Cannot write "
			    "%s: %s.", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		rb_err_set(err, 500, "metrics_write", "Cannot write %s: %s.",
		    tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) == -1) {
		rb_err_set(err, 500, "metrics_write", "Cannot rename %s to "
		    "%s: %s.", tmp, dst, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

int
metrics_job_finished(const struct rb_config *cfg,
    const struct metrics_run *in, struct rb_err *err)
{
	struct metrics_run m = *in;
	struct rb_buf b = { .max = METRICS_MAX_FILE };
	struct rb_err rerr = { 0 };
	char name[128], path[4096], series[160], *old = NULL;
	struct stat st;
	size_t oldlen;
	double v;
	int n, rc = -1;

	if (cfg->metrics_dir == NULL || cfg->metrics_dir[0] == '\0')
		return 0;
	if (stat(cfg->metrics_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;	/* no node_exporter here: nothing to do */
	if (!is_label_value(m.job))
		return rb_err_set(err, 500, "metrics_invalid",
		    "Job name is not [a-z_]+.");
	n = snprintf(name, sizeof(name), "reboss_%s.prom", m.job);
	if (n < 0 || (size_t)n >= sizeof(name))
		return rb_err_set(err, 500, "metrics_path", "Name too long.");
	if (strcmp(m.status, "completed") == 0 ||
	    strcmp(m.status, "completed_with_errors") == 0) {
		m.last_success = m.finished;
	} else if (m.last_success <= 0) {
		n = snprintf(path, sizeof(path), "%s/%s", cfg->metrics_dir,
		    name);
		(void)snprintf(series, sizeof(series),
		    "reboss_job_last_success_timestamp_seconds{job=\"%s\"}",
		    m.job);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    rb_read_file(path, METRICS_MAX_FILE, &old, &oldlen,
		    &rerr) == 0 && (v = metrics_find_value(old, series)) > 0)
			m.last_success = v;
	}
	if (metrics_format_run(&m, &b, err) == -1)
		goto done;
	rc = metrics_write_file(cfg->metrics_dir, name, b.data, b.len, err);
done:
	free(old);
	rb_buf_free(&b);
	return rc;
}
