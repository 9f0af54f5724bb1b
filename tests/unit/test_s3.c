/* Unit tests for the S3 driver (storage/s3).
 *
 * 1. SigV4: our signer against AWS's published vectors (the SigV4 test
 *    suite's get-vanilla, get-vanilla-query-order-key-case,
 *    get-vanilla-query-unreserved and post-x-www-form-urlencoded, and the
 *    S3 API reference's GET Object, PUT Object, GET Bucket lifecycle and
 *    List Objects examples).  The expected strings are AWS's, not ours.
 * 2. A scripted fake S3 server: a small threaded HTTP/1.1 server on a
 *    loopback port holding objects in memory (path-style, one bucket),
 *    with a queue of faults for the next matching requests (an HTTP error,
 *    a body cut halfway, a connection that never answers).  Every request
 *    it receives has its signature checked with the signer from (1) and the
 *    known secret, so the requests curl signs (CURLOPT_AWS_SIGV4) are
 *    checked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"
#include "storage/s3.h"
#include "storage/s3/s3.h"
#include "storage/storage.h"
#include "region/retention.h"
#include "repo/repo.h"

/* ------------------------------------------------------------ SigV4 -- */

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void sign(const gd_sigv4_request *r, const char *date, const char *ak, const char *sk,
                 const char *region, const char *service, gd_buf *creq, gd_buf *sts, gd_buf *authz)
{
    gd_buf sh;
    gd_buf_init(&sh, 0);
    gd_sigv4_canonical_request(r, creq, &sh);
    char date8[9];
    memcpy(date8, date, 8);
    date8[8] = '\0';
    char *scope = gd_asprintf("%s/%s/%s/aws4_request", date8, region, service);
    gd_sigv4_string_to_sign(date, scope, creq->data, creq->len, sts);
    gd_sigv4_authorization(r, date, ak, sk, region, service, authz, NULL);
    free(scope);
    gd_buf_free(&sh);
}

typedef struct vec {
    gd_buf creq, sts, authz;
} vec;

static void vec_init(vec *v)
{
    gd_buf_init(&v->creq, 0);
    gd_buf_init(&v->sts, 0);
    gd_buf_init(&v->authz, 0);
}

static void vec_free(vec *v)
{
    gd_buf_free(&v->creq);
    gd_buf_free(&v->sts);
    gd_buf_free(&v->authz);
}

