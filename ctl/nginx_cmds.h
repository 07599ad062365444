/*
 * nginx_cmds.h - "rebossctl nginx-origins": the CORS origins of the nginx
 * site, generated from frontend_url (issue 16), and check-config's warnings
 * about them.  Owned by the edge (etc/nginx/); rebossctl.c only calls in
 * from its command table and check-config.
 */
#ifndef RB_NGINX_CMDS_H
#define RB_NGINX_CMDS_H

#include <stdbool.h>

struct rb_config;

/* True for the commands handled here. */
bool	nginx_cmd_known(const char *cmd);
/* argv[0] is the command; cli_config the global --config (or NULL).
 * Returns 0, 1 (frontend_url unusable: no origin written) or 2. */
int	nginx_cmd(const char *cli_config, int argc, char **argv);
/* For check-config: prints a warning to stderr when the origins file next
 * to the configuration exists but does not hold frontend_url's origin;
 * returns the number of warnings (0 or 1). */
int	nginx_origins_warn(const struct rb_config *cfg);

#define NGINX_CMDS_USAGE \
"  nginx-origins [--output FILE]\n" \
"                           write the nginx site's CORS origin from\n" \
"                           frontend_url (default: nginx/origins.map next\n" \
"                           to the configuration file)\n"

#endif
