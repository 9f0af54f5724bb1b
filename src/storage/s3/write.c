/* Writing an object of the S3 driver (design: docs/s3.md, "Writes").
 *
 * A writer buffers up to one 8 MiB part: a smaller object is committed
 * with a single PUT, a larger one becomes a multipart upload whose parts
 * are sent by up to S3_PART_INFLIGHT threads while the next part fills, and
 * is completed on commit (aborted on abort or failure).  Nothing is visible
 * under the name before commit.  After a commit, multipart uploads left
 * over by earlier failures are cleaned up (below, "stale multipart
 * uploads"). */
#include "storage/s3/s3.intern.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "storage/s3/sigv4.h"

#define S3_PART_SIZE ((size_t)8 << 20)
#define S3_MAX_PARTS 10000
#define S3_PART_INFLIGHT 4 /* parts uploading at once per writer, besides the one filling */
#define S3_PARTS_MAX 8     /* part uploads at once per storage, over all its writers */

/* ---- part permits ---- */

/* A part upload may start: waits for one of the storage's permits.  The
 * oldest writer (the first opened) goes first, so bandwidth goes to finishing
 * objects one after the other instead of sharing it evenly until they all
 * end together: each object's completion (a round trip, and the server
 * assembling the parts) then overlaps the uploads of the next, as a queue of
 * parts does in other S3 clients, and only the last object's is left at the
 * end. */
static void part_permit_take(s3_storage *s, uint64_t writer)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_waiting == s->cap_waiting) {
        s->cap_waiting = s->cap_waiting ? 2 * s->cap_waiting : 16;
        s->waiting = gd_realloc(s->waiting, s->cap_waiting * sizeof *s->waiting);
    }
    s->waiting[s->n_waiting++] = writer;
    for (;;) {
        uint64_t oldest = writer;
        for (size_t i = 0; i < s->n_waiting; i++)
            if (s->waiting[i] < oldest)
                oldest = s->waiting[i];
        if (s->parts_inflight < S3_PARTS_MAX && oldest == writer)
            break;
        pthread_cond_wait(&s->part_cv, &s->mu);
    }
    for (size_t i = 0; i < s->n_waiting; i++) {
        if (s->waiting[i] == writer) {
            s->waiting[i] = s->waiting[--s->n_waiting];
            break;
        }
    }
    s->parts_inflight++;
    pthread_cond_broadcast(&s->part_cv); /* the next oldest may go too */
    pthread_mutex_unlock(&s->mu);
}

static void part_permit_give(s3_storage *s)
{
    pthread_mutex_lock(&s->mu);
    s->parts_inflight--;
    pthread_cond_broadcast(&s->part_cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- stale multipart uploads ----
 *
 * A multipart upload cut off by an outage or a killed process stays in
 * the bucket, invisible but billed, until something aborts it.  The first
 * object this storage commits (the endpoint works again) sweeps them:
 * ListMultipartUploads under the region's prefix, and AbortMultipartUpload
 * for each one that geodr made (its key is an object name under the
 * prefix with geodr's layout, INSTANCE/backup/... or INSTANCE/binlog/...,
 * the only places geodr writes objects large enough to be uploaded in
 * parts) and that was initiated more than t.stale_upload_s ago (7 days by
 * default: no upload of geodr runs that long, so one in progress right
 * now, in this process or another, is never touched).  Best effort: a
 * failure or an endpoint without the call (s3rver) is logged with
 * --verbose and changes nothing else. */

#define S3_SWEEP_MAX_PAGES 100

/* AbortMultipartUpload of upload id_q (URI-encoded) of key; a missing
 * upload is success.  once: a single try (best effort), else retried as
 * any request, and tried once even when the storage is cancelled. */
static int upload_abort(gd_storage *st, s3_storage *s, const char *key, const char *id_q, bool once,
                        gd_err *err)
{
    char *qs = gd_asprintf("uploadId=%s", id_q);
    s3_req q = {.method = "DELETE", .key = key, .query = qs};
    s3_resp r;
    gd_s3_resp_init(&r);
    s3_op op = {.what = "abort the multipart upload of",
                .name = key + strlen(s->prefix),
                .missing_ok = true,
                .cleanup = true,
                .once = once};
    int rc = gd_s3_call(st, s, &q, &r, &op, err);
    gd_s3_resp_free(&r);
    free(qs);
    return rc;
}

/* At most this many remembered (each is retried at every commit; the rest
 * are left to the sweep of stale uploads or a lifecycle rule). */
#define ORPHANS_MAX 64

static void orphan_add(s3_storage *s, const char *key, const char *id_q)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_orphans >= ORPHANS_MAX) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->orphans = gd_realloc(s->orphans, (s->n_orphans + 1) * sizeof *s->orphans);
    s->orphans[s->n_orphans].key = gd_strdup(key);
    s->orphans[s->n_orphans].id_q = gd_strdup(id_q);
    s->n_orphans++;
    pthread_mutex_unlock(&s->mu);
}

