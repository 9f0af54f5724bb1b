/* Request parameters of the HTTP API (docs/api.md "Parameters"): typed
 * reads of a request's JSON object that turn every mistake into a 400
 * answer naming the parameter and what is allowed, so operations never
 * touch json_t themselves.
 *
 *   gd_params p;
 *   gd_params_begin(&p, params, answer);
 *   const char *id = gd_param_str(&p, "DBInstanceId", true);
 *   long long days = gd_param_int(&p, "Retention", false, 7, 7, 1825);
 *   bool on = gd_param_bool(&p, "BackupEnabled", false, true);
 *   int rc = gd_params_end(&p);  // 0, or 400 with *answer set
 *   ...use the values, then
 *   gd_params_free(&p);
 *
 * The first error wins; later reads return their defaults.  gd_params_end
 * also refuses any parameter no read asked for ("unknown parameter
 * 'Foo'; this operation takes: A, B, C").  A parameter given as JSON null
 * counts as absent.  Errors are 400 with Code "MissingParameter",
 * "InvalidParameter" (the message names the parameter, what is allowed and
 * what was sent) or "UnknownParameter".  Names must be string literals (or
 * outlive p).  Not thread-safe: one gd_params per request. */
#ifndef GD_SERVER_PARAMS_H
#define GD_SERVER_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GD_PARAMS_MAX 32

typedef struct gd_params {
    json_t *obj;     /* the request (borrowed) */
    json_t **answer; /* where an error goes */
    int status;      /* 0, or 400 once an error was set (500: more than GD_PARAMS_MAX names) */
    size_t n;
    const char *known[GD_PARAMS_MAX]; /* names read so far */
    size_t n_owned;
    void *owned[GD_PARAMS_MAX]; /* arrays of gd_param_strv / gd_param_map */
} gd_params;

void gd_params_begin(gd_params *p, json_t *obj, json_t **answer);
/* A string (borrowed from the request); NULL when absent and not required.
 * Empty strings and strings with NUL bytes are refused. */
const char *gd_param_str(gd_params *p, const char *name, bool required);
/* An integer in [min, max] (a JSON integer, not a string or real). */
long long gd_param_int(gd_params *p, const char *name, bool required, long long dflt, long long min,
                       long long max);
bool gd_param_bool(gd_params *p, const char *name, bool required, bool dflt);
/* One of the given names (NULL-terminated); its index, or dflt. */
int gd_param_enum(gd_params *p, const char *name, bool required, int dflt,
                  const char *const *names);
/* A time "yyyy-MM-ddTHH:mm:ssZ" (UTC, years 1970-9999, no leap second)
 * as Unix seconds; gd_params_time_parse is the same check alone. */
long long gd_param_time(gd_params *p, const char *name, bool required, long long dflt);
/* An array of non-empty strings: *n entries and a NULL; NULL when absent
 * or wrong.  The array is freed by gd_params_free, the strings borrowed. */
const char **gd_param_strv(gd_params *p, const char *name, bool required, size_t *n);
/* An object of non-empty string values {"old": "new"} as two parallel
 * arrays in the request's order; false when absent or wrong.  Freed by
 * gd_params_free (one block: free nothing yourself). */
bool gd_param_map(gd_params *p, const char *name, bool required, const char ***keys,
                  const char ***values, size_t *n);
/* 0, or the status of the first error (an answer was set); refuses
 * unknown parameters. Frees nothing the reads returned (they borrow from
 * the request or are freed with gd_params_free). */
int gd_params_end(gd_params *p);
void gd_params_free(gd_params *p);

/* "2026-11-30T12:00:00Z" -> Unix seconds; false when s is not exactly that
 * form of a real UTC time. */
bool gd_params_time_parse(const char *s, long long *out);

#endif
