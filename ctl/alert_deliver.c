/*
 * alert_deliver.c - how rebossctl's alerts leave the host (see
 * alert_deliver.h): the webhook (through lib/http.c), sendmail, and the
 * spool of what could not be delivered.  Owned by monitoring (issue 10);
 * alert_cmds.c composes what is sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert_deliver.h"
#include "config.h"
#include "env.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define ALERT_SPOOL_MAX		1000	/* files; beyond, loudly dropped */

/* --- one channel ------------------------------------------------------------------ */

/* Host of a URL, for logs (the path of a webhook URL is its secret). */
void
alert_url_host(const char *url, char *out, size_t outsz)
{
	const char *h = strstr(url, "://"), *e, *at;
	size_t n;

	h = h != NULL ? h + 3 : url;
	e = h + strcspn(h, "/?#");
	if ((at = memchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;
	n = (size_t)(e - h) < outsz - 1 ? (size_t)(e - h) : outsz - 1;
	memcpy(out, h, n);
	out[n] = '\0';
}

/* One POST of body through lib/http.c (the shared CA store, ca_file, the
 * response cap and the "other" upstream metrics); 0 on a 2xx answer.  The
 * URL's path is the webhook's secret: errors and logs name only its host. */
static int
post_webhook(const struct rb_config *cfg, const char *body,
    struct rb_err *err)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL };
	struct http_request req = {
		.method = "POST", .url = cfg->alert_webhook_url,
		.headers = headers, .body = body, .body_len = strlen(body),
		.connect_timeout_ms = 10000, .timeout_ms = 30000,
		.max_response = 64u << 10, .max_attempts = 1,
		.secret_path = true,
	};
	struct http_response resp;
	struct http_client *hc;
	char host[128];
	int rc = -1;

	alert_url_host(cfg->alert_webhook_url, host, sizeof(host));
	if ((hc = http_client_new(cfg)) == NULL)
		return rb_err_oom(err);
	if (http_request(hc, &req, &resp, err) == -1) {
		rb_err_set(err, 502, "alert_undeliverable", "webhook %s: %s",
		    host, err->msg);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		rb_err_set(err, 502, "alert_undeliverable", "webhook %s "
		    "answered HTTP %ld", host, resp.status);
		goto out;
	}
	rc = 0;
out:
	http_response_free(&resp);
	http_client_free(hc);
	return rc;
}

