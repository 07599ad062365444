/*
 * jwt.c - verification of Supabase access tokens (see jwt.h).
 *
 * The key decides the algorithm: HS256 only with the configured secret,
 * ES256 only with an EC P-256 key and RS256 only with an RSA key from the
 * JWKS.  The token's "alg" merely has to agree with that key.  Signatures
 * are checked before anything in the payload is looked at.  No error
 * message ever quotes the token or a part of it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "encode.h"
#include "jwt.h"
#include "util.h"

#define JWT_LEEWAY		60
#define JWT_AUD			"authenticated"
#define JWT_HS_MIN		32		/* RFC 7518 3.2: >= 256 bits */
#define JWT_HS_MAX		4096
#define JWKS_MAX_LEN		(256u * 1024)
#define JWKS_MAX_KEYS		64
#define JWK_KID_MAX		256
#define JWK_RSA_MIN_BITS	2048
#define JWK_RSA_MAX_BYTES	1024		/* 8192-bit modulus */
#define JWK_RSA_E_MAX_BYTES	8
#define JWT_SEEN_SLOTS		16		/* verified tokens remembered */
#define JWT_SEEN_MAX		2048		/* longer ones are not */

enum jwk_kind { JWK_EC = 1, JWK_RSA = 2 };

struct jwk {
	enum jwk_kind	 kind;
	bool		 has_kid;
	char		 kid[JWK_KID_MAX + 1];
	EVP_PKEY	*pkey;
};

/*
 * A token that verified, and what it said.  The dashboard sends the same
 * access token with every request for up to an hour, and a signature check
 * plus two base64url + JSON parses is most of what a request costs
 * (bench/README.md; an ES256 check far more than HS256).  Identical bytes
 * under the same keys verify identically, so only the time claims are
 * checked again.  Compared in constant time: a slot holds another user's
 * token.
 */
struct jwt_seen {
	size_t			 len;		/* 0: empty */
	bool			 has_nbf;
	long long		 nbf;
	struct jwt_claims	 claims;
	char			 token[JWT_SEEN_MAX];
};

struct jwt_seen_cache {
	unsigned long long	 hits;
	struct jwt_seen		 slot[JWT_SEEN_SLOTS];
};

struct jwt_keys {
	unsigned char	*hs;		/* HS256 secret, raw bytes */
	size_t		 hslen;
	/* HMAC-SHA256 keyed with hs once, at load: every verification only
	 * re-initialises it (EVP_MAC_init with no key keeps the key), where
	 * EVP_Q_mac fetched HMAC and SHA256 and set the key on every call
	 * (~3x the time).  Hence one thread at a time per jwt_keys (jwt.h). */
	EVP_MAC_CTX	*hmac;
	struct jwk	*jwk;
	size_t		 njwk;
	struct jwt_seen_cache *seen;	/* owned; see above */
	char		*issuer;	/* jwt_issuer; NULL: iss not checked */
};

void
jwt_keys_free(struct jwt_keys *keys)
{
	size_t i;

	if (keys == NULL)
		return;
	if (keys->hs != NULL) {
		OPENSSL_cleanse(keys->hs, keys->hslen);
		free(keys->hs);
	}
	EVP_MAC_CTX_free(keys->hmac);	/* cleanses the key schedule */
	for (i = 0; i < keys->njwk; i++)
		EVP_PKEY_free(keys->jwk[i].pkey);
	free(keys->jwk);
	if (keys->seen != NULL) {
		OPENSSL_cleanse(keys->seen, sizeof(*keys->seen));
		free(keys->seen);
	}
	free(keys->issuer);
	free(keys);
}

int
jwt_keys_set_issuer(struct jwt_keys *keys, const char *issuer,
    struct rb_err *err)
{
	char *copy = NULL;

	if (issuer != NULL && (*issuer == '\0' ||
	    (copy = strdup(issuer)) == NULL))
		return rb_err_set(err, 500, "config_invalid",
		    "The expected token issuer cannot be set.");
	free(keys->issuer);
	keys->issuer = copy;
	/* Tokens verified under another issuer must be verified again. */
	if (keys->seen != NULL)
		OPENSSL_cleanse(keys->seen->slot, sizeof(keys->seen->slot));
	return 0;
}

