// shopify_catalog.mjs - the fake Shopify's mutations for the catalog cycle
// (replace_job, product_creation).  Owned by "catalog".  shopify.mjs merges
// them into defaultResolvers (makeCatalogResolvers is given its helpers, so
// there is no import cycle).
//
//   productSet(input, synchronous)   creates a product: options, variants,
//       prices, tags, files (image as media), collections.  userErrors as
//       Shopify words them: HANDLE_NOT_UNIQUE, a bad image URL, a price out
//       of range (>= 1,000,000,000), a smart collection in collections.
//   productUpdate(product: ProductUpdateInput)   status, title,
//       descriptionHtml, tags, productType, vendor, seo, collectionsToJoin,
//       collectionsToLeave (smart ones refused).
//   publications / publishablePublish   "Online Store" and "Point of Sale";
//       publishing to the Online Store sets publishedAt once.
// Time: fake.clock (a Date or ISO string) when set, else real time, so a
// test can simulate a month.
export function makeCatalogResolvers({ connection, gid, parseGid, isoNow }) {
  const now = (ctx) => {
    const c = ctx.fake.clock;
    if (!c) return isoNow();
    return new Date(c).toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  const findProduct = (shop, id) => {
    const g = parseGid(id);
    return g && g.type === 'Product' ? shop.data.Product.find((p) => p.id === g.id) ?? null : null;
  };
  const findCollection = (shop, id) => {
    const g = parseGid(id);
    return g && g.type === 'Collection' ? shop.data.Collection.find((c) => c.id === g.id) ?? null : null;
  };
  const publications = (shop) => {
    if (!shop.data.Publication) {
      shop.data.Publication = ['Online Store', 'Point of Sale'].map((title, i) => {
        const id = 90000000001 + i;
        return { __typename: 'Publication', id, gid: gid('Publication', id), autoPublish: false,
          supportsFuturePublishing: false, hasCollection: false,
          catalog: { __typename: 'AppCatalog', id: gid('AppCatalog', id), title, status: 'ACTIVE', operations: [] } };
      });
    }
    return shop.data.Publication;
  };
  const PRICE_MAX = 1_000_000_000;
  const validUrl = (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.includes('.');
    } catch {
      return false;
    }
  };

  const productSet = (_r, { input }, ctx) => {
    const shop = ctx.shop;
    const errors = [];
    const err = (field, message, code) => errors.push({ field, message, code });
    if (!input.title) err(['input', 'title'], "Title can't be blank", 'INVALID_PRODUCT');
    const handle = input.handle || String(input.title ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
    if (shop.data.Product.some((p) => p.handle === handle)) {
      err(['input', 'handle'], `Handle '${handle}' already in use. Please provide a new handle.`, 'HANDLE_NOT_UNIQUE');
    }
    (input.files ?? []).forEach((f, i) => {
      if (!validUrl(f.originalSource)) {
        err(['input', 'files', String(i), 'originalSource'], 'Image URL is invalid', 'INVALID_INPUT');
      }
    });
    const options = input.productOptions ?? [];
    (input.variants ?? []).forEach((v, i) => {
      const price = Number(v.price ?? 0);
      if (!Number.isFinite(price) || price < 0 || price >= PRICE_MAX) {
        err(['input', 'variants', String(i), 'price'], 'Price must be less than 1000000000', 'INVALID_VARIANT');
      }
      for (const ov of v.optionValues ?? []) {
        const o = options.find((x) => x.name === ov.optionName);
        if (!o || !(o.values ?? []).some((x) => x.name === ov.name)) {
          err(['input', 'variants', String(i), 'optionValues'], `Option value '${ov.name}' does not exist`,
            'OPTION_VALUE_DOES_NOT_EXIST');
        }
      }
    });
    const cols = [];
    (input.collections ?? []).forEach((id, i) => {
      const c = findCollection(shop, id);
      if (!c) err(['input', 'collections', String(i)], 'Collection does not exist', 'INVALID_INPUT');
      else if (c.type === 'smart') {
        err(['input', 'collections', String(i)], "Can't manually add products to a smart collection", 'INVALID_INPUT');
      } else cols.push(c);
    });
    if (errors.length) return { product: null, productSetOperation: null, userErrors: errors };
    const t = now(ctx);
    const p = ctx.fake.addProduct(shop.domain, {
      title: input.title, handle, status: input.status ?? 'ACTIVE', productType: input.productType ?? '',
      vendor: input.vendor ?? shop.name, tags: [...(input.tags ?? [])], descriptionHtml: input.descriptionHtml ?? '',
      imageUrl: input.files?.[0]?.originalSource, createdAt: t, updatedAt: t, publishedAt: null,
      productOptions: options.map((o, i) => ({ name: o.name, position: o.position ?? i + 1,
        values: (o.values ?? []).map((x) => x.name) })),
      variants: (input.variants ?? [{ price: '0.00' }]).map((v) => ({
        title: (v.optionValues ?? []).map((x) => x.name).join(' / ') || 'Default Title',
        price: String(v.price ?? '0.00'), compareAtPrice: v.compareAtPrice ?? null, sku: v.sku ?? '',
        selectedOptions: (v.optionValues ?? []).map((x) => ({ name: x.optionName, value: x.name })),
        // As Shopify: a new variant is tracked with no stock and DENY
        // unless the input says otherwise, so it cannot be bought.
        tracked: v.inventoryItem?.tracked ?? true, inventoryPolicy: v.inventoryPolicy ?? 'DENY',
        inventoryQuantity: 0,
      })),
    });
    for (const c of cols) c.productIds.push(p.id);
    return { product: p, productSetOperation: null, userErrors: [] };
  };

  const productUpdate = (_r, { product: input }, ctx) => {
    const shop = ctx.shop;
    const p = findProduct(shop, input?.id);
    if (!p) return { product: null, userErrors: [{ field: ['id'], message: 'Product does not exist' }] };
    const errors = [];
    const leave = (input.collectionsToLeave ?? []).map((id) => [id, findCollection(shop, id)]);
    const join = (input.collectionsToJoin ?? []).map((id) => [id, findCollection(shop, id)]);
    for (const [id, c] of [...leave, ...join]) {
      if (!c) errors.push({ field: ['collectionsToJoin'], message: `Collection ${id} does not exist` });
      else if (c.type === 'smart') {
        errors.push({ field: ['collectionsToLeave'], message: "Can't manually remove products from a smart collection" });
      }
    }
    if (errors.length) return { product: null, userErrors: errors };
    for (const k of ['title', 'descriptionHtml', 'productType', 'vendor', 'status', 'handle', 'templateSuffix']) {
      if (input[k] !== undefined && input[k] !== null) p[k] = input[k];
    }
    if (input.tags) p.tags = [...input.tags];
    if (input.seo) {
      if (input.seo.title !== undefined) p.seoTitle = input.seo.title;
      if (input.seo.description !== undefined) p.seoDescription = input.seo.description;
    }
    for (const [, c] of leave) c.productIds = c.productIds.filter((x) => x !== p.id);
    for (const [, c] of join) if (!c.productIds.includes(p.id)) c.productIds.push(p.id);
    p.updatedAt = now(ctx);
    return { product: p, userErrors: [] };
  };

  const publishablePublish = (_r, { id, input }, ctx) => {
    const shop = ctx.shop;
    const p = findProduct(shop, id);
    if (!p) return { publishable: null, shop, userErrors: [{ field: ['id'], message: 'Product does not exist' }] };
    const pubs = publications(shop);
    for (const i of input) {
      const g = parseGid(i.publicationId);
      const pub = g && pubs.find((x) => x.id === g.id);
      if (!pub) return { publishable: null, shop, userErrors: [{ field: ['input', 'publicationId'], message: 'Publication does not exist' }] };
      p.publicationIds = [...new Set([...(p.publicationIds ?? []), pub.id])];
      if (pub.catalog.title === 'Online Store' && !p.publishedAt) p.publishedAt = now(ctx);
    }
    return { publishable: p, shop, userErrors: [] };
  };

  return {
    QueryRoot: {
      publications: (_r, args, ctx) => connection(publications(ctx.shop), args, { keepOrder: true, fieldName: 'publications' }),
      publication: (_r, { id }, ctx) => {
        const g = parseGid(id);
        return g ? publications(ctx.shop).find((x) => x.id === g.id) ?? null : null;
      },
    },
    Mutation: { productSet, productUpdate, publishablePublish },
    Product: {
      options: (p) => (p.productOptions?.length
        ? p.productOptions.map((o, i) => ({ __typename: 'ProductOption', id: gid('ProductOption', p.id * 10 + i),
          name: o.name, position: o.position, values: o.values, optionValues: [] }))
        : [{ __typename: 'ProductOption', id: gid('ProductOption', p.id), name: 'Title', position: 1,
          values: ['Default Title'], optionValues: [] }]),
    },
  };
}
