#include "common/json.h"
#include "repo/setcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/nameidx.h"
#include "common/util.h"
#include "repo/repo.h"

/* Skips a quoted token starting at p (', " or `); returns the byte after its
 * closing quote, or end when it is not closed.  Inside ' and " a backslash
 * escapes the next byte (SHOW CREATE prints strings that way); a doubled
 * quote stands for itself. */
static const char *skip_quoted(const char *p, const char *end)
{
    char q = *p++;
    while (p < end) {
        if (*p == '\\' && q != '`' && p + 1 < end) {
            p += 2;
            continue;
        }
        if (*p == q) {
            if (p + 1 < end && p[1] == q) {
                p += 2;
                continue;
            }
            return p + 1;
        }
        p++;
    }
    return end;
}

static bool word_char(char c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (unsigned char)c >= 0x80;
}

/* Whether the keyword phrase kw (upper case, single spaces) occurs in
 * [p, end) outside quoted tokens, on word boundaries. */
static bool has_phrase(const char *p, const char *end, const char *kw)
{
    size_t kl = strlen(kw);
    bool word_start = true;
    while (p < end) {
        if (*p == '\'' || *p == '"' || *p == '`') {
            p = skip_quoted(p, end);
            word_start = true;
            continue;
        }
        if (word_start && (size_t)(end - p) >= kl && strncmp(p, kw, kl) == 0 &&
            (p + kl == end || !word_char(kw[kl - 1]) || !word_char(p[kl])))
            return true;
        word_start = !word_char(*p++);
    }
    return false;
}

/* The identifier in backquotes at p (`` stands for `), as a new string;
 * *next is the byte after it.  NULL when p does not hold one. */
static char *quoted_ident(const char *p, const char *end, const char **next)
{
    if (p >= end || *p != '`')
        return NULL;
    const char *q = skip_quoted(p, end);
    if (q == end && (q - p < 2 || q[-1] != '`'))
        return NULL;
    gd_buf b;
    gd_buf_init(&b, 0);
    for (const char *s = p + 1; s < q - 1; s++) {
        gd_buf_append(&b, s, 1);
        if (*s == '`')
            s++; /* the doubled quote */
    }
    *next = q;
    if (b.data == NULL)
        return gd_strdup("");
    return b.data;
}

json_t *gd_create_table_columns(const char *create, bool *versioned)
{
    if (versioned)
        *versioned = false;
    if (create == NULL || strncmp(create, "CREATE TABLE ", 13) != 0)
        return NULL;
    const char *p = strchr(create, '\n');
    if (p == NULL)
        return NULL;
    p++;
    json_t *cols = json_array();
    bool explicit_period = false;
    size_t ncols_seen = 0;
    while (*p && *p != ')') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            goto bad;
        if (strncmp(p, "  `", 3) == 0) {
            ncols_seen++;
            const char *rest = NULL;
            char *name = quoted_ident(p + 2, eol, &rest);
            if (name == NULL)
                goto bad;
            bool row_time = has_phrase(rest, eol, "GENERATED ALWAYS AS ROW START") ||
                            has_phrase(rest, eol, "GENERATED ALWAYS AS ROW END");
            explicit_period |= row_time;
            /* transaction-id row times: no server takes them back, so the
             * backup keeps current rows only, without these columns */
            bool trx_time = row_time && strncmp(rest, " bigint", 7) == 0;
            if (!trx_time && (row_time || (!has_phrase(rest, eol, "GENERATED ALWAYS AS") &&
                                           !has_phrase(rest, eol, "AS (") /* older form */)))
                json_array_append_new(cols, json_string(name));
            free(name);
        }
        p = eol + 1;
    }
    if (*p != ')' || ncols_seen == 0)
        goto bad; /* not the layout this parser knows: nothing to compare */
    bool vers = has_phrase(p, p + strlen(p), "WITH SYSTEM VERSIONING");
    if (vers && !explicit_period) {
        json_array_append_new(cols, json_string("row_start"));
        json_array_append_new(cols, json_string("row_end"));
    }
    if (versioned)
        *versioned = vers || explicit_period;
    return cols;