/* One hand-over of a whole message to sendmail -t -oi. */
static int
run_sendmail(const char *msg, struct rb_err *err)
{
	const char *path = getenv("REBOSS_SENDMAIL");
	size_t len = strlen(msg), off = 0;
	int fds[2], st;
	ssize_t w;
	pid_t pid;

	if (path == NULL || *path == '\0')
		path = "/usr/sbin/sendmail";
	if (pipe(fds) == -1)
		return rb_err_set(err, 500, "alert_undeliverable", "pipe: %s",
		    strerror(errno));
	(void)fflush(NULL);
	if ((pid = fork()) == -1) {
		(void)close(fds[0]);
		(void)close(fds[1]);
		return rb_err_set(err, 500, "alert_undeliverable", "fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		if (dup2(fds[0], 0) == -1)
			_exit(127);
		(void)close(fds[0]);
		(void)close(fds[1]);
		execl(path, "sendmail", "-t", "-oi", (char *)NULL);
		_exit(127);
	}
	(void)close(fds[0]);
	while (off < len) {
		w = write(fds[1], msg + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	(void)close(fds[1]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return rb_err_set(err, 500, "alert_undeliverable",
			    "waitpid: %s", strerror(errno));
	if (off < len)
		return rb_err_set(err, 502, "alert_undeliverable", "%s did not "
		    "read the whole message", path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return rb_err_set(err, 502, "alert_undeliverable", "%s could "
		    "not be run (is an MTA installed?)", path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return rb_err_set(err, 502, "alert_undeliverable", "%s failed "
		    "(wait status 0x%x)", path, st);
	return 0;
}

/*
 * Without a readable configuration nobody knows where alerts go: the mail
 * goes to the local root (Debian routes it with /etc/aliases), best effort.
 * why is config_load()'s message, which never quotes a secret.
 */
void
alert_mail_root(const char *unit, const char *why)
{
	char host[256], msg[2048];
	struct rb_err err;
	int n;

	rb_err_clear(&err);
	if (gethostname(host, sizeof(host) - 1) == -1)
		rb_strlcpy(host, "unknown", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	n = snprintf(msg, sizeof(msg), "To: root\nSubject: [ReBoss] %s failed "
	    "on %s; reboss.conf cannot be read\nContent-Type: text/plain; "
	    "charset=utf-8\n\n%s failed on %s, and its alert could not be "
	    "sent where reboss.conf says, because the configuration cannot "
	    "be read:\n\n  %s\n\nFix it (rebossctl check-config), then see "
	    "journalctl -u %s -n 200\n", unit, host, unit, host, why, unit);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if (run_sendmail(msg, &err) == -1)
		log_err("alert for %s: mail to root failed too: %s", unit,
		    err.msg);
	else
		log_notice("alert for %s mailed to root", unit);
}

const char *const alert_channel_names[3] = { "webhook", "mail",
	"owner-mail" };

static int
deliver_once(const struct rb_config *cfg, enum alert_channel ch,
    const char *payload, struct rb_err *err)
{
	if (ch == ALERT_WEBHOOK) {
		if (cfg->alert_webhook_url == NULL)
			return rb_err_set(err, 500, "alert_unconfigured",
			    "alert_webhook_url is not set");
		return post_webhook(cfg, payload, err);
	}
	if (ch == ALERT_MAIL && cfg->alert_email == NULL)
		return rb_err_set(err, 500, "alert_unconfigured",
		    "alert_email is not set");
	return run_sendmail(payload, err);
}

/* Bounded tries with doubling backoff. */
static int
deliver(const struct rb_config *cfg, enum alert_channel ch,
    const char *payload, struct rb_err *err)
{
	long attempts = rb_env_long("REBOSS_ALERT_ATTEMPTS", 1, 10, 3);
	long wait = rb_env_long("REBOSS_ALERT_RETRY_MS", 0, 600000, 2000);
	long i;

	for (i = 1; ; i++) {
		rb_err_clear(err);
		if (deliver_once(cfg, ch, payload, err) == 0)
			return 0;
		log_warn("alert by %s, attempt %ld of %ld, failed: %s",
		    alert_channel_names[ch], i, attempts, err->msg);
		if (i >= attempts || strcmp(err->code, "alert_unconfigured")
		    == 0)
			return -1;
		(void)rb_sleep_ms(wait, NULL);
		wait *= 2;
	}
}

/* --- the spool ------------------------------------------------------------------ */

static int
spool_write(const struct rb_config *cfg, enum alert_channel ch,
    const char *payload, struct rb_err *err)
{
	const char *dir = cfg->alert_spool_dir;
	char tmp[4096], dst[4096], id[37];
	json_t *o = NULL;
	char *text = NULL;
	struct dirent *de;
	size_t len, off = 0, nfiles = 0;
	ssize_t w;
	DIR *d;
	int fd = -1, n, rc = -1;

	if ((d = opendir(dir)) == NULL)
		return rb_err_set(err, 500, "spool_failed", "cannot open the "
		    "alert spool %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			nfiles++;
	(void)closedir(d);
	if (nfiles >= ALERT_SPOOL_MAX)
		return rb_err_set(err, 500, "spool_full", "the alert spool %s "
		    "holds %zu alerts already; this one is dropped", dir,
		    nfiles);
	if (rb_uuid_v4(id) == -1)
		return rb_err_set(err, 500, "spool_failed", "no random id");
	n = snprintf(dst, sizeof(dst), "%s/%013lld-%s.alert", dir,
	    (long long)rb_now_ms(), id);
	if (n < 0 || (size_t)n >= sizeof(dst) ||
	    (n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id)) < 0 ||
	    (size_t)n >= sizeof(tmp))
		return rb_err_set(err, 500, "spool_failed", "spool path too "
		    "long");
	o = json_pack("{s:s, s:I, s:s}", "channel", alert_channel_names[ch],
	    "created", (json_int_t)time(NULL), "payload", payload);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		rb_err_set(err, 500, "spool_failed", "cannot create %s: %s",
		    tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < len || fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		rb_err_set(err, 500, "spool_failed", "cannot write %s: %s",
		    tmp, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) == -1) {
		rb_err_set(err, 500, "spool_failed", "cannot rename %s: %s",
		    tmp, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	log_notice("alert by %s kept in %s for the next rebossctl alert/check",
	    alert_channel_names[ch], dst);
	rc = 0;
out:
	if (fd != -1)
		(void)close(fd);
	free(text);
	json_decref(o);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Sends what the spool holds, oldest first, one try each; a channel that
 * fails is not tried again in this pass.  *left gets what remains.
 */
void
alert_spool_flush(const struct rb_config *cfg, size_t *left)
{
	bool down[RB_NELEM(alert_channel_names)] = { false, false, false };
	struct rb_err err = { 0 };
	char **names = NULL, **nn, path[4096];
	size_t n = 0, i, len;
	struct dirent *de;
	json_error_t jerr;
	DIR *d;

	*left = 0;
	if (cfg->alert_spool_dir == NULL ||
	    (d = opendir(cfg->alert_spool_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 7 ||
		    strcmp(de->d_name + len - 6, ".alert") != 0)
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL)
			break;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	(void)closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		char *text = NULL;
		json_t *o = NULL;
		const char *chs, *payload;
		int ch, nw;

		nw = snprintf(path, sizeof(path), "%s/%s",
		    cfg->alert_spool_dir, names[i]);
		if (nw < 0 || (size_t)nw >= sizeof(path) ||
		    rb_read_file(path, ALERT_FILE_MAX, &text, &len, &err)
		    == -1 ||
		    (o = json_loadb(text, len, 0, &jerr)) == NULL ||
		    json_unpack(o, "{s:s, s:s}", "channel", &chs, "payload",
		    &payload) == -1 ||
		    (ch = strcmp(chs, "mail") == 0 ? ALERT_MAIL :
		    strcmp(chs, "webhook") == 0 ? ALERT_WEBHOOK :
		    strcmp(chs, "owner-mail") == 0 ? ALERT_OWNER_MAIL : -1) ==
		    -1) {
			log_err("alert spool: %s is unreadable; left in place "
			    "for a person to look at", path);
			(*left)++;
			goto next;
		}
		if (down[ch]) {
			(*left)++;
			goto next;
		}
		rb_err_clear(&err);
		if (deliver_once(cfg, (enum alert_channel)ch, payload, &err) == -1) {
			log_warn("alert spool: %s still undeliverable by %s: "
			    "%s", names[i], chs, err.msg);
			down[ch] = true;
			(*left)++;
			goto next;
		}
		if (unlink(path) == -1)
			log_err("alert spool: %s was delivered but cannot be "
			    "removed: %s", path, strerror(errno));
		else
			log_notice("alert spool: %s delivered by %s", names[i],
			    chs);
next:
		json_decref(o);
		free(text);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (*left > 0)
		log_warn("alert spool %s: %zu alert(s) wait for delivery",
		    cfg->alert_spool_dir, *left);
}

int
alert_deliver_or_spool(const struct rb_config *cfg, enum alert_channel ch,
    const char *payload, const char *text)
{
	struct rb_err err = { 0 };

	if (deliver(cfg, ch, payload, &err) == 0)
		return 0;
	rb_err_clear(&err);
	if (spool_write(cfg, ch, payload, &err) == 0)
		return 1;
	log_err("ALERT LOST (%s): %s; the alert was:\n%s",
	    alert_channel_names[ch], err.msg, text);
	return 2;
}
