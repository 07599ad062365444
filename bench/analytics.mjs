// bench/analytics.mjs - the dashboard's analytics functions (sql/015_dashboard.sql,
// issue 18) on one big shop.  Not a test: it asserts nothing about time; it
// prints a table and writes JSON (bench/results/analytics.json, or in
// $BENCH_OUT_DIR).
//
// The shop: BENCH_PRODUCTS products (50,000) and BENCH_DAYS days (730, two
// years) of sales, BENCH_LINES_PER_DAY order lines a day (1,000: orders of
// one to three products, products drawn with a skew so that a few sell
// much and most rarely), written to order_lines_ledger (whose triggers keep
// shop_sales_daily) and summed into product_sales_daily as sales_tracker
// would.  A second user's shop of the same size sits in the same tables, so
// row-level security has something to filter.  Every query runs as the
// dashboard does: role authenticated, the owner's claims in
// request.jwt.claims, through psql's \timing (the server's answer as the
// client sees it, over the unix socket).  Each query runs BENCH_REPEAT (7)
// times after one warm-up; the table shows the median and the best.
//
//   node bench/analytics.mjs       (from the source tree; tests/node_modules
//                                   is not needed)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startPostgres } from '../tests/integration/lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sqlDir = path.resolve(here, '..', 'sql');
const outDir = process.env.BENCH_OUT_DIR || path.join(here, 'results');
const PRODUCTS = Number(process.env.BENCH_PRODUCTS || 50000);
const DAYS = Number(process.env.BENCH_DAYS || 730);
const LINES = Number(process.env.BENCH_LINES_PER_DAY || 1000);
const REPEAT = Number(process.env.BENCH_REPEAT || 7);

const owner = randomUUID();
const other = randomUUID();
const shop = randomUUID();
const otherShop = randomUUID();
const END = '2026-12-03';

// psql through the socket, as the given role; returns stdout.
function psqlRaw(pg, sql) {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
      '-h', pg.socketDir ?? pg.host, '-p', String(pg.port), '-U', pg.user, pg.dbname],
    { env: { ...process.env, PGPASSWORD: pg.password }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err || `psql ${code}`))));
    p.stdin.end(sql);
  });
}

