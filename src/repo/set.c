/* Backup sets (repo.h): listing committed sets, loading their manifests,
 * and set object names (manifests: manifest.c). */
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "common/util.h"
#include "repo/repo.h"
#include "repo/repo_intern.h"

void gd_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

struct list_ctx {
    char **ids;
    size_t n, cap;
    size_t plen;
};

static int list_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)st;
    struct list_ctx *c = ctx;
    const char *rest = name + c->plen;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || strcmp(slash, "/manifest") != 0)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->ids = gd_realloc(c->ids, c->cap * sizeof *c->ids);
    }
    c->ids[c->n++] = gd_strndup(rest, (size_t)(slash - rest));
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int gd_repo_list_sets(gd_repo *r, char ***ids, size_t *n, gd_err *err)
{
    char *prefix = gd_asprintf("%s/backup/", r->instance);
    struct list_ctx c = {.plen = strlen(prefix)};
    int rc = gd_storage_list(r->st, prefix, list_cb, &c, err);
    free(prefix);
    if (rc != 0) {
        gd_strv_free(c.ids, c.n);
        return rc;
    }
    if (c.n > 1)
        qsort(c.ids, c.n, sizeof *c.ids, cmp_str);
    *ids = c.ids;
    *n = c.n;
    return 0;
}

typedef struct set_reader {
    gd_repo *r;
    char **ids;
    gd_set *v;
    gd_err *errs;
} set_reader;

static int read_set(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    (void)err; /* a set that cannot be read is reported, not fatal */
    set_reader *sr = wv;
    gd_manifest *mf = NULL;
    gd_err_clear(&sr->errs[i]);
    if (gd_manifest_read(sr->r, sr->ids[i], &mf, &sr->errs[i]) != 0)
        return 0;
    gd_set *s = &sr->v[i];
    s->id = gd_strdup(sr->ids[i]);
    s->mf = mf;
    s->end_s = mf->end_us / 1000000;
    s->has_pos = mf->has_pos;
    if (mf->has_pos)
        s->pos = mf->pos;
    return 0;
}

void gd_repo_sets_free(gd_set *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        gd_manifest_free(v[i].mf);
    }
    free(v);
}

int gd_repo_load_sets(gd_repo *r, gd_set **out, size_t *n, gd_err *bad, gd_err *err)
{
    char **ids = NULL;
    size_t ns = 0;
    int rc = gd_repo_list_sets(r, &ids, &ns, err);
    if (rc != 0)
        return rc;
    size_t nids = ns;
    gd_set *v = gd_calloc(ns + 1, sizeof *v);
    if (ns > 0) {
        gd_err *errs = gd_calloc(ns, sizeof *errs);
        int nw = ns < GD_REPO_READERS ? (int)ns : GD_REPO_READERS;
        set_reader *ws = gd_calloc((size_t)nw, sizeof *ws);
        for (int i = 0; i < nw; i++)
            ws[i] = (set_reader){.r = r, .ids = ids, .v = v, .errs = errs};
        rc = gd_pool_run(ws, sizeof *ws, nw, ns, read_set, NULL, err);
        free(ws);
        size_t k = 0;
        for (size_t i = 0; i < ns; i++) {
            if (v[i].id != NULL)
                v[k++] = v[i];
            else if (bad && bad->code == GD_OK)
                *bad = errs[i];
        }
        ns = k;
        free(errs);
    }
    gd_strv_free(ids, nids);
    if (rc != 0) {
        gd_repo_sets_free(v, ns);
        return rc;
    }
    *out = v;
    *n = ns;
    return 0;
}

char *gd_repo_set_prefix(const gd_repo *r, const char *set_id)
{
    return gd_asprintf("%s/backup/%s/", r->instance, set_id);
}

char *gd_repo_object_name(const gd_repo *r, const char *set_id, const char *rel)
{
    return gd_asprintf("%s/backup/%s/%s", r->instance, set_id, rel);
}
