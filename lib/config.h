/*
 * config.h - the one configuration file (PRODUCT.md, Configuration).
 *
 * "key = value" lines, '#' comments, optional "[section]" headers for
 * per-job settings ("[sales_tracker]\nparallel = 30").  Any secret key may be
 * given as "key_file = PATH"; a relative PATH is looked up in
 * $CREDENTIALS_DIRECTORY (systemd), else in CONFIG_CREDENTIALS_DIR.  Problems name file, line and key.
 * The struct owns all its strings; config_free() wipes secrets.
 */
#ifndef RB_CONFIG_H
#define RB_CONFIG_H

#include <stdbool.h>

#include "rb.h"

#define CONFIG_DEFAULT_PATH	"/etc/reboss/reboss.conf"
/* OpenAI's list prices (USD per million input:output tokens) of the models
 * the jobs may use; the operator's openai_prices replaces the table. */
#define CONFIG_DEFAULT_OPENAI_PRICES \
	"gpt-4.1-mini:0.40:1.60, gpt-4.1:2.00:8.00, gpt-4.1-nano:0.10:0.40, " \
	"gpt-4o-mini:0.15:0.60, gpt-4o:2.50:10.00"
/* The units' LoadCredential=reboss:CONFIG_CREDENTIALS_DIR. */
#define CONFIG_CREDENTIALS_DIR	"/etc/reboss/credentials"
/* What the five jobs need of the Admin API (shopify_scopes' default). */
#define SHOPIFY_DEFAULT_SCOPES	"read_products,write_products,read_orders," \
	"read_publications,write_publications"

enum job_kind {
	JOB_SALES_TRACKER,
	JOB_REPLACE,
	JOB_PRODUCT_OPTIMIZE,
	JOB_PRODUCT_CREATION,
	JOB_PINTEREST_SYNC,
	JOB__COUNT
};
/* "sales_tracker", "replace_job", "product_optimize", "product_creation",
 * "pinterest_sync": section names, job_runs.job_type and journald JOB=. */
extern const char *const job_names[JOB__COUNT];
int	job_kind_from_name(const char *name);	/* -1 if unknown */

/* [JOB] parallel and every job's --parallel: workers at once. */
#define CONFIG_PARALLEL_MIN	1
#define CONFIG_PARALLEL_MAX	1000

struct rb_config {
	char	*path;			/* the file that was read */
	char	*database_url;		/* required */
	char	*api_url;		/* required for OAuth */
	char	*frontend_url;		/* required for OAuth */
	unsigned char token_key[32];	/* required: 64 hex characters */
	char	*jwt_secret;		/* HS256 secret (secret), or */
	char	*jwks_file;		/* JWKS path for ES256/RS256 */
	char	*jwks_json;		/* contents of jwks_file, read at load */
	char	*jwt_issuer;		/* expected iss; NULL: not checked */
	char	*shopify_api_version;	/* "2026-10" */
	char	*shopify_base_url;	/* "https://{shop}" */
	/* The ReBoss app of Shopify's Dev Dashboard (install flow, webhooks,
	 * renewal of its expiring tokens). */
	char	*shopify_client_id, *shopify_client_secret;
	char	*shopify_scopes;	/* comma-separated, asked at install */
	char	*pinterest_app_id, *pinterest_app_secret;
	char	*pinterest_api_base, *pinterest_oauth_url;
	char	*meta_app_id, *meta_app_secret;
	char	*meta_graph_base, *meta_dialog_url;
	char	*google_client_id, *google_client_secret;
	char	*google_auth_url, *google_token_url, *google_revoke_url;
	char	*openai_api_key, *openai_api_base, *openai_model;
	/* "MODEL:IN:OUT, ..." USD per million input / output tokens, for
	 * the AutomationRoi cost (config_openai_price). */
	char	*openai_prices;
	char	*ca_file;		/* NULL: system store */
	int	 parallel[JOB__COUNT];	/* [JOB] parallel: 20 20 5 10 10 */
	/* Our own keys (documented in reboss.conf(5)). */
	long	 api_body_max;		/* request body cap, bytes: 65536 */
	int	 api_workers;		/* prefork pool size: 4 */
	/* Caps over every shop's shop_settings (lib/shop_limits.h). */
	long	 max_creations_per_day;		/* 250 */
	long	 max_retirements_per_run;	/* 1000 */
	long	 max_pins_per_run;		/* 1000 */
	long	 max_openai_tokens_per_day;	/* 1000000 */
	/* Monitoring (rebossctl alert/check, lib/metrics.c). */
	char	*alert_webhook_url;	/* secret: Slack/Discord/generic */
	char	*alert_email;		/* "a@b, c@d": through sendmail -t */
	char	*alert_from;		/* From: of alert mails, or NULL */
	int	 owner_mail;		/* 1: mail owners' notifications */
	char	*alert_spool_dir;	/* "/var/lib/reboss/alerts" */
	char	*metrics_dir;		/* node_exporter textfile directory */
};

/* --config FILE, else $REBOSS_CONFIG, else CONFIG_DEFAULT_PATH. */
const char *config_path(const char *cli_path);

/* Loads path into cfg (zeroed first).  On failure err->msg holds the first
 * problem as "FILE:LINE: key 'KEY': what is wrong". */
int	config_load(struct rb_config *cfg, const char *path,
	    struct rb_err *err) RB_WUR;

/* Reads path and reports every problem, one call of report each (for
 * rebossctl check-config).  Returns the number of problems, 0 when clean. */
int	config_check(const char *path,
	    void (*report)(void *ctx, const char *problem), void *ctx);

/* Fails naming the missing keys unless every OAuth key of the provider
 * ("pinterest", "meta", "google", "shopify": the ReBoss app's client id and
 * secret) plus api_url and frontend_url is set. */
int	config_require_oauth(const struct rb_config *cfg, const char *provider,
	    struct rb_err *err) RB_WUR;

/* Looks model up in an openai_prices table ("MODEL:IN:OUT, ..."; USD per
 * million input and output tokens).  1: found, *in and *out set; 0: the
 * model is not in the table; -1: the table is malformed (why: a phrase
 * naming what is wrong; validated when the config is loaded, so only a
 * table from elsewhere can be). */
int	config_openai_price(const char *table, const char *model, double *in,
	    double *out, const char **why);

void	config_free(struct rb_config *cfg);

#endif
