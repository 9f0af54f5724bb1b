/* Unit tests for common/util and common/error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/child.h"
#include "common/error.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/util.h"

static void test_buf_append_and_terminate(void **state)
{
    (void)state;
    gd_buf b;
    gd_buf_init(&b, 0);
    assert_int_equal(gd_buf_append(&b, "abc", 3), 0);
    assert_int_equal(gd_buf_appendf(&b, "-%d-%s", 42, "x"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abc-42-x");
    assert_true(b.cap > b.len);
    gd_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(gd_buf_append(&b, "z", 1), 0);
    assert_string_equal(b.data, "z");
    gd_buf_free(&b);
    assert_null(b.data);
}

static void test_buf_max_limit(void **state)
{
    (void)state;
    gd_buf b;
    gd_buf_init(&b, 10);
    assert_int_equal(gd_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 10);
    /* One byte beyond max fails and leaves the buffer unchanged. */
    assert_int_equal(gd_buf_append(&b, "x", 1), GD_E_NOMEM);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(gd_buf_appendf(&b, "%d", 1), GD_E_NOMEM);
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= b.max + 1);
    /* Appending nothing at the limit is fine. */
    assert_int_equal(gd_buf_append(&b, "", 0), 0);
    gd_buf_free(&b);

    gd_buf_init(&b, 4);
    assert_int_equal(gd_buf_append(&b, "12345", 5), GD_E_NOMEM);
    assert_int_equal(b.len, 0);
    assert_int_equal(gd_buf_reserve(&b, 4), 0);
    assert_int_equal(gd_buf_reserve(&b, 5), GD_E_NOMEM);
    /* A huge request must not overflow the size arithmetic. */
    assert_int_equal(gd_buf_reserve(&b, SIZE_MAX), GD_E_NOMEM);
    gd_buf_free(&b);

    gd_buf_init(&b, 0);
    assert_int_equal(b.max, (size_t)1 << 30);
    gd_buf_free(&b);
}

static void test_buf_growth(void **state)
{
    (void)state;
    gd_buf b;
    gd_buf_init(&b, 0);
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gd_buf_append(&b, chunk, sizeof chunk), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.data[b.len], '\0');
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] != 'a')
            fail_msg("byte %zu is wrong", i);
    }
    gd_buf_free(&b);
}

static void test_strlcpy(void **state)
{
    (void)state;
    char dst[8];
    assert_int_equal(gd_strlcpy(dst, "abc", sizeof dst), 3);
    assert_string_equal(dst, "abc");
    /* Exactly fits (7 chars + NUL). */
    assert_int_equal(gd_strlcpy(dst, "1234567", sizeof dst), 7);
    assert_string_equal(dst, "1234567");
    /* Truncated: returns the full length so the caller can detect it. */
    size_t n = gd_strlcpy(dst, "0123456789", sizeof dst);
    assert_int_equal(n, 10);
    assert_true(n >= sizeof dst);
    assert_string_equal(dst, "0123456");
    /* Size 1: only the terminator. */
    assert_int_equal(gd_strlcpy(dst, "xyz", 1), 3);
    assert_string_equal(dst, "");
    /* Size 0: nothing written. */
    dst[0] = 'Q';
    assert_int_equal(gd_strlcpy(dst, "xyz", 0), 3);
    assert_int_equal(dst[0], 'Q');
    assert_int_equal(gd_strlcpy(dst, "", sizeof dst), 0);
    assert_string_equal(dst, "");
}

static void test_hex_roundtrip(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof in + 1];
    gd_hex(in, sizeof in, hex);
    assert_string_equal(hex, "00017f80abff");
    uint8_t out[sizeof in];
    assert_int_equal(gd_unhex(hex, out, sizeof out), 0);
    assert_memory_equal(in, out, sizeof in);
    /* Upper case is accepted. */
    assert_int_equal(gd_unhex("00017F80ABFF", out, sizeof out), 0);
    assert_memory_equal(in, out, sizeof in);
    /* Empty. */
    gd_hex(in, 0, hex);
    assert_string_equal(hex, "");
    assert_int_equal(gd_unhex("", out, 0), 0);
}

