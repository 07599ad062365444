/*
 * oauth.c - consent URLs, callback checks, token endpoints of Pinterest v5,
 * Meta Graph and Google (see oauth.h).  Owner: the "oauth" module.
 *
 * Every buffer that holds a token, code or secret (form bodies, URLs with
 * Meta's client_secret, answers) is wiped before it is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "util.h"

#define OAUTH_HTTP_TIMEOUT_MS	15000L
#define OAUTH_CONNECT_TIMEOUT_MS 5000L
/* Ten years: anything longer is not a real expiry. */
#define OAUTH_EXPIRY_MAX	315360000LL

static const char *const names[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "pinterest",
	[OAUTH_META] = "meta",
	[OAUTH_GOOGLE] = "google",
};
static const char *const tables[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "pinterest_auth",
	[OAUTH_META] = "meta_auth",
	[OAUTH_GOOGLE] = "google_auth",
};
/* What the jobs need: pinterest_sync lists and creates boards and
 * creates, lists and deletes pins (the scopes Pinterest's API spec names
 * for those operations, nothing more); Meta and Google ads management. */
static const char *const scopes[OAUTH__COUNT] = {
	[OAUTH_PINTEREST] = "boards:read boards:write pins:read pins:write",
	[OAUTH_META] = "ads_management ads_read business_management",
	[OAUTH_GOOGLE] = "https://www.googleapis.com/auth/adwords",
};

const char *
oauth_provider_name(enum oauth_provider p)
{
	return (unsigned)p < OAUTH__COUNT ? names[p] : NULL;
}

int
oauth_provider_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < OAUTH__COUNT; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *
oauth_table(enum oauth_provider p)
{
	return (unsigned)p < OAUTH__COUNT ? tables[p] : NULL;
}