/* aws-sig-v4-test-suite/get-vanilla */
static void test_sigv4_get_vanilla(void **state)
{
    (void)state;
    gd_sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    gd_sigv4_request r = {.method = "GET",
                          .path = "/",
                          .query = NULL,
                          .headers = h,
                          .n_headers = 2,
                          .payload_hash = GD_SIGV4_EMPTY_SHA256};
    vec v;
    vec_init(&v);
    sign(&r, "20150830T123600Z", "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service", &v.creq,
         &v.sts, &v.authz);
    assert_string_equal(v.creq.data,
                        "GET\n/\n\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(v.sts.data,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
                        "aws4_request\n"
                        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_string_equal(
        v.authz.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=host;x-amz-date, "
                      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    vec_free(&v);
}

/* aws-sig-v4-test-suite/get-vanilla-query-order-key-case */
static void test_sigv4_query_order_key_case(void **state)
{
    (void)state;
    gd_sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    gd_sigv4_request r = {.method = "GET",
                          .path = "/",
                          .query = "Param2=value2&Param1=value1",
                          .headers = h,
                          .n_headers = 2,
                          .payload_hash = GD_SIGV4_EMPTY_SHA256};
    vec v;
    vec_init(&v);
    sign(&r, "20150830T123600Z", "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service", &v.creq,
         &v.sts, &v.authz);
    assert_string_equal(v.creq.data,
                        "GET\n/\nParam1=value1&Param2=value2\n"
                        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "host;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(v.sts.data,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
                        "aws4_request\n"
                        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
    assert_string_equal(
        v.authz.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=host;x-amz-date, "
                      "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    vec_free(&v);
}

/* aws-sig-v4-test-suite/post-x-www-form-urlencoded */
static void test_sigv4_post_form(void **state)
{
    (void)state;
    const char *body = "Param1=value1";
    char hash[65];
    gd_sigv4_sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    gd_sigv4_header h[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                           {"Host", "example.amazonaws.com"},
                           {"X-Amz-Date", "20150830T123600Z"}};
    gd_sigv4_request r = {
        .method = "POST", .path = "/", .headers = h, .n_headers = 3, .payload_hash = hash};
    vec v;
    vec_init(&v);
    sign(&r, "20150830T123600Z", "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service", &v.creq,
         &v.sts, &v.authz);
    assert_string_equal(v.creq.data,
                        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
                        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "content-type;host;x-amz-date\n"
                        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    assert_string_equal(v.sts.data,
                        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
                        "aws4_request\n"
                        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
    assert_string_equal(
        v.authz.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                      "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    vec_free(&v);
}

/* aws-sig-v4-test-suite/get-vanilla-query-unreserved (canonical request),
 * plus our re-encoding rules. */
static void test_sigv4_query_encoding(void **state)
{
    (void)state;
    const char *u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *q = gd_asprintf("%s=%s", u, u);
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_sigv4_canonical_query(q, &b);
    assert_string_equal(b.data, q);
    free(q);
    struct {
        const char *in, *out;
    } cases[] = {
        {"b=2&a=1&a=0", "a=0&a=1&b=2"},
        {"uploads", "uploads="},
        {"prefix=a%2fb&list-type=2", "list-type=2&prefix=a%2Fb"},
        {"k=a b+c/d", "k=a%20b%2Bc%2Fd"},
        {"k=100%", "k=100%25"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gd_buf_reset(&b);
        gd_sigv4_canonical_query(cases[i].in, &b);
        assert_string_equal(b.data, cases[i].out);
    }
    gd_buf_reset(&b);
    gd_sigv4_uri_encode(&b, "shop/a b/\xc3\xbc$x~", strlen("shop/a b/\xc3\xbc$x~"), true);
    assert_string_equal(b.data, "shop/a%20b/%C3%BC%24x~");
    gd_buf_free(&b);
}

/* Amazon S3 API reference, "Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk": the four examples. */
static void test_sigv4_s3_examples(void **state)
{
    (void)state;
    const char *host = "examplebucket.s3.amazonaws.com";
    const char *date = "20130524T000000Z";
    vec v;

    /* GET Object, bytes 0-9 */
    gd_sigv4_header g[] = {{"Host", host},
                           {"Range", "bytes=0-9"},
                           {"x-amz-content-sha256", GD_SIGV4_EMPTY_SHA256},
                           {"x-amz-date", date}};
    gd_sigv4_request r = {.method = "GET",
                          .path = "/test.txt",
                          .headers = g,
                          .n_headers = 4,
                          .payload_hash = GD_SIGV4_EMPTY_SHA256};
    vec_init(&v);
    sign(&r, date, "AKIAIOSFODNN7EXAMPLE", S3DOC_SECRET, "us-east-1", "s3", &v.creq, &v.sts,
         &v.authz);
    char hx[65];
    gd_sigv4_sha256_hex(v.creq.data, v.creq.len, hx);
    assert_string_equal(hx, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    assert_string_equal(
        v.authz.data, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                      "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    vec_free(&v);

    /* PUT Object "test$file.text" */
    const char *body = "Welcome to Amazon S3.";
    char bh[65];
    gd_sigv4_sha256_hex(body, strlen(body), bh);
    assert_string_equal(bh, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    gd_buf path;
    gd_buf_init(&path, 0);
    gd_buf_append(&path, "/", 1);
    gd_sigv4_uri_encode(&path, "test$file.text", 14, true);
    assert_string_equal(path.data, "/test%24file.text");
    gd_sigv4_header p[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                           {"Host", host},
                           {"x-amz-date", date},
                           {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                           {"x-amz-content-sha256", bh}};
    gd_sigv4_request rp = {
        .method = "PUT", .path = path.data, .headers = p, .n_headers = 5, .payload_hash = bh};
    vec_init(&v);
    sign(&rp, date, "AKIAIOSFODNN7EXAMPLE", S3DOC_SECRET, "us-east-1", "s3", &v.creq, &v.sts,
         &v.authz);
    assert_non_null(strstr(v.authz.data, "SignedHeaders=date;host;x-amz-content-sha256;"
                                         "x-amz-date;x-amz-storage-class, "
                                         "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77"
                                         "a1b5971af0ece108bd"));
    vec_free(&v);
    gd_buf_free(&path);

    /* GET Bucket lifecycle: a sub-resource without a value */
    gd_sigv4_header l[] = {
        {"Host", host}, {"x-amz-content-sha256", GD_SIGV4_EMPTY_SHA256}, {"x-amz-date", date}};
    gd_sigv4_request rl = {.method = "GET",
                           .path = "/",
                           .query = "lifecycle",
                           .headers = l,
                           .n_headers = 3,
                           .payload_hash = GD_SIGV4_EMPTY_SHA256};
    vec_init(&v);
    sign(&rl, date, "AKIAIOSFODNN7EXAMPLE", S3DOC_SECRET, "us-east-1", "s3", &v.creq, &v.sts,
         &v.authz);
    assert_non_null(strstr(v.authz.data, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91"
                                         "ac7a200a0136783543"));
    vec_free(&v);

    /* List Objects, query given unsorted */
    gd_sigv4_request rq = {.method = "GET",
                           .path = "/",
                           .query = "prefix=J&max-keys=2",
                           .headers = l,
                           .n_headers = 3,
                           .payload_hash = GD_SIGV4_EMPTY_SHA256};
    vec_init(&v);
    sign(&rq, date, "AKIAIOSFODNN7EXAMPLE", S3DOC_SECRET, "us-east-1", "s3", &v.creq, &v.sts,
         &v.authz);
    assert_string_equal(v.sts.data,
                        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    assert_non_null(strstr(v.authz.data, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6"
                                         "670ed5711ef69dc6f7"));
    vec_free(&v);
}

/* Header canonicalisation: names lowercased and sorted, values trimmed
 * with inner runs of spaces collapsed, repeated names joined by ','. */
static void test_sigv4_headers(void **state)
{
    (void)state;
    gd_sigv4_header h[] = {{"My-Header2", "  \"a   b   c\"  "},
                           {"Host", "example.amazonaws.com"},
                           {"My-Header1", "value2"},
                           {"my-header1", "value1"},
                           {"X-Amz-Date", "20150830T123600Z"}};
    gd_sigv4_request r = {.method = "GET",
                          .path = "/",
                          .headers = h,
                          .n_headers = 5,
                          .payload_hash = GD_SIGV4_EMPTY_SHA256};
    gd_buf c, sh;
    gd_buf_init(&c, 0);
    gd_buf_init(&sh, 0);
    gd_sigv4_canonical_request(&r, &c, &sh);
    assert_string_equal(sh.data, "host;my-header1;my-header2;x-amz-date");
    assert_non_null(strstr(c.data, "\nmy-header1:value2,value1\nmy-header2:\"a b c\"\n"));
    gd_buf_free(&c);
    gd_buf_free(&sh);
}

static void test_xml_and_dates(void **state)
{
    (void)state;
    gd_buf b;
    gd_buf_init(&b, 0);
    const char *x = "a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x42;&#xe9;";
    assert_int_equal(gd_s3_xml_unescape(x, strlen(x), &b), 0);
    assert_string_equal(b.data, "a&b<c>\"'AB\xc3\xa9");
    gd_buf_reset(&b);
    assert_int_equal(gd_s3_xml_unescape("a&bogus;", 8, &b), GD_E_CORRUPT);
    gd_buf_reset(&b);
    assert_int_equal(gd_s3_xml_unescape("a&amp", 5, &b), GD_E_CORRUPT);
    gd_buf_free(&b);

    const char *doc = "<R xmlns=\"x\"><KeyCount>2</KeyCount><Key>k1</Key><Empty/></R>";
    const char *v;
    size_t vn;
    assert_non_null(gd_s3_xml_find(doc, doc + strlen(doc), "Key", &v, &vn));
    assert_int_equal(vn, 2);
    assert_memory_equal(v, "k1", 2);
    assert_non_null(gd_s3_xml_find(doc, doc + strlen(doc), "Empty", &v, &vn));
    assert_int_equal(vn, 0);
    assert_null(gd_s3_xml_find(doc, doc + strlen(doc), "Size", &v, &vn));

    int64_t us = 0;
    const char *d = "2009-10-12T17:50:30.123Z";
    assert_int_equal(gd_s3_parse_iso8601(d, strlen(d), &us), 0);
    assert_int_equal(us, 1255369830123000LL);
    d = "2009-10-12T17:50:30Z";
    assert_int_equal(gd_s3_parse_iso8601(d, strlen(d), &us), 0);
    assert_int_equal(us, 1255369830000000LL);
    d = "2009-10-12 17:50";
    assert_int_equal(gd_s3_parse_iso8601(d, strlen(d), &us), GD_E_CORRUPT);
}

static void test_tuning(void **state)
{
    (void)state;
    gd_s3_tuning t;
    gd_s3_tuning_defaults(&t);
    /* retried by elapsed time (2 minutes), not by count */
    assert_int_equal(t.attempts, 0);
    assert_int_equal(t.retry_ms, 120000);
    assert_int_equal(t.list_ms, 3600000);
    assert_int_equal(t.stale_upload_s, 7 * 86400);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_s3_tuning_parse("connect=0.5, stall=2,attempts=3,backoff-ms=5,"
                                        "backoff-max-ms=40,retry=1.5,list=7,stale-upload=30",
                                        &t, &e),
                     0);
    assert_int_equal(t.retry_ms, 1500);
    assert_int_equal(t.list_ms, 7000);
    assert_int_equal(t.stale_upload_s, 30);
    assert_int_equal(t.connect_ms, 500);
    assert_int_equal(t.stall_s, 2);
    assert_int_equal(t.attempts, 3);
    assert_int_equal(t.backoff_ms, 5);
    assert_int_equal(t.backoff_max_ms, 40);
    assert_int_equal(gd_s3_tuning_parse("stall=0", &t, &e), GD_E_CONFIG);
    gd_err_clear(&e);
    assert_int_equal(gd_s3_tuning_parse("speed=9", &t, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "GEODR_S3_TIMEOUTS"));
}

/* --------------------------------------------------------- fake S3 -- */

#define AK "AKIDTEST"
#define SK "sEcReT/Key+42"
#define BUCKET "bkt"

typedef enum { F_STATUS = 1, F_CUT, F_STALL } fault_kind;

typedef struct fault {
    char method[8];
    fault_kind kind;
    int status;
    const char *code;
    int count; /* how many matching requests it applies to */
} fault;

typedef struct logrec {
    char method[8];
    char target[512];
    char range[64];
    bool if_match;
    int status;
} logrec;

typedef struct fobj {
    char *key;
    char *data;
    size_t len;
    char etag[48];
    int64_t mtime;
} fobj;

typedef struct fpart {
    int num;
    char *data;
    size_t len;
} fpart;

typedef struct fupload {
    char id[32];
    char *key;
    fpart *parts;
    size_t n;
    int64_t initiated; /* unix seconds */
} fupload;

#define MAX_CONNS 256

typedef struct fake {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    int conn_fd[MAX_CONNS];
    pthread_t conn_th[MAX_CONNS];
    int n_conns;
    fobj *objs;
    size_t n_objs;
    fupload *ups;
    size_t n_ups;
    int next_upload;
    fault faults[16];
    int n_faults;
    logrec log[512];
    int n_log;
    int bad_sigs;
    int page_size;
    bool stuck_token;   /* a broken endpoint: every page says "truncated", same token */
    int list_delay_ms;  /* a slow endpoint: each ListObjectsV2 page waits this long */
    char hide_key[256]; /* a key listings leave out (HEAD and GET still find it) */
    char last_bad[512];
} fake;

static fake *g_fake;

static int fake_obj_find(fake *f, const char *key)
{
    for (size_t i = 0; i < f->n_objs; i++)
        if (strcmp(f->objs[i].key, key) == 0)
            return (int)i;
    return -1;
}

static void fake_put(fake *f, const char *key, const char *data, size_t len)
{
    int i = fake_obj_find(f, key);
    if (i < 0) {
        f->objs = gd_realloc(f->objs, (f->n_objs + 1) * sizeof *f->objs);
        i = (int)f->n_objs++;
        f->objs[i].key = gd_strdup(key);
    } else {
        free(f->objs[i].data);
    }
    f->objs[i].data = gd_malloc(len ? len : 1);
    memcpy(f->objs[i].data, data, len);
    f->objs[i].len = len;
    char h[65];
    gd_sigv4_sha256_hex(data, len, h);
    snprintf(f->objs[i].etag, sizeof f->objs[i].etag, "\"%.32s\"", h);
    f->objs[i].mtime = time(NULL);
}

static void fake_del(fake *f, const char *key)
{
    int i = fake_obj_find(f, key);
    if (i < 0)
        return;
    free(f->objs[i].key);
    free(f->objs[i].data);
    f->objs[i] = f->objs[--f->n_objs];
}

static void fake_add_fault(fake *f, const char *method, fault_kind k, int status, const char *code,
                           int count)
{
    pthread_mutex_lock(&f->mu);
    fault *ft = &f->faults[f->n_faults++];
    gd_strlcpy(ft->method, method, sizeof ft->method);
    ft->kind = k;
    ft->status = status;
    ft->code = code;
    ft->count = count;
    pthread_mutex_unlock(&f->mu);
}

static int fake_count(fake *f, const char *method, const char *target_sub)
{
    pthread_mutex_lock(&f->mu);
    int n = 0;
    for (int i = 0; i < f->n_log; i++)
        if (strcmp(f->log[i].method, method) == 0 &&
            (target_sub == NULL || strstr(f->log[i].target, target_sub) != NULL))
            n++;
    pthread_mutex_unlock(&f->mu);
    return n;
}

typedef struct hreq {
    char method[16];
    char target[2048]; /* path?query as sent */
    char path[2048];
    char query[2048];
    char *hname[64], *hval[64];
    int nh;
    char *body;
    size_t blen;
} hreq;

static const char *hget(const hreq *r, const char *name)
{
    for (int i = 0; i < r->nh; i++)
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hval[i];
    return NULL;
}

static void hreq_free(hreq *r)
{
    for (int i = 0; i < r->nh; i++) {
        free(r->hname[i]);
        free(r->hval[i]);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Percent-decoding of one query value (into a new string). */
static char *pdecode(const char *s, size_t n)
{
    char *o = gd_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            o[k++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* Value of a query parameter (decoded, caller frees), NULL if absent;
 * "" for a parameter without '='. */
static char *qget(const hreq *r, const char *name)
{
    size_t nl = strlen(name);
    const char *p = r->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0 && (len == nl || p[nl] == '='))
            return len == nl ? gd_strdup("") : pdecode(p + nl + 1, len - nl - 1);
        if (!amp)
            break;
        p = amp + 1;
    }
    return NULL;
}

static bool qhas(const hreq *r, const char *name)
{
    char *v = qget(r, name);
    free(v);
    return v != NULL;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return false;
        }
        c += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads one request; false on EOF or error. buf/len keep leftovers. */
static bool read_req(int fd, gd_buf *in, hreq *r)
{
    char tmp[65536];
    char *end;
    while ((in->data == NULL || (end = strstr(in->data, "\r\n\r\n")) == NULL)) {
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k <= 0)
            return false;
        gd_buf_append(in, tmp, (size_t)k);
    }
    size_t hlen = (size_t)(end - in->data) + 4;
    char *hdr = gd_strndup(in->data, hlen);
    char *line = hdr;
    char *nl = strstr(line, "\r\n");
    *nl = '\0';
    if (sscanf(line, "%15s %2047s", r->method, r->target) != 2) {
        free(hdr);
        return false;
    }
    char *qm = strchr(r->target, '?');
    if (qm) {
        gd_strlcpy(r->path, r->target, (size_t)(qm - r->target) + 1);
        gd_strlcpy(r->query, qm + 1, sizeof r->query);
    } else {
        gd_strlcpy(r->path, r->target, sizeof r->path);
    }
    line = nl + 2;
    while (*line && strncmp(line, "\r\n", 2) != 0 && r->nh < 64) {
        nl = strstr(line, "\r\n");
        *nl = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            r->hname[r->nh] = gd_strdup(line);
            r->hval[r->nh] = gd_strdup(v);
            r->nh++;
        }
        line = nl + 2;
    }
    free(hdr);
    size_t clen = 0;
    const char *cl = hget(r, "content-length");
    if (cl)
        clen = (size_t)strtoull(cl, NULL, 10);
    while (in->len < hlen + clen) {
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k <= 0)
            return false;
        gd_buf_append(in, tmp, (size_t)k);
    }
    r->body = gd_malloc(clen + 1);
    memcpy(r->body, in->data + hlen, clen);
    r->body[clen] = '\0';
    r->blen = clen;
    size_t rest = in->len - hlen - clen;
    memmove(in->data, in->data + hlen + clen, rest);
    in->len = rest;
    in->data[rest] = '\0';
    return true;
}

/* Checks the request's SigV4 signature the way S3 does. */
static bool sig_ok(const hreq *r, char *why, size_t wl)
{
    const char *a = hget(r, "authorization");
    const char *date = hget(r, "x-amz-date");
    const char *ph = hget(r, "x-amz-content-sha256");
    if (!a || !date || !ph) {
        snprintf(why, wl, "missing authorization, x-amz-date or x-amz-content-sha256");
        return false;
    }
    const char *shp = strstr(a, "SignedHeaders=");
    const char *sgp = strstr(a, "Signature=");
    if (!shp || !sgp || strncmp(a, "AWS4-HMAC-SHA256 Credential=" AK "/", 29 + strlen(AK)) != 0) {
        snprintf(why, wl, "malformed authorization");
        return false;
    }
    if (strcmp(ph, "UNSIGNED-PAYLOAD") != 0) {
        char bh[65];
        gd_sigv4_sha256_hex(r->body, r->blen, bh);
        if (strcmp(bh, ph) != 0) {
            snprintf(why, wl, "payload hash mismatch");
            return false;
        }
    }
    char names[1024];
    const char *e = strchr(shp, ',');
    size_t nl = e ? (size_t)(e - shp - 14) : strlen(shp + 14);
    gd_strlcpy(names, shp + 14, nl + 1 < sizeof names ? nl + 1 : sizeof names);
    gd_sigv4_header h[32];
    size_t n = 0;
    for (char *tok = names; tok && n < 32;) {
        char *semi = strchr(tok, ';');
        if (semi)
            *semi = '\0';
        const char *v = hget(r, tok);
        if (v == NULL) {
            snprintf(why, wl, "signed header %s not sent", tok);
            return false;
        }
        h[n++] = (gd_sigv4_header){tok, v};
        tok = semi ? semi + 1 : NULL;
    }
    gd_sigv4_request sr = {.method = r->method,
                           .path = r->path,
                           .query = r->query,
                           .headers = h,
                           .n_headers = n,
                           .payload_hash = ph};
    gd_buf az;
    gd_buf_init(&az, 0);
    char sig[65];
    gd_sigv4_authorization(&sr, date, AK, SK, "us-east-1", "s3", &az, sig);
    bool ok = strncmp(sgp + 10, sig, 64) == 0;
    if (!ok)
        snprintf(why, wl, "signature mismatch for %s %s", r->method, r->target);
    gd_buf_free(&az);
    return ok;
}

static void reply(int fd, int status, const char *extra_headers, const char *body, size_t blen,
                  bool head)
{
    char h[1024];
    int n = snprintf(h, sizeof h, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, blen,
                     extra_headers ? extra_headers : "");
    send_all(fd, h, (size_t)n);
    if (!head && blen > 0)
        send_all(fd, body, blen);
}

static void reply_error(int fd, int status, const char *code, bool head)
{
    char *b = gd_asprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                          "<Message>fake %s</Message></Error>",
                          code, code);
    reply(fd, status, "Content-Type: application/xml\r\n", b, strlen(b), head);
    free(b);
}

static void xml_escape(gd_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            gd_buf_append(b, "&amp;", 5);
        else if (*s == '<')
            gd_buf_append(b, "&lt;", 4);
        else if (*s == '>')
            gd_buf_append(b, "&gt;", 4);
        else
            gd_buf_append(b, s, 1);
    }
}

static int fobj_cmp(const void *a, const void *b)
{
    return strcmp(((const fobj *)a)->key, ((const fobj *)b)->key);
}

/* Handles one request; returns false to close the connection. */
/* ---- the fake's answers, one per kind of request (under f->mu); each
 * returns the status it sent ---- */

static void upload_drop(fake *f, size_t ui)
{
    fupload *up = &f->ups[ui];
    for (size_t i = 0; i < up->n; i++)
        free(up->parts[i].data);
    free(up->parts);
    free(up->key);
    f->ups[ui] = f->ups[--f->n_ups];
}

/* ListMultipartUploads: one page */
static int serve_list_uploads(fake *f, int fd, hreq *r)
{
    char *prefix = qget(r, "prefix");
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_appendf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult>"
                       "<Bucket>bkt</Bucket><IsTruncated>false</IsTruncated>");
    for (size_t i = 0; i < f->n_ups; i++) {
        if (prefix && strncmp(f->ups[i].key, prefix, strlen(prefix)) != 0)
            continue;
        time_t t = (time_t)f->ups[i].initiated;
        struct tm tm;
        gmtime_r(&t, &tm);
        char when[40];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        gd_buf_append(&b, "<Upload><Key>", 13);
        xml_escape(&b, f->ups[i].key);
        gd_buf_append(&b, "</Key><UploadId>", 16);
        xml_escape(&b, f->ups[i].id);
        gd_buf_appendf(&b, "</UploadId><Initiated>%s</Initiated></Upload>", when);
    }
    gd_buf_append(&b, "</ListMultipartUploadsResult>", 29);
    reply(fd, 200, "", b.data, b.len, false);
    gd_buf_free(&b);
    free(prefix);
    return 200;
}

/* ListObjectsV2 */
static int serve_list_objects(fake *f, int fd, hreq *r)
{
    if (f->list_delay_ms > 0) {
        pthread_mutex_unlock(&f->mu);
        usleep((useconds_t)f->list_delay_ms * 1000);
        pthread_mutex_lock(&f->mu);
    }
    char *prefix = qget(r, "prefix");
    char *tok = qget(r, "continuation-token");
    const char *after = tok && !f->stuck_token ? tok + 4 : ""; /* "tok&" + last key */
    qsort(f->objs, f->n_objs, sizeof *f->objs, fobj_cmp);
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_appendf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                       "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bkt</Name>");
    int n = 0;
    bool trunc = false;
    const char *last = NULL;
    for (size_t i = 0; i < f->n_objs; i++) {
        const fobj *o = &f->objs[i];
        if (prefix && strncmp(o->key, prefix, strlen(prefix)) != 0)
            continue;
        if (strcmp(o->key, after) <= 0)
            continue;
        if (f->hide_key[0] && strcmp(o->key, f->hide_key) == 0)
            continue;
        if (n == f->page_size) {
            trunc = true;
            break;
        }
        if (f->stuck_token)
            trunc = true;
        gd_buf_append(&b, "<Contents><Key>", 15);
        xml_escape(&b, o->key);
        gd_buf_appendf(&b,
                       "</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified>"
                       "<ETag>&quot;x&quot;</ETag><Size>%zu</Size><StorageClass>STANDARD"
                       "</StorageClass></Contents>",
                       o->len);
        last = o->key;
        n++;
    }
    gd_buf_appendf(&b, "<KeyCount>%d</KeyCount><IsTruncated>%s</IsTruncated>", n,
                   trunc ? "true" : "false");
    if (trunc) {
        gd_buf_append(&b, "<NextContinuationToken>tok&amp;", 31);
        xml_escape(&b, last);
        gd_buf_append(&b, "</NextContinuationToken>", 24);
    }
    gd_buf_append(&b, "</ListBucketResult>", 19);
    reply(fd, 200, "", b.data, b.len, false);
    gd_buf_free(&b);
    free(prefix);
    free(tok);
    return 200;
}

/* CreateMultipartUpload */
static int serve_initiate(fake *f, int fd, const char *key)
{
    f->ups = gd_realloc(f->ups, (f->n_ups + 1) * sizeof *f->ups);
    fupload *up = &f->ups[f->n_ups++];
    memset(up, 0, sizeof *up);
    snprintf(up->id, sizeof up->id, "up+%d/&x", ++f->next_upload);
    up->key = gd_strdup(key);
    up->initiated = time(NULL);
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_appendf(&b, "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>");
    xml_escape(&b, key);
    gd_buf_append(&b, "</Key><UploadId>", 16);
    xml_escape(&b, up->id);
    gd_buf_append(&b, "</UploadId></InitiateMultipartUploadResult>", 43);
    reply(fd, 200, "", b.data, b.len, false);
    gd_buf_free(&b);
    return 200;
}

/* CompleteMultipartUpload: assemble the listed parts in order */
static int serve_complete(fake *f, int fd, hreq *r, const char *key, size_t ui)
{
    fupload *up = &f->ups[ui];
    int status = 200;
    gd_buf all;
    gd_buf_init(&all, 0);
    const char *q = r->body;
    int expect = 1;
    bool bad = false;
    const char *v;
    size_t vn;
    const char *pe;
    while ((pe = gd_s3_xml_find(q, r->body + r->blen, "Part", &v, &vn)) != NULL) {
        const char *nv;
        size_t nn;
        if (!gd_s3_xml_find(v, v + vn, "PartNumber", &nv, &nn) || atoi(nv) != expect) {
            bad = true;
            break;
        }
        const fpart *found = NULL;
        for (size_t i = 0; i < up->n; i++)
            if (up->parts[i].num == expect)
                found = &up->parts[i];
        const char *ev;
        size_t en;
        char want[64];
        snprintf(want, sizeof want, "\"part-%d-%zu\"", expect, found ? found->len : 0);
        if (!found || !gd_s3_xml_find(v, v + vn, "ETag", &ev, &en) || en != strlen(want) ||
            strncmp(ev, want, en) != 0) {
            bad = true;
            break;
        }
        gd_buf_append(&all, found->data, found->len);
        expect++;
        q = pe;
    }
    if (bad || expect == 1) {
        status = 400;
        reply_error(fd, 400, "InvalidPart", false);
    } else {
        fake_put(f, key, all.data, all.len);
        const char *ok = "<CompleteMultipartUploadResult><ETag>&quot;mp&quot;</ETag>"
                         "</CompleteMultipartUploadResult>";
        reply(fd, 200, "", ok, strlen(ok), false);
        for (size_t i = 0; i < up->n; i++)
            free(up->parts[i].data);
        free(up->parts);
        free(up->key);
        f->ups[ui] = f->ups[--f->n_ups];
    }
    gd_buf_free(&all);
    return status;
}

/* UploadPart, CompleteMultipartUpload, AbortMultipartUpload */
static int serve_upload_op(fake *f, int fd, hreq *r, const char *key, bool head)
{
    int status = 200;
    char *id = qget(r, "uploadId");
    fupload *up = NULL;
    size_t ui = 0;
    for (size_t i = 0; i < f->n_ups; i++)
        if (strcmp(f->ups[i].id, id) == 0 && strcmp(f->ups[i].key, key) == 0) {
            up = &f->ups[i];
            ui = i;
        }
    if (up == NULL) {
        status = 404;
        reply_error(fd, 404, "NoSuchUpload", head);
    } else if (strcmp(r->method, "PUT") == 0) {
        char *pn = qget(r, "partNumber");
        up->parts = gd_realloc(up->parts, (up->n + 1) * sizeof *up->parts);
        fpart *pt = &up->parts[up->n++];
        pt->num = atoi(pn);
        pt->data = gd_malloc(r->blen + 1);
        memcpy(pt->data, r->body, r->blen);
        pt->len = r->blen;
        char eh[300];
        snprintf(eh, sizeof eh, "ETag: \"part-%d-%zu\"\r\n", pt->num, pt->len);
        reply(fd, 200, eh, "", 0, false);
        free(pn);
    } else if (strcmp(r->method, "POST") == 0) {
        status = serve_complete(f, fd, r, key, ui);
    } else if (strcmp(r->method, "DELETE") == 0) {
        upload_drop(f, ui);
        status = 204;
        reply(fd, 204, "", "", 0, false);
    }
    free(id);
    return status;
}

/* GetObject and HeadObject (Range, If-Match; F_CUT sends half and closes) */
static int serve_get(fake *f, int fd, hreq *r, const char *key, bool head, fault ft, bool *keep)
{
    int status = 200;
    const char *rg = hget(r, "range");
    int i = fake_obj_find(f, key);
    const char *im = hget(r, "if-match");
    if (i < 0) {
        status = 404;
        if (head)
            reply(fd, 404, "", "", 0, true);
        else
            reply_error(fd, 404, "NoSuchKey", false);
    } else if (im && strcmp(im, f->objs[i].etag) != 0) {
        status = 412;
        reply_error(fd, 412, "PreconditionFailed", head);
    } else {
        const fobj *o = &f->objs[i];
        size_t start = 0;
        if (rg && strncmp(rg, "bytes=", 6) == 0)
            start = (size_t)strtoull(rg + 6, NULL, 10);
        char lm[64];
        struct tm tm;
        time_t mt = (time_t)o->mtime;
        gmtime_r(&mt, &tm);
        strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        char eh[512];
        if (start > 0 && start >= o->len) {
            status = 416;
            reply_error(fd, 416, "InvalidRange", head);
        } else {
            status = start > 0 ? 206 : 200;
            if (start > 0)
                snprintf(eh, sizeof eh,
                         "ETag: %s\r\nLast-Modified: %s\r\nContent-Range: bytes %zu-%zu/%zu\r\n",
                         o->etag, lm, start, o->len - 1, o->len);
            else
                snprintf(eh, sizeof eh, "ETag: %s\r\nLast-Modified: %s\r\n", o->etag, lm);
            size_t blen = o->len - start;
            if (ft.kind == F_CUT && !head) {
                /* full length announced, half sent, then closed */
                char hh[1024];
                int hn = snprintf(hh, sizeof hh, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
                                  status, blen, eh);
                send_all(fd, hh, (size_t)hn);
                send_all(fd, o->data + start, blen / 2);
                *keep = false;
            } else {
                reply(fd, status, eh, o->data + start, blen, head);
            }
        }
    }
    return status;
}

static bool handle(fake *f, int fd, hreq *r)
{
    char why[600] = "";
    bool sok = sig_ok(r, why, sizeof why);
    bool head = strcmp(r->method, "HEAD") == 0;
    pthread_mutex_lock(&f->mu);
    logrec *lr = f->n_log < 512 ? &f->log[f->n_log++] : &f->log[511];
    memset(lr, 0, sizeof *lr);
    gd_strlcpy(lr->method, r->method, sizeof lr->method);
    gd_strlcpy(lr->target, r->target, sizeof lr->target);
    const char *rg = hget(r, "range");
    if (rg)
        gd_strlcpy(lr->range, rg, sizeof lr->range);
    lr->if_match = hget(r, "if-match") != NULL;
    if (!sok) {
        f->bad_sigs++;
        gd_strlcpy(f->last_bad, why, sizeof f->last_bad);
    }
    fault ft = {0};
    for (int i = 0; i < f->n_faults; i++) {
        if (f->faults[i].count > 0 && strcmp(f->faults[i].method, r->method) == 0) {
            ft = f->faults[i];
            f->faults[i].count--;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);

    if (ft.kind == F_STATUS) {
        lr->status = ft.status;
        reply_error(fd, ft.status, ft.code, head);
        return true;
    }
    if (ft.kind == F_STALL) {
        lr->status = -1;
        pthread_mutex_lock(&f->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 20;
        while (!f->stopping)
            if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&f->mu);
        return false;
    }
    if (!sok) {
        lr->status = 403;
        reply_error(fd, 403, "SignatureDoesNotMatch", head);
        return true;
    }

    /* path-style: /bucket[/key] */
    const char *p = r->path + 1;
    const char *slash = strchr(p, '/');
    char bucket[128];
    gd_strlcpy(bucket, p, slash ? (size_t)(slash - p) + 1 : sizeof bucket);
    char *key = slash ? pdecode(slash + 1, strlen(slash + 1)) : NULL;
    bool keep = true;
    pthread_mutex_lock(&f->mu);
    int status = 200;
    if (strcmp(bucket, BUCKET) != 0) {
        status = 404;
        reply_error(fd, 404, "NoSuchBucket", head);
    } else if (key == NULL && strcmp(r->method, "GET") == 0 && qhas(r, "uploads")) {
        status = serve_list_uploads(f, fd, r);
    } else if (key == NULL && strcmp(r->method, "GET") == 0) {
        status = serve_list_objects(f, fd, r);
    } else if (key == NULL) {
        status = 405;
        reply_error(fd, 405, "MethodNotAllowed", head);
    } else if (strcmp(r->method, "POST") == 0 && qhas(r, "uploads")) {
        status = serve_initiate(f, fd, key);
    } else if (qhas(r, "uploadId")) {
        status = serve_upload_op(f, fd, r, key, head);
    } else if (strcmp(r->method, "PUT") == 0) {
        fake_put(f, key, r->body, r->blen);
        char eh[100];
        snprintf(eh, sizeof eh, "ETag: %s\r\n", f->objs[fake_obj_find(f, key)].etag);
        reply(fd, 200, eh, "", 0, false);
    } else if (strcmp(r->method, "DELETE") == 0) {
        fake_del(f, key);
        status = 204;
        reply(fd, 204, "", "", 0, false);
    } else if (strcmp(r->method, "GET") == 0 || head) {
        status = serve_get(f, fd, r, key, head, ft, &keep);
    } else {
        status = 405;
        reply_error(fd, 405, "MethodNotAllowed", head);
    }
    lr->status = status;
    pthread_mutex_unlock(&f->mu);
    free(key);
    return keep;
}

typedef struct conn_arg {
    fake *f;
    int fd;
} conn_arg;

static void *conn_main(void *arg)
{
    conn_arg *ca = arg;
    gd_buf in;
    gd_buf_init(&in, 0);
    for (;;) {
        hreq r;
        memset(&r, 0, sizeof r);
        if (!read_req(ca->fd, &in, &r)) {
            hreq_free(&r);
            break;
        }
        bool keep = handle(ca->f, ca->fd, &r);
        hreq_free(&r);
        if (!keep)
            break;
    }
    shutdown(ca->fd, SHUT_RDWR);
    gd_buf_free(&in);
    free(ca);
    return NULL;
}

static void *accept_main(void *arg)
{
    fake *f = arg;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        pthread_mutex_lock(&f->mu);
        if (f->stopping || f->n_conns == MAX_CONNS) {
            pthread_mutex_unlock(&f->mu);
            close(fd);
            if (f->stopping)
                break;
            continue;
        }
        conn_arg *ca = gd_calloc(1, sizeof *ca);
        ca->f = f;
        ca->fd = fd;
        f->conn_fd[f->n_conns] = fd;
        pthread_create(&f->conn_th[f->n_conns], NULL, conn_main, ca);
        f->n_conns++;
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

static fake *fake_start(void)
{
    fake *f = gd_calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->page_size = 1000;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 64), 0);
    socklen_t al = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->acceptor, NULL, accept_main, f);
    return f;
}

static void fake_stop(fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->acceptor, NULL);
    close(f->lfd);
    for (int i = 0; i < f->n_conns; i++) {
        shutdown(f->conn_fd[i], SHUT_RDWR);
        pthread_join(f->conn_th[i], NULL);
        close(f->conn_fd[i]);
    }
    for (size_t i = 0; i < f->n_objs; i++) {
        free(f->objs[i].key);
        free(f->objs[i].data);
    }
    free(f->objs);
    for (size_t i = 0; i < f->n_ups; i++) {
        for (size_t j = 0; j < f->ups[i].n; j++)
            free(f->ups[i].parts[j].data);
        free(f->ups[i].parts);
        free(f->ups[i].key);
    }
    free(f->ups);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* ------------------------------------------------------- fixtures -- */

typedef struct fx {
    fake *f;
    gd_storage *s;
    char endpoint[64];
    char credfile[64];
} fx;

#define FAST_TUNING "connect=2,stall=1,attempts=4,backoff-ms=10,backoff-max-ms=40"

static int open_s3(fx *x, const char *bucket, const char *prefix, gd_storage **out, gd_err *e)
{
    gd_region_cfg c = {0};
    c.name = "frankfurt";
    c.type = GD_REGION_S3;
    c.endpoint = x->endpoint;
    c.bucket = (char *)bucket;
    c.prefix = (char *)prefix;
    c.credentials_file = x->credfile;
    c.profile = "backup";
    return gd_storage_s3_open(&c, out, e);
}

static int setup(void **state)
{
    fx *x = gd_calloc(1, sizeof *x);
    setenv("GEODR_S3_TIMEOUTS", FAST_TUNING, 1);
    x->f = fake_start();
    g_fake = x->f;
    snprintf(x->endpoint, sizeof x->endpoint, "http://127.0.0.1:%d", x->f->port);
    gd_strlcpy(x->credfile, "/tmp/gd_test_s3_cred_XXXXXX", sizeof x->credfile);
    int fd = mkstemp(x->credfile);
    const char *txt = "[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n"
                      "[backup]\naws_access_key_id = " AK "\naws_secret_access_key = " SK "\n";
    assert_true(write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(open_s3(x, BUCKET, "pre/", &x->s, &e), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    gd_storage_free(x->s);
    int bad = x->f->bad_sigs;
    char why[512];
    gd_strlcpy(why, x->f->last_bad, sizeof why);
    fake_stop(x->f);
    unlink(x->credfile);
    free(x);
    if (bad != 0) {
        fprintf(stderr, "bad signatures: %d (%s)\n", bad, why);
        return -1;
    }
    return 0;
}

static char *pattern(size_t n, unsigned seed)
{
    char *p = gd_malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)(x & 0xff);
    }
    return p;
}

static void put_obj(gd_storage *s, const char *name, const char *data, size_t n)
{
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_storage_put_all(s, name, data, n, &e);
    if (rc != 0)
        fail_msg("put %s: %s", name, e.msg);
}

/* Reads a whole object with small reads. */
static char *read_obj(gd_storage *s, const char *name, size_t *len, int *rc_out, gd_err *e)
{
    gd_reader *r = NULL;
    *rc_out = gd_storage_open_read(s, name, &r, e);
    if (*rc_out != 0)
        return NULL;
    gd_buf b;
    gd_buf_init(&b, 0);
    char tmp[100000];
    for (;;) {
        ssize_t n = gd_reader_read(r, tmp, sizeof tmp, e);
        if (n < 0) {
            *rc_out = (int)n;
            gd_reader_close(r);
            gd_buf_free(&b);
            return NULL;
        }
        gd_buf_append(&b, tmp, (size_t)n);
        if ((size_t)n < sizeof tmp)
            break;
    }
    gd_reader_close(r);
    *len = b.len;
    return b.data ? b.data : gd_strdup("");
}

/* ---------------------------------------------------- driver tests -- */

static void test_roundtrip(void **state)
{
    fx *x = *state;
    gd_err e;
    gd_err_clear(&e);
    put_obj(x->s, "shop/backup/a b&c/manifest", "hello", 5);
    put_obj(x->s, "shop/empty", "", 0);
    assert_int_equal(fake_obj_find(x->f, "pre/shop/backup/a b&c/manifest") >= 0, 1);

    gd_stat st;
    assert_int_equal(gd_storage_stat(x->s, "shop/backup/a b&c/manifest", &st, &e), 0);
    assert_int_equal(st.size, 5);
    assert_true(st.mtime_us > (int64_t)(time(NULL) - 60) * 1000000);

    size_t n;
    int rc;
    char *d = read_obj(x->s, "shop/backup/a b&c/manifest", &n, &rc, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    d = read_obj(x->s, "shop/empty", &n, &rc, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 0);
    free(d);

    assert_int_equal(gd_storage_remove(x->s, "shop/empty", &e), 0);
    assert_int_equal(gd_storage_stat(x->s, "shop/empty", &st, &e), GD_E_NOTFOUND);
    /* a missing object: S3 answers 204 to DELETE; some servers 404 */
    fake_add_fault(x->f, "DELETE", F_STATUS, 404, "NoSuchKey", 1);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_remove(x->s, "shop/empty", &e), 0);
    /* invalid names never reach the wire */
    assert_int_equal(gd_storage_stat(x->s, "../x", &st, &e), GD_E_INVALID);
}

static void test_get_404(void **state)
{
    fx *x = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_reader *r = NULL;
    assert_int_equal(gd_storage_open_read(x->s, "shop/nothing", &r, &e), GD_E_NOTFOUND);
    assert_null(r);
    assert_non_null(strstr(e.msg, "object shop/nothing not found in region frankfurt"));
    assert_int_equal(fake_count(x->f, "GET", "/bkt/pre/shop/nothing"), 1);
    gd_err_clear(&e);
    gd_stat st;
    assert_int_equal(gd_storage_stat(x->s, "shop/nothing", &st, &e), GD_E_NOTFOUND);
}

static void test_missing_bucket(void **state)
{
    fx *x = *state;
    gd_storage *s = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(open_s3(x, "nope", "", &s, &e), 0);
    gd_reader *r = NULL;
    assert_int_equal(gd_storage_open_read(s, "x", &r, &e), GD_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "bucket nope does not exist at http://127.0.0.1:"));
    gd_err_clear(&e);
    assert_int_equal(gd_storage_put_all(s, "x", "1", 1, &e), GD_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "bucket nope does not exist"));
    gd_storage_free(s);
}

static void test_retry_500_then_ok(void **state)
{
    fx *x = *state;
    gd_err e;
    gd_err_clear(&e);
    fake_add_fault(x->f, "PUT", F_STATUS, 500, "InternalError", 1);
    put_obj(x->s, "o/a", "abc", 3);
    assert_int_equal(fake_count(x->f, "PUT", "/bkt/pre/o/a"), 2);
    fake_add_fault(x->f, "HEAD", F_STATUS, 502, "BadGateway", 2);
    gd_stat st;
    assert_int_equal(gd_storage_stat(x->s, "o/a", &st, &e), 0);
    assert_int_equal(st.size, 3);
    assert_int_equal(fake_count(x->f, "HEAD", NULL), 3);
}

static void test_retry_503_slowdown(void **state)
{
    fx *x = *state;
    put_obj(x->s, "o/b", "0123456789", 10);
    fake_add_fault(x->f, "GET", F_STATUS, 503, "SlowDown", 2);
    size_t n;
    int rc;
    gd_err e;
    gd_err_clear(&e);
    char *d = read_obj(x->s, "o/b", &n, &rc, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 10);
    assert_memory_equal(d, "0123456789", 10);
    free(d);
    assert_int_equal(fake_count(x->f, "GET", "/bkt/pre/o/b"), 3);
    /* 429 and a 400 RequestTimeout are retried too */
    fake_add_fault(x->f, "GET", F_STATUS, 429, "TooManyRequests", 1);
    fake_add_fault(x->f, "GET", F_STATUS, 400, "RequestTimeout", 1);
    d = read_obj(x->s, "o/b", &n, &rc, &e);
    assert_int_equal(rc, 0);
    free(d);
    assert_int_equal(fake_count(x->f, "GET", "/bkt/pre/o/b"), 6);
}

static void test_cut_body_resumes_with_range(void **state)
{
    fx *x = *state;
    size_t big = 3 * 1024 * 1024 + 17;
    char *src = pattern(big, 7);
    put_obj(x->s, "o/cut", src, big);
    fake_add_fault(x->f, "GET", F_CUT, 0, NULL, 1);
    size_t n;
    int rc;
    gd_err e;
    gd_err_clear(&e);
    char *d = read_obj(x->s, "o/cut", &n, &rc, &e);
    if (rc != 0)
        fail_msg("read: %s", e.msg);
    assert_int_equal(n, big);
    assert_memory_equal(d, src, big);
    free(d);
    free(src);
    /* the second GET asked for the rest, pinned to the first ETag */
    pthread_mutex_lock(&x->f->mu);
    int gets = 0;
    char range[64] = "";
    bool im = false;
    for (int i = 0; i < x->f->n_log; i++) {
        if (strcmp(x->f->log[i].method, "GET") == 0 && strstr(x->f->log[i].target, "o/cut")) {
            if (++gets == 2) {
                gd_strlcpy(range, x->f->log[i].range, sizeof range);
                im = x->f->log[i].if_match;
            }
        }
    }
    pthread_mutex_unlock(&x->f->mu);
    assert_int_equal(gets, 2);
    char want[64];
    snprintf(want, sizeof want, "bytes=%zu-", big / 2);
    assert_string_equal(range, want);
    assert_true(im);
}

static void test_stalled_connection(void **state)
{
    fx *x = *state;
    put_obj(x->s, "o/stall", "xyz", 3);
    fake_add_fault(x->f, "GET", F_STALL, 0, NULL, 1);
    double t0 = gd_mono();
    size_t n;
    int rc;
    gd_err e;
    gd_err_clear(&e);
    char *d = read_obj(x->s, "o/stall", &n, &rc, &e);
    double dt = gd_mono() - t0;
    if (rc != 0)
        fail_msg("read: %s", e.msg);
    assert_int_equal(n, 3);
    free(d);
    assert_true(dt >= 1.0); /* the stall limit (1 s here) had to expire */
    assert_true(dt < 10.0);
    assert_int_equal(fake_count(x->f, "GET", "/bkt/pre/o/stall"), 2);
    /* a stalled upload too */
    fake_add_fault(x->f, "PUT", F_STALL, 0, NULL, 1);
    put_obj(x->s, "o/stall2", "abc", 3);
    assert_int_equal(fake_count(x->f, "PUT", "/bkt/pre/o/stall2"), 2);
}

static void test_403_not_retried(void **state)
{
    fx *x = *state;
    put_obj(x->s, "o/auth", "a", 1);
    fake_add_fault(x->f, "GET", F_STATUS, 403, "AccessDenied", 5);
    gd_reader *r = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(x->s, "o/auth", &r, &e), GD_E_AUTH);
    assert_false(e.retryable);
    assert_non_null(strstr(e.msg, "access denied by the S3 endpoint"));
    assert_non_null(strstr(e.msg, "for bucket bkt"));
    assert_non_null(strstr(e.msg, "check credentials-file/profile"));
    assert_null(strstr(e.msg, SK));
    assert_int_equal(fake_count(x->f, "GET", "/bkt/pre/o/auth"), 1);
    fake_add_fault(x->f, "PUT", F_STATUS, 403, "SignatureDoesNotMatch", 5);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_put_all(x->s, "o/auth2", "a", 1, &e), GD_E_AUTH);
    assert_non_null(strstr(e.msg, "secret key does not match"));
    assert_int_equal(fake_count(x->f, "PUT", "/bkt/pre/o/auth2"), 1);
    pthread_mutex_lock(&x->f->mu);
    x->f->n_faults = 0;
    pthread_mutex_unlock(&x->f->mu);
}

static int list_cb(void *ctx, const char *name, const gd_stat *st)
{
    gd_buf *b = ctx;
    gd_buf_appendf(b, "%s=%llu;", name, (unsigned long long)st->size);
    return 0;
}

static int stop_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)st;
    int *n = ctx;
    (void)name;
    return ++*n == 2 ? 42 : 0;
}

