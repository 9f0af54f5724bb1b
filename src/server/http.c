/* The HTTP JSON API's transport on libmicrohttpd (http.h, docs/api.md).
 *
 * Routing, the token and the body size are decided on the first call of a
 * request, before any of the body is read: an unauthenticated or oversized
 * request never makes the server buffer anything.  A body is only accepted
 * with a Content-Length (411 otherwise), so its buffer is allocated once at
 * its final size, and the bytes buffered by all requests together stay
 * under a budget (503 beyond it): memory is bounded by max_connections times
 * libmicrohttpd's per-connection pool plus that budget.
 *
 * We bind the listening socket ourselves so that a busy port or a wrong
 * address fails with the system's reason, and check the certificate pair
 * with OpenSSL so that a bad one is named (libmicrohttpd says neither). */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/periodic.h"
#include "common/util.h"

#define GD_HTTP_OP_MAX 64
#define GD_HTTP_PEM_MAX (1024 * 1024)

struct gd_http {
    struct MHD_Daemon *daemon;
    gd_http_api_fn api;
    void *api_ctx;
    gd_http_text_fn metrics;
    void *metrics_ctx;
    char *token;
    size_t token_len;
    bool loopback; /* /metrics without a token */
    size_t max_body;
    size_t max_buffered;      /* all bodies being read, together */
    atomic_size_t buffered;   /* bytes reserved for them now */
    char *cert_pem, *key_pem; /* kept while serving, wiped at stop */
    /* The request deadline (slowloris): every connection, and under
     * conns_mu its deadline; the reaper cuts those past it. */
    double request_timeout_s;
    pthread_mutex_t conns_mu;
    struct conn *conns;
    struct gd_periodic *reaper;
};

/* One connection, from its accept to its close (MHD_OPTION_NOTIFY_CONNECTION).
 * deadline: when the request being received must be whole (gd_mono()); 0
 * while one is answered (the api callback runs, the answer is sent). */
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    double deadline;
} conn;

/* One request between libmicrohttpd's calls of the handler. */
typedef struct request {
    char op[GD_HTTP_OP_MAX + 1];
    char *body;
    size_t len, size; /* bytes read, Content-Length */
    size_t reserved;  /* from gd_http.buffered */
} request;

int gd_http_error(json_t **answer, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *answer = json_pack("{s:s, s:s}", "Code", code, "Message", msg);
    return status;
}

/* ---- listening ---------------------------------------------------------- */

typedef struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool v6, loopback;
} listen_addr;

/* "1.2.3.4:80" or "[::1]:80": numeric addresses only, so that what we bind
 * is exactly what the operator wrote. */
static int parse_listen(const char *s, listen_addr *a, gd_err *err)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *port_s;
    memset(a, 0, sizeof *a);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port_s = close + 2;
        a->v6 = true;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port_s = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(port_s, &end, 10);
    if (port_s[0] < '0' || port_s[0] > '9' || *end != '\0' || errno != 0 || port > 65535)
        goto bad;
    if (a->v6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            goto bad;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        a->len = sizeof *in6;
        a->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
        if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
            goto bad;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        a->len = sizeof *in4;
        a->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    }
    return 0;
bad:
    return gd_err_set(err, GD_E_CONFIG,
                      "listen address '%s' is not IPV4:PORT or [IPV6]:PORT "
                      "(e.g. 127.0.0.1:7480, [::1]:7480, 0.0.0.0:7480)",
                      s);
}

/* A bound, listening, non-blocking socket; its port in *port. */
static int open_listener(const char *spec, const listen_addr *a, int *fd_out, unsigned *port,
                         gd_err *err)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return gd_err_sys(err, errno, "cannot listen on %s: socket", spec);
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->v6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&got, &got_len) != 0) {
        int e = errno;
        close(fd);
        return gd_err_sys(err, e, "cannot listen on %s", spec);
    }
    *port = ntohs(a->v6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                        : ((struct sockaddr_in *)&got)->sin_port);
    *fd_out = fd;
    return 0;
}

