/*
 * pinterest.c - Pinterest API v5 client (see pinterest.h).  Owner:
 * pinterest_sync.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config.h"
#include "crypto.h"
#include "http.h"
#include "oauth.h"
#include "log.h"
#include "metrics.h"
#include "pinterest.h"
#include "util.h"

#define PIN_RESPONSE_MAX	(4L * 1024 * 1024)
#define PIN_PAGE_SIZE		"250"
#define PIN_RETRY_5XX		3
#define ELLIPSIS		"\xe2\x80\xa6"	/* U+2026 */

/* ---- pure parts ------------------------------------------------------------ */

/* Appends the plain text of s to b: tags dropped (a tag boundary counts as
 * a space), &amp; &lt; &gt; &quot; &#39; &nbsp; decoded, control characters
 * and runs of whitespace made one space. */
static int
plain_text(const char *s, struct rb_buf *b)
{
	static const struct { const char *ent, *rep; } ents[] = {
		{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
		{ "&quot;", "\"" }, { "&#39;", "'" }, { "&#039;", "'" },
		{ "&apos;", "'" }, { "&nbsp;", " " },
	};
	bool space = true;	/* drops leading whitespace */
	size_t i;

	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;
		const char *rep = NULL;
		size_t skip = 1;

		if (c == '<') {
			const char *e = strchr(s, '>');

			skip = e != NULL ? (size_t)(e - s) + 1 : strlen(s);
			rep = " ";
		} else if (c == '&') {
			for (i = 0; i < RB_NELEM(ents); i++)
				if (strncmp(s, ents[i].ent,
				    strlen(ents[i].ent)) == 0) {
					rep = ents[i].rep;
					skip = strlen(ents[i].ent);
					break;
				}
		}
		if (rep == NULL && (c < 0x20 || c == 0x7f || c == ' '))
			rep = " ";
		if (rep != NULL && strcmp(rep, " ") == 0) {
			if (!space && rb_buf_puts(b, " ") == -1)
				return -1;
			space = true;
		} else if (rep != NULL) {
			if (rb_buf_puts(b, rep) == -1)
				return -1;
			space = false;
		} else {
			if (rb_buf_append(b, s, 1) == -1)
				return -1;
			space = false;
		}
		s += skip;
	}
	/* trailing space */
	while (b->len > 0 && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	return 0;
}

char *
pinterest_trim(const char *s, size_t max)
{
	struct rb_buf b = { .max = 1024 * 1024 };
	size_t chars = 0, i, cut = 0, lastsp = 0, lastsp_chars = 0;
	char *out;

	if (rb_buf_puts(&b, "") == -1 || plain_text(s != NULL ? s : "", &b)
	    == -1) {
		rb_buf_free(&b);
		return NULL;
	}
	if (rb_utf8_len(b.data) <= max || max == 0) {
		if (max == 0)
			b.data[0] = '\0';
		return b.data;
	}
	/* Byte offset where character number max-1 starts: keep max-1
	 * characters and add the ellipsis. */
	for (i = 0; i < b.len; i++) {
		if (((unsigned char)b.data[i] & 0xc0) == 0x80)
			continue;
		if (chars == max - 1) {
			cut = i;
			break;
		}
		if (b.data[i] == ' ') {
			lastsp = i;
			lastsp_chars = chars;
		}
		chars++;
	}
	/* A word boundary in the last fifth is nicer than a cut word. */
	if (lastsp > 0 && lastsp_chars + 1 >= (max - 1) - (max - 1) / 5)
		cut = lastsp;
	while (cut > 0 && b.data[cut - 1] == ' ')
		cut--;
	if ((out = malloc(cut + sizeof(ELLIPSIS))) == NULL) {
		rb_buf_free(&b);
		return NULL;
	}
	memcpy(out, b.data, cut);
	memcpy(out + cut, ELLIPSIS, sizeof(ELLIPSIS));
	rb_buf_free(&b);
	return out;
}

bool
pinterest_valid_url(const char *url, bool allow_http)
{
	const char *h, *end;
	size_t n, i;

	if (url == NULL)
		return false;
	n = strlen(url);
	if (n == 0 || n > PINTEREST_LINK_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' ||
		    c == '>' || c == '\\')
			return false;
	}
	if (strncasecmp(url, "https://", 8) == 0)
		h = url + 8;
	else if (allow_http && strncasecmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return false;
	end = h + strcspn(h, "/?#");
	if (end == h)
		return false;
	for (; h < end; h++) {
		unsigned char c = (unsigned char)*h;

		if (!(isalnum(c) || c == '.' || c == '-' || c == ':' ||
		    c == '[' || c == ']' || c >= 0x80))
			return false;	/* '@' (userinfo), '%', '_'... */
	}
	return true;
}

static bool
valid_id(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n > 0 && n <= PINTEREST_ID_MAX && strspn(s, "0123456789") == n;
}

bool
pinterest_find_board(const json_t *items, const char *marker,
    const char *name, char id[PINTEREST_ID_MAX + 1])
{
	const json_t *b;
	size_t i;
	int pass;

	/* The marker wins over a name: a board renamed by its owner is
	 * still ours; a board of the same name made by hand is taken only
	 * when no board carries the marker. */
	for (pass = 0; pass < 2; pass++) {
		json_array_foreach(items, i, b) {
			const char *bid = json_string_value(
			    json_object_get(b, "id"));
			const char *v = json_string_value(json_object_get(b,
			    pass == 0 ? "description" : "name"));

			if (v == NULL || !valid_id(bid))
				continue;
			if (pass == 0 ? (marker != NULL && *marker != '\0' &&
			    strstr(v, marker) != NULL) :
			    (name != NULL && strcmp(v, name) == 0)) {
				(void)rb_strlcpy(id, bid, PINTEREST_ID_MAX + 1);
				return true;
			}
		}
	}
	return false;
}

bool
pinterest_find_pin(const json_t *items, const char *link,
    char id[PINTEREST_ID_MAX + 1])
{
	const json_t *p;
	size_t i;

	json_array_foreach(items, i, p) {
		const char *pid = json_string_value(json_object_get(p, "id"));
		const char *l = json_string_value(json_object_get(p, "link"));

		if (l != NULL && link != NULL && strcmp(l, link) == 0 &&
		    valid_id(pid)) {
			(void)rb_strlcpy(id, pid, PINTEREST_ID_MAX + 1);
			return true;
		}
	}
	return false;
}

int
pinterest_board_marker(const char *shop_id, long long collection_id,
    char *out, size_t outsz)
{
	int w = snprintf(out, outsz, "[reboss:%.8s:c%lld]", shop_id,
	    collection_id);

	return w < 0 || (size_t)w >= outsz ? -1 : 0;
}

static char *
dump_or_oom(json_t *o, struct rb_err *err)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s == NULL)
		rb_err_oom(err);
	return s;
}

