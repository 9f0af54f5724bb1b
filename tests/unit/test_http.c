/* Tests of the API's transport (server/http.h) against a real server on
 * 127.0.0.1, port 0, with libcurl as the client and an api callback of the
 * test's own (http_client.h). */
#include "http_client.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

/* ---- tests -------------------------------------------------------------- */

static void routes_and_methods(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port);
    expect_health(port);
    reply r;
    do_call(port, &(call){.method = "POST", .path = "/health"}, &r);
    assert_error(&r, 405, "MethodNotAllowed", NULL);
    assert_string_equal(r.allow, "GET, HEAD");
    reply_free(&r);
    expect_error(port, &(call){.path = "/"}, 404, "NotFound", "POST /api/<Operation>");
    expect_error(port, &(call){.path = "/api"}, 404, "NotFound", NULL);
    expect_error(port, &(call){.path = "/healthz"}, 404, "NotFound", NULL);
    do_call(port, &(call){.path = "/api/Echo", .token = TOKEN}, &r);
    assert_error(&r, 405, "MethodNotAllowed", "POST");
    assert_string_equal(r.allow, "POST");
    reply_free(&r);
    expect_error(port, &(call){.method = "PUT", .path = "/api/Echo", .token = TOKEN}, 405,
                 "MethodNotAllowed", NULL);
    expect_error(port, &(call){.method = "DELETE", .path = "/metrics"}, 405, "MethodNotAllowed",
                 NULL);
    /* operation names: letters and digits, 1 to 64 */
    const char *bad_ops[] = {"/api/",        "/api/Echo-2",  "/api/Echo/x",
                             "/api/Ech%20o", "/api/%00Echo", "/api/Ec%C3%A9ho"};
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++)
        expect_error(port, &(call){.path = bad_ops[i], .token = TOKEN, .body = "{}", .len = 2}, 404,
                     "UnknownOperation", "1 to 64 letters and digits");
    char path[100] = "/api/";
    memset(path + 5, 'A', 64);
    path[69] = '\0';
    expect_error(port, &(call){.path = path, .token = TOKEN, .body = "{}", .len = 2}, 404,
                 "UnknownOperation", "no operation AAAA");
    path[69] = 'A';
    path[70] = '\0';
    expect_error(port, &(call){.path = path, .token = TOKEN, .body = "{}", .len = 2}, 404,
                 "UnknownOperation", "1 to 64 letters and digits");
    gd_http_stop(h);
}

static void tokens(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port);
    call c = {.path = "/api/Echo", .body = "{}", .len = 2};
    reply r;
    do_call(port, &c, &r);
    assert_error(&r, 401, "Unauthorized", "Authorization: Bearer");
    assert_string_equal(r.www_auth, "Bearer");
    reply_free(&r);
    const char *wrong[] = {"t0ken-for-tests-onlx",
                           "t0ken-for-tests-onl",
                           "t0ken-for-tests-only2",
                           "T0KEN-FOR-TESTS-ONLY",
                           "x",
                           "t0ken-for-tests-onlyt0ken-for-tests-only"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        c.token = wrong[i];
        expect_error(port, &c, 401, "Unauthorized", "the bearer token is wrong");
    }
    /* another scheme is no token */
    CURL *e = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    c.token = NULL;
    setup(e, port, &c, &r, &hdrs);
    hdrs = curl_slist_append(hdrs, "Authorization: Basic " TOKEN);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    finish(e, &r);
    assert_error(&r, 401, "Unauthorized", NULL);
    reply_free(&r);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    /* the scheme's name is case-insensitive; the right token passes */
    c.token = TOKEN;
    do_call(port, &c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "Op")), "Echo");
    reply_free(&r);
    gd_http_stop(h);
}

