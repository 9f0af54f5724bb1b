/* Unit tests of the commit-time lists of segment records (repo/segment.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "repo/segment.h"

/* The deltas of transactions 0..n-1 of a record with the given list. */
static int deltas(const char *list, unsigned n, uint32_t *out, gd_err *err)
{
    json_t *rec = json_pack("{s:s}", "commit_times", list);
    gd_ctimes_reader r;
    int rc = gd_ctimes_open(&r, rec, err);
    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = gd_ctimes_delta(&r, i, &out[i], err);
    json_decref(rec);
    return rc;
}

static void write_then_read(void **state)
{
    (void)state;
    gd_ctimes_writer w;
    gd_ctimes_writer_init(&w);
    gd_err err;
    gd_err_clear(&err);
    assert_string_equal(gd_ctimes_str(&w), "");
    assert_int_equal(gd_ctimes_add(&w, 0, 0, &err), 0); /* nothing to record */
    assert_int_equal(gd_ctimes_add(&w, 2, 6, &err), 0);
    assert_int_equal(gd_ctimes_add(&w, 3, 1, &err), 0);
    assert_int_equal(gd_ctimes_add(&w, 9, 4000000, &err), 0);
    assert_string_equal(gd_ctimes_str(&w), "2:6,0:1,5:4000000");
    assert_int_equal(gd_ctimes_add(&w, 9, 1, &err), GD_E_INVALID); /* out of order */
    uint32_t d[12];
    assert_int_equal(deltas(gd_ctimes_str(&w), 12, d, &err), 0);
    uint32_t want[12] = {0, 0, 6, 1, 0, 0, 0, 0, 0, 4000000, 0, 0};
    assert_memory_equal(d, want, sizeof want);
    gd_ctimes_writer_free(&w);
}

static void legacy_record(void **state)
{
    (void)state;
    json_t *rec = json_pack("{s:s}", "format", "geodr-segment");
    gd_ctimes_reader r;
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_ctimes_open(&r, rec, &err), 0);
    uint32_t d = 7;
    assert_int_equal(gd_ctimes_delta(&r, 0, &d, &err), 0);
    assert_int_equal(d, 0); /* the GTID event's second, as before */
    assert_int_equal(gd_ctimes_how(rec), 0);
    gd_ctimes_set(rec, "", GD_CT_EVENTS | GD_CT_RECEIVED);
    assert_int_equal(gd_ctimes_how(rec), GD_CT_EVENTS | GD_CT_RECEIVED);
    assert_string_equal(json_string_value(json_object_get(rec, "commit_time")), "mixed");
    json_decref(rec);
}

/* Compaction: the lists of consecutive records, renumbered. */
static void append_renumbers(void **state)
{
    (void)state;
    json_t *a = json_pack("{s:s}", "commit_times", "0:2,1:3"); /* 0, 2 of 4 */
    json_t *b = json_pack("{s:s}", "format", "geodr-segment"); /* none of 3 */
    json_t *c = json_pack("{s:s}", "commit_times", "1:9");     /* 1 of 2 */
    gd_ctimes_writer w;
    gd_ctimes_writer_init(&w);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_ctimes_append(&w, a, 0, &err), 0);
    assert_int_equal(gd_ctimes_append(&w, b, 4, &err), 0);
    assert_int_equal(gd_ctimes_append(&w, c, 7, &err), 0);
    assert_string_equal(gd_ctimes_str(&w), "0:2,1:3,5:9"); /* transactions 0, 2, 8 */
    gd_ctimes_writer_free(&w);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void malformed(void **state)
{
    (void)state;
    const char *bad[] = {"x",       "1",    "1:",       ":1",   "1:0",           "1:2,",
                         "1:2;3:4", "-1:2", "1:2,,3:4", " 1:2", "99999999999:1", "1:99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_err err;
        gd_err_clear(&err);
        uint32_t d[4];
        assert_int_equal(deltas(bad[i], 4, d, &err), GD_E_CORRUPT);
        assert_non_null(strstr(err.msg, "commit_times"));
    }
}

/* The check restore runs before touching the target. */
static void check_whole_list(void **state)
{
    (void)state;
    struct {
        const char *list;
        int txns, rc;
    } cases[] = {
        {"", 0, 0},
        {"2:6,0:1", 4, 0},
        {"2:6,0:1", 3, GD_E_CORRUPT},
        {"0:1", 0, GD_E_CORRUPT},
        {"1:2,x", 9, GD_E_CORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *rec = json_pack("{s:s, s:i, s:s}", "commit_times", cases[i].list, "transactions",
                                cases[i].txns, "object", "000000000007.binlog.zst");
        gd_err err;
        gd_err_clear(&err);
        assert_int_equal(gd_ctimes_check(rec, &err), cases[i].rc);
        if (cases[i].rc != 0)
            assert_non_null(strstr(err.msg, "segment 000000000007.binlog.zst"));
        json_decref(rec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_then_read),  cmocka_unit_test(legacy_record),
        cmocka_unit_test(append_renumbers), cmocka_unit_test(malformed),
        cmocka_unit_test(check_whole_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
