/* geodr export: a set written out decrypted for stock tools (contract in
 * command/export.h, formats in docs/backup-restore.md, "Export").
 *
 * The statements reproduce what the restore runs (restore/restore.c): each
 * schema object with its saved session (sql_mode, character sets, time
 * zone), databases and tables before rows, routines, triggers, events and
 * views after them, rows in the loaders' session (no foreign key or unique
 * checks, sql_mode NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES, time zone
 * +00:00, the history of system-versioned tables inserted as it was). */
#include "command/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "command/export_sql.h"
#include "command/open.h"
#include "common/json.h"
#include "common/nameidx.h"
#include "common/progress.h"
#include "common/util.h"
#include "repo/setcheck.h"
#include "restore/restore.h"

static const char OP[] = "export";

/* Where a multi-row INSERT ends: the mariadb client's and the server's
 * default max_allowed_packet (16 MiB) leave room for it; a single bigger
 * row makes a bigger statement (docs/backup-restore.md). */
#define INSERT_MAX ((size_t)1 << 20)
#define READ_BUF ((size_t)1 << 17)

/* The session of the restore's loaders, written after the header and after
 * every schema object (which runs in its own saved session). */
static const char SESSION_SQL[] =
    "SET SESSION foreign_key_checks = 0, unique_checks = 0, sql_mode = "
    "'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', time_zone = '+00:00', character_set_client = "
    "utf8mb4, collation_connection = utf8mb4_general_ci;\n";

typedef struct xfile {
    FILE *f;
    char *path;
    uint64_t bytes;
} xfile;

typedef struct xctx {
    const gd_command_ctx *cctx;
    const gd_export_opts *o;
    gd_export_result *res;
    gd_repo *repo;
    gd_manifest *mf;
    json_t *schema;
    char *out;      /* OUT without trailing slashes */
    char *partial;  /* OUT.partial, once created */
    gd_nameidx tix; /* manifest tables by (db, name) */
    gd_progress *progress;
} xctx;

/* ---- output files ---- */

static int xf_open(xctx *x, const char *rel, xfile *xf, gd_err *err)
{
    xf->path = gd_asprintf("%s/%s", x->partial, rel);
    xf->bytes = 0;
    int fd = open(xf->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (xf->f = fdopen(fd, "w")) == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return gd_err_sys(err, e, "cannot create %s", xf->path);
    }
    return 0;
}

static int xf_write(xfile *xf, const void *p, size_t n, gd_err *err)
{
    if (n && fwrite(p, 1, n, xf->f) != n)
        return gd_err_sys(err, errno, "cannot write %s", xf->path);
    xf->bytes += n;
    return 0;
}

static int xf_puts(xfile *xf, const char *s, gd_err *err)
{
    return xf_write(xf, s, strlen(s), err);
}

static int xf_printf(xfile *xf, gd_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int xf_printf(xfile *xf, gd_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(xf->f, fmt, ap);
    va_end(ap);
    if (n < 0)
        return gd_err_sys(err, errno, "cannot write %s", xf->path);
    xf->bytes += (uint64_t)n;
    return 0;
}

/* Flushes to disk and closes; counts the file in the result.  Closes also
 * after a failure (rc != 0: nothing is counted). */
static int xf_close(xctx *x, xfile *xf, int rc, gd_err *err)
{
    if (xf->f != NULL) {
        if (rc == 0 && (fflush(xf->f) != 0 || fsync(fileno(xf->f)) != 0))
            rc = gd_err_sys(err, errno, "cannot write %s", xf->path);
        if (fclose(xf->f) != 0 && rc == 0)
            rc = gd_err_sys(err, errno, "cannot write %s", xf->path);
        if (rc == 0) {
            x->res->files++;
            x->res->bytes += xf->bytes;
        }
    }
    free(xf->path);
    *xf = (xfile){0};
    return rc;
}

/* A database or table name as a file name: ASCII letters, digits, '_',
 * '-', ' ', '.' (not leading) and UTF-8 as they are, every other byte as
 * %XX; a name that would pass 200 bytes is cut (at a character) and ends in
 * ~N, N its position in the set (so names stay distinct). */
static char *file_name(const char *name, size_t n)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p >= 0x80 || strchr("_- ", *p) != NULL ||
                    (*p == '.' && p != (const unsigned char *)name);
        if (keep)
            gd_buf_append(&b, p, 1);
        else
            gd_buf_appendf(&b, "%%%02X", *p);
    }
    gd_buf_append(&b, "", 1);
    if (b.len > 200) {
        size_t cut = 180;
        while (cut > 0 && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
            cut--;
        b.len = cut;
        gd_buf_appendf(&b, "~%zu", n);
        gd_buf_append(&b, "", 1);
    }
    return b.data;
}

