/* Unit tests of the typed manifest (repo/manifest.h): what the backup
 * writes reads back equal, manifests of earlier geodr versions read, and
 * hostile content is refused at the door with a message naming the
 * manifest, the region and what is wrong. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region_fixture.h"
#include "repo/repo_intern.h"
#include "repo/manifest.h"
#include "repo/setcheck.h"

#define NAME "shop/backup/20261101T000000Z/manifest"
#define SET "20261101T000000Z"

/* A manifest with every optional member set the way the backup sets it. */
static gd_manifest *full_manifest(void)
{
    gd_manifest *m = fx_manifest(SET, 1761955200, "0-1-10,1-2-7", "d");
    free(m->binlog_file);
    m->binlog_file = gd_strdup("mariadb-bin.000003");
    m->binlog_pos = 4567;
    m->lock_seconds = 0.25;
    m->nontransactional_tables = 1;
    m->nontransactional_locked = false;
    m->totals.seconds = 1.5;
    gd_mf_table *t = &m->tables[0];
    t->columns[0].form = GD_MF_FORM_BINARY;
    t->columns[1].form = GD_MF_FORM_INDEX;
    t->versioned = true;
    t->consistent = false;
    t->digest = 0xfedcba9876543210ULL; /* every bit of the hex form */
    t->has_digest = true;
    t->chunks[0].enum_errors = 3;
    return m;
}

static void assert_object_equal(const gd_mf_object *a, const gd_mf_object *b)
{
    assert_string_equal(a->object, b->object);
    assert_string_equal(a->sha256, b->sha256);
    assert_true(a->size == b->size && a->raw_size == b->raw_size && a->rows == b->rows &&
                a->enum_errors == b->enum_errors);
}

static void assert_manifest_equal(const gd_manifest *a, const gd_manifest *b)
{
    assert_string_equal(a->set, b->set);
    assert_string_equal(a->instance, b->instance);
    assert_string_equal(a->method, b->method);
    assert_true(a->start_us == b->start_us && a->end_us == b->end_us);
    assert_string_equal(a->gtid, b->gtid);
    assert_int_equal(a->has_pos, b->has_pos);
    assert_true(!a->has_pos ||
                (gd_gtid_pos_le(&a->pos, &b->pos) && gd_gtid_pos_le(&b->pos, &a->pos)));
    assert_string_equal(a->binlog_file, b->binlog_file);
    assert_true(a->binlog_pos == b->binlog_pos);
    assert_string_equal(a->server_version, b->server_version);
    assert_string_equal(a->cipher, b->cipher);
    assert_string_equal(a->compression, b->compression);
    assert_true(a->lock_seconds == b->lock_seconds);
    assert_true(a->nontransactional_tables == b->nontransactional_tables);
    assert_int_equal(a->nontransactional_locked, b->nontransactional_locked);
    assert_int_equal(a->legacy, b->legacy);
    assert_object_equal(&a->schema, &b->schema);
    assert_true(memcmp(&a->totals, &b->totals, sizeof a->totals) == 0);
    assert_int_equal(a->ntables, b->ntables);
    for (size_t i = 0; i < a->ntables; i++) {
        const gd_mf_table *x = &a->tables[i], *y = &b->tables[i];
        assert_string_equal(x->db, y->db);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->engine, y->engine);
        assert_true(x->rows == y->rows);
        assert_int_equal(x->versioned, y->versioned);
        assert_int_equal(x->consistent, y->consistent);
        assert_int_equal(x->has_digest, y->has_digest);
        assert_true(x->digest == y->digest);
        assert_int_equal(x->ncolumns, y->ncolumns);
        for (size_t k = 0; k < x->ncolumns; k++) {
            assert_string_equal(x->columns[k].name, y->columns[k].name);
            assert_int_equal(x->columns[k].form, y->columns[k].form);
        }
        assert_int_equal(x->nchunks, y->nchunks);
        for (size_t k = 0; k < x->nchunks; k++)
            assert_object_equal(&x->chunks[k], &y->chunks[k]);
    }
}

static gd_manifest *decode_ok(json_t *j)
{
    gd_manifest *m = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_manifest_decode(j, NAME, "home", &m, &e);
    if (rc != 0)
        print_message("# %s\n", e.msg);
    assert_int_equal(rc, 0);
    return m;
}

/* Encoded, then decoded: equal; and through a region's record writer and
 * reader too. */
