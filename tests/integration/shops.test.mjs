// shops.test.mjs - POST /api/shops (a legacy token, or the owner's own Dev
// Dashboard app through the client credentials grant) and GET /api/shops
// through the real stack against the fake Shopify.  Owner: the "shops"
// module.
//
// What it holds the API to: every connect asks Shopify for the shop and
// the scopes it granted before anything is stored; too few scopes are
// refused naming them; another account's shop is refused (409) only after
// the caller's credentials were proven, never saying whose; GET /api/shops
// lists the caller's shops only and never a token, refresh token or client
// secret.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startStack } from './harness.mjs';
import { dumpAll } from './lib/oauthflow.mjs';

describe('POST /api/shops and GET /api/shops', () => {
  let stack, fake;
  const A = randomUUID();
  const B = randomUUID();
  let tokA, tokB;
  const DOMAIN = 'shops-acme.myshopify.com';
  const TOKEN1 = 'shpat_' + 'a1'.repeat(16);
  const TOKEN2 = 'shpat_' + 'b2'.repeat(16);
  const CC = 'shops-own.myshopify.com';	// the owner's own app's store
  let app;				// its Dev Dashboard app

  before(async () => {
    stack = await startStack({ workers: 2 });
    fake = stack.fake;
    fake.addShop({ domain: DOMAIN, token: TOKEN1, name: 'Acme Posters' });
    fake.addShop({ domain: CC, token: 'shpat_' + 'c0'.repeat(16), name: 'Own App Mugs' });
    app = fake.addOrgApp({ shops: [CC] });
    tokA = stack.mintToken({ userId: A, email: 'a@example.test' });
    tokB = stack.mintToken({ userId: B });
  });
  after(async () => { await stack?.stop(); });

  const stored = async (d = DOMAIN) => (await stack.pg.psql(
    `SELECT id, user_id, access_token, shop_name FROM shops WHERE shop_domain = '${d}'`)).trim();
  const count = async (d) => (await stack.pg.psql(
    `SELECT count(*) FROM shops WHERE shop_domain = '${d}'`)).trim();
  const post = (token, body) => stack.curl('/api/shops', { token, body });
  const list = async (token) => {
    const r = await stack.curl('/api/shops', { token });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.success, true);
    return r;
  };
  const scopeAsks = (d) => fake.requests.filter((e) => e.shop === d &&
    /currentAppInstallation\s*\{\s*accessScopes/.test(e.query ?? '')).length;

  test('a legacy token: tried on Shopify, stored sealed, 201 without the token', async () => {
    const r = await post(tokA, { shop_domain: 'https://Shops-Acme.myshopify.com/', access_token: TOKEN1 });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.success, true);
    assert.equal(r.json.created, true);
    assert.match(r.json.shop.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.json.shop.shop_domain, DOMAIN);
    assert.equal(r.json.shop.shop_name, 'Acme Posters');
    assert.equal(r.json.shop.connection_status, 'connected');
    assert.equal(r.json.shop.auth_method, 'legacy_token');
    assert.equal(r.json.shop.user_id, A);
    assert.ok(!('access_token' in r.json.shop));
    assert.ok(!r.body.includes(TOKEN1));
    assert.ok(!r.body.includes('rbs1:'));
    const [id, user, tok, name] = (await stored()).split('|');
    assert.equal(id, r.json.shop.id);
    assert.equal(user, A);
    assert.match(tok, /^rbs1:/);
    assert.equal(name, 'Acme Posters');
    assert.ok(scopeAsks(DOMAIN) > 0, 'currentAppInstallation { accessScopes } was asked');
    // The fake's default scopes lack read_all_orders: the owner is told.
    assert.equal(r.json.shop.sales_history_limited, true);
    assert.match(r.json.notice, /read_all_orders.*last 60 days/);
    assert.ok(r.json.shop.granted_scopes.includes('write_products'));
  });

  test('a token with too few scopes is refused naming every missing one; nothing stored', async () => {
    const d = 'shops-few.myshopify.com';
    const tok = 'shpat_' + 'c3'.repeat(16);
    fake.addShop({ domain: d, token: tok, scopes: ['read_products', 'read_orders'] });
    const r = await post(tokA, { shop_domain: d, access_token: tok });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json.code, 'missing_scopes');
    assert.match(r.json.error, /missing: write_products, read_publications, write_publications\./);
    assert.equal(await count(d), '0');
    // Granted in full, with read_all_orders: connected, history not limited.
    fake.getShop(d).scopes = ['write_products', 'read_orders', 'read_all_orders', 'write_publications'];
    const ok = await post(tokA, { shop_domain: d, access_token: tok });
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.json.shop.sales_history_limited, false);
    assert.ok(!('notice' in ok.json));
  });

  test('adding the same shop again updates it (same id, new token)', async () => {
    const before1 = (await stored()).split('|');
    fake.addShop({ domain: DOMAIN, token: TOKEN2, name: 'Acme Renamed' });
    const r = await post(tokA, { shop_domain: 'shops-acme', access_token: TOKEN2 });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.created, false);
    assert.equal(r.json.shop.id, before1[0]);
    const after1 = (await stored()).split('|');
    assert.equal(after1[0], before1[0]);
    assert.notEqual(after1[2], before1[2], 'the sealed token changed');
    assert.equal(await count(DOMAIN), '1');
  });

  test("another user's shop: 409 only after that user's credentials were proven, never whose", async () => {
    // A made-up token: Shopify refuses it, so B learns nothing about the
    // shop (the old API answered 409 shop_taken before asking Shopify).
    const n = fake.requests.length;
    const bad = await post(tokB, { shop_domain: DOMAIN, access_token: 'shpat_' + 'f0'.repeat(16) });
    assert.equal(bad.status, 400, bad.body);
    assert.notEqual(bad.json.code, 'shop_taken');
    assert.ok(fake.requests.length > n, 'Shopify was asked');
    // A real token of the shop: proven, then refused without naming A.
    const r = await post(tokB, { shop_domain: DOMAIN, access_token: TOKEN2 });
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json.code, 'shop_taken');
    assert.equal(r.json.success, false);
    assert.ok(!r.body.includes(A) && !r.body.includes('a@example.test'));
    assert.equal((await stored()).split('|')[1], A, "still A's");
  });

  test('a token Shopify refuses stores nothing', async () => {
    const r = await post(tokB, { shop_domain: 'nobody-here.myshopify.com', access_token: TOKEN1 });
    assert.ok(r.status >= 400 && r.status < 600, r.body);
    assert.equal(r.json.success, false);
    assert.equal(await count('nobody-here.myshopify.com'), '0');
  });

  test('the body: exactly one of access_token or client_id with client_secret, each 400 naming the field', async () => {
    const n = fake.requests.length;
    const cases = [
      [{ shop_domain: 'evil.com', access_token: TOKEN1 }, 'invalid_shop_domain', /shop_domain/],
      [{ shop_domain: DOMAIN }, 'missing_field', /^Send access_token, or client_id with client_secret\.$/],
      [{ access_token: TOKEN1 }, 'missing_field', /^shop_domain is required\.$/],
      [{ shop_domain: DOMAIN, client_id: app.clientId }, 'missing_field',
        /^client_secret is required with client_id\.$/],
      [{ shop_domain: DOMAIN, client_secret: app.clientSecret }, 'missing_field',
        /^client_id is required with client_secret\.$/],
      [{ shop_domain: DOMAIN, access_token: TOKEN1, client_id: app.clientId, client_secret: app.clientSecret },
        'invalid_field', /only one of them: access_token and client_id were given/],
      [{ shop_domain: DOMAIN, client_id: 'not an id', client_secret: app.clientSecret }, 'invalid_field',
        /^client_id must be copied from the app's settings/],
      [{ shop_domain: DOMAIN, client_id: app.clientId, client_secret: 42 }, 'invalid_field', /^client_secret must be/],
      [{ shop_domain: DOMAIN, access_token: 'short' }, 'invalid_access_token', /^access_token must be/],
    ];
    for (const [body, code, msg] of cases) {
      const r = await post(tokA, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.equal(r.json.code, code, r.body);
      assert.match(r.json.error, msg);
      assert.ok(!r.body.includes(app.clientSecret) && !r.body.includes(TOKEN1), 'no credential echoed');
    }
    const noAuth = await stack.curl('/api/shops', { body: { shop_domain: DOMAIN, access_token: TOKEN1 } });
    assert.equal(noAuth.status, 401);
    assert.equal(fake.requests.length, n, 'no request reached Shopify');
  });

  test("the owner's own app (client credentials): token fetched and tried, secret sealed, 24 h expiry", async () => {
    const grants = fake.grantCount({ grant: 'client_credentials', shop: CC });
    const r = await post(tokA, { shop_domain: 'shops-own', client_id: app.clientId, client_secret: app.clientSecret });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.created, true);
    assert.equal(r.json.shop.auth_method, 'client_credentials');
    assert.equal(r.json.shop.connection_status, 'connected');
    assert.equal(r.json.shop.shop_name, 'Own App Mugs');
    const exp = Date.parse(r.json.shop.access_expires_at);
    assert.ok(exp > Date.now() + 23 * 3600e3 && exp < Date.now() + 25 * 3600e3, r.json.shop.access_expires_at);
    assert.equal(fake.grantCount({ grant: 'client_credentials', shop: CC }), grants + 1, 'one grant');
    assert.ok(scopeAsks(CC) > 0, 'the fetched token was tried');
    assert.ok(!r.body.includes(app.clientSecret) && !r.body.includes('rbs1:'));
    const row = (await stack.pg.psql(`SELECT user_id, shopify_client_id, shopify_client_secret LIKE 'rbs1:%',
      access_token LIKE 'rbs1:%' FROM shops WHERE shop_domain = '${CC}'`)).trim();
    assert.equal(row, `${A}|${app.clientId}|t|t`);
  });

  test('a client credential Shopify refuses: a sentence naming it, nothing stored', async () => {
    const d = 'shops-own-two.myshopify.com';
    fake.addShop({ domain: d, token: 'shpat_' + 'c4'.repeat(16) });
    let r = await post(tokA, { shop_domain: d, client_id: app.clientId, client_secret: 'shpss_' + '0'.repeat(32) });
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.code, 'invalid_client_credentials');
    assert.match(r.json.error, /client_id and client_secret/);
    // The right secret, but the store is not in the app's organization.
    r = await post(tokA, { shop_domain: d, client_id: app.clientId, client_secret: app.clientSecret });
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.code, 'client_credentials_not_allowed');
    assert.equal(await count(d), '0');
    // An app whose version lacks scopes: refused naming them.
    const few = fake.addOrgApp({ shops: [d], scopes: 'read_products,write_products,read_orders' });
    r = await post(tokA, { shop_domain: d, client_id: few.clientId, client_secret: few.clientSecret });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json.code, 'missing_scopes');
    assert.match(r.json.error, /missing: read_publications, write_publications\.  Select these access scopes/);
    assert.equal(await count(d), '0');
    assert.ok(!(await stack.apiLog()).includes(app.clientSecret), 'no secret logged');
  });

  test("another user's client credentials for a taken shop: proven first, then 409", async () => {
    const grants = fake.grantCount({ grant: 'client_credentials', shop: CC });
    const r = await post(tokB, { shop_domain: CC, client_id: app.clientId, client_secret: app.clientSecret });
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json.code, 'shop_taken');
    assert.ok(!r.body.includes(A));
    assert.equal(fake.grantCount({ grant: 'client_credentials', shop: CC }), grants + 1, 'the grant came first');
  });

  test("GET /api/shops: the caller's shops, how each is connected, never a credential", async () => {
    const a = await list(tokA);
    const mine = Object.fromEntries(a.json.shops.map((s) => [s.shop_domain, s]));
    assert.deepEqual(Object.keys(mine).sort(), [DOMAIN, 'shops-few.myshopify.com', CC].sort());
    assert.equal(a.json.truncated, false);
    const legacy = mine[DOMAIN];
    assert.equal(legacy.auth_method, 'legacy_token');
    assert.equal(legacy.connection_status, 'connected');
    assert.equal(legacy.connection_reason, null);
    assert.match(legacy.connection_changed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(legacy.shop_name, 'Acme Renamed');
    assert.equal(legacy.access_expires_at, null, 'a legacy token does not expire');
    assert.ok(Array.isArray(legacy.granted_scopes) && legacy.granted_scopes.includes('write_publications'));
    assert.equal(legacy.sales_history_limited, true);
    assert.equal(mine['shops-few.myshopify.com'].sales_history_limited, false);
    assert.equal(mine[CC].auth_method, 'client_credentials');
    for (const s of a.json.shops) {
      assert.equal(s.user_id, A);
      for (const k of ['access_token', 'refresh_token', 'shopify_client_secret', 'client_secret'])
        assert.ok(!(k in s), k);
    }
    for (const secret of [TOKEN1, TOKEN2, app.clientSecret, 'rbs1:', fake.getShop(CC).token])
      assert.ok(!a.body.includes(secret), 'no credential in the answer');

    // B sees none of A's shops; a user with none gets an empty list.
    const b = await list(tokB);
    assert.deepEqual(b.json.shops, []);
    const c = await list(stack.mintToken({ userId: randomUUID() }));
    assert.deepEqual(c.json.shops, []);
    assert.equal((await stack.curl('/api/shops')).status, 401);
  });

  test('GET /api/shops shows a shop that is not connected with its reason', async () => {
    // Only the API may change a status; the test stands in for it.
    await stack.pg.psql(`UPDATE shops SET connection_status = 'frozen', connection_reason =
      'Shopify answered 402: the shop is frozen.', connection_changed_at = now() WHERE shop_domain = '${DOMAIN}'`);
    const s = (await list(tokA)).json.shops.find((x) => x.shop_domain === DOMAIN);
    assert.equal(s.connection_status, 'frozen');
    assert.equal(s.connection_reason, 'Shopify answered 402: the shop is frozen.');
    // Connecting again restores it.
    const r = await post(tokA, { shop_domain: DOMAIN, access_token: TOKEN2 });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.shop.connection_status, 'connected');
    assert.equal(r.json.shop.connection_reason, null);
  });

  test('the integrations route answers 404 for unknown and foreign shops', async () => {
    const id = (await stored()).split('|')[0];
    let r = await stack.curl(`/api/shops/${id}/integrations`, { token: tokB });
    assert.equal(r.status, 404);
    r = await stack.curl(`/api/shops/${randomUUID()}/integrations`, { token: tokA });
    assert.equal(r.status, 404);
    r = await stack.curl(`/api/shops/${id}/integrations`, { token: tokA });
    assert.equal(r.status, 200);
    for (const p of ['pinterest', 'meta', 'google']) assert.equal(r.json[p].connected, false);
  });

  test('no Shopify token or client secret in plain text in the database or the log', async () => {
    const { all } = await dumpAll(stack);
    for (const s of [TOKEN1, TOKEN2, app.clientSecret, fake.getShop(CC).token])
      assert.ok(!all.includes(s));
    const log = await stack.apiLog();
    for (const s of [TOKEN1, TOKEN2, app.clientSecret, fake.getShop(CC).token])
      assert.ok(!log.includes(s));
  });

  test('every document the API sent is valid against the 2026-10 schema, none deprecated', () => {
    assert.deepEqual(fake.validationErrors, []);
    assert.deepEqual(fake.deprecations, []);
  });
});
