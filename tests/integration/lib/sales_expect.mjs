// sales_expect.mjs - product_sales_daily as a fake Shopify shop's orders say
// it must be, computed independently of jobs/sales_tracker.c (used by
// sales.test.mjs and drills.test.mjs).
import { cents } from '../../fakes/shopify.mjs';

// The calendar day (YYYY-MM-DD) of iso in the IANA zone tz.
export function localDay(iso, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(iso));
}

// shop: fake.getShop(domain).  Rows { product_id, day, units, cents,
// orders } sorted by product_id, day.
export function expectedSalesDaily(shop) {
  const tz = shop.ianaTimezone;
  const productIds = new Set(shop.data.Product.map((p) => p.id));
  const perKey = new Map();
  for (const o of shop.data.Order ?? []) {
    if (o.cancelledAt) continue;
    const day = localDay(o.processedAt, tz);
    const perProduct = new Map();
    for (const l of o.lineItems) {
      if (l.productId == null || !productIds.has(l.productId)) continue;
      const c = perProduct.get(l.productId) ?? { units: 0, cents: 0 };
      c.units += l.currentQuantity;
      c.cents += l.currentQuantity * (cents(l.price) - cents(l.discount));
      perProduct.set(l.productId, c);
    }
    for (const [pid, c] of perProduct) {
      if (c.units === 0 && c.cents === 0) continue;
      const k = `${pid}|${day}`;
      const e = perKey.get(k) ?? { product_id: pid, day, units: 0, cents: 0, orders: 0 };
      e.units += c.units; e.cents += c.cents; e.orders += c.units > 0 ? 1 : 0;
      perKey.set(k, e);
    }
  }
  return [...perKey.values()].sort((a, b) => a.product_id - b.product_id || a.day.localeCompare(b.day));
}
