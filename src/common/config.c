/* The configuration file: [region NAME] and [instance NAME] sections.
 *
 * Parsing happens in three steps so errors come out in the order an operator
 * reads the file: every key is checked as it is read (syntax, ranges), every
 * section is checked for completeness when it ends, and references between
 * sections (home-region, copy-regions) are checked once the whole file is
 * known, because a region may be defined after the instance that uses it. */
#include "common/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/defaults.h"
#include "common/util.h"

#define CONFIG_MAX_BYTES ((size_t)1 << 20)

/* Every key of a section is one row of its table (below the parsers): how
 * its value is read, where it goes, its range and its default.  A default is
 * written as the value would be in the file and parsed like one, so the
 * defaults live here and nowhere else (common/defaults.h names the ones code
 * outside the config needs). */
struct parse_state;
struct key_def;
typedef int (*key_parse_fn)(struct parse_state *st, void *sec, const struct key_def *d,
                            const char *v, int line, gd_err *err);
typedef struct key_def {
    const char *key;
    key_parse_fn parse;
    size_t off, size;   /* the field in gd_region_cfg / gd_instance_cfg */
    long long min, max; /* whole numbers */
    const char *what;   /* what a number's range is of, for its message */
    const char *dflt;   /* default value, as written in the file (NULL: none) */
    bool empty_ok;      /* "key =" means the empty string */
    bool s3_only;       /* regions: a key of type = s3 only */
} key_def;

#define MAX_SECTION_KEYS 32
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum { SEC_NONE, SEC_REGION, SEC_INSTANCE, SEC_SERVER };

/* Where each key of a section was set (for duplicates and late messages). */
typedef struct key_line {
    const char *key; /* points into region_keys / instance_keys */
    int line;
} key_line;

typedef struct section_meta {
    key_line keys[MAX_SECTION_KEYS];
    size_t n;
} section_meta;

typedef struct parse_state {
    gd_config *c;
    const char *path;
    int kind;
    size_t idx;
    section_meta *rmeta; /* parallel to c->regions */
    section_meta *imeta; /* parallel to c->instances */
    section_meta smeta;  /* [server] */
} parse_state;

static int key_line_of(const section_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i].key, key) == 0)
            return m->keys[i].line;
    }
    return 0;
}

/* "<file>:<line>: <message>" */
static int cfg_err(gd_err *err, const parse_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfg_err(gd_err *err, const parse_state *st, int line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gd_err_set(err, GD_E_CONFIG, "%s:%d: %s", st->path, line, msg);
}

static bool name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
}

/* Region and instance names end up in object names and messages: one word of
 * letters, digits, '-', '_', '.', not starting with '.' or '-'. */
static bool section_name_ok(const char *s)
{
    if (s[0] == '\0' || s[0] == '.' || s[0] == '-' || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++) {
        if (!name_char_ok(*p))
            return false;
    }
    return true;
}

/* Strict decimal integer in [min, max]. */
static bool parse_ll(const char *v, long long min, long long max, long long *out)
{
    if (v[0] == '\0')
        return false;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < N_ELEMS(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Levenshtein distance, capped (keys are short). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

static int unknown_key(gd_err *err, const parse_state *st, int line, const char *key,
                       const key_def *keys, size_t n, const char *sec_kind, const char *sec_name)
{
    gd_buf list;
    gd_buf_init(&list, 0);
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        gd_buf_appendf(&list, "%s%s", i ? ", " : "", keys[i].key);
        size_t d = edit_distance(key, keys[i].key);
        if (d < best_d) {
            best_d = d;
            best = keys[i].key;
        }
    }
    char hint[128] = "";
    if (best != NULL)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    int rc = cfg_err(err, st, line, "unknown key '%.64s' in [%s%s%s]%s; valid keys are: %s", key,
                     sec_kind, sec_name[0] ? " " : "", sec_name, hint, list.data);
    gd_buf_free(&list);
    return rc;
}

static const key_def *find_key(const char *key, const key_def *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, keys[i].key) == 0)
            return &keys[i];
    }
    return NULL;
}

static int record_key(gd_err *err, const parse_state *st, section_meta *m, const char *key,
                      int line, const char *sec_kind, const char *sec_name)
{
    int first = key_line_of(m, key);
    if (first != 0)
        return cfg_err(err, st, line,
                       "duplicate key '%s' in [%s%s%s] (first set on line %d): keep only one", key,
                       sec_kind, sec_name[0] ? " " : "", sec_name, first);
    m->keys[m->n].key = key;
    m->keys[m->n].line = line;
    m->n++;
    return 0;
}

