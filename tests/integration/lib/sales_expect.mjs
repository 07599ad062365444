// sales_expect.mjs - product_sales_daily as a fake Shopify shop's orders say
// it must be, computed independently of jobs/sales_tracker.c (used by
// sales.test.mjs and drills.test.mjs).
import { cents, lineDiscountCents } from '../../fakes/shopify.mjs';

// Rounded half away from zero (revenue of units removed by an edit).
const roundAway = (x) => Math.sign(x) * Math.round(Math.abs(x));

// Net sales of a line in cents (reboss-jobs(8)): what it sold for after
// every discount, less what was refunded for it, less the share of units
// an order edit removed.  From the fake's own bookkeeping.
function lineNetCents(o, l) {
  const net = cents(l.price) * l.quantity - lineDiscountCents(l) - (l.orderDiscountCents ?? 0);
  let refunded = 0; let rq = 0;
  for (const r of o.refunds ?? []) {
    for (const x of r.refundLineItems) {
      if (x.lineItem !== l) continue;
      refunded += cents(x.subtotalSet.shopMoney.amount);
      rq += x.quantity;
    }
  }
  const removed = l.quantity - l.currentQuantity - rq;
  return net - refunded - (removed > 0 ? roundAway((net * removed) / l.quantity) : 0);
}

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
    if (o.cancelledAt || o.test) continue;
    const day = localDay(o.processedAt, tz);
    const perProduct = new Map();
    for (const l of o.lineItems) {
      if (l.productId == null || !productIds.has(l.productId)) continue;
      const c = perProduct.get(l.productId) ?? { units: 0, cents: 0 };
      c.units += l.currentQuantity;
      c.cents += lineNetCents(o, l);
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
