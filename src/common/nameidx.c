#include "common/nameidx.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void gd_nameidx_init(gd_nameidx *ix)
{
    memset(ix, 0, sizeof *ix);
}

void gd_nameidx_free(gd_nameidx *ix)
{
    free(ix->e);
    memset(ix, 0, sizeof *ix);
}

void gd_nameidx_add(gd_nameidx *ix, const char *schema, const char *name, size_t value)
{
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 64;
        ix->e = gd_realloc(ix->e, ix->cap * sizeof *ix->e);
    }
    ix->e[ix->n++] = (gd_nameidx_ent){.schema = schema ? schema : "", .name = name, .value = value};
    ix->sealed = false;
}

/* strcmp compares as unsigned char: byte order, whatever the server's
 * collation. */
static int cmp_pair(const char *s1, const char *n1, const char *s2, const char *n2)
{
    int c = strcmp(s1, s2);
    return c ? c : strcmp(n1, n2);
}

static int cmp_ent(const void *a, const void *b)
{
    const gd_nameidx_ent *x = a, *y = b;
    int c = cmp_pair(x->schema, x->name, y->schema, y->name);
    if (c)
        return c;
    return x->value < y->value ? -1 : x->value > y->value;
}

size_t gd_nameidx_seal(gd_nameidx *ix)
{
    if (ix->n > 1)
        qsort(ix->e, ix->n, sizeof *ix->e, cmp_ent);
    ix->sealed = true;
    size_t dups = 0;
    for (size_t i = 1; i < ix->n; i++)
        dups +=
            cmp_pair(ix->e[i - 1].schema, ix->e[i - 1].name, ix->e[i].schema, ix->e[i].name) == 0;
    return dups;
}

bool gd_nameidx_find(const gd_nameidx *ix, const char *schema, const char *name, size_t *value)
{
    if (!ix->sealed || name == NULL)
        return false;
    if (schema == NULL)
        schema = "";
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_pair(ix->e[mid].schema, ix->e[mid].name, schema, name);
        if (c == 0) {
            if (value)
                *value = ix->e[mid].value;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
