#include "repo/segment.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct gd_seg_reader {
    gd_obj_reader *obj;
    char *name;
    gd_buf fde;
    gd_buf ev;
};

/* Exactly n bytes; 0 on success, 1 at a clean end (nothing read, eof_ok),
 * or a negative gd_code. */
static int read_exact(gd_seg_reader *rd, void *dst, size_t n, bool eof_ok, gd_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = gd_obj_read(rd->obj, (uint8_t *)dst + got, n - got, err);
        if (k < 0)
            return (int)k;
        if (k == 0) {
            if (eof_ok && got == 0)
                return 1;
            return gd_err_set(err, GD_E_CORRUPT, "segment %s ends inside an event", rd->name);
        }
        got += (size_t)k;
    }
    return 0;
}

static int read_event(gd_seg_reader *rd, gd_buf *b, bool eof_ok, gd_event *ev, gd_err *err)
{
    uint8_t h[GD_EV_HEADER_LEN];
    int rc = read_exact(rd, h, sizeof h, eof_ok, err);
    if (rc != 0)
        return rc;
    uint32_t size =
        (uint32_t)h[9] | (uint32_t)h[10] << 8 | (uint32_t)h[11] << 16 | (uint32_t)h[12] << 24;
    if (size < GD_EV_HEADER_LEN)
        return gd_err_set(err, GD_E_CORRUPT, "segment %s holds a malformed event", rd->name);
    gd_buf_reset(b);
    if (gd_buf_reserve(b, size) != 0)
        return gd_err_set(err, GD_E_NOMEM, "event of %u bytes in segment %s", size, rd->name);
    memcpy(b->data, h, sizeof h);
    if ((rc = read_exact(rd, b->data + sizeof h, size - sizeof h, false, err)) != 0)
        return rc;
    b->len = size;
    return gd_event_parse((uint8_t *)b->data, b->len, ev, err);
}

int gd_seg_open(gd_repo *r, const gd_segment *s, gd_seg_reader **out, gd_event *fde, gd_err *err)
{
    gd_seg_reader *rd = gd_calloc(1, sizeof *rd);
    rd->name = gd_strdup(s->object);
    gd_buf_init(&rd->fde, 0);
    gd_buf_init(&rd->ev, 0);
    uint8_t magic[GD_BINLOG_MAGIC_LEN];
    int rc = gd_obj_open(r, rd->name, s->sha256, &rd->obj, err);
    if (rc == 0)
        rc = read_exact(rd, magic, sizeof magic, false, err);
    if (rc == 0 && memcmp(magic, GD_BINLOG_MAGIC, GD_BINLOG_MAGIC_LEN) != 0)
        rc = gd_err_set(err, GD_E_CORRUPT, "segment %s is not a binlog file", rd->name);
    if (rc == 0)
        rc = read_event(rd, &rd->fde, false, fde, err);
    if (rc == 0 && fde->type != GD_EV_FORMAT_DESCRIPTION)
        rc = gd_err_set(err, GD_E_CORRUPT, "segment %s does not start with a format description",
                        rd->name);
    if (rc != 0) {
        gd_seg_close(rd);
        return rc < 0 ? rc : GD_E_CORRUPT;
    }
    *out = rd;
    return 0;
}

int gd_seg_next(gd_seg_reader *rd, gd_event *ev, gd_err *err)
{
    int rc = read_event(rd, &rd->ev, true, ev, err);
    if (rc == 1)
        return 0;
    return rc == 0 ? 1 : rc;
}

void gd_seg_close(gd_seg_reader *rd)
{
    if (rd == NULL)
        return;
    gd_obj_close(rd->obj);
    gd_buf_free(&rd->fde);
    gd_buf_free(&rd->ev);
    free(rd->name);
    free(rd);
}

/* ---- commit times ---- */

/* A decimal number at *p (at most max), advancing *p; false when there is
 * none or it is larger than max. */
