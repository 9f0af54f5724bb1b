/* The binlog archive's chain, the recovery windows it gives, and restore
 * plans within them. */
#include "repo/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gtid.h"
#include "common/util.h"
#include "repo/repo.h"

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

/* Adds the window of the run segs[a..b] (inclusive) if a set starts it. */
static void add_window(json_t *windows, json_t *segs, size_t a, size_t b, const gd_set *sets,
                       size_t nsets)
{
    json_t *first = json_array_get(segs, a), *last = json_array_get(segs, b);
    gd_gtid_pos from, to;
    if (gd_gtid_pos_parse(gd_json_str(first, "prev_gtid_pos", ""), &from, NULL) != 0 ||
        gd_gtid_pos_parse(gd_json_str(last, "gtid_pos", ""), &to, NULL) != 0)
        return;
    const gd_set *best = NULL;
    for (size_t i = 0; i < nsets; i++) {
        if (!gd_gtid_pos_le(&from, &sets[i].pos) || !gd_gtid_pos_le(&sets[i].pos, &to))
            continue;
        if (best == NULL || sets[i].end_s < best->end_s)
            best = &sets[i];
    }
    if (best == NULL)
        return;
    long long to_s = gd_json_int(last, "last_time_s", 0);
    const char *to_str = gd_json_str(last, "last_time", "");
    char best_end[32];
    gd_fmt_time(best->mf->end_us, false, best_end, sizeof best_end);
    char gfrom[1024];
    gd_gtid_pos_format(&best->pos, gfrom, sizeof gfrom);
    json_array_append_new(windows, json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "from",
                                             best_end, "from_s", (json_int_t)best->end_s, "to",
                                             best->end_s > to_s ? best_end : to_str, "to_s",
                                             (json_int_t)(best->end_s > to_s ? best->end_s : to_s),
                                             "set", best->id, "gtid_from", gfrom, "gtid_to",
                                             gd_json_str(last, "gtid_pos", "")));
}

int gd_repo_archive_summary(gd_repo *r, json_t **out, gd_err *err)
{
    json_t *segs = NULL;
    gd_set *sets = NULL;
    size_t nsets = 0;
    int rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, NULL, err);
    if (rc != 0) {
        json_decref(segs);
        return rc;
    }
    size_t n = json_array_size(segs);
    json_t *gaps = json_array(), *windows = json_array();
    unsigned long long txns = 0, raw = 0, stored = 0;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(segs, i);
        txns += (unsigned long long)gd_json_int(s, "transactions", 0);
        raw += (unsigned long long)gd_json_int(s, "raw_size", 0);
        stored += (unsigned long long)gd_json_int(s, "size", 0);
        if (i == 0)
            continue;
        json_t *p = json_array_get(segs, i - 1);
        const char *expected = gd_json_str(p, "gtid_pos", "");
        const char *found = gd_json_str(s, "prev_gtid_pos", "");
        if (strcmp(expected, found) != 0 ||
            gd_segment_first_seq(s) != gd_json_int(p, "seq", 0) + 1) {
            json_array_append_new(gaps, json_pack("{s:I, s:s, s:s, s:s, s:s}", "before_seq",
                                                  (json_int_t)gd_json_int(s, "seq", 0), "expected",
                                                  expected, "found", found, "after_time",
                                                  gd_json_str(p, "last_time", ""), "before_time",
                                                  gd_json_str(s, "first_time", "")));
            add_window(windows, segs, run, i - 1, sets, nsets);
            run = i;
        }
    }
    if (n > 0)
        add_window(windows, segs, run, n - 1, sets, nsets);
    json_t *first = json_array_get(segs, 0), *last = n ? json_array_get(segs, n - 1) : NULL;
    *out =
        json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:s, s:o, s:o}", "segments", (json_int_t)n,
                  "transactions", (json_int_t)txns, "raw_bytes", (json_int_t)raw, "stored_bytes",
                  (json_int_t)stored, "first_time", n ? gd_json_str(first, "first_time", "") : "",
                  "last_time", n ? gd_json_str(last, "last_time", "") : "", "last_time_s",
                  (json_int_t)(n ? gd_json_int(last, "last_time_s", 0) : 0), "gtid_pos",
                  n ? gd_json_str(last, "gtid_pos", "") : "", "gaps", gaps, "windows", windows);
    gd_repo_sets_free(sets, nsets);
    json_decref(segs);
    return 0;
}

