// metrics.test.mjs - the Prometheus textfile metrics beyond the run summary
// (issue 10): upstream requests/errors/rate-limit waits of a job run,
// counted across its forked workers, and the API's per-route counters and
// latency histogram written by the pool supervisor (reboss_api.prom).
// Both files must pass `promtool check metrics` (Debian package prometheus).
//
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/metrics.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createFakeShopify } from '../fakes/shopify.mjs';
import { startPostgres } from './lib/pg.mjs';
import { startStack } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const tracker = path.join(buildDir, 'jobs', 'reboss-sales-tracker');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function execp(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...env },
      timeout: 300_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function promtool(file) {
  const r = await new Promise((resolve) => {
    const c = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, out: stdout + stderr }));
    fs.readFile(file).then((b) => c.stdin.end(b));
  });
  assert.notEqual(r.code, 'ENOENT', 'promtool is needed: apt-get install prometheus');
  assert.equal(r.code, 0, `promtool check metrics: ${r.out}`);
  assert.equal(r.out.trim(), '', `promtool has remarks: ${r.out}`);
}

/** Every sample of the text as { name, labels: {}, value }. */
function samples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function value(list, name, labels) {
  const hit = list.filter((s) => s.name === name &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hit.length, 1, `exactly one ${name} ${JSON.stringify(labels)}`);
  return hit[0].value;
}

