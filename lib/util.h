/*
 * util.h - small helpers the C library does not give safely: bounded
 * strings, growable capped buffers, strict number parsing, encodings.
 * Owner of every returned heap pointer: the caller (free()).
 */
#ifndef RB_UTIL_H
#define RB_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb.h"

/* Growable byte buffer with a hard cap; data is always NUL-terminated. */
struct rb_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* append beyond this fails; 0 = 64 MiB */
};
int	rb_buf_append(struct rb_buf *b, const void *p, size_t n) RB_WUR;
int	rb_buf_puts(struct rb_buf *b, const char *s) RB_WUR;
int	rb_buf_printf(struct rb_buf *b, const char *fmt, ...)
	    RB_PRINTF(2, 3) RB_WUR;
void	rb_buf_free(struct rb_buf *b);

/* Whole string must be a base-10 integer within [min, max]. */
int	rb_parse_long(const char *s, long min, long max, long *out) RB_WUR;

/* Strict UTF-8 text (no overlongs, surrogates or code points past
 * U+10FFFF) without NUL, C0 controls, DEL or C1 controls: the number of
 * code points, or -1. */
long	rb_utf8_text_chars(const unsigned char *s, size_t n);
/* Code points of a NUL-terminated (already valid) UTF-8 string; NULL: 0. */
size_t	rb_utf8_len(const char *s);

/* Reads a whole file of at most max bytes; *out NUL-terminated. */
int	rb_read_file(const char *path, size_t max, char **out, size_t *len,
	    struct rb_err *err) RB_WUR;

/* Canonical lower- or upper-case 8-4-4-4-12 UUID text. */
bool	rb_is_uuid(const char *s);
/* New random (v4) UUID, lower-case, 37 bytes with NUL. */
int	rb_uuid_v4(char out[37]) RB_WUR;

int64_t	rb_now_ms(void);		/* CLOCK_REALTIME in ms */
int64_t	rb_mono_ms(void);		/* CLOCK_MONOTONIC in ms */

/* Ends a forked child: _exit(code), after running LeakSanitizer's check
 * under --enable-sanitizers (_exit skips its exit-time check; a leak makes
 * the child exit 23 with a report, so a leak in a worker fails the tests). */
void	rb_child_exit(int code) __attribute__((noreturn));

/* Sleeps ms, waking early (returns -1) once *stop becomes non-zero. */
int	rb_sleep_ms(int64_t ms, volatile const sig_atomic_t *stop);

#endif