/* Our own uploads whose abort failed earlier: tried once more each (the
 * endpoint has just accepted an object); those failing again are kept. */
static void orphans_abort(gd_storage *st, s3_storage *s)
{
    pthread_mutex_lock(&s->mu);
    struct s3_orphan *v = s->orphans;
    size_t n = s->n_orphans;
    s->orphans = NULL;
    s->n_orphans = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        gd_err e;
        gd_err_clear(&e);
        if (upload_abort(st, s, v[i].key, v[i].id_q, true, &e) == 0)
            gd_info("region %s: aborted the multipart upload of %s left by an earlier failure",
                    st->name, v[i].key + strlen(s->prefix));
        else if (e.retryable) /* a refusal (no permission) will not change */
            orphan_add(s, v[i].key, v[i].id_q);
        free(v[i].key);
        free(v[i].id_q);
    }
    free(v);
}

static bool geodr_upload_key(const s3_storage *s, const char *key)
{
    size_t plen = strlen(s->prefix);
    if (strncmp(key, s->prefix, plen) != 0 || !gd_storage_name_ok(key + plen))
        return false;
    const char *slash = strchr(key + plen, '/');
    return slash != NULL &&
           (strncmp(slash, "/backup/", 8) == 0 || strncmp(slash, "/binlog/", 8) == 0);
}

/* Aborts the upload if it is geodr's and stale; *aborted counts it. */
static void sweep_one(gd_storage *st, s3_storage *s, const char *up, size_t un, int *aborted)
{
    gd_buf key, id;
    gd_buf_init(&key, 0);
    gd_buf_init(&id, 0);
    int64_t init_us = 0;
    if (!gd_s3_xml_upload(up, up + un, &key, &id, &init_us))
        goto out;
    int64_t age_s = (gd_now_us() - init_us) / 1000000;
    if (!geodr_upload_key(s, key.data) || age_s < s->t.stale_upload_s)
        goto out;
    gd_buf qs;
    gd_buf_init(&qs, 0);
    gd_sigv4_uri_encode(&qs, id.data, id.len, false);
    gd_err e;
    gd_err_clear(&e);
    if (upload_abort(st, s, key.data, qs.data, true, &e) == 0) {
        (*aborted)++;
        gd_info("region %s: aborted a multipart upload of %s left over for %" PRId64
                " s (an interrupted write)",
                st->name, key.data + strlen(s->prefix), age_s);
    } else {
        gd_debug("region %s: %s", st->name, e.msg);
    }
    gd_buf_free(&qs);
out:
    gd_buf_free(&key);
    gd_buf_free(&id);
}

