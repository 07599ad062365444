// bench/jobs.mjs - reboss-sales-tracker over many generated shops against an
// upstream with a fixed latency per request (issue 8).  Not a test: it
// asserts nothing about time; it prints a table and writes JSON
// (bench/results/jobs.json, jobs-probe.json for BENCH_JOB=probe; or in
// $BENCH_OUT_DIR).
//
// How the upstream works: the project's fake Shopify (tests/fakes/shopify.mjs,
// which validates every document against the real schema) is far too slow to
// answer thousands of requests a second (graphql-js per request), so it is
// used once, to RECORD: BENCH_TEMPLATES template shops of uneven sizes are
// run through the real tracker via a recording proxy.  The measured runs then
// REPLAY those answers from memory after a fixed delay (BENCH_DELAY_MS, 20),
// shop i getting template i % BENCH_TEMPLATES.  The replay server counts the
// requests of every shop, so the ideal wall time is known exactly:
//   ideal = max(sum over shops of requests * delay / parallel,
//               the largest shop's requests * delay).
//
// Parsing: bench/parse_cost.c times json_loadb + json_decref of every
// recorded answer (50 rounds); "beyond parsing" = CPU per shop minus that.
// Measured per run: wall time, CPU of the job's whole process tree (bash
// `times` of the children = getrusage(RUSAGE_CHILDREN)), PostgreSQL's CPU
// (postmaster + backends, from /proc), peak RSS and PSS of the job's process
// tree (sampled from /proc every 100 ms), peak client connections in
// pg_stat_activity (sampled every 200 ms), the replay server's own CPU.
//
// Environment: REBOSS_BUILDDIR (required), BENCH_SHOPS ("1000,10000"),
// BENCH_REPEAT (2: runs per size; the largest size runs once),
// BENCH_PARALLEL (the job's default, 20), BENCH_DELAY_MS (20),
// BENCH_TEMPLATES (100), BENCH_JOB (sales_tracker | probe: the job_probe
// runtime probe with PROBE_SLEEP_MS = the mean upstream time of a shop, or
// BENCH_PROBE_SLEEP_MS: 0 measures what the runtime alone costs per shop),
// BENCH_DB (tcp: TCP + SCRAM-SHA-256 as the tests and Supabase; socket:
// unix socket + trust, *-socket.json), BENCH_OUT_DIR.  For profiling: BENCH_WRAP (a command prefix for the job,
// e.g. "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p"),
// BENCH_TAG (a suffix for the JSON file name, e.g. with REBOSS_JOB_SESSIONS=0
// in the environment: a new database session per shop, for comparison),
// BENCH_PG_LOG=1 (PostgreSQL logs every statement; with REBOSS_KEEP_TMP=1
// the log stays in the temp dir).
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import http from 'node:http';
import { mkdtemp, writeFile, readFile, rm, chmod, mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startPostgres } from '../tests/integration/lib/pg.mjs';
import { createFakeShopify } from '../tests/fakes/shopify.mjs';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const env = process.env;
const BDIR = env.REBOSS_BUILDDIR || path.join(REPO, 'build');
const SIZES = (env.BENCH_SHOPS || '1000,10000').split(',').map(Number);
const REPEAT = Number(env.BENCH_REPEAT || 2);
const PARALLEL = Number(env.BENCH_PARALLEL || 20);
const DELAY = Number(env.BENCH_DELAY_MS || 20);
const RERUN = env.BENCH_RERUN !== '0';
const TEMPLATES = Number(env.BENCH_TEMPLATES || 100);
const JOB = env.BENCH_JOB || 'sales_tracker';
const OUT_DIR = env.BENCH_OUT_DIR || path.join(HERE, 'results');
const DB = env.BENCH_DB || 'tcp';
const TOKEN = 'shpat_' + crypto.randomBytes(16).toString('hex');
const DAY = 86400_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = 100; // USER_HZ

