/* Manifests (repo/manifest.h): decoded and validated once, encoded from the
 * struct, read and written as checked records (record.c). */
#include "repo/repo_intern.h"
#include "repo/manifest.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "repo/repo.h"

/* ---- decoding ---- */

/* What decoding is looking at, for the message of its first failure. */
typedef struct dec {
    char where[160]; /* "table `d`.`t`: " or "" */
    char why[512];
} dec;

static int bad(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(dec *d, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(d->why, sizeof d->why, "%s%s", d->where, msg);
    return -1;
}

/* A string member; absent: dflt when not required. */
static int str_field(dec *d, json_t *o, const char *key, const char *dflt, char **out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL && dflt != NULL) {
        *out = gd_strdup(dflt);
        return 0;
    }
    if (v == NULL)
        return bad(d, "\"%s\" is missing", key);
    if (!json_is_string(v))
        return bad(d, "\"%s\" is not a string", key);
    *out = gd_strdup(json_string_value(v));
    return 0;
}

/* A non-negative integer member; absent: 0 when not required. */
static int count_field(dec *d, json_t *o, const char *key, bool required, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL && !required)
        return 0;
    if (v == NULL)
        return bad(d, "\"%s\" is missing", key);
    if (!json_is_integer(v))
        return bad(d, "\"%s\" is not an integer", key);
    if (json_integer_value(v) < 0)
        return bad(d, "\"%s\" is negative (%lld)", key, (long long)json_integer_value(v));
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int time_field(dec *d, json_t *o, const char *key, bool required, int64_t *out)
{
    uint64_t v = 0;
    int rc = count_field(d, o, key, required, &v);
    *out = (int64_t)v; /* <= INT64_MAX: it came from a json_int_t */
    return rc;
}

static int bool_field(dec *d, json_t *o, const char *key, bool dflt, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (v != NULL && !json_is_boolean(v))
        return bad(d, "\"%s\" is not true or false", key);
    *out = v ? json_is_true(v) : dflt;
    return 0;
}

static int num_field(dec *d, json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (v != NULL && !json_is_number(v))
        return bad(d, "\"%s\" is not a number", key);
    *out = v ? json_number_value(v) : 0;
    return 0;
}