bad:
    json_decref(cols);
    return NULL;
}

static size_t problem(gd_set_problems *problems, const gd_mf_table *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t problem(gd_set_problems *problems, const gd_mf_table *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *qd = gd_ident(t->db), *qt = gd_ident(t->name);
    problems->v = gd_realloc(problems->v, (problems->n + 1) * sizeof *problems->v);
    problems->v[problems->n++] =
        (gd_set_problem){.table = gd_asprintf("%s.%s", qd, qt), .problem = gd_strdup(msg)};
    free(qd);
    free(qt);
    return 1;
}

/* The columns of t against its CREATE TABLE (create). */
static size_t check_columns(const gd_mf_table *t, const char *create, gd_set_problems *problems)
{
    json_t *want = gd_create_table_columns(create, NULL);
    size_t nbad = 0;
    if (want == NULL)
        return 0; /* a layout this check does not know: nothing to compare */
    if (json_array_size(want) != t->ncolumns) {
        nbad = problem(problems, t, "the set holds %zu columns for it but its CREATE TABLE has %zu",
                       t->ncolumns, json_array_size(want));
    } else {
        /* both in column order: a name out of place is a shifted value */
        for (size_t k = 0; k < t->ncolumns; k++) {
            const char *got = t->columns[k].name;
            const char *exp = json_string_value(json_array_get(want, k));
            if (strcmp(got, exp) != 0) {
                nbad = problem(problems, t,
                               "column %zu of the set is %s where its CREATE TABLE has %s", k + 1,
                               got, exp);
                break;
            }
        }
    }
    json_decref(want);
    return nbad;
}

size_t gd_set_check(const gd_manifest *m, json_t *schema, gd_set_problems *problems)
{
    size_t nbad = 0, i;
    json_t *st;
    gd_nameidx ix;
    gd_nameidx_init(&ix);
    json_t *stabs = schema ? json_object_get(schema, "tables") : NULL;
    json_array_foreach(stabs, i, st)
        gd_nameidx_add(&ix, gd_json_str(st, "db", ""), gd_json_str(st, "name", ""), i);
    gd_nameidx_seal(&ix);
    for (i = 0; i < m->ntables; i++) {
        const gd_mf_table *t = &m->tables[i];
        if (t->ncolumns == 0) {
            nbad += problem(problems, t,
                            "the set holds no columns for it, so its rows cannot be restored");
            continue;
        }
        if (t->nchunks == 0) {
            nbad += problem(problems, t, "the set holds no data object for it");
            continue;
        }
        uint64_t sum = 0;
        bool over = false;
        for (size_t c = 0; c < t->nchunks; c++) {
            over |= t->chunks[c].rows > UINT64_MAX - sum;
            sum += t->chunks[c].rows;
        }
        if (over || sum != t->rows) {
            nbad += problem(problems, t, "its chunks hold %s%llu rows but the set says %llu",
                            over ? "more than " : "", (unsigned long long)sum,
                            (unsigned long long)t->rows);
            continue;
        }
        size_t si;
        if (schema == NULL)
            continue;
        if (!gd_nameidx_find(&ix, t->db, t->name, &si))
            nbad += problem(problems, t, "the set's schema has no CREATE TABLE for it");
        else
            nbad +=
                check_columns(t, gd_json_str(json_array_get(stabs, si), "create", ""), problems);
    }
    gd_nameidx_free(&ix);
    return nbad;
}

void gd_set_problems_free(gd_set_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].table);
        free(p->v[i].problem);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

char *gd_set_check_message(const gd_set_problems *problems)
{
    size_t n = problems->n;
    char more[64] = "";
    if (n > 1)
        snprintf(more, sizeof more, " (and %zu more table%s)", n - 1, n > 2 ? "s" : "");
    return gd_asprintf("table %s: %s%s", n ? problems->v[0].table : "?",
                       n ? problems->v[0].problem : "?", more);
}
