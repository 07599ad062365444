/*
 * migrate.h - applies sql/NNN_name.sql files in order, each once, each in
 * its own transaction, recorded in the reboss_migrations ledger (version,
 * checksum, applied_at).  A file whose checksum changed after it was applied
 * is reported, never re-run.
 */
#ifndef RB_MIGRATE_H
#define RB_MIGRATE_H

#include "rb.h"

struct db;

/* The newest migration the programs of this build rely on (the jobs check
 * it at start: an upgrade whose `rebossctl migrate` was forgotten fails
 * with that advice, not with "function does not exist" half-way). */
#define MIGRATE_REQUIRED	"021_sales_store_lock"

/* Applies what is pending in dir; *applied counts what was applied now. */
int	migrate_apply(struct db *db, const char *dir, int *applied,
	    struct rb_err *err) RB_WUR;
/* Number of files in dir not yet applied (0 = current), or -1. */
int	migrate_pending(struct db *db, const char *dir, struct rb_err *err);

/* 0 when `version` is in the ledger; else -1, err "schema_outdated"
 * telling to run `rebossctl migrate`. */
int	migrate_require(struct db *db, const char *version,
	    struct rb_err *err) RB_WUR;

#endif
