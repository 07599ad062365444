/*
 * http.c - upstream HTTP(S) through one reused libcurl easy handle per
 * client (see http.h for the contract).
 *
 * Each attempt resets the handle (curl_easy_reset keeps the connection
 * cache, so keep-alive survives) and sets every option again, so that no
 * option of a previous request leaks into the next one.  URLs are logged
 * without their query string and headers are never logged: query strings
 * and headers carry tokens.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define HTTP_DEF_CONNECT_MS	10000L
#define HTTP_DEF_TIMEOUT_MS	60000L
#define HTTP_DEF_MAX_RESPONSE	(8u * 1024u * 1024u)
#define HTTP_DEF_ATTEMPTS	4
#define HTTP_DEF_RETRY_WAIT_MS	60000L
#define HTTP_BACKOFF_BASE_MS	500L
#define HTTP_MAX_ATTEMPTS	20	/* whatever the caller asks */

struct http_client {
	CURL			*curl;
	char			*ca_file;	/* NULL: system store */
	volatile const sig_atomic_t *stop;
};

/* What the callbacks of one attempt write into. */
struct http_xfer {
	struct http_response	*resp;
	struct rb_buf		 body;
	size_t			 max;
	bool			 too_large;
	/* streaming (http_request.sink) */
	CURL			*curl;
	int			(*sink)(void *, const char *, size_t);
	void			*sink_arg;
	bool			 sunk, sink_stopped;
};

static bool curl_ready;

/*
 * The trusted CAs, loaded once per process and shared by every TLS
 * connection of every client (CURLOPT_SSL_CTX_FUNCTION puts the store into
 * each connection's SSL_CTX; curl itself is then given no CA file).
 * Loading the system bundle costs ~17 ms of CPU, and a job's worker is a
 * new process per shop: the job's parent loads it before forking
 * (http_ca_preload) and every worker inherits it.  ca_store_file is the
 * ca_file it was loaded from (NULL: curl's default bundle and directory).
 * Owner: this file; one thread per process.
 */
static X509_STORE *ca_store;
static char *ca_store_file;
static bool ca_store_ready;

int
http_global_init(void)
{
	/* Processes are single-threaded when they build their client. */
	if (curl_ready)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	curl_ready = true;
	return 0;
}

static bool
ca_store_for(const char *ca_file)
{
	if (!ca_store_ready)
		return false;
	if (ca_file == NULL || ca_store_file == NULL)
		return ca_file == ca_store_file;
	return strcmp(ca_file, ca_store_file) == 0;
}

/*
 * What curl itself would trust: ca_file, or else its built-in bundle, plus
 * its built-in directory (Debian: /etc/ssl/certs) either way, so ca_file
 * adds to the system's CAs as it did when curl was given it as CAINFO.
 */
static int
ca_load(X509_STORE *st, const char *ca_file)
{
	CURL *c;
	char *bundle = NULL, *dir = NULL;
	const char *file;
	int rc = -1;

	if ((c = curl_easy_init()) == NULL)
		return -1;
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &bundle) != CURLE_OK ||
	    curl_easy_getinfo(c, CURLINFO_CAPATH, &dir) != CURLE_OK)
		goto out;
	file = ca_file != NULL ? ca_file : bundle;
	if (file == NULL && dir == NULL)
		goto out;
	if (file != NULL && X509_STORE_load_file(st, file) != 1)
		goto out;
	if (dir != NULL && X509_STORE_load_path(st, dir) != 1)
		goto out;
	rc = 0;
out:
	curl_easy_cleanup(c);
	return rc;
}

