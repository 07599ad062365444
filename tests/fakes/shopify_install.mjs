// shopify_install.mjs - the fake Shopify's side of an app install and of
// its webhooks (owner: the "install" module), wired into shopify.mjs with
// one line of glue (fake.oauthRoutes).
//
//   GET  /{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state
//        checked as Shopify checks it (a known app, a redirect URI the app
//        lists, known scope names, a state, a shop that exists), then the
//        merchant "approves" and is sent back to redirect_uri with code,
//        hmac, host, shop, state, timestamp; the hmac is computed as
//        Shopify signs (sorted pairs, URLSearchParams encoding with %20).
//        Granted scopes may be fewer than asked (setInstallMode).
//   POST /{shop}/admin/oauth/access_token {client_id, client_secret, code,
//        expiring} (JSON or form): the authorization_code grant.  A code is
//        single use and bound to its shop; expiring=1 gives a 1-hour token
//        with a rotating refresh token.  The other grants (refresh_token,
//        client_credentials) and the tokens' lives are shopify_tokens.mjs's
//        (fake.tokenGrant, fake.issueAccessToken); codes are registered
//        through fake.registerAuthorizationCode.
//
// Webhooks: webhookRequest() builds a delivery (body, headers with a real
// base64 HMAC of the exact body) for a test to send to the API;
// fake.uninstallApp(shop) revokes the shop's token as Shopify does.
import crypto from 'node:crypto';

// Every access scope name the fake knows (Shopify refuses unknown ones).
const KNOWN_SCOPES = new Set(['read_products', 'write_products', 'read_orders',
  'write_orders', 'read_all_orders', 'read_publications', 'write_publications',
  'read_inventory', 'write_inventory', 'read_files', 'write_files',
  'read_customers', 'write_customers']);

/** hex HMAC-SHA256 of a callback's pairs, as Shopify computes it. */
export function signQuery(secret, params) {
  const sp = new URLSearchParams();
  for (const k of Object.keys(params).filter((k) => k !== 'hmac' && k !== 'signature').sort())
    sp.append(k, String(params[k]));
  const msg = sp.toString().replace(/\+/g, '%20');
  return crypto.createHmac('sha256', secret).update(msg).digest('hex');
}

/** base64 HMAC-SHA256 of a webhook body (Buffer or string). */
export function signWebhook(secret, body) {
  return crypto.createHmac('sha256', secret).update(body).digest('base64');
}

const rand = (n) => crypto.randomBytes(n).toString('hex');

