// status.test.mjs - `rebossctl status` is a table a person reads at the
// terminal's width ($COLUMNS, else the terminal's, else 80): with a long
// host name, long shop domains and a long error, no line is wider than the
// width, the table keeps its headers, and the error moves to its own line;
// a wide terminal shows every column; --json keeps everything in full.
// Shops that are not connected have a section of their own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { buildDir, REPO } from './harness.mjs';
import { startPostgres } from './lib/pg.mjs';

const run = promisify(execFile);
const HOST = 'worker-host-with-a-rather-long-name.eu-central.example.internal';
const DOMAIN = 'a-shop-with-a-very-long-name-for-tables.myshopify.com';
const ERROR = 'upstream_http: Shopify answered 503 Service Unavailable three times; ' +
  'the shop is retried on the next run (x-request-id 0123456789abcdef)';
// A shop whose owner must reconnect (lib/shop.c writes these): the jobs
// skip it, so it is not among the failing shops, but the operator sees it.
const REVOKED = 'revoked-shop.myshopify.com';
const REASON = 'Shopify refused the access token (HTTP 401) after one renewal; the owner must reconnect the shop.';
let dir, pg, conf;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reboss-status-'));
  await chmod(dir, 0o711);	// PostgreSQL runs as its own user
  pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
  conf = path.join(dir, 'reboss.conf');
  await writeFile(conf, `database_url = ${pg.conninfo}\ntoken_key = ${crypto.randomBytes(32).toString('hex')}\n` +
    'jwt_secret = status-test\n', { mode: 0o600 });
  await run(path.join(buildDir(), 'ctl/rebossctl'), ['--config', conf, 'migrate'],
    { env: { ...process.env, REBOSS_SQLDIR: path.join(REPO, 'sql') } });
  await pg.psql(`
    INSERT INTO public.shops (id, user_id, shop_domain) VALUES
      ('00000000-0000-4000-8000-0000000000e1', gen_random_uuid(), '${DOMAIN}');
    INSERT INTO public.job_runs (id, job_type, status, started_at, completed_at, shops_processed, shops_failed, host)
      VALUES ('11111111-2222-4333-8444-555555555555', 'product_optimize', 'completed_with_errors',
              now() - interval '26 hours', now() - interval '1 hour', 1234, 56, '${HOST}');
    INSERT INTO public.shop_job_status (shop_id, job_type, last_run_at, last_status, last_error, consecutive_failures)
      VALUES ('00000000-0000-4000-8000-0000000000e1', 'product_optimize', now(), 'failed', '${ERROR}', 3);
    INSERT INTO public.shops (id, user_id, shop_domain, connection_status, connection_reason, connection_changed_at)
      VALUES ('00000000-0000-4000-8000-0000000000e2', gen_random_uuid(), '${REVOKED}', 'reauthorize_required',
              '${REASON}', now() - interval '2 hours');`);
});

after(async () => {
  if (pg) await pg.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function status(columns, ...args) {
  const env = { ...process.env };
  if (columns) env.COLUMNS = String(columns);
  else delete env.COLUMNS;
  const { stdout } = await run(path.join(buildDir(), 'ctl/rebossctl'), ['--config', conf, 'status', ...args], { env });
  return stdout;
}

const widest = (out) => Math.max(...out.split('\n').map((l) => [...l].length));

describe('rebossctl status', () => {
  test('at 80 columns (the default off a terminal): a table within 80, the error below its row', async () => {
    for (const out of [await status(null), await status(80)]) {
      assert.ok(widest(out) <= 80, `wider than 80:\n${out}`);
      assert.match(out, /^JOB\s+STARTED \(UTC\)\s+TOOK\s+STATUS\s+SHOPS\s+FAILED/m);
      assert.match(out, /^product_optimize\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+1d01h\s+completed_with_errors\s+1234\s+56/m, out);
      assert.match(out, /^a-shop-with-a-very-long-name\S*\s+product_optimize\s+failed/m, out);
      assert.match(out, /^ {4}upstream_http: Shopify answered 503/m, 'the error on its own line');
      assert.match(out, /^Shops not connected/m, out);
      assert.match(out, /^revoked-shop\.myshopify\.com\s+reauthorize_required/m, out);
      assert.match(out, /^ {4}Shopify refused the access token/m, 'the reason on its own line');
      assert.doesNotMatch(out, new RegExp(`^${DOMAIN}\\s+connected`, 'm'), 'connected shops are not listed');
    }
  });

  test('a wide terminal gets every column on one line', async () => {
    const out = await status(250);
    assert.ok(widest(out) > 120, out);
    assert.match(out, /\s+HOST\s+RUN$/m);
    assert.match(out, /\s11111111$/m, 'the run id, short');
    assert.match(out, /\s3\s+upstream_http: Shopify answered 503 Service Unavailable/m);
  });

  test('--json keeps the full data', async () => {
    const j = JSON.parse(await status(40, '--json'));
    const r = j.runs.find((x) => x.job_type === 'product_optimize');
    assert.equal(r.id, '11111111-2222-4333-8444-555555555555');
    assert.equal(r.host, HOST);
    assert.match(r.started_at, /:\d\dZ$/, 'with seconds');
    assert.equal(j.failing_shops[0].last_error, ERROR);
    assert.equal(j.failing_shops[0].shop_domain, DOMAIN);
    assert.deepEqual(j.shops_not_connected.map((x) => [x.shop_domain, x.connection_status, x.reason]),
      [[REVOKED, 'reauthorize_required', REASON]], 'only the shop that is not connected');
    assert.match(j.shops_not_connected[0].since, /:\d\dZ$/);
  });
});
