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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define CONFIG_MAX_BYTES ((size_t)1 << 20)

static const char *const region_keys[] = {
    "type",    "path",    "endpoint", "bucket", "prefix", "region", "credentials-file",
    "profile", "ca-file",
};
static const char *const s3_only_keys[] = {
    "endpoint", "bucket", "prefix", "region", "credentials-file", "profile", "ca-file",
};
static const char *const instance_keys[] = {
    "host",
    "port",
    "socket",
    "user",
    "password-file",
    "password-env",
    "key-file",
    "home-region",
    "retention-days",
    "cross-region-backup",
    "copy-regions",
    "copy-retention-days",
    "cross-region-log-backup",
    "jobs",
    "compress-level",
    "chunk-rows",
    "archive-server-id",
    "archive-interval",
    "copy-bandwidth",
    "ssl-mode",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
};
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum { SEC_NONE, SEC_REGION, SEC_INSTANCE };

/* Where each key of a section was set (for duplicates and late messages). */
typedef struct key_line {
    const char *key; /* points into region_keys / instance_keys */
    int line;
} key_line;

typedef struct section_meta {
    key_line keys[N_ELEMS(instance_keys)];
    size_t n;
} section_meta;

typedef struct parse_state {
    gd_config *c;
    const char *path;
    int kind;
    size_t idx;
    section_meta *rmeta; /* parallel to c->regions */
    section_meta *imeta; /* parallel to c->instances */
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
                       const char *const *keys, size_t n, const char *sec_kind,
                       const char *sec_name)
{
    gd_buf list;
    gd_buf_init(&list, 0);
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        gd_buf_appendf(&list, "%s%s", i ? ", " : "", keys[i]);
        size_t d = edit_distance(key, keys[i]);
        if (d < best_d) {
            best_d = d;
            best = keys[i];
        }
    }
    char hint[128] = "";
    if (best != NULL)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    int rc = cfg_err(err, st, line, "unknown key '%.64s' in [%s %s]%s; valid keys are: %s", key,
                     sec_kind, sec_name, hint, list.data);
    gd_buf_free(&list);
    return rc;
}

/* Returns the canonical key string (from the table) or NULL. */
static const char *find_key(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, keys[i]) == 0)
            return keys[i];
    }
    return NULL;
}

static int record_key(gd_err *err, const parse_state *st, section_meta *m, const char *key,
                      int line, const char *sec_kind, const char *sec_name)
{
    int first = key_line_of(m, key);
    if (first != 0)
        return cfg_err(err, st, line,
                       "duplicate key '%s' in [%s %s] (first set on line %d): keep only one", key,
                       sec_kind, sec_name, first);
    m->keys[m->n].key = key;
    m->keys[m->n].line = line;
    m->n++;
    return 0;
}

static int region_key(parse_state *st, const char *key, const char *v, int line, gd_err *err)
{
    gd_region_cfg *r = &st->c->regions[st->idx];
    const char *k = find_key(key, region_keys, N_ELEMS(region_keys));
    if (k == NULL)
        return unknown_key(err, st, line, key, region_keys, N_ELEMS(region_keys), "region",
                           r->name);
    int rc = record_key(err, st, &st->rmeta[st->idx], k, line, "region", r->name);
    if (rc != 0)
        return rc;
    if (v[0] == '\0' && strcmp(k, "prefix") != 0)
        return cfg_err(err, st, line, "%s has no value: write '%s = VALUE' or remove the line", k,
                       k);

    if (strcmp(k, "type") == 0) {
        if (strcmp(v, "posix") == 0)
            r->type = GD_REGION_POSIX;
        else if (strcmp(v, "s3") == 0)
            r->type = GD_REGION_S3;
        else
            return cfg_err(err, st, line, "type = %.64s: must be posix or s3", v);
    } else if (strcmp(k, "path") == 0) {
        if (v[0] != '/')
            return cfg_err(err, st, line,
                           "path = %.200s: must be an absolute path (starting with '/')", v);
        r->path = gd_strdup(v);
    } else if (strcmp(k, "endpoint") == 0) {
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return cfg_err(err, st, line,
                           "endpoint = %.200s: must be a URL starting with https:// (or http://)",
                           v);
        r->endpoint = gd_strdup(v);
    } else if (strcmp(k, "bucket") == 0) {
        if (strchr(v, '/') != NULL)
            return cfg_err(err, st, line,
                           "bucket = %.200s: a bucket name has no '/': put the path in 'prefix'",
                           v);
        r->bucket = gd_strdup(v);
    } else if (strcmp(k, "prefix") == 0) {
        if (v[0] == '/')
            return cfg_err(err, st, line,
                           "prefix = %.200s: must not start with '/' (write e.g. 'geodr/')", v);
        r->prefix = gd_strdup(v);
    } else if (strcmp(k, "region") == 0) {
        r->region = gd_strdup(v);
    } else if (strcmp(k, "credentials-file") == 0) {
        r->credentials_file = gd_strdup(v);
    } else if (strcmp(k, "profile") == 0) {
        free(r->profile);
        r->profile = gd_strdup(v);
    } else if (strcmp(k, "ca-file") == 0) {
        r->ca_file = gd_strdup(v);
    }
    return 0;
}

