#include "backup/backup.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
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

#define SYSTEM_DBS "'mysql','information_schema','performance_schema','sys'"
#define CHUNK_BYTES_TARGET ((unsigned long long)64 << 20)
#define MAX_CHUNKS_PER_TABLE 4096
#define OUT_FLUSH (128 * 1024)

typedef struct table {
    int idx;
    char *db, *name, *engine;
    unsigned long long rows_est, data_len;
    gd_buf select_cols; /* "`a`,CAST(`f` AS DOUBLE),..." */
    json_t *columns;    /* load column names */
    char *pk;           /* single integer primary key column, or NULL */
    bool pk_unsigned;
    json_t *forms;       /* column -> "binary" | "index" where not plain text */
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
    gd_repo *repo;
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

/* ---- TSV in LOAD DATA's default escaping ---- */

static uint8_t esc_map[256];

static void esc_init(void)
{
    esc_map[0] = '0';
    esc_map['\t'] = 't';
    esc_map['\n'] = 'n';
    esc_map['\\'] = '\\';
}

/* Index of the first byte of p[0..len) that needs escaping, or len.  Most
 * values have none, so this scan is the hot loop of a backup: 16 bytes at a
 * time with SSE2 where available. */
static size_t scan_plain(const uint8_t *p, size_t len)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i nul = _mm_setzero_si128(), tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n'),
                  bs = _mm_set1_epi8('\\');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, nul), _mm_cmpeq_epi8(v, tab)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, bs)));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    for (; i < len; i++)
        if (esc_map[p[i]])
            return i;
    return len;
}

/* Appends one field; out has room for 2*len bytes (reserved by the caller).
 * Runs of ordinary bytes are copied whole. */
static size_t put_field(char *out, const char *p, size_t len)
{
    size_t o = 0, i = 0;
    for (;;) {
        size_t n = scan_plain((const uint8_t *)p + i, len - i);
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
        if (i == len)
            return o;
        out[o++] = '\\';
        out[o++] = (char)esc_map[(uint8_t)p[i]];
        i++;
    }
}

static int dump_chunk(gd_pool *pool, void *wv, size_t job, gd_err *err)
{
    worker *w = wv;
    ctx *c = w->c;
    chunk *ch = &c->chunks[c->first + job];
    table *t = ch->t;
    char *qdb = gd_ident(t->db), *qt = gd_ident(t->name);
    char *q = gd_asprintf("SELECT %s FROM %s.%s%s%s%s", t->select_cols.data, qdb, qt,
                          t->versioned ? " FOR SYSTEM_TIME ALL" : "", ch->where ? " WHERE " : "",
                          ch->where ? ch->where : "");
    free(qdb);
    free(qt);
    gd_obj_writer *ow = NULL;
    MYSQL_RES *res = NULL;
    gd_buf out;
    gd_buf_init(&out, 0);
    int rc = 0;
    char *name = gd_repo_object_name(c->repo, c->set_id, ch->object);
    if ((rc = gd_obj_create(c->repo, name, &ow, err)) != 0)
        goto out;
    if (mysql_real_query(w->m, q, strlen(q)) != 0 || (res = mysql_use_result(w->m)) == NULL) {
        rc = gd_sql_error(w->m, err, q);
        goto out;
    }
    unsigned nf = mysql_num_fields(res);
    if (nf == 0 || nf != json_array_size(t->columns)) {
        rc = gd_err_set(err, GD_E_STATE,
                        "table %s.%s: the server returned %u columns, the backup expected %zu "
                        "(was the table altered during the backup? nothing was committed)",
                        t->db, t->name, nf, json_array_size(t->columns));
        goto out;
    }
    MYSQL_ROW row;
    unsigned long long rows = 0, pending_rows = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        size_t need = nf + 2;
        for (unsigned i = 0; i < nf; i++)
            need += row[i] ? 2 * len[i] : 2;
        if ((rc = gd_buf_reserve(&out, need)) != 0) {
            rc = gd_err_set(err, GD_E_NOMEM, "row too large in %s.%s", t->db, t->name);
            goto out;
        }
        char *o = out.data + out.len;
        unsigned nulls = 0;
        for (unsigned i = 0; i < nf; i++) {
            if (i)
                *o++ = '\t';
            if (row[i] == NULL) {
                *o++ = '\\';
                *o++ = 'N';
                nulls++;
            } else {
                o += put_field(o, row[i], len[i]);
            }
        }
        /* Each ENUM error value warns once when loaded: the restore
         * accepts exactly this many such warnings for the chunk. */
        for (int k = 0; k < t->nenum; k++) {
            unsigned ci = t->enum_cols[k];
            if (row[ci] && len[ci] == 1 && row[ci][0] == '0')
                ch->enum_errors++;
        }
        /* A row of NULLs only in a table with a NOT NULL column means the
         * columns read are not the table's: never commit such a set. */
        if (nulls == nf && t->not_null) {
            rc = gd_err_set(err, GD_E_STATE,
                            "table %s.%s: read a row of NULLs from a table with NOT NULL "
                            "columns; nothing was committed (please report this)",
                            t->db, t->name);
            goto out;
        }
        *o++ = '\n';
        out.len = (size_t)(o - out.data);
        rows++;
        pending_rows++;
        if (out.len >= OUT_FLUSH) {
            if ((rc = gd_obj_write(ow, out.data, out.len, err)) != 0)
                goto out;
            gd_progress_add(c->progress, out.len, pending_rows);
            pending_rows = 0;
            out.len = 0;
            if (gd_pool_cancelled(pool)) {
                rc = GD_E_CANCEL;
                goto out;
            }
        }
    }
    if (mysql_errno(w->m)) {
        rc = gd_sql_error(w->m, err, q);
        goto out;
    }
    if (out.len && (rc = gd_obj_write(ow, out.data, out.len, err)) != 0)
        goto out;
    gd_progress_add(c->progress, out.len, pending_rows);
    rc = gd_obj_commit(ow, &ch->info, err);
    ow = NULL;
    ch->rows = rows;
    atomic_fetch_add(&t->rows, rows);
