/*
 * shopify_app.c - the ReBoss app's install flow and webhook signatures.
 * Owner: the "install" module.  See shopify_app.h for the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "crypto.h"
#include "encode.h"
#include "http.h"
#include "log.h"
#include "shopify_app.h"
#include "util.h"

#define TOKEN_TIMEOUT_MS	15000	/* a person waits on the callback */
#define TOKEN_CONNECT_MS	5000
#define TOKEN_RESPONSE_MAX	(64 * 1024)
#define TOKEN_LEN_MAX		4096

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* ---- URLs ------------------------------------------------------------------ */

int
shopify_app_shop_url(const struct rb_config *cfg, const char *domain,
    const char *path, char *out, size_t outsz, struct rb_err *err)
{
	char check[SHOPIFY_DOMAIN_MAX];
	const char *base, *ph;
	int n;

	/* Only a normalized *.myshopify.com name may become part of a URL. */
	if (shopify_normalize_domain(domain, check, err) == -1)
		return -1;
	if (strcmp(check, domain) != 0)
		return rb_err_set(err, 500, "internal_error",
		    "A shop domain reached a URL without being normalized.");
	base = nonempty(cfg->shopify_base_url) ? cfg->shopify_base_url :
	    "https://{shop}";
	if ((ph = strstr(base, "{shop}")) == NULL)
		return rb_err_set(err, 500, "config_invalid",
		    "shopify_base_url must contain {shop}.");
	n = snprintf(out, outsz, "%.*s%s%s%s", (int)(ph - base), base, check,
	    ph + 6, path);
	if (n < 0 || (size_t)n >= outsz)
		return rb_err_set(err, 500, "config_invalid",
		    "shopify_base_url is too long.");
	return 0;
}

int
shopify_app_redirect_uri(const struct rb_config *cfg, char *out,
    size_t outsz, struct rb_err *err)
{
	size_t n;
	int w;

	if (!nonempty(cfg->api_url))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "api_url is not set in the configuration; the operator "
		    "must set it before shops can install the app.");
	n = strlen(cfg->api_url);
	while (n > 0 && cfg->api_url[n - 1] == '/')
		n--;
	w = snprintf(out, outsz, "%.*s/api/shopify/callback", (int)n,
	    cfg->api_url);
	if (w < 0 || (size_t)w >= outsz)
		return rb_err_set(err, 500, "oauth_not_configured",
		    "api_url is too long for a redirect URI.");
	return 0;
}

static int
buf_param(struct rb_buf *b, const char *first, const char *key,
    const char *value)
{
	char *enc = http_urlencode(value);
	int rc;

	if (enc == NULL)
		return -1;
	rc = rb_buf_printf(b, "%s%s=%s", first, key, enc);
	free(enc);
	return rc;
}

int
shopify_app_consent_url(const struct rb_config *cfg, const char *domain,
    const char *state, char **url, struct rb_err *err)
{
	struct rb_buf b = { .max = 8192 };
	char base[1024], redirect[1024];
	const char *scopes;

	*url = NULL;
	if (!nonempty(cfg->shopify_client_id) ||
	    !nonempty(cfg->shopify_client_secret))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "Installing the ReBoss app is not configured on this "
		    "server; the operator must set shopify_client_id and "
		    "shopify_client_secret.");
	if (shopify_app_redirect_uri(cfg, redirect, sizeof(redirect),
	    err) == -1 || shopify_app_shop_url(cfg, domain,
	    "/admin/oauth/authorize", base, sizeof(base), err) == -1)
		return -1;
	scopes = nonempty(cfg->shopify_scopes) ? cfg->shopify_scopes :
	    SHOPIFY_DEFAULT_SCOPES;
	if (rb_buf_puts(&b, base) == -1 ||
	    buf_param(&b, "?", "client_id", cfg->shopify_client_id) == -1 ||
	    buf_param(&b, "&", "scope", scopes) == -1 ||
	    buf_param(&b, "&", "redirect_uri", redirect) == -1 ||
	    buf_param(&b, "&", "state", state) == -1) {
		rb_buf_free(&b);
		return rb_err_set(err, 500, "out_of_memory",
		    "The consent URL could not be built; try again.");
	}
	*url = b.data;
	return 0;
}

/* ---- HMAC ------------------------------------------------------------------ */

static int
hmac_raw(const char *secret, const void *data, size_t len,
    unsigned char md[32])
{
	unsigned int mdlen = 0;
	static const unsigned char empty;

	if (secret == NULL || secret[0] == '\0')
		return -1;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    len > 0 ? data : &empty, len, md, &mdlen) == NULL || mdlen != 32)
		return -1;
	return 0;
}

