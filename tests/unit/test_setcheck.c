/* Unit tests of exact-identity lookup (common/nameidx.h) and of the backup
 * set check (repo/setcheck.h). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/nameidx.h"
#include "repo/repo.h"
#include "manifest_fixture.h"
#include "repo/setcheck.h"

/* The names of issue 9: information_schema sorts them by collation
 * (orders < order_items, é < f, Zed ~ zed), bytes sort them otherwise.  Every
 * one must be found, whatever order they were added in. */
static void nameidx_finds_exact_names(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"d", "orders"},     {"d", "order_items"}, {"d", "order-notes"}, {"d", "order notes"},
        {"d", "zeta"},       {"d", "Zed"},         {"d", "zed"},         {"d", "é"},
        {"d", "f"},          {"d", "e"},           {"d", "_under"},      {"d", "%"},
        {"Sales", "orders"}, {"sales", "orders"},  {"sales", "Orders"},  {"d.x", "y"},
        {"d", "x.y"},
    };
    size_t n = sizeof names / sizeof names[0];
    gd_nameidx ix;
    gd_nameidx_init(&ix);
    /* in collation-like order, as the server hands them out */
    for (size_t i = 0; i < n; i++)
        gd_nameidx_add(&ix, names[i][0], names[i][1], i);
    assert_int_equal(gd_nameidx_seal(&ix), 0);
    for (size_t i = 0; i < n; i++) {
        size_t v = 999;
        assert_true(gd_nameidx_find(&ix, names[i][0], names[i][1], &v));
        assert_int_equal(v, i);
    }
    size_t v;
    assert_false(gd_nameidx_find(&ix, "d", "ZED", &v));
    assert_false(gd_nameidx_find(&ix, "D", "orders", &v));
    assert_false(gd_nameidx_find(&ix, "d", "order", &v));
    assert_false(gd_nameidx_find(&ix, "d", "orders ", &v));
    /* "d.x"+"y" and "d"+"x.y" are two objects, not one "d.x.y" */
    assert_true(gd_nameidx_find(&ix, "d.x", "y", &v));
    assert_int_equal(v, 15);
    assert_false(gd_nameidx_find(&ix, "d.x.y", "", &v));
    /* a pair added twice is reported */
    gd_nameidx_add(&ix, "d", "Zed", 100);
    assert_int_equal(gd_nameidx_seal(&ix), 1);
    gd_nameidx_free(&ix);
    /* an empty index finds nothing */
    gd_nameidx_init(&ix);
    gd_nameidx_seal(&ix);
    assert_false(gd_nameidx_find(&ix, "d", "orders", &v));
    gd_nameidx_free(&ix);
}

static void assert_columns(const char *create, const char *const *want, size_t n, bool vers)
{
    bool versioned = !vers;
    json_t *cols = gd_create_table_columns(create, &versioned);
    assert_non_null(cols);
    assert_int_equal(json_array_size(cols), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(cols, i)), want[i]);
    assert_int_equal(versioned, vers);
    json_decref(cols);
}

static void create_table_columns(void **state)
{
    (void)state;
    static const char *const plain[] = {"id", "a`b", "c'd", "GENERATED ALWAYS AS (x)", "ø col"};
    assert_columns("CREATE TABLE `t` (\n"
                   "  `id` int(11) NOT NULL,\n"
                   "  `a``b` int(11) DEFAULT NULL COMMENT 'AS (not generated)',\n"
                   "  `g` int(11) GENERATED ALWAYS AS (`id` + 1) VIRTUAL,\n"
                   "  `c'd` varchar(10) DEFAULT 'GENERATED ALWAYS AS (',\n"
                   "  `GENERATED ALWAYS AS (x)` int(11) DEFAULT NULL,\n"
                   "  `s` varchar(5) GENERATED ALWAYS AS (concat(`c'd`,'x')) STORED,\n"
                   "  `ø col` text NOT NULL,\n"
                   "  PRIMARY KEY (`id`),\n"
                   "  KEY `k` (`a``b`)\n"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='WITH SYSTEM VERSIONING'",
                   plain, 5, false);
    static const char *const implicit[] = {"id", "v", "row_start", "row_end"};
    assert_columns("CREATE TABLE `sv` (\n"
                   "  `id` int(11) NOT NULL,\n"
                   "  `v` int(11) DEFAULT NULL,\n"
                   "  PRIMARY KEY (`id`)\n"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 WITH SYSTEM VERSIONING",
                   implicit, 4, true);
    static const char *const explicit_[] = {"id", "rs", "re", "v"};
    assert_columns("CREATE TABLE `sv` (\n"
                   "  `id` int(11) NOT NULL,\n"
                   "  `rs` timestamp(6) GENERATED ALWAYS AS ROW START INVISIBLE,\n"
                   "  `re` timestamp(6) GENERATED ALWAYS AS ROW END INVISIBLE,\n"
                   "  `v` int(11) DEFAULT NULL WITHOUT SYSTEM VERSIONING,\n"
                   "  PRIMARY KEY (`id`,`re`),\n"
                   "  PERIOD FOR SYSTEM_TIME (`rs`, `re`)\n"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 WITH SYSTEM VERSIONING",
                   explicit_, 4, true);
    static const char *const trx[] = {"id"};
    assert_columns("CREATE TABLE `tx` (\n"
                   "  `id` int(11) NOT NULL,\n"
                   "  `rs` bigint(20) unsigned GENERATED ALWAYS AS ROW START,\n"
                   "  `re` bigint(20) unsigned GENERATED ALWAYS AS ROW END,\n"
                   "  PERIOD FOR SYSTEM_TIME (`rs`, `re`)\n"
                   ") ENGINE=InnoDB WITH SYSTEM VERSIONING",
                   trx, 1, true);
    assert_null(gd_create_table_columns("CREATE VIEW `v` AS SELECT 1", NULL));
    assert_null(gd_create_table_columns("CREATE TABLE `t` (\n  `a` int", NULL));
    assert_null(gd_create_table_columns(NULL, NULL));
    /* ANSI_QUOTES' layout: not understood, so nothing to compare (NULL),
     * never "no columns" */
    assert_null(gd_create_table_columns("CREATE TABLE \"t\" (\n  \"a\" int(11)\n)", NULL));
}

