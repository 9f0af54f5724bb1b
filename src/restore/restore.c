#include "restore/restore.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <time.h>

#include <mysqld_error.h>

#include "common/log.h"
#include "common/nameidx.h"
#include "common/pool.h"
#include "common/progress.h"
#include "common/util.h"
#include "repo/setcheck.h"

/* Tables with fewer bytes of rows keep their secondary indexes in CREATE
 * TABLE (bench/many-tables: a deferred ALTER costs ~6 ms a table). */
#define DEFER_KEYS_MIN ((unsigned long long)8 << 20)

typedef struct rtable {
    json_t *jt;      /* manifest entry */
    const char *db;  /* source database */
    const char *tdb; /* target database (after rename) */
    const char *name;
    char *load_sql;              /* the LOAD DATA LOCAL INFILE statement */
    char *add_keys;              /* "ADD KEY ..., ADD KEY ..." deferred until loaded, or NULL */
    unsigned long long raw_size; /* of its rows, all chunks */
    atomic_int chunks_left;
    size_t first_job, njobs; /* its chunks: jobs[first_job .. first_job + njobs) */
} rtable;

typedef struct rjob {
    rtable *t;
    const char *object;
    const char *sha256;
    unsigned long long rows, raw_size;
    unsigned long long enum_errors; /* "data truncated" warnings to expect */
} rjob;

typedef struct rctx {
    gd_repo *repo;
    const char *set_id;
    const gd_conn_params *target;
    const gd_cancel *stop;
    rjob *jobs; /* every chunk, table by table */
    size_t njobs;
    rtable **order; /* the pool's jobs: tables, biggest first */
    gd_progress *progress;
    atomic_ullong rows;
} rctx;

typedef struct rworker {
    rctx *c;
    MYSQL *m;
    gd_pool *pool;
    /* the infile being streamed */
    rjob *job;
    bool loading; /* inside geodr's LOAD DATA statement */
    gd_obj_reader *rd;
    gd_err ierr;
} rworker;

/* ---- LOAD DATA LOCAL INFILE fed from the repository ---- */

static int infile_init(void **ptr, const char *filename, void *userdata)
{
    rworker *w = userdata;
    *ptr = w;
    (void)filename; /* the worker knows which job it runs */
    /* Only during geodr's own LOAD DATA: a request at any other statement
     * is the server's, not ours, and gets nothing. */
    if (!w->loading || w->rd != NULL) {
        gd_err_set(&w->ierr, GD_E_AUTH,
                   "the target asked for a local file outside geodr's LOAD DATA; refused");
        return 1;
    }
    char *name = gd_repo_object_name(w->c->repo, w->c->set_id, w->job->object);
    int rc = gd_obj_open(w->c->repo, name, w->job->sha256, &w->rd, &w->ierr);
    free(name);
    return rc == 0 ? 0 : 1;
}

static int infile_read(void *ptr, char *buf, unsigned int len)
{
    rworker *w = ptr;
    if (gd_pool_cancelled(w->pool)) {
        gd_err_set(&w->ierr, GD_E_CANCEL, "cancelled");
        return -1;
    }
    if (gd_cancel_requested(w->c->stop)) {
        gd_err_set(&w->ierr, GD_E_CANCEL,
                   "interrupted: the restore stopped part way; the target holds part of the "
                   "set");
        return -1;
    }
    ssize_t n = gd_obj_read(w->rd, buf, len, &w->ierr);
    if (n < 0)
        return -1;
    gd_progress_add(w->c->progress, (uint64_t)n, 0);
    return (int)n;
}

static void infile_end(void *ptr)
{
    rworker *w = ptr;
    gd_obj_close(w->rd);
    w->rd = NULL;
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
    rworker *w = ptr;
    snprintf(msg, len, "%s", w->ierr.msg[0] ? w->ierr.msg : "geodr: read failed");
    return 2000; /* CR_UNKNOWN_ERROR */
}

