-- 020_rollup_exact.sql - per-product totals from the monthly rollup, exactly
-- as from the days, and fewer days read (issue 18, Analytics).  Owner: the
-- "dashboard" module.
--
-- 1. Which products a range lists.  reboss_product_sales_totals() lists
--    (top n) every product with a daily row in the range, as 015 did from
--    the days: a product whose lines there were all refunded to nothing
--    (currentQuantity 0: a row of 0 units, 0 revenue, 0 orders) is listed
--    with zeros.  019's rollup cannot tell such a product from one that had
--    no row (it dropped every product whose sums net to zero), so the
--    rollup counts the rows too: days (daily rows of the month) and
--    cum_days (through its end).  A product is in the range iff
--    cum_days(to) - cum_days(from - 1) > 0.
-- 2. Fewer days.  cumulative(D) is either the snapshot of the month before
--    plus D's month's days up to D, or the snapshot of D's month minus its
--    days after D; each end takes the side with fewer days, so a range of
--    any length reads two snapshots and at most 2 x 16 days of rows (019
--    read up to two whole months).
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

ALTER TABLE public.product_sales_monthly
	ADD COLUMN IF NOT EXISTS days integer NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS cum_days bigint NOT NULL DEFAULT 0;

-- The snapshot index covers cum_days (index-only scans).
DROP INDEX IF EXISTS public.idx_product_sales_monthly_snapshot;
CREATE INDEX IF NOT EXISTS idx_product_sales_monthly_snapshot2
	ON public.product_sales_monthly (shop_id, month)
	INCLUDE (product_id, cum_units, cum_revenue, cum_orders, cum_days);

-- 019's refresh with the row counts: recomputes the months from each key's
-- month on for its product, then carries every product of a shop forward
-- to the shop's last month.
CREATE OR REPLACE FUNCTION public.reboss_sales_monthly_refresh(
	p_shop uuid[], p_product bigint[], p_day date[]) RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	s	record;
BEGIN
	-- per shop: the last month before and after
	FOR s IN SELECT k.shop_id,
	    (SELECT max(m.month) FROM public.product_sales_monthly m
	     WHERE m.shop_id = k.shop_id) AS last_before,
	    max(date_trunc('month', k.day))::date AS last_key
	    FROM unnest(p_shop, p_day) AS k(shop_id, day)
	    WHERE EXISTS (SELECT 1 FROM public.shops x WHERE x.id = k.shop_id)
	    GROUP BY k.shop_id
	LOOP
		WITH k AS (
			SELECT u.product_id,
			    min(date_trunc('month', u.day))::date AS m0
			FROM unnest(p_shop, p_product, p_day)
			    AS u(shop_id, product_id, day)
			WHERE u.shop_id = s.shop_id
			GROUP BY u.product_id),
		own AS (
			SELECT d.product_id,
			    date_trunc('month', d.day)::date AS month,
			    sum(d.units) AS u, sum(d.revenue) AS r,
			    sum(d.orders) AS o, count(*) AS c
			FROM k JOIN public.product_sales_daily d ON
			    d.shop_id = s.shop_id AND d.product_id = k.product_id
			    AND d.day >= k.m0
			GROUP BY 1, 2),
		grid AS (
			SELECT k.product_id, g.month::date AS month,
			    coalesce(b.cum_units, 0) AS bu,
			    coalesce(b.cum_revenue, 0) AS br,
			    coalesce(b.cum_orders, 0) AS bo,
			    coalesce(b.cum_days, 0) AS bc
			FROM k
			LEFT JOIN public.product_sales_monthly b ON
			    b.shop_id = s.shop_id AND b.product_id = k.product_id
			    AND b.month = (k.m0 - interval '1 month')::date
			CROSS JOIN generate_series(k.m0, greatest(k.m0,
			    s.last_key, coalesce(s.last_before, k.m0)),
			    interval '1 month') AS g(month))
		INSERT INTO public.product_sales_monthly AS m (shop_id, month,
		    product_id, units, revenue, orders, days, cum_units,
		    cum_revenue, cum_orders, cum_days)
		SELECT s.shop_id, g.month, g.product_id,
		    coalesce(o.u, 0), coalesce(o.r, 0), coalesce(o.o, 0),
		    coalesce(o.c, 0),
		    g.bu + sum(coalesce(o.u, 0)) OVER w,
		    g.br + sum(coalesce(o.r, 0)) OVER w,
		    g.bo + sum(coalesce(o.o, 0)) OVER w,
		    g.bc + sum(coalesce(o.c, 0)) OVER w
		FROM grid g LEFT JOIN own o ON o.product_id = g.product_id AND
		    o.month = g.month
		WINDOW w AS (PARTITION BY g.product_id ORDER BY g.month)
		ON CONFLICT (shop_id, month, product_id) DO UPDATE SET
		    units = EXCLUDED.units, revenue = EXCLUDED.revenue,
		    orders = EXCLUDED.orders, days = EXCLUDED.days,
		    cum_units = EXCLUDED.cum_units,
		    cum_revenue = EXCLUDED.cum_revenue,
		    cum_orders = EXCLUDED.cum_orders,
		    cum_days = EXCLUDED.cum_days
		WHERE (m.units, m.revenue, m.orders, m.days, m.cum_units,
		    m.cum_revenue, m.cum_orders, m.cum_days) IS DISTINCT FROM
		    (EXCLUDED.units, EXCLUDED.revenue, EXCLUDED.orders,
		    EXCLUDED.days, EXCLUDED.cum_units, EXCLUDED.cum_revenue,
		    EXCLUDED.cum_orders, EXCLUDED.cum_days);
		-- A new last month: every other product carried forward to it.
		IF s.last_before IS NOT NULL AND s.last_key > s.last_before THEN
			INSERT INTO public.product_sales_monthly (shop_id, month,
			    product_id, cum_units, cum_revenue, cum_orders,
			    cum_days)
			SELECT s.shop_id, g.month::date, l.product_id,
			    l.cum_units, l.cum_revenue, l.cum_orders, l.cum_days
			FROM public.product_sales_monthly l
			CROSS JOIN generate_series(s.last_before +
			    interval '1 month', s.last_key, interval '1 month')
			    AS g(month)
			WHERE l.shop_id = s.shop_id AND l.month = s.last_before
			ON CONFLICT (shop_id, month, product_id) DO NOTHING;
		END IF;
	END LOOP;
