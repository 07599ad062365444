/*
 * ctl.h - what every rebossctl command shares: its exit codes and opening
 * the configuration and the database.  Owner: rebossctl.
 */
#ifndef RB_CTL_H
#define RB_CTL_H

#include "config.h"
#include "db.h"

#define EXIT_PROBLEM	1	/* it ran and found or hit a problem */
#define EXIT_UNUSABLE	2	/* it could not run: usage, config, database */

/* Loads the configuration (cli_config, else $REBOSS_CONFIG, else the
 * default path) and connects to its database_url.  0, or EXIT_UNUSABLE
 * after saying why on stderr (cfg already freed then).  The caller closes
 * db and frees cfg. */
int	ctl_open(const char *cli_config, struct rb_config *cfg, struct db *db);

#endif
