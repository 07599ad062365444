-- 004_sales.sql - what reboss-sales-tracker keeps (PRODUCT.md, Jobs 1).
-- Owned by the sales_tracker (jobs/sales_tracker.c, lib/sales.c).
--
--   products             mirror of each shop's Shopify products; products
--                        gone from Shopify get deleted_at, never dropped
--                        (the other jobs and the dashboard keep history).
--   order_lines_ledger   per order, per product: what the order contributes
--                        now (units, revenue, day).  Re-reading an order
--                        replaces its rows, so edits, refunds and
--                        cancellations converge.
--   product_sales_daily  per product and local day: sums over the ledger,
--                        recomputed for the touched (product, day) keys in
--                        the same transaction as the ledger change.
--   sales_cursors        per shop: orders updated before orders_cursor are
--                        stored (moved only after they are committed).
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.products (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL CHECK (product_id > 0),
	title			text NOT NULL,
	handle			text NOT NULL,
	status			text NOT NULL,	-- ACTIVE, DRAFT, ARCHIVED, ...
	shopify_created_at	timestamptz,
	published_at		timestamptz,
	collection_ids		bigint[] NOT NULL DEFAULT '{}',
	image_url		text,
	online_store_url	text,
	first_seen_at		timestamptz NOT NULL DEFAULT now(),
	last_seen_at		timestamptz NOT NULL DEFAULT now(),
	deleted_at		timestamptz,	-- gone from Shopify
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, product_id)
);
CREATE INDEX IF NOT EXISTS idx_products_collections
	ON public.products USING gin (collection_ids);
CREATE OR REPLACE TRIGGER products_updated_at BEFORE UPDATE ON public.products
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.order_lines_ledger (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	order_id		bigint NOT NULL CHECK (order_id > 0),
	product_id		bigint NOT NULL CHECK (product_id > 0),
	day			date NOT NULL,	-- processedAt, shop's zone
	units			bigint NOT NULL CHECK (units >= 0),
	revenue			numeric(20, 6) NOT NULL,
	order_updated_at	timestamptz,
	stored_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, order_id, product_id)
);
CREATE INDEX IF NOT EXISTS idx_order_lines_ledger_day
	ON public.order_lines_ledger (shop_id, product_id, day);

CREATE TABLE IF NOT EXISTS public.product_sales_daily (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL,
	day			date NOT NULL,
	units			bigint NOT NULL DEFAULT 0 CHECK (units >= 0),
	revenue			numeric(20, 6) NOT NULL DEFAULT 0,
	orders			integer NOT NULL DEFAULT 0 CHECK (orders >= 0),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, product_id, day)
);
CREATE INDEX IF NOT EXISTS idx_product_sales_daily_day
	ON public.product_sales_daily (shop_id, day);

CREATE TABLE IF NOT EXISTS public.sales_cursors (
	shop_id			uuid PRIMARY KEY
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	orders_cursor		timestamptz NOT NULL,
	last_mode		text CHECK (last_mode IN ('pages', 'bulk')),
	last_orders		integer,
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE TRIGGER sales_cursors_updated_at
	BEFORE UPDATE ON public.sales_cursors
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- Privileges: the dashboard (authenticated) reads products and daily sales
-- of its own shops; the ledger and cursors are the backend's.
REVOKE ALL ON public.products, public.order_lines_ledger,
	public.product_sales_daily, public.sales_cursors
	FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.products, public.order_lines_ledger,
	public.product_sales_daily, public.sales_cursors TO service_role;
GRANT SELECT ON public.products, public.product_sales_daily TO authenticated;

ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.order_lines_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.product_sales_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.sales_cursors ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS products_select_own ON public.products;
CREATE POLICY products_select_own ON public.products FOR SELECT
	TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = products.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS product_sales_daily_select_own
	ON public.product_sales_daily;
CREATE POLICY product_sales_daily_select_own ON public.product_sales_daily
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = product_sales_daily.shop_id
	      AND s.user_id = auth.uid()));