int
http_ca_preload(const char *ca_file)
{
	X509_STORE *st;
	char *copy = NULL;
	SSL_CTX *warm;

	if (ca_file != NULL && ca_file[0] == '\0')
		ca_file = NULL;
	if (ca_store_for(ca_file))
		return 0;
	if (http_global_init() == -1 || (st = X509_STORE_new()) == NULL)
		return -1;
	if ((ca_file != NULL && (copy = strdup(ca_file)) == NULL) ||
	    ca_load(st, ca_file) == -1) {
		X509_STORE_free(st);
		free(copy);
		return -1;
	}
	/* As curl sets up its own store: an intermediate CA in the file
	 * is trusted as an anchor too. */
	(void)X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_free(ca_store);
	free(ca_store_file);
	ca_store = st;
	ca_store_file = copy;
	ca_store_ready = true;
	/* OpenSSL fetches and caches its algorithms on the first SSL_CTX:
	 * done here, before any fork, too. */
	if ((warm = SSL_CTX_new(TLS_client_method())) != NULL)
		SSL_CTX_free(warm);
	return 0;
}

/* CURLOPT_SSL_CTX_FUNCTION: the shared store instead of a fresh load. */
static CURLcode
http_ssl_ctx_cb(CURL *curl, void *sslctx, void *arg)
{
	(void)curl;
	SSL_CTX_set1_cert_store(sslctx, arg);
	return CURLE_OK;
}

struct http_client *
http_client_new(const struct rb_config *cfg)
{
	struct http_client *hc;

	if (http_global_init() == -1)
		return NULL;
	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	if ((hc->curl = curl_easy_init()) == NULL)
		goto fail;
	if (cfg != NULL && cfg->ca_file != NULL && cfg->ca_file[0] != '\0' &&
	    (hc->ca_file = strdup(cfg->ca_file)) == NULL)
		goto fail;
	/* Without a shared store (it could not be loaded) curl loads the
	 * CAs itself on every connection, as it would anyway. */
	if (http_ca_preload(hc->ca_file) == -1)
		log_warn("the trusted CAs (%s) could not be loaded once for "
		    "all connections; each connection loads them", hc->ca_file
		    != NULL ? hc->ca_file : "the system's");
	return hc;
fail:
	http_client_free(hc);
	return NULL;
}

void
http_client_free(struct http_client *hc)
{
	if (hc == NULL)
		return;
	if (hc->curl != NULL)
		curl_easy_cleanup(hc->curl);
	free(hc->ca_file);
	free(hc);
}

void
http_client_set_stop(struct http_client *hc,
    volatile const sig_atomic_t *stop)
{
	if (hc != NULL)
		hc->stop = stop;
}

void
http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
}

const char *
http_header(const struct http_response *resp, const char *name)
{
	int i;

	if (resp == NULL || name == NULL)
		return NULL;
	for (i = 0; i < resp->nhdr && i < HTTP_MAX_HEADERS; i++)
		if (strcasecmp(resp->hdr[i].name, name) == 0)
			return resp->hdr[i].value;
	return NULL;
}

/* Shopify marks an answer to a call that uses a deprecated API version,
 * field or argument with X-Shopify-API-Deprecated-Reason (a link to the
 * reason).  The project keeps deprecated use at none, so one is news:
 * counted per service (metrics, rebossctl check warns) and logged once
 * per process with the reason. */
static void
note_deprecation(const struct http_request *req,
    const struct http_response *resp)
{
	static bool said;
	const char *why = http_header(resp, "x-shopify-api-deprecated-reason");

	if (why == NULL)
		return;
	metrics_upstream_deprecated(req->service);
	if (!said) {
		said = true;
		log_warn("%s answered that this call uses something deprecated "
		    "(X-Shopify-API-Deprecated-Reason: %.200s)",
		    req->service != NULL ? req->service : "upstream", why);
	}
}

/* ---- pure helpers ------------------------------------------------------ */

/* delta-seconds as RFC 9110 has it (digits), or with a decimal part as
 * Shopify sends it ("2.0", "1.5"): milliseconds, the fraction rounded up
 * (never earlier than asked); -1 when not a number or over 31 days. */
