#include "archive/compact.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "mysql/binlog.h"
#include "repo/segment.h"

/* Copies the events of one segment into the merged object w (its format
 * description event too when first). */
static int copy_events(gd_repo *r, const gd_segment *rec, gd_obj_writer *w, bool first, gd_err *err)
{
    gd_seg_reader *rd = NULL;
    gd_event ev;
    int rc = gd_seg_open(r, rec, &rd, &ev, err);
    if (rc != 0)
        return rc;
    if (first)
        rc = gd_obj_write(w, ev.data, ev.size, err);
    while (rc == 0 && (rc = gd_seg_next(rd, &ev, err)) == 1)
        rc = gd_obj_write(w, ev.data, ev.size, err);
    gd_seg_close(rd);
    return rc;
}

/* Writes one segment holding the events of live[a..b]; then its record. */
static int merge(gd_repo *r, const gd_segments *live, size_t a, size_t b, gd_compact_stats *st,
                 gd_err *err)
{
    const gd_segment *first = &live->v[a], *last = &live->v[b];
    char *ext = gd_asprintf("-%012llu.binlog%s", last->seq, gd_repo_suffix(r));
    char *rext = gd_asprintf("-%012llu.segment", last->seq);
    gd_segment m = {.first_seq = first->first_seq,
                    .seq = last->seq,
                    .record = gd_repo_segment_name(r, first->first_seq, rext),
                    .object = gd_repo_segment_name(r, first->first_seq, ext),
                    .first_gtid = first->first_gtid,
                    .last_gtid = last->last_gtid,
                    .first_time_s = first->first_time_s,
                    .last_time_s = last->last_time_s};
    free(ext);
    free(rext);
    gd_gtid_pos prev, pos;
    gd_segment_prev_pos(first, &prev);
    gd_segment_pos(last, &pos);
    gd_segment_set_pos(&m, &prev, &pos);
    gd_obj_writer *w = NULL;
    gd_ctimes_writer ct;
    gd_ctimes_writer_init(&ct);
    bool legacy = false; /* a record from before commit times */
    int rc = gd_obj_create(r, m.object, &w, err);
    if (rc == 0)
        rc = gd_obj_write(w, GD_BINLOG_MAGIC, GD_BINLOG_MAGIC_LEN, err);
    for (size_t i = a; rc == 0 && i <= b; i++) {
        const gd_segment *rec = &live->v[i];
        rc = copy_events(r, rec, w, i == a, err);
        /* its commit times, renumbered (its transaction 0 is our txns) */
        if (rc == 0)
            rc = gd_ctimes_append(&ct, rec, m.transactions, err);
        m.ct_how |= rec->ct_how;
        legacy |= rec->ct_how == 0;
        m.transactions += rec->transactions;
        m.events += rec->events;
    }
    gd_obj_info info;
    if (rc == 0) {
        rc = gd_obj_commit(w, &info, err);
        w = NULL;
    }
    if (rc == 0) {
        m.raw_size = info.raw_size;
        m.size = info.size;
        memcpy(m.sha256, info.sha256, sizeof m.sha256);
        m.created_s = gd_now_us() / 1000000;
        m.commit_times = gd_strdup(gd_ctimes_str(&ct));
        /* A record from before commit times gave its transactions their
         * GTID event's second: a lower bound, as when catching up. */
        if (m.ct_how && legacy)
            m.ct_how |= GD_CT_EVENTS;
        rc = gd_segment_write(r, &m, err);
    }
    gd_obj_abort(w);
    gd_ctimes_writer_free(&ct);
    if (rc == 0) {
        st->merged_runs++;
        st->merged_segments += b - a + 1;
        gd_debug("compacted segments %llu..%llu into one", m.first_seq, m.seq);
    }
    gd_segment_free(&m);
    return rc;
}

/* True when the format description events of two segments are the same
 * bytes (segments of one source binlog file). */
static int same_fde(gd_repo *r, const gd_segment *x, const gd_segment *y, bool *same, gd_err *err)
{
    gd_seg_reader *a = NULL, *b = NULL;
    gd_event ea, eb;
    int rc = gd_seg_open(r, x, &a, &ea, err);
    if (rc == 0)
        rc = gd_seg_open(r, y, &b, &eb, err);
    if (rc == 0)
        *same = ea.size == eb.size && memcmp(ea.data, eb.data, ea.size) == 0;
    gd_seg_close(a);
    gd_seg_close(b);
    return rc;
}

/* The last segment b >= a of a run that merges into one: small ones that
 * follow each other, with the same format description, within the limits.
 * *rc: a read failed. */
static size_t run_end(gd_repo *r, const gd_compact_opts *o, const gd_segments *live, size_t a,
                      int *rc, gd_err *err)
{
    const gd_segment *ra = &live->v[a];
    uint64_t total = ra->raw_size;
    size_t ct_total = strlen(ra->commit_times);
    size_t b = a;
    while (b + 1 < live->n) {
        const gd_segment *p = &live->v[b], *q = &live->v[b + 1];
        /* renumbering lengthens one entry per record by at most 10 digits */
        size_t qct = strlen(q->commit_times) + 11;
        bool same = false;
        if (q->raw_size >= o->small || total + q->raw_size > o->max_merged ||
            ct_total + qct > GD_CTIMES_MAX_MERGED || !gd_segment_follows(p, q))
            break;
        if ((*rc = same_fde(r, ra, q, &same, err)) != 0 || !same)
            break;
        total += q->raw_size;
        ct_total += qct;
        b++;
    }
    return b;
}

int gd_archive_compact(gd_repo *r, const gd_compact_opts *o, gd_compact_stats *st, gd_err *err)
{
    memset(st, 0, sizeof *st);
    gd_segments live = {0};
    int rc = gd_repo_prune_covered(r, NULL, o->grace_s, &st->removed, err);
    if (rc == 0)
        rc = gd_repo_list_segments(r, &live, NULL, err);
    size_t a = 0;
    while (rc == 0 && a < live.n) {
        if (live.v[a].raw_size >= o->small) {
            a++;
            continue;
        }
        size_t b = run_end(r, o, &live, a, &rc, err);
        if (rc == 0 && b - a + 1 >= o->min_segments)
            rc = merge(r, &live, a, b, st, err);
        a = b + 1;
    }
    gd_segments_free(&live);
    return rc;
}