/* expire removes leftovers (set folders without a manifest).  A listing
 * that leaves out a committed set's manifest must not make its data look
 * like leftovers: the manifest itself is looked for first. */
static void test_leftovers_listing_omits_manifest(void **state)
{
    fx *x = *state;
    gd_err e;
    gd_err_clear(&e);
    gd_storage *s2 = NULL;
    gd_repo *r = NULL;
    assert_int_equal(open_s3(x, BUCKET, "pre/", &s2, &e), 0);
    assert_int_equal(gd_repo_open(s2, "shop", NULL, true, 1, &r, &e), 0);
    put_obj(x->s, "shop/backup/20260101T000000Z/data/0-0.tsv.zst", "x", 1);
    put_obj(x->s, "shop/backup/20260101T000000Z/manifest", "m", 1);
    put_obj(x->s, "shop/backup/20260101T000001Z/data/0-0.tsv.zst", "y", 1); /* a real leftover */
    gd_strlcpy(x->f->hide_key, "pre/shop/backup/20260101T000000Z/manifest", sizeof x->f->hide_key);
    json_t *rep = NULL;
    assert_int_equal(gd_region_expire(r, 7, (int64_t)time(NULL) + 7 * 86400, false, &rep, &e), 0);
    gd_stat st;
    assert_int_equal(
        gd_storage_stat(x->s, "shop/backup/20260101T000000Z/data/0-0.tsv.zst", &st, &e), 0);
    assert_int_equal(gd_storage_stat(x->s, "shop/backup/20260101T000000Z/manifest", &st, &e), 0);
    gd_err_clear(&e);
    assert_int_equal(
        gd_storage_stat(x->s, "shop/backup/20260101T000001Z/data/0-0.tsv.zst", &st, &e),
        GD_E_NOTFOUND);
    x->f->hide_key[0] = '\0';
    json_decref(rep);
    gd_repo_close(r);
}

