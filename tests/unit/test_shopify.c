/*
 * test_shopify.c - lib/shopify.c: the domain table, the pure helpers, and
 * the GraphQL client against a scripted loopback fake of the Admin API
 * forked by the test.
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
#include "shopify.h"
#include "util.h"
#include "tap.h"
#include "loopback.h"

#define TOKEN	"shpat_0123456789abcdef"

/* ---- the loopback fake ------------------------------------------------- */

/* One scripted exchange: the request must contain every expect[] string,
 * else the fake answers 400 "expectation failed" (which the test sees). */
struct step {
	const char	*expect[3];
	char		*response;	/* raw HTTP response */
};

struct srv {
	struct lb_srv	lb;
	char		base[64];	/* shopify_base_url */
};

static char *
http_resp(int status, const char *body)
{
	struct rb_buf b = { 0 };

	if (rb_buf_printf(&b, "HTTP/1.1 %d X\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
	    strlen(body), body) == -1)
		abort();
	return b.data;
}

static void
srv_child(int ls, const void *arg, int n)
{
	const struct step *script = arg;
	static char req[65536];
	static const char fail400[] = "HTTP/1.1 400 Bad\r\nContent-Length: "
	    "18\r\nConnection: close\r\n\r\nexpectation failed";
	int i, j, fd, good;

	for (i = 0; i < n; i++) {
		if ((fd = accept(ls, NULL, NULL)) < 0)
			_exit(1);
		(void)lb_read_request(fd, req, sizeof(req));
		good = 1;
		for (j = 0; j < 3; j++)
			if (script[i].expect[j] != NULL &&
			    strstr(req, script[i].expect[j]) == NULL)
				good = 0;
		if (good)
			lb_write_all(fd, script[i].response,
			    strlen(script[i].response));
		else
			lb_write_all(fd, fail400, sizeof(fail400) - 1);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	sleep(30);
	_exit(0);
}

static int
srv_start(struct srv *s, const struct step *script, int n)
{
	memset(s, 0, sizeof(*s));
	if (lb_start(&s->lb, srv_child, script, n) == -1)
		return -1;
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d/{shop}",
	    s->lb.port);
	return 0;
}

static void
free_script(struct step *sc, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(sc[i].response);
}

/* Opens s on the fake; returns 0 when ready. */
static int
open_fake(struct shopify *s, struct http_client *hc, struct srv *srv,
    struct step *sc, int n)
{
	struct rb_config cfg;
	struct rb_err err = { 0 };
	char base[64], ver[] = "2026-10";

	if (srv_start(srv, sc, n) == -1)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	rb_strlcpy(base, srv->base, sizeof(base));
	cfg.shopify_base_url = base;
	cfg.shopify_api_version = ver;
	if (shopify_open(s, hc, &cfg, "shop.myshopify.com", TOKEN, &err) ==
	    -1) {
		lb_stop(&srv->lb);
		return -1;
	}
	s->timeout_ms = 5000;
	return 0;
}

/* ---- pure tables ------------------------------------------------------- */

