-- 012_catalog_safety.sql - never harm a shop (issue 15).  Owned by
-- "catalog" (jobs/replace_job.c, jobs/product_optimize.c,
-- jobs/pinterest_sync.c, lib/job*.c).
--
--   sales_cursors.complete_through  NULL: nothing known.  D: every local
--                     day <= D in the shop's zone is completely read.
--                     Written by the sales_tracker (sql/011 adds the same
--                     column: either migration may come first); read by
--                     whatever acts on sales (lib/sales.h,
--                     sales_complete_through()): replace_job judges a shop
--                     only when every day it judges is <= D.
--   job_leases.outcome 'skipped'  a shop left alone on purpose (lib/job.h,
--                     job_skip()): finished, not failed.  shop_job_status
--                     then says last_status 'skipped' with the reason in
--                     last_error.
--   catalog_settings.allow_shrink  false (default): replace_job retires a
--                     product only when a design queue item can fill its
--                     slot; true: the owner lets the collection shrink.
--   catalog_settings.pinterest_pins_per_run  at most this many new pins
--                     per shop per pinterest_sync run (the rest follow in
--                     the next runs).
--   pod_ai_settings.manage_tags  false (default): product_optimize adds
--                     tags and never removes one; true: the owner lets it
--                     replace the product's tags (the protect tag and
--                     tags a smart collection's rule uses are kept even
--                     then).
--
-- Applied by "rebossctl migrate" inside one transaction; no BEGIN/COMMIT.

ALTER TABLE public.sales_cursors
	ADD COLUMN IF NOT EXISTS complete_through date;

DO $outcome$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT conname FROM pg_catalog.pg_constraint
	    WHERE conrelid = 'public.job_leases'::regclass AND contype = 'c'
	      AND pg_catalog.pg_get_constraintdef(oid) LIKE '%outcome%' LOOP
		EXECUTE format('ALTER TABLE public.job_leases DROP CONSTRAINT %I',
		    c.conname);
	END LOOP;
END
$outcome$;
ALTER TABLE public.job_leases
	ADD CONSTRAINT job_leases_outcome_check CHECK (outcome IN ('success',
	    'failed', 'cancelled', 'skipped')),
	ADD CONSTRAINT job_leases_done_outcome_check CHECK (done_at IS NULL OR
	    outcome IN ('success', 'failed', 'skipped'));

ALTER TABLE public.catalog_settings
	ADD COLUMN IF NOT EXISTS allow_shrink boolean NOT NULL DEFAULT false,
	ADD COLUMN IF NOT EXISTS pinterest_pins_per_run integer NOT NULL
	    DEFAULT 50 CHECK (pinterest_pins_per_run BETWEEN 0 AND 1000);

ALTER TABLE public.pod_ai_settings
	ADD COLUMN IF NOT EXISTS manage_tags boolean NOT NULL DEFAULT false;
