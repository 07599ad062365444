/*
 * router.c - the route table of reboss-api and path/query parsing.
 *
 * One row per route.  A pattern is a sequence of '/'-separated segments;
 * "{id}" matches exactly one canonical UUID segment (anything else in that
 * place is simply no match, so it ends as 404).  Matching is exact: no
 * trailing '/', no empty segments.  HEAD is answered by GET rows.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "encode.h"
#include "util.h"

static const struct api_route routes[] = {
	/* method  pattern                            auth        body   handler */
	{ "GET",  "/health",                        API_PUBLIC, NULL, h_health },
	{ "GET",  "/api/health",                    API_PUBLIC, NULL, h_health },
	{ "POST", "/api/shopify/test-connection",   API_AUTH,
	    &body_shopify_test_connection, h_shopify_test_connection },
	{ "POST", "/api/shopify/get-collections",   API_AUTH,
	    &body_shopify_get_collections, h_shopify_get_collections },
	/* shops and linked accounts (routes_shops.c, routes_oauth.c) */
	{ "GET",  "/api/shops",                     API_AUTH, NULL,
	    h_shops_list },
	{ "POST", "/api/shops",                     API_AUTH,
	    &body_shops_create, h_shops_create },
	{ "GET",  "/api/shops/{id}/integrations",   API_AUTH, NULL,
	    h_shops_integrations },
	/* the ReBoss app: install and webhooks (routes_shopify_app.c) */
	{ "POST", "/api/shopify/install",           API_AUTH,
	    &body_shopify_install, h_shopify_install },
	{ "GET",  "/api/shopify/callback",          API_PUBLIC, NULL,
	    h_shopify_callback },
	{ "POST", "/api/shopify/webhooks",          API_PUBLIC, &api_raw_body,
	    h_shopify_webhooks },
	/* the dashboard's tabs (routes_dashboard.c) */
	{ "GET",  "/api/shops/{id}/jobs",           API_AUTH, NULL,
	    h_shops_jobs },
	{ "GET",  "/api/shops/{id}/roi",            API_AUTH, NULL,
	    h_shops_roi },
	/* the owner's actions (routes_owner.c) */
	{ "POST", "/api/shops/{id}/rollback",       API_AUTH,
	    &body_owner_rollback, h_owner_rollback },
	{ "POST", "/api/shops/{id}/designs/retry",  API_AUTH,
	    &body_owner_retry, h_owner_retry_design },
	{ "POST", "/api/shops/{id}/jobs/pause",     API_AUTH,
	    &body_owner_job, h_owner_pause_job },
	{ "POST", "/api/shops/{id}/jobs/resume",    API_AUTH,
	    &body_owner_job, h_owner_resume_job },
	{ "POST", "/api/shops/{id}/jobs/run",       API_AUTH,
	    &body_owner_job, h_owner_run_job },
	{ "GET",  "/api/shops/{id}/replace-preview", API_AUTH, NULL,
	    h_owner_replace_preview },