int gd_restore_defer_keys(const char *create, char **without, char **add_keys)
{
    *without = *add_keys = NULL;
    if (strstr(create, "FOREIGN KEY") != NULL)
        return GD_E_STATE; /* a foreign key needs its index in place */
    const char *body = strchr(create, '\n');
    if (body == NULL)
        return GD_E_STATE;
    body++;
    gd_buf keep, keys;
    gd_buf_init(&keep, 0);
    gd_buf_init(&keys, 0);
    gd_buf_append(&keep, create, (size_t)(body - create));
    const char *p = body;
    size_t nkeep = 0;
    int rc = 0;
    while (*p && *p != ')') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) {
            rc = GD_E_STATE;
            break;
        }
        size_t len = (size_t)(eol - p);
        if (len > 0 && p[len - 1] == ',')
            len--;
        /* Only the regular one-definition-per-line layout of SHOW CREATE
         * TABLE is rewritten; anything else is left alone. */
        static const char *const known[] = {"  `",           "  PRIMARY KEY ",  "  UNIQUE KEY ",
                                            "  KEY `",       "  FULLTEXT KEY ", "  SPATIAL KEY ",
                                            "  CONSTRAINT ", "  CHECK ",        "  PERIOD FOR "};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strncmp(p, known[i], strlen(known[i])) == 0;
        if (!ok) {
            rc = GD_E_STATE;
            break;
        }
        if (strncmp(p, "  KEY `", 7) == 0) {
            gd_buf_appendf(&keys, "%sADD ", keys.len ? ", " : "");
            gd_buf_append(&keys, p + 2, len - 2);
        } else {
            if (nkeep++)
                gd_buf_append(&keep, ",\n", 2);
            gd_buf_append(&keep, p, len);
        }
        p = eol + 1;
    }
    if (rc == 0 && (*p != ')' || keys.len == 0 || nkeep == 0))
        rc = GD_E_STATE;
    if (rc != 0) {
        gd_buf_free(&keep);
        gd_buf_free(&keys);
        return rc;
    }
    gd_buf_append(&keep, "\n", 1);
    gd_buf_append(&keep, p, strlen(p));
    *without = keep.data;
    *add_keys = keys.data;
    return 0;
}

/* After the last chunk of a table: build its deferred secondary indexes in
 * one ALTER (InnoDB sorts each index once instead of inserting row by row). */
static int finish_table(rworker *w, rtable *t, gd_err *err)
{
    if (atomic_fetch_sub(&t->chunks_left, 1) != 1 || t->add_keys == NULL)
        return 0;
    char *qd = gd_ident(t->tdb), *qt = gd_ident(t->name);
    int rc = gd_sql(w->m, err, "ALTER TABLE %s.%s %s", qd, qt, t->add_keys);
    free(qd);
    free(qt);
    return rc;
}

/* Whether a LOAD DATA warning is one that cannot mean a changed value
 * (docs/backup-restore.md, "Warnings during a restore"). */
static bool harmless_warning(const char *level, unsigned code)
{
    if (strcmp(level, "Note") == 0)
        return true;
    switch (code) {
    case ER_WARN_DEPRECATED_SYNTAX:  /* 1287: about the statement, not a value */
    case ER_BINLOG_UNSAFE_STATEMENT: /* 1592: about the binary log */
        return true;
    default:
        return false;
    }
}

/* Every warning but the harmless ones fails the load, except "data
 * truncated" (1265) up to the number of ENUM error values '' the chunk holds
 * (the backup counted them: each warns once when loaded by its index and
 * comes back as it was).  Counted, not read from the message: messages are
 * in the server's language, and only max_error_count of them are listed
 * (any not listed counts as a 1265, so one more than expected fails). */
static int check_load_warnings(MYSQL *m, const rjob *j, gd_err *err)
{
    unsigned nwarn = mysql_warning_count(m);
    MYSQL_RES *res = NULL;
    gd_err e2;
    gd_err_clear(&e2);
    if (gd_sql_query(m, &res, &e2, "SHOW WARNINGS") != 0)
        return gd_err_set(err, GD_E_MYSQL,
                          "loading %s.%s from %s: the target reported %u warning(s) that could "
                          "not be read (%s); the restore stops because a value may have changed",
                          j->t->tdb, j->t->name, j->object, nwarn, e2.msg);
    MYSQL_ROW row;
    unsigned shown = 0;
    unsigned long long truncated = 0;
    char first[512] = "", first_trunc[512] = "";
    while ((row = mysql_fetch_row(res)) != NULL) {
        shown++;
        const char *level = row[0] ? row[0] : "?", *msg = row[2] ? row[2] : "";
        unsigned code = row[1] ? (unsigned)strtoul(row[1], NULL, 10) : 0;
        if (harmless_warning(level, code))
            continue;
        if (code == WARN_DATA_TRUNCATED) {
            if (truncated++ == 0)
                snprintf(first_trunc, sizeof first_trunc, "%s %u: %s", level, code, msg);
        } else if (first[0] == '\0') {
            snprintf(first, sizeof first, "%s %u: %s", level, code, msg);
        }
    }
    mysql_free_result(res);
    truncated += nwarn > shown ? nwarn - shown : 0;
    if (first[0] == '\0' && truncated > j->enum_errors && first_trunc[0] != '\0')
        gd_strlcpy(first, first_trunc, sizeof first);
    if (first[0] == '\0' && truncated > j->enum_errors)
        snprintf(first, sizeof first, "%u warnings, %u of them listed", nwarn, shown);
    if (first[0] == '\0')
        return 0;
    char *qd = gd_ident(j->t->tdb), *qt = gd_ident(j->t->name);
    int rc = gd_err_set(err, GD_E_STATE,
                        "loading %s.%s from %s (chunk of %llu rows): the target changed values: "
                        "%s (of %u warnings); the restore stopped. Check that the target's "
                        "version, settings and table definition accept the data "
                        "(docs/backup-restore.md)",
                        qd, qt, j->object, j->rows, first, nwarn);
    free(qd);
    free(qt);
    return rc;
}