/* ---- encoding helpers ---------------------------------------------------- */

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Appends s percent-encoded (RFC 3986 unreserved kept). */
static int
buf_put_enc(struct rb_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c)) {
			if (rb_buf_append(b, s, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		if (rb_buf_append(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* Appends "&key=value" (no '&' when the buffer is empty or ends in '?'). */
static int
buf_param(struct rb_buf *b, const char *key, const char *value)
{
	if (b->len > 0 && b->data[b->len - 1] != '?' &&
	    b->data[b->len - 1] != '&' && rb_buf_puts(b, "&") == -1)
		return -1;
	if (buf_put_enc(b, key) == -1 || rb_buf_puts(b, "=") == -1 ||
	    buf_put_enc(b, value) == -1)
		return -1;
	return 0;
}

/* Frees a buffer that may hold secrets. */
static void
buf_wipe(struct rb_buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	rb_buf_free(b);
}

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
oauth_redirect_uri(const struct rb_config *cfg, enum oauth_provider p,
    char *out, size_t outsz, struct rb_err *err)
{
	size_t n;
	int w;

	if (oauth_provider_name(p) == NULL)
		return rb_err_set(err, 404, "unknown_provider",
		    "Unknown OAuth provider; expected pinterest, meta or "
		    "google.");
	if (!nonempty(cfg->api_url))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "api_url is not set in the configuration; the operator "
		    "must set it before accounts can be linked.");
	n = strlen(cfg->api_url);
	while (n > 0 && cfg->api_url[n - 1] == '/')
		n--;
	w = snprintf(out, outsz, "%.*s/api/oauth/%s/callback", (int)n,
	    cfg->api_url, names[p]);
	if (w < 0 || (size_t)w >= outsz)
		return rb_err_set(err, 500, "oauth_not_configured",
		    "api_url is too long for a redirect URI.");
	return 0;
}

int
oauth_consent_url(const struct rb_config *cfg, enum oauth_provider p,
    const char *state, const char *code_challenge, char **url,
    struct rb_err *err)
{
	struct rb_buf b = { .max = 8192 };
	char redirect[1024];
	const char *base, *client_id;
	bool ok;

	*url = NULL;
	if (oauth_redirect_uri(cfg, p, redirect, sizeof(redirect), err) == -1)
		return -1;
	switch (p) {
	case OAUTH_PINTEREST:
		base = cfg->pinterest_oauth_url;
		client_id = cfg->pinterest_app_id;
		break;
	case OAUTH_META:
		base = cfg->meta_dialog_url;
		client_id = cfg->meta_app_id;
		break;
	case OAUTH_GOOGLE:
	default:
		base = cfg->google_auth_url;
		client_id = cfg->google_client_id;
		break;
	}
	if (!nonempty(base) || !nonempty(client_id))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "Linking %s accounts is not configured on this server; the "
		    "operator must set its app id and secret.", names[p]);
	if (state == NULL || strlen(state) != OAUTH_STATE_LEN)
		return rb_err_set(err, 500, "internal_error",
		    "The OAuth state has the wrong length.");
	if (p == OAUTH_GOOGLE && !nonempty(code_challenge))
		return rb_err_set(err, 500, "internal_error",
		    "Google needs a PKCE code challenge.");
	ok = rb_buf_puts(&b, base) == 0 &&
	    rb_buf_puts(&b, strchr(base, '?') != NULL ? "&" : "?") == 0 &&
	    buf_param(&b, "client_id", client_id) == 0 &&
	    buf_param(&b, "redirect_uri", redirect) == 0 &&
	    buf_param(&b, "response_type", "code") == 0 &&
	    buf_param(&b, "state", state) == 0;
	if (ok && p == OAUTH_PINTEREST)
		/* Pinterest separates scopes with commas. */
		ok = buf_param(&b, "scope", "boards:read,boards:write,"
		    "pins:read,pins:write") == 0;
	else if (ok && p == OAUTH_META)
		ok = buf_param(&b, "scope", "ads_management,ads_read,"
		    "business_management") == 0;
	else if (ok)
		ok = buf_param(&b, "scope", scopes[OAUTH_GOOGLE]) == 0 &&
		    buf_param(&b, "access_type", "offline") == 0 &&
		    buf_param(&b, "prompt", "consent") == 0 &&
		    buf_param(&b, "include_granted_scopes", "true") == 0 &&
		    buf_param(&b, "code_challenge", code_challenge) == 0 &&
		    buf_param(&b, "code_challenge_method", "S256") == 0;
	if (!ok) {
		rb_buf_free(&b);
		return rb_err_set(err, 500, "out_of_memory",
		    "The consent URL could not be built; try again.");
	}
	*url = b.data;
	return 0;
}

/* ---- callback ------------------------------------------------------------ */

static bool
b64url_text(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Codes of the three providers: base64url-ish, Google's "4/0A..." has '/'. */
static bool
code_text(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > OAUTH_CODE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(unreserved(c) || c == '/' || c == '+' || c == '='))
			return false;
	}
	return true;
}

int
oauth_check_callback(const char *code, const char *state, const char *error,
    char state_out[OAUTH_STATE_LEN + 1], struct rb_err *err)
{
	bool state_ok;

	state_out[0] = '\0';
	state_ok = state != NULL && strlen(state) == OAUTH_STATE_LEN &&
	    b64url_text(state, OAUTH_STATE_LEN);
	if (state_ok)
		memcpy(state_out, state, OAUTH_STATE_LEN + 1);
	if (error != NULL)
		return rb_err_set(err, 400, "access_denied",
		    "The account was not linked: permission was not given at "
		    "the provider.");
	if (!state_ok)
		return rb_err_set(err, 400, "invalid_state",
		    "The link request is unknown or malformed; start again "
		    "from the dashboard.");
	if (code == NULL || !code_text(code))
		return rb_err_set(err, 400, "invalid_callback",
		    "The provider sent no usable authorization code; start "
		    "again from the dashboard.");
	return 0;
}

/* ---- token answers ------------------------------------------------------- */

void
oauth_tokens_free(struct oauth_tokens *t)
{
	if (t == NULL)
		return;
	if (t->access_token != NULL) {
		OPENSSL_cleanse(t->access_token, strlen(t->access_token));
		free(t->access_token);
	}
	if (t->refresh_token != NULL) {
		OPENSSL_cleanse(t->refresh_token, strlen(t->refresh_token));
		free(t->refresh_token);
	}
	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
}

static bool
token_text(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > OAUTH_TOKEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Scopes separated by ',' or ' ' -> space-separated; only sane scope
 * characters. */
static int
norm_scopes(const char *in, char out[OAUTH_SCOPES_MAX])
{
	size_t o = 0;
	bool sep = false;

	out[0] = '\0';
	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == ' ' || c == ',') {
			sep = o > 0;
			continue;
		}
		if (!(unreserved(c) || c == ':' || c == '/'))
			return -1;
		if (o + (sep ? 2 : 1) >= OAUTH_SCOPES_MAX)
			return -1;
		if (sep)
			out[o++] = ' ';
		sep = false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* A plain provider error word ("invalid_grant", "OAuthException") or "". */
static void
error_word(const char *in, char *out, size_t outsz)
{
	size_t i;

	out[0] = '\0';
	if (in == NULL || strlen(in) >= outsz)
		return;
	for (i = 0; in[i] != '\0'; i++)
		if (!((in[i] >= 'a' && in[i] <= 'z') ||
		    (in[i] >= 'A' && in[i] <= 'Z') ||
		    (in[i] >= '0' && in[i] <= '9') || in[i] == '_'))
			return;
	rb_strlcpy(out, in, outsz);
}

/* Reads the provider's error code from an error body, for the message. */
static void
provider_error(enum oauth_provider p, json_t *root, char *out, size_t outsz)
{
	json_t *e;

	out[0] = '\0';
	if (!json_is_object(root))
		return;
	e = json_object_get(root, "error");
	if (p == OAUTH_META && json_is_object(e)) {
		json_t *c = json_object_get(e, "code");

		if (json_is_integer(c))
			(void)snprintf(out, outsz, "OAuthException %lld",
			    (long long)json_integer_value(c));
		return;
	}
	if (json_is_string(e)) {
		error_word(json_string_value(e), out, outsz);
		return;
	}
	e = json_object_get(root, "code");	/* Pinterest: {code, message} */
	if (json_is_integer(e))
		(void)snprintf(out, outsz, "code %lld",
		    (long long)json_integer_value(e));
}

static int
get_seconds(json_t *root, const char *key, bool required, long long *out,
    struct rb_err *err, const char *who)
{
	json_t *v = json_object_get(root, key);

	*out = -1;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		return rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered without %s; try linking again.", who, key);
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > OAUTH_EXPIRY_MAX)
		return rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered with an invalid %s; try linking again.", who,
		    key);
	*out = (long long)json_integer_value(v);
	return 0;
}

static const char *
who(enum oauth_provider p)
{
	switch (p) {
	case OAUTH_PINTEREST: return "Pinterest";
	case OAUTH_META: return "Meta";
	case OAUTH_GOOGLE: return "Google";
	default: return "The provider";
	}
}

int
oauth_parse_token_response(enum oauth_provider p, long status,
    const char *body, size_t len, struct oauth_tokens *t, struct rb_err *err)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	char perr[64];
	const char *w = who(p);
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	if (oauth_provider_name(p) == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "Unknown OAuth provider.");
	if (body != NULL && len > 0 && len <= OAUTH_RESPONSE_MAX)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (status >= 500 || status == 429) {
		rb_err_set(err, 502, "provider_unreachable",
		    "%s is not available right now (HTTP %ld); try linking "
		    "again later.", w, status);
		goto fail;
	}
	if (status < 200 || status > 299) {
		provider_error(p, root, perr, sizeof(perr));
		rb_err_set(err, 502, "token_exchange_failed",
		    "%s refused the token request (HTTP %ld%s%s); try linking "
		    "again.", w, status, perr[0] ? ", " : "", perr);
		goto fail;
	}
	if (!json_is_object(root)) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered the token request with something that is not "
		    "a JSON object; try linking again.", w);
		goto fail;
	}
	v = json_object_get(root, "access_token");
	if (!json_is_string(v) || !token_text(json_string_value(v))) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered without a valid access token; try linking "
		    "again.", w);
		goto fail;
	}
	if ((t->access_token = strdup(json_string_value(v))) == NULL)
		goto oom;
	v = json_object_get(root, "token_type");
	if (v != NULL && (!json_is_string(v) ||
	    strcasecmp(json_string_value(v), "bearer") != 0)) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered with a token type other than bearer.", w);
		goto fail;
	}
	/* Pinterest and Google always send expires_in; Meta's long-lived
	 * token may come without (a token that does not expire). */
	if (get_seconds(root, "expires_in", p != OAUTH_META, &t->expires_in,
	    err, w) == -1)
		goto fail;
	v = json_object_get(root, "refresh_token");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !token_text(json_string_value(v))) {
			rb_err_set(err, 502, "token_exchange_failed",
			    "%s answered with an invalid refresh token; try "
			    "linking again.", w);
			goto fail;
		}
		if ((t->refresh_token = strdup(json_string_value(v))) == NULL)
			goto oom;
	}
	if (get_seconds(root, "refresh_token_expires_in", false,
	    &t->refresh_expires_in, err, w) == -1)
		goto fail;
	v = json_object_get(root, "scope");
	if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
	    norm_scopes(json_string_value(v), t->scopes) == -1)) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "%s answered with invalid scopes; try linking again.", w);
		goto fail;
	}
	if (p == OAUTH_PINTEREST && (v == NULL || t->refresh_token == NULL)) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "Pinterest answered without scope or refresh token; try "
		    "linking again.");
		goto fail;
	}
	rc = 0;
	goto out;