/* ---- SQL text ---- */

/* Runs sql through the mariadb client: a DELIMITER around a statement with
 * ';' in it (routine bodies), one it does not hold. */
static int put_statement(xfile *f, const char *sql, gd_err *err)
{
    if (strchr(sql, ';') == NULL)
        return xf_printf(f, err, "%s;\n", sql);
    static const char *const delims[] = {";;", "$$", "//", "@@geodr_end@@"};
    const char *d = delims[3];
    for (size_t i = 0; i < 3; i++)
        if (strstr(sql, delims[i]) == NULL) {
            d = delims[i];
            break;
        }
    return xf_printf(f, err, "DELIMITER %s\n%s %s\nDELIMITER ;\n", d, sql, d);
}

/* A saved DDL statement in its saved session, as the restore's run_ddl. */
static int put_ddl(xfile *f, json_t *o, const char *db, const char *sql, gd_err *err)
{
    static const char *const vars[] = {"sql_mode", "character_set_client", "collation_connection",
                                       "time_zone"};
    gd_buf b;
    gd_buf_init(&b, 0);
    char *qdb = gd_ident(db);
    gd_buf_appendf(&b, "USE %s;\n", qdb);
    free(qdb);
    size_t nset = 0;
    for (size_t i = 0; i < 4; i++) {
        const char *v = gd_json_str(o, vars[i], NULL);
        if (v == NULL)
            continue;
        gd_buf_appendf(&b, "%s%s = ", nset++ ? ", " : "SET SESSION ", vars[i]);
        gd_export_sql_string(&b, v, strlen(v), false);
    }
    if (nset)
        gd_buf_append(&b, ";\n", 2);
    int rc = xf_write(f, b.data, b.len, err);
    gd_buf_free(&b);
    if (rc == 0)
        rc = put_statement(f, sql, err);
    if (rc == 0 && nset)
        rc = xf_puts(f, SESSION_SQL, err);
    return rc;
}

/* The file's header and session; db: the database it loads (NULL: all). */
static int put_header(xctx *x, xfile *f, const char *db, const char *what, gd_err *err)
{
    int rc = xf_printf(f, err,
                       "-- geodr export of set %s of instance %s (%s), GTID position '%s'\n"
                       "-- %s\n"
                       "SET NAMES utf8mb4;\n%s",
                       x->res->set_id, x->repo->instance, x->mf->server_version, x->mf->gtid, what,
                       SESSION_SQL);
    bool versioned = false; /* the history SET fails before 10.11: only when needed */
    for (size_t i = 0; i < x->mf->ntables; i++)
        versioned |=
            x->mf->tables[i].versioned && (db == NULL || strcmp(db, x->mf->tables[i].db) == 0);
    if (rc == 0 && versioned)
        rc = xf_puts(f,
                     "-- history rows of system-versioned tables keep their times (MariaDB 10.11 "
                     "or later, secure_timestamp = NO or the BINLOG REPLAY privilege)\n"
                     "SET SESSION system_versioning_insert_history = ON;\n",
                     err);
    return rc;
}

static bool db_match(const char *filter, json_t *o)
{
    return filter == NULL || strcmp(filter, gd_json_str(o, "db", "")) == 0;
}

/* Databases (all, or db), tables and sequences: before any row.  each_table
 * (may be NULL) also gets every table's CREATE TABLE (tsv's <table>.sql). */
