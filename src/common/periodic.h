/* A periodic worker: calls fn(ctx, call) in a thread of its own, every
 * interval, until stopped.  One mechanism for what runs on a clock beside the
 * main work: the progress line, lock renewal, the archive's compaction passes
 * and the shippers of the copy regions.
 *
 * fn runs in the worker's thread only, never two at once.  A call may set
 * call->next_s to choose when the next one comes (a backoff, a deadline of
 * its own); the interval counts from the end of a call.  gd_periodic_kick
 * brings the next call forward to now.  A stop wakes the worker at once (no
 * waiting out a sleep) and waits for a call in progress to return. */
#ifndef GD_COMMON_PERIODIC_H
#define GD_COMMON_PERIODIC_H

#include <stdbool.h>

#include "common/error.h"

typedef struct gd_periodic gd_periodic;

/* What a call is told, and what it may answer. */
typedef struct gd_periodic_call {
    bool last;     /* the worker is stopping and this is its final call
                    * (only with GD_PERIODIC_LAST_CALL) */
    double next_s; /* in: the interval; out: seconds until the next call
                    * (<= 0: at once, unless a stop came) */
} gd_periodic_call;
typedef void (*gd_periodic_fn)(void *ctx, gd_periodic_call *call);

enum {
    GD_PERIODIC_AT_ONCE = 1 << 0,   /* the first call comes at the start, not an interval later */
    GD_PERIODIC_LAST_CALL = 1 << 1, /* a stop makes one more call, with call->last set */
};

/* flags: GD_PERIODIC_* or 0.  An interval <= 0 is taken as 1 s.  GD_E_NOMEM
 * when no thread could be started (*out is then NULL). */
int gd_periodic_start(double interval_s, unsigned flags, gd_periodic_fn fn, void *ctx,
                      gd_periodic **out);
/* Makes the next call come now instead of at its time.  Thread-safe; a kick
 * during a call brings the call after it forward. */
void gd_periodic_kick(gd_periodic *p);
/* Asks the worker to stop and returns at once: no call starts after this
 * one, except the last call of a GD_PERIODIC_LAST_CALL worker (at once, or
 * when the call in progress returns).  Thread-safe, idempotent. */
void gd_periodic_request_stop(gd_periodic *p);
/* After gd_periodic_request_stop: waits at most timeout_s for the worker to
 * finish its calls; true when it has.  (Several workers can share one grace
 * period this way before they are stopped.) */
bool gd_periodic_wait(gd_periodic *p, double timeout_s);
/* Stops (as gd_periodic_request_stop), waits for the worker without limit,
 * joins and frees (NULL allowed).  fn is not called again. */
void gd_periodic_stop(gd_periodic *p);

#endif