static void sweep_uploads(gd_storage *st, s3_storage *s)
{
    gd_buf qs, km, im;
    gd_buf_init(&qs, 0);
    gd_buf_init(&km, 0);
    gd_buf_init(&im, 0);
    s3_resp r;
    gd_s3_resp_init(&r);
    int aborted = 0;
    for (int page = 0; page < S3_SWEEP_MAX_PAGES; page++) {
        /* Sorted and encoded, as the signer wants it. */
        gd_buf_reset(&qs);
        if (km.len > 0) {
            gd_buf_append(&qs, "key-marker=", 11);
            gd_sigv4_uri_encode(&qs, km.data, km.len, false);
            gd_buf_append(&qs, "&", 1);
        }
        gd_buf_append(&qs, "prefix=", 7);
        gd_sigv4_uri_encode(&qs, s->prefix, strlen(s->prefix), false);
        if (im.len > 0) {
            gd_buf_append(&qs, "&upload-id-marker=", 18);
            gd_sigv4_uri_encode(&qs, im.data, im.len, false);
        }
        gd_buf_append(&qs, "&uploads=", 9);
        s3_req q = {.method = "GET", .key = NULL, .query = qs.data};
        s3_op op = {.what = "list", .target = "multipart uploads", .once = true};
        gd_err e;
        gd_err_clear(&e);
        if (gd_s3_call(st, s, &q, &r, &op, &e) != 0) {
            gd_debug("region %s: stale multipart uploads not looked for: %s", st->name, e.msg);
            break;
        }
        if (r.body_truncated || r.body.data == NULL ||
            strstr(r.body.data, "<ListMultipartUploadsResult") == NULL) {
            gd_debug("region %s: stale multipart uploads not looked for: the S3 endpoint %s "
                     "does not list them",
                     st->name, s->endpoint);
            break;
        }
        const char *p = r.body.data, *end = r.body.data + r.body.len, *v;
        size_t vn;
        while ((p = gd_s3_xml_find(p, end, "Upload", &v, &vn)) != NULL)
            sweep_one(st, s, v, vn, &aborted);
        if (!gd_s3_xml_truncated(r.body.data, end))
            break;
        gd_buf before;
        gd_buf_init(&before, 0);
        gd_buf_appendf(&before, "%s/%s", km.data ? km.data : "", im.data ? im.data : "");
        gd_buf_reset(&km);
        gd_buf_reset(&im);
        (void)gd_s3_xml_value(r.body.data, end, "NextKeyMarker", &km);
        (void)gd_s3_xml_value(r.body.data, end, "NextUploadIdMarker", &im);
        gd_buf after;
        gd_buf_init(&after, 0);
        gd_buf_appendf(&after, "%s/%s", km.data ? km.data : "", im.data ? im.data : "");
        bool stuck = km.len == 0 || strcmp(before.data, after.data) == 0;
        gd_buf_free(&before);
        gd_buf_free(&after);
        if (stuck)
            break; /* markers that do not move the listing on */
    }
    if (aborted > 0)
        gd_debug("region %s: %d stale multipart upload(s) aborted", st->name, aborted);
    gd_s3_resp_free(&r);
    gd_buf_free(&qs);
    gd_buf_free(&km);
    gd_buf_free(&im);
}

/* ---- writer ---- */

typedef struct s3_writer s3_writer;

typedef struct s3_part {
    s3_writer *w;
    int num;
    char *data;
    size_t len;
    bool used, finished;
    pthread_t th;
} s3_part;

struct s3_writer {
    gd_writer gw;
    gd_storage *st;
    s3_storage *s;
    char *name, *key;
    char *buf;
    size_t len, cap;
    uint64_t total;
    char *upload_id;   /* multipart upload in progress */
    char *upload_id_q; /* URI-encoded */
    int next_part;
    char **etags; /* etags[i] for part i+1 */
    size_t n_etags;
    s3_part slots[S3_PART_INFLIGHT];
    uint64_t seq; /* opening order among the storage's writers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed; /* first error of a part (or a write) */
    gd_err err;
};

static const gd_writer_ops s3_writer_ops;

