/* rb.c - the shared error idiom (see rb.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rb.h"

int
rb_err_set(struct rb_err *err, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->status = status;
	rb_strlcpy(err->code, code, sizeof(err->code));
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
rb_err_oom(struct rb_err *err)
{
	return rb_err_set(err, 500, "out_of_memory",
	    "The server ran out of memory; try again.");
}

void
rb_err_clear(struct rb_err *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

size_t
rb_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}
