/*
 * test_jwt.c - Supabase access token verification.
 *
 * Keys are generated at run time (EC P-256, RSA 2048), the JWKS is built
 * from them and tokens are signed here, so nothing is a fixed fixture.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "encode.h"
#include "jwt.h"
#include "util.h"
#include "tap.h"

#define SECRET	"super-secret-jwt-token-with-at-least-32-characters-long"
#define SUB	"4f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5b"

enum sign { S_NONE, S_HS, S_ES, S_RS, S_JUNK };

static EVP_PKEY *ec1, *ec2, *rsa1, *rsa_small;
static time_t now;

static char *
b64(const void *p, size_t n)
{
	char *s = NULL;

	if (rb_b64url_encode(p, n, &s) == -1)
		abort();
	return s;
}

static void
put(struct rb_buf *b, const char *s)
{
	if (rb_buf_puts(b, s) == -1)
		abort();
}

/* HMAC / ECDSA (raw r||s) / RSA signature over in, as base64url. */
static char *
sign(enum sign how, const void *hkey, size_t hkeylen, EVP_PKEY *pkey,
    const char *in)
{
	unsigned char sig[1024], *p;
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md;
	ECDSA_SIG *es;
	const unsigned char *cp;

	switch (how) {
	case S_NONE:
		return strdup("");
	case S_JUNK:
		return strdup("c2lnbmF0dXJl");
	case S_HS:
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hkey,
		    hkeylen, (const unsigned char *)in, strlen(in), sig,
		    sizeof(sig), &siglen) == NULL)
			abort();
		return b64(sig, siglen);
	case S_ES:
	case S_RS:
		if ((md = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
		    NULL) != 1 ||
		    EVP_DigestSign(md, sig, &siglen,
		    (const unsigned char *)in, strlen(in)) != 1)
			abort();
		EVP_MD_CTX_free(md);
		if (how == S_RS)
			return b64(sig, siglen);
		cp = sig;
		if ((es = d2i_ECDSA_SIG(NULL, &cp, (long)siglen)) == NULL)
			abort();
		p = sig + 512;
		if (BN_bn2binpad(ECDSA_SIG_get0_r(es), p, 32) != 32 ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), p + 32, 32) != 32)
			abort();
		ECDSA_SIG_free(es);
		return b64(p, 64);
	}
	abort();
}

/* header and payload JSON text -> signed compact token */
static char *
token_raw(const char *hdr, const char *payload, enum sign how,
    const void *hkey, size_t hkeylen, EVP_PKEY *pkey)
{
	struct rb_buf b = { 0 };
	char *h = b64(hdr, strlen(hdr)), *p = b64(payload, strlen(payload));
	char *s;

	put(&b, h);
	put(&b, ".");
	put(&b, p);
	s = sign(how, hkey, hkeylen, pkey, b.data);
	put(&b, ".");
	put(&b, s);
	free(h);
	free(p);
	free(s);
	return b.data;
}

/* A Supabase-like payload with exp relative to now, plus extra members. */
static char *
payload(long long exp_off, const char *extra)
{
	struct rb_buf b = { 0 };

	if (rb_buf_printf(&b, "{\"aud\":\"authenticated\",\"exp\":%lld,"
	    "\"iat\":%lld,\"sub\":\"" SUB "\",\"email\":\"a@example.com\","
	    "\"role\":\"authenticated\"%s%s}", (long long)now + exp_off,
	    (long long)now - 10, extra ? "," : "", extra ? extra : "") == -1)
		abort();
	return b.data;
}

static char *
hs_token(const char *pl)
{
	return token_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pl, S_HS,
	    SECRET, strlen(SECRET), NULL);
}

static void
add_b64_bn(struct rb_buf *b, const char *name, EVP_PKEY *k,
    const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;
	char *s;

	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
		abort();
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	if (n <= 0)
		abort();
	s = b64(buf, (size_t)n);
	if (rb_buf_printf(b, ",\"%s\":\"%s\"", name, s) == -1)
		abort();
	free(s);
	BN_free(bn);
}

