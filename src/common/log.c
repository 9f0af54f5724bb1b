#include "common/log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static enum gd_log_level g_level = GD_LOG_INFO;

void gd_log_set_level(enum gd_log_level level)
{
    g_level = level;
}

enum gd_log_level gd_log_get_level(void)
{
    return g_level;
}

static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};

static void log_line(enum gd_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "geodr: %s", prefix[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void gd_log(enum gd_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

/* ---- key=value lines ---- */

static bool bare(const char *v)
{
    if (v[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\' || *p == '=')
            return false;
    return true;
}

void gd_log_kv_value(gd_buf *b, const char *v)
{
    if (bare(v)) {
        gd_buf_append(b, v, strlen(v));
        return;
    }
    gd_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            gd_buf_appendf(b, "\\%c", *p);
        else if (*p == '\n')
            gd_buf_append(b, "\\n", 2);
        else if (*p == '\r')
            gd_buf_append(b, "\\r", 2);
        else if (*p == '\t')
            gd_buf_append(b, "\\t", 2);
        else if (*p < ' ' || *p == 0x7f)
            gd_buf_appendf(b, "\\x%02x", *p);
        else
            gd_buf_append(b, p, 1);
    }
    gd_buf_append(b, "\"", 1);
}

/* One conversion: spec (from '%' to the conversion character) with its
 * argument, formatted into tmp.  Returns -1 for a conversion not
 * understood (the arguments after it cannot be found then). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int convert(gd_buf *tmp, const char *spec, const char *len, char conv, va_list *ap)
{
    bool l = !strcmp(len, "l"), ll = !strcmp(len, "ll"), z = !strcmp(len, "z"),
         j = !strcmp(len, "j"), t = !strcmp(len, "t");
    switch (conv) {
    case 'd':
    case 'i':
        if (ll || j)
            return gd_buf_appendf(tmp, spec, ll ? va_arg(*ap, long long) : va_arg(*ap, intmax_t));
        if (l || z || t)
            return gd_buf_appendf(tmp, spec,
                                  l   ? va_arg(*ap, long)
                                  : z ? va_arg(*ap, ssize_t)
                                      : va_arg(*ap, ptrdiff_t));
        return gd_buf_appendf(tmp, spec, va_arg(*ap, int));
    case 'u':
    case 'x':
    case 'X':
        if (ll || j)
            return gd_buf_appendf(tmp, spec,
                                  ll ? va_arg(*ap, unsigned long long) : va_arg(*ap, uintmax_t));
        if (l || z || t)
            return gd_buf_appendf(tmp, spec,
                                  l   ? va_arg(*ap, unsigned long)
                                  : z ? va_arg(*ap, size_t)
                                      : (size_t)va_arg(*ap, ptrdiff_t));
        return gd_buf_appendf(tmp, spec, va_arg(*ap, unsigned));
    case 'c':
        return gd_buf_appendf(tmp, spec, va_arg(*ap, int));
    case 's': {
        const char *s = va_arg(*ap, const char *);
        return gd_buf_appendf(tmp, spec, s ? s : "(null)");
    }
    case 'f':
    case 'g':
    case 'e':
        if (!strcmp(len, "L"))
            return gd_buf_appendf(tmp, spec, va_arg(*ap, long double));
        return gd_buf_appendf(tmp, spec, va_arg(*ap, double));
    case 'p':
        return gd_buf_appendf(tmp, spec, va_arg(*ap, void *));
    default:
        return -1;
    }
}
#pragma GCC diagnostic pop

void gd_log_kv_vappend(gd_buf *b, const char *fmt, va_list ap)
{
    gd_buf tmp;
    gd_buf_init(&tmp, 0);
    va_list args;
    va_copy(args, ap);
    for (const char *p = fmt; *p;) {
        /* "%s" written with quotes of its own: the value is quoted when
         * it needs to be, not twice. */
        bool quoted = p[0] == '"' && p[1] == '%' && p[2] != '%';
        if (quoted)
            p++;
        if (*p != '%' || p[1] == '%') {
            gd_buf_append(b, p, 1);
            p += *p == '%' ? 2 : 1;
            continue;
        }
        const char *start = p++;
        p += strspn(p, "-+ #0");
        p += strspn(p, "0123456789");
        if (*p == '.')
            p += 1 + strspn(p + 1, "0123456789");
        size_t nlen = strspn(p, "hlzjtL");
        char spec[32], len[4];
        size_t slen = (size_t)(p - start) + nlen + 1;
        if (nlen >= sizeof len || slen >= sizeof spec || *p == '\0' || p[nlen] == '\0')
            break;
        memcpy(len, p, nlen);
        len[nlen] = '\0';
        memcpy(spec, start, slen);
        spec[slen] = '\0';
        p += nlen;
        gd_buf_reset(&tmp);
        if (convert(&tmp, spec, len, *p++, &args) != 0)
            break; /* not understood: the line ends here */
        gd_log_kv_value(b, tmp.data ? tmp.data : "");
        if (quoted && *p == '"')
            p++;
    }
    va_end(args);
    gd_buf_free(&tmp);
}

void gd_log_write(enum gd_log_level level, const char *line)
{
    if (level > g_level)
        return;
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_appendf(&b, "geodr: %s%s\n", prefix[level], line);
    ssize_t w = write(STDERR_FILENO, b.data, b.len);
    (void)w;
    gd_buf_free(&b);
}

void gd_log_kv(enum gd_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_append(&b, "", 0);
    va_list ap;
    va_start(ap, fmt);
    gd_log_kv_vappend(&b, fmt, ap);
    va_end(ap);
    gd_log_write(level, b.data ? b.data : "");
    gd_buf_free(&b);
}