static void round_trip(void **state)
{
    (void)state;
    gd_manifest *m = full_manifest();
    json_t *j = gd_manifest_encode(m);
    gd_manifest *back = decode_ok(j);
    assert_manifest_equal(m, back);
    gd_manifest_free(back);
    json_decref(j);

    fx_region *f = fx_open();
    assert_non_null(f);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_manifest_write(f->r, SET, m, &e), 0);
    assert_int_equal(gd_manifest_read(f->r, SET, &back, &e), 0);
    assert_manifest_equal(m, back);
    gd_manifest_free(back);
    /* another set's manifest moved here is not this set's */
    char *src = gd_asprintf("%s/shop/backup/%s/manifest", f->dir, SET);
    char *dir = gd_asprintf("%s/shop/backup/20261102T000000Z", f->dir);
    char *cmd = gd_asprintf("mkdir -p '%s' && cp '%s' '%s/manifest'", dir, src, dir);
    assert_int_equal(system(cmd), 0);
    back = NULL;
    assert_int_equal(gd_manifest_read(f->r, "20261102T000000Z", &back, &e), GD_E_CORRUPT);
    assert_null(back);
    assert_non_null(strstr(e.msg, "it was moved"));
    gd_err_clear(&e);
    assert_int_equal(gd_manifest_read(f->r, "20261103T000000Z", &back, &e), GD_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "does not exist in region home"));
    free(cmd);
    free(dir);
    free(src);
    fx_close(f);
    gd_manifest_free(m);
}

/* The JSON keeps the keys every geodr wrote, and nothing is lost when
 * optional members are at their defaults. */
static void encoded_keys(void **state)
{
    (void)state;
    gd_manifest *m = full_manifest();
    json_t *j = gd_manifest_encode(m);
    static const char *const keys[] = {"format",
                                       "version",
                                       "set",
                                       "instance",
                                       "method",
                                       "start",
                                       "end",
                                       "start_us",
                                       "end_us",
                                       "gtid",
                                       "binlog_file",
                                       "binlog_pos",
                                       "server_version",
                                       "cipher",
                                       "compression",
                                       "lock_seconds",
                                       "nontransactional_tables",
                                       "nontransactional_locked",
                                       "tables",
                                       "schema",
                                       "totals"};
    assert_int_equal(json_object_size(j), sizeof keys / sizeof keys[0]);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        assert_non_null(json_object_get(j, keys[k]));
    assert_string_equal(json_string_value(json_object_get(j, "end")), "2025-11-01 00:00:00");
    json_t *t = json_array_get(json_object_get(j, "tables"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "forms"), "v")),
                        "index");
    assert_true(json_is_false(json_object_get(t, "consistent")));
    assert_true(json_is_true(json_object_get(t, "versioned")));
    json_t *ch = json_array_get(json_object_get(t, "chunks"), 0);
    assert_int_equal(json_integer_value(json_object_get(ch, "enum_errors")), 3);
    json_decref(j);
    gd_manifest_free(m);
    /* defaults: no forms, versioned, consistent or enum_errors members */
    m = fx_manifest(SET, 1761955200, "", "d");
    j = gd_manifest_encode(m);
    t = json_array_get(json_object_get(j, "tables"), 0);
    assert_null(json_object_get(t, "forms"));
    assert_null(json_object_get(t, "versioned"));
    assert_null(json_object_get(t, "consistent"));
    assert_null(json_object_get(json_array_get(json_object_get(t, "chunks"), 0), "enum_errors"));
    json_decref(j);
    gd_manifest_free(m);
}

/* A manifest as geodr 0.1 wrote it (no "nontransactional_locked", no
 * "forms"): it reads, as a legacy set. */
