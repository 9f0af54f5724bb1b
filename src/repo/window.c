/* The binlog archive's chain and the recovery windows it gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gtid.h"
#include "common/util.h"
#include "repo/repo.h"

typedef struct set_point {
    char *id;
    gd_gtid_pos pos;
    long long end_s;
    char end[32];
} set_point;

/* Reads every committed set's manifest.  A manifest that cannot be read is
 * left out; the first such error goes to bad (may be NULL) so that a restore
 * can refuse to guess around it. */
static int load_sets(gd_repo *r, set_point **out, size_t *n, gd_err *bad, gd_err *err)
{
    char **ids = NULL;
    size_t ns = 0;
    int rc = gd_repo_list_sets(r, &ids, &ns, err);
    if (rc != 0)
        return rc;
    set_point *v = gd_calloc(ns + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        json_t *mf = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (gd_manifest_read(r, ids[i], &mf, &e) != 0) {
            if (bad && bad->code == GD_OK)
                *bad = e;
            continue;
        }
        if (gd_gtid_pos_parse(gd_json_str(mf, "gtid", ""), &v[k].pos, &e) == 0) {
            v[k].id = gd_strdup(ids[i]);
            v[k].end_s = gd_json_int(mf, "end_us", 0) / 1000000;
            gd_strlcpy(v[k].end, gd_json_str(mf, "end", ""), sizeof v[k].end);
            k++;
        }
        json_decref(mf);
    }
    gd_strv_free(ids, ns);
    *out = v;
    *n = k;
    return 0;
}

/* Adds the window of the run segs[a..b] (inclusive) if a set starts it. */
static void add_window(json_t *windows, json_t *segs, size_t a, size_t b, const set_point *sets,
                       size_t nsets)
{
    json_t *first = json_array_get(segs, a), *last = json_array_get(segs, b);
    gd_gtid_pos from, to;
    if (gd_gtid_pos_parse(gd_json_str(first, "prev_gtid_pos", ""), &from, NULL) != 0 ||
        gd_gtid_pos_parse(gd_json_str(last, "gtid_pos", ""), &to, NULL) != 0)
        return;
    const set_point *best = NULL;
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
    char gfrom[1024];
    gd_gtid_pos_format(&best->pos, gfrom, sizeof gfrom);
    json_array_append_new(windows, json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "from",
                                             best->end, "from_s", (json_int_t)best->end_s, "to",
                                             best->end_s > to_s ? best->end : to_str, "to_s",
                                             (json_int_t)(best->end_s > to_s ? best->end_s : to_s),
                                             "set", best->id, "gtid_from", gfrom, "gtid_to",
                                             gd_json_str(last, "gtid_pos", "")));
}

int gd_repo_archive_summary(gd_repo *r, json_t **out, gd_err *err)
{
    json_t *segs = NULL;
    set_point *sets = NULL;
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
    for (size_t i = 0; i < nsets; i++)
        free(sets[i].id);
    free(sets);
    json_decref(segs);
    return 0;
}

/* The windows as "[from .. to], ..." for messages. */
/* Without any window: the restore points there are. */
static char *windows_text(json_t *summary, const set_point *sets, size_t nsets,
                          const char *instance)
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
        for (size_t k = 0; k < nsets; k++)
            gd_buf_appendf(&b, "%s%s UTC", k ? ", " : "", sets[k].end);
        gd_buf_appendf(&b, " (use --set ID or --fastest)");
    } else {
        gd_buf_appendf(&b, " (UTC)");
    }
    return b.data;
}

