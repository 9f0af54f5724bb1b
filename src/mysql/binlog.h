/* Binlog events: framing, GTIDs, timestamps, transaction boundaries.
 *
 * One reader for every user of binlog bytes (the archiver now, the binlog
 * server later).  It works on raw event bytes exactly as the server writes
 * them into a binlog file (19-byte v4 header, body, optional CRC32 trailer);
 * it never rewrites them, so archived segments are byte-for-byte the
 * source's events and their checksums stay valid.
 *
 * MariaDB's event layout: sql/log_event.h in MariaDB/server. */
#ifndef GD_MYSQL_BINLOG_H
#define GD_MYSQL_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"

#define GD_BINLOG_MAGIC                                                                            \
    "\xfe"                                                                                         \
    "bin"
#define GD_BINLOG_MAGIC_LEN 4
#define GD_EV_HEADER_LEN 19

enum gd_ev_type {
    GD_EV_QUERY = 2,
    GD_EV_STOP = 3,
    GD_EV_ROTATE = 4,
    GD_EV_FORMAT_DESCRIPTION = 15,
    GD_EV_XID = 16,
    GD_EV_HEARTBEAT = 27,
    GD_EV_XA_PREPARE = 38,
    GD_EV_ANNOTATE_ROWS = 160,
    GD_EV_BINLOG_CHECKPOINT = 161,
    GD_EV_GTID = 162,
    GD_EV_GTID_LIST = 163,
    GD_EV_START_ENCRYPTION = 164,
};

#define GD_EV_F_ARTIFICIAL 0x20

/* GTID event flags2 */
#define GD_GTID_FL_STANDALONE 1
#define GD_GTID_FL_GROUP_COMMIT_ID 2

/* The common header of one event. */
typedef struct gd_event {
    const uint8_t *data; /* the whole event */
    uint32_t size;
    uint32_t timestamp;
    uint8_t type;
    uint32_t server_id;
    uint32_t log_pos;
    uint16_t flags;
} gd_event;

/* Parses the header of the event at p (n bytes available); GD_E_CORRUPT if
 * it is shorter than its header says or than 19 bytes. */
int gd_event_parse(const uint8_t *p, size_t n, gd_event *ev, gd_err *err);

/* A format description event's checksum algorithm: 0 none, 1 CRC32. */
int gd_event_fde_checksum(const gd_event *fde, uint8_t *alg, gd_err *err);

/* Recomputes the CRC32 trailer of an event changed in place (alg 1); no-op
 * for alg 0. */
void gd_event_set_crc(uint8_t *ev, size_t size, uint8_t alg);

/* GTID of a GTID event (server id from its header), and its flags2. */
int gd_event_gtid(const gd_event *ev, gd_gtid *out, uint8_t *flags2, gd_err *err);

/* Tracks event groups (transactions).  Feed every event of the stream in
 * order; after each, gd_group_ended() says whether that event completed a
 * group (a transaction, a DDL statement, an XA prepare). */
typedef struct gd_group {
    bool open;       /* inside a group: a GTID event was seen */
    bool standalone; /* the group is a single statement */
    gd_gtid gtid;    /* GTID of the current (or last) group */
    uint32_t end_timestamp;
    uint8_t checksum_alg; /* from the last format description */
} gd_group;

void gd_group_init(gd_group *g);
/* Returns 0, or GD_E_CORRUPT for malformed events.  *ended is set when ev
 * completed the group that gd_group's gtid names. */
int gd_group_feed(gd_group *g, const gd_event *ev, bool *ended, gd_err *err);

#endif
