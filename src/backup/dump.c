/* Rows of one chunk as LOAD DATA text (docs/repository-format.md, "Data
 * object contents"), written through the object pipeline. */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "backup/backup.intern.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "common/util.h"

/* ---- TSV in LOAD DATA's default escaping ---- */

static const uint8_t esc_map[256] = {[0] = '0', ['\t'] = 't', ['\n'] = 'n', ['\\'] = '\\'};

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

int backup_dump_chunk(gd_pool *pool, void *wv, size_t job, gd_err *err)
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
    /* Without a repository (gd_backup_digest) the rows are only digested. */
    char *name = c->repo ? gd_repo_object_name(c->repo, c->set_id, ch->object) : NULL;
    if (name && (rc = gd_obj_create(c->repo, name, &ow, err)) != 0)
        goto out;
    if (mysql_real_query(w->m, q, strlen(q)) != 0 || (res = mysql_use_result(w->m)) == NULL) {
        rc = gd_sql_error(w->m, err, q);
        goto out;
    }
    unsigned nf = mysql_num_fields(res);
    if (nf == 0 || nf != t->ncolumns) {
        rc = gd_err_set(err, GD_E_STATE,
                        "table %s.%s: the server returned %u columns, the backup expected %zu "
                        "(was the table altered during the backup? nothing was committed)",
                        t->db, t->name, nf, t->ncolumns);
        goto out;
    }
    MYSQL_ROW row;
    unsigned long long rows = 0, pending_rows = 0;
    uint64_t digest = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        size_t need = nf + 2;
        for (unsigned i = 0; i < nf; i++)
            need += row[i] ? 2 * len[i] : 2;
        if ((rc = gd_buf_reserve(&out, need)) != 0) {
            rc = gd_err_set(err, GD_E_NOMEM, "row too large in %s.%s", t->db, t->name);
            goto out;
        }
        char *line = out.data + out.len, *o = line;
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
        /* The set's row digest (docs/repository-format.md, "digest"): the
         * sum of each row's line's XXH3, so it does not depend on order. */
        digest += XXH3_64bits(line, (size_t)(o - line));
        *o++ = '\n';
        out.len = (size_t)(o - out.data);
        rows++;
        pending_rows++;
        if (out.len >= OUT_FLUSH) {
            if (ow && (rc = gd_obj_write(ow, out.data, out.len, err)) != 0)
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
    if (ow && out.len && (rc = gd_obj_write(ow, out.data, out.len, err)) != 0)
        goto out;
    gd_progress_add(c->progress, out.len, pending_rows);
    if (ow)
        rc = gd_obj_commit(ow, &ch->info, err);
    ow = NULL;
    ch->rows = rows;
    atomic_fetch_add(&t->rows, rows);
    atomic_fetch_add(&t->digest, digest); /* modulo 2^64, like the chunk's sum */
out:
    if (res)
        mysql_free_result(res);
    gd_obj_abort(ow);
    gd_buf_free(&out);
    free(name);
    free(q);
    return rc;
}
