/* test_config.c - lib/config.c: syntax, every key type, _file secrets,
 * required keys, messages (file:line:key, never a secret) and the sample
 * etc/reboss.conf. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not "config.h": outside lib/ that names autoconf's header. */
#include "config.h"
#include "tap.h"
#include "util.h"

#define HEX64 "00112233445566778899aabbccddeeff" \
	      "0123456789ABCDEFfedcba9876543210"
#define DBURL "postgresql://reboss:Db-Pw-7781@db.internal/reboss"
#define JWT "jwt-Secret-1f2e3d4c5b6a"
/* What every test file starts with, unless a test is about these keys. */
#define REQ "database_url = " DBURL "\ntoken_key = " HEX64 \
	"\njwt_secret = " JWT "\n"

static char tmpdir[] = "/tmp/rb-test-config-XXXXXX";
static char credsdir[] = "/tmp/rb-test-creds-XXXXXX";
static int nfiles;

/* Problems reported by config_check(). */
static struct {
	int	n;
	char	p[32][1100];
} got;

static void
collect(void *ctx, const char *problem)
{
	(void)ctx;
	if (got.n < 32)
		rb_strlcpy(got.p[got.n], problem, sizeof(got.p[0]));
	got.n++;
}

static void
write_bytes(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

/* Writes text into a new file of tmpdir; returns its path (static). */
static const char *
conf_bytes(const char *data, size_t len)
{
	static char path[4][256];
	char *p = path[nfiles % 4];

	(void)snprintf(p, sizeof(path[0]), "%s/c%d.conf", tmpdir, nfiles++);
	write_bytes(p, data, len);
	return p;
}

static const char *
conf(const char *text)
{
	return conf_bytes(text, strlen(text));
}

static int
check(const char *path)
{
	memset(&got, 0, sizeof(got));
	return config_check(path, collect, NULL);
}

/* Does any collected problem contain s? */
static bool
has(const char *s)
{
	int i;

	for (i = 0; i < got.n && i < 32; i++)
		if (strstr(got.p[i], s) != NULL)
			return true;
	return false;
}

/* Exactly one problem, which starts with prefix and contains what. */
static void
one_problem(const char *text, const char *suffix, const char *what,
    const char *name)
{
	const char *path = conf(text);
	char prefix[512];
	int n;

	(void)snprintf(prefix, sizeof(prefix), "%s%s", path, suffix);
	n = check(path);
	is_int(n, 1, "%s: one problem", name);
	ok(strncmp(got.p[0], prefix, strlen(prefix)) == 0,
	    "%s: starts with '%s'", name, prefix);
	if (strncmp(got.p[0], prefix, strlen(prefix)) != 0)
		printf("#   got: %s\n", got.p[0]);
	ok(strstr(got.p[0], what) != NULL, "%s: says '%s'", name, what);
	if (strstr(got.p[0], what) == NULL)
		printf("#   got: %s\n", got.p[0]);
}

static void
test_jobs(void)
{
	int i;

	is_str(job_names[JOB_SALES_TRACKER], "sales_tracker", "job 0 name");
	is_str(job_names[JOB_REPLACE], "replace_job", "job 1 name");
	is_str(job_names[JOB_PRODUCT_OPTIMIZE], "product_optimize",
	    "job 2 name");
	is_str(job_names[JOB_PRODUCT_CREATION], "product_creation",
	    "job 3 name");
	is_str(job_names[JOB_PINTEREST_SYNC], "pinterest_sync", "job 4 name");
	for (i = 0; i < JOB__COUNT; i++)
		is_int(job_kind_from_name(job_names[i]), i, "kind of %s",
		    job_names[i]);
	is_int(job_kind_from_name("sales"), -1, "unknown job");
	is_int(job_kind_from_name("Sales_Tracker"), -1, "case matters");
	is_int(job_kind_from_name(""), -1, "empty job");
	is_int(job_kind_from_name(NULL), -1, "NULL job");
}

static void
test_path(void)
{
	unsetenv("REBOSS_CONFIG");
	is_str(config_path(NULL), CONFIG_DEFAULT_PATH, "default path");
	is_str(config_path("/x/y.conf"), "/x/y.conf", "--config wins");
	setenv("REBOSS_CONFIG", "/env/r.conf", 1);
	is_str(config_path(NULL), "/env/r.conf", "$REBOSS_CONFIG");
	is_str(config_path("/x/y.conf"), "/x/y.conf", "--config over env");
	setenv("REBOSS_CONFIG", "", 1);
	is_str(config_path(NULL), CONFIG_DEFAULT_PATH, "empty env ignored");
	unsetenv("REBOSS_CONFIG");
}

static void
test_defaults(void)
{
	static const unsigned char key[32] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	};
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path = conf("# only what is required\n" REQ);

	is_int(config_load(&c, path, &err), 0, "minimal file loads");
	if (c.path == NULL) {
		printf("#   %s\n", err.msg);
		return;
	}
	is_str(c.path, path, "path kept");
	is_str(c.database_url, DBURL, "database_url");
	ok(memcmp(c.token_key, key, 32) == 0, "token_key decoded (mixed case)");
	is_str(c.jwt_secret, JWT, "jwt_secret");
	ok(c.jwks_file == NULL && c.jwks_json == NULL, "no jwks");
	ok(c.api_url == NULL && c.frontend_url == NULL, "no public urls");
	is_str(c.shopify_api_version, "2026-10", "default api version");
	is_str(c.shopify_base_url, "https://{shop}", "default shop url");
	is_str(c.pinterest_api_base, "https://api.pinterest.com/v5",
	    "default pinterest_api_base");
	is_str(c.pinterest_oauth_url, "https://www.pinterest.com/oauth/",
	    "default pinterest_oauth_url");
	is_str(c.meta_graph_base, "https://graph.facebook.com/v26.0",
	    "default meta_graph_base");
	is_str(c.meta_dialog_url, "https://www.facebook.com/v26.0/dialog/oauth",
	    "default meta_dialog_url");
	is_str(c.google_auth_url, "https://accounts.google.com/o/oauth2/v2/auth",
	    "default google_auth_url");
	is_str(c.google_token_url, "https://oauth2.googleapis.com/token",
	    "default google_token_url");
	is_str(c.google_revoke_url, "https://oauth2.googleapis.com/revoke",
	    "default google_revoke_url");
	is_str(c.openai_api_base, "https://api.openai.com/v1",
	    "default openai_api_base");
	is_str(c.openai_model, "gpt-4.1-mini", "default openai_model");
	ok(c.pinterest_app_id == NULL && c.pinterest_app_secret == NULL &&
	    c.meta_app_id == NULL && c.meta_app_secret == NULL &&
	    c.google_client_id == NULL && c.google_client_secret == NULL &&
	    c.openai_api_key == NULL && c.ca_file == NULL,
	    "optional keys unset");
	is_int(c.parallel[JOB_SALES_TRACKER], 20, "parallel sales_tracker");
	is_int(c.parallel[JOB_REPLACE], 20, "parallel replace_job");
	is_int(c.parallel[JOB_PRODUCT_OPTIMIZE], 5, "parallel optimize");
	is_int(c.parallel[JOB_PRODUCT_CREATION], 10, "parallel creation");
	is_int(c.parallel[JOB_PINTEREST_SYNC], 10, "parallel pinterest");
	is_int(c.api_body_max, 65536, "api_body_max default");
	is_int(c.api_workers, 4, "api_workers default");
	config_free(&c);
	ok(c.database_url == NULL && c.jwt_secret == NULL && c.path == NULL,
	    "config_free clears pointers");
	{
		static const unsigned char zero[32];
		ok(memcmp(c.token_key, zero, 32) == 0,
		    "config_free wipes token_key");
	}
}

