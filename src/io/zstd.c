/* zstd streaming compression and decompression filters. */
#include "io/filter.h"

#include <stdio.h>
#include <stdlib.h>

#include <zstd.h>

#include "common/util.h"

typedef struct zstd_state {
    gd_filter base;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    bool finished;   /* compress: the frame epilogue was written */
    size_t last;     /* decompress: last return of ZSTD_decompressStream (0 = frame end) */
    bool seen_frame; /* decompress: at least one complete frame */
} zstd_state;

static void oom(const char *what)
{
    fprintf(stderr, "geodr: out of memory creating %s\n", what);
    abort();
}

static void zstd_free(gd_filter *f)
{
    zstd_state *s = f->self;
    ZSTD_freeCCtx(s->cctx);
    ZSTD_freeDCtx(s->dctx);
    free(s);
}

static int compress_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                            gd_err *err)
{
    zstd_state *s = f->self;
    if (s->finished) {
        *done = true;
        return 0;
    }
    ZSTD_inBuffer i = {in->src, in->size, in->pos};
    ZSTD_outBuffer o = {out->dst, out->size, out->pos};
    ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
    int rc = 0;
    for (;;) {
        size_t i0 = i.pos, o0 = o.pos;
        size_t r = ZSTD_compressStream2(s->cctx, &o, &i, mode);
        if (ZSTD_isError(r)) {
            rc = gd_err_set(err, GD_E_STATE, "zstd compression failed: %s", ZSTD_getErrorName(r));
            break;
        }
        if (end && r == 0) {
            s->finished = true;
            *done = true;
            break;
        }
        if ((!end && i.pos == i.size) || o.pos == o.size || (i.pos == i0 && o.pos == o0))
            break;
    }
    in->pos = i.pos;
    out->pos = o.pos;
    return rc;
}

static int decompress_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                              gd_err *err)
{
    zstd_state *s = f->self;
    ZSTD_inBuffer i = {in->src, in->size, in->pos};
    ZSTD_outBuffer o = {out->dst, out->size, out->pos};
    int rc = 0;
    /* After a frame ended (last == 0) nothing is buffered; calling again with
     * no input would start a new frame and make the stream look truncated. */
    while (o.pos < o.size && !(i.pos == i.size && s->last == 0)) {
        size_t i0 = i.pos, o0 = o.pos;
        size_t r = ZSTD_decompressStream(s->dctx, &o, &i);
        if (ZSTD_isError(r)) {
            rc = gd_err_set(err, GD_E_CORRUPT, "corrupt compressed data: %s", ZSTD_getErrorName(r));
            goto out;
        }
        s->last = r;
        if (r == 0)
            s->seen_frame = true;
        if ((i.pos == i.size && o.pos < o.size) || (i.pos == i0 && o.pos == o0))
            break;
    }
    if (end && i.pos == i.size && o.pos < o.size) {
        if (s->last == 0 && s->seen_frame)
            *done = true;
        else
            rc = gd_err_set(err, GD_E_CORRUPT, "truncated compressed data");
    }
out:
    in->pos = i.pos;
    out->pos = o.pos;
    return rc;
}

static const gd_filter_ops compress_ops = {
    .name = "zstd-compress",
    .process = compress_process,
    .free = zstd_free,
};

static const gd_filter_ops decompress_ops = {
    .name = "zstd-decompress",
    .process = decompress_process,
    .free = zstd_free,
};

gd_filter *gd_filter_zstd_compress(int level)
{
    if (level == 0)
        level = 3;
    if (level < 1)
        level = 1;
    if (level > 19)
        level = 19;
    zstd_state *s = gd_calloc(1, sizeof *s);
    s->cctx = ZSTD_createCCtx();
    if (s->cctx == NULL)
        oom("zstd compression context");
    /* Setting valid parameters on a fresh context cannot fail. */
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_nbWorkers, 0);
    s->base = (gd_filter){.ops = &compress_ops, .self = s};
    return &s->base;
}

gd_filter *gd_filter_zstd_decompress(void)
{
    zstd_state *s = gd_calloc(1, sizeof *s);
    s->dctx = ZSTD_createDCtx();
    if (s->dctx == NULL)
        oom("zstd decompression context");
    s->last = 1; /* a frame header is expected */
    s->base = (gd_filter){.ops = &decompress_ops, .self = s};
    return &s->base;
}