static int put_schema_before(xctx *x, xfile *f, const char *db,
                             int (*each_table)(xctx *, json_t *, size_t, gd_err *), gd_err *err)
{
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(x->schema, "databases"), i, d)
    {
        const char *name = gd_json_str(d, "name", "");
        if (rc != 0 || (db != NULL && strcmp(db, name) != 0))
            continue;
        char *q = gd_ident(name);
        const char *create = gd_json_str(d, "create", "");
        size_t skip = strlen("CREATE DATABASE ") + strlen(q);
        rc = xf_printf(f, err, "CREATE DATABASE IF NOT EXISTS %s%s;\n", q,
                       strlen(create) >= skip ? create + skip : "");
        free(q);
    }
    json_array_foreach(json_object_get(x->schema, "tables"), i, d)
    {
        if (rc == 0 && db_match(db, d))
            rc = put_ddl(f, d, gd_json_str(d, "db", ""), gd_json_str(d, "create", ""), err);
        if (rc == 0 && db_match(db, d) && each_table)
            rc = each_table(x, d, i, err);
    }
    json_array_foreach(json_object_get(x->schema, "sequences"), i, d)
    {
        if (rc != 0 || !db_match(db, d))
            continue;
        const char *sdb = gd_json_str(d, "db", "");
        rc = put_ddl(f, d, sdb, gd_json_str(d, "create", ""), err);
        char *qd = gd_ident(sdb), *qs = gd_ident(gd_json_str(d, "name", ""));
        if (rc == 0)
            rc = xf_printf(f, err, "DO SETVAL(%s.%s, %lld, 0);\n", qd, qs,
                           strtoll(gd_json_str(d, "next", "1"), NULL, 10));
        free(qd);
        free(qs);
    }
    return rc;
}

/* Routines, triggers, events, then views: a view after the views it names
 * (by their qualified name, as SHOW CREATE VIEW prints them), the rest in
 * the set's order. */
static int put_schema_after(xctx *x, xfile *f, const char *db, gd_err *err)
{
    static const char *const kinds[] = {"routines", "triggers", "events"};
    int rc = 0;
    size_t i;
    json_t *d;
    for (size_t k = 0; k < 3; k++)
        json_array_foreach(json_object_get(x->schema, kinds[k]), i, d)
        {
            if (rc == 0 && db_match(db, d))
                rc = put_ddl(f, d, gd_json_str(d, "db", ""), gd_json_str(d, "create", ""), err);
        }
    json_t *views = json_object_get(x->schema, "views");
    size_t nv = json_array_size(views), left = 0;
    bool *done = gd_calloc(nv + 1, sizeof *done);
    char **qn = gd_calloc(nv + 1, sizeof *qn);
    for (size_t k = 0; k < nv; k++) {
        json_t *v = json_array_get(views, k);
        done[k] = !db_match(db, v);
        left += !done[k];
        char *qd = gd_ident(gd_json_str(v, "db", "")), *qv = gd_ident(gd_json_str(v, "name", ""));
        qn[k] = gd_asprintf("%s.%s", qd, qv);
        free(qd);
        free(qv);
    }
    while (rc == 0 && left > 0) {
        size_t pick = nv;
        for (size_t k = 0; k < nv && pick == nv; k++) {
            const char *sql = done[k] ? NULL : gd_json_str(json_array_get(views, k), "create", "");
            bool ready = sql != NULL;
            for (size_t j = 0; ready && j < nv; j++)
                ready = j == k || done[j] || strstr(sql, qn[j]) == NULL;
            if (ready)
                pick = k;
        }
        for (size_t k = 0; k < nv && pick == nv; k++)
            if (!done[k])
                pick = k; /* names that only look alike: the set's order */
        json_t *v = json_array_get(views, pick);
        rc = put_ddl(f, v, gd_json_str(v, "db", ""), gd_json_str(v, "create", ""), err);
        done[pick] = true;
        left--;
    }
    for (size_t k = 0; k < nv; k++)
        free(qn[k]);
    free(qn);
    free(done);
    return rc;
}

/* ---- rows ---- */

/* What reads a table's chunks: begin and end around each chunk's decoded
 * bytes. */
typedef struct chunk_sink {
    void (*begin)(void *ctx, const gd_mf_object *ch);
    int (*bytes)(void *ctx, const char *p, size_t n, gd_err *err);
    int (*end)(void *ctx, const gd_mf_object *ch, gd_err *err);
    void *ctx;
} chunk_sink;