/* ---- value parsers: each reads v into the field d names ---- */

#define FIELD(sec, d, type) ((type *)(void *)((char *)(sec) + (d)->off))

static int parse_string(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                        gd_err *err)
{
    (void)st, (void)line, (void)err;
    char **f = FIELD(sec, d, char *);
    free(*f);
    *f = gd_strdup(v);
    return 0;
}

static int parse_abs_path(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                          gd_err *err)
{
    if (v[0] != '/')
        return cfg_err(err, st, line, "%s = %.200s: must be an absolute path (starting with '/')",
                       d->key, v);
    return parse_string(st, sec, d, v, line, err);
}

static int parse_whole(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                       gd_err *err)
{
    long long x;
    if (!parse_ll(v, d->min, d->max, &x))
        return cfg_err(err, st, line, "%s = %.64s: must be a whole number %lld-%lld%s", d->key, v,
                       d->min, d->max, d->what ? d->what : "");
    if (d->size == sizeof(long long))
        *FIELD(sec, d, long long) = x;
    else /* int or unsigned: the range fits either */
        *FIELD(sec, d, int32_t) = (int32_t)(uint32_t)x;
    return 0;
}

static int parse_seconds(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                         gd_err *err)
{
    char *end = NULL;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= (double)d->min / 10 && x <= (double)d->max))
        return cfg_err(err, st, line,
                       "%s = %.64s: must be a number of seconds from %g to %lld (for example 1 "
                       "or 0.5)",
                       d->key, v, (double)d->min / 10, d->max);
    *FIELD(sec, d, double) = x;
    return 0;
}

static int parse_bytes_rate(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                            gd_err *err)
{
    char *end = NULL;
    double x = strtod(v, &end), mult = 1;
    if (end && (*end == 'K' || *end == 'k'))
        mult = 1024, end++;
    else if (end && (*end == 'M' || *end == 'm'))
        mult = 1024.0 * 1024, end++;
    else if (end && (*end == 'G' || *end == 'g'))
        mult = 1024.0 * 1024 * 1024, end++;
    if (end == v || *end != '\0' || !(x >= 0) || x * mult > 1e15)
        return cfg_err(err, st, line,
                       "%s = %.64s: must be bytes per second, optionally with K, M or G (for "
                       "example 50M); 0 means no limit",
                       d->key, v);
    *FIELD(sec, d, unsigned long long) = (unsigned long long)(x * mult);
    return 0;
}

static int parse_onoff(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                       gd_err *err)
{
    if (!parse_bool(v, FIELD(sec, d, bool)))
        return cfg_err(err, st, line,
                       "%s = %.64s: must be on or off (also accepted: yes/no, true/false, 1/0)",
                       d->key, v);
    return 0;
}

static int parse_region_type(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                             gd_err *err)
{
    gd_region_type *t = FIELD(sec, d, gd_region_type);
    if (strcmp(v, "posix") == 0)
        *t = GD_REGION_POSIX;
    else if (strcmp(v, "s3") == 0)
        *t = GD_REGION_S3;
    else
        return cfg_err(err, st, line, "type = %.64s: must be posix or s3", v);
    return 0;
}

static int parse_endpoint(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                          gd_err *err)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return cfg_err(err, st, line,
                       "endpoint = %.200s: must be a URL starting with https:// (or http://)", v);
    return parse_string(st, sec, d, v, line, err);
}

static int parse_bucket(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                        gd_err *err)
{
    if (strchr(v, '/') != NULL)
        return cfg_err(err, st, line,
                       "bucket = %.200s: a bucket name has no '/': put the path in 'prefix'", v);
    return parse_string(st, sec, d, v, line, err);
}

static int parse_prefix(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                        gd_err *err)
{
    if (v[0] == '/')
        return cfg_err(err, st, line,
                       "prefix = %.200s: must not start with '/' (write e.g. 'geodr/')", v);
    return parse_string(st, sec, d, v, line, err);
}

/* Splits "a, b,c" into names; checks syntax and duplicates (existence is
 * checked when the whole file is read). */
