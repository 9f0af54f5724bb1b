#include "common/progress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/periodic.h"
#include "common/util.h"

struct gd_progress {
    char verb[32];
    char item[32];
    uint64_t total_bytes, total_items;
    _Atomic uint64_t bytes, rows, items;
    bool enabled;
    gd_periodic *redraw; /* the line, once a second */
    double t0;
};

static void draw(void *arg, gd_periodic_call *call)
{
    (void)call;
    gd_progress *p = arg;
    double el = gd_mono() - p->t0;
    uint64_t b = atomic_load(&p->bytes);
    char bs[32], rate[32], eta[32] = "";
    gd_fmt_bytes(b, bs, sizeof bs);
    double bps = el > 0 ? (double)b / el : 0;
    gd_fmt_bytes((uint64_t)bps, rate, sizeof rate);
    if (p->total_bytes > b && bps > 0) {
        long s = (long)((double)(p->total_bytes - b) / bps);
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[K%s: %s, %llu rows, %llu/%llu %s, %s/s%s", p->verb, bs,
            (unsigned long long)atomic_load(&p->rows), (unsigned long long)atomic_load(&p->items),
            (unsigned long long)p->total_items, p->item, rate, eta);
    fflush(stderr);
}

gd_progress *gd_progress_start(const char *verb, const char *item_name, uint64_t total_bytes,
                               uint64_t total_items, bool enabled)
{
    gd_progress *p = gd_calloc(1, sizeof *p);
    gd_strlcpy(p->verb, verb, sizeof p->verb);
    gd_strlcpy(p->item, item_name, sizeof p->item);
    p->total_bytes = total_bytes;
    p->total_items = total_items;
    p->t0 = gd_mono();
    p->enabled = enabled && isatty(STDERR_FILENO);
    if (p->enabled && gd_periodic_start(1.0, 0, draw, p, &p->redraw) != 0)
        p->enabled = false;
    return p;
}

void gd_progress_add(gd_progress *p, uint64_t bytes, uint64_t rows)
{
    if (p == NULL)
        return;
    atomic_fetch_add(&p->bytes, bytes);
    atomic_fetch_add(&p->rows, rows);
}

void gd_progress_item_done(gd_progress *p)
{
    if (p)
        atomic_fetch_add(&p->items, 1);
}

void gd_progress_stop(gd_progress *p)
{
    if (p == NULL)
        return;
    if (p->enabled) {
        gd_periodic_stop(p->redraw);
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    free(p);
}
