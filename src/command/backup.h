/* backup: a consistent full backup of an instance into its home region,
 * then copies to its copy regions (cross-region-backup) and retention in
 * every region (docs/backup-restore.md, docs/regions.md).
 *
 * Phases, each announced by PHASE_BEGIN/PHASE_END events whose data is the
 * gd_backup_outcome so far:
 *   backup     the set, committed in the home region (its failure fails
 *              the operation)
 *   copy       the set (and segments) to every copy region
 *   retention  expire in every region (failures are logged only)
 * A copy region that failed does not fail the call: outcome->copies.failed
 * says so (the set is committed at home). */
#ifndef GD_COMMAND_BACKUP_H
#define GD_COMMAND_BACKUP_H

#include <stdbool.h>

#include "backup/backup.h"
#include "command/command.h"
#include "command/copy.h"

typedef struct gd_backup_request {
    const char *instance;
    int jobs; /* 0: the instance's */
    bool with_users;
    bool no_lock_nontransactional;
    /* An on-demand backup: marked in its manifest, kept by the same
     * retention; refused when the home region already holds
     * GD_MAX_ON_DEMAND of them. */
    bool on_demand;
} gd_backup_request;

typedef struct gd_backup_outcome {
    char *region; /* the home region */
    gd_backup_result set;
    gd_copy_report copies;
} gd_backup_outcome;

int gd_command_backup(const gd_command_ctx *ctx, const gd_backup_request *rq,
                      gd_backup_outcome *out, gd_err *err);
void gd_backup_outcome_free(gd_backup_outcome *out);

#endif
