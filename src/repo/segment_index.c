/* Binlog segment records (repo.h): their names, listing them in chain
 * order, checking that a record says what its name says, and removing the
 * segments a merged record covers. */
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "common/log.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "repo/repo_intern.h"

/* ---- binlog segments ---- */

char *gd_repo_segment_name(const gd_repo *r, unsigned long long seq, const char *ext)
{
    return gd_asprintf("%s/binlog/%012llu%s", r->instance, seq, ext);
}

struct seg_list {
    char **names;
    int64_t *mtimes;
    size_t n, cap;
};

static int seg_cb(void *ctx, const char *name, const gd_stat *st)
{
    struct seg_list *l = ctx;
    size_t len = strlen(name);
    if (len < 8 || strcmp(name + len - 8, ".segment") != 0)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->names = gd_realloc(l->names, l->cap * sizeof *l->names);
        l->mtimes = gd_realloc(l->mtimes, l->cap * sizeof *l->mtimes);
    }
    l->mtimes[l->n] = st ? st->mtime_us : 0;
    l->names[l->n++] = gd_strdup(name);
    return 0;
}

long long gd_segment_first_seq(json_t *rec)
{
    return gd_json_int(rec, "first_seq", gd_json_int(rec, "seq", 0));
}

bool gd_segment_covers(json_t *outer, json_t *inner)
{
    return gd_segment_first_seq(outer) <= gd_segment_first_seq(inner) &&
           gd_json_int(outer, "seq", 0) >= gd_json_int(inner, "seq", 0);
}

static int cmp_records(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    long long fx = gd_segment_first_seq(x), fy = gd_segment_first_seq(y);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    long long sx = gd_json_int(x, "seq", 0), sy = gd_json_int(y, "seq", 0);
    return sx > sy ? -1 : sx < sy; /* the widest first */
}

/* The counter range a record's name gives: "<seq>.segment" or
 * "<first>-<last>.segment" (compaction's merged records). */
static bool record_range(const char *name, long long *first, long long *last)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char *end = NULL;
    long long a = strtoll(base, &end, 10), b = a;
    if (end == base || a < 0)
        return false;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtoll(p, &end, 10);
        if (end == p || b < a)
            return false;
    }
    if (strcmp(end, ".segment") != 0)
        return false;
    *first = a;
    *last = b;
    return true;
}

typedef struct rec_reader {
    gd_repo *r;
    char **names;
    json_t **recs;
} rec_reader;

/* A segment record must say what its name says: its counters, and an object
 * named after it in this repository's form.  Anything else was altered, and
 * its "object" is never used to build a name (expire removes by it). */
static int check_segment_record(const gd_repo *r, const char *name, json_t *j, gd_err *err)
{
    long long first = 0, last = 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *obj = gd_json_str(j, "object", "");
    size_t stem = strlen(base) - strlen(".segment");
    json_t *seq = json_object_get(j, "seq"), *fs = json_object_get(j, "first_seq");
    bool ok =
        record_range(name, &first, &last) && json_is_integer(seq) &&
        json_integer_value(seq) == last &&
        (fs == NULL ? first == last : json_is_integer(fs) && json_integer_value(fs) == first) &&
        strncmp(obj, base, stem) == 0 && strncmp(obj + stem, ".binlog", 7) == 0 &&
        strcmp(obj + stem + 7, gd_repo_suffix(r)) == 0 && gd_json_int(j, "size", -1) >= 0 &&
        gd_json_int(j, "raw_size", -1) >= 0 && gd_json_int(j, "transactions", -1) >= 0;
    if (!ok)
        return gd_err_set(err, GD_E_CORRUPT,
                          "segment record %s in region %s does not match its name (counters, "
                          "object or sizes were altered): it is not used; run 'geodr verify' "
                          "and restore the record from another region",
                          name, r->st->name);
    return 0;
}

static int read_record(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    rec_reader *rr = wv;
    json_t *j = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_repo_get_record(rr->r, rr->names[i], "geodr-segment", &j, &e);
    if (rc == GD_E_NOTFOUND)
        return 0; /* removed since the listing (compaction): not part of it */
    if (rc == 0 && (rc = check_segment_record(rr->r, rr->names[i], j, &e)) != 0)
        json_decref(j);
    if (rc != 0 && err)
        *err = e;
    if (rc == 0) {
        json_object_set_new(j, "record", json_string(rr->names[i]));
        rr->recs[i] = j;
    }
    return rc;
}

static int list_records(gd_repo *r, bool contents, json_t **out, json_t **covered, gd_err *err)
{
    char *prefix = gd_asprintf("%s/binlog/", r->instance);
    struct seg_list l = {0};
    int rc = gd_storage_list(r->st, prefix, seg_cb, &l, err);
    free(prefix);
    json_t **recs = gd_calloc(l.n + 1, sizeof *recs);
    size_t n = 0;
    if (rc == 0 && contents && l.n > 0) {
        int nw = l.n < GD_REPO_READERS ? (int)l.n : GD_REPO_READERS;
        rec_reader *ws = gd_calloc((size_t)nw, sizeof *ws);
        for (int i = 0; i < nw; i++)
            ws[i] = (rec_reader){.r = r, .names = l.names, .recs = recs};
        rc = gd_pool_run(ws, sizeof *ws, nw, l.n, read_record, NULL, err);
        free(ws);
        for (size_t i = 0; i < l.n; i++)
            if (recs[i] != NULL)
                recs[n++] = recs[i];
    } else if (rc == 0) {
        for (size_t i = 0; i < l.n; i++) {
            long long f, s;
            if (record_range(l.names[i], &f, &s))
                recs[n++] = json_pack("{s:I, s:I, s:s, s:I}", "first_seq", (json_int_t)f, "seq",
                                      (json_int_t)s, "record", l.names[i], "mtime_us",
                                      (json_int_t)l.mtimes[i]);
        }
    }
    gd_strv_free(l.names, l.n);
    free(l.mtimes);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            json_decref(recs[i]);
        free(recs);
        return rc;
    }
    json_t *live = json_array(), *cov = json_array();
    if (n > 1)
        qsort(recs, n, sizeof *recs, cmp_records);
    /* A record whose range lies inside an earlier (wider) one was merged
     * into it by compaction and is left for cleanup. */
    long long reach = -1;
    for (size_t i = 0; i < n; i++) {
        long long last = gd_json_int(recs[i], "seq", 0);
        if (last <= reach) {
            json_array_append_new(cov, recs[i]);
        } else {
            json_array_append_new(live, recs[i]);
            reach = last;
        }
    }
    free(recs);
    *out = live;
    if (covered)
        *covered = cov;
    else
        json_decref(cov);
    return 0;
}

