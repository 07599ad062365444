// demo_world.mjs - what the demo's shop owner set up in the dashboard, and
// what each job changed, for tests/demo.mjs (owner: the demo) and
// demo.test.mjs.
//
// The fake Shopify's demo shops (seedDemo in tests/fakes/shopify.mjs) have
// products published weeks ago and orders of the last days.  On top, the
// demo user sets what a real owner sets in the dashboard, written as the
// dashboard writes it (role authenticated with the user's JWT claims, so
// row-level security applies), and links Pinterest through the real OAuth
// flow of the API.  Then each job has real work, through its normal code:
//   demo-one (America/New_York)
//     catalog: Posters is managed (retire after 14 days without a sale,
//       as a draft); one design waits in the queue, so replace_job may
//       retire one poster (Forest Poster: no sale in 14 days) and
//       product_creation fills its slot with the design.
//     POD AI: on for Mugs, one product per run (the newest: Cat Mug).
//     Pinterest: linked; Posters is synced to a board.
//   demo-two (Europe/Berlin)
//     catalog: no managed collection; a daily quota of one new product in
//       Collection 01 from its one queued design.
import { link } from './oauthflow.mjs';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const arr = (xs) => `ARRAY[${xs.map(q).join(',')}]::text[]`;
const jsonb = (o) => `${q(JSON.stringify(o))}::jsonb`;

export const DEMO_DESIGNS = {
  'demo-one.myshopify.com': { title: 'Aurora Poster', tags: ['wall-art', 'night-sky'] },
  'demo-two.myshopify.com': { title: 'Northern Lights Hoodie', tags: ['night-sky'] },
};

const colId = (fake, domain, handle) => {
  const c = fake.getShop(domain).data.Collection.find((x) => x.handle === handle);
  if (!c) throw new Error(`demo: ${domain} has no collection ${handle}`);
  return c.id;
};

/**
 * The dashboard settings of the demo shops, as the demo user writes them.
 * shops: [{id, domain}] as POST /api/shops answered.
 */
export async function seedDashboard(stack, userId, shops) {
  const [one, two] = shops;
  const posters = colId(stack.fake, one.domain, 'posters');
  const mugs = colId(stack.fake, one.domain, 'mugs');
  const col01 = colId(stack.fake, two.domain, 'collection-1');
  const img = (t) => `https://cdn.shopify.example/designs/${t.toLowerCase().replace(/ /g, '-')}.png`;
  const design = (shop, position = 0) => {
    const d = DEMO_DESIGNS[shop.domain];
    return `INSERT INTO public.design_queue (shop_id, position, title, description, image_url, tags)
      VALUES (${q(shop.id)}, ${position}, ${q(d.title)}, ${q(`<p>${d.title}, printed on demand.</p>`)},
      ${q(img(d.title))}, ${arr(d.tags)});`;
  };
  const poster = { product_type: 'poster', vendor: 'Demo One', status: 'ACTIVE', tags: ['new'],
    options: [{ name: 'Size', values: ['A3', 'A2'] }],
    variants: [{ options: ['A3'], price: '24.00' }, { options: ['A2'], price: '32.00' }] };
  const hoodie = { product_type: 'hoodie', vendor: 'Demo Two', status: 'ACTIVE', tags: ['basic'],
    options: [{ name: 'Size', values: ['M', 'L'] }],
    variants: [{ options: ['M'], price: '45.00' }, { options: ['L'], price: '45.00' }] };
  await stack.pg.psql(`BEGIN;
    INSERT INTO public.catalog_settings (shop_id, managed_collection_ids, start_days, start_min_sales,
      post_days, post_min_sales, retire_action, max_replacements, creation_template, daily_creation_quota)
      VALUES (${q(one.id)}, ARRAY[${posters}]::bigint[], 7, 1, 14, 1, 'draft', 2, ${jsonb(poster)}, 0);
    ${design(one)}
    INSERT INTO public.pod_ai_settings (shop_id, tone, brand_words, collection_ids, products_per_run)
      VALUES (${q(one.id)}, 'warm and playful', ${arr(['Demo One'])}, ARRAY[${mugs}]::bigint[], 1);
    INSERT INTO public.pinterest_sync_collections (shop_id, collection_id, board_name, board_description)
      VALUES (${q(one.id)}, ${posters}, 'Posters', 'Wall art from Demo One');
    INSERT INTO public.catalog_settings (shop_id, creation_template, creation_collection_id,
      daily_creation_quota) VALUES (${q(two.id)}, ${jsonb(hoodie)}, ${col01}, 1);
    ${design(two)}
    COMMIT;`, { role: 'authenticated', claims: { sub: userId, role: 'authenticated' } });
}

