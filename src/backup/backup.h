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

#include "common/error.h"
#include "mysql/conn.h"
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

#endif
