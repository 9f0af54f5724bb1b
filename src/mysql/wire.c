#include "mysql/wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "io/key.h"

/* Capability flags (MariaDB/MySQL client-server protocol). */
#define CLIENT_LONG_PASSWORD 1u
#define CLIENT_LONG_FLAG 4u
#define CLIENT_CONNECT_WITH_DB 8u
#define CLIENT_PROTOCOL_41 512u
#define CLIENT_SSL 2048u
#define CLIENT_TRANSACTIONS 8192u
#define CLIENT_SECURE_CONNECTION 32768u
#define CLIENT_PLUGIN_AUTH (1u << 19)
#define CLIENT_PLUGIN_AUTH_LENENC_DATA (1u << 21)
#define SERVER_VERSION "5.5.5-10.11.99-MariaDB-geodr"
#define NATIVE_PLUGIN "mysql_native_password"

void gd_wire_init(gd_wire *w, int fd, const atomic_bool *stop, const char *who,
                  double login_timeout_s)
{
    *w = (gd_wire){.fd = fd,
                   .stop = stop,
                   .who = who,
                   .deadline = gd_mono() + login_timeout_s,
                   .login_timeout_s = login_timeout_s};
    gd_buf_init(&w->in, (size_t)1 << 30);
    gd_buf_init(&w->out, 0); /* our own answers: unbounded by policy (util.h) */
    gd_buf_init(&w->wq, (size_t)1 << 30);
}

void gd_wire_close(gd_wire *w)
{
    if (w->ssl) {
        SSL_shutdown(w->ssl);
        SSL_free(w->ssl);
        ERR_clear_error();
    }
    gd_buf_free(&w->in);
    gd_buf_free(&w->out);
    gd_buf_free(&w->wq);
    close(w->fd);
}

/* 0 when w has bytes to read (on the socket or decrypted in TLS), 1 when
 * not yet (200 ms passed: look again), -1 when the server stops or the
 * login deadline passed. */
int gd_wire_wait_readable(gd_wire *w)
{
    if (w->ssl && SSL_pending(w->ssl) > 0)
        return 0;
    struct pollfd pf = {w->fd, POLLIN, 0};
    int r = poll(&pf, 1, 200);
    if (atomic_load(w->stop))
        return -1;
    if (w->deadline > 0 && gd_mono() > w->deadline) {
        gd_debug("%s: a connection did not log in and set up within %.0f s; closed", w->who,
                 w->login_timeout_s);
        return -1;
    }
    return r > 0 ? 0 : 1;
}

/* One read of at most n bytes: the count, 0 when nothing came yet (a TLS
 * record not complete within the socket's 200 ms receive timeout), -1 when
 * the connection is closed or broken. */