static void
test_domains(void)
{
	static const struct { const char *in, *want; } good[] = {
		{ "shop", "shop.myshopify.com" },
		{ "SHOP", "shop.myshopify.com" },
		{ "https://shop.myshopify.com/", "shop.myshopify.com" },
		{ "HTTPS://Shop.MyShopify.COM", "shop.myshopify.com" },
		{ "http://my-shop-1.myshopify.com", "my-shop-1.myshopify.com" },
		{ "shop.myshopify.com", "shop.myshopify.com" },
		{ "a", "a.myshopify.com" },
		{ "1shop2/", "1shop2.myshopify.com" },
		{ "xn--shop", "xn--shop.myshopify.com" },	/* valid form */
		{ "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
		  "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0"
		  ".myshopify.com" },
	};
	static const char *const bad[] = {
		"evil.com", "127.0.0.1", "shop.myshopify.com.evil.com",
		"shop.myshopify.com@evil.com", "user@shop.myshopify.com",
		"shop.myshopify.com:8080", "shop.myshopify.com/x",
		"shop%2emyshopify.com", "sh op", "", "-shop", "shop-",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
		"\xd1\x95hop",			/* Cyrillic dze, looks like s */
		"shop.myshopify.com//", "ftp://shop", "https://", "http://",
		"sh\nop", "shop\n", "myshopify.com", ".myshopify.com",
		"a.b.myshopify.com", "https://https://shop", "shop..myshopify.com",
		"shop.myshopify.co", "shop_1", " shop", "shop ", "//shop",
		"shop.MYSHOPIFY.com.", "shop?x=1", "shop#x",
		"[::1]", "shop\t",
	};
	char out[SHOPIFY_DOMAIN_MAX], longbuf[400], first_msg[512] = "";
	struct rb_err err = { 0 };
	size_t i;

	for (i = 0; i < RB_NELEM(good); i++) {
		memset(&err, 0, sizeof(err));
		is_int(shopify_normalize_domain(good[i].in, out, &err), 0,
		    "domain accepted: \"%s\"", good[i].in);
		is_str(out, good[i].want, "domain normalized: \"%s\"",
		    good[i].in);
	}
	for (i = 0; i < RB_NELEM(bad); i++) {
		memset(&err, 0, sizeof(err));
		int rc = shopify_normalize_domain(bad[i], out, &err);
		is_int(rc, -1, "domain refused: #%zu", i);
		is_str(err.code, "invalid_shop_domain", "code for #%zu", i);
		is_int(err.status, 400, "status for #%zu", i);
		is_str(out, "", "no output for #%zu", i);
		/* the same sentence whatever the input: nothing echoed */
		if (i == 0)
			rb_strlcpy(first_msg, err.msg, sizeof(first_msg));
		else
			is_str(err.msg, first_msg, "input not echoed for #%zu",
			    i);
	}
	ok(strstr(err.msg, "myshopify.com") != NULL,
	    "message shows the accepted form");
	memset(longbuf, 'a', sizeof(longbuf) - 1);
	longbuf[sizeof(longbuf) - 1] = '\0';
	is_int(shopify_normalize_domain(longbuf, out, &err), -1,
	    "400-char name refused");
	is_int(shopify_normalize_domain(NULL, out, &err), -1, "NULL refused");
}

static void
test_map_status(void)
{
	static const struct { long st; int rc, status; const char *code; }
	    t[] = {
		{ 200, 0, 0, "" }, { 204, 0, 0, "" },
		{ 401, -1, 400, "shopify_invalid_token" },
		{ 402, -1, 402, "shopify_payment_required" },
		{ 403, -1, 403, "shopify_missing_scope" },
		{ 404, -1, 404, "shopify_shop_not_found" },
		{ 423, -1, 423, "shopify_shop_locked" },
		{ 429, -1, 503, "shopify_throttled" },
		{ 500, -1, 502, "shopify_unavailable" },
		{ 502, -1, 502, "shopify_unavailable" },
		{ 503, -1, 502, "shopify_unavailable" },
		{ 504, -1, 504, "shopify_timeout" },
		{ 400, -1, 502, "shopify_bad_response" },
		{ 302, -1, 502, "shopify_bad_response" },
	};
	struct rb_err err = { 0 };
	size_t i;

	for (i = 0; i < RB_NELEM(t); i++) {
		memset(&err, 0, sizeof(err));
		is_int(shopify_map_status(t[i].st, "{}", &err), t[i].rc,
		    "map %ld: rc", t[i].st);
		is_int(err.status, t[i].status, "map %ld: status", t[i].st);
		is_str(err.code, t[i].code, "map %ld: code", t[i].st);
	}
	shopify_map_status(401, NULL, &err);
	ok(strstr(err.msg, "shpat_") != NULL,
	    "401 message says which token to copy");
	shopify_map_status(403, NULL, &err);
	ok(strstr(err.msg, "read_products") != NULL &&
	    strstr(err.msg, "write_publications") != NULL,
	    "403 message names the scopes");
	shopify_map_status(400, "{\"errors\":\"bad\\nthing\"}", &err);
	ok(strstr(err.msg, "bad thing") != NULL,
	    "400 quotes Shopify's error, sanitized (%s)", err.msg);
}

