-- 016_shop_settings.sql - per-shop switches and limits the owner sets in the
-- dashboard (issue 18: GeneralSettings, RateLimits) and the jobs obey
-- (lib/shop_limits.c).  Owner: the "owner" module.
--
-- One row per shop, written by the owner through row-level security; no
-- row means every job runs and no per-shop limit applies beyond the job's
-- own settings.  A limit is NULL (no per-shop limit) or a number within
-- the CHECK bounds; the job uses the smallest of this limit, the
-- operator's cap in reboss.conf (max_creations_per_day, ...) and the job's
-- own setting where it has one (catalog_settings.max_replacements,
-- pod_ai_settings.daily_token_budget):
--   <job>_enabled          false: the job leaves the shop alone and records
--                          it 'skipped' with the reason
--   creations_per_day      products product_creation makes per local day
--                          (slots and quota together)
--   retirements_per_run    products replace_job retires per run
--   pins_per_run           new pins pinterest_sync makes per run
--   openai_tokens_per_day  tokens product_optimize spends per local day
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.shop_settings (
	shop_id			uuid PRIMARY KEY
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	sales_tracker_enabled	boolean NOT NULL DEFAULT true,
	replace_job_enabled	boolean NOT NULL DEFAULT true,
	product_creation_enabled boolean NOT NULL DEFAULT true,
	product_optimize_enabled boolean NOT NULL DEFAULT true,
	pinterest_sync_enabled	boolean NOT NULL DEFAULT true,
	creations_per_day	integer
	    CHECK (creations_per_day BETWEEN 0 AND 250),
	retirements_per_run	integer
	    CHECK (retirements_per_run BETWEEN 0 AND 1000),
	pins_per_run		integer
	    CHECK (pins_per_run BETWEEN 0 AND 1000),
	openai_tokens_per_day	bigint
	    CHECK (openai_tokens_per_day BETWEEN 0 AND 100000000),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE TRIGGER shop_settings_updated_at
	BEFORE UPDATE ON public.shop_settings
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

REVOKE ALL ON public.shop_settings FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.shop_settings TO service_role;
GRANT SELECT, DELETE ON public.shop_settings TO authenticated;
GRANT INSERT (shop_id, sales_tracker_enabled, replace_job_enabled,
	product_creation_enabled, product_optimize_enabled,
	pinterest_sync_enabled, creations_per_day, retirements_per_run,
	pins_per_run, openai_tokens_per_day) ON public.shop_settings
	TO authenticated;
GRANT UPDATE (sales_tracker_enabled, replace_job_enabled,
	product_creation_enabled, product_optimize_enabled,
	pinterest_sync_enabled, creations_per_day, retirements_per_run,
	pins_per_run, openai_tokens_per_day) ON public.shop_settings
	TO authenticated;

ALTER TABLE public.shop_settings ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS shop_settings_own ON public.shop_settings;
CREATE POLICY shop_settings_own ON public.shop_settings
	FOR ALL TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = shop_settings.shop_id AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = shop_settings.shop_id AND s.user_id = auth.uid()));