/* The windows as "[from .. to], ..." for messages. */
/* Without any window: the restore points there are. */
static char *windows_text(json_t *summary, const gd_set *sets, size_t nsets, const char *instance)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(summary, "windows"), i, w)
    {
        gd_buf_appendf(&b, "%s[%s .. %s]", i ? ", " : "", gd_json_str(w, "from", ""),
                       gd_json_str(w, "to", ""));
    }
    if (b.len == 0) {
        gd_buf_appendf(&b,
                       "there is none, as no binlog archive rolls a backup set forward "
                       "(run 'geodr archive %s' for point-in-time restore); backup sets "
                       "end at ",
                       instance);
        for (size_t k = 0; k < nsets; k++) {
            char end[32];
            gd_fmt_time(sets[k].mf->end_us, false, end, sizeof end);
            gd_buf_appendf(&b, "%s%s UTC", k ? ", " : "", end);
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

/* Whether a contiguous run of segments from set sp reaches the stop point;
 * the run goes to use (cleared first). */
static bool reaches(const gd_set *sp, json_t *segs, long long stop_time_s,
                    const gd_gtid_pos *stop_gtid, json_t *use)
{
    size_t n = json_array_size(segs);
    /* the first segment with something after the set */
    size_t first = n;
    for (size_t i = 0; i < n; i++) {
        gd_gtid_pos gp;
        if (gd_gtid_pos_parse(gd_json_str(json_array_get(segs, i), "gtid_pos", ""), &gp, NULL) ==
                0 &&
            !gd_gtid_pos_le(&gp, &sp->pos)) {
            first = i;
            break;
        }
    }
    bool ok = true;
    long long reach = sp->end_s;
    bool reach_gtid = stop_gtid && gd_gtid_pos_le(stop_gtid, &sp->pos);
    json_array_clear(use);
    if (first < n && !reach_gtid) {
        gd_gtid_pos prev;
        ok = gd_gtid_pos_parse(gd_json_str(json_array_get(segs, first), "prev_gtid_pos", ""), &prev,
                               NULL) == 0 &&
             gd_gtid_pos_le(&prev, &sp->pos);
        for (size_t i = first; ok && i < n; i++) {
            json_t *s = json_array_get(segs, i);
            if (i > first) {
                json_t *p = json_array_get(segs, i - 1);
                if (strcmp(gd_json_str(p, "gtid_pos", ""), gd_json_str(s, "prev_gtid_pos", "")) !=
                    0)
                    break; /* a gap: the run ends here */
            }
            json_array_append(use, s);
            reach = gd_json_int(s, "last_time_s", reach);
            if (stop_time_s >= 0 && gd_json_int(s, "first_time_s", 0) > stop_time_s)
                break; /* this one already starts after the stop point */
            gd_gtid_pos sg;
            if (stop_gtid && gd_gtid_pos_parse(gd_json_str(s, "gtid_pos", ""), &sg, NULL) == 0 &&
                gd_gtid_pos_le(stop_gtid, &sg)) {
                reach_gtid = true;
                break; /* this one holds the stop GTID */
            }
        }
    }
    return ok && (stop_gtid ? reach_gtid : (stop_time_s < 0 || reach >= stop_time_s));
}

/* The error for a stop point outside every recovery window: it prints
 * them. */
static int outside_windows(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                           const char *set_id, const gd_set *sets, size_t nsets, gd_err *err)
{
    json_t *sum = NULL;
    gd_err e2;
    gd_err_clear(&e2);
    char *wt = gd_repo_archive_summary(r, &sum, &e2) == 0
                   ? windows_text(sum, sets, nsets, r->instance)
                   : gd_strdup("unknown");
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
    json_decref(sum);
    return rc;
}

/* The set chosen: its id, position and end. */
static void fill_set(json_t *plan, const gd_set *chosen)
{
    char g[1024];
    gd_gtid_pos_format(&chosen->pos, g, sizeof g);
    json_object_set_new(plan, "set", json_string(chosen->id));
    json_object_set_new(plan, "set_gtid", json_string(g));
    char end[32];
    gd_fmt_time(chosen->mf->end_us, false, end, sizeof end);
    json_object_set_new(plan, "set_end", json_string(end));
    json_object_set_new(plan, "set_end_s", json_integer(chosen->end_s));
}

/* The set a plan starts from and the segments it replays (into plan), or
 * NULL when the stop point is outside every window. */
static const gd_set *choose(const gd_set *sets, size_t nsets, const gd_set *chosen, json_t *segs,
                            long long stop_time_s, const gd_gtid_pos *stop_gtid, json_t *plan)
{
    json_t *use = json_object_get(plan, "segments");
    if (stop_time_s == GD_PITR_NONE ||
        (json_array_size(segs) == 0 && stop_time_s == GD_PITR_LATEST)) {
        json_object_set_new(plan, "replay", json_false());
        return chosen ? chosen : &sets[nsets - 1];
    }
    /* Candidates: sets (newest first) from which a contiguous run of
     * segments reaches the stop point. */
    for (size_t k = nsets; k-- > 0;) {
        const gd_set *sp = chosen ? chosen : &sets[k];
        bool before = (stop_time_s < 0 || sp->end_s <= stop_time_s) &&
                      (stop_gtid == NULL || gd_gtid_pos_le(&sp->pos, stop_gtid));
        if (before && reaches(sp, segs, stop_time_s, stop_gtid, use)) {
            json_object_set_new(plan, "replay", json_true());
            return sp;
        }
        if (chosen)
            break;
    }
    return NULL;
}

int gd_repo_plan(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                 const char *set_id, json_t **out, gd_err *err)
{
    json_t *segs = NULL, *plan = NULL;
    gd_set *sets = NULL;
    size_t nsets = 0;
    gd_err bad;
    gd_err_clear(&bad);
    int rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, &bad, err);
    if (rc == 0 && bad.code != GD_OK)
        rc = refuse_damaged(sets, nsets, set_id, &bad, err);
    if (rc != 0)
        goto out;
    if (nsets == 0) {
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "no backup set of instance %s in region %s: run 'geodr backup %s' first",
                        r->instance, r->st->name, r->instance);
        goto out;
    }
    const gd_set *chosen = NULL;
    for (size_t i = 0; set_id && i < nsets; i++)
        if (strcmp(sets[i].id, set_id) == 0)
            chosen = &sets[i];
    if (set_id && chosen == NULL) {
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "backup set %s of instance %s does not exist in region %s (see "
                        "'geodr info %s')",
                        set_id, r->instance, r->st->name, r->instance);
        goto out;
    }
    plan = json_pack("{s:o}", "segments", json_array());
    chosen = choose(sets, nsets, chosen, segs, stop_time_s, stop_gtid, plan);
    if (chosen == NULL) {
        rc = outside_windows(r, stop_time_s, stop_gtid, set_id, sets, nsets, err);
        goto out;
    }
    fill_set(plan, chosen);
    *out = plan;
    plan = NULL;
out:
    json_decref(plan);
    json_decref(segs);
    gd_repo_sets_free(sets, nsets);
    return rc;
}
