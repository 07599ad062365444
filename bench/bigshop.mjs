// bench/bigshop.mjs - the first backfill of one big shop (issue 15): N orders
// (BENCH_BIG_ORDERS, 1,000,000) updated over the last 60 days, read by
// reboss-sales-tracker through Shopify bulk exports split by date
// (at most 50,000 orders each), every export streamed from the upstream
// as JSONL without grouping (a line item comes one order late, before or
// after its parent alternately), one order in 20 refunded (refund lines
// read by id).  Not a test: it asserts nothing about time.
//
// Measured: wall time of the run, peak RSS of the biggest process of the
// job's tree (the shop's worker: GNU time's %M, the largest RSS among the
// waited-for descendants), CPU of the job's tree (user + sys) per 1,000
// orders.  The upstream is a small generator here (bulk exports of a
// million orders are far too much for the graphql-js fake), answering only
// what the tracker asks in this case; PostgreSQL is real.
//
//   REBOSS_BUILDDIR=/path/to/build node bench/bigshop.mjs
//   Environment: BENCH_BIG_ORDERS (1000000), BENCH_OUT_DIR (bench/results).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { mkdtemp, writeFile, readFile, rm, mkdir, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startPostgres } from '../tests/integration/lib/pg.mjs';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const env = process.env;
const BDIR = env.REBOSS_BUILDDIR || path.join(REPO, 'build');
const N = Number(env.BENCH_BIG_ORDERS || 1000000);
const OUT_DIR = env.BENCH_OUT_DIR || path.join(HERE, 'results');
const TOKEN = `shpat_${crypto.randomBytes(16).toString('hex')}`;
const DAY = 86400_000;

// Order i (1..N) was processed and last updated at T0 - 59.5 days + i * step.
const T0 = Date.now();
const START = T0 - 59.5 * DAY;
const STEP = (59.5 * DAY - 60_000) / N;
const at = (i) => new Date(START + i * STEP).toISOString().replace(/\.\d{3}Z$/, 'Z');
// The first i in 1..N+1 with at(i) >= iso (at is increasing).
function firstFrom(iso) {
  let lo = 1; let hi = N + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) >= iso) hi = mid; else lo = mid + 1;
  }
  return lo;
}
// The orders a search query covers: [lo, hi] (updated_at:>='a' AND <'b').
function range(q) {
  const from = /updated_at:>='([^']+)'/.exec(q);
  const to = /updated_at:<'([^']+)'/.exec(q);
  return [from ? firstFrom(from[1]) : 1, to ? firstFrom(to[1]) - 1 : N];
}

const money = (c) => ({ shopMoney: { amount: `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}` } });
const orderLine = (i) => JSON.stringify({ id: `gid://shopify/Order/${i}`, processedAt: at(i), cancelledAt: null,
  test: false, updatedAt: at(i), refunds: i % 20 === 0 ? [{ id: `gid://shopify/Refund/${i}` }] : [] });
const itemLine = (i, k) => JSON.stringify({ id: `gid://shopify/LineItem/${i * 2 + k}`, quantity: 2,
  currentQuantity: i % 20 === 0 && k === 0 ? 1 : 2, product: { id: `gid://shopify/Product/${1 + ((i + k) % 50)}` },
  originalTotalSet: money(2 * (1000 + (i % 7) * 100)), discountAllocations: i % 3 ? [] : [{ allocatedAmountSet: money(150) }],
  __parentId: `gid://shopify/Order/${i}` });