char *
pinterest_board_body(const char *name, const char *description,
    struct rb_err *err)
{
	char *n = NULL, *d = NULL, *s = NULL;

	if ((n = pinterest_trim(name, PINTEREST_BOARD_NAME_MAX)) == NULL ||
	    (d = pinterest_trim(description, PINTEREST_BOARD_DESC_MAX)) ==
	    NULL) {
		rb_err_oom(err);
		goto out;
	}
	if (*n == '\0') {
		rb_err_set(err, 400, "invalid_board_name",
		    "The board name is empty; set one in the dashboard.");
		goto out;
	}
	s = dump_or_oom(json_pack("{s:s, s:s, s:s}", "name", n,
	    "description", d, "privacy", "PUBLIC"), err);
out:
	free(n);
	free(d);
	return s;
}

char *
pinterest_pin_body(const struct pinterest_pin_in *in, struct rb_err *err)
{
	char *t = NULL, *d = NULL, *a = NULL, *s = NULL;

	if (!valid_id(in->board_id)) {
		rb_err_set(err, 400, "invalid_pin", "The board id is invalid.");
		return NULL;
	}
	if (!pinterest_valid_url(in->link, false)) {
		rb_err_set(err, 400, "invalid_pin", "The product has no valid "
		    "https storefront URL to link the pin to.");
		return NULL;
	}
	if (!pinterest_valid_url(in->image_url, true)) {
		rb_err_set(err, 400, "invalid_pin",
		    "The product has no valid image URL.");
		return NULL;
	}
	if ((t = pinterest_trim(in->title, PINTEREST_TITLE_MAX)) == NULL ||
	    (d = pinterest_trim(in->description, PINTEREST_DESCRIPTION_MAX))
	    == NULL || (a = pinterest_trim(in->alt_text != NULL ?
	    in->alt_text : in->title, PINTEREST_ALT_TEXT_MAX)) == NULL) {
		rb_err_oom(err);
		goto out;
	}
	if (*t == '\0') {
		rb_err_set(err, 400, "invalid_pin", "The product has no title.");
		goto out;
	}
	s = dump_or_oom(json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
	    "board_id", in->board_id, "title", t, "description", d,
	    "alt_text", a, "link", in->link, "media_source",
	    "source_type", "image_url", "url", in->image_url), err);
