/*
 * ctl.c - what every rebossctl command shares (ctl.h).  Owner: rebossctl.
 */
#include <stdio.h>

#include "ctl.h"

int
ctl_open(const char *cli_config, struct rb_config *cfg, struct db *db)
{
	struct rb_err err = { 0 };

	if (config_load(cfg, config_path(cli_config), &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		return EXIT_UNUSABLE;
	}
	if (db_connect(db, cfg->database_url, &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		config_free(cfg);
		return EXIT_UNUSABLE;
	}
	return 0;
}