static int parse_copy_regions(parse_state *st, gd_instance_cfg *ic, const char *v, int line,
                              gd_err *err)
{
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *b = p;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e)
            return cfg_err(err, st, line,
                           "copy-regions = %.200s: empty region name; write a comma-separated "
                           "list like 'copy-regions = frankfurt, paris'",
                           v);
        char *name = gd_strndup(b, (size_t)(e - b));
        if (!section_name_ok(name)) {
            int rc = cfg_err(err, st, line, "copy-regions: '%.64s' is not a region name", name);
            free(name);
            return rc;
        }
        for (size_t i = 0; i < ic->n_copy_regions; i++) {
            if (strcmp(ic->copy_regions[i], name) == 0) {
                int rc =
                    cfg_err(err, st, line, "copy-regions lists '%s' twice: list it once", name);
                free(name);
                return rc;
            }
        }
        ic->copy_regions =
            gd_realloc(ic->copy_regions, (ic->n_copy_regions + 1) * sizeof ic->copy_regions[0]);
        ic->copy_regions[ic->n_copy_regions++] = name;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

static bool env_name_ok(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    }
    return true;
}

static int parse_env_name(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                          gd_err *err)
{
    if (!env_name_ok(v))
        return cfg_err(err, st, line,
                       "%s = %.64s: must be the name of an environment variable (letters, "
                       "digits, '_'), not the password itself",
                       d->key, v);
    return parse_string(st, sec, d, v, line, err);
}

/* ssl-mode (how it goes with ssl-ca, -cert, -key is checked when the section
 * ends). */
static int parse_ssl_mode(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                          gd_err *err)
{
    if (!gd_tls_mode_parse(v, FIELD(sec, d, gd_tls_mode)))
        return cfg_err(err, st, line,
                       "ssl-mode = %.64s: must be disabled, preferred, required, verify-ca or "
                       "verify-identity (docs/tls.md)",
                       v);
    return 0;
}

static int parse_window(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                        gd_err *err)
{
    gd_instance_cfg *ic = sec;
    gd_err e;
    gd_err_clear(&e);
    if (gd_backup_window_parse(v, &ic->backup_window, &e) != 0)
        return cfg_err(err, st, line, "%s = %.64s: %s", d->key, v, e.msg);
    ic->backup_window_set = true;
    return 0;
}

/* drill = off | daily | weekly | <N>h | <N>d: how often the server runs a
 * restore drill (docs/drills.md); 0 seconds: off. */
static int parse_drill(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                       gd_err *err)
{
    long long every = -1, n;
    size_t len = strlen(v);
    if (strcmp(v, "off") == 0)
        every = 0;
    else if (strcmp(v, "daily") == 0)
        every = 86400;
    else if (strcmp(v, "weekly") == 0)
        every = 7 * 86400;
    else if (len >= 2 && (v[len - 1] == 'h' || v[len - 1] == 'd')) {
        char num[24];
        if (len - 1 < sizeof num) {
            memcpy(num, v, len - 1);
            num[len - 1] = '\0';
            long long unit = v[len - 1] == 'h' ? 3600 : 86400;
            if (parse_ll(num, 1, 366 * 86400 / unit, &n))
                every = n * unit;
        }
    }
    if (every < 0)
        return cfg_err(err, st, line,
                       "%s = %.64s: must be off, daily, weekly, or an interval like 12h or 3d "
                       "(1h to 366d)",
                       d->key, v);
    *FIELD(sec, d, long long) = every;
    return 0;
}

static int parse_listen(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                        gd_err *err)
{
    const char *colon = strrchr(v, ':');
    long long port;
    if (colon == NULL || colon == v || !parse_ll(colon + 1, 0, 65535, &port) ||
        (v[0] == '[' && colon[-1] != ']'))
        return cfg_err(err, st, line,
                       "%s = %.64s: must be ADDRESS:PORT (e.g. 127.0.0.1:7480 or [::1]:7480)",
                       d->key, v);
    return parse_string(st, sec, d, v, line, err);
}

static int parse_copy_list(parse_state *st, void *sec, const key_def *d, const char *v, int line,
                           gd_err *err)
{
    (void)d;
    return parse_copy_regions(st, sec, v, line, err);
}

#define RF(f) offsetof(gd_region_cfg, f), sizeof(((gd_region_cfg *)0)->f)
#define IF(f) offsetof(gd_instance_cfg, f), sizeof(((gd_instance_cfg *)0)->f)

static const key_def region_keys[] = {
    {"type", parse_region_type, RF(type)},
    {"path", parse_abs_path, RF(path)},
    {"endpoint", parse_endpoint, RF(endpoint), .s3_only = true},
    {"bucket", parse_bucket, RF(bucket), .s3_only = true},
    {"prefix", parse_prefix, RF(prefix), .empty_ok = true, .s3_only = true},
    {"region", parse_string, RF(region), .s3_only = true},
    {"credentials-file", parse_string, RF(credentials_file), .s3_only = true},
    {"profile", parse_string, RF(profile), .s3_only = true},
    {"ca-file", parse_string, RF(ca_file), .s3_only = true},
};

