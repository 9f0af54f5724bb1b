/* Errors: functions return 0 on success or a negative gd_code; the details
 * (a message meant for the operator, saying what to do) go into a gd_err the
 * caller passes.  A NULL gd_err is allowed everywhere: details are dropped.
 *
 * Messages never contain secrets (passwords, keys, credentials). */
#ifndef GD_COMMON_ERROR_H
#define GD_COMMON_ERROR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum gd_code {
    GD_OK = 0,
    GD_E_INVALID = -1,  /* bad argument or input from the user */
    GD_E_IO = -2,       /* local I/O failed (errno in sys_errno) */
    GD_E_NOMEM = -3,    /* allocation failed or a hard buffer limit was hit */
    GD_E_NOTFOUND = -4, /* object, file, instance, set ... does not exist */
    GD_E_CORRUPT = -5,  /* stored data failed a checksum or format check */
    GD_E_AUTH = -6,     /* wrong key, failed authentication tag, wrong password */
    GD_E_CONFIG = -7,   /* configuration file problem */
    GD_E_MYSQL = -8,    /* the database server returned an error */
    GD_E_EXISTS = -9,   /* refusing to overwrite something that exists */
    GD_E_STATE = -10,   /* operation not possible in the current state */
    GD_E_NET = -11,     /* network / connection problem (usually retryable) */
    GD_E_CANCEL = -12,  /* operation was cancelled (signal, other worker failed) */
    GD_E_BUSY = -13,    /* another process holds the lock (repo/lock.h): try again later */
} gd_code;

typedef struct gd_err {
    int code;       /* a gd_code, GD_OK when nothing went wrong */
    int sys_errno;  /* errno when code == GD_E_IO, else 0 */
    bool retryable; /* true when trying again later may succeed */
    char msg[1024]; /* one line, for the operator */
} gd_err;

/* Clears e (may be NULL). */
void gd_err_clear(gd_err *e);

/* Sets code and a printf-style message; returns code so callers can write
 * `return gd_err_set(e, GD_E_INVALID, "...")`.  The first error wins: if e
 * already holds an error it is kept (the root cause is what matters). */
int gd_err_set(gd_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like gd_err_set, with errno appended as ": <strerror>" and kept. */
int gd_err_sys(gd_err *e, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces the message with "<prefix>: <old message>" keeping the code. */
void gd_err_prefix(gd_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces every occurrence of secret (when not NULL or "") in the message
 * with "***": for errors of statements that carry a password, where the
 * server may echo any part of the statement. */
void gd_err_redact(gd_err *e, const char *secret);

/* Short name of a code, for JSON output ("io", "corrupt", ...). */
const char *gd_code_name(int code);

#endif
