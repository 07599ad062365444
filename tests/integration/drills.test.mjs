// drills.test.mjs - fault drills over the real stack (issue 9): PostgreSQL
// restarted under a job and under API traffic, an upstream that resets,
// truncates and trickles, SIGKILL of a whole job process, two hosts at once,
// a full disk where a job writes files, 1,000 concurrent API requests.
//
// Each drill prints one line "DRILL n | what was done | what the system did |
// what was checked" with t.diagnostic(), and the table is also written to
// $REBOSS_BUILDDIR/drills.md.  Covered elsewhere and not repeated here (see
// jobs.test.mjs): a worker killed with SIGKILL, SIGTERM mid-run (and workers
// that ignore it), two copies of a job at once on one host, a dead host's
// leases, the database away for a moment under the job runtime's probe.
//
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/drills.test.mjs
// Needs root for drill 5 (unshare --uts) and drill 6 (mount -t tmpfs).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { connection, gid, isoNow, parseGid } from '../fakes/shopify.mjs';
import { makeCatalogResolvers } from '../fakes/shopify_catalog.mjs';
import { REPO, buildDir, childPids, startStack } from './harness.mjs';
import { startPostgres } from './lib/pg.mjs';
import { expectedSalesDaily } from './lib/sales_expect.mjs';

const execp = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DAY = 86400_000;
const BDIR = buildDir();
const tracker = path.join(BDIR, 'jobs', 'reboss-sales-tracker');
const rebossctl = path.join(BDIR, 'ctl', 'rebossctl');
const creator = path.join(BDIR, 'jobs', 'reboss-product-creation');

let S;            // the stack (harness.mjs)
let caPem;
let pg2;          // a second cluster for the trickle job (see before())
let conf2;
const table = [];
const shops = new Map(); // domain -> { id, pg, tz }

// ------------------------------------------------------------ helpers ---

