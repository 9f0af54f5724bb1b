/* Unit tests of the server's backup schedule (server/schedule.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/defaults.h"
#include "server/schedule.h"

#define D0 1764460800LL /* 2025-11-30 00:00:00 UTC */
#define AT(h, m) (D0 + (h)*3600LL + (m)*60LL)

static void parse_windows(void **state)
{
    (void)state;
    gd_backup_window w;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_backup_window_parse("02:00-03:00", &w, &e), 0);
    assert_int_equal(w.start_min, 120);
    assert_int_equal(w.end_min, 180);
    assert_int_equal(gd_backup_window_parse("23:30Z-00:30Z", &w, &e), 0);
    assert_int_equal(w.start_min, 23 * 60 + 30);
    char t[16];
    gd_backup_window_format(&w, t, sizeof t);
    assert_string_equal(t, "23:30-00:30");
    const char *bad[] = {"",      "2:00-3:00",    "24:00-01:00", "02:60-03:00",
                         "02:00", "02:00-03:00x", "02:00-02:00", "02:00 - 03:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_err_clear(&e);
        assert_int_equal(gd_backup_window_parse(bad[i], &w, &e), GD_E_INVALID);
        assert_non_null(strstr(e.msg, "backup window"));
    }
}

/* The default start lies in 01:00-05:00, is fixed per name, and differs
 * between names (most of the time). */
static void default_window(void **state)
{
    (void)state;
    gd_backup_window a, b, c;
    gd_backup_window_default("shop", &a);
    gd_backup_window_default("shop", &b);
    assert_memory_equal(&a, &b, sizeof a);
    int distinct = 0;
    const char *names[] = {"shop", "crm", "billing", "erp", "wiki", "auth"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        gd_backup_window_default(names[i], &c);
        assert_true(c.start_min >= 60 && c.start_min < 300);
        assert_int_equal((c.end_min - c.start_min + 1440) % 1440, 60);
        distinct += c.start_min != a.start_min;
    }
    assert_true(distinct >= 3);
}

static void next_backup(void **state)
{
    (void)state;
    gd_backup_window w = {.start_min = 120, .end_min = 180}; /* 02:00-03:00 */
    const int64_t R = GD_DEFAULT_BACKUP_RETRY_S;
    /* none yet: at once */
    gd_backup_history h = {0};
    assert_int_equal(gd_backup_next(&w, &h, AT(14, 0), R), AT(14, 0));
    /* today's done at 02:05: tomorrow 02:00 */
    h = (gd_backup_history){.last_success_s = AT(2, 5), .last_attempt_s = AT(2, 0)};
    assert_int_equal(gd_backup_next(&w, &h, AT(14, 0), R), AT(26, 0));
    /* yesterday's only, now 01:59: today's 02:00 */
    h = (gd_backup_history){.last_success_s = AT(2, 5) - 86400, .last_attempt_s = AT(2, 0) - 86400};
    assert_int_equal(gd_backup_next(&w, &h, AT(1, 59), R), AT(2, 0));
    /* ... and at 02:00 it is due */
    assert_int_equal(gd_backup_next(&w, &h, AT(2, 0), R), AT(2, 0));
    /* a window missed while the server was down: caught up at once */
    assert_int_equal(gd_backup_next(&w, &h, AT(9, 30), R), AT(9, 30));
    /* failed at 02:00: every 20 minutes until one succeeds */
    h = (gd_backup_history){
        .last_success_s = AT(2, 5) - 86400, .last_attempt_s = AT(2, 0), .last_failed = true};
    assert_int_equal(gd_backup_next(&w, &h, AT(2, 1), R), AT(2, 20));
    h.last_attempt_s = AT(2, 20);
    assert_int_equal(gd_backup_next(&w, &h, AT(2, 25), R), AT(2, 40));
    /* never succeeded, failing: retries too */
    h = (gd_backup_history){.last_attempt_s = AT(5, 0), .last_failed = true};
    assert_int_equal(gd_backup_next(&w, &h, AT(5, 1), R), AT(5, 20));
    /* an on-demand backup before the window does not replace the daily one */
    h = (gd_backup_history){.last_success_s = AT(1, 30), .last_attempt_s = AT(1, 29)};
    assert_int_equal(gd_backup_next(&w, &h, AT(1, 45), R), AT(2, 0));
}

/* A window that crosses midnight: its start is the previous day's until
 * the clock reaches it again. */
static void across_midnight(void **state)
{
    (void)state;
    gd_backup_window w = {.start_min = 23 * 60 + 30, .end_min = 30};
    assert_int_equal(gd_backup_window_last_start(&w, AT(0, 10)), AT(23, 30) - 86400);
    assert_int_equal(gd_backup_window_last_start(&w, AT(23, 30)), AT(23, 30));
    gd_backup_history h = {.last_success_s = AT(23, 40) - 86400,
                           .last_attempt_s = AT(23, 30) - 86400};
    assert_int_equal(gd_backup_next(&w, &h, AT(0, 10), 1200), AT(23, 30));
    /* before the epoch's day boundary arithmetic: negative remainders */
    assert_int_equal(gd_backup_window_last_start(&w, 100), 23 * 3600 + 1800 - 86400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_windows),
        cmocka_unit_test(default_window),
        cmocka_unit_test(next_backup),
        cmocka_unit_test(across_midnight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
