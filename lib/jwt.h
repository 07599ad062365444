/*
 * jwt.h - verification of Supabase access tokens.
 *
 * HS256 with jwt_secret; ES256 and RS256 from a JWKS by "kid".  The
 * algorithm comes from the key, never from the token alone: "alg": "none",
 * an HS256 token against an asymmetric key and any other mismatch are
 * refused.  exp and nbf are checked (60 s leeway), aud must be
 * "authenticated", sub must be a UUID, and iss must be the issuer set by
 * jwt_keys_set_issuer (jwt_issuer), when one is set.
 * Errors: 401 with "missing_token", "invalid_token" or "token_expired".
 */
#ifndef RB_JWT_H
#define RB_JWT_H

#include <stddef.h>
#include <time.h>

#include "rb.h"

#define JWT_MAX_LEN	8192

struct jwt_keys;

/* Either or both of hs_secret / jwks_json may be given. */
int	jwt_keys_load(struct jwt_keys **keys, const char *hs_secret,
	    const char *jwks_json, struct rb_err *err) RB_WUR;
void	jwt_keys_free(struct jwt_keys *keys);
/* issuer: the exact "iss" every token must carry (jwt_issuer); NULL: not
 * checked.  Forgets the tokens verified so far. */
int	jwt_keys_set_issuer(struct jwt_keys *keys, const char *issuer,
	    struct rb_err *err) RB_WUR;

struct jwt_claims {
	char		sub[37];	/* user UUID */
	char		role[32];
	char		email[256];
	long long	exp;
};

/* keys holds the keyed HMAC state that every HS256 check reuses: use one
 * struct jwt_keys from one thread at a time (each reboss-api worker is a
 * single-threaded process with its own). */
int	jwt_verify(const struct jwt_keys *keys, const char *token, time_t now,
	    struct jwt_claims *claims, struct rb_err *err) RB_WUR;

/* jwt_verify remembers the last tokens that verified (16, up to 2 KiB
 * each) and, for the very same bytes, checks only exp and nbf again.  How
 * many verifications that saved, for tests and benchmarks. */
unsigned long long jwt_cache_hits(const struct jwt_keys *keys);

#endif