static void
test_throttle_wait(void)
{
	static const struct { double need, avail, rate; long want; } t[] = {
		{ 100, 100, 50, 0 },
		{ 100, 200, 50, 0 },
		{ 100, 50, 50, 1000 },
		{ 1000, 0, 50, 20000 },
		{ 10, 5, 50, 100 },
		{ 1, 0.5, 100, 5 },
		{ 101, 100, 1000, 1 },
		{ 100, 50, 0, 1000 },		/* rate unknown */
		{ 100, 50, -1, 1000 },
		{ 1000, 0, 1, 60000 },		/* capped */
	};
	size_t i;

	for (i = 0; i < RB_NELEM(t); i++)
		is_int(shopify_throttle_wait_ms(t[i].need, t[i].avail,
		    t[i].rate), t[i].want, "throttle wait %g/%g/%g",
		    t[i].need, t[i].avail, t[i].rate);
}

static void
test_gid(void)
{
	static const struct { const char *in; long long want; } t[] = {
		{ "gid://shopify/Collection/123", 123 },
		{ "gid://shopify/Shop/1", 1 },
		{ "gid://shopify/Product/9223372036854775807",
		  9223372036854775807LL },
		{ "gid://shopify/Product/9223372036854775808", -1 },
		{ "gid://shopify/Product/99999999999999999999", -1 },
		{ "gid://shopify/Collection/", -1 },
		{ "gid://shopify/Collection/12a", -1 },
		{ "gid://shopify/Collection/-5", -1 },
		{ "gid://shopify/Collection/123?x=1", -1 },
		{ "gid://shopify//123", -1 },
		{ "gid://shopify/123", -1 },
		{ "gid://other/Collection/1", -1 },
		{ "123", -1 },
		{ "", -1 },
	};
	size_t i;

	for (i = 0; i < RB_NELEM(t); i++)
		is_int(shopify_gid_id(t[i].in), t[i].want, "gid \"%s\"",
		    t[i].in);
	is_int(shopify_gid_id(NULL), -1, "gid NULL");
}

static void
test_open(struct http_client *hc)
{
	struct shopify s;
	struct rb_config cfg;
	struct rb_err err = { 0 };
	char base[] = "https://{shop}", ver[] = "2026-10";

	memset(&cfg, 0, sizeof(cfg));
	cfg.shopify_base_url = base;
	cfg.shopify_api_version = ver;
	is_int(shopify_open(&s, hc, &cfg, "my-shop.myshopify.com", TOKEN,
	    &err), 0, "open");
	is_str(s.url,
	    "https://my-shop.myshopify.com/admin/api/2026-10/graphql.json",
	    "open: url");
	is_str(s.token, TOKEN, "open: token copied");
	shopify_close(&s);
	is_str(s.token, "", "close: token wiped");
	is_int(shopify_open(&s, hc, &cfg, "my-shop", TOKEN, &err), -1,
	    "open: domain must be normalized");
	is_int(shopify_open(&s, hc, &cfg, "evil.com", TOKEN, &err), -1,
	    "open: bad domain refused");
	is_str(err.code, "invalid_shop_domain", "open: bad domain code");
	is_int(shopify_open(&s, hc, &cfg, "a.myshopify.com", "", &err), -1,
	    "open: empty token refused");
	is_int(shopify_open(&s, hc, &cfg, "a.myshopify.com",
	    "shpat_x\r\nX-Evil: 1", &err), -1, "open: CRLF in token refused");
	ok(strstr(err.msg, "shpat_x") == NULL, "open: token not in message");
}

/* ---- the client against the fake -------------------------------------- */

static const char COST_LOW[] =
	"\"extensions\":{\"cost\":{\"requestedQueryCost\":10,"
	"\"actualQueryCost\":null,\"throttleStatus\":{\"maximumAvailable\":"
	"1000.0,\"currentlyAvailable\":5,\"restoreRate\":50.0}}}";
static const char COST_OK[] =
	"\"extensions\":{\"cost\":{\"requestedQueryCost\":10,"
	"\"actualQueryCost\":7,\"throttleStatus\":{\"maximumAvailable\":"
	"1000.0,\"currentlyAvailable\":990,\"restoreRate\":50.0}}}";

