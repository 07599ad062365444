/*
 * fuzz_request.c - what nginx sends reboss-api through FastCGI (owner:
 * fuzzing): the params (req_read_params: method, path assembly, query,
 * Content-Type, Content-Length, Authorization, X-Request-Id), the strict
 * Content-Length, the Content-Type check, the Bearer split and the body
 * reader (req_read_body), all from fcgi/request_parse.c.
 *
 * Input: byte 0 = mode.
 *   even: params.  The rest is "NAME=value" entries separated by NUL (the
 *         FCGX_ParamArray); each is also checked against a simple model of
 *         what request.c must keep.
 *   odd:  body.  Byte 1: bits 0..2 pick body_max, bits 3..5 the chunk
 *         sizes the reader hands out, bit 6 makes the reader fail (-1)
 *         instead of ending (0), bit 7 reads the raw body (webhooks)
 *         instead of the JSON one.  Then "content-length\ncontent-type\n"
 *         and the bytes nginx would stream.
 * Invariants:
 *   params: the result (or the error's status and code) equals the model:
 *     first occurrence of a name wins; path = DOCUMENT_URI, else
 *     SCRIPT_NAME + PATH_INFO, else "/"; each value fits or is refused
 *     with its own status; an over-long Authorization is "Bearer -"; an
 *     unusable request id is "".  Content-Length accepted <=> 1..18 digits.
 *     Bearer accepted => the token starts right after "Bearer" and its
 *     blanks and is not empty; refused => 401 missing/invalid_token.
 *   body: accepted <=> Content-Length valid, <= the cap, JSON type, not 0,
 *     that many bytes arrived and they are a JSON object (jansson says so
 *     on the same bytes); the reader is never asked for more than what
 *     is left of Content-Length; each refusal has its status and code;
 *     no 12 letters or digits in a row of the body (a piece of a token)
 *     are quoted in the message.  Raw body: accepted <=> Content-Length
 *     valid, <= the cap and 0 or that many bytes arrived; then exactly
 *     those bytes (NULL for none).
 */
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <strings.h>

#include "../fcgi/request_parse.h"
#include "fuzz.h"

const char fuzz_target[] = "request";

#define ENV_MAX	64

