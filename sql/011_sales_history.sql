-- 011_sales_history.sql - how far a shop's sales are known (issue 15).
-- Owned by the sales_tracker (jobs/sales_tracker.c, lib/sales.c).
--
-- sales_cursors gains:
--   complete_through  NULL: nothing known.  A date D: every local day <= D
--                     in the shop's zone is completely read: every order
--                     updated before the end of D (local time) that
--                     Shopify lets the app see has been read and stored.
--                     Written by the tracker at the end of a successful
--                     run for the shop only; never moved past what was
--                     read; a failed shop leaves it.  replace_job (and
--                     anything else acting on sales) judges only days
--                     <= complete_through (lib/sales.h,
--                     sales_complete_through()).  The catalog migration
--                     adds the same column IF NOT EXISTS: either order.
--   orders_access     what Shopify lets the app read, as found by the last
--                     run: 'all' (read_all_orders granted) or
--                     'last_60_days' (without it Shopify hides orders
--                     created more than 60 days ago: they are neither
--                     listed nor exported, so later refunds of such
--                     orders cannot reach the ledger).  NULL: not known.
--   orders_access_checked_at  when the tracker last asked.
--
-- The owner's dashboard may read these columns for its own shops (not the
-- cursor itself, which is the backend's): "sales complete through D" and
-- "history limited to 60 days; grant read_all_orders".
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

ALTER TABLE public.sales_cursors
	ADD COLUMN IF NOT EXISTS complete_through date;
ALTER TABLE public.sales_cursors
	ADD COLUMN IF NOT EXISTS orders_access text
	    CONSTRAINT sales_cursors_orders_access_check
	    CHECK (orders_access IN ('all', 'last_60_days'));
ALTER TABLE public.sales_cursors
	ADD COLUMN IF NOT EXISTS orders_access_checked_at timestamptz;

GRANT SELECT (shop_id, complete_through, orders_access,
	orders_access_checked_at, updated_at)
	ON public.sales_cursors TO authenticated;
DROP POLICY IF EXISTS sales_cursors_select_own ON public.sales_cursors;
CREATE POLICY sales_cursors_select_own ON public.sales_cursors
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = sales_cursors.shop_id AND s.user_id = auth.uid()));