/* base64url member of a JWK object; exact length if want > 0, else 1..max. */
static int
jwk_b64_member(json_t *obj, const char *name, size_t want, size_t max,
    unsigned char **out, size_t *outlen)
{
	json_t *v = json_object_get(obj, name);
	const char *s;

	*out = NULL;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (rb_b64url_decode_strict(s, json_string_length(v), out,
	    outlen) == -1)
		return -1;
	if ((want > 0 && *outlen != want) || *outlen == 0 ||
	    (max > 0 && *outlen > max)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto fail;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL)
		goto fail;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
	/* e.g. an EC point on the curve, a sane RSA modulus */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1)
		goto fail;
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
fail:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return NULL;
}

static EVP_PKEY *
jwk_ec(json_t *o)
{
	OSSL_PARAM_BLD *bld = NULL;
	unsigned char *x = NULL, *y = NULL, pub[65];
	size_t xl, yl;
	EVP_PKEY *pkey = NULL;
	json_t *crv = json_object_get(o, "crv");

	if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0)
		goto out;
	if (jwk_b64_member(o, "x", 32, 0, &x, &xl) == -1 ||
	    jwk_b64_member(o, "y", 32, 0, &y, &yl) == -1)
		goto out;
	pub[0] = 0x04;			/* uncompressed point */
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub)) != 1)
		goto out;
	pkey = pkey_fromdata("EC", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pkey;
}

