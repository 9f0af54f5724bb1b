/* Unit tests of the progress observer (common/progress.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "common/progress.h"
#include "common/util.h"

/* What a job keeps: the object running now, and what it saw. */
typedef struct watcher {
    gd_progress *cur;
    int started, stopping;
    gd_progress_snap last; /* taken when told STOPPING */
} watcher;

static void watch(void *ctx, gd_progress *p, gd_progress_event ev)
{
    watcher *w = ctx;
    if (ev == GD_PROGRESS_STARTED) {
        w->started++;
        w->cur = p;
    } else {
        w->stopping++;
        assert_ptr_equal(w->cur, p);
        gd_progress_snapshot(p, &w->last);
        w->cur = NULL;
    }
}

static void *add_rows(void *arg)
{
    gd_progress *p = arg;
    for (int i = 0; i < 1000; i++)
        gd_progress_add(p, 10, 1);
    gd_progress_item_done(p);
    return NULL;
}

/* Objects started on the observing thread report to it; the snapshot
 * shows what workers on other threads added. */
static void observer_sees_counters_from_workers(void **state)
{
    (void)state;
    watcher w = {0};
    gd_progress_observe(watch, &w);
    gd_progress *p = gd_progress_start("backup", "chunks", 100000, 4, false);
    assert_int_equal(w.started, 1);
    assert_ptr_equal(w.cur, p);

    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, add_rows, p), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);

    gd_progress_snap s;
    gd_progress_snapshot(w.cur, &s);
    assert_string_equal(s.verb, "backup");
    assert_string_equal(s.item, "chunks");
    assert_int_equal(s.bytes, 40000);
    assert_int_equal(s.rows, 4000);
    assert_int_equal(s.items, 4);
    assert_int_equal(s.total_bytes, 100000);
    assert_int_equal(s.total_items, 4);
    assert_true(s.elapsed_s >= 0);

    gd_progress_stop(p);
    assert_int_equal(w.stopping, 1);
    assert_null(w.cur);
    assert_int_equal(w.last.bytes, 40000);
    gd_progress_observe(NULL, NULL);
}

/* The rate and the ETA come from the bytes and the time elapsed; no total,
 * or nothing done yet, means no ETA. */
static void eta_from_rate(void **state)
{
    (void)state;
    gd_progress *p = gd_progress_start("restore", "tables", 1000, 0, false);
    gd_progress_snap s;
    gd_progress_snapshot(p, &s);
    assert_int_equal(s.eta_s, -1); /* nothing done: no rate */
    nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    gd_progress_add(p, 500, 0);
    gd_progress_snapshot(p, &s);
    assert_true(s.rate_bps > 0);
    assert_true(s.eta_s >= 0);
    assert_true(s.eta_s <= 1);  /* 500 bytes in >= 20 ms: the rest in <= 1 s */
    gd_progress_add(p, 600, 0); /* past the total: done, no ETA */
    gd_progress_snapshot(p, &s);
    assert_int_equal(s.eta_s, -1);
    gd_progress_stop(p);

    p = gd_progress_start("replay", "transactions", 0, 0, false);
    gd_progress_add(p, 500, 3);
    gd_progress_snapshot(p, &s);
    assert_int_equal(s.eta_s, -1); /* total unknown */
    gd_progress_stop(p);
}

typedef struct other {
    gd_progress *p;
} other;

static void *start_elsewhere(void *arg)
{
    other *o = arg;
    o->p = gd_progress_start("backup", "chunks", 0, 0, false);
    return NULL;
}

/* The observer is per thread: an object started on another thread, or
 * after the observer was removed, reports to nobody; one started before
 * the removal keeps its observer until it stops. */
static void observer_is_per_thread(void **state)
{
    (void)state;
    watcher w = {0};
    gd_progress_observe(watch, &w);
    other o = {0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, start_elsewhere, &o), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.started, 0);
    gd_progress_stop(o.p);
    assert_int_equal(w.stopping, 0);

    gd_progress *kept = gd_progress_start("restore", "tables", 0, 0, false);
    gd_progress_observe(NULL, NULL);
    gd_progress *unseen = gd_progress_start("replay", "transactions", 0, 0, false);
    assert_int_equal(w.started, 1);
    gd_progress_stop(unseen);
    assert_int_equal(w.stopping, 0);
    gd_progress_stop(kept);
    assert_int_equal(w.stopping, 1);
    gd_progress_stop(NULL);
    gd_progress_add(NULL, 1, 1);
    gd_progress_item_done(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(observer_sees_counters_from_workers),
        cmocka_unit_test(eta_from_rate),
        cmocka_unit_test(observer_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