out:
    if (res)
        mysql_free_result(res);
    gd_obj_abort(ow);
    gd_buf_free(&out);
    free(name);
    free(q);
    return rc;
}

/* ---- discovery ---- */

/* How one column's value is written so that LOAD DATA (CHARACTER SET
 * binary) turns it back into the same value (docs/backup-restore.md,
 * "Types"); the form is recorded per column in the manifest. */
static const char *append_select_expr(gd_buf *b, const char *qcol, const char *data_type)
{
    if (strcmp(data_type, "float") == 0) {
        /* the text protocol prints FLOAT with 6 significant digits, which
         * does not round-trip; DOUBLE's 17 do */
        gd_buf_appendf(b, "CAST(%s AS DOUBLE)", qcol);
        return NULL;
    }
    if (strcmp(data_type, "inet6") == 0 || strcmp(data_type, "uuid") == 0) {
        /* a binary string of 16 bytes loads as the packed value; the text
         * form would be taken for it when it is 16 characters long */
        gd_buf_appendf(b, "CAST(%s AS BINARY(16))", qcol);
        return "binary";
    }
    if (strcmp(data_type, "inet4") == 0) {
        gd_buf_appendf(b, "CAST(%s AS BINARY(4))", qcol);
        return "binary";
    }
    if (strcmp(data_type, "enum") == 0 || strcmp(data_type, "set") == 0) {
        /* the number: the error value '' and a member '' print alike */
        gd_buf_appendf(b, "CAST(%s AS UNSIGNED)", qcol);
        return "index";
    }
    gd_buf_append(b, qcol, strlen(qcol));
    return NULL;
}

static void add_column(table *t, const char *name, const char *data_type)
{
    char *qc = gd_ident(name);
    if (t->select_cols.len)
        gd_buf_append(&t->select_cols, ",", 1);
    const char *form = append_select_expr(&t->select_cols, qc, data_type);
    free(qc);
    json_array_append_new(t->columns, json_string(name));
    if (strcmp(data_type, "enum") == 0) {
        t->enum_cols = gd_realloc(t->enum_cols, (size_t)(t->nenum + 1) * sizeof *t->enum_cols);
        t->enum_cols[t->nenum++] = (unsigned)json_array_size(t->columns) - 1;
    }
    if (form) {
        if (t->forms == NULL)
            t->forms = json_object();
        json_object_set_new(t->forms, name, json_string(form));
    }
}

static bool is_int_type(const char *data_type)
{
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint"};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        if (strcmp(data_type, ints[k]) == 0)
            return true;
    return false;
}

/* Every per-table fact is looked up by the table's exact identity (schema
 * and name as bytes, common/nameidx.h), never by position: information_schema
 * sorts names by the server's collation (`orders` < `order_items` in
 * utf8mb3_general_ci) while byte order puts them the other way round. */
