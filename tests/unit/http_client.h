/* A client of the API's transport for the unit tests (test_http,
 * test_fuzz_http): a server on 127.0.0.1 port 0 with an api callback of
 * the tests' own (Echo, Policy, Conflict, Broken; 404 otherwise) and
 * libcurl calls whose answers are parsed. */
#ifndef GD_TEST_HTTP_CLIENT_H
#define GD_TEST_HTTP_CLIENT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "server/http.h"
#include "server/params.h"

#define TOKEN "t0ken-for-tests-only"

/* ---- the server's side -------------------------------------------------- */

static inline int api(void *ctx, const char *op, json_t *params, json_t **answer)
{
    (void)ctx;
    if (strcmp(op, "Echo") == 0) {
        *answer = json_pack("{s:s, s:O}", "Op", op, "Params", params);
        return 200;
    }
    if (strcmp(op, "Conflict") == 0)
        return gd_http_error(answer, 409, "JobRunning", "a backup of %s runs", "db1");
    if (strcmp(op, "Broken") == 0) {
        *answer = NULL;
        return 200;
    }
    if (strcmp(op, "Policy") == 0) {
        gd_params p;
        gd_params_begin(&p, params, answer);
        long long r = gd_param_int(&p, "Retention", true, 0, 7, 1825);
        int rc = gd_params_end(&p);
        gd_params_free(&p);
        if (rc)
            return rc;
        *answer = json_pack("{s:I}", "Retention", (json_int_t)r);
        return 200;
    }
    return gd_http_error(answer, 404, "UnknownOperation", "no operation %s", op);
}

static inline char *metrics(void *ctx)
{
    (void)ctx;
    return gd_strdup("# TYPE geodr_up gauge\ngeodr_up 1\n");
}

static inline gd_http_opts opts(const char *listen)
{
    return (gd_http_opts){.listen = listen, .token = TOKEN, .api = api, .metrics = metrics};
}

static inline gd_http *start(const gd_http_opts *o, unsigned *port)
{
    gd_err err;
    gd_err_clear(&err);
    gd_http *h = NULL;
    if (gd_http_start(o, &h, port, &err) != 0)
        fail_msg("gd_http_start: %s", err.msg);
    assert_true(*port > 0);
    return h;
}

/* ---- the client's side -------------------------------------------------- */

typedef struct reply {
    long status;
    char type[128];
    char allow[64], www_auth[64];
    gd_buf body;
    json_t *json; /* the body parsed, when it is JSON */
} reply;

static inline size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    return gd_buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static inline size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = size * n;
    struct {
        const char *name;
        char *dst;
    } want[] = {{"Allow: ", r->allow}, {"WWW-Authenticate: ", r->www_auth}};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(want[i].name);
        if (len > k && strncasecmp(p, want[i].name, k) == 0) {
            size_t v = len - k;
            while (v > 0 && (p[k + v - 1] == '\r' || p[k + v - 1] == '\n'))
                v--;
            snprintf(want[i].dst, 64, "%.*s", (int)v, p + k);
        }
    }
    return len;
}

typedef struct call {
    const char *method; /* NULL: POST when there is a body, else GET */
    const char *path;
    const char *token; /* NULL: no Authorization header */
    const char *body;
    size_t len;
    bool chunked;
    bool tls; /* https, trusting ca */
    const char *ca;
} call;

/* Prepares e for c; *hdrs must be freed with curl_slist_free_all. */
static inline void setup(CURL *e, unsigned port, const call *c, reply *r, struct curl_slist **hdrs)
{
    char url[2048], auth[600];
    snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", c->tls ? "https" : "http", port, c->path);
    memset(r, 0, sizeof *r);
    gd_buf_init(&r->body, 64 * 1024 * 1024);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    *hdrs = NULL;
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        *hdrs = curl_slist_append(*hdrs, auth);
    }
    if (c->chunked)
        *hdrs = curl_slist_append(*hdrs, "Transfer-Encoding: chunked");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    }
    if (c->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->tls)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca);
}

/* After the transfer: status, type, parsed JSON. */
static inline void finish(CURL *e, reply *r)
{
    char *type = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type);
    snprintf(r->type, sizeof r->type, "%s", type ? type : "");
    if (strcmp(r->type, "application/json") == 0) {
        json_error_t je;
        r->json = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    }
}

static inline void reply_free(reply *r)
{
    json_decref(r->json);
    gd_buf_free(&r->body);
}

/* One request on e (reused: keep-alive); CURLcode of the transfer. */
static inline CURLcode do_call_on(CURL *e, unsigned port, const call *c, reply *r)
{
    struct curl_slist *hdrs;
    curl_easy_reset(e);
    setup(e, port, c, r, &hdrs);
    CURLcode rc = curl_easy_perform(e);
    if (rc == CURLE_OK)
        finish(e, r);
    curl_slist_free_all(hdrs);
    return rc;
}

static inline void do_call(unsigned port, const call *c, reply *r)
{
    CURL *e = curl_easy_init();
    CURLcode rc = do_call_on(e, port, c, r);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", c->method ? c->method : "", c->path, curl_easy_strerror(rc));
}

/* Asserts a JSON error answer with this status and code, whose message
 * contains msg (NULL: any). */
static inline void assert_error(const reply *r, long status, const char *code, const char *msg)
{
    if (r->status != status)
        fail_msg("status %ld, want %ld: %.*s", r->status, status, (int)r->body.len,
                 r->body.data ? r->body.data : "");
    assert_string_equal(r->type, "application/json");
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "Code")), code);
    const char *m = json_string_value(json_object_get(r->json, "Message"));
    assert_non_null(m);
    if (msg && !strstr(m, msg))
        fail_msg("message '%s' lacks '%s'", m, msg);
}

static inline void expect_error(unsigned port, const call *c, long status, const char *code,
                                const char *msg)
{
    reply r;
    do_call(port, c, &r);
    assert_error(&r, status, code, msg);
    reply_free(&r);
}

static inline void expect_health(unsigned port)
{
    reply r;
    do_call(port, &(call){.path = "/health"}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "application/json");
    assert_string_equal(json_string_value(json_object_get(r.json, "Status")), "ok");
    reply_free(&r);
}

/* A socket connected to the server, the request's head sent. */
static inline int open_with(unsigned port, const char *head)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    return fd;
}

#endif
