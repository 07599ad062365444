/*
 * run_requests.h - "rebossctl run-requests": runs the jobs the owners asked
 * for with POST /api/shops/{id}/jobs/run (table job_requests,
 * sql/018_owner_actions.sql).  Started every minute by
 * reboss-run-requests.timer on every host.  Owner: the "owner" module.
 */
#ifndef RB_RUN_REQUESTS_H
#define RB_RUN_REQUESTS_H

#include <stdbool.h>

bool	run_requests_cmd_known(const char *cmd);
/* argv[0] is the command; cli_config the global --config (or NULL).
 * 0: every request it ran succeeded (or none was pending), 1: a request
 * failed, 2: unusable (configuration, database). */
int	run_requests_cmd(const char *cli_config, int argc, char **argv);

#define RUN_REQUESTS_USAGE \
"  run-requests             run the jobs owners asked for from the\n" \
"                           dashboard (reboss-run-requests.timer)\n"

#endif
