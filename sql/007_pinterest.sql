-- 007_pinterest.sql - what reboss-pinterest-sync keeps (PRODUCT.md, Jobs 5).
-- Owned by pinterest_sync (jobs/pinterest_sync.c, lib/pinterest.c).
--
--   pinterest_sync_collections  per shop, written by the dashboard: which
--                               Shopify collections get a Pinterest board,
--                               and the board's name.
--   pinterest_boards            one board per synced collection.  A row in
--                               state 'creating' (board_id NULL) is written
--                               BEFORE boards/create is called: when the
--                               worker dies between the create and the
--                               UPDATE to 'created', the next run lists the
--                               account's boards and finds the board by the
--                               marker "[reboss:<shop>:c<collection id>]" in its
--                               description (or by its name) instead of
--                               creating a second one.
--   pinterest_pins              one pin per product (on the board of the
--                               product's first synced collection).  Same
--                               idea: 'creating' is written before
--                               pins/create; the next run lists the board's
--                               pins and matches them by link before it
--                               creates again.  'pinned' -> 'deleting'
--                               (retired product, delete under way) ->
--                               'deleted'.  A deleted product that becomes
--                               active again is pinned again.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.pinterest_sync_collections (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	-- Collection legacy id (the number in gid://shopify/Collection/N).
	collection_id		bigint NOT NULL CHECK (collection_id > 0),
	-- Pinterest allows 50 characters for a board name.
	board_name		text NOT NULL
	    CHECK (length(btrim(board_name)) BETWEEN 1 AND 50),
	board_description	text NOT NULL DEFAULT ''
	    CHECK (length(board_description) <= 400),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, collection_id)
);
CREATE OR REPLACE TRIGGER pinterest_sync_collections_updated_at
	BEFORE UPDATE ON public.pinterest_sync_collections
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.pinterest_boards (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	collection_id		bigint NOT NULL CHECK (collection_id > 0),
	board_id		text CHECK (board_id ~ '^[0-9]{1,32}$'),
	name			text NOT NULL,
	state			text NOT NULL DEFAULT 'creating'
	    CHECK (state IN ('creating', 'created')),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, collection_id),
	CHECK (state = 'creating' OR board_id IS NOT NULL)
);
CREATE OR REPLACE TRIGGER pinterest_boards_updated_at
	BEFORE UPDATE ON public.pinterest_boards
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

CREATE TABLE IF NOT EXISTS public.pinterest_pins (
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	product_id		bigint NOT NULL CHECK (product_id > 0),
	collection_id		bigint NOT NULL,
	board_id		text NOT NULL CHECK (board_id ~ '^[0-9]{1,32}$'),
	pin_id			text CHECK (pin_id ~ '^[0-9]{1,32}$'),
	link			text NOT NULL,	-- what the pin was matched by
	state			text NOT NULL DEFAULT 'creating'
	    CHECK (state IN ('creating', 'pinned', 'deleting', 'deleted')),
	error			text,		-- last failure, for the dashboard
	pinned_at		timestamptz,
	deleted_at		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, product_id),
	CHECK (state = 'creating' OR pin_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS idx_pinterest_pins_state
	ON public.pinterest_pins (shop_id, state);
CREATE OR REPLACE TRIGGER pinterest_pins_updated_at
	BEFORE UPDATE ON public.pinterest_pins
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- Privileges: the dashboard (authenticated) chooses the synced collections
-- of its own shops and reads boards and pins; only the job writes those.
REVOKE ALL ON public.pinterest_sync_collections, public.pinterest_boards,
	public.pinterest_pins FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.pinterest_sync_collections, public.pinterest_boards,
	public.pinterest_pins TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.pinterest_sync_collections
	TO authenticated;
GRANT SELECT ON public.pinterest_boards, public.pinterest_pins
	TO authenticated;

ALTER TABLE public.pinterest_sync_collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.pinterest_boards ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.pinterest_pins ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
	p record;
BEGIN
	FOR p IN SELECT policyname, tablename FROM pg_catalog.pg_policies
	    WHERE schemaname = 'public'
	      AND tablename IN ('pinterest_sync_collections',
	        'pinterest_boards', 'pinterest_pins') LOOP
		RAISE WARNING 'replacing policy % on table %', p.policyname, p.tablename;
		EXECUTE format('DROP POLICY %I ON public.%I', p.policyname,
		    p.tablename);
	END LOOP;
END
$policies$;

CREATE POLICY pinterest_sync_collections_own
	ON public.pinterest_sync_collections FOR ALL TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_sync_collections.shop_id
	      AND s.user_id = auth.uid()))
	WITH CHECK (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_sync_collections.shop_id
	      AND s.user_id = auth.uid()));
CREATE POLICY pinterest_boards_select_own ON public.pinterest_boards
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_boards.shop_id AND s.user_id = auth.uid()));
CREATE POLICY pinterest_pins_select_own ON public.pinterest_pins
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_pins.shop_id AND s.user_id = auth.uid()));
