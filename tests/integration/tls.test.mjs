// tls.test.mjs - upstream HTTPS: the certificate of the service a job or the
// API talks to is verified against ca_file (or the system's CAs), with the
// trusted CAs loaded once per process and shared by every connection
// (lib/http.c, http_ca_preload: the job's parent loads them before its
// workers fork).  The fake Shopify sits behind a TLS front made here with a
// throwaway CA (lib/tls.mjs: a certificate for localhost and 127.0.0.1).
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/tls.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createFakeShopify } from '../fakes/shopify.mjs';
import { startPostgres } from './lib/pg.mjs';
import { makeTls } from './lib/tls.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const tracker = path.join(buildDir, 'jobs', 'reboss-sales-tracker');
const DOMAIN = 'tls-shop.myshopify.com';

let pg; let fake; let tmp; let tls; let otherCa; let shopId;
const fronts = [];
let served = 0; // requests that got through TLS to the fake
// One key for every config: the first run seals the shop's token with it.
const TOKEN_KEY = randomBytes(32).toString('hex');
const JWT_SECRET = randomBytes(32).toString('hex');

// A TLS front on host:0 that passes every request on to the fake.
function tlsFront(host) {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    served += 1;
    const up = http.request(`${fake.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, host, () => {
    fronts.push(server);
    resolve(server.address().port);
  }));
}

function run(conf, args) {
  return new Promise((resolve) => {
    execFile(tracker, ['--config', conf, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '' }, timeout: 120_000,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function config(name, baseUrl, caFile) {
  const conf = path.join(tmp, `${name}.conf`);
  await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
    `token_key = ${TOKEN_KEY}`, `jwt_secret = ${JWT_SECRET}`,
    `shopify_base_url = ${baseUrl}`, caFile ? `ca_file = ${caFile}` : '', ''].join('\n'));
  return conf;
}

async function status() {
  const out = (await pg.psql(`SELECT row_to_json(t) FROM (SELECT last_status, last_error
    FROM public.shop_job_status WHERE shop_id = '${shopId}' AND job_type = 'sales_tracker') t`)).trim();
  return out ? JSON.parse(out) : null;
}

const products = async () => Number((await pg.psql(`SELECT count(*) FROM public.products
  WHERE shop_id = '${shopId}'`)).trim());

describe('upstream TLS', () => {
  let port; let port2;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-tls-'));
    await fs.mkdir(path.join(tmp, 'a'));
    await fs.mkdir(path.join(tmp, 'b'));
    const t = await makeTls(path.join(tmp, 'a'));
    tls = { ...t, cert: await fs.readFile(t.certFile), key: await fs.readFile(t.keyFile) };
    otherCa = (await makeTls(path.join(tmp, 'b'))).caFile;
    pg = await startPostgres();
    fake = await createFakeShopify({});
    const token = `shpat_${randomBytes(12).toString('hex')}`;
    fake.addShop({ domain: DOMAIN, token, ianaTimezone: 'Europe/Paris' });
    const col = fake.addCollection(DOMAIN, { title: 'All' });
    for (let i = 0; i < 3; i++) fake.addProduct(DOMAIN, { title: `P${i}`, price: '12.00', collections: [col] });
    port = await tlsFront('127.0.0.1');
    port2 = await tlsFront('127.0.0.2'); // an address the certificate does not name
    const conf = await config('migrate', 'https://localhost/{shop}', null);
    const m = await new Promise((resolve) => execFile(rebossctl, ['--config', conf, 'migrate', '--sql-dir',
      path.join(srcDir, 'sql')], (e, so, se) => resolve({ code: e ? e.code : 0, out: so + se })));
    assert.equal(m.code, 0, `migrate: ${m.out}`);
    shopId = randomUUID();
    await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
      VALUES ('${shopId}', gen_random_uuid(), '${DOMAIN}', '${token}')`);
  });

  after(async () => {
    for (const s of fronts) { s.closeAllConnections(); s.close(); }
    await fake?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  // Refused before anything is sent, and the shop's error says why.
  const refusals = [
    ['a certificate from another CA', () => config('other', `https://localhost:${port}/{shop}`, otherCa)],
    ['no ca_file: the system CAs alone, which do not know the test CA',
      () => config('system', `https://localhost:${port}/{shop}`, null)],
    ['a host the certificate does not name, even with the right CA',
      () => config('host', `https://127.0.0.2:${port2}/{shop}`, tls.caFile)],
  ];
  for (const [what, conf] of refusals) {
    test(`refused: ${what}`, async () => {
      served = 0;
      const r = await run(await conf(), ['--shop', DOMAIN]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(served, 0, 'nothing reached the fake');
      assert.equal(fake.requests.length, 0);
      const st = await status();
      assert.equal(st.last_status, 'failed');
      assert.match(st.last_error, /could not be reached securely: its TLS certificate was not accepted/);
      assert.equal(await products(), 0);
    });
  }

  test('with ca_file naming the CA: the shop is read over TLS, by a worker of a parent that loaded the CAs', async () => {
    const conf = await config('right', `https://localhost:${port}/{shop}`, tls.caFile);
    served = 0;
    const r = await run(conf, ['--shop', DOMAIN, '--parallel', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(served >= 3, `requests over TLS: ${served}`);
    assert.equal((await status()).last_status, 'success');
    assert.equal(await products(), 3);
    assert.deepEqual(fake.validationErrors, []);
    assert.doesNotMatch(r.stderr, /could not be loaded/);
  });

  test('a ca_file that cannot be read: each connection tries it itself, and fails closed', async () => {
    const conf = await config('missing', `https://localhost:${port}/{shop}`, path.join(tmp, 'no-such-ca.pem'));
    served = 0;
    const r = await run(conf, ['--shop', DOMAIN]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /could not be loaded/);
    assert.equal(served, 0, 'nothing reached the fake');
    assert.equal((await status()).last_status, 'failed');
  });
});