static void old_manifest_reads(void **state)
{
    (void)state;
    const char *text =
        "{\"binlog_file\": \"mariadb-bin.000001\", \"binlog_pos\": 328, \"cipher\": \"none\", "
        "\"compression\": \"zstd\", \"end\": \"2025-11-01 00:00:01\", \"end_us\": "
        "1761955201000000, \"format\": \"geodr-manifest\", \"gtid\": \"0-1-10\", "
        "\"instance\": \"shop\", \"lock_seconds\": 0.01, \"method\": \"logical\", "
        "\"nontransactional_tables\": 0, \"schema\": {\"object\": \"schema.json.zst\", "
        "\"raw_size\": 900, \"sha256\": \"" FX_SHA "\", \"size\": 300}, \"server_version\": "
        "\"10.11.6-MariaDB\", \"set\": \"" SET "\", \"start\": \"2025-11-01 00:00:00\", "
        "\"start_us\": 1761955200000000, \"tables\": [{\"chunks\": [{\"object\": "
        "\"data/0-0.tsv.zst\", \"raw_size\": 20, \"rows\": 2, \"sha256\": \"" FX_SHA "\", "
        "\"size\": 18}], \"columns\": [\"id\", \"v\"], \"db\": \"d\", \"engine\": \"MyISAM\", "
        "\"name\": \"t\", \"rows\": 2}], \"totals\": {\"objects\": 2, \"raw_bytes\": 920, "
        "\"rows\": 2, \"seconds\": 0.5, \"stored_bytes\": 318, \"tables\": 1}, \"version\": 1}";
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    gd_manifest *m = decode_ok(j);
    assert_true(m->legacy);
    assert_true(m->nontransactional_locked);
    assert_true(m->has_pos);
    assert_int_equal(m->ntables, 1);
    assert_string_equal(m->tables[0].engine, "MyISAM");
    assert_true(m->tables[0].consistent);
    assert_int_equal(m->tables[0].columns[1].form, GD_MF_FORM_TEXT);
    assert_true(m->totals.stored_bytes == 318);
    /* encoded again, it stays a legacy set */
    json_t *again = gd_manifest_encode(m);
    assert_null(json_object_get(again, "nontransactional_locked"));
    json_decref(again);
    gd_manifest_free(m);
    json_decref(j);
}

/* ---- hostile input ---- */

static json_t *table0(json_t *j)
{
    return json_array_get(json_object_get(j, "tables"), 0);
}

static json_t *chunk0(json_t *j)
{
    return json_array_get(json_object_get(table0(j), "chunks"), 0);
}

/* Case k's edit of a good manifest's JSON, and a part of the message it
 * must give; NULL when there are no more cases. */
static const char *hostile_edit(int k, json_t *j)
{
    switch (k) {
    case 0:
        json_object_set_new(j, "set", json_integer(5));
        return "\"set\" is not a string";
    case 1:
        json_object_del(j, "tables");
        return "\"tables\" is missing";
    case 2:
        json_object_set_new(j, "tables", json_object());
        return "\"tables\" is not a list";
    case 3:
        json_object_del(j, "end_us");
        return "\"end_us\" is missing";
    case 4:
        json_object_set_new(table0(j), "rows", json_integer(-1));
        return "table `d`.`t`: \"rows\" is negative (-1)";
    case 5:
        json_object_set_new(chunk0(j), "size", json_integer(-5));
        return "table `d`.`t`: chunk 0: \"size\" is negative";
    case 6:
        json_object_set_new(chunk0(j), "object", json_string("/etc/passwd"));
        return "table `d`.`t`: chunk 0: object '/etc/passwd' is not a name inside the set";
    case 7:
        json_object_set_new(chunk0(j), "object", json_string("../20261102T000000Z/manifest"));
        return "is not a name inside the set";
    case 8:
        json_object_set_new(chunk0(j), "object", json_string("data/../../x"));
        return "is not a name inside the set";
    case 9:
        json_object_set_new(chunk0(j), "object", json_string("data//0-0.tsv.zst"));
        return "is not a name inside the set";
    case 10:
        json_object_set_new(json_object_get(j, "schema"), "object", json_string("manifest"));
        return "the schema object: object 'manifest' is not a name inside the set";
    case 11:
        json_object_set_new(json_object_get(j, "schema"), "object", json_string(""));
        return "is not a name inside the set";
    case 12:
        json_object_set_new(chunk0(j), "sha256", json_string("00"));
        return "chunk 0: sha256 '00' is not 64 hex digits";
    case 13:
        json_array_set_new(json_object_get(table0(j), "columns"), 0, json_integer(5));
        return "table `d`.`t`: column 1 of its list is not a name";
    case 14:
        json_object_set_new(j, "gtid", json_string("0-1-"));
        return "\"gtid\" '0-1-' is not a GTID position";
    case 15:
        json_object_set_new(table0(j), "forms", json_pack("{s:s}", "v", "enum"));
        return "column v is written in a form this geodr does not know";
    case 16:
        json_object_set_new(table0(j), "versioned", json_string("yes"));
        return "\"versioned\" is not true or false";
    case 17:
        json_object_set_new(j, "lock_seconds", json_string("x"));
        return "\"lock_seconds\" is not a number";
    case 18:
        json_object_set_new(j, "schema", json_null());
        return "the schema object: not an object";
    case 19:
        json_array_set_new(json_object_get(j, "tables"), 0, json_string("t"));
        return "table 1 is not an object";
    case 20:
        json_object_del(table0(j), "db");
        return "table 1: \"db\" is missing";
    case 21:
        json_object_set_new(chunk0(j), "rows", json_real(2.0));
        return "\"rows\" is not an integer";
    case 22: { /* more columns than a table can have */
        json_t *cols = json_object_get(table0(j), "columns");
        for (unsigned i = 0; i < GD_MANIFEST_MAX_COLUMNS; i++)
            json_array_append_new(cols, json_string("c"));
        return "columns, more than a table has";
    }
    case 23: { /* more chunks than a backup writes (no chunk is decoded) */
        json_t *chunks = json_object_get(table0(j), "chunks");
        for (unsigned i = 0; i < GD_MANIFEST_MAX_CHUNKS; i++)
            json_array_append_new(chunks, json_null());
        return "chunks, more than a backup writes";
    }
    case 24:
        json_object_set_new(j, "totals", json_integer(1));
        return "\"totals\" is not an object";
    case 25:
        json_object_set_new(table0(j), "digest", json_string("FEDCBA9876543210"));
        return "table `d`.`t`: digest 'FEDCBA9876543210' is not 16 lower-case hex digits";
    case 26:
        json_object_set_new(table0(j), "digest", json_string("0123"));
        return "digest '0123' is not 16 lower-case hex digits";
    default:
        return NULL;
    }
}

