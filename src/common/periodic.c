#include "common/periodic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"

struct gd_periodic {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC (the wall clock may jump); broadcast */
    pthread_t th;
    double interval_s;
    unsigned flags;
    gd_periodic_fn fn;
    void *ctx;
    bool stop, kicked;
    bool ended; /* the worker made its last call */
};

static void deadline_after(double s, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (s < 0)
        s = 0;
    long long ns = (long long)(s * 1e9) + ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

static void *run(void *arg)
{
    gd_periodic *p = arg;
    double next_s = p->flags & GD_PERIODIC_AT_ONCE ? 0 : p->interval_s;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct timespec ts;
        deadline_after(next_s, &ts);
        while (!p->stop && !p->kicked)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0)
                break; /* the time is up */
        if (p->stop && !(p->flags & GD_PERIODIC_LAST_CALL))
            break;
        gd_periodic_call call = {.last = p->stop, .next_s = p->interval_s};
        p->kicked = false;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx, &call);
        pthread_mutex_lock(&p->mu);
        if (call.last)
            break;
        next_s = call.next_s;
    }
    p->ended = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int gd_periodic_start(double interval_s, unsigned flags, gd_periodic_fn fn, void *ctx,
                      gd_periodic **out)
{
    gd_periodic *p = gd_calloc(1, sizeof *p);
    p->interval_s = interval_s > 0 ? interval_s : 1;
    p->flags = flags;
    p->fn = fn;
    p->ctx = ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        *out = NULL;
        return GD_E_NOMEM;
    }
    *out = p;
    return 0;
}

void gd_periodic_kick(gd_periodic *p)
{
    pthread_mutex_lock(&p->mu);
    p->kicked = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void gd_periodic_request_stop(gd_periodic *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool gd_periodic_wait(gd_periodic *p, double timeout_s)
{
    struct timespec ts;
    deadline_after(timeout_s, &ts);
    pthread_mutex_lock(&p->mu);
    while (!p->ended)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0)
            break;
    bool ended = p->ended;
    pthread_mutex_unlock(&p->mu);
    return ended;
}

void gd_periodic_stop(gd_periodic *p)
{
    if (p == NULL)
        return;
    gd_periodic_request_stop(p);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
