-- 019_notifications_rollup.sql - two things of issue 18: notifications to
-- the shop owner, and the monthly rollup of product sales.
--
-- Notifications (first half): the
-- dashboard shows them, the owner marks them read; "rebossctl check" mails
-- new ones to the shop's e-mail address when the operator sets owner_mail =
-- yes (reboss.conf(5)).  Owner: the "owner" module.
--
-- Causes, each written by the database itself where the fact is recorded,
-- so every writer (API, jobs, rebossctl, on any host) is covered:
--   shop_disconnected  shops.connection_status leaves 'connected' (trigger;
--                      subject: the new status; lib/shop.c's
--                      shop_set_status and the webhooks write it)
--   account_broken     a linked Pinterest/Meta/Google account turns broken
--                      (trigger on <provider>_auth.broken; subject: provider)
--   job_failing        a job failed for the shop REBOSS_FAILING_RUNS (3) runs
--                      in a row (trigger on shop_job_status; subject: job)
--   limit_reached      a limit stopped work: replace_job kept products for
--                      its cap (trigger on replace_decisions), or a job
--                      called reboss_notify_limit() (lib/shop_limits.c:
--                      creations_per_day, pins_per_run, openai tokens)
--                      (subject: the limit)
-- At most one notification per shop, cause, subject and UTC day: a unique
-- key, so a second event of the same day is no new row (and no new mail).
--
-- The owner reads their shops' rows and may set read_at, nothing else; the
-- writers are SECURITY DEFINER functions the dashboard's roles cannot call.
--
-- Monthly rollup (second half, owner: the "dashboard" module):
-- product_sales_monthly holds per shop, local month (its first day) and
-- product the month's sums and the cumulative sums through the end of that
-- month.  A product with any daily row has a row in every month from its
-- first to the shop's last month with rows (carried forward), so "sold
-- through the end of month M" is one row per product at month least(M,
-- last).  Statement triggers on product_sales_daily keep it (from the
-- changed month on, for the changed products; a new last month carries
-- every product forward).  reboss_product_sales_totals() answers a range
-- of 62 days or more as cumulative(to) - cumulative(from - 1), each the
-- snapshot of the month before plus that month's days: two index-only
-- scans of one month's rows and at most two partial months of days,
-- whatever the length (bench/README.md "Analytics").
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.notifications (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	cause			text NOT NULL CHECK (cause IN ('shop_disconnected',
	    'account_broken', 'job_failing', 'limit_reached')),
	subject			text NOT NULL DEFAULT ''
	    CHECK (length(subject) <= 64),
	day			date NOT NULL
	    DEFAULT (now() AT TIME ZONE 'UTC')::date,
	title			text NOT NULL CHECK (length(title) <= 200),
	body			text NOT NULL CHECK (length(body) <= 2000),
	created_at		timestamptz NOT NULL DEFAULT now(),
	read_at			timestamptz,
	emailed_at		timestamptz,	-- owner_mail: claimed for mailing
	UNIQUE (shop_id, cause, subject, day)
);
CREATE INDEX IF NOT EXISTS idx_notifications_shop
	ON public.notifications (shop_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_notifications_unmailed
	ON public.notifications (created_at) WHERE emailed_at IS NULL;

-- The one writer: one row per shop, cause, subject and day.
CREATE OR REPLACE FUNCTION public.reboss_notify(p_shop uuid, p_cause text,
	p_subject text, p_title text, p_body text) RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
	INSERT INTO public.notifications (shop_id, cause, subject, title, body)
	SELECT p_shop, p_cause, left(coalesce(p_subject, ''), 64),
	    left(p_title, 200), left(p_body, 2000)
	WHERE EXISTS (SELECT 1 FROM public.shops s WHERE s.id = p_shop)
	ON CONFLICT (shop_id, cause, subject, day) DO NOTHING;
$fn$;

-- A limit stopped work (called by the jobs, lib/shop_limits.c).
CREATE OR REPLACE FUNCTION public.reboss_notify_limit(p_shop uuid,
	p_limit text, p_detail text) RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
	SELECT public.reboss_notify(p_shop, 'limit_reached', p_limit,
	    'A limit stopped work: ' || p_limit,
	    p_detail || ' Raise the limit in the dashboard (RateLimits) if '
	    'this is too low; the rest follows in the next runs.');
$fn$;

-- shops.connection_status leaves 'connected'.
CREATE OR REPLACE FUNCTION public.reboss_notify_shop_status() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	-- to_jsonb: the reason column is the connect module's (017)
	v_reason text := coalesce(to_jsonb(NEW)->>'connection_reason', '');
BEGIN
	PERFORM public.reboss_notify(NEW.id, 'shop_disconnected',
	    NEW.connection_status, 'Reconnect ' || NEW.shop_domain,
	    CASE NEW.connection_status
	    WHEN 'reauthorize_required' THEN 'Shopify no longer accepts '
	        'ReBoss''s access to ' || NEW.shop_domain || '; connect the '
	        'shop again in the dashboard.'
	    WHEN 'frozen' THEN 'Shopify has frozen ' || NEW.shop_domain ||
	        ' (plan unpaid or store locked); the jobs leave it alone '
	        'until it is active again.'
	    WHEN 'uninstalled' THEN 'The ReBoss app was uninstalled from ' ||
	        NEW.shop_domain || '; install it again to go on.'
	    ELSE NEW.shop_domain || ' is ' || NEW.connection_status || '.'
	    END || CASE WHEN v_reason <> '' THEN ' (' || v_reason || ')'
	    ELSE '' END);
	RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS shops_notify_status ON public.shops;
CREATE TRIGGER shops_notify_status
	AFTER UPDATE OF connection_status ON public.shops
	FOR EACH ROW
	WHEN (OLD.connection_status = 'connected' AND
	    NEW.connection_status IS DISTINCT FROM 'connected')
	EXECUTE FUNCTION public.reboss_notify_shop_status();

-- A linked account turns broken; TG_ARGV[0] names the provider.
CREATE OR REPLACE FUNCTION public.reboss_notify_account() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
BEGIN
	PERFORM public.reboss_notify(NEW.shop_id, 'account_broken',
	    TG_ARGV[0], 'Link ' || initcap(TG_ARGV[0]) || ' again',
	    initcap(TG_ARGV[0]) || ' refused the linked account' ||
	    CASE WHEN coalesce(NEW.broken_reason, '') <> '' THEN ' (' ||
	    NEW.broken_reason || ')' ELSE '' END || '; link it again in the '
	    'dashboard.');
	RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS pinterest_auth_notify ON public.pinterest_auth;
CREATE TRIGGER pinterest_auth_notify AFTER UPDATE OF broken
	ON public.pinterest_auth FOR EACH ROW
	WHEN (NEW.broken AND NOT OLD.broken)
	EXECUTE FUNCTION public.reboss_notify_account('pinterest');
DROP TRIGGER IF EXISTS meta_auth_notify ON public.meta_auth;
CREATE TRIGGER meta_auth_notify AFTER UPDATE OF broken
	ON public.meta_auth FOR EACH ROW
	WHEN (NEW.broken AND NOT OLD.broken)
	EXECUTE FUNCTION public.reboss_notify_account('meta');
DROP TRIGGER IF EXISTS google_auth_notify ON public.google_auth;
CREATE TRIGGER google_auth_notify AFTER UPDATE OF broken
	ON public.google_auth FOR EACH ROW
	WHEN (NEW.broken AND NOT OLD.broken)
	EXECUTE FUNCTION public.reboss_notify_account('google');

-- A job failed for the shop three runs in a row (as "rebossctl check"
-- warns); while it keeps failing, once a day.
CREATE OR REPLACE FUNCTION public.reboss_notify_job() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
BEGIN
	PERFORM public.reboss_notify(NEW.shop_id, 'job_failing', NEW.job_type,
	    NEW.job_type || ' keeps failing',
	    NEW.job_type || ' failed for this shop ' ||
	    NEW.consecutive_failures || ' runs in a row; the last error: ' ||
	    coalesce(NEW.last_error, 'none recorded') || '.');
	RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS shop_job_status_notify ON public.shop_job_status;
CREATE TRIGGER shop_job_status_notify
	AFTER INSERT OR UPDATE OF consecutive_failures ON public.shop_job_status
	FOR EACH ROW WHEN (NEW.consecutive_failures >= 3)
	EXECUTE FUNCTION public.reboss_notify_job();

-- replace_job kept products it would have retired: its cap.
CREATE OR REPLACE FUNCTION public.reboss_notify_cap() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
BEGIN
	PERFORM public.reboss_notify_limit(NEW.shop_id, 'retirements_per_run',
	    'replace_job reached its retirements per run (the smaller of '
	    'retirements_per_run and max_replacements) and kept products it '
	    'would have retired.');
	RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS replace_decisions_notify ON public.replace_decisions;
CREATE TRIGGER replace_decisions_notify
	AFTER INSERT ON public.replace_decisions
	FOR EACH ROW WHEN (NEW.reason = 'cap_reached')
	EXECUTE FUNCTION public.reboss_notify_cap();

-- Privileges.
REVOKE ALL ON public.notifications FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.notifications TO service_role;
GRANT SELECT ON public.notifications TO authenticated;
GRANT UPDATE (read_at) ON public.notifications TO authenticated;
ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS notifications_select_own ON public.notifications;
CREATE POLICY notifications_select_own ON public.notifications
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = notifications.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS notifications_read_own ON public.notifications;
CREATE POLICY notifications_read_own ON public.notifications
	FOR UPDATE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = notifications.shop_id AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = notifications.shop_id AND s.user_id = auth.uid()));

