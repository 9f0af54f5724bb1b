/* archive: the binlog archiver of an instance, run in the foreground until
 * the ctx's cancel token is set (docs/archive-and-pitr.md), with one shipper per copy
 * region when cross-region-log-backup is on (docs/regions.md).
 *
 * Phases: "archive" (PHASE_BEGIN once the repository is open: from then on
 * the token stops the run cleanly; PHASE_END when the archiver returned). */
#ifndef GD_COMMAND_ARCHIVE_H
#define GD_COMMAND_ARCHIVE_H

#include <stdint.h>

#include "archive/archive.h"
#include "command/command.h"

typedef struct gd_archive_request {
    const char *instance;
    uint32_t server_id;     /* 0: archive-server-id, or derived from the name */
    double interval_s;      /* 0: archive-interval */
    double idle_exit_s;     /* > 0: stop after this long without a transaction */
    double compact_every_s; /* 0: never */
    gd_archive_live *live;  /* what the run shows another thread (may be NULL) */
} gd_archive_request;

typedef struct gd_archive_outcome {
    char *region; /* the home region */
    gd_archive_stats stats;
    int behind; /* copy regions left behind the home archive */
} gd_archive_outcome;

/* Returns 0 when the archiver stopped cleanly (out->behind may still be
 * > 0: a geo-restore from such a region would miss transactions). */
int gd_command_archive(const gd_command_ctx *ctx, const gd_archive_request *rq,
                       gd_archive_outcome *out, gd_err *err);
void gd_archive_outcome_free(gd_archive_outcome *out);

#endif
