#include "common/json.h"
#include "region/copy.h"
#include "region/copy_intern.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/defaults.h"
#include "common/gtid.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/policy.h"

#define SMALL_MAX (64u * 1024 * 1024)
#define COPY_GRACE_S GD_DEFAULT_COMPACT_GRACE_S /* merged-away segments stay as long as at home */

/* The descriptor (cipher, key check, kdf salt) a copy region holds must be
 * the home region's: the same key then reads both, and objects can move as
 * stored bytes without it.  0 when the copy region's descriptor is the home
 * region's (same cipher, kdf and key check), 1 when it is the same key's at an older format (the
 * home region moved to format 2: the copy region gets the home region's
 * descriptor as stored; its reader authenticates it), else an error. */
static int same_descriptor(gd_repo *home, const char *region, const char *mine, const char *theirs,
                           gd_err *err)
{
    gd_descriptor_match m = gd_repo_descriptor_compare(mine, theirs);
    if (m != GD_DESC_OTHER)
        return m == GD_DESC_SAME ? 0 : 1;
    return gd_err_set(err, GD_E_AUTH,
                      "region %s holds instance %s under another key or descriptor than the home "
                      "region %s (their instance.json differ): copies would not be readable with "
                      "one key; use another prefix or bucket for this copy region, or remove "
                      "that instance there",
                      region, home->instance, home->st->name);
}

/* Reads "since_us" of a small JSON file: 0 with *since filled, GD_E_NOTFOUND
 * when there is none, another error when it cannot be read or holds no
 * positive since_us (a guess would copy all history, or nothing). */
static int read_since(gd_storage *st, const char *name, int64_t *since, gd_err *err)
{
    char *text = NULL;
    int rc = gd_storage_get_all(st, name, SMALL_MAX, &text, NULL, err);
    if (rc == 0) {
        json_t *j = json_loads(text, 0, NULL);
        *since = gd_json_int(j, "since_us", 0);
        json_decref(j);
        if (*since <= 0)
            rc = gd_err_set(err, GD_E_CORRUPT,
                            "%s in region %s holds no since_us: remove it (the next copy writes "
                            "it again)",
                            name, st->name);
    }
    free(text);
    return rc;
}

static int write_since(gd_storage *st, const char *name, const char *format, const char *key,
                       const char *value, int64_t since, gd_err *err)
{
    char at[32];
    gd_fmt_time(since, false, at, sizeof at);
    json_t *j = json_pack("{s:s, s:i, s:s, s:I, s:s}", "format", format, "version", 1, "since", at,
                          "since_us", (json_int_t)since, key, value);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    int rc = gd_storage_put_all(st, name, text, strlen(text), err);
    free(text);
    json_decref(j);
    return rc;
}

int gd_copy_since_claim(gd_repo *home, const char *region, int64_t at_us, int64_t *since,
                        gd_err *err)
{
    char *name = gd_asprintf("%s/copy-since/%s.json", home->instance, region);
    int64_t have = 0;
    gd_err e;
    int rc = 0;
    /* two claims at once (a backup's end, an archiver's start): the later
     * writer checks what is there after its write and writes again while
     * its moment is earlier, so the earliest one stays */
    for (int tries = 0; tries < 3; tries++) {
        gd_err_clear(&e);
        rc = read_since(home->st, name, &have, &e);
        if (rc == GD_E_NOTFOUND || rc == GD_E_CORRUPT)
            have = 0; /* none, or one without a moment: this claim's is written */
        else if (rc != 0)
            break;
        if (have > 0 && have <= at_us)
            break;
        rc = write_since(home->st, name, "geodr-copy-since", "region", region, at_us, &e);
        if (rc != 0)
            break;
        have = at_us;
    }
    if (rc != 0 && err)
        *err = e;
    *since = have;
    free(name);
    return rc;
}

