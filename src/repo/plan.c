/* The binlog archive's chain, the recovery windows it gives, and restore
 * plans within them. */
#include "repo/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gtid.h"
#include "common/util.h"
#include "repo/repo.h"
#include "repo/segment.h"

/* The committed sets a recovery window can start from: those whose manifest
 * reads (the first that does not goes to bad, may be NULL) and gives a GTID
 * position. */
static int load_sets(gd_repo *r, gd_set **out, size_t *n, gd_err *bad, gd_err *err)
{
    int rc = gd_repo_load_sets(r, out, n, bad, err);
    if (rc != 0)
        return rc;
    gd_set *v = *out;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (v[i].has_pos) {
            v[k++] = v[i];
        } else {
            free(v[i].id);
            gd_manifest_free(v[i].mf);
        }
    }
    *n = k;
    return 0;
}

/* The window of the run segs[a..b] (inclusive), if a set starts it. */
static void add_window(gd_archive_summary *sum, const gd_segments *segs, size_t a, size_t b,
                       const gd_set *sets, size_t nsets)
{
    gd_gtid_pos from, to;
    gd_segment_prev_pos(&segs->v[a], &from);
    gd_segment_pos(&segs->v[b], &to);
    const gd_set *best = NULL;
    for (size_t i = 0; i < nsets; i++) {
        if (!gd_gtid_pos_le(&from, &sets[i].pos) || !gd_gtid_pos_le(&sets[i].pos, &to))
            continue;
        if (best == NULL || sets[i].end_s < best->end_s)
            best = &sets[i];
    }
    if (best == NULL)
        return;
    int64_t to_s = segs->v[b].last_time_s;
    sum->windows = gd_realloc(sum->windows, (sum->nwindows + 1) * sizeof *sum->windows);
    sum->windows[sum->nwindows++] = (gd_window){.from_s = best->end_s,
                                                .to_s = best->end_s > to_s ? best->end_s : to_s,
                                                .set = gd_strdup(best->id),
                                                .from = best->pos,
                                                .to = to};
}

static void add_gap(gd_archive_summary *sum, const gd_segment *p, const gd_segment *s)
{
    sum->gaps = gd_realloc(sum->gaps, (sum->ngaps + 1) * sizeof *sum->gaps);
    gd_gap *g = &sum->gaps[sum->ngaps++];
    g->before_seq = s->seq;
    gd_segment_pos(p, &g->expected);
    gd_segment_prev_pos(s, &g->found);
    g->after_time_s = p->last_time_s;
    g->before_time_s = s->first_time_s;
}

/* The summary of segs, with the windows that sets start. */
static void summarise(const gd_segments *segs, const gd_set *sets, size_t nsets,
                      gd_archive_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    size_t n = segs->n, run = 0;
    for (size_t i = 0; i < n; i++) {
        const gd_segment *s = &segs->v[i];
        sum->transactions += s->transactions;
        sum->raw_bytes += s->raw_size;
        sum->stored_bytes += s->size;
        if (i > 0 && !gd_segment_follows(&segs->v[i - 1], s)) {
            add_gap(sum, &segs->v[i - 1], s);
            add_window(sum, segs, run, i - 1, sets, nsets);
            run = i;
        }
    }
    sum->segments = n;
    if (n > 0) {
        add_window(sum, segs, run, n - 1, sets, nsets);
        sum->first_time_s = segs->v[0].first_time_s;
        sum->last_time_s = segs->v[n - 1].last_time_s;
        gd_segment_pos(&segs->v[n - 1], &sum->pos);
    }
}

void gd_archive_summary_free(gd_archive_summary *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nwindows; i++)
        free(s->windows[i].set);
    free(s->windows);
    free(s->gaps);
    memset(s, 0, sizeof *s);
}

int gd_repo_archive_summary(gd_repo *r, gd_archive_summary *out, gd_err *err)
{
    gd_segments segs = {0};
    gd_set *sets = NULL;
    size_t nsets = 0;
    int rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, NULL, err);
    if (rc == 0)
        summarise(&segs, sets, nsets, out);
    gd_repo_sets_free(sets, nsets);
    gd_segments_free(&segs);
    return rc;
}

/* The windows as "[from .. to], ..." for messages; without any window,
 * the restore points there are. */
