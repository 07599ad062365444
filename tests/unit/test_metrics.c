/*
 * test_metrics.c - lib/metrics.c: the text format, the atomic write, and
 * carrying last_success over from the previous file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "util.h"
#include "tap.h"

static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..")
		    != 0)
			n++;
	closedir(d);
	return n;
}

static int
has(const struct rb_buf *b, const char *s)
{
	return b->data != NULL && strstr(b->data, s) != NULL;
}

/* Upstream counters and the API table: shared with a forked child. */
static void
test_shared(char *dir)
{
	char nodir[] = "/nonexistent/reboss-metrics";
	static const struct metrics_api_route routes[] = {
		{ "GET", "/health" }, { "POST", "/a\"b\\c" }, { NULL, NULL },
	};
	struct metrics_upstream u;
	struct metrics_api_slot *t;
	struct rb_buf b = { 0 };
	struct rb_err err = { 0 };
	struct rb_config cfg;
	char path[256];
	struct stat st;
	pid_t pid;
	int wst = -1;

	metrics_upstream_request("shopify", true);	/* no table: no-op */
	metrics_upstream_get(&u);
	ok(u.requests[0] == 0 && u.errors[0] == 0, "no table: nothing counted");
	ok(metrics_upstream_share() == 0, "upstream table shared");
	t = metrics_api_table(3);
	ok(t != NULL, "API table mapped");
	if (t == NULL)
		return;
	metrics_api_observe(&t[0], 200, 3000);		/* le 0.005 */
	metrics_upstream_request("shopify", false);
	if ((pid = fork()) == 0) {			/* a worker */
		metrics_upstream_request("shopify", false);
		metrics_upstream_request("shopify", true);
		metrics_upstream_request("pinterest", false);
		metrics_upstream_request(NULL, false);	/* "other" */
		metrics_upstream_request("nonsense", true);	/* "other" */
		metrics_upstream_wait("openai", 1500);
		metrics_upstream_wait("openai", -5);	/* ignored */
		metrics_api_observe(&t[0], 204, 7000);	/* le 0.01 */
		metrics_api_observe(&t[0], 503, 20000000);	/* +Inf */
		metrics_api_observe(&t[2], 404, 1000);
		metrics_api_observe(&t[1], 0, 30000);	/* no status: 5xx */
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) &&
	    WEXITSTATUS(wst) == 0, "child counted and exited");
	metrics_upstream_get(&u);
	is_int((long long)u.requests[0], 3, "shopify requests, both processes");
	is_int((long long)u.errors[0], 1, "shopify errors");
	is_int((long long)u.requests[1], 1, "pinterest requests");
	is_int((long long)u.requests[5], 2, "other requests");
	is_int((long long)u.errors[5], 1, "other errors");
	is_int((long long)u.wait_ms[2], 1500, "openai waits");

	ok(metrics_format_upstream("sales_tracker", &u, &b, &err) == 0,
	    "format upstream");
	ok(has(&b, "# TYPE reboss_job_last_run_upstream_requests gauge\n"),
	    "upstream TYPE");
	ok(has(&b, "reboss_job_last_run_upstream_requests{job=\"sales_tracker"
	    "\",service=\"shopify\"} 3\n"), "requests line");
	ok(has(&b, "reboss_job_last_run_upstream_errors{job=\"sales_tracker\","
	    "service=\"other\"} 1\n"), "errors line");
	ok(has(&b, "reboss_job_last_run_upstream_rate_limit_wait_seconds{job="
	    "\"sales_tracker\",service=\"openai\"} 1.500\n"), "wait in seconds");
	ok(has(&b, "service=\"meta\"} 0\n"), "services without calls: 0");
	rb_buf_free(&b);
	ok(metrics_format_upstream("Bad\"", &u, &b, &err) == -1,
	    "bad job name refused");
	rb_buf_free(&b);

	ok(metrics_format_api(routes, t, 3, 2, 5, &b, &err) == 0,
	    "format API");
	ok(has(&b, "reboss_api_workers_alive 2\n"), "workers alive");
	ok(has(&b, "# TYPE reboss_api_worker_restarts_total counter\n"
	    "reboss_api_worker_restarts_total 5\n"), "restarts counter");
	ok(has(&b, "# TYPE reboss_api_requests_total counter\n"), "TYPE");
	ok(has(&b, "reboss_api_requests_total{method=\"GET\",route=\"/health\","
	    "code=\"2xx\"} 2\n"), "2xx of /health");
	ok(has(&b, "reboss_api_requests_total{method=\"GET\",route=\"/health\","
	    "code=\"5xx\"} 1\n"), "5xx of /health");
	ok(has(&b, "reboss_api_requests_total{method=\"GET\",route=\"/health\","
	    "code=\"4xx\"} 0\n"), "4xx of /health present at 0");
	ok(!has(&b, "code=\"1xx\"") && !has(&b, "code=\"3xx\""),
	    "1xx/3xx only when seen");
	ok(has(&b, "{method=\"POST\",route=\"/a\\\"b\\\\c\",code=\"5xx\"} 1\n"),
	    "label escaped; status 0 is 5xx");
	ok(has(&b, "reboss_api_requests_total{method=\"\",route=\"unmatched\","
	    "code=\"4xx\"} 1\n"), "unmatched slot");
	ok(has(&b, "# TYPE reboss_api_request_duration_seconds histogram\n"),
	    "histogram TYPE");
	ok(has(&b, "_bucket{method=\"GET\",route=\"/health\",le=\"0.005\"} 1\n"),
	    "bucket 5 ms");
	ok(has(&b, "_bucket{method=\"GET\",route=\"/health\",le=\"0.01\"} 2\n"),
	    "bucket 10 ms, cumulative");
	ok(has(&b, "_bucket{method=\"GET\",route=\"/health\",le=\"10\"} 2\n"),
	    "bucket 10 s");
	ok(has(&b, "_bucket{method=\"GET\",route=\"/health\",le=\"+Inf\"} 3\n"),
	    "bucket +Inf");
	ok(has(&b, "_count{method=\"GET\",route=\"/health\"} 3\n"), "count");
	ok(has(&b, "_sum{method=\"GET\",route=\"/health\"} 20.010000\n"),
	    "sum in seconds");
	rb_buf_free(&b);

	memset(&cfg, 0, sizeof(cfg));
	cfg.metrics_dir = dir;
	ok(metrics_api_write(&cfg, routes, t, 3, 2, 5, &err) == 0,
	    "write reboss_api.prom: %s", err.msg);
	(void)snprintf(path, sizeof(path), "%s/reboss_api.prom", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "reboss_api.prom, mode 0644");
	(void)unlink(path);
	cfg.metrics_dir = nodir;
	ok(metrics_api_write(&cfg, routes, t, 3, 2, 5, &err) == 0,
	    "no directory: skipped");
	ok(metrics_api_table(0) == NULL, "empty table refused");
}