static EVP_PKEY *
jwk_rsa(json_t *o)
{
	OSSL_PARAM_BLD *bld = NULL;
	unsigned char *n = NULL, *e = NULL;
	size_t nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	EVP_PKEY *pkey = NULL;

	if (jwk_b64_member(o, "n", 0, JWK_RSA_MAX_BYTES, &n, &nl) == -1 ||
	    jwk_b64_member(o, "e", 0, JWK_RSA_E_MAX_BYTES, &e, &el) == -1)
		goto out;
	if ((bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL)
		goto out;
	if (BN_num_bits(bn) < JWK_RSA_MIN_BITS || !BN_is_odd(be) ||
	    BN_is_one(be))
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
		goto out;
	if ((pkey = pkey_fromdata("RSA", bld)) != NULL &&
	    EVP_PKEY_get_bits(pkey) < JWK_RSA_MIN_BITS) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pkey;
}

/*
 * One JWKS entry: 1 = usable key stored in *k, 0 = skipped (another kind
 * of key, not for signatures, or malformed).
 */
static int
jwk_parse(json_t *o, struct jwk *k)
{
	json_t *kty, *use, *alg, *kid;
	const char *want_alg;

	memset(k, 0, sizeof(*k));
	if (!json_is_object(o))
		return 0;
	kty = json_object_get(o, "kty");
	use = json_object_get(o, "use");
	alg = json_object_get(o, "alg");
	kid = json_object_get(o, "kid");
	if (!json_is_string(kty))
		return 0;
	if (use != NULL &&
	    (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		return 0;
	if (strcmp(json_string_value(kty), "EC") == 0) {
		k->kind = JWK_EC;
		want_alg = "ES256";
	} else if (strcmp(json_string_value(kty), "RSA") == 0) {
		k->kind = JWK_RSA;
		want_alg = "RS256";
	} else
		return 0;
	if (alg != NULL &&
	    (!json_is_string(alg) || strcmp(json_string_value(alg), want_alg) != 0))
		return 0;
	if (kid != NULL) {
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
		    json_string_length(kid) > JWK_KID_MAX)
			return 0;
		rb_strlcpy(k->kid, json_string_value(kid), sizeof(k->kid));
		k->has_kid = true;
	}
	k->pkey = k->kind == JWK_EC ? jwk_ec(o) : jwk_rsa(o);
	return k->pkey != NULL ? 1 : 0;
}

static int
jwks_load(struct jwt_keys *keys, const char *text, struct rb_err *err)
{
	json_error_t jerr;
	json_t *root = NULL, *arr, *o;
	size_t len, i, j;
	struct jwk k;

	len = strnlen(text, JWKS_MAX_LEN + 1);
	if (len > JWKS_MAX_LEN) {
		rb_err_set(err, 500, "config_invalid",
		    "The JWKS is larger than %u bytes.", JWKS_MAX_LEN);
		goto fail;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root) ||
	    !json_is_array(arr = json_object_get(root, "keys"))) {
		rb_err_set(err, 500, "config_invalid",
		    "The JWKS is not a JSON object with a \"keys\" array.");
		goto fail;
	}
	if (json_array_size(arr) > JWKS_MAX_KEYS) {
		rb_err_set(err, 500, "config_invalid",
		    "The JWKS has more than %d keys.", JWKS_MAX_KEYS);
		goto fail;
	}
	if ((keys->jwk = calloc(json_array_size(arr) + 1,
	    sizeof(*keys->jwk))) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	json_array_foreach(arr, i, o) {
		if (jwk_parse(o, &k) != 1)
			continue;
		for (j = 0; j < keys->njwk; j++) {
			if (k.has_kid && keys->jwk[j].has_kid &&
			    strcmp(k.kid, keys->jwk[j].kid) == 0)
				break;
		}
		if (j < keys->njwk) {
			EVP_PKEY_free(k.pkey);
			rb_err_set(err, 500, "config_invalid",
			    "The JWKS has two usable keys with the same kid.");
			goto fail;
		}
		keys->jwk[keys->njwk++] = k;
	}
	if (keys->njwk == 0) {
		rb_err_set(err, 500, "config_invalid",
		    "The JWKS has no usable key (EC P-256 or RSA >= 2048 bits "
		    "for signatures).");
		goto fail;
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return -1;
}

/* keys->hmac: HMAC-SHA256 keyed with keys->hs. */
static int
hmac_new(struct jwt_keys *keys, struct rb_err *err)
{
	static char digest[] = "SHA256";	/* the API takes char * */
	OSSL_PARAM params[2];
	EVP_MAC *mac;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return rb_err_set(err, 500, "config_invalid",
		    "OpenSSL has no HMAC: HS256 tokens cannot be checked.");
	keys->hmac = EVP_MAC_CTX_new(mac);	/* holds its own reference */
	EVP_MAC_free(mac);
	if (keys->hmac == NULL || EVP_MAC_init(keys->hmac, keys->hs,
	    keys->hslen, params) != 1)
		return rb_err_set(err, 500, "config_invalid",
		    "OpenSSL could not set up HMAC-SHA256 with jwt_secret.");
	return 0;
}

int
jwt_keys_load(struct jwt_keys **keys, const char *hs_secret,
    const char *jwks_json, struct rb_err *err)
{
	struct jwt_keys *k = NULL;
	size_t hslen;

	*keys = NULL;
	if (hs_secret != NULL && *hs_secret == '\0')
		hs_secret = NULL;
	if (jwks_json != NULL && *jwks_json == '\0')
		jwks_json = NULL;
	if (hs_secret == NULL && jwks_json == NULL) {
		rb_err_set(err, 500, "config_invalid",
		    "Set jwt_secret or jwks_file to verify access tokens.");
		goto fail;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	if (hs_secret != NULL) {
		hslen = strnlen(hs_secret, JWT_HS_MAX + 1);
		if (hslen < JWT_HS_MIN || hslen > JWT_HS_MAX) {
			rb_err_set(err, 500, "config_invalid",
			    "jwt_secret must be %d to %d characters long.",
			    JWT_HS_MIN, JWT_HS_MAX);
			goto fail;
		}
		if ((k->hs = malloc(hslen)) == NULL) {
			rb_err_oom(err);
			goto fail;
		}
		memcpy(k->hs, hs_secret, hslen);
		k->hslen = hslen;
		if (hmac_new(k, err) == -1)
			goto fail;
	}
	if (jwks_json != NULL && jwks_load(k, jwks_json, err) == -1)
		goto fail;
	if ((k->seen = calloc(1, sizeof(*k->seen))) == NULL) {
		rb_err_oom(err);
		goto fail;
	}
	*keys = k;
	return 0;
fail:
	jwt_keys_free(k);
	return -1;
}

/* ---- verification ------------------------------------------------------ */

static int
invalid(struct rb_err *err, const char *why)
{
	return rb_err_set(err, 401, "invalid_token",
	    "The access token is not valid: %s.", why);
}

/* A JSON object from one base64url part; duplicate names refused. */
static json_t *
part_json(const char *p, size_t n)
{
	unsigned char *raw = NULL;
	size_t rawlen;
	json_error_t jerr;
	json_t *j = NULL;

	if (rb_b64url_decode_strict(p, n, &raw, &rawlen) == -1)
		return NULL;
	j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    &jerr);
	free(raw);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A NumericDate: a JSON integer, or a finite real (truncated). */
static int
numeric_date(json_t *v, long long *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || d < -9.0e15 || d > 9.0e15)
			return -1;
		*out = (long long)d;
		return 0;
	}
	return -1;
}

static int
verify_hs256(const struct jwt_keys *keys, const char *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	int ok;

	if (siglen != 32 || keys->hmac == NULL)
		return -1;
	/* No key: restart with the key set at load (hmac_new). */
	if (EVP_MAC_init(keys->hmac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(keys->hmac, (const unsigned char *)in,
	    inlen) != 1 ||
	    EVP_MAC_final(keys->hmac, mac, &maclen, sizeof(mac)) != 1 ||
	    maclen != 32) {
		OPENSSL_cleanse(mac, sizeof(mac));
		return -1;
	}
	ok = CRYPTO_memcmp(mac, sig, 32) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok ? 0 : -1;
}

/* JOSE ES256 signatures are r||s (32 bytes each); OpenSSL wants DER. */
static int
es256_der(const unsigned char *sig, size_t siglen, unsigned char **der,
    int *derlen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	int n;

	*der = NULL;
	if (siglen != 64)
		return -1;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;			/* owned by es now */
	if ((n = i2d_ECDSA_SIG(es, der)) <= 0)
		goto fail;
	*derlen = n;
	ECDSA_SIG_free(es);
	return 0;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	*der = NULL;
	return -1;
}

static int
verify_pkey(EVP_PKEY *pkey, bool ec, const char *in, size_t inlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	int derlen = 0, rc = -1;

	if (ec) {
		if (es256_der(sig, siglen, &der, &derlen) == -1)
			goto out;
		sig = der;
		siglen = (size_t)derlen;
	} else if (EVP_PKEY_get_size(pkey) <= 0 ||
	    siglen != (size_t)EVP_PKEY_get_size(pkey))
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
	    NULL) != 1)
		goto out;
	if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)in,
	    inlen) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return rc;
}

