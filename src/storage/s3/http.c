/* One HTTP exchange with an S3 endpoint, and a whole request with its
 * retries (contracts in s3.intern.h; design: docs/s3.md).
 *
 * Signing.  Requests without a body or a query string (GET, HEAD, DELETE of
 * an object) are signed by curl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"; we
 * pass x-amz-content-sha256 ourselves, which curl 7.88 then uses as the
 * payload hash).  The others are signed by sigv4.c: curl 7.88 puts a query
 * into the canonical request as it is, unsorted and not re-encoded, and it
 * signs the empty "Expect:" header we use to turn off 100-continue on
 * uploads although it does not send it (so S3 would refuse every PUT). */
#include "storage/s3/s3.intern.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "storage/s3/sigv4.h"

#define S3_XML_MAX ((size_t)16 << 20) /* list pages, multipart answers */
#define S3_ERRBODY_MAX ((size_t)64 << 10)

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static CURLcode s3_global_rc;

static void s3_global_init(void)
{
    s3_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int gd_s3_http_init(const char *region, gd_err *err)
{
    pthread_once(&s3_once, s3_global_init);
    if (s3_global_rc != CURLE_OK)
        return gd_err_set(err, GD_E_IO, "region %s: cannot initialise libcurl: %s", region,
                          curl_easy_strerror(s3_global_rc));
    return 0;
}

CURL *gd_s3_handle_get(s3_storage *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_idle > 0)
        h = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->mu);
    if (h == NULL) {
        h = curl_easy_init();
        if (h == NULL) {
            fprintf(stderr, "geodr: out of memory creating a curl handle\n");
            abort();
        }
    }
    return h;
}

void gd_s3_handle_put(s3_storage *s, CURL *h)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_idle < S3_MAX_IDLE) {
        s->idle[s->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (h != NULL)
        curl_easy_cleanup(h);
}

void gd_s3_resp_init(s3_resp *r)
{
    memset(r, 0, sizeof *r);
    gd_buf_init(&r->body, 0);
}

static void resp_reset(s3_resp *r)
{
    gd_buf body = r->body;
    gd_buf_reset(&body);
    memset(r, 0, sizeof *r);
    r->body = body;
}

void gd_s3_resp_free(s3_resp *r)
{
    gd_buf_free(&r->body);
}

static bool hdr_is(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1;
    const char *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
    s3_resp *r = ctx;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new status line (after a 1xx, or a new attempt): forget the
         * previous answer's headers. */
        const char *sp = memchr(p, ' ', n);
        long st = 0;
        if (sp != NULL) {
            for (const char *q = sp + 1; q < p + n && *q >= '0' && *q <= '9'; q++)
                st = st * 10 + (*q - '0');
        }
        r->status = st;
        r->has_length = r->has_mtime = r->has_range = false;
        r->etag[0] = r->bucket_region[0] = '\0';
    } else if (hdr_is(p, n, "content-length", &v, &vl)) {
        r->has_length = gd_s3_parse_u64(v, vl, &r->content_length);
    } else if (hdr_is(p, n, "last-modified", &v, &vl)) {
        char tmp[128];
        if (vl < sizeof tmp) {
            memcpy(tmp, v, vl);
            tmp[vl] = '\0';
            time_t t = curl_getdate(tmp, NULL);
            if (t != -1) {
                r->has_mtime = true;
                r->mtime_us = (int64_t)t * 1000000;
            }
        }
    } else if (hdr_is(p, n, "etag", &v, &vl)) {
        if (vl < sizeof r->etag) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = '\0';
        }
    } else if (hdr_is(p, n, "content-range", &v, &vl)) {
        /* "bytes START-END/TOTAL" */
        if (vl > 6 && strncmp(v, "bytes ", 6) == 0) {
            const char *a = v + 6, *e = v + vl;
            const char *dash = memchr(a, '-', (size_t)(e - a));
            const char *slash = memchr(a, '/', (size_t)(e - a));
            if (dash && slash && dash < slash &&
                gd_s3_parse_u64(a, (size_t)(dash - a), &r->range_start) &&
                gd_s3_parse_u64(slash + 1, (size_t)(e - slash - 1), &r->range_total))
                r->has_range = true;
        }
    } else if (hdr_is(p, n, "x-amz-bucket-region", &v, &vl)) {
        if (vl < sizeof r->bucket_region) {
            memcpy(r->bucket_region, v, vl);
            r->bucket_region[vl] = '\0';
        }
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    s3_resp *r = ctx;
    size_t n = size * nmemb;
    if (r->status >= 200 && r->status < 300 && r->req->sink != NULL)
        return r->req->sink(r->req->sink_ctx, r, p, n);
    size_t max = r->status >= 200 && r->status < 300 ? S3_XML_MAX : S3_ERRBODY_MAX;
    size_t room = r->body.len < max ? max - r->body.len : 0;
    size_t c = n < room ? n : room;
    if (c < n)
        r->body_truncated = true;
    if (c > 0)
        gd_buf_append(&r->body, p, c);
    return n;
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *ctx)
{
    s3_resp *r = ctx;
    size_t n = size * nmemb;
    size_t left = r->req->body_len - r->upload_off;
    if (n > left)
        n = left;
    if (n > 0) {
        memcpy(p, r->req->body + r->upload_off, n);
        r->upload_off += n;
    }
    return n;
}

