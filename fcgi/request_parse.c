/*
 * request_parse.c - the params, path, Content-Length, Content-Type,
 * Bearer token and JSON body of a request, from what nginx sent (see
 * request_parse.h).  No FCGX_* call here: request.c passes libfcgi's
 * environment and a reader over its input stream.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "request_parse.h"
#include "util.h"

/*
 * The params we read, found in one pass over the request's environment
 * (FCGX_GetParam scans all of it once per name; nginx sends ~25 params).
 * The first occurrence of a name wins, as with FCGX_GetParam.
 */
enum req_param {
	P_METHOD, P_DOCUMENT_URI, P_SCRIPT_NAME, P_PATH_INFO, P_QUERY,
	P_CTYPE, P_CLEN, P_AUTH, P_REQID, P_COUNT
};

static const struct {
	const char	*name;
	size_t		 len;
} req_params[P_COUNT] = {
#define RP(name)	{ name, sizeof(name) - 1 }
	[P_METHOD] = RP("REQUEST_METHOD"),
	[P_DOCUMENT_URI] = RP("DOCUMENT_URI"),
	[P_SCRIPT_NAME] = RP("SCRIPT_NAME"),
	[P_PATH_INFO] = RP("PATH_INFO"),
	[P_QUERY] = RP("QUERY_STRING"),
	[P_CTYPE] = RP("CONTENT_TYPE"),
	[P_CLEN] = RP("CONTENT_LENGTH"),
	[P_AUTH] = RP("HTTP_AUTHORIZATION"),
	[P_REQID] = RP("HTTP_X_REQUEST_ID"),
#undef RP
};

static void
find_params(char *const *envp, const char *val[P_COUNT])
{
	size_t k;

	for (k = 0; k < P_COUNT; k++)
		val[k] = NULL;
	if (envp == NULL)
		return;
	for (; *envp != NULL; envp++) {
		const char *e = *envp;

		for (k = 0; k < P_COUNT; k++) {
			const char *n = req_params[k].name;
			size_t len = req_params[k].len;

			/* the first two characters first: cheap, and they
			 * rule out almost every other param */
			if (e[0] != n[0] || e[1] != n[1] || val[k] != NULL ||
			    strncmp(e, n, len) != 0 || e[len] != '=')
				continue;
			val[k] = e + len + 1;
			break;
		}
	}
}

/* Copies a param's value v into dst; 1 when absent, -1 when too long. */
static int
copy_param(const char *v, char *dst, size_t dstsz)
{
	dst[0] = '\0';
	if (v == NULL)
		return 1;
	if (rb_strlcpy(dst, v, dstsz) >= dstsz)
		return -1;
	return 0;
}

void
req_info_init(struct req_info *ri)
{
	ri->method[0] = ri->uri[0] = ri->query[0] = ri->ctype[0] = '\0';
	ri->auth[0] = ri->reqid[0] = ri->clen[0] = '\0';
	ri->has_clen = false;
}

bool
req_reqid_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '-' || c == '_' ||
		    c == '.' || c == ':'))
			return false;
	}
	return n > 0 && n < REQ_REQID_MAX;
}

/* DOCUMENT_URI, else SCRIPT_NAME + PATH_INFO, else "/"; -1: too long. */
static int
assemble_uri(const char *v[P_COUNT], struct req_info *ri)
{
	char tmp[REQ_URI_MAX];
	int rc;

	rc = copy_param(v[P_DOCUMENT_URI], ri->uri, sizeof(ri->uri));
	if (rc == 1 || (rc == 0 && ri->uri[0] == '\0')) {
		/* no DOCUMENT_URI: SCRIPT_NAME + PATH_INFO */
		if (copy_param(v[P_SCRIPT_NAME], ri->uri,
		    sizeof(ri->uri)) == -1 ||
		    copy_param(v[P_PATH_INFO], tmp, sizeof(tmp)) == -1 ||
		    strlen(ri->uri) + strlen(tmp) >= sizeof(ri->uri))
			rc = -1;
		else {
			memcpy(ri->uri + strlen(ri->uri), tmp,
			    strlen(tmp) + 1);
			rc = 0;
		}
	}
	if (rc == -1)
		return -1;
	if (ri->uri[0] == '\0')
		rb_strlcpy(ri->uri, "/", sizeof(ri->uri));
	return 0;
}

int
req_read_params(char *const *envp, struct req_info *ri, struct rb_err *err)
{
	const char *v[P_COUNT];
	int rc;

	find_params(envp, v);
	if (copy_param(v[P_METHOD], ri->method, sizeof(ri->method)) != 0 ||
	    ri->method[0] == '\0')
		return rb_err_set(err, 400, "bad_request",
		    "The request has no valid method.");
	if (assemble_uri(v, ri) == -1)
		return rb_err_set(err, 414, "uri_too_long",
		    "The request path is longer than %d bytes.",
		    REQ_URI_MAX - 1);
	if (copy_param(v[P_QUERY], ri->query, sizeof(ri->query)) == -1)
		return rb_err_set(err, 414, "uri_too_long",
		    "The query string is longer than %d bytes.",
		    REQ_QUERY_MAX - 1);
	if (copy_param(v[P_CTYPE], ri->ctype, sizeof(ri->ctype)) == -1)
		return rb_err_set(err, 415, "unsupported_media_type",
		    "Send the body as Content-Type: application/json.");
	rc = copy_param(v[P_CLEN], ri->clen, sizeof(ri->clen));
	if (rc == -1)
		return rb_err_set(err, 400, "invalid_content_length",
		    "The Content-Length header is not a valid number.");
	ri->has_clen = rc == 0 && ri->clen[0] != '\0';
	/* An over-long Authorization is no token we could accept; keep a
	 * marker so that it is refused as invalid, not as missing.  The
	 * cut-off token is wiped in full first: request.c's auth_wipe()
	 * later wipes only up to the first NUL. */
	if (copy_param(v[P_AUTH], ri->auth, sizeof(ri->auth)) == -1) {
		OPENSSL_cleanse(ri->auth, sizeof(ri->auth));
		rb_strlcpy(ri->auth, "Bearer -", sizeof(ri->auth));
	}
	if (copy_param(v[P_REQID], ri->reqid, sizeof(ri->reqid)) != 0 ||
	    !req_reqid_ok(ri->reqid))
		ri->reqid[0] = '\0';
	return 0;
}

