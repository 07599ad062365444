// shopify.mjs - a local stand-in for the Shopify Admin GraphQL API 2026-10.
//
// Every document is parsed and validated against the real 2026-10 schema
// (introspection in tests/specs), deprecated usage is recorded, the query
// cost is computed and charged to a per-shop leaky bucket, and the document is
// executed by graphql-js over in-memory shops.  See README.md next to this file.

import http from 'node:http';
import { readFileSync, realpathSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  buildClientSchema, parse, validate, specifiedRules, NoDeprecatedCustomRule,
  execute, getOperationAST, GraphQLError, Kind, valueFromAST, GraphQLInt,
  isNonNullType, isListType, isScalarType, isEnumType, isObjectType,
  isAbstractType, getNamedType, getNullableType, typeFromAST,
} from 'graphql';
import { makeCatalogResolvers } from './shopify_catalog.mjs';
import { installShopifyApp } from './shopify_install.mjs';
import { installShopifyTokens } from './shopify_tokens.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../..');
export const API_VERSION = '2026-10';
export const MAX_PAGE_SIZE = 250;
export const MAX_QUERY_COST = 1000;
export const BODY_LIMIT = 1024 * 1024;
export const INVALID_TOKEN_MESSAGE =
  '[API] Invalid API key or access token (unrecognized login or wrong password)';

// ---------------------------------------------------------------- schema ---

export function schemaPath() {
  return process.env.SHOPIFY_SCHEMA ||
    path.resolve(REPO_ROOT, 'tests/specs/shopify-admin-2026-10.introspection.json.gz');
}

let schemaCache = null;
/** The client schema, built once per process (about 0.3 s). */
export function loadSchema() {
  if (schemaCache) return schemaCache;
  const file = schemaPath();
  let raw = readFileSync(file);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  const json = JSON.parse(raw.toString('utf8'));
  schemaCache = buildClientSchema(json.data ?? json);
  return schemaCache;
}

// --------------------------------------------------------------- helpers ---

export const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
export const gid = (type, id) => `gid://shopify/${type}/${id}`;
export function parseGid(value) {
  const m = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d+)(?:\?.*)?$/.exec(String(value ?? ''));
  return m ? { type: m[1], id: Number(m[2]) } : null;
}
export function slugify(s) {
  return String(s).toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'item';
}
const stripHtml = (s) => String(s ?? '').replace(/<[^>]*>/g, '');
const money = (amount, currencyCode) => ({ amount: String(amount ?? '0.0'), currencyCode });
const toIso = (v) => (v instanceof Date ? v.toISOString().replace(/\.\d{3}Z$/, 'Z') : v);

/** A GraphQL error as Shopify words user-visible resolver errors. */
export function shopifyError(message, extensions) {
  return new GraphQLError(message, { extensions });
}

function encodeCursor(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64');
}
function decodeCursor(cursor) {
  try {
    const v = JSON.parse(Buffer.from(String(cursor), 'base64').toString('utf8'));
    if (v && typeof v === 'object' && 'last_id' in v) return v;
  } catch { /* fall through */ }
  throw shopifyError('Invalid cursor for current pagination sort.', { code: 'BAD_USER_INPUT' });
}

// ------------------------------------------------------------ search query ---

// A small subset of Shopify's search syntax: `word`, `field:value`,
// `field:val*`, `field:>x` / `<` / `>=` / `<=`, `-field:value`, `NOT term`,
// quoted values, AND (implicit), OR between terms.
export function parseSearch(q) {
  const tokens = [];
  const re = /\s*(-?)([A-Za-z_.]+:)?(>=|<=|>|<)?(?:"([^"]*)"|'([^']*)'|([^\s()]+))/g;
  let m;
  const text = String(q ?? '').trim();
  while ((m = re.exec(text)) !== null) {
    if (m[0].trim() === '') break;
    let value = m[4] ?? m[5] ?? m[6] ?? '';
    // "Date values must be a string surrounded by quotes" (Shopify API
    // search syntax): an unquoted timestamp is read as its date only, the
    // time part ignored (updated_at:>2022-03-13T14:00:00Z matches the
    // whole of March 13).
    if (m[6] !== undefined && m[2] && /^\d{4}-\d{2}-\d{2}T/.test(value)) value = value.slice(0, 10);
    tokens.push({ neg: m[1] === '-', field: m[2] ? m[2].slice(0, -1).toLowerCase() : null,
      value: (m[3] ?? '') + value });
  }
  const groups = [[]]; // OR of ANDs
  let negateNext = false;
  for (const t of tokens) {
    if (!t.field && t.value === 'AND') continue;
    if (!t.field && t.value === 'OR') { groups.push([]); continue; }
    if (!t.field && t.value === 'NOT') { negateNext = true; continue; }
    let { value } = t; let op = ':';
    const om = /^(>=|<=|>|<)(.*)$/.exec(value);
    if (t.field && om) { op = om[1]; value = om[2]; }
    groups[groups.length - 1].push({ field: t.field, op, value, neg: t.neg !== negateNext });
    negateNext = false;
  }
  return groups.filter((g) => g.length);
}

function termMatches(term, values) {
  const vals = (Array.isArray(values) ? values : [values]).filter((v) => v !== undefined && v !== null);
  const want = term.value.toLowerCase();
  return vals.some((raw) => {
    if (term.op !== ':') {
      const a = typeof raw === 'number' ? raw : String(raw);
      const b = typeof raw === 'number' ? Number(term.value) : term.value;
      if (term.op === '>') return a > b;
      if (term.op === '<') return a < b;
      if (term.op === '>=') return a >= b;
      return a <= b;
    }
    const v = String(raw).toLowerCase();
    if (want === '*') return true;
    if (want.endsWith('*')) return v.startsWith(want.slice(0, -1));
    if (!term.field) return v.includes(want);
    // field:value matches the whole value or whole words of it (title:shirt).
    return v === want || ` ${v.replace(/[^a-z0-9]+/g, ' ')} `.includes(` ${want} `);
  });
}

/** fields: { name: obj => value|values }, default: obj => values for bare words. */
export function searchFilter(query, fields) {
  const groups = parseSearch(query);
  if (!groups.length) return () => true;
  return (obj) => groups.some((g) => g.every((term) => {
    const getter = term.field ? fields[term.field] : fields.default;
    if (!getter) return true; // Shopify ignores unknown filters
    const hit = termMatches(term, getter(obj));
    return term.neg ? !hit : hit;
  }));
}

// ------------------------------------------------------------ connections ---

const commonSortKeys = {
  ID: (o) => o.id,
  RELEVANCE: (o) => o.id,
  TITLE: (o) => String(o.title ?? '').toLowerCase(),
  UPDATED_AT: (o) => String(o.updatedAt ?? ''),
  CREATED_AT: (o) => String(o.createdAt ?? ''),
  CREATED: (o) => String(o.createdAt ?? ''),
  PUBLISHED_AT: (o) => String(o.publishedAt ?? ''),
  VENDOR: (o) => String(o.vendor ?? '').toLowerCase(),
  PRODUCT_TYPE: (o) => String(o.productType ?? '').toLowerCase(),
  INVENTORY_TOTAL: (o) => Number(o.totalInventory ?? 0),
};

function cmpTuple(a, b) {
  for (let i = 0; i < 2; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

/**
 * A Relay connection over an array of stored objects (each with a numeric id).
 * args: first, last, after, before, reverse, sortKey, query.
 * opts: { filter: obj => bool, search: {field: getter}, sortKeys, defaultSortKey, keepOrder }
 */
export function connection(items, args = {}, opts = {}) {
  const { first, last, after, before, reverse, sortKey, query } = args;
  const fieldName = opts.fieldName ?? 'connection';
  const all = args.__all === true; // inside a bulk operation: every node
  if (!all && first == null && last == null) {
    throw shopifyError('you must provide one of first or last', { code: 'BAD_USER_INPUT' });
  }
  for (const [name, n] of [['first', first], ['last', last]]) {
    if (n == null) continue;
    if (n < 0) {
      throw shopifyError(`Argument '${name}' on Field '${fieldName}' must be a non-negative integer.`,
        { code: 'BAD_USER_INPUT' });
    }
    if (n > MAX_PAGE_SIZE) {
      throw shopifyError(`Argument '${name}' on Field '${fieldName}' has a value (${n}) that exceeds the maximum page size of ${MAX_PAGE_SIZE}.`,
        { code: 'BAD_USER_INPUT', maxPageSize: MAX_PAGE_SIZE });
    }
  }
  let list = items.filter((o) => o != null);
  if (opts.filter) list = list.filter(opts.filter);
  if (query && opts.search) list = list.filter(searchFilter(query, opts.search));
  const keys = { ...commonSortKeys, ...(opts.sortKeys ?? {}) };
  const key = sortKey && keys[sortKey] ? sortKey : (opts.defaultSortKey ?? 'ID');
  const keyFn = opts.keepOrder && !sortKey ? null : keys[key];
  let tuples = list.map((o, i) => ({ o, t: [keyFn ? keyFn(o) : i, o.id] }));
  if (keyFn) tuples.sort((a, b) => cmpTuple(a.t, b.t));
  if (reverse) tuples.reverse();
  const dir = reverse ? -1 : 1;
  const cursorOf = (x) => encodeCursor({ last_id: x.o.id, last_value: x.t[0] });
  const tupleOf = (c) => {
    const v = decodeCursor(c);
    if (!keyFn) {
      const idx = tuples.findIndex((x) => x.o.id === v.last_id);
      return [idx >= 0 ? tuples[idx].t[0] : v.last_value, v.last_id];
    }
    return [v.last_value, v.last_id];
  };
  let start = 0; let end = tuples.length;
  if (after != null) {
    const t = tupleOf(after);
    start = tuples.findIndex((x) => dir * cmpTuple(x.t, t) > 0);
    if (start < 0) start = tuples.length;
  }
  if (before != null) {
    const t = tupleOf(before);
    end = tuples.findIndex((x) => dir * cmpTuple(x.t, t) >= 0);
    if (end < 0) end = tuples.length;
  }
  if (end < start) end = start;
  if (first != null && end - start > first) end = start + first;
  if (last != null && end - start > last) start = end - last;
  const page = tuples.slice(start, end);
  const edges = page.map((x) => ({ cursor: cursorOf(x), node: x.o }));
  return {
    edges,
    nodes: page.map((x) => x.o),
    pageInfo: {
      hasNextPage: end < tuples.length,
      hasPreviousPage: start > 0,
      startCursor: edges.length ? edges[0].cursor : null,
      endCursor: edges.length ? edges[edges.length - 1].cursor : null,
    },
    totalCount: tuples.length,
  };
}

const emptyConnection = () => ({
  edges: [], nodes: [],
  pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
});

// ----------------------------------------------------------- timezone bits ---

function tzInfo(tz, date = new Date()) {
  let minutes = 0; let abbr = 'UTC';
  try {
    const off = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'shortOffset' })
      .formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{1,2})(?::(\d{2}))?/.exec(off);
    if (m) minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    abbr = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'short' })
      .formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? abbr;
  } catch { /* unknown zone: UTC */ }
  const a = Math.abs(minutes);
  const offset = `${minutes < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}${String(a % 60).padStart(2, '0')}`;
  return { minutes, offset, abbr };
}