out:
	free(t);
	free(d);
	free(a);
	return s;
}

int
pinterest_parse_id(const char *body, size_t len, char id[PINTEREST_ID_MAX + 1])
{
	json_t *o = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(o, "id"));
	int rc = -1;

	if (valid_id(v)) {
		(void)rb_strlcpy(id, v, PINTEREST_ID_MAX + 1);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

int
pinterest_parse_page(const char *body, size_t len, json_t *all,
    char *bookmark, size_t bsz)
{
	json_t *o = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *items = json_object_get(o, "items"), *bm;
	int rc = -1;

	bookmark[0] = '\0';
	if (!json_is_array(items))
		goto out;
	bm = json_object_get(o, "bookmark");
	if (json_is_string(bm)) {
		if (strlen(json_string_value(bm)) >= bsz)
			goto out;
		(void)rb_strlcpy(bookmark, json_string_value(bm), bsz);
	} else if (bm != NULL && !json_is_null(bm))
		goto out;
	if (json_array_extend(all, items) == -1)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

long
pinterest_wait_ms(const struct http_response *resp, int attempt, long now_s)
{
	const char *v;
	long ms = -1, sec;

	if (resp->retry_after_ms >= 0)
		ms = resp->retry_after_ms;
	else if ((v = http_header(resp, "x-ratelimit-reset")) != NULL &&
	    rb_parse_long(v, 0, LONG_MAX / 1000, &sec) == 0) {
		/* Seconds to wait, or an epoch time (large values). */
		if (sec > 1000000000L)
			sec = sec > now_s ? sec - now_s : 0;
		ms = sec * 1000;
	}
	if (ms < 0)
		ms = http_backoff_ms(attempt, -1, PINTEREST_MAX_WAIT_MS);
	if (ms < 100)
		ms = 100;	/* "0": Pinterest still needs a moment */
	return ms > PINTEREST_MAX_WAIT_MS ? PINTEREST_MAX_WAIT_MS : ms;
}

/* ---- the client ------------------------------------------------------------ */

int
pinterest_open(struct pinterest *pc, struct http_client *http,
    const struct rb_config *cfg, char **token, pinterest_renew_fn renew,
    void *renew_arg, volatile const sig_atomic_t *stop, struct rb_err *err)
{
	memset(pc, 0, sizeof(*pc));
	pc->token = *token;
	*token = NULL;
	if (cfg->pinterest_api_base == NULL || pc->token == NULL) {
		pinterest_close(pc);
		return rb_err_set(err, 500, "internal_error",
		    "Pinterest is not configured (pinterest_api_base).");
	}
	pc->http = http;
	pc->cfg = cfg;
	pc->renew = renew;
	pc->renew_arg = renew_arg;
	pc->stop = stop;
	return 0;
}

void
pinterest_close(struct pinterest *pc)
{
	crypto_free_secret(pc->token);
	pc->token = NULL;
}

/* Pinterest's {code, message}, cut and without control characters. */
static void
upstream_message(const struct http_response *resp, char *out, size_t outsz)
{
	json_t *o = resp->body != NULL ? json_loadb(resp->body, resp->len, 0,
	    NULL) : NULL;
	const char *m = json_string_value(json_object_get(o, "message"));
	size_t i;

	(void)rb_strlcpy(out, m != NULL ? m : "(no message)", outsz);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20)
			out[i] = ' ';
	json_decref(o);
}

static int
force_refresh(struct pinterest *pc, struct rb_err *err)
{
	char *fresh = NULL;

	if (pc->renew == NULL)
		return rb_err_set(err, 401, "pinterest_unauthorized",
		    "Pinterest refused the shop's token; link the Pinterest "
		    "account again in the dashboard.");
	if (pc->renew(pc->renew_arg, &fresh, err) == -1)
		return -1;
	crypto_free_secret(pc->token);
	pc->token = fresh;
	pc->refreshes++;
	return 0;
}

/* Pinterest's answer to a pin create from an app with Trial access (403,
 * code 29, "Apps with Trial access may not create Pins in production
 * ... use API Sandbox ..."): the app, not the pin, is refused. */
static bool
trial_refusal(const struct http_response *resp, const char *msg)
{
	return resp->status == 403 && strstr(msg, "Trial access") != NULL;
}

/* One API call with the 401/429/5xx rules of pinterest.h.  On 0 the
 * caller owns resp and reads resp->status (2xx, or a 404 it may expect);
 * other statuses are turned into errors here. */
static int
call(struct pinterest *pc, const char *method, const char *path,
    const char *body, bool ok404, struct http_response *resp,
    struct rb_err *err)
{
	struct http_request req;
	const char *hdrs[4];
	char url[4096], auth[OAUTH_TOKEN_MAX + 32], msg[300];
	bool safe = strcmp(method, "POST") != 0, refreshed = false;
	int n429 = 0, n5xx = 0, w, rc = -1;
	size_t blen;

	blen = strlen(pc->cfg->pinterest_api_base);
	while (blen > 0 && pc->cfg->pinterest_api_base[blen - 1] == '/')
		blen--;
	w = snprintf(url, sizeof(url), "%.*s%s", (int)blen,
	    pc->cfg->pinterest_api_base, path);
	if (w < 0 || (size_t)w >= sizeof(url))
		return rb_err_set(err, 500, "internal_error",
		    "A Pinterest URL is too long.");
	memset(resp, 0, sizeof(*resp));
	for (;;) {
		struct rb_err herr;

		if (pc->stop != NULL && *pc->stop)
			return rb_err_set(err, 503, "cancelled", "The run was "
			    "stopped before Pinterest was called.");
		w = snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    pc->token != NULL ? pc->token : "");
		if (w < 0 || (size_t)w >= sizeof(auth)) {
			rb_err_set(err, 500, "internal_error",
			    "The Pinterest token is too long.");
			goto out;
		}
		hdrs[0] = auth;
		hdrs[1] = "Accept: application/json";
		hdrs[2] = body != NULL ? "Content-Type: application/json" : NULL;
		hdrs[3] = NULL;
		memset(&req, 0, sizeof(req));
		req.method = method;
		req.url = url;
		req.headers = hdrs;
		req.body = body;
		req.body_len = body != NULL ? strlen(body) : 0;
		req.max_response = PIN_RESPONSE_MAX;
		req.max_attempts = 1;	/* 429 and 5xx are handled here */
		req.service = "pinterest";
		http_response_free(resp);
		memset(resp, 0, sizeof(*resp));
		rb_err_clear(&herr);
		pc->requests++;
		if (http_request(pc->http, &req, resp, &herr) == -1) {
			if (!safe || strcmp(herr.code, "cancelled") == 0 ||
			    ++n5xx > PIN_RETRY_5XX) {
				*err = herr;
				goto out;
			}
			/* Woken by stop: the check at the top answers. */
			(void)rb_sleep_ms(http_backoff_ms(n5xx, -1, 30000),
			    pc->stop);
			continue;
		}
		if (resp->status == 429) {
			long ms;

			if (++n429 > PINTEREST_MAX_429) {
				rb_err_set(err, 429, "pinterest_rate_limited",
				    "Pinterest kept answering \"too many "
				    "requests\" (%d times for %s %s); the next "
				    "run goes on.", n429 - 1, method, path);
				goto out;
			}
			ms = pinterest_wait_ms(resp, n429, (long)time(NULL));
			log_info("Pinterest rate limit (429) on %s %s: waiting "
			    "%ld ms as it asks", method, path, ms);
			pc->waits_429++;
			pc->waited_ms += ms;
			metrics_upstream_wait("pinterest", ms);
			(void)rb_sleep_ms(ms, pc->stop);
			continue;
		}
		if (resp->status == 401) {
			if (refreshed) {
				rb_err_set(err, 401, "pinterest_unauthorized",
				    "Pinterest refused the shop's token even "
				    "after a refresh; link the Pinterest "
				    "account again in the dashboard.");
				goto out;
			}
			log_info("Pinterest answered 401 on %s %s: refreshing "
			    "the token once", method, path);
			refreshed = true;
			if (force_refresh(pc, err) == -1)
				goto out;
			continue;
		}
		if (resp->status >= 500) {
			if (!safe || ++n5xx > PIN_RETRY_5XX) {
				rb_err_set(err, 502, "pinterest_unavailable",
				    "Pinterest answered %ld to %s %s; the next "
				    "run tries again.", resp->status, method,
				    path);
				goto out;
			}
			(void)rb_sleep_ms(http_backoff_ms(n5xx,
			    resp->retry_after_ms, 30000), pc->stop);
			continue;
		}
		if ((resp->status >= 200 && resp->status < 300) ||
		    (ok404 && resp->status == 404)) {
			rc = 0;
			goto out;
		}
		upstream_message(resp, msg, sizeof(msg));
		if (trial_refusal(resp, msg)) {
			rb_err_set(err, 403, "pinterest_trial_access",
			    "Pinterest does not let this app create pins: it "
			    "has Trial access (Pinterest: %s). Ask Pinterest "
			    "for Standard access, or point pinterest_api_base "
			    "at its API Sandbox; no pin is made until then.",
			    msg);
			goto out;
		}
		rb_err_set(err, 422, "pinterest_refused",
		    "Pinterest refused %s %s (%ld): %s", method, path,
		    resp->status, msg);
		goto out;
	}
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	if (rc == -1) {
		http_response_free(resp);
		memset(resp, 0, sizeof(*resp));
	}
	return rc;
}

