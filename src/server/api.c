/* The HTTP API's operations (docs/api.md): each reads its parameters with
 * server/params.h, calls the operations layer (src/command) and answers
 * with a JSON object; long ones start a job (server/jobs.h) and answer its
 * id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command/info.h"
#include "command/open.h"
#include "command/restore.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "server/http.h"
#include "server/params.h"
#include "server/api_intern.h"
#include "server/server_intern.h"

typedef int (*op_fn)(gd_server *s, gd_params *p, json_t **answer);

/* ---- answers ---- */

/* The answer for an operation that failed with e. */
int gd_api_fail(json_t **answer, const gd_err *e)
{
    switch (e->code) {
    case GD_E_NOTFOUND:
        return gd_http_error(answer, 404, "NotFound", "%s", e->msg);
    case GD_E_INVALID:
        return gd_http_error(answer, 400, "InvalidParameter", "%s", e->msg);
    case GD_E_BUSY:
    case GD_E_STATE:
        return gd_http_error(answer, 409, "OperationConflict", "%s", e->msg);
    case GD_E_AUTH:
        return gd_http_error(answer, 403, "KeyRefused", "%s", e->msg);
    case GD_E_IO:
        return gd_http_error(answer, 503, "RegionUnavailable", "%s", e->msg);
    default:
        return gd_http_error(answer, 500, "InternalError", "%s", e->msg);
    }
}

/* "yyyy-MM-ddTHH:mm:ssZ" of Unix seconds. */
json_t *gd_api_time(int64_t s)
{
    char t[32];
    time_t tt = (time_t)s;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(t);
}

/* The configured instance a request names (DBInstanceId), or a 404. */
gd_inst_rt *gd_api_instance(gd_server *s, const char *name, json_t **answer)
{
    pthread_mutex_lock(&s->mu);
    gd_inst_rt *ir = gd_server_inst(s, name);
    pthread_mutex_unlock(&s->mu);
    if (ir == NULL)
        gd_http_error(answer, 404, "InvalidDBInstanceId.NotFound",
                      "instance '%s' is not configured on this server (DescribeCrossRegionBackup"
                      "DBInstance lists every instance, released ones too)",
                      name);
    return ir;
}

/* The info document of one instance (command/info.h): its home region and
 * copy regions, as geodr info --json shows them. */
int gd_api_job_started(json_t **answer, int rc, const char *id, const char *name, const gd_err *e)
{
    if (rc != 0)
        return gd_api_fail(answer, e);
    *answer = json_pack("{s:s, s:s}", "JobId", id, "DBInstanceId", name);
    return 200;
}

int gd_api_begin(gd_server *s, gd_params *p, const char *name, json_t **answer)
{
    int status = gd_params_end(p);
    if (status == 0 && gd_api_instance(s, name, answer) == NULL)
        status = 404;
    return status;
}

int gd_api_doc(gd_server *s, const char *name, json_t **doc, json_t **answer)
{
    gd_err e;
    gd_err_clear(&e);
    return gd_server_info_doc(s, name, GD_API_VIEW_MAX_AGE_S, doc, &e) == 0
               ? 0
               : gd_api_fail(answer, &e);
}

/* Ends the request's parameters, then reads the instance's document. */
static int instance_doc(gd_server *s, gd_params *p, const char *name, json_t **doc, json_t **answer)
{
    int status = gd_params_end(p);
    return status != 0 ? status : gd_api_doc(s, name, doc, answer);
}

/* The region object of doc named region (NULL: the home region's part:
 * the document itself), or a 404 naming the regions there are. */
json_t *gd_api_region(json_t *doc, const char *region, json_t **answer)
{
    const char *home = json_string_value(json_object_get(doc, "region"));
    if (region == NULL || (home && strcmp(region, home) == 0))
        return doc;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "copies"), i, c)
    {
        if (strcmp(gd_json_str(c, "region", ""), region) == 0)
            return c;
    }
    gd_http_error(answer, 404, "InvalidRegionId.NotFound",
                  "region '%s' holds no backups of instance %s: use its home region %s or "
                  "one of its copy regions (DescribeAvailableCrossRegion)",
                  region, gd_json_str(doc, "name", "?"), home ? home : "?");
    return NULL;
}

/* "YYYY-MM-DD HH:MM:SS" (UTC, as info writes it) as "yyyy-MM-ddTHH:mm:ssZ". */
json_t *gd_api_time_text(const char *s)
{
    if (s == NULL || strlen(s) != 19)
        return json_null();
    char t[21];
    memcpy(t, s, 19);
    t[10] = 'T';
    t[19] = 'Z';
    t[20] = '\0';
    return json_string(t);
}