/* An endpoint that answers every page with IsTruncated and the same token
 * (a broken gateway, or a hostile one) must not keep geodr listing forever. */
static void test_list_repeated_token(void **state)
{
    fx *x = *state;
    x->f->page_size = 2;
    x->f->stuck_token = true;
    put_obj(x->s, "shop/a", "1", 1);
    put_obj(x->s, "shop/b", "1", 1);
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_err e;
    gd_err_clear(&e);
    int before = fake_count(x->f, "GET", "list-type=2");
    assert_int_equal(gd_storage_list(x->s, "shop/", list_cb, &b, &e), GD_E_IO);
    assert_non_null(strstr(e.msg, "the same continuation token twice"));
    assert_true(fake_count(x->f, "GET", "list-type=2") - before <= 3);
    x->f->stuck_token = false;
    gd_buf_free(&b);
}

static void test_list_pagination(void **state)
{
    fx *x = *state;
    x->f->page_size = 2;
    put_obj(x->s, "shop/b", "12", 2);
    put_obj(x->s, "shop/a&b", "1", 1);
    put_obj(x->s, "shop/c/d", "123", 3);
    put_obj(x->s, "shop/a", "", 0);
    put_obj(x->s, "shop/z<", "1234", 4);
    put_obj(x->s, "other/x", "1", 1);
    /* keys other tools may leave: not objects of ours */
    pthread_mutex_lock(&x->f->mu);
    fake_put(x->f, "pre/shop/.hidden", "h", 1);
    fake_put(x->f, "pre/shop/c/", "", 0);
    fake_put(x->f, "elsewhere/shop/q", "q", 1);
    pthread_mutex_unlock(&x->f->mu);
    int before = fake_count(x->f, "GET", "list-type=2");

    gd_buf b;
    gd_buf_init(&b, 0);
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_list(x->s, "shop/", list_cb, &b, &e), 0);
    assert_string_equal(b.data, "shop/a=0;shop/a&b=1;shop/b=2;shop/c/d=3;shop/z<=4;");
    int pages = fake_count(x->f, "GET", "list-type=2") - before;
    assert_true(pages >= 4); /* 7 keys under pre/shop/, 2 a page */
    /* the second page was asked for with the token of the first (".hidden",
     * "a"): XML-unescaped, then URI-encoded */
    assert_int_equal(fake_count(x->f, "GET", "continuation-token=tok%26pre%2Fshop%2Fa&"), 1);

    gd_buf_reset(&b);
    assert_int_equal(gd_storage_list(x->s, "", list_cb, &b, &e), 0);
    assert_string_equal(b.data, "other/x=1;shop/a=0;shop/a&b=1;shop/b=2;shop/c/d=3;shop/z<=4;");
    gd_buf_reset(&b);
    assert_int_equal(gd_storage_list(x->s, "shop/c", list_cb, &b, &e), 0);
    assert_string_equal(b.data, "shop/c/d=3;");
    gd_buf_reset(&b);
    assert_int_equal(gd_storage_list(x->s, "none/", list_cb, &b, &e), 0);
    assert_int_equal(b.len, 0);
    int n = 0;
    assert_int_equal(gd_storage_list(x->s, "shop/", stop_cb, &n, &e), 42);
    assert_int_equal(n, 2);
    gd_buf_free(&b);
    /* a list that fails in the middle is retried page by page */
    fake_add_fault(x->f, "GET", F_STATUS, 500, "InternalError", 1);
    gd_buf_init(&b, 0);
    assert_int_equal(gd_storage_list(x->s, "shop/", list_cb, &b, &e), 0);
    assert_string_equal(b.data, "shop/a=0;shop/a&b=1;shop/b=2;shop/c/d=3;shop/z<=4;");
    gd_buf_free(&b);
}

