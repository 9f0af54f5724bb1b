/* info: the document geodr info prints (and --json shows as is): for each
 * configured instance its sets, binlog archive and recovery windows in its
 * home region, and each copy region with how far it is behind; optionally
 * the released instances (found in a region, no longer configured).
 *
 * The document's layout is the stable --json output of geodr info
 * (docs/backup-restore.md); the server serves the same document. */
#ifndef GD_COMMAND_INFO_H
#define GD_COMMAND_INFO_H

#include <jansson.h>
#include <stdbool.h>

#include "command/command.h"
#include "repo/manifest.h"
#include "repo/segment.h"
#include "common/error.h"

/* *instances: a new array, one object per configured instance (only that
 * one when only is not NULL: GD_E_NOTFOUND when it is not configured);
 * with released, *released_out: a new array [{name, region, sets}], else
 * NULL.  A copy region that cannot be read is reported in the document; a
 * home region that cannot be read fails the call, naming the region.  A
 * region that is reachable but holds no repository of the instance has
 * "repository": false and a "note" saying so (the instance object's own
 * "repository" is its home region's); one that holds a repository without
 * sets has "repository": true and no sets. */
int gd_command_info(const gd_command_ctx *ctx, const char *only, bool released, json_t **instances,
                    json_t **released_out, gd_err *err);

/* The same document seen from one region only (geodr info --region):
 * "region" is that region, "home_region" the instance's home, "sets",
 * "archive" and "repository" that region's (read with the key when one is
 * configured, so authenticated), "copies" empty.  GD_E_NOTFOUND when the
 * region or the instance (only) is not configured; a region that cannot be
 * read fails the call, naming it. */
int gd_command_info_region(const gd_command_ctx *ctx, const char *only, const char *region,
                           json_t **instances, gd_err *err);

/* The released instances alone: [{name, region, sets}] (a new array; a
 * region that cannot be listed is left out). */
json_t *gd_command_released(const gd_command_ctx *ctx);

/* A set's manifest as a region holds it (region NULL: home), read with the
 * instance's key when it has one (authenticated): the databases and tables
 * of a set (the server's DescribeCrossBackupMetaList).  Caller frees with
 * gd_manifest_free. */
int gd_command_set_manifest(const gd_command_ctx *ctx, const char *instance, const char *region,
                            const char *set, gd_manifest **out, gd_err *err);
/* The binlog segments a region holds for the instance (region NULL: home),
 * in chain order (DescribeCrossRegionLogBackupFiles). */
int gd_command_segments(const gd_command_ctx *ctx, const char *instance, const char *region,
                        gd_segments *out, gd_err *err);

#endif