/* ---- jobs ---- */

static int op_describe_jobs(gd_server *s, gd_params *p, json_t **answer)
{
    const char *id = gd_param_str(p, "JobId", false);
    long long limit = gd_param_int(p, "MaxRecords", false, 50, 1, 200);
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    gd_err e;
    gd_err_clear(&e);
    if (gd_jobs_describe(s->jobs, id, (size_t)limit, answer, &e) != 0)
        return gd_api_fail(answer, &e);
    return 200;
}

static int op_cancel_job(gd_server *s, gd_params *p, json_t **answer)
{
    const char *id = gd_param_str(p, "JobId", true);
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    gd_err e;
    gd_err_clear(&e);
    if (gd_jobs_cancel(s->jobs, id, &e) != 0)
        return gd_api_fail(answer, &e);
    *answer = json_pack("{s:s, s:s}", "JobId", id, "Status", "Cancelling");
    return 200;
}

/* ---- backups ---- */

static int op_create_backup(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    int rc = gd_api_begin(s, p, name, answer);
    if (rc != 0)
        return rc;
    gd_inst_rt *ir = gd_server_inst(s, name);
    char id[40];
    gd_err e;
    gd_err_clear(&e);
    return gd_api_job_started(answer, gd_server_start_backup(s, ir, true, id, &e), id, name, &e);
}

/* The sets of one region of an instance's document as Items. */
static json_t *backup_items(json_t *region)
{
    json_t *items = json_array(), *set;
    size_t i;
    json_array_foreach(json_object_get(region, "sets"), i, set)
    {
        const char *err = json_string_value(json_object_get(set, "error"));
        const char *bad = json_string_value(json_object_get(set, "unusable"));
        json_t *it = json_pack("{s:s, s:s}", "BackupSetId", gd_json_str(set, "set", ""),
                               "BackupStatus", err || bad ? "Failed" : "Success");
        if (err || bad)
            json_object_set_new(it, "Error", json_string(err ? err : bad));
        if (err == NULL) {
            json_object_set_new(it, "BackupStartTime",
                                gd_api_time_text(gd_json_str(set, "start", NULL)));
            json_object_set_new(it, "BackupEndTime",
                                gd_api_time_text(gd_json_str(set, "end", NULL)));
            json_object_set_new(it, "BackupMethod", json_string(gd_json_str(set, "method", "")));
            json_object_set_new(it, "BackupMode",
                                json_string(json_is_true(json_object_get(set, "on_demand"))
                                                ? "Manual"
                                                : "Automated"));
            json_object_set_new(it, "BackupSize",
                                json_integer(gd_json_int(set, "stored_bytes", 0)));
            json_object_set_new(it, "RawSize", json_integer(gd_json_int(set, "raw_bytes", 0)));
            json_object_set_new(it, "Tables", json_integer(gd_json_int(set, "tables", 0)));
            json_object_set_new(it, "Rows", json_integer(gd_json_int(set, "rows", 0)));
            json_object_set_new(it, "ConsistentGtid", json_string(gd_json_str(set, "gtid", "")));
        }
        json_array_append_new(items, it);
    }
    return items;
}

/* Names the copy region on each of its items (DescribeCrossRegionBackups). */
static void items_tag_region(json_t *items, const char *region)
{
    size_t k;
    json_t *it;
    json_array_foreach(items, k, it)
        json_object_set_new(it, "CrossBackupRegion", json_string(region));
}

/* DescribeBackups (RegionId: any region of the instance, default home) and
 * DescribeCrossRegionBackups (CrossBackupRegion: one copy region, default
 * all of them). */
