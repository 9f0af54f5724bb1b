/* The HTTP API's restore operations (docs/api.md "Restores"): each checks
 * its request as the command line does, then runs the restore as a job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/info.h"
#include "command/open.h"
#include "command/restore.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "server/api_intern.h"
#include "server/http.h"
#include "server/params.h"
#include "server/schedule.h"
#include "server/server_intern.h"

/* ---- restores ---- */

typedef struct restore_arg {
    gd_server *srv;
    json_t *params; /* the request: rq's strings point into it */
    gd_restore_request rq;
    char time[32];
    char *target, *renames; /* what rq.target and rq.renames point to */
} restore_arg;

static void restore_arg_free(void *p)
{
    restore_arg *a = p;
    gd_command_restore_request_free(&a->rq);
    json_decref(a->params);
    free(a->target);
    free(a->renames);
    free(a);
}

/* A restore's job, or a precheck's (a dry run): the precheck's answer
 * (each check) is its Result, passed or not, and a failed check fails it. */
static int restore_job(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    restore_arg *a = arg;
    bool dry = a->rq.load.dry_run;
    gd_cfg_ref *c = gd_server_cfg_get(a->srv);
    gd_command_ctx ctx = gd_server_job_ctx(c, job);
    gd_restore_outcome out = {0};
    int rc = gd_command_restore(&ctx, &a->rq, &out, err);
    if (dry && out.region) { /* the checks ran */
        *result = gd_command_restore_precheck_json(&a->rq, &out);
    } else if (rc == 0) {
        *result = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:f}", "RegionId", out.region, "BackupSetId",
            out.load.set_id, "Gtid", out.replay ? out.replayed.gtid_pos : out.load.gtid, "Rows",
            (json_int_t)out.load.rows, "Tables", (json_int_t)out.load.tables, "Replayed",
            out.replay, "Transactions", (json_int_t)out.replayed.transactions, "Seconds",
            out.load.seconds + out.replayed.seconds);
        if (out.provisioned)
            json_object_set_new(*result, "Socket", json_string(out.inst.socket));
    }
    static const char *const events[2][2] = {{"restore_done", "restore_failed"},
                                             {"precheck_passed", "precheck_failed"}};
    gd_server_log(rc == 0 ? GD_LOG_INFO
                  : dry   ? GD_LOG_WARN
                          : GD_LOG_ERROR,
                  events[dry][rc != 0], a->rq.instance, "region=%s error=%s",
                  out.region ? out.region : "-", rc == 0 ? "" : err->msg);
    gd_command_restore_outcome_free(&out);
    gd_cfg_put(c);
    return rc;
}

static const char *const restore_types[] = {"Latest", "BackupTime", "BackupSet", "Fastest", NULL};

/* The restore point and source of a CreateDdrInstance / RestoreDdrTable
 * request into a->rq. */
static void restore_point(gd_params *p, restore_arg *a)
{
    gd_restore_request *rq = &a->rq;
    rq->instance = gd_param_str(p, "DBInstanceId", true);
    rq->region = gd_param_str(p, "RegionId", false);
    int type = gd_param_enum(p, "RestoreType", false, 0, restore_types);
    long long t = gd_param_time(p, "RestoreTime", type == 1, -1);
    const char *set = gd_param_str(p, "BackupSetId", type == 2);
    if (type == 1 && t >= 0) {
        gd_fmt_time(t * 1000000, false, a->time, sizeof a->time);
        rq->time = a->time;
        rq->points = 1;
    } else if (type == 2) {
        rq->set = set;
        rq->points = 1;
    } else if (type == 3) {
        rq->fastest = true;
        rq->points = 1;
    }
}

/* Checks the request (as the command line's checks do) and starts the job. */
static int start_restore(gd_server *s, gd_params *p, restore_arg *a, const char *operation,
                         json_t **answer)
{
    int rc = gd_params_end(p);
    if (rc == 0 && gd_api_instance(s, a->rq.instance, answer) == NULL)
        rc = 404;
    gd_err e;
    gd_err_clear(&e);
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg};
    if (rc == 0 && gd_command_restore_check(&ctx, &a->rq, &e) != 0)
        rc = gd_api_fail(answer, &e);
    gd_cfg_put(c);
    if (rc != 0) {
        restore_arg_free(a);
        return rc;
    }
    char id[40];
    char *instance = gd_strdup(a->rq.instance);
    /* the registry owns a from here (it frees it when the start fails too) */
    if (gd_jobs_start(s->jobs, operation, instance, restore_job, a, restore_arg_free, id, &e) != 0)
        rc = gd_api_fail(answer, &e);
    else
        *answer = json_pack("{s:s, s:s}", "JobId", id, "DBInstanceId", instance);
    free(instance);
    return rc == 0 ? 200 : rc;
}