/* One JWK object for k; extra is spliced in as members. */
static void
add_jwk(struct rb_buf *b, EVP_PKEY *k, const char *kid, const char *extra)
{
	if (EVP_PKEY_is_a(k, "EC")) {
		put(b, "{\"kty\":\"EC\",\"crv\":\"P-256\"");
		add_b64_bn(b, "x", k, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		add_b64_bn(b, "y", k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	} else {
		put(b, "{\"kty\":\"RSA\"");
		add_b64_bn(b, "n", k, OSSL_PKEY_PARAM_RSA_N, 0);
		add_b64_bn(b, "e", k, OSSL_PKEY_PARAM_RSA_E, 0);
	}
	if (kid != NULL && rb_buf_printf(b, ",\"kid\":\"%s\"", kid) == -1)
		abort();
	if (extra != NULL) {
		put(b, ",");
		put(b, extra);
	}
	put(b, "}");
}

static char *
pem_of(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1)
		abort();
	n = BIO_get_mem_data(bio, &p);
	if ((s = strndup(p, (size_t)n)) == NULL)
		abort();
	BIO_free(bio);
	return s;
}

/* --- checks ---------------------------------------------------------- */

static void
accepted(const struct jwt_keys *k, const char *tok, const char *what)
{
	struct jwt_claims c;
	struct rb_err err;

	rb_err_clear(&err);
	if (!ok(jwt_verify(k, tok, now, &c, &err) == 0, "accepted: %s", what))
		printf("#   %s %s\n", err.code, err.msg);
	is_str(c.sub, SUB, "sub copied: %s", what);
}

static void
rejected(const struct jwt_keys *k, const char *tok, const char *code,
    const char *what)
{
	struct jwt_claims c;
	struct rb_err err;
	const char *dot;
	int rc;

	rb_err_clear(&err);
	memset(&c, 'x', sizeof(c));
	rc = jwt_verify(k, tok, now, &c, &err);
	ok(rc == -1, "refused: %s", what);
	is_str(err.code, code, "code: %s", what);
	is_int(err.status, 401, "status 401: %s", what);
	ok(c.sub[0] == '\0' && c.role[0] == '\0' && c.email[0] == '\0' &&
	    c.exp == 0, "claims cleared: %s", what);
	/* the message quotes no part of the token */
	dot = tok != NULL ? strrchr(tok, '.') : NULL;
	ok(tok == NULL || strlen(tok) < 8 ||
	    (strstr(err.msg, tok) == NULL &&
	    (dot == NULL || strlen(dot) < 8 || strstr(err.msg, dot + 1) ==
	    NULL) && strstr(err.msg, "eyJ") == NULL),
	    "message quotes no token: %s", what);
}

static struct jwt_keys *
load(const char *secret, const char *jwks, const char *what)
{
	struct jwt_keys *k = NULL;
	struct rb_err err;

	rb_err_clear(&err);
	if (!ok(jwt_keys_load(&k, secret, jwks, &err) == 0 && k != NULL,
	    "keys load: %s", what))
		printf("#   %s %s\n", err.code, err.msg);
	return k;
}

static void
load_fails(const char *secret, const char *jwks, const char *what)
{
	struct jwt_keys *k = (struct jwt_keys *)&k;
	struct rb_err err;

	rb_err_clear(&err);
	ok(jwt_keys_load(&k, secret, jwks, &err) == -1 && k == NULL &&
	    err.code[0] != '\0', "keys refused: %s", what);
	ok(strstr(err.msg, SECRET) == NULL, "no secret in message: %s", what);
}

/* --- tests ------------------------------------------------------------ */

static char *jwks;		/* ec1 "ec-1", ec2 "ec-2", rsa1 "rsa-1" */

static void
test_valid(struct jwt_keys *hs, struct jwt_keys *pk, struct jwt_keys *both)
{
	struct jwt_claims c;
	struct rb_err err;
	char *pl = payload(3600, NULL), *t;

	t = hs_token(pl);
	ok(jwt_verify(hs, t, now, &c, &err) == 0, "HS256 valid");
	is_str(c.sub, SUB, "HS256 sub");
	is_str(c.role, "authenticated", "HS256 role");
	is_str(c.email, "a@example.com", "HS256 email");
	is_int(c.exp, (long long)now + 3600, "HS256 exp");
	accepted(both, t, "HS256 with secret and JWKS loaded");
	rejected(pk, t, "invalid_token", "HS256 when only a JWKS is loaded");
	free(t);

	t = token_raw("{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"ec-2\"}",
	    pl, S_ES, NULL, 0, ec2);
	accepted(pk, t, "ES256 by kid");
	accepted(both, t, "ES256 by kid, both loaded");
	rejected(hs, t, "invalid_token", "ES256 when only a secret is loaded");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", pl, S_ES, NULL,
	    0, ec2);
	rejected(pk, t, "invalid_token", "ES256 signed by the other EC key");
	free(t);

	t = token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", pl, S_RS, NULL,
	    0, rsa1);
	accepted(pk, t, "RS256 by kid");
	free(t);
	/* no kid: one RSA key -> used; two EC keys -> ambiguous */
	t = token_raw("{\"alg\":\"RS256\"}", pl, S_RS, NULL, 0, rsa1);
	accepted(pk, t, "RS256 without kid, one RSA key");
	free(t);
	t = token_raw("{\"alg\":\"ES256\"}", pl, S_ES, NULL, 0, ec1);
	rejected(pk, t, "invalid_token", "ES256 without kid, two EC keys");
	free(t);
	t = token_raw("{\"alg\":\"ES256\"}", pl, S_ES, NULL, 0, ec2);
	rejected(pk, t, "invalid_token", "ES256 without kid, two EC keys (2)");
	free(t);
	free(pl);

	/* aud as an array; role and email absent or null */
	{
		struct rb_buf b = { 0 };

		if (rb_buf_printf(&b, "{\"aud\":[\"other\",\"authenticated\"],"
		    "\"exp\":%lld,\"sub\":\"" SUB "\",\"email\":null}",
		    (long long)now + 60) == -1)
			abort();
		t = hs_token(b.data);
		ok(jwt_verify(hs, t, now, &c, &err) == 0 && c.role[0] == '\0' &&
		    c.email[0] == '\0', "aud array, no role, null email");
		free(t);
		rb_buf_free(&b);
	}
}

