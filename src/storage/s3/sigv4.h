/* AWS Signature Version 4, the parts geodr computes itself (sigv4.c).
 *
 * Our own implementation of the signing steps, used for the requests that
 * curl's CURLOPT_AWS_SIGV4 (7.88) cannot sign correctly: those with a query
 * string (curl uses the query verbatim instead of sorting and re-encoding
 * it).  Checked against AWS's published test vectors in test_s3.c.  All
 * functions are pure and thread-safe.  Design: docs/s3.md ("Signing"). */
#ifndef GD_STORAGE_S3_SIGV4_H
#define GD_STORAGE_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

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

#endif
