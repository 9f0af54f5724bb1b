/* Compaction of the binlog archive: runs of small consecutive segments are
 * merged into one, so the number of objects stays bounded (the archiver
 * commits a segment every second under load).  Safe against crashes and
 * against concurrent readers:
 *   1. the merged segment and its "<first>-<last>" record are committed;
 *      from then on readers use it and ignore the records it covers;
 *   2. the covered segments are removed only by a later pass, once the
 *      merged record is older than the grace period, so a restore that
 *      started with the old records can finish reading them.
 * Only segments with identical format description events are merged (one
 * source binlog file), and the chain (GTID positions) must be contiguous. */
#ifndef GD_ARCHIVE_COMPACT_H
#define GD_ARCHIVE_COMPACT_H

#include <stdint.h>

#include "common/defaults.h"
#include "common/error.h"
#include "repo/repo.h"

typedef struct gd_compact_opts {
    unsigned min_segments; /* merge a run only when it has this many (default 32) */
    uint64_t small;        /* segments below this raw size are merged (default 4 MiB) */
    uint64_t max_merged;   /* a merged segment stays below this raw size (default 64 MiB) */
    int64_t grace_s;       /* covered segments are removed this long after the merge */
} gd_compact_opts;

/* An initializer: the defaults (common/defaults.h). */
#define GD_COMPACT_DEFAULTS                                                                        \
    {                                                                                              \
        .min_segments = GD_DEFAULT_COMPACT_MIN_SEGMENTS, .small = GD_DEFAULT_COMPACT_SMALL,        \
        .max_merged = GD_DEFAULT_COMPACT_MAX_MERGED, .grace_s = GD_DEFAULT_COMPACT_GRACE_S         \
    }

typedef struct gd_compact_stats {
    unsigned long long merged_runs, merged_segments, removed;
} gd_compact_stats;

/* One pass: remove what older merges cover (past the grace period), then
 * merge every run that qualifies. */
int gd_archive_compact(gd_repo *r, const gd_compact_opts *o, gd_compact_stats *st, gd_err *err);

#endif
