/* Unit tests of binlog segment records (repo/segment.h): decoding and
 * validating them where they enter the repository, writing and reading them
 * back, hostile records, and their commit-time lists. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region_fixture.h"
#include "repo/repo_intern.h"
#include "repo/segment.h"

/* The deltas of transactions 0..n-1 of a record with the given list. */
static int deltas(const char *list, unsigned n, uint32_t *out, gd_err *err)
{
    gd_segment rec = {.commit_times = (char *)list, .object = (char *)"shop/binlog/x"};
    gd_ctimes_reader r;
    int rc = gd_ctimes_open(&r, &rec, err);
    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = gd_ctimes_delta(&r, i, &out[i], err);
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
    gd_segment rec = {0}; /* a record without commit times */
    gd_ctimes_reader r;
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_ctimes_open(&r, &rec, &err), 0);
    uint32_t d = 7;
    assert_int_equal(gd_ctimes_delta(&r, 0, &d, &err), 0);
    assert_int_equal(d, 0); /* the GTID event's second, as before */
}

/* Compaction: the lists of consecutive records, renumbered. */
static void append_renumbers(void **state)
{
    (void)state;
    gd_segment a = {.commit_times = (char *)"0:2,1:3"}; /* 0, 2 of 4 */
    gd_segment b = {0};                                 /* none of 3 */
    gd_segment c = {.commit_times = (char *)"1:9"};     /* 1 of 2 */
    gd_ctimes_writer w;
    gd_ctimes_writer_init(&w);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_ctimes_append(&w, &a, 0, &err), 0);
    assert_int_equal(gd_ctimes_append(&w, &b, 4, &err), 0);
    assert_int_equal(gd_ctimes_append(&w, &c, 7, &err), 0);
    assert_string_equal(gd_ctimes_str(&w), "0:2,1:3,5:9"); /* transactions 0, 2, 8 */
    gd_ctimes_writer_free(&w);
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
        gd_segment rec = {.commit_times = (char *)cases[i].list,
                          .transactions = (uint64_t)cases[i].txns,
                          .object = (char *)"shop/binlog/000000000007.binlog.zst"};
        gd_err err;
        gd_err_clear(&err);
        assert_int_equal(gd_ctimes_check(&rec, &err), cases[i].rc);
        if (cases[i].rc != 0)
            assert_non_null(strstr(err.msg, "segment shop/binlog/000000000007.binlog.zst"));
    }
}

/* ---- records ---- */

/* A record as the archiver writes it: segment 7, two domains. */
static void sample(fx_region *f, gd_segment *s, unsigned long long first, unsigned long long seq)
{
    char *ext = first == seq ? gd_strdup(".segment") : gd_asprintf("-%012llu.segment", seq);
    char *oext = first == seq ? gd_asprintf(".binlog%s", gd_repo_suffix(f->r))
                              : gd_asprintf("-%012llu.binlog%s", seq, gd_repo_suffix(f->r));
    *s = (gd_segment){.first_seq = first,
                      .seq = seq,
                      .record = gd_repo_segment_name(f->r, first, ext),
                      .object = gd_repo_segment_name(f->r, first, oext),
                      .first_gtid = {0, 1, 41},
                      .last_gtid = {1, 2, 7},
                      .first_time_s = FX_T0 + 5,
                      .last_time_s = FX_T0 + 9,
                      .transactions = 3,
                      .events = 12,
                      .raw_size = 4096,
                      .size = 1000,
                      .commit_times = gd_strdup("1:4"),
                      .ct_how = GD_CT_RECEIVED,
                      .created_s = first == seq ? 0 : FX_T0 + 100};
    free(ext);
    free(oext);
    memset(s->sha256, 'a', 64);
    gd_gtid_pos prev, pos;
    assert_int_equal(gd_gtid_pos_parse("0-1-40,1-2-5", &prev, NULL), 0);
    assert_int_equal(gd_gtid_pos_parse("0-1-43,1-2-7", &pos, NULL), 0);
    gd_segment_set_pos(s, &prev, &pos);
}

static void assert_same(const gd_segment *a, const gd_segment *b)
{
    assert_int_equal(a->first_seq, b->first_seq);
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->record, b->record);
    assert_string_equal(a->object, b->object);
    assert_memory_equal(&a->first_gtid, &b->first_gtid, sizeof a->first_gtid);
    assert_memory_equal(&a->last_gtid, &b->last_gtid, sizeof a->last_gtid);
    assert_int_equal(a->nprev, b->nprev);
    assert_int_equal(a->npos, b->npos);
    assert_memory_equal(a->gtids, b->gtids, (a->nprev + a->npos) * sizeof *a->gtids);
    assert_int_equal(a->first_time_s, b->first_time_s);
    assert_int_equal(a->last_time_s, b->last_time_s);
    assert_int_equal(a->transactions, b->transactions);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->raw_size, b->raw_size);
    assert_int_equal(a->size, b->size);
    assert_string_equal(a->sha256, b->sha256);
    assert_string_equal(a->commit_times, b->commit_times);
    assert_int_equal(a->ct_how, b->ct_how);
    assert_int_equal(a->created_s, b->created_s);
}

/* What is written reads back equal, plain and merged; the listing puts a
 * merged record in the chain and what it covers aside. */
