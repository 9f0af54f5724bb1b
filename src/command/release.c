#include "command/release.h"

#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "common/util.h"
#include "region/copy.h"
#include "repo/policy.h"

/* The policy to record for ic when its home region holds none: the
 * config's values. */
static void policy_from_config(const gd_instance_cfg *ic, gd_policy *p)
{
    memset(p, 0, sizeof *p);
    p->backup_enabled = ic->cross_region_backup;
    p->log_backup_enabled = ic->cross_region_log_backup;
    for (size_t i = 0; i < ic->n_copy_regions && i < GD_POLICY_MAX_REGIONS; i++)
        p->copy_regions[p->n_copy_regions++] = gd_strdup(ic->copy_regions[i]);
    p->copy_retention_days = ic->copy_retention_days;
    p->retention_days = ic->retention_days;
}

int gd_command_policy_push(const gd_command_ctx *ctx, const char *op, const gd_instance_cfg *ic,
                           const gd_instance_cfg *eff, gd_repo *home)
{
    int failed = 0;
    size_t n = 0;
    const char **regions = gd_command_copy_regions_all(ic, eff, &n);
    for (size_t i = 0; i < n; i++) {
        gd_repo *dst = NULL;
        gd_err e;
        gd_err_clear(&e);
        int rc = gd_command_open_repo_raw(ctx->cfg, ic, regions[i], &dst, &e);
        if (rc == 0)
            rc = gd_copy_policy(home, dst, &e);
        gd_repo_close(dst);
        if (rc != 0 && rc != GD_E_NOTFOUND) { /* not found: nothing of it there */
            gd_command_say(ctx, GD_EVENT_WARNING, op,
                           "the policy record of instance %s was not written to region %s now "
                           "(%s): the next retention pass (hourly in geodr server, or geodr "
                           "expire) brings it there",
                           ic->name, regions[i], e.msg);
            failed++;
        }
    }
    free(regions);
    return failed;
}

int gd_command_release(const gd_command_ctx *ctx, const char *instance, bool undo,
                       gd_release_result *res, gd_err *err)
{
    memset(res, 0, sizeof *res);
    const gd_instance_cfg *ic = NULL;
    gd_repo *home = NULL;
    gd_policy np = {0};
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, NULL, true, &home, err);
    gd_err e;
    gd_err_clear(&e);
    int r = rc == 0 ? gd_policy_read(home, &np, &e) : 0;
    if (rc == 0 && r == GD_E_NOTFOUND) {
        policy_from_config(ic, &np);
    } else if (rc == 0 && r != 0) {
        *err = e;
        gd_err_prefix(err,
                      "instance %s is not %sreleased: its policy record cannot be used (set the "
                      "policy again with ModifyInstanceCrossBackupPolicy, or remove the record "
                      "to fall back to the config, then try again)",
                      ic->name, undo ? "un" : "");
        rc = r;
    }
    if (rc != 0)
        goto out;
    bool was = np.released_us > 0;
    if (undo ? was : !was) {
        np.updated_us = gd_now_us();
        np.released_us = undo ? 0 : np.updated_us;
        if ((rc = gd_policy_write(home, &np, err)) != 0)
            goto out;
        res->changed = true;
    }
    res->released_us = np.released_us;
    res->retention_days = np.retention_days;
    res->copy_retention_days = np.copy_retention_days;
    /* every region keeps what the record says (also when nothing changed:
     * a push that failed before is done now) */
    gd_instance_cfg eff;
    gd_policy pol;
    gd_command_policy(ctx->cfg, ic, home, &eff, &pol, NULL);
    res->regions_failed =
        gd_command_policy_push(ctx, undo ? "release --undo" : "release", ic, &eff, home);
    gd_policy_free(&pol);
out:
    gd_policy_free(&np);
    gd_repo_close(home);
    return rc;
}

int gd_command_released_at(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                           int64_t *at, gd_err *err)
{
    gd_repo *own = NULL;
    gd_policy pol = {0};
    *at = 0;
    int rc = home ? 0 : gd_command_open_repo(cfg, ic, NULL, false, &own, err);
    if (rc == 0)
        rc = gd_policy_read(home ? home : own, &pol, err);
    if (rc == 0)
        *at = pol.released_us;
    gd_policy_free(&pol);
    gd_repo_close(own);
    return rc == GD_E_NOTFOUND ? 0 : rc; /* no repository or no record: not released */
}

int gd_command_refuse_released(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                               gd_err *err)
{
    int64_t at = 0;
    if (gd_command_released_at(cfg, ic, home, &at, NULL) != 0 || at == 0)
        return 0; /* unreadable: the config holds, as for every policy value */
    char when[32];
    gd_fmt_time(at, false, when, sizeof when);
    return gd_err_set(err, GD_E_STATE,
                      "instance %s was released at %s UTC (geodr release, or the server's "
                      "ReleaseInstance): it is no longer backed up or archived; its backups stay "
                      "restorable until they expire by their retention. To protect it again: "
                      "geodr release %s --undo",
                      ic->name, when, ic->name);
}
