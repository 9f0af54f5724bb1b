#include "command/command.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void gd_command_emit(const gd_command_ctx *ctx, gd_cmd_event_kind kind, const char *op,
                     const char *phase, const char *msg, const void *data)
{
    if (ctx == NULL || ctx->on_event == NULL)
        return;
    gd_cmd_event ev = {.kind = kind, .op = op, .phase = phase, .msg = msg, .data = data};
    ctx->on_event(ctx->event_ctx, &ev);
}

void gd_command_say(const gd_command_ctx *ctx, gd_cmd_event_kind kind, const char *op,
                    const char *fmt, ...)
{
    if (ctx == NULL || ctx->on_event == NULL)
        return;
    /* Whole, however long (a path in a note): no fixed buffer. */
    va_list ap;
    va_start(ap, fmt);
    char *msg = gd_vasprintf(fmt, ap);
    va_end(ap);
    gd_command_emit(ctx, kind, op, NULL, msg, NULL);
    free(msg);
}

bool gd_command_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool gd_command_real(const char *s, double min, double max, double *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

char **gd_command_split(const char *s, size_t *n)
{
    size_t cap = 4;
    char **v = gd_calloc(cap, sizeof *v);
    *n = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0) {
            if (*n == cap) {
                cap *= 2;
                v = gd_realloc(v, cap * sizeof *v);
            }
            v[(*n)++] = gd_strndup(p, l);
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return v;
}