int
shopify_app_hmac_hex(const char *secret, const void *data, size_t len,
    char out[65])
{
	unsigned char md[32];

	out[0] = '\0';
	if (hmac_raw(secret, data, len, md) == -1)
		return -1;
	rb_hex_encode(md, sizeof(md), out);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int
shopify_app_hmac_b64(const char *secret, const void *data, size_t len,
    char out[45])
{
	unsigned char md[32];
	char *b64 = NULL;
	int rc = -1;

	out[0] = '\0';
	if (hmac_raw(secret, data, len, md) == 0 &&
	    rb_b64_encode(md, sizeof(md), &b64) == 0 && strlen(b64) == 44) {
		memcpy(out, b64, 45);
		rc = 0;
	}
	free(b64);
	return rc;
}

/* ---- the callback query ---------------------------------------------------- */

struct qpair {
	char	key[64];
	char	value[SHOPIFY_APP_VALUE_MAX + 1];
};

/* Percent-decodes [s, s+n) ('+' is a space, as in a form) into out. */
static int
qdecode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = rb_hexval((unsigned char)s[i + 1]);
			lo = rb_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+')
			c = ' ';
		/* no NUL, no controls: nothing of that kind is signed by
		 * Shopify, and it could not be carried further as text */
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qpair *)a)->key,
	    ((const struct qpair *)b)->key);
}

/* Splits and decodes the query into pairs, sorted by key; no key twice. */
static int
parse_pairs(const char *query, struct qpair *pairs, size_t *npairs,
    struct rb_err *err)
{
	const char *p = query, *amp, *eq;
	size_t n = 0, i, qlen;

	*npairs = 0;
	if (query == NULL)
		query = p = "";
	qlen = strnlen(query, SHOPIFY_APP_QUERY_MAX + 1);
	if (qlen > SHOPIFY_APP_QUERY_MAX)
		return rb_err_set(err, 400, "invalid_callback",
		    "The callback's query is longer than %d bytes.",
		    SHOPIFY_APP_QUERY_MAX);
	while (*p != '\0') {
		size_t len;

		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			if (n == SHOPIFY_APP_PAIRS_MAX)
				return rb_err_set(err, 400,
				    "invalid_callback", "The callback's "
				    "query has more than %d parameters.",
				    SHOPIFY_APP_PAIRS_MAX);
			eq = memchr(p, '=', len);
			if (qdecode(p, eq != NULL ? (size_t)(eq - p) : len,
			    pairs[n].key, sizeof(pairs[n].key)) == -1 ||
			    pairs[n].key[0] == '\0' || qdecode(eq != NULL ?
			    eq + 1 : p + len, eq != NULL ? len -
			    (size_t)(eq - p) - 1 : 0, pairs[n].value,
			    sizeof(pairs[n].value)) == -1)
				return rb_err_set(err, 400,
				    "invalid_callback", "A parameter of the "
				    "callback's query is malformed or too "
				    "long.");
			n++;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	qsort(pairs, n, sizeof(pairs[0]), pair_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(pairs[i - 1].key, pairs[i].key) == 0)
			return rb_err_set(err, 400, "invalid_callback",
			    "The callback's query has the parameter %s twice.",
			    pairs[i].key);
	*npairs = n;
	return 0;
}

/* application/x-www-form-urlencoded as WHATWG URLSearchParams writes it,
 * with %20 for a space (what Shopify signs). */
static int
form_encode(struct rb_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '*' || c == '-' ||
		    c == '.' || c == '_') {
			if (rb_buf_append(b, s, 1) == -1)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 15];
		if (rb_buf_append(b, enc, 3) == -1)
			return -1;
	}
	return 0;
}

static const struct qpair *
pair_get(const struct qpair *pairs, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(pairs[i].key, key) == 0)
			return &pairs[i];
	return NULL;
}

/* The signed message of sorted pairs: every pair but hmac and signature. */
static int
pairs_message(const struct qpair *pairs, size_t n, struct rb_buf *msg)
{
	size_t i;
	bool first = true;

	msg->len = 0;
	if (msg->data != NULL)
		msg->data[0] = '\0';
	if (rb_buf_puts(msg, "") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(pairs[i].key, "hmac") == 0 ||
		    strcmp(pairs[i].key, "signature") == 0)
			continue;
		if ((!first && rb_buf_puts(msg, "&") == -1) ||
		    form_encode(msg, pairs[i].key) == -1 ||
		    rb_buf_puts(msg, "=") == -1 ||
		    form_encode(msg, pairs[i].value) == -1)
			return -1;
		first = false;
	}
	return 0;
}

