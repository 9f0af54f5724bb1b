/* Unit tests of the API's parameter reads (server/params.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/params.h"

/* The request text as an object (the test's own JSON, always valid). */
static json_t *req(const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    assert_non_null(o);
    return o;
}

/* Asserts the answer is {"Code": code, "Message": containing msg}. */
static void assert_error(json_t *answer, const char *code, const char *msg)
{
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(answer, "Code")), code);
    const char *m = json_string_value(json_object_get(answer, "Message"));
    assert_non_null(m);
    if (!strstr(m, msg))
        fail_msg("message '%s' lacks '%s'", m, msg);
}

/* One integer read of `text`'s "Retention" in [7, 1825]; its error
 * message, or NULL when it was accepted (value in *v). */
static char *read_retention(const char *text, bool required, long long *v)
{
    json_t *o = req(text), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    *v = gd_param_int(&p, "Retention", required, 30, 7, 1825);
    int rc = gd_params_end(&p);
    char *msg = NULL;
    if (rc != 0) {
        assert_int_equal(rc, 400);
        msg = strdup(json_string_value(json_object_get(answer, "Message")));
    } else {
        assert_null(answer);
    }
    gd_params_free(&p);
    json_decref(answer);
    json_decref(o);
    return msg;
}

static void int_range_and_type(void **state)
{
    (void)state;
    long long v;
    assert_null(read_retention("{\"Retention\": 7}", true, &v));
    assert_int_equal(v, 7);
    assert_null(read_retention("{\"Retention\": 1825}", true, &v));
    assert_int_equal(v, 1825);
    assert_null(read_retention("{}", false, &v));
    assert_int_equal(v, 30);
    assert_null(read_retention("{\"Retention\": null}", false, &v));
    assert_int_equal(v, 30);
    char *m = read_retention("{\"Retention\": 3}", false, &v);
    assert_string_equal(m, "parameter 'Retention' must be an integer from 7 to 1825 (got 3)");
    free(m);
    m = read_retention("{\"Retention\": 1826}", false, &v);
    assert_non_null(strstr(m, "(got 1826)"));
    free(m);
    m = read_retention("{\"Retention\": \"30\"}", false, &v);
    assert_string_equal(m, "parameter 'Retention' must be an integer from 7 to 1825 (got \"30\")");
    free(m);
    m = read_retention("{\"Retention\": 30.0}", false, &v);
    assert_non_null(strstr(m, "must be an integer"));
    free(m);
    m = read_retention("{\"Retention\": -9223372036854775807}", false, &v);
    assert_non_null(strstr(m, "must be an integer"));
    free(m);
    m = read_retention("{}", true, &v);
    assert_string_equal(m, "parameter 'Retention' is required");
    free(m);
}