/* `d`.`orders` with the given columns, rows and rows of its one chunk. */
static gd_manifest *manifest_with(const char *const *columns, size_t ncolumns, uint64_t rows,
                                  uint64_t chunk_rows)
{
    gd_manifest *m = fx_manifest("20261101T000000Z", 1761955200, "", "d");
    gd_mf_table *t = &m->tables[0];
    free(t->name);
    t->name = gd_strdup("orders");
    for (size_t k = 0; k < t->ncolumns; k++)
        free(t->columns[k].name);
    t->ncolumns = ncolumns;
    for (size_t k = 0; k < ncolumns; k++)
        t->columns[k].name = gd_strdup(columns[k]);
    t->rows = rows;
    t->chunks[0].rows = chunk_rows;
    return m;
}

/* Runs the check; the first problem's text ("" none). */
static size_t check(gd_manifest *m, json_t *schema, char *first, size_t size)
{
    gd_set_problems problems = {0};
    size_t n = gd_set_check(m, schema, &problems);
    assert_int_equal(n, problems.n);
    snprintf(first, size, "%s", n ? problems.v[0].problem : "");
    gd_set_problems_free(&problems);
    gd_manifest_free(m);
    return n;
}

static void set_check(void **state)
{
    (void)state;
    json_t *schema =
        json_pack("{s:[{s:s, s:s, s:s}]}", "tables", "db", "d", "name", "orders", "create",
                  "CREATE TABLE `orders` (\n  `id` int(11) NOT NULL,\n  `v` "
                  "varchar(20) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB");
    static const char *const id_v[] = {"id", "v"}, *const id_w[] = {"id", "w"},
                             *const v_id[] = {"v", "id"};
    char first[512];
    /* good, with and without the schema */
    assert_int_equal(check(manifest_with(id_v, 2, 2, 2), schema, first, sizeof first), 0);
    assert_int_equal(check(manifest_with(id_v, 2, 2, 2), NULL, first, sizeof first), 0);
    /* the bug of issue 9: no columns */
    gd_manifest *m = manifest_with(id_v, 0, 2, 2);
    gd_set_problems problems = {0};
    assert_int_equal(gd_set_check(m, NULL, &problems), 1);
    char *msg = gd_set_check_message(&problems);
    assert_non_null(strstr(msg, "table `d`.`orders`: the set holds no columns"));
    free(msg);
    gd_set_problems_free(&problems);
    gd_manifest_free(m);
    /* a column too few, a wrong name */
    assert_int_equal(check(manifest_with(id_v, 1, 2, 2), schema, first, sizeof first), 1);
    assert_non_null(strstr(first, "holds 1 columns for it but its CREATE TABLE has 2"));
    assert_int_equal(check(manifest_with(id_w, 2, 2, 2), schema, first, sizeof first), 1);
    /* the right names in the wrong order would load shifted values */
    assert_int_equal(check(manifest_with(v_id, 2, 2, 2), schema, first, sizeof first), 1);
    /* rows that do not add up, or overflow when added */
    assert_int_equal(check(manifest_with(id_v, 2, 3, 2), NULL, first, sizeof first), 1);
    assert_string_equal(first, "its chunks hold 2 rows but the set says 3");
    m = manifest_with(id_v, 2, 5, UINT64_MAX);
    m->tables[0].chunks = gd_realloc(m->tables[0].chunks, 3 * sizeof *m->tables[0].chunks);
    m->tables[0].chunks[1] = m->tables[0].chunks[0];
    m->tables[0].chunks[1].object = gd_strdup("data/0-1.tsv.zst");
    m->tables[0].chunks[1].rows = 6;
    m->tables[0].nchunks = 2;
    assert_int_equal(check(m, NULL, first, sizeof first), 1);
    assert_non_null(strstr(first, "hold more than"));
    /* no chunk at all */
    m = manifest_with(id_v, 2, 0, 0);
    m->tables[0].nchunks = 0;
    free(m->tables[0].chunks[0].object);
    assert_int_equal(check(m, NULL, first, sizeof first), 1);
    assert_string_equal(first, "the set holds no data object for it");
    /* a table the schema does not have */
    json_t *other = json_pack("{s:[{s:s, s:s, s:s}]}", "tables", "db", "d", "name", "Orders",
                              "create", "CREATE TABLE `Orders` (\n  `id` int\n)");
    assert_int_equal(check(manifest_with(id_v, 2, 2, 2), other, first, sizeof first), 1);
    json_decref(other);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nameidx_finds_exact_names),
        cmocka_unit_test(create_table_columns),
        cmocka_unit_test(set_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