static void *part_main(void *arg)
{
    s3_part *pt = arg;
    s3_writer *w = pt->w;
    char *qs = gd_asprintf("partNumber=%d&uploadId=%s", pt->num, w->upload_id_q);
    char hash[65];
    gd_sigv4_sha256_hex(pt->data, pt->len, hash);
    s3_req q = {.method = "PUT",
                .key = w->key,
                .query = qs,
                .body = pt->data,
                .body_len = pt->len,
                .payload_hash = hash};
    s3_resp r;
    gd_s3_resp_init(&r);
    char what[64];
    snprintf(what, sizeof what, "upload part %d of", pt->num);
    s3_op op = {.what = what, .name = w->name};
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_s3_call(w->st, w->s, &q, &r, &op, &e);
    part_permit_give(w->s);
    if (rc == 0 && r.etag[0] == '\0')
        rc = gd_err_set(&e, GD_E_IO,
                        "cannot write object %s in region %s: the S3 endpoint %s sent no ETag "
                        "for part %d",
                        w->name, w->st->name, w->s->endpoint, pt->num);
    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
        w->etags[pt->num - 1] = gd_strdup(r.etag);
    } else if (w->failed == 0) {
        w->failed = rc;
        w->err = e;
    }
    free(pt->data);
    pt->data = NULL;
    pt->finished = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    gd_s3_resp_free(&r);
    free(qs);
    return NULL;
}

/* Joins finished part threads; with all_of_them, waits for every one. */
static void parts_reap(s3_writer *w, bool all_of_them)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        bool any_running = false;
        for (int i = 0; i < S3_PART_INFLIGHT; i++) {
            s3_part *pt = &w->slots[i];
            if (!pt->used)
                continue;
            if (pt->finished) {
                pthread_mutex_unlock(&w->mu);
                pthread_join(pt->th, NULL);
                pthread_mutex_lock(&w->mu);
                pt->used = false;
            } else {
                any_running = true;
            }
        }
        if (!all_of_them || !any_running)
            break;
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Records the writer's first failure (rc, e) and copies it to err. */
static int writer_fail(s3_writer *w, int rc, const gd_err *e, gd_err *err)
{
    pthread_mutex_lock(&w->mu);
    if (w->failed == 0) {
        w->failed = rc;
        w->err = *e;
    }
    pthread_mutex_unlock(&w->mu);
    if (err != NULL && err->code == GD_OK)
        *err = *e;
    return rc;
}