static void test_multipart(void **state)
{
    fx *x = *state;
    size_t big = 20 * 1024 * 1024 + 12345; /* 8 + 8 + 4 MiB parts */
    char *src = pattern(big, 3);
    gd_writer *w = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_write(x->s, "big/obj", &w, &e), 0);
    for (size_t off = 0; off < big;) {
        size_t c = big - off < 777777 ? big - off : 777777;
        assert_int_equal(gd_writer_write(w, src + off, c, &e), 0);
        off += c;
    }
    /* nothing visible before commit */
    gd_stat st;
    assert_int_equal(gd_storage_stat(x->s, "big/obj", &st, &e), GD_E_NOTFOUND);
    gd_err_clear(&e);
    /* one part fails once: retried */
    fake_add_fault(x->f, "PUT", F_STATUS, 500, "InternalError", 1);
    if (gd_writer_commit(w, &e) != 0)
        fail_msg("commit: %s", e.msg);
    assert_int_equal(fake_count(x->f, "POST", "?uploads"), 1);
    assert_int_equal(fake_count(x->f, "PUT", "partNumber="), 4);
    assert_int_equal(fake_count(x->f, "POST", "uploadId="), 1);
    size_t n;
    int rc;
    char *d = read_obj(x->s, "big/obj", &n, &rc, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(n, big);
    assert_memory_equal(d, src, big);
    free(d);

    /* abort: no object, the upload is aborted */
    assert_int_equal(gd_storage_open_write(x->s, "big/aborted", &w, &e), 0);
    assert_int_equal(gd_writer_write(w, src, 9 * 1024 * 1024, &e), 0);
    gd_writer_abort(w);
    assert_int_equal(gd_storage_stat(x->s, "big/aborted", &st, &e), GD_E_NOTFOUND);
    assert_int_equal(fake_count(x->f, "DELETE", "uploadId="), 1);
    pthread_mutex_lock(&x->f->mu);
    assert_int_equal(x->f->n_ups, 0);
    pthread_mutex_unlock(&x->f->mu);

    /* exactly one part: single PUT */
    int puts = fake_count(x->f, "PUT", NULL);
    put_obj(x->s, "big/eight", src, 8 * 1024 * 1024);
    assert_int_equal(fake_count(x->f, "PUT", NULL), puts + 1);
    free(src);
}

