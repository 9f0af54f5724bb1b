/* Unit tests of the worker pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/pool.h"

typedef struct shared {
    atomic_int done[1000];
    atomic_int ran;
    size_t fail_at; /* job that fails, or SIZE_MAX */
} shared;

typedef struct wk {
    shared *sh;
    int jobs_run;
} wk;

static int job(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    wk *w = wv;
    atomic_fetch_add(&w->sh->ran, 1);
    w->jobs_run++;
    if (i == w->sh->fail_at)
        return gd_err_set(err, GD_E_IO, "job %zu failed", i);
    if (w->sh->fail_at != SIZE_MAX) {
        /* long job: waits for the failure and stops early */
        for (int k = 0; k < 2000 && !gd_pool_cancelled(pool); k++) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (gd_pool_cancelled(pool))
            return GD_E_CANCEL;
    }
    atomic_fetch_add(&w->sh->done[i], 1);
    return 0;
}

static void all_jobs_run_once(void **state)
{
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    sh.fail_at = SIZE_MAX;
    wk w[4] = {{&sh, 0}, {&sh, 0}, {&sh, 0}, {&sh, 0}};
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_pool_run(w, sizeof w[0], 4, 1000, job, NULL, &err), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(atomic_load(&sh.done[i]), 1);
    assert_int_equal(w[0].jobs_run + w[1].jobs_run + w[2].jobs_run + w[3].jobs_run, 1000);
}

static void first_failure_stops_the_pool(void **state)
{
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    sh.fail_at = 2;
    wk w[3] = {{&sh, 0}, {&sh, 0}, {&sh, 0}};
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_pool_run(w, sizeof w[0], 3, 1000, job, NULL, &err), GD_E_IO);
    assert_string_equal(err.msg, "job 2 failed");
    /* cancelled jobs stopped early and no new jobs were handed out */
    assert_true(atomic_load(&sh.ran) < 10);
}

static void no_jobs(void **state)
{
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    wk w[2] = {{&sh, 0}, {&sh, 0}};
    assert_int_equal(gd_pool_run(w, sizeof w[0], 2, 0, job, NULL, NULL), 0);
    assert_int_equal(atomic_load(&sh.ran), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_jobs_run_once),
        cmocka_unit_test(first_failure_stops_the_pool),
        cmocka_unit_test(no_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
