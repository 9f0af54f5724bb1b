/* What the files of the backup engine share (not a public header: see
 * backup.h).  backup.c runs a backup through its phases; discover.c finds
 * the tables and plans their chunks; dump.c writes one chunk's rows; schema.c
 * captures and writes the schema objects. */
#ifndef GD_BACKUP_INTERN_H
#define GD_BACKUP_INTERN_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "backup/backup.h"
#include "common/pool.h"
#include "common/progress.h"
#include "common/util.h"
#include "repo/manifest.h"

#define SYSTEM_DBS "'mysql','information_schema','performance_schema','sys'"
#define CHUNK_BYTES_TARGET ((unsigned long long)64 << 20)
#define MAX_CHUNKS_PER_TABLE 4096
#define OUT_FLUSH (128 * 1024)

typedef struct table {
    int idx;
    char *db, *name, *engine;
    unsigned long long rows_est, data_len;
    gd_buf select_cols;    /* "`a`,CAST(`f` AS DOUBLE),..." */
    gd_mf_column *columns; /* load column names, the form each is written in */
    size_t ncolumns;
    char *pk; /* single integer primary key column, or NULL */
    bool pk_unsigned;
    unsigned *enum_cols; /* positions of ENUM columns (written as their index) */
    int nenum;
    bool row_time_cols; /* has explicit ROW START / ROW END columns */
    bool trx_versioned; /* ... holding transaction ids */
    int npri;           /* primary key columns */
    bool not_null;      /* some column is NOT NULL: an all-NULL row is impossible */
    bool versioned;     /* WITH SYSTEM VERSIONING: history rows are data */
    bool transactional; /* its engine is covered by the consistent snapshot */
    int nchunks;
    _Atomic unsigned long long rows;
    _Atomic uint64_t digest; /* of its rows (gd_mf_table.digest) */
} table;

typedef struct chunk {
    table *t;
    int idx;
    char *where; /* NULL: whole table */
    char *object;
    gd_obj_info info;
    unsigned long long rows;
    unsigned long long enum_errors; /* ENUM values of index 0 (the error value '') */
} chunk;

typedef struct ctx {
    gd_repo *repo;           /* NULL: digest only (gd_backup_digest) */
    const gd_manifest *only; /* digest only these tables (NULL: all) */
    const gd_conn_params *src;
    const gd_backup_opts *opts;
    const char *set_id;
    table *tables;
    size_t ntables;
    chunk *chunks;
    size_t nchunks;
    size_t first; /* the pool's job 0 is chunks[first] */
    gd_progress *progress;
} ctx;

typedef struct worker {
    ctx *c;
    MYSQL *m;
} worker;

typedef struct schema_job {
    ctx *c;
    MYSQL *m;
    json_t *schema;
    int rc;
    gd_err err;
} schema_job;

/* dump.c */
/* A pool job: dumps chunk job of the context's plan. */
int backup_dump_chunk(gd_pool *pool, void *wv, size_t job, gd_err *err);

/* discover.c */
int backup_load_tables(ctx *c, MYSQL *m, gd_err *err);
int backup_plan_chunks(ctx *c, MYSQL *m, gd_err *err);
int backup_cmp_chunk_size(const void *a, const void *b);

/* schema.c */
void *backup_schema_thread(void *arg); /* a schema_job: capture_schema in a thread */
/* Writes the set's schema object; fills its manifest entry (entry->object
 * is then owned by the entry). */
int backup_write_schema(ctx *c, json_t *schema, gd_mf_object *entry, gd_err *err);

#endif
