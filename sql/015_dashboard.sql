-- 015_dashboard.sql - what the dashboard's tabs read beyond the raw tables
-- (issue 18; doc/dashboard.md walks it tab by tab).  Owner: the "dashboard"
-- module.
--
-- Analytics, as SQL functions the dashboard calls through PostgREST
-- (POST /rest/v1/rpc/<name>) with the user's token.  They are SECURITY
-- INVOKER: they read with the caller's rights, so the row-level security of
-- shops, products and the sales tables decides what they see (another
-- user's shop gives no rows, exactly like a shop that does not exist).
-- Days are the shop's local days (sales_tracker stores them so); a range
-- left open ends today in the shop's time zone.
--
--   reboss_shop_sales_daily(shop, from, to)
--       one row per day of the range (days without sales too, as zeros):
--       units, revenue, orders (distinct orders, not the sum over products)
--   reboss_product_sales_totals(shop, from, to, n, bottom, by)
--       the n best (bottom = false) or worst (bottom = true) products of the
--       range by units or revenue; the worst include products that sold
--       nothing (every product not deleted from Shopify)
--   reboss_product_sales_series(shop, product, from, to)
--       one product's days, zeros included
--
-- shop_sales_daily: per shop and day, the sums over order_lines_ledger,
-- kept by statement triggers on the ledger (the orders of a day are
-- distinct orders, which product_sales_daily cannot give).  The dashboard
-- reads it directly too.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

-- shop_sales_daily ------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.shop_sales_daily (
	shop_id		uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	day		date NOT NULL,
	units		bigint NOT NULL DEFAULT 0 CHECK (units >= 0),
	revenue		numeric(20, 6) NOT NULL DEFAULT 0,
	orders		integer NOT NULL DEFAULT 0 CHECK (orders >= 0),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, day)
);

