/* Internal to src/region: the raw object transfer the copier runs, shared
 * with the shipper (ship.c), which ships one segment at a time through it.
 * Not for use outside src/region. */
#ifndef GD_REGION_COPY_INTERN_H
#define GD_REGION_COPY_INTERN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "repo/repo.h"
#include "repo/segment.h"

/* Objects to move from src to dst as stored bytes, and what moved. */
typedef struct gd_xfer {
    gd_repo *src, *dst;
    char **names;
    char **shas;
    uint64_t *sizes;
    size_t n;
    uint64_t bandwidth;
    double t0;
    /* What dst is known to hold (name -> size), from a listing; NULL: ask
     * dst for each object (a HEAD). */
    json_t *present;
    atomic_ullong bytes;
    atomic_ullong copied, skipped;
} gd_xfer;

/* Copies one segment: its object, then its record, which commits it in dst.
 * c->names must be empty (it is left empty). */
int gd_copy_segment(gd_repo *home, gd_repo *dst, const gd_segment *rec, gd_xfer *c, gd_err *err);

#endif