static const key_def instance_keys[] = {
    {"host", parse_string, IF(host), .dflt = "127.0.0.1"},
    {"port", parse_whole, IF(port), 1, 65535, .dflt = "3306"},
    {"socket", parse_string, IF(socket)},
    {"user", parse_string, IF(user)},
    {"password-file", parse_string, IF(password_file)},
    {"password-env", parse_env_name, IF(password_env)},
    {"key-file", parse_string, IF(key_file)},
    {"home-region", parse_string, IF(home_region)},
    {"retention-days", parse_whole, IF(retention_days), 1, 35, " for the home region",
     GD_STR(GD_DEFAULT_RETENTION_DAYS)},
    {"cross-region-backup", parse_onoff, IF(cross_region_backup)},
    {"copy-regions", parse_copy_list, IF(copy_regions)},
    {"copy-retention-days", parse_whole, IF(copy_retention_days), 7, 1825, " for copy regions",
     GD_STR(GD_DEFAULT_COPY_RETENTION_DAYS)},
    {"cross-region-log-backup", parse_onoff, IF(cross_region_log_backup)},
    {"jobs", parse_whole, IF(jobs), 1, GD_MAX_JOBS, "", GD_STR(GD_DEFAULT_JOBS)},
    {"compress-level", parse_whole, IF(compress_level), 1, 19, " (zstd level)",
     GD_STR(GD_DEFAULT_COMPRESS_LEVEL)},
    {"chunk-rows", parse_whole, IF(chunk_rows), 1000, 100000000, "", GD_STR(GD_DEFAULT_CHUNK_ROWS)},
    {"archive-server-id", parse_whole, IF(archive_server_id), 1, 4294967295LL,
     " (a server id no server in the replication topology uses)"},
    /* seconds: min is in tenths */
    {"archive-interval", parse_seconds, IF(archive_interval), 1, GD_MAX_ARCHIVE_INTERVAL_S,
     .dflt = GD_STR(GD_DEFAULT_ARCHIVE_INTERVAL_S)},
    {"copy-bandwidth", parse_bytes_rate, IF(copy_bandwidth)},
    {"ssl-mode", parse_ssl_mode, IF(ssl_mode), .dflt = "preferred"},
    {"ssl-ca", parse_abs_path, IF(ssl_ca)},
    {"ssl-cert", parse_abs_path, IF(ssl_cert)},
    {"ssl-key", parse_abs_path, IF(ssl_key)},
    {"backup-window", parse_window, 0, 0},
    {"drill", parse_drill, IF(drill_every_s), .dflt = "off"},
};

#define SF(f) offsetof(gd_server_cfg, f), sizeof(((gd_server_cfg *)0)->f)

static const key_def server_keys[] = {
    {"listen", parse_listen, SF(listen), .dflt = GD_DEFAULT_LISTEN},
    {"token-file", parse_abs_path, SF(token_file)},
    {"state-dir", parse_abs_path, SF(state_dir), .dflt = GD_DEFAULT_STATE_DIR},
    {"tls-cert-file", parse_abs_path, SF(tls_cert_file)},
    {"tls-key-file", parse_abs_path, SF(tls_key_file)},
    {"backup-retry-interval", parse_whole, SF(backup_retry_s), 1, 86400,
     " (seconds between tries after a failed backup)", GD_STR(GD_DEFAULT_BACKUP_RETRY_S)},
    {"max-jobs", parse_whole, SF(max_jobs), 1, 256, " (jobs the server runs at once)",
     GD_STR(GD_DEFAULT_SERVER_JOBS)},
};

_Static_assert(N_ELEMS(instance_keys) <= MAX_SECTION_KEYS, "section_meta holds every key");
_Static_assert(N_ELEMS(region_keys) <= MAX_SECTION_KEYS, "section_meta holds every key");
_Static_assert(N_ELEMS(server_keys) <= MAX_SECTION_KEYS, "section_meta holds every key");

/* One key of the section being read: known, not set twice, read by its
 * row's parser. */
