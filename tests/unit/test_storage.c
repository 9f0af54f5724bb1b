/* Unit tests for storage/storage and the posix driver, on a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "storage/storage.h"

typedef struct fixture {
    char dir[64];
    char *root;
    gd_storage *s;
} fixture;

static int rm_rf(const char *path)
{
    char *cmd = gd_asprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", path, path);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

static int setup(void **state)
{
    fixture *f = gd_calloc(1, sizeof *f);
    gd_strlcpy(f->dir, "/tmp/gd_test_storage_XXXXXX", sizeof f->dir);
    if (mkdtemp(f->dir) == NULL)
        return -1;
    /* The root does not exist yet: the first write creates it (mkdir -p). */
    f->root = gd_asprintf("%s/a/b/root", f->dir);
    gd_err e;
    gd_err_clear(&e);
    if (gd_storage_posix_open("home", f->root, &f->s, &e) != 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gd_storage_free(f->s);
    rm_rf(f->dir);
    free(f->root);
    free(f);
    return 0;
}

static bool exists(const char *root, const char *rel)
{
    char *p = gd_asprintf("%s/%s", root, rel);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

/* Number of entries in a directory, '.' and '..' excluded. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void put(gd_storage *s, const char *name, const char *text)
{
    gd_err e;
    gd_err_clear(&e);
    if (gd_storage_put_all(s, name, text, strlen(text), &e) != 0)
        fail_msg("put %s: %s", name, e.msg);
}

typedef struct listed {
    char names[32][128];
    gd_stat st[32];
    int n;
    int stop_at;
} listed;

static int collect(void *ctx, const char *name, const gd_stat *st)
{
    listed *l = ctx;
    if (l->n >= 32)
        return -100;
    gd_strlcpy(l->names[l->n], name, sizeof l->names[0]);
    l->st[l->n] = *st;
    l->n++;
    if (l->stop_at != 0 && l->n == l->stop_at)
        return 42;
    return 0;
}

static void test_open_creates_nothing(void **state)
{
    fixture *f = *state;
    struct stat st;
    gd_err e;
    gd_err_clear(&e);
    /* Opening, and reading a region that does not exist, create nothing. */
    char *parent = gd_asprintf("%s/a", f->dir);
    assert_int_not_equal(stat(parent, &st), 0);
    gd_stat gs;
    assert_int_equal(gd_storage_stat(f->s, "repo.json", &gs, &e), GD_E_NOTFOUND);
    gd_reader *r = NULL;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(f->s, "shop/backup/s1/manifest", &r, &e), GD_E_NOTFOUND);
    gd_err_clear(&e);
    listed l = {0};
    assert_int_equal(gd_storage_list(f->s, "", collect, &l, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(gd_storage_list(f->s, "shop/", collect, &l, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(gd_storage_remove(f->s, "shop/x", &e), 0);
    assert_int_not_equal(stat(parent, &st), 0);
    free(parent);

    /* The first write creates the root, parents included, mode 0700. */
    put(f->s, "shop/repo.json", "{}");
    assert_int_equal(stat(f->root, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_string_equal(f->s->name, "home");
    assert_string_equal(f->s->ops->type, "posix");

    /* Opening an existing root works; a file as root does not. */
    gd_storage *s2 = NULL;
    gd_err_clear(&e);
    char *withslash = gd_asprintf("%s/", f->root);
    assert_int_equal(gd_storage_posix_open("again", withslash, &s2, &e), 0);
    gd_storage_free(s2);
    free(withslash);

    char *file = gd_asprintf("%s/plainfile", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    s2 = (gd_storage *)(uintptr_t)1;
    assert_int_equal(gd_storage_posix_open("bad", file, &s2, &e), GD_E_IO);
    assert_null(s2);
    assert_non_null(strstr(e.msg, "bad"));
    /* A root below a file cannot exist: an error, not an empty region. */
    char *below = gd_asprintf("%s/x", file);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_posix_open("below", below, &s2, &e), GD_E_IO);
    assert_non_null(strstr(e.msg, "region below: cannot use"));
    free(below);
    free(file);
    gd_storage_free(NULL);
}

static void test_write_commit_read(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    const char *name = "shop/backup/20261123T101500Z/data/t1.0001";
    assert_int_equal(gd_storage_open_write(f->s, name, &w, &e), 0);

    /* 1 MiB + a bit, in 128 KiB pieces with a pattern. */
    size_t total = (1u << 20) + 12345;
    uint8_t *data = gd_malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 11));
    for (size_t off = 0; off < total; off += 128 * 1024) {
        size_t n = total - off < 128 * 1024 ? total - off : 128 * 1024;
        assert_int_equal(gd_writer_write(w, data + off, n, &e), 0);
    }
    assert_int_equal(gd_writer_commit(w, &e), 0);
    assert_int_equal(e.code, GD_OK);

    gd_stat st;
    assert_int_equal(gd_storage_stat(f->s, name, &st, &e), 0);
    assert_int_equal(st.size, total);
    assert_true(st.mtime_us > gd_now_us() - 600 * INT64_C(1000000));

    /* Read back with odd-sized reads; short only at the end. */
    gd_reader *r = NULL;
    assert_int_equal(gd_storage_open_read(f->s, name, &r, &e), 0);
    uint8_t *back = gd_malloc(total + 10);
    size_t got = 0;
    size_t sizes[] = {1, 7, 4096, 300000, 65536, 999};
    for (int i = 0;; i++) {
        size_t want = sizes[i % 6];
        ssize_t n = gd_reader_read(r, back + got, want, &e);
        assert_true(n >= 0);
        got += (size_t)n;
        if ((size_t)n < want)
            break;
    }
    assert_int_equal(got, total);
    assert_memory_equal(back, data, total);
    assert_int_equal(gd_reader_read(r, back, 10, &e), 0);
    gd_reader_close(r);
    gd_reader_close(NULL);

    /* get_all of the same, and a large read in one call. */
    char *all = NULL;
    size_t len = 0;
    assert_int_equal(gd_storage_get_all(f->s, name, total, &all, &len, &e), 0);
    assert_int_equal(len, total);
    assert_memory_equal(all, data, total);
    assert_int_equal(all[len], '\0');
    free(all);

    /* Replace atomically. */
    put(f->s, name, "short");
    assert_int_equal(gd_storage_get_all(f->s, name, 100, &all, &len, &e), 0);
    assert_string_equal(all, "short");
    free(all);

    /* Empty object. */
    put(f->s, "empty", "");
    assert_int_equal(gd_storage_get_all(f->s, "empty", 10, &all, &len, &e), 0);
    assert_int_equal(len, 0);
    assert_string_equal(all, "");
    free(all);

    /* No temp files left behind. */
    char *dir = gd_asprintf("%s/shop/backup/20261123T101500Z/data", f->root);
    assert_int_equal(count_entries(dir), 1);
    free(dir);
    free(back);
    free(data);
}

static void test_not_found(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_reader *r = (gd_reader *)(uintptr_t)1;
    assert_int_equal(gd_storage_open_read(f->s, "shop/missing", &r, &e), GD_E_NOTFOUND);
    assert_null(r);
    assert_string_equal(e.msg, "object shop/missing not found in region home");

    gd_stat st;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_stat(f->s, "nope/x", &st, &e), GD_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "nope/x"));

    /* A directory is not an object; neither is a path through a file. */
    put(f->s, "d/x", "1");
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(f->s, "d", &r, &e), GD_E_NOTFOUND);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_stat(f->s, "d", &st, &e), GD_E_NOTFOUND);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(f->s, "d/x/y", &r, &e), GD_E_NOTFOUND);

    char *all = (char *)(uintptr_t)1;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(f->s, "zzz", 10, &all, NULL, &e), GD_E_NOTFOUND);
    assert_null(all);
}