static long
retry_after_seconds(const char *buf)
{
	const char *p, *dot = strchr(buf, '.');
	char whole[16];
	size_t n = dot != NULL ? (size_t)(dot - buf) : strlen(buf);
	long secs, ms = 0, scale = 100;

	if (n == 0 || n >= sizeof(whole) || (dot != NULL && dot[1] == '\0'))
		return -1;
	for (p = buf; p < buf + n; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	memcpy(whole, buf, n);
	whole[n] = '\0';
	if (rb_parse_long(whole, 0, 31L * 24 * 3600, &secs) == -1)
		return -1;
	if (dot != NULL) {
		bool rest = false;

		for (p = dot + 1; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			if (scale > 0) {
				ms += (*p - '0') * scale;
				scale /= 10;
			} else if (*p != '0')
				rest = true;	/* below a millisecond */
		}
		if (rest)
			ms++;
	}
	if (secs * 1000 + ms > 31L * 24 * 3600 * 1000)
		return -1;
	return secs * 1000 + ms;
}

long
http_parse_retry_after(const char *value, long now_s)
{
	char buf[128];
	size_t n;
	time_t t;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' ||
	    value[n - 1] == '\r' || value[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, value, n);
	buf[n] = '\0';

	if (!isalpha((unsigned char)buf[0]))
		return retry_after_seconds(buf);
	/* HTTP-date (IMF-fixdate, RFC 850 or asctime) */
	if ((t = curl_getdate(buf, NULL)) == -1)
		return -1;
	if ((long)t <= now_s)
		return 0;
	if ((long)t - now_s > 31L * 24 * 3600)
		return 31L * 24 * 3600 * 1000;
	return ((long)t - now_s) * 1000;
}

long
http_backoff_ms(int attempt, long retry_after_ms, long cap_ms)
{
	long base = HTTP_BACKOFF_BASE_MS;
	int i;

	if (cap_ms <= 0)
		cap_ms = HTTP_DEF_RETRY_WAIT_MS;
	if (retry_after_ms >= 0)
		return retry_after_ms < cap_ms ? retry_after_ms : cap_ms;
	if (attempt < 1)
		attempt = 1;
	/* base * 2^(attempt-1), stopping at the cap (no overflow) */
	for (i = 1; i < attempt && base < cap_ms; i++)
		base *= 2;
	if (base > cap_ms)
		base = cap_ms;
	if (base > (long)UINT32_MAX - 1)
		base = (long)UINT32_MAX - 1;
	/* full jitter: uniform in [0, base] */
	return (long)arc4random_uniform((uint32_t)base + 1);
}

char *
http_urlencode(const char *s)
{
	CURL *c;
	char *esc, *out;

	if (s == NULL || http_global_init() == -1)
		return NULL;
	/* curl_easy_escape() does not use its handle since 7.82. */
	if ((c = curl_easy_init()) == NULL)
		return NULL;
	esc = curl_easy_escape(c, s, 0);
	curl_easy_cleanup(c);
	if (esc == NULL)
		return NULL;
	out = strdup(esc);
	curl_free(esc);
	return out;
}

/* ---- callbacks -------------------------------------------------------- */

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_xfer *x = userdata;
	size_t n;

	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (x->sink != NULL) {
		long status = 0;

		(void)curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE,
		    &status);
		if (status >= 200 && status < 300) {
			x->sunk = true;
			if (n > 0 && x->sink(x->sink_arg, ptr, n) == -1) {
				x->sink_stopped = true;
				return 0;	/* CURLE_WRITE_ERROR */
			}
			return n;
		}
	}
	if (n > x->max || x->body.len > x->max - n) {
		x->too_large = true;
		return 0;	/* CURLE_WRITE_ERROR */
	}
	if (rb_buf_append(&x->body, ptr, n) == -1)
		return 0;
	return n;
}

