// api.test.mjs - the HTTP API end to end: curl over HTTPS -> nginx (TLS,
// CORS, body cap) -> spawn-fcgi'd reboss-api pool -> PostgreSQL and the fake
// Shopify.  Every error case checks the status, the stable code, the error
// body's exact shape, and that no secret came back.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { startStack, DASHBOARD_ORIGIN } from './harness.mjs';

const USER_A = crypto.randomUUID();
const USER_B = crypto.randomUUID();
const tok = () => 'shpat_' + crypto.randomBytes(16).toString('hex');

// Shops the fake knows.  Tokens are secrets: none may ever come back in a
// response or appear in a log.
const HAPPY = {
  domain: 'happy-shop.myshopify.com', token: tok(), name: 'Happy Shop',
  email: 'owner@happy-shop.test', currency: 'EUR', ianaTimezone: 'Europe/Berlin',
};
const OWNED = { domain: 'owned-shop.myshopify.com', token: tok(), name: 'Owned Shop', email: 'a@owned.test' };
const FLAKY = { domain: 'flaky-shop.myshopify.com', token: tok(), name: 'Flaky Shop', email: 'f@flaky.test' };
const SECRETS = [HAPPY.token, OWNED.token, FLAKY.token];

const N_CUSTOM = 400;
const N_SMART = 200;

let S;
let tokenA;
let tokenB;

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

function secretsOf(extra = []) {
  return [...SECRETS, S.jwtSecret, S.tokenKey, S.config.database_url, ...extra]
    .filter((s) => typeof s === 'string' && s.length >= 8);
}

/** Nothing secret or internal in a response (headers and body). */
function assertNoLeak(res, extra = []) {
  const text = JSON.stringify(res.headers) + '\n' + res.body;
  for (const s of secretsOf(extra))
    assert.ok(!text.includes(s), `response leaks a secret (${s.slice(0, 6)}...)`);
  assert.ok(!text.includes('rbs1:'), 'response leaks a sealed token');
  assert.ok(!text.includes(S.dir), 'response leaks a server path');
  // Where the database lives is nobody's business outside the server.
  assert.ok(!new RegExp(`port ${S.pg.port}\\b|:${S.pg.port}\\b`).test(res.body) &&
    !/connection to server/i.test(res.body), `response leaks the database address: ${res.body.slice(0, 200)}`);
  assert.ok(!/ERROR: |SQLSTATE|PQ[a-z]|Traceback|segfault/.test(res.body),
    `response leaks internals: ${res.body.slice(0, 200)}`);
}

