/* A periodic worker: calls fn(ctx) every interval in a thread of its own until
 * stopped.  One mechanism for what runs on a clock beside the main work: the
 * progress line, lock renewal, (later) compaction and shipping passes.
 * gd_periodic_stop wakes the thread at once (no waiting out a sleep), waits
 * for a call in progress to return, and joins it.  fn runs in the worker's
 * thread only, never two at once. */
#ifndef GD_COMMON_PERIODIC_H
#define GD_COMMON_PERIODIC_H

#include "common/error.h"

typedef struct gd_periodic gd_periodic;
typedef void (*gd_periodic_fn)(void *ctx);

/* The first call comes one interval after the start.  GD_E_NOMEM when no
 * thread could be started (*out is then NULL). */
int gd_periodic_start(double interval_s, gd_periodic_fn fn, void *ctx, gd_periodic **out);
/* Makes the next call come now instead of at the end of the interval. */
void gd_periodic_kick(gd_periodic *p);
/* Stops, joins and frees (NULL allowed).  fn is not called again. */
void gd_periodic_stop(gd_periodic *p);

#endif