static int load_job(rworker *w, rjob *j, gd_err *err)
{
    w->job = j;
    gd_err_clear(&w->ierr);
    const char *sql = j->t->load_sql;
    int rc = 0;
    /* Loads of chunks of one table can deadlock each other in InnoDB (an
     * empty table is loaded in bulk mode under a table lock).  Each LOAD is
     * one autocommit transaction, rolled back whole on a deadlock, so it is
     * simply run again. */
    int q = 0;
    for (int attempt = 0;; attempt++) {
        w->loading = true;
        q = mysql_real_query(w->m, sql, strlen(sql));
        w->loading = false;
        unsigned no = q ? mysql_errno(w->m) : 0;
        if (!q || w->ierr.code != GD_OK || attempt >= 20 ||
            (no != ER_LOCK_DEADLOCK && no != ER_LOCK_WAIT_TIMEOUT))
            break;
        gd_debug("loading %s.%s from %s: %s, retrying", j->t->tdb, j->t->name, j->object,
                 mysql_error(w->m));
        struct timespec ts = {0, (long)(50 + 50 * attempt) * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (q != 0) {
        if (w->ierr.code != GD_OK) {
            if (err)
                *err = w->ierr;
            rc = w->ierr.code;
        } else {
            char ctx[512];
            snprintf(ctx, sizeof ctx, "loading %s.%s from %s", j->t->tdb, j->t->name, j->object);
            rc = gd_sql_error(w->m, err, ctx);
        }
        goto out;
    }
    if (w->ierr.code != GD_OK) {
        if (err)
            *err = w->ierr;
        rc = w->ierr.code;
        goto out;
    }
    unsigned long long affected = (unsigned long long)mysql_affected_rows(w->m);
    if (mysql_warning_count(w->m) > 0 && (rc = check_load_warnings(w->m, j, err)) != 0)
        goto out;
    if (affected != j->rows) {
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "loading %s.%s from %s: %llu rows loaded, manifest says %llu", j->t->tdb,
                        j->t->name, j->object, affected, j->rows);
        goto out;
    }
    atomic_fetch_add(&w->c->rows, affected);
    gd_progress_add(w->c->progress, 0, affected);
out:
    return rc;
}

/* One pool job is one table: its chunks load one after another, tables in
 * parallel.  Concurrent LOADs into one InnoDB table hung in MariaDB 10.11
 * (loads of 1 KiB rows spinning on futexes for minutes in s3.sh, with and
 * without the empty-table bulk path), so a table is never loaded by two
 * connections at once; tables are handed out biggest first. */
static int restore_job(gd_pool *pool, void *wv, size_t job, gd_err *err)
{
    rworker *w = wv;
    w->pool = pool;
    rtable *t = w->c->order[job];
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < t->njobs; k++) {
        rc = load_job(w, &w->c->jobs[t->first_job + k], err);
        if (rc == 0)
            rc = finish_table(w, t, err);
        if (rc == 0 && k + 1 < t->njobs && gd_pool_cancelled(pool))
            rc = GD_E_CANCEL;
    }
    return rc;
}

/* ---- selection and renames ---- */

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const char *target_db(const gd_restore_opts *o, const char *db)
{
    for (size_t i = 0; i < o->nrenames; i++)
        if (strcmp(o->rename_from[i], db) == 0)
            return o->rename_to[i];
    return db;
}

static bool want_db(const gd_restore_opts *o, const char *db)
{
    if (o->ndatabases == 0 && o->ntables == 0)
        return true;
    if (in_list(o->databases, o->ndatabases, db))
        return true;
    size_t l = strlen(db);
    for (size_t i = 0; i < o->ntables; i++)
        if (strncmp(o->tables[i], db, l) == 0 && o->tables[i][l] == '.')
            return true;
    return false;
}

/* Whole database selected (views, routines, events come along). */
static bool want_whole_db(const gd_restore_opts *o, const char *db)
{
    return (o->ndatabases == 0 && o->ntables == 0) || in_list(o->databases, o->ndatabases, db);
}

