/* The S3-compatible driver: objects are keys <prefix><name> in one bucket,
 * reached over HTTP(S) with libcurl.  Design notes: docs/s3.md.
 *
 * Requests.  Every request goes through s3_call(): one curl easy handle
 * taken from a shared pool of idle handles (each keeps its live connection,
 * so keep-alive connections are reused across threads), a bounded number of
 * attempts with exponential backoff and jitter on transient failures, and
 * one classification of the outcome into a gd_code with a message that
 * names the object, the region, the bucket and the endpoint.  Secrets never
 * reach a message or a log line; CURLOPT_VERBOSE is never turned on.
 *
 * Signing.  Requests without a body or a query string (GET, HEAD, DELETE of
 * an object) are signed by curl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"; we
 * pass x-amz-content-sha256 ourselves, which curl 7.88 then uses as the
 * payload hash).  The others are signed by sigv4.c: curl 7.88 puts a query
 * into the canonical request as it is, unsorted and not re-encoded, and it
 * signs the empty "Expect:" header we use to turn off 100-continue on
 * uploads although it does not send it (so S3 would refuse every PUT).
 *
 * Streaming.  A reader runs its GET on a worker thread that fills a 2 MiB
 * ring; read() drains it, so memory stays bounded whatever the object size.
 * A body cut mid-transfer is resumed with a Range request from the first
 * byte not yet delivered, pinned to the first response's ETag (If-Match).
 * A writer buffers up to one 8 MiB part: a smaller object is committed
 * with a single PUT, a larger one becomes a multipart upload whose parts
 * are sent by up to S3_PART_INFLIGHT threads while the next part fills, and
 * is completed on commit (aborted on abort or failure).  Nothing is visible
 * under the name before commit. */
#include "storage/s3.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/util.h"
#include "storage/s3/s3.h"

/* 100 million keys at 1000 a page: more is a broken endpoint. */
#define S3_LIST_MAX_PAGES 100000

#define S3_PART_SIZE ((size_t)8 << 20)
#define S3_MAX_PARTS 10000
#define S3_PART_INFLIGHT 4 /* parts uploading at once per writer, besides the one filling */
#define S3_PARTS_MAX 8     /* part uploads at once per storage, over all its writers */
#define S3_RING_SIZE ((size_t)2 << 20)
#define S3_MAX_IDLE 64                /* idle curl handles kept per storage */
#define S3_XML_MAX ((size_t)16 << 20) /* list pages, multipart answers */
#define S3_ERRBODY_MAX ((size_t)64 << 10)
#define S3_READ_ATTEMPTS_MAX 100 /* one reader, all resumptions included */

/* ---- tuning ---- */

void gd_s3_tuning_defaults(gd_s3_tuning *t)
{
    t->connect_ms = 10000;
    t->stall_s = 30;
    t->attempts = 0;
    t->retry_ms = 120000;
    t->backoff_ms = 200;
    t->backoff_max_ms = 8000;
    t->list_ms = 3600000;
    t->stale_upload_s = 86400;
}

int gd_s3_tuning_parse(const char *spec, gd_s3_tuning *t, gd_err *err)
{
    const char *help = "GEODR_S3_TIMEOUTS: expected comma-separated key=value with keys connect "
                       "(seconds), stall (whole seconds >= 1), retry (seconds), attempts (1-100), "
                       "backoff-ms, backoff-max-ms, list (seconds), stale-upload (seconds)";
    char *dup = gd_strdup(spec);
    int rc = 0;
    char *next = NULL;
    for (char *tok = dup; tok != NULL; tok = next) {
        char *comma = strchr(tok, ',');
        next = comma ? comma + 1 : NULL;
        if (comma)
            *comma = '\0';
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; got '%.100s'", help, tok);
            goto out;
        }
        *eq = '\0';
        char *end = NULL;
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (errno != 0 || end == eq + 1 || (*end != '\0' && *end != ' ') || v < 0 || v > 1e7) {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; bad value for %.50s", help, tok);
            goto out;
        }
        if (strcmp(tok, "connect") == 0 && v > 0) {
            t->connect_ms = (long)(v * 1000);
            if (t->connect_ms < 1)
                t->connect_ms = 1;
        } else if (strcmp(tok, "stall") == 0 && v >= 1) {
            t->stall_s = (long)v;
        } else if (strcmp(tok, "attempts") == 0 && v >= 1 && v <= 100) {
            t->attempts = (int)v;
        } else if (strcmp(tok, "retry") == 0 && v > 0) {
            t->retry_ms = (long)(v * 1000);
        } else if (strcmp(tok, "list") == 0 && v > 0) {
            t->list_ms = (long)(v * 1000);
        } else if (strcmp(tok, "stale-upload") == 0 && v >= 1) {
            t->stale_upload_s = (long)v;
        } else if (strcmp(tok, "backoff-ms") == 0) {
            t->backoff_ms = (long)v;
        } else if (strcmp(tok, "backoff-max-ms") == 0) {
            t->backoff_max_ms = (long)v;
        } else {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; got '%.50s=%.50s'", help, tok, eq + 1);
            goto out;
        }
    }
out:
    free(dup);
    return rc;
}

/* ---- XML and date helpers ---- */

const char *gd_s3_xml_find(const char *p, const char *end, const char *tag, const char **v,
                           size_t *vn)
{
    size_t tl = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < tl + 2)
            return NULL;
        p = lt + 1;
        if (strncmp(p, tag, tl) != 0)
            continue;
        const char *a = p + tl;
        if (*a == '/' && a + 1 < end && a[1] == '>') { /* <Tag/> */
            *v = a + 2;
            *vn = 0;
            return a + 2;
        }
        if (*a != '>' && *a != ' ' && *a != '\t' && *a != '\r' && *a != '\n')
            continue; /* a longer tag name */
        const char *gt = memchr(a, '>', (size_t)(end - a));
        if (gt == NULL)
            return NULL;
        const char *body = gt + 1;
        /* find "</tag>" */
        const char *q = body;
        for (;;) {
            const char *c = memchr(q, '<', (size_t)(end - q));
            if (c == NULL || (size_t)(end - c) < tl + 3)
                return NULL;
            if (c[1] == '/' && strncmp(c + 2, tag, tl) == 0 && c[2 + tl] == '>') {
                *v = body;
                *vn = (size_t)(c - body);
                return c + tl + 3;
            }
            q = c + 1;
        }
    }
    return NULL;
}

static void put_utf8(gd_buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    gd_buf_append(out, b, n);
}

int gd_s3_xml_unescape(const char *p, size_t n, gd_buf *out)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    gd_buf_append(out, "", 0);
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(p + i, '&', n - i);
        size_t plain = amp ? (size_t)(amp - (p + i)) : n - i;
        gd_buf_append(out, p + i, plain);
        i += plain;
        if (amp == NULL)
            break;
        const char *semi = memchr(amp, ';', n - i);
        if (semi == NULL || semi - amp > 12)
            return GD_E_CORRUPT;
        const char *e = amp + 1;
        size_t el = (size_t)(semi - e);
        bool done = false;
        if (el > 1 && e[0] == '#') {
            unsigned long cp = 0;
            bool hex = e[1] == 'x' || e[1] == 'X';
            size_t k = hex ? 2 : 1;
            if (k >= el)
                return GD_E_CORRUPT;
            for (; k < el; k++) {
                int d;
                char c = e[k];
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (hex && c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
                else
                    return GD_E_CORRUPT;
                cp = cp * (hex ? 16 : 10) + (unsigned long)d;
                if (cp > 0x10FFFF)
                    return GD_E_CORRUPT;
            }
            if (cp == 0)
                return GD_E_CORRUPT;
            put_utf8(out, cp);
            done = true;
        } else {
            for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                if (strlen(ents[k].name) == el && strncmp(e, ents[k].name, el) == 0) {
                    gd_buf_append(out, &ents[k].c, 1);
                    done = true;
                    break;
                }
            }
        }
        if (!done)
            return GD_E_CORRUPT;
        i = (size_t)(semi + 1 - p);
    }
    return 0;
}

static bool digits(const char *p, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return true;
}

int gd_s3_parse_iso8601(const char *p, size_t n, int64_t *us)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff...]Z */
    int Y, M, D, h, m, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' ||
        p[16] != ':' || !digits(p, 4, &Y) || !digits(p + 5, 2, &M) || !digits(p + 8, 2, &D) ||
        !digits(p + 11, 2, &h) || !digits(p + 14, 2, &m) || !digits(p + 17, 2, &s))
        return GD_E_CORRUPT;
    size_t i = 19;
    int64_t frac = 0, scale = 1000000;
    if (p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (p[i] - '0') * scale;
            }
            i++;
        }
    }
    if (i + 1 != n || (p[i] != 'Z' && p[i] != 'z'))
        return GD_E_CORRUPT;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60)
        return GD_E_CORRUPT;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    *us = (int64_t)t * 1000000 + frac;
    return 0;
}

/* ---- the storage ---- */