/* GET path?page_size=..&bookmark=.. until no bookmark. */
static int
list_all(struct pinterest *pc, const char *path, json_t **items,
    struct rb_err *err)
{
	struct http_response resp;
	char bookmark[1024], p[2048];
	char *enc = NULL;
	json_t *all;
	int w, pages = 0;

	*items = NULL;
	if ((all = json_array()) == NULL)
		return rb_err_oom(err);
	bookmark[0] = '\0';
	do {
		if (bookmark[0] != '\0') {
			if ((enc = http_urlencode(bookmark)) == NULL) {
				rb_err_oom(err);
				goto fail;
			}
			w = snprintf(p, sizeof(p), "%s?page_size=%s&bookmark=%s",
			    path, PIN_PAGE_SIZE, enc);
			free(enc);
			enc = NULL;
		} else
			w = snprintf(p, sizeof(p), "%s?page_size=%s", path,
			    PIN_PAGE_SIZE);
		if (w < 0 || (size_t)w >= sizeof(p)) {
			rb_err_set(err, 502, "pinterest_bad_response",
			    "Pinterest sent a bookmark that is too long.");
			goto fail;
		}
		if (call(pc, "GET", p, NULL, false, &resp, err) == -1)
			goto fail;
		if (pinterest_parse_page(resp.body, resp.len, all, bookmark,
		    sizeof(bookmark)) == -1) {
			http_response_free(&resp);
			rb_err_set(err, 502, "pinterest_bad_response",
			    "Pinterest sent a list page that cannot be read.");
			goto fail;
		}
		http_response_free(&resp);
		if (json_array_size(all) > PINTEREST_LIST_MAX ||
		    ++pages > PINTEREST_LIST_MAX) {
			rb_err_set(err, 502, "pinterest_bad_response",
			    "Pinterest lists more than %d items here.",
			    PINTEREST_LIST_MAX);
			goto fail;
		}
	} while (bookmark[0] != '\0');
	*items = all;
	return 0;
fail:
	json_decref(all);
	return -1;
}