static bool parse_num(const char **p, unsigned long long max, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

/* Reads the entry at r->p; first: the entry is the list's first. */
static int ctimes_entry(gd_ctimes_reader *r, bool first, gd_err *err)
{
    if (r->p == NULL || *r->p == '\0') {
        r->have = false;
        r->p = NULL;
        return 0;
    }
    const char *s = r->p;
    unsigned long long skip, delta;
    if (!parse_num(&s, UINT32_MAX, &skip) || *s++ != ':' || !parse_num(&s, UINT32_MAX, &delta) ||
        delta == 0 || (*s != ',' && *s != '\0') || (*s == ',' && s[1] == '\0'))
        return gd_err_set(err, GD_E_CORRUPT,
                          "record of segment %s: malformed commit_times near \"%.20s\" (the "
                          "record is damaged: restore from another region)",
                          r->name, r->p);
    r->idx = first ? skip : r->idx + 1 + skip;
    r->delta = (uint32_t)delta;
    r->have = true;
    r->p = *s == ',' ? s + 1 : s;
    return 0;
}

int gd_ctimes_open(gd_ctimes_reader *r, const gd_segment *s, gd_err *err)
{
    memset(r, 0, sizeof *r);
    r->p = s->commit_times ? s->commit_times : "";
    r->name = s->object ? s->object : "?";
    return ctimes_entry(r, true, err);
}

int gd_ctimes_delta(gd_ctimes_reader *r, unsigned long long idx, uint32_t *delta, gd_err *err)
{
    *delta = 0;
    if (!r->have || r->idx > idx)
        return 0;
    if (r->idx < idx)
        return gd_err_set(err, GD_E_CORRUPT,
                          "record of segment %s: commit_times names transaction %llu out of "
                          "order (the record is damaged: restore from another region)",
                          r->name, r->idx);
    *delta = r->delta;
    return ctimes_entry(r, false, err);
}

int gd_ctimes_check(const gd_segment *s, gd_err *err)
{
    gd_ctimes_reader r;
    int rc = gd_ctimes_open(&r, s, err);
    unsigned long long last = 0;
    bool any = false;
    while (rc == 0 && r.have) {
        last = r.idx;
        any = true;
        rc = ctimes_entry(&r, false, err);
    }
    unsigned long long n = s->transactions;
    if (rc == 0 && any && last >= n)
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "record of segment %s: commit_times names transaction %llu of %llu (the "
                        "record is damaged: restore from another region)",
                        r.name, last, n);
    return rc;
}

void gd_ctimes_writer_init(gd_ctimes_writer *w)
{
    gd_buf_init(&w->b, GD_CTIMES_MAX_MERGED);
    w->next = 0;
}

void gd_ctimes_writer_free(gd_ctimes_writer *w)
{
    gd_buf_free(&w->b);
}

int gd_ctimes_add(gd_ctimes_writer *w, unsigned long long idx, uint32_t delta, gd_err *err)
{
    if (delta == 0)
        return 0;
    if (idx < w->next)
        return gd_err_set(err, GD_E_INVALID, "commit times added out of order");
    if (gd_buf_appendf(&w->b, "%s%llu:%u", w->b.len ? "," : "", idx - w->next, delta) != 0)
        return gd_err_set(err, GD_E_NOMEM, "commit times of a segment exceed %zu bytes",
                          (size_t)GD_CTIMES_MAX_MERGED);
    w->next = idx + 1;
    return 0;
}

int gd_ctimes_append(gd_ctimes_writer *w, const gd_segment *s, unsigned long long base, gd_err *err)
{
    gd_ctimes_reader r;
    int rc = gd_ctimes_open(&r, s, err);
    while (rc == 0 && r.have) {
        if ((rc = gd_ctimes_add(w, base + r.idx, r.delta, err)) == 0)
            rc = ctimes_entry(&r, false, err);
    }
    return rc;
}

const char *gd_ctimes_str(const gd_ctimes_writer *w)
{
    return w->b.data ? w->b.data : "";
}
