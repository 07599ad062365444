/*
 * job_lease.c - the SQL of the job runtime: runs, shops, leases and
 * per-shop records.  The leasing rule and why it is exactly-once is in
 * job.h; sql/002_jobs.sql has the table.  Every timestamp is the database's
 * now(), never a host clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "job_int.h"
#include "log.h"
#include "util.h"

static int
num(char *buf, size_t size, long long v)
{
	int n = snprintf(buf, size, "%lld", v);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * Longest first, by how long each shop took this job last time, and shops
 * it never ran before them (a first run reads 60 days): the big shops start
 * while the small ones fill the gaps, so the run does not end waiting for
 * one big shop that started last.  Every shop: one that is not connected
 * is recorded as skipped with its reason by its worker (job_worker.c).
 */
static const char SQL_SHOPS_ALL[] =
    "SELECT s.id::text, s.shop_domain, coalesce(s.user_id::text, '')"
    " FROM public.shops s LEFT JOIN public.shop_job_status j"
    "   ON j.shop_id = s.id AND j.job_type = $1"
    " ORDER BY j.last_duration_ms DESC NULLS FIRST, s.id";
static const char SQL_SHOP_BY_ID[] =
    "SELECT id::text, shop_domain, coalesce(user_id::text, ''),"
    " connection_status FROM public.shops WHERE id = $1::uuid";
static const char SQL_SHOP_BY_DOMAIN[] =
    "SELECT id::text, shop_domain, coalesce(user_id::text, ''),"
    " connection_status FROM public.shops"
    " WHERE shop_domain = lower($1)"
    "    OR shop_domain = lower($1) || '.myshopify.com'";

int
jobdb_select_shops(struct db *db, const char *job_type, const char *arg,
    struct job_shop **out, size_t *n, struct rb_err *err)
{
	PGresult *res;
	struct job_shop *shops = NULL;
	const char *params[1] = { arg };
	int i, rows;

	*out = NULL;
	*n = 0;
	if (arg == NULL)
		res = db_query(db, SQL_SHOPS_ALL, 1, &job_type, err);
	else if (rb_is_uuid(arg))
		res = db_query(db, SQL_SHOP_BY_ID, 1, params, err);
	else
		res = db_query(db, SQL_SHOP_BY_DOMAIN, 1, params, err);
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	if (arg != NULL && rows == 0) {
		PQclear(res);
		return rb_err_set(err, 404, "unknown_shop",
		    "No shop with the id or domain '%.200s' is in the "
		    "database; 'rebossctl status' lists the shops.", arg);
	}
	if (rows > 0) {
		shops = calloc((size_t)rows, sizeof(*shops));
		if (shops == NULL) {
			PQclear(res);
			return rb_err_set(err, 500, "out_of_memory",
			    "Out of memory while loading %d shops.", rows);
		}
	}
	for (i = 0; i < rows; i++) {
		rb_strlcpy(shops[i].id, PQgetvalue(res, i, 0),
		    sizeof(shops[i].id));
		rb_strlcpy(shops[i].domain, PQgetvalue(res, i, 1),
		    sizeof(shops[i].domain));
		rb_strlcpy(shops[i].user_id, PQgetvalue(res, i, 2),
		    sizeof(shops[i].user_id));
		if (arg != NULL &&
		    strcmp(PQgetvalue(res, i, 3), "connected") != 0)
			log_warn("shop %s is '%s', not 'connected': it will be "
			    "skipped with the reason", shops[i].domain,
			    PQgetvalue(res, i, 3));
	}
	PQclear(res);
	*out = shops;
	*n = (size_t)rows;
	return 0;
}

/* The run row; a joinable (full) run starts with generation = started_at
 * so that a run starting next to it sees it at once. */
static const char SQL_RUN_INSERT[] =
    "INSERT INTO public.job_runs (id, job_type, status, started_at, host,"
    " shops_total, updated_at, dry_run, generation)"
    " VALUES ($1::uuid, $2, 'running', now(), $3, $4::integer, now(),"
    " $5::boolean, CASE WHEN $6::boolean THEN now() END)"
    " RETURNING started_at::text";
