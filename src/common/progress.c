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
    gd_progress_observer observer; /* captured at the start; may be NULL */
    void *observer_ctx;
};

/* The observer of this thread: a job's thread installs its own, so that
 * the engines it calls need not know about jobs. */
static _Thread_local gd_progress_observer t_observer;
static _Thread_local void *t_observer_ctx;

void gd_progress_observe(gd_progress_observer fn, void *ctx)
{
    t_observer = fn;
    t_observer_ctx = fn ? ctx : NULL;
}

void gd_progress_snapshot(const gd_progress *p, gd_progress_snap *out)
{
    gd_progress *q = (gd_progress *)p; /* atomic loads take non-const */
    memcpy(out->verb, p->verb, sizeof out->verb);
    memcpy(out->item, p->item, sizeof out->item);
    out->bytes = atomic_load(&q->bytes);
    out->rows = atomic_load(&q->rows);
    out->items = atomic_load(&q->items);
    out->total_bytes = p->total_bytes;
    out->total_items = p->total_items;
    out->elapsed_s = gd_mono() - p->t0;
    out->rate_bps = out->elapsed_s > 0 ? (double)out->bytes / out->elapsed_s : 0;
    out->eta_s = -1;
    if (p->total_bytes > out->bytes && out->rate_bps > 0)
        out->eta_s = (long)((double)(p->total_bytes - out->bytes) / out->rate_bps);
}

static void draw(void *arg, gd_periodic_call *call)
{
    (void)call;
    gd_progress_snap s;
    gd_progress_snapshot(arg, &s);
    char bs[32], rate[32], eta[32] = "";
    gd_fmt_bytes(s.bytes, bs, sizeof bs);
    gd_fmt_bytes((uint64_t)s.rate_bps, rate, sizeof rate);
    if (s.eta_s >= 0)
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", s.eta_s / 60, s.eta_s % 60);
    fprintf(stderr, "\r\033[K%s: %s, %llu rows, %llu/%llu %s, %s/s%s", s.verb, bs,
            (unsigned long long)s.rows, (unsigned long long)s.items,
            (unsigned long long)s.total_items, s.item, rate, eta);
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
    p->observer = t_observer;
    p->observer_ctx = t_observer_ctx;
    if (p->observer)
        p->observer(p->observer_ctx, p, GD_PROGRESS_STARTED);
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
    if (p->observer)
        p->observer(p->observer_ctx, p, GD_PROGRESS_STOPPING);
    if (p->enabled) {
        gd_periodic_stop(p->redraw);
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    free(p);
}