typedef struct s3_storage {
    char *endpoint; /* as configured, for messages */
    char *bucket;
    char *prefix;      /* key prefix, "" when none */
    char *url_base;    /* "http://127.0.0.1:9000" or "https://bucket.s3.example.com" */
    char *host_header; /* authority as sent in Host */
    char *path_base;   /* "/bucket" (path-style) or "" (virtual-hosted), endpoint path first */
    bool path_style;
    char *sign_region;
    char *sigv4_param; /* "aws:amz:REGION:s3" */
    char *ca_file;
    char *access_key, *secret_key, *session_token;
    gd_s3_tuning t;
    pthread_mutex_t mu;
    CURL *idle[S3_MAX_IDLE];
    size_t n_idle;
    /* Part permits (part_permit_take): at most S3_PARTS_MAX part uploads in
     * flight, granted to the oldest waiting writer first. */
    pthread_cond_t part_cv;
    int parts_inflight;
    uint64_t next_writer;
    uint64_t *waiting; /* writer numbers waiting for a permit */
    size_t n_waiting, cap_waiting;
    atomic_bool swept; /* stale multipart uploads looked for (sweep_uploads) */
    /* Our own uploads whose abort failed (the endpoint was away): aborted
     * again after the next successful commit.  Under mu. */
    struct s3_orphan {
        char *key, *id_q;
    } * orphans;
    size_t n_orphans;
} s3_storage;

/* A part upload may start: waits for one of the storage's permits.  The
 * oldest writer (the first opened) goes first, so bandwidth goes to finishing
 * objects one after the other instead of sharing it evenly until they all
 * end together: each object's completion (a round trip, and the server
 * assembling the parts) then overlaps the uploads of the next, as a queue of
 * parts does in other S3 clients, and only the last object's is left at the
 * end. */
static void part_permit_take(s3_storage *s, uint64_t writer)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_waiting == s->cap_waiting) {
        s->cap_waiting = s->cap_waiting ? 2 * s->cap_waiting : 16;
        s->waiting = gd_realloc(s->waiting, s->cap_waiting * sizeof *s->waiting);
    }
    s->waiting[s->n_waiting++] = writer;
    for (;;) {
        uint64_t oldest = writer;
        for (size_t i = 0; i < s->n_waiting; i++)
            if (s->waiting[i] < oldest)
                oldest = s->waiting[i];
        if (s->parts_inflight < S3_PARTS_MAX && oldest == writer)
            break;
        pthread_cond_wait(&s->part_cv, &s->mu);
    }
    for (size_t i = 0; i < s->n_waiting; i++) {
        if (s->waiting[i] == writer) {
            s->waiting[i] = s->waiting[--s->n_waiting];
            break;
        }
    }
    s->parts_inflight++;
    pthread_cond_broadcast(&s->part_cv); /* the next oldest may go too */
    pthread_mutex_unlock(&s->mu);
}

static void part_permit_give(s3_storage *s)
{
    pthread_mutex_lock(&s->mu);
    s->parts_inflight--;
    pthread_cond_broadcast(&s->part_cv);
    pthread_mutex_unlock(&s->mu);
}

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static CURLcode s3_global_rc;

static void s3_global_init(void)
{
    s3_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *handle_get(s3_storage *s)
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

static void handle_put(s3_storage *s, CURL *h)
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

/* ---- one HTTP exchange ---- */

typedef struct s3_resp s3_resp;

typedef struct s3_req {
    const char *method; /* GET HEAD PUT POST DELETE */
    const char *key;    /* full key (prefix included), NULL for the bucket */
    const char *query;  /* as sent, URI-encoded, without '?'; NULL for none */
    char range[64];     /* "bytes=N-" or "" */
    const char *if_match;
    const char *content_type;
    const char *body; /* PUT/POST payload (may be NULL with body_len 0) */
    size_t body_len;
    const char *payload_hash; /* of body; NULL: computed when needed */
    /* Body of a 2xx answer goes to sink when set (else into resp->body);
     * return n to go on, anything else aborts the transfer. */
    size_t (*sink)(void *ctx, s3_resp *resp, const char *p, size_t n);
    void *sink_ctx;
    /* Called about once a second during a transfer: true aborts it. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
} s3_req;

struct s3_resp {
    CURLcode cc;
    long status;
    gd_buf body; /* error answers, XML answers (bounded) */
    bool body_truncated;
    bool has_length;
    uint64_t content_length;
    bool has_mtime;
    int64_t mtime_us;
    char etag[200];
    bool has_range;
    uint64_t range_start, range_total;
    char bucket_region[64];
    char curl_err[CURL_ERROR_SIZE];
    const s3_req *req;
    size_t upload_off;
};

static void resp_init(s3_resp *r)
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

static void resp_free(s3_resp *r)
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

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
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
        r->has_length = parse_u64(v, vl, &r->content_length);
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
                parse_u64(a, (size_t)(dash - a), &r->range_start) &&
                parse_u64(slash + 1, (size_t)(e - slash - 1), &r->range_total))
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

/* One attempt.  The outcome is in r (cc, status, headers, body). */
static void s3_perform(s3_storage *s, CURL *h, const s3_req *q, s3_resp *r)
{
    resp_reset(r);
    r->req = q;
    curl_easy_reset(h);

    char *path = req_path(s, q->key);
    char *url = q->query && q->query[0] ? gd_asprintf("%s%s?%s", s->url_base, path, q->query)
                                        : gd_asprintf("%s%s", s->url_base, path);
    bool upload = strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0;
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
    gd_buf auth;
    gd_buf_init(&auth, 0);
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
        gd_sigv4_authorization(&sr, date, s->access_key, s->secret_key, s->sign_region, "s3", &auth,
                               NULL);
        hl = add_hdr(hl, "Host: %s", s->host_header);
        hl = add_hdr(hl, "x-amz-date: %s", date);
        hl = add_hdr(hl, "Authorization: %s", auth.data);
    }
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

/* ---- outcome classification ---- */

enum { S3_DONE = 0, S3_RETRY = 1 };

typedef struct s3_op {
    const char *what;   /* "read", "write", "stat", "list", "remove", ... */
    const char *name;   /* object name, for messages (NULL for bucket-level requests) */
    const char *target; /* what the request is about when not an object, for messages */
    bool missing_ok;    /* a 404 other than NoSuchBucket is success (remove) */
    bool body_errors;   /* a 200 may carry an <Error> (CompleteMultipartUpload) */
    bool cleanup;       /* when the storage is cancelled, still one attempt (abort) */
    bool once;          /* best effort: one attempt, never retried */
    int attempts;       /* out: attempts made */
    double started;     /* out: gd_mono() of the first attempt */
    char code[64];      /* out: S3 error code of the last answer, if any */
} s3_op;