static int on_seek(void *ctx, curl_off_t off, int origin)
{
    s3_resp *r = ctx;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    r->upload_off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    s3_resp *r = ctx;
    return r->req->cancelled != NULL && r->req->cancelled(r->req->cancel_ctx) ? 1 : 0;
}

static void amz_now(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* URI-encoded request path of a key (or of the bucket when key is NULL). */
static char *req_path(const s3_storage *s, const char *key)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_append(&b, s->path_base, strlen(s->path_base));
    if (key != NULL) {
        gd_buf_append(&b, "/", 1);
        gd_sigv4_uri_encode(&b, key, strlen(key), true);
    } else if (b.len == 0) {
        gd_buf_append(&b, "/", 1);
    }
    return b.data;
}

static struct curl_slist *add_hdr(struct curl_slist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct curl_slist *add_hdr(struct curl_slist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *n = curl_slist_append(l, line);
    if (n == NULL) {
        fprintf(stderr, "geodr: out of memory building an HTTP request\n");
        abort();
    }
    return n;
}

/* The request's options: URL, timeouts, TLS, callbacks, method. */
static void perform_options(const s3_storage *s, CURL *h, const s3_req *q, s3_resp *r,
                            const char *url, bool upload)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->t.connect_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->t.stall_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* curl's default since 7.50.2; said here because a request and its
     * answer are small writes that Nagle would hold back (docs/s3.md). */
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "geodr");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    if (q->cancelled != NULL) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }

    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (upload) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
        if (strcmp(q->method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
}

/* The headers of q, signed: by curl when the request has neither a body nor
 * a query, else by sigv4.c with the Authorization value in auth (which the
 * caller wipes).  The caller frees the list. */
static struct curl_slist *perform_headers(const s3_storage *s, CURL *h, const s3_req *q,
                                          const char *path, bool upload, gd_buf *auth)
{
    char hash[65];
    const char *payload = GD_SIGV4_EMPTY_SHA256;
    if (upload && q->body_len > 0) {
        if (q->payload_hash != NULL) {
            payload = q->payload_hash;
        } else {
            gd_sigv4_sha256_hex(q->body, q->body_len, hash);
            payload = hash;
        }
    }

    /* Headers we send, and sign (all of them but Expect). */
    gd_sigv4_header sh[8];
    size_t nsh = 0;
    struct curl_slist *hl = NULL;
    if (upload)
        hl = add_hdr(hl, "Expect:"); /* no 100-continue round trip */
    if (q->range[0]) {
        hl = add_hdr(hl, "Range: %s", q->range);
        sh[nsh++] = (gd_sigv4_header){"range", q->range};
    }
    if (q->if_match != NULL) {
        hl = add_hdr(hl, "If-Match: %s", q->if_match);
        sh[nsh++] = (gd_sigv4_header){"if-match", q->if_match};
    }
    if (q->content_type != NULL) {
        hl = add_hdr(hl, "Content-Type: %s", q->content_type);
        sh[nsh++] = (gd_sigv4_header){"content-type", q->content_type};
    }
    hl = add_hdr(hl, "x-amz-content-sha256: %s", payload);
    sh[nsh++] = (gd_sigv4_header){"x-amz-content-sha256", payload};
    if (s->session_token != NULL) {
        hl = add_hdr(hl, "x-amz-security-token: %s", s->session_token);
        sh[nsh++] = (gd_sigv4_header){"x-amz-security-token", s->session_token};
    }
    if (!upload && (q->query == NULL || q->query[0] == '\0')) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4_param);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    } else {
        char date[17];
        amz_now(date);
        sh[nsh++] = (gd_sigv4_header){"host", s->host_header};
        sh[nsh++] = (gd_sigv4_header){"x-amz-date", date};
        gd_sigv4_request sr = {
            .method = q->method,
            .path = path,
            .query = q->query,
            .headers = sh,
            .n_headers = nsh,
            .payload_hash = payload,
        };
        gd_sigv4_authorization(&sr, date, s->access_key, s->secret_key, s->sign_region, "s3", auth,
                               NULL);
        hl = add_hdr(hl, "Host: %s", s->host_header);
        hl = add_hdr(hl, "x-amz-date: %s", date);
        hl = add_hdr(hl, "Authorization: %s", auth->data);
    }
    return hl;
}

