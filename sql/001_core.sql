-- 001_core.sql - shops, job_runs, shop_job_status, row-level security.
--
-- Runs on plain PostgreSQL >= 15 and on Supabase alike.  Supabase already
-- has the roles anon / authenticated / service_role, the schema auth and
-- auth.uid(); plain PostgreSQL gets look-alikes, created only when missing.
-- The dashboard reads these tables through Supabase (PostgREST) as role
-- authenticated, so the names and the seed's columns are a contract.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT
-- here.  The migrating user owns the tables (owners bypass RLS): the API,
-- the jobs and rebossctl connect as that user.  On plain PostgreSQL it
-- needs CREATEROLE the first time (to create the three roles).

-- Roles --------------------------------------------------------------------
-- NOLOGIN: nobody connects as them; a connection switches to them with
-- SET ROLE (PostgREST does, and tests do).  The migrating user is made a
-- member of the roles it creates so it may do the same.
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
		    WHERE rolname = r) THEN
			-- BYPASSRLS as on Supabase, where only a superuser may
			-- give it; otherwise service_role stays under RLS.
			IF r = 'service_role' AND (SELECT rolsuper
			    FROM pg_catalog.pg_roles
			    WHERE rolname = current_user) THEN
				EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT BYPASSRLS', r);
			ELSE
				EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
			END IF;
			EXECUTE format('GRANT %I TO %I', r, current_user);
		END IF;
	END LOOP;
END
$roles$;

-- auth.uid() ----------------------------------------------------------------
-- The same definition as Supabase's: the "sub" claim of the request's JWT,
-- which PostgREST (or our tests) put into request.jwt.claims.
DO $auth$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace
	    WHERE nspname = 'auth') THEN
		CREATE SCHEMA auth;
		GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
	    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
	    WHERE n.nspname = 'auth' AND p.proname = 'uid') THEN
		EXECUTE $fn$
		CREATE FUNCTION auth.uid() RETURNS uuid
		LANGUAGE sql STABLE
		AS $body$
			SELECT coalesce(
			    nullif(current_setting('request.jwt.claim.sub', true), ''),
			    (nullif(current_setting('request.jwt.claims', true), '')::jsonb
			        ->> 'sub')
			)::uuid
		$body$
		$fn$;
	END IF;
END
$auth$;

-- updated_at ------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.reboss_set_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION public.reboss_set_updated_at() FROM PUBLIC;

