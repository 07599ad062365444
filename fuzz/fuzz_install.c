/*
 * fuzz_install.c - the ReBoss app's signatures (owner: install): the
 * install callback's query (shopify_app_verify_callback,
 * shopify_app_query_message) and a webhook's body
 * (shopify_app_verify_webhook), with a fixed client secret.
 *
 * Also what Shopify answers a grant with (shopify_app_parse_token_response:
 * the install, refresh and client-credentials grants) and the scope lists
 * it reports as granted (shopify_missing_scopes, shopify_scope_granted).
 *
 * Input: byte 0 = mode (mod 6), byte 1..2 = a position, the rest = data.
 *   0: data is a callback query as received.
 *   1: data is a query without hmac; the harness signs it (reference
 *      HMAC computed here with OpenSSL over the library's message), checks
 *      it verifies past the HMAC, then changes one byte (the position) and
 *      verifies again.
 *   2: data is "X-Shopify-Hmac-Sha256 value\nbody".
 *   3: data is a body; the harness signs it (reference), then flips one
 *      byte and cuts it.
 *   4: data is the token endpoint's body; the position's low bit picks
 *      status 200, else the status is (position >> 1) % 600.
 *   5: data is "wanted\ngranted"; the position picks the size of the
 *      output buffer (1..512).
 * Invariants:
 *   0: accepted => the query's hmac (any case) == hex HMAC-SHA256 of the
 *      message, computed here; shop is NAME.myshopify.com; code and state
 *      non-empty.
 *   1: the signed query never fails with invalid_hmac; a changed query
 *      that still verifies signs exactly the same message (only an
 *      equivalent spelling, e.g. "%2f" for "%2F", may pass).
 *   2: accepted => the header is the base64 reference digest of the body.
 *   3: the signed body verifies; one flipped byte or one byte less never.
 *   4: accepted <=> status 200 and jansson reads an object whose
 *      access_token is a non-empty string; then the tokens kept are the
 *      body's, byte for byte.  Refused => no token kept, a code set, 429
 *      and 5xx are provider_unreachable, t->error is terminated and no
 *      token value of the body (8+ chars) is quoted in the message.
 *   5: n >= 0 => missing is exactly the wanted names (trimmed) that
 *      shopify_scope_granted() says are not granted, ", "-separated, n of
 *      them; n == -1 only when they do not fit.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex.h>
#include <stdbool.h>

#include "fuzz.h"
#include "shopify_app.h"
#include "shopify_scopes.h"

const char fuzz_target[] = "install";

static const char SECRET[] = "shpss_fuzz_secret_0123456789abcdef";

/* Reference digest: OpenSSL directly, not the library's helpers. */
static void
ref_hmac(const void *data, size_t len, unsigned char md[32])
{
	unsigned int n = 0;
	static const unsigned char empty;

	if (HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    len > 0 ? data : &empty, len, md, &n) == NULL || n != 32)
		abort();
}

static void
ref_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	size_t i;

	ref_hmac(data, len, md);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static bool
