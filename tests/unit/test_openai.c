/* test_openai.c - lib/openai.c pure parts (owned by product_optimize).
 * Bodies are shaped like the Chat Completions answers of the OpenAPI spec
 * (tests/specs/openai-openapi.json.gz). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "openai.h"
#include "tap.h"

static const char ok_body[] =
	"{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":"
	"\"chat.completion\",\"created\":1741569952,\"model\":"
	"\"gpt-4.1-mini-2025-04-14\",\"choices\":[{\"index\":0,\"message\":{"
	"\"role\":\"assistant\",\"content\":\"{\\\"title\\\":\\\"Sunset "
	"Poster\\\",\\\"tags\\\":[\\\"a\\\"]}\",\"refusal\":null,"
	"\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
	"\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,"
	"\"total_tokens\":29,\"prompt_tokens_details\":{\"cached_tokens\":0,"
	"\"audio_tokens\":0},\"completion_tokens_details\":{"
	"\"reasoning_tokens\":0,\"audio_tokens\":0,"
	"\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
	"\"service_tier\":\"default\"}";

static void
set_hdr(struct http_response *r, const char *name, const char *value)
{
	int i = r->nhdr++;

	snprintf(r->hdr[i].name, sizeof(r->hdr[i].name), "%s", name);
	snprintf(r->hdr[i].value, sizeof(r->hdr[i].value), "%s", value);
}

int
main(void)
{
	struct openai_result res;
	struct rb_err err = { 0 };
	struct http_response resp;
	struct openai oa;
	struct openai_chat chat;
	json_t *schema, *req;
	bool retry;
	char *s;

	/* ---- a good answer ---- */
	ok(openai_parse_chat(ok_body, strlen(ok_body), &res, &err) == 0,
	    "chat completion parsed (%s)", err.msg);
	is_str(res.model, "gpt-4.1-mini-2025-04-14", "model");
	is_int(res.usage.prompt_tokens, 19, "prompt tokens");
	is_int(res.usage.completion_tokens, 10, "completion tokens");
	is_int(res.usage.total_tokens, 29, "total tokens");
	ok(res.billed, "billed");
	is_str(json_string_value(json_object_get(res.answer, "title")),
	    "Sunset Poster", "content parsed as JSON");
	openai_result_free(&res);

	/* ---- refusal, truncation, not JSON, not a completion ---- */
	{
		const char *b = "{\"object\":\"chat.completion\",\"model\":\"m\","
		    "\"choices\":[{\"index\":0,\"message\":{\"role\":"
		    "\"assistant\",\"content\":null,\"refusal\":\"I can't help "
		    "with that.\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
		    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
		    "\"total_tokens\":12}}";

		ok(openai_parse_chat(b, strlen(b), &res, &err) == -1 &&
		    strcmp(err.code, "openai_refused") == 0, "refusal");
		is_int(res.usage.total_tokens, 12, "refusal still billed");
		openai_result_free(&res);
	}
	{
		const char *b = "{\"model\":\"m\",\"choices\":[{\"index\":0,"
		    "\"message\":{\"role\":\"assistant\",\"content\":"
		    "\"{\\\"title\\\":\\\"Sun\",\"refusal\":null},\"logprobs\":"
		    "null,\"finish_reason\":\"length\"}],\"usage\":{"
		    "\"prompt_tokens\":5,\"completion_tokens\":7}}";

		ok(openai_parse_chat(b, strlen(b), &res, &err) == -1 &&
		    strcmp(err.code, "openai_truncated") == 0, "length cut");
		is_int(res.usage.total_tokens, 12, "total computed when absent");
		openai_result_free(&res);
	}
	{
		const char *b = "{\"model\":\"m\",\"choices\":[{\"index\":0,"
		    "\"message\":{\"role\":\"assistant\",\"content\":\"Sure! "
		    "Here is\",\"refusal\":null},\"logprobs\":null,"
		    "\"finish_reason\":\"stop\"}]}";

		ok(openai_parse_chat(b, strlen(b), &res, &err) == -1 &&
		    strcmp(err.code, "openai_bad_answer") == 0,
		    "content not JSON");
		ok(!res.billed, "no usage: not billed");
		openai_result_free(&res);
	}
	ok(openai_parse_chat("{\"choices\":[]}", 14, &res, &err) == -1 &&
	    strcmp(err.code, "openai_bad_response") == 0, "no choices");
	openai_result_free(&res);
	ok(openai_parse_chat("<html>", 6, &res, &err) == -1 &&
	    strcmp(err.code, "openai_bad_response") == 0, "not JSON");
	openai_result_free(&res);

	/* ---- errors ---- */
	openai_map_error(429, "{\"error\":{\"message\":\"You exceeded your "
	    "current quota, please check your plan and billing details.\","
	    "\"type\":\"insufficient_quota\",\"param\":null,\"code\":"
	    "\"insufficient_quota\"}}", &retry, &err);
	ok(strcmp(err.code, "openai_insufficient_quota") == 0 && !retry,
	    "insufficient_quota is fatal, not retried");
	openai_map_error(429, "{\"error\":{\"message\":\"Rate limit reached "
	    "for gpt-4.1-mini in organization org-x on requests per min (RPM): "
	    "Limit 3, Used 3, Requested 1.\",\"type\":\"requests\",\"param\":"
	    "null,\"code\":\"rate_limit_exceeded\"}}", &retry, &err);
	ok(strcmp(err.code, "openai_rate_limited") == 0 && retry,
	    "rate limit is retried");
	openai_map_error(500, "{\"error\":{\"message\":\"The server had an "
	    "error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}",
	    &retry, &err);
	ok(strcmp(err.code, "openai_unavailable") == 0 && retry, "500");
	openai_map_error(401, "{\"error\":{\"message\":\"Incorrect API key "
	    "provided: sk-abc***wxyz.\",\"type\":\"invalid_request_error\","
	    "\"param\":null,\"code\":\"invalid_api_key\"}}", &retry, &err);
	ok(strcmp(err.code, "openai_invalid_key") == 0 && !retry &&
	    strstr(err.msg, "sk-") == NULL, "401 never repeats the key");
	openai_map_error(400, "{\"error\":{\"message\":\"The model `nope` "
	    "does not exist\",\"type\":\"invalid_request_error\",\"param\":"
	    "null,\"code\":\"model_not_found\"}}", &retry, &err);
	ok(strcmp(err.code, "openai_bad_request") == 0 && !retry &&
	    strstr(err.msg, "does not exist") != NULL, "400 with message");
	openai_map_error(503, "<html>bad gateway</html>", &retry, &err);
	ok(strcmp(err.code, "openai_unavailable") == 0 && retry,
	    "HTML 503");

	/* ---- durations and pacing ---- */
	is_int(openai_parse_duration_ms("1s"), 1000, "1s");
	is_int(openai_parse_duration_ms("6m0s"), 360000, "6m0s");
	is_int(openai_parse_duration_ms("20ms"), 20, "20ms");
	is_int(openai_parse_duration_ms("1h2m3.5s"), 3723500, "1h2m3.5s");
	is_int(openai_parse_duration_ms("0.25s"), 250, "0.25s");
	is_int(openai_parse_duration_ms("7.66s"), 7660, "7.66s");
	is_int(openai_parse_duration_ms("abc"), -1, "garbage");
	is_int(openai_parse_duration_ms("5"), -1, "no unit");
	is_int(openai_parse_duration_ms(""), -1, "empty");

	memset(&resp, 0, sizeof(resp));
	resp.retry_after_ms = -1;
	set_hdr(&resp, "x-ratelimit-limit-requests", "60");
	set_hdr(&resp, "x-ratelimit-remaining-requests", "0");
	set_hdr(&resp, "x-ratelimit-reset-requests", "1.5s");
	set_hdr(&resp, "x-ratelimit-remaining-tokens", "149000");
	set_hdr(&resp, "x-ratelimit-reset-tokens", "6m0s");
	is_int(openai_retry_wait_ms(&resp), 1500,
	    "requests exhausted: wait their reset");
	resp.retry_after_ms = 2000;
	is_int(openai_retry_wait_ms(&resp), 2000, "Retry-After wins");
	resp.retry_after_ms = -1;

	memset(&oa, 0, sizeof(oa));
	oa.max_wait_ms = OPENAI_MAX_WAIT_MS;
	openai_note_limits(&oa, &resp, 1000);
	is_int(oa.remaining_requests, 0, "remaining requests noted");
	is_int(openai_pace_ms(&oa, 10, 1000), 1500, "paced until reset");
	is_int(openai_pace_ms(&oa, 10, 2600), 0, "no wait after reset");
	oa.remaining_requests = 5;
	is_int(openai_pace_ms(&oa, 10, 1000), 0, "requests left: no wait");
	oa.remaining_tokens = 100;
	is_int(openai_pace_ms(&oa, 500, 1000), 360000 > OPENAI_MAX_WAIT_MS ?
	    OPENAI_MAX_WAIT_MS : 360000, "too few tokens: wait, capped");

	/* ---- the request ---- */
	schema = json_pack("{s:s, s:{s:{s:s}}, s:[s], s:b}", "type", "object",
	    "properties", "title", "type", "string", "required", "title",
	    "additionalProperties", 0);
	memset(&chat, 0, sizeof(chat));
	chat.system = "sys";
	chat.user = "{\"product\":{}}";
	chat.schema_name = "product_copy";
	chat.schema = schema;
	chat.max_completion_tokens = 300;
	req = openai_chat_request("gpt-4.1-mini", &chat);
	ok(req != NULL, "request built");
	s = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(s, "{\"max_completion_tokens\":300,\"messages\":[{\"content\":"
	    "\"sys\",\"role\":\"system\"},{\"content\":\"{\\\"product\\\":{}}\","
	    "\"role\":\"user\"}],\"model\":\"gpt-4.1-mini\",\"response_format\":"
	    "{\"json_schema\":{\"name\":\"product_copy\",\"schema\":{"
	    "\"additionalProperties\":false,\"properties\":{\"title\":{\"type\":"
	    "\"string\"}},\"required\":[\"title\"],\"type\":\"object\"},"
	    "\"strict\":true},\"type\":\"json_schema\"}}",
	    "structured output request");
	free(s);
	json_decref(req);
	json_decref(schema);
	return done_testing();
}