/* Appends to err's message (the code stays). */
static void err_append(gd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_append(gd_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char tail[sizeof err->msg], msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s%s", err->msg, tail);
    gd_strlcpy(err->msg, msg, sizeof err->msg);
}

/* Reads a table's chunks in order, each through the repository (decrypted,
 * decompressed, checked against the manifest), into sink. */
static int read_chunks(xctx *x, const gd_mf_table *mt, const chunk_sink *sink, gd_err *err)
{
    char *buf = gd_malloc(READ_BUF);
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < mt->nchunks; k++) {
        const gd_mf_object *ch = &mt->chunks[k];
        char *name = gd_manifest_object_name(x->repo, x->res->set_id, ch);
        gd_obj_reader *rd = NULL;
        gd_test_pause("export-chunk"); /* export.sh interrupts an export here */
        if (sink->begin)
            sink->begin(sink->ctx, ch);
        rc = gd_obj_open(x->repo, name, ch->sha256, &rd, err);
        while (rc == 0) {
            if (gd_cancel_requested(x->cctx->cancel)) {
                rc = gd_err_set(err, GD_E_CANCEL, "interrupted");
                break;
            }
            ssize_t n = gd_obj_read(rd, buf, READ_BUF, err);
            if (n <= 0) {
                rc = (int)n;
                break;
            }
            gd_progress_add(x->progress, (uint64_t)n, 0);
            rc = sink->bytes(sink->ctx, buf, (size_t)n, err);
        }
        gd_obj_close(rd);
        if (rc == 0)
            rc = sink->end(sink->ctx, ch, err);
        free(name);
    }
    free(buf);
    /* the key was checked when the repository opened: an object that
     * fails authentication was changed */
    if (rc == GD_E_CORRUPT || rc == GD_E_AUTH) {
        gd_err_prefix(err, "set %s", x->res->set_id);
        err_append(err, "; geodr verify %s names the damaged objects, export another set",
                   x->repo->instance);
    }
    return rc;
}

static void ins_begin(void *ctx, const gd_mf_object *ch)
{
    gd_export_inserts_begin(ctx, ch);
}

static int ins_bytes(void *ctx, const char *p, size_t n, gd_err *err)
{
    return gd_export_inserts_feed(ctx, p, n, err);
}

static int ins_end(void *ctx, const gd_mf_object *ch, gd_err *err)
{
    (void)ch;
    return gd_export_inserts_end(ctx, err);
}

static int xf_write_fn(void *ctx, const char *p, size_t n, gd_err *err)
{
    return xf_write(ctx, p, n, err);
}

/* sql: a table's rows as INSERT statements. */
static int put_rows_sql(xctx *x, xfile *f, const gd_mf_table *mt, gd_err *err)
{
    gd_export_inserts *s = gd_export_inserts_new(mt, INSERT_MAX, xf_write_fn, f);
    chunk_sink sink = {ins_begin, ins_bytes, ins_end, s};
    int rc = read_chunks(x, mt, &sink, err);
    if (rc == 0)
        rc = gd_export_inserts_finish(s, err);
    x->res->rows += gd_export_inserts_rows(s);
    gd_export_inserts_free(s);
    return rc;
}

/* tsv: the chunks' bytes as they are, rows counted by their newlines. */
typedef struct tsvrows {
    xfile *f;
    const gd_mf_table *mt;
    uint64_t rows, total;
} tsvrows;

static int tsv_bytes(void *ctx, const char *p, size_t n, gd_err *err)
{
    tsvrows *t = ctx;
    for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))) != NULL; q++)
        t->rows++;
    return xf_write(t->f, p, n, err);
}

static int tsv_chunk_end(void *ctx, const gd_mf_object *ch, gd_err *err)
{
    tsvrows *t = ctx;
    if (t->rows != ch->rows)
        return gd_err_set(err, GD_E_CORRUPT,
                          "object %s (table %s.%s): it holds %llu rows, the manifest says %llu",
                          ch->object, t->mt->db, t->mt->name, (unsigned long long)t->rows,
                          (unsigned long long)ch->rows);
    t->total += t->rows;
    t->rows = 0;
    return 0;
}