int gd_repo_list_segments(gd_repo *r, json_t **out, json_t **covered, gd_err *err)
{
    return list_records(r, true, out, covered, err);
}

int gd_repo_list_segment_ranges(gd_repo *r, json_t **out, json_t **covered, gd_err *err)
{
    return list_records(r, false, out, covered, err);
}

/* Whether a merged record may stand for what it covers (gd_repo_prune_covered). */
static bool cover_sound(gd_repo *r, gd_repo *auth, json_t *cover)
{
    const char *rname = gd_json_str(cover, "record", "");
    json_t *rec = NULL;
    gd_err e;
    gd_err_clear(&e);
    bool ok = gd_repo_get_record(auth, rname, "geodr-segment", &rec, &e) == 0 &&
              check_segment_record(auth, rname, rec, &e) == 0;
    if (ok) {
        char *obj = gd_asprintf("%s/binlog/%s", r->instance, gd_json_str(rec, "object", ""));
        gd_stat st;
        ok = gd_storage_stat(r->st, obj, &st, &e) == 0 &&
             (long long)st.size == gd_json_int(rec, "size", -1);
        free(obj);
    }
    if (!ok)
        gd_warn("merged segment record %s in region %s is not used to remove what it covers: %s",
                rname, r->st->name, e.msg[0] ? e.msg : "its object's size differs");
    json_decref(rec);
    return ok;
}

int gd_repo_prune_covered(gd_repo *r, gd_repo *auth, int64_t grace_s, unsigned long long *removed,
                          gd_err *err)
{
    if (auth == NULL)
        auth = r;
    json_t *live = NULL, *cov = NULL, *leases = NULL;
    gd_lock *lk = NULL;
    int rc = gd_repo_list_segment_ranges(r, &live, &cov, err);
    /* A remover like expire: under the expire lock, and not while a restore
     * holds a read lease (it may have planned with the covered records).
     * A busy lock or a lease only postpones the pruning to the next pass. */
    if (rc == 0 && json_array_size(cov) > 0) {
        gd_err e;
        gd_err_clear(&e);
        rc = gd_lock_take(r->st, r->instance, "expire", "compaction pruning", 0, &lk, &e);
        if (rc == 0)
            rc = gd_lock_read_leases(r->st, r->instance, &leases, &e);
        if (rc == GD_E_BUSY || (rc == 0 && json_array_size(leases) > 0)) {
            rc = 0;
            json_array_clear(cov);
        } else if (rc != 0 && err) {
            *err = e;
        }
    }
    int64_t now = gd_now_us();
    size_t i;
    json_t *c;
    json_array_foreach(cov, i, c)
    {
        if (rc != 0)
            break;
        json_t *cover = NULL, *x;
        size_t k;
        json_array_foreach(live, k, x)
        {
            if (cover == NULL && gd_segment_covers(x, c))
                cover = x;
        }
        int64_t mt = cover ? gd_json_int(cover, "mtime_us", 0) : 0;
        if (mt <= 0 || now - mt < grace_s * 1000000)
            continue; /* a restore that listed before the merge may still read it */
        if (json_is_false(json_object_get(cover, "sound")))
            continue;
        if (json_object_get(cover, "sound") == NULL) { /* checked once per cover */
            bool ok = cover_sound(r, auth, cover);
            json_object_set_new(cover, "sound", json_boolean(ok));
            if (!ok)
                continue;
        }
        if ((rc = gd_lock_check(lk, err)) != 0)
            break;
        json_t *rec = NULL;
        const char *rname = gd_json_str(c, "record", "");
        gd_err e;
        gd_err_clear(&e);
        if ((rc = gd_repo_get_record(r, rname, "geodr-segment", &rec, &e)) == GD_E_NOTFOUND) {
            rc = 0; /* removed meanwhile by another pass */
            continue;
        }
        if (rc != 0) {
            if (err)
                *err = e;
            break;
        }
        /* the object first: a record left alone is still covered, and the
         * next pass removes it */
        char *obj = gd_asprintf("%s/binlog/%s", r->instance, gd_json_str(rec, "object", ""));
        rc = gd_storage_remove(r->st, obj, err);
        free(obj);
        json_decref(rec);
        if (rc == 0)
            rc = gd_storage_remove(r->st, rname, err);
        if (rc == 0 && removed)
            (*removed)++;
    }
    gd_lock_release(lk);
    json_decref(leases);
    json_decref(live);
    json_decref(cov);
    return rc;
}