static bool
http_keep_header(const char *name)
{
	static const char *const exact[] = {
		"retry-after", "content-type", "location", "link",
		"x-request-id",
	};
	size_t i;

	for (i = 0; i < RB_NELEM(exact); i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	return strncmp(name, "x-ratelimit-", 12) == 0 ||
	    strncmp(name, "x-shopify-", 10) == 0;
}

size_t
http_header_line(struct http_response *r, const char *ptr, size_t n)
{
	size_t i, nlen, vlen;
	const char *colon, *v, *end;
	char name[sizeof(r->hdr[0].name)];

	/* A new status line starts a new response (1xx, redirects). */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		r->nhdr = 0;
		return n;
	}
	if ((colon = memchr(ptr, ':', n)) == NULL)
		return n;
	nlen = (size_t)(colon - ptr);
	if (nlen == 0 || nlen >= sizeof(r->hdr[0].name) ||
	    r->nhdr < 0 || r->nhdr >= HTTP_MAX_HEADERS)
		return n;
	for (i = 0; i < nlen; i++)
		name[i] = (char)tolower((unsigned char)ptr[i]);
	name[nlen] = '\0';
	if (!http_keep_header(name))
		return n;
	v = colon + 1;
	end = ptr + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	if (vlen >= sizeof(r->hdr[0].value))
		vlen = sizeof(r->hdr[0].value) - 1;	/* capped */
	memcpy(r->hdr[r->nhdr].name, name, nlen + 1);
	memcpy(r->hdr[r->nhdr].value, v, vlen);
	r->hdr[r->nhdr].value[vlen] = '\0';
	r->nhdr++;
	return n;
}

static size_t
http_header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct http_xfer *x = userdata;

	if (nitems != 0 && size > SIZE_MAX / nitems)
		return 0;
	return http_header_line(x->resp, ptr, size * nitems);
}

/* ---- request ---------------------------------------------------------- */

/* Where the host part of url starts: past "scheme://" when that comes
 * before any '/', '?' or '#' (a "://" in the query is no scheme); past
 * the last '@' of the authority (a password may hold an '@'). */
static const char *
http_url_host(const char *url, const char **scheme_end)
{
	const char *p = strstr(url, "://"), *host, *end, *at;

	host = p != NULL && (size_t)(p - url) < strcspn(url, "/?#") ?
	    p + 3 : url;
	*scheme_end = host;
	end = host + strcspn(host, "/?#");
	if ((at = memrchr(host, '@', (size_t)(end - host))) != NULL)
		host = at + 1;
	return host;
}

void
http_safe_url(const char *url, char *out, size_t outsz)
{
	const char *host, *scheme_end, *end;
	size_t n;

	out[0] = '\0';
	if (url == NULL)
		return;
	host = http_url_host(url, &scheme_end);
	n = (size_t)(scheme_end - url);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, url, n);
	out[n] = '\0';
	end = host + strcspn(host, "?#");
	if ((size_t)(end - host) >= outsz - n)
		end = host + (outsz - n - 1);
	memcpy(out + n, host, (size_t)(end - host));
	out[n + (size_t)(end - host)] = '\0';
}

void
http_host(const char *url, char *out, size_t outsz)
{
	const char *host, *scheme_end;
	size_t n;

	host = http_url_host(url, &scheme_end);
	n = strcspn(host, "/?#");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, host, n);
	out[n] = '\0';
}

static bool
http_method_safe(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	    strcmp(m, "DELETE") == 0;
}

enum http_fail { HF_NONE, HF_TIMEOUT, HF_UNREACHABLE, HF_CONNECT,
	HF_TOO_LARGE, HF_TRUNCATED, HF_TLS, HF_FATAL };

