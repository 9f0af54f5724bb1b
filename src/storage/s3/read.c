/* Reading an object of the S3 driver (design: docs/s3.md, "Reads").
 *
 * A reader runs its GET on a worker thread that fills a 2 MiB ring; read()
 * drains it, so memory stays bounded whatever the object size.  A body cut
 * mid-transfer is resumed with a Range request from the first byte not yet
 * delivered, pinned to the first response's ETag (If-Match). */
#include "storage/s3/s3.intern.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define S3_RING_SIZE ((size_t)2 << 20)
#define S3_READ_ATTEMPTS_MAX 100 /* one reader, all resumptions included */

typedef struct s3_reader {
    gd_reader r;
    gd_storage *st;
    s3_storage *s;
    char *name, *key;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *ring;
    size_t head, len; /* ring[head .. head+len) (mod S3_RING_SIZE) holds data */
    bool opened;      /* a 2xx answer has begun: open_read may return */
    bool done;        /* the worker has finished (EOF or error in rc/err) */
    bool cancel;      /* close() asks the worker to stop */
    int rc;
    gd_err err;
    /* worker-only state */
    uint64_t delivered; /* bytes of the object put into the ring */
    uint64_t skip;      /* bytes of this answer to drop (200 to a Range request) */
    bool total_known;
    uint64_t total;
    char etag[200];
    bool answer_checked;
    bool mismatch; /* a resumed answer did not fit */
    bool changed;  /* a resumed answer has another ETag */
} s3_reader;

static bool reader_cancelled(void *ctx)
{
    s3_reader *rd = ctx;
    pthread_mutex_lock(&rd->mu);
    bool c = rd->cancel || gd_s3_cancelled(rd->st);
    pthread_mutex_unlock(&rd->mu);
    return c;
}

static size_t reader_sink(void *ctx, s3_resp *resp, const char *p, size_t n)
{
    s3_reader *rd = ctx;
    if (!rd->answer_checked) {
        rd->answer_checked = true;
        if (resp->status == 206) {
            if (!resp->has_range || resp->range_start != rd->delivered) {
                rd->mismatch = true;
                return 0;
            }
            if (!rd->total_known) {
                rd->total_known = true;
                rd->total = resp->range_total;
            }
        } else {
            /* 200: the whole object; drop what was delivered already. */
            rd->skip = rd->delivered;
            if (resp->has_length && !rd->total_known) {
                rd->total_known = true;
                rd->total = resp->content_length;
            }
        }
        if (rd->etag[0] == '\0' && resp->etag[0] != '\0') {
            gd_strlcpy(rd->etag, resp->etag, sizeof rd->etag);
        } else if (rd->etag[0] != '\0' && resp->etag[0] != '\0' &&
                   strcmp(rd->etag, resp->etag) != 0) {
            rd->changed = true;
            return 0;
        }
        pthread_mutex_lock(&rd->mu);
        rd->opened = true;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
    }
    size_t used = 0;
    if (rd->skip > 0) {
        size_t k = n < rd->skip ? n : (size_t)rd->skip;
        rd->skip -= k;
        used = k;
    }
    pthread_mutex_lock(&rd->mu);
    while (used < n) {
        while (rd->len == S3_RING_SIZE && !rd->cancel)
            pthread_cond_wait(&rd->cv, &rd->mu);
        if (rd->cancel) {
            pthread_mutex_unlock(&rd->mu);
            return 0;
        }
        size_t tail = (rd->head + rd->len) % S3_RING_SIZE;
        size_t room = S3_RING_SIZE - rd->len;
        size_t contig = S3_RING_SIZE - tail;
        size_t c = n - used;
        if (c > room)
            c = room;
        if (c > contig)
            c = contig;
        memcpy(rd->ring + tail, p + used, c);
        rd->len += c;
        used += c;
        rd->delivered += c;
        pthread_cond_broadcast(&rd->cv);
    }
    pthread_mutex_unlock(&rd->mu);
    return n;
}

static void reader_finish(s3_reader *rd, int rc, const gd_err *e)
{
    pthread_mutex_lock(&rd->mu);
    rd->rc = rc;
    if (rc != 0 && e != NULL)
        rd->err = *e;
    rd->done = true;
    rd->opened = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
}

/* Waits ms or until close() or the storage's owner cancels; true when cancelled. */
static bool reader_pause(s3_reader *rd, long ms)
{
    double end = gd_mono() + (double)ms / 1000.0;
    pthread_mutex_lock(&rd->mu);
    while (!rd->cancel && !gd_s3_cancelled(rd->st) && gd_mono() < end) {
        struct timespec ts; /* wake every 100 ms for the storage's cancel */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rd->cv, &rd->mu, &ts);
    }
    bool c = rd->cancel || gd_s3_cancelled(rd->st);
    pthread_mutex_unlock(&rd->mu);
    return c;
}