/* A name relative to the set's folder, of the forms a set has. */
static bool object_name_ok(const char *s)
{
    if (*s == '\0' || *s == '/' || strcmp(s, "manifest") == 0)
        return false;
    for (const char *p = s;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

static bool sha256_ok(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* An object entry: the schema object (chunk false) or a table's chunk;
 * what names it in messages. */
static int object_entry(dec *d, json_t *o, bool chunk, const char *what, gd_mf_object *out)
{
    char where[sizeof d->where];
    memcpy(where, d->where, sizeof where);
    snprintf(d->where, sizeof d->where, "%s%s: ", where, what);
    char *sha = NULL;
    int rc =
        json_is_object(o) ? str_field(d, o, "object", NULL, &out->object) : bad(d, "not an object");
    if (rc == 0 && !object_name_ok(out->object))
        rc = bad(d, "object '%s' is not a name inside the set", out->object);
    if (rc == 0 && (rc = str_field(d, o, "sha256", NULL, &sha)) == 0 && !sha256_ok(sha))
        rc = bad(d, "sha256 '%s' is not 64 hex digits", sha);
    if (rc == 0)
        memcpy(out->sha256, sha, 65);
    free(sha);
    if (rc == 0)
        rc = count_field(d, o, "size", true, &out->size);
    if (rc == 0)
        rc = count_field(d, o, "raw_size", true, &out->raw_size);
    if (rc == 0 && chunk)
        rc = count_field(d, o, "rows", true, &out->rows);
    if (rc == 0 && chunk)
        rc = count_field(d, o, "enum_errors", false, &out->enum_errors);
    memcpy(d->where, where, sizeof where);
    return rc;
}

static int columns_entry(dec *d, json_t *jt, gd_mf_table *t)
{
    json_t *cols = json_object_get(jt, "columns"), *forms = json_object_get(jt, "forms");
    if (!json_is_array(cols))
        return bad(d, "\"columns\" is %s", cols ? "not a list" : "missing");
    if (json_array_size(cols) > GD_MANIFEST_MAX_COLUMNS)
        return bad(d, "%zu columns, more than a table has", json_array_size(cols));
    if (forms != NULL && !json_is_object(forms))
        return bad(d, "\"forms\" is not an object");
    t->columns = gd_calloc(json_array_size(cols) + 1, sizeof *t->columns);
    size_t k;
    json_t *c;
    json_array_foreach(cols, k, c)
    {
        if (!json_is_string(c))
            return bad(d, "column %zu of its list is not a name", k + 1);
        gd_mf_column *col = &t->columns[t->ncolumns++];
        col->name = gd_strdup(json_string_value(c));
        json_t *f = json_object_get(forms, col->name);
        if (f == NULL)
            continue;
        const char *fs = json_string_value(f);
        if (fs != NULL && strcmp(fs, "binary") == 0)
            col->form = GD_MF_FORM_BINARY;
        else if (fs != NULL && strcmp(fs, "index") == 0)
            col->form = GD_MF_FORM_INDEX;
        else
            return bad(d, "column %s is written in a form this geodr does not know", col->name);
    }
    return 0;
}

/* "digest": 16 lower-case hex digits (absent in sets before 0.3). */
static int digest_field(dec *d, json_t *jt, gd_mf_table *t)
{
    char *s = NULL;
    int rc = str_field(d, jt, "digest", "", &s);
    if (rc == 0 && *s != '\0') {
        if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
            rc = bad(d, "digest '%s' is not 16 lower-case hex digits", s);
        else {
            t->digest = strtoull(s, NULL, 16);
            t->has_digest = true;
        }
    }
    free(s);
    return rc;
}

static int table_entry(dec *d, json_t *jt, size_t i, gd_mf_table *t)
{
    t->consistent = true;
    if (!json_is_object(jt))
        return bad(d, "table %zu is not an object", i + 1);
    snprintf(d->where, sizeof d->where, "table %zu: ", i + 1);
    int rc = str_field(d, jt, "db", NULL, &t->db);
    if (rc == 0)
        rc = str_field(d, jt, "name", NULL, &t->name);
    if (rc != 0)
        return rc;
    char *qd = gd_ident(t->db), *qt = gd_ident(t->name);
    snprintf(d->where, sizeof d->where, "table %s.%s: ", qd, qt);
    free(qd);
    free(qt);
    if ((rc = str_field(d, jt, "engine", "", &t->engine)) != 0 ||
        (rc = columns_entry(d, jt, t)) != 0 ||
        (rc = count_field(d, jt, "rows", true, &t->rows)) != 0 ||
        (rc = bool_field(d, jt, "versioned", false, &t->versioned)) != 0 ||
        (rc = bool_field(d, jt, "consistent", true, &t->consistent)) != 0 ||
        (rc = digest_field(d, jt, t)) != 0)
        return rc;
    json_t *chunks = json_object_get(jt, "chunks");
    if (!json_is_array(chunks))
        return bad(d, "\"chunks\" is %s", chunks ? "not a list" : "missing");
    if (json_array_size(chunks) > GD_MANIFEST_MAX_CHUNKS)
        return bad(d, "%zu chunks, more than a backup writes", json_array_size(chunks));
    t->chunks = gd_calloc(json_array_size(chunks) + 1, sizeof *t->chunks);
    for (size_t k = 0; rc == 0 && k < json_array_size(chunks); k++) {
        char what[48];
        snprintf(what, sizeof what, "chunk %zu", k);
        rc = object_entry(d, json_array_get(chunks, k), true, what, &t->chunks[t->nchunks++]);
    }
    d->where[0] = '\0';
    return rc;
}

static int totals_entry(dec *d, json_t *j, gd_mf_totals *t)
{
    json_t *o = json_object_get(j, "totals");
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return bad(d, "\"totals\" is not an object");
    int rc = count_field(d, o, "rows", false, &t->rows);
    if (rc == 0)
        rc = count_field(d, o, "raw_bytes", false, &t->raw_bytes);
    if (rc == 0)
        rc = count_field(d, o, "stored_bytes", false, &t->stored_bytes);
    if (rc == 0)
        rc = count_field(d, o, "tables", false, &t->tables);
    if (rc == 0)
        rc = count_field(d, o, "objects", false, &t->objects);
    if (rc == 0)
        rc = num_field(d, o, "seconds", &t->seconds);
    return rc;
}

/* The members of the set itself (not its tables). */
static int header_entry(dec *d, json_t *j, gd_manifest *m)
{
    uint64_t binlog_pos = 0;
    int rc;
    if ((rc = str_field(d, j, "set", NULL, &m->set)) != 0 ||
        (rc = str_field(d, j, "instance", NULL, &m->instance)) != 0 ||
        (rc = str_field(d, j, "method", NULL, &m->method)) != 0 ||
        (rc = time_field(d, j, "start_us", true, &m->start_us)) != 0 ||
        (rc = time_field(d, j, "end_us", true, &m->end_us)) != 0 ||
        (rc = str_field(d, j, "gtid", "", &m->gtid)) != 0 ||
        (rc = str_field(d, j, "binlog_file", "", &m->binlog_file)) != 0 ||
        (rc = count_field(d, j, "binlog_pos", false, &binlog_pos)) != 0 ||
        (rc = str_field(d, j, "server_version", "", &m->server_version)) != 0 ||
        (rc = str_field(d, j, "cipher", "none", &m->cipher)) != 0 ||
        (rc = str_field(d, j, "compression", "", &m->compression)) != 0 ||
        (rc = num_field(d, j, "lock_seconds", &m->lock_seconds)) != 0 ||
        (rc = count_field(d, j, "nontransactional_tables", false, &m->nontransactional_tables)) !=
            0 ||
        (rc = bool_field(d, j, "nontransactional_locked", true, &m->nontransactional_locked)) !=
            0 ||
        (rc = bool_field(d, j, "on_demand", false, &m->on_demand)) != 0)
        return rc;
    m->binlog_pos = (int64_t)binlog_pos;
    m->legacy = json_object_get(j, "nontransactional_locked") == NULL;
    m->has_pos = m->gtid[0] != '\0' && gd_gtid_pos_parse(m->gtid, &m->pos, NULL) == 0;
    if (m->gtid[0] != '\0' && !m->has_pos)
        return bad(d, "\"gtid\" '%s' is not a GTID position", m->gtid);
    return totals_entry(d, j, &m->totals);
}

int gd_manifest_decode(json_t *j, const char *name, const char *region, gd_manifest **out,
                       gd_err *err)
{
    dec d = {.where = ""};
    gd_manifest *m = gd_calloc(1, sizeof *m);
    json_t *tables = json_object_get(j, "tables");
    int rc = json_is_object(j) ? header_entry(&d, j, m) : bad(&d, "not a JSON object");
    if (rc == 0)
        rc = object_entry(&d, json_object_get(j, "schema"), false, "the schema object", &m->schema);
    if (rc == 0 && !json_is_array(tables))
        rc = bad(&d, "\"tables\" is %s", tables ? "not a list" : "missing");
    if (rc == 0) {
        m->tables = gd_calloc(json_array_size(tables) + 1, sizeof *m->tables);
        for (size_t i = 0; rc == 0 && i < json_array_size(tables); i++)
            rc = table_entry(&d, json_array_get(tables, i), i, &m->tables[m->ntables++]);
    }
    if (rc != 0) {
        gd_manifest_free(m);
        return gd_err_set(err, GD_E_CORRUPT,
                          "manifest %s in region %s is corrupt: %s; restore from another set or "
                          "region",
                          name, region, d.why);
    }
    *out = m;
    return 0;
}

void gd_manifest_free(gd_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->ntables; i++) {
        gd_mf_table *t = &m->tables[i];
        for (size_t k = 0; k < t->ncolumns; k++)
            free(t->columns[k].name);
        for (size_t k = 0; k < t->nchunks; k++)
            free(t->chunks[k].object);
        free(t->columns);
        free(t->chunks);
        free(t->db);
        free(t->name);
        free(t->engine);
    }
    free(m->tables);
    free(m->schema.object);
    free(m->set);
    free(m->instance);
    free(m->method);
    free(m->gtid);
    free(m->binlog_file);
    free(m->server_version);
    free(m->cipher);
    free(m->compression);
    free(m);
}

/* ---- encoding ---- */

static json_t *object_json(const gd_mf_object *o, bool chunk)
{
    json_t *j =
        json_pack("{s:s, s:I, s:I, s:s}", "object", o->object, "raw_size", (json_int_t)o->raw_size,
                  "size", (json_int_t)o->size, "sha256", o->sha256);
    if (chunk)
        json_object_set_new(j, "rows", json_integer((json_int_t)o->rows));
    if (chunk && o->enum_errors)
        json_object_set_new(j, "enum_errors", json_integer((json_int_t)o->enum_errors));
    return j;
}

static json_t *table_json(const gd_mf_table *t)
{
    json_t *cols = json_array(), *chunks = json_array(), *forms = NULL;
    for (size_t k = 0; k < t->ncolumns; k++) {
        const gd_mf_column *c = &t->columns[k];
        json_array_append_new(cols, json_string(c->name));
        if (c->form == GD_MF_FORM_TEXT)
            continue;
        if (forms == NULL)
            forms = json_object();
        json_object_set_new(forms, c->name,
                            json_string(c->form == GD_MF_FORM_INDEX ? "index" : "binary"));
    }
    for (size_t k = 0; k < t->nchunks; k++)
        json_array_append_new(chunks, object_json(&t->chunks[k], true));
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}", "db", t->db, "name", t->name, "engine",
                  t->engine, "columns", cols, "rows", (json_int_t)t->rows, "chunks", chunks);
    if (t->versioned)
        json_object_set_new(j, "versioned", json_true());
    if (forms)
        json_object_set_new(j, "forms", forms);
    if (!t->consistent)
        json_object_set_new(j, "consistent", json_false());
    if (t->has_digest) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, t->digest);
        json_object_set_new(j, "digest", json_string(hex));
    }
    return j;
}