/* The key for an ES256/RS256 token, or NULL with *why set. */
static const struct jwk *
find_key(const struct jwt_keys *keys, enum jwk_kind kind, const char *kid,
    const char **why)
{
	const struct jwk *found = NULL;
	size_t i, n = 0;

	if (kid != NULL) {
		for (i = 0; i < keys->njwk; i++) {
			if (keys->jwk[i].has_kid &&
			    strcmp(keys->jwk[i].kid, kid) == 0) {
				if (keys->jwk[i].kind != kind) {
					*why = "its alg does not fit the key";
					return NULL;
				}
				return &keys->jwk[i];
			}
		}
		*why = "its key id is unknown";
		return NULL;
	}
	for (i = 0; i < keys->njwk; i++) {
		if (keys->jwk[i].kind == kind) {
			found = &keys->jwk[i];
			n++;
		}
	}
	if (n != 1) {
		*why = n == 0 ? "no key for its alg" :
		    "it has no key id and several keys fit";
		return NULL;
	}
	return found;
}

static int
check_aud(json_t *aud)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), JWT_AUD) == 0 ? 0 : -1;
	if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), JWT_AUD) == 0)
				return 0;
		}
	}
	return -1;
}

/* Optional bounded string claim; JSON null counts as absent. */
static int
copy_claim(json_t *payload, const char *name, char *dst, size_t dstsz)
{
	json_t *v = json_object_get(payload, name);

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= dstsz ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	rb_strlcpy(dst, json_string_value(v), dstsz);
	return 0;
}