static int load_tables(ctx *c, MYSQL *m, gd_err *err)
{
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err,
                          "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, IFNULL(t.ENGINE,''), "
                          "IFNULL(t.TABLE_ROWS,0), IFNULL(t.DATA_LENGTH,0), t.TABLE_TYPE, "
                          /* engines known to join the shared consistent snapshot; every
                           * other one (MyISAM, Aria, FederatedX, ...) is dumped under the
                           * global read lock */
                          "IF(e.TRANSACTIONS = 'YES' AND t.ENGINE IN ('InnoDB', 'ROCKSDB'), "
                          "'YES', 'NO') FROM information_schema.TABLES t "
                          "LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE "
                          "WHERE t.TABLE_TYPE IN ('BASE TABLE','SYSTEM VERSIONED') AND "
                          "t.TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY BINARY "
                          "t.TABLE_SCHEMA, BINARY t.TABLE_NAME");
    if (rc != 0)
        return rc;
    size_t n = (size_t)mysql_num_rows(res);
    c->tables = gd_calloc(n + 1, sizeof *c->tables);
    gd_nameidx ix;
    gd_nameidx_init(&ix);
    MYSQL_ROW row;
    size_t i = 0;
    while ((row = mysql_fetch_row(res)) != NULL && i < n) {
        table *t = &c->tables[i];
        t->idx = (int)i;
        t->db = gd_strdup(row[0]);
        t->name = gd_strdup(row[1]);
        t->engine = gd_strdup(row[2]);
        t->rows_est = strtoull(row[3], NULL, 10);
        t->data_len = strtoull(row[4], NULL, 10);
        t->versioned = strcmp(row[5], "SYSTEM VERSIONED") == 0;
        t->transactional = strcmp(row[6], "YES") == 0;
        gd_buf_init(&t->select_cols, 0);
        t->columns = json_array();
        gd_nameidx_add(&ix, t->db, t->name, i);
        i++;
    }
    c->ntables = i;
    mysql_free_result(res);
    if (gd_nameidx_seal(&ix) != 0) {
        gd_nameidx_free(&ix);
        return gd_err_set(err, GD_E_STATE,
                          "the server listed a table twice in information_schema.TABLES; "
                          "run the backup again");
    }

    /* Columns: generated ones are skipped (the server computes them). */
    rc = gd_sql_query(m, &res, err,
                      "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_GENERATED, "
                      "COLUMN_KEY, IS_NULLABLE, COLUMN_TYPE, IFNULL(GENERATION_EXPRESSION,'') "
                      "FROM information_schema.COLUMNS "
                      "WHERE TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY BINARY TABLE_SCHEMA, "
                      "BINARY TABLE_NAME, ORDINAL_POSITION");
    if (rc != 0) {
        gd_nameidx_free(&ix);
        return rc;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        size_t ti;
        if (!gd_nameidx_find(&ix, row[0], row[1], &ti))
            continue; /* a view's columns */
        table *t = &c->tables[ti];
        if (strcmp(row[4], "ALWAYS") == 0) {
            /* A system-versioned table's explicit row start and end columns
             * are data (its history), unless they hold transaction ids,
             * which no server accepts back: then only current rows are
             * kept (docs/backup-restore.md). */
            bool row_time = strcmp(row[8], "ROW START") == 0 || strcmp(row[8], "ROW END") == 0;
            if (!row_time)
                continue;
            t->row_time_cols = true;
            if (strcmp(row[3], "bigint") == 0) {
                t->trx_versioned = true;
                continue;
            }
        }
        if (strcmp(row[5], "PRI") == 0) {
            if (t->npri++ == 0 && is_int_type(row[3])) {
                t->pk = gd_strdup(row[2]);
                t->pk_unsigned = strstr(row[7], "unsigned") != NULL;
            }
        }
        t->not_null |= strcmp(row[6], "NO") == 0;
        add_column(t, row[2], row[3]);
    }
    mysql_free_result(res);
    gd_nameidx_free(&ix);

    for (size_t k = 0; k < c->ntables; k++) {
        table *t = &c->tables[k];
        /* Implicit row start and end columns are in no catalog table: the
         * server names them row_start and row_end. */
        if (t->versioned && !t->row_time_cols) {
            add_column(t, "row_start", "timestamp");
            add_column(t, "row_end", "timestamp");
        }
        if (t->trx_versioned) {
            t->versioned = false; /* current rows only */
            gd_warn("table %s.%s is versioned by transaction id: its history cannot be "
                    "restored by any server, only its current rows are backed up",
                    t->db, t->name);
        }
        /* Range chunks need a single-column integer primary key. */
        if (t->npri != 1) {
            free(t->pk);
            t->pk = NULL;
        }
        if (json_array_size(t->columns) == 0)
            return gd_err_set(err, GD_E_STATE,
                              "table %s.%s: the server reported no columns for it "
                              "(information_schema.COLUMNS); nothing was written",
                              t->db, t->name);
    }
    return 0;
}

