// owner.test.mjs - the owner's actions through the API (issue 18, doc/
// dashboard.md "Owner actions"): roll back an optimization, retry a failed
// design, pause and resume a job, run a job now (rebossctl run-requests),
// preview replace_job; each only on the caller's own shops and each recorded
// in owner_actions, which the owner reads through RLS.  Owner: the "owner"
// module.
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/owner.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { productUpdateResolvers } from '../fakes/shopify_product_update.mjs';
import { REPO, buildDir, startStack } from './harness.mjs';

const A = randomUUID();
const B = randomUUID();
const shopA = randomUUID();
const shopB = randomUUID();
const domA = 'owner-alpha.myshopify.com';
const domB = 'owner-bravo.myshopify.com';
const tokA = 'shpat_owneralpha0123456789abcdef';
const tokB = 'shpat_ownerbravo0123456789abcdef';
const asUser = (sub) => ({ role: 'authenticated', claims: { sub, role: 'authenticated' } });

describe('owner actions, own shops only, recorded', () => {
  let stack, jwtA, jwtB;
  const psql = (sql, who) => stack.pg.psql(sql, who ? asUser(who) : undefined);
  const rows = async (sql, who) => {
    const out = (await psql(`SELECT row_to_json(t) FROM (${sql}) t`, who)).trim();
    return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
  };
  const post = (shop, what, body, jwt) => stack.curl(`/api/shops/${shop}/${what}`, { body, token: jwt });
  const mutations = () => stack.fake.requests.filter((r) => /^\s*mutation\b/.test(r.query ?? ''));
  const ctl = (args, env = {}) => new Promise((resolve) => {
    execFile(path.join(buildDir(), 'ctl', 'rebossctl'), ['--config', stack.confFile, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '',
        REBOSS_TEST_JOB_BINDIR: path.join(buildDir(), 'jobs'), REBOSS_JOB_REQUEST_POLL_MS: '200', ...env },
      timeout: 120_000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });

  before(async () => {
    stack = await startStack({ workers: 2 });
    stack.fake.addResolvers(productUpdateResolvers);
    jwtA = stack.mintToken({ userId: A });
    jwtB = stack.mintToken({ userId: B });
    stack.fake.addShop({ domain: domA, token: tokA });
    stack.fake.addShop({ domain: domB, token: tokB });
    await psql(`
      INSERT INTO shops (id, user_id, shop_domain, access_token, iana_timezone) VALUES
        ('${shopA}', '${A}', '${domA}', '${tokA}', 'Europe/Berlin'),
        ('${shopB}', '${B}', '${domB}', '${tokB}', 'America/New_York');`);
  });
  after(async () => { await stack?.stop(); });

  test('rollback: the old copy is back in Shopify, recorded; not twice, not another user\'s', async () => {
    const p = stack.fake.addProduct(domA, { title: 'New shiny title', descriptionHtml: '<p>new</p>', tags: ['new'] });
    const opt = randomUUID();
    await psql(`INSERT INTO product_optimizations (id, shop_id, product_id, status, fields,
      before, after, applied_at) VALUES ('${opt}', '${shopA}', ${p.id}, 'applied', '{title,description,tags}',
      '{"title":"Old title","description_html":"<p>old</p>","tags":["old"]}',
      '{"title":"New shiny title","description_html":"<p>new</p>","tags":["new"]}', now())`);
    // B cannot touch A's shop, nor reach A's optimization through B's own.
    let r = await post(shopA, 'rollback', { optimization_id: opt }, jwtB);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'shop_not_found');
    r = await post(shopB, 'rollback', { optimization_id: opt }, jwtB);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'optimization_not_found');
    r = await post(shopA, 'rollback', {}, jwtA);
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'missing_field');
    assert.match(r.json.error, /optimization_id/);
    assert.equal(p.title, 'New shiny title', 'nothing happened so far');

    r = await post(shopA, 'rollback', { optimization_id: opt }, jwtA);
    assert.equal(r.status, 200, r.body);
    assert.equal(p.title, 'Old title');
    assert.equal(p.descriptionHtml, '<p>old</p>');
    assert.deepEqual(p.tags, ['old']);
    const [o] = await rows(`SELECT rolled_back_at FROM product_optimizations WHERE id = '${opt}'`);
    assert.notEqual(o.rolled_back_at, null);
    r = await post(shopA, 'rollback', { optimization_id: opt }, jwtA);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'already_rolled_back');
    const acts = await rows(`SELECT user_id, action, target, outcome FROM owner_actions
      WHERE shop_id = '${shopA}' AND action = 'rollback_optimization'`);
    assert.deepEqual(acts, [{ user_id: A, action: 'rollback_optimization', target: opt, outcome: 'done' }]);
  });

  test('retry a failed design: back to pending, recorded; only a failed one, only one\'s own', async () => {
    const d = randomUUID();
    await psql(`INSERT INTO design_queue (id, shop_id, title, status, error, attempts)
      VALUES ('${d}', '${shopA}', 'Cat poster', 'failed', 'Shopify said no', 1)`);
    let r = await post(shopB, 'designs/retry', { design_id: d }, jwtB);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'design_not_found');
    r = await post(shopA, 'designs/retry', { design_id: 'not-a-uuid' }, jwtA);
    assert.equal(r.status, 400);
    assert.match(r.json.error, /design_id must be a UUID/);
    r = await post(shopA, 'designs/retry', { design_id: d }, jwtA);
    assert.equal(r.status, 200, r.body);
    const [q] = await rows(`SELECT status, error FROM design_queue WHERE id = '${d}'`);
    assert.deepEqual(q, { status: 'pending', error: null });
    r = await post(shopA, 'designs/retry', { design_id: d }, jwtA);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'design_not_failed');
    const acts = await rows(`SELECT user_id, target, details FROM owner_actions WHERE action = 'retry_design'`);
    assert.deepEqual(acts, [{ user_id: A, target: d, details: { previous_error: 'Shopify said no' } }]);
  });

  test('pause and resume a job: the shop_settings switch the jobs obey, recorded', async () => {
    let r = await post(shopA, 'jobs/pause', { job: 'replace' }, jwtA);
    assert.equal(r.status, 400);
    assert.match(r.json.error, /job must be one of: sales_tracker, replace_job, product_optimize, product_creation, pinterest_sync/);
    r = await post(shopA, 'jobs/pause', { job: 'replace_job' }, jwtB);
    assert.equal(r.status, 404);
    r = await post(shopA, 'jobs/pause', { job: 'replace_job' }, jwtA);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.changed, true);
    let [s] = await rows(`SELECT replace_job_enabled, sales_tracker_enabled FROM shop_settings WHERE shop_id = '${shopA}'`);
    assert.deepEqual(s, { replace_job_enabled: false, sales_tracker_enabled: true });
    r = await post(shopA, 'jobs/run', { job: 'replace_job' }, jwtA);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'job_paused');
    r = await post(shopA, 'jobs/resume', { job: 'replace_job' }, jwtA);
    assert.equal(r.status, 200, r.body);
    [s] = await rows(`SELECT replace_job_enabled FROM shop_settings WHERE shop_id = '${shopA}'`);
    assert.equal(s.replace_job_enabled, true);
    const acts = await rows(`SELECT action, target, details FROM owner_actions
      WHERE action IN ('pause_job', 'resume_job') ORDER BY created_at`);
    assert.deepEqual(acts, [
      { action: 'pause_job', target: 'replace_job', details: { was_enabled: true } },
      { action: 'resume_job', target: 'replace_job', details: { was_enabled: false } }]);
  });

  test('run a job now: queued once, run by rebossctl run-requests with --shop, rate-limited', async () => {
    let r = await post(shopA, 'jobs/run', { job: 'pinterest_sync' }, jwtB);
    assert.equal(r.status, 404);
    r = await post(shopA, 'jobs/run', { job: 'pinterest_sync' }, jwtA);
    assert.equal(r.status, 202, r.body);
    const req = r.json.request.id;
    r = await post(shopA, 'jobs/run', { job: 'pinterest_sync' }, jwtA);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'run_already_pending');
    assert.match(r.json.error, new RegExp(req));
    // B's own request is B's.
    r = await post(shopB, 'jobs/run', { job: 'pinterest_sync' }, jwtB);
    assert.equal(r.status, 202, r.body);

    const run = await ctl(['run-requests']);
    assert.equal(run.code, 0, run.stderr);
    const reqs = await rows(`SELECT shop_id, state, exit_status, picked_by IS NOT NULL AS picked
      FROM job_requests ORDER BY shop_id = '${shopA}' DESC`);
    assert.deepEqual(reqs, [{ shop_id: shopA, state: 'done', exit_status: 0, picked: true },
      { shop_id: shopB, state: 'done', exit_status: 0, picked: true }]);
    const st = await rows(`SELECT shop_id, last_status FROM shop_job_status WHERE job_type = 'pinterest_sync'
      ORDER BY shop_id = '${shopA}' DESC`);
    assert.deepEqual(st.map((x) => x.shop_id), [shopA, shopB], 'the job ran for each requested shop');
    const again = await ctl(['run-requests']);
    assert.equal(again.code, 0, 'nothing pending: ends at once');

    // Four requests of one job in the last hour: the fifth is 429.
    await psql(`INSERT INTO owner_actions (shop_id, user_id, action, target, created_at)
      SELECT '${shopA}', '${A}', 'run_job', 'pinterest_sync', now() - interval '10 minutes'
      FROM generate_series(1, 3)`);
    r = await post(shopA, 'jobs/run', { job: 'pinterest_sync' }, jwtA);
    assert.equal(r.status, 429);
    assert.equal(r.json.code, 'rate_limited');
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait > 0 && wait <= 3600, `Retry-After ${r.headers['retry-after']}`);
    r = await post(shopA, 'jobs/run', { job: 'sales_tracker' }, jwtA);
    assert.equal(r.status, 202, 'the limit is per job');
  });

  test('a runner that died: its request fails with the reason, the next one runs', async () => {
    await psql(`INSERT INTO job_requests (shop_id, job_type, requested_by, state, picked_at, picked_by, heartbeat_at)
      VALUES ('${shopB}', 'product_creation', '${B}', 'running', now() - interval '1 hour', 'gone-host',
      now() - interval '1 hour')`);
    const run = await ctl(['run-requests']);
    assert.ok(run.code === 0 || run.code === 1, run.stderr);
    const [dead] = await rows(`SELECT state, error FROM job_requests WHERE picked_by = 'gone-host'`);
    assert.equal(dead.state, 'failed');
    assert.match(dead.error, /runner on gone-host stopped/);
    const pending = await rows(`SELECT 1 FROM job_requests WHERE state IN ('pending', 'running')`);
    assert.deepEqual(pending, [], 'the sales_tracker request of the last test ran too');
  });

  test('preview replace_job: the job\'s decisions, nothing written to Shopify or the database', async () => {
    const DAY = 86400000;
    const c = stack.fake.addCollection(domA, { title: 'Managed posters' });
    const old = new Date(Date.now() - 60 * DAY).toISOString();
    const mk = (title, publishedAt, tags = []) => stack.fake.addProduct(domA, { title, publishedAt, tags,
      collections: [c.id] });
    const dud = mk('Never sold', old);
    const kept = mk('Protected dud', old, ['reboss-keep']);
    const young = mk('Brand new', new Date(Date.now() - 2 * DAY).toISOString());
    await psql(`INSERT INTO catalog_settings (shop_id, managed_collection_ids, allow_shrink)
        VALUES ('${shopA}', '{${c.id}}', true);
      INSERT INTO sales_cursors (shop_id, orders_cursor, complete_through)
        VALUES ('${shopA}', now(), current_date - 5)
        ON CONFLICT (shop_id) DO UPDATE SET complete_through = EXCLUDED.complete_through`);
    let r = await stack.curl(`/api/shops/${shopA}/replace-preview`, { token: jwtB });
    assert.equal(r.status, 404);
    // Sales not known through yesterday: the job would skip, so does the preview.
    r = await stack.curl(`/api/shops/${shopA}/replace-preview`, { token: jwtA });
    assert.equal(r.status, 200, r.body);
    assert.match(r.json.would_skip, /Sales are complete through/);
    assert.deepEqual(r.json.decisions, []);

    await psql(`UPDATE sales_cursors SET complete_through = current_date WHERE shop_id = '${shopA}'`);
    const before = stack.fake.requests.length;
    r = await stack.curl(`/api/shops/${shopA}/replace-preview`, { token: jwtA });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.would_skip, null);
    const by = Object.fromEntries(r.json.decisions.map((d) => [d.product_id, d]));
    assert.equal(by[dud.id].verdict, 'retire');
    assert.equal(by[dud.id].phase, 'post');
    assert.match(by[dud.id].explanation, /sold 0/);
    assert.equal(by[kept.id].verdict, 'skip');
    assert.equal(by[kept.id].reason, 'protected');
    assert.equal(by[young.id].verdict, 'keep');
    assert.equal(r.json.would_retire, 1);
    const asked = stack.fake.requests.slice(before);
    assert.ok(asked.some((q) => /collection\(id:/.test(q.query ?? '')), 'the members were read from Shopify');
    assert.deepEqual(asked.filter((q) => /^\s*mutation\b/.test(q.query ?? '')), [], 'no Shopify write');
    assert.equal(dud.status, 'ACTIVE');
    assert.deepEqual(await rows(`SELECT 1 FROM replace_decisions UNION ALL SELECT 1 FROM catalog_slots`), [],
      'no decision stored, no slot opened');
    const [act] = await rows(`SELECT user_id, details FROM owner_actions WHERE action = 'preview_replace'
      ORDER BY created_at DESC LIMIT 1`);
    assert.deepEqual(act, { user_id: A, details: { judged: 3, retire: 1 } });
  });

  test('notifications: written where the fact is recorded, one per cause and day, read and marked read by the owner only', async () => {
    await psql(`
      UPDATE shops SET connection_status = 'reauthorize_required' WHERE id = '${shopA}';
      UPDATE shops SET connection_status = 'connected' WHERE id = '${shopA}';
      UPDATE shops SET connection_status = 'reauthorize_required' WHERE id = '${shopA}';
      UPDATE shops SET connection_status = 'connected' WHERE id = '${shopA}';
      INSERT INTO pinterest_auth (shop_id, access_token) VALUES ('${shopB}', 'rbs1:sealed');
      UPDATE pinterest_auth SET broken = true, broken_reason = 'refresh refused' WHERE shop_id = '${shopB}';
      INSERT INTO shop_job_status (shop_id, job_type, last_status, last_error, consecutive_failures)
        VALUES ('${shopA}', 'product_optimize', 'failed', 'OpenAI quota', 2)
        ON CONFLICT (shop_id, job_type) DO UPDATE SET consecutive_failures = 2;
      UPDATE shop_job_status SET consecutive_failures = 3, last_error = 'OpenAI quota'
        WHERE shop_id = '${shopA}' AND job_type = 'product_optimize';
      UPDATE shop_job_status SET consecutive_failures = 4
        WHERE shop_id = '${shopA}' AND job_type = 'product_optimize';`);
    const a = await rows(`SELECT cause, subject, title, body FROM notifications ORDER BY cause`, A);
    assert.deepEqual(a.map((n) => [n.cause, n.subject]), [['job_failing', 'product_optimize'],
      ['shop_disconnected', 'reauthorize_required']], 'twice disconnected, thrice failing: once each today');
    assert.match(a[1].body, /connect the shop again/);
    assert.match(a[0].body, /3 runs in a row; the last error: OpenAI quota/);
    const b = await rows(`SELECT cause, subject, body FROM notifications`, B);
    assert.deepEqual(b.map((n) => [n.cause, n.subject]), [['account_broken', 'pinterest']]);
    assert.match(b[0].body, /refresh refused/);
    // The owner marks their own read; nothing else.
    await psql(`UPDATE notifications SET read_at = now()`, A);
    assert.deepEqual(await rows(`SELECT count(*)::int AS n FROM notifications WHERE read_at IS NOT NULL`),
      [{ n: 2 }], 'only A\'s rows were marked');
    await assert.rejects(psql(`UPDATE notifications SET title = 'x'`, A), /permission denied/);
    await assert.rejects(psql(`INSERT INTO notifications (shop_id, cause, title, body)
      VALUES ('${shopA}', 'job_failing', 'x', 'y')`, A), /permission denied/);
    await assert.rejects(psql(`SELECT reboss_notify('${shopA}', 'job_failing', 'x', 'y', 'z')`, A),
      /permission denied/);

    // owner_mail = 1: rebossctl check mails each new one once, to the shop's address.
    await psql(`UPDATE shops SET shop_email = 'owner-a@example.com' WHERE id = '${shopA}';
      UPDATE shops SET shop_email = 'owner-b@example.com' WHERE id = '${shopB}'`);
    const dir = path.join(stack.dir, 'mail');
    await fs.mkdir(dir, { recursive: true });
    const sendmail = path.join(dir, 'sendmail');
    await fs.writeFile(sendmail, `#!/bin/sh\ncat > "${dir}/mail.$$"\n`, { mode: 0o755 });
    const conf = path.join(dir, 'reboss.conf');
    await fs.writeFile(conf, `${await fs.readFile(stack.confFile, 'utf8')}owner_mail = 1\n` +
      `alert_spool_dir = ${dir}\nalert_from = reboss@example.com\n`);
    const mailed = async () => (await fs.readdir(dir)).filter((f) => f.startsWith('mail.'));
    for (let i = 0; i < 2; i++) {
      const r = await ctl(['--config', conf, 'check', '--sql-dir', path.join(REPO, 'sql')],
        { REBOSS_SENDMAIL: sendmail });
      assert.ok(r.code >= 0 && r.code <= 2, r.stdout + r.stderr);
    }
    const files = await mailed();
    assert.equal(files.length, 3, 'three notifications, three mails, none twice');
    const texts = await Promise.all(files.map((f) => fs.readFile(path.join(dir, f), 'utf8')));
    const toB = texts.filter((t) => /^To: owner-b@example\.com$/m.test(t));
    assert.equal(toB.length, 1);
    assert.match(toB[0], /^Subject: \[ReBoss\] Link Pinterest again$/m);
    assert.match(toB[0], /^From: reboss@example\.com$/m);
  });

  test('the audit: each owner reads their own shops\' actions and requests, and writes nothing', async () => {
    const a = await rows('SELECT DISTINCT shop_id FROM owner_actions', A);
    const b = await rows('SELECT DISTINCT shop_id FROM owner_actions', B);
    assert.deepEqual(a, [{ shop_id: shopA }]);
    assert.deepEqual(b, [{ shop_id: shopB }]);
    assert.deepEqual(await rows('SELECT DISTINCT shop_id FROM job_requests', B), [{ shop_id: shopB }]);
    await assert.rejects(psql(`INSERT INTO owner_actions (shop_id, user_id, action) VALUES
      ('${shopA}', '${A}', 'run_job')`, A), /permission denied/);
    await assert.rejects(psql(`UPDATE job_requests SET state = 'pending'`, A), /permission denied/);
    await assert.rejects(psql(`DELETE FROM owner_actions`, A), /permission denied/);
    assert.equal(mutations().filter((m) => !/productUpdate/.test(m.query)).length, 0,
      'no Shopify write but the rollback\'s');
  });
});
