/* Pipelines: chains of filters driven by a sink (push) or a source (pull).
 *
 * Memory: push mode keeps one GD_PIPE_BUF output buffer per filter; pull mode
 * keeps one input buffer for the source and one output buffer per filter but
 * the last (which writes straight into the caller's buffer).  Nothing else
 * grows with the data: each stage hands its buffer downstream as soon as it
 * is full (push) or refills only when the next stage drained it (pull).
 *
 * Idle rule: a filter that consumed all its input and still had output room
 * has produced everything it can without more input (zstd's rule).  A call
 * that neither consumes nor produces, while it had both input (or the end)
 * and room, is a bug in the filter and fails the pipe instead of spinning. */
#include "io/filter.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void gd_filter_free(gd_filter *f)
{
    if (f == NULL)
        return;
    if (f->ops != NULL && f->ops->free != NULL)
        f->ops->free(f);
    else
        free(f);
}

typedef struct gd_stage {
    gd_filter *f;
    uint8_t *buf; /* GD_PIPE_BUF bytes, allocated on first use */
    size_t pos;   /* pull: next byte the downstream stage reads */
    size_t len;   /* bytes held in buf */
    bool done;    /* the filter produced its last byte */
} gd_stage;

struct gd_pipe {
    gd_stage *st;
    size_t n, cap;
    int failed; /* first error; the pipe refuses further work */

    gd_sink_fn sink;
    void *sink_ctx;
    bool finished; /* push: gd_pipe_finish() succeeded */

    gd_source_fn source;
    void *source_ctx;
    uint8_t *src_buf; /* pull: source bytes for the first filter */
    size_t src_pos, src_len;
    bool src_eof;
};

gd_pipe *gd_pipe_new(void)
{
    return gd_calloc(1, sizeof(gd_pipe));
}

void gd_pipe_add(gd_pipe *p, gd_filter *f)
{
    if (f == NULL)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->st = gd_realloc(p->st, p->cap * sizeof(gd_stage));
    }
    p->st[p->n++] = (gd_stage){.f = f};
}

void gd_pipe_free(gd_pipe *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        gd_filter_free(p->st[i].f);
        free(p->st[i].buf);
    }
    free(p->st);
    free(p->src_buf);
    free(p);
}

void gd_pipe_set_sink(gd_pipe *p, gd_sink_fn fn, void *ctx)
{
    p->sink = fn;
    p->sink_ctx = ctx;
}

void gd_pipe_set_source(gd_pipe *p, gd_source_fn fn, void *ctx)
{
    p->source = fn;
    p->source_ctx = ctx;
}

static int fail(gd_pipe *p, int rc, gd_err *err)
{
    /* Keeps the callee's message when it set one (first error wins). */
    gd_err_set(err, rc, "pipeline failed");
    p->failed = rc;
    return rc;
}

static int stuck(gd_pipe *p, size_t i, gd_err *err)
{
    gd_err_set(err, GD_E_STATE, "filter %s made no progress (internal error)",
               p->st[i].f->ops->name);
    p->failed = GD_E_STATE;
    return GD_E_STATE;
}

static int check_usable(gd_pipe *p, gd_err *err)
{
    if (p->failed)
        return gd_err_set(err, p->failed, "pipeline already failed");
    return 0;
}

/* ---- push --------------------------------------------------------------- */

static int push(gd_pipe *p, size_t i, const uint8_t *data, size_t n, bool end, gd_err *err);

/* Hands stage i's buffered output to stage i+1 (or the sink). */
static int forward(gd_pipe *p, size_t i, bool end, gd_err *err)
{
    gd_stage *s = &p->st[i];
    size_t len = s->len;
    s->len = 0;
    if (i + 1 < p->n)
        return push(p, i + 1, s->buf, len, end, err);
    if (len == 0)
        return 0;
    int rc = p->sink(p->sink_ctx, s->buf, len, err);
    return rc < 0 ? fail(p, rc, err) : 0;
}

/* Feeds n bytes to stage i; they are all consumed on success.  With end,
 * stage i and every stage after it are driven until done. */
static int push(gd_pipe *p, size_t i, const uint8_t *data, size_t n, bool end, gd_err *err)
{
    static const uint8_t none[1];
    gd_stage *s = &p->st[i];
    gd_span_in in = {data != NULL ? data : none, n, 0}; /* filters never see NULL */
    if (s->buf == NULL)
        s->buf = gd_malloc(GD_PIPE_BUF);
    for (;;) {
        if (s->done) {
            if (in.pos < in.size)
                return fail(p,
                            gd_err_set(err, GD_E_STATE, "filter %s got data after its end",
                                       s->f->ops->name),
                            err);
            return forward(p, i, true, err);
        }
        gd_span_out out = {s->buf, GD_PIPE_BUF, s->len};
        size_t in0 = in.pos, out0 = out.pos;
        int rc = gd_filter_process(s->f, &in, &out, end, &s->done, err);
        if (rc < 0)
            return fail(p, rc, err);
        s->len = out.pos;
        if (s->done)
            continue;
        if (s->len == GD_PIPE_BUF) {
            rc = forward(p, i, false, err);
            if (rc < 0)
                return rc;
            continue;
        }
        if (!end && in.pos == in.size)
            return 0; /* idle: keep the partial buffer for the next write */
        if (in.pos == in0 && out.pos == out0)
            return stuck(p, i, err);
    }
}