oom:
	rb_err_oom(err);
fail:
	oauth_tokens_free(t);
out:
	json_decref(root);
	return rc;
}

/* ---- provider calls ------------------------------------------------------- */

enum call_kind { CALL_EXCHANGE, CALL_REFRESH };

/* One token request; the answer is parsed into t.  method "POST" sends
 * form as the body; "GET" appends it to url as the query. */
static int
token_call(struct http_client *http, enum oauth_provider p,
    const char *method, const char *url, const struct rb_buf *form,
    const char *userpwd, enum call_kind kind, struct oauth_tokens *t,
    struct rb_err *err)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL
	};
	struct http_request req;
	struct http_response resp;
	struct rb_buf full = { .max = 16384 };
	struct rb_err herr;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rb_err_clear(&herr);
	req.method = method;
	req.headers = hdrs;
	req.userpwd = userpwd;
	req.connect_timeout_ms = OAUTH_CONNECT_TIMEOUT_MS;
	req.timeout_ms = OAUTH_HTTP_TIMEOUT_MS;
	req.max_response = OAUTH_RESPONSE_MAX;
	/* A code is used once and Pinterest rotates refresh tokens: never
	 * send the same grant twice. */
	req.max_attempts = 1;
	req.retry_unsafe = false;
	req.service = oauth_provider_name(p);
	if (strcmp(method, "GET") == 0) {
		if (rb_buf_puts(&full, url) == -1 ||
		    rb_buf_puts(&full, strchr(url, '?') ? "&" : "?") == -1 ||
		    rb_buf_append(&full, form->data, form->len) == -1) {
			rb_err_oom(err);
			goto fail;
		}
		req.url = full.data;
	} else {
		req.url = url;
		req.body = form->data;
		req.body_len = form->len;
	}
	if (http_request(http, &req, &resp, &herr) == -1) {
		rb_err_set(err, 502, "provider_unreachable",
		    "%s could not be reached (%s); try again later.", who(p),
		    herr.code[0] ? herr.code : "transport error");
		goto fail;
	}
	if (oauth_parse_token_response(p, resp.status, resp.body, resp.len, t,
	    err) == -1) {
		if (kind == CALL_REFRESH && resp.status >= 400 &&
		    resp.status < 500 && resp.status != 429) {
			char msg[sizeof(err->msg)];

			rb_strlcpy(msg, err->msg, sizeof(msg));
			rb_err_set(err, 409, "refresh_refused", "%s", msg);
		}
		log_warn("oauth: %s token endpoint: %s (%s)", who(p), err->msg,
		    err->code);
		goto fail;
	}
	rc = 0;