shop_ok(const char *s)
{
	static regex_t re;
	static bool init;

	if (!init) {
		if (regcomp(&re, "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
		    "\\.myshopify\\.com$", REG_EXTENDED | REG_NOSUB) != 0)
			abort();
		init = true;
	}
	return regexec(&re, s, 0, NULL, 0) == 0;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

static void
raw_query(const char *q)
{
	struct shopify_callback cb;
	struct rb_buf msg = { .max = 16384 };
	struct rb_err err;
	char hmac[65], want[65];

	rb_err_clear(&err);
	if (shopify_app_verify_callback(q, SECRET, &cb, &err) == 0) {
		FUZZ_CHECK(shopify_app_query_message(q, &msg, hmac, &err) == 0);
		ref_hex(msg.data, msg.len, want);
		lower(hmac);
		FUZZ_CHECK(strcmp(hmac, want) == 0);
		FUZZ_CHECK(shop_ok(cb.shop));
		FUZZ_CHECK(cb.code[0] != '\0' && cb.state[0] != '\0');
	} else
		FUZZ_CHECK(err.code[0] != '\0');
	rb_buf_free(&msg);
}

static void
signed_query(const char *q, size_t pos)
{
	struct shopify_callback cb;
	struct rb_buf msg = { .max = 16384 }, msg2 = { .max = 16384 };
	struct rb_err err;
	char hmac[65], want[65], *sq;
	size_t n;

	rb_err_clear(&err);
	if (shopify_app_query_message(q, &msg, hmac, &err) == -1 ||
	    hmac[0] != '\0') {
		rb_buf_free(&msg);
		return;		/* unparsable, or it brought its own hmac */
	}
	ref_hex(msg.data, msg.len, want);
	n = strlen(q) + 80;
	if ((sq = malloc(n)) == NULL)
		abort();
	snprintf(sq, n, "%s&hmac=%s", q, want);
	if (shopify_app_verify_callback(sq, SECRET, &cb, &err) == -1)
		FUZZ_CHECK(strcmp(err.code, "invalid_hmac") != 0 ||
		    strlen(sq) > SHOPIFY_APP_QUERY_MAX);
	/* one changed byte */
	n = strlen(sq);
	if (n > 0) {
		pos %= n;
		sq[pos] = (char)(sq[pos] == 'x' ? 'y' : 'x');
		if (shopify_app_verify_callback(sq, SECRET, &cb, &err) == 0) {
			FUZZ_CHECK(shopify_app_query_message(sq, &msg2, hmac,
			    &err) == 0);
			FUZZ_CHECK(msg2.len == msg.len &&
			    memcmp(msg2.data, msg.data, msg.len) == 0);
		}
	}
	free(sq);
	rb_buf_free(&msg);
	rb_buf_free(&msg2);
}

static void
webhook_header(const uint8_t *data, size_t size)
{
	unsigned char md[32], dec[64];
	struct rb_err err;
	char *hdr = fuzz_field(&data, &size, '\n');
	int dlen;

	rb_err_clear(&err);
	if (shopify_app_verify_webhook(data, size, hdr, SECRET, &err) == 0) {
		ref_hmac(data, size, md);
		FUZZ_CHECK(strlen(hdr) == 44);
		dlen = EVP_DecodeBlock(dec, (const unsigned char *)hdr, 44);
		FUZZ_CHECK(dlen == 33 && memcmp(dec, md, 32) == 0);
	} else
		FUZZ_CHECK(err.status == 401 || err.status == 500);
	free(hdr);
}

static void
webhook_signed(const uint8_t *data, size_t size, size_t pos)
{
	unsigned char md[32], *copy;
	char b64[64];
	struct rb_err err;

	ref_hmac(data, size, md);
	if (EVP_EncodeBlock((unsigned char *)b64, md, 32) != 44)
		abort();
	rb_err_clear(&err);
	FUZZ_CHECK(shopify_app_verify_webhook(data, size, b64, SECRET,
	    &err) == 0);
	if (size == 0)
		return;
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[pos % size] ^= 0x01;
	FUZZ_CHECK(shopify_app_verify_webhook(copy, size, b64, SECRET,
	    &err) == -1 && err.status == 401);
	FUZZ_CHECK(shopify_app_verify_webhook(data, size - 1, b64, SECRET,
	    &err) == -1 && err.status == 401);
	free(copy);
}

/* Mode 4: the token endpoint's answer, against jansson as the oracle. */
static void
token_answer(const uint8_t *data, size_t size, size_t pos)
{
	struct shopify_app_tokens t;
	struct rb_err err;
	json_t *root;
	const char *at = NULL, *rt = NULL;
	long status = (pos & 1) == 0 ? 200 : (long)((pos >> 1) % 600);
	int rc;

	rb_err_clear(&err);
	rc = shopify_app_parse_token_response(status, (const char *)data,
	    size, &t, &err);
	root = size > 0 ? json_loadb((const char *)data, size,
	    JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (json_is_object(root)) {
		at = json_string_value(json_object_get(root, "access_token"));
		rt = json_string_value(json_object_get(root, "refresh_token"));
	}
	if (rc == 0) {
		FUZZ_CHECK(status == 200 && at != NULL && at[0] != '\0');
		FUZZ_CHECK(t.access_token != NULL &&
		    strcmp(t.access_token, at) == 0);
		FUZZ_CHECK(rt == NULL ? t.refresh_token == NULL :
		    t.refresh_token != NULL && strcmp(t.refresh_token, rt) == 0);
		FUZZ_CHECK(memchr(t.scope, '\0', sizeof(t.scope)) != NULL);
	} else {
		FUZZ_CHECK(status != 200 || at == NULL || at[0] == '\0' ||
		    strcmp(err.code, "token_exchange_failed") == 0 ||
		    strcmp(err.code, "out_of_memory") == 0);
		FUZZ_CHECK(t.access_token == NULL && t.refresh_token == NULL);
		FUZZ_CHECK(err.code[0] != '\0');
		FUZZ_CHECK(memchr(t.error, '\0', sizeof(t.error)) != NULL);
		if (status == 429 || status >= 500)
			FUZZ_CHECK(strcmp(err.code, "provider_unreachable") == 0);
		if (at != NULL && strlen(at) >= 8)
			FUZZ_CHECK(strstr(err.msg, at) == NULL);
		if (rt != NULL && strlen(rt) >= 8)
			FUZZ_CHECK(strstr(err.msg, rt) == NULL);
	}
	shopify_app_tokens_free(&t);
	json_decref(root);
}

/* Mode 5: the names of wanted, trimmed, in order, into names[] (within
 * copy); how many. */
static size_t
split_names(char *copy, char **names, size_t max)
{
	size_t n = 0;
	char *p = copy, *e, *end;

	while (p != NULL && n < max) {
		e = strchr(p, ',');
		if (e != NULL)
			*e = '\0';
		while (*p == ' ')	/* spaces only, as shopify_scopes.h says */
			p++;
		end = p + strlen(p);
		while (end > p && end[-1] == ' ')
			*--end = '\0';
		if (*p != '\0')
			names[n++] = p;
		p = e != NULL ? e + 1 : NULL;
	}
	return n;
}

static void
scope_lists(const uint8_t *data, size_t size, size_t pos)
{
	char *s = fuzz_str(data, size), *granted, *wanted_copy, *names[64];
	char missing[512], expect[2048] = "";
	size_t cap = 1 + pos % sizeof(missing), i, nn, want_n = 0, len = 0;
	int n;

	granted = strchr(s, '\n');
	if (granted == NULL || strlen(s) > 1024) {
		free(s);
		return;
	}
	*granted++ = '\0';
	if (strchr(granted, '\n') != NULL || (wanted_copy = strdup(s)) == NULL) {
		free(s);
		return;
	}
	nn = split_names(wanted_copy, names, RB_NELEM(names));
	if (nn == RB_NELEM(names)) {	/* more names than the model keeps */
		free(wanted_copy);
		free(s);
		return;
	}
	for (i = 0; i < nn; i++) {
		if (shopify_scope_granted(granted, names[i]))
			continue;
		len += (size_t)snprintf(expect + len, sizeof(expect) - len,
		    "%s%s", want_n > 0 ? ", " : "", names[i]);
		want_n++;
	}
	memset(missing, 'x', sizeof(missing));
	n = shopify_missing_scopes(s, granted, missing, cap);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n == want_n);
		FUZZ_CHECK(memchr(missing, '\0', cap) != NULL);
		FUZZ_CHECK(strcmp(missing, expect) == 0);
	} else
		FUZZ_CHECK(n == -1 && strlen(expect) + 1 > cap);
	free(wanted_copy);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;
	size_t pos;
	char *s;

	if (size < 3)
		return 0;
	mode = data[0] % 6;
	pos = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	switch (mode) {
	case 0:
		s = fuzz_str(data, size);
		raw_query(s);
		free(s);
		break;
	case 1:
		s = fuzz_str(data, size);
		signed_query(s, pos);
		free(s);
		break;
	case 2:
		webhook_header(data, size);
		break;
	case 4:
		token_answer(data, size, pos);
		break;
	case 5:
		scope_lists(data, size, pos);
		break;
	default:
		webhook_signed(data, size, pos);
		break;
	}
	return 0;
}
