/* Unit tests of repository locks (repo/lock.h) on a posix region: many
 * contenders at once never hold an exclusive lock together, a read lease
 * waits for a running expire, a stale entry is taken over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "repo/lock.h"
#include "storage/storage.h"

typedef struct fixture {
    char dir[64];
    gd_storage *st;
} fixture;

static int setup(void **state)
{
    fixture *f = gd_calloc(1, sizeof *f);
    gd_strlcpy(f->dir, "/tmp/gd_test_lock_XXXXXX", sizeof f->dir);
    if (mkdtemp(f->dir) == NULL || gd_storage_posix_open("home", f->dir, &f->st, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gd_storage_free(f->st);
    char *cmd = gd_asprintf("rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

typedef struct contender {
    gd_storage *st;
    atomic_int *holders, *most, *won;
} contender;

static void *contend(void *arg)
{
    contender *c = arg;
    gd_lock *lk = NULL;
    if (gd_lock_take(c->st, "shop", "backup", "test", 0, &lk, NULL) != 0)
        return NULL;
    int now = atomic_fetch_add(c->holders, 1) + 1;
    int m = atomic_load(c->most);
    while (now > m && !atomic_compare_exchange_weak(c->most, &m, now)) {
    }
    atomic_fetch_add(c->won, 1);
    sleep_ms(150);
    atomic_fetch_sub(c->holders, 1);
    gd_lock_release(lk);
    return NULL;
}

/* Eight takers at the same moment: never two holders at once, at least one
 * wins, and nothing is left behind. */
static void exclusive_under_contention(void **state)
{
    fixture *f = *state;
    atomic_int holders = 0, most = 0, won = 0;
    pthread_t th[8];
    contender c = {f->st, &holders, &most, &won};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, contend, &c), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&most), 1);
    assert_true(atomic_load(&won) >= 1);
    char *locks = gd_asprintf("%s/shop/locks", f->dir);
    struct stat sb;
    bool empty = stat(locks, &sb) != 0 || rmdir(locks) == 0;
    free(locks);
    assert_true(empty);
}

/* A second taker while one holds: GD_E_BUSY with the holder's pid. */
static void busy_names_the_holder(void **state)
{
    fixture *f = *state;
    gd_lock *a = NULL, *b = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_lock_take(f->st, "shop", "expire", "expire", 0, &a, &e), 0);
    assert_int_equal(gd_lock_take(f->st, "shop", "expire", "expire", 0, &b, &e), GD_E_BUSY);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    assert_non_null(strstr(e.msg, pid));
    assert_true(e.retryable);
    /* other kinds are not excluded */
    assert_int_equal(gd_lock_take(f->st, "shop", "backup", "backup", 0, &b, NULL), 0);
    gd_lock_release(b);
    gd_lock_release(a);
}

static void *release_later(void *arg)
{
    sleep_ms(700);
    gd_lock_release(arg);
    return NULL;
}

/* A read lease is granted only once the running expire has ended; expire
 * then sees the lease and what it protects. */
static void read_lease_waits_for_expire(void **state)
{
    fixture *f = *state;
    gd_lock *exp = NULL, *rd = NULL;
    assert_int_equal(gd_lock_take(f->st, "shop", "expire", "expire", 0, &exp, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, exp), 0);
    double t0 = gd_mono();
    assert_int_equal(gd_lock_take_read(f->st, "shop", "restore", NULL, 30, &rd, NULL), 0);
    assert_true(gd_mono() - t0 >= 0.5);
    pthread_join(th, NULL);
    gd_leases leases;
    assert_int_equal(gd_lock_read_leases(f->st, "shop", &leases, NULL), 0);
    assert_int_equal(leases.n, 1);
    assert_null(leases.sets[0]); /* everything, until narrowed */
    gd_leases_free(&leases);
    assert_int_equal(gd_lock_narrow(rd, "S1", NULL), 0);
    assert_int_equal(gd_lock_read_leases(f->st, "shop", &leases, NULL), 0);
    assert_int_equal(leases.n, 1);
    assert_string_equal(leases.sets[0], "S1");
    gd_leases_free(&leases);
    gd_lock_release(rd);
    assert_int_equal(gd_lock_read_leases(f->st, "shop", &leases, NULL), 0);
    assert_int_equal(leases.n, 0);
    gd_leases_free(&leases);
}

/* An entry of another machine whose lease ran out is taken over. */
static void stale_entry_taken_over(void **state)
{
    fixture *f = *state;
    char *dir = gd_asprintf("%s/shop/locks", f->dir);
    char *path = gd_asprintf("%s/archive.L4.0011223344556677", dir);
    char *inst = gd_asprintf("%s/shop", f->dir);
    mkdir(inst, 0700);
    mkdir(dir, 0700);
    free(inst);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"host\":\"elsewhere\",\"pid\":1,\"op\":\"archive\"}", fp);
    fclose(fp);
    gd_lock *lk = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_lock_take(f->st, "shop", "archive", "archive", 0, &lk, &e), GD_E_BUSY);
    assert_non_null(strstr(e.msg, "host elsewhere"));
    sleep_ms(4500); /* a lease of 4 s: a loaded machine cannot make it stale before the first try */
    assert_int_equal(gd_lock_take(f->st, "shop", "archive", "archive", 0, &lk, NULL), 0);
    assert_int_equal(access(path, F_OK), -1);
    gd_lock_release(lk);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exclusive_under_contention, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_names_the_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(read_lease_waits_for_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_entry_taken_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
