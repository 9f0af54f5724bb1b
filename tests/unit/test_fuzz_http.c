/* A bounded fuzz run of the API's request path: seeded random requests
 * (paths, methods, tokens, bodies mutated from JSON seeds) through the real
 * server, and garbage straight on its socket.  The server must never crash
 * and must answer every request with JSON. */
#include "http_client.h"

#include <poll.h>
#include <signal.h>

static const char *const seeds[] = {
    "{}",
    "{\"Retention\": 30}",
    "{\"DBInstanceId\": \"db1\", \"Tables\": [\"a.b\", \"c.d\"], \"Rename\": {\"a\": \"b\"}}",
    "{\"RestoreTime\": \"2026-11-30T13:05:09Z\", \"BackupEnabled\": true, \"N\": 1.5e300}",
    "[{\"a\": [[[[{}]]]]}, null, -0, \"\\ud800\"]",
};

/* A seed mutated: bytes flipped, cut, repeated, or random bytes. */
static size_t mutate(unsigned *seed, char *out, size_t cap)
{
    const char *s = seeds[(size_t)rand_r(seed) % (sizeof seeds / sizeof seeds[0])];
    size_t n = strlen(s);
    if (rand_r(seed) % 8 == 0) {
        n = (size_t)rand_r(seed) % 200;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)rand_r(seed);
        return n;
    }
    memcpy(out, s, n);
    for (int k = rand_r(seed) % 4; k > 0; k--) {
        size_t at = n ? (size_t)rand_r(seed) % n : 0;
        switch (rand_r(seed) % 4) {
        case 0: /* flip */
            if (n)
                out[at] = (char)rand_r(seed);
            break;
        case 1: /* cut */
            n = at;
            break;
        case 2: /* insert a JSON-ish byte */
            if (n + 1 < cap) {
                memmove(out + at + 1, out + at, n - at);
                out[at] = "{}[]\",:0-e.\\ntu"[rand_r(seed) % 15];
                n++;
            }
            break;
        default: /* repeat the head */
            if (2 * n < cap) {
                memcpy(out + n, out, at);
                n += at;
            }
        }
    }
    return n;
}

/* A path: a route, an operation, or random bytes percent-encoded. */
static void random_path(unsigned *seed, char *out, size_t cap)
{
    static const char *const fixed[] = {"/health",     "/metrics",      "/api/Echo", "/api/Policy",
                                        "/api/Broken", "/api/Conflict", "/api/",     "/"};
    int k = rand_r(seed) % 3;
    if (k == 0) {
        snprintf(out, cap, "%s", fixed[(size_t)rand_r(seed) % 8]);
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "%s", k == 1 ? "/api/" : "/");
    for (int len = rand_r(seed) % 80; len > 0 && n + 4 < cap; len--) {
        unsigned char b = (unsigned char)rand_r(seed);
        if (rand_r(seed) % 2)
            b = (unsigned char)"AZaz09Op/._"[rand_r(seed) % 11];
        if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
            b == '/' || b == '.' || b == '_')
            out[n++] = (char)b;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", b);
    }
    out[n] = '\0';
}

/* Random requests through the real server: every answer is JSON (but a
 * /metrics 200), errors carry a Code and Message, and the server lives. */
static void fuzz_requests(void **state)
{
    (void)state;
    unsigned port;
    gd_http_opts o = opts("127.0.0.1:0");
    o.max_body = 4096;
    o.timeout_s = 2;
    gd_http *h = start(&o, &port);
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    static const char *const tokens_[] = {TOKEN, NULL, "", "t0ken", TOKEN "x"};
    static char body[16384];
    char path[512];
    unsigned seed = 20261130;
    CURL *e = curl_easy_init();
    double t0 = gd_mono();
    int n;
    for (n = 0; n < 3000 && gd_mono() - t0 < 8.0; n++) {
        random_path(&seed, path, sizeof path);
        call c = {.path = path,
                  .method = methods[rand_r(&seed) % 6],
                  .token = tokens_[rand_r(&seed) % 5]};
        if (rand_r(&seed) % 4)
            c.method = "POST";
        if (rand_r(&seed) % 3 == 0)
            c.token = TOKEN;
        if (strcmp(c.method, "GET") != 0) {
            c.len = rand_r(&seed) % 50 == 0 ? 5000 : mutate(&seed, body, sizeof body);
            c.body = body;
        }
        reply r;
        CURLcode rc = do_call_on(e, port, &c, &r);
        if (rc != CURLE_OK)
            fail_msg("request %d %s %s: %s", n, c.method, path, curl_easy_strerror(rc));
        if (strcmp(path, "/metrics") == 0 && r.status == 200) {
            assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
        } else {
            if (!json_is_object(r.json))
                fail_msg("request %d %s %s: status %ld, not JSON: %s", n, c.method, path, r.status,
                         r.type);
            if (r.status >= 400) {
                assert_non_null(json_string_value(json_object_get(r.json, "Code")));
                assert_non_null(json_string_value(json_object_get(r.json, "Message")));
            }
            long allowed[] = {200, 400, 401, 404, 405, 409, 413, 500};
            bool ok = false;
            for (size_t i = 0; i < 8; i++)
                ok = ok || r.status == allowed[i];
            if (!ok)
                fail_msg("request %d: status %ld", n, r.status);
        }
        reply_free(&r);
    }
    curl_easy_cleanup(e);
    fprintf(stderr, "# fuzz: %d requests in %.2f s\n", n, gd_mono() - t0);
    assert_true(n >= 500);
    /* and garbage straight on the socket: the server survives */
    for (int i = 0; i < 300; i++) {
        int fd = open_with(port, "");
        size_t len = (size_t)rand_r(&seed) % 600;
        if (i % 2)
            len = (size_t)snprintf(body, sizeof body, "POST /api/Echo HTTP/1.1\r\n%s",
                                   i % 4 == 1 ? "Content-Length: 99999999999999999999\r\n\r\n"
                                              : "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
        else
            for (size_t k = 0; k < len; k++)
                body[k] = (char)rand_r(&seed);
        (void)send(fd, body, len, MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) == 1) /* an incomplete request waits for the timeout */
            (void)recv(fd, body, sizeof body, 0);
        close(fd);
    }
    expect_health(port);
    gd_http_stop(h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fuzz_requests),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
