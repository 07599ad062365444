/*
 * openai.c - see openai.h.  Owned by product_optimize.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "openai.h"
#include "util.h"

#define OPENAI_TIMEOUT_MS	120000L
#define OPENAI_MAX_RESPONSE	(4u * 1024u * 1024u)
#define OPENAI_MSG_MAX		200	/* chars of OpenAI's own message kept */

int
openai_open(struct openai *oa, struct http_client *http,
    const struct rb_config *cfg, struct rb_err *err)
{
	const char *base, *model;
	size_t blen, klen;
	int n;

	memset(oa, 0, sizeof(*oa));
	oa->remaining_requests = oa->remaining_tokens = -1;
	oa->timeout_ms = OPENAI_TIMEOUT_MS;
	oa->max_wait_ms = OPENAI_MAX_WAIT_MS;
	oa->http = http;
	if (cfg == NULL || cfg->openai_api_key == NULL ||
	    cfg->openai_api_key[0] == '\0')
		return rb_err_set(err, 503, "openai_not_configured",
		    "openai_api_key is not set in the configuration file.");
	klen = strlen(cfg->openai_api_key);
	if (klen > 1024 || strpbrk(cfg->openai_api_key, "\r\n") != NULL)
		return rb_err_set(err, 503, "openai_not_configured",
		    "openai_api_key in the configuration file is not a "
		    "valid key.");
	base = cfg->openai_api_base != NULL && cfg->openai_api_base[0] != '\0' ?
	    cfg->openai_api_base : "https://api.openai.com/v1";
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	n = snprintf(oa->url, sizeof(oa->url), "%.*s/chat/completions",
	    (int)blen, base);
	if (n < 0 || (size_t)n >= sizeof(oa->url))
		return rb_err_set(err, 503, "openai_not_configured",
		    "openai_api_base is too long.");
	model = cfg->openai_model != NULL && cfg->openai_model[0] != '\0' ?
	    cfg->openai_model : OPENAI_DEFAULT_MODEL;
	if (rb_strlcpy(oa->model, model, sizeof(oa->model)) >=
	    sizeof(oa->model))
		return rb_err_set(err, 503, "openai_not_configured",
		    "openai_model is too long.");
	if ((oa->auth = malloc(klen + 32)) == NULL)
		return rb_err_oom(err);
	n = snprintf(oa->auth, klen + 32, "Authorization: Bearer %s",
	    cfg->openai_api_key);
	if (n < 0 || (size_t)n >= klen + 32) {
		openai_close(oa);
		return rb_err_set(err, 500, "internal_error",
		    "Could not build the OpenAI request header.");
	}
	return 0;
}

void
openai_close(struct openai *oa)
{
	if (oa == NULL)
		return;
	crypto_free_secret(oa->auth);
	oa->auth = NULL;
}

void
openai_result_free(struct openai_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->answer);
	memset(res, 0, sizeof(*res));
}

/* ---- pure helpers ---------------------------------------------------------- */

json_t *
openai_chat_request(const char *model, const struct openai_chat *chat)
{
	json_t *req, *schema;

	if (model == NULL || chat == NULL || chat->schema == NULL)
		return NULL;
	if ((schema = json_deep_copy(chat->schema)) == NULL)
		return NULL;
	req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], "
	    "s:{s:s, s:{s:s, s:b, s:o}}}",
	    "model", model,
	    "messages", "role", "system", "content",
	    chat->system != NULL ? chat->system : "",
	    "role", "user", "content", chat->user != NULL ? chat->user : "",
	    "response_format", "type", "json_schema", "json_schema",
	    "name", chat->schema_name != NULL ? chat->schema_name : "answer",
	    "strict", 1, "schema", schema);
	if (req == NULL)
		return NULL;
	if (chat->max_completion_tokens > 0 && json_object_set_new(req,
	    "max_completion_tokens",
	    json_integer(chat->max_completion_tokens)) == -1) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static long
usage_field(json_t *u, const char *k)
{
	json_t *v = json_object_get(u, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 1000000000)
		return 0;
	return (long)json_integer_value(v);
}

int
openai_parse_chat(const char *body, size_t len, struct openai_result *res,
    struct rb_err *err)
{
	json_t *root, *choice, *msg, *u, *content, *ans;
	const char *s;

