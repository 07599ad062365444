// node --test fakes/   -- tests of the Shopify Admin GraphQL fake itself.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createFakeShopify, loadSchema, seedDemo, DEMO_SHOPS, queryCost, parseGid } from './shopify.mjs';
import { parse, getOperationAST } from 'graphql';

const DOMAIN = 'pages.myshopify.com';
const TOKEN = 'shpat_test_pages_token';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function post(fake, { domain = DOMAIN, token = TOKEN, query, variables, body, headers = {},
  version = '2026-10', method = 'POST', signal } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (token !== null) h['X-Shopify-Access-Token'] = token;
  const r = await fetch(`${fake.url}/${domain}/admin/api/${version}/graphql.json`, {
    method, headers: h, signal,
    body: method === 'GET' ? undefined : (body ?? JSON.stringify({ query, variables })),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* html */ }
  return { status: r.status, headers: r.headers, text, json };
}

const PAGE_QUERY = `query Page($cursor: String) {
  collections(first: 10, after: $cursor) {
    edges { cursor node { id legacyResourceId title handle updatedAt productsCount { count precision } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

describe('fake shopify', () => {
  let fake;
  let custom;
  let smart;
  let products;

  before(async () => {
    fake = await createFakeShopify();
    fake.addShop({ domain: DOMAIN, token: TOKEN, name: 'Pages', email: 'me@pages.example' });
    products = [];
    for (let i = 1; i <= 6; i++) {
      products.push(fake.addProduct(DOMAIN, { title: `Shirt ${i}`, tags: i % 2 ? ['odd'] : ['even'],
        productType: i <= 3 ? 'tee' : 'hoodie', price: String(10 * i) }));
    }
    custom = [];
    for (let i = 1; i <= 23; i++) {
      custom.push(fake.addCollection(DOMAIN, { title: `Custom ${String(i).padStart(2, '0')}`,
        productIds: i === 1 ? [products[0].id, products[1].id] : [] }));
    }
    smart = fake.addCollection(DOMAIN, { title: 'Odd ones', type: 'smart',
      rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'odd' }] });
    fake.addCollection(DOMAIN, { title: 'Cheap hoodies', type: 'smart', disjunctive: false,
      rules: [{ column: 'TYPE', relation: 'EQUALS', condition: 'hoodie' },
        { column: 'VARIANT_PRICE', relation: 'LESS_THAN', condition: '55' }] });
  });
  after(async () => { await fake.close(); });

  test('schema is loaded once per process', () => {
    const s = loadSchema();
    assert.equal(s, fake.schema, 'the second load returns the cached schema object');
    assert.ok(s.getType('Collection').getFields().sources, 'Collection.sources exists in 2026-10');
    assert.ok(s.getType('Collection').getFields().ruleSet.deprecationReason, 'ruleSet is deprecated');
  });

  test('shop query answers plausible values and cost', async () => {
    const t0 = Date.now();
    const r = await post(fake, { query: `{ shop { id name email contactEmail myshopifyDomain
      primaryDomain { host url } currencyCode ianaTimezone timezoneAbbreviation timezoneOffset
      plan { publicDisplayName partnerDevelopment shopifyPlus } shopAddress { city countryCodeV2 }
      createdAt updatedAt weightUnit currencyFormats { moneyFormat } enabledPresentmentCurrencies
      setupRequired taxesIncluded accountOwner { name } features { giftCards } } }` });
    assert.equal(r.status, 200);
    assert.equal(r.json.errors, undefined);
    const s = r.json.data.shop;
    assert.match(s.id, /^gid:\/\/shopify\/Shop\/\d+$/);
    assert.equal(s.name, 'Pages');
    assert.equal(s.email, 'me@pages.example');
    assert.equal(s.contactEmail, 'me@pages.example');
    assert.equal(s.myshopifyDomain, DOMAIN);
    assert.deepEqual(s.primaryDomain, { host: DOMAIN, url: `https://${DOMAIN}` });
    assert.equal(s.currencyCode, 'USD');
    assert.equal(s.ianaTimezone, 'America/New_York');
    assert.match(s.timezoneAbbreviation, /^E[SD]T$/);
    assert.match(s.timezoneOffset, /^-0[45]00$/);
    assert.equal(s.plan.publicDisplayName, 'Basic');
    assert.equal(s.weightUnit, 'POUNDS');
    assert.deepEqual(s.enabledPresentmentCurrencies, ['USD']);
    assert.equal(typeof s.accountOwner.name, 'string', 'non-null unknowns get a default');
    assert.equal(s.features.giftCards, false);
    const c = r.json.extensions.cost;
    // shop 1 + primaryDomain 1 + plan 1 + shopAddress 1 + currencyFormats 1 + accountOwner 1 + features 1
    assert.equal(c.requestedQueryCost, 7);
    assert.equal(c.actualQueryCost, 7);
    assert.equal(c.throttleStatus.maximumAvailable, 2000);
    assert.equal(c.throttleStatus.restoreRate, 100);
    // The bucket refills at 100/s while the query runs: allow what the
    // elapsed time can have restored, nothing more.
    const restored = Math.ceil((100 * (Date.now() - t0)) / 1000);
    assert.ok(c.throttleStatus.currentlyAvailable <= Math.min(2000, 2000 - 7 + restored + 1),
      `available ${c.throttleStatus.currentlyAvailable} after ${Date.now() - t0} ms`);
  });

  test('collections paginate across 3 pages exactly', async () => {
    const seen = [];
    let cursor = null;
    const pages = [];
    for (;;) {
      const r = await post(fake, { query: PAGE_QUERY, variables: { cursor } });
      assert.equal(r.status, 200);
      assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
      const conn = r.json.data.collections;
      pages.push(conn);
      for (const e of conn.edges) {
        seen.push(e.node.id);
        assert.equal(e.node.legacyResourceId, String(parseGid(e.node.id).id));
        assert.doesNotMatch(e.cursor, /gid:|Collection/, 'cursor is opaque');
      }
      if (!conn.pageInfo.hasNextPage) break;
      cursor = conn.pageInfo.endCursor;
      assert.ok(pages.length < 10, 'pagination must end');
    }
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.map((p) => p.edges.length), [10, 10, 5]);
    assert.equal(pages[0].pageInfo.hasPreviousPage, false);
    assert.equal(pages[1].pageInfo.hasPreviousPage, true);
    assert.equal(new Set(seen).size, seen.length, 'no repeats');
    const all = fake.getShop(DOMAIN).data.Collection.map((c) => c.gid);
    assert.deepEqual([...seen].sort(), [...all].sort(), 'none lost');
    assert.equal(pages[2].pageInfo.endCursor, pages[2].edges[4].cursor);

    // Backwards from the end with last/before gives the same items.
    const back = [];
    let before = null;
    for (let i = 0; i < 5; i++) {
      const r = await post(fake, { query: `query($b: String) { collections(last: 10, before: $b) {
        nodes { id } pageInfo { hasPreviousPage startCursor } } }`, variables: { b: before } });
      const conn = r.json.data.collections;
      back.unshift(...conn.nodes.map((n) => n.id));
      if (!conn.pageInfo.hasPreviousPage) break;
      before = conn.pageInfo.startCursor;
    }
    assert.deepEqual(back, seen);
  });

  test('sortKey, reverse and query filter', async () => {
    const r = await post(fake, { query: `{ a: collections(first: 3, sortKey: TITLE, reverse: true) { nodes { title } }
      b: collections(first: 50, query: "collection_type:smart") { nodes { title } }
      c: collections(first: 50, query: "title:'Custom 0*'") { nodes { title } }
      d: collections(first: 50, query: "title:hoodies -collection_type:custom") { nodes { title } }
      n: collectionsCount { count precision } }` });
    assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
    assert.deepEqual(r.json.data.a.nodes.map((n) => n.title), ['Odd ones', 'Custom 23', 'Custom 22']);
    assert.deepEqual(r.json.data.b.nodes.map((n) => n.title), ['Odd ones', 'Cheap hoodies']);
    assert.equal(r.json.data.c.nodes.length, 9);
    assert.deepEqual(r.json.data.d.nodes.map((n) => n.title), ['Cheap hoodies']);
    assert.deepEqual(r.json.data.n, { count: 25, precision: 'EXACT' });
  });

  test('custom and smart collections: products, sources and counts', async () => {
    const r = await post(fake, { query: `query($a: ID!, $b: ID!) {
      a: collection(id: $a) { id title productsCount { count } sources { id }
        products(first: 10) { nodes { id title } } }
      b: collection(id: $b) { productsCount { count precision } products(first: 10) { nodes { title } }
        sources { __typename ... on CollectionConditionsSource { inclusion { matchType
          conditions { __typename ... on CollectionSourceInclusionConditionProductTag { tagRelation: relation values } } } } } } }`,
    variables: { a: custom[0].gid, b: smart.gid } });
    assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
    const { a, b } = r.json.data;
    assert.equal(a.id, custom[0].gid);
    assert.equal(a.productsCount.count, 2);
    assert.deepEqual(a.sources, []);
    assert.deepEqual(a.products.nodes.map((n) => n.title), ['Shirt 1', 'Shirt 2']);
    assert.deepEqual(b.productsCount, { count: 3, precision: 'EXACT' });
    assert.deepEqual(b.products.nodes.map((n) => n.title), ['Shirt 1', 'Shirt 3', 'Shirt 5']);
    assert.equal(b.sources[0].__typename, 'CollectionConditionsSource');
    assert.equal(b.sources[0].inclusion.matchType, 'ALL');
    assert.deepEqual(b.sources[0].inclusion.conditions, [{ __typename: 'CollectionSourceInclusionConditionProductTag',
      tagRelation: 'TAGGED_WITH', values: ['odd'] }]);
    assert.equal(fake.deprecations.length, 0, 'sources is not deprecated');
  });

  test('products, product(id) and node(id)', async () => {
    const r = await post(fake, { query: `query($id: ID!) {
      products(first: 2, query: "tag:even") { nodes { title status tags priceRangeV2 { minVariantPrice { amount currencyCode } } } }
      product(id: $id) { title handle collections(first: 5) { nodes { title } } variants(first: 5) { nodes { price sku } } }
      node(id: $id) { __typename ... on Product { title } }
      missing: product(id: "gid://shopify/Product/1") { id } }`, variables: { id: products[0].gid } });
    assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
    assert.deepEqual(r.json.data.products.nodes.map((n) => n.title), ['Shirt 2', 'Shirt 4']);
    assert.deepEqual(r.json.data.products.nodes[0].priceRangeV2.minVariantPrice, { amount: '20.00', currencyCode: 'USD' });
    assert.equal(r.json.data.product.handle, 'shirt-1');
    assert.deepEqual(r.json.data.product.collections.nodes.map((n) => n.title), ['Custom 01', 'Odd ones']);
    assert.equal(r.json.data.product.variants.nodes[0].price, '10');
    assert.deepEqual(r.json.data.node, { __typename: 'Product', title: 'Shirt 1' });
    assert.equal(r.json.data.missing, null);
  });

  test('page size: more than 250 and no first/last are errors', async () => {
    const big = await post(fake, { query: '{ collections(first: 251) { nodes { id } } }' });
    assert.equal(big.status, 200);
    assert.equal(big.json.data, null);
    assert.match(big.json.errors[0].message, /250/);
    assert.deepEqual(big.json.errors[0].path, ['collections']);
    const none = await post(fake, { query: '{ collections { nodes { id } } }' });
    assert.equal(none.json.errors[0].message, 'you must provide one of first or last');
    const bad = await post(fake, { query: '{ collections(first: 2, after: "!!nonsense") { nodes { id } } }' });
    assert.match(bad.json.errors[0].message, /cursor/i);
  });

  test('invalid field is a validation error and is recorded', async () => {
    fake.reset();
    const q = '{ shop { name notAField } }';
    const r = await post(fake, { query: q });
    assert.equal(r.status, 200);
    assert.equal(r.json.data, undefined);
    assert.equal(r.json.errors.length, 1);
    assert.match(r.json.errors[0].message, /notAField/);
    assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.deepEqual(r.json.errors[0].locations, [{ line: 1, column: 15 }]);
    assert.equal(fake.validationErrors.length, 1);
    assert.equal(fake.validationErrors[0].shop, DOMAIN);
    assert.equal(fake.validationErrors[0].query, q);
    const p = await post(fake, { query: '{ shop { name ' });
    assert.equal(p.json.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
    assert.equal(fake.validationErrors.length, 2);
    const v = await post(fake, { query: 'query($n: Int!) { collections(first: $n) { nodes { id } } }', variables: { n: 'ten' } });
    assert.equal(v.json.errors[0].extensions.code, 'INVALID_VARIABLE');
    assert.equal(fake.validationErrors.length, 3);
  });

  test('deprecated field (ruleSet) is recorded and still answered', async () => {
    fake.reset();
    const q = '{ collections(first: 50, query: "collection_type:smart") { nodes { title ruleSet { appliedDisjunctively rules { column relation condition } } } } }';
    const r = await post(fake, { query: q });
    assert.equal(r.status, 200);
    assert.equal(r.json.errors, undefined);
    assert.equal(r.headers.get('x-shopify-api-deprecated-reason') !== null, true);
    const odd = r.json.data.collections.nodes.find((n) => n.title === 'Odd ones');
    assert.deepEqual(odd.ruleSet, { appliedDisjunctively: false,
      rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'odd' }] });
    assert.equal(fake.deprecations.length, 1);
    assert.deepEqual(fake.deprecations[0], { shop: DOMAIN, query: q,
      message: 'The field Collection.ruleSet is deprecated. Use `sources` instead.' });
    assert.equal(fake.validationErrors.length, 0);
    // a deprecated enum value and argument are caught too
    await post(fake, { query: '{ collections(first: 1) { nodes { image(maxWidth: 10) { url } } } }' });
    assert.equal(fake.deprecations.length, 2);
    assert.match(fake.deprecations[1].message, /maxWidth/);
  });

  test('wrong or missing token is 401, unknown shop/path is 404, bad bodies 400/413', async () => {
    fake.reset();
    const wrong = await post(fake, { token: 'nope', query: '{ shop { name } }' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    const missing = await post(fake, { token: null, query: '{ shop { name } }' });
    assert.equal(missing.status, 401);
    const unknown = await post(fake, { domain: 'nobody.myshopify.com', query: '{ shop { name } }' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json, { errors: 'Not Found' });
    assert.equal((await post(fake, { version: 'latest', query: '{ shop { name } }' })).status, 404);
    assert.equal((await post(fake, { method: 'GET' })).status, 404);
    const notJson = await post(fake, { body: 'query=shop' });
    assert.equal(notJson.status, 400);
    assert.deepEqual(notJson.json, { errors: { query: 'Required parameter missing or invalid' } });
    assert.equal((await post(fake, { body: '{"variables":{}}' })).status, 400);
    const huge = await post(fake, { body: JSON.stringify({ query: `{ shop { name } } #${'x'.repeat(1024 * 1024)}` }) });
    assert.equal(huge.status, 413);
    const gql = await post(fake, { body: '{ shop { name } }', headers: { 'Content-Type': 'application/graphql' } });
    assert.equal(gql.json.data.shop.name, 'Pages');
    assert.deepEqual(fake.requests.map((q) => q.status), [401, 401, 404, 404, 404, 400, 400, 413, 200]);
    assert.equal(fake.requests[2].shop, 'nobody.myshopify.com');
    assert.equal(fake.requests[8].query, '{ shop { name } }');
    assert.equal(JSON.stringify(fake.requests).includes(TOKEN), false, 'no tokens in the log');
  });

  test('cost: connections, nested connections, mutations, max cost', async () => {
    const schema = loadSchema();
    const price = (q, v) => {
      const doc = parse(q);
      return queryCost(schema, doc, getOperationAST(doc, null), v).requested;
    };
    assert.equal(price('{ shop { name } }'), 1);
    assert.equal(price('{ collections(first: 10) { edges { node { id title } } pageInfo { hasNextPage } } }'), 12);
    assert.equal(price('query($n: Int) { collections(first: $n) { nodes { id } } }', { n: 50 }), 52);
    assert.equal(price('{ collections(first: 10) { nodes { productsCount { count } products(first: 5) { nodes { id } } } } }'),
      2 + 10 * (1 + 1 + (2 + 5)));
    assert.equal(price('mutation { a: collectionDelete(input: { id: "gid://shopify/Collection/1" }) { deletedCollectionId } }'), 10);

    const r = await post(fake, { query: '{ collections(first: 10, query: "collection_type:smart") { edges { node { id title } } } }' });
    assert.equal(r.json.extensions.cost.requestedQueryCost, 12);
    assert.equal(r.json.extensions.cost.actualQueryCost, 4, 'two smart collections: 2 + 2');

    const max = await post(fake, { query: '{ collections(first: 250) { nodes { products(first: 250) { nodes { id } } } } }' });
    assert.equal(max.status, 200);
    assert.equal(max.json.data, undefined);
    assert.equal(max.json.errors[0].extensions.code, 'MAX_COST_EXCEEDED');
    assert.equal(max.json.errors[0].extensions.maxCost, 1000);
    assert.match(max.json.errors[0].message, /^Query cost is \d+, which exceeds the single query max cost limit \(1000\)/);
  });

  test('THROTTLED when the bucket is empty, recovered after waiting', async () => {
    const f = await createFakeShopify({ bucketSize: 30, restoreRate: 10 });
    try {
      const d = 'tiny.myshopify.com';
      f.addShop({ domain: d, token: 't' });
      for (let i = 0; i < 12; i++) f.addCollection(d, { title: `C${i}` });
      const q = '{ collections(first: 10) { nodes { id } } }'; // 12, all actually returned
      const a = await post(f, { domain: d, token: 't', query: q });
      const b = await post(f, { domain: d, token: 't', query: q });
      assert.equal(a.json.extensions.cost.actualQueryCost, 12);
      assert.equal(b.json.errors, undefined);
      assert.ok(b.json.extensions.cost.throttleStatus.currentlyAvailable < 12);
      const c = await post(f, { domain: d, token: 't', query: q });
      assert.equal(c.status, 200);
      assert.deepEqual(c.json.errors, [{ message: 'Throttled', extensions: { code: 'THROTTLED',
        documentation: 'https://shopify.dev/api/usage/rate-limits' } }]);
      assert.equal(c.json.data, undefined);
      const cost = c.json.extensions.cost;
      assert.equal(cost.requestedQueryCost, 12);
      assert.equal(cost.actualQueryCost, null);
      assert.equal(cost.throttleStatus.maximumAvailable, 30);
      assert.equal(cost.throttleStatus.restoreRate, 10);
      const wait = ((12 - cost.throttleStatus.currentlyAvailable) / 10) * 1000;
      await sleep(wait + 60);
      const e = await post(f, { domain: d, token: 't', query: q });
      assert.equal(e.json.errors, undefined, 'recovered after waiting');
      assert.equal(e.json.data.collections.nodes.length, 10);
      assert.deepEqual(f.requests.map((x) => x.throttled === true), [false, false, true, false]);
      // an emptied bucket (setBucket) throttles at once
      f.setBucket(d, 0);
      const g = await post(f, { domain: d, token: 't', query: '{ shop { name } }' });
      assert.equal(g.json.errors[0].extensions.code, 'THROTTLED');
    } finally {
      await f.close();
    }
  });

  describe('modes', () => {
    const Q = '{ shop { name } }';
    test('status modes answer like Shopify', async () => {
      const expect = {
        401: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' },
        402: { errors: 'Unavailable Shop' },
        404: { errors: 'Not Found' },
        423: { errors: 'This shop is unavailable' },
        500: { errors: 'Internal Server Error' },
      };
      for (const status of [401, 402, 403, 404, 423, 429, 500, 503]) {
        fake.setMode(DOMAIN, { status });
        const r = await post(fake, { query: Q });
        assert.equal(r.status, status);
        if (expect[status]) assert.deepEqual(r.json, expect[status]);
        if (status === 403) assert.match(r.json.errors, /scope/);
        if (status === 429) {
          assert.equal(r.headers.get('retry-after'), '2.0');
          assert.match(r.json.errors, /Exceeded/);
        }
        if (status === 503) {
          assert.equal(r.json, null);
          assert.match(r.headers.get('content-type'), /text\/html/);
          assert.match(r.text, /Service Unavailable/);
        }
      }
      fake.setMode(DOMAIN, null);
      assert.equal((await post(fake, { query: Q })).status, 200);
    });

    test('delayMs delays the answer', async () => {
      fake.setMode(DOMAIN, { delayMs: 300 });
      const t0 = Date.now();
      const r = await post(fake, { query: Q });
      assert.equal(r.status, 200);
      assert.ok(Date.now() - t0 >= 290);
      fake.setMode(DOMAIN, null);
    });

    test('truncate sends half the JSON and drops the connection', async () => {
      fake.reset();
      fake.setMode(DOMAIN, { truncate: true });
      await assert.rejects(async () => {
        const r = await fetch(fake.graphqlUrl(DOMAIN), { method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': TOKEN },
          body: JSON.stringify({ query: Q }) });
        await r.text();
      });
      assert.equal(fake.requests[0].truncated, true);
      fake.setMode(DOMAIN, null);
    });

    test('hang never answers', async () => {
      fake.reset();
      fake.setMode(DOMAIN, { hang: true });
      await assert.rejects(post(fake, { query: Q, signal: AbortSignal.timeout(300) }), /abort|timeout/i);
      assert.equal(fake.requests[0].status, 'hang');
      fake.setMode(DOMAIN, null);
      assert.equal((await post(fake, { query: Q })).status, 200);
    });

    test('accessDenied answers ACCESS_DENIED', async () => {
      fake.setMode(DOMAIN, { accessDenied: true });
      const r = await post(fake, { query: '{ collections(first: 5) { nodes { id } } }' });
      assert.equal(r.status, 200);
      assert.equal(r.json.data, null);
      assert.equal(r.json.errors[0].message,
        'Access denied for collections field. Required access: `read_products` access scope.');
      assert.equal(r.json.errors[0].extensions.code, 'ACCESS_DENIED');
      assert.deepEqual(r.json.errors[0].path, ['collections']);
      assert.ok(r.json.extensions.cost);
      const s = await post(fake, { query: Q });
      assert.equal(s.json.data.shop.name, 'Pages', 'shop stays readable');
      fake.setMode(DOMAIN, null);
    });

    test('throttleNext forces n THROTTLED answers', async () => {
      fake.reset();
      fake.setMode(DOMAIN, { throttleNext: 2 });
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const r = await post(fake, { query: Q });
        codes.push(r.json.errors?.[0]?.extensions?.code ?? 'OK');
        if (i < 2) assert.equal(r.json.extensions.cost.actualQueryCost, null);
      }
      assert.deepEqual(codes, ['THROTTLED', 'THROTTLED', 'OK']);
      assert.equal(fake.requests.length, 3);
      fake.reset();
      assert.equal(fake.getMode(DOMAIN), null, 'reset clears modes');
      assert.equal(fake.requests.length, 0);
      assert.ok(fake.getShop(DOMAIN), 'reset keeps shops');
    });
  });

  test('resolver map: mutations can be added', async () => {
    const before = fake.getShop(DOMAIN).data.Collection.length;
    fake.addResolvers({ Mutation: {
      collectionCreate: (_root, { input }, ctx) => ({
        collection: ctx.fake.addCollection(ctx.domain, { title: input.title }), userErrors: [] }),
    } });
    const r = await post(fake, { query: 'mutation($t: String!) { collectionCreate(input: { title: $t }) { collection { id title handle } userErrors { field message } } }',
      variables: { t: 'Made By Mutation' } });
    assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
    assert.equal(r.json.data.collectionCreate.collection.handle, 'made-by-mutation');
    assert.deepEqual(r.json.data.collectionCreate.userErrors, []);
    assert.equal(r.json.extensions.cost.requestedQueryCost, 10);
    assert.equal(fake.getShop(DOMAIN).data.Collection.length, before + 1);
    // An unimplemented mutation answers null rather than a fake-only error.
    const u = await post(fake, { query: 'mutation { collectionDelete(input: { id: "gid://shopify/Collection/1" }) { deletedCollectionId } }' });
    assert.deepEqual(u.json.data, { collectionDelete: null });
  });
});