json_t *gd_manifest_encode(const gd_manifest *m)
{
    char t1[32], t2[32];
    gd_fmt_time(m->start_us, false, t1, sizeof t1);
    gd_fmt_time(m->end_us, false, t2, sizeof t2);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s, s:s, "
                          "s:s, s:f, s:I}",
                          "format", "geodr-manifest", "version", GD_REPO_FORMAT_VERSION, "set",
                          m->set, "instance", m->instance, "method", m->method, "start", t1, "end",
                          t2, "start_us", (json_int_t)m->start_us, "end_us", (json_int_t)m->end_us,
                          "gtid", m->gtid, "binlog_file", m->binlog_file, "binlog_pos",
                          (json_int_t)m->binlog_pos, "server_version", m->server_version, "cipher",
                          m->cipher, "compression", m->compression, "lock_seconds", m->lock_seconds,
                          "nontransactional_tables", (json_int_t)m->nontransactional_tables);
    if (!m->legacy)
        json_object_set_new(j, "nontransactional_locked", json_boolean(m->nontransactional_locked));
    if (m->on_demand)
        json_object_set_new(j, "on_demand", json_true());
    json_t *tables = json_array();
    for (size_t i = 0; i < m->ntables; i++)
        json_array_append_new(tables, table_json(&m->tables[i]));
    json_object_set_new(j, "tables", tables);
    json_object_set_new(j, "schema", object_json(&m->schema, false));
    const gd_mf_totals *t = &m->totals;
    json_object_set_new(j, "totals",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "rows", (json_int_t)t->rows,
                                  "raw_bytes", (json_int_t)t->raw_bytes, "stored_bytes",
                                  (json_int_t)t->stored_bytes, "tables", (json_int_t)t->tables,
                                  "objects", (json_int_t)t->objects, "seconds", t->seconds));
    return j;
}