static void round_trip(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    gd_segment w[3], r;
    sample(f, &w[0], 7, 7);
    sample(f, &w[1], 8, 8);
    sample(f, &w[2], 7, 8);
    gd_err e;
    gd_err_clear(&e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gd_segment_write(f->r, &w[i], &e), 0);
        assert_int_equal(gd_segment_read(f->r, w[i].record, &r, &e), 0);
        assert_same(&w[i], &r);
        gd_segment_free(&r);
    }
    char text[128];
    gd_segment_pos_text(&w[0], text, sizeof text);
    assert_string_equal(text, "0-1-43,1-2-7");
    gd_segments live, cov;
    assert_int_equal(gd_repo_list_segments(f->r, &live, &cov, &e), 0);
    assert_int_equal(live.n, 1);
    assert_int_equal(cov.n, 2);
    assert_same(&live.v[0], &w[2]);
    assert_true(gd_segment_covers(&live.v[0], &cov.v[0]));
    assert_true(live.v[0].mtime_us > 0);
    gd_segments_free(&live);
    gd_segments_free(&cov);
    /* the listing alone: counters, names, no contents */
    assert_int_equal(gd_repo_list_segment_ranges(f->r, &live, &cov, &e), 0);
    assert_int_equal(live.n, 1);
    assert_true(live.v[0].listed_only);
    assert_string_equal(live.v[0].object, w[2].object);
    gd_segments_free(&live);
    gd_segments_free(&cov);
    for (int i = 0; i < 3; i++)
        gd_segment_free(&w[i]);
    fx_close(f);
}

/* Records that must not be used: each is refused where it enters, with a
 * message naming it, and the listing fails rather than skip it. */
static void hostile_records(void **state)
{
    (void)state;
    struct {
        const char *key;
        json_t *value; /* NULL: remove the key */
    } cases[] = {
        {"seq", json_string("7")},
        {"seq", json_integer(8)},
        {"seq", NULL},
        {"first_seq", json_integer(7)}, /* allowed (equal) */
        {"first_seq", json_integer(6)},
        {"object", json_string("../other/binlog/000000000007.binlog")},
        {"object", json_string("000000000008.binlog.zst")},
        {"object", json_string("000000000007.binlog")},
        {"object", json_string("/etc/passwd")},
        {"object", json_integer(1)},
        {"size", json_integer(-1)},
        {"size", json_real(1.5)},
        {"raw_size", json_string("4096")},
        {"raw_size", NULL},
        {"transactions", json_integer(-3)},
        {"transactions", NULL},
        {"events", json_integer(-1)},
        {"first_time_s", json_integer(-5)},
        {"last_time_s", json_string("now")},
        {"gtid_pos", json_string("0-1")},
        {"gtid_pos", json_integer(43)},
        {"prev_gtid_pos", NULL},
        {"first_gtid", json_string("0-1-1,1-1-1")},
        {"sha256", json_string("00")},
        {"sha256", json_string("ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")},
        {"commit_time", json_string("whenever")},
        {"commit_times", json_integer(3)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_region *f = fx_open();
        assert_non_null(f);
        gd_segment s;
        sample(f, &s, 7, 7);
        gd_err e;
        gd_err_clear(&e);
        assert_int_equal(gd_segment_write(f->r, &s, &e), 0);
        json_t *j = NULL;
        assert_int_equal(gd_repo_get_record(f->r, s.record, "geodr-segment", &j, &e), 0);
        if (cases[i].value)
            json_object_set(j, cases[i].key, cases[i].value);
        else
            json_object_del(j, cases[i].key);
        assert_int_equal(gd_repo_put_record(f->r, s.record, j, &e), 0);
        json_decref(j);
        gd_segment r;
        int rc = gd_segment_read(f->r, s.record, &r, &e);
        bool allowed =
            strcmp(cases[i].key, "first_seq") == 0 && json_integer_value(cases[i].value) == 7;
        if (allowed) {
            assert_int_equal(rc, 0);
            gd_segment_free(&r);
        } else {
            if (rc != GD_E_CORRUPT)
                fail_msg("a record with %s altered was read (rc %d)", cases[i].key, rc);
            assert_non_null(strstr(e.msg, s.record));
            gd_segments live;
            assert_int_equal(gd_repo_list_segments(f->r, &live, NULL, &e), GD_E_CORRUPT);
        }
        gd_segment_free(&s);
        fx_close(f);
        json_decref(cases[i].value);
    }
}

/* A record name that is not a counter range is not a segment; one whose
 * range is reversed neither. */
static void names_are_counters(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    gd_err e;
    gd_err_clear(&e);
    const char *names[] = {"shop/binlog/x.segment", "shop/binlog/000000000009-000000000003.segment",
                           "shop/binlog/-1.segment", "shop/binlog/1e3.segment"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(gd_storage_put_all(f->r->st, names[i], "{}", 2, NULL), 0);
    gd_segments live;
    assert_int_equal(gd_repo_list_segment_ranges(f->r, &live, NULL, &e), 0);
    assert_int_equal(live.n, 0);
    gd_segments_free(&live);
    fx_close(f);
}

/* Positions compare by value: the chain follows across equal positions. */
static void chain(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    gd_segment a, b;
    sample(f, &a, 7, 7);
    sample(f, &b, 8, 8);
    assert_false(gd_segment_follows(&a, &b)); /* b starts at a's start */
    gd_gtid_pos p0, p1;
    gd_segment_pos(&a, &p0);
    assert_int_equal(gd_gtid_pos_parse("1-2-9,0-1-44", &p1, NULL), 0);
    gd_segment_set_pos(&b, &p0, &p1);
    assert_true(gd_segment_follows(&a, &b));
    b.first_seq = 9;
    assert_false(gd_segment_follows(&a, &b)); /* a counter is missing */
    assert_true(gd_segment_chained(&a, &b));
    gd_segment_free(&a);
    gd_segment_free(&b);
    fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_then_read),
        cmocka_unit_test(legacy_record),
        cmocka_unit_test(append_renumbers),
        cmocka_unit_test(malformed),
        cmocka_unit_test(check_whole_list),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(hostile_records),
        cmocka_unit_test(names_are_counters),
        cmocka_unit_test(chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
