/* Small helpers used everywhere: allocation that never returns NULL silently,
 * bounded string copies, a growable byte buffer with a hard maximum, time. */
#ifndef GD_COMMON_UTIL_H
#define GD_COMMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Allocation: abort the process with a message on out-of-memory.  geodr's
 * memory use is bounded by design, so running out is a bug or a broken host,
 * not a condition to recover from. */
void *gd_malloc(size_t n);
void *gd_calloc(size_t n, size_t size);
void *gd_realloc(void *p, size_t n);
char *gd_strdup(const char *s);
char *gd_strndup(const char *s, size_t n);
/* printf into a new string (caller frees). */
char *gd_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same from a va_list (aborts on OOM like gd_malloc). */
char *gd_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Copies at most dstsize-1 bytes and always terminates; returns strlen(src)
 * so truncation is detectable (>= dstsize). */
size_t gd_strlcpy(char *dst, const char *src, size_t dstsize);

/* Growable byte buffer.  data is always NUL-terminated (one extra byte is
 * kept) so text can be used as a C string.  One policy, by how it was made:
 *  - gd_buf_init(b, 0): geodr's own text (SQL, messages, JSON it builds).
 *    An append cannot fail: running out of memory aborts (as gd_malloc
 *    does), and so does passing the 1 GiB guard (a bug, not an input), so
 *    callers need not check the result.
 *  - gd_buf_init(b, max): a buffer whose size an input decides (a record
 *    read from a region, a client's packet).  Appends beyond max fail with
 *    GD_E_NOMEM, leave the buffer unchanged, and must be checked. */
typedef struct gd_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;   /* the bound, or the 1 GiB guard */
    bool bounded; /* made with a max: appends beyond it fail instead of aborting */
} gd_buf;

void gd_buf_init(gd_buf *b, size_t max);
void gd_buf_free(gd_buf *b);
void gd_buf_reset(gd_buf *b); /* len = 0, keeps memory */
int gd_buf_append(gd_buf *b, const void *p, size_t n);
int gd_buf_appendf(gd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gd_buf_reserve(gd_buf *b, size_t extra);

/* Wall clock as microseconds since the epoch, and a monotonic clock in
 * seconds. */
int64_t gd_now_us(void);
double gd_mono(void);
/* Seconds since boot, suspended time included, never stepped
 * (CLOCK_BOOTTIME): for offsets to another machine's clock that must not
 * move when this one's wall clock is set. */
double gd_boottime(void);

/* The time retention decisions are made at, in seconds since the epoch:
 * the wall clock, or GEODR_NOW (seconds) when set: the tests' injectable
 * clock. */
int64_t gd_clock_now_s(void);

/* Test hook: when GEODR_TEST_PAUSE holds "point=ms" (several separated by
 * ','), sleeps ms milliseconds at that named point, so a test can make a
 * race certain instead of lucky.  Does nothing otherwise. */
void gd_test_pause(const char *point);
/* The value GEODR_TEST_PAUSE gives point ("point=N"), 0 when none: for test
 * hooks that are not a pause (binlog-refuse=1: the binlog server drops
 * every connection, as a firewall would). */
long gd_test_value(const char *point);

/* Formats an epoch in microseconds as "YYYY-MM-DD HH:MM:SS" UTC (buf >= 20),
 * or with ".ffffff" when frac is true (buf >= 27). */
void gd_fmt_time(int64_t us, bool frac, char *buf, size_t size);
/* "20261123T161200Z" (buf >= 17). */
void gd_fmt_time_compact(int64_t us, char *buf, size_t size);
/* Human sizes: "1.5 GiB". */
void gd_fmt_bytes(uint64_t n, char *buf, size_t size);

/* Reads a whole small file (max bytes) into a new NUL-terminated string. */
/* Removes path and everything under it (symbolic links are removed, not
 * followed); a missing path is success.  0, or -1 with errno set by the
 * first removal that failed (the walk goes on past it). */
int gd_remove_tree(const char *path);

int gd_read_small_file(const char *path, size_t max, char **out, size_t *len, gd_err *err);
/* Reads the first line of a file (secret files: passwords, passphrases);
 * strips the trailing newline / CR.  The content never appears in errors. */
int gd_read_secret_file(const char *path, char **out, gd_err *err);

/* Hex encoding of n bytes into out (2n+1 bytes). */
void gd_hex(const uint8_t *p, size_t n, char *out);
/* The value of one hex digit, or -1. */
int gd_hexval(char c);
/* Decodes exactly n bytes of hex; returns 0 or GD_E_INVALID. */
int gd_unhex(const char *hex, uint8_t *out, size_t n);

/* Quotes a SQL identifier with backticks (` doubled) into a new string. */
char *gd_ident(const char *name);

#endif
