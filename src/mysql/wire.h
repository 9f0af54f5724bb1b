/* The server side of the MariaDB/MySQL client-server protocol (the wire
 * codec of geodr's binlog server, docs/archive-and-pitr.md "The binlog
 * server"): packet framing (3-byte length, sequence number, 16 MiB
 * pieces), the protocol v10 handshake with mysql_native_password and
 * optional TLS, OK/ERR/EOF packets, text result sets and length-encoded
 * integers and strings.  It knows nothing of what is served: the caller
 * reads commands with gd_wire_read_packet and answers them.
 *
 * One gd_wire per connection, used by one thread.  Every wait looks at the
 * owner's stop flag and the login deadline every 200 ms.  Functions that
 * return int give 0, or -1 when the connection is closed, broken, stopped
 * or past its deadline (then the caller closes it: gd_wire_close). */
#ifndef GD_MYSQL_WIRE_H
#define GD_MYSQL_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "common/util.h"

/* Commands (the first byte of a client's packet). */
#define GD_COM_QUIT 0x01
#define GD_COM_QUERY 0x03
#define GD_COM_PING 0x0e
#define GD_COM_BINLOG_DUMP 0x12
#define GD_COM_REGISTER_SLAVE 0x15
/* The largest packet piece; longer packets are split in pieces this long. */
#define GD_WIRE_MAX_CHUNK 0xffffffu

typedef struct gd_wire {
    int fd;
    SSL *ssl; /* after the client's SSL request: every byte goes through it */
    uint8_t seq;
    gd_buf in;               /* the last packet read */
    gd_buf out;              /* scratch for packets being built */
    gd_buf wq;               /* packets not yet sent */
    bool batch;              /* send wq in pieces of about 256 KiB, not per packet */
    double deadline;         /* gd_mono() by which the login and setup must be done; 0: none */
    double login_timeout_s;  /* what the deadline was set to, for the message */
    const atomic_bool *stop; /* the owner stops: waits end */
    const char *who;         /* the server, for log lines ("binlog server") */
} gd_wire;

/* Starts a connection on fd (owned from now on: gd_wire_close closes it)
 * with a login deadline login_timeout_s from now. */
void gd_wire_init(gd_wire *w, int fd, const atomic_bool *stop, const char *who,
                  double login_timeout_s);
/* Ends TLS, frees the buffers and closes the socket. */
void gd_wire_close(gd_wire *w);

/* 0 when w has bytes to read (on the socket or decrypted in TLS), 1 when
 * not yet (200 ms passed: look again), -1 when the owner stops or the
 * login deadline passed. */
int gd_wire_wait_readable(gd_wire *w);
/* One read of at most n bytes: the count, 0 when nothing came yet, -1 when
 * the connection is closed or broken. */
ssize_t gd_wire_read_some(gd_wire *w, void *p, size_t n);
/* Reads one logical packet (joining 16 MiB pieces) into w->in. */
int gd_wire_read_packet(gd_wire *w);

/* Queues one packet piece (header, then the body in one or two spans);
 * sends the queue unless batching and it is still small. */
int gd_wire_queue_piece(gd_wire *w, const void *a, size_t an, const void *b, size_t bn);
/* Sends what is queued. */
int gd_wire_flush(gd_wire *w);
/* Sends p as one logical packet (split into 16 MiB pieces). */
int gd_wire_send_packet(gd_wire *w, const uint8_t *p, size_t n);

/* Length-encoded integers and strings, appended to b. */
void gd_wire_put_lenenc(gd_buf *b, uint64_t v);
void gd_wire_put_lenstr(gd_buf *b, const char *s);

int gd_wire_send_ok(gd_wire *w);
/* An ERR packet: code, the 5-character SQL state, the message. */
int gd_wire_send_err(gd_wire *w, unsigned code, const char *state, const char *msg);
int gd_wire_send_eof(gd_wire *w);
/* A result set of ncol text columns and, when has_row, one row of values
 * (NULL values mean SQL NULL). */
int gd_wire_send_result(gd_wire *w, const char *const *names, const char *const *values,
                        size_t ncol, bool has_row);

/* What a login ended in (gd_wire_login). */
#define GD_WIRE_LOGIN_OK 0
#define GD_WIRE_LOGIN_BROKEN (-1) /* the connection broke or stopped, or spoke nonsense */
#define GD_WIRE_LOGIN_NO_TLS (-2) /* tls is set and the client did not ask for TLS */
#define GD_WIRE_LOGIN_DENIED (-3) /* wrong user or password */
/* The server's side of the login: greeting (offering TLS when tls is not
 * NULL, and then requiring it), TLS handshake, handshake response, a switch
 * to mysql_native_password when the client asked for another plugin, and
 * the password check against user and password.  Sends the OK packet on
 * success; on NO_TLS and DENIED the caller sends the ERR packet it wants
 * (nothing of a client without TLS, whose login came in the clear, is
 * looked at). */
int gd_wire_login(gd_wire *w, SSL_CTX *tls, const char *user, const char *password);

#endif
