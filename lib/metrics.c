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
#include <sys/mman.h>
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
	return rb_err_oom(err);
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
	struct metrics_upstream up;
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
	metrics_upstream_get(&up);
	if (metrics_format_run(&m, &b, err) == -1 ||
	    metrics_format_upstream(m.job, &up, &b, err) == -1)
		goto out;
	rc = metrics_write_file(cfg->metrics_dir, name, b.data, b.len, err);
out:
	free(old);
	rb_buf_free(&b);
	return rc;
}

/* ---- upstream calls of a job run ----------------------------------------- */

const char *const metrics_services[METRICS_NSERVICES] = { "shopify",
	"pinterest", "openai", "google", "meta", "other" };

static struct metrics_upstream *upstream;	/* MAP_SHARED, or NULL */

static void *
shared_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;	/* anonymous: zero-filled */
}

int
metrics_upstream_share(void)
{
	if (upstream == NULL)
		upstream = shared_zeroed(sizeof(*upstream));
	return upstream != NULL ? 0 : -1;
}

static size_t
service_index(const char *service)
{
	size_t i;

	for (i = 0; service != NULL && i + 1 < METRICS_NSERVICES; i++)
		if (strcmp(service, metrics_services[i]) == 0)
			return i;
	return METRICS_NSERVICES - 1;
}

void
metrics_upstream_request(const char *service, bool failed)
{
	size_t i = service_index(service);

	if (upstream == NULL)
		return;
	(void)__atomic_fetch_add(&upstream->requests[i], 1, __ATOMIC_RELAXED);
	if (failed)
		(void)__atomic_fetch_add(&upstream->errors[i], 1,
		    __ATOMIC_RELAXED);
}

void
metrics_upstream_wait(const char *service, long ms)
{
	if (upstream == NULL || ms <= 0)
		return;
	(void)__atomic_fetch_add(&upstream->wait_ms[service_index(service)],
	    (unsigned long long)ms, __ATOMIC_RELAXED);
}

void
metrics_upstream_deprecated(const char *service)
{
	if (upstream == NULL)
		return;
	(void)__atomic_fetch_add(&upstream->deprecated[service_index(service)],
	    1, __ATOMIC_RELAXED);
}

void
metrics_upstream_get(struct metrics_upstream *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (upstream == NULL)
		return;
	for (i = 0; i < METRICS_NSERVICES; i++) {
		out->requests[i] = __atomic_load_n(&upstream->requests[i],
		    __ATOMIC_RELAXED);
		out->errors[i] = __atomic_load_n(&upstream->errors[i],
		    __ATOMIC_RELAXED);
		out->wait_ms[i] = __atomic_load_n(&upstream->wait_ms[i],
		    __ATOMIC_RELAXED);
		out->deprecated[i] = __atomic_load_n(&upstream->deprecated[i],
		    __ATOMIC_RELAXED);
	}
}

int
metrics_format_upstream(const char *job, const struct metrics_upstream *u,
    struct rb_buf *b, struct rb_err *err)
{
	static const struct {
		const char *name, *help;
	} series[] = {
		{ "reboss_job_last_run_upstream_requests", "HTTP exchanges "
		    "with the service during the last run (every attempt)." },
		{ "reboss_job_last_run_upstream_errors", "Exchanges of the "
		    "last run that failed (transport error, 429 or 5xx)." },
		{ "reboss_job_last_run_upstream_rate_limit_wait_seconds",
		    "Seconds the last run slept on rate limits of the "
		    "service." },
		{ "reboss_job_last_run_upstream_deprecated", "Answers of the "
		    "last run that said the call uses something deprecated "
		    "(X-Shopify-API-Deprecated-Reason)." },
	};
	size_t k, i;

	if (!is_label_value(job))
		return rb_err_set(err, 500, "metrics_invalid",
		    "Job name is not [a-z_]+.");
	for (k = 0; k < RB_NELEM(series); k++) {
		if (gauge_head(b, series[k].name, series[k].help) == -1)
			goto oom;
		for (i = 0; i < METRICS_NSERVICES; i++) {
			int rc;

			if (k == 2)
				rc = rb_buf_printf(b, "%s{job=\"%s\","
				    "service=\"%s\"} %.3f\n", series[k].name,
				    job, metrics_services[i],
				    (double)u->wait_ms[i] / 1000.0);
			else
				rc = rb_buf_printf(b, "%s{job=\"%s\","
				    "service=\"%s\"} %llu\n", series[k].name,
				    job, metrics_services[i], k == 0 ?
				    u->requests[i] : k == 1 ? u->errors[i] :
				    u->deprecated[i]);
			if (rc == -1)
				goto oom;
		}
	}
	return 0;
oom:
	return rb_err_oom(err);
}

/* ---- reboss-api ------------------------------------------------------------ */

