-- 017_connect.sql - how a shop is connected, its expiring credentials and
-- its connection status (issue 14; PRODUCT.md "Connecting a shop").
-- Owner: the "connect" module (lib/shop.c is the only writer of these
-- columns and of connection_status).
--
-- Three ways in, one row (auth_method):
--   legacy_token        a pasted shpat_ token (custom app made before 2026);
--   app_install         the ReBoss app's authorization code grant: an
--                       expiring offline access token and a rotating
--                       refresh token;
--   client_credentials  the owner's own Dev Dashboard app: its client id
--                       and secret; the 24-hour token is fetched again.
-- access_token, refresh_token and shopify_client_secret are sealed by the
-- backend ("rbs1:..." = AES-256-GCM under token_key, aad
-- "shops.<column>:<shop uuid>", lib/shop.c:shop_aad()).
--
-- connection_status: connected | reauthorize_required (Shopify refused the
-- token, or a refresh failed) | frozen (Shopify 402/423) | uninstalled
-- (app/uninstalled webhook, or Shopify 404 for the shop), with
-- connection_reason (a sentence for the owner) and connection_changed_at.
-- Only connected shops are processed by the jobs.
--
-- The back door is closed: the dashboard's role (authenticated) and anon
-- can no longer insert shops or write tokens, secrets, statuses or domains;
-- only the backend (the owner of the table) does, after Shopify accepted
-- the credentials.  The dashboard may still rename and delete its own
-- shops, and reads every column but the credentials.

ALTER TABLE public.shops
	ADD COLUMN IF NOT EXISTS auth_method text NOT NULL
	    DEFAULT 'legacy_token',
	ADD COLUMN IF NOT EXISTS refresh_token text,
	ADD COLUMN IF NOT EXISTS access_expires_at timestamptz,
	ADD COLUMN IF NOT EXISTS refresh_expires_at timestamptz,
	ADD COLUMN IF NOT EXISTS shopify_client_id text,
	ADD COLUMN IF NOT EXISTS shopify_client_secret text,
	ADD COLUMN IF NOT EXISTS granted_scopes text,
	ADD COLUMN IF NOT EXISTS connection_reason text,
	ADD COLUMN IF NOT EXISTS connection_changed_at timestamptz;

ALTER TABLE public.shops
	DROP CONSTRAINT IF EXISTS shops_auth_method_check,
	DROP CONSTRAINT IF EXISTS shops_sealed_check,
	DROP CONSTRAINT IF EXISTS shops_client_credentials_check,
	DROP CONSTRAINT IF EXISTS shops_connection_reason_check,
	DROP CONSTRAINT IF EXISTS shops_connection_status_check;

-- Old statuses ('disconnected', 'error', 'pending', or anything an adopted
-- project wrote) mean "not usable until the owner connects it again"; a
-- connected shop without a token cannot be processed either.
UPDATE public.shops SET connection_status = 'reauthorize_required',
	connection_reason = format('The shop was %s before this version; '
	    'connect it again.', connection_status),
	connection_changed_at = now()
	WHERE connection_status NOT IN ('connected', 'reauthorize_required',
	    'frozen', 'uninstalled');
UPDATE public.shops SET connection_status = 'reauthorize_required',
	connection_reason = 'The shop has no access token; connect it again.',
	connection_changed_at = now()
	WHERE connection_status = 'connected' AND (access_token IS NULL OR
	    access_token = '');
UPDATE public.shops SET connection_changed_at = coalesce(last_connected_at,
	created_at) WHERE connection_changed_at IS NULL;

ALTER TABLE public.shops
	ALTER COLUMN connection_changed_at SET DEFAULT now(),
	ALTER COLUMN connection_changed_at SET NOT NULL,
	ADD CONSTRAINT shops_connection_status_check CHECK (connection_status
	    IN ('connected', 'reauthorize_required', 'frozen', 'uninstalled')),
	ADD CONSTRAINT shops_auth_method_check CHECK (auth_method IN
	    ('legacy_token', 'app_install', 'client_credentials')),
	-- The new credential columns are only ever written sealed.
	ADD CONSTRAINT shops_sealed_check CHECK (
	    (refresh_token IS NULL OR refresh_token LIKE 'rbs1:%') AND
	    (shopify_client_secret IS NULL OR
	     shopify_client_secret LIKE 'rbs1:%')),
	ADD CONSTRAINT shops_client_credentials_check CHECK (
	    auth_method <> 'client_credentials' OR
	    shopify_client_id IS NOT NULL),
	ADD CONSTRAINT shops_connection_reason_check CHECK (
	    connection_reason IS NULL OR length(connection_reason) <= 512);

-- Privileges: start again from nothing for the dashboard's roles.
REVOKE ALL ON public.shops FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, user_id, shop_domain, shop_name, connection_status,
	connection_reason, connection_changed_at, auth_method,
	access_expires_at, refresh_expires_at, shopify_client_id,
	granted_scopes, currency, iana_timezone, plan_name, shop_email,
	last_connected_at, created_at, updated_at)
	ON public.shops TO authenticated;
GRANT UPDATE (shop_name) ON public.shops TO authenticated;
GRANT DELETE ON public.shops TO authenticated;

-- The insert policy of 001 is dropped: no INSERT privilege is left to the
-- dashboard, and a policy must not suggest otherwise.
DROP POLICY IF EXISTS shops_insert_own ON public.shops;
