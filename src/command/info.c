#include "common/json.h"
#include "command/info.h"

#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "common/util.h"
#include "repo/plan.h"
#include "repo/setcheck.h"

static json_t *set_summary(const gd_manifest *mf, const char *id)
{
    const gd_mf_totals *t = &mf->totals;
    char start[32], end[32];
    gd_fmt_time(mf->start_us, false, start, sizeof start);
    gd_fmt_time(mf->end_us, false, end, sizeof end);
    json_t *sm = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:s}", "set", id, "method", mf->method,
        "start", start, "end", end, "gtid", mf->gtid, "tables", (json_int_t)t->tables, "rows",
        (json_int_t)t->rows, "raw_bytes", (json_int_t)t->raw_bytes, "stored_bytes",
        (json_int_t)t->stored_bytes, "seconds", t->seconds, "cipher", mf->cipher);
    json_object_set_new(sm, "lock_seconds", json_real(mf->lock_seconds));
    json_object_set_new(sm, "nontransactional_tables",
                        json_integer((json_int_t)mf->nontransactional_tables));
    json_object_set_new(sm, "nontransactional_locked", json_boolean(mf->nontransactional_locked));
    json_object_set_new(sm, "on_demand", json_boolean(mf->on_demand));
    /* A set written wrong (repo/setcheck.h; the manifest alone, no key
     * needed): restore refuses it, verify names the tables. */
    gd_set_problems problems = {0};
    if (gd_set_check(mf, NULL, &problems) > 0) {
        char *msg = gd_set_check_message(&problems);
        json_object_set_new(sm, "unusable", json_string(msg));
        free(msg);
    }
    gd_set_problems_free(&problems);
    return sm;
}

/* A time as info prints it ("" for 0: none). */
static json_t *time_json(int64_t s)
{
    char t[32] = "";
    if (s != 0)
        gd_fmt_time(s * 1000000, false, t, sizeof t);
    return json_string(t);
}

static json_t *pos_json(const gd_gtid_pos *p)
{
    char t[GD_GTID_POS_MAX * 64];
    gd_gtid_pos_format(p, t, sizeof t);
    return json_string(t);
}

/* The archive summary as "info --json" prints it (docs/archive-and-pitr.md). */
static json_t *archive_json(const gd_archive_summary *a)
{
    json_t *gaps = json_array(), *windows = json_array();
    for (size_t i = 0; i < a->ngaps; i++) {
        const gd_gap *g = &a->gaps[i];
        json_array_append_new(gaps, json_pack("{s:I, s:o, s:o, s:o, s:o}", "before_seq",
                                              (json_int_t)g->before_seq, "expected",
                                              pos_json(&g->expected), "found", pos_json(&g->found),
                                              "after_time", time_json(g->after_time_s),
                                              "before_time", time_json(g->before_time_s)));
    }
    for (size_t i = 0; i < a->nwindows; i++) {
        const gd_window *w = &a->windows[i];
        json_array_append_new(
            windows,
            json_pack("{s:o, s:I, s:o, s:I, s:s, s:o, s:o}", "from", time_json(w->from_s), "from_s",
                      (json_int_t)w->from_s, "to", time_json(w->to_s), "to_s", (json_int_t)w->to_s,
                      "set", w->set, "gtid_from", pos_json(&w->from), "gtid_to", pos_json(&w->to)));
    }
    bool any = a->segments > 0;
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o, s:o}", "segments",
                     (json_int_t)a->segments, "transactions", (json_int_t)a->transactions,
                     "raw_bytes", (json_int_t)a->raw_bytes, "stored_bytes",
                     (json_int_t)a->stored_bytes, "first_time",
                     time_json(any ? a->first_time_s : 0), "last_time",
                     time_json(any ? a->last_time_s : 0), "last_time_s", (json_int_t)a->last_time_s,
                     "gtid_pos", pos_json(&a->pos), "gaps", gaps, "windows", windows);
}

/* The committed sets and the binlog archive of one instance in one region:
 * {"region", "repository", "sets", "archive"}.  A region that holds no
 * repository of the instance (reachable, but no instance.json or no
 * repo.json) has "repository": false and "note" saying so.  A region that
 * cannot be read fails the call when must (the home region, or the one
 * region asked for), with an error naming it; otherwise it gets "error" (a
 * copy region being down must not hide the others). */
