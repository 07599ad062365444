-- 005_catalog.sql - the catalog cycle (PRODUCT.md, Jobs 2 and 3).
-- Owned by "catalog" (jobs/replace_job.c, jobs/product_creation.c,
-- lib/replace.c, lib/catalog_settings.c).
--
--   catalog_settings   per shop, written by the dashboard: phases, managed
--                      collections, retire action, protect tag, cap,
--                      creation template, daily quota, dry-run switch.  No
--                      row = the defaults below (lib/catalog_settings.c has
--                      the same defaults: change both).  The CHECKs keep
--                      the dashboard honest; the jobs validate again and
--                      fail the shop with a sentence naming the setting.
--   replace_decisions  every decision replace_job made, with its numbers
--                      and what was done in Shopify.
--   catalog_slots      an open slot per retired product; product_creation
--                      fills it (filled_at, filled_by).
--   design_queue       designs waiting to become products (dashboard
--                      writes); status pending -> creating -> created |
--                      failed.  'creating' + handle is the idempotency
--                      mark: a worker killed after the create finds the
--                      product by its handle on the next run.
--   created_products   every product product_creation made (one per queue
--                      item: UNIQUE queue_item_id).
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.catalog_settings (
	shop_id			uuid PRIMARY KEY
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	start_days		integer NOT NULL DEFAULT 7
	    CHECK (start_days BETWEEN 1 AND 90),
	start_min_sales		integer NOT NULL DEFAULT 1
	    CHECK (start_min_sales BETWEEN 0 AND 100000),
	post_days		integer NOT NULL DEFAULT 14
	    CHECK (post_days BETWEEN 1 AND 365),
	post_min_sales		integer NOT NULL DEFAULT 1
	    CHECK (post_min_sales BETWEEN 0 AND 100000),
	-- Collection legacy ids (the number in gid://shopify/Collection/N).
	managed_collection_ids	bigint[] NOT NULL DEFAULT '{}'
	    CHECK (cardinality(managed_collection_ids) <= 50),
	retire_action		text NOT NULL DEFAULT 'draft'
	    CHECK (retire_action IN ('draft', 'archive',
	        'remove_from_collection')),
	protect_tag		text NOT NULL DEFAULT 'reboss-keep'
	    CHECK (length(protect_tag) BETWEEN 1 AND 255),
	max_replacements	integer NOT NULL DEFAULT 10
	    CHECK (max_replacements BETWEEN 0 AND 1000),
	-- {product_type, vendor, status ACTIVE|DRAFT, tags [..],
	--  options [{name, values [..]}] (at most 3),
	--  variants [{options [..], price "19.99", compare_at_price, sku}]}
	creation_template	jsonb NOT NULL DEFAULT
	    '{"product_type": "", "vendor": "", "status": "ACTIVE", "tags": [],
	      "options": [], "variants": [{"options": [], "price": "19.99"}]}'
	    CHECK (jsonb_typeof(creation_template) = 'object'),
	-- Where quota products go; NULL = the first managed collection.
	creation_collection_id	bigint CHECK (creation_collection_id > 0),
	daily_creation_quota	integer NOT NULL DEFAULT 0
	    CHECK (daily_creation_quota BETWEEN 0 AND 250),
	dry_run			boolean NOT NULL DEFAULT false,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE TRIGGER catalog_settings_updated_at
	BEFORE UPDATE ON public.catalog_settings
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.replace_decisions (
	id			bigserial PRIMARY KEY,
	run_id			uuid,		-- job_runs.id
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL,
	product_title		text NOT NULL DEFAULT '',
	collection_id		bigint,
	as_of			timestamptz NOT NULL,	-- the moment judged
	published_at		timestamptz,
	age_days		integer,	-- local days since publish day
	phase			text NOT NULL
	    CHECK (phase IN ('start', 'post', 'none')),
	window_start		date,		-- inclusive, shop's zone
	window_end		date,		-- inclusive
	units			bigint,
	threshold		integer,
	verdict			text NOT NULL
	    CHECK (verdict IN ('keep', 'retire', 'skip')),
	reason			text NOT NULL,	-- stable code
	action			text CHECK (action IN ('draft', 'archive',
	    'remove_from_collection')),
	outcome			text NOT NULL DEFAULT 'none'
	    CHECK (outcome IN ('none', 'done', 'dry_run', 'failed')),
	error			text,
	decided_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_replace_decisions_shop
	ON public.replace_decisions (shop_id, decided_at DESC);
CREATE INDEX IF NOT EXISTS idx_replace_decisions_product
	ON public.replace_decisions (shop_id, product_id);

CREATE TABLE IF NOT EXISTS public.catalog_slots (
	id			bigserial PRIMARY KEY,
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	collection_id		bigint,
	decision_id		bigint UNIQUE
	    REFERENCES public.replace_decisions (id) ON DELETE SET NULL,
	opened_at		timestamptz NOT NULL,
	filled_at		timestamptz,
	filled_by		uuid		-- design_queue.id
);
CREATE INDEX IF NOT EXISTS idx_catalog_slots_open
	ON public.catalog_slots (shop_id, opened_at) WHERE filled_at IS NULL;

CREATE TABLE IF NOT EXISTS public.design_queue (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	position		integer NOT NULL DEFAULT 0,	-- lower first
	title			text NOT NULL
	    CHECK (length(title) BETWEEN 1 AND 255),
	description		text NOT NULL DEFAULT '',
	image_url		text CHECK (length(image_url) <= 2048),
	tags			text[] NOT NULL DEFAULT '{}',
	-- {product_type, vendor, status, tags, price, collection_id}
	overrides		jsonb NOT NULL DEFAULT '{}'
	    CHECK (jsonb_typeof(overrides) = 'object'),
	status			text NOT NULL DEFAULT 'pending'
	    CHECK (status IN ('pending', 'creating', 'created', 'failed')),
	handle			text,		-- set with 'creating'
	slot_id			bigint,		-- the slot it fills (NULL: quota)
	collection_id		bigint,		-- where it goes
	product_id		bigint,
	error			text,
	attempts		integer NOT NULL DEFAULT 0,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_design_queue_next
	ON public.design_queue (shop_id, position, created_at)
	WHERE status IN ('pending', 'creating');
CREATE OR REPLACE TRIGGER design_queue_updated_at
	BEFORE UPDATE ON public.design_queue
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.created_products (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL,
	queue_item_id		uuid UNIQUE,
	handle			text NOT NULL,
	collection_id		bigint,
	slot_id			bigint,		-- NULL: daily quota
	published_at		timestamptz,
	created_at		timestamptz NOT NULL,	-- job clock
	PRIMARY KEY (shop_id, product_id)
);
CREATE INDEX IF NOT EXISTS idx_created_products_day
	ON public.created_products (shop_id, created_at);

-- Privileges: the dashboard (authenticated) reads and writes its own
-- shops' settings and design queue, reads decisions, slots and created
-- products; only the jobs write those.
REVOKE ALL ON public.catalog_settings, public.replace_decisions,
	public.catalog_slots, public.design_queue, public.created_products
	FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.catalog_settings, public.replace_decisions,
	public.catalog_slots, public.design_queue, public.created_products
	TO service_role;
GRANT USAGE ON SEQUENCE public.replace_decisions_id_seq,
	public.catalog_slots_id_seq TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.catalog_settings
	TO authenticated;
GRANT SELECT, DELETE ON public.design_queue TO authenticated;
GRANT INSERT (shop_id, position, title, description, image_url, tags,
	overrides) ON public.design_queue TO authenticated;
GRANT UPDATE (position, title, description, image_url, tags, overrides)
	ON public.design_queue TO authenticated;
GRANT SELECT ON public.replace_decisions, public.catalog_slots,
	public.created_products TO authenticated;

ALTER TABLE public.catalog_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.replace_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.catalog_slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.design_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.created_products ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
	p record;
BEGIN
	FOR p IN SELECT policyname, tablename FROM pg_catalog.pg_policies
	    WHERE schemaname = 'public'
	      AND tablename IN ('catalog_settings', 'replace_decisions',
	        'catalog_slots', 'design_queue', 'created_products') LOOP
		RAISE WARNING 'replacing policy % on table %', p.policyname, p.tablename;
		EXECUTE format('DROP POLICY %I ON public.%I', p.policyname,
		    p.tablename);
	END LOOP;
END
$policies$;

CREATE POLICY catalog_settings_own ON public.catalog_settings
	FOR ALL TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = catalog_settings.shop_id AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = catalog_settings.shop_id AND s.user_id = auth.uid()));
CREATE POLICY design_queue_own ON public.design_queue
	FOR ALL TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = design_queue.shop_id AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = design_queue.shop_id AND s.user_id = auth.uid()));
CREATE POLICY replace_decisions_select_own ON public.replace_decisions
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = replace_decisions.shop_id AND s.user_id = auth.uid()));
CREATE POLICY catalog_slots_select_own ON public.catalog_slots
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = catalog_slots.shop_id AND s.user_id = auth.uid()));
CREATE POLICY created_products_select_own ON public.created_products
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = created_products.shop_id AND s.user_id = auth.uid()));
