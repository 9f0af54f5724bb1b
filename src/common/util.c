#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "geodr: out of memory allocating %zu bytes\n", n);
    abort();
}

void *gd_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *gd_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *gd_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *gd_strdup(const char *s)
{
    return gd_strndup(s, strlen(s));
}

char *gd_strndup(const char *s, size_t n)
{
    char *p = gd_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *gd_vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        oom(0);
    char *p = gd_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *gd_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = gd_vasprintf(fmt, ap);
    va_end(ap);
    return p;
}

size_t gd_strlcpy(char *dst, const char *src, size_t dstsize)
{
    size_t n = strlen(src);
    if (dstsize > 0) {
        size_t c = n < dstsize - 1 ? n : dstsize - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

#define GD_BUF_DEFAULT_MAX ((size_t)1 << 30)

void gd_buf_init(gd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : GD_BUF_DEFAULT_MAX;
    b->bounded = max != 0;
}

void gd_buf_free(gd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void gd_buf_reset(gd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int gd_buf_reserve(gd_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        if (b->bounded)
            return GD_E_NOMEM;
        fprintf(stderr, "geodr: internal error: a buffer of geodr's own grew past %zu bytes\n",
                b->max);
        abort();
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->data = gd_realloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int gd_buf_append(gd_buf *b, const void *p, size_t n)
{
    if (gd_buf_reserve(b, n) != 0)
        return GD_E_NOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int gd_buf_appendf(gd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return GD_E_INVALID;
    if (gd_buf_reserve(b, (size_t)n) != 0)
        return GD_E_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int64_t gd_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gd_clock_now_s(void)
{
    const char *v = getenv("GEODR_NOW");
    if (v && *v)
        return (int64_t)strtoll(v, NULL, 10);
    return gd_now_us() / 1000000;
}

long gd_test_value(const char *point)
{
    const char *v = getenv("GEODR_TEST_PAUSE");
    size_t pl = strlen(point);
    for (const char *p = v; p && *p;) {
        if (strncmp(p, point, pl) == 0 && p[pl] == '=')
            return strtol(p + pl + 1, NULL, 10);
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return 0;
}

void gd_test_pause(const char *point)
{
    long ms = gd_test_value(point);
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double gd_boottime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double gd_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gd_fmt_time(int64_t us, bool frac, char *buf, size_t size)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (frac)
        snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    else
        snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void gd_fmt_time_compact(int64_t us, char *buf, size_t size)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void gd_fmt_bytes(uint64_t n, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, size, "%.1f %s", v, unit[i]);
}

int gd_read_small_file(const char *path, size_t max, char **out, size_t *len, gd_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gd_err_sys(err, errno, "cannot open %s", path);
    gd_buf b;
    gd_buf_init(&b, max);
    char tmp[8192];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            gd_buf_free(&b);
            return gd_err_sys(err, e, "cannot read %s", path);
        }
        if (r == 0)
            break;
        if (gd_buf_append(&b, tmp, (size_t)r) != 0) {
            close(fd);
            gd_buf_free(&b);
            return gd_err_set(err, GD_E_INVALID, "%s is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    if (b.data == NULL)
        gd_buf_append(&b, "", 0);
    *out = b.data;
    if (len)
        *len = b.len;
    return 0;
}

int gd_read_secret_file(const char *path, char **out, gd_err *err)
{
    char *s = NULL;
    size_t n = 0;
    int rc = gd_read_small_file(path, 64 * 1024, &s, &n, err);
    if (rc != 0)
        return rc;
    char *nl = memchr(s, '\n', n);
    if (nl)
        *nl = '\0';
    size_t l = strlen(s);
    if (l > 0 && s[l - 1] == '\r')
        s[l - 1] = '\0';
    *out = s;
    return 0;
}

void gd_hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int gd_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gd_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return GD_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        int a = gd_hexval(hex[2 * i]), b = gd_hexval(hex[2 * i + 1]);
        if (a < 0 || b < 0)
            return GD_E_INVALID;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

char *gd_ident(const char *name)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_append(&b, "`", 1);
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            gd_buf_append(&b, "``", 2);
        else
            gd_buf_append(&b, p, 1);
    }
    gd_buf_append(&b, "`", 1);
    return b.data;
}

static int remove_tree_errno;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT &&
        remove_tree_errno == 0)
        remove_tree_errno = errno;
    return 0;
}

int gd_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    /* nftw's callback has no argument: the first error goes through a
     * static, so removals are serialised */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    remove_tree_errno = 0;
    int rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    int e = rc != 0 ? errno : remove_tree_errno;
    pthread_mutex_unlock(&mu);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}
