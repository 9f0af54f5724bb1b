#include "command/compact.h"

#include <string.h>

#include "command/open.h"

int gd_command_compact(const gd_command_ctx *ctx, const char *instance, const gd_compact_opts *co,
                       gd_compact_stats *st, gd_err *err)
{
    memset(st, 0, sizeof *st);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, NULL, false, &repo, err);
    if (rc == 0)
        rc = gd_archive_compact(repo, co, st, err);
    gd_repo_close(repo);
    return rc;
}