static void xml_text(const gd_buf *b, const char *tag, char *out, size_t size)
{
    out[0] = '\0';
    if (b->data == NULL)
        return;
    const char *v;
    size_t vn;
    if (gd_s3_xml_find(b->data, b->data + b->len, tag, &v, &vn) == NULL)
        return;
    gd_buf t;
    gd_buf_init(&t, 0);
    if (gd_s3_xml_unescape(v, vn, &t) == 0 && t.data != NULL) {
        /* one line, printable */
        for (char *c = t.data; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = ' ';
        gd_strlcpy(out, t.data, size);
    }
    gd_buf_free(&t);
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

/* Returns S3_DONE with nothing set for success, S3_RETRY with a reason in
 * why, or a negative gd_code with err set. */
static int s3_classify(const gd_storage *st, const s3_storage *s, s3_op *op, const s3_resp *r,
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
    xml_text(&r->body, "Code", code, sizeof code);
    xml_text(&r->body, "Message", msg, sizeof msg);
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

static uint64_t s3_rand(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)gd_now_us() * 0x9E3779B97F4A7C15ull;
    return r;
}

/* Pause before attempt number `attempt + 1`: d = backoff * 2^(attempt-1),
 * capped, drawn from [d/2, d]. */
static long backoff_ms(const gd_s3_tuning *t, int attempt)
{
    long d = t->backoff_ms;
    for (int i = 1; i < attempt && d < t->backoff_max_ms; i++)
        d *= 2;
    if (d > t->backoff_max_ms)
        d = t->backoff_max_ms;
    if (d <= 1)
        return d;
    long half = d / 2;
    return half + (long)(s3_rand() % (uint64_t)(d - half + 1));
}

/* The pause before the try after `attempt`, or -1 when the request has used
 * its budget.  The budget is elapsed time (t->retry_ms since the first try,
 * at `started`), not a count, so an outage shorter than it is ridden out
 * whatever the backoff and the connect timeouts add up to: the last pause
 * is shortened so that one try falls at the end of the budget.  A count
 * (t->attempts) applies too when set. */
static long retry_pause_ms(const gd_s3_tuning *t, int attempt, double started)
{
    if (t->attempts > 0 && attempt >= t->attempts)
        return -1;
    long left = t->retry_ms - (long)((gd_mono() - started) * 1000);
    if (left <= 0)
        return -1;
    long ms = backoff_ms(t, attempt);
    return ms < left ? ms : left;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int net_error(const gd_storage *st, const s3_storage *s, const s3_op *op, const char *why,
                     gd_err *err)
{
    char tg[1200];
    return gd_err_set(err, GD_E_NET,
                      "cannot %s %s in region %s: the S3 endpoint %s failed %d times in %.0f s "
                      "(last: %s); it may be down or unreachable: try again later",
                      op->what, op_target(op, tg, sizeof tg), st->name, s->endpoint, op->attempts,
                      gd_mono() - op->started, why);
}

static bool st_cancelled(const gd_storage *st)
{
    return st->cancel != NULL && atomic_load(st->cancel);
}

static bool st_cancel_cb(void *ctx)
{
    return st_cancelled(ctx);
}

/* Sleeps ms, in slices, unless the storage's owner cancels; true then. */
static bool pause_cancellable(const gd_storage *st, long ms)
{
    for (long left = ms; left > 0; left -= 100) {
        if (st_cancelled(st))
            return true;
        sleep_ms(left < 100 ? left : 100);
    }
    return st_cancelled(st);
}

/* A whole request with retries.  r holds the last answer. */
static int s3_call(const gd_storage *st, s3_storage *s, const s3_req *q, s3_resp *r, s3_op *op,
                   gd_err *err)
{
    char why[CURL_ERROR_SIZE + 64] = "";
    op->attempts = 0;
    op->started = gd_mono();
    /* The owner's cancel also cuts a transfer in progress. */
    s3_req qc = *q;
    if (st->cancel != NULL && q->cancelled == NULL && !op->cleanup) {
        qc.cancelled = st_cancel_cb;
        qc.cancel_ctx = (void *)st;
    }
    for (int attempt = 1;; attempt++) {
        if (st_cancelled(st) && !(op->cleanup && attempt == 1)) {
            char tg[1200];
            return gd_err_set(err, GD_E_CANCEL, "%s %s in region %s: cancelled (stopping)",
                              op->what, op_target(op, tg, sizeof tg), st->name);
        }
        CURL *h = handle_get(s);
        s3_perform(s, h, &qc, r);
        handle_put(s, h);
        op->attempts = attempt;
        int c = s3_classify(st, s, op, r, why, sizeof why, err);
        if (c != S3_RETRY)
            return c;
        long ms = op->once ? -1 : retry_pause_ms(&s->t, attempt, op->started);
        if (ms < 0)
            break;
        char tg[1200];
        gd_debug("region %s: %s (%s %s) failed (%s); retrying in %ld ms (attempt %d, %.0f s of "
                 "%ld)",
                 st->name, q->method, op->what, op_target(op, tg, sizeof tg), why, ms, attempt + 1,
                 gd_mono() - op->started, s->t.retry_ms / 1000);
        if (pause_cancellable(st, ms))
            continue; /* the check at the top reports it */
    }
    return net_error(st, s, op, why, err);
}

/* ---- names ---- */

static int s3_bad_name(gd_err *err, const gd_storage *st, const char *name)
{
    return gd_err_set(err, GD_E_INVALID,
                      "invalid object name '%.200s' for region %s: names are relative paths "
                      "without empty, '.'-leading or control-character components",
                      name, st->name);
}

static char *s3_key(const s3_storage *s, const char *name)
{
    return gd_asprintf("%s%s", s->prefix, name);
}

/* ---- stat, remove ---- */

static int s3_stat(gd_storage *st, const char *name, gd_stat *out, gd_err *err)
{
    s3_storage *s = st->self;
    if (!gd_storage_name_ok(name))
        return s3_bad_name(err, st, name);
    char *key = s3_key(s, name);
    s3_req q = {.method = "HEAD", .key = key};
    s3_resp r;
    resp_init(&r);
    s3_op op = {.what = "stat", .name = name};
    int rc = s3_call(st, s, &q, &r, &op, err);
    if (rc == 0) {
        if (!r.has_length) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot stat object %s in region %s: the S3 endpoint %s sent no "
                            "Content-Length",
                            name, st->name, s->endpoint);
        } else {
            out->size = r.content_length;
            out->mtime_us = r.has_mtime ? r.mtime_us : 0;
        }
    }
    resp_free(&r);
    free(key);
    return rc;
}

static int s3_remove(gd_storage *st, const char *name, gd_err *err)
{
    s3_storage *s = st->self;
    if (!gd_storage_name_ok(name))
        return s3_bad_name(err, st, name);
    char *key = s3_key(s, name);
    s3_req q = {.method = "DELETE", .key = key};
    s3_resp r;
    resp_init(&r);
    s3_op op = {.what = "remove", .name = name, .missing_ok = true};
    int rc = s3_call(st, s, &q, &r, &op, err);
    resp_free(&r);
    free(key);
    return rc;
}

/* ---- list ---- */

typedef struct s3_entry {
    char *name;
    gd_stat st;
} s3_entry;

static int s3_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const s3_entry *)a)->name, ((const s3_entry *)b)->name);
}

/* All pages are gathered and sorted before the first callback: S3 returns
 * keys in byte order, but not every S3-compatible server does (s3rver walks
 * its directory tree, which puts "a/b" before "a-b"), and the contract
 * promises name order.  Memory is one entry per object under the prefix,
 * as in the posix driver. */

typedef struct s3_listing {
    const char *prefix; /* as asked, after the storage's prefix */
    const char *opname; /* "objects under 'P'", for messages */
    s3_entry *ents;
    size_t n, cap;
} s3_listing;

/* Adds the <Contents> of one ListObjectsV2 page to l. */
static int list_page(gd_storage *st, const s3_storage *s, s3_listing *l, const gd_buf *body,
                     gd_err *err)
{
    size_t plen = strlen(s->prefix);
    const char *p = body->data, *end = body->data + body->len;
    gd_buf key;
    gd_buf_init(&key, 0);
    int rc = 0;
    for (;;) {
        const char *c, *v;
        size_t cn, vn;
        const char *next = gd_s3_xml_find(p, end, "Contents", &c, &cn);
        if (next == NULL)
            break;
        p = next;
        const char *ce = c + cn;
        gd_buf_reset(&key);
        if (gd_s3_xml_find(c, ce, "Key", &v, &vn) == NULL || gd_s3_xml_unescape(v, vn, &key) != 0) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: a <Contents> without a readable <Key> "
                            "in the answer of %s",
                            l->opname, st->name, s->endpoint);
            goto out;
        }
        gd_stat sst = {0};
        if (gd_s3_xml_find(c, ce, "Size", &v, &vn) == NULL || !parse_u64(v, vn, &sst.size)) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: object %.200s has no valid <Size> in "
                            "the answer of %s",
                            l->opname, st->name, key.data, s->endpoint);
            goto out;
        }
        if (gd_s3_xml_find(c, ce, "LastModified", &v, &vn) != NULL)
            (void)gd_s3_parse_iso8601(v, vn, &sst.mtime_us);
        if (key.len < plen || strncmp(key.data, s->prefix, plen) != 0)
            continue;
        const char *name = key.data + plen;
        /* Keys that are not object names (e.g. "dir/" markers made by
         * other tools, or '.'-leading parts) are not ours. */
        if (!gd_storage_name_ok(name) || strncmp(name, l->prefix, strlen(l->prefix)) != 0)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 256;
            l->ents = gd_realloc(l->ents, l->cap * sizeof *l->ents);
        }
        l->ents[l->n].name = gd_strdup(name);
        l->ents[l->n].st = sst;
        l->n++;
    }
out:
    gd_buf_free(&key);
    return rc;
}

/* The continuation token of a page that says it is truncated (*next), NULL
 * at the last page.  A token must move the listing on: the same one twice
 * (a broken or hostile endpoint) would list forever; so would endless
 * pages, and a listing slower than t.list_ms. */
static int list_next_token(gd_storage *st, const s3_storage *s, const s3_listing *l,
                           const gd_buf *body, const char *token, int pages, double t0, char **next,
                           gd_err *err)
{
    const char *v, *end = body->data + body->len;
    size_t vn;
    *next = NULL;
    if (gd_s3_xml_find(body->data, end, "IsTruncated", &v, &vn) == NULL || vn != 4 ||
        strncmp(v, "true", 4) != 0)
        return 0;
    gd_buf t;
    gd_buf_init(&t, 0);
    if (gd_s3_xml_find(body->data, end, "NextContinuationToken", &v, &vn) == NULL || vn == 0 ||
        gd_s3_xml_unescape(v, vn, &t) != 0) {
        gd_buf_free(&t);
        return gd_err_set(err, GD_E_IO,
                          "cannot list %s in region %s: the S3 endpoint %s said the listing is "
                          "truncated but sent no NextContinuationToken",
                          l->opname, st->name, s->endpoint);
    }
    const char *why = NULL;
    char slow[160];
    if (token != NULL && strcmp(token, t.data) == 0) {
        why = "sent the same continuation token twice (a broken listing)";
    } else if (pages > S3_LIST_MAX_PAGES) {
        why = "sent more pages than any listing needs";
    } else if ((gd_mono() - t0) * 1000 > (double)s->t.list_ms) {
        snprintf(slow, sizeof slow,
                 "was still listing after %ld s (%d pages; GEODR_S3_TIMEOUTS list= sets the limit)",
                 s->t.list_ms / 1000, pages);
        why = slow;
    }
    if (why != NULL) {
        gd_buf_free(&t);
        return gd_err_set(err, GD_E_IO,
                          "cannot list %s in region %s: the S3 endpoint %s %s; check the endpoint",
                          l->opname, st->name, s->endpoint, why);
    }
    *next = t.data;
    return 0;
}

