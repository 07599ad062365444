/*
 * reboss-pinterest-sync (PRODUCT.md, Jobs 5).  Owned by pinterest_sync.
 *
 * Per shop, in the worker (job_main() forks one per shop):
 *  1. No pinterest_auth row: Pinterest is not linked, nothing to do (the
 *     shop succeeds).  Otherwise a token valid for PS_MIN_VALID_S more
 *     seconds is fetched through integrations_get_token(), which refreshes
 *     it when it expires sooner and stores the new one sealed; a refused
 *     refresh marks the link broken (GET /api/shops/{id}/integrations
 *     shows it) and fails the shop with integrations' sentence.
 *  2. Deletes the pins of products that are no longer pinnable: status no
 *     longer ACTIVE, deleted from Shopify, out of every synced collection,
 *     or retired by replace_job (a replace_decisions row verdict 'retire',
 *     outcome 'done', newer than the mirror's last look at the product).
 *  3. One board per synced collection (pinterest_sync_collections): a
 *     recorded board is used; an unrecorded one (no row, or a 'creating'
 *     row a crash left) is looked for among the account's boards by the
 *     marker "[reboss:<shop>:c<collection id>]" in the description, then by name,
 *     and created only when not found.
 *  4. Every pinnable product of those collections gets one pin (on the
 *     board of its lowest synced collection id): image_url, title,
 *     description and alt text trimmed to Pinterest's limits, link = the
 *     storefront URL (https).  An intent row ('creating') is committed
 *     before pins/create; a 'creating' row found at the start of a pin
 *     means a crash: the board's pins are listed and matched by link
 *     before anything is created again.
 * Pinterest's 429s are waited out per its headers and a 401 gets one
 * refresh-and-retry (lib/pinterest.c).  A product Pinterest refuses
 * (4xx) fails that product (error kept on its row) and the others go on;
 * the shop then fails with a count and the first reason.
 * --dry-run counts what would be done from the database; no Pinterest
 * call, no write.
 *
 * Test knobs (environment, not part of the contract):
 *   REBOSS_TEST_CRASH_AFTER_PIN=N    SIGKILL the worker right after the
 *                                    N-th pins/create returned (default 1)
 *   REBOSS_TEST_CRASH_AFTER_BOARD=N  the same after boards/create
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "integrations.h"
#include "job.h"
#include "log.h"
#include "pinterest.h"
#include "shop_limits.h"
#include "util.h"

#define PS_MIN_VALID_S	(24L * 3600)	/* refresh a token expiring sooner */

/* A product Pinterest may show: active, in Shopify, in a synced
 * collection, not retired by replace_job since the mirror last saw it.
 * Used with "p" = public.products. */
#define PINNABLE(p) \
	"(" p ".status = 'ACTIVE' AND " p ".deleted_at IS NULL AND EXISTS " \
	"(SELECT 1 FROM public.pinterest_sync_collections sc WHERE " \
	"sc.shop_id = " p ".shop_id AND sc.collection_id = ANY(" p \
	".collection_ids)) AND NOT EXISTS (SELECT 1 FROM " \
	"public.replace_decisions d WHERE d.shop_id = " p ".shop_id AND " \
	"d.product_id = " p ".product_id AND d.verdict = 'retire' AND " \
	"d.outcome = 'done' AND d.decided_at > " p ".last_seen_at))"

struct sync {
	struct job_ctx		*ctx;
	struct pinterest	 pc;
	struct integrations_renewal renewal;	/* pc's, after a 401 */
	bool			 pc_open;
	json_t			*boards;	/* the account's, read once */
	json_t			*board_pins;	/* board id -> pins, cached */
	long			 boards_created, boards_found;
	long			 pins_created, pins_found, pins_deleted;
	long			 skipped, failed;
	struct rb_err		 first_failure;
};

/* Passes of the crash drills' hooks (job_crash_point). */
static long crash_pins, crash_boards;

/* ---- small helpers --------------------------------------------------------- */

static void
product_failed(struct sync *s, const char *what, const struct rb_err *why)
{
	s->failed++;
	log_warn("%s: %s", what, why->msg);
	if (s->first_failure.msg[0] == '\0')
		s->first_failure = *why;
}

/* Errors that end the shop (rate limit, auth, network, stop, database)
 * versus one object Pinterest refused. */
