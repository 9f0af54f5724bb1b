#include "command/cat.h"

#include <stdlib.h>
#include <sys/types.h>

#include "command/open.h"
#include "common/util.h"

int gd_command_cat(const gd_command_ctx *ctx, const char *instance, const char *region,
                   const char *object, gd_cat_writer write, void *wctx, gd_err *err)
{
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, region, false, &repo, err);
    gd_obj_reader *rd = NULL;
    char *name = NULL;
    if (rc == 0) {
        name = gd_asprintf("%s/%s", ic->name, object);
        rc = gd_obj_open(repo, name, NULL, &rd, err);
    }
    enum { CAT_BUF = 1 << 17 };
    char *buf = rc == 0 ? gd_malloc(CAT_BUF) : NULL; /* per call: calls may run at once */
    while (rc == 0) {
        ssize_t n = gd_obj_read(rd, buf, CAT_BUF, err);
        if (n < 0)
            rc = (int)n;
        if (n <= 0)
            break;
        rc = write(wctx, buf, (size_t)n, err);
    }
    free(buf);
    gd_obj_close(rd);
    free(name);
    gd_repo_close(repo);
    return rc;
}