/* The slot a token may sit in: its last bytes are signature, as good as
 * random between tokens; which slot is looked at tells nothing. */
static struct jwt_seen *
seen_slot(const struct jwt_keys *keys, const char *token, size_t len)
{
	unsigned h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = len > 8 ? len - 8 : 0; i < len; i++)
		h = (h ^ (unsigned char)token[i]) * 16777619u;
	return &keys->seen->slot[h % JWT_SEEN_SLOTS];
}

unsigned long long
jwt_cache_hits(const struct jwt_keys *keys)
{
	return keys != NULL && keys->seen != NULL ? keys->seen->hits : 0;
}

/* The time checks of jwt_verify, for claims already verified. */
static int
check_times(long long exp, bool has_nbf, long long nbf, time_t now,
    struct rb_err *err)
{
	if (exp <= (long long)now - JWT_LEEWAY)
		return rb_err_set(err, 401, "token_expired",
		    "The access token has expired; sign in again.");
	if (has_nbf && nbf > (long long)now + JWT_LEEWAY)
		return invalid(err, "it is not valid yet");
	return 0;
}

/* The header's alg and kid, and the signature over "header.payload"
 * (signed = dot2 - token bytes) checked with a key we trust: HS256 with
 * the shared secret, ES256/RS256 with a JWKS key.  Nothing of the
 * payload is read before this returns 0. */
static int
check_signature(const struct jwt_keys *keys, const char *token, size_t len,
    const char *dot1, const char *dot2, struct rb_err *err)
{
	json_t *hdr = NULL, *v;
	const char *alg, *kid = NULL, *why = NULL;
	const struct jwk *key;
	unsigned char *sig = NULL;
	size_t siglen, signed_len = (size_t)(dot2 - token);
	bool ec;

	if ((hdr = part_json(token, (size_t)(dot1 - token))) == NULL) {
		why = "its header is not a base64url JSON object";
		goto fail;
	}
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v)) {
		why = "its header has no alg";
		goto fail;
	}
	alg = json_string_value(v);
	if (json_object_get(hdr, "crit") != NULL) {
		why = "its header has critical extensions";
		goto fail;
	}
	if ((v = json_object_get(hdr, "kid")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > JWK_KID_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			why = "its key id is malformed";
			goto fail;
		}
		kid = json_string_value(v);
	}
	if (rb_b64url_decode_strict(dot2 + 1, len - (signed_len + 1), &sig,
	    &siglen) == -1) {
		why = "its signature is missing or not base64url";
		goto fail;
	}
	if (strcmp(alg, "HS256") == 0) {
		if (keys->hs == NULL)
			why = "HS256 is not accepted here";
		else if (verify_hs256(keys, token, signed_len, sig,
		    siglen) == -1)
			why = "its signature does not verify";
	} else if (strcmp(alg, "ES256") == 0 || strcmp(alg, "RS256") == 0) {
		ec = alg[0] == 'E';
		why = "no key";
		if ((key = find_key(keys, ec ? JWK_EC : JWK_RSA, kid,
		    &why)) != NULL)
			why = verify_pkey(key->pkey, ec, token, signed_len,
			    sig, siglen) == -1 ?
			    "its signature does not verify" : NULL;
	} else
		why = "its alg is not HS256, ES256 or RS256";
fail:
	free(sig);
	json_decref(hdr);
	return why == NULL ? 0 : invalid(err, why);
}

/* The claims of a payload whose signature verified: times, audience,
 * issuer (when jwt_issuer is set), subject, role and email. */
static int
check_claims(const struct jwt_keys *keys, json_t *payload, time_t now,
    struct jwt_claims *claims, bool *has_nbf, long long *nbf,
    struct rb_err *err)
{
	json_t *v;
	long long exp;
	size_t i;

