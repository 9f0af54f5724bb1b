/* expire: retention in every region of an instance (docs/backup-restore.md);
 * geodr backup runs it at its end. */
#ifndef GD_COMMAND_EXPIRE_H
#define GD_COMMAND_EXPIRE_H

#include <jansson.h>
#include <stdbool.h>

#include "command/command.h"
#include "repo/policy.h"
#include "common/error.h"

/* Retention in the home region and every copy region of one instance;
 * appends one report per region that holds the instance to the array
 * report: the repository's expire report (region/retention.h) with
 * "instance", or {"region", "error", "instance"} for a region that failed
 * (also logged: as an error, or with after_backup as a warning that says
 * the backup is committed).  Returns the number of regions that failed. */
int gd_command_expire_instance(const gd_command_ctx *ctx, const gd_instance_cfg *ic, bool dry_run,
                               bool after_backup, json_t *report);
/* The same with the policy in effect the caller has just read
 * (gd_command_policy_in_effect: eff and pol), so it is not read again. */
int gd_command_expire_instance_as(const gd_command_ctx *ctx, const gd_instance_cfg *ic,
                                  const gd_instance_cfg *eff, const gd_policy *pol, bool dry_run,
                                  bool after_backup, json_t *report);
/* The same for every configured instance (and then the released ones), or
 * only the one named (which must exist).  Fills *report (a new array) and
 * *failed. */
int gd_command_expire(const gd_command_ctx *ctx, const char *only, bool dry_run, json_t **report,
                      int *failed, gd_err *err);
/* Retention for the released instances (found in a configured region, no
 * longer configured; docs/regions.md "Released instances"): each region
 * expires by the policy record it holds (repo/policy.h: the copy retention
 * in a region the record names as a copy region, else the home retention),
 * read with its checksum.  An encrypted released instance is kept (without
 * its key the record cannot be authenticated, and an unauthenticated record
 * never removes anything), and so is one without a record (its retention
 * was never recorded): each with a note in the report.  Appends to report
 * as gd_command_expire_instance does, with "released": true; returns the
 * number of regions that failed. */
int gd_command_expire_released(const gd_command_ctx *ctx, bool dry_run, json_t *report);
/* Removes one set if and only if retention allows it now, from region
 * (NULL: home); the region's name in *region_out (borrowed from the config). */
int gd_command_expire_set(const gd_command_ctx *ctx, const char *instance, const char *region,
                          const char *set, const char **region_out, gd_err *err);

#endif
