// oauth.mjs - fake Pinterest (v5), Meta (Graph) and Google OAuth servers in
// one loopback HTTP server.  Owner: the "oauth" module.
//
//   const fake = await createFakeOAuth();          // 127.0.0.1, port 0
//   fake.config   -> reboss.conf keys (pinterest_api_base, pinterest_oauth_url,
//                    meta_graph_base, meta_dialog_url, google_auth_url,
//                    google_token_url, google_revoke_url, app ids/secrets)
//   fake.setMode('pinterest', { deny: true })       // authorize -> error=access_denied
//   fake.setMode('google', { token: 400 | 500 | 'hang' | 'garbage' })
//   fake.setMode('meta', { exchange: 400 })         // the fb_exchange_token step
//   fake.setMode('pinterest', { refresh: 400 })     // refresh refused
//   fake.issued   -> every access/refresh token handed out (for the grep test)
//   fake.requests -> {provider, method, path, form?, query?, auth?}
//   fake.revoked  -> tokens revoked at Google
//   fake.metaRevoked -> Meta tokens whose grant DELETE /me/permissions removed
//   fake.use(handler), fake.accessToken(tok), fake.expireAccess(tok)
//                 -> for API fakes sharing the tokens (tests/fakes/pinterest.mjs)
//   fake.authorizeUrl(provider, params)             // what a browser would open
//   await fake.close()
//
// Endpoints and the shapes they answer (as the real services do):
//   Pinterest  GET  /pinterest/oauth/                consent: 302 to redirect_uri?code&state
//              POST /pinterest/v5/oauth/token        HTTP Basic app_id:app_secret, form
//                grant_type=authorization_code (code, redirect_uri[, continuous_refresh])
//                grant_type=refresh_token (refresh_token[, continuous_refresh])
//                200 {access_token, refresh_token, response_type, token_type:"bearer",
//                     expires_in, refresh_token_expires_in, refresh_token_expires_at, scope}
//                error {code, message} (spec: components/schemas/Error)
//   Meta       GET  /meta/v26.0/dialog/oauth          consent (denied: error=access_denied
//                                                     &error_code=200&error_reason=user_denied)
//              GET  /meta/graph/v26.0/oauth/access_token
//                client_id, redirect_uri, client_secret, code  -> short-lived token
//                grant_type=fb_exchange_token, client_id, client_secret, fb_exchange_token
//                -> long-lived token {access_token, token_type:"bearer", expires_in}
//                error {error:{message, type:"OAuthException", code, error_subcode?, fbtrace_id}}
//              DELETE /meta/graph/v26.0/me/permissions   Bearer user token -> {success: true},
//                the grant's tokens stop working; expired/unknown token -> 400 code 190
//   Google     GET  /google/o/oauth2/v2/auth          consent; requires code_challenge
//                                                     with method S256
//              POST /google/token                     authorization_code with code_verifier
//                (S256 checked) / refresh_token; error {error, error_description}
//              POST /google/revoke                    token=...; 200 {} or 400 invalid_token
import http from 'node:http';
import crypto from 'node:crypto';

const rnd = (n) => crypto.randomBytes(n).toString('base64url');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const APPS = {
  pinterest: { id: '1507772', secret: 'pinterest-app-secret-' + rnd(8) },
  meta: { id: '912873465501', secret: 'meta-app-secret-' + rnd(8) },
  google: { id: '1234567890-fake.apps.googleusercontent.com', secret: 'GOCSPX-' + rnd(12) },
};

const PINTEREST_SCOPES = new Set(['boards:read', 'boards:write', 'pins:read', 'pins:write',
  'ads:read', 'ads:write', 'user_accounts:read', 'catalogs:read', 'catalogs:write']);