static void bodies(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port);
    call c = {.path = "/api/Echo", .token = TOKEN};
    const char *bad[][2] = {
        {"{\"a\": ", "the body is not a JSON object: "},
        {"{\"a\": 1,}", "(line 1, column"},
        {"[1, 2]", "the body is not a JSON object: it is an array"},
        {"\"x\"", "it is a string"},
        {"42", "it is a number"},
        {"null", "it is null"},
        {"{\"a\": 1, \"a\": 2}", "duplicate object key"},
        {"{\"a\": \"\\u0000\"}", "the body is not a JSON object"},
        {"{} {}", "end of file expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.body = bad[i][0];
        c.len = strlen(c.body);
        expect_error(port, &c, 400, "InvalidJSON", bad[i][1]);
    }
    /* NUL bytes in the body */
    c.body = "{\"a\":1}\0zz";
    c.len = 10;
    expect_error(port, &c, 400, "InvalidJSON", NULL);
    /* an empty body is {} */
    reply r;
    c.body = "";
    c.len = 0;
    do_call(port, &c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_object_size(json_object_get(r.json, "Params")), 0);
    reply_free(&r);
    /* the callback's errors and answers */
    c.body = "{\"Retention\": 3}";
    c.len = strlen(c.body);
    c.path = "/api/Policy";
    expect_error(port, &c, 400, "InvalidParameter",
                 "parameter 'Retention' must be an integer from 7 to 1825 (got 3)");
    c.body = "{\"Retention\": 30, \"Foo\": 1}";
    c.len = strlen(c.body);
    expect_error(port, &c, 400, "UnknownParameter", "unknown parameter 'Foo'");
    c.body = "{\"Retention\": 30}";
    c.len = strlen(c.body);
    do_call(port, &c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "Retention")), 30);
    reply_free(&r);
    c.path = "/api/Conflict";
    expect_error(port, &c, 409, "JobRunning", "a backup of db1 runs");
    c.path = "/api/Broken";
    expect_error(port, &c, 500, "InternalError", NULL);
    c.path = "/api/DescribeNothing";
    expect_error(port, &c, 404, "UnknownOperation", "no operation DescribeNothing");
    /* a chunked body has no length to check first */
    c.path = "/api/Echo";
    c.chunked = true;
    expect_error(port, &c, 411, "LengthRequired", "Content-Length");
    gd_http_stop(h);
}

/* A body over max_body is refused before it is read; one of exactly
 * max_body is served; the server answers afterwards. */
static void body_limit(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port);
    size_t big = 2 * 1024 * 1024;
    char *body = gd_malloc(big);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    call c = {.path = "/api/Echo", .token = TOKEN, .body = body, .len = big};
    for (int i = 0; i < 3; i++) {
        expect_error(port, &c, 413, "BodyTooLarge",
                     "the body is 2097152 bytes; at most 1048576 are allowed");
        expect_health(port);
    }
    c.len = 1024 * 1024;
    body[c.len - 1] = '}';
    reply r;
    do_call(port, &c, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    c.len++;
    expect_error(port, &c, 413, "BodyTooLarge", NULL);
    /* the token is checked before the size: no 413 to strangers */
    c.token = NULL;
    expect_error(port, &c, 401, "Unauthorized", NULL);
    free(body);
    gd_http_stop(h);
}

/* Bodies being read share a budget of 16 max_body: of 20 requests that
 * announce max_body bytes and send none, 16 hold the budget and 4 get a
 * 503; then any other body gets a 503 too, until their connections end. */