static void
test_times(struct jwt_keys *hs)
{
	struct jwt_claims c;
	struct rb_err err;
	char *pl, *t;
	char extra[256];

	pl = payload(-61, NULL);
	t = hs_token(pl);
	rejected(hs, t, "token_expired", "exp 61 s ago");
	free(t);
	free(pl);
	pl = payload(-60, NULL);
	t = hs_token(pl);
	rejected(hs, t, "token_expired", "exp exactly 60 s ago");
	free(t);
	free(pl);
	pl = payload(-59, NULL);
	t = hs_token(pl);
	accepted(hs, t, "exp 59 s ago (leeway)");
	free(t);
	free(pl);
	pl = payload(-100000, NULL);
	t = hs_token(pl);
	rejected(hs, t, "token_expired", "long expired");
	ok(jwt_verify(hs, t, now - 100000, &c, &err) == 0,
	    "the same token at an earlier now");
	free(t);
	free(pl);

	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 61);
	pl = payload(3600, extra);
	t = hs_token(pl);
	rejected(hs, t, "invalid_token", "nbf 61 s ahead");
	free(t);
	free(pl);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 60);
	pl = payload(3600, extra);
	t = hs_token(pl);
	accepted(hs, t, "nbf 60 s ahead (leeway)");
	free(t);
	free(pl);
	pl = payload(3600, "\"nbf\":\"soon\"");
	t = hs_token(pl);
	rejected(hs, t, "invalid_token", "nbf a string");
	free(t);
	free(pl);

	t = hs_token("{\"aud\":\"authenticated\",\"sub\":\"" SUB "\"}");
	rejected(hs, t, "invalid_token", "no exp");
	free(t);
	snprintf(extra, sizeof(extra), "{\"aud\":\"authenticated\",\"sub\":\""
	    SUB "\",\"exp\":\"%lld\"}", (long long)now + 3600);
	t = hs_token(extra);
	rejected(hs, t, "invalid_token", "exp a string");
	free(t);
}

/* tmpl with "EXP" replaced by e */
static const char *
with_exp(char *buf, size_t sz, const char *tmpl, long long e)
{
	const char *at = strstr(tmpl, "EXP");

	if (at == NULL || snprintf(buf, sz, "%.*s%lld%s", (int)(at - tmpl),
	    tmpl, e, at + 3) >= (int)sz)
		abort();
	return buf;
}

static void
test_claims(struct jwt_keys *hs)
{
	char buf[512], *t;
	long long e = (long long)now + 3600;
	static const char *bad[] = {
		"{\"aud\":\"anon\",\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"aud\":[\"anon\"],\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"aud\":[],\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"aud\":\"Authenticated\",\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"aud\":1,\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"exp\":EXP,\"sub\":\"" SUB "\"}",
		"{\"aud\":\"authenticated\",\"exp\":EXP}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\"abc\"}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\"\"}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":42}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\""
		    "4f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5bx\"}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\"" SUB
		    "\",\"role\":\"a-role-name-that-is-far-too-long-to-keep\"}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\"" SUB
		    "\",\"role\":7}",
		"{\"aud\":\"authenticated\",\"exp\":EXP,\"sub\":\"" SUB
		    "\",\"sub\":\"" SUB "\"}",
	};
	static const char *what[] = {
		"aud anon", "aud array without authenticated", "aud empty array",
		"aud case differs", "aud a number", "aud missing",
		"sub missing", "sub not a UUID", "sub empty", "sub a number",
		"sub UUID with a tail", "role too long", "role a number",
		"duplicate sub in payload",
	};
	size_t i;

	for (i = 0; i < RB_NELEM(bad); i++) {
		t = hs_token(with_exp(buf, sizeof(buf), bad[i], e));
		rejected(hs, t, "invalid_token", what[i]);
		free(t);
	}
	t = hs_token("[1,2]");
	rejected(hs, t, "invalid_token", "payload an array");
	free(t);
	snprintf(buf, sizeof(buf), "{\"aud\":\"authenticated\",\"exp\":%lld,"
	    "\"sub\":\"" SUB "\"} x", e);
	t = hs_token(buf);
	rejected(hs, t, "invalid_token", "payload with trailing garbage");
	free(t);
	snprintf(buf, sizeof(buf), "{\"aud\":\"authenticated\",\"exp\":%lld,"
	    "\"sub\":\"" SUB "\",\"role\":\"service_role\"}", e);
	t = hs_token(buf);
	{
		struct jwt_claims c;
		struct rb_err err;

		ok(jwt_verify(hs, t, now, &c, &err) == 0 &&
		    strcmp(c.role, "service_role") == 0, "role copied");
	}
	free(t);
	snprintf(buf, sizeof(buf), "{\"aud\":\"authenticated\",\"exp\":%lld,"
	    "\"sub\":\"4F1C2A3B-5D6E-4F70-8A9B-0C1D2E3F4A5B\"}", e);
	t = hs_token(buf);
	accepted(hs, t, "upper-case sub, copied in lower case");
	free(t);
}

static void
test_alg_attacks(struct jwt_keys *hs, struct jwt_keys *pk,
    struct jwt_keys *both)
{
	char *pl = payload(3600, NULL), *t, *pem;

