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
 *     and err->msg never holds a credential of the body: the same body
 *     with every access/refresh/id token and secret swapped for another
 *     gets the same verdict and message.
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

/* A credential: the value of access_token, refresh_token, id_token or of
 * any key that names a secret. */
static bool
credential_key(const char *key)
{
	return strcmp(key, "access_token") == 0 ||
	    strcmp(key, "refresh_token") == 0 || strcmp(key, "id_token") == 0 ||
	    strstr(key, "secret") != NULL;
}

/* Replaces, in place and at any depth, every credential string by another
 * of the same length and character classes: each printable non-space
 * character becomes a different one, the rest stays (so what token_text()
 * accepts stays the same).  Returns how many values it changed. */
static int
swap_credentials(json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;
	int n = 0;

	if (json_is_object(v)) {
		json_object_foreach(v, key, x) {
			if (json_is_string(x) && credential_key(key)) {
				char *s = strdup(json_string_value(x));
				size_t k;

				if (s == NULL)
					abort();
				for (k = 0; s[k] != '\0'; k++) {
					unsigned char c = (unsigned char)s[k];

					if (c >= 0x21 && c <= 0x7e)
						s[k] = (char)(0x21 +
						    (c - 0x21 + 47) % 94);
				}
				if (json_object_set_new(v, key,
				    json_string(s)) == -1)
					abort();
				free(s);
				n++;
			} else
				n += swap_credentials(x);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			n += swap_credentials(x);
	}
	return n;
}

/* No credential of the body may show up in err->msg: the same body with
 * every credential swapped for another (swap_credentials) must get the
 * same verdict, code and message.  (Looking for the values themselves in
 * the message raised false alarms on our own wording: a credential-free
 * value such as "refused the token" or "invalid_grant)".) */
static void
no_leak(enum oauth_provider p, long status, const char *body, size_t size,
    int rc, const struct rb_err *err)
{
	json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
	struct oauth_tokens t2;
	struct rb_err err2;
	char *dump = NULL;
	int rc2;

	if (root == NULL || swap_credentials(root) == 0)
		goto out;
	/* Not comparable when the new text is over the cap (jansson escapes
	 * control characters that the original held raw). */
	if ((dump = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL ||
	    strlen(dump) > OAUTH_RESPONSE_MAX)
		goto out;
	memset(&t2, 0, sizeof(t2));
	rb_err_clear(&err2);
	rc2 = oauth_parse_token_response(p, status, dump, strlen(dump), &t2,
	    &err2);
	oauth_tokens_free(&t2);
	if (rc2 != rc || (rc == -1 && (strcmp(err->code, err2.code) != 0 ||
	    strcmp(err->msg, err2.msg) != 0))) {
		fprintf(stderr, "credentials change the verdict or message:\n"
		    "  %d %s: %s\n  %d %s: %s\n", rc, err->code, err->msg,
		    rc2, err2.code, err2.msg);
		abort();
	}
out:
	free(dump);
	json_decref(root);
}

static void
token_answer(unsigned pick, const uint8_t *data, size_t size)
{
	enum oauth_provider p = (enum oauth_provider)(pick % OAUTH__COUNT);
	long status = statuses[(pick / OAUTH__COUNT) % RB_NELEM(statuses)];
	struct oauth_tokens t;
	struct rb_err err;
	char *body = fuzz_str(data, size);
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
	}
	no_leak(p, status, body, size, rc, &err);
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