void gd_s3_perform(s3_storage *s, CURL *h, const s3_req *q, s3_resp *r)
{
    resp_reset(r);
    r->req = q;
    curl_easy_reset(h);

    char *path = req_path(s, q->key);
    char *url = q->query && q->query[0] ? gd_asprintf("%s%s?%s", s->url_base, path, q->query)
                                        : gd_asprintf("%s%s", s->url_base, path);
    bool upload = strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0;
    perform_options(s, h, q, r, url, upload);
    gd_buf auth;
    gd_buf_init(&auth, 0);
    struct curl_slist *hl = perform_headers(s, h, q, path, upload, &auth);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

    r->cc = curl_easy_perform(h);
    long st = 0;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st != 0)
        r->status = st;
    if (r->cc != CURLE_OK && r->curl_err[0] == '\0')
        gd_strlcpy(r->curl_err, curl_easy_strerror(r->cc), sizeof r->curl_err);

    /* The list holds the session token and the signature: drop it now. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hl);
    if (auth.data != NULL)
        OPENSSL_cleanse(auth.data, auth.len);
    gd_buf_free(&auth);
    free(url);
    free(path);
}

static bool retryable_cc(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:
    case CURLE_UPLOAD_FAILED:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

static bool retryable_code(const char *code)
{
    static const char *const codes[] = {
        "SlowDown",   "InternalError",       "RequestTimeout",  "ServiceUnavailable",
        "Throttling", "ThrottlingException", "OperationAborted"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* "object NAME" or the op's target, for messages. */
static const char *op_target(const s3_op *op, char *buf, size_t size)
{
    if (op->target != NULL)
        snprintf(buf, size, "%s", op->target);
    else
        snprintf(buf, size, "object %s", op->name ? op->name : "?");
    return buf;
}

