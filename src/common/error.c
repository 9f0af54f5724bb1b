#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gd_err_clear(gd_err *e)
{
    if (e == NULL)
        return;
    e->code = GD_OK;
    e->sys_errno = 0;
    e->retryable = false;
    e->msg[0] = '\0';
}

static void vset(gd_err *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    e->retryable = (code == GD_E_NET);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int gd_err_set(gd_err *e, int code, const char *fmt, ...)
{
    if (e == NULL || e->code != GD_OK)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int gd_err_sys(gd_err *e, int sys_errno, const char *fmt, ...)
{
    if (e == NULL || e->code != GD_OK)
        return GD_E_IO;
    va_list ap;
    va_start(ap, fmt);
    vset(e, GD_E_IO, fmt, ap);
    va_end(ap);
    e->sys_errno = sys_errno;
    size_t n = strlen(e->msg);
    char sb[128]; /* strerror_r (GNU): strerror may share one buffer between threads */
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror_r(sys_errno, sb, sizeof sb));
    return GD_E_IO;
}

void gd_err_prefix(gd_err *e, const char *fmt, ...)
{
    if (e == NULL || e->code == GD_OK)
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
}

const char *gd_code_name(int code)
{
    switch (code) {
    case GD_OK:
        return "ok";
    case GD_E_INVALID:
        return "invalid";
    case GD_E_IO:
        return "io";
    case GD_E_NOMEM:
        return "nomem";
    case GD_E_NOTFOUND:
        return "notfound";
    case GD_E_CORRUPT:
        return "corrupt";
    case GD_E_AUTH:
        return "auth";
    case GD_E_CONFIG:
        return "config";
    case GD_E_MYSQL:
        return "mysql";
    case GD_E_EXISTS:
        return "exists";
    case GD_E_STATE:
        return "state";
    case GD_E_NET:
        return "net";
    case GD_E_CANCEL:
        return "cancel";
    case GD_E_BUSY:
        return "busy";
    default:
        return "unknown";
    }
}

void gd_err_redact(gd_err *e, const char *secret)
{
    if (e == NULL || secret == NULL || secret[0] == '\0')
        return;
    size_t sl = strlen(secret);
    char out[sizeof e->msg];
    size_t o = 0;
    for (const char *p = e->msg; *p && o + 1 < sizeof out;) {
        if (strncmp(p, secret, sl) == 0) {
            for (const char *r = "***"; *r && o + 1 < sizeof out; r++)
                out[o++] = *r;
            p += sl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(e->msg, out, o + 1);
}
