/*
 * replay_main.c - runs a fuzz harness without libFuzzer (owner: fuzzing).
 *
 * Usage: fuzz_replay_<target> [DIR|FILE...]; without arguments it replays
 * $top_srcdir/fuzz/corpus/<target> (make check exports top_srcdir).  Each
 * input is fed once to LLVMFuzzerTestOneInput; a harness that finds a
 * broken invariant aborts, so a crash or sanitizer report fails the test.
 * Output is TAP: "ok N - file" per input, the plan at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX	(4 * 1024 * 1024)

static int ntests;

static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(REPLAY_MAX)) == NULL) {
		fclose(f);
		printf("not ok %d - %s: out of memory\n", ++ntests, path);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	/* Announce first: if the harness crashes the log names the input. */
	fprintf(stderr, "# replaying %s (%zu bytes)\n", path, n);
	(void)LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("ok %d - %s\n", ++ntests, path);
	fflush(stdout);
	return 0;
}

static int
replay_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	char sub[4096];
	int i, n, rc = 0;

	if (stat(path, &st) == -1) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		int w = snprintf(sub, sizeof(sub), "%s/%s", path,
		    ents[i]->d_name);

		if (ents[i]->d_name[0] != '.' && w > 0 &&
		    (size_t)w < sizeof(sub) && stat(sub, &st) == 0 &&
		    S_ISREG(st.st_mode) && replay_file(sub) == -1)
			rc = -1;
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	char dir[4096];
	const char *top = getenv("top_srcdir");
	int i, w, rc = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i]) == -1)
				rc = 1;
	} else {
		w = snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s",
		    top != NULL ? top : ".", fuzz_target);
		if (w < 0 || (size_t)w >= sizeof(dir)) {
			printf("Bail out! corpus path too long\n");
			return 1;
		}
		if (replay_path(dir) == -1)
			rc = 1;
	}
	if (ntests == 0) {
		/* An empty corpus is a mistake, not a skip. */
		printf("not ok 1 - no input in the corpus of %s\n", fuzz_target);
		ntests = 1;
		rc = 1;
	}
	printf("1..%d\n", ntests);
	return rc;
}
