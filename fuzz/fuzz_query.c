/*
 * fuzz_query.c - the request line as reboss-api reads it (owner:
 * fuzzing): router_parse_query on QUERY_STRING, router_match on the
 * method and path, and, as routes_oauth.c does with the parsed query,
 * oauth_check_callback(code, state, error).  Links fcgi/router.c and the
 * route files (everything of reboss-api but main.c).
 *
 * Input: byte 0 = mode (even: query string, odd: byte 1 picks the method,
 * the rest is the path).
 * Invariants: an accepted query has at most API_QUERY_MAX pairs, each key
 * non-empty, key and value NUL-terminated within their arrays, free of
 * control characters, and api_query_get() returns the first value of a
 * key; a refused one is a 400 "invalid_query".  A matched route has a
 * handler and its {id} (when non-empty) is a lower-case UUID.
 */
#include <ctype.h>

#include "../fcgi/api.h"
#include "fuzz.h"
#include "oauth.h"
#include "util.h"

const char fuzz_target[] = "query";

static void
query(const uint8_t *data, size_t size)
{
	static struct api_ctx ctx;
	char state_out[OAUTH_STATE_LEN + 1];
	struct rb_err err;
	char *qs = fuzz_str(data, size);
	int i, j;
	size_t k;

	memset(&ctx, 0, sizeof(ctx));
	rb_err_clear(&err);
	if (router_parse_query(qs, &ctx, &err) == 0) {
		FUZZ_CHECK(ctx.nquery >= 0 && ctx.nquery <= API_QUERY_MAX);
		for (i = 0; i < ctx.nquery; i++) {
			const struct api_query_pair *q = &ctx.query[i];

			FUZZ_CHECK(memchr(q->key, '\0', sizeof(q->key)));
			FUZZ_CHECK(memchr(q->value, '\0', sizeof(q->value)));
			FUZZ_CHECK(q->key[0] != '\0');
			for (k = 0; q->value[k] != '\0'; k++)
				FUZZ_CHECK((unsigned char)q->value[k] >= 0x20 &&
				    q->value[k] != 0x7f);
			for (j = 0; j < i; j++)
				if (strcmp(ctx.query[j].key, q->key) == 0)
					break;
			FUZZ_CHECK(api_query_get(&ctx, q->key) ==
			    ctx.query[j].value);
		}
		if (oauth_check_callback(api_query_get(&ctx, "code"),
		    api_query_get(&ctx, "state"), api_query_get(&ctx, "error"),
		    state_out, &err) == 0)
			FUZZ_CHECK(strlen(state_out) == OAUTH_STATE_LEN);
	} else
		FUZZ_CHECK(err.status == 400 &&
		    strcmp(err.code, "invalid_query") == 0);
	free(qs);
}

static void
path(unsigned pick, const uint8_t *data, size_t size)
{
	static const char *const methods[] = {
		"GET", "POST", "DELETE", "HEAD", "PUT", "get", "", "OPTIONS",
	};
	const struct api_route *route = NULL;
	char id[37], allow[64];
	char *p = fuzz_str(data, size);
	enum router_result r;
	size_t i;

	memset(id, 0, sizeof(id));
	memset(allow, 0, sizeof(allow));
	r = router_match(methods[pick % RB_NELEM(methods)], p, &route, id,
	    allow, (pick & 0x80) ? 8 : sizeof(allow));
	FUZZ_CHECK(memchr(allow, '\0', sizeof(allow)) != NULL);
	if (r == ROUTE_FOUND) {
		FUZZ_CHECK(route != NULL && route->handler != NULL);
		FUZZ_CHECK(memchr(id, '\0', sizeof(id)) != NULL);
		if (id[0] != '\0') {
			FUZZ_CHECK(rb_is_uuid(id));
			for (i = 0; id[i] != '\0'; i++)
				FUZZ_CHECK(!isupper((unsigned char)id[i]));
		}
	}
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 16384)
		return 0;
	if (data[0] % 2 == 0)
		query(data + 1, size - 1);
	else
		path(data[1], data + 2, size - 2);
	return 0;
}
