// rls.test.mjs - row-level security and column privileges of sql/*.sql, as
// the dashboard meets them through Supabase: role authenticated with the
// user's JWT claims in request.jwt.claims, or role anon.
//
// The migrations are applied with psql directly (in order, each in one
// transaction), so this suite checks the SQL independently of rebossctl.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sqlDir = path.resolve(here, '..', '..', 'sql');

const A = randomUUID();
const B = randomUUID();
const shopA = randomUUID();
const shopA2 = randomUUID();
const shopB = randomUUID();
const runId = randomUUID();

const asUser = (sub) => ({ role: 'authenticated', claims: { sub, role: 'authenticated' } });
const rows = (out) => out.split('\n').filter((l) => l !== '').sort();

describe('row-level security', () => {
  let pg;

  before(async () => {
    pg = await startPostgres();
    const files = (await fs.readdir(sqlDir)).filter((f) => /^[0-9]{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
    assert.ok(files.length >= 1);
    for (const f of files) {
      const text = await fs.readFile(path.join(sqlDir, f), 'utf8');
      await pg.psql(`BEGIN;\n${text}\nCOMMIT;`);
    }
    // As the owner (the backend), which RLS does not restrict.
    await pg.psql(`
      INSERT INTO shops (id, user_id, shop_domain, shop_name, access_token) VALUES
        ('${shopA}', '${A}', 'alpha.myshopify.com', 'Alpha', 'rbs1:sealed-a'),
        ('${shopA2}', '${A}', 'alpha-two.myshopify.com', 'Alpha 2', NULL),
        ('${shopB}', '${B}', 'bravo.myshopify.com', 'Bravo', 'rbs1:sealed-b');
      INSERT INTO job_runs (id, job_type, status, shops_processed, shops_failed, error_log)
        VALUES ('${runId}', 'sales_tracker', 'completed_with_errors', 2, 1,
          '[{"shop_id": "${shopB}", "error": "Shopify answered 401"}]');
      INSERT INTO shop_job_status (shop_id, job_type, last_status, run_id) VALUES
        ('${shopA}', 'sales_tracker', 'success', '${runId}'),
        ('${shopB}', 'sales_tracker', 'failed', '${runId}');
      INSERT INTO sales_cursors (shop_id, orders_cursor, complete_through, orders_access) VALUES
        ('${shopA}', now(), '2026-12-02', 'last_60_days'), ('${shopB}', now(), '2026-12-03', 'all');
    `);
  });

  after(async () => {
    await pg?.destroy();
  });

  test('the owner sees every row (the test data is there)', async () => {
    assert.equal((await pg.psql('SELECT count(*) FROM shops')).trim(), '3');
    assert.equal((await pg.psql('SELECT count(*) FROM shop_job_status')).trim(), '2');
  });

  test("a user sees only their own shops", async () => {
    const out = await pg.psql('SELECT shop_domain FROM shops', asUser(A));
    assert.deepEqual(rows(out), ['alpha-two.myshopify.com', 'alpha.myshopify.com']);
    const outB = await pg.psql('SELECT shop_domain FROM shops', asUser(B));
    assert.deepEqual(rows(outB), ['bravo.myshopify.com']);
    assert.equal((await pg.psql(`SELECT count(*) FROM shops WHERE id = '${shopB}'`, asUser(A))).trim(), '0');
  });

  test('without a sub claim a signed-in role sees no shop', async () => {
    assert.equal((await pg.psql('SELECT count(*) FROM shops', { role: 'authenticated' })).trim(), '0');
  });

  test('access_token is never readable, not even the own one', async () => {
    await assert.rejects(pg.psql('SELECT access_token FROM shops', asUser(A)),
      /permission denied for table shops/);
    await assert.rejects(pg.psql('SELECT * FROM shops', asUser(A)), /permission denied/);
    await assert.rejects(pg.psql(
      `UPDATE shops SET shop_name = 'x' WHERE id = '${shopA}' RETURNING access_token`, asUser(A)),
    /permission denied/);
  });

  test('a user may rename their own shop, and read its connection (never a credential)', async () => {
    const out = await pg.psql(
      `UPDATE shops SET shop_name = 'Alpha!' WHERE id = '${shopA}' RETURNING id`, asUser(A));
    assert.equal(out.trim(), shopA);
    assert.equal((await pg.psql(`SELECT shop_name FROM shops WHERE id = '${shopA}'`)).trim(), 'Alpha!');
    assert.equal((await pg.psql(
      `SELECT connection_status, auth_method, connection_reason IS NULL FROM shops WHERE id = '${shopA}'`,
      asUser(A))).trim(), 'connected|legacy_token|t');
    for (const col of ['access_token', 'refresh_token', 'shopify_client_secret']) {
      await assert.rejects(pg.psql(`SELECT ${col} FROM shops`, asUser(A)),
        /permission denied for table shops/, col);
    }
  });

  // The back door (issue 14): the dashboard's role cannot write a token, a
  // secret, a status or a domain, not even of its own shop.  Before 017 the
  // role could set access_token and connection_status on its own row.
  test('a user cannot write tokens, secrets, statuses or domains of their own shop', async () => {
    const writes = {
      access_token: "'shpat_new'",
      refresh_token: "'rbs1:x'",
      shopify_client_secret: "'rbs1:x'",
      shopify_client_id: "'x'",
      auth_method: "'client_credentials'",
      connection_status: "'connected'",
      connection_reason: "NULL",
      access_expires_at: 'now()',
      granted_scopes: "'write_products'",
      shop_domain: "'elsewhere.myshopify.com'",
    };
    for (const [col, val] of Object.entries(writes)) {
      await assert.rejects(pg.psql(`UPDATE shops SET ${col} = ${val} WHERE id = '${shopA}'`, asUser(A)),
        /permission denied for table shops/, col);
    }
    assert.equal((await pg.psql(`SELECT access_token, connection_status, shop_domain FROM shops WHERE id = '${shopA}'`)).trim(),
      'rbs1:sealed-a|connected|alpha.myshopify.com');
  });

  test("a user cannot update another user's shop", async () => {
    const out = await pg.psql(
      `UPDATE shops SET shop_name = 'hijacked' WHERE id = '${shopB}' RETURNING id`,
      asUser(A));
    assert.equal(out.trim(), '');
    assert.equal((await pg.psql(`SELECT shop_name, access_token FROM shops WHERE id = '${shopB}'`)).trim(),
      'Bravo|rbs1:sealed-b');
  });

  test('a user cannot move their shop to another user', async () => {
    // user_id is not updatable at all; and the policy's WITH CHECK holds too.
    await assert.rejects(pg.psql(
      `UPDATE shops SET user_id = '${B}' WHERE id = '${shopA2}'`, asUser(A)), /permission denied/);
  });

  // Before 017 a user could insert a shop with any domain and a made-up
  // token: the real owner then got 409 shop_taken and the jobs took it up.
  test('a user cannot insert a shop, not for another user nor for themselves', async () => {
    await assert.rejects(pg.psql(
      `INSERT INTO shops (user_id, shop_domain, access_token) VALUES ('${B}', 'evil.myshopify.com', 'shpat_x')`,
      asUser(A)), /permission denied for table shops/);
    await assert.rejects(pg.psql(
      `INSERT INTO shops (user_id, shop_domain) VALUES ('${A}', 'alpha-three.myshopify.com')`,
      asUser(A)), /permission denied for table shops/);
    assert.equal((await pg.psql(
      "SELECT count(*) FROM shops WHERE shop_domain IN ('alpha-three.myshopify.com', 'evil.myshopify.com')")).trim(), '0');
  });

  test("a user cannot delete another user's shop", async () => {
    const out = await pg.psql(`DELETE FROM shops WHERE id = '${shopB}' RETURNING id`, asUser(A));
    assert.equal(out.trim(), '');
    assert.equal((await pg.psql(`SELECT count(*) FROM shops WHERE id = '${shopB}'`)).trim(), '1');
  });

  test('shop_job_status: only the own shops, read-only', async () => {
    const out = await pg.psql('SELECT shop_id FROM shop_job_status', asUser(A));
    assert.deepEqual(rows(out), [shopA]);
    assert.deepEqual(rows(await pg.psql('SELECT shop_id FROM shop_job_status', asUser(B))), [shopB]);
    await assert.rejects(pg.psql(
      `UPDATE shop_job_status SET last_status = 'success' WHERE shop_id = '${shopA}'`, asUser(A)),
    /permission denied/);
    await assert.rejects(pg.psql(
      `INSERT INTO shop_job_status (shop_id, job_type) VALUES ('${shopA}', 'replace_job')`, asUser(A)),
    /permission denied/);
  });

  test('sales_cursors: how far the own sales are known, never the cursor, read-only', async () => {
    const q = 'SELECT shop_id, complete_through, orders_access FROM sales_cursors';
    assert.deepEqual(rows(await pg.psql(q, asUser(A))), [`${shopA}|2026-12-02|last_60_days`]);
    assert.deepEqual(rows(await pg.psql(q, asUser(B))), [`${shopB}|2026-12-03|all`]);
    await assert.rejects(pg.psql('SELECT orders_cursor FROM sales_cursors', asUser(A)), /permission denied/);
    await assert.rejects(pg.psql(`UPDATE sales_cursors SET complete_through = '2030-01-01'`, asUser(A)),
      /permission denied/);
    await assert.rejects(pg.psql(q, { role: 'anon', claims: { role: 'anon' } }), /permission denied/);
  });

  test('job_runs: counts readable, error_log not', async () => {
    assert.equal((await pg.psql(
      `SELECT status, shops_processed, shops_failed FROM job_runs WHERE id = '${runId}'`, asUser(A))).trim(),
    'completed_with_errors|2|1');
    await assert.rejects(pg.psql('SELECT error_log FROM job_runs', asUser(A)),
      /permission denied for table job_runs/);
    await assert.rejects(pg.psql('SELECT * FROM job_runs', asUser(A)), /permission denied/);
    await assert.rejects(pg.psql(`UPDATE job_runs SET status = 'failed'`, asUser(A)), /permission denied/);
  });

  test('anon gets nothing', async () => {
    for (const t of ['shops', 'job_runs', 'shop_job_status', 'reboss_migrations']) {
      // reboss_migrations exists only after rebossctl migrate
      const exists = (await pg.psql(`SELECT to_regclass('public.${t}') IS NOT NULL`)).trim() === 't';
      if (!exists) continue;
      await assert.rejects(pg.psql(`SELECT count(*) FROM ${t}`, { role: 'anon', claims: { role: 'anon' } }),
        /permission denied/, t);
    }
    await assert.rejects(pg.psql(
      `INSERT INTO shops (user_id, shop_domain) VALUES ('${A}', 'anon.myshopify.com')`, { role: 'anon' }),
    /permission denied/);
  });

  test('RLS is enabled on every table in public', async () => {
    const out = await pg.psql(
      "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace " +
      "AND relkind = 'r' AND NOT relrowsecurity");
    assert.equal(out.trim(), '', `tables without RLS: ${out.trim()}`);
  });
});