	memset(res, 0, sizeof(*res));
	if (body == NULL || (root = json_loadb(body, len, 0, NULL)) == NULL)
		return rb_err_set(err, 502, "openai_bad_response",
		    "OpenAI answered with something that is not JSON.");
	if (!json_is_object(root))
		goto bad;
	if ((s = json_string_value(json_object_get(root, "model"))) != NULL)
		(void)rb_strlcpy(res->model, s, sizeof(res->model));
	u = json_object_get(root, "usage");
	if (json_is_object(u)) {
		res->usage.prompt_tokens = usage_field(u, "prompt_tokens");
		res->usage.completion_tokens =
		    usage_field(u, "completion_tokens");
		res->usage.total_tokens = usage_field(u, "total_tokens");
		if (res->usage.total_tokens == 0)
			res->usage.total_tokens = res->usage.prompt_tokens +
			    res->usage.completion_tokens;
		res->billed = true;
	}
	choice = json_array_get(json_object_get(root, "choices"), 0);
	if (!json_is_object(choice))
		goto bad;
	if ((s = json_string_value(json_object_get(choice,
	    "finish_reason"))) != NULL)
		(void)rb_strlcpy(res->finish_reason, s,
		    sizeof(res->finish_reason));
	msg = json_object_get(choice, "message");
	if (!json_is_object(msg))
		goto bad;
	if (json_is_string(json_object_get(msg, "refusal")) &&
	    json_string_length(json_object_get(msg, "refusal")) > 0) {
		json_decref(root);
		return rb_err_set(err, 422, "openai_refused",
		    "The model refused to write this product's copy.");
	}
	if (strcmp(res->finish_reason, "length") == 0 ||
	    strcmp(res->finish_reason, "content_filter") == 0) {
		json_decref(root);
		return rb_err_set(err, 422, "openai_truncated",
		    "The model's answer was cut off (%s).",
		    strcmp(res->finish_reason, "length") == 0 ?
		    "token limit reached" : "content filter");
	}
	content = json_object_get(msg, "content");
	if (!json_is_string(content))
		goto bad;
	ans = json_loadb(json_string_value(content),
	    json_string_length(content), 0, NULL);
	if (!json_is_object(ans)) {
		json_decref(ans);
		json_decref(root);
		return rb_err_set(err, 422, "openai_bad_answer",
		    "The model's answer is not a JSON object.");
	}
	res->answer = ans;
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	return rb_err_set(err, 502, "openai_bad_response",
	    "OpenAI's answer is not a chat completion.");
}

/* OpenAI's own message, cut and with control characters replaced. */
static void
upstream_msg(json_t *e, char *out, size_t outsz)
{
	const char *m = json_string_value(json_object_get(e, "message"));
	size_t i, n;

	out[0] = '\0';
	if (m == NULL)
		return;
	n = strlen(m);
	if (n > OPENAI_MSG_MAX)
		n = OPENAI_MSG_MAX;
	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)m[i] < 0x20 ? ' ' : m[i];
	/* do not end inside a UTF-8 sequence */
	while (i > 0 && ((unsigned char)out[i - 1] & 0x80u) != 0 &&
	    n < strlen(m)) {
		i--;
		if (((unsigned char)out[i] & 0xc0u) == 0xc0u)
			break;
	}
	out[i] = '\0';
}

int
openai_map_error(long status, const char *body, bool *retryable,
    struct rb_err *err)
{
	json_t *root = NULL, *e;
	const char *code = NULL, *type = NULL;
	char msg[OPENAI_MSG_MAX + 8];

	*retryable = false;
	msg[0] = '\0';
	if (body != NULL)
		root = json_loads(body, 0, NULL);
	e = json_object_get(root, "error");
	if (json_is_object(e)) {
		code = json_string_value(json_object_get(e, "code"));
		type = json_string_value(json_object_get(e, "type"));
		upstream_msg(e, msg, sizeof(msg));
	}
	if (status == 429 && ((code != NULL &&
	    strcmp(code, "insufficient_quota") == 0) || (type != NULL &&
	    strcmp(type, "insufficient_quota") == 0))) {
		json_decref(root);
		return rb_err_set(err, 429, "openai_insufficient_quota",
		    "OpenAI refused the request with insufficient_quota: the "
		    "account of openai_api_key has no quota left. Add credit "
		    "or raise the limit in the OpenAI billing settings; no "
		    "further OpenAI calls are made in this run.");
	}
	json_decref(root);
	if (status == 429) {
		*retryable = true;
		return rb_err_set(err, 429, "openai_rate_limited",
		    "OpenAI kept answering 429 (rate limit reached) after %d "
		    "attempts; the next run tries again.",
		    OPENAI_MAX_ATTEMPTS);
	}
	if (status >= 500) {
		*retryable = true;
		return rb_err_set(err, 502, "openai_unavailable",
		    "OpenAI answered HTTP %ld after %d attempts; the next run "
		    "tries again.", status, OPENAI_MAX_ATTEMPTS);
	}
	/* 401 messages quote part of the key: never repeat them. */
	if (status == 401)
		return rb_err_set(err, 502, "openai_invalid_key",
		    "OpenAI did not accept openai_api_key (HTTP 401); check "
		    "the key in the configuration file.");
	if (status == 403)
		return rb_err_set(err, 502, "openai_forbidden",
		    "OpenAI refused access (HTTP 403)%s%s", msg[0] ? ": " : ".",
		    msg);
	return rb_err_set(err, 502, "openai_bad_request",
	    "OpenAI refused the request (HTTP %ld)%s%s", status,
	    msg[0] ? ": " : ".", msg);
}