describe('job upstream metrics', () => {
  let pg; let fake; let tmp; let conf; let metricsDir;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-metrics-'));
    metricsDir = path.join(tmp, 'metrics');
    await fs.mkdir(metricsDir);
    pg = await startPostgres();
    fake = await createFakeShopify({ restoreRate: 20000, bucketSize: 2000 });
    conf = path.join(tmp, 'reboss.conf');
    await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
      `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
      `shopify_base_url = ${fake.baseUrlTemplate}`, `metrics_dir = ${metricsDir}`, ''].join('\n'));
    const m = await execp(rebossctl, ['--config', conf, 'migrate', '--sql-dir', path.join(srcDir, 'sql')]);
    assert.equal(m.code, 0, `migrate: ${m.stdout}${m.stderr}`);
  });

  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  async function addShop(domain, mode) {
    const token = `shpat_${randomBytes(12).toString('hex')}`;
    fake.addShop({ domain, token, ianaTimezone: 'Europe/Berlin', currency: 'EUR' });
    const p = fake.addProduct(domain, { title: 'Thing', price: '12.50' });
    for (let i = 0; i < 3; i++) {
      fake.addOrder(domain, { processedAt: new Date(Date.now() - (i + 1) * 86400_000).toISOString(),
        lines: [{ productId: p.id, quantity: 1 + i, price: p.variants[0].price }] });
    }
    if (mode) fake.setMode(domain, mode);
    await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
      VALUES ('${randomUUID()}', gen_random_uuid(), '${domain}', '${token}')`);
  }

  test('a full sales run counts every Shopify request, the 429s and the waits', async () => {
    await addShop('m-plain.myshopify.com');
    await addShop('m-throttled.myshopify.com', { throttleNext: 1 });	// GraphQL THROTTLED once
    await addShop('m-429.myshopify.com', { status: 429, retryAfter: '0.1' });	// HTTP 429 always
    const before = fake.requests.length;
    const r = await execp(tracker, ['--config', conf]);
    assert.ok(r.code === 0 || r.code === 1, `the run ended (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    const file = path.join(metricsDir, 'reboss_sales_tracker.prom');
    const text = await fs.readFile(file, 'utf8');
    const s = samples(text);
    const sent = fake.requests.slice(before);
    const n429 = sent.filter((e) => e.status === 429).length;
    const job = { job: 'sales_tracker' };
    const reqs = value(s, 'reboss_job_last_run_upstream_requests', { ...job, service: 'shopify' });
    assert.ok(reqs > 0, 'Shopify requests were counted');
    assert.equal(reqs, sent.length, 'one count per request the fake received (all workers)');
    assert.ok(n429 >= 2, `the 429 shop was retried (${n429})`);
    assert.equal(value(s, 'reboss_job_last_run_upstream_errors', { ...job, service: 'shopify' }), n429,
      'errors are the 429 answers');
    assert.ok(sent.some((e) => e.throttled), 'the fake throttled one query');
    const waited = value(s, 'reboss_job_last_run_upstream_rate_limit_wait_seconds', { ...job, service: 'shopify' });
    // Retry-After 0.1 s for each retried 429, plus at least one cost-bucket wait.
    assert.ok(waited >= 0.1 * (n429 - 1), `waited ${waited} s on rate limits`);
    for (const svc of ['pinterest', 'openai', 'google', 'meta', 'other']) {
      assert.equal(value(s, 'reboss_job_last_run_upstream_requests', { ...job, service: svc }), 0, svc);
    }
    assert.equal(value(s, 'reboss_job_last_run_shops', { ...job, state: 'failed' }), 1, 'the 429 shop failed');
    assert.equal(value(s, 'reboss_job_last_run_upstream_deprecated', { ...job, service: 'shopify' }), 0,
      'nothing deprecated is used');
    await promtool(file);
  });

  // Shopify's X-Shopify-API-Deprecated-Reason: counted per answer in the
  // run's metrics and surfaced by rebossctl check as a WARNING (the old
  // job ignored the header: no series, no warning).
  test('X-Shopify-API-Deprecated-Reason answers are counted and rebossctl check warns', async () => {
    fake.reset();
    await pg.psql('DELETE FROM public.shops');
    await addShop('m-deprecated.myshopify.com', { deprecatedVersion: true });
    const r = await execp(tracker, ['--config', conf]);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stderr, /X-Shopify-API-Deprecated-Reason: https:\/\/shopify\.dev\//, 'the reason is logged');
    const file = path.join(metricsDir, 'reboss_sales_tracker.prom');
    const s = samples(await fs.readFile(file, 'utf8'));
    const sent = fake.requests.filter((e) => e.shop === 'm-deprecated.myshopify.com' && e.status === 200);
    assert.ok(sent.length > 0);
    assert.equal(value(s, 'reboss_job_last_run_upstream_deprecated', { job: 'sales_tracker', service: 'shopify' }),
      sent.length, 'one count per flagged answer');
    await promtool(file);
    const c = await execp(rebossctl, ['--config', conf, 'check', '--sql-dir', path.join(srcDir, 'sql')]);
    assert.match(c.stdout, new RegExp(`Shopify said ${sent.length} calls of the last runs use something deprecated \\(sales_tracker;`),
      c.stdout);
    assert.match(c.stdout, new RegExp(`shopify_deprecated=${sent.length};0;;0`));
  });
});

describe('API metrics (pool supervisor)', () => {
  let stack; let metricsDir; let tmp;
  const file = () => path.join(metricsDir, 'reboss_api.prom');

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-apimetrics-'));
    metricsDir = path.join(tmp, 'metrics');
    await fs.mkdir(metricsDir);
    process.env.REBOSS_API_METRICS_SEC = '1';
    stack = await startStack({ workers: 3, metricsDir });
  });

  after(async () => {
    delete process.env.REBOSS_API_METRICS_SEC;
    await stack?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('per-route counts by status class and a latency histogram; promtool accepts it', async () => {
    // What startStack sent already (health polls) is counted too: read
    // the baseline, then send a known set.
    await sleep(1500);
    const base = samples(await fs.readFile(file(), 'utf8'));
    const get = (list, route, code, method = 'GET') => {
      const hit = list.find((x) => x.name === 'reboss_api_requests_total' && x.labels.route === route &&
        x.labels.code === code && x.labels.method === method);
      return hit ? hit.value : 0;
    };
    const histCount = (list, route, method = 'GET') => value(list,
      'reboss_api_request_duration_seconds_count', { method, route });
    const h0 = get(base, '/health', '2xx');
    const hc0 = histCount(base, '/health');
    const u0 = get(base, 'unmatched', '4xx', '');
    const a0 = get(base, '/api/shops/{id}/integrations', '4xx');

    for (let i = 0; i < 7; i++) assert.equal((await stack.curl('/health')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await stack.curl(`/api/nope/${i}`)).status, 404);
    for (let i = 0; i < 2; i++) {
      assert.equal((await stack.curl(`/api/shops/${randomUUID()}/integrations`)).status, 401);
    }

    let s;
    const end = Date.now() + 120_000; // a guard against a hang, not a measure
    for (;;) {
      s = samples(await fs.readFile(file(), 'utf8'));
      if (get(s, '/health', '2xx') >= h0 + 7 && get(s, 'unmatched', '4xx', '') >= u0 + 3 &&
        get(s, '/api/shops/{id}/integrations', '4xx') >= a0 + 2) break;
      assert.ok(Date.now() < end, 'the supervisor rewrites reboss_api.prom every REBOSS_API_METRICS_SEC');
      await sleep(300);
    }
    assert.equal(get(s, '/health', '2xx'), h0 + 7, '/health 2xx');
    assert.equal(get(s, 'unmatched', '4xx', ''), u0 + 3, 'unknown paths count as unmatched, not by path');
    assert.equal(get(s, '/api/shops/{id}/integrations', '4xx'), a0 + 2, 'the pattern, not the raw path');
    assert.ok(!s.some((x) => /\/api\/nope|[0-9a-f]{8}-[0-9a-f]{4}/.test(x.labels.route ?? '')), 'no raw paths');
    assert.equal(histCount(s, '/health'), hc0 + 7, 'histogram count');
    const inf = value(s, 'reboss_api_request_duration_seconds_bucket', { method: 'GET', route: '/health', le: '+Inf' });
    assert.equal(inf, histCount(s, '/health'), '+Inf bucket = count');
    const le10 = value(s, 'reboss_api_request_duration_seconds_bucket', { method: 'GET', route: '/health', le: '10' });
    assert.ok(le10 <= inf && le10 > 0, 'cumulative buckets');
    assert.equal(value(s, 'reboss_api_workers_alive', {}), 3, 'three workers alive');
    assert.equal(value(s, 'reboss_api_worker_restarts_total', {}), 0, 'no restarts yet');
    await promtool(file());
  });

  test('a killed worker is replaced and counted as a restart; the file survives the stop', async () => {
    const [pid] = await stack.apiWorkerPids();
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 120_000; // a guard against a hang, not a measure
    let s;
    for (;;) {
      s = samples(await fs.readFile(file(), 'utf8'));
      if (value(s, 'reboss_api_worker_restarts_total', {}) === 1 && value(s, 'reboss_api_workers_alive', {}) === 3) break;
      assert.ok(Date.now() < end, `restart counted: ${JSON.stringify(s.filter((x) => x.name.includes('worker')))}`);
      await sleep(300);
    }
    assert.equal((await stack.curl('/health')).status, 200);
    const h = value(s, 'reboss_api_request_duration_seconds_count', { method: 'GET', route: '/health' });
    await stack.stop();
    // At shutdown the supervisor writes once more, after its workers ended.
    const last = samples(await fs.readFile(file(), 'utf8'));
    assert.equal(value(last, 'reboss_api_workers_alive', {}), 0, 'written after the workers stopped');
    assert.ok(value(last, 'reboss_api_request_duration_seconds_count', { method: 'GET', route: '/health' }) >= h + 1,
      'the last request is in the final file');
    await promtool(file());
  });
});