static int int_key(const parse_state *st, int line, const char *k, const char *v, long long min,
                   long long max, const char *what, long long *out, gd_err *err)
{
    if (!parse_ll(v, min, max, out))
        return cfg_err(err, st, line, "%s = %.64s: must be a whole number %lld-%lld%s", k, v, min,
                       max, what);
    return 0;
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

/* ssl-mode, ssl-ca, ssl-cert, ssl-key (how they go together is checked when
 * the section ends). */
static int ssl_key(parse_state *st, gd_instance_cfg *ic, const char *k, const char *v, int line,
                   gd_err *err)
{
    if (strcmp(k, "ssl-mode") == 0) {
        if (!gd_tls_mode_parse(v, &ic->ssl_mode))
            return cfg_err(err, st, line,
                           "ssl-mode = %.64s: must be disabled, preferred, required, verify-ca or "
                           "verify-identity (docs/tls.md)",
                           v);
        return 0;
    }
    if (v[0] != '/')
        return cfg_err(err, st, line, "%s = %.200s: must be an absolute path (starting with '/')",
                       k, v);
    char **f = strcmp(k, "ssl-ca") == 0     ? &ic->ssl_ca
               : strcmp(k, "ssl-cert") == 0 ? &ic->ssl_cert
                                            : &ic->ssl_key;
    *f = gd_strdup(v);
    return 0;
}

static int instance_key(parse_state *st, const char *key, const char *v, int line, gd_err *err)
{
    gd_instance_cfg *ic = &st->c->instances[st->idx];
    const char *k = find_key(key, instance_keys, N_ELEMS(instance_keys));
    if (k == NULL)
        return unknown_key(err, st, line, key, instance_keys, N_ELEMS(instance_keys), "instance",
                           ic->name);
    int rc = record_key(err, st, &st->imeta[st->idx], k, line, "instance", ic->name);
    if (rc != 0)
        return rc;
    if (v[0] == '\0')
        return cfg_err(err, st, line, "%s has no value: write '%s = VALUE' or remove the line", k,
                       k);

    long long x = 0;
    bool b = false;
    if (strcmp(k, "host") == 0) {
        free(ic->host);
        ic->host = gd_strdup(v);
    } else if (strcmp(k, "port") == 0) {
        if ((rc = int_key(st, line, k, v, 1, 65535, "", &x, err)) != 0)
            return rc;
        ic->port = (unsigned)x;
    } else if (strcmp(k, "socket") == 0) {
        ic->socket = gd_strdup(v);
    } else if (strcmp(k, "user") == 0) {
        ic->user = gd_strdup(v);
    } else if (strcmp(k, "password-file") == 0) {
        ic->password_file = gd_strdup(v);
    } else if (strcmp(k, "password-env") == 0) {
        if (!env_name_ok(v))
            return cfg_err(err, st, line,
                           "password-env = %.64s: must be the name of an environment variable "
                           "(letters, digits, '_'), not the password itself",
                           v);
        ic->password_env = gd_strdup(v);
    } else if (strcmp(k, "key-file") == 0) {
        ic->key_file = gd_strdup(v);
    } else if (strncmp(k, "ssl-", 4) == 0) {
        return ssl_key(st, ic, k, v, line, err);
    } else if (strcmp(k, "home-region") == 0) {
        ic->home_region = gd_strdup(v);
    } else if (strcmp(k, "retention-days") == 0) {
        if ((rc = int_key(st, line, k, v, 1, 35, " for the home region", &x, err)) != 0)
            return rc;
        ic->retention_days = (int)x;
    } else if (strcmp(k, "copy-retention-days") == 0) {
        if ((rc = int_key(st, line, k, v, 7, 1825, " for copy regions", &x, err)) != 0)
            return rc;
        ic->copy_retention_days = (int)x;
    } else if (strcmp(k, "jobs") == 0) {
        if ((rc = int_key(st, line, k, v, 1, 64, "", &x, err)) != 0)
            return rc;
        ic->jobs = (int)x;
    } else if (strcmp(k, "compress-level") == 0) {
        if ((rc = int_key(st, line, k, v, 1, 19, " (zstd level)", &x, err)) != 0)
            return rc;
        ic->compress_level = (int)x;
    } else if (strcmp(k, "archive-server-id") == 0) {
        if ((rc = int_key(st, line, k, v, 1, 4294967295LL,
                          " (a server id no server in the replication topology uses)", &x, err)) !=
            0)
            return rc;
        ic->archive_server_id = (unsigned)x;
    } else if (strcmp(k, "archive-interval") == 0) {
        char *end = NULL;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || !(d >= 0.1 && d <= 300))
            return cfg_err(err, st, line,
                           "%s = %.64s: must be a number of seconds from 0.1 to 300 (for "
                           "example 1 or 0.5)",
                           k, v);
        ic->archive_interval = d;
    } else if (strcmp(k, "copy-bandwidth") == 0) {
        char *end = NULL;
        double d = strtod(v, &end);
        double mult = 1;
        if (end && (*end == 'K' || *end == 'k'))
            mult = 1024, end++;
        else if (end && (*end == 'M' || *end == 'm'))
            mult = 1024.0 * 1024, end++;
        else if (end && (*end == 'G' || *end == 'g'))
            mult = 1024.0 * 1024 * 1024, end++;
        if (end == v || *end != '\0' || !(d >= 0) || d * mult > 1e15)
            return cfg_err(err, st, line,
                           "%s = %.64s: must be bytes per second, optionally with K, M or G "
                           "(for example 50M); 0 means no limit",
                           k, v);
        ic->copy_bandwidth = (unsigned long long)(d * mult);
    } else if (strcmp(k, "chunk-rows") == 0) {
        if ((rc = int_key(st, line, k, v, 1000, 100000000, "", &x, err)) != 0)
            return rc;
        ic->chunk_rows = x;
    } else if (strcmp(k, "cross-region-backup") == 0 || strcmp(k, "cross-region-log-backup") == 0) {
        if (!parse_bool(v, &b))
            return cfg_err(err, st, line,
                           "%s = %.64s: must be on or off (also accepted: yes/no, true/false, "
                           "1/0)",
                           k, v);
        if (strcmp(k, "cross-region-backup") == 0)
            ic->cross_region_backup = b;
        else
            ic->cross_region_log_backup = b;
    } else if (strcmp(k, "copy-regions") == 0) {
        return parse_copy_regions(st, ic, v, line, err);
    }
    return 0;
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
            for (size_t i = 0; i < N_ELEMS(s3_only_keys); i++) {
                int l = key_line_of(m, s3_only_keys[i]);
                if (l != 0)
                    return cfg_err(err, st, l,
                                   "%s is an s3 setting but [region %s] has type = posix: remove "
                                   "it or set type = s3",
                                   s3_only_keys[i], r->name);
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
    if (kl == 6 && strncmp(section, "region", 6) == 0)
        kind = SEC_REGION;
    else if (kl == 8 && strncmp(section, "instance", 8) == 0)
        kind = SEC_INSTANCE;
    if (kind == SEC_NONE)
        return cfg_err(err, st, line,
                       "unknown section [%.64s]: expected [region NAME] or [instance NAME]",
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
        ic->host = gd_strdup("127.0.0.1");
        ic->port = 3306;
        ic->retention_days = 7;
        ic->copy_retention_days = 7;
        ic->jobs = 4;
        ic->compress_level = 1;
        ic->chunk_rows = 500000;
        ic->archive_interval = 1.0;
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
    if (st->kind == SEC_REGION)
        return region_key(st, key, value, line, err);
    if (st->kind == SEC_INSTANCE)
        return instance_key(st, key, value, line, err);
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