static char *windows_text(const gd_archive_summary *sum, const gd_set *sets, size_t nsets,
                          const char *instance)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    char from[32], to[32];
    for (size_t i = 0; i < sum->nwindows; i++) {
        gd_fmt_time(sum->windows[i].from_s * 1000000, false, from, sizeof from);
        gd_fmt_time(sum->windows[i].to_s * 1000000, false, to, sizeof to);
        gd_buf_appendf(&b, "%s[%s .. %s]", i ? ", " : "", from, to);
    }
    if (b.len == 0) {
        gd_buf_appendf(&b,
                       "there is none, as no binlog archive rolls a backup set forward "
                       "(run 'geodr archive %s' for point-in-time restore); backup sets "
                       "end at ",
                       instance);
        for (size_t k = 0; k < nsets; k++) {
            gd_fmt_time(sets[k].end_s * 1000000, false, to, sizeof to);
            gd_buf_appendf(&b, "%s%s UTC", k ? ", " : "", to);
        }
        gd_buf_appendf(&b, " (use --set ID or --fastest)");
    } else {
        gd_buf_appendf(&b, " (UTC)");
    }
    return b.data;
}

/* A damaged set is never guessed around: it is named, unless the plan is
 * for another set (given with set_id) that reads well. */
static int refuse_damaged(const gd_set *sets, size_t nsets, const char *set_id, const gd_err *bad,
                          gd_err *err)
{
    for (size_t i = 0; set_id && i < nsets; i++)
        if (strcmp(sets[i].id, set_id) == 0)
            return 0;
    if (err)
        *err = *bad;
    gd_err_prefix(err, "%s",
                  set_id ? "the chosen backup set cannot be used"
                         : "a backup set cannot be used (restore another "
                           "one with --set ID)");
    return bad->code;
}

/* A run of segments segs[*from .. *from + *n). */
typedef struct seg_run {
    size_t from, n;
} seg_run;

/* Whether a contiguous run of segments from set sp reaches the stop point;
 * the run goes to use. */
static bool reaches(const gd_set *sp, const gd_segments *segs, long long stop_time_s,
                    const gd_gtid_pos *stop_gtid, seg_run *use)
{
    size_t n = segs->n;
    /* the first segment with something after the set */
    size_t first = n;
    for (size_t i = 0; i < n && first == n; i++) {
        gd_gtid_pos gp;
        gd_segment_pos(&segs->v[i], &gp);
        if (!gd_gtid_pos_le(&gp, &sp->pos))
            first = i;
    }
    bool ok = true;
    long long reach = sp->end_s;
    bool reach_gtid = stop_gtid && gd_gtid_pos_le(stop_gtid, &sp->pos);
    *use = (seg_run){first, 0};
    if (first < n && !reach_gtid) {
        gd_gtid_pos prev;
        gd_segment_prev_pos(&segs->v[first], &prev);
        ok = gd_gtid_pos_le(&prev, &sp->pos);
        for (size_t i = first; ok && i < n; i++) {
            const gd_segment *s = &segs->v[i];
            if (i > first && !gd_segment_chained(&segs->v[i - 1], s))
                break; /* a gap: the run ends here */
            use->n++;
            reach = s->last_time_s;
            if (stop_time_s >= 0 && s->first_time_s > stop_time_s)
                break; /* this one already starts after the stop point */
            gd_gtid_pos sg;
            gd_segment_pos(s, &sg);
            if (stop_gtid && gd_gtid_pos_le(stop_gtid, &sg)) {
                reach_gtid = true;
                break; /* this one holds the stop GTID */
            }
        }
    }
    return ok && (stop_gtid ? reach_gtid : (stop_time_s < 0 || reach >= stop_time_s));
}

/* The error for a stop point outside every recovery window: it prints
 * them. */
static int outside_windows(gd_repo *r, const gd_segments *segs, long long stop_time_s,
                           const gd_gtid_pos *stop_gtid, const char *set_id, const gd_set *sets,
                           size_t nsets, gd_err *err)
{
    gd_archive_summary sum;
    summarise(segs, sets, nsets, &sum);
    char *wt = windows_text(&sum, sets, nsets, r->instance);
    char when[32], point[1100];
    gd_fmt_time(stop_time_s * 1000000, false, when, sizeof when);
    if (stop_gtid) {
        char g[1024];
        gd_gtid_pos_format(stop_gtid, g, sizeof g);
        snprintf(point, sizeof point, "restore point GTID %s is", g);
    } else if (stop_time_s >= 0) {
        snprintf(point, sizeof point, "restore time %s UTC is", when);
    } else {
        snprintf(point, sizeof point, "the latest point is");
    }
    int rc = gd_err_set(err, GD_E_INVALID,
                        "%s outside the recovery window of instance %s in region %s%s: %s", point,
                        r->instance, r->st->name, set_id ? " (from the given set)" : "", wt);
    free(wt);
    gd_archive_summary_free(&sum);
    return rc;
}

