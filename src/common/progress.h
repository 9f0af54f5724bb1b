/* A progress line on a terminal: bytes, rows, items, rate, ETA, refreshed
 * once a second from a background thread.  Disabled (no output, no thread)
 * when stderr is not a terminal or the caller asks for quiet.  Counters are
 * atomic: workers add from any thread. */
#ifndef GD_COMMON_PROGRESS_H
#define GD_COMMON_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gd_progress gd_progress;

/* total_bytes/total_items may be 0 (unknown: no ETA). */
gd_progress *gd_progress_start(const char *verb, const char *item_name, uint64_t total_bytes,
                               uint64_t total_items, bool enabled);
void gd_progress_add(gd_progress *p, uint64_t bytes, uint64_t rows);
void gd_progress_item_done(gd_progress *p);
/* Stops the thread, clears the line; frees p.  NULL allowed. */
void gd_progress_stop(gd_progress *p);

#endif
