#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
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

void gd_log(enum gd_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    char line[2048];
    int n = snprintf(line, sizeof line, "geodr: %s", prefix[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