REVOKE ALL ON FUNCTION public.reboss_notify(uuid, text, text, text, text),
	public.reboss_notify_limit(uuid, text, text),
	public.reboss_notify_shop_status(), public.reboss_notify_account(),
	public.reboss_notify_job(), public.reboss_notify_cap()
	FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.reboss_notify(uuid, text, text, text, text),
	public.reboss_notify_limit(uuid, text, text) TO service_role;

-- Monthly rollup ---------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.product_sales_monthly (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	month			date NOT NULL
	    CHECK (extract(day FROM month) = 1),
	product_id		bigint NOT NULL,
	units			bigint NOT NULL DEFAULT 0,
	revenue			numeric(20, 6) NOT NULL DEFAULT 0,
	orders			bigint NOT NULL DEFAULT 0,
	cum_units		bigint NOT NULL DEFAULT 0,
	cum_revenue		numeric(20, 6) NOT NULL DEFAULT 0,
	cum_orders		bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (shop_id, month, product_id)
);
CREATE INDEX IF NOT EXISTS idx_product_sales_monthly_snapshot
	ON public.product_sales_monthly (shop_id, month)
	INCLUDE (product_id, cum_units, cum_revenue, cum_orders);
CREATE INDEX IF NOT EXISTS idx_product_sales_monthly_product
	ON public.product_sales_monthly (shop_id, product_id, month);