/** An error answer: exact status and code, exactly the three keys. */
function assertError(res, status, code, extra = []) {
  const ctx = `${res.status} ${res.body.slice(0, 300)}`;
  assert.equal(res.status, status, `status: ${ctx}`);
  assert.match(res.headers['content-type'] || '', /^application\/json/, `content-type: ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `JSON object: ${ctx}`);
  assert.deepEqual(Object.keys(res.json).sort(), ['code', 'error', 'success'], `keys: ${ctx}`);
  assert.equal(res.json.success, false, ctx);
  assert.equal(typeof res.json.error, 'string', ctx);
  // A sentence: words, ending in a full stop (it may start with a field name).
  assert.match(res.json.error, /^[A-Za-z"].{8,}[.!?]$/s, `error must be a sentence: ${ctx}`);
  assert.ok(res.json.error.trim().split(/\s+/).length >= 3, `error must be a sentence: ${ctx}`);
  assert.match(res.json.code, SNAKE, ctx);
  if (Array.isArray(code)) assert.ok(code.includes(res.json.code), `code ${res.json.code} not in ${code}`);
  else assert.equal(res.json.code, code, `code: ${ctx}`);
  assertNoLeak(res, extra);
}

function assertOk(res, status = 200, extra = []) {
  assert.equal(res.status, status, `status: ${res.status} ${res.body.slice(0, 300)}`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  assert.ok(res.json !== undefined, `JSON body: ${res.body.slice(0, 200)}`);
  assertNoLeak(res, extra);
}

const post = (path, body, o = {}) =>
  S.curl(path, { method: 'POST', body, token: o.token === undefined ? tokenA : o.token, ...o });

const graphqlRequests = () => S.fake.requests.length;

async function psql(sql) {
  return String(await S.pg.psql(sql)).trim();
}

before(async () => {
  S = await startStack({ workers: 4 });
  tokenA = S.mintToken({ userId: USER_A });
  tokenB = S.mintToken({ userId: USER_B });
  S.fake.addShop({ ...HAPPY });
  S.fake.addShop({ ...OWNED });
  S.fake.addShop({ ...FLAKY });
  for (let i = 0; i < N_CUSTOM; i++)
    S.fake.addCollection(HAPPY.domain, { title: `Custom ${i}`, handle: `custom-${i}`, type: 'custom' });
  for (let i = 0; i < N_SMART; i++) {
    S.fake.addCollection(HAPPY.domain, {
      title: `Smart ${i}`, handle: `smart-${i}`, type: 'smart',
      rules: [{ column: 'TAG', relation: 'EQUALS', condition: `tag-${i}` }],
    });
  }
  S.fake.addCollection(OWNED.domain, { title: 'Owned', handle: 'owned', type: 'custom' });
}, { timeout: 120000 });

after(async () => {
  if (S) await S.stop();
}, { timeout: 60000 });

describe('health', () => {
  for (const p of ['/health', '/api/health']) {
    test(`GET ${p} answers 200 ok/ok`, async () => {
      const r = await S.curl(p);
      assertOk(r);
      assert.deepEqual(r.json, { status: 'ok', database: 'ok' });
    });
  }
});

describe('POST /api/shopify/test-connection', () => {
  test('returns the REST shop keys with the shop\'s values', async () => {
    const r = await post('/api/shopify/test-connection', { shop_domain: HAPPY.domain, access_token: HAPPY.token });
    assertOk(r);
    assert.equal(r.json.success, true);
    const s = r.json.shop;
    assert.ok(s && typeof s === 'object', r.body);
    for (const k of ['id', 'name', 'email', 'domain', 'myshopify_domain', 'currency',
      'iana_timezone', 'plan_name', 'plan_display_name'])
      assert.ok(k in s, `shop.${k} missing: ${r.body}`);
    assert.equal(typeof s.id, 'number');
    assert.ok(Number.isInteger(s.id) && s.id > 0);
    assert.equal(s.name, HAPPY.name);
    assert.equal(s.email, HAPPY.email);
    assert.equal(s.myshopify_domain, HAPPY.domain);
    assert.equal(s.currency, HAPPY.currency);
    assert.equal(s.iana_timezone, HAPPY.ianaTimezone);
    assert.equal(typeof s.domain, 'string');
    assert.equal(typeof s.plan_name, 'string');
    assert.equal(typeof s.plan_display_name, 'string');
    const fs = S.fake.getShop(HAPPY.domain);
    assert.equal(s.id, fs.id);
    assert.ok(s.domain.length > 0);
    assert.equal(s.plan_display_name, fs.planDisplayName);
  });

  test('accepts the bare name and a URL with scheme and trailing slash', async () => {
    for (const d of ['happy-shop', 'https://Happy-Shop.myshopify.com/']) {
      const r = await post('/api/shopify/test-connection', { shop_domain: d, access_token: HAPPY.token });
      assertOk(r);
      assert.equal(r.json.shop.myshopify_domain, HAPPY.domain, d);
    }
  });

  test('an ES256 token from the JWKS works', async () => {
    const es = S.mintToken({ userId: USER_A, alg: 'ES256' });
    const r = await post('/api/shopify/test-connection', { shop_domain: HAPPY.domain, access_token: HAPPY.token }, { token: es });
    assertOk(r, 200, [es]);
    assert.equal(r.json.success, true);
  });

  test('accepts application/json with a charset', async () => {
    const r = await post('/api/shopify/test-connection', { shop_domain: HAPPY.domain, access_token: HAPPY.token },
      { headers: { 'Content-Type': 'application/json; charset=utf-8' } });
    assertOk(r);
  });
});

function checkCollections(list, nCustom, nSmart) {
  assert.ok(Array.isArray(list));
  assert.equal(list.length, nCustom + nSmart, 'every page');
  const ids = new Set();
  let custom = 0, smart = 0;
  for (const c of list) {
    assert.equal(typeof c.id, 'number');
    assert.ok(Number.isInteger(c.id) && c.id > 0);
    assert.equal(c.admin_graphql_api_id, `gid://shopify/Collection/${c.id}`);
    assert.equal(typeof c.title, 'string');
    assert.equal(typeof c.handle, 'string');
    assert.equal(typeof c.products_count, 'number');
    assert.equal(typeof c.updated_at, 'string');
    assert.ok(!Number.isNaN(Date.parse(c.updated_at)), c.updated_at);
    ids.add(c.id);
    if (c.collection_type === 'custom') {
      custom++;
      if (nCustom > 1) assert.match(c.handle, /^custom-\d+$/);
      assert.ok(!c.rules || c.rules.length === 0, 'custom collections have no rules');
    } else {
      assert.equal(c.collection_type, 'smart', JSON.stringify(c));
      smart++;
      assert.match(c.handle, /^smart-\d+$/);
      assert.ok(Array.isArray(c.rules) && c.rules.length === 1, JSON.stringify(c));
      const n = c.handle.slice('smart-'.length);
      const rule = JSON.stringify(c.rules[0]).toLowerCase();
      assert.ok(rule.includes(`tag-${n}`), `rule condition: ${rule}`);
      assert.ok(rule.includes('tag'), rule);
      assert.ok(rule.includes('equals'), rule);
    }
  }
  assert.equal(ids.size, list.length, 'ids are unique');
  assert.equal(custom, nCustom);
  assert.equal(smart, nSmart);
}