END
$fn$;

-- The row counts of what product_sales_daily holds already: one pass per
-- month and product, then the running sum.
WITH c AS (
	SELECT d.shop_id, date_trunc('month', d.day)::date AS month,
	    d.product_id, count(*) AS n
	FROM public.product_sales_daily d GROUP BY 1, 2, 3),
r AS (
	SELECT m.shop_id, m.month, m.product_id, coalesce(c.n, 0) AS n,
	    sum(coalesce(c.n, 0)) OVER (PARTITION BY m.shop_id, m.product_id
	        ORDER BY m.month) AS cum
	FROM public.product_sales_monthly m
	LEFT JOIN c ON c.shop_id = m.shop_id AND c.month = m.month AND
	    c.product_id = m.product_id)
UPDATE public.product_sales_monthly m SET days = r.n, cum_days = r.cum
FROM r
WHERE m.shop_id = r.shop_id AND m.month = r.month AND
    m.product_id = r.product_id AND (m.days, m.cum_days) IS DISTINCT FROM
    (r.n::integer, r.cum::bigint);

-- Per-product sums of a range: the snapshot of month p_snap_to added, that
-- of p_snap_from taken off (NULL: none), and two runs of days, each added
-- (sign 1) or taken off (-1); an empty run (from after to) adds nothing.
-- A product is listed iff it has daily rows in the range (their count
-- nets above zero).  Two full joins, as in 019: one hash aggregate of all
-- of it (UNION ALL) measured twice as slow (numeric sums of ~100,000 rows
-- into ~50,000 groups).  A plain SQL function: the planner inlines it into
-- reboss_product_sales_totals()'s query.
DROP FUNCTION IF EXISTS public.reboss_product_range_sums(uuid, date, date,
	date, date, date, date);
CREATE OR REPLACE FUNCTION public.reboss_product_range_sums(p_shop uuid,
	p_from1 date, p_to1 date, p_sign1 integer,
	p_from2 date, p_to2 date, p_sign2 integer,
	p_snap_to date, p_snap_from date)