static void
test_graphql(struct http_client *hc)
{
	struct shopify s;
	struct srv srv;
	struct rb_err err = { 0 };
	json_t *data = NULL;
	char body[1024];
	int64_t t0;

	/* THROTTLED, then success */
	{
		struct step sc[2];
		memset(sc, 0, sizeof(sc));
		snprintf(body, sizeof(body), "{\"errors\":[{\"message\":"
		    "\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\"}}],"
		    "%s}", COST_LOW);
		sc[0].expect[0] = "POST /shop.myshopify.com/admin/api/2026-10/"
		    "graphql.json HTTP/1.1";
		sc[0].expect[1] = "\r\nX-Shopify-Access-Token: " TOKEN "\r\n";
		sc[0].expect[2] = "{\"query\":\"{ shop { name } }\","
		    "\"variables\":{\"a\":1}}";
		sc[0].response = http_resp(200, body);
		snprintf(body, sizeof(body), "{\"data\":{\"shop\":{\"name\":"
		    "\"Shop\"}},%s}", COST_OK);
		sc[1].expect[0] = "Content-Type: application/json";
		sc[1].response = http_resp(200, body);
		if (open_fake(&s, hc, &srv, sc, 2) == 0) {
			json_t *vars = json_pack("{s:i}", "a", 1);
			t0 = rb_mono_ms();
			is_int(shopify_graphql(&s, "{ shop { name } }", vars,
			    &data, &err), 0, "throttled: then succeeds (%s)",
			    err.code);
			t0 = rb_mono_ms() - t0;
			is_str(json_string_value(json_object_get(
			    json_object_get(data, "shop"), "name")), "Shop",
			    "throttled: data");
			is_int(s.requests, 2, "throttled: two requests");
			is_int(s.throttled_waits, 1, "throttled: one wait");
			ok(t0 >= 100, "throttled: waited for 5 points at 50/s "
			    "(%lld ms)", (long long)t0);
			ok(s.available == 990 && s.maximum == 1000 &&
			    s.restore_rate == 50 && s.requested == 10,
			    "throttled: cost read");
			json_decref(data);
			json_decref(vars);
			data = NULL;
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 2);
	}

	/* THROTTLED every time: gives up after max_throttle_retries */
	{
		struct step sc[3];
		memset(sc, 0, sizeof(sc));
		int i;
		snprintf(body, sizeof(body), "{\"errors\":[{\"message\":"
		    "\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\"}}],"
		    "%s}", COST_LOW);
		for (i = 0; i < 3; i++)
			sc[i].response = http_resp(200, body);
		if (open_fake(&s, hc, &srv, sc, 3) == 0) {
			s.max_throttle_retries = 3;
			is_int(shopify_graphql(&s, "{ shop { name } }", NULL,
			    &data, &err), -1, "always throttled: fails");
			is_str(err.code, "shopify_throttled",
			    "always throttled: code");
			is_int(err.status, 503, "always throttled: 503");
			is_int(s.requests, 3, "always throttled: 3 requests");
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 3);
	}

	/* bucket low before sending: waits first */
	{
		struct step sc[1];
		memset(sc, 0, sizeof(sc));
		snprintf(body, sizeof(body), "{\"data\":{\"shop\":{\"name\":"
		    "\"Shop\"}},%s}", COST_OK);
		sc[0].response = http_resp(200, body);
		if (open_fake(&s, hc, &srv, sc, 1) == 0) {
			s.requested = 60;
			s.available = 50;
			s.maximum = 1000;
			s.restore_rate = 100;	/* 10 points: 100 ms */
			is_int(shopify_graphql(&s, "{ shop { name } }", NULL,
			    &data, &err), 0, "low bucket: succeeds");
			is_int(s.throttled_waits, 1, "low bucket: waited");
			ok(s.throttle_wait_ms >= 100, "low bucket: %ld ms",
			    s.throttle_wait_ms);
			json_decref(data);
			data = NULL;
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 1);
	}

	/* 401, truncated JSON, ACCESS_DENIED, other error, no data */
	{
		static const struct { int st; const char *body, *code;
		    int status; } t[] = {
			{ 401, "{\"errors\":\"[API] Invalid API key or access "
			  "token (unrecognized login or wrong password)\"}",
			  "shopify_invalid_token", 400 },
			{ 200, "{\"data\":{\"shop\":{\"name\":\"Sh",
			  "shopify_bad_response", 502 },
			{ 200, "[1,2]", "shopify_bad_response", 502 },
			{ 200, "{\"data\":null,\"errors\":[{\"message\":"
			  "\"Access denied for shop field.\",\"extensions\":"
			  "{\"code\":\"ACCESS_DENIED\"}}]}",
			  "shopify_missing_scope", 403 },
			{ 200, "{\"errors\":[{\"message\":\"Field 'nope' "
			  "doesn't exist on type 'Shop'\",\"extensions\":"
			  "{\"code\":\"undefinedField\"}}]}",
			  "shopify_graphql_error", 502 },
			{ 200, "{\"extensions\":{}}", "shopify_bad_response",
			  502 },
			{ 402, "{}", "shopify_payment_required", 402 },
			{ 404, "Not Found", "shopify_shop_not_found", 404 },
		};
		struct step sc[RB_NELEM(t)];
		size_t i;

		memset(sc, 0, sizeof(sc));
		for (i = 0; i < RB_NELEM(t); i++)
			sc[i].response = http_resp(t[i].st, t[i].body);
		if (open_fake(&s, hc, &srv, sc, (int)RB_NELEM(t)) == 0) {
			for (i = 0; i < RB_NELEM(t); i++) {
				memset(&err, 0, sizeof(err));
				is_int(shopify_graphql(&s, "{ shop { name } }",
				    NULL, &data, &err), -1, "error %zu: fails",
				    i);
				ok(data == NULL, "error %zu: no data", i);
				is_str(err.code, t[i].code, "error %zu: code", i);
				is_int(err.status, t[i].status,
				    "error %zu: status", i);
				ok(strstr(err.msg, TOKEN) == NULL,
				    "error %zu: no token in message", i);
				if (i == 4)
					ok(strstr(err.msg, "Field 'nope'") !=
					    NULL, "graphql error quoted: %s",
					    err.msg);
			}
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, (int)RB_NELEM(t));
	}

	/* the server is gone: unavailable */
	{
		struct step sc[1];
		memset(sc, 0, sizeof(sc));
		sc[0].response = http_resp(200, "{}");
		if (open_fake(&s, hc, &srv, sc, 1) == 0) {
			lb_stop(&srv.lb);
			memset(&err, 0, sizeof(err));
			is_int(shopify_graphql(&s, "mutation { x }", NULL,
			    &data, &err), -1, "no server: fails");
			is_str(err.code, "shopify_unavailable",
			    "no server: shopify_unavailable");
			shopify_close(&s);
		} else
			ok(0, "fake start");
		free_script(sc, 1);
	}
}