static bool
per_object(const struct rb_err *e)
{
	return strcmp(e->code, "pinterest_refused") == 0 ||
	    strcmp(e->code, "invalid_pin") == 0 ||
	    strcmp(e->code, "pinterest_bad_response") == 0;
}

static int
stopped(struct sync *s, struct rb_err *err)
{
	if (*s->ctx->stop)
		return rb_err_set(err, 503, "cancelled", "The run was stopped "
		    "before this shop was finished.");
	return 0;
}

/* The pins of a board, listed once per run. */
static int
board_pins(struct sync *s, const char *board_id, json_t **pins,
    struct rb_err *err)
{
	json_t *items;

	if ((*pins = json_object_get(s->board_pins, board_id)) != NULL)
		return 0;
	if (pinterest_board_pins(&s->pc, board_id, &items, err) == -1)
		return -1;
	if (json_object_set_new(s->board_pins, board_id, items) == -1)
		return rb_err_oom(err);
	*pins = items;
	return 0;
}

/* ---- deletions ------------------------------------------------------------- */

static int
delete_retired(struct sync *s, struct rb_err *err)
{
	const char *p[4];
	PGresult *r;
	int i, rc = -1;

	p[0] = s->ctx->shop->id;
	r = db_query(s->ctx->db, "SELECT pp.product_id::text, pp.pin_id, "
	    "pp.state, pp.board_id, pp.link FROM public.pinterest_pins pp "
	    "LEFT JOIN public.products p ON p.shop_id = pp.shop_id AND "
	    "p.product_id = pp.product_id WHERE pp.shop_id = $1 AND "
	    "(pp.state = 'deleting' OR (pp.state IN ('pinned', 'creating') "
	    "AND NOT coalesce(" PINNABLE("p") ", false))) "
	    "ORDER BY pp.product_id", 1, p, err);
	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++) {
		const char *pid = PQgetvalue(r, i, 0);
		char found[PINTEREST_ID_MAX + 1];
		const char *pin = PQgetvalue(r, i, 1);
		json_t *pins;
		bool existed;
		struct rb_err why;

		if (stopped(s, err) == -1)
			goto out;
		p[1] = pid;
		if (s->ctx->dry_run) {
			log_info("dry run: would delete the pin of product %s",
			    pid);
			continue;
		}
		if (strcmp(PQgetvalue(r, i, 2), "creating") == 0) {
			/* A crash left an intent: is there a pin? */
			if (board_pins(s, PQgetvalue(r, i, 3), &pins, err) == -1)
				goto out;
			if (!pinterest_find_pin(pins, PQgetvalue(r, i, 4),
			    found)) {
				if (db_exec(s->ctx->db, "DELETE FROM "
				    "public.pinterest_pins WHERE shop_id = $1 "
				    "AND product_id = $2::bigint AND state = "
				    "'creating'", 2, p, err) == -1)
					goto out;
				continue;
			}
			pin = found;
		}
		p[2] = pin;
		if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins SET "
		    "state = 'deleting', pin_id = $3 WHERE shop_id = $1 AND "
		    "product_id = $2::bigint", 3, p, err) == -1)
			goto out;
		rb_err_clear(&why);
		if (pinterest_pin_delete(&s->pc, pin, &existed, &why) == -1) {
			if (!per_object(&why)) {
				*err = why;
				goto out;
			}
			p[2] = why.msg;
			if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins "
			    "SET error = $3 WHERE shop_id = $1 AND product_id = "
			    "$2::bigint", 3, p, err) == -1)
				goto out;
			product_failed(s, "pin not deleted", &why);
			continue;
		}
		if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins SET "
		    "state = 'deleted', deleted_at = now(), error = NULL "
		    "WHERE shop_id = $1 AND product_id = $2::bigint AND "
		    "pin_id = $3", 3, p, err) == -1)
			goto out;
		s->pins_deleted++;
		log_info("deleted pin %s of product %s%s", pin, pid,
		    existed ? "" : " (already gone at Pinterest)");
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* ---- boards ---------------------------------------------------------------- */