/* Join the oldest live full run's generation (ourselves included). */
static const char SQL_RUN_JOIN[] =
    "UPDATE public.job_runs SET generation = ("
    "  SELECT min(r.generation) FROM public.job_runs r"
    "  WHERE r.job_type = $2 AND r.status = 'running'"
    "    AND r.generation IS NOT NULL"
    "    AND (r.id = $1::uuid"
    "      OR r.updated_at > now() - make_interval(secs => $3::integer)))"
    " WHERE id = $1::uuid RETURNING generation::text";

int
jobdb_run_start(struct db *db, const struct job_lease_ref *ref,
    const char *host, size_t total, bool dry_run, bool joinable,
    int lease_s, char *gen, size_t gensz, struct rb_err *err)
{
	PGresult *res;
	char stotal[24], slease[24];
	const char *p[6];

	if (num(stotal, sizeof(stotal), (long long)total) == -1 ||
	    num(slease, sizeof(slease), lease_s) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->run_id;
	p[1] = ref->job_type;
	p[2] = host;
	p[3] = stotal;
	p[4] = dry_run ? "true" : "false";
	p[5] = joinable ? "true" : "false";
	res = db_query(db, SQL_RUN_INSERT, 6, p, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rb_err_set(err, 500, "database_error",
		    "Inserting the job_runs row returned no row.");
	}
	rb_strlcpy(gen, PQgetvalue(res, 0, 0), gensz);
	PQclear(res);
	if (!joinable)
		return 0;
	p[0] = ref->run_id;
	p[1] = ref->job_type;
	p[2] = slease;
	res = db_query(db, SQL_RUN_JOIN, 3, p, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return rb_err_set(err, 500, "database_error",
		    "Could not determine the run's generation.");
	}
	rb_strlcpy(gen, PQgetvalue(res, 0, 0), gensz);
	PQclear(res);
	return 0;
}

/* Three lease periods without a heartbeat: the host is gone. */
static const char SQL_FAIL_STALE[] =
    "UPDATE public.job_runs SET status = 'failed', completed_at = now(),"
    " finish_reason = 'the run stopped reporting (host or process died)'"
    " WHERE job_type = $1 AND status = 'running'"
    "   AND updated_at < now() - make_interval(secs => $2::integer)"
    " RETURNING id::text, coalesce(host, '?')";

int
jobdb_fail_stale_runs(struct db *db, const char *job_type, int lease_s,
    struct rb_err *err)
{
	PGresult *res;
	char s[24];
	const char *p[2];
	int i;

	if (num(s, sizeof(s), 3LL * lease_s) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = job_type;
	p[1] = s;
	res = db_query(db, SQL_FAIL_STALE, 2, p, err);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		log_warn("run %s on host %s stopped reporting; marked failed",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return 0;
}

/*
 * The claim: one statement, so two claimers never both win.  A conflicting
 * row is taken over only when it is claimable:
 *   unfinished and expired (dead host, or released by a cancelled run), or
 *   finished before our generation $7.
 * The "old" CTE reads the row as it was before (for the log only).
 */
static const char SQL_CLAIM[] =
    "WITH old AS (SELECT host, done_at FROM public.job_leases"
    "   WHERE job_type = $1 AND shop_id = $2::uuid)"
    " INSERT INTO public.job_leases AS l (job_type, shop_id, run_id, host,"
    "   pid, claimed_at, expires_at)"
    " VALUES ($1, $2::uuid, $3::uuid, $4, $5::integer, now(),"
    "   now() + make_interval(secs => $6::integer))"
    " ON CONFLICT (job_type, shop_id) DO UPDATE SET"
    "   run_id = EXCLUDED.run_id, host = EXCLUDED.host, pid = EXCLUDED.pid,"
    "   claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at,"
    "   done_at = NULL, outcome = NULL, error = NULL"
    " WHERE (l.done_at IS NULL AND l.expires_at < now())"
    "    OR (l.done_at IS NOT NULL AND l.done_at < $7::timestamptz)"
    " RETURNING (SELECT host FROM old),"
    "   (SELECT done_at IS NULL FROM old)";
static const char SQL_CLAIM_WHY[] =
    "SELECT done_at IS NOT NULL, host, run_id::text,"
    " coalesce(done_at::text, expires_at::text)"
    " FROM public.job_leases WHERE job_type = $1 AND shop_id = $2::uuid";

int
jobdb_claim(struct db *db, const struct job_lease_ref *ref,
    const char *shop_id, const char *host, long pid, int lease_s,
    const char *gen, enum job_claim *out, char *info, size_t infosz,
    struct rb_err *err)
{
	PGresult *res;
	char spid[24], slease[24];
	const char *p[7];

	info[0] = '\0';
	if (num(spid, sizeof(spid), pid) == -1 ||
	    num(slease, sizeof(slease), lease_s) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->lease_type;
	p[1] = shop_id;
	p[2] = ref->run_id;
	p[3] = host;
	p[4] = spid;
	p[5] = slease;
	p[6] = gen;
	res = db_query(db, SQL_CLAIM, 7, p, err);
	if (res == NULL) {
		if (strcmp(db->sqlstate, "23503") == 0) {
			*out = JOB_CLAIM_GONE;	/* shop deleted meanwhile */
			rb_err_clear(err);
			return 0;
		}
		return -1;
	}
	if (PQntuples(res) == 1) {
		*out = JOB_CLAIM_WON;
		if (!PQgetisnull(res, 0, 1) &&
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0)
			(void)snprintf(info, infosz, "took over the expired "
			    "lease of host %.100s", PQgetvalue(res, 0, 0));
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = db_query(db, SQL_CLAIM_WHY, 2, p, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		*out = JOB_CLAIM_DONE;
		(void)snprintf(info, infosz, "done by run %s on host %.100s "
		    "at %s", PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 3));
	} else {
		*out = JOB_CLAIM_HELD;
		if (PQntuples(res) == 1)
			(void)snprintf(info, infosz, "held by run %s on host "
			    "%.100s until %s", PQgetvalue(res, 0, 2),
			    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return 0;
}

static const char SQL_RENEW[] =
    "UPDATE public.job_leases"
    " SET expires_at = now() + make_interval(secs => $3::integer)"
    " WHERE job_type = $1 AND run_id = $2::uuid AND done_at IS NULL"
    "   AND outcome IS NULL";
static const char SQL_RUN_PROGRESS[] =
    "UPDATE public.job_runs SET shops_processed = $2::integer,"
    " shops_failed = $3::integer, updated_at = now() WHERE id = $1::uuid";

int
jobdb_heartbeat(struct db *db, const struct job_lease_ref *ref,
    int lease_s, bool renew, size_t processed, size_t failed,
    struct rb_err *err)
{
	char a[24], b[24];
	const char *p[3];

	if (num(a, sizeof(a), (long long)processed) == -1 ||
	    num(b, sizeof(b), (long long)failed) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->run_id;
	p[1] = a;
	p[2] = b;
	if (db_exec(db, SQL_RUN_PROGRESS, 3, p, err) == -1)
		return -1;
	if (!renew)
		return 0;
	if (num(a, sizeof(a), lease_s) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->lease_type;
	p[1] = ref->run_id;
	p[2] = a;
	return db_exec(db, SQL_RENEW, 3, p, err);
}

/* Finished: the lease records it.  Only while it still is ours. */
static const char SQL_LEASE_DONE[] =
    "UPDATE public.job_leases SET done_at = now(), expires_at = now(),"
    " outcome = $4, error = $5"
    " WHERE job_type = $1 AND shop_id = $2::uuid AND run_id = $3::uuid"
    "   AND done_at IS NULL RETURNING 1";
/* Interrupted: release it at once, so any run may claim it. */
static const char SQL_LEASE_RELEASE[] =
    "UPDATE public.job_leases"
    " SET expires_at = now() - interval '1 second',"
    " outcome = 'cancelled', error = $4"
    " WHERE job_type = $1 AND shop_id = $2::uuid AND run_id = $3::uuid"
    "   AND done_at IS NULL RETURNING 1";
/* Both in one statement (one round trip, atomic by itself): $1-$5 as
 * SQL_LEASE_DONE, $6 job type, $7 duration.  Returns a row per lease
 * row changed. */
static const char SQL_DONE_AND_STATUS[] =
    "WITH lease AS (UPDATE public.job_leases SET done_at = now(),"
    "  expires_at = now(), outcome = $4, error = $5"
    " WHERE job_type = $1 AND shop_id = $2::uuid AND run_id = $3::uuid"
    "   AND done_at IS NULL RETURNING 1), st AS ("
    " INSERT INTO public.shop_job_status AS s (shop_id, job_type,"
    " last_run_at, last_status, last_error, last_duration_ms,"
    " consecutive_failures, run_id)"
    " VALUES ($2::uuid, $6, now(), $4, $5, $7::bigint,"
    "  CASE WHEN $4 = 'failed' THEN 1 ELSE 0 END, $3::uuid)"
    " ON CONFLICT (shop_id, job_type) DO UPDATE SET"
    "  last_run_at = EXCLUDED.last_run_at,"
    "  last_status = EXCLUDED.last_status,"
    "  last_error = EXCLUDED.last_error,"
    "  last_duration_ms = EXCLUDED.last_duration_ms,"
    "  consecutive_failures = CASE WHEN EXCLUDED.last_status = 'failed'"
    "   THEN s.consecutive_failures + 1 ELSE 0 END,"
    "  run_id = EXCLUDED.run_id)"
    " SELECT 1 FROM lease";

int
jobdb_record(struct db *db, const struct job_lease_ref *ref,
    const char *shop_id, const char *outcome, const char *error,
    long long duration_ms, bool *held, struct rb_err *err)
{
	PGresult *res;
	char sdur[24];
	const char *p[7];
	bool cancelled = strcmp(outcome, "cancelled") == 0;
	bool status = !cancelled && ref->write_status;

	*held = false;
	if (num(sdur, sizeof(sdur), duration_ms < 0 ? 0 : duration_ms) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->lease_type;
	p[1] = shop_id;
	p[2] = ref->run_id;
	p[3] = cancelled ? error : outcome;
	p[4] = error;
	p[5] = ref->job_type;
	p[6] = sdur;
	/* One statement, one round trip: a worker records its result on
	 * every shop, and each round trip waits for a busy server. */
	res = db_query(db, status ? SQL_DONE_AND_STATUS : cancelled ?
	    SQL_LEASE_RELEASE : SQL_LEASE_DONE, status ? 7 : cancelled ? 4 :
	    5, p, err);
	if (res == NULL && status && strcmp(db->sqlstate, "23503") == 0) {
		/* The shop was deleted while it ran: nothing to record the
		 * status on.  The lease went with it, or is closed here. */
		rb_err_clear(err);
		res = db_query(db, SQL_LEASE_DONE, 5, p, err);
	}
	if (res == NULL)
		return -1;
	*held = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}

static const char SQL_OUTCOME[] =
    "SELECT run_id = $3::uuid, coalesce(outcome, ''), coalesce(error, '')"
    " FROM public.job_leases WHERE job_type = $1 AND shop_id = $2::uuid";

int
jobdb_outcome(struct db *db, const struct job_lease_ref *ref,
    const char *shop_id, bool *ours, char *outcome, size_t outsz,
    char *error, size_t errsz, struct rb_err *err)
{
	PGresult *res;
	const char *p[3] = { ref->lease_type, shop_id, ref->run_id };

	*ours = false;
	outcome[0] = '\0';
	error[0] = '\0';
	res = db_query(db, SQL_OUTCOME, 3, p, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*ours = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		rb_strlcpy(outcome, PQgetvalue(res, 0, 1), outsz);
		rb_strlcpy(error, PQgetvalue(res, 0, 2), errsz);
	}
	PQclear(res);
	return 0;
}

static const char SQL_RUN_FINISH[] =
    "UPDATE public.job_runs SET status = $2, completed_at = now(),"
    " updated_at = now(), shops_processed = $3::integer,"
    " shops_failed = $4::integer, error_log = $5::jsonb,"
    " finish_reason = $6"
    " WHERE id = $1::uuid";

int
jobdb_run_finish(struct db *db, const struct job_lease_ref *ref,
    const char *status, const char *reason, size_t processed, size_t failed,
    const char *error_log_json, struct rb_err *err)
{
	char a[24], b[24];
	const char *p[6];

	if (num(a, sizeof(a), (long long)processed) == -1 ||
	    num(b, sizeof(b), (long long)failed) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Could not format a number.");
	p[0] = ref->run_id;
	p[1] = status;
	p[2] = a;
	p[3] = b;
	p[4] = error_log_json;
	p[5] = reason;
	return db_exec(db, SQL_RUN_FINISH, 6, p, err);
}