int gd_copy_region_open(gd_repo *home, gd_storage *dst, int64_t since_us, int64_t *since_out,
                        gd_repo **out, gd_err *err)
{
    char *dname = gd_asprintf("%s/instance.json", home->instance);
    char *cname = gd_asprintf("%s/copy.json", home->instance);
    char *mine = NULL, *theirs = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_storage_get_all(home->st, dname, SMALL_MAX, &mine, NULL, err);
    int g = rc == 0 ? gd_storage_get_all(dst, dname, SMALL_MAX, &theirs, NULL, &e) : 0;
    if (rc == 0 && g == GD_E_NOTFOUND)
        rc = gd_storage_put_all(dst, dname, mine, strlen(mine), err);
    else if (rc == 0 && g == 0) {
        rc = same_descriptor(home, dst->name, mine, theirs, err);
        if (rc == 1) /* the home region's moved to format 2 */
            rc = gd_storage_put_all(dst, dname, mine, strlen(mine), err);
    } else if (rc == 0) {
        rc = g;
        if (err)
            *err = e;
    }
    gd_err_clear(&e);
    int64_t since = since_us > 0 ? since_us : gd_now_us(), there = 0;
    g = rc == 0 ? read_since(dst, cname, &there, &e) : 0;
    if (rc == 0 && g == 0) {
        if (there < since)
            since = there;
    } else if (rc == 0 && g == GD_E_NOTFOUND) {
        rc = write_since(dst, cname, "geodr-copy", "from_region", home->st->name, since, err);
    } else if (rc == 0) {
        rc = g;
        if (err)
            *err = e;
    }
    free(mine);
    free(theirs);
    free(dname);
    free(cname);
    if (since_out)
        *since_out = since;
    if (rc != 0) {
        gd_storage_free(dst);
        return rc;
    }
    return gd_repo_open_raw(dst, home->instance, true, out, err);
}

/* ---- raw object transfer ---- */

/* A worker hands its object's commit (the last parts, then the multipart
 * completion: seconds on a WAN, idle for the link) to a thread, and starts
 * the next object meanwhile; at most one commit per worker is pending. */
typedef struct pending_commit {
    gd_writer *w;
    gd_xfer *c;
    int rc;
    gd_err err;
    pthread_t th;
} pending_commit;

typedef struct xfer_worker {
    gd_xfer *c;
    pending_commit *pending;
} xfer_worker;

static void *commit_main(void *arg)
{
    pending_commit *pc = arg;
    gd_err_clear(&pc->err);
    pc->rc = gd_writer_commit(pc->w, &pc->err);
    if (pc->rc == 0)
        atomic_fetch_add(&pc->c->copied, 1);
    return NULL;
}

/* Waits for the worker's pending commit; its error, if any, in err. */
static int commit_wait(xfer_worker *wk, gd_err *err)
{
    pending_commit *pc = wk->pending;
    if (pc == NULL)
        return 0;
    pthread_join(pc->th, NULL);
    int rc = pc->rc;
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = pc->err;
    free(pc);
    wk->pending = NULL;
    return rc;
}

/* Commits w in a thread of its own (after the previous one finished). */
static int commit_async(xfer_worker *wk, gd_writer *w, gd_err *err)
{
    int rc = commit_wait(wk, err);
    if (rc != 0) {
        gd_writer_abort(w);
        return rc;
    }
    pending_commit *pc = gd_calloc(1, sizeof *pc);
    pc->w = w;
    pc->c = wk->c;
    if (pthread_create(&pc->th, NULL, commit_main, pc) != 0) {
        free(pc);
        rc = gd_writer_commit(w, err); /* no thread: commit here */
        if (rc == 0)
            atomic_fetch_add(&wk->c->copied, 1);
        return rc;
    }
    wk->pending = pc;
    return 0;
}

