#include "region/ship.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/periodic.h"
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
    gd_periodic *worker; /* calls ship_tick: at once, on each record, on its clock */
    gd_cancel cancel;    /* the region's storage gives up its retries */
    pthread_mutex_t mu;  /* guards queue, overflowed, latest */
    gd_segments queue;   /* records committed in the home region since the last look */
    bool overflowed;     /* records were dropped from a full queue: list again */
    long long latest;    /* highest segment seq handed over by the archiver */
    /* The worker's own (no lock): its calls never overlap, and the stop
     * reads them after the last call. */
    bool synced;       /* in step with the region: ship each record as it comes */
    bool failing;      /* the last pass failed */
    bool tidy;         /* a listing pass is due for the home's merges */
    long long shipped; /* every home segment up to this one is in the copy region */
    double next_warn, retry_at, tidy_at;
    gd_retry rt; /* a failing region: tried again after 1 s doubling to 10 s */
};

#define SHIP_QUEUE_MAX 4096  /* beyond it, a listing pass catches up instead */
#define SHIP_TIDY_S 60       /* a listing pass this often, for the home's merges */
#define SHIP_TIDY_MORE_S 1   /* ... and this soon while merges are left to copy */
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
    pthread_mutex_unlock(&s->mu);
    gd_periodic_kick(s->worker);
}

/* Takes the records handed over since the last look into batch (false when
 * there is nothing to do yet: out of step and before the retry time, or in
 * step with no record and before the tidy time). */
static bool ship_take(gd_shipper *s, bool stopping, gd_segments *batch)
{
    pthread_mutex_lock(&s->mu);
    double wake_at = s->synced ? s->tidy_at : s->retry_at;
    bool take = stopping || (s->synced && s->queue.n > 0) || gd_mono() >= wake_at;
    if (take) {
        *batch = s->queue;
        s->queue = (gd_segments){0};
        if (s->overflowed)
            s->synced = false; /* some records never reached the queue */
        s->overflowed = false;
    }
    pthread_mutex_unlock(&s->mu);
    return take;
}

/* Ships batch in order while in step (object, then record: two requests,
 * no listing); first lists both regions (gd_copy_run) when out of step: after
 * a start, an error or a record out of order. */
static int ship_batch(gd_shipper *s, const gd_segments *batch, gd_err *e)
{
    int rc = 0;
    if (s->dst == NULL)
        rc = s->open(s->open_ctx, &s->cancel, &s->dst, e);
    if (rc == 0 && !s->synced) {
        /* a tidy pass takes the home's merges one at a time, new segments
         * first: a 64 MiB merge does not hold the recovery point back */
        gd_copy_opts o = {.jobs = 1,
                          .bandwidth = s->bandwidth,
                          .sets = false,
                          .segments = true,
                          .max_old = s->tidy ? 1 : 0};
        gd_copy_stats st;
        if ((rc = gd_copy_run(s->home, s->dst, &o, &st, e)) == 0) {
            s->synced = true;
            s->shipped = st.last_seq;
        }
        if (rc == 0 && s->tidy) {
            s->tidy = false;
            s->tidy_at = gd_mono() + (st.more ? SHIP_TIDY_MORE_S : SHIP_TIDY_S);
        }
    }
    if (rc != 0)
        return rc;
    gd_err_clear(e);
    gd_xfer c = {.src = s->home,
                 .dst = s->dst,
                 .bandwidth = s->bandwidth,
                 .t0 = gd_mono(),
                 .present = json_object()};
    for (size_t i = 0; i < batch->n; i++) {
        const gd_segment *rec = &batch->v[i];
        long long seq = (long long)rec->seq;
        if (seq <= s->shipped)
            continue;
        if ((long long)rec->first_seq != s->shipped + 1) {
            s->synced = false; /* a record was missed: list again */
            break;
        }
        if ((rc = gd_copy_segment(s->home, s->dst, rec, &c, e)) != 0) {
            gd_err_prefix(e, "copy of a binlog segment of instance %s to region %s",
                          s->home->instance, s->region);
            break;
        }
        s->shipped = seq;
    }
    json_decref(c.present);
    return rc;
}

