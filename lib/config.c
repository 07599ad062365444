/*
 * config.c - the one configuration file (see config.h, PRODUCT.md
 * "Configuration" and etc/reboss.conf, which documents every key).
 *
 * Syntax, kept deliberately small:
 *   - "key = value"; whitespace around key and value is trimmed;
 *   - a line whose first non-blank character is '#' is a comment; a '#'
 *     anywhere else is part of the value (secrets and URLs may contain it);
 *   - a value may be wrapped in double quotes, which are removed (no escapes);
 *   - an empty value means the key's default (or "not set");
 *   - "[job]" starts a per-job section; only "parallel" lives there, and
 *     global keys must come before the first section;
 *   - a secret key may be given as "key_file = PATH" instead (systemd
 *     LoadCredential=: a relative PATH is taken from $CREDENTIALS_DIRECTORY,
 *     else from /etc/reboss/credentials, see secret_path());
 *   - lines are at most 4096 bytes, the file at most 1 MiB, no NUL bytes.
 * Every problem is one line "FILE:LINE: key 'KEY': what is wrong; what is
 * expected".  Values of secret keys never appear in a message, and neither
 * does any text we could not identify as a key name.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "config.h"
#include "encode.h"
#include "util.h"

#define CONF_MAX_FILE	(1u << 20)
#define CONF_MAX_LINE	4096
#define CONF_MAX_SECRET	(64u << 10)
#define CONF_MAX_JWKS	(1u << 20)
#define CONF_SHOW_MAX	80	/* longest value we quote back */

const char *const job_names[JOB__COUNT] = {
	[JOB_SALES_TRACKER] = "sales_tracker",
	[JOB_REPLACE] = "replace_job",
	[JOB_PRODUCT_OPTIMIZE] = "product_optimize",
	[JOB_PRODUCT_CREATION] = "product_creation",
	[JOB_PINTEREST_SYNC] = "pinterest_sync",
};

static const int parallel_default[JOB__COUNT] = { 20, 20, 5, 10, 10 };

int
job_kind_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < JOB__COUNT; i++)
		if (strcmp(name, job_names[i]) == 0)
			return (int)i;
	return -1;
}

enum ktype {
	K_STR,		/* any text */
	K_URL,		/* http:// or https:// */
	K_HEX32,	/* 64 hex digits -> 32 bytes (token_key) */
	K_INT,		/* int within [min, max] */
	K_LONG,		/* long within [min, max] */
};

#define F_SECRET	0x01	/* wiped on free, never shown, has _file form */
#define F_REQUIRED	0x02
#define F_NOSLASH	0x04	/* trailing '/' removed (base URLs we append to) */
#define F_SHOP		0x08	/* must contain "{shop}" */
#define F_PRICES	0x10	/* an openai_prices table */
#define F_APIVER	0x20	/* a Shopify API version: YYYY-01/04/07/10 */

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	const char	*def;	/* K_STR/K_URL default, NULL = unset */
	long		 idef, min, max;
	int		 flags;
};

#define OFF(f)	offsetof(struct rb_config, f)
#define S(n, f)		{ n, K_STR, OFF(f), NULL, 0, 0, 0, 0 }
#define SECRET(n, f)	{ n, K_STR, OFF(f), NULL, 0, 0, 0, F_SECRET }
#define URL(n, f, d)	{ n, K_URL, OFF(f), d, 0, 0, 0, 0 }