fail:
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.len);
	http_response_free(&resp);
	buf_wipe(&full);
	return rc;
}

static int
secret_pair(const char *id, const char *secret, struct rb_buf *b)
{
	return rb_buf_puts(b, id) == -1 || rb_buf_puts(b, ":") == -1 ||
	    rb_buf_puts(b, secret) == -1 ? -1 : 0;
}

static int
need_config(const struct rb_config *cfg, enum oauth_provider p,
    struct rb_err *err)
{
	const char *id, *secret, *url;

	switch (p) {
	case OAUTH_PINTEREST:
		id = cfg->pinterest_app_id;
		secret = cfg->pinterest_app_secret;
		url = cfg->pinterest_api_base;
		break;
	case OAUTH_META:
		id = cfg->meta_app_id;
		secret = cfg->meta_app_secret;
		url = cfg->meta_graph_base;
		break;
	case OAUTH_GOOGLE:
		id = cfg->google_client_id;
		secret = cfg->google_client_secret;
		url = cfg->google_token_url;
		break;
	default:
		return rb_err_set(err, 404, "unknown_provider",
		    "Unknown OAuth provider; expected pinterest, meta or "
		    "google.");
	}
	if (!nonempty(id) || !nonempty(secret) || !nonempty(url))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "Linking %s accounts is not configured on this server; "
		    "the operator must set its app id and secret.", who(p));
	return 0;
}