static void test_abort_leaves_nothing(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    assert_int_equal(gd_storage_open_write(f->s, "x/y/obj", &w, &e), 0);
    assert_int_equal(gd_writer_write(w, "hello", 5, &e), 0);
    gd_writer_abort(w);
    gd_writer_abort(NULL);
    assert_false(exists(f->root, "x/y/obj"));
    char *dir = gd_asprintf("%s/x/y", f->root);
    assert_int_equal(count_entries(dir), 0);
    free(dir);
    gd_stat st;
    assert_int_equal(gd_storage_stat(f->s, "x/y/obj", &st, &e), GD_E_NOTFOUND);

    /* Abort of a replacement keeps the old object. */
    put(f->s, "keep", "old");
    assert_int_equal(gd_storage_open_write(f->s, "keep", &w, NULL), 0);
    assert_int_equal(gd_writer_write(w, "new!", 4, NULL), 0);
    gd_writer_abort(w);
    char *all = NULL;
    assert_int_equal(gd_storage_get_all(f->s, "keep", 10, &all, NULL, NULL), 0);
    assert_string_equal(all, "old");
    free(all);
}

static void test_uncommitted_invisible(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    assert_int_equal(gd_storage_open_write(f->s, "shop/manifest", &w, &e), 0);
    assert_int_equal(gd_writer_write(w, "{}", 2, &e), 0);

    listed l = {0};
    assert_int_equal(gd_storage_list(f->s, "", collect, &l, &e), 0);
    assert_int_equal(l.n, 0);
    gd_stat st;
    assert_int_equal(gd_storage_stat(f->s, "shop/manifest", &st, &e), GD_E_NOTFOUND);
    gd_reader *r = NULL;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(f->s, "shop/manifest", &r, &e), GD_E_NOTFOUND);

    gd_err_clear(&e);
    assert_int_equal(gd_writer_commit(w, &e), 0);
    assert_int_equal(gd_storage_list(f->s, "", collect, &l, &e), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.names[0], "shop/manifest");
    assert_int_equal(l.st[0].size, 2);
}