int gd_pipe_write(gd_pipe *p, const void *data, size_t n, gd_err *err)
{
    int rc = check_usable(p, err);
    if (rc < 0)
        return rc;
    if (p->sink == NULL || p->finished)
        return gd_err_set(err, GD_E_STATE, "pipeline is not open for writing");
    if (n == 0)
        return 0;
    if (p->n == 0) {
        rc = p->sink(p->sink_ctx, data, n, err);
        return rc < 0 ? fail(p, rc, err) : 0;
    }
    return push(p, 0, data, n, false, err);
}

int gd_pipe_finish(gd_pipe *p, gd_err *err)
{
    int rc = check_usable(p, err);
    if (rc < 0)
        return rc;
    if (p->sink == NULL || p->finished)
        return gd_err_set(err, GD_E_STATE, "pipeline is not open for writing");
    if (p->n > 0) {
        rc = push(p, 0, NULL, 0, true, err);
        if (rc < 0)
            return rc;
    }
    p->finished = true;
    return 0;
}

/* ---- pull --------------------------------------------------------------- */

static int pull(gd_pipe *p, size_t i, gd_span_out *out, gd_err *err);

/* Makes sure stage i has input to read or its upstream has ended.  The
 * input of stage 0 is the source; of stage i, stage i-1's buffer. */
static int refill(gd_pipe *p, size_t i, gd_err *err)
{
    if (i == 0) {
        if (p->src_pos < p->src_len || p->src_eof)
            return 0;
        if (p->src_buf == NULL)
            p->src_buf = gd_malloc(GD_PIPE_BUF);
        p->src_pos = p->src_len = 0;
        ssize_t r = p->source(p->source_ctx, p->src_buf, GD_PIPE_BUF, err);
        if (r < 0)
            return fail(p, (int)r, err);
        if (r == 0)
            p->src_eof = true;
        p->src_len = (size_t)r;
        return 0;
    }
    gd_stage *u = &p->st[i - 1];
    if (u->pos < u->len || u->done)
        return 0;
    if (u->buf == NULL)
        u->buf = gd_malloc(GD_PIPE_BUF);
    gd_span_out o = {u->buf, GD_PIPE_BUF, 0};
    int rc = pull(p, i - 1, &o, err);
    if (rc < 0)
        return rc;
    u->pos = 0;
    u->len = o.pos;
    return 0;
}

/* Runs stage i into out until out is full or the stage is done. */
static int pull(gd_pipe *p, size_t i, gd_span_out *out, gd_err *err)
{
    gd_stage *s = &p->st[i];
    while (out->pos < out->size && !s->done) {
        int rc = refill(p, i, err);
        if (rc < 0)
            return rc;
        gd_span_in in;
        bool end;
        if (i == 0) {
            in = (gd_span_in){p->src_buf, p->src_len, p->src_pos};
            end = p->src_eof;
        } else {
            gd_stage *u = &p->st[i - 1];
            in = (gd_span_in){u->buf, u->len, u->pos};
            end = u->done;
        }
        size_t in0 = in.pos, out0 = out->pos;
        rc = gd_filter_process(s->f, &in, out, end, &s->done, err);
        if (rc < 0)
            return fail(p, rc, err);
        if (i == 0)
            p->src_pos = in.pos;
        else
            p->st[i - 1].pos = in.pos;
        /* No progress is fine when the stage only needs more input (the
         * next refill supplies it); otherwise the filter is stuck. */
        if (in.pos == in0 && out->pos == out0 && !s->done && (in.pos < in.size || end))
            return stuck(p, i, err);
    }
    return 0;
}

ssize_t gd_pipe_read(gd_pipe *p, void *buf, size_t n, gd_err *err)
{
    int rc = check_usable(p, err);
    if (rc < 0)
        return rc;
    if (p->source == NULL)
        return gd_err_set(err, GD_E_STATE, "pipeline is not open for reading");
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if (n == 0)
        return 0;
    if (p->n == 0) {
        if (p->src_eof)
            return 0;
        ssize_t r = p->source(p->source_ctx, buf, n, err);
        if (r < 0)
            return fail(p, (int)r, err);
        if (r == 0)
            p->src_eof = true;
        return r;
    }
    gd_span_out out = {buf, n, 0};
    rc = pull(p, p->n - 1, &out, err);
    if (rc < 0)
        return rc;
    return (ssize_t)out.pos;
}