static void strings_bools_and_missing(void **state)
{
    (void)state;
    json_t *o = req("{\"DBInstanceId\": \"db1\", \"BackupEnabled\": false}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    assert_string_equal(gd_param_str(&p, "DBInstanceId", true), "db1");
    assert_false(gd_param_bool(&p, "BackupEnabled", true, true));
    assert_true(gd_param_bool(&p, "LogBackupEnabled", false, true));
    assert_null(gd_param_str(&p, "RegionId", false));
    assert_int_equal(gd_params_end(&p), 0);
    gd_params_free(&p);
    json_decref(o);

    const char *bad[][2] = {
        {"{\"DBInstanceId\": \"\"}", "parameter 'DBInstanceId' must be a non-empty string"},
        {"{\"DBInstanceId\": 5}", "must be a non-empty string (got 5)"},
        {"{\"DBInstanceId\": \"a\\u0000b\"}", "must be a non-empty string"},
        {"{\"DBInstanceId\": \"x\", \"BackupEnabled\": \"yes\"}",
         "parameter 'BackupEnabled' must be true or false (got \"yes\")"},
        {"{\"DBInstanceId\": \"x\", \"BackupEnabled\": 1}", "must be true or false (got 1)"},
        {"{\"BackupEnabled\": true}", "parameter 'DBInstanceId' is required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        o = json_loads(bad[i][0], JSON_ALLOW_NUL, &je);
        assert_non_null(o);
        answer = NULL;
        gd_params_begin(&p, o, &answer);
        gd_param_str(&p, "DBInstanceId", true);
        gd_param_bool(&p, "BackupEnabled", false, true);
        assert_int_equal(gd_params_end(&p), 400);
        assert_error(answer,
                     strstr(bad[i][1], "required") ? "MissingParameter" : "InvalidParameter",
                     bad[i][1]);
        json_decref(answer);
        json_decref(o);
    }
}

/* The first error is the one answered; later reads give their defaults. */
static void first_error_wins(void **state)
{
    (void)state;
    json_t *o = req("{\"A\": \"x\", \"B\": \"y\"}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_param_int(&p, "A", true, 1, 0, 9), 1);
    assert_int_equal(gd_param_int(&p, "B", true, 2, 0, 9), 2);
    assert_int_equal(gd_params_end(&p), 400);
    assert_error(answer, "InvalidParameter", "parameter 'A'");
    json_decref(answer);
    json_decref(o);
}

static void enums(void **state)
{
    (void)state;
    static const char *const types[] = {"BackupSet", "BackupTime", "Latest", "Fastest", NULL};
    json_t *o = req("{\"RestoreType\": \"Latest\"}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_param_enum(&p, "RestoreType", true, -1, types), 2);
    assert_int_equal(gd_params_end(&p), 0);
    json_decref(o);

    const char *bad[] = {"{\"RestoreType\": \"latest\"}", "{\"RestoreType\": 2}",
                         "{\"RestoreType\": [\"Latest\"]}"};
    for (size_t i = 0; i < 3; i++) {
        o = req(bad[i]);
        gd_params_begin(&p, o, &answer);
        assert_int_equal(gd_param_enum(&p, "RestoreType", true, -1, types), -1);
        assert_int_equal(gd_params_end(&p), 400);
        assert_error(answer, "InvalidParameter",
                     "parameter 'RestoreType' must be one of BackupSet, BackupTime, Latest, "
                     "Fastest (got ");
        json_decref(answer);
        answer = NULL;
        json_decref(o);
    }
}

static void time_format(void **state)
{
    (void)state;
    long long t;
    assert_true(gd_params_time_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(gd_params_time_parse("2026-11-30T13:05:09Z", &t));
    assert_int_equal(t, 1796043909);
    assert_true(gd_params_time_parse("2024-02-29T23:59:59Z", &t));
    assert_int_equal(t, 1709251199);
    assert_true(gd_params_time_parse("2000-02-29T00:00:00Z", &t));
    assert_true(gd_params_time_parse("9999-12-31T23:59:59Z", &t));
    assert_int_equal(t, 253402300799);
    const char *bad[] = {
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
        "2026-01-01 00:00:00Z", "2026-01-01T00:00:00",  "2026-01-01T00:00:00+00:00",
        "2026-1-01T00:00:00Z",  "1969-12-31T23:59:59Z", "2026-01-01T00:00:00z",
        "+026-01-01T00:00:00Z", "2026-01-01T0a:00:00Z", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gd_params_time_parse(bad[i], &t))
            fail_msg("'%s' was accepted", bad[i]);

    json_t *o = req("{\"RestoreTime\": \"2026-11-30T13:05:09Z\"}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_param_time(&p, "RestoreTime", true, -1), 1796043909);
    assert_int_equal(gd_params_end(&p), 0);
    json_decref(o);
    o = req("{\"RestoreTime\": \"2026-13-30T13:05:09Z\"}");
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_param_time(&p, "RestoreTime", true, -1), -1);
    assert_int_equal(gd_params_end(&p), 400);
    assert_error(answer, "InvalidParameter",
                 "parameter 'RestoreTime' must be a UTC time yyyy-MM-ddTHH:mm:ssZ");
    assert_error(answer, "InvalidParameter", "(got \"2026-13-30T13:05:09Z\")");
    json_decref(answer);
    json_decref(o);
}

static void arrays_and_maps(void **state)
{
    (void)state;
    json_t *o = req("{\"Tables\": [\"db.t1\", \"db.t2\"], \"Rename\": {\"db\": \"db2\", \"x\": "
                    "\"y\"}}"),
           *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    size_t n, m;
    const char **t = gd_param_strv(&p, "Tables", true, &n);
    const char **k, **v;
    assert_true(gd_param_map(&p, "Rename", true, &k, &v, &m));
    assert_int_equal(gd_params_end(&p), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[0], "db.t1");
    assert_string_equal(t[1], "db.t2");
    assert_int_equal(m, 2);
    assert_string_equal(k[0], "db");
    assert_string_equal(v[0], "db2");
    assert_string_equal(k[1], "x");
    assert_string_equal(v[1], "y");
    gd_params_free(&p);
    json_decref(o);

    const char *bad[][2] = {
        {"{\"Tables\": \"db.t1\"}", "parameter 'Tables' must be an array of non-empty strings"},
        {"{\"Tables\": [\"a\", 1]}", "must be an array of non-empty strings (got [\"a\",1])"},
        {"{\"Tables\": [\"\"]}", "parameter 'Tables' must be an array"},
        {"{\"Tables\": [], \"Rename\": [\"a\"]}", "parameter 'Rename' must be an object"},
        {"{\"Tables\": [], \"Rename\": {\"a\": 1}}", "parameter 'Rename' must be an object"},
        {"{\"Tables\": [], \"Rename\": {\"\": \"b\"}}", "parameter 'Rename' must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = req(bad[i][0]);
        answer = NULL;
        gd_params_begin(&p, o, &answer);
        gd_param_strv(&p, "Tables", true, &n);
        gd_param_map(&p, "Rename", false, &k, &v, &m);
        assert_int_equal(gd_params_end(&p), 400);
        assert_error(answer, "InvalidParameter", bad[i][1]);
        gd_params_free(&p);
        json_decref(answer);
        json_decref(o);
    }
    /* an empty array is an array; a long value is cut when quoted back */
    o = req("{\"Tables\": [], \"X\": 1}");
    gd_params_begin(&p, o, &answer);
    assert_non_null(gd_param_strv(&p, "Tables", true, &n));
    assert_int_equal(n, 0);
    gd_params_free(&p);
    json_decref(o);
    o = req(
        "{\"Tables\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
    gd_params_begin(&p, o, &answer);
    gd_param_strv(&p, "Tables", true, &n);
    assert_int_equal(gd_params_end(&p), 400);
    assert_error(answer, "InvalidParameter", "aaaa...)");
    json_decref(answer);
    json_decref(o);
}

static void unknown_parameters(void **state)
{
    (void)state;
    json_t *o = req("{\"DBInstanceId\": \"db1\", \"Retension\": 7}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    gd_param_str(&p, "DBInstanceId", true);
    gd_param_int(&p, "Retention", false, 7, 7, 1825);
    assert_int_equal(gd_params_end(&p), 400);
    assert_error(answer, "UnknownParameter",
                 "unknown parameter 'Retension'; this operation takes: DBInstanceId, Retention");
    json_decref(answer);
    answer = NULL;
    /* an operation without parameters says so */
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_params_end(&p), 400);
    assert_error(answer, "UnknownParameter",
                 "unknown parameter 'DBInstanceId'; this operation takes no parameters");
    json_decref(answer);
    json_decref(o);
    /* null unknown parameters are still unknown; an empty request is fine */
    o = req("{\"Foo\": null}");
    answer = NULL;
    gd_params_begin(&p, o, &answer);
    assert_int_equal(gd_params_end(&p), 400);
    json_decref(answer);
    json_decref(o);
    o = req("{}");
    answer = NULL;
    gd_params_begin(&p, o, &answer);
    assert_null(gd_param_str(&p, "DBInstanceId", false));
    assert_int_equal(gd_params_end(&p), 0);
    assert_null(answer);
    json_decref(o);
}

/* Too many names is the operation's bug: a 500, not a crash. */
static void too_many_names(void **state)
{
    (void)state;
    static const char *names[GD_PARAMS_MAX + 1] = {0};
    static char buf[GD_PARAMS_MAX + 1][8];
    for (int i = 0; i <= GD_PARAMS_MAX; i++) {
        snprintf(buf[i], sizeof buf[i], "P%d", i);
        names[i] = buf[i];
    }
    json_t *o = req("{}"), *answer = NULL;
    gd_params p;
    gd_params_begin(&p, o, &answer);
    for (int i = 0; i <= GD_PARAMS_MAX; i++)
        gd_param_str(&p, names[i], false);
    assert_int_equal(gd_params_end(&p), 500);
    assert_error(answer, "InternalError", "more than");
    json_decref(answer);
    json_decref(o);
}

/* Random values of every type for every read: never a crash, always 0 or
 * a 400 with a message naming a parameter. */
static void fuzz_reads(void **state)
{
    (void)state;
    static const char *const vals[] = {"null",
                                       "true",
                                       "false",
                                       "0",
                                       "-1",
                                       "7",
                                       "1825",
                                       "99999999999999",
                                       "1.5",
                                       "\"\"",
                                       "\"x\"",
                                       "\"Latest\"",
                                       "\"2026-02-29T00:00:00Z\"",
                                       "\"2028-02-29T00:00:00Z\"",
                                       "[]",
                                       "[\"a\"]",
                                       "[1]",
                                       "{}",
                                       "{\"a\":\"b\"}",
                                       "{\"a\":1}",
                                       "\"\\u0000\""};
    static const char *const names[] = {"S", "I", "B", "E", "T", "V", "M", "Z"};
    static const char *const en[] = {"Latest", "Fastest", NULL};
    unsigned seed = 12;
    size_t nv = sizeof vals / sizeof vals[0];
    for (int it = 0; it < 3000; it++) {
        json_t *o = json_object(), *answer = NULL;
        for (size_t k = 0; k < 8; k++) {
            if (rand_r(&seed) % 3 == 0)
                continue;
            json_error_t je;
            json_object_set_new(o, names[k],
                                json_loads(vals[(size_t)rand_r(&seed) % nv],
                                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &je));
        }
        bool req_ = rand_r(&seed) % 2;
        gd_params p;
        gd_params_begin(&p, o, &answer);
        size_t n;
        const char **k, **v;
        gd_param_str(&p, "S", req_);
        gd_param_int(&p, "I", req_, 0, 0, 100);
        gd_param_bool(&p, "B", req_, false);
        gd_param_enum(&p, "E", req_, 0, en);
        gd_param_time(&p, "T", req_, 0);
        gd_param_strv(&p, "V", req_, &n);
        gd_param_map(&p, "M", req_, &k, &v, &n);
        int rc = gd_params_end(&p);
        assert_true(rc == 0 || rc == 400);
        if (rc)
            assert_non_null(
                strstr(json_string_value(json_object_get(answer, "Message")), "parameter '"));
        else
            assert_null(answer);
        gd_params_free(&p);
        json_decref(answer);
        json_decref(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_range_and_type), cmocka_unit_test(strings_bools_and_missing),
        cmocka_unit_test(first_error_wins),   cmocka_unit_test(enums),
        cmocka_unit_test(time_format),        cmocka_unit_test(arrays_and_maps),
        cmocka_unit_test(unknown_parameters), cmocka_unit_test(too_many_names),
        cmocka_unit_test(fuzz_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
