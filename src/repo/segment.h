/* Reading an archived binlog segment back, event by event (the archiver's
 * compaction and the binlog server both read segments through this).  The
 * stored bytes are hashed while reading and checked against the index
 * record at the end. */
#ifndef GD_REPO_SEGMENT_H
#define GD_REPO_SEGMENT_H

#include <jansson.h>

#include "common/error.h"
#include "common/util.h"
#include "mysql/binlog.h"
#include "repo/repo.h"

typedef struct gd_seg_reader gd_seg_reader;

/* Opens the segment an index record names and reads its magic and format
 * description event (available as *fde until the reader is closed). */
int gd_seg_open(gd_repo *r, json_t *record, gd_seg_reader **out, gd_event *fde, gd_err *err);
/* The next event: 1 with *ev filled (valid until the next call), 0 at the
 * verified end, or a negative gd_code naming the segment. */
int gd_seg_next(gd_seg_reader *rd, gd_event *ev, gd_err *err);
void gd_seg_close(gd_seg_reader *rd);

/* ---- commit times (docs/repository-format.md "Commit times") ----
 * Binlog event timestamps are statement start times: a statement that runs
 * for seconds carries its start time in every event, also in its GTID event.
 * A segment record's "commit_times" string therefore lists the transactions
 * whose commit second is later than their GTID event's timestamp, as
 * entries "<skip>:<delta>" joined by ',': the entry names the transaction
 * numbered prev + 1 + skip within the segment (0-based; prev is -1 before
 * the first entry), which committed in second (its GTID event's timestamp +
 * delta), delta >= 1.  A transaction that is not listed committed in its
 * GTID event's second; so did every transaction of a record without the
 * field (written before commit times were recorded).  "commit_time" says how
 * the times were taken: "received" (upper bounds), "events" (lower bounds)
 * or "mixed". */

/* Longest "commit_times" string the archiver writes into one record, and the
 * longest compaction writes: the record must stay far below GD_RECORD_MAX. */
#define GD_CTIMES_MAX ((size_t)1 << 20)
#define GD_CTIMES_MAX_MERGED ((size_t)8 << 20)

/* How commit times were taken (docs/archive-and-pitr.md "Commit times"). */
#define GD_CT_EVENTS 1u   /* catching up: the running maximum of event timestamps */
#define GD_CT_RECEIVED 2u /* live: when the commit arrived, on the source's clock */
/* The GD_CT_* bits of a record's "commit_time" (0: a record without it). */
unsigned gd_ctimes_how(json_t *record);
/* Sets "commit_times" (list) and "commit_time" (from how) in a record being
 * written; how 0 sets neither. */
void gd_ctimes_set(json_t *record, const char *list, unsigned how);

/* Reads a record's list in transaction order; no allocation.  The string
 * belongs to the record, which must outlive the reader. */
typedef struct gd_ctimes_reader {
    const char *p;          /* the next unread entry, or NULL at the end */
    unsigned long long idx; /* transaction the current entry names */
    uint32_t delta;         /* its delta */
    bool have;              /* an entry is current */
    const char *name;       /* the segment object, for messages */
} gd_ctimes_reader;

/* Starts on record's "commit_times" (none: an empty list).  GD_E_CORRUPT
 * when the string is malformed. */
int gd_ctimes_open(gd_ctimes_reader *r, json_t *record, gd_err *err);
/* The delta of transaction idx; call with idx 0, 1, 2, ... in order.
 * GD_E_CORRUPT when the list is malformed or names a transaction twice or
 * out of order. */
int gd_ctimes_delta(gd_ctimes_reader *r, unsigned long long idx, uint32_t *delta, gd_err *err);

/* Reads the whole list of record: GD_E_CORRUPT when it is malformed or names
 * a transaction beyond the record's "transactions" (restore checks this
 * before it touches the target). */
int gd_ctimes_check(json_t *record, gd_err *err);

/* Builds a list.  Entries must be added in ascending transaction order. */
typedef struct gd_ctimes_writer {
    gd_buf b;                /* the string so far (b.data may be NULL when empty) */
    unsigned long long next; /* first transaction after the last entry */
} gd_ctimes_writer;

void gd_ctimes_writer_init(gd_ctimes_writer *w);
void gd_ctimes_writer_free(gd_ctimes_writer *w);
/* Records that transaction idx committed delta seconds after its GTID
 * event's timestamp (delta 0 records nothing). */
int gd_ctimes_add(gd_ctimes_writer *w, unsigned long long idx, uint32_t delta, gd_err *err);
/* Appends the list of record (another segment), whose transaction 0 is
 * transaction base of the list being written: compaction. */
int gd_ctimes_append(gd_ctimes_writer *w, json_t *record, unsigned long long base, gd_err *err);
/* The list as the string for "commit_times" ("" when empty). */
const char *gd_ctimes_str(const gd_ctimes_writer *w);

#endif