static const struct key keys[] = {
	{ "database_url", K_STR, OFF(database_url), NULL, 0, 0, 0,
	    F_SECRET | F_REQUIRED },
	{ "api_url", K_URL, OFF(api_url), NULL, 0, 0, 0, F_NOSLASH },
	{ "frontend_url", K_URL, OFF(frontend_url), NULL, 0, 0, 0, F_NOSLASH },
	{ "token_key", K_HEX32, OFF(token_key), NULL, 0, 0, 0,
	    F_SECRET | F_REQUIRED },
	SECRET("jwt_secret", jwt_secret),
	S("jwks_file", jwks_file),
	S("jwt_issuer", jwt_issuer),
	/* Shopify answers a malformed version with 404, which the jobs would
	 * read as "this shop is gone": only a real version name passes. */
	{ "shopify_api_version", K_STR, OFF(shopify_api_version), NULL, 0, 0,
	    0, F_APIVER },
	{ "shopify_base_url", K_URL, OFF(shopify_base_url), "https://{shop}",
	    0, 0, 0, F_SHOP },
	S("shopify_client_id", shopify_client_id),
	SECRET("shopify_client_secret", shopify_client_secret),
	S("shopify_scopes", shopify_scopes),
	S("pinterest_app_id", pinterest_app_id),
	SECRET("pinterest_app_secret", pinterest_app_secret),
	URL("pinterest_api_base", pinterest_api_base,
	    "https://api.pinterest.com/v5"),
	URL("pinterest_oauth_url", pinterest_oauth_url,
	    "https://www.pinterest.com/oauth/"),
	S("meta_app_id", meta_app_id),
	SECRET("meta_app_secret", meta_app_secret),
	URL("meta_graph_base", meta_graph_base,
	    "https://graph.facebook.com/v26.0"),
	URL("meta_dialog_url", meta_dialog_url,
	    "https://www.facebook.com/v26.0/dialog/oauth"),
	S("google_client_id", google_client_id),
	SECRET("google_client_secret", google_client_secret),
	URL("google_auth_url", google_auth_url,
	    "https://accounts.google.com/o/oauth2/v2/auth"),
	URL("google_token_url", google_token_url,
	    "https://oauth2.googleapis.com/token"),
	URL("google_revoke_url", google_revoke_url,
	    "https://oauth2.googleapis.com/revoke"),
	SECRET("openai_api_key", openai_api_key),
	URL("openai_api_base", openai_api_base, "https://api.openai.com/v1"),
	S("openai_model", openai_model),
	{ "openai_prices", K_STR, OFF(openai_prices), NULL, 0, 0, 0,
	    F_PRICES },
	S("ca_file", ca_file),
	{ "api_body_max", K_LONG, OFF(api_body_max), NULL, 65536,
	    1024, 16777216, 0 },
	{ "api_workers", K_INT, OFF(api_workers), NULL, 4, 1, 256, 0 },
	/* Operator-wide caps no shop setting can exceed (shop_limits.c);
	 * the defaults are shop_settings' CHECK bounds. */
	{ "max_creations_per_day", K_LONG, OFF(max_creations_per_day), NULL,
	    250, 0, 250, 0 },
	{ "max_retirements_per_run", K_LONG, OFF(max_retirements_per_run),
	    NULL, 1000, 0, 1000, 0 },
	{ "max_pins_per_run", K_LONG, OFF(max_pins_per_run), NULL, 1000, 0,
	    1000, 0 },
	{ "max_openai_tokens_per_day", K_LONG, OFF(max_openai_tokens_per_day),
	    NULL, 1000000, 0, 100000000, 0 },
	/* A Slack/Discord webhook URL is a credential: secret. */
	{ "alert_webhook_url", K_URL, OFF(alert_webhook_url), NULL, 0, 0, 0,
	    F_SECRET },
	S("alert_email", alert_email),
	S("alert_from", alert_from),
	{ "owner_mail", K_INT, OFF(owner_mail), NULL, 0, 0, 1, 0 },
	S("alert_spool_dir", alert_spool_dir),
	S("metrics_dir", metrics_dir),
};
#define NKEYS	RB_NELEM(keys)

/* String defaults that are not URLs (kept out of the macros above). */
static const char *
str_default(const struct key *k)
{
	if (strcmp(k->name, "shopify_api_version") == 0)
		return "2026-10";
	if (strcmp(k->name, "shopify_scopes") == 0)
		return SHOPIFY_DEFAULT_SCOPES;
	if (strcmp(k->name, "openai_model") == 0)
		return "gpt-4.1-mini";
	if (strcmp(k->name, "openai_prices") == 0)
		return CONFIG_DEFAULT_OPENAI_PRICES;
	if (strcmp(k->name, "alert_spool_dir") == 0)
		return "/var/lib/reboss/alerts";
	if (strcmp(k->name, "metrics_dir") == 0)
		return "/var/lib/reboss/metrics";
	return k->def;
}

/* Shopify's version names: a quarter's first month, or "unstable". */
static bool
api_version_ok(const char *v)
{
	size_t i;

	if (strcmp(v, "unstable") == 0)
		return true;
	if (strlen(v) != 7 || v[4] != '-')
		return false;
	for (i = 0; i < 7; i++)
		if (i != 4 && (v[i] < '0' || v[i] > '9'))
			return false;
	return strcmp(v + 5, "01") == 0 || strcmp(v + 5, "04") == 0 ||
	    strcmp(v + 5, "07") == 0 || strcmp(v + 5, "10") == 0;
}

