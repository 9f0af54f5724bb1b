/* Retention (docs/regions.md): what may be removed from one region.
 *
 * With retention R days and now N, the boundary is N - R days.
 *   - A set is expired when it ended before the boundary.
 *   - The newest expired set is kept while the binlog archive rolls it
 *     forward: the recovery window must reach back to the boundary.
 *   - The newest set of the region is always kept.
 *   - Every other expired set is removed: manifest first (so no reader can
 *     see half a set), then its objects.
 *   - Binlog segments that lie entirely before the oldest kept set's GTID
 *     position are removed (no kept set needs them).
 *   - Leftovers of killed backups (a set folder without a manifest) older
 *     than a day are removed, and so are segment objects older than a day
 *     whose record is gone (an expire that failed between the two).
 * Nothing else is ever deleted: there is no way to remove an unexpired set.
 * now_s comes from the caller (tests inject a clock). */
#ifndef GD_REGION_RETENTION_H
#define GD_REGION_RETENTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "repo/repo.h"

/* Computes the plan and, unless dry_run, carries it out.  *report:
 * {"region", "retention_days", "boundary", "keep": [set ids], "expire": [ids],
 *  "segments_removed", "leftovers_removed"}. */
int gd_region_expire(gd_repo *r, int retention_days, int64_t now_s, bool dry_run, json_t **report,
                     gd_err *err);

/* Removes one set only if retention allows it now; otherwise GD_E_STATE with
 * the date it expires, or the reason it is still needed. */
int gd_region_expire_set(gd_repo *r, const char *set_id, int retention_days, int64_t now_s,
                         gd_err *err);

#endif
