#include "command/copy.h"

#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "common/log.h"
#include "common/util.h"

/* One copy region brought up to date; its outcome appended to report. */
static void copy_region(const gd_command_ctx *ctx, const gd_instance_cfg *ic, gd_repo *home,
                        const char *region, int jobs, int64_t since_us, gd_copy_report *report)
{
    gd_err err;
    gd_err_clear(&err);
    gd_repo *dst = NULL;
    gd_region_copy rc = {.region = gd_strdup(region)};
    int64_t since = 0;
    int r =
        gd_command_open_copy_region(ctx->cfg, ic, home, region, since_us, &since, NULL, &dst, &err);
    if (r == 0) {
        gd_copy_opts o = {.jobs = jobs,
                          .bandwidth = ic->copy_bandwidth,
                          .sets = ic->cross_region_backup,
                          .segments = ic->cross_region_log_backup,
                          .since_us = since};
        r = gd_copy_run(home, dst, &o, &rc.stats, &err);
    }
    gd_repo_close(dst);
    rc.ok = r == 0;
    if (r != 0) {
        rc.error = gd_strdup(err.msg);
        gd_error("%s", err.msg);
        report->failed++;
    }
    report->v = gd_realloc(report->v, (report->n + 1) * sizeof *report->v);
    report->v[report->n++] = rc;
}

int gd_command_copy_regions(const gd_command_ctx *ctx, const gd_instance_cfg *ic, gd_repo *home,
                            int jobs, int64_t since_us, gd_copy_report *report)
{
    int before = report->failed;
    if (!ic->cross_region_backup && !ic->cross_region_log_backup)
        return 0;
    for (size_t i = 0; i < ic->n_copy_regions; i++)
        copy_region(ctx, ic, home, ic->copy_regions[i], jobs, since_us, report);
    return report->failed - before;
}

int gd_command_copy(const gd_command_ctx *ctx, const char *instance, int jobs,
                    gd_copy_report *report, gd_err *err)
{
    memset(report, 0, sizeof *report);
    gd_repo *home = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    /* Where and what to copy: the policy (read with the key when there is
     * one: an unauthenticated record is never followed), else the config. */
    gd_instance_cfg eff;
    gd_policy pol = {0};
    if (rc == 0)
        gd_command_policy_in_effect(ctx, "copy", ic, NULL, &eff, &pol);
    if (rc == 0 && eff.n_copy_regions == 0)
        rc = gd_err_set(err, GD_E_CONFIG,
                        "instance %s has no copy regions: set copy-regions and "
                        "cross-region-backup / cross-region-log-backup in its config section",
                        ic->name);
    /* Objects move as stored: no key is needed to copy. */
    if (rc == 0)
        rc = gd_command_open_repo_raw(ctx->cfg, ic, NULL, &home, err);
    if (rc == 0)
        gd_command_copy_regions(ctx, &eff, home, jobs ? jobs : ic->jobs, 0, report);
    gd_policy_free(&pol);
    gd_repo_close(home);
    return rc;
}

void gd_copy_report_free(gd_copy_report *report)
{
    for (size_t i = 0; i < report->n; i++) {
        free(report->v[i].region);
        free(report->v[i].error);
    }
    free(report->v);
    memset(report, 0, sizeof *report);
}