int
main(void)
{
	struct metrics_run m = {
		.job = "sales_tracker", .status = "completed_with_errors",
		.started = 1700000000.0, .finished = 1700000123.5,
		.duration_s = 123.5, .total = 10, .processed = 9, .failed = 2,
		.skipped = 1, .cancelled = 0, .last_success = 1700000123.5,
	};
	struct rb_buf b = { 0 };
	struct rb_err err = { 0 };
	struct rb_config cfg;
	char dir[] = "/tmp/test_metrics.XXXXXX", path[256], *text = NULL;
	char nodir[] = "/nonexistent/reboss-metrics";
	size_t len;
	struct stat st;

	ok(metrics_format_run(&m, &b, &err) == 0, "format a run");
	ok(b.data != NULL && strstr(b.data, "# TYPE reboss_job_last_run_"
	    "duration_seconds gauge\n") != NULL, "TYPE line");
	ok(b.data != NULL && strstr(b.data, "reboss_job_last_run_shops{job="
	    "\"sales_tracker\",state=\"failed\"} 2\n") != NULL, "failed shops");
	ok(b.data != NULL && strstr(b.data, "reboss_job_last_run_status{job="
	    "\"sales_tracker\",status=\"completed_with_errors\"} 1\n") != NULL,
	    "status one-hot: 1");
	ok(b.data != NULL && strstr(b.data, "reboss_job_last_run_status{job="
	    "\"sales_tracker\",status=\"failed\"} 0\n") != NULL,
	    "status one-hot: 0");
	is_int((long long)(metrics_find_value(b.data, "reboss_job_last_run_"
	    "duration_seconds{job=\"sales_tracker\"}") * 10), 1235,
	    "duration read back");
	ok(metrics_find_value(b.data, "reboss_job_nothing{job=\"x\"}") < 0,
	    "absent series: -1");
	rb_buf_free(&b);

	m.job = "bad job\"}";
	ok(metrics_format_run(&m, &b, &err) == -1, "a label that would need "
	    "escaping is refused");
	rb_buf_free(&b);
	m.job = "sales_tracker";

	ok(mkdtemp(dir) != NULL, "temp dir");
	memset(&cfg, 0, sizeof(cfg));
	cfg.metrics_dir = dir;
	ok(metrics_job_finished(&cfg, &m, &err) == 0, "write: %s", err.msg);
	(void)snprintf(path, sizeof(path), "%s/reboss_sales_tracker.prom", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "file exists, mode 0644");
	is_int(count_files(dir), 1, "no temp file left behind");

	/* A failed run keeps the last success of the previous file. */
	m.status = "failed";
	m.last_success = 0;
	m.finished = 1700090000.0;
	ok(metrics_job_finished(&cfg, &m, &err) == 0, "write failed run");
	ok(rb_read_file(path, 1 << 16, &text, &len, &err) == 0, "read back");
	is_int((long long)metrics_find_value(text, "reboss_job_last_success_"
	    "timestamp_seconds{job=\"sales_tracker\"}"), 1700000123LL,
	    "last success carried over");
	is_int((long long)metrics_find_value(text, "reboss_job_last_run_end_"
	    "timestamp_seconds{job=\"sales_tracker\"}"), 1700090000LL,
	    "end time is the new run's");
	ok(metrics_find_value(text, "reboss_job_last_run_status{job=\"sales_"
	    "tracker\",status=\"failed\"}") == 1, "status failed");
	free(text);

	/* No directory: nothing written, not an error. */
	cfg.metrics_dir = nodir;
	ok(metrics_job_finished(&cfg, &m, &err) == 0, "missing dir: skipped");

	/* An unwritable target (a directory in the way) fails cleanly. */
	(void)unlink(path);
	ok(mkdir(path, 0755) == 0, "directory in the way");
	cfg.metrics_dir = dir;
	ok(metrics_job_finished(&cfg, &m, &err) == -1, "rename onto a "
	    "directory fails");
	is_str(err.code, "metrics_write", "error code");
	is_int(count_files(dir), 1, "the temp file was removed");
	(void)rmdir(path);
	test_shared(dir);
	(void)rmdir(dir);
	return done_testing();
}
