// cors.test.mjs - the nginx site the package ships (etc/nginx/reboss.conf),
// for real: a headless Chromium (Debian's chromium driven by playwright-core)
// loads a page from the dashboard's origin and calls the API through that
// site, in front of the real reboss-api pool and PostgreSQL of the harness.
// The allowed origin works (preflight answered by nginx), another origin is
// refused by the browser.  curl checks the rest of the site: TLS versions,
// HTTP -> HTTPS, HSTS, the body cap and the rate limit.  Owner: packaging.
//
// Needs: apt-get install chromium nginx-light; npm playwright-core.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startStack, curlTo } from './harness.mjs';
import { startSiteNginx } from './lib/site.mjs';

const run = promisify(execFile);

// The dashboard reduced to one button: fetch(api + path) with a bearer token
// and a JSON body, result in window.result.
const PAGE = `<!doctype html><meta charset="utf-8"><title>ReBoss CORS</title>
<script>
window.call = async (url, init) => {
  try {
    const r = await fetch(url, init);
    return { ok: true, status: r.status, body: await r.text() };
  } catch (e) {
    return { ok: false, error: String(e) };
  }
};
</script>`;

function pageServer() {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(PAGE);
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

describe('nginx site: CORS in a real browser, TLS, limits', { timeout: 180000 }, () => {
  let stack, site, good, bad, goodOrigin, badOrigin, ctx, userDir, siteDir, token;

  before(async () => {
    good = await pageServer();
    bad = await pageServer();
    goodOrigin = `http://127.0.0.1:${good.address().port}`;
    badOrigin = `http://127.0.0.1:${bad.address().port}`;
    stack = await startStack({ workers: 2 });
    siteDir = path.join(stack.dir, 'site');
    site = await startSiteNginx({
      dir: siteDir,
      sock: path.join(stack.dir, 'api.sock'),
      certFile: path.join(stack.dir, 'server.crt'),
      keyFile: path.join(stack.dir, 'server.key'),
      origins: [goodOrigin, 'https://staging.dashboard.test'],
      serverName: 'localhost 127.0.0.1',
    });
    token = stack.mintToken();
    userDir = await mkdtemp(path.join(os.tmpdir(), 'reboss-chromium-'));
    ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      ignoreHTTPSErrors: true, // the stack's throwaway CA
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await ctx?.close().catch(() => {});
    if (userDir) await rm(userDir, { recursive: true, force: true });
    await site?.stop().catch(() => {});
    await stack?.stop();
    good?.close();
    bad?.close();
  });

  const curl = (p, o) => curlTo(site.url, stack.caFile, p, o);

  async function callFrom(origin, apiPath, init) {
    const page = await ctx.newPage();
    try {
      await page.goto(origin + '/');
      return await page.evaluate(([u, i]) => window.call(u, i), [site.url + apiPath, init]);
    } finally {
      await page.close();
    }
  }

  const postInit = (tok) => ({
    method: 'POST',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ shop_domain: 'not a shop', access_token: 'shpat_x' }),
  });

  test('allowed origin: preflight answered by nginx, then the API answers the browser', async () => {
    const before = (await site.accessLog()).split('\n').length;
    const r = await callFrom(goodOrigin, '/api/shopify/test-connection', postInit(token));
    assert.equal(r.ok, true, `the browser refused the allowed origin: ${r.error}`);
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).code, 'invalid_shop_domain');
    const log = (await site.accessLog()).split('\n').slice(before - 1).join('\n');
    assert.match(log, new RegExp(`OPTIONS /api/shopify/test-connection 204 "${goodOrigin}"`));
    assert.match(log, new RegExp(`POST /api/shopify/test-connection 400 "${goodOrigin}"`));
    // the preflight never reached the pool: nothing but the POST in its log
    const h = await callFrom(goodOrigin, '/api/health', { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(h.ok, true, h.error);
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { status: 'ok', database: 'ok' });
  });

  test('another origin: refused by the browser, the request never reaches the API', async () => {
    const before = (await site.accessLog()).split('\n').length;
    const r = await callFrom(badOrigin, '/api/shopify/test-connection', postInit(token));
    assert.equal(r.ok, false, `the browser let ${badOrigin} read the answer: ${JSON.stringify(r)}`);
    assert.match(r.error, /TypeError|Failed to fetch/);
    const log = (await site.accessLog()).split('\n').slice(before - 1).join('\n');
    assert.match(log, new RegExp(`OPTIONS /api/shopify/test-connection 204 "${badOrigin}"`));
    assert.doesNotMatch(log, /POST \/api\/shopify\/test-connection/);
    // a simple GET is sent by the browser but its answer is not readable
    const g = await callFrom(badOrigin, '/api/health', {});
    assert.equal(g.ok, false, 'a GET answer was readable from a refused origin');
  });

  test('preflight headers: exactly the allowed origins get them', async () => {
    for (const origin of [goodOrigin, 'https://staging.dashboard.test']) {
      const r = await curl('/api/shops', {
        method: 'OPTIONS', origin,
        headers: { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers['access-control-allow-origin'], origin);
      assert.match(r.headers['access-control-allow-methods'], /POST/);
      assert.match(r.headers['access-control-allow-headers'], /Authorization/);
      assert.match(r.headers.vary, /Origin/);
    }
    for (const origin of [badOrigin, 'https://dashboard.test.evil.example', 'null']) {
      const r = await curl('/api/shops', { method: 'OPTIONS', origin });
      assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(r.headers['access-control-allow-methods'], undefined, origin);
    }
  });

  test('TLS 1.2 and 1.3 only, HSTS, HTTP redirects to HTTPS', async () => {
    const base = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', stack.caFile];
    for (const v of ['1.2', '1.3']) {
      const r = await run('curl', [...base, `--tlsv${v}`, '--tls-max', v, `${site.url}/health`]);
      assert.equal(r.stdout, '200', `TLS ${v}`);
    }
    await assert.rejects(run('curl', [...base, '--tlsv1.1', '--tls-max', '1.1', `${site.url}/health`]),
      'TLS 1.1 must be refused');
    const h = await curl('/health');
    assert.equal(h.status, 200);
    assert.match(h.headers['strict-transport-security'] || '', /max-age=\d{7,}/);
    const a = await curl('/api/health', { origin: goodOrigin });
    assert.match(a.headers['strict-transport-security'] || '', /max-age=/);
    assert.equal(a.headers['access-control-allow-origin'], goodOrigin);
    // to the server's own name, never to the Host the client sent
    const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}',
      '-H', 'Host: evil.example', `http://127.0.0.1:${site.httpPort}/api/health?x=1`]);
    assert.match(r.stdout, /^301 https:\/\/localhost\/api\/health\?x=1$/);
    const nf = await curl('/nothing');
    assert.equal(nf.status, 404);
    assert.equal(nf.json.code, 'not_found');
  });

  test('bodies over 64 KiB are refused by nginx in the API error shape', async () => {
    const r = await curl('/api/shops', { body: 'x'.repeat(65537), token, origin: goodOrigin });
    assert.equal(r.status, 413);
    assert.equal(r.json.code, 'body_too_large');
    assert.equal(r.headers['access-control-allow-origin'], goodOrigin);
    const ok = await curl('/api/shopify/test-connection',
      { body: { shop_domain: 'not a shop', access_token: 'a'.repeat(60000) }, token });
    assert.equal(ok.status, 400, 'a 60 KB body must reach the API');
  });

  test('limit_req on /api/: a burst is cut off with 429', async () => {
    // 120 requests as one HTTP/2 write from an address of their own (a
    // fresh bucket): nginx reads them in one pass, at one cached time, so
    // the burst allowance (40 + 1) passes and the rest is cut off at any
    // machine load; nothing here depends on how fast they are sent.
    const session = http2.connect(site.url, { ca: await readFile(stack.caFile), servername: 'localhost',
      localAddress: '127.0.0.3' });
    await once(session, 'connect');
    const one = () => new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/api/health' });
      let status, body = '';
      req.on('response', (h) => { status = h[':status']; });
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
    const answers = await Promise.all(Array.from({ length: 120 }, one));
    session.close();
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length > 0, `no 429 among ${answers.length} requests in one write`);
    assert.ok(answers.length - limited.length >= 41, 'the burst allowance must pass');
    for (const a of limited) assert.equal(JSON.parse(a.body).code, 'rate_limited');
    for (const a of answers.filter((x) => x.status !== 429))
      assert.ok([200, 503].includes(a.status), `${a.status} ${a.body}`);
    // /health is not limited
    const h = await curl('/health');
    assert.equal(h.status, 200);
  });
});
