/* What the files of the S3 driver share (design: docs/s3.md).  Not a
 * public interface: the driver's entry point is storage/s3.h.
 *
 * The driver's rooms:
 *   storage.c  the driver's table, open and free, object names, stat, remove
 *   helper.c   settings: endpoint and addressing, credentials, tuning
 *              (GEODR_S3_TIMEOUTS)
 *   http.c     one HTTP exchange with curl, the outcome's classification,
 *              a whole request with retries (gd_s3_call)
 *   xml.c      reading S3's XML answers, writing the one XML request body
 *   list.c     ListObjectsV2 listing
 *   read.c     streaming reads through a ring filled by a worker thread
 *   write.c    single PUT and multipart uploads, stale-upload cleanup
 *   sigv4.c    AWS Signature Version 4 (sigv4.h)
 *
 * Requests.  Every request goes through gd_s3_call(): one curl easy handle
 * taken from a shared pool of idle handles (each keeps its live connection,
 * so keep-alive connections are reused across threads), a bounded number of
 * attempts with exponential backoff and jitter on transient failures
 * (common/retry.h), and one classification of the outcome into a gd_code
 * with a message that names the object, the region, the bucket and the
 * endpoint.  Secrets never reach a message or a log line; CURLOPT_VERBOSE is
 * never turned on.  Thread safety: an s3_storage is shared by every thread
 * using the storage; what changes in it after open is under mu (or atomic). */
#ifndef GD_STORAGE_S3_S3_INTERN_H
#define GD_STORAGE_S3_S3_INTERN_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/error.h"
#include "common/retry.h"
#include "common/util.h"
#include "storage/s3/s3.h"
#include "storage/storage.h"

#define S3_MAX_IDLE 64 /* idle curl handles kept per storage */

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
    gd_retry_policy retry; /* from t: every request's budget and backoff */
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

/* ---- one HTTP exchange (http.c) ---- */

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

/* ---- outcome classification (http.c) ---- */

/* What gd_s3_classify returns besides a negative gd_code. */
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

/* ---- settings (helper.c) ---- */

/* Fills s's settings from cfg (endpoint already checked non-empty, bucket
 * valid): addressing, signing region, ca-file, the tuning (defaults, then
 * GEODR_S3_TIMEOUTS) and the credentials.  GD_E_CONFIG with a message that
 * never holds a secret.  What it allocated is freed by
 * gd_s3_settings_free, also after a failure. */
int gd_s3_settings_load(const gd_region_cfg *cfg, s3_storage *s, gd_err *err);
void gd_s3_settings_free(s3_storage *s);

/* ---- HTTP (http.c) ---- */

/* curl_global_init, once per process; GD_E_IO when it failed. */
int gd_s3_http_init(const char *region, gd_err *err);

/* An idle curl handle of s (or a new one); given back with handle_put,
 * which keeps at most S3_MAX_IDLE and cleans up the rest.  Thread-safe. */
CURL *gd_s3_handle_get(s3_storage *s);
void gd_s3_handle_put(s3_storage *s, CURL *h);

void gd_s3_resp_init(s3_resp *r);
void gd_s3_resp_free(s3_resp *r);

/* One attempt of q with handle h.  The outcome is in r (cc, status,
 * headers, body); nothing is classified. */
void gd_s3_perform(s3_storage *s, CURL *h, const s3_req *q, s3_resp *r);

/* Returns S3_DONE with nothing set for success, S3_RETRY with a reason in
 * why, or a negative gd_code with err set. */
int gd_s3_classify(const gd_storage *st, const s3_storage *s, s3_op *op, const s3_resp *r,
                   char *why, size_t whylen, gd_err *err);

/* GD_E_NET (retryable) after op's attempts: "failed N times in S s (last:
 * why)". */
int gd_s3_net_error(const gd_storage *st, const s3_storage *s, const s3_op *op, const char *why,
                    gd_err *err);

/* True once the storage's owner cancelled (st->cancel). */
bool gd_s3_cancelled(const gd_storage *st);

/* A whole request with retries (s->retry; op->once: a single try).  r
 * holds the last answer; op's out fields are set.  The owner's cancel cuts
 * a transfer in progress and stops the retries with GD_E_CANCEL, except
 * for op->cleanup requests, which get one try anyway. */
int gd_s3_call(const gd_storage *st, s3_storage *s, const s3_req *q, s3_resp *r, s3_op *op,
               gd_err *err);

/* ---- XML answers (xml.c; the parsers tested directly are in s3.h) ---- */

/* The unescaped text of the first <tag> of b, made one printable line, in
 * out (size bytes); "" when there is none. */
void gd_s3_xml_text(const gd_buf *b, const char *tag, char *out, size_t size);

/* n decimal digits (1-20, no sign) to *out; false on anything else or an
 * overflow (headers and XML answers). */
bool gd_s3_parse_u64(const char *p, size_t n, uint64_t *out);

/* Appends to out the unescaped text of the first <tag> in [p, end); false
 * when there is none, it is empty or its escapes are malformed (out may
 * then hold a part of it). */
bool gd_s3_xml_value(const char *p, const char *end, const char *tag, gd_buf *out);

/* What gd_s3_xml_contents returns for a <Contents> it cannot use. */
enum { S3_XML_NO_KEY = -1, S3_XML_NO_SIZE = -2 };

/* The next <Contents> of a ListObjectsV2 page, from *p on: its <Key>
 * (unescaped, into key, reset first), <Size> and <LastModified> (0 when
 * absent or unreadable) into st.  Returns 1 with *p moved past it, 0 when
 * none is left, S3_XML_NO_KEY for one without a readable <Key>,
 * S3_XML_NO_SIZE for one without a valid <Size> (key holds its key). */
int gd_s3_xml_contents(const char **p, const char *end, gd_buf *key, gd_stat *st);

/* One <Upload> of a ListMultipartUploads answer ([p, end) is its content):
 * its <Key> and <UploadId> (unescaped, appended to key and id) and
 * <Initiated>; false when one is missing or unreadable. */
bool gd_s3_xml_upload(const char *p, const char *end, gd_buf *key, gd_buf *id,
                      int64_t *initiated_us);

/* True when [p, end) says <IsTruncated>true</IsTruncated>. */
bool gd_s3_xml_truncated(const char *p, const char *end);

/* Appends the body of a CompleteMultipartUpload request for parts 1..n
 * whose ETags are etags[0..n). */
void gd_s3_xml_complete_body(gd_buf *body, char *const *etags, int n);

/* ---- the driver's operations (storage.c, list.c, read.c, write.c) ---- */

/* GD_E_INVALID for an object name storage.h refuses. */
int gd_s3_bad_name(gd_err *err, const gd_storage *st, const char *name);
/* The key of name: <prefix><name> (caller frees). */
char *gd_s3_key(const s3_storage *s, const char *name);

int gd_s3_stat(gd_storage *st, const char *name, gd_stat *out, gd_err *err);
int gd_s3_remove(gd_storage *st, const char *name, gd_err *err);
int gd_s3_list(gd_storage *st, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err);
int gd_s3_open_read(gd_storage *st, const char *name, gd_reader **out, gd_err *err);
int gd_s3_open_write(gd_storage *st, const char *name, gd_writer **out, gd_err *err);

#endif
