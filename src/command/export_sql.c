#include "command/export_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_export_sql_string(gd_buf *b, const char *p, size_t n, bool with_binary)
{
    gd_buf_append(b, with_binary ? "_binary'" : "'", with_binary ? 8 : 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = p[i] == '\\'   ? "\\\\"
                        : p[i] == '\'' ? "\\'"
                        : p[i] == '\n' ? "\\n"
                        : p[i] == '\r' ? "\\r"
                        : p[i] == '\t' ? "\\t"
                                       : NULL;
        if (e == NULL)
            continue;
        gd_buf_append(b, p + start, i - start);
        gd_buf_append(b, e, 2);
        start = i + 1;
    }
    gd_buf_append(b, p + start, n - start);
    gd_buf_append(b, "'", 1);
}

static void put_hex(gd_buf *b, const char *p, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    gd_buf_reserve(b, 2 * n + 3);
    char *o = b->data + b->len;
    *o++ = 'X';
    *o++ = '\'';
    for (size_t i = 0; i < n; i++) {
        *o++ = hx[(unsigned char)p[i] >> 4];
        *o++ = hx[(unsigned char)p[i] & 15];
    }
    *o++ = '\'';
    b->len = (size_t)(o - b->data);
}

/* Text the mariadb client passes on unchanged: printable ASCII, tab,
 * newline, carriage return (escaped), and well-formed UTF-8 (no overlong
 * forms, surrogates or code points past U+10FFFF). */
static bool is_text(const unsigned char *p, size_t n, bool *ascii)
{
    *ascii = true;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return false;
            i++;
            continue;
        }
        *ascii = false;
        size_t len = c >= 0xF0 && c <= 0xF4   ? 4
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xC2 && c <= 0xDF ? 2
                                              : 0;
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        unsigned c1 = p[i + 1];
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 >= 0x90))
            return false;
        i += len;
    }
    return true;
}

bool gd_export_sql_value(gd_buf *b, const char *p, size_t n, bool null, gd_mf_form form)
{
    bool ascii;
    if (null) {
        gd_buf_append(b, "NULL", 4);
    } else if (form == GD_MF_FORM_INDEX) {
        for (size_t i = 0; i < n; i++)
            if (p[i] < '0' || p[i] > '9')
                return false;
        if (n == 0)
            return false;
        gd_buf_append(b, p, n);
    } else if (form == GD_MF_FORM_BINARY || !is_text((const unsigned char *)p, n, &ascii)) {
        put_hex(b, p, n);
    } else {
        gd_export_sql_string(b, p, n, !ascii);
    }
    return true;
}

/* ---- rows ---- */

struct gd_export_inserts {
    const gd_mf_table *mt;
    const gd_mf_object *chunk; /* being read */
    size_t max_stmt;
    gd_export_write_fn write;
    void *wctx;
    char *head;        /* INSERT INTO ... VALUES */
    gd_buf stmt, row;  /* the statement being built, the row's bytes */
    size_t *off, *len; /* of each field in row */
    bool *null;
    size_t nf;      /* fields so far in the row */
    bool esc;       /* after a backslash */
    uint64_t rows;  /* of the chunk */
    uint64_t total; /* of the chunks ended */
};

gd_export_inserts *gd_export_inserts_new(const gd_mf_table *mt, size_t max_stmt,
                                         gd_export_write_fn write, void *wctx)
{
    gd_export_inserts *s = gd_calloc(1, sizeof *s);
    size_t nc = mt->ncolumns;
    *s = (gd_export_inserts){.mt = mt,
                             .max_stmt = max_stmt,
                             .write = write,
                             .wctx = wctx,
                             .off = gd_calloc(nc + 1, sizeof(size_t)),
                             .len = gd_calloc(nc + 1, sizeof(size_t)),
                             .null = gd_calloc(nc + 1, sizeof(bool))};
    gd_buf_init(&s->stmt, 0);
    gd_buf_init(&s->row, 0);
    gd_buf h;
    gd_buf_init(&h, 0);
    char *qd = gd_ident(mt->db), *qt = gd_ident(mt->name);
    gd_buf_appendf(&h, "INSERT INTO %s.%s (", qd, qt);
    for (size_t i = 0; i < nc; i++) {
        char *qc = gd_ident(mt->columns[i].name);
        gd_buf_appendf(&h, "%s%s", i ? "," : "", qc);
        free(qc);
    }
    gd_buf_appendf(&h, ") VALUES\n");
    s->head = h.data;
    free(qd);
    free(qt);
    return s;
}

