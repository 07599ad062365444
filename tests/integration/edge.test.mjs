// edge.test.mjs - the shipped nginx configuration at its edge (issue 17):
// Debian's own nginx.conf (worker_processes auto, worker_connections 768)
// around the operator's site and the package's snippets, in front of the
// real pool, PostgreSQL and the OAuth fakes of the harness.
//   - every status nginx itself makes answers in the API's JSON error shape;
//   - 1,000 new TLS clients at once: every one gets an HTTP answer (no
//     reset), what is not served is a JSON 429 or 503;
//   - no token, code, state or secret in any log, nginx at info level;
//   - jwt_issuer refuses a token of another issuer;
//   - the CORS origin comes from rebossctl nginx-origins (frontend_url).
// Nothing here measures time: bench/edge.mjs does.  Owner: the edge.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { startStack, buildDir, curlTo, DASHBOARD_ORIGIN } from './harness.mjs';
import { startSiteNginx } from './lib/site.mjs';
import { storm } from './lib/storm.mjs';
import { addShopRow, start, consent } from './lib/oauthflow.mjs';

const run = promisify(execFile);
const ISS = 'https://test.supabase.co/auth/v1'; // what lib/jwt.mjs mints
const PROVIDERS = ['pinterest', 'meta', 'google'];

let stack, site, ca;
const siteOpts = (dir, extra = {}) => ({
  dir, sock: path.join(stack.dir, 'api.sock'),
  certFile: path.join(stack.dir, 'server.crt'), keyFile: path.join(stack.dir, 'server.key'),
  serverName: 'localhost 127.0.0.1', debian: true, ...extra,
});

/** One raw request over TLS (or plain TCP) to port; the whole answer. */
function raw(port, request, { plain = false } = {}) {
  return new Promise((resolve) => {
    const s = plain ? net.connect({ host: '127.0.0.1', port })
      : tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    const chunks = [];
    s.on(plain ? 'connect' : 'secureConnect', () => s.write(request));
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => resolve({ error: e.code }));
    s.on('end', () => { s.destroy(); resolve(parse(Buffer.concat(chunks).toString('latin1'))); });
  });
}

function parse(text) {
  const i = text.indexOf('\r\n\r\n');
  const [line, ...hs] = text.slice(0, i).split('\r\n');
  const headers = {};
  for (const h of hs) {
    const c = h.indexOf(':');
    headers[h.slice(0, c).toLowerCase()] = h.slice(c + 1).trim();
  }
  return { status: Number(line.split(' ')[1]), headers, body: text.slice(i + 4) };
}

/** The contract's error shape with this status and code. */
function assertJsonError(r, status, code, what) {
  assert.ok(!r.error, `${what}: no answer (${r.error})`);
  assert.equal(r.status, status, `${what}: status; body ${r.body}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: content type`);
  const j = JSON.parse(r.body);
  assert.deepEqual(Object.keys(j).sort(), ['code', 'error', 'success'], `${what}: ${r.body}`);
  assert.equal(j.success, false, what);
  assert.equal(j.code, code, what);
  assert.match(j.error, /^[A-Z].*\.$/, `${what}: a sentence`);
  assert.equal(r.headers.location, undefined, `${what}: no Location`);
}

before(async () => {
  stack = await startStack({ workers: 2, extraConfig: { jwt_issuer: ISS } });
  ca = await readFile(stack.caFile);
  // The CORS origin as the package makes it: rebossctl nginx-origins.
  const map = path.join(stack.dir, 'origins.map');
  await run(path.join(buildDir(), 'ctl/rebossctl'), ['--config', stack.confFile, 'nginx-origins', '--output', map]);
  site = await startSiteNginx(siteOpts(path.join(stack.dir, 'site'), { originsFile: map }));
});

after(async () => {
  await site?.stop().catch(() => {});
  await stack?.stop();
});

