// install.test.mjs - the ReBoss app's install flow (authorization code
// grant) and its webhooks through the real stack (nginx TLS -> reboss-api
// -> PostgreSQL) against the fake Shopify (tests/fakes/shopify_install.mjs).
// Owner: the "install" module.
//
// Every refused callback is shown to be refused before any token request
// (the fake's log of /admin/oauth/access_token proves none was made) and
// to store nothing.
import assert from 'node:assert/strict';
import { randomUUID, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStack, buildDir } from './harness.mjs';
import { consent, callback, count } from './lib/oauthflow.mjs';
import { signQuery, webhookRequest } from '../fakes/shopify_install.mjs';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const stateHash = (s) => createHash('sha256').update(s).digest('base64url');

describe('Shopify app install and webhooks', () => {
  let stack, fake, front, tokA, tokB;
  const A = randomUUID();
  const B = randomUUID();

  before(async () => {
    stack = await startStack({ workers: 2 });
    fake = stack.fake;
    front = stack.config.frontend_url.replace(/\/+$/, '');
    tokA = stack.mintToken({ userId: A });
    tokB = stack.mintToken({ userId: B });
  });
  after(async () => { await stack?.stop(); });

  const addShop = (name) => fake.addShop({ domain: `${name}.myshopify.com`, token: `shpat_${randomUUID().replace(/-/g, '')}` });
  const install = (token, shop) => stack.curl('/api/shopify/install', { token, body: { shop_domain: shop } });
  const shopRow = async (domain) => (await stack.pg.psql(
    `SELECT id, user_id, connection_status, access_token FROM shops WHERE shop_domain = ${q(domain)}`)).trim();
  const tokenRequests = () => fake.tokenRequests().length;

  /** install -> the fake's consent -> the callback URL (not yet called). */
  async function startInstall(token, domain) {
    const r = await install(token, domain);
    assert.equal(r.status, 200, r.body);
    return { url: new URL(r.json.url), cb: await consent(r.json.url) };
  }

  test('install: consent URL, callback, the shop stored connected with its token sealed', async () => {
    const shop = addShop('inst-one');
    const before = tokenRequests();
    const { url, cb } = await startInstall(tokA, 'https://INST-ONE.myshopify.com/');
    assert.equal(url.pathname, '/inst-one.myshopify.com/admin/oauth/authorize');
    assert.equal(url.searchParams.get('client_id'), fake.app.clientId);
    assert.equal(url.searchParams.get('scope'),
      'read_products,write_products,read_orders,read_publications,write_publications');
    assert.equal(url.searchParams.get('redirect_uri'), `${stack.url}/api/shopify/callback`);
    const state = url.searchParams.get('state');
    assert.match(state, /^[A-Za-z0-9_-]{43}$/);
    // Only the state's hash is stored, bound to the user and the domain.
    assert.equal((await stack.pg.psql(`SELECT user_id, shop_domain, shop_id IS NULL FROM oauth_states
      WHERE state_hash = ${q(stateHash(state))}`)).trim(), `${A}|inst-one.myshopify.com|t`);
    assert.equal(await count(stack, `SELECT count(*) FROM oauth_states WHERE state_hash = ${q(state)}`), 0);

    const cbu = new URL(cb);
    for (const k of ['code', 'hmac', 'host', 'shop', 'state', 'timestamp']) assert.ok(cbu.searchParams.get(k), k);
    const res = await callback(stack, cb);
    assert.equal(res.status, 302, res.body);
    const [id, , , sealed] = (await shopRow('inst-one.myshopify.com')).split('|');
    // The default scopes lack read_all_orders: the owner is told.
    assert.equal(res.headers.location, `${front}/shops/${id}?shopify=connected&sales_history=limited`);
    // What the dashboard then reads: GET /api/shops.
    const mine = await stack.curl('/api/shops', { token: tokA });
    assert.equal(mine.status, 200, mine.body);
    const s = mine.json.shops.find((x) => x.id === id);
    assert.ok(s, 'the shop is listed for A');
    assert.equal(s.shop_domain, 'inst-one.myshopify.com');
    assert.equal(s.connection_status, 'connected');
    assert.equal(s.auth_method, 'app_install');
    assert.equal(s.sales_history_limited, true);
    assert.deepEqual([...s.granted_scopes].sort(),
      ['read_orders', 'read_products', 'read_publications', 'write_products', 'write_publications']);
    const exp = Date.parse(s.access_expires_at);
    assert.ok(exp > Date.now() + 50 * 60e3 && exp < Date.now() + 70 * 60e3, 'an expiring token (1 h)');
    assert.ok(!mine.body.includes(shop.token) && !mine.body.includes('rbs1:'), 'no token listed');
    assert.ok(!(await stack.curl('/api/shops', { token: tokB })).json.shops.some((x) => x.id === id),
      'B does not see it');
    assert.match(sealed, /^rbs1:/, 'the access token is sealed');
    assert.equal(tokenRequests(), before + 1, 'one token request');
    const tr = fake.tokenRequests().at(-1);
    assert.equal(tr.status, 200);
    assert.equal(tr.expiring, true, 'an expiring offline token was asked for');
    assert.ok(!(await stack.pg.psql('SELECT row_to_json(s)::text FROM shops s')).includes(shop.token),
      'no plain token in the database');
    const log = await stack.apiLog();
    assert.ok(!log.includes(shop.token) && !log.includes(cbu.searchParams.get('code')), 'no token or code logged');

    // Installed again (new scopes, reinstall): the same row.
    const again = await callback(stack, (await startInstall(tokA, 'inst-one')).cb);
    assert.equal(again.status, 302);
    assert.equal(again.headers.location, `${front}/shops/${id}?shopify=connected&sales_history=limited`);
    assert.equal(await count(stack, "SELECT count(*) FROM shops WHERE shop_domain = 'inst-one.myshopify.com'"), 1);

    // Another account installing the same shop: refused, never saying whose.
    const other = await callback(stack, (await startInstall(tokB, 'inst-one')).cb);
    assert.equal(other.status, 302);
    assert.equal(other.headers.location, `${front}/?error=shop_taken`);
    assert.ok(!other.headers.location.includes(id) && !other.body.includes(A));
    assert.equal((await shopRow('inst-one.myshopify.com')).split('|')[1], A);
  });

  test('fewer scopes granted than needed: refused, naming the missing ones', async () => {
    addShop('inst-scopes');
    fake.setInstallMode({ grantScopes: ['read_products', 'read_orders'] });
    try {
      const res = await callback(stack, (await startInstall(tokA, 'inst-scopes')).cb);
      assert.equal(res.status, 302);
      const loc = new URL(res.headers.location);
      assert.equal(loc.searchParams.get('error'), 'missing_scopes');
      assert.equal(loc.searchParams.get('missing'), 'write_products, read_publications, write_publications');
      assert.equal(await shopRow('inst-scopes.myshopify.com'), '');
      // The scopes were asked of Shopify with the new token, not taken
      // from the token answer alone.
      assert.ok(fake.requests.some((e) => e.shop === 'inst-scopes.myshopify.com' &&
        /currentAppInstallation\s*\{\s*accessScopes/.test(e.query ?? '')), 'currentAppInstallation asked');
    } finally { fake.setInstallMode(null); }
  });

  test('read_all_orders granted: connected without the 60-day notice', async () => {
    addShop('inst-all');
    fake.setInstallMode({ grantScopes: ['write_products', 'read_orders', 'read_all_orders', 'write_publications'] });
    try {
      const res = await callback(stack, (await startInstall(tokA, 'inst-all')).cb);
      assert.equal(res.status, 302);
      const [id] = (await shopRow('inst-all.myshopify.com')).split('|');
      assert.equal(res.headers.location, `${front}/shops/${id}?shopify=connected`);
    } finally { fake.setInstallMode(null); }
  });

  // Each case turns a good callback URL into a bad one; the API must
  // refuse it before any token request and store nothing.
  const resign = (u, edit) => {
    const p = Object.fromEntries(u.searchParams);
    delete p.hmac;
    edit(p);
    p.hmac = signQuery(fake.app.clientSecret, p);
    return new URLSearchParams(p);
  };
  const cases = [
    ['a tampered hmac', 'invalid_hmac', (u) => {
      const h = u.searchParams.get('hmac');
      u.searchParams.set('hmac', (h[0] === 'a' ? 'b' : 'a') + h.slice(1));
    }],
    ['a tampered code', 'invalid_hmac', (u) => { u.searchParams.set('code', 'f'.repeat(32)); }],
    ['a tampered shop', 'invalid_hmac', (u) => { u.searchParams.set('shop', 'evil.myshopify.com'); }],
    ['an hmac made with another secret', 'invalid_hmac', (u) => {
      const p = Object.fromEntries(u.searchParams);
      u.searchParams.set('hmac', signQuery('not-the-secret', p));
    }],
    ['no hmac', 'invalid_hmac', (u) => { u.searchParams.delete('hmac'); }],
    ['no state (signed)', 'invalid_callback', (u) => { u.search = resign(u, (p) => { delete p.state; }); }],
    ['no code (signed)', 'invalid_callback', (u) => { u.search = resign(u, (p) => { delete p.code; }); }],
    ['a shop that is not myshopify (signed)', 'invalid_shop_domain', (u) => {
      u.search = resign(u, (p) => { p.shop = 'evil.example.com'; });
    }],
    ['a shop other than the state\'s (signed)', 'shop_mismatch', (u) => {
      u.search = resign(u, (p) => { p.shop = 'inst-other.myshopify.com'; });
    }],
    ['an unknown state (signed)', 'invalid_state', (u) => {
      u.search = resign(u, (p) => { p.state = 'x'.repeat(43); });
    }],
    ['an old timestamp (signed)', 'stale_callback', (u) => {
      u.search = resign(u, (p) => { p.timestamp = String(Math.floor(Date.now() / 1000) - 400); });
    }],
    ['an expired state', 'expired_state', async (u) => {
      await stack.pg.psql(`UPDATE oauth_states SET expires_at = now() - interval '1 second'
        WHERE state_hash = ${q(stateHash(u.searchParams.get('state')))}`);
    }],
  ];
  for (const [what, code, spoil] of cases) {
    test(`callback with ${what}: ${code}, before any token request, nothing stored`, async () => {
      const name = `inst-bad-${code.replace(/_/g, '-')}-${cases.findIndex((c) => c[0] === what)}`;
      addShop(name);
      addShop('inst-other');
      const { cb } = await startInstall(tokA, name);
      const u = new URL(cb);
      await spoil(u);
      const before = tokenRequests();
      const res = await callback(stack, u.toString());
      assert.equal(res.status, 302, res.body);
      assert.equal(res.headers.location, `${front}/?error=${code}`);
      assert.equal(tokenRequests(), before, 'no token request was made');
      assert.equal(await shopRow(`${name}.myshopify.com`), '', 'no shop stored');
      assert.equal(await shopRow('inst-other.myshopify.com'), '');
    });
  }

  test('the documents sent at install are valid against the 2026-10 schema, none deprecated', () => {
    assert.deepEqual(fake.validationErrors, []);
    assert.deepEqual(fake.deprecations, []);
  });

  test('a replayed callback: state_reused, no second token request', async () => {
    addShop('inst-replay');
    const { cb } = await startInstall(tokA, 'inst-replay');
    assert.equal((await callback(stack, cb)).status, 302);
    const row = await shopRow('inst-replay.myshopify.com');
    const before = tokenRequests();
    const res = await callback(stack, cb);
    assert.equal(res.headers.location, `${front}/?error=state_reused`);
    assert.equal(tokenRequests(), before);
    assert.equal(await shopRow('inst-replay.myshopify.com'), row, 'the row did not change');
  });

  test('etc/shopify.app.toml matches what the API does', async () => {
    const { readFile } = await import('node:fs/promises');
    const { REPO } = await import('./harness.mjs');
    const toml = await readFile(path.join(REPO, 'etc/shopify.app.toml'), 'utf8');
    const scopes = /^scopes = "([^"]*)"/m.exec(toml)?.[1];
    // SHOPIFY_DEFAULT_SCOPES of lib/config.h, the C side's one list
    const header = await readFile(path.join(REPO, 'lib/config.h'), 'utf8');
    const dflt = /#define SHOPIFY_DEFAULT_SCOPES\s+((?:"[^"]*"\s*\\?\s*)+)/.exec(header)?.[1]
      .match(/"([^"]*)"/g).map((x) => x.slice(1, -1)).join('');
    assert.equal(scopes, dflt, 'the scopes shopify_scopes asks for by default');
    assert.equal(scopes, 'read_products,write_products,read_orders,read_publications,write_publications');
    assert.match(toml, /^use_legacy_install_flow = true$/m, 'the authorization code grant');
    assert.match(toml, /^redirect_urls = \[ "https:\/\/api\.example\.com\/api\/shopify\/callback" \]$/m);
    assert.match(toml, /^api_version = "2026-10"$/m);
    assert.match(toml, /^topics = \[ "app\/uninstalled" \]$/m);
    assert.match(toml, /^compliance_topics = \[ "customers\/data_request", "customers\/redact", "shop\/redact" \]$/m);
    assert.equal((toml.match(/^uri = "https:\/\/api\.example\.com\/api\/shopify\/webhooks"$/mg) ?? []).length, 2);
  });

  test('install refuses a domain that is not a shop, and without a bearer', async () => {
    const bad = await install(tokA, 'evil.com/x');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'invalid_shop_domain');
    const anon = await stack.curl('/api/shopify/install', { body: { shop_domain: 'x' } });
    assert.equal(anon.status, 401);
  });

  // ---- webhooks ----------------------------------------------------------

  const deliver = (req, headers = {}) => stack.curl('/api/shopify/webhooks', {
    body: req.body, headers: { ...req.headers, ...headers } });
  async function installed(name) {
    addShop(name);
    const res = await callback(stack, (await startInstall(tokA, name)).cb);
    assert.equal(res.status, 302);
    return (await shopRow(`${name}.myshopify.com`)).split('|')[0];
  }

  test('webhooks: a wrong or missing HMAC is 401 and changes nothing', async () => {
    const id = await installed('hook-bad');
    const good = webhookRequest(fake, 'app/uninstalled', 'hook-bad.myshopify.com');
    const cases = [
      deliver(good, { 'X-Shopify-Hmac-Sha256': null }),
      deliver(good, { 'X-Shopify-Hmac-Sha256': 'A'.repeat(43) + '=' }),
      deliver(webhookRequest(fake, 'app/uninstalled', 'hook-bad.myshopify.com', { secret: 'wrong' })),
      // the same signature over the body with one byte more
      stack.curl('/api/shopify/webhooks', { body: Buffer.concat([good.body, Buffer.from(' ')]), headers: good.headers }),
    ];
    for (const r of await Promise.all(cases)) {
      assert.equal(r.status, 401, r.body);
      assert.equal(r.json.code, 'invalid_hmac');
    }
    assert.equal(await count(stack, 'SELECT count(*) FROM shopify_webhooks'), 0);
    assert.equal((await shopRow('hook-bad.myshopify.com')).split('|')[2], 'connected');
    assert.ok(id);
  });

  test('app/uninstalled: the shop stops being connected, its token goes; a replay is not applied twice', async () => {
    const id = await installed('hook-un');
    fake.uninstallApp('hook-un.myshopify.com');
    const req = webhookRequest(fake, 'app/uninstalled', 'hook-un.myshopify.com');
    const r = await deliver(req);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.detail.uninstalled, true);
    const [, , status, tok] = (await shopRow('hook-un.myshopify.com')).split('|');
    assert.notEqual(status, 'connected');
    assert.equal(tok, '', 'the Shopify token is deleted');
    // Installed again, then the old delivery comes once more: not applied.
    await callback(stack, (await startInstall(tokA, 'hook-un')).cb);
    assert.equal((await shopRow('hook-un.myshopify.com')).split('|')[2], 'connected');
    const again = await deliver(req);
    assert.equal(again.status, 200);
    assert.equal(again.json.duplicate, true);
    assert.equal((await shopRow('hook-un.myshopify.com')).split('|')[2], 'connected', 'not applied twice');
    assert.equal(await count(stack, `SELECT count(*) FROM shopify_webhooks WHERE webhook_id =
      ${q(req.headers['X-Shopify-Webhook-Id'])}`), 1);
    assert.ok(id);
  });

  test('customers/data_request and customers/redact: recorded, no customer data kept', async () => {
    await installed('hook-cust');
    for (const topic of ['customers/data_request', 'customers/redact']) {
      const r = await deliver(webhookRequest(fake, topic, 'hook-cust.myshopify.com'));
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.detail.customer_records, 0);
    }
    assert.equal(await count(stack, "SELECT count(*) FROM shopify_webhooks WHERE shop_domain = 'hook-cust.myshopify.com'"), 2);
    const { all } = await (await import('./lib/oauthflow.mjs')).dumpAll(stack);
    assert.ok(!all.includes('john@example.com') && !all.includes('555-625-1199'), 'no email or phone stored');
  });

  test('shop/redact: no row of the shop is left in any table, recorded with a count', async () => {
    const domain = 'hook-redact.myshopify.com';
    const id = await installed('hook-redact');
    const keep = await installed('hook-keep');
    // data of both shops in tables that hold shops' data
    for (const s of [id, keep]) {
      await stack.pg.psql(`INSERT INTO products (shop_id, product_id, title, handle, status)
        VALUES (${q(s)}, 1, 'P', 'p', 'ACTIVE')`);
      await stack.pg.psql(`INSERT INTO catalog_settings (shop_id) VALUES (${q(s)})`);
    }
    await stack.pg.psql(`INSERT INTO job_runs (job_type, status, error_log) VALUES ('sales_tracker', 'completed',
      jsonb_build_array(jsonb_build_object('shop_id', ${q(id)}, 'error', 'x'),
        jsonb_build_object('shop_id', ${q(keep)}, 'error', 'y')))`);
    await deliver(webhookRequest(fake, 'customers/redact', domain));
    const r = await deliver(webhookRequest(fake, 'shop/redact', domain));
    assert.equal(r.status, 200, r.body);
    const d = r.json.detail.deleted;
    assert.equal(d.shops, 1);
    assert.equal(d.products, 1);
    assert.equal(d.catalog_settings, 1);
    assert.equal(d['job_runs.error_log'], 1);
    assert.ok(d.oauth_states >= 1 && d.shopify_webhooks >= 1);

    // Every table with a shop column, found in the catalog.
    const cols = (await stack.pg.psql(`SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name IN ('shop_id', 'shop_domain')
      AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
      AND table_type = 'BASE TABLE') ORDER BY 1`)).trim().split('\n').map((l) => l.split('|'));
    assert.ok(cols.length >= 10, `tables with a shop column: ${cols.length}`);
    for (const [t, c] of cols) {
      const v = c === 'shop_id' ? id : domain;
      assert.equal(await count(stack, `SELECT count(*) FROM public.${t} WHERE ${c}::text = ${q(v)}`), 0, `${t}.${c}`);
    }
    assert.equal(await count(stack, `SELECT count(*) FROM shops WHERE id = ${q(id)} OR shop_domain = ${q(domain)}`), 0);
    assert.equal((await stack.pg.psql('SELECT error_log::text FROM job_runs')).includes(id), false);
    // The other shop keeps everything.
    assert.equal(await count(stack, `SELECT count(*) FROM products WHERE shop_id = ${q(keep)}`), 1);
    assert.ok((await stack.pg.psql('SELECT error_log::text FROM job_runs')).includes(keep));
    // Recorded, without naming the shop.
    assert.equal(await count(stack, "SELECT count(*) FROM shopify_webhooks WHERE topic = 'shop/redact' AND shop_domain IS NULL AND (detail->'deleted'->>'shops')::int = 1"), 1);
  });

  test('app/uninstalled in the middle of a job run: the run completes, that shop ends cleanly, later runs skip it', async () => {
    const U = 'mid-un.myshopify.com', K = 'mid-keep.myshopify.com';
    const uid = await installed('mid-un');
    const kid = await installed('mid-keep');
    for (const d of [U, K]) fake.addProduct(d, { title: `Product of ${d}` });
    // Only these two shops take part (earlier tests left others behind).
    await stack.pg.psql(`DELETE FROM shops WHERE id NOT IN (${q(uid)}, ${q(kid)})`);
    // Barrier: the first request of U's worker waits until the app is
    // uninstalled (webhook applied, token revoked at Shopify).
    let open;
    fake.setMode(U, { gate: new Promise((r) => { open = r; }) });
    const run = () => new Promise((resolve) => execFile(path.join(buildDir(), 'jobs', 'reboss-sales-tracker'),
      ['--config', stack.confFile], { env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '' }, timeout: 300000 },
      (e, so, se) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal, out: so + se })));
    const first = run();
    const seen = () => fake.requests.some((e) => e.shop === U && e.gated);
    while (!seen()) await new Promise((r) => setTimeout(r, 50));	// the worker is in U's request
    const hook = await deliver(webhookRequest(fake, 'app/uninstalled', U));
    assert.equal(hook.status, 200, hook.body);
    fake.uninstallApp(U);
    open();
    const r = await first;
    assert.ok(r.code === 0 || r.code === 1, `the run finished (exit ${r.code}, ${r.signal ?? ''}): ${r.out.slice(-2000)}`);
    const st = async (id) => (await stack.pg.psql(`SELECT last_status, coalesce(last_error, '') FROM shop_job_status
      WHERE shop_id = '${id}' AND job_type = 'sales_tracker'`)).trim();
    assert.match(await st(kid), /^success\|/, 'the other shop was processed');
    const [ust, uerr] = (await st(uid)).split('|');
    assert.ok(ust === undefined || ust === 'success' || /token|uninstall|connect|401|skip/i.test(uerr),
      `U ended with a reason, not a crash: ${ust} ${uerr}`);
    assert.ok(!/signal|crash|killed/i.test(uerr), uerr);
    assert.notEqual((await shopRow(U)).split('|')[2], 'connected');
    fake.setMode(U, null);

    // Later runs do not touch U.
    const n = fake.requests.filter((e) => e.shop === U).length;
    const again = await run();
    assert.equal(again.code, 0, again.out.slice(-2000));
    assert.equal(fake.requests.filter((e) => e.shop === U).length, n, 'no request for the uninstalled shop');
    assert.match(await st(kid), /^success\|/);
  });
});