static void throttle(gd_xfer *c)
{
    if (c->bandwidth == 0)
        return;
    for (;;) {
        double el = gd_mono() - c->t0;
        double allowed = el * (double)c->bandwidth;
        if ((double)atomic_load(&c->bytes) <= allowed)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

typedef struct copy_chunk_ctx {
    gd_pool *pool;
    gd_xfer *c;
} copy_chunk_ctx;

/* Before each piece: stop when another transfer failed, keep to the
 * bandwidth limit, count the bytes. */
static int copy_chunk(void *ctx, size_t n, gd_err *err)
{
    (void)err;
    copy_chunk_ctx *cc = ctx;
    if (gd_pool_cancelled(cc->pool))
        return GD_E_CANCEL;
    throttle(cc->c);
    atomic_fetch_add(&cc->c->bytes, (unsigned long long)n);
    return 0;
}

/* Copies one object's stored bytes, hashing them on the way: a mismatch with
 * the expected SHA-256 aborts the write, so nothing unverified lands. */
static int copy_object(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    xfer_worker *wk = wv;
    gd_xfer *c = wk->c;
    const char *name = c->names[i];
    gd_stat st;
    gd_err e;
    gd_err_clear(&e);
    bool have;
    if (c->present != NULL)
        have = gd_json_int(c->present, name, -1) == (long long)c->sizes[i];
    else
        have = gd_storage_stat(c->dst->st, name, &st, &e) == 0 && st.size == c->sizes[i];
    if (have) {
        atomic_fetch_add(&c->skipped, 1);
        return 0;
    }
    gd_writer *w = NULL;
    char hex[65];
    copy_chunk_ctx cc = {.pool = pool, .c = c};
    int rc = gd_storage_open_write(c->dst->st, name, &w, err);
    if (rc == 0)
        rc = gd_stream_stored(c->src->st, name, w, copy_chunk, &cc, hex, err);
    if (rc == 0 && strcmp(hex, c->shas[i]) != 0)
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "object %s in region %s is corrupt (SHA-256 %s, expected %s): it "
                        "was not copied to region %s; run 'geodr verify'",
                        name, c->src->st->name, hex, c->shas[i], c->dst->st->name);
    if (rc == 0) {
        rc = commit_async(wk, w, err);
        w = NULL;
    }
    gd_writer_abort(w);
    return rc;
}

static int copy_small(gd_repo *src, gd_repo *dst, const char *name, gd_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = gd_storage_get_all(src->st, name, SMALL_MAX, &text, &len, err);
    if (rc == 0)
        rc = gd_storage_put_all(dst->st, name, text, len, err);
    free(text);
    return rc;
}

int gd_copy_policy(gd_repo *home, gd_repo *dst, gd_err *err)
{
    char *name = gd_policy_name(home->instance), *mine = NULL, *theirs = NULL;
    size_t lm = 0, lt = 0;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_storage_get_all(home->st, name, SMALL_MAX, &mine, &lm, &e);
    if (rc == GD_E_NOTFOUND) {
        rc = 0; /* none: the config's policy */
    } else if (rc != 0) {
        if (err)
            *err = e;
    } else if (gd_storage_get_all(dst->st, name, SMALL_MAX, &theirs, &lt, NULL) != 0 || lt != lm ||
               memcmp(mine, theirs, lm) != 0) {
        rc = gd_storage_put_all(dst->st, name, mine, lm, err);
    }
    free(mine);
    free(theirs);
    free(name);
    return rc;
}

static int transfer(gd_xfer *c, int jobs, gd_err *err)
{
    if (c->n == 0)
        return 0;
    int nw = jobs > 0 ? jobs : 1;
    xfer_worker *ws = gd_calloc((size_t)nw, sizeof *ws);
    for (int i = 0; i < nw; i++)
        ws[i].c = c;
    int rc = gd_pool_run(ws, sizeof *ws, nw, c->n, copy_object, NULL, err);
    for (int i = 0; i < nw; i++) {
        gd_err e;
        gd_err_clear(&e);
        int r = commit_wait(&ws[i], &e);
        if (r != 0 && rc == 0) {
            rc = r;
            if (err)
                *err = e;
        }
    }
    free(ws);
    return rc;
}

static void xfer_add(gd_xfer *c, char *name, const char *sha, uint64_t size)
{
    c->names = gd_realloc(c->names, (c->n + 1) * sizeof *c->names);
    c->shas = gd_realloc(c->shas, (c->n + 1) * sizeof *c->shas);
    c->sizes = gd_realloc(c->sizes, (c->n + 1) * sizeof *c->sizes);
    c->names[c->n] = name;
    c->shas[c->n] = gd_strdup(sha);
    c->sizes[c->n] = size;
    c->n++;
}

static void xfer_reset(gd_xfer *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->names[i]);
        free(c->shas[i]);
    }
    free(c->names);
    free(c->shas);
    free(c->sizes);
    c->names = c->shas = NULL;
    c->sizes = NULL;
    c->n = 0;
}

static int present_cb(void *ctx, const char *name, const gd_stat *st)
{
    json_object_set_new(ctx, name, json_integer((json_int_t)st->size));
    return 0;
}