/* Reads the PEM pair and checks that the key is the certificate's. */
static int load_tls(gd_http *h, const char *cert_file, const char *key_file, gd_err *err)
{
    int rc = gd_read_small_file(cert_file, GD_HTTP_PEM_MAX, &h->cert_pem, NULL, err);
    if (rc == 0)
        rc = gd_read_small_file(key_file, GD_HTTP_PEM_MAX, &h->key_pem, NULL, err);
    if (rc != 0) {
        gd_err_prefix(err, "tls-cert-file/tls-key-file");
        return rc;
    }
    BIO *cb = BIO_new_mem_buf(h->cert_pem, -1);
    BIO *kb = BIO_new_mem_buf(h->key_pem, -1);
    X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (!cert)
        rc = gd_err_set(err, GD_E_CONFIG, "tls-cert-file %s holds no PEM certificate", cert_file);
    else if (!key)
        rc = gd_err_set(err, GD_E_CONFIG, "tls-key-file %s holds no unencrypted PEM private key",
                        key_file);
    else if (X509_check_private_key(cert, key) != 1)
        rc = gd_err_set(err, GD_E_CONFIG, "tls-key-file %s is not the key of tls-cert-file %s",
                        key_file, cert_file);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

/* ---- answering ---------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text, size_t len,
                                 const char *type, const char *hdr, const char *val)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (hdr)
        MHD_add_response_header(r, hdr, val);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends answer (consumed) as one line of JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *answer,
                                 const char *hdr, const char *val)
{
    char *s = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (!s) {
        status = 500;
        s = gd_strdup("{\"Code\":\"InternalError\",\"Message\":\"the answer could not be "
                      "encoded\"}");
    }
    size_t n = strlen(s);
    char *line = gd_realloc(s, n + 2);
    line[n] = '\n';
    line[n + 1] = '\0';
    return send_text(c, status, line, n + 1, "application/json", hdr, val);
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *msg, const char *hdr, const char *val)
{
    json_t *a = NULL;
    gd_http_error(&a, status, code, "%s", msg);
    return send_json(c, status, a, hdr, val);
}

/* ---- checks ------------------------------------------------------------- */

/* "Bearer <token>", compared in time that depends only on what the client
 * sent, never on how much of the token it got right. */
static bool authorized(const gd_http *h, struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    size_t n = strlen(v);
    volatile unsigned char diff = (unsigned char)(n != h->token_len);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(v[i] ^ h->token[i % h->token_len]);
    return diff == 0;
}

static enum MHD_Result refuse_token(struct MHD_Connection *c)
{
    bool sent =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
    return send_error(c, 401, "Unauthorized",
                      sent ? "the bearer token is wrong"
                           : "send the token in an 'Authorization: Bearer <token>' header",
                      MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

/* Letters and digits, 1 to 64 of them. */
static bool op_name_ok(const char *op)
{
    size_t n = 0;
    for (; op[n]; n++)
        if (n >= GD_HTTP_OP_MAX ||
            !((op[n] >= 'a' && op[n] <= 'z') || (op[n] >= 'A' && op[n] <= 'Z') ||
              (op[n] >= '0' && op[n] <= '9')))
            return false;
    return n > 0;
}

static bool is_get(const char *method)
{
    return strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* ---- routes ------------------------------------------------------------- */

static enum MHD_Result serve_metrics(gd_http *h, struct MHD_Connection *c)
{
    if (!h->loopback && !authorized(h, c))
        return refuse_token(c);
    char *text = h->metrics(h->metrics_ctx);
    if (!text)
        return send_error(c, 500, "InternalError", "the metrics could not be gathered", NULL, NULL);
    return send_text(c, 200, text, strlen(text), "text/plain; version=0.0.4; charset=utf-8", NULL,
                     NULL);
}

/* The first call of a POST /api/<op>: everything that can be refused
 * before the body is read.  Returns MHD_YES with r->body ready to fill,
 * or the result of queueing the refusal (r->op[0] is then '\0'). */
static enum MHD_Result begin_api(gd_http *h, struct MHD_Connection *c, const char *op,
                                 const char *method, request *r)
{
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return send_error(c, 405, "MethodNotAllowed", "API operations are called with POST",
                          MHD_HTTP_HEADER_ALLOW, "POST");
    if (!authorized(h, c))
        return refuse_token(c);
    if (!op_name_ok(op))
        return send_error(c, 404, "UnknownOperation",
                          "an operation name is 1 to 64 letters and digits "
                          "(e.g. POST /api/DescribeJobs)",
                          NULL, NULL);
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return send_error(c, 411, "LengthRequired",
                          "send the body with a Content-Length header, not chunked", NULL, NULL);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long size = cl ? strtoull(cl, NULL, 10) : 0; /* libmicrohttpd checked it */
    if (size > h->max_body) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body is %llu bytes; at most %zu are allowed", size,
                 h->max_body);
        return send_error(c, 413, "BodyTooLarge", msg, NULL, NULL);
    }
    size_t want = (size_t)size + 1;
    if (atomic_fetch_add(&h->buffered, want) + want > h->max_buffered) {
        atomic_fetch_sub(&h->buffered, want);
        return send_error(c, 503, "ServerBusy", "too many requests are being read; try again",
                          MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    r->reserved = want;
    r->size = (size_t)size;
    r->body = gd_malloc(want);
    memcpy(r->op, op, strlen(op) + 1);
    return MHD_YES;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_NULL:
        return "null";
    default:
        return "a boolean";
    }
}

/* The last call: the body is whole. */
static enum MHD_Result finish_api(gd_http *h, struct MHD_Connection *c, request *r)
{
    json_t *params, *answer = NULL;
    json_error_t je;
    if (r->len == 0)
        params = json_object();
    else
        params = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!params) {
        gd_http_error(&answer, 400, "InvalidJSON",
                      "the body is not a JSON object: %s (line %d, column %d)", je.text, je.line,
                      je.column);
        return send_json(c, 400, answer, NULL, NULL);
    }
    if (!json_is_object(params)) {
        gd_http_error(&answer, 400, "InvalidJSON", "the body is not a JSON object: it is %s",
                      json_kind(params));
        json_decref(params);
        return send_json(c, 400, answer, NULL, NULL);
    }
    int status = h->api(h->api_ctx, r->op, params, &answer);
    json_decref(params);
    if (!json_is_object(answer) || status < 200 || status > 599) {
        gd_log_kv(GD_LOG_ERROR,
                  "event=api_bug op=%s status=%d error=\"the operation gave no JSON object\"",
                  r->op, status);
        json_decref(answer);
        status = gd_http_error(&answer, 500, "InternalError",
                               "the operation gave no answer; see the server's log");
    }
    gd_log_kv(GD_LOG_DEBUG, "event=api_call op=%s status=%d", r->op, status);
    return send_json(c, status, answer, NULL, NULL);
}

/* ---- the request deadline ---------------------------------------------- */

static conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* receiving: a request is being received, due whole by now + the request
 * timeout; else one is answered (no deadline). */
static void set_deadline(gd_http *h, struct MHD_Connection *c, bool receiving)
{
    conn *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&h->conns_mu);
    k->deadline = receiving ? gd_mono() + h->request_timeout_s : 0;
    pthread_mutex_unlock(&h->conns_mu);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    gd_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn *k = gd_calloc(1, sizeof *k);
        k->fd = ci ? ci->connect_fd : -1;
        pthread_mutex_lock(&h->conns_mu);
        k->deadline = gd_mono() + h->request_timeout_s;
        k->next = h->conns;
        if (h->conns)
            h->conns->prev = k;
        h->conns = k;
        pthread_mutex_unlock(&h->conns_mu);
        *socket_context = k;
        return;
    }
    conn *k = *socket_context;
    if (!k)
        return;
    /* libmicrohttpd closes the socket after this returns: once unlinked
     * (under conns_mu), the reaper cannot shut down a descriptor that a
     * new connection reuses. */
    pthread_mutex_lock(&h->conns_mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        h->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&h->conns_mu);
    free(k);
    *socket_context = NULL;
}

