// dashboard.test.mjs - doc/dashboard.md, tab by tab, as two users (issue 18).
// Owner: the "dashboard" module.
//
// Each section is what one dashboard tab reads or writes: through the API
// with the user's bearer token, or through Supabase as role authenticated
// with the user's claims in request.jwt.claims (see rls.test.mjs).  Every
// section proves that each of two users sees their own rows and nothing of
// the other's.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startStack } from './harness.mjs';

const A = randomUUID();
const B = randomUUID();
const shopA = randomUUID();
const shopB = randomUUID();
const runId = randomUUID();
const asUser = (sub) => ({ role: 'authenticated', claims: { sub, role: 'authenticated' } });
const lines = (out) => out.split('\n').filter((l) => l !== '');

// Two shops, one per user, each with products 1..3 and sales on three days
// of November 2026 (in the shop's zone): the numbers differ per shop so a
// leak would show.  Order 10 has two products: one order, not two.
function salesFor(shop, k) {
  const row = (o, p, day, units, revenue) => ({ order_id: o, product_id: p, day, units, revenue: String(revenue) });
  return `
    INSERT INTO products (shop_id, product_id, title, handle, status) VALUES
      ('${shop}', 1, 'One', 'one', 'ACTIVE'), ('${shop}', 2, 'Two', 'two', 'ACTIVE'),
      ('${shop}', 3, 'Three', 'three', 'ACTIVE');
    SELECT reboss_sales_store_orders('${shop}', '[10, 11, 12]', '${JSON.stringify([
    row(10, 1, '2026-11-01', 2 * k, 10 * k), row(10, 2, '2026-11-01', k, 3 * k),
    row(11, 1, '2026-11-02', k, 5 * k), row(12, 2, '2026-11-03', 4 * k, 8 * k)])}');`;
}