function page(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Shopify</title><p>${text}</p>`);
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readAll(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > limit) return null;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Adds the app install to a fake Shopify.  app: { clientId, clientSecret,
 * redirectUrls }.  Returns the fake.
 */
export function installShopifyApp(fake, app = {}) {
  fake.app = {
    clientId: app.clientId ?? `cid_${rand(8)}`,
    clientSecret: app.clientSecret ?? `shpss_${rand(16)}`,
    redirectUrls: [...(app.redirectUrls ?? [])],
  };
  const codes = new Map();	// code -> { shop, scopes, used }
  let mode = {};
  fake.installLog = [];		// every authorize and token request

  fake.setInstallMode = (m) => { mode = { ...(m ?? {}) }; };
  /** The keys reboss.conf needs for this app. */
  fake.appConfig = () => ({ shopify_client_id: fake.app.clientId,
    shopify_client_secret: fake.app.clientSecret });
  /** A code the token endpoint will take once for shop with scopes. */
  fake.registerAuthorizationCode = (shop, scopes) => {
    const code = rand(16);
    codes.set(code, { shop: String(shop).toLowerCase(), scopes, used: false });
    return code;
  };
  /** The token requests (authorization_code grants) the fake received. */
  fake.tokenRequests = () => fake.installLog.filter((e) => e.kind === 'token');
  /** Shopify revokes the app's tokens of a shop when it is uninstalled. */
  fake.uninstallApp = (domain) => fake.revokeTokens(domain);

  function authorize(req, res, domain, url) {
    const q = url.searchParams;
    const entry = { kind: 'authorize', shop: domain, query: Object.fromEntries(q), status: null };
    fake.installLog.push(entry);
    req.resume();
    const refuse = (status, why) => { entry.status = status; entry.error = why; return page(res, status, why); };
    const shop = fake.getShop(domain);
    if (!shop) return refuse(404, 'There is no store at this address.');
    for (const k of ['client_id', 'scope', 'redirect_uri', 'state'])
      if (q.getAll(k).length !== 1 || !q.get(k)) return refuse(400, `Oauth error invalid_request: ${k} is missing`);
    if (q.get('client_id') !== fake.app.clientId)
      return refuse(400, 'Oauth error invalid_request: Could not find Shopify API application with api_key');
    if (!fake.app.redirectUrls.includes(q.get('redirect_uri')))
      return refuse(400, 'Oauth error invalid_request: The redirect_uri is not whitelisted');
    const asked = q.get('scope').split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = asked.filter((s) => !KNOWN_SCOPES.has(s));
    if (!asked.length || unknown.length)
      return refuse(400, `Oauth error invalid_scope: ${unknown.join(', ')}`);
    const redirect = new URL(q.get('redirect_uri'));
    if (mode.deny) {
      // The merchant cancels: Shopify sends them back to the admin,
      // not to the app.
      entry.status = 302;
      res.writeHead(302, { Location: `https://admin.shopify.com/store/${domain.split('.')[0]}/apps` });
      return res.end();
    }
    const granted = mode.grantScopes ? mode.grantScopes : asked;
    const params = {
      code: fake.registerAuthorizationCode(domain, granted.join(',')),
      host: Buffer.from(`admin.shopify.com/store/${domain.split('.')[0]}`).toString('base64'),
      shop: domain,
      state: q.get('state'),
      timestamp: String(Math.floor(Date.now() / 1000) + (mode.timestampOffset ?? 0)),
    };
    params.hmac = signQuery(fake.app.clientSecret, params);
    for (const [k, v] of Object.entries(params)) redirect.searchParams.set(k, v);
    entry.status = 302;
    entry.code = params.code;
    res.writeHead(302, { Location: redirect.toString() });
    return res.end();
  }

  async function accessToken(req, res, domain) {
    const entry = { kind: 'token', shop: domain, status: null };
    fake.installLog.push(entry);
    fake.requests.push({ shop: domain, method: req.method, path: `/${domain}/admin/oauth/access_token`,
      tokenRequest: true, status: null });
    const text = await readAll(req);
    const fail = (status, error, description) => {
      entry.status = status;
      entry.error = error;
      return json(res, status, { error, error_description: description });
    };
    if (req.method !== 'POST') return fail(405, 'invalid_request', 'POST only');
    if (text == null) return fail(413, 'invalid_request', 'Request too large');
    let body;
    const ct = String(req.headers['content-type'] ?? '');
    try {
      body = /json/i.test(ct) ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text));
    } catch {
      return fail(400, 'invalid_request', 'Malformed body');
    }
    entry.body = { ...body, client_secret: body?.client_secret ? '(set)' : undefined, code: body?.code ? '(set)' : undefined,
      refresh_token: body?.refresh_token ? '(set)' : undefined };
    if (body?.grant_type && body.grant_type !== 'authorization_code') {
      entry.kind = 'grant';
      return fake.tokenGrant(domain, body ?? {}, fail, (out) => {
        entry.status = 200;
        // onTokenGrant 'reset': the grant is made, its answer is lost.
        if (fake.getMode(domain)?.onTokenGrant === 'reset') {
          entry.reset = true;
          const sock = res.socket;
          if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
          else res.destroy();
          return undefined;
        }
        return json(res, 200, out);
      });
    }
    if (body?.client_id !== fake.app.clientId || body?.client_secret !== fake.app.clientSecret)
      return fail(401, 'invalid_client', 'Client authentication failed');
    if (body.grant_type && body.grant_type !== 'authorization_code')
      return fail(400, 'unsupported_grant_type', 'Only authorization_code here');
    const c = codes.get(String(body.code ?? ''));
    if (!c || c.used || c.shop !== domain)
      return fail(400, 'invalid_request', 'The authorization code was not found or was already used');
    c.used = true;
    const shop = fake.getShop(domain);
    if (!shop) return fail(404, 'invalid_request', 'Not Found');
    // What the merchant approved is what currentAppInstallation.accessScopes
    // reports for the installation from now on.
    shop.scopes = c.scopes.split(',').filter(Boolean);
    const expiring = String(body.expiring) === '1';
    const a = fake.issueAccessToken(domain, expiring ? 'expiring' : 'offline', c.scopes);
    const out = { access_token: a.token, scope: c.scopes };
    if (expiring) Object.assign(out, { expires_in: a.expires_in }, fake.issueRefreshToken(domain, c.scopes, a.token));
    fake.grants.push({ shop: domain, grant: 'authorization_code', status: 200, error: null, at: fake.now() });
    entry.status = 200;
    entry.expiring = String(body.expiring) === '1';
    return json(res, 200, out);
  }

  /** shopify.mjs's glue: true when the request was one of ours. */
  fake.oauthRoutes = (req, res, url) => {
    const m = /^\/([^/]+)\/admin\/oauth\/(authorize|access_token)$/.exec(url.pathname);
    if (!m) return false;
    const domain = decodeURIComponent(m[1]).toLowerCase();
    if (m[2] === 'authorize') {
      if (req.method !== 'GET') { req.resume(); page(res, 405, 'GET only'); return true; }
      authorize(req, res, domain, url);
    } else {
      accessToken(req, res, domain).catch(() => { if (!res.headersSent) json(res, 500, { error: 'internal' }); });
    }
    return true;
  };
  return fake;
}

