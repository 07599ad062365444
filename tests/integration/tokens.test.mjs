// tokens.test.mjs - a shop's Shopify token through its life (issue 14;
// lib/shop.c), on the real stack (nginx -> reboss-api -> PostgreSQL, the
// jobs) against the fake Shopify whose tokens really expire
// (tests/fakes/shopify_tokens.mjs).  Owner: the "connect" module.
//
// Everything is proven with the fake's counters (grants, token uses and
// refusals, requests) and PostgreSQL's lock waits, never with timing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStack, buildDir } from './harness.mjs';
import { consent, callback } from './lib/oauthflow.mjs';
import { webhookRequest } from '../fakes/shopify_install.mjs';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

describe('Shopify tokens: renewal, races, refusals', () => {
  let stack, fake, tokA;
  const A = randomUUID();

  before(async () => {
    stack = await startStack({ workers: 2 });
    fake = stack.fake;
    tokA = stack.mintToken({ userId: A });
  });
  after(async () => { await stack?.stop(); });

  const psql = async (sql) => (await stack.pg.psql(sql)).trim();
  const shopRow = async (domain) => (await psql(`SELECT id, connection_status, coalesce(connection_reason, ''),
    auth_method FROM shops WHERE shop_domain = ${q(domain)}`)).split('|');

  /** A shop of the fake with products and orders, installed through the
   * ReBoss app (authorization code grant, expiring token). */
  async function installed(name, { products = 3, orders = 0 } = {}) {
    const domain = `${name}.myshopify.com`;
    if (!fake.getShop(domain)) {
      fake.addShop({ domain, token: `shpat_${randomUUID().replace(/-/g, '')}` });
      const ps = [];
      for (let i = 0; i < products; i++) ps.push(fake.addProduct(domain, { title: `P${i} of ${name}` }));
      for (let i = 0; i < orders; i++) {
        const iso = new Date(Date.now() - (1 + (i % 20)) * 86400_000).toISOString();
        fake.addOrder(domain, { processedAt: iso, updatedAt: iso,
          lines: [{ product: ps[i % ps.length], quantity: 1 + (i % 3), price: '12.00' }] });
      }
    }
    const r = await stack.curl('/api/shopify/install', { token: tokA, body: { shop_domain: domain } });
    assert.equal(r.status, 200, r.body);
    const res = await callback(stack, await consent(r.json.url));
    assert.equal(res.status, 302, res.body);
    assert.match(res.headers.location, /shopify=connected/);
    return (await shopRow(domain))[0];
  }

  function job(prog, args, env = {}) {
    return new Promise((resolve) => execFile(path.join(buildDir(), 'jobs', prog),
      ['--config', stack.confFile, ...args],
      { env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...env }, timeout: 300000,
        maxBuffer: 16 * 1024 * 1024 },
      (e, so, se) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: so + se })));
  }
  const tracker = (args, env) => job('reboss-sales-tracker', args, env);
  const status = async (id, jobType = 'sales_tracker') => (await psql(`SELECT last_status,
    coalesce(last_error, '') FROM shop_job_status WHERE shop_id = ${q(id)} AND job_type = ${q(jobType)}`)).split('|');
  const requestsOf = (domain) => fake.requests.filter((e) => e.shop === domain && !e.tokenRequest);

  test('a sales_tracker run across several token lifetimes: every shop succeeds, one renewal per expiry', async () => {
    // Tokens live 3 s (said honestly in expires_in); the jobs renew 1 s
    // before the end; and every 5th request of a shop moves the fake's
    // clock of that shop an hour on, so the token in hand dies under the
    // job (401).
    fake.setTokenLifetimes({ expiring: 3 });
    const names = ['life-one', 'life-two', 'life-three'];
    const ids = [];
    for (const n of names) ids.push(await installed(n, { products: 30, orders: 80 }));
    await psql(`DELETE FROM shops WHERE id NOT IN (${ids.map(q).join(',')})`);
    const seen = new Map();
    for (const n of names) {
      const d = `${n}.myshopify.com`;
      seen.set(d, 0);
      fake.setMode(d, { delayMs: 400, onRequest: () => {
        seen.set(d, seen.get(d) + 1);
        if (seen.get(d) % 5 === 0) fake.advanceClock(3600_000, d);
      } });
    }
    const grants0 = fake.grants.length;
    const r = await tracker(['--parallel', '3'], { REBOSS_SHOP_RENEW_MARGIN_S: '1' });
    for (const n of names) fake.setMode(`${n}.myshopify.com`, null);
    fake.setTokenLifetimes({ expiring: 3600 });
    assert.equal(r.code, 0, r.out.slice(-3000));
    let refusedAll = 0;
    for (const [i, n] of names.entries()) {
      const d = `${n}.myshopify.com`;
      assert.deepEqual(await status(ids[i]), ['success', ''], `${d} succeeded`);
      assert.equal((await shopRow(d))[1], 'connected');
      const grants = fake.grants.slice(grants0).filter((g) => g.shop === d);
      assert.ok(grants.every((g) => g.grant === 'refresh_token' && g.status === 200),
        `${d}: only successful refresh grants: ${JSON.stringify(grants)}`);
      // The run outlived several tokens.
      assert.ok(grants.length >= 2, `${d}: ${grants.length} renewals in ${seen.get(d)} requests`);
      // One renewal per expiry: every token but the newest was tried
      // before the next was asked for (none wasted, none per worker), and
      // a token Shopify refused was refused once: renewed, then the
      // request went through with the new one.
      const log = fake.tokenLog(d).slice(-(grants.length + 1));
      for (const t of log.slice(0, -1))
        assert.ok(t.uses + t.refused >= 1, `${d}: a token renewed before it was tried: ${JSON.stringify(log)}`);
      for (const t of log) assert.ok(t.refused <= 1, `${d}: a refused token was used again: ${JSON.stringify(log)}`);
      const refused = requestsOf(d).filter((e) => e.status === 401).length;
      assert.equal(refused, log.reduce((a, t) => a + t.refused, 0));
      assert.ok(refused <= Math.floor(seen.get(d) / 5), `${d}: ${refused} 401s, its clock moved ${Math.floor(seen.get(d) / 5)} times`);
      refusedAll += refused;
    }
    assert.ok(refusedAll >= 1, 'the clock knob made a token die under a job at least once');
    assert.doesNotMatch(r.out, /shpat_|shprt_/, 'no token in the job\'s output');
    const stored = await psql(`SELECT access_token, refresh_token FROM shops WHERE id = ${q(ids[0])}`);
    assert.match(stored, /^rbs1:[^|]+\|rbs1:/, 'renewed tokens are stored sealed');
  });

  test('the owner\'s own app (client credentials): the token is fetched again before it runs out; a rotated secret ends the connection', async () => {
    const d = 'cc-life.myshopify.com';
    fake.addShop({ domain: d, token: `shpat_${randomUUID().replace(/-/g, '')}` });
    const ps = [];
    for (let i = 0; i < 60; i++) ps.push(fake.addProduct(d, { title: `C${i}` }));
    for (let i = 0; i < 100; i++) fake.addOrder(d, { processedAt: new Date(Date.now() - (1 + i % 9) * 86400_000).toISOString(),
      lines: [{ product: ps[i % ps.length], quantity: 1, price: '5.00' }] });
    const app = fake.addOrgApp({ shops: [d] });
    fake.setTokenLifetimes({ clientCredentials: 3 });
    const r = await stack.curl('/api/shops', { token: tokA,
      body: { shop_domain: d, client_id: app.clientId, client_secret: app.clientSecret } });
    assert.equal(r.status, 201, r.body);
    const id = r.json.shop.id;
    assert.equal((await shopRow(d))[3], 'client_credentials');
    await psql(`DELETE FROM shops WHERE id <> ${q(id)}`);
    fake.setMode(d, { delayMs: 400 });
    const g0 = fake.grantCount({ shop: d, grant: 'client_credentials', status: 200 });
    const run = await tracker([], { REBOSS_SHOP_RENEW_MARGIN_S: '1' });
    fake.setMode(d, null);
    fake.setTokenLifetimes({ clientCredentials: 86399 });
    assert.equal(run.code, 0, run.out.slice(-2000));
    assert.deepEqual(await status(id), ['success', '']);
    const renewals = fake.grantCount({ shop: d, grant: 'client_credentials', status: 200 }) - g0;
    assert.ok(renewals >= 2, `the run outlived several 3-second tokens: ${renewals} fetched`);
    const log = fake.tokenLog(d).slice(-(renewals + 1));
    for (const t of log.slice(0, -1)) assert.ok(t.uses >= 1, `no token fetched before the last was used: ${JSON.stringify(log)}`);
    assert.equal(requestsOf(d).filter((e) => e.status === 401).length, 0, 'renewed before Shopify refused');
    assert.match(await psql(`SELECT shopify_client_secret FROM shops WHERE id = ${q(id)}`), /^rbs1:/, 'secret sealed');

    // The owner rotates the app's secret: the next fetch is refused.
    app.clientSecret = `shpss_${randomUUID().replace(/-/g, '')}`;
    await psql(`UPDATE shops SET access_expires_at = now() - interval '1 minute' WHERE id = ${q(id)}`);
    const run2 = await tracker([]);
    assert.equal(run2.code, 0, run2.out.slice(-2000));
    const [, st, reason] = await shopRow(d);
    assert.equal(st, 'reauthorize_required');
    assert.match(reason, /client credentials \(invalid_client\)/);
    assert.equal((await status(id))[0], 'skipped');
  });

  test('two job processes and the API race on one shop\'s renewal: one renewal, everyone gets the new token', async () => {
    const d = 'race-one.myshopify.com';
    const id = await installed('race-one', { products: 4, orders: 3 });
    // The stored token is due (its expiry passed, as far as ReBoss knows).
    await psql(`UPDATE shops SET access_expires_at = now() - interval '1 minute' WHERE id = ${q(id)}`);
    const grants0 = fake.grantCount({ shop: d, grant: 'refresh_token' });
    const req0 = fake.requests.length;
    let open;
    fake.setGrantGate(new Promise((r) => { open = r; }));
    const a = tracker(['--shop', d]);
    const b = tracker(['--shop', d, '--dry-run']);
    const api = stack.curl('/api/shopify/get-collections', { token: tokA, body: { shop_id: id } });
    // Barrier: one refresh grant is held at Shopify, and the two other
    // parties wait for the shop's row lock in PostgreSQL.
    // (pg_locks: the sessions' queries are not visible to this role.)
    const lockWaiters = async () => Number(await psql(`SELECT count(DISTINCT pid) FROM pg_locks
      WHERE NOT granted`));
    while (fake.grantsWaiting() < 1 || await lockWaiters() < 2) await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.grantsWaiting(), 1, 'one renewal at Shopify, not three');
    fake.setGrantGate(null);
    open();
    const [ra, rb, rapi] = await Promise.all([a, b, api]);
    assert.equal(ra.code, 0, ra.out.slice(-2000));
    assert.equal(rb.code, 0, rb.out.slice(-2000));
    assert.equal(rapi.status, 200, rapi.body);
    assert.equal(fake.grantCount({ shop: d, grant: 'refresh_token' }) - grants0, 1, 'exactly one renewal');
    const newest = fake.tokenLog(d).at(-1).id;
    const used = fake.requests.slice(req0).filter((e) => e.shop === d && !e.tokenRequest);
    assert.ok(used.length >= 3, `requests of the three parties: ${used.length}`);
    assert.deepEqual([...new Set(used.map((e) => e.tokenId))], [newest], 'every party used the new token');
    assert.equal(used.filter((e) => e.status === 401).length, 0);
  });

  test('a lost refresh answer is recovered: the previous refresh token still works', async () => {
    const d = 'lost-one.myshopify.com';
    const id = await installed('lost-one', { products: 2 });
    await psql(`UPDATE shops SET access_expires_at = now() - interval '1 minute' WHERE id = ${q(id)}`);
    // Shopify renews, but the answer never arrives (connection reset).
    const g0 = fake.grantCount({ shop: d, grant: 'refresh_token', status: 200 });
    fake.setMode(d, { onTokenGrant: 'reset' });
    const first = await tracker(['--shop', d]);
    fake.setMode(d, null);
    assert.equal(fake.grantCount({ shop: d, grant: 'refresh_token', status: 200 }) - g0, 1, 'Shopify did renew');
    assert.equal(first.code, 1, 'the shop failed this run (no token), it is not lost');
    assert.equal((await shopRow(d))[1], 'connected', 'still connected');
    const again = await tracker(['--shop', d]);
    assert.equal(again.code, 0, again.out.slice(-2000));
    assert.deepEqual(await status(id), ['success', '']);
    assert.equal(fake.grantCount({ shop: d, grant: 'refresh_token', status: 400 }), 0, 'no invalid_grant');
  });

  test('a revoked token: reauthorize_required, the next run skips the shop with the reason, a reconnect restores it', async () => {
    const d = 'revoke-one.myshopify.com';
    const id = await installed('revoke-one', { products: 2, orders: 2 });
    await psql(`DELETE FROM shops WHERE id <> ${q(id)}`);
    fake.revokeTokens(d);	// the app was removed / the merchant revoked access
    const g0 = fake.grantCount({ shop: d, grant: 'refresh_token' });
    const first = await tracker([]);
    assert.equal(first.code, 0, `a shop whose status changed mid-run is skipped, not failed: ${first.out.slice(-2000)}`);
    const [, st, reason] = await shopRow(d);
    assert.equal(st, 'reauthorize_required');
    assert.match(reason, /invalid_grant/);
    assert.equal(fake.grantCount({ shop: d, grant: 'refresh_token' }) - g0, 1, 'one renewal attempt after the 401');
    const [ls, le] = await status(id);
    assert.equal(ls, 'skipped');
    assert.match(le, /reauthorize_required/);

    // The next run does not touch the shop and says why.
    const n = requestsOf(d).length;
    const run2 = await tracker([]);
    assert.equal(run2.code, 0, run2.out.slice(-2000));
    assert.equal(requestsOf(d).length, n, 'no request for a shop that is not connected');
    const [ls2, le2] = await status(id);
    assert.equal(ls2, 'skipped');
    assert.match(le2, /reauthorize_required.*install the ReBoss app again/);
    assert.equal(await psql(`SELECT shops_failed FROM job_runs WHERE job_type = 'sales_tracker'
      ORDER BY started_at DESC LIMIT 1`), '0');
    // The owner sees it; the API refuses to use it.
    const api = await stack.curl('/api/shopify/get-collections', { token: tokA, body: { shop_id: id } });
    assert.equal(api.status, 409, api.body);
    assert.equal(api.json.code, 'shop_not_connected');

    // Reconnect (install again): connected, processed again.
    await installed('revoke-one');
    const [, st3, reason3] = await shopRow(d);
    assert.deepEqual([st3, reason3], ['connected', '']);
    const run3 = await tracker([]);
    assert.equal(run3.code, 0, run3.out.slice(-2000));
    assert.deepEqual(await status(id), ['success', '']);
  });

  test('402 and 423 freeze a shop, 404 uninstalls it: skipped with the reason, not failed', async () => {
    const cases = [['frz-pay', 402, 'frozen', /unpaid/], ['frz-lock', 423, 'frozen', /locked/],
      ['gone-one', 404, 'uninstalled', /no shop at this domain/]];
    const ids = [];
    for (const [n] of cases) ids.push(await installed(n, { products: 2 }));
    await psql(`DELETE FROM shops WHERE id NOT IN (${ids.map(q).join(',')})`);
    for (const [n, code] of cases) fake.setMode(`${n}.myshopify.com`, { status: code });
    const r = await tracker([]);
    for (const [n] of cases) fake.setMode(`${n}.myshopify.com`, null);
    assert.equal(r.code, 0, r.out.slice(-2000));
    for (const [i, [n, , want, why]] of cases.entries()) {
      const [, st, reason] = await shopRow(`${n}.myshopify.com`);
      assert.equal(st, want, n);
      assert.match(reason, why, n);
      const [ls, le] = await status(ids[i]);
      assert.equal(ls, 'skipped', n);
      assert.match(le, new RegExp(want), n);
    }
  });

  test('app/uninstalled in the middle of a run: that worker ends as skipped, the others succeed', async () => {
    const U = 'mid-gone.myshopify.com', K = 'mid-stay.myshopify.com';
    const uid = await installed('mid-gone', { products: 2, orders: 2 });
    const kid = await installed('mid-stay', { products: 2, orders: 2 });
    await psql(`DELETE FROM shops WHERE id NOT IN (${q(uid)}, ${q(kid)})`);
    let open;
    fake.setMode(U, { gate: new Promise((r) => { open = r; }) });
    const first = tracker([]);
    while (!fake.requests.some((e) => e.shop === U && e.gated)) await new Promise((r) => setTimeout(r, 50));
    const req = webhookRequest(fake, 'app/uninstalled', U);
    const hook = await stack.curl('/api/shopify/webhooks', { body: req.body, headers: req.headers });
    assert.equal(hook.status, 200, hook.body);
    fake.uninstallApp(U);
    open();
    const r = await first;
    fake.setMode(U, null);
    assert.equal(r.code, 0, r.out.slice(-2000));
    assert.deepEqual(await status(kid), ['success', '']);
    const [ls, le] = await status(uid);
    assert.equal(ls, 'skipped');
    assert.match(le, /uninstalled/);
    assert.equal(await psql(`SELECT shops_failed FROM job_runs WHERE job_type = 'sales_tracker'
      ORDER BY started_at DESC LIMIT 1`), '0');
  });
});
