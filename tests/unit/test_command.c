/* Unit tests of the operations layer (src/command) that need no server:
 * restore's option check (restore points, where to restore, renames, the
 * time and GTID points, warnings as events), the number and list parsers,
 * the cancel token, and operations on an empty posix region (copy without
 * copy regions, verify and info with no set, cat of a missing object). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command/cat.h"
#include "command/copy.h"
#include "command/info.h"
#include "command/restore.h"
#include "command/verify.h"
#include "common/cancel.h"
#include "common/util.h"

/* ------------------------------------------------------------ helpers */

typedef struct events {
    int warnings, notes;
    char last[1024];
} events;

static void on_event(void *ctx, const gd_cmd_event *ev)
{
    events *e = ctx;
    if (ev->kind == GD_EVENT_WARNING)
        e->warnings++;
    else if (ev->kind == GD_EVENT_NOTE)
        e->notes++;
    if (ev->msg)
        gd_strlcpy(e->last, ev->msg, sizeof e->last);
}

/* A request that passes the check: latest, into a target. */
static gd_restore_request good_request(void)
{
    return (gd_restore_request){.instance = "shop",
                                .target = "db.example:3307",
                                .target_user = "root",
                                .target_password_file = "/dev/null",
                                .target_tls = {.prefix = "--target-ssl-"}};
}

/* Checks rq; returns the error message ("" when accepted). */
static const char *check(gd_restore_request *rq, events *ev)
{
    static gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx = {.on_event = on_event, .event_ctx = ev};
    int rc = gd_command_restore_check(&ctx, rq, &err);
    assert_true(rc == 0 || rc == GD_E_INVALID);
    return rc == 0 ? "" : err.msg;
}

/* ------------------------------------------------ restore: the request */

static void restore_accepts_latest_into_target(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.stop, GD_PITR_LATEST);
    assert_int_equal(rq.target_port, 3307);
    assert_int_equal(ev.warnings, 0);
    rq.target = "db.example"; /* no port: 3306 */
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.target_port, 3306);
}

static void restore_points(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    rq.instance = NULL;
    assert_string_equal(check(&rq, &ev), "name one instance");
    rq = good_request();
    rq.points = 2;
    rq.fastest = true;
    rq.set = "20260101T000000Z";
    assert_string_equal(check(&rq, &ev),
                        "choose one of --latest, --time, --gtid, --fastest, --set");
    rq = good_request();
    rq.points = 1;
    rq.fastest = true;
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.stop, GD_PITR_NONE);
    rq = good_request();
    rq.points = 1;
    rq.set = "20260101T000000Z";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.stop, GD_PITR_NONE);
    rq = good_request();
    rq.points = 1;
    rq.time = "2026-01-02 03:04:05 +02:00";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.stop, 1767323045LL - 7200);
    rq = good_request();
    rq.points = 1;
    rq.time = "yesterday";
    assert_non_null(strstr(check(&rq, &ev), "--time 'yesterday': expected"));
    rq = good_request();
    rq.points = 1;
    rq.gtid = "0-1-42,1-2-7";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.stop, GD_PITR_LATEST);
    assert_int_equal(rq.stop_gtid.n, 2);
    rq = good_request();
    rq.points = 1;
    rq.gtid = "";
    assert_non_null(strstr(check(&rq, &ev), "--gtid "));
    rq.gtid = "not-a-gtid";
    assert_non_null(strstr(check(&rq, &ev), "--gtid "));
}

static void restore_where(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    rq.target = NULL;
    assert_non_null(strstr(check(&rq, &ev), "choose where to restore"));
    rq = good_request();
    rq.new_instance = "/tmp/x";
    rq.port = 3310;
    assert_non_null(strstr(check(&rq, &ev), "choose where to restore"));
    rq = good_request();
    rq.target_user = NULL;
    assert_string_equal(check(&rq, &ev), "--target needs --target-user and --target-password-file");
    rq = good_request();
    rq.target_password_file = NULL;
    assert_string_equal(check(&rq, &ev), "--target needs --target-user and --target-password-file");
    rq = good_request();
    rq.target = "db:99999";
    assert_string_equal(check(&rq, &ev), "--target HOST:PORT: the port must be 1-65535");
    rq.target = "db:abc";
    assert_string_equal(check(&rq, &ev), "--target HOST:PORT: the port must be 1-65535");
    rq = good_request();
    rq.target = NULL;
    rq.target_user = rq.target_password_file = NULL;
    rq.new_instance = "/tmp/x";
    assert_string_equal(check(&rq, &ev), "--new-instance needs --port P");
    rq.port = 3310;
    assert_string_equal(check(&rq, &ev), "");
    rq.target_tls_given = true;
    assert_non_null(strstr(check(&rq, &ev), "--target-ssl-* apply to --target only"));
}