describe('fake shopify: orders as Shopify has them', () => {
  let fake;
  const D = 'orders.myshopify.com';
  const T = 'shpat_orders';
  const DAYMS = 86400_000;
  before(async () => {
    fake = await createFakeShopify();
    fake.addShop({ domain: D, token: T });
  });
  after(async () => { await fake.close(); });
  const q = (query, variables) => post(fake, { domain: D, token: T, query, variables });
  const ids = async (filter) => (await q('query($q: String) { orders(first: 50, query: $q) { nodes { legacyResourceId } } }',
    { q: filter })).json.data.orders.nodes.map((n) => Number(n.legacyResourceId)).sort((a, b) => a - b);

  test('search: a quoted date keeps its time; an unquoted one is read as its date only', async () => {
    const day = new Date(Date.now() - 3 * DAYMS).toISOString().slice(0, 10);
    const early = fake.addOrder(D, { processedAt: `${day}T01:00:00Z`, updatedAt: `${day}T01:00:00Z` });
    const late = fake.addOrder(D, { processedAt: `${day}T20:00:00Z`, updatedAt: `${day}T20:00:00Z` });
    assert.deepEqual(await ids(`updated_at:>='${day}T12:00:00Z' AND updated_at:<='${day}T23:59:59Z'`), [late.id]);
    assert.deepEqual(await ids(`updated_at:>=${day}T12:00:00Z AND updated_at:<='${day}T23:59:59Z'`), [early.id, late.id],
      'the time of an unquoted timestamp is ignored');
  });

  test('without read_all_orders only orders created in the last 60 days exist', async () => {
    const old = fake.addOrder(D, { processedAt: new Date(Date.now() - 61 * DAYMS).toISOString(), lines: [{ quantity: 1 }] });
    fake.refundOrder(D, old.id, [{ index: 0, quantity: 1 }]);
    const list = async () => (await ids(null)).includes(old.id);
    const one = async () => (await q('query($id: ID!) { order(id: $id) { id } }', { id: old.gid })).json.data.order?.id ?? null;
    const count = async () => (await q('{ ordersCount(limit: null) { count } }')).json.data.ordersCount.count;
    const scopes = async () => (await q('{ currentAppInstallation { accessScopes { handle } } }'))
      .json.data.currentAppInstallation.accessScopes.map((s) => s.handle);
    assert.equal(await list(), false);
    assert.equal(await one(), null);
    const n = await count();
    assert.ok(!(await scopes()).includes('read_all_orders'));
    fake.getShop(D).scopes = [...fake.getShop(D).scopes, 'read_all_orders'];
    assert.equal(await list(), true);
    assert.equal(await one(), old.gid);
    assert.equal(await count(), n + 1);
    assert.ok((await scopes()).includes('read_all_orders'));
    fake.getShop(D).scopes = fake.getShop(D).scopes.filter((s) => s !== 'read_all_orders');
  });

  test('money: discount allocations, approximate unit prices, refund subtotals', async () => {
    const o = fake.addOrder(D, { processedAt: new Date(Date.now() - DAYMS).toISOString(), orderDiscount: '1.00',
      lines: [{ quantity: 3, price: '9.99', discountTotal: '0.10' }, { quantity: 1, price: '4.00' }] });
    fake.refundOrder(D, o.id, [{ index: 0, quantity: 1 }]);
    const m = '{ shopMoney { amount } }';
    const r = await q(`query($id: ID!) { order(id: $id) { lineItems(first: 5) { nodes { originalTotalSet ${m}
      discountedTotalSet ${m} discountedUnitPriceAfterAllDiscountsSet ${m}
      discountAllocations { allocatedAmountSet ${m} } } } refunds { refundLineItems(first: 5) { nodes {
      quantity subtotalSet ${m} } } } } }`, { id: o.gid });
    const [l0, l1] = r.json.data.order.lineItems.nodes;
    const amt = (x) => x.shopMoney.amount;
    assert.equal(amt(l0.originalTotalSet), '29.97');
    assert.equal(amt(l0.discountedTotalSet), '29.87', 'line-level discounts only');
    // 1.00 over 29.87 and 4.00: 0.88 and the rest, 0.12.
    assert.deepEqual(l0.discountAllocations.map((a) => amt(a.allocatedAmountSet)), ['0.10', '0.88']);
    assert.deepEqual(l1.discountAllocations.map((a) => amt(a.allocatedAmountSet)), ['0.12']);
    assert.equal(amt(l0.discountedUnitPriceAfterAllDiscountsSet), '9.66', '28.99 / 3, approximate');
    assert.equal(amt(r.json.data.order.refunds[0].refundLineItems.nodes[0].subtotalSet), '9.66');
  });

  test('bulk export: ungrouped JSONL, children before their parents somewhere', async () => {
    for (let i = 0; i < 20; i++) {
      fake.addOrder(D, { processedAt: new Date(Date.now() - DAYMS).toISOString(),
        lines: [{ quantity: 1 }, { quantity: 2 }] });
    }
    const r = await q('mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }',
      { q: '{ orders { edges { node { id lineItems { edges { node { id } } } } } } }' });
    const id = r.json.data.bulkOperationRunQuery.bulkOperation.id;
    let op;
    for (let i = 0; i < 5 && op?.status !== 'COMPLETED'; i++) {
      op = (await q('query($id: ID!) { bulkOperation(id: $id) { status url } }', { id })).json.data.bulkOperation;
    }
    const lines = (await (await fetch(op.url)).text()).trim().split('\n').map((l) => JSON.parse(l));
    const seen = new Set();
    let early = 0;
    for (const l of lines) {
      if (l.__parentId && !seen.has(l.__parentId)) early += 1;
      seen.add(l.id);
    }
    assert.ok(early > 0, 'a child comes before its parent');
    assert.ok(lines.filter((l) => l.__parentId).length >= 40, 'every line item is there');
  });
});