static bool want_table(const gd_restore_opts *o, const char *db, const char *name)
{
    if (want_whole_db(o, db))
        return true;
    char *full = gd_asprintf("%s.%s", db, name);
    bool r = in_list(o->tables, o->ntables, full);
    free(full);
    return r;
}

/* Replaces every "`from`." with "`to`." (views name their tables fully
 * qualified). */
static char *requalify(const char *sql, const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return gd_strdup(sql);
    char *qf = gd_ident(from), *qt = gd_ident(to);
    char *pat = gd_asprintf("%s.", qf);
    size_t pl = strlen(pat);
    gd_buf b;
    gd_buf_init(&b, 0);
    const char *p = sql;
    for (;;) {
        const char *hit = strstr(p, pat);
        if (hit == NULL) {
            gd_buf_append(&b, p, strlen(p));
            break;
        }
        gd_buf_append(&b, p, (size_t)(hit - p));
        gd_buf_appendf(&b, "%s.", qt);
        p = hit + pl;
    }
    free(qf);
    free(qt);
    free(pat);
    return b.data;
}

/* ---- checks on the target ---- */

/* The tables of the target's databases that the restore would create, in
 * one query (a query per table costs seconds for 10,000 tables), indexed by
 * exact (db, name).  names keeps the strings the index points at. */
static int target_tables(MYSQL *m, rtable *rts, size_t nrt, gd_nameidx *ix, MYSQL_RES **names,
                         gd_err *err)
{
    json_t *dbs = json_object(); /* a set of the target databases */
    gd_buf in;
    gd_buf_init(&in, 0);
    for (size_t k = 0; k < nrt; k++) {
        if (json_object_get(dbs, rts[k].tdb) != NULL)
            continue;
        json_object_set_new(dbs, rts[k].tdb, json_true());
        char *e = gd_sql_escape(m, rts[k].tdb);
        gd_buf_appendf(&in, "%s'%s'", in.len ? "," : "", e);
        free(e);
    }
    json_decref(dbs);
    int rc = 0;
    if (in.len)
        rc = gd_sql_query(m, names, err,
                          "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
                          "TABLE_SCHEMA IN (%s)",
                          in.data);
    gd_buf_free(&in);
    if (rc != 0 || *names == NULL)
        return rc;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(*names)) != NULL)
        gd_nameidx_add(ix, row[0], row[1], 0);
    gd_nameidx_seal(ix);
    return 0;
}

/* Runs a saved DDL statement with its saved session context. */
static int run_ddl(MYSQL *m, json_t *o, const char *db, const char *sql, gd_err *err)
{
    const char *mode = gd_json_str(o, "sql_mode", NULL);
    const char *cs = gd_json_str(o, "character_set_client", NULL);
    const char *coll = gd_json_str(o, "collation_connection", NULL);
    const char *tz = gd_json_str(o, "time_zone", NULL);
    int rc = 0;
    char *qdb = gd_ident(db);
    if ((rc = gd_sql(m, err, "USE %s", qdb)) != 0)
        goto out;
    if (mode && (rc = gd_sql(m, err, "SET SESSION sql_mode = '%s'", mode)) != 0)
        goto out;
    if (cs && (rc = gd_sql(m, err, "SET SESSION character_set_client = '%s'", cs)) != 0)
        goto out;
    if (coll && (rc = gd_sql(m, err, "SET SESSION collation_connection = '%s'", coll)) != 0)
        goto out;
    if (tz && (rc = gd_sql(m, err, "SET SESSION time_zone = '%s'", tz)) != 0)
        goto out;
    rc = gd_sql(m, err, "%s", sql);
    gd_err e2;
    gd_err_clear(&e2);
    gd_sql(m, &e2,
           "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', character_set_client = "
           "utf8mb4, collation_connection = utf8mb4_general_ci, time_zone = '+00:00'");
out:
    free(qdb);
    return rc;
}

int gd_restore_pick_set(gd_repo *repo, const char *set_id, char **id_out, json_t **manifest,
                        gd_err *err)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (set_id == NULL) {
        if ((rc = gd_repo_list_sets(repo, &ids, &n, err)) != 0)
            return rc;
        if (n == 0) {
            gd_strv_free(ids, n);
            return gd_err_set(err, GD_E_NOTFOUND,
                              "no backup set of instance %s in region %s: run 'geodr backup "
                              "%s' first",
                              repo->instance, repo->st->name, repo->instance);
        }
        set_id = ids[n - 1];
    }
    rc = gd_manifest_read(repo, set_id, manifest, err);
    if (rc == 0)
        *id_out = gd_strdup(set_id);
    gd_strv_free(ids, n);
    return rc;
}

static int cmp_table_size(const void *a, const void *b)
{
    const rtable *x = *(rtable *const *)a, *y = *(rtable *const *)b;
    return x->raw_size < y->raw_size ? 1 : x->raw_size > y->raw_size ? -1 : 0;
}

