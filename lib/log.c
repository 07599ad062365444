/*
 * log.c - see log.h.
 *
 * When stderr is connected to the journal (systemd sets $JOURNAL_STREAM to
 * "DEV:INODE" of that stream), entries go through sd_journal_sendv() with
 * MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and the context fields, so that
 * "journalctl JOB=sales_tracker SHOP_DOMAIN=x.myshopify.com" works.
 * Otherwise one line goes to stderr:
 *   IDENT[PID]: LEVEL: message (JOB=... SHOP_DOMAIN=...)
 * Messages are capped at LOG_MAX_MSG bytes and every control character is
 * replaced by '?', so text from upstream answers cannot forge a log line.
 * Not thread-safe: ReBoss forks, it does not use threads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

#define LOG_MAX_MSG	4096
#define LOG_MAX_VALUE	256
#define LOG_MAX_NAME	32
#define LOG_NFIELDS	8

static struct {
	bool	 init;
	bool	 journal;
	int	 level;
	char	 ident[64];
	struct {
		char	name[LOG_MAX_NAME];
		char	value[LOG_MAX_VALUE];
	} f[LOG_NFIELDS];
} L = { .level = LOG_INFO, .ident = "reboss" };

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

static bool
stderr_is_journal(void)
{
	unsigned long long dev, ino;
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	char *end;

	if (e == NULL || *e == '\0')
		return false;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != ':')
		return false;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) == -1 ||
	    (unsigned long long)st.st_dev != dev ||
	    (unsigned long long)st.st_ino != ino)
		return false;
	/* sd_journal_sendv() drops entries silently when journald's socket
	 * is missing; then stderr is the better place. */
	return stat("/run/systemd/journal/socket", &st) == 0 &&
	    S_ISSOCK(st.st_mode);
}

void
log_init(const char *ident)
{
	const char *slash;

	if (ident != NULL) {
		if ((slash = strrchr(ident, '/')) != NULL)
			ident = slash + 1;
		if (*ident != '\0')
			rb_strlcpy(L.ident, ident, sizeof(L.ident));
	}
	L.journal = stderr_is_journal();
	L.level = getenv("REBOSS_DEBUG") != NULL ? LOG_DEBUG : LOG_INFO;
	L.init = true;
}

void
log_set_level(int priority)
{
	if (priority >= LOG_EMERG && priority <= LOG_DEBUG)
		L.level = priority;
}

/* Copies src into dst (size > 0), every control byte replaced by '?'. */
static void
clean_copy(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* Journald field names: upper-case letters, digits, '_', not leading '_'
 * or digit. */
static bool
valid_field(const char *name)
{
	size_t n = 0;

	if (name == NULL || *name == '_' || (*name >= '0' && *name <= '9'))
		return false;
	for (; name[n] != '\0'; n++)
		if (!((name[n] >= 'A' && name[n] <= 'Z') ||
		    (name[n] >= '0' && name[n] <= '9') || name[n] == '_'))
			return false;
	return n > 0 && n < LOG_MAX_NAME;
}

void
log_set_field(const char *name, const char *value)
{
	size_t i, freeslot = LOG_NFIELDS;

	if (!valid_field(name))
		return;
	for (i = 0; i < LOG_NFIELDS; i++) {
		if (strcmp(L.f[i].name, name) == 0)
			break;
		if (L.f[i].name[0] == '\0' && freeslot == LOG_NFIELDS)
			freeslot = i;
	}
	if (i == LOG_NFIELDS) {
		if (value == NULL || freeslot == LOG_NFIELDS)
			return;
		i = freeslot;
	}
	if (value == NULL) {
		L.f[i].name[0] = '\0';
		L.f[i].value[0] = '\0';
		return;
	}
	rb_strlcpy(L.f[i].name, name, sizeof(L.f[i].name));
	clean_copy(L.f[i].value, value, sizeof(L.f[i].value));
}

static void
to_journal(int priority, const char *msg)
{
	char fields[LOG_NFIELDS][LOG_MAX_NAME + LOG_MAX_VALUE + 1];
	char m[LOG_MAX_MSG + 16], pr[16], id[sizeof(L.ident) + 32];
	struct iovec iov[3 + LOG_NFIELDS];
	int n = 0, i;

	(void)snprintf(m, sizeof(m), "MESSAGE=%s", msg);
	(void)snprintf(pr, sizeof(pr), "PRIORITY=%d", priority);
	(void)snprintf(id, sizeof(id), "SYSLOG_IDENTIFIER=%s", L.ident);
	iov[n].iov_base = m;
	iov[n++].iov_len = strlen(m);
	iov[n].iov_base = pr;
	iov[n++].iov_len = strlen(pr);
	iov[n].iov_base = id;
	iov[n++].iov_len = strlen(id);
	for (i = 0; i < LOG_NFIELDS; i++) {
		if (L.f[i].name[0] == '\0')
			continue;
		(void)snprintf(fields[i], sizeof(fields[i]), "%s=%s",
		    L.f[i].name, L.f[i].value);
		iov[n].iov_base = fields[i];
		iov[n++].iov_len = strlen(fields[i]);
	}
	if (sd_journal_sendv(iov, n) < 0)
		L.journal = false;	/* journal gone: fall back to stderr */
}

/* Appends to line at *off; the line is sized so that everything fits. */
static void RB_PRINTF(4, 5)
put(char *line, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < size ? *off + (size_t)n : size - 1;
}

static void
to_stderr(int priority, const char *msg)
{
	char line[LOG_MAX_MSG + LOG_NFIELDS * (LOG_MAX_NAME + LOG_MAX_VALUE +
	    2) + sizeof(L.ident) + 64];
	const char *sep = " (";
	size_t len = 0, off = 0;
	ssize_t w;
	int i;

	put(line, sizeof(line) - 1, &len, "%s[%ld]: %s: %s", L.ident,
	    (long)getpid(), level_names[priority], msg);
	for (i = 0; i < LOG_NFIELDS; i++) {
		if (L.f[i].name[0] == '\0')
			continue;
		put(line, sizeof(line) - 1, &len, "%s%s=%s", sep, L.f[i].name,
		    L.f[i].value);
		sep = " ";
	}
	if (sep[1] == '\0')
		put(line, sizeof(line) - 1, &len, ")");
	line[len++] = '\n';
	/* One write(2) per line, so lines of several processes do not mix. */
	while (off < len) {
		w = write(STDERR_FILENO, line + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void
log_msg(int priority, const char *fmt, ...)
{
	char raw[LOG_MAX_MSG], msg[LOG_MAX_MSG];
	int saved = errno;
	va_list ap;
	int n;

	if (!L.init)
		log_init(NULL);
	if (priority < LOG_EMERG || priority > LOG_DEBUG)
		priority = LOG_ERR;
	if (priority > L.level)
		goto out;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		rb_strlcpy(raw, "(message could not be formatted)", sizeof(raw));
	else if ((size_t)n >= sizeof(raw))	/* show that it was cut */
		memcpy(raw + sizeof(raw) - 4, "...", 4);
	clean_copy(msg, raw, sizeof(msg));
	if (L.journal)
		to_journal(priority, msg);
	if (!L.journal)
		to_stderr(priority, msg);
out:
	errno = saved;
}
