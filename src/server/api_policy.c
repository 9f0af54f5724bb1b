/* The cross-region policy through the API (docs/api.md "Regions and
 * policy", docs/regions.md "Policy"): described as in effect, and changed
 * by writing the instance's policy record in its home region
 * (repo/policy.h), where every command and the server read it; and the
 * release of an instance, recorded in the same record (command/release.h). */
#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "command/release.h"
#include "common/log.h"
#include "common/util.h"
#include "region/copy.h"
#include "repo/policy.h"
#include "server/api_intern.h"
#include "server/http.h"
#include "server/server_intern.h"

#define DAY_S 86400

/* The policy in effect as the API shows it. */
static json_t *policy_answer(gd_inst_rt *ir, const gd_instance_cfg *eff, const gd_policy *pol)
{
    json_t *regions = json_array();
    for (size_t i = 0; i < eff->n_copy_regions; i++)
        json_array_append_new(regions, json_string(eff->copy_regions[i]));
    char w[16];
    pthread_mutex_lock(&ir->srv->mu);
    gd_backup_window_format(&ir->window, w, sizeof w);
    pthread_mutex_unlock(&ir->srv->mu);
    return json_pack("{s:s, s:s, s:b, s:b, s:s, s:o, s:i, s:i, s:s, s:s, s:b, s:o}", "DBInstanceId",
                     eff->name, "RegionId", eff->home_region, "BackupEnabled",
                     eff->cross_region_backup, "LogBackupEnabled", eff->cross_region_log_backup,
                     "CrossBackupRegion", eff->n_copy_regions ? eff->copy_regions[0] : "",
                     "CrossBackupRegions", regions, "Retention", eff->copy_retention_days,
                     "BackupRetentionPeriod", eff->retention_days, "PreferredBackupTime", w,
                     "PolicySource", pol->recorded ? "Region" : "Config", "Released",
                     pol->released_us > 0, "ReleaseTime",
                     pol->released_us > 0 ? gd_api_time(pol->released_us / 1000000) : json_null());
}

/* The configured instance name with its policy in effect (*c held: put it
 * when eff and pol are no longer used). */
static int load_policy(gd_server *s, const char *name, gd_cfg_ref **c, gd_inst_rt **ir,
                       gd_instance_cfg *eff, gd_policy *pol, json_t **answer)
{
    if ((*ir = gd_api_instance(s, name, answer)) == NULL)
        return 404;
    *c = gd_server_cfg_get(s);
    const gd_instance_cfg *ic = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_command_instance((*c)->cfg, name, &ic, &e) != 0) {
        gd_cfg_put(*c);
        return gd_api_fail(answer, &e);
    }
    gd_command_policy((*c)->cfg, ic, NULL, eff, pol, &e);
    if (e.code != GD_OK) {
        gd_policy_free(pol);
        gd_cfg_put(*c);
        return gd_api_fail(answer, &e);
    }
    return 0;
}

int gd_api_describe_policy(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    gd_cfg_ref *c = NULL;
    gd_inst_rt *ir = NULL;
    gd_instance_cfg eff;
    gd_policy pol;
    if ((rc = load_policy(s, name, &c, &ir, &eff, &pol, answer)) != 0)
        return rc;
    *answer = policy_answer(ir, &eff, &pol);
    gd_policy_free(&pol);
    gd_cfg_put(c);
    return 200;
}

/* The new policy: eff changed by what the request gives; a 400 answer when
 * it cannot be. */
static int new_policy(gd_params *p, const gd_config *cfg, const gd_instance_cfg *eff,
                      const gd_policy *pol, gd_policy *np, json_t **answer)
{
    memset(np, 0, sizeof *np);
    np->released_us = pol->released_us; /* a released instance stays released */
    np->backup_enabled = gd_param_bool(p, "BackupEnabled", false, eff->cross_region_backup);
    np->log_backup_enabled =
        gd_param_bool(p, "LogBackupEnabled", false, eff->cross_region_log_backup);
    const char *region = gd_param_str(p, "CrossBackupRegion", false);
    np->copy_retention_days =
        (int)gd_param_int(p, "Retention", false, eff->copy_retention_days, 7, 1825);
    np->retention_days =
        (int)gd_param_int(p, "BackupRetentionPeriod", false, eff->retention_days, 1, 35);
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    if (region &&
        (strcmp(region, eff->home_region) == 0 || gd_config_region(cfg, region, NULL) == NULL))
        return gd_http_error(answer, 400, "InvalidParameter",
                             "parameter 'CrossBackupRegion' must name a configured region other "
                             "than the home region %s (got '%s'; DescribeAvailableCrossRegion "
                             "lists them)",
                             eff->home_region, region);
    if (region)
        np->copy_regions[np->n_copy_regions++] = gd_strdup(region);
    else
        for (size_t i = 0; i < eff->n_copy_regions && i < GD_POLICY_MAX_REGIONS; i++)
            np->copy_regions[np->n_copy_regions++] = gd_strdup(eff->copy_regions[i]);
    if ((np->backup_enabled || np->log_backup_enabled) && np->n_copy_regions == 0) {
        gd_policy_free(np);
        return gd_http_error(answer, 400, "InvalidParameter",
                             "copying is enabled but the instance has no copy region: give "
                             "parameter 'CrossBackupRegion'");
    }
    np->updated_us = gd_now_us();
    return 0;
}

