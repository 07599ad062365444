// demo.test.mjs - the README's first command as a newcomer types it:
// `tests/demo.sh --once` against the already-built tree ($REBOSS_BUILDDIR;
// its apt-get, npm ci and make steps find nothing to do), whose exit status
// is the demo's.
// Asserts that the demo stack starts, every job program runs over every
// demo shop with exit 0, "rebossctl status" prints its table, the printed
// get-collections curl command returns the demo shop's collections, and
// that nothing the demo started (processes, its temp dir) outlives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildDir } from './harness.mjs';
import { DEMO_SHOPS } from '../fakes/shopify.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEMO = path.resolve(HERE, '../demo.sh');
// A guard against a demo that never ends, not a speed test: generous, since
// the machine may be busy (~7 s on an idle one).
const LIMIT_MS = 300000;
const JOBS = ['sales-tracker', 'replace-job', 'product-creation', 'product-optimize', 'pinterest-sync'];

function runDemo() {
  return new Promise((resolve) => {
    const env = { ...process.env, REBOSS_BUILDDIR: buildDir() };
    delete env.REBOSS_KEEP_TMP;	// the leftover check needs the cleanup
    delete env.REBOSS_DEMO_ONCE;
    delete env.COLUMNS;	// rebossctl status: 80 columns when not on a terminal
    const c = spawn('bash', [DEMO, '--once'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => { timedOut = true; c.kill('SIGTERM'); }, LIMIT_MS);
    c.on('close', (code, sig) => { clearTimeout(t); resolve({ code, sig, out, err, timedOut }); });
  });
}

// A pid still alive and still one of the stack's programs (not a new
// process that got the number again).
function leftover(pid) {
  try { process.kill(pid, 0); } catch (e) { return e.code === 'EPERM'; }
  let cmd = '';
  try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return false; }
  return /reboss|postgres|nginx|spawn-fcgi/.test(cmd) ? cmd : false;
}

test('demo.sh --once: stack up, five jobs, status, curl, everything stopped', { timeout: LIMIT_MS + 15000 }, async () => {
  const t0 = Date.now();
  const r = await runDemo();
  const secs = (Date.now() - t0) / 1000;
  const ctx = `\n--- stdout (tail) ---\n${r.out.slice(-4000)}\n--- stderr ---\n${r.err.slice(-2000)}`;
  assert.equal(r.timedOut, false, `demo.sh --once ran over ${LIMIT_MS / 1000} s${ctx}`);
  assert.equal(r.code, 0, `exit ${r.code} (signal ${r.sig})${ctx}`);
  assert.match(r.out, /^demo once: ok$/m, ctx);

  // One line per job: every demo shop processed, none failed.
  for (const j of JOBS) {
    const m = new RegExp(`^job reboss-${j}: exit (\\S+), (\\d+)/(\\d+) shops processed, (\\d+) failed$`, 'm').exec(r.out);
    assert.ok(m, `no summary line for reboss-${j}${ctx}`);
    assert.equal(m[1], '0', `reboss-${j} exit status`);
    assert.equal(Number(m[3]), DEMO_SHOPS.length, `reboss-${j}: shops in the run`);
    assert.equal(Number(m[2]), DEMO_SHOPS.length, `reboss-${j}: shops processed`);
    assert.equal(m[4], '0', `reboss-${j}: shops failed`);
  }

  // rebossctl status: its table, one completed run per job.
  assert.match(r.out, /^rebossctl status: exit 0$/m, ctx);
  assert.match(r.out, /^JOB\s+STARTED \(UTC\)\s+TOOK\s+STATUS\s+SHOPS\s+FAILED/m, `no status table${ctx}`);
  for (const j of JOBS) {
    const row = new RegExp(`^${j.replace(/-/g, '_')}\\s+\\S+ \\S+\\s+\\S+\\s+completed\\s+${DEMO_SHOPS.length}/${DEMO_SHOPS.length}\\s+0\\s`, 'm');
    assert.match(r.out, row, `status row of ${j}${ctx}`);
  }

  // An 80-column terminal: no line over 100 characters, the status table
  // within 80; the curl commands (a long token) are in the file it names.
  const long = r.out.split('\n').filter((l) => [...l].length > 100);
  assert.deepEqual(long, [], 'lines over 100 characters');
  const table = r.out.slice(r.out.indexOf('=== rebossctl status'), r.out.indexOf('rebossctl status: exit'));
  assert.deepEqual(table.split('\n').filter((l) => [...l].length > 80), [], 'status wider than 80 columns');
  // The curl command is in the file the output names, and --once ran it.
  assert.match(r.out, /^ {4}sh \S+\/curl-get-collections\.sh$/m, `no curl file named${ctx}`);
  const c = /^curl get-collections: HTTP (\d+), (\d+) collections$/m.exec(r.out);
  assert.ok(c, `no curl result${ctx}`);
  assert.equal(c[1], '200');
  assert.ok(Number(c[2]) > 0, 'no collections');
  assert.match(r.out, /"collections":\[\{"id":\d+/, ctx);

  // Nothing left behind: the processes it started, its temp dir.
  const pm = [...r.out.matchAll(/^demo pids: ([\d ]+)$/gm)];
  const dm = /^demo dir: (\S+)$/m.exec(r.out);
  assert.ok(pm.length && dm, `no pid/dir lines${ctx}`);
  const pids = pm.flatMap((m) => m[1].trim().split(/\s+/).map(Number));
  assert.ok(pids.length >= 4, `too few pids recorded: ${pids}`);
  const dir = dm[1];
  assert.match(dir, /reboss-it-/);
  // PostgreSQL's last backends may take a moment after the postmaster said
  // it stopped.
  let left = [];
  for (let i = 0; i < 50; i++) {
    left = pids.map((p) => [p, leftover(p)]).filter(([, v]) => v);
    if (left.length === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(left, [], 'processes of the demo still running');
  assert.equal(fs.existsSync(dir), false, `${dir} was not removed`);
  const pg = await new Promise((resolve) => execFile('pgrep', ['-f', dir], (e, stdout) => resolve({ code: e ? e.code : 0, stdout })));
  assert.equal(pg.code, 1, `pgrep -f ${dir} found: ${pg.stdout}`);
  console.log(`# demo --once took ${secs.toFixed(1)} s`);
});