static int
url_join(const char *base, const char *path, char *out, size_t outsz)
{
	size_t n = strlen(base);
	int w;

	while (n > 0 && base[n - 1] == '/')
		n--;
	w = snprintf(out, outsz, "%.*s%s", (int)n, base, path);
	return w < 0 || (size_t)w >= outsz ? -1 : 0;
}

int
oauth_exchange_code(struct http_client *http, const struct rb_config *cfg,
    enum oauth_provider p, const char *code, const char *code_verifier,
    struct oauth_tokens *t, struct rb_err *err)
{
	struct rb_buf form = { .max = 16384 }, up = { .max = 2048 };
	struct oauth_tokens shortlived;
	char redirect[1024], url[1024];
	bool ok;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	memset(&shortlived, 0, sizeof(shortlived));
	if (need_config(cfg, p, err) == -1 ||
	    oauth_redirect_uri(cfg, p, redirect, sizeof(redirect), err) == -1)
		return -1;
	if (code == NULL || !code_text(code))
		return rb_err_set(err, 400, "invalid_callback",
		    "The provider sent no usable authorization code.");
	switch (p) {
	case OAUTH_PINTEREST:
		if (url_join(cfg->pinterest_api_base, "/oauth/token", url,
		    sizeof(url)) == -1)
			goto toolong;
		ok = buf_param(&form, "grant_type", "authorization_code") == 0 &&
		    buf_param(&form, "code", code) == 0 &&
		    buf_param(&form, "redirect_uri", redirect) == 0 &&
		    buf_param(&form, "continuous_refresh", "true") == 0 &&
		    secret_pair(cfg->pinterest_app_id,
		    cfg->pinterest_app_secret, &up) == 0;
		if (!ok)
			goto oom;
		if (token_call(http, p, "POST", url, &form, up.data,
		    CALL_EXCHANGE, t, err) == -1)
			goto fail;
		break;
	case OAUTH_META:
		if (url_join(cfg->meta_graph_base, "/oauth/access_token", url,
		    sizeof(url)) == -1)
			goto toolong;
		ok = buf_param(&form, "client_id", cfg->meta_app_id) == 0 &&
		    buf_param(&form, "redirect_uri", redirect) == 0 &&
		    buf_param(&form, "client_secret", cfg->meta_app_secret) ==
		    0 && buf_param(&form, "code", code) == 0;
		if (!ok)
			goto oom;
		if (token_call(http, p, "GET", url, &form, NULL, CALL_EXCHANGE,
		    &shortlived, err) == -1)
			goto fail;
		buf_wipe(&form);
		form.max = 16384;
		ok = buf_param(&form, "grant_type", "fb_exchange_token") == 0 &&
		    buf_param(&form, "client_id", cfg->meta_app_id) == 0 &&
		    buf_param(&form, "client_secret", cfg->meta_app_secret) ==
		    0 && buf_param(&form, "fb_exchange_token",
		    shortlived.access_token) == 0;
		if (!ok)
			goto oom;
		if (token_call(http, p, "GET", url, &form, NULL, CALL_EXCHANGE,
		    t, err) == -1)
			goto fail;
		/* Meta does not say which permissions were granted here. */
		if (t->scopes[0] == '\0')
			rb_strlcpy(t->scopes, scopes[OAUTH_META],
			    sizeof(t->scopes));
		break;
	case OAUTH_GOOGLE:
	default:
		if (code_verifier == NULL || strlen(code_verifier) < 43 ||
		    strlen(code_verifier) > 128) {
			rb_err_set(err, 500, "internal_error",
			    "The PKCE verifier of this link request is "
			    "missing.");
			goto fail;
		}
		if (url_join(cfg->google_token_url, "", url, sizeof(url)) ==
		    -1)
			goto toolong;
		ok = buf_param(&form, "grant_type", "authorization_code") == 0 &&
		    buf_param(&form, "code", code) == 0 &&
		    buf_param(&form, "redirect_uri", redirect) == 0 &&
		    buf_param(&form, "client_id", cfg->google_client_id) == 0 &&
		    buf_param(&form, "client_secret",
		    cfg->google_client_secret) == 0 &&
		    buf_param(&form, "code_verifier", code_verifier) == 0;
		if (!ok)
			goto oom;
		if (token_call(http, p, "POST", url, &form, NULL,
		    CALL_EXCHANGE, t, err) == -1)
			goto fail;
		if (t->refresh_token == NULL) {
			rb_err_set(err, 502, "token_exchange_failed",
			    "Google sent no refresh token; remove ReBoss from "
			    "your Google account's third-party access and link "
			    "again.");
			goto fail;
		}
		break;
	}
	rc = 0;
	goto out;
toolong:
	rb_err_set(err, 500, "oauth_not_configured",
	    "The %s base URL in the configuration is too long.", who(p));
	goto fail;
oom:
	rb_err_oom(err);
fail:
	oauth_tokens_free(t);
out:
	oauth_tokens_free(&shortlived);
	buf_wipe(&form);
	buf_wipe(&up);
	return rc;
}

