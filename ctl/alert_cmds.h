/*
 * alert_cmds.h - "rebossctl alert UNIT" and "rebossctl check" (monitoring,
 * issue 10).  Owned by monitoring; rebossctl.c only calls alert_cmd()
 * from its command table.
 */
#ifndef RB_ALERT_CMDS_H
#define RB_ALERT_CMDS_H

#include <stdbool.h>

/* True for the commands handled here. */
bool	alert_cmd_known(const char *cmd);
/* argv[0] is the command; cli_config the global --config (or NULL).
 * alert: 0 delivered (or nothing configured: journal only), 1 kept in the
 * spool for the next run, 2 unusable/usage.  check: 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN (monitoring-plugins convention). */
int	alert_cmd(const char *cli_config, int argc, char **argv);

#define ALERT_CMDS_USAGE \
"  alert UNIT               tell the operator that UNIT failed (webhook,\n" \
"                           mail); undeliverable alerts are spooled\n" \
"  check [--alert] [--sql-dir DIR]\n" \
"                           health check for Nagios/Icinga: exit 0 OK,\n" \
"                           1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"

#endif