int gd_repo_plan(gd_repo *r, long long stop_time_s, const gd_gtid_pos *stop_gtid,
                 const char *set_id, json_t **out, gd_err *err)
{
    json_t *segs = NULL, *summary = NULL, *plan = NULL;
    set_point *sets = NULL;
    size_t nsets = 0;
    gd_err bad;
    gd_err_clear(&bad);
    int rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, &bad, err);
    if (rc != 0)
        goto out;
    if (bad.code != GD_OK) {
        /* Never guess around a damaged set: name it.  (A named good set
         * restores: gd_manifest_read of it succeeded above.) */
        bool named_ok = false;
        for (size_t i = 0; set_id && i < nsets; i++)
            named_ok |= strcmp(sets[i].id, set_id) == 0;
        if (!named_ok) {
            if (err)
                *err = bad;
            gd_err_prefix(err, "%s",
                          set_id ? "the chosen backup set cannot be used"
                                 : "a backup set cannot be used (restore another "
                                   "one with --set ID)");
            rc = bad.code;
            goto out;
        }
    }
    if (nsets == 0) {
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "no backup set of instance %s in region %s: run 'geodr backup %s' first",
                        r->instance, r->st->name, r->instance);
        goto out;
    }
    const set_point *chosen = NULL;
    if (set_id) {
        for (size_t i = 0; i < nsets; i++)
            if (strcmp(sets[i].id, set_id) == 0)
                chosen = &sets[i];
        if (chosen == NULL) {
            rc = gd_err_set(err, GD_E_NOTFOUND,
                            "backup set %s of instance %s does not exist in region %s (see "
                            "'geodr info %s')",
                            set_id, r->instance, r->st->name, r->instance);
            goto out;
        }
    }
    size_t n = json_array_size(segs);
    json_t *use = json_array();
    plan = json_pack("{s:o}", "segments", use);
    if (stop_time_s == GD_PITR_NONE || (n == 0 && stop_time_s == GD_PITR_LATEST)) {
        if (chosen == NULL)
            chosen = &sets[nsets - 1];
        json_object_set_new(plan, "replay", json_false());
        goto fill;
    }
    /* Candidates: sets (newest first) from which a contiguous run of
     * segments reaches the stop point. */
    for (size_t k = nsets; k-- > 0;) {
        const set_point *sp = chosen ? chosen : &sets[k];
        if ((stop_time_s >= 0 && sp->end_s > stop_time_s) ||
            (stop_gtid && !gd_gtid_pos_le(&sp->pos, stop_gtid))) {
            if (chosen)
                break;
            continue;
        }
        /* the first segment with something after the set */
        size_t first = n;
        for (size_t i = 0; i < n; i++) {
            gd_gtid_pos gp;
            if (gd_gtid_pos_parse(gd_json_str(json_array_get(segs, i), "gtid_pos", ""), &gp,
                                  NULL) == 0 &&
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
            ok = gd_gtid_pos_parse(gd_json_str(json_array_get(segs, first), "prev_gtid_pos", ""),
                                   &prev, NULL) == 0 &&
                 gd_gtid_pos_le(&prev, &sp->pos);
            for (size_t i = first; ok && i < n; i++) {
                json_t *s = json_array_get(segs, i);
                if (i > first) {
                    json_t *p = json_array_get(segs, i - 1);
                    if (strcmp(gd_json_str(p, "gtid_pos", ""),
                               gd_json_str(s, "prev_gtid_pos", "")) != 0)
                        break; /* a gap: the run ends here */
                }
                json_array_append(use, s);
                reach = gd_json_int(s, "last_time_s", reach);
                if (stop_time_s >= 0 && gd_json_int(s, "first_time_s", 0) > stop_time_s)
                    break; /* this one already starts after the stop point */
                gd_gtid_pos sg;
                if (stop_gtid &&
                    gd_gtid_pos_parse(gd_json_str(s, "gtid_pos", ""), &sg, NULL) == 0 &&
                    gd_gtid_pos_le(stop_gtid, &sg)) {
                    reach_gtid = true;
                    break; /* this one holds the stop GTID */
                }
            }
        }
        if (ok && (stop_gtid ? reach_gtid : (stop_time_s < 0 || reach >= stop_time_s))) {
            chosen = sp;
            json_object_set_new(plan, "replay", json_true());
            goto fill;
        }
        if (chosen)
            break;
    }
    summary = NULL;
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
        rc = gd_err_set(err, GD_E_INVALID,
                        "%s outside the recovery window of instance %s in region %s%s: %s", point,
                        r->instance, r->st->name, set_id ? " (from the given set)" : "", wt);
        free(wt);
        json_decref(sum);
    }
    goto out;
fill : {
    char g[1024];
    gd_gtid_pos_format(&chosen->pos, g, sizeof g);
    json_object_set_new(plan, "set", json_string(chosen->id));
    json_object_set_new(plan, "set_gtid", json_string(g));
    json_object_set_new(plan, "set_end", json_string(chosen->end));
    json_object_set_new(plan, "set_end_s", json_integer(chosen->end_s));
    *out = plan;
    plan = NULL;
}
out:
    json_decref(plan);
    json_decref(summary);
    json_decref(segs);
    for (size_t i = 0; i < nsets; i++)
        free(sets[i].id);
    free(sets);
    return rc;
}