static void test_list_sorted_recursive(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    const char *names[] = {"shop/backup/s2/manifest",
                           "shop/backup/s1/data/b",
                           "shop/backup/s1/data/a",
                           "shop/backup/s1/manifest",
                           "shop/binlog/000001",
                           "shop/backup2/x",
                           "crm/backup/s1/manifest",
                           "repo.json",
                           "shop/backup-z"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        put(f->s, names[i], names[i]);

    /* Stray temp file and a dot directory: never listed. */
    char *tmp = gd_asprintf("%s/shop/backup/s1/.manifest.tmp.1.abc", f->root);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fclose(fp);
    free(tmp);
    char *dotdir = gd_asprintf("%s/shop/.hidden", f->root);
    assert_int_equal(mkdir(dotdir, 0700), 0);
    free(dotdir);

    listed l = {0};
    assert_int_equal(gd_storage_list(f->s, "", collect, &l, &e), 0);
    assert_int_equal(l.n, 9);
    const char *sorted[] = {"crm/backup/s1/manifest",  "repo.json",
                            "shop/backup-z",           "shop/backup/s1/data/a",
                            "shop/backup/s1/data/b",   "shop/backup/s1/manifest",
                            "shop/backup/s2/manifest", "shop/backup2/x",
                            "shop/binlog/000001"};
    for (int i = 0; i < 9; i++)
        assert_string_equal(l.names[i], sorted[i]);
    assert_int_equal(l.st[1].size, strlen("repo.json"));

    /* A directory prefix. */
    memset(&l, 0, sizeof l);
    assert_int_equal(gd_storage_list(f->s, "shop/backup/", collect, &l, &e), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.names[0], "shop/backup/s1/data/a");
    assert_string_equal(l.names[3], "shop/backup/s2/manifest");

    /* A partial prefix behaves like S3: plain string prefix. */
    memset(&l, 0, sizeof l);
    assert_int_equal(gd_storage_list(f->s, "shop/backup", collect, &l, &e), 0);
    assert_int_equal(l.n, 6);
    assert_string_equal(l.names[0], "shop/backup-z");
    assert_string_equal(l.names[5], "shop/backup2/x");
    memset(&l, 0, sizeof l);
    assert_int_equal(gd_storage_list(f->s, "shop/backup/s1/m", collect, &l, &e), 0);
    assert_int_equal(l.n, 1);

    /* Missing prefix: nothing, no error. */
    memset(&l, 0, sizeof l);
    assert_int_equal(gd_storage_list(f->s, "nobody/", collect, &l, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(gd_storage_list(f->s, "repo.json/", collect, &l, &e), 0);
    assert_int_equal(l.n, 0);

    /* The callback can stop the walk; its value comes back. */
    memset(&l, 0, sizeof l);
    l.stop_at = 2;
    assert_int_equal(gd_storage_list(f->s, "", collect, &l, &e), 42);
    assert_int_equal(l.n, 2);

    /* Bad prefixes. */
    assert_int_equal(gd_storage_list(f->s, "../", collect, &l, &e), GD_E_INVALID);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_list(f->s, "/etc/", collect, &l, &e), GD_E_INVALID);
}

static void test_remove(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    put(f->s, "shop/backup/s1/data/a", "a");
    put(f->s, "shop/backup/s1/data/b", "b");
    put(f->s, "shop/other", "o");

    assert_int_equal(gd_storage_remove(f->s, "shop/backup/s1/data/a", &e), 0);
    assert_false(exists(f->root, "shop/backup/s1/data/a"));
    assert_true(exists(f->root, "shop/backup/s1/data"));
    /* Idempotent. */
    assert_int_equal(gd_storage_remove(f->s, "shop/backup/s1/data/a", &e), 0);
    assert_int_equal(gd_storage_remove(f->s, "never/was/there", &e), 0);
    assert_int_equal(e.code, GD_OK);

    /* Last object: empty parents pruned up to the first non-empty one. */
    assert_int_equal(gd_storage_remove(f->s, "shop/backup/s1/data/b", &e), 0);
    assert_false(exists(f->root, "shop/backup"));
    assert_true(exists(f->root, "shop"));
    assert_int_equal(gd_storage_remove(f->s, "shop/other", &e), 0);
    assert_false(exists(f->root, "shop"));
    /* Never the root itself. */
    struct stat st;
    assert_int_equal(stat(f->root, &st), 0);
    assert_int_equal(count_entries(f->root), 0);

    /* Removing a "directory" name is not an object: no-op. */
    put(f->s, "d/x", "1");
    assert_int_equal(gd_storage_remove(f->s, "d", &e), 0);
    assert_true(exists(f->root, "d/x"));

    /* Writing into a pruned place recreates it. */
    put(f->s, "shop/backup/s9/manifest", "m");
    assert_true(exists(f->root, "shop/backup/s9/manifest"));
    assert_int_equal(gd_storage_remove(f->s, "../x", &e), GD_E_INVALID);
}

static void test_get_all_max(void **state)
{
    fixture *f = *state;
    gd_err e;
    gd_err_clear(&e);
    put(f->s, "m", "0123456789");
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(gd_storage_get_all(f->s, "m", 10, &out, &len, &e), 0);
    assert_int_equal(len, 10);
    assert_string_equal(out, "0123456789");
    free(out);

    out = (char *)(uintptr_t)1;
    assert_int_equal(gd_storage_get_all(f->s, "m", 9, &out, &len, &e), GD_E_INVALID);
    assert_null(out);
    assert_non_null(strstr(e.msg, "m in region home"));
    assert_non_null(strstr(e.msg, "9 bytes"));

    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(f->s, "m", 0, &out, &len, &e), GD_E_INVALID);
    assert_null(out);

    /* Larger than the reader's internal buffer. */
    size_t big = 600 * 1024;
    char *data = gd_malloc(big);
    memset(data, 'q', big);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_put_all(f->s, "big", data, big, &e), 0);
    assert_int_equal(gd_storage_get_all(f->s, "big", big - 1, &out, &len, &e), GD_E_INVALID);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_get_all(f->s, "big", big, &out, &len, &e), 0);
    assert_int_equal(len, big);
    assert_memory_equal(out, data, big);
    free(out);
    free(data);
}