static void test_unhex_rejects(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(gd_unhex("abc", out, 2), GD_E_INVALID);    /* odd length */
    assert_int_equal(gd_unhex("abcdef", out, 2), GD_E_INVALID); /* too long */
    assert_int_equal(gd_unhex("ab", out, 2), GD_E_INVALID);     /* too short */
    assert_int_equal(gd_unhex("zz00", out, 2), GD_E_INVALID);   /* not hex */
    assert_int_equal(gd_unhex("0g00", out, 2), GD_E_INVALID);
    assert_int_equal(gd_unhex(" 000", out, 2), GD_E_INVALID);
}

static void test_fmt_time(void **state)
{
    (void)state;
    char buf[32];
    gd_fmt_time(0, false, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01 00:00:00");
    /* 2026-11-23 10:15:00 UTC = 1795428900 */
    int64_t t = INT64_C(1795428900) * 1000000 + 123456;
    gd_fmt_time(t, false, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23 10:15:00");
    gd_fmt_time(t, true, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23 10:15:00.123456");
    gd_fmt_time(t + 1, true, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23 10:15:00.123457");
    /* Leap day. */
    gd_fmt_time(INT64_C(1709164800) * 1000000, false, buf, sizeof buf);
    assert_string_equal(buf, "2024-02-29 00:00:00");
    gd_fmt_time_compact(t, buf, sizeof buf);
    assert_string_equal(buf, "20261123T101500Z");
    /* A small buffer is truncated, never overflowed. */
    char small[11];
    gd_fmt_time(t, false, small, sizeof small);
    assert_string_equal(small, "2026-11-23");
}

static void test_fmt_bytes(void **state)
{
    (void)state;
    char buf[32];
    gd_fmt_bytes(0, buf, sizeof buf);
    assert_string_equal(buf, "0 B");
    gd_fmt_bytes(1023, buf, sizeof buf);
    assert_string_equal(buf, "1023 B");
    gd_fmt_bytes(1024, buf, sizeof buf);
    assert_string_equal(buf, "1.0 KiB");
    gd_fmt_bytes(1536, buf, sizeof buf);
    assert_string_equal(buf, "1.5 KiB");
    gd_fmt_bytes((uint64_t)3 << 20, buf, sizeof buf);
    assert_string_equal(buf, "3.0 MiB");
    gd_fmt_bytes((uint64_t)3 << 29, buf, sizeof buf);
    assert_string_equal(buf, "1.5 GiB");
    gd_fmt_bytes((uint64_t)5 << 40, buf, sizeof buf);
    assert_string_equal(buf, "5.0 TiB");
    gd_fmt_bytes((uint64_t)2 << 50, buf, sizeof buf);
    assert_string_equal(buf, "2.0 PiB");
    /* Beyond PiB it stays in PiB. */
    gd_fmt_bytes((uint64_t)4096 << 50, buf, sizeof buf);
    assert_string_equal(buf, "4096.0 PiB");
}

static void test_err_first_wins(void **state)
{
    (void)state;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(e.code, GD_OK);
    assert_string_equal(e.msg, "");
    assert_int_equal(gd_err_set(&e, GD_E_CORRUPT, "object %s is damaged", "x"), GD_E_CORRUPT);
    /* A later error returns its own code but keeps the first one stored. */
    assert_int_equal(gd_err_set(&e, GD_E_IO, "later"), GD_E_IO);
    assert_int_equal(gd_err_sys(&e, ENOSPC, "later too"), GD_E_IO);
    assert_int_equal(e.code, GD_E_CORRUPT);
    assert_string_equal(e.msg, "object x is damaged");
    assert_int_equal(e.sys_errno, 0);
    assert_false(e.retryable);

    gd_err_clear(&e);
    assert_int_equal(e.code, GD_OK);
    assert_int_equal(gd_err_set(&e, GD_E_NET, "timeout"), GD_E_NET);
    assert_true(e.retryable);

    /* NULL is allowed everywhere. */
    gd_err_clear(NULL);
    assert_int_equal(gd_err_set(NULL, GD_E_INVALID, "dropped"), GD_E_INVALID);
    assert_int_equal(gd_err_sys(NULL, EIO, "dropped"), GD_E_IO);
    gd_err_prefix(NULL, "p");
}

static void test_err_sys(void **state)
{
    (void)state;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_err_sys(&e, ENOENT, "cannot open %s", "/x"), GD_E_IO);
    assert_int_equal(e.code, GD_E_IO);
    assert_int_equal(e.sys_errno, ENOENT);
    char want[256];
    snprintf(want, sizeof want, "cannot open /x: %s", strerror(ENOENT));
    assert_string_equal(e.msg, want);
}

static void test_err_prefix(void **state)
{
    (void)state;
    gd_err e;
    gd_err_clear(&e);
    /* No error: prefix does nothing. */
    gd_err_prefix(&e, "instance %s", "shop");
    assert_int_equal(e.code, GD_OK);
    assert_string_equal(e.msg, "");

    gd_err_set(&e, GD_E_NOTFOUND, "object m not found");
    gd_err_prefix(&e, "instance %s", "shop");
    assert_int_equal(e.code, GD_E_NOTFOUND);
    assert_string_equal(e.msg, "instance shop: object m not found");
    gd_err_prefix(&e, "restore");
    assert_string_equal(e.msg, "restore: instance shop: object m not found");

    /* A long message stays terminated within its buffer. */
    gd_err_clear(&e);
    char big[2000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gd_err_set(&e, GD_E_IO, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    gd_err_prefix(&e, "p");
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    assert_memory_equal(e.msg, "p: mmm", 6);
}

static void test_err_redact(void **state)
{
    (void)state;
    gd_err e;
    gd_err_clear(&e);
    gd_err_set(&e, GD_E_MYSQL,
               "CHANGE MASTER TO MASTER_PASSWORD = 'pw-1234', ...: error 1064: You have an "
               "error near 'pw-1234', MASTER_USE' and pw-1234");
    gd_err_redact(&e, "pw-1234");
    assert_null(strstr(e.msg, "pw-1234"));
    assert_string_equal(e.msg, "CHANGE MASTER TO MASTER_PASSWORD = '***', ...: error 1064: You "
                               "have an error near '***', MASTER_USE' and ***");
    assert_int_equal(e.code, GD_E_MYSQL);
    /* nothing to redact, NULL and empty secrets, NULL error */
    gd_err_redact(&e, NULL);
    gd_err_redact(&e, "");
    gd_err_redact(NULL, "x");
    gd_err_redact(&e, "not-there");
    assert_non_null(strstr(e.msg, "MASTER_USE"));
    /* a message at the size limit stays terminated */
    gd_err_clear(&e);
    memset(e.msg, 'a', sizeof e.msg - 1);
    e.msg[sizeof e.msg - 1] = '\0';
    gd_err_redact(&e, "a");
    assert_true(strlen(e.msg) < sizeof e.msg);
    assert_int_equal(e.msg[0], '*');
}

static void test_code_names(void **state)
{
    (void)state;
    assert_string_equal(gd_code_name(GD_OK), "ok");
    assert_string_equal(gd_code_name(GD_E_IO), "io");
    assert_string_equal(gd_code_name(GD_E_CORRUPT), "corrupt");
    assert_string_equal(gd_code_name(GD_E_CONFIG), "config");
    assert_string_equal(gd_code_name(-999), "unknown");
}

static void test_strings_and_files(void **state)
{
    (void)state;
    char *s = gd_asprintf("%s-%d", "a", 7);
    assert_string_equal(s, "a-7");
    free(s);
    s = gd_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);

    char path[] = "/tmp/gd_test_util_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\r\nsecond\n", 15), 15);
    close(fd);
    char *sec = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_read_secret_file(path, &sec, &e), 0);
    assert_string_equal(sec, "secret");
    free(sec);

    char *all = NULL;
    size_t len = 0;
    assert_int_equal(gd_read_small_file(path, 100, &all, &len, &e), 0);
    assert_int_equal(len, 15);
    free(all);
    assert_int_equal(gd_read_small_file(path, 10, &all, &len, &e), GD_E_INVALID);
    /* The secret never appears in the error. */
    assert_null(strstr(e.msg, "secret"));
    unlink(path);
}

static void count_call(void *ctx, gd_periodic_call *call)
{
    (void)call;
    atomic_fetch_add((atomic_int *)ctx, 1);
}

/* The periodic worker calls on its clock, at once when kicked, and stops
 * without waiting out its interval. */
static void test_periodic(void **state)
{
    (void)state;
    atomic_int n = 0;
    gd_periodic *p = NULL;
    assert_int_equal(gd_periodic_start(0.05, 0, count_call, &n, &p), 0);
    struct timespec ts = {0, 330 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gd_periodic_stop(p);
    int got = atomic_load(&n);
    assert_true(got >= 3 && got <= 7);
    atomic_store(&n, 0);
    assert_int_equal(gd_periodic_start(100, 0, count_call, &n, &p), 0);
    gd_periodic_kick(p);
    for (int i = 0; i < 100 && atomic_load(&n) == 0; i++) {
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    assert_int_equal(atomic_load(&n), 1);
    double t0 = gd_mono();
    gd_periodic_stop(p);
    assert_true(gd_mono() - t0 < 1.0);
    assert_int_equal(atomic_load(&n), 1);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&t, NULL);
}

/* A worker that answers its own next time and sees its last call. */
typedef struct tick_log {
    atomic_int calls, last_calls;
    double next_s;        /* what each call answers */
    atomic_long sleep_ms; /* how long each call takes */
    double first_at;      /* gd_mono() of the first call */
} tick_log;

static void tick(void *ctx, gd_periodic_call *call)
{
    tick_log *t = ctx;
    if (atomic_fetch_add(&t->calls, 1) == 0)
        t->first_at = gd_mono();
    if (call->last)
        atomic_fetch_add(&t->last_calls, 1);
    assert_true(call->next_s == 100); /* told the interval */
    call->next_s = t->next_s;
    sleep_ms(atomic_load(&t->sleep_ms));
}

/* GD_PERIODIC_AT_ONCE calls at the start; call->next_s sets the next call's
 * time; GD_PERIODIC_LAST_CALL makes exactly one last call on a stop (none
 * without it); gd_periodic_wait gives up after its timeout while a call
 * runs, and reports the end once the worker made its last call. */
static void test_periodic_calls(void **state)
{
    (void)state;
    tick_log t = {.next_s = 0.05};
    gd_periodic *p = NULL;
    double t0 = gd_mono();
    assert_int_equal(gd_periodic_start(100, GD_PERIODIC_AT_ONCE, tick, &t, &p), 0);
    sleep_ms(330);
    gd_periodic_stop(p);
    assert_true(t.first_at - t0 < 0.2);
    int got = atomic_load(&t.calls);
    assert_true(got >= 3 && got <= 8);
    assert_int_equal(atomic_load(&t.last_calls), 0);

    /* next_s <= 0: the next call at once (bounded here by the call's own
     * 20 ms); the last call comes once, after the one in progress. */
    t = (tick_log){.next_s = 0, .sleep_ms = 20};
    assert_int_equal(gd_periodic_start(100, GD_PERIODIC_LAST_CALL, tick, &t, &p), 0);
    sleep_ms(50);
    assert_int_equal(atomic_load(&t.calls), 0); /* no AT_ONCE: an interval first */
    gd_periodic_kick(p);
    sleep_ms(200);
    assert_true(atomic_load(&t.calls) >= 3);
    atomic_store(&t.sleep_ms, 300);
    sleep_ms(30);
    gd_periodic_request_stop(p);
    assert_false(gd_periodic_wait(p, 0.05)); /* a 300 ms call, then the last */
    assert_true(gd_periodic_wait(p, 2.0));
    int before = atomic_load(&t.calls);
    gd_periodic_stop(p);
    assert_int_equal(atomic_load(&t.last_calls), 1);
    assert_int_equal(atomic_load(&t.calls), before);
}

/* gd_remove_tree: everything under a folder goes; a link is removed, not
 * followed; a missing path is success. */
static void test_remove_tree(void **state)
{
    (void)state;
    char base[] = "/tmp/geodr-test-rmtree.XXXXXX";
    assert_non_null(mkdtemp(base));
    char *tree = gd_asprintf("%s/tree", base), *deep = gd_asprintf("%s/tree/a/b c/d", base);
    char *outside = gd_asprintf("%s/outside", base), *link = gd_asprintf("%s/tree/a/link", base);
    char *file = gd_asprintf("%s/tree/a/b c/file", base);
    assert_int_equal(mkdir(tree, 0700), 0);
    char *a = gd_asprintf("%s/tree/a", base), *b = gd_asprintf("%s/tree/a/b c", base);
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(b, 0700), 0);
    assert_int_equal(mkdir(deep, 0500), 0); /* not writable: still removed (empty) */
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(outside, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(gd_remove_tree(tree), 0);
    struct stat st;
    assert_int_not_equal(lstat(tree, &st), 0);
    assert_int_equal(stat(outside, &st), 0);   /* the link's target stays */
    assert_int_equal(gd_remove_tree(tree), 0); /* missing: success */
    assert_int_equal(gd_remove_tree(base), 0);
    assert_int_not_equal(lstat(base, &st), 0);
    free(tree);
    free(deep);
    free(outside);
    free(link);
    free(file);
    free(a);
    free(b);
}

/* The descriptors of a started child: only 0, 1 and 2, even those of ours
 * opened without close-on-exec (the server's sockets, its database, region
 * files); stdin is /dev/null. */
static void test_child_inherits_no_descriptor(void **state)
{
    (void)state;
    int leaky = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, on purpose */
    int p[2];
    assert_true(leaky > 2);
    assert_int_equal(pipe(p), 0); /* neither */
    char *argv[] = {"sleep", "30", NULL};
    pid_t pid = 0;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_child_start(argv, NULL, &pid, &e), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (strcmp(de->d_name, "0") && strcmp(de->d_name, "1") && strcmp(de->d_name, "2"))
            fail_msg("the child inherited descriptor %s", de->d_name);
        n++;
    }
    closedir(d);
    assert_int_equal(n, 3);
    char link[64], target[64] = {0};
    snprintf(link, sizeof link, "/proc/%d/fd/0", (int)pid);
    assert_true(readlink(link, target, sizeof target - 1) > 0);
    assert_string_equal(target, "/dev/null");
    kill(pid, SIGKILL);
    int st = 0;
    assert_int_equal(gd_child_wait(pid, &st), 0);
    assert_true(WIFSIGNALED(st));
    close(leaky);
    close(p[0]);
    close(p[1]);
}

/* Its output goes to the file asked for; a failure names the program and
 * the file; a program that does not exist starts nothing. */
static void test_child_run(void **state)
{
    (void)state;
    char dir[] = "/tmp/geodr-child-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = gd_asprintf("%s/out.log", dir);
    gd_child_opts o = {.output = out, .new_session = true};
    char *ok[] = {"sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL};
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_child_run(ok, &o, &e), 0);
    char *bad[] = {"sh", "-c", "exit 3", NULL};
    assert_int_equal(gd_child_run(bad, &o, &e), GD_E_STATE);
    assert_non_null(strstr(e.msg, "sh failed (exit 3): see "));
    assert_non_null(strstr(e.msg, out));
    FILE *f = fopen(out, "re");
    assert_non_null(f);
    char text[256] = {0};
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    assert_true(len > 0);
    assert_string_equal(text, "to-stdout\nto-stderr\n");
    char *none[] = {"geodr-no-such-program", NULL};
    gd_err_clear(&e);
    pid_t pid = 0;
    assert_int_not_equal(gd_child_start(none, NULL, &pid, &e), 0);
    assert_non_null(strstr(e.msg, "cannot start geodr-no-such-program"));
    unlink(out);
    rmdir(dir);
    free(out);
}

static char *kv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *kv(const char *fmt, ...)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    gd_log_kv_vappend(&b, fmt, ap);
    va_end(ap);
    char *out = gd_strdup(b.data ? b.data : "");
    gd_buf_free(&b);
    return out;
}