static int s3_list(gd_storage *st, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err)
{
    s3_storage *s = st->self;
    if (prefix == NULL)
        prefix = "";
    if (prefix[0] != '\0') {
        char *probe = gd_asprintf("%sx", prefix);
        bool ok = gd_storage_name_ok(probe);
        free(probe);
        if (!ok)
            return gd_err_set(err, GD_E_INVALID, "invalid prefix '%.200s' for listing region %s",
                              prefix, st->name);
    }
    char opname[300];
    snprintf(opname, sizeof opname, "objects under '%.200s'", prefix);
    s3_listing l = {.prefix = prefix, .opname = opname};
    char *full = gd_asprintf("%s%s", s->prefix, prefix);
    char *token = NULL;
    gd_buf qs;
    gd_buf_init(&qs, 0);
    s3_resp r;
    resp_init(&r);
    int rc = 0;
    double t0 = gd_mono();
    for (int pages = 1;; pages++) {
        /* Sorted and encoded: sent as is, and canonical too. */
        gd_buf_reset(&qs);
        if (token != NULL) {
            gd_buf_append(&qs, "continuation-token=", 19);
            gd_sigv4_uri_encode(&qs, token, strlen(token), false);
            gd_buf_append(&qs, "&", 1);
        }
        gd_buf_append(&qs, "list-type=2&prefix=", 19);
        gd_sigv4_uri_encode(&qs, full, strlen(full), false);
        s3_req q = {.method = "GET", .key = NULL, .query = qs.data};
        s3_op op = {.what = "list", .target = opname};
        rc = s3_call(st, s, &q, &r, &op, err);
        if (rc != 0)
            goto out;
        if (r.body_truncated || r.body.data == NULL ||
            strstr(r.body.data, "<ListBucketResult") == NULL) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: the S3 endpoint %s sent an answer that "
                            "is not a ListObjectsV2 result",
                            opname, st->name, s->endpoint);
            goto out;
        }
        char *next = NULL;
        rc = list_page(st, s, &l, &r.body, err);
        if (rc == 0)
            rc = list_next_token(st, s, &l, &r.body, token, pages, t0, &next, err);
        if (rc != 0)
            goto out;
        free(token);
        token = next;
        if (token == NULL)
            break;
    }
    if (l.n > 1)
        qsort(l.ents, l.n, sizeof *l.ents, s3_entry_cmp);
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0 && strcmp(l.ents[i].name, l.ents[i - 1].name) == 0)
            continue; /* a key repeated across pages */
        rc = fn(ctx, l.ents[i].name, &l.ents[i].st);
        if (rc != 0)
            goto out;
    }
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.ents[i].name);
    free(l.ents);
    free(token);
    free(full);
    gd_buf_free(&qs);
    resp_free(&r);
    return rc;
}

/* ---- reader ---- */

typedef struct s3_reader {
    gd_reader r;
    gd_storage *st;
    s3_storage *s;
    char *name, *key;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *ring;
    size_t head, len; /* ring[head .. head+len) (mod S3_RING_SIZE) holds data */
    bool opened;      /* a 2xx answer has begun: open_read may return */
    bool done;        /* the worker has finished (EOF or error in rc/err) */
    bool cancel;      /* close() asks the worker to stop */
    int rc;
    gd_err err;
    /* worker-only state */
    uint64_t delivered; /* bytes of the object put into the ring */
    uint64_t skip;      /* bytes of this answer to drop (200 to a Range request) */
    bool total_known;
    uint64_t total;
    char etag[200];
    bool answer_checked;
    bool mismatch; /* a resumed answer did not fit */
    bool changed;  /* a resumed answer has another ETag */
} s3_reader;

static bool reader_cancelled(void *ctx)
{
    s3_reader *rd = ctx;
    pthread_mutex_lock(&rd->mu);
    bool c = rd->cancel || st_cancelled(rd->st);
    pthread_mutex_unlock(&rd->mu);
    return c;
}

static size_t reader_sink(void *ctx, s3_resp *resp, const char *p, size_t n)
{
    s3_reader *rd = ctx;
    if (!rd->answer_checked) {
        rd->answer_checked = true;
        if (resp->status == 206) {
            if (!resp->has_range || resp->range_start != rd->delivered) {
                rd->mismatch = true;
                return 0;
            }
            if (!rd->total_known) {
                rd->total_known = true;
                rd->total = resp->range_total;
            }
        } else {
            /* 200: the whole object; drop what was delivered already. */
            rd->skip = rd->delivered;
            if (resp->has_length && !rd->total_known) {
                rd->total_known = true;
                rd->total = resp->content_length;
            }
        }
        if (rd->etag[0] == '\0' && resp->etag[0] != '\0') {
            gd_strlcpy(rd->etag, resp->etag, sizeof rd->etag);
        } else if (rd->etag[0] != '\0' && resp->etag[0] != '\0' &&
                   strcmp(rd->etag, resp->etag) != 0) {
            rd->changed = true;
            return 0;
        }
        pthread_mutex_lock(&rd->mu);
        rd->opened = true;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
    }
    size_t used = 0;
    if (rd->skip > 0) {
        size_t k = n < rd->skip ? n : (size_t)rd->skip;
        rd->skip -= k;
        used = k;
    }
    pthread_mutex_lock(&rd->mu);
    while (used < n) {
        while (rd->len == S3_RING_SIZE && !rd->cancel)
            pthread_cond_wait(&rd->cv, &rd->mu);
        if (rd->cancel) {
            pthread_mutex_unlock(&rd->mu);
            return 0;
        }
        size_t tail = (rd->head + rd->len) % S3_RING_SIZE;
        size_t room = S3_RING_SIZE - rd->len;
        size_t contig = S3_RING_SIZE - tail;
        size_t c = n - used;
        if (c > room)
            c = room;
        if (c > contig)
            c = contig;
        memcpy(rd->ring + tail, p + used, c);
        rd->len += c;
        used += c;
        rd->delivered += c;
        pthread_cond_broadcast(&rd->cv);
    }
    pthread_mutex_unlock(&rd->mu);
    return n;
}

static void reader_finish(s3_reader *rd, int rc, const gd_err *e)
{
    pthread_mutex_lock(&rd->mu);
    rd->rc = rc;
    if (rc != 0 && e != NULL)
        rd->err = *e;
    rd->done = true;
    rd->opened = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
}

/* Waits ms or until close() or the storage's owner cancels; true when cancelled. */
static bool reader_pause(s3_reader *rd, long ms)
{
    double end = gd_mono() + (double)ms / 1000.0;
    pthread_mutex_lock(&rd->mu);
    while (!rd->cancel && !st_cancelled(rd->st) && gd_mono() < end) {
        struct timespec ts; /* wake every 100 ms for the storage's cancel */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rd->cv, &rd->mu, &ts);
    }
    bool c = rd->cancel || st_cancelled(rd->st);
    pthread_mutex_unlock(&rd->mu);
    return c;
}