static void test_unreachable_endpoint(void **state)
{
    fx *x = *state;
    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    fx y = *x;
    snprintf(y.endpoint, sizeof y.endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    gd_storage *s = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(open_s3(&y, BUCKET, "", &s, &e), 0);
    gd_reader *r = NULL;
    assert_int_equal(gd_storage_open_read(s, "x", &r, &e), GD_E_NET);
    assert_true(e.retryable);
    assert_non_null(strstr(e.msg, y.endpoint));
    assert_non_null(strstr(e.msg, "failed 4 times"));
    gd_err_clear(&e);
    assert_int_equal(gd_storage_put_all(s, "x", "1", 1, &e), GD_E_NET);
    assert_non_null(strstr(e.msg, "region frankfurt"));
    gd_storage_free(s);
}

/* A port nobody listens on: an endpoint that is down. */
static void dead_endpoint(char *out, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    snprintf(out, size, "http://127.0.0.1:%d", ntohs(a.sin_port));
}

/* Without a count, a request is retried for the time budget (retry=),
 * however many tries that takes, and the error says for how long. */
static void test_retry_by_elapsed_time(void **state)
{
    fx *x = *state;
    fx y = *x;
    dead_endpoint(y.endpoint, sizeof y.endpoint);
    setenv("GEODR_S3_TIMEOUTS", "connect=1,retry=1.5,backoff-ms=40,backoff-max-ms=80", 1);
    gd_storage *s = NULL;
    gd_err e;
    gd_err_clear(&e);
    int orc = open_s3(&y, BUCKET, "", &s, &e);
    setenv("GEODR_S3_TIMEOUTS", FAST_TUNING, 1);
    if (orc != 0)
        fail_msg("open: %s", e.msg);
    double t0 = gd_mono();
    gd_stat st;
    assert_int_equal(gd_storage_stat(s, "x", &st, &e), GD_E_NET);
    double took = gd_mono() - t0;
    assert_true(e.retryable);
    assert_true(took >= 1.45 && took < 5);
    int tries = 0;
    const char *m = strstr(e.msg, "failed ");
    assert_non_null(m);
    assert_int_equal(sscanf(m, "failed %d times", &tries), 1);
    assert_true(tries >= 12); /* many more than a count of 10 would give in 1.5 s */
    assert_non_null(strstr(e.msg, "times in 1 s") ? strstr(e.msg, "times in 1 s")
                                                  : strstr(e.msg, "times in 2 s"));
    gd_storage_free(s);
}

/* A listing that goes on and on (new tokens, slowly) ends at its deadline. */
static void test_list_deadline(void **state)
{
    fx *x = *state;
    for (int i = 0; i < 8; i++) {
        char n[32];
        snprintf(n, sizeof n, "slow/o%d", i);
        put_obj(x->s, n, "1", 1);
    }
    setenv("GEODR_S3_TIMEOUTS", FAST_TUNING ",list=0.25", 1);
    gd_storage *s = NULL;
    gd_err e;
    gd_err_clear(&e);
    int orc = open_s3(x, BUCKET, "pre/", &s, &e);
    setenv("GEODR_S3_TIMEOUTS", FAST_TUNING, 1);
    if (orc != 0)
        fail_msg("open: %s", e.msg);
    x->f->page_size = 1;
    x->f->list_delay_ms = 100;
    gd_buf b;
    gd_buf_init(&b, 0);
    double t0 = gd_mono();
    assert_int_equal(gd_storage_list(s, "slow/", list_cb, &b, &e), GD_E_IO);
    assert_true(gd_mono() - t0 < 0.7);
    assert_non_null(strstr(e.msg, "was still listing after"));
    x->f->list_delay_ms = 0;
    x->f->page_size = 1000;
    gd_buf_free(&b);
    gd_storage_free(s);
}

static void fake_add_upload(fake *f, const char *key, int64_t age_s)
{
    pthread_mutex_lock(&f->mu);
    f->ups = gd_realloc(f->ups, (f->n_ups + 1) * sizeof *f->ups);
    fupload *up = &f->ups[f->n_ups++];
    memset(up, 0, sizeof *up);
    snprintf(up->id, sizeof up->id, "old+%d/&x", ++f->next_upload);
    up->key = gd_strdup(key);
    up->initiated = time(NULL) - age_s;
    pthread_mutex_unlock(&f->mu);
}

static bool fake_has_upload(fake *f, const char *key)
{
    bool found = false;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_ups; i++)
        found = found || strcmp(f->ups[i].key, key) == 0;
    pthread_mutex_unlock(&f->mu);
    return found;
}