static void
test_full(void)
{
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *jwks = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k1\"}]}";
	char text[8192], jpath[300];
	const char *path;

	(void)snprintf(jpath, sizeof(jpath), "%s/jwks.json", tmpdir);
	write_bytes(jpath, jwks, strlen(jwks));
	(void)snprintf(text, sizeof(text),
	    "# every key\r\n"
	    "database_url = host=/run/postgresql dbname=rb\n"
	    "  api_url\t=\thttps://api.example.com/  \n"
	    "frontend_url = https://app.example.com\n"
	    "token_key = " HEX64 "\n"
	    "jwt_secret = \"with # hash and  spaces \"\n"
	    "jwks_file = %s\n"
	    "shopify_api_version = 2025-01\n"
	    "shopify_base_url = http://127.0.0.1:8443/{shop}\n"
	    "pinterest_app_id = pid\n"
	    "pinterest_app_secret = psec\n"
	    "pinterest_api_base = http://127.0.0.1:1/v5\n"
	    "pinterest_oauth_url = http://127.0.0.1:2/oauth/\n"
	    "meta_app_id = mid\n"
	    "meta_app_secret = msec\n"
	    "meta_graph_base = http://127.0.0.1:3/v26.0\n"
	    "meta_dialog_url = http://127.0.0.1:4/dialog\n"
	    "google_client_id = gid\n"
	    "google_client_secret = gsec\n"
	    "google_auth_url = http://127.0.0.1:5/auth\n"
	    "google_token_url = http://127.0.0.1:6/token\n"
	    "google_revoke_url = http://127.0.0.1:7/revoke\n"
	    "openai_api_key = sk-abc\n"
	    "openai_api_base = http://127.0.0.1:8/v1\n"
	    "openai_model = gpt-5\n"
	    "ca_file = /etc/ssl/test-ca.pem\n"
	    "api_body_max = 1024\n"
	    "api_workers = 256\n"
	    "\n"
	    "[sales_tracker]\nparallel = 1\n"
	    "[ replace_job ]\nparallel = 1000\n"
	    "[product_optimize]\n  # comment in a section\nparallel = \"7\"\n"
	    "[pinterest_sync]\r\nparallel = 3\r\n", jpath);
	path = conf(text);
	is_int(check(path), 0, "full file: no problems");
	if (got.n > 0)
		printf("#   %s\n", got.p[0]);
	is_int(config_load(&c, path, &err), 0, "full file loads");
	if (c.path == NULL)
		return;
	is_str(c.database_url, "host=/run/postgresql dbname=rb", "conninfo");
	is_str(c.api_url, "https://api.example.com", "api_url, '/' removed");
	is_str(c.frontend_url, "https://app.example.com", "frontend_url");
	is_str(c.jwt_secret, "with # hash and  spaces ", "quotes removed, "
	    "'#' and inner spaces kept");
	is_str(c.jwks_file, jpath, "jwks_file");
	is_str(c.jwks_json, jwks, "jwks_json read at load");
	is_str(c.shopify_api_version, "2025-01", "api version");
	is_str(c.shopify_base_url, "http://127.0.0.1:8443/{shop}", "shop url");
	is_str(c.pinterest_app_id, "pid", "pinterest_app_id");
	is_str(c.pinterest_app_secret, "psec", "pinterest_app_secret");
	is_str(c.pinterest_api_base, "http://127.0.0.1:1/v5", "pin base");
	is_str(c.pinterest_oauth_url, "http://127.0.0.1:2/oauth/",
	    "pin oauth, '/' kept");
	is_str(c.meta_app_id, "mid", "meta_app_id");
	is_str(c.meta_app_secret, "msec", "meta_app_secret");
	is_str(c.meta_graph_base, "http://127.0.0.1:3/v26.0", "meta graph");
	is_str(c.meta_dialog_url, "http://127.0.0.1:4/dialog", "meta dialog");
	is_str(c.google_client_id, "gid", "google_client_id");
	is_str(c.google_client_secret, "gsec", "google_client_secret");
	is_str(c.google_auth_url, "http://127.0.0.1:5/auth", "google auth");
	is_str(c.google_token_url, "http://127.0.0.1:6/token", "google token");
	is_str(c.google_revoke_url, "http://127.0.0.1:7/revoke", "revoke");
	is_str(c.openai_api_key, "sk-abc", "openai_api_key");
	is_str(c.openai_api_base, "http://127.0.0.1:8/v1", "openai base");
	is_str(c.openai_model, "gpt-5", "openai_model");
	is_str(c.ca_file, "/etc/ssl/test-ca.pem", "ca_file");
	is_int(c.api_body_max, 1024, "api_body_max minimum");
	is_int(c.api_workers, 256, "api_workers maximum");
	is_int(c.parallel[JOB_SALES_TRACKER], 1, "[sales_tracker] parallel");
	is_int(c.parallel[JOB_REPLACE], 1000, "[ replace_job ] parallel");
	is_int(c.parallel[JOB_PRODUCT_OPTIMIZE], 7, "quoted parallel");
	is_int(c.parallel[JOB_PRODUCT_CREATION], 10, "unset section default");
	is_int(c.parallel[JOB_PINTEREST_SYNC], 3, "CRLF section");
	is_int(config_require_oauth(&c, "pinterest", &err), 0, "oauth pin ok");
	is_int(config_require_oauth(&c, "meta", &err), 0, "oauth meta ok");
	is_int(config_require_oauth(&c, "google", &err), 0, "oauth google ok");
	config_free(&c);
}