static void *reader_main(void *arg)
{
    s3_reader *rd = arg;
    s3_storage *s = rd->s;
    gd_err e;
    gd_err_clear(&e);
    s3_resp r;
    resp_init(&r);
    char why[CURL_ERROR_SIZE + 64] = "";
    int rc = 0;
    int attempt = 0, total_attempts = 0;
    s3_op op = {.what = "read", .name = rd->name, .started = gd_mono()};

    for (;;) {
        attempt++;
        total_attempts++;
        uint64_t before = rd->delivered;
        s3_req q = {.method = "GET", .key = rd->key};
        q.sink = reader_sink;
        q.sink_ctx = rd;
        q.cancelled = reader_cancelled;
        q.cancel_ctx = rd;
        if (rd->delivered > 0) {
            snprintf(q.range, sizeof q.range, "bytes=%" PRIu64 "-", rd->delivered);
            if (rd->etag[0])
                q.if_match = rd->etag;
        }
        rd->answer_checked = false;
        rd->mismatch = false;
        rd->skip = 0;
        CURL *h = handle_get(s);
        s3_perform(s, h, &q, &r);
        handle_put(s, h);
        if (reader_cancelled(rd)) {
            rc = GD_E_CANCEL;
            gd_err_set(&e, GD_E_CANCEL, "read of object %s in region %s cancelled", rd->name,
                       rd->st->name);
            break;
        }
        int c;
        if (rd->changed) {
            rc = gd_err_set(&e, GD_E_IO,
                            "object %s in region %s changed while it was being read: try again",
                            rd->name, rd->st->name);
            break;
        }
        if (r.status == 416 && rd->total_known && rd->delivered >= rd->total) {
            c = S3_DONE; /* resumed exactly at the end */
        } else if (rd->mismatch) {
            snprintf(why, sizeof why, "a resumed answer did not start at byte %" PRIu64,
                     rd->delivered);
            c = S3_RETRY;
        } else {
            op.attempts = attempt;
            c = s3_classify(rd->st, s, &op, &r, why, sizeof why, &e);
        }
        if (c == S3_DONE && rd->total_known && rd->delivered < rd->total) {
            snprintf(why, sizeof why, "the body ended after %" PRIu64 " of %" PRIu64 " bytes",
                     rd->delivered, rd->total);
            c = S3_RETRY;
        }
        if (c == S3_DONE)
            break;
        if (c != S3_RETRY) {
            rc = c;
            break;
        }
        if (rd->delivered > before) {
            attempt = 1; /* progress: the budget starts again */
            op.started = gd_mono();
        }
        long ms = retry_pause_ms(&s->t, attempt, op.started);
        if (ms < 0 || total_attempts >= S3_READ_ATTEMPTS_MAX) {
            op.attempts = total_attempts;
            rc = net_error(rd->st, s, &op, why, &e);
            break;
        }
        gd_debug("region %s: GET of object %s failed at byte %" PRIu64 " (%s); retrying in %ld ms",
                 rd->st->name, rd->name, rd->delivered, why, ms);
        if (reader_pause(rd, ms)) {
            rc = gd_err_set(&e, GD_E_CANCEL, "read of object %s in region %s cancelled", rd->name,
                            rd->st->name);
            break;
        }
    }
    resp_free(&r);
    reader_finish(rd, rc, &e);
    return NULL;
}

static ssize_t s3_read(gd_reader *gr, void *buf, size_t n, gd_err *err)
{
    s3_reader *rd = gr->self;
    char *dst = buf;
    size_t got = 0;
    pthread_mutex_lock(&rd->mu);
    while (got < n) {
        if (rd->len > 0) {
            size_t c = rd->len;
            if (c > n - got)
                c = n - got;
            if (c > S3_RING_SIZE - rd->head)
                c = S3_RING_SIZE - rd->head;
            memcpy(dst + got, rd->ring + rd->head, c);
            rd->head = (rd->head + c) % S3_RING_SIZE;
            rd->len -= c;
            got += c;
            pthread_cond_broadcast(&rd->cv);
            continue;
        }
        if (rd->done) {
            if (rd->rc != 0) {
                int rc = rd->rc;
                if (err != NULL && err->code == GD_OK)
                    *err = rd->err;
                pthread_mutex_unlock(&rd->mu);
                return rc;
            }
            break;
        }
        pthread_cond_wait(&rd->cv, &rd->mu);
    }
    pthread_mutex_unlock(&rd->mu);
    return (ssize_t)got;
}

static void s3_close(gd_reader *gr)
{
    s3_reader *rd = gr->self;
    pthread_mutex_lock(&rd->mu);
    rd->cancel = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    pthread_join(rd->th, NULL);
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
    free(rd->ring);
    free(rd->name);
    free(rd->key);
    free(rd);
}

static const gd_reader_ops s3_reader_ops = {
    .read = s3_read,
    .close = s3_close,
};

static int s3_open_read(gd_storage *st, const char *name, gd_reader **out, gd_err *err)
{
    s3_storage *s = st->self;
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return s3_bad_name(err, st, name);
    s3_reader *rd = gd_calloc(1, sizeof *rd);
    rd->r.ops = &s3_reader_ops;
    rd->r.self = rd;
    rd->st = st;
    rd->s = s;
    rd->name = gd_strdup(name);
    rd->key = s3_key(s, name);
    rd->ring = gd_malloc(S3_RING_SIZE);
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cv, NULL);
    gd_err_clear(&rd->err);
    int e = pthread_create(&rd->th, NULL, reader_main, rd);
    if (e != 0) {
        pthread_mutex_destroy(&rd->mu);
        pthread_cond_destroy(&rd->cv);
        free(rd->ring);
        free(rd->name);
        free(rd->key);
        free(rd);
        return gd_err_sys(err, e, "cannot start a thread to read object %s in region %s", name,
                          st->name);
    }
    /* Wait for the answer to begin, so that a missing object (or a refused
     * request) is reported here, as the contract says. */
    pthread_mutex_lock(&rd->mu);
    while (!rd->opened)
        pthread_cond_wait(&rd->cv, &rd->mu);
    int rc = rd->done ? rd->rc : 0;
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = rd->err;
    pthread_mutex_unlock(&rd->mu);
    if (rc != 0) {
        s3_close(&rd->r);
        return rc;
    }
    *out = &rd->r;
    return 0;
}

/* ---- stale multipart uploads ----
 *
 * A multipart upload cut off by an outage or a killed process stays in
 * the bucket, invisible but billed, until something aborts it.  The first
 * object this storage commits (the endpoint works again) sweeps them:
 * ListMultipartUploads under the region's prefix, and AbortMultipartUpload
 * for each one that geodr made (its key is an object name under the
 * prefix with geodr's layout, INSTANCE/backup/... or INSTANCE/binlog/...,
 * the only places geodr writes objects large enough to be uploaded in
 * parts) and that was initiated more than t.stale_upload_s ago (24 h by
 * default: no upload of geodr runs that long, so one in progress right
 * now, in this process or another, is never touched).  Best effort: a
 * failure or an endpoint without the call (s3rver) is logged with
 * --verbose and changes nothing else. */

#define S3_SWEEP_MAX_PAGES 100

/* AbortMultipartUpload of upload id_q (URI-encoded) of key; a missing
 * upload is success.  once: a single try (best effort), else retried as
 * any request, and tried once even when the storage is cancelled. */
static int upload_abort(gd_storage *st, s3_storage *s, const char *key, const char *id_q, bool once,
                        gd_err *err)
{
    char *qs = gd_asprintf("uploadId=%s", id_q);
    s3_req q = {.method = "DELETE", .key = key, .query = qs};
    s3_resp r;
    resp_init(&r);
    s3_op op = {.what = "abort the multipart upload of",
                .name = key + strlen(s->prefix),
                .missing_ok = true,
                .cleanup = true,
                .once = once};
    int rc = s3_call(st, s, &q, &r, &op, err);
    resp_free(&r);
    free(qs);
    return rc;
}

static void orphan_add(s3_storage *s, const char *key, const char *id_q)
{
    pthread_mutex_lock(&s->mu);
    s->orphans = gd_realloc(s->orphans, (s->n_orphans + 1) * sizeof *s->orphans);
    s->orphans[s->n_orphans].key = gd_strdup(key);
    s->orphans[s->n_orphans].id_q = gd_strdup(id_q);
    s->n_orphans++;
    pthread_mutex_unlock(&s->mu);
}

/* Our own uploads whose abort failed earlier: tried once more each (the
 * endpoint has just accepted an object); those failing again are kept. */
static void orphans_abort(gd_storage *st, s3_storage *s)
{
    pthread_mutex_lock(&s->mu);
    struct s3_orphan *v = s->orphans;
    size_t n = s->n_orphans;
    s->orphans = NULL;
    s->n_orphans = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        gd_err e;
        gd_err_clear(&e);
        if (upload_abort(st, s, v[i].key, v[i].id_q, true, &e) == 0)
            gd_info("region %s: aborted the multipart upload of %s left by an earlier failure",
                    st->name, v[i].key + strlen(s->prefix));
        else
            orphan_add(s, v[i].key, v[i].id_q);
        free(v[i].key);
        free(v[i].id_q);
    }
    free(v);
}

static bool geodr_upload_key(const s3_storage *s, const char *key)
{
    size_t plen = strlen(s->prefix);
    if (strncmp(key, s->prefix, plen) != 0 || !gd_storage_name_ok(key + plen))
        return false;
    const char *slash = strchr(key + plen, '/');
    return slash != NULL &&
           (strncmp(slash, "/backup/", 8) == 0 || strncmp(slash, "/binlog/", 8) == 0);
}

/* Aborts the upload if it is geodr's and stale; *aborted counts it. */
static void sweep_one(gd_storage *st, s3_storage *s, const char *up, size_t un, int *aborted)
{
    const char *v;
    size_t vn;
    gd_buf key, id;
    gd_buf_init(&key, 0);
    gd_buf_init(&id, 0);
    int64_t init_us = 0;
    if (gd_s3_xml_find(up, up + un, "Key", &v, &vn) == NULL ||
        gd_s3_xml_unescape(v, vn, &key) != 0 || key.data == NULL ||
        gd_s3_xml_find(up, up + un, "UploadId", &v, &vn) == NULL || vn == 0 ||
        gd_s3_xml_unescape(v, vn, &id) != 0 ||
        gd_s3_xml_find(up, up + un, "Initiated", &v, &vn) == NULL ||
        gd_s3_parse_iso8601(v, vn, &init_us) != 0)
        goto out;
    int64_t age_s = (gd_now_us() - init_us) / 1000000;
    if (!geodr_upload_key(s, key.data) || age_s < s->t.stale_upload_s)
        goto out;
    gd_buf qs;
    gd_buf_init(&qs, 0);
    gd_sigv4_uri_encode(&qs, id.data, id.len, false);
    gd_err e;
    gd_err_clear(&e);
    if (upload_abort(st, s, key.data, qs.data, true, &e) == 0) {
        (*aborted)++;
        gd_info("region %s: aborted a multipart upload of %s left over for %" PRId64
                " s (an interrupted write)",
                st->name, key.data + strlen(s->prefix), age_s);
    } else {
        gd_debug("region %s: %s", st->name, e.msg);
    }
    gd_buf_free(&qs);
out:
    gd_buf_free(&key);
    gd_buf_free(&id);
}

