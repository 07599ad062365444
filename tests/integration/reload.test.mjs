// reload.test.mjs - `systemctl reload reboss-api` is SIGHUP to the pool's
// supervisor (ExecReload= in reboss-api.service).  Under a steady load of
// health requests through nginx, the configuration file is changed
// (api_body_max 2048 -> 65536) and the supervisor gets SIGHUP: every request
// sent meanwhile is answered 200, and afterwards the new cap is in effect
// (a 4 KB body that got the API's own 413 before now reaches the handler),
// with new worker processes.  A file with a problem leaves the workers as
// they were.  And the API refuses a schema older than itself with the jobs'
// own message (503 schema_outdated on health), seen by the workers a reload
// starts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { startStack, buildDir } from './harness.mjs';

const run = promisify(execFile);
const WORKERS = 3;
const LOAD_CLIENTS = 6;

let stack;
before(async () => { stack = await startStack({ workers: WORKERS, bodyMax: 2048, nginxBodyMax: 65536 }); });
after(async () => { if (stack) await stack.stop(); });

/** GET path over a keep-alive agent; resolves the status (0: no answer). */
function get(agent, ca, p) {
  return new Promise((resolve) => {
    const req = https.get(`${stack.url}${p}`, { agent, ca }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(30000, () => req.destroy());
  });
}

async function waitLog(re, from) {
  for (let i = 0; i < 600; i++) {
    const log = (await stack.apiLog()).slice(from);
    if (re.test(log)) return log;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the API log never said ${re}:\n${(await stack.apiLog()).slice(-2000)}`);
}

const bigBody = (token) => stack.curl('/api/shops', {
  token, body: { shop_domain: 'reload-test.myshopify.com', access_token: 'shpat_' + 'x'.repeat(4000) },
});

describe('reboss-api reload (SIGHUP)', () => {
  test('under load: every request answered 200, the new configuration in effect after', async () => {
    const token = stack.mintToken({ userId: '00000000-0000-4000-8000-0000000000a1' });
    const before413 = await bigBody(token);
    assert.equal(before413.status, 413, `api_body_max 2048 refuses 4 KB: ${before413.body}`);
    const oldWorkers = new Set(await stack.apiWorkerPids());
    assert.equal(oldWorkers.size, WORKERS);

    const ca = fs.readFileSync(stack.caFile);
    const counts = new Map();
    let sent = 0;
    let loading = true;
    // Requests are counted under one event loop: a Map of status -> count.
    const client = async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      while (loading) {
        sent++;
        const s = await get(agent, ca, '/api/health');
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
      agent.destroy();
    };
    const clients = Array.from({ length: LOAD_CLIENTS }, client);
    // the load is running before the reload: some answers are in
    while ((counts.get(200) ?? 0) < 50) await new Promise((r) => setTimeout(r, 10));

    const conf = fs.readFileSync(stack.confFile, 'utf8');
    fs.writeFileSync(stack.confFile, conf.replace(/^api_body_max = 2048$/m, 'api_body_max = 65536'));
    const mark = (await stack.apiLog()).length;
    process.kill(stack.apiPid(), 'SIGHUP');
    await waitLog(/reload: done, every worker runs the new configuration/, mark);
    // and the load goes on against the new workers for a while
    const atDone = counts.get(200) ?? 0;
    while ((counts.get(200) ?? 0) < atDone + 50) await new Promise((r) => setTimeout(r, 10));
    loading = false;
    await Promise.all(clients);

    const answered = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`# ${answered} requests during the reload: ${JSON.stringify(Object.fromEntries(counts))}`);
    assert.equal(answered, sent);
    assert.deepEqual([...counts.keys()], [200], 'every request answered 200');

    const now = new Set(await stack.apiWorkerPids());
    assert.equal(now.size, WORKERS);
    for (const p of now) assert.ok(!oldWorkers.has(p), `worker ${p} was not replaced`);
    const after413 = await bigBody(token);
    assert.notEqual(after413.status, 413, `the new api_body_max is in effect: ${after413.body}`);
    assert.ok(stack.apiAlive());
  });

  test('a configuration with a problem is reported, the workers keep theirs', async () => {
    const conf = fs.readFileSync(stack.confFile, 'utf8');
    const workers = new Set(await stack.apiWorkerPids());
    fs.writeFileSync(stack.confFile, conf + 'api_workers = many\n');
    const mark = (await stack.apiLog()).length;
    process.kill(stack.apiPid(), 'SIGHUP');
    const log = await waitLog(/reload: .*api_workers.*keep the configuration they have/, mark);
    assert.doesNotMatch(log, /replacing/);
    fs.writeFileSync(stack.confFile, conf);
    assert.deepEqual(new Set(await stack.apiWorkerPids()), workers);
    assert.equal((await stack.curl('/health')).status, 200);
  });

  test('a schema older than the API: 503 schema_outdated with the jobs\' message', async () => {
    const migrateH = fs.readFileSync(path.join(import.meta.dirname, '../../lib/migrate.h'), 'utf8');
    const required = /#define MIGRATE_REQUIRED\s+"([^"]+)"/.exec(migrateH)[1];
    const row = (await stack.pg.psql(`SELECT checksum FROM reboss_migrations WHERE version = '${required}'`)).trim();
    assert.match(row, /^[0-9a-f]{64}$/);
    await stack.pg.psql(`DELETE FROM reboss_migrations WHERE version = '${required}'`);
    try {
      const mark = (await stack.apiLog()).length;
      process.kill(stack.apiPid(), 'SIGHUP');	// new workers, new connections
      await waitLog(/reload: done/, mark);
      const h = await stack.curl('/health');
      assert.equal(h.status, 503, h.body);
      assert.equal(h.json.database, 'schema_outdated');
      assert.match(h.json.message, new RegExp(`migration ${required} is missing.*rebossctl migrate`));
      const token = stack.mintToken({ userId: '00000000-0000-4000-8000-0000000000a2' });
      const l = await stack.curl('/api/shops/00000000-0000-4000-8000-0000000000b1/integrations', { token });
      assert.equal(l.status, 503, l.body);
      assert.equal(l.json.code, 'schema_outdated');
      assert.equal(l.json.error, h.json.message);
      // the jobs say the same
      const job = await run(path.join(buildDir(), 'jobs/reboss-sales-tracker'), ['--config', stack.confFile])
        .then(() => ({ code: 0, stderr: '' }), (e) => e);
      assert.equal(job.code, 2);
      assert.ok(job.stderr.includes(h.json.message), job.stderr);
    } finally {
      await stack.pg.psql(`INSERT INTO reboss_migrations (version, checksum) VALUES ('${required}', '${row}')`);
    }
    const mark = (await stack.apiLog()).length;
    process.kill(stack.apiPid(), 'SIGHUP');
    await waitLog(/reload: done/, mark);
    assert.equal((await stack.curl('/health')).status, 200);
  });
});