async function waitFor(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function rows(pg, sql) {
  const out = (await pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}
const one = async (pg, sql) => (await rows(pg, sql))[0];
const sqlStr = (s) => `'${String(s).replace(/'/g, "''")}'`;

// Deterministic pseudo-random numbers (mulberry32).
let seed = 9001;
function rnd() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// A shop in the fake and in the database pg (plain token: the job seals it).
async function addShop(pg, domain, { products = 3, orders = 25, tz = 'Europe/Berlin' } = {}) {
  const fake = S.fake;
  const token = `shpat_${randomBytes(12).toString('hex')}`;
  fake.addShop({ domain, token, ianaTimezone: tz, currency: 'EUR' });
  const ps = [];
  for (let i = 0; i < products; i++) ps.push(fake.addProduct(domain, { title: `P${i}`, price: `${12 + i}.40` }));
  const now = Date.now();
  for (let i = 0; i < orders; i++) {
    const t = now - Math.floor(rnd() * 40) * DAY - Math.floor(rnd() * DAY);
    const lines = [];
    for (let j = 0, n = 1 + Math.floor(rnd() * 3); j < n; j++) {
      const p = ps[Math.floor(rnd() * ps.length)];
      lines.push({ productId: p.id, quantity: 1 + Math.floor(rnd() * 3), price: p.variants[0].price,
        discount: rnd() < 0.3 ? '0.75' : '0.00' });
    }
    fake.addOrder(domain, { processedAt: new Date(t).toISOString(), lines });
  }
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
    VALUES ('${id}', gen_random_uuid(), ${sqlStr(domain)}, ${sqlStr(token)})`);
  shops.set(domain, { id, pg, tz, token });
  return shops.get(domain);
}

// Only this drill's shops are connected (a full run takes every shop).
async function freshShops(pg, prefix, n, opts) {
  await pg.psql('TRUNCATE public.job_leases, public.shop_job_status, public.job_runs, public.shops CASCADE');
  const out = [];
  for (let i = 1; i <= n; i++) {
    const d = `${prefix}-${i}.myshopify.com`;
    await addShop(pg, d, opts);
    out.push(d);
  }
  return out;
}

// product_sales_daily as the fake's orders say it must be (as sales.test.mjs).
const expected = (domain) => expectedSalesDaily(S.fake.getShop(domain));

async function actual(domain) {
  const s = shops.get(domain);
  return rows(s.pg, `SELECT product_id, day::text AS day, units, (revenue * 100)::bigint AS cents, orders
    FROM public.product_sales_daily WHERE shop_id = '${s.id}' ORDER BY product_id, day`);
}

async function assertExact(domains) {
  for (const d of domains) {
    const want = expected(d);
    assert.ok(want.length > 0, `${d}: the drill has sales to compare`);
    assert.deepEqual(await actual(d), want, `${d}: product_sales_daily is exact`);
  }
}

async function statusOf(pg) {
  return rows(pg, `SELECT s.shop_domain, j.last_status, j.last_error FROM public.shop_job_status j
    JOIN public.shops s ON s.id = j.shop_id WHERE j.job_type = 'sales_tracker' ORDER BY 1`);
}

// How many times each shop was read (one OrdersCount query per processing).
function readsPerShop(from) {
  const m = new Map();
  for (const q of S.fake.requests.slice(from)) {
    if (/query OrdersCount/.test(q.query ?? '')) m.set(q.shop, (m.get(q.shop) ?? 0) + 1);
  }
  return m;
}

// Starts the sales tracker; .done -> { code, signal, out, ms }.
function startTracker(args = [], { env = {}, conf = S.confFile, hostname = null, limitMs = 200_000,
  program = tracker, group = false } = {}) {
  const t0 = Date.now();
  let file = program;
  let argv = ['--config', conf, ...args];
  if (hostname) {
    // Another host: a new UTS namespace with its own hostname (the runtime
    // takes job_runs.host and job_leases.host from gethostname()).
    file = 'unshare';
    argv = ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname, program, ...argv];
  }
  const child = spawn(file, argv, {
    env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', REBOSS_JOB_GRACE_SEC: '5', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // group: its own process group, so one kill(-pgid) reaches the job and
    // every worker in the same instant, as systemd's cgroup kill does.
    detached: group,
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const guard = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, limitMs);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, out, ms: Date.now() - t0 });
    });
  });
  return { child, done };
}
const runTracker = (args, opts) => startTracker(args, opts).done;

// One HTTPS request through nginx, a new connection each (agent: false).
// Never rejects: a transport failure is status 0 with .error.
function api(method, p, { token, body, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (data) { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = data.length; }
    let settled = false;
    const fin = (r) => { if (!settled) { settled = true; resolve({ ...r, method, path: p, ms: Date.now() - t0 }); } };
    const req = https.request(S.url + p, { method, ca: caPem, agent: false, headers, timeout: timeoutMs });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => fin({ status: 0, error: e.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        fin({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => fin({ status: 0, error: e.message }));
    req.end(data ?? undefined);
  });
}

// The project's error shape: exactly {success:false, error:"A sentence.", code}.
function errorShapeProblem(r) {
  const j = r.json;
  if (!/^application\/json/.test(r.headers?.['content-type'] ?? '')) return `content-type ${r.headers?.['content-type']}`;
  if (!j || typeof j !== 'object' || Array.isArray(j)) return 'not a JSON object';
  if (Object.keys(j).sort().join(',') !== 'code,error,success') return `keys ${Object.keys(j)}`;
  if (j.success !== false) return 'success is not false';
  if (typeof j.error !== 'string' || !/^[A-Za-z"].{8,}[.!?]$/s.test(j.error)) return `error is not a sentence: ${j.error}`;
  if (!/^[a-z][a-z0-9_]*$/.test(j.code)) return `code ${j.code}`;
  return null;
}

function histogram(results) {
  const m = new Map();
  for (const r of results) {
    const k = r.status === 0 ? 'transport-error' : `${r.status}${r.json?.code ? ` ${r.json.code}` : ''}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].sort().map(([k, n]) => `${n}x ${k}`).join(', ');
}

// Runs fn over items with at most n at once.
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// Shops a POST /api/shops may connect: in the fake, not in the database.
function fakeOnlyShops(prefix, n) {
  const out = [];
  for (let i = 1; i <= n; i++) {
    const domain = `${prefix}-${i}.myshopify.com`;
    const token = `shpat_${randomBytes(12).toString('hex')}`;
    S.fake.addShop({ domain, token, name: `Shop ${prefix} ${i}` });
    out.push({ domain, token });
  }
  return out;
}

// No lost write, nothing half-stored: every 201 is stored, complete, and
// owned by the user who asked; every stored row of the batch is complete.
async function checkShopWrites(prefix, results, reqs) {
  const stored = await rows(S.pg, `SELECT shop_domain, user_id, access_token LIKE 'rbs1:%' AS sealed,
    shop_name FROM public.shops WHERE shop_domain LIKE '${prefix}-%' ORDER BY 1`);
  const byDomain = new Map(stored.map((x) => [x.shop_domain, x]));
  let created = 0; let ambiguous = 0;
  for (let i = 0; i < reqs.length; i++) {
    const r = results[i];
    const row = byDomain.get(reqs[i].domain);
    if (r.status === 201) {
      created += 1;
      assert.ok(row, `${reqs[i].domain} got 201 but is not in the database`);
      assert.equal(r.json?.shop?.shop_domain, reqs[i].domain);
      assert.equal(row.user_id, reqs[i].user);
    } else if (row) {
      ambiguous += 1; // refused, yet committed: must then be whole
    }
  }
  assert.ok(stored.length <= reqs.length);
  for (const x of stored) {
    assert.equal(x.sealed, true, `${x.shop_domain}: token sealed`);
    assert.ok(x.shop_name, `${x.shop_domain}: shop_name stored`);
  }
  return { created, stored: stored.length, ambiguous };
}

// Records the drill's row (also when it fails) and prints it.
function drill(n, name, fn) {
  test(`drill ${n}: ${name}`, async (t) => {
    const row = { n, name, did: '', system: '', checked: '' };
    try {
      await fn(row);
      row.result = 'pass';
    } catch (e) {
      row.result = `FAIL: ${String(e.message).split('\n')[0].slice(0, 200)}`;
      throw e;
    } finally {
      table.push(row);
      t.diagnostic(`DRILL ${n} [${row.result}] ${name} | did: ${row.did} | system: ${row.system} | checked: ${row.checked}`);
    }
  });
}

async function writeTable() {
  const esc = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = ['# Fault drills (tests/integration/drills.test.mjs)', '',
    `Run ${new Date().toISOString()}, build ${BDIR}.`, '',
    '| # | drill | what was done | what the system did | checked afterwards (database, fakes) | result |',
    '|---|---|---|---|---|---|'];
  for (const r of [...table].sort((a, b) => String(a.n).localeCompare(String(b.n))))
    lines.push(`| ${esc(r.n)} | ${esc(r.name)} | ${esc(r.did)} | ${esc(r.system)} | ${esc(r.checked)} | ${esc(r.result)} |`);
  lines.push('', 'Covered in jobs.test.mjs and not repeated: worker SIGKILL, SIGTERM mid-run (and workers ' +
    'ignoring it), two copies on one host, a dead host\'s leases taken over, the database away under the probe job.', '');
  await fs.writeFile(path.join(BDIR, 'drills.md'), lines.join('\n'));
}

// ------------------------------------------------------------- drills ---

// The trickle drill needs 4 x 30 s (Shopify client timeout x attempts): it
// starts here, runs beside the others and is checked last (drill 3b).  Its
// job uses a second PostgreSQL cluster so that its lease does not hold up
// the full runs of the other drills, and so the restarts of drills 1 and 2
// do not touch it.
const trickle = {};

describe('fault drills', () => {
  before(async () => {
    S = await startStack({ workers: 4 });
    caPem = await fs.readFile(S.caFile);

    pg2 = await startPostgres({ baseDir: path.join(S.dir, 'pg2') });
    conf2 = path.join(S.dir, 'reboss2.conf');
    await fs.writeFile(conf2, Object.entries({ ...S.config, database_url: pg2.conninfo })
      .map(([k, v]) => `${k} = ${v}`).join('\n') + '\n', { mode: 0o600 });
    await execp(rebossctl, ['--config', conf2, 'migrate', '--sql-dir', path.join(REPO, 'sql')],
      { env: { ...process.env, REBOSS_CONFIG: '' } });
    trickle.ok = await freshShops(pg2, 'd3t-ok', 3, { orders: 15 });
    trickle.bad = 'd3t-trickle.myshopify.com';
    await addShop(pg2, trickle.bad, { orders: 15 });
    S.fake.setMode(trickle.bad, { trickle: true, trickleMs: 1000 });
    trickle.mark = S.fake.requests.length;
    trickle.job = startTracker(['--parallel', '4'], { conf: conf2 });
    // The API route against a trickling shop (no database needed).
    const api3 = fakeOnlyShops('d3t-api', 1)[0];
    S.fake.setMode(api3.domain, { trickle: true, trickleMs: 1000 });
    trickle.apiDomain = api3.domain;
    trickle.api = api('POST', '/api/shopify/test-connection', {
      token: S.mintToken({ userId: randomUUID() }), body: { shop_domain: api3.domain, access_token: api3.token },
      timeoutMs: 180_000,
    });
  });

  after(async () => {
    try { if (S && !S.pg.running) await S.pg.start(); } catch { /* stop() below */ }
    try { trickle.job?.child.kill('SIGKILL'); } catch { /* gone */ }
    await writeTable().catch(() => {});
    await pg2?.destroy().catch(() => {});
    await S?.stop();
  });

  drill(1, 'PostgreSQL restarted in the middle of a sales_tracker run', async (row) => {
    const N = 40;
    const doms = await freshShops(S.pg, 'd1', N, { orders: 25 });
    for (const d of doms) S.fake.setMode(d, { delayMs: 150 });
    const job = startTracker(['--parallel', '8']);
    await waitFor('some shops done', async () =>
      (await one(S.pg, "SELECT count(*)::int AS n FROM public.shop_job_status WHERE last_status = 'success'")).n >= 6,
    30_000);
    const t0 = Date.now();
    await S.pg.stop();
    await sleep(1500);
    await S.pg.start();
    const down = Date.now() - t0;
    const r = await job.done;
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code} ${r.signal}: ${r.out.slice(-2000)}`);
    const run1 = await one(S.pg, 'SELECT * FROM public.job_runs ORDER BY started_at LIMIT 1');
    assert.equal(run1.status, r.code === 0 ? 'completed' : 'completed_with_errors');
    assert.equal(run1.shops_processed, N);
    assert.equal(run1.error_log.length, run1.shops_failed);
    // (The runtime says e.g. "The worker could not record its result in
    // the database (exited with status 9).")
    for (const e of run1.error_log) assert.match(e.error, /database/, e.error);
    const sample = run1.error_log[0]?.error ?? '';
    // The next run, upstream at full speed, converges.
    for (const d of doms) S.fake.setMode(d, null);
    const mark = S.fake.requests.length;
    const r2 = await runTracker(['--parallel', '8']);
    assert.equal(r2.code, 0, r2.out.slice(-2000));
    await assertExact(doms);
    const st = await statusOf(S.pg);
    assert.equal(st.length, N, 'every shop recorded');
    assert.ok(st.every((x) => x.last_status === 'success'));
    assert.equal(readsPerShop(mark).size, N);
    row.did = `${N} shops, Shopify slowed to 150 ms/request, --parallel 8; after 6 shops had succeeded, ` +
      `pg_ctl stop -m fast, 1.5 s, start (down ${down} ms)`;
    row.system = `run 1 exit ${r.code} ${run1.status}: ${N} processed, ${run1.shops_failed} failed` +
      (sample ? ` (e.g. "${sample.slice(0, 120)}")` : '') + `; run 2 exit 0 in ${r2.ms} ms`;
    row.checked = `job_runs counts; every error names the database; after run 2 product_sales_daily equals the independent ` +
      `computation for all ${N} shops, ${N} shop_job_status rows 'success', each shop read once by run 2`;
  });

  drill(2, 'PostgreSQL restarted in the middle of API traffic', async (row) => {
    const master = S.apiPid();
    const workers = await S.apiWorkerPids();
    const users = Array.from({ length: 4 }, () => randomUUID());
    const tokens = users.map((u) => S.mintToken({ userId: u }));
    const w = fakeOnlyShops('d2w', 400);
    // a shop to read the integrations of
    const seedShop = fakeOnlyShops('d2seed', 1)[0];
    const rs = await api('POST', '/api/shops', { token: tokens[0], body: { shop_domain: seedShop.domain, access_token: seedShop.token } });
    assert.equal(rs.status, 201, rs.body);
    const seedId = rs.json.shop.id;

    const results = []; const posts = []; const postResults = [];
    let stop = false; let k = 0; let phase = 'before';
    const loop = async () => {
      while (!stop) {
        const i = k++;
        let r;
        if (i % 3 === 0 && posts.length < w.length) {
          const u = i % users.length;
          const shop = w[posts.length];
          const req = { domain: shop.domain, user: users[u] };
          posts.push(req);
          const idx = posts.length - 1;
          r = await api('POST', '/api/shops', { token: tokens[u], body: { shop_domain: shop.domain, access_token: shop.token } });
          postResults[idx] = r;
        } else if (i % 3 === 1) {
          r = await api('GET', '/api/health');
        } else {
          r = await api('GET', `/api/shops/${seedId}/integrations`, { token: tokens[0] });
        }
        r.phase = phase;
        results.push(r);
      }
    };
    const loops = Array.from({ length: 12 }, loop);
    await sleep(1000);
    phase = 'down';
    await S.pg.stop();
    await sleep(1500);
    await S.pg.start();
    phase = 'after';
    await sleep(2500);
    stop = true;
    await Promise.all(loops);

    const bad = [];
    for (const r of results) {
      if (r.status === 0) { bad.push(`${r.method} ${r.path}: ${r.error}`); continue; }
      if (r.path === '/api/health') {
        if (!(r.status === 200 && r.json?.database === 'ok') && !(r.status === 503 && r.json?.database === 'unreachable'))
          bad.push(`health ${r.status} ${r.body.slice(0, 100)}`);
        continue;
      }
      const okStatus = r.method === 'POST' ? 201 : 200;
      if (r.status === okStatus) continue;
      const p = errorShapeProblem(r);
      if (r.status !== 503 || r.json?.code !== 'database_unavailable' || p)
        bad.push(`${r.method} ${r.path} ${r.status} ${r.body.slice(0, 160)}`);
    }
    assert.deepEqual(bad, [], 'only 200/201 or 503 database_unavailable');
    const maxMs = Math.max(...results.map((r) => r.ms));
    assert.ok(maxMs < 15_000, `no request hung (slowest ${maxMs} ms)`);
    assert.ok(results.some((r) => r.status === 503), 'the restart was seen (some 503)');
    const after = results.filter((r) => r.phase === 'after');
    assert.ok(after.slice(-20).every((r) => r.status === 200 || r.status === 201),
      `recovered: ${histogram(after.slice(-20))}`);
    assert.equal(S.apiPid(), master, 'same pool master');
    assert.deepEqual(await S.apiWorkerPids(), workers, 'same pool workers');
    const wr = await checkShopWrites('d2w', postResults, posts);
    row.did = `12 clients in a loop (GET /api/health, GET /api/shops/{id}/integrations, POST /api/shops for ` +
      `distinct shops), pool of 4; after 1 s pg_ctl stop -m fast, 1.5 s, start; 2.5 s more`;
    row.system = `${results.length} answers: ${histogram(results)}; slowest ${maxMs} ms; same master and ${workers.length} workers`;
    row.checked = `no 500/502/transport error; every 503 {success,error,code:database_unavailable}; ` +
      `POST /api/shops: ${wr.created} got 201 and all ${wr.created} are stored sealed with their owner; ` +
      `${wr.stored} rows in all, ${wr.ambiguous} refused-but-committed, none half-stored`;
  });

  drill(3, 'upstream resets connections and sends truncated JSON', async (row) => {
    const ok = await freshShops(S.pg, 'd3-ok', 6, { orders: 15 });
    const reset = 'd3-reset.myshopify.com';
    const trunc = 'd3-trunc.myshopify.com';
    await addShop(S.pg, reset, { orders: 15 });
    await addShop(S.pg, trunc, { orders: 15 });
    S.fake.setMode(reset, { reset: true });
    S.fake.setMode(trunc, { truncate: true });
    const mark = S.fake.requests.length;
    const r = await runTracker(['--parallel', '4'], { limitMs: 120_000 });
    assert.equal(r.code, 1, r.out.slice(-2000));
    const run = await one(S.pg, 'SELECT * FROM public.job_runs ORDER BY started_at DESC LIMIT 1');
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.shops_processed, 8);
    assert.equal(run.shops_failed, 2);
    const st = Object.fromEntries((await statusOf(S.pg)).map((x) => [x.shop_domain, x]));
    for (const d of ok) assert.equal(st[d].last_status, 'success', d);
    await assertExact(ok);
    assert.equal(st[reset].last_status, 'failed');
    assert.match(st[reset].last_error, /could not be reached|cut off|reset/i, st[reset].last_error);
    assert.equal(st[trunc].last_status, 'failed');
    assert.match(st[trunc].last_error, /cut off|truncat|not JSON|bad response/i, st[trunc].last_error);
    for (const d of [reset, trunc]) {
      assert.match(st[d].last_error, /^[A-Z].{8,}[.)]$/s, `a sentence: ${st[d].last_error}`);
      assert.ok(!st[d].last_error.includes(shops.get(d).token), 'no token in the error');
      assert.deepEqual(await actual(d), [], `${d}: nothing stored`);
    }
    const tries = (d) => S.fake.requests.slice(mark).filter((q) => q.shop === d).length;
    // The API: the same faults answer 502 in the error shape.
    const tok = S.mintToken({ userId: randomUUID() });
    const apiRes = {};
    for (const d of [reset, trunc]) {
      const a = await api('POST', '/api/shopify/test-connection', { token: tok,
        body: { shop_domain: d, access_token: shops.get(d).token } });
      assert.equal(a.status, 502, `${d}: ${a.status} ${a.body}`);
      assert.equal(errorShapeProblem(a), null, a.body);
      apiRes[d] = `${a.json.code} in ${a.ms} ms`;
    }
    // The next run converges.
    S.fake.setMode(reset, null);
    S.fake.setMode(trunc, null);
    const r2 = await runTracker(['--parallel', '4']);
    assert.equal(r2.code, 0, r2.out.slice(-2000));
    await assertExact([...ok, reset, trunc]);
    row.did = `8 shops, one answering with a third of the JSON then a TCP RST, one with half the JSON then ` +
      `a closed connection (Content-Length longer); the same two through POST /api/shopify/test-connection`;
    row.system = `run exit 1 in ${r.ms} ms, 6 shops success; reset shop (${tries(reset)} requests): ` +
      `"${st[reset].last_error}"; truncated shop (${tries(trunc)} requests): "${st[trunc].last_error}"; ` +
      `API: reset -> 502 ${apiRes[reset]}, truncated -> 502 ${apiRes[trunc]}`;
    row.checked = 'job_runs 8 processed / 2 failed; the 6 others exact; nothing in product_sales_daily for the ' +
      'failed two; no token in errors; API errors in the error shape; next run exit 0 and all 8 exact';
  });

  // whole: SIGKILL to the parent and every worker in the same instant (the
  // OOM killer, `systemctl kill -s KILL`); otherwise to the parent alone.
  const killDrill = (n, name, whole) => drill(n, name, async (row) => {
    const N = 24;
    const doms = await freshShops(S.pg, `d${n}`, N, { orders: 25 });
    for (const d of doms) S.fake.setMode(d, { delayMs: 250 });
    // One transaction per page of 10 orders (not per 100), so that a shop
    // can be caught with part of its orders stored.
    const env = { REBOSS_JOB_LEASE_SEC: '5', REBOSS_JOB_POLL_MS: '200', REBOSS_SALES_BATCH_ORDERS: '10' };
    const mark = S.fake.requests.length;
    const job = startTracker(['--parallel', '6'], { env, group: whole });
    // Kill when at least 4 shops are done and one is half-way: some of its
    // order pages are stored, the shop is not finished.
    const half = await waitFor('4 shops done and one half-way', async () => {
      const x = await one(S.pg, `SELECT (SELECT count(*)::int FROM public.shop_job_status
          WHERE last_status = 'success') AS done,
        (SELECT count(DISTINCT p.shop_id)::int FROM public.product_sales_daily p WHERE NOT EXISTS
          (SELECT 1 FROM public.shop_job_status j WHERE j.shop_id = p.shop_id)) AS half`);
      return x.done >= 4 && x.half >= 1 ? x : null;
    }, 30_000);
    const workers = await childPids(job.child.pid);
    assert.ok(workers.length > 0, 'workers running');
    // One by one would let PR_SET_PDEATHSIG reach a worker before its own
    // SIGKILL does; the group kill is atomic.
    if (whole) process.kill(-job.child.pid, 'SIGKILL');
    else job.child.kill('SIGKILL');
    const tKill = Date.now();
    const r = await job.done;
    assert.equal(r.signal, 'SIGKILL');
    await waitFor('the workers to die', async () => workers.every((p) => !alive(p)), 60_000);
    const workersGoneMs = Date.now() - tKill;
    const run1 = await one(S.pg, 'SELECT * FROM public.job_runs ORDER BY started_at LIMIT 1');
    const leases = await rows(S.pg, `SELECT done_at IS NOT NULL AS done, outcome,
      extract(epoch FROM expires_at - now())::float AS left_s FROM public.job_leases WHERE run_id = '${run1.id}'`);
    const open = leases.filter((l) => !l.done);
    const done1 = leases.length - open.length;
    assert.ok(open.length >= 1, 'the dead run left unfinished leases');
    assert.ok(open.every((l) => l.left_s <= 5.5), `leases end within the lease period: ${JSON.stringify(open)}`);
    const live = open.filter((l) => l.left_s > 0);
    // Killed workers cannot release: their leases are left to expire (some
    // may already have, on a slow machine), none was released as cancelled.
    if (whole) assert.ok(open.every((l) => l.outcome !== 'cancelled'),
      `killed workers could not release: ${JSON.stringify(open)}`);
    else assert.equal(live.length, 0, 'workers stopped by PR_SET_PDEATHSIG release their leases');
    const maxLeft = Math.max(0, ...live.map((l) => l.left_s));
    for (const d of doms) S.fake.setMode(d, null);
    const r2 = await runTracker(['--parallel', '6'], { env });
    assert.equal(r2.code, 0, r2.out.slice(-2000));
    if (whole) {
      assert.match(r2.out, /took over the expired lease/, r2.out.slice(-2000));
      // That it waited for them is the line above (it takes over a lease
      // only once expired), not a clock: the time between the two runs is
      // the machine's.
    }
    await assertExact(doms);
    const st = await statusOf(S.pg);
    assert.equal(st.length, N);
    assert.ok(st.every((x) => x.last_status === 'success'));
    const runs = await rows(S.pg, 'SELECT status, shops_processed FROM public.job_runs ORDER BY started_at');
    assert.equal(runs.length, 2);
    assert.equal(runs[1].status, 'completed');
    assert.equal(runs[1].shops_processed, N - done1, 'run 2 did exactly what run 1 left');
    const unfinished = await one(S.pg, 'SELECT count(*)::int AS n FROM public.job_leases WHERE done_at IS NULL');
    assert.equal(unfinished.n, 0, 'every lease finished');
    const reads = readsPerShop(mark);
    const twice = [...reads.values()].filter((x) => x > 1).length;
    assert.equal(reads.size, N);
    assert.ok([...reads.values()].every((x) => x <= 2));
    // A run that starts 3 lease periods after the dead run's last sign of
    // life marks it failed; a full re-run changes no number.
    const quiet = await one(S.pg, `SELECT extract(epoch FROM now() - updated_at)::float AS s FROM public.job_runs
      WHERE id = '${run1.id}'`);
    await sleep(Math.max(0, (15.5 - quiet.s) * 1000));
    const r3 = await runTracker(['--parallel', '6'], { env });
    assert.equal(r3.code, 0, r3.out.slice(-2000));
    assert.match(r3.out, /stopped reporting; marked failed/);
    const dead = await one(S.pg, `SELECT status FROM public.job_runs WHERE id = '${run1.id}'`);
    assert.equal(dead.status, 'failed');
    await assertExact(doms);
    row.did = `${N} shops, 250 ms/request, --parallel 6, REBOSS_JOB_LEASE_SEC=5; once ${half.done} shops had succeeded and ${half.half} more ` +
      'had stored order pages without finishing, SIGKILL ' +
      (whole ? `to the parent and its ${workers.length} workers at once` : `to the parent only (${workers.length} workers)`) +
      '; next run at once';
    row.system = `workers gone ${workersGoneMs} ms after the kill` + (whole ? '' : ' (PR_SET_PDEATHSIG = SIGTERM)') +
      `; ${done1} leases finished, ${open.length} open (` +
      (whole ? `still live, up to ${maxLeft.toFixed(1)} s left` : `released: outcome ${open[0].outcome}, expired`) +
      `); the dead run's job_runs row stayed '${runs[0].status}' until a run ` +
      `15 s later marked it '${dead.status}'; run 2 exit 0 in ` +
      `${r2.ms} ms, processed ${runs[1].shops_processed}` + (whole ? ' after taking over the expired leases' : '') +
      `; ${twice} shops read by both runs`;
    row.checked = `no worker alive; after run 2 all ${N} shops exact in product_sales_daily (orders counted once` +
      `${twice ? `, also for the ${twice} shops read twice` : ''}), ${N} shop_job_status 'success', run 2 processed ` +
      `exactly the ${N - done1} shops run 1 left, no unfinished lease, no shop read more than twice; a third run ` +
      'left every number unchanged';
  });
  killDrill(4, 'SIGKILL of a whole job process (the parent) mid-run', false);
  killDrill('4b', 'SIGKILL of a job process and all its workers at once mid-run', true);

  drill('4c', 'SIGKILL of product_creation and all its workers at once mid-run', async (row) => {
    S.fake.addResolvers({ Mutation: makeCatalogResolvers({ connection, gid, parseGid, isoNow }).Mutation });
    const N = 6; const PER = 5;
    const doms = await freshShops(S.pg, 'd4c', N, { orders: 0, products: 0 });
    const items = new Map(); // queue item id -> domain
    for (const d of doms) {
      const sh = shops.get(d);
      const col = S.fake.addCollection(d, { title: 'Managed' });
      await S.pg.psql(`INSERT INTO public.catalog_settings (shop_id, managed_collection_ids, daily_creation_quota,
        creation_template) VALUES ('${sh.id}', ARRAY[${col.id}]::bigint[], ${PER}, ${sqlStr(JSON.stringify({
        product_type: 'Poster', vendor: 'Drill', status: 'ACTIVE', tags: ['pod'],
        options: [{ name: 'Size', values: ['S', 'M'] }],
        variants: [{ options: ['S'], price: '19.99' }, { options: ['M'], price: '24.99' }] }))}::jsonb)`);
      for (let i = 0; i < PER; i++) {
        const id = randomUUID();
        items.set(id, d);
        await S.pg.psql(`INSERT INTO public.design_queue (id, shop_id, position, title, description, image_url,
          tags, overrides) VALUES ('${id}', '${sh.id}', ${i}, 'Design ${i}', '<p>Nice</p>',
          'https://cdn.example/designs/${i}.png', ARRAY['design']::text[], '{}'::jsonb)`);
      }
      S.fake.setMode(d, { delayMs: 200 });
    }
    const products = () => doms.reduce((n, d) => n + S.fake.getShop(d).data.Product.length, 0);
    const env = { REBOSS_JOB_LEASE_SEC: '5', REBOSS_JOB_POLL_MS: '200' };
    const job = startTracker(['--parallel', '3'], { env, program: creator });
    await waitFor('some products created', async () => products() >= 5, 40_000);
    const workers = await childPids(job.child.pid);
    job.child.kill('SIGKILL');
    for (const p of workers) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    const r = await job.done;
    assert.equal(r.signal, 'SIGKILL');
    await waitFor('the workers to die', async () => workers.every((p) => !alive(p)), 60_000);
    await sleep(300);
    const atKill = products();
    const q1 = await rows(S.pg, 'SELECT status, count(*)::int AS n FROM public.design_queue GROUP BY 1 ORDER BY 1');
    const creating = q1.find((x) => x.status === 'creating')?.n ?? 0;
    for (const d of doms) S.fake.setMode(d, null);
    const r2 = await runTracker(['--parallel', '3'], { env, program: creator });
    assert.equal(r2.code, 0, r2.out.slice(-3000));
    assert.match(r2.out, /took over the expired lease/, r2.out.slice(-2000));
    const q = await rows(S.pg, `SELECT q.id, q.status, q.product_id, s.shop_domain FROM public.design_queue q
      JOIN public.shops s ON s.id = q.shop_id`);
    assert.equal(q.length, N * PER);
    for (const x of q) {
      assert.equal(x.status, 'created', `${x.id}: ${x.status}`);
      assert.equal(items.get(x.id), x.shop_domain);
    }
    for (const d of doms) {
      const ps = S.fake.getShop(d).data.Product;
      assert.equal(ps.length, PER, `${d}: one product per queue item, ${ps.length} made: ` +
        JSON.stringify(ps.map((p) => [p.id, p.title, p.handle, p.tags, p.createdAt])));
      const mine = q.filter((x) => x.shop_domain === d).map((x) => x.product_id).sort();
      assert.deepEqual(ps.map((p) => p.id).sort(), mine, `${d}: each product belongs to its queue item`);
      for (const x of q.filter((y) => y.shop_domain === d)) {
        const tag = `reboss-q-${x.id.replace(/-/g, '').slice(0, 8)}`;
        assert.equal(ps.filter((p) => (p.tags ?? []).includes(tag)).length, 1, `${d}: one product tagged ${tag}`);
      }
    }
    const cp = await one(S.pg, 'SELECT count(*)::int AS n, count(DISTINCT product_id)::int AS d FROM public.created_products');
    assert.deepEqual(cp, { n: N * PER, d: N * PER });
    assert.equal((await one(S.pg, 'SELECT count(*)::int AS n FROM public.job_leases WHERE done_at IS NULL')).n, 0);
    row.did = `${N} shops x ${PER} queued designs (quota ${PER}), 200 ms/request, --parallel 3, REBOSS_JOB_LEASE_SEC=5; ` +
      `after 5 products existed in the fake, SIGKILL to the parent and its ${workers.length} workers at once; next run at once`;
    row.system = `at the kill ${atKill} products in Shopify, queue ${q1.map((x) => `${x.status}:${x.n}`).join(' ')} ` +
      `(${creating} left 'creating'); run 2 exit 0 in ${r2.ms} ms after the leases expired`;
    row.checked = `all ${N * PER} queue items 'created'; the fake holds exactly ${PER} products per shop, one per ` +
      `queue item tag, matching design_queue.product_id; created_products ${N * PER} rows, distinct; no open lease`;
  });

  drill(5, 'two hosts at once against one database', async (row) => {
    const N = 40;
    const doms = await freshShops(S.pg, 'd5', N, { orders: 15 });
    for (const d of doms) S.fake.setMode(d, { delayMs: 80 });
    const env = { REBOSS_JOB_POLL_MS: '200' };
    const mark = S.fake.requests.length;
    const a = startTracker(['--parallel', '4'], { env, hostname: 'drill-host-a' });
    const b = startTracker(['--parallel', '4'], { env, hostname: 'drill-host-b' });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.out.slice(-2000));
    assert.equal(rb.code, 0, rb.out.slice(-2000));
    for (const d of doms) S.fake.setMode(d, null);
    const runs = await rows(S.pg, 'SELECT host, status, shops_processed, generation FROM public.job_runs ORDER BY host');
    assert.deepEqual(runs.map((x) => x.host), ['drill-host-a', 'drill-host-b']);
    assert.ok(runs.every((x) => x.status === 'completed'));
    assert.equal(runs[0].shops_processed + runs[1].shops_processed, N);
    assert.ok(runs[0].shops_processed > 0 && runs[1].shops_processed > 0, 'both hosts worked');
    assert.equal(runs[0].generation, runs[1].generation, 'one generation');
    const reads = readsPerShop(mark);
    assert.equal(reads.size, N);
    assert.ok([...reads.values()].every((n) => n === 1), 'every shop read exactly once');
    const lh = await rows(S.pg, 'SELECT host, count(*)::int AS n FROM public.job_leases GROUP BY host ORDER BY host');
    assert.deepEqual(lh.map((x) => x.host), ['drill-host-a', 'drill-host-b']);
    await assertExact(doms);
    row.did = `${N} shops, 80 ms/request; two sales_trackers at once, each in its own UTS namespace ` +
      '(unshare --uts, hostnames drill-host-a / drill-host-b), --parallel 4 each';
    row.system = `both exit 0; one generation; ${runs[0].host} processed ${runs[0].shops_processed}, ` +
      `${runs[1].host} ${runs[1].shops_processed}; leases ${lh.map((x) => `${x.host}:${x.n}`).join(' ')}`;
    row.checked = `the fake saw exactly one OrdersCount per shop (${N}); job_runs.host and job_leases.host ` +
      'name both hosts; product_sales_daily exact for every shop';
  });

  drill(6, 'a full disk where the job writes files', async (row) => {
    // sales_tracker writes no temporary file: pages and the bulk JSONL are
    // read into memory (capped, SALES_BULK_MAX_BYTES).  The only file a job
    // writes is the node_exporter metrics file in metrics_dir (a dot-file
    // written, fsynced, renamed).  Both TMPDIR and metrics_dir go on a full
    // 64 KiB tmpfs.
    const N = 6;
    const doms = await freshShops(S.pg, 'd6', N, { orders: 12 });
    const mnt = path.join(S.dir, 'full');
    await fs.mkdir(mnt);
    await execp('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt]);
    try {
      const prom = path.join(mnt, 'reboss_sales_tracker.prom');
      const old = '# from an earlier run\nreboss_job_last_run_status{job="sales_tracker"} 1\n';
      await fs.writeFile(prom, old);
      await execp('sh', ['-c', `dd if=/dev/zero of=${mnt}/filler bs=4k 2>/dev/null; true`]);
      const df = (await execp('df', ['--output=avail', '-B1', mnt])).stdout.trim().split('\n').pop().trim();
      assert.equal(df, '0', 'the disk is full');
      const conf = path.join(S.dir, 'reboss-metrics.conf');
      await fs.writeFile(conf, (await fs.readFile(S.confFile, 'utf8')) + `metrics_dir = ${mnt}\n`, { mode: 0o600 });
      const r = await runTracker([], { conf, env: { TMPDIR: mnt } });
      assert.equal(r.code, 0, r.out.slice(-2000));
      const warn = r.out.split('\n').find((l) => /metrics/.test(l)) ?? '';
      assert.match(warn, /No space left on device/, r.out.slice(-2000));
      const files = (await fs.readdir(mnt)).sort();
      assert.deepEqual(files, ['filler', 'reboss_sales_tracker.prom'], 'no temp file left behind');
      assert.equal(await fs.readFile(prom, 'utf8'), old, 'the previous metrics file is intact');
      const run = await one(S.pg, 'SELECT status, shops_processed, shops_failed FROM public.job_runs');
      assert.deepEqual(run, { status: 'completed', shops_processed: N, shops_failed: 0 });
      await assertExact(doms);
      // With space again the file is written whole.
      await fs.rm(path.join(mnt, 'filler'));
      const r2 = await runTracker([], { conf, env: { TMPDIR: mnt } });
      assert.equal(r2.code, 0, r2.out.slice(-2000));
      const text = await fs.readFile(prom, 'utf8');
      assert.notEqual(text, old);
      assert.match(text, /sales_tracker/);
      assert.ok(text.endsWith('\n'));
      assert.deepEqual((await fs.readdir(mnt)).sort(), ['reboss_sales_tracker.prom']);
      row.did = `${N} shops; TMPDIR and metrics_dir on a 64 KiB tmpfs filled to 0 bytes free, an old ` +
        '.prom file in it; then space freed and run again';
      row.system = `run exit 0, all shops success; logged "${warn.replace(/^.*?(could not)/, '$1').slice(0, 160)}"; ` +
        `second run wrote the metrics file (${text.length} bytes)`;
      row.checked = 'job_runs completed, product_sales_daily exact; no dot-file left, the old .prom intact (never half ' +
        'written); after freeing space a whole new .prom. sales_tracker writes no temp file (bulk JSONL is in memory)';
    } finally {
      await execp('umount', [mnt]).catch(() => execp('umount', ['-l', mnt]).catch(() => {}));
    }
  });

  drill(7, '1,000 concurrent API requests, pool of 4', async (row) => {
    const master = S.apiPid();
    const workers = await S.apiWorkerPids();
    const users = Array.from({ length: 5 }, () => randomUUID());
    const tokens = users.map((u) => S.mintToken({ userId: u }));
    const seedShop = fakeOnlyShops('d7seed', 1)[0];
    const rs = await api('POST', '/api/shops', { token: tokens[0], body: { shop_domain: seedShop.domain, access_token: seedShop.token } });
    assert.equal(rs.status, 201, rs.body);
    const seedId = rs.json.shop.id;
    const w = fakeOnlyShops('d7w', 100);
    const items = [];
    const posts = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 10 === 0) {
        const shop = w[posts.length];
        const u = posts.length % users.length;
        posts.push({ domain: shop.domain, user: users[u] });
        items.push({ kind: 'post', idx: posts.length - 1, shop, u });
      } else if (i % 2) {
        items.push({ kind: 'health' });
      } else {
        items.push({ kind: 'integrations' });
      }
    }
    // The test nginx has worker_connections 256: each request in flight holds
    // a client and an upstream connection, so 120 at once fit.
    const CONC = Number(process.env.REBOSS_DRILL_CONCURRENCY) || 120;
    const t0 = Date.now();
    const results = await pool(items, CONC, (it) => {
      if (it.kind === 'post')
        return api('POST', '/api/shops', { token: tokens[it.u], body: { shop_domain: it.shop.domain, access_token: it.shop.token } });
      if (it.kind === 'health') return api('GET', '/api/health');
      return api('GET', `/api/shops/${seedId}/integrations`, { token: tokens[0] });
    });
    const wall = Date.now() - t0;
    const bad = [];
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r.status === 0) { bad.push(`${r.path}: ${r.error}`); continue; }
      if (r.status === 200 || r.status === 201) continue;
      if (![429, 502, 503, 504].includes(r.status)) { bad.push(`${r.path} ${r.status} ${r.body.slice(0, 120)}`); continue; }
      if (r.path === '/api/health' && r.json?.database) continue;
      const p = errorShapeProblem(r);
      if (p) bad.push(`${r.path} ${r.status}: ${p}`);
    }
    assert.deepEqual(bad, [], 'every answer 200/201 or 429/502/503/504 in the error shape');
    assert.ok(results.filter((r) => r.status < 300).length >= 500, `most served: ${histogram(results)}`);
    assert.equal(S.apiPid(), master, 'same pool master');
    assert.deepEqual(await S.apiWorkerPids(), workers, 'same pool workers');
    const postResults = items.map((it, i) => [it, results[i]]).filter(([it]) => it.kind === 'post').map(([, r]) => r);
    const wr = await checkShopWrites('d7w', postResults, posts);
    const maxMs = Math.max(...results.map((r) => r.ms));
    const ms = results.map((r) => r.ms).sort((x, y) => x - y);
    row.did = `1,000 HTTPS requests (new TLS connection each), ${CONC} at once: 450 GET /api/health, ` +
      `450 GET /api/shops/{id}/integrations, 100 POST /api/shops for distinct shops; pool of ${workers.length} workers`;
    row.system = `${histogram(results)} in ${wall} ms (median ${ms[500]} ms, slowest ${maxMs} ms); same master and workers`;
    row.checked = `no transport error, no 500; non-2xx in the error shape; ${wr.created} POSTs got 201 and all are ` +
      `stored sealed with their owner; ${wr.stored} rows, ${wr.ambiguous} refused-but-committed`;
  });

  drill('3b', 'upstream that trickles bytes forever (job and API)', async (row) => {
    const r = await trickle.job.done;
    assert.equal(r.code, 1, r.out.slice(-2000));
    const st = Object.fromEntries((await statusOf(pg2)).map((x) => [x.shop_domain, x]));
    for (const d of trickle.ok) assert.equal(st[d].last_status, 'success', d);
    await assertExact(trickle.ok);
    assert.equal(st[trickle.bad].last_status, 'failed');
    assert.match(st[trickle.bad].last_error, /did not answer in time/, st[trickle.bad].last_error);
    assert.deepEqual(await actual(trickle.bad), []);
    const tries = S.fake.requests.slice(trickle.mark).filter((q) => q.shop === trickle.bad).length;
    // The ok shops were not held up by the trickling one.
    const okEnd = await one(pg2, `SELECT extract(epoch FROM max(j.last_run_at) - min(r.started_at))::float AS s
      FROM public.shop_job_status j, public.job_runs r WHERE j.last_status = 'success'`);
    assert.ok(okEnd.s < 30, `the other shops finished early (${okEnd.s} s)`);
    const a = await trickle.api;
    assert.equal(a.status, 504, `${a.status} ${a.body ?? a.error}`);
    assert.equal(errorShapeProblem(a), null, a.body);
    S.fake.setMode(trickle.bad, null);
    S.fake.setMode(trickle.apiDomain, null);
    const r2 = await runTracker([], { conf: conf2 });
    assert.equal(r2.code, 0, r2.out.slice(-2000));
    await assertExact([...trickle.ok, trickle.bad]);
    row.did = '4 shops (own database), one answering 200 + headers then one byte a second forever; ' +
      'POST /api/shopify/test-connection for a trickling shop; both started before drill 1, beside the others';
    row.system = `job exit 1 after ${(r.ms / 1000).toFixed(0)} s: "${st[trickle.bad].last_error}" ` +
      `(${tries} requests); other shops done after ${okEnd.s.toFixed(1)} s; ` +
      `API 504 ${a.json.code} after ${(a.ms / 1000).toFixed(0)} s`;
    row.checked = 'trickling shop failed with a sentence and stored nothing; 3 others success and exact; API answer ' +
      'in the error shape; next run (no trickle) exit 0, all 4 exact';
  });
});