static void hostile_manifests(void **state)
{
    (void)state;
    gd_manifest *good = full_manifest();
    const char *want;
    for (int k = 0;; k++) {
        json_t *j = gd_manifest_encode(good);
        if ((want = hostile_edit(k, j)) == NULL) {
            json_decref(j);
            break;
        }
        gd_manifest *m = NULL;
        gd_err e;
        gd_err_clear(&e);
        int rc = gd_manifest_decode(j, NAME, "home", &m, &e);
        if (rc != GD_E_CORRUPT || strstr(e.msg, want) == NULL)
            print_message("# case %d: rc %d, %s\n", k, rc, e.msg);
        assert_int_equal(rc, GD_E_CORRUPT);
        assert_null(m);
        assert_non_null(strstr(e.msg, want));
        assert_non_null(strstr(e.msg, "manifest " NAME " in region home is corrupt: "));
        assert_non_null(strstr(e.msg, "restore from another set or region"));
        json_decref(j);
    }
    /* not an object at all */
    gd_manifest *m = NULL;
    gd_err e;
    gd_err_clear(&e);
    json_t *arr = json_array();
    assert_int_equal(gd_manifest_decode(arr, NAME, "home", &m, &e), GD_E_CORRUPT);
    json_decref(arr);
    gd_manifest_free(good);
}

/* Numbers that fit decode, and nothing is sized from them: a table count
 * of 10^6 claimed in the totals with one table present, rows of INT64_MAX
 * (the set check, not the decoder, says they do not add up). */
static void claimed_counts(void **state)
{
    (void)state;
    gd_manifest *good = full_manifest();
    json_t *j = gd_manifest_encode(good);
    json_object_set_new(json_object_get(j, "totals"), "tables", json_integer(1000000));
    json_object_set_new(json_object_get(j, "totals"), "objects", json_integer(INT64_MAX));
    json_object_set_new(table0(j), "rows", json_integer(INT64_MAX));
    gd_manifest *m = decode_ok(j);
    assert_int_equal(m->ntables, 1);
    assert_true(m->totals.tables == 1000000);
    gd_set_problems problems = {0};
    assert_int_equal(gd_set_check(m, NULL, &problems), 1);
    assert_non_null(strstr(problems.v[0].problem, "its chunks hold 1 rows but the set says"));
    gd_set_problems_free(&problems);
    gd_manifest_free(m);
    json_decref(j);
    gd_manifest_free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),         cmocka_unit_test(encoded_keys),
        cmocka_unit_test(old_manifest_reads), cmocka_unit_test(hostile_manifests),
        cmocka_unit_test(claimed_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
