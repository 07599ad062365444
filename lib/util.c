/* util.c - bounded strings, capped buffers, strict parsing, files, time. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util.h"

/* Forked children end in _exit(), which skips LeakSanitizer's exit-time
 * check: under --enable-sanitizers run it explicitly (a leak makes the
 * child exit 23 with a report), so a leak in a worker fails the tests. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(RB_ASAN)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_leak_check()
#else
#define LEAK_CHECK() ((void)0)
#endif

#define RB_BUF_DEFAULT_MAX	(64u << 20)

static int
buf_reserve(struct rb_buf *b, size_t extra)
{
	size_t max = b->max ? b->max : RB_BUF_DEFAULT_MAX;
	size_t want, ncap;
	char *p;

	if (extra > max || b->len > max - extra)
		return -1;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
rb_buf_append(struct rb_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
rb_buf_puts(struct rb_buf *b, const char *s)
{
	return rb_buf_append(b, s, strlen(s));
}

int
rb_buf_printf(struct rb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
rb_buf_free(struct rb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
rb_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	/* strtol() skips any leading white space and takes '+': we do not. */
	if (s == NULL || !(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF)
 * without NUL, C0 controls, DEL or C1 controls.  Returns the number of
 * code points, or -1.
 */
long
rb_utf8_text_chars(const unsigned char *s, size_t n)
{
	size_t i = 0;
	long chars = 0;

	while (i < n) {
		unsigned c = s[i], cp, need, k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return -1;
			i++;
			chars++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else
			return -1;
		if (n - i <= need)
			return -1;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return -1;
		i += need + 1;
		chars++;
	}
	return chars;
}

/* Code points of a NUL-terminated UTF-8 string (NULL: 0); counts lead
 * bytes only, so it never reads past the NUL. */
size_t
rb_utf8_len(const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0u) != 0x80u)
			n++;
	return n;
}

int
rb_read_file(const char *path, size_t max, char **out, size_t *len,
    struct rb_err *err)
{
	/* rb_buf treats max 0 as its default; a file cap of 0 means 0. */
	struct rb_buf b = { .max = max > 0 ? max : 1 };
	char chunk[8192];
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return rb_err_set(err, 500, "file_unreadable",
		    "Cannot open %s: %s.", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rb_err_set(err, 500, "file_unreadable",
			    "Cannot read %s: %s.", path, strerror(errno));
			goto fail;
		}
		if ((size_t)n > max - b.len ||
		    rb_buf_append(&b, chunk, (size_t)n) == -1) {
			rb_err_set(err, 500, "file_too_large",
			    "%s is larger than %zu bytes.", path, max);
			goto fail;
		}
	}
	if (b.data == NULL && rb_buf_append(&b, "", 0) == -1)
		goto fail;
	close(fd);
	*out = b.data;
	if (len != NULL)
		*len = b.len;
	return 0;
fail:
	close(fd);
	rb_buf_free(&b);
	return -1;
}

static int
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

bool
rb_is_uuid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex((unsigned char)s[i]))
			return false;
	}
	return true;
}

int
rb_uuid_v4(char out[37])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	(void)snprintf(out, 37,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
	    r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rb_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
rb_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int
rb_sleep_ms(int64_t ms, volatile const sig_atomic_t *stop)
{
	int64_t end = rb_mono_ms() + ms, left;
	struct timespec ts;

	while ((left = end - rb_mono_ms()) > 0) {
		if (stop != NULL && *stop)
			return -1;
		if (left > 200)
			left = 200;	/* wake to look at the stop flag */
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		(void)nanosleep(&ts, NULL);
	}
	return stop != NULL && *stop ? -1 : 0;
}

void
rb_child_exit(int code)
{
	LEAK_CHECK();
	_exit(code);
}