static enum http_fail
http_classify(CURLcode rc, bool too_large)
{
	if (too_large)
		return HF_TOO_LARGE;
	switch (rc) {
	case CURLE_OK:
		return HF_NONE;
	case CURLE_OPERATION_TIMEDOUT:
		return HF_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HF_CONNECT;	/* nothing was sent: always retryable */
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return HF_TRUNCATED;	/* answer cut short: retryable */
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return HF_UNREACHABLE;	/* reset or cut: retryable */
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return HF_TLS;		/* will not get better by itself */
	default:
		return HF_FATAL;	/* bad URL, TLS set-up, ... */
	}
}

static int
http_setup(struct http_client *hc, const struct http_request *req,
    struct curl_slist *hdrs, struct http_xfer *x, long connect_ms,
    long timeout_ms)
{
	CURL *c = hc->curl;
	const char *m = req->method;

	curl_easy_reset(c);
#define SET(opt, val) do {						\
	if (curl_easy_setopt(c, opt, val) != CURLE_OK)			\
		return -1;						\
} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_NOPROGRESS, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	/* A libcurl without OpenSSL refuses the callback: then it loads
	 * the CAs itself. */
	if (ca_store_for(hc->ca_file) && curl_easy_setopt(c,
	    CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx_cb) == CURLE_OK) {
		SET(CURLOPT_SSL_CTX_DATA, (void *)ca_store);
		SET(CURLOPT_CAINFO, (char *)NULL);
		SET(CURLOPT_CAPATH, (char *)NULL);
	} else if (hc->ca_file != NULL)
		SET(CURLOPT_CAINFO, hc->ca_file);
	SET(CURLOPT_ACCEPT_ENCODING, "");	/* what curl can decode */
	SET(CURLOPT_USERAGENT, "ReBoss/1");
	SET(CURLOPT_WRITEFUNCTION, http_write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, http_header_cb);
	SET(CURLOPT_HEADERDATA, x);
	if (hdrs != NULL)
		SET(CURLOPT_HTTPHEADER, hdrs);
	if (req->userpwd != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERPWD, req->userpwd);
	}
	if (strcmp(m, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(m, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, m);
		if (req->body != NULL || strcmp(m, "POST") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(req->body != NULL ? req->body_len : 0));
			SET(CURLOPT_POSTFIELDS,
			    req->body != NULL ? req->body : "");
		}
	}
#undef SET
	return 0;
}

/* One request's limits (the request's or the defaults) and how it is
 * named in logs and errors: never a query, userinfo or secret path. */
struct http_plan {
	char	safe_url[256];
	char	host[128];
	long	connect_ms, timeout_ms, cap_ms;
	int	max_attempts;
	bool	safe;		/* may be sent again after a failure */
};

static void
http_plan_init(const struct http_request *req, struct http_plan *p)
{
	http_safe_url(req->url, p->safe_url, sizeof(p->safe_url));
	if (req->secret_path) {
		char *h = strstr(p->safe_url, "://");

		h = h != NULL ? h + 3 : p->safe_url;
		h[strcspn(h, "/")] = '\0';
	}
	http_host(req->url, p->host, sizeof(p->host));
	p->connect_ms = req->connect_timeout_ms > 0 ?
	    req->connect_timeout_ms : HTTP_DEF_CONNECT_MS;
	p->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms :
	    HTTP_DEF_TIMEOUT_MS;
	p->max_attempts = req->max_attempts > 0 ? req->max_attempts :
	    HTTP_DEF_ATTEMPTS;
	if (p->max_attempts > HTTP_MAX_ATTEMPTS)
		p->max_attempts = HTTP_MAX_ATTEMPTS;
	p->cap_ms = req->max_retry_wait_ms > 0 ? req->max_retry_wait_ms :
	    HTTP_DEF_RETRY_WAIT_MS;
	p->safe = http_method_safe(req->method) || req->retry_unsafe;
}

/* Whether an attempt that ended as hf (status when it got an answer)
 * may be tried again: connection failures always (nothing was sent);
 * 429, 5xx, timeouts and cut answers only when the request is safe. */
