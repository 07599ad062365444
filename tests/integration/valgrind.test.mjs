// valgrind.test.mjs - the API worker and one job under valgrind (memcheck):
// no error and no definite leak in any process (issue 9, sanitizers).
//
//  - reboss-api --workers 1 (it serves in-process) behind the real nginx (harness.mjs) serves a
//    batch of mixed requests, then SIGTERM (harness stop()).
//  - reboss-sales-tracker --parallel 1 over two shops of the fake Shopify.
// valgrind follows fork() by itself; --trace-children=yes also follows any
// exec.  Every process writes its own log (%p), and every log must say
// "ERROR SUMMARY: 0 errors" and, when it has a leak summary,
// "definitely lost: 0 bytes".
//
// Needs a build WITHOUT ASan (valgrind and ASan do not mix): the binaries
// come from $REBOSS_VALGRIND_BUILDDIR, else $REBOSS_BUILDDIR.  run-all.sh
// sets REBOSS_VALGRIND_BUILDDIR to a plain build when it runs the rest
// under sanitizers, so CI runs this file once, for real.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REPO, startStack } from './harness.mjs';
import { createFakeShopify } from '../fakes/shopify.mjs';
import { startPostgres } from './lib/pg.mjs';

const bdir = process.env.REBOSS_VALGRIND_BUILDDIR || process.env.REBOSS_BUILDDIR ||
  path.join(REPO, 'build');

function whySkip() {
  try { execFileSync('valgrind', ['--version'], { stdio: 'ignore' }); } catch {
    return 'valgrind is not installed (apt-get install valgrind)';
  }
  let mk = '';
  try { mk = readFileSync(path.join(bdir, 'Makefile'), 'utf8'); } catch { /* no Makefile */ }
  if (/^SAN_CFLAGS = -fsanitize/m.test(mk))
    return `${bdir} is an ASan build, which cannot run under valgrind: set ` +
      'REBOSS_VALGRIND_BUILDDIR to a plain build (tests/run-all.sh does)';
  for (const b of ['fcgi/reboss-api', 'ctl/rebossctl', 'jobs/reboss-sales-tracker'])
    if (!existsSync(path.join(bdir, b))) return `${path.join(bdir, b)} is not built`;
  return false;
}
const SKIP = whySkip();

const VG = ['--tool=memcheck', '--trace-children=yes', '--child-silent-after-fork=no',
  '--leak-check=full', '--errors-for-leak-kinds=definite', '--error-exitcode=99',
  '--track-origins=yes', '--num-callers=30'];

let tmp;

// Reads every valgrind log under dir; asserts each is clean.
async function assertClean(dir, prefix, { min = 1 } = {}) {
  const files = (await fs.readdir(dir)).filter((f) => f.startsWith(prefix));
  assert.ok(files.length >= min, `${prefix}: at least ${min} valgrind log(s), found ${files.length}`);
  let summaries = 0;
  for (const f of files) {
    const t = await fs.readFile(path.join(dir, f), 'utf8');
    // A process that valgrind saw to its end printed its summary.
    const errs = t.match(/ERROR SUMMARY: (\d+) errors/g) || [];
    assert.equal(errs.length, 1, `${f}: one ERROR SUMMARY (the process ended under valgrind):\n${t.slice(-3000)}`);
    assert.match(t, /definitely lost: 0 bytes|no leaks are possible/, `${f}: a leak summary`);
    for (const e of errs) assert.match(e, /ERROR SUMMARY: 0 errors/, `${f}:\n${t.slice(0, 6000)}`);
    assert.doesNotMatch(t, /definitely lost: [1-9]/, `${f}:\n${t.slice(0, 6000)}`);
    assert.doesNotMatch(t, /Invalid (read|write|free)|uninitialised|Mismatched free|overlap/i,
      `${f}:\n${t.slice(0, 6000)}`);
    summaries += errs.length;
  }
  return { files: files.length, summaries };
}

