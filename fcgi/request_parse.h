/*
 * request_parse.h - what reboss-api reads from nginx, as pure functions
 * (no FCGX_* call): the params, the request path, Content-Length, the
 * Content-Type, the Bearer split and the JSON body.  request.c calls them
 * with what libfcgi hands it; fuzz/fuzz_request.c drives them directly.
 */
#ifndef RB_REQUEST_PARSE_H
#define RB_REQUEST_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "jwt.h"
#include "rb.h"

#define REQ_METHOD_MAX	16
#define REQ_URI_MAX	2048
#define REQ_QUERY_MAX	4096
#define REQ_CTYPE_MAX	256
#define REQ_AUTH_MAX	(JWT_MAX_LEN + 32)
#define REQ_REQID_MAX	65
#define REQ_BODY_DEFAULT 65536	/* api_body_max unset */

/* What we keep of one request's params, copied into bounded buffers.
 * Not zeroed per request (it is ~15 KB): req_info_init() empties every
 * string, req_read_params() fills them, and nothing reads past a
 * string's NUL.  request.c wipes auth as soon as it is no longer needed. */
struct req_info {
	char	method[REQ_METHOD_MAX];
	char	uri[REQ_URI_MAX];
	char	query[REQ_QUERY_MAX];
	char	ctype[REQ_CTYPE_MAX];
	char	auth[REQ_AUTH_MAX];
	char	reqid[REQ_REQID_MAX];	/* "" when absent or not usable */
	char	clen[32];
	bool	has_clen;
};

void	req_info_init(struct req_info *ri);
/* Reads the params of envp (FCGX_ParamArray: "NAME=value" strings, NULL
 * at the end; the first of a name wins).  400 bad_request (no method),
 * 414 uri_too_long (path or query), 415 unsupported_media_type (type too
 * long), 400 invalid_content_length.  The path is DOCUMENT_URI, else
 * SCRIPT_NAME + PATH_INFO, else "/".  An over-long Authorization becomes
 * "Bearer -" (refused as invalid, not as missing); an unusable
 * X-Request-Id leaves reqid "" for the caller to make one. */
int	req_read_params(char *const *envp, struct req_info *ri,
	    struct rb_err *err) RB_WUR;
/* True when s is a usable request id: 1..64 of [0-9A-Za-z_.:-]. */
bool	req_reqid_ok(const char *s);
/* Strict Content-Length: digits only, at most 18; 0 when absent. */
int	req_content_length(const struct req_info *ri, long *out) RB_WUR;
/* application/json, with an optional charset that must be UTF-8. */
bool	req_is_json_type(const char *ct);
/* "Bearer <token>" (case-insensitive scheme, spaces or tabs): *tok points
 * into auth.  401 missing_token / invalid_token otherwise. */
int	req_bearer(const char *auth, const char **tok, struct rb_err *err)
	    RB_WUR;

/* Reads up to n bytes into buf; the number read, 0 or less at the end. */
typedef int (*req_read_fn)(void *arg, char *buf, int n);
/* The JSON object body: Content-Length (400) within body_max (<= 0: the
 * default; 413), Content-Type (415), not empty, read in full through rd
 * (400 incomplete_body), JSON (400 invalid_json, without jansson's quote
 * of the input), an object.  *root is the caller's; the raw bytes are
 * wiped. */
int	req_read_body(const struct req_info *ri, long body_max, req_read_fn rd,
	    void *arg, json_t **root, struct rb_err *err) RB_WUR;
/* The body as received (routes with api_raw_body: webhooks, whose HMAC
 * is over the exact bytes): Content-Length (400) within body_max (413),
 * read in full (400 incomplete_body).  *buf is the caller's (NULL and
 * *len 0 for an empty body). */
int	req_read_raw_body(const struct req_info *ri, long body_max,
	    req_read_fn rd, void *arg, unsigned char **buf, size_t *len,
	    struct rb_err *err) RB_WUR;

#endif