RETURNS TABLE (product_id bigint, units bigint, revenue numeric,
	orders bigint)
LANGUAGE sql
STABLE
AS $fn$
	WITH e AS (
		SELECT x.product_id, sum(x.u) AS u, sum(x.r) AS r,
		    sum(x.o) AS o, sum(x.c) AS c
		FROM (SELECT d.product_id, p_sign1 * d.units AS u,
		        p_sign1 * d.revenue AS r, p_sign1 * d.orders::bigint AS o,
		        p_sign1::bigint AS c
		    FROM public.product_sales_daily d
		    WHERE d.shop_id = p_shop AND d.day BETWEEN p_from1 AND p_to1
		    UNION ALL
		    SELECT d.product_id, p_sign2 * d.units, p_sign2 * d.revenue,
		        p_sign2 * d.orders::bigint, p_sign2::bigint
		    FROM public.product_sales_daily d
		    WHERE d.shop_id = p_shop AND
		        d.day BETWEEN p_from2 AND p_to2) x
		GROUP BY x.product_id),
	c AS (
		SELECT coalesce(t.product_id, f.product_id) AS product_id,
		    coalesce(t.cum_units, 0) - coalesce(f.cum_units, 0) AS u,
		    coalesce(t.cum_revenue, 0) - coalesce(f.cum_revenue, 0) AS r,
		    coalesce(t.cum_orders, 0) - coalesce(f.cum_orders, 0) AS o,
		    coalesce(t.cum_days, 0) - coalesce(f.cum_days, 0) AS c
		FROM (SELECT m.product_id, m.cum_units, m.cum_revenue,
		    m.cum_orders, m.cum_days FROM public.product_sales_monthly m
		    WHERE m.shop_id = p_shop AND m.month = p_snap_to) t
		FULL JOIN (SELECT m.product_id, m.cum_units, m.cum_revenue,
		    m.cum_orders, m.cum_days FROM public.product_sales_monthly m
		    WHERE m.shop_id = p_shop AND m.month = p_snap_from) f
		    ON f.product_id = t.product_id)
	SELECT coalesce(c.product_id, e.product_id),
	    (coalesce(c.u, 0) + coalesce(e.u, 0))::bigint,
	    coalesce(c.r, 0) + coalesce(e.r, 0),
	    (coalesce(c.o, 0) + coalesce(e.o, 0))::bigint
	FROM c FULL JOIN e ON e.product_id = c.product_id
	WHERE coalesce(c.c, 0) + coalesce(e.c, 0) > 0
$fn$;

CREATE OR REPLACE FUNCTION public.reboss_product_sales_totals(p_shop uuid,
	p_from date DEFAULT NULL, p_to date DEFAULT NULL, p_n integer DEFAULT 10,
	p_bottom boolean DEFAULT false, p_by text DEFAULT 'units')
RETURNS TABLE (rank integer, product_id bigint, title text, status text,
	units bigint, revenue numeric, orders bigint)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
SET jit = off
-- PL/pgSQL would switch to a generic plan after five calls: one that
-- cannot know that a 30-day range is a small part of the shop's rows.
SET plan_cache_mode = force_custom_plan
-- Run as authenticated, RLS's filters leave the planner guessing ~70 sums
-- where there are ~50,000: it nested-loop-joined them to the products (30 s
-- for a 30-day bottom n).  No nested loops here; the top n's products are
-- looked up by scalar subqueries instead.
SET enable_nestloop = off
AS $fn$
DECLARE
	r	record;
	v_last	date;
	v_m	date;
	v_e	date;
	v_snap_to date;		-- NULL: no snapshot (a short range)
	v_snap_from date;
	f1 date; t1 date; s1 integer := 1;
	f2 date; t2 date; s2 integer := 1;
