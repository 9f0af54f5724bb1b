/* Unit tests of retention (region/retention.h) on a posix region whose sets
 * and segment records are written through the repository's own writer
 * (region_fixture.h), with an injected clock: which sets expire, that the
 * newest set and the set the recovery window needs are kept, that sets a
 * restore's read lease protects are kept, that segments before the oldest
 * kept set go (record first, then object), that a segment object older than
 * a day whose record is gone goes too, that a dry run removes nothing, and
 * when gd_region_expire_set refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <utime.h>

#include "common/json.h"
#include "region/copy.h"
#include "region/retention.h"
#include "region_fixture.h"
#include "repo/lock.h"
#include "repo/policy.h"

#define A "20251101T000000Z"
#define B "20251102T000000Z"
#define C "20251111T000000Z"
#define RETENTION 3               /* days */
#define NOW (FX_T0 + 12 * FX_DAY) /* boundary: day 9 */

/* Sets A (day 0, at 0-1-5), B (day 1, at 0-1-10) and C (day 10, at
 * 0-1-15); segments 1 (0-1-1..0-1-5) and 2 (0-1-5..0-1-10) lie before B,
 * segment 3 (0-1-10..0-1-15) rolls B forward when with_chain. */
static fx_region *region(bool with_chain)
{
    fx_region *f = fx_open();
    assert_non_null(f);
    assert_int_equal(fx_add_set(f, A, FX_T0 + 60, "0-1-5"), 0);
    assert_int_equal(fx_add_set(f, B, FX_T0 + FX_DAY + 60, "0-1-10"), 0);
    assert_int_equal(fx_add_set(f, C, FX_T0 + 10 * FX_DAY + 60, "0-1-15"), 0);
    assert_int_equal(fx_add_segment(f, 1, "0-1-1", "0-1-5", FX_T0 + 10, FX_T0 + 50), 0);
    assert_int_equal(fx_add_segment(f, 2, "0-1-5", "0-1-10", FX_T0 + 70, FX_T0 + FX_DAY), 0);
    if (with_chain)
        assert_int_equal(
            fx_add_segment(f, 3, "0-1-10", "0-1-15", FX_T0 + FX_DAY + 70, FX_T0 + 10 * FX_DAY), 0);
    return f;
}

static json_t *expire(fx_region *f, bool dry_run)
{
    json_t *rep = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_region_expire(f->r, RETENTION, NOW, dry_run, &rep, &e) != 0)
        fail_msg("expire: %s", e.msg);
    return rep;
}

static bool set_present(fx_region *f, const char *id)
{
    char *m = gd_repo_object_name(f->r, id, "manifest");
    bool ok = fx_exists(f, m);
    free(m);
    return ok;
}

/* Every object of set id is gone (manifest, schema, chunk). */
static void set_gone(fx_region *f, const char *id)
{
    static const char *const rels[] = {"manifest", "schema.json.zst", "data/0-0.tsv.zst"};
    for (size_t i = 0; i < 3; i++) {
        char *n = gd_repo_object_name(f->r, id, rels[i]);
        if (fx_exists(f, n))
            fail_msg("%s is still there", n);
        free(n);
    }
}

static bool segment_present(fx_region *f, long long seq)
{
    char *rec = fx_segment_record(f, seq, seq);
    char *obj = gd_repo_segment_name(f->r, (unsigned long long)seq, ".binlog.zst");
    bool r = fx_exists(f, rec), o = fx_exists(f, obj);
    free(rec);
    free(obj);
    assert_true(r == o); /* never a record without its object or the reverse */
    return r;
}

/* Without a binlog archive rolling them forward, every set that ended
 * before the boundary goes; the newer one stays, and so do the segments
 * after the oldest kept set. */
static void expired_sets_go(void **state)
{
    (void)state;
    fx_region *f = region(false);
    json_t *rep = expire(f, false);
    json_t *exp = json_object_get(rep, "expire"), *keep = json_object_get(rep, "keep");
    assert_int_equal(json_array_size(exp), 2);
    assert_true(fx_listed(exp, A) && fx_listed(exp, B));
    assert_int_equal(json_array_size(keep), 1);
    assert_true(fx_listed(keep, C));
    set_gone(f, A);
    set_gone(f, B);
    assert_true(set_present(f, C));
    /* C (0-1-15) is the oldest kept set: both segments lie before it */
    assert_int_equal(gd_json_int(rep, "segments_removed", -1), 2);
    assert_false(segment_present(f, 1));
    assert_false(segment_present(f, 2));
    json_decref(rep);
    fx_close(f);
}