static void body_budget(void **state)
{
    (void)state;
    enum { N = 20 };
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.max_body = 100;
    gd_http *h = start(&o, &port);
    const char *head = "POST /api/Echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                       "\r\nContent-Length: 100\r\n\r\n";
    int fds[N], busy = 0;
    struct pollfd p[N];
    for (int i = 0; i < N; i++) {
        fds[i] = open_with(port, head);
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    double t0 = gd_mono();
    while (busy < N - 16 && gd_mono() - t0 < 10.0) {
        assert_true(poll(p, N, 100) >= 0);
        for (int i = 0; i < N; i++) {
            char buf[1024];
            ssize_t n;
            if (!(p[i].revents & POLLIN) || (n = recv(fds[i], buf, sizeof buf - 1, 0)) <= 0)
                continue;
            buf[n] = '\0';
            assert_non_null(strstr(buf, "HTTP/1.1 503"));
            assert_non_null(strstr(buf, "\"Code\":\"ServerBusy\""));
            p[i].fd = -1;
            busy++;
        }
    }
    assert_int_equal(busy, N - 16);
    call c = {.path = "/api/Echo", .token = TOKEN, .body = "{}", .len = 2};
    expect_error(port, &c, 503, "ServerBusy", "try again");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    reply r;
    for (int tries = 0;; tries++) {
        do_call(port, &c, &r);
        if (r.status == 200 || tries == 100)
            break;
        reply_free(&r);
        usleep(20 * 1000);
    }
    assert_int_equal(r.status, 200);
    reply_free(&r);
    gd_http_stop(h);
}

static void metrics_access(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port);
    reply r;
    do_call(port, &(call){.path = "/metrics"}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_memory_equal(r.body.data, "# TYPE geodr_up gauge\ngeodr_up 1\n", r.body.len);
    reply_free(&r);
    gd_http_stop(h);
    /* off loopback: the token is needed */
    o = opts("0.0.0.0:0");
    h = start(&o, &port);
    expect_error(port, &(call){.path = "/metrics"}, 401, "Unauthorized", NULL);
    expect_error(port, &(call){.path = "/metrics", .token = "nope"}, 401, "Unauthorized", NULL);
    do_call(port, &(call){.path = "/metrics", .token = TOKEN}, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    expect_health(port);
    gd_http_stop(h);
    /* no metrics callback: no such path */
    o = opts("127.0.0.1:0");
    o.metrics = NULL;
    h = start(&o, &port);
    expect_error(port, &(call){.path = "/metrics"}, 404, "NotFound", NULL);
    gd_http_stop(h);
}

static void start_errors(void **state)
{
    (void)state;
    const char *bad[] = {"localhost:7480", "127.0.0.1",    "[::1:7480",     "::1:7480",
                         "127.0.0.1:",     "127.0.0.1:x",  "1.2.3.4:65536", "127.0.0.1:-1",
                         "[::1]7480",      "256.0.0.1:80", ":80",           ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_http_opts o = opts(bad[i]);
        gd_http *h = NULL;
        gd_err err;
        gd_err_clear(&err);
        assert_int_equal(gd_http_start(&o, &h, NULL, &err), GD_E_CONFIG);
        assert_null(h);
        if (!strstr(err.msg, "is not IPV4:PORT or [IPV6]:PORT"))
            fail_msg("%s: %s", bad[i], err.msg);
    }
    /* a busy port names the address and the reason */
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    gd_http *h = start(&o, &port), *h2 = NULL;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    o.listen = listen;
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_http_start(&o, &h2, NULL, &err), GD_E_IO);
    assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1:"));
    assert_non_null(strstr(err.msg, "in use"));
    gd_http_stop(h);
    /* no token, half a TLS pair */
    o = opts("127.0.0.1:0");
    o.token = "";
    gd_err_clear(&err);
    assert_int_equal(gd_http_start(&o, &h2, NULL, &err), GD_E_CONFIG);
    assert_non_null(strstr(err.msg, "token"));
    o = opts("127.0.0.1:0");
    o.tls_cert_file = "/nonexistent.pem";
    gd_err_clear(&err);
    assert_int_equal(gd_http_start(&o, &h2, NULL, &err), GD_E_CONFIG);
    assert_non_null(strstr(err.msg, "both"));
    /* IPv6 loopback, when the machine has it */
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd >= 0) {
        close(fd);
        o = opts("[::1]:0");
        gd_err_clear(&err);
        if (gd_http_start(&o, &h2, &port, &err) == 0) {
            assert_true(port > 0);
            gd_http_stop(h2);
        } else {
            assert_non_null(strstr(err.msg, "cannot listen on [::1]:0"));
        }
    }
}