static void
test_types(void)
{
	static const struct {
		const char *line, *key, *what;
	} bad[] = {
		{ "api_workers = 0", "api_workers", "from 1 to 256" },
		{ "api_workers = 257", "api_workers", "from 1 to 256" },
		{ "api_workers = four", "api_workers", "'four'" },
		{ "api_workers = 4x", "api_workers", "whole number" },
		{ "api_workers = +4", "api_workers", "whole number" },
		{ "api_workers = 99999999999999999999", "api_workers",
		    "whole number" },
		{ "api_body_max = 1023", "api_body_max", "from 1024 to 16777216" },
		{ "api_body_max = 16777217", "api_body_max", "16777216" },
		{ "api_body_max = -1", "api_body_max", "whole number" },
		{ "api_body_max = 1.5", "api_body_max", "whole number" },
		{ "api_url = api.example.com", "api_url", "http://" },
		{ "frontend_url = ftp://x.example", "frontend_url", "https://" },
		{ "openai_api_base = https://", "openai_api_base", "not a URL" },
		{ "google_token_url = https:///token", "google_token_url",
		    "not a URL" },
		{ "meta_graph_base = https://graph.facebook.com/ v26",
		    "meta_graph_base", "not a URL" },
		{ "pinterest_api_base = //api.pinterest.com", "pinterest_api_base",
		    "not a URL" },
		{ "meta_dialog_url = HTTPS//x", "meta_dialog_url", "not a URL" },
		{ "google_auth_url = javascript:alert(1)", "google_auth_url",
		    "not a URL" },
		{ "google_revoke_url = x", "google_revoke_url", "not a URL" },
		{ "pinterest_oauth_url = www.pinterest.com", "pinterest_oauth_url",
		    "not a URL" },
		{ "shopify_base_url = https://shop.example", "shopify_base_url",
		    "{shop}" },
		{ "shopify_base_url = {shop}.myshopify.com", "shopify_base_url",
		    "not a URL" },
	};
	char text[1024], prefix[64], name[128];
	size_t i;

	for (i = 0; i < RB_NELEM(bad); i++) {
		(void)snprintf(text, sizeof(text), REQ "%s\n", bad[i].line);
		(void)snprintf(prefix, sizeof(prefix), ":4: key '%s': ",
		    bad[i].key);
		(void)snprintf(name, sizeof(name), "type error '%s'",
		    bad[i].line);
		one_problem(text, prefix, bad[i].what, name);
	}
}

