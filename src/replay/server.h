/* The binlog server (docs/archive-and-pitr.md): geodr as a replication primary.
 *
 * It listens on a loopback port (or the address it is given), accepts a
 * replica's connection (protocol v10 handshake, with TLS when asked: then
 * only over TLS; mysql_native_password with a one-time password), answers
 * the setup queries a MariaDB replica sends, and on COM_BINLOG_DUMP streams
 * the archived segments of one region: from the GTID position the replica
 * asks for (its gtid_slave_pos) through the last transaction that committed
 * at or before the stop time by the segments' commit times
 * (docs/archive-and-pitr.md "Commit times"), or the end of the archive.  The replica's SQL
 * thread applies every event itself, with its parallel workers.
 *
 * The server runs in a thread of its own; the caller polls
 * gd_binlog_server_state() to learn when the stream is complete and which
 * GTID position it ends at, then waits for the replica to apply it. */
#ifndef GD_REPLAY_SERVER_H
#define GD_REPLAY_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"
#include "repo/repo.h"
#include "repo/segment.h"

typedef struct gd_binlog_server gd_binlog_server;

typedef struct gd_binlog_server_opts {
    gd_repo *repo;               /* region to serve from (not owned) */
    const gd_segments *segments; /* the segment records to serve, in order (borrowed) */
    int64_t stop_time_s; /* serve transactions committed in this second or before; <0: no limit */
    const gd_gtid_pos *stop_gtid; /* or up to and including this position (may be NULL) */
    const char *user;             /* the replica's user name */
    const char *password;         /* its one-time password */
    uint32_t server_id;           /* ours (must differ from the replica's) */
    const char *listen;           /* IPv4 address to listen on; NULL: 127.0.0.1 */
    bool tls;                     /* offer TLS and accept nothing else (server_tls.h) */
} gd_binlog_server_opts;

typedef struct gd_binlog_server_state {
    bool done;   /* every event to serve has been sent */
    bool failed; /* the server hit an error (err says which) */
    unsigned long long transactions, events, bytes;
    gd_gtid_pos served;  /* position after the last transaction sent */
    int64_t last_time_s; /* commit time of the last transaction sent */
    gd_err err;
} gd_binlog_server_state;

/* Binds 127.0.0.1 on a free port and starts serving in a thread. */
int gd_binlog_server_start(const gd_binlog_server_opts *o, gd_binlog_server **out, unsigned *port,
                           gd_err *err);
void gd_binlog_server_state_get(gd_binlog_server *s, gd_binlog_server_state *out);
/* With o.tls: the server's generated certificate (PEM) that the replica
 * must pin; NULL without TLS.  Valid until gd_binlog_server_stop. */
const char *gd_binlog_server_cert_pem(const gd_binlog_server *s);
/* Stops the thread, closes every connection, frees s. */
void gd_binlog_server_stop(gd_binlog_server *s);

#endif
