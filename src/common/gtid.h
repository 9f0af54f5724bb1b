/* GTIDs and GTID positions (MariaDB's domain-server-sequence form), as
 * plain values: parsed, formatted and compared by the archive, the
 * repository's recovery window and restore alike. */
#ifndef GD_COMMON_GTID_H
#define GD_COMMON_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct gd_gtid {
    uint32_t domain;
    uint32_t server;
    uint64_t seq;
} gd_gtid;

/* GTID positions: one GTID per replication domain, as in @@gtid_binlog_pos
 * ("0-1-100,1-2-7").  Fixed capacity: more domains than this is refused. */
#define GD_GTID_POS_MAX 64
typedef struct gd_gtid_pos {
    size_t n;
    gd_gtid g[GD_GTID_POS_MAX];
} gd_gtid_pos;

int gd_gtid_pos_parse(const char *s, gd_gtid_pos *out, gd_err *err);
/* Records g as the newest GTID of its domain. */
int gd_gtid_pos_update(gd_gtid_pos *p, const gd_gtid *g, gd_err *err);
/* "0-1-100,1-2-7", domains in ascending order; "" when empty. */
void gd_gtid_pos_format(const gd_gtid_pos *p, char *out, size_t size);
/* "D-S-N" */
void gd_gtid_format(const gd_gtid *g, char *out, size_t size);
/* True when p already holds g or a later GTID of g's domain. */
bool gd_gtid_pos_contains(const gd_gtid_pos *p, const gd_gtid *g);

/* True when every domain of a is in b with a sequence number <= b's
 * (b is at or after a). */
bool gd_gtid_pos_le(const gd_gtid_pos *a, const gd_gtid_pos *b);

#endif
