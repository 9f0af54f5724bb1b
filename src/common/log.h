/* Logging to stderr.  One line per message, prefixed with the level when not
 * at INFO.  Thread-safe (each message is one write).  Never log secrets. */
#ifndef GD_COMMON_LOG_H
#define GD_COMMON_LOG_H

enum gd_log_level { GD_LOG_ERROR = 0, GD_LOG_WARN = 1, GD_LOG_INFO = 2, GD_LOG_DEBUG = 3 };

void gd_log_set_level(enum gd_log_level level);
enum gd_log_level gd_log_get_level(void);
void gd_log(enum gd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gd_error(...) gd_log(GD_LOG_ERROR, __VA_ARGS__)
#define gd_warn(...) gd_log(GD_LOG_WARN, __VA_ARGS__)
#define gd_info(...) gd_log(GD_LOG_INFO, __VA_ARGS__)
#define gd_debug(...) gd_log(GD_LOG_DEBUG, __VA_ARGS__)

#endif