struct parser {
	const char	*path;
	struct rb_config *cfg;
	void		(*report)(void *, const char *);
	void		*ctx;
	int		 nproblems;
	char		 first[sizeof(((struct rb_err *)0)->msg)];
	int		 seen[NKEYS];		/* line where set, 0 = not */
	bool		 via_file[NKEYS];	/* set through key_file */
	bool		 isset[NKEYS];		/* a non-empty value was set */
	bool		 bad[NKEYS];		/* a problem was reported */
	int		 jwks_line;
	int		 par_seen[JOB__COUNT];
	int		 section;	/* -1 global, -2 unknown, else job */
};

static void RB_PRINTF(4, 5)
problem(struct parser *p, int line, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", p->path, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", p->path);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	if (key != NULL) {
		int m = snprintf(msg + n, sizeof(msg) - (size_t)n,
		    "key '%s': ", key);
		if (m > 0 && (size_t)m < sizeof(msg) - (size_t)n)
			n += m;
	}
	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (p->nproblems++ == 0)
		rb_strlcpy(p->first, msg, sizeof(p->first));
	if (p->report != NULL)
		p->report(p->ctx, msg);
}

/* Key names we echo are only [a-z0-9_], at most 64 bytes: a stray secret
 * on the left of '=' (a line pasted wrongly) is never repeated. */
static bool
is_name(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_'))
			return false;
	return n > 0 && n <= 64;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static const struct key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void *
field(struct rb_config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

/* Value shown in a message: never for secrets, shortened otherwise. */
static const char *
shown(const struct key *k, const char *v, char *buf, size_t size)
{
	if (k->flags & F_SECRET)
		return "(secret, not shown)";
	if (strlen(v) > CONF_SHOW_MAX) {
		(void)snprintf(buf, size, "'%.*s...'", CONF_SHOW_MAX - 3, v);
		return buf;
	}
	(void)snprintf(buf, size, "'%s'", v);
	return buf;
}

static bool
is_url(const char *v)
{
	const char *rest;

	if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else
		return false;
	if (*rest == '\0' || *rest == '/')
		return false;
	for (; *v != '\0'; v++)
		if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v))
			return false;
	return true;
}

/* Checks v for key k and stores it.  name is how the key was written
 * ("jwt_secret" or "jwt_secret_file"), for the message. */
static void
set_value(struct parser *p, int line, const struct key *k, const char *name,
    char *v)
{
	struct rb_config *cfg = p->cfg;
	char show[CONF_SHOW_MAX + 8];
	size_t i = (size_t)(k - keys);
	long l;

	if (*v == '\0')
		return;		/* empty: the default */
	p->bad[i] = true;	/* until the value is stored */
	switch (k->type) {
	case K_HEX32:
		if (strlen(v) != 64) {
			problem(p, line, name, "must be exactly 64 hexadecimal "
			    "characters (32 bytes), not %zu characters; "
			    "create one with 'openssl rand -hex 32'",
			    strlen(v));
			return;
		}
		if (rb_hex_decode(v, field(cfg, k), 32) == -1) {
			OPENSSL_cleanse(field(cfg, k), 32);
			problem(p, line, name, "contains a character that is "
			    "not hexadecimal; expected 64 characters 0-9 a-f");
			return;
		}
		break;
	case K_INT:
	case K_LONG:
		if (rb_parse_long(v, k->min, k->max, &l) == -1) {
			problem(p, line, name, "%s is not a whole number from "
			    "%ld to %ld", shown(k, v, show, sizeof(show)),
			    k->min, k->max);
			return;
		}
		if (k->type == K_INT)
			*(int *)field(cfg, k) = (int)l;
		else
			*(long *)field(cfg, k) = l;
		break;
	case K_URL:
		if (!is_url(v)) {
			problem(p, line, name, "%s is not a URL; expected "
			    "http://HOST... or https://HOST... without spaces",
			    shown(k, v, show, sizeof(show)));
			return;
		}
		if ((k->flags & F_SHOP) && strstr(v, "{shop}") == NULL) {
			problem(p, line, name, "%s does not contain {shop}; "
			    "expected e.g. 'https://{shop}', where {shop} "
			    "becomes the shop's myshopify.com domain",
			    shown(k, v, show, sizeof(show)));
			return;
		}
		if (k->flags & F_NOSLASH) {
			size_t n = strlen(v);
			while (n > 0 && v[n - 1] == '/')
				v[--n] = '\0';
		}
		__attribute__((fallthrough));
	case K_STR: {
		char **dst = field(cfg, k);
		const char *why;
		double in, out;

		if ((k->flags & F_PRICES) &&
		    config_openai_price(v, "", &in, &out, &why) == -1) {
			problem(p, line, name, "%s; expected 'MODEL:IN:OUT' "
			    "entries separated by commas, IN and OUT in USD "
			    "per million tokens, e.g. 'gpt-4.1-mini:0.40:1.60'",
			    why);
			return;
		}
		if ((k->flags & F_APIVER) && !api_version_ok(v)) {
			problem(p, line, name, "%s is not a Shopify API version; "
			    "expected YEAR-MONTH with a release month (01, 04, "
			    "07 or 10), e.g. '2026-10', or 'unstable'",
			    shown(k, v, show, sizeof(show)));
			return;
		}
		if ((*dst = strdup(v)) == NULL) {
			problem(p, line, name, "out of memory");
			return;
		}
		break;
	}
	}
	p->bad[i] = false;
	p->isset[i] = true;
}