const ops = new Map();
function graphql(body) {
  const { query, variables = {} } = body;
  const ext = { cost: { requestedQueryCost: 10, actualQueryCost: 10,
    throttleStatus: { maximumAvailable: 2e6, currentlyAvailable: 2e6, restoreRate: 1e5 } } };
  if (/ianaTimezone/.test(query)) {
    return { data: { shop: { ianaTimezone: 'UTC', currencyCode: 'USD' }, currentAppInstallation: {
      accessScopes: ['read_orders', 'read_all_orders', 'read_products'].map((handle) => ({ handle })) } }, extensions: ext };
  }
  if (/ordersCount/.test(query)) {
    const [lo, hi] = range(variables.q ?? '');
    const n = Math.max(0, hi - lo + 1);
    const lim = variables.limit ?? 10000;
    return { data: { ordersCount: n > lim ? { count: lim, precision: 'AT_LEAST' } : { count: n, precision: 'EXACT' } },
      extensions: ext };
  }
  if (/bulkOperationRunQuery/.test(query)) {
    const id = `gid://shopify/BulkOperation/${ops.size + 1}`;
    ops.set(id, range(variables.q));
    return { data: { bulkOperationRunQuery: { bulkOperation: { id, status: 'CREATED' }, userErrors: [] } }, extensions: ext };
  }
  if (/bulkOperation\(/.test(query)) {
    const [lo, hi] = ops.get(variables.id);
    return { data: { bulkOperation: { id: variables.id, status: 'COMPLETED', errorCode: null,
      objectCount: String(3 * (hi - lo + 1)), url: hi >= lo ? `${up.url}/bulk/${variables.id.split('/').pop()}.jsonl` : null } },
    extensions: ext };
  }
  if (/RefundLines/.test(query)) {
    return { data: { nodes: variables.ids.map((g) => {
      const i = Number(g.split('/').pop());
      return { id: g, refundLineItems: { nodes: [{ id: `gid://shopify/RefundLineItem/${i}`, quantity: 1,
        lineItem: { id: `gid://shopify/LineItem/${i * 2}` }, subtotalSet: money(1000 + (i % 7) * 100 - (i % 3 ? 0 : 75)) }],
      pageInfo: { hasNextPage: false } } };
    }) }, extensions: ext };
  }
  if (/products\(/.test(query)) {
    return { data: { products: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } }, extensions: ext };
  }
  return { errors: [{ message: `bigshop upstream: unexpected query ${query.slice(0, 80)}` }] };
}

// The export of orders lo..hi, written as the socket drains: order i's
// second line item comes before order i, its first after order i + 1.
function stream(res, lo, hi) {
  res.writeHead(200, { 'Content-Type': 'application/jsonl' });
  let i = lo;
  const more = () => {
    while (i <= hi) {
      const chunk = [];
      for (let k = 0; k < 500 && i <= hi; k++, i++) {
        chunk.push(itemLine(i, 1), orderLine(i));
        if (i > lo) chunk.push(itemLine(i - 1, 0));
      }
      if (i > hi) chunk.push(itemLine(hi, 0));
      if (!res.write(`${chunk.join('\n')}\n`)) { res.once('drain', more); return; }
    }
    res.end();
  };
  more();
}

let up;
function startUpstream() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      const m = /^\/bulk\/(\d+)\.jsonl$/.exec(req.url);
      if (m) {
        const [lo, hi] = ops.get(`gid://shopify/BulkOperation/${m[1]}`);
        stream(res, lo, hi);
        return;
      }
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const out = JSON.stringify(graphql(JSON.parse(body)));
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(out);
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` }));
  });
}

async function main() {
  const tracker = path.join(BDIR, 'jobs/reboss-sales-tracker');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reboss-bench-big-'));
  await chmod(dir, 0o711); // PostgreSQL runs as another user
  let pg;
  try {
    pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
    up = await startUpstream();
    const conf = path.join(dir, 'reboss.conf');
    await writeFile(conf, [`database_url = ${pg.conninfo}`, `token_key = ${crypto.randomBytes(32).toString('hex')}`,
      `jwt_secret = ${crypto.randomBytes(32).toString('hex')}`, `shopify_base_url = ${up.url}/{shop}`, ''].join('\n'),
    { mode: 0o600 });
    const jobEnv = { ...env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '' };
    await run(path.join(BDIR, 'ctl/rebossctl'), ['--config', conf, 'migrate', '--sql-dir', path.join(REPO, 'sql')],
      { env: jobEnv });
    await pg.psql(`INSERT INTO public.shops (user_id, shop_domain, access_token)
      VALUES (gen_random_uuid(), 'big.myshopify.com', '${TOKEN}')`);
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).map(Number);
    const r = await run('/usr/bin/time', ['-f', 'TIME %e %M %U %S', tracker, '--config', conf],
      { env: jobEnv, maxBuffer: 1 << 26 }).catch((e) => e);
    const m = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(String(r.stderr));
    if (!m || r.code) throw new Error(`the run failed: ${String(r.stderr).slice(-3000)}`);
    const [wall, rssKb, u, s] = m.slice(1).map(Number);
    const stored = Number((await pg.psql('SELECT count(DISTINCT order_id) FROM public.order_lines_ledger')).trim());
    const exports = ops.size;
    const out = { orders: N, stored_orders: stored, exports, wall_s: wall, peak_rss_mib: +(rssKb / 1024).toFixed(1),
      cpu_s: +(u + s).toFixed(2), cpu_ms_per_1000_orders: +((u + s) * 1e6 / N).toFixed(1),
      loadavg_before: load, loadavg_after: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).map(Number),
      cpus: os.cpus().length, date: new Date().toISOString() };
    console.log(`| orders | exports | stored | wall s | peak RSS MiB | CPU ms / 1,000 orders | load before |`);
    console.log(`|---|---|---|---|---|---|---|`);
    console.log(`| ${N} | ${exports} | ${stored} | ${wall} | ${out.peak_rss_mib} | ${out.cpu_ms_per_1000_orders} | ${load.join(' ')} |`);
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(path.join(OUT_DIR, 'bigshop.json'), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    up?.srv.close();
    await pg?.destroy();
    if (!env.REBOSS_KEEP_TMP) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
