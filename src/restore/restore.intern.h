/* What the files of the restore engine share (not a public header: see
 * restore.h).  restore.c runs a restore as a list of phases; load.c streams
 * rows into the target with LOAD DATA LOCAL INFILE from the repository. */
#ifndef GD_RESTORE_INTERN_H
#define GD_RESTORE_INTERN_H

#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>

#include "common/nameidx.h"
#include "common/pool.h"
#include "common/progress.h"
#include "restore/restore.h"

/* Tables with fewer bytes of rows keep their secondary indexes in CREATE
 * TABLE (bench/many-tables: a deferred ALTER costs ~6 ms a table). */
#define DEFER_KEYS_MIN ((unsigned long long)8 << 20)

typedef struct rtable {
    const gd_mf_table *mt; /* manifest entry */
    const char *db;        /* source database */
    const char *tdb;       /* target database (after rename) */
    const char *name;
    char *load_sql;              /* the LOAD DATA LOCAL INFILE statement */
    char *add_keys;              /* "ADD KEY ..., ADD KEY ..." deferred until loaded, or NULL */
    unsigned long long raw_size; /* of its rows, all chunks */
    atomic_int chunks_left;
    size_t first_job, njobs; /* its chunks: jobs[first_job .. first_job + njobs) */
} rtable;

typedef struct rjob {
    rtable *t;
    const gd_mf_object *chunk; /* manifest entry */
    const char *object;
    const char *sha256;
    unsigned long long rows, raw_size;
    unsigned long long enum_errors; /* "data truncated" warnings to expect */
} rjob;

/* A restore run: what each phase of gd_restore_run leaves for the next. */
typedef struct rctx {
    gd_repo *repo;
    const gd_restore_opts *opts;
    const gd_conn_params *target;
    const gd_cancel *stop;
    char *set_id;
    gd_manifest *manifest;
    json_t *schema; /* the set's schema object, parsed */
    char *schema_text;
    bool legacy; /* written before geodr 0.2 (no "nontransactional_locked") */
    rtable *rts; /* the tables restored, in manifest order */
    size_t nrt;
    gd_nameidx rix;            /* rts by exact (db, name) */
    gd_nameidx existing;       /* the target's tables in the databases restored into */
    MYSQL_RES *existing_names; /* the strings existing points at */
    MYSQL *m;                  /* the control connection to the target */
    struct rworker *ws;        /* the loaders */
    int nws;
    unsigned long long total_bytes; /* of rows, all tables */
    rjob *jobs;                     /* every chunk, table by table */
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

/* load.c */
/* The LOAD DATA statement of a table (a column written as its ENUM/SET
 * index goes through a variable).  Caller frees. */
char *restore_load_sql(const rtable *t);
/* Opens c->nws loader connections with geodr's infile handler. */
int restore_open_loaders(rctx *c, gd_err *err);
/* Loads every table's rows, tables in parallel (one pool job per table). */
int restore_load_rows(rctx *c, gd_err *err);

#endif