int gd_s3_classify(const gd_storage *st, const s3_storage *s, s3_op *op, const s3_resp *r,
                   char *why, size_t whylen, gd_err *err)
{
    op->code[0] = '\0';
    char tg[1200];
    op_target(op, tg, sizeof tg);
    if (r->cc != CURLE_OK) {
        if (r->cc == CURLE_ABORTED_BY_CALLBACK)
            return gd_err_set(err, GD_E_CANCEL, "%s of %s in region %s cancelled", op->what, tg,
                              st->name);
        if (retryable_cc(r->cc)) {
            snprintf(why, whylen, "%s", r->curl_err);
            return S3_RETRY;
        }
        if (r->cc == CURLE_PEER_FAILED_VERIFICATION || r->cc == CURLE_SSL_CACERT_BADFILE ||
            r->cc == CURLE_SSL_CERTPROBLEM || r->cc == CURLE_SSL_ISSUER_ERROR) {
            int rc = gd_err_set(err, GD_E_NET,
                                "region %s: the TLS certificate of the S3 endpoint %s could not "
                                "be verified (%s): set ca-file to the CA bundle that signed it",
                                st->name, s->endpoint, r->curl_err);
            if (err)
                err->retryable = false;
            return rc;
        }
        if (r->cc == CURLE_WRITE_ERROR || r->cc == CURLE_READ_ERROR)
            return gd_err_set(err, GD_E_IO,
                              "cannot %s %s in region %s: transfer aborted by geodr (%s)", op->what,
                              tg, st->name, r->curl_err);
        int rc = gd_err_set(err, GD_E_NET, "cannot %s %s in region %s (S3 endpoint %s): %s",
                            op->what, tg, st->name, s->endpoint, r->curl_err);
        if (err)
            err->retryable = false;
        return rc;
    }

    char code[64], msg[256];
    gd_s3_xml_text(&r->body, "Code", code, sizeof code);
    gd_s3_xml_text(&r->body, "Message", msg, sizeof msg);
    gd_strlcpy(op->code, code, sizeof op->code);
    long stc = r->status;

    if (stc >= 200 && stc < 300) {
        if (op->body_errors && r->body.data != NULL && strstr(r->body.data, "<Error>") != NULL) {
            if (retryable_code(code)) {
                snprintf(why, whylen, "HTTP %ld %s", stc, code);
                return S3_RETRY;
            }
            return gd_err_set(err, GD_E_IO,
                              "cannot %s %s in region %s: the S3 endpoint %s answered %s: %s",
                              op->what, tg, st->name, s->endpoint, code, msg);
        }
        return S3_DONE;
    }
    if (stc >= 500 || stc == 429 || stc == 408 || retryable_code(code)) {
        snprintf(why, whylen, "HTTP %ld%s%s", stc, code[0] ? " " : "", code);
        return S3_RETRY;
    }
    char detail[400];
    if (code[0])
        snprintf(detail, sizeof detail, "HTTP %ld %s%s%s", stc, code, msg[0] ? ": " : "", msg);
    else
        snprintf(detail, sizeof detail, "HTTP %ld", stc);

    if (strcmp(code, "NoSuchBucket") == 0 || (stc == 404 && op->name == NULL))
        return gd_err_set(err, GD_E_NOTFOUND,
                          "bucket %s does not exist at %s (region %s): create it or fix 'bucket'",
                          s->bucket, s->endpoint, st->name);
    if (stc == 404) {
        if (op->missing_ok)
            return S3_DONE;
        return gd_err_set(err, GD_E_NOTFOUND, "%s not found in region %s", tg, st->name);
    }
    if (stc == 403 || strcmp(code, "ExpiredToken") == 0 ||
        strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0) {
        const char *hint = "";
        if (strcmp(code, "SignatureDoesNotMatch") == 0)
            hint = " (the secret key does not match the access key)";
        else if (strcmp(code, "InvalidAccessKeyId") == 0)
            hint = " (the access key id is unknown)";
        else if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "TokenRefreshRequired") == 0)
            hint = " (the session token has expired)";
        else if (strcmp(code, "RequestTimeTooSkewed") == 0)
            hint = " (this host's clock is too far from the endpoint's: fix the time)";
        int rc = gd_err_set(err, GD_E_AUTH,
                            "access denied by the S3 endpoint %s for bucket %s (region %s, %s "
                            "%s): check credentials-file/profile%s [%s]",
                            s->endpoint, s->bucket, st->name, op->what, tg, hint, detail);
        return rc;
    }
    if (stc == 301 || stc == 307 || strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "PermanentRedirect") == 0) {
        if (r->bucket_region[0])
            return gd_err_set(err, GD_E_CONFIG,
                              "region %s: bucket %s is in the S3 region %s, not %s: set 'region "
                              "= %s' (and an endpoint of that region)",
                              st->name, s->bucket, r->bucket_region, s->sign_region,
                              r->bucket_region);
        return gd_err_set(err, GD_E_CONFIG,
                          "region %s: the S3 endpoint %s sends bucket %s elsewhere: check "
                          "'endpoint' and 'region' [%s]",
                          st->name, s->endpoint, s->bucket, detail);
    }
    if (stc == 412)
        return gd_err_set(err, GD_E_IO,
                          "%s in region %s changed while it was being read: try again", tg,
                          st->name);
    return gd_err_set(err, GD_E_IO, "cannot %s %s in region %s: the S3 endpoint %s answered %s",
                      op->what, tg, st->name, s->endpoint, detail);
}

