/* Binlog segment records (repo/segment.h): their names, decoding and
 * encoding them, listing them in chain order, and removing the segments a
 * merged record covers. */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "repo/repo_intern.h"
#include "repo/segment.h"

char *gd_repo_segment_name(const gd_repo *r, unsigned long long seq, const char *ext)
{
    return gd_asprintf("%s/binlog/%012llu%s", r->instance, seq, ext);
}

/* ---- the record as a value ---- */

void gd_segment_free(gd_segment *s)
{
    if (s == NULL)
        return;
    free(s->record);
    free(s->object);
    free(s->gtids);
    free(s->commit_times);
    memset(s, 0, sizeof *s);
}

void gd_segments_free(gd_segments *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        gd_segment_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void gd_segment_copy(gd_segment *dst, const gd_segment *s)
{
    *dst = *s;
    dst->record = s->record ? gd_strdup(s->record) : NULL;
    dst->object = s->object ? gd_strdup(s->object) : NULL;
    dst->commit_times = s->commit_times ? gd_strdup(s->commit_times) : NULL;
    size_t ng = (size_t)s->nprev + s->npos;
    dst->gtids = NULL;
    if (ng > 0) {
        dst->gtids = gd_malloc(ng * sizeof *dst->gtids);
        memcpy(dst->gtids, s->gtids, ng * sizeof *dst->gtids);
    }
}

void gd_segment_set_pos(gd_segment *s, const gd_gtid_pos *prev, const gd_gtid_pos *pos)
{
    free(s->gtids);
    s->gtids = gd_malloc((prev->n + pos->n + 1) * sizeof *s->gtids);
    memcpy(s->gtids, prev->g, prev->n * sizeof *prev->g);
    memcpy(s->gtids + prev->n, pos->g, pos->n * sizeof *pos->g);
    s->nprev = (uint32_t)prev->n;
    s->npos = (uint32_t)pos->n;
}

static void pos_of(const gd_gtid *g, uint32_t n, gd_gtid_pos *out)
{
    out->n = n;
    if (n > 0)
        memcpy(out->g, g, n * sizeof *g);
}

void gd_segment_prev_pos(const gd_segment *s, gd_gtid_pos *out)
{
    pos_of(s->gtids, s->nprev, out);
}

void gd_segment_pos(const gd_segment *s, gd_gtid_pos *out)
{
    pos_of(s->gtids ? s->gtids + s->nprev : NULL, s->npos, out);
}

void gd_segment_pos_text(const gd_segment *s, char *out, size_t size)
{
    gd_gtid_pos p;
    gd_segment_pos(s, &p);
    gd_gtid_pos_format(&p, out, size);
}

bool gd_segment_chained(const gd_segment *s, const gd_segment *next)
{
    /* positions are kept sorted by domain: equal positions are equal arrays */
    return s->npos == next->nprev && (s->npos == 0 || memcmp(s->gtids + s->nprev, next->gtids,
                                                             s->npos * sizeof *s->gtids) == 0);
}

bool gd_segment_follows(const gd_segment *s, const gd_segment *next)
{
    return next->first_seq == s->seq + 1 && gd_segment_chained(s, next);
}

bool gd_segment_covers(const gd_segment *outer, const gd_segment *inner)
{
    return outer->first_seq <= inner->first_seq && outer->seq >= inner->seq;
}

/* ---- decoding and encoding ---- */

/* The counter range a record's name gives: "<seq>.segment" or
 * "<first>-<last>.segment" (compaction's merged records). */
static bool record_range(const char *name, unsigned long long *first, unsigned long long *last)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (*base < '0' || *base > '9')
        return false;
    char *end = NULL;
    unsigned long long a = strtoull(base, &end, 10), b = a;
    if (*end == '-') {
        const char *p = end + 1;
        if (*p < '0' || *p > '9')
            return false;
        b = strtoull(p, &end, 10);
        if (b < a)
            return false;
    }
    if (strcmp(end, ".segment") != 0 || a > (unsigned long long)INT64_MAX ||
        b > (unsigned long long)INT64_MAX)
        return false;
    *first = a;
    *last = b;
    return true;
}

