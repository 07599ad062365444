// renewal.mjs - what token renewal costs upstream (issue 14): Shopify
// requests per shop per hour spent on renewals, against the fake Shopify
// on the real stack (nginx, reboss-api, PostgreSQL, reboss-sales-tracker).
//
// Time is scaled: tokens live L seconds (the fake says so in expires_in)
// and are renewed M seconds before they end (REBOSS_SHOP_RENEW_MARGIN_S),
// L/M = 12 as in production (3600 s tokens, SHOP_RENEW_MARGIN_S = 300).
// sales_tracker runs back to back for D seconds on three shops installed
// through the ReBoss app and one connected with the owner's own app
// (client credentials); every Shopify request takes ~300 ms (delayMs) so
// a run is long.  Counted by the fake: successful grants per shop, 401s,
// GraphQL requests.  Renewals per token lifetime = grants / (D / L); in
// production that is renewals per hour for app installs (1-hour tokens)
// and per 24 hours for client credentials.
//
//   REBOSS_BUILDDIR=/path/build node bench/renewal.mjs [D=120] [L=12] [M=1]
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

import { startStack, buildDir } from '../tests/integration/harness.mjs';
import { consent, callback } from '../tests/integration/lib/oauthflow.mjs';

const D = Number(process.argv[2] ?? 120);
const L = Number(process.argv[3] ?? 12);
const M = Number(process.argv[4] ?? 1);

const stack = await startStack({ workers: 2 });
const fake = stack.fake;
const user = randomUUID();
const tok = stack.mintToken({ userId: user });
fake.setTokenLifetimes({ expiring: L, clientCredentials: L });

function seed(domain) {
  fake.addShop({ domain, token: `shpat_${randomUUID().replace(/-/g, '')}` });
  const ps = [];
  for (let i = 0; i < 60; i++) ps.push(fake.addProduct(domain, { title: `P${i}` }));
  for (let i = 0; i < 100; i++) {
    fake.addOrder(domain, { processedAt: new Date(Date.now() - (1 + (i % 20)) * 86400_000).toISOString(),
      lines: [{ product: ps[i % ps.length], quantity: 1, price: '9.00' }] });
  }
  fake.setMode(domain, { delayMs: 300 });
}

const shops = [];
try {
  for (const n of ['bench-a', 'bench-b', 'bench-c']) {
    const d = `${n}.myshopify.com`;
    seed(d);
    const r = await stack.curl('/api/shopify/install', { token: tok, body: { shop_domain: d } });
    const cb = await callback(stack, await consent(r.json.url));
    if (cb.status !== 302) throw new Error(`install ${d}: ${cb.status}`);
    shops.push({ d, kind: 'app_install', grant: 'refresh_token' });
  }
  const cc = 'bench-own.myshopify.com';
  seed(cc);
  const app = fake.addOrgApp({ shops: [cc] });
  const r = await stack.curl('/api/shops', { token: tok, body: { shop_domain: cc, client_id: app.clientId,
    client_secret: app.clientSecret } });
  if (r.status !== 201) throw new Error(`client credentials: ${r.status} ${r.body}`);
  shops.push({ d: cc, kind: 'client_credentials', grant: 'client_credentials' });

  const grants0 = fake.grants.length;
  const req0 = fake.requests.length;
  const t0 = Date.now();
  let runs = 0;
  while (Date.now() - t0 < D * 1000) {
    const res = await new Promise((resolve) => execFile(path.join(buildDir(), 'jobs', 'reboss-sales-tracker'),
      ['--config', stack.confFile, '--parallel', '4'],
      { env: { ...process.env, REBOSS_CONFIG: '', NOTIFY_SOCKET: '', REBOSS_SHOP_RENEW_MARGIN_S: String(M) } },
      (e, so, se) => resolve({ code: e ? e.code : 0, out: so + se })));
    if (res.code !== 0) throw new Error(`run ${runs} exited ${res.code}: ${res.out.slice(-1500)}`);
    runs++;
  }
  const secs = (Date.now() - t0) / 1000;
  const lifetimes = secs / L;
  console.log(`${runs} sales_tracker runs in ${secs.toFixed(0)} s; tokens live ${L} s, renewed ${M} s early ` +
    `(${lifetimes.toFixed(1)} lifetimes)`);
  console.log('shop | way in | Shopify requests | renewals | 401s | renewals per token lifetime');
  for (const s of shops) {
    const g = fake.grants.slice(grants0).filter((x) => x.shop === s.d && x.grant === s.grant && x.status === 200).length;
    const reqs = fake.requests.slice(req0).filter((e) => e.shop === s.d && !e.tokenRequest);
    const n401 = reqs.filter((e) => e.status === 401).length;
    console.log(`${s.d} | ${s.kind} | ${reqs.length} | ${g} | ${n401} | ${(g / lifetimes).toFixed(2)}`);
  }
} finally {
  await stack.stop();
}