/* Splits tables into chunks.  The first chunk has no lower bound and the last
 * none above, so every row is covered whatever the estimates said. */
static int plan_chunks(ctx *c, MYSQL *m, gd_err *err)
{
    size_t cap = c->ntables + 16;
    c->chunks = gd_calloc(cap, sizeof *c->chunks);
    long long chunk_rows = c->opts->chunk_rows > 0 ? c->opts->chunk_rows : 500000;
    const char *sfx = gd_repo_suffix(c->repo);
    for (size_t i = 0; i < c->ntables; i++) {
        table *t = &c->tables[i];
        unsigned long long n = t->rows_est / (unsigned long long)chunk_rows;
        unsigned long long nb = t->data_len / CHUNK_BYTES_TARGET;
        if (nb > n)
            n = nb;
        if (n < 1)
            n = 1;
        if (n > MAX_CHUNKS_PER_TABLE)
            n = MAX_CHUNKS_PER_TABLE;
        unsigned long long lo = 0, step = 0;
        if (n > 1 && t->pk) {
            char *qdb = gd_ident(t->db), *qt = gd_ident(t->name), *qk = gd_ident(t->pk);
            MYSQL_RES *res = NULL;
            int rc =
                gd_sql_query(m, &res, err, "SELECT MIN(%s), MAX(%s) FROM %s.%s", qk, qk, qdb, qt);
            free(qdb);
            free(qt);
            free(qk);
            if (rc != 0)
                return rc;
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row && row[0] && row[1]) {
                unsigned long long a, b;
                if (t->pk_unsigned) {
                    a = strtoull(row[0], NULL, 10);
                    b = strtoull(row[1], NULL, 10);
                } else {
                    a = (unsigned long long)strtoll(row[0], NULL, 10);
                    b = (unsigned long long)strtoll(row[1], NULL, 10);
                }
                unsigned long long span = b - a; /* modular: works for signed too */
                if (span < n)
                    n = span > 0 ? span : 1;
                lo = a;
                step = span / n + 1;
            } else {
                n = 1;
            }
            mysql_free_result(res);
        } else {
            n = 1;
        }
        t->nchunks = (int)n;
        for (unsigned long long k = 0; k < n; k++) {
            if (c->nchunks == cap) {
                cap *= 2;
                c->chunks = gd_realloc(c->chunks, cap * sizeof *c->chunks);
            }
            chunk *ch = &c->chunks[c->nchunks++];
            memset(ch, 0, sizeof *ch);
            ch->t = t;
            ch->idx = (int)k;
            ch->object = gd_asprintf("data/%d-%llu.tsv%s", t->idx, k, sfx);
            if (n > 1) {
                char *qk = gd_ident(t->pk);
                char b1[32], b2[32];
                unsigned long long x1 = lo + k * step, x2 = lo + (k + 1) * step;
                if (t->pk_unsigned) {
                    snprintf(b1, sizeof b1, "%llu", x1);
                    snprintf(b2, sizeof b2, "%llu", x2);
                } else {
                    snprintf(b1, sizeof b1, "%lld", (long long)x1);
                    snprintf(b2, sizeof b2, "%lld", (long long)x2);
                }
                if (k == 0)
                    ch->where = gd_asprintf("%s < %s", qk, b2);
                else if (k == n - 1)
                    ch->where = gd_asprintf("%s >= %s", qk, b1);
                else
                    ch->where = gd_asprintf("%s >= %s AND %s < %s", qk, b1, qk, b2);
                free(qk);
            }
        }
    }
    return 0;
}

/* Chunks of tables outside the snapshot first (they are dumped while the
 * global read lock is held), then the biggest first. */
