#include "replay/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/util.h"
#include "io/key.h"
#include "mysql/binlog.h"
#include "repo/segment.h"
#include "replay/server_tls.h"

/* Protocol constants (MariaDB/MySQL client-server protocol). */
#define CLIENT_LONG_PASSWORD 1u
#define CLIENT_LONG_FLAG 4u
#define CLIENT_CONNECT_WITH_DB 8u
#define CLIENT_PROTOCOL_41 512u
#define CLIENT_SSL 2048u
#define CLIENT_TRANSACTIONS 8192u
#define CLIENT_SECURE_CONNECTION 32768u
#define CLIENT_PLUGIN_AUTH (1u << 19)
#define CLIENT_PLUGIN_AUTH_LENENC_DATA (1u << 21)
#define COM_QUIT 0x01
#define COM_QUERY 0x03
#define COM_PING 0x0e
#define COM_BINLOG_DUMP 0x12
#define COM_REGISTER_SLAVE 0x15
#define MAX_PACKET_CHUNK 0xffffffu
#define SERVER_VERSION "5.5.5-10.11.99-MariaDB-geodr"
#define NATIVE_PLUGIN "mysql_native_password"

/* Connections served at once: the target's replica (it may reconnect)
 * and whoever else reaches the port, who cannot log in and is dropped after
 * AUTH_TIMEOUT_S.  One idle connection never holds the port. */
#define MAX_CONNS 16
#define AUTH_TIMEOUT_S 10.0

struct gd_binlog_server {
    gd_binlog_server_opts o;
    int lfd;
    pthread_t thread;
    pthread_t conns[MAX_CONNS]; /* connection threads, joined at stop */
    bool conn_used[MAX_CONNS];
    atomic_bool conn_done[MAX_CONNS];
    atomic_bool stop;
    pthread_mutex_t lock;
    gd_binlog_server_state st;
    uint8_t checksum_alg;
    SSL_CTX *tls;  /* o.tls: the generated key and certificate */
    char *tls_pem; /* that certificate, PEM */
};

typedef struct conn {
    gd_binlog_server *s;
    int fd;
    SSL *ssl; /* after the replica's SSL request: every byte goes through it */
    uint8_t seq;
    gd_buf in;
    gd_buf out;
    gd_buf wq;  /* packets not yet sent */
    bool batch; /* while dumping: send wq in WQ_FLUSH pieces, not per packet */
    gd_gtid_pos connect_state;
    bool binlog_crc; /* the replica asked for checksums (@master_binlog_checksum) */
    double deadline; /* gd_mono() by which the login and setup must be done; 0: none */
} conn;

/* ---- packets ---- */

/* 0 when c has bytes to read (on the socket or decrypted in TLS), 1 when
 * not yet (200 ms passed: look again), -1 when the server stops or the
 * login deadline passed. */
static int wait_readable(conn *c)
{
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return 0;
    struct pollfd pf = {c->fd, POLLIN, 0};
    int r = poll(&pf, 1, 200);
    if (atomic_load(&c->s->stop))
        return -1;
    if (c->deadline > 0 && gd_mono() > c->deadline) {
        gd_debug("binlog server: a connection did not log in and ask for the binlog within "
                 "%.0f s; closed",
                 AUTH_TIMEOUT_S);
        return -1;
    }
    return r > 0 ? 0 : 1;
}

/* One read of at most n bytes: the count, 0 when nothing came yet (a TLS
 * record not complete within the socket's 200 ms receive timeout), -1 when
 * the connection is closed or broken. */
static ssize_t read_some(conn *c, void *p, size_t n)
{
    if (c->ssl) {
        int k = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0)
            return k;
        int e = SSL_get_error(c->ssl, k);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    ssize_t k = read(c->fd, p, n);
    if (k < 0 && errno == EINTR)
        return 0;
    return k <= 0 ? -1 : k;
}

