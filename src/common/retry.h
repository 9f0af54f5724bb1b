/* Retrying with backoff: one budget and one pause rule for every loop that
 * tries again (the S3 requests, later the archiver's reconnects and the
 * shipper's retries).  Design: docs/s3.md ("Retries and errors").
 *
 * The helper does not run the loop: the caller tries, and after a failure
 * asks gd_retry_next() how long to wait before the next try (or learns the
 * budget is spent), then waits the way that suits it: gd_retry_sleep() in
 * slices that watch a cancel flag, or its own condition variable.
 *
 *     gd_retry rt;
 *     gd_retry_start(&rt, &policy);
 *     for (;;) {
 *         if (try_once() == 0) break;
 *         long ms = gd_retry_next(&rt);
 *         if (ms < 0 || gd_retry_sleep(ms, cancel)) break;  // give up / cancelled
 *     }
 *
 * Pauses grow exponentially: before the try after the n-th failure,
 * d = first_ms * 2^(n-1), at most max_ms; with jitter the pause is drawn
 * uniformly from [d/2, d] (so many clients that failed together do not come
 * back together).  The budget is elapsed time (budget_ms since the start)
 * and/or a count of tries (attempts): with a time budget the last pause is
 * shortened so that one try falls at its end, so an outage shorter than the
 * budget is ridden out whatever the pauses and the tries themselves add up
 * to.  A gd_retry belongs to one thread; the functions keep no other state
 * and are thread-safe. */
#ifndef GD_COMMON_RETRY_H
#define GD_COMMON_RETRY_H

#include <stdatomic.h>

#include "common/cancel.h"
#include <stdbool.h>

typedef struct gd_retry_policy {
    long first_ms;  /* d after the first failure; a d of 0 or 1 ms is never jittered */
    long max_ms;    /* cap on d */
    bool jitter;    /* draw each pause from [d/2, d] instead of d */
    long budget_ms; /* > 0: no try starts later than this after gd_retry_start; 0: no limit */
    int attempts;   /* > 0: at most this many tries; 0: no limit by count */
} gd_retry_policy;

typedef struct gd_retry {
    gd_retry_policy p;
    double started; /* gd_mono() at the start (or the last gd_retry_restart) */
    int tries;      /* failed tries reported since then */
    int total;      /* failed tries reported since gd_retry_start */
} gd_retry;

/* Starts a budget now with policy p (copied). */
void gd_retry_start(gd_retry *r, const gd_retry_policy *p);

/* The try just made got somewhere (a resumed download moved on, a session
 * did work before it failed): the budget starts again now, as if this were
 * the first try.  total keeps counting. */
void gd_retry_restart(gd_retry *r);

/* Records a failed try and returns the pause in ms before the next one, or
 * -1 when the budget is spent (by count or by time). */
long gd_retry_next(gd_retry *r);

/* The pause after `failures` failed tries under p, with p's cap and jitter
 * and without a budget (what gd_retry_next returns before shortening). */
long gd_retry_delay_ms(const gd_retry_policy *p, int failures);

/* Sleeps ms milliseconds in slices of 100 ms, returning early when *cancel
 * turns true (cancel may be NULL).  True when cancelled. */
bool gd_retry_sleep(long ms, const gd_cancel *cancel);

#endif