static void
test_token_key(void)
{
	static const char *const bad[] = {
		"0011",
		HEX64 "0",
		"00112233445566778899aabbccddeeff0123456789abcdeffedcba987654321",
		"g0112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210",
		"00112233445566778899aabbccddeeff0123456789abcdeffedcba987654321Z",
		"0x112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210",
		"00112233445566778899aabbccddeeff 123456789abcdeffedcba9876543210",
	};
	char text[512];
	size_t i;

	for (i = 0; i < RB_NELEM(bad); i++) {
		(void)snprintf(text, sizeof(text),
		    "database_url = x\njwt_secret = y\ntoken_key = %s\n",
		    bad[i]);
		one_problem(text, ":3: key 'token_key': ", i < 3 ?
		    "64 hexadecimal" : "not hexadecimal", "bad token_key");
		ok(!has(bad[i]), "token_key value %zu not in message", i);
	}
}

static void
test_syntax(void)
{
	char big[6000];
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path;
	size_t n;

	one_problem(REQ "colour = blue\n", ":4: key 'colour': ",
	    "not a known key", "unknown key");
	one_problem(REQ "api_url_file = /x\n", ":4: key 'api_url_file': ",
	    "not secret", "_file of a non-secret key");
	one_problem(REQ "[nightly]\nparallel = 3\n", ":4: ",
	    "unknown section [nightly]", "unknown section");
	ok(has("[sales_tracker]"), "unknown section lists the sections");
	one_problem(REQ "[sales_tracker\n", ":4: ", "']'", "open section");
	one_problem(REQ "[sales_tracker]\ndatabase_url = x\n",
	    ":5: key 'database_url': ", "global key", "global in section");
	one_problem(REQ "[sales_tracker]\nworkers = 3\n",
	    ":5: key 'workers': ", "only 'parallel'", "unknown in section");
	one_problem(REQ "[replace_job]\nparallel = 0\n",
	    ":5: key 'parallel': ", "from 1 to 1000", "parallel 0");
	one_problem(REQ "[replace_job]\nparallel = 1001\n",
	    ":5: key 'parallel': ", "[replace_job]", "parallel 1001");
	one_problem(REQ "[replace_job]\nparallel = many\n",
	    ":5: key 'parallel': ", "'many'", "parallel not a number");
	one_problem(REQ "api_workers = 2\napi_workers = 3\n",
	    ":5: key 'api_workers': ", "twice (first on line 4)",
	    "duplicate key");
	one_problem(REQ "[pinterest_sync]\nparallel = 2\n[pinterest_sync]\n"
	    "parallel = 3\n", ":7: key 'parallel': ", "twice",
	    "duplicate parallel in a repeated section");
	one_problem(REQ "api_workers 4\n", ":4: ", "not 'key = value'",
	    "line without '='");
	one_problem(REQ " = 4\n", ":4: ", "not a key name", "empty key");
	one_problem(REQ "Api_Workers = 4\n", ":4: ", "not a key name",
	    "upper-case key");
	one_problem(REQ "openai_model = \"gpt\n", ":4: key 'openai_model': ",
	    "does not end", "unterminated quote");
	one_problem(REQ "openai_model = \"\n", ":4: key 'openai_model': ",
	    "does not end", "lone quote");

	/* Quotes: removed once; empty quotes and empty values = default. */
	path = conf(REQ "openai_model = \"\"\nopenai_api_base =\n"
	    "api_workers = \"\"\n[sales_tracker]\nparallel =\n"
	    "ca_file = \"a \"b\" c\"\n");
	is_int(check(path), 1, "ca_file after a section is a problem");
	path = conf(REQ "openai_model = \"\"\nopenai_api_base =\n"
	    "api_workers = \"\"\nca_file = \"a \"b\" c\"\n"
	    "[sales_tracker]\nparallel =\n");
	is_int(config_load(&c, path, &err), 0, "empty values load");
	if (c.path != NULL) {
		is_str(c.openai_model, "gpt-4.1-mini", "\"\" is the default");
		is_str(c.openai_api_base, "https://api.openai.com/v1",
		    "empty is the default");
		is_int(c.api_workers, 4, "empty int is the default");
		is_int(c.parallel[0], 20, "empty parallel is the default");
		is_str(c.ca_file, "a \"b\" c", "only the outer quotes go");
		config_free(&c);
	}

	/* Long line: 5000 bytes is refused, 4096 is fine. */
	n = (size_t)snprintf(big, sizeof(big), "openai_model = ");
	memset(big + n, 'm', 5000 - n);
	big[5000] = '\0';
	path = conf_bytes(big, strlen(big));
	is_int(check(path), 4, "long line + 3 missing required keys");
	ok(got.n > 0 && strstr(got.p[0], ":1: ") != NULL &&
	    strstr(got.p[0], "longer than 4096") != NULL, "long line named");
	{
		char text[4200 + sizeof(REQ)];
		n = (size_t)snprintf(text, sizeof(text), REQ "openai_model = ");
		memset(text + n, 'm', 4096 - (n - strlen(REQ)));
		text[strlen(REQ) + 4096] = '\0';
		path = conf(text);
		is_int(check(path), 0, "4096-byte line is fine");
	}

	/* NUL byte on line 2. */
	{
		static const char nul[] = REQ "api_workers = 4\0junk\n";
		path = conf_bytes(nul, sizeof(nul) - 1);
		is_int(check(path), 1, "NUL byte: one problem");
		ok(got.n > 0 && strstr(got.p[0], ":4: ") != NULL &&
		    strstr(got.p[0], "NUL") != NULL, "NUL byte named: %s",
		    got.p[0]);
	}

	/* File larger than 1 MiB. */
	{
		size_t len = (1u << 20) + 2;
		char *huge = malloc(len);
		size_t i;

		if (huge == NULL)
			exit(1);
		for (i = 0; i < len; i++)
			huge[i] = i % 64 == 63 ? '\n' : '#';
		path = conf_bytes(huge, len);
		free(huge);
		is_int(check(path), 1, "file over 1 MiB refused");
		ok(has("1048576") || has("1 MiB"), "size named: %s", got.p[0]);
	}

	/* Missing file. */
	is_int(check("/nonexistent/reboss.conf"), 1, "missing file");
	ok(has("/nonexistent/reboss.conf"), "missing file named");
	is_int(config_load(&c, "/nonexistent/reboss.conf", &err), -1,
	    "missing file fails load");
}

