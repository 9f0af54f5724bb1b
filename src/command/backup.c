#include "command/backup.h"

#include <stdlib.h>
#include <string.h>

#include "command/expire.h"
#include "command/open.h"
#include "command/release.h"
#include "common/defaults.h"
#include "common/util.h"

static const char OP[] = "backup";

/* An on-demand backup is refused when the home region holds the most
 * on-demand sets an instance keeps (GD_MAX_ON_DEMAND; tests lower it with
 * GEODR_TEST_PAUSE=on-demand-max=N). */
static int on_demand_room(gd_repo *repo, gd_err *err)
{
    gd_set *sets = NULL;
    size_t n = 0, count = 0;
    int rc = gd_repo_load_sets(repo, &sets, &n, NULL, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        count += sets[i].mf->on_demand;
    gd_repo_sets_free(sets, n);
    long max = gd_test_value("on-demand-max");
    if (max <= 0)
        max = GD_MAX_ON_DEMAND;
    if (rc == 0 && count >= (size_t)max)
        rc = gd_err_set(err, GD_E_STATE,
                        "instance %s already has %zu on-demand backup sets in region %s, the most "
                        "it keeps (%ld): the next one can be taken once retention removes one "
                        "(geodr expire %s --dry-run shows when)",
                        repo->instance, count, repo->st->name, max, repo->instance);
    return rc;
}

/* The set, committed in the home region. */
static int phase_backup(const gd_command_ctx *ctx, const gd_instance_cfg *ic,
                        const gd_backup_request *rq, gd_repo *repo, const gd_conn_params *src,
                        gd_backup_outcome *out, gd_err *err)
{
    gd_command_emit(ctx, GD_EVENT_PHASE_BEGIN, OP, "backup", NULL, NULL);
    gd_backup_opts o = {.jobs = rq->jobs ? rq->jobs : ic->jobs,
                        .chunk_rows = ic->chunk_rows,
                        .with_users = rq->with_users,
                        .no_lock_nontransactional = rq->no_lock_nontransactional,
                        .on_demand = rq->on_demand,
                        .progress = ctx->progress};
    int rc = gd_backup_run(repo, src, &o, &out->set, err);
    if (rc == 0) {
        out->region = gd_strdup(repo->st->name);
        gd_command_emit(ctx, GD_EVENT_PHASE_END, OP, "backup", NULL, out);
    }
    return rc;
}

int gd_command_backup(const gd_command_ctx *ctx, const gd_backup_request *rq,
                      gd_backup_outcome *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, rq->instance, &ic, err);
    gd_instance_conn src = {0};
    if (rc == 0)
        rc = gd_command_instance_conn(ic, &src, err);
    if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, NULL, true, &repo, err);
    if (rc == 0) /* a released instance is no longer backed up (command/release.h) */
        rc = gd_command_refuse_released(ctx->cfg, ic, repo, err);
    /* A copy region enabled before this backup started copies it, even when
     * it is first reached after the backup (nothing waits on a region that
     * is down before the backup starts). */
    int64_t started_us = gd_now_us();
    if (rc == 0 && rq->on_demand)
        rc = on_demand_room(repo, err);
    if (rc == 0)
        rc = phase_backup(ctx, ic, rq, repo, &src.p, out, err);
    gd_command_instance_conn_free(&src);
    if (rc != 0) {
        gd_repo_close(repo);
        return rc;
    }
    /* The copies follow the instance's policy (the region's record, else
     * the config). */
    gd_instance_cfg eff;
    gd_policy pol;
    gd_command_policy_in_effect(ctx, OP, ic, repo, &eff, &pol);
    gd_command_emit(ctx, GD_EVENT_PHASE_BEGIN, OP, "copy", NULL, NULL);
    if (eff.cross_region_backup)
        gd_command_copy_regions(ctx, &eff, repo, rq->jobs ? rq->jobs : ic->jobs, started_us,
                                &out->copies);
    gd_command_emit(ctx, GD_EVENT_PHASE_END, OP, "copy", NULL, out);
    /* Retention after each backup, in every region of the instance, under
     * the same policy. */
    gd_command_emit(ctx, GD_EVENT_PHASE_BEGIN, OP, "retention", NULL, NULL);
    json_t *exp = json_array();
    gd_command_expire_instance_as(ctx, ic, &eff, &pol, false, true, exp);
    json_decref(exp);
    gd_policy_free(&pol);
    gd_command_emit(ctx, GD_EVENT_PHASE_END, OP, "retention", NULL, out);
    gd_repo_close(repo);
    return 0;
}

void gd_backup_outcome_free(gd_backup_outcome *out)
{
    free(out->region);
    gd_copy_report_free(&out->copies);
}