static void test_name_validation(void **state)
{
    fixture *f = *state;
    const char *good[] = {
        "a",   "repo.json",    "shop/backup/20261123T101500Z/manifest", "a/b/c/d/e", "x-y_z.1",
        "a b", "sp\xc3\xa4ter"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!gd_storage_name_ok(good[i]))
            fail_msg("'%s' rejected", good[i]);
    }
    const char *bad[] = {"",      "..",   "a/../b", "../a",  "a/..", ".",       "./a",
                         "a/./b", "/abs", "a//b",   "a/",    "/",    ".hidden", "a/.tmp",
                         "a\nb",  "a\tb", "\x01",   "a\x7f", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gd_storage_name_ok(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    }
    assert_false(gd_storage_name_ok(NULL));
    /* A NUL ends a C string: "a\0/../x" is just "a"; what reaches the
     * driver is validated as a whole, and control bytes are refused. */
    const char with_nul[] = "ok\0/../../etc/passwd";
    assert_true(gd_storage_name_ok(with_nul));
    assert_int_equal(strlen(with_nul), 2);

    /* Length limits: 1024 in total, 255 per component. */
    char longname[1100];
    memset(longname, 'a', sizeof longname);
    for (size_t i = 200; i < sizeof longname; i += 201)
        longname[i] = '/';
    longname[1024] = '\0';
    assert_true(gd_storage_name_ok(longname));
    longname[1024] = 'a';
    longname[1025] = '\0';
    assert_false(gd_storage_name_ok(longname));
    char comp[300];
    memset(comp, 'c', sizeof comp);
    comp[255] = '\0';
    assert_true(gd_storage_name_ok(comp));
    comp[255] = 'c';
    comp[256] = '\0';
    assert_false(gd_storage_name_ok(comp));

    /* The driver refuses bad names on every call. */
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    assert_int_equal(gd_storage_open_write(f->s, "../escape", &w, &e), GD_E_INVALID);
    assert_null(w);
    assert_non_null(strstr(e.msg, "../escape"));
    gd_reader *r = NULL;
    assert_int_equal(gd_storage_open_read(f->s, "/etc/passwd", &r, NULL), GD_E_INVALID);
    gd_stat st;
    assert_int_equal(gd_storage_stat(f->s, "a//b", &st, NULL), GD_E_INVALID);
    assert_int_equal(gd_storage_put_all(f->s, "", "x", 1, NULL), GD_E_INVALID);

    /* A long (255) base name still gets a valid temp name. */
    char *lname = gd_asprintf("dir/%s", comp);
    lname[4 + 255] = '\0';
    put(f->s, lname, "long");
    char *all = NULL;
    assert_int_equal(gd_storage_get_all(f->s, lname, 10, &all, NULL, NULL), 0);
    assert_string_equal(all, "long");
    free(all);
    free(lname);
}

