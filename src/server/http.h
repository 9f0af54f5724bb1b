/* The HTTP JSON API's transport (docs/api.md): libmicrohttpd serving
 *
 *   GET  /health              200 {"Status": "ok"} without a token
 *   GET  /metrics             the Prometheus text the metrics callback gives;
 *                             without a token only when listening on loopback
 *   POST /api/<Operation>     a JSON object body (at most max_body bytes),
 *                             "Authorization: Bearer <token>", answered by
 *                             the api callback with a JSON object
 *
 * and refusing everything else with a JSON error {"Code", "Message"}:
 * 401 (no or wrong token; compared in constant time), 400 (a body that is
 * not a JSON object), 404 (an unknown path or operation), 405 (another
 * method), 413 (a body over max_body, refused before it is read whole).
 * TLS when a certificate and key are given.  Connections are served by a
 * pool of threads; the api callback runs on them and must be thread-safe.
 * Secrets (the token, request bodies) never reach a log line. */
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
    size_t max_body;          /* 0: 1 MiB */
    unsigned threads;         /* polling threads, each serving many connections; 0: 8 */
    unsigned max_connections; /* served at once, more wait in the listen queue; 0: 256 */
    unsigned timeout_s;       /* an idle connection is closed after this; 0: 30 */
    gd_http_api_fn api;
    void *api_ctx;
    gd_http_text_fn metrics; /* NULL: /metrics is 404 */
    void *metrics_ctx;
} gd_http_opts;

/* Starts serving; *port (may be NULL) gets the port bound (listen's port 0
 * picks a free one).  A listen address that does not parse, a busy port, or
 * an unreadable certificate fail here with a message naming them. */
int gd_http_start(const gd_http_opts *o, gd_http **out, unsigned *port, gd_err *err);
/* Stops accepting, waits for the calls in flight, frees h (NULL allowed). */
void gd_http_stop(gd_http *h);

/* {"Code": code, "Message": <formatted>} with status returned, for api
 * callbacks: `return gd_http_error(answer, 400, "InvalidParameter", ...)`. */
int gd_http_error(json_t **answer, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