	if (numeric_date(json_object_get(payload, "exp"), &exp) == -1)
		return invalid(err, "it has no expiry time");
	if (check_times(exp, false, 0, now, err) == -1)
		return -1;
	if ((v = json_object_get(payload, "nbf")) != NULL) {
		if (numeric_date(v, nbf) == -1)
			return invalid(err, "its not-before time is malformed");
		*has_nbf = true;
		if (check_times(exp, true, *nbf, now, err) == -1)
			return -1;
	}
	if (check_aud(json_object_get(payload, "aud")) == -1)
		return invalid(err, "its audience is not \"" JWT_AUD "\"");
	if (keys->issuer != NULL) {
		v = json_object_get(payload, "iss");
		if (!json_is_string(v) || json_string_length(v) !=
		    strlen(keys->issuer) || strcmp(json_string_value(v),
		    keys->issuer) != 0)
			return invalid(err, "its issuer is not the expected one "
			    "(jwt_issuer)");
	}
	v = json_object_get(payload, "sub");
	if (!json_is_string(v) || !rb_is_uuid(json_string_value(v)))
		return invalid(err, "its subject is not a user id");
	rb_strlcpy(claims->sub, json_string_value(v), sizeof(claims->sub));
	for (i = 0; claims->sub[i] != '\0'; i++) {	/* as PostgreSQL prints */
		if (claims->sub[i] >= 'A' && claims->sub[i] <= 'F')
			claims->sub[i] = (char)(claims->sub[i] - 'A' + 'a');
	}
	if (copy_claim(payload, "role", claims->role,
	    sizeof(claims->role)) == -1)
		return invalid(err, "its role is malformed");
	if (copy_claim(payload, "email", claims->email,
	    sizeof(claims->email)) == -1)
		return invalid(err, "its email is malformed");
	claims->exp = exp;
	return 0;
}

int
jwt_verify(const struct jwt_keys *keys, const char *token, time_t now,
    struct jwt_claims *claims, struct rb_err *err)
{
	json_t *payload = NULL;
	const char *dot1, *dot2;
	struct jwt_seen *seen = NULL;
	size_t len;
	long long nbf = 0;
	bool has_nbf = false;

	memset(claims, 0, sizeof(*claims));
	if (token == NULL || *token == '\0')
		return rb_err_set(err, 401, "missing_token",
		    "Sign in: the request has no access token.");
	if (keys == NULL) {
		rb_err_set(err, 500, "config_invalid",
		    "No keys are loaded to verify access tokens.");
		goto fail;
	}
	len = strnlen(token, JWT_MAX_LEN + 1);
	if (len > JWT_MAX_LEN) {
		invalid(err, "it is too long");
		goto fail;
	}
	if (keys->seen != NULL && len < JWT_SEEN_MAX) {
		seen = seen_slot(keys, token, len);
		if (seen->len == len &&
		    CRYPTO_memcmp(seen->token, token, len) == 0) {
			if (check_times(seen->claims.exp, seen->has_nbf,
			    seen->nbf, now, err) == -1)
				goto fail;
			*claims = seen->claims;
			keys->seen->hits++;
			return 0;
		}
	}
	dot1 = memchr(token, '.', len);
	dot2 = dot1 != NULL ?
	    memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot1 == NULL || dot2 == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
		invalid(err, "it does not have three parts");
		goto fail;
	}
	if (check_signature(keys, token, len, dot1, dot2, err) == -1)
		goto fail;

	/* Signed by a key we trust: now the claims mean something. */
	if ((payload = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) ==
	    NULL) {
		invalid(err, "its payload is not a base64url JSON object");
		goto fail;
	}
	if (check_claims(keys, payload, now, claims, &has_nbf, &nbf,
	    err) == -1)
		goto fail;
	if (seen != NULL) {
		memcpy(seen->token, token, len);
		seen->len = len;
		seen->has_nbf = has_nbf;
		seen->nbf = nbf;
		seen->claims = *claims;
	}
	json_decref(payload);
	return 0;
fail:
	memset(claims, 0, sizeof(*claims));
	json_decref(payload);
	return -1;
}
