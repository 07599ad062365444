-- 010_install_webhooks.sql - the ReBoss app's install flow and its webhooks
-- (issue 14).  Owner: the "install" module (fcgi/routes_shopify_app.c).
--
-- oauth_states also carries the state of POST /api/shopify/install: the
-- shop may not exist yet, so such a row is bound to the user and the shop
-- DOMAIN (shop_domain), not to a shops row.  The other providers keep
-- their shop_id binding.  Used once and valid 10 minutes as before.
ALTER TABLE public.oauth_states
	DROP CONSTRAINT IF EXISTS oauth_states_provider_check;
ALTER TABLE public.oauth_states
	ADD CONSTRAINT oauth_states_provider_check CHECK (provider IN
	    ('pinterest', 'meta', 'google', 'shopify'));
ALTER TABLE public.oauth_states
	ALTER COLUMN shop_id DROP NOT NULL,
	ADD COLUMN IF NOT EXISTS shop_domain text;
ALTER TABLE public.oauth_states
	DROP CONSTRAINT IF EXISTS oauth_states_binding_check;
ALTER TABLE public.oauth_states
	ADD CONSTRAINT oauth_states_binding_check CHECK (CASE provider
	    WHEN 'shopify' THEN shop_domain IS NOT NULL AND shop_domain ~
	    '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com$'
	    ELSE shop_id IS NOT NULL AND shop_domain IS NULL END);

-- shopify_webhooks ----------------------------------------------------------------
-- One row per webhook delivery that passed its HMAC check, keyed by
-- X-Shopify-Webhook-Id: a delivery seen before is answered 200 and not
-- applied again (Shopify retries until it gets a 2xx, and may deliver one
-- event twice).  No field of the payload is kept: customers/* payloads
-- carry a customer's email and phone, which ReBoss never stores.
-- detail: what was done ({"uninstalled": true}, {"deleted": {table: n}}).
-- shop/redact deletes every earlier row of its shop and records itself
-- with shop_domain NULL: nothing names the shop afterwards.
CREATE TABLE IF NOT EXISTS public.shopify_webhooks (
	webhook_id		text PRIMARY KEY
	    CHECK (length(webhook_id) BETWEEN 1 AND 128),
	topic			text NOT NULL CHECK (topic IN ('app/uninstalled',
	    'customers/data_request', 'customers/redact', 'shop/redact')),
	shop_domain		text,
	api_version		text,
	received_at		timestamptz NOT NULL DEFAULT now(),
	detail			jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_shopify_webhooks_shop
	ON public.shopify_webhooks (shop_domain);

REVOKE ALL ON public.shopify_webhooks FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.shopify_webhooks TO service_role;
ALTER TABLE public.shopify_webhooks ENABLE ROW LEVEL SECURITY;

-- reboss_shop_redact(domain) -------------------------------------------------------
-- shop/redact: everything stored for the shop goes.  Counts first (for the
-- record), then deletes the shops row (every table keyed by shop_id
-- cascades), then whatever still names the shop: rows of any table with a
-- shop_id column that does not cascade, install states and webhook
-- records with its domain, and its entries of job_runs.error_log.  The
-- tables are found in the catalog, so a table added later is covered
-- without touching this function.  Returns {"table": rows, ...} (tables
-- with none left out), NULL when no such shop exists.
CREATE OR REPLACE FUNCTION public.reboss_shop_redact(p_domain text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = public, pg_temp
AS $fn$
DECLARE
	v_id	uuid;
	v_out	jsonb := '{}';
	v_n	bigint;
	r	record;
BEGIN
	SELECT id INTO v_id FROM public.shops WHERE shop_domain = p_domain
	    FOR UPDATE;
	IF v_id IS NOT NULL THEN
		FOR r IN SELECT c.table_name FROM information_schema.columns c
		    JOIN information_schema.tables t USING (table_schema,
		    table_name) WHERE c.table_schema = 'public' AND
		    c.column_name = 'shop_id' AND t.table_type = 'BASE TABLE'
		    ORDER BY 1 LOOP
			EXECUTE format('SELECT count(*) FROM public.%I WHERE '
			    'shop_id = $1', r.table_name) INTO v_n USING v_id;
			IF v_n > 0 THEN
				v_out := v_out || jsonb_build_object(
				    r.table_name, v_n);
			END IF;
		END LOOP;
		v_out := v_out || jsonb_build_object('shops', 1);
		DELETE FROM public.shops WHERE id = v_id;
		FOR r IN SELECT c.table_name FROM information_schema.columns c
		    JOIN information_schema.tables t USING (table_schema,
		    table_name) WHERE c.table_schema = 'public' AND
		    c.column_name = 'shop_id' AND t.table_type = 'BASE TABLE'
		    LOOP
			EXECUTE format('DELETE FROM public.%I WHERE shop_id = '
			    '$1', r.table_name) USING v_id;
		END LOOP;
		UPDATE public.job_runs SET error_log = (SELECT
		    coalesce(jsonb_agg(e ORDER BY n), '[]') FROM
		    jsonb_array_elements(error_log) WITH ORDINALITY AS x(e, n)
		    WHERE e->>'shop_id' IS DISTINCT FROM v_id::text)
		    WHERE error_log @> jsonb_build_array(jsonb_build_object(
		    'shop_id', v_id::text));
		GET DIAGNOSTICS v_n = ROW_COUNT;
		IF v_n > 0 THEN
			v_out := v_out || jsonb_build_object(
			    'job_runs.error_log', v_n);
		END IF;
	END IF;
	DELETE FROM public.oauth_states WHERE shop_domain = p_domain;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	IF v_n > 0 THEN
		v_out := v_out || jsonb_build_object('oauth_states', v_n);
	END IF;
	DELETE FROM public.shopify_webhooks WHERE shop_domain = p_domain;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	IF v_n > 0 THEN
		v_out := v_out || jsonb_build_object('shopify_webhooks', v_n);
	END IF;
	RETURN CASE WHEN v_id IS NULL AND v_out = '{}' THEN NULL ELSE v_out END;
END
$fn$;
-- Only the backend (the owner) and service_role call it (see 008).
REVOKE ALL ON FUNCTION public.reboss_shop_redact(text) FROM PUBLIC, anon,
	authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.reboss_shop_redact(text) TO service_role;
