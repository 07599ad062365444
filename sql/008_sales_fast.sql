-- 008_sales_fast.sql - server-side writers of reboss-sales-tracker (issue 8).
-- Owned by the sales_tracker (jobs/sales_tracker.c).
--
-- Why: per page of orders the tracker made six round trips (BEGIN, ledger
-- DELETE, ledger INSERT, daily upsert, daily DELETE, COMMIT), each an
-- unnamed statement parsed and planned again for every page.  These
-- functions do the same work in one call: PL/pgSQL caches the plans of its
-- statements per session, so with a connection that serves many shops they
-- are planned once per connection.  Client-side prepared statements are
-- not used on purpose: a session is handed from one shop worker to the
-- next, and named statements would collide there.
--
--   reboss_sales_store_orders(shop, order_ids, rows)
--       Replaces the ledger rows of the given orders with rows (a jsonb
--       array of {order_id, product_id, day, units, revenue, updated_at};
--       an order without rows simply loses its old ones) and recomputes
--       every touched (product, day) of product_sales_daily from the ledger:
--       the keys the orders had before and the keys they have now.  A key
--       without ledger rows left (only a key the orders left can be one) is
--       deleted.  Returns the number of touched
--       keys.
--   reboss_sales_store_products(shop, rows, seen_at)
--       Upserts one page of products (jsonb array as the tracker builds
--       it), marks them seen at seen_at and not deleted.  Returns the number
--       of rows.
--
-- Both are SECURITY INVOKER: they run with the caller's rights, so RLS and
-- the table grants of 004_sales.sql decide as before (the backend owns the
-- tables; the dashboard's roles cannot write them and may not even call
-- these).  search_path is pinned on the function (not on the session).
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

CREATE OR REPLACE FUNCTION public.reboss_sales_store_products(p_shop uuid,
	p_rows jsonb, p_seen_at timestamptz) RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	n	integer;
BEGIN
	IF p_shop IS NULL OR p_seen_at IS NULL THEN
		RAISE EXCEPTION 'reboss_sales_store_products: shop or seen_at '
		    'is NULL';
	END IF;
	INSERT INTO public.products AS t (shop_id, product_id, title, handle,
	    status, shopify_created_at, published_at, collection_ids,
	    image_url, online_store_url, last_seen_at, deleted_at)
	SELECT p_shop, r.product_id, coalesce(r.title, ''),
	    coalesce(r.handle, ''), coalesce(r.status, ''), r.created_at,
	    r.published_at, ARRAY(SELECT jsonb_array_elements_text(
	    r.collection_ids)::bigint), r.image_url, r.online_store_url,
	    p_seen_at, NULL
	FROM jsonb_to_recordset(coalesce(p_rows, '[]')) AS r(product_id bigint,
	    title text, handle text, status text, created_at timestamptz,
	    published_at timestamptz, collection_ids jsonb, image_url text,
	    online_store_url text)
	ON CONFLICT (shop_id, product_id) DO UPDATE SET
	    title = EXCLUDED.title, handle = EXCLUDED.handle,
	    status = EXCLUDED.status,
	    shopify_created_at = EXCLUDED.shopify_created_at,
	    published_at = EXCLUDED.published_at,
	    collection_ids = EXCLUDED.collection_ids,
	    image_url = EXCLUDED.image_url,
	    online_store_url = EXCLUDED.online_store_url,
	    last_seen_at = EXCLUDED.last_seen_at, deleted_at = NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$fn$;

-- Only the backend (the owner) and service_role call them.  Supabase's
-- default privileges grant EXECUTE on new functions to its API roles:
-- take it back explicitly.
REVOKE ALL ON FUNCTION public.reboss_sales_store_orders(uuid, jsonb, jsonb),
	public.reboss_sales_store_products(uuid, jsonb, timestamptz)
	FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.reboss_sales_store_orders(uuid, jsonb, jsonb),
	public.reboss_sales_store_products(uuid, jsonb, timestamptz)
	TO service_role;
