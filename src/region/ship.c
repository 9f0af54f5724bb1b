#include "region/ship.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/retry.h"
#include "common/util.h"
#include "region/copy.h"
#include "region/copy_intern.h"

struct gd_shipper {
    gd_repo *home, *dst;
    char *region;
    gd_region_opener open;
    void *open_ctx;
    uint64_t bandwidth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gd_segments queue; /* records committed in the home region since the last look */
    bool overflowed;   /* records were dropped from a full queue: list again */
    bool stop, done;
    bool behind;       /* set when the thread ends: the region is not in step */
    long long shipped; /* set when the thread ends: last segment in the region */
    long long latest;  /* highest segment seq handed over by the archiver */
    gd_cancel cancel;  /* the region's storage gives up its retries */
    pthread_t thread;
};

#define SHIP_QUEUE_MAX 4096  /* beyond it, a listing pass catches up instead */
#define SHIP_TIDY_S 60       /* a listing pass this often, for the home's merges */
#define SHIP_STOP_GRACE_S 10 /* a stop waits this long for the last shipments */

void gd_shipper_notify(gd_shipper *s, const gd_segment *record)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if ((long long)record->seq > s->latest)
        s->latest = (long long)record->seq;
    if (s->queue.n < SHIP_QUEUE_MAX) {
        s->queue.v = gd_realloc(s->queue.v, (s->queue.n + 1) * sizeof *s->queue.v);
        gd_segment_copy(&s->queue.v[s->queue.n++], record);
    } else
        s->overflowed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits for records (only while in step with the region) or until wake_at;
 * returns them and whether the shipper is stopping. */
static gd_segments ship_wait(gd_shipper *s, bool synced, double wake_at, bool *stopping,
                             bool *overflowed)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !(synced && s->queue.n > 0) && gd_mono() < wake_at) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = wake_at - gd_mono();
        if (wait > 1.0)
            wait = 1.0;
        if (wait < 0.001)
            wait = 0.001;
        long long ns = ts.tv_nsec + (long long)(wait * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    *stopping = s->stop;
    *overflowed = s->overflowed;
    s->overflowed = false;
    gd_segments batch = s->queue;
    s->queue = (gd_segments){0};
    pthread_mutex_unlock(&s->mu);
    return batch;
}

/* The shipper's thread.  While it is in step with the copy region it ships
 * each record the archiver hands it (object, then record: two requests, no
 * listing), in order.  After a start, an error or a record out of order it
 * lists both regions once (gd_copy_run) to find where it stands. */