static int region_info(const gd_config *cfg, const gd_instance_cfg *ic, const char *region,
                       bool must, json_t **out, gd_err *err)
{
    gd_repo *repo = NULL;
    json_t *j = json_pack("{s:s}", "region", region ? region : ic->home_region);
    json_t *sets = json_array();
    json_object_set_new(j, "sets", sets);
    gd_err e;
    gd_err_clear(&e);
    /* With the instance's key, every manifest and record listed is
     * authenticated (a set planted by a region writer shows as an error,
     * not as a restorable set); without one they are only checksummed. */
    bool authenticated = ic->key_file != NULL;
    int rc = authenticated ? gd_command_open_repo(cfg, ic, region, false, &repo, &e)
                           : gd_command_open_repo_raw(cfg, ic, region, &repo, &e);
    json_object_set_new(j, "authenticated", json_boolean(authenticated));
    json_object_set_new(j, "repository", json_boolean(rc == 0));
    if (rc == GD_E_NOTFOUND) {
        json_object_set_new(j, "note", json_string(e.msg));
        *out = j;
        return 0;
    }
    if (rc != 0) {
        if (must) {
            json_decref(j);
            *err = e;
            gd_err_prefix(err, "cannot read region %s of instance %s",
                          region ? region : ic->home_region, ic->name);
            return rc;
        }
        json_object_set_new(j, "error", json_string(e.msg));
        *out = j;
        return 0;
    }
    char **ids = NULL;
    size_t n = 0;
    rc = gd_repo_list_sets(repo, &ids, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        gd_manifest *mf = NULL;
        gd_err me;
        gd_err_clear(&me);
        if (gd_manifest_read(repo, ids[i], &mf, &me) != 0) {
            json_array_append_new(sets, json_pack("{s:s, s:s}", "set", ids[i], "error", me.msg));
            continue;
        }
        json_t *sm = set_summary(mf, ids[i]);
        json_object_set_new(sm, "end_us", json_integer(mf->end_us));
        json_array_append_new(sets, sm);
        gd_manifest_free(mf);
    }
    gd_strv_free(ids, n);
    gd_archive_summary arch;
    if (rc == 0 && (rc = gd_repo_archive_summary(repo, &arch, err)) == 0) {
        json_object_set_new(j, "archive", archive_json(&arch));
        gd_archive_summary_free(&arch);
    }
    gd_repo_close(repo);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

static long long newest_set_end_s(json_t *r)
{
    json_t *sets = json_object_get(r, "sets");
    size_t n = json_array_size(sets);
    return n ? gd_json_int(json_array_get(sets, n - 1), "end_us", 0) / 1000000 : 0;
}

/* How far a copy region is behind the home region: newest set and newest
 * archived transaction, in seconds, and the stored bytes of home segments it
 * does not hold yet. */
static void add_lag(json_t *home, json_t *copy)
{
    json_t *ha = json_object_get(home, "archive"), *ca = json_object_get(copy, "archive");
    /* A copy region without sets is not "behind by the age of the epoch":
     * its lag is unknown (null), and info says it holds no set. */
    bool copy_has_sets = json_array_size(json_object_get(copy, "sets")) > 0;
    long long set_lag = newest_set_end_s(home) - newest_set_end_s(copy);
    long long log_lag = 0, bytes = 0;
    /* Binlog lag only once the copy region holds some (it only takes the
     * segments its own sets need). */
    if (ha && ca && gd_json_int(ha, "segments", 0) > 0 && gd_json_int(ca, "segments", 0) > 0) {
        long long hl = gd_json_int(ha, "last_time_s", 0);
        long long cl = ca ? gd_json_int(ca, "last_time_s", 0) : 0;
        log_lag = cl ? hl - cl : 0;
        bytes = gd_json_int(ha, "stored_bytes", 0) - (ca ? gd_json_int(ca, "stored_bytes", 0) : 0);
    }
    json_object_set_new(
        copy, "lag",
        json_pack("{s:o, s:I, s:I}", "sets_seconds",
                  copy_has_sets ? json_integer(set_lag > 0 ? set_lag : 0) : json_null(),
                  "log_seconds", (json_int_t)(log_lag > 0 ? log_lag : 0), "bytes",
                  (json_int_t)(bytes > 0 ? bytes : 0)));
}

/* An instance's document from one region's part r (region_info): the
 * configured instance, that region's sets and archive, no copies yet. */
static json_t *instance_json(const gd_instance_cfg *ic, const char *region, json_t *r)
{
    json_t *archive = json_object_get(r, "archive");
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:b, s:O, s:O}", "name", ic->name, "host",
                          ic->host ? ic->host : "", "port", (int)ic->port, "region", region,
                          "encrypted", ic->key_file != NULL, "sets", json_object_get(r, "sets"),
                          "archive", archive ? archive : json_null());
    json_object_set_new(j, "copies", json_array());
    json_object_set(j, "authenticated", json_object_get(r, "authenticated"));
    json_object_set(j, "repository", json_object_get(r, "repository"));
    if (json_object_get(r, "note"))
        json_object_set(j, "note", json_object_get(r, "note"));
    return j;
}

