/* Restore drills run by the server (docs/drills.md): on the schedule that
 * an instance's drill = ... sets, or asked for with CreateRestoreDrill.  The
 * drill itself is command/drill.h's; this file decides when, keeps the
 * newest outcome (memory, state database, metrics, log) and runs one drill
 * at a time in the whole server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command/drill.h"
#include "common/log.h"
#include "common/util.h"
#include "server/api_intern.h"
#include "server/server_intern.h"

typedef struct drill_arg {
    gd_server *srv;
    gd_inst_rt *ir;
    char *region; /* NULL: home */
    int64_t started_s;
} drill_arg;

static void drill_arg_free(void *p)
{
    drill_arg *a = p;
    free(a->region);
    free(a);
}

/* The newest outcome: in memory, the state database, the log. */
static void drill_ended(drill_arg *a, int rc, const gd_drill_outcome *out, const gd_err *e)
{
    gd_server *s = a->srv;
    gd_inst_rt *ir = a->ir;
    pthread_mutex_lock(&s->mu);
    ir->drill_job[0] = '\0';
    ir->drill_last_s = a->started_s;
    ir->drill_last_ok = rc == 0;
    ir->drill_last_seconds = out->seconds;
    free(ir->drill_last_error);
    ir->drill_last_error = rc != 0 ? gd_strdup(e->msg) : NULL;
    if (rc != 0)
        ir->drill_failures++;
    pthread_mutex_unlock(&s->mu);
    gd_server_state_put_int(s, ir->name, "drill.last_s", a->started_s);
    gd_server_state_put_int(s, ir->name, "drill.last_ok", rc == 0);
    gd_server_state_put_int(s, ir->name, "drill.last_ms", (int64_t)(out->seconds * 1000));
    if (rc == 0)
        gd_server_log(GD_LOG_INFO, "drill_passed", ir->name,
                      "region=%s set=%s tables=%zu rows=%llu count_only=%zu transactions=%llu "
                      "seconds=%.1f",
                      out->region ? out->region : "", out->set_id, out->check.tables,
                      (unsigned long long)out->check.rows, out->check.no_digest, out->transactions,
                      out->seconds);
    else
        gd_server_log(GD_LOG_ERROR, "drill_failed", ir->name,
                      "region=%s set=%s seconds=%.1f error=%s",
                      out->region ? out->region : (a->region ? a->region : ""), out->set_id,
                      out->seconds, e->msg);
}

static int drill_job(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    drill_arg *a = arg;
    gd_cfg_ref *c = gd_server_cfg_get(a->srv);
    gd_command_ctx ctx = gd_server_job_ctx(c, job);
    /* under the state directory: the systemd unit lets the server write
     * there and nowhere else (contrib/geodr.service) */
    char *parent = gd_asprintf("%s/drills", c->cfg->server.state_dir);
    int rc = 0;
    if ((mkdir(parent, 0711) != 0 && errno != EEXIST) || chmod(parent, 0711) != 0)
        rc = gd_err_sys(err, errno, "cannot create the drills directory %s", parent);
    gd_drill_request rq = {.instance = a->ir->name, .region = a->region, .parent = parent};
    gd_drill_outcome out = {0};
    gd_server_log(GD_LOG_INFO, "drill_start", a->ir->name, "region=%s",
                  a->region ? a->region : "home");
    if (rc == 0)
        rc = gd_command_drill(&ctx, &rq, &out, err);
    drill_ended(a, rc, &out, err);
    if (rc == 0)
        *result =
            json_pack("{s:b, s:s, s:s, s:I, s:I, s:I, s:b, s:I, s:s, s:s, s:f}", "Passed", 1,
                      "RegionId", out.region ? out.region : "", "BackupSetId", out.set_id, "Tables",
                      (json_int_t)out.check.tables, "Rows", (json_int_t)out.check.rows,
                      "TablesCountOnly", (json_int_t)out.check.no_digest, "Replayed", out.replayed,
                      "Transactions", (json_int_t)out.transactions, "GtidPosition", out.gtid_pos,
                      "LastCommitTime", out.last_time, "Seconds", out.seconds);
    gd_command_drill_outcome_free(&out);
    free(parent);
    gd_cfg_put(c);
    return rc;
}

int gd_server_start_drill(gd_server *s, gd_inst_rt *ir, const char *region, char id[40],
                          gd_err *err)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ninst; i++)
        if (s->inst[i]->drill_job[0] != '\0') {
            int rc = gd_err_set(err, GD_E_BUSY,
                                "a restore drill of instance %s runs already (job %s): one "
                                "drill runs at a time; wait for it (DescribeJobs)",
                                s->inst[i]->name, s->inst[i]->drill_job);
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
    drill_arg *a = gd_calloc(1, sizeof *a);
    *a = (drill_arg){.srv = s,
                     .ir = ir,
                     .region = region ? gd_strdup(region) : NULL,
                     .started_s = gd_clock_now_s()};
    return gd_server_start_marked(s, ir->drill_job, "CreateRestoreDrill", ir->name, drill_job, a,
                                  drill_arg_free, id, err);
}

void gd_server_drill_tick(gd_server *s, gd_inst_rt *ir, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    /* due once the newest drill is an interval old; never before the
     * instance's first backup, nor beside a backup of it */
    bool due = ir->drill_every_s > 0 && ir->drill_job[0] == '\0' && ir->backup_job[0] == '\0' &&
               ir->hist.last_success_s > 0 && now - ir->drill_last_s >= ir->drill_every_s;
    pthread_mutex_unlock(&s->mu);
    if (!due)
        return;
    char id[40];
    gd_err e;
    gd_err_clear(&e);
    if (gd_server_start_drill(s, ir, NULL, id, &e) != 0 && e.code != GD_E_BUSY)
        gd_server_log(GD_LOG_ERROR, "drill_not_started", ir->name, "error=%s", e.msg);
}

void gd_server_drill_load(gd_server *s, gd_inst_rt *ir)
{
    int64_t last = gd_server_state_get_int(s, ir->name, "drill.last_s");
    bool ok = gd_server_state_get_int(s, ir->name, "drill.last_ok") != 0;
    int64_t ms = gd_server_state_get_int(s, ir->name, "drill.last_ms");
    pthread_mutex_lock(&s->mu);
    ir->drill_last_s = last;
    ir->drill_last_ok = ok;
    ir->drill_last_seconds = (double)ms / 1000;
    pthread_mutex_unlock(&s->mu);
}

int gd_api_create_restore_drill(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    const char *region = gd_param_str(p, "RegionId", false);
    int rc = gd_api_begin(s, p, name, answer);
    if (rc != 0)
        return rc;
    gd_inst_rt *ir = gd_server_inst(s, name);
    char id[40];
    gd_err e;
    gd_err_clear(&e);
    return gd_api_job_started(answer, gd_server_start_drill(s, ir, region, id, &e), id, name, &e);
}
