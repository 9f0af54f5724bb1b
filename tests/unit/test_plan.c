/* Unit tests of the restore planner and the recovery windows (repo/plan.h)
 * on a posix region whose sets and segment records are written through the
 * repository's own writer (region_fixture.h): windows and gaps of the
 * chain, the set a plan starts from and the segments it replays for
 * --latest, --time, --gtid, --fastest and --set, merged (compacted)
 * records, and the errors for points outside every window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/gtid.h"
#include "region_fixture.h"
#include "repo/plan.h"

#define T(s) (FX_T0 + (s))

/* Set S1 at 0-1-10 (ended T(1)), rolled forward by segments 1 (to 0-1-13,
 * T(2)..T(3)) and 2 (to 0-1-16, T(4)..T(5)). */
static int setup(void **state)
{
    fx_region *f = fx_open();
    if (f == NULL || fx_add_set(f, "20251101T000000Z", T(1), "0-1-10") != 0 ||
        fx_add_segment(f, 1, "0-1-10", "0-1-13", T(2), T(3)) != 0 ||
        fx_add_segment(f, 2, "0-1-13", "0-1-16", T(4), T(5)) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

static gd_archive_summary summary(fx_region *f)
{
    gd_archive_summary s;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_repo_archive_summary(f->r, &s, &e), 0);
    return s;
}

/* A GTID position as text (for assertions). */
static const char *pos_text(const gd_gtid_pos *p)
{
    static char t[GD_GTID_POS_MAX * 64];
    gd_gtid_pos_format(p, t, sizeof t);
    return t;
}

/* gd_repo_plan with the stop GTID given as text (may be NULL). */
static int run_plan(fx_region *f, long long stop, const char *gtid, const char *set, gd_plan *p,
                    gd_err *e)
{
    gd_gtid_pos g;
    if (gtid)
        assert_int_equal(gd_gtid_pos_parse(gtid, &g, NULL), 0);
    memset(p, 0, sizeof *p);
    gd_err_clear(e);
    return gd_repo_plan(f->r, stop, gtid ? &g : NULL, set, p, e);
}

static gd_plan plan(fx_region *f, long long stop, const char *gtid, const char *set)
{
    gd_plan p;
    gd_err e;
    if (run_plan(f, stop, gtid, set, &p, &e) != 0)
        fail_msg("plan: %s", e.msg);
    return p;
}

/* The plan fails with code, and its message holds want. */
static void plan_fails(fx_region *f, long long stop, const char *gtid, int code, const char *want)
{
    gd_plan p;
    gd_err e;
    assert_int_equal(run_plan(f, stop, gtid, NULL, &p, &e), code);
    assert_null(p.set);
    if (strstr(e.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", e.msg, want);
}

static long long seg_seq(const gd_plan *p, size_t i)
{
    return i < p->segs.n ? (long long)p->segs.v[i].seq : -1;
}

static size_t nsegs(const gd_plan *p)
{
    return p->segs.n;
}

/* One contiguous run rolling one set forward: one window, from the set's
 * end to the last commit, no gaps; the totals add up. */
static void one_window(void **state)
{
    gd_archive_summary s = summary(*state);
    assert_int_equal(s.segments, 2);
    assert_int_equal(s.transactions, 2);
    assert_string_equal(pos_text(&s.pos), "0-1-16");
    assert_int_equal(s.ngaps, 0);
    assert_int_equal(s.nwindows, 1);
    const gd_window *w0 = &s.windows[0];
    assert_string_equal(w0->set, "20251101T000000Z");
    assert_int_equal(w0->from_s, T(1));
    assert_int_equal(w0->to_s, T(5));
    assert_string_equal(pos_text(&w0->from), "0-1-10");
    assert_string_equal(pos_text(&w0->to), "0-1-16");
    gd_archive_summary_free(&s);
}

/* A gap in the chain ends the window; the run after it gives a window only
 * once a set taken after the gap starts it, and --latest then starts from
 * that set (before that, --latest ends where the gap begins). */
static void gap_splits_windows(void **state)
{
    fx_region *f = *state;
    assert_int_equal(fx_add_segment(f, 3, "0-1-20", "0-1-25", T(10), T(11)), 0);
    gd_archive_summary s = summary(f);
    assert_int_equal(s.ngaps, 1);
    assert_int_equal(s.gaps[0].before_seq, 3);
    assert_string_equal(pos_text(&s.gaps[0].expected), "0-1-16");
    assert_string_equal(pos_text(&s.gaps[0].found), "0-1-20");
    assert_int_equal(s.gaps[0].after_time_s, T(5));
    assert_int_equal(s.nwindows, 1);
    gd_archive_summary_free(&s);
    /* --latest without a set after the gap: the newest point reachable,
     * the end of the run before it */
    gd_plan p = plan(f, GD_PITR_LATEST, NULL, NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    assert_int_equal(nsegs(&p), 2);
    assert_int_equal(seg_seq(&p, 1), 2);
    gd_plan_free(&p);

    assert_int_equal(fx_add_set(f, "20251101T000008Z", T(9), "0-1-20"), 0);
    s = summary(f);
    assert_int_equal(s.nwindows, 2);
    assert_string_equal(s.windows[1].set, "20251101T000008Z");
    assert_int_equal(s.windows[1].from_s, T(9));
    assert_int_equal(s.windows[1].to_s, T(11));
    gd_archive_summary_free(&s);
    p = plan(f, GD_PITR_LATEST, NULL, NULL);
    assert_string_equal(p.set, "20251101T000008Z");
    assert_int_equal(nsegs(&p), 1);
    assert_int_equal(seg_seq(&p, 0), 3);
    gd_plan_free(&p);
    /* a time in the gap lies in no window: the message lists them */
    plan_fails(f, T(7), NULL, GD_E_INVALID, "outside the recovery window");
    /* a time in the first window still restores from the first set */
    p = plan(f, T(3), NULL, NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    assert_int_equal(seg_seq(&p, 0), 1);
    gd_plan_free(&p);
}

/* --latest: the newest set with the whole chain after it. */
static void latest(void **state)
{
    gd_plan p = plan(*state, GD_PITR_LATEST, NULL, NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    assert_string_equal(pos_text(&p.set_pos), "0-1-10");
    assert_int_equal(p.set_end_s, T(1));
    assert_true(p.replay);
    assert_int_equal(nsegs(&p), 2);
    assert_int_equal(seg_seq(&p, 0), 1);
    assert_int_equal(seg_seq(&p, 1), 2);
    gd_plan_free(&p);
}

/* --time: the newest set ended at or before the time; the segments from
 * the set up to the first one starting after the time.  Before the oldest
 * set, and after the archive's last commit, there is no window. */
static void by_time(void **state)
{
    fx_region *f = *state;
    /* a newer set, and a segment after it */
    assert_int_equal(fx_add_set(f, "20251101T000006Z", T(6), "0-1-16"), 0);
    assert_int_equal(fx_add_segment(f, 3, "0-1-16", "0-1-19", T(7), T(8)), 0);
    gd_plan p = plan(f, T(3), NULL, NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    assert_int_equal(seg_seq(&p, 0), 1);
    gd_plan_free(&p);
    p = plan(f, T(8), NULL, NULL);
    assert_string_equal(p.set, "20251101T000006Z");
    assert_int_equal(nsegs(&p), 1);
    assert_int_equal(seg_seq(&p, 0), 3);
    gd_plan_free(&p);
    plan_fails(f, T(0), NULL, GD_E_INVALID, "restore time");
    plan_fails(f, T(100), NULL, GD_E_INVALID, "outside the recovery window");
}

/* --gtid: the segments up to the one holding the position; a position the
 * set already holds replays nothing; one past the archive is refused. */
static void by_gtid(void **state)
{
    fx_region *f = *state;
    gd_plan p = plan(f, GD_PITR_LATEST, "0-1-12", NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    assert_int_equal(nsegs(&p), 1);
    assert_int_equal(seg_seq(&p, 0), 1);
    gd_plan_free(&p);
    p = plan(f, GD_PITR_LATEST, "0-1-14", NULL);
    assert_int_equal(nsegs(&p), 2);
    gd_plan_free(&p);
    p = plan(f, GD_PITR_LATEST, "0-1-10", NULL);
    assert_true(p.replay);
    assert_int_equal(nsegs(&p), 0);
    gd_plan_free(&p);
    plan_fails(f, GD_PITR_LATEST, "0-1-99", GD_E_INVALID, "restore point GTID 0-1-99");
}

/* --fastest: the newest set as it is, no replay; --set forces the set. */
static void fastest_and_set(void **state)
{
    fx_region *f = *state;
    assert_int_equal(fx_add_set(f, "20251101T000006Z", T(6), "0-1-16"), 0);
    gd_plan p = plan(f, GD_PITR_NONE, NULL, NULL);
    assert_string_equal(p.set, "20251101T000006Z");
    assert_true(!p.replay);
    assert_int_equal(nsegs(&p), 0);
    gd_plan_free(&p);
    p = plan(f, GD_PITR_NONE, NULL, "20251101T000000Z");
    assert_string_equal(p.set, "20251101T000000Z");
    assert_true(!p.replay);
    gd_plan_free(&p);
    /* --set with --latest: that set, rolled forward */
    p = plan(f, GD_PITR_LATEST, NULL, "20251101T000000Z");
    assert_string_equal(p.set, "20251101T000000Z");
    assert_int_equal(nsegs(&p), 2);
    gd_plan_free(&p);
    gd_err e;
    assert_int_equal(run_plan(f, GD_PITR_NONE, NULL, "20991231T000000Z", &p, &e), GD_E_NOTFOUND);
    assert_null(p.set);
}

/* A set older than the archive's start is not rolled forward (the chain
 * does not reach back to it); with no set at all there is nothing to plan. */
static void chain_must_reach_the_set(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    assert_int_equal(fx_add_set(f, "20251101T000000Z", T(1), "0-1-5"), 0);
    assert_int_equal(fx_add_segment(f, 1, "0-1-10", "0-1-13", T(2), T(3)), 0);
    gd_archive_summary s = summary(f);
    assert_int_equal(s.nwindows, 0);
    gd_archive_summary_free(&s);
    plan_fails(f, GD_PITR_LATEST, NULL, GD_E_INVALID, "there is none");
    /* the set as it is still restores */
    gd_plan p = plan(f, GD_PITR_NONE, NULL, NULL);
    assert_string_equal(p.set, "20251101T000000Z");
    gd_plan_free(&p);
    fx_close(f);

    f = fx_open();
    assert_non_null(f);
    plan_fails(f, GD_PITR_LATEST, NULL, GD_E_NOTFOUND, "no backup set");
    fx_close(f);
}

/* A merged (compacted) record replaces the records it covers in the
 * chain: the plan replays it, not them. */
static void merged_records(void **state)
{
    fx_region *f = *state;
    assert_int_equal(fx_add_segment_range(f, 1, 2, "0-1-10", "0-1-16", T(2), T(5)), 0);
    gd_plan p = plan(f, GD_PITR_LATEST, NULL, NULL);
    assert_int_equal(nsegs(&p), 1);
    assert_int_equal(p.segs.v[0].first_seq, 1);
    assert_int_equal(p.segs.v[0].seq, 2);
    gd_plan_free(&p);
    gd_archive_summary s = summary(f);
    assert_int_equal(s.segments, 1);
    assert_int_equal(s.nwindows, 1);
    gd_archive_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_window, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_splits_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(latest, setup, teardown),
        cmocka_unit_test_setup_teardown(by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(by_gtid, setup, teardown),
        cmocka_unit_test_setup_teardown(fastest_and_set, setup, teardown),
        cmocka_unit_test(chain_must_reach_the_set),
        cmocka_unit_test_setup_teardown(merged_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
