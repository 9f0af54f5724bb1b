/* copy: brings the copy regions of an instance up to date with its home
 * region (docs/regions.md), and the same pass run at the end of a backup.
 * Regions are independent: a failing one is reported (and logged) and the
 * others go on. */
#ifndef GD_COMMAND_COPY_H
#define GD_COMMAND_COPY_H

#include <stdint.h>

#include "command/command.h"
#include "region/copy.h"
#include "region/ship.h"

/* What one copy region got. */
typedef struct gd_region_copy {
    char *region;
    bool ok;
    char *error; /* when !ok */
    gd_copy_stats stats;
} gd_region_copy;

typedef struct gd_copy_report {
    gd_region_copy *v; /* one per copy region, in config order */
    size_t n;
    int failed; /* regions that failed */
} gd_copy_report;

/* Copies to every copy region of ic (sets when cross-region-backup is on,
 * binlog segments when cross-region-log-backup is on); a region reached for
 * the first time copies what started at since_us or later (0: from now
 * on).  Appends to *report; returns the number of regions that failed. */
int gd_command_copy_regions(const gd_command_ctx *ctx, const gd_instance_cfg *ic, gd_repo *home,
                            int jobs, int64_t since_us, gd_copy_report *report);

/* geodr copy: the instance's home region, opened raw (objects move as
 * stored: no key needed), into every copy region.  jobs 0: the instance's.
 * Fails (GD_E_CONFIG) for an instance without copy regions; otherwise
 * returns 0 and the regions' outcomes in *report (report->failed > 0 when
 * some failed). */
int gd_command_copy(const gd_command_ctx *ctx, const char *instance, int jobs,
                    gd_copy_report *report, gd_err *err);

void gd_copy_report_free(gd_copy_report *report);

#endif
