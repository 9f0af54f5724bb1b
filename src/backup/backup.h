/* The logical backup engine (docs/backup-restore.md).
 *
 * N worker connections share one consistent snapshot: the control
 * connection holds FLUSH TABLES WITH READ LOCK only while every worker
 * starts START TRANSACTION WITH CONSISTENT SNAPSHOT and the GTID position and
 * binlog file/pos are read.  Tables with a single-column integer primary key
 * are split into key ranges so one big table dumps in parallel.  Rows are
 * written as TSV in LOAD DATA's default escaping through the repository
 * pipeline.  The schema object, then the manifest, are written last; a set
 * is visible only once its manifest exists. */
#ifndef GD_BACKUP_BACKUP_H
#define GD_BACKUP_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "mysql/conn.h"
#include "repo/manifest.h"
#include "repo/repo.h"

typedef struct gd_backup_opts {
    int jobs;             /* worker connections, >= 1 */
    long long chunk_rows; /* target rows per chunk */
    bool with_users;      /* save users and grants */
    bool progress;        /* progress line on a terminal */
    /* Dump tables outside the snapshot (MyISAM, Aria) after releasing the
     * global read lock instead of under it: shorter lock, but such a table
     * is not as of the set's position and is marked "consistent": false
     * (not usable for a point-in-time restore of it). */
    bool no_lock_nontransactional;
    bool on_demand; /* recorded in the manifest (on-demand sets are counted) */
} gd_backup_opts;

typedef struct gd_backup_result {
    char set_id[64];
    unsigned long long rows, raw_bytes, stored_bytes, tables, objects;
    double seconds;
    char gtid[512];
} gd_backup_result;

int gd_backup_run(gd_repo *repo, const gd_conn_params *src, const gd_backup_opts *opts,
                  gd_backup_result *res, gd_err *err);

/* One table's rows as a backup reads them: their count and their digest
 * (gd_mf_table.digest). */
typedef struct gd_table_digest {
    char *db, *name;
    uint64_t rows, digest;
} gd_table_digest;

/* Reads src's tables exactly as gd_backup_run does (same snapshot, same
 * columns and forms, same chunks) but writes nothing: each table's row
 * count and digest, for comparing a server with a set's manifest (a
 * restore's verify, a drill).  only: just the tables it lists (NULL: every
 * table outside the system schemas).  Takes the global read lock for as
 * long as gd_backup_run would.  *out (of *n) is freed with
 * gd_table_digests_free. */
int gd_backup_digest(const gd_conn_params *src, const gd_backup_opts *opts, const gd_manifest *only,
                     gd_table_digest **out, size_t *n, gd_err *err);
void gd_table_digests_free(gd_table_digest *v, size_t n);

#endif
