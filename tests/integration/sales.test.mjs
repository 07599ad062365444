// sales.test.mjs - reboss-sales-tracker against the fake Shopify and a
// throwaway PostgreSQL.  Expected numbers are computed here, independently,
// from the fake's own orders (PRODUCT.md, Jobs 1).
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/sales.test.mjs
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createFakeShopify, isoNow } from '../fakes/shopify.mjs';
import { startPostgres } from './lib/pg.mjs';
import { expectedSalesDaily } from './lib/sales_expect.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const tracker = path.join(buildDir, 'jobs', 'reboss-sales-tracker');
const DAY = 86400_000;

let pg; let fake; let tmp; let conf;
const shops = new Map(); // domain -> { id, tz }

// Deterministic pseudo-random numbers (mulberry32).
let seed = 12345;
function rnd() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(tracker, ['--config', conf, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...env }, timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function rows(sql) {
  const out = (await pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}

const sqlStr = (s) => `'${String(s).replace(/'/g, "''")}'`;

// product_sales_daily as the fake's data says it must be.
const expected = (domain) => expectedSalesDaily(fake.getShop(domain));

async function actual(domain) {
  const id = shops.get(domain).id;
  return rows(`SELECT product_id, day::text AS day, units, (revenue * 100)::bigint AS cents, orders
    FROM public.product_sales_daily WHERE shop_id = '${id}' ORDER BY product_id, day`);
}

async function assertExact(domain) {
  const want = expected(domain);
  assert.ok(want.length > 0, `${domain}: the test has sales to compare`);
  assert.deepEqual(await actual(domain), want, `${domain}: product_sales_daily is exact`);
}

// A shop in the fake and in the database (plain token: the job seals it).
async function addShop(domain, tz, { products = 4, orders = 12, collections = 2, daysBack = 50,
  updatedWhenProcessed = false } = {}) {
  const token = `shpat_${randomBytes(12).toString('hex')}`;
  fake.addShop({ domain, token, ianaTimezone: tz, currency: tz.startsWith('Europe') ? 'EUR' : 'USD' });
  const cols = [];
  for (let i = 0; i < collections; i++) cols.push(fake.addCollection(domain, { title: `Col ${i}` }));
  const ps = [];
  for (let i = 0; i < products; i++) {
    ps.push(fake.addProduct(domain, { title: `Product ${i}`, price: `${10 + i}.50`,
      status: i === 1 ? 'DRAFT' : 'ACTIVE', collections: i === 0 ? cols : [cols[i % cols.length]].filter(Boolean),
      imageUrl: i % 2 === 0 ? `https://cdn.example/${domain}/${i}.png` : undefined }));
  }
  const now = Date.now();
  for (let i = 0; i < orders; i++) {
    // Times near local midnight on purpose: the day depends on the zone.
    const t = now - Math.floor(rnd() * daysBack) * DAY - Math.floor(rnd() * DAY);
    const lines = [];
    const nl = 1 + Math.floor(rnd() * 3);
    for (let j = 0; j < nl; j++) {
      const p = pick(ps);
      lines.push({ productId: p.id, quantity: 1 + Math.floor(rnd() * 4), price: p.variants[0].price,
        discount: rnd() < 0.3 ? '1.25' : '0.00' });
    }
    if (rnd() < 0.1) lines.push({ productId: null, quantity: 1, price: '5.00', title: 'Gift wrap' });
    // Default: every order updated now (as if just edited).  A test that
    // reads [from, run start) in one export wants them last updated when
    // processed: an order updated in the very second the run starts is
    // (rightly) left to the next run's overlap, which made such a test
    // depend on the clock.
    const iso = new Date(t).toISOString();
    fake.addOrder(domain, { processedAt: iso, lines, ...(updatedWhenProcessed ? { updatedAt: iso } : {}) });
  }
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
    VALUES ('${id}', gen_random_uuid(), ${sqlStr(domain)}, ${sqlStr(token)})`);
  shops.set(domain, { id, tz, token, products: ps, collections: cols });
  return shops.get(domain);
}

// Every date in a search query the job sent is quoted, as Shopify's search
// syntax asks ("Date values must be a string surrounded by quotes"); an
// unquoted one loses its time of day.
function assertQuotedDates(domain) {
  const qs = fake.requests.filter((q) => q.shop === domain && typeof q.variables?.q === 'string')
    .map((q) => q.variables.q);
  assert.ok(qs.some((q) => /updated_at/.test(q)), `${domain}: search queries were sent`);
  for (const q of qs) {
    for (const m of q.matchAll(/\b(?:updated|created|processed)_at:(?:>=|<=|>|<)?(\S+)/g)) {
      assert.match(m[1], /^'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z'/, `quoted date in ${q}`);
    }
  }
}

// fake.reset() clears what the fake recorded: check it was clean first.
function resetFake() {
  assert.deepEqual(fake.validationErrors, []);
  assert.deepEqual(fake.deprecations, []);
  fake.reset();
}

// sales_cursors.complete_through as the job must set it: the local day (in
// the shop's zone) before the one holding the run's start less the 10
// minutes every run reads again.  "" when NULL or no row.
async function completeThrough(domain) {
  const [c] = await rows(`SELECT orders_cursor, complete_through::text AS ct FROM public.sales_cursors
    WHERE shop_id = '${shops.get(domain).id}'`);
  if (!c) return { got: '', want: '' };
  const local = new Intl.DateTimeFormat('en-CA', { timeZone: shops.get(domain).tz, year: 'numeric',
    month: '2-digit', day: '2-digit' }).format(new Date(Date.parse(c.orders_cursor) - 10 * 60_000));
  const want = new Date(Date.parse(`${local}T00:00:00Z`) - DAY).toISOString().slice(0, 10);
  return { got: c.ct ?? '', want };
}

async function cursorOf(domain) {
  return (await pg.psql(`SELECT orders_cursor FROM public.sales_cursors
    WHERE shop_id = '${shops.get(domain).id}'`)).trim();
}

describe('reboss-sales-tracker', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-sales-'));
    pg = await startPostgres();
    fake = await createFakeShopify({ restoreRate: 20000, bucketSize: 2000 });
    conf = path.join(tmp, 'reboss.conf');
    await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
      `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
      `shopify_base_url = ${fake.baseUrlTemplate}`, ''].join('\n'));
    const m = await new Promise((resolve) => execFile(rebossctl, ['--config', conf, 'migrate', '--sql-dir',
      path.join(srcDir, 'sql')], (e, so, se) => resolve({ code: e ? e.code : 0, out: so + se })));
    assert.equal(m.code, 0, `migrate: ${m.out}`);
  });

  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const zones = [['sales-ny.myshopify.com', 'America/New_York'], ['sales-berlin.myshopify.com', 'Europe/Berlin'],
    ['sales-ktm.myshopify.com', 'Asia/Kathmandu']];

  test('first run: products mirrored, sales exact, token sealed, cursor set', async () => {
    for (const [d, tz] of zones) await addShop(d, tz, { orders: 35 });
    // An order with more lines than one page of lineItems, and a product
    // in more collections than one page.
    const ny = shops.get(zones[0][0]);
    const many = [];
    for (let i = 0; i < 27; i++) many.push({ productId: ny.products[i % 4].id, quantity: 1, price: '3.10' });
    fake.addOrder(zones[0][0], { processedAt: new Date(Date.now() - 3 * DAY).toISOString(), lines: many });
    for (let i = 0; i < 28; i++) {
      const c = fake.addCollection(zones[0][0], { title: `Extra ${i}` });
      c.productIds.push(ny.products[2].id);
    }
    const r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    for (const [d, tz] of zones) {
      await assertExact(d);
      const s = shops.get(d);
      const row = (await rows(`SELECT access_token LIKE 'rbs1:%' AS sealed, iana_timezone FROM public.shops
        WHERE id = '${s.id}'`))[0];
      assert.equal(row.sealed, true, 'the plain token was sealed');
      assert.equal(row.iana_timezone, tz, 'the zone comes from Shopify');
      assert.notEqual(await cursorOf(d), '', 'cursor set');
      const ct = await completeThrough(d);
      assert.equal(ct.got, ct.want, `${d}: complete through the last local day that ended before the run`);
      const prods = await rows(`SELECT product_id, title, handle, status, collection_ids, image_url,
        online_store_url, published_at IS NOT NULL AS published, deleted_at FROM public.products
        WHERE shop_id = '${s.id}' ORDER BY product_id`);
      const shop = fake.getShop(d);
      assert.deepEqual(prods, shop.data.Product.map((p) => ({
        product_id: p.id, title: p.title, handle: p.handle, status: p.status,
        collection_ids: shop.data.Collection.filter((c) => c.productIds.includes(p.id)).map((c) => c.id),
        image_url: p.imageUrl ?? null,
        online_store_url: p.status === 'ACTIVE' ? `https://${d}/products/${p.handle}` : null,
        published: p.publishedAt != null, deleted_at: null,
      })).sort((a, b) => a.product_id - b.product_id));
    }
    for (const [d] of zones) assertQuotedDates(d);
    assert.equal(shops.get(zones[0][0]) && (await rows(`SELECT cardinality(collection_ids) AS n FROM public.products
      WHERE product_id = ${ny.products[2].id}`))[0].n, 29, 'all collections of a product past one page');
  });

  test('re-run changes nothing', async () => {
    const before = await rows('SELECT * FROM public.product_sales_daily ORDER BY 1, 2, 3');
    const r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await rows('SELECT * FROM public.product_sales_daily ORDER BY 1, 2, 3'), before);
    for (const [d] of zones) await assertExact(d);
  });

  test('edits, refunds, cancellations and new orders converge', async () => {
    for (const [d] of zones) {
      const os_ = fake.getShop(d).data.Order;
      const s = shops.get(d);
      fake.refundOrder(d, os_[0].id, [{ index: 0, quantity: os_[0].lineItems[0].currentQuantity }]);
      const o1 = os_[1];
      if (o1.lineItems[0].currentQuantity > 1) fake.refundOrder(d, o1.id, [{ index: 0, quantity: 1 }]);
      fake.editOrder(d, os_[2].id, { set: [{ index: 0, quantity: 0 }],
        add: [{ productId: s.products[3].id, quantity: 2, price: '7.77' }] });
      fake.cancelOrder(d, os_[3].id);
      fake.cancelOrder(d, os_[4].id);
      fake.addOrder(d, { processedAt: new Date(Date.now() - 2 * DAY).toISOString(),
        lines: [{ productId: s.products[0].id, quantity: 5, price: '11.50' }] });
      // A product without orders disappears from Shopify.
      const gone = fake.addProduct(d, { title: 'Short lived' });
      s.gone = gone.id;
    }
    let r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    for (const [d] of zones) {
      const shop = fake.getShop(d);
      shop.data.Product = shop.data.Product.filter((p) => p.id !== shops.get(d).gone);
    }
    r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    for (const [d] of zones) {
      await assertExact(d);
      const g = await rows(`SELECT deleted_at IS NOT NULL AS deleted FROM public.products
        WHERE product_id = ${shops.get(d).gone}`);
      assert.deepEqual(g, [{ deleted: true }], 'a product gone from Shopify is marked, not dropped');
    }
  });

  test('a failure mid-pagination keeps the cursor; the next run converges', async () => {
    const d = 'sales-flaky.myshopify.com';
    await addShop(d, 'America/Los_Angeles', { orders: 150 });
    // shop, ordersCount and 11 pages of 10 orders pass (the first 100 are
    // stored as one batch); page 12 fails (orders come before products).
    fake.setMode(d, { failAfter: 2 + 11 });
    let r = await run(['--shop', d]);
    assert.equal(r.code, 1, r.stderr);
    const st = await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${shops.get(d).id}'`);
    assert.equal(st[0].last_status, 'failed');
    assert.equal(await cursorOf(d), '', 'the cursor did not move');
    assert.deepEqual(await completeThrough(d), { got: '', want: '' }, 'nothing known to be complete');
    const partial = await actual(d);
    assert.ok(partial.length > 0 && partial.length < expected(d).length, 'only the first batch was stored');
    const [ledger] = await rows(`SELECT count(DISTINCT order_id)::int AS n FROM public.order_lines_ledger
      WHERE shop_id = '${shops.get(d).id}'`);
    assert.equal(ledger.n, 100, 'the first batch: 100 orders, in one transaction');
    fake.setMode(d, null);
    r = await run(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    await assertExact(d);
    assert.notEqual(await cursorOf(d), '');
    const ct = await completeThrough(d);
    assert.equal(ct.got, ct.want);
  });

  // A page's write runs in PostgreSQL while the next page is read (db_send):
  // its failure must still fail the shop, with PostgreSQL's words.
  test('a page write PostgreSQL refuses fails the shop with its error; the cursor stays; the next run converges', async () => {
    const d = 'sales-refused.myshopify.com';
    const s = await addShop(d, 'America/Chicago', { products: 60, orders: 150 });
    const refuse = (table, when) => pg.psql(`DROP TRIGGER IF EXISTS test_refuse ON public.products;
      DROP TRIGGER IF EXISTS test_refuse ON public.order_lines_ledger;
      CREATE OR REPLACE FUNCTION public.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'test refuses a row of %', TG_TABLE_NAME; END $$;
      ${table ? `CREATE TRIGGER test_refuse BEFORE INSERT ON public.${table} FOR EACH ROW
        WHEN (NEW.shop_id = '${s.id}' AND ${when}) EXECUTE FUNCTION public.test_refuse();` : ''}`);
    const status = async () => (await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${s.id}' AND job_type = 'sales_tracker'`))[0];

    // orders (read first): batches of 100; the first batch's write fails,
    // and the shop stops there: no products either
    await refuse('order_lines_ledger', 'true');
    let r = await run(['--shop', d]);
    assert.equal(r.code, 1, r.stderr);
    let st = await status();
    assert.equal(st.last_status, 'failed');
    assert.match(st.last_error, /test refuses a row of order_lines_ledger/);
    assert.equal(await cursorOf(d), '', 'the cursor did not move');
    assert.deepEqual(await actual(d), [], 'no sales stored');
    const count = async () => (await rows(`SELECT count(*)::int AS n FROM public.products
      WHERE shop_id = '${s.id}' AND deleted_at IS NULL`))[0].n;
    assert.equal(await count(), 0);

    // products (read while the last orders are written): pages of 25; the
    // second page's write fails
    await refuse('products', "NEW.title = 'Product 30'");
    r = await run(['--shop', d]);
    assert.equal(r.code, 1, r.stderr);
    st = await status();
    assert.equal(st.last_status, 'failed');
    assert.match(st.last_error, /test refuses a row of products/);
    assert.equal(await cursorOf(d), '', 'the cursor did not move');
    assert.equal(await count(), 25, 'the first page was stored, the refused one not');
    await assertExact(d); // the orders went through this time

    await refuse(null);
    r = await run(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status()).last_status, 'success');
    await assertExact(d);
    assert.notEqual(await cursorOf(d), '');
    await pg.psql('DROP FUNCTION public.test_refuse()');
  });

  test('an order updated while its pages are read comes again on a later page: stored once, as it is now', async () => {
    const d = 'sales-moving.myshopify.com';
    await addShop(d, 'Europe/Berlin', { orders: 40 });
    // updatedAt has whole seconds: the refund must come a second later.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const oldest = [...fake.getShop(d).data.Order].sort((a, b) => a.updatedAt.localeCompare(b.updatedAt)
      || a.id - b.id)[0];
    let n = 0;
    let refunded = false;
    // shop, ordersCount, orders page 1 (with the oldest order); before
    // page 2 the merchant refunds it: its updatedAt moves to now, so the
    // last page brings it again.
    fake.setMode(d, { onRequest: () => {
      n += 1;
      if (n === 4) { fake.refundOrder(d, oldest.id, [{ index: 0, quantity: 1 }]); refunded = true; }
    } });
    const r = await run(['--shop', d]);
    fake.setMode(d, null);
    assert.ok(refunded, 'the refund happened between the pages');
    assert.equal(r.code, 0, r.stderr);
    const seen = fake.requests.filter((q) => q.shop === d && /query Orders\(/.test(q.query ?? '')).length;
    assert.equal(seen, 5, `40 orders and the refunded one again: ${seen} pages`);
    await assertExact(d);
  });

  test('a large backfill goes through a bulk operation', async () => {
    const d = 'sales-bulk.myshopify.com';
    await addShop(d, 'Australia/Sydney', { orders: 1050, products: 6, updatedWhenProcessed: true });
    resetFake();
    const r = await run(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fake.bulkOperations.filter((b) => b.shop === d).length, 1, 'one bulk operation');
    assert.equal(fake.requests.filter((q) => q.bulkDownload && q.status === 200).length, 1, 'JSONL downloaded');
    assert.equal(fake.requests.filter((q) => q.shop === d && /query Orders\(/.test(q.query ?? '')).length, 0,
      'no order pages');
    await assertExact(d);
    const c = await rows(`SELECT last_mode, last_orders FROM public.sales_cursors WHERE shop_id = '${shops.get(d).id}'`);
    assert.deepEqual(c, [{ last_mode: 'bulk', last_orders: 1050 }]);
    assertQuotedDates(d);
    for (const b of fake.bulkOperations.filter((x) => x.shop === d)) {
      assert.match(b.query, /updated_at:>='[^']+' AND updated_at:<'[^']+'/, 'the export\'s dates are quoted');
    }
  });

  test('a bulk export Shopify refuses (userErrors) fails the shop with Shopify\'s words; nothing stored; the next run converges', async () => {
    const d = 'sales-bulk-busy.myshopify.com';
    const s = await addShop(d, 'Europe/Paris', { orders: 12, products: 3, updatedWhenProcessed: true });
    // A bulk query of this app still running (a run killed mid-export):
    // Shopify refuses another one with OPERATION_IN_PROGRESS.
    const busy = { __typename: 'BulkOperation', id: 990001, gid: 'gid://shopify/BulkOperation/990001',
      status: 'RUNNING', type: 'QUERY', query: '{ orders { edges { node { id } } } }' };
    fake.getShop(d).data.BulkOperation = [busy];
    resetFake();
    const knobs = { REBOSS_SALES_BULK_MIN_ORDERS: '0' };
    let r = await run(['--shop', d], knobs);
    assert.equal(r.code, 1, r.stderr);
    const [st] = await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${s.id}' AND job_type = 'sales_tracker'`);
    assert.equal(st.last_status, 'failed');
    assert.match(st.last_error, /Shopify refused the bulk order export: A bulk query operation for this app and shop is already in progress: gid:\/\/shopify\/BulkOperation\/990001\./);
    assert.equal(await cursorOf(d), '', 'the cursor did not move');
    assert.deepEqual(await actual(d), [], 'no sales stored');
    busy.status = 'COMPLETED';
    resetFake();
    r = await run(['--shop', d], knobs);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fake.bulkOperations.filter((b) => b.shop === d).length, 1, 'one bulk operation');
    await assertExact(d);
  });

  // Shopify's updatedAt has whole seconds.  Orders refunded in the second
  // the run starts (just before it) say that second; the old job ended its
  // last export at the run's start cut down to the second, so they were in
  // no export (their refunds never read by id) while complete_through moved
  // past them.  The refunds are made before the run; at the run's first
  // request their updatedAt is set to that second.  When the second turned
  // between the run's start and that request the aim was missed (the
  // orders look updated after the start): a fresh shop is tried again.
  test('a big backfill is split by date into exports of bounded size, read as they stream; refunds and discounts exact', async () => {
    let hit = false;
    for (let attempt = 0; attempt < 4 && !hit; attempt++) {
      const d = `sales-bulk-split${attempt || ''}.myshopify.com`;
      const s = await addShop(d, 'America/Denver', { orders: 900, products: 5 });
      const os_ = fake.getShop(d).data.Order;
      // Refunds in the export come by id only (a connection inside a list
      // is not exported): their lines are read afterwards.
      for (let i = 0; i < 30; i++) fake.refundOrder(d, os_[i].id, [{ index: 0, quantity: 1 }]);
      // As in a real shop, the orders were last updated over the weeks they
      // came in (a range of one second cannot be split).
      for (let i = 30; i < os_.length; i++) os_[i].updatedAt = os_[i].processedAt ?? os_[i].createdAt;
      fake.addOrder(d, { processedAt: new Date(Date.now() - 5 * DAY).toISOString(), orderDiscount: '2.05',
        lines: [{ productId: s.products[0].id, quantity: 3, price: '9.99', discountTotal: '0.10' },
          { productId: s.products[1].id, quantity: 1, price: '4.00' }] });
      resetFake();
      let second = null;
      fake.setMode(d, { onRequest: () => {
        if (second !== null) return;
        second = isoNow();
        for (let i = 0; i < 30; i++) os_[i].updatedAt = second;
      } });
      const r = await run(['--shop', d], { REBOSS_SALES_BULK_MIN_ORDERS: '10', REBOSS_SALES_BULK_RANGE_ORDERS: '250' });
      fake.setMode(d, null);
      assert.equal(r.code, 0, r.stderr);
      const [{ started }] = await rows(`SELECT to_char(orders_cursor AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started FROM public.sales_cursors WHERE shop_id = '${s.id}'`);
      if (started !== second) continue; // the second turned: aim missed
      hit = true;
      const ops = fake.bulkOperations.filter((b) => b.shop === d);
      assert.ok(ops.length >= 4, `901 orders in exports of at most 250: ${ops.length} exports`);
      assert.equal(fake.requests.filter((q) => q.bulkDownload && q.status === 200).length, ops.length);
      assert.ok(fake.requests.some((q) => q.shop === d && /query RefundLines\(/.test(q.query ?? '')),
        'refund lines read by id');
      await assertExact(d);
      assertQuotedDates(d);
    }
    assert.ok(hit, 'the orders were updated in the second the run started');
  });

  test('revenue is Shopify\'s net sales to the cent: every discount, refunds, removed units; test orders and money-only refunds not counted', async () => {
    const d = 'sales-money.myshopify.com';
    const s = await addShop(d, 'Europe/Berlin', { orders: 0, products: 3 });
    const at = (n) => new Date(Date.now() - n * DAY).toISOString();
    const [p0, p1, p2] = s.products.map((p) => p.id);
    // 3 x 9.99 with 0.10 off the line (no whole cent per unit) and 1.00
    // off the order: the "approximate" unit price cannot add up.
    const a = fake.addOrder(d, { processedAt: at(3), orderDiscount: '1.00', lines: [
      { productId: p0, quantity: 3, price: '9.99', discountTotal: '0.10' },
      { productId: p1, quantity: 2, price: '5.00' }] });
    fake.refundOrder(d, a.id, [{ index: 0, quantity: 1 }]);
    // An amount refunded without a line item: not a product's.
    const b = fake.addOrder(d, { processedAt: at(2), lines: [{ productId: p1, quantity: 1, price: '20.00' }] });
    fake.refundOrder(d, b.id, [], { amount: '5.00' });
    // A test order (Bogus Gateway): not a sale.
    fake.addOrder(d, { processedAt: at(1), test: true, lines: [{ productId: p2, quantity: 4, price: '7.00' }] });
    // One of 3 units removed by an order edit: its share, to the cent.
    const c = fake.addOrder(d, { processedAt: at(1), lines: [
      { productId: p2, quantity: 3, price: '10.00', discountTotal: '0.01' }] });
    fake.editOrder(d, c.id, { set: [{ index: 0, quantity: 2 }] });
    const r = await run(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    await assertExact(d);
    const got = await actual(d);
    // 3 x 10.00 less 0.01, one unit removed: its share 29.99 / 3 = 9.9967
    // rounds to 10.00, so 19.99 stays.
    assert.equal(got.find((x) => x.product_id === p2).cents, 1999, 'the removed unit\'s share to the cent');
    assert.equal(got.find((x) => x.product_id === p2).units, 2, 'the test order\'s 4 units are not counted');
  });

  test('without read_all_orders Shopify shows 60 days of orders: said in sales_cursors and rebossctl status', async () => {
    const full = 'sales-allorders.myshopify.com';
    const part = 'sales-60days.myshopify.com';
    for (const d of [full, part]) {
      const s = await addShop(d, 'UTC', { orders: 5, products: 2 });
      // Sold 70 days ago, refunded today.
      const o = fake.addOrder(d, { processedAt: new Date(Date.now() - 70 * DAY).toISOString(),
        lines: [{ productId: s.products[0].id, quantity: 2, price: '10.00' }] });
      fake.refundOrder(d, o.id, [{ index: 0, quantity: 1 }]);
      s.old = o.id;
    }
    fake.getShop(full).scopes = [...fake.getShop(full).scopes, 'read_all_orders'];
    for (const d of [full, part]) {
      const r = await run(['--shop', d]);
      assert.equal(r.code, 0, r.stderr);
    }
    await assertExact(full);
    const oldOf = async (d) => (await rows(`SELECT units FROM public.order_lines_ledger
      WHERE shop_id = '${shops.get(d).id}' AND order_id = ${shops.get(d).old}`));
    assert.deepEqual(await oldOf(full), [{ units: 1 }], 'the old order, refunded today, is read with read_all_orders');
    assert.deepEqual(await oldOf(part), [], 'Shopify hides it without read_all_orders');
    const access = async (d) => (await rows(`SELECT orders_access FROM public.sales_cursors
      WHERE shop_id = '${shops.get(d).id}'`))[0].orders_access;
    assert.equal(await access(full), 'all');
    assert.equal(await access(part), 'last_60_days');
    const st = await new Promise((resolve) => execFile(rebossctl, ['--config', conf, 'status', '--json'],
      (e, so) => resolve(JSON.parse(so))));
    const limited = st.sales_history_limited.map((x) => x.shop_domain);
    assert.ok(limited.includes(part) && !limited.includes(full), `rebossctl status names ${part}`);
    const text = await new Promise((resolve) => execFile(rebossctl, ['--config', conf, 'status'],
      (e, so) => resolve(so)));
    assert.match(text, new RegExp(`${part.replace(/\./g, '\\.')}.*read_all_orders`));
  });

  test('--dry-run reads everything and writes nothing', async () => {
    const d = zones[1][0];
    const s = shops.get(d);
    const os_ = fake.getShop(d).data.Order;
    // Pending changes only a real run would store: a new order, a refund,
    // a cancellation and a new product.
    fake.addOrder(d, { processedAt: new Date(Date.now() - 1 * DAY).toISOString(),
      lines: [{ productId: s.products[2].id, quantity: 3, price: '12.50' }] });
    fake.refundOrder(d, os_[5].id, [{ index: 0, quantity: os_[5].lineItems[0].currentQuantity }]);
    fake.cancelOrder(d, os_[6].id);
    fake.addProduct(d, { title: 'Dry product' });
    const snap = async () => ({
      ledger: await rows(`SELECT order_id, product_id, day::text AS day, units, revenue::text AS revenue,
        stored_at FROM public.order_lines_ledger WHERE shop_id = '${s.id}' ORDER BY 1, 2`),
      daily: await rows(`SELECT * FROM public.product_sales_daily WHERE shop_id = '${s.id}' ORDER BY 2, 3`),
      products: await rows(`SELECT * FROM public.products WHERE shop_id = '${s.id}' ORDER BY 2`),
      cursor: await cursorOf(d),
    });
    const before = await snap();
    assert.ok(before.ledger.length > 0 && before.daily.length > 0, 'the shop has stored sales');
    assert.notDeepEqual(await actual(d), expected(d), 'the fake has changes not stored yet');
    const r = await run(['--dry-run', '--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await snap(), before, 'ledger, daily sales, products and cursor unchanged');
    const real = await run(['--shop', d]);
    assert.equal(real.code, 0, real.stderr);
    await assertExact(d);
  });

  test('the page writers are invoker functions only the backend may call', async () => {
    const fns = await rows(`SELECT p.proname, p.prosecdef, p.proconfig,
        has_function_privilege('anon', p.oid, 'EXECUTE') AS anon,
        has_function_privilege('authenticated', p.oid, 'EXECUTE') AS authenticated,
        has_function_privilege('service_role', p.oid, 'EXECUTE') AS service_role
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.proname LIKE 'reboss\\_sales\\_store\\_%' ORDER BY 1`);
    assert.deepEqual(fns, ['reboss_sales_store_orders', 'reboss_sales_store_products'].map((proname) => ({
      proname, prosecdef: false, proconfig: ['search_path=public, pg_temp'],
      anon: false, authenticated: false, service_role: true })));
    const id = shops.get(zones[0][0]).id;
    await assert.rejects(pg.psql(`SELECT public.reboss_sales_store_orders('${id}', '[]', '[]')`,
      { role: 'authenticated', claims: { sub: randomUUID(), role: 'authenticated' } }), /permission denied/);
    await assert.rejects(pg.psql(`SELECT public.reboss_sales_store_products('${id}', '[]', now())`,
      { role: 'anon' }), /permission denied/);
  });

  test('reboss_sales_store_orders: a key an order leaves is recomputed or removed, other shops untouched', async () => {
    const a = randomUUID(); const b = randomUUID();
    await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token) VALUES
      ('${a}', gen_random_uuid(), 'fn-a.myshopify.com', 'x'), ('${b}', gen_random_uuid(), 'fn-b.myshopify.com', 'x')`);
    try {
      await checkStoreOrders(a, b);
    } finally {
      // Not shops of the fake: later runs must not see them.
      await pg.psql(`DELETE FROM public.shops WHERE id IN ('${a}', '${b}')`);
    }
  });

  test('reboss_sales_store_orders: two writers of one shop\'s orders at once (a dry run beside the nightly run) both succeed', async () => {
    // Writer 1 stores an order inside an open transaction (as a dry run
    // does); writer 2 stores the same order meanwhile.  Writer 1 commits
    // only once writer 2 is seen waiting on a lock (a barrier, no clock).
    // Without the per-shop lock (sql/021) writer 2 deleted nothing, then
    // failed on writer 1's rows: duplicate key in order_lines_ledger.
    const a = randomUUID();
    await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token) VALUES
      ('${a}', gen_random_uuid(), 'fn-race.myshopify.com', 'x')`);
    const lines = sqlStr(JSON.stringify([{ order_id: 7, product_id: 70, day: '2026-01-05', units: 2, revenue: '9',
      updated_at: '2026-01-02T03:04:05Z' }]));
    const call = `SELECT public.reboss_sales_store_orders('${a}', '[7]', ${lines});`;
    const psqlArgs = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(pg.port),
      '-U', 'reboss', '-d', 'reboss', '-f', '-'];
    const env = { ...process.env, PGPASSWORD: pg.password };
    const one = spawn('psql', psqlArgs, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out1 = '';
    one.stdout.on('data', (d) => { out1 += d; });
    one.stderr.on('data', (d) => { out1 += d; });
    const done1 = new Promise((r) => one.on('close', r));
    try {
      one.stdin.write(`BEGIN;\n${call}\nSELECT 'stored';\n`);
      const waitFor = async (cond, what) => {
        for (let i = 0; !(await cond()); i++) {
          if (i > 2400) throw new Error(`never happened: ${what}`);	// a guard against a hang, not a measure
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await waitFor(async () => out1.includes('stored'), 'writer 1 stored in its transaction');
      const two = pg.psql(call).then((o) => ({ ok: true, o }), (e) => ({ ok: false, e }));
      await waitFor(async () => Number(await pg.psql('SELECT count(*) FROM pg_locks WHERE NOT granted')) >= 1,
        'writer 2 waits on a lock');
      one.stdin.end('COMMIT;\n');
      assert.equal(await done1, 0, out1);
      const r2 = await two;
      assert.ok(r2.ok, `writer 2: ${r2.e?.message}`);
      assert.deepEqual(await rows(`SELECT order_id, units FROM public.order_lines_ledger WHERE shop_id = '${a}'`),
        [{ order_id: 7, units: 2 }]);
    } finally {
      one.kill();
      await pg.psql(`DELETE FROM public.shops WHERE id = '${a}'`);
    }
  });

  async function checkStoreOrders(a, b) {
    const line = (order_id, product_id, day, units, revenue) => ({ order_id, product_id, day, units, revenue,
      updated_at: '2026-01-02T03:04:05Z' });
    const store = async (shop, ids, lines) => Number((await pg.psql(`SELECT public.reboss_sales_store_orders(
      '${shop}', ${sqlStr(JSON.stringify(ids))}, ${sqlStr(JSON.stringify(lines))})`)).trim());
    const daily = (shop) => rows(`SELECT product_id, day::text AS day, units, revenue::text AS revenue, orders
      FROM public.product_sales_daily WHERE shop_id = '${shop}' ORDER BY 1, 2`);
    const ledger = (shop) => rows(`SELECT order_id, product_id, day::text AS day, units
      FROM public.order_lines_ledger WHERE shop_id = '${shop}' ORDER BY 1, 2`);
    // Orders 1 and 2 share (10, 01-05); order 1 also sells product 11.
    assert.equal(await store(a, [1, 2], [line(1, 10, '2026-01-05', 2, '20.5'), line(1, 11, '2026-01-05', 1, '4'),
      line(2, 10, '2026-01-05', 3, '30')]), 2);
    // The same order ids in shop b must not touch shop a.
    assert.equal(await store(b, [1], [line(1, 10, '2026-01-05', 7, '70')]), 1);
    assert.deepEqual(await daily(a), [
      { product_id: 10, day: '2026-01-05', units: 5, revenue: '50.500000', orders: 2 },
      { product_id: 11, day: '2026-01-05', units: 1, revenue: '4.000000', orders: 1 }]);
    // Order 1 is edited: product 11 gone, product 10 moved to another day
    // and fully refunded (units 0, revenue kept as a correction).
    assert.equal(await store(a, [1], [line(1, 10, '2026-01-06', 0, '-1.25')]), 3);
    assert.deepEqual(await daily(a), [
      { product_id: 10, day: '2026-01-05', units: 3, revenue: '30.000000', orders: 1 },
      { product_id: 10, day: '2026-01-06', units: 0, revenue: '-1.250000', orders: 0 }]);
    // Order 2 is cancelled (no rows): its key disappears; a re-store of the
    // same page changes nothing.
    assert.equal(await store(a, [2], []), 1);
    const once = await daily(a);
    assert.equal(await store(a, [1, 2], [line(1, 10, '2026-01-06', 0, '-1.25')]), 1);
    assert.deepEqual(await daily(a), once);
    assert.deepEqual(once, [{ product_id: 10, day: '2026-01-06', units: 0, revenue: '-1.250000', orders: 0 }]);
    assert.deepEqual(await ledger(a), [{ order_id: 1, product_id: 10, day: '2026-01-06', units: 0 }]);
    assert.deepEqual(await daily(b), [{ product_id: 10, day: '2026-01-05', units: 7, revenue: '70.000000', orders: 1 }]);
    assert.deepEqual(await ledger(b), [{ order_id: 1, product_id: 10, day: '2026-01-05', units: 7 }]);
  }

  test('120 more shops, parallel 20: each processed exactly once, all exact', async () => {
    const added = [];
    for (let i = 0; i < 120; i++) {
      const d = `sales-many-${i}.myshopify.com`;
      added.push(d);
      await addShop(d, pick(['UTC', 'Asia/Tokyo', 'America/Chicago', 'Europe/London']), { products: 2, orders: 3, collections: 1 });
    }
    resetFake();
    const r = await run(['--parallel', '20']);
    assert.equal(r.code, 0, r.stderr);
    const total = shops.size;
    const run1 = (await rows(`SELECT status, shops_processed, shops_failed FROM public.job_runs
      ORDER BY started_at DESC LIMIT 1`))[0];
    assert.deepEqual(run1, { status: 'completed', shops_processed: total, shops_failed: 0 });
    const counts = new Map();
    for (const q of fake.requests) {
      if (/query OrdersCount/.test(q.query ?? '')) counts.set(q.shop, (counts.get(q.shop) ?? 0) + 1);
    }
    assert.equal(counts.size, total, 'every shop read');
    for (const [d, n] of counts) assert.equal(n, 1, `${d} processed once`);
    for (const d of added) await assertExact(d);
    const ok = await rows(`SELECT count(*)::int AS n FROM public.shop_job_status
      WHERE job_type = 'sales_tracker' AND last_status = 'success'`);
    assert.equal(ok[0].n, total);
  });

  test('no validation errors and no deprecated fields', () => {
    assert.deepEqual(fake.validationErrors, []);
    assert.deepEqual(fake.deprecations, []);
  });
});