	t = token_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, S_NONE, NULL,
	    0, NULL);
	rejected(hs, t, "invalid_token", "alg none, no signature");
	rejected(both, t, "invalid_token", "alg none, no signature, both");
	free(t);
	t = token_raw("{\"alg\":\"none\"}", pl, S_HS, SECRET, strlen(SECRET),
	    NULL);
	rejected(hs, t, "invalid_token", "alg none with an HMAC signature");
	free(t);
	t = token_raw("{\"alg\":\"none\"}", pl, S_JUNK, NULL, 0, NULL);
	rejected(both, t, "invalid_token", "alg none with junk signature");
	free(t);
	t = token_raw("{\"alg\":\"hs256\"}", pl, S_HS, SECRET, strlen(SECRET),
	    NULL);
	rejected(hs, t, "invalid_token", "alg hs256 (case)");
	free(t);
	t = token_raw("{\"alg\":\"HS512\"}", pl, S_HS, SECRET, strlen(SECRET),
	    NULL);
	rejected(hs, t, "invalid_token", "alg HS512");
	free(t);
	t = token_raw("{\"typ\":\"JWT\"}", pl, S_HS, SECRET, strlen(SECRET),
	    NULL);
	rejected(hs, t, "invalid_token", "no alg");
	free(t);
	t = token_raw("{\"alg\":\"HS256\",\"alg\":\"none\"}", pl, S_HS, SECRET,
	    strlen(SECRET), NULL);
	rejected(hs, t, "invalid_token", "duplicate alg in header");
	free(t);
	t = token_raw("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", pl, S_HS,
	    SECRET, strlen(SECRET), NULL);
	rejected(hs, t, "invalid_token", "crit header");
	free(t);
	t = token_raw("[\"HS256\"]", pl, S_HS, SECRET, strlen(SECRET), NULL);
	rejected(hs, t, "invalid_token", "header an array");
	free(t);

	t = token_raw("{\"alg\":\"HS256\"}", pl, S_HS, "", 0, NULL);
	rejected(pk, t, "invalid_token", "HS256 with an empty HMAC key");
	free(t);
	/* algorithm confusion: HMAC keyed with public material */
	pem = pem_of(rsa1);
	t = token_raw("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", pl, S_HS, pem,
	    strlen(pem), NULL);
	rejected(pk, t, "invalid_token", "HS256 keyed with the RSA PEM");
	rejected(both, t, "invalid_token",
	    "HS256 keyed with the RSA PEM, both loaded");
	free(t);
	free(pem);
	pem = pem_of(ec1);
	t = token_raw("{\"alg\":\"HS256\",\"kid\":\"ec-1\"}", pl, S_HS, pem,
	    strlen(pem), NULL);
	rejected(pk, t, "invalid_token", "HS256 keyed with the EC PEM");
	free(t);
	free(pem);
	t = token_raw("{\"alg\":\"HS256\"}", pl, S_HS, jwks, strlen(jwks),
	    NULL);
	rejected(pk, t, "invalid_token", "HS256 keyed with the JWKS text");
	rejected(both, t, "invalid_token",
	    "HS256 keyed with the JWKS text, both loaded");
	free(t);

	/* alg that does not fit the key behind the kid */
	t = token_raw("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", pl, S_ES, NULL,
	    0, ec1);
	rejected(pk, t, "invalid_token", "RS256 header on an EC key (ES sig)");
	{
		struct jwt_claims c;
		struct rb_err err;

		rb_err_clear(&err);
		ok(jwt_verify(pk, t, now, &c, &err) == -1 &&
		    strstr(err.msg, "does not fit the key") != NULL,
		    "RS256 on an EC key: refused for the key type");
	}
	free(t);
	t = token_raw("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", pl, S_RS, NULL,
	    0, rsa1);
	rejected(pk, t, "invalid_token", "RS256 header on an EC key (RS sig)");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", pl, S_RS, NULL,
	    0, rsa1);
	rejected(pk, t, "invalid_token", "ES256 header on an RSA key");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"ec-9\"}", pl, S_ES, NULL,
	    0, ec1);
	rejected(pk, t, "invalid_token", "unknown kid");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":7}", pl, S_ES, NULL, 0, ec1);
	rejected(pk, t, "invalid_token", "kid a number");
	free(t);
	free(pl);
}

static char *
replace_part(const char *tok, int part, const char *with)
{
	struct rb_buf b = { 0 };
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

	if (part == 0)
		put(&b, with);
	else if (rb_buf_append(&b, tok, (size_t)(d1 - tok)) == -1)
		abort();
	put(&b, ".");
	if (part == 1)
		put(&b, with);
	else if (rb_buf_append(&b, d1 + 1, (size_t)(d2 - d1 - 1)) == -1)
		abort();
	put(&b, ".");
	put(&b, part == 2 ? with : d2 + 1);
	return b.data;
}