/*
 * Where a relative KEY_file name is read.  The units load the whole
 * credentials directory (LoadCredential=reboss:DIR), so systemd names the
 * file NAME "reboss_NAME" in $CREDENTIALS_DIRECTORY; either spelling is
 * accepted there.  Outside systemd (rebossctl run by hand) the file is read
 * from the directory itself, so the same configuration works in both.
 */
static int
secret_path(struct parser *p, int line, const char *name, const char *path,
    char *full, size_t fullsz)
{
	static const char pfx[] = "reboss_";
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	size_t n;

	if (dir != NULL && *dir != '\0') {
		n = (size_t)snprintf(full, fullsz, "%s/%s", dir, path);
		if (n < fullsz && access(full, F_OK) == -1 &&
		    strncmp(path, pfx, sizeof(pfx) - 1) != 0)
			n = (size_t)snprintf(full, fullsz, "%s/%s%s", dir, pfx,
			    path);
	} else {
		dir = getenv("REBOSS_TEST_CREDENTIALS_DIR");
		if (dir == NULL || *dir == '\0')
			dir = CONFIG_CREDENTIALS_DIR;
		if (strncmp(path, pfx, sizeof(pfx) - 1) == 0)
			path += sizeof(pfx) - 1;
		n = (size_t)snprintf(full, fullsz, "%s/%s", dir, path);
	}
	if (n >= fullsz) {
		problem(p, line, name, "path is too long");
		return -1;
	}
	return 0;
}