export async function createFakeOAuth({ port = 0 } = {}) {
  const codes = new Map();        // code -> {provider, redirect_uri, scope, challenge, exp, used}
  const access = new Map();       // access token -> {provider, exp}
  const refresh = new Map();      // refresh token -> {provider, scope}
  const modes = { pinterest: {}, meta: {}, google: {} };
  const hung = new Set();
  const fake = { issued: [], requests: [], revoked: [], metaRevoked: [], codes };
  const extra = [];   // handlers added with fake.use() (tests/fakes/pinterest.mjs)

  const issue = (tok) => { fake.issued.push(tok); return tok; };

  function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
      'Content-Length': Buffer.byteLength(text), ...headers,
    });
    res.end(text);
  }

  // Token endpoint modes common to all three: 400/500/hang/garbage.
  async function tokenMode(res, provider, key) {
    const m = modes[provider][key];
    if (m === undefined || m === null) return false;
    if (m === 'hang') { hung.add(res); return true; }
    if (m === 'garbage') { send(res, 200, '<html>not json</html>'); return true; }
    if (typeof m === 'object' && m.delayMs) { await sleep(m.delayMs); return false; }
    const status = Number(m);
    if (provider === 'pinterest')
      send(res, status, { code: status >= 500 ? 1 : 2, message: status >= 500 ? 'Internal Server Error' : 'Invalid request: authorization grant is invalid, expired, or revoked' });
    else if (provider === 'meta')
      send(res, status, { error: { message: status >= 500 ? 'An unexpected error has occurred. Please retry your request later.' : 'This authorization code has been used.', type: 'OAuthException', code: status >= 500 ? 2 : 100, error_subcode: status >= 500 ? undefined : 36009, fbtrace_id: 'A' + rnd(8) } });
    else
      send(res, status, status >= 500 ? { error: 'internal_failure', error_description: 'Backend Error' } : { error: 'invalid_grant', error_description: 'Bad Request' });
    return true;
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let n = 0;
      req.on('data', (c) => { n += c.length; if (n > 65536) { req.destroy(); reject(new Error('too large')); } else chunks.push(c); });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function consent(res, provider, q, { scopeSep, needPkce }) {
    const app = APPS[provider];
    const redirect = q.get('redirect_uri');
    // Like the real ones: a bad client or redirect_uri never redirects.
    if (q.get('client_id') !== app.id || !redirect || !fake.redirectOk(provider, redirect))
      return send(res, 400, '<h1>Invalid client_id or redirect_uri</h1>');
    if (q.get('response_type') !== 'code')
      return send(res, 400, '<h1>unsupported response_type</h1>');
    const scope = q.get('scope') || '';
    if (provider === 'pinterest') {
      const list = scope.split(scopeSep).filter(Boolean);
      if (!list.length || list.some((s) => !PINTEREST_SCOPES.has(s)))
        return send(res, 400, '<h1>invalid scope</h1>');
    }
    if (needPkce) {
      if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') || ''))
        return send(res, 400, '<h1>Error 400: invalid_request. Missing code_challenge (S256).</h1>');
      if (q.get('access_type') !== 'offline')
        return send(res, 400, '<h1>offline access required by this fake</h1>');
    }
    const url = new URL(redirect);
    const state = q.get('state');
    if (modes[provider].deny) {
      url.searchParams.set('error', 'access_denied');
      if (provider === 'meta') {
        url.searchParams.set('error_code', '200');
        url.searchParams.set('error_description', 'Permissions error');
        url.searchParams.set('error_reason', 'user_denied');
      }
      if (state !== null) url.searchParams.set('state', state);
    } else {
      const code = (provider === 'google' ? '4/0A' : '') + rnd(provider === 'meta' ? 180 : 30);
      codes.set(code, { provider, redirect_uri: redirect, scope, challenge: q.get('code_challenge'),
        exp: Date.now() + 600000, used: false });
      url.searchParams.set('code', code);
      if (state !== null) url.searchParams.set('state', state);
    }
    res.writeHead(302, { Location: url.toString(), 'Content-Length': 0 });
    res.end();
  }

  function takeCode(provider, code, redirect) {
    const c = codes.get(code);
    if (!c || c.provider !== provider || c.used || c.exp < Date.now() || c.redirect_uri !== redirect)
      return null;
    c.used = true;
    return c;
  }

  async function pinterestToken(req, res) {
    const auth = req.headers.authorization || '';
    const want = 'Basic ' + Buffer.from(`${APPS.pinterest.id}:${APPS.pinterest.secret}`).toString('base64');
    const form = new URLSearchParams(await readBody(req));
    fake.requests.push({ provider: 'pinterest', method: 'POST', path: '/v5/oauth/token', form: Object.fromEntries(form), auth: auth.startsWith('Basic ') });
    if (!(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded'))
      return send(res, 415, { code: 1, message: 'Unsupported Media Type' });
    if (auth !== want)
      return send(res, 401, { code: 2, message: 'Authentication failed.' });
    const gt = form.get('grant_type');
    if (await tokenMode(res, 'pinterest', gt === 'refresh_token' ? 'refresh' : 'token')) return;
    let scope;
    if (gt === 'authorization_code') {
      const c = takeCode('pinterest', form.get('code'), form.get('redirect_uri'));
      if (!c) return send(res, 400, { code: 1, message: 'Invalid request: authorization code is invalid or expired.' });
      scope = c.scope;
    } else if (gt === 'refresh_token') {
      const r = refresh.get(form.get('refresh_token'));
      if (!r || r.provider !== 'pinterest') return send(res, 400, { code: 1, message: 'Invalid refresh token.' });
      scope = r.scope;
      if (form.get('continuous_refresh') === 'true') refresh.delete(form.get('refresh_token'));
    } else {
      return send(res, 400, { code: 1, message: `Invalid parameters: grant_type '${gt}'` });
    }
    const at = issue('pina_' + rnd(40));
    const rt = issue('pinr_' + rnd(40));
    const expiresIn = modes.pinterest.expiresIn ?? 2592000;
    access.set(at, { provider: 'pinterest', exp: Date.now() + expiresIn * 1000, scope });
    refresh.set(rt, { provider: 'pinterest', scope });
    const now = Math.floor(Date.now() / 1000);
    send(res, 200, {
      access_token: at, refresh_token: rt,
      response_type: gt, token_type: 'bearer',
      expires_in: expiresIn,
      refresh_token_expires_in: modes.pinterest.refreshExpiresIn ?? 5184000,
      refresh_token_expires_at: now + (modes.pinterest.refreshExpiresIn ?? 5184000),
      scope,
    });
  }

  async function metaToken(req, res, q) {
    fake.requests.push({ provider: 'meta', method: 'GET', path: '/oauth/access_token', query: Object.fromEntries(q) });
    const err = (message, code = 100, sub) => send(res, 400, { error: { message, type: 'OAuthException', code, ...(sub ? { error_subcode: sub } : {}), fbtrace_id: 'A' + rnd(8) } });
    if (q.get('client_id') !== APPS.meta.id || q.get('client_secret') !== APPS.meta.secret)
      return err('Error validating client secret.', 1);
    if (q.get('grant_type') === 'fb_exchange_token') {
      if (await tokenMode(res, 'meta', 'exchange')) return;
      const t = access.get(q.get('fb_exchange_token'));
      if (!t || t.provider !== 'meta') return err('Invalid OAuth access token - Cannot parse access token', 190);
      const long = issue('EAAL' + rnd(120));
      access.set(long, { provider: 'meta', long: true, grant: t.grant,
        ...(modes.meta.expiresIn !== undefined ? { exp: Date.now() + modes.meta.expiresIn * 1000 } : {}) });
      return send(res, 200, { access_token: long, token_type: 'bearer', expires_in: modes.meta.expiresIn ?? 5183944 });
    }
    if (await tokenMode(res, 'meta', 'token')) return;
    const c = takeCode('meta', q.get('code'), q.get('redirect_uri'));
    if (!c) return err('This authorization code has been used.', 100, 36009);
    const short = issue('EAAS' + rnd(120));
    access.set(short, { provider: 'meta', grant: rnd(8) });
    send(res, 200, { access_token: short, token_type: 'bearer', expires_in: 5183 });
  }

  // Facebook Login, "Revoking Login": DELETE /{user-id}/permissions with
  // the user's access token removes the app's whole grant; {"success":
  // true}.  "me" is the token's own user.  The fake takes the token only
  // from "Authorization: Bearer" (never the URL); a token that expired or
  // is unknown cannot revoke (OAuthException 190).
  function metaRevoke(req, res, p) {
    const auth = req.headers.authorization || '';
    const tok = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const user = p.split('/')[4];
    fake.requests.push({ provider: 'meta', method: 'DELETE', path: p.slice('/meta/graph/v26.0'.length),
      query: Object.fromEntries(new URL(req.url, 'http://x').searchParams), bearer: tok !== '' });
    const t = access.get(tok);
    const bad = (message, sub) => send(res, 400, { error: { message, type: 'OAuthException', code: 190,
      ...(sub ? { error_subcode: sub } : {}), fbtrace_id: 'A' + rnd(8) } });
    if (!t || t.provider !== 'meta') return bad('Invalid OAuth access token - Cannot parse access token');
    if (t.exp !== undefined && t.exp <= Date.now())
      return bad('Error validating access token: Session has expired.', 463);
    if (user !== 'me') return bad('(#100) Unsupported delete request.');
    for (const [k, v] of access) if (v.provider === 'meta' && v.grant === t.grant) access.delete(k);
    fake.metaRevoked.push(tok);
    return send(res, 200, { success: true });
  }

  async function googleToken(req, res) {
    const form = new URLSearchParams(await readBody(req));
    fake.requests.push({ provider: 'google', method: 'POST', path: '/token', form: Object.fromEntries(form) });
    const bad = (error, error_description, status = 400) => send(res, status, { error, error_description });
    if (form.get('client_id') !== APPS.google.id || form.get('client_secret') !== APPS.google.secret)
      return bad('invalid_client', 'The OAuth client was not found.', 401);
    const gt = form.get('grant_type');
    if (await tokenMode(res, 'google', gt === 'refresh_token' ? 'refresh' : 'token')) return;
    if (gt === 'authorization_code') {
      const c = codes.get(form.get('code'));
      if (!c || c.provider !== 'google' || c.used || c.exp < Date.now())
        return bad('invalid_grant', 'Malformed auth code.');
      if (c.redirect_uri !== form.get('redirect_uri'))
        return bad('redirect_uri_mismatch', 'Bad Request');
      const v = form.get('code_verifier') || '';
      const ch = crypto.createHash('sha256').update(v).digest('base64url');
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(v) || ch !== c.challenge)
        return bad('invalid_grant', 'Invalid code verifier.');
      c.used = true;
      const at = issue('ya29.' + rnd(60));
      const rt = issue('1//0' + rnd(60));
      access.set(at, { provider: 'google' });
      refresh.set(rt, { provider: 'google', scope: c.scope });
      return send(res, 200, { access_token: at, expires_in: 3599, refresh_token: rt, scope: c.scope, token_type: 'Bearer' });
    }
    if (gt === 'refresh_token') {
      const r = refresh.get(form.get('refresh_token'));
      if (!r || r.provider !== 'google') return bad('invalid_grant', 'Token has been expired or revoked.');
      const at = issue('ya29.' + rnd(60));
      access.set(at, { provider: 'google' });
      return send(res, 200, { access_token: at, expires_in: 3599, scope: r.scope, token_type: 'Bearer' });
    }
    return bad('unsupported_grant_type', `Invalid grant_type: ${gt}`);
  }

  async function googleRevoke(req, res) {
    const form = new URLSearchParams(await readBody(req));
    const tok = form.get('token');
    fake.requests.push({ provider: 'google', method: 'POST', path: '/revoke' });
    if (refresh.has(tok) || access.has(tok)) {
      refresh.delete(tok);
      access.delete(tok);
      fake.revoked.push(tok);
      return send(res, 200, {});
    }
    send(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
  }

  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, 'http://x');
      const q = u.searchParams;
      const p = u.pathname;
      if (req.method === 'GET' && p === '/pinterest/oauth/')
        return consent(res, 'pinterest', q, { scopeSep: ',' });
      if (req.method === 'POST' && p === '/pinterest/v5/oauth/token')
        return await pinterestToken(req, res);
      if (req.method === 'GET' && p === '/meta/v26.0/dialog/oauth')
        return consent(res, 'meta', q, { scopeSep: ',' });
      if (req.method === 'GET' && p === '/meta/graph/v26.0/oauth/access_token')
        return await metaToken(req, res, q);
      if (req.method === 'DELETE' && /^\/meta\/graph\/v26\.0\/[^/]+\/permissions$/.test(p))
        return metaRevoke(req, res, p);
      if (req.method === 'GET' && p === '/google/o/oauth2/v2/auth')
        return consent(res, 'google', q, { scopeSep: ' ', needPkce: true });
      if (req.method === 'POST' && p === '/google/token')
        return await googleToken(req, res);
      if (req.method === 'POST' && p === '/google/revoke')
        return await googleRevoke(req, res);
      for (const h of extra) if (await h(req, res, u)) return;
      send(res, 404, { error: 'not found' });
    } catch (e) {
      if (!res.headersSent) send(res, 500, { error: String(e.message) });
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;

  // Registered redirect URIs: any /api/oauth/{provider}/callback unless
  // narrowed with fake.allowRedirect(prefix).
  let allowed = null;
  fake.redirectOk = (provider, uri) =>
    uri.endsWith(`/api/oauth/${provider}/callback`) && (allowed === null || uri.startsWith(allowed));
  fake.allowRedirect = (prefix) => { allowed = prefix; };

  fake.base = base;
  fake.config = {
    pinterest_app_id: APPS.pinterest.id, pinterest_app_secret: APPS.pinterest.secret,
    pinterest_api_base: `${base}/pinterest/v5`, pinterest_oauth_url: `${base}/pinterest/oauth/`,
    meta_app_id: APPS.meta.id, meta_app_secret: APPS.meta.secret,
    meta_graph_base: `${base}/meta/graph/v26.0`, meta_dialog_url: `${base}/meta/v26.0/dialog/oauth`,
    google_client_id: APPS.google.id, google_client_secret: APPS.google.secret,
    google_auth_url: `${base}/google/o/oauth2/v2/auth`, google_token_url: `${base}/google/token`,
    google_revoke_url: `${base}/google/revoke`,
  };
  fake.secrets = [APPS.pinterest.secret, APPS.meta.secret, APPS.google.secret];
  fake.setMode = (provider, m) => { modes[provider] = m ? { ...m } : {}; };
  fake.reset = () => {
    for (const k of Object.keys(modes)) modes[k] = {};
    fake.requests.length = 0;
    fake.metaRevoked.length = 0;
  };
  fake.isLive = (tok) => access.has(tok) || refresh.has(tok);
  // For the API fakes that share these tokens (tests/fakes/pinterest.mjs):
  // use(handler) adds (req, res, url) => true-when-answered before the 404;
  // accessToken(tok) -> {provider, exp?, scope?} or undefined (scope:
// Pinterest's granted scopes, comma separated); expireAccess(tok)
  // makes an issued access token expired (the API then answers 401).
  fake.use = (h) => { extra.push(h); };
  fake.accessToken = (tok) => access.get(tok);
  fake.expireAccess = (tok) => { const a = access.get(tok); if (a) a.exp = Date.now() - 1000; };
  fake.expireRefreshTokens = (provider) => {
    for (const [k, v] of refresh) if (v.provider === provider) refresh.delete(k);
  };
  fake.close = () => new Promise((r) => {
    for (const res of hung) { try { res.destroy(); } catch { /* gone */ } }
    server.closeAllConnections?.();
    server.close(() => r());
  });
  return fake;
}
