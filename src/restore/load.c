/* Rows into the target: LOAD DATA LOCAL INFILE fed from the repository's
 * objects by geodr's own handler, one connection per loader, tables in
 * parallel and each table's chunks in order (docs/backup-restore.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysqld_error.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.intern.h"

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
    char *name = gd_manifest_object_name(w->c->repo, w->c->set_id, w->job->chunk);
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

char *gd_restore_load_data_sql(const gd_mf_table *mt, const char *tdb, const char *file)
{
    char *qdb = gd_ident(tdb), *qt = gd_ident(mt->name);
    gd_buf b, set;
    gd_buf_init(&b, 0);
    gd_buf_init(&set, 0);
    gd_buf_appendf(&b,
                   "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s.%s CHARACTER SET binary FIELDS "
                   "TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (",
                   file, qdb, qt);
    for (size_t i = 0; i < mt->ncolumns; i++) {
        const gd_mf_column *col = &mt->columns[i];
        char *qc = gd_ident(col->name);
        /* A column written as its ENUM/SET index (backup: "forms") is loaded
         * into a variable and set from it: a bare number would match a
         * member named like it. */
        if (col->form == GD_MF_FORM_INDEX) {
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

char *restore_load_sql(const rtable *t)
{
    return gd_restore_load_data_sql(t->mt, t->tdb, "geodr");
}

int restore_open_loaders(rctx *c, gd_err *err)
{
    const gd_restore_opts *opts = c->opts;
    bool versioned = false;
    for (size_t k = 0; k < c->nrt; k++)
        versioned |= c->rts[k].mt->versioned;
    for (int k = 0; k < c->nws; k++) {
        rworker *w = &c->ws[k];
        w->c = c;
        gd_infile_handler h = {infile_init, infile_read, infile_end, infile_error, w};
        int rc = gd_conn_open_loader(c->target, &h, &w->m, err);
        if (rc == 0)
            rc = gd_sql(w->m, err,
                        "SET SESSION foreign_key_checks = 0, unique_checks = 0, sql_mode = "
                        "'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', net_read_timeout = 3600, "
                        "max_error_count = 65535");
        if (rc != 0)
            return rc;
        if (!opts->write_binlog) {
            gd_err e2;
            gd_err_clear(&e2);
            gd_sql(w->m, &e2, "SET SESSION sql_log_bin = 0"); /* warned once, by the caller */
        }
        /* History rows of system-versioned tables keep their row start and
         * end times (MariaDB 10.11+). */
        if (versioned &&
            (rc = gd_sql(w->m, err, "SET SESSION system_versioning_insert_history = ON")) != 0) {
            gd_err_prefix(err, "the target cannot load the history of system-versioned tables "
                               "(it needs MariaDB 10.11 or later, and secure_timestamp = NO, or "
                               "the BINLOG REPLAY privilege)");
            return rc;
        }
    }
    return 0;
}

int restore_load_rows(rctx *c, gd_err *err)
{
    c->progress = gd_progress_start("restore", "tables", c->total_bytes, c->nrt, c->opts->progress);
    int rc = gd_pool_run(c->ws, sizeof *c->ws, c->nws, c->nrt, restore_job, c->progress, err);
    gd_progress_stop(c->progress);
    c->progress = NULL;
    return rc;
}
