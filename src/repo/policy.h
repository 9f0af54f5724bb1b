/* An instance's cross-region policy, kept in its home region
 * (docs/regions.md "Policy"; docs/repository-format.md "policy"):
 *
 *   <instance>/policy    a checked record (MAC'd in an encrypted instance)
 *
 * The config file gives an instance's initial policy; once the policy is
 * changed (the server's ModifyInstanceCrossBackupPolicy), the record is the
 * truth: every command (backup, copy, expire, archive, info) and the server
 * read the record and use it instead of the config's values, so a change
 * takes effect at once, survives restarts, and holds for whoever reads the
 * region.  The record is copied to the copy regions with the sets, so a
 * copy region knows its retention after the home region or the config is
 * gone (released instances).
 *
 * A *released* instance (released_us != 0: geodr release, the server's
 * ReleaseInstance; docs/regions.md "Released instances") is no longer
 * backed up or archived by any process; its sets stay and expire by the
 * retention the record holds.  The release lives in the record so that it
 * survives restarts, holds for every process that reads the region, and
 * reaches the copy regions with the record. */
#ifndef GD_REPO_POLICY_H
#define GD_REPO_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "repo/repo.h"

#define GD_POLICY_MAX_REGIONS 16

typedef struct gd_policy {
    bool recorded;           /* read from the record (false: the config's values) */
    bool backup_enabled;     /* cross-region-backup: sets are copied */
    bool log_backup_enabled; /* cross-region-log-backup: segments are shipped */
    char *copy_regions[GD_POLICY_MAX_REGIONS];
    size_t n_copy_regions;
    int copy_retention_days; /* 7-1825 */
    int retention_days;      /* home, 1-35 */
    int64_t updated_us;      /* when it was written */
    int64_t released_us;     /* when the instance was released; 0: it is not */
} gd_policy;

/* Reads the record: 0 with *out filled, GD_E_NOTFOUND when the instance has
 * none (the config's values hold), GD_E_CORRUPT (or GD_E_AUTH) for a record
 * that does not decode: values out of range, a region name that is not
 * one, more than GD_POLICY_MAX_REGIONS regions. */
int gd_policy_read(gd_repo *r, gd_policy *out, gd_err *err);
/* Writes the record (its values must be in range). */
int gd_policy_write(gd_repo *r, const gd_policy *p, gd_err *err);
/* The record's name (relative to the region root); caller frees. */
char *gd_policy_name(const char *instance);
void gd_policy_free(gd_policy *p);

#endif
