-- 003_integrations.sql - linked accounts of a shop (Pinterest, Meta, Google)
-- and the OAuth state of flows in progress.  Owner: lib/integrations.c,
-- fcgi/routes_oauth.c.
--
-- One row per (shop, provider) in pinterest_auth (the seed's table, read by
-- the dashboard), meta_auth and google_auth.  Every token column holds a
-- sealed value ("rbs1:...", AES-256-GCM under token_key, aad
-- "<table>.<column>:<shop uuid>"), never a plain token.
--   scopes              granted scopes, space-separated
--   expires_at          when the access token stops working
--   refresh_expires_at  when the refresh token stops working (Pinterest);
--                       NULL: no expiry known (Google) or no refresh token
--                       (Meta: the long-lived token is renewed by linking
--                       the account again)
--   broken              the provider refused a refresh: the owner must link
--                       the account again; broken_reason says why (no token)
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.pinterest_auth (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	access_token		text,
	refresh_token		text,
	created_at		timestamptz NOT NULL DEFAULT now()
);
-- An adopted seed table gets our columns.
ALTER TABLE public.pinterest_auth
	ADD COLUMN IF NOT EXISTS scopes text,
	ADD COLUMN IF NOT EXISTS expires_at timestamptz,
	ADD COLUMN IF NOT EXISTS refresh_expires_at timestamptz,
	ADD COLUMN IF NOT EXISTS broken boolean NOT NULL DEFAULT false,
	ADD COLUMN IF NOT EXISTS broken_reason text,
	ADD COLUMN IF NOT EXISTS connected_at timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN IF NOT EXISTS refreshed_at timestamptz,
	ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
-- The seed upserts on shop_id: one row per shop.
CREATE UNIQUE INDEX IF NOT EXISTS pinterest_auth_shop_key
	ON public.pinterest_auth (shop_id);

CREATE TABLE IF NOT EXISTS public.meta_auth (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL UNIQUE
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	access_token		text NOT NULL,
	scopes			text,
	expires_at		timestamptz,
	broken			boolean NOT NULL DEFAULT false,
	broken_reason		text,
	connected_at		timestamptz NOT NULL DEFAULT now(),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.google_auth (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL UNIQUE
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	access_token		text NOT NULL,
	refresh_token		text,
	scopes			text,
	expires_at		timestamptz,
	refresh_expires_at	timestamptz,
	broken			boolean NOT NULL DEFAULT false,
	broken_reason		text,
	connected_at		timestamptz NOT NULL DEFAULT now(),
	refreshed_at		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE TRIGGER pinterest_auth_updated_at
	BEFORE UPDATE ON public.pinterest_auth
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();
CREATE OR REPLACE TRIGGER meta_auth_updated_at
	BEFORE UPDATE ON public.meta_auth
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();
CREATE OR REPLACE TRIGGER google_auth_updated_at
	BEFORE UPDATE ON public.google_auth
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- oauth_states ------------------------------------------------------------------
-- One row per consent flow started with POST /api/oauth/{provider}/start.
-- The pool has many processes, so the state lives here, not in a worker.
-- state_hash: base64url SHA-256 of the state sent to the provider (the state
-- itself is never stored).  code_verifier: Google's PKCE verifier, sealed
-- with aad "oauth_states.code_verifier:<id>".  A state is used once:
-- the callback sets used_at in one UPDATE ... WHERE used_at IS NULL, and
-- keeps the row a while so that a replay is told apart from a forgery.
CREATE TABLE IF NOT EXISTS public.oauth_states (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	state_hash		text NOT NULL UNIQUE
	    CHECK (state_hash ~ '^[A-Za-z0-9_-]{43}$'),
	user_id			uuid NOT NULL,
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	provider		text NOT NULL
	    CHECK (provider IN ('pinterest', 'meta', 'google')),
	code_verifier		text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz NOT NULL,
	used_at			timestamptz
);
CREATE INDEX IF NOT EXISTS idx_oauth_states_created
	ON public.oauth_states (created_at);

-- Privileges ------------------------------------------------------------------
-- As in 001_core: start from nothing.  The dashboard (authenticated) reads
-- the status columns of its own shops' links and may delete a link; it
-- never reads a token column (it must name its columns).  oauth_states is
-- the backend's alone.
REVOKE ALL ON public.pinterest_auth, public.meta_auth, public.google_auth,
	public.oauth_states FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.pinterest_auth, public.meta_auth, public.google_auth,
	public.oauth_states TO service_role;

GRANT SELECT (id, shop_id, scopes, expires_at, refresh_expires_at, broken,
	broken_reason, connected_at, refreshed_at, created_at, updated_at)
	ON public.pinterest_auth TO authenticated;
GRANT SELECT (id, shop_id, scopes, expires_at, broken, broken_reason,
	connected_at, created_at, updated_at)
	ON public.meta_auth TO authenticated;
GRANT SELECT (id, shop_id, scopes, expires_at, refresh_expires_at, broken,
	broken_reason, connected_at, refreshed_at, created_at, updated_at)
	ON public.google_auth TO authenticated;
GRANT DELETE ON public.pinterest_auth, public.meta_auth, public.google_auth
	TO authenticated;

-- Row-level security ------------------------------------------------------------
ALTER TABLE public.pinterest_auth ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.meta_auth ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.google_auth ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.oauth_states ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
	p record;
BEGIN
	FOR p IN SELECT policyname, tablename FROM pg_catalog.pg_policies
	    WHERE schemaname = 'public'
	      AND tablename IN ('pinterest_auth', 'meta_auth', 'google_auth',
	        'oauth_states') LOOP
		RAISE WARNING 'replacing policy % on table %', p.policyname, p.tablename;
		EXECUTE format('DROP POLICY %I ON public.%I', p.policyname,
		    p.tablename);
	END LOOP;
END
$policies$;

CREATE POLICY pinterest_auth_select_own ON public.pinterest_auth
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_auth.shop_id AND s.user_id = auth.uid()));
CREATE POLICY pinterest_auth_delete_own ON public.pinterest_auth
	FOR DELETE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = pinterest_auth.shop_id AND s.user_id = auth.uid()));
CREATE POLICY meta_auth_select_own ON public.meta_auth
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = meta_auth.shop_id AND s.user_id = auth.uid()));
CREATE POLICY meta_auth_delete_own ON public.meta_auth
	FOR DELETE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = meta_auth.shop_id AND s.user_id = auth.uid()));
CREATE POLICY google_auth_select_own ON public.google_auth
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = google_auth.shop_id AND s.user_id = auth.uid()));
CREATE POLICY google_auth_delete_own ON public.google_auth
	FOR DELETE TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = google_auth.shop_id AND s.user_id = auth.uid()));
-- oauth_states: RLS on and no policy: nobody but the owner sees a row.
