#include "command/open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
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
    /* When copies to the region started, recorded at home before the region
     * is contacted: a region down now still gets, once reached, the sets
     * taken since copies to it were enabled (region/copy.h). */
    int64_t since = since_us > 0 ? since_us : gd_now_us();
    gd_err ce;
    gd_err_clear(&ce);
    if (gd_copy_since_claim(home, region, since, &since, &ce) != 0) {
        gd_log(GD_LOG_WARN,
               "cannot record in region %s when copies of instance %s to region %s started "
               "(%s): copy.json in region %s alone says it",
               home->st->name, ic->name, region, ce.msg, region);
        since = since_us;
    }
    gd_storage *st = NULL;
    int r = instance_storage(cfg, ic, region, &st, err);
    if (r != 0)
        return r;
    st->cancel = cancel;
    return gd_copy_region_open(home, st, since, since_out, out, err);
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

int gd_command_policy(const gd_config *cfg, const gd_instance_cfg *ic, gd_repo *home,
                      gd_instance_cfg *eff, gd_policy *pol, gd_err *err)
{
    *eff = *ic;
    memset(pol, 0, sizeof *pol);
    gd_repo *own = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = home ? 0 : gd_command_open_repo(cfg, ic, NULL, false, &own, &e);
    if (rc == 0)
        rc = gd_policy_read(home ? home : own, pol, &e);
    gd_repo_close(own);
    if (rc != 0) {
        if (rc != GD_E_NOTFOUND && err)
            *err = e; /* not used: the config holds */
        gd_policy_free(pol);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < pol->n_copy_regions; i++) {
        if (gd_config_region(cfg, pol->copy_regions[i], NULL) == NULL) {
            gd_log(GD_LOG_WARN,
                   "the policy of instance %s names copy region %s, which the config does not "
                   "have: no copies go there until it is configured again",
                   ic->name, pol->copy_regions[i]);
            free(pol->copy_regions[i]);
            continue;
        }
        pol->copy_regions[k++] = pol->copy_regions[i];
    }
    pol->n_copy_regions = k;
    eff->cross_region_backup = pol->backup_enabled && k > 0;
    eff->cross_region_log_backup = pol->log_backup_enabled && k > 0;
    eff->copy_regions = pol->copy_regions;
    eff->n_copy_regions = k;
    eff->copy_retention_days = pol->copy_retention_days;
    eff->retention_days = pol->retention_days;
    return 0;
}

void gd_command_policy_in_effect(const gd_command_ctx *ctx, const char *op,
                                 const gd_instance_cfg *ic, gd_repo *home, gd_instance_cfg *eff,
                                 gd_policy *pol)
{
    gd_err e;
    gd_err_clear(&e);
    gd_command_policy(ctx->cfg, ic, home, eff, pol, &e);
    if (e.code != GD_OK)
        gd_command_say(ctx, GD_EVENT_WARNING, op,
                       "%s (the config's retention and copy regions are used)", e.msg);
}

const char **gd_command_copy_regions_all(const gd_instance_cfg *ic, const gd_instance_cfg *eff,
                                         size_t *n)
{
    const char **v = gd_calloc(ic->n_copy_regions + eff->n_copy_regions + 1, sizeof *v);
    *n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const gd_instance_cfg *c = pass == 0 ? eff : ic;
        for (size_t i = 0; i < c->n_copy_regions; i++) {
            bool seen = false;
            for (size_t k = 0; k < *n; k++)
                seen |= strcmp(v[k], c->copy_regions[i]) == 0;
            if (!seen)
                v[(*n)++] = c->copy_regions[i];
        }
    }
    return v;
}