/* The first data object committed sweeps geodr's stale multipart uploads
 * under the prefix, and only those; it happens once per storage, and never
 * on the commit of another object (a lock entry must be quick). */
static void test_stale_uploads_swept(void **state)
{
    fx *x = *state;
    const int64_t week = 7 * 86400;
    fake_add_upload(x->f, "pre/shop/backup/20260101T000000Z/t.c1", 2 * week);
    fake_add_upload(x->f, "pre/shop/binlog/0001-0002", week + 60);
    fake_add_upload(x->f, "pre/shop/backup/20260102T000000Z/t.c1", week - 600); /* may be live */
    fake_add_upload(x->f, "pre/other-tool/big.iso", 3 * week);                  /* not geodr's */
    fake_add_upload(x->f, "elsewhere/shop/backup/x/t.c1", 3 * week); /* not under prefix */
    put_obj(x->s, "shop/locks/backup.L300.0011223344556677", "{}", 2);
    assert_int_equal(fake_count(x->f, "GET", "uploads"), 0);
    put_obj(x->s, "shop/backup/20260103T000000Z/data/0-0.tsv.zst", "{}", 2);
    assert_int_equal(fake_count(x->f, "GET", "uploads"), 1);
    assert_int_equal(fake_count(x->f, "DELETE", "uploadId="), 2);
    assert_false(fake_has_upload(x->f, "pre/shop/backup/20260101T000000Z/t.c1"));
    assert_false(fake_has_upload(x->f, "pre/shop/binlog/0001-0002"));
    assert_true(fake_has_upload(x->f, "pre/shop/backup/20260102T000000Z/t.c1"));
    assert_true(fake_has_upload(x->f, "pre/other-tool/big.iso"));
    assert_true(fake_has_upload(x->f, "elsewhere/shop/backup/x/t.c1"));
    put_obj(x->s, "shop/backup/20260103T000000Z/data/0-1.tsv.zst", "{}", 2);
    assert_int_equal(fake_count(x->f, "GET", "uploads"), 1); /* once per storage */
    assert_int_equal(x->f->bad_sigs, 0);
}