BEGIN
	IF p_n IS NULL OR p_n < 1 OR p_n > 500 THEN
		RAISE EXCEPTION 'n must be from 1 to 500, not %', p_n
		    USING ERRCODE = '22023';
	END IF;
	IF p_by IS NULL OR p_by NOT IN ('units', 'revenue') THEN
		RAISE EXCEPTION 'by must be ''units'' or ''revenue'', not %', p_by
		    USING ERRCODE = '22023';
	END IF;
	SELECT * INTO r FROM public.reboss_sales_range(p_shop, p_from, p_to);
	-- A short range: its days (run 2 empty).
	f1 := r.r_from; t1 := r.r_to;
	f2 := r.r_to + 1; t2 := r.r_to;
	IF r.r_to - r.r_from >= 62 THEN
		SELECT max(m.month) INTO v_last
		FROM public.product_sales_monthly m WHERE m.shop_id = p_shop;
	END IF;
	IF v_last IS NOT NULL THEN
		-- cumulative(to): from below (the month before + days to
		-- "to") or from above (to's month - its days after "to").
		v_m := date_trunc('month', r.r_to)::date;
		v_e := (v_m + interval '1 month')::date - 1;
		IF r.r_to - v_m < v_e - r.r_to THEN
			v_snap_to := (v_m - interval '1 month')::date;
			f1 := v_m; t1 := r.r_to; s1 := 1;
		ELSE
			v_snap_to := v_m;
			f1 := r.r_to + 1; t1 := v_e; s1 := -1;
		END IF;
		-- cumulative(from - 1), taken off: the same choice.
		v_m := date_trunc('month', r.r_from - 1)::date;
		v_e := (v_m + interval '1 month')::date - 1;
		IF r.r_from - 1 - v_m < v_e - (r.r_from - 1) THEN
			v_snap_from := (v_m - interval '1 month')::date;
			f2 := v_m; t2 := r.r_from - 1; s2 := -1;
		ELSE
			v_snap_from := v_m;
			f2 := r.r_from; t2 := v_e; s2 := 1;
		END IF;
		-- Past the shop's last month every product is carried at it.
		v_snap_to := least(v_snap_to, v_last);
		v_snap_from := least(v_snap_from, v_last);
	END IF;
	-- The n are chosen from the sums before anything is joined: only n
	-- rows meet products.
	IF NOT p_bottom THEN
		-- The best sold something: start from the sales (a product
		-- deleted since still counts).
		RETURN QUERY
		SELECT (row_number() OVER (ORDER BY t.k DESC,
		    t.product_id))::integer, t.product_id,
		    (SELECT p.title FROM public.products p
		     WHERE p.shop_id = p_shop AND p.product_id = t.product_id),
		    (SELECT p.status FROM public.products p
		     WHERE p.shop_id = p_shop AND p.product_id = t.product_id),
		    t.units, t.revenue, t.orders
		FROM (SELECT s.*, CASE WHEN p_by = 'units' THEN
		        s.units::numeric ELSE s.revenue END AS k
		    FROM public.reboss_product_range_sums(p_shop, f1, t1, s1,
		        f2, t2, s2, v_snap_to, v_snap_from) s
		    ORDER BY k DESC, s.product_id LIMIT p_n) t
		ORDER BY 1;
	ELSE
		-- The worst include the products that sold nothing: every
		-- product of the shop still in Shopify, with its sums or none.
		RETURN QUERY
		SELECT (row_number() OVER (ORDER BY t.k, t.product_id))::integer,
		    t.product_id, t.title, t.status, t.units, t.revenue, t.orders
		FROM (SELECT p.product_id, p.title, p.status,
		        coalesce(s.units, 0)::bigint AS units,
		        coalesce(s.revenue, 0)::numeric AS revenue,
		        coalesce(s.orders, 0)::bigint AS orders,
		        coalesce(CASE WHEN p_by = 'units' THEN s.units::numeric
		            ELSE s.revenue END, 0) AS k
		    FROM public.products p
		    LEFT JOIN public.reboss_product_range_sums(p_shop, f1, t1,
		        s1, f2, t2, s2, v_snap_to, v_snap_from) s
		        ON s.product_id = p.product_id
		    WHERE p.shop_id = p_shop AND p.deleted_at IS NULL
		    ORDER BY k, p.product_id LIMIT p_n) t
		ORDER BY 1;
	END IF;
END
$fn$;

REVOKE ALL ON FUNCTION public.reboss_product_range_sums(uuid, date, date,
	integer, date, date, integer, date, date) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.reboss_product_range_sums(uuid, date, date,
	integer, date, date, integer, date, date) TO authenticated, service_role;