static int cmp_chunk_size(const void *a, const void *b)
{
    const chunk *x = a, *y = b;
    if (x->t->transactional != y->t->transactional)
        return x->t->transactional ? 1 : -1;
    unsigned long long sx = x->t->data_len / (unsigned long long)x->t->nchunks;
    unsigned long long sy = y->t->data_len / (unsigned long long)y->t->nchunks;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* ---- schema ---- */

/* Runs a SHOW CREATE and appends {name, create, and the named extra
 * columns} to arr. */
static int show_create(MYSQL *m, json_t *arr, json_t *obj, const char *sql, int create_col,
                       const char *const *extra_names, const int *extra_cols, size_t nextra,
                       gd_err *err)
{
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err, "%s", sql);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned nf = mysql_num_fields(res);
    if (row == NULL || (unsigned)create_col >= nf || row[create_col] == NULL) {
        mysql_free_result(res);
        json_decref(obj);
        return gd_err_set(err, GD_E_AUTH,
                          "%s returned no definition (missing privilege? see "
                          "docs/privileges.md)",
                          sql);
    }
    json_object_set_new(obj, "create", json_string(row[create_col]));
    for (size_t i = 0; i < nextra; i++)
        if ((unsigned)extra_cols[i] < nf && row[extra_cols[i]])
            json_object_set_new(obj, extra_names[i], json_string(row[extra_cols[i]]));
    json_array_append_new(arr, obj);
    mysql_free_result(res);
    return 0;
}

static int list_names(MYSQL *m, const char *sql, MYSQL_RES **res, gd_err *err)
{
    return gd_sql_query(m, res, err, "%s", sql);
}

/* Accounts and their grants (--with-users), appended to the schema as
 * "users". */
static int capture_users(MYSQL *m, json_t *s, gd_err *err)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc;
    json_t *users = json_array();
    json_object_set_new(s, "users", users);
    if ((rc = list_names(m,
                         "SELECT User, Host FROM mysql.user WHERE User NOT IN "
                         "('root','mariadb.sys','') AND is_role='N' ORDER BY 1,2",
                         &res, err)) != 0)
        goto out;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char *u = gd_sql_escape(m, row[0]), *h = gd_sql_escape(m, row[1]);
        char *create = NULL;
        rc = gd_sql_value(m, &create, err, "SHOW CREATE USER '%s'@'%s'", u, h);
        json_t *grants = json_array();
        MYSQL_RES *gr = NULL;
        if (rc == 0)
            rc = gd_sql_query(m, &gr, err, "SHOW GRANTS FOR '%s'@'%s'", u, h);
        if (rc == 0) {
            MYSQL_ROW g;
            while ((g = mysql_fetch_row(gr)) != NULL)
                json_array_append_new(grants, json_string(g[0]));
            mysql_free_result(gr);
            json_array_append_new(users, json_pack("{s:s, s:s, s:s, s:o}", "user", row[0], "host",
                                                   row[1], "create", create, "grants", grants));
        } else {
            json_decref(grants);
        }
        free(create);
        free(u);
        free(h);
        if (rc != 0)
            goto out;
    }
    mysql_free_result(res);
    res = NULL;
out:
    if (res)
        mysql_free_result(res);
    return rc;
}

