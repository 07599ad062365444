-- 018_owner_actions.sql - what the owner does to a shop through the API
-- (issue 18: roll back an optimization, retry a failed design, pause and
-- resume a job, run a job now, preview replace_job) and the record of it.
-- Owner: the "owner" module (fcgi/routes_owner.c, ctl/run_requests.c).
--
--   owner_actions  one row per action the API carried out (or refused after
--                  it began, outcome 'failed'): who (the user's id from the
--                  token), when, what (action, target, details).  Written by
--                  the API only; the owner reads their shops' rows through
--                  row-level security and can change nothing.
--   job_requests   "run this job for this shop now": queued by the API,
--                  claimed by "rebossctl run-requests" (started every
--                  minute by reboss-run-requests.timer on every host; one
--                  host wins each request), which runs the job program with
--                  --shop and records how it ended.  At most one pending
--                  request per shop and job (a unique partial index).
--
-- Pause and resume write the job's switch in shop_settings (016), the same
-- switch the GeneralSettings tab writes: the jobs already obey it.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

CREATE TABLE IF NOT EXISTS public.owner_actions (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	user_id			uuid NOT NULL,
	action			text NOT NULL CHECK (action IN (
	    'rollback_optimization', 'retry_design', 'pause_job',
	    'resume_job', 'run_job', 'preview_replace')),
	-- what it acted on: an optimization or design id, a job name
	target			text CHECK (length(target) <= 64),
	outcome			text NOT NULL DEFAULT 'done'
	    CHECK (outcome IN ('done', 'failed')),
	details			jsonb NOT NULL DEFAULT '{}'
	    CHECK (jsonb_typeof(details) = 'object'),
	created_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_owner_actions_shop
	ON public.owner_actions (shop_id, created_at DESC);
-- The run-now rate limit counts a shop's recent requests of one job.
CREATE INDEX IF NOT EXISTS idx_owner_actions_rate
	ON public.owner_actions (shop_id, target, created_at)
	WHERE action = 'run_job';

CREATE TABLE IF NOT EXISTS public.job_requests (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	shop_id			uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	job_type		text NOT NULL CHECK (job_type IN ('sales_tracker',
	    'replace_job', 'product_creation', 'product_optimize',
	    'pinterest_sync')),
	requested_by		uuid NOT NULL,
	requested_at		timestamptz NOT NULL DEFAULT now(),
	state			text NOT NULL DEFAULT 'pending'
	    CHECK (state IN ('pending', 'running', 'done', 'failed')),
	picked_at		timestamptz,
	picked_by		text CHECK (length(picked_by) <= 255), -- host
	-- refreshed by the runner while the job runs: a runner that died
	-- leaves a stale one, and the next runner fails the request
	heartbeat_at		timestamptz,
	finished_at		timestamptz,
	exit_status		integer,
	error			text CHECK (length(error) <= 2000)
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_job_requests_one_pending
	ON public.job_requests (shop_id, job_type) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS idx_job_requests_open
	ON public.job_requests (requested_at) WHERE state IN ('pending',
	'running');
CREATE INDEX IF NOT EXISTS idx_job_requests_shop
	ON public.job_requests (shop_id, requested_at DESC);

-- Privileges: the API and the runner write (the backend's role); the
-- dashboard reads its own shops' rows.
REVOKE ALL ON public.owner_actions, public.job_requests
	FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON public.owner_actions, public.job_requests TO service_role;
GRANT SELECT ON public.owner_actions, public.job_requests TO authenticated;

ALTER TABLE public.owner_actions ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner_actions_select_own ON public.owner_actions;
CREATE POLICY owner_actions_select_own ON public.owner_actions
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = owner_actions.shop_id AND s.user_id = auth.uid()));

ALTER TABLE public.job_requests ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS job_requests_select_own ON public.job_requests;
CREATE POLICY job_requests_select_own ON public.job_requests
	FOR SELECT TO authenticated
	USING (EXISTS (SELECT 1 FROM public.shops s
	    WHERE s.id = job_requests.shop_id AND s.user_id = auth.uid()));
