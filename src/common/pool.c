#include "common/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/util.h"

struct gd_pool {
    gd_pool_job_fn fn;
    size_t njobs;
    atomic_size_t next;
    atomic_bool failed;
    pthread_mutex_t lock;
    gd_err err; /* the first failure, under lock */
    gd_progress *progress;
};

typedef struct slot {
    gd_pool *pool;
    void *worker;
    pthread_t thread;
} slot;

bool gd_pool_cancelled(const gd_pool *pool)
{
    return atomic_load(&((gd_pool *)pool)->failed);
}

static void *run(void *arg)
{
    slot *s = arg;
    gd_pool *p = s->pool;
    gd_err e;
    while (!atomic_load(&p->failed)) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->njobs)
            break;
        gd_err_clear(&e);
        int rc = p->fn(p, s->worker, i, &e);
        if (rc != 0) {
            if (rc != GD_E_CANCEL) {
                pthread_mutex_lock(&p->lock);
                if (p->err.code == GD_OK) {
                    p->err = e;
                    if (p->err.code == GD_OK)
                        p->err.code = rc;
                }
                pthread_mutex_unlock(&p->lock);
            }
            atomic_store(&p->failed, true);
            break;
        }
        gd_progress_item_done(p->progress);
    }
    return NULL;
}

int gd_pool_run(void *workers, size_t worker_size, int nworkers, size_t njobs, gd_pool_job_fn fn,
                gd_progress *progress, gd_err *err)
{
    gd_pool p = {.fn = fn, .njobs = njobs, .progress = progress};
    pthread_mutex_init(&p.lock, NULL);
    gd_err_clear(&p.err);
    slot *slots = gd_calloc((size_t)nworkers, sizeof *slots);
    int started = 0, rc = 0;
    for (int i = 0; i < nworkers; i++) {
        slots[i].pool = &p;
        slots[i].worker = (uint8_t *)workers + (size_t)i * worker_size;
        if (pthread_create(&slots[i].thread, NULL, run, &slots[i]) != 0) {
            rc = gd_err_set(err, GD_E_NOMEM, "cannot start worker thread");
            atomic_store(&p.failed, true);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(slots[i].thread, NULL);
    free(slots);
    if (rc == 0 && p.err.code != GD_OK) {
        if (err)
            *err = p.err;
        rc = p.err.code;
    } else if (rc == 0 && atomic_load(&p.failed)) {
        rc = gd_err_set(err, GD_E_CANCEL, "cancelled");
    }
    pthread_mutex_destroy(&p.lock);
    return rc;
}
