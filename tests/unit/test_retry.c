/* Unit tests of the retry/backoff helper (common/retry.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "common/retry.h"
#include "common/util.h"

/* Without jitter the pause doubles from first_ms and stops at max_ms. */
static void delay_doubles_to_the_cap(void **state)
{
    (void)state;
    gd_retry_policy p = {.first_ms = 100, .max_ms = 1000};
    long want[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int i = 0; i < 7; i++)
        assert_int_equal(gd_retry_delay_ms(&p, i + 1), want[i]);
    /* a cap below the first pause wins */
    gd_retry_policy low = {.first_ms = 500, .max_ms = 300};
    assert_int_equal(gd_retry_delay_ms(&low, 1), 300);
    /* no pause at all stays none */
    gd_retry_policy zero = {.first_ms = 0, .max_ms = 1000, .jitter = true};
    for (int i = 1; i < 10; i++)
        assert_int_equal(gd_retry_delay_ms(&zero, i), 0);
    /* a huge failure count does not overflow */
    gd_retry_policy big = {.first_ms = 200, .max_ms = 8000};
    assert_int_equal(gd_retry_delay_ms(&big, 1000000), 8000);
}

/* With jitter each pause is drawn from [d/2, d], and not always the same. */
static void jitter_stays_in_half_to_whole(void **state)
{
    (void)state;
    gd_retry_policy p = {.first_ms = 200, .max_ms = 8000, .jitter = true};
    for (int n = 1; n <= 8; n++) {
        long d = gd_retry_delay_ms(&(gd_retry_policy){.first_ms = 200, .max_ms = 8000}, n);
        long lo = d, hi = 0;
        for (int k = 0; k < 200; k++) {
            long ms = gd_retry_delay_ms(&p, n);
            assert_true(ms >= d / 2 && ms <= d);
            lo = ms < lo ? ms : lo;
            hi = ms > hi ? ms : hi;
        }
        assert_true(lo < hi);
    }
    /* 1 ms is too short to jitter */
    gd_retry_policy one = {.first_ms = 1, .max_ms = 1, .jitter = true};
    assert_int_equal(gd_retry_delay_ms(&one, 5), 1);
}

/* A budget by count: attempts tries, then -1. */
static void budget_by_count(void **state)
{
    (void)state;
    gd_retry r;
    gd_retry_start(&r, &(gd_retry_policy){.first_ms = 10, .max_ms = 40, .attempts = 3});
    assert_int_equal(gd_retry_next(&r), 10);
    assert_int_equal(gd_retry_next(&r), 20);
    assert_int_equal(gd_retry_next(&r), -1);
    assert_int_equal(r.tries, 3);
    assert_int_equal(r.total, 3);
}

/* A budget by time: the last pause is shortened so that one try falls at
 * the end of the budget, then -1. */
static void budget_by_time_shortens_the_last_pause(void **state)
{
    (void)state;
    gd_retry r;
    gd_retry_start(&r, &(gd_retry_policy){.first_ms = 100, .max_ms = 1000, .budget_ms = 250});
    long ms = gd_retry_next(&r);
    assert_int_equal(ms, 100);
    assert_false(gd_retry_sleep(ms, NULL));
    ms = gd_retry_next(&r); /* 200 wanted, ~150 left */
    assert_true(ms > 0 && ms < 200);
    assert_false(gd_retry_sleep(ms, NULL));
    assert_true(gd_mono() - r.started >= 0.24);
    assert_int_equal(gd_retry_next(&r), -1);
}

/* No budget: never -1, pauses stay at the cap. */
static void no_budget_never_gives_up(void **state)
{
    (void)state;
    gd_retry r;
    gd_retry_start(&r, &(gd_retry_policy){.first_ms = 1000, .max_ms = 30000});
    long last = 0;
    for (int i = 0; i < 100; i++)
        last = gd_retry_next(&r);
    assert_int_equal(last, 30000);
    assert_int_equal(r.total, 100);
}

/* Progress starts the budget again (count, time and pause), the total
 * keeps counting. */
static void restart_after_progress(void **state)
{
    (void)state;
    gd_retry r;
    gd_retry_start(&r, &(gd_retry_policy){.first_ms = 10, .max_ms = 1000, .attempts = 3});
    assert_int_equal(gd_retry_next(&r), 10);
    assert_int_equal(gd_retry_next(&r), 20);
    double before = r.started;
    gd_retry_restart(&r);
    assert_true(r.started >= before);
    assert_int_equal(r.tries, 0);
    assert_int_equal(gd_retry_next(&r), 10);
    assert_int_equal(gd_retry_next(&r), 20);
    assert_int_equal(gd_retry_next(&r), -1);
    assert_int_equal(r.total, 5);
}

static void *cancel_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gd_cancel_request(arg);
    return NULL;
}

/* The sleep returns early when the flag turns true, and at once when it
 * is true already. */
static void sleep_stops_on_cancel(void **state)
{
    (void)state;
    gd_cancel cancel = {false};
    double t0 = gd_mono();
    assert_false(gd_retry_sleep(0, &cancel));
    assert_false(gd_retry_sleep(-5, &cancel));
    assert_false(gd_retry_sleep(30, &cancel));
    assert_true(gd_mono() - t0 >= 0.029);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
    t0 = gd_mono();
    assert_true(gd_retry_sleep(10000, &cancel));
    assert_true(gd_mono() - t0 < 2.0);
    pthread_join(th, NULL);

    t0 = gd_mono();
    assert_true(gd_retry_sleep(10000, &cancel));
    assert_true(gd_mono() - t0 < 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_doubles_to_the_cap),
        cmocka_unit_test(jitter_stays_in_half_to_whole),
        cmocka_unit_test(budget_by_count),
        cmocka_unit_test(budget_by_time_shortens_the_last_pause),
        cmocka_unit_test(no_budget_never_gives_up),
        cmocka_unit_test(restart_after_progress),
        cmocka_unit_test(sleep_stops_on_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