/* A record's object: its name with ".binlog<suffix>" for ".segment" (the
 * only object a record may name). */
static char *object_of(const gd_repo *r, const char *record)
{
    size_t stem = strlen(record) - strlen(".segment");
    return gd_asprintf("%.*s.binlog%s", (int)stem, record, gd_repo_suffix(r));
}

/* A JSON integer >= 0 at key (absent: 0, unless required). */
static bool get_count(json_t *j, const char *key, bool required, uint64_t *out)
{
    json_t *v = json_object_get(j, key);
    *out = 0;
    if (v == NULL)
        return !required;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A GTID position at key, appended to s->gtids. */
static bool get_pos(json_t *j, const char *key, gd_segment *s, uint32_t *n)
{
    json_t *v = json_object_get(j, key);
    gd_gtid_pos p;
    if (!json_is_string(v) || gd_gtid_pos_parse(json_string_value(v), &p, NULL) != 0)
        return false;
    size_t have = (size_t)s->nprev + s->npos;
    s->gtids = gd_realloc(s->gtids, (have + p.n + 1) * sizeof *s->gtids);
    memcpy(s->gtids + have, p.g, p.n * sizeof *p.g);
    *n = (uint32_t)p.n;
    return true;
}

/* One GTID at key ("" or absent: none). */
static bool get_gtid(json_t *j, const char *key, gd_gtid *out)
{
    json_t *v = json_object_get(j, key);
    gd_gtid_pos p;
    memset(out, 0, sizeof *out);
    if (v == NULL)
        return true;
    if (!json_is_string(v) || gd_gtid_pos_parse(json_string_value(v), &p, NULL) != 0 || p.n > 1)
        return false;
    if (p.n == 1)
        *out = p.g[0];
    return true;
}

static bool is_hex64(const char *h)
{
    if (h == NULL || strlen(h) != 64)
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static const char *const how_names[] = {NULL, "events", "received", "mixed"};

/* The GD_CT_* bits of "commit_time"; false when it names none. */
static bool get_how(json_t *j, unsigned *how)
{
    json_t *v = json_object_get(j, "commit_time");
    *how = 0;
    if (v == NULL)
        return true;
    for (unsigned i = 1; i < 4; i++)
        if (json_is_string(v) && strcmp(json_string_value(v), how_names[i]) == 0)
            *how = i;
    return *how != 0;
}

/* Decodes record name's JSON into s.  A record must say what its name
 * says: its counters, and an object named after it in this repository's
 * form.  Anything else was altered, and nothing it says is used (expire
 * removes by its object). */
static int decode(const gd_repo *r, const char *name, json_t *j, gd_segment *s, gd_err *err)
{
    memset(s, 0, sizeof *s);
    unsigned long long first = 0, last = 0;
    uint64_t seq = 0, fs = 0, t1 = 0, t2 = 0, created = 0;
    char *object = record_range(name, &first, &last) ? object_of(r, name) : NULL;
    const char *base = object ? strrchr(object, '/') + 1 : "";
    json_t *cts = json_object_get(j, "commit_times");
    const char *sha = gd_json_str(j, "sha256", "");
    bool ok =
        object != NULL && get_count(j, "seq", true, &seq) && seq == last &&
        get_count(j, "first_seq", first != last, &fs) &&
        (json_object_get(j, "first_seq") == NULL || fs == first) &&
        strcmp(gd_json_str(j, "object", ""), base) == 0 && get_count(j, "size", true, &s->size) &&
        get_count(j, "raw_size", true, &s->raw_size) &&
        get_count(j, "transactions", true, &s->transactions) &&
        get_count(j, "events", false, &s->events) && get_count(j, "first_time_s", false, &t1) &&
        get_count(j, "last_time_s", false, &t2) && get_count(j, "created_s", false, &created) &&
        t1 <= INT64_MAX && t2 <= INT64_MAX && created <= INT64_MAX && is_hex64(sha) &&
        get_pos(j, "prev_gtid_pos", s, &s->nprev) && get_pos(j, "gtid_pos", s, &s->npos) &&
        get_gtid(j, "first_gtid", &s->first_gtid) && get_gtid(j, "last_gtid", &s->last_gtid) &&
        get_how(j, &s->ct_how) && (cts == NULL || json_is_string(cts));
    if (!ok) {
        free(object);
        gd_segment_free(s);
        return gd_err_set(err, GD_E_CORRUPT,
                          "segment record %s in region %s does not match its name or is "
                          "malformed (counters, object, sizes or positions were altered): it "
                          "is not used; run 'geodr verify' and restore the record from another "
                          "region",
                          name, r->st->name);
    }
    s->first_seq = first;
    s->seq = last;
    s->record = gd_strdup(name);
    s->object = object;
    s->first_time_s = (int64_t)t1;
    s->last_time_s = (int64_t)t2;
    s->created_s = (int64_t)created;
    memcpy(s->sha256, sha, 65);
    s->commit_times = gd_strdup(cts ? json_string_value(cts) : "");
    return 0;
}

int gd_segment_read(gd_repo *r, const char *record, gd_segment *out, gd_err *err)
{
    json_t *j = NULL;
    int rc = gd_repo_get_record(r, record, "geodr-segment", &j, err);
    if (rc == 0)
        rc = decode(r, record, j, out, err);
    json_decref(j);
    return rc;
}

static void put_pos(json_t *j, const char *key, const gd_gtid *g, uint32_t n)
{
    gd_gtid_pos p;
    char text[GD_GTID_POS_MAX * 64];
    pos_of(g, n, &p);
    gd_gtid_pos_format(&p, text, sizeof text);
    json_object_set_new(j, key, json_string(text));
}

static void put_gtid(json_t *j, const char *key, const gd_gtid *g)
{
    char text[64];
    gd_gtid_format(g, text, sizeof text);
    json_object_set_new(j, key, json_string(text));
}

static void put_time(json_t *j, const char *key, const char *key_s, int64_t t)
{
    char text[32];
    gd_fmt_time(t * 1000000, false, text, sizeof text);
    json_object_set_new(j, key, json_string(text));
    json_object_set_new(j, key_s, json_integer(t));
}

int gd_segment_write(gd_repo *r, const gd_segment *s, gd_err *err)
{
    const char *base = strrchr(s->object, '/');
    json_t *j = json_pack(
        "{s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:s}", "format", "geodr-segment", "version",
        GD_REPO_FORMAT_VERSION, "seq", (json_int_t)s->seq, "object", base ? base + 1 : s->object,
        "transactions", (json_int_t)s->transactions, "events", (json_int_t)s->events, "raw_size",
        (json_int_t)s->raw_size, "size", (json_int_t)s->size, "sha256", s->sha256);
    if (s->first_seq != s->seq || s->created_s > 0) { /* a merged record */
        json_object_set_new(j, "first_seq", json_integer((json_int_t)s->first_seq));
        json_object_set_new(j, "created_s", json_integer(s->created_s));
    }
    put_gtid(j, "first_gtid", &s->first_gtid);
    put_gtid(j, "last_gtid", &s->last_gtid);
    put_pos(j, "prev_gtid_pos", s->gtids, s->nprev);
    put_pos(j, "gtid_pos", s->gtids ? s->gtids + s->nprev : NULL, s->npos);
    put_time(j, "first_time", "first_time_s", s->first_time_s);
    put_time(j, "last_time", "last_time_s", s->last_time_s);
    if (s->ct_how > 0 && s->ct_how < 4) {
        json_object_set_new(j, "commit_times", json_string(s->commit_times ? s->commit_times : ""));
        json_object_set_new(j, "commit_time", json_string(how_names[s->ct_how]));
    }
    int rc = gd_repo_put_record(r, s->record, j, err);
    json_decref(j);
    return rc;
}

/* ---- listing ---- */

/* Keeps the ".segment" records of a listing of binlog/ (in place). */
static size_t only_records(gd_listed *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        if (len >= 8 && strcmp(v[i].name + len - 8, ".segment") == 0)
            v[k++] = v[i];
        else
            free(v[i].name);
    }
    return k;
}

static int cmp_records(const void *a, const void *b)
{
    const gd_segment *x = a, *y = b;
    if (x->first_seq != y->first_seq)
        return x->first_seq < y->first_seq ? -1 : 1;
    return x->seq > y->seq ? -1 : x->seq < y->seq; /* the widest first */
}

typedef struct rec_reader {
    gd_repo *r;
    const gd_listed *listed;
    gd_segment *recs;
    bool *have;
} rec_reader;

static int read_record(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    rec_reader *rr = wv;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_segment_read(rr->r, rr->listed[i].name, &rr->recs[i], &e);
    if (rc == GD_E_NOTFOUND)
        return 0; /* removed since the listing (compaction): not part of it */
    if (rc != 0) {
        if (err)
            *err = e;
        return rc;
    }
    rr->recs[i].mtime_us = rr->listed[i].st.mtime_us;
    rr->have[i] = true;
    return 0;
}

/* Reads the listed records (several in flight); those that vanished since
 * the listing are left out.  Returns how many are in recs. */
static int read_records(gd_repo *r, const gd_listed *l, size_t nl, gd_segment *recs, size_t *n,
                        gd_err *err)
{
    bool *have = gd_calloc(nl + 1, sizeof *have);
    int nw = nl < GD_REPO_READERS ? (int)nl : GD_REPO_READERS;
    rec_reader *ws = gd_calloc((size_t)nw, sizeof *ws);
    for (int i = 0; i < nw; i++)
        ws[i] = (rec_reader){.r = r, .listed = l, .recs = recs, .have = have};
    int rc = gd_pool_run(ws, sizeof *ws, nw, nl, read_record, NULL, err);
    free(ws);
    *n = 0;
    for (size_t i = 0; i < nl; i++) {
        if (!have[i])
            continue;
        if (rc == 0)
            recs[(*n)++] = recs[i];
        else
            gd_segment_free(&recs[i]);
    }
    free(have);
    return rc;
}

/* What the listing alone says of each record. */
static void listed_records(gd_repo *r, const gd_listed *l, size_t nl, gd_segment *recs, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < nl; i++) {
        unsigned long long f, s;
        if (!record_range(l[i].name, &f, &s))
            continue;
        recs[(*n)++] = (gd_segment){.first_seq = f,
                                    .seq = s,
                                    .record = gd_strdup(l[i].name),
                                    .object = object_of(r, l[i].name),
                                    .mtime_us = l[i].st.mtime_us,
                                    .listed_only = true};
    }
}