/* When copies to dst started (its copy.json; none: 0, everything).  A read
 * that fails otherwise fails the pass: guessing 0 would copy all history. */
static int copy_since_us(gd_repo *dst, long long *since, gd_err *err)
{
    char *name = gd_asprintf("%s/copy.json", dst->instance);
    int64_t v = 0;
    gd_err e;
    gd_err_clear(&e);
    int rc = read_since(dst->st, name, &v, &e);
    if (rc == GD_E_NOTFOUND)
        rc = 0;
    else if (rc != 0 && err)
        *err = e;
    *since = rc == 0 ? v : 0;
    free(name);
    return rc;
}

static int copy_sets(gd_repo *home, gd_repo *dst, long long since, const gd_copy_opts *o,
                     gd_xfer *c, gd_copy_stats *st, gd_err *err)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = gd_repo_list_sets(home, &ids, &n, err);
    /* What the copy region holds, sets and the objects an interrupted copy
     * left: one listing, not a request per object. */
    json_t *present = json_object();
    if (rc == 0) {
        char *prefix = gd_asprintf("%s/backup/", dst->instance);
        rc = gd_storage_list(dst->st, prefix, present_cb, present, err);
        free(prefix);
    }
    c->present = present;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *mname = gd_repo_object_name(home, ids[i], "manifest");
        bool have = json_object_get(present, mname) != NULL;
        gd_manifest *mf = NULL;
        if (!have && (rc = gd_manifest_read(home, ids[i], &mf, err)) == 0 && mf->start_us < since)
            have = true; /* taken before copies to this region were enabled */
        if (have || rc != 0) {
            gd_manifest_free(mf);
            free(mname);
            continue;
        }
        xfer_add(c, gd_manifest_object_name(home, ids[i], &mf->schema), mf->schema.sha256,
                 mf->schema.size);
        for (size_t t = 0; t < mf->ntables; t++) {
            for (size_t k = 0; k < mf->tables[t].nchunks; k++) {
                const gd_mf_object *ch = &mf->tables[t].chunks[k];
                xfer_add(c, gd_manifest_object_name(home, ids[i], ch), ch->sha256, ch->size);
            }
        }
        gd_manifest_free(mf);
        rc = transfer(c, o->jobs, err);
        xfer_reset(c);
        /* the manifest last: it commits the set in the copy region */
        if (rc == 0) {
            gd_test_pause("copy-commit");
            rc = copy_small(home, dst, mname, err);
        }
        free(mname);
        if (rc == 0)
            st->sets++;
    }
    c->present = NULL;
    json_decref(present);
    gd_strv_free(ids, n);
    return rc;
}

/* One segment: its object, then its record, which commits it there. */
int gd_copy_segment(gd_repo *home, gd_repo *dst, const gd_segment *rec, gd_xfer *c, gd_err *err)
{
    xfer_add(c, gd_strdup(rec->object), rec->sha256, rec->size);
    int rc = transfer(c, 1, err);
    xfer_reset(c);
    if (rc == 0)
        rc = copy_small(home, dst, rec->record, err);
    return rc;
}

/* Whether home's (authenticated) list of records holds this record name. */
static bool home_has(const gd_segments *src, const char *record)
{
    for (size_t i = 0; i < src->n; i++)
        if (strcmp(src->v[i].record, record) == 0)
            return true;
    return false;
}

/* Whether the copy region holds s: as is, or inside a wider record the copy
 * region has that home has too (a wider name planted in the copy region
 * alone must not stop the copies). */
static bool copy_holds(const gd_segments *have, const gd_segments *src, const gd_segment *s)
{
    for (size_t k = 0; k < have->n; k++) {
        const gd_segment *h = &have->v[k];
        if (gd_segment_covers(h, s) && (gd_segment_covers(s, h) || home_has(src, h->record)))
            return true;
    }
    return false;
}