-- Recomputes the months from each key's month on for its product, then
-- carries every product of a shop forward to the shop's last month.
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
			    sum(d.orders) AS o
			FROM k JOIN public.product_sales_daily d ON
			    d.shop_id = s.shop_id AND d.product_id = k.product_id
			    AND d.day >= k.m0
			GROUP BY 1, 2),
		grid AS (
			SELECT k.product_id, g.month::date AS month,
			    coalesce(b.cum_units, 0) AS bu,
			    coalesce(b.cum_revenue, 0) AS br,
			    coalesce(b.cum_orders, 0) AS bo
			FROM k
			LEFT JOIN public.product_sales_monthly b ON
			    b.shop_id = s.shop_id AND b.product_id = k.product_id
			    AND b.month = (k.m0 - interval '1 month')::date
			CROSS JOIN generate_series(k.m0, greatest(k.m0,
			    s.last_key, coalesce(s.last_before, k.m0)),
			    interval '1 month') AS g(month))
		INSERT INTO public.product_sales_monthly AS m (shop_id, month,
		    product_id, units, revenue, orders, cum_units,
		    cum_revenue, cum_orders)
		SELECT s.shop_id, g.month, g.product_id,
		    coalesce(o.u, 0), coalesce(o.r, 0), coalesce(o.o, 0),
		    g.bu + sum(coalesce(o.u, 0)) OVER w,
		    g.br + sum(coalesce(o.r, 0)) OVER w,
		    g.bo + sum(coalesce(o.o, 0)) OVER w
		FROM grid g LEFT JOIN own o ON o.product_id = g.product_id AND
		    o.month = g.month
		WINDOW w AS (PARTITION BY g.product_id ORDER BY g.month)
		ON CONFLICT (shop_id, month, product_id) DO UPDATE SET
		    units = EXCLUDED.units, revenue = EXCLUDED.revenue,
		    orders = EXCLUDED.orders, cum_units = EXCLUDED.cum_units,
		    cum_revenue = EXCLUDED.cum_revenue,
		    cum_orders = EXCLUDED.cum_orders
		WHERE (m.units, m.revenue, m.orders, m.cum_units, m.cum_revenue,
		    m.cum_orders) IS DISTINCT FROM (EXCLUDED.units,
		    EXCLUDED.revenue, EXCLUDED.orders, EXCLUDED.cum_units,
		    EXCLUDED.cum_revenue, EXCLUDED.cum_orders);
		-- A new last month: every other product carried forward to it.
		IF s.last_before IS NOT NULL AND s.last_key > s.last_before THEN
			INSERT INTO public.product_sales_monthly (shop_id, month,
			    product_id, cum_units, cum_revenue, cum_orders)
			SELECT s.shop_id, g.month::date, l.product_id,
			    l.cum_units, l.cum_revenue, l.cum_orders
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