// Deterministic pseudo-random numbers (mulberry32).
let seed = 8;
function rnd() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// ---------------------------------------------------------------- upstream --
// Record (proxy to the real fake) or replay (answers from memory after DELAY).
function startUpstream(fake) {
  const answers = new Map();         // key -> { status, body }
  const perShop = new Map();         // domain -> requests
  // lat: what the replay held each answer, from the request's last byte to
  // the answer's write (ms): the delay the ideal assumes, as it came out.
  const st = { mode: 'record', misses: 0, requests: 0, bytes: 0, lat: [] };
  const tplOf = (domain) => {
    const m = /^bench-(\d+)\.myshopify\.com$/.exec(domain);
    return m ? `tpl-${Number(m[1]) % TEMPLATES}.myshopify.com` : domain;
  };
  const keyOf = (tpl, body) => {
    let j;
    try { j = JSON.parse(body); } catch { return `${tpl} bad`; }
    const op = /^\s*(query|mutation)\s*(\w*)/.exec(j.query ?? '')?.[2] || (j.query ?? '').slice(0, 60);
    const v = { ...(j.variables ?? {}) };
    delete v.q; // the orders filter holds "now": the same page either way
    return `${tpl} ${op} ${JSON.stringify(v)}`;
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const t0 = process.hrtime.bigint();
      const body = Buffer.concat(chunks).toString('utf8');
      const m = /^\/([^/]+)\/admin\/api\/([^/]+)\/graphql\.json$/.exec(req.url);
      if (!m) { res.writeHead(404); res.end(); return; }
      const domain = m[1];
      st.requests++;
      perShop.set(domain, (perShop.get(domain) ?? 0) + 1);
      const key = keyOf(tplOf(domain), body);
      if (st.mode === 'record') {
        const r = await fetch(fake.graphqlUrl(domain, m[2]), { method: 'POST', body,
          headers: { 'Content-Type': 'application/json',
            'X-Shopify-Access-Token': req.headers['x-shopify-access-token'] ?? '' } });
        const text = await r.text();
        // Kept encoded: the replay then writes bytes, it does not encode.
        if (r.status === 200) answers.set(key, { status: 200, body: Buffer.from(text) });
        res.writeHead(r.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      const a = answers.get(key);
      setTimeout(() => {
        if (!a) {
          st.misses++;
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end('{"errors":[{"message":"bench replay: no recorded answer"}]}');
          return;
        }
        st.bytes += a.body.length;
        st.lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        res.writeHead(a.status, { 'Content-Type': 'application/json', 'Content-Length': a.body.length });
        res.end(a.body);
      }, DELAY);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`, st, answers, perShop,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  })));
}

// The replay's hold times: mean and percentiles (ms).
function heldStats(lat) {
  if (lat.length === 0) return null;
  const v = Float64Array.from(lat).sort();
  const at = (q) => Number(v[Math.min(v.length - 1, Math.floor(q * v.length))].toFixed(3));
  return { mean: Number((v.reduce((a, b) => a + b, 0) / v.length).toFixed(3)), p50: at(0.5), p99: at(0.99), max: at(1) };
}

// ----------------------------------------------------------------- /proc ---
async function procTable() {
  const t = new Map();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = await readFile(`/proc/${e}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t.set(Number(e), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), cticks: Number(f[13]) + Number(f[14]) });
    } catch { /* gone */ }
  }
  return t;
}
function descendants(t, root) {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [p, v] of t) if (v.ppid === out[i]) out.push(p);
  return out.filter((p) => t.has(p));
}
// Peak memory and processes of the job's tree, sampled every 100 ms in a
// worker thread: synchronous reads there do not hold up the replay's event
// loop, and walking only the job's tree through /proc/PID/task/TID/children
// costs ~1-3 ms a sample where reading every process of the machine cost
// ~20 ms (10 % of a core beside the job).
const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
function children(pid) {
  const out = [];
  let tasks = [];
  try { tasks = fs.readdirSync('/proc/' + pid + '/task'); } catch { return out; }
  for (const t of tasks) {
    let s = '';
    try { s = fs.readFileSync('/proc/' + pid + '/task/' + t + '/children', 'utf8'); } catch { /* gone */ }
    for (const c of s.split(' ')) if (c.trim() !== '') out.push(Number(c));
  }
  return out;
}
function tree(root) {
  if (!fs.existsSync('/proc/' + root)) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...children(out[i]));
  return out;
}
let stop = false;
parentPort.on('message', () => { stop = true; });
const peak = { rss: 0, pss: 0, procs: 0 };
let samples = 0;
(function tick() {
  const pids = stop ? [] : tree(workerData.pid);
  if (pids.length === 0) { parentPort.postMessage({ peak, samples }); parentPort.close(); return; }
  let rss = 0, pss = 0;
  for (const p of pids) {
    let s = '';
    try { s = fs.readFileSync('/proc/' + p + '/smaps_rollup', 'utf8'); } catch { /* gone */ }
    rss += Number(/^Rss:\\s+(\\d+)/m.exec(s)?.[1] ?? 0);
    pss += Number(/^Pss:\\s+(\\d+)/m.exec(s)?.[1] ?? 0);
  }
  samples++;
  peak.rss = Math.max(peak.rss, rss); peak.pss = Math.max(peak.pss, pss);
  peak.procs = Math.max(peak.procs, pids.length);
  setTimeout(tick, 100);
})();
`;
function startSampler(pid) {
  const w = new Worker(SAMPLER, { eval: true, workerData: { pid } });
  const result = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return { stop: async () => { w.postMessage('stop'); return result; } };
}
async function pgTicks(pg) {
  const pid = Number((await readFile(path.join(pg.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const t = await procTable();
  const me = t.get(pid);
  let ticks = me.ticks + me.cticks;
  for (const p of descendants(t, pid)) if (p !== pid) ticks += t.get(p).ticks;
  return ticks;
}

// --------------------------------------------------------------- the job ---
function sizes() {
  const out = [];
  for (let k = 0; k < TEMPLATES; k++) {
    const u = rnd(), v = rnd();
    // Uneven: most shops small, a few large (orders below the bulk threshold).
    out.push({ products: 1 + Math.floor(120 * u * u), orders: Math.floor(300 * v * v * v) });
  }
  return out;
}

function addTemplate(fake, k, { products, orders }) {
  const domain = `tpl-${k}.myshopify.com`;
  fake.addShop({ domain, token: TOKEN, ianaTimezone: k % 3 ? 'America/New_York' : 'Europe/Berlin' });
  const cols = [fake.addCollection(domain, { title: 'Summer' }), fake.addCollection(domain, { title: 'Winter' })];
  const ps = [];
  for (let i = 0; i < products; i++) {
    ps.push(fake.addProduct(domain, { title: `Product ${i}`, price: `${10 + (i % 30)}.50`,
      collections: [cols[i % 2]], imageUrl: `https://cdn.example/${k}/${i}.png` }));
  }
  const now = Date.now();
  for (let i = 0; i < orders; i++) {
    const lines = [];
    for (let j = 0, n = 1 + Math.floor(rnd() * 3); j < n; j++) {
      const p = ps[Math.floor(rnd() * ps.length)];
      lines.push({ productId: p.id, quantity: 1 + Math.floor(rnd() * 3), price: p.variants[0].price });
    }
    fake.addOrder(domain, { processedAt: new Date(now - Math.floor(rnd() * 50) * DAY - Math.floor(rnd() * DAY)).toISOString(), lines });
  }
}