static void *reader_main(void *arg)
{
    s3_reader *rd = arg;
    s3_storage *s = rd->s;
    gd_err e;
    gd_err_clear(&e);
    s3_resp r;
    gd_s3_resp_init(&r);
    char why[CURL_ERROR_SIZE + 64] = "";
    int rc = 0;
    /* The budget is per stretch without progress: a body cut again and
     * again is resumed as long as each answer moves the read on, up to
     * S3_READ_ATTEMPTS_MAX answers in all. */
    gd_retry rt;
    gd_retry_start(&rt, &s->retry);
    s3_op op = {.what = "read", .name = rd->name, .started = rt.started};

    for (;;) {
        uint64_t before = rd->delivered;
        s3_req q = {.method = "GET", .key = rd->key};
        q.sink = reader_sink;
        q.sink_ctx = rd;
        q.cancelled = reader_cancelled;
        q.cancel_ctx = rd;
        if (rd->delivered > 0) {
            snprintf(q.range, sizeof q.range, "bytes=%" PRIu64 "-", rd->delivered);
            if (rd->etag[0])
                q.if_match = rd->etag;
        }
        rd->answer_checked = false;
        rd->mismatch = false;
        rd->skip = 0;
        CURL *h = gd_s3_handle_get(s);
        gd_s3_perform(s, h, &q, &r);
        gd_s3_handle_put(s, h);
        if (reader_cancelled(rd)) {
            rc = GD_E_CANCEL;
            gd_err_set(&e, GD_E_CANCEL, "read of object %s in region %s cancelled", rd->name,
                       rd->st->name);
            break;
        }
        int c;
        if (rd->changed) {
            rc = gd_err_set(&e, GD_E_IO,
                            "object %s in region %s changed while it was being read: try again",
                            rd->name, rd->st->name);
            break;
        }
        if (r.status == 416 && rd->total_known && rd->delivered >= rd->total) {
            c = S3_DONE; /* resumed exactly at the end */
        } else if (rd->mismatch) {
            snprintf(why, sizeof why, "a resumed answer did not start at byte %" PRIu64,
                     rd->delivered);
            c = S3_RETRY;
        } else {
            op.attempts = rt.tries + 1;
            c = gd_s3_classify(rd->st, s, &op, &r, why, sizeof why, &e);
        }
        if (c == S3_DONE && rd->total_known && rd->delivered < rd->total) {
            snprintf(why, sizeof why, "the body ended after %" PRIu64 " of %" PRIu64 " bytes",
                     rd->delivered, rd->total);
            c = S3_RETRY;
        }
        if (c == S3_DONE)
            break;
        if (c != S3_RETRY) {
            rc = c;
            break;
        }
        if (rd->delivered > before) {
            gd_retry_restart(&rt); /* progress: the budget starts again */
            op.started = rt.started;
        }
        long ms = gd_retry_next(&rt);
        if (ms < 0 || rt.total >= S3_READ_ATTEMPTS_MAX) {
            op.attempts = rt.total;
            rc = gd_s3_net_error(rd->st, s, &op, why, &e);
            break;
        }
        gd_debug("region %s: GET of object %s failed at byte %" PRIu64 " (%s); retrying in %ld ms",
                 rd->st->name, rd->name, rd->delivered, why, ms);
        if (reader_pause(rd, ms)) {
            rc = gd_err_set(&e, GD_E_CANCEL, "read of object %s in region %s cancelled", rd->name,
                            rd->st->name);
            break;
        }
    }
    gd_s3_resp_free(&r);
    reader_finish(rd, rc, &e);
    return NULL;
}

static ssize_t s3_read(gd_reader *gr, void *buf, size_t n, gd_err *err)
{
    s3_reader *rd = gr->self;
    char *dst = buf;
    size_t got = 0;
    pthread_mutex_lock(&rd->mu);
    while (got < n) {
        if (rd->len > 0) {
            size_t c = rd->len;
            if (c > n - got)
                c = n - got;
            if (c > S3_RING_SIZE - rd->head)
                c = S3_RING_SIZE - rd->head;
            memcpy(dst + got, rd->ring + rd->head, c);
            rd->head = (rd->head + c) % S3_RING_SIZE;
            rd->len -= c;
            got += c;
            pthread_cond_broadcast(&rd->cv);
            continue;
        }
        if (rd->done) {
            if (rd->rc != 0) {
                int rc = rd->rc;
                if (err != NULL && err->code == GD_OK)
                    *err = rd->err;
                pthread_mutex_unlock(&rd->mu);
                return rc;
            }
            break;
        }
        pthread_cond_wait(&rd->cv, &rd->mu);
    }
    pthread_mutex_unlock(&rd->mu);
    return (ssize_t)got;
}

static void reader_free(s3_reader *rd)
{
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
    free(rd->ring);
    free(rd->name);
    free(rd->key);
    free(rd);
}

static void s3_close(gd_reader *gr)
{
    s3_reader *rd = gr->self;
    pthread_mutex_lock(&rd->mu);
    rd->cancel = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    pthread_join(rd->th, NULL);
    reader_free(rd);
}

static const gd_reader_ops s3_reader_ops = {
    .read = s3_read,
    .close = s3_close,
};

int gd_s3_open_read(gd_storage *st, const char *name, gd_reader **out, gd_err *err)
{
    s3_storage *s = st->self;
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return gd_s3_bad_name(err, st, name);
    s3_reader *rd = gd_calloc(1, sizeof *rd);
    rd->r.ops = &s3_reader_ops;
    rd->r.self = rd;
    rd->st = st;
    rd->s = s;
    rd->name = gd_strdup(name);
    rd->key = gd_s3_key(s, name);
    rd->ring = gd_malloc(S3_RING_SIZE);
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cv, NULL);
    gd_err_clear(&rd->err);
    int e = pthread_create(&rd->th, NULL, reader_main, rd);
    if (e != 0) {
        reader_free(rd);
        return gd_err_sys(err, e, "cannot start a thread to read object %s in region %s", name,
                          st->name);
    }
    /* Wait for the answer to begin, so that a missing object (or a refused
     * request) is reported here, as the contract says. */
    pthread_mutex_lock(&rd->mu);
    while (!rd->opened)
        pthread_cond_wait(&rd->cv, &rd->mu);
    int rc = rd->done ? rd->rc : 0;
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = rd->err;
    pthread_mutex_unlock(&rd->mu);
    if (rc != 0) {
        s3_close(&rd->r);
        return rc;
    }
    *out = &rd->r;
    return 0;
}
