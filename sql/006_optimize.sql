-- 006_optimize.sql - what reboss-product-optimize keeps (PRODUCT.md, Jobs 4).
-- Owned by product_optimize (jobs/product_optimize.c, lib/openai.c,
-- lib/copy_validate.c, ctl/optimize_cmds.c).
--
--   pod_ai_settings         per shop: the dashboard's "POD AI" tab.  A shop
--                           without a row, or with enabled = false, is
--                           left alone (AI never rewrites a shop's copy
--                           unless its owner turned it on).
--   product_optimizations   one row per product the job tried: the copy
--                           before and after (every rewritten field),
--                           model, token usage, status, error, rollback.
--   optimize_quota_stops    one row per run whose OpenAI key answered
--                           insufficient_quota: every worker of the run
--                           reads it before each call and stops.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.pod_ai_settings (
	shop_id			uuid PRIMARY KEY
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	enabled			boolean NOT NULL DEFAULT true,
	-- language the copy is written in: a BCP 47 tag ("en", "de-DE")
	language		text NOT NULL DEFAULT 'en'
	    CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
	tone			text NOT NULL DEFAULT 'friendly and persuasive'
	    CHECK (length(tone) BETWEEN 1 AND 200),
	-- words the copy should use where they fit (brand, claims)
	brand_words		text[] NOT NULL DEFAULT '{}'
	    CHECK (cardinality(brand_words) <= 50),
	-- which fields are rewritten; the others are never touched
	fields			text[] NOT NULL DEFAULT
	    '{title,description,tags,seo_title,seo_description}'
	    CHECK (cardinality(fields) >= 1 AND fields <@
	    '{title,description,tags,seo_title,seo_description}'::text[]),
	-- scope: products of these collections only; empty = all products
	collection_ids		bigint[] NOT NULL DEFAULT '{}',
	products_per_run	integer NOT NULL DEFAULT 10
	    CHECK (products_per_run BETWEEN 1 AND 250),
	-- OpenAI tokens (prompt + completion) per shop per UTC day
	daily_token_budget	bigint NOT NULL DEFAULT 100000
	    CHECK (daily_token_budget >= 0),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE TRIGGER pod_ai_settings_updated_at
	BEFORE UPDATE ON public.pod_ai_settings
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- status: 'pending'  written before Shopify is updated (a crash right after
--                    the update leaves the "before" for rollback, and the
--                    product is not rewritten a second time);
--         'applied'  Shopify took the new copy;
--         'failed'   nothing was written to Shopify; error says why.
-- rolled_back_at: "rebossctl rollback" wrote "before" back to Shopify.
CREATE TABLE IF NOT EXISTS public.product_optimizations (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL CHECK (product_id > 0),
	run_id			uuid REFERENCES public.job_runs (id)
	    ON DELETE SET NULL,
	status			text NOT NULL
	    CHECK (status IN ('pending', 'applied', 'failed')),
	fields			text[] NOT NULL,
	-- {title, description_html, tags, seo_title, seo_description}
	before			jsonb NOT NULL,
	after			jsonb,		-- validated copy; NULL if failed
	model			text,
	prompt_tokens		integer NOT NULL DEFAULT 0
	    CHECK (prompt_tokens >= 0),
	completion_tokens	integer NOT NULL DEFAULT 0
	    CHECK (completion_tokens >= 0),
	total_tokens		integer NOT NULL DEFAULT 0
	    CHECK (total_tokens >= 0),
	error			text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	applied_at		timestamptz,
	rolled_back_at		timestamptz,
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CHECK (status <> 'applied' OR after IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS idx_product_optimizations_product
	ON public.product_optimizations (shop_id, product_id);
CREATE INDEX IF NOT EXISTS idx_product_optimizations_day
	ON public.product_optimizations (shop_id, created_at);
CREATE OR REPLACE TRIGGER product_optimizations_updated_at
	BEFORE UPDATE ON public.product_optimizations
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.optimize_quota_stops (
	run_id			uuid PRIMARY KEY,
	shop_id			uuid REFERENCES public.shops (id)
	    ON DELETE SET NULL,		-- the shop whose call was refused
	error			text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now()
);

-- Privileges: the dashboard (authenticated) reads and writes its shops'
-- settings and reads their optimization history; the quota stops are the
-- backend's.
REVOKE ALL ON public.pod_ai_settings, public.product_optimizations,
	public.optimize_quota_stops
	FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.pod_ai_settings, public.product_optimizations,
	public.optimize_quota_stops TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.pod_ai_settings
	TO authenticated;
GRANT SELECT ON public.product_optimizations TO authenticated;

ALTER TABLE public.pod_ai_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.product_optimizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.optimize_quota_stops ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS pod_ai_settings_select_own ON public.pod_ai_settings;
CREATE POLICY pod_ai_settings_select_own ON public.pod_ai_settings
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pod_ai_settings.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS pod_ai_settings_insert_own ON public.pod_ai_settings;
CREATE POLICY pod_ai_settings_insert_own ON public.pod_ai_settings
	FOR INSERT TO authenticated
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pod_ai_settings.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS pod_ai_settings_update_own ON public.pod_ai_settings;
CREATE POLICY pod_ai_settings_update_own ON public.pod_ai_settings
	FOR UPDATE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pod_ai_settings.shop_id AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pod_ai_settings.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS pod_ai_settings_delete_own ON public.pod_ai_settings;
CREATE POLICY pod_ai_settings_delete_own ON public.pod_ai_settings
	FOR DELETE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pod_ai_settings.shop_id AND s.user_id = auth.uid()));
DROP POLICY IF EXISTS product_optimizations_select_own
	ON public.product_optimizations;
CREATE POLICY product_optimizations_select_own
	ON public.product_optimizations FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = product_optimizations.shop_id
	      AND s.user_id = auth.uid()));