describe('POST /api/shopify/get-collections', () => {
  test('{shop_domain, access_token}: every page, custom and smart told apart', async () => {
    const before = graphqlRequests();
    const r = await post('/api/shopify/get-collections', { shop_domain: HAPPY.domain, access_token: HAPPY.token });
    assertOk(r);
    checkCollections(r.json.collections, N_CUSTOM, N_SMART);
    assert.ok(graphqlRequests() - before >= 3, 'several pages were fetched');
  });

  test('{shop_id} of the caller\'s shop: uses the stored token and seals it', async () => {
    const id = crypto.randomUUID();
    await psql(`INSERT INTO public.shops (id, user_id, shop_domain, shop_name, access_token)
      VALUES ('${id}', '${USER_A}', '${OWNED.domain}', 'Owned Shop', '${OWNED.token}')`);
    const r = await post('/api/shopify/get-collections', { shop_id: id });
    assertOk(r);
    checkCollections(r.json.collections, 1, 0);
    const stored = await psql(`SELECT access_token FROM public.shops WHERE id = '${id}'`);
    assert.ok(stored.startsWith('rbs1:'), `token is sealed at rest now: ${stored.slice(0, 8)}`);
    assert.ok(!stored.includes(OWNED.token));
    // And the sealed value is usable.
    const again = await post('/api/shopify/get-collections', { shop_id: id.toUpperCase() });
    assertOk(again);
    assert.equal(again.json.collections.length, 1);

    const other = await post('/api/shopify/get-collections', { shop_id: id }, { token: tokenB });
    assertError(other, 404, 'shop_not_found');
    const missing = await post('/api/shopify/get-collections', { shop_id: crypto.randomUUID() });
    assertError(missing, 404, 'shop_not_found');
  });

  for (const bad of ['not-a-uuid', '12345', "' OR 1=1 --", '00000000-0000-0000-0000-00000000000g']) {
    test(`shop_id ${JSON.stringify(bad)} is refused with 400`, async () => {
      const r = await post('/api/shopify/get-collections', { shop_id: bad });
      assertError(r, 400, 'invalid_field');
    });
  }

  test('the fake saw only valid, non-deprecated GraphQL', () => {
    assert.ok(S.fake.requests.length > 0);
    assert.deepEqual(S.fake.validationErrors, []);
    assert.deepEqual(S.fake.deprecations, []);
  });
});

