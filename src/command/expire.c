#include "command/expire.h"

#include <stdlib.h>
#include <string.h>

#include "command/info.h"
#include "command/open.h"
#include "command/release.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "region/retention.h"

int gd_command_expire_instance(const gd_command_ctx *ctx, const gd_instance_cfg *ic, bool dry_run,
                               bool after_backup, json_t *report)
{
    gd_instance_cfg eff;
    gd_policy pol;
    gd_command_policy_in_effect(ctx, "expire", ic, NULL, &eff, &pol);
    int failed = gd_command_expire_instance_as(ctx, ic, &eff, &pol, dry_run, after_backup, report);
    gd_policy_free(&pol);
    return failed;
}

int gd_command_expire_instance_as(const gd_command_ctx *ctx, const gd_instance_cfg *ic,
                                  const gd_instance_cfg *eff, const gd_policy *pol, bool dry_run,
                                  bool after_backup, json_t *report)
{
    int failed = 0;
    int64_t now = gd_clock_now_s();
    /* A released instance's record goes to each region that holds it before
     * retention runs there (command/release.h): each region then knows its
     * retention, also once the config no longer names the instance. */
    if (pol->released_us > 0 && !dry_run) {
        gd_repo *home = NULL;
        if (gd_command_open_repo(ctx->cfg, ic, NULL, false, &home, NULL) == 0)
            gd_command_policy_push(ctx, "expire", ic, eff, home);
        gd_repo_close(home);
    }
    /* every region that may hold copies: one dropped from the policy keeps
     * its copies until they expire */
    size_t ncopies = 0;
    const char **copies = gd_command_copy_regions_all(ic, eff, &ncopies);
    for (size_t i = 0; i <= ncopies; i++) {
        const char *region = i == 0 ? ic->home_region : copies[i - 1];
        int days = i == 0 ? eff->retention_days : eff->copy_retention_days;
        gd_err err;
        gd_err_clear(&err);
        gd_repo *repo = NULL;
        json_t *rep = NULL;
        int rc = gd_command_open_repo(ctx->cfg, ic, region, false, &repo, &err);
        if (rc == GD_E_NOTFOUND) {
            gd_repo_close(repo);
            continue; /* nothing of this instance there */
        }
        if (rc == 0)
            rc = gd_region_expire(repo, days, now, dry_run, &rep, &err);
        gd_repo_close(repo);
        if (rc != 0) {
            if (after_backup) /* the backup is committed: not its failure */
                gd_warn("retention in region %s did not run (the backup is committed; it runs "
                        "again after the next backup or with 'geodr expire'): %s",
                        region, err.msg);
            else
                gd_error("expire in region %s: %s", region, err.msg);
            rep = json_pack("{s:s, s:s}", "region", region, "error", err.msg);
            failed++;
        }
        json_object_set_new(rep, "instance", json_string(ic->name));
        if (pol->released_us > 0)
            json_object_set_new(rep, "released", json_true());
        json_array_append_new(report, rep);
    }
    free(copies);
    return failed;
}

int gd_command_expire(const gd_command_ctx *ctx, const char *only, bool dry_run, json_t **report,
                      int *failed, gd_err *err)
{
    *report = NULL;
    *failed = 0;
    if (only && gd_config_instance(ctx->cfg, only, err) == NULL)
        return err->code ? err->code : GD_E_NOTFOUND;
    *report = json_array();
    for (size_t i = 0; i < ctx->cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &ctx->cfg->instances[i];
        if (only && strcmp(ic->name, only) != 0)
            continue;
        *failed += gd_command_expire_instance(ctx, ic, dry_run, false, *report);
    }
    if (only == NULL)
        *failed += gd_command_expire_released(ctx, dry_run, *report);
    return 0;
}

/* Expires one released instance in one region by the policy record there;
 * its report (or NULL: nothing to say). */
static json_t *expire_released(const gd_config *cfg, const char *instance, const char *region,
                               bool dry_run, int *failed)
{
    const gd_region_cfg *rc_ = gd_config_region(cfg, region, NULL);
    gd_storage *st = NULL;
    gd_repo *r = NULL;
    gd_policy pol = {0};
    json_t *rep = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = rc_ ? gd_command_open_storage(rc_, &st, &e) : GD_E_NOTFOUND;
    if (rc == 0)
        rc = gd_repo_open_raw(st, instance, false, &r, &e); /* frees st on failure */
    if (rc == 0 && r->encrypted) {
        rep = json_pack("{s:s, s:s}", "region", region, "note",
                        "encrypted released instance: kept (without its key its retention "
                        "cannot be authenticated)");
    } else if (rc == 0 && (rc = gd_policy_read(r, &pol, &e)) == GD_E_NOTFOUND) {
        rc = 0;
        rep = json_pack("{s:s, s:s}", "region", region, "note",
                        "no recorded policy: kept (its retention was never recorded)");
    } else if (rc == 0) {
        bool copy = false;
        for (size_t i = 0; i < pol.n_copy_regions; i++)
            copy |= strcmp(pol.copy_regions[i], region) == 0;
        rc = gd_region_expire(r, copy ? pol.copy_retention_days : pol.retention_days,
                              gd_clock_now_s(), dry_run, &rep, &e);
    }
    if (rc != 0) {
        gd_error("expire of released instance %s in region %s: %s", instance, region, e.msg);
        json_decref(rep);
        rep = json_pack("{s:s, s:s}", "region", region, "error", e.msg);
        (*failed)++;
    }
    gd_policy_free(&pol);
    gd_repo_close(r);
    return rep;
}

int gd_command_expire_released(const gd_command_ctx *ctx, bool dry_run, json_t *report)
{
    int failed = 0;
    json_t *released = gd_command_released(ctx), *x;
    size_t i;
    json_array_foreach(released, i, x)
    {
        const char *name = gd_json_str(x, "name", ""), *region = gd_json_str(x, "region", "");
        json_t *rep = expire_released(ctx->cfg, name, region, dry_run, &failed);
        json_object_set_new(rep, "instance", json_string(name));
        json_object_set_new(rep, "released", json_true());
        json_array_append_new(report, rep);
    }
    json_decref(released);
    return failed;
}

int gd_command_expire_set(const gd_command_ctx *ctx, const char *instance, const char *region,
                          const char *set, const char **region_out, gd_err *err)
{
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    if (rc != 0)
        return rc;
    const char *rname = region ? region : ic->home_region;
    gd_instance_cfg eff;
    gd_policy pol;
    gd_command_policy_in_effect(ctx, "expire", ic, NULL, &eff, &pol);
    int days = strcmp(rname, ic->home_region) == 0 ? eff.retention_days : eff.copy_retention_days;
    gd_policy_free(&pol);
    gd_repo *repo = NULL;
    rc = gd_command_open_repo(ctx->cfg, ic, rname, false, &repo, err);
    if (rc == 0)
        rc = gd_region_expire_set(repo, set, days, gd_clock_now_s(), err);
    gd_repo_close(repo);
    *region_out = rname;
    return rc;
}
