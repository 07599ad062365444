// jwt.mjs - Supabase-style access tokens for the integration tests, made with
// node:crypto only: HS256 (the project's jwt_secret), ES256 (a JWKS key with
// a kid; signatures are raw r||s as JOSE wants, dsaEncoding 'ieee-p1363'),
// and the broken variants the API must refuse (alg "none", forged payload,
// wrong secret, HS256 signed with the public key, wrong audience).
import crypto from 'node:crypto';

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64u(JSON.stringify(obj));

/** Fresh key material: an HS256 secret, and a P-256 key with its JWKS. */
export function makeJwtKeys() {
  const hsSecret = crypto.randomBytes(32).toString('hex');
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = 'test-es256-' + crypto.randomBytes(4).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  return { hsSecret, esPrivate: privateKey, esPublic: publicKey, kid, jwks: { keys: [jwk] } };
}

function sign(alg, input, key) {
  if (alg === 'HS256')
    return crypto.createHmac('sha256', key).update(input).digest();
  if (alg === 'ES256')
    return crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  if (alg === 'RS256')
    return crypto.sign('sha256', Buffer.from(input), key);
  if (alg === 'none')
    return Buffer.alloc(0);
  throw new Error(`jwt.mjs: unknown alg ${alg}`);
}

/** Low level: header and payload objects, signed with key under alg. */
export function signJwt(header, payload, key) {
  const input = `${enc(header)}.${enc(payload)}`;
  return `${input}.${b64u(sign(header.alg, input, key))}`;
}

/**
 * Mints a token for the stack's keys.
 *   opts.userId (sub), opts.exp (epoch s; default now+3600), opts.aud
 *   ('authenticated'), opts.alg ('HS256' | 'ES256' | 'none'), opts.kid,
 *   opts.secret (HS256 key override: "wrong secret"), opts.claims (merged),
 *   opts.forge: true => payload swapped after signing (sub of opts.forgeSub
 *   or a random UUID), 'hs-with-public' => HS256 keyed with the ES256
 *   public key PEM (algorithm confusion).
 */
export function mintWith(keys, opts = {}) {
  const now = Math.floor(Date.now() / 1000);
  const alg = opts.alg || 'HS256';
  const payload = {
    iss: 'https://test.supabase.co/auth/v1',
    sub: opts.userId || crypto.randomUUID(),
    aud: opts.aud === undefined ? 'authenticated' : opts.aud,
    role: 'authenticated',
    email: opts.email || 'owner@example.test',
    iat: now - 10,
    exp: opts.exp === undefined ? now + 3600 : opts.exp,
    ...(opts.claims || {}),
  };
  for (const k of Object.keys(payload))
    if (payload[k] === null) delete payload[k];
  const header = { alg, typ: 'JWT' };
  let key;
  if (opts.forge === 'hs-with-public') {
    header.alg = 'HS256';
    header.kid = opts.kid || keys.kid;
    key = keys.esPublic.export({ format: 'pem', type: 'spki' });
  } else if (alg === 'HS256') {
    key = opts.secret || keys.hsSecret;
  } else if (alg === 'ES256') {
    header.kid = opts.kid || keys.kid;
    key = keys.esPrivate;
  } else if (alg === 'none') {
    key = null;
  } else {
    throw new Error(`mintWith: unsupported alg ${alg}`);
  }
  const token = signJwt(header, payload, key);
  if (opts.forge === true) {
    const [h, , s] = token.split('.');
    const forged = { ...payload, sub: opts.forgeSub || crypto.randomUUID() };
    return `${h}.${enc(forged)}.${s}`;
  }
  return token;
}