struct pages {
	int	calls;
	int	nodes;
	char	ids[64];
	int	fail_at;	/* page() number that fails, 0 never */
};

static int
count_page(void *ctx, json_t *nodes, struct rb_err *err)
{
	struct pages *p = ctx;
	json_t *n;
	size_t i, l;

	p->calls++;
	if (p->fail_at == p->calls)
		return rb_err_set(err, 409, "page_refused", "page %d refused",
		    p->calls);
	json_array_foreach(nodes, i, n) {
		p->nodes++;
		l = strlen(p->ids);
		snprintf(p->ids + l, sizeof(p->ids) - l, "%s,",
		    json_string_value(json_object_get(n, "id")));
	}
	return 0;
}

static const char Q_PAGED[] =
	"query Q($cursor: String, $first: Int) { things(first: $first, "
	"after: $cursor) { nodes { id } pageInfo { hasNextPage endCursor } } }";

static void
test_paginate(struct http_client *hc)
{
	struct shopify s;
	struct srv srv;
	struct rb_err err = { 0 };
	struct pages p;

	/* two pages */
	{
		struct step sc[2];
		memset(sc, 0, sizeof(sc));
		sc[0].expect[0] = "\"variables\":{\"first\":2,\"cursor\":null}";
		sc[0].response = http_resp(200, "{\"data\":{\"a\":{\"things\":"
		    "{\"nodes\":[{\"id\":\"1\"},{\"id\":\"2\"}],\"pageInfo\":"
		    "{\"hasNextPage\":true,\"endCursor\":\"c1\"}}}}}");
		sc[1].expect[0] = "\"variables\":{\"first\":2,\"cursor\":\"c1\"}";
		sc[1].response = http_resp(200, "{\"data\":{\"a\":{\"things\":"
		    "{\"nodes\":[{\"id\":\"3\"}],\"pageInfo\":"
		    "{\"hasNextPage\":false,\"endCursor\":\"c2\"}}}}}");
		if (open_fake(&s, hc, &srv, sc, 2) == 0) {
			json_t *vars = json_pack("{s:i}", "first", 2);
			memset(&p, 0, sizeof(p));
			is_int(shopify_paginate(&s, Q_PAGED, vars, "a.things",
			    count_page, &p, &err), 0, "paginate: ok (%s %s)",
			    err.code, err.msg);
			is_int(p.calls, 2, "paginate: page() twice");
			is_int(p.nodes, 3, "paginate: three nodes");
			is_str(p.ids, "1,2,3,", "paginate: in order");
			ok(json_object_get(vars, "cursor") == NULL,
			    "paginate: caller's vars untouched");
			json_decref(vars);
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 2);
	}

	/* repeated cursor */
	{
		struct step sc[2];
		memset(sc, 0, sizeof(sc));
		sc[0].response = http_resp(200, "{\"data\":{\"things\":"
		    "{\"nodes\":[{\"id\":\"1\"}],\"pageInfo\":"
		    "{\"hasNextPage\":true,\"endCursor\":\"c1\"}}}}");
		sc[1].response = http_resp(200, "{\"data\":{\"things\":"
		    "{\"nodes\":[{\"id\":\"1\"}],\"pageInfo\":"
		    "{\"hasNextPage\":true,\"endCursor\":\"c1\"}}}}");
		if (open_fake(&s, hc, &srv, sc, 2) == 0) {
			memset(&p, 0, sizeof(p));
			is_int(shopify_paginate(&s, Q_PAGED, NULL, "things",
			    count_page, &p, &err), -1,
			    "repeated cursor: fails");
			is_str(err.code, "shopify_bad_response",
			    "repeated cursor: code");
			is_int(p.calls, 2, "repeated cursor: stopped at once");
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 2);
	}

	/* page() fails: its own error reaches the caller, no more pages */
	{
		struct step sc[1];
		memset(sc, 0, sizeof(sc));
		sc[0].response = http_resp(200, "{\"data\":{\"things\":"
		    "{\"nodes\":[{\"id\":\"1\"}],\"pageInfo\":"
		    "{\"hasNextPage\":true,\"endCursor\":\"c1\"}}}}");
		if (open_fake(&s, hc, &srv, sc, 1) == 0) {
			memset(&p, 0, sizeof(p));
			p.fail_at = 1;
			is_int(shopify_paginate(&s, Q_PAGED, NULL, "things",
			    count_page, &p, &err), -1, "page fails: fails");
			is_str(err.code, "page_refused",
			    "page fails: the page's own error code");
			is_str(err.msg, "page 1 refused",
			    "page fails: the page's own message");
			is_int(p.calls, 1, "page fails: no next page asked");
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 1);
	}

	/* wrong path */
	{
		struct step sc[1];
		memset(sc, 0, sizeof(sc));
		sc[0].response = http_resp(200, "{\"data\":{\"things\":{}}}");
		if (open_fake(&s, hc, &srv, sc, 1) == 0) {
			memset(&p, 0, sizeof(p));
			is_int(shopify_paginate(&s, Q_PAGED, NULL, "things",
			    count_page, &p, &err), -1, "no nodes: fails");
			is_str(err.code, "shopify_bad_response",
			    "no nodes: code");
			is_int(p.calls, 0, "no nodes: page() not called");
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 1);
	}
}