static int capture_schema(ctx *c, MYSQL *m, json_t **out, gd_err *err)
{
    json_t *s = json_object();
    json_t *dbs = json_array(), *tabs = json_array(), *views = json_array(), *trigs = json_array(),
           *routines = json_array(), *events = json_array(), *seqs = json_array();
    json_object_set_new(s, "databases", dbs);
    json_object_set_new(s, "tables", tabs);
    json_object_set_new(s, "views", views);
    json_object_set_new(s, "triggers", trigs);
    json_object_set_new(s, "routines", routines);
    json_object_set_new(s, "events", events);
    json_object_set_new(s, "sequences", seqs);
    /* SHOW CREATE in the layout the restore and the set check read:
     * backquoted names whatever the server's sql_mode (ANSI_QUOTES and
     * ORACLE would print "name"). */
    int rc = gd_sql(m, err, "SET SESSION sql_quote_show_create = 1, sql_mode = ''");
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    if (rc != 0)
        goto out;

    if ((rc = list_names(m,
                         "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
                         "SCHEMA_NAME NOT IN (" SYSTEM_DBS ") ORDER BY 1",
                         &res, err)) != 0)
        goto out;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char *q = gd_ident(row[0]);
        char *sql = gd_asprintf("SHOW CREATE DATABASE %s", q);
        rc = show_create(m, dbs, json_pack("{s:s}", "name", row[0]), sql, 1, NULL, NULL, 0, err);
        free(sql);
        free(q);
        if (rc != 0)
            goto out;
    }
    mysql_free_result(res);
    res = NULL;

    for (size_t i = 0; i < c->ntables; i++) {
        table *t = &c->tables[i];
        char *qd = gd_ident(t->db), *qt = gd_ident(t->name);
        char *sql = gd_asprintf("SHOW CREATE TABLE %s.%s", qd, qt);
        rc = show_create(m, tabs, json_pack("{s:s, s:s}", "db", t->db, "name", t->name), sql, 1,
                         NULL, NULL, 0, err);
        free(sql);
        free(qd);
        free(qt);
        if (rc != 0)
            goto out;
    }

    static const char *const view_x[] = {"character_set_client", "collation_connection"};
    static const int view_c[] = {2, 3};
    static const char *const trig_x[] = {"sql_mode", "character_set_client",
                                         "collation_connection"};
    static const int trig_c[] = {1, 3, 4};
    static const char *const rout_x[] = {"sql_mode", "character_set_client",
                                         "collation_connection"};
    static const int rout_c[] = {1, 3, 4};
    static const char *const ev_x[] = {"sql_mode", "time_zone", "character_set_client",
                                       "collation_connection"};
    static const int ev_c[] = {1, 2, 4, 5};
    struct {
        const char *list_sql;
        const char *show;
        json_t *arr;
        int create_col;
        const char *const *xn;
        const int *xc;
        size_t nx;
    } kinds[] = {
        {"SELECT TABLE_SCHEMA, TABLE_NAME, 'VIEW' FROM information_schema.VIEWS WHERE "
         "TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
         "VIEW", views, 1, view_x, view_c, 2},
        {"SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
         "WHERE "
         "TRIGGER_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
         "TRIGGER", trigs, 2, trig_x, trig_c, 3},
        {"SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
         "WHERE ROUTINE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
         NULL, routines, 2, rout_x, rout_c, 3},
        {"SELECT TABLE_SCHEMA, TABLE_NAME, 'SEQUENCE' FROM information_schema.TABLES WHERE "
         "TABLE_TYPE='SEQUENCE' AND TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
         "SEQUENCE", seqs, 1, NULL, NULL, 0},
        {"SELECT EVENT_SCHEMA, EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE "
         "EVENT_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
         "EVENT", events, 3, ev_x, ev_c, 4},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if ((rc = list_names(m, kinds[k].list_sql, &res, err)) != 0)
            goto out;
        while ((row = mysql_fetch_row(res)) != NULL) {
            char *qd = gd_ident(row[0]), *qn = gd_ident(row[1]);
            const char *type = kinds[k].show ? kinds[k].show : row[2];
            char *sql = gd_asprintf("SHOW CREATE %s %s.%s", type, qd, qn);
            rc = show_create(m, kinds[k].arr,
                             json_pack("{s:s, s:s, s:s, s:s}", "db", row[0], "name", row[1], "type",
                                       type, "on", row[2]),
                             sql, kinds[k].create_col, kinds[k].xn, kinds[k].xc, kinds[k].nx, err);
            free(sql);
            free(qd);
            free(qn);
            if (rc != 0)
                goto out;
        }
        mysql_free_result(res);
        res = NULL;
    }

    /* A sequence also needs the next value it will hand out. */
    size_t si;
    json_t *sq;
    json_array_foreach(seqs, si, sq)
    {
        char *qd = gd_ident(gd_json_str(sq, "db", "")), *qn = gd_ident(gd_json_str(sq, "name", ""));
        char *next = NULL;
        rc = gd_sql_value(m, &next, err, "SELECT next_not_cached_value FROM %s.%s", qd, qn);
        if (rc == 0)
            json_object_set_new(sq, "next", json_string(next));
        free(next);
        free(qd);
        free(qn);
        if (rc != 0)
            goto out;
    }

    if (c->opts->with_users)
        rc = capture_users(m, s, err);
out:
    if (res)
        mysql_free_result(res);
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    *out = s;
    return 0;
}

typedef struct schema_job {
    ctx *c;
    MYSQL *m;
    json_t *schema;
    int rc;
    gd_err err;
} schema_job;

static void *schema_thread(void *arg)
{
    schema_job *sj = arg;
    sj->rc = capture_schema(sj->c, sj->m, &sj->schema, &sj->err);
    return NULL;
}

