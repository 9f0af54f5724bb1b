/* The copier: brings a copy region's repository up to date with the home
 * region's (docs/regions.md).  Objects are copied as stored bytes (already
 * compressed and encrypted: the copy region holds the same instance
 * descriptor, so the same key reads it), verified against the SHA-256 the
 * manifest or segment record gives, and the manifest or record is written
 * last.  Resumable: what the copy region already holds is not copied again.
 * Only sets started after copying to the copy region was enabled for the
 * instance are copied: that moment is recorded in the home region
 * (<instance>/copy-since/<region>.json, gd_copy_since_claim) by the first
 * process that acts on copies being enabled, and in the copy region's
 * copy.json; the earlier of the two holds (docs/regions.md "What is
 * copied"). */
#ifndef GD_REGION_COPY_H
#define GD_REGION_COPY_H

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
    /* > 0: at most this many segments below the newest one the copy region
     * holds (the home's merges, holes) in one pass; what is newer is always
     * copied, first.  0: no limit. */
    int max_old;
} gd_copy_opts;

typedef struct gd_copy_stats {
    unsigned long long sets, objects, skipped, bytes, segments;
    long long last_seq; /* the newest segment of the home region this pass handled */
    bool more;          /* max_old stopped the pass: more segments to copy */
} gd_copy_stats;

/* Records in the home region that copying the instance to region was
 * enabled at the latest at at_us: the recorded moment becomes the earlier
 * of the one there and at_us (none there: at_us), and comes back in
 * *since.  Written before the copy region is contacted, so a region that is
 * down when a backup ends still gets that backup's set when it is reached.
 * Needs no key (a plain JSON file: like copy.json, a wrong one can only
 * make more or fewer sets be copied, never alter one). */
int gd_copy_since_claim(gd_repo *home, const char *region, int64_t at_us, int64_t *since,
                        gd_err *err);

/* Prepares a copy region for an instance: writes the home region's
 * instance descriptor there when missing (so the same key applies), or
 * checks that the one there is the same (GD_E_AUTH if not), and copy.json
 * (the moment copies start: since_us, or now when 0) when missing; the
 * moment copies start in *since_out (may be NULL): the earlier of since_us
 * and the one copy.json holds.  No key is needed: objects are copied
 * as stored.  Takes ownership of dst (a storage), returns the repository
 * opened for raw copies (gd_repo_open_raw) in *out. */
int gd_copy_region_open(gd_repo *home, gd_storage *dst, int64_t since_us, int64_t *since_out,
                        gd_repo **out, gd_err *err);

/* Copies the instance's policy record (repo/policy.h) from home to dst as
 * stored, when home has one and dst's differs (no key needed). */
int gd_copy_policy(gd_repo *home, gd_repo *dst, gd_err *err);

int gd_copy_run(gd_repo *home, gd_repo *dst, const gd_copy_opts *o, gd_copy_stats *st, gd_err *err);

#endif
