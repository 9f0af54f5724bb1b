/* When the server backs an instance up (docs/server.md "Schedule"): pure
 * functions of the configured window, what the instance's history says and
 * the time, so the rules are tested without a clock.
 *
 *   - A daily window (backup-window, common/config.h; UTC; it may cross
 *     midnight).  Without one, a start fixed per instance in 01:00-05:00
 *     (from its name), one hour long.
 *   - An instance without any backup is backed up at once.
 *   - Otherwise one backup per day: due at the window's start once the
 *     newest successful backup is older than that start; a window missed
 *     while the server was down is caught up as soon as it runs again.
 *   - After a failed attempt, again every retry_s until one succeeds. */
#ifndef GD_SERVER_SCHEDULE_H
#define GD_SERVER_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/error.h"

#define GD_EXPIRE_EVERY_S 3600 /* retention runs this often, and after each backup */

/* The default window of an instance: one hour from a start in 01:00-05:00
 * that its name fixes (so instances sharing a server do not all start at
 * once, and a restart does not move it). */
void gd_backup_window_default(const char *instance, gd_backup_window *out);

/* What the schedule needs to know of an instance's backups. */
typedef struct gd_backup_history {
    int64_t last_success_s; /* end of the newest successful backup (0: none) */
    int64_t last_attempt_s; /* start of the newest attempt (0: none) */
    bool last_failed;       /* that attempt failed */
} gd_backup_history;

/* The start of the newest window at or before now. */
int64_t gd_backup_window_last_start(const gd_backup_window *w, int64_t now_s);
/* When the next backup is due (<= now_s: due now). */
int64_t gd_backup_next(const gd_backup_window *w, const gd_backup_history *h, int64_t now_s,
                       int64_t retry_s);

#endif
