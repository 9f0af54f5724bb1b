/* The copier: brings a copy region's repository up to date with the home
 * region's (docs/regions.md).  Objects are copied as stored bytes (already
 * compressed and encrypted: the copy region holds the same instance
 * descriptor, so the same key reads it), verified against the SHA-256 the
 * manifest or segment record gives, and the manifest or record is written
 * last.  Resumable: what the copy region already holds is not copied again.
 * Only sets started after the copy region was enabled for the instance
 * (its copy.json) are copied. */
#ifndef GD_REPO_COPY_H
#define GD_REPO_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "repo/repo.h"

typedef struct gd_copy_opts {
    int jobs;           /* parallel object transfers */
    uint64_t bandwidth; /* bytes/s over all transfers, 0: no limit */
    bool sets;          /* copy backup sets */
    bool segments;      /* copy binlog segments */
    int64_t since_us;   /* when copies to the region started; 0: read its copy.json */
} gd_copy_opts;

typedef struct gd_copy_stats {
    unsigned long long sets, objects, skipped, bytes, segments;
    long long last_seq; /* the newest segment of the home region this pass handled */
} gd_copy_stats;

/* Prepares a copy region for an instance: writes the home region's
 * instance descriptor there when missing (so the same key applies), or
 * checks that the one there is the same (GD_E_AUTH if not), and copy.json
 * (the moment copies start: since_us, or now when 0) when missing; that
 * moment in *since_out (may be NULL).  No key is needed: objects are copied
 * as stored.  Takes ownership of dst (a storage), returns the repository
 * opened for raw copies (gd_repo_open_raw) in *out. */
int gd_copy_region_open(gd_repo *home, gd_storage *dst, int64_t since_us, int64_t *since_out,
                        gd_repo **out, gd_err *err);

int gd_copy_run(gd_repo *home, gd_repo *dst, const gd_copy_opts *o, gd_copy_stats *st, gd_err *err);

/* A shipper keeps one copy region's binlog segments up to date in a thread
 * of its own (the archiver runs one per copy region): a slow or unreachable
 * region delays only itself, and catches up when it is back.  The archiver
 * hands it each segment record it commits (gd_shipper_notify), which it
 * ships at once; it lists the regions only to find where it stands (at
 * start, after an error).  open (called in the shipper's thread, again
 * after a failure) opens the copy region's repository, its storage's
 * cancel flag set to cancel; open_ctx must outlive the shipper.
 * gd_shipper_stop ships what it was handed (unless the region is failing),
 * waiting at most a few seconds for it, then joins. */
typedef struct gd_shipper gd_shipper;
typedef int (*gd_region_opener)(void *ctx, const atomic_bool *cancel, gd_repo **dst, gd_err *err);
int gd_shipper_start(gd_repo *home, const char *region, gd_region_opener open, void *open_ctx,
                     uint64_t bandwidth, gd_shipper **out, gd_err *err);
/* A segment record (with its "record" name) was committed in the home
 * region.  Thread-safe; copies the record. */
void gd_shipper_notify(gd_shipper *s, json_t *record);
void gd_shipper_stop(gd_shipper *s);
/* Stops n shippers (NULL entries allowed) with one shared grace period;
 * sets each v[i] to NULL.  Returns how many regions are left behind the
 * home region's archive (the copy was failing, or did not finish in the
 * grace period); each is named in a warning with how far behind it is. */
int gd_shippers_stop(gd_shipper **v, size_t n);

#endif