/* Sorts recs into chain order; a record whose range lies inside an earlier
 * (wider) one was merged into it by compaction and goes to covered. */
static void split_covered(gd_segment *recs, size_t n, gd_segments *live, gd_segments *covered)
{
    if (n > 1)
        qsort(recs, n, sizeof *recs, cmp_records);
    gd_segments cov = {gd_calloc(n + 1, sizeof *recs), 0};
    size_t k = 0;
    unsigned long long reach = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && recs[i].seq <= reach) {
            cov.v[cov.n++] = recs[i];
        } else {
            recs[k++] = recs[i];
            reach = recs[i].seq;
        }
    }
    *live = (gd_segments){recs, k};
    if (covered)
        *covered = cov;
    else
        gd_segments_free(&cov);
}

static int list_records(gd_repo *r, bool contents, gd_segments *live, gd_segments *covered,
                        gd_err *err)
{
    *live = (gd_segments){0};
    if (covered)
        *covered = (gd_segments){0};
    char *prefix = gd_asprintf("%s/binlog/", r->instance);
    gd_listed *l = NULL;
    size_t nl = 0;
    int rc = gd_storage_list_all(r->st, prefix, &l, &nl, err);
    free(prefix);
    nl = only_records(l, nl);
    gd_segment *recs = gd_calloc(nl + 1, sizeof *recs);
    size_t n = 0;
    if (rc == 0 && contents && nl > 0)
        rc = read_records(r, l, nl, recs, &n, err);
    else if (rc == 0)
        listed_records(r, l, nl, recs, &n);
    gd_listed_free(l, nl);
    if (rc != 0) {
        free(recs);
        return rc;
    }
    split_covered(recs, n, live, covered);
    return 0;
}