-- shops -------------------------------------------------------------------------
-- One row per connected Shopify store.  access_token is sealed by the backend
-- ("rbs1:..." = AES-256-GCM under token_key, aad "shops.access_token:<id>").
-- The dashboard may write a plain token; "rebossctl seal-tokens" seals it.
-- IF NOT EXISTS / ADD COLUMN IF NOT EXISTS: a Supabase project that already
-- has a shops table from the old dashboard is adopted, not refused.
CREATE TABLE IF NOT EXISTS public.shops (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id			uuid NOT NULL,
	shop_domain		text NOT NULL UNIQUE
	    CONSTRAINT shops_shop_domain_check CHECK (shop_domain ~
	    '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com$'),
	shop_name		text,
	access_token		text,
	connection_status	text NOT NULL DEFAULT 'connected'
	    CONSTRAINT shops_connection_status_check CHECK (connection_status
	    IN ('connected', 'disconnected', 'error', 'pending')),
	currency		text,
	iana_timezone		text,
	plan_name		text,
	shop_email		text,
	last_connected_at	timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.shops
	ADD COLUMN IF NOT EXISTS shop_name text,
	ADD COLUMN IF NOT EXISTS access_token text,
	ADD COLUMN IF NOT EXISTS connection_status text NOT NULL
	    DEFAULT 'connected',
	ADD COLUMN IF NOT EXISTS currency text,
	ADD COLUMN IF NOT EXISTS iana_timezone text,
	ADD COLUMN IF NOT EXISTS plan_name text,
	ADD COLUMN IF NOT EXISTS shop_email text,
	ADD COLUMN IF NOT EXISTS last_connected_at timestamptz,
	ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS idx_shops_user ON public.shops (user_id);
CREATE INDEX IF NOT EXISTS idx_shops_connected ON public.shops (id)
	WHERE connection_status = 'connected';
CREATE OR REPLACE TRIGGER shops_updated_at BEFORE UPDATE ON public.shops
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- job_runs ----------------------------------------------------------------------
-- One row per run of a job (seed "Schritt 2.0" plus our columns).
-- error_log: JSON array of {shop_id, error}; it names shops of every user,
-- so the dashboard's role may not read it (see the grants below).
CREATE TABLE IF NOT EXISTS public.job_runs (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	job_type		text NOT NULL
	    CONSTRAINT job_runs_job_type_check CHECK (job_type IN
	    ('sales_tracker', 'replace_job', 'product_optimize',
	     'product_creation', 'pinterest_sync')),
	status			text NOT NULL DEFAULT 'running'
	    CONSTRAINT job_runs_status_check CHECK (status IN ('running',
	    'completed', 'completed_with_errors', 'cancelled', 'failed')),
	started_at		timestamptz NOT NULL DEFAULT now(),
	completed_at		timestamptz,
	shops_processed		integer NOT NULL DEFAULT 0
	    CHECK (shops_processed >= 0),
	shops_failed		integer NOT NULL DEFAULT 0
	    CHECK (shops_failed >= 0),
	error_log		jsonb NOT NULL DEFAULT '[]'
	    CHECK (jsonb_typeof(error_log) = 'array'),
	-- ours: which host ran it, how many shops it saw, why it ended
	-- ("signal SIGTERM", "database unreachable", ...), last change
	host			text,
	shops_total		integer CHECK (shops_total >= 0),
	finish_reason		text,
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_job_runs_type
	ON public.job_runs (job_type, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_job_runs_running ON public.job_runs (job_type)
	WHERE status = 'running';
CREATE OR REPLACE TRIGGER job_runs_updated_at BEFORE UPDATE ON public.job_runs
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- shop_job_status ---------------------------------------------------------------
-- Last outcome of each job per shop (seed "Schritt 2.0" plus our columns).
-- last_status: 'success' or 'failed' (as the seed writes them).
CREATE TABLE IF NOT EXISTS public.shop_job_status (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	job_type		text NOT NULL,
	last_run_at		timestamptz,
	last_status		text,
	last_error		text,
	-- ours
	last_duration_ms	bigint CHECK (last_duration_ms >= 0),
	consecutive_failures	integer NOT NULL DEFAULT 0
	    CHECK (consecutive_failures >= 0),
	run_id			uuid REFERENCES public.job_runs (id)
	    ON DELETE SET NULL,
	updated_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (shop_id, job_type)
);
-- The UNIQUE (shop_id, job_type) index serves lookups by shop_id, so the
-- seed's idx_shop_job_status_shop would be a duplicate.
CREATE INDEX IF NOT EXISTS idx_shop_job_status_failing
	ON public.shop_job_status (job_type, last_run_at DESC)
	WHERE last_status IS DISTINCT FROM 'success';
CREATE INDEX IF NOT EXISTS idx_shop_job_status_run
	ON public.shop_job_status (run_id);
CREATE OR REPLACE TRIGGER shop_job_status_updated_at
	BEFORE UPDATE ON public.shop_job_status
	FOR EACH ROW EXECUTE FUNCTION public.reboss_set_updated_at();

-- Privileges --------------------------------------------------------------------
-- Start from nothing: Supabase's default privileges grant ALL on every new
-- table in public to anon and authenticated, and an adopted table may carry
-- old grants.  (REVOKE on a table revokes its column grants too.)
--   anon          (a browser without a signed-in user): nothing at all;
--                 nothing in these tables is public.
--   authenticated (a signed-in dashboard user): what RLS below lets through,
--                 and never a token or another user's shop ids.
--   service_role  (Supabase's admin key, BYPASSRLS): everything, as on
--                 Supabase by default.
REVOKE ALL ON public.shops, public.job_runs, public.shop_job_status
	FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.shops, public.job_runs, public.shop_job_status
	TO service_role;

-- shops: every column but access_token is readable.  The dashboard may set
-- a token (new shop, new token) but can never read one back, not even its
-- own: it must name its columns (no select=*, no "RETURNING *").
GRANT SELECT (id, user_id, shop_domain, shop_name, connection_status,
	currency, iana_timezone, plan_name, shop_email, last_connected_at,
	created_at, updated_at) ON public.shops TO authenticated;
GRANT INSERT (user_id, shop_domain, shop_name, access_token,
	connection_status, currency, iana_timezone, plan_name, shop_email)
	ON public.shops TO authenticated;
GRANT UPDATE (shop_domain, shop_name, access_token, connection_status,
	currency, iana_timezone, plan_name, shop_email)
	ON public.shops TO authenticated;
GRANT DELETE ON public.shops TO authenticated;

-- shop_job_status: read-only for the dashboard; only the jobs write it.
GRANT SELECT ON public.shop_job_status TO authenticated;

-- job_runs: read-only, and without error_log, which lists the failing shop
-- ids of every user.  The dashboard names its columns.
GRANT SELECT (id, job_type, status, started_at, completed_at,
	shops_processed, shops_failed) ON public.job_runs TO authenticated;

-- Row-level security --------------------------------------------------------------
-- Owners bypass RLS (the backend); every other role sees only what a policy
-- allows.  Policies already on these tables (an adopted Supabase project)
-- are dropped first: any permissive policy would widen ours.
ALTER TABLE public.shops ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.shop_job_status ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
	p record;
BEGIN
	FOR p IN SELECT policyname, tablename FROM pg_catalog.pg_policies
	    WHERE schemaname = 'public'
	      AND tablename IN ('shops', 'job_runs', 'shop_job_status') LOOP
		RAISE WARNING 'replacing policy % on table %', p.policyname, p.tablename;
		EXECUTE format('DROP POLICY %I ON public.%I', p.policyname,
		    p.tablename);
	END LOOP;
END
$policies$;

CREATE POLICY shops_select_own ON public.shops FOR SELECT TO authenticated
	USING (user_id = auth.uid());
CREATE POLICY shops_insert_own ON public.shops FOR INSERT TO authenticated
	WITH CHECK (user_id = auth.uid());
CREATE POLICY shops_update_own ON public.shops FOR UPDATE TO authenticated
	USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY shops_delete_own ON public.shops FOR DELETE TO authenticated
	USING (user_id = auth.uid());

CREATE POLICY shop_job_status_select_own ON public.shop_job_status
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = shop_job_status.shop_id AND s.user_id = auth.uid()));

-- Run rows carry counts only (error_log is not granted): every signed-in
-- user may see that a job ran and how it went.
CREATE POLICY job_runs_select ON public.job_runs FOR SELECT TO authenticated
	USING (true);