test('CLI --demo prints one JSON line and serves the demo shops', async () => {
  const file = fileURLToPath(new URL('./shopify.mjs', import.meta.url));
  const child = spawn(process.execPath, [file, '--port', '0', '--demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const info = JSON.parse(line);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.baseUrlTemplate, `${info.url}/{shop}`);
    assert.deepEqual(info.shops.map((s) => s.domain), DEMO_SHOPS.map((s) => s.domain));
    const [one, two] = DEMO_SHOPS;
    const fakeLike = { url: info.url };
    const r1 = await post(fakeLike, { domain: one.domain, token: one.token,
      query: '{ shop { name currencyCode } collections(first: 50) { nodes { title } } }' });
    assert.equal(r1.json.data.shop.name, 'Demo One');
    assert.equal(r1.json.data.collections.nodes.length, 5);
    const r2 = await post(fakeLike, { domain: two.domain, token: two.token,
      query: '{ shop { currencyCode ianaTimezone } collectionsCount { count } }' });
    assert.deepEqual(r2.json.data.shop, { currencyCode: 'EUR', ianaTimezone: 'Europe/Berlin' });
    assert.equal(r2.json.data.collectionsCount.count, 32);
  } finally {
    child.kill('SIGTERM');
  }
});

test('seedDemo works in-process too', async () => {
  const f = await createFakeShopify();
  try {
    const [one] = seedDemo(f);
    const r = await post(f, { domain: one.domain, token: one.token,
      query: '{ collectionByIdentifier(identifier: { handle: "summer" }) { title productsCount { count } } }' });
    assert.deepEqual(r.json.data.collectionByIdentifier, { title: 'Summer', productsCount: { count: 3 } });
  } finally {
    await f.close();
  }
});