static void sweep_uploads(gd_storage *st, s3_storage *s)
{
    gd_buf qs, km, im;
    gd_buf_init(&qs, 0);
    gd_buf_init(&km, 0);
    gd_buf_init(&im, 0);
    s3_resp r;
    resp_init(&r);
    int aborted = 0;
    for (int page = 0; page < S3_SWEEP_MAX_PAGES; page++) {
        /* Sorted and encoded, as the signer wants it. */
        gd_buf_reset(&qs);
        if (km.len > 0) {
            gd_buf_append(&qs, "key-marker=", 11);
            gd_sigv4_uri_encode(&qs, km.data, km.len, false);
            gd_buf_append(&qs, "&", 1);
        }
        gd_buf_append(&qs, "prefix=", 7);
        gd_sigv4_uri_encode(&qs, s->prefix, strlen(s->prefix), false);
        if (im.len > 0) {
            gd_buf_append(&qs, "&upload-id-marker=", 18);
            gd_sigv4_uri_encode(&qs, im.data, im.len, false);
        }
        gd_buf_append(&qs, "&uploads=", 9);
        s3_req q = {.method = "GET", .key = NULL, .query = qs.data};
        s3_op op = {.what = "list", .target = "multipart uploads", .once = true};
        gd_err e;
        gd_err_clear(&e);
        if (s3_call(st, s, &q, &r, &op, &e) != 0) {
            gd_debug("region %s: stale multipart uploads not looked for: %s", st->name, e.msg);
            break;
        }
        if (r.body_truncated || r.body.data == NULL ||
            strstr(r.body.data, "<ListMultipartUploadsResult") == NULL) {
            gd_debug("region %s: stale multipart uploads not looked for: the S3 endpoint %s "
                     "does not list them",
                     st->name, s->endpoint);
            break;
        }
        const char *p = r.body.data, *end = r.body.data + r.body.len, *v;
        size_t vn;
        while ((p = gd_s3_xml_find(p, end, "Upload", &v, &vn)) != NULL)
            sweep_one(st, s, v, vn, &aborted);
        if (gd_s3_xml_find(r.body.data, end, "IsTruncated", &v, &vn) == NULL || vn != 4 ||
            strncmp(v, "true", 4) != 0)
            break;
        gd_buf before;
        gd_buf_init(&before, 0);
        gd_buf_appendf(&before, "%s/%s", km.data ? km.data : "", im.data ? im.data : "");
        gd_buf_reset(&km);
        gd_buf_reset(&im);
        if (gd_s3_xml_find(r.body.data, end, "NextKeyMarker", &v, &vn) != NULL)
            (void)gd_s3_xml_unescape(v, vn, &km);
        if (gd_s3_xml_find(r.body.data, end, "NextUploadIdMarker", &v, &vn) != NULL)
            (void)gd_s3_xml_unescape(v, vn, &im);
        gd_buf after;
        gd_buf_init(&after, 0);
        gd_buf_appendf(&after, "%s/%s", km.data ? km.data : "", im.data ? im.data : "");
        bool stuck = km.len == 0 || strcmp(before.data, after.data) == 0;
        gd_buf_free(&before);
        gd_buf_free(&after);
        if (stuck)
            break; /* markers that do not move the listing on */
    }
    if (aborted > 0)
        gd_debug("region %s: %d stale multipart upload(s) aborted", st->name, aborted);
    resp_free(&r);
    gd_buf_free(&qs);
    gd_buf_free(&km);
    gd_buf_free(&im);
}

/* ---- writer ---- */

typedef struct s3_writer s3_writer;

typedef struct s3_part {
    s3_writer *w;
    int num;
    char *data;
    size_t len;
    bool used, finished;
    pthread_t th;
} s3_part;

struct s3_writer {
    gd_writer gw;
    gd_storage *st;
    s3_storage *s;
    char *name, *key;
    char *buf;
    size_t len, cap;
    uint64_t total;
    char *upload_id;   /* multipart upload in progress */
    char *upload_id_q; /* URI-encoded */
    int next_part;
    char **etags; /* etags[i] for part i+1 */
    size_t n_etags;
    s3_part slots[S3_PART_INFLIGHT];
    uint64_t seq; /* opening order among the storage's writers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed; /* first error of a part (or a write) */
    gd_err err;
};

static const gd_writer_ops s3_writer_ops;

static void *part_main(void *arg)
{
    s3_part *pt = arg;
    s3_writer *w = pt->w;
    char *qs = gd_asprintf("partNumber=%d&uploadId=%s", pt->num, w->upload_id_q);
    char hash[65];
    gd_sigv4_sha256_hex(pt->data, pt->len, hash);
    s3_req q = {.method = "PUT",
                .key = w->key,
                .query = qs,
                .body = pt->data,
                .body_len = pt->len,
                .payload_hash = hash};
    s3_resp r;
    resp_init(&r);
    char what[64];
    snprintf(what, sizeof what, "upload part %d of", pt->num);
    s3_op op = {.what = what, .name = w->name};
    gd_err e;
    gd_err_clear(&e);
    int rc = s3_call(w->st, w->s, &q, &r, &op, &e);
    part_permit_give(w->s);
    if (rc == 0 && r.etag[0] == '\0')
        rc = gd_err_set(&e, GD_E_IO,
                        "cannot write object %s in region %s: the S3 endpoint %s sent no ETag "
                        "for part %d",
                        w->name, w->st->name, w->s->endpoint, pt->num);
    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
        w->etags[pt->num - 1] = gd_strdup(r.etag);
    } else if (w->failed == 0) {
        w->failed = rc;
        w->err = e;
    }
    free(pt->data);
    pt->data = NULL;
    pt->finished = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    resp_free(&r);
    free(qs);
    return NULL;
}

/* Joins finished part threads; with all_of_them, waits for every one. */
static void parts_reap(s3_writer *w, bool all_of_them)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        bool any_running = false;
        for (int i = 0; i < S3_PART_INFLIGHT; i++) {
            s3_part *pt = &w->slots[i];
            if (!pt->used)
                continue;
            if (pt->finished) {
                pthread_mutex_unlock(&w->mu);
                pthread_join(pt->th, NULL);
                pthread_mutex_lock(&w->mu);
                pt->used = false;
            } else {
                any_running = true;
            }
        }
        if (!all_of_them || !any_running)
            break;
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Records the writer's first failure (rc, e) and copies it to err. */
static int writer_fail(s3_writer *w, int rc, const gd_err *e, gd_err *err)
{
    pthread_mutex_lock(&w->mu);
    if (w->failed == 0) {
        w->failed = rc;
        w->err = *e;
    }
    pthread_mutex_unlock(&w->mu);
    if (err != NULL && err->code == GD_OK)
        *err = *e;
    return rc;
}