static int writer_failed(s3_writer *w, gd_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->failed;
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = w->err;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int mp_create(s3_writer *w, gd_err *err)
{
    s3_req q = {.method = "POST", .key = w->key, .query = "uploads"};
    s3_resp r;
    gd_s3_resp_init(&r);
    s3_op op = {.what = "start a multipart upload of", .name = w->name};
    int rc = gd_s3_call(w->st, w->s, &q, &r, &op, err);
    if (rc == 0) {
        gd_buf id;
        gd_buf_init(&id, 0);
        if (r.body.data == NULL ||
            !gd_s3_xml_value(r.body.data, r.body.data + r.body.len, "UploadId", &id)) {
            gd_buf_free(&id);
            rc = gd_err_set(err, GD_E_IO,
                            "cannot write object %s in region %s: the S3 endpoint %s sent no "
                            "UploadId for a multipart upload",
                            w->name, w->st->name, w->s->endpoint);
        } else {
            w->upload_id = id.data;
            gd_buf q2;
            gd_buf_init(&q2, 0);
            gd_sigv4_uri_encode(&q2, id.data, id.len, false);
            w->upload_id_q = q2.data;
        }
    }
    gd_s3_resp_free(&r);
    return rc;
}

/* Hands the filled buffer to a part thread (waiting for a free slot). */
static int part_submit(s3_writer *w, gd_err *err)
{
    gd_err e;
    gd_err_clear(&e);
    if (w->upload_id == NULL) {
        int rc = mp_create(w, &e);
        if (rc != 0)
            return writer_fail(w, rc, &e, err);
    }
    if (w->next_part >= S3_MAX_PARTS) {
        int rc = gd_err_set(&e, GD_E_IO,
                            "cannot write object %s in region %s: larger than %d parts of %zu "
                            "MiB, the most an S3 multipart upload takes here",
                            w->name, w->st->name, S3_MAX_PARTS, S3_PART_SIZE >> 20);
        return writer_fail(w, rc, &e, err);
    }
    s3_part *slot = NULL;
    for (;;) {
        parts_reap(w, false);
        int rc = writer_failed(w, err);
        if (rc != 0)
            return rc;
        for (int i = 0; i < S3_PART_INFLIGHT && slot == NULL; i++)
            if (!w->slots[i].used)
                slot = &w->slots[i];
        if (slot != NULL)
            break;
        pthread_mutex_lock(&w->mu);
        bool any_finished = false;
        for (int i = 0; i < S3_PART_INFLIGHT; i++)
            any_finished |= w->slots[i].finished;
        if (!any_finished)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
    w->next_part++;
    if ((size_t)w->next_part > w->n_etags) {
        /* Part threads store into etags under the lock: grow it there. */
        pthread_mutex_lock(&w->mu);
        size_t nn = w->n_etags ? w->n_etags * 2 : 64;
        w->etags = gd_realloc(w->etags, nn * sizeof *w->etags);
        memset(w->etags + w->n_etags, 0, (nn - w->n_etags) * sizeof *w->etags);
        w->n_etags = nn;
        pthread_mutex_unlock(&w->mu);
    }
    slot->w = w;
    slot->num = w->next_part;
    slot->data = w->buf;
    slot->len = w->len;
    slot->used = true;
    slot->finished = false;
    w->buf = NULL;
    w->len = w->cap = 0;
    part_permit_take(w->s, w->seq);
    int te = pthread_create(&slot->th, NULL, part_main, slot);
    if (te != 0) {
        part_permit_give(w->s);
        slot->used = false;
        free(slot->data);
        slot->data = NULL;
        int rc = gd_err_sys(&e, te, "cannot start a thread to upload object %s in region %s",
                            w->name, w->st->name);
        return writer_fail(w, rc, &e, err);
    }
    return 0;
}

static int s3_write(gd_writer *gw, const void *buf, size_t n, gd_err *err)
{
    s3_writer *w = gw->self;
    int rc = writer_failed(w, err);
    if (rc != 0)
        return rc;
    const char *p = buf;
    while (n > 0) {
        if (w->len == S3_PART_SIZE) {
            rc = part_submit(w, err);
            if (rc != 0)
                return rc;
        }
        size_t c = S3_PART_SIZE - w->len;
        if (c > n)
            c = n;
        if (w->len + c > w->cap) {
            /* Grow geometrically up to one part: small objects stay small. */
            size_t cap = w->cap ? w->cap : 64 * 1024;
            while (cap < w->len + c)
                cap *= 2;
            if (cap > S3_PART_SIZE)
                cap = S3_PART_SIZE;
            w->buf = gd_realloc(w->buf, cap);
            w->cap = cap;
        }
        memcpy(w->buf + w->len, p, c);
        w->len += c;
        w->total += c;
        p += c;
        n -= c;
    }
    return 0;
}

static void writer_free(s3_writer *w)
{
    for (size_t i = 0; i < w->n_etags; i++)
        free(w->etags[i]);
    free(w->etags);
    free(w->buf);
    free(w->upload_id);
    free(w->upload_id_q);
    free(w->name);
    free(w->key);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void mp_abort(s3_writer *w)
{
    if (w->upload_id == NULL)
        return;
    gd_err e;
    gd_err_clear(&e);
    if (upload_abort(w->st, w->s, w->key, w->upload_id_q, false, &e) != 0) {
        gd_warn("%s; the incomplete upload stays in bucket %s until this process next writes "
                "an object there, or a later run finds it 7 days old, or a lifecycle rule "
                "(AbortIncompleteMultipartUpload) removes it",
                e.msg, w->s->bucket);
        orphan_add(w->s, w->key, w->upload_id_q);
    }
}

static void s3_abort(gd_writer *gw)
{
    s3_writer *w = gw->self;
    parts_reap(w, true);
    mp_abort(w);
    writer_free(w);
}

static int mp_complete(s3_writer *w, gd_err *err)
{
    gd_buf body;
    gd_buf_init(&body, 0);
    gd_s3_xml_complete_body(&body, w->etags, w->next_part);
    char *qs = gd_asprintf("uploadId=%s", w->upload_id_q);
    s3_req q = {.method = "POST",
                .key = w->key,
                .query = qs,
                .body = body.data,
                .body_len = body.len,
                .content_type = "application/xml"};
    s3_resp r;
    gd_s3_resp_init(&r);
    s3_op op = {.what = "complete the multipart upload of", .name = w->name, .body_errors = true};
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_s3_call(w->st, w->s, &q, &r, &op, &e);
    if (rc == GD_E_NOTFOUND && op.attempts > 1 && strcmp(op.code, "NoSuchUpload") == 0) {
        /* An earlier attempt may have completed it and lost the answer:
         * accept the object if it is there with the size we wrote. */
        gd_stat sst;
        gd_err e2;
        gd_err_clear(&e2);
        if (gd_s3_stat(w->st, w->name, &sst, &e2) == 0 && sst.size == w->total)
            rc = 0;
    }
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = e;
    gd_s3_resp_free(&r);
    free(qs);
    gd_buf_free(&body);
    return rc;
}

static int s3_commit(gd_writer *gw, gd_err *err)
{
    s3_writer *w = gw->self;
    int rc = writer_failed(w, err);
    if (rc != 0)
        goto fail;
    if (w->upload_id == NULL) {
        /* One part at most: a single PUT. */
        s3_req q = {.method = "PUT", .key = w->key, .body = w->buf, .body_len = w->len};
        s3_resp r;
        gd_s3_resp_init(&r);
        s3_op op = {.what = "write", .name = w->name};
        rc = gd_s3_call(w->st, w->s, &q, &r, &op, err);
        gd_s3_resp_free(&r);
        goto done;
    }
    if (w->len > 0 || w->next_part == 0) {
        rc = part_submit(w, err);
        if (rc != 0)
            goto fail;
    }
    parts_reap(w, true);
    rc = writer_failed(w, err);
    if (rc != 0)
        goto fail;
    rc = mp_complete(w, err);
    if (rc != 0)
        goto fail;
done:
    if (rc == 0) {
        orphans_abort(w->st, w->s);
        /* on the first data object only: never on the path of a lock entry,
         * which must be quick */
        if (geodr_upload_key(w->s, w->key) && !atomic_exchange(&w->s->swept, true))
            sweep_uploads(w->st, w->s);
    }
    writer_free(w);
    return rc;
fail:
    s3_abort(gw);
    return rc;
}

static const gd_writer_ops s3_writer_ops = {
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
};

int gd_s3_open_write(gd_storage *st, const char *name, gd_writer **out, gd_err *err)
{
    s3_storage *s = st->self;
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return gd_s3_bad_name(err, st, name);
    s3_writer *w = gd_calloc(1, sizeof *w);
    w->gw.ops = &s3_writer_ops;
    w->gw.self = w;
    w->st = st;
    w->s = s;
    pthread_mutex_lock(&s->mu);
    w->seq = s->next_writer++;
    pthread_mutex_unlock(&s->mu);
    w->name = gd_strdup(name);
    w->key = gd_s3_key(s, name);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    gd_err_clear(&w->err);
    *out = &w->gw;
    return 0;
}
