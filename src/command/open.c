#include "command/open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/copy.h"
#include "region/ship.h"
#include "storage/s3.h"

int gd_command_open_storage(const gd_region_cfg *rc, gd_storage **out, gd_err *err)
{
    int r = rc->type == GD_REGION_POSIX ? gd_storage_posix_open(rc->name, rc->path, out, err)
                                        : gd_storage_s3_open(rc, out, err);
    /* tests only: GEODR_FAULT wraps the region in the fault driver
     * (docs/testing.md); nothing happens without it */
    return r != 0 ? r : gd_storage_fault_from_env(out, err);
}

static int instance_storage(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                            gd_storage **st, gd_err *err)
{
    const gd_region_cfg *rc = gd_config_region(cfg, region ? region : ic->home_region, err);
    if (rc == NULL)
        return err ? err->code : GD_E_NOTFOUND;
    return gd_command_open_storage(rc, st, err);
}

int gd_command_open_repo(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                         bool create, gd_repo **out, gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cfg, ic, region, &st, err);
    if (r != 0)
        return r;
    return gd_repo_open(st, ic->name, ic->key_file, create, ic->compress_level, out, err);
}

int gd_command_open_copy_region(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                                const char *region, int64_t since_us, int64_t *since_out,
                                const gd_cancel *cancel, gd_repo **out, gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cfg, ic, region, &st, err);
    if (r != 0)
        return r;
    st->cancel = cancel;
    return gd_copy_region_open(home, st, since_us, since_out, out, err);
}

int gd_command_open_repo_raw(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                             gd_repo **out, gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cfg, ic, region, &st, err);
    if (r != 0)
        return r;
    return gd_repo_open_raw(st, ic->name, false, out, err);
}

int gd_command_instance(const gd_config *cfg, const char *name, const gd_instance_cfg **ic,
                        gd_err *err)
{
    *ic = gd_config_instance(cfg, name, err);
    return *ic ? 0 : (err && err->code ? err->code : GD_E_NOTFOUND);
}

int gd_command_instance_conn(const gd_instance_cfg *ic, gd_instance_conn *c, gd_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = gd_instance_password(ic, &c->password, err);
    if (rc != 0)
        return rc;
    snprintf(c->what, sizeof c->what, "instance %s", ic->name);
    if (ic->password_file)
        snprintf(c->source, sizeof c->source, "password-file %s", ic->password_file);
    else if (ic->password_env)
        snprintf(c->source, sizeof c->source, "environment variable %s (password-env)",
                 ic->password_env);
    else
        snprintf(c->source, sizeof c->source, "the config (no password-file or password-env set)");
    gd_conn_params *p = &c->p;
    p->what = c->what;
    p->host = ic->socket && ic->socket[0] && (!ic->host || !ic->host[0]) ? NULL : ic->host;
    p->port = ic->port;
    p->socket = ic->socket;
    p->user = ic->user;
    p->password = c->password;
    p->password_source = c->source;
    p->tls = gd_instance_tls(ic);
    return 0;
}

void gd_command_instance_conn_free(gd_instance_conn *c)
{
    gd_command_free_password(c->password);
    c->password = NULL;
    c->p.password = NULL;
}

void gd_command_free_password(char *pw)
{
    if (pw) {
        gd_wipe(pw, strlen(pw));
        free(pw);
    }
}
