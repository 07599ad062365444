/*
 * fuzz.h - shared by the libFuzzer harnesses in fuzz/ (owner: fuzzing).
 *
 * Every fuzz_<target>.c defines LLVMFuzzerTestOneInput() and
 * FUZZ_TARGET, the name of its corpus directory (fuzz/corpus/<target>).
 * It is built twice: with clang -fsanitize=fuzzer by fuzz/run.sh, and with
 * the normal compiler plus fuzz/replay_main.c as a `make check` program
 * that replays the committed corpus.  An invariant that does not hold
 * aborts, so both builds report it as a crash.
 */
#ifndef RB_FUZZ_H
#define RB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern const char fuzz_target[];	/* corpus directory name */

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

/* NUL-terminated copy of the input (embedded NULs end the string early,
 * as they would for any C caller); aborts when out of memory. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits off the next field ending at sep (or the end).  Returns the
 * field as a NUL-terminated copy and advances the data pointer and size past sep. */
static inline char *
fuzz_field(const uint8_t **data, size_t *size, uint8_t sep)
{
	const uint8_t *e = memchr(*data, sep, *size);
	size_t n = e != NULL ? (size_t)(e - *data) : *size;
	char *s = fuzz_str(*data, n);

	*data += n;
	*size -= n;
	if (e != NULL) {
		(*data)++;
		(*size)--;
	}
	return s;
}

/* Takes the next line (up to '\n').  A "name: value" line is stored,
 * capped, in resp->hdr[resp->nhdr++]; it is returned cut at the colon
 * (the name; free() it) with *value the whole value past the spaces.  Any
 * other line is dropped: NULL. */
static inline char *
fuzz_header(const uint8_t **data, size_t *size, struct http_response *resp,
    char **value)
{
	char *line = fuzz_field(data, size, '\n'), *colon, *v;

	if ((colon = strchr(line, ':')) == NULL) {
		free(line);
		return NULL;
	}
	*colon = '\0';
	for (v = colon + 1; *v == ' '; v++)
		;
	rb_strlcpy(resp->hdr[resp->nhdr].name, line, sizeof(resp->hdr[0].name));
	rb_strlcpy(resp->hdr[resp->nhdr].value, v, sizeof(resp->hdr[0].value));
	resp->nhdr++;
	*value = v;
	return line;
}

#endif