static int section_key(parse_state *st, const char *key, const char *v, int line, gd_err *err)
{
    const key_def *keys;
    size_t n;
    const char *kind, *name;
    void *sec;
    section_meta *m;
    if (st->kind == SEC_REGION) {
        keys = region_keys, n = N_ELEMS(region_keys), kind = "region";
        sec = &st->c->regions[st->idx], name = st->c->regions[st->idx].name;
        m = &st->rmeta[st->idx];
    } else if (st->kind == SEC_INSTANCE) {
        keys = instance_keys, n = N_ELEMS(instance_keys), kind = "instance";
        sec = &st->c->instances[st->idx], name = st->c->instances[st->idx].name;
        m = &st->imeta[st->idx];
    } else {
        keys = server_keys, n = N_ELEMS(server_keys), kind = "server", name = "";
        sec = &st->c->server, m = &st->smeta;
    }
    const key_def *d = find_key(key, keys, n);
    if (d == NULL)
        return unknown_key(err, st, line, key, keys, n, kind, name);
    int rc = record_key(err, st, m, d->key, line, kind, name);
    if (rc != 0)
        return rc;
    if (v[0] == '\0' && !d->empty_ok)
        return cfg_err(err, st, line, "%s has no value: write '%s = VALUE' or remove the line",
                       d->key, d->key);
    return d->parse(st, sec, d, v, line, err);
}

/* The defaults of a new section, parsed from the table. */
static void section_defaults(parse_state *st, void *sec, const key_def *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].dflt && keys[i].parse(st, sec, &keys[i], keys[i].dflt, 0, NULL) != 0)
            abort(); /* a default that does not parse is a bug in this table */
}

/* Checks that need the whole section. */
static int end_section(parse_state *st, gd_err *err)
{
    if (st->kind == SEC_REGION) {
        gd_region_cfg *r = &st->c->regions[st->idx];
        section_meta *m = &st->rmeta[st->idx];
        if (r->type == 0)
            return cfg_err(err, st, r->line,
                           "[region %s] has no type: add 'type = posix' or 'type = s3'", r->name);
        if (r->type == GD_REGION_POSIX) {
            for (size_t i = 0; i < N_ELEMS(region_keys); i++) {
                int l = region_keys[i].s3_only ? key_line_of(m, region_keys[i].key) : 0;
                if (l != 0)
                    return cfg_err(err, st, l,
                                   "%s is an s3 setting but [region %s] has type = posix: remove "
                                   "it or set type = s3",
                                   region_keys[i].key, r->name);
            }
            if (r->path == NULL)
                return cfg_err(err, st, r->line,
                               "[region %s] has type = posix but no path: add 'path = "
                               "/absolute/directory'",
                               r->name);
        } else {
            int l = key_line_of(m, "path");
            if (l != 0)
                return cfg_err(err, st, l,
                               "path is a posix setting but [region %s] has type = s3: use "
                               "bucket and prefix",
                               r->name);
            if (r->endpoint == NULL)
                return cfg_err(err, st, r->line,
                               "[region %s] has type = s3 but no endpoint: add 'endpoint = "
                               "https://HOST'",
                               r->name);
            if (r->bucket == NULL)
                return cfg_err(err, st, r->line,
                               "[region %s] has type = s3 but no bucket: add 'bucket = NAME'",
                               r->name);
            if (r->profile == NULL)
                r->profile = gd_strdup("default");
        }
    } else if (st->kind == SEC_SERVER) {
        const gd_server_cfg *sc = &st->c->server;
        if (!!sc->tls_cert_file != !!sc->tls_key_file)
            return cfg_err(err, st, sc->line,
                           "[server] has %s but not %s: give both for TLS, or neither",
                           sc->tls_cert_file ? "tls-cert-file" : "tls-key-file",
                           sc->tls_cert_file ? "tls-key-file" : "tls-cert-file");
    } else if (st->kind == SEC_INSTANCE) {
        gd_instance_cfg *ic = &st->c->instances[st->idx];
        section_meta *m = &st->imeta[st->idx];
        if (ic->user == NULL)
            return cfg_err(err, st, ic->line,
                           "[instance %s] has no user: add 'user = NAME' (the MariaDB account "
                           "geodr connects as)",
                           ic->name);
        if (ic->home_region == NULL)
            return cfg_err(err, st, ic->line,
                           "[instance %s] has no home-region: add 'home-region = NAME' naming a "
                           "[region NAME] section",
                           ic->name);
        if (ic->password_file != NULL && ic->password_env != NULL) {
            int lf = key_line_of(m, "password-file"), le = key_line_of(m, "password-env");
            return cfg_err(err, st, lf > le ? lf : le,
                           "password-file (line %d) and password-env (line %d) are both set in "
                           "[instance %s]: keep only one",
                           lf, le, ic->name);
        }
        gd_tls_opts tls = gd_instance_tls(ic);
        char msg[600];
        if (!gd_tls_check(&tls, msg, sizeof msg)) {
            int l = key_line_of(m, "ssl-mode");
            return cfg_err(err, st, l ? l : ic->line, "[instance %s]: %s", ic->name, msg);
        }
        if (ic->cross_region_backup && ic->n_copy_regions == 0)
            return cfg_err(err, st, key_line_of(m, "cross-region-backup"),
                           "cross-region-backup = on but [instance %s] has no copy-regions: add "
                           "'copy-regions = REGION' or turn it off",
                           ic->name);
        if (ic->cross_region_log_backup && ic->n_copy_regions == 0)
            return cfg_err(err, st, key_line_of(m, "cross-region-log-backup"),
                           "cross-region-log-backup = on but [instance %s] has no copy-regions: "
                           "add 'copy-regions = REGION' or turn it off",
                           ic->name);
    }
    st->kind = SEC_NONE;
    return 0;
}