static bool
http_may_retry(enum http_fail hf, long status, bool safe)
{
	switch (hf) {
	case HF_NONE:
		return (status == 429 || status >= 500) && safe;
	case HF_CONNECT:
		return true;
	case HF_TIMEOUT:
	case HF_UNREACHABLE:
	case HF_TRUNCATED:
		return safe;
	default:
		return false;
	}
}

/* Waits before the next attempt (Retry-After when the answer had one,
 * else backoff); -1 when the program is stopping. */
static int
http_retry_wait(struct http_client *hc, const struct http_request *req,
    const struct http_plan *p, const struct http_response *resp,
    enum http_fail hf, CURLcode rc, int attempt, struct rb_err *err)
{
	long status = resp->status, wait_ms;

	wait_ms = http_backoff_ms(attempt,
	    hf == HF_NONE ? resp->retry_after_ms : -1, p->cap_ms);
	if (hf == HF_NONE && status == 429)
		metrics_upstream_wait(req->service, wait_ms);
	if (hf == HF_NONE)
		log_warn("HTTP %s %s: status %ld, attempt %d of %d, retrying "
		    "in %ld ms", req->method, p->safe_url, status, attempt,
		    p->max_attempts, wait_ms);
	else
		log_warn("HTTP %s %s: %s, attempt %d of %d, retrying in %ld "
		    "ms", req->method, p->safe_url, curl_easy_strerror(rc),
		    attempt, p->max_attempts, wait_ms);
	if (rb_sleep_ms(wait_ms, hc->stop) == -1)
		return rb_err_set(err, 503, "cancelled", "The request to %s "
		    "was cancelled because the program is stopping.",
		    p->host);
	return 0;
}

/* The error of a request whose last attempt ended as hf. */
static int
http_fail_err(enum http_fail hf, CURLcode rc, const struct http_plan *p,
    size_t max, int attempts, struct rb_err *err)
{
	switch (hf) {
	case HF_TOO_LARGE:
		return rb_err_set(err, 502, "upstream_too_large",
		    "The answer of %s was larger than %zu bytes and was "
		    "refused.", p->host, max);
	case HF_TRUNCATED:
		return rb_err_set(err, 502, "upstream_truncated",
		    "The answer of %s was cut off before its end after %d "
		    "attempt(s).", p->host, attempts);
	case HF_TLS:
		return rb_err_set(err, 502, "upstream_tls",
		    "The TLS certificate of %s was not accepted: %s.", p->host,
		    curl_easy_strerror(rc));
	case HF_TIMEOUT:
		return rb_err_set(err, 504, "upstream_timeout",
		    "%s did not answer in time (%ld ms) after %d attempt(s).",
		    p->host, p->timeout_ms, attempts);
	default:
		return rb_err_set(err, 502, "upstream_unreachable",
		    "%s could not be reached after %d attempt(s): %s.",
		    p->host, attempts, curl_easy_strerror(rc));
	}
}

/* Sends the request until it gets an answer that needs no retry, may
 * not be sent again, or has used its attempts; *hf and *rc tell how the
 * last attempt ended.  -1: cancelled, or the sink stopped the answer. */
static int
http_attempts(struct http_client *hc, const struct http_request *req,
    const struct http_plan *p, struct curl_slist *hdrs, struct http_xfer *x,
    enum http_fail *hf, CURLcode *rc, struct rb_err *err)
{
	struct http_response *resp = x->resp;
	long status;
	int attempt;