#define OAUTH_ROUTES(name) \
	{ "POST", "/api/oauth/" #name "/start",     API_AUTH, \
	    &body_oauth_start, h_oauth_start_##name }, \
	{ "GET",  "/api/oauth/" #name "/callback",  API_PUBLIC, NULL, \
	    h_oauth_callback_##name }, \
	{ "DELETE", "/api/oauth/" #name,            API_AUTH, NULL, \
	    h_oauth_delete_##name },
	OAUTH_ROUTES(pinterest)
	OAUTH_ROUTES(meta)
	OAUTH_ROUTES(google)
#undef OAUTH_ROUTES
};

size_t
router_routes(const struct api_route **table)
{
	*table = routes;
	return RB_NELEM(routes);
}

/* Compares one pattern segment [p, pe) with a path segment [s, se). */
static bool
segment_match(const char *p, size_t plen, const char *s, size_t slen,
    char id[37])
{
	char tmp[37];
	size_t i;

	if (plen == 4 && memcmp(p, "{id}", 4) == 0) {
		if (slen != 36)
			return false;
		memcpy(tmp, s, 36);
		tmp[36] = '\0';
		if (!rb_is_uuid(tmp))
			return false;
		for (i = 0; i < 36; i++)
			id[i] = (char)tolower((unsigned char)tmp[i]);
		id[36] = '\0';
		return true;
	}
	return plen == slen && memcmp(p, s, plen) == 0;
}

static bool
path_match(const char *pattern, const char *path, char id[37])
{
	const char *p = pattern, *s = path, *pe, *se;

	if (*p != '/' || *s != '/')
		return false;
	for (;;) {
		p++;
		s++;
		pe = strchr(p, '/');
		se = strchr(s, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		if (se == NULL)
			se = s + strlen(s);
		if (se == s)		/* empty segment: "//" or trailing '/' */
			return false;
		if (!segment_match(p, (size_t)(pe - p), s, (size_t)(se - s),
		    id))
			return false;
		if (*pe == '\0' || *se == '\0')
			return *pe == '\0' && *se == '\0';
		p = pe;
		s = se;
	}
}

static void
allow_add(char *allow, size_t allowsz, const char *method)
{
	size_t len = strlen(allow), mlen = strlen(method);
	const char *q = allow;

	/* already listed? */
	while ((q = strstr(q, method)) != NULL) {
		if ((q == allow || q[-1] == ' ') &&
		    (q[mlen] == '\0' || q[mlen] == ','))
			return;
		q += mlen;
	}
	if (len + mlen + 3 > allowsz)
		return;
	if (len > 0) {
		/* not terminated here: the method and its NUL follow */
		memcpy(allow + len, ", ", 2); /* NOLINT(bugprone-not-null-terminated-result) */
		len += 2;
	}
	memcpy(allow + len, method, mlen + 1);
}

enum router_result
router_match(const char *method, const char *path,
    const struct api_route **route, char id[37], char *allow, size_t allowsz)
{
	size_t i;
	bool head = strcmp(method, "HEAD") == 0;
	char tmp[37];

	*route = NULL;
	id[0] = '\0';
	if (allowsz > 0)
		allow[0] = '\0';
	for (i = 0; i < RB_NELEM(routes); i++) {
		tmp[0] = '\0';
		if (!path_match(routes[i].pattern, path, tmp))
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    (head && strcmp(routes[i].method, "GET") == 0)) {
			*route = &routes[i];
			memcpy(id, tmp, sizeof(tmp));
			return ROUTE_FOUND;
		}
		allow_add(allow, allowsz, routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			allow_add(allow, allowsz, "HEAD");
	}
	return allowsz > 0 && allow[0] != '\0' ? ROUTE_BAD_METHOD :
	    ROUTE_NOT_FOUND;
}

/* ---- query string ------------------------------------------------------- */

/* Percent-decodes [s, s+n) ('+' is a space) into out[outsz]. */
static int
decode_component(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (n - i < 3 ||
			    (h = rb_hexval((unsigned char)s[i + 1])) < 0 ||
			    (l = rb_hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return rb_utf8_text_chars((const unsigned char *)out, o) >= 0 ? 0 : -1;
}

int
router_parse_query(const char *qs, struct api_ctx *ctx, struct rb_err *err)
{
	const char *p = qs, *amp, *eq;

	ctx->nquery = 0;
	if (qs == NULL)
		return 0;
	while (*p != '\0') {
		struct api_query_pair *q;
		size_t len;

		amp = strchr(p, '&');
		len = amp ? (size_t)(amp - p) : strlen(p);
		if (len == 0)
			goto next;
		if (ctx->nquery >= API_QUERY_MAX)
			return rb_err_set(err, 400, "invalid_query",
			    "The query string has more than %d parameters.",
			    API_QUERY_MAX);
		q = &ctx->query[ctx->nquery];
		eq = memchr(p, '=', len);
		if (decode_component(p, eq ? (size_t)(eq - p) : len, q->key,
		    sizeof(q->key)) == -1 || q->key[0] == '\0')
			return rb_err_set(err, 400, "invalid_query",
			    "A query parameter name is empty, too long or "
			    "badly %%-encoded.");
		if (decode_component(eq ? eq + 1 : p + len,
		    eq ? len - (size_t)(eq - p) - 1 : 0, q->value,
		    sizeof(q->value)) == -1)
			return rb_err_set(err, 400, "invalid_query",
			    "The query parameter '%s' is too long or badly "
			    "%%-encoded.", q->key);
		ctx->nquery++;
next:
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

const char *
api_query_get(const struct api_ctx *ctx, const char *key)
{
	int i;

	for (i = 0; i < ctx->nquery; i++)
		if (strcmp(ctx->query[i].key, key) == 0)
			return ctx->query[i].value;
	return NULL;
}