static void value_is(const char *v, const char *want)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_log_kv_value(&b, v);
    assert_string_equal(b.data, want);
    gd_buf_free(&b);
}

/* No value can break a key=value line: quotes, backslashes, newlines and
 * control bytes are escaped, values with spaces or '=' quoted. */
static void test_log_kv_escapes(void **state)
{
    (void)state;
    value_is("plain-1.2", "plain-1.2");
    value_is("", "\"\"");
    value_is("two words", "\"two words\"");
    value_is("k=v", "\"k=v\"");
    value_is("say \"hi\"", "\"say \\\"hi\\\"\"");
    value_is("C:\\dir", "\"C:\\\\dir\"");
    value_is("line1\nline2\r\tend", "\"line1\\nline2\\r\\tend\"");
    value_is("bell\a del\x7f", "\"bell\\x07 del\\x7f\"");
    value_is("caf\xc3\xa9", "caf\xc3\xa9");

    char *l = kv("event=%s n=%d big=%lld u=%u z=%zu t=%.1f pct=100%% c=%c", "backup_done", -3,
                 (long long)1 << 40, 7u, (size_t)12, 41.25, 'x');
    assert_string_equal(l, "event=backup_done n=-3 big=1099511627776 u=7 z=12 t=41.2 pct=100% c=x");
    free(l);
    /* A message that tries to forge a field or a second line stays one value. */
    l = kv("event=backup_failed error=%s retry_in_s=%d", "bad\" forged=1\ngeodr: event=fake", 5);
    assert_string_equal(l, "event=backup_failed error=\"bad\\\" forged=1\\ngeodr: event=fake\" "
                           "retry_in_s=5");
    free(l);
    /* Quotes written around a conversion are not doubled. */
    l = kv("error=\"%s\" note=\"%s\" x=\"literal\"", "a \"b\"", "plain");
    assert_string_equal(l, "error=\"a \\\"b\\\"\" note=plain x=\"literal\"");
    free(l);
    l = kv("w=%5s p=%.3s", "ab", "abcdef");
    assert_string_equal(l, "w=\"   ab\" p=abc");
    free(l);
}

