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
} gd_copy_opts;

typedef struct gd_copy_stats {
    unsigned long long sets, objects, skipped, bytes, segments;
} gd_copy_stats;

/* Prepares a copy region for an instance: writes the home region's
 * instance descriptor there (so the same key applies) and copy.json (the
 * moment copies start) when missing.  Takes ownership of dst (a storage),
 * returns the opened repository in *out. */
int gd_copy_region_open(gd_repo *home, gd_storage *dst, const char *key_file, gd_repo **out,
                        gd_err *err);

int gd_copy_run(gd_repo *home, gd_repo *dst, const gd_copy_opts *o, gd_copy_stats *st, gd_err *err);

/* A shipper keeps one copy region's binlog segments up to date in a thread
 * of its own (the archiver runs one per copy region): a slow or unreachable
 * region delays only itself, and catches up when it is back.  Takes
 * ownership of dst.  gd_shipper_stop makes a last pass, then joins. */
typedef struct gd_shipper gd_shipper;
int gd_shipper_start(gd_repo *home, gd_repo *dst, double period_s, uint64_t bandwidth,
                     gd_shipper **out, gd_err *err);
void gd_shipper_stop(gd_shipper *s);

#endif