/* Reads the contents of a key_file into a heap string (caller wipes). */
static int
read_secret_file(struct parser *p, int line, const char *name,
    const char *path, char **out)
{
	struct rb_err err = { 0 };
	char full[4096];
	size_t len;
	char *s;

	*out = NULL;
	if (path[0] != '/') {
		if (secret_path(p, line, name, path, full, sizeof(full)) == -1)
			return -1;
		path = full;
	}
	if (rb_read_file(path, CONF_MAX_SECRET, &s, &len, &err) == -1) {
		problem(p, line, name, "%s Expected a readable file of at "
		    "most 64 KiB.", err.msg);
		return -1;
	}
	if (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	if (strlen(s) != len) {
		OPENSSL_cleanse(s, len);
		free(s);
		problem(p, line, name, "%s contains a NUL byte; expected "
		    "text", path);
		return -1;
	}
	*out = s;
	return 0;
}

static void
parse_key(struct parser *p, int line, char *name, char *v)
{
	const struct key *k;
	bool via_file = false;
	char *secret = NULL;
	size_t i, n;

	if (!is_name(name)) {
		problem(p, line, NULL, "the text left of '=' is not a key "
		    "name (not shown); expected a lower-case key such as "
		    "'database_url'");
		return;
	}
	if (p->section == -2)
		return;		/* inside an unknown section: reported once */
	if (p->section >= 0) {
		int j = p->section;
		long l;

		if (strcmp(name, "parallel") != 0) {
			problem(p, line, name, "%s in section [%s]; only "
			    "'parallel' belongs in a job section, and global "
			    "keys go before the first section",
			    find_key(name) != NULL ? "is a global key" :
			    "is not a known key", job_names[j]);
			return;
		}
		if (p->par_seen[j] != 0) {
			problem(p, line, name, "is given twice in [%s] (first "
			    "on line %d); keep one", job_names[j],
			    p->par_seen[j]);
			return;
		}
		p->par_seen[j] = line;
		if (*v == '\0')
			return;
		if (rb_parse_long(v, CONFIG_PARALLEL_MIN, CONFIG_PARALLEL_MAX,
		    &l) == -1) {
			problem(p, line, name, "in [%s]: '%.*s' is not a whole "
			    "number from %d to %d", job_names[j],
			    CONF_SHOW_MAX, v, CONFIG_PARALLEL_MIN,
			    CONFIG_PARALLEL_MAX);
			return;
		}
		p->cfg->parallel[j] = (int)l;
		return;
	}

	if ((k = find_key(name)) == NULL) {
		n = strlen(name);
		if (n > 5 && strcmp(name + n - 5, "_file") == 0) {
			name[n - 5] = '\0';
			k = find_key(name);
			name[n - 5] = '_';
			if (k != NULL && !(k->flags & F_SECRET)) {
				problem(p, line, name, "is not a known key; "
				    "only secret keys have a _file form, and "
				    "'%s' is not secret", k->name);
				return;
			}
			via_file = true;
		}
		if (k == NULL) {
			problem(p, line, name, "is not a known key; see "
			    "reboss.conf(5) for the list of keys");
			return;
		}
	}
	i = (size_t)(k - keys);
	if (p->seen[i] != 0) {
		if (p->via_file[i] != via_file)
			problem(p, line, name, "'%s' was already given on "
			    "line %d as '%s%s'; give either %s or %s_file, "
			    "not both", k->name, p->seen[i], k->name,
			    p->via_file[i] ? "_file" : "", k->name, k->name);
		else
			problem(p, line, name, "is given twice (first on line "
			    "%d); keep one", p->seen[i]);
		return;
	}
	p->seen[i] = line;
	p->via_file[i] = via_file;
	if (strcmp(k->name, "jwks_file") == 0)
		p->jwks_line = line;
	if (!via_file) {
		set_value(p, line, k, name, v);
		return;
	}
	if (*v == '\0')
		return;
	if (read_secret_file(p, line, name, v, &secret) == -1) {
		p->bad[i] = true;
		return;
	}
	set_value(p, line, k, name, secret);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

static void
parse_line(struct parser *p, int line, char *s)
{
	char *eq, *name, *v;
	size_t n;

	s = trim(s);
	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[') {
		n = strlen(s);
		if (s[n - 1] != ']') {
			problem(p, line, NULL, "a section header must end "
			    "with ']'; expected e.g. '[sales_tracker]'");
			p->section = -2;
			return;
		}
		s[n - 1] = '\0';
		name = trim(s + 1);
		if ((p->section = job_kind_from_name(name)) < 0) {
			p->section = -2;
			problem(p, line, NULL, "unknown section [%s]; expected "
			    "one of [sales_tracker] [replace_job] "
			    "[product_optimize] [product_creation] "
			    "[pinterest_sync]", is_name(name) ? name :
			    "(not shown)");
		}
		return;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		problem(p, line, NULL, "line is not 'key = value' (not "
		    "shown); expected a key, '=' and a value, or a comment "
		    "starting with '#'");
		return;
	}
	*eq = '\0';
	name = trim(s);
	v = trim(eq + 1);
	n = strlen(v);
	if (n > 0 && v[0] == '"') {
		if (n < 2 || v[n - 1] != '"') {
			problem(p, line, is_name(name) ? name : NULL,
			    "value starts with '\"' but does not end with it; "
			    "expected \"value\" or value without quotes");
			return;
		}
		v[n - 1] = '\0';
		v++;
	}
	parse_key(p, line, name, v);
}

static void
check_jwks(struct parser *p)
{
	struct rb_config *cfg = p->cfg;
	struct rb_err err = { 0 };
	json_error_t jerr;
	json_t *root = NULL, *ks;
	size_t len;

	if (cfg->jwks_file == NULL)
		return;
	if (rb_read_file(cfg->jwks_file, CONF_MAX_JWKS, &cfg->jwks_json, &len,
	    &err) == -1) {
		problem(p, p->jwks_line, "jwks_file", "%s Expected a JWKS "
		    "file of at most 1 MiB.", err.msg);
		return;
	}
	root = json_loadb(cfg->jwks_json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root) ||
	    (ks = json_object_get(root, "keys")) == NULL ||
	    !json_is_array(ks)) {
		problem(p, p->jwks_line, "jwks_file", "%s is not a JWKS; "
		    "expected a JSON object with a \"keys\" array (the "
		    "project's /auth/v1/.well-known/jwks.json)", cfg->jwks_file);
		free(cfg->jwks_json);
		cfg->jwks_json = NULL;
	}
	json_decref(root);
}

static void
finish(struct parser *p)
{
	struct rb_config *cfg = p->cfg;
	size_t i;
	int j;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *def;

		const char *want = k->type == K_HEX32 ?
		    "expected 64 hexadecimal characters (create them with "
		    "'openssl rand -hex 32')" :
		    "expected a PostgreSQL conninfo or URI";

		if ((k->flags & F_REQUIRED) && !p->isset[i] && !p->bad[i]) {
			if (p->seen[i] == 0)
				problem(p, 0, NULL, "missing required key "
				    "'%s'; %s", k->name, want);
			else
				problem(p, p->seen[i], k->name, "is required "
				    "but empty; %s", want);
		}
		if (p->isset[i])
			continue;
		switch (k->type) {
		case K_INT:
			*(int *)field(cfg, k) = (int)k->idef;
			break;
		case K_LONG:
			*(long *)field(cfg, k) = k->idef;
			break;
		case K_STR:
		case K_URL:
			if ((def = str_default(k)) != NULL &&
			    (*(char **)field(cfg, k) = strdup(def)) == NULL)
				problem(p, 0, k->name, "out of memory");
			break;
		case K_HEX32:
			break;
		}
	}
	if (cfg->jwt_secret == NULL && cfg->jwks_file == NULL &&
	    !p->bad[find_key("jwt_secret") - keys])
		problem(p, 0, NULL, "missing required key 'jwt_secret' or "
		    "'jwks_file'; expected the Supabase JWT secret (HS256) "
		    "or the path of the project's JWKS (ES256/RS256)");
	for (j = 0; j < JOB__COUNT; j++)
		if (cfg->parallel[j] == 0)
			cfg->parallel[j] = parallel_default[j];
	check_jwks(p);
}

