/*
 * env.c - numeric environment knobs (see env.h).
 */
#include <stdlib.h>

#include "env.h"
#include "log.h"
#include "util.h"

long
rb_env_long(const char *name, long min, long max, long def)
{
	const char *v = getenv(name);
	long l;

	if (v == NULL || *v == '\0')
		return def;
	if (rb_parse_long(v, min, max, &l) == -1) {
		log_warn("ignoring %s=%.40s: not a whole number in [%ld, %ld]",
		    name, v, min, max);
		return def;
	}
	return l;
}
