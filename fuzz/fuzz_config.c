/*
 * fuzz_config.c - config_load and config_check on the configuration file
 * (owner: fuzzing).  The input is written to a memfd and read through
 * /proc/self/fd/N, as a real file would be.  CREDENTIALS_DIRECTORY points
 * at a private directory with a few files, so "key_file = NAME" lines
 * resolve.
 *
 * Invariants: a file config_load accepts has no problem for config_check
 * either, has database_url set and a token_key; a refused file has an
 * err that names the file; config_check reports at least one problem
 * then.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

const char fuzz_target[] = "config";

static int memfd = -1;
static char path[64];

static void
report(void *ctx, const char *problem)
{
	FUZZ_CHECK(problem != NULL && problem[0] != '\0');
	(*(int *)ctx)++;
}

static void
put_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *f;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p) ||
	    (f = fopen(p, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	static char dir[] = "/tmp/rb-fuzz-creds-XXXXXX";

	if (mkdtemp(dir) == NULL)
		abort();
	put_file(dir, "jwt_secret", "fuzz-secret-0123456789abcdef0123\n");
	put_file(dir, "token_key",
	    "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\n");
	put_file(dir, "jwks.json", "{\"keys\":[]}");
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	if ((memfd = memfd_create("reboss.conf", 0)) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_config cfg;
	struct rb_err err;
	int problems = 0, rc;

	if (memfd == -1)
		setup();
	if (size > 1024 * 1024)
		return 0;
	if (ftruncate(memfd, 0) == -1 ||
	    (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	memset(&cfg, 0x5a, sizeof(cfg));
	rb_err_clear(&err);
	rc = config_load(&cfg, path, &err);
	if (rc == 0) {
		FUZZ_CHECK(cfg.database_url != NULL &&
		    cfg.database_url[0] != '\0');
		FUZZ_CHECK(cfg.api_body_max > 0 && cfg.api_workers > 0);
		config_free(&cfg);
	} else {
		FUZZ_CHECK(err.code[0] != '\0' && err.msg[0] != '\0');
		config_free(&cfg);
	}
	(void)config_check(path, report, &problems);
	FUZZ_CHECK((rc == 0) == (problems == 0));
	return 0;
}
