/* Unit tests of the server's state database (server/state.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "server/state.h"

typedef struct fixture {
    char root[64]; /* a temporary directory */
    char dir[96];  /* root/state: made by gd_state_open */
} fixture;

static int setup(void **state)
{
    fixture *f = gd_calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/geodr-state-XXXXXX");
    if (mkdtemp(f->root) == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/state", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char *cmd = gd_asprintf("rm -rf '%s'", f->root);
    int rc = system(cmd);
    free(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static char *path_in(const fixture *f, const char *name)
{
    return gd_asprintf("%s/%s", f->dir, name);
}

static json_t *one_job(gd_state *s, const char *id)
{
    json_t *a = NULL;
    assert_int_equal(gd_state_jobs(s, id, 1, &a, NULL), 0);
    assert_int_equal(json_array_size(a), 1);
    json_t *o = json_incref(json_array_get(a, 0));
    json_decref(a);
    return o;
}

/* A job and a scheduler value written, read back, and still there after
 * the database is closed and opened again; the file and directory are
 * private. */
static void round_trip_and_reopen(void **state)
{
    fixture *f = *state;
    gd_state *s = NULL;
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_state_open(f->dir, &s, &err), 0);

    gd_state_job j = {.id = "j-1",
                      .operation = "CreateBackup",
                      .instance = "shop",
                      .status = "Running",
                      .start_us = 1764505800000000LL};
    assert_int_equal(gd_state_job_put(s, &j, &err), 0);
    j.status = "Succeeded";
    j.end_us = j.start_us + 61000000;
    j.result_json = "{\"BackupSetId\":\"20261130T123000Z\"}";
    assert_int_equal(gd_state_job_put(s, &j, &err), 0);
    gd_state_job k = {.id = "j-2",
                      .operation = "CreateDdrInstance",
                      .status = "Failed",
                      .start_us = j.start_us + 1000000,
                      .end_us = j.start_us + 2000000,
                      .error_code = "notfound",
                      .error_message = "no set"};
    assert_int_equal(gd_state_job_put(s, &k, &err), 0);
    assert_int_equal(gd_state_set(s, "shop", "backup.last_attempt_us", "123", &err), 0);
    assert_int_equal(gd_state_set(s, "shop", "backup.last_attempt_us", "456", &err), 0);
    gd_state_close(s);

    assert_int_equal(gd_state_open(f->dir, &s, &err), 0);
    json_t *o = one_job(s, "j-1");
    assert_string_equal(json_string_value(json_object_get(o, "Status")), "Succeeded");
    assert_string_equal(json_string_value(json_object_get(o, "Operation")), "CreateBackup");
    assert_string_equal(json_string_value(json_object_get(o, "DBInstanceId")), "shop");
    assert_string_equal(json_string_value(json_object_get(o, "StartTime")), "2025-11-30T12:30:00Z");
    assert_string_equal(json_string_value(json_object_get(o, "EndTime")), "2025-11-30T12:31:01Z");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "Result"), "BackupSetId")),
        "20261130T123000Z");
    assert_true(json_is_null(json_object_get(o, "Error")));
    json_decref(o);

    json_t *a = NULL;
    assert_int_equal(gd_state_jobs(s, NULL, 10, &a, &err), 0);
    assert_int_equal(json_array_size(a), 2); /* newest first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "JobId")), "j-2");
    json_t *e = json_object_get(json_array_get(a, 0), "Error");
    assert_string_equal(json_string_value(json_object_get(e, "Code")), "notfound");
    assert_string_equal(json_string_value(json_object_get(e, "Message")), "no set");
    assert_true(json_is_null(json_object_get(json_array_get(a, 0), "DBInstanceId")));
    json_decref(a);
    assert_int_equal(gd_state_jobs(s, NULL, 1, &a, &err), 0);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    assert_int_equal(gd_state_jobs(s, "j-nope", 1, &a, &err), 0);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);

    char *v = NULL;
    assert_int_equal(gd_state_get(s, "shop", "backup.last_attempt_us", &v, &err), 0);
    assert_string_equal(v, "456");
    free(v);
    assert_int_equal(gd_state_get(s, "shop", "never", &v, &err), 0);
    assert_null(v);
    assert_int_equal(gd_state_get(s, "other", "backup.last_attempt_us", &v, &err), 0);
    assert_null(v);
    gd_state_close(s);

    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    /* traversable for a drill's instance, not listable (server/state.c) */
    assert_int_equal(st.st_mode & 0777, 0711);
    char *p = path_in(f, "state.db");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(p);
}

/* Jobs a previous process left Running are Failed ("interrupted") at the
 * next open; ended ones keep their status. */
