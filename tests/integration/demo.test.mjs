// demo.test.mjs - the README's first command as a newcomer types it:
// `tests/demo.sh --once` against the already-built tree ($REBOSS_BUILDDIR;
// its apt-get, npm ci and make steps find nothing to do), whose exit status
// is the demo's.
// Asserts that the demo stack starts, every job program runs over every
// demo shop with exit 0 and real work: from the state the demo leaves
// (REBOSS_DEMO_STATE: its database rows and the fakes' catalogs, judged
// here), the seeded orders stored, a product retired on fresh sales and
// its slot filled by a new product, a product created for the daily quota,
// one rewritten with its own tags kept, pins for the synced collection's
// products, each told on one line of the output; "rebossctl status" prints
// its table, no line is over 100 characters, the printed get-collections
// curl command returns the demo shop's collections, and nothing the demo
// started (processes, its temp dir) outlives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildDir } from './harness.mjs';
import { waitForCompleteDay } from './lib/demo_world.mjs';
import { DEMO_SHOPS } from '../fakes/shopify.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEMO = path.resolve(HERE, '../demo.sh');
// A guard against a demo that never ends, not a speed test: generous, since
// the machine may be busy (~15 s in a CI run, ~50 s with a load of 15).
const LIMIT_MS = 300000;
const JOBS = ['sales-tracker', 'replace-job', 'product-creation', 'product-optimize', 'pinterest-sync'];

