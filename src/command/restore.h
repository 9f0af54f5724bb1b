/* restore: a backup set, optionally rolled forward through the binlog
 * archive, into an existing server (--target) or a new local instance
 * (docs/backup-restore.md, docs/archive-and-pitr.md).
 *
 * A caller fills a gd_restore_request with what the user asked for (the
 * options, as given), has it checked and parsed by gd_command_restore_check
 * (every refusal there is a usage error: GD_E_INVALID, the message names the
 * option), then runs gd_command_restore.  The run is a list of named phases,
 * each announced by PHASE_BEGIN/PHASE_END events:
 *   plan     the set and the binlog segments (repository only)
 *   check    every segment read back and checked; the target can replay
 *   provision  a new instance started (--new-instance only)
 *   write    load (gd_restore_run or the subset path), then replay: the only
 *            phase that writes the target and the one that honours the
 *            ctx's cancel token (a cancelled run fails with GD_E_CANCEL and
 *            says the target holds part of the set)
 * A failing run stops the new instance it started.
 *
 * A dry run (load.dry_run) is the restore precheck (docs/backup-restore.md
 * "Dry run: the restore precheck", the API's CheckCreateDdrDBInstance): the
 * same plan and checks, carried on past a failed check wherever the next
 * one does not need it, each recorded in the outcome's checks; nothing is
 * written and no instance is started.  It fails (with the first failed
 * check's code and message) when any check failed. */
#ifndef GD_COMMAND_RESTORE_H
#define GD_COMMAND_RESTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "command/command.h"
#include "command/drill.h"
#include "common/gtid.h"
#include "common/tls.h"
#include "replay/replay.h"
#include "restore/restore.h"

typedef struct gd_restore_request {
    const char *instance; /* NULL: refused */
    const char *region;   /* NULL: the instance's home region */
    /* The restore point: at most one named (points counts how many the user
     * named; more than one is refused).  None: the latest. */
    unsigned points;
    bool fastest;     /* the newest set as it is, no replay */
    const char *set;  /* a given set, no replay */
    const char *time; /* "YYYY-MM-DD HH:MM:SS[.f][zone]" */
    const char *gtid; /* a GTID position */
    /* Where: exactly one of target (HOST[:PORT], with user and password
     * file) and new_instance (with port). */
    const char *target, *target_user, *target_password_file;
    gd_tls_opts target_tls;
    bool target_tls_given; /* some --target-ssl-* was given */
    const char *new_instance;
    unsigned port;
    const char *renames;     /* "old=new,..." (NULL: none) */
    const char *replay_host; /* address the binlog server listens on */
    int stall_s;             /* 0: the default */
    bool reset_target;       /* only undo what a killed geodr left on target */
    /* After the load, before any replay: read every table of the set back
     * from the target and compare with the set (command/drill.h); a
     * difference fails the restore.  Whole restores only (no databases,
     * tables or renames). */
    bool verify;
    bool scratch;        /* new_instance is throwaway: a failure does not keep it */
    bool verify_objects; /* dry run: read back every object of the set the
                          * restore loads (else: listed, with their size) */
    /* What to load and how (databases, tables, replace_existing,
     * with_users, jobs (0: the instance's), dry_run, write_binlog).  The
     * check fills the rename arrays; the run fills set_id (for its length
     * only), jobs when 0, stop (the ctx's token) and progress.
     * gd_command_restore_request_free frees its vectors. */
    gd_restore_opts load;
    /* Filled by gd_command_restore_check: */
    long long stop;        /* epoch seconds, GD_PITR_LATEST or GD_PITR_NONE */
    gd_gtid_pos stop_gtid; /* with gtid */
    unsigned target_port;  /* of target (3306 without one) */
} gd_restore_request;

/* The checks of a dry run, in the order they are reported. */
typedef enum {
    GD_CHECK_POINT,   /* the restore point is inside a recovery window of the region */
    GD_CHECK_SET,     /* manifest, key, schema, the set's own check, the chosen tables */
    GD_CHECK_OBJECTS, /* every object of the set the restore loads: present (and intact) */
    GD_CHECK_BINLOG,  /* every segment of the plan read back and checked */
    GD_CHECK_TARGET,  /* the target answers (and can replay); a new instance's port is free */
    GD_CHECK_EMPTY,   /* nothing the restore writes exists there */
    GD_CHECK_ROOM,    /* free space for a new instance */
    GD_NCHECKS
} gd_check_id;

typedef enum { GD_CHECK_NOT_RUN = 0, GD_CHECK_PASSED, GD_CHECK_FAILED } gd_check_state;

typedef struct gd_restore_check {
    gd_check_state state;
    int code;      /* the failure's gd_code */
    char *message; /* what passed, what failed and what to do, or why not run */
} gd_restore_check;

typedef struct gd_restore_outcome {
    char *region;                    /* the region restored from */
    gd_restore_result load;          /* set_id as soon as the plan is made */
    gd_server_check verified;        /* with verify: what the check found */
    bool replay;                     /* a replay was planned */
    size_t segments;                 /* segments the plan replays */
    unsigned long long segment_size; /* their raw bytes */
    gd_replay_result replayed;
    bool provisioned;     /* inst holds the new instance, running */
    gd_instance_new inst; /* with new_instance */
    /* dry run: */
    gd_restore_check checks[GD_NCHECKS];
    size_t objects;                /* objects of the set checked */
    unsigned long long need, room; /* new instance: bytes estimated, free */
} gd_restore_outcome;

/* A check's name as the API and --json give it ("point", "objects", ...). */
const char *gd_command_restore_check_name(gd_check_id id);
/* The dry run's answer, as the API and geodr restore --dry-run --json give
 * it: {DBInstanceId, RegionId, BackupSetId, Passed, Checks: [{Name, Passed
 * (true, false, or null when not run), Message}], Tables, RawBytes,
 * Segments, SegmentBytes, ObjectsChecked, VerifyObjects, EstimatedBytes,
 * FreeBytes}.  Caller decrefs. */
json_t *gd_command_restore_precheck_json(const gd_restore_request *rq,
                                         const gd_restore_outcome *out);

/* The warning to give about a replay host, or NULL (listening on every
 * network).  A caller gives it as soon as it reads the option. */
const char *gd_command_restore_replay_host_warning(const char *host);
/* Checks and parses rq (in the order the refusals are reported); warns via
 * ctx about a --replay-host reached without an authenticated target
 * connection.  With reset_target, stops after what --reset-target needs. */
int gd_command_restore_check(const gd_command_ctx *ctx, gd_restore_request *rq, gd_err *err);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (or with T) in UTC, or followed by "Z",
 * "UTC" or "+HH:MM"/"-HH:MM": epoch seconds (the fraction is dropped). */
int gd_command_restore_parse_time(const char *s, long long *out, gd_err *err);
/* restore --reset-target: undo what a killed geodr left on rq's target;
 * note gets what the reset found worth saying. */
int gd_command_restore_reset_target(const gd_restore_request *rq, char *note, size_t notelen,
                                    gd_err *err);
/* Runs a checked request.  out is filled on success (and freed with
 * gd_command_restore_outcome_free in any case). */
int gd_command_restore(const gd_command_ctx *ctx, gd_restore_request *rq, gd_restore_outcome *out,
                       gd_err *err);
void gd_command_restore_outcome_free(gd_restore_outcome *out);
void gd_command_restore_request_free(gd_restore_request *rq);

#endif