/* One pass: the batch shipped, then the state follows the result. */
static void ship_pass(gd_shipper *s, const gd_segments *batch, bool stopping)
{
    if (s->synced && !stopping && gd_mono() >= s->tidy_at) {
        /* Mirror the home region's compaction: a pass ships its merged
         * segments, then what they cover goes after the grace period. */
        s->synced = false;
        s->tidy = true;
    }
    gd_err e;
    gd_err_clear(&e);
    int rc = ship_batch(s, batch, &e);
    if (rc != 0) {
        s->synced = false;
        s->failing = true;
        if (gd_mono() >= s->next_warn && !gd_cancel_requested(&s->cancel)) {
            gd_warn("%s (retrying; the other regions are not affected)", e.msg);
            s->next_warn = gd_mono() + 30;
        }
        s->retry_at = gd_mono() + (double)gd_retry_next(&s->rt) / 1000;
    } else if (s->failing && s->synced) {
        gd_info("region %s caught up with the binlog archive", s->region);
        s->failing = false;
        gd_retry_restart(&s->rt);
        s->next_warn = 0;
    }
}

/* The worker's call: at the start, for each record handed over, at the
 * retry or tidy time.  A stop ships what was handed over, listing again as
 * needed, unless the region is failing (the next run catches up, not the
 * stop) or its requests were cancelled. */
static void ship_tick(void *arg, gd_periodic_call *call)
{
    gd_shipper *s = arg;
    if (call->last && s->failing)
        return;
    do {
        gd_segments batch = {0};
        if (!ship_take(s, call->last, &batch))
            break;
        ship_pass(s, &batch, call->last);
        gd_segments_free(&batch);
    } while (call->last && !s->synced && !s->failing && !gd_cancel_requested(&s->cancel));
    call->next_s = (s->synced ? s->tidy_at : s->retry_at) - gd_mono();
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
    s->tidy_at = gd_mono() + SHIP_TIDY_S;
    gd_retry_start(&s->rt, &(gd_retry_policy){.first_ms = 1000, .max_ms = 10000});
    pthread_mutex_init(&s->mu, NULL);
    if (gd_periodic_start(SHIP_TIDY_S, GD_PERIODIC_AT_ONCE | GD_PERIODIC_LAST_CALL, ship_tick, s,
                          &s->worker) != 0) {
        gd_shipper_stop(s);
        return gd_err_set(err, GD_E_NOMEM, "cannot start the copy thread for region %s", region);
    }
    *out = s;
    return 0;
}

/* After the worker ended: says how far behind the region is, if it is. */
static bool ship_report_behind(const gd_shipper *s)
{
    if (s->worker == NULL || !(s->failing || !s->synced))
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
    for (size_t i = 0; i < n; i++)
        if (v[i] != NULL && v[i]->worker != NULL)
            gd_periodic_request_stop(v[i]->worker);
    /* The last shipments get a few seconds, all regions together; a region
     * that does not answer by then is not waited for (its requests are
     * cancelled): the next run catches up. */
    double deadline = gd_mono() + SHIP_STOP_GRACE_S;
    for (size_t i = 0; i < n; i++) {
        gd_shipper *s = v[i];
        if (s == NULL)
            continue;
        if (s->worker != NULL && !gd_periodic_wait(s->worker, deadline - gd_mono())) {
            gd_warn("region %s does not answer: stopping without the last binlog segments "
                    "there",
                    s->region);
            gd_cancel_request(&s->cancel);
        }
        gd_periodic_stop(s->worker);
        behind += ship_report_behind(s);
        gd_repo_close(s->dst);
        gd_segments_free(&s->queue);
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
