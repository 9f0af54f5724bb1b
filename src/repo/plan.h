/* Recovery windows and restore plans (docs/archive-and-pitr.md, "Recovery
 * windows"): computed from one region alone, from its committed sets and the
 * chain of its binlog segment records.  Reads only; nothing is written. */
#ifndef GD_REPO_PLAN_H
#define GD_REPO_PLAN_H

#include <jansson.h>

#include "common/error.h"
#include "common/gtid.h"
#include "repo/repo.h"

/* Summary of the binlog archive and the recovery windows of the instance in
 * this region, as JSON:
 *   {"segments", "transactions", "raw_bytes", "stored_bytes", "first_time",
 *    "last_time", "gtid_pos",
 *    "gaps": [{"before_seq", "expected", "found"}],
 *    "windows": [{"from", "from_s", "to", "to_s", "set", "gtid_from", "gtid_to"}]}
 * A window runs from the end of the oldest backup set that a contiguous run
 * of segments rolls forward, to the commit time of the run's last
 * transaction.  A gap in the chain ends one window; the next starts at the
 * first set taken after the gap. */
int gd_repo_archive_summary(gd_repo *r, json_t **out, gd_err *err);

/* A restore plan: which set to load and which segments to replay.
 *   stop_time_s >= 0: replay transactions that commit at or before it
 *   stop_time_s == GD_PITR_LATEST: replay to the end of the archive
 *   stop_time_s == GD_PITR_NONE: no replay (the newest set, or set_id)
 *   stop_gtid (not NULL, with stop_time_s == GD_PITR_LATEST): replay up to and
 *   including that GTID position
 * set_id (may be NULL) forces the set.  The plan is JSON:
 *   {"set", "set_gtid", "set_end", "set_end_s", "segments": [index records],
 *    "replay": bool}
 * A point outside every recovery window fails with GD_E_INVALID and a
 * message that prints the windows. */
#define GD_PITR_LATEST (-1)
#define GD_PITR_NONE (-2)
int gd_repo_plan(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                 const char *set_id, json_t **out, gd_err *err);

#endif
