// shopify_tokens.mjs - the fake Shopify's access tokens and its token
// endpoint's grants other than authorization_code (owner: the "connect"
// module), wired into shopify.mjs and shopify_install.mjs.
//
// As strict as Shopify (shopify.dev: "Offline access tokens", "Use
// expiring offline access tokens", changelog 2025-12-10 "Offline access
// tokens now support expiry and refresh" and 2026-08-28 "More resilient
// refreshes for expiring offline access tokens", "Using the client
// credentials grant"):
//
//   POST /{shop}/admin/oauth/access_token, JSON or form:
//   - grant_type=refresh_token {client_id, client_secret, refresh_token}
//     (the ReBoss app's credentials): a new 1-hour access token and a NEW
//     refresh token (rotation).  The refresh token that was used stays
//     valid until the app begins using its replacement (the new refresh
//     token is used, or the new access token makes a request): a client
//     that lost the answer can ask again with it.  A used and replaced,
//     unknown, expired, revoked or other shop's refresh token:
//     400 {"error":"invalid_grant"}.
//   - grant_type=client_credentials {client_id, client_secret} of an app of
//     the store's own organization (fake.addOrgApp): a 24-hour token
//     (expires_in 86399), no refresh token.  Wrong credentials: 401
//     invalid_client; a store outside the app's organization: 400
//     unauthorized_client.
//   Every access token issued by a grant really expires by the fake's
//   clock; an expired or revoked one gets 401 on the Admin API.
//
// Knobs (tests):
//   fake.advanceClock(ms[, domain]) the fake's clock runs ahead (tokens
//                                expire): for every shop, or for one shop's
//                                tokens only
//   fake.setTokenLifetimes({ expiring, clientCredentials })  seconds, as
//                                reported in expires_in (default 3600, 86399)
//   fake.revokeTokens(domain)    every token and refresh token of the shop
//                                stops working (app removed, secret rotated)
//   fake.addOrgApp({ clientId, clientSecret, shops, scopes })
//   fake.grants                  every grant request: { shop, grant, status,
//                                error, at }; fake.grantCount(filter)
//   fake.setGrantGate(promise)   grant requests wait for it (a test's barrier;
//                                fake.grantsWaiting() counts them)
//   fake.tokenLog(domain)        the shop's grant tokens in issue order:
//                                { id (a hash), kind, uses, refused }
//   fake.tokenId(token)          that hash; shopify.mjs notes it per request
import crypto from 'node:crypto';

const rand = (n) => crypto.randomBytes(n).toString('hex');