// ------------------------------------------------------ collections & rules ---

const RULE_RELATION_TO_SOURCE = {
  EQUALS: 'EQUALS', NOT_EQUALS: 'NOT_EQUALS', CONTAINS: 'CONTAINS',
  NOT_CONTAINS: 'DOES_NOT_CONTAIN', STARTS_WITH: 'STARTS_WITH', ENDS_WITH: 'ENDS_WITH',
  GREATER_THAN: 'GREATER_THAN', LESS_THAN: 'LESS_THAN',
};
const SOURCE_CONDITION_TYPE = {
  TITLE: 'CollectionSourceInclusionConditionProductTitle',
  TYPE: 'CollectionSourceInclusionConditionProductType',
  VENDOR: 'CollectionSourceInclusionConditionProductVendor',
  TAG: 'CollectionSourceInclusionConditionProductTag',
  VARIANT_TITLE: 'CollectionSourceInclusionConditionVariantTitle',
  VARIANT_PRICE: 'CollectionSourceInclusionConditionVariantPrice',
  VARIANT_COMPARE_AT_PRICE: 'CollectionSourceInclusionConditionVariantCompareAtPrice',
  VARIANT_INVENTORY: 'CollectionSourceInclusionConditionVariantInventory',
};

function normalizeRule(r) {
  return {
    column: String(r.column ?? '').toUpperCase(),
    relation: String(r.relation ?? '').toUpperCase(),
    condition: String(r.condition ?? ''),
  };
}

function ruleValues(product, column) {
  switch (column) {
    case 'TITLE': return [product.title];
    case 'TYPE': return [product.productType];
    case 'VENDOR': return [product.vendor];
    case 'TAG': return product.tags ?? [];
    case 'VARIANT_TITLE': return (product.variants ?? []).map((v) => v.title);
    case 'VARIANT_PRICE': return (product.variants ?? []).map((v) => Number(v.price));
    case 'VARIANT_COMPARE_AT_PRICE': return (product.variants ?? []).map((v) => Number(v.compareAtPrice ?? NaN));
    case 'VARIANT_INVENTORY': return (product.variants ?? []).map((v) => Number(v.inventoryQuantity ?? 0));
    case 'IS_PRICE_REDUCED': return (product.variants ?? []).map((v) => String(v.compareAtPrice != null && Number(v.compareAtPrice) > Number(v.price)));
    default: return null;
  }
}

export function productMatchesRule(product, rule) {
  const vals = ruleValues(product, rule.column);
  if (vals === null) return false;
  const numeric = /PRICE|INVENTORY/.test(rule.column) && rule.column !== 'IS_PRICE_REDUCED';
  const cond = numeric ? Number(rule.condition) : rule.condition.toLowerCase();
  const norm = vals.map((v) => (numeric ? v : String(v ?? '').toLowerCase()));
  switch (rule.relation) {
    case 'EQUALS': return norm.some((v) => v === cond);
    case 'NOT_EQUALS': return norm.every((v) => v !== cond);
    case 'CONTAINS': return norm.some((v) => String(v).includes(cond));
    case 'NOT_CONTAINS': return norm.every((v) => !String(v).includes(cond));
    case 'STARTS_WITH': return norm.some((v) => String(v).startsWith(cond));
    case 'ENDS_WITH': return norm.some((v) => String(v).endsWith(cond));
    case 'GREATER_THAN': return norm.some((v) => v > cond);
    case 'LESS_THAN': return norm.some((v) => v < cond);
    case 'IS_SET': return norm.some((v) => v !== '' && !Number.isNaN(v));
    case 'IS_NOT_SET': return norm.every((v) => v === '' || Number.isNaN(v));
    default: return false;
  }
}

/** Product objects of a collection, in collection order. */
export function collectionProducts(shop, c) {
  const products = shop.data.Product;
  if (c.type === 'smart' && !c.explicitProducts) {
    const rules = c.rules ?? [];
    return products.filter((p) => rules.length > 0 &&
      (c.disjunctive ? rules.some((r) => productMatchesRule(p, r)) : rules.every((r) => productMatchesRule(p, r))));
  }
  return (c.productIds ?? []).map((id) => products.find((p) => p.id === id)).filter(Boolean);
}

function sourceCondition(c, rule, i) {
  const __typename = SOURCE_CONDITION_TYPE[rule.column] ?? 'CollectionSourceInclusionConditionUnknown';
  const base = { __typename, id: gid('CollectionSourceInclusionCondition', c.id * 100 + i + 1),
    matchType: 'ANY' };
  const rel = RULE_RELATION_TO_SOURCE[rule.relation] ?? rule.relation;
  switch (rule.column) {
    case 'TAG':
      return { ...base, relation: rule.relation === 'NOT_EQUALS' ? 'NOT_TAGGED_WITH' : 'TAGGED_WITH', values: [rule.condition] };
    case 'VARIANT_PRICE':
    case 'VARIANT_COMPARE_AT_PRICE':
      return { ...base, relation: rel, value: money(rule.condition, c.currency ?? 'USD') };
    case 'VARIANT_INVENTORY':
      return { ...base, relation: rel, value: Number(rule.condition) || 0 };
    default:
      if (__typename.endsWith('Unknown')) return { ...base, relation: rule.relation, values: [rule.condition] };
      return { ...base, relation: rel, values: [rule.condition] };
  }
}

// -------------------------------------------------------- default resolvers ---

const shopOf = (ctx) => ctx.shop;
const findIn = (shop, type, idOrGid) => {
  const g = parseGid(idOrGid);
  if (!g || g.type !== type) return null;
  return (shop.data[type] ?? []).find((o) => o.id === g.id) ?? null;
};

const collectionSearch = {
  default: (c) => [c.title],
  title: (c) => c.title, handle: (c) => c.handle, id: (c) => c.id,
  collection_type: (c) => c.type, updated_at: (c) => c.updatedAt,
  published_status: (c) => (c.published === false ? 'unpublished' : 'published'),
};
const productSearch = {
  default: (p) => [p.title, p.vendor, p.productType, ...(p.tags ?? [])],
  title: (p) => p.title, handle: (p) => p.handle, id: (p) => p.id, status: (p) => p.status,
  vendor: (p) => p.vendor, product_type: (p) => p.productType, tag: (p) => p.tags ?? [],
  tag_not: (p) => p.tags ?? [], created_at: (p) => p.createdAt, updated_at: (p) => p.updatedAt,
  published_at: (p) => p.publishedAt, sku: (p) => (p.variants ?? []).map((v) => v.sku),
};

const orderSearch = {
  default: (o) => [o.name],
  id: (o) => o.id, name: (o) => o.name, updated_at: (o) => o.updatedAt, created_at: (o) => o.createdAt,
  processed_at: (o) => o.processedAt,
};

// A line's own discount in cents, over all its units: discountTotal when
// given (it need not divide by the quantity), else discount per unit.
export const lineDiscountCents = (l) => (l.discountTotal != null ? cents(l.discountTotal)
  : cents(l.discount) * l.quantity);
// Shopify's "approximate" unit price: (total - discounts) / quantity,
// rounded to the cent.
const approxUnit = (l, disc) => (l.quantity ? Math.round((cents(l.price) * l.quantity - disc) / l.quantity)
  : cents(l.price));

/** Cents of a decimal string ("24.5" -> 2450); the fake keeps money exact. */
export function cents(v) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(v ?? '0'));
  if (!m) throw new Error(`fake-shopify: bad money ${v}`);
  const c = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -c : c;
}
export const fromCents = (c) => `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`;
const moneyBag = (amount, currencyCode) => ({ shopMoney: money(amount, currencyCode),
  presentmentMoney: money(amount, currencyCode) });

function countOf(n, limit) {
  if (limit != null && n > limit) return { count: limit, precision: 'AT_LEAST' };
  return { count: n, precision: 'EXACT' };
}

// Without read_all_orders "only the last 60 days' worth of orders from a
// store are accessible" (Order object docs): older orders (by creation) are
// neither listed, counted, exported nor found by id, nor are their refunds.
const ORDER_WINDOW_MS = 60 * 86400_000;
function orderVisible(ctx, o) {
  if (!o || ctx.shop.scopes.includes('read_all_orders')) return o;
  const now = ctx.fake?.clock ? Date.parse(ctx.fake.clock) : Date.now();
  return Date.parse(o.createdAt) >= now - ORDER_WINDOW_MS ? o : null;
}
const visibleOrders = (ctx) => (ctx.shop.data.Order ?? []).filter((o) => orderVisible(ctx, o));
function nodeVisible(ctx, n) {
  if (n?.__typename === 'Order') return orderVisible(ctx, n);
  if (n?.__typename === 'Refund') return orderVisible(ctx, n.order) ? n : null;
  return n;
}

function nodeLookup(shop, id) {
  const g = parseGid(id);
  if (!g) return null;
  if (g.type === 'Shop') return g.id === shop.id ? shop : null;
  if (g.type === 'Refund') {
    for (const o of shop.data.Order ?? []) {
      const r = (o.refunds ?? []).find((x) => x.id === g.id);
      if (r) return r;
    }
    return null;
  }
  if (g.type === 'ProductVariant') {
    for (const p of shop.data.Product) {
      const v = (p.variants ?? []).find((x) => x.id === g.id);
      if (v) return v;
    }
    return null;
  }
  return (shop.data[g.type] ?? []).find((o) => o.id === g.id) ?? null;
}