/* Whether copies of sets go to region under eff. */
static bool copies_to(const gd_instance_cfg *eff, const char *region)
{
    for (size_t i = 0; eff->cross_region_backup && i < eff->n_copy_regions; i++)
        if (strcmp(eff->copy_regions[i], region) == 0)
            return true;
    return false;
}

/* Writes np into the home region; for each copy region np enables that
 * eff (the policy before) did not, records that copies start now
 * (gd_copy_since_claim): every set taken from now on reaches it, the one
 * the change may start included, whoever reaches the region first. */
static int write_policy(const gd_config *cfg, const gd_instance_cfg *ic, const gd_instance_cfg *eff,
                        const gd_policy *np, gd_err *err)
{
    gd_repo *home = NULL;
    int rc = gd_command_open_repo(cfg, ic, NULL, true, &home, err);
    if (rc == 0)
        rc = gd_policy_write(home, np, err);
    for (size_t i = 0; rc == 0 && np->backup_enabled && i < np->n_copy_regions; i++) {
        int64_t since = 0;
        gd_err ce;
        gd_err_clear(&ce);
        if (!copies_to(eff, np->copy_regions[i]) &&
            gd_copy_since_claim(home, np->copy_regions[i], np->updated_us, &since, &ce) != 0)
            gd_server_log(GD_LOG_WARN, "copy_start_not_recorded", ic->name, "region=%s error=%s",
                          np->copy_regions[i], ce.msg);
    }
    gd_repo_close(home);
    return rc;
}

int gd_api_modify_policy(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    gd_cfg_ref *c = NULL;
    gd_inst_rt *ir = NULL;
    gd_instance_cfg eff;
    gd_policy pol, np;
    int rc = name ? load_policy(s, name, &c, &ir, &eff, &pol, answer) : gd_params_end(p);
    if (rc != 0)
        return rc;
    if ((rc = new_policy(p, c->cfg, &eff, &pol, &np, answer)) != 0) {
        gd_policy_free(&pol);
        gd_cfg_put(c);
        return rc;
    }
    const gd_instance_cfg *ic = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_command_instance(c->cfg, name, &ic, &e) == 0)
        rc = write_policy(c->cfg, ic, &eff, &np, &e);
    bool was_on = eff.cross_region_backup;
    gd_policy_free(&pol);
    if (rc != 0) {
        gd_policy_free(&np);
        gd_cfg_put(c);
        return gd_api_fail(answer, &e);
    }
    gd_server_log(GD_LOG_INFO, "policy_changed", name,
                  "backup_enabled=%d log_backup_enabled=%d copy_region=%s retention=%d "
                  "home_retention=%d",
                  np.backup_enabled, np.log_backup_enabled,
                  np.n_copy_regions ? np.copy_regions[0] : "-", np.copy_retention_days,
                  np.retention_days);
    /* the archiver's shippers follow the new regions (a released
     * instance's archiver stays stopped) */
    gd_server_restart_archiver(ir);
    gd_server_view_invalidate(s, ir->name);
    /* a released instance: its retention pass runs now, which takes the
     * new record to its copy regions too */
    if (np.released_us > 0) {
        pthread_mutex_lock(&s->mu);
        ir->next_expire_s = 0;
        pthread_mutex_unlock(&s->mu);
    }
    /* copies just enabled and no backup in the last 24 hours: one now */
    pthread_mutex_lock(&s->mu);
    bool stale = ir->hist.last_success_s < gd_clock_now_s() - DAY_S;
    pthread_mutex_unlock(&s->mu);
    char id[40] = "";
    if (np.backup_enabled && !was_on && stale && np.released_us == 0) {
        gd_err be;
        gd_err_clear(&be);
        if (gd_server_start_backup(s, ir, false, id, &be) != 0)
            id[0] = '\0';
    }
    gd_policy_free(&np);
    gd_cfg_put(c);
    gd_policy pol2;
    if ((rc = load_policy(s, name, &c, &ir, &eff, &pol2, answer)) != 0)
        return rc;
    *answer = policy_answer(ir, &eff, &pol2);
    if (id[0])
        json_object_set_new(*answer, "BackupJobId", json_string(id));
    gd_policy_free(&pol2);
    gd_cfg_put(c);
    return 200;
}

int gd_api_release_instance(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    int rc = gd_api_begin(s, p, name, answer);
    if (rc != 0)
        return rc;
    gd_inst_rt *ir = gd_server_inst(s, name);
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg, .on_event = gd_server_log_event, .event_ctx = ir->name};
    gd_release_result res;
    gd_err e;
    gd_err_clear(&e);
    rc = gd_command_release(&ctx, name, false, &res, &e);
    gd_cfg_put(c);
    if (rc != 0)
        return gd_api_fail(answer, &e);
    /* the archiver stops (it commits what it holds), no backup starts; a
     * backup running now ends as it would have */
    gd_server_set_released(ir, res.released_us);
    *answer =
        json_pack("{s:s, s:s, s:o, s:b, s:i, s:i, s:i}", "DBInstanceId", name, "DBInstanceStatus",
                  "Released", "ReleaseTime", gd_api_time(res.released_us / 1000000), "Changed",
                  res.changed, "BackupRetentionPeriod", res.retention_days, "Retention",
                  res.copy_retention_days, "RegionsFailed", res.regions_failed);
    return 200;
}