static int writer_failed(s3_writer *w, gd_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->failed;
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = w->err;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int mp_create(s3_writer *w, gd_err *err)
{
    s3_req q = {.method = "POST", .key = w->key, .query = "uploads"};
    s3_resp r;
    resp_init(&r);
    s3_op op = {.what = "start a multipart upload of", .name = w->name};
    int rc = s3_call(w->st, w->s, &q, &r, &op, err);
    if (rc == 0) {
        const char *v;
        size_t vn;
        gd_buf id;
        gd_buf_init(&id, 0);
        if (r.body.data == NULL ||
            gd_s3_xml_find(r.body.data, r.body.data + r.body.len, "UploadId", &v, &vn) == NULL ||
            vn == 0 || gd_s3_xml_unescape(v, vn, &id) != 0) {
            gd_buf_free(&id);
            rc = gd_err_set(err, GD_E_IO,
                            "cannot write object %s in region %s: the S3 endpoint %s sent no "
                            "UploadId for a multipart upload",
                            w->name, w->st->name, w->s->endpoint);
        } else {
            w->upload_id = id.data;
            gd_buf q2;
            gd_buf_init(&q2, 0);
            gd_sigv4_uri_encode(&q2, id.data, id.len, false);
            w->upload_id_q = q2.data;
        }
    }
    resp_free(&r);
    return rc;
}

/* Hands the filled buffer to a part thread (waiting for a free slot). */
static int part_submit(s3_writer *w, gd_err *err)
{
    gd_err e;
    gd_err_clear(&e);
    if (w->upload_id == NULL) {
        int rc = mp_create(w, &e);
        if (rc != 0)
            return writer_fail(w, rc, &e, err);
    }
    if (w->next_part >= S3_MAX_PARTS) {
        int rc = gd_err_set(&e, GD_E_IO,
                            "cannot write object %s in region %s: larger than %d parts of %zu "
                            "MiB, the most an S3 multipart upload takes here",
                            w->name, w->st->name, S3_MAX_PARTS, S3_PART_SIZE >> 20);
        return writer_fail(w, rc, &e, err);
    }
    s3_part *slot = NULL;
    for (;;) {
        parts_reap(w, false);
        int rc = writer_failed(w, err);
        if (rc != 0)
            return rc;
        for (int i = 0; i < S3_PART_INFLIGHT && slot == NULL; i++)
            if (!w->slots[i].used)
                slot = &w->slots[i];
        if (slot != NULL)
            break;
        pthread_mutex_lock(&w->mu);
        bool any_finished = false;
        for (int i = 0; i < S3_PART_INFLIGHT; i++)
            any_finished |= w->slots[i].finished;
        if (!any_finished)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
    w->next_part++;
    if ((size_t)w->next_part > w->n_etags) {
        /* Part threads store into etags under the lock: grow it there. */
        pthread_mutex_lock(&w->mu);
        size_t nn = w->n_etags ? w->n_etags * 2 : 64;
        w->etags = gd_realloc(w->etags, nn * sizeof *w->etags);
        memset(w->etags + w->n_etags, 0, (nn - w->n_etags) * sizeof *w->etags);
        w->n_etags = nn;
        pthread_mutex_unlock(&w->mu);
    }
    slot->w = w;
    slot->num = w->next_part;
    slot->data = w->buf;
    slot->len = w->len;
    slot->used = true;
    slot->finished = false;
    w->buf = NULL;
    w->len = w->cap = 0;
    part_permit_take(w->s, w->seq);
    int te = pthread_create(&slot->th, NULL, part_main, slot);
    if (te != 0) {
        part_permit_give(w->s);
        slot->used = false;
        free(slot->data);
        slot->data = NULL;
        int rc = gd_err_sys(&e, te, "cannot start a thread to upload object %s in region %s",
                            w->name, w->st->name);
        return writer_fail(w, rc, &e, err);
    }
    return 0;
}

static int s3_write(gd_writer *gw, const void *buf, size_t n, gd_err *err)
{
    s3_writer *w = gw->self;
    int rc = writer_failed(w, err);
    if (rc != 0)
        return rc;
    const char *p = buf;
    while (n > 0) {
        if (w->len == S3_PART_SIZE) {
            rc = part_submit(w, err);
            if (rc != 0)
                return rc;
        }
        size_t c = S3_PART_SIZE - w->len;
        if (c > n)
            c = n;
        if (w->len + c > w->cap) {
            /* Grow geometrically up to one part: small objects stay small. */
            size_t cap = w->cap ? w->cap : 64 * 1024;
            while (cap < w->len + c)
                cap *= 2;
            if (cap > S3_PART_SIZE)
                cap = S3_PART_SIZE;
            w->buf = gd_realloc(w->buf, cap);
            w->cap = cap;
        }
        memcpy(w->buf + w->len, p, c);
        w->len += c;
        w->total += c;
        p += c;
        n -= c;
    }
    return 0;
}

static void writer_free(s3_writer *w)
{
    for (size_t i = 0; i < w->n_etags; i++)
        free(w->etags[i]);
    free(w->etags);
    free(w->buf);
    free(w->upload_id);
    free(w->upload_id_q);
    free(w->name);
    free(w->key);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void mp_abort(s3_writer *w)
{
    if (w->upload_id == NULL)
        return;
    gd_err e;
    gd_err_clear(&e);
    if (upload_abort(w->st, w->s, w->key, w->upload_id_q, false, &e) != 0) {
        gd_warn("%s; the incomplete upload stays in bucket %s until this process next writes "
                "an object there, or a later run finds it 24 h old, or a lifecycle rule "
                "(AbortIncompleteMultipartUpload) removes it",
                e.msg, w->s->bucket);
        orphan_add(w->s, w->key, w->upload_id_q);
    }
}

static void s3_abort(gd_writer *gw)
{
    s3_writer *w = gw->self;
    parts_reap(w, true);
    mp_abort(w);
    writer_free(w);
}

static int mp_complete(s3_writer *w, gd_err *err)
{
    gd_buf body;
    gd_buf_init(&body, 0);
    gd_buf_append(&body, "<CompleteMultipartUpload>", 25);
    for (int i = 0; i < w->next_part; i++) {
        gd_buf_appendf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *c = w->etags[i]; *c; c++) {
            if (*c == '&')
                gd_buf_append(&body, "&amp;", 5);
            else if (*c == '<')
                gd_buf_append(&body, "&lt;", 4);
            else if (*c == '>')
                gd_buf_append(&body, "&gt;", 4);
            else
                gd_buf_append(&body, c, 1);
        }
        gd_buf_append(&body, "</ETag></Part>", 14);
    }
    gd_buf_append(&body, "</CompleteMultipartUpload>", 26);
    char *qs = gd_asprintf("uploadId=%s", w->upload_id_q);
    s3_req q = {.method = "POST",
                .key = w->key,
                .query = qs,
                .body = body.data,
                .body_len = body.len,
                .content_type = "application/xml"};
    s3_resp r;
    resp_init(&r);
    s3_op op = {.what = "complete the multipart upload of", .name = w->name, .body_errors = true};
    gd_err e;
    gd_err_clear(&e);
    int rc = s3_call(w->st, w->s, &q, &r, &op, &e);
    if (rc == GD_E_NOTFOUND && op.attempts > 1 && strcmp(op.code, "NoSuchUpload") == 0) {
        /* An earlier attempt may have completed it and lost the answer:
         * accept the object if it is there with the size we wrote. */
        gd_stat sst;
        gd_err e2;
        gd_err_clear(&e2);
        if (s3_stat(w->st, w->name, &sst, &e2) == 0 && sst.size == w->total)
            rc = 0;
    }
    if (rc != 0 && err != NULL && err->code == GD_OK)
        *err = e;
    resp_free(&r);
    free(qs);
    gd_buf_free(&body);
    return rc;
}

static int s3_commit(gd_writer *gw, gd_err *err)
{
    s3_writer *w = gw->self;
    int rc = writer_failed(w, err);
    if (rc != 0)
        goto fail;
    if (w->upload_id == NULL) {
        /* One part at most: a single PUT. */
        s3_req q = {.method = "PUT", .key = w->key, .body = w->buf, .body_len = w->len};
        s3_resp r;
        resp_init(&r);
        s3_op op = {.what = "write", .name = w->name};
        rc = s3_call(w->st, w->s, &q, &r, &op, err);
        resp_free(&r);
        goto done;
    }
    if (w->len > 0 || w->next_part == 0) {
        rc = part_submit(w, err);
        if (rc != 0)
            goto fail;
    }
    parts_reap(w, true);
    rc = writer_failed(w, err);
    if (rc != 0)
        goto fail;
    rc = mp_complete(w, err);
    if (rc != 0)
        goto fail;
done:
    if (rc == 0) {
        orphans_abort(w->st, w->s);
        if (!atomic_exchange(&w->s->swept, true))
            sweep_uploads(w->st, w->s);
    }
    writer_free(w);
    return rc;
fail:
    s3_abort(gw);
    return rc;
}

static const gd_writer_ops s3_writer_ops = {
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
};

static int s3_open_write(gd_storage *st, const char *name, gd_writer **out, gd_err *err)
{
    s3_storage *s = st->self;
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return s3_bad_name(err, st, name);
    s3_writer *w = gd_calloc(1, sizeof *w);
    w->gw.ops = &s3_writer_ops;
    w->gw.self = w;
    w->st = st;
    w->s = s;
    pthread_mutex_lock(&s->mu);
    w->seq = s->next_writer++;
    pthread_mutex_unlock(&s->mu);
    w->name = gd_strdup(name);
    w->key = s3_key(s, name);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    gd_err_clear(&w->err);
    *out = &w->gw;
    return 0;
}

/* ---- open, free ---- */

static void wipe_free(char *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

static void s3_free(gd_storage *st)
{
    s3_storage *s = st->self;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->part_cv);
    free(s->waiting);
    for (size_t i = 0; i < s->n_orphans; i++) {
        free(s->orphans[i].key);
        free(s->orphans[i].id_q);
    }
    free(s->orphans);
    free(s->endpoint);
    free(s->bucket);
    free(s->prefix);
    free(s->url_base);
    free(s->host_header);
    free(s->path_base);
    free(s->sign_region);
    free(s->sigv4_param);
    free(s->ca_file);
    wipe_free(s->access_key);
    wipe_free(s->secret_key);
    wipe_free(s->session_token);
    free(s);
    st->self = NULL;
}

static const gd_storage_ops s3_ops = {
    .type = "s3",
    .open_read = s3_open_read,
    .open_write = s3_open_write,
    .stat = s3_stat,
    .list = s3_list,
    .remove = s3_remove,
    .free = s3_free,
};

typedef struct cred_ctx {
    const char *profile;
    bool in_profile, found;
    char *id, *secret, *token;
    gd_buf sections;
} cred_ctx;

static int cred_cb(void *ctx, const char *section, const char *key, const char *value, int line,
                   gd_err *err)
{
    (void)line;
    (void)err;
    cred_ctx *c = ctx;
    if (key == NULL) {
        const char *name = section;
        if (strncmp(name, "profile ", 8) == 0)
            name += 8;
        c->in_profile = strcmp(name, c->profile) == 0;
        c->found |= c->in_profile;
        if (c->sections.len < 400)
            gd_buf_appendf(&c->sections, "%s%s", c->sections.len ? ", " : "", name);
        return 0;
    }
    if (!c->in_profile)
        return 0;
    char **dst = NULL;
    if (strcmp(key, "aws_access_key_id") == 0)
        dst = &c->id;
    else if (strcmp(key, "aws_secret_access_key") == 0)
        dst = &c->secret;
    else if (strcmp(key, "aws_session_token") == 0 || strcmp(key, "aws_security_token") == 0)
        dst = &c->token;
    if (dst != NULL) {
        wipe_free(*dst);
        *dst = gd_strdup(value);
    }
    return 0;
}

static bool header_safe(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int load_credentials(const gd_region_cfg *cfg, s3_storage *s, gd_err *err)
{
    const char *profile = cfg->profile ? cfg->profile : "default";
    if (cfg->credentials_file == NULL) {
        const char *id = getenv("AWS_ACCESS_KEY_ID");
        const char *sec = getenv("AWS_SECRET_ACCESS_KEY");
        const char *tok = getenv("AWS_SESSION_TOKEN");
        if (id == NULL || id[0] == '\0' || sec == NULL || sec[0] == '\0')
            return gd_err_set(err, GD_E_CONFIG,
                              "region %s: no S3 credentials: set 'credentials-file' (AWS "
                              "shared-credentials format) or the AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY environment variables",
                              cfg->name);
        s->access_key = gd_strdup(id);
        s->secret_key = gd_strdup(sec);
        if (tok != NULL && tok[0] != '\0')
            s->session_token = gd_strdup(tok);
    } else {
        char *text = NULL;
        gd_err e;
        gd_err_clear(&e);
        int rc = gd_read_small_file(cfg->credentials_file, 1 << 20, &text, NULL, &e);
        if (rc != 0)
            return gd_err_set(err, GD_E_CONFIG, "region %s: cannot read credentials-file: %s",
                              cfg->name, e.msg);
        cred_ctx c = {.profile = profile};
        gd_buf_init(&c.sections, 0);
        gd_err_clear(&e);
        rc = gd_ini_parse_named(text, cfg->credentials_file, cred_cb, &c, &e);
        OPENSSL_cleanse(text, strlen(text));
        free(text);
        if (rc == 0 && !c.found)
            rc = gd_err_set(&e, GD_E_CONFIG, "profile [%s] not found in %s (profiles there: %s)",
                            profile, cfg->credentials_file,
                            c.sections.len ? c.sections.data : "none");
        else if (rc == 0 && (c.id == NULL || c.secret == NULL || !c.id[0] || !c.secret[0]))
            rc = gd_err_set(&e, GD_E_CONFIG,
                            "profile [%s] in %s lacks aws_access_key_id or aws_secret_access_key",
                            profile, cfg->credentials_file);
        gd_buf_free(&c.sections);
        if (rc != 0) {
            wipe_free(c.id);
            wipe_free(c.secret);
            wipe_free(c.token);
            return gd_err_set(err, GD_E_CONFIG, "region %s: %s", cfg->name, e.msg);
        }
        s->access_key = c.id;
        s->secret_key = c.secret;
        s->session_token = c.token;
    }
    if (!header_safe(s->access_key) || !header_safe(s->secret_key) ||
        (s->session_token && !header_safe(s->session_token)) || strchr(s->access_key, '/'))
        return gd_err_set(err, GD_E_CONFIG,
                          "region %s: the S3 credentials contain control characters or a '/' "
                          "in the access key id",
                          cfg->name);
    return 0;
}

static bool is_ip_host(const char *host)
{
    if (host[0] == '[')
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1;
}

/* A bucket name that can be the first label of a host name (and, over
 * https, match a wildcard certificate: no dots). */
static bool dns_bucket(const char *b, bool https)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && !https)))
            return false;
    }
    return true;
}