long
openai_parse_duration_ms(const char *s)
{
	double total = 0, num, frac;
	bool any = false;
	const char *p = s;

	if (s == NULL)
		return -1;
	while (*p == ' ')
		p++;
	while (*p != '\0' && *p != ' ') {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		num = 0;
		while (isdigit((unsigned char)*p)) {
			num = num * 10 + (*p - '0');
			if (num > 1e9)
				return -1;
			p++;
		}
		if (*p == '.') {
			p++;
			frac = 0.1;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p)) {
				num += (*p - '0') * frac;
				frac /= 10;
				p++;
			}
		}
		if (strncmp(p, "ms", 2) == 0) {
			total += num;
			p += 2;
		} else if (*p == 'h') {
			total += num * 3600000.0;
			p++;
		} else if (*p == 'm') {
			total += num * 60000.0;
			p++;
		} else if (*p == 's') {
			total += num * 1000.0;
			p++;
		} else {
			return -1;
		}
		any = true;
		if (total > 31.0 * 24 * 3600 * 1000)
			return -1;
	}
	while (*p == ' ')
		p++;
	if (!any || *p != '\0')
		return -1;
	return (long)(total + 0.999);	/* round up: never wake too early */
}

static long
hdr_long(const struct http_response *resp, const char *name)
{
	const char *v = http_header(resp, name);
	long n;

	if (v == NULL || rb_parse_long(v, 0, 1000000000000L, &n) == -1)
		return -1;
	return n;
}

long
openai_retry_wait_ms(const struct http_response *resp)
{
	long rr, rt, wr, wt, w = -1;

	if (resp == NULL)
		return -1;
	if (resp->retry_after_ms >= 0)
		return resp->retry_after_ms;
	rr = hdr_long(resp, "x-ratelimit-remaining-requests");
	rt = hdr_long(resp, "x-ratelimit-remaining-tokens");
	wr = openai_parse_duration_ms(http_header(resp,
	    "x-ratelimit-reset-requests"));
	wt = openai_parse_duration_ms(http_header(resp,
	    "x-ratelimit-reset-tokens"));
	if (rr == 0 && wr >= 0)
		w = wr;
	if (rt == 0 && wt > w)
		w = wt;
	if (w < 0 && rr != 0 && rt != 0)	/* neither says "0 left" */
		w = wr > wt ? wr : wt;
	return w;
}

void
openai_note_limits(struct openai *oa, const struct http_response *resp,
    int64_t now)
{
	long v;

	if (oa == NULL || resp == NULL)
		return;
	oa->remaining_requests = hdr_long(resp,
	    "x-ratelimit-remaining-requests");
	oa->remaining_tokens = hdr_long(resp, "x-ratelimit-remaining-tokens");
	v = openai_parse_duration_ms(http_header(resp,
	    "x-ratelimit-reset-requests"));
	oa->requests_reset_at = v >= 0 ? now + v : 0;
	v = openai_parse_duration_ms(http_header(resp,
	    "x-ratelimit-reset-tokens"));
	oa->tokens_reset_at = v >= 0 ? now + v : 0;
}

long
openai_pace_ms(const struct openai *oa, long want_tokens, int64_t now)
{
	int64_t w = 0;

	if (oa == NULL)
		return 0;
	if (oa->remaining_requests == 0 && oa->requests_reset_at > now)
		w = oa->requests_reset_at - now;
	if (oa->remaining_tokens >= 0 && want_tokens > 0 &&
	    oa->remaining_tokens < want_tokens &&
	    oa->tokens_reset_at > now && oa->tokens_reset_at - now > w)
		w = oa->tokens_reset_at - now;
	if (w > oa->max_wait_ms && oa->max_wait_ms > 0)
		w = oa->max_wait_ms;
	return (long)w;
}

