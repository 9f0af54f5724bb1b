#include "backup/backup.h"

#include "backup/backup.intern.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/nameidx.h"
#include "common/pool.h"
#include "common/progress.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/setcheck.h"

/* ---- the run ---- */

static int any_object_cb(void *arg, const char *name, const gd_stat *st)
{
    (void)arg;
    (void)name;
    (void)st;
    return 1; /* one is enough */
}

/* A set id nobody used: with the backup lock held, the first of
 * <start time>, -2, -3, ... with no object under its folder (a committed
 * set or what a killed backup left). */
static int make_set_id(gd_repo *r, char *out, size_t size, gd_err *err)
{
    char base[32];
    gd_fmt_time_compact(gd_now_us(), base, sizeof base);
    for (int i = 1; i < 100; i++) {
        if (i == 1)
            gd_strlcpy(out, base, size);
        else
            snprintf(out, size, "%s-%d", base, i);
        char *prefix = gd_repo_set_prefix(r, out);
        int rc = gd_storage_list(r->st, prefix, any_object_cb, NULL, err);
        free(prefix);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return rc;
    }
    return gd_err_set(err, GD_E_STATE, "too many backups in one second");
}

/* Worker connections: one snapshot each, binary results, no sql_mode
 * effects on what is read. */
static int open_workers(ctx *c, worker *ws, int jobs, gd_err *err)
{
    for (int i = 0; i < jobs; i++) {
        ws[i].c = c;
        int rc;
        if ((rc = gd_conn_open(c->src, &ws[i].m, err)) != 0 ||
            (rc = gd_sql(ws[i].m, err,
                         "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")) != 0 ||
            (rc = gd_sql(ws[i].m, err, "SET SESSION net_write_timeout = 3600")) != 0 ||
            (rc = gd_sql(ws[i].m, err, "SET SESSION character_set_results = binary")) != 0 ||
            (rc = gd_sql(ws[i].m, err, "SET SESSION sql_mode = ''")) != 0)
            return rc;
    }
    return 0;
}

/* Where the snapshot stands in the binary log. */
typedef struct snap_pos {
    char *gtid, *binlog_file, *binlog_pos;
    double lock_t0, lock_s; /* when the global read lock was taken, how long held */
} snap_pos;

/* The consistent point: every worker's snapshot and the binlog position are
 * taken while writes are blocked.  Returns with the global read lock held
 * (released on failure). */
static int take_snapshot(MYSQL *m, worker *ws, int jobs, snap_pos *sp, gd_err *err)
{
    int rc;
    if ((rc = gd_sql(m, err, "SET SESSION lock_wait_timeout = 60")) != 0 ||
        (rc = gd_sql(m, err, "FLUSH NO_WRITE_TO_BINLOG TABLES")) != 0 ||
        (rc = gd_sql(m, err, "FLUSH TABLES WITH READ LOCK")) != 0)
        return rc;
    sp->lock_t0 = gd_mono();
    for (int i = 0; i < jobs && rc == 0; i++)
        rc = gd_sql(ws[i].m, err, "START TRANSACTION WITH CONSISTENT SNAPSHOT");
    if (rc == 0)
        rc = gd_sql_value(m, &sp->gtid, err, "SELECT @@GLOBAL.gtid_binlog_pos");
    if (rc != 0) {
        mysql_query(m, "UNLOCK TABLES");
        return rc;
    }
    MYSQL_RES *r2 = NULL;
    gd_err e2;
    gd_err_clear(&e2);
    if (gd_sql_query(m, &r2, &e2, "SHOW MASTER STATUS") == 0) {
        MYSQL_ROW row = mysql_fetch_row(r2);
        if (row) {
            sp->binlog_file = gd_strdup(row[0] ? row[0] : "");
            sp->binlog_pos = gd_strdup(row[1] ? row[1] : "0");
        }
        mysql_free_result(r2);
    }
    return 0;
}