static restore_arg *restore_arg_new(gd_server *s, gd_params *p)
{
    restore_arg *a = gd_calloc(1, sizeof *a);
    a->srv = s;
    a->params = json_incref(p->obj);
    return a;
}

/* CreateDdrInstance: a restore into a new instance started in
 * TargetDirectory on TargetPort. */
int gd_api_create_ddr_instance(gd_server *s, gd_params *p, json_t **answer)
{
    restore_arg *a = restore_arg_new(s, p);
    restore_point(p, a);
    a->rq.new_instance = gd_param_str(p, "TargetDirectory", true);
    a->rq.port = (unsigned)gd_param_int(p, "TargetPort", true, 0, 1, 65535);
    return start_restore(s, p, a, "CreateDdrInstance", answer);
}

/* The target of a RestoreDdrTable or CheckCreateDdrDBInstance request and
 * what to restore there into a->rq: TargetHost (required unless
 * new_instance: then TargetPort is, into *port, else 3306), its login, the
 * tables; returns the host given, or NULL. */
static const char *restore_server(gd_params *p, restore_arg *a, bool new_instance, long long *port)
{
    gd_restore_request *rq = &a->rq;
    const char *host = gd_param_str(p, "TargetHost", !new_instance);
    *port = gd_param_int(p, "TargetPort", new_instance, 3306, 1, 65535);
    rq->target_user = gd_param_str(p, "TargetUser", host != NULL);
    rq->target_password_file = gd_param_str(p, "TargetPasswordFile", host != NULL);
    size_t nt = 0, nd = 0, nr = 0;
    const char **tables = gd_param_strv(p, "Tables", false, &nt);
    const char **dbs = gd_param_strv(p, "Databases", false, &nd);
    const char **from = NULL, **to = NULL;
    gd_param_map(p, "Rename", false, &from, &to, &nr);
    rq->load.replace_existing = gd_param_bool(p, "ReplaceExisting", false, false);
    if (host)
        rq->target = a->target = gd_asprintf("%s:%lld", host, *port);
    for (size_t i = 0; i < nt; i++) {
        rq->load.tables = gd_realloc(rq->load.tables, (i + 1) * sizeof(char *));
        rq->load.tables[i] = gd_strdup(tables[i]);
        rq->load.ntables = i + 1;
    }
    for (size_t i = 0; i < nd; i++) {
        rq->load.databases = gd_realloc(rq->load.databases, (i + 1) * sizeof(char *));
        rq->load.databases[i] = gd_strdup(dbs[i]);
        rq->load.ndatabases = i + 1;
    }
    if (nr > 0) {
        gd_buf b;
        gd_buf_init(&b, 0);
        for (size_t i = 0; i < nr; i++)
            gd_buf_appendf(&b, "%s%s=%s", i ? "," : "", from[i], to[i]);
        rq->renames = a->renames = b.data;
    }
    return host;
}

/* RestoreDdrTable: databases or tables into an existing server. */
int gd_api_restore_ddr_table(gd_server *s, gd_params *p, json_t **answer)
{
    restore_arg *a = restore_arg_new(s, p);
    restore_point(p, a);
    long long port = 0;
    restore_server(p, a, false, &port);
    return start_restore(s, p, a, "RestoreDdrTable", answer);
}

/* CheckCreateDdrDBInstance: the restore precheck (a dry run, as geodr
 * restore --dry-run) of either a CreateDdrInstance or a RestoreDdrTable
 * request, as a job. */
int gd_api_check_create_ddr_db_instance(gd_server *s, gd_params *p, json_t **answer)
{
    restore_arg *a = restore_arg_new(s, p);
    restore_point(p, a);
    const char *dir = gd_param_str(p, "TargetDirectory", false);
    long long port = 0;
    const char *host = restore_server(p, a, dir != NULL, &port);
    a->rq.verify_objects = gd_param_bool(p, "VerifyObjects", false, true);
    a->rq.load.dry_run = true;
    if (dir && host) {
        restore_arg_free(a);
        return gd_http_error(answer, 400, "InvalidParameter",
                             "give TargetDirectory and TargetPort (a new instance) or TargetHost, "
                             "TargetUser and TargetPasswordFile (an existing server), not both");
    }
    if (dir) {
        a->rq.new_instance = dir;
        a->rq.port = (unsigned)port;
    }
    return start_restore(s, p, a, "CheckCreateDdrDBInstance", answer);
}
