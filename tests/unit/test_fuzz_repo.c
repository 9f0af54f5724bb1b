/* A bounded fuzz run of everything that reads a region (issue 10 finding 9):
 * manifests, segment records and the instance descriptor are mutated the
 * way a hostile or broken region writer could (wrong types, negative and
 * huge numbers, names with '/' and "..", missing keys, long arrays, cut and
 * flipped bytes) and handed to every reader: open, list and load sets, list
 * segments, archive summary, restore plans, the set check, expire's plan.
 * Each must end in a result or a clean error: under the sanitizer build
 * (scripts/test runs the unit suite under ASan and UBSan) any crash, leak
 * or undefined behaviour fails the test.  The seed is fixed, so a failure
 * reproduces; GEODR_FUZZ_ITERS runs longer. */
#include <jansson.h>
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

#include "common/util.h"
#include "io/key.h"
#include "region/retention.h"
#include "repo/repo_intern.h"
#include "repo/plan.h"
#include "repo/repo.h"
#include "repo/segment.h"
#include "repo/setcheck.h"
#include "storage/storage.h"

#define SET "20261101T000000Z"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static json_t *seed_manifest(void)
{
    json_t *chunk = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "object", "data/0-0.tsv.zst",
                              "rows", (json_int_t)2, "size", (json_int_t)10, "raw_size",
                              (json_int_t)12, "sha256", SHA, "lo", "", "hi", "");
    json_t *table = json_pack("{s:s, s:s, s:[s,s], s:[o], s:I, s:b, s:[s], s:[b,b], s:o}", "db",
                              "shop", "name", "orders", "columns", "id", "v", "chunks", chunk,
                              "rows", (json_int_t)2, "transactional", 1, "pk", "id", "not_null", 1,
                              0, "forms", json_pack("{s:s}", "v", "index"));
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:[o], s:{s:s, s:I, s:I, s:s}, "
                     "s:b}",
                     "format", "geodr-manifest", "version", GD_REPO_FORMAT_VERSION, "set", SET,
                     "instance", "shop", "method", "logical", "start_us",
                     (json_int_t)1761955200000000, "end_us", (json_int_t)1761955201000000, "gtid",
                     "0-1-10", "cipher", "none", "tables", table, "schema", "object",
                     "schema.json.zst", "size", (json_int_t)5, "raw_size", (json_int_t)7, "sha256",
                     SHA, "nontransactional_locked", 1);
}

static json_t *seed_segment(long long seq, const char *prev, const char *pos)
{
    char obj[64];
    snprintf(obj, sizeof obj, "%012lld.binlog.zst", seq);
    return json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, "
                     "s:I, s:I, s:s}",
                     "format", "geodr-segment", "version", GD_REPO_FORMAT_VERSION, "seq",
                     (json_int_t)seq, "object", obj, "first_gtid", "0-1-11", "last_gtid", pos,
                     "prev_gtid_pos", prev, "gtid_pos", pos, "first_time", "2025-11-01 00:00:02",
                     "first_time_s", (json_int_t)1761955202, "last_time", "2025-11-01 00:00:03",
                     "last_time_s", (json_int_t)1761955203, "transactions", (json_int_t)3, "events",
                     (json_int_t)9, "raw_size", (json_int_t)100, "size", (json_int_t)50, "sha256",
                     "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
}

static json_t *seed_descriptor(void)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s}", "format", "geodr-instance", "version",
                     GD_REPO_FORMAT_VERSION, "name", "shop", "created", "2025-11-01 00:00:00",
                     "cipher", "none");
}