static int
ensure_board(struct sync *s, const char *coll, const char *name,
    const char *desc, struct rb_err *err)
{
	char marker[48], id[PINTEREST_ID_MAX + 1], fulldesc[1024];
	long long cid;
	long v;
	const char *p[4];
	int w;

	if (rb_parse_long(coll, 1, 0x7fffffffffffffffL, &v) == -1)
		return rb_err_set(err, 500, "internal_error",
		    "Bad collection id in pinterest_sync_collections.");
	cid = v;
	if (pinterest_board_marker(s->ctx->shop->id, cid, marker, sizeof(marker)) == -1)
		return rb_err_set(err, 500, "internal_error", "Bad marker.");
	/* The marker goes first so that trimming never cuts it. */
	w = snprintf(fulldesc, sizeof(fulldesc), "%s%s%.400s", marker,
	    *desc != '\0' ? " " : "", desc);
	if (w < 0 || (size_t)w >= sizeof(fulldesc))
		return rb_err_set(err, 500, "internal_error", "Bad description.");
	if (s->boards == NULL &&
	    pinterest_boards_list(&s->pc, &s->boards, err) == -1)
		return -1;
	p[0] = s->ctx->shop->id;
	p[1] = coll;
	p[2] = name;
	if (pinterest_find_board(s->boards, marker, name, id)) {
		s->boards_found++;
		log_info("board \"%s\" of collection %s found at Pinterest (%s)",
		    name, coll, id);
	} else {
		/* Intent first: a crash after the create is found above. */
		if (db_exec(s->ctx->db, "INSERT INTO public.pinterest_boards "
		    "(shop_id, collection_id, name, state) VALUES ($1, "
		    "$2::bigint, $3, 'creating') ON CONFLICT (shop_id, "
		    "collection_id) DO UPDATE SET name = EXCLUDED.name, "
		    "state = 'creating', board_id = NULL", 3, p, err) == -1)
			return -1;
		if (pinterest_board_create(&s->pc, name, fulldesc, id,
		    err) == -1)
			return -1;
		job_crash_point("REBOSS_TEST_CRASH_AFTER_BOARD", &crash_boards);
		s->boards_created++;
		log_info("board \"%s\" created for collection %s (%s)", name,
		    coll, id);
	}
	p[3] = id;
	return db_exec(s->ctx->db, "INSERT INTO public.pinterest_boards "
	    "(shop_id, collection_id, name, board_id, state) VALUES ($1, "
	    "$2::bigint, $3, $4, 'created') ON CONFLICT (shop_id, "
	    "collection_id) DO UPDATE SET name = EXCLUDED.name, board_id = "
	    "EXCLUDED.board_id, state = 'created'", 4, p, err);
}