int gd_storage_s3_open(const gd_region_cfg *cfg, gd_storage **out, gd_err *err)
{
    *out = NULL;
    const char *rname = cfg->name ? cfg->name : "?";
    if (cfg->endpoint == NULL || cfg->endpoint[0] == '\0')
        return gd_err_set(err, GD_E_CONFIG, "region %s: s3 region without an endpoint", rname);
    if (cfg->bucket == NULL || cfg->bucket[0] == '\0' || strchr(cfg->bucket, '/'))
        return gd_err_set(err, GD_E_CONFIG, "region %s: s3 region without a valid bucket", rname);
    pthread_once(&s3_once, s3_global_init);
    if (s3_global_rc != CURLE_OK)
        return gd_err_set(err, GD_E_IO, "region %s: cannot initialise libcurl: %s", rname,
                          curl_easy_strerror(s3_global_rc));

    s3_storage *s = gd_calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->part_cv, NULL);
    gd_storage *st = NULL;
    int rc = 0;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLU *u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: endpoint = %.200s is not a valid URL (write e.g. "
                        "https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000)",
                        rname, cfg->endpoint);
        goto fail;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: endpoint = %.200s: must be http:// or https://", rname,
                        cfg->endpoint);
        goto fail;
    }
    char *qpart = NULL, *user = NULL;
    bool extra = curl_url_get(u, CURLUPART_QUERY, &qpart, 0) == CURLUE_OK ||
                 curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
    curl_free(qpart);
    curl_free(user);
    if (extra) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: the endpoint URL must not contain a user, a password or a "
                        "query (credentials go in credentials-file)",
                        rname);
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        path = NULL;
    bool https = strcmp(scheme, "https") == 0;

    s->endpoint = gd_strdup(cfg->endpoint);
    s->bucket = gd_strdup(cfg->bucket);
    s->prefix = gd_strdup(cfg->prefix ? cfg->prefix : "");
    s->sign_region = gd_strdup(cfg->region && cfg->region[0] ? cfg->region : "us-east-1");
    s->sigv4_param = gd_asprintf("aws:amz:%s:s3", s->sign_region);
    s->ca_file = cfg->ca_file ? gd_strdup(cfg->ca_file) : NULL;
    gd_s3_tuning_defaults(&s->t);
    const char *tune = getenv("GEODR_S3_TIMEOUTS");
    if (tune != NULL && tune[0] != '\0') {
        rc = gd_s3_tuning_parse(tune, &s->t, err);
        if (rc != 0)
            goto fail;
    }

    /* Addressing.  Path-style (http://host:port/bucket/key) when the
     * endpoint names a port, an IP address or localhost: that is a private
     * deployment (MinIO, Ceph RGW, s3rver) where bucket subdomains rarely
     * resolve.  Virtual-hosted (https://bucket.host/key) otherwise, as AWS
     * and Alibaba OSS expect, except for bucket names that cannot be a host
     * label (or, over https, contain dots that a wildcard certificate would
     * not match), which fall back to path-style. */
    s->path_style = port != NULL || is_ip_host(host) || strcasecmp(host, "localhost") == 0 ||
                    !dns_bucket(cfg->bucket, https);
    /* Host as curl sends it: the port only when it is not the scheme's. */
    bool default_port =
        port == NULL || (https ? strcmp(port, "443") == 0 : strcmp(port, "80") == 0);
    char *authority = default_port ? gd_strdup(host) : gd_asprintf("%s:%s", host, port);
    if (s->path_style)
        s->host_header = authority;
    else {
        s->host_header = gd_asprintf("%s.%s", cfg->bucket, authority);
        free(authority);
    }
    s->url_base = gd_asprintf("%s://%s", scheme, s->host_header);
    size_t pl = path ? strlen(path) : 0;
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    gd_buf pb;
    gd_buf_init(&pb, 0);
    gd_buf_append(&pb, path ? path : "", pl);
    if (s->path_style) {
        gd_buf_append(&pb, "/", 1);
        gd_sigv4_uri_encode(&pb, cfg->bucket, strlen(cfg->bucket), false);
    }
    s->path_base = pb.data ? pb.data : gd_strdup("");

    rc = load_credentials(cfg, s, err);
    if (rc != 0)
        goto fail;

    st = gd_calloc(1, sizeof *st);
    st->ops = &s3_ops;
    st->name = gd_strdup(rname);
    st->self = s;
    *out = st;
    goto done;

fail : {
    gd_storage tmp = {.self = s};
    s3_free(&tmp);
}
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}
