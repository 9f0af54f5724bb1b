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

int gd_seg_open(gd_repo *r, json_t *record, gd_seg_reader **out, gd_event *fde, gd_err *err)
{
    gd_seg_reader *rd = gd_calloc(1, sizeof *rd);
    rd->name = gd_asprintf("%s/binlog/%s", r->instance, gd_json_str(record, "object", ""));
    gd_buf_init(&rd->fde, 0);
    gd_buf_init(&rd->ev, 0);
    uint8_t magic[GD_BINLOG_MAGIC_LEN];
    int rc = gd_obj_open(r, rd->name, gd_json_str(record, "sha256", ""), &rd->obj, err);
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