static int
sync_boards(struct sync *s, int *nsynced, struct rb_err *err)
{
	const char *p[1];
	PGresult *r;
	int i, rc = -1;

	p[0] = s->ctx->shop->id;
	r = db_query(s->ctx->db, "SELECT sc.collection_id::text, "
	    "btrim(sc.board_name), sc.board_description, b.state "
	    "FROM public.pinterest_sync_collections sc LEFT JOIN "
	    "public.pinterest_boards b ON b.shop_id = sc.shop_id AND "
	    "b.collection_id = sc.collection_id WHERE sc.shop_id = $1 "
	    "ORDER BY sc.collection_id", 1, p, err);
	if (r == NULL)
		return -1;
	*nsynced = PQntuples(r);
	for (i = 0; i < PQntuples(r); i++) {
		if (stopped(s, err) == -1)
			goto out;
		if (strcmp(PQgetvalue(r, i, 3), "created") == 0)
			continue;
		if (s->ctx->dry_run) {
			log_info("dry run: would find or create the board of "
			    "collection %s", PQgetvalue(r, i, 0));
			continue;
		}
		if (ensure_board(s, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    PQgetvalue(r, i, 2), err) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* ---- pins ------------------------------------------------------------------ */

static int
pin_one(struct sync *s, PGresult *r, int i, struct rb_err *err)
{
	const char *pid = PQgetvalue(r, i, 0), *title = PQgetvalue(r, i, 1);
	const char *image = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
	const char *link = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
	const char *coll = PQgetvalue(r, i, 4), *board = PQgetvalue(r, i, 5);
	const char *state = PQgetvalue(r, i, 6), *bdesc = PQgetvalue(r, i, 8);
	const char *old_board = PQgetvalue(r, i, 7);
	struct pinterest_pin_in in;
	struct rb_err why;
	char id[PINTEREST_ID_MAX + 1], *desc = NULL;
	const char *p[6];
	json_t *pins;
	int rc = -1;

	if (link == NULL || !pinterest_valid_url(link, false) ||
	    image == NULL || !pinterest_valid_url(image, true)) {
		s->skipped++;
		log_info("product %s skipped: no https storefront URL or no "
		    "image in the mirror", pid);
		return 0;
	}
	p[0] = s->ctx->shop->id;
	p[1] = pid;
	if (strcmp(state, "creating") == 0) {
		/* A crash after an earlier create?  Look before creating. */
		if (board_pins(s, old_board, &pins, err) == -1)
			return -1;
		if (pinterest_find_pin(pins, link, id)) {
			p[2] = id;
			p[3] = old_board;
			if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins "
			    "SET state = 'pinned', pin_id = $3, board_id = $4, "
			    "pinned_at = now(), error = NULL WHERE shop_id = $1 "
			    "AND product_id = $2::bigint", 4, p, err) == -1)
				return -1;
			s->pins_found++;
			log_info("pin %s of product %s found at Pinterest "
			    "(an earlier run created it)", id, pid);
			return 0;
		}
	}
	if (*bdesc != '\0') {
		size_t n = strlen(title) + strlen(bdesc) + 3;

		if ((desc = malloc(n)) == NULL)
			return rb_err_oom(err);
		(void)snprintf(desc, n, "%s. %s", title, bdesc);
	}
	memset(&in, 0, sizeof(in));
	in.board_id = board;
	in.title = title;
	in.description = desc != NULL ? desc : title;
	in.alt_text = title;
	in.link = link;
	in.image_url = image;
	p[2] = coll;
	p[3] = board;
	p[4] = link;
	if (db_exec(s->ctx->db, "INSERT INTO public.pinterest_pins (shop_id, "
	    "product_id, collection_id, board_id, link, state) VALUES ($1, "
	    "$2::bigint, $3::bigint, $4, $5, 'creating') ON CONFLICT (shop_id, "
	    "product_id) DO UPDATE SET collection_id = EXCLUDED.collection_id, "
	    "board_id = EXCLUDED.board_id, link = EXCLUDED.link, state = "
	    "'creating', pin_id = NULL, pinned_at = NULL, deleted_at = NULL",
	    5, p, err) == -1)
		goto out;
	rb_err_clear(&why);
	if (pinterest_pin_create(&s->pc, &in, id, &why) == -1) {
		if (strcmp(why.code, "pinterest_trial_access") == 0) {
			/* No pin of any product can be made: the intent row
			 * goes (nothing was created) and pinning stops. */
			if (db_exec(s->ctx->db, "DELETE FROM "
			    "public.pinterest_pins WHERE shop_id = $1 AND "
			    "product_id = $2::bigint AND state = 'creating'",
			    2, p, err) == -1)
				goto out;
			*err = why;
			goto out;
		}
		if (!per_object(&why)) {
			*err = why;
			goto out;
		}
		p[2] = why.msg;
		if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins SET "
		    "error = $3 WHERE shop_id = $1 AND product_id = $2::bigint",
		    3, p, err) == -1)
			goto out;
		product_failed(s, "pin not created", &why);
		rc = 0;
		goto out;
	}
	job_crash_point("REBOSS_TEST_CRASH_AFTER_PIN", &crash_pins);
	p[2] = id;
	if (db_exec(s->ctx->db, "UPDATE public.pinterest_pins SET state = "
	    "'pinned', pin_id = $3, pinned_at = now(), error = NULL WHERE "
	    "shop_id = $1 AND product_id = $2::bigint", 3, p, err) == -1)
		goto out;
	s->pins_created++;
	log_info("pinned product %s (pin %s)", pid, id);
	rc = 0;
out:
	free(desc);
	return rc;
}

