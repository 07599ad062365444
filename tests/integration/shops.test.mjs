// shops.test.mjs - POST /api/shops through the real stack against the fake
// Shopify.  Owner: the "oauth" module.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startStack } from './harness.mjs';
import { dumpAll } from './lib/oauthflow.mjs';

describe('POST /api/shops', () => {
  let stack;
  const A = randomUUID();
  const B = randomUUID();
  let tokA, tokB;
  const DOMAIN = 'shops-acme.myshopify.com';
  const TOKEN1 = 'shpat_' + 'a1'.repeat(16);
  const TOKEN2 = 'shpat_' + 'b2'.repeat(16);

  before(async () => {
    stack = await startStack({ workers: 2 });
    stack.fake.addShop({ domain: DOMAIN, token: TOKEN1, name: 'Acme Posters' });
    tokA = stack.mintToken({ userId: A, email: 'a@example.test' });
    tokB = stack.mintToken({ userId: B });
  });
  after(async () => { await stack?.stop(); });

  const stored = async () => (await stack.pg.psql(
    `SELECT id, user_id, access_token, shop_name FROM shops WHERE shop_domain = '${DOMAIN}'`)).trim();

  test('tests the connection, stores the shop sealed, answers 201 without the token', async () => {
    const r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: 'https://Shops-Acme.myshopify.com/', access_token: TOKEN1 } });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.success, true);
    assert.equal(r.json.created, true);
    assert.match(r.json.shop.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.json.shop.shop_domain, DOMAIN);
    assert.equal(r.json.shop.shop_name, 'Acme Posters');
    assert.equal(r.json.shop.connection_status, 'connected');
    assert.ok(!('access_token' in r.json.shop));
    assert.ok(!r.body.includes(TOKEN1));
    assert.ok(!r.body.includes('rbs1:'));
    const [id, user, tok, name] = (await stored()).split('|');
    assert.equal(id, r.json.shop.id);
    assert.equal(user, A);
    assert.match(tok, /^rbs1:/);
    assert.equal(name, 'Acme Posters');
    assert.ok(stack.fake.requests.some((q) => q.shop === DOMAIN), 'Shopify was asked');
  });

  test('the granted scopes are asked of Shopify; without read_all_orders the answer says 60 days', async () => {
    const r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: DOMAIN, access_token: TOKEN1 } });
    assert.equal(r.status, 201, r.body);
    const q = stack.fake.requests.filter((e) => e.shop === DOMAIN && /currentAppInstallation/.test(e.query ?? ''));
    assert.ok(q.length > 0, 'currentAppInstallation { accessScopes } was asked');
    assert.equal(r.json.shop.sales_history_limited, true);
    assert.match(r.json.notice, /read_all_orders.*last 60 days/);
    assert.match(r.json.shop.granted_scopes, /(^|,)write_products(,|$)/);
  });

  test('a token with too few scopes is refused naming every missing one; nothing stored', async () => {
    const d = 'shops-few.myshopify.com';
    const tok = 'shpat_' + 'c3'.repeat(16);
    stack.fake.addShop({ domain: d, token: tok, scopes: ['read_products', 'read_orders'] });
    const r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: d, access_token: tok } });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json.code, 'missing_scopes');
    assert.match(r.json.error, /missing: write_products, read_publications, write_publications\./);
    assert.equal((await stack.pg.psql(`SELECT count(*) FROM shops WHERE shop_domain = '${d}'`)).trim(), '0');
    // Granted in full, with read_all_orders: connected, history not limited.
    stack.fake.getShop(d).scopes = ['write_products', 'read_orders', 'read_all_orders',
      'write_publications'];
    const ok = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: d, access_token: tok } });
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.json.shop.sales_history_limited, false);
    assert.ok(!('notice' in ok.json));
  });

  test('adding the same shop again updates it (same id, new token)', async () => {
    const before1 = (await stored()).split('|');
    stack.fake.addShop({ domain: DOMAIN, token: TOKEN2, name: 'Acme Renamed' });
    const r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: 'shops-acme', access_token: TOKEN2 } });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.created, false);
    assert.equal(r.json.shop.id, before1[0]);
    const after1 = (await stored()).split('|');
    assert.equal(after1[0], before1[0]);
    assert.notEqual(after1[2], before1[2], 'the sealed token changed');
    assert.equal(await stack.pg.psql(`SELECT count(*) FROM shops WHERE shop_domain = '${DOMAIN}'`).then((s) => s.trim()), '1');
  });

  test("another user's shop is refused without saying whose, before Shopify is asked", async () => {
    const n = stack.fake.requests.length;
    const r = await stack.curl('/api/shops', { token: tokB, body: { shop_domain: DOMAIN, access_token: TOKEN2 } });
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json.code, 'shop_taken');
    assert.equal(r.json.success, false);
    assert.ok(!r.body.includes(A) && !r.body.includes('a@example.test'));
    assert.equal(stack.fake.requests.length, n, 'no Shopify call');
    assert.equal((await stored()).split('|')[1], A, 'still A\'s');
  });

  test('a token Shopify refuses stores nothing', async () => {
    const r = await stack.curl('/api/shops', { token: tokB, body: { shop_domain: 'nobody-here.myshopify.com', access_token: TOKEN1 } });
    assert.ok(r.status >= 400 && r.status < 600, r.body);
    assert.equal(r.json.success, false);
    assert.equal((await stack.pg.psql("SELECT count(*) FROM shops WHERE shop_domain = 'nobody-here.myshopify.com'")).trim(), '0');
  });

  test('bad input is refused before any connection', async () => {
    const n = stack.fake.requests.length;
    let r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: 'evil.com', access_token: TOKEN1 } });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'invalid_shop_domain');
    r = await stack.curl('/api/shops', { token: tokA, body: { shop_domain: DOMAIN } });
    assert.equal(r.status, 400);
    r = await stack.curl('/api/shops', { body: { shop_domain: DOMAIN, access_token: TOKEN1 } });
    assert.equal(r.status, 401);
    assert.equal(stack.fake.requests.length, n);
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

  test('no Shopify token in plain text in the database or the log', async () => {
    const { all } = await dumpAll(stack);
    assert.ok(!all.includes(TOKEN1) && !all.includes(TOKEN2));
    const log = await stack.apiLog();
    assert.ok(!log.includes(TOKEN1) && !log.includes(TOKEN2));
  });

  test('every document the API sent is valid against the 2026-10 schema, none deprecated', () => {
    assert.deepEqual(stack.fake.validationErrors, []);
    assert.deepEqual(stack.fake.deprecations, []);
  });
});