static void
test_required(void)
{
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path = conf("# nothing\n");
	char want[512];

	is_int(check(path), 3, "empty file: three problems");
	(void)snprintf(want, sizeof(want), "%s: missing required key "
	    "'database_url'", path);
	ok(has(want), "names database_url without a line");
	(void)snprintf(want, sizeof(want), "%s: missing required key "
	    "'token_key'", path);
	ok(has(want), "names token_key");
	ok(has("'jwt_secret' or 'jwks_file'"), "names jwt_secret/jwks_file");

	path = conf("token_key = " HEX64 "\njwt_secret = x\n");
	is_int(check(path), 1, "only database_url missing");
	ok(has("missing required key 'database_url'"), "it is named");

	path = conf("database_url = x\ntoken_key =\njwt_secret = x\n");
	is_int(check(path), 1, "empty token_key");
	ok(has(":2: key 'token_key': is required but empty"),
	    "empty token_key named with its line: %s", got.p[0]);

	path = conf("database_url = x\ntoken_key = " HEX64 "\n");
	memset(&err, 0, sizeof(err));
	is_int(config_load(&c, path, &err), -1, "no jwt key: load fails");
	is_str(err.code, "config_invalid", "code config_invalid");
	is_int(err.status, 500, "status 500");
	ok(strncmp(err.msg, path, strlen(path)) == 0 &&
	    strstr(err.msg, "jwks_file") != NULL, "msg: %s", err.msg);
	ok(c.path == NULL && c.database_url == NULL,
	    "failed load leaves nothing allocated");

	/* config_load reports the first of several problems. */
	path = conf(REQ "api_workers = 0\ncolour = red\n");
	is_int(check(path), 2, "two problems listed");
	is_int(config_load(&c, path, &err), -1, "load fails");
	(void)snprintf(want, sizeof(want), "%s:4: key 'api_workers': ", path);
	ok(strncmp(err.msg, want, strlen(want)) == 0, "first problem: %s",
	    err.msg);
}

static void
test_jwks(void)
{
	static const struct {
		const char *text, *name;
	} bad[] = {
		{ "[]", "array" },
		{ "{\"keys\":{}}", "keys not an array" },
		{ "{\"kty\":\"EC\"}", "no keys" },
		{ "{\"keys\":[", "broken JSON" },
		{ "", "empty file" },
	};
	char jpath[300], text[600];
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path;
	size_t i;

	(void)snprintf(jpath, sizeof(jpath), "%s/bad-jwks.json", tmpdir);
	for (i = 0; i < RB_NELEM(bad); i++) {
		write_bytes(jpath, bad[i].text, strlen(bad[i].text));
		(void)snprintf(text, sizeof(text), "database_url = x\n"
		    "token_key = " HEX64 "\njwks_file = %s\n", jpath);
		path = conf(text);
		is_int(check(path), 1, "jwks %s refused", bad[i].name);
		ok(has(":3: key 'jwks_file': ") && has("\"keys\""),
		    "jwks %s: %s", bad[i].name, got.p[0]);
	}
	(void)snprintf(text, sizeof(text), "database_url = x\n"
	    "token_key = " HEX64 "\njwks_file = %s/none.json\n", tmpdir);
	path = conf(text);
	is_int(check(path), 1, "missing jwks file");
	ok(has(":3: key 'jwks_file': ") && has("none.json"), "named: %s",
	    got.p[0]);
	write_bytes(jpath, "{\"keys\":[]}\n", 12);
	(void)snprintf(text, sizeof(text), "database_url = x\n"
	    "token_key = " HEX64 "\njwks_file = %s\n", jpath);
	path = conf(text);
	is_int(config_load(&c, path, &err), 0, "jwks without jwt_secret ok");
	if (c.path != NULL) {
		is_str(c.jwks_json, "{\"keys\":[]}\n", "jwks_json");
		ok(c.jwt_secret == NULL, "no jwt_secret");
		config_free(&c);
	}
}