describe('the dashboard, tab by tab, as two users', () => {
  let stack, tokA, tokB;
  const psql = (sql, who) => stack.pg.psql(sql, who ? asUser(who) : undefined);

  before(async () => {
    stack = await startStack({ workers: 2 });
    tokA = stack.mintToken({ userId: A });
    tokB = stack.mintToken({ userId: B });
    await psql(`
      INSERT INTO shops (id, user_id, shop_domain, iana_timezone) VALUES
        ('${shopA}', '${A}', 'dash-alpha.myshopify.com', 'Europe/Berlin'),
        ('${shopB}', '${B}', 'dash-bravo.myshopify.com', 'America/New_York');
      INSERT INTO job_runs (id, job_type, status) VALUES ('${runId}', 'replace_job', 'completed_with_errors');
      INSERT INTO shop_job_status (shop_id, job_type, last_run_at, last_status, last_error,
          consecutive_failures, last_duration_ms, run_id) VALUES
        ('${shopA}', 'sales_tracker', '2026-12-01T02:00:00Z', 'success', NULL, 0, 1200, '${runId}'),
        ('${shopB}', 'replace_job', '2026-12-01T04:00:00Z', 'failed', 'Shopify answered 401', 3, 10, '${runId}');
      ${salesFor(shopA, 1)}
      ${salesFor(shopB, 10)}
    `);
  });
  after(async () => { await stack?.stop(); });

  // Every table a tab reads, with one row per shop written by the backend;
  // each user must see exactly the row of their own shop.  writable: the
  // tab writes it, so the other user's shop must refuse an insert.
  const TABS = [
    ['every tab', 'shops', null, { key: 'id' }],
    ['every tab', 'shop_job_status', null],
    ['AnalyticsDashboard', 'products', null],
    ['AnalyticsDashboard', 'product_sales_daily', null],
    ['AnalyticsDashboard', 'shop_sales_daily', null],
    ['AnalyticsDashboard', 'product_sales_monthly', null],
    ['AnalyticsDashboard', 'sales_cursors', "(shop_id, orders_cursor, complete_through) VALUES ($S, now(), '2026-12-01')"],
    ['StartPhase / PostPhase', 'catalog_settings', '(shop_id) VALUES ($S)', { writable: '(shop_id) VALUES ($S)' }],
    ['StartPhase / PostPhase', 'replace_decisions',
      "(shop_id, product_id, as_of, phase, verdict, reason) VALUES ($S, 1, now(), 'start', 'keep', 'selling')"],
    ['ProductCreation', 'design_queue', "(shop_id, title) VALUES ($S, 'Design')",
      { writable: "(shop_id, title) VALUES ($S, 'Sneaky')" }],
    ['ProductCreation', 'catalog_slots', '(shop_id, opened_at) VALUES ($S, now())'],
    ['ProductCreation', 'created_products', "(shop_id, product_id, handle, created_at) VALUES ($S, 1, 'one', now())"],
    ['PodIntelligence', 'pod_ai_settings', '(shop_id) VALUES ($S)', { writable: '(shop_id) VALUES ($S)' }],
    ['PodIntelligence', 'product_optimizations',
      "(shop_id, product_id, status, fields, before) VALUES ($S, 1, 'failed', '{title}', '{}')"],
    ['PinterestSync', 'pinterest_sync_collections', "(shop_id, collection_id, board_name) VALUES ($S, 7, 'Posters')",
      { writable: "(shop_id, collection_id, board_name) VALUES ($S, 8, 'Sneaky')" }],
    ['PinterestSync', 'pinterest_boards', "(shop_id, collection_id, name) VALUES ($S, 7, 'Posters')"],
    ['PinterestSync', 'pinterest_pins', "(shop_id, product_id, collection_id, board_id, link) VALUES ($S, 1, 7, '123', 'https://x')"],
    ['PinterestSync', 'pinterest_auth', "(shop_id, access_token) VALUES ($S, 'rbs1:sealed')"],
    ['GeneralSettings / RateLimits', 'shop_settings', '(shop_id, creations_per_day) VALUES ($S, 3)',
      { writable: '(shop_id) VALUES ($S)' }],
    ['Owner actions', 'owner_actions', "(shop_id, user_id, action, target) VALUES ($S, gen_random_uuid(), 'pause_job', 'replace_job')",
      { writable: "(shop_id, user_id, action) VALUES ($S, gen_random_uuid(), 'run_job')", refused: /permission denied/ }],
    ['Owner actions', 'job_requests', "(shop_id, job_type, requested_by) VALUES ($S, 'sales_tracker', gen_random_uuid())",
      { writable: "(shop_id, job_type, requested_by) VALUES ($S, 'replace_job', gen_random_uuid())", refused: /permission denied/ }],
    ['Notifications', 'notifications', "(shop_id, cause, title, body) VALUES ($S, 'job_failing', 'Fails', 'Fails.')",
      { writable: "(shop_id, cause, title, body) VALUES ($S, 'job_failing', 'x', 'y')", refused: /permission denied/ }],
    ['MetaAdsSync / GoogleAdsManager', 'meta_auth', "(shop_id, access_token) VALUES ($S, 'rbs1:sealed')"],
    ['MetaAdsSync / GoogleAdsManager', 'google_auth', "(shop_id, access_token) VALUES ($S, 'rbs1:sealed')"],
  ];

  describe('each tab\'s tables: each user sees the rows of their own shop only', () => {
    before(async () => {
      for (const [, table, values] of TABS) {
        if (!values) continue;
        await psql([shopA, shopB].map((s) => `INSERT INTO ${table} ${values.replaceAll('$S', `'${s}'`)};`).join('\n'));
      }
    });
    for (const [tab, table, , opts = {}] of TABS) {
      test(`${tab}: ${table}`, async () => {
        const key = opts.key ?? 'shop_id';
        for (const [who, own] of [[A, shopA], [B, shopB]]) {
          const seen = lines(await psql(`SELECT DISTINCT ${key} FROM ${table}`, who));
          assert.deepEqual(seen, [own], `${table} as ${who === A ? 'A' : 'B'}`);
        }
        if (opts.writable) {
          await assert.rejects(psql(`INSERT INTO ${table} ${opts.writable.replaceAll('$S', `'${shopB}'`)}`, A),
            opts.refused ?? /row-level security|violates/);
        }
      });
    }
    test('MetaAdsSync / GoogleAdsManager, PinterestSync: GET /api/shops/{id}/integrations', async () => {
      const a = await stack.curl(`/api/shops/${shopA}/integrations`, { token: tokA });
      assert.equal(a.status, 200, a.body);
      assert.ok(!a.body.includes('rbs1:'), 'never a token');
      const x = await stack.curl(`/api/shops/${shopA}/integrations`, { token: tokB });
      assert.equal(x.status, 404, x.body);
    });
  });

  describe('Owner actions: every route is the owner\'s only', () => {
    const routes = [['POST', 'rollback', { optimization_id: randomUUID() }],
      ['POST', 'designs/retry', { design_id: randomUUID() }], ['POST', 'jobs/pause', { job: 'replace_job' }],
      ['POST', 'jobs/resume', { job: 'replace_job' }], ['POST', 'jobs/run', { job: 'replace_job' }],
      ['GET', 'replace-preview']];
    for (const [method, route, body] of routes) {
      test(`${method} /api/shops/{id}/${route}: another user's shop is 404, nothing recorded`, async () => {
        const r = await stack.curl(`/api/shops/${shopA}/${route}`, { method, body, token: tokB });
        assert.equal(r.status, 404, r.body);
        assert.equal(r.json.code, 'shop_not_found');
        assert.equal((await psql(`SELECT count(*) FROM owner_actions WHERE shop_id = '${shopA}' AND action <> 'pause_job'`)).trim(), '0');
      });
    }
  });

  describe('every tab: GET /api/shops/{id}/jobs', () => {
    test('each user gets the five jobs of their own shop', async () => {
      const a = await stack.curl(`/api/shops/${shopA}/jobs`, { token: tokA });
      assert.equal(a.status, 200, a.body);
      assert.equal(a.json.success, true);
      assert.equal(a.json.shop_id, shopA);
      assert.deepEqual(a.json.jobs.map((j) => j.job_type),
        ['sales_tracker', 'replace_job', 'product_optimize', 'product_creation', 'pinterest_sync']);
      assert.deepEqual(a.json.jobs[0], {
        job_type: 'sales_tracker', last_run_at: '2026-12-01T02:00:00Z', last_status: 'success',
        last_error: null, last_duration_ms: 1200, consecutive_failures: 0,
      });
      assert.deepEqual(a.json.jobs[1], {
        job_type: 'replace_job', last_run_at: null, last_status: null, last_error: null,
        last_duration_ms: null, consecutive_failures: 0,
      }, "B's replace_job failure is not A's");
      const b = await stack.curl(`/api/shops/${shopB}/jobs`, { token: tokB });
      assert.equal(b.status, 200, b.body);
      assert.equal(b.json.jobs[1].last_status, 'failed');
      assert.equal(b.json.jobs[1].last_error, 'Shopify answered 401');
      assert.equal(b.json.jobs[1].consecutive_failures, 3);
      assert.equal(b.json.jobs[0].last_run_at, null);
    });

    test("another user's shop, or none, is 404; no token is 401", async () => {
      for (const [tok, id] of [[tokA, shopB], [tokB, shopA], [tokA, randomUUID()]]) {
        const r = await stack.curl(`/api/shops/${id}/jobs`, { token: tok });
        assert.equal(r.status, 404, r.body);
        assert.equal(r.json.code, 'shop_not_found');
        assert.ok(!r.body.includes('Shopify answered'), 'nothing of the other shop');
      }
      const r = await stack.curl(`/api/shops/${shopA}/jobs`);
      assert.equal(r.status, 401, r.body);
      assert.equal((await stack.curl('/api/shops/not-a-uuid/jobs', { token: tokA })).status, 404);
    });
  });

  describe('AnalyticsDashboard', () => {
    const daily = (shop, who) => psql(`SELECT day, units, revenue, orders FROM
      reboss_shop_sales_daily('${shop}', '2026-10-31', '2026-11-03')`, who).then(lines);

    test('daily totals per shop: every day of the range, orders counted once', async () => {
      assert.deepEqual(await daily(shopA, A), [
        '2026-10-31|0|0|0', '2026-11-01|3|13.000000|1', '2026-11-02|1|5.000000|1', '2026-11-03|4|8.000000|1']);
      assert.deepEqual(await daily(shopB, B), [
        '2026-10-31|0|0|0', '2026-11-01|30|130.000000|1', '2026-11-02|10|50.000000|1', '2026-11-03|40|80.000000|1']);
    });

    test('the totals follow the ledger: an order edited away leaves its day', async () => {
      await psql(`SELECT reboss_sales_store_orders('${shopA}', '[11]', '[]')`);
      assert.deepEqual((await daily(shopA, A))[2], '2026-11-02|0|0|0');
      assert.equal((await psql(`SELECT count(*) FROM shop_sales_daily WHERE shop_id = '${shopA}'`)).trim(), '2');
      await psql(`SELECT reboss_sales_store_orders('${shopA}', '[11]',
        '[{"order_id": 11, "product_id": 1, "day": "2026-11-02", "units": 1, "revenue": "5"}]')`);
      assert.deepEqual((await daily(shopA, A))[2], '2026-11-02|1|5.000000|1');
    });

    test('top and bottom products, by units or revenue; a product that sold nothing is at the bottom', async () => {
      const totals = (shop, who, args) => psql(`SELECT rank, product_id, units, revenue FROM
        reboss_product_sales_totals('${shop}', '2026-11-01', '2026-11-30', ${args})`, who).then(lines);
      assert.deepEqual(await totals(shopA, A, '2'), ['1|2|5|11.000000', '2|1|3|15.000000']);
      assert.deepEqual(await totals(shopA, A, "1, false, 'revenue'"), ['1|1|3|15.000000']);
      assert.deepEqual(await totals(shopA, A, '2, true'), ['1|3|0|0', '2|1|3|15.000000']);
      assert.deepEqual(await totals(shopB, B, '1'), ['1|2|50|110.000000']);
      await assert.rejects(totals(shopA, A, '0'), /n must be from 1 to 500/);
      await assert.rejects(totals(shopA, A, "3, false, 'profit'"), /by must be 'units' or 'revenue'/);
    });

    test('a year or two: the monthly rollup answers exactly as the days, through edits, deletions, a new month and an older one', async () => {
      const shopC = randomUUID();
      const want = async (from, to, bottom) => lines(await psql(`
        SELECT row_number() OVER (ORDER BY k ${bottom ? '' : 'DESC'}, product_id) || '|' || product_id || '|' || u || '|' || r
        FROM (SELECT p.product_id, coalesce(sum(d.units), 0) AS u, coalesce(sum(d.revenue)::numeric(20, 6)::text, '0') AS r,
          coalesce(sum(d.units), 0) AS k
          FROM products p LEFT JOIN product_sales_daily d ON d.shop_id = p.shop_id AND d.product_id = p.product_id
            AND d.day BETWEEN '${from}' AND '${to}'
          WHERE p.shop_id = '${shopC}' GROUP BY p.product_id) t
        ${bottom ? '' : "WHERE (u, r::numeric) <> (0, 0)"} ORDER BY 1`));
      const got = async (from, to, bottom) => lines(await psql(`SELECT rank, product_id, units, revenue FROM
        reboss_product_sales_totals('${shopC}', '${from}', '${to}', 500, ${bottom})`, A));
      const ranges = [['2025-01-01', '2026-11-30'], ['2025-02-15', '2026-10-10'], ['2025-03-01', '2025-08-31'],
        ['2025-06-10', '2025-06-20'], ['2024-12-01', '2026-12-03'], ['2025-01-31', '2026-12-01']];
      const check = async (when) => {
        for (const [from, to] of ranges)
          for (const bottom of [false, true])
            assert.deepEqual(await got(from, to, bottom), await want(from, to, bottom),
              `${when}: ${from}..${to}${bottom ? ' bottom' : ''}`);
      };
      await psql(`
        INSERT INTO shops (id, user_id, shop_domain, iana_timezone) VALUES ('${shopC}', '${A}', 'dash-charlie.myshopify.com', 'UTC');
        INSERT INTO products (shop_id, product_id, title, handle, status)
          SELECT '${shopC}', g, 'P' || g, 'p' || g, 'ACTIVE' FROM generate_series(1, 9) g;
        INSERT INTO product_sales_daily (shop_id, product_id, day, units, revenue, orders)
          SELECT '${shopC}', p, d::date, 1 + (p * extract(doy FROM d)::int) % 4, (p * 1.25)::numeric, 1
          FROM generate_series(1, 6) p, generate_series(date '2025-01-05', date '2026-11-20', interval '1 day') d
          WHERE (extract(doy FROM d)::int + p) % (p + 2) = 0;`);
      assert.ok(Number((await psql(`SELECT count(*) FROM product_sales_monthly WHERE shop_id = '${shopC}'`)).trim()) > 100);
      await check('filled');
      await psql(`
        UPDATE product_sales_daily SET units = units + 5, revenue = revenue + 1
          WHERE shop_id = '${shopC}' AND product_id = 2 AND day BETWEEN '2025-05-01' AND '2025-05-31';
        DELETE FROM product_sales_daily WHERE shop_id = '${shopC}' AND product_id = 3 AND day >= '2025-09-01' AND day < '2025-10-01';
        INSERT INTO product_sales_daily (shop_id, product_id, day, units, revenue, orders)
          VALUES ('${shopC}', 7, '2026-12-02', 9, 90, 1), ('${shopC}', 8, '2024-12-15', 4, 40, 1);`);
      await check('edited, deleted, a new last month and an older first one');
      assert.deepEqual(await got('2025-01-01', '2026-11-30', false).then((x) => x.length), 6, 'product 7 sold after, 8 before');
      assert.equal((await psql(`SELECT count(*) FROM product_sales_monthly WHERE shop_id = '${shopC}'`, B)).trim(), '0',
        'another user reads none of the rollup');
      await psql(`DELETE FROM shops WHERE id = '${shopC}'`);
    });

    test('per-product totals through the sales writer: as the days say, over mid-month ends and new years, after a refund and a correction', async () => {
      // Written as sales_tracker writes (reboss_sales_store_orders: ledger,
      // then product_sales_daily, whose triggers keep the rollup); the
      // expected answer is the plain sum of product_sales_daily over the
      // range, as 015's function computed it: top n lists every product
      // with a row in the range, bottom n every product still in Shopify.
      const shopD = randomUUID();
      const day = (i) => new Date(Date.UTC(2024, 10, 20) + i * 86400000).toISOString().slice(0, 10);
      const rows = [];
      for (let i = 0; i < 100; i++)
        rows.push({ order_id: 5000 + i, product_id: 1 + (i * 3) % 7, day: day(i * 7 + (i % 5)),
          units: 1 + (i % 3), revenue: String((1 + (i % 3)) * (2.5 + (i % 7))) });
      rows.push({ order_id: 9001, product_id: 8, day: '2025-07-14', units: 2, revenue: '30.5' });
      const store = (ids, r) => psql(`SELECT reboss_sales_store_orders('${shopD}', '${JSON.stringify(ids)}', '${JSON.stringify(r)}')`);
      await psql(`
        INSERT INTO shops (id, user_id, shop_domain, iana_timezone) VALUES ('${shopD}', '${A}', 'dash-delta.myshopify.com', 'Pacific/Auckland');
        INSERT INTO products (shop_id, product_id, title, handle, status)
          SELECT '${shopD}', g, 'D' || g, 'd' || g, 'ACTIVE' FROM generate_series(1, 9) g;`);
      await store(rows.map((r) => r.order_id), rows);
      const want = async (from, to, bottom, by) => {
        const k = by === 'revenue' ? 'r' : 'u';
        const sums = `SELECT d.product_id, sum(d.units) AS u, sum(d.revenue) AS r, sum(d.orders) AS o
          FROM product_sales_daily d WHERE d.shop_id = '${shopD}' AND d.day BETWEEN '${from}' AND '${to}' GROUP BY 1`;
        return lines(await psql(bottom
          ? `SELECT row_number() OVER (ORDER BY coalesce(s.${k}, 0), p.product_id) || '|' || p.product_id || '|' ||
               coalesce(s.u, 0) || '|' || coalesce(s.r, 0) || '|' || coalesce(s.o, 0)
             FROM products p LEFT JOIN (${sums}) s ON s.product_id = p.product_id
             WHERE p.shop_id = '${shopD}' AND p.deleted_at IS NULL ORDER BY 1`
          : `SELECT row_number() OVER (ORDER BY s.${k} DESC, s.product_id) || '|' || s.product_id || '|' ||
               s.u || '|' || s.r || '|' || s.o FROM (${sums}) s ORDER BY 1`));
      };
      const got = async (from, to, bottom, by) => lines(await psql(`SELECT rank, product_id, units, revenue, orders FROM
        reboss_product_sales_totals('${shopD}', '${from}', '${to}', 500, ${bottom}, '${by}')`, A));
      const ranges = [['2025-01-17', '2026-02-11'], ['2024-12-31', '2025-12-31'], ['2025-06-30', '2026-06-01'],
        ['2025-07-02', '2025-10-29'], ['2024-11-25', '2026-11-24'], ['2025-12-16', '2026-01-15'], ['2025-07-14', '2026-07-13']];
      const check = async (when) => {
        for (const [from, to] of ranges)
          for (const bottom of [false, true])
            for (const by of ['units', 'revenue'])
              assert.deepEqual(await got(from, to, bottom, by), await want(from, to, bottom, by),
                `${when}: ${from}..${to}${bottom ? ' bottom' : ''} by ${by}`);
      };
      await check('stored');
      // Product 8's only order refunded in full (currentQuantity 0): its
      // day keeps a row of zeros, and product 8 stays listed with zeros.
      // Order 5010 corrected: fewer units, less revenue on its day.
      const o10 = rows.find((r) => r.order_id === 5010);
      await store([9001, 5010], [{ order_id: 9001, product_id: 8, day: '2025-07-14', units: 0, revenue: '0' },
        { ...o10, units: 1, revenue: '0.75' }]);
      assert.equal((await psql(`SELECT units || '|' || revenue || '|' || orders FROM product_sales_daily
        WHERE shop_id = '${shopD}' AND product_id = 8`)).trim(), '0|0.000000|0');
      await check('refunded and corrected');
      assert.ok((await got('2025-01-17', '2026-02-11', false, 'units')).some((l) => /^[0-9]+\|8\|0\|0\.000000\|0$/.test(l)),
        'the refunded product is listed, last, with zeros');
      await psql(`DELETE FROM shops WHERE id = '${shopD}'`);
    });

    test("a product's daily series", async () => {
      assert.deepEqual(await psql(`SELECT * FROM reboss_product_sales_series('${shopB}', 2,
        '2026-11-01', '2026-11-03')`, B).then(lines),
      ['2026-11-01|10|30.000000|1', '2026-11-02|0|0|0', '2026-11-03|40|80.000000|1']);
    });

    test("another user's shop gives no rows at all; a bad range is refused by name", async () => {
      assert.deepEqual(await daily(shopA, B), []);
      assert.deepEqual(await daily(shopB, A), []);
      assert.equal((await psql(`SELECT count(*) FROM reboss_product_sales_totals('${shopB}', NULL, NULL, 5, true)`, A)).trim(), '0');
      assert.equal((await psql(`SELECT count(*) FROM reboss_product_sales_series('${shopA}', 1)`, B)).trim(), '0');
      assert.equal((await psql('SELECT count(*) FROM shop_sales_daily', A)).trim(), '3');
      assert.equal((await psql(`SELECT count(*) FROM shop_sales_daily WHERE shop_id = '${shopA}'`, B)).trim(), '0');
      await assert.rejects(psql(`SELECT * FROM reboss_shop_sales_daily('${shopA}', '2026-11-05', '2026-11-01')`, A),
        /the range starts \(2026-11-05\) after it ends/);
      await assert.rejects(psql(`SELECT * FROM reboss_shop_sales_daily('${shopA}', '2020-01-01', '2026-11-01')`, A),
        /longer than 1100 days/);
    });

    test('an open range is the last 30 days up to today in the shop\'s zone', async () => {
      const today = (zone) => psql(`SELECT (now() AT TIME ZONE '${zone}')::date`).then((s) => s.trim());
      const got = await psql(`SELECT min(day), max(day), count(*) FROM reboss_shop_sales_daily('${shopA}')`, A);
      const [lo, hi, n] = got.trim().split('|');
      assert.equal(hi, await today('Europe/Berlin'));
      assert.equal(n, '30');
      assert.ok(lo < hi);
      const gotB = (await psql(`SELECT max(day) FROM reboss_shop_sales_daily('${shopB}')`, B)).trim();
      assert.equal(gotB, await today('America/New_York'));
    });

    test('anon may not call the analytics', async () => {
      await assert.rejects(stack.pg.psql(`SELECT * FROM reboss_shop_sales_daily('${shopA}')`, { role: 'anon' }),
        /permission denied/);
    });
  });

  describe('AutomationRoi', () => {
    before(async () => {
      await psql(`
        INSERT INTO created_products (shop_id, product_id, handle, created_at)
          VALUES ('${shopA}', 2, 'two', '2026-11-01T10:00:00Z');
        INSERT INTO product_optimizations (shop_id, product_id, status, fields, before, after, model,
            prompt_tokens, completion_tokens, total_tokens, created_at, applied_at)
          VALUES ('${shopA}', 1, 'applied', '{title}', '{}', '{"title": "New"}', 'gpt-4.1-mini',
            100, 50, 150, '2026-11-02T12:00:00Z', '2026-11-02T12:00:00Z'),
            ('${shopA}', 3, 'failed', '{title}', '{}', NULL, 'gpt-test',
            10, 0, 10, '2026-11-03T12:00:00Z', NULL);
        INSERT INTO replace_decisions (shop_id, product_id, as_of, phase, window_start, window_end,
            units, verdict, reason, action, outcome, decided_at)
          VALUES ('${shopA}', 2, '2026-11-20T04:00:00Z', 'post', '2026-11-01', '2026-11-03', 5,
            'retire', 'below_post_min', 'draft', 'done', '2026-11-20T04:00:00Z');
        INSERT INTO pinterest_pins (shop_id, product_id, collection_id, board_id, pin_id, link, state, pinned_at)
          VALUES ('${shopA}', 3, 7, '123', '456', 'https://x/3', 'pinned', '2026-11-05T09:00:00Z');
      `);
    });
    const roi = (shop, who) => psql(`SELECT * FROM reboss_automation_roi('${shop}', '2026-11-01', '2026-11-30')`, who).then(lines);

    test('what each job did and the sales that followed, for the owner only', async () => {
      assert.deepEqual(await roi(shopA, A), [
        'product_creation|created|1|||5|11.000000',
        'product_optimize|rewritten|1|2|10.000000|0|0',
        'replace_job|retired|1|5|11.000000||',
        'pinterest_sync|pinned|1||||',
      ]);
      assert.deepEqual(await roi(shopB, B), [
        'product_creation|created|0|||0|0',
        'product_optimize|rewritten|0|0|0|0|0',
        'replace_job|retired|0|0|0||',
        'pinterest_sync|pinned|0||||',
      ]);
      assert.deepEqual(await roi(shopA, B), []);
      assert.deepEqual(await roi(shopB, A), []);
    });

    test('OpenAI tokens per model, for the owner only', async () => {
      const usage = (shop, who) => psql(`SELECT * FROM reboss_openai_usage('${shop}', '2026-11-01', '2026-11-30')`, who).then(lines);
      assert.deepEqual(await usage(shopA, A), ['gpt-4.1-mini|1|100|50|150', 'gpt-test|1|10|0|10']);
      assert.deepEqual(await usage(shopA, B), []);
      assert.deepEqual(await usage(shopB, B), []);
    });

    test('GET /api/shops/{id}/roi: the same numbers, and what the tokens cost by the operator\'s price table', async () => {
      const r = await stack.curl(`/api/shops/${shopA}/roi?from=2026-11-01&to=2026-11-30`, { token: tokA });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.from, '2026-11-01');
      assert.equal(r.json.to, '2026-11-30');
      assert.deepEqual(r.json.jobs.map((j) => [j.job_type, j.products, j.units_before, j.units_after]), [
        ['product_creation', 1, null, 5], ['product_optimize', 1, 2, 0],
        ['replace_job', 1, 5, null], ['pinterest_sync', 1, null, null]]);
      assert.equal(r.json.jobs[0].revenue_after, 11);
      const [mini, unknown] = r.json.openai.models;
      assert.equal(mini.model, 'gpt-4.1-mini');
      // default table: 0.40 USD per million input, 1.60 per million output
      assert.ok(Math.abs(mini.cost_usd - (100 * 0.40 + 50 * 1.60) / 1e6) < 1e-12, String(mini.cost_usd));
      assert.equal(unknown.model, 'gpt-test');
      assert.equal(unknown.cost_usd, null);
      assert.deepEqual(r.json.openai.unpriced_models, ['gpt-test']);
      assert.equal(r.json.openai.total_tokens, 160);
      assert.ok(Math.abs(r.json.openai.cost_usd - mini.cost_usd) < 1e-12);
      const b = await stack.curl(`/api/shops/${shopB}/roi?from=2026-11-01&to=2026-11-30`, { token: tokB });
      assert.equal(b.status, 200, b.body);
      assert.deepEqual(b.json.jobs.map((j) => j.products), [0, 0, 0, 0]);
      assert.deepEqual(b.json.openai.models, []);
    });

    test('GET /api/shops/{id}/roi: another user\'s shop is 404, a bad range 400 naming it', async () => {
      const x = await stack.curl(`/api/shops/${shopA}/roi`, { token: tokB });
      assert.equal(x.status, 404, x.body);
      assert.equal(x.json.code, 'shop_not_found');
      for (const [q, re] of [['from=2026-11-30&to=2026-11-01', /starts \(2026-11-30\) after it ends/],
        ['from=2026-13-01', /from\/to/], ['to=yesterday', /'to' must be a date written YYYY-MM-DD/]]) {
        const r = await stack.curl(`/api/shops/${shopA}/roi?${q}`, { token: tokA });
        assert.equal(r.status, 400, r.body);
        assert.equal(r.json.code, 'invalid_range');
        assert.match(r.json.error, re);
      }
    });
  });
});