describe('bad input', () => {
  const TC = '/api/shopify/test-connection';
  const good = () => ({ shop_domain: HAPPY.domain, access_token: HAPPY.token });
  const cases = [
    ['malformed JSON', '{"shop_domain": "happy-shop",', 400, 'invalid_json'],
    ['an empty body', '', 400, 'invalid_json'],
    ['a top-level array', '[{"shop_domain":"happy-shop"}]', 400, 'invalid_json'],
    ['a top-level string', '"happy-shop"', 400, 'invalid_json'],
    ['duplicate keys', '{"shop_domain":"a","shop_domain":"b","access_token":"x"}', 400, 'invalid_json'],
    ['a number as shop_domain', () => ({ ...good(), shop_domain: 12345 }), 400, 'invalid_field'],
    ['an object as access_token', () => ({ ...good(), access_token: { a: 1 } }), 400, 'invalid_field'],
    ['missing access_token', () => ({ shop_domain: HAPPY.domain }), 400, 'missing_field'],
    ['missing shop_domain', () => ({ access_token: HAPPY.token }), 400, 'missing_field'],
    ['an empty object', {}, 400, 'missing_field'],
    ['an empty access_token', () => ({ ...good(), access_token: '' }), 400, ['missing_field', 'invalid_access_token']],
    ['a short access_token', () => ({ ...good(), access_token: 'abc' }), 400, 'invalid_access_token'],
    ['an access_token with spaces', () => ({ ...good(), access_token: 'shpat_abc def ghi jkl mno' }), 400, 'invalid_access_token'],
  ];
  for (const [name, body, status, code] of cases) {
    test(`${name} -> ${status} ${code}`, async () => {
      const n = graphqlRequests();
      const b = typeof body === 'function' ? body() : body;
      const r = await post(TC, b);
      assertError(r, status, code);
      assert.equal(graphqlRequests(), n, 'no request reached Shopify');
    });
  }

  test('wrong Content-Type -> 415', async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const r = await post(TC, JSON.stringify(good()), { headers: { 'Content-Type': ct } });
      assertError(r, 415, 'unsupported_media_type');
    }
    const none = await post(TC, JSON.stringify(good()), { headers: { 'Content-Type': null } });
    assertError(none, 415, 'unsupported_media_type');
  });

  test('a body over nginx\'s cap -> 413, the API never sees it', async () => {
    const n = graphqlRequests();
    const big = JSON.stringify({ ...good(), pad: 'x'.repeat(200 * 1024) });
    const r = await post(TC, big);
    assertError(r, 413, 'body_too_large');
    assert.equal(graphqlRequests(), n);
  });

  test('a body just over the cap -> 413', async () => {
    const cap = Number(S.config.api_body_max);
    const body = JSON.stringify({ ...good(), pad: 'x'.repeat(cap) });
    const r = await post(TC, body);
    assertError(r, 413, 'body_too_large');
  });

  test('unknown route -> 404', async () => {
    for (const p of ['/api/nope', '/api/shopify/test-connection/x', '/api/shopify', '/api/']) {
      const r = await post(p, good());
      assertError(r, 404, 'not_found');
    }
  });

  test('wrong method -> 405 with Allow', async () => {
    const r = await S.curl(TC, { method: 'GET', token: tokenA });
    assertError(r, 405, 'method_not_allowed');
    assert.match(r.headers.allow || '', /POST/);
    const d = await S.curl('/api/health', { method: 'DELETE' });
    assertError(d, 405, 'method_not_allowed');
    assert.match(d.headers.allow || '', /GET/);
  });
});