int
shopify_app_query_message(const char *query, struct rb_buf *msg,
    char hmac[65], struct rb_err *err)
{
	struct qpair *pairs;
	const struct qpair *h;
	size_t n;
	int rc = -1;

	hmac[0] = '\0';
	if ((pairs = calloc(SHOPIFY_APP_PAIRS_MAX, sizeof(*pairs))) == NULL)
		return rb_err_oom(err);
	if (parse_pairs(query, pairs, &n, err) == -1)
		goto out;
	if (pairs_message(pairs, n, msg) == -1) {
		rb_err_oom(err);
		goto out;
	}
	if ((h = pair_get(pairs, n, "hmac")) != NULL &&
	    strlen(h->value) <= 64)
		rb_strlcpy(hmac, h->value, 65);
	rc = 0;
out:
	OPENSSL_cleanse(pairs, SHOPIFY_APP_PAIRS_MAX * sizeof(*pairs));
	free(pairs);
	return rc;
}

static bool
charset_ok(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

/* Reads the verified pairs into cb. */
static int
callback_fields(const struct qpair *pairs, size_t n,
    struct shopify_callback *cb, struct rb_err *err)
{
	const struct qpair *code = pair_get(pairs, n, "code");
	const struct qpair *shop = pair_get(pairs, n, "shop");
	const struct qpair *state = pair_get(pairs, n, "state");
	const struct qpair *ts = pair_get(pairs, n, "timestamp");
	long v;

	if (shop == NULL)
		return rb_err_set(err, 400, "invalid_callback",
		    "The callback has no shop parameter.");
	if (shopify_normalize_domain(shop->value, cb->shop, err) == -1 ||
	    strcmp(cb->shop, shop->value) != 0)
		return rb_err_set(err, 400, "invalid_shop_domain",
		    "The callback's shop is not a NAME.myshopify.com domain.");
	if (code == NULL || !charset_ok(code->value, 1, SHOPIFY_APP_CODE_MAX,
	    "-_"))
		return rb_err_set(err, 400, "invalid_callback",
		    "The callback has no usable code parameter.");
	if (state == NULL || !charset_ok(state->value, 1,
	    SHOPIFY_APP_STATE_MAX, "-_"))
		return rb_err_set(err, 400, "invalid_callback",
		    "The callback has no usable state parameter.");
	if (ts == NULL || !charset_ok(ts->value, 1, 12, "") ||
	    strspn(ts->value, "0123456789") != strlen(ts->value) ||
	    rb_parse_long(ts->value, 0, 999999999999L, &v) == -1)
		return rb_err_set(err, 400, "invalid_callback",
		    "The callback has no usable timestamp parameter.");
	rb_strlcpy(cb->code, code->value, sizeof(cb->code));
	rb_strlcpy(cb->state, state->value, sizeof(cb->state));
	cb->timestamp = v;
	return 0;
}

int
shopify_app_verify_callback(const char *query, const char *secret,
    struct shopify_callback *cb, struct rb_err *err)
{
	struct rb_buf msg = { .max = 2 * SHOPIFY_APP_QUERY_MAX + 64 };
	struct qpair *pairs;
	const struct qpair *h;
	char want[65], got[65];
	size_t n, i;
	int rc = -1;

	memset(cb, 0, sizeof(*cb));
	want[0] = got[0] = '\0';
	if (!nonempty(secret))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "shopify_client_secret is not set; the operator must set "
		    "it.");
	if ((pairs = calloc(SHOPIFY_APP_PAIRS_MAX, sizeof(*pairs))) == NULL)
		return rb_err_oom(err);
	if (parse_pairs(query, pairs, &n, err) == -1)
		goto out;
	h = pair_get(pairs, n, "hmac");
	if (h == NULL || strlen(h->value) != 64 ||
	    !charset_ok(h->value, 64, 64, "")) {
		rb_err_set(err, 400, "invalid_hmac",
		    "The callback carries no valid hmac: it did not come "
		    "from Shopify.");
		goto out;
	}
	for (i = 0; i < 64; i++) {
		int c = (unsigned char)h->value[i];

		if (rb_hexval(c) < 0) {
			rb_err_set(err, 400, "invalid_hmac",
			    "The callback carries no valid hmac: it did not "
			    "come from Shopify.");
			goto out;
		}
		got[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	got[64] = '\0';
	if (pairs_message(pairs, n, &msg) == -1 ||
	    shopify_app_hmac_hex(secret, msg.data, msg.len, want) == -1) {
		rb_err_set(err, 500, "internal_error",
		    "The callback's signature could not be computed.");
		goto out;
	}
	if (!crypto_equal(want, got, 64)) {
		rb_err_set(err, 400, "invalid_hmac",
		    "The callback's hmac does not match: it did not come from "
		    "Shopify, or it was changed on the way.");
		goto out;
	}
	if (callback_fields(pairs, n, cb, err) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		OPENSSL_cleanse(cb, sizeof(*cb));
	OPENSSL_cleanse(pairs, SHOPIFY_APP_PAIRS_MAX * sizeof(*pairs));
	free(pairs);
	if (msg.data != NULL)
		OPENSSL_cleanse(msg.data, msg.len);
	rb_buf_free(&msg);
	return rc;
}

int
shopify_app_check_timestamp(long long ts, long long now, struct rb_err *err)
{
	if (ts < now - SHOPIFY_APP_TS_PAST_S)
		return rb_err_set(err, 400, "stale_callback",
		    "The callback is older than %d seconds; install the app "
		    "again.", SHOPIFY_APP_TS_PAST_S);
	if (ts > now + SHOPIFY_APP_TS_FUTURE_S)
		return rb_err_set(err, 400, "stale_callback",
		    "The callback's timestamp is in the future; check the "
		    "server's clock.");
	return 0;
}

/* ---- webhooks -------------------------------------------------------------- */

int
shopify_app_verify_webhook(const void *body, size_t len,
    const char *hmac_b64, const char *secret, struct rb_err *err)
{
	unsigned char want[32], *got = NULL;
	size_t glen = 0, hlen;
	int rc = -1;

	if (!nonempty(secret))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "shopify_client_secret is not set; the operator must set "
		    "it before webhooks can be verified.");
	hlen = hmac_b64 != NULL ? strnlen(hmac_b64, 64) : 0;
	/* 32 bytes are 44 base64 characters with one '=' */
	if (hlen != 44 || rb_b64_decode(hmac_b64, hlen, &got, &glen) == -1 ||
	    glen != 32) {
		rb_err_set(err, 401, "invalid_hmac",
		    "X-Shopify-Hmac-Sha256 is missing or malformed.");
		goto out;
	}
	if (hmac_raw(secret, body, len, want) == -1) {
		rb_err_set(err, 500, "internal_error",
		    "The webhook's signature could not be computed.");
		goto out;
	}
	if (!crypto_equal(want, got, 32)) {
		rb_err_set(err, 401, "invalid_hmac",
		    "X-Shopify-Hmac-Sha256 does not match the body.");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(want, sizeof(want));
	free(got);
	return rc;
}

/* ---- the token endpoint ---------------------------------------------------- */

void
shopify_app_tokens_free(struct shopify_app_tokens *t)
{
	if (t == NULL)
		return;
	crypto_free_secret(t->access_token);
	crypto_free_secret(t->refresh_token);
	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
}

static bool
token_text(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > TOKEN_LEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static long long
int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (long long)json_integer_value(v);
	return -1;
}

/* Shopify's error word ("invalid_request"), when it is a plain one. */
static void
error_word(json_t *root, char *out, size_t outsz)
{
	const char *w = json_string_value(json_object_get(root, "error"));

	rb_strlcpy(out, "no error code", outsz);
	if (w != NULL && charset_ok(w, 1, 64, "_"))
		rb_strlcpy(out, w, outsz);
}

int
shopify_app_parse_token_response(long status, const char *body, size_t len,
    struct shopify_app_tokens *t, struct rb_err *err)
{
	json_t *root = NULL;
	const char *at, *rt, *scope;
	char word[72];
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	if (status >= 500 || status == 429)
		return rb_err_set(err, 502, "provider_unreachable",
		    "Shopify's token endpoint answered %ld; try again later.",
		    status);
	if (body != NULL && len > 0)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (status != 200) {
		error_word(root, word, sizeof(word));
		rb_err_set(err, 502, "token_exchange_failed",
		    "Shopify refused the grant (%ld, %s).", status, word);
		t->status = status;
		rb_strlcpy(t->error, word, sizeof(t->error));
		goto out;
	}
	at = json_string_value(json_object_get(root, "access_token"));
	rt = json_string_value(json_object_get(root, "refresh_token"));
	scope = json_string_value(json_object_get(root, "scope"));
	if (!json_is_object(root) || at == NULL || !token_text(at) ||
	    (json_object_get(root, "refresh_token") != NULL &&
	    (rt == NULL || !token_text(rt))) || (scope != NULL &&
	    strlen(scope) >= sizeof(t->scope))) {
		rb_err_set(err, 502, "token_exchange_failed",
		    "Shopify's token endpoint answered without a usable "
		    "access token.");
		goto out;
	}
	if ((t->access_token = strdup(at)) == NULL ||
	    (rt != NULL && (t->refresh_token = strdup(rt)) == NULL)) {
		rb_err_oom(err);
		goto out;
	}
	rb_strlcpy(t->scope, scope != NULL ? scope : "", sizeof(t->scope));
	t->expires_in = int_field(root, "expires_in");
	t->refresh_expires_in = int_field(root, "refresh_token_expires_in");
	rc = 0;
out:
	if (rc == -1) {
		/* the refusal's status and word outlive the wipe */
		long st = t->status;

		rb_strlcpy(word, t->error, sizeof(word));
		shopify_app_tokens_free(t);
		t->status = st;
		rb_strlcpy(t->error, word, sizeof(t->error));
	}
	json_decref(root);
	return rc;
}

/* POSTs one grant (o, consumed) to {shop}/admin/oauth/access_token, once:
 * a code is single use, and a refresh token that Shopify rotated must not
 * be sent twice by us (the caller decides whether to try again). */
static int
token_post(struct http_client *http, const struct rb_config *cfg,
    const char *domain, json_t *o, struct shopify_app_tokens *t,
    struct rb_err *err)
{
	static const char *const hdrs[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL
	};
	struct http_request req;
	struct http_response resp;
	struct rb_err herr;
	char url[1024], *body = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rb_err_clear(&herr);
	if (shopify_app_shop_url(cfg, domain, "/admin/oauth/access_token", url,
	    sizeof(url), err) == -1)
		goto out;
	if (o == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = strlen(body);
	req.connect_timeout_ms = TOKEN_CONNECT_MS;
	req.timeout_ms = TOKEN_TIMEOUT_MS;
	req.max_response = TOKEN_RESPONSE_MAX;
	req.max_attempts = 1;
	req.retry_unsafe = false;
	req.service = "shopify";
	if (http_request(http, &req, &resp, &herr) == -1) {
		rb_err_set(err, 502, "provider_unreachable",
		    "Shopify could not be reached (%s); try again in a moment.",
		    herr.code[0] ? herr.code : "transport error");
		goto out;
	}
	rc = shopify_app_parse_token_response(resp.status, resp.body,
	    resp.len, t, err);
out:
	json_decref(o);
	crypto_free_secret(body);	/* it held the client secret */
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.len);
	http_response_free(&resp);
	return rc;
}

/* t emptied; the ReBoss app's credentials present (503 otherwise). */
static int
app_grant_ready(const struct rb_config *cfg, struct shopify_app_tokens *t,
    struct rb_err *err)
{
	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	if (!nonempty(cfg->shopify_client_id) ||
	    !nonempty(cfg->shopify_client_secret))
		return rb_err_set(err, 503, "oauth_not_configured",
		    "shopify_client_id and shopify_client_secret are not set.");
	return 0;
}

int
shopify_app_exchange_code(struct http_client *http,
    const struct rb_config *cfg, const char *domain, const char *code,
    struct shopify_app_tokens *t, struct rb_err *err)
{
	if (app_grant_ready(cfg, t, err) == -1)
		return -1;
	return token_post(http, cfg, domain, json_pack("{s:s,s:s,s:s,s:s}",
	    "client_id", cfg->shopify_client_id, "client_secret",
	    cfg->shopify_client_secret, "code", code, "expiring", "1"), t,
	    err);
}

int
shopify_app_refresh(struct http_client *http, const struct rb_config *cfg,
    const char *domain, const char *refresh_token,
    struct shopify_app_tokens *t, struct rb_err *err)
{
	if (app_grant_ready(cfg, t, err) == -1)
		return -1;
	return token_post(http, cfg, domain, json_pack("{s:s,s:s,s:s,s:s}",
	    "client_id", cfg->shopify_client_id, "client_secret",
	    cfg->shopify_client_secret, "grant_type", "refresh_token",
	    "refresh_token", refresh_token), t, err);
}

int
shopify_app_client_credentials(struct http_client *http,
    const struct rb_config *cfg, const char *domain, const char *client_id,
    const char *client_secret, struct shopify_app_tokens *t,
    struct rb_err *err)
{
	memset(t, 0, sizeof(*t));
	t->expires_in = t->refresh_expires_in = -1;
	if (!nonempty(client_id) || !nonempty(client_secret))
		return rb_err_set(err, 400, "missing_field",
		    "client_id and client_secret are required.");
	return token_post(http, cfg, domain, json_pack("{s:s,s:s,s:s}",
	    "client_id", client_id, "client_secret", client_secret,
	    "grant_type", "client_credentials"), t, err);
}

