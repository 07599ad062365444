/*
 * rb.h - what every module of ReBoss shares: the error idiom and attributes.
 *
 * Error idiom: a function returns 0 on success and -1 on failure; a failing
 * function fills the caller's struct rb_err (when not NULL) with an HTTP
 * status that fits, a stable snake_case code and a sentence a person can act
 * on.  Callers clean up through one "goto fail".  Never put a token or secret
 * into an rb_err: its text reaches logs and HTTP answers.
 */
#ifndef RB_H
#define RB_H

#include <stddef.h>
#include <stdint.h>

#define RB_WUR		__attribute__((warn_unused_result))
#define RB_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define RB_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct rb_err {
	int	status;		/* HTTP status that fits; 0 means 500 */
	char	code[48];	/* stable snake_case, e.g. "invalid_shop_domain" */
	char	msg[512];	/* one sentence a person can act on */
};

/* Fill err (if not NULL) and return -1, so "return rb_err_set(...)" works. */
int	rb_err_set(struct rb_err *err, int status, const char *code,
	    const char *fmt, ...) RB_PRINTF(4, 5);
void	rb_err_clear(struct rb_err *err);
/* The one out-of-memory error: 500 out_of_memory; returns -1. */
int	rb_err_oom(struct rb_err *err);

/* Copies at most size-1 bytes, always NUL-terminates; returns strlen(src). */
size_t	rb_strlcpy(char *dst, const char *src, size_t size);

#endif
