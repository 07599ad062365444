/*
 * fuzz_shopify.c - Shopify's answers as lib/shopify.c reads them
 * (owner: fuzzing): the JSON of shopify_graphql (errors, THROTTLED,
 * extensions.cost, data), pagination (pageInfo, nodes) and the mapping of
 * shop and collections to PRODUCT.md's shapes.
 *
 * lib/shopify.c has no pure entry point for an answer, so this harness
 * supplies its own http_request() and http_response_free() (the only
 * lib/http.c symbols shopify.o needs; lib/http.o is then never taken from
 * the archive): each call answers with the next chunk of the input.
 *
 * Input: byte 0 = mode (mod 4): shopify_graphql, shopify_get_shop,
 * shopify_get_collections, shopify_paginate("collections").  The rest is
 * answers separated by NUL bytes; an answer that starts with three digits
 * and a space ("429 ...") has that HTTP status, otherwise 200.  When the
 * answers run out the transport fails (upstream_unreachable).
 * The stop flag is set, so a throttle wait ends at once as "cancelled".
 * Invariants: success gives a JSON object/array as documented; failure
 * gives a status and a code; no call succeeds without an answer.
 */
#include <jansson.h>
#include <signal.h>
#include <syslog.h>

#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "shopify.h"

const char fuzz_target[] = "shopify";

static const uint8_t *next;
static size_t left;
static int answers;

int
http_request(struct http_client *hc, const struct http_request *req,
    struct http_response *resp, struct rb_err *err)
{
	const uint8_t *e;
	size_t n;
	long status = 200;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (hc == NULL || req == NULL || req->url == NULL)
		abort();
	if (next == NULL)
		return rb_err_set(err, 502, "upstream_unreachable",
		    "fake: no more answers");
	e = memchr(next, '\0', left);
	n = e != NULL ? (size_t)(e - next) : left;
	if (n >= 4 && next[0] >= '0' && next[0] <= '9' && next[1] >= '0' &&
	    next[1] <= '9' && next[2] >= '0' && next[2] <= '9' &&
	    next[3] == ' ') {
		status = (next[0] - '0') * 100 + (next[1] - '0') * 10 +
		    (next[2] - '0');
		resp->body = fuzz_str(next + 4, n - 4);
		resp->len = n - 4;
	} else {
		resp->body = fuzz_str(next, n);
		resp->len = n;
	}
	resp->status = status;
	resp->attempts = 1;
	answers++;
	if (e != NULL) {
		left -= n + 1;
		next = e + 1;
	} else
		next = NULL;
	return 0;
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

static int
page_cb(void *ctx, json_t *nodes, struct rb_err *err)
{
	FUZZ_CHECK(json_is_array(nodes));
	(*(size_t *)ctx) += json_array_size(nodes);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static volatile sig_atomic_t stop = 1;
	static char fake_client[16];
	struct shopify s;
	struct rb_err err;
	json_t *out = NULL;
	size_t count = 0;
	int rc = -1;

	if (size < 1 || size > 1024 * 1024)
		return 0;
	log_set_level(LOG_EMERG);
	next = data + 1;
	left = size - 1;
	answers = 0;
	memset(&s, 0, sizeof(s));
	if (shopify_open(&s, (struct http_client *)(void *)fake_client, NULL,
	    "fuzz-shop.myshopify.com", "shpat_0123456789abcdef0123456789ab",
	    &err) == -1) {
		fprintf(stderr, "shopify_open: %s\n", err.msg);
		abort();
	}
	s.stop = &stop;
	s.max_throttle_retries = 3;
	rb_err_clear(&err);
	switch (data[0] % 4) {
	case 0:
		rc = shopify_graphql(&s, "query { shop { name } }", NULL, &out,
		    &err);
		if (rc == 0)
			FUZZ_CHECK(json_is_object(out));
		break;
	case 1:
		rc = shopify_get_shop(&s, &out, &err);
		if (rc == 0)
			FUZZ_CHECK(json_is_object(out));
		break;
	case 2:
		rc = shopify_get_collections(&s, &out, &err);
		if (rc == 0)
			FUZZ_CHECK(json_is_array(out) || json_is_object(out));
		break;
	default:
		rc = shopify_paginate(&s, "query($cursor: String) { "
		    "collections(first: 250, after: $cursor) { nodes { id } "
		    "pageInfo { hasNextPage endCursor } } }", NULL,
		    "collections", page_cb, &count, &err);
		break;
	}
	if (rc == 0)
		FUZZ_CHECK(answers > 0);
	else
		FUZZ_CHECK(err.code[0] != '\0');
	json_decref(out);
	shopify_close(&s);
	return 0;
}
