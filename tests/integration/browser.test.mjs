// browser.test.mjs - a real headless Chromium (Debian's chromium, driven by
// playwright-core) goes through the whole linking flow for each provider:
// dashboard page -> POST start (CORS, bearer) -> the fake's consent page ->
// the API's callback over TLS -> the frontend URL with "connected", then the
// integrations route (GET /api/shops for a Shopify install) shows the link.
// Owner: the "oauth" module.
//
// Needs: apt-get install chromium; npm playwright-core (no browser download).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startStack } from './harness.mjs';
import { addShopRow } from './lib/oauthflow.mjs';

// The dashboard, reduced to what linking needs.  Config comes in the hash.
const DASHBOARD = `<!doctype html><meta charset="utf-8"><title>ReBoss</title>
<button id="connect">Connect</button><p id="status"></p><pre id="out"></pre>
<script>
const cfg = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
const q = new URLSearchParams(location.search);
const out = document.getElementById('status');
for (const p of ['pinterest', 'meta', 'google', 'shopify'])
  if (q.get(p) === 'connected') out.textContent = p + ' connected';
if (q.get('error')) out.textContent = 'error ' + q.get('error');
document.getElementById('connect').onclick = async () => {
  // shopify: install the ReBoss app on a shop (no shop row yet)
  const install = cfg.provider === 'shopify';
  const r = await fetch(cfg.api + (install ? '/api/shopify/install' :
    '/api/oauth/' + cfg.provider + '/start'), {
    method: 'POST',
    headers: { 'Authorization': 'Bearer ' + cfg.token, 'Content-Type': 'application/json' },
    body: JSON.stringify(install ? { shop_domain: cfg.domain } : { shop_id: cfg.shop }),
  });
  const j = await r.json();
  if (!r.ok) { out.textContent = 'start failed ' + j.code; return; }
  location.assign(j.url);
};
</script>`;

describe('browser: linking accounts end to end', { timeout: 180000 }, () => {
  let stack, server, front, ctx, userDir;
  const A = randomUUID();

  before(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(DASHBOARD);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    front = `http://127.0.0.1:${server.address().port}`;
    stack = await startStack({ workers: 2, frontendUrl: front });
    userDir = await mkdtemp(path.join(os.tmpdir(), 'reboss-chromium-'));
    ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      ignoreHTTPSErrors: true,	// the stack's throwaway CA
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
        '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await ctx?.close().catch(() => {});
    await stack?.stop();
    await new Promise((r) => (server ? server.close(() => r()) : r()));
    if (userDir) await rm(userDir, { recursive: true, force: true });
  });

  for (const provider of ['pinterest', 'meta', 'google']) {
    test(`${provider}: dashboard -> consent -> callback -> connected`, async () => {
      const shop = await addShopRow(stack, A, `browser-${provider}.myshopify.com`);
      const token = stack.mintToken({ userId: A });
      const page = await ctx.newPage();
      const hash = new URLSearchParams({ api: stack.url, token, shop, provider }).toString();
      await page.goto(`${front}/dashboard#${hash}`);
      const want = `${front}/shops/${shop}?${provider}=connected`;
      await Promise.all([
        page.waitForURL(want, { timeout: 30000 }),
        page.click('#connect'),
      ]);
      assert.equal(page.url(), want);
      assert.equal(await page.textContent('#status'), `${provider} connected`);
      await page.close();

      const st = await stack.curl(`/api/shops/${shop}/integrations`, { token });
      assert.equal(st.status, 200);
      assert.equal(st.json[provider].connected, true);
      assert.ok(st.json[provider].expires_at);
    });
  }

  test('shopify: dashboard -> install -> consent -> callback -> shopify=connected', async () => {
    const domain = 'browser-install.myshopify.com';
    stack.fake.addShop({ domain, token: 'shpat_browser_install_000000000000' });
    const token = stack.mintToken({ userId: A });
    const page = await ctx.newPage();
    const hash = new URLSearchParams({ api: stack.url, token, domain, provider: 'shopify' }).toString();
    await page.goto(`${front}/dashboard#${hash}`);
    await Promise.all([
      // the default scopes lack read_all_orders: the page is told so
      page.waitForURL(/\/shops\/[0-9a-f-]{36}\?shopify=connected&sales_history=limited$/, { timeout: 30000 }),
      page.click('#connect'),
    ]);
    assert.equal(await page.textContent('#status'), 'shopify connected');
    const id = new URL(page.url()).pathname.split('/')[2];
    await page.close();
    // The dashboard asks GET /api/shops: connected through the app.
    const mine = await stack.curl('/api/shops', { token });
    assert.equal(mine.status, 200, mine.body);
    const s = mine.json.shops.find((x) => x.id === id);
    assert.ok(s, mine.body);
    assert.equal(s.shop_domain, domain);
    assert.equal(s.user_id, A);
    assert.equal(s.connection_status, 'connected');
    assert.equal(s.auth_method, 'app_install');
    assert.equal(s.sales_history_limited, true);
    assert.equal(stack.fake.tokenRequests().filter((e) => e.shop === domain && e.status === 200).length, 1);
  });

  test('the user refusing at the provider lands on the shop page with access_denied', async () => {
    const shop = await addShopRow(stack, A, 'browser-deny.myshopify.com');
    const token = stack.mintToken({ userId: A });
    stack.oauth.setMode('google', { deny: true });
    const page = await ctx.newPage();
    try {
      const hash = new URLSearchParams({ api: stack.url, token, shop, provider: 'google' }).toString();
      await page.goto(`${front}/dashboard#${hash}`);
      await Promise.all([
        page.waitForURL(`${front}/shops/${shop}?error=access_denied`, { timeout: 30000 }),
        page.click('#connect'),
      ]);
      assert.equal(await page.textContent('#status'), 'error access_denied');
    } finally {
      stack.oauth.setMode('google', null);
      await page.close();
    }
  });
});