CREATE OR REPLACE FUNCTION public.reboss_sales_monthly_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	v_shop		uuid[];
	v_product	bigint[];
	v_day		date[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(shop_id), array_agg(product_id), array_agg(day)
		INTO v_shop, v_product, v_day FROM new_rows;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(shop_id), array_agg(product_id), array_agg(day)
		INTO v_shop, v_product, v_day FROM old_rows;
	ELSE
		SELECT array_agg(shop_id), array_agg(product_id), array_agg(day)
		INTO v_shop, v_product, v_day
		FROM (SELECT shop_id, product_id, day FROM old_rows UNION
		      SELECT shop_id, product_id, day FROM new_rows) k;
	END IF;
	IF v_shop IS NOT NULL THEN
		PERFORM public.reboss_sales_monthly_refresh(v_shop, v_product,
		    v_day);
	END IF;
	RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS product_sales_daily_monthly_ins
	ON public.product_sales_daily;
DROP TRIGGER IF EXISTS product_sales_daily_monthly_del
	ON public.product_sales_daily;
DROP TRIGGER IF EXISTS product_sales_daily_monthly_upd
	ON public.product_sales_daily;
CREATE TRIGGER product_sales_daily_monthly_ins AFTER INSERT
	ON public.product_sales_daily REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_sales_monthly_trigger();
CREATE TRIGGER product_sales_daily_monthly_del AFTER DELETE
	ON public.product_sales_daily REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_sales_monthly_trigger();
CREATE TRIGGER product_sales_daily_monthly_upd AFTER UPDATE
	ON public.product_sales_daily
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION public.reboss_sales_monthly_trigger();

-- What product_sales_daily holds already: every shop's months at once.
SELECT public.reboss_sales_monthly_refresh(array_agg(shop_id),
	array_agg(product_id), array_agg(day))
FROM (SELECT shop_id, product_id, min(day) AS day
      FROM public.product_sales_daily GROUP BY 1, 2
      UNION ALL
      SELECT shop_id, product_id, max(day)
      FROM public.product_sales_daily GROUP BY 1, 2) k;

-- Per-product sums of a range, given as: the days [p_pos_from, p_to] added,
-- the days [p_neg_from, p_neg_to] taken off, and the cumulative snapshots
-- of months p_snap_to (added) and p_snap_from (taken off); NULL snapshots
-- and empty day ranges contribute nothing.  Products whose sums net to
-- zero are left out.  A plain SQL function: the planner inlines it into
-- reboss_product_sales_totals()'s query, so the n are picked before
-- anything leaves the function.
CREATE OR REPLACE FUNCTION public.reboss_product_range_sums(p_shop uuid,
	p_pos_from date, p_to date, p_neg_from date, p_neg_to date,
	p_snap_to date, p_snap_from date)
RETURNS TABLE (product_id bigint, units bigint, revenue numeric,
	orders bigint)
LANGUAGE sql
STABLE
AS $fn$
	WITH e AS (
		SELECT x.product_id, sum(x.u) AS u, sum(x.r) AS r,
		    sum(x.o) AS o
		FROM (SELECT d.product_id, d.units AS u, d.revenue AS r,
		    d.orders::bigint AS o
		    FROM public.product_sales_daily d
		    WHERE d.shop_id = p_shop AND
		        d.day BETWEEN p_pos_from AND p_to
		    UNION ALL
		    SELECT d.product_id, -d.units, -d.revenue, -d.orders::bigint
		    FROM public.product_sales_daily d
		    WHERE d.shop_id = p_shop AND
		        d.day BETWEEN p_neg_from AND p_neg_to) x
		GROUP BY x.product_id),
	c AS (
		SELECT coalesce(t.product_id, f.product_id) AS product_id,
		    coalesce(t.cum_units, 0) - coalesce(f.cum_units, 0) AS u,
		    coalesce(t.cum_revenue, 0) - coalesce(f.cum_revenue, 0) AS r,
		    coalesce(t.cum_orders, 0) - coalesce(f.cum_orders, 0) AS o
		FROM (SELECT m.product_id, m.cum_units, m.cum_revenue,
		    m.cum_orders FROM public.product_sales_monthly m
		    WHERE m.shop_id = p_shop AND m.month = p_snap_to) t
		FULL JOIN (SELECT m.product_id, m.cum_units, m.cum_revenue,
		    m.cum_orders FROM public.product_sales_monthly m
		    WHERE m.shop_id = p_shop AND m.month = p_snap_from) f
		    ON f.product_id = t.product_id)
	SELECT coalesce(c.product_id, e.product_id),
	    (coalesce(c.u, 0) + coalesce(e.u, 0))::bigint,
	    coalesce(c.r, 0) + coalesce(e.r, 0),
	    (coalesce(c.o, 0) + coalesce(e.o, 0))::bigint
	FROM c FULL JOIN e ON e.product_id = c.product_id
	WHERE (coalesce(c.u, 0) + coalesce(e.u, 0), coalesce(c.r, 0) +
	    coalesce(e.r, 0), coalesce(c.o, 0) + coalesce(e.o, 0)) <> (0, 0, 0)
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
AS $fn$
DECLARE
	r	record;
	v_last	date;
	v_snap_to date;		-- NULL: no snapshot (a short range)
	v_snap_from date;
	v_pos_from date;
	v_neg_from date;
	v_neg_to date;
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
	-- A short range: its days.  62 days or more: two month snapshots
	-- and the days of at most two partial months.
	v_pos_from := r.r_from;
	v_neg_from := r.r_to + 1;
	v_neg_to := r.r_to;
	IF r.r_to - r.r_from >= 62 THEN
		SELECT max(m.month) INTO v_last
		FROM public.product_sales_monthly m WHERE m.shop_id = p_shop;
	END IF;
	IF v_last IS NOT NULL THEN
		v_snap_to := least((date_trunc('month', r.r_to) -
		    interval '1 month')::date, v_last);
		v_snap_from := least((date_trunc('month', r.r_from - 1) -
		    interval '1 month')::date, v_last);
		v_pos_from := date_trunc('month', r.r_to)::date;
		v_neg_from := date_trunc('month', r.r_from - 1)::date;
		v_neg_to := r.r_from - 1;
	END IF;
	-- The n are chosen from the sums before anything is joined: only n
	-- rows (2n for the bottom) meet products.
	IF NOT p_bottom THEN
		-- The best sold something: start from the sales (a product
		-- deleted since still counts).
		RETURN QUERY
		SELECT (row_number() OVER (ORDER BY t.k DESC,
		    t.product_id))::integer, t.product_id, p.title, p.status,
		    t.units, t.revenue, t.orders
		FROM (SELECT s.*, CASE WHEN p_by = 'units' THEN
		        s.units::numeric ELSE s.revenue END AS k
		    FROM public.reboss_product_range_sums(p_shop, v_pos_from,
		        r.r_to, v_neg_from, v_neg_to, v_snap_to, v_snap_from) s
		    ORDER BY k DESC, s.product_id LIMIT p_n) t
		LEFT JOIN public.products p ON p.shop_id = p_shop AND
		    p.product_id = t.product_id
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
		    LEFT JOIN public.reboss_product_range_sums(p_shop,
		        v_pos_from, r.r_to, v_neg_from, v_neg_to, v_snap_to,
		        v_snap_from) s ON s.product_id = p.product_id
		    WHERE p.shop_id = p_shop AND p.deleted_at IS NULL
		    ORDER BY k, p.product_id LIMIT p_n) t
		ORDER BY 1;
	END IF;
END
$fn$;

REVOKE ALL ON public.product_sales_monthly FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.product_sales_monthly TO service_role;
GRANT SELECT ON public.product_sales_monthly TO authenticated;
ALTER TABLE public.product_sales_monthly ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS product_sales_monthly_select_own
	ON public.product_sales_monthly;
CREATE POLICY product_sales_monthly_select_own ON public.product_sales_monthly
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = product_sales_monthly.shop_id AND
	    s.user_id = auth.uid()));
REVOKE ALL ON FUNCTION public.reboss_sales_monthly_refresh(uuid[], bigint[],
	date[]), public.reboss_sales_monthly_trigger()
	FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON FUNCTION public.reboss_product_range_sums(uuid, date, date,
	date, date, date, date) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.reboss_product_range_sums(uuid, date, date,
	date, date, date, date) TO authenticated, service_role;
