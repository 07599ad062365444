/*
 * optimize_cmds.c - rebossctl's product_optimize commands (see
 * optimize_cmds.h).  Owned by product_optimize.
 *
 *   rebossctl optimizations [--shop ID|DOMAIN] [--json]
 *       the last 200 rows of product_optimizations, newest first: a table
 *       for a terminal, or with --json every column including before/after.
 *   rebossctl rollback OPTIMIZATION_ID
 *       writes the stored "before" of the fields that optimization rewrote
 *       back to Shopify (productUpdate) and sets rolled_back_at.  Refused
 *       for failed or already rolled back rows.  lib/optimize_rollback.c,
 *       shared with the owner's POST /api/shops/{id}/rollback.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ctl.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "optimize_cmds.h"
#include "optimize_rollback.h"
#include "shop.h"
#include "shopify.h"
#include "util.h"


bool
optimize_cmd_known(const char *cmd)
{
	return cmd != NULL && (strcmp(cmd, "optimizations") == 0 ||
	    strcmp(cmd, "rollback") == 0);
}

/* Control characters become spaces; at most max characters. */
static void
print_cell(const char *s, int width, bool last)
{
	int chars = 0;
	const char *p;

	for (p = s; *p != '\0' && chars < width; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c & 0xc0) != 0x80)
			chars++;
		putchar(c < 0x20 || c == 0x7f ? ' ' : (int)c);
	}
	while (*p != '\0' && ((unsigned char)*p & 0xc0) == 0x80)
		putchar(*p++);
	if (!last)
		for (; chars < width + 2; chars++)
			putchar(' ');
}

static int
cmd_list(struct db *db, const char *shop, bool json)
{
	static const int w[] = { 36, 30, 14, 9, 7, 16, 16, 40 };
	static const char *const heads[] = { "ID", "SHOP", "PRODUCT",
		"STATUS", "TOKENS", "CREATED (UTC)", "ROLLED BACK", "ERROR" };
	struct rb_err err = { 0 };
	const char *p[1];
	PGresult *r;
	int i, c, n;

	p[0] = shop;
	r = db_query(db, "SELECT o.id::text, s.shop_domain, "
	    "o.product_id::text, o.status, o.total_tokens::text, "
	    "to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
	    "coalesce(to_char(o.rolled_back_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI'), ''), coalesce(o.error, ''), "
	    "json_build_object('id', o.id, 'shop_id', o.shop_id, "
	    "'shop_domain', s.shop_domain, 'product_id', o.product_id, "
	    "'run_id', o.run_id, 'status', o.status, 'fields', o.fields, "
	    "'before', o.before, 'after', o.after, 'model', o.model, "
	    "'prompt_tokens', o.prompt_tokens, 'completion_tokens', "
	    "o.completion_tokens, 'total_tokens', o.total_tokens, 'error', "
	    "o.error, 'created_at', o.created_at, 'applied_at', o.applied_at, "
	    "'rolled_back_at', o.rolled_back_at)::text "
	    "FROM public.product_optimizations o JOIN public.shops s ON "
	    "s.id = o.shop_id WHERE $1::text IS NULL OR s.id::text = lower($1) "
	    "OR s.shop_domain = lower($1) OR s.shop_domain = lower($1) || "
	    "'.myshopify.com' ORDER BY o.created_at DESC, o.id LIMIT 200",
	    1, p, &err);
	if (r == NULL) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		return EXIT_UNUSABLE;
	}
	n = PQntuples(r);
	if (json) {
		fputs("[", stdout);
		for (i = 0; i < n; i++)
			printf("%s\n%s", i ? "," : "", PQgetvalue(r, i, 8));
		fputs("]\n", stdout);
		PQclear(r);
		return 0;
	}
	if (n == 0) {
		printf("No optimizations%s.\n", shop != NULL ?
		    " for that shop" : "");
		PQclear(r);
		return 0;
	}
	for (c = 0; c < 8; c++)
		print_cell(heads[c], w[c], c == 7);
	putchar('\n');
	for (i = 0; i < n; i++) {
		for (c = 0; c < 8; c++)
			print_cell(PQgetvalue(r, i, c), w[c], c == 7);
		putchar('\n');
	}
	PQclear(r);
	return 0;
}

static int
cmd_rollback(struct db *db, const struct rb_config *cfg, const char *id)
{
	struct rb_err err = { 0 };
	struct http_client *hc = NULL;
	struct optimize_rollback rb;
	struct shopify sh;
	bool sh_open = false;
	int rc = EXIT_PROBLEM;

	if (!rb_is_uuid(id)) {
		fprintf(stderr, "rebossctl: '%s' is not an optimization id "
		    "(a UUID from 'rebossctl optimizations').\n", id);
		return EXIT_UNUSABLE;
	}
	if (optimize_rollback_load(db, id, NULL, &rb, &err) == -1) {
		fprintf(stderr, "rebossctl: %s\n", err.msg);
		return err.status >= 500 ? EXIT_UNUSABLE : EXIT_PROBLEM;
	}
	if ((hc = http_client_new(cfg)) == NULL) {
		rb_err_set(&err, 500, "out_of_memory",
		    "Could not start the HTTP client.");
		goto fail;
	}
	if (shop_client_open(&sh, db, cfg, hc, rb.shop_id, 0, &err) == -1)
		goto fail;
	sh_open = true;
	if (optimize_rollback_apply(db, &sh, &rb, &err) == -1)
		goto fail;
	printf("Rolled back optimization %s: %s %s has its old copy again.\n",
	    id, rb.domain, rb.gid);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "rebossctl: rollback of %s failed: %s\n", id, err.msg);
out:
	if (sh_open)
		shopify_close(&sh);
	http_client_free(hc);
	optimize_rollback_free(&rb);
	return rc;
}

enum { OPT_SHOP = 300, OPT_JSON_ };

int
optimize_cmd(const char *cli_config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "shop", required_argument, NULL, OPT_SHOP },
		{ "json", no_argument, NULL, OPT_JSON_ },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = cli_config, *shop = NULL, *cmd = argv[0];
	struct rb_config cfg;
	struct db db = { 0 };
	bool json = false, list = strcmp(cmd, "optimizations") == 0;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs("usage: rebossctl [--config FILE] COMMAND\n"
			    OPTIMIZE_CMDS_USAGE, stdout);
			return 0;
		case OPT_SHOP:
		case OPT_JSON_:
			if (!list) {
				fprintf(stderr, "rebossctl: --%s belongs to "
				    "optimizations, not %s\n", c == OPT_SHOP ?
				    "shop" : "json", cmd);
				return EXIT_UNUSABLE;
			}
			if (c == OPT_SHOP)
				shop = optarg;
			else
				json = true;
			break;
		default:
			fprintf(stderr, "rebossctl: unknown or incomplete "
			    "option '%s'\nTry 'rebossctl help'.\n",
			    argv[optind - 1]);
			return EXIT_UNUSABLE;
		}
	}
	if (list ? optind != argc : optind != argc - 1) {
		fprintf(stderr, "rebossctl: usage: %s\n", list ?
		    "optimizations [--shop ID|DOMAIN] [--json]" :
		    "rollback OPTIMIZATION_ID");
		return EXIT_UNUSABLE;
	}
	if (ctl_open(config, &cfg, &db) != 0)
		return EXIT_UNUSABLE;
	rc = list ? cmd_list(&db, shop, json) :
	    cmd_rollback(&db, &cfg, argv[optind]);
	db_close(&db);
	config_free(&cfg);
	return rc;
}