/* A column written as its ENUM/SET index (backup: "forms") is loaded into
 * a variable and set from it: a bare number would match a member named
 * like it. */
static bool index_form(const rtable *t, const char *col)
{
    return strcmp(gd_json_str(json_object_get(t->jt, "forms"), col, ""), "index") == 0;
}

static char *make_load_sql(const rtable *t)
{
    char *qdb = gd_ident(t->tdb), *qt = gd_ident(t->name);
    gd_buf b, set;
    gd_buf_init(&b, 0);
    gd_buf_init(&set, 0);
    gd_buf_appendf(&b,
                   "LOAD DATA LOCAL INFILE 'geodr' INTO TABLE %s.%s CHARACTER SET binary FIELDS "
                   "TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (",
                   qdb, qt);
    json_t *cols = json_object_get(t->jt, "columns");
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
    {
        char *qc = gd_ident(json_string_value(v));
        if (index_form(t, json_string_value(v))) {
            gd_buf_appendf(&b, "%s@gd_%zu", i ? "," : "", i);
            gd_buf_appendf(&set, "%s%s = CAST(@gd_%zu AS UNSIGNED)", set.len ? ", " : " SET ", qc,
                           i);
        } else {
            gd_buf_appendf(&b, "%s%s", i ? "," : "", qc);
        }
        free(qc);
    }
    gd_buf_append(&b, ")", 1);
    if (set.len)
        gd_buf_append(&b, set.data, set.len);
    gd_buf_free(&set);
    free(qdb);
    free(qt);
    return b.data;
}

/* A signal asked the restore to stop (opts->stop): checked between steps. */
static int interrupted(const gd_restore_opts *opts, gd_err *err)
{
    if (!gd_cancel_requested(opts->stop))
        return 0;
    return gd_err_set(err, GD_E_CANCEL,
                      "interrupted: the restore stopped part way; the target holds part of the "
                      "set");
}