int gd_repo_list_segments(gd_repo *r, gd_segments *live, gd_segments *covered, gd_err *err)
{
    return list_records(r, true, live, covered, err);
}

int gd_repo_list_segment_ranges(gd_repo *r, gd_segments *live, gd_segments *covered, gd_err *err)
{
    return list_records(r, false, live, covered, err);
}

/* ---- pruning what compaction merged ---- */

/* Whether a merged record may stand for what it covers (gd_repo_prune_covered). */
static bool cover_sound(gd_repo *r, gd_repo *auth, const gd_segment *cover)
{
    gd_segment rec = {0};
    gd_err e;
    gd_err_clear(&e);
    bool ok = gd_segment_read(auth, cover->record, &rec, &e) == 0;
    if (ok) {
        gd_stat st;
        char *obj = object_of(r, cover->record);
        ok = gd_storage_stat(r->st, obj, &st, &e) == 0 && st.size == rec.size;
        free(obj);
    }
    if (!ok)
        gd_warn("merged segment record %s in region %s is not used to remove what it covers: %s",
                cover->record, r->st->name, e.msg[0] ? e.msg : "its object's size differs");
    gd_segment_free(&rec);
    return ok;
}

/* Takes the expire lock for pruning, unless a restore holds a read lease
 * (it may have planned with the covered records) or the lock is busy:
 * those only postpone the pruning to the next pass (*lk stays NULL). */
