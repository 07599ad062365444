// catalog.test.mjs - the catalog cycle (PRODUCT.md, Jobs 2 and 3):
// reboss-replace-job and reboss-product-creation against the fake Shopify
// (every document validated against the 2026-10 schema, no deprecations)
// and a throwaway PostgreSQL.  Owned by "catalog".
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/catalog.test.mjs
// Time: the jobs run with REBOSS_TEST_CLOCK=1 --as-of <sim time>, and the
// fake's clock (fake.clock) follows, so a month passes in seconds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { connection, createFakeShopify, gid, isoNow, parseGid } from '../fakes/shopify.mjs';
import { makeCatalogResolvers } from '../fakes/shopify_catalog.mjs';
import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const bin = {
  ctl: path.join(buildDir, 'ctl', 'rebossctl'),
  sales: path.join(buildDir, 'jobs', 'reboss-sales-tracker'),
  replace: path.join(buildDir, 'jobs', 'reboss-replace-job'),
  create: path.join(buildDir, 'jobs', 'reboss-product-creation'),
};
const DAY = 86400_000;
const BASE = Date.parse('2026-03-01T14:00:00Z'); // NY DST starts 03-08

let pg; let fake; let tmp; let conf;
const shops = new Map();

function run(prog, args, env = {}) {
  return new Promise((resolve) => {
    execFile(prog, ['--config', conf, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...env }, timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}
const asOf = (t) => ['--as-of', new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')];
const CLOCK = { REBOSS_TEST_CLOCK: '1' };

async function rows(sql) {
  const out = (await pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function addShop(domain, tz, settings, designs = 0) {
  const token = `shpat_${randomBytes(12).toString('hex')}`;
  fake.addShop({ domain, token, ianaTimezone: tz });
  const col = fake.addCollection(domain, { title: 'Managed' });
  const smart = fake.addCollection(domain, { title: 'Smart', type: 'smart',
    rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'never' }] });
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
    VALUES ('${id}', gen_random_uuid(), ${q(domain)}, ${q(token)})`);
  const s = { managed_collection_ids: [col.id], ...settings };
  const cols = Object.keys(s);
  const vals = cols.map((k) => {
    const v = s[k];
    if (Array.isArray(v)) return `ARRAY[${v.join(',')}]::bigint[]`;
    if (typeof v === 'object') return `${q(JSON.stringify(v))}::jsonb`;
    return typeof v === 'string' ? q(v) : String(v);
  });
  await pg.psql(`INSERT INTO public.catalog_settings (shop_id, ${cols.join(', ')})
    VALUES ('${id}', ${vals.join(', ')})`);
  for (let i = 0; i < designs; i++) await addDesign(id, { title: `Design ${domain.slice(0, 4)} ${i}`, position: i });
  const shop = { id, domain, tz, col, smart, token };
  shops.set(domain, shop);
  return shop;
}

// What the sales tracker records when it has completely read every local
// day through `day` (sales_cursors.complete_through, lib/sales.h); null:
// nothing known.  Tests that do not run the tracker say it here.
async function salesThrough(shop, day) {
  // A row made here reads every order when the tracker runs (old cursor).
  await pg.psql(`INSERT INTO public.sales_cursors (shop_id, orders_cursor, complete_through) VALUES
    ('${shop.id}', '2000-01-01Z', ${day === null ? 'NULL' : q(day)}::date) ON CONFLICT (shop_id) DO UPDATE
    SET complete_through = EXCLUDED.complete_through`);
}
// The local date of t in zone tz, minus `back` days.
const localDay = (t, tz, back = 0) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric',
  month: '2-digit', day: '2-digit' }).format(new Date(t - back * DAY));

async function addDesign(shopId, { title, position = 0, image = 'https://cdn.example/designs/x.png',
  tags = ['design'], overrides = {} }) {
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.design_queue (id, shop_id, position, title, description, image_url, tags,
    overrides) VALUES ('${id}', '${shopId}', ${position}, ${q(title)}, '<p>Nice</p>', ${image === null ? 'NULL' : q(image)},
    ARRAY[${tags.map(q).join(',')}]::text[], ${q(JSON.stringify(overrides))}::jsonb)`);
  return id;
}

const TEMPLATE = {
  product_type: 'Poster', vendor: 'ReBoss Prints', status: 'ACTIVE', tags: ['pod'],
  options: [{ name: 'Size', values: ['S', 'M'] }],
  variants: [{ options: ['S'], price: '19.99' }, { options: ['M'], price: '24.99', compare_at_price: '29.99' }],
};

function assertClean() {
  assert.deepEqual(fake.validationErrors, [], 'every document is valid against 2026-10');
  assert.deepEqual(fake.deprecations, [], 'no deprecated field, argument or value');
}

const activeIn = (domain, col) => fake.getShop(domain).data.Product
  .filter((p) => p.status === 'ACTIVE' && col.productIds.includes(p.id));

function order(domain, t, product, quantity) {
  fake.addOrder(domain, { processedAt: new Date(t).toISOString(), updatedAt: isoNow(),
    lines: [{ productId: product.id, quantity, price: product.variants[0].price }] });
}

describe('catalog cycle', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-catalog-'));
    pg = await startPostgres();
    fake = await createFakeShopify({ restoreRate: 20000, bucketSize: 2000 });
    // Our productUpdate even if another part defines one in shopify.mjs.
    fake.addResolvers({ Mutation: makeCatalogResolvers({ connection, gid, parseGid, isoNow }).Mutation });
    conf = path.join(tmp, 'reboss.conf');
    await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
      `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
      `shopify_base_url = ${fake.baseUrlTemplate}`, ''].join('\n'));
    const m = await new Promise((resolve) => execFile(bin.ctl, ['--config', conf, 'migrate', '--sql-dir',
      path.join(srcDir, 'sql')], (e, so, se) => resolve({ code: e ? e.code : 0, out: so + se })));
    assert.equal(m.code, 0, `migrate: ${m.out}`);
  });

  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('--as-of is refused without REBOSS_TEST_CLOCK=1', async () => {
    const r = await run(bin.replace, asOf(BASE));
    assert.equal(r.code, 2, 'unknown option in production');
    assert.match(r.stderr, /--as-of/);
  });

  test('a simulated month: created, sold, retired on the right day, refilled, protected, capped', async () => {
    const ny = await addShop('cat-ny.myshopify.com', 'America/New_York', {
      start_days: 7, start_min_sales: 2, post_days: 14, post_min_sales: 2, max_replacements: 2,
      retire_action: 'draft', protect_tag: 'keep', daily_creation_quota: 5, creation_template: TEMPLATE,
    }, 40);
    const be = await addShop('cat-berlin.myshopify.com', 'Europe/Berlin', {
      start_days: 5, start_min_sales: 1, post_days: 10, post_min_sales: 1, max_replacements: 5,
      retire_action: 'remove_from_collection', daily_creation_quota: 2, creation_template: TEMPLATE,
    }, 40);
    const dry = await addShop('cat-dry.myshopify.com', 'America/New_York', {
      start_days: 7, dry_run: true, daily_creation_quota: 0,
    }, 1);
    // An old product in the dry shop: would be retired, must not be.
    fake.clock = new Date(BASE - 40 * DAY);
    const old = fake.addProduct(dry.domain, { title: 'Old one', collections: [dry.col.id],
      publishedAt: new Date(BASE - 40 * DAY).toISOString() });

    const P = {}; // name -> fake product (ny)
    for (let d = 0; d <= 30; d++) {
      const t = BASE + d * DAY;
      fake.clock = new Date(t);
      // Sales happen during the day before the jobs run.
      if (d === 2) { order(ny.domain, t - 3600_000, P.p1, 3); order(ny.domain, t - 3600_000, P.p2, 1); }
      if (d === 15) order(ny.domain, t - 3600_000, P.p1, 2);
      let r = await run(bin.sales, []);
      assert.equal(r.code, 0, `day ${d} sales: ${r.stderr}`);
      // The tracker ran after local midnight in every zone here: sales are
      // complete through yesterday.
      for (const s of [ny, be, dry]) await salesThrough(s, localDay(t, s.tz, 1));
      r = await run(bin.replace, asOf(t), CLOCK);
      assert.equal(r.code, 0, `day ${d} replace: ${r.stderr}`);
      r = await run(bin.create, asOf(t), CLOCK);
      assert.equal(r.code, 0, `day ${d} create: ${r.stderr}`);
      if (d === 0) {
        const made = fake.getShop(ny.domain).data.Product;
        assert.equal(made.length, 5, 'day 0: the daily quota of 5');
        [P.p1, P.p2, P.p3, P.p4, P.p5] = made;
        P.p4.tags.push('keep'); // the owner protects one
        // From now on only slots are filled.
        await pg.psql(`UPDATE public.catalog_settings SET daily_creation_quota = 0
          WHERE shop_id IN ('${ny.id}', '${be.id}')`);
      }
      assert.equal(activeIn(ny.domain, ny.col).length, 5, `day ${d}: every slot of ny is refilled`);
      const beIn = fake.getShop(be.domain).data.Product.filter((p) => be.col.productIds.includes(p.id));
      assert.equal(beIn.length, 2, `day ${d}: berlin keeps 2 products in its collection`);
      assertClean();
    }

    const dec = await rows(`SELECT product_id, verdict, reason, phase, units, threshold, outcome,
      window_start::text, window_end::text, (as_of - timestamptz '${new Date(BASE).toISOString()}') AS since,
      floor(extract(epoch FROM as_of - timestamptz '${new Date(BASE).toISOString()}') / 86400)::int AS day, run_id
      FROM public.replace_decisions WHERE shop_id = '${ny.id}' ORDER BY as_of, product_id`);
    const retiredOn = (p) => dec.filter((x) => x.product_id === p.id && x.verdict === 'retire').map((x) => x.day);
    const reasons = (p, day) => dec.filter((x) => x.product_id === p.id && x.day === day).map((x) => x.reason);

    // Day 7: p3 and p5 (0 units) go; p2 (1 unit) waits for the cap.
    assert.deepEqual(retiredOn(P.p3), [7]);
    assert.deepEqual(retiredOn(P.p5), [7]);
    assert.deepEqual(reasons(P.p2, 7), ['cap_reached']);
    assert.deepEqual(retiredOn(P.p2), [8]);
    const p2 = dec.find((x) => x.product_id === P.p2.id && x.verdict === 'retire');
    assert.equal(p2.units, 1); assert.equal(p2.threshold, 2); assert.equal(p2.phase, 'start');
    assert.equal(p2.window_start, '2026-03-01'); assert.equal(p2.window_end, '2026-03-07');
    assert.deepEqual(reasons(P.p2, 6), ['start_phase_running'], 'day 6: still starting');
    // p1 passed its start phase, kept its post phase, retired on day 30
    // (the post window 03-16..03-29 has no sale; its day-15 sale fell out).
    assert.deepEqual(reasons(P.p1, 7), ['start_phase_passed']);
    assert.deepEqual(reasons(P.p1, 21), ['post_phase_passed']);
    assert.deepEqual(reasons(P.p1, 29), ['post_phase_passed']);
    assert.deepEqual(retiredOn(P.p1), [30]);
    // p4 is protected: never retired, still active.
    assert.deepEqual(retiredOn(P.p4), []);
    assert.ok(reasons(P.p4, 10).includes('protected'));
    assert.equal(P.p4.status, 'ACTIVE');
    // The cap holds in every run.
    const perRun = new Map();
    for (const x of dec) if (x.verdict === 'retire') perRun.set(x.run_id, (perRun.get(x.run_id) ?? 0) + 1);
    assert.ok([...perRun.values()].every((n) => n <= 2), 'max_replacements per run');
    // Every product made later sold nothing and went exactly 7 local days
    // after its publish day (the cap was never hit again), also across DST.
    const shopNy = fake.getShop(ny.domain);
    const later = shopNy.data.Product.filter((p) => ![P.p1, P.p2, P.p3, P.p4, P.p5].includes(p));
    assert.ok(later.length >= 8, `refills happened (${later.length})`);
    for (const p of later) {
      const pubDay = Math.floor((Date.parse(p.publishedAt) - BASE) / DAY);
      const r = retiredOn(p);
      if (pubDay + 7 <= 30) assert.deepEqual(r, [pubDay + 7], `${p.title} retired on day ${pubDay + 7}`);
      else assert.deepEqual(r, [], `${p.title} still starting`);
    }
    // Shopify state: every retired product is a draft, the others active.
    const retiredIds = new Set(dec.filter((x) => x.verdict === 'retire').map((x) => x.product_id));
    for (const p of shopNy.data.Product) {
      assert.equal(p.status, retiredIds.has(p.id) ? 'DRAFT' : 'ACTIVE', p.title);
      assert.deepEqual(p.productOptions.map((o) => o.name), ['Size']);
      assert.deepEqual(p.variants.map((v) => v.price), ['19.99', '24.99']);
      assert.equal(p.productType, 'Poster');
      assert.ok(p.imageUrl && p.publishedAt && p.publicationIds.length === 1, 'image and Online Store');
      assert.ok(p.tags.includes('pod') && p.tags.includes('design'), 'template and design tags');
    }
    assert.ok(dec.filter((x) => x.verdict === 'retire').every((x) => x.outcome === 'done'));
    const slots = await rows(`SELECT count(*) FILTER (WHERE filled_at IS NULL) AS open, count(*) AS n
      FROM public.catalog_slots WHERE shop_id = '${ny.id}'`);
    assert.equal(slots[0].open, 0, 'no slot left open');
    assert.equal(slots[0].n, retiredIds.size, 'one slot per retired product');
    const cp = await rows(`SELECT count(*) AS n, count(DISTINCT queue_item_id) AS items FROM public.created_products
      WHERE shop_id = '${ny.id}'`);
    assert.equal(cp[0].n, shopNy.data.Product.length);
    assert.equal(cp[0].items, shopNy.data.Product.length);
    const mirror = await rows(`SELECT count(*) AS n FROM public.products WHERE shop_id = '${ny.id}'
      AND published_at IS NOT NULL`);
    assert.equal(mirror[0].n, shopNy.data.Product.length, 'created products are in the mirror');

    // Berlin: removed from the collection on day 5 after publish, still active.
    const shopBe = fake.getShop(be.domain);
    const beDec = await rows(`SELECT product_id, outcome, action FROM public.replace_decisions
      WHERE shop_id = '${be.id}' AND verdict = 'retire'`);
    assert.ok(beDec.length >= 10, 'berlin retired products');
    for (const x of beDec) {
      const p = shopBe.data.Product.find((y) => y.id === x.product_id);
      assert.equal(x.action, 'remove_from_collection');
      assert.equal(p.status, 'ACTIVE');
      assert.ok(!be.col.productIds.includes(p.id), 'left the collection');
    }

    // Dry-run switch: decisions stored, nothing changed.
    const dd = await rows(`SELECT verdict, outcome FROM public.replace_decisions WHERE shop_id = '${dry.id}'
      AND product_id = ${old.id}`);
    assert.equal(dd.length, 31);
    assert.ok(dd.every((x) => x.verdict === 'retire' && x.outcome === 'dry_run'));
    assert.equal(old.status, 'ACTIVE');
    assert.ok(dry.col.productIds.includes(old.id));
    const ds = await rows(`SELECT count(*) AS n FROM public.catalog_slots WHERE shop_id = '${dry.id}'`);
    assert.equal(ds[0].n, 0);
    assertClean();
  });

  test('--dry-run stores decisions and changes nothing', async () => {
    const s = await addShop('cat-flag.myshopify.com', 'UTC', { start_days: 3 }, 1);
    await salesThrough(s, localDay(BASE, s.tz, 1));
    const p = fake.addProduct(s.domain, { title: 'Flagged', collections: [s.col.id],
      publishedAt: new Date(BASE - 10 * DAY).toISOString() });
    const r = await run(bin.replace, ['--dry-run', '--shop', s.domain, ...asOf(BASE)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    const d = await rows(`SELECT verdict, outcome, units, threshold FROM public.replace_decisions
      WHERE shop_id = '${s.id}'`);
    assert.deepEqual(d, [{ verdict: 'retire', outcome: 'dry_run', units: 0, threshold: 1 }]);
    assert.equal(p.status, 'ACTIVE');
    assertClean();
  });

  // Issue 15.1: best-sellers were drafted when sales were missing.  A shop
  // is judged only when its sales are complete through yesterday (local).
  test('fresh data or no decision: incomplete sales skip the shop untouched; then the queue bounds retirements', async () => {
    const T = Date.parse('2026-03-09T10:00:00Z'); // Los Angeles: 03:00 on 03-09
    fake.clock = new Date(T);
    const s = await addShop('cat-fresh.myshopify.com', 'America/Los_Angeles', { start_days: 3, post_days: 10,
      post_min_sales: 1, retire_action: 'draft', max_replacements: 10 }, 1);
    const pub = new Date(T - 60 * DAY).toISOString();
    const best = [0, 1, 2].map((i) => fake.addProduct(s.domain, { title: `Best ${i}`, collections: [s.col.id],
      publishedAt: pub }));
    const dead = [0, 1].map((i) => fake.addProduct(s.domain, { title: `Dead ${i}`, collections: [s.col.id],
      publishedAt: pub }));
    for (const p of best) for (let d = 1; d <= 10; d++) order(s.domain, T - d * DAY, p, 5);
    const status = async () => (await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${s.id}' AND job_type = 'replace_job'`))[0];
    const decisions = () => rows(`SELECT product_id, verdict, reason, outcome FROM public.replace_decisions
      WHERE shop_id = '${s.id}' ORDER BY id`);
    const mutations = (from) => fake.requests.slice(from).filter((x) => x.shop === s.domain &&
      /mutation/.test(x.query ?? ''));
    const replace = () => run(bin.replace, ['--shop', s.domain, ...asOf(T)], CLOCK);

    // 1. The tracker never completed for the shop: skipped, not failed.
    let from = fake.requests.length;
    let r = await replace();
    assert.equal(r.code, 0, r.stderr);
    let st = await status();
    assert.equal(st.last_status, 'skipped');
    assert.match(st.last_error, /Sales are not known yet .* through 2026-03-08 only, so nothing was judged or changed/);
    assert.deepEqual(await decisions(), []);
    assert.deepEqual(mutations(from), []);
    assert.ok([...best, ...dead].every((p) => p.status === 'ACTIVE'));

    // 2. West of UTC: the tracker ran at 02:00 UTC, 18:00 on 03-08 there,
    // so 03-08 is partly read and complete_through is 03-07.
    r = await run(bin.sales, ['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    await salesThrough(s, '2026-03-07');
    from = fake.requests.length;
    r = await replace();
    assert.equal(r.code, 0, r.stderr);
    st = await status();
    assert.equal(st.last_status, 'skipped');
    assert.match(st.last_error, /complete through 2026-03-07 only; replace_job judges on complete sales through 2026-03-08 \(America\/Los_Angeles\)/);
    assert.deepEqual(await decisions(), []);
    assert.deepEqual(mutations(from), []);
    assert.ok([...best, ...dead].every((p) => p.status === 'ACTIVE'));

    // 3. Complete through yesterday: judged.  The best-sellers stay; of the
    // two that sold nothing only one goes, as the queue holds one design.
    await salesThrough(s, localDay(T, s.tz, 1));
    r = await replace();
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status()).last_status, 'success');
    let d = await decisions();
    for (const p of best) {
      assert.deepEqual(d.filter((x) => x.product_id === p.id).map((x) => x.reason), ['post_phase_passed']);
      assert.equal(p.status, 'ACTIVE');
    }
    const gone = d.filter((x) => x.verdict === 'retire');
    assert.equal(gone.length, 1, 'one retirement: one design to refill it');
    assert.equal(gone[0].outcome, 'done');
    const waiting = dead.find((p) => p.id !== gone[0].product_id);
    assert.deepEqual(d.filter((x) => x.product_id === waiting.id).map((x) => x.reason), ['no_replacement']);
    assert.equal(waiting.status, 'ACTIVE');

    // 4. The owner allows shrinking: the other one goes too.
    await pg.psql(`UPDATE public.catalog_settings SET allow_shrink = true WHERE shop_id = '${s.id}'`);
    r = await replace();
    assert.equal(r.code, 0, r.stderr);
    d = await decisions();
    assert.equal(d.filter((x) => x.verdict === 'retire').length, 2);
    assert.equal(waiting.status, 'DRAFT');
    assertClean();
  });

  // Issue 15.3: productSet sent no inventory settings, so a POD variant was
  // tracked with no stock and DENY: not for sale.
  test('created products can be bought: untracked by default, or sold when out of stock', async () => {
    const gql = async (s, query, variables) => {
      const url = `${fake.baseUrlTemplate.replace('{shop}', s.domain)}/admin/api/2026-10/graphql.json`;
      const res = await fetch(url, { method: 'POST', body: JSON.stringify({ query, variables }),
        headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': s.token } });
      return (await res.json()).data;
    };
    const Q = `query P($id: ID!) { product(id: $id) { variants(first: 10) { nodes { availableForSale
      inventoryPolicy inventoryItem { tracked } } } } }`;
    const pod = await addShop('cat-pod.myshopify.com', 'UTC', { daily_creation_quota: 1,
      creation_template: TEMPLATE }, 1);
    const cont = await addShop('cat-cont.myshopify.com', 'UTC', { daily_creation_quota: 1,
      creation_template: { ...TEMPLATE, inventory: 'continue' } }, 1);
    for (const [s, tracked, policy] of [[pod, false, 'DENY'], [cont, true, 'CONTINUE']]) {
      const r = await run(bin.create, ['--shop', s.domain]);
      assert.equal(r.code, 0, r.stderr);
      const [p] = fake.getShop(s.domain).data.Product;
      const d = await gql(s, Q, { id: gid('Product', p.id) });
      assert.deepEqual(d.product.variants.nodes, TEMPLATE.variants.map(() => ({ availableForSale: true,
        inventoryPolicy: policy, inventoryItem: { tracked } })), `${s.domain}: every variant can be bought`);
    }
    const bad = await addShop('cat-deny.myshopify.com', 'UTC', { daily_creation_quota: 1,
      creation_template: { ...TEMPLATE, inventory: 'deny' } }, 1);
    const r = await run(bin.create, ['--shop', bad.domain]);
    assert.equal(r.code, 1);
    const st = await rows(`SELECT last_error FROM public.shop_job_status WHERE shop_id = '${bad.id}'
      AND job_type = 'product_creation'`);
    assert.match(st[0].last_error, /creation_template\.inventory must be untracked .* or continue/);
    assertClean();
  });

  test('invalid settings fail the shop with a sentence; nothing touched', async () => {
    const s = await addShop('cat-bad.myshopify.com', 'UTC', {
      creation_template: { variants: [{ price: 'cheap' }] }, daily_creation_quota: 1 }, 1);
    const before = fake.requests.length;
    const r = await run(bin.create, ['--shop', s.domain]);
    assert.equal(r.code, 1);
    const st = await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${s.id}' AND job_type = 'product_creation'`);
    assert.match(st[0].last_error, /creation_template\.variants/);
    assert.equal(fake.requests.slice(before).filter((x) => x.shop === s.domain).length, 0, 'no Shopify call');
    assert.equal(fake.getShop(s.domain).data.Product.length, 0);
  });

  test('userErrors fail their item with Shopify\'s words; the others go on', async () => {
    const s = await addShop('cat-errs.myshopify.com', 'UTC', { daily_creation_quota: 5,
      creation_template: TEMPLATE });
    const good1 = await addDesign(s.id, { title: 'Good one', position: 1 });
    const badImg = await addDesign(s.id, { title: 'Bad image', position: 2, image: 'not a url' });
    const badPrice = await addDesign(s.id, { title: 'Too dear', position: 3, overrides: { price: '1000000000.00' } });
    const badCol = await addDesign(s.id, { title: 'Smart target', position: 4,
      overrides: { collection_id: s.smart.id } });
    const good2 = await addDesign(s.id, { title: 'Good two', position: 5 });
    const r = await run(bin.create, ['--shop', s.domain]);
    assert.equal(r.code, 1, 'the shop reports failed items');
    const items = await rows(`SELECT id, status, error FROM public.design_queue WHERE shop_id = '${s.id}'`);
    const by = Object.fromEntries(items.map((x) => [x.id, x]));
    assert.equal(by[good1].status, 'created');
    assert.equal(by[good2].status, 'created');
    assert.equal(by[badImg].status, 'failed');
    assert.match(by[badImg].error, /Image URL is invalid/);
    assert.match(by[badPrice].error, /Price must be less than 1000000000/);
    assert.match(by[badCol].error, /Can't manually add products to a smart collection/);
    assert.deepEqual(fake.getShop(s.domain).data.Product.map((p) => p.title).sort(), ['Good one', 'Good two']);
    assertClean();
  });

  test('a worker killed between create and record: the next run finds the product, one product', async () => {
    const s = await addShop('cat-crash.myshopify.com', 'UTC', { daily_creation_quota: 1,
      creation_template: TEMPLATE }, 1);
    let r = await run(bin.create, ['--shop', s.domain], { REBOSS_TEST_CRASH_AFTER_CREATE: '1' });
    assert.equal(r.code, 1, 'the killed worker fails the shop');
    const st = await rows(`SELECT last_error FROM public.shop_job_status WHERE shop_id = '${s.id}'
      AND job_type = 'product_creation'`);
    assert.match(st[0].last_error, /SIGKILL|signal 9/);
    assert.equal(fake.getShop(s.domain).data.Product.length, 1, 'created in Shopify');
    let q1 = await rows(`SELECT status FROM public.design_queue WHERE shop_id = '${s.id}'`);
    assert.equal(q1[0].status, 'creating');
    r = await run(bin.create, ['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    r = await run(bin.create, ['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    const ps = fake.getShop(s.domain).data.Product;
    assert.equal(ps.length, 1, 'exactly one product');
    assert.ok(ps[0].publishedAt, 'published on the second run');
    q1 = await rows(`SELECT status, product_id FROM public.design_queue WHERE shop_id = '${s.id}'`);
    assert.deepEqual(q1, [{ status: 'created', product_id: ps[0].id }]);
    const cp = await rows(`SELECT product_id FROM public.created_products WHERE shop_id = '${s.id}'`);
    assert.deepEqual(cp, [{ product_id: ps[0].id }]);
    assertClean();
  });

  // replace_job stores a retire as failed/"interrupted", then calls
  // productUpdate, then records done + slot.  A worker killed in between
  // leaves a product Shopify already retired; the next run must see that
  // (PRODUCT.md Jobs 2: a retired product leaves an open slot), once.
  const retireDecisions = (s, p) => rows(`SELECT id, outcome, error FROM public.replace_decisions
    WHERE shop_id = '${s.id}' AND product_id = ${p.id} AND verdict = 'retire' ORDER BY id`);
  const slotsOf = (s) => rows(`SELECT decision_id, collection_id, filled_at IS NOT NULL AS filled
    FROM public.catalog_slots WHERE shop_id = '${s.id}' ORDER BY id`);
  async function crashAfterRetire(s, p, t) {
    const r = await run(bin.replace, ['--shop', s.domain, ...asOf(t)],
      { ...CLOCK, REBOSS_TEST_CRASH_AFTER_RETIRE: '1' });
    assert.equal(r.code, 1, 'the killed worker fails the shop');
    const st = await rows(`SELECT last_error FROM public.shop_job_status WHERE shop_id = '${s.id}'
      AND job_type = 'replace_job'`);
    assert.match(st[0].last_error, /SIGKILL|signal 9/);
    const d = await retireDecisions(s, p);
    assert.deepEqual(d.map((x) => [x.outcome, x.error]), [['failed', 'interrupted before Shopify answered']]);
    assert.deepEqual(await slotsOf(s), [], 'no slot yet');
    return d[0];
  }

  test('a worker killed after Shopify retired a product: the next run marks it done and opens one slot', async () => {
    fake.clock = new Date(BASE);
    const s = await addShop('cat-rcrash.myshopify.com', 'UTC', { start_days: 3, retire_action: 'draft',
      daily_creation_quota: 0, creation_template: TEMPLATE }, 1);
    const p = fake.addProduct(s.domain, { title: 'Slow seller', collections: [s.col.id],
      publishedAt: new Date(BASE - 10 * DAY).toISOString() });
    const mirrorStatus = async () => (await rows(`SELECT status FROM public.products
      WHERE shop_id = '${s.id}' AND product_id = ${p.id}`)).map((x) => x.status);
    let r = await run(bin.sales, ['--shop', s.domain]);
    assert.equal(r.code, 0, r.stderr);
    await salesThrough(s, localDay(BASE + 2 * DAY, s.tz, 1));
    assert.deepEqual(await mirrorStatus(), ['ACTIVE']);
    const d0 = await crashAfterRetire(s, p, BASE);
    assert.equal(p.status, 'DRAFT', 'Shopify applied the retire before the worker died');
    assert.deepEqual(await mirrorStatus(), ['ACTIVE'], 'not recorded yet');

    fake.clock = new Date(BASE + DAY);
    r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE + DAY)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`reconciled decision ${d0.id}: product ${p.id} was retired \\(draft\\)`));
    const d1 = await retireDecisions(s, p);
    assert.equal(d1.length, 1, 'not judged again');
    assert.equal(d1[0].outcome, 'done');
    assert.match(d1[0].error, /interrupted after Shopify had set product \d+ to DRAFT; .*opened its slot/);
    assert.deepEqual(await slotsOf(s), [{ decision_id: d0.id, collection_id: s.col.id, filled: false }]);
    assert.deepEqual(await mirrorStatus(), ['DRAFT'], 'the mirror follows');

    r = await run(bin.create, ['--shop', s.domain, ...asOf(BASE + DAY)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    const made = fake.getShop(s.domain).data.Product.filter((x) => x !== p);
    assert.equal(made.length, 1, 'product_creation filled the slot');
    assert.equal(made[0].status, 'ACTIVE');
    assert.ok(s.col.productIds.includes(made[0].id), 'in the retired product\'s collection');
    assert.deepEqual(await slotsOf(s), [{ decision_id: d0.id, collection_id: s.col.id, filled: true }]);

    // A third run changes nothing.
    const allDec = () => rows(`SELECT id, product_id, verdict, outcome, error FROM public.replace_decisions
      WHERE shop_id = '${s.id}' AND outcome <> 'none' ORDER BY id`);
    const before = await allDec();
    fake.clock = new Date(BASE + 2 * DAY);
    r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE + 2 * DAY)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /reconciled|retirements checked/);
    assert.deepEqual(await allDec(), before);
    assert.deepEqual(await slotsOf(s), [{ decision_id: d0.id, collection_id: s.col.id, filled: true }]);
    assert.equal(fake.getShop(s.domain).data.Product.length, 2);
    assertClean();
  });

  // The same when the worker lives but the answer is lost after Shopify made
  // the change (cut off, connection reset): the decision stays interrupted
  // and the next run settles it, instead of recording a plain failure.
  for (const how of ['truncate', 'reset']) {
    test(`a retire whose answer was lost (${how}) after Shopify applied it: the next run marks it done, one slot`, async () => {
      fake.clock = new Date(BASE);
      const s = await addShop(`cat-lost-${how}.myshopify.com`, 'UTC', { start_days: 3, retire_action: 'archive',
        daily_creation_quota: 0, creation_template: TEMPLATE }, 1);
      const p = fake.addProduct(s.domain, { title: 'Answer lost', collections: [s.col.id],
        publishedAt: new Date(BASE - 10 * DAY).toISOString() });
      await salesThrough(s, localDay(BASE + DAY, s.tz, 1));
      fake.setMode(s.domain, { cutMutations: how });
      let r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE)], CLOCK);
      fake.setMode(s.domain, null);
      assert.equal(r.code, 1, 'the lost answer fails the shop');
      assert.equal(p.status, 'ARCHIVED', 'Shopify applied the retire');
      assert.match(r.stderr, new RegExp(`the next run asks Shopify whether product ${p.id} was retired`));
      const d0 = await retireDecisions(s, p);
      assert.deepEqual(d0.map((x) => [x.outcome, x.error]), [['failed', 'interrupted before Shopify answered']]);
      assert.deepEqual(await slotsOf(s), [], 'no slot yet');

      fake.clock = new Date(BASE + DAY);
      r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE + DAY)], CLOCK);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`reconciled decision ${d0[0].id}: product ${p.id} was retired \\(archive\\)`));
      const d1 = await retireDecisions(s, p);
      assert.equal(d1.length, 1, 'not judged again');
      assert.equal(d1[0].outcome, 'done');
      assert.deepEqual(await slotsOf(s), [{ decision_id: d0[0].id, collection_id: s.col.id, filled: false }]);
      assertClean();
    });
  }

  test('an interrupted retire Shopify did not apply stays failed; the product is judged again; one slot', async () => {
    fake.clock = new Date(BASE);
    const s = await addShop('cat-rundo.myshopify.com', 'UTC', { start_days: 3,
      retire_action: 'remove_from_collection', daily_creation_quota: 0 }, 1);
    await salesThrough(s, localDay(BASE + 2 * DAY, s.tz, 1));
    const p = fake.addProduct(s.domain, { title: 'Put back', collections: [s.col.id],
      publishedAt: new Date(BASE - 10 * DAY).toISOString() });
    const d0 = await crashAfterRetire(s, p, BASE);
    assert.ok(!s.col.productIds.includes(p.id), 'Shopify removed it');
    s.col.productIds.push(p.id); // as if the productUpdate had not been applied

    fake.clock = new Date(BASE + DAY);
    let r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE + DAY)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    let d = await retireDecisions(s, p);
    assert.equal(d.length, 2, 'judged and retired again');
    assert.equal(d[0].id, d0.id);
    assert.equal(d[0].outcome, 'failed');
    assert.match(d[0].error, /^interrupted before Shopify answered; .*had not applied it \(product \d+ is ACTIVE and still in the collection\)/);
    assert.equal(d[1].outcome, 'done');
    assert.deepEqual(await slotsOf(s), [{ decision_id: d[1].id, collection_id: s.col.id, filled: false }]);
    assert.ok(!s.col.productIds.includes(p.id));

    // Out of the collection now: the old decision must not open a second slot.
    fake.clock = new Date(BASE + 2 * DAY);
    r = await run(bin.replace, ['--shop', s.domain, ...asOf(BASE + 2 * DAY)], CLOCK);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await retireDecisions(s, p), d);
    assert.deepEqual(await slotsOf(s), [{ decision_id: d[1].id, collection_id: s.col.id, filled: false }]);
    assertClean();
  });

  test('the dashboard role sees its own settings, queue and decisions only', async () => {
    const [a] = await rows(`SELECT id, user_id FROM public.shops WHERE shop_domain = 'cat-ny.myshopify.com'`);
    const [b] = await rows(`SELECT id, user_id FROM public.shops WHERE shop_domain = 'cat-berlin.myshopify.com'`);
    const claims = { sub: a.user_id, role: 'authenticated' };
    const out = await pg.psql(`SELECT count(DISTINCT shop_id) FROM public.replace_decisions`,
      { role: 'authenticated', claims });
    assert.equal(out.trim(), '1');
    await pg.psql(`UPDATE public.catalog_settings SET max_replacements = 3`, { role: 'authenticated', claims });
    const mr = await rows(`SELECT shop_id, max_replacements FROM public.catalog_settings
      WHERE shop_id IN ('${a.id}', '${b.id}') ORDER BY max_replacements`);
    assert.deepEqual(mr.map((x) => [x.shop_id, x.max_replacements]).sort(),
      [[a.id, 3], [b.id, 5]].sort());
    await assert.rejects(pg.psql(`UPDATE public.catalog_settings SET start_days = 0`,
      { role: 'authenticated', claims }), /check constraint/);
    await assert.rejects(pg.psql(`INSERT INTO public.replace_decisions (shop_id, product_id, as_of, phase,
      verdict, reason) VALUES ('${a.id}', 1, now(), 'none', 'keep', 'x')`, { role: 'authenticated', claims }),
    /permission denied/);
  });
});