describe('valgrind: API worker and one job', { skip: SKIP, timeout: 600_000 }, () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-vg-'));
  });
  after(async () => {
    if (tmp && !process.env.REBOSS_KEEP_TMP) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('reboss-api --workers 1: mixed requests, SIGTERM, no error, no definite leak', async () => {
    // A build dir for the harness whose reboss-api runs under valgrind;
    // rebossctl (migrate) is the real one.
    const wrap = path.join(tmp, 'wrap');
    const logs = path.join(tmp, 'api-logs');
    await fs.mkdir(path.join(wrap, 'fcgi'), { recursive: true });
    await fs.mkdir(path.join(wrap, 'ctl'), { recursive: true });
    await fs.mkdir(logs);
    await fs.symlink(path.join(bdir, 'ctl/rebossctl'), path.join(wrap, 'ctl/rebossctl'));
    const api = path.join(wrap, 'fcgi/reboss-api');
    await fs.writeFile(api, '#!/bin/sh\nexec valgrind ' +
      [...VG, `--log-file=${logs}/vg.%p.log`].map((a) => `'${a}'`).join(' ') +
      ` '${path.join(bdir, 'fcgi/reboss-api')}' "$@"\n`, { mode: 0o755 });

    const saved = process.env.REBOSS_BUILDDIR;
    process.env.REBOSS_BUILDDIR = wrap;
    let stack;
    try {
      stack = await startStack({ workers: 1 });
    } finally {
      if (saved === undefined) delete process.env.REBOSS_BUILDDIR;
      else process.env.REBOSS_BUILDDIR = saved;
    }
    let stopped = false;
    try {
      const domain = 'vg-shop.myshopify.com';
      const token = 'shpat_' + 'c3'.repeat(16);
      stack.fake.addShop({ domain, token, name: 'Valgrind Posters' });
      const user = randomUUID();
      const tok = stack.mintToken({ userId: user, email: 'vg@example.test' });
      const seen = [];
      const req = async (p, o, want) => {
        const r = await stack.curl(p, o);
        seen.push(r.status);
        if (want) assert.equal(r.status, want, `${o?.method || 'GET'} ${p}: ${r.body}`);
        return r;
      };
      for (let round = 0; round < 3; round++) {
        await req('/health', {}, null);
        await req('/api/shops', { token: tok }, null);
        await req('/api/shops', { token: 'not.a.jwt', body: { shop_domain: domain, access_token: token } }, 401);
        await req('/api/shops', { token: tok, body: '{"shop_domain": ', headers: { 'Content-Type': 'application/json' } }, 400);
        await req('/api/shops', { token: tok, body: { shop_domain: 'evil.com', access_token: token } }, null);
        await req('/api/nowhere', { token: tok }, 404);
        await req('/api/shops', { method: 'OPTIONS', origin: 'https://dashboard.test',
          headers: { 'Access-Control-Request-Method': 'POST' } }, null);
      }
      const created = await req('/api/shops', { token: tok, body: { shop_domain: domain, access_token: token } }, null);
      assert.ok([200, 201].includes(created.status), `POST /api/shops: ${created.status} ${created.body}`);
      const sid = created.json?.id || created.json?.shop?.id;
      if (sid) await req(`/api/shops/${sid}/integrations`, { token: tok }, null);
      assert.ok(!seen.includes(500), `no 500 among ${seen.join(',')}`);
      assert.ok(stack.apiAlive(), 'reboss-api still running');
      await stack.stop();
      stopped = true;
    } finally {
      if (!stopped) await stack.stop().catch(() => {});
    }
    // --workers 1 serves in the process itself (fcgi/main.c): one log.
    await assertClean(logs, 'vg.', { min: 1 });
  });

  test('reboss-sales-tracker --parallel 1 over two shops: no error, no definite leak', async () => {
    const pg = await startPostgres();
    const fake = await createFakeShopify({});
    const logs = path.join(tmp, 'job-logs');
    await fs.mkdir(logs);
    try {
      const conf = path.join(tmp, 'job.conf');
      await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
        `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
        `shopify_base_url = ${fake.baseUrlTemplate}`, ''].join('\n'), { mode: 0o600 });
      execFileSync(path.join(bdir, 'ctl/rebossctl'), ['--config', conf, 'migrate', '--sql-dir',
        path.join(REPO, 'sql')], { stdio: 'pipe' });
      for (const [domain, tz] of [['vg-a.myshopify.com', 'Europe/Berlin'], ['vg-b.myshopify.com', 'America/New_York']]) {
        const token = `shpat_${randomBytes(12).toString('hex')}`;
        fake.addShop({ domain, token, ianaTimezone: tz });
        const col = fake.addCollection(domain, { title: 'Posters' });
        const ps = [];
        for (let i = 0; i < 3; i++)
          ps.push(fake.addProduct(domain, { title: `P${i}`, price: `${10 + i}.00`, collections: [col] }));
        for (let i = 0; i < 5; i++)
          fake.addOrder(domain, { processedAt: new Date(Date.now() - (i + 1) * 86400_000).toISOString(),
            lines: [{ productId: ps[i % 3].id, quantity: 1 + i, price: ps[i % 3].variants[0].price }] });
        await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
          VALUES ('${randomUUID()}', gen_random_uuid(), '${domain}', '${token}')`);
      }
      const r = await new Promise((resolve) => execFile('valgrind',
        [...VG, `--log-file=${logs}/vg.%p.log`, path.join(bdir, 'jobs/reboss-sales-tracker'),
          '--config', conf, '--parallel', '1'],
        { env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '' }, timeout: 300_000 },
        (e, so, se) => resolve({ code: e ? e.code : 0, out: so + se })));
      assert.equal(r.code, 0, `job under valgrind: exit ${r.code}\n${r.out.slice(-3000)}`);
      const n = (await pg.psql(`SELECT count(*) FROM public.product_sales_daily`)).trim();
      assert.ok(Number(n) > 0, `the job did its work (${n} sales rows)`);
      // the parent and one worker per shop
      await assertClean(logs, 'vg.', { min: 3 });
    } finally {
      await fake.close();
      await pg.destroy();
    }
  });
});
