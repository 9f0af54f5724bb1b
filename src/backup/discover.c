/* Which tables a backup takes, their columns in the form each is written in,
 * and how they are cut into chunks (docs/backup-restore.md). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backup/backup.intern.h"
#include "common/defaults.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "common/util.h"

/* ---- discovery ---- */

/* How one column's value is written so that LOAD DATA (CHARACTER SET
 * binary) turns it back into the same value (docs/backup-restore.md,
 * "Types"); the form is recorded per column in the manifest. */
static gd_mf_form append_select_expr(gd_buf *b, const char *qcol, const char *data_type)
{
    if (strcmp(data_type, "float") == 0) {
        /* the text protocol prints FLOAT with 6 significant digits, which
         * does not round-trip; DOUBLE's 17 do */
        gd_buf_appendf(b, "CAST(%s AS DOUBLE)", qcol);
        return GD_MF_FORM_TEXT;
    }
    if (strcmp(data_type, "inet6") == 0 || strcmp(data_type, "uuid") == 0) {
        /* a binary string of 16 bytes loads as the packed value; the text
         * form would be taken for it when it is 16 characters long */
        gd_buf_appendf(b, "CAST(%s AS BINARY(16))", qcol);
        return GD_MF_FORM_BINARY;
    }
    if (strcmp(data_type, "inet4") == 0) {
        gd_buf_appendf(b, "CAST(%s AS BINARY(4))", qcol);
        return GD_MF_FORM_BINARY;
    }
    if (strcmp(data_type, "enum") == 0 || strcmp(data_type, "set") == 0) {
        /* the number: the error value '' and a member '' print alike */
        gd_buf_appendf(b, "CAST(%s AS UNSIGNED)", qcol);
        return GD_MF_FORM_INDEX;
    }
    gd_buf_append(b, qcol, strlen(qcol));
    return GD_MF_FORM_TEXT;
}

static void add_column(table *t, const char *name, const char *data_type)
{
    char *qc = gd_ident(name);
    if (t->select_cols.len)
        gd_buf_append(&t->select_cols, ",", 1);
    gd_mf_form form = append_select_expr(&t->select_cols, qc, data_type);
    free(qc);
    t->columns = gd_realloc(t->columns, (t->ncolumns + 1) * sizeof *t->columns);
    t->columns[t->ncolumns++] = (gd_mf_column){.name = gd_strdup(name), .form = form};
    if (strcmp(data_type, "enum") == 0) {
        t->enum_cols = gd_realloc(t->enum_cols, (size_t)(t->nenum + 1) * sizeof *t->enum_cols);
        t->enum_cols[t->nenum++] = (unsigned)t->ncolumns - 1;
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
int backup_load_tables(ctx *c, MYSQL *m, gd_err *err)
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
    gd_nameidx ix, only;
    gd_nameidx_init(&ix);
    gd_nameidx_init(&only);
    if (c->only) {
        for (size_t k = 0; k < c->only->ntables; k++)
            gd_nameidx_add(&only, c->only->tables[k].db, c->only->tables[k].name, k);
        gd_nameidx_seal(&only);
    }
    MYSQL_ROW row;
    size_t i = 0;
    while ((row = mysql_fetch_row(res)) != NULL && i < n) {
        size_t unused;
        if (c->only && !gd_nameidx_find(&only, row[0], row[1], &unused))
            continue;
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
        gd_nameidx_add(&ix, t->db, t->name, i);
        i++;
    }
    c->ntables = i;
    mysql_free_result(res);
    gd_nameidx_free(&only);
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
        if (t->ncolumns == 0)
            return gd_err_set(err, GD_E_STATE,
                              "table %s.%s: the server reported no columns for it "
                              "(information_schema.COLUMNS); nothing was written",
                              t->db, t->name);
    }
    return 0;
}

/* Splits tables into chunks.  The first chunk has no lower bound and the last
 * none above, so every row is covered whatever the estimates said. */
int backup_plan_chunks(ctx *c, MYSQL *m, gd_err *err)
{
    size_t cap = c->ntables + 16;
    c->chunks = gd_calloc(cap, sizeof *c->chunks);
    long long chunk_rows = c->opts->chunk_rows > 0 ? c->opts->chunk_rows : GD_DEFAULT_CHUNK_ROWS;
    const char *sfx = c->repo ? gd_repo_suffix(c->repo) : "";
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
int backup_cmp_chunk_size(const void *a, const void *b)
{
    const chunk *x = a, *y = b;
    if (x->t->transactional != y->t->transactional)
        return x->t->transactional ? 1 : -1;
    unsigned long long sx = x->t->data_len / (unsigned long long)x->t->nchunks;
    unsigned long long sy = y->t->data_len / (unsigned long long)y->t->nchunks;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}
