/* Recovery windows and restore plans (docs/archive-and-pitr.md, "Recovery
 * windows"): computed from one region alone, from its committed sets and the
 * chain of its binlog segment records.  Reads only; nothing is written. */
#ifndef GD_REPO_PLAN_H
#define GD_REPO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"
#include "repo/repo.h"
#include "repo/segment.h"

/* A break in the chain of segment records: the record before_seq does not
 * start where the one before it ended. */
typedef struct gd_gap {
    unsigned long long before_seq;
    gd_gtid_pos expected, found; /* the position the chain had, and the one the record names */
    int64_t after_time_s;        /* the last commit before the gap */
    int64_t before_time_s;       /* the first commit after it */
} gd_gap;

/* A recovery window: from the end of the oldest backup set that a
 * contiguous run of segments rolls forward, to the commit time of the run's
 * last transaction. */
typedef struct gd_window {
    int64_t from_s, to_s;
    char *set; /* the set that starts it */
    gd_gtid_pos from, to;
} gd_window;

/* The binlog archive of the instance in this region and its recovery
 * windows.  A gap in the chain ends one window; the next starts at the
 * first set taken after the gap. */
typedef struct gd_archive_summary {
    size_t segments;
    uint64_t transactions, raw_bytes, stored_bytes;
    int64_t first_time_s, last_time_s; /* 0 without segments */
    gd_gtid_pos pos;                   /* after the last segment */
    gd_gap *gaps;
    size_t ngaps;
    gd_window *windows;
    size_t nwindows;
} gd_archive_summary;

int gd_repo_archive_summary(gd_repo *r, gd_archive_summary *out, gd_err *err);
void gd_archive_summary_free(gd_archive_summary *s);

/* A restore plan: which set to load and which segments to replay.
 *   stop_time_s >= 0: replay transactions that commit at or before it
 *   stop_time_s == GD_PITR_LATEST: replay to the end of the archive
 *   stop_time_s == GD_PITR_NONE: no replay (the newest set, or set_id)
 *   stop_gtid (not NULL, with stop_time_s == GD_PITR_LATEST): replay up to and
 *   including that GTID position
 * set_id (may be NULL) forces the set.  A point outside every recovery
 * window fails with GD_E_INVALID and a message that prints the windows. */
#define GD_PITR_LATEST (-1)
#define GD_PITR_NONE (-2)
typedef struct gd_plan {
    char *set;           /* the set to load */
    gd_gtid_pos set_pos; /* its GTID position */
    int64_t set_end_s;   /* when it ended */
    bool replay;         /* segments are to be replayed */
    gd_segments segs;    /* those segments, in chain order */
} gd_plan;

int gd_repo_plan(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                 const char *set_id, gd_plan *out, gd_err *err);
void gd_plan_free(gd_plan *p);

#endif
