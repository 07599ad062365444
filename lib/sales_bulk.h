/*
 * sales_bulk.h - Shopify order objects -> each order's contribution per
 * product (struct sales_order), whatever order the objects come in.
 * Owned by the sales_tracker; unit-tested in tests/unit/test_sales_bulk.c,
 * fuzzed by fuzz/fuzz_bulk.c.
 *
 * Input: JSON objects told apart by the type of their "id":
 *   Order           {id, processedAt, cancelledAt, test, updatedAt,
 *                    refunds [{id, refundLineItems? {nodes [...],
 *                    pageInfo {hasNextPage}}}]}
 *   LineItem        {id, __parentId (its Order), quantity, currentQuantity,
 *                    product {id} | null, originalTotalSet {shopMoney
 *                    {amount}}, discountAllocations [{allocatedAmountSet
 *                    {shopMoney {amount}}}]}
 *   RefundLineItem  {id, quantity, lineItem {id}, subtotalSet {shopMoney
 *                    {amount}}}  (its __parentId, the Refund, is not used)
 * A bulk operation's JSONL (one object per line, "groupObjects: false":
 * children before or after their parent) is fed in pieces of any size
 * (sales_bulk_feed); pages of orders give the same objects
 * (sales_bulk_add).  Nothing is stored until sales_bulk_finish: a child
 * may come last.  Memory: about 100 bytes per object, so the caller bounds
 * what one accumulator sees (the tracker splits a backfill by date).
 *
 * What a line contributes (reboss-jobs(8), "What the numbers mean"):
 *   units    currentQuantity (ordered less refunded and removed units);
 *   revenue  originalTotalSet - sum(discountAllocations) (line- and
 *            order-level discounts, over every unit ordered)
 *            - sum(refund line items' subtotalSet) (what was refunded for
 *            the line, after its discounts, before tax)
 *            - for units removed by an order edit (quantity - currentQuantity
 *            - refunded units), their share of the discounted total,
 *            rounded half away from zero to the cent;
 *   a cancelled or test order contributes nothing; a line without a product
 *   (custom item, deleted product) is not counted.  Refunds not tied to a
 *   line item (shipping, an amount only) are not attributed to products.
 */
#ifndef RB_SALES_BULK_H
#define RB_SALES_BULK_H

#include <jansson.h>
#include <stddef.h>

#include "rb.h"
#include "sales.h"

/* Longest JSONL line accepted (one object). */
#define SALES_BULK_LINE_MAX	(1024u * 1024u)
/* Most objects one accumulator takes (memory cap, ~100 B each). */
#define SALES_BULK_OBJECTS_MAX	4000000u
#define SALES_UPDATED_LEN	40

struct sales_bulk;

struct sales_bulk *sales_bulk_new(const char *tz);
void	sales_bulk_free(struct sales_bulk *b);
/* JSONL bytes, split anywhere. */
int	sales_bulk_feed(struct sales_bulk *b, const char *data, size_t len,
	    struct rb_err *err) RB_WUR;
/* One object; parent_gid (may be NULL) stands for a missing __parentId
 * (pages: the order a line item was read under). */
int	sales_bulk_add(struct sales_bulk *b, json_t *obj,
	    const char *parent_gid, struct rb_err *err) RB_WUR;
/* All objects are in (an unterminated last JSONL line is taken): every
 * child must have its parent.  Then the orders can be read. */
int	sales_bulk_finish(struct sales_bulk *b, struct rb_err *err) RB_WUR;
size_t	sales_bulk_orders(const struct sales_bulk *b);
/* Order i (0 <= i < sales_bulk_orders) into o (sales_order_free it) and
 * its updatedAt ("" when none). */
int	sales_bulk_order(struct sales_bulk *b, size_t i, struct sales_order *o,
	    char updated[SALES_UPDATED_LEN], struct rb_err *err) RB_WUR;
/* Refunds named by an Order object without all their line items (as a
 * bulk export gives them: {id} only): the caller reads their
 * RefundLineItems and adds them before sales_bulk_finish. */
size_t	sales_bulk_pending_refunds(const struct sales_bulk *b,
	    const long long **ids);
void	sales_bulk_clear_pending(struct sales_bulk *b);
/* Forget everything (for the next range); the zone stays. */
void	sales_bulk_reset(struct sales_bulk *b);

#endif