/* Parses path into cfg (zeroed first); returns the number of problems. */
static int
parse(struct parser *p, struct rb_config *cfg, const char *path)
{
	struct rb_err err = { 0 };
	char *text = NULL, *s, *nl;
	size_t len, n;
	int line = 0;

	memset(cfg, 0, sizeof(*cfg));
	p->cfg = cfg;
	p->path = path;
	p->section = -1;
	if ((cfg->path = strdup(path)) == NULL) {
		problem(p, 0, NULL, "out of memory");
		return p->nproblems;
	}
	if (rb_read_file(path, CONF_MAX_FILE, &text, &len, &err) == -1) {
		problem(p, 0, NULL, "%s Expected a readable configuration "
		    "file of at most 1 MiB.", err.msg);
		return p->nproblems;
	}
	for (s = text; s < text + len; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(text + len - s))) == NULL)
			nl = text + len;
		n = (size_t)(nl - s);
		if (memchr(s, '\0', n) != NULL) {
			problem(p, line, NULL, "line contains a NUL byte; "
			    "expected a text file");
			continue;
		}
		if (n > CONF_MAX_LINE) {
			problem(p, line, NULL, "line is longer than %d bytes; "
			    "put long secrets in a key_file", CONF_MAX_LINE);
			continue;
		}
		*nl = '\0';	/* text has a NUL after len, so nl is in bounds */
		if (n > 0 && s[n - 1] == '\r')
			s[n - 1] = '\0';
		parse_line(p, line, s);
	}
	/* The file may hold secrets. */
	OPENSSL_cleanse(text, len);
	free(text);
	finish(p);
	return p->nproblems;
}