async function runJob({ bin, args, pg, jobEnv, logFile, up }) {
  const t0pg = await pgTicks(pg);
  const cpu0 = process.cpuUsage();
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).map(Number);
  // Peak client connections: one psql, \watch every 0.2 s.
  const q = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'reboss' AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
  const psql = spawn('stdbuf', ['-oL', '/usr/lib/postgresql/15/bin/psql', '-X', '-A', '-t', '-q', '-h', '127.0.0.1',
    '-p', String(pg.port), '-U', 'reboss', '-d', 'reboss'],
  { env: { ...env, PGPASSWORD: pg.password }, stdio: ['pipe', 'pipe', 'ignore'] });
  psql.stdin.write(`${q} \\watch 0.2\n`);
  let peakConn = 0, connSamples = 0;
  psql.stdout.on('data', (d) => {
    for (const l of d.toString().split('\n')) if (/^\d+$/.test(l.trim())) { connSamples++; peakConn = Math.max(peakConn, Number(l)); }
  });
  await sleep(300);
  const started = performance.now();
  // BENCH_WRAP: a command prefix for profiling, e.g. "valgrind --tool=callgrind".
  const wrap = env.BENCH_WRAP ? env.BENCH_WRAP.split(' ').filter(Boolean) : [];
  const child = spawn('bash', ['-c', '"$@" >"$LOGF" 2>&1; rc=$?; times; exit $rc', 'bash', ...wrap, bin, ...args],
    { env: { ...jobEnv, LOGF: logFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const done = new Promise((r) => child.on('exit', (code) => r(code)));
  const sampler = startSampler(child.pid);
  const code = await done;
  const wall = (performance.now() - started) / 1000;
  const { peak, samples: memSamples } = await sampler.stop();
  await sleep(300);
  psql.kill('SIGTERM');
  const cpu = process.cpuUsage(cpu0);
  const pgCpu = ((await pgTicks(pg)) - t0pg) / TICK;
  // `times`: line 2 = children user and system, e.g. "0m1.234s 0m0.567s".
  const l2 = out.trim().split('\n')[1] ?? '';
  const sec = (s) => { const m = /(\d+)m([\d.]+)s/.exec(s); return m ? Number(m[1]) * 60 + Number(m[2]) : NaN; };
  const [u, s] = l2.split(' ').map(sec);
  return { code, wall_s: wall, cpu_user_s: u, cpu_sys_s: s, pg_cpu_s: pgCpu,
    upstream_cpu_s: (cpu.user + cpu.system) / 1e6, peak_rss_kb: peak.rss, peak_pss_kb: peak.pss,
    peak_processes: peak.procs, mem_samples: memSamples, peak_db_connections: peakConn,
    conn_samples: connSamples, loadavg_before: load };
}

async function main() {
  const trackerBin = path.join(BDIR, 'jobs/reboss-sales-tracker');
  const probeBin = path.join(BDIR, 'tests/jobs/job_probe');
  for (const b of [trackerBin, path.join(BDIR, 'ctl/rebossctl'), ...(JOB === 'probe' ? [probeBin] : [])])
    if (!fs.existsSync(b)) throw new Error(`${b} missing: build first (make -C BUILDDIR all check_PROGRAMS)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reboss-bench-jobs-'));
  await chmod(dir, 0o711);
  let pg, fake, up;
  try {
    pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
    fake = await createFakeShopify({ port: 0, restoreRate: 1e6, bucketSize: 1e6 });
    up = await startUpstream(fake);
    // BENCH_DB=socket: the job connects over the unix socket with "trust"
    // (no TCP, no SCRAM), to show what the per-shop connection costs.
    let dbUrl = pg.conninfo;
    if (DB === 'socket') {
      const hba = path.join(pg.dataDir, 'pg_hba.conf');
      await writeFile(hba, `local reboss reboss trust\n${await readFile(hba, 'utf8')}`);
      await pg.psql('SELECT pg_reload_conf()', { user: 'postgres', password: pg.superuser.password, dbname: 'postgres' });
      dbUrl = `postgresql://reboss@/reboss?host=${encodeURIComponent(pg.socketDir)}&port=${pg.port}`;
    }
    const conf = path.join(dir, 'reboss.conf');
    await writeFile(conf, [`database_url = ${dbUrl}`, `token_key = ${crypto.randomBytes(32).toString('hex')}`,
      `jwt_secret = ${crypto.randomBytes(32).toString('hex')}`, `shopify_base_url = ${up.url}/{shop}`, ''].join('\n'),
    { mode: 0o600 });
    const jobEnv = { ...env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', REBOSS_SQLDIR: path.join(REPO, 'sql') };
    await run(path.join(BDIR, 'ctl/rebossctl'), ['--config', conf, 'migrate'], { env: jobEnv });
    if (env.BENCH_PG_LOG) { // every statement with its duration, for a look afterwards (with REBOSS_KEEP_TMP)
      await pg.psql("ALTER SYSTEM SET log_min_duration_statement = 0; ALTER SYSTEM SET log_connections = on; ALTER SYSTEM SET log_disconnections = on",
        { user: 'postgres', password: pg.superuser.password, dbname: 'postgres' });
      await pg.psql('SELECT pg_reload_conf()', { user: 'postgres', password: pg.superuser.password, dbname: 'postgres' });
    }

    if (env.BENCH_PG_STATS) { // pg_stat_statements (nested too), printed after the last run
      const su = { user: 'postgres', password: pg.superuser.password, dbname: 'postgres' };
      await pg.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", su);
      await pg.stop();
      await pg.start();
      await pg.psql("ALTER SYSTEM SET pg_stat_statements.track = 'all'", su);
      await pg.psql('SELECT pg_reload_conf()', su);
      await pg.psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', { ...su, dbname: 'reboss' });
    }

    // 1. Record: the template shops through the real tracker and the real fake.
    const tpl = sizes();
    tpl.forEach((s, k) => addTemplate(fake, k, s));
    await pg.psql(`INSERT INTO public.shops (user_id, shop_domain, access_token)
      SELECT gen_random_uuid(), 'tpl-' || g || '.myshopify.com', '${TOKEN}' FROM generate_series(0, ${TEMPLATES - 1}) g`);
    const t0 = performance.now();
    const rec = await run(trackerBin, ['--config', conf, '--parallel', '4'], { env: jobEnv, maxBuffer: 1 << 26 })
      .then(() => 0, (e) => e);
    if (rec !== 0) throw new Error(`recording run failed (${rec.code}): ${String(rec.stderr).slice(-2000)}`);
    const recS = (performance.now() - t0) / 1000;
    if (fake.validationErrors.length) throw new Error(`fake: invalid documents: ${JSON.stringify(fake.validationErrors[0])}`);
    const tplReq = new Map([...up.perShop]);
    process.stderr.write(`recorded ${up.answers.size} answers of ${TEMPLATES} template shops in ${recS.toFixed(1)} s ` +
      `(${up.st.requests} requests to the real fake)\n`);
    up.st.mode = 'replay';
    await fake.close(); fake = null;

    // What parsing those answers costs by itself (bench/parse_cost.c): the
    // tracker's CPU "beyond parsing" is its CPU per shop minus this.
    const answersFile = path.join(dir, 'answers.bin');
    await writeFile(answersFile, Buffer.concat([...up.answers.values()].flatMap((a) => {
      const b = a.body; return [Buffer.from(`${b.length}\n`), b];
    })));
    const parseBin = path.join(dir, 'parse_cost');
    const jansson = (await run('pkg-config', ['--cflags', '--libs', 'jansson'])).stdout.trim().split(/\s+/).filter(Boolean);
    await run('cc', ['-O2', '-o', parseBin, path.join(HERE, 'parse_cost.c'), ...jansson]);
    const [nAns, nBytes, nsRound] = (await run(parseBin, [answersFile, '50'])).stdout.trim().split(' ').map(Number);
    const parseMsPerShop = nsRound / 1e6 / TEMPLATES;
    process.stderr.write(`parsing the ${nAns} answers (${(nBytes / 1048576).toFixed(1)} MiB) costs ` +
      `${parseMsPerShop.toFixed(3)} ms of CPU per shop\n`);

    const results = [];
    for (const n of SIZES) {
      const reps = n === Math.max(...SIZES) && SIZES.length > 1 ? 1 : REPEAT;
      // One re-run after the first size's runs (BENCH_RERUN, 1): the data and
      // each shop's last duration stay, as on the next night.
      const rerun = RERUN && JOB !== 'probe' && n === SIZES[0] ? 1 : 0;
      for (let rep = 0; rep < reps + rerun; rep++) {
        const again = rep === reps;
        // BENCH_RERUN_LPT=0: the re-run forgets the last durations, so the
        // shops start in id order as on a first run (for comparison).
        await pg.psql(again ? `DELETE FROM public.job_leases; DELETE FROM public.job_runs;
          ${env.BENCH_RERUN_LPT === '0' ? 'UPDATE public.shop_job_status SET last_duration_ms = NULL;' : ''}
          VACUUM ANALYZE;`
          : `TRUNCATE public.shops, public.products, public.order_lines_ledger, public.product_sales_daily,
          public.sales_cursors, public.job_leases, public.job_runs, public.shop_job_status CASCADE;
          INSERT INTO public.shops (user_id, shop_domain, access_token)
          SELECT gen_random_uuid(), 'bench-' || g || '.myshopify.com', '${TOKEN}' FROM generate_series(0, ${n - 1}) g;
          VACUUM ANALYZE;`);
        // Every run starts from the same state: WAL written out, the
        // previous run's processes gone.
        await pg.psql('CHECKPOINT', { user: 'postgres', password: pg.superuser.password, dbname: 'postgres' });
        await run('sync', []);
        await sleep(3000);
        up.perShop.clear(); up.st.requests = 0; up.st.misses = 0; up.st.bytes = 0; up.st.lat = [];
        // The expected work, from the template counts (the replay counts it again).
        let sumReq = 0, maxReq = 0;
        for (let i = 0; i < n; i++) {
          const r = tplReq.get(`tpl-${i % TEMPLATES}.myshopify.com`) ?? 0;
          sumReq += r; maxReq = Math.max(maxReq, r);
        }
        const meanShopMs = env.BENCH_PROBE_SLEEP_MS !== undefined && JOB === 'probe'
          ? Number(env.BENCH_PROBE_SLEEP_MS) : (sumReq * DELAY) / n;
        const isProbe = JOB === 'probe';
        const r = await runJob({ bin: isProbe ? probeBin : trackerBin, pg, up,
          args: ['--config', conf, '--parallel', String(PARALLEL)], logFile: path.join(dir, `job-${n}-${rep}.log`),
          jobEnv: isProbe ? { ...jobEnv, PROBE_SLEEP_MS: String(Math.round(meanShopMs)) } : jobEnv });
        r.probe_sleep_ms = isProbe ? Math.round(meanShopMs) : undefined;
        const row = (await pg.psql(`SELECT status || ' ' || shops_total || ' ' || shops_processed || ' ' || shops_failed
          FROM public.job_runs ORDER BY started_at DESC LIMIT 1`)).trim().split(' ');
        const nprod = Number((await pg.psql('SELECT count(*) FROM public.products')).trim());
        const actualReq = up.st.requests;
        const idealS = isProbe ? Math.max((n * Math.round(meanShopMs)) / PARALLEL, meanShopMs) / 1000
          : Math.max((sumReq * DELAY) / PARALLEL, maxReq * DELAY) / 1000;
        const res = { job: isProbe ? 'job_probe' : 'sales_tracker', shops: n, run: again ? 're-run' : rep + 1, parallel: PARALLEL,
          delay_ms: DELAY, exit: r.code, run_status: row[0], shops_processed: Number(row[2]), shops_failed: Number(row[3]),
          products_rows: nprod, upstream_requests: actualReq, expected_requests: isProbe ? 0 : sumReq,
          replay_misses: up.st.misses, upstream_held_ms: heldStats(up.st.lat), upstream_bytes: up.st.bytes, largest_shop_requests: maxReq,
          ideal_s: idealS, ...r, wall_over_ideal: idealS > 0 ? r.wall_s / idealS : null,
          cpu_ms_per_shop: ((r.cpu_user_s + r.cpu_sys_s) * 1000) / n,
          parse_ms_per_shop: isProbe ? 0 : parseMsPerShop,
          cpu_beyond_parse_ms_per_shop: ((r.cpu_user_s + r.cpu_sys_s) * 1000) / n - (isProbe ? 0 : parseMsPerShop),
          cpu_us_per_request: actualReq ? ((r.cpu_user_s + r.cpu_sys_s) * 1e6) / actualReq : null,
          pg_cpu_ms_per_shop: (r.pg_cpu_s * 1000) / n,
          upstream_cpu_share: r.upstream_cpu_s / r.wall_s };
        results.push(res);
        process.stderr.write(`  ${res.job} ${n} shops run ${res.run}: exit ${r.code} ${row.join(' ')} wall ${r.wall_s.toFixed(2)} s ` +
          `ideal ${idealS.toFixed(2)} s (x${res.wall_over_ideal?.toFixed(3)}) cpu ${res.cpu_ms_per_shop.toFixed(2)} ms/shop ` +
          `(beyond parsing ${res.cpu_beyond_parse_ms_per_shop.toFixed(2)}) ` +
          `pg ${res.pg_cpu_ms_per_shop.toFixed(2)} ms/shop peak PSS ${(r.peak_pss_kb / 1024).toFixed(1)} MiB ` +
          `conns ${r.peak_db_connections} load ${r.loadavg_before[0]} misses ${up.st.misses} ` +
          `held ${JSON.stringify(res.upstream_held_ms)}\n`);
      }
    }

    if (env.BENCH_PG_STATS)
      process.stderr.write(await pg.psql(`SELECT round(total_exec_time::numeric, 1) AS ms, calls,
        round((total_exec_time / calls)::numeric, 3) AS ms_per_call, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30`,
        { user: 'postgres', password: pg.superuser.password, dbname: 'reboss' }));
    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const out = { bench: 'jobs', date: new Date().toISOString(),
      machine: { nproc: os.cpus().length, cpu: /model name\s*:\s*(.*)/.exec(cpu)?.[1] ?? '?',
        mem_mb: Math.round(os.totalmem() / 1048576), kernel: os.release() },
      settings: { tag: env.BENCH_TAG ?? null, job_sessions: env.REBOSS_JOB_SESSIONS !== '0', job: JOB, db: DB === 'socket' ? 'unix socket, trust' : 'TCP, SCRAM-SHA-256', parallel: PARALLEL, delay_ms: DELAY, templates: TEMPLATES, template_sizes: tpl,
        template_requests: Object.fromEntries(tplReq), recording_s: recS },
      targets: { wall_over_ideal: '<= 1.15', cpu_ms_per_shop: '<= 5 beyond parsing' },
      results };
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(path.join(OUT_DIR, `${JOB === 'probe' ? 'jobs-probe' : 'jobs'}${DB === 'socket' ? '-socket' : ''}` +
      `${env.BENCH_TAG ? `-${env.BENCH_TAG}` : ''}.json`), JSON.stringify(out, null, 2) + '\n');

    const f = (v, d = 2) => Number(v).toFixed(d);
    const lines = [`Jobs (${JOB === 'probe' ? `job_probe, PROBE_SLEEP_MS ${results[0]?.probe_sleep_ms}` : JOB}, --parallel ${PARALLEL}, ${DELAY} ms per upstream request, database over ${DB === 'socket' ? 'unix socket (trust)' : 'TCP (SCRAM)'}, ${TEMPLATES} shop templates of uneven size)`,
      '| shops | run | exit | wall s | ideal s | wall/ideal | CPU ms/shop | of it parsing | beyond parsing | PG CPU ms/shop | peak RSS MiB | peak PSS MiB | peak procs | peak DB conns | upstream req | load |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
    for (const r of results) {
      lines.push(`| ${r.shops} | ${r.run} | ${r.exit} | ${f(r.wall_s)} | ${f(r.ideal_s)} | ${r.wall_over_ideal == null ? '-' : f(r.wall_over_ideal, 3)} | ` +
        `${f(r.cpu_ms_per_shop)} | ${f(r.parse_ms_per_shop)} | ${f(r.cpu_beyond_parse_ms_per_shop)} | ${f(r.pg_cpu_ms_per_shop)} | ` +
        `${f(r.peak_rss_kb / 1024, 1)} | ${f(r.peak_pss_kb / 1024, 1)} | ${r.peak_processes} | ${r.peak_db_connections} | ` +
        `${r.upstream_requests} | ${r.loadavg_before[0]} |`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await up?.close().catch(() => {});
    await fake?.close().catch(() => {});
    if (env.BENCH_PG_LOG && pg) await fs.promises.copyFile(path.join(pg.baseDir, 'postgres.log'), path.join(dir, 'postgres.log')).catch(() => {});
    await pg?.destroy().catch(() => {});
    if (!env.REBOSS_KEEP_TMP) await rm(dir, { recursive: true, force: true }).catch(() => {});
    else process.stderr.write(`kept ${dir}\n`);
  }
}

main().catch((e) => { process.stderr.write(`bench/jobs.mjs: ${e.stack || e.message}\n`); process.exitCode = 1; });