/* ---- the two formats ---- */

static int export_sql(xctx *x, gd_err *err)
{
    xfile f = {0};
    int rc = xf_open(x, "dump.sql", &f, err);
    if (rc == 0)
        rc = put_header(x, &f, NULL, "load into an empty server: mariadb --comments < dump.sql",
                        err);
    if (rc == 0)
        rc = put_schema_before(x, &f, NULL, NULL, err);
    for (size_t i = 0; rc == 0 && i < x->mf->ntables; i++) {
        rc = put_rows_sql(x, &f, &x->mf->tables[i], err);
        gd_progress_item_done(x->progress);
    }
    if (rc == 0)
        rc = put_schema_after(x, &f, NULL, err);
    return xf_close(x, &f, rc, err);
}

/* tsv: <db>/<table>.sql and, when the table has rows in the set,
 * <db>/<table>.tsv of one table of the schema (pos: its place, for
 * file_name). */
static int tsv_table(xctx *x, json_t *d, size_t pos, gd_err *err)
{
    const char *db = gd_json_str(d, "db", ""), *name = gd_json_str(d, "name", "");
    char *dir = file_name(db, 0), *base = file_name(name, pos);
    char *rel = gd_asprintf("%s/%s.sql", dir, base);
    xfile f = {0};
    int rc = xf_open(x, rel, &f, err);
    if (rc == 0)
        rc = put_ddl(&f, d, db, gd_json_str(d, "create", ""), err);
    rc = xf_close(x, &f, rc, err);
    free(rel);
    size_t k;
    if (rc != 0 || !gd_nameidx_find(&x->tix, db, name, &k))
        goto out;
    const gd_mf_table *mt = &x->mf->tables[k];
    rel = gd_asprintf("%s/%s.tsv", dir, base);
    tsvrows t = {.f = &f, .mt = mt};
    chunk_sink sink = {NULL, tsv_bytes, tsv_chunk_end, &t};
    if ((rc = xf_open(x, rel, &f, err)) == 0)
        rc = read_chunks(x, mt, &sink, err);
    rc = xf_close(x, &f, rc, err);
    x->res->rows += t.total;
    gd_progress_item_done(x->progress);
    free(rel);
out:
    free(dir);
    free(base);
    return rc;
}

/* The LOAD DATA statements of a database's tables, in load.sql. */
static int tsv_loads(xctx *x, xfile *f, const char *db, gd_err *err)
{
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(x->schema, "tables"), i, d)
    {
        size_t k;
        if (rc != 0 || !db_match(db, d) ||
            !gd_nameidx_find(&x->tix, db, gd_json_str(d, "name", ""), &k))
            continue;
        char *base = file_name(gd_json_str(d, "name", ""), i);
        char *file = gd_asprintf("%s.tsv", base);
        char *sql = gd_restore_load_data_sql(&x->mf->tables[k], db, file);
        rc = xf_printf(f, err, "%s;\n", sql);
        free(sql);
        free(file);
        free(base);
    }
    return rc;
}

static int export_tsv(xctx *x, gd_err *err)
{
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(x->schema, "databases"), i, d)
    {
        const char *db = gd_json_str(d, "name", "");
        char *dir = file_name(db, 0), *path = gd_asprintf("%s/%s", x->partial, dir);
        if (mkdir(path, 0700) != 0)
            rc = gd_err_sys(err, errno, "cannot create %s", path);
        free(path);
        char *rel = gd_asprintf("%s/load.sql", dir);
        xfile f = {0};
        if (rc == 0)
            rc = xf_open(x, rel, &f, err);
        if (rc == 0)
            rc = put_header(x, &f, db,
                            "load from this directory: mariadb --comments --local-infile=1 "
                            "< load.sql",
                            err);
        if (rc == 0)
            rc = put_schema_before(x, &f, db, tsv_table, err);
        if (rc == 0)
            rc = tsv_loads(x, &f, db, err);
        if (rc == 0)
            rc = put_schema_after(x, &f, db, err);
        rc = xf_close(x, &f, rc, err);
        free(rel);
        free(dir);
        if (rc != 0)
            break;
    }
    return rc;
}

