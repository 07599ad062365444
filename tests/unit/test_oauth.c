/*
 * test_oauth.c - pure parts of lib/oauth.c: consent URLs, callback checks,
 * token answers of Pinterest v5, Meta Graph and Google (real bodies).
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "oauth.h"
#include "tap.h"

static char api_url[] = "https://api.reboss.test/";
static char pin_id[] = "1507772", pin_secret[] = "s3cret";
static char pin_oauth[] = "https://www.pinterest.com/oauth/";
static char pin_api[] = "https://api.pinterest.com/v5";
static char meta_id[] = "912873465501", meta_secret[] = "msecret";
static char meta_dialog[] = "https://www.facebook.com/v26.0/dialog/oauth";
static char g_id[] = "123-x.apps.googleusercontent.com", g_secret[] = "gs";
static char g_auth[] = "https://accounts.google.com/o/oauth2/v2/auth?hl=en";

static const char STATE[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL012-_";

static void
cfg_init(struct rb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->api_url = api_url;
	cfg->pinterest_app_id = pin_id;
	cfg->pinterest_app_secret = pin_secret;
	cfg->pinterest_oauth_url = pin_oauth;
	cfg->pinterest_api_base = pin_api;
	cfg->meta_app_id = meta_id;
	cfg->meta_app_secret = meta_secret;
	cfg->meta_dialog_url = meta_dialog;
	cfg->google_client_id = g_id;
	cfg->google_client_secret = g_secret;
	cfg->google_auth_url = g_auth;
}

static void
test_names(void)
{
	is_str(oauth_provider_name(OAUTH_PINTEREST), "pinterest", "name");
	is_int(oauth_provider_from_name("google"), OAUTH_GOOGLE, "from name");
	is_int(oauth_provider_from_name("twitter"), -1, "unknown provider");
	is_int(oauth_provider_from_name(NULL), -1, "NULL provider");
	is_str(oauth_table(OAUTH_PINTEREST), "pinterest_auth", "seed table");
	ok(oauth_table((enum oauth_provider)7) == NULL, "bad enum -> NULL");
}

static void
test_urls(void)
{
	struct rb_config cfg;
	struct rb_err err;
	char ru[256], *url = NULL;

	cfg_init(&cfg);
	ok(oauth_redirect_uri(&cfg, OAUTH_META, ru, sizeof(ru), &err) == 0 &&
	    strcmp(ru, "https://api.reboss.test/api/oauth/meta/callback") == 0,
	    "redirect uri, trailing slash of api_url dropped: %s", ru);
	ok(oauth_redirect_uri(&cfg, OAUTH_META, ru, 20, &err) == -1,
	    "redirect uri truncation refused");

	ok(oauth_consent_url(&cfg, OAUTH_PINTEREST, STATE, NULL, &url,
	    &err) == 0, "pinterest consent url");
	ok(url && strncmp(url, "https://www.pinterest.com/oauth/?client_id="
	    "1507772&", 44) == 0, "pinterest base and client_id: %s", url);
	ok(url && strstr(url, "&redirect_uri=https%3A%2F%2Fapi.reboss.test%2F"
	    "api%2Foauth%2Fpinterest%2Fcallback&") != NULL, "redirect encoded");
	ok(url && strstr(url, "&scope=boards%3Aread%2Cboards%3Awrite%2Cpins%3A"
	    "read%2Cpins%3Awrite") != NULL && strstr(url, "ads") == NULL,
	    "pinterest scopes, comma separated: boards and pins only");
	ok(url && strstr(url, "&state=" "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
	    "012-_") != NULL, "state as is");
	ok(url && strstr(url, "response_type=code") != NULL, "response_type");
	ok(url && strstr(url, "s3cret") == NULL, "no secret in the url");
	free(url);
	url = NULL;

	ok(oauth_consent_url(&cfg, OAUTH_META, STATE, NULL, &url, &err) == 0 &&
	    strstr(url, "https://www.facebook.com/v26.0/dialog/oauth?client_id="
	    "912873465501&") == url && strstr(url, "scope=ads_management%2C"
	    "ads_read%2Cbusiness_management") != NULL &&
	    strstr(url, "msecret") == NULL, "meta consent url");
	free(url);
	url = NULL;

	ok(oauth_consent_url(&cfg, OAUTH_GOOGLE, STATE, NULL, &url, &err) == -1,
	    "google without PKCE challenge refused");
	ok(oauth_consent_url(&cfg, OAUTH_GOOGLE, STATE,
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", &url, &err) == 0,
	    "google consent url");
	ok(url && strstr(url, "auth?hl=en&client_id=") != NULL,
	    "existing query of the base kept, '&' appended");
	ok(url && strstr(url, "&access_type=offline&prompt=consent&") != NULL,
	    "offline + consent");
	ok(url && strstr(url, "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URW"
	    "buGJSstw-cM&code_challenge_method=S256") != NULL, "PKCE S256");
	ok(url && strstr(url, "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2F"
	    "adwords") != NULL, "ads scope");
	free(url);
	url = NULL;

	ok(oauth_consent_url(&cfg, OAUTH_META, "short", NULL, &url, &err) == -1,
	    "bad state length refused");
	cfg.meta_app_id = NULL;
	ok(oauth_consent_url(&cfg, OAUTH_META, STATE, NULL, &url, &err) == -1 &&
	    strcmp(err.code, "oauth_not_configured") == 0,
	    "missing app id -> oauth_not_configured");
	cfg.api_url = NULL;
	ok(oauth_consent_url(&cfg, OAUTH_PINTEREST, STATE, NULL, &url,
	    &err) == -1 && strcmp(err.code, "oauth_not_configured") == 0,
	    "missing api_url -> oauth_not_configured");
}

static void
test_callback(void)
{
	char st[OAUTH_STATE_LEN + 1];
	struct rb_err err;

	ok(oauth_check_callback("4/0AX4XfWh_abc-DEF", STATE, NULL, st,
	    &err) == 0 && strcmp(st, STATE) == 0, "good code and state");
	ok(oauth_check_callback("code", NULL, NULL, st, &err) == -1 &&
	    strcmp(err.code, "invalid_state") == 0 && st[0] == '\0',
	    "no state");
	ok(oauth_check_callback("code", "abc", NULL, st, &err) == -1 &&
	    strcmp(err.code, "invalid_state") == 0, "short state");
	ok(oauth_check_callback("code", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
	    "012-'", NULL, st, &err) == -1 && strcmp(err.code,
	    "invalid_state") == 0, "state with a quote");
	ok(oauth_check_callback(NULL, STATE, "access_denied", st, &err) == -1 &&
	    strcmp(err.code, "access_denied") == 0 && strcmp(st, STATE) == 0,
	    "denied: code access_denied, state kept");
	ok(oauth_check_callback(NULL, STATE, NULL, st, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "no code");
	ok(oauth_check_callback("", STATE, NULL, st, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "empty code");
	ok(oauth_check_callback("ab cd", STATE, NULL, st, &err) == -1 &&
	    strcmp(err.code, "invalid_callback") == 0, "code with space");
	ok(oauth_check_callback("ab<script>", STATE, NULL, st, &err) == -1,
	    "code with markup");
	{
		char big[OAUTH_CODE_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ok(oauth_check_callback(big, STATE, NULL, st, &err) == -1,
		    "code too long");
	}
}

#define PARSE(p, st, body, t, err) \
	oauth_parse_token_response(p, st, body, strlen(body), t, err)

static void
test_tokens(void)
{
	struct oauth_tokens t;
	struct rb_err err;
	const char *b;

	/* Pinterest v5 OauthAccessTokenResponseCode */
	b = "{\"access_token\":\"pina_AMAxxx\",\"refresh_token\":\"pinr_AMAyyy\","
	    "\"response_type\":\"authorization_code\",\"token_type\":\"bearer\","
	    "\"expires_in\":2592000,\"refresh_token_expires_in\":5184000,"
	    "\"refresh_token_expires_at\":1767225600,"
	    "\"scope\":\"boards:read,boards:write,pins:read\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == 0, "pinterest success");
	is_str(t.access_token, "pina_AMAxxx", "access token");
	is_str(t.refresh_token, "pinr_AMAyyy", "refresh token");
	is_int(t.expires_in, 2592000, "expires_in");
	is_int(t.refresh_expires_in, 5184000, "refresh_token_expires_in");
	is_str(t.scopes, "boards:read boards:write pins:read",
	    "scopes normalized");
	oauth_tokens_free(&t);
	ok(t.access_token == NULL && t.expires_in == -1, "freed and reset");

	b = "{\"access_token\":\"pina_x\",\"token_type\":\"bearer\","
	    "\"expires_in\":2592000,\"scope\":\"boards:read\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1 &&
	    strcmp(err.code, "token_exchange_failed") == 0,
	    "pinterest without refresh token refused");
	b = "{\"code\":1,\"message\":\"Invalid request: authorization grant is "
	    "invalid pina_SECRET\"}";
	ok(PARSE(OAUTH_PINTEREST, 400, b, &t, &err) == -1 &&
	    strcmp(err.code, "token_exchange_failed") == 0 &&
	    strstr(err.msg, "code 1") != NULL &&
	    strstr(err.msg, "pina_SECRET") == NULL,
	    "pinterest 400: code named, message not echoed: %s", err.msg);
	ok(PARSE(OAUTH_PINTEREST, 500, "{\"code\":1,\"message\":\"x\"}", &t,
	    &err) == -1 && strcmp(err.code, "provider_unreachable") == 0,
	    "pinterest 500 -> provider_unreachable");
	ok(PARSE(OAUTH_PINTEREST, 200, "<html>", &t, &err) == -1 &&
	    strcmp(err.code, "token_exchange_failed") == 0, "not JSON");
	ok(PARSE(OAUTH_PINTEREST, 200, "[1]", &t, &err) == -1, "array");
	b = "{\"access_token\":\"pina_x\",\"refresh_token\":\"r\","
	    "\"token_type\":\"bearer\",\"expires_in\":\"2592000\","
	    "\"scope\":\"boards:read\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1,
	    "expires_in as a string refused");
	b = "{\"access_token\":\"pina_x\",\"refresh_token\":\"r\","
	    "\"token_type\":\"bearer\",\"expires_in\":-5,"
	    "\"scope\":\"boards:read\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1,
	    "negative expires_in refused");
	b = "{\"access_token\":\"pina x\",\"refresh_token\":\"r\","
	    "\"token_type\":\"bearer\",\"expires_in\":5,\"scope\":\"a\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1,
	    "token with a space refused");
	b = "{\"access_token\":\"a\",\"access_token\":\"b\",\"refresh_token\":"
	    "\"r\",\"token_type\":\"bearer\",\"expires_in\":5,\"scope\":\"a\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1,
	    "duplicate keys refused");
	b = "{\"access_token\":\"a\",\"refresh_token\":\"r\",\"token_type\":"
	    "\"mac\",\"expires_in\":5,\"scope\":\"a\"}";
	ok(PARSE(OAUTH_PINTEREST, 200, b, &t, &err) == -1,
	    "token_type mac refused");

	/* Meta: code exchange / fb_exchange_token answers */
	b = "{\"access_token\":\"EAALxyz\",\"token_type\":\"bearer\","
	    "\"expires_in\":5183944}";
	ok(PARSE(OAUTH_META, 200, b, &t, &err) == 0 && t.expires_in ==
	    5183944 && t.refresh_token == NULL, "meta long-lived token");
	oauth_tokens_free(&t);
	ok(PARSE(OAUTH_META, 200, "{\"access_token\":\"EAAL\",\"token_type\":"
	    "\"bearer\"}", &t, &err) == 0 && t.expires_in == -1,
	    "meta token without expiry");
	oauth_tokens_free(&t);
	b = "{\"error\":{\"message\":\"This authorization code has been used."
	    "\",\"type\":\"OAuthException\",\"code\":100,\"error_subcode\":"
	    "36009,\"fbtrace_id\":\"AbC\"}}";
	ok(PARSE(OAUTH_META, 400, b, &t, &err) == -1 &&
	    strcmp(err.code, "token_exchange_failed") == 0 &&
	    strstr(err.msg, "OAuthException 100") != NULL,
	    "meta OAuthException: %s", err.msg);

	/* Google */
	b = "{\"access_token\":\"ya29.a0AfH6\",\"expires_in\":3599,"
	    "\"refresh_token\":\"1//0gLx\",\"scope\":"
	    "\"https://www.googleapis.com/auth/adwords\",\"token_type\":"
	    "\"Bearer\",\"id_token\":\"eyJ\"}";
	ok(PARSE(OAUTH_GOOGLE, 200, b, &t, &err) == 0, "google success");
	is_str(t.refresh_token, "1//0gLx", "google refresh token");
	is_str(t.scopes, "https://www.googleapis.com/auth/adwords",
	    "google scope");
	oauth_tokens_free(&t);
	ok(PARSE(OAUTH_GOOGLE, 400, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"Bad Request\"}", &t, &err) == -1 &&
	    strstr(err.msg, "invalid_grant") != NULL,
	    "google invalid_grant named: %s", err.msg);
	ok(PARSE(OAUTH_GOOGLE, 400, "{\"error\":\"<b>x</b>\"}", &t,
	    &err) == -1 && strstr(err.msg, "<b>") == NULL,
	    "odd error words are not echoed");
	ok(PARSE(OAUTH_GOOGLE, 503, "", &t, &err) == -1 &&
	    strcmp(err.code, "provider_unreachable") == 0, "google 503");
	ok(PARSE(OAUTH_GOOGLE, 200, "{\"access_token\":\"ya29\","
	    "\"token_type\":\"Bearer\"}", &t, &err) == -1,
	    "google without expires_in refused");
	ok(PARSE(OAUTH_GOOGLE, 200, "{\"access_token\":\"ya29\",\"expires_in\":"
	    "1,\"scope\":\"a;b\"}", &t, &err) == -1, "bad scope chars");
	ok(PARSE(OAUTH_GOOGLE, 200, "{\"access_token\":\"ya29\",\"expires_in\":"
	    "1}", &t, &err) == 0, "google minimal refresh answer");
	oauth_tokens_free(&t);
}

int
main(void)
{
	test_names();
	test_urls();
	test_callback();
	test_tokens();
	return done_testing();
}