static void
test_tamper_and_syntax(struct jwt_keys *hs, struct jwt_keys *pk)
{
	char *pl = payload(3600, NULL), *pl2, *other, *t, *u, *es, *rs;
	const char *sig;
	size_t i, n;
	struct rb_buf b = { 0 };

	pl2 = payload(3600, "\"role\":\"service_role\"");
	other = b64(pl2, strlen(pl2));
	t = hs_token(pl);
	es = token_raw("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", pl, S_ES, NULL,
	    0, ec1);
	rs = token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", pl, S_RS, NULL,
	    0, rsa1);
	accepted(hs, t, "untampered HS256");
	u = replace_part(t, 1, other);
	rejected(hs, u, "invalid_token", "HS256 payload swapped");
	free(u);
	u = replace_part(es, 1, other);
	rejected(pk, u, "invalid_token", "ES256 payload swapped");
	free(u);
	u = replace_part(rs, 1, other);
	rejected(pk, u, "invalid_token", "RS256 payload swapped");
	free(u);

	/* a flipped character at several places of each token */
	for (i = 0; i < 3; i++) {
		const char *tok = i == 0 ? t : i == 1 ? es : rs;
		struct jwt_keys *k = i == 0 ? hs : pk;
		size_t pos, bad = 0, tries = 0;

		n = strlen(tok);
		for (pos = 0; pos < n; pos += 7) {
			if (tok[pos] == '.')
				continue;
			u = strdup(tok);
			u[pos] = u[pos] == 'A' ? 'B' : 'A';
			{
				struct jwt_claims c;
				struct rb_err err;

				if (jwt_verify(k, u, now, &c, &err) == 0)
					bad++;
			}
			tries++;
			free(u);
		}
		ok(tries > 20 && bad == 0,
		    "every changed character refused (token %zu, %zu tries)",
		    i, tries);
	}

	/* ES256 signature in DER instead of r||s, or one byte longer */
	{
		unsigned char *raw = NULL, der[80];
		size_t rawlen = 0;
		ECDSA_SIG *s = ECDSA_SIG_new();
		unsigned char *dp = der;
		int dl;
		char *enc;

		sig = strrchr(es, '.') + 1;
		if (rb_b64url_decode(sig, strlen(sig), &raw, &rawlen) == -1 ||
		    rawlen != 64 || s == NULL)
			abort();
		if (ECDSA_SIG_set0(s, BN_bin2bn(raw, 32, NULL),
		    BN_bin2bn(raw + 32, 32, NULL)) != 1 ||
		    (dl = i2d_ECDSA_SIG(s, &dp)) <= 0)
			abort();
		enc = b64(der, (size_t)dl);
		u = replace_part(es, 2, enc);
		rejected(pk, u, "invalid_token", "ES256 signature as DER");
		free(u);
		free(enc);
		ECDSA_SIG_free(s);
		raw = realloc(raw, 65);
		raw[64] = 0;
		enc = b64(raw, 65);
		u = replace_part(es, 2, enc);
		rejected(pk, u, "invalid_token", "ES256 signature 65 bytes");
		free(u);
		free(enc);
		memset(raw, 0, 64);
		enc = b64(raw, 64);
		u = replace_part(es, 2, enc);
		rejected(pk, u, "invalid_token", "ES256 signature all zero");
		free(u);
		free(enc);
		free(raw);
	}
	/* RS256 signature shortened by one byte */
	{
		unsigned char *raw = NULL;
		size_t rawlen = 0;
		char *enc;

		sig = strrchr(rs, '.') + 1;
		if (rb_b64url_decode(sig, strlen(sig), &raw, &rawlen) == -1)
			abort();
		enc = b64(raw + 1, rawlen - 1);
		u = replace_part(rs, 2, enc);
		rejected(pk, u, "invalid_token", "RS256 signature one byte short");
		free(u);
		free(enc);
		free(raw);
	}

	/* base64url syntax */
	u = strdup(t);
	u[3] = '+';
	rejected(hs, u, "invalid_token", "'+' in header");
	free(u);
	u = strdup(t);
	u[strlen(u) - 2] = '/';
	rejected(hs, u, "invalid_token", "'/' in signature");
	free(u);
	u = strdup(t);
	u[strlen(u) - 1] = '=';
	rejected(hs, u, "invalid_token", "'=' in signature");
	free(u);
	u = replace_part(t, 2, "");
	rejected(hs, u, "invalid_token", "empty signature");
	free(u);
	u = replace_part(t, 1, "");
	rejected(hs, u, "invalid_token", "empty payload");
	free(u);
	u = replace_part(t, 0, "");
	rejected(hs, u, "invalid_token", "empty header");
	free(u);
	u = replace_part(t, 1, "A");
	rejected(hs, u, "invalid_token", "payload of one character");
	free(u);
	/* non-canonical last character of the signature (43 chars: 2 spare
	 * bits) decodes to the same bytes; it must still be refused */
	u = strdup(t);
	{
		static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789-_";
		char *last = u + strlen(u) - 1;

		*last = a[(strchr(a, *last) - a) ^ 1];
	}
	rejected(hs, u, "invalid_token", "non-canonical signature encoding");
	free(u);

	/* dots */
	put(&b, t);
	put(&b, ".");
	rejected(hs, b.data, "invalid_token", "three dots (trailing)");
	put(&b, "x");
	rejected(hs, b.data, "invalid_token", "three dots");
	put(&b, ".y");
	rejected(hs, b.data, "invalid_token", "four dots");
	rb_buf_free(&b);
	u = strdup(t);
	*strrchr(u, '.') = '\0';
	rejected(hs, u, "invalid_token", "one dot");
	free(u);
	rejected(hs, "nodots", "invalid_token", "no dot");
	rejected(hs, "..", "invalid_token", "only dots");
	rejected(hs, "Bearer x.y.z", "invalid_token", "junk with two dots");
	rejected(hs, NULL, "missing_token", "NULL token");
	rejected(hs, "", "missing_token", "empty token");

	free(t);
	free(es);
	free(rs);
	free(other);
	free(pl2);
	free(pl);
}

