/* Replay of archived binlog onto a restored server by the server's own
 * replication (docs/archive-and-pitr.md): geodr starts its binlog server, points the
 * target at it (CHANGE MASTER ... MASTER_USE_GTID=slave_pos after setting
 * gtid_slave_pos to the backup set's position), lets the target's parallel
 * SQL threads apply, waits until the target's gtid_slave_pos holds the last
 * transaction served, then stops and removes the replica configuration and
 * restores the target's settings. */
#ifndef GD_REPLAY_REPLAY_H
#define GD_REPLAY_REPLAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/gtid.h"
#include "mysql/conn.h"
#include "repo/plan.h"
#include "repo/repo.h"

typedef struct gd_replay_opts {
    int parallel;                 /* slave_parallel_threads on the target (0: keep the target's) */
    int64_t stop_time_s;          /* replay transactions committed at or before this; <0: all */
    const gd_gtid_pos *stop_gtid; /* or up to and including this position (may be NULL) */
    bool progress;
    const char *listen;    /* address the target reaches geodr's binlog server at
                            * (geodr listens on it); NULL: 127.0.0.1.  Set: the
                            * target is on another machine, and the replication
                            * runs over TLS with the certificate pinned
                            * (docs/tls.md; the target user needs FILE) */
    int stall_s;           /* fail when the target's IO thread has not been connected to
                            * the binlog server for this long (0: 60 s) */
    const gd_cancel *stop; /* the run's token, once set: stop, undo the
                            * target's replica configuration, and
                            * fail with GD_E_CANCEL; may be NULL */
} gd_replay_opts;

typedef struct gd_replay_result {
    unsigned long long transactions, events, bytes;
    char gtid_pos[1024]; /* the target's gtid_slave_pos at the end */
    char last_time[32];  /* commit time of the last transaction replayed */
    double seconds;
} gd_replay_result;

/* Checks that the target has no replication configured, and with pin (a
 * replay with opts.listen set) that the target user can write the binlog
 * server's certificate for the target to pin (FILE privilege,
 * secure_file_priv), so a refusal comes before the load.  Nothing is
 * changed or written. */
int gd_replay_check_target(const gd_conn_params *target, bool pin, gd_err *err);

/* Undoes what a replay left on a target when geodr was killed (SIGKILL,
 * power loss) before it could: stops and removes geodr's replica
 * configuration (a replica of user geodr_replay), sets
 * slave_parallel_threads and slave_parallel_mode back to the server's
 * defaults.  Refuses a target replicating from anything else.  note
 * receives what the operator must still do (a server_id geodr changed), or
 * "". */
int gd_replay_reset_target(const gd_conn_params *target, char *note, size_t notelen, gd_err *err);

/* Replays plan's segments ({"set_gtid", "segments"} from gd_repo_plan)
 * onto target. */
int gd_replay_run(gd_repo *repo, const gd_plan *plan, const gd_conn_params *target,
                  const gd_replay_opts *opts, gd_replay_result *res, gd_err *err);

#endif
