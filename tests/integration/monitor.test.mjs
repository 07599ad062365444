// monitor.test.mjs - monitoring (issue 10): "rebossctl alert UNIT" to a
// local webhook receiver and a sendmail stand-in, the spool of undeliverable
// alerts, "rebossctl check" in every state, and the jobs' Prometheus
// textfile metrics (promtool check metrics, Debian package prometheus).
//
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/monitor.test.mjs
// Needs ctl/rebossctl and tests/jobs/job_probe built.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const probe = path.join(buildDir, 'tests', 'jobs', 'job_probe');
const HOST = os.hostname();

let pg;
let tmp;
let conf;
let spool;
let metricsDir;
let mailDir;
let sendmail;
let hook;                 // { port, bodies: [], fail: false, close() }
const secrets = {};       // every secret the configuration holds

// REBOSS_VALGRIND=1 runs rebossctl under valgrind (errors and leaks fail).
function execp(file, args, env = {}) {
  if (process.env.REBOSS_VALGRIND === '1' && file === rebossctl) {
    args = ['-q', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite',
      '--trace-children=no', file, ...args];
    file = 'valgrind';
  }
  return new Promise((resolve) => {
    execFile(file, args, {
      env: {
        ...process.env,
        REBOSS_CONFIG: '',
        NOTIFY_SOCKET: '',
        JOURNAL_STREAM: '',
        REBOSS_SENDMAIL: sendmail,
        REBOSS_ALERT_ATTEMPTS: '2',
        REBOSS_ALERT_RETRY_MS: '10',
        REBOSS_SQLDIR: path.join(srcDir, 'sql'),
        ...env,
      },
      timeout: 120_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const ctl = (args, env) => execp(rebossctl, ['--config', conf, ...args], env);
const q = async (sql) => (await pg.psql(sql)).trim();

async function startHook() {
  const h = { bodies: [], fail: false };
  h.server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (h.fail) {
        res.writeHead(500).end('down');
        return;
      }
      h.bodies.push({ url: req.url, type: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((r) => h.server.listen(0, '127.0.0.1', r));
  h.port = h.server.address().port;
  h.close = () => new Promise((r) => h.server.close(r));
  return h;
}

async function mails() {
  const files = (await fs.readdir(mailDir)).filter((f) => f.startsWith('mail.')).sort();
  return Promise.all(files.map(async (f) => fs.readFile(path.join(mailDir, f), 'utf8')));
}

async function clearMails() {
  for (const f of await fs.readdir(mailDir)) await fs.rm(path.join(mailDir, f));
}

async function spooled() {
  return (await fs.readdir(spool)).filter((f) => f.endsWith('.alert'));
}

function assertNoSecret(text, what) {
  for (const [k, v] of Object.entries(secrets)) {
    assert.ok(!text.includes(v), `${what} contains the secret ${k}`);
  }
}

async function writeConf(file, dbUrl) {
  await fs.writeFile(file, [
    '# written by monitor.test.mjs',
    `database_url = ${dbUrl}`,
    `token_key = ${secrets.token_key}`,
    `jwt_secret = ${secrets.jwt_secret}`,
    `openai_api_key = ${secrets.openai_api_key}`,
    `pinterest_app_id = 1234`,
    `pinterest_app_secret = ${secrets.pinterest_app_secret}`,
    `alert_webhook_url = http://127.0.0.1:${hook.port}/hooks/${secrets.webhook_path}`,
    'alert_email = ops@example.com, oncall@example.com',
    'alert_from = reboss@example.com',
    `alert_spool_dir = ${spool}`,
    `metrics_dir = ${metricsDir}`,
    '',
  ].join('\n'), { mode: 0o600 });
}

// Job runs of every job completed `hours` ago (full runs: generation set).
async function freshRuns(hoursByJob = {}) {
  await q('TRUNCATE public.job_leases, public.shop_job_status, public.job_runs CASCADE');
  for (const j of ['sales_tracker', 'replace_job', 'product_optimize', 'product_creation', 'pinterest_sync']) {
    const h = hoursByJob[j] ?? 1;
    await q(`INSERT INTO public.job_runs (job_type, status, started_at, completed_at, generation,
      shops_total, shops_processed, host)
      VALUES ('${j}', 'completed', now() - interval '${h + 0.5} hours', now() - interval '${h} hours',
      now() - interval '${h + 0.5} hours', 3, 3, 'testhost')`);
  }
}

before(async () => {
  for (const f of [rebossctl, probe]) {
    await fs.access(f).catch(() => {
      throw new Error(`${f} is missing: build it (make ctl/rebossctl tests/jobs/job_probe) or set REBOSS_BUILDDIR`);
    });
  }
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-monitor-'));
  spool = path.join(tmp, 'spool');
  metricsDir = path.join(tmp, 'metrics');
  mailDir = path.join(tmp, 'mail');
  for (const d of [spool, metricsDir, mailDir]) await fs.mkdir(d);
  // sendmail stand-in: records argv and the message; fails while
  // $mailDir/fail exists.
  sendmail = path.join(tmp, 'sendmail');
  await fs.writeFile(sendmail, `#!/bin/sh
[ -e '${mailDir}/fail' ] && exit 75
f='${mailDir}/mail.'$(date +%s%N).$$
{ echo "ARGV: $*"; cat; } > "$f.tmp" && mv "$f.tmp" "$f"
`, { mode: 0o755 });
  secrets.token_key = randomBytes(32).toString('hex');
  secrets.jwt_secret = randomBytes(32).toString('hex');
  secrets.openai_api_key = `sk-test-${randomBytes(16).toString('hex')}`;
  secrets.pinterest_app_secret = `pinsecret${randomBytes(12).toString('hex')}`;
  secrets.webhook_path = `T0/B0/${randomBytes(12).toString('hex')}`;
  secrets.shop_token = `shpat_${randomBytes(16).toString('hex')}`;
  hook = await startHook();
  pg = await startPostgres();
  secrets.db_password = pg.password;
  conf = path.join(tmp, 'reboss.conf');
  await writeConf(conf, pg.conninfo);
  const m = await ctl(['migrate', '--sql-dir', path.join(srcDir, 'sql')]);
  assert.equal(m.code, 0, `rebossctl migrate failed: ${m.stderr}${m.stdout}`);
});

after(async () => {
  if (hook) await hook.close();
  if (pg) await pg.destroy();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('alerts', () => {
  let run;

  test('a failing job: webhook and mail name unit, host, counts, failing shop, journalctl; no secret', async () => {
    await q('TRUNCATE public.job_leases, public.shop_job_status, public.job_runs, public.shops CASCADE');
    await q(`INSERT INTO public.shops (user_id, shop_domain, access_token)
      SELECT gen_random_uuid(), 'probe-' || g || '.myshopify.com', '${secrets.shop_token}'
      FROM generate_series(1, 3) g`);
    const r = await execp(probe, ['--config', conf], { PROBE_FAIL_DOMAIN: 'probe-2.myshopify.com' });
    assert.equal(r.code, 1, r.stderr);
    [run] = (await q(`SELECT row_to_json(r) FROM public.job_runs r`)).split('\n').map((l) => JSON.parse(l));
    assert.equal(run.status, 'completed_with_errors');

    hook.bodies = [];
    await clearMails();
    const a = await ctl(['alert', 'reboss-sales-tracker.service'], {
      MONITOR_SERVICE_RESULT: 'exit-code', MONITOR_EXIT_CODE: 'exited', MONITOR_EXIT_STATUS: '1',
    });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(hook.bodies.length, 1, 'one POST');
    const { url, type, body } = hook.bodies[0];
    assert.equal(url, `/hooks/${secrets.webhook_path}`);
    assert.match(type, /^application\/json/);
    const j = JSON.parse(body);
    // Slack reads "text", Discord "content" (at most 2000 characters)
    assert.equal(typeof j.text, 'string');
    assert.equal(typeof j.content, 'string');
    assert.ok(j.content.length <= 2000);
    for (const s of [j.text, j.content]) {
      assert.match(s, /reboss-sales-tracker\.service failed on /);
      assert.ok(s.includes(HOST), 'names the host');
      assert.match(s, /3 shops: 3 processed, 1 failed/);
      assert.match(s, /probe-2\.myshopify\.com: probe failure for probe-2\.myshopify\.com/);
      assert.ok(s.includes('journalctl -u reboss-sales-tracker.service -n 200'));
    }
    assert.equal(j.unit, 'reboss-sales-tracker.service');
    assert.equal(j.host, HOST);
    assert.equal(j.journalctl, 'journalctl -u reboss-sales-tracker.service -n 200');
    assert.equal(j.service_result, 'exit-code');
    assert.equal(j.run.id, run.id);
    assert.equal(j.run.status, 'completed_with_errors');
    assert.match(j.run.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(j.run.completed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(typeof j.run.duration_s, 'number');
    assert.equal(j.run.shops_total, 3);
    assert.equal(j.run.shops_processed, 3);
    assert.equal(j.run.shops_failed, 1);
    assert.equal(j.failing_shops.length, 1);
    assert.equal(j.failing_shops[0].shop_domain, 'probe-2.myshopify.com');
    assert.match(j.failing_shops[0].error, /probe failure/);
    assertNoSecret(body, 'the webhook body');

    const ms = await mails();
    assert.equal(ms.length, 1, 'one mail');
    const mail = ms[0];
    assert.match(mail, /^ARGV: -t -oi\n/);
    assert.match(mail, /^To: ops@example\.com, oncall@example\.com$/m);
    assert.match(mail, /^From: reboss@example\.com$/m);
    assert.match(mail, new RegExp(`^Subject: \\[ReBoss\\] reboss-sales-tracker\\.service failed on ${HOST.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(mail, /probe-2\.myshopify\.com: probe failure/);
    assert.match(mail, /journalctl -u reboss-sales-tracker\.service -n 200/);
    assertNoSecret(mail, 'the mail');
  });

  test('secrets and token-shaped text in a shop error never reach an alert', async () => {
    const leak = `Shopify said: invalid token ${secrets.shop_token}; OpenAI key ${secrets.openai_api_key}; ` +
      `Authorization: Bearer ${secrets.jwt_secret}; app secret ${secrets.pinterest_app_secret}`;
    await q(`UPDATE public.job_runs SET error_log = jsonb_build_array(jsonb_build_object(
      'shop_id', (SELECT id FROM public.shops WHERE shop_domain = 'probe-1.myshopify.com'),
      'error', '${leak}')) WHERE id = '${run.id}'`);
    hook.bodies = [];
    await clearMails();
    const a = await ctl(['alert', 'reboss-sales-tracker.service']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(hook.bodies.length, 1);
    const { body } = hook.bodies[0];
    assert.match(body, /probe-1\.myshopify\.com/);
    assert.match(body, /Shopify said: invalid token/, 'the error itself is there');
    assertNoSecret(body, 'the webhook body');
    const [mail] = await mails();
    assert.match(mail, /Shopify said: invalid token/);
    assertNoSecret(mail, 'the mail');
    assertNoSecret(a.stderr + a.stdout, 'the log');
  });

  test('an alert for the API unit (no job run) still goes out', async () => {
    hook.bodies = [];
    const a = await ctl(['alert', 'reboss-api.service']);
    assert.equal(a.code, 0, a.stderr);
    const j = JSON.parse(hook.bodies[0].body);
    assert.equal(j.unit, 'reboss-api.service');
    assert.equal(j.run, null);
    assert.match(j.text, /reboss-api\.service failed on /);
  });

  test('reboss.conf unreadable: the alert is mailed to root, naming the unit and the problem', async () => {
    await clearMails();
    const a = await execp(rebossctl, ['--config', path.join(tmp, 'nonexistent.conf'), 'alert', 'reboss-sales-tracker.service']);
    assert.equal(a.code, 2, a.stderr);
    const m = await mails();
    assert.equal(m.length, 1, a.stderr);
    assert.match(m[0], /^To: root$/m);
    assert.match(m[0], /^Subject: \[ReBoss\] reboss-sales-tracker\.service failed on .*; reboss\.conf cannot be read$/m);
    assert.match(m[0], /nonexistent\.conf/);
    assert.match(m[0], /journalctl -u reboss-sales-tracker\.service/);
    assert.match(a.stderr, /mailed to root/);
  });

  test('undeliverable: retried, logged, spooled, and delivered by the next run', async () => {
    hook.bodies = [];
    await clearMails();
    hook.fail = true;
    await fs.writeFile(path.join(mailDir, 'fail'), '');
    const a = await ctl(['alert', 'reboss-replace-job.service']);
    assert.equal(a.code, 1, 'spooled: exit 1');
    assert.match(a.stderr, /attempt 1 of 2/);
    assert.match(a.stderr, /attempt 2 of 2/);
    assert.ok(!a.stderr.includes(secrets.webhook_path), 'the webhook URL is never logged');
    assert.equal((await spooled()).length, 2, 'webhook and mail kept');
    for (const f of await spooled()) assertNoSecret(await fs.readFile(path.join(spool, f), 'utf8'), f);

    // Still down: the next alert keeps the old ones and adds its own.
    const b = await ctl(['alert', 'reboss-replace-job.service']);
    assert.equal(b.code, 1);
    assert.equal((await spooled()).length, 4);

    // Back up: the next check sends the spool first, oldest first.
    hook.fail = false;
    await fs.rm(path.join(mailDir, 'fail'));
    await freshRuns();
    const c = await ctl(['check']);
    assert.equal((await spooled()).length, 0, `spool emptied: ${c.stderr}`);
    assert.equal(hook.bodies.length, 2);
    for (const h of hook.bodies) assert.match(JSON.parse(h.body).text, /reboss-replace-job\.service failed/);
    assert.equal((await mails()).length, 2);
  });
});

describe('rebossctl check', () => {
  const check = async (args = [], env) => {
    const r = await ctl(['check', ...args], env);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one status line: ${r.stdout} (exit ${r.code}) ${r.stderr}`);
    const [msg, perf] = lines[0].split(' | ');
    return { code: r.code, line: lines[0], msg, perf: perf ?? '', stderr: r.stderr };
  };

  test('fresh: OK, with perfdata for every job', async () => {
    await freshRuns();
    const c = await check();
    assert.equal(c.code, 0, c.line + c.stderr);
    assert.match(c.msg, /^REBOSS OK - /);
    for (const j of ['sales_tracker', 'replace_job', 'product_optimize', 'product_creation'])
      assert.match(c.perf, new RegExp(`${j}_age=\\d+s;129600;172800;0`));
    assert.match(c.perf, /pinterest_sync_age=\d+s;21600;28800;0/);
    assert.match(c.perf, /failing_shops=0;/);
    assert.match(c.perf, /tokens_expired=0;/);
    assert.match(c.perf, /migrations_pending=0;/);
  });

  test('stale: a job without success for more than twice its interval is CRITICAL', async () => {
    await freshRuns({ sales_tracker: 50 });
    const c = await check();
    assert.equal(c.code, 2, c.line);
    assert.match(c.msg, /^REBOSS CRITICAL - .*sales_tracker last success 50h ago/);
    assert.match(c.perf, /sales_tracker_age=18\d{4}s;129600;172800;0/);
    // pinterest_sync every 4 h: 9 h is stale, 7 h only late (WARNING)
    await freshRuns({ pinterest_sync: 9 });
    assert.equal((await check()).code, 2);
    await freshRuns({ pinterest_sync: 7 });
    const w = await check();
    assert.equal(w.code, 1, w.line);
    assert.match(w.msg, /^REBOSS WARNING - pinterest_sync last success 7h00m ago/);
  });

  test('a shop failing three runs in a row: WARNING naming it', async () => {
    await freshRuns();
    await q(`INSERT INTO public.shop_job_status (shop_id, job_type, last_run_at, last_status, last_error,
      consecutive_failures) SELECT id, 'sales_tracker', now(), 'failed', 'x', 2 FROM public.shops
      WHERE shop_domain = 'probe-1.myshopify.com'`);
    assert.equal((await check()).code, 0, 'two in a row is not yet a problem');
    await q(`UPDATE public.shop_job_status SET consecutive_failures = 3`);
    const c = await check();
    assert.equal(c.code, 1, c.line);
    assert.match(c.msg, /^REBOSS WARNING - 1 shop failing 3 runs in a row \(probe-1\.myshopify\.com\)/);
    assert.match(c.perf, /failing_shops=1;/);
  });

  test('tokens: expiring within 3 days is WARNING, expired is CRITICAL', async () => {
    await freshRuns();
    // A Pinterest link whose refresh token runs out: the server can no
    // longer keep it alive.
    await q(`INSERT INTO public.pinterest_auth (shop_id, access_token, refresh_token, expires_at, refresh_expires_at)
      SELECT id, 'rbs1:sealed', 'rbs1:r', now() + interval '1 day', now() + interval '2 days' FROM public.shops
      WHERE shop_domain = 'probe-1.myshopify.com'`);
    let c = await check();
    assert.equal(c.code, 1, c.line);
    assert.match(c.msg, /1 token expiring within 3 days/);
    assert.match(c.msg, /probe-1\.myshopify\.com \(pinterest\)/);
    assert.match(c.perf, /tokens_expiring=1;/);
    await q(`UPDATE public.pinterest_auth SET refresh_expires_at = now() - interval '1 hour'`);
    c = await check();
    assert.equal(c.code, 2, c.line);
    assert.match(c.msg, /^REBOSS CRITICAL - 1 token expired/);
    assert.ok(!c.line.includes('rbs1:sealed'));
    // a refreshable Pinterest token counts by its refresh token's expiry
    await q(`UPDATE public.pinterest_auth SET expires_at = now() - interval '1 hour',
      refresh_expires_at = now() + interval '300 days'`);
    assert.equal((await check()).code, 0);
    await q('DELETE FROM public.pinterest_auth');
  });

  // Meta's token cannot be renewed by the server, only by the owner linking
  // again (the integrations route says needs_reconnect): expiring or
  // expired, it is not the operator's alert (the old check went CRITICAL
  // and alerted every day).
  test('tokens: an expired or expiring Meta token is the owner\'s, not an operator alert', async () => {
    await freshRuns();
    await q(`INSERT INTO public.meta_auth (shop_id, access_token, expires_at)
      SELECT id, 'rbs1:sealed', now() - interval '1 hour' FROM public.shops
      WHERE shop_domain = 'probe-1.myshopify.com'`);
    assert.equal((await q('SELECT count(*) FROM public.meta_auth')).trim(), '1', 'a connected shop has the link');
    let c = await check();
    assert.equal(c.code, 0, c.line);
    assert.match(c.perf, /tokens_expired=0;/);
    await q(`UPDATE public.meta_auth SET expires_at = now() + interval '2 days'`);
    c = await check();
    assert.equal(c.code, 0, c.line);
    await q('DELETE FROM public.meta_auth');
  });

  test('database down: CRITICAL without the password', async () => {
    const down = path.join(tmp, 'down.conf');
    const url = new URL(pg.conninfo);
    url.port = String(1); // nothing listens there
    await writeConf(down, url.toString());
    const r = await execp(rebossctl, ['--config', down, 'check']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^REBOSS CRITICAL - database unreachable/);
    assertNoSecret(r.stdout, 'the status line');
  });

  test('migrations pending: CRITICAL', async () => {
    const dir = path.join(tmp, 'sql');
    await fs.mkdir(dir, { recursive: true });
    for (const f of await fs.readdir(path.join(srcDir, 'sql')))
      await fs.copyFile(path.join(srcDir, 'sql', f), path.join(dir, f));
    await fs.writeFile(path.join(dir, '999_future.sql'), 'SELECT 1;\n');
    const c = await check(['--sql-dir', dir]);
    assert.equal(c.code, 2, c.line);
    assert.match(c.msg, /^REBOSS CRITICAL - 1 migration pending \(run rebossctl migrate\)/);
    assert.match(c.perf, /migrations_pending=1;/);
  });

  test('unusable configuration: UNKNOWN (3)', async () => {
    const r = await execp(rebossctl, ['--config', path.join(tmp, 'nonexistent.conf'), 'check']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^REBOSS UNKNOWN - /);
  });

  test('--alert: alerts when it turns bad, not again while unchanged, and on recovery', async () => {
    await fs.rm(path.join(spool, 'check.state'), { force: true });
    await freshRuns();
    hook.bodies = [];
    assert.equal((await check(['--alert'])).code, 0);
    assert.equal(hook.bodies.length, 0, 'OK from the start: no alert');
    await freshRuns({ replace_job: 60 });
    const c = await check(['--alert']);
    assert.equal(c.code, 2);
    assert.equal(hook.bodies.length, 1);
    const j = JSON.parse(hook.bodies[0].body);
    assert.equal(j.unit, 'reboss-check.service');
    assert.match(j.text, /REBOSS CRITICAL - replace_job last success 60h ago/);
    assert.ok(j.text.includes(HOST));
    assertNoSecret(hook.bodies[0].body, 'the check alert');
    await check(['--alert']);
    assert.equal(hook.bodies.length, 1, 'unchanged: not repeated');
    await freshRuns();
    assert.equal((await check(['--alert'])).code, 0);
    assert.equal(hook.bodies.length, 2);
    assert.match(JSON.parse(hook.bodies[1].body).text, /REBOSS OK/);
  });
});

describe('metrics', () => {
  test('the job run wrote reboss_sales_tracker.prom atomically; promtool accepts it', async () => {
    await q('TRUNCATE public.job_leases, public.shop_job_status, public.job_runs CASCADE');
    const r = await execp(probe, ['--config', conf], { PROBE_FAIL_DOMAIN: 'probe-3.myshopify.com' });
    assert.equal(r.code, 1, r.stderr);
    const files = await fs.readdir(metricsDir);
    assert.deepEqual(files, ['reboss_sales_tracker.prom'], 'one file, no temp file left');
    const text = await fs.readFile(path.join(metricsDir, files[0]), 'utf8');
    assert.match(text, /^reboss_job_last_run_shops\{job="sales_tracker",state="total"\} 3$/m);
    assert.match(text, /^reboss_job_last_run_shops\{job="sales_tracker",state="failed"\} 1$/m);
    assert.match(text, /^reboss_job_last_run_status\{job="sales_tracker",status="completed_with_errors"\} 1$/m);
    assert.match(text, /^reboss_job_last_run_status\{job="sales_tracker",status="completed"\} 0$/m);
    const end = Number(/^reboss_job_last_run_end_timestamp_seconds\{job="sales_tracker"\} (\S+)$/m.exec(text)[1]);
    assert.ok(Math.abs(end - Date.now() / 1000) < 120, 'end time is now');
    assert.match(text, /^reboss_job_last_success_timestamp_seconds\{job="sales_tracker"\} \d+\.\d+$/m);
    const p = await new Promise((resolve) => {
      const c = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
        resolve({ code: error ? (error.code ?? -1) : 0, out: stdout + stderr }));
      c.stdin.end(text);
    });
    assert.notEqual(p.code, 'ENOENT', 'promtool is needed: apt-get install prometheus');
    assert.equal(p.code, 0, p.out);
    assert.equal(p.out.trim(), '', `promtool has remarks: ${p.out}`);
    // not a rubber stamp: promtool refuses a broken file
    const bad = await new Promise((resolve) => {
      const c = execFile('promtool', ['check', 'metrics'], (error) => resolve(error ? 1 : 0));
      c.stdin.end('reboss_job_x{job="a" 1\n');
    });
    assert.equal(bad, 1);
  });

  test('a --shop or --dry-run run does not overwrite the metrics of the full run', async () => {
    const file = path.join(metricsDir, 'reboss_sales_tracker.prom');
    const before = await fs.readFile(file, 'utf8');
    const r = await execp(probe, ['--config', conf, '--shop', 'probe-1.myshopify.com']);
    assert.equal(r.code, 0, r.stderr);
    const d = await execp(probe, ['--config', conf, '--dry-run']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await fs.readFile(file, 'utf8'), before);
  });
});
