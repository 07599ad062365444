/*
 * optimize_cmds.h - "rebossctl optimizations" and "rebossctl rollback"
 * (product_optimize's history and undo).  Owned by product_optimize; the
 * rest of rebossctl only calls optimize_cmd() from its command table.
 */
#ifndef RB_OPTIMIZE_CMDS_H
#define RB_OPTIMIZE_CMDS_H

#include <stdbool.h>

/* True for the commands handled here. */
bool	optimize_cmd_known(const char *cmd);
/* argv[0] is the command; cli_config the global --config (or NULL).
 * Returns rebossctl's exit status (0, 1 problem, 2 unusable/usage). */
int	optimize_cmd(const char *cli_config, int argc, char **argv);

#define OPTIMIZE_CMDS_USAGE \
"  optimizations [--shop ID|DOMAIN] [--json]\n" \
"                           product copy the optimizer rewrote\n" \
"  rollback OPTIMIZATION_ID write an optimization's old copy back\n"

#endif
