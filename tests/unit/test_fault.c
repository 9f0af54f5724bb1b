/* Unit tests for storage/fault: the fault driver wrapping a posix storage
 * fails exactly the chosen call, leaves nothing visible (no object, no temp
 * file) and counts every call per kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "storage/storage.h"

typedef struct fixture {
    char dir[64];
    gd_storage *s; /* the fault storage, wrapping a posix one on dir */
    gd_fault *f;
} fixture;

/* Wraps a posix storage on a new temp dir with a plan from spec. */
static fixture *open_with(void **state, const char *spec)
{
    fixture *fx = gd_calloc(1, sizeof *fx);
    *state = fx;
    gd_strlcpy(fx->dir, "/tmp/gd_test_fault_XXXXXX", sizeof fx->dir);
    assert_non_null(mkdtemp(fx->dir));
    gd_err e;
    gd_err_clear(&e);
    gd_storage *inner = NULL;
    assert_int_equal(gd_storage_posix_open("home", fx->dir, &inner, &e), 0);
    assert_int_equal(gd_fault_new(spec, &fx->f, &e), 0);
    fx->s = gd_storage_fault_open(inner, fx->f);
    return fx;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx == NULL)
        return 0;
    gd_storage_free(fx->s);
    gd_fault_free(fx->f);
    char *cmd = gd_asprintf("rm -rf '%s'", fx->dir);
    int rc = system(cmd);
    free(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Every entry of the region's root, temp files included, sorted, joined by
 * spaces: what a reader of the directory would see. */
static char *entries(const fixture *fx)
{
    struct dirent **v = NULL;
    int n = scandir(fx->dir, &v, NULL, alphasort);
    assert_true(n >= 0);
    gd_buf b;
    gd_buf_init(&b, 0);
    for (int i = 0; i < n; i++) {
        const char *d = v[i]->d_name;
        if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
            if (b.len > 0)
                assert_int_equal(gd_buf_append(&b, " ", 1), 0);
            assert_int_equal(gd_buf_append(&b, d, strlen(d)), 0);
        }
        free(v[i]);
    }
    free(v);
    assert_int_equal(gd_buf_append(&b, "", 1), 0);
    return b.data;
}

static void assert_entries(const fixture *fx, const char *want)
{
    char *got = entries(fx);
    assert_string_equal(got, want);
    free(got);
}

static int put(const fixture *fx, const char *name, gd_err *e)
{
    gd_err_clear(e);
    return gd_storage_put_all(fx->s, name, name, strlen(name), e);
}

static void test_nth_commit_fails(void **state)
{
    fixture *fx = open_with(state, "commit=2");
    gd_err e;
    assert_string_equal(fx->s->ops->type, "fault");
    assert_string_equal(fx->s->name, "home");
    assert_int_equal(put(fx, "a", &e), 0);
    assert_int_equal(put(fx, "b", &e), GD_E_NET);
    assert_true(e.retryable);
    assert_non_null(strstr(e.msg, "commit call 2"));
    assert_non_null(strstr(e.msg, "object b in region home"));
    assert_int_equal(put(fx, "c", &e), 0);
    /* The failed commit left neither the object nor a temp file. */
    assert_entries(fx, "a c");
    gd_stat st;
    assert_int_equal(gd_storage_stat(fx->s, "b", &st, NULL), GD_E_NOTFOUND);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_OPEN_WRITE), 3);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_WRITE), 3);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_COMMIT), 3);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_STAT), 1);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_LIST), 0);
    assert_int_equal(gd_fault_fired(fx->f), 1);
}

static void test_failed_write_poisons_commit(void **state)
{
    fixture *fx = open_with(state, "write=2,error=io");
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    assert_int_equal(gd_storage_open_write(fx->s, "obj", &w, &e), 0);
    assert_int_equal(gd_writer_write(w, "one", 3, &e), 0);
    assert_int_equal(gd_writer_write(w, "two", 3, &e), GD_E_IO);
    assert_int_equal(e.sys_errno, EIO);
    assert_false(e.retryable);
    /* A caller that commits anyway gets an error and nothing visible. */
    gd_err_clear(&e);
    assert_int_equal(gd_writer_commit(w, &e), GD_E_IO);
    assert_non_null(strstr(e.msg, "a write failed"));
    assert_entries(fx, "");
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_COMMIT), 1);
    assert_int_equal(gd_fault_fired(fx->f), 1);
}

/* lost: the commit and the remove are carried out, only the reply fails. */
static void test_lost_reply(void **state)
{
    fixture *fx = open_with(state, "commit=1,remove=1,lost");
    gd_err e;
    assert_int_equal(put(fx, "a", &e), GD_E_NET);
    assert_entries(fx, "a");
    assert_int_equal(gd_storage_remove(fx->s, "a", NULL), GD_E_NET);
    assert_entries(fx, "");
    assert_int_equal(gd_fault_fired(fx->f), 2);
}