int
req_content_length(const struct req_info *ri, long *out)
{
	const char *s = ri->clen;
	size_t n = strlen(s), i;

	*out = 0;
	if (!ri->has_clen)
		return 0;
	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	return rb_parse_long(s, 0, LONG_MAX, out);
}

bool
req_is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	const char *p;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	p = ct + sizeof(want) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return true;
	if (*p != ';')
		return false;
	/* a charset parameter, when given, must be UTF-8 */
	for (; *p != '\0'; p++)
		if (strncasecmp(p, "charset=", 8) == 0)
			break;
	if (*p != '\0') {
		p += 8;
		if (*p == '"')
			p++;
		return strncasecmp(p, "utf-8", 5) == 0 &&
		    (p[5] == '\0' || p[5] == '"' || p[5] == ';' ||
		    p[5] == ' ');
	}
	return true;
}

int
req_bearer(const char *auth, const char **tok, struct rb_err *err)
{
	const char *t = auth;

	*tok = NULL;
	if (t[0] == '\0')
		return rb_err_set(err, 401, "missing_token",
		    "Sign in first: the request has no Authorization: Bearer "
		    "token.");
	if (strncasecmp(t, "Bearer", 6) != 0 || (t[6] != ' ' &&
	    t[6] != '\t'))
		return rb_err_set(err, 401, "invalid_token",
		    "The Authorization header must be \"Bearer\" followed by "
		    "the access token; sign in again.");
	t += 6;
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t == '\0')
		return rb_err_set(err, 401, "missing_token",
		    "Sign in first: the Authorization header has no token.");
	*tok = t;
	return 0;
}

/* Content-Length valid and within max (the checks of every body). */
static int
body_length(const struct req_info *ri, long max, long *clen,
    struct rb_err *err)
{
	if (req_content_length(ri, clen) == -1)
		return rb_err_set(err, 400, "invalid_content_length",
		    "The Content-Length header is not a valid number.");
	if (*clen > max)
		return rb_err_set(err, 413, "body_too_large",
		    "The request body is larger than %ld bytes.", max);
	return 0;
}

static long
body_cap(long body_max)
{
	long max = body_max > 0 ? body_max : REQ_BODY_DEFAULT;

	return max > INT_MAX ? INT_MAX : max;
}

/* Reads exactly clen (1..INT_MAX) bytes through rd into a new *buf. */
static int
read_exact(req_read_fn rd, void *arg, long clen, char **buf,
    struct rb_err *err)
{
	int got = 0, n;

	if ((*buf = malloc((size_t)clen)) == NULL)
		return rb_err_oom(err);
	while (got < clen) {
		n = rd(arg, *buf + got, (int)clen - got);
		if (n <= 0)
			break;
		got += n;
	}
	if (got < clen) {
		OPENSSL_cleanse(*buf, (size_t)clen);
		free(*buf);
		*buf = NULL;
		return rb_err_set(err, 400, "incomplete_body",
		    "The request body ended after %d of %ld bytes.", got, clen);
	}
	return 0;
}

int
req_read_raw_body(const struct req_info *ri, long body_max, req_read_fn rd,
    void *arg, unsigned char **buf, size_t *len, struct rb_err *err)
{
	long clen = 0;

	*buf = NULL;
	*len = 0;
	if (body_length(ri, body_cap(body_max), &clen, err) == -1)
		return -1;
	if (clen == 0)
		return 0;
	if (read_exact(rd, arg, clen, (char **)buf, err) == -1)
		return -1;
	*len = (size_t)clen;
	return 0;
}

int
req_read_body(const struct req_info *ri, long body_max, req_read_fn rd,
    void *arg, json_t **root, struct rb_err *err)
{
	json_error_t jerr;
	char *buf = NULL, *near;
	long clen = 0;

	*root = NULL;
	if (body_length(ri, body_cap(body_max), &clen, err) == -1)
		return -1;
	if (!req_is_json_type(ri->ctype))
		return rb_err_set(err, 415, "unsupported_media_type",
		    "Send the body as JSON with Content-Type: "
		    "application/json.");
	if (clen == 0)
		return rb_err_set(err, 400, "invalid_json",
		    "The request body is empty; send a JSON object.");
	if (read_exact(rd, arg, clen, &buf, err) == -1)
		return -1;
	*root = json_loadb(buf, (size_t)clen, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL) {
		/* jansson's text may quote the input ("near '...'"), which
		 * could be a token: keep only the description. */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		rb_err_set(err, 400, "invalid_json",
		    "The request body is not valid JSON: %s at line %d, "
		    "column %d (byte %d).", jerr.text, jerr.line, jerr.column,
		    jerr.position);
	} else if (!json_is_object(*root)) {
		rb_err_set(err, 400, "invalid_json",
		    "The request body must be a JSON object.");
		json_decref(*root);
		*root = NULL;
	}
	OPENSSL_cleanse(buf, (size_t)clen);
	free(buf);
	return *root != NULL ? 0 : -1;
}