void gd_export_inserts_free(gd_export_inserts *s)
{
    if (s == NULL)
        return;
    free(s->head);
    gd_buf_free(&s->stmt);
    gd_buf_free(&s->row);
    free(s->off);
    free(s->len);
    free(s->null);
    free(s);
}

void gd_export_inserts_begin(gd_export_inserts *s, const gd_mf_object *chunk)
{
    s->chunk = chunk;
}

uint64_t gd_export_inserts_rows(const gd_export_inserts *s)
{
    return s->total;
}

static int corrupt(gd_export_inserts *s, const char *what, gd_err *err)
{
    return gd_err_set(err, GD_E_CORRUPT, "object %s (table %s.%s): %s",
                      s->chunk ? s->chunk->object : "?", s->mt->db, s->mt->name, what);
}

static int flush_stmt(gd_export_inserts *s, gd_err *err)
{
    if (s->stmt.len == 0)
        return 0;
    gd_buf_append(&s->stmt, ";\n", 2);
    int rc = s->write(s->wctx, s->stmt.data, s->stmt.len, err);
    s->stmt.len = 0;
    return rc;
}

int gd_export_inserts_finish(gd_export_inserts *s, gd_err *err)
{
    return flush_stmt(s, err);
}

static size_t field_start(const gd_export_inserts *s)
{
    return s->nf ? s->off[s->nf - 1] + s->len[s->nf - 1] : 0;
}

static int end_field(gd_export_inserts *s, gd_err *err)
{
    if (s->nf >= s->mt->ncolumns)
        return corrupt(s, "a row has more fields than the table has columns", err);
    size_t start = field_start(s);
    s->off[s->nf] = start;
    s->len[s->nf] = s->row.len - start;
    s->nf++;
    return 0;
}

static int end_row(gd_export_inserts *s, gd_err *err)
{
    int rc = end_field(s, err);
    if (rc == 0 && s->nf != s->mt->ncolumns)
        rc = corrupt(s, "a row has fewer fields than the table has columns", err);
    if (rc != 0)
        return rc;
    gd_buf *b = &s->stmt;
    size_t undo = b->len;
    if (b->len == 0)
        gd_buf_append(b, s->head, strlen(s->head));
    else
        gd_buf_append(b, ",\n", 2);
    for (size_t i = 0; i < s->nf; i++) {
        gd_buf_append(b, i ? "," : "(", 1);
        if (!gd_export_sql_value(b, s->row.data + s->off[i], s->len[i], s->null[i],
                                 s->mt->columns[i].form)) {
            b->len = undo;
            return corrupt(s, "an ENUM or SET index is not a number", err);
        }
        s->null[i] = false;
    }
    gd_buf_append(b, ")", 1);
    s->nf = 0;
    s->row.len = 0;
    s->rows++;
    return b->len >= s->max_stmt ? flush_stmt(s, err) : 0;
}

int gd_export_inserts_feed(gd_export_inserts *s, const char *p, size_t n, gd_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char c = p[i];
        if (s->esc) {
            s->esc = false;
            /* \N alone is NULL (dump.c writes nothing else after it) */
            if (c == 'N' && s->row.len == field_start(s) && s->nf < s->mt->ncolumns) {
                s->null[s->nf] = true;
                continue;
            }
            c = c == '0' ? '\0' : c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
            gd_buf_append(&s->row, &c, 1);
        } else if (c == '\\') {
            s->esc = true;
        } else if (c == '\t') {
            rc = end_field(s, err);
        } else if (c == '\n') {
            rc = end_row(s, err);
        } else {
            size_t run = 1;
            while (i + run < n && p[i + run] != '\\' && p[i + run] != '\t' && p[i + run] != '\n')
                run++;
            gd_buf_append(&s->row, p + i, run);
            i += run - 1;
        }
    }
    return rc;
}

int gd_export_inserts_end(gd_export_inserts *s, gd_err *err)
{
    if (s->esc || s->nf || s->row.len)
        return corrupt(s, "it ends inside a row", err);
    if (s->chunk && s->rows != s->chunk->rows) {
        char what[128];
        snprintf(what, sizeof what, "it holds %llu rows, the manifest says %llu",
                 (unsigned long long)s->rows, (unsigned long long)s->chunk->rows);
        return corrupt(s, what, err);
    }
    s->total += s->rows;
    s->rows = 0;
    return 0;
}
