/* Typed reads of an API request's parameters (params.h). */
#include "server/params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "server/http.h"

#define GOT_MAX 60 /* characters of a wrong value quoted back */

void gd_params_begin(gd_params *p, json_t *obj, json_t **answer)
{
    memset(p, 0, sizeof *p);
    p->obj = obj;
    p->answer = answer;
}

/* "parameter 'X' <what> (got <the value as JSON>)": the first error wins. */
__attribute__((format(printf, 4, 5))) static void invalid(gd_params *p, const char *name,
                                                          const json_t *got, const char *fmt, ...)
{
    if (p->status)
        return;
    char what[512], shown[GOT_MAX + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
    gd_strlcpy(shown, s ? s : "?", GOT_MAX + 1);
    if (s && strlen(s) > GOT_MAX)
        memcpy(shown + GOT_MAX, "...", 4);
    free(s);
    p->status = gd_http_error(p->answer, 400, "InvalidParameter", "parameter '%s' %s (got %s)",
                              name, what, shown);
}

/* Records name as known and returns its value: NULL when absent (or null),
 * after an earlier error, or when required and missing (an error then). */
static json_t *lookup(gd_params *p, const char *name, bool required)
{
    size_t i = 0;
    while (i < p->n && strcmp(p->known[i], name) != 0)
        i++;
    if (i == p->n) {
        if (p->n == GD_PARAMS_MAX) {
            if (!p->status)
                p->status =
                    gd_http_error(p->answer, 500, "InternalError",
                                  "an operation reads more than %d parameters", GD_PARAMS_MAX);
            return NULL;
        }
        p->known[p->n++] = name;
    }
    if (p->status)
        return NULL;
    json_t *v = p->obj ? json_object_get(p->obj, name) : NULL;
    if (v && json_is_null(v))
        v = NULL;
    if (!v && required)
        p->status =
            gd_http_error(p->answer, 400, "MissingParameter", "parameter '%s' is required", name);
    return v;
}

static bool string_ok(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 &&
           strlen(json_string_value(v)) == json_string_length(v);
}

const char *gd_param_str(gd_params *p, const char *name, bool required)
{
    json_t *v = lookup(p, name, required);
    if (!v)
        return NULL;
    if (!string_ok(v)) {
        invalid(p, name, v, "must be a non-empty string");
        return NULL;
    }
    return json_string_value(v);
}

long long gd_param_int(gd_params *p, const char *name, bool required, long long dflt, long long min,
                       long long max)
{
    json_t *v = lookup(p, name, required);
    if (!v)
        return dflt;
    long long n = json_is_integer(v) ? json_integer_value(v) : 0;
    if (!json_is_integer(v) || n < min || n > max) {
        invalid(p, name, v, "must be an integer from %lld to %lld", min, max);
        return dflt;
    }
    return n;
}

bool gd_param_bool(gd_params *p, const char *name, bool required, bool dflt)
{
    json_t *v = lookup(p, name, required);
    if (!v)
        return dflt;
    if (!json_is_boolean(v)) {
        invalid(p, name, v, "must be true or false");
        return dflt;
    }
    return json_is_true(v);
}

int gd_param_enum(gd_params *p, const char *name, bool required, int dflt, const char *const *names)
{
    json_t *v = lookup(p, name, required);
    if (!v)
        return dflt;
    for (int i = 0; json_is_string(v) && names[i]; i++)
        if (strcmp(json_string_value(v), names[i]) == 0)
            return i;
    char list[400] = "";
    size_t used = 0;
    for (int i = 0; names[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    invalid(p, name, v, "must be one of %s", list);
    return dflt;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* The number at s[0..n) when all are digits, else -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool gd_params_time_parse(const char *s, long long *out)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if ((unsigned)d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

long long gd_param_time(gd_params *p, const char *name, bool required, long long dflt)
{
    json_t *v = lookup(p, name, required);
    if (!v)
        return dflt;
    long long t;
    if (!json_is_string(v) || !gd_params_time_parse(json_string_value(v), &t)) {
        invalid(p, name, v, "must be a UTC time yyyy-MM-ddTHH:mm:ssZ (e.g. 2026-11-30T13:05:00Z)");
        return dflt;
    }
    return t;
}

/* A new array of n pointers (and a NULL) that gd_params_free frees;
 * NULL (and a 500) when an operation reads too many arrays. */
static const char **owned_array(gd_params *p, size_t n)
{
    if (p->n_owned == GD_PARAMS_MAX) {
        p->status = gd_http_error(p->answer, 500, "InternalError",
                                  "an operation reads more than %d arrays", GD_PARAMS_MAX);
        return NULL;
    }
    const char **a = gd_calloc(n + 1, sizeof *a);
    p->owned[p->n_owned++] = a;
    return a;
}

const char **gd_param_strv(gd_params *p, const char *name, bool required, size_t *n)
{
    *n = 0;
    json_t *v = lookup(p, name, required);
    if (!v)
        return NULL;
    size_t i;
    json_t *e;
    bool ok = json_is_array(v);
    json_array_foreach(v, i, e) ok = ok && string_ok(e);
    if (!ok) {
        invalid(p, name, v, "must be an array of non-empty strings");
        return NULL;
    }
    const char **a = owned_array(p, json_array_size(v));
    if (!a)
        return NULL;
    json_array_foreach(v, i, e) a[i] = json_string_value(e);
    *n = json_array_size(v);
    return a;
}

bool gd_param_map(gd_params *p, const char *name, bool required, const char ***keys,
                  const char ***values, size_t *n)
{
    *keys = *values = NULL;
    *n = 0;
    json_t *v = lookup(p, name, required);
    if (!v)
        return false;
    const char *k;
    json_t *e;
    bool ok = json_is_object(v);
    json_object_foreach(v, k, e) ok = ok && k[0] && string_ok(e);
    if (!ok) {
        invalid(p, name, v, "must be an object of non-empty strings {\"old\": \"new\"}");
        return false;
    }
    size_t count = json_object_size(v), i = 0;
    const char **a = owned_array(p, 2 * count);
    if (!a)
        return false;
    json_object_foreach(v, k, e)
    {
        a[i] = k;
        a[count + i] = json_string_value(e);
        i++;
    }
    *keys = a;
    *values = a + count;
    *n = count;
    return true;
}

int gd_params_end(gd_params *p)
{
    if (p->status || !p->obj)
        return p->status;
    const char *k;
    json_t *v;
    json_object_foreach(p->obj, k, v)
    {
        size_t i = 0;
        while (i < p->n && strcmp(p->known[i], k) != 0)
            i++;
        if (i < p->n)
            continue;
        char list[600] = "";
        size_t used = 0;
        for (i = 0; i < p->n && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     p->known[i]);
        return p->status = gd_http_error(p->answer, 400, "UnknownParameter",
                                         "unknown parameter '%.64s'; %s%s", k,
                                         p->n ? "this operation takes: " : "",
                                         p->n ? list : "this operation takes no parameters");
    }
    return 0;
}

void gd_params_free(gd_params *p)
{
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    p->n_owned = 0;
}
