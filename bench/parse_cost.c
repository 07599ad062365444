/*
 * bench/parse_cost.c - what parsing Shopify's answers costs by itself:
 * json_loadb() + json_decref() of every recorded answer (the bytes the
 * tracker got), repeated, timed by CPU clock.  bench/jobs.mjs subtracts it
 * from the tracker's CPU per shop ("CPU beyond parsing", issue 8).
 * Not installed, not part of the product.
 *
 *   parse_cost FILE ROUNDS     FILE: answers, each "<length>\n<bytes>"
 * Prints: answers bytes cpu_ns_per_round
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FILE	(512L * 1024 * 1024)

static long long
cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	FILE *f;
	char *buf, *p, *end;
	long size, rounds, r, n = 0;
	long long t0, t1;
	size_t len;
	json_error_t e;
	json_t *j;

	if (argc != 3 || (f = fopen(argv[1], "rb")) == NULL)
		return 2;
	rounds = strtol(argv[2], NULL, 10);
	if (rounds < 1 || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > MAX_FILE || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)size + 1)) == NULL ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size)
		return 2;
	(void)fclose(f);
	buf[size] = '\0';
	end = buf + size;
	t0 = cpu_ns();
	for (r = 0; r < rounds; r++) {
		for (p = buf; p < end; p += len) {
			len = (size_t)strtoul(p, &p, 10);
			if (*p++ != '\n' || len > (size_t)(end - p))
				return 3;
			/* The tracker's own flags (lib/http.c, shopify.c). */
			if ((j = json_loadb(p, len, 0, &e)) == NULL)
				return 4;
			json_decref(j);
			if (r == 0)
				n++;
		}
	}
	t1 = cpu_ns();
	(void)printf("%ld %ld %lld\n", n, size, (t1 - t0) / rounds);
	free(buf);
	return 0;
}