static void
test_size(struct jwt_keys *hs)
{
	struct rb_buf pad = { 0 };
	char *pl, *t, *big = NULL, *fits = NULL;
	size_t n;

	/* grow a claim until the token passes JWT_MAX_LEN */
	for (n = 5500; n < 7000 && big == NULL; n++) {
		pad.len = 0;
		put(&pad, "\"pad\":\"");
		while (pad.len < n + 7)
			put(&pad, "p");
		put(&pad, "\"");
		pl = payload(3600, pad.data);
		t = hs_token(pl);
		free(pl);
		if (strlen(t) <= JWT_MAX_LEN) {
			free(fits);
			fits = t;
		} else
			big = t;
	}
	ok(fits != NULL && strlen(fits) > JWT_MAX_LEN - 4, "token near cap");
	if (fits != NULL)
		accepted(hs, fits, "token of JWT_MAX_LEN or just under");
	ok(big != NULL && strlen(big) <= JWT_MAX_LEN + 4, "token past cap");
	if (big != NULL)
		rejected(hs, big, "invalid_token", "token longer than cap");
	free(fits);
	free(big);
	rb_buf_free(&pad);
}

static void
test_jwks_loading(void)
{
	struct rb_buf b = { 0 };
	struct jwt_keys *k;
	char *pl = payload(3600, NULL), *t;

	/* garbage and unusable entries are skipped; the good ones work */
	put(&b, "{\"keys\":[1,\"x\",null,[],{},{\"kty\":7},"
	    "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"oct\"},"
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AAAA\",\"y\":\"AAAA\","
	    "\"kid\":\"p384\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"!!\",\"y\":\"AAAA\","
	    "\"kid\":\"badx\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"nopoint\","
	    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
	    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"},"
	    "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"tiny\"},");
	add_jwk(&b, ec2, "enc", "\"use\":\"enc\"");
	put(&b, ",");
	add_jwk(&b, ec2, "es384", "\"alg\":\"ES384\"");
	put(&b, ",");
	add_jwk(&b, rsa_small, "rsa-1024", NULL);
	put(&b, ",");
	add_jwk(&b, ec1, "good", "\"use\":\"sig\",\"alg\":\"ES256\"");
	put(&b, "]}");
	k = load(NULL, b.data, "JWKS with garbage entries");
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"good\"}", pl, S_ES, NULL, 0,
	    ec1);
	accepted(k, t, "good key among garbage");
	free(t);
	t = token_raw("{\"alg\":\"ES256\"}", pl, S_ES, NULL, 0, ec1);
	accepted(k, t, "no kid, the only usable EC key");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"enc\"}", pl, S_ES, NULL, 0,
	    ec2);
	rejected(k, t, "invalid_token", "key with use enc skipped");
	free(t);
	t = token_raw("{\"alg\":\"ES256\",\"kid\":\"es384\"}", pl, S_ES, NULL,
	    0, ec2);
	rejected(k, t, "invalid_token", "key with alg ES384 skipped");
	free(t);
	t = token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa-1024\"}", pl, S_RS,
	    NULL, 0, rsa_small);
	rejected(k, t, "invalid_token", "RSA 1024 key skipped");
	free(t);
	t = token_raw("{\"alg\":\"RS256\"}", pl, S_RS, NULL, 0, rsa_small);
	rejected(k, t, "invalid_token", "no RSA key left");
	free(t);
	jwt_keys_free(k);
	rb_buf_free(&b);

	load_fails(NULL, NULL, "nothing given");
	load_fails("", "", "both empty");
	load_fails("short-secret", NULL, "secret under 32 characters");
	load_fails(NULL, "not json", "JWKS not JSON");
	load_fails(NULL, "{\"keys\":{}}", "keys not an array");
	load_fails(NULL, "[]", "JWKS an array");
	load_fails(NULL, "{\"keys\":[]}", "no keys");
	load_fails(NULL, "{\"keys\":[{\"kty\":\"oct\"}]}", "no usable key");
	load_fails(SECRET, "{\"keys\":[1]}", "secret fine, JWKS unusable");
	put(&b, "{\"keys\":[],\"keys\":[");
	add_jwk(&b, ec1, "a", NULL);
	put(&b, "]}");
	load_fails(NULL, b.data, "JWKS with duplicate member names");
	rb_buf_free(&b);
	put(&b, "{\"keys\":[");
	add_jwk(&b, ec1, "same", NULL);
	put(&b, ",");
	add_jwk(&b, rsa1, "same", NULL);
	put(&b, "]}");
	load_fails(NULL, b.data, "two keys with the same kid");
	rb_buf_free(&b);
	put(&b, "{\"keys\":[");
	add_jwk(&b, ec1, "dupkid", "\"kid\":\"other\"");
	put(&b, "]}");
	load_fails(NULL, b.data, "JWK with duplicate kid member");
	rb_buf_free(&b);

	k = load(SECRET, NULL, "secret only");
	jwt_keys_free(k);
	jwt_keys_free(NULL);
	free(pl);
}