/** Pinterest linked to shop through the API's OAuth flow (start, the
 * sandbox consent page, callback), as the owner's browser would. */
export async function linkPinterest(stack, token, shopId) {
  const { res } = await link(stack, token, 'pinterest', shopId);
  if (res.status !== 302 && res.status !== 303)
    throw new Error(`Pinterest link: the callback answered ${res.status} ${res.body}`);
}

/**
 * Milliseconds to wait before the jobs run so that the sales tracker can
 * call yesterday complete in zone tz: the orders of a local day count as
 * all read only 10 minutes after its midnight (Shopify's search index
 * lags, jobs/sales_tracker.c), and replace_job judges only then.  0
 * outside [23:58, 00:11) local time.
 */
export function waitForCompleteDay(tz, now = Date.now()) {
  const f = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', hour: '2-digit',
    minute: '2-digit', second: '2-digit' });
  const [h, m, s] = f.format(new Date(now)).split(':').map(Number);
  const sec = h * 3600 + m * 60 + s;
  const until = 11 * 60;
  if (sec >= 23 * 3600 + 58 * 60) return (86400 - sec + until) * 1000;
  return sec < until ? (until - sec) * 1000 : 0;
}

async function rows(stack, sql) {
  const out = (await stack.pg.psql(`SELECT row_to_json(t) FROM (${sql}) t`)).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}

const short = (s, n = 28) => ([...String(s)].length > n ? `${[...String(s)].slice(0, n - 1).join('')}\u2026` : s);
const shopOf = (d) => d.replace(/\.myshopify\.com$/, '');

// What each job changed, from the database, one line per change (at most
// 80 columns): the effect a person looks for, with the product's title.
const EFFECTS = {
  'sales-tracker': async (stack) => (await rows(stack, `SELECT s.shop_domain, c.last_orders,
      c.complete_through::text AS through, (SELECT coalesce(sum(units), 0) FROM public.product_sales_daily d
      WHERE d.shop_id = s.id) AS units FROM public.sales_cursors c JOIN public.shops s ON s.id = c.shop_id
      ORDER BY s.shop_domain`)).map((r) => `${shopOf(r.shop_domain)}: ${r.last_orders} orders, ` +
      `${r.units} units sold; sales known through ${r.through}`),
  'replace-job': async (stack) => (await rows(stack, `SELECT s.shop_domain, d.product_title, d.units,
      d.threshold, d.window_start::text AS ws, d.window_end::text AS we, d.action
      FROM public.replace_decisions d JOIN public.shops s ON s.id = d.shop_id
      WHERE d.verdict = 'retire' AND d.outcome = 'done' ORDER BY s.shop_domain, d.id`))
    .flatMap((r) => [`${shopOf(r.shop_domain)}: RETIRED "${short(r.product_title)}" (now a ${r.action}):`,
      `    sold ${r.units} of the ${r.threshold} needed from ${r.ws} to ${r.we}`]),
  'product-creation': async (stack) => (await rows(stack, `SELECT s.shop_domain, q.title,
      cp.product_id, d.product_title AS replaces FROM public.created_products cp
      JOIN public.shops s ON s.id = cp.shop_id JOIN public.design_queue q ON q.id = cp.queue_item_id
      LEFT JOIN public.catalog_slots sl ON sl.id = cp.slot_id
      LEFT JOIN public.replace_decisions d ON d.id = sl.decision_id ORDER BY s.shop_domain`))
    .map((r) => `${shopOf(r.shop_domain)}: CREATED "${short(r.title)}" ` +
      (r.replaces ? `in place of "${short(r.replaces, 20)}"` : "(today's quota)")),
  'product-optimize': async (stack) => (await rows(stack, `SELECT s.shop_domain,
      o.before->>'title' AS before, o.after->>'title' AS after FROM public.product_optimizations o
      JOIN public.shops s ON s.id = o.shop_id WHERE o.status = 'applied' ORDER BY s.shop_domain`))
    .flatMap((r) => [`${shopOf(r.shop_domain)}: REWROTE "${short(r.before)}" (title, text, tags, SEO)`,
      `    new title: "${short(r.after, 50)}"`]),
  'pinterest-sync': async (stack) => (await rows(stack, `SELECT s.shop_domain, p.title, b.name
      FROM public.pinterest_pins pp JOIN public.shops s ON s.id = pp.shop_id
      JOIN public.products p ON p.shop_id = pp.shop_id AND p.product_id = pp.product_id
      JOIN public.pinterest_boards b ON b.shop_id = pp.shop_id AND b.board_id = pp.board_id
      WHERE pp.state = 'pinned' ORDER BY s.shop_domain, p.title`))
    .map((r) => `${shopOf(r.shop_domain)}: PINNED "${short(r.title)}" to board "${short(r.name, 20)}"`),
};