function runDemo(stateFile) {
  return new Promise((resolve) => {
    const env = { ...process.env, REBOSS_BUILDDIR: buildDir(), REBOSS_DEMO_STATE: stateFile };
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
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reboss-demo-test-'));
  const stateFile = path.join(tmp, 'state.json');
  let r;
  let state = null;
  try {
    r = await runDemo(stateFile);
    if (fs.existsSync(stateFile)) state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
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

  assert.ok(state, `the demo left no state in REBOSS_DEMO_STATE${ctx}`);
  jobEffects(state, r.out);

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
  // Only a line that names a file (the temp dir's path) may pass 80.
  const wide = r.out.split('\n').filter((l) => [...l].length > 80 && !/(^|\s)\/\S/.test(l));
  assert.deepEqual(wide, [], 'lines over 80 characters that name no file');
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

// replace_job judges complete days only, and the tracker calls yesterday
// complete 10 minutes after local midnight: the demo waits out that window
// (else the retirement would be skipped, honestly, and the demo fail).
test('the demo waits for a complete day only just around midnight', () => {
  const at = (iso) => waitForCompleteDay('America/New_York', Date.parse(iso));
  assert.equal(at('2026-12-04T17:00:00Z'), 0, 'noon in New York');
  assert.equal(at('2026-12-04T05:11:00Z'), 0, '00:11 in New York');
  assert.equal(at('2026-12-04T05:05:30Z'), 330_000, '00:05:30 -> 5.5 minutes');
  assert.equal(at('2026-12-04T04:58:00Z'), 780_000, '23:58 -> 13 minutes');
  assert.equal(at('2026-12-04T04:57:59Z'), 0, '23:57:59');
  assert.equal(waitForCompleteDay('Europe/Berlin', Date.parse('2026-07-01T22:00:00Z')), 660_000, 'Berlin, summer time');
});

// Each job did real work (judged from the rows the jobs wrote and the
// fakes' state, not from what the demo printed), and the output names it.
function jobEffects(st, out) {
  const { db } = st;
  const sh = (s) => st.shopify[s.domain];
  const product = (s, id) => sh(s).products.find((p) => p.id === id);
  const collection = (s, id) => sh(s).collections.find((c) => c.id === id);
  const shopOf = (id) => st.shops.find((s) => s.id === id);
  const said = (re, what) => assert.match(out, re, `the output tells ${what}`);
  const title = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.deepEqual(st.violations, { shopify: [], openai: [], pinterest: [] }, 'the fakes found nothing wrong');

  // sales_tracker stored every shop's seeded orders, complete through a day.
  for (const s of st.shops) {
    const c = db.sales_cursors.find((x) => x.shop_id === s.id);
    assert.ok(c && c.last_orders > 0 && /^\d{4}-\d{2}-\d{2}$/.test(c.complete_through), `${s.domain}: orders stored`);
  }
  const units = (shopId, pid, from, to) => db.product_sales_daily.filter((x) => x.shop_id === shopId &&
    x.product_id === pid && x.day >= from && x.day <= to).reduce((a, x) => a + x.units, 0);

  // replace_job: a product retired on fresh, complete sales, as the shop's
  // settings say (a draft); its slot filled by a new product in the same
  // collection made from the design that waited in the queue.
  const retired = db.replace_decisions.filter((d) => d.verdict === 'retire' && d.outcome === 'done');
  assert.ok(retired.length >= 1, 'a product was retired');
  for (const d of retired) {
    const s = shopOf(d.shop_id);
    const p = product(s, d.product_id);
    assert.equal(d.action, 'draft');
    assert.equal(p.status, 'DRAFT', `${p.title} is a draft in Shopify`);
    const through = db.sales_cursors.find((x) => x.shop_id === d.shop_id).complete_through;
    assert.ok(d.window_end <= through, `judged on complete days only (${d.window_end} <= ${through})`);
    assert.equal(units(d.shop_id, d.product_id, d.window_start, d.window_end), d.units, 'units as stored');
    assert.ok(d.units < d.threshold, `${p.title} sold below the threshold`);
    const slot = db.catalog_slots.find((x) => x.decision_id === d.id);
    assert.ok(slot?.filled_at, `the slot of ${p.title} was filled`);
    const cp = db.created_products.find((x) => x.slot_id === slot.id);
    const design = db.design_queue.find((x) => x.id === slot.filled_by);
    const np = product(s, cp.product_id);
    assert.equal(design.status, 'created');
    assert.equal(np.title, design.title, 'the replacement is the queued design');
    assert.equal(np.status, 'ACTIVE');
    assert.ok(np.publishedAt, 'the replacement is published');
    assert.ok(collection(s, d.collection_id).productIds.includes(np.id), 'the replacement is in the collection');
    said(new RegExp(`^=> ${s.domain.split('.')[0]}: RETIRED "${title(p.title)}"`, 'm'), `${p.title} retired`);
    said(new RegExp(`^=> ${s.domain.split('.')[0]}: CREATED "${title(np.title)}" in place of "${title(p.title)}"$`, 'm'),
      `${np.title} replaces ${p.title}`);
  }
  // The products that sold enough in their window were kept, still active.
  for (const d of db.replace_decisions.filter((x) => x.verdict === 'keep')) {
    if (/_passed$/.test(d.reason)) assert.ok(d.units >= d.threshold, `kept for its sales (${d.reason})`);
    assert.equal(product(shopOf(d.shop_id), d.product_id).status, 'ACTIVE');
  }

  // product_creation: the daily quota made a product from the queue too.
  const quota = db.created_products.filter((x) => x.slot_id === null);
  assert.ok(quota.length >= 1, 'a product was created for the daily quota');
  for (const cp of quota) {
    const s = shopOf(cp.shop_id);
    const np = product(s, cp.product_id);
    const design = db.design_queue.find((x) => x.id === cp.queue_item_id);
    assert.equal(np?.title, design.title);
    assert.equal(np.status, 'ACTIVE');
    assert.ok(collection(s, cp.collection_id).productIds.includes(np.id), 'in its collection');
    said(new RegExp(`^=> ${s.domain.split('.')[0]}: CREATED "${title(np.title)}" \\(today's quota\\)$`, 'm'),
      `${np.title} created`);
  }

  // product_optimize: Shopify holds the new copy; the product's own tags
  // are kept (merged), the answer's added.
  const opt = db.product_optimizations.filter((x) => x.status === 'applied');
  assert.equal(opt.length, 1, 'one product rewritten (one per run)');
  assert.equal(st.openaiAnswers, 1, 'one OpenAI call');
  for (const o of opt) {
    const s = shopOf(o.shop_id);
    const p = product(s, o.product_id);
    assert.notEqual(o.after.title, o.before.title);
    assert.equal(p.title, o.after.title, 'the new title is in Shopify');
    assert.equal(p.descriptionHtml, o.after.description_html);
    for (const t of o.before.tags) assert.ok(p.tags.includes(t), `the owner's tag ${t} is kept`);
    assert.deepEqual([...p.tags].sort(), [...o.after.tags].sort());
    assert.ok(p.tags.length > o.before.tags.length, 'tags were added');
    said(new RegExp(`^=> ${s.domain.split('.')[0]}: REWROTE "${title(o.before.title)}"`, 'm'), `${o.before.title} rewritten`);
  }

  // pinterest_sync: a pin per active product of the synced collection at
  // the (fake) Pinterest, linking its storefront page, on the collection's
  // board; the retired product is not pinned.
  const pinned = db.pinterest_pins.filter((x) => x.state === 'pinned');
  assert.ok(pinned.length >= 1, 'products were pinned');
  for (const x of pinned) {
    const s = shopOf(x.shop_id);
    const p = product(s, x.product_id);
    const pin = st.pinterest.pins.find((y) => y.id === x.pin_id);
    const board = db.pinterest_boards.find((b) => b.shop_id === x.shop_id && b.board_id === x.board_id);
    assert.ok(pin, `pin ${x.pin_id} exists at Pinterest`);
    assert.equal(pin.board_id, x.board_id);
    assert.equal(st.pinterest.boards.find((b) => b.id === pin.board_id)?.name, board.name);
    assert.equal(pin.link, `https://${s.domain}/products/${p.handle}`);
    assert.equal(p.status, 'ACTIVE');
    assert.ok(collection(s, x.collection_id).productIds.includes(p.id), 'of the synced collection');
    assert.ok(!retired.some((d) => d.product_id === p.id), 'a retired product is not pinned');
    said(new RegExp(`^=> ${s.domain.split('.')[0]}: PINNED "${title(p.title)}" to board "${title(board.name)}"$`, 'm'),
      `${p.title} pinned`);
  }
  assert.equal(st.pinterest.pins.length, pinned.length, 'no pin the database does not know');
}
