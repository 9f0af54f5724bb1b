/* A pool of worker threads working through a list of jobs.
 *
 * gd_pool_run() starts one thread per worker; each takes the next job index
 * (0..njobs-1, in order) and calls fn with its own worker struct, until the
 * jobs run out or one fails.  After the first failure no new job is handed
 * out and gd_pool_cancelled() turns true, so long jobs can stop early
 * (returning GD_E_CANCEL, which is not reported as an error).  The first
 * failure's gd_err is returned.  Worker structs belong to their thread
 * while the pool runs; the context each needs (connections, shared state)
 * is in it: the pool has no globals. */
#ifndef GD_COMMON_POOL_H
#define GD_COMMON_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/progress.h"

typedef struct gd_pool gd_pool;

typedef int (*gd_pool_job_fn)(gd_pool *pool, void *worker, size_t job, gd_err *err);

/* workers: an array of nworkers structs of worker_size bytes each.
 * progress (may be NULL) counts one item per finished job. */
int gd_pool_run(void *workers, size_t worker_size, int nworkers, size_t njobs, gd_pool_job_fn fn,
                gd_progress *progress, gd_err *err);

/* True once a job failed (safe from any worker thread). */
bool gd_pool_cancelled(const gd_pool *pool);

#endif