/* 200 requests at once (curl multi: one connection each), every answer
 * the right one, with at most max_connections served at once (0: the
 * default). */
static void parallel_with(unsigned max_connections)
{
    enum { N = 200 };
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.max_connections = max_connections;
    o.max_per_address = N; /* all from 127.0.0.1 */
    gd_http *h = start(&o, &port);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    static CURL *e[N];
    static reply r[N];
    static struct curl_slist *hdrs[N];
    static char bodies[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"N\": %d}", i);
        e[i] = curl_easy_init();
        setup(e[i], port,
              &(call){
                  .path = "/api/Echo", .token = TOKEN, .body = bodies[i], .len = strlen(bodies[i])},
              &r[i], &hdrs[i]);
        curl_easy_setopt(e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = N;
    while (running > 0) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    int ok = 0, msgs;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &msgs)))
        if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
            ok++;
    assert_int_equal(ok, N);
    for (int i = 0; i < N; i++) {
        finish(e[i], &r[i]);
        assert_int_equal(r[i].status, 200);
        json_t *n = json_object_get(json_object_get(r[i].json, "Params"), "N");
        assert_int_equal(json_integer_value(n), i);
        reply_free(&r[i]);
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
        curl_slist_free_all(hdrs[i]);
    }
    curl_multi_cleanup(m);
    gd_http_stop(h);
}

static void parallel_requests(void **state)
{
    (void)state;
    parallel_with(0);
    /* connections over the limit wait in the listen queue: not refused */
    parallel_with(16);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* TLS with a throwaway certificate made by the openssl command. */
static void tls(void **state)
{
    (void)state;
    char dir[] = "/tmp/gd-http-tls-XXXXXX", cmd[1024], cert[128], key[128], key2[128];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(key2, sizeof key2, "%s/other.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             ">/dev/null 2>&1 && openssl genpkey -algorithm EC -pkeyopt "
             "ec_paramgen_curve:prime256v1 -out %s >/dev/null 2>&1",
             key, cert, key2);
    if (run(cmd) != 0) {
        skip(); /* no openssl command */
    }
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    gd_http *h = start(&o, &port);
    reply r;
    call c = {.path = "/api/Echo",
              .token = TOKEN,
              .body = "{\"a\":1}",
              .len = 7,
              .tls = true,
              .ca = cert};
    do_call(port, &c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "Params"), "a")),
                     1);
    reply_free(&r);
    /* TLS 1.2 as well as 1.3 */
    CURL *e = curl_easy_init();
    struct curl_slist *hdrs;
    setup(e, port, &c, &r, &hdrs);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_MAX_TLSv1_2);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    finish(e, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    curl_slist_free_all(hdrs);
    curl_easy_reset(e);
    c.token = "wrong";
    expect_error(port, &c, 401, "Unauthorized", NULL);
    /* plain HTTP to the TLS port gets no answer */
    c.tls = false;
    assert_int_not_equal(do_call_on(e, port, &c, &r), CURLE_OK);
    reply_free(&r);
    curl_easy_cleanup(e);
    gd_http_stop(h);
    /* a key that is not the certificate's, a missing file, a non-PEM file */
    gd_err err;
    gd_http *h2 = NULL;
    struct {
        const char *cert, *key, *msg;
    } bad[] = {{cert, key2, "is not the key of tls-cert-file"},
               {cert, "/nonexistent/key.pem", "cannot open /nonexistent/key.pem"},
               {key, key, "holds no PEM certificate"},
               {cert, cert, "holds no unencrypted PEM private key"}};
    for (size_t i = 0; i < 4; i++) {
        o.tls_cert_file = bad[i].cert;
        o.tls_key_file = bad[i].key;
        gd_err_clear(&err);
        assert_int_equal(gd_http_start(&o, &h2, NULL, &err) < 0, 1);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("%s", err.msg);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
}

/* A client that sends half a request and waits is cut off after the
 * timeout; others are served meanwhile. */
static void slow_client(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.timeout_s = 1;
    o.threads = 1;
    gd_http *h = start(&o, &port);
    int fd = open_with(port, "POST /api/Echo HTTP/1.1\r\nHost: x\r\n");
    expect_health(port);
    double t0 = gd_mono();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    assert_true(n <= 0); /* closed without an answer */
    assert_true(gd_mono() - t0 < 4.0);
    close(fd);
    gd_http_stop(h);
}

/* Seconds until fd is closed by the server (recv gives 0 or an error), or
 * -1 when it stays open for limit_s; sends one byte of more every 0.25 s
 * meanwhile (more NULL: nothing). */
static double closed_after(int fd, const char *more, double limit_s)
{
    double t0 = gd_mono();
    size_t sent = 0;
    while (gd_mono() - t0 < limit_s) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 250) == 1) {
            char buf[256];
            if (recv(fd, buf, sizeof buf, 0) <= 0)
                return gd_mono() - t0;
            fail_msg("the server answered a request it had not received whole");
        }
        if (more && more[sent] && send(fd, more + sent, 1, MSG_NOSIGNAL) == 1)
            sent++;
    }
    return -1;
}