static int prune_lock(gd_repo *r, gd_lock **lk, gd_err *err)
{
    gd_leases leases = {0};
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_lock_take(r->st, r->instance, "expire", "compaction pruning", 0, lk, &e);
    if (rc == 0)
        rc = gd_lock_read_leases(r->st, r->instance, &leases, &e);
    if (rc == GD_E_BUSY || (rc == 0 && leases.n > 0)) {
        gd_lock_release(*lk);
        *lk = NULL;
        rc = 0;
    } else if (rc != 0 && err) {
        *err = e;
    }
    gd_leases_free(&leases);
    return rc;
}

/* Removes one covered segment: its object first (a record left alone is
 * still covered, and the next pass removes it), then its record. */
static int prune_one(gd_repo *r, const gd_segment *c, unsigned long long *removed, gd_err *err)
{
    gd_segment rec = {0};
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_segment_read(r, c->record, &rec, &e);
    if (rc == GD_E_NOTFOUND)
        return 0; /* removed meanwhile by another pass */
    if (rc != 0) {
        if (err)
            *err = e;
        return rc;
    }
    rc = gd_storage_remove(r->st, rec.object, err);
    if (rc == 0)
        rc = gd_storage_remove(r->st, rec.record, err);
    if (rc == 0 && removed)
        (*removed)++;
    gd_segment_free(&rec);
    return rc;
}

int gd_repo_prune_covered(gd_repo *r, gd_repo *auth, int64_t grace_s, unsigned long long *removed,
                          gd_err *err)
{
    if (auth == NULL)
        auth = r;
    gd_segments live = {0}, cov = {0};
    gd_lock *lk = NULL;
    int rc = gd_repo_list_segment_ranges(r, &live, &cov, err);
    if (rc == 0 && cov.n > 0)
        rc = prune_lock(r, &lk, err);
    /* per live record: 0 unchecked, 1 sound, -1 not to be trusted */
    signed char *sound = gd_calloc(live.n + 1, 1);
    int64_t now = gd_now_us();
    for (size_t i = 0; rc == 0 && lk != NULL && i < cov.n; i++) {
        const gd_segment *c = &cov.v[i];
        size_t k = 0;
        while (k < live.n && !gd_segment_covers(&live.v[k], c))
            k++;
        if (k == live.n || live.v[k].mtime_us <= 0 || now - live.v[k].mtime_us < grace_s * 1000000)
            continue;      /* a restore that listed before the merge may still read it */
        if (sound[k] == 0) /* checked once per cover */
            sound[k] = cover_sound(r, auth, &live.v[k]) ? 1 : -1;
        if (sound[k] < 0)
            continue;
        if ((rc = gd_lock_check(lk, err)) == 0)
            rc = prune_one(r, c, removed, err);
    }
    free(sound);
    gd_lock_release(lk);
    gd_segments_free(&live);
    gd_segments_free(&cov);
    return rc;
}