async function fill(pg, id, user, domain) {
  await pg.psql(`
    INSERT INTO shops (id, user_id, shop_domain, iana_timezone)
      VALUES ('${id}', '${user}', '${domain}', 'America/New_York');
    INSERT INTO products (shop_id, product_id, title, handle, status, shopify_created_at)
      SELECT '${id}', g, 'Product ' || g, 'product-' || g, 'ACTIVE',
        date '${END}' - ${DAYS} + (g % 30)
      FROM generate_series(1, ${PRODUCTS}) g;
    -- Line i of day d belongs to order d*100000 + i/2 (about 2 lines an
    -- order); the product is skewed: (random^3) puts most lines on few
    -- products.  A repeated (order, product) is one line.
    INSERT INTO order_lines_ledger (shop_id, order_id, product_id, day, units, revenue)
      SELECT '${id}', d * 100000 + i / 2 + 1,
        1 + floor(power(random(), 3) * ${PRODUCTS})::bigint,
        date '${END}' - d, 1 + (i % 3), (19.99 * (1 + (i % 3)))::numeric(20, 6)
      FROM generate_series(0, ${DAYS - 1}) d, generate_series(0, ${LINES - 1}) i
      ON CONFLICT DO NOTHING;
    INSERT INTO product_sales_daily (shop_id, product_id, day, units, revenue, orders)
      SELECT shop_id, product_id, day, sum(units), sum(revenue), count(*)
      FROM order_lines_ledger WHERE shop_id = '${id}'
      GROUP BY shop_id, product_id, day;
  `);
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

async function timeQuery(pg, sql) {
  const claims = JSON.stringify({ sub: owner, role: 'authenticated' });
  const script = `SET ROLE authenticated;\nSET request.jwt.claims = '${claims}';\n` +
    '\\o /dev/null\n' + `${sql};\n` + '\\timing on\n' +
    Array.from({ length: REPEAT }, () => `${sql};\n`).join('');
  const out = await psqlRaw(pg, script);
  const ms = [...out.matchAll(/Time: ([0-9.]+) ms/g)].map((m) => Number(m[1]));
  if (ms.length !== REPEAT) throw new Error(`expected ${REPEAT} timings, got: ${out.slice(0, 500)}`);
  return ms;
}

async function main() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-bench-an-'));
  await fs.chmod(dir, 0o711);
  const pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
  try {
    const files = (await fs.readdir(sqlDir)).filter((f) => /^[0-9]{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
    for (const f of files)
      await pg.psql(`BEGIN;\n${await fs.readFile(path.join(sqlDir, f), 'utf8')}\nCOMMIT;`);
    const t0 = Date.now();
    await fill(pg, shop, owner, 'bench-owner.myshopify.com');
    await fill(pg, otherShop, other, 'bench-other.myshopify.com');
    await pg.psql('VACUUM ANALYZE');
    const fillS = (Date.now() - t0) / 1000;
    const counts = (await pg.psql(`SELECT (SELECT count(*) FROM products WHERE shop_id = '${shop}'),
      (SELECT count(*) FROM product_sales_daily WHERE shop_id = '${shop}'),
      (SELECT count(*) FROM order_lines_ledger WHERE shop_id = '${shop}'),
      (SELECT count(*) FROM shop_sales_daily WHERE shop_id = '${shop}')`)).trim().split('|').map(Number);
    const [top] = (await pg.psql(`SELECT product_id FROM product_sales_daily WHERE shop_id = '${shop}'
      GROUP BY 1 ORDER BY sum(units) DESC LIMIT 1`)).trim().split('\n');
    const from = (days) => `date '${END}' - ${days - 1}`;
    const cases = [];
    for (const days of [30, 365, DAYS]) {
      cases.push([`shop daily, ${days} days`, `SELECT * FROM reboss_shop_sales_daily('${shop}', ${from(days)}, '${END}')`]);
      cases.push([`top 20 products, ${days} days`, `SELECT * FROM reboss_product_sales_totals('${shop}', ${from(days)}, '${END}', 20)`]);
      cases.push([`bottom 20 products, ${days} days`, `SELECT * FROM reboss_product_sales_totals('${shop}', ${from(days)}, '${END}', 20, true)`]);
      cases.push([`product series, ${days} days`, `SELECT * FROM reboss_product_sales_series('${shop}', ${top}, ${from(days)}, '${END}')`]);
    }
    cases.push([`top 20 by revenue, ${DAYS} days`, `SELECT * FROM reboss_product_sales_totals('${shop}', ${from(DAYS)}, '${END}', 20, false, 'revenue')`]);
    const results = [];
    for (const [name, sql] of cases) {
      const ms = await timeQuery(pg, sql);
      results.push({ name, median_ms: median(ms), best_ms: Math.min(...ms), runs_ms: ms });
    }
    const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`shop: ${counts[0]} products, ${counts[1]} product_sales_daily rows, ` +
      `${counts[2]} ledger lines, ${counts[3]} days (a second shop of the same size beside it); ` +
      `filled in ${fillS.toFixed(0)} s; load average ${load}`);
    console.log('| query | median ms | best ms |');
    console.log('|---|---:|---:|');
    for (const r of results) console.log(`| ${r.name} | ${r.median_ms.toFixed(1)} | ${r.best_ms.toFixed(1)} |`);
    await fs.mkdir(outDir, { recursive: true });
    await fs.writeFile(path.join(outDir, 'analytics.json'), JSON.stringify({
      products: counts[0], daily_rows: counts[1], ledger_lines: counts[2], days: counts[3],
      repeat: REPEAT, loadavg_after: load, cpus: os.cpus().length, results,
    }, null, 2) + '\n');
  } finally {
    await pg.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(2); });
