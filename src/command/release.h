/* release: an instance that is no longer protected, its backups kept
 * (docs/regions.md "Released instances").
 *
 * Releasing records the moment in the instance's policy record in its home
 * region (repo/policy.h released_us).  From then on no process backs the
 * instance up or archives its binlog (gd_command_refuse_released: geodr
 * backup, geodr archive, the server), and nothing is deleted by the
 * release: its sets and binlog archive stay listed and restorable, and
 * expire by the retention the record holds, which can still be changed.
 * The record then goes to every copy region that holds the instance, so
 * each region knows its retention even once the config no longer names
 * the instance.  The config section should stay (it holds the key that
 * authenticates an encrypted instance's records, which its expiry needs).
 *
 * A release can be undone (undo): the record no longer says released and
 * backups and the archive resume; nothing else does that (a backup of a
 * released instance is refused, never an implicit undo). */
#ifndef GD_COMMAND_RELEASE_H
#define GD_COMMAND_RELEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "command/command.h"
#include "common/error.h"
#include "repo/repo.h"

typedef struct gd_release_result {
    int64_t released_us; /* when it was released (0: it is not, after undo) */
    bool changed;        /* false: it already was (or, undo, was not) released */
    int retention_days, copy_retention_days; /* the recorded retention */
    int regions_failed;                      /* copy regions the record could not be written to now
                                              * (warned; the next expire pass brings it there) */
} gd_release_result;

/* Releases the configured instance (or, undo, takes the release back):
 * writes the policy record at home (the config's policy when none was
 * recorded, else the record's, with released_us set or cleared), then
 * copies it to every copy region holding the instance (gd_command_policy_
 * push).  Idempotent.  Fails when the instance is not configured, the home
 * region cannot be written, or the record there exists but cannot be used
 * (it would be overwritten blind: fix it with ModifyInstanceCrossBackup
 * Policy first). */
int gd_command_release(const gd_command_ctx *ctx, const char *instance, bool undo,
                       gd_release_result *res, gd_err *err);

/* Copies the home region's policy record of ic, as stored, to every region
 * that may hold copies of it (the policy's and the config's copy regions)
 * and holds its repository; home is its home repository (keyed or raw).
 * A region that fails is a WARNING event of op; returns how many failed. */
int gd_command_policy_push(const gd_command_ctx *ctx, const char *op, const gd_instance_cfg *ic,
                           const gd_instance_cfg *eff, gd_repo *home);

/* 0 when the instance may be backed up or archived; GD_E_STATE, with a
 * message saying when it was released and how to undo it, when its policy
 * record says it is released.  home: its home repository (NULL: opened
 * here).  A record that cannot be read does not refuse (the config holds,
 * as for every policy value). */
int gd_command_refuse_released(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                               gd_err *err);

/* When the instance's policy record says it was released: 0 with *at (0:
 * it is not released, or no record), or the error when the home region or
 * the record cannot be read (home: NULL, opened here). */
int gd_command_released_at(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                           int64_t *at, gd_err *err);

#endif
