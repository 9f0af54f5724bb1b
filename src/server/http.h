/* The HTTP JSON API's transport (docs/api.md): libmicrohttpd serving
 *
 *   GET  /health              200 {"Status": "ok"} without a token
 *   GET  /metrics             the Prometheus text the metrics callback gives
 *                             (text/plain; version=0.0.4); without a token
 *                             only when listening on loopback
 *   POST /api/<Operation>     a JSON object body (at most max_body bytes, with
 *                             a Content-Length; empty: {}),
 *                             "Authorization: Bearer <token>", answered by
 *                             the api callback with a JSON object
 *
 * and refusing everything else with a JSON error {"Code", "Message"}:
 * 401 Unauthorized (no or wrong token; compared in constant time),
 * 400 InvalidJSON (a body that is not a JSON object, duplicate keys),
 * 404 NotFound / UnknownOperation (an unknown path; an operation name that
 * is not 1-64 letters and digits), 405 MethodNotAllowed, 411 LengthRequired
 * (a chunked body), 413 BodyTooLarge (refused from the Content-Length,
 * before the body is read), 503 ServerBusy (the bodies being read together
 * are over 16 max_body: memory stays bounded), 500 InternalError (the api
 * callback gave no JSON object or a status outside 200-599).  The token is
 * checked before anything about the body.  Every answer is one line of
 * application/json but /metrics'.
 *
 * TLS (1.2, 1.3) when a certificate and key are given.  Connections are
 * served by a pool of polling threads, each serving many connections; the
 * api and metrics callbacks run on them, must be thread-safe, and should
 * return quickly (long work runs as a job).  An idle connection is closed
 * after timeout_s, and any connection whose request (headers and body) is
 * not received whole within request_timeout_s of its first byte's turn (the
 * connection's start, or the end of its previous request) is closed without
 * an answer: a client sending a byte now and then cannot hold a slot.  At
 * most max_connections are served, max_per_address from one address.  Secrets (the token, request
 * bodies) never reach a log line.  SIGPIPE is suppressed by libmicrohttpd on Linux. */
#ifndef GD_SERVER_HTTP_H
#define GD_SERVER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct gd_http gd_http;

/* Answers one API call: op is the operation from the path ("DescribeJobs"),
 * params the request's JSON object (borrowed).  Returns the HTTP status and
 * sets *answer (a new reference; a JSON object): the result on 200, or
 * {"Code", "Message"} on an error (gd_http_error builds one).  An operation
 * it does not know is 404 with Code "UnknownOperation". */
typedef int (*gd_http_api_fn)(void *ctx, const char *op, json_t *params, json_t **answer);
/* The text of /metrics (caller frees); NULL: 500. */
typedef char *(*gd_http_text_fn)(void *ctx);

typedef struct gd_http_opts {
    const char *listen;        /* "127.0.0.1:7480", "[::1]:7480", "0.0.0.0:7480"; port 0: any */
    const char *token;         /* the bearer token (not a file name) */
    const char *tls_cert_file; /* PEM; both or neither */
    const char *tls_key_file;
    size_t max_body;            /* 0: 1 MiB */
    unsigned threads;           /* polling threads, each serving many connections; 0: 8 */
    unsigned max_connections;   /* served at once, more wait in the listen queue; 0: 256 */
    unsigned timeout_s;         /* an idle connection is closed after this; 0: 30 */
    unsigned request_timeout_s; /* a request is received whole within this, however busy the
                                 * client keeps the connection, or it is closed; 0: 30 */
    unsigned max_per_address;   /* connections from one address at once; more are closed at
                                 * once; 0: 64 */
    gd_http_api_fn api;
    void *api_ctx;
    gd_http_text_fn metrics; /* NULL: /metrics is 404 */
    void *metrics_ctx;
} gd_http_opts;

/* Starts serving; *port (may be NULL) gets the port bound (listen's port 0
 * picks a free one).  o and its strings are read only during the call (the
 * token is copied, the PEM files read).  Fails with a message naming the
 * setting: GD_E_CONFIG for a listen address that does not parse (numeric
 * only: IPV4:PORT or [IPV6]:PORT), an empty token, half a TLS pair, a file
 * that holds no certificate or no unencrypted key, a key that is not the
 * certificate's; GD_E_IO for a port that cannot be bound ("cannot listen
 * on 127.0.0.1:7480: Address already in use") or an unreadable file. */
int gd_http_start(const gd_http_opts *o, gd_http **out, unsigned *port, gd_err *err);
/* Stops accepting, waits for the calls in flight, closes every connection,
 * frees h (NULL allowed); wipes the token and key from memory. */
void gd_http_stop(gd_http *h);

/* {"Code": code, "Message": <formatted>} with status returned, for api
 * callbacks: `return gd_http_error(answer, 400, "InvalidParameter", ...)`. */
int gd_http_error(json_t **answer, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