/* The set a plan starts from and the segments it replays (use), or NULL
 * when the stop point is outside every window. */
static const gd_set *choose(const gd_set *sets, size_t nsets, const gd_set *chosen,
                            const gd_segments *segs, long long stop_time_s,
                            const gd_gtid_pos *stop_gtid, seg_run *use, bool *replay)
{
    *use = (seg_run){0, 0};
    *replay = false;
    if (stop_time_s == GD_PITR_NONE || (segs->n == 0 && stop_time_s == GD_PITR_LATEST))
        return chosen ? chosen : &sets[nsets - 1];
    /* Candidates: sets (newest first) from which a contiguous run of
     * segments reaches the stop point. */
    for (size_t k = nsets; k-- > 0;) {
        const gd_set *sp = chosen ? chosen : &sets[k];
        bool before = (stop_time_s < 0 || sp->end_s <= stop_time_s) &&
                      (stop_gtid == NULL || gd_gtid_pos_le(&sp->pos, stop_gtid));
        if (before && reaches(sp, segs, stop_time_s, stop_gtid, use)) {
            *replay = true;
            return sp;
        }
        if (chosen)
            break;
    }
    return NULL;
}

/* The plan: the chosen set, and the run of segs it replays (moved out of
 * segs). */
static void fill_plan(gd_plan *p, const gd_set *chosen, gd_segments *segs, seg_run use, bool replay)
{
    memset(p, 0, sizeof *p);
    p->set = gd_strdup(chosen->id);
    p->set_pos = chosen->pos;
    p->set_end_s = chosen->end_s;
    p->replay = replay;
    p->segs.v = gd_calloc(use.n + 1, sizeof *p->segs.v);
    for (size_t i = 0; i < use.n; i++) {
        p->segs.v[i] = segs->v[use.from + i];
        memset(&segs->v[use.from + i], 0, sizeof(gd_segment));
    }
    p->segs.n = use.n;
}

void gd_plan_free(gd_plan *p)
{
    if (p == NULL)
        return;
    free(p->set);
    gd_segments_free(&p->segs);
    memset(p, 0, sizeof *p);
}

/* The set named set_id (*chosen; NULL without set_id). */
static int find_set(gd_repo *r, const gd_set *sets, size_t nsets, const char *set_id,
                    const gd_set **chosen, gd_err *err)
{
    *chosen = NULL;
    if (nsets == 0)
        return gd_err_set(err, GD_E_NOTFOUND,
                          "no backup set of instance %s in region %s: run 'geodr backup %s' first",
                          r->instance, r->st->name, r->instance);
    for (size_t i = 0; set_id && i < nsets; i++)
        if (strcmp(sets[i].id, set_id) == 0)
            *chosen = &sets[i];
    if (set_id && *chosen == NULL)
        return gd_err_set(err, GD_E_NOTFOUND,
                          "backup set %s of instance %s does not exist in region %s (see "
                          "'geodr info %s')",
                          set_id, r->instance, r->st->name, r->instance);
    return 0;
}

int gd_repo_plan(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                 const char *set_id, gd_plan *out, gd_err *err)
{
    gd_segments segs = {0};
    gd_set *sets = NULL;
    size_t nsets = 0;
    gd_err bad;
    gd_err_clear(&bad);
    const gd_set *chosen = NULL;
    int rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, &bad, err);
    if (rc == 0 && bad.code != GD_OK)
        rc = refuse_damaged(sets, nsets, set_id, &bad, err);
    if (rc == 0)
        rc = find_set(r, sets, nsets, set_id, &chosen, err);
    if (rc == 0) {
        seg_run use;
        bool replay;
        const gd_set *sp =
            choose(sets, nsets, chosen, &segs, stop_time_s, stop_gtid, &use, &replay);
        if (sp == NULL)
            rc = outside_windows(r, &segs, stop_time_s, stop_gtid, set_id, sets, nsets, err);
        else
            fill_plan(out, sp, &segs, use, replay);
    }
    gd_segments_free(&segs);
    gd_repo_sets_free(sets, nsets);
    return rc;
}