/* Slowloris: a client sending a byte every 0.25 s is never idle, but its
 * request must be whole within request_timeout_s, headers or body; a
 * normal client is served meanwhile by the same single thread. */
static void slow_request_cut_at_the_deadline(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.timeout_s = 30; /* idle: never reached */
    o.request_timeout_s = 2;
    o.threads = 1;
    gd_http *h = start(&o, &port);
    static const char more[] = "X-Slow-Header-That-Never-Ends: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int heads = open_with(port, "POST /api/Echo HTTP/1.1\r\nHost: x\r\n");
    expect_health(port);
    double t = closed_after(heads, more, 6);
    if (!(t > 1.0 && t < 3.5))
        fail_msg("slow headers: closed after %.2f s (-1: never), want about 2 s", t);
    int body = open_with(port, "POST /api/Echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                               "\r\nContent-Length: 100\r\n\r\n{");
    expect_health(port);
    t = closed_after(body, more, 6);
    if (!(t > 1.0 && t < 3.5))
        fail_msg("slow body: closed after %.2f s (-1: never), want about 2 s", t);
    close(heads);
    close(body);
    gd_http_stop(h);
}

/* More connections from one address than max_per_address are closed at
 * once; the others, and new ones once those end, are served. */
static void connections_per_address(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.max_per_address = 2;
    gd_http *h = start(&o, &port);
    int a = open_with(port, "GET /hea");
    int b = open_with(port, "GET /hea");
    int c = open_with(port, "GET /hea");
    double t = closed_after(c, NULL, 2);
    assert_true(t >= 0 && t < 1.0);
    assert_int_equal(closed_after(a, NULL, 0.3), -1);
    close(c);
    close(a);
    close(b);
    for (int i = 0; i < 50; i++) { /* the server notices the closes (a slot
                                    * still counted refuses: try again) */
        reply r;
        CURL *e = curl_easy_init();
        CURLcode rc = do_call_on(e, port, &(call){.path = "/health"}, &r);
        curl_easy_cleanup(e);
        bool ok = rc == CURLE_OK && r.status == 200;
        reply_free(&r);
        if (ok)
            break;
        usleep(100 * 1000);
    }
    expect_health(port);
    gd_http_stop(h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_and_methods),
        cmocka_unit_test(tokens),
        cmocka_unit_test(bodies),
        cmocka_unit_test(body_limit),
        cmocka_unit_test(body_budget),
        cmocka_unit_test(metrics_access),
        cmocka_unit_test(start_errors),
        cmocka_unit_test(parallel_requests),
        cmocka_unit_test(tls),
        cmocka_unit_test(slow_client),
        cmocka_unit_test(slow_request_cut_at_the_deadline),
        cmocka_unit_test(connections_per_address),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