static json_t *hostile_value(void)
{
    static const char *const strs[] = {"",
                                       "../backup/" SET "/manifest",
                                       "a/b",
                                       "..",
                                       "/etc/passwd",
                                       "0-1-",
                                       "1-2-3,1-2-4",
                                       "99999999999999999999-1-1",
                                       "2025-13-45 99:99:99",
                                       "\xff\xfe",
                                       "manifest",
                                       "-1"};
    switch (rnd(12)) {
    case 0:
        return json_integer(-1);
    case 1:
        return json_integer(INT64_MAX);
    case 2:
        return json_integer(INT64_MIN);
    case 3:
        return json_real(1e308);
    case 4:
        return json_null();
    case 5:
        return json_true();
    case 6:
        return json_array();
    case 7:
        return json_object();
    case 8: {
        char *big = gd_malloc(70000);
        memset(big, 'x', 69999);
        big[69999] = '\0';
        json_t *j = json_string(big);
        free(big);
        return j;
    }
    case 9:
        return json_integer((json_int_t)rnd(1000000));
    default:
        return json_string(strs[rnd(sizeof strs / sizeof strs[0])]);
    }
}

/* Every value slot of a JSON tree, for a uniform pick. */
typedef struct slot {
    json_t *parent;
    const char *key; /* object member, or NULL: array index */
    size_t index;
} slot;

static void collect(json_t *j, slot *v, size_t *n, size_t cap)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *x;
        json_object_foreach(j, k, x)
        {
            if (*n < cap)
                v[(*n)++] = (slot){j, k, 0};
            collect(x, v, n, cap);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *x;
        json_array_foreach(j, i, x)
        {
            if (*n < cap)
                v[(*n)++] = (slot){j, NULL, i};
            collect(x, v, n, cap);
        }
    }
}

static void mutate(json_t *j)
{
    slot v[256];
    size_t n = 0;
    collect(j, v, &n, 256);
    int edits = 1 + (int)rnd(3);
    for (int e = 0; e < edits && n > 0; e++) {
        slot s = v[rnd((uint32_t)n)];
        uint32_t op = rnd(10);
        if (op == 0 && s.key) {
            json_object_del(s.parent, s.key);
            return; /* the slots below it are gone */
        }
        if (op == 1) { /* many copies of an element */
            json_t *x =
                s.key ? json_object_get(s.parent, s.key) : json_array_get(s.parent, s.index);
            if (json_is_array(x) && json_array_size(x) > 0) {
                json_t *first = json_array_get(x, 0);
                for (int k = 0; k < 5000; k++)
                    json_array_append(x, first);
            }
            return;
        }
        if (s.key)
            json_object_set_new(s.parent, s.key, hostile_value());
        else
            json_array_set_new(s.parent, s.index, hostile_value());
        return; /* slots may point into what was replaced */
    }
}

/* Flips or cuts the stored bytes of an object. */
static void damage_bytes(gd_storage *st, const char *name)
{
    char *p = NULL;
    size_t len = 0;
    if (gd_storage_get_all(st, name, 1 << 20, &p, &len, NULL) != 0 || len == 0) {
        free(p);
        return;
    }
    if (rnd(2))
        len = rnd((uint32_t)len);
    else
        p[rnd((uint32_t)len)] ^= (char)(1 << rnd(8));
    gd_storage_put_all(st, name, p, len, NULL);
    free(p);
}

static long planned; /* cases that got as far as a restore plan */

/* Every reader of the region, on whatever it holds now. */
static void read_everything(const char *dir)
{
    gd_repo *r = NULL;
    gd_storage *st = NULL;
    gd_err e;
    gd_err_clear(&e);
    /* a storage of its own: the repository owns it (and frees it when the
     * open fails) */
    assert_int_equal(gd_storage_posix_open("home", dir, &st, &e), 0);
    if (gd_repo_open(st, "shop", NULL, false, 0, &r, &e) != 0) {
        if (getenv("GEODR_FUZZ_DEBUG"))
            fprintf(stderr, "open: %s\n", e.msg);
        return;
    }
    char **ids = NULL;
    size_t nids = 0;
    if (gd_repo_list_sets(r, &ids, &nids, &e) == 0)
        gd_strv_free(ids, nids);
    gd_set *sets = NULL;
    size_t n = 0;
    if (gd_repo_load_sets(r, &sets, &n, NULL, &e) == 0) {
        for (size_t i = 0; i < n; i++) {
            gd_set_problems problems = {0};
            gd_set_check(sets[i].mf, NULL, &problems);
            char *msg = gd_set_check_message(&problems);
            free(msg);
            gd_set_problems_free(&problems);
        }
        gd_repo_sets_free(sets, n);
    }
    json_t *rep = NULL;
    gd_segments segs, cov;
    gd_archive_summary sum;
    gd_plan plan;
    if (gd_repo_list_segments(r, &segs, &cov, &e) == 0) {
        gd_segments_free(&segs);
        gd_segments_free(&cov);
    }
    if (gd_repo_archive_summary(r, &sum, &e) == 0)
        gd_archive_summary_free(&sum);
    if (gd_repo_plan(r, GD_PITR_LATEST, NULL, NULL, &plan, &e) == 0) {
        planned++;
        gd_plan_free(&plan);
    } else if (getenv("GEODR_FUZZ_DEBUG")) {
        fprintf(stderr, "plan: %s\n", e.msg);
    }
    if (gd_repo_plan(r, 1761955202, NULL, NULL, &plan, &e) == 0)
        gd_plan_free(&plan);
    if (gd_repo_plan(r, GD_PITR_NONE, NULL, SET, &plan, &e) == 0)
        gd_plan_free(&plan);
    if (gd_region_expire(r, 1, 1861955200, true, &rep, &e) == 0)
        json_decref(rep);
    gd_repo_close(r);
}

