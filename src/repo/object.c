/* Objects (repo.h): the pipeline that writes them (zstd, encryption,
 * sha256) and reads and verifies them back. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "io/filter.h"
#include "repo/repo.h"
#include "repo/repo_intern.h"

const char *gd_repo_suffix(const gd_repo *r)
{
    return r->encrypted ? ".zst.gde" : ".zst";
}

/* ---- object writer ---- */

struct gd_obj_writer {
    gd_writer *w;
    gd_pipe *pipe;
    gd_filter *raw_count; /* owned by pipe */
    gd_filter *sha;
    gd_filter *count;
    char *name;
};

static int obj_sink(void *ctx, const void *p, size_t n, gd_err *err)
{
    gd_obj_writer *w = ctx;
    return gd_writer_write(w->w, p, n, err);
}

static int raw_refused(const gd_repo *r, const char *name, gd_err *err)
{
    return gd_err_set(err, GD_E_STATE,
                      "object %s of instance %s in region %s cannot be encoded or decoded: the "
                      "repository was opened for raw copies, without its key",
                      name, r->instance, r->st->name);
}

int gd_obj_create(gd_repo *r, const char *name, gd_obj_writer **out, gd_err *err)
{
    if (r->raw && r->encrypted)
        return raw_refused(r, name, err);
    gd_obj_writer *w = gd_calloc(1, sizeof *w);
    int rc = gd_storage_open_write(r->st, name, &w->w, err);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->name = gd_strdup(name);
    w->pipe = gd_pipe_new();
    w->raw_count = gd_filter_count();
    w->sha = gd_filter_sha256();
    w->count = gd_filter_count();
    gd_pipe_add(w->pipe, w->raw_count);
    gd_pipe_add(w->pipe, gd_filter_zstd_compress(r->compress_level));
    if (r->encrypted)
        gd_pipe_add(w->pipe, gd_filter_encrypt(r->key.key, r->key.id, name));
    gd_pipe_add(w->pipe, w->sha);
    gd_pipe_add(w->pipe, w->count);
    gd_pipe_set_sink(w->pipe, obj_sink, w);
    *out = w;
    return 0;
}

int gd_obj_write(gd_obj_writer *w, const void *p, size_t n, gd_err *err)
{
    return gd_pipe_write(w->pipe, p, n, err);
}

static void obj_writer_free(gd_obj_writer *w)
{
    gd_pipe_free(w->pipe);
    free(w->name);
    free(w);
}

int gd_obj_commit(gd_obj_writer *w, gd_obj_info *info, gd_err *err)
{
    int rc = gd_pipe_finish(w->pipe, err);
    if (rc != 0) {
        gd_writer_abort(w->w);
        obj_writer_free(w);
        return rc;
    }
    rc = gd_writer_commit(w->w, err);
    if (rc == 0 && info) {
        info->raw_size = gd_filter_count_bytes(w->raw_count);
        info->size = gd_filter_count_bytes(w->count);
        gd_filter_sha256_hex(w->sha, info->sha256);
    }
    obj_writer_free(w);
    return rc;
}

void gd_obj_abort(gd_obj_writer *w)
{
    if (w == NULL)
        return;
    gd_writer_abort(w->w);
    obj_writer_free(w);
}

/* ---- object reader ---- */

struct gd_obj_reader {
    gd_reader *rd;
    gd_pipe *pipe;
    gd_filter *sha;
    char *name;
    char *region;
    char expect[65];
    bool ended;
};

static ssize_t obj_source(void *ctx, void *p, size_t n, gd_err *err)
{
    gd_obj_reader *o = ctx;
    return gd_reader_read(o->rd, p, n, err);
}

int gd_obj_open(gd_repo *r, const char *name, const char *expect_sha256, gd_obj_reader **out,
                gd_err *err)
{
    if (r->raw && r->encrypted)
        return raw_refused(r, name, err);
    gd_obj_reader *o = gd_calloc(1, sizeof *o);
    int rc = gd_storage_open_read(r->st, name, &o->rd, err);
    if (rc != 0) {
        free(o);
        return rc;
    }
    o->name = gd_strdup(name);
    o->region = gd_strdup(r->st->name);
    if (expect_sha256)
        gd_strlcpy(o->expect, expect_sha256, sizeof o->expect);
    o->pipe = gd_pipe_new();
    o->sha = gd_filter_sha256();
    gd_pipe_add(o->pipe, o->sha);
    /* Whether an object is decrypted follows from the (authenticated)
     * descriptor, never from the object's name: in an encrypted instance a
     * plaintext object can only have been planted. */
    size_t nl = strlen(name);
    bool enc = nl > 4 && strcmp(name + nl - 4, ".gde") == 0;
    if (enc && !r->encrypted) {
        gd_obj_close(o);
        return gd_err_set(err, GD_E_AUTH,
                          "object %s is encrypted but no key is configured: set key-file", name);
    }
    if (!enc && r->encrypted) {
        gd_obj_close(o);
        return gd_err_set(err, GD_E_AUTH,
                          "object %s in region %s is not encrypted, but instance %s is: refused "
                          "(geodr never writes plaintext there; it was planted by whoever can "
                          "write to the region); restore from another set or region",
                          name, r->st->name, r->instance);
    }
    if (enc)
        gd_pipe_add(o->pipe,
                    gd_filter_decrypt(r->key.key, r->key.id, name, gd_repo_legacy_name(r, name)));
    gd_pipe_add(o->pipe, gd_filter_zstd_decompress());
    gd_pipe_set_source(o->pipe, obj_source, o);
    *out = o;
    return 0;
}

