/*
 * nginx_cmds.c - "rebossctl nginx-origins".
 *
 * The nginx site (/usr/share/reboss/nginx/http.conf) allows CORS for the
 * origins in the *.map files of /etc/reboss/nginx/.  This writes origins.map
 * there from frontend_url, so the operator never keeps the two equal by
 * hand; postinst runs it on every installation and upgrade.  The origin is built by
 * libcurl's URL parser and then checked character by character: it goes
 * into nginx's configuration, where a quote or a semicolon would be syntax.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "ctl.h"
#include "config.h"
#include "metrics.h"
#include "nginx_cmds.h"
#include "util.h"

#define ORIGIN_MAX	300
#define MAP_NAME	"origins.map"

bool
nginx_cmd_known(const char *cmd)
{
	return strcmp(cmd, "nginx-origins") == 0;
}

/* Host names, IPv4 and bracketed IPv6 only: nothing nginx would parse. */
static bool
host_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > 253)
		return false;
	if (h[0] == '[')
		return n > 2 && h[n - 1] == ']' &&
		    strspn(h + 1, "0123456789abcdef:.") == n - 2;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	return true;
}

/*
 * The Origin a browser sends for pages under url: scheme://host[:port],
 * lower case, no default port, no path.  -1 when url has none.
 */
static int
url_origin(const char *url, char out[ORIGIN_MAX])
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1, n;
	size_t i;

	if (u == NULL || url == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) !=
	    CURLUE_OK)
		port = NULL;
	for (i = 0; host[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	if ((strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) ||
	    !host_ok(host) || (port != NULL &&
	    strspn(port, "0123456789") != strlen(port)))
		goto out;
	n = snprintf(out, ORIGIN_MAX, "%s://%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "");
	rc = n > 0 && n < ORIGIN_MAX ? 0 : -1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* nginx/origins.map next to the configuration file. */
static int
default_map(const struct rb_config *cfg, char *out, size_t outsz)
{
	char *copy = strdup(cfg->path != NULL ? cfg->path : "");
	int n;

	if (copy == NULL)
		return -1;
	n = snprintf(out, outsz, "%s/nginx/" MAP_NAME, dirname(copy));
	free(copy);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

int
nginx_origins_warn(const struct rb_config *cfg)
{
	char path[4096], origin[ORIGIN_MAX], line[ORIGIN_MAX + 32], *text;
	size_t len;
	struct rb_err err = { 0 };
	int n;

	if (default_map(cfg, path, sizeof(path)) == -1 ||
	    rb_read_file(path, 65536, &text, &len, &err) == -1)
		return 0;	/* none: the operator has not set nginx up */
	n = url_origin(cfg->frontend_url, origin) == 0 ?
	    snprintf(line, sizeof(line), "\n\"%s\" $http_origin;\n", origin) :
	    -1;
	if (n < 0 || strstr(text, line) == NULL) {
		fprintf(stderr, "warning: %s does not allow frontend_url's "
		    "origin (%s) for CORS; run \"rebossctl nginx-origins\", "
		    "then \"systemctl reload nginx\"\n", path,
		    n < 0 ? "none" : origin);
		free(text);
		return 1;
	}
	free(text);
	return 0;
}

static int
write_map(const struct rb_config *cfg, const char *file, const char *origin)
{
	struct rb_buf b = { 0 };
	struct rb_err err = { 0 };
	char *d = strdup(file), *f = strdup(file);
	int rc = EXIT_UNUSABLE;

	if (d == NULL || f == NULL)
		goto out;
	/* The directory of the default file is created; another must exist. */
	if (mkdir(dirname(d), 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "rebossctl: cannot create %s: %s\n", d,
		    strerror(errno));
		goto out;
	}
	free(d);
	d = strdup(file);
	if (d == NULL || rb_buf_printf(&b, "# Written by \"rebossctl "
	    "nginx-origins\" from frontend_url in %s.\n# Do not edit: run it "
	    "again after changing frontend_url, then reload nginx.  Extra\n"
	    "# origins go into another *.map file in this directory.\n"
	    "\n\"%s\" $http_origin;\n", cfg->path, origin) == -1)
		goto out;
	if (metrics_write_file(dirname(d), basename(f), b.data, b.len,
	    &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		goto out;
	}
	printf("%s: CORS for %s; now: nginx -t && systemctl reload nginx\n",
	    file, origin);
	rc = 0;
out:
	rb_buf_free(&b);
	free(d);
	free(f);
	return rc;
}

int
nginx_cmd(const char *cli_config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = cli_config, *output = NULL;
	char origin[ORIGIN_MAX], def[4096];
	struct rb_config cfg;
	struct rb_err err = { 0 };
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs("usage: rebossctl [--config FILE] COMMAND\n"
			    NGINX_CMDS_USAGE, stdout);
			return 0;
		default:
			fprintf(stderr, "rebossctl: unknown or incomplete "
			    "option '%s'\n", argv[optind - 1]);
			return EXIT_UNUSABLE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rebossctl: unexpected argument '%s'\n",
		    argv[optind]);
		return EXIT_UNUSABLE;
	}
	if (config_load(&cfg, config_path(config), &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		return EXIT_UNUSABLE;
	}
	if (url_origin(cfg.frontend_url, origin) == -1) {
		fprintf(stderr, "rebossctl: frontend_url in %s is %s; set it "
		    "to the dashboard's address (e.g. https://app.example.com)"
		    " and run this again\n", cfg.path, cfg.frontend_url ==
		    NULL ? "not set" : "not an http(s) URL with a plain host");
		config_free(&cfg);
		return EXIT_PROBLEM;
	}
	if (output == NULL && default_map(&cfg, def, sizeof(def)) == 0)
		output = def;
	rc = output != NULL ? write_map(&cfg, output, origin) : EXIT_UNUSABLE;
	config_free(&cfg);
	return rc;
}
