/*
 * fuzz_openai.c - what OpenAI sends back (owner: fuzzing): a 200 chat
 * completion (openai_parse_chat), an error answer (openai_map_error), and
 * the rate-limit headers (openai_parse_duration_ms, openai_retry_wait_ms,
 * openai_note_limits, openai_pace_ms).
 *
 * Input: byte 0 = mode (mod 3), byte 1 = status pick, rest = body or
 * header lines "name: value".
 * Invariants: an accepted completion has an answer that is a JSON object
 * and NUL-terminated model/finish_reason; map_error always returns -1
 * with an "openai_" code; durations and waits are -1 or >= 0; pacing
 * waits are >= 0.
 */
#include <jansson.h>

#include "fuzz.h"
#include "http.h"
#include "openai.h"
#include "util.h"

const char fuzz_target[] = "openai";

static const long statuses[] = {
	400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504, 200, 0, 301,
	-5,
};

static void
chat(const uint8_t *data, size_t size)
{
	struct openai_result res;
	struct rb_err err;
	char *body = fuzz_str(data, size);

	memset(&res, 0, sizeof(res));
	rb_err_clear(&err);
	if (openai_parse_chat(body, size, &res, &err) == 0)
		FUZZ_CHECK(json_is_object(res.answer));
	else
		FUZZ_CHECK(strncmp(err.code, "openai_", 7) == 0);
	FUZZ_CHECK(memchr(res.model, '\0', sizeof(res.model)) != NULL);
	FUZZ_CHECK(memchr(res.finish_reason, '\0',
	    sizeof(res.finish_reason)) != NULL);
	openai_result_free(&res);
	free(body);
}

static void
error_answer(unsigned pick, const uint8_t *data, size_t size)
{
	struct rb_err err;
	bool retryable = false;
	char *body = fuzz_str(data, size);

	rb_err_clear(&err);
	FUZZ_CHECK(openai_map_error(statuses[pick % RB_NELEM(statuses)], body,
	    &retryable, &err) == -1);
	FUZZ_CHECK(err.code[0] != '\0');
	free(body);
}

static void
headers(const uint8_t *data, size_t size)
{
	struct http_response resp;
	struct openai oa;
	char *line, *v;
	long w;

	memset(&resp, 0, sizeof(resp));
	resp.retry_after_ms = -1;
	while (size > 0 && resp.nhdr < HTTP_MAX_HEADERS) {
		if ((line = fuzz_header(&data, &size, &resp, &v)) == NULL)
			continue;
		w = openai_parse_duration_ms(v);
		FUZZ_CHECK(w >= -1);
		if (strcmp(line, "retry-after-ms") == 0 &&
		    rb_parse_long(v, 0, 86400000, &w) == 0)
			resp.retry_after_ms = w;
		free(line);
	}
	resp.status = 429;
	FUZZ_CHECK(openai_retry_wait_ms(&resp) >= -1);
	memset(&oa, 0, sizeof(oa));
	oa.remaining_requests = -1;
	oa.remaining_tokens = -1;
	oa.max_wait_ms = OPENAI_MAX_WAIT_MS;
	openai_note_limits(&oa, &resp, 1000000);
	FUZZ_CHECK(openai_pace_ms(&oa, 0, 1000000) >= 0);
	FUZZ_CHECK(openai_pace_ms(&oa, 4000, 1000001) >= 0);
	FUZZ_CHECK(openai_pace_ms(&oa, 4000, INT64_MAX / 2) >= 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1024 * 1024)
		return 0;
	switch (data[0] % 3) {
	case 0:
		chat(data + 2, size - 2);
		break;
	case 1:
		error_answer(data[1], data + 2, size - 2);
		break;
	default:
		headers(data + 2, size - 2);
		break;
	}
	return 0;
}