/* ---- the run ---- */

/* OUT must not exist or be an empty directory, and no OUT.partial. */
static int check_out(const char *out, char **partial, gd_err *err)
{
    struct stat st;
    if (stat(out, &st) == 0) {
        DIR *dp = S_ISDIR(st.st_mode) ? opendir(out) : NULL;
        struct dirent *e;
        bool empty = dp != NULL;
        while (dp && (e = readdir(dp)) != NULL)
            empty &= strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
        if (dp)
            closedir(dp);
        if (!empty)
            return gd_err_set(err, GD_E_EXISTS,
                              "%s exists and is not an empty directory: geodr export never "
                              "overwrites; choose a new --out",
                              out);
    } else if (errno != ENOENT) {
        return gd_err_sys(err, errno, "cannot read %s", out);
    }
    *partial = gd_asprintf("%s.partial", out);
    if (lstat(*partial, &st) == 0)
        return gd_err_set(err, GD_E_EXISTS,
                          "%s is left from an export that did not finish: remove it (rm -r "
                          "'%s') and run the export again",
                          *partial, *partial);
    return 0;
}

/* The set: manifest, schema object, both checked. */
static int open_set(xctx *x, gd_err *err)
{
    const gd_export_opts *o = x->o;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(x->cctx->cfg, o->instance, &ic, err);
    if (rc == 0)
        rc = gd_command_open_repo(x->cctx->cfg, ic, o->region, false, &x->repo, err);
    if (rc != 0)
        return rc;
    gd_strlcpy(x->res->set_id, o->set_id, sizeof x->res->set_id);
    /* a set id is one name of the repository, never a path */
    if (o->set_id[0] == '\0' || o->set_id[0] == '.' || strchr(o->set_id, '/') != NULL ||
        strlen(o->set_id) >= sizeof x->res->set_id)
        return gd_err_set(err, GD_E_NOTFOUND,
                          "'%s' is not a backup set id: geodr info %s lists "
                          "the sets",
                          o->set_id, o->instance);
    if ((rc = gd_manifest_read(x->repo, o->set_id, &x->mf, err)) == GD_E_NOTFOUND) {
        gd_err_clear(err);
        return gd_err_set(err, GD_E_NOTFOUND,
                          "instance %s has no backup set %s in region %s: geodr info %s lists "
                          "its sets",
                          o->instance, o->set_id, x->repo->st->name, o->instance);
    }
    if (rc == 0 && strcmp(x->mf->method, "logical") != 0)
        rc = gd_err_set(err, GD_E_STATE,
                        "set %s was taken with method '%s', which this geodr "
                        "cannot export",
                        o->set_id, x->mf->method);
    char *text = NULL;
    if (rc == 0) {
        char *name = gd_manifest_object_name(x->repo, o->set_id, &x->mf->schema);
        rc = gd_obj_read_all(x->repo, name, x->mf->schema.sha256, GD_SCHEMA_MAX, &text, NULL, err);
        free(name);
    }
    if (rc == 0 && (x->schema = json_loads(text, 0, NULL)) == NULL)
        rc = gd_err_set(err, GD_E_CORRUPT, "the schema object of set %s is not valid JSON",
                        o->set_id);
    free(text);
    gd_set_problems problems = {0};
    if (rc == 0 && gd_set_check(x->mf, x->schema, &problems) > 0) {
        char *msg = gd_set_check_message(&problems);
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "set %s cannot be exported as it was taken: %s. Export another set "
                        "(geodr verify %s names the good ones)",
                        o->set_id, msg, o->instance);
        free(msg);
    }
    gd_set_problems_free(&problems);
    for (size_t i = 0; rc == 0 && i < x->mf->ntables; i++) {
        gd_nameidx_add(&x->tix, x->mf->tables[i].db, x->mf->tables[i].name, i);
    }
    gd_nameidx_seal(&x->tix);
    return rc;
}