int
oauth_refresh(struct http_client *http, const struct rb_config *cfg,
    enum oauth_provider p, const char *refresh_token, struct oauth_tokens *t,
    struct rb_err *err)
{
	struct rb_buf form = { .max = 16384 }, up = { .max = 2048 };
	char url[1024];
	bool ok;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	if (p == OAUTH_META)
		return rb_err_set(err, 409, "refresh_unsupported",
		    "Meta tokens cannot be refreshed; link the Meta account "
		    "again before it expires.");
	if (need_config(cfg, p, err) == -1)
		return -1;
	if (refresh_token == NULL || !token_text(refresh_token))
		return rb_err_set(err, 409, "refresh_refused",
		    "No usable refresh token is stored; link the %s account "
		    "again.", who(p));
	if (p == OAUTH_PINTEREST) {
		if (url_join(cfg->pinterest_api_base, "/oauth/token", url,
		    sizeof(url)) == -1)
			goto toolong;
		ok = buf_param(&form, "grant_type", "refresh_token") == 0 &&
		    buf_param(&form, "refresh_token", refresh_token) == 0 &&
		    buf_param(&form, "continuous_refresh", "true") == 0 &&
		    secret_pair(cfg->pinterest_app_id,
		    cfg->pinterest_app_secret, &up) == 0;
	} else {
		if (url_join(cfg->google_token_url, "", url, sizeof(url)) == -1)
			goto toolong;
		ok = buf_param(&form, "grant_type", "refresh_token") == 0 &&
		    buf_param(&form, "refresh_token", refresh_token) == 0 &&
		    buf_param(&form, "client_id", cfg->google_client_id) == 0 &&
		    buf_param(&form, "client_secret",
		    cfg->google_client_secret) == 0;
	}
	if (!ok) {
		rb_err_oom(err);
		goto fail;
	}
	if (token_call(http, p, "POST", url, &form, up.data, CALL_REFRESH, t,
	    err) == -1)
		goto fail;
	rc = 0;
	goto fail;
toolong:
	rb_err_set(err, 500, "oauth_not_configured",
	    "The %s base URL in the configuration is too long.", who(p));
fail:
	buf_wipe(&form);
	buf_wipe(&up);
	return rc;
}

/* A revocation: bounded like every OAuth call, sent again once when the
 * answer is lost (revoking twice is harmless). */
static void
revoke_request(struct http_request *req, const char *method, const char *url,
    const char *const *hdrs, enum oauth_provider p)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->headers = hdrs;
	req->connect_timeout_ms = OAUTH_CONNECT_TIMEOUT_MS;
	req->timeout_ms = OAUTH_HTTP_TIMEOUT_MS;
	req->max_response = OAUTH_RESPONSE_MAX;
	req->max_attempts = 2;
	req->retry_unsafe = true;
	req->service = oauth_provider_name(p);
}

