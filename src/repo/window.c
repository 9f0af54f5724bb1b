/* The binlog archive's chain and the recovery windows it gives. */
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

static int load_sets(gd_repo *r, set_point **out, size_t *n, gd_err *err)
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
        if (gd_manifest_read(r, ids[i], &mf, &e) != 0)
            continue; /* a bad manifest is reported by info and verify */
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
    int rc = gd_repo_list_segments(r, &segs, err);
    if (rc == 0)
        rc = load_sets(r, &sets, &nsets, err);
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
            gd_json_int(s, "seq", 0) != gd_json_int(p, "seq", 0) + 1) {
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
        json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:o}", "segments", (json_int_t)n,
                  "transactions", (json_int_t)txns, "raw_bytes", (json_int_t)raw, "stored_bytes",
                  (json_int_t)stored, "first_time", n ? gd_json_str(first, "first_time", "") : "",
                  "last_time", n ? gd_json_str(last, "last_time", "") : "", "gtid_pos",
                  n ? gd_json_str(last, "gtid_pos", "") : "", "gaps", gaps, "windows", windows);
    for (size_t i = 0; i < nsets; i++)
        free(sets[i].id);
    free(sets);
    json_decref(segs);
    return 0;
}
