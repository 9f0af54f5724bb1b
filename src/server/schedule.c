#include "server/schedule.h"

#include <stdio.h>
#include <string.h>

#define DAY_S 86400

void gd_backup_window_default(const char *instance, gd_backup_window *out)
{
    uint32_t h = 2166136261u; /* FNV-1a of the name: fixed per instance */
    for (const char *c = instance; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    out->start_min = 60 + (int)(h % 240);
    out->end_min = (out->start_min + 60) % 1440;
}

int64_t gd_backup_window_last_start(const gd_backup_window *w, int64_t now_s)
{
    int64_t day = now_s - ((now_s % DAY_S) + DAY_S) % DAY_S; /* 00:00 UTC of now's day */
    int64_t start = day + (int64_t)w->start_min * 60;
    return start <= now_s ? start : start - DAY_S;
}

int64_t gd_backup_next(const gd_backup_window *w, const gd_backup_history *h, int64_t now_s,
                       int64_t retry_s)
{
    if (h->last_success_s <= 0 && h->last_attempt_s <= 0)
        return now_s; /* never backed up: at once */
    int64_t start = gd_backup_window_last_start(w, now_s);
    /* after a failure that came after the newest success: again every
     * retry_s until one succeeds */
    if (h->last_failed && h->last_attempt_s >= h->last_success_s)
        return h->last_attempt_s + retry_s;
    if (h->last_success_s < start)
        return now_s; /* this window (or a missed one) has no backup yet */
    return start + DAY_S;
}
