/*
 * http.h - upstream HTTPS through libcurl, with the project's rules built in:
 * connect and total timeouts, a cap on the response size, TLS verification
 * (system store, or ca_file), bounded retries with jitter on transport
 * errors, 5xx and 429 (honouring Retry-After), and no redirects followed.
 *
 * One struct http_client per process (create it after fork()); it keeps the
 * connection cache.  A non-2xx status is not a failure of http_request():
 * the caller reads resp->status.  Failures are transport problems only:
 * err->code "upstream_timeout" (504), "upstream_unreachable" (502),
 * "upstream_truncated" (502), "upstream_too_large" (502), "upstream_tls"
 * (502: the peer's certificate was not accepted; never retried),
 * "cancelled" (503, stop flag set).
 */
#ifndef RB_HTTP_H
#define RB_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb.h"

struct rb_config;
struct http_client;

struct http_request {
	const char	*method;	/* "GET", "POST", "DELETE"... */
	const char	*url;
	const char *const *headers;	/* NULL-terminated "Name: value" */
	const char	*body;		/* may be NULL */
	size_t		 body_len;
	const char	*userpwd;	/* HTTP Basic "user:password", or NULL */
	long		 connect_timeout_ms;	/* 0: 10000 */
	long		 timeout_ms;		/* 0: 60000 */
	size_t		 max_response;		/* 0: 8 MiB */
	int		 max_attempts;		/* 0: 4; 1: no retry */
	bool		 retry_unsafe;	/* retry POST etc. on 429/5xx too */
	long		 max_retry_wait_ms;	/* 0: 60000; cap per wait */
	const char	*service;	/* metrics label; NULL: "other" */
	bool		 secret_path;	/* the URL's path is a credential (a
					 * webhook URL): logs show scheme://host */
	/* Streaming: a 2xx answer's body goes to sink in pieces as it
	 * arrives (never kept; max_response does not apply to it) and
	 * resp->body stays empty; other answers are kept as usual.  Once a
	 * piece went to the sink nothing is retried.  sink returns -1 to stop
	 * the transfer: http_request then fails with "sink_stopped" and the
	 * sink keeps its own reason. */
	int		(*sink)(void *arg, const char *data, size_t len);
	void		*sink_arg;
};

#define HTTP_MAX_HEADERS 24
struct http_response {
	long	 status;
	char	*body;			/* NUL-terminated, owned */
	size_t	 len;
	long	 retry_after_ms;	/* -1 when absent */
	int	 attempts;		/* how many were made */
	int	 nhdr;			/* kept headers, names lower-cased */
	struct {
		char name[64];
		char value[256];
	} hdr[HTTP_MAX_HEADERS];
};

/* libcurl's (and with it OpenSSL's) process-wide setup, once; also done
 * by http_client_new.  The job runtime calls it in the parent, so that
 * every forked worker inherits it instead of repeating it (~0.5 ms of CPU
 * a shop).  Not thread-safe: call it before any thread exists. */
int	http_global_init(void) RB_WUR;
/* Loads the trusted CAs (ca_file, or NULL/"" for curl's default bundle and
 * directory) once, for every TLS connection of every client in this
 * process and its forked children (~17 ms of CPU saved per process).
 * http_client_new calls it; the job runtime calls it in the parent.
 * -1: not loadable; clients then let curl load them per connection. */
int	http_ca_preload(const char *ca_file) RB_WUR;
struct http_client *http_client_new(const struct rb_config *cfg);
void	http_client_free(struct http_client *hc);
/* Sleeps between retries end early once *stop is non-zero. */
void	http_client_set_stop(struct http_client *hc,
	    volatile const sig_atomic_t *stop);

int	http_request(struct http_client *hc, const struct http_request *req,
	    struct http_response *resp, struct rb_err *err) RB_WUR;
void	http_response_free(struct http_response *resp);
/* Case-insensitive; NULL when the header was not received. */
const char *http_header(const struct http_response *resp, const char *name);

/* Pure helpers, unit-tested. */
long	http_parse_retry_after(const char *value, long now_s);	/* ms or -1 */
long	http_backoff_ms(int attempt, long retry_after_ms, long cap_ms);
/* Percent-encodes s for a query string; caller frees. */
char	*http_urlencode(const char *s);
/* One header line as curl hands it (CRLF included, not NUL-terminated):
 * a status line forgets the headers kept so far (a new response); a
 * header the callers read (Retry-After, Content-Type, Location, Link,
 * X-Request-Id, X-RateLimit-*, X-Shopify-*) is kept in r->hdr, its name
 * lower-cased, its value trimmed and capped; others are dropped, as is
 * any past HTTP_MAX_HEADERS.  Returns n (the line is consumed). */
size_t	http_header_line(struct http_response *r, const char *line,
	    size_t n);
/* What may be logged of a URL: "scheme://host[:port]/path", without
 * userinfo, query or fragment (they may hold credentials). */
void	http_safe_url(const char *url, char *out, size_t outsz);
/* The host[:port] of url alone, for error messages. */
void	http_host(const char *url, char *out, size_t outsz);

#endif
