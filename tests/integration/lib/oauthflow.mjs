// oauthflow.mjs - helpers shared by oauth.test.mjs, shops.test.mjs and
// browser.test.mjs (owner: the "oauth" module): a shop row for a user, the
// consent -> callback round trip as a browser would make it (without one),
// and the "no plain token anywhere in the database" check.
import { randomUUID } from 'node:crypto';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** Inserts a shop for userId directly (as the backend) and returns its id. */
export async function addShopRow(stack, userId, domain) {
  const id = randomUUID();
  await stack.pg.psql(`INSERT INTO shops (id, user_id, shop_domain, shop_name)
    VALUES (${q(id)}, ${q(userId)}, ${q(domain)}, 'Test')`);
  return id;
}

/** POST /api/oauth/{provider}/start; returns the curl result. */
export function start(stack, token, provider, shopId) {
  return stack.curl(`/api/oauth/${provider}/start`, { token, body: { shop_id: shopId } });
}

/** Opens the consent URL at the fake like a browser (no redirect follow):
 * returns the Location it sends back (the API's callback URL). */
export async function consent(url) {
  const r = await fetch(url, { redirect: 'manual' });
  const loc = r.headers.get('location');
  if (r.status !== 302 || !loc) throw new Error(`consent page answered ${r.status}: ${await r.text()}`);
  return loc;
}

/** Calls a callback URL of the API (absolute, on stack.url). */
export function callback(stack, absUrl) {
  if (!absUrl.startsWith(stack.url + '/'))
    throw new Error(`callback ${absUrl} is not on ${stack.url}`);
  return stack.curl(absUrl.slice(stack.url.length));
}

/** start -> consent -> callback; returns {startRes, callbackUrl, res}. */
export async function link(stack, token, provider, shopId) {
  const s = await start(stack, token, provider, shopId);
  if (s.status !== 200) throw new Error(`start answered ${s.status}: ${s.body}`);
  const cb = await consent(s.json.url);
  const res = await callback(stack, cb);
  return { startRes: s, callbackUrl: cb, res };
}

/** Every row of every table in public, as JSON text. */
export async function dumpAll(stack) {
  const tables = (await stack.pg.psql(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))
    .split('\n').filter(Boolean);
  let all = '';
  for (const t of tables)
    all += await stack.pg.psql(`SELECT row_to_json(x)::text FROM public.${t} x`);
  return { tables, all };
}

export const count = async (stack, sql) => Number((await stack.pg.psql(sql)).trim());
