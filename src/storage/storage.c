/* Driver-independent storage helpers. */
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* S3 keys are at most 1024 bytes; keep posix to the same limit so a
 * repository can move between drivers. */
#define GD_OBJECT_NAME_MAX 1024
#define GD_OBJECT_COMPONENT_MAX 255

void gd_storage_free(gd_storage *s)
{
    if (s == NULL)
        return;
    if (s->ops != NULL && s->ops->free != NULL)
        s->ops->free(s);
    free(s->name);
    free(s);
}

int gd_storage_get_all(gd_storage *s, const char *name, size_t max, char **out, size_t *len,
                       gd_err *err)
{
    gd_reader *r = NULL;
    gd_buf b;
    char *tmp = NULL;
    int rc;

    *out = NULL;
    if (len != NULL)
        *len = 0;
    /* gd_buf treats max 0 as its default limit; the check below enforces
     * the caller's max exactly. */
    gd_buf_init(&b, max);
    rc = gd_storage_open_read(s, name, &r, err);
    if (rc != 0)
        goto out;
    size_t chunk = 64 * 1024;
    tmp = gd_malloc(chunk);
    for (;;) {
        ssize_t n = gd_reader_read(r, tmp, chunk, err);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0)
            break;
        if ((size_t)n > max - b.len || gd_buf_append(&b, tmp, (size_t)n) != 0) {
            rc = gd_err_set(err, GD_E_INVALID,
                            "object %s in region %s is larger than the %zu bytes allowed for it",
                            name, s->name, max);
            goto out;
        }
        if ((size_t)n < chunk)
            break; /* short read: end of object */
    }
    if (b.data == NULL && gd_buf_append(&b, "", 0) != 0) {
        rc = gd_err_set(err, GD_E_NOMEM, "cannot allocate a buffer for object %s", name);
        goto out;
    }
    *out = b.data;
    if (len != NULL)
        *len = b.len;
    b.data = NULL;

out:
    free(tmp);
    gd_reader_close(r);
    gd_buf_free(&b);
    return rc;
}

int gd_storage_put_all(gd_storage *s, const char *name, const void *p, size_t n, gd_err *err)
{
    gd_writer *w = NULL;
    int rc = gd_storage_open_write(s, name, &w, err);
    if (rc != 0)
        return rc;
    rc = gd_writer_write(w, p, n, err);
    if (rc != 0) {
        gd_writer_abort(w);
        return rc;
    }
    return gd_writer_commit(w, err);
}

bool gd_storage_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    size_t total = strlen(name);
    if (total > GD_OBJECT_NAME_MAX)
        return false;
    const char *p = name;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        /* Empty components ("/abs", "a//b", "a/") and ones starting with '.'
         * (".", "..", and the posix driver's temp files) are refused. */
        if (n == 0 || n > GD_OBJECT_COMPONENT_MAX || p[0] == '.')
            return false;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x20 || c == 0x7f || c == '\\')
                return false;
        }
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return true;
}

static int listed_cmp(const void *a, const void *b)
{
    return strcmp(((const gd_listed *)a)->name, ((const gd_listed *)b)->name);
}

int gd_storage_list_emit(gd_listed *v, size_t n, gd_list_fn fn, void *ctx)
{
    if (n > 1)
        qsort(v, n, sizeof *v, listed_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (i == 0 || strcmp(v[i].name, v[i - 1].name) != 0)
            rc = fn(ctx, v[i].name, &v[i].st);
    gd_listed_free(v, n);
    return rc;
}

void gd_listed_free(gd_listed *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

typedef struct listed_all {
    gd_listed *v;
    size_t n, cap;
} listed_all;

static int collect(void *ctx, const char *name, const gd_stat *st)
{
    listed_all *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = gd_realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = (gd_listed){.name = gd_strdup(name), .st = st ? *st : (gd_stat){0}};
    return 0;
}

int gd_storage_list_all(gd_storage *s, const char *prefix, gd_listed **out, size_t *n, gd_err *err)
{
    listed_all a = {0};
    int rc = gd_storage_list(s, prefix, collect, &a, err);
    if (rc != 0) {
        gd_listed_free(a.v, a.n);
        a = (listed_all){0};
    }
    *out = a.v;
    *n = a.n;
    return rc;
}
