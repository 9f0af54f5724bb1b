/* Chosen databases or tables to a point in time, into an existing server
 * (docs/archive-and-pitr.md): the target is never made a replica.  geodr
 * provisions a scratch instance, restores the chosen objects of the set
 * into it, replays the archive there with replication filters
 * (replicate_wild_do_table) so only the chosen objects change, then copies
 * the result into the target with the ordinary backup and restore engines
 * (through a temporary repository), renames included, and removes the
 * scratch instance. */
#ifndef GD_REPLAY_SUBSET_H
#define GD_REPLAY_SUBSET_H

#include <jansson.h>

#include "common/error.h"
#include "mysql/conn.h"
#include "replay/replay.h"
#include "repo/plan.h"
#include "repo/repo.h"
#include "restore/restore.h"

int gd_replay_subset(gd_repo *repo, const gd_plan *plan, const gd_conn_params *target,
                     const gd_restore_opts *ropts, const gd_replay_opts *popts,
                     gd_restore_result *res, gd_replay_result *rres, gd_err *err);

#endif
