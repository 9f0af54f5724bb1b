/* Binlog segments (docs/repository-format.md "Binlog segments"):
 *
 *   <instance>/binlog/<seq>.binlog.zst[.gde]   a valid binlog file (events as
 *                                              the source wrote them)
 *   <instance>/binlog/<seq>.segment            its index record, written after
 *                                              it: the commit
 *
 * <seq> is a 12-digit decimal counter; a compacted segment is named
 * <first>-<last> after the range of counters it replaces.  The records form a
 * chain: each names the GTID position before its first transaction, which
 * equals the previous record's position after its last; a mismatch is a gap.
 *
 * A record is decoded once, where it enters the repository layer, into a
 * gd_segment, and checked there: it must say what its name says (counters,
 * an object named after it in this repository's form), its sizes and counts
 * are non-negative, its GTIDs and positions parse.  Nobody else reads a
 * segment record's JSON.  This header also reads a segment object back event
 * by event (compaction and the binlog server), and holds the commit-time
 * lists that records carry. */
#ifndef GD_REPO_SEGMENT_H
#define GD_REPO_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"
#include "common/util.h"
#include "mysql/binlog.h"
#include "repo/repo.h"

/* One segment's index record.  A region holds thousands of them for years
 * (copy regions keep up to 1825 days): the two GTID positions are kept as
 * one compact array rather than two gd_gtid_pos. */
typedef struct gd_segment {
    unsigned long long first_seq, seq; /* the counters it covers (first_seq < seq: merged) */
    char *record;                      /* its record's name, from the region root */
    char *object;                      /* its object's name, from the region root */
    int64_t mtime_us;                  /* the record's listing time (0 when unknown) */
    bool listed_only;                  /* from the listing alone: only the above is known */
    /* what the record says (not when listed_only) */
    gd_gtid first_gtid, last_gtid; /* its first and last transaction */
    gd_gtid *gtids;                /* prev position (nprev), then position (npos) */
    uint32_t nprev, npos;
    int64_t first_time_s, last_time_s; /* commit seconds of its first and last transaction */
    uint64_t transactions, events;
    uint64_t raw_size, size; /* plaintext size; stored size */
    char sha256[65];         /* of the stored bytes */
    char *commit_times;      /* the commit-time list ("" none) */
    unsigned ct_how;         /* GD_CT_* bits of "commit_time" (0: a record without it) */
    int64_t created_s;       /* merged records: when compaction wrote it (0 otherwise) */
} gd_segment;

/* A list of records in chain order. */
typedef struct gd_segments {
    gd_segment *v;
    size_t n;
} gd_segments;

void gd_segments_free(gd_segments *l);
void gd_segment_free(gd_segment *s);
/* A deep copy of s. */
void gd_segment_copy(gd_segment *dst, const gd_segment *s);

/* Sets s's positions before its first transaction and after its last. */
void gd_segment_set_pos(gd_segment *s, const gd_gtid_pos *prev, const gd_gtid_pos *pos);
/* The GTID position before its first transaction, and after its last. */
void gd_segment_prev_pos(const gd_segment *s, gd_gtid_pos *out);
void gd_segment_pos(const gd_segment *s, gd_gtid_pos *out);
/* The position after its last transaction as text ("" when empty). */
void gd_segment_pos_text(const gd_segment *s, char *out, size_t size);
/* True when next continues the chain right after s: the next counter, and
 * next's position before equals s's position after. */
bool gd_segment_follows(const gd_segment *s, const gd_segment *next);
/* True when next's position before equals s's position after (the counters
 * are not compared). */
bool gd_segment_chained(const gd_segment *s, const gd_segment *next);
/* True when outer's counter range contains inner's. */
bool gd_segment_covers(const gd_segment *outer, const gd_segment *inner);

/* The name of segment seq with an extension (".segment", ".binlog<sfx>",
 * or "-<last>.binlog<sfx>" for a merged one).  Caller frees. */
char *gd_repo_segment_name(const gd_repo *r, unsigned long long seq, const char *ext);

/* Reads every committed segment record, in chain order.  Compaction merges
 * a run of segments into one covering "<first>-<last>" record; the records
 * it covers are not in *live but in *covered (may be NULL), until compaction
 * removes them.  A record that does not decode fails the listing with
 * GD_E_CORRUPT (GD_E_AUTH for one that does not authenticate). */
int gd_repo_list_segments(gd_repo *r, gd_segments *live, gd_segments *covered, gd_err *err);
/* The same from the listing alone (no record is read; listed_only). */
int gd_repo_list_segment_ranges(gd_repo *r, gd_segments *live, gd_segments *covered, gd_err *err);
/* Reads and decodes one record by name (GD_E_NOTFOUND when absent). */
int gd_segment_read(gd_repo *r, const char *record, gd_segment *out, gd_err *err);
/* Writes s's record (at s->record): the commit of the segment whose object
 * s->object names, which must already be committed. */
int gd_segment_write(gd_repo *r, const gd_segment *s, gd_err *err);
/* Removes the segments (object, then record) that a merged record covers,
 * once that record is older than grace_s (compaction's second step; works
 * on a repository opened raw).  A merged record is trusted to stand for
 * what it covers only when it reads through auth (the same record name in a
 * repository opened with the key: r itself at home, the home region for a
 * copy region), says what its name says, and its object in r has the size
 * it gives; a listing alone (a planted name) never removes anything.
 * Counts them in *removed (may be NULL). */
int gd_repo_prune_covered(gd_repo *r, gd_repo *auth, int64_t grace_s, unsigned long long *removed,
                          gd_err *err);

typedef struct gd_seg_reader gd_seg_reader;

/* Opens the segment an index record names and reads its magic and format
 * description event (available as *fde until the reader is closed). */
int gd_seg_open(gd_repo *r, const gd_segment *s, gd_seg_reader **out, gd_event *fde, gd_err *err);
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
int gd_ctimes_open(gd_ctimes_reader *r, const gd_segment *s, gd_err *err);
/* The delta of transaction idx; call with idx 0, 1, 2, ... in order.
 * GD_E_CORRUPT when the list is malformed or names a transaction twice or
 * out of order. */
int gd_ctimes_delta(gd_ctimes_reader *r, unsigned long long idx, uint32_t *delta, gd_err *err);

/* Reads the whole list of record: GD_E_CORRUPT when it is malformed or names
 * a transaction beyond the record's "transactions" (restore checks this
 * before it touches the target). */
int gd_ctimes_check(const gd_segment *s, gd_err *err);

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
int gd_ctimes_append(gd_ctimes_writer *w, const gd_segment *s, unsigned long long base,
                     gd_err *err);
/* The list as the string for "commit_times" ("" when empty). */
const char *gd_ctimes_str(const gd_ctimes_writer *w);

#endif
