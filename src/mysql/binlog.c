#include "mysql/binlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int gd_event_parse(const uint8_t *p, size_t n, gd_event *ev, gd_err *err)
{
    if (n < GD_EV_HEADER_LEN)
        return gd_err_set(err, GD_E_CORRUPT, "binlog event shorter than its header (%zu bytes)", n);
    ev->data = p;
    ev->timestamp = le32(p);
    ev->type = p[4];
    ev->server_id = le32(p + 5);
    ev->size = le32(p + 9);
    ev->log_pos = le32(p + 13);
    ev->flags = le16(p + 17);
    if (ev->size < GD_EV_HEADER_LEN || ev->size > n)
        return gd_err_set(err, GD_E_CORRUPT,
                          "binlog event of type %u says it has %u bytes, %zu are there", ev->type,
                          ev->size, n);
    return 0;
}

int gd_event_fde_checksum(const gd_event *fde, uint8_t *alg, gd_err *err)
{
    /* binlog version (2), server version (50), timestamp (4), header length
     * (1), post-header lengths..., checksum algorithm (1), CRC (4). */
    if (fde->type != GD_EV_FORMAT_DESCRIPTION || fde->size < GD_EV_HEADER_LEN + 57 + 5)
        return gd_err_set(err, GD_E_CORRUPT, "malformed format description event");
    *alg = fde->data[fde->size - 5];
    if (*alg != 0 && *alg != 1)
        return gd_err_set(err, GD_E_CORRUPT, "unknown binlog checksum algorithm %u", *alg);
    return 0;
}

void gd_event_set_crc(uint8_t *ev, size_t size, uint8_t alg)
{
    if (alg != 1 || size < GD_EV_HEADER_LEN + 4)
        return;
    uLong c = crc32(0L, ev, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        ev[size - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

int gd_event_gtid(const gd_event *ev, gd_gtid *out, uint8_t *flags2, gd_err *err)
{
    if (ev->type != GD_EV_GTID || ev->size < GD_EV_HEADER_LEN + 13)
        return gd_err_set(err, GD_E_CORRUPT, "malformed GTID event");
    const uint8_t *b = ev->data + GD_EV_HEADER_LEN;
    out->seq = le64(b);
    out->domain = le32(b + 8);
    out->server = ev->server_id;
    if (flags2)
        *flags2 = b[12];
    return 0;
}

/* The statement text of a query event (without the checksum). */
static int query_text(const gd_event *ev, uint8_t alg, const char **text, size_t *len, gd_err *err)
{
    const uint32_t post = 13; /* thread id, exec time, db len, error code, status len */
    uint32_t tail = alg ? 4 : 0;
    if (ev->size < GD_EV_HEADER_LEN + post + tail)
        return gd_err_set(err, GD_E_CORRUPT, "malformed query event");
    const uint8_t *b = ev->data + GD_EV_HEADER_LEN;
    uint32_t db_len = b[8];
    uint32_t status_len = le16(b + 11);
    uint32_t off = GD_EV_HEADER_LEN + post + status_len + db_len + 1;
    if (off > ev->size - tail)
        return gd_err_set(err, GD_E_CORRUPT, "malformed query event");
    *text = (const char *)ev->data + off;
    *len = ev->size - tail - off;
    return 0;
}

void gd_group_init(gd_group *g)
{
    memset(g, 0, sizeof *g);
}

int gd_group_feed(gd_group *g, const gd_event *ev, bool *ended, gd_err *err)
{
    *ended = false;
    switch (ev->type) {
    case GD_EV_FORMAT_DESCRIPTION:
        return gd_event_fde_checksum(ev, &g->checksum_alg, err);
    case GD_EV_GTID: {
        if (g->open)
            return gd_err_set(err, GD_E_CORRUPT,
                              "binlog: transaction %u-%u-%llu has no end before the next GTID",
                              g->gtid.domain, g->gtid.server, (unsigned long long)g->gtid.seq);
        uint8_t f2 = 0;
        int rc = gd_event_gtid(ev, &g->gtid, &f2, err);
        if (rc != 0)
            return rc;
        g->open = true;
        g->standalone = (f2 & GD_GTID_FL_STANDALONE) != 0;
        return 0;
    }
    case GD_EV_XID:
    case GD_EV_XA_PREPARE:
        if (g->open) {
            g->open = false;
            *ended = true;
            g->end_timestamp = ev->timestamp;
        }
        return 0;
    case GD_EV_QUERY: {
        if (!g->open)
            return 0;
        const char *t = NULL;
        size_t n = 0;
        int rc = query_text(ev, g->checksum_alg, &t, &n, err);
        if (rc != 0)
            return rc;
        bool end = g->standalone || (n == 6 && strncasecmp(t, "COMMIT", 6) == 0) ||
                   (n == 8 && strncasecmp(t, "ROLLBACK", 8) == 0);
        if (end) {
            g->open = false;
            *ended = true;
            g->end_timestamp = ev->timestamp;
        }
        return 0;
    }
    default:
        return 0;
    }
}
