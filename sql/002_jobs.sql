-- 002_jobs.sql - what the job runtime (lib/job*.c) needs beyond 001_core:
-- shop leases, and the run generation that makes concurrent runs on several
-- hosts process every shop exactly once between them.  The rule is written
-- out in lib/job.h; in short: a shop is claimable iff it has no lease, or
-- its lease is unfinished and expired (a dead host), or it was finished
-- before the claiming run's generation.
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

-- job_runs: the generation a full run works in (NULL for --shop and
-- --dry-run runs, which are never joined), and whether it was a dry run.
ALTER TABLE public.job_runs
	ADD COLUMN IF NOT EXISTS generation timestamptz,
	ADD COLUMN IF NOT EXISTS dry_run boolean NOT NULL DEFAULT false;

-- Live full runs of a job type are looked up when a run starts.
CREATE INDEX IF NOT EXISTS idx_job_runs_live
	ON public.job_runs (job_type, generation)
	WHERE status = 'running' AND generation IS NOT NULL;

-- job_leases ------------------------------------------------------------------
-- One row per (job_type, shop): who holds the shop (run, host, pid) and
-- until when, or when it was finished and how.  job_type is the job's name,
-- or "<name>:dry-run" for dry runs, so that a dry run never takes a shop
-- from a real run.  The row is reused from run to run: a claim overwrites
-- it when the shop is claimable (see above), in one INSERT ... ON CONFLICT
-- DO UPDATE ... WHERE statement.
--   done_at NULL, expires_at > now()  held by run_id (renewed every minute)
--   done_at NULL, expires_at <= now() abandoned (dead host) or released
--                                      (outcome 'cancelled'): claimable
--   done_at set                        finished at done_at with outcome
CREATE TABLE IF NOT EXISTS public.job_leases (
	job_type	text NOT NULL CHECK (job_type ~ '^[a-z_]+(:dry-run)?$'),
	shop_id		uuid NOT NULL
	    REFERENCES public.shops (id) ON DELETE CASCADE,
	run_id		uuid NOT NULL,
	host		text NOT NULL,
	pid		integer NOT NULL,
	claimed_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	done_at		timestamptz,
	outcome		text CHECK (outcome IN ('success', 'failed',
	    'cancelled')),
	error		text,
	PRIMARY KEY (job_type, shop_id),
	CHECK (done_at IS NULL OR outcome IN ('success', 'failed'))
);
CREATE INDEX IF NOT EXISTS idx_job_leases_run ON public.job_leases (run_id)
	WHERE done_at IS NULL;
-- Claims of deleted shops go away with them (FK above).

-- Only the backend (the owner) and service_role touch leases; the
-- dashboard's roles see nothing, RLS without policies backs that up.
REVOKE ALL ON public.job_leases FROM PUBLIC, anon, authenticated,
	service_role;
GRANT ALL ON public.job_leases TO service_role;
ALTER TABLE public.job_leases ENABLE ROW LEVEL SECURITY;