-- The triggers recompute a (shop, day) from the ledger: this index finds
-- its rows (the ledger's own index leads with product_id).
CREATE INDEX IF NOT EXISTS idx_order_lines_ledger_shop_day
	ON public.order_lines_ledger (shop_id, day);

-- Recomputes the given (shop, day) keys from the ledger: upsert the days
-- that still have rows, delete the ones that have none.
CREATE OR REPLACE FUNCTION public.reboss_shop_sales_recompute(p_shop uuid[],
	p_day date[]) RETURNS void
LANGUAGE sql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
	INSERT INTO public.shop_sales_daily AS d (shop_id, day, units, revenue,
	    orders)
	SELECT l.shop_id, l.day, sum(l.units), sum(l.revenue),
	    count(DISTINCT l.order_id) FILTER (WHERE l.units > 0)
	FROM (SELECT DISTINCT * FROM unnest(p_shop, p_day)) AS k(shop_id, day)
	JOIN public.order_lines_ledger l ON l.shop_id = k.shop_id AND
	    l.day = k.day
	-- a cascade from a deleted shop: nothing to keep
	WHERE EXISTS (SELECT 1 FROM public.shops s WHERE s.id = k.shop_id)
	GROUP BY l.shop_id, l.day
	ON CONFLICT (shop_id, day) DO UPDATE SET
	    units = EXCLUDED.units, revenue = EXCLUDED.revenue,
	    orders = EXCLUDED.orders, updated_at = now()
	WHERE (d.units, d.revenue, d.orders) IS DISTINCT FROM
	    (EXCLUDED.units, EXCLUDED.revenue, EXCLUDED.orders);
	DELETE FROM public.shop_sales_daily d
	USING (SELECT DISTINCT * FROM unnest(p_shop, p_day)) AS k(shop_id, day)
	WHERE d.shop_id = k.shop_id AND d.day = k.day AND NOT EXISTS (
	    SELECT 1 FROM public.order_lines_ledger l
	    WHERE l.shop_id = k.shop_id AND l.day = k.day);
$fn$;

-- One trigger function for the three events: a trigger with transition
-- tables may have one event only, so each event names the tables it has.
-- SECURITY DEFINER (the backend, owner of both tables): whoever deletes
-- ledger rows (a shop deleted from the dashboard cascades) keeps the
-- totals right without rights of their own on shop_sales_daily.
CREATE OR REPLACE FUNCTION public.reboss_shop_sales_trigger() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	v_shop	uuid[];
	v_day	date[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(shop_id), array_agg(day) INTO v_shop, v_day
		FROM (SELECT DISTINCT shop_id, day FROM new_rows) k;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(shop_id), array_agg(day) INTO v_shop, v_day
		FROM (SELECT DISTINCT shop_id, day FROM old_rows) k;
	ELSE
		SELECT array_agg(shop_id), array_agg(day) INTO v_shop, v_day
		FROM (SELECT shop_id, day FROM old_rows UNION
		      SELECT shop_id, day FROM new_rows) k;
	END IF;
	IF v_shop IS NOT NULL THEN
		PERFORM public.reboss_shop_sales_recompute(v_shop, v_day);
	END IF;
	RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS order_lines_ledger_shop_ins ON public.order_lines_ledger;
DROP TRIGGER IF EXISTS order_lines_ledger_shop_del ON public.order_lines_ledger;
DROP TRIGGER IF EXISTS order_lines_ledger_shop_upd ON public.order_lines_ledger;
CREATE TRIGGER order_lines_ledger_shop_ins AFTER INSERT
	ON public.order_lines_ledger REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_shop_sales_trigger();
CREATE TRIGGER order_lines_ledger_shop_del AFTER DELETE
	ON public.order_lines_ledger REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_shop_sales_trigger();
CREATE TRIGGER order_lines_ledger_shop_upd AFTER UPDATE
	ON public.order_lines_ledger
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_shop_sales_trigger();

-- What the ledger holds already.
INSERT INTO public.shop_sales_daily (shop_id, day, units, revenue, orders)
SELECT shop_id, day, sum(units), sum(revenue),
    count(DISTINCT order_id) FILTER (WHERE units > 0)
FROM public.order_lines_ledger GROUP BY shop_id, day
ON CONFLICT (shop_id, day) DO NOTHING;

-- Range checks shared by the functions: the range in the shop's days, at
-- most 3 years (the dashboard shows two), from <= to.
CREATE OR REPLACE FUNCTION public.reboss_sales_range(p_shop uuid,
	p_from date, p_to date, OUT r_from date, OUT r_to date)
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	v_zone	text;
BEGIN
	IF p_shop IS NULL THEN
		RAISE EXCEPTION 'shop id is missing'
		    USING ERRCODE = '22023';
	END IF;
	-- Under RLS: another user's shop is no row, so no zone; the UTC
	-- fallback then reads nothing anyway.
	SELECT s.iana_timezone INTO v_zone FROM public.shops s
	WHERE s.id = p_shop;
	r_to := coalesce(p_to, (now() AT TIME ZONE coalesce(
	    (SELECT name FROM pg_catalog.pg_timezone_names
	     WHERE name = v_zone), 'UTC'))::date);
	r_from := coalesce(p_from, r_to - 29);
	IF r_from > r_to THEN
		RAISE EXCEPTION 'the range starts (%) after it ends (%)',
		    r_from, r_to USING ERRCODE = '22023';
	END IF;
	IF r_to - r_from > 1100 THEN
		RAISE EXCEPTION 'the range % to % is longer than 1100 days; ask '
		    'for at most three years', r_from, r_to
		    USING ERRCODE = '22023';
	END IF;
END
$fn$;

-- Daily totals per shop -----------------------------------------------------
-- jit = off on the readers: compiling the plan costs several hundred ms,
-- far more than these queries take (they are planned for the big shop).
CREATE OR REPLACE FUNCTION public.reboss_shop_sales_daily(p_shop uuid,
	p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (day date, units bigint, revenue numeric, orders integer)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
SET jit = off
AS $fn$
	SELECT g.day::date, coalesce(d.units, 0), coalesce(d.revenue, 0),
	    coalesce(d.orders, 0)
	FROM public.reboss_sales_range(p_shop, p_from, p_to) r
	CROSS JOIN generate_series(r.r_from, r.r_to, interval '1 day') g(day)
	LEFT JOIN public.shop_sales_daily d ON d.shop_id = p_shop AND
	    d.day = g.day::date
	-- no rows at all for a shop the caller cannot see
	WHERE EXISTS (SELECT 1 FROM public.shops s WHERE s.id = p_shop)
	ORDER BY 1
$fn$;

-- Per-product totals, top or bottom n -----------------------------------------
-- Reads product_sales_daily by (shop_id, day) with an index that covers
-- the sums (index-only scan), and products by its primary key.
CREATE INDEX IF NOT EXISTS idx_product_sales_daily_totals
	ON public.product_sales_daily (shop_id, day)
	INCLUDE (product_id, units, revenue, orders);

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
AS $fn$
DECLARE
	r	record;
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
	-- The n are chosen from the sums before anything is joined: only n
	-- rows (2n for the bottom) meet products.
	IF NOT p_bottom THEN
		-- The best sold something: start from the sales (a product
		-- deleted since still counts).
		RETURN QUERY
		SELECT (row_number() OVER (ORDER BY t.k DESC,
		    t.product_id))::integer, t.product_id, p.title, p.status,
		    t.units, t.revenue, t.orders
		FROM (SELECT d.product_id, sum(d.units)::bigint AS units,
		    sum(d.revenue) AS revenue, sum(d.orders)::bigint AS orders,
		    CASE WHEN p_by = 'units' THEN sum(d.units)::numeric
		        ELSE sum(d.revenue) END AS k
		    FROM public.product_sales_daily d
		    WHERE d.shop_id = p_shop AND
		        d.day BETWEEN r.r_from AND r.r_to
		    GROUP BY d.product_id
		    ORDER BY k DESC, d.product_id LIMIT p_n) t
		LEFT JOIN public.products p ON p.shop_id = p_shop AND
		    p.product_id = t.product_id
		ORDER BY 1;
	ELSE
		-- The worst include the products that sold nothing (every
		-- product of the shop still in Shopify): the n first of those
		-- and the n worst sellers still in Shopify are the candidates.
		RETURN QUERY
		WITH s AS MATERIALIZED (
			SELECT d.product_id, sum(d.units)::bigint AS units,
			    sum(d.revenue) AS revenue,
			    sum(d.orders)::bigint AS orders,
			    CASE WHEN p_by = 'units' THEN sum(d.units)::numeric
			        ELSE sum(d.revenue) END AS k
			FROM public.product_sales_daily d
			WHERE d.shop_id = p_shop AND
			    d.day BETWEEN r.r_from AND r.r_to
			GROUP BY d.product_id),
		c AS (
			(SELECT p.product_id, p.title, p.status, 0::bigint AS units,
			    0::numeric AS revenue, 0::bigint AS orders,
			    0::numeric AS k
			FROM public.products p
			WHERE p.shop_id = p_shop AND p.deleted_at IS NULL AND
			    NOT EXISTS (SELECT 1 FROM s
			    WHERE s.product_id = p.product_id)
			ORDER BY p.product_id LIMIT p_n)
			UNION ALL
			(SELECT s.product_id, p.title, p.status, s.units,
			    s.revenue, s.orders, s.k
			FROM s JOIN public.products p ON p.shop_id = p_shop AND
			    p.product_id = s.product_id AND p.deleted_at IS NULL
			ORDER BY s.k, s.product_id LIMIT p_n))
		SELECT (row_number() OVER (ORDER BY c.k, c.product_id))::integer,
		    c.product_id, c.title, c.status, c.units, c.revenue, c.orders
		FROM c ORDER BY 1 LIMIT p_n;
	END IF;
END
$fn$;

-- One product's days ------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.reboss_product_sales_series(p_shop uuid,
	p_product bigint, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (day date, units bigint, revenue numeric, orders integer)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
SET jit = off
AS $fn$
	SELECT g.day::date, coalesce(d.units, 0), coalesce(d.revenue, 0),
	    coalesce(d.orders, 0)
	FROM public.reboss_sales_range(p_shop, p_from, p_to) r
	CROSS JOIN generate_series(r.r_from, r.r_to, interval '1 day') g(day)
	LEFT JOIN public.product_sales_daily d ON d.shop_id = p_shop AND
	    d.product_id = p_product AND d.day = g.day::date
	WHERE EXISTS (SELECT 1 FROM public.shops s WHERE s.id = p_shop)
	ORDER BY 1
$fn$;

-- Privileges ---------------------------------------------------------------------
REVOKE ALL ON public.shop_sales_daily FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.shop_sales_daily TO service_role;
GRANT SELECT ON public.shop_sales_daily TO authenticated;
ALTER TABLE public.shop_sales_daily ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS shop_sales_daily_select_own ON public.shop_sales_daily;
CREATE POLICY shop_sales_daily_select_own ON public.shop_sales_daily
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = shop_sales_daily.shop_id AND s.user_id = auth.uid()));

-- The writers are the backend's; the readers are the dashboard's.
-- (Supabase's default privileges grant EXECUTE to its API roles: take it
-- back from anon explicitly.)
REVOKE ALL ON FUNCTION public.reboss_shop_sales_recompute(uuid[], date[]),
	public.reboss_shop_sales_trigger()
	FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON FUNCTION public.reboss_sales_range(uuid, date, date),
	public.reboss_shop_sales_daily(uuid, date, date),
	public.reboss_product_sales_totals(uuid, date, date, integer, boolean,
	    text),
	public.reboss_product_sales_series(uuid, bigint, date, date)
	FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.reboss_sales_range(uuid, date, date),
	public.reboss_shop_sales_daily(uuid, date, date),
	public.reboss_product_sales_totals(uuid, date, date, integer, boolean,
	    text),
	public.reboss_product_sales_series(uuid, bigint, date, date)
	TO authenticated, service_role;

-- Automation ROI ----------------------------------------------------------------
-- What each job did for a shop in a range of its local days, and the sales
-- that followed (AutomationRoi tab).  One row per job and action:
--   product_creation / created    products created in the range; "after":
--                                 their sales from the day each was created
--                                 through today
--   product_optimize / rewritten  applied rewrites in the range (rolled back
--                                 ones too: they ran); per rewrite on day d
--                                 a window of w = least(30, today - d) days:
--                                 "before" = the w days before d, "after" =
--                                 the w days after d (d itself in neither)
--   replace_job / retired         products retired in the range; "before":
--                                 their sales in the window they were judged
--                                 on (window_start .. window_end)
--   pinterest_sync / pinned       pins made in the range (no sales figure:
--                                 a pin's effect is not attributable here)
-- OpenAI tokens per model: reboss_openai_usage(); their cost needs the
-- operator's price table: GET /api/shops/{id}/roi (routes_dashboard.c).
CREATE OR REPLACE FUNCTION public.reboss_shop_zone(p_shop uuid) RETURNS text
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
	SELECT coalesce((SELECT z.name FROM public.shops s
	    JOIN pg_catalog.pg_timezone_names z ON z.name = s.iana_timezone
	    WHERE s.id = p_shop), 'UTC')
$fn$;

CREATE OR REPLACE FUNCTION public.reboss_automation_roi(p_shop uuid,
	p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (job_type text, action text, products bigint,
	units_before bigint, revenue_before numeric, units_after bigint,
	revenue_after numeric)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
SET jit = off
AS $fn$
	WITH r AS (SELECT x.r_from, x.r_to, public.reboss_shop_zone(p_shop) AS zone,
	    (now() AT TIME ZONE public.reboss_shop_zone(p_shop))::date AS today
	    FROM public.reboss_sales_range(p_shop, p_from, p_to) x
	    WHERE EXISTS (SELECT 1 FROM public.shops s WHERE s.id = p_shop)),
	created AS (
		SELECT c.product_id, (c.created_at AT TIME ZONE r.zone)::date AS d
		FROM public.created_products c, r
		WHERE c.shop_id = p_shop AND (c.created_at AT TIME ZONE r.zone)::date
		    BETWEEN r.r_from AND r.r_to),
	rewritten AS (
		SELECT o.product_id, x.d, least(30, r.today - x.d) AS w
		FROM public.product_optimizations o, r,
		    LATERAL (SELECT (o.applied_at AT TIME ZONE r.zone)::date AS d) x
		WHERE o.shop_id = p_shop AND o.status = 'applied' AND
		    x.d BETWEEN r.r_from AND r.r_to),
	retired AS (
		SELECT DISTINCT ON (d.product_id) d.product_id, d.window_start,
		    d.window_end
		FROM public.replace_decisions d, r
		WHERE d.shop_id = p_shop AND d.verdict = 'retire' AND
		    d.outcome = 'done' AND (d.decided_at AT TIME ZONE r.zone)::date
		    BETWEEN r.r_from AND r.r_to
		ORDER BY d.product_id, d.decided_at DESC)
	SELECT 'product_creation', 'created', (SELECT count(*) FROM created),
	    NULL::bigint, NULL::numeric,
	    coalesce((SELECT sum(s.units) FROM created c
	        JOIN public.product_sales_daily s ON s.shop_id = p_shop AND
	        s.product_id = c.product_id AND s.day >= c.d), 0)::bigint,
	    coalesce((SELECT sum(s.revenue) FROM created c
	        JOIN public.product_sales_daily s ON s.shop_id = p_shop AND
	        s.product_id = c.product_id AND s.day >= c.d), 0)
	FROM r
	UNION ALL
	SELECT 'product_optimize', 'rewritten', (SELECT count(*) FROM rewritten),
	    coalesce(sum(s.units) FILTER (WHERE s.day < w.d), 0)::bigint,
	    coalesce(sum(s.revenue) FILTER (WHERE s.day < w.d), 0),
	    coalesce(sum(s.units) FILTER (WHERE s.day > w.d), 0)::bigint,
	    coalesce(sum(s.revenue) FILTER (WHERE s.day > w.d), 0)
	FROM r LEFT JOIN (rewritten w JOIN public.product_sales_daily s ON
	    s.shop_id = p_shop AND s.product_id = w.product_id AND
	    s.day BETWEEN w.d - w.w AND w.d + w.w AND s.day <> w.d) ON true
	GROUP BY r.r_from	-- no row at all when r has none
	UNION ALL
	SELECT 'replace_job', 'retired', (SELECT count(*) FROM retired),
	    coalesce(sum(s.units), 0)::bigint, coalesce(sum(s.revenue), 0),
	    NULL::bigint, NULL::numeric
	FROM r LEFT JOIN (retired t JOIN public.product_sales_daily s ON
	    s.shop_id = p_shop AND s.product_id = t.product_id AND
	    s.day BETWEEN t.window_start AND t.window_end) ON true
	GROUP BY r.r_from
	UNION ALL
	SELECT 'pinterest_sync', 'pinned', count(p.product_id), NULL::bigint,
	    NULL::numeric, NULL::bigint, NULL::numeric
	FROM r LEFT JOIN public.pinterest_pins p ON p.shop_id = p_shop AND
	    (p.pinned_at AT TIME ZONE r.zone)::date BETWEEN r.r_from AND r.r_to
	GROUP BY r.r_from
$fn$;

-- OpenAI tokens product_optimize used for the shop in the range, per model.
CREATE OR REPLACE FUNCTION public.reboss_openai_usage(p_shop uuid,
	p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (model text, calls bigint, prompt_tokens bigint,
	completion_tokens bigint, total_tokens bigint)
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
	SELECT coalesce(o.model, ''), count(*), sum(o.prompt_tokens)::bigint,
	    sum(o.completion_tokens)::bigint, sum(o.total_tokens)::bigint
	FROM public.reboss_sales_range(p_shop, p_from, p_to) r
	JOIN public.product_optimizations o ON o.shop_id = p_shop AND
	    (o.created_at AT TIME ZONE public.reboss_shop_zone(p_shop))::date
	    BETWEEN r.r_from AND r.r_to
	WHERE o.total_tokens > 0 OR o.prompt_tokens > 0
	GROUP BY 1 ORDER BY 1
$fn$;

REVOKE ALL ON FUNCTION public.reboss_shop_zone(uuid),
	public.reboss_automation_roi(uuid, date, date),
	public.reboss_openai_usage(uuid, date, date)
	FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.reboss_shop_zone(uuid),
	public.reboss_automation_roi(uuid, date, date),
	public.reboss_openai_usage(uuid, date, date)
	TO authenticated, service_role;
