#include "common/periodic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"

struct gd_periodic {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: the wall clock may jump */
    pthread_t th;
    double interval_s;
    gd_periodic_fn fn;
    void *ctx;
    bool stop, kicked;
};

static void deadline_after(double s, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = (long long)(s * 1e9) + ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

static void *run(void *arg)
{
    gd_periodic *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        deadline_after(p->interval_s, &ts);
        while (!p->stop && !p->kicked)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0)
                break; /* the interval is over */
        if (p->stop)
            break;
        p->kicked = false;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int gd_periodic_start(double interval_s, gd_periodic_fn fn, void *ctx, gd_periodic **out)
{
    gd_periodic *p = gd_calloc(1, sizeof *p);
    p->interval_s = interval_s > 0 ? interval_s : 1;
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
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void gd_periodic_stop(gd_periodic *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