/* A region never loses its newest set, however old. */
static void newest_set_kept(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    assert_int_equal(fx_add_set(f, A, FX_T0 + 60, "0-1-5"), 0);
    json_t *rep = expire(f, false);
    assert_int_equal(json_array_size(json_object_get(rep, "expire")), 0);
    assert_true(fx_listed(json_object_get(rep, "keep"), A));
    assert_true(set_present(f, A));
    json_decref(rep);
    fx_close(f);
}

/* The newest expired set stays while the archive rolls it forward (the
 * recovery window must reach back to the boundary); older ones go, and so
 * do the segments entirely before it. */
static void window_set_kept(void **state)
{
    (void)state;
    fx_region *f = region(true);
    json_t *rep = expire(f, false);
    json_t *exp = json_object_get(rep, "expire"), *keep = json_object_get(rep, "keep");
    assert_int_equal(json_array_size(exp), 1);
    assert_true(fx_listed(exp, A));
    assert_true(fx_listed(keep, B) && fx_listed(keep, C));
    set_gone(f, A);
    assert_true(set_present(f, B));
    /* segments 1 and 2 end at or before B's position; 3 rolls B forward */
    assert_int_equal(gd_json_int(rep, "segments_removed", -1), 2);
    assert_false(segment_present(f, 1));
    assert_false(segment_present(f, 2));
    assert_true(segment_present(f, 3));
    json_decref(rep);
    /* the window still starts at B */
    json_t *rep2 = expire(f, false);
    assert_int_equal(json_array_size(json_object_get(rep2, "expire")), 0);
    assert_int_equal(gd_json_int(rep2, "segments_removed", -1), 0);
    json_decref(rep2);
    fx_close(f);
}

/* A set a restore's read lease names is kept (and reported as held) until
 * the lease ends; a lease on everything keeps every set and segment. */
static void leased_sets_kept(void **state)
{
    (void)state;
    fx_region *f = region(false);
    gd_lock *rd = NULL;
    assert_int_equal(gd_lock_take_read(f->r->st, "shop", "restore", A, 5, &rd, NULL), 0);
    json_t *rep = expire(f, false);
    assert_true(fx_listed(json_object_get(rep, "keep"), A));
    assert_true(fx_listed(json_object_get(rep, "held_by_restore"), A));
    assert_true(fx_listed(json_object_get(rep, "expire"), B));
    assert_true(set_present(f, A));
    set_gone(f, B);
    /* A (0-1-5) is the oldest kept set: segment 2 (after it) stays */
    assert_false(segment_present(f, 1));
    assert_true(segment_present(f, 2));
    json_decref(rep);
    gd_lock_release(rd);
    /* without the lease A is held no more (it stays as the window's set:
     * segment 2 rolls it forward) */
    rep = expire(f, true);
    assert_int_equal(json_array_size(json_object_get(rep, "held_by_restore")), 0);
    assert_true(fx_listed(json_object_get(rep, "keep"), A));
    json_decref(rep);

    /* a lease that protects everything (a restore still planning): B, back,
     * is not removed either */
    assert_int_equal(fx_add_set(f, B, FX_T0 + FX_DAY + 60, "0-1-10"), 0);
    assert_int_equal(gd_lock_take_read(f->r->st, "shop", "restore", NULL, 5, &rd, NULL), 0);
    rep = expire(f, false);
    assert_true(json_is_true(json_object_get(rep, "all_held")));
    assert_int_equal(json_array_size(json_object_get(rep, "expire")), 0);
    assert_int_equal(gd_json_int(rep, "segments_removed", -1), 0);
    assert_true(set_present(f, B));
    assert_true(segment_present(f, 2));
    json_decref(rep);
    gd_lock_release(rd);
    fx_close(f);
}

/* A dry run plans the same and removes nothing. */
static void dry_run_removes_nothing(void **state)
{
    (void)state;
    fx_region *f = region(false);
    json_t *rep = expire(f, true);
    assert_true(json_is_true(json_object_get(rep, "dry_run")));
    assert_int_equal(json_array_size(json_object_get(rep, "expire")), 2);
    assert_int_equal(gd_json_int(rep, "segments_removed", -1), 2);
    assert_true(set_present(f, A) && set_present(f, B) && set_present(f, C));
    assert_true(segment_present(f, 1) && segment_present(f, 2));
    json_decref(rep);
    fx_close(f);
}

/* Sets the modification time of object name to t (seconds). */
static void age(fx_region *f, const char *name, long long t)
{
    char *path = gd_asprintf("%s/%s", f->dir, name);
    struct utimbuf ut = {.actime = (time_t)t, .modtime = (time_t)t};
    assert_int_equal(utime(path, &ut), 0);
    free(path);
}

/* An expire that removed a segment's record but failed on its object left
 * the object with no record naming it: the next expire removes it once it
 * is older than a day, never a younger one (an archiver may be about to
 * commit its record) nor one whose record is there. */
