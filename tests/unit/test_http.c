/*
 * test_http.c - lib/http.c against a scripted loopback HTTP/1.1 server
 * forked by the test, plus the pure helpers as tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* lib/config.h, not the autoconf config.h of the build directory */
#include "config.h"
#include "http.h"
#include "util.h"
#include "tap.h"
#include "loopback.h"

/* Script entries: a raw HTTP response, or one of these. */
#define HANG	"\x01HANG"	/* accept, read, never answer */
#define ECHO	"\x01" "ECHO"	/* 200 with the request as body */

struct srv {
	struct lb_srv	lb;
	char		url[64];
};

static void
srv_child(int ls, const void *arg, int n)
{
	const char *const *script = arg;
	static char req[65536];
	char hdr[256];
	int i, fd, hung[16], nhung = 0;
	size_t len;

	for (i = 0; i < n; i++) {
		if ((fd = accept(ls, NULL, NULL)) < 0)
			_exit(1);
		len = lb_read_request(fd, req, sizeof(req));
		if (strcmp(script[i], HANG) == 0) {
			if (nhung < 16)
				hung[nhung++] = fd;
			continue;
		}
		if (strcmp(script[i], ECHO) == 0) {
			int h = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n", len);
			lb_write_all(fd, hdr, (size_t)h);
			lb_write_all(fd, req, len);
		} else {
			lb_write_all(fd, script[i], strlen(script[i]));
		}
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	sleep(30);	/* keeps hung connections open until killed */
	(void)hung;
	_exit(0);
}

static int
srv_start(struct srv *s, const char *const *script, int n)
{
	memset(s, 0, sizeof(*s));
	if (lb_start(&s->lb, srv_child, script, n) == -1)
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/x?token=secret",
	    s->lb.port);
	return 0;
}

#define R200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"X-Request-Id: req-1\r\nX-Unkept: nope\r\nContent-Length: 11\r\n" \
	"Connection: close\r\n\r\n{\"ok\":true}"
#define R503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n" \
	"Connection: close\r\n\r\nbusy"
#define R429 "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n" \
	"Content-Length: 0\r\nConnection: close\r\n\r\n"
#define R302 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n" \
	"Content-Length: 0\r\nConnection: close\r\n\r\n"

