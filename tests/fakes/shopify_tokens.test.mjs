// shopify_tokens.test.mjs - the fake's tokens and grants are as strict as
// Shopify's (shopify_tokens.mjs): refresh tokens rotate, the previous one
// lives until its replacement is used, then invalid_grant; client
// credentials only for the app's own organization; tokens expire by the
// fake's clock and get 401; revoked ones too.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createFakeShopify } from './shopify.mjs';

const D = 'tok-one.myshopify.com';
const OTHER = 'tok-two.myshopify.com';

describe('fake shopify tokens', () => {
  let fake;
  const post = (domain, body) => fetch(`${fake.url}/${domain}/admin/oauth/access_token`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const gql = (domain, token) => fetch(`${fake.url}/${domain}/admin/api/2026-10/graphql.json`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': token },
    body: JSON.stringify({ query: '{ shop { name } }' }),
  }).then((r) => r.status);
  const install = async () => {
    const code = fake.registerAuthorizationCode(D, 'read_products');
    return post(D, { client_id: fake.app.clientId, client_secret: fake.app.clientSecret, code, expiring: '1' });
  };
  const refresh = (rt, domain = D) => post(domain, { client_id: fake.app.clientId,
    client_secret: fake.app.clientSecret, grant_type: 'refresh_token', refresh_token: rt });

  before(async () => {
    fake = await createFakeShopify();
    fake.addShop({ domain: D, token: 'shpat_legacy_one' });
    fake.addShop({ domain: OTHER, token: 'shpat_legacy_two' });
  });
  after(async () => { await fake?.close(); });

  test('an expiring token, its rotating refresh token, the previous one until the new one is used', async () => {
    const a = await install();
    assert.equal(a.status, 200);
    assert.equal(a.json.expires_in, 3600);
    assert.match(a.json.refresh_token, /^shprt_/);
    assert.equal(await gql(D, a.json.access_token), 200);
    const b = await refresh(a.json.refresh_token);
    assert.equal(b.status, 200);
    assert.notEqual(b.json.refresh_token, a.json.refresh_token, 'rotated');
    // The answer "was lost": the previous refresh token still works once
    // more, and the replacement made by the lost answer goes.
    const c = await refresh(a.json.refresh_token);
    assert.equal(c.status, 200, 'previous refresh token valid until its replacement is used');
    assert.equal((await refresh(b.json.refresh_token)).status, 400, 'the lost replacement is gone');
    // Using the new access token begins using the replacement: the
    // previous refresh token is dead from then on.
    assert.equal(await gql(D, c.json.access_token), 200);
    const dead = await refresh(a.json.refresh_token);
    assert.deepEqual([dead.status, dead.json.error], [400, 'invalid_grant']);
    assert.equal((await refresh(c.json.refresh_token)).status, 200);
    assert.equal((await refresh('shprt_unknown')).json.error, 'invalid_grant');
    assert.equal(fake.grantCount({ shop: D, grant: 'refresh_token', status: 200 }), 3);
  });

  test('another shop\'s refresh token, a wrong app secret', async () => {
    const a = await install();
    assert.equal((await refresh(a.json.refresh_token, OTHER)).json.error, 'invalid_grant');
    const bad = await post(D, { client_id: fake.app.clientId, client_secret: 'nope', grant_type: 'refresh_token',
      refresh_token: a.json.refresh_token });
    assert.deepEqual([bad.status, bad.json.error], [401, 'invalid_client']);
  });

  test('tokens expire by the fake\'s clock, revoked ones are refused', async () => {
    const a = await install();
    assert.equal(await gql(D, a.json.access_token), 200);
    fake.advanceClock(3600_000, OTHER);
    assert.equal(await gql(D, a.json.access_token), 200, 'another shop\'s clock');
    fake.advanceClock(3600_000, D);
    assert.equal(await gql(D, a.json.access_token), 401, 'expired');
    const b = await refresh(a.json.refresh_token);
    assert.equal(await gql(D, b.json.access_token), 200);
    fake.revokeTokens(D);
    assert.equal(await gql(D, b.json.access_token), 401, 'revoked');
    assert.equal((await refresh(b.json.refresh_token)).json.error, 'invalid_grant');
    const log = fake.tokenLog(D);
    assert.ok(log.at(-1).refused >= 1 && log.at(-1).uses >= 1);
  });

  test('client credentials: the app\'s own organization only, 24 hours, no refresh token', async () => {
    const app = fake.addOrgApp({ shops: [OTHER], scopes: 'read_products' });
    const ok = await post(OTHER, { client_id: app.clientId, client_secret: app.clientSecret,
      grant_type: 'client_credentials' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.expires_in, 86399);
    assert.equal(ok.json.refresh_token, undefined);
    assert.equal(await gql(OTHER, ok.json.access_token), 200);
    const outside = await post(D, { client_id: app.clientId, client_secret: app.clientSecret,
      grant_type: 'client_credentials' });
    assert.deepEqual([outside.status, outside.json.error], [400, 'unauthorized_client']);
    const wrong = await post(OTHER, { client_id: app.clientId, client_secret: 'x', grant_type: 'client_credentials' });
    assert.deepEqual([wrong.status, wrong.json.error], [401, 'invalid_client']);
    const grant = await post(OTHER, { client_id: app.clientId, client_secret: app.clientSecret, grant_type: 'password' });
    assert.equal(grant.json.error, 'unsupported_grant_type');
  });
});