ssize_t gd_wire_read_some(gd_wire *w, void *p, size_t n)
{
    if (w->ssl) {
        int k = SSL_read(w->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0)
            return k;
        int e = SSL_get_error(w->ssl, k);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    ssize_t k = read(w->fd, p, n);
    if (k < 0 && errno == EINTR)
        return 0;
    return k <= 0 ? -1 : k;
}

static int read_full(gd_wire *w, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        int r = gd_wire_wait_readable(w);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        ssize_t k = gd_wire_read_some(w, b, n);
        if (k < 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_full(gd_wire *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k;
        if (w->ssl) {
            int r = SSL_write(w->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
            int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(w->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (atomic_load(w->stop))
                    return -1;
                continue;
            }
            k = r > 0 ? r : -1;
        } else {
            k = send(w->fd, b, n, MSG_NOSIGNAL);
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

/* Reads one logical packet (joining 16 MiB pieces) into w->in. */
int gd_wire_read_packet(gd_wire *w)
{
    gd_buf_reset(&w->in);
    for (;;) {
        uint8_t h[4];
        if (read_full(w, h, 4) != 0)
            return -1;
        size_t len = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
        w->seq = (uint8_t)(h[3] + 1);
        if (gd_buf_reserve(&w->in, len) != 0)
            return -1;
        if (read_full(w, w->in.data + w->in.len, len) != 0)
            return -1;
        w->in.len += len;
        if (len < GD_WIRE_MAX_CHUNK)
            return 0;
    }
}

/* A dump sends its events in writes of about this size: one system call and
 * a few full TCP segments for hundreds of small events, instead of two
 * writes (header, body) per event on a TCP_NODELAY socket. */
#define WQ_FLUSH ((size_t)256 << 10)

int gd_wire_flush(gd_wire *w)
{
    int rc = write_full(w, w->wq.data, w->wq.len);
    gd_buf_reset(&w->wq);
    return rc;
}

/* Queues one packet piece (header, then the body in one or two spans);
 * sends the queue unless batching and it is still small. */
int gd_wire_queue_piece(gd_wire *w, const void *a, size_t an, const void *b, size_t bn)
{
    size_t k = an + bn;
    uint8_t h[4] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16), w->seq++};
    if (gd_buf_append(&w->wq, h, 4) != 0 || gd_buf_append(&w->wq, a, an) != 0 ||
        gd_buf_append(&w->wq, b, bn) != 0)
        return -1;
    return !w->batch || w->wq.len >= WQ_FLUSH ? gd_wire_flush(w) : 0;
}

/* Sends p as one logical packet (split into 16 MiB pieces). */
int gd_wire_send_packet(gd_wire *w, const uint8_t *p, size_t n)
{
    for (;;) {
        size_t k = n < GD_WIRE_MAX_CHUNK ? n : GD_WIRE_MAX_CHUNK;
        if (gd_wire_queue_piece(w, p, k, NULL, 0) != 0)
            return -1;
        p += k;
        n -= k;
        if (k < GD_WIRE_MAX_CHUNK)
            return 0;
        if (n == 0) /* an exact multiple ends with an empty piece */
            return gd_wire_send_packet(w, p, 0);
    }
}

void gd_wire_put_lenenc(gd_buf *b, uint64_t v)
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

void gd_wire_put_lenstr(gd_buf *b, const char *s)
{
    size_t n = strlen(s);
    gd_wire_put_lenenc(b, n);
    gd_buf_append(b, s, n);
}

int gd_wire_send_ok(gd_wire *w)
{
    static const uint8_t ok[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    return gd_wire_send_packet(w, ok, sizeof ok);
}

int gd_wire_send_err(gd_wire *w, unsigned code, const char *state, const char *msg)
{
    gd_buf_reset(&w->out);
    uint8_t h[3] = {0xff, (uint8_t)code, (uint8_t)(code >> 8)};
    gd_buf_append(&w->out, h, 3);
    gd_buf_append(&w->out, "#", 1);
    gd_buf_append(&w->out, state, 5);
    gd_buf_append(&w->out, msg, strlen(msg));
    return gd_wire_send_packet(w, (uint8_t *)w->out.data, w->out.len);
}

int gd_wire_send_eof(gd_wire *w)
{
    static const uint8_t eof[] = {0xfe, 0x00, 0x00, 0x02, 0x00};
    return gd_wire_send_packet(w, eof, sizeof eof);
}

/* A result set of text columns; values NULL mean SQL NULL. */
int gd_wire_send_result(gd_wire *w, const char *const *names, const char *const *values,
                        size_t ncol, bool has_row)
{
    gd_buf_reset(&w->out);
    gd_wire_put_lenenc(&w->out, ncol);
    if (gd_wire_send_packet(w, (uint8_t *)w->out.data, w->out.len) != 0)
        return -1;
    for (size_t i = 0; i < ncol; i++) {
        gd_buf_reset(&w->out);
        gd_wire_put_lenstr(&w->out, "def");
        gd_wire_put_lenstr(&w->out, "");
        gd_wire_put_lenstr(&w->out, "");
        gd_wire_put_lenstr(&w->out, "");
        gd_wire_put_lenstr(&w->out, names[i]);
        gd_wire_put_lenstr(&w->out, names[i]);
        static const uint8_t fixed[] = {0x0c, 0x21, 0x00, 0x00, 0x01, 0x00, 0x00,
                                        0xfd, 0x00, 0x00, 0x1f, 0x00, 0x00};
        gd_buf_append(&w->out, fixed, sizeof fixed);
        if (gd_wire_send_packet(w, (uint8_t *)w->out.data, w->out.len) != 0)
            return -1;
    }
    if (gd_wire_send_eof(w) != 0)
        return -1;
    if (has_row) {
        gd_buf_reset(&w->out);
        for (size_t i = 0; i < ncol; i++) {
            if (values[i] == NULL) {
                uint8_t null = 0xfb;
                gd_buf_append(&w->out, &null, 1);
            } else {
                gd_wire_put_lenstr(&w->out, values[i]);
            }
        }
        if (gd_wire_send_packet(w, (uint8_t *)w->out.data, w->out.len) != 0)
            return -1;
    }
    return gd_wire_send_eof(w);
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
static int send_greeting(gd_wire *w, const uint8_t scramble[20], bool tls)
{
    uint32_t caps = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |
                    CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                    CLIENT_PLUGIN_AUTH | (tls ? CLIENT_SSL : 0);
    gd_buf *b = &w->out;
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
    w->seq = 0;
    return gd_wire_send_packet(w, (uint8_t *)b->data, b->len);
}

/* With TLS on, the client's first answer must be the SSL request (its
 * capabilities with CLIENT_SSL, nothing else): then the TLS handshake, and
 * the real handshake response comes through TLS.  A client that does not
 * ask for TLS is refused (GD_WIRE_LOGIN_NO_TLS) without its login (sent
 * in the clear) being looked at. */
static int start_tls(gd_wire *w, SSL_CTX *tls)
{
    if (tls == NULL)
        return 0;
    const uint8_t *p = (const uint8_t *)w->in.data;
    if (w->in.len < 4 || !(p[1] & (CLIENT_SSL >> 8)))
        return GD_WIRE_LOGIN_NO_TLS;
    /* Reads time out every 200 ms so a stalled TLS record cannot keep the
     * thread from seeing the stop flag or the login deadline. */
    struct timeval tv = {0, 200000};
    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    w->ssl = SSL_new(tls);
    if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1)
        return -1;
    for (;;) {
        int r = SSL_accept(w->ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(w->ssl, r);
        ERR_clear_error();
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
            gd_wire_wait_readable(w) < 0) {
            gd_debug("%s: a TLS handshake failed; connection closed", w->who);
            return -1;
        }
    }
    gd_debug("%s: a client connected over %s (%s)", w->who, SSL_get_version(w->ssl),
             SSL_get_cipher(w->ssl));
    return gd_wire_read_packet(w);
}

int gd_wire_login(gd_wire *w, SSL_CTX *tls, const char *user, const char *password)
{
    uint8_t scramble[20];
    if (gd_random(scramble, sizeof scramble, NULL) != 0)
        return -1;
    for (int i = 0; i < 20; i++) /* printable, no NUL */
        scramble[i] = (uint8_t)(33 + scramble[i] % 94);
    gd_buf *b = &w->out;
    uint8_t z = 0;
    if (send_greeting(w, scramble, tls != NULL) != 0 || gd_wire_read_packet(w) != 0)
        return GD_WIRE_LOGIN_BROKEN;
    int rc = start_tls(w, tls);
    if (rc != 0)
        return rc;

    /* Handshake response 41. */
    const uint8_t *p = (const uint8_t *)w->in.data, *end = p + w->in.len;
    if (w->in.len < 32)
        return -1;
    uint32_t ccaps =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 32;
    const uint8_t *uname = p;
    while (p < end && *p)
        p++;
    if (p >= end)
        return -1;
    size_t ulen = (size_t)(p - uname);
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
        if (gd_wire_send_packet(w, (uint8_t *)b->data, b->len) != 0 || gd_wire_read_packet(w) != 0)
            return -1;
        rlen = w->in.len < sizeof resp2 ? w->in.len : sizeof resp2;
        memcpy(resp2, w->in.data, rlen);
        resp = resp2;
    }
    bool user_ok = ulen == strlen(user) && memcmp(uname, user, ulen) == 0;
    if (!user_ok || !native_ok(password, scramble, resp, rlen))
        return GD_WIRE_LOGIN_DENIED;
    return gd_wire_send_ok(w);
}

/* ---- queries of the replica's setup ---- */
