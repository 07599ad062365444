// shopify_product_update.mjs - productUpdate for the fake Shopify, the
// non-deprecated 2026-10 way: productUpdate(product: ProductUpdateInput!)
// (the old `input: ProductInput` argument is deprecated; the fake records
// its use in fake.deprecations).  Owned by product_optimize; kept apart
// from shopify.mjs so that file stays its owner's.
//
//   import { productUpdateResolvers } from '../fakes/shopify_product_update.mjs';
//   fake.addResolvers(productUpdateResolvers);
//   fake.productUpdates   -> [{ shop, id, product }] every accepted update
import { isoNow } from './shopify.mjs';

export const productUpdateResolvers = {
  Mutation: {
    productUpdate: (_r, args, ctx) => {
      const input = args.product ?? args.input;
      if (!input?.id) {
        return { product: null, userErrors: [{ field: ['id'], message: 'Product id is required' }] };
      }
      const p = ctx.shop.data.Product.find((x) => x.gid === input.id);
      if (!p) return { product: null, userErrors: [{ field: ['id'], message: 'Product does not exist' }] };
      if (input.title !== undefined && String(input.title).trim() === '') {
        return { product: null, userErrors: [{ field: ['title'], message: "Title can't be blank" }] };
      }
      if (input.title != null && input.title.length > 255) {
        return { product: null, userErrors: [{ field: ['title'], message: 'Title is too long (maximum is 255 characters)' }] };
      }
      if (input.title != null) p.title = input.title;
      if (input.descriptionHtml != null) p.descriptionHtml = input.descriptionHtml;
      if (input.tags != null) {
        // Shopify takes a list or one comma-separated string; trims, drops
        // empties and duplicates (case-insensitive).
        const raw = Array.isArray(input.tags) ? input.tags : String(input.tags).split(',');
        const seen = new Set();
        p.tags = [];
        for (const t of raw.map((x) => String(x).trim()).filter(Boolean)) {
          if (seen.has(t.toLowerCase())) continue;
          seen.add(t.toLowerCase());
          p.tags.push(t);
        }
      }
      if (input.seo) {
        if (input.seo.title !== undefined) p.seoTitle = input.seo.title === '' ? null : input.seo.title;
        if (input.seo.description !== undefined) {
          p.seoDescription = input.seo.description === '' ? null : input.seo.description;
        }
      }
      p.updatedAt = isoNow();
      ctx.fake.productUpdates ??= [];
      ctx.fake.productUpdates.push({ shop: ctx.domain, id: p.id, product: input });
      return { product: p, userErrors: [] };
    },
  },
};