export const defaultResolvers = {
  QueryRoot: {
    shop: (_root, _args, ctx) => shopOf(ctx),
    collections: (_root, args, ctx) => connection(ctx.shop.data.Collection, args,
      { search: collectionSearch, fieldName: 'collections' }),
    collection: (_root, { id }, ctx) => findIn(ctx.shop, 'Collection', id),
    collectionByIdentifier: (_root, { identifier }, ctx) => {
      if (identifier?.id) return findIn(ctx.shop, 'Collection', identifier.id);
      if (identifier?.handle) return ctx.shop.data.Collection.find((c) => c.handle === identifier.handle) ?? null;
      return null;
    },
    collectionsCount: (_root, { query, limit }, ctx) => countOf(
      ctx.shop.data.Collection.filter(searchFilter(query, collectionSearch)).length, limit),
    products: (_root, args, ctx) => connection(ctx.shop.data.Product, args,
      { search: productSearch, fieldName: 'products' }),
    product: (_root, { id }, ctx) => findIn(ctx.shop, 'Product', id),
    productByIdentifier: (_root, { identifier }, ctx) => {
      if (identifier?.id) return findIn(ctx.shop, 'Product', identifier.id);
      if (identifier?.handle) return ctx.shop.data.Product.find((p) => p.handle === identifier.handle) ?? null;
      return null;
    },
    productsCount: (_root, { query, limit }, ctx) => countOf(
      ctx.shop.data.Product.filter(searchFilter(query, productSearch)).length, limit),
    productVariant: (_root, { id }, ctx) => {
      const n = nodeLookup(ctx.shop, id);
      return n?.__typename === 'ProductVariant' ? n : null;
    },
    orders: (_root, args, ctx) => connection(visibleOrders(ctx), args,
      { search: orderSearch, fieldName: 'orders', sortKeys: { PROCESSED_AT: (o) => String(o.processedAt ?? '') } }),
    order: (_root, { id }, ctx) => orderVisible(ctx, findIn(ctx.shop, 'Order', id)),
    ordersCount: (_root, { query, limit }, ctx) => countOf(
      visibleOrders(ctx).filter(searchFilter(query, orderSearch)).length, limit),
    currentAppInstallation: (_root, _a, ctx) => ({ __typename: 'AppInstallation', id: ctx.shop.id,
      gid: gid('AppInstallation', ctx.shop.id),
      accessScopes: ctx.shop.scopes.map((handle) => ({ __typename: 'AccessScope', handle, description: handle })) }),
    bulkOperation: (_root, { id }, ctx) => ctx.fake.pollBulk(ctx.shop, id),
    node: (_root, { id }, ctx) => nodeVisible(ctx, nodeLookup(ctx.shop, id)),
    nodes: (_root, { ids }, ctx) => ids.map((id) => nodeVisible(ctx, nodeLookup(ctx.shop, id))),
  },

  Mutation: {
    bulkOperationRunQuery: (_root, { query, groupObjects }, ctx) => ctx.fake.runBulk(ctx.shop, query,
      { groupObjects: groupObjects === true }),
  },

  Order: {
    lineItems: (o, args) => connection(o.lineItems, args, { keepOrder: true, fieldName: 'lineItems' }),
    refunds: (o) => o.refunds ?? [],
    currencyCode: (o, _a, ctx) => ctx.shop.currencyCode,
    presentmentCurrencyCode: (o, _a, ctx) => ctx.shop.currencyCode,
    currentSubtotalLineItemsQuantity: (o) => o.lineItems.reduce((n, l) => n + l.currentQuantity, 0),
    subtotalLineItemsQuantity: (o) => o.lineItems.reduce((n, l) => n + l.quantity, 0),
  },

  LineItem: {
    product: (l, _a, ctx) => ctx.shop.data.Product.find((p) => p.id === l.productId) ?? null,
    variant: (l, _a, ctx) => nodeLookup(ctx.shop, gid('ProductVariant', l.variantId ?? 0)),
    originalUnitPriceSet: (l, _a, ctx) => moneyBag(fromCents(cents(l.price)), ctx.shop.currencyCode),
    // Line-level discounts only, per unit (approximate when the line's
    // discount does not divide by its quantity).
    discountedUnitPriceSet: (l, _a, ctx) => moneyBag(fromCents(approxUnit(l, lineDiscountCents(l))),
      ctx.shop.currencyCode),
    // All discounts, line- and order-level, per unit: "approximate".
    discountedUnitPriceAfterAllDiscountsSet: (l, _a, ctx) => moneyBag(fromCents(approxUnit(l,
      lineDiscountCents(l) + (l.orderDiscountCents ?? 0))), ctx.shop.currencyCode),
    originalTotalSet: (l, _a, ctx) => moneyBag(fromCents(cents(l.price) * l.quantity), ctx.shop.currencyCode),
    // Every unit ordered (refunded and removed ones too), line-level
    // discounts only.
    discountedTotalSet: (l, _a, ctx) => moneyBag(fromCents(cents(l.price) * l.quantity - lineDiscountCents(l)),
      ctx.shop.currencyCode),
    totalDiscountSet: (l, _a, ctx) => moneyBag(fromCents(lineDiscountCents(l)), ctx.shop.currencyCode),
    // Line- and order-level allocations, over every unit ordered.
    discountAllocations: (l, _a, ctx) => [
      ...(lineDiscountCents(l) ? [{ cents: lineDiscountCents(l), type: 'LINE_ITEM', method: 'EACH' }] : []),
      ...(l.orderDiscountCents ? [{ cents: l.orderDiscountCents, type: 'LINE_ITEM', method: 'ACROSS' }] : []),
    ].map((a) => ({ __typename: 'DiscountAllocation', allocatedAmountSet: moneyBag(fromCents(a.cents), ctx.shop.currencyCode),
      discountApplication: { __typename: 'ManualDiscountApplication', allocationMethod: a.method, targetSelection:
        a.method === 'ACROSS' ? 'ALL' : 'EXPLICIT', targetType: a.type, title: 'Discount', index: 0,
      value: money(fromCents(a.cents), ctx.shop.currencyCode) } })),
    refundableQuantity: (l) => l.currentQuantity,
  },

  Refund: {
    refundLineItems: (r, args) => connection(r.refundLineItems ?? [], args, { keepOrder: true, fieldName: 'refundLineItems' }),
  },

  Shop: {
    id: (s) => gid('Shop', s.id),
    contactEmail: (s) => s.contactEmail ?? s.email,
    myshopifyDomain: (s) => s.domain,
    url: (s) => s.url ?? `https://${s.primaryDomainHost ?? s.domain}`,
    primaryDomain: (s) => {
      const host = s.primaryDomainHost ?? s.domain;
      return { __typename: 'Domain', id: gid('Domain', s.id), host, url: `https://${host}`, sslEnabled: true,
        localization: null, marketWebPresence: null };
    },
    domains: (s, a, ctx, info) => [defaultResolvers.Shop.primaryDomain(s, a, ctx, info)],
    timezoneAbbreviation: (s) => s.timezoneAbbreviation ?? tzInfo(s.ianaTimezone).abbr,
    timezoneOffset: (s) => s.timezoneOffset ?? tzInfo(s.ianaTimezone).offset,
    timezoneOffsetMinutes: (s) => s.timezoneOffsetMinutes ?? tzInfo(s.ianaTimezone).minutes,
    plan: (s) => ({
      displayName: s.planDisplayName, publicDisplayName: s.planDisplayName,
      partnerDevelopment: Boolean(s.partnerDevelopment), shopifyPlus: Boolean(s.shopifyPlus),
    }),
    billingAddress: (s) => s.address,
    shopAddress: (s) => s.address,
    currencyFormats: (s) => s.currencyFormats ?? {
      moneyFormat: '${{amount}}', moneyInEmailsFormat: '${{amount}}',
      moneyWithCurrencyFormat: `\${{amount}} ${s.currencyCode}`,
      moneyWithCurrencyInEmailsFormat: `\${{amount}} ${s.currencyCode}`,
    },
    enabledPresentmentCurrencies: (s) => s.enabledPresentmentCurrencies ?? [s.currencyCode],
    shipsToCountries: (s) => s.shipsToCountries ?? [s.address?.countryCodeV2 ?? 'US'],
    collections: (s, args) => connection(s.data.Collection, args, { search: collectionSearch, fieldName: 'collections' }),
    products: (s, args) => connection(s.data.Product, args, { search: productSearch, fieldName: 'products' }),
    resourceLimits: (s) => s.resourceLimits ?? {
      locationLimit: 1000, maxProductOptions: 3, maxProductVariants: 2048, redirectLimitReached: false },
    richTextEditorUrl: (s) => `https://admin.shopify.com/store/${s.domain.replace(/\.myshopify\.com$/, '')}/rte`,
    storefrontUrl: (s) => `https://${s.primaryDomainHost ?? s.domain}`,
  },

  ShopAddress: {},

  Collection: {
    description: (c, { truncateAt }) => {
      const d = stripHtml(c.descriptionHtml);
      return truncateAt && d.length > truncateAt ? `${d.slice(0, Math.max(0, truncateAt - 3))}...` : d;
    },
    descriptionHtml: (c) => c.descriptionHtml ?? '',
    sortOrder: (c) => c.sortOrder ?? (c.type === 'smart' ? 'BEST_SELLING' : 'MANUAL'),
    productsCount: (c, _a, ctx) => countOf(collectionProducts(ctx.shop, c).length),
    hasProduct: (c, { id }, ctx) => {
      const g = parseGid(id);
      return Boolean(g) && collectionProducts(ctx.shop, c).some((p) => p.id === g.id);
    },
    products: (c, args, ctx) => connection(collectionProducts(ctx.shop, c), args,
      { keepOrder: true, fieldName: 'products', sortKeys: { COLLECTION_DEFAULT: null, MANUAL: null, BEST_SELLING: null } }),
    ruleSet: (c) => (c.type === 'smart'
      ? { appliedDisjunctively: Boolean(c.disjunctive),
        rules: (c.rules ?? []).map((r) => ({ ...r, conditionObject: null })) }
      : null),
    sources: (c) => (c.type === 'smart'
      ? [{
        __typename: 'CollectionConditionsSource', id: gid('CollectionConditionsSource', c.id),
        title: c.title, description: null, app: null, shareable: false, targetType: 'PRODUCTS',
        collectionRef: c,
        inclusion: {
          matchType: c.disjunctive ? 'ANY' : 'ALL',
          conditions: (c.rules ?? []).map((r, i) => sourceCondition(c, r, i)),
          selections: emptyConnection(),
        },
        exclusion: null,
      }]
      : []),
    seo: (c) => ({ title: c.seoTitle ?? null, description: c.seoDescription ?? null }),
    image: (c) => (c.imageUrl ? { id: gid('CollectionImage', c.id), url: c.imageUrl, altText: c.title,
      width: 1024, height: 1024 } : null),
    storefrontId: (c) => Buffer.from(gid('Collection', c.id)).toString('base64'),
  },

  CollectionConditionsSource: {
    products: (s, args, ctx) => connection(collectionProducts(ctx.shop, s.collectionRef), args,
      { keepOrder: true, fieldName: 'products' }),
  },

  Product: {
    description: (p, { truncateAt }) => {
      const d = stripHtml(p.descriptionHtml);
      return truncateAt && d.length > truncateAt ? `${d.slice(0, Math.max(0, truncateAt - 3))}...` : d;
    },
    onlineStoreUrl: (p, _a, ctx) => (p.status === 'ACTIVE' && p.publishedAt
      ? `https://${ctx.shop.primaryDomainHost ?? ctx.shop.domain}/products/${p.handle}` : null),
    onlineStorePreviewUrl: (p, _a, ctx) => `https://${ctx.shop.domain}/products/${p.handle}`,
    collections: (p, args, ctx) => connection(
      ctx.shop.data.Collection.filter((c) => collectionProducts(ctx.shop, c).includes(p)), args,
      { search: collectionSearch, fieldName: 'collections' }),
    inCollection: (p, { id }, ctx) => {
      const c = findIn(ctx.shop, 'Collection', id);
      return Boolean(c) && collectionProducts(ctx.shop, c).includes(p);
    },
    variants: (p, args) => connection(p.variants ?? [], args, { keepOrder: true, fieldName: 'variants' }),
    variantsCount: (p) => countOf((p.variants ?? []).length),
    totalInventory: (p) => (p.variants ?? []).reduce((n, v) => n + Number(v.inventoryQuantity ?? 0), 0),
    hasOnlyDefaultVariant: (p) => (p.variants ?? []).length <= 1,
    priceRangeV2: (p, _a, ctx) => {
      const prices = (p.variants ?? []).map((v) => Number(v.price));
      const lo = prices.length ? Math.min(...prices) : 0; const hi = prices.length ? Math.max(...prices) : 0;
      return { minVariantPrice: money(lo.toFixed(2), ctx.shop.currencyCode),
        maxVariantPrice: money(hi.toFixed(2), ctx.shop.currencyCode) };
    },
    featuredMedia: (p) => (p.imageUrl ? productMedia(p) : null),
    media: (p, args) => connection(p.imageUrl ? [productMedia(p)] : [], args, { keepOrder: true, fieldName: 'media' }),
    mediaCount: (p) => countOf(p.imageUrl ? 1 : 0),
    seo: (p) => ({ title: p.seoTitle ?? null, description: p.seoDescription ?? null }),
    options: (p) => [{ __typename: 'ProductOption', id: gid('ProductOption', p.id), name: 'Title', position: 1,
      values: ['Default Title'], optionValues: [] }],
  },

  ProductVariant: {
    product: (v, _a, ctx) => ctx.shop.data.Product.find((p) => p.id === v.productId) ?? null,
    displayName: (v, _a, ctx) => {
      const p = ctx.shop.data.Product.find((x) => x.id === v.productId);
      return `${p?.title ?? ''} - ${v.title}`;
    },
    // Shopify: an untracked variant is always for sale; a tracked one
    // while it has stock, or without stock with inventoryPolicy CONTINUE.
    availableForSale: (v) => v.tracked === false || Number(v.inventoryQuantity ?? 0) > 0 ||
      v.inventoryPolicy === 'CONTINUE',
    inventoryItem: (v) => ({ __typename: 'InventoryItem', id: gid('InventoryItem', v.id), tracked: v.tracked !== false,
      sku: v.sku ?? null, requiresShipping: true }),
  },
};

