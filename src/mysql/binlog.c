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

/* ---- GTID positions ---- */

void gd_gtid_format(const gd_gtid *g, char *out, size_t size)
{
    snprintf(out, size, "%u-%u-%llu", g->domain, g->server, (unsigned long long)g->seq);
}

static int cmp_domain(const void *a, const void *b)
{
    const gd_gtid *x = a, *y = b;
    return x->domain < y->domain ? -1 : x->domain > y->domain;
}

int gd_gtid_pos_update(gd_gtid_pos *p, const gd_gtid *g, gd_err *err)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->g[i].domain == g->domain) {
            p->g[i] = *g;
            return 0;
        }
    }
    if (p->n == GD_GTID_POS_MAX)
        return gd_err_set(err, GD_E_STATE, "more than %d replication domains", GD_GTID_POS_MAX);
    p->g[p->n++] = *g;
    qsort(p->g, p->n, sizeof p->g[0], cmp_domain);
    return 0;
}

int gd_gtid_pos_parse(const char *s, gd_gtid_pos *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        unsigned long d = strtoul(p, &end, 10);
        if (end == p || *end != '-')
            goto bad;
        p = end + 1;
        unsigned long sv = strtoul(p, &end, 10);
        if (end == p || *end != '-')
            goto bad;
        p = end + 1;
        unsigned long long q = strtoull(p, &end, 10);
        if (end == p || (*end && *end != ',' && *end != ' ' && *end != '\n'))
            goto bad;
        p = end;
        if (d > UINT32_MAX || sv > UINT32_MAX)
            goto bad;
        gd_gtid g = {(uint32_t)d, (uint32_t)sv, q};
        int rc = gd_gtid_pos_update(out, &g, err);
        if (rc != 0)
            return rc;
    }
    return 0;
bad:
    return gd_err_set(err, GD_E_INVALID,
                      "'%s' is not a GTID position (expected domain-server-sequence, "
                      "comma-separated)",
                      s);
}

void gd_gtid_pos_format(const gd_gtid_pos *p, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->n && o < size; i++) {
        int k = snprintf(out + o, size - o, "%s%u-%u-%llu", i ? "," : "", p->g[i].domain,
                         p->g[i].server, (unsigned long long)p->g[i].seq);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

bool gd_gtid_pos_contains(const gd_gtid_pos *p, const gd_gtid *g)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->g[i].domain == g->domain)
            return p->g[i].seq >= g->seq;
    return false;
}