static void restore_reset_target(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    rq.reset_target = true;
    rq.target_user = NULL;
    assert_string_equal(check(&rq, &ev), "--reset-target needs --target, --target-user and "
                                         "--target-password-file");
    /* With what it needs, nothing else is asked for (no point, no where). */
    rq = good_request();
    rq.reset_target = true;
    rq.time = "garbage";
    rq.points = 1;
    assert_string_equal(check(&rq, &ev), "");
}

static void restore_renames(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    rq.renames = "shop=shop_copy,,crm=crm2";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(rq.load.nrenames, 2);
    assert_string_equal(rq.load.rename_from[0], "shop");
    assert_string_equal(rq.load.rename_to[0], "shop_copy");
    assert_string_equal(rq.load.rename_from[1], "crm");
    assert_string_equal(rq.load.rename_to[1], "crm2");
    gd_command_restore_request_free(&rq);
    assert_null(rq.load.rename_from);
    const char *bad[] = {"=x", "a=", "ab", "a=b,c"};
    const char *named[] = {"'=x'", "'a='", "'ab'", "'c'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rq = good_request();
        rq.renames = bad[i];
        const char *msg = check(&rq, &ev);
        assert_non_null(strstr(msg, "--rename takes old=new, got "));
        assert_non_null(strstr(msg, named[i]));
        gd_command_restore_request_free(&rq); /* no leak of the pairs before */
    }
}

static void restore_warnings(void **state)
{
    (void)state;
    events ev = {0};
    gd_restore_request rq = good_request();
    rq.replay_host = "10.0.0.2";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(ev.warnings, 1); /* the pinned certificate over a plain connection */
    assert_non_null(strstr(ev.last, "--target-ssl-mode preferred"));
    rq.target_tls.mode = GD_TLS_VERIFY_CA;
    rq.target_tls.ca = "/dev/null";
    assert_string_equal(check(&rq, &ev), "");
    assert_int_equal(ev.warnings, 1);
    assert_non_null(gd_command_restore_replay_host_warning("0.0.0.0"));
    assert_non_null(gd_command_restore_replay_host_warning("::"));
    assert_null(gd_command_restore_replay_host_warning("10.0.0.2"));
    assert_null(gd_command_restore_replay_host_warning(NULL));
}

static void restore_parse_time(void **state)
{
    (void)state;
    long long t = 0;
    assert_int_equal(gd_command_restore_parse_time("2026-01-02 03:04:05", &t, NULL), 0);
    assert_int_equal(t, 1767323045LL);
    assert_int_equal(gd_command_restore_parse_time("2026-01-02T03:04:05Z", &t, NULL), 0);
    assert_int_equal(t, 1767323045LL);
    assert_int_equal(gd_command_restore_parse_time("2026-01-02 03:04:05.999999 UTC", &t, NULL), 0);
    assert_int_equal(t, 1767323045LL);
    assert_int_equal(gd_command_restore_parse_time("2026-01-02 03:04:05-01:30", &t, NULL), 0);
    assert_int_equal(t, 1767323045LL + 5400);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_command_restore_parse_time("2026-01-02 03:04:05 +25:00", &t, &e),
                     GD_E_INVALID);
    assert_non_null(strstr(e.msg, "bad zone offset"));
    gd_err_clear(&e);
    assert_int_equal(gd_command_restore_parse_time("2026-01-02 03:04:05 CET", &t, &e),
                     GD_E_INVALID);
    assert_non_null(strstr(e.msg, "unexpected 'CET' at the end"));
}

/* ------------------------------------------------ parsers, cancel token */

static void parsers(void **state)
{
    (void)state;
    long long v = 0;
    assert_true(gd_command_int("42", 1, 256, &v));
    assert_int_equal(v, 42);
    assert_false(gd_command_int("0", 1, 256, &v));
    assert_false(gd_command_int("5abc", 1, 256, &v));
    assert_false(gd_command_int("", 1, 256, &v));
    assert_false(gd_command_int("99999999999999999999", 1, 256, &v));
    double d = 0;
    assert_true(gd_command_real("0.5", 0.1, 300, &d));
    assert_false(gd_command_real("nan", 0.1, 300, &d));
    assert_false(gd_command_real("301", 0.1, 300, &d));
    size_t n = 0;
    char **s = gd_command_split(",a,,bc,", &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[0], "a");
    assert_string_equal(s[1], "bc");
    gd_strv_free(s, n);
}