/* Cuts the connections whose request is not whole by its deadline (a
 * client sending a byte now and then, which the idle timeout never
 * catches): shutdown() makes libmicrohttpd see the stream end and close
 * the connection on its own thread. */
static void reap(void *ctx, gd_periodic_call *call)
{
    (void)call;
    gd_http *h = ctx;
    double now = gd_mono();
    unsigned cut = 0;
    pthread_mutex_lock(&h->conns_mu);
    for (conn *k = h->conns; k; k = k->next)
        if (k->deadline > 0 && now > k->deadline && k->fd >= 0) {
            shutdown(k->fd, SHUT_RDWR);
            k->deadline = 0;
            cut++;
        }
    pthread_mutex_unlock(&h->conns_mu);
    if (cut > 0)
        gd_log_kv(GD_LOG_WARN,
                  "event=api_connections_cut connections=%u reason=\"a request not received "
                  "whole within %.0f s\"",
                  cut, h->request_timeout_s);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
    (void)version;
    gd_http *h = cls;
    request *r = *con_cls;
    if (!r) {
        r = gd_calloc(1, sizeof *r);
        *con_cls = r;
        if (strncmp(url, "/api/", 5) == 0)
            return begin_api(h, c, url + 5, method, r);
        set_deadline(h, c, false); /* received whole: no body comes */
        bool health = strcmp(url, "/health") == 0;
        if (!health && !(h->metrics && strcmp(url, "/metrics") == 0))
            return send_error(c, 404, "NotFound",
                              "no such path: the API is POST /api/<Operation>, "
                              "GET /health and GET /metrics",
                              NULL, NULL);
        if (!is_get(method))
            return send_error(c, 405, "MethodNotAllowed", "this path is read with GET",
                              MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        if (health)
            return send_json(c, 200, json_pack("{s:s}", "Status", "ok"), NULL, NULL);
        return serve_metrics(h, c);
    }
    if (r->op[0] == '\0') /* refused already: drop the rest */
        return MHD_YES;
    if (*data_size > 0) {
        if (*data_size > r->size - r->len) /* more than Content-Length said */
            return MHD_NO;
        memcpy(r->body + r->len, data, *data_size);
        r->len += *data_size;
        *data_size = 0;
        return MHD_YES;
    }
    set_deadline(h, c, false);
    enum MHD_Result ret = finish_api(h, c, r);
    r->op[0] = '\0';
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    gd_http *h = cls;
    set_deadline(h, c, true); /* the next request on this connection */
    request *r = *con_cls;
    if (!r)
        return;
    free(r->body);
    atomic_fetch_sub(&h->buffered, r->reserved);
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages (a client that sent garbage, a TLS
 * handshake that failed): only worth reading when debugging. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (gd_log_get_level() < GD_LOG_DEBUG)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    gd_log_kv(GD_LOG_DEBUG, "event=http_library message=%s", msg);
}

/* ---- start and stop ----------------------------------------------------- */

static int check_opts(const gd_http_opts *o, gd_err *err)
{
    if (!o->listen || !o->api)
        return gd_err_set(err, GD_E_INVALID, "the HTTP server needs a listen address and an API");
    if (!o->token || !o->token[0])
        return gd_err_set(err, GD_E_CONFIG, "the API token is empty: write one to token-file");
    if (!o->tls_cert_file != !o->tls_key_file)
        return gd_err_set(err, GD_E_CONFIG, "set both tls-cert-file and tls-key-file, or neither");
    if (o->tls_cert_file && !MHD_is_feature_supported(MHD_FEATURE_TLS))
        return gd_err_set(err, GD_E_CONFIG,
                          "this libmicrohttpd has no TLS: remove tls-cert-file and tls-key-file");
    return 0;
}

int gd_http_start(const gd_http_opts *o, gd_http **out, unsigned *port, gd_err *err)
{
    listen_addr a;
    int fd = -1;
    unsigned bound = 0;
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc == 0)
        rc = parse_listen(o->listen, &a, err);
    if (rc != 0)
        return rc;
    gd_http *h = gd_calloc(1, sizeof *h);
    pthread_mutex_init(&h->conns_mu, NULL);
    h->request_timeout_s = o->request_timeout_s ? o->request_timeout_s : 30u;
    h->api = o->api;
    h->api_ctx = o->api_ctx;
    h->metrics = o->metrics;
    h->metrics_ctx = o->metrics_ctx;
    h->token = gd_strdup(o->token);
    h->token_len = strlen(o->token);
    h->loopback = a.loopback;
    h->max_body = o->max_body ? o->max_body : 1024 * 1024;
    h->max_buffered = 16 * (h->max_body + 1);
    if (o->tls_cert_file && (rc = load_tls(h, o->tls_cert_file, o->tls_key_file, err)) != 0)
        goto out;
    if ((rc = open_listener(o->listen, &a, &fd, &bound, err)) != 0)
        goto out;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     (h->cert_pem ? MHD_USE_TLS : 0) | (a.v6 ? MHD_USE_IPv6 : 0);
    /* TLS 1.2 and 1.3 only; libmicrohttpd copies nothing: the PEM strings
     * live in h until gd_http_stop */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned pool = o->threads ? o->threads : 8u; /* 1: the polling thread alone */
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, pool > 1 ? pool : 0u,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 256u,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 30u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_address ? o->max_per_address : 64u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION, notify_connection,
        h, MHD_OPTION_ARRAY, h->cert_pem ? tls : tls + 3, MHD_OPTION_END);
    if (!h->daemon) {
        close(fd);
        rc = gd_err_set(err, GD_E_IO, "cannot start the HTTP server on %s", o->listen);
        goto out;
    }
    if (gd_periodic_start(0.5, 0, reap, h, &h->reaper) != 0) {
        rc = gd_err_set(err, GD_E_NOMEM, "cannot start the HTTP server's request timer");
        goto out;
    }
    gd_log_kv(GD_LOG_INFO, "event=api_listening listen=%s port=%u tls=%s", o->listen, bound,
              h->cert_pem ? "on" : "off");
    if (port)
        *port = bound;
    *out = h;
    return 0;
out:
    gd_http_stop(h);
    return rc;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void gd_http_stop(gd_http *h)
{
    if (!h)
        return;
    gd_periodic_stop(h->reaper);
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* every connection closed: conns is empty */
    pthread_mutex_destroy(&h->conns_mu);
    wipe_free(h->token);
    wipe_free(h->key_pem);
    free(h->cert_pem);
    free(h);
}