/*
 * jwt.c keeps one keyed HMAC per struct jwt_keys and re-initialises it for
 * every token: interleave good and bad tokens of different lengths, two
 * key sets side by side, and a secret longer than SHA-256's 64-byte block
 * (HMAC hashes such a key first), so that state carried over from one
 * verification, or from the other key set, shows.
 */
static void
test_hmac_reuse(struct jwt_keys *hs)
{
	static const char long_secret[] =
	    "a-secret-longer-than-one-sha256-block-of-sixty-four-bytes-"
	    "so-that-hmac-hashes-it-first-0123456789";
	struct jwt_keys *lk;
	char *good_long, *good_short, *pl, *extra;
	int i, bad_ok = 0, good_ok = 0;

	if ((lk = load(long_secret, NULL, "secret longer than 64 bytes")) ==
	    NULL)
		return;
	for (i = 0; i < 12; i++) {
		struct jwt_claims c;
		struct rb_err err;

		/* payloads of different lengths: different block counts */
		if ((extra = malloc((size_t)i * 40 + 32)) == NULL)
			abort();
		snprintf(extra, (size_t)i * 40 + 32, "\"pad\":\"%0*d\"",
		    i * 37 + 1, i);
		pl = payload(3600, extra);
		good_long = token_raw("{\"alg\":\"HS256\"}", pl, S_HS,
		    long_secret, strlen(long_secret), NULL);
		good_short = hs_token(pl);
		rb_err_clear(&err);
		good_ok += jwt_verify(lk, good_long, now, &c, &err) == 0 &&
		    strcmp(c.sub, SUB) == 0;
		good_ok += jwt_verify(hs, good_short, now, &c, &err) == 0;
		bad_ok += jwt_verify(lk, good_short, now, &c, &err) == 0;
		bad_ok += jwt_verify(hs, good_long, now, &c, &err) == 0;
		good_ok += jwt_verify(lk, good_long, now, &c, &err) == 0;
		free(extra);
		free(pl);
		free(good_long);
		free(good_short);
	}
	is_int(good_ok, 36, "HMAC reuse: every token signed with the key set's "
	    "secret verifies, round after round");
	is_int(bad_ok, 0, "HMAC reuse: no token signed with the other secret "
	    "verifies");
	pl = payload(3600, NULL);
	good_long = token_raw("{\"alg\":\"HS256\"}", pl, S_HS, long_secret,
	    strlen(long_secret), NULL);
	accepted(lk, good_long, "long secret");
	rejected(hs, good_long, "invalid_token", "long-secret token, other key");
	free(pl);
	free(good_long);
	jwt_keys_free(lk);
}

/* Verified tokens are remembered: the same bytes again give the same claims
 * without a second signature check, but exp and nbf are checked again, and
 * any other bytes -- one character changed, another user's token in the same
 * slot -- are verified from scratch. */
#define ISS	"https://project.supabase.co/auth/v1"

static char *
hs_token_with(const char *extra)
{
	char *pl = payload(3600, extra), *t = hs_token(pl);

	free(pl);
	return t;
}

/* jwt_issuer: the exact iss, or a 401; the cache never lets one through. */
static void
test_issuer(void)
{
	struct jwt_keys *k;
	struct rb_err err;
	char *good, *other, *none, *prefix, *longer, *num, *nul;

	if ((k = load(SECRET, jwks, "keys for the issuer")) == NULL)
		return;
	good = hs_token_with("\"iss\":\"" ISS "\"");
	other = hs_token_with("\"iss\":\"https://evil.supabase.co/auth/v1\"");
	none = hs_token_with(NULL);
	prefix = hs_token_with("\"iss\":\"https://project.supabase.co/auth\"");
	longer = hs_token_with("\"iss\":\"" ISS "/\"");
	num = hs_token_with("\"iss\":1");
	nul = hs_token_with("\"iss\":\"" ISS "\\u0000x\"");
	/* not set: any iss (or none) passes, as before; the cache keeps them */
	accepted(k, other, "issuer unset: another iss");
	accepted(k, other, "issuer unset: another iss, again (cached)");
	accepted(k, none, "issuer unset: no iss");
	rb_err_clear(&err);
	ok(jwt_keys_set_issuer(k, ISS, &err) == 0, "issuer set");
	accepted(k, good, "issuer: the same iss");
	accepted(k, good, "issuer: the same iss, again (cached)");
	/* tokens that verified before the issuer was set are checked again */
	rejected(k, other, "invalid_token", "issuer: another iss, cached before");
	rejected(k, other, "invalid_token", "issuer: another iss, twice");
	rejected(k, none, "invalid_token", "issuer: no iss");
	rejected(k, prefix, "invalid_token", "issuer: a prefix of it");
	rejected(k, longer, "invalid_token", "issuer: it plus a slash");
	rejected(k, num, "invalid_token", "issuer: not a string");
	rejected(k, nul, "invalid_token", "issuer: it, a NUL and more");
	is_int((int)jwt_cache_hits(k), 2, "issuer: only the accepted were hits");
	rb_err_clear(&err);
	ok(jwt_keys_set_issuer(k, "", &err) == -1 &&
	    strcmp(err.code, "config_invalid") == 0, "issuer: empty refused");
	ok(jwt_keys_set_issuer(k, NULL, &err) == 0, "issuer: unset again");
	accepted(k, other, "issuer unset again: another iss");
	free(good);
	free(other);
	free(none);
	free(prefix);
	free(longer);
	free(num);
	free(nul);
	jwt_keys_free(k);
}

