// systemd.test.mjs - the units in systemd/: "systemd-analyze verify" on
// every one, the jobs' schedules (OnCalendar, in UTC) and the settings the
// job runtime relies on (Type=notify, no time limits, KillMode=mixed, ...).
//
// verify wants every ExecStart= binary to exist.  The units are copied into
// a temp dir with "/usr/bin/" rewritten to a temp root holding executable
// stubs; nothing else is changed.
//   cd tests && node --test integration/systemd.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const unitDir = path.resolve(here, '..', '..', 'systemd');

const JOBS = {
  'sales-tracker': { hours: [2] },
  'replace-job': { hours: [4] },
  'product-creation': { hours: [6] },
  'product-optimize': { hours: [8] },
  'pinterest-sync': { hours: [0, 4, 8, 12, 16, 20] },
};

function sh(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

// [section] -> key -> [values] (repeated keys keep every value)
function parseUnit(text) {
  const out = {};
  let sec = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      sec = m[1];
      out[sec] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(sec && eq > 0, `malformed line: ${raw}`);
    const k = line.slice(0, eq).trim();
    (out[sec][k] ??= []).push(line.slice(eq + 1).trim());
  }
  return out;
}

const one = (u, sec, key) => {
  const v = u[sec]?.[key];
  assert.ok(v && v.length === 1, `${sec}.${key} set exactly once`);
  return v[0];
};

let tmp;
let files;