static int
sync_pins(struct sync *s, struct rb_err *err)
{
	const char *p[1];
	PGresult *r;
	int i, n, rc = -1;

	p[0] = s->ctx->shop->id;
	r = db_query(s->ctx->db, "SELECT p.product_id::text, p.title, "
	    "p.image_url, p.online_store_url, c.collection_id::text, "
	    "b.board_id, coalesce(pp.state, ''), coalesce(pp.board_id, ''), "
	    "sc.board_description FROM public.products p "
	    "CROSS JOIN LATERAL (SELECT min(x.collection_id) AS collection_id "
	    "FROM public.pinterest_sync_collections x WHERE x.shop_id = "
	    "p.shop_id AND x.collection_id = ANY(p.collection_ids)) c "
	    "JOIN public.pinterest_sync_collections sc ON sc.shop_id = "
	    "p.shop_id AND sc.collection_id = c.collection_id "
	    "JOIN public.pinterest_boards b ON b.shop_id = p.shop_id AND "
	    "b.collection_id = c.collection_id AND b.state = 'created' "
	    "LEFT JOIN public.pinterest_pins pp ON pp.shop_id = p.shop_id AND "
	    "pp.product_id = p.product_id WHERE p.shop_id = $1 AND "
	    PINNABLE("p") " AND (pp.state IS NULL OR pp.state IN "
	    "('creating', 'deleted')) ORDER BY p.product_id", 1, p, err);
	if (r == NULL)
		return -1;
	if (s->ctx->dry_run) {
		log_info("dry run: would pin %d product(s)", PQntuples(r));
		rc = 0;
		goto out;
	}
	/* The owner's pins_per_run under the operator's cap. */
	n = PQntuples(r);
	if (n > s->ctx->limits->pins_per_run) {
		log_notice("pins_per_run: %ld of %d new pin(s) wait for the "
		    "next run", n - s->ctx->limits->pins_per_run, n);
		shop_limit_reached(s->ctx->db, s->ctx->shop->id,
		    "pins_per_run", "pinterest_sync pinned %ld of %d new "
		    "products; the others wait for the next run.",
		    s->ctx->limits->pins_per_run, n);
		n = (int)s->ctx->limits->pins_per_run;
	}
	for (i = 0; i < n; i++) {
		if (stopped(s, err) == -1)
			goto out;
		if (pin_one(s, r, i, err) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* ---- the worker ------------------------------------------------------------- */

/* A token valid for PS_MIN_VALID_S more seconds (integrations refreshes
 * and stores it); the client renews it through integrations after a 401
 * and never touches the database itself. */
static int
open_client(struct sync *s, struct rb_err *err)
{
	struct job_ctx *ctx = s->ctx;
	char *token = NULL;

	if (integrations_get_token(ctx->db, ctx->http, ctx->cfg, ctx->shop->id,
	    OAUTH_PINTEREST, PS_MIN_VALID_S, &token, err) == -1)
		return -1;
	s->renewal.db = ctx->db;
	s->renewal.http = ctx->http;
	s->renewal.cfg = ctx->cfg;
	s->renewal.shop_id = ctx->shop->id;
	s->renewal.provider = OAUTH_PINTEREST;
	if (pinterest_open(&s->pc, ctx->http, ctx->cfg, &token,
	    integrations_renew_token, &s->renewal, ctx->stop, err) == -1)
		return -1;
	s->pc_open = true;
	return 0;
}

static int
process_shop(struct job_ctx *ctx, struct rb_err *err)
{
	struct sync s;
	const char *p[1];
	PGresult *r;
	int nsynced = 0, rc = -1;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	p[0] = ctx->shop->id;
	if ((r = db_query(ctx->db, "SELECT 1 FROM public.pinterest_auth "
	    "WHERE shop_id = $1", 1, p, err)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		log_info("Pinterest is not linked to this shop: nothing to do");
		return 0;
	}
	PQclear(r);
	if ((s.board_pins = json_object()) == NULL)
		return rb_err_oom(err);
	if (!ctx->dry_run && open_client(&s, err) == -1)
		goto out;
	if (delete_retired(&s, err) == -1 || sync_boards(&s, &nsynced,
	    err) == -1 || sync_pins(&s, err) == -1)
		goto out;
	log_info("%d synced collection(s): boards %ld created, %ld found; "
	    "pins %ld created, %ld found after a crash, %ld deleted, %ld "
	    "skipped, %ld failed; %d rate-limit wait(s) (%ld ms), %d token "
	    "refresh(es) after a 401", nsynced, s.boards_created,
	    s.boards_found, s.pins_created, s.pins_found, s.pins_deleted,
	    s.skipped, s.failed, s.pc.waits_429, s.pc.waited_ms,
	    s.pc.refreshes);
	if (s.failed > 0) {
		rb_err_set(err, 422, s.first_failure.code,
		    "%ld pin(s) could not be created or deleted; first: %s",
		    s.failed, s.first_failure.msg);
		goto out;
	}
	rc = 0;
out:
	if (s.pc_open)
		pinterest_close(&s.pc);
	json_decref(s.boards);
	json_decref(s.board_pins);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct job_def def = {
		.kind = JOB_PINTEREST_SYNC,
		.program = "reboss-pinterest-sync",
		.summary = "keep one Pinterest board per synced collection and "
		    "one pin per active product",
		.process_shop = process_shop,
	};

	return job_main(&def, argc, argv);
}
