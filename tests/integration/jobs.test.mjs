// jobs.test.mjs - the job runtime (lib/job*.c) through tests/jobs/job_probe
// against a throwaway PostgreSQL (lib/pg.mjs) migrated by rebossctl.
//
// Binaries come from $REBOSS_BUILDDIR (default: the source tree):
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/jobs.test.mjs
// The probe's per-shop behaviour is steered by PROBE_* variables (see
// tests/jobs/job_probe.c); it logs "start PID DOMAIN" / "done PID DOMAIN"
// lines, which is how exactly-once and concurrency are counted here.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const probe = path.join(buildDir, 'tests', 'jobs', 'job_probe');
// An ASan build (--enable-sanitizers) starts each worker several times
// slower: the concurrency test gives each shop longer there, so that 20
// workers really overlap.
const sanitized = await fs.readFile(path.join(buildDir, 'Makefile'), 'utf8')
  .then((t) => /^SAN_CFLAGS = -fsanitize/m.test(t), () => false);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let pg;
let tmp;
let conf;
let logSeq = 0;

function execp(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

// Starts the probe; .done resolves to {code, signal, stderr, ms}.
function startJob(args, env = {}) {
  const t0 = Date.now();
  const child = spawn(probe, ['--config', conf, ...args], {
    env: {
      ...process.env,
      REBOSS_CONFIG: '',
      NOTIFY_SOCKET: '',
      REBOSS_JOB_GRACE_SEC: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { stderr += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr, ms: Date.now() - t0 }));
  });
  return { child, done };
}

async function runJob(args, env = {}) {
  return startJob(args, env).done;
}

async function q(sql) {
  return (await pg.psql(sql)).trim();
}

async function rows(sql) {
  const out = await q(`SELECT row_to_json(t) FROM (${sql}) t`);
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}

// n connected shops probe-1 .. probe-n; everything else emptied.
async function resetShops(n) {
  await q('TRUNCATE public.job_leases, public.shop_job_status, public.job_runs, public.shops CASCADE');
  await q(`INSERT INTO public.shops (user_id, shop_domain)
    SELECT gen_random_uuid(), 'probe-' || g || '.myshopify.com'
    FROM generate_series(1, ${Number(n)}) g`);
}

function newLog() {
  logSeq += 1;
  return path.join(tmp, `probe-${logSeq}.log`);
}

// The migrations in the source tree, in order ("008_sales_fast", ...):
// the newest is the one the programs require (MIGRATE_REQUIRED).
async function readdirSql() {
  return (await fs.readdir(path.join(srcDir, 'sql'))).filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .sort().map((f) => f.slice(0, -4));
}