static void
test_seen(struct jwt_keys *pk)
{
	struct jwt_keys *k;
	struct jwt_claims c;
	struct rb_err err;
	char extra[160], *pl, *t, *u, *toks[40];
	unsigned long long h0;
	int i, good = 0;

	if ((k = load(SECRET, jwks, "fresh keys for the cache")) == NULL)
		return;
	is_int((int)jwt_cache_hits(k), 0, "cache: no hits on fresh keys");
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 30);
	pl = payload(3600, extra);
	t = hs_token(pl);
	accepted(k, t, "cache: first time");
	is_int((int)jwt_cache_hits(k), 0, "cache: the first check is a miss");
	accepted(k, t, "cache: second time");
	is_int((int)jwt_cache_hits(k), 1, "cache: the second check is a hit");
	rb_err_clear(&err);
	ok(jwt_verify(k, t, now, &c, &err) == 0 && strcmp(c.sub, SUB) == 0 &&
	    strcmp(c.role, "authenticated") == 0 &&
	    strcmp(c.email, "a@example.com") == 0 && c.exp == (long long)now +
	    3600, "cache: a hit gives every claim");
	rb_err_clear(&err);
	ok(jwt_verify(k, t, now + 3600 + 61, &c, &err) == -1 &&
	    strcmp(err.code, "token_expired") == 0 && c.sub[0] == '\0',
	    "cache: a remembered token still expires");
	rb_err_clear(&err);
	ok(jwt_verify(k, t, now - 40, &c, &err) == -1 &&
	    strcmp(err.code, "invalid_token") == 0 &&
	    strstr(err.msg, "not valid yet") != NULL,
	    "cache: a remembered token's nbf is checked again");
	/* one character of the signature changed: a miss, and refused */
	if ((u = strdup(t)) == NULL)
		abort();
	u[strlen(u) - 2] = u[strlen(u) - 2] == 'A' ? 'B' : 'A';
	h0 = jwt_cache_hits(k);
	rejected(k, u, "invalid_token", "cache: signature changed");
	ok(jwt_cache_hits(k) == h0, "cache: a changed token is no hit");
	free(u);
	/* the same signature under another payload */
	u = replace_part(t, 1, "eyJzdWIiOiJ4In0");
	rejected(k, u, "invalid_token", "cache: payload swapped");
	free(u);
	/* the same token under other keys is checked by those keys */
	rejected(pk, t, "invalid_token", "cache: per key set");
	free(t);
	free(pl);

	/* more tokens than slots, each with its own email: no cross-talk */
	for (i = 0; i < 40; i++) {
		snprintf(extra, sizeof(extra), "\"pad\":\"%d\"", i);
		pl = payload(3600 + i, extra);
		toks[i] = hs_token(pl);
		free(pl);
	}
	for (i = 0; i < 80; i++) {
		rb_err_clear(&err);
		good += jwt_verify(k, toks[i % 40], now, &c, &err) == 0 &&
		    c.exp == (long long)now + 3600 + i % 40;
	}
	for (i = 39; i >= 0; i--) {
		rb_err_clear(&err);
		good += jwt_verify(k, toks[i], now, &c, &err) == 0 &&
		    c.exp == (long long)now + 3600 + i;
		free(toks[i]);
	}
	is_int(good, 120, "cache: 40 tokens through 16 slots, each its own "
	    "claims every time");
	jwt_keys_free(k);
}

int
main(void)
{
	struct rb_buf b = { 0 };
	struct jwt_keys *hs, *pk, *both;

	now = time(NULL);
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	if (ec1 == NULL || ec2 == NULL || rsa1 == NULL || rsa_small == NULL)
		return 2;
	put(&b, "{\"keys\":[");
	add_jwk(&b, ec1, "ec-1", "\"use\":\"sig\",\"alg\":\"ES256\"");
	put(&b, ",");
	add_jwk(&b, ec2, "ec-2", NULL);
	put(&b, ",");
	add_jwk(&b, rsa1, "rsa-1", "\"use\":\"sig\",\"alg\":\"RS256\"");
	put(&b, "]}");
	jwks = b.data;

	hs = load(SECRET, NULL, "HS256 secret");
	pk = load(NULL, jwks, "JWKS");
	both = load(SECRET, jwks, "secret and JWKS");
	if (hs == NULL || pk == NULL || both == NULL)
		return done_testing();

	test_valid(hs, pk, both);
	test_times(hs);
	test_claims(hs);
	test_alg_attacks(hs, pk, both);
	test_tamper_and_syntax(hs, pk);
	test_size(hs);
	test_hmac_reuse(hs);
	test_seen(pk);
	test_issuer();
	test_jwks_loading();

	jwt_keys_free(hs);
	jwt_keys_free(pk);
	jwt_keys_free(both);
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa_small);
	free(jwks);
	return done_testing();
}