/* The rows, with the global read lock taken by take_snapshot: tables
 * outside the snapshot (MyISAM, Aria, ...) are dumped while it is still
 * held, so they too are as of the set's GTID position (what mydumper does
 * by default; the lock time grows with them), then it is released and the
 * rest dumped.  The schema is read on the control connection meanwhile
 * (one SHOW CREATE per object: a second of round trips for 10,000 tables
 * that would otherwise leave the workers idle). */
static int dump_data(ctx *c, MYSQL *m, worker *ws, int jobs, snap_pos *sp, json_t **schema,
                     gd_err *err)
{
    size_t nlocked = 0;
    for (size_t i = 0; i < c->nchunks && !c->chunks[i].t->transactional; i++)
        nlocked++;
    unsigned long long total_bytes = 0;
    for (size_t i = 0; i < c->ntables; i++)
        total_bytes += c->tables[i].data_len;
    c->progress = gd_progress_start("backup", "chunks", total_bytes, c->nchunks, c->opts->progress);
    int rc = 0;
    if (nlocked > 0 && !c->opts->no_lock_nontransactional) {
        gd_debug("dumping %zu chunks outside the snapshot under the global read lock", nlocked);
        rc = gd_pool_run(ws, sizeof *ws, jobs, nlocked, backup_dump_chunk, c->progress, err);
        c->first = nlocked;
    }
    int urc = gd_sql(m, rc == 0 ? err : NULL, "UNLOCK TABLES");
    if (rc == 0)
        rc = urc;
    sp->lock_s = gd_mono() - sp->lock_t0;
    gd_debug("global read lock held %.3f s", sp->lock_s);
    if (rc == 0 && c->opts->no_lock_nontransactional)
        for (size_t i = 0; i < c->ntables; i++)
            if (!c->tables[i].transactional)
                gd_warn("table %s.%s uses engine %s: it is not covered by the consistent "
                        "snapshot (--no-lock-nontransactional): the set is not usable for a "
                        "point-in-time restore of it",
                        c->tables[i].db, c->tables[i].name, c->tables[i].engine);
    if (rc == 0 && c->repo == NULL) { /* digest only: no schema */
        rc = gd_pool_run(ws, sizeof *ws, jobs, c->nchunks - c->first, backup_dump_chunk,
                         c->progress, err);
    } else if (rc == 0) {
        schema_job sj = {.c = c, .m = m};
        gd_err_clear(&sj.err);
        pthread_t th;
        bool threaded = pthread_create(&th, NULL, backup_schema_thread, &sj) == 0;
        if (!threaded)
            backup_schema_thread(&sj);
        rc = gd_pool_run(ws, sizeof *ws, jobs, c->nchunks - c->first, backup_dump_chunk,
                         c->progress, err);
        if (threaded)
            pthread_join(th, NULL);
        *schema = sj.schema;
        if (rc == 0 && sj.rc != 0) {
            rc = sj.rc;
            if (err)
                *err = sj.err;
        }
    }
    gd_progress_stop(c->progress);
    c->progress = NULL;
    return rc;
}

/* The manifest's tables: each with its chunks back at their index (the
 * workers took them biggest first); the totals of rows and bytes. */
static void manifest_tables(ctx *c, gd_manifest *m)
{
    m->ntables = c->ntables;
    m->tables = gd_calloc(c->ntables + 1, sizeof *m->tables);
    for (size_t i = 0; i < c->ntables; i++) {
        table *t = &c->tables[i];
        gd_mf_table *mt = &m->tables[i];
        mt->db = gd_strdup(t->db);
        mt->name = gd_strdup(t->name);
        mt->engine = gd_strdup(t->engine);
        /* the manifest takes them over */
        mt->columns = t->columns;
        mt->ncolumns = t->ncolumns;
        t->columns = NULL;
        t->ncolumns = 0;
        mt->rows = atomic_load(&t->rows);
        mt->digest = atomic_load(&t->digest);
        mt->has_digest = true;
        mt->versioned = t->versioned; /* rows include history */
        /* Not as of the set's position: a point-in-time restore of it would
         * replay changes it already holds. */
        mt->consistent = t->transactional || !c->opts->no_lock_nontransactional;
        mt->nchunks = (size_t)t->nchunks;
        mt->chunks = gd_calloc(mt->nchunks + 1, sizeof *mt->chunks);
    }
    for (size_t k = 0; k < c->nchunks; k++) {
        chunk *ch = &c->chunks[k];
        gd_mf_object *o = &m->tables[ch->t->idx].chunks[ch->idx];
        *o = (gd_mf_object){.object = gd_strdup(ch->object),
                            .raw_size = ch->info.raw_size,
                            .size = ch->info.size,
                            .rows = ch->rows,
                            .enum_errors = ch->enum_errors};
        memcpy(o->sha256, ch->info.sha256, sizeof o->sha256);
        m->totals.rows += ch->rows;
        m->totals.raw_bytes += ch->info.raw_size;
        m->totals.stored_bytes += ch->info.size;
    }
}

