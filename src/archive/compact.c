#include "archive/compact.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "mysql/binlog.h"
#include "repo/segment.h"

/* Writes one segment holding the events of recs[a..b]; then its record. */
static int merge(gd_repo *r, json_t *live, size_t a, size_t b, gd_compact_stats *st, gd_err *err)
{
    json_t *first = json_array_get(live, a), *last = json_array_get(live, b);
    long long f = gd_segment_first_seq(first), l = gd_json_int(last, "seq", 0);
    char range[40];
    snprintf(range, sizeof range, "%012lld-%012lld", f, l);
    char *ext = gd_asprintf("-%012lld.binlog%s", l, gd_repo_suffix(r));
    char *name = gd_repo_segment_name(r, (unsigned long long)f, ext);
    free(ext);
    gd_obj_writer *w = NULL;
    gd_seg_reader *rd = NULL;
    unsigned long long txns = 0, events = 0;
    gd_ctimes_writer ct;
    gd_ctimes_writer_init(&ct);
    unsigned how = 0;
    bool legacy = false; /* a record from before commit times */
    int rc = gd_obj_create(r, name, &w, err);
    if (rc == 0)
        rc = gd_obj_write(w, GD_BINLOG_MAGIC, GD_BINLOG_MAGIC_LEN, err);
    for (size_t i = a; rc == 0 && i <= b; i++) {
        json_t *rec = json_array_get(live, i);
        gd_event ev;
        if ((rc = gd_seg_open(r, rec, &rd, &ev, err)) != 0)
            break;
        if (i == a)
            rc = gd_obj_write(w, ev.data, ev.size, err);
        while (rc == 0 && (rc = gd_seg_next(rd, &ev, err)) == 1)
            rc = gd_obj_write(w, ev.data, ev.size, err);
        gd_seg_close(rd);
        rd = NULL;
        /* its commit times, renumbered (its transaction 0 is our txns) */
        if (rc == 0)
            rc = gd_ctimes_append(&ct, rec, txns, err);
        how |= gd_ctimes_how(rec);
        legacy |= gd_ctimes_how(rec) == 0;
        txns += (unsigned long long)gd_json_int(rec, "transactions", 0);
        events += (unsigned long long)gd_json_int(rec, "events", 0);
    }
    gd_obj_info info;
    if (rc == 0) {
        rc = gd_obj_commit(w, &info, err);
        w = NULL;
    }
    if (rc == 0) {
        const char *base = strrchr(name, '/');
        json_t *j = json_pack(
            "{s:s, s:i, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, "
            "s:I, s:s, s:I}",
            "format", "geodr-segment", "version", GD_REPO_FORMAT_VERSION, "first_seq",
            (json_int_t)f, "seq", (json_int_t)l, "object", base ? base + 1 : name, "first_gtid",
            gd_json_str(first, "first_gtid", ""), "last_gtid", gd_json_str(last, "last_gtid", ""),
            "prev_gtid_pos", gd_json_str(first, "prev_gtid_pos", ""), "gtid_pos",
            gd_json_str(last, "gtid_pos", ""), "first_time", gd_json_str(first, "first_time", ""),
            "first_time_s", (json_int_t)gd_json_int(first, "first_time_s", 0), "last_time",
            gd_json_str(last, "last_time", ""), "last_time_s",
            (json_int_t)gd_json_int(last, "last_time_s", 0), "transactions", (json_int_t)txns,
            "events", (json_int_t)events, "raw_size", (json_int_t)info.raw_size, "size",
            (json_int_t)info.size, "sha256", info.sha256, "created_s",
            (json_int_t)(gd_now_us() / 1000000));
        /* A record from before commit times gave its transactions their
         * GTID event's second: a lower bound, as when catching up. */
        gd_ctimes_set(j, gd_ctimes_str(&ct), how | (how && legacy ? GD_CT_EVENTS : 0));
        char *rname = gd_asprintf("%s/binlog/%s.segment", r->instance, range);
        rc = gd_repo_put_record(r, rname, j, err);
        free(rname);
        json_decref(j);
    }
    gd_obj_abort(w);
    gd_ctimes_writer_free(&ct);
    if (rc == 0) {
        st->merged_runs++;
        st->merged_segments += b - a + 1;
        gd_debug("compacted segments %lld..%lld into one", f, l);
    }
    free(name);
    return rc;
}

/* True when the format description events of two segments are the same
 * bytes (segments of one source binlog file). */
static int same_fde(gd_repo *r, json_t *x, json_t *y, bool *same, gd_err *err)
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

int gd_archive_compact(gd_repo *r, const gd_compact_opts *o, gd_compact_stats *st, gd_err *err)
{
    memset(st, 0, sizeof *st);
    json_t *live = NULL, *covered = NULL;
    int rc = gd_repo_prune_covered(r, NULL, o->grace_s, &st->removed, err);
    if (rc == 0)
        rc = gd_repo_list_segments(r, &live, &covered, err);
    size_t n = json_array_size(live);
    size_t a = 0;
    while (rc == 0 && a < n) {
        json_t *ra = json_array_get(live, a);
        if ((uint64_t)gd_json_int(ra, "raw_size", 0) >= o->small) {
            a++;
            continue;
        }
        uint64_t total = (uint64_t)gd_json_int(ra, "raw_size", 0);
        size_t ct_total = strlen(gd_json_str(ra, "commit_times", ""));
        size_t b = a;
        while (b + 1 < n) {
            json_t *p = json_array_get(live, b), *q = json_array_get(live, b + 1);
            uint64_t qs = (uint64_t)gd_json_int(q, "raw_size", 0);
            /* renumbering lengthens one entry per record by at most 10 digits */
            size_t qct = strlen(gd_json_str(q, "commit_times", "")) + 11;
            bool same = false;
            if (qs >= o->small || total + qs > o->max_merged ||
                ct_total + qct > GD_CTIMES_MAX_MERGED ||
                gd_segment_first_seq(q) != gd_json_int(p, "seq", 0) + 1 ||
                strcmp(gd_json_str(p, "gtid_pos", ""), gd_json_str(q, "prev_gtid_pos", "")) != 0)
                break;
            if ((rc = same_fde(r, ra, q, &same, err)) != 0 || !same)
                break;
            total += qs;
            ct_total += qct;
            b++;
        }
        if (rc == 0 && b - a + 1 >= o->min_segments)
            rc = merge(r, live, a, b, st, err);
        a = b + 1;
    }
    json_decref(live);
    json_decref(covered);
    return rc;
}