/* Meta: DELETE /{user-id}/permissions ("me": the token's user) with the
 * user's token removes the app's whole grant (Facebook Login, "Revoking
 * Login"); Meta answers {"success": true}.  A token Meta no longer takes
 * (OAuthException 190, expired) cannot revoke: *revoked stays false and
 * the owner may remove the app in Facebook's settings. */
static int
meta_revoke(struct http_client *http, const struct rb_config *cfg,
    const char *token, bool *revoked, struct rb_err *err)
{
	const char *hdrs[2];
	char url[2048], auth[OAUTH_TOKEN_MAX + 32];
	struct http_request req;
	struct http_response resp;
	struct rb_err herr;
	json_t *o = NULL;
	int rc = -1, w;

	memset(&resp, 0, sizeof(resp));
	if (!nonempty(cfg->meta_graph_base) || token == NULL ||
	    !token_text(token))
		return 0;
	if (url_join(cfg->meta_graph_base, "/me/permissions", url,
	    sizeof(url)) == -1)
		return rb_err_set(err, 500, "internal_error", "The Meta Graph "
		    "URL is too long.");
	w = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	if (w < 0 || (size_t)w >= sizeof(auth))
		return rb_err_set(err, 500, "internal_error", "The Meta token "
		    "is too long.");
	hdrs[0] = auth;
	hdrs[1] = NULL;
	rb_err_clear(&herr);
	revoke_request(&req, "DELETE", url, hdrs, OAUTH_META);
	if (http_request(http, &req, &resp, &herr) == -1) {
		rb_err_set(err, 502, "provider_unreachable", "Meta could not be "
		    "reached to revoke access (%s).", herr.code[0] ?
		    herr.code : "transport error");
		goto out;
	}
	o = resp.body != NULL ? json_loadb(resp.body, resp.len, 0, NULL) :
	    NULL;
	if (resp.status == 200 && (json_is_true(o) ||
	    json_is_true(json_object_get(o, "success")))) {
		*revoked = true;
		rc = 0;
		goto out;
	}
	rb_err_set(err, 502, "provider_refused", "Meta did not revoke the "
	    "grant (HTTP %ld, OAuthException %lld); the owner may remove the "
	    "app in Facebook's settings.", resp.status, (long long)
	    json_integer_value(json_object_get(json_object_get(o, "error"),
	    "code")));
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	json_decref(o);
	http_response_free(&resp);
	return rc;
}

int
oauth_revoke(struct http_client *http, const struct rb_config *cfg,
    enum oauth_provider p, const char *token, bool *revoked,
    struct rb_err *err)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		NULL
	};
	struct rb_buf form = { .max = 16384 };
	struct http_request req;
	struct http_response resp;
	struct rb_err herr;
	int rc = -1;

	*revoked = false;
	/* Pinterest v5 has no token revocation for apps: the tokens are
	 * deleted here and the user may remove the app in Pinterest's
	 * settings. */
	if (p == OAUTH_META)
		return meta_revoke(http, cfg, token, revoked, err);
	if (p != OAUTH_GOOGLE)
		return 0;
	if (!nonempty(cfg->google_revoke_url))
		return 0;
	if (token == NULL || !token_text(token))
		return 0;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rb_err_clear(&herr);
	if (buf_param(&form, "token", token) == -1) {
		rb_err_oom(err);
		goto fail;
	}
	revoke_request(&req, "POST", cfg->google_revoke_url, hdrs, p);
	req.body = form.data;
	req.body_len = form.len;
	if (http_request(http, &req, &resp, &herr) == -1) {
		rb_err_set(err, 502, "provider_unreachable",
		    "Google could not be reached to revoke access (%s).",
		    herr.code[0] ? herr.code : "transport error");
		goto fail;
	}
	if (resp.status == 200 || resp.status == 400) {
		/* 400 invalid_token: already expired or revoked. */
		*revoked = true;
		rc = 0;
		goto fail;
	}
	rb_err_set(err, 502, "provider_unreachable",
	    "Google answered the revocation with HTTP %ld.", resp.status);
fail:
	http_response_free(&resp);
	buf_wipe(&form);
	return rc;
}