describe('the shipped nginx site, Debian nginx.conf', { timeout: 600000 }, () => {
  const H = 'Host: localhost\r\n';
  // [what, request, status, code]: what nginx refuses before the pool.
  const REFUSED = [
    ['a header over the buffer', `GET /api/health HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a duplicate Authorization', `GET /api/shops HTTP/1.1\r\n${H}Authorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f\r\n\r\n`, 400, 'bad_request'],
    ['a bad Content-Length', `POST /api/shops HTTP/1.1\r\n${H}Content-Length: 12x\r\n\r\n`, 400, 'bad_request'],
    ['two Content-Lengths', `POST /api/shops HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400, 'bad_request'],
    ['Content-Length and Transfer-Encoding', `POST /api/shops HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'bad_request'],
    ['an unknown Transfer-Encoding', `POST /api/shops HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 501, 'not_implemented'],
    ['%00 in the path', `GET /api/shops/%00 HTTP/1.1\r\n${H}\r\n`, 400, 'bad_request'],
    ['a lower-case method', `get /api/health HTTP/1.1\r\n${H}\r\n`, 400, 'bad_request'],
    ['TRACE', `TRACE /api/health HTTP/1.1\r\n${H}\r\n`, 405, 'method_not_allowed'],
    ['/api without its slash, a foreign Host', `GET /api HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`, 404, 'not_found'],
    ['no Host in HTTP/1.1', `GET /api/health HTTP/1.1\r\n\r\n`, 400, 'bad_request'],
    ['HTTP/2.0 in a request line', `GET /api/health HTTP/2.0\r\n${H}\r\n`, 505, 'http_version_not_supported'],
    ['an address over the buffer', `GET /api/${'a'.repeat(20000)} HTTP/1.1\r\n${H}\r\n`, 414, 'uri_too_long'],
    ['garbage', '\x01\x02 garbage\r\n\r\n', 400, 'bad_request'],
    ['a body over the cap', `POST /api/shops HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n${'x'.repeat(70000)}`, 413, 'body_too_large'],
    ['a path outside /api/', `GET /index.html HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 404, 'not_found'],
  ];

  test('every status nginx makes answers in the JSON error shape', async () => {
    for (const [what, req, status, code] of REFUSED)
      assertJsonError(await raw(site.httpsPort, req), status, code, what);
    // plain HTTP on the HTTPS port
    assertJsonError(await raw(site.httpsPort, `GET /api/health HTTP/1.1\r\n${H}\r\n`, { plain: true }),
      400, 'bad_request', 'plain HTTP on the HTTPS port');
    // and the pool's own answers still pass through untouched
    const ok = await raw(site.httpsPort, `GET /api/health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { status: 'ok', database: 'ok' });
  });

  test('the pool away (502), too slow (504), busy (503): JSON, at once for 503', async () => {
    // A stand-in for the pool that accepts and never answers: the barrier
    // is its accept count, not a clock.
    const held = [];
    let waiting = null;
    const srv = net.createServer((c) => { held.push(c); waiting?.(); });
    const sock = path.join(stack.dir, 'held.sock');
    await new Promise((r) => srv.listen(sock, r));
    const down = await startSiteNginx(siteOpts(path.join(stack.dir, 'site-down'), {
      sock: path.join(stack.dir, 'no-such.sock'), origins: [DASHBOARD_ORIGIN],
    }));
    const slow = await startSiteNginx(siteOpts(path.join(stack.dir, 'site-slow'), {
      sock, origins: [DASHBOARD_ORIGIN],
      serverEdits: [['limit_conn reboss_pool 128;', 'limit_conn reboss_pool 1;'],
        ['fastcgi_read_timeout 120s;', 'fastcgi_read_timeout 2s;']],
    }));
    try {
      const req = `GET /api/health HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
      assertJsonError(await raw(down.httpsPort, req), 502, 'api_unavailable', 'no pool');
      // one request held by the pool; the next finds the limit reached
      const first = raw(slow.httpsPort, req);
      await new Promise((r) => { waiting = r; if (held.length) r(); });
      const busy = await raw(slow.httpsPort, req);
      assertJsonError(busy, 503, 'api_busy', 'the pool busy');
      assert.equal(busy.headers['retry-after'], '1');
      assert.equal(held.length, 1, 'the refused request never reached the pool');
      assertJsonError(await first, 504, 'api_timeout', 'the pool too slow');
    } finally {
      for (const c of held) c.destroy();
      srv.close();
      await down.stop();
      await slow.stop();
    }
  });

  test('1,000 new TLS clients at once: every one answered, none reset', async () => {
    const { results, byStatus } = await storm(site.url, { n: 1000, ca });
    console.log(`# 1,000 clients at once: ${JSON.stringify(byStatus)}`);
    assert.deepEqual(results.filter((r) => r.error).map((r) => r.error), [], JSON.stringify(byStatus));
    for (const r of results) {
      if (r.status === 200) {
        assert.deepEqual(r.json, { status: 'ok', database: 'ok' });
        continue;
      }
      assert.ok([429, 503].includes(r.status), `status ${r.status}: ${r.body}`);
      assert.equal(r.code, r.status === 429 ? 'rate_limited' : 'api_busy');
      assert.match(r.type, /^application\/json/);
      assert.equal(r.retryAfter, '1');
    }
    const err = await site.allLogs();
    assert.doesNotMatch(err, /worker_connections are not enough/);
  });

  test('jwt_issuer: a token of another issuer, or of none, is refused with 401', async () => {
    // an authenticated call that goes no further than the token: a shop
    // domain that is refused after the token was accepted
    const call = (token) => stack.curl('/api/shopify/test-connection',
      { token, body: { shop_domain: 'not a shop', access_token: 'shpat_x' } });
    const userId = randomUUID();
    const good = await call(stack.mintToken({ userId }));
    assert.equal(good.status, 400, good.body);
    assert.equal(good.json.code, 'invalid_shop_domain');
    for (const [what, iss] of [['another issuer', 'https://evil.supabase.co/auth/v1'], ['no issuer', null],
      ['the issuer plus a slash', ISS + '/']]) {
      const bad = stack.mintToken({ sub: userId, iss });
      for (const time of ['first', 'second']) {
        const r = await call(bad);
        assert.equal(r.status, 401, `${what}, ${time} time: ${r.body}`);
        assert.equal(r.json.code, 'invalid_token', what);
      }
    }
    // the good token again (now cached) still passes
    assert.equal((await call(stack.mintToken({ userId }))).status, 400);
  });

  test('no token, code, state or secret in any log, nginx at info level', async () => {
    const userId = randomUUID();
    const token = stack.mintToken({ userId });
    const secrets = new Map([['the bearer token', token], ['its signature', token.split('.')[2]]]);
    const viaSite = { ...stack, url: site.url, curl: (p, o) => curlTo(site.url, stack.caFile, p, o) };
    for (const p of PROVIDERS) {
      const shop = await addShopRow(stack, userId, `edge-${p}-${randomBytes(3).toString('hex')}.myshopify.com`);
      const s = await start(viaSite, token, p, shop);
      assert.equal(s.status, 200, s.body);
      const cb = new URL(await consent(s.json.url));
      for (const [k, v] of cb.searchParams) if (v.length >= 8) secrets.set(`${p} callback ${k}`, v);
      assert.ok(cb.searchParams.get('code') && cb.searchParams.get('state'), cb.href);
      const r = await viaSite.curl(cb.pathname + cb.search);
      assert.equal(r.status, 302, `${p} callback: ${r.body}`);
      assert.match(r.headers.location, new RegExp(`[?&]${p}=connected`));
      // the same callback again (a replay) is refused: logged as an error
      // by the API, still no secret anywhere
      const again = await viaSite.curl(cb.pathname + cb.search);
      assert.match(again.headers.location ?? '', /[?&]error=/);
    }
    // a duplicate Authorization and an oversized one: nginx writes both
    // at info level, header value and all, unless the site keeps it out
    const dup = stack.mintToken({ userId });
    secrets.set('the duplicated token', dup.split('.')[2]);
    assertJsonError(await raw(site.httpsPort, `GET /api/shops HTTP/1.1\r\nHost: localhost\r\n` +
      `Authorization: Bearer ${dup}\r\nAuthorization: Bearer ${dup}\r\n\r\n`), 400, 'bad_request', 'duplicate');
    const big = 'Bearer ' + randomBytes(20000).toString('base64url');
    secrets.set('the oversized header', big.slice(7, 60));
    assertJsonError(await raw(site.httpsPort, `GET /api/shops HTTP/1.1\r\nHost: localhost\r\n` +
      `Authorization: ${big}\r\n\r\n`), 431, 'headers_too_large', 'oversized');
    // a callback with a code when the pool is away: nginx logs that error
    // with the request line, query string and all
    const down = await startSiteNginx(siteOpts(path.join(stack.dir, 'site-down-log'), {
      sock: path.join(stack.dir, 'no-such.sock'), origins: [DASHBOARD_ORIGIN],
    }));
    const lost = randomBytes(16).toString('hex');
    secrets.set('a code the pool never saw', lost);
    const r = await curlTo(down.url, stack.caFile, `/api/oauth/google/callback?code=${lost}&state=${lost}`);
    assert.equal(r.status, 502);
    await down.stop();
    await site.stop(); // flushes and closes every log
    const logs = [['the site', await site.allLogs()], ['the site with no pool', await down.allLogs()],
      ['reboss-api', await stack.apiLog()]];
    assert.match(logs[0][1], /\[info\]/, 'the error log is at info level');
    assert.match(logs[0][1], /"GET \/api\/oauth\/pinterest\/callback HTTP\/1.1" 302/, 'the callbacks are in the access log');
    for (const [where, text] of logs)
      for (const [what, secret] of secrets)
        assert.ok(!text.includes(secret), `${what} is in the log of ${where}`);
    site = await startSiteNginx(siteOpts(path.join(stack.dir, 'site-2'), { origins: [DASHBOARD_ORIGIN] }));
  });
});
