// limits.test.mjs - the owner's per-shop switches and limits (table
// shop_settings, sql/016_shop_settings.sql) under the operator's caps
// (reboss.conf max_*), obeyed by replace_job and product_creation against
// the fake Shopify (issue 18; pins: pinterest.test, tokens: optimize.test).
// Each limit is proven by counting what the job did, never by timing.
// Owned by "owner".
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/limits.test.mjs
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
  replace: path.join(buildDir, 'jobs', 'reboss-replace-job'),
  create: path.join(buildDir, 'jobs', 'reboss-product-creation'),
};
const DAY = 86400_000;
const T = Date.parse('2026-11-20T12:00:00Z');
const CLOCK = { REBOSS_TEST_CLOCK: '1' };
const asOf = ['--as-of', new Date(T).toISOString().replace(/\.\d{3}Z$/, 'Z')];
const TEMPLATE = { product_type: 'Poster', vendor: 'ReBoss Prints', status: 'ACTIVE', tags: ['pod'],
  options: [], variants: [{ options: [], price: '19.99' }] };

let pg; let fake; let tmp; let conf; let capped;
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

function run(prog, args, config = conf) {
  return new Promise((resolve) => {
    execFile(prog, ['--config', config, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...CLOCK }, timeout: 300_000,
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
const count = async (sql) => (await rows(`SELECT count(*)::int AS n FROM ${sql}`))[0].n;

// A shop with its catalog settings, `designs` queued designs, `dead` old
// products in its managed collection that sold nothing (sales complete
// through yesterday), and its shop_settings row (limits) if given.
async function addShop(name, { settings = {}, limits = null, designs = 0, dead = 0 } = {}) {
  const domain = `${name}.myshopify.com`;
  const token = `shpat_${randomBytes(12).toString('hex')}`;
  fake.addShop({ domain, token, ianaTimezone: 'UTC' });
  const col = fake.addCollection(domain, { title: 'Managed' });
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token, iana_timezone)
    VALUES ('${id}', gen_random_uuid(), ${q(domain)}, ${q(token)}, 'UTC');
    INSERT INTO public.catalog_settings (shop_id, managed_collection_ids, creation_template, allow_shrink,
      retire_action, post_days, post_min_sales, max_replacements, daily_creation_quota)
    VALUES ('${id}', ARRAY[${col.id}]::bigint[], ${q(JSON.stringify(TEMPLATE))}::jsonb, true, 'draft', 10, 1,
      ${settings.max_replacements ?? 10}, ${settings.daily_creation_quota ?? 0});
    INSERT INTO public.sales_cursors (shop_id, orders_cursor, complete_through)
    VALUES ('${id}', '2000-01-01Z', '2026-11-19');`);
  for (let i = 0; i < designs; i++) {
    await pg.psql(`INSERT INTO public.design_queue (shop_id, position, title, image_url, tags)
      VALUES ('${id}', ${i}, ${q(`Design ${name} ${i}`)}, 'https://cdn.example/d.png', '{design}')`);
  }
  const products = [];
  for (let i = 0; i < dead; i++) {
    products.push(fake.addProduct(domain, { title: `Dead ${i}`, collections: [col.id],
      publishedAt: new Date(T - 60 * DAY).toISOString() }));
  }
  if (limits) {
    const cols = Object.keys(limits);
    await pg.psql(`INSERT INTO public.shop_settings (shop_id, ${cols.join(', ')})
      VALUES ('${id}', ${cols.map((k) => String(limits[k])).join(', ')})`);
  }
  return { id, domain, col, products };
}
const created = (s) => count(`public.created_products WHERE shop_id = '${s.id}'`);
const retired = (s) => s.products.filter((p) => p.status === 'DRAFT').length;
const status = async (s, job) => (await rows(`SELECT last_status, last_error FROM public.shop_job_status
  WHERE shop_id = '${s.id}' AND job_type = '${job}'`))[0];
function assertClean() {
  assert.deepEqual(fake.validationErrors, [], 'every document is valid against 2026-10');
  assert.deepEqual(fake.deprecations, [], 'no deprecated field, argument or value');
}

describe('per-shop limits under the operator\'s caps', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-limits-'));
    pg = await startPostgres();
    fake = await createFakeShopify({ restoreRate: 20000, bucketSize: 2000 });
    fake.addResolvers({ Mutation: makeCatalogResolvers({ connection, gid, parseGid, isoNow }).Mutation });
    fake.clock = new Date(T);
    conf = path.join(tmp, 'reboss.conf');
    const base = [`database_url = ${pg.conninfo}`,
      `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
      `shopify_base_url = ${fake.baseUrlTemplate}`, ''].join('\n');
    await fs.writeFile(conf, base);
    // The same installation with tight operator caps.
    capped = path.join(tmp, 'capped.conf');
    await fs.writeFile(capped, `${base}max_creations_per_day = 1\nmax_retirements_per_run = 2\n`);
    const m = await run(bin.ctl, ['migrate', '--sql-dir', path.join(srcDir, 'sql')]);
    assert.equal(m.code, 0, `migrate: ${m.stdout}${m.stderr}`);
  });
  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('creations_per_day: the shop\'s limit holds across runs of the same day', async () => {
    const s = await addShop('lim-create', { settings: { daily_creation_quota: 5 }, designs: 5,
      limits: { creations_per_day: 2 } });
    let r = await run(bin.create, ['--shop', s.domain, ...asOf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await created(s), 2, 'two of five: the limit, not the quota');
    assert.match(r.stderr, /creations_per_day: 3 of 5 product\(s\) wait for tomorrow/);
    r = await run(bin.create, ['--shop', s.domain, ...asOf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await created(s), 2, 'a second run the same day makes none');
    assert.equal(await count(`public.design_queue WHERE shop_id = '${s.id}' AND status = 'pending'`), 3);
    // The owner is told, once a day however often the limit bites.
    assert.deepEqual(await rows(`SELECT cause, subject FROM public.notifications WHERE shop_id = '${s.id}'`),
      [{ cause: 'limit_reached', subject: 'creations_per_day' }]);
    assertClean();
  });

  test('creations_per_day: the operator\'s cap is the ceiling of every shop', async () => {
    const s = await addShop('lim-create-cap', { settings: { daily_creation_quota: 5 }, designs: 5,
      limits: { creations_per_day: 3 } });
    const r = await run(bin.create, ['--shop', s.domain, ...asOf], capped);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await created(s), 1, 'min(shop 3, operator 1)');
    const u = await addShop('lim-create-none', { settings: { daily_creation_quota: 5 }, designs: 5 });
    const r2 = await run(bin.create, ['--shop', u.domain, ...asOf], capped);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(await created(u), 1, 'a shop without limits gets the operator\'s cap');
  });

  test('retirements_per_run: fewer than max_replacements; the operator\'s cap too', async () => {
    const s = await addShop('lim-retire', { dead: 4, limits: { retirements_per_run: 1 } });
    let r = await run(bin.replace, ['--shop', s.domain, ...asOf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(retired(s), 1, 'one retirement: the shop\'s limit under max_replacements 10');
    assert.equal(await count(`public.replace_decisions WHERE shop_id = '${s.id}' AND reason = 'cap_reached'`), 3);
    assert.deepEqual(await rows(`SELECT cause, subject FROM public.notifications WHERE shop_id = '${s.id}'`),
      [{ cause: 'limit_reached', subject: 'retirements_per_run' }], 'three kept products, one notification');
    const c = await addShop('lim-retire-cap', { dead: 4, limits: { retirements_per_run: 3 } });
    r = await run(bin.replace, ['--shop', c.domain, ...asOf], capped);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(retired(c), 2, 'min(shop 3, operator 2)');
    const u = await addShop('lim-retire-own', { dead: 4, settings: { max_replacements: 1 },
      limits: { retirements_per_run: 3 } });
    r = await run(bin.replace, ['--shop', u.domain, ...asOf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(retired(u), 1, 'the rule\'s own max_replacements stays a bound');
    assertClean();
  });

  test('a job the owner turned off: the shop is skipped with the reason, Shopify untouched', async () => {
    const s = await addShop('lim-off', { settings: { daily_creation_quota: 2 }, designs: 2, dead: 2,
      limits: { product_creation_enabled: false, replace_job_enabled: false } });
    const before = fake.requests.length;
    for (const [prog, job] of [[bin.create, 'product_creation'], [bin.replace, 'replace_job']]) {
      const r = await run(prog, ['--shop', s.domain, ...asOf]);
      assert.equal(r.code, 0, r.stderr);
      const st = await status(s, job);
      assert.equal(st.last_status, 'skipped');
      assert.equal(st.last_error, `${job} is turned off for this shop (shop_settings.${job}_enabled)`);
    }
    assert.equal(fake.requests.slice(before).filter((x) => x.shop === s.domain).length, 0, 'no Shopify call');
    assert.equal(await created(s), 0);
    assert.equal(retired(s), 0);
    // Turned on again: it runs.
    await pg.psql(`UPDATE public.shop_settings SET product_creation_enabled = true WHERE shop_id = '${s.id}'`);
    const r = await run(bin.create, ['--shop', s.domain, ...asOf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status(s, 'product_creation')).last_status, 'success');
    assert.equal(await created(s), 2);
  });

  test('CHECK bounds: out-of-range limits are refused naming the column; the operator\'s cap is bounded too', async () => {
    const s = await addShop('lim-check');
    for (const [col, v] of [['creations_per_day', 251], ['creations_per_day', -1], ['retirements_per_run', 1001],
      ['pins_per_run', 1001], ['openai_tokens_per_day', 100000001]]) {
      await assert.rejects(pg.psql(`INSERT INTO public.shop_settings (shop_id, ${col}) VALUES ('${s.id}', ${v})`),
        new RegExp(`shop_settings_${col}_check`), `${col} = ${v}`);
    }
    const bad = path.join(tmp, 'bad.conf');
    await fs.writeFile(bad, `${await fs.readFile(conf, 'utf8')}max_creations_per_day = 251\n`);
    const r = await run(bin.ctl, ['check-config'], bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /max_creations_per_day.*from 0 to 250/);
  });

  test('row-level security: each owner reads and writes the settings of their own shops only', async () => {
    const [A, B] = [randomUUID(), randomUUID()];
    const [sa, sb] = [randomUUID(), randomUUID()];
    const as = (sub) => ({ role: 'authenticated', claims: { sub, role: 'authenticated' } });
    await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain) VALUES
      ('${sa}', '${A}', 'lim-rls-a.myshopify.com'), ('${sb}', '${B}', 'lim-rls-b.myshopify.com')`);
    await pg.psql(`INSERT INTO public.shop_settings (shop_id, pins_per_run) VALUES ('${sa}', 5)`, as(A));
    await pg.psql(`INSERT INTO public.shop_settings (shop_id, pins_per_run) VALUES ('${sb}', 7)`, as(B));
    await assert.rejects(pg.psql(`INSERT INTO public.shop_settings (shop_id) VALUES ('${sb}')`, as(A)),
      /row-level security/);
    assert.equal((await pg.psql('SELECT pins_per_run FROM public.shop_settings', as(A))).trim(), '5');
    await pg.psql(`UPDATE public.shop_settings SET pins_per_run = 0`, as(A));
    await pg.psql(`DELETE FROM public.shop_settings`, as(A));
    assert.equal((await pg.psql(`SELECT pins_per_run FROM public.shop_settings WHERE shop_id = '${sb}'`)).trim(), '7',
      'B\'s row untouched by A\'s blanket update and delete');
    assert.equal((await pg.psql(`SELECT count(*) FROM public.shop_settings WHERE shop_id = '${sa}'`)).trim(), '0');
  });
});