/* What a backup and a digest share: the tables, their chunks, the
 * snapshot, every chunk read (and written when c has a repository). */
static int read_tables(ctx *c, MYSQL *m, worker *ws, int jobs, snap_pos *sp, json_t **schema,
                       gd_err *err)
{
    int rc;
    if ((rc = backup_load_tables(c, m, err)) != 0 || (rc = backup_plan_chunks(c, m, err)) != 0)
        return rc;
    qsort(c->chunks, c->nchunks, sizeof *c->chunks, backup_cmp_chunk_size);
    if ((rc = open_workers(c, ws, jobs, err)) != 0 ||
        (rc = take_snapshot(m, ws, jobs, sp, err)) != 0)
        return rc;
    return dump_data(c, m, ws, jobs, sp, schema, err);
}

static void ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->ntables; i++) {
        table *t = &c->tables[i];
        free(t->db);
        free(t->name);
        free(t->engine);
        free(t->pk);
        gd_buf_free(&t->select_cols);
        free(t->enum_cols);
        for (size_t k = 0; k < t->ncolumns; k++)
            free(t->columns[k].name);
        free(t->columns);
    }
    free(c->tables);
    for (size_t k = 0; k < c->nchunks; k++) {
        free(c->chunks[k].where);
        free(c->chunks[k].object);
    }
    free(c->chunks);
}