/** The effect lines of job (its name without "reboss-"). */
export async function jobEffects(stack, job) {
  return EFFECTS[job] ? EFFECTS[job](stack) : [];
}

/**
 * What the demo left, for demo.test.mjs to judge (the stack is gone once
 * the demo ends): the rows the jobs wrote and the fakes' state.
 */
export async function demoState(stack, { pin, openai }, shops) {
  const inShops = `shop_id IN (${shops.map((s) => q(s.id)).join(',')})`;
  const db = {};
  const tables = {
    sales_cursors: 'shop_id, last_orders, complete_through::text AS complete_through',
    product_sales_daily: 'shop_id, product_id, day::text AS day, units',
    replace_decisions: 'id, shop_id, product_id, product_title, collection_id, verdict, reason, outcome, ' +
      'action, units, threshold, window_start::text AS window_start, window_end::text AS window_end',
    catalog_slots: 'id, shop_id, collection_id, decision_id, filled_at, filled_by',
    design_queue: 'id, shop_id, title, status, slot_id, collection_id, product_id',
    created_products: 'shop_id, product_id, queue_item_id, collection_id, slot_id',
    product_optimizations: 'shop_id, product_id, status, fields, before, after',
    pinterest_boards: 'shop_id, collection_id, board_id, name, state',
    pinterest_pins: 'shop_id, product_id, collection_id, board_id, pin_id, link, state',
  };
  for (const [t, cols] of Object.entries(tables))
    db[t] = await rows(stack, `SELECT ${cols} FROM public.${t} WHERE ${inShops}`);
  const shopify = {};
  for (const s of shops) {
    const f = stack.fake.getShop(s.domain);
    shopify[s.domain] = {
      products: f.data.Product.map((p) => ({ id: p.id, title: p.title, status: p.status, tags: [...p.tags],
        descriptionHtml: p.descriptionHtml, handle: p.handle, publishedAt: p.publishedAt ?? null })),
      collections: f.data.Collection.filter((c) => c.type === 'custom')
        .map((c) => ({ id: c.id, handle: c.handle, title: c.title, productIds: [...c.productIds] })),
    };
  }
  return {
    // What every fake found wrong in a request (each must stay empty).
    violations: {
      shopify: [...stack.fake.validationErrors, ...stack.fake.deprecations].map((v) => v.message),
      openai: [...openai.invalidRequests, ...openai.invalidResponses],
      pinterest: [...pin.invalidRequests, ...pin.invalidResponses],
    },
    openaiAnswers: openai.requests.filter((r) => r.answer).length,
    shops: shops.map((s) => ({ id: s.id, domain: s.domain })),
    db,
    shopify,
    pinterest: {
      boards: [...pin.boards.values()].map((b) => ({ id: b.id, name: b.name })),
      pins: [...pin.pins.values()].map((p) => ({ id: p.id, board_id: p.board_id, link: p.link, title: p.title })),
    },
  };
}
