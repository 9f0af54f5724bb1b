/* The S3-compatible storage driver (design: docs/s3.md).
 *
 * A region of type s3 keeps each object under the key <prefix><name> in one
 * bucket of an S3-compatible endpoint (AWS S3, MinIO, Ceph RGW, Alibaba OSS
 * in S3 mode, s3rver).  It keeps every contract of storage/storage.h:
 * objects appear only on commit (a single PUT, or a completed multipart
 * upload), reads stream, transient failures are retried with backoff before
 * GD_E_NET (retryable) is returned. */
#ifndef GD_STORAGE_S3_H
#define GD_STORAGE_S3_H

#include "common/config.h"
#include "common/error.h"
#include "storage/storage.h"

/* Opens the s3 region described by cfg (cfg->type must be GD_REGION_S3;
 * endpoint and bucket set).  Reads the credentials now, from
 * cfg->credentials_file (AWS shared-credentials format, section
 * cfg->profile, "default" when NULL) or, without a file, from the
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN environment
 * variables.  No network request is made here: an unreachable endpoint, a
 * missing bucket or refused credentials show up as errors of the first
 * operation.  The environment variable GEODR_S3_TIMEOUTS (docs/s3.md)
 * overrides the timeouts and the retry policy.  After the first object it
 * commits, the storage aborts geodr's own multipart uploads left over in
 * the bucket (older than 24 h, under the prefix; best effort, once).
 *
 * Errors: GD_E_CONFIG (bad endpoint, unreadable or incomplete credentials;
 * the message never contains a secret).  cfg is copied: it may be freed
 * after the call.  The returned storage may be used from several threads at
 * once; free it with gd_storage_free() after every reader and writer is
 * closed. */
int gd_storage_s3_open(const gd_region_cfg *cfg, gd_storage **out, gd_err *err);

#endif
