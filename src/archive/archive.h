/* The binlog archiver (docs/archive-and-pitr.md).
 *
 * Connects to the source as a replica (MariaDB GTID dump protocol: the
 * source streams its binlog events from a GTID position), and writes the
 * events into segments: valid binlog files (magic, the source's format
 * description event, then the source's events byte for byte) committed to
 * the region through the pipeline, each followed by an index record.  A
 * segment is committed only at a transaction boundary, at least every
 * archive-interval while events arrive.  The archived position advances only
 * when an index record is committed, so a crash, a kill or a dropped
 * connection loses nothing and duplicates nothing: the next run (or
 * reconnect) resumes from the last committed position and skips any GTID it
 * already holds. */
#ifndef GD_ARCHIVE_ARCHIVE_H
#define GD_ARCHIVE_ARCHIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cancel.h"
#include "common/error.h"
#include "mysql/conn.h"
#include "repo/repo.h"
#include "repo/segment.h"

/* What a running archiver shows another thread (all atomics; zeroed by its
 * owner once, then kept across runs so a restart does not hide an outage). */
typedef struct gd_archive_live {
    _Atomic int64_t down_since_us;    /* no stream since then (0: streaming) */
    _Atomic int64_t pending_since_us; /* oldest received event not yet committed (0: none) */
    _Atomic int64_t behind_us;        /* catching up: how old the newest event received is */
} gd_archive_live;

/* The archive's lag in seconds at now_us: how much of what the source has
 * committed the region may not hold.  Streaming and caught up: the age of
 * the oldest event received and not yet committed (0 when none); catching
 * up: the age of the newest event received; no stream (source down, not
 * started): the time since the stream was lost. */
double gd_archive_lag_s(const gd_archive_live *l, int64_t now_us);

typedef struct gd_archive_opts {
    uint32_t server_id;     /* replica server id (must be unique in the topology) */
    double interval_s;      /* commit a segment at least this often while events arrive */
    uint64_t max_segment;   /* commit when a segment's raw size reaches this */
    double heartbeat_s;     /* source heartbeat period when idle */
    double idle_exit_s;     /* > 0: stop after this long without events (tests) */
    double compact_every_s; /* > 0: a compaction pass this often (own thread) */
    const gd_cancel *stop;  /* the run's token: once set, finish and return */
    /* Called (may be NULL) with each segment record once it is committed,
     * its name under "record" (the shippers of the copy regions). */
    void (*on_segment)(void *ctx, const gd_segment *record);
    void *on_segment_ctx;
    gd_archive_live *live; /* may be NULL */
} gd_archive_opts;

typedef struct gd_archive_stats {
    unsigned long long segments, transactions, events, raw_bytes, reconnects;
    char gtid_pos[1024]; /* archived position at return */
} gd_archive_stats;

/* Runs until opts->stop is set (returns 0 after committing what is
 * complete), or a permanent error (binlog disabled or not ROW, GTID no
 * longer on the source, access denied).  Transient errors (network, source
 * restart) are retried with backoff. */
int gd_archive_run(gd_repo *repo, const gd_conn_params *src, const gd_archive_opts *opts,
                   gd_archive_stats *stats, gd_err *err);

/* The archiver's default server id for an instance: 4000000000 + a hash of
 * its name (mod 100000000). */
uint32_t gd_archive_default_server_id(const char *instance);

#endif