/* The policy in effect (docs/regions.md "Policy"): where it comes from and
 * its values. */
static json_t *policy_json(const gd_instance_cfg *eff, const gd_policy *pol, const gd_err *pe)
{
    json_t *regions = json_array();
    for (size_t i = 0; i < eff->n_copy_regions; i++)
        json_array_append_new(regions, json_string(eff->copy_regions[i]));
    json_t *j =
        json_pack("{s:s, s:b, s:b, s:o, s:i, s:i}", "source", pol->recorded ? "region" : "config",
                  "cross_region_backup", eff->cross_region_backup, "cross_region_log_backup",
                  eff->cross_region_log_backup, "copy_regions", regions, "retention_days",
                  eff->retention_days, "copy_retention_days", eff->copy_retention_days);
    if (pe->code != GD_OK)
        json_object_set_new(j, "error", json_string(pe->msg));
    if (pol->released_us > 0) { /* command/release.h */
        char at[32];
        gd_fmt_time(pol->released_us, false, at, sizeof at);
        json_object_set_new(j, "released_at", json_string(at));
    }
    return j;
}

static int instance_info(const gd_config *cfg, const gd_instance_cfg *ic, json_t **out, gd_err *err)
{
    json_t *home = NULL;
    int rc = region_info(cfg, ic, NULL, true, &home, err);
    if (rc != 0)
        return rc;
    json_t *j = instance_json(ic, ic->home_region, home);
    json_t *copies = json_object_get(j, "copies");
    /* the copy regions of the policy in effect, and those of the config
     * (copies made before the policy changed stay until they expire) */
    gd_instance_cfg eff;
    gd_policy pol;
    gd_err pe;
    gd_err_clear(&pe);
    gd_command_policy(cfg, ic, NULL, &eff, &pol, &pe);
    json_object_set_new(j, "policy", policy_json(&eff, &pol, &pe));
    size_t nall = 0;
    const char **all = gd_command_copy_regions_all(ic, &eff, &nall);
    for (size_t i = 0; i < nall; i++) {
        json_t *c = NULL;
        if ((rc = region_info(cfg, ic, all[i], false, &c, err)) != 0)
            break;
        add_lag(home, c);
        json_array_append_new(copies, c);
    }
    free(all);
    gd_policy_free(&pol);
    json_decref(home);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

struct released_ctx {
    const gd_config *cfg;
    const char *region;
    json_t *out;
    gd_storage *st;
};

static int released_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)st;
    struct released_ctx *c = ctx;
    const char *slash = strchr(name, '/');
    if (slash == NULL || strcmp(slash, "/instance.json") != 0)
        return 0;
    char *inst = gd_strndup(name, (size_t)(slash - name));
    bool configured = false;
    for (size_t i = 0; i < c->cfg->n_instances; i++)
        configured |= strcmp(c->cfg->instances[i].name, inst) == 0;
    if (!configured) {
        /* count its sets without a key: manifests are plain */
        gd_repo tmp = {.st = c->st, .instance = inst};
        char **ids = NULL;
        size_t n = 0;
        gd_repo_list_sets(&tmp, &ids, &n, NULL);
        json_array_append_new(c->out, json_pack("{s:s, s:s, s:I}", "name", inst, "region",
                                                c->region, "sets", (json_int_t)n));
        gd_strv_free(ids, n);
    }
    free(inst);
    return 0;
}