static void *ship(void *arg)
{
    gd_shipper *s = arg;
    gd_copy_opts o = {.jobs = 1, .bandwidth = s->bandwidth, .sets = false, .segments = true};
    bool synced = false, failing = false, tidy = false;
    long long shipped = 0; /* every home segment up to this one is in the copy region */
    double next_warn = 0, retry_at = 0, tidy_at = gd_mono() + SHIP_TIDY_S;
    /* a failing region is tried again after 1 s doubling to 10 s, from 1 s
     * again once it caught up; the wait is ship_wait's (a new record or a
     * stop wakes it) */
    gd_retry rt;
    gd_retry_start(&rt, &(gd_retry_policy){.first_ms = 1000, .max_ms = 10000});
    for (;;) {
        bool stopping = false, overflowed = false;
        gd_segments batch =
            ship_wait(s, synced, synced ? tidy_at : retry_at, &stopping, &overflowed);
        if (overflowed)
            synced = false; /* some records never reached the queue */
        if (synced && !stopping && gd_mono() >= tidy_at) {
            /* Mirror the home region's compaction: a pass ships its merged
             * segments, then what they cover goes after the grace period. */
            synced = false;
            tidy = true;
        }
        if (stopping && failing) {
            /* the region is down: the next run catches up, not the stop */
            gd_segments_free(&batch);
            break;
        }
        gd_err e;
        gd_err_clear(&e);
        int rc = 0;
        if (s->dst == NULL)
            rc = s->open(s->open_ctx, &s->cancel, &s->dst, &e);
        if (rc == 0 && !synced) {
            gd_copy_stats st;
            if ((rc = gd_copy_run(s->home, s->dst, &o, &st, &e)) == 0) {
                synced = true;
                shipped = st.last_seq;
            }
            if (rc == 0 && tidy) {
                tidy = false;
                tidy_at = gd_mono() + SHIP_TIDY_S;
            }
        }
        if (rc == 0)
            gd_err_clear(&e);
        gd_xfer c = {.src = s->home,
                     .dst = s->dst,
                     .bandwidth = s->bandwidth,
                     .t0 = gd_mono(),
                     .present = json_object()};
        for (size_t i = 0; i < batch.n; i++) {
            const gd_segment *rec = &batch.v[i];
            long long seq = (long long)rec->seq;
            if (rc != 0 || !synced || seq <= shipped)
                continue;
            if ((long long)rec->first_seq != shipped + 1) {
                synced = false; /* a record was missed: list again */
                break;
            }
            if ((rc = gd_copy_segment(s->home, s->dst, rec, &c, &e)) == 0)
                shipped = seq;
            else
                gd_err_prefix(&e, "copy of a binlog segment of instance %s to region %s",
                              s->home->instance, s->region);
        }
        gd_segments_free(&batch);
        json_decref(c.present);
        if (rc != 0) {
            synced = false;
            failing = true;
            if (gd_mono() >= next_warn && !gd_cancel_requested(&s->cancel)) {
                gd_warn("%s (retrying; the other regions are not affected)", e.msg);
                next_warn = gd_mono() + 30;
            }
            retry_at = gd_mono() + (double)gd_retry_next(&rt) / 1000;
        } else if (failing && synced) {
            gd_info("region %s caught up with the binlog archive", s->region);
            failing = false;
            gd_retry_restart(&rt);
            next_warn = 0;
        }
        if (stopping && (synced || gd_cancel_requested(&s->cancel)))
            break;
    }
    pthread_mutex_lock(&s->mu);
    s->done = true;
    s->behind = failing || !synced;
    s->shipped = shipped;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int gd_shipper_start(gd_repo *home, const char *region, gd_region_opener open, void *open_ctx,
                     uint64_t bandwidth, gd_shipper **out, gd_err *err)
{
    gd_shipper *s = gd_calloc(1, sizeof *s);
    s->home = home;
    s->region = gd_strdup(region);
    s->open = open;
    s->open_ctx = open_ctx;
    s->bandwidth = bandwidth;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, ship, s) != 0) {
        s->thread = 0;
        gd_shipper_stop(s);
        return gd_err_set(err, GD_E_NOMEM, "cannot start the copy thread for region %s", region);
    }
    *out = s;
    return 0;
}

/* Waits (at most until deadline) for the shipper's thread to end; true
 * when it did (or never started). */
static bool ship_wait_done(gd_shipper *s, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (s->thread && !s->done && gd_mono() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool done = !s->thread || s->done;
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* After the thread ended: says how far behind the region is, if it is. */
static bool ship_report_behind(const gd_shipper *s)
{
    if (!s->thread || !s->behind)
        return false;
    if (s->shipped > 0 && s->latest > s->shipped)
        gd_warn("region %s is behind the home region's binlog archive by %lld segment(s) "
                "(it has them up to segment %lld of %lld): the next 'geodr archive' or "
                "'geodr copy' catches up",
                s->region, s->latest - s->shipped, s->shipped, s->latest);
    else
        gd_warn("region %s is behind the home region's binlog archive (the copy was failing "
                "when the archiver stopped): the next 'geodr archive' or 'geodr copy' catches "
                "up",
                s->region);
    return true;
}

int gd_shippers_stop(gd_shipper **v, size_t n)
{
    int behind = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL)
            continue;
        pthread_mutex_lock(&v[i]->mu);
        v[i]->stop = true;
        pthread_cond_broadcast(&v[i]->cv);
        pthread_mutex_unlock(&v[i]->mu);
    }
    /* The last shipments get a few seconds, all regions together; a region
     * that does not answer by then is not waited for (its requests are
     * cancelled): the next run catches up. */
    double deadline = gd_mono() + SHIP_STOP_GRACE_S;
    for (size_t i = 0; i < n; i++) {
        gd_shipper *s = v[i];
        if (s == NULL)
            continue;
        if (!ship_wait_done(s, deadline)) {
            gd_warn("region %s does not answer: stopping without the last binlog segments "
                    "there",
                    s->region);
            gd_cancel_request(&s->cancel);
        }
        if (s->thread)
            pthread_join(s->thread, NULL);
        behind += ship_report_behind(s);
        gd_repo_close(s->dst);
        gd_segments_free(&s->queue);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s->region);
        free(s);
        v[i] = NULL;
    }
    return behind;
}

void gd_shipper_stop(gd_shipper *s)
{
    (void)gd_shippers_stop(&s, 1);
}
