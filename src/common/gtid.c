#include "common/gtid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool gd_gtid_pos_le(const gd_gtid_pos *a, const gd_gtid_pos *b)
{
    for (size_t i = 0; i < a->n; i++)
        if (!gd_gtid_pos_contains(b, &a->g[i]))
            return false;
    return true;
}