const char *
config_path(const char *cli_path)
{
	const char *env;

	if (cli_path != NULL && *cli_path != '\0')
		return cli_path;
	if ((env = getenv("REBOSS_CONFIG")) != NULL && *env != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

int
config_load(struct rb_config *cfg, const char *path, struct rb_err *err)
{
	struct parser p = { 0 };

	if (parse(&p, cfg, path) == 0)
		return 0;
	config_free(cfg);
	return rb_err_set(err, 500, "config_invalid", "%s", p.first);
}

int
config_check(const char *path, void (*report)(void *ctx, const char *problem),
    void *ctx)
{
	struct parser p = { 0 };
	struct rb_config cfg;
	int n;

	p.report = report;
	p.ctx = ctx;
	n = parse(&p, &cfg, path);
	config_free(&cfg);
	return n;
}

int
config_require_oauth(const struct rb_config *cfg, const char *provider,
    struct rb_err *err)
{
	static const struct {
		const char *provider, *id, *secret;
	} need[] = {
		{ "pinterest", "pinterest_app_id", "pinterest_app_secret" },
		{ "meta", "meta_app_id", "meta_app_secret" },
		{ "google", "google_client_id", "google_client_secret" },
		{ "shopify", "shopify_client_id", "shopify_client_secret" },
	};
	const char *names[4];
	struct rb_buf b = { .max = 512 };
	size_t i, j, n;
	int rc = -1;

	for (i = 0; i < RB_NELEM(need); i++)
		if (provider != NULL && strcmp(provider, need[i].provider) == 0)
			break;
	if (i == RB_NELEM(need))
		return rb_err_set(err, 404, "unknown_provider",
		    "Unknown OAuth provider; expected pinterest, meta, "
		    "google or shopify.");
	names[0] = need[i].id;
	names[1] = need[i].secret;
	names[2] = "api_url";
	names[3] = "frontend_url";
	for (j = 0, n = 0; j < RB_NELEM(names); j++) {
		const struct key *k = find_key(names[j]);
		const char *v;

		if (k == NULL)
			continue;
		v = *(char *const *)((const char *)cfg + k->off);
		if (v != NULL && *v != '\0')
			continue;
		if (rb_buf_printf(&b, "%s%s", n++ ? ", " : "", names[j]) == -1)
			goto fail;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
fail:
	rb_err_set(err, 503, "oauth_not_configured", "%s is not configured: "
	    "set %s in %s.", provider, b.data != NULL ? b.data : "its keys",
	    cfg->path != NULL ? cfg->path : "the configuration file");
out:
	rb_buf_free(&b);
	return rc;
}

/* One price: a decimal number from 0 to 1000 (USD per million tokens). */
static int
price_parse(const char *s, size_t n, double *v)
{
	char buf[32], *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789.") != n)
		return -1;
	*v = strtod(buf, &end);
	return *end == '\0' && *v >= 0 && *v <= 1000 ? 0 : -1;
}

int
config_openai_price(const char *table, const char *model, double *in,
    double *out, const char **why)
{
	const char *e = table, *end, *c1, *c2, *t;
	size_t mlen, n = 0;
	double a, b;
	int found = 0;

	*why = "";
	for (; *e != '\0'; e = *end == ',' ? end + 1 : end) {
		while (*e == ' ' || *e == '\t')
			e++;
		end = e + strcspn(e, ",");
		mlen = strcspn(e, ":");
		c1 = e + mlen;
		if (c1 >= end || mlen == 0 || mlen > 64 ||
		    strspn(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-") != mlen) {
			*why = "an entry has no model name before ':'";
			return -1;
		}
		c2 = c1 + 1 + strcspn(c1 + 1, ":,");
		if (c2 >= end || *c2 != ':') {
			*why = "an entry lacks the output price";
			return -1;
		}
		for (t = end; t > c2 + 1 && (t[-1] == ' ' || t[-1] == '\t');)
			t--;
		if (price_parse(c1 + 1, (size_t)(c2 - c1 - 1), &a) == -1 ||
		    price_parse(c2 + 1, (size_t)(t - c2 - 1), &b) == -1) {
			*why = "a price is not a number from 0 to 1000";
			return -1;
		}
		if (++n > 64) {
			*why = "more than 64 models";
			return -1;
		}
		if (!found && strlen(model) == mlen &&
		    strncmp(model, e, mlen) == 0) {
			*in = a;
			*out = b;
			found = 1;
		}
	}
	return found;
}

void
config_free(struct rb_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		char **s;

		if (keys[i].type != K_STR && keys[i].type != K_URL)
			continue;
		s = field(cfg, &keys[i]);
		if (*s != NULL && (keys[i].flags & F_SECRET))
			OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
	}
	free(cfg->path);
	free(cfg->jwks_json);
	OPENSSL_cleanse(cfg->token_key, sizeof(cfg->token_key));
	memset(cfg, 0, sizeof(*cfg));
}