static void
test_server(struct http_client *hc)
{
	struct srv s;
	struct http_request req;
	struct http_response resp;
	struct rb_err err;
	int64_t t0;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));

	/* plain 200 */
	{
		const char *const sc[] = { R200 };
		if (srv_start(&s, sc, 1) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "200: request succeeds");
			is_int(resp.status, 200, "200: status");
			is_str(resp.body, "{\"ok\":true}", "200: body");
			is_int(resp.len, 11, "200: len");
			is_int(resp.attempts, 1, "200: one attempt");
			is_str(http_header(&resp, "X-REQUEST-ID"), "req-1",
			    "200: x-request-id kept, looked up case-insensitively");
			is_str(http_header(&resp, "content-type"),
			    "application/json", "200: content-type kept");
			ok(http_header(&resp, "x-unkept") == NULL,
			    "200: other headers dropped");
			is_int(resp.retry_after_ms, -1, "200: no retry-after");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* 503, 503, 200 retried */
	{
		const char *const sc[] = { R503, R503, R200 };
		if (srv_start(&s, sc, 3) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url, .max_retry_wait_ms = 200 };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "503x2: succeeds");
			is_int(resp.status, 200, "503x2: final status 200");
			is_int(resp.attempts, 3, "503x2: three attempts");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* 503 three times with max_attempts 2: the 503 comes back */
	{
		const char *const sc[] = { R503, R503, R200 };
		if (srv_start(&s, sc, 3) == 0) {
			req = (struct http_request){ .method = "DELETE",
			    .url = s.url, .max_attempts = 2,
			    .max_retry_wait_ms = 50 };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "max_attempts 2: not a failure");
			is_int(resp.status, 503, "max_attempts 2: last status");
			is_int(resp.attempts, 2, "max_attempts 2: two attempts");
			is_str(resp.body, "busy", "max_attempts 2: last body");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* 429 with Retry-After: 1 */
	{
		const char *const sc[] = { R429, R200 };
		if (srv_start(&s, sc, 2) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url };
			t0 = rb_mono_ms();
			rc = http_request(hc, &req, &resp, &err);
			t0 = rb_mono_ms() - t0;
			is_int(rc, 0, "429: succeeds");
			is_int(resp.status, 200, "429: then 200");
			is_int(resp.attempts, 2, "429: two attempts");
			ok(t0 >= 900, "429: Retry-After 1 s honoured (%lld ms)",
			    (long long)t0);
			ok(t0 < 5000, "429: and not much longer (%lld ms)",
			    (long long)t0);
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* POST: not retried, unless retry_unsafe */
	{
		const char *const sc[] = { R503, R200 };
		if (srv_start(&s, sc, 2) == 0) {
			req = (struct http_request){ .method = "POST",
			    .url = s.url, .body = "{}", .body_len = 2,
			    .max_retry_wait_ms = 50 };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "POST 503: not a failure");
			is_int(resp.status, 503, "POST 503: not retried");
			is_int(resp.attempts, 1, "POST 503: one attempt");
			http_response_free(&resp);
			req.retry_unsafe = true;
			rc = http_request(hc, &req, &resp, &err);
			is_int(resp.status, 200,
			    "POST next answer: 200 (server saw 2 requests)");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}
	{
		const char *const sc[] = { R503, R200 };
		if (srv_start(&s, sc, 2) == 0) {
			req = (struct http_request){ .method = "POST",
			    .url = s.url, .body = "{}", .body_len = 2,
			    .retry_unsafe = true, .max_retry_wait_ms = 50 };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "POST retry_unsafe: succeeds");
			is_int(resp.status, 200, "POST retry_unsafe: retried");
			is_int(resp.attempts, 2, "POST retry_unsafe: 2 attempts");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* request as sent: method, body, headers, basic auth */
	{
		const char *const sc[] = { ECHO };
		const char *const hdrs[] = { "X-Test: one",
		    "Content-Type: application/json", NULL };
		if (srv_start(&s, sc, 1) == 0) {
			req = (struct http_request){ .method = "PUT",
			    .url = s.url, .headers = hdrs,
			    .body = "{\"a\":1}", .body_len = 7,
			    .userpwd = "u:p" };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "echo: succeeds");
			ok(resp.body != NULL &&
			    strncmp(resp.body, "PUT /x?token=secret HTTP/1.1\r\n",
			    30) == 0, "echo: method and target");
			ok(resp.body != NULL && strstr(resp.body,
			    "\r\nX-Test: one\r\n") != NULL, "echo: header sent");
			ok(resp.body != NULL && strstr(resp.body,
			    "\r\nAuthorization: Basic dTpw\r\n") != NULL,
			    "echo: basic auth sent");
			ok(resp.body != NULL && strstr(resp.body,
			    "\r\n\r\n{\"a\":1}") != NULL, "echo: body sent");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* too large */
	{
		static char big[4096];
		int h = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 2000\r\nConnection: close\r\n\r\n");
		memset(big + h, 'x', 2000);
		big[h + 2000] = '\0';
		const char *const sc[] = { big, big };
		if (srv_start(&s, sc, 2) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url, .max_response = 1000 };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, -1, "too large: fails");
			is_str(err.code, "upstream_too_large", "too large: code");
			is_int(err.status, 502, "too large: 502");
			ok(resp.body == NULL, "too large: no body kept");
			ok(strstr(err.msg, "secret") == NULL,
			    "too large: message has no query string");
			req.max_response = 2000;
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "exactly max_response: accepted");
			is_int(resp.len, 2000, "exactly max_response: len");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* 302 not followed */
	{
		const char *const sc[] = { R302 };
		if (srv_start(&s, sc, 1) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, 0, "302: not a failure");
			is_int(resp.status, 302, "302: returned as is");
			is_int(resp.attempts, 1, "302: one attempt");
			is_str(http_header(&resp, "location"),
			    "http://127.0.0.1:1/elsewhere", "302: location kept");
			http_response_free(&resp);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* never answers */
	{
		const char *const sc[] = { HANG, HANG };
		if (srv_start(&s, sc, 2) == 0) {
			req = (struct http_request){ .method = "GET",
			    .url = s.url, .timeout_ms = 300,
			    .max_attempts = 1 };
			t0 = rb_mono_ms();
			rc = http_request(hc, &req, &resp, &err);
			t0 = rb_mono_ms() - t0;
			is_int(rc, -1, "hang: fails");
			is_str(err.code, "upstream_timeout", "hang: code");
			is_int(err.status, 504, "hang: 504");
			ok(t0 >= 250 && t0 < 3000, "hang: about 300 ms (%lld)",
			    (long long)t0);
			req.max_attempts = 2;
			req.max_retry_wait_ms = 20;
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, -1, "hang x2: fails");
			is_str(err.code, "upstream_timeout", "hang x2: code");
			is_int(resp.attempts, 2, "hang x2: GET timeout retried");
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}

	/* connection refused */
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char url[64];
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0,
		    "refused: got a free port");
		close(fd);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
		    ntohs(sa.sin_port));
		req = (struct http_request){ .method = "POST", .url = url,
		    .max_attempts = 2, .max_retry_wait_ms = 20 };
		rc = http_request(hc, &req, &resp, &err);
		is_int(rc, -1, "refused: fails");
		is_str(err.code, "upstream_unreachable", "refused: code");
		is_int(err.status, 502, "refused: 502");
		is_int(resp.attempts, 2,
		    "refused: retried even for POST (nothing was sent)");
	}

	/* other schemes refused */
	req = (struct http_request){ .method = "GET",
	    .url = "file:///etc/passwd", .max_attempts = 1 };
	rc = http_request(hc, &req, &resp, &err);
	is_int(rc, -1, "file:// refused");
	ok(resp.body == NULL, "file://: nothing read");

	/* stop flag */
	{
		static volatile sig_atomic_t stop = 1;
		const char *const sc[] = { R200 };
		if (srv_start(&s, sc, 1) == 0) {
			http_client_set_stop(hc, &stop);
			req = (struct http_request){ .method = "GET",
			    .url = s.url };
			rc = http_request(hc, &req, &resp, &err);
			is_int(rc, -1, "stop: fails");
			is_str(err.code, "cancelled", "stop: cancelled");
			http_client_set_stop(hc, NULL);
		} else
			ok(0, "server start");
		lb_stop(&s.lb);
	}
}

static void
test_retry_after(void)
{
	static const struct { const char *in; long now, want; } t[] = {
		{ "1", 0, 1000 },
		{ "0", 0, 0 },
		{ " 120 ", 0, 120000 },
		{ "-1", 0, -1 },
		/* Shopify sends a decimal ("2.0"): the old parser refused it
		 * and fell back to its own backoff */
		{ "1.5", 0, 1500 },
		{ "2.0", 0, 2000 },
		{ "0.25", 0, 250 },
		{ "0.0001", 0, 1 },	/* rounded up, never earlier */
		{ "1.2340", 0, 1234 },
		{ "1.", 0, -1 },
		{ ".5", 0, -1 },
		{ "1.5.1", 0, -1 },
		{ "1,5", 0, -1 },
		{ "-1.5", 0, -1 },
		{ "2678400.5", 0, -1 },	/* over 31 days */
		{ "2678400", 0, 2678400000L },
		{ "abc", 0, -1 },
		{ "", 0, -1 },
		{ "12x", 0, -1 },
		{ "99999999999999999999", 0, -1 },
		/* 2015-10-21 07:28:00 UTC = 1445412480 */
		{ "Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, 10000 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, 0 },
		{ "Wednesday, 21-Oct-15 07:28:00 GMT", 1445412480 - 3, 3000 },
		{ "Wed Oct 21 07:28:00 2015", 1445412480 - 5, 5000 },
	};
	size_t i;

	for (i = 0; i < RB_NELEM(t); i++)
		is_int(http_parse_retry_after(t[i].in, t[i].now), t[i].want,
		    "retry-after \"%s\"", t[i].in);
	is_int(http_parse_retry_after(NULL, 0), -1, "retry-after NULL");
}

static void
test_backoff(void)
{
	static const struct { int attempt; long ra, cap, want; } t[] = {
		{ 1, 1000, 60000, 1000 },
		{ 5, 0, 60000, 0 },
		{ 1, 120000, 60000, 60000 },
		{ 1, 120000, 0, 60000 },	/* default cap */
		{ 3, 5000, 2000, 2000 },
	};
	static const struct { int attempt; long cap, max; } r[] = {
		{ 1, 60000, 500 },
		{ 2, 60000, 1000 },
		{ 3, 60000, 2000 },
		{ 30, 5000, 5000 },
		{ 1000, 0, 60000 },
		{ 0, 60000, 500 },
	};
	size_t i;
	int j, inrange, distinct;
	long v, first, mx;

	for (i = 0; i < RB_NELEM(t); i++)
		is_int(http_backoff_ms(t[i].attempt, t[i].ra, t[i].cap),
		    t[i].want, "backoff retry-after %ld cap %ld", t[i].ra,
		    t[i].cap);
	for (i = 0; i < RB_NELEM(r); i++) {
		inrange = 1;
		distinct = 0;
		first = -2;
		mx = 0;
		for (j = 0; j < 300; j++) {
			v = http_backoff_ms(r[i].attempt, -1, r[i].cap);
			if (v < 0 || v > r[i].max)
				inrange = 0;
			if (first == -2)
				first = v;
			else if (v != first)
				distinct = 1;
			if (v > mx)
				mx = v;
		}
		ok(inrange, "backoff attempt %d in [0, %ld]", r[i].attempt,
		    r[i].max);
		ok(distinct, "backoff attempt %d is jittered", r[i].attempt);
		ok(mx > r[i].max / 2, "backoff attempt %d reaches its upper "
		    "half (max seen %ld)", r[i].attempt, mx);
	}
}

static void
test_urlencode(void)
{
	char *e;

	e = http_urlencode("a b&c=d/\xc3\xa9~_.-");
	is_str(e, "a%20b%26c%3Dd%2F%C3%A9~_.-", "urlencode");
	free(e);
	e = http_urlencode("");
	is_str(e, "", "urlencode empty");
	free(e);
	ok(http_urlencode(NULL) == NULL, "urlencode NULL");
}

int
main(void)
{
	struct rb_config cfg;
	struct http_client *hc;

	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof(cfg));
	test_retry_after();
	test_backoff();
	test_urlencode();
	hc = http_client_new(&cfg);
	ok(hc != NULL, "client created");
	if (hc != NULL) {
		test_server(hc);
		http_client_free(hc);
	}
	return done_testing();
}
