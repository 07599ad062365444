/*
 * openai.h - the OpenAI Chat Completions client (POST {openai_api_base}
 * /chat/completions) with Structured Outputs: response_format
 * {"type":"json_schema","json_schema":{name, strict:true, schema}}.
 * Owned by product_optimize.
 *
 * Why Chat Completions and not Responses: both are in the OpenAPI spec and
 * both take a strict JSON schema; Chat Completions is the older, stable
 * shape that every OpenAI-compatible gateway implements, and one message
 * in, one message out is all the jobs need.
 *
 * Retries and pacing.  Each HTTP attempt is made by lib/http with
 * max_attempts = 1, because an HTTP 429 means two different things here:
 * a rate limit (retry after Retry-After / x-ratelimit-reset-*) and
 * error.code "insufficient_quota" (never retry: the key has no money).
 * openai_chat_json() therefore loops itself, up to OPENAI_MAX_ATTEMPTS,
 * on rate-limit 429s, 5xx and transport errors, waiting what the answer
 * says (Retry-After, else the larger x-ratelimit-reset-requests/-tokens),
 * else http_backoff_ms() with jitter, capped at OPENAI_MAX_WAIT_MS; the wait
 * ends early when the stop flag is set.  After every answer the client
 * remembers x-ratelimit-remaining-requests/-tokens and the reset times: the
 * next call first waits out the reset when no request, or fewer tokens
 * than it may use, are left.
 *
 * Failures (err->code):
 *   openai_insufficient_quota   429 with error.code/type insufficient_quota:
 *                               fatal for the run, never retried
 *   openai_rate_limited         429 still after every attempt
 *   openai_unavailable          5xx still after every attempt (502)
 *   openai_invalid_key          401 (check openai_api_key)
 *   openai_forbidden            403 (region, project, model access)
 *   openai_bad_request          other 4xx (model name, parameters)
 *   openai_bad_response         the body is not a chat completion
 *   openai_refused              the model refused (message.refusal)
 *   openai_truncated            finish_reason "length"/"content_filter"
 *   openai_bad_answer           the content is not a JSON object
 *   upstream_* / cancelled      from lib/http
 * The API key is only ever in the Authorization header: never in a URL,
 * a log line or an rb_err.
 */
#ifndef RB_OPENAI_H
#define RB_OPENAI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "rb.h"

struct rb_config;
struct http_client;
struct http_response;

#define OPENAI_MAX_ATTEMPTS	6
#define OPENAI_MAX_WAIT_MS	120000L
#define OPENAI_MODEL_MAX	128
#define OPENAI_DEFAULT_MODEL	"gpt-4.1-mini"

struct openai_usage {
	long	prompt_tokens;
	long	completion_tokens;
	long	total_tokens;
};

struct openai {
	struct http_client	*http;		/* borrowed */
	char			 url[512];	/* .../chat/completions */
	char			*auth;		/* "Authorization: Bearer ..." */
	char			 model[OPENAI_MODEL_MAX];
	volatile const sig_atomic_t *stop;
	long			 timeout_ms;
	long			 max_wait_ms;	/* cap of one wait */
	/* Pacing state from the last answer's x-ratelimit-* headers. */
	long			 remaining_requests;	/* -1 unknown */
	long			 remaining_tokens;	/* -1 unknown */
	int64_t			 requests_reset_at;	/* rb_mono_ms(), 0 none */
	int64_t			 tokens_reset_at;
	/* Counters for logs and tests. */
	long			 requests, retries, paced_waits;
};

struct openai_chat {
	const char	*system;	/* instructions */
	const char	*user;		/* the product */
	const char	*schema_name;	/* [a-zA-Z0-9_-]{1,64} */
	const json_t	*schema;	/* strict JSON schema of the answer */
	long		 max_completion_tokens;	/* 0: not sent */
};

struct openai_result {
	json_t			*answer;	/* parsed content (object) */
	char			 model[OPENAI_MODEL_MAX]; /* as answered */
	char			 finish_reason[32];
	struct openai_usage	 usage;
	bool			 billed;	/* usage came back */
};

/* Key, base URL and model from cfg (openai_model, else the default).
 * Fails with "openai_not_configured" when openai_api_key is empty. */
int	openai_open(struct openai *oa, struct http_client *http,
	    const struct rb_config *cfg, struct rb_err *err) RB_WUR;
void	openai_close(struct openai *oa);	/* wipes the key */

/* One chat completion whose answer must be a JSON object.  On failure
 * res->usage/model/billed are still filled when the call was billed (a
 * refusal, a truncated or unparsable answer): the caller counts those
 * tokens.  Free res with openai_result_free() either way. */
int	openai_chat_json(struct openai *oa, const struct openai_chat *chat,
	    struct openai_result *res, struct rb_err *err) RB_WUR;
void	openai_result_free(struct openai_result *res);

/* ---- pure helpers, unit-tested ------------------------------------------ */

/* The request body (new reference), NULL when out of memory. */
json_t	*openai_chat_request(const char *model,
	    const struct openai_chat *chat);
/* Parses a 200 answer into res (see openai_chat_json for failures). */
int	openai_parse_chat(const char *body, size_t len,
	    struct openai_result *res, struct rb_err *err) RB_WUR;
/* Maps a non-2xx answer to err (always returns -1).  *retryable tells
 * whether another attempt may succeed (rate limit, 5xx). */
int	openai_map_error(long status, const char *body, bool *retryable,
	    struct rb_err *err);
/* "1s", "6m0s", "20ms", "1h2m3.5s", "0.5s" -> milliseconds; -1 if not
 * such a duration. */
long	openai_parse_duration_ms(const char *s);
/* What to wait before retrying a failed attempt: Retry-After, else the
 * larger of the x-ratelimit-reset-* that are exhausted (or both when
 * none says 0 left), else -1 (use backoff). */
long	openai_retry_wait_ms(const struct http_response *resp);
/* Remembers the x-ratelimit-* of an answer (now = rb_mono_ms()). */
void	openai_note_limits(struct openai *oa,
	    const struct http_response *resp, int64_t now);
/* How long to wait before a call that may use want_tokens (0 = none). */
long	openai_pace_ms(const struct openai *oa, long want_tokens,
	    int64_t now);

#endif
