/*
 * fuzz_oauth.c - what the OAuth providers send us (owner: fuzzing):
 * the callback query values (oauth_check_callback) and the token
 * endpoint's answer (oauth_parse_token_response) of Pinterest, Meta and
 * Google.
 *
 * Input: byte 0 = mode.
 *   even: callback.  Byte 1 bits 0..2 say whether code, state, error are
 *         present; the rest is "code\nstate\nerror".
 *   odd:  token answer.  Byte 1 picks the provider and the HTTP status;
 *         the rest is the body.
 * Invariants:
 *   callback accepted => error absent, code present, state_out == state
 *     and is 43 base64url characters; refused => one of the three codes.
 *   token answer accepted => 2xx, an access token of 1..OAUTH_TOKEN_MAX
 *     characters; refused => token_exchange_failed/provider_unreachable,
 *     and err->msg never holds a token value from the body.
 */
#include <jansson.h>
#include <stdbool.h>

#include "fuzz.h"
#include "oauth.h"

const char fuzz_target[] = "oauth";

static const long statuses[] = {
	200, 201, 204, 299, 400, 401, 403, 404, 429, 500, 502, 503, 302, 0, 100,
	-1,
};

static bool
b64url(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

static void
callback(unsigned flags, const uint8_t *data, size_t size)
{
	char state_out[OAUTH_STATE_LEN + 1];
	struct rb_err err;
	char *code, *state, *error;
	int rc;

	code = fuzz_field(&data, &size, '\n');
	state = fuzz_field(&data, &size, '\n');
	error = fuzz_field(&data, &size, '\n');
	memset(state_out, 0x5a, sizeof(state_out));
	rc = oauth_check_callback(flags & 1 ? code : NULL,
	    flags & 2 ? state : NULL, flags & 4 ? error : NULL, state_out,
	    &err);
	FUZZ_CHECK(memchr(state_out, '\0', sizeof(state_out)) != NULL);
	if (state_out[0] != '\0')
		FUZZ_CHECK((flags & 2) && strcmp(state_out, state) == 0 &&
		    strlen(state_out) == OAUTH_STATE_LEN && b64url(state_out));
	if (rc == 0) {
		FUZZ_CHECK((flags & 1) && !(flags & 4) && code[0] != '\0');
		FUZZ_CHECK(strlen(code) <= OAUTH_CODE_MAX);
		FUZZ_CHECK(strlen(state_out) == OAUTH_STATE_LEN);
	} else
		FUZZ_CHECK(strcmp(err.code, "access_denied") == 0 ||
		    strcmp(err.code, "invalid_state") == 0 ||
		    strcmp(err.code, "invalid_callback") == 0);
	free(code);
	free(state);
	free(error);
}

/* No string value of the body longer than 4 characters may show up in
 * err->msg unless it is a plain word (the provider's error code). */
static void
no_leak(const char *msg, json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s), k;
		bool word = true;

		for (k = 0; k < n; k++)
			if (!((s[k] >= 'a' && s[k] <= 'z') || s[k] == '_' ||
			    (s[k] >= '0' && s[k] <= '9') ||
			    (s[k] >= 'A' && s[k] <= 'Z')))
				word = false;
		/* Only strings long enough to be a credential: a short
		 * value such as " bearer" may also be part of our own fixed
		 * wording ("... other than bearer."). */
		if (n > 12 && !word && strstr(msg, s) != NULL) {
			fprintf(stderr, "err->msg \"%s\" holds \"%s\"\n", msg,
			    s);
			abort();
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, x)
			no_leak(msg, x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			no_leak(msg, x);
	}
}

static void
token_answer(unsigned pick, const uint8_t *data, size_t size)
{
	enum oauth_provider p = (enum oauth_provider)(pick % OAUTH__COUNT);
	long status = statuses[(pick / OAUTH__COUNT) % RB_NELEM(statuses)];
	struct oauth_tokens t;
	struct rb_err err;
	char *body = fuzz_str(data, size);
	json_t *root;
	int rc;

	memset(&t, 0, sizeof(t));
	rb_err_clear(&err);
	rc = oauth_parse_token_response(p, status, body, size, &t, &err);
	if (rc == 0) {
		FUZZ_CHECK(status >= 200 && status <= 299);
		FUZZ_CHECK(t.access_token != NULL && t.access_token[0] != '\0'
		    && strlen(t.access_token) <= OAUTH_TOKEN_MAX);
		FUZZ_CHECK(t.refresh_token == NULL ||
		    strlen(t.refresh_token) <= OAUTH_TOKEN_MAX);
		FUZZ_CHECK(memchr(t.scopes, '\0', sizeof(t.scopes)) != NULL);
	} else {
		FUZZ_CHECK(strcmp(err.code, "token_exchange_failed") == 0 ||
		    strcmp(err.code, "provider_unreachable") == 0);
		root = json_loadb(body, size, 0, NULL);
		no_leak(err.msg, root);
		json_decref(root);
	}
	oauth_tokens_free(&t);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > OAUTH_RESPONSE_MAX)
		return 0;
	if (data[0] % 2 == 0)
		callback(data[1], data + 2, size - 2);
	else
		token_answer(data[1], data + 2, size - 2);
	return 0;
}