/* Instances found in a configured region that the config no longer names:
 * their sets stay until they expire. */
json_t *gd_command_released(const gd_command_ctx *ctx)
{
    const gd_config *cfg = ctx->cfg;
    json_t *out = json_array();
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const gd_region_cfg *rc = &cfg->regions[i];
        gd_storage *st = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (gd_command_open_storage(rc, &st, &e) != 0)
            continue;
        struct released_ctx c = {.cfg = cfg, .region = rc->name, .out = out, .st = st};
        gd_storage_list(st, "", released_cb, &c, &e);
        gd_storage_free(st);
    }
    return out;
}

int gd_command_info(const gd_command_ctx *ctx, const char *only, bool released, json_t **instances,
                    json_t **released_out, gd_err *err)
{
    const gd_config *cfg = ctx->cfg;
    *instances = NULL;
    *released_out = released ? gd_command_released(ctx) : NULL;
    json_t *all = json_array();
    for (size_t i = 0; i < cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &cfg->instances[i];
        if (only && strcmp(ic->name, only) != 0)
            continue;
        json_t *j = NULL;
        int rc = instance_info(cfg, ic, &j, err);
        if (rc != 0) {
            json_decref(all);
            json_decref(*released_out);
            *released_out = NULL;
            return rc;
        }
        json_array_append_new(all, j);
    }
    if (only && json_array_size(all) == 0) {
        json_decref(all);
        json_decref(*released_out);
        *released_out = NULL;
        gd_config_instance(cfg, only, err);
        return err->code ? err->code : GD_E_NOTFOUND;
    }
    *instances = all;
    return 0;
}

int gd_command_info_region(const gd_command_ctx *ctx, const char *only, const char *region,
                           json_t **instances, gd_err *err)
{
    const gd_config *cfg = ctx->cfg;
    *instances = NULL;
    if (gd_config_region(cfg, region, err) == NULL)
        return err && err->code ? err->code : GD_E_NOTFOUND;
    const gd_instance_cfg *one = NULL;
    if (only && gd_command_instance(cfg, only, &one, err) != 0)
        return err && err->code ? err->code : GD_E_NOTFOUND;
    json_t *all = json_array();
    for (size_t i = 0; i < cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &cfg->instances[i];
        if (one && ic != one)
            continue;
        json_t *r = NULL;
        int rc = region_info(cfg, ic, region, true, &r, err);
        if (rc != 0) {
            json_decref(all);
            return rc;
        }
        json_t *j = instance_json(ic, region, r);
        json_object_set_new(j, "home_region", json_string(ic->home_region));
        json_decref(r);
        json_array_append_new(all, j);
    }
    *instances = all;
    return 0;
}

/* The instance's repository in region (NULL: home): with its key when it has
 * one, else raw (records checksummed only). */
static int open_for_read(const gd_command_ctx *ctx, const char *instance, const char *region,
                         gd_repo **repo, gd_err *err)
{
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    if (rc == 0)
        rc = ic->key_file ? gd_command_open_repo(ctx->cfg, ic, region, false, repo, err)
                          : gd_command_open_repo_raw(ctx->cfg, ic, region, repo, err);
    return rc;
}

int gd_command_set_manifest(const gd_command_ctx *ctx, const char *instance, const char *region,
                            const char *set, gd_manifest **out, gd_err *err)
{
    gd_repo *repo = NULL;
    int rc = open_for_read(ctx, instance, region, &repo, err);
    if (rc == 0)
        rc = gd_manifest_read(repo, set, out, err);
    gd_repo_close(repo);
    return rc;
}

int gd_command_segments(const gd_command_ctx *ctx, const char *instance, const char *region,
                        gd_segments *out, gd_err *err)
{
    gd_repo *repo = NULL;
    *out = (gd_segments){0};
    int rc = open_for_read(ctx, instance, region, &repo, err);
    if (rc == 0)
        rc = gd_repo_list_segments(repo, out, NULL, err);
    gd_repo_close(repo);
    return rc;
}