static int write_schema(ctx *c, json_t *schema, json_t *manifest, gd_err *err)
{
    char *text = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise schema");
    char *rel = gd_asprintf("schema.json%s", gd_repo_suffix(c->repo));
    char *name = gd_repo_object_name(c->repo, c->set_id, rel);
    gd_obj_writer *w = NULL;
    gd_obj_info info;
    int rc = gd_obj_create(c->repo, name, &w, err);
    if (rc == 0) {
        rc = gd_obj_write(w, text, strlen(text), err);
        if (rc == 0)
            rc = gd_obj_commit(w, &info, err);
        else
            gd_obj_abort(w);
    }
    if (rc == 0)
        json_object_set_new(manifest, "schema",
                            json_pack("{s:s, s:I, s:I, s:s}", "object", rel, "raw_size",
                                      (json_int_t)info.raw_size, "size", (json_int_t)info.size,
                                      "sha256", info.sha256));
    free(name);
    free(rel);
    free(text);
    return rc;
}

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
        rc = gd_pool_run(ws, sizeof *ws, jobs, nlocked, dump_chunk, c->progress, err);
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
    if (rc == 0) {
        schema_job sj = {.c = c, .m = m};
        gd_err_clear(&sj.err);
        pthread_t th;
        bool threaded = pthread_create(&th, NULL, schema_thread, &sj) == 0;
        if (!threaded)
            schema_thread(&sj);
        rc = gd_pool_run(ws, sizeof *ws, jobs, c->nchunks - c->first, dump_chunk, c->progress, err);
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

/* The manifest's "tables": each with its chunks back at their index (the
 * workers took them biggest first); the totals of rows and bytes. */
static json_t *tables_json(const ctx *c, unsigned long long *rows, unsigned long long *raw,
                           unsigned long long *stored)
{
    json_t *tarr = json_array();
    for (size_t i = 0; i < c->ntables; i++) {
        table *t = &c->tables[i];
        json_t *jt = json_pack("{s:s, s:s, s:s, s:O, s:I, s:o}", "db", t->db, "name", t->name,
                               "engine", t->engine, "columns", t->columns, "rows",
                               (json_int_t)atomic_load(&t->rows), "chunks", json_array());
        if (t->versioned)
            json_object_set_new(jt, "versioned", json_true()); /* rows include history */
        if (t->forms)
            json_object_set_new(jt, "forms", json_incref(t->forms));
        /* Not as of the set's position: a point-in-time restore of it would
         * replay changes it already holds. */
        if (!t->transactional && c->opts->no_lock_nontransactional)
            json_object_set_new(jt, "consistent", json_false());
        json_t *arr = json_object_get(jt, "chunks");
        for (int ci = 0; ci < t->nchunks; ci++)
            json_array_append_new(arr, json_null());
        json_array_append_new(tarr, jt);
    }
    for (size_t k = 0; k < c->nchunks; k++) {
        chunk *ch = &c->chunks[k];
        json_t *arr = json_object_get(json_array_get(tarr, (size_t)ch->t->idx), "chunks");
        json_t *jc = json_pack("{s:s, s:I, s:I, s:I, s:s}", "object", ch->object, "rows",
                               (json_int_t)ch->rows, "raw_size", (json_int_t)ch->info.raw_size,
                               "size", (json_int_t)ch->info.size, "sha256", ch->info.sha256);
        if (ch->enum_errors)
            json_object_set_new(jc, "enum_errors", json_integer((json_int_t)ch->enum_errors));
        json_array_set_new(arr, (size_t)ch->idx, jc);
        *rows += ch->rows;
        *raw += ch->info.raw_size;
        *stored += ch->info.size;
    }
    return tarr;
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
        json_decref(t->forms);
        free(t->enum_cols);
        json_decref(t->columns);
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
    esc_init();
    ctx c = {.repo = repo, .src = src, .opts = opts};
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    worker *ws = gd_calloc((size_t)jobs, sizeof *ws);
    MYSQL *m = NULL;
    json_t *manifest = NULL, *schema = NULL;
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
    if ((rc = load_tables(&c, m, err)) != 0 || (rc = plan_chunks(&c, m, err)) != 0)
        goto out;
    qsort(c.chunks, c.nchunks, sizeof *c.chunks, cmp_chunk_size);
    if ((rc = open_workers(&c, ws, jobs, err)) != 0 ||
        (rc = take_snapshot(m, ws, jobs, &sp, err)) != 0 ||
        (rc = dump_data(&c, m, ws, jobs, &sp, &schema, err)) != 0)
        goto out;

    /* Manifest: written last, it commits the set. */
    size_t nontx_tables = 0;
    for (size_t i = 0; i < c.ntables; i++)
        nontx_tables += !c.tables[i].transactional;
    manifest = json_object();
    int64_t end_us = gd_now_us();
    char t1[32], t2[32];
    gd_fmt_time(start_us, false, t1, sizeof t1);
    gd_fmt_time(end_us, false, t2, sizeof t2);
    json_object_set_new(manifest, "format", json_string("geodr-manifest"));
    json_object_set_new(manifest, "version", json_integer(GD_REPO_FORMAT_VERSION));
    json_object_set_new(manifest, "set", json_string(res->set_id));
    json_object_set_new(manifest, "instance", json_string(repo->instance));
    json_object_set_new(manifest, "method", json_string("logical"));
    json_object_set_new(manifest, "start", json_string(t1));
    json_object_set_new(manifest, "end", json_string(t2));
    json_object_set_new(manifest, "start_us", json_integer(start_us));
    json_object_set_new(manifest, "end_us", json_integer(end_us));
    json_object_set_new(manifest, "gtid", json_string(sp.gtid));
    json_object_set_new(manifest, "binlog_file", json_string(sp.binlog_file ? sp.binlog_file : ""));
    json_object_set_new(manifest, "binlog_pos",
                        json_integer(sp.binlog_pos ? strtoll(sp.binlog_pos, NULL, 10) : 0));
    json_object_set_new(manifest, "server_version", json_string(version));
    json_object_set_new(manifest, "cipher", json_string(repo->encrypted ? "aes-256-gcm" : "none"));
    json_object_set_new(manifest, "compression", json_string("zstd"));
    json_object_set_new(manifest, "lock_seconds", json_real(sp.lock_s));
    json_object_set_new(manifest, "nontransactional_tables",
                        json_integer((json_int_t)nontx_tables));
    json_object_set_new(manifest, "nontransactional_locked",
                        json_boolean(!opts->no_lock_nontransactional));
    unsigned long long rows = 0, raw = 0, stored = 0;
    json_object_set_new(manifest, "tables", tables_json(&c, &rows, &raw, &stored));
    /* The set checks itself before it commits (repo/setcheck.h): every
     * table's columns against its CREATE TABLE, the row counts. */
    json_t *problems = json_array();
    if (gd_set_check(manifest, schema, problems) > 0) {
        char *msg = gd_set_check_message(problems);
        rc = gd_err_set(err, GD_E_STATE,
                        "backup %s failed its own check, nothing was committed: %s (please "
                        "report this with the table's SHOW CREATE TABLE)",
                        res->set_id, msg);
        free(msg);
    }
    json_decref(problems);
    if (rc != 0 || (rc = write_schema(&c, schema, manifest, err)) != 0)
        goto out;
    json_t *sch = json_object_get(manifest, "schema");
    raw += (unsigned long long)gd_json_int(sch, "raw_size", 0);
    stored += (unsigned long long)gd_json_int(sch, "size", 0);
    res->seconds = gd_mono() - t0;
    json_object_set_new(manifest, "totals",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "rows", (json_int_t)rows,
                                  "raw_bytes", (json_int_t)raw, "stored_bytes", (json_int_t)stored,
                                  "tables", (json_int_t)c.ntables, "objects",
                                  (json_int_t)(c.nchunks + 1), "seconds", res->seconds));
    gd_test_pause("backup-commit");
    if ((rc = gd_lock_check(lk, err)) != 0 ||
        (rc = gd_manifest_write(repo, res->set_id, manifest, err)) != 0)
        goto out;
    res->rows = rows;
    res->raw_bytes = raw;
    res->stored_bytes = stored;
    res->tables = c.ntables;
    res->objects = c.nchunks + 1;
    gd_strlcpy(res->gtid, sp.gtid, sizeof res->gtid);
out:
    for (int i = 0; i < jobs; i++)
        gd_conn_close(ws[i].m);
    free(ws);
    gd_conn_close(m);
    ctx_free(&c);
    json_decref(manifest);
    json_decref(schema);
    free(sp.gtid);
    free(sp.binlog_file);
    free(sp.binlog_pos);
    free(version);
    gd_lock_release(lk);
    return rc;
}