int gd_restore_run(gd_repo *repo, const gd_conn_params *target, const gd_restore_opts *opts,
                   gd_restore_result *res, gd_err *err)
{
    rctx c = {.repo = repo, .target = target, .stop = opts->stop};
    char *set_id = NULL, *schema_text = NULL;
    json_t *manifest = NULL, *schema = NULL;
    rtable *rts = NULL;
    size_t nrt = 0;
    gd_nameidx rix; /* rts by exact (db, name) */
    gd_nameidx_init(&rix);
    gd_nameidx existing; /* the target's tables in the databases restored into */
    gd_nameidx_init(&existing);
    MYSQL_RES *existing_names = NULL;
    MYSQL *m = NULL;
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    rworker *ws = gd_calloc((size_t)jobs, sizeof *ws);
    double t0 = gd_mono();
    memset(res, 0, sizeof *res);

    /* 1. Everything that can be checked without touching the target. */
    int rc = gd_restore_pick_set(repo, opts->set_id, &set_id, &manifest, err);
    if (rc != 0)
        goto out;
    c.set_id = set_id;
    gd_strlcpy(res->set_id, set_id, sizeof res->set_id);
    gd_strlcpy(res->gtid, gd_json_str(manifest, "gtid", ""), sizeof res->gtid);
    if (strcmp(gd_json_str(manifest, "method", ""), "logical") != 0) {
        rc = gd_err_set(err, GD_E_STATE,
                        "set %s was taken with method '%s', which this "
                        "geodr cannot restore",
                        set_id, gd_json_str(manifest, "method", "?"));
        goto out;
    }
    json_t *sch = json_object_get(manifest, "schema");
    char *sname = gd_repo_object_name(repo, set_id, gd_json_str(sch, "object", ""));
    rc = gd_obj_read_all(repo, sname, gd_json_str(sch, "sha256", ""), GD_SCHEMA_MAX, &schema_text,
                         NULL, err);
    free(sname);
    if (rc != 0)
        goto out;
    json_error_t je;
    schema = json_loads(schema_text, 0, &je);
    if (schema == NULL) {
        rc = gd_err_set(err, GD_E_CORRUPT, "schema of set %s is not valid JSON", set_id);
        goto out;
    }
    /* A set written wrong (no columns for a table, columns that are not its
     * CREATE TABLE's) would load NULLs or shifted values: refuse it whole. */
    {
        json_t *problems = json_array();
        if (gd_set_check(manifest, schema, problems) > 0) {
            char *msg = gd_set_check_message(problems);
            rc = gd_err_set(err, GD_E_CORRUPT,
                            "set %s cannot be restored as it was taken: %s; nothing was "
                            "written to the target. Restore another set (geodr verify %s "
                            "names the good ones) and take a new backup",
                            set_id, msg, repo->instance);
            free(msg);
        }
        json_decref(problems);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < opts->ndatabases; i++) {
        bool found = false;
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(schema, "databases"), k, d) found |=
            strcmp(gd_json_str(d, "name", ""), opts->databases[i]) == 0;
        if (!found) {
            rc = gd_err_set(err, GD_E_NOTFOUND, "database %s is not in set %s", opts->databases[i],
                            set_id);
            goto out;
        }
    }
    bool legacy = json_object_get(manifest, "nontransactional_locked") == NULL;
    json_t *tables = json_object_get(manifest, "tables");
    rts = gd_calloc(json_array_size(tables) + 1, sizeof *rts);
    size_t i;
    json_t *jt;
    unsigned long long total_bytes = 0;
    json_array_foreach(tables, i, jt)
    {
        const char *db = gd_json_str(jt, "db", ""), *name = gd_json_str(jt, "name", "");
        if (!want_table(opts, db, name))
            continue;
        /* Not as of the set's position: dumped after the lock
         * (--no-lock-nontransactional), or by a geodr before 0.2, which
         * dumped every table but InnoDB's after the lock. */
        bool inconsistent = json_is_false(json_object_get(jt, "consistent")) ||
                            (legacy && strcasecmp(gd_json_str(jt, "engine", ""), "InnoDB") != 0);
        if (opts->replay_follows && inconsistent) {
            rc = gd_err_set(err, GD_E_STATE,
                            "table %s.%s (engine %s) of set %s was dumped outside the set's "
                            "snapshot (taken with --no-lock-nontransactional, or by a geodr before "
                            "0.2), so binlog cannot be "
                            "replayed onto it; restore this set without replay (--set %s or "
                            "--fastest), leave the table out, or use a set taken with the "
                            "default lock",
                            db, name, gd_json_str(jt, "engine", "?"), set_id, set_id);
            goto out;
        }
        rtable *t = &rts[nrt++];
        t->jt = jt;
        t->db = db;
        t->tdb = target_db(opts, db);
        t->name = name;
        t->load_sql = make_load_sql(t);
        size_t k;
        json_t *ch;
        atomic_init(&t->chunks_left, (int)json_array_size(json_object_get(jt, "chunks")));
        t->first_job = c.njobs;
        t->njobs = json_array_size(json_object_get(jt, "chunks"));
        json_array_foreach(json_object_get(jt, "chunks"), k, ch)
        {
            c.jobs = gd_realloc(c.jobs, (c.njobs + 1) * sizeof *c.jobs);
            rjob *j = &c.jobs[c.njobs++];
            j->t = t;
            j->object = gd_json_str(ch, "object", "");
            j->sha256 = gd_json_str(ch, "sha256", "");
            j->rows = (unsigned long long)gd_json_int(ch, "rows", 0);
            j->raw_size = (unsigned long long)gd_json_int(ch, "raw_size", 0);
            /* Sets before geodr 0.2 held ENUM values as text and did not
             * count error values: their 1265 warnings are accepted as then. */
            j->enum_errors =
                legacy ? ULLONG_MAX : (unsigned long long)gd_json_int(ch, "enum_errors", 0);
            total_bytes += j->raw_size;
            t->raw_size += j->raw_size;
        }
    }
    for (size_t r = 0; r < nrt; r++)
        gd_nameidx_add(&rix, rts[r].db, rts[r].name, r);
    gd_nameidx_seal(&rix);
    for (size_t k = 0; k < opts->ntables; k++) {
        bool found = false;
        for (size_t r = 0; r < nrt && !found; r++) {
            char *full = gd_asprintf("%s.%s", rts[r].db, rts[r].name);
            found = strcmp(full, opts->tables[k]) == 0;
            free(full);
        }
        if (!found) {
            rc = gd_err_set(err, GD_E_NOTFOUND, "table %s is not in set %s", opts->tables[k],
                            set_id);
            goto out;
        }
    }
    c.order = gd_calloc(nrt + 1, sizeof *c.order);
    for (size_t k = 0; k < nrt; k++)
        c.order[k] = &rts[k];
    qsort(c.order, nrt, sizeof *c.order, cmp_table_size);

    /* 2. The target: reachable, and nothing of ours would be overwritten.
     * (No target: a dry run for an instance not provisioned yet.) */
    if (target && (rc = gd_conn_open(target, &m, err)) != 0)
        goto out;
    if (m && (rc = target_tables(m, rts, nrt, &existing, &existing_names, err)) != 0)
        goto out;
    for (size_t k = 0; m && k < nrt; k++) {
        bool exists = gd_nameidx_find(&existing, rts[k].tdb, rts[k].name, NULL);
        if (exists && !opts->replace_existing) {
            rc = gd_err_set(err, GD_E_EXISTS,
                            "target is not empty: table %s.%s already exists (restore into an "
                            "empty server, choose --rename %s=NEWDB, or pass "
                            "--replace-existing to drop and recreate it)",
                            rts[k].tdb, rts[k].name, rts[k].db);
            goto out;
        }
    }
    if (opts->dry_run || m == NULL) {
        res->tables = nrt;
        res->chunks = c.njobs;
        res->bytes = total_bytes;
        goto out;
    }

    /* 3. Databases and tables. */
    if ((rc = gd_sql(m, err,
                     "SET SESSION foreign_key_checks = 0, sql_mode = "
                     "'NO_AUTO_VALUE_ON_ZERO'")) != 0)
        goto out;
    if (!opts->write_binlog) {
        gd_err e2;
        gd_err_clear(&e2);
        if (gd_sql(m, &e2, "SET SESSION sql_log_bin = 0") != 0)
            gd_warn("the target writes the restore to its binary log: %s", e2.msg);
    }
    json_t *d;
    json_array_foreach(json_object_get(schema, "databases"), i, d)
    {
        const char *db = gd_json_str(d, "name", "");
        if (!want_db(opts, db))
            continue;
        const char *create = gd_json_str(d, "create", "");
        char *qsrc = gd_ident(db), *qdst = gd_ident(target_db(opts, db));
        size_t skip = strlen("CREATE DATABASE ") + strlen(qsrc);
        const char *rest = strlen(create) >= skip ? create + skip : "";
        rc = gd_sql(m, err, "CREATE DATABASE IF NOT EXISTS %s%s", qdst, rest);
        free(qsrc);
        free(qdst);
        if (rc != 0)
            goto out;
    }
    json_array_foreach(json_object_get(schema, "tables"), i, d)
    {
        const char *db = gd_json_str(d, "db", ""), *name = gd_json_str(d, "name", "");
        if (!want_table(opts, db, name))
            continue;
        const char *tdb = target_db(opts, db);
        if ((rc = interrupted(opts, err)) != 0)
            goto out;
        if (opts->replace_existing) {
            char *qd = gd_ident(tdb), *qt = gd_ident(name);
            rc = gd_sql(m, err, "DROP TABLE IF EXISTS %s.%s", qd, qt);
            free(qd);
            free(qt);
            if (rc != 0)
                goto out;
        }
        /* Plain secondary indexes are built after the rows are loaded. */
        const char *create = gd_json_str(d, "create", "");
        char *without = NULL;
        rtable *rt = NULL;
        size_t rk;
        if (gd_nameidx_find(&rix, db, name, &rk))
            rt = &rts[rk];
        /* Plain secondary indexes of a big table are built after its rows
         * (one sort per index); for a small one the extra ALTER costs more
         * than it saves. */
        if (rt && rt->raw_size >= DEFER_KEYS_MIN &&
            gd_restore_defer_keys(create, &without, &rt->add_keys) == 0)
            create = without;
        rc = run_ddl(m, d, tdb, create, err);
        free(without);
        if (rc != 0)
            goto out;
    }

    json_array_foreach(json_object_get(schema, "sequences"), i, d)
    {
        const char *db = gd_json_str(d, "db", ""), *name = gd_json_str(d, "name", "");
        if (!want_table(opts, db, name))
            continue;
        const char *tdb = target_db(opts, db);
        char *qd = gd_ident(tdb), *qt = gd_ident(name);
        if (opts->replace_existing)
            rc = gd_sql(m, err, "DROP SEQUENCE IF EXISTS %s.%s", qd, qt);
        if (rc == 0)
            rc = run_ddl(m, d, tdb, gd_json_str(d, "create", ""), err);
        if (rc == 0)
            rc = gd_sql(m, err, "DO SETVAL(%s.%s, %lld, 0)", qd, qt,
                        strtoll(gd_json_str(d, "next", "1"), NULL, 10));
        free(qd);
        free(qt);
        if (rc != 0)
            goto out;
    }

    /* 4. Rows, in parallel. */
    bool versioned = false;
    for (size_t k = 0; k < nrt; k++)
        versioned |= json_is_true(json_object_get(rts[k].jt, "versioned"));
    for (int k = 0; k < jobs; k++) {
        ws[k].c = &c;
        gd_infile_handler h = {infile_init, infile_read, infile_end, infile_error, &ws[k]};
        if ((rc = gd_conn_open_loader(target, &h, &ws[k].m, err)) != 0)
            goto out;
        if ((rc = gd_sql(ws[k].m, err,
                         "SET SESSION foreign_key_checks = 0, unique_checks = 0, sql_mode = "
                         "'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', net_read_timeout = 3600, "
                         "max_error_count = 65535")) != 0)
            goto out;
        if (!opts->write_binlog) {
            gd_err e2;
            gd_err_clear(&e2);
            gd_sql(ws[k].m, &e2, "SET SESSION sql_log_bin = 0"); /* warned above */
        }
        /* History rows of system-versioned tables keep their row start and
         * end times (MariaDB 10.11+). */
        if (versioned &&
            (rc = gd_sql(ws[k].m, err, "SET SESSION system_versioning_insert_history = ON")) != 0) {
            gd_err_prefix(err, "the target cannot load the history of system-versioned tables "
                               "(it needs MariaDB 10.11 or later, and secure_timestamp = NO, or "
                               "the BINLOG REPLAY privilege)");
            goto out;
        }
    }
    if ((rc = interrupted(opts, err)) != 0)
        goto out;
    c.progress = gd_progress_start("restore", "tables", total_bytes, nrt, opts->progress);
    rc = gd_pool_run(ws, sizeof *ws, jobs, nrt, restore_job, c.progress, err);
    gd_progress_stop(c.progress);
    c.progress = NULL;
    if (rc != 0)
        goto out;

    /* 5. Routines, triggers, events. */
    if ((rc = interrupted(opts, err)) != 0)
        goto out;
    static const char *const kinds[] = {"routines", "triggers", "events"};
    for (size_t k = 0; k < 3; k++) {
        json_array_foreach(json_object_get(schema, kinds[k]), i, d)
        {
            const char *db = gd_json_str(d, "db", "");
            if (!want_whole_db(opts, db)) {
                /* a trigger follows its table */
                if (k != 1 || !want_db(opts, db))
                    continue;
                if (!want_table(opts, db, gd_json_str(d, "on", "")))
                    continue;
            }
            if ((rc = run_ddl(m, d, target_db(opts, db), gd_json_str(d, "create", ""), err)) != 0)
                goto out;
        }
    }
    /* 6. Views, after routines (a view may call a function) and retried
     * (one view may use another). */
    {
        json_t *views = json_object_get(schema, "views");
        size_t nv = json_array_size(views);
        bool *done = gd_calloc(nv + 1, sizeof *done);
        size_t left = 0;
        for (size_t k = 0; k < nv; k++) {
            json_t *v = json_array_get(views, k);
            done[k] = !want_whole_db(opts, gd_json_str(v, "db", ""));
            left += !done[k];
        }
        gd_err last;
        gd_err_clear(&last);
        while (left > 0) {
            size_t before = left;
            for (size_t k = 0; k < nv; k++) {
                if (done[k])
                    continue;
                json_t *v = json_array_get(views, k);
                const char *db = gd_json_str(v, "db", "");
                char *sql = requalify(gd_json_str(v, "create", ""), db, target_db(opts, db));
                gd_err_clear(&last);
                if (run_ddl(m, v, target_db(opts, db), sql, &last) == 0) {
                    done[k] = true;
                    left--;
                }
                free(sql);
            }
            if (left == before) {
                if (err)
                    *err = last;
                rc = last.code ? last.code : GD_E_MYSQL;
                break;
            }
        }
        free(done);
        if (rc != 0)
            goto out;
    }
    if (opts->with_users) {
        json_array_foreach(json_object_get(schema, "users"), i, d)
        {
            const char *create = gd_json_str(d, "create", "");
            gd_err e2;
            gd_err_clear(&e2);
            if (gd_sql(m, &e2, "%s", create) != 0) {
                gd_warn("user %s@%s not created: %s", gd_json_str(d, "user", ""),
                        gd_json_str(d, "host", ""), e2.msg);
                continue;
            }
            size_t g;
            json_t *gv;
            json_array_foreach(json_object_get(d, "grants"), g, gv)
            {
                if ((rc = gd_sql(m, err, "%s", json_string_value(gv))) != 0)
                    goto out;
            }
        }
    }
    res->rows = atomic_load(&c.rows);
    res->tables = nrt;
    res->chunks = c.njobs;
    res->bytes = total_bytes;
out:
    res->seconds = gd_mono() - t0;
    for (int k = 0; k < jobs; k++)
        gd_conn_close(ws[k].m);
    free(ws);
    gd_conn_close(m);
    for (size_t k = 0; k < nrt; k++) {
        free(rts[k].load_sql);
        free(rts[k].add_keys);
    }
    free(rts);
    gd_nameidx_free(&rix);
    gd_nameidx_free(&existing);
    if (existing_names)
        mysql_free_result(existing_names);
    free(c.jobs);
    free(c.order);
    json_decref(schema);
    json_decref(manifest);
    free(schema_text);
    free(set_id);
    return rc;
}