/* ---- records ---- */

char *gd_manifest_object_name(const gd_repo *r, const char *set_id, const gd_mf_object *o)
{
    return gd_repo_object_name(r, set_id, o->object);
}

int gd_manifest_write(gd_repo *r, const char *set_id, const gd_manifest *m, gd_err *err)
{
    char *name = gd_repo_object_name(r, set_id, "manifest");
    json_t *j = gd_manifest_encode(m);
    int rc = gd_repo_put_record(r, name, j, err);
    json_decref(j);
    free(name);
    return rc;
}

int gd_manifest_read(gd_repo *r, const char *set_id, gd_manifest **out, gd_err *err)
{
    char *name = gd_repo_object_name(r, set_id, "manifest");
    json_t *j = NULL;
    gd_manifest *m = NULL;
    int rc = gd_repo_get_record(r, name, "geodr-manifest", &j, err);
    if (rc == 0)
        rc = gd_manifest_decode(j, name, r->st->name, &m, err);
    if (rc == 0 && (strcmp(m->set, set_id) != 0 || strcmp(m->instance, r->instance) != 0))
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "%s in region %s is the manifest of set %s of instance %s, not of this "
                        "set: it was moved; restore from another set or region",
                        name, r->st->name, m->set, m->instance);
    if (rc == GD_E_NOTFOUND) {
        gd_err_clear(err);
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "backup set %s of instance %s does not exist in region %s (see 'geodr "
                        "info %s')",
                        set_id, r->instance, r->st->name, r->instance);
    }
    json_decref(j);
    if (rc != 0)
        gd_manifest_free(m);
    else
        *out = m;
    free(name);
    return rc;
}
