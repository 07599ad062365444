/*
 * main.c - reboss-api [--config FILE] [--workers N] [--listen PATH|HOST:PORT]
 *          reboss-api --version | --help
 *
 * The listening socket, in this order: systemd socket activation (exactly
 * one fd), --listen (FCGX_OpenSocket), else fd 0 as spawn-fcgi hands it
 * over.  workers > 1 (default: api_workers) runs the prefork supervisor
 * (pool.c); workers == 1 serves in this process (spawn-fcgi -F N does the
 * forking then).
 *
 * Exit status: 0 after a clean stop, 1 when serving failed, 2 for a usage,
 * configuration or socket problem.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <systemd/sd-daemon.h>

#include "api.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

#define WORKERS_MAX	256

static void
usage(FILE *f)
{
	fprintf(f, "usage: reboss-api [--config FILE] [--workers N] "
	    "[--listen PATH|HOST:PORT]\n"
	    "  --config FILE   configuration (default $REBOSS_CONFIG, else "
	    CONFIG_DEFAULT_PATH ")\n"
	    "  --workers N     worker processes (default: api_workers)\n"
	    "  --listen ADDR   own listening socket: a path or HOST:PORT\n"
	    "                  (default: systemd socket activation, else fd 0 "
	    "as given by spawn-fcgi)\n"
	    "  --version       print the version and exit\n"
	    "SIGHUP re-reads the configuration and replaces the workers "
	    "(systemctl reload).\n");
}

static bool
is_listening_socket(int fd)
{
	int val = 0;
	socklen_t len = sizeof(val);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) == 0 &&
	    val != 0;
}

static int
open_listen(const char *listen)
{
	struct stat st;
	int n, fd;

	n = sd_listen_fds(1);
	if (n < 0) {
		log_err("systemd socket activation failed: %s", strerror(-n));
		return -1;
	}
	if (n > 1) {
		log_err("systemd passed %d sockets; reboss-api takes exactly "
		    "one (check reboss-api.socket)", n);
		return -1;
	}
	if (n == 1)
		return SD_LISTEN_FDS_START;
	if (listen != NULL) {
		/* A socket file left by an earlier run would make bind()
		 * fail; remove it, but never anything that is not a socket. */
		if (listen[0] == '/' && lstat(listen, &st) == 0 &&
		    S_ISSOCK(st.st_mode))
			(void)unlink(listen);
		if ((fd = FCGX_OpenSocket(listen, 128)) < 0) {
			log_err("cannot listen on %s: %s", listen,
			    strerror(errno));
			return -1;
		}
		return fd;
	}
	if (!is_listening_socket(0)) {
		log_err("no listening socket: give --listen PATH|HOST:PORT, or "
		    "start reboss-api under spawn-fcgi or systemd socket "
		    "activation");
		return -1;
	}
	return 0;
}

/*
 * At start, the schema this build needs (lib/migrate.h): a missing
 * migration is logged with the jobs' message; the workers then answer 503
 * schema_outdated (health too) until `rebossctl migrate` has run.  An
 * unreachable database is the workers' business (health says so).
 */
static void
schema_check(const struct rb_config *cfg)
{
	struct db db;
	struct rb_err err;

	memset(&db, 0, sizeof(db));
	rb_err_clear(&err);
	if (db_connect(&db, cfg->database_url, &err) == -1)
		log_warn("the database cannot be reached at start: %s",
		    err.msg);
	else if (migrate_require(&db, MIGRATE_REQUIRED, &err) == -1)
		log_err("%s", err.msg);
	db_close(&db);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct rb_config cfg;
	struct rb_err err;
	const char *cfgpath = NULL, *listen = NULL;
	long workers = 0;
	int c, fd, rc;

	log_init("reboss-api");
	while ((c = getopt_long(argc, argv, "c:w:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'w':
			if (rb_parse_long(optarg, 1, WORKERS_MAX, &workers) ==
			    -1) {
				fprintf(stderr, "reboss-api: --workers must be "
				    "a number from 1 to %d\n", WORKERS_MAX);
				return 2;
			}
			break;
		case 'l':
			listen = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			(void)printf("reboss-api %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	rb_err_clear(&err);
	if (config_load(&cfg, config_path(cfgpath), &err) == -1) {
		log_err("%s", err.msg);
		return 2;
	}
	schema_check(&cfg);
	if (workers == 0)
		workers = cfg.api_workers >= 1 && cfg.api_workers <=
		    WORKERS_MAX ? cfg.api_workers : 4;
	if (FCGX_Init() != 0 || (fd = open_listen(listen)) < 0) {
		config_free(&cfg);
		return 2;
	}
	/* Once here, not in every worker the supervisor starts (http.h);
	 * a failure is reported by the workers' clients. */
	if (http_global_init() == -1 || http_ca_preload(cfg.ca_file) == -1)
		log_warn("libcurl or the trusted CAs could not be set up before "
		    "the workers start");
	if (workers == 1) {
		log_info("serving with one process (pid %ld)", (long)getpid());
		(void)sd_notify(0, "READY=1\nSTATUS=serving, 1 process");
		rc = worker_run(&cfg, fd, false);
		(void)sd_notify(0, "STOPPING=1");
	} else
		rc = pool_run(config_path(cfgpath), &cfg, fd, (int)workers);
	config_free(&cfg);
	return rc;
}