static void cancel_token(void **state)
{
    (void)state;
    gd_cancel c = {0};
    assert_false(gd_cancel_requested(NULL));
    assert_false(gd_cancel_requested(&c));
    gd_cancel_request(&c);
    gd_cancel_request(&c);
    assert_true(gd_cancel_requested(&c));
}

/* ------------------------------------- operations on an empty region */

typedef struct fixture {
    char dir[64];
    gd_config *cfg;
    gd_command_ctx ctx;
} fixture;

static int setup(void **state)
{
    fixture *f = gd_calloc(1, sizeof *f);
    gd_strlcpy(f->dir, "/tmp/gd_test_command_XXXXXX", sizeof f->dir);
    if (mkdtemp(f->dir) == NULL)
        return -1;
    char *conf = gd_asprintf("%s/geodr.conf", f->dir);
    char *text = gd_asprintf("[region home]\ntype = posix\npath = %s\n\n"
                             "[instance shop]\nuser = geodr\nsocket = /nonexistent.sock\n"
                             "password-env = GD_TEST_COMMAND_PW\nhome-region = home\n",
                             f->dir);
    FILE *fp = fopen(conf, "w");
    if (fp == NULL)
        return -1;
    fputs(text, fp);
    fclose(fp);
    int rc = gd_config_load(conf, &f->cfg, NULL);
    free(conf);
    free(text);
    f->ctx = (gd_command_ctx){.cfg = f->cfg};
    *state = f;
    return rc;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char *cmd = gd_asprintf("rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", f->dir);
    free(cmd);
    gd_config_free(f->cfg);
    free(f);
    return 0;
}

static void copy_needs_copy_regions(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_copy_report r;
    assert_int_equal(gd_command_copy(&f->ctx, "shop", 0, &r, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "instance shop has no copy regions"));
    assert_int_equal(r.n, 0);
    gd_copy_report_free(&r);
    gd_err_clear(&e);
    assert_int_equal(gd_command_copy(&f->ctx, "nope", 0, &r, &e), GD_E_NOTFOUND);
    gd_copy_report_free(&r);
}

static void empty_region(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    /* Nothing of the instance in the region: info lists it with no set. */
    json_t *all = NULL, *released = NULL;
    assert_int_equal(gd_command_info(&f->ctx, "shop", true, &all, &released, &e), 0);
    assert_int_equal(json_array_size(all), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(all, 0), "sets")), 0);
    assert_int_equal(json_array_size(released), 0);
    json_decref(all);
    json_decref(released);
    gd_err_clear(&e);
    assert_int_equal(gd_command_info(&f->ctx, "nope", false, &all, &released, &e), GD_E_NOTFOUND);
    assert_null(all);
    /* verify: nothing to verify is a failure, not "verified". */
    gd_verify_outcome out;
    gd_err_clear(&e);
    assert_int_not_equal(gd_command_verify(&f->ctx, "shop", NULL, NULL, &out, &e), 0);
    gd_verify_outcome_free(&out);
}

static int never_called(void *wctx, const void *buf, size_t n, gd_err *err)
{
    (void)wctx;
    (void)buf;
    (void)n;
    (void)err;
    fail();
    return 0;
}

static void cat_missing_object(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    assert_int_not_equal(gd_command_cat(&f->ctx, "shop", NULL, "binlog/000000000001.binlog.zst",
                                        never_called, NULL, &e),
                         0);
    assert_true(e.msg[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restore_accepts_latest_into_target),
        cmocka_unit_test(restore_points),
        cmocka_unit_test(restore_where),
        cmocka_unit_test(restore_reset_target),
        cmocka_unit_test(restore_renames),
        cmocka_unit_test(restore_warnings),
        cmocka_unit_test(restore_parse_time),
        cmocka_unit_test(parsers),
        cmocka_unit_test(cancel_token),
        cmocka_unit_test_setup_teardown(copy_needs_copy_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_region, setup, teardown),
        cmocka_unit_test_setup_teardown(cat_missing_object, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