static void
test_shop_and_collections(struct http_client *hc)
{
	struct shopify s;
	struct srv srv;
	struct rb_err err = { 0 };
	json_t *shop = NULL, *cols = NULL, *c, *rules, *r;

	{
		struct step sc[1];
		memset(sc, 0, sizeof(sc));
		sc[0].expect[0] = "query ReBossShop";
		sc[0].response = http_resp(200, "{\"data\":{\"shop\":{"
		    "\"id\":\"gid://shopify/Shop/548380009\",\"name\":\"Pod\","
		    "\"email\":\"o@example.com\",\"contactEmail\":\"c@example.com\","
		    "\"myshopifyDomain\":\"shop.myshopify.com\","
		    "\"primaryDomain\":{\"host\":\"pod.example\",\"url\":"
		    "\"https://pod.example\",\"sslEnabled\":true},"
		    "\"currencyCode\":\"USD\",\"enabledPresentmentCurrencies\":"
		    "[\"USD\",\"EUR\"],\"ianaTimezone\":\"America/New_York\","
		    "\"timezoneOffset\":\"-0500\",\"plan\":{\"publicDisplayName\":"
		    "\"Shopify Plus\",\"partnerDevelopment\":false,"
		    "\"shopifyPlus\":true},\"shopOwnerName\":\"Ann\","
		    "\"shopAddress\":{\"address1\":\"1 Main\",\"address2\":null,"
		    "\"city\":\"Ottawa\",\"province\":\"Ontario\",\"zip\":\"K1\","
		    "\"country\":\"Canada\",\"countryCodeV2\":\"CA\",\"phone\":"
		    "\"555\"},\"currencyFormats\":{\"moneyFormat\":\"${{amount}}\","
		    "\"moneyWithCurrencyFormat\":\"${{amount}} USD\"},"
		    "\"weightUnit\":\"KILOGRAMS\",\"taxesIncluded\":false,"
		    "\"setupRequired\":false,\"createdAt\":\"2020-01-01T00:00:00Z\","
		    "\"updatedAt\":\"2026-01-01T00:00:00Z\",\"features\":"
		    "{\"storefront\":true}}}}");
		if (open_fake(&s, hc, &srv, sc, 1) == 0) {
			is_int(shopify_get_shop(&s, &shop, &err), 0,
			    "get_shop: ok (%s)", err.code);
			is_int(json_integer_value(json_object_get(shop, "id")),
			    548380009, "shop: numeric id");
			is_str(json_string_value(json_object_get(shop,
			    "domain")), "pod.example", "shop: domain");
			is_str(json_string_value(json_object_get(shop,
			    "myshopify_domain")), "shop.myshopify.com",
			    "shop: myshopify_domain");
			is_str(json_string_value(json_object_get(shop,
			    "plan_name")), "shopify_plus", "shop: plan_name");
			is_str(json_string_value(json_object_get(shop,
			    "plan_display_name")), "Shopify Plus",
			    "shop: plan_display_name");
			is_str(json_string_value(json_object_get(shop,
			    "timezone")), "(GMT-05:00) America/New_York",
			    "shop: timezone");
			is_str(json_string_value(json_object_get(shop,
			    "weight_unit")), "kg", "shop: weight_unit");
			is_str(json_string_value(json_object_get(shop,
			    "country_code")), "CA", "shop: country_code");
			is_str(json_string_value(json_object_get(shop,
			    "currency")), "USD", "shop: currency");
			is_str(json_string_value(json_object_get(shop,
			    "shop_owner")), "Ann", "shop: shop_owner");
			ok(json_object_get(shop, "address2") == NULL,
			    "shop: null fields omitted");
			ok(json_is_false(json_object_get(shop,
			    "taxes_included")), "shop: taxes_included");
			is_int(json_array_size(json_object_get(shop,
			    "enabled_presentment_currencies")), 2,
			    "shop: presentment currencies");
			json_decref(shop);
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 1);
	}

	{
		struct step sc[3];
		memset(sc, 0, sizeof(sc));
		sc[0].expect[0] = "query ReBossCollections";
		sc[0].response = http_resp(200, "{\"data\":{\"collections\":{"
		    "\"nodes\":[{\"id\":\"gid://shopify/Collection/11\","
		    "\"title\":\"Mugs\",\"handle\":\"mugs\",\"updatedAt\":"
		    "\"2026-01-02T00:00:00Z\",\"productsCount\":{\"count\":4}}],"
		    "\"pageInfo\":{\"hasNextPage\":true,\"endCursor\":\"x\"}}}}");
		sc[1].expect[0] = "query ReBossCollections";
		sc[1].expect[1] = "\"cursor\":\"x\"";
		sc[1].response = http_resp(200, "{\"data\":{\"collections\":{"
		    "\"nodes\":[{\"id\":\"gid://shopify/Collection/12\","
		    "\"title\":\"Cats\",\"handle\":\"cats\",\"updatedAt\":"
		    "\"2026-01-03T00:00:00Z\",\"productsCount\":{\"count\":9}}],"
		    "\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":\"y\"}}}}");
		sc[2].expect[0] = "query ReBossSmartCollections";
		sc[2].expect[1] = "collection_type:smart";
		sc[2].response = http_resp(200, "{\"data\":{\"collections\":{"
		    "\"nodes\":[{\"id\":\"gid://shopify/Collection/12\","
		    "\"sources\":[{\"__typename\":\"CollectionConditionsSource\","
		    "\"inclusion\":{\"matchType\":\"ANY\",\"conditions\":["
		    "{\"__typename\":\"CollectionSourceInclusionConditionProductTag\","
		    "\"tagRel\":\"TAGGED_WITH\",\"tagVal\":[\"cat\",\"kitten\"]},"
		    "{\"__typename\":\"CollectionSourceInclusionConditionVariantPrice\","
		    "\"priceRel\":\"GREATER_THAN\",\"priceVal\":{\"amount\":\"9.5\"}},"
		    "{\"__typename\":\"CollectionSourceInclusionConditionProductTitle\","
		    "\"titleRel\":\"DOES_NOT_CONTAIN\",\"titleVal\":[\"dog\"]}"
		    "]}}]}],"
		    "\"pageInfo\":{\"hasNextPage\":false,\"endCursor\":null}}}}");
		if (open_fake(&s, hc, &srv, sc, 3) == 0) {
			is_int(shopify_get_collections(&s, &cols, &err), 0,
			    "collections: ok (%s %s)", err.code, err.msg);
			is_int(json_array_size(cols), 2, "collections: two");
			c = json_array_get(cols, 0);
			is_int(json_integer_value(json_object_get(c, "id")), 11,
			    "custom: id");
			is_str(json_string_value(json_object_get(c,
			    "admin_graphql_api_id")),
			    "gid://shopify/Collection/11", "custom: gid");
			is_str(json_string_value(json_object_get(c,
			    "collection_type")), "custom", "custom: type");
			is_int(json_integer_value(json_object_get(c,
			    "products_count")), 4, "custom: products_count");
			ok(json_object_get(c, "rules") == NULL,
			    "custom: no rules");
			c = json_array_get(cols, 1);
			is_str(json_string_value(json_object_get(c,
			    "collection_type")), "smart", "smart: type");
			is_str(json_string_value(json_object_get(c, "title")),
			    "Cats", "smart: title");
			ok(json_is_true(json_object_get(c, "disjunctive")),
			    "smart: disjunctive");
			rules = json_object_get(c, "rules");
			is_int(json_array_size(rules), 4, "smart: four rules");
			r = json_array_get(rules, 1);
			is_str(json_string_value(json_object_get(r, "column")),
			    "tag", "rule 1 column");
			is_str(json_string_value(json_object_get(r,
			    "relation")), "equals", "rule 1 relation");
			is_str(json_string_value(json_object_get(r,
			    "condition")), "kitten", "rule 1 condition");
			r = json_array_get(rules, 2);
			is_str(json_string_value(json_object_get(r, "column")),
			    "variant_price", "rule 2 column");
			is_str(json_string_value(json_object_get(r,
			    "relation")), "greater_than", "rule 2 relation");
			is_str(json_string_value(json_object_get(r,
			    "condition")), "9.5", "rule 2 condition");
			r = json_array_get(rules, 3);
			is_str(json_string_value(json_object_get(r,
			    "relation")), "not_contains", "rule 3 relation");
			json_decref(cols);
			shopify_close(&s);
		} else
			ok(0, "fake start");
		lb_stop(&srv.lb);
		free_script(sc, 3);
	}
}

int
main(void)
{
	struct rb_config cfg;
	struct http_client *hc;

	signal(SIGPIPE, SIG_IGN);
	test_domains();
	test_map_status();
	test_throttle_wait();
	test_gid();
	memset(&cfg, 0, sizeof(cfg));
	hc = http_client_new(&cfg);
	ok(hc != NULL, "http client");
	if (hc != NULL) {
		test_open(hc);
		test_graphql(hc);
		test_paginate(hc);
		test_shop_and_collections(hc);
		http_client_free(hc);
	}
	return done_testing();
}
