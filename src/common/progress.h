/* Progress of a long step (a dump, a load, a replay): bytes, rows, items,
 * rate, ETA.  Counters are atomic: workers add from any thread.
 *
 * Two ways to show it, independent of each other:
 *  - a line on a terminal, refreshed once a second from a background
 *    thread; disabled (no output, no thread) when stderr is not a terminal
 *    or the caller asks for quiet (enabled false);
 *  - an observer (a server's job): installed per thread with
 *    gd_progress_observe, captured by every progress object started on that
 *    thread, told when the object starts and just before it stops, and free
 *    to read a snapshot of the counters at any time in between (no call per
 *    row: the reader pulls when it needs them). */
#ifndef GD_COMMON_PROGRESS_H
#define GD_COMMON_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gd_progress gd_progress;

/* total_bytes/total_items may be 0 (unknown: no ETA).  Never NULL.  The
 * observer installed on the calling thread (if any) is captured and told
 * GD_PROGRESS_STARTED before this returns. */
gd_progress *gd_progress_start(const char *verb, const char *item_name, uint64_t total_bytes,
                               uint64_t total_items, bool enabled);
void gd_progress_add(gd_progress *p, uint64_t bytes, uint64_t rows);
void gd_progress_item_done(gd_progress *p);
/* Tells the captured observer GD_PROGRESS_STOPPING (p still readable),
 * stops the thread, clears the line; frees p.  NULL allowed. */
void gd_progress_stop(gd_progress *p);

/* The counters at one moment.  Each counter is read atomically; together
 * they are near, not exactly, simultaneous (workers keep adding). */
typedef struct gd_progress_snap {
    char verb[32]; /* "backup", "restore", "replay" */
    char item[32]; /* what items counts: "chunks", "tables", ... */
    uint64_t bytes, rows, items;
    uint64_t total_bytes, total_items; /* 0: unknown */
    double elapsed_s;                  /* since gd_progress_start */
    double rate_bps;                   /* bytes per second over elapsed_s */
    long eta_s;                        /* seconds left at that rate; -1 unknown */
} gd_progress_snap;

/* Fills out from p.  Thread-safe; p must not be stopped yet (an observer
 * may call it from any thread until it is told GD_PROGRESS_STOPPING). */
void gd_progress_snapshot(const gd_progress *p, gd_progress_snap *out);

typedef enum gd_progress_event {
    GD_PROGRESS_STARTED,  /* from gd_progress_start, on the creating thread */
    GD_PROGRESS_STOPPING, /* from gd_progress_stop, before p is freed */
} gd_progress_event;

/* Called with the ctx given to gd_progress_observe; must be quick (it runs
 * on the engine's thread) and must not stop p. */
typedef void (*gd_progress_observer)(void *ctx, gd_progress *p, gd_progress_event ev);

/* Installs fn for the calling thread (thread-local): progress objects
 * started afterwards on this thread report to it.  fn NULL removes it
 * (objects already started keep the observer they captured). */
void gd_progress_observe(gd_progress_observer fn, void *ctx);

#endif
