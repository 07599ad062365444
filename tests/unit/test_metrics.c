/*
 * test_metrics.c - lib/metrics.c: the text format, the atomic write, and
 * carrying last_success over from the previous file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	(void)rmdir(dir);
	return done_testing();
}
