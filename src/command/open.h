/* From the config to open storage, repositories and connections: the one
 * factory every operation uses (src/command/command.h).
 *
 * Repositories returned here are the caller's to gd_repo_close (that frees
 * their storage too); a storage from gd_command_open_storage is the caller's
 * to gd_storage_free. */
#ifndef GD_COMMAND_OPEN_H
#define GD_COMMAND_OPEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "command/command.h"
#include "common/config.h"
#include "common/error.h"
#include "mysql/conn.h"
#include "repo/policy.h"
#include "repo/repo.h"
#include "storage/storage.h"

/* Opens a region's storage (posix or s3). */
int gd_command_open_storage(const gd_region_cfg *rc, gd_storage **out, gd_err *err);
/* Opens the repository of an instance in a region (NULL: its home region). */
int gd_command_open_repo(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                         bool create, gd_repo **out, gd_err *err);
/* A copy region of the instance, prepared for copies (gd_copy_region_open;
 * since_us, since_out as there), its storage's cancel flag set to cancel
 * (may be NULL). */
int gd_command_open_copy_region(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                                const char *region, int64_t since_us, int64_t *since_out,
                                const gd_cancel *cancel, gd_repo **out, gd_err *err);
/* The same for raw copies (gd_repo_open_raw): no key needed or derived. */
int gd_command_open_repo_raw(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                             gd_repo **out, gd_err *err);
/* Finds an instance of the config by name. */
int gd_command_instance(const gd_config *cfg, const char *name, const gd_instance_cfg **ic,
                        gd_err *err);
/* An instance's settings with its cross-region policy applied (repo/policy.h,
 * docs/regions.md "Policy"): *eff is *ic, with the values of the policy
 * record of its home region when there is one (pol->recorded; eff's
 * copy_regions then point into pol: keep pol as long as eff is used, and
 * gd_policy_free it).  home (may be NULL: opened here) is the instance's
 * home repository.  A region the record names that the config does not
 * have is left out with a warning (it cannot be reached); a record that
 * cannot be read or does not authenticate is not used: the config's values
 * hold and *err says why (the return is still 0, so the caller can warn and
 * go on). */
int gd_command_policy(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                      gd_instance_cfg *eff, gd_policy *pol, gd_err *err);
/* gd_command_policy for an operation that goes on either way: a record
 * that cannot be used is said as a WARNING event of op (the config's
 * values hold). */
void gd_command_policy_in_effect(const gd_command_ctx *ctx, const char *op,
                                 const gd_instance_cfg *ic, gd_repo *home, gd_instance_cfg *eff,
                                 gd_policy *pol);
/* Regions where copies of the instance may lie: its copy regions now (eff)
 * and those of the config (copies made before the policy changed stay until
 * they expire), without repeats; borrowed strings, caller frees the array. */
const char **gd_command_copy_regions_all(const gd_instance_cfg *ic, const gd_instance_cfg *eff,
                                         size_t *n);
/* Connection parameters of a configured instance with the strings they
 * point to (p's descriptions and password point into the struct: it must not
 * be copied or moved once filled). */
typedef struct gd_instance_conn {
    gd_conn_params p;
    char *password;
    char what[300], source[600];
} gd_instance_conn;
/* Fills *c (per call: any number may be open at once); free with
 * gd_command_instance_conn_free, also after a failure. */
int gd_command_instance_conn(const gd_instance_cfg *ic, gd_instance_conn *c, gd_err *err);
/* Wipes the password and frees it (a zeroed c: nothing). */
void gd_command_instance_conn_free(gd_instance_conn *c);
/* Wipes and frees a password (NULL: nothing). */
void gd_command_free_password(char *pw);

#endif