	for (attempt = 1; ; attempt++) {
		if (hc->stop != NULL && *hc->stop)
			return rb_err_set(err, 503, "cancelled", "The request "
			    "to %s was cancelled because the program is "
			    "stopping.", p->host);
		rb_buf_free(&x->body);
		x->body.max = x->max;
		x->too_large = false;
		resp->nhdr = 0;
		resp->status = 0;
		resp->retry_after_ms = -1;
		resp->attempts = attempt;
		if (http_setup(hc, req, hdrs, x, p->connect_ms,
		    p->timeout_ms) == -1)
			return rb_err_set(err, 500, "internal_error", "libcurl "
			    "refused an option for %s %s.", req->method,
			    p->safe_url);
		*rc = curl_easy_perform(hc->curl);
		*hf = http_classify(*rc, x->too_large);
		status = 0;
		if (*hf == HF_NONE) {
			(void)curl_easy_getinfo(hc->curl,
			    CURLINFO_RESPONSE_CODE, &status);
			resp->status = status;
			resp->retry_after_ms = http_parse_retry_after(
			    http_header(resp, "retry-after"), (long)time(NULL));
		}
		metrics_upstream_request(req->service, *hf != HF_NONE ||
		    status == 429 || status >= 500);
		if (*hf == HF_NONE)
			note_deprecation(req, resp);
		if (x->sink_stopped)
			return rb_err_set(err, 502, "sink_stopped", "The reader "
			    "of the answer of %s stopped it.", p->host);
		if (!http_may_retry(*hf, status, p->safe) ||
		    attempt >= p->max_attempts || x->sunk)
			return 0;
		if (http_retry_wait(hc, req, p, resp, *hf, *rc, attempt,
		    err) == -1)
			return -1;
	}
}

int
http_request(struct http_client *hc, const struct http_request *req,
    struct http_response *resp, struct rb_err *err)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct http_xfer x;
	struct http_plan p;
	enum http_fail hf = HF_NONE;
	CURLcode rc = CURLE_OK;
	size_t i;

	memset(&x, 0, sizeof(x));
	memset(&p, 0, sizeof(p));
	if (resp != NULL) {
		memset(resp, 0, sizeof(*resp));
		resp->retry_after_ms = -1;
	}
	if (hc == NULL || req == NULL || resp == NULL || req->url == NULL ||
	    req->method == NULL || req->method[0] == '\0') {
		rb_err_set(err, 500, "internal_error",
		    "http_request was called without a client, method or URL.");
		goto fail;
	}
	http_plan_init(req, &p);
	x.max = req->max_response > 0 ? req->max_response :
	    HTTP_DEF_MAX_RESPONSE;
	x.body.max = x.max;

	/* "Expect:" off: no 1 s pause before bodies over 1 KiB. */
	if ((hdrs = curl_slist_append(NULL, "Expect:")) == NULL)
		goto oom;
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if ((tmp = curl_slist_append(hdrs, req->headers[i])) == NULL)
			goto oom;
		hdrs = tmp;
	}
	x.resp = resp;
	x.curl = hc->curl;
	x.sink = req->sink;
	x.sink_arg = req->sink_arg;
	if (http_attempts(hc, req, &p, hdrs, &x, &hf, &rc, err) == -1)
		goto fail;
	if (hf != HF_NONE) {
		http_fail_err(hf, rc, &p, x.max, resp->attempts, err);
		goto fail;
	}
	if (x.body.data == NULL && rb_buf_append(&x.body, "", 0) == -1)
		goto oom;
	resp->body = x.body.data;
	resp->len = x.body.len;
	x.body.data = NULL;
	log_debug("HTTP %s %s: status %ld in %d attempt(s), %zu bytes",
	    req->method, p.safe_url, resp->status, resp->attempts, resp->len);
	curl_slist_free_all(hdrs);
	return 0;
oom:
	rb_err_oom(err);
fail:
	if (hf != HF_NONE)
		log_warn("HTTP %s %s failed: %s", req->method, p.safe_url,
		    err != NULL ? err->code : curl_easy_strerror(rc));
	curl_slist_free_all(hdrs);
	rb_buf_free(&x.body);
	if (resp != NULL) {
		int attempts = resp->attempts;

		http_response_free(resp);
		resp->attempts = attempts;
	}
	return -1;
}