static int describe_backups(gd_server *s, gd_params *p, json_t **answer, bool cross)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    const char *region = gd_param_str(p, cross ? "CrossBackupRegion" : "RegionId", false);
    json_t *doc = NULL;
    int rc = instance_doc(s, p, name, &doc, answer);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    const char *home = gd_json_str(doc, "region", "");
    if (cross && region == NULL) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(doc, "copies"), i, c)
        {
            json_t *one = backup_items(c);
            items_tag_region(one, gd_json_str(c, "region", ""));
            json_array_extend(items, one);
            json_decref(one);
        }
    } else {
        json_t *r = gd_api_region(doc, region, answer);
        if (r == NULL || (cross && r == doc)) {
            json_decref(items);
            json_decref(doc);
            if (r != NULL)
                return gd_http_error(answer, 400, "InvalidParameter",
                                     "parameter 'CrossBackupRegion' names the home region %s of "
                                     "instance %s: use DescribeBackups for it",
                                     home, name);
            return 404;
        }
        json_decref(items);
        items = backup_items(r);
        if (cross)
            items_tag_region(items, region);
        if (json_object_get(r, "error"))
            json_object_set_new(*answer = json_object(), "RegionError",
                                json_string(gd_json_str(r, "error", "")));
    }
    if (*answer == NULL)
        *answer = json_object();
    json_object_set_new(*answer, "DBInstanceId", json_string(name));
    json_object_set_new(*answer, "RegionId", json_string(region ? region : home));
    json_object_set_new(*answer, "TotalRecordCount",
                        json_integer((json_int_t)json_array_size(items)));
    json_object_set_new(*answer, "Items", items);
    json_decref(doc);
    return 200;
}

static int op_describe_backups(gd_server *s, gd_params *p, json_t **answer)
{
    return describe_backups(s, p, answer, false);
}

static int op_describe_cross_region_backups(gd_server *s, gd_params *p, json_t **answer)
{
    return describe_backups(s, p, answer, true);
}

static int op_describe_recovery_time(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    const char *region = gd_param_str(p, "RegionId", false);
    json_t *doc = NULL;
    int rc = instance_doc(s, p, name, &doc, answer);
    if (rc != 0)
        return rc;
    json_t *r = gd_api_region(doc, region, answer);
    if (r == NULL) {
        json_decref(doc);
        return 404;
    }
    json_t *windows = json_array(), *w;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(r, "archive"), "windows"), i, w)
    {
        json_array_append_new(windows,
                              json_pack("{s:o, s:o, s:s}", "RecoveryBeginTime",
                                        gd_api_time(gd_json_int(w, "from_s", 0)), "RecoveryEndTime",
                                        gd_api_time(gd_json_int(w, "to_s", 0)), "BackupSetId",
                                        gd_json_str(w, "set", "")));
    }
    /* Sets restore as they are even without a window (RestoreType Fastest
     * or BackupSet). */
    json_t *points = json_array(), *set;
    json_array_foreach(json_object_get(r, "sets"), i, set)
    {
        if (json_object_get(set, "error") == NULL && json_object_get(set, "unusable") == NULL)
            json_array_append_new(
                points, json_pack("{s:s, s:o}", "BackupSetId", gd_json_str(set, "set", ""), "Time",
                                  gd_api_time_text(gd_json_str(set, "end", NULL))));
    }
    *answer =
        json_pack("{s:s, s:s, s:o, s:o}", "DBInstanceId", name, "RegionId",
                  gd_json_str(r, "region", ""), "RecoveryWindows", windows, "BackupPoints", points);
    if (json_object_get(r, "error"))
        json_object_set_new(*answer, "RegionError", json_string(gd_json_str(r, "error", "")));
    json_decref(doc);
    return 200;
}

/* ---- policy and regions ---- */

static int op_describe_cross_regions(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", false);
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    const gd_instance_cfg *ic = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (name && gd_command_instance(c->cfg, name, &ic, &e) != 0) {
        gd_cfg_put(c);
        return gd_api_fail(answer, &e);
    }
    json_t *regions = json_array();
    for (size_t i = 0; i < c->cfg->n_regions; i++) {
        const char *r = c->cfg->regions[i].name;
        if (ic == NULL || strcmp(r, ic->home_region) != 0)
            json_array_append_new(regions, json_string(r));
    }
    gd_cfg_put(c);
    *answer = json_pack("{s:o}", "Regions", regions);
    return 200;
}

/* Bytes stored per instance and region: backup sets and binlog archive
 * (Azure's "backup storage used"). */
static int op_describe_backup_storage(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    json_t *doc = NULL;
    int rc = instance_doc(s, p, name, &doc, answer);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    json_t *regions[65];
    size_t nr = 0;
    regions[nr++] = doc;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "copies"), i, c) if (nr < 65) regions[nr++] = c;
    for (size_t k = 0; k < nr; k++) {
        json_t *r = regions[k], *set;
        long long sets = 0;
        size_t j;
        json_array_foreach(json_object_get(r, "sets"), j, set) sets +=
            gd_json_int(set, "stored_bytes", 0);
        json_t *it =
            json_pack("{s:s, s:I, s:I}", "RegionId", gd_json_str(r, "region", ""), "BackupSize",
                      (json_int_t)sets, "LogBackupSize",
                      (json_int_t)gd_json_int(json_object_get(r, "archive"), "stored_bytes", 0));
        if (json_object_get(r, "error"))
            json_object_set_new(it, "RegionError", json_string(gd_json_str(r, "error", "")));
        json_array_append_new(items, it);
    }
    *answer = json_pack("{s:s, s:o}", "DBInstanceId", name, "Items", items);
    json_decref(doc);
    return 200;
}