static int put_readme(xctx *x, gd_err *err)
{
    xfile f = {0};
    const bool sql = x->o->format == GD_EXPORT_SQL;
    int rc = xf_open(x, "README.txt", &f, err);
    if (rc == 0)
        rc = xf_printf(
            &f, err,
            "geodr export of backup set %s of instance %s\n"
            "source server: %s; GTID position at the set: '%s'\n"
            "format: %s; %llu tables, %llu rows\n\n"
            "This directory holds the data in clear: keep it private.\n\n%s\n"
            "Every statement runs as root would run it; the server must be empty of these\n"
            "databases' objects. Rows larger than 16 MiB need --max-allowed-packet=1G on\n"
            "both the client and the server. Users and grants are not exported.\n"
            "See geodr's docs/backup-restore.md, \"Export\".\n",
            x->res->set_id, x->repo->instance, x->mf->server_version, x->mf->gtid,
            sql ? "sql" : "tsv", (unsigned long long)x->mf->ntables,
            (unsigned long long)x->res->rows,
            sql ? "Load it with the stock client:\n\n    mariadb --comments "
                  "--default-character-set=utf8mb4 < dump.sql\n"
                : "Each database has a directory: <table>.sql (CREATE TABLE), <table>.tsv\n"
                  "(rows in LOAD DATA's default format, CHARACTER SET binary) and load.sql,\n"
                  "which creates and loads the database. Load a database from its directory:\n\n"
                  "    cd <db> && mariadb --comments --local-infile=1 "
                  "--default-character-set=utf8mb4 < load.sql\n\n"
                  "Load a database whose views or triggers name another database after that "
                  "one.\n");
    return xf_close(x, &f, rc, err);
}

/* The partial directory becomes OUT, made durable. */
static int finish(xctx *x, gd_err *err)
{
    const char *out = x->out;
    int rc = put_readme(x, err);
    if (rc == 0 && rename(x->partial, out) != 0)
        return gd_err_sys(err, errno, "cannot rename %s to %s", x->partial, out);
    char *parent = gd_strdup(out), *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    int fd = open(slash ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(parent);
    return rc;
}

int gd_command_export(const gd_command_ctx *ctx, const gd_export_opts *o, gd_export_result *res,
                      gd_err *err)
{
    memset(res, 0, sizeof *res);
    double t0 = gd_mono();
    xctx x = {.cctx = ctx, .o = o, .res = res};
    gd_nameidx_init(&x.tix);
    char *partial = NULL;
    /* "DIR/" would make DIR/.partial, inside DIR */
    x.out = gd_strdup(o->out_dir);
    for (size_t n = strlen(x.out); n > 1 && x.out[n - 1] == '/'; n--)
        x.out[n - 1] = '\0';
    int rc = check_out(x.out, &partial, err);
    if (rc == 0)
        rc = open_set(&x, err);
    if (rc == 0 && mkdir(partial, 0700) != 0)
        rc = gd_err_sys(err, errno, "cannot create %s", partial);
    if (rc == 0) {
        x.partial = partial;
        gd_command_say(ctx, GD_EVENT_NOTE, OP, "exporting set %s of %s as %s into %s", res->set_id,
                       o->instance, o->format == GD_EXPORT_SQL ? "sql" : "tsv", x.out);
        uint64_t bytes = 0;
        for (size_t i = 0; i < x.mf->ntables; i++)
            for (size_t k = 0; k < x.mf->tables[i].nchunks; k++)
                bytes += x.mf->tables[i].chunks[k].raw_size;
        x.progress = gd_progress_start("export", "tables", bytes, x.mf->ntables, ctx->progress);
        rc = o->format == GD_EXPORT_SQL ? export_sql(&x, err) : export_tsv(&x, err);
        gd_progress_stop(x.progress);
        if (rc == 0)
            rc = finish(&x, err);
        if (rc != 0)
            err_append(err,
                       "; the export is incomplete: what was written is in %s (remove it "
                       "before exporting again)",
                       partial);
    }
    res->tables = x.mf ? x.mf->ntables : 0;
    res->seconds = gd_mono() - t0;
    free(partial);
    free(x.out);
    gd_nameidx_free(&x.tix);
    json_decref(x.schema);
    gd_manifest_free(x.mf);
    gd_repo_close(x.repo);
    return rc;
}
