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
#include "mysql/wire.h"
#include "repo/segment.h"
#include "replay/server_tls.h"

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
    gd_wire w;
    gd_gtid_pos connect_state;
    bool binlog_crc; /* the replica asked for checksums (@master_binlog_checksum) */
} conn;

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
                return gd_wire_send_err(&c->w, 1941, "HY000", err.msg);
        }
        if (strcasestr(q, "@master_binlog_checksum"))
            c->binlog_crc = c->s->checksum_alg == 1;
        return gd_wire_send_ok(&c->w);
    }
    if (starts(q, "SHOW VARIABLES LIKE 'SERVER_ID'") || starts(q, "SELECT @@GLOBAL.SERVER_ID") ||
        starts(q, "SELECT @@SERVER_ID")) {
        snprintf(num, sizeof num, "%u", c->s->o.server_id);
        if (starts(q, "SHOW")) {
            const char *names[] = {"Variable_name", "Value"};
            const char *vals[] = {"server_id", num};
            return gd_wire_send_result(&c->w, names, vals, 2, true);
        }
        const char *names[] = {"@@server_id"};
        const char *vals[] = {num};
        return gd_wire_send_result(&c->w, names, vals, 1, true);
    }
    if (starts(q, "SHOW")) {
        const char *names[] = {"Variable_name", "Value"};
        return gd_wire_send_result(&c->w, names, NULL, 2, false);
    }
    if (starts(q, "SELECT UNIX_TIMESTAMP()")) {
        snprintf(num, sizeof num, "%lld", (long long)time(NULL));
        const char *names[] = {"UNIX_TIMESTAMP()"};
        const char *vals[] = {num};
        return gd_wire_send_result(&c->w, names, vals, 1, true);
    }
    if (starts(q, "SELECT @master_binlog_checksum")) {
        const char *names[] = {"@master_binlog_checksum"};
        const char *vals[] = {c->s->checksum_alg == 1 ? "CRC32" : "NONE"};
        return gd_wire_send_result(&c->w, names, vals, 1, true);
    }
    if (starts(q, "SELECT @@GLOBAL.gtid_domain_id")) {
        const char *names[] = {"@@GLOBAL.gtid_domain_id"};
        const char *vals[] = {"0"};
        return gd_wire_send_result(&c->w, names, vals, 1, true);
    }
    if (starts(q, "SELECT")) {
        gd_debug("binlog server: answering NULL to: %s", q);
        const char *names[] = {"value"};
        const char *vals[] = {NULL};
        return gd_wire_send_result(&c->w, names, vals, 1, true);
    }
    gd_debug("binlog server: accepting: %s", q);
    return gd_wire_send_ok(&c->w);
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
    if (n + 1 < GD_WIRE_MAX_CHUNK) /* one piece: no copy into c->w.out */
        return gd_wire_queue_piece(&c->w, &ok, 1, ev, n);
    gd_buf_reset(&c->w.out);
    if (gd_buf_append(&c->w.out, &ok, 1) != 0 || gd_buf_append(&c->w.out, ev, n) != 0)
        return -1;
    return gd_wire_send_packet(&c->w, (uint8_t *)c->w.out.data, c->w.out.len);
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
static serve_rc serve_segment(conn *c, const gd_segment *seg, gd_group *g, bool *skipping,
                              bool *past)
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
    if (send_rotate(c, seg->seq) != 0 || send_event(c, x.data, x.size) != 0)
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
    bool complete = true;
    c->w.batch = true;
    for (size_t i = 0; i < s->o.segments->n; i++) {
        serve_rc r = serve_segment(c, &s->o.segments->v[i], &g, &skipping, &past);
        /* each segment's events leave before the next is read, and all of
         * them before the dump is marked done */
        if (r != SERVE_FAIL && gd_wire_flush(&c->w) != 0) {
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
        int w = gd_wire_wait_readable(&c->w);
        if (w < 0)
            break;
        uint8_t tmp[256];
        if (w == 0 && gd_wire_read_some(&c->w, tmp, sizeof tmp) < 0)
            break;
    }
}

/* What a replica that does not log in is told. */
static void refuse_login(conn *c, int why)
{
    if (why == GD_WIRE_LOGIN_NO_TLS)
        gd_wire_send_err(&c->w, 1045, "28000",
                         "geodr's binlog server accepts only TLS connections (CHANGE MASTER ... "
                         "MASTER_SSL = 1)");
    else if (why == GD_WIRE_LOGIN_DENIED)
        gd_wire_send_err(&c->w, 1045, "28000", "Access denied (geodr binlog server)");
}

static void serve_conn(gd_binlog_server *s, int fd)
{
    conn c = {.s = s};
    gd_wire_init(&c.w, fd, &s->stop, "binlog server", AUTH_TIMEOUT_S);
    int login = gd_wire_login(&c.w, s->tls, s->o.user, s->o.password);
    if (login != GD_WIRE_LOGIN_OK) {
        refuse_login(&c, login);
        goto out;
    }
    for (;;) {
        if (gd_wire_read_packet(&c.w) != 0 || c.w.in.len == 0)
            break;
        uint8_t cmd = (uint8_t)c.w.in.data[0];
        if (cmd == GD_COM_QUIT)
            break;
        if (cmd == GD_COM_QUERY) {
            char *q = gd_strndup(c.w.in.data + 1, c.w.in.len - 1);
            int rc = on_query(&c, q);
            free(q);
            if (rc != 0)
                break;
        } else if (cmd == GD_COM_REGISTER_SLAVE || cmd == GD_COM_PING) {
            if (gd_wire_send_ok(&c.w) != 0)
                break;
        } else if (cmd == GD_COM_BINLOG_DUMP) {
            c.w.deadline = 0; /* the dump may run as long as the archive takes */
            dump(&c);
            break;
        } else {
            gd_wire_send_err(&c.w, 1047, "08S01", "Unknown command (geodr binlog server)");
        }
    }
out:
    gd_wire_close(&c.w);
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
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
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
    if (s->o.segments->n == 0)
        return 0;
    const gd_segment *seg = &s->o.segments->v[0];
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