ssize_t gd_obj_read(gd_obj_reader *o, void *buf, size_t n, gd_err *err)
{
    if (o->ended)
        return 0;
    ssize_t got = gd_pipe_read(o->pipe, buf, n, err);
    if (got < 0) {
        gd_err_prefix(err, "object %s in region %s", o->name, o->region);
        return got;
    }
    if (got == 0) {
        o->ended = true;
        if (o->expect[0]) {
            char hex[65];
            gd_filter_sha256_hex(o->sha, hex);
            if (strcmp(hex, o->expect) != 0)
                return gd_err_set(err, GD_E_CORRUPT,
                                  "object %s in region %s is corrupt: SHA-256 %s, manifest says "
                                  "%s",
                                  o->name, o->region, hex, o->expect);
        }
    }
    return got;
}

void gd_obj_close(gd_obj_reader *o)
{
    if (o == NULL)
        return;
    gd_reader_close(o->rd);
    gd_pipe_free(o->pipe);
    free(o->name);
    free(o->region);
    free(o);
}

int gd_stream_stored(gd_storage *st, const char *name, gd_writer *w, gd_chunk_fn chunk, void *ctx,
                     char hex[65], gd_err *err)
{
    gd_reader *rd = NULL;
    int rc = gd_storage_open_read(st, name, &rd, err);
    if (rc != 0)
        return rc;
    gd_filter *sha = gd_filter_sha256();
    uint8_t *buf = gd_malloc(GD_PIPE_BUF), *out = gd_malloc(GD_PIPE_BUF);
    for (;;) {
        ssize_t n = gd_reader_read(rd, buf, GD_PIPE_BUF, err);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        gd_span_in in = {buf, (size_t)n, 0};
        gd_span_out o = {out, GD_PIPE_BUF, 0};
        bool done = false;
        if ((rc = gd_filter_process(sha, &in, &o, n == 0, &done, err)) != 0 || n == 0)
            break;
        if (chunk && (rc = chunk(ctx, (size_t)n, err)) != 0)
            break;
        if (w && (rc = gd_writer_write(w, buf, (size_t)n, err)) != 0)
            break;
    }
    if (rc == 0)
        gd_filter_sha256_hex(sha, hex);
    gd_reader_close(rd);
    gd_filter_free(sha);
    free(buf);
    free(out);
    return rc;
}

/* A raw repository's check: the stored bytes against their SHA-256. */
static int verify_stored(gd_repo *r, const char *name, const char *expect_sha256, gd_err *err)
{
    char hex[65];
    int rc = gd_stream_stored(r->st, name, NULL, NULL, NULL, hex, err);
    if (rc == 0 && expect_sha256 && strcmp(hex, expect_sha256) != 0)
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "object %s in region %s is corrupt (SHA-256 %s, expected %s): "
                        "restore from another set or region",
                        name, r->st->name, hex, expect_sha256);
    return rc;
}

int gd_obj_verify(gd_repo *r, const char *name, const char *expect_sha256, gd_err *err)
{
    if (r->raw && r->encrypted)
        return verify_stored(r, name, expect_sha256, err);
    gd_obj_reader *rd = NULL;
    int rc = gd_obj_open(r, name, expect_sha256, &rd, err);
    if (rc != 0)
        return rc;
    char *buf = gd_malloc(GD_PIPE_BUF);
    ssize_t n;
    while ((n = gd_obj_read(rd, buf, GD_PIPE_BUF, err)) > 0)
        ;
    free(buf);
    gd_obj_close(rd);
    return n < 0 ? (int)n : 0;
}

int gd_obj_read_all(gd_repo *r, const char *name, const char *expect_sha256, size_t max, char **out,
                    size_t *len, gd_err *err)
{
    gd_obj_reader *o = NULL;
    int rc = gd_obj_open(r, name, expect_sha256, &o, err);
    if (rc != 0)
        return rc;
    gd_buf b;
    gd_buf_init(&b, max);
    char tmp[65536];
    for (;;) {
        ssize_t got = gd_obj_read(o, tmp, sizeof tmp, err);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0)
            break;
        if (gd_buf_append(&b, tmp, (size_t)got) != 0) {
            rc = gd_err_set(err, GD_E_CORRUPT, "object %s is larger than %zu bytes", name, max);
            break;
        }
    }
    gd_obj_close(o);
    if (rc != 0) {
        gd_buf_free(&b);
        return rc;
    }
    if (b.data == NULL)
        gd_buf_append(&b, "", 0);
    *out = b.data;
    if (len)
        *len = b.len;
    return 0;
}