/* ---- the call --------------------------------------------------------------- */

static int
wait_ms(struct openai *oa, long ms, struct rb_err *err)
{
	if (ms > 0 && rb_sleep_ms(ms, oa->stop) == -1)
		return rb_err_set(err, 503, "cancelled",
		    "The OpenAI request was cancelled because the program is "
		    "stopping.");
	return 0;
}

int
openai_chat_json(struct openai *oa, const struct openai_chat *chat,
    struct openai_result *res, struct rb_err *err)
{
	struct http_response resp;
	struct http_request hr;
	const char *hdrs[3];
	json_t *req = NULL;
	char *body = NULL;
	long want, w;
	bool retryable;
	int attempt;

	memset(res, 0, sizeof(*res));
	memset(&resp, 0, sizeof(resp));
	if (oa == NULL || oa->auth == NULL || oa->http == NULL)
		return rb_err_set(err, 500, "internal_error",
		    "The OpenAI client is not open.");
	if ((req = openai_chat_request(oa->model, chat)) == NULL ||
	    (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		json_decref(req);
		return rb_err_oom(err);
	}
	json_decref(req);
	want = (long)(strlen(body) / 4) + (chat->max_completion_tokens > 0 ?
	    chat->max_completion_tokens : 0);
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = oa->auth;
	hdrs[2] = NULL;
	memset(&hr, 0, sizeof(hr));
	hr.method = "POST";
	hr.url = oa->url;
	hr.headers = hdrs;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.timeout_ms = oa->timeout_ms;
	hr.max_response = OPENAI_MAX_RESPONSE;
	hr.max_attempts = 1;	/* we tell a rate limit from a quota */
	hr.service = "openai";

	for (attempt = 1; ; attempt++) {
		if (oa->stop != NULL && *oa->stop) {
			rb_err_set(err, 503, "cancelled", "The OpenAI request "
			    "was cancelled because the program is stopping.");
			goto fail;
		}
		if ((w = openai_pace_ms(oa, want, rb_mono_ms())) > 0) {
			oa->paced_waits++;
			metrics_upstream_wait("openai", w);
			log_info("OpenAI rate limit nearly used up: waiting "
			    "%ld ms for it to reset", w);
			if (wait_ms(oa, w, err) == -1)
				goto fail;
		}
		if (http_request(oa->http, &hr, &resp, err) == -1) {
			if ((strcmp(err->code, "upstream_unreachable") != 0 &&
			    strcmp(err->code, "upstream_timeout") != 0) ||
			    attempt >= OPENAI_MAX_ATTEMPTS)
				goto fail;
			oa->retries++;
			w = http_backoff_ms(attempt, -1, oa->max_wait_ms);
			log_warn("OpenAI: %s, attempt %d of %d, retrying in "
			    "%ld ms", err->code, attempt, OPENAI_MAX_ATTEMPTS,
			    w);
			if (wait_ms(oa, w, err) == -1)
				goto fail;
			continue;
		}
		oa->requests++;
		openai_note_limits(oa, &resp, rb_mono_ms());
		if (resp.status >= 200 && resp.status < 300) {
			if (openai_parse_chat(resp.body, resp.len, res, err)
			    == -1)
				goto fail;
			break;
		}
		(void)openai_map_error(resp.status, resp.body, &retryable,
		    err);
		if (!retryable || attempt >= OPENAI_MAX_ATTEMPTS)
			goto fail;
		oa->retries++;
		w = http_backoff_ms(attempt, openai_retry_wait_ms(&resp),
		    oa->max_wait_ms);
		if (resp.status == 429)
			metrics_upstream_wait("openai", w);
		log_warn("OpenAI: HTTP %ld (%s), attempt %d of %d, retrying "
		    "in %ld ms", resp.status, err->code, attempt,
		    OPENAI_MAX_ATTEMPTS, w);
		http_response_free(&resp);
		if (wait_ms(oa, w, err) == -1)
			goto fail;
	}
	http_response_free(&resp);
	free(body);
	return 0;
fail:
	http_response_free(&resp);
	free(body);
	if (res->answer != NULL) {
		json_decref(res->answer);
		res->answer = NULL;
	}
	return -1;
}