// Catalog cycle mutations (productSet, productUpdate, publications,
// publishablePublish): tests/fakes/shopify_catalog.mjs.  Fields defined
// above win.
for (const [type, fields] of Object.entries(makeCatalogResolvers({ connection, gid, parseGid, isoNow }))) {
  defaultResolvers[type] = { ...fields, ...(defaultResolvers[type] ?? {}) };
}

function productMedia(p) {
  return {
    __typename: 'MediaImage', id: gid('MediaImage', p.id), alt: p.title, mediaContentType: 'IMAGE',
    status: 'READY', fileStatus: 'READY', createdAt: p.createdAt, updatedAt: p.updatedAt,
    image: { id: gid('ProductImage', p.id), url: p.imageUrl, altText: p.title, width: 1024, height: 1024 },
    preview: { status: 'READY', image: { id: gid('ProductImage', p.id), url: p.imageUrl, altText: p.title, width: 1024, height: 1024 } },
    mimeType: 'image/png',
  };
}

// ------------------------------------------------- defaults for unknowns ---

const SCALAR_DEFAULTS = {
  String: '', Int: 0, Float: 0, Boolean: false, BigInt: '0', Color: '#000000',
  Date: '1970-01-01', Decimal: '0.0', Money: '0.00', FormattedString: '', HTML: '', JSON: {},
  UnsignedInt64: '0', UtcOffset: '+00:00', ARN: '',
};

/** A plausible value of a non-null type, so clients see no fake-only error. */
function defaultValue(type, source, info, ctx) {
  if (!isNonNullType(type)) return null;
  const inner = getNullableType(type);
  if (isListType(inner)) return [];
  if (isEnumType(inner)) {
    const vals = inner.getValues();
    return (vals.find((v) => !v.deprecationReason) ?? vals[0]).value;
  }
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID': return gid(info.parentType.name, typeof source?.id === 'number' ? source.id : 0);
      case 'DateTime': return ctx?.shop?.createdAt ?? '1970-01-01T00:00:00Z';
      case 'URL': return `https://${ctx?.shop?.domain ?? 'example.myshopify.com'}`;
      case 'StorefrontID': return Buffer.from(gid(info.parentType.name, 0)).toString('base64');
      default: return SCALAR_DEFAULTS[inner.name] ?? '';
    }
  }
  if (isAbstractType(inner)) {
    const [first] = info.schema.getPossibleTypes(inner);
    return { __typename: first.name };
  }
  if (isObjectType(inner)) {
    const f = inner.getFields();
    if (f.pageInfo && (f.edges || f.nodes)) return emptyConnection();
    if (inner.name === 'Count') return { count: 0, precision: 'EXACT' };
    return {};
  }
  return null;
}

// -------------------------------------------------------------- cost model ---

function isConnectionType(t) {
  const n = getNamedType(t);
  if (!isObjectType(n)) return false;
  const f = n.getFields();
  return Boolean(f.pageInfo && (f.edges || f.nodes));
}

/**
 * Shopify's documented query cost: scalars and enums 0, objects 1,
 * connections 2 + (first|last) x the cost of one node, mutations 10.
 * With `data` it prices what was actually returned (actualQueryCost).
 */
export function queryCost(schema, document, operation, variables = {}) {
  const fragments = Object.create(null);
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const vars = { ...variables };
  for (const vd of operation.variableDefinitions ?? []) {
    const name = vd.variable.name.value;
    if (vars[name] === undefined && vd.defaultValue) {
      const t = typeFromAST(schema, vd.type);
      if (t) vars[name] = valueFromAST(vd.defaultValue, t, {});
    }
  }
  const intArg = (field, name) => {
    const a = (field.arguments ?? []).find((x) => x.name.value === name);
    if (!a) return null;
    const v = valueFromAST(a.value, GraphQLInt, vars);
    return typeof v === 'number' ? v : null;
  };

  // Fields grouped by concrete type condition (null = applies to every type).
  function collect(selectionSet, parentType, out = new Map(), cond = null, seen = new Set()) {
    for (const sel of selectionSet.selections) {
      if (sel.kind === Kind.FIELD) {
        if (!out.has(cond)) out.set(cond, []);
        out.get(cond).push(sel);
      } else {
        let frag = sel;
        if (sel.kind === Kind.FRAGMENT_SPREAD) {
          if (seen.has(sel.name.value)) continue;
          seen.add(sel.name.value);
          frag = fragments[sel.name.value];
          if (!frag) continue;
        }
        let c = cond;
        const tc = frag.typeCondition?.name.value;
        if (tc && isAbstractType(parentType) && isObjectType(schema.getType(tc))) c = tc;
        collect(frag.selectionSet, parentType, out, c, seen);
      }
    }
    return out;
  }

  function selectionCost(selectionSet, parentType, data) {
    if (!selectionSet) return 0;
    const groups = collect(selectionSet, parentType);
    const common = groups.get(null) ?? [];
    let best = 0;
    for (const [cond, fields] of groups) {
      if (cond === null) continue;
      if (data && data.__typename && data.__typename !== cond) continue;
      const type = schema.getType(cond) ?? parentType;
      best = Math.max(best, fields.reduce((n, f) => n + fieldCost(f, type, data), 0));
    }
    return common.reduce((n, f) => n + fieldCost(f, parentType, data), 0) + best;
  }

  function fieldCost(field, parentType, data) {
    const name = field.name.value;
    if (name.startsWith('__')) return 0;
    const def = parentType.getFields?.()[name];
    if (!def) return 0;
    const key = field.alias?.value ?? name;
    let value;
    if (data !== undefined) {
      if (data === null || !(key in data)) return 0;
      value = data[key];
      if (Array.isArray(value)) value = value.find((x) => x != null) ?? null;
    }
    const named = getNamedType(def.type);
    if (isScalarType(named) || isEnumType(named)) return 0;
    if (isConnectionType(def.type)) {
      if (data !== undefined && value === null) return 2;
      return 2 + connectionItemsCost(field, named, value);
    }
    if (data !== undefined && value === null) return 1;
    return 1 + selectionCost(field.selectionSet, named, value);
  }

  function connectionItemsCost(field, connType, value) {
    const n = Math.max(intArg(field, 'first') ?? 0, intArg(field, 'last') ?? 0);
    const fields = connType.getFields();
    let total = 0;
    for (const sub of collect(field.selectionSet, connType).get(null) ?? []) {
      const sname = sub.name.value; const skey = sub.alias?.value ?? sname;
      if (sname === 'nodes') {
        const nodeType = getNamedType(fields.nodes.type);
        if (value === undefined) total += n * (1 + selectionCost(sub.selectionSet, nodeType, undefined));
        else for (const node of value?.[skey] ?? []) total += node == null ? 0 : 1 + selectionCost(sub.selectionSet, nodeType, node);
      } else if (sname === 'edges') {
        const edgeType = getNamedType(fields.edges.type);
        const perEdge = (edge) => {
          let c = 0;
          for (const ef of collect(sub.selectionSet, edgeType).get(null) ?? []) {
            if (ef.name.value !== 'node') continue;
            const nodeType = getNamedType(edgeType.getFields().node.type);
            const nodeKey = ef.alias?.value ?? 'node';
            if (edge === undefined) c += 1 + selectionCost(ef.selectionSet, nodeType, undefined);
            else if (edge?.[nodeKey] != null) c += 1 + selectionCost(ef.selectionSet, nodeType, edge[nodeKey]);
          }
          return c;
        };
        if (value === undefined) total += n * perEdge(undefined);
        else for (const edge of value?.[skey] ?? []) total += perEdge(edge);
      }
      // pageInfo and other connection fields are free.
    }
    return total;
  }

  const isMutation = operation.operation === 'mutation';
  const root = isMutation ? schema.getMutationType() : schema.getQueryType();
  const rootFields = collect(operation.selectionSet, root).get(null) ?? [];
  const price = (data) => {
    if (isMutation) return rootFields.filter((f) => !f.name.value.startsWith('__')).length * 10;
    return selectionCost(operation.selectionSet, root, data);
  };
  return { requested: price(undefined), actual: (data) => price(data ?? null) };
}