describe('authentication', () => {
  const TC = '/api/shopify/test-connection';
  const body = () => ({ shop_domain: HAPPY.domain, access_token: HAPPY.token });
  const now = () => Math.floor(Date.now() / 1000);
  const cases = [
    ['no Authorization header', () => null, 'missing_token'],
    ['an empty Bearer', () => '', ['missing_token', 'invalid_token']],
    ['an expired token', () => S.mintToken({ userId: USER_A, exp: now() - 3600 }), 'token_expired'],
    ['a forged payload', () => S.mintToken({ userId: USER_A, forge: true }), 'invalid_token'],
    ['alg none', () => S.mintToken({ userId: USER_A, alg: 'none' }), 'invalid_token'],
    ['HS256 with the wrong secret', () => S.mintToken({ userId: USER_A, secret: crypto.randomBytes(32).toString('hex') }), 'invalid_token'],
    ['HS256 keyed with the ES256 public key', () => S.mintToken({ userId: USER_A, forge: 'hs-with-public' }), 'invalid_token'],
    ['ES256 with an unknown kid', () => S.mintToken({ userId: USER_A, alg: 'ES256', kid: 'nope' }), 'invalid_token'],
    ['the wrong audience', () => S.mintToken({ userId: USER_A, aud: 'anon' }), 'invalid_token'],
    ['no audience', () => S.mintToken({ userId: USER_A, aud: null }), 'invalid_token'],
    ['a sub that is not a UUID', () => S.mintToken({ userId: 'admin' }), 'invalid_token'],
    ['garbage', () => 'not.a.jwt', 'invalid_token'],
  ];
  for (const [name, mk, code] of cases) {
    test(`${name} -> 401 ${code}`, async () => {
      const n = graphqlRequests();
      const t = mk();
      const o = { token: null };
      if (t !== null) o.headers = { Authorization: `Bearer ${t}` };
      const r = await post(TC, body(), o);
      assertError(r, 401, code, t ? [t] : []);
      assert.match(r.headers['www-authenticate'] || '', /^Bearer/);
      assert.equal(graphqlRequests(), n, 'no request reached Shopify');
    });
  }
  test('Basic auth is not a Bearer token -> 401', async () => {
    const r = await post(TC, body(), { token: null, headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    assertError(r, 401, ['invalid_token', 'missing_token']);
  });
});

describe('shop domains are validated before any connection', () => {
  const BAD = [
    'evil.com', '127.0.0.1', '[::1]', 'localhost.localdomain', 'shop.myshopify.com.evil.com',
    'shop.myshopify.com@evil.com', 'evil.com#shop.myshopify.com', 'shop.myshopify.com:8080',
    'shop.myshopify.com/x', 'shop.myshopify.com//', 'https://evil.com/shop.myshopify.com',
    '//evil.com', 'shop%2emyshopify.com', 'sh%6fp', 'shop.myshopify.com%2f..',
    'shоp.myshopify.com' /* Cyrillic o */, 'shop.myshopıfy.com' /* dotless i */,
    'ｓｈｏｐ.myshopify.com' /* fullwidth */, 'shop\u200b.myshopify.com' /* zero width */,
    'shop.myshopify.com\n', ' shop.myshopify.com', 'shop.myshopify.com\t',
    'shop..myshopify.com', 'sub.shop.myshopify.com', 'shop_x.myshopify.com',
    '-shop.myshopify.com', 'a'.repeat(64) + '.myshopify.com', 'ftp://shop.myshopify.com',
    '',
  ];
  test('a NUL inside shop_domain is refused, nothing sent', async () => {
    const n = graphqlRequests();
    const r = await post('/api/shopify/test-connection',
      `{"shop_domain":"shop\\u0000.myshopify.com","access_token":"${HAPPY.token}"}`);
    // jansson refuses NUL in strings outright: the body is not JSON we take.
    assertError(r, 400, ['invalid_json', 'invalid_shop_domain']);
    assert.equal(graphqlRequests(), n);
  });
  for (const d of BAD) {
    test(`${JSON.stringify(d)} -> 400 invalid_shop_domain, nothing sent`, async () => {
      const n = graphqlRequests();
      const r = await post('/api/shopify/test-connection', { shop_domain: d, access_token: HAPPY.token });
      assertError(r, 400, 'invalid_shop_domain');
      const g = await post('/api/shopify/get-collections', { shop_domain: d, access_token: HAPPY.token });
      assertError(g, 400, 'invalid_shop_domain');
      assert.equal(graphqlRequests(), n, 'the fake received nothing');
    });
  }
});

describe('Shopify failures', () => {
  const TC = '/api/shopify/test-connection';
  const body = (token = FLAKY.token) => ({ shop_domain: FLAKY.domain, access_token: token });
  const withMode = async (mode, fn) => {
    S.fake.setMode(FLAKY.domain, mode);
    try { await fn(); } finally { S.fake.setMode(FLAKY.domain, null); }
  };

  test('a token Shopify refuses (401) -> 400 shopify_invalid_token', async () => {
    const wrong = tok();
    const r = await post(TC, body(wrong));
    assertError(r, 400, 'shopify_invalid_token', [wrong]);
  });
  test('402 -> 402 shopify_payment_required', () =>
    withMode({ status: 402 }, async () => assertError(await post(TC, body()), 402, 'shopify_payment_required')));
  test('403 -> 403 shopify_missing_scope', () =>
    withMode({ status: 403 }, async () => assertError(await post(TC, body()), 403, 'shopify_missing_scope')));
  test('ACCESS_DENIED in GraphQL errors -> 403 shopify_missing_scope', () =>
    withMode({ accessDenied: true }, async () => {
      // true denies every root field but shop; ['shop'] denies shop too.
      assertError(await post('/api/shopify/get-collections', body()), 403, 'shopify_missing_scope');
      S.fake.setMode(FLAKY.domain, { accessDenied: ['shop'] });
      assertError(await post(TC, body()), 403, 'shopify_missing_scope');
    }));
  test('5xx -> 502 shopify_unavailable', () =>
    withMode({ status: 503 }, async () => assertError(await post(TC, body()), 502, 'shopify_unavailable')));
  test('a truncated answer -> 502 shopify_bad_response', () =>
    withMode({ truncate: true }, async () => {
      assertError(await post(TC, body()), 502, 'shopify_bad_response');
      assertError(await post('/api/shopify/get-collections', body()), 502, 'shopify_bad_response');
    }));
  test('a slow answer within the timeout is fine', () =>
    withMode({ delayMs: 1500 }, async () => {
      const r = await post(TC, body());
      assertOk(r);
      assert.equal(r.json.shop.myshopify_domain, FLAKY.domain);
    }));
  test('after the failures the shop works again', async () => {
    assertOk(await post(TC, body()));
  });
});

describe('CORS (answered by nginx)', () => {
  const preflight = (origin) => S.curl('/api/shopify/test-connection', {
    method: 'OPTIONS', origin,
    headers: { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  test(`preflight from ${DASHBOARD_ORIGIN} is allowed`, async () => {
    const r = await preflight(DASHBOARD_ORIGIN);
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], DASHBOARD_ORIGIN);
    assert.match(r.headers['access-control-allow-methods'] || '', /POST/);
    const h = (r.headers['access-control-allow-headers'] || '').toLowerCase();
    assert.ok(h.includes('authorization') && h.includes('content-type'), h);
    assert.match(r.headers.vary || '', /Origin/);
  });
  test('preflight from another origin gets no CORS headers', async () => {
    const r = await preflight('https://evil.test');
    for (const k of Object.keys(r.headers))
      assert.ok(!k.startsWith('access-control-'), `unexpected ${k}`);
  });
  test('actual responses carry the origin only for the dashboard', async () => {
    const ok = await S.curl('/api/health', { origin: DASHBOARD_ORIGIN });
    assert.equal(ok.headers['access-control-allow-origin'], DASHBOARD_ORIGIN);
    assert.match(ok.headers.vary || '', /Origin/);
    const err = await post('/api/nope', {}, { origin: DASHBOARD_ORIGIN });
    assert.equal(err.headers['access-control-allow-origin'], DASHBOARD_ORIGIN, 'errors are readable by the dashboard');
    const evil = await S.curl('/api/health', { origin: 'https://evil.test' });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });
});

describe('PostgreSQL down and back', () => {
  let master;
  let workers;
  after(async () => { if (!S.pg.running) await S.pg.start(); });

  test('stopping PostgreSQL under a warm pool', async () => {
    master = S.apiPid();
    workers = await S.apiWorkerPids();
    assert.ok(workers.length >= 1, 'the pool has workers');
    // Warm up: the workers hold connections now.
    for (let i = 0; i < 8; i++) assertOk(await S.curl('/health'));
    await S.pg.stop();
  });

  for (const p of ['/health', '/api/health']) {
    test(`GET ${p} answers 503 "database":"unreachable"`, async () => {
      for (let i = 0; i < 4; i++) {
        const r = await S.curl(p);
        assert.equal(r.status, 503, `${p}: ${r.body}`);
        assert.match(r.headers['content-type'] || '', /^application\/json/);
        assert.equal(r.json?.database, 'unreachable', r.body);
        assertNoLeak(r);
      }
    });
  }

  // Routes that need the database answer 503; the pure Shopify proxy
  // (test-connection, get-collections with a token) needs none and keeps
  // serving: the dashboard can still check a shop while PostgreSQL is down.
  test('routes that need the database answer 503 database_unavailable', async () => {
    const gc = await post('/api/shopify/get-collections', { shop_id: crypto.randomUUID() });
    assertError(gc, 503, 'database_unavailable');
    const sh = await post('/api/shops', { shop_domain: HAPPY.domain, access_token: HAPPY.token });
    assertError(sh, 503, 'database_unavailable');
  });

  test('routes that need no database keep working', async () => {
    const tc = await post('/api/shopify/test-connection', { shop_domain: HAPPY.domain, access_token: HAPPY.token });
    assertOk(tc);
    assert.equal(tc.json.success, true);
  });

  test('after a restart the same pool processes answer again', async () => {
    await S.pg.start();
    // Each worker reconnects on its next request.
    const end = Date.now() + 120000; // a guard against a hang, not a measure
    for (;;) {
      const r = await S.curl('/health');
      if (r.status === 200) break;
      assert.ok(Date.now() < end, `no recovery: ${r.status} ${r.body}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    for (let i = 0; i < 8; i++) {
      const r = await S.curl(i % 2 ? '/health' : '/api/health');
      assertOk(r);
      assert.deepEqual(r.json, { status: 'ok', database: 'ok' });
    }
    assertOk(await post('/api/shopify/test-connection', { shop_domain: HAPPY.domain, access_token: HAPPY.token }));
    assert.equal(S.apiPid(), master, 'the pool master (spawn-fcgi child) is the same process');
    assert.ok(S.apiAlive());
    assert.deepEqual(await S.apiWorkerPids(), workers, 'the same worker processes');
  });
});

// Health does not send "SELECT 1" on every request (fcgi/routes_health.c):
// db_alive() looks at the idle connection's socket each time and pings at
// most every REBOSS_TEST_HEALTH_PING_MS.  Here that is an hour, so only the
// socket check can see these failures: a health that trusted a cached
// answer, or never looked, answers 200 where these tests want a reconnect
// or a 503.
describe('health sees a lost database connection at once', () => {
  let T;
  const HOUR_MS = '3600000';
  before(async () => {
    process.env.REBOSS_TEST_HEALTH_PING_MS = HOUR_MS;
    try {
      T = await startStack({ workers: 1 });
    } finally {
      delete process.env.REBOSS_TEST_HEALTH_PING_MS;
    }
  }, { timeout: 120000 });
  after(async () => { if (T) await T.stop(); });

  // The API's backends: every client backend but this psql's own.
  const apiBackends = async () => String(await T.pg.psql(
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' " +
    "AND pid <> pg_backend_pid() AND application_name <> 'psql' ORDER BY pid"))
    .trim().split('\n').filter(Boolean);
  const healthOk = async () => {
    const r = await T.curl('/api/health');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { status: 'ok', database: 'ok' });
  };

  test('a terminated backend: the next health reconnects and answers 200', async () => {
    for (let i = 0; i < 3; i++) await healthOk();
    const before = await apiBackends();
    assert.equal(before.length, 1, `one worker, one connection: ${before}`);
    assert.equal(String(await T.pg.psql(`SELECT pg_terminate_backend(${Number(before[0])})`)).trim(), 't');
    // pg_terminate_backend only signals: wait until the backend is gone.
    const end = Date.now() + 120000; // a guard against a hang, not a measure
    while ((await apiBackends()).includes(before[0])) {
      assert.ok(Date.now() < end, 'the terminated backend did not end');
      await new Promise((res) => setTimeout(res, 50));
    }
    await healthOk();
    const after = await apiBackends();
    assert.equal(after.length, 1, `health opened a new connection: ${after}`);
    assert.notEqual(after[0], before[0]);
    await healthOk();
    assert.deepEqual(await apiBackends(), after, 'and keeps it');
  });

  test('PostgreSQL stopped: 503 on the very next request, 200 after the restart', async () => {
    await healthOk();
    await T.pg.stop();
    try {
      for (let i = 0; i < 3; i++) {
        const r = await T.curl(i % 2 ? '/health' : '/api/health');
        assert.equal(r.status, 503, r.body);
        assert.deepEqual(r.json, { status: 'degraded', database: 'unreachable' });
        assertNoLeak(r);
      }
    } finally {
      await T.pg.start();
    }
    await healthOk();
    assert.equal((await apiBackends()).length, 1);
    assert.match(await T.apiLog(), /health: the database is unreachable/);
  });
});

describe('logs', () => {
  test('every GraphQL document sent was valid and used no deprecated field', () => {
    const docs = S.fake.requests.filter((r) => r.query);
    assert.ok(docs.length >= 5, `documents sent: ${docs.length}`);
    assert.deepEqual(S.fake.validationErrors, []);
    assert.deepEqual(S.fake.deprecations, []);
    for (const r of S.fake.requests)
      assert.equal(r.version, '2026-10', `API version of ${r.path}`);
  });

  test('no token or secret in the API log or nginx logs', async () => {
    const logs = (await S.apiLog()) + (await S.nginx.errorLog()) + (await S.nginx.accessLog());
    assert.ok(logs.length > 0);
    for (const s of secretsOf([tokenA, tokenB]))
      assert.ok(!logs.includes(s), `a log holds a secret (${s.slice(0, 6)}...)`);
    assert.ok(!logs.includes('rbs1:'));
  });
});

describe('the API\'s own body cap (nginx allows more)', () => {
  let T;
  before(async () => { T = await startStack({ workers: 1, bodyMax: 4096, nginxBodyMax: 65536 }); },
    { timeout: 120000 });
  after(async () => { if (T) await T.stop(); });
  test('a body over api_body_max -> 413 body_too_large from the API', async () => {
    const t = T.mintToken({ userId: USER_A });
    const r = await T.curl('/api/shopify/test-connection', {
      method: 'POST', token: t,
      body: JSON.stringify({ shop_domain: 'x', access_token: 'y', pad: 'x'.repeat(8192) }),
    });
    assert.equal(r.status, 413, r.body);
    assert.equal(r.json?.code, 'body_too_large');
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'error', 'success']);
    assert.ok(!r.body.includes(T.jwtSecret) && !r.body.includes(T.tokenKey));
    const log = await T.apiLog();
    assert.match(log, /413/, 'the API itself answered');
  });
});