int
pinterest_boards_list(struct pinterest *pc, json_t **items, struct rb_err *err)
{
	return list_all(pc, "/boards", items, err);
}

int
pinterest_board_pins(struct pinterest *pc, const char *board_id,
    json_t **items, struct rb_err *err)
{
	char p[128];

	*items = NULL;
	if (!valid_id(board_id))
		return rb_err_set(err, 500, "internal_error", "Bad board id.");
	(void)snprintf(p, sizeof(p), "/boards/%s/pins", board_id);
	return list_all(pc, p, items, err);
}

static int
create(struct pinterest *pc, const char *path, char *body,
    char id[PINTEREST_ID_MAX + 1], struct rb_err *err)
{
	struct http_response resp;
	int rc = -1;

	if (body == NULL)
		return -1;
	if (call(pc, "POST", path, body, false, &resp, err) == -1)
		goto out;
	if (pinterest_parse_id(resp.body, resp.len, id) == -1)
		rb_err_set(err, 502, "pinterest_bad_response",
		    "Pinterest did not send the id of the new object.");
	else
		rc = 0;
	http_response_free(&resp);
out:
	free(body);
	return rc;
}

int
pinterest_board_create(struct pinterest *pc, const char *name,
    const char *description, char id[PINTEREST_ID_MAX + 1],
    struct rb_err *err)
{
	return create(pc, "/boards", pinterest_board_body(name, description,
	    err), id, err);
}

int
pinterest_pin_create(struct pinterest *pc, const struct pinterest_pin_in *in,
    char id[PINTEREST_ID_MAX + 1], struct rb_err *err)
{
	return create(pc, "/pins", pinterest_pin_body(in, err), id, err);
}

int
pinterest_pin_delete(struct pinterest *pc, const char *pin_id, bool *existed,
    struct rb_err *err)
{
	struct http_response resp;
	char p[128];

	*existed = false;
	if (!valid_id(pin_id))
		return rb_err_set(err, 500, "internal_error", "Bad pin id.");
	(void)snprintf(p, sizeof(p), "/pins/%s", pin_id);
	if (call(pc, "DELETE", p, NULL, true, &resp, err) == -1)
		return -1;
	*existed = resp.status != 404;
	http_response_free(&resp);
	return 0;
}
