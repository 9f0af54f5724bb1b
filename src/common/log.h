/* Logging to stderr.  One line per message, prefixed with the level when not
 * at INFO.  Thread-safe (each message is one write).  Never log secrets.
 *
 * Structured lines (the server's log, which journald and log shippers parse)
 * are written with gd_log_kv: `key=value key=value ...`, where every value
 * is escaped so that no value can break the form, whatever it holds (an
 * error message with a quote, a newline, a backslash, an instance name with
 * a space or '='). */
#ifndef GD_COMMON_LOG_H
#define GD_COMMON_LOG_H

#include <stdarg.h>

#include "common/util.h"

enum gd_log_level { GD_LOG_ERROR = 0, GD_LOG_WARN = 1, GD_LOG_INFO = 2, GD_LOG_DEBUG = 3 };

void gd_log_set_level(enum gd_log_level level);
enum gd_log_level gd_log_get_level(void);
void gd_log(enum gd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key=value line: fmt is printf's, written as `key=%s key=%d ...` with no
 * quotes of its own; the text of fmt is copied as it is and every converted
 * value (%s, %d, %.1f, %zu ...) is appended escaped (gd_log_kv_value).
 * Conversions understood: d i u x X c s f g e p and %%, with flags, width,
 * precision and the length modifiers hh h l ll z j t L.  fmt is the
 * caller's literal: it is not escaped.  A conversion written between
 * quotes of its own (error="%s") is taken as without them. */
void gd_log_kv(enum gd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, appended to b (for a line built in parts). */
void gd_log_kv_vappend(gd_buf *b, const char *fmt, va_list ap);

/* Writes line (already formed; any length) as one line of level, in one
 * write: a line cut short would lose a value's closing quote. */
void gd_log_write(enum gd_log_level level, const char *line);

/* Appends v to b as one value: as it is when it is not empty and holds no
 * byte below '!', no DEL, no '"', '\\' or '='; else in double quotes with
 * '"' and '\\' preceded by '\\', newline, carriage return and tab written
 * \n \r \t and every other control byte \xHH.  Bytes above 0x7f (UTF-8)
 * are kept. */
void gd_log_kv_value(gd_buf *b, const char *v);

#define gd_error(...) gd_log(GD_LOG_ERROR, __VA_ARGS__)
#define gd_warn(...) gd_log(GD_LOG_WARN, __VA_ARGS__)
#define gd_info(...) gd_log(GD_LOG_INFO, __VA_ARGS__)
#define gd_debug(...) gd_log(GD_LOG_DEBUG, __VA_ARGS__)

#endif