/* Every instance with backups: the configured ones and the released ones
 * (found in a region, no longer configured). */
/* The instances released from the config whose backups the regions still
 * hold (a view: server/view.c). */
static int released_read(gd_server *s, const char *instance, const char *region, json_t **doc,
                         gd_err *err)
{
    (void)instance;
    (void)region;
    (void)err;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg};
    *doc = gd_command_released(&ctx);
    if (*doc == NULL)
        *doc = json_array();
    gd_cfg_put(c);
    return 0;
}

static int op_describe_instances(gd_server *s, gd_params *p, json_t **answer)
{
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    json_t *items = json_array();
    for (size_t i = 0; i < c->cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &c->cfg->instances[i];
        pthread_mutex_lock(&s->mu);
        gd_inst_rt *ir = gd_server_inst(s, ic->name);
        int64_t released = ir ? atomic_load(&ir->released_us) : 0; /* command/release.h */
        pthread_mutex_unlock(&s->mu);
        json_t *it =
            json_pack("{s:s, s:s, s:s}", "DBInstanceId", ic->name, "RegionId", ic->home_region,
                      "DBInstanceStatus", released ? "Released" : "Running");
        if (released)
            json_object_set_new(it, "ReleaseTime", gd_api_time(released / 1000000));
        json_array_append_new(items, it);
    }
    json_t *released = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_server_view_get(s, GD_VIEW_RELEASED, "", NULL, GD_API_VIEW_MAX_AGE_S, released_read,
                           &released, &e) != 0)
        released = json_array(); /* gd_command_released gives what it could read */
    size_t i;
    json_t *r;
    json_array_foreach(released, i, r)
    {
        json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "DBInstanceId",
                                               gd_json_str(r, "name", ""), "RegionId",
                                               gd_json_str(r, "region", ""), "DBInstanceStatus",
                                               "Released"));
    }
    json_decref(released);
    gd_cfg_put(c);
    *answer = json_pack("{s:o}", "Items", items);
    return 200;
}

/* ---- dispatch ---- */

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"CancelJob", op_cancel_job},
    {"CheckCreateDdrDBInstance", gd_api_check_create_ddr_db_instance},
    {"CreateBackup", op_create_backup},
    {"CreateDdrInstance", gd_api_create_ddr_instance},
    {"CreateRestoreDrill", gd_api_create_restore_drill},
    {"DescribeAvailableCrossRegion", op_describe_cross_regions},
    {"DescribeAvailableRecoveryTime", op_describe_recovery_time},
    {"DescribeBackupStorage", op_describe_backup_storage},
    {"DescribeBackups", op_describe_backups},
    {"DescribeCrossRegionBackupDBInstance", op_describe_instances},
    {"DescribeCrossBackupMetaList", gd_api_describe_meta_list},
    {"DescribeCrossRegionBackups", op_describe_cross_region_backups},
    {"DescribeCrossRegionLogBackupFiles", gd_api_describe_log_files},
    {"DescribeInstanceCrossBackupPolicy", gd_api_describe_policy},
    {"ModifyInstanceCrossBackupPolicy", gd_api_modify_policy},
    {"ReleaseInstance", gd_api_release_instance},
    {"DescribeJobs", op_describe_jobs},
    {"DescribeServerStatus", gd_api_describe_server_status},
    {"RestoreDdrTable", gd_api_restore_ddr_table},
};

int gd_server_api(void *ctx, const char *op, json_t *params, json_t **answer)
{
    gd_server *s = ctx;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, op) != 0)
            continue;
        gd_params p;
        gd_params_begin(&p, params, answer);
        *answer = NULL;
        int status = ops[i].fn(s, &p, answer);
        gd_params_free(&p);
        if (*answer == NULL)
            status = gd_http_error(answer, 500, "InternalError", "operation %s gave no answer", op);
        return status;
    }
    gd_buf b;
    gd_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        gd_buf_appendf(&b, "%s%s", i ? ", " : "", ops[i].name);
    int status = gd_http_error(answer, 404, "UnknownOperation",
                               "unknown operation '%s'; the operations are: %s", op, b.data);
    gd_buf_free(&b);
    return status;
}
