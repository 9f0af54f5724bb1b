/* Internals of the S3 driver shared by s3.c, sigv4.c and tests/unit/test_s3.c.
 * Not a public interface: the driver's entry point is storage/s3.h. */
#ifndef GD_STORAGE_S3_S3_H
#define GD_STORAGE_S3_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

/* ---- AWS Signature Version 4 (sigv4.c) ----
 *
 * Our own implementation of the signing steps, used for the requests that
 * curl's CURLOPT_AWS_SIGV4 (7.88) cannot sign correctly: those with a query
 * string (curl uses the query verbatim instead of sorting and re-encoding
 * it).  Checked against AWS's published test vectors in test_s3.c.  All
 * functions are pure and thread-safe. */

#define GD_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define GD_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"

typedef struct gd_sigv4_header {
    const char *name; /* any case */
    const char *value;
} gd_sigv4_header;

typedef struct gd_sigv4_request {
    const char *method;             /* "GET", "PUT", ... */
    const char *path;               /* URI-encoded path exactly as sent: "/bucket/a%20b" */
    const char *query;              /* query as sent, without '?'; NULL or "" for none */
    const gd_sigv4_header *headers; /* every header to sign, host and x-amz-date included */
    size_t n_headers;
    const char *payload_hash; /* hex SHA-256 of the body, or GD_SIGV4_UNSIGNED */
} gd_sigv4_request;

/* Lowercase hex SHA-256 of n bytes (out: 65 bytes). */
void gd_sigv4_sha256_hex(const void *p, size_t n, char out[65]);

/* Appends s[0..n) URI-encoded the SigV4 way: A-Z a-z 0-9 - . _ ~ as they
 * are, '/' as is when keep_slash, every other byte as %XX (uppercase). */
void gd_sigv4_uri_encode(gd_buf *out, const char *s, size_t n, bool keep_slash);

/* The canonical query string of query (as sent, without '?'; NULL = none):
 * names and values are percent-decoded then re-encoded, pairs are sorted by
 * name then value, a name without '=' gets an empty value. */
void gd_sigv4_canonical_query(const char *query, gd_buf *out);

/* The canonical request; signed_headers receives "host;x-amz-date;..." */
void gd_sigv4_canonical_request(const gd_sigv4_request *r, gd_buf *out, gd_buf *signed_headers);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of creq>" */
void gd_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
                             size_t creq_len, gd_buf *out);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service),
 * "aws4_request") */
void gd_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, uint8_t out[32]);

/* The Authorization header value for r signed at amz_date
 * ("20150830T123600Z"); the x-amz-date header among r's headers must hold
 * the same time.  sig_hex (65 bytes, may be NULL) receives the signature. */
void gd_sigv4_authorization(const gd_sigv4_request *r, const char *amz_date, const char *access_key,
                            const char *secret, const char *region, const char *service,
                            gd_buf *out, char *sig_hex);

/* ---- S3 response helpers (s3.c) ---- */

/* Appends the XML text [p, p+n) with the five predefined entities and
 * numeric character references decoded.  GD_E_CORRUPT on a malformed or
 * unknown entity. */
int gd_s3_xml_unescape(const char *p, size_t n, gd_buf *out);

/* The text of the first <tag>...</tag> in [p, end): *v and *vn point into
 * the input (still escaped).  Returns a pointer just past the closing tag,
 * or NULL when there is none. */
const char *gd_s3_xml_find(const char *p, const char *end, const char *tag, const char **v,
                           size_t *vn);

/* "2009-10-12T17:50:30.000Z" (ISO 8601, UTC) to microseconds since the
 * epoch; GD_E_CORRUPT if it cannot be parsed. */
int gd_s3_parse_iso8601(const char *p, size_t n, int64_t *us);

/* ---- tuning ---- */

typedef struct gd_s3_tuning {
    long connect_ms; /* TCP+TLS connect timeout */
    long stall_s;    /* a transfer slower than 1 byte/s for this long is cut */
    int attempts;    /* at most this many tries per request (0: no limit by count) */
    long retry_ms;   /* a request is retried until this long after its first try */
    long backoff_ms; /* first pause between tries; doubles each time */
    long backoff_max_ms;
    long list_ms;        /* one listing, all its pages, fails after this long */
    long stale_upload_s; /* geodr's multipart uploads older than this are aborted */
} gd_s3_tuning;

/* Defaults: connect 10 s, stall 30 s, retries for 120 s after the first
 * try whatever their count (the last pause is shortened so that one try
 * falls at the end: an endpoint away for less than 2 minutes is ridden
 * out), backoff 200 ms doubling to at most 8 s, each pause drawn uniformly
 * from [d/2, d]; a listing fails after 1 h; multipart uploads left over
 * for 24 h are aborted. */
void gd_s3_tuning_defaults(gd_s3_tuning *t);

/* Parses GEODR_S3_TIMEOUTS syntax over t: comma-separated key=value with
 * keys connect (seconds, decimals allowed), stall (whole seconds >= 1),
 * retry (seconds), attempts (1-100), backoff-ms, backoff-max-ms, list
 * (seconds), stale-upload (whole seconds >= 1).  GD_E_CONFIG on anything
 * else. */
int gd_s3_tuning_parse(const char *spec, gd_s3_tuning *t, gd_err *err);

#endif
