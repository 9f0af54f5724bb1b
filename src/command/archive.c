#include "command/archive.h"

#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "command/release.h"
#include "common/log.h"
#include "common/util.h"
#include "region/copy.h"
#include "region/ship.h"

static const char OP[] = "archive";

/* Opens one copy region for a shipper (in its thread, again after a
 * failure: a region down when the archive starts is reached later). */
typedef struct region_opener {
    const gd_config *cfg;
    const gd_instance_cfg *ic;
    gd_repo *home;
    const char *region;
} region_opener;

static int open_copy_region(void *ctx, const gd_cancel *cancel, gd_repo **dst, gd_err *err)
{
    region_opener *ro = ctx;
    return gd_command_open_copy_region(ro->cfg, ro->ic, ro->home, ro->region, 0, NULL, cancel, dst,
                                       err);
}

typedef struct shippers {
    gd_shipper **v;
    region_opener *ops;
    size_t n;
} shippers;

static void notify_shippers(void *ctx, const gd_segment *record)
{
    shippers *sh = ctx;
    for (size_t i = 0; i < sh->n; i++)
        gd_shipper_notify(sh->v[i], record);
}

/* One shipper per copy region with log backup on; a region whose shipper
 * does not start is warned about and left out. */
static void shippers_start(const gd_command_ctx *ctx, const gd_instance_cfg *ic, gd_repo *repo,
                           shippers *sh)
{
    size_t nc = ic->cross_region_log_backup ? ic->n_copy_regions : 0;
    sh->v = gd_calloc(nc + 1, sizeof *sh->v);
    sh->ops = gd_calloc(nc + 1, sizeof *sh->ops);
    sh->n = nc;
    for (size_t i = 0; i < nc; i++) {
        gd_err e;
        gd_err_clear(&e);
        sh->ops[i] =
            (region_opener){.cfg = ctx->cfg, .ic = ic, .home = repo, .region = ic->copy_regions[i]};
        if (gd_shipper_start(repo, ic->copy_regions[i], open_copy_region, &sh->ops[i],
                             ic->copy_bandwidth, &sh->v[i], &e) != 0)
            gd_warn("binlog segments are not copied to region %s: %s", ic->copy_regions[i], e.msg);
    }
}

/* Stops the shippers; returns how many regions are left behind. */
static int shippers_stop(shippers *sh)
{
    int behind = gd_shippers_stop(sh->v, sh->n);
    free(sh->v);
    free(sh->ops);
    return behind;
}

int gd_command_archive(const gd_command_ctx *ctx, const gd_archive_request *rq,
                       gd_archive_outcome *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    gd_instance_conn src = {0};
    int rc = gd_command_instance(ctx->cfg, rq->instance, &ic, err);
    if (rc == 0)
        rc = gd_command_instance_conn(ic, &src, err);
    if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, NULL, true, &repo, err);
    if (rc == 0) /* a released instance is no longer archived (command/release.h) */
        rc = gd_command_refuse_released(ctx->cfg, ic, repo, err);
    if (rc == 0) {
        out->region = gd_strdup(repo->st->name);
        gd_command_emit(ctx, GD_EVENT_PHASE_BEGIN, OP, "archive", NULL, NULL);
        gd_archive_opts o = {
            .server_id = rq->server_id           ? rq->server_id
                         : ic->archive_server_id ? ic->archive_server_id
                                                 : gd_archive_default_server_id(ic->name),
            .interval_s = rq->interval_s > 0 ? rq->interval_s : ic->archive_interval,
            .max_segment = 64ull << 20,
            .heartbeat_s = 0.5,
            .idle_exit_s = rq->idle_exit_s,
            .compact_every_s = rq->compact_every_s,
            .stop = ctx->cancel,
            .live = rq->live,
        };
        gd_command_say(ctx, GD_EVENT_NOTE, OP,
                       "archiving the binlog of instance %s into region %s (Ctrl-C or SIGTERM "
                       "stops)",
                       ic->name, repo->st->name);
        /* the copy regions of the policy in effect when the run starts */
        gd_instance_cfg eff;
        gd_policy pol;
        gd_command_policy_in_effect(ctx, OP, ic, repo, &eff, &pol);
        shippers sh;
        shippers_start(ctx, &eff, repo, &sh);
        o.on_segment = notify_shippers;
        o.on_segment_ctx = &sh;
        rc = gd_archive_run(repo, &src.p, &o, &out->stats, err);
        out->behind = shippers_stop(&sh);
        gd_policy_free(&pol);
        gd_command_emit(ctx, GD_EVENT_PHASE_END, OP, "archive", NULL, out);
    }
    gd_command_instance_conn_free(&src);
    gd_repo_close(repo);
    return rc;
}

void gd_archive_outcome_free(gd_archive_outcome *out)
{
    free(out->region);
    out->region = NULL;
}