static void region_names(const gd_config *c, gd_buf *b)
{
    for (size_t i = 0; i < c->n_regions; i++)
        gd_buf_appendf(b, "%s%s", i ? ", " : "", c->regions[i].name);
    if (c->n_regions == 0)
        gd_buf_appendf(b, "none");
}

static bool has_region(const gd_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_regions; i++) {
        if (strcmp(c->regions[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Checks that need the whole file. */
static int check_references(parse_state *st, gd_err *err)
{
    gd_config *c = st->c;
    int rc = 0;
    gd_buf names;
    gd_buf_init(&names, 0);
    region_names(c, &names);
    for (size_t i = 0; i < c->n_instances && rc == 0; i++) {
        gd_instance_cfg *ic = &c->instances[i];
        section_meta *m = &st->imeta[i];
        if (!has_region(c, ic->home_region)) {
            rc = cfg_err(err, st, key_line_of(m, "home-region"),
                         "home-region = %.64s: there is no [region %.64s] in this file "
                         "(configured: %s)",
                         ic->home_region, ic->home_region, names.data);
            break;
        }
        for (size_t j = 0; j < ic->n_copy_regions; j++) {
            const char *cr = ic->copy_regions[j];
            int l = key_line_of(m, "copy-regions");
            if (strcmp(cr, ic->home_region) == 0) {
                rc = cfg_err(err, st, l,
                             "copy region %s is the home region of instance %s: choose another "
                             "region",
                             cr, ic->name);
                break;
            }
            if (!has_region(c, cr)) {
                rc = cfg_err(err, st, l,
                             "copy-regions: there is no [region %s] in this file (configured: %s)",
                             cr, names.data);
                break;
            }
        }
    }
    gd_buf_free(&names);
    return rc;
}

static int begin_section(parse_state *st, const char *section, int line, gd_err *err)
{
    gd_config *c = st->c;
    const char *sp = strchr(section, ' ');
    size_t kl = sp ? (size_t)(sp - section) : strlen(section);
    int kind = SEC_NONE;
    if (strncmp(section, "server ", 7) == 0)
        return cfg_err(err, st, line, "[%.64s]: [server] has no name: write [server]", section);
    if (strcmp(section, "server") == 0) {
        if (c->server.present)
            return cfg_err(err, st, line,
                           "duplicate section [server] (first on line %d): merge them into one",
                           c->server.line);
        c->server.present = true;
        c->server.line = line;
        st->kind = SEC_SERVER;
        return 0;
    }
    if (kl == 6 && strncmp(section, "region", 6) == 0)
        kind = SEC_REGION;
    else if (kl == 8 && strncmp(section, "instance", 8) == 0)
        kind = SEC_INSTANCE;
    if (kind == SEC_NONE)
        return cfg_err(err, st, line,
                       "unknown section [%.64s]: expected [region NAME], [instance NAME] or "
                       "[server]",
                       section);
    const char *kname = kind == SEC_REGION ? "region" : "instance";
    if (sp == NULL)
        return cfg_err(err, st, line, "[%s] needs a name: write [%s NAME]", kname, kname);

    const char *name = sp + 1;
    if (strchr(name, ' ') != NULL || !section_name_ok(name))
        return cfg_err(err, st, line,
                       "[%.64s]: a %s name is one word of letters, digits, '-', '_' and '.' "
                       "(at most 64)",
                       section, kname);

    if (kind == SEC_REGION) {
        for (size_t i = 0; i < c->n_regions; i++) {
            if (strcmp(c->regions[i].name, name) == 0)
                return cfg_err(err, st, line,
                               "duplicate section [region %s] (first on line %d): merge them "
                               "into one",
                               name, c->regions[i].line);
        }
        c->regions = gd_realloc(c->regions, (c->n_regions + 1) * sizeof c->regions[0]);
        st->rmeta = gd_realloc(st->rmeta, (c->n_regions + 1) * sizeof st->rmeta[0]);
        gd_region_cfg *r = &c->regions[c->n_regions];
        memset(r, 0, sizeof *r);
        memset(&st->rmeta[c->n_regions], 0, sizeof st->rmeta[0]);
        r->name = gd_strdup(name);
        r->line = line;
        st->idx = c->n_regions++;
    } else {
        for (size_t i = 0; i < c->n_instances; i++) {
            if (strcmp(c->instances[i].name, name) == 0)
                return cfg_err(err, st, line,
                               "duplicate section [instance %s] (first on line %d): merge them "
                               "into one",
                               name, c->instances[i].line);
        }
        c->instances = gd_realloc(c->instances, (c->n_instances + 1) * sizeof c->instances[0]);
        st->imeta = gd_realloc(st->imeta, (c->n_instances + 1) * sizeof st->imeta[0]);
        gd_instance_cfg *ic = &c->instances[c->n_instances];
        memset(ic, 0, sizeof *ic);
        memset(&st->imeta[c->n_instances], 0, sizeof st->imeta[0]);
        ic->name = gd_strdup(name);
        ic->line = line;
        section_defaults(st, ic, instance_keys, N_ELEMS(instance_keys));
        st->idx = c->n_instances++;
    }
    st->kind = kind;
    return 0;
}

static int on_ini(void *ctx, const char *section, const char *key, const char *value, int line,
                  gd_err *err)
{
    parse_state *st = ctx;
    if (key == NULL) {
        int rc = end_section(st, err);
        if (rc != 0)
            return rc;
        return begin_section(st, section, line, err);
    }
    if (st->kind != SEC_NONE)
        return section_key(st, key, value, line, err);
    return cfg_err(err, st, line,
                   "'%.64s' is outside any section: put it under [region NAME] or "
                   "[instance NAME]",
                   key);
}

const char *gd_config_path(const char *explicit_path)
{
    if (explicit_path != NULL)
        return explicit_path;
    const char *env = getenv("GEODR_CONFIG");
    if (env != NULL && env[0] != '\0')
        return env;
    return GD_DEFAULT_CONFIG;
}

int gd_config_load(const char *path, gd_config **out, gd_err *err)
{
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    gd_config *c = NULL;
    parse_state st = {0};
    *out = NULL;

    gd_err rerr;
    gd_err_clear(&rerr);
    rc = gd_read_small_file(path, CONFIG_MAX_BYTES, &text, &len, &rerr);
    if (rc != 0) {
        if (rerr.code == GD_E_IO && rerr.sys_errno == ENOENT)
            rc = gd_err_set(err, GD_E_CONFIG,
                            "cannot read config %s: %s (pass --config FILE or set GEODR_CONFIG)",
                            path, strerror(ENOENT));
        else if (rerr.code == GD_E_IO)
            rc = gd_err_set(err, GD_E_CONFIG, "cannot read config %s: %s", path,
                            strerror(rerr.sys_errno));
        else
            rc = gd_err_set(err, GD_E_CONFIG,
                            "config %s is larger than 1 MiB: is it the right file?", path);
        goto out;
    }
    if (strlen(text) != len) {
        int line = 1;
        for (const char *p = text; *p; p++)
            line += *p == '\n';
        rc = gd_err_set(err, GD_E_CONFIG, "%s:%d: contains a NUL byte: the config must be text",
                        path, line);
        goto out;
    }

    c = gd_calloc(1, sizeof *c);
    c->path = gd_strdup(path);
    st.c = c;
    st.path = path;
    section_defaults(&st, &c->server, server_keys, N_ELEMS(server_keys));
    rc = gd_ini_parse_named(text, path, on_ini, &st, err);
    if (rc == 0)
        rc = end_section(&st, err);
    if (rc == 0)
        rc = check_references(&st, err);

out:
    free(text);
    free(st.rmeta);
    free(st.imeta);
    if (rc != 0) {
        gd_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void gd_config_free(gd_config *c)
{
    if (c == NULL)
        return;
    free(c->server.listen);
    free(c->server.token_file);
    free(c->server.state_dir);
    free(c->server.tls_cert_file);
    free(c->server.tls_key_file);
    for (size_t i = 0; i < c->n_regions; i++) {
        gd_region_cfg *r = &c->regions[i];
        free(r->name);
        free(r->path);
        free(r->endpoint);
        free(r->bucket);
        free(r->prefix);
        free(r->region);
        free(r->credentials_file);
        free(r->profile);
        free(r->ca_file);
    }
    for (size_t i = 0; i < c->n_instances; i++) {
        gd_instance_cfg *ic = &c->instances[i];
        free(ic->name);
        free(ic->host);
        free(ic->socket);
        free(ic->user);
        free(ic->password_file);
        free(ic->password_env);
        free(ic->key_file);
        free(ic->ssl_ca);
        free(ic->ssl_cert);
        free(ic->ssl_key);
        free(ic->home_region);
        for (size_t j = 0; j < ic->n_copy_regions; j++)
            free(ic->copy_regions[j]);
        free(ic->copy_regions);
    }
    free(c->regions);
    free(c->instances);
    free(c->path);
    free(c);
}

const gd_instance_cfg *gd_config_instance(const gd_config *c, const char *name, gd_err *err)
{
    for (size_t i = 0; i < c->n_instances; i++) {
        if (strcmp(c->instances[i].name, name) == 0)
            return &c->instances[i];
    }
    gd_buf b;
    gd_buf_init(&b, 0);
    for (size_t i = 0; i < c->n_instances; i++)
        gd_buf_appendf(&b, "%s%s", i ? ", " : "", c->instances[i].name);
    if (c->n_instances == 0)
        gd_buf_appendf(&b, "none");
    gd_err_set(err, GD_E_NOTFOUND, "unknown instance '%.64s' (configured: %s) in %s", name, b.data,
               c->path);
    gd_buf_free(&b);
    return NULL;
}

const gd_region_cfg *gd_config_region(const gd_config *c, const char *name, gd_err *err)
{
    for (size_t i = 0; i < c->n_regions; i++) {
        if (strcmp(c->regions[i].name, name) == 0)
            return &c->regions[i];
    }
    gd_buf b;
    gd_buf_init(&b, 0);
    region_names(c, &b);
    gd_err_set(err, GD_E_NOTFOUND, "unknown region '%.64s' (configured: %s) in %s", name, b.data,
               c->path);
    gd_buf_free(&b);
    return NULL;
}

gd_tls_opts gd_instance_tls(const gd_instance_cfg *ic)
{
    return (gd_tls_opts){
        .mode = ic->ssl_mode, .ca = ic->ssl_ca, .cert = ic->ssl_cert, .key = ic->ssl_key};
}

int gd_instance_password(const gd_instance_cfg *ic, char **out, gd_err *err)
{
    *out = NULL;
    if (ic->password_file != NULL) {
        bool clean = err == NULL || err->code == GD_OK;
        int rc = gd_read_secret_file(ic->password_file, out, err);
        if (rc != 0 && clean)
            gd_err_prefix(err, "instance %s: password-file", ic->name);
        return rc;
    }
    if (ic->password_env != NULL) {
        const char *v = getenv(ic->password_env);
        if (v == NULL)
            return gd_err_set(err, GD_E_CONFIG,
                              "instance %s: password-env = %s, but the environment variable %s "
                              "is not set: export it before running geodr",
                              ic->name, ic->password_env, ic->password_env);
        *out = gd_strdup(v);
        return 0;
    }
    *out = gd_strdup("");
    return 0;
}

/* ---- backup windows ---- */

/* "HH:MM" (or "HH:MMZ") at *p; advances *p. */
static bool parse_hhmm(const char **p, int *min)
{
    const char *s = *p;
    if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
        s[3] > '5' || s[4] < '0' || s[4] > '9')
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23)
        return false;
    s += 5;
    if (*s == 'Z')
        s++;
    *min = h * 60 + m;
    *p = s;
    return true;
}

int gd_backup_window_parse(const char *s, gd_backup_window *out, gd_err *err)
{
    const char *p = s;
    gd_backup_window w;
    if (!parse_hhmm(&p, &w.start_min) || *p++ != '-' || !parse_hhmm(&p, &w.end_min) || *p != '\0')
        return gd_err_set(err, GD_E_INVALID,
                          "backup window '%s' is not HH:MM-HH:MM (UTC, e.g. 02:00-03:00)", s);
    if (w.start_min == w.end_min)
        return gd_err_set(err, GD_E_INVALID,
                          "backup window '%s' is empty: give a start and a later end "
                          "(e.g. 02:00-03:00)",
                          s);
    *out = w;
    return 0;
}

void gd_backup_window_format(const gd_backup_window *w, char *out, size_t size)
{
    snprintf(out, size, "%02d:%02d-%02d:%02d", w->start_min / 60, w->start_min % 60,
             w->end_min / 60, w->end_min % 60);
}