/** The REST-style payload Shopify sends for a topic. */
export function webhookPayload(fake, topic, domain, extra = {}) {
  const shop = fake.getShop(domain);
  const shopId = shop?.id ?? 1;
  switch (topic) {
    case 'app/uninstalled':
      return { id: shopId, name: shop?.name ?? domain, email: shop?.email ?? null, domain,
        myshopify_domain: domain, plan_name: 'basic', ...extra };
    case 'customers/data_request':
      return { shop_id: shopId, shop_domain: domain, orders_requested: [299938, 280263],
        customer: { id: 191167, email: 'john@example.com', phone: '555-625-1199' },
        data_request: { id: 9999 }, ...extra };
    case 'customers/redact':
      return { shop_id: shopId, shop_domain: domain,
        customer: { id: 191167, email: 'john@example.com', phone: '555-625-1199' },
        orders_to_redact: [299938, 280263, 220458], ...extra };
    case 'shop/redact':
      return { shop_id: shopId, shop_domain: domain, ...extra };
    default:
      return { ...extra };
  }
}

/**
 * One delivery as Shopify sends it: { body (the exact bytes), headers }.
 * opts: payload (default webhookPayload), id (X-Shopify-Webhook-Id), secret
 * (default the app's), apiVersion.
 */
export function webhookRequest(fake, topic, domain, opts = {}) {
  const body = Buffer.from(JSON.stringify(opts.payload ?? webhookPayload(fake, topic, domain)));
  const headers = {
    'Content-Type': 'application/json',
    'X-Shopify-Topic': topic,
    'X-Shopify-Hmac-Sha256': signWebhook(opts.secret ?? fake.app.clientSecret, body),
    'X-Shopify-Shop-Domain': domain,
    'X-Shopify-Webhook-Id': opts.id ?? crypto.randomUUID(),
    'X-Shopify-Event-Id': crypto.randomUUID(),
    'X-Shopify-Triggered-At': new Date().toISOString(),
    'X-Shopify-API-Version': opts.apiVersion ?? '2026-10',
  };
  return { body, headers };
}
