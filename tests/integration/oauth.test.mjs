// oauth.test.mjs - linking Pinterest, Meta and Google accounts through the
// real stack (nginx TLS -> reboss-api -> PostgreSQL) against the fake
// providers of tests/fakes/oauth.mjs.  Owner: the "oauth" module.
import assert from 'node:assert/strict';
import { randomUUID, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startStack } from './harness.mjs';
import { addShopRow, start, consent, callback, link, dumpAll, count } from './lib/oauthflow.mjs';

const PROVIDERS = ['pinterest', 'meta', 'google'];
const TABLE = { pinterest: 'pinterest_auth', meta: 'meta_auth', google: 'google_auth' };

describe('OAuth linking', () => {
  let stack, fake, front;
  const A = randomUUID();
  const B = randomUUID();
  let tokA, tokB;

  before(async () => {
    stack = await startStack({ workers: 2 });
    fake = stack.oauth;
    assert.ok(fake, 'the harness starts the fake providers (stack.oauth)');
    front = stack.config.frontend_url.replace(/\/+$/, '');
    tokA = stack.mintToken({ userId: A });
    tokB = stack.mintToken({ userId: B });
  });
  after(async () => { await stack?.stop(); });

  const errLoc = (shop, code) => shop ? `${front}/shops/${shop}?error=${code}` : `${front}/?error=${code}`;

  for (const p of PROVIDERS) {
    test(`${p}: start -> consent -> callback stores sealed tokens and redirects with connected`, async () => {
      fake.reset();
      const shop = await addShopRow(stack, A, `flow-${p}.myshopify.com`);
      const { startRes, callbackUrl, res } = await link(stack, tokA, p, shop);
      const url = new URL(startRes.json.url);
      const state = url.searchParams.get('state');
      assert.match(state, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(url.searchParams.get('redirect_uri'), `${stack.url}/api/oauth/${p}/callback`);
      assert.equal(new URL(callbackUrl).searchParams.get('state'), state);
      assert.equal(res.status, 302, res.body);
      assert.equal(res.headers.location, `${front}/shops/${shop}?${p}=connected`);

      const row = (await stack.pg.psql(`SELECT access_token, ${p === 'meta' ? "''" : 'refresh_token'},
        expires_at IS NOT NULL, broken FROM ${TABLE[p]} WHERE shop_id = '${shop}'`)).trim().split('|');
      assert.match(row[0], /^rbs1:/, 'access token sealed');
      if (p !== 'meta') assert.match(row[1], /^rbs1:/, 'refresh token sealed');
      assert.equal(row[2], 't');
      assert.equal(row[3], 'f');
      // The state is only stored hashed.
      assert.equal(await count(stack, `SELECT count(*) FROM oauth_states WHERE state_hash = '${state}'`), 0);
      assert.equal(await count(stack, `SELECT count(*) FROM oauth_states WHERE shop_id = '${shop}' AND used_at IS NOT NULL`), 1);

      const st = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokA });
      assert.equal(st.status, 200, st.body);
      assert.equal(st.json[p].connected, true);
      assert.equal(st.json[p].broken, false);
      assert.ok(st.json[p].scopes.length >= 1);
      assert.match(st.json[p].expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      for (const o of PROVIDERS.filter((x) => x !== p)) assert.equal(st.json[o].connected, false);
      for (const t of fake.issued) assert.ok(!st.body.includes(t), 'no token in the status answer');
      assert.ok(!/rbs1:/.test(st.body));

      if (p === 'pinterest') {
        const tr = fake.requests.find((r) => r.path === '/v5/oauth/token');
        assert.equal(tr.auth, true, 'HTTP Basic');
        assert.equal(tr.form.grant_type, 'authorization_code');
        assert.equal(tr.form.continuous_refresh, 'true');
        // Only what pinterest_sync uses (Pinterest's spec: boards and pins).
        assert.deepEqual(st.json.pinterest.scopes.sort(),
          ['boards:read', 'boards:write', 'pins:read', 'pins:write']);
        assert.match(st.json.pinterest.refresh_expires_at, /Z$/);
        assert.equal(st.json.pinterest.expiring_soon, false);
      }
      if (p === 'meta') {
        const steps = fake.requests.filter((r) => r.provider === 'meta');
        assert.equal(steps.length, 2);
        assert.ok(steps[0].query.code);
        assert.equal(steps[1].query.grant_type, 'fb_exchange_token');
        // the stored token is the long-lived one: expiry ~60 days ahead
        assert.ok(new Date(st.json.meta.expires_at) - Date.now() > 50 * 86400e3);
      }
      if (p === 'google') {
        assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
        assert.equal(url.searchParams.get('access_type'), 'offline');
        assert.equal(url.searchParams.get('prompt'), 'consent');
        const tr = fake.requests.find((r) => r.path === '/token');
        assert.match(tr.form.code_verifier, /^[A-Za-z0-9_-]{43,128}$/);
        assert.deepEqual(st.json.google.scopes, ['https://www.googleapis.com/auth/adwords']);
      }

      // Replaying the same callback: state_reused, nothing changes.
      const again = await callback(stack, callbackUrl);
      assert.equal(again.status, 302);
      assert.equal(again.headers.location, errLoc(shop, 'state_reused'));
    });
  }

  test('a forged or malformed state ends at the frontend root with invalid_state', async () => {
    for (const p of PROVIDERS) {
      const forged = randomBytes(32).toString('base64url');
      let r = await stack.curl(`/api/oauth/${p}/callback?code=abc&state=${forged}`);
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, errLoc(null, 'invalid_state'));
      r = await stack.curl(`/api/oauth/${p}/callback?code=abc&state=%27%3B--`);
      assert.equal(r.headers.location, errLoc(null, 'invalid_state'));
      r = await stack.curl(`/api/oauth/${p}/callback?code=abc`);
      assert.equal(r.headers.location, errLoc(null, 'invalid_state'));
    }
  });

  test("a state started for one provider is refused at another's callback", async () => {
    const shop = await addShopRow(stack, A, 'cross.myshopify.com');
    const s = await start(stack, tokA, 'pinterest', shop);
    const cb = new URL(await consent(s.json.url));
    const r = await stack.curl(`/api/oauth/google/callback${cb.search}`);
    assert.equal(r.headers.location, errLoc(null, 'invalid_state'));
    assert.equal(await count(stack, `SELECT count(*) FROM google_auth WHERE shop_id = '${shop}'`), 0);
  });

  test('an expired state ends with expired_state and stores nothing', async () => {
    fake.reset();
    const shop = await addShopRow(stack, A, 'expired.myshopify.com');
    const s = await start(stack, tokA, 'google', shop);
    const cb = await consent(s.json.url);
    await stack.pg.psql(`UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE shop_id = '${shop}'`);
    const r = await callback(stack, cb);
    assert.equal(r.headers.location, errLoc(shop, 'expired_state'));
    assert.equal(await count(stack, `SELECT count(*) FROM google_auth WHERE shop_id = '${shop}'`), 0);
    assert.equal(fake.requests.filter((x) => x.path === '/token').length, 0, 'no code exchange');
  });

  test("user B cannot start for A's shop, and A's state no longer counts once the shop is not A's", async () => {
    const shop = await addShopRow(stack, A, 'owned-by-a.myshopify.com');
    const r = await start(stack, tokB, 'meta', shop);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'shop_not_found');
    assert.equal(await count(stack, `SELECT count(*) FROM oauth_states WHERE shop_id = '${shop}'`), 0);

    const s = await start(stack, tokA, 'meta', shop);
    const cb = await consent(s.json.url);
    await stack.pg.psql(`UPDATE shops SET user_id = '${B}' WHERE id = '${shop}'`);
    const c = await callback(stack, cb);
    assert.equal(c.headers.location, errLoc(null, 'invalid_state'));
    assert.equal(await count(stack, `SELECT count(*) FROM meta_auth WHERE shop_id = '${shop}'`), 0);
  });

  test('the user saying no at the provider ends with access_denied', async () => {
    for (const p of PROVIDERS) {
      const shop = await addShopRow(stack, A, `deny-${p}.myshopify.com`);
      fake.setMode(p, { deny: true });
      const { res } = await link(stack, tokA, p, shop);
      fake.setMode(p, null);
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, errLoc(shop, 'access_denied'));
      assert.equal(await count(stack, `SELECT count(*) FROM ${TABLE[p]} WHERE shop_id = '${shop}'`), 0);
    }
  });

  const failures = [
    ['pinterest', { token: 400 }, 'token_exchange_failed'],
    ['pinterest', { token: 500 }, 'provider_unreachable'],
    ['meta', { token: 400 }, 'token_exchange_failed'],
    ['meta', { exchange: 400 }, 'token_exchange_failed'],
    ['meta', { exchange: 500 }, 'provider_unreachable'],
    ['google', { token: 400 }, 'token_exchange_failed'],
    ['google', { token: 500 }, 'provider_unreachable'],
    ['google', { token: 'garbage' }, 'token_exchange_failed'],
  ];
  for (const [p, mode, code] of failures) {
    test(`${p} token endpoint ${JSON.stringify(mode)} -> ${code}, nothing stored`, async () => {
      const shop = await addShopRow(stack, A, `fail-${p}-${randomBytes(3).toString('hex')}.myshopify.com`);
      fake.setMode(p, mode);
      try {
        const { res } = await link(stack, tokA, p, shop);
        assert.equal(res.status, 302);
        assert.equal(res.headers.location, errLoc(shop, code));
      } finally { fake.setMode(p, null); }
      assert.equal(await count(stack, `SELECT count(*) FROM ${TABLE[p]} WHERE shop_id = '${shop}'`), 0);
    });
  }

  test('a token endpoint that never answers ends with provider_unreachable', { timeout: 60000 }, async () => {
    const shop = await addShopRow(stack, A, 'hang.myshopify.com');
    fake.setMode('pinterest', { token: 'hang' });
    try {
      const t0 = Date.now();
      const { res } = await link(stack, tokA, 'pinterest', shop);
      assert.equal(res.headers.location, errLoc(shop, 'provider_unreachable'));
      assert.ok(Date.now() - t0 < 40000);
    } finally { fake.setMode('pinterest', null); }
    assert.equal(await count(stack, `SELECT count(*) FROM pinterest_auth WHERE shop_id = '${shop}'`), 0);
  });

  test('start needs auth, a valid shop_id and a known provider', async () => {
    const shop = await addShopRow(stack, A, 'start-checks.myshopify.com');
    let r = await stack.curl('/api/oauth/pinterest/start', { body: { shop_id: shop } });
    assert.equal(r.status, 401);
    r = await stack.curl('/api/oauth/pinterest/start', { token: tokA, body: { shop_id: 'nope' } });
    assert.equal(r.status, 400);
    r = await stack.curl('/api/oauth/twitter/start', { token: tokA, body: { shop_id: shop } });
    assert.equal(r.status, 404);
    r = await stack.curl(`/api/oauth/pinterest/start`, { token: tokA, body: { shop_id: randomUUID() } });
    assert.equal(r.status, 404);
  });

  test('DELETE revokes at Google and Meta, deletes locally for all, and is refused for other users', async () => {
    fake.reset();
    const shop = await addShopRow(stack, A, 'disconnect.myshopify.com');
    for (const p of PROVIDERS) {
      const { res } = await link(stack, tokA, p, shop);
      assert.equal(res.headers.location, `${front}/shops/${shop}?${p}=connected`);
    }
    const issuedGoogle = fake.issued.filter((t) => t.startsWith('1//'));
    const metaLong = fake.issued.filter((t) => t.startsWith('EAAL')).at(-1);
    let r = await stack.curl(`/api/oauth/google?shop_id=${shop}`, { method: 'DELETE', token: tokB });
    assert.equal(r.status, 404);
    assert.equal(await count(stack, `SELECT count(*) FROM google_auth WHERE shop_id = '${shop}'`), 1);

    r = await stack.curl(`/api/oauth/google?shop_id=${shop}`, { method: 'DELETE', token: tokA });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.deleted, true);
    assert.equal(r.json.revoked, true);
    assert.ok(fake.revoked.includes(issuedGoogle.at(-1)), 'the refresh token was revoked at Google');
    assert.equal(await count(stack, `SELECT count(*) FROM google_auth WHERE shop_id = '${shop}'`), 0);

    // Meta: DELETE /{user-id}/permissions with the user's token removes
    // the grant (the old route only deleted the row: revoked false).
    r = await stack.curl(`/api/oauth/meta?shop_id=${shop}`, { method: 'DELETE', token: tokA });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.deleted, true);
    assert.equal(r.json.revoked, true, 'the grant was revoked at Meta');
    assert.deepEqual(fake.metaRevoked, [metaLong], 'with the stored long-lived token');
    const del = fake.requests.filter((x) => x.provider === 'meta' && x.method === 'DELETE');
    assert.equal(del.length, 1);
    assert.equal(del[0].path, '/me/permissions');
    assert.equal(del[0].bearer, true, 'the token in the Authorization header');
    assert.deepEqual(del[0].query, {}, 'never in the URL');
    assert.equal(fake.isLive(metaLong), false, 'the token no longer works');
    assert.equal(await count(stack, `SELECT count(*) FROM meta_auth WHERE shop_id = '${shop}'`), 0);
    r = await stack.curl(`/api/oauth/pinterest?shop_id=${shop}`, { method: 'DELETE', token: tokA });
    assert.equal(r.status, 200);
    assert.equal(r.json.deleted, true);
    assert.equal(r.json.revoked, false, 'Pinterest v5 has no revocation for apps');
    assert.equal(await count(stack, `SELECT count(*) FROM pinterest_auth WHERE shop_id = '${shop}'`), 0);
    r = await stack.curl(`/api/oauth/meta?shop_id=${shop}`, { method: 'DELETE', token: tokA });
    assert.equal(r.status, 200);
    assert.equal(r.json.deleted, false, 'deleting twice is fine');
    const st = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokA });
    for (const p of PROVIDERS) assert.equal(st.json[p].connected, false);
    r = await stack.curl('/api/oauth/meta', { method: 'DELETE', token: tokA });
    assert.equal(r.status, 400);
  });

  // An expired Meta token (Meta's long-lived token is not renewed by the
  // server) shows as needing reconnection; disconnecting it still deletes
  // the link (Meta refuses the revocation with an expired token).
  test('an expired Meta token shows as needing reconnection; disconnect still deletes it', async () => {
    fake.reset();
    const shop = await addShopRow(stack, A, 'meta-expired.myshopify.com');
    await link(stack, tokA, 'meta', shop);
    const metaLong = fake.issued.filter((t) => t.startsWith('EAAL')).at(-1);
    let st = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokA });
    assert.equal(st.json.meta.needs_reconnect, false);
    assert.equal(st.json.meta.connected, true);
    // Sixty days later: the token ran out, here and at Meta.
    await stack.pg.psql(`UPDATE meta_auth SET expires_at = now() - interval '1 hour' WHERE shop_id = '${shop}'`);
    fake.expireAccess(metaLong);
    st = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokA });
    assert.equal(st.json.meta.needs_reconnect, true, st.body);
    assert.equal(st.json.meta.connected, false);
    assert.equal(st.json.meta.broken, false);
    const r = await stack.curl(`/api/oauth/meta?shop_id=${shop}`, { method: 'DELETE', token: tokA });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.deleted, true);
    assert.equal(r.json.revoked, false, 'Meta takes no expired token');
    assert.deepEqual(fake.metaRevoked, []);
    assert.equal(await count(stack, `SELECT count(*) FROM meta_auth WHERE shop_id = '${shop}'`), 0);
  });

  test('the integrations route: 404 for another user, a broken link is reported', async () => {
    const shop = await addShopRow(stack, A, 'status.myshopify.com');
    await link(stack, tokA, 'pinterest', shop);
    let r = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokB });
    assert.equal(r.status, 404);
    await stack.pg.psql(`UPDATE pinterest_auth SET broken = true, broken_reason = 'refused',
      refresh_expires_at = now() + interval '2 days' WHERE shop_id = '${shop}'`);
    r = await stack.curl(`/api/shops/${shop}/integrations`, { token: tokA });
    assert.equal(r.json.pinterest.broken, true);
    assert.equal(r.json.pinterest.connected, false);
    assert.equal(r.json.pinterest.needs_reconnect, true);
    assert.equal(r.json.pinterest.expiring_soon, true);
  });

  test('row-level security: a dashboard user sees only own links and no token column', async () => {
    const shopA = await addShopRow(stack, A, 'rls-a.myshopify.com');
    const shopB = await addShopRow(stack, B, 'rls-b.myshopify.com');
    await link(stack, tokA, 'pinterest', shopA);
    await link(stack, tokB, 'pinterest', shopB);
    await link(stack, tokA, 'google', shopA);
    const as = (sub) => ({ role: 'authenticated', claims: { sub, role: 'authenticated' } });
    const seen = async (sub, t) => (await stack.pg.psql(`SELECT shop_id FROM ${t}`, as(sub))).split('\n').filter(Boolean);
    assert.ok((await seen(A, 'pinterest_auth')).includes(shopA));
    assert.ok(!(await seen(A, 'pinterest_auth')).includes(shopB));
    assert.deepEqual(await seen(B, 'pinterest_auth'), [shopB]);
    assert.deepEqual(await seen(B, 'google_auth'), []);
    assert.ok((await seen(A, 'google_auth')).includes(shopA));
    for (const t of Object.values(TABLE)) {
      await assert.rejects(stack.pg.psql(`SELECT access_token FROM ${t}`, as(A)), /permission denied/);
      await assert.rejects(stack.pg.psql(`SELECT * FROM ${t}`, as(A)), /permission denied/);
    }
    await assert.rejects(stack.pg.psql('SELECT refresh_token FROM pinterest_auth', as(A)), /permission denied/);
    await assert.rejects(stack.pg.psql('SELECT shop_id FROM oauth_states', as(A)), /permission denied/);
    await assert.rejects(stack.pg.psql('SELECT shop_id FROM pinterest_auth', { role: 'anon' }), /permission denied/);
    // B cannot delete A's link.
    await stack.pg.psql(`DELETE FROM pinterest_auth WHERE shop_id = '${shopA}'`, as(B));
    assert.equal(await count(stack, `SELECT count(*) FROM pinterest_auth WHERE shop_id = '${shopA}'`), 1);
  });

  test('no plain token, code, verifier or secret anywhere in the database or the API log', async () => {
    assert.ok(fake.issued.length >= 10, `the fakes issued tokens (${fake.issued.length})`);
    const { tables, all } = await dumpAll(stack);
    for (const t of ['pinterest_auth', 'meta_auth', 'google_auth', 'oauth_states', 'shops']) assert.ok(tables.includes(t));
    assert.ok(all.includes('rbs1:'), 'sealed values are there');
    for (const t of fake.issued) assert.ok(!all.includes(t), `token ${t.slice(0, 6)}... stored in plain text`);
    for (const c of fake.codes.keys()) assert.ok(!all.includes(c), 'an authorization code is stored');
    for (const s of fake.secrets) assert.ok(!all.includes(s));
    const log = await stack.apiLog();
    for (const t of fake.issued) assert.ok(!log.includes(t), 'a token in the API log');
    for (const c of fake.codes.keys()) assert.ok(!log.includes(c), 'a code in the API log');
    for (const s of fake.secrets) assert.ok(!log.includes(s), 'a secret in the API log');
  });
});