before(async () => {
  const v = await sh('systemd-analyze', ['--version']);
  assert.equal(v.code, 0, 'systemd-analyze is needed (Debian package systemd)');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-units-'));
  files = (await fs.readdir(unitDir)).filter((f) => /\.(service|timer|socket)$/.test(f)).sort();
  const root = path.join(tmp, 'root');
  await fs.mkdir(path.join(root, 'usr', 'bin'), { recursive: true });
  await fs.mkdir(path.join(tmp, 'units'));
  for (const f of files) {
    const text = await fs.readFile(path.join(unitDir, f), 'utf8');
    // every /usr/bin/NAME the unit runs gets a stub
    for (const m of text.matchAll(/\/usr\/bin\/([A-Za-z0-9._-]+)/g)) {
      const stub = path.join(root, 'usr', 'bin', m[1]);
      await fs.writeFile(stub, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    }
    await fs.writeFile(path.join(tmp, 'units', f),
      text.replaceAll('/usr/bin/', `${root}/usr/bin/`));
  }
});

after(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('systemd units', () => {
  test('every job has a .service and a .timer', () => {
    for (const job of Object.keys(JOBS)) {
      assert.ok(files.includes(`reboss-${job}.service`), `reboss-${job}.service`);
      assert.ok(files.includes(`reboss-${job}.timer`), `reboss-${job}.timer`);
    }
  });

  test('systemd-analyze verify accepts every unit, without a warning', async (t) => {
    assert.ok(files.length >= 10);
    for (const f of files) {
      await t.test(f, async () => {
        const r = await sh('systemd-analyze', ['verify', '--man=no', path.join(tmp, 'units', f)]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.equal(r.stderr.trim(), '', r.stderr);
      });
    }
  });

  test('verify is not a rubber stamp: a broken unit is refused', async () => {
    const bad = path.join(tmp, 'units', 'broken-copy.service');
    const text = await fs.readFile(path.join(tmp, 'units', 'reboss-sales-tracker.service'), 'utf8');
    await fs.writeFile(bad, text.replace(/^Type=notify$/m, 'Type=notanything')
      .replace(/^ExecStart=.*$/m, 'ExecStart=/nonexistent/reboss-x'));
    const r = await sh('systemd-analyze', ['verify', '--man=no', bad]);
    assert.notEqual(r.code, 0);
    await fs.rm(bad);
  });

  test('every unit that can fail alerts (OnFailure=reboss-alert@%n.service)', async () => {
    const missing = [];
    for (const f of files) {
      if (f === 'reboss-alert@.service') continue;	// the alert itself: spooled, resent by reboss-check
      const u = parseUnit(await fs.readFile(path.join(unitDir, f), 'utf8'));
      if (!(u.Unit?.OnFailure ?? []).includes('reboss-alert@%n.service')) missing.push(f);
    }
    assert.deepEqual(missing, []);
    const alert = parseUnit(await fs.readFile(path.join(unitDir, 'reboss-alert@.service'), 'utf8'));
    assert.equal(alert.Unit.OnFailure, undefined, 'an alert about an alert would loop');
  });

  test('the API and the jobs may write metrics to node_exporter\'s textfile directory', async () => {
    for (const f of ['reboss-api.service', ...Object.keys(JOBS).map((j) => `reboss-${j}.service`)]) {
      const u = parseUnit(await fs.readFile(path.join(unitDir, f), 'utf8'));
      assert.ok((u.Service.ReadWritePaths ?? []).some((v) => v.split(/\s+/).includes('-/var/lib/prometheus/node-exporter')),
        `${f}: ReadWritePaths=-/var/lib/prometheus/node-exporter`);
    }
  });

  test('reboss-api reloads with SIGHUP to the supervisor', async () => {
    const u = parseUnit(await fs.readFile(path.join(unitDir, 'reboss-api.service'), 'utf8'));
    assert.equal(one(u, 'Service', 'ExecReload'), '/bin/kill -HUP $MAINPID');
  });

  for (const [job, { hours }] of Object.entries(JOBS)) {
    test(`reboss-${job}.timer fires at ${hours.map((h) => `${h}:00`).join(', ')} UTC, persistently`, async () => {
      const t = parseUnit(await fs.readFile(path.join(unitDir, `reboss-${job}.timer`), 'utf8'));
      const cal = one(t, 'Timer', 'OnCalendar');
      assert.match(cal, / UTC$/, 'the schedule is in UTC');
      assert.equal(one(t, 'Timer', 'Persistent'), 'true');
      assert.equal(t.Timer.Unit?.[0] ?? `reboss-${job}.service`, `reboss-${job}.service`);
      assert.deepEqual(t.Install.WantedBy, ['timers.target']);
      // the next elapses, computed by systemd itself
      const n = hours.length * 2;
      const r = await sh('systemd-analyze', ['calendar', `--iterations=${n}`, cal], { TZ: 'UTC' });
      assert.equal(r.code, 0, r.stderr);
      const times = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ \d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d) UTC/g)];
      assert.equal(times.length, n, r.stdout);
      const seen = new Set();
      for (const [, hh, mm, ss] of times) {
        assert.equal(`${mm}:${ss}`, '00:00');
        assert.ok(hours.includes(Number(hh)), `fires at ${hh}:00`);
        seen.add(Number(hh));
      }
      assert.deepEqual([...seen].sort((a, b) => a - b), hours);
    });

    test(`reboss-${job}.service runs the job as reboss, without time limits, sandboxed`, async () => {
      const u = parseUnit(await fs.readFile(path.join(unitDir, `reboss-${job}.service`), 'utf8'));
      assert.equal(one(u, 'Service', 'ExecStart'), `/usr/bin/reboss-${job}`);
      assert.equal(one(u, 'Service', 'Type'), 'notify');
      assert.equal(one(u, 'Service', 'NotifyAccess'), 'main');
      assert.equal(one(u, 'Service', 'User'), 'reboss');
      assert.equal(one(u, 'Service', 'TimeoutStartSec'), 'infinity');
      const rmax = u.Service.RuntimeMaxSec;
      assert.ok(rmax === undefined || (rmax.length === 1 && rmax[0] === 'infinity'), 'no RuntimeMaxSec');
      assert.equal(one(u, 'Service', 'KillMode'), 'mixed');
      // longer than the job's own 30 s grace for its workers
      assert.ok(Number(one(u, 'Service', 'TimeoutStopSec')) > 30);
      assert.ok(u.Service.LoadCredential?.length >= 1, 'secrets come as credentials');
      assert.equal(u.Service.Restart, undefined, 'the timer, not Restart=, starts the next run');
      for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'],
        ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'], ['PrivateDevices', 'yes']]) {
        assert.equal(one(u, 'Service', k), v, k);
      }
      assert.equal(u.Install, undefined, 'started by its timer only');
      // systemd's own exposure score for the sandbox
      const r = await sh('systemd-analyze', ['security', '--offline=true', '--threshold=20',
        path.join(tmp, 'units', `reboss-${job}.service`)]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const m = /Overall exposure level for [^:]+: (\d+\.\d)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
    });
  }
});