static int read_full(conn *c, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        int w = wait_readable(c);
        if (w < 0)
            return -1;
        if (w > 0)
            continue;
        ssize_t k = read_some(c, b, n);
        if (k < 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_full(conn *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k;
        if (c->ssl) {
            int w = SSL_write(c->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
            int e = w > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, w);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (atomic_load(&c->s->stop))
                    return -1;
                continue;
            }
            k = w > 0 ? w : -1;
        } else {
            k = send(c->fd, b, n, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
        }
        if (k < 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one logical packet (joining 16 MiB pieces) into c->in. */
static int read_packet(conn *c)
{
    gd_buf_reset(&c->in);
    for (;;) {
        uint8_t h[4];
        if (read_full(c, h, 4) != 0)
            return -1;
        size_t len = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
        c->seq = (uint8_t)(h[3] + 1);
        if (gd_buf_reserve(&c->in, len) != 0)
            return -1;
        if (read_full(c, c->in.data + c->in.len, len) != 0)
            return -1;
        c->in.len += len;
        if (len < MAX_PACKET_CHUNK)
            return 0;
    }
}

/* A dump sends its events in writes of about this size: one system call and
 * a few full TCP segments for hundreds of small events, instead of two
 * writes (header, body) per event on a TCP_NODELAY socket. */
#define WQ_FLUSH ((size_t)256 << 10)

static int flush_wq(conn *c)
{
    int rc = write_full(c, c->wq.data, c->wq.len);
    gd_buf_reset(&c->wq);
    return rc;
}

/* Queues one packet piece (header, then the body in one or two spans);
 * sends the queue unless batching and it is still small. */
static int queue_piece(conn *c, const void *a, size_t an, const void *b, size_t bn)
{
    size_t k = an + bn;
    uint8_t h[4] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16), c->seq++};
    if (gd_buf_append(&c->wq, h, 4) != 0 || gd_buf_append(&c->wq, a, an) != 0 ||
        gd_buf_append(&c->wq, b, bn) != 0)
        return -1;
    return !c->batch || c->wq.len >= WQ_FLUSH ? flush_wq(c) : 0;
}

/* Sends p as one logical packet (split into 16 MiB pieces). */
static int send_packet(conn *c, const uint8_t *p, size_t n)
{
    for (;;) {
        size_t k = n < MAX_PACKET_CHUNK ? n : MAX_PACKET_CHUNK;
        if (queue_piece(c, p, k, NULL, 0) != 0)
            return -1;
        p += k;
        n -= k;
        if (k < MAX_PACKET_CHUNK)
            return 0;
        if (n == 0) /* an exact multiple ends with an empty piece */
            return send_packet(c, p, 0);
    }
}

static void put_lenenc(gd_buf *b, uint64_t v)
{
    uint8_t t[9];
    size_t n;
    if (v < 251) {
        t[0] = (uint8_t)v;
        n = 1;
    } else if (v < 65536) {
        t[0] = 0xfc;
        t[1] = (uint8_t)v;
        t[2] = (uint8_t)(v >> 8);
        n = 3;
    } else if (v < 16777216) {
        t[0] = 0xfd;
        for (int i = 0; i < 3; i++)
            t[1 + i] = (uint8_t)(v >> (8 * i));
        n = 4;
    } else {
        t[0] = 0xfe;
        for (int i = 0; i < 8; i++)
            t[1 + i] = (uint8_t)(v >> (8 * i));
        n = 9;
    }
    gd_buf_append(b, t, n);
}

static void put_lenstr(gd_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_lenenc(b, n);
    gd_buf_append(b, s, n);
}

static int send_ok(conn *c)
{
    static const uint8_t ok[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    return send_packet(c, ok, sizeof ok);
}

static int send_err(conn *c, unsigned code, const char *state, const char *msg)
{
    gd_buf_reset(&c->out);
    uint8_t h[3] = {0xff, (uint8_t)code, (uint8_t)(code >> 8)};
    gd_buf_append(&c->out, h, 3);
    gd_buf_append(&c->out, "#", 1);
    gd_buf_append(&c->out, state, 5);
    gd_buf_append(&c->out, msg, strlen(msg));
    return send_packet(c, (uint8_t *)c->out.data, c->out.len);
}

static int send_eof(conn *c)
{
    static const uint8_t eof[] = {0xfe, 0x00, 0x00, 0x02, 0x00};
    return send_packet(c, eof, sizeof eof);
}

/* A result set of text columns; values NULL mean SQL NULL. */
static int send_result(conn *c, const char *const *names, const char *const *values, size_t ncol,
                       bool has_row)
{
    gd_buf_reset(&c->out);
    put_lenenc(&c->out, ncol);
    if (send_packet(c, (uint8_t *)c->out.data, c->out.len) != 0)
        return -1;
    for (size_t i = 0; i < ncol; i++) {
        gd_buf_reset(&c->out);
        put_lenstr(&c->out, "def");
        put_lenstr(&c->out, "");
        put_lenstr(&c->out, "");
        put_lenstr(&c->out, "");
        put_lenstr(&c->out, names[i]);
        put_lenstr(&c->out, names[i]);
        static const uint8_t fixed[] = {0x0c, 0x21, 0x00, 0x00, 0x01, 0x00, 0x00,
                                        0xfd, 0x00, 0x00, 0x1f, 0x00, 0x00};
        gd_buf_append(&c->out, fixed, sizeof fixed);
        if (send_packet(c, (uint8_t *)c->out.data, c->out.len) != 0)
            return -1;
    }
    if (send_eof(c) != 0)
        return -1;
    if (has_row) {
        gd_buf_reset(&c->out);
        for (size_t i = 0; i < ncol; i++) {
            if (values[i] == NULL) {
                uint8_t null = 0xfb;
                gd_buf_append(&c->out, &null, 1);
            } else {
                put_lenstr(&c->out, values[i]);
            }
        }
        if (send_packet(c, (uint8_t *)c->out.data, c->out.len) != 0)
            return -1;
    }
    return send_eof(c);
}

/* ---- handshake and authentication ---- */

static void sha1(const void *a, size_t an, const void *b, size_t bn, uint8_t out[20])
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x, EVP_sha1(), NULL);
    EVP_DigestUpdate(x, a, an);
    if (b)
        EVP_DigestUpdate(x, b, bn);
    unsigned int n = 20;
    EVP_DigestFinal_ex(x, out, &n);
    EVP_MD_CTX_free(x);
}

/* mysql_native_password: the client sends SHA1(pw) XOR SHA1(scramble +
 * SHA1(SHA1(pw))). */
static bool native_ok(const char *pw, const uint8_t scramble[20], const uint8_t *resp, size_t rlen)
{
    if (pw[0] == '\0')
        return rlen == 0;
    if (rlen != 20)
        return false;
    uint8_t h1[20], h2[20], h3[20];
    sha1(pw, strlen(pw), NULL, 0, h1);
    sha1(h1, 20, NULL, 0, h2);
    sha1(scramble, 20, h2, 20, h3);
    uint8_t diff = 0;
    for (int i = 0; i < 20; i++)
        diff |= (uint8_t)((h1[i] ^ h3[i]) ^ resp[i]);
    return diff == 0;
}

/* The server's first packet (protocol v10), with CLIENT_SSL when the
 * server offers TLS. */
static int send_greeting(conn *c, const uint8_t scramble[20])
{
    uint32_t caps = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |
                    CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                    CLIENT_PLUGIN_AUTH | (c->s->tls ? CLIENT_SSL : 0);
    gd_buf *b = &c->out;
    gd_buf_reset(b);
    uint8_t v10 = 10;
    gd_buf_append(b, &v10, 1);
    gd_buf_append(b, SERVER_VERSION, sizeof SERVER_VERSION);
    uint8_t id[4] = {1, 0, 0, 0};
    gd_buf_append(b, id, 4);
    gd_buf_append(b, scramble, 8);
    uint8_t z = 0;
    gd_buf_append(b, &z, 1);
    uint8_t tail[] = {(uint8_t)caps,         (uint8_t)(caps >> 8),  0x21, 0x02, 0x00,
                      (uint8_t)(caps >> 16), (uint8_t)(caps >> 24), 21};
    gd_buf_append(b, tail, sizeof tail);
    uint8_t reserved[10] = {0};
    gd_buf_append(b, reserved, sizeof reserved);
    gd_buf_append(b, scramble + 8, 12);
    gd_buf_append(b, &z, 1);
    gd_buf_append(b, NATIVE_PLUGIN, sizeof NATIVE_PLUGIN);
    c->seq = 0;
    return send_packet(c, (uint8_t *)b->data, b->len);
}

/* With TLS on, the client's first answer must be the SSL request (its
 * capabilities with CLIENT_SSL, nothing else): then the TLS handshake, and
 * the real handshake response comes through TLS.  A client that does not
 * ask for TLS is refused without its login (sent in the clear) being
 * looked at. */
static int start_tls(conn *c)
{
    if (c->s->tls == NULL)
        return 0;
    const uint8_t *p = (const uint8_t *)c->in.data;
    if (c->in.len < 4 || !(p[1] & (CLIENT_SSL >> 8))) {
        send_err(c, 1045, "28000",
                 "geodr's binlog server accepts only TLS connections (CHANGE MASTER ... "
                 "MASTER_SSL = 1)");
        return -1;
    }
    /* Reads time out every 200 ms so a stalled TLS record cannot keep the
     * thread from seeing the stop flag or the login deadline. */
    struct timeval tv = {0, 200000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->ssl = SSL_new(c->s->tls);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    for (;;) {
        int r = SSL_accept(c->ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || wait_readable(c) < 0) {
            gd_debug("binlog server: a TLS handshake failed; connection closed");
            return -1;
        }
    }
    gd_debug("binlog server: a client connected over %s (%s)", SSL_get_version(c->ssl),
             SSL_get_cipher(c->ssl));
    return read_packet(c);
}

static int handshake(conn *c)
{
    uint8_t scramble[20];
    if (gd_random(scramble, sizeof scramble, NULL) != 0)
        return -1;
    for (int i = 0; i < 20; i++) /* printable, no NUL */
        scramble[i] = (uint8_t)(33 + scramble[i] % 94);
    gd_buf *b = &c->out;
    uint8_t z = 0;
    if (send_greeting(c, scramble) != 0 || read_packet(c) != 0 || start_tls(c) != 0)
        return -1;

    /* Handshake response 41. */
    const uint8_t *p = (const uint8_t *)c->in.data, *end = p + c->in.len;
    if (c->in.len < 32)
        return -1;
    uint32_t ccaps =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 32;
    const uint8_t *user = p;
    while (p < end && *p)
        p++;
    if (p >= end)
        return -1;
    size_t ulen = (size_t)(p - user);
    p++;
    const uint8_t *resp = p;
    size_t rlen = 0;
    if (ccaps & CLIENT_PLUGIN_AUTH_LENENC_DATA) {
        if (p >= end || *p >= 251)
            return -1;
        rlen = *p++;
        resp = p;
    } else if (ccaps & CLIENT_SECURE_CONNECTION) {
        if (p >= end)
            return -1;
        rlen = *p++;
        resp = p;
    } else {
        while (p + rlen < end && p[rlen])
            rlen++;
    }
    if (resp + rlen > end)
        return -1;
    p = resp + rlen;
    if ((ccaps & CLIENT_CONNECT_WITH_DB) && p < end) {
        while (p < end && *p)
            p++;
        p++;
    }
    const char *plugin = NATIVE_PLUGIN;
    char pbuf[64] = "";
    if ((ccaps & CLIENT_PLUGIN_AUTH) && p < end) {
        size_t k = 0;
        while (p < end && *p && k + 1 < sizeof pbuf)
            pbuf[k++] = (char)*p++;
        pbuf[k] = '\0';
        plugin = pbuf;
    }
    uint8_t resp2[64];
    if (strcmp(plugin, NATIVE_PLUGIN) != 0) {
        /* Ask the client to switch to mysql_native_password. */
        gd_buf_reset(b);
        uint8_t fe = 0xfe;
        gd_buf_append(b, &fe, 1);
        gd_buf_append(b, NATIVE_PLUGIN, sizeof NATIVE_PLUGIN);
        gd_buf_append(b, scramble, 20);
        gd_buf_append(b, &z, 1);
        if (send_packet(c, (uint8_t *)b->data, b->len) != 0 || read_packet(c) != 0)
            return -1;
        rlen = c->in.len < sizeof resp2 ? c->in.len : sizeof resp2;
        memcpy(resp2, c->in.data, rlen);
        resp = resp2;
    }
    bool user_ok = ulen == strlen(c->s->o.user) && memcmp(user, c->s->o.user, ulen) == 0;
    if (!user_ok || !native_ok(c->s->o.password, scramble, resp, rlen)) {
        send_err(c, 1045, "28000", "Access denied (geodr binlog server)");
        return -1;
    }
    return send_ok(c);
}

/* ---- queries of the replica's setup ---- */

static bool starts(const char *q, const char *prefix)
{
    return strncasecmp(q, prefix, strlen(prefix)) == 0;
}

static int on_query(conn *c, const char *q)
{
    while (*q == ' ' || *q == '\n' || *q == '\t')
        q++;
    char num[32];
    if (starts(q, "SET ")) {
        const char *v = strcasestr(q, "@slave_connect_state");
        if (v && (v = strchr(v, '\'')) != NULL) {
            const char *e = strchr(v + 1, '\'');
            char *s = e ? gd_strndup(v + 1, (size_t)(e - v - 1)) : gd_strdup("");
            gd_err err;
            gd_err_clear(&err);
            int rc = gd_gtid_pos_parse(s, &c->connect_state, &err);
            free(s);
            if (rc != 0)
                return send_err(c, 1941, "HY000", err.msg);
        }
        if (strcasestr(q, "@master_binlog_checksum"))
            c->binlog_crc = c->s->checksum_alg == 1;
        return send_ok(c);
    }
    if (starts(q, "SHOW VARIABLES LIKE 'SERVER_ID'") || starts(q, "SELECT @@GLOBAL.SERVER_ID") ||
        starts(q, "SELECT @@SERVER_ID")) {
        snprintf(num, sizeof num, "%u", c->s->o.server_id);
        if (starts(q, "SHOW")) {
            const char *names[] = {"Variable_name", "Value"};
            const char *vals[] = {"server_id", num};
            return send_result(c, names, vals, 2, true);
        }
        const char *names[] = {"@@server_id"};
        const char *vals[] = {num};
        return send_result(c, names, vals, 1, true);
    }
    if (starts(q, "SHOW")) {
        const char *names[] = {"Variable_name", "Value"};
        return send_result(c, names, NULL, 2, false);
    }
    if (starts(q, "SELECT UNIX_TIMESTAMP()")) {
        snprintf(num, sizeof num, "%lld", (long long)time(NULL));
        const char *names[] = {"UNIX_TIMESTAMP()"};
        const char *vals[] = {num};
        return send_result(c, names, vals, 1, true);
    }
    if (starts(q, "SELECT @master_binlog_checksum")) {
        const char *names[] = {"@master_binlog_checksum"};
        const char *vals[] = {c->s->checksum_alg == 1 ? "CRC32" : "NONE"};
        return send_result(c, names, vals, 1, true);
    }
    if (starts(q, "SELECT @@GLOBAL.gtid_domain_id")) {
        const char *names[] = {"@@GLOBAL.gtid_domain_id"};
        const char *vals[] = {"0"};
        return send_result(c, names, vals, 1, true);
    }
    if (starts(q, "SELECT")) {
        gd_debug("binlog server: answering NULL to: %s", q);
        const char *names[] = {"value"};
        const char *vals[] = {NULL};
        return send_result(c, names, vals, 1, true);
    }
    gd_debug("binlog server: accepting: %s", q);
    return send_ok(c);
}

/* ---- the dump ---- */

static void set_failed(gd_binlog_server *s, const gd_err *e)
{
    pthread_mutex_lock(&s->lock);
    if (!s->st.failed) {
        s->st.failed = true;
        s->st.err = *e;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Sends one event as a dump packet: 0x00 then the event bytes. */
static int send_event(conn *c, const uint8_t *ev, size_t n)
{
    uint8_t ok = 0;
    if (n + 1 < MAX_PACKET_CHUNK) /* one piece: no copy into c->out */
        return queue_piece(c, &ok, 1, ev, n);
    gd_buf_reset(&c->out);
    if (gd_buf_append(&c->out, &ok, 1) != 0 || gd_buf_append(&c->out, ev, n) != 0)
        return -1;
    return send_packet(c, (uint8_t *)c->out.data, c->out.len);
}

/* An artificial ROTATE to "geodr-bin.<seq>", telling the replica a new
 * (archived) file starts. */
static int send_rotate(conn *c, unsigned long long seq)
{
    char name[64];
    int nl = snprintf(name, sizeof name, "geodr-bin.%06llu", seq);
    size_t size = GD_EV_HEADER_LEN + 8 + (size_t)nl + (c->binlog_crc ? 4 : 0);
    uint8_t ev[128] = {0};
    ev[4] = GD_EV_ROTATE;
    uint32_t sid = c->s->o.server_id;
    for (int i = 0; i < 4; i++) {
        ev[5 + i] = (uint8_t)(sid >> (8 * i));
        ev[9 + i] = (uint8_t)(size >> (8 * i));
    }
    ev[17] = GD_EV_F_ARTIFICIAL;
    ev[GD_EV_HEADER_LEN] = 4; /* position 4 */
    memcpy(ev + GD_EV_HEADER_LEN + 8, name, (size_t)nl);
    gd_event_set_crc(ev, size, c->binlog_crc ? 1 : 0);
    return send_event(c, ev, size);
}

typedef enum { SERVE_MORE, SERVE_STOP, SERVE_FAIL } serve_rc;

/* Streams one segment; SERVE_STOP once the stop point is passed: before
 * the first transaction that committed after the stop time (by the
 * segment's commit times, docs/archive-and-pitr.md "Commit times"), or
 * that the stop GTID position does not hold. */
static serve_rc serve_segment(conn *c, json_t *seg, gd_group *g, bool *skipping, bool *past)
{
    gd_binlog_server *s = c->s;
    gd_seg_reader *rd = NULL;
    gd_err e;
    gd_err_clear(&e);
    serve_rc ret = SERVE_FAIL;
    gd_event x;
    gd_ctimes_reader ct;
    unsigned long long txn = 0; /* transactions begun in this segment */
    int64_t commit_s = 0;       /* commit second of the current one */
    int rc = gd_ctimes_open(&ct, seg, &e);
    if (rc == 0)
        rc = gd_seg_open(s->o.repo, seg, &rd, &x, &e);
    if (rc != 0)
        goto out;
    if (send_rotate(c, (unsigned long long)gd_json_int(seg, "seq", 0)) != 0 ||
        send_event(c, x.data, x.size) != 0)
        goto net;
    bool ended;
    if (gd_group_feed(g, &x, &ended, &e) != 0)
        goto out;
    while ((rc = gd_seg_next(rd, &x, &e)) == 1) {
        if (x.type == GD_EV_GTID) {
            gd_gtid gt;
            uint32_t delta;
            if (gd_event_gtid(&x, &gt, NULL, &e) != 0 ||
                gd_ctimes_delta(&ct, txn++, &delta, &e) != 0)
                goto out;
            commit_s = (int64_t)x.timestamp + delta;
            *skipping = gd_gtid_pos_contains(&c->connect_state, &gt);
            if (!*skipping && ((s->o.stop_time_s >= 0 && commit_s > s->o.stop_time_s) ||
                               (s->o.stop_gtid && !gd_gtid_pos_contains(s->o.stop_gtid, &gt)))) {
                *past = true;
                ret = SERVE_STOP;
                goto out;
            }
        }
        if (gd_group_feed(g, &x, &ended, &e) != 0)
            goto out;
        if (*skipping)
            continue;
        if (send_event(c, x.data, x.size) != 0)
            goto net;
        pthread_mutex_lock(&s->lock);
        s->st.events++;
        s->st.bytes += x.size;
        if (ended) {
            s->st.transactions++;
            gd_gtid_pos_update(&s->st.served, &g->gtid, NULL);
            s->st.last_time_s = commit_s;
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (rc == 0)
        ret = SERVE_MORE;
    goto out;
net:
    ret = SERVE_STOP; /* the replica went away: it reconnects if it needs more */
    *past = false;
out:
    if (ret == SERVE_FAIL) {
        gd_err_prefix(&e, "binlog server");
        set_failed(s, &e);
    }
    gd_seg_close(rd);
    return ret;
}

static void dump(conn *c)
{
    gd_binlog_server *s = c->s;
    gd_group g;
    gd_group_init(&g);
    g.checksum_alg = s->checksum_alg;
    bool skipping = false, past = false;
    size_t i;
    json_t *seg;
    bool complete = true;
    c->batch = true;
    json_array_foreach(s->o.segments, i, seg)
    {
        serve_rc r = serve_segment(c, seg, &g, &skipping, &past);
        /* each segment's events leave before the next is read, and all of
         * them before the dump is marked done */
        if (r != SERVE_FAIL && flush_wq(c) != 0) {
            r = SERVE_STOP; /* the replica went away */
            past = false;
        }
        if (r == SERVE_FAIL)
            return;
        if (r == SERVE_STOP) {
            complete = past;
            break;
        }
    }
    if (complete) {
        pthread_mutex_lock(&s->lock);
        s->st.done = true;
        pthread_mutex_unlock(&s->lock);
    }
    /* Keep the connection open until the replica or geodr closes it. */
    for (;;) {
        int w = wait_readable(c);
        if (w < 0)
            break;
        uint8_t tmp[256];
        if (w == 0 && read_some(c, tmp, sizeof tmp) < 0)
            break;
    }
}

static void serve_conn(gd_binlog_server *s, int fd)
{
    conn c = {.s = s, .fd = fd, .deadline = gd_mono() + AUTH_TIMEOUT_S};
    gd_buf_init(&c.in, (size_t)1 << 30);
    gd_buf_init(&c.out, (size_t)1 << 30);
    gd_buf_init(&c.wq, (size_t)1 << 30);
    if (handshake(&c) != 0)
        goto out;
    for (;;) {
        if (read_packet(&c) != 0 || c.in.len == 0)
            break;
        uint8_t cmd = (uint8_t)c.in.data[0];
        if (cmd == COM_QUIT)
            break;
        if (cmd == COM_QUERY) {
            char *q = gd_strndup(c.in.data + 1, c.in.len - 1);
            int rc = on_query(&c, q);
            free(q);
            if (rc != 0)
                break;
        } else if (cmd == COM_REGISTER_SLAVE || cmd == COM_PING) {
            if (send_ok(&c) != 0)
                break;
        } else if (cmd == COM_BINLOG_DUMP) {
            c.deadline = 0; /* the dump may run as long as the archive takes */
            dump(&c);
            break;
        } else {
            send_err(&c, 1047, "08S01", "Unknown command (geodr binlog server)");
        }
    }
out:
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
        ERR_clear_error();
    }
    gd_buf_free(&c.in);
    gd_buf_free(&c.out);
    gd_buf_free(&c.wq);
    close(fd);
}

typedef struct conn_arg {
    gd_binlog_server *s;
    int fd, slot;
} conn_arg;

static void *conn_thread(void *arg)
{
    conn_arg *a = arg;
    serve_conn(a->s, a->fd);
    atomic_store(&a->s->conn_done[a->slot], true);
    free(a);
    return NULL;
}

/* Each connection in a thread of its own, so a connection that never logs
 * in (a port scanner, a stuck client) does not keep the replica out. */
static void *accept_loop(void *arg)
{
    gd_binlog_server *s = arg;
    while (!atomic_load(&s->stop)) {
        /* reap finished connection threads */
        for (int i = 0; i < MAX_CONNS; i++)
            if (s->conn_used[i] && atomic_load(&s->conn_done[i])) {
                pthread_join(s->conns[i], NULL);
                s->conn_used[i] = false;
            }
        struct pollfd pf = {s->lfd, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (gd_test_value("binlog-refuse") > 0) {
            close(fd);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0; i++)
            if (!s->conn_used[i])
                slot = i;
        if (slot < 0) {
            close(fd); /* too many at once: not the replica's pattern */
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_arg *a = gd_calloc(1, sizeof *a);
        *a = (conn_arg){.s = s, .fd = fd, .slot = slot};
        atomic_store(&s->conn_done[slot], false);
        if (pthread_create(&s->conns[slot], NULL, conn_thread, a) != 0) {
            free(a);
            close(fd);
            continue;
        }
        s->conn_used[slot] = true;
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conn_used[i])
            pthread_join(s->conns[i], NULL);
    return NULL;
}

/* The checksum algorithm of the archive (from its first segment's format
 * description): what the replica is told @master_binlog_checksum is. */
static int archive_checksum(gd_binlog_server *s, gd_err *err)
{
    s->checksum_alg = 1;
    json_t *seg = json_array_get(s->o.segments, 0);
    if (seg == NULL)
        return 0;
    gd_seg_reader *rd = NULL;
    gd_event fde;
    int rc = gd_seg_open(s->o.repo, seg, &rd, &fde, err);
    if (rc == 0)
        rc = gd_event_fde_checksum(&fde, &s->checksum_alg, err);
    gd_seg_close(rd);
    return rc;
}

int gd_binlog_server_start(const gd_binlog_server_opts *o, gd_binlog_server **out, unsigned *port,
                           gd_err *err)
{
    gd_binlog_server *s = gd_calloc(1, sizeof *s);
    s->o = *o;
    s->lfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    int rc = archive_checksum(s, err);
    if (rc == 0 && o->tls)
        rc = gd_replay_tls_new(o->listen ? o->listen : "127.0.0.1", &s->tls, &s->tls_pem, err);
    if (rc != 0)
        goto fail;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (o->listen && inet_pton(AF_INET, o->listen, &a.sin_addr) != 1) {
        rc = gd_err_set(err, GD_E_INVALID,
                        "binlog server: '%s' is not an IPv4 address to listen on", o->listen);
        goto fail;
    }
    socklen_t al = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 4) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
        rc = gd_err_sys(err, errno, "binlog server: cannot listen on %s",
                        o->listen ? o->listen : "127.0.0.1");
        goto fail;
    }
    *port = ntohs(a.sin_port);
    if (pthread_create(&s->thread, NULL, accept_loop, s) != 0) {
        rc = gd_err_set(err, GD_E_NOMEM, "binlog server: cannot start its thread");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    SSL_CTX_free(s->tls);
    free(s->tls_pem);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}

void gd_binlog_server_state_get(gd_binlog_server *s, gd_binlog_server_state *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    pthread_mutex_unlock(&s->lock);
}

void gd_binlog_server_stop(gd_binlog_server *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    SSL_CTX_free(s->tls);
    free(s->tls_pem);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *gd_binlog_server_cert_pem(const gd_binlog_server *s)
{
    return s->tls_pem;
}