/* Runs fn in a child process (so privileges and limits can change) and
 * returns its exit status. */
static int in_child(void (*fn)(fixture *), fixture *f)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(f);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void child_readonly_write(fixture *f)
{
    if (geteuid() == 0) {
        /* root ignores modes: become nobody, who may enter but not write. */
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
    }
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_storage_put_all(f->s, "ro/sub/object1", "x", 1, &e);
    if (rc != GD_E_IO || e.code != GD_E_IO || e.sys_errno != EACCES) {
        fprintf(stderr, "# rc %d: %s\n", rc, e.msg);
        _exit(3);
    }
    if (strstr(e.msg, "ro/sub/object1") == NULL || strstr(e.msg, "region home") == NULL) {
        fprintf(stderr, "# message: %s\n", e.msg);
        _exit(4);
    }
    /* Into an existing read-only directory. */
    gd_err_clear(&e);
    rc = gd_storage_put_all(f->s, "ro/object2", "x", 1, &e);
    if (rc != GD_E_IO || strstr(e.msg, "ro/object2") == NULL) {
        fprintf(stderr, "# rc %d: %s\n", rc, e.msg);
        _exit(5);
    }
    /* Removal in it fails too, naming the object. */
    gd_err_clear(&e);
    rc = gd_storage_remove(f->s, "ro/existing", &e);
    if (rc != GD_E_IO || strstr(e.msg, "ro/existing") == NULL) {
        fprintf(stderr, "# rc %d: %s\n", rc, e.msg);
        _exit(6);
    }
    _exit(0);
}