int gd_backup_run(gd_repo *repo, const gd_conn_params *src, const gd_backup_opts *opts,
                  gd_backup_result *res, gd_err *err)
{
    ctx c = {.repo = repo, .src = src, .opts = opts};
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    worker *ws = gd_calloc((size_t)jobs, sizeof *ws);
    MYSQL *m = NULL;
    gd_manifest *manifest = NULL;
    json_t *schema = NULL;
    snap_pos sp = {0};
    char *version = NULL;
    gd_lock *lk = NULL;
    double t0 = gd_mono();
    int64_t start_us = gd_now_us();
    memset(res, 0, sizeof *res);

    int rc = gd_conn_open(src, &m, err);
    if (rc != 0)
        goto out;
    if ((rc = gd_sql_value(m, &version, err, "SELECT VERSION()")) != 0)
        goto out;
    /* One backup of an instance at a time in its region (repo/lock.h): the
     * set id is chosen under the lock. */
    if ((rc = gd_lock_take(repo->st, repo->instance, "backup", "backup", 0, &lk, err)) != 0 ||
        (rc = make_set_id(repo, res->set_id, sizeof res->set_id, err)) != 0)
        goto out;
    c.set_id = res->set_id;
    if ((rc = read_tables(&c, m, ws, jobs, &sp, &schema, err)) != 0)
        goto out;

    /* Manifest: written last, it commits the set. */
    size_t nontx_tables = 0;
    for (size_t i = 0; i < c.ntables; i++)
        nontx_tables += !c.tables[i].transactional;
    manifest = gd_calloc(1, sizeof *manifest);
    *manifest = (gd_manifest){
        .set = gd_strdup(res->set_id),
        .instance = gd_strdup(repo->instance),
        .method = gd_strdup("logical"),
        .start_us = start_us,
        .end_us = gd_now_us(),
        .gtid = gd_strdup(sp.gtid),
        .binlog_file = gd_strdup(sp.binlog_file ? sp.binlog_file : ""),
        .binlog_pos = sp.binlog_pos ? strtoll(sp.binlog_pos, NULL, 10) : 0,
        .server_version = gd_strdup(version),
        .cipher = gd_strdup(repo->encrypted ? "aes-256-gcm" : "none"),
        .compression = gd_strdup("zstd"),
        .lock_seconds = sp.lock_s,
        .nontransactional_tables = nontx_tables,
        .nontransactional_locked = !opts->no_lock_nontransactional,
        .on_demand = opts->on_demand,
    };
    manifest->has_pos = gd_gtid_pos_parse(manifest->gtid, &manifest->pos, NULL) == 0;
    manifest_tables(&c, manifest);
    /* The set checks itself before it commits (repo/setcheck.h): every
     * table's columns against its CREATE TABLE, the row counts. */
    gd_set_problems problems = {0};
    if (gd_set_check(manifest, schema, &problems) > 0) {
        char *msg = gd_set_check_message(&problems);
        rc = gd_err_set(err, GD_E_STATE,
                        "backup %s failed its own check, nothing was committed: %s (please "
                        "report this with the table's SHOW CREATE TABLE)",
                        res->set_id, msg);
        free(msg);
    }
    gd_set_problems_free(&problems);
    if (rc != 0 || (rc = backup_write_schema(&c, schema, &manifest->schema, err)) != 0)
        goto out;
    gd_mf_totals *tot = &manifest->totals;
    tot->raw_bytes += manifest->schema.raw_size;
    tot->stored_bytes += manifest->schema.size;
    tot->tables = c.ntables;
    tot->objects = c.nchunks + 1;
    tot->seconds = res->seconds = gd_mono() - t0;
    gd_test_pause("backup-commit");
    if ((rc = gd_lock_check(lk, err)) != 0 ||
        (rc = gd_manifest_write(repo, res->set_id, manifest, err)) != 0)
        goto out;
    res->rows = tot->rows;
    res->raw_bytes = tot->raw_bytes;
    res->stored_bytes = tot->stored_bytes;
    res->tables = c.ntables;
    res->objects = c.nchunks + 1;
    gd_strlcpy(res->gtid, sp.gtid, sizeof res->gtid);
out:
    for (int i = 0; i < jobs; i++)
        gd_conn_close(ws[i].m);
    free(ws);
    gd_conn_close(m);
    ctx_free(&c);
    gd_manifest_free(manifest);
    json_decref(schema);
    free(sp.gtid);
    free(sp.binlog_file);
    free(sp.binlog_pos);
    free(version);
    gd_lock_release(lk);
    return rc;
}

int gd_backup_digest(const gd_conn_params *src, const gd_backup_opts *opts, const gd_manifest *only,
                     gd_table_digest **out, size_t *nout, gd_err *err)
{
    ctx c = {.src = src, .opts = opts, .only = only, .set_id = "digest"};
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    worker *ws = gd_calloc((size_t)jobs, sizeof *ws);
    MYSQL *m = NULL;
    snap_pos sp = {0};
    *out = NULL;
    *nout = 0;
    int rc = gd_conn_open(src, &m, err);
    if (rc == 0)
        rc = read_tables(&c, m, ws, jobs, &sp, NULL, err);
    if (rc == 0) {
        *out = gd_calloc(c.ntables + 1, sizeof **out);
        for (size_t i = 0; i < c.ntables; i++) {
            table *t = &c.tables[i];
            (*out)[i] = (gd_table_digest){.db = gd_strdup(t->db),
                                          .name = gd_strdup(t->name),
                                          .rows = atomic_load(&t->rows),
                                          .digest = atomic_load(&t->digest)};
        }
        *nout = c.ntables;
    }
    for (int i = 0; i < jobs; i++)
        gd_conn_close(ws[i].m);
    free(ws);
    gd_conn_close(m);
    ctx_free(&c);
    free(sp.gtid);
    free(sp.binlog_file);
    free(sp.binlog_pos);
    return rc;
}

void gd_table_digests_free(gd_table_digest *v, size_t n)
{
    for (size_t i = 0; i < n && v; i++) {
        free(v[i].db);
        free(v[i].name);
    }
    free(v);
}