static int copy_segments(gd_repo *home, gd_repo *dst, long long since, int max_old, gd_xfer *c,
                         gd_copy_stats *st, gd_err *err)
{
    gd_segments src = {0}, have = {0};
    int rc = gd_repo_list_segments(home, &src, NULL, err);
    /* What the copy region holds: its listing says enough (no record read) */
    if (rc == 0)
        rc = gd_repo_list_segment_ranges(dst, &have, NULL, err);
    if (rc != 0)
        goto out;
    /* Segments the copy region's sets need: none before its oldest set's
     * position (or, without sets there, before copies were enabled). */
    char **ids = NULL;
    size_t nids = 0;
    gd_gtid_pos oldest;
    bool have_oldest = false;
    if (gd_repo_list_sets(dst, &ids, &nids, NULL) == 0 && nids > 0) {
        gd_manifest *mf = NULL;
        if (gd_manifest_read(dst, ids[0], &mf, NULL) == 0) {
            have_oldest = mf->has_pos;
            if (mf->has_pos)
                oldest = mf->pos;
            gd_manifest_free(mf);
        }
    }
    gd_strv_free(ids, nids);
    long long since_s = since / 1000000, newest_held = 0;
    for (size_t k = 0; k < have.n; k++)
        if ((long long)have.v[k].seq > newest_held)
            newest_held = (long long)have.v[k].seq;
    /* What is newer than all the copy region holds goes first (the copy
     * region's recovery point), then what lies below it: the home's merges
     * of what it holds already, and holes; at most max_old of those (> 0)
     * in one pass, so that a big merge does not hold new segments back. */
    int old_copied = 0;
    for (int newer = 1; rc == 0 && newer >= 0; newer--) {
        for (size_t i = 0; i < src.n; i++) {
            const gd_segment *s = &src.v[i];
            if ((long long)s->seq > st->last_seq)
                st->last_seq = (long long)s->seq;
            if (((long long)s->seq > newest_held) != (newer == 1) || copy_holds(&have, &src, s))
                continue;
            gd_gtid_pos gp;
            gd_segment_pos(s, &gp);
            if (have_oldest ? gd_gtid_pos_le(&gp, &oldest) : s->last_time_s < since_s)
                continue;
            if (!newer && max_old > 0 && old_copied >= max_old) {
                st->more = true;
                break;
            }
            if ((rc = gd_copy_segment(home, dst, s, c, err)) != 0)
                break;
            st->segments++;
            old_copied += !newer;
        }
    }
    /* The home region's merges arrive as merged segments (copied above like
     * any other): what they cover goes once they are an hour old, as at
     * home, so the copy region's archive stays as compact as the home's. */
    if (rc == 0)
        rc = gd_repo_prune_covered(dst, home, COPY_GRACE_S, NULL, err);
out:
    gd_segments_free(&src);
    gd_segments_free(&have);
    return rc;
}

int gd_copy_run(gd_repo *home, gd_repo *dst, const gd_copy_opts *o, gd_copy_stats *st, gd_err *err)
{
    memset(st, 0, sizeof *st);
    gd_xfer c = {.src = home, .dst = dst, .bandwidth = o->bandwidth, .t0 = gd_mono()};
    int rc = 0;
    long long since = o->since_us; /* read once per pass */
    if (since <= 0)
        rc = copy_since_us(dst, &since, err);
    /* Sets are copied by one copier at a time into a region, and read from
     * home under a read lease so that home's expire does not remove a set
     * half copied (repo/lock.h).  Segments need neither: a segment is
     * copied whole or not at all, by the same bytes whoever copies it. */
    gd_lock *lk = NULL, *lease = NULL;
    if (rc == 0 && o->sets &&
        (rc = gd_lock_take(dst->st, dst->instance, "copy", "copy", 0, &lk, err)) == 0 &&
        (rc = gd_lock_take_read(home->st, home->instance, "copy", NULL, 600, &lease, err)) == 0)
        rc = copy_sets(home, dst, since, o, &c, st, err);
    gd_lock_release(lease);
    gd_lock_release(lk);
    if (rc == 0 && o->segments)
        rc = copy_segments(home, dst, since, o->max_old, &c, st, err);
    /* The instance's policy record goes with its copies, verbatim: a copy
     * region knows its retention when the home region or the config is gone
     * (repo/policy.h). */
    if (rc == 0 && o->sets)
        rc = gd_copy_policy(home, dst, err);
    xfer_reset(&c);
    st->objects = atomic_load(&c.copied);
    st->skipped = atomic_load(&c.skipped);
    st->bytes = atomic_load(&c.bytes);
    if (rc != 0)
        gd_err_prefix(err, "copy of instance %s from region %s to region %s", home->instance,
                      home->st->name, dst->st->name);
    return rc;
}