static void write_seeds(gd_storage *st, gd_repo *w, json_t *mf, json_t *s1, json_t *s2, json_t *d)
{
    /* the descriptor with the trailer an unencrypted writer gives it */
    char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    char hex[65];
    char *body = gd_asprintf("%s\n", text ? text : "");
    gd_sha256_hex(body, strlen(body), hex);
    char *rec = gd_asprintf("%ssha256 %s\n", body, hex);
    gd_storage_put_all(st, "shop/instance.json", rec, strlen(rec), NULL);
    free(rec);
    free(body);
    free(text);
    gd_repo_put_record(w, "shop/backup/" SET "/manifest", mf, NULL);
    gd_repo_put_record(w, "shop/binlog/000000000001.segment", s1, NULL);
    gd_repo_put_record(w, "shop/binlog/000000000002.segment", s2, NULL);
}

static void fuzz_region_readers(void **state)
{
    (void)state;
    char dir[] = "/tmp/gd_fuzz_repo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    gd_storage *st = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_posix_open("home", dir, &st, &e), 0);
    /* a writer repository: records go through geodr's own writer, so the
     * readers get past the trailer (a region writer can recompute it) */
    gd_repo *w = NULL;
    assert_int_equal(gd_repo_open(st, "shop", NULL, true, 0, &w, &e), 0);
    const char *env = getenv("GEODR_FUZZ_ITERS");
    long iters = env ? strtol(env, NULL, 10) : 400;
    double t0 = gd_mono();
    for (long i = 0; i < iters; i++) {
        json_t *mf = seed_manifest(), *s1 = seed_segment(1, "0-1-10", "0-1-13"),
               *s2 = seed_segment(2, "0-1-13", "0-1-16"), *d = seed_descriptor();
        json_t *targets[] = {mf, s1, s2, d};
        uint32_t which = rnd(5);
        if (which < 4)
            mutate(targets[which]);
        write_seeds(st, w, mf, s1, s2, d);
        if (which == 4 || rnd(8) == 0) {
            static const char *const names[] = {
                "shop/backup/" SET "/manifest", "shop/binlog/000000000001.segment",
                "shop/binlog/000000000002.segment", "shop/instance.json"};
            damage_bytes(st, names[rnd(4)]);
        }
        read_everything(dir);
        json_decref(mf);
        json_decref(s1);
        json_decref(s2);
        json_decref(d);
    }
    /* each case ends quickly: no reader spins on hostile content */
    double per = (gd_mono() - t0) / (double)(iters > 0 ? iters : 1);
    print_message("# %ld cases, %.1f ms each\n", iters, per * 1000);
    assert_true(per < 2.0);
    /* and most hostile content gets past the front door to the parsers */
    print_message("# %ld reached a restore plan\n", planned);
    assert_true(planned > iters / 4);
    w->st = NULL;
    gd_repo_close(w);
    gd_storage_free(st);
    char *cmd = gd_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fuzz_region_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
