/* Checking that a restore gives back what a backup took (docs/drills.md).
 *
 * A backup records, per table, the number of rows and their digest
 * (gd_mf_table.digest).  gd_command_check_server reads a server's tables
 * exactly as a backup would (gd_backup_digest) and compares: a restore
 * with verify does it after loading a set, before any replay; a drill does
 * the whole round by itself:
 *   1. a throwaway instance is provisioned (gd_instance_scratch);
 *   2. the newest set of the region is restored into it and checked
 *      table by table against the set (rows and digest);
 *   3. the binlog archive is replayed to the end of the recovery window,
 *      and the replay must reach the archive's last transaction;
 *   4. the instance is stopped and its directory removed, whatever
 *      happened.
 * A drill fails with the first thing that failed named: the object that
 * does not authenticate, the table whose rows differ, the position the
 * replay did not reach. */
#ifndef GD_COMMAND_DRILL_H
#define GD_COMMAND_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include "command/command.h"
#include "mysql/conn.h"
#include "repo/manifest.h"

/* What a check of a server against a set found. */
typedef struct gd_server_check {
    size_t tables;    /* tables of the set compared */
    size_t no_digest; /* of them, with no digest in the set (rows compared only) */
    uint64_t rows;    /* rows read from the server */
    size_t differ;    /* tables that differ or are missing */
} gd_server_check;

/* Compares the tables on tp with those m lists (tables on tp that m does
 * not list are not read).  0 when every table is there with the same rows
 * and digest; GD_E_STATE naming the first tables that differ (at most a
 * few, and how many in all) otherwise, with out filled either way.  jobs:
 * the connections to read with. */
int gd_command_check_server(const gd_manifest *m, const gd_conn_params *tp, int jobs,
                            gd_server_check *out, gd_err *err);

typedef struct gd_drill_request {
    const char *instance; /* configured instance */
    const char *region;   /* NULL: the home region */
    const char *parent;   /* where the throwaway instance goes (NULL: $TMPDIR or /tmp) */
} gd_drill_request;

typedef struct gd_drill_outcome {
    char *region;          /* the region drilled */
    char set_id[64];       /* the set restored */
    gd_server_check check; /* the set's tables against the restored instance */
    bool replayed;         /* the archive was replayed after the set */
    unsigned long long transactions;
    char gtid_pos[1024]; /* what the restored instance reached */
    char last_time[32];  /* commit time of the last transaction replayed ("" none) */
    double seconds;      /* the whole drill */
} gd_drill_outcome;

/* Runs a drill (ctx's cancel token stops it; the instance is removed in any
 * case).  out is filled as far as the drill got, and freed with
 * gd_command_drill_outcome_free. */
int gd_command_drill(const gd_command_ctx *ctx, const gd_drill_request *rq, gd_drill_outcome *out,
                     gd_err *err);
void gd_command_drill_outcome_free(gd_drill_outcome *out);

#endif
