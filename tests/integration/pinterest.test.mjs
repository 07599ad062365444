// pinterest.test.mjs - reboss-pinterest-sync end to end (PRODUCT.md, Jobs 5):
// the real stack of harness.mjs (PostgreSQL, reboss-api behind nginx, the
// fake OAuth server) with the fake Pinterest API v5 mounted on it
// (tests/fakes/pinterest.mjs), accounts linked through the real OAuth flow.
// Owned by pinterest_sync.
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/pinterest.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { attachFakePinterest } from '../fakes/pinterest.mjs';
import { buildDir, startStack } from './harness.mjs';
import { addShopRow, dumpAll, link } from './lib/oauthflow.mjs';

let stack; let pin; let userTok; let job;
const userId = randomUUID();
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

function runJob(args, env = {}) {
  return new Promise((resolve) => {
    execFile(job, ['--config', stack.confFile, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', REBOSS_JOB_LEASE_SEC: '5', ...env },
      timeout: 180_000, maxBuffer: 16 * 1024 * 1024,
    }, (error, stdout, stderr) => resolve({
      code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr,
    }));
  });
}

async function rows(sql) {
  const out = (await stack.pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}

// A shop with Pinterest linked (real consent -> callback), its synced
// collections and its products mirror.  Returns {id, domain, access}.
async function addShop(name, { collections = [], products = [] } = {}) {
  const domain = `${name}.myshopify.com`;
  const id = await addShopRow(stack, userId, domain);
  const n = stack.oauth.issued.length;
  const { res } = await link(stack, userTok, 'pinterest', id);
  assert.ok(res.status === 302 || res.status === 303, `link answered ${res.status}`);
  const access = stack.oauth.issued[n];
  assert.ok(access?.startsWith('pina_'), 'an access token was issued');
  for (const c of collections) {
    await stack.pg.psql(`INSERT INTO pinterest_sync_collections (shop_id, collection_id, board_name,
      board_description) VALUES (${q(id)}, ${c.id}, ${q(c.name)}, ${q(c.description ?? '')})`);
  }
  for (const p of products) {
    await stack.pg.psql(`INSERT INTO products (shop_id, product_id, title, handle, status, collection_ids,
      image_url, online_store_url, last_seen_at) VALUES (${q(id)}, ${p.id}, ${q(p.title ?? `Product ${p.id}`)},
      'p-${p.id}', ${q(p.status ?? 'ACTIVE')}, '{${(p.collections ?? []).join(',')}}',
      ${q(`https://cdn.example/${name}/${p.id}.png`)}, ${q(linkOf(name, p.id))}, now() - interval '1 hour')`);
  }
  return { id, domain, access };
}
const linkOf = (name, pid) => `https://${name}.example/products/p-${pid}`;

const boardsOf = (id) => [...pin.boards.values()].filter((b) => b.description.includes(`[reboss:${id.slice(0, 8)}:`));
const pinsOf = (name) => [...pin.pins.values()].filter((p) => p.link?.startsWith(`https://${name}.example/`));

function noViolations() {
  assert.deepEqual(pin.invalidRequests, [], 'requests follow the Pinterest v5 spec');
  assert.deepEqual(pin.invalidResponses, [], 'the fake answers follow the spec');
}

describe('reboss-pinterest-sync', () => {
  before(async () => {
    job = path.join(buildDir(), 'jobs', 'reboss-pinterest-sync');
    stack = await startStack();
    pin = attachFakePinterest(stack.oauth);
    userTok = stack.mintToken({ userId });
  });
  after(async () => { await stack?.stop(); });

  test('boards and pins match the synced collections; a second run changes nothing', async () => {
    const long = 'Sunset '.repeat(30);
    const s = await addShop('pin-main', {
      collections: [{ id: 101, name: 'Posters', description: 'Wall art' }, { id: 102, name: 'Mugs' }],
      products: [
        { id: 1, collections: [101] }, { id: 2, collections: [101] }, { id: 3, collections: [101], title: long },
        { id: 4, collections: [102] }, { id: 5, collections: [103] }, { id: 6, collections: [101], status: 'DRAFT' },
        { id: 7, collections: [102, 101] },
      ],
    });
    pin.reset();
    const r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    const boards = boardsOf(s.id);
    assert.deepEqual(boards.map((b) => b.name).sort(), ['Mugs', 'Posters']);
    const posters = boards.find((b) => b.name === 'Posters');
    const mugs = boards.find((b) => b.name === 'Mugs');
    assert.match(posters.description, /Wall art/);
    const pins = pinsOf('pin-main');
    assert.deepEqual(pins.map((p) => p.link).sort(), [1, 2, 3, 4, 7].map((i) => linkOf('pin-main', i)).sort(),
      'every active product of the synced collections, once');
    for (const p of pins) {
      const pid = Number(p.link.split('-').pop());
      assert.equal(p.board_id, pid === 4 ? mugs.id : posters.id, `product ${pid} on the board of its first collection`);
      assert.equal(pin.images.get(p.id), `https://cdn.example/pin-main/${pid}.png`);
      assert.ok([...p.title].length <= 100 && [...p.description].length <= 800 && [...p.alt_text].length <= 500);
    }
    const p3 = pins.find((p) => p.link.endsWith('p-3'));
    assert.ok([...p3.title].length >= 90 && [...p3.title].length <= 100 && p3.title.endsWith('\u2026'),
      `a long title is trimmed to 100 characters at a word: ${p3.title}`);
    assert.match(pins.find((p) => p.link.endsWith('p-1')).description, /Product 1\. Wall art/);
    const db = await rows(`SELECT product_id, state, pin_id, board_id FROM pinterest_pins WHERE shop_id = ${q(s.id)}
      ORDER BY product_id`);
    assert.deepEqual(db.map((x) => [x.product_id, x.state]), [[1, 'pinned'], [2, 'pinned'], [3, 'pinned'],
      [4, 'pinned'], [7, 'pinned']]);
    for (const x of db) assert.equal(pin.pins.get(x.pin_id)?.board_id, x.board_id, 'recorded ids are the real ones');
    noViolations();

    const posts = pin.count((x) => x.method === 'POST');
    const r2 = await runJob(['--shop', s.domain]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(pin.count((x) => x.method === 'POST'), posts, 'nothing is created twice');
    assert.equal(pinsOf('pin-main').length, 5);
    assert.equal(boardsOf(s.id).length, 2);

    // A retired product loses its pin: status no longer ACTIVE, and a
    // replace_job decision newer than the mirror's last look.
    await stack.pg.psql(`UPDATE products SET status = 'DRAFT' WHERE shop_id = ${q(s.id)} AND product_id = 2`);
    await stack.pg.psql(`INSERT INTO replace_decisions (shop_id, product_id, as_of, phase, verdict, reason, action,
      outcome) VALUES (${q(s.id)}, 3, now(), 'post', 'retire', 'below_post_min_sales', 'draft', 'done')`);
    const r3 = await runJob(['--shop', s.domain]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(pinsOf('pin-main').map((p) => p.link).sort(), [1, 4, 7].map((i) => linkOf('pin-main', i)).sort(),
      'the pins of the retired products are deleted');
    const st = await rows(`SELECT product_id, state FROM pinterest_pins WHERE shop_id = ${q(s.id)} AND state = 'deleted'
      ORDER BY product_id`);
    assert.deepEqual(st.map((x) => x.product_id), [2, 3]);
    noViolations();
  });

  test('a crash right after a create leaves no duplicate on the next run', async () => {
    const s = await addShop('pin-crash', {
      collections: [{ id: 201, name: 'Crash board' }],
      products: [{ id: 11, collections: [201] }, { id: 12, collections: [201] }, { id: 13, collections: [201] }],
    });
    const r = await runJob(['--shop', s.domain], { REBOSS_TEST_CRASH_AFTER_PIN: '2' });
    assert.equal(r.code, 1, 'the killed worker fails the shop');
    const [st] = await rows(`SELECT last_status, last_error FROM shop_job_status WHERE shop_id = ${q(s.id)}
      AND job_type = 'pinterest_sync'`);
    assert.match(st.last_error, /signal 9|SIGKILL/, 'the crash is recorded with its cause');
    assert.equal(pinsOf('pin-crash').length, 2, 'two pins were created before the crash');
    const pending = await rows(`SELECT product_id FROM pinterest_pins WHERE shop_id = ${q(s.id)} AND state = 'creating'`);
    assert.equal(pending.length, 1, 'the second one was never recorded');
    const r2 = await runJob(['--shop', s.domain]);
    assert.equal(r2.code, 0, r2.stderr);
    const links = pinsOf('pin-crash').map((p) => p.link);
    assert.equal(links.length, 3);
    assert.equal(new Set(links).size, 3, 'no duplicate pin');
    const db = await rows(`SELECT state FROM pinterest_pins WHERE shop_id = ${q(s.id)}`);
    assert.deepEqual(db.map((x) => x.state), ['pinned', 'pinned', 'pinned']);

    // The same for a board.
    const b = await addShop('pin-crashb', {
      collections: [{ id: 301, name: 'Board crash' }], products: [{ id: 21, collections: [301] }],
    });
    const r3 = await runJob(['--shop', b.domain], { REBOSS_TEST_CRASH_AFTER_BOARD: '1' });
    assert.equal(r3.code, 1);
    assert.equal(boardsOf(b.id).length, 1);
    const r4 = await runJob(['--shop', b.domain]);
    assert.equal(r4.code, 0, r4.stderr);
    assert.equal(boardsOf(b.id).length, 1, 'the board is found again, not created twice');
    assert.equal(pinsOf('pin-crashb').length, 1);
    noViolations();
  });

  test('a token near expiry is refreshed before the sync and stored sealed', async () => {
    const s = await addShop('pin-refresh', {
      collections: [{ id: 401, name: 'Fresh' }], products: [{ id: 31, collections: [401] }],
    });
    await stack.pg.psql(`UPDATE pinterest_auth SET expires_at = now() + interval '10 minutes' WHERE shop_id = ${q(s.id)}`);
    const before = stack.oauth.requests.filter((x) => x.form?.grant_type === 'refresh_token').length;
    const r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(stack.oauth.requests.filter((x) => x.form?.grant_type === 'refresh_token').length, before + 1);
    const [a] = await rows(`SELECT refreshed_at IS NOT NULL AS refreshed, expires_at > now() + interval '20 days' AS later,
      access_token LIKE 'rbs1:%' AS sealed_a, refresh_token LIKE 'rbs1:%' AS sealed_r
      FROM pinterest_auth WHERE shop_id = ${q(s.id)}`);
    assert.deepEqual(a, { refreshed: true, later: true, sealed_a: true, sealed_r: true });
    const { all } = await dumpAll(stack);
    for (const t of stack.oauth.issued) assert.ok(!all.includes(t), 'no plain token in the database');
    const used = pin.requests.filter((x) => x.path === '/pins' && x.method === 'POST').pop();
    assert.notEqual(used.token, s.access, 'the new token was used');
    for (const t of stack.oauth.issued) assert.ok(!r.stderr.includes(t) && !r.stdout.includes(t), 'no token logged');
    assert.equal(pinsOf('pin-refresh').length, 1);
  });

  test('a refused refresh marks the link broken, visible in the integrations route', async () => {
    const s = await addShop('pin-broken', {
      collections: [{ id: 501, name: 'Broken' }], products: [{ id: 41, collections: [501] }],
    });
    await stack.pg.psql(`UPDATE pinterest_auth SET expires_at = now() + interval '10 minutes' WHERE shop_id = ${q(s.id)}`);
    stack.oauth.setMode('pinterest', { refresh: 400 });
    try {
      const r = await runJob(['--shop', s.domain]);
      assert.equal(r.code, 1, 'the shop fails');
    } finally {
      stack.oauth.setMode('pinterest', null);
    }
    const [st] = await rows(`SELECT last_status, last_error FROM shop_job_status WHERE shop_id = ${q(s.id)}
      AND job_type = 'pinterest_sync'`);
    assert.match(st.last_error, /Pinterest refused to renew the link.*link the account again/i);
    const res = await stack.curl(`/api/shops/${s.id}/integrations`, { token: userTok });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.pinterest.broken, true);
    assert.equal(res.json.pinterest.connected, false);
    assert.equal(pinsOf('pin-broken').length, 0, 'nothing pinned with a broken link');
  });

  test('429 is waited out per Retry-After and x-ratelimit-reset', async () => {
    const s = await addShop('pin-429', {
      collections: [{ id: 601, name: 'Slow' }], products: [{ id: 51, collections: [601] }, { id: 52, collections: [601] }],
    });
    pin.reset();
    pin.push({ status: 429, retryAfter: 1 }).push({ status: 429, reset: 1 });
    const t0 = Date.now();
    const r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 >= 1900, 'two one-second waits');
    const reqs = pin.requests;
    assert.equal(reqs[0].status, 429);
    assert.equal(reqs[1].status, 429);
    assert.ok(reqs[2].at - reqs[1].at >= 900, 'waited after x-ratelimit-reset');
    assert.ok(reqs[1].at - reqs[0].at >= 900, 'waited after Retry-After');
    assert.equal(reqs[2].path, reqs[0].path, 'the same request again');
    assert.equal(pinsOf('pin-429').length, 2);
    noViolations();
  });

  test('401 for an expired token: one refresh, then the request succeeds', async () => {
    const s = await addShop('pin-401', {
      collections: [{ id: 701, name: 'Expired' }], products: [{ id: 61, collections: [701] }],
    });
    stack.oauth.expireAccess(s.access);
    pin.reset();
    const before = stack.oauth.requests.filter((x) => x.form?.grant_type === 'refresh_token').length;
    const r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pin.requests[0].status, 401);
    assert.equal(pin.requests[1].path, pin.requests[0].path);
    assert.ok(pin.requests[1].status < 300, 'the retry succeeded');
    assert.equal(stack.oauth.requests.filter((x) => x.form?.grant_type === 'refresh_token').length, before + 1);
    const [a] = await rows(`SELECT refreshed_at IS NOT NULL AS refreshed FROM pinterest_auth WHERE shop_id = ${q(s.id)}`);
    assert.equal(a.refreshed, true);
    assert.equal(pinsOf('pin-401').length, 1);
    noViolations();
  });

  // Issue 18: the owner's pins_per_run (shop_settings); the rest follow.
  test('pins_per_run: at most that many new pins per run, the rest in the next run', async () => {
    const s = await addShop('pin-limit', { collections: [{ id: 301, name: 'Limited' }],
      products: [1, 2, 3].map((id) => ({ id, collections: [301] })) });
    await stack.pg.psql(`INSERT INTO shop_settings (shop_id, pins_per_run) VALUES (${q(s.id)}, 2)`);
    let r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pinsOf('pin-limit').length, 2, 'two of three');
    r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pinsOf('pin-limit').length, 3, 'the third in the next run');
    await stack.pg.psql(`UPDATE shop_settings SET pins_per_run = 0 WHERE shop_id = ${q(s.id)}`);
    await stack.pg.psql(`INSERT INTO products (shop_id, product_id, title, handle, status, collection_ids,
      image_url, online_store_url, last_seen_at) VALUES (${q(s.id)}, 4, 'Four', 'p-4', 'ACTIVE', '{301}',
      'https://cdn.example/pin-limit/4.png', ${q(linkOf('pin-limit', 4))}, now() - interval '1 hour')`);
    r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pinsOf('pin-limit').length, 3, 'pins_per_run 0: no new pin');
    noViolations();
  });

  // Pinterest's access tiers: an app with Trial access "may not create
  // Pins in production" (403, code 29).  Every pin would be refused the
  // same way, so the first refusal stops the shop's pinning with a clear
  // message (the old job tried each product and failed "6 pin(s)").
  test('Trial access: the first refusal stops the shop\'s pinning with a clear message; boards and deletes still run', async () => {
    const s = await addShop('pin-trial', {
      collections: [{ id: 401, name: 'Trial board' }],
      products: [1, 2, 3, 4, 5, 6].map((id) => ({ id, collections: [401] })),
    });
    pin.reset();
    pin.trialAccess = true;
    let r;
    try { r = await runJob(['--shop', s.domain]); } finally { pin.trialAccess = false; }
    assert.equal(r.code, 1, r.stderr);
    assert.equal(pin.count((x) => x.method === 'POST' && x.path === '/pins'), 1, 'one refusal, not one per pin');
    assert.equal(boardsOf(s.id).length, 1, 'the board is made (Trial access may)');
    const [st] = await rows(`SELECT last_status, last_error FROM shop_job_status WHERE shop_id = ${q(s.id)}
      AND job_type = 'pinterest_sync'`);
    assert.equal(st.last_status, 'failed');
    assert.match(st.last_error, /Trial access/);
    assert.match(st.last_error, /Standard access/);
    assert.doesNotMatch(st.last_error, /pin\(s\) could not be created/);
    assert.deepEqual(await rows(`SELECT product_id FROM pinterest_pins WHERE shop_id = ${q(s.id)}`), [],
      'no pin recorded as being created');
    noViolations();
    // Standard access granted: the next run pins every product.
    const r2 = await runJob(['--shop', s.domain]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(pinsOf('pin-trial').length, 6);
    noViolations();
  });

  test('the token carries only the scopes the job uses, and they are enough', async () => {
    const s = await addShop('pin-scopes', { collections: [{ id: 501, name: 'Scopes' }], products: [{ id: 1, collections: [501] }] });
    pin.reset();
    const r = await runJob(['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pinsOf('pin-scopes').length, 1);
    assert.deepEqual(stack.oauth.accessToken(s.access).scope.split(',').sort(),
      ['boards:read', 'boards:write', 'pins:read', 'pins:write']);
    assert.equal(pin.requests.filter((x) => x.status === 401).length, 0, 'no request refused for a missing scope');
    noViolations();
  });

  test('a shop without Pinterest linked succeeds with nothing to do', async () => {
    const id = await addShopRow(stack, userId, 'pin-none.myshopify.com');
    const n = pin.requests.length;
    const r = await runJob(['--shop', 'pin-none.myshopify.com']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pin.requests.length, n);
    assert.ok(id);
    noViolations();
  });
});