static void orphan_segment_objects_go(void **state)
{
    (void)state;
    fx_region *f = region(true);
    char *rec1 = fx_segment_record(f, 1, 1);
    char *obj1 = gd_repo_segment_name(f->r, 1, ".binlog.zst");
    char *obj3 = gd_repo_segment_name(f->r, 3, ".binlog.zst");
    char *young = gd_repo_segment_name(f->r, 9, ".binlog.zst");
    assert_int_equal(gd_storage_remove(f->r->st, rec1, NULL), 0);
    age(f, obj1, FX_T0);
    age(f, obj3, FX_T0);
    assert_int_equal(fx_put_object(f, young), 0);
    age(f, young, NOW - 3600);
    json_t *rep = expire(f, true);
    assert_int_equal(gd_json_int(rep, "leftovers_removed", -1), 1);
    assert_true(fx_exists(f, obj1)); /* a dry run */
    json_decref(rep);
    rep = expire(f, false);
    assert_int_equal(gd_json_int(rep, "leftovers_removed", -1), 1);
    assert_false(fx_exists(f, obj1));
    assert_true(fx_exists(f, young));
    assert_true(segment_present(f, 3));
    json_decref(rep);
    free(rec1);
    free(obj1);
    free(obj3);
    free(young);
    fx_close(f);
}

/* gd_region_expire_set removes exactly the named set when retention allows
 * it, and refuses an unexpired set, the window's set and an unknown one. */
static void expire_one_set(void **state)
{
    (void)state;
    fx_region *f = region(true);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_region_expire_set(f->r, C, RETENTION, NOW, &e), GD_E_STATE);
    assert_non_null(strstr(e.msg, "has not expired"));
    gd_err_clear(&e);
    assert_int_equal(gd_region_expire_set(f->r, B, RETENTION, NOW, &e), GD_E_STATE);
    assert_non_null(strstr(e.msg, "recovery window"));
    gd_err_clear(&e);
    assert_int_equal(gd_region_expire_set(f->r, "20991231T000000Z", RETENTION, NOW, &e),
                     GD_E_NOTFOUND);
    gd_err_clear(&e);
    assert_int_equal(gd_region_expire_set(f->r, A, RETENTION, NOW, &e), 0);
    set_gone(f, A);
    assert_true(set_present(f, B) && set_present(f, C));
    /* only the set: the segments are expire's */
    assert_true(segment_present(f, 1));
    fx_close(f);
}

/* The policy record keeps a release (repo/policy.h): written, read back;
 * a record without one is not released. */
static void policy_keeps_release(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    gd_policy p = {.backup_enabled = true,
                   .copy_retention_days = 30,
                   .retention_days = 7,
                   .updated_us = 5,
                   .released_us = 1234567};
    p.copy_regions[p.n_copy_regions++] = gd_strdup("far");
    assert_int_equal(gd_policy_write(f->r, &p, NULL), 0);
    gd_policy q;
    assert_int_equal(gd_policy_read(f->r, &q, NULL), 0);
    assert_int_equal(q.released_us, 1234567);
    assert_int_equal(q.copy_retention_days, 30);
    gd_policy_free(&q);
    p.released_us = 0; /* undone */
    assert_int_equal(gd_policy_write(f->r, &p, NULL), 0);
    assert_int_equal(gd_policy_read(f->r, &q, NULL), 0);
    assert_int_equal(q.released_us, 0);
    gd_policy_free(&q);
    gd_policy_free(&p);
    fx_close(f);
}

/* When copies to a region started (region/copy.h): the first claim is
 * recorded, a later one never replaces it, an earlier one does. */
static void copy_since_keeps_the_earliest(void **state)
{
    (void)state;
    fx_region *f = fx_open();
    assert_non_null(f);
    int64_t since = 0;
    assert_int_equal(gd_copy_since_claim(f->r, "far", 2000, &since, NULL), 0);
    assert_int_equal(since, 2000);
    assert_int_equal(gd_copy_since_claim(f->r, "far", 3000, &since, NULL), 0);
    assert_int_equal(since, 2000);
    assert_int_equal(gd_copy_since_claim(f->r, "far", 1000, &since, NULL), 0);
    assert_int_equal(since, 1000);
    assert_int_equal(gd_copy_since_claim(f->r, "near", 5000, &since, NULL), 0);
    assert_int_equal(since, 5000); /* per region */
    fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expired_sets_go),
        cmocka_unit_test(newest_set_kept),
        cmocka_unit_test(window_set_kept),
        cmocka_unit_test(leased_sets_kept),
        cmocka_unit_test(dry_run_removes_nothing),
        cmocka_unit_test(expire_one_set),
        cmocka_unit_test(orphan_segment_objects_go),
        cmocka_unit_test(policy_keeps_release),
        cmocka_unit_test(copy_since_keeps_the_earliest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