static void test_readonly_dir(void **state)
{
    fixture *f = *state;
    put(f->s, "ro/existing", "e");
    char *ro = gd_asprintf("%s/ro", f->root);
    /* Everyone may traverse the tree; nobody may write in ro. */
    char *cmd =
        gd_asprintf("chmod 0755 '%s' '%s/a' '%s/a/b' '%s'", f->dir, f->dir, f->dir, f->root);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(chmod(ro, 0555), 0);
    assert_int_equal(in_child(child_readonly_write, f), 0);
    assert_int_equal(chmod(ro, 0700), 0);
    assert_false(exists(f->root, "ro/object2"));
    assert_int_equal(count_entries(ro), 1);
    free(ro);
}

static void child_fsize_limit(fixture *f)
{
    /* A file size limit makes write() fail (EFBIG) part way. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 1000, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(2);
    gd_err e;
    gd_err_clear(&e);
    gd_writer *w = NULL;
    if (gd_storage_open_write(f->s, "big/object", &w, &e) != 0)
        _exit(3);
    char buf[4096] = {0};
    int rc = gd_writer_write(w, buf, sizeof buf, &e);
    if (rc != GD_E_IO || strstr(e.msg, "big/object") == NULL || strstr(e.msg, "home") == NULL) {
        fprintf(stderr, "# rc %d: %s\n", rc, e.msg);
        _exit(4);
    }
    /* A failed writer cannot be committed, and leaves nothing. */
    gd_err_clear(&e);
    if (gd_writer_commit(w, &e) != GD_E_IO)
        _exit(5);
    _exit(0);
}

static void test_write_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(in_child(child_fsize_limit, f), 0);
    assert_false(exists(f->root, "big/object"));
    char *dir = gd_asprintf("%s/big", f->root);
    assert_int_equal(count_entries(dir), 0);
    free(dir);
}

typedef struct thr_arg {
    gd_storage *s;
    int id;
    int failures;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 50; i++) {
        char name[64], body[64];
        /* Two threads share each directory but use different objects. */
        snprintf(name, sizeof name, "t/%d/obj%d-%d", a->id % 2, a->id, i % 5);
        snprintf(body, sizeof body, "%d-%d", a->id, i);
        gd_err e;
        gd_err_clear(&e);
        if (gd_storage_put_all(a->s, name, body, strlen(body), &e) != 0)
            a->failures++;
        char *all = NULL;
        if (gd_storage_get_all(a->s, name, 64, &all, NULL, &e) != 0 || strcmp(all, body) != 0)
            a->failures++;
        free(all);
        if (gd_storage_remove(a->s, name, &e) != 0)
            a->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture *f = *state;
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){.s = f->s, .id = i, .failures = 0};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    /* Join all before asserting: a failed assert must not free the storage
     * under running threads. */
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(args[i].failures, 0);
    assert_int_equal(count_entries(f->root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncommitted_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_sorted_recursive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_all_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