/* The first value of NAME in env, or NULL. */
static const char *
model_param(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static bool
fits(const char *v, size_t cap)
{
	return v == NULL || strlen(v) < cap;
}

static void
check_err(int rc, const struct rb_err *err, int status, const char *code)
{
	FUZZ_CHECK(rc == -1);
	FUZZ_CHECK(err->status == status);
	FUZZ_CHECK(strcmp(err->code, code) == 0);
}

/* What req_read_params must give for env. */
static void
check_params(char *const *env, int rc, const struct req_info *ri,
    const struct rb_err *err)
{
	const char *m = model_param(env, "REQUEST_METHOD");
	const char *du = model_param(env, "DOCUMENT_URI");
	const char *sn = model_param(env, "SCRIPT_NAME");
	const char *pi = model_param(env, "PATH_INFO");
	const char *q = model_param(env, "QUERY_STRING");
	const char *ct = model_param(env, "CONTENT_TYPE");
	const char *cl = model_param(env, "CONTENT_LENGTH");
	const char *au = model_param(env, "HTTP_AUTHORIZATION");
	const char *id = model_param(env, "HTTP_X_REQUEST_ID");
	char uri[REQ_URI_MAX * 2 + 2];
	bool uri_ok;

	if (m == NULL || m[0] == '\0' || !fits(m, REQ_METHOD_MAX)) {
		check_err(rc, err, 400, "bad_request");
		return;
	}
	if (du != NULL && du[0] != '\0') {
		uri_ok = fits(du, REQ_URI_MAX);
		rb_strlcpy(uri, du, sizeof(uri));
	} else {
		uri_ok = fits(sn, REQ_URI_MAX) && fits(pi, REQ_URI_MAX);
		uri[0] = '\0';
		if (uri_ok) {
			(void)snprintf(uri, sizeof(uri), "%s%s", sn ? sn : "",
			    pi ? pi : "");
			uri_ok = strlen(uri) < REQ_URI_MAX;
		}
		if (uri[0] == '\0')
			rb_strlcpy(uri, "/", sizeof(uri));
	}
	if (!uri_ok || !fits(q, REQ_QUERY_MAX)) {
		check_err(rc, err, 414, "uri_too_long");
		return;
	}
	if (!fits(ct, REQ_CTYPE_MAX)) {
		check_err(rc, err, 415, "unsupported_media_type");
		return;
	}
	if (!fits(cl, sizeof(ri->clen))) {
		check_err(rc, err, 400, "invalid_content_length");
		return;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(strcmp(ri->method, m) == 0);
	FUZZ_CHECK(strcmp(ri->uri, uri) == 0);
	FUZZ_CHECK(strcmp(ri->query, q ? q : "") == 0);
	FUZZ_CHECK(strcmp(ri->ctype, ct ? ct : "") == 0);
	FUZZ_CHECK(strcmp(ri->clen, cl ? cl : "") == 0);
	FUZZ_CHECK(ri->has_clen == (cl != NULL && cl[0] != '\0'));
	FUZZ_CHECK(strcmp(ri->auth, au == NULL ? "" : fits(au, REQ_AUTH_MAX) ?
	    au : "Bearer -") == 0);
	if (id != NULL && fits(id, REQ_REQID_MAX) && id[0] != '\0' &&
	    strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:") == strlen(id))
		FUZZ_CHECK(strcmp(ri->reqid, id) == 0);
	else
		FUZZ_CHECK(ri->reqid[0] == '\0');
	FUZZ_CHECK(ri->reqid[0] == '\0' || req_reqid_ok(ri->reqid));
}

static void
check_clen(const struct req_info *ri)
{
	long v = -7;
	int rc = req_content_length(ri, &v);
	size_t n = strlen(ri->clen);
	bool digits = n >= 1 && n <= 18 &&
	    strspn(ri->clen, "0123456789") == n;

	if (!ri->has_clen) {
		FUZZ_CHECK(rc == 0 && v == 0);
		return;
	}
	FUZZ_CHECK((rc == 0) == digits);
	if (rc == 0) {
		/* an independent conversion: 18 digits fit a long */
		long want = 0;
		size_t i;

		for (i = 0; i < n; i++)
			want = want * 10 + (ri->clen[i] - '0');
		FUZZ_CHECK(v == want);
	}
}

static void
check_bearer(const char *auth)
{
	const char *tok = auth;
	struct rb_err err;
	size_t lead;
	int rc;

	rb_err_clear(&err);
	rc = req_bearer(auth, &tok, &err);
	lead = strncasecmp(auth, "bearer", 6) == 0 ? 6 + strspn(auth + 6,
	    " \t") : 0;
	if (rc == 0) {
		FUZZ_CHECK(lead > 6 && tok == auth + lead && *tok != '\0');
		return;
	}
	FUZZ_CHECK(tok == NULL && err.status == 401);
	if (auth[0] == '\0' || (lead > 6 && auth[lead] == '\0'))
		FUZZ_CHECK(strcmp(err.code, "missing_token") == 0);
	else
		FUZZ_CHECK(strcmp(err.code, "invalid_token") == 0 &&
		    lead <= 6);
}

static void
params(const uint8_t *data, size_t size)
{
	char *env[ENV_MAX + 1];
	struct req_info ri;
	struct rb_err err;
	size_t n = 0, i;
	int rc;

	while (size > 0 && n < ENV_MAX)
		env[n++] = fuzz_field(&data, &size, '\0');
	env[n] = NULL;
	memset(&ri, 0x5a, sizeof(ri));	/* nothing may read stale bytes */
	req_info_init(&ri);
	rb_err_clear(&err);
	rc = req_read_params(env, &ri, &err);
	check_params(env, rc, &ri, &err);
	if (rc == 0) {
		check_clen(&ri);
		check_bearer(ri.auth);
		(void)req_is_json_type(ri.ctype);
	}
	for (i = 0; i < n; i++)
		free(env[i]);
}

/* ---- the body ------------------------------------------------------------ */

struct reader {
	const uint8_t	*p;
	size_t		 left;
	unsigned	 chunks;	/* pattern of chunk sizes */
	bool		 fail;		/* end with -1, not 0 */
	long		 clen;		/* Content-Length, when valid */
	long		 given;		/* bytes handed out */
	unsigned	 calls;
};

static int
rd(void *arg, char *buf, int n)
{
	static const int sizes[8][4] = {
		{ INT_MAX, INT_MAX, INT_MAX, INT_MAX }, { 1, 1, 1, 1 },
		{ 1, 7, 3, 64 }, { 4096, 1, 2, 3 }, { 2, 2, 2, 2 },
		{ 5, 11, 13, 17 }, { 100, 1000, 1, 10 }, { 3, 1, 4, 1 },
	};
	struct reader *r = arg;
	int want = sizes[r->chunks][r->calls++ % 4];
	size_t k;

	/* never asked for more than announced: the next request's bytes
	 * must stay in the stream */
	FUZZ_CHECK(n > 0 && n <= r->clen - r->given);
	if (r->left == 0)
		return r->fail ? -1 : 0;
	k = (size_t)(want < n ? want : n);
	if (k > r->left)
		k = r->left;
	memcpy(buf, r->p, k);
	r->p += k;
	r->left -= k;
	r->given += (long)k;
	return (int)k;
}

/* No 12 letters and digits in a row of the body (a piece of a token)
 * show up in msg: jansson quotes up to 15 characters of what it met. */
static void
no_quote(const uint8_t *b, size_t n, const char *msg)
{
	char win[13];
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		run = isalnum(b[i]) ? run + 1 : 0;
		if (run < 12)
			continue;
		memcpy(win, b + i - 11, 12);
		win[12] = '\0';
		if (strstr(msg, win) != NULL) {
			fprintf(stderr, "message quotes the body: %s\n", msg);
			abort();
		}
	}
}

static void
raw_body(struct reader *r, const struct req_info *ri, long max, long cap,
    const uint8_t *data, size_t size)
{
	unsigned char *buf = (unsigned char *)r;
	struct rb_err err;
	size_t len = 7;
	long clen = 0;
	int rc;

	rb_err_clear(&err);
	rc = req_read_raw_body(ri, max, rd, r, &buf, &len, &err);
	if (req_content_length(ri, &clen) == -1)
		check_err(rc, &err, 400, "invalid_content_length");
	else if (clen > cap)
		check_err(rc, &err, 413, "body_too_large");
	else if ((size_t)clen > size)
		check_err(rc, &err, 400, "incomplete_body");
	else {
		FUZZ_CHECK(rc == 0 && len == (size_t)clen &&
		    r->given == clen);
		FUZZ_CHECK(clen == 0 ? buf == NULL :
		    memcmp(buf, data, len) == 0);
	}
	if (rc == -1)
		FUZZ_CHECK(buf == NULL && len == 0);
	if (clen <= cap)
		FUZZ_CHECK(r->calls == 0 || clen > 0);
	free(buf);
}

static void
body(unsigned flags, const uint8_t *data, size_t size)
{
	static const long maxes[8] = {
		0, 1, 16, 100, 4096, REQ_BODY_DEFAULT, LONG_MAX, -5,
	};
	long max = maxes[flags & 7], cap, clen = 0;
	struct reader r = { .chunks = (flags >> 3) & 7, .fail = flags & 64 };
	struct req_info ri;
	struct rb_err err;
	char *cl = fuzz_field(&data, &size, '\n');
	char *ct = fuzz_field(&data, &size, '\n');
	json_t *root = (json_t *)&r, *want;
	int rc;

	req_info_init(&ri);
	rb_strlcpy(ri.clen, cl, sizeof(ri.clen));
	ri.has_clen = cl[0] != '\0';
	rb_strlcpy(ri.ctype, ct, sizeof(ri.ctype));
	r.p = data;
	r.left = size;
	if (req_content_length(&ri, &r.clen) == -1)
		r.clen = 0;
	rb_err_clear(&err);
	cap = max > 0 ? max : REQ_BODY_DEFAULT;
	if (cap > INT_MAX)
		cap = INT_MAX;
	if (flags & 128) {
		raw_body(&r, &ri, max, cap, data, size);
		goto out;
	}
	rc = req_read_body(&ri, max, rd, &r, &root, &err);
	if (req_content_length(&ri, &clen) == -1) {
		check_err(rc, &err, 400, "invalid_content_length");
		FUZZ_CHECK(r.calls == 0);
	} else if (clen > cap) {
		check_err(rc, &err, 413, "body_too_large");
		FUZZ_CHECK(r.calls == 0);
	} else if (!req_is_json_type(ri.ctype)) {
		check_err(rc, &err, 415, "unsupported_media_type");
		FUZZ_CHECK(r.calls == 0);
	} else if (clen == 0) {
		check_err(rc, &err, 400, "invalid_json");
		FUZZ_CHECK(r.calls == 0);
	} else if ((size_t)clen > size) {
		check_err(rc, &err, 400, "incomplete_body");
	} else {
		want = json_loadb((const char *)data, (size_t)clen,
		    JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(want)) {
			FUZZ_CHECK(rc == 0 && json_equal(root, want));
		} else
			check_err(rc, &err, 400, "invalid_json");
		json_decref(want);
		FUZZ_CHECK(r.given == clen);
	}
	FUZZ_CHECK(rc == 0 || root == NULL);
	if (rc == -1)
		no_quote(data, size, err.msg);
	json_decref(root);
out:
	free(cl);
	free(ct);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] % 2 == 0)
		params(data + 1, size - 1);
	else
		body(data[1], data + 2, size - 2);
	return 0;
}