const double metrics_buckets[METRICS_NBUCKETS] = { 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

struct metrics_api_slot *
metrics_api_table(size_t n)
{
	if (n == 0 || n > 1024)
		return NULL;
	return shared_zeroed(n * sizeof(struct metrics_api_slot));
}

void
metrics_api_observe(struct metrics_api_slot *slot, int status, long long us)
{
	size_t c = status >= 100 && status <= 599 ? (size_t)(status / 100 - 1) :
	    4, i;

	if (slot == NULL)
		return;
	if (us < 0)
		us = 0;
	for (i = 0; i < METRICS_NBUCKETS; i++)
		if ((double)us <= metrics_buckets[i] * 1e6)
			break;
	(void)__atomic_fetch_add(&slot->by_class[c], 1, __ATOMIC_RELAXED);
	(void)__atomic_fetch_add(&slot->bucket[i], 1, __ATOMIC_RELAXED);
	(void)__atomic_fetch_add(&slot->sum_us, (unsigned long long)us,
	    __ATOMIC_RELAXED);
}

/* A label value with \\, \" and \n escaped, as the text format wants. */
static int
put_label(struct rb_buf *b, const char *name, const char *v)
{
	if (rb_buf_printf(b, "%s=\"", name) == -1)
		return -1;
	for (; *v != '\0'; v++) {
		if ((*v == '\\' || *v == '"') && rb_buf_append(b, "\\", 1) == -1)
			return -1;
		if (*v == '\n' ? rb_buf_puts(b, "\\n") == -1 :
		    rb_buf_append(b, v, 1) == -1)
			return -1;
	}
	return rb_buf_append(b, "\"", 1);
}

static int
route_labels(struct rb_buf *b, const char *series,
    const struct metrics_api_route *r)
{
	return rb_buf_puts(b, series) == -1 || rb_buf_puts(b, "{") == -1 ||
	    put_label(b, "method", r->pattern != NULL && r->method != NULL ?
	    r->method : "") == -1 || rb_buf_puts(b, ",") == -1 ||
	    put_label(b, "route", r->pattern != NULL ? r->pattern :
	    "unmatched") == -1 ? -1 : 0;
}

int
metrics_format_api(const struct metrics_api_route *routes,
    const struct metrics_api_slot *slots, size_t n, int workers_alive,
    unsigned long long restarts, struct rb_buf *b, struct rb_err *err)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx",
		"5xx" };
	const char *h = "reboss_api_request_duration_seconds";
	size_t i, k;

	if (gauge_head(b, "reboss_api_workers_alive", "Worker processes of "
	    "the reboss-api supervisor that are running.") == -1 ||
	    rb_buf_printf(b, "reboss_api_workers_alive %d\n",
	    workers_alive) == -1 ||
	    rb_buf_printf(b, "# HELP reboss_api_worker_restarts_total Workers "
	    "that died and were replaced since the supervisor started.\n"
	    "# TYPE reboss_api_worker_restarts_total counter\n"
	    "reboss_api_worker_restarts_total %llu\n", restarts) == -1 ||
	    rb_buf_puts(b, "# HELP reboss_api_requests_total Requests answered,"
	    " by route pattern and status class.\n"
	    "# TYPE reboss_api_requests_total counter\n") == -1)
		goto oom;
	for (i = 0; i < n; i++)
		for (k = 0; k < RB_NELEM(classes); k++) {
			unsigned long long v = __atomic_load_n(
			    &slots[i].by_class[k], __ATOMIC_RELAXED);

			/* 1xx/3xx only when seen: the API answers neither */
			if (v == 0 && (k == 0 || k == 2))
				continue;
			if (route_labels(b, "reboss_api_requests_total",
			    &routes[i]) == -1 || rb_buf_printf(b,
			    ",code=\"%s\"} %llu\n", classes[k], v) == -1)
				goto oom;
		}
	if (rb_buf_printf(b, "# HELP %s Time from the request's parameters to "
	    "the end of its response, by route pattern.\n# TYPE %s "
	    "histogram\n", h, h) == -1)
		goto oom;
	for (i = 0; i < n; i++) {
		unsigned long long cum = 0;
		char name[96];

		for (k = 0; k <= METRICS_NBUCKETS; k++) {
			cum += __atomic_load_n(&slots[i].bucket[k],
			    __ATOMIC_RELAXED);
			(void)snprintf(name, sizeof(name), "%s_bucket", h);
			if (route_labels(b, name, &routes[i]) == -1)
				goto oom;
			if ((k < METRICS_NBUCKETS ? rb_buf_printf(b,
			    ",le=\"%g\"} %llu\n", metrics_buckets[k], cum) :
			    rb_buf_printf(b, ",le=\"+Inf\"} %llu\n", cum)) == -1)
				goto oom;
		}
		(void)snprintf(name, sizeof(name), "%s_sum", h);
		if (route_labels(b, name, &routes[i]) == -1 ||
		    rb_buf_printf(b, "} %.6f\n", (double)__atomic_load_n(
		    &slots[i].sum_us, __ATOMIC_RELAXED) / 1e6) == -1)
			goto oom;
		(void)snprintf(name, sizeof(name), "%s_count", h);
		if (route_labels(b, name, &routes[i]) == -1 ||
		    rb_buf_printf(b, "} %llu\n", cum) == -1)
			goto oom;
	}
	return 0;
oom:
	return rb_err_oom(err);
}

int
metrics_api_write(const struct rb_config *cfg,
    const struct metrics_api_route *routes,
    const struct metrics_api_slot *slots, size_t n, int workers_alive,
    unsigned long long restarts, struct rb_err *err)
{
	struct rb_buf b = { .max = METRICS_API_MAX_FILE };
	struct stat st;
	int rc = -1;

	if (cfg->metrics_dir == NULL || cfg->metrics_dir[0] == '\0' ||
	    slots == NULL)
		return 0;
	if (stat(cfg->metrics_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;	/* no node_exporter here: nothing to do */
	if (metrics_format_api(routes, slots, n, workers_alive, restarts, &b,
	    err) == 0)
		rc = metrics_write_file(cfg->metrics_dir, "reboss_api.prom",
		    b.data, b.len, err);
	rb_buf_free(&b);
	return rc;
}