/* gd_log_kv writes the whole line in one write, however long. */
static void test_log_kv_line(void **state)
{
    (void)state;
    char path[] = "/tmp/geodr-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    char longv[3000];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    longv[10] = '"';
    gd_log_kv(GD_LOG_WARN, "event=x error=%s", "one\ntwo");
    gd_log_kv(GD_LOG_INFO, "event=long v=%s end=1", longv);
    gd_log_kv(GD_LOG_DEBUG, "event=not_shown"); /* below the level */
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(gd_read_small_file(path, 1 << 20, &text, &len, NULL), 0);
    const char *want1 = "geodr: warning: event=x error=\"one\\ntwo\"\n";
    assert_memory_equal(text, want1, strlen(want1));
    const char *l2 = text + strlen(want1);
    assert_int_equal(strncmp(l2, "geodr: event=long v=\"aaaaaaaaaa\\\"", 33), 0);
    assert_non_null(strstr(l2, "a\" end=1\n"));
    /* 2999 bytes, one of them a quote written as two */
    assert_int_equal(len, strlen(want1) + strlen("geodr: event=long v=\"") + 3000 +
                              strlen("\" end=1\n"));
    free(text);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_periodic_calls),
        cmocka_unit_test(test_buf_append_and_terminate),
        cmocka_unit_test(test_buf_max_limit),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_hex_roundtrip),
        cmocka_unit_test(test_unhex_rejects),
        cmocka_unit_test(test_fmt_time),
        cmocka_unit_test(test_fmt_bytes),
        cmocka_unit_test(test_err_first_wins),
        cmocka_unit_test(test_err_sys),
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_err_redact),
        cmocka_unit_test(test_code_names),
        cmocka_unit_test(test_strings_and_files),
        cmocka_unit_test(test_remove_tree),
        cmocka_unit_test(test_child_inherits_no_descriptor),
        cmocka_unit_test(test_child_run),
        cmocka_unit_test(test_log_kv_escapes),
        cmocka_unit_test(test_log_kv_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
