/* Helpers of the S3 driver that tests/unit/test_s3.c checks directly: the
 * XML and date parsing of answers (xml.c), the tuning of timeouts and
 * retries (helper.c), and, through sigv4.h, the request signing.  Not a
 * public interface: the driver's entry point is storage/s3.h; what the
 * driver's files share among themselves is in s3.intern.h. */
#ifndef GD_STORAGE_S3_S3_H
#define GD_STORAGE_S3_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"
#include "storage/s3/sigv4.h"

/* ---- S3 response helpers (xml.c) ---- */

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

/* ---- tuning (helper.c) ---- */

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