static int count_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)name;
    (void)st;
    (*(int *)ctx)++;
    return 0;
}

static void test_other_kinds(void **state)
{
    fixture *fx = open_with(state, "open_read=1,read=2,stat=1,remove=1,list=2,persist");
    gd_err e;
    assert_int_equal(put(fx, "x", &e), 0);
    char *data = NULL;
    size_t len = 0;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(fx->s, "x", 100, &data, &len, &e), GD_E_NET);
    assert_non_null(strstr(e.msg, "open_read call 1"));
    /* persist: every open_read from the 1st on fails. */
    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(fx->s, "x", 100, &data, &len, &e), GD_E_NET);
    assert_null(data);
    gd_stat st;
    assert_int_equal(gd_storage_stat(fx->s, "x", &st, NULL), GD_E_NET);
    int n = 0;
    assert_int_equal(gd_storage_list(fx->s, "", count_cb, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gd_storage_list(fx->s, "", count_cb, &n, NULL), GD_E_NET);
    assert_int_equal(gd_storage_list(fx->s, "", count_cb, &n, NULL), GD_E_NET);
    assert_int_equal(n, 1);
    /* A failed remove removes nothing. */
    assert_int_equal(gd_storage_remove(fx->s, "x", NULL), GD_E_NET);
    assert_entries(fx, "x");
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_OPEN_READ), 2);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_LIST), 3);
    assert_int_equal(gd_fault_fired(fx->f), 6);

    /* The report: one line per kind, then the failures injected. */
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    assert_non_null(out);
    assert_int_equal(gd_fault_report(fx->f, out), 0);
    fclose(out);
    assert_string_equal(buf, "open_read 2\nread 0\nopen_write 1\nwrite 1\ncommit 1\nstat 1\n"
                             "list 3\nremove 1\nfired 6\n");
    free(buf);
}

static void test_reads_pass_through(void **state)
{
    fixture *fx = open_with(state, "read=3");
    gd_err e;
    assert_int_equal(put(fx, "y", &e), 0);
    char *data = NULL;
    size_t len = 0;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(fx->s, "y", 100, &data, &len, &e), 0);
    assert_int_equal(len, 1);
    assert_memory_equal(data, "y", 1);
    free(data);
    assert_int_equal(gd_fault_calls(fx->f, GD_FAULT_READ), 1); /* short read: the end */
    assert_int_equal(gd_fault_fired(fx->f), 0);
}

static void test_bad_specs(void **state)
{
    (void)state;
    const char *bad[] = {"commit=0", "commit=-1",  "commit=x", "commit",
                         "foo=1",    "error=disk", "region=",  "commit=3,,bogus"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_fault *f = (gd_fault *)(uintptr_t)1;
        gd_err e;
        gd_err_clear(&e);
        assert_int_equal(gd_fault_new(bad[i], &f, &e), GD_E_CONFIG);
        assert_null(f);
        assert_non_null(strstr(e.msg, "GEODR_FAULT"));
    }
    gd_fault *f = NULL;
    assert_int_equal(gd_fault_new("count,region=far,commit=18446744073709551615", &f, NULL), 0);
    gd_fault_free(f);
}

/* The environment hook wraps only the region named (read once per process). */
static void test_env_hook(void **state)
{
    (void)state;
    assert_int_equal(setenv("GEODR_FAULT", "commit=1,region=far", 1), 0);
    char dir[] = "/tmp/gd_test_fault_env_XXXXXX";
    assert_non_null(mkdtemp(dir));
    gd_storage *home = NULL, *far = NULL;
    assert_int_equal(gd_storage_posix_open("home", dir, &home, NULL), 0);
    assert_int_equal(gd_storage_posix_open("far", dir, &far, NULL), 0);
    gd_storage *home0 = home;
    assert_int_equal(gd_storage_fault_from_env(&home, NULL), 0);
    assert_int_equal(gd_storage_fault_from_env(&far, NULL), 0);
    assert_ptr_equal(home, home0);
    assert_string_equal(far->ops->type, "fault");
    assert_int_equal(gd_storage_put_all(far, "o", "o", 1, NULL), GD_E_NET);
    assert_int_equal(gd_storage_put_all(home, "o", "o", 1, NULL), 0);
    assert_int_equal(gd_storage_remove(home, "o", NULL), 0);
    gd_storage_free(home);
    gd_storage_free(far);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nth_commit_fails, teardown),
        cmocka_unit_test_teardown(test_failed_write_poisons_commit, teardown),
        cmocka_unit_test_teardown(test_lost_reply, teardown),
        cmocka_unit_test_teardown(test_other_kinds, teardown),
        cmocka_unit_test_teardown(test_reads_pass_through, teardown),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_env_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