// Shuffles lines in place (Fisher-Yates, mulberry32 seeded with seed).
function ungroup(lines, seed) {
  let a = seed | 0;
  const rnd = () => {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
}

// ------------------------------------------------------------ access scopes ---

export const DEFAULT_SCOPES = Object.freeze(['read_products', 'write_products', 'read_orders',
  'read_inventory', 'write_inventory', 'read_publications', 'write_publications']);

function requiredScope(fieldName, isMutation) {
  const f = fieldName.toLowerCase();
  const area = /order|fulfil|draft|return/.test(f) ? 'orders'
    : /customer/.test(f) ? 'customers'
      : /inventory|location/.test(f) ? 'inventory'
        : /publication|publish/.test(f) ? 'publications'
          : /theme/.test(f) ? 'themes'
            : /metaobject/.test(f) ? 'metaobjects'
              : /file|staged/.test(f) ? 'files'
                : 'products';
  return `${isMutation ? 'write' : 'read'}_${area}`;
}

// ---------------------------------------------------------------- the fake ---

const STATUS_BODIES = {
  400: { errors: 'Bad Request' },
  401: { errors: INVALID_TOKEN_MESSAGE },
  402: { errors: 'Unavailable Shop' },
  403: { errors: '[API] This action requires merchant approval for read_products scope.' },
  404: { errors: 'Not Found' },
  406: { errors: 'Not Acceptable' },
  423: { errors: 'This shop is unavailable' },
  429: { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' },
  500: { errors: 'Internal Server Error' },
};
const HTML_5XX = (status) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shopify</title></head>
<body><h1>${status === 503 ? 'Service Unavailable' : status === 502 ? 'Bad Gateway' : status === 504 ? 'Gateway Timeout' : 'There was a problem loading this website'}</h1>
<p>Please try refreshing the page.</p></body></html>
`;

export async function createFakeShopify({ port = 0, host = '127.0.0.1', restoreRate = 100,
  bucketSize = 2000, bodyLimit = BODY_LIMIT } = {}) {
  const schema = loadSchema();
  const shops = new Map();
  const modes = new Map();
  const docCache = new Map();
  const sockets = new Set();
  const bulkFiles = new Map();
  let nextId = 100000000001;
  let shopSeq = 60000000001;

  const fake = {
    url: '',
    baseUrlTemplate: '',
    apiVersion: API_VERSION,
    schema,
    shops,
    requests: [],
    deprecations: [],
    validationErrors: [],
    resolvers: Object.fromEntries(Object.entries(defaultResolvers).map(([k, v]) => [k, { ...v }])),
    nextId: () => nextId++,
    gid,
    graphqlUrl(domain, version = API_VERSION) {
      return `${fake.url}/${domain}/admin/api/${version}/graphql.json`;
    },
    addResolvers(map) {
      for (const [type, fields] of Object.entries(map)) {
        fake.resolvers[type] = { ...(fake.resolvers[type] ?? {}), ...fields };
      }
      return fake;
    },
    getShop(domain) {
      return shops.get(String(domain).toLowerCase()) ?? null;
    },
    addShop({ domain, token, name, email, currency = 'USD', ianaTimezone = 'America/New_York',
      planDisplayName = 'Basic', address, ...rest } = {}) {
      if (!domain || !/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(String(domain).toLowerCase())) {
        throw new Error(`addShop: domain must be name.myshopify.com, got ${domain}`);
      }
      if (!token) throw new Error('addShop: token is required');
      const d = String(domain).toLowerCase();
      const shortName = d.replace(/\.myshopify\.com$/, '');
      const createdAt = toIso(rest.createdAt) ?? '2021-03-04T15:16:17Z';
      const shop = {
        __typename: 'Shop',
        id: rest.id ?? shopSeq++,
        domain: d,
        token,
        name: name ?? shortName,
        email: email ?? `owner@${shortName}.example`,
        currencyCode: currency,
        ianaTimezone,
        planDisplayName,
        createdAt,
        updatedAt: toIso(rest.updatedAt) ?? createdAt,
        weightUnit: 'POUNDS',
        unitSystem: 'IMPERIAL_SYSTEM',
        setupRequired: false,
        taxesIncluded: false,
        taxShipping: false,
        checkoutApiSupported: true,
        transactionalSmsDisabled: false,
        marketingSmsConsentEnabledAtCheckout: false,
        description: null,
        shopOwnerName: rest.shopOwnerName ?? 'Shop Owner',
        orderNumberFormatPrefix: '#',
        orderNumberFormatSuffix: '',
        alerts: [],
        // Granted access scopes (currentAppInstallation.accessScopes):
        // without read_all_orders only the last 60 days of orders show.
        scopes: DEFAULT_SCOPES,
        ...rest,
        address: {
          id: gid('ShopAddress', rest.id ?? shopSeq), address1: '150 Elgin Street', address2: null,
          city: 'Ottawa', province: 'Ontario', provinceCode: 'ON', zip: 'K2P 1L4', country: 'Canada',
          countryCodeV2: 'CA', phone: '+16135550100', company: null, latitude: 45.42, longitude: -75.69,
          coordinatesValidated: false, formattedArea: 'Ottawa ON, Canada',
          ...(address ?? {}),
        },
        data: { Collection: [], Product: [], ...(rest.data ?? {}) },
        bucket: { available: rest.bucketSize ?? bucketSize, at: performance.now(),
          max: rest.bucketSize ?? bucketSize, rate: rest.restoreRate ?? restoreRate },
      };
      if (!Array.isArray(shop.address.formatted)) {
        const a = shop.address;
        a.formatted = [a.address1, `${a.city} ${a.provinceCode ?? ''} ${a.zip ?? ''}`.trim(), a.country].filter(Boolean);
      }
      shops.set(d, shop);
      return shop;
    },
    addCollection(domain, { title, handle, type = 'custom', rules, disjunctive = false, productIds,
      ...rest } = {}) {
      const shop = mustShop(domain);
      if (!title) throw new Error('addCollection: title is required');
      if (type !== 'custom' && type !== 'smart') throw new Error('addCollection: type is custom or smart');
      const id = rest.id ?? nextId++;
      const now = isoNow();
      const c = {
        __typename: 'Collection',
        title,
        handle: handle ?? slugify(title),
        templateSuffix: null,
        createdAt: now,
        updatedAt: now,
        publishedAt: now,
        ...rest,
        id,
        gid: gid('Collection', id),
        legacyResourceId: String(id),
        type,
        rules: type === 'smart' ? (rules ?? []).map(normalizeRule) : null,
        disjunctive: Boolean(disjunctive),
        productIds: (productIds ?? []).map((p) => (typeof p === 'object' ? p.id : parseGid(p)?.id ?? Number(p))),
        explicitProducts: type === 'smart' && Array.isArray(productIds),
        currency: shop.currencyCode,
      };
      shop.data.Collection.push(c);
      return c;
    },
    addProduct(domain, { title, handle, status = 'ACTIVE', price = '19.99', collections, variants,
      ...rest } = {}) {
      const shop = mustShop(domain);
      if (!title) throw new Error('addProduct: title is required');
      const id = rest.id ?? nextId++;
      const now = isoNow();
      const p = {
        __typename: 'Product',
        handle: handle ?? slugify(title),
        vendor: shop.name,
        productType: '',
        tags: [],
        descriptionHtml: '',
        templateSuffix: null,
        isGiftCard: false,
        tracksInventory: true,
        requiresSellingPlan: false,
        createdAt: now,
        updatedAt: now,
        publishedAt: status === 'ACTIVE' ? now : null,
        ...rest,
        title,
        status,
        id,
        gid: gid('Product', id),
        legacyResourceId: String(id),
      };
      p.variants = (variants ?? [{ title: 'Default Title', price }]).map((v, i) => {
        const vid = v.id ?? nextId++;
        return {
          __typename: 'ProductVariant', sku: `${p.handle}-${i + 1}`, inventoryQuantity: 10,
          compareAtPrice: null, barcode: null, position: i + 1, taxable: true,
          inventoryPolicy: 'DENY', createdAt: p.createdAt, updatedAt: p.updatedAt, ...v,
          price: String(v.price ?? price), id: vid, gid: gid('ProductVariant', vid),
          legacyResourceId: String(vid), productId: id,
        };
      });
      shop.data.Product.push(p);
      for (const ref of collections ?? []) {
        const cid = typeof ref === 'object' ? ref.id : parseGid(ref)?.id ?? Number(ref);
        const c = shop.data.Collection.find((x) => x.id === cid);
        if (!c) throw new Error(`addProduct: no collection ${ref}`);
        if (c.type === 'smart' && !c.explicitProducts) throw new Error('addProduct: smart collections pick products by rules');
        c.productIds.push(id);
      }
      return p;
    },
    /**
     * An order: lines [{ productId | product, quantity, price, discount }]
     * (discount per unit); processedAt, createdAt, updatedAt, cancelledAt.
     */
    addOrder(domain, { lines = [], processedAt, createdAt, updatedAt, cancelledAt = null, ...rest } = {}) {
      const shop = mustShop(domain);
      shop.data.Order ??= [];
      const id = rest.id ?? nextId++;
      const created = toIso(createdAt ?? processedAt) ?? isoNow();
      const o = {
        __typename: 'Order', name: `#${1000 + shop.data.Order.length + 1}`, ...rest,
        id, gid: gid('Order', id), legacyResourceId: String(id),
        processedAt: toIso(processedAt) ?? created, createdAt: created,
        updatedAt: toIso(updatedAt) ?? isoNow(), cancelledAt: toIso(cancelledAt), lineItems: [], refunds: [],
      };
      o.test = rest.test === true;
      for (const l of lines) fake.addLineItem(o, l);
      if (rest.orderDiscount != null) fake.allocateOrderDiscount(o, cents(rest.orderDiscount));
      shop.data.Order.push(o);
      return o;
    },
    /**
     * An order-level discount (a code for the whole order): allocated to the
     * lines in proportion to their discounted totals, the cent left over
     * by rounding down to the last line, as Shopify's ACROSS allocation.
     */
    allocateOrderDiscount(o, total) {
      const lines = o.lineItems;
      const base = lines.map((l) => cents(l.price) * l.quantity - lineDiscountCents(l));
      const sum = base.reduce((a, b) => a + b, 0);
      let left = total;
      lines.forEach((l, i) => {
        const c = i === lines.length - 1 ? left : Math.floor((total * base[i]) / (sum || 1));
        l.orderDiscountCents = c;
        left -= c;
      });
    },
    addLineItem(order, { productId, product, quantity = 1, price = '10.00', discount = '0.00', discountTotal = null,
      title }) {
      const lid = nextId++;
      const pid = product?.id ?? productId ?? null;
      const li = { __typename: 'LineItem', id: lid, gid: gid('LineItem', lid), productId: pid,
        title: title ?? (product?.title ?? 'Custom item'), name: title ?? (product?.title ?? 'Custom item'),
        quantity, currentQuantity: quantity, price: String(price), discount: String(discount),
        discountTotal: discountTotal == null ? null : String(discountTotal), orderDiscountCents: 0,
        sku: null, requiresShipping: true, taxable: true, isGiftCard: false };
      cents(li.price); cents(li.discount);
      order.lineItems.push(li);
      return li;
    },
    getOrder(domain, id) {
      return (mustShop(domain).data.Order ?? []).find((o) => o.id === id) ?? null;
    },
    /** An order edit: set: [{ index, quantity }] (new current quantity), add: [line]. */
    editOrder(domain, id, { set = [], add = [] } = {}) {
      const o = fake.getOrder(domain, id);
      if (!o) throw new Error(`editOrder: no order ${id}`);
      for (const { index, quantity } of set) {
        const li = o.lineItems[index];
        if (!li || quantity < 0 || quantity > li.currentQuantity) throw new Error('editOrder: bad line');
        li.currentQuantity = quantity;
      }
      for (const l of add) fake.addLineItem(o, l);
      o.updatedAt = isoNow();
      return o;
    },
    /**
     * A refund of [{ index, quantity }]: refunded units leave
     * currentQuantity; each refund line's subtotal is the units' share of
     * the line after all its discounts (rounded to the cent, the last
     * units of a line taking what is left).  amount: money refunded
     * without a line item (an amount only).
     */
    refundOrder(domain, id, items, { amount = null } = {}) {
      const o = fake.getOrder(domain, id);
      if (!o) throw new Error(`refundOrder: no order ${id}`);
      const rid = nextId++;
      const refund = { __typename: 'Refund', id: rid, gid: gid('Refund', rid), createdAt: isoNow(), refundLineItems: [] };
      Object.defineProperty(refund, 'order', { value: o, enumerable: false }); // for the 60-day window
      let total = amount == null ? 0 : cents(amount);
      for (const { index, quantity } of items) {
        const li = o.lineItems[index];
        if (!li || quantity < 1 || quantity > li.currentQuantity) throw new Error('refundOrder: bad line');
        li.refundedQuantity = (li.refundedQuantity ?? 0) + quantity;
        li.refundedCents ??= 0;
        const net = cents(li.price) * li.quantity - lineDiscountCents(li) - (li.orderDiscountCents ?? 0);
        const sub = li.refundedQuantity === li.quantity ? net - li.refundedCents
          : Math.round((net * quantity) / li.quantity);
        li.refundedCents += sub;
        li.currentQuantity -= quantity;
        total += sub;
        const rlid = nextId++;
        refund.refundLineItems.push({ __typename: 'RefundLineItem', id: rlid, gid: gid('RefundLineItem', rlid), quantity, lineItem: li,
          restockType: 'NO_RESTOCK', subtotalSet: moneyBag(fromCents(sub), o.currencyCode ?? 'USD') });
      }
      refund.totalRefundedSet = moneyBag(fromCents(total), o.currencyCode ?? 'USD');
      o.refunds.push(refund);
      o.updatedAt = isoNow();
      return refund;
    },
    cancelOrder(domain, id) {
      const o = fake.getOrder(domain, id);
      if (!o) throw new Error(`cancelOrder: no order ${id}`);
      o.cancelledAt = isoNow();
      o.cancelReason = 'CUSTOMER';
      o.updatedAt = o.cancelledAt;
      return o;
    },
    /** Polls a bulk operation answers RUNNING before COMPLETED. */
    bulkPolls: 1,
    bulkOperations: [],
    runBulk(shop, query, { groupObjects = false } = {}) {
      shop.data.BulkOperation ??= [];
      const busy = shop.data.BulkOperation.find((b) => b.status === 'CREATED' || b.status === 'RUNNING');
      if (busy) {
        return { bulkOperation: null, userErrors: [{ field: null, code: 'OPERATION_IN_PROGRESS',
          message: `A bulk query operation for this app and shop is already in progress: ${busy.gid}.` }] };
      }
      const compiled = compile(query);
      if (compiled.errors.length) {
        for (const e of compiled.errors) {
          fake.validationErrors.push({ shop: shop.domain, message: e.message, query, locations: e.locations,
            code: e.extensions.code, bulk: true });
        }
        return { bulkOperation: null, userErrors: [{ field: ['query'], code: 'INVALID',
          message: `Invalid bulk query: ${compiled.errors[0].message}` }] };
      }
      for (const message of compiled.deprecations) fake.deprecations.push({ shop: shop.domain, message, query, bulk: true });
      const id = nextId++;
      const op = { __typename: 'BulkOperation', id, gid: gid('BulkOperation', id), status: 'CREATED', type: 'QUERY',
        query, createdAt: isoNow(), completedAt: null, errorCode: null, objectCount: '0', rootObjectCount: '0',
        fileSize: null, url: null, partialDataUrl: null, polls: 0, token: randomUUID(), jsonl: null };
      shop.data.BulkOperation.push(op);
      fake.bulkOperations.push({ shop: shop.domain, id: op.gid, query });
      const result = execute({ schema, document: compiled.document, rootValue: {},
        contextValue: { fake, shop, domain: shop.domain, mode: null, variables: {}, bulk: true },
        fieldResolver, typeResolver });
      const lines = []; let roots = 0;
      const emit = (node, parentId) => {
        const copy = {}; const kids = [];
        for (const [k, v] of Object.entries(node)) {
          if (v && typeof v === 'object' && !Array.isArray(v) && (Array.isArray(v.edges) || Array.isArray(v.nodes))) {
            kids.push(v);
          } else copy[k] = v;
        }
        if (parentId) copy.__parentId = parentId;
        lines.push(JSON.stringify(copy));
        for (const c of kids) for (const n of c.nodes ?? c.edges.map((e) => e.node)) emit(n, copy.id);
      };
      if (result.errors?.length) {
        op.status = 'FAILED'; op.errorCode = 'INTERNAL_SERVER_ERROR';
      } else {
        for (const conn of Object.values(result.data ?? {})) {
          for (const n of conn?.nodes ?? (conn?.edges ?? []).map((e) => e.node)) { roots++; emit(n, null); }
        }
        // groupObjects false (the default since 2025-10): no promise that
        // a child follows its parent; the fake puts them in a scrambled,
        // reproducible order, children often before their parents.
        if (!groupObjects) ungroup(lines, id);
        op.jsonl = lines.length ? `${lines.join('\n')}\n` : null;
        op.objectCount = String(lines.length); op.rootObjectCount = String(roots);
      }
      return { bulkOperation: op, userErrors: [] };
    },
    pollBulk(shop, id) {
      const op = findIn(shop, 'BulkOperation', id);
      if (!op) return null;
      if (op.status === 'CREATED' || op.status === 'RUNNING') {
        op.polls += 1;
        if (op.polls > fake.bulkPolls) {
          op.status = 'COMPLETED'; op.completedAt = isoNow();
          if (op.jsonl !== null) {
            bulkFiles.set(op.token, op.jsonl);
            op.url = `${fake.url}/__bulk/${op.token}.jsonl`;
            op.fileSize = String(Buffer.byteLength(op.jsonl));
          }
        } else op.status = 'RUNNING';
      }
      return op;
    },
    setMode(domain, mode) {
      const d = String(domain).toLowerCase();
      if (mode == null) modes.delete(d);
      else modes.set(d, { ...mode });
    },
    getMode(domain) {
      return modes.get(String(domain).toLowerCase()) ?? null;
    },
    /** Current throttle status of a shop's bucket (after refill). */
    throttleStatus(domain) {
      return throttleStatus(mustShop(domain));
    },
    /** Set a shop's bucket level, e.g. 0 to empty it. */
    setBucket(domain, available) {
      const shop = mustShop(domain);
      refill(shop);
      shop.bucket.available = Math.max(0, Math.min(shop.bucket.max, available));
    },
    reset() {
      fake.requests.length = 0;
      fake.deprecations.length = 0;
      fake.validationErrors.length = 0;
      modes.clear();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };

  function mustShop(domain) {
    const shop = fake.getShop(domain);
    if (!shop) throw new Error(`fake-shopify: unknown shop ${domain}`);
    return shop;
  }

  function refill(shop) {
    const b = shop.bucket; const now = performance.now();
    b.available = Math.min(b.max, b.available + ((now - b.at) / 1000) * b.rate);
    b.at = now;
  }
  function throttleStatus(shop, forcedEmpty = false) {
    refill(shop);
    return { maximumAvailable: shop.bucket.max,
      currentlyAvailable: forcedEmpty ? 0 : Math.floor(shop.bucket.available),
      restoreRate: shop.bucket.rate };
  }

  function compile(query) {
    let entry = docCache.get(query);
    if (entry) return entry;
    entry = { document: null, errors: [], deprecations: [] };
    try {
      entry.document = parse(query);
    } catch (e) {
      entry.errors = [{ message: e.message, locations: e.locations,
        extensions: { code: 'GRAPHQL_PARSE_FAILED' } }];
    }
    if (entry.document) {
      entry.errors = validate(schema, entry.document, specifiedRules).map((e) => ({
        message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
      if (!entry.errors.length) {
        entry.deprecations = validate(schema, entry.document, [NoDeprecatedCustomRule]).map((e) => e.message);
      }
    }
    if (docCache.size > 500) docCache.delete(docCache.keys().next().value);
    docCache.set(query, entry);
    return entry;
  }

  function fieldResolver(source, args, ctx, info) {
    const { fieldName, parentType, returnType } = info;
    if (ctx.accessDenied && (parentType === schema.getQueryType() || parentType === schema.getMutationType())) {
      const denied = ctx.accessDenied === true ? fieldName !== 'shop' : ctx.accessDenied.includes(fieldName);
      if (denied) {
        const scope = requiredScope(fieldName, parentType === schema.getMutationType());
        throw shopifyError(`Access denied for ${fieldName} field. Required access: \`${scope}\` access scope.`, {
          code: 'ACCESS_DENIED', documentation: 'https://shopify.dev/api/usage/access-scopes',
          requiredAccess: `\`${scope}\` access scope.` });
      }
    }
    const custom = fake.resolvers[parentType.name]?.[fieldName];
    if (ctx.bulk && args.first == null && args.last == null && isConnectionType(returnType)) {
      args = { ...args, __all: true };
    }
    let value;
    if (typeof custom === 'function') value = custom(source, args, ctx, info);
    else if (source != null && typeof source === 'object') {
      if (fieldName === 'id' && typeof source.gid === 'string') value = source.gid;
      else if (fieldName === 'legacyResourceId' && typeof source.id === 'number') value = String(source.id);
      else {
        value = source[fieldName];
        if (typeof value === 'function') value = value.call(source, args, ctx, info);
      }
    }
    if (value === undefined || value === null) return defaultValue(returnType, source, info, ctx);
    if (value instanceof Promise) {
      return value.then((v) => (v == null ? defaultValue(returnType, source, info, ctx) : v));
    }
    return value;
  }

  function typeResolver(value, _ctx, info, abstractType) {
    if (value?.__typename) return value.__typename;
    const g = parseGid(value?.gid ?? value?.id);
    if (g && info.schema.getType(g.type)) return g.type;
    return info.schema.getPossibleTypes(abstractType)[0]?.name;
  }

  // ------------------------------------------------------------ HTTP ---

  function send(res, entry, status, body, headers = {}) {
    entry.status = status;
    const isJson = typeof body !== 'string';
    const text = isJson ? JSON.stringify(body) : body;
    res.writeHead(status, {
      'Content-Type': isJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'X-Request-Id': randomUUID(),
      ...headers,
    });
    res.end(text);
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://fake');
    const bm = /^\/__bulk\/([0-9a-f-]+)\.jsonl$/.exec(url.pathname);
    if (bm && req.method === 'GET') {
      const text = bulkFiles.get(bm[1]);
      const e = { shop: null, method: 'GET', path: url.pathname, bulkDownload: true, status: null };
      fake.requests.push(e);
      req.resume();
      if (text === undefined) return send(res, e, 404, '<h1>NoSuchKey</h1>');
      e.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/jsonl', 'Content-Length': Buffer.byteLength(text) });
      return res.end(text);
    }
    if (fake.oauthRoutes(req, res, url)) return undefined; // shopify_install.mjs
    const m = /^\/([^/]+)\/admin\/api\/([^/]+)\/graphql\.json$/.exec(url.pathname);
    const entry = { shop: m ? decodeURIComponent(m[1]).toLowerCase() : null, method: req.method,
      path: url.pathname, version: m ? m[2] : null, query: null, variables: null,
      operationName: null, status: null, cost: null };
    fake.requests.push(entry);
    if (!m || req.method !== 'POST' || !/^\d{4}-\d{2}$/.test(m[2])) {
      req.resume();
      return send(res, entry, 404, STATUS_BODIES[404]);
    }
    const shop = fake.getShop(entry.shop);
    if (!shop) {
      req.resume();
      return send(res, entry, 404, STATUS_BODIES[404]);
    }
    const mode = modes.get(shop.domain) ?? null;
    if (mode?.hang) {
      entry.status = 'hang';
      req.resume();
      return undefined; // never answers; close() destroys the socket
    }
    if (mode?.trickle) {
      // Headers at once, then one byte of a JSON answer every trickleMs
      // (default 1000), forever: only the client's timeout ends it.
      entry.status = 'trickle';
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      const every = Number(mode.trickleMs) > 0 ? Number(mode.trickleMs) : 1000;
      const t = setInterval(() => { if (!res.destroyed) res.write(' '); }, every);
      res.write('{"data":');
      res.on('close', () => clearInterval(t));
      return undefined;
    }
    if (mode?.delayMs) await new Promise((r) => setTimeout(r, mode.delayMs));
    // gate: a test's barrier (a Promise); the request waits for it, then
    // is answered with the shop's state as it is then (e.g. uninstalled).
    if (mode?.gate) {
      entry.gated = true;
      await mode.gate;
    }

    const body = await readBody(req, bodyLimit);
    // cutMutations: 'truncate' | 'reset': a mutation is carried out, then
    // its answer is lost that way (what a client sees when the network or
    // Shopify fails after the change was made).  Set once it ran.
    let cut = null;
    const finish = (status, payload, headers) => {
      if (mode?.reset || cut === 'reset') {
        // Part of the answer, then a TCP RST (not a clean FIN).
        entry.status = status;
        entry.reset = true;
        const text = JSON.stringify(payload);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(text), ...headers });
        res.write(text.slice(0, Math.max(1, Math.floor(text.length / 3))), () => {
          const sock = res.socket;
          if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
          else res.destroy();
        });
        return undefined;
      }
      if ((mode?.truncate || cut === 'truncate') && typeof payload !== 'string') {
        entry.status = status;
        const text = JSON.stringify(payload);
        const half = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(text), ...headers });
        res.write(half, () => res.destroy());
        entry.truncated = true;
        return undefined;
      }
      return send(res, entry, status, payload, headers);
    };
    if (body.tooLarge) {
      res.setHeader('Connection', 'close');
      return finish(413, { errors: 'Request Entity Too Large' });
    }
    if (mode?.status) {
      const st = mode.status;
      const headers = { ...(mode.headers ?? {}) };
      if (st === 429 && !headers['Retry-After']) headers['Retry-After'] = String(mode.retryAfter ?? '2.0');
      let payload = mode.body ?? STATUS_BODIES[st] ?? (st >= 500 ? HTML_5XX(st) : { errors: http.STATUS_CODES[st] ?? 'Error' });
      if (st >= 502 && st <= 504 && !mode.body) payload = HTML_5XX(st);
      return finish(st, payload, headers);
    }
    const token = req.headers['x-shopify-access-token'];
    if (token) entry.tokenId = fake.tokenId(token);
    if (!token || !fake.acceptsToken(shop, token)) {
      return finish(401, STATUS_BODIES[401]);
    }
    // A test's hook, run before the request is answered (e.g. to change
    // the shop's data between two pages, as a merchant would).
    if (typeof mode?.onRequest === 'function') mode.onRequest(entry);
    if (mode?.failAfter != null) {
      // The first failAfter requests pass, every later one fails the way
      // Shopify answers an internal error (HTTP 200, a top-level error).
      if (mode.failAfter <= 0) {
        entry.errors = ['INTERNAL_SERVER_ERROR'];
        return finish(200, { errors: [{ message: 'Internal error. Looks like something went wrong on our end.',
          extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      }
      mode.failAfter -= 1;
    }

    // Body: JSON {query, variables, operationName} or application/graphql.
    let query; let variables = {}; let operationName = null;
    const ctype = String(req.headers['content-type'] ?? '');
    if (/application\/graphql/i.test(ctype)) {
      query = body.text;
    } else {
      try {
        const j = JSON.parse(body.text);
        query = j?.query;
        variables = j?.variables ?? {};
        if (typeof variables === 'string') variables = variables ? JSON.parse(variables) : {};
        operationName = j?.operationName ?? null;
      } catch {
        query = undefined;
      }
    }
    if (typeof query !== 'string' || !query.trim() || typeof variables !== 'object' || Array.isArray(variables)) {
      return finish(400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    entry.query = query; entry.variables = variables; entry.operationName = operationName;

    const compiled = compile(query);
    if (compiled.errors.length) {
      for (const e of compiled.errors) {
        fake.validationErrors.push({ shop: shop.domain, message: e.message, query, locations: e.locations,
          code: e.extensions.code });
      }
      entry.errors = compiled.errors.map((e) => e.extensions.code);
      return finish(200, { errors: compiled.errors });
    }
    const headers = {};
    if (compiled.deprecations.length) {
      for (const message of compiled.deprecations) fake.deprecations.push({ shop: shop.domain, message, query });
      headers['X-Shopify-API-Deprecated-Reason'] = 'https://shopify.dev/api/usage/versioning#deprecation-practices';
    } else if (mode?.deprecatedVersion) {
      // As Shopify answers a call to an API version past its support
      // window: the header on every answer, the call still served.
      headers['X-Shopify-API-Deprecated-Reason'] = 'https://shopify.dev/api/usage/versioning#deprecation-practices';
    }
    headers['X-Shopify-API-Version'] = API_VERSION;
    const { document } = compiled;
    const operation = getOperationAST(document, operationName);
    if (!operation) {
      const message = operationName ? `No operation named "${operationName}"`
        : 'An operation name is required when the document contains multiple operations.';
      fake.validationErrors.push({ shop: shop.domain, message, query, code: 'GRAPHQL_VALIDATION_FAILED' });
      return finish(200, { errors: [{ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }, headers);
    }

    const pricing = queryCost(schema, document, operation, variables);
    const requested = pricing.requested;
    if (requested > MAX_QUERY_COST) {
      entry.cost = { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus(shop) };
      entry.errors = ['MAX_COST_EXCEEDED'];
      return finish(200, {
        errors: [{
          message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n`,
          extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST },
        }],
        extensions: { cost: entry.cost },
      }, headers);
    }
    refill(shop);
    const forced = Boolean(mode?.throttleNext && mode.throttleNext > 0);
    if (forced) mode.throttleNext -= 1;
    if (forced || requested > shop.bucket.available) {
      entry.cost = { requestedQueryCost: requested, actualQueryCost: null,
        throttleStatus: throttleStatus(shop, forced) };
      entry.errors = ['THROTTLED'];
      entry.throttled = true;
      return finish(200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED',
          documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: entry.cost },
      }, headers);
    }
    shop.bucket.available -= requested;

    const ctx = { fake, shop, domain: shop.domain, mode, variables,
      accessDenied: mode?.accessDenied ? (Array.isArray(mode.accessDenied) ? mode.accessDenied : true) : null };
    let result;
    try {
      result = await execute({ schema, document, rootValue: {}, contextValue: ctx, variableValues: variables,
        operationName, fieldResolver, typeResolver });
    } catch (e) {
      shop.bucket.available += requested;
      return finish(500, { errors: [{ message: `fake-shopify internal error: ${e.message}` }] });
    }
    if (result.data === undefined) {
      // Variable coercion failed: nothing ran; a client bug like a validation error.
      shop.bucket.available += requested;
      const errors = result.errors.map((e) => ({ message: e.message, locations: e.locations,
        extensions: { code: 'INVALID_VARIABLE' } }));
      for (const e of errors) {
        fake.validationErrors.push({ shop: shop.domain, message: e.message, query, code: 'INVALID_VARIABLE' });
      }
      entry.errors = ['INVALID_VARIABLE'];
      return finish(200, { errors }, headers);
    }
    const actual = Math.min(requested, pricing.actual(result.data));
    refill(shop);
    shop.bucket.available = Math.min(shop.bucket.max, shop.bucket.available + (requested - actual));
    entry.cost = { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus(shop) };
    const out = {};
    if (result.errors?.length) {
      out.errors = result.errors.map((e) => e.toJSON());
      entry.errors = out.errors.map((e) => e.extensions?.code ?? 'ERROR');
    }
    out.data = result.data;
    out.extensions = { cost: entry.cost };
    if (operation.operation === 'mutation' && mode?.cutMutations) cut = mode.cutMutations;
    return finish(200, out, headers);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: `fake-shopify internal error: ${e.message}` }] }));
      } else res.destroy();
    });
  });
  server.requestTimeout = 0; // `hang` must really hang
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  fake.url = `http://${hostPart}:${addr.port}`;
  fake.port = addr.port;
  fake.baseUrlTemplate = `${fake.url}/{shop}`;
  fake.server = server;
  installShopifyTokens(fake);
  installShopifyApp(fake);
  return fake;
}

function readBody(req, limit) {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ tooLarge: true });
      return;
    }
    const chunks = []; let size = 0; let done = false;
    req.on('data', (c) => {
      if (done) return;
      size += c.length;
      if (size > limit) { done = true; resolve({ tooLarge: true }); return; }
      chunks.push(c);
    });
    req.on('end', () => { if (!done) { done = true; resolve({ text: Buffer.concat(chunks).toString('utf8') }); } });
    req.on('error', () => { if (!done) { done = true; resolve({ text: '' }); } });
  });
}

// ------------------------------------------------------------------- demo ---

// The demo shops granted the default scopes and read_all_orders (an owner
// may; shopify_scopes in reboss.conf asks for it), so their sales history
// has no 60-day limit and the demo shows no such warning.
const DEMO_SCOPES = [...DEFAULT_SCOPES, 'read_all_orders'];
export const DEMO_SHOPS = [
  { domain: 'demo-one.myshopify.com', token: 'shpat_demo_one_0000000000000000000000', name: 'Demo One',
    email: 'owner@demo-one.example', currency: 'USD', ianaTimezone: 'America/New_York', planDisplayName: 'Basic',
    scopes: DEMO_SCOPES },
  { domain: 'demo-two.myshopify.com', token: 'shpat_demo_two_0000000000000000000000', name: 'Demo Two',
    email: 'owner@demo-two.example', currency: 'EUR', ianaTimezone: 'Europe/Berlin', planDisplayName: 'Shopify',
    scopes: DEMO_SCOPES },
];

const DEMO_DAY = 86400_000;

/**
 * Seeds the two demo shops (see README.md).  Products were published
 * weeks before `now` and orders came in over the last days, so that the
 * jobs have real work (tests/demo.mjs): Forest Poster sold nothing for
 * weeks, the other posters sold in the last days.
 */
export function seedDemo(fake, now = Date.now()) {
  const [one, two] = DEMO_SHOPS.map((s) => fake.addShop(s));
  const ago = (days) => toIso(new Date(now - days * DEMO_DAY));
  const posters = fake.addCollection(one.domain, { title: 'Posters', handle: 'posters' });
  const mugs = fake.addCollection(one.domain, { title: 'Mugs', handle: 'mugs' });
  fake.addCollection(one.domain, { title: 'Empty Custom', handle: 'empty-custom' });
  // title, type, tags, price, collection, days since published, units sold
  // [days ago, quantity]...
  const items = [
    ['Sunset Poster', 'poster', ['summer', 'wall-art'], '24.00', posters, 40, [[1, 2], [3, 1]]],
    ['Forest Poster', 'poster', ['wall-art'], '22.00', posters, 40, [[33, 1]]],
    ['Ocean Poster', 'poster', ['summer', 'wall-art'], '26.00', posters, 39, [[2, 1]]],
    ['Cat Mug', 'mug', ['animals'], '14.00', mugs, 30, [[4, 1]]],
    ['Dog Mug', 'mug', ['animals', 'summer'], '14.00', mugs, 35, [[5, 2]]],
    ['Retired Mug', 'mug', ['animals'], '12.00', mugs, 90, []],
  ];
  for (const [title, productType, tags, price, col, age, sales] of items) {
    const p = fake.addProduct(one.domain, { title, productType, tags, price, collections: [col],
      status: title.startsWith('Retired') ? 'ARCHIVED' : 'ACTIVE', vendor: 'Demo One',
      descriptionHtml: `<p>${title}: printed on demand.</p>`,
      createdAt: ago(age + 1), updatedAt: ago(age), publishedAt: title.startsWith('Retired') ? null : ago(age),
      imageUrl: `https://cdn.shopify.example/${slugify(title)}.png` });
    for (const [days, quantity] of sales) {
      fake.addOrder(one.domain, { processedAt: ago(days), updatedAt: ago(days),
        lines: [{ productId: p.id, quantity, price }] });
    }
  }
  fake.addCollection(one.domain, { title: 'Summer', handle: 'summer', type: 'smart',
    rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'summer' }] });
  fake.addCollection(one.domain, { title: 'Cheap or Mugs', handle: 'cheap-or-mugs', type: 'smart', disjunctive: true,
    rules: [{ column: 'VARIANT_PRICE', relation: 'LESS_THAN', condition: '15' },
      { column: 'TYPE', relation: 'EQUALS', condition: 'mug' }] });

  // demo-two: enough collections for several pages.
  for (let i = 1; i <= 30; i++) {
    const c = fake.addCollection(two.domain, { title: `Collection ${String(i).padStart(2, '0')}`,
      handle: `collection-${i}` });
    const p = fake.addProduct(two.domain, { title: `Product ${i}`, productType: i % 2 ? 'shirt' : 'hoodie',
      tags: [i % 3 ? 'basic' : 'premium'], price: String(10 + i), collections: [c],
      createdAt: ago(61 - i), updatedAt: ago(60 - i), publishedAt: ago(60 - i) });
    if (i % 4 === 0) {
      fake.addOrder(two.domain, { processedAt: ago(i / 4), updatedAt: ago(i / 4),
        lines: [{ productId: p.id, quantity: 1, price: p.variants[0].price }] });
    }
  }
  fake.addCollection(two.domain, { title: 'Premium', handle: 'premium', type: 'smart',
    rules: [{ column: 'TAG', relation: 'EQUALS', condition: 'premium' }] });
  fake.addCollection(two.domain, { title: 'Hoodies', handle: 'hoodies', type: 'smart',
    rules: [{ column: 'TYPE', relation: 'EQUALS', condition: 'hoodie' }] });
  return [one, two];
}

// -------------------------------------------------------------------- CLI ---

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch { return false; }
}

if (isMain()) {
  const argv = process.argv.slice(2);
  const opt = (name, def) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
  };
  const fake = await createFakeShopify({
    port: Number(opt('--port', 0)), host: opt('--host', '127.0.0.1'),
    restoreRate: Number(opt('--restore-rate', 100)), bucketSize: Number(opt('--bucket-size', 2000)),
  });
  const shops = argv.includes('--demo') ? seedDemo(fake).map((s) => ({ domain: s.domain, token: s.token })) : [];
  process.stdout.write(`${JSON.stringify({ url: fake.url, baseUrlTemplate: fake.baseUrlTemplate,
    apiVersion: API_VERSION, shops })}\n`);
  const stop = () => { fake.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
