// optimize.test.mjs - reboss-product-optimize and "rebossctl optimizations /
// rollback" against the fake Shopify, the fake OpenAI and a throwaway
// PostgreSQL (PRODUCT.md, Jobs 4).  Owned by product_optimize.
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/optimize.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createFakeOpenAI } from '../fakes/openai.mjs';
import { collectionProducts, createFakeShopify } from '../fakes/shopify.mjs';
import { productUpdateResolvers } from '../fakes/shopify_product_update.mjs';
import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const job = path.join(buildDir, 'jobs', 'reboss-product-optimize');
const AI_KEY = `sk-test-${randomBytes(12).toString('hex')}`;

let pg; let shopify; let ai; let tmp; let conf;
const shops = new Map(); // domain -> { id, products: [fake product] }

function exec(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, ['--config', conf, ...args], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', ...env }, timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}
const runJob = (args = []) => exec(job, args);
const ctl = (args) => exec(rebossctl, args);

async function rows(sql) {
  const out = (await pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

const copyOf = (p) => ({ title: p.title, descriptionHtml: p.descriptionHtml, tags: [...p.tags],
  seoTitle: p.seoTitle ?? null, seoDescription: p.seoDescription ?? null });

async function addShop(domain, nProducts, settings = {}) {
  const token = `shpat_${randomBytes(12).toString('hex')}`;
  shopify.addShop({ domain, token });
  const id = randomUUID();
  await pg.psql(`INSERT INTO public.shops (id, user_id, shop_domain, access_token)
    VALUES ('${id}', gen_random_uuid(), ${q(domain)}, ${q(token)})`);
  const products = [];
  for (let i = 0; i < nProducts; i++) {
    const p = shopify.addProduct(domain, { title: `Old title ${i} of ${domain.split('.')[0]}`,
      descriptionHtml: `<p>Old description ${i}</p>`, tags: [`old-${i}`, 'legacy'],
      seoTitle: `Old SEO ${i}`, seoDescription: `Old SEO description ${i}` });
    products.push(p);
    await pg.psql(`INSERT INTO public.products (shop_id, product_id, title, handle, status, shopify_created_at)
      VALUES ('${id}', ${p.id}, ${q(p.title)}, ${q(p.handle)}, 'ACTIVE', now() - interval '${i} minutes')`);
  }
  const s = { language: 'de', tone: 'warm', brand_words: '{Acme,Cozy}', products_per_run: 10,
    daily_token_budget: 1000000, ...settings };
  await pg.psql(`INSERT INTO public.pod_ai_settings (shop_id, language, tone, brand_words, products_per_run,
    daily_token_budget${s.fields ? ', fields' : ''}) VALUES ('${id}', ${q(s.language)}, ${q(s.tone)},
    ${q(s.brand_words)}, ${s.products_per_run}, ${s.daily_token_budget}${s.fields ? `, ${q(s.fields)}` : ''})`);
  const rec = { id, token, products, before: new Map(products.map((p) => [p.id, copyOf(p)])) };
  shops.set(domain, rec);
  return rec;
}

async function audit(domain) {
  return rows(`SELECT id, product_id, status, fields, before, after, model, prompt_tokens, completion_tokens,
    total_tokens, error, rolled_back_at FROM public.product_optimizations
    WHERE shop_id = '${shops.get(domain).id}' ORDER BY created_at, product_id`);
}

function answeredRequests() {
  return ai.requests.filter((r) => r.status === 200);
}

describe('reboss-product-optimize', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-optimize-'));
    pg = await startPostgres();
    shopify = await createFakeShopify({ restoreRate: 20000, bucketSize: 2000 });
    shopify.addResolvers(productUpdateResolvers);
    ai = await createFakeOpenAI({ key: AI_KEY });
    conf = path.join(tmp, 'reboss.conf');
    await fs.writeFile(conf, [`database_url = ${pg.conninfo}`,
      `token_key = ${randomBytes(32).toString('hex')}`, `jwt_secret = ${randomBytes(32).toString('hex')}`,
      `shopify_base_url = ${shopify.baseUrlTemplate}`, `openai_api_base = ${ai.baseUrl}`,
      `openai_api_key = ${AI_KEY}`, 'openai_model = gpt-4.1-mini', ''].join('\n'));
    const m = await ctl(['migrate', '--sql-dir', path.join(srcDir, 'sql')]);
    assert.equal(m.code, 0, `migrate: ${m.stdout}${m.stderr}`);
  });

  after(async () => {
    await ai?.close();
    await shopify?.close();
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('optimizes eligible products: Shopify holds the validated answers, audit rows exist', async () => {
    const d = 'opt-main.myshopify.com';
    const s = await addShop(d, 3);
    ai.reset();
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes(AI_KEY), 'the OpenAI key is never logged');
    const answered = answeredRequests();
    assert.equal(answered.length, 3, 'one call per product');
    assert.deepEqual(ai.invalidRequests, [], 'requests follow the OpenAPI schema');
    assert.deepEqual(ai.invalidResponses, []);
    const body = answered[0].body;
    assert.equal(body.response_format.type, 'json_schema');
    assert.equal(body.response_format.json_schema.strict, true);
    assert.deepEqual(body.response_format.json_schema.schema.required.sort(),
      ['description_html', 'seo_description', 'seo_title', 'tags', 'title']);
    assert.match(body.messages[0].content, /"de"/, 'language in the instructions');
    assert.match(body.messages[0].content, /Acme/, 'brand words in the instructions');
    const rowsA = await audit(d);
    assert.equal(rowsA.length, 3);
    for (const row of rowsA) {
      const p = s.products.find((x) => x.id === row.product_id);
      const req = answered.find((x) => JSON.parse(x.body.messages[1].content).product.title === s.before.get(p.id).title);
      assert.ok(req, `a request for product ${p.id}`);
      const a = req.answer;
      assert.equal(row.status, 'applied');
      assert.deepEqual(row.before, { title: s.before.get(p.id).title, description_html: s.before.get(p.id).descriptionHtml,
        tags: s.before.get(p.id).tags, seo_title: s.before.get(p.id).seoTitle,
        seo_description: s.before.get(p.id).seoDescription });
      // Tags are added to the product's own (manage_tags is off).
      const tags = [...s.before.get(p.id).tags, ...a.tags];
      assert.deepEqual(row.after, { ...a, tags }, 'after = the validated answer, tags merged');
      assert.equal(p.title, a.title);
      assert.equal(p.descriptionHtml, a.description_html);
      assert.deepEqual(p.tags, tags);
      assert.equal(p.seoTitle, a.seo_title);
      assert.equal(p.seoDescription, a.seo_description);
      assert.equal(row.model, 'gpt-4.1-mini-2025-04-14');
      assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.total_tokens],
        [req.usage.prompt_tokens, req.usage.completion_tokens, req.usage.total_tokens]);
    }
    // A second run finds nothing left to do.
    ai.reset();
    const r2 = await runJob(['--shop', d]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(ai.requests.length, 0, 'optimized products are not rewritten again');
  });

  // Issue 15.2: productUpdate replaces all tags, so the model's list alone
  // dropped the protect tag and moved products out of smart collections.
  test('owner\'s settings survive: protect tag, smart collections (tags and title rules), after optimize and rollback', async () => {
    const d = 'opt-owner.myshopify.com';
    const s = await addShop(d, 2);
    await pg.psql(`UPDATE public.pod_ai_settings SET manage_tags = true WHERE shop_id = '${s.id}'`);
    const [p, q2] = s.products;
    p.tags.push('reboss-keep', 'summer');
    q2.tags.push('sale');
    for (const x of s.products) s.before.set(x.id, copyOf(x));
    const smart = [
      shopify.addCollection(d, { title: 'Summer', type: 'smart',
        rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'summer' }] }),
      shopify.addCollection(d, { title: 'Full price', type: 'smart',
        rules: [{ column: 'TAG', relation: 'NOT_EQUALS', condition: 'Wall Art' }] }),
      shopify.addCollection(d, { title: 'Sale', type: 'smart',
        rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'sale' }] }),
      shopify.addCollection(d, { title: 'Old titles', type: 'smart',
        rules: [{ column: 'TITLE', relation: 'EQUALS', condition: 'old title 0 of opt-owner' }] }),
    ];
    const shop = shopify.getShop(d);
    const members = () => smart.map((c) => collectionProducts(shop, c).map((x) => x.id).sort());
    const before = members();
    assert.deepEqual(before.map((m) => m.length), [1, 2, 1, 1], 'every smart collection has members');
    ai.reset();
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(p.tags.includes('reboss-keep'), 'the protected product stays protected');
    assert.deepEqual(members(), before, 'every smart collection keeps its members after optimize');
    assert.ok(!p.tags.includes('Wall Art') && !q2.tags.includes('Wall Art'), 'a tag a rule tests is never added');
    assert.ok(p.tags.includes('Print on demand'), 'the model\'s other tags are added');
    assert.ok(!p.tags.includes('legacy'), 'manage_tags: the job may replace the owner\'s other tags');
    assert.equal(p.title, s.before.get(p.id).title, 'a title a rule tests is kept');
    assert.notEqual(q2.title, s.before.get(q2.id).title, 'a title no rule tests is rewritten');
    assert.match(r.stderr, /title not rewritten, a smart collection's title rule/);
    for (const row of await audit(d)) {
      const rb = await ctl(['rollback', row.id]);
      assert.equal(rb.code, 0, rb.stderr);
    }
    for (const x of s.products) assert.deepEqual(copyOf(x), s.before.get(x.id), 'rollback restores the exact copy');
    assert.deepEqual(members(), before, 'every smart collection keeps its members after rollback');
  });

  test('only the fields the settings name are rewritten', async () => {
    const d = 'opt-fields.myshopify.com';
    const s = await addShop(d, 1, { fields: '{title,seo_title}' });
    ai.reset();
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    const req = answeredRequests()[0];
    assert.deepEqual(Object.keys(req.body.response_format.json_schema.schema.properties).sort(), ['seo_title', 'title']);
    const p = s.products[0];
    const b = s.before.get(p.id);
    assert.equal(p.title, req.answer.title);
    assert.equal(p.seoTitle, req.answer.seo_title);
    assert.equal(p.descriptionHtml, b.descriptionHtml, 'description untouched');
    assert.deepEqual(p.tags, b.tags, 'tags untouched');
    assert.equal(p.seoDescription, b.seoDescription, 'SEO description untouched');
  });

  test('rebossctl optimizations lists and rollback restores the old copy', async () => {
    const d = 'opt-main.myshopify.com';
    const s = shops.get(d);
    const list = await ctl(['optimizations', '--shop', d, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const items = JSON.parse(list.stdout);
    assert.equal(items.length, 3);
    const table = await ctl(['optimizations']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /opt-main\.myshopify\.com/);
    const row = (await audit(d))[0];
    const rb = await ctl(['rollback', row.id]);
    assert.equal(rb.code, 0, rb.stderr);
    const p = s.products.find((x) => x.id === row.product_id);
    assert.deepEqual(copyOf(p), s.before.get(p.id), 'the old copy is back in Shopify');
    const after1 = (await audit(d)).find((x) => x.id === row.id);
    assert.notEqual(after1.rolled_back_at, null);
    const again = await ctl(['rollback', row.id]);
    assert.equal(again.code, 1, 'a second rollback is refused');
    const bad = await ctl(['rollback', randomUUID()]);
    assert.equal(bad.code, 1, 'an unknown id is refused');
  });

  test('script tags and attributes never reach Shopify', async () => {
    const d = 'opt-script.myshopify.com';
    const s = await addShop(d, 1);
    ai.reset();
    ai.push({ mode: 'script' });
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    const req = answeredRequests()[0];
    assert.match(req.answer.description_html, /<script>/, 'the model did send a script');
    const p = s.products[0];
    assert.doesNotMatch(p.descriptionHtml, /script|onclick|alert/i);
    assert.match(p.descriptionHtml, /^<p>Great \d+<\/p><p>End<\/p>$/);
  });

  test('an answer that breaks the schema fails that product and writes nothing', async () => {
    const d = 'opt-broken.myshopify.com';
    const s = await addShop(d, 2);
    ai.reset();
    ai.push({ mode: 'break_schema' });
    const before = (shopify.productUpdates ?? []).length;
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 1, 'the shop is reported failed');
    const rowsB = await audit(d);
    assert.equal(rowsB.length, 2);
    const failed = rowsB.filter((x) => x.status === 'failed');
    const applied = rowsB.filter((x) => x.status === 'applied');
    assert.equal(failed.length, 1);
    assert.equal(applied.length, 1, 'the next product is still optimized');
    assert.match(failed[0].error, /schema/);
    assert.equal(failed[0].after, null);
    assert.ok(failed[0].total_tokens > 0, 'billed tokens are recorded');
    const p = s.products.find((x) => x.id === failed[0].product_id);
    assert.deepEqual(copyOf(p), s.before.get(p.id), 'nothing was written for the failed product');
    const updates = (shopify.productUpdates ?? []).slice(before);
    assert.deepEqual(updates.map((u) => u.id), [applied[0].product_id]);
    const st = await rows(`SELECT last_status, last_error FROM public.shop_job_status
      WHERE shop_id = '${s.id}' AND job_type = 'product_optimize'`);
    assert.equal(st[0].last_status, 'failed');
    assert.match(st[0].last_error, /1 of 2 product/);
  });

  test('userErrors from Shopify fail that product with the field and message; the next one goes on', async () => {
    const d = 'opt-refused.myshopify.com';
    const s = await addShop(d, 2);
    ai.reset();
    const real = productUpdateResolvers.Mutation.productUpdate;
    let refused = null;
    shopify.addResolvers({ Mutation: { productUpdate: (r, args, ctx) => {
      if (ctx.domain !== d || refused !== null) return real(r, args, ctx);
      refused = args.product.id;
      return { product: null, userErrors: [{ field: ['product', 'title'], message: 'Title is not allowed' }] };
    } } });
    let r;
    try {
      r = await runJob(['--shop', d]);
    } finally {
      shopify.addResolvers({ Mutation: { productUpdate: real } });
    }
    assert.equal(r.code, 1, 'the shop is reported failed');
    const rowsR = await audit(d);
    const failed = rowsR.filter((x) => x.status === 'failed');
    const applied = rowsR.filter((x) => x.status === 'applied');
    assert.equal(failed.length, 1);
    assert.equal(applied.length, 1, 'the next product is still optimized');
    assert.equal(`gid://shopify/Product/${failed[0].product_id}`, refused);
    assert.equal(failed[0].error, 'Shopify refused the new copy: product.title: Title is not allowed',
      'Shopify\'s words with the field they name (lib/shopify.c shopify_user_error)');
    const p = s.products.find((x) => x.id === failed[0].product_id);
    assert.deepEqual(copyOf(p), s.before.get(p.id), 'the refused product is as it was');
  });

  test('an answer cut off at the token limit (finish_reason length) fails that product, nothing applied', async () => {
    const d = 'opt-length.myshopify.com';
    const s = await addShop(d, 2);
    ai.reset();
    ai.push({ mode: 'length' });
    const before = (shopify.productUpdates ?? []).length;
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 1, 'the shop is reported failed');
    const rowsL = await audit(d);
    const failed = rowsL.filter((x) => x.status === 'failed');
    const applied = rowsL.filter((x) => x.status === 'applied');
    assert.equal(failed.length, 1);
    assert.equal(applied.length, 1, 'the next product is still optimized');
    assert.match(failed[0].error, /token limit|cut off|length/i);
    assert.equal(failed[0].after, null, 'no partial copy is kept as "after"');
    const p = s.products.find((x) => x.id === failed[0].product_id);
    assert.deepEqual(copyOf(p), s.before.get(p.id), 'nothing of the cut-off copy reached Shopify');
    const updates = (shopify.productUpdates ?? []).slice(before);
    assert.deepEqual(updates.map((u) => u.id), [applied[0].product_id]);
  });

  test('429 with rate-limit headers is waited out and succeeds; 500 is retried', async () => {
    const d = 'opt-429.myshopify.com';
    const s = await addShop(d, 1);
    ai.reset();
    ai.push({ mode: 'rate_limit', retryAfter: 1 });
    ai.push({ mode: 'server_error' });
    const r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ai.requests.map((x) => x.status), [429, 500, 200]);
    assert.ok(ai.requests[1].at - ai.requests[0].at >= 950, 'Retry-After was honoured');
    assert.equal(s.products[0].title, ai.requests[2].answer.title);
  });

  test('insufficient_quota stops every OpenAI call of the run; each remaining shop fails clearly', async () => {
    await pg.psql('UPDATE public.pod_ai_settings SET enabled = false');
    const ds = ['opt-quota-1.myshopify.com', 'opt-quota-2.myshopify.com', 'opt-quota-3.myshopify.com'];
    for (const d of ds) await addShop(d, 2);
    ai.reset();
    ai.setMode({ mode: 'insufficient_quota' });
    const r = await runJob(['--parallel', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(ai.requests.length, 1, 'one refused call, then none');
    const run = (await rows(`SELECT id, status, shops_failed, error_log FROM public.job_runs
      WHERE job_type = 'product_optimize' ORDER BY started_at DESC LIMIT 1`))[0];
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.shops_failed, 3);
    for (const d of ds) {
      const e = run.error_log.find((x) => x.shop_id === shops.get(d).id);
      assert.ok(e, `${d} is in the error log`);
      assert.match(e.error, /insufficient_quota/);
      assert.match(e.error, /no further OpenAI calls/);
      for (const p of shops.get(d).products) assert.deepEqual(copyOf(p), shops.get(d).before.get(p.id));
    }
    assert.equal((await rows(`SELECT 1 FROM public.optimize_quota_stops WHERE run_id = '${run.id}'`)).length, 1);
    ai.setMode(null);
    await pg.psql(`UPDATE public.pod_ai_settings SET enabled = false`);
  });

  test('the daily token budget is respected', async () => {
    const d = 'opt-budget.myshopify.com';
    const s = await addShop(d, 5, { daily_token_budget: 250 });
    ai.reset();
    ai.usage = { prompt_tokens: 60, completion_tokens: 40 };
    let r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(answeredRequests().length, 2, 'two calls of 100 tokens fit 250, a third would not');
    assert.ok(answeredRequests().every((x) => x.body.max_completion_tokens <= 250),
      'max_completion_tokens is capped by what is left');
    let used = await rows(`SELECT coalesce(sum(total_tokens), 0)::int AS n FROM public.product_optimizations
      WHERE shop_id = '${s.id}'`);
    assert.equal(used[0].n, 200);
    ai.reset();
    ai.usage = { prompt_tokens: 60, completion_tokens: 40 };
    r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ai.requests.length, 0, 'budget spent for today: no call');
    used = await rows(`SELECT count(*)::int AS n FROM public.product_optimizations WHERE shop_id = '${s.id}'`);
    assert.equal(used[0].n, 2);
  });

  // Issue 18: the owner's openai_tokens_per_day (shop_settings) and the
  // operator's max_openai_tokens_per_day bound the POD AI budget.
  test('openai_tokens_per_day and the operator\'s cap bound the daily budget', async () => {
    const d = 'opt-limit.myshopify.com';
    const s = await addShop(d, 5, { daily_token_budget: 100000 });
    await pg.psql(`INSERT INTO public.shop_settings (shop_id, openai_tokens_per_day) VALUES ('${s.id}', 250)`);
    ai.reset();
    ai.usage = { prompt_tokens: 60, completion_tokens: 40 };
    let r = await runJob(['--shop', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(answeredRequests().length, 2, 'two calls of 100 tokens fit the shop\'s 250');
    const d2 = 'opt-cap.myshopify.com';
    await addShop(d2, 5, { daily_token_budget: 100000 });
    const capped = path.join(tmp, 'capped.conf');
    await fs.writeFile(capped, `${await fs.readFile(conf, 'utf8')}max_openai_tokens_per_day = 150\n`);
    ai.reset();
    ai.usage = { prompt_tokens: 60, completion_tokens: 40 };
    r = await new Promise((resolve) => execFile(job, ['--config', capped, '--shop', d2], {
      env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '' }, timeout: 300_000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stderr })));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(answeredRequests().length, 1, 'the operator\'s 150 allows one call of 100');
  });

  test('dashboard role: own settings and audit only', async () => {
    const s = shops.get('opt-main.myshopify.com');
    const uid = (await rows(`SELECT user_id FROM public.shops WHERE id = '${s.id}'`))[0].user_id;
    const own = await pg.psql('SELECT count(*) FROM public.product_optimizations',
      { role: 'authenticated', claims: { sub: uid } });
    assert.equal(own.trim(), '3');
    const other = await pg.psql('SELECT count(*) FROM public.product_optimizations',
      { role: 'authenticated', claims: { sub: randomUUID() } });
    assert.equal(other.trim(), '0');
    await pg.psql(`UPDATE public.pod_ai_settings SET tone = 'bold' WHERE shop_id = '${s.id}'`,
      { role: 'authenticated', claims: { sub: uid } });
    assert.equal((await rows(`SELECT tone FROM public.pod_ai_settings WHERE shop_id = '${s.id}'`))[0].tone, 'bold');
    await assert.rejects(pg.psql('SELECT count(*) FROM public.optimize_quota_stops',
      { role: 'authenticated', claims: { sub: uid } }), /permission denied/);
  });

  test('the fake Shopify saw no deprecated field and no invalid document', () => {
    assert.deepEqual(shopify.validationErrors, []);
    assert.deepEqual(shopify.deprecations, []);
    assert.deepEqual(ai.invalidRequests, []);
  });
});
