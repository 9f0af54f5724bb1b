/* Restore of a logical backup set into a server (docs/backup-restore.md).
 *
 * Order: databases, tables, then the rows of every chunk loaded in parallel
 * with LOAD DATA LOCAL INFILE fed straight from the repository pipeline by a
 * custom infile handler (no temp files), then views, triggers, routines,
 * events and (optionally) users.  Nothing is written to the target before
 * the set, its manifest, its schema object and the key have been checked,
 * and before the target was checked for conflicts. */
#ifndef GD_RESTORE_RESTORE_H
#define GD_RESTORE_RESTORE_H

#include <stdbool.h>

#include "common/cancel.h"
#include "common/error.h"
#include "mysql/conn.h"
#include "repo/repo.h"

typedef struct gd_restore_opts {
    int jobs;
    bool progress;
    const char *set_id; /* NULL: the newest set */
    char **databases;   /* restore only these databases (NULL: all) */
    size_t ndatabases;
    char **tables; /* restore only these "db.table" (NULL: all) */
    size_t ntables;
    char **rename_from; /* database renames, parallel arrays */
    char **rename_to;
    size_t nrenames;
    bool replace_existing; /* drop and recreate tables that exist */
    bool with_users;       /* restore saved users and grants */
    bool dry_run;          /* check and print the plan, write nothing */
    const gd_cancel *stop; /* the run's token (a signal, a server): stop loading
                            * (GD_E_CANCEL); may be NULL */
    bool replay_follows;   /* archived binlog will be replayed on top: every
                            * chosen table must be as of the set's position */
    bool write_binlog;     /* log the restore in the target's binlog
                            * (default: sql_log_bin = 0 when the target
                            * user may set it) */
} gd_restore_opts;

typedef struct gd_restore_result {
    char set_id[64];
    char gtid[512];
    unsigned long long rows, bytes, tables, chunks;
    double seconds;
    bool set_checked; /* the set's checks passed: a failure after is the target's */
} gd_restore_result;

/* Picks the set (opts->set_id or the newest) and reads its manifest. */
int gd_restore_pick_set(gd_repo *repo, const char *set_id, char **id_out, gd_manifest **manifest,
                        gd_err *err);

/* Whether the options take table db.name (whole databases, --tables). */
bool gd_restore_wants_table(const gd_restore_opts *o, const char *db, const char *name);

/* target NULL is allowed only with opts->dry_run (plan without a server). */
int gd_restore_run(gd_repo *repo, const gd_conn_params *target, const gd_restore_opts *opts,
                   gd_restore_result *res, gd_err *err);

/* Splits a SHOW CREATE TABLE statement into the statement without its plain
 * (non-unique, non-fulltext, non-spatial) secondary indexes and the
 * "ADD KEY ..., ADD KEY ..." clause that creates them afterwards.  Returns
 * GD_E_STATE (and NULLs) when there is nothing to defer, the table has
 * foreign keys, or the text is not in the layout SHOW CREATE TABLE prints.
 * Caller frees both strings. */
int gd_restore_defer_keys(const char *create, char **without, char **add_keys);

/* The LOAD DATA LOCAL INFILE statement that loads a table's rows as the
 * set's chunks hold them (CHARACTER SET binary, LOAD DATA's default
 * escaping, a column written as its ENUM/SET index through a variable)
 * from file into `tdb`.`mt->name`.  file is put between single quotes as
 * given: it must hold no quote or backslash.  The restore feeds 'geodr' from
 * the repository; geodr export writes the statement into load.sql.  Caller
 * frees. */
char *gd_restore_load_data_sql(const gd_mf_table *mt, const char *tdb, const char *file);

/* Provisioning of new instances moved to restore/provision.h (issue 11);
 * included here for the files that included this header for it. */
#include "restore/provision.h"

#endif