/* An upload whose abort failed (the endpoint was away) is aborted after
 * the next object this storage commits. */
static void test_failed_abort_retried(void **state)
{
    fx *x = *state;
    size_t big = 9 * 1024 * 1024;
    char *src = pattern(big, 5);
    gd_writer *w = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_write(x->s, "shop/backup/s1/t.c1", &w, &e), 0);
    assert_int_equal(gd_writer_write(w, src, big, &e), 0);
    fake_add_fault(x->f, "DELETE", F_STATUS, 503, "ServiceUnavailable", 4);
    gd_writer_abort(w);
    assert_true(fake_has_upload(x->f, "pre/shop/backup/s1/t.c1"));
    put_obj(x->s, "shop/x", "1", 1);
    assert_false(fake_has_upload(x->f, "pre/shop/backup/s1/t.c1"));
    free(src);
}

static void test_credentials(void **state)
{
    fx *x = *state;
    gd_region_cfg c = {0};
    c.name = "r1";
    c.type = GD_REGION_S3;
    c.endpoint = x->endpoint;
    c.bucket = BUCKET;
    c.credentials_file = x->credfile;
    c.profile = "nosuch";
    gd_storage *s = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "profile [nosuch] not found"));
    assert_non_null(strstr(e.msg, "default, backup"));
    assert_null(strstr(e.msg, SK));
    assert_null(strstr(e.msg, "WRONG"));

    c.credentials_file = "/nonexistent/creds";
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "credentials-file"));

    /* the default profile has a wrong key: the endpoint refuses it */
    c.credentials_file = x->credfile;
    c.profile = NULL;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), 0);
    assert_int_equal(gd_storage_put_all(s, "k", "v", 1, &e), GD_E_AUTH);
    assert_int_equal(fake_count(x->f, "PUT", "/bkt/k"), 1);
    gd_storage_free(s);
    pthread_mutex_lock(&x->f->mu);
    x->f->bad_sigs = 0; /* those were expected */
    pthread_mutex_unlock(&x->f->mu);

    /* no file: the environment */
    c.credentials_file = NULL;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    setenv("AWS_SESSION_TOKEN", "tok/en+=", 1);
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), 0);
    assert_int_equal(gd_storage_put_all(s, "envobj", "v", 1, &e), 0);
    gd_storage_free(s);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");

    /* endpoints */
    c.endpoint = "ftp://x";
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), GD_E_CONFIG);
    c.endpoint = "http://user:pw@127.0.0.1:9";
    gd_err_clear(&e);
    assert_int_equal(gd_storage_s3_open(&c, &s, &e), GD_E_CONFIG);
    assert_null(strstr(e.msg, "pw"));
}

typedef struct th_arg {
    gd_storage *s;
    int id;
    int fails;
} th_arg;

static void *th_main(void *arg)
{
    th_arg *a = arg;
    for (int i = 0; i < 10; i++) {
        char name[64];
        snprintf(name, sizeof name, "t/%d/%d", a->id, i);
        size_t len = (size_t)(1000 * (a->id + 1) + i);
        char *src = pattern(len, (unsigned)(a->id * 100 + i));
        gd_err e;
        gd_err_clear(&e);
        if (gd_storage_put_all(a->s, name, src, len, &e) != 0)
            a->fails++;
        char *got = NULL;
        size_t n = 0;
        gd_err_clear(&e);
        if (gd_storage_get_all(a->s, name, len + 10, &got, &n, &e) != 0 || n != len ||
            memcmp(got, src, len) != 0)
            a->fails++;
        free(got);
        free(src);
    }
    return NULL;
}

static void test_threads(void **state)
{
    fx *x = *state;
    pthread_t th[6];
    th_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (th_arg){.s = x->s, .id = i};
        pthread_create(&th[i], NULL, th_main, &a[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    /* connections were reused: far fewer than one per request */
    pthread_mutex_lock(&x->f->mu);
    int conns = x->f->n_conns;
    pthread_mutex_unlock(&x->f->mu);
    assert_true(conns <= 24);
}

/* Closing a reader early (mid-object) does not hang or leak. */
static void test_close_early(void **state)
{
    fx *x = *state;
    size_t big = 6 * 1024 * 1024;
    char *src = pattern(big, 9);
    put_obj(x->s, "o/early", src, big);
    gd_reader *r = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_storage_open_read(x->s, "o/early", &r, &e), 0);
    char buf[1000];
    assert_int_equal(gd_reader_read(r, buf, sizeof buf, &e), (ssize_t)sizeof buf);
    assert_memory_equal(buf, src, sizeof buf);
    gd_reader_close(r);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_get_vanilla),
        cmocka_unit_test(test_sigv4_query_order_key_case),
        cmocka_unit_test(test_sigv4_post_form),
        cmocka_unit_test(test_sigv4_query_encoding),
        cmocka_unit_test(test_sigv4_s3_examples),
        cmocka_unit_test(test_sigv4_headers),
        cmocka_unit_test(test_xml_and_dates),
        cmocka_unit_test(test_tuning),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_500_then_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_503_slowdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_body_resumes_with_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_403_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_repeated_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_listing_omits_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_by_elapsed_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_uploads_swept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_abort_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_early, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