async function readLog(file) {
  let text = '';
  try { text = await fs.readFile(file, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => {
    const [what, pid, domain, backend, tx] = l.split(' ');
    return { what, pid: Number(pid), domain, backend: Number(backend), tx: Number(tx) };
  });
}

function doneDomains(lines) {
  return lines.filter((l) => l.what === 'done').map((l) => l.domain);
}

// A run that proves its parallelism at any machine load: the probe holds
// the first `barrier` shops until that many have started (so `barrier` were
// in progress at once) and keeps the shops in progress under a lock, whose
// peak says no more ever were.  Returns { peak, started, timeouts }.
function countedEnv(barrier) {
  logSeq += 1;
  return { PROBE_COUNT_FILE: path.join(tmp, `count-${logSeq}`), PROBE_BARRIER: String(barrier) };
}

async function counted(env, log) {
  const [now, peak, started] = (await fs.readFile(env.PROBE_COUNT_FILE, 'utf8')).trim().split(' ').map(Number);
  const timeouts = (await readLog(log)).filter((l) => l.what === 'barrier-timeout').length;
  return { now, peak, started, timeouts };
}

function countBy(list) {
  const m = new Map();
  for (const x of list) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

async function waitFor(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function writeConf(file, extra = []) {
  await fs.writeFile(file, [
    '# written by jobs.test.mjs',
    `database_url = ${pg.conninfo}`,
    `token_key = ${randomBytes(32).toString('hex')}`,
    `jwt_secret = ${randomBytes(32).toString('hex')}`,
    ...extra,
    '',
  ].join('\n'), { mode: 0o600 });
}

before(async () => {
  for (const f of [rebossctl, probe]) {
    await fs.access(f).catch(() => {
      throw new Error(`${f} is missing: build it (make ctl/rebossctl tests/jobs/job_probe) or set REBOSS_BUILDDIR`);
    });
  }
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-jobs-'));
  pg = await startPostgres();
  conf = path.join(tmp, 'reboss.conf');
  await writeConf(conf);
  const m = await execp(rebossctl, ['--config', conf, 'migrate', '--sql-dir', path.join(srcDir, 'sql')],
    { REBOSS_CONFIG: '' });
  assert.equal(m.code, 0, `rebossctl migrate failed: ${m.stderr}${m.stdout}`);
});

after(async () => {
  if (pg) await pg.destroy();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('job runtime', () => {
  beforeEach(async () => { await q('SELECT 1'); });

  test('300 shops, parallel 20: every shop exactly once, recorded', async () => {
    await resetShops(300);
    const log = newLog();
    const cnt = countedEnv(20);
    const r = await runJob(['--parallel', '20'], {
      PROBE_SLEEP_MS: sanitized ? '400' : '60', PROBE_LOG_FILE: log, ...cnt,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = await readLog(log);
    const done = doneDomains(lines);
    assert.equal(done.length, 300);
    assert.equal(new Set(done).size, 300);
    // exactly 20 at once: the barrier at 20 released (>= 20), the peak <= 20
    assert.deepEqual(await counted(cnt, log), { now: 0, peak: 20, started: 300, timeouts: 0 });
    // one worker process per shop
    assert.equal(new Set(lines.filter((l) => l.what === 'done').map((l) => l.pid)).size, 300);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.job_type, 'sales_tracker');
    assert.equal(run.status, 'completed');
    assert.equal(run.shops_total, 300);
    assert.equal(run.shops_processed, 300);
    assert.equal(run.shops_failed, 0);
    assert.deepEqual(run.error_log, []);
    assert.ok(run.completed_at);
    assert.ok(run.host);
    const st = await rows(`SELECT last_status, count(*)::int AS n, count(DISTINCT shop_id)::int AS shops,
      bool_and(run_id = '${run.id}') AS same_run, bool_and(last_run_at IS NOT NULL) AS timed
      FROM public.shop_job_status WHERE job_type = 'sales_tracker' GROUP BY last_status`);
    assert.deepEqual(st, [{ last_status: 'success', n: 300, shops: 300, same_run: true, timed: true }]);
    const leases = await rows(`SELECT outcome, count(*)::int AS n FROM public.job_leases
      WHERE done_at IS NOT NULL AND run_id = '${run.id}' GROUP BY outcome`);
    assert.deepEqual(leases, [{ outcome: 'success', n: 300 }]);
  });

  test('database sessions: one per slot, handed from shop to shop, replaced when broken', async () => {
    await resetShops(120);
    const log = newLog();
    const r = await runJob(['--parallel', '4'], {
      PROBE_LOG_FILE: log,
      PROBE_OPEN_TX_DOMAIN: 'probe-10.myshopify.com',
      PROBE_KILL_SESSION_DOMAIN: 'probe-20.myshopify.com,probe-21.myshopify.com',
      PROBE_CRASH_DOMAIN: 'probe-30.myshopify.com',
    });
    assert.equal(r.code, 1, r.stderr);
    const lines = await readLog(log);
    const starts = lines.filter((l) => l.what === 'start');
    assert.equal(starts.length, 120);
    // Every shop has its own worker process ...
    assert.equal(new Set(starts.map((l) => l.pid)).size, 120);
    // ... and starts on an idle session, never inside another shop's transaction.
    assert.deepEqual(starts.filter((l) => !(l.backend > 0) || l.tx !== 0), []);
    // 4 slots' sessions, plus the few replaced after the kills and the crash.
    const backends = new Set(starts.map((l) => l.backend));
    assert.ok(backends.size >= 4 && backends.size <= 4 + 6, `sessions used: ${backends.size}`);
    // A terminated session is not handed on: no later shop starts on it.
    for (const d of ['probe-20.myshopify.com', 'probe-21.myshopify.com', 'probe-30.myshopify.com']) {
      const i = lines.findIndex((l) => l.what === 'start' && l.domain === d);
      assert.ok(i >= 0, d);
      const later = lines.slice(i + 1).filter((l) => l.what === 'start' && l.backend === lines[i].backend);
      assert.deepEqual(later, [], `${d}: its session was reused after it broke`);
    }
    const st = await rows(`SELECT s.shop_domain AS d, j.last_status AS s, j.last_error AS e
      FROM public.shop_job_status j JOIN public.shops s ON s.id = j.shop_id
      WHERE j.last_status <> 'success' ORDER BY 1`);
    assert.deepEqual(st.map((x) => x.d), ['probe-10.myshopify.com', 'probe-30.myshopify.com']);
    assert.match(st[0].e, /left a database transaction open/);
    assert.match(st[1].e, /signal 11/);
    assert.equal(Number(await q(`SELECT count(*) FROM public.shop_job_status WHERE last_status = 'success'`)), 118);
    // The same run with sessions off: a new backend for every shop (the
    // check above can tell the two apart).
    await resetShops(40);
    const log2 = newLog();
    const r2 = await runJob(['--parallel', '4'], { PROBE_LOG_FILE: log2, REBOSS_JOB_SESSIONS: '0' });
    assert.equal(r2.code, 0, r2.stderr);
    const b2 = new Set((await readLog(log2)).filter((l) => l.what === 'start').map((l) => l.backend));
    assert.equal(b2.size, 40);
  });

  test('a shop deleted while its worker ran: the result has nothing to be recorded on, the run goes on', async () => {
    await resetShops(6);
    const r = await runJob([], { PROBE_DELETE_DOMAIN: 'probe-2.myshopify.com' });
    assert.doesNotMatch(r.stderr, /could not record the result/);
    assert.match(r.stderr, /lease was no longer ours/);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.shops_total, 6);
    assert.equal(Number(await q(`SELECT count(*) FROM public.shops WHERE shop_domain = 'probe-2.myshopify.com'`)), 0);
    const st = await rows(`SELECT s.shop_domain AS d, j.last_status AS s FROM public.shop_job_status j
      JOIN public.shops s ON s.id = j.shop_id ORDER BY 1`);
    assert.deepEqual(st.map((x) => x.d), [1, 3, 4, 5, 6].map((i) => `probe-${i}.myshopify.com`));
    assert.ok(st.every((x) => x.s === 'success'));
    assert.equal(Number(await q(`SELECT count(*) FROM public.job_leases WHERE run_id = '${run.id}'`)), 5);
  });

  test('shops start longest first by what they took last time, shops the job never ran before them', async () => {
    await resetShops(8);
    await q(`INSERT INTO public.shop_job_status (shop_id, job_type, last_status, last_duration_ms)
      SELECT id, 'sales_tracker', 'success', v.ms FROM public.shops s
      JOIN (VALUES ('probe-2', 500), ('probe-3', 500), ('probe-5', 9000), ('probe-7', 20)) v(d, ms)
        ON s.shop_domain = v.d || '.myshopify.com';
      INSERT INTO public.shop_job_status (shop_id, job_type, last_status, last_duration_ms)
      SELECT id, 'replace_job', 'success', 99999 FROM public.shops WHERE shop_domain = 'probe-8.myshopify.com'`);
    const log = newLog();
    const r = await runJob(['--parallel', '1'], { PROBE_LOG_FILE: log });
    assert.equal(r.code, 0, r.stderr);
    const order = (await readLog(log)).filter((l) => l.what === 'start').map((l) => l.domain.split('.')[0]);
    assert.equal(order.length, 8);
    // never run by this job (another job's duration does not count), in id order
    assert.deepEqual([...order.slice(0, 4)].sort(), ['probe-1', 'probe-4', 'probe-6', 'probe-8']);
    const ids = new Map((await rows(`SELECT split_part(shop_domain, '.', 1) AS d, id FROM public.shops`))
      .map((x) => [x.d, x.id]));
    const firstFour = order.slice(0, 4).map((d) => ids.get(d));
    assert.deepEqual(firstFour, [...firstFour].sort());
    assert.equal(order[4], 'probe-5');
    assert.deepEqual([...order.slice(5, 7)].sort(), ['probe-2', 'probe-3']);
    assert.equal(order[7], 'probe-7');
  });

  test('a crashing, an exit(3) and a failing shop are recorded with their cause', async () => {
    await resetShops(10);
    const log = newLog();
    const r = await runJob([], {
      PROBE_LOG_FILE: log,
      PROBE_CRASH_DOMAIN: 'probe-1.myshopify.com',
      PROBE_EXIT3_DOMAIN: 'probe-2.myshopify.com',
      PROBE_FAIL_DOMAIN: 'probe-3.myshopify.com',
    });
    assert.equal(r.code, 1, r.stderr);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.shops_processed, 10);
    assert.equal(run.shops_failed, 3);
    const st = await rows(`SELECT s.shop_domain, j.last_status, j.last_error, j.consecutive_failures
      FROM public.shop_job_status j JOIN public.shops s ON s.id = j.shop_id ORDER BY s.shop_domain`);
    assert.equal(st.length, 10);
    const by = Object.fromEntries(st.map((x) => [x.shop_domain.split('.')[0], x]));
    assert.equal(by['probe-1'].last_status, 'failed');
    assert.match(by['probe-1'].last_error, /killed by signal 11 \(SIGSEGV\)/);
    assert.equal(by['probe-2'].last_status, 'failed');
    assert.match(by['probe-2'].last_error, /exited with status 3/);
    assert.equal(by['probe-3'].last_status, 'failed');
    assert.equal(by['probe-3'].last_error, 'probe failure for probe-3.myshopify.com');
    for (const k of ['probe-1', 'probe-2', 'probe-3']) assert.equal(by[k].consecutive_failures, 1);
    for (let i = 4; i <= 10; i++) {
      assert.equal(by[`probe-${i}`].last_status, 'success');
      assert.equal(by[`probe-${i}`].last_error, null);
    }
    const ids = Object.fromEntries((await rows('SELECT id, shop_domain FROM public.shops'))
      .map((x) => [x.id, x.shop_domain.split('.')[0]]));
    const errs = Object.fromEntries(run.error_log.map((e) => [ids[e.shop_id], e.error]));
    assert.equal(run.error_log.length, 3);
    assert.match(errs['probe-1'], /killed by signal 11/);
    assert.match(errs['probe-2'], /exited with status 3/);
    assert.match(errs['probe-3'], /probe failure/);

    // A second run: the failures count up, a success resets.
    const r2 = await runJob([], { PROBE_FAIL_DOMAIN: 'probe-3.myshopify.com' });
    assert.equal(r2.code, 1);
    const cf = await rows(`SELECT s.shop_domain, j.consecutive_failures FROM public.shop_job_status j
      JOIN public.shops s ON s.id = j.shop_id WHERE s.shop_domain IN
      ('probe-1.myshopify.com', 'probe-3.myshopify.com') ORDER BY 1`);
    assert.deepEqual(cf.map((x) => x.consecutive_failures), [0, 2]);
  });

  test('a worker killed with SIGKILL is recorded as "killed by signal 9"; the run goes on', async () => {
    await resetShops(6);
    const log = newLog();
    const job = startJob([], { PROBE_LOG_FILE: log, PROBE_HANG_DOMAIN: 'probe-4.myshopify.com' });
    const hung = await waitFor('the hanging worker', async () =>
      (await readLog(log)).find((l) => l.what === 'start' && l.domain === 'probe-4.myshopify.com'));
    await waitFor('the other shops', async () => doneDomains(await readLog(log)).length === 5);
    assert.ok(alive(hung.pid));
    assert.notEqual(hung.pid, job.child.pid);
    process.kill(hung.pid, 'SIGKILL');
    const r = await job.done;
    assert.equal(r.code, 1, r.stderr);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.shops_processed, 6);
    assert.equal(run.shops_failed, 1);
    assert.equal(run.error_log.length, 1);
    assert.match(run.error_log[0].error, /killed by signal 9 \(SIGKILL\)/);
    const [st] = await rows(`SELECT j.last_status, j.last_error FROM public.shop_job_status j
      JOIN public.shops s ON s.id = j.shop_id WHERE s.shop_domain = 'probe-4.myshopify.com'`);
    assert.equal(st.last_status, 'failed');
    assert.match(st.last_error, /killed by signal 9/);
  });

  test('SIGTERM mid-run: cancelled with true counts, nothing half-recorded', async () => {
    await resetShops(100);
    const log = newLog();
    const job = startJob(['--parallel', '5'], { PROBE_SLEEP_MS: '400', PROBE_LOG_FILE: log });
    await waitFor('a few shops', async () => doneDomains(await readLog(log)).length >= 8);
    job.child.kill('SIGTERM');
    const r = await job.done;
    // no failures: the program ends by the signal it got (a clean stop)
    assert.equal(r.signal, 'SIGTERM', `exit ${r.code}: ${r.stderr}`);
    const lines = await readLog(log);
    const done = doneDomains(lines);
    const started = lines.filter((l) => l.what === 'start');
    const interrupted = started.filter((s) => !done.includes(s.domain));
    for (const s of started) assert.ok(!alive(s.pid), `worker ${s.pid} still runs`);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.status, 'cancelled');
    assert.match(run.finish_reason, /SIGTERM/);
    assert.ok(run.completed_at);
    assert.equal(run.shops_total, 100);
    assert.equal(run.shops_processed, done.length);
    assert.ok(done.length < 100);
    assert.equal(run.shops_failed, 0);
    const st = await rows(`SELECT s.shop_domain, j.last_status FROM public.shop_job_status j
      JOIN public.shops s ON s.id = j.shop_id`);
    assert.deepEqual(st.map((x) => x.shop_domain).sort(), [...done].sort());
    assert.ok(st.every((x) => x.last_status === 'success'));
    // every lease of the run is either finished or released
    const leases = await rows(`SELECT s.shop_domain, l.done_at IS NOT NULL AS done, l.outcome,
      l.expires_at < now() AS expired FROM public.job_leases l JOIN public.shops s ON s.id = l.shop_id`);
    assert.equal(leases.length, done.length + interrupted.length);
    for (const l of leases) {
      if (done.includes(l.shop_domain)) assert.deepEqual([l.done, l.outcome], [true, 'success']);
      else assert.deepEqual([l.done, l.outcome, l.expired], [false, 'cancelled', true]);
    }
    // and the next run processes exactly the rest
    const log2 = newLog();
    const r2 = await runJob(['--parallel', '20'], { PROBE_LOG_FILE: log2 });
    assert.equal(r2.code, 0, r2.stderr);
    const done2 = doneDomains(await readLog(log2));
    assert.equal(done2.length, 100);
  });

  test('SIGTERM with workers that do not stop: SIGKILL after the grace period', async () => {
    await resetShops(3);
    const log = newLog();
    const job = startJob([], {
      PROBE_SLEEP_MS: '3600000', PROBE_IGNORE_TERM: '1', PROBE_LOG_FILE: log, REBOSS_JOB_GRACE_SEC: '1',
    });
    const starts = await waitFor('3 workers', async () => {
      const l = (await readLog(log)).filter((x) => x.what === 'start');
      return l.length === 3 ? l : null;
    });
    job.child.kill('SIGTERM');
    const r = await job.done;
    // Killed, not waited for: the workers ignore SIGTERM and work an hour,
    // so none finished its shop, and the parent says it killed them.
    assert.equal(r.signal, 'SIGTERM', r.stderr);
    assert.match(r.stderr, /grace period over: killing 3 workers/);
    assert.deepEqual(doneDomains(await readLog(log)), []);
    for (const s of starts) assert.ok(!alive(s.pid));
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.status, 'cancelled');
    assert.equal(run.shops_processed, 0);
    assert.equal(run.shops_failed, 0);
    const leases = await rows('SELECT outcome, error, done_at FROM public.job_leases');
    assert.equal(leases.length, 3);
    for (const l of leases) {
      assert.equal(l.outcome, 'cancelled');
      assert.equal(l.done_at, null);
      assert.match(l.error, /signal 9/);
    }
    assert.equal(await q('SELECT count(*) FROM public.shop_job_status'), '0');
  });

  test('two copies at once process every shop exactly once between them', async () => {
    await resetShops(200);
    const log = newLog();
    const env = { PROBE_SLEEP_MS: '40', PROBE_LOG_FILE: log, REBOSS_JOB_POLL_MS: '200' };
    const a = startJob(['--parallel', '10'], env);
    const b = startJob(['--parallel', '10'], env);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    const done = doneDomains(await readLog(log));
    const counts = countBy(done);
    assert.equal(counts.size, 200);
    assert.ok([...counts.values()].every((n) => n === 1), 'no shop twice');
    const runs = await rows('SELECT * FROM public.job_runs ORDER BY started_at');
    assert.equal(runs.length, 2);
    assert.ok(runs.every((x) => x.status === 'completed'));
    assert.equal(runs[0].shops_processed + runs[1].shops_processed, 200);
    assert.ok(runs[0].shops_processed > 0 && runs[1].shops_processed > 0, 'both worked');
    assert.equal(runs[0].generation, runs[1].generation, 'one generation');
  });

  test('a copy started while another is half-way joins its run, then a later run starts afresh', async () => {
    await resetShops(120);
    const log = newLog();
    const env = { PROBE_SLEEP_MS: '50', PROBE_LOG_FILE: log, REBOSS_JOB_POLL_MS: '200' };
    const a = startJob(['--parallel', '4'], env);
    await waitFor('A half-way', async () => doneDomains(await readLog(log)).length >= 30);
    const b = startJob(['--parallel', '4'], env);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    const counts = countBy(doneDomains(await readLog(log)));
    assert.equal(counts.size, 120);
    assert.ok([...counts.values()].every((n) => n === 1), 'no shop twice');
    const runs = await rows('SELECT * FROM public.job_runs ORDER BY started_at');
    assert.ok(runs[1].shops_processed > 0 && runs[1].shops_processed < 90);
    assert.equal(runs[0].shops_processed + runs[1].shops_processed, 120);

    // Both finished: the next run is a new generation and does every shop.
    const log2 = newLog();
    const rc = await runJob(['--parallel', '20'], { PROBE_LOG_FILE: log2 });
    assert.equal(rc.code, 0, rc.stderr);
    assert.equal(new Set(doneDomains(await readLog(log2))).size, 120);
  });

  test("a dead host's leases are taken over: expired at once, live ones when they expire", async () => {
    await resetShops(5);
    const dead = randomUUID();
    await q(`INSERT INTO public.job_leases (job_type, shop_id, run_id, host, pid, expires_at)
      SELECT 'sales_tracker', id, '${dead}', 'dead-host', 4242, now() - interval '1 minute'
      FROM public.shops WHERE shop_domain = 'probe-1.myshopify.com'`);
    await q(`INSERT INTO public.job_leases (job_type, shop_id, run_id, host, pid, expires_at)
      SELECT 'sales_tracker', id, '${dead}', 'dying-host', 4243, now() + interval '3 seconds'
      FROM public.shops WHERE shop_domain = 'probe-2.myshopify.com'`);
    const log = newLog();
    const r = await runJob([], { PROBE_LOG_FILE: log, REBOSS_JOB_POLL_MS: '200' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms >= 2000, `waited for the live lease (${r.ms} ms)`);
    assert.match(r.stderr, /took over the expired lease of host dead-host/);
    const counts = countBy(doneDomains(await readLog(log)));
    assert.equal(counts.size, 5);
    assert.ok([...counts.values()].every((n) => n === 1));
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.shops_processed, 5);
    const l = await rows('SELECT run_id, outcome FROM public.job_leases');
    assert.ok(l.every((x) => x.run_id === run.id && x.outcome === 'success'));
  });

  test('--shop by id and by domain runs just that shop; an unknown one exits 2', async () => {
    await resetShops(5);
    const [shop] = await rows(`SELECT id FROM public.shops WHERE shop_domain = 'probe-3.myshopify.com'`);
    for (const arg of [shop.id, 'probe-3.myshopify.com', 'probe-3']) {
      const log = newLog();
      const r = await runJob(['--shop', arg], { PROBE_LOG_FILE: log });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(doneDomains(await readLog(log)), ['probe-3.myshopify.com'], arg);
    }
    const runs = await rows('SELECT shops_total, shops_processed, status FROM public.job_runs');
    assert.equal(runs.length, 3);
    assert.ok(runs.every((x) => x.shops_total === 1 && x.shops_processed === 1 && x.status === 'completed'));
    for (const arg of [randomUUID(), 'nosuch-shop.myshopify.com']) {
      const r = await runJob(['--shop', arg]);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.includes(arg), r.stderr);
      assert.match(r.stderr, /No shop/);
    }
    assert.equal(await q('SELECT count(*) FROM public.job_runs'), '3');
  });

  test('[sales_tracker] parallel from the config, and --parallel wins', async () => {
    await resetShops(24);
    const conf3 = path.join(tmp, 'parallel3.conf');
    await writeConf(conf3, ['[sales_tracker]', 'parallel = 3']);
    const spawnWith = async (extra, n) => {
      const log = newLog();
      const cnt = countedEnv(n);
      const { done } = startJob([...extra], { PROBE_LOG_FILE: log, ...cnt });
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      return counted(cnt, log);
    };
    // --config given twice: the last one wins in getopt, so put ours last.
    // Exactly n at once: the barrier at n released, the peak is n.
    assert.deepEqual(await spawnWith(['--config', conf3], 3), { now: 0, peak: 3, started: 24, timeouts: 0 });
    assert.deepEqual(await spawnWith(['--config', conf3, '--parallel', '8'], 8),
      { now: 0, peak: 8, started: 24, timeouts: 0 });
  });

  test('--dry-run leases apart from real runs and leaves shop_job_status alone', async () => {
    await resetShops(4);
    const r = await runJob(['--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.dry_run, true);
    assert.equal(run.shops_processed, 4);
    assert.equal(await q("SELECT count(*) FROM public.job_leases WHERE job_type = 'sales_tracker:dry-run'"), '4');
    assert.equal(await q('SELECT count(*) FROM public.shop_job_status'), '0');
    // a real run right after still does every shop
    const log = newLog();
    const r2 = await runJob([], { PROBE_LOG_FILE: log });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(doneDomains(await readLog(log)).length, 4);
  });

  test('exit 2: bad usage, bad config, unreachable database', async () => {
    await resetShops(2);
    for (const args of [['--parallel', '0'], ['--parallel', 'x'], ['--bogus'], ['extra']]) {
      const r = await runJob(args);
      assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    }
    const bad = path.join(tmp, 'bad.conf');
    await fs.writeFile(bad, `database_url = ${pg.conninfo}\nno_such_key = 1\n`);
    let r = await runJob(['--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no_such_key/);
    r = await runJob(['--config', path.join(tmp, 'missing.conf')]);
    assert.equal(r.code, 2);
    const down = path.join(tmp, 'down.conf');
    await fs.writeFile(down, [
      'database_url = postgresql://reboss:x@127.0.0.1:1/reboss?connect_timeout=3',
      `token_key = ${randomBytes(32).toString('hex')}`,
      `jwt_secret = ${randomBytes(32).toString('hex')}`, '',
    ].join('\n'));
    r = await runJob(['--config', down]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /database/i);
    assert.equal(await q('SELECT count(*) FROM public.job_runs'), '0');
  });

  test('exit 2 before any work when the schema lacks the newest migration (forgotten rebossctl migrate)', async () => {
    await resetShops(3);
    const newest = (await readdirSql()).at(-1);
    const sum = await q(`SELECT checksum FROM public.reboss_migrations WHERE version = '${newest}'`);
    assert.match(sum, /^[0-9a-f]{64}$/);
    await q(`DELETE FROM public.reboss_migrations WHERE version = '${newest}'`);
    try {
      const r = await runJob([]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`migration ${newest} is missing\\): run \`rebossctl migrate\``));
      assert.equal(await q('SELECT count(*) FROM public.job_runs'), '0');
    } finally {
      await q(`INSERT INTO public.reboss_migrations (version, checksum) VALUES ('${newest}', '${sum}')`);
    }
    const ok = await runJob([]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('the database going away for a moment mid-run: the run goes on and finishes', async () => {
    await resetShops(60);
    const log = newLog();
    const job = startJob(['--parallel', '5'], { PROBE_SLEEP_MS: '100', PROBE_LOG_FILE: log });
    await waitFor('a few shops', async () => doneDomains(await readLog(log)).length >= 10);
    await pg.stop();
    await sleep(1500);
    await pg.start();
    const r = await job.done;
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code} ${r.signal}: ${r.stderr}`);
    const counts = countBy(doneDomains(await readLog(log)));
    assert.ok([...counts.values()].every((n) => n === 1), 'no shop twice');
    const [run] = await rows('SELECT * FROM public.job_runs');
    assert.equal(run.status, r.code === 0 ? 'completed' : 'completed_with_errors');
    assert.equal(run.shops_processed, 60);
    // a worker that finished while the database was away could not record
    // its success: it counts as failed, with a cause naming the database
    assert.ok(run.shops_processed - run.shops_failed <= counts.size);
    const ok = await rows(`SELECT s.shop_domain FROM public.shop_job_status j
      JOIN public.shops s ON s.id = j.shop_id WHERE j.last_status = 'success'`);
    assert.equal(ok.length, run.shops_processed - run.shops_failed);
    for (const x of ok) assert.ok(counts.has(x.shop_domain), x.shop_domain);
    assert.equal(run.error_log.length, run.shops_failed);
    for (const e of run.error_log) assert.match(e.error, /database/, e.error);
  });

  test('--help and --version', async () => {
    const h = await execp(probe, ['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--config FILE.*--shop ID\|DOMAIN.*--dry-run.*--parallel N/s);
    const v = await execp(probe, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^job-probe \d+\.\d+/);
  });
});