int gd_s3_net_error(const gd_storage *st, const s3_storage *s, const s3_op *op, const char *why,
                    gd_err *err)
{
    char tg[1200];
    return gd_err_set(err, GD_E_NET,
                      "cannot %s %s in region %s: the S3 endpoint %s failed %d times in %.0f s "
                      "(last: %s); it may be down or unreachable: try again later",
                      op->what, op_target(op, tg, sizeof tg), st->name, s->endpoint, op->attempts,
                      gd_mono() - op->started, why);
}

bool gd_s3_cancelled(const gd_storage *st)
{
    return gd_cancel_requested(st->cancel);
}

static bool st_cancel_cb(void *ctx)
{
    return gd_s3_cancelled(ctx);
}

int gd_s3_call(const gd_storage *st, s3_storage *s, const s3_req *q, s3_resp *r, s3_op *op,
               gd_err *err)
{
    char why[CURL_ERROR_SIZE + 64] = "";
    gd_retry rt;
    gd_retry_start(&rt, &s->retry);
    op->attempts = 0;
    op->started = rt.started;
    /* The owner's cancel also cuts a transfer in progress. */
    s3_req qc = *q;
    if (st->cancel != NULL && q->cancelled == NULL && !op->cleanup) {
        qc.cancelled = st_cancel_cb;
        qc.cancel_ctx = (void *)st;
    }
    for (int attempt = 1;; attempt++) {
        if (gd_s3_cancelled(st) && !(op->cleanup && attempt == 1)) {
            char tg[1200];
            return gd_err_set(err, GD_E_CANCEL, "%s %s in region %s: cancelled (stopping)",
                              op->what, op_target(op, tg, sizeof tg), st->name);
        }
        CURL *h = gd_s3_handle_get(s);
        gd_s3_perform(s, h, &qc, r);
        gd_s3_handle_put(s, h);
        op->attempts = attempt;
        int c = gd_s3_classify(st, s, op, r, why, sizeof why, err);
        if (c != S3_RETRY)
            return c;
        long ms = op->once ? -1 : gd_retry_next(&rt);
        if (ms < 0)
            break;
        char tg[1200];
        gd_debug("region %s: %s (%s %s) failed (%s); retrying in %ld ms (attempt %d, %.0f s of "
                 "%ld)",
                 st->name, q->method, op->what, op_target(op, tg, sizeof tg), why, ms, attempt + 1,
                 gd_mono() - op->started, s->t.retry_ms / 1000);
        if (gd_retry_sleep(ms, st->cancel))
            continue; /* the check at the top reports it */
    }
    return gd_s3_net_error(st, s, op, why, err);
}