export function installShopifyTokens(fake) {
  let offsetMs = 0;
  const shopOffset = new Map();	// domain -> ms ahead of the fake's clock
  const lifetimes = { expiring: 3600, clientCredentials: 86399, refresh: 7776000 };
  const access = new Map();	// token -> { shop, kind, expiresAt, revoked, scopes, from }
  const refresh = new Map();	// refresh token -> { shop, scopes, expiresAt, dead, next, prev, access }
  const orgApps = new Map();	// clientId -> { clientSecret, shops:Set, scopes }
  fake.grants = [];
  let gate = null;
  let waiting = 0;
  fake.setGrantGate = (p) => { gate = p ?? null; };
  fake.grantsWaiting = () => waiting;
  fake.tokenId = (token) => crypto.createHash('sha256').update(String(token)).digest('hex').slice(0, 12);
  fake.tokenLog = (domain) => [...access.entries()].filter(([, t]) => t.shop === String(domain).toLowerCase())
    .map(([k, t]) => ({ id: fake.tokenId(k), kind: t.kind, uses: t.uses, refused: t.refused }));

  fake.now = (domain) => Date.now() + offsetMs + (shopOffset.get(domain) ?? 0);
  fake.advanceClock = (ms, domain) => {
    if (domain == null) offsetMs += Number(ms);
    else {
      const d = String(domain).toLowerCase();
      shopOffset.set(d, (shopOffset.get(d) ?? 0) + Number(ms));
    }
  };
  fake.setTokenLifetimes = (l = {}) => {
    if (l.expiring != null) lifetimes.expiring = Number(l.expiring);
    if (l.clientCredentials != null) lifetimes.clientCredentials = Number(l.clientCredentials);
  };
  fake.grantCount = (f = {}) => fake.grants.filter((g) => Object.entries(f).every(([k, v]) => g[k] === v)).length;
  fake.addOrgApp = ({ clientId, clientSecret, shops = [], scopes } = {}) => {
    const app = { clientId: clientId ?? `cc_${rand(8)}`, clientSecret: clientSecret ?? `shpss_${rand(16)}`,
      shops: new Set(shops.map((s) => String(s).toLowerCase())), scopes: scopes ?? null };
    orgApps.set(app.clientId, app);
    return app;
  };
  fake.revokeTokens = (domain) => {
    const d = String(domain).toLowerCase();
    for (const t of access.values()) if (t.shop === d) t.revoked = true;
    for (const r of refresh.values()) if (r.shop === d) r.dead = true;
    const shop = fake.getShop(d);
    if (shop) shop.token = `revoked_${rand(8)}`;
  };
  /** The live (unexpired, unrevoked) grant tokens of a shop. */
  fake.liveTokens = (domain) => [...access.values()].filter((t) => t.shop === String(domain).toLowerCase() &&
    !t.revoked && t.expiresAt > fake.now(t.shop)).length;

  /** Issues an access token of kind for shop (used by every grant). */
  fake.issueAccessToken = (domain, kind, scopes, from = null) => {
    const token = `shpat_${rand(16)}`;
    const life = kind === 'client_credentials' ? lifetimes.clientCredentials : lifetimes.expiring;
    access.set(token, { shop: domain, kind, expiresAt: kind === 'offline' ? Infinity : fake.now(domain) + life * 1000,
      revoked: false, scopes, from, uses: 0, refused: 0 });
    const shop = fake.getShop(domain);
    if (shop) shop.token = token;	// the newest one, for tests to look at
    return { token, expires_in: kind === 'offline' ? undefined : life };
  };
  fake.issueRefreshToken = (domain, scopes, accessToken, prev = null) => {
    const rt = `shprt_${rand(16)}`;
    refresh.set(rt, { shop: domain, scopes, expiresAt: fake.now(domain) + lifetimes.refresh * 1000, dead: false,
      next: null, prev, access: accessToken });
    access.get(accessToken).from = rt;
    return { refresh_token: rt, refresh_token_expires_in: lifetimes.refresh };
  };

  // The app begins using the replacement of rt's predecessor: it is gone.
  function beginUsing(rt) {
    const r = refresh.get(rt);
    if (r?.prev) {
      const p = refresh.get(r.prev);
      if (p) p.dead = true;
      r.prev = null;
    }
  }

  /** shopify.mjs asks: may this token read this shop? 401 unless. */
  fake.acceptsToken = (shop, token) => {
    const t = access.get(token);
    if (!t) return token === shop.token;	// a custom app's token (addShop)
    if (t.shop !== shop.domain || t.revoked || fake.now(t.shop) >= t.expiresAt) {
      t.refused++;
      return false;
    }
    t.uses++;
    if (t.from) beginUsing(t.from);
    return true;
  };

  function refreshGrant(domain, body, fail, ok) {
    if (body.client_id !== fake.app?.clientId || body.client_secret !== fake.app?.clientSecret)
      return fail(401, 'invalid_client', 'Client authentication failed');
    const rt = String(body.refresh_token ?? '');
    const r = refresh.get(rt);
    if (!r || r.dead || r.shop !== domain || fake.now(domain) >= r.expiresAt)
      return fail(400, 'invalid_grant', 'The refresh token is invalid, expired, revoked or was already used');
    if (r.next) {
      // Used before: still valid while its replacement is not in use; the
      // replacement (never received, as far as Shopify knows) goes.
      const n = refresh.get(r.next);
      if (n) n.dead = true;
      const a = n && access.get(n.access);
      if (a) a.revoked = true;
    }
    const a = fake.issueAccessToken(domain, 'expiring', r.scopes);
    const n = fake.issueRefreshToken(domain, r.scopes, a.token, rt);
    r.next = n.refresh_token;
    return ok({ access_token: a.token, expires_in: a.expires_in, scope: r.scopes, ...n });
  }

  function clientCredentialsGrant(domain, body, fail, ok) {
    const app = orgApps.get(String(body.client_id ?? ''));
    if (!app || body.client_secret !== app.clientSecret)
      return fail(401, 'invalid_client', 'Client authentication failed');
    if (!app.shops.has(domain))
      return fail(400, 'unauthorized_client',
        'The client credentials grant is only available for stores of the app\'s own organization');
    const scopes = app.scopes ?? 'read_products,write_products,read_orders,read_all_orders,read_publications,write_publications';
    const a = fake.issueAccessToken(domain, 'client_credentials', scopes);
    fake.getShop(domain).scopes = scopes.split(',').filter(Boolean);	// currentAppInstallation
    return ok({ access_token: a.token, scope: scopes, expires_in: a.expires_in });
  }

  /** shopify_install.mjs hands every grant but authorization_code here. */
  fake.tokenGrant = async (domain, body, fail, ok) => {
    const g = { shop: domain, grant: String(body.grant_type), status: null, error: null, at: fake.now() };
    fake.grants.push(g);
    if (gate) {
      g.gated = true;
      waiting++;
      try { await gate; } finally { waiting--; }
    }
    const f = (status, error, d) => { g.status = status; g.error = error; return fail(status, error, d); };
    const o = (out) => { g.status = 200; return ok(out); };
    if (!fake.getShop(domain)) return f(404, 'invalid_request', 'Not Found');
    if (body.grant_type === 'refresh_token') return refreshGrant(domain, body, f, o);
    if (body.grant_type === 'client_credentials') return clientCredentialsGrant(domain, body, f, o);
    return f(400, 'unsupported_grant_type', 'The grant type is not supported');
  };
  return fake;
}
