/* Shipping (docs/regions.md): a copy region's binlog segments kept up to
 * date as the archiver commits them, one thread per region.  Built on the
 * copier (region/copy.h), which it runs to find where it stands. */
#ifndef GD_REGION_SHIP_H
#define GD_REGION_SHIP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "repo/repo.h"
#include "repo/segment.h"

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
typedef int (*gd_region_opener)(void *ctx, const gd_cancel *cancel, gd_repo **dst, gd_err *err);
int gd_shipper_start(gd_repo *home, const char *region, gd_region_opener open, void *open_ctx,
                     uint64_t bandwidth, gd_shipper **out, gd_err *err);
/* A segment record was committed in the home region.  Thread-safe; copies
 * the record. */
void gd_shipper_notify(gd_shipper *s, const gd_segment *record);
void gd_shipper_stop(gd_shipper *s);
/* Stops n shippers (NULL entries allowed) with one shared grace period;
 * sets each v[i] to NULL.  Returns how many regions are left behind the
 * home region's archive (the copy was failing, or did not finish in the
 * grace period); each is named in a warning with how far behind it is. */
int gd_shippers_stop(gd_shipper **v, size_t n);

#endif