static void
test_file_secrets(void)
{
	char text[1024], p[300], abs_path[300];
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path;

	(void)snprintf(p, sizeof(p), "%s/token_key", credsdir);
	write_bytes(p, HEX64 "\n", 65);
	(void)snprintf(p, sizeof(p), "%s/database_url", credsdir);
	write_bytes(p, "host=db password=Cred-Pw-55\n\n", 29);
	(void)snprintf(abs_path, sizeof(abs_path), "%s/jwt", tmpdir);
	write_bytes(abs_path, "jwt-from-file", 13);
	(void)snprintf(p, sizeof(p), "%s/openai", credsdir);
	write_bytes(p, "sk-file\r\n", 9);

	(void)snprintf(text, sizeof(text),
	    "database_url_file = database_url\n"
	    "token_key_file = \"token_key\"\n"
	    "jwt_secret_file = %s\n"
	    "openai_api_key_file = openai\n", abs_path);
	setenv("CREDENTIALS_DIRECTORY", credsdir, 1);
	path = conf(text);
	is_int(config_load(&c, path, &err), 0, "_file secrets load");
	if (c.path != NULL) {
		static const unsigned char k0[4] = { 0x00, 0x11, 0x22, 0x33 };
		ok(memcmp(c.token_key, k0, 4) == 0 && c.token_key[31] == 0x10,
		    "token_key from $CREDENTIALS_DIRECTORY");
		is_str(c.database_url, "host=db password=Cred-Pw-55\n",
		    "one trailing newline stripped, not two");
		is_str(c.jwt_secret, "jwt-from-file", "absolute path, no "
		    "newline");
		is_str(c.openai_api_key, "sk-file\r", "only \\n is stripped");
		config_free(&c);
	} else
		printf("#   %s\n", err.msg);

	/* Outside systemd: the credentials directory itself, so rebossctl
	 * by hand reads what the units read; systemd's "reboss_" prefix
	 * (LoadCredential=reboss:DIR) is accepted on both sides. */
	unsetenv("CREDENTIALS_DIRECTORY");
	setenv("REBOSS_TEST_CREDENTIALS_DIR", credsdir, 1);
	path = conf("database_url_file = reboss_database_url\n"
	    "token_key_file = token_key\njwt_secret = a\n");
	is_int(config_load(&c, path, &err), 0, "relative _file without "
	    "CREDENTIALS_DIRECTORY: the credentials directory");
	if (c.path != NULL) {
		is_str(c.database_url, "host=db password=Cred-Pw-55\n",
		    "reboss_NAME read as NAME there");
		config_free(&c);
	} else
		printf("#   %s\n", err.msg);
	setenv("REBOSS_TEST_CREDENTIALS_DIR", "/nonexistent-creds", 1);
	path = conf(text);
	is_int(check(path), 3, "relative _file, no such credential file");
	ok(has(":1: key 'database_url_file': ") &&
	    has("/nonexistent-creds/database_url"), "names the file: %s",
	    got.p[0]);
	ok(!has("missing required key"), "not also reported as missing");
	ok(!has("jwt_secret"), "absolute path still works");
	setenv("CREDENTIALS_DIRECTORY", "", 1);
	is_int(check(path), 3, "empty CREDENTIALS_DIRECTORY is not set");
	unsetenv("REBOSS_TEST_CREDENTIALS_DIR");
	/* under systemd the file is reboss_NAME */
	(void)snprintf(p, sizeof(p), "%s/reboss_pfx", credsdir);
	write_bytes(p, "sk-prefixed\n", 12);
	setenv("CREDENTIALS_DIRECTORY", credsdir, 1);
	path = conf("database_url = x\ntoken_key = " HEX64 "\njwt_secret = a\n"
	    "openai_api_key_file = pfx\n");
	is_int(config_load(&c, path, &err), 0, "NAME found as reboss_NAME");
	if (c.path != NULL) {
		is_str(c.openai_api_key, "sk-prefixed", "its contents");
		config_free(&c);
	} else
		printf("#   %s\n", err.msg);

	one_problem("database_url = x\ntoken_key = " HEX64 "\njwt_secret = a\n"
	    "jwt_secret_file = /x\n", ":4: key 'jwt_secret_file': ",
	    "not both", "KEY then KEY_file");
	one_problem("database_url = x\ntoken_key_file = token_key\n"
	    "jwt_secret = a\ntoken_key = " HEX64 "\n",
	    ":4: key 'token_key': ", "not both", "KEY_file then KEY");
	ok(!has(HEX64), "token_key not in the message");
	one_problem(REQ "openai_api_key_file = missing\n",
	    ":4: key 'openai_api_key_file': ", "missing", "missing _file");

	(void)snprintf(p, sizeof(p), "%s/short", credsdir);
	write_bytes(p, "abcd\n", 5);
	one_problem("database_url = x\njwt_secret = a\ntoken_key_file = short\n",
	    ":3: key 'token_key_file': ", "64 hexadecimal",
	    "token_key_file too short");
	ok(!has("abcd"), "short key file contents not shown");

	{
		char *big = malloc((64u << 10) + 1);

		if (big == NULL)
			exit(1);
		memset(big, 'a', (64u << 10) + 1);
		(void)snprintf(p, sizeof(p), "%s/big", credsdir);
		write_bytes(p, big, (64u << 10) + 1);
		free(big);
		one_problem(REQ "openai_api_key_file = big\n",
		    ":4: key 'openai_api_key_file': ", "65536",
		    "_file over 64 KiB");
		(void)snprintf(p, sizeof(p), "%s/nul", credsdir);
		write_bytes(p, "ab\0cd", 5);
		one_problem(REQ "openai_api_key_file = nul\n",
		    ":4: key 'openai_api_key_file': ", "NUL",
		    "_file with a NUL byte");
	}
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_no_secret_in_messages(void)
{
	static const char *const secrets[] = {
		"Db-Pw-7781", "Db-Second-9", "Tok-Zz", "sk-leak-123",
		"jwt-dupe-77", "pin-sec-42", "meta-sec-43", "goo-sec-44",
		"Pasted-Secret-5",
	};
	char p[300];
	const char *path;
	size_t i;
	int n;

	(void)snprintf(p, sizeof(p), "%s/bad_token", tmpdir);
	write_bytes(p, "Tok-Zz-not-hex\n", 15);
	{
		char text[2048];
		(void)snprintf(text, sizeof(text),
		    "database_url = postgresql://u:Db-Pw-7781@h/db\n"
		    "database_url = postgresql://u:Db-Second-9@h/db\n"
		    "token_key_file = %s\n"
		    "openai_api_key = sk-leak-123\n"
		    "openai_api_key = sk-leak-123\n"
		    "jwt_secret = \"jwt-dupe-77\n"
		    "jwt_secret = jwt-dupe-77\njwt_secret = jwt-dupe-77\n"
		    "pinterest_app_secret = pin-sec-42\n"
		    "pinterest_app_secret_file = x\n"
		    "meta_app_secret = meta-sec-43\nmeta_app_secret = y\n"
		    "google_client_secret = goo-sec-44\n"
		    "google_client_secret = \"goo-sec-44\n"
		    "google_client_secret_file = goo-sec-44\n"
		    "Pasted-Secret-5\n"
		    "Pasted-Secret-5 = x\n"
		    "[Pasted-Secret-5]\n", p);
		path = conf(text);
	}
	n = check(path);
	ok(n >= 12, "many problems (%d)", n);
	for (i = 0; i < RB_NELEM(secrets); i++) {
		ok(!has(secrets[i]), "secret '%s' never in a message",
		    secrets[i]);
	}
}

static void
test_oauth(void)
{
	struct rb_config c;
	struct rb_err err = { 0 };
	const char *path = conf(REQ "pinterest_app_id = p\n"
	    "api_url = https://api.example.com\n");

	if (config_load(&c, path, &err) == -1) {
		ok(0, "oauth config loads: %s", err.msg);
		return;
	}
	is_int(config_require_oauth(&c, "pinterest", &err), -1,
	    "pinterest incomplete");
	is_str(err.code, "oauth_not_configured", "code");
	ok(strstr(err.msg, "pinterest_app_secret") != NULL &&
	    strstr(err.msg, "frontend_url") != NULL &&
	    strstr(err.msg, "pinterest_app_id") == NULL &&
	    strstr(err.msg, "api_url,") == NULL &&
	    strstr(err.msg, path) != NULL, "names what is missing: %s",
	    err.msg);
	is_int(config_require_oauth(&c, "google", &err), -1, "google missing");
	ok(strstr(err.msg, "google_client_id") != NULL &&
	    strstr(err.msg, "google_client_secret") != NULL &&
	    strstr(err.msg, "frontend_url") != NULL, "all google keys: %s",
	    err.msg);
	is_int(config_require_oauth(&c, "meta", &err), -1, "meta missing");
	ok(strstr(err.msg, "meta_app_id") != NULL &&
	    strstr(err.msg, "meta_app_secret") != NULL, "meta keys named");
	is_int(config_require_oauth(&c, "myspace", &err), -1, "unknown");
	is_str(err.code, "unknown_provider", "unknown provider code");
	config_free(&c);
}

static void
test_sample(void)
{
	const char *top = getenv("top_srcdir");
	char sample[1024], *text = NULL, *out, *s, *nl;
	struct rb_err err = { 0 };
	struct rb_config c;
	const char *path;
	size_t len, o = 0;

	(void)snprintf(sample, sizeof(sample), "%s/etc/reboss.conf",
	    top != NULL ? top : "../..");
	is_int(check(sample), 3, "sample: only the 3 required keys fail");
	/* the sample leaves them commented out: the README's first setup
	 * appends them */
	ok(has("missing required key 'database_url'"), "sample: database_url");
	ok(has("missing required key 'token_key'"), "sample: token_key");
	ok(has("'jwt_secret' or 'jwks_file'"), "sample: jwt_secret/jwks_file");

	/* Uncomment every "#key = value" and "#[section]" line of the sample:
	 * the documented defaults must be valid and be the defaults. */
	if (rb_read_file(sample, 1 << 20, &text, &len, &err) == -1) {
		ok(0, "read sample: %s", err.msg);
		return;
	}
	if ((out = malloc(len + 512)) == NULL)
		exit(1);
	for (s = text; *s != '\0'; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		if (s[0] == '#' && ((s[1] >= 'a' && s[1] <= 'z') ||
		    s[1] == '[') && strncmp(s, "#jwks_file", 10) != 0)
			s++;
		if (strncmp(s, "database_url =", 14) == 0 ||
		    strncmp(s, "token_key =", 11) == 0 ||
		    strncmp(s, "jwt_secret =", 12) == 0)
			continue;
		memcpy(out + o, s, (size_t)(nl - s) + 1);
		o += (size_t)(nl - s) + 1;
	}
	{
		/* Required keys go before the first section. */
		char *sec = strstr(out, "\n[sales_tracker]");
		static const char req[] = "\n" REQ;
		size_t off = sec != NULL ? (size_t)(sec - out) : o;

		memmove(out + off + strlen(req), out + off, o - off);
		memcpy(out + off, req, strlen(req));
		o += strlen(req);
	}
	path = conf_bytes(out, o);
	free(out);
	free(text);
	is_int(check(path), 0, "uncommented sample is valid");
	if (got.n > 0)
		printf("#   %s\n", got.p[0]);
	if (config_load(&c, path, &err) == -1)
		return;
	is_str(c.shopify_api_version, "2026-10", "sample documents version");
	is_str(c.openai_model, "gpt-4.1-mini", "sample documents model");
	ok(c.pinterest_app_id == NULL && c.ca_file == NULL,
	    "sample's empty keys stay unset");
	is_int(c.api_body_max, 65536, "sample api_body_max");
	is_int(c.parallel[JOB_PRODUCT_OPTIMIZE], 5, "sample parallel");
	config_free(&c);
}

/* openai_prices: the default table, a table of the operator's, and every
 * malformed entry named. */
static void
test_openai_prices(void)
{
	struct rb_config c;
	struct rb_err err;
	const char *path, *why;
	double in = -1, out = -1;

	path = conf(REQ);
	if (config_load(&c, path, &err) == -1) {
		ok(0, "load: %s", err.msg);
		return;
	}
	is_int(config_openai_price(c.openai_prices, "gpt-4.1-mini", &in, &out,
	    &why), 1, "default table prices gpt-4.1-mini");
	ok(in == 0.40 && out == 1.60, "at 0.40 / 1.60 per million");
	is_int(config_openai_price(c.openai_prices, "gpt-4.1-mini-x", &in,
	    &out, &why), 0, "a longer name is another model");
	config_free(&c);
	path = conf(REQ "openai_prices = my-model:1.5:3 ,other:0:0.25\n");
	if (config_load(&c, path, &err) == -1) {
		ok(0, "load: %s", err.msg);
		return;
	}
	is_int(config_openai_price(c.openai_prices, "other", &in, &out, &why),
	    1, "second entry found");
	ok(in == 0 && out == 0.25, "its prices");
	is_int(config_openai_price(c.openai_prices, "gpt-4.1-mini", &in, &out,
	    &why), 0, "the operator's table replaces the default");
	config_free(&c);
	path = conf(REQ "openai_prices = gpt:1\n");
	is_int(check(path), 1, "entry without output price refused");
	ok(strstr(got.p[0], "openai_prices") != NULL &&
	    strstr(got.p[0], "lacks the output price") != NULL,
	    "named: %s", got.p[0]);
	path = conf(REQ "openai_prices = gpt:1:2000\n");
	is_int(check(path), 1, "price above 1000 refused");
	path = conf(REQ "openai_prices = :1:2\n");
	is_int(check(path), 1, "entry without model refused");
	path = conf(REQ "openai_prices = a:1:2:3\n");
	is_int(check(path), 1, "three prices refused");
	is_int(config_openai_price("a:x:1", "a", &in, &out, &why), -1,
	    "lookup in a malformed table fails");
}

/* shopify_api_version: Shopify answers a malformed one with 404, which the
 * jobs read as an uninstalled shop; only version names pass. */
static void
test_api_version(void)
{
	static const char *const bad[] = { "2026-13", "2026-11", "26-10",
	    "2026-1", "2026-010", "latest", "2026_10", "2026-1O" };
	static const char *const good[] = { "2026-10", "2027-01", "unstable" };
	char text[512];
	size_t i;

	for (i = 0; i < RB_NELEM(bad); i++) {
		(void)snprintf(text, sizeof(text), REQ
		    "shopify_api_version = %s\n", bad[i]);
		is_int(check(conf(text)), 1, "api version '%s' refused", bad[i]);
		ok(got.n > 0 && strstr(got.p[0], "not a Shopify API version")
		    != NULL, "'%s': says why", bad[i]);
	}
	for (i = 0; i < RB_NELEM(good); i++) {
		(void)snprintf(text, sizeof(text), REQ
		    "shopify_api_version = %s\n", good[i]);
		is_int(check(conf(text)), 0, "api version '%s' accepted",
		    good[i]);
	}
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL || mkdtemp(credsdir) == NULL) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	test_jobs();
	test_path();
	test_defaults();
	test_full();
	test_types();
	test_token_key();
	test_syntax();
	test_required();
	test_jwks();
	test_file_secrets();
	test_no_secret_in_messages();
	test_oauth();
	test_sample();
	test_openai_prices();
	test_api_version();
	{
		char cmd[200];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tmpdir,
		    credsdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	return done_testing();
}
