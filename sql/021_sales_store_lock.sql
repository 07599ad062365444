-- 021_sales_store_lock.sql - one writer of a shop's ledger at a time.
--
-- reboss_sales_store_orders (008) replaces an order's ledger lines by
-- deleting and inserting them.  Two callers storing the same orders of one
-- shop at once (sales_tracker --dry-run, which stores inside a transaction
-- it rolls back, beside the nightly run; or two hosts) could both delete
-- and then both insert: the second insert failed on the unique key with
-- the first one's rows, and that shop failed.  The function now takes a
-- transaction-scoped advisory lock per shop first, so the second caller
-- waits and then sees the first one's rows.  The body is 008's otherwise.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE OR REPLACE FUNCTION public.reboss_sales_store_orders(p_shop uuid,
	p_order_ids jsonb, p_rows jsonb) RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	v_ids	bigint[];
	k_pid	bigint[];
	k_day	date[];
	e_pid	bigint[];
	e_day	date[];
BEGIN
	IF p_shop IS NULL THEN
		RAISE EXCEPTION 'reboss_sales_store_orders: shop is NULL';
	END IF;
	-- One writer of a shop's ledger at a time (until its transaction
	-- ends): two runs of one shop (a --dry-run beside the nightly run,
	-- two hosts) otherwise both delete an order's lines and insert them
	-- again, and the second insert fails on the first one's rows.
	PERFORM pg_advisory_xact_lock(hashtextextended(
	    'reboss_sales_store_orders:' || p_shop::text, 0));
	v_ids := ARRAY(SELECT jsonb_array_elements_text(
	    coalesce(p_order_ids, '[]'))::bigint);

	-- The keys the orders had (deleted now) and the keys they get.  Only
	-- a key the orders leave (had, not get) can end up without ledger
	-- rows: e_* holds those, so the DELETE below looks at them only (on a
	-- first run there are none and it is skipped).
	WITH gone AS (
		DELETE FROM public.order_lines_ledger l
		WHERE l.shop_id = p_shop AND l.order_id = ANY (v_ids)
		RETURNING l.product_id, l.day
	), got AS (
		SELECT DISTINCT x.product_id, x.day
		FROM jsonb_to_recordset(coalesce(p_rows, '[]'))
		    AS x(product_id bigint, day date)
	), keys AS (
		SELECT n.product_id, n.day, false AS left_key FROM got n
		UNION ALL
		SELECT g.product_id, g.day, true
		FROM (SELECT DISTINCT product_id, day FROM gone) g
		WHERE NOT EXISTS (SELECT 1 FROM got n WHERE
		    n.product_id = g.product_id AND n.day = g.day)
	)
	SELECT array_agg(k.product_id), array_agg(k.day),
	    array_agg(k.product_id) FILTER (WHERE k.left_key),
	    array_agg(k.day) FILTER (WHERE k.left_key)
	    INTO k_pid, k_day, e_pid, e_day FROM keys k;

	INSERT INTO public.order_lines_ledger (shop_id, order_id, product_id,
	    day, units, revenue, order_updated_at)
	SELECT p_shop, x.order_id, x.product_id, x.day, x.units, x.revenue,
	    x.updated_at
	FROM jsonb_to_recordset(coalesce(p_rows, '[]')) AS x(order_id bigint,
	    product_id bigint, day date, units bigint, revenue numeric,
	    updated_at timestamptz);

	IF k_pid IS NULL THEN
		RETURN 0;
	END IF;

	-- Recompute the touched keys from the ledger (index
	-- idx_order_lines_ledger_day: shop_id, product_id, day).
	INSERT INTO public.product_sales_daily AS d (shop_id, product_id, day,
	    units, revenue, orders)
	SELECT p_shop, l.product_id, l.day, sum(l.units), sum(l.revenue),
	    count(*) FILTER (WHERE l.units > 0)
	FROM unnest(k_pid, k_day) AS k(product_id, day)
	JOIN public.order_lines_ledger l ON l.shop_id = p_shop AND
	    l.product_id = k.product_id AND l.day = k.day
	GROUP BY l.product_id, l.day
	ON CONFLICT (shop_id, product_id, day) DO UPDATE SET
	    units = EXCLUDED.units, revenue = EXCLUDED.revenue,
	    orders = EXCLUDED.orders, updated_at = now()
	WHERE (d.units, d.revenue, d.orders) IS DISTINCT FROM
	    (EXCLUDED.units, EXCLUDED.revenue, EXCLUDED.orders);

	-- Keys the orders left that no order contributes to any more.
	IF e_pid IS NOT NULL THEN
		DELETE FROM public.product_sales_daily d
		USING unnest(e_pid, e_day) AS k(product_id, day)
		WHERE d.shop_id = p_shop AND d.product_id = k.product_id AND
		    d.day = k.day AND NOT EXISTS (SELECT 1
		    FROM public.order_lines_ledger l WHERE l.shop_id = p_shop AND
		    l.product_id = d.product_id AND l.day = d.day);
	END IF;

	RETURN cardinality(k_pid);
END
$fn$;