static void interrupted_jobs_marked(void **state)
{
    fixture *f = *state;
    gd_state *s = NULL;
    assert_int_equal(gd_state_open(f->dir, &s, NULL), 0);
    gd_state_job run = {.id = "j-run",
                        .operation = "CreateBackup",
                        .instance = "shop",
                        .status = "Running",
                        .start_us = 1000000};
    gd_state_job done = {.id = "j-done",
                         .operation = "CreateBackup",
                         .instance = "shop",
                         .status = "Succeeded",
                         .start_us = 500000,
                         .end_us = 900000};
    assert_int_equal(gd_state_job_put(s, &run, NULL), 0);
    assert_int_equal(gd_state_job_put(s, &done, NULL), 0);
    gd_state_close(s); /* as if the process died: nothing more written */

    assert_int_equal(gd_state_open(f->dir, &s, NULL), 0);
    json_t *o = one_job(s, "j-run");
    assert_string_equal(json_string_value(json_object_get(o, "Status")), "Failed");
    assert_false(json_is_null(json_object_get(o, "EndTime")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "Error"), "Code")),
                        "interrupted");
    json_decref(o);
    o = one_job(s, "j-done");
    assert_string_equal(json_string_value(json_object_get(o, "Status")), "Succeeded");
    json_decref(o);
    assert_int_equal(gd_state_jobs_interrupted(s, NULL), 0); /* nothing left to mark */
    gd_state_close(s);
}

static int count_bad(const fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "state.db.bad-", 13) == 0 && strstr(e->d_name, "-wal") == NULL)
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* Garbage, a foreign SQLite database and a newer schema version are each
 * moved aside and replaced by a working empty database. */
static void corrupt_or_unknown_replaced(void **state)
{
    fixture *f = *state;
    gd_state *s = NULL;
    assert_int_equal(mkdir(f->dir, 0700), 0);
    char *p = path_in(f, "state.db");
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(p, junk, sizeof junk);
    assert_int_equal(gd_state_open(f->dir, &s, NULL), 0);
    assert_int_equal(count_bad(f), 1);
    gd_state_job j = {.id = "j-1", .operation = "CreateBackup", .status = "Running", .start_us = 1};
    assert_int_equal(gd_state_job_put(s, &j, NULL), 0);
    gd_state_close(s);

    /* a database of the right kind, its schema a version we do not know */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(gd_state_open(f->dir, &s, NULL), 0);
    assert_int_equal(count_bad(f), 2);
    json_t *a = NULL;
    assert_int_equal(gd_state_jobs(s, NULL, 10, &a, NULL), 0);
    assert_int_equal(json_array_size(a), 0); /* a new, empty database */
    json_decref(a);
    gd_state_close(s);

    /* a page of a good database overwritten */
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 4096, SEEK_SET), 0);
    assert_int_equal(fwrite(junk, 1, 2048, fp), 2048);
    fclose(fp);
    assert_int_equal(gd_state_open(f->dir, &s, NULL), 0);
    assert_int_equal(count_bad(f), 3);
    assert_int_equal(gd_state_set(s, "shop", "k", "v", NULL), 0);
    gd_state_close(s);
    free(p);
}

typedef struct writer {
    gd_state *s;
    int n;
    int fails;
} writer;

static void *write_many(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < 200; i++) {
        char id[40], key[32], val[32];
        snprintf(id, sizeof id, "j-%d-%d", w->n, i);
        snprintf(key, sizeof key, "k%d", i % 10);
        snprintf(val, sizeof val, "%d", i);
        gd_state_job j = {.id = id,
                          .operation = "CreateBackup",
                          .instance = "shop",
                          .status = "Running",
                          .start_us = i};
        gd_err e;
        gd_err_clear(&e);
        if (gd_state_job_put(w->s, &j, &e) != 0 || gd_state_set(w->s, id, key, val, &e) != 0)
            w->fails++;
        json_t *a = NULL;
        if (gd_state_jobs(w->s, NULL, 5, &a, &e) != 0)
            w->fails++;
        json_decref(a);
    }
    return NULL;
}

/* Threads on one handle and a second handle (as a second process would)
 * write at once: every write lands, none fails on a lock. */
static void concurrent_writers(void **state)
{
    fixture *f = *state;
    gd_state *s1 = NULL, *s2 = NULL;
    assert_int_equal(gd_state_open(f->dir, &s1, NULL), 0);
    assert_int_equal(gd_state_open(f->dir, &s2, NULL), 0);
    enum { N = 6 };
    writer w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (writer){.s = i % 2 ? s2 : s1, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].fails, 0);
    }
    json_t *a = NULL;
    assert_int_equal(gd_state_jobs(s1, NULL, 100000, &a, NULL), 0);
    assert_int_equal(json_array_size(a), N * 200);
    json_decref(a);
    char *v = NULL;
    assert_int_equal(gd_state_get(s2, "j-5-199", "k9", &v, NULL), 0);
    assert_string_equal(v, "199");
    free(v);
    gd_state_close(s1);
    gd_state_close(s2);
}

/* A directory that cannot be made is an error naming it. */
static void unusable_directory(void **state)
{
    fixture *f = *state;
    gd_state *s = NULL;
    gd_err err;
    gd_err_clear(&err);
    char *dir = gd_asprintf("%s/missing/state", f->root);
    assert_int_equal(gd_state_open(dir, &s, &err), GD_E_IO);
    assert_null(s);
    assert_non_null(strstr(err.msg, dir));
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupted_jobs_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_or_unknown_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(unusable_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
