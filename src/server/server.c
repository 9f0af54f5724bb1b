/* geodr server: lifecycle, the per-instance archivers, the scheduler
 * (server.h, docs/server.md). */
#include "server/server.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command/archive.h"
#include "command/backup.h"
#include "command/copy.h"
#include "command/expire.h"
#include "command/info.h"
#include "command/open.h"
#include "command/release.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/retry.h"
#include "common/util.h"
#include "repo/repo.h"
#include "server/http.h"
#include "server/server_intern.h"

#define ARCHIVE_COMPACT_S 600 /* compaction passes of the server's archivers */
#define TICK_S 1.0            /* the scheduler looks this often */
#define STOP_WAIT_S 10.0      /* jobs get this long to stop at SIGTERM */
#define VIEWS_S                                                                                    \
    300.0 /* what the regions hold, read again for /metrics (every manifest: not often) */

/* ---- log lines ---- */

void gd_server_log(int level, const char *event, const char *instance, const char *fmt, ...)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_buf_appendf(&b, "event=");
    gd_log_kv_value(&b, event);
    if (instance) {
        gd_buf_appendf(&b, " instance=");
        gd_log_kv_value(&b, instance);
    }
    if (fmt && *fmt) {
        gd_buf_appendf(&b, " ");
        va_list ap;
        va_start(ap, fmt);
        gd_log_kv_vappend(&b, fmt, ap);
        va_end(ap);
    }
    gd_log_write((enum gd_log_level)level, b.data);
    gd_buf_free(&b);
}

/* ---- the config, shared ---- */

gd_cfg_ref *gd_server_cfg_get(gd_server *s)
{
    pthread_mutex_lock(&s->mu);
    gd_cfg_ref *c = s->cfg;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return c;
}

void gd_cfg_put(gd_cfg_ref *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        gd_config_free(c->cfg);
        free(c);
    }
}

static gd_cfg_ref *cfg_ref_new(gd_config *cfg)
{
    gd_cfg_ref *c = gd_calloc(1, sizeof *c);
    c->cfg = cfg;
    atomic_init(&c->refs, 1);
    return c;
}

gd_inst_rt *gd_server_inst(gd_server *s, const char *name)
{
    for (size_t i = 0; i < s->ninst; i++)
        if (s->inst[i]->configured && strcmp(s->inst[i]->name, name) == 0)
            return s->inst[i];
    return NULL;
}

gd_command_ctx gd_server_job_ctx(gd_cfg_ref *c, gd_job *job)
{
    return (gd_command_ctx){.cfg = c->cfg,
                            .cancel = gd_job_cancel_token(job),
                            .on_event = gd_job_on_event,
                            .event_ctx = job};
}

/* ---- the archivers ---- */

void gd_server_log_event(void *ctx, const gd_cmd_event *ev)
{
    const char *instance = ctx;
    if (ev->kind == GD_EVENT_WARNING)
        gd_server_log(GD_LOG_WARN, "warning", instance, "op=%s message=%s", ev->op,
                      ev->msg ? ev->msg : "");
}

/* When the region says the instance was released (0: it is not; -1: the
 * region or its record cannot be read now): how the server learns of a
 * release or an undo by another process (geodr release). */
static int64_t region_released_at(gd_inst_rt *ir)
{
    gd_cfg_ref *c = gd_server_cfg_get(ir->srv);
    const gd_instance_cfg *ic = NULL;
    int64_t at = 0;
    gd_err e;
    gd_err_clear(&e);
    bool read = gd_command_instance(c->cfg, ir->name, &ic, &e) == 0 &&
                gd_command_released_at(c->cfg, ic, NULL, &at, &e) == 0;
    gd_cfg_put(c);
    return read ? at : -1;
}

/* Keeps one instance's archiver running until arch_stop: a run that ends
 * (the source went away for longer than the archiver rides out, a lost
 * lock, another archiver holding the instance) is started again after a
 * pause that grows from 1 s to 5 min, and from 1 s again after a run that
 * lasted a minute. */
static void *archiver_main(void *arg)
{
    gd_inst_rt *ir = arg;
    gd_retry rt;
    gd_retry_start(&rt, &(gd_retry_policy){.first_ms = 1000, .max_ms = 300000, .jitter = true});
    while (!gd_cancel_requested(&ir->arch_stop)) {
        gd_cfg_ref *c = gd_server_cfg_get(ir->srv);
        gd_command_ctx ctx = {.cfg = c->cfg,
                              .cancel = &ir->arch_stop,
                              .on_event = gd_server_log_event,
                              .event_ctx = ir->name};
        gd_archive_request rq = {
            .instance = ir->name, .compact_every_s = ARCHIVE_COMPACT_S, .live = &ir->arch_live};
        gd_archive_outcome out = {0};
        gd_err e;
        gd_err_clear(&e);
        double t0 = gd_mono();
        atomic_store(&ir->arch_running, true);
        gd_server_log(GD_LOG_INFO, "archive_start", ir->name, NULL);
        int rc = gd_command_archive(&ctx, &rq, &out, &e);
        atomic_store(&ir->arch_running, false);
        gd_archive_outcome_free(&out);
        gd_cfg_put(c);
        if (gd_cancel_requested(&ir->arch_stop))
            break;
        int64_t released = rc == GD_E_STATE ? region_released_at(ir) : 0;
        if (released > 0) { /* by another process: this thread ends */
            atomic_store(&ir->released_us, released);
            gd_server_log(GD_LOG_INFO, "instance_released", ir->name,
                          "note=\"released in the region: not archived any more\"");
            break;
        }
        atomic_fetch_add(&ir->arch_restarts, 1);
        if (gd_mono() - t0 > 60)
            gd_retry_restart(&rt);
        long ms = gd_retry_next(&rt);
        gd_server_log(GD_LOG_WARN, "archive_stopped", ir->name, "retry_in_s=%ld error=%s",
                      ms / 1000, rc != 0 ? e.msg : "the archiver returned");
        if (gd_retry_sleep(ms, &ir->arch_stop))
            break;
    }
    gd_server_log(GD_LOG_INFO, "archive_end", ir->name, NULL);
    return NULL;
}

static void archiver_start(gd_inst_rt *ir)
{
    atomic_store(&ir->arch_stop.flag, false);
    ir->arch_started = pthread_create(&ir->arch_thread, NULL, archiver_main, ir) == 0;
    if (!ir->arch_started)
        gd_server_log(GD_LOG_ERROR, "archive_not_started", ir->name,
                      "error=\"no thread could be started\"");
}

static void archiver_stop(gd_inst_rt *ir)
{
    if (!ir->arch_started)
        return;
    gd_cancel_request(&ir->arch_stop);
    pthread_join(ir->arch_thread, NULL);
    ir->arch_started = false;
}

void gd_server_restart_archiver(gd_inst_rt *ir)
{
    pthread_mutex_lock(&ir->srv->arch_mu);
    if (ir->arch_started && ir->configured && atomic_load(&ir->released_us) == 0) {
        archiver_stop(ir);
        archiver_start(ir);
    }
    pthread_mutex_unlock(&ir->srv->arch_mu);
}

void gd_server_set_released(gd_inst_rt *ir, int64_t released_us)
{
    gd_server_view_invalidate(ir->srv, ir->name);
    pthread_mutex_lock(&ir->srv->arch_mu);
    int64_t was = atomic_exchange(&ir->released_us, released_us);
    if (ir->configured && released_us != 0) {
        archiver_stop(ir); /* nothing when it is not running */
    } else if (ir->configured && was != 0) {
        archiver_stop(ir); /* joins one that ended on finding the release */
        archiver_start(ir);
    }
    if ((was != 0) != (released_us != 0))
        gd_server_log(GD_LOG_INFO, released_us ? "instance_released" : "instance_unreleased",
                      ir->name, "note=\"%s\"",
                      released_us ? "not backed up or archived any more; its backups stay and "
                                    "expire by their retention"
                                  : "the release was undone: backed up and archived again");
    pthread_mutex_unlock(&ir->srv->arch_mu);
}

/* ---- backups ---- */

typedef struct backup_arg {
    gd_server *srv;
    gd_inst_rt *ir;
    bool on_demand;
    int64_t started_s;
} backup_arg;

void gd_server_state_put_int(gd_server *s, const char *instance, const char *key, int64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)v);
    gd_err e;
    gd_err_clear(&e);
    if (gd_state_set(s->state, instance, key, text, &e) != 0)
        gd_server_log(GD_LOG_WARN, "state_not_written", instance, "key=%s error=%s", key, e.msg);
}

/* After a backup attempt: the history the schedule reads, kept in memory
 * and in the state database. */
static void backup_ended(backup_arg *a, int rc, const gd_backup_outcome *out, const gd_err *e)
{
    gd_server *s = a->srv;
    gd_inst_rt *ir = a->ir;
    int64_t now = gd_clock_now_s();
    pthread_mutex_lock(&s->mu);
    ir->backup_job[0] = '\0';
    ir->hist.last_attempt_s = a->started_s;
    ir->hist.last_failed = rc != 0;
    free(ir->last_error);
    ir->last_error = rc != 0 ? gd_strdup(e->msg) : NULL;
    if (rc == 0) {
        ir->hist.last_success_s = now;
        ir->last_duration_s = out->set.seconds;
        ir->next_expire_s = now + GD_EXPIRE_EVERY_S; /* the backup ran retention */
    } else {
        ir->failures++;
    }
    gd_backup_history h = ir->hist;
    pthread_mutex_unlock(&s->mu);
    gd_server_view_invalidate(ir->srv, ir->name); /* the next Describe reads the new set */
    if (s->views)
        gd_periodic_kick(s->views);
    gd_server_state_put_int(s, ir->name, "backup.last_attempt_s", h.last_attempt_s);
    gd_server_state_put_int(s, ir->name, "backup.last_failed", h.last_failed);
    gd_server_state_put_int(s, ir->name, "backup.last_success_s", h.last_success_s);
    if (rc == 0)
        gd_server_log(GD_LOG_INFO, "backup_done", ir->name,
                      "set=%s seconds=%.1f rows=%llu stored_bytes=%llu copies_failed=%d",
                      out->set.set_id, out->set.seconds, out->set.rows, out->set.stored_bytes,
                      out->copies.failed);
    else
        gd_server_log(GD_LOG_ERROR, "backup_failed", ir->name, "retry_in_s=%lld error=%s",
                      (long long)s->retry_s, e->msg);
}

static int backup_job(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    backup_arg *a = arg;
    gd_cfg_ref *c = gd_server_cfg_get(a->srv);
    gd_command_ctx ctx = gd_server_job_ctx(c, job);
    gd_backup_request rq = {.instance = a->ir->name, .on_demand = a->on_demand};
    gd_backup_outcome out = {0};
    gd_server_log(GD_LOG_INFO, "backup_start", a->ir->name, "on_demand=%s",
                  a->on_demand ? "yes" : "no");
    int rc = gd_command_backup(&ctx, &rq, &out, err);
    backup_ended(a, rc, &out, err);
    int64_t released = rc == GD_E_STATE ? region_released_at(a->ir) : 0;
    if (released > 0) /* by another process */
        gd_server_set_released(a->ir, released);
    if (rc == 0)
        *result =
            json_pack("{s:s, s:s, s:I, s:I, s:f, s:i}", "BackupSetId", out.set.set_id, "RegionId",
                      out.region ? out.region : "", "Rows", (json_int_t)out.set.rows, "StoredBytes",
                      (json_int_t)out.set.stored_bytes, "Seconds", out.set.seconds, "CopiesFailed",
                      out.copies.failed);
    gd_backup_outcome_free(&out);
    gd_cfg_put(c);
    return rc;
}

int gd_server_start_backup(gd_server *s, gd_inst_rt *ir, bool on_demand, char id[40], gd_err *err)
{
    int64_t released = atomic_load(&ir->released_us);
    if (released != 0) {
        char when[32];
        gd_fmt_time(released, false, when, sizeof when);
        return gd_err_set(err, GD_E_STATE,
                          "instance %s was released at %s UTC (ReleaseInstance): it is no longer "
                          "backed up; its backups stay restorable until they expire. To protect "
                          "it again: geodr release %s --undo",
                          ir->name, when, ir->name);
    }
    pthread_mutex_lock(&s->mu);
    if (ir->backup_job[0] != '\0') {
        int rc = gd_err_set(err, GD_E_BUSY,
                            "a backup of instance %s runs already (job %s): wait for it "
                            "(DescribeJobs) or cancel it (CancelJob)",
                            ir->name, ir->backup_job);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    backup_arg *a = gd_calloc(1, sizeof *a);
    *a = (backup_arg){.srv = s, .ir = ir, .on_demand = on_demand, .started_s = gd_clock_now_s()};
    return gd_server_start_marked(s, ir->backup_job, "CreateBackup", ir->name, backup_job, a, free,
                                  id, err);
}

int gd_server_start_marked(gd_server *s, char mark[40], const char *operation, const char *instance,
                           gd_job_fn fn, void *arg, void (*arg_free)(void *), char id[40],
                           gd_err *err)
{
    /* marked before the thread starts, so that it cannot end first */
    snprintf(mark, 40, "starting");
    pthread_mutex_unlock(&s->mu);
    int rc = gd_jobs_start(s->jobs, operation, instance, fn, arg, arg_free, id, err);
    pthread_mutex_lock(&s->mu);
    if (rc == 0 && strcmp(mark, "starting") == 0)
        snprintf(mark, 40, "%s", id);
    else if (rc != 0)
        mark[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- retention, and the copies caught up ---- */

/* The copy regions brought up to date with the home region: a set copy
 * that a kill, a stop or a region outage cut short completes here (at start
 * and hourly), not only after the next daily backup.  Returns the number of
 * regions that failed (each logged). */
static int copy_catch_up(const gd_command_ctx *ctx, const gd_instance_cfg *ic,
                         const gd_instance_cfg *eff)
{
    if (!eff->cross_region_backup || eff->n_copy_regions == 0)
        return 0;
    gd_copy_report rep = {0};
    gd_err e;
    gd_err_clear(&e);
    int failed = gd_command_copy(ctx, ic->name, 0, &rep, &e) != 0 ? 1 : rep.failed;
    for (size_t i = 0; i < rep.n; i++)
        if (!rep.v[i].ok)
            gd_server_log(GD_LOG_WARN, "copy_failed", ic->name, "region=%s error=%s",
                          rep.v[i].region, rep.v[i].error ? rep.v[i].error : "");
    if (rep.n == 0 && failed > 0)
        gd_server_log(GD_LOG_WARN, "copy_failed", ic->name, "error=%s", e.msg);
    gd_copy_report_free(&rep);
    return failed;
}

static int expire_job(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    gd_inst_rt *ir = arg;
    gd_cfg_ref *c = gd_server_cfg_get(ir->srv);
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(c->cfg, ir->name, &ic, err);
    if (rc == 0) {
        gd_command_ctx ctx = gd_server_job_ctx(c, job);
        gd_instance_cfg eff; /* the policy in effect (repo/policy.h), read once */
        gd_policy pol;
        gd_command_policy_in_effect(&ctx, "expire", ic, NULL, &eff, &pol);
        int copies_failed = copy_catch_up(&ctx, ic, &eff);
        json_t *report = json_array();
        int failed = gd_command_expire_instance_as(&ctx, ic, &eff, &pol, false, false, report);
        gd_policy_free(&pol);
        *result = json_pack("{s:o, s:i}", "Regions", report, "CopiesFailed", copies_failed);
        /* a release (or its undo) by another process, followed hourly */
        int64_t released = region_released_at(ir);
        if (released >= 0 && released != atomic_load(&ir->released_us))
            gd_server_set_released(ir, released);
        if (failed > 0)
            rc = gd_err_set(err, GD_E_IO, "retention failed in %d region(s) of instance %s", failed,
                            ir->name);
        else if (copies_failed > 0)
            rc = gd_err_set(err, GD_E_IO,
                            "copying instance %s to %d copy region(s) failed (logged): "
                            "retried within the hour",
                            ir->name, copies_failed);
    }
    gd_server_view_invalidate(ir->srv, ir->name); /* sets expired, copies made */
    gd_cfg_put(c);
    return rc;
}

/* ---- the scheduler ---- */

int64_t gd_server_state_get_int(gd_server *s, const char *instance, const char *key)
{
    char *v = NULL;
    gd_err e;
    gd_err_clear(&e);
    int64_t out = 0;
    if (gd_state_get(s->state, instance, key, &v, &e) == 0 && v)
        out = strtoll(v, NULL, 10);
    free(v);
    return out;
}

/* The newest set's end in the home region: the region, not the state
 * database, says whether an instance has a backup (the database is a cache
 * that may have been deleted). */
static int64_t newest_set_end(const gd_config *cfg, const char *instance)
{
    const gd_instance_cfg *ic = NULL;
    gd_repo *repo = NULL;
    gd_set *sets = NULL;
    size_t n = 0;
    int64_t end = 0;
    gd_err e;
    gd_err_clear(&e);
    if (gd_command_instance(cfg, instance, &ic, &e) == 0 &&
        gd_command_open_repo(cfg, ic, NULL, false, &repo, &e) == 0 &&
        gd_repo_load_sets(repo, &sets, &n, NULL, &e) == 0 && n > 0)
        end = sets[n - 1].end_s;
    if (e.code != GD_OK && e.code != GD_E_NOTFOUND)
        gd_server_log(GD_LOG_WARN, "home_region_unreadable", instance, "error=%s", e.msg);
    gd_repo_sets_free(sets, n);
    gd_repo_close(repo);
    return end;
}

/* What an instance's history is at start: the state database's memory of
 * attempts, and the region's newest set. */
static void load_history(gd_server *s, gd_inst_rt *ir, const gd_config *cfg)
{
    gd_backup_history h = {
        .last_attempt_s = gd_server_state_get_int(s, ir->name, "backup.last_attempt_s"),
        .last_failed = gd_server_state_get_int(s, ir->name, "backup.last_failed") != 0,
        .last_success_s = newest_set_end(cfg, ir->name),
    };
    if (h.last_success_s > h.last_attempt_s)
        h.last_failed = false; /* a backup made elsewhere (the CLI) since */
    pthread_mutex_lock(&s->mu);
    ir->hist = h;
    pthread_mutex_unlock(&s->mu);
    gd_server_drill_load(s, ir);
}

/* Applies an instance's config to its runtime (window). */
static void apply_config(gd_inst_rt *ir, const gd_instance_cfg *ic)
{
    if (ic->backup_window_set)
        ir->window = ic->backup_window;
    else
        gd_backup_window_default(ir->name, &ir->window);
    ir->drill_every_s = ic->drill_every_s;
}

static void tick_instance(gd_server *s, gd_inst_rt *ir, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    bool busy = ir->backup_job[0] != '\0';
    int64_t due = atomic_load(&ir->released_us) != 0
                      ? INT64_MAX /* released: retention only */
                      : gd_backup_next(&ir->window, &ir->hist, now, s->retry_s);
    /* a backup due now runs retention itself */
    bool expire = !busy && due > now && now >= ir->next_expire_s;
    if (expire)
        ir->next_expire_s = now + GD_EXPIRE_EVERY_S;
    pthread_mutex_unlock(&s->mu);
    char id[40];
    gd_err e;
    gd_err_clear(&e);
    if (!busy && due <= now && gd_server_start_backup(s, ir, false, id, &e) != 0 &&
        e.code != GD_E_BUSY)
        gd_server_log(GD_LOG_ERROR, "backup_not_started", ir->name, "error=%s", e.msg);
    gd_err_clear(&e);
    if (expire && gd_jobs_start(s->jobs, "Expire", ir->name, expire_job, ir, NULL, id, &e) != 0)
        gd_server_log(GD_LOG_WARN, "expire_not_started", ir->name, "error=%s", e.msg);
    /* scheduled drills for protected instances only (CreateRestoreDrill
     * still drills a released one's kept backups) */
    if (!busy && due > now && atomic_load(&ir->released_us) == 0)
        gd_server_drill_tick(s, ir, now);
}

/* Retention of the released instances (command/expire.h), hourly. */
static int expire_released_job(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    gd_server *s = arg;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = gd_server_job_ctx(c, job);
    json_t *report = json_array();
    int failed = gd_command_expire_released(&ctx, false, report);
    *result = json_pack("{s:o}", "Regions", report);
    gd_cfg_put(c);
    return failed > 0 ? gd_err_set(err, GD_E_IO,
                                   "retention of released instances failed in %d region(s)", failed)
                      : 0;
}

static void tick(void *ctx, gd_periodic_call *call)
{
    (void)call;
    gd_server *s = ctx;
    int64_t now = gd_clock_now_s();
    if (now >= s->next_released_s) {
        s->next_released_s = now + GD_EXPIRE_EVERY_S;
        char id[40];
        gd_err e;
        gd_err_clear(&e);
        if (gd_jobs_start(s->jobs, "ExpireReleased", NULL, expire_released_job, s, NULL, id, &e) !=
            0)
            gd_server_log(GD_LOG_WARN, "expire_not_started", NULL, "error=%s", e.msg);
    }
    pthread_mutex_lock(&s->mu);
    size_t n = s->ninst;
    gd_inst_rt **v = s->inst;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        if (v[i]->configured)
            tick_instance(s, v[i], now);
}

/* ---- what the regions hold: each instance's info document ---- */

static int info_read(gd_server *s, const char *instance, const char *region, json_t **doc,
                     gd_err *err)
{
    (void)region;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg};
    json_t *all = NULL, *released = NULL;
    int rc = gd_command_info(&ctx, instance, false, &all, &released, err);
    *doc = rc == 0 ? json_incref(json_array_get(all, 0)) : NULL;
    json_decref(all);
    json_decref(released);
    gd_cfg_put(c);
    return rc;
}

int gd_server_info_doc(gd_server *s, const char *instance, double max_age_s, json_t **doc,
                       gd_err *err)
{
    /* a configured instance's through its view; any other name (a released
     * instance, or none) read now: a view for every name asked would grow */
    if (gd_server_inst(s, instance) == NULL)
        return info_read(s, instance, NULL, doc, err);
    return gd_server_view_get(s, "info", instance, NULL, max_age_s, info_read, doc, err);
}

/* The view thread (server/view.c): every five minutes, every configured
 * instance's info document read again (for /metrics), and at once, when
 * kicked, whatever a caller found too old or a change made stale. */
static void refresh_views(void *ctx, gd_periodic_call *call)
{
    (void)call;
    gd_server *s = ctx;
    /* the runtimes live as long as the server; the array may grow (reload) */
    pthread_mutex_lock(&s->mu);
    size_t n = s->ninst;
    gd_inst_rt **v = gd_calloc(n + 1, sizeof *v);
    memcpy(v, s->inst, n * sizeof *v);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) { /* each read again, unless younger than 30 s */
        json_t *doc = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (v[i]->configured && gd_server_info_doc(s, v[i]->name, VIEWS_S, &doc, &e) == 0)
            json_decref(doc);
    }
    free(v);
    gd_server_views_refresh(s);
    /* what the reads and the jobs freed goes back to the system, instead of
     * staying in glibc's arenas for the server's life */
    malloc_trim(0);
}

/* ---- instances, the config, reloads ---- */

static gd_inst_rt *inst_new(gd_server *s, const char *name)
{
    gd_inst_rt *ir = gd_calloc(1, sizeof *ir);
    ir->name = gd_strdup(name);
    ir->srv = s;
    s->inst = gd_realloc(s->inst, (s->ninst + 1) * sizeof *s->inst);
    s->inst[s->ninst++] = ir;
    return ir;
}

static void inst_free(gd_inst_rt *ir)
{
    free(ir->name);
    free(ir->last_error);
    free(ir->drill_last_error);
    free(ir);
}

/* Makes the runtimes match cfg: new instances get one (history loaded,
 * archiver started), removed ones stop, and every archiver restarts under
 * the new config.  Called with the scheduler stopped. */
static void apply_instances(gd_server *s, const gd_config *cfg)
{
    pthread_mutex_lock(&s->arch_mu);
    for (size_t i = 0; i < s->ninst; i++)
        archiver_stop(s->inst[i]);
    for (size_t i = 0; i < s->ninst; i++)
        s->inst[i]->configured = false;
    for (size_t k = 0; k < cfg->n_instances; k++) {
        const gd_instance_cfg *ic = &cfg->instances[k];
        gd_inst_rt *ir = NULL;
        for (size_t i = 0; i < s->ninst && ir == NULL; i++)
            if (strcmp(s->inst[i]->name, ic->name) == 0)
                ir = s->inst[i];
        bool fresh = ir == NULL;
        if (fresh)
            ir = inst_new(s, ic->name);
        ir->configured = true;
        apply_config(ir, ic);
        if (fresh)
            load_history(s, ir, cfg);
        /* the region says whether it is released (an unreadable region:
         * as it was; the archiver itself refuses a released instance) */
        int64_t released = region_released_at(ir);
        if (released >= 0)
            atomic_store(&ir->released_us, released);
        if (atomic_load(&ir->released_us) == 0)
            archiver_start(ir);
        char w[16];
        gd_backup_window_format(&ir->window, w, sizeof w);
        gd_server_log(GD_LOG_INFO, "instance", ir->name, "backup_window=%s home_region=%s%s", w,
                      ic->home_region, atomic_load(&ir->released_us) ? " released=yes" : "");
    }
    for (size_t i = 0; i < s->ninst; i++)
        if (!s->inst[i]->configured)
            gd_server_log(GD_LOG_INFO, "instance_removed", s->inst[i]->name,
                          "note=\"no longer in the config: not backed up; its backups stay\"");
    pthread_mutex_unlock(&s->arch_mu);
}

static void reload(gd_server *s, gd_periodic **sched)
{
    gd_config *cfg = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_config_load(s->config_path, &cfg, &e) != 0) {
        gd_server_log(GD_LOG_ERROR, "reload_failed", NULL,
                      "error=%s note=\"the previous config stays in effect\"", e.msg);
        return;
    }
    gd_periodic_stop(*sched);
    *sched = NULL;
    gd_server_view_invalidate(s, NULL); /* regions, keys, instances may have changed */
    gd_cfg_ref *old;
    pthread_mutex_lock(&s->mu);
    old = s->cfg;
    s->cfg = cfg_ref_new(cfg);
    pthread_mutex_unlock(&s->mu);
    gd_cfg_put(old);
    apply_instances(s, cfg);
    gd_server_log(GD_LOG_INFO, "reloaded", NULL, "config=%s instances=%zu", s->config_path,
                  cfg->n_instances);
    if (gd_periodic_start(TICK_S, 0, tick, s, sched) != 0)
        gd_server_log(GD_LOG_ERROR, "scheduler_not_started", NULL, NULL);
}

/* ---- start and stop ---- */

/* The API token: the first line of the token file, at least 16 characters. */
static int read_token(const char *file, char **out, gd_err *err)
{
    char *text = NULL;
    int rc = gd_read_secret_file(file, &text, err);
    if (rc != 0) {
        gd_err_prefix(err, "cannot read the API token ([server] token-file)");
        return rc;
    }
    if (strlen(text) < 16) {
        gd_wipe(text, strlen(text));
        free(text);
        return gd_err_set(err, GD_E_INVALID,
                          "the API token in %s is shorter than 16 characters: write a long "
                          "random one, e.g. 'openssl rand -hex 32 > %s'",
                          file, file);
    }
    *out = text;
    return 0;
}

static int server_open(gd_server *s, const char *config_path, gd_err *err)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->arch_mu, NULL);
    pthread_cond_init(&s->view_cv, NULL);
    s->config_path = gd_strdup(config_path);
    s->started_s = gd_clock_now_s();
    gd_config *cfg = NULL;
    int rc = gd_config_load(config_path, &cfg, err);
    if (rc != 0)
        return rc;
    s->cfg = cfg_ref_new(cfg);
    const gd_server_cfg *sc = &cfg->server;
    if (sc->token_file == NULL)
        return gd_err_set(err, GD_E_INVALID,
                          "%s: geodr server needs a [server] section with token-file = FILE (a "
                          "file holding the API token; docs/server.md)",
                          config_path);
    s->retry_s = sc->backup_retry_s;
    char *token = NULL;
    if ((rc = read_token(sc->token_file, &token, err)) != 0)
        return rc;
    /* opening marks the jobs an earlier run left running as interrupted */
    if ((rc = gd_state_open(sc->state_dir, &s->state, err)) == 0) {
        s->jobs = gd_jobs_new(s->state, (size_t)sc->max_jobs);
        gd_http_opts ho = {.listen = sc->listen,
                           .token = token,
                           .tls_cert_file = sc->tls_cert_file,
                           .tls_key_file = sc->tls_key_file,
                           .api = gd_server_api,
                           .api_ctx = s,
                           .metrics = gd_server_metrics,
                           .metrics_ctx = s};
        unsigned port = 0;
        rc = gd_http_start(&ho, &s->http, &port, err);
        if (rc == 0)
            gd_server_log(GD_LOG_INFO, "listening", NULL, "address=%s port=%u tls=%s", sc->listen,
                          port, sc->tls_cert_file ? "yes" : "no");
    }
    gd_wipe(token, strlen(token));
    free(token);
    return rc;
}

/* Frees everything the server owns, what its jobs use included.  Run by
 * the job registry (server/jobs.h) once the last job has ended: a job that
 * outlived the stop wait never sees any of it freed. */
static void server_free(void *ctx)
{
    gd_server *s = ctx;
    gd_periodic_stop(s->views);
    for (size_t i = 0; i < s->ninst; i++)
        inst_free(s->inst[i]);
    free(s->inst);
    gd_state_close(s->state);
    gd_cfg_put(s->cfg);
    free(s->config_path);
    pthread_mutex_destroy(&s->arch_mu);
    gd_server_views_free(s);
    pthread_cond_destroy(&s->view_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Stops the API, the archivers and the jobs, and hands s to the job
 * registry to free.  Returns how many jobs still run: they own s now. */
static size_t server_close(gd_server *s)
{
    gd_http_stop(s->http); /* no new calls, no new jobs from the API */
    s->http = NULL;
    /* archivers and jobs are told at once, then waited for */
    for (size_t i = 0; i < s->ninst; i++)
        if (s->inst[i]->arch_started)
            gd_cancel_request(&s->inst[i]->arch_stop);
    if (s->views) /* no refresh starts; a backup's end may still kick it */
        gd_periodic_request_stop(s->views);
    if (s->jobs)
        gd_jobs_stop(s->jobs, STOP_WAIT_S);
    pthread_mutex_lock(&s->arch_mu);
    for (size_t i = 0; i < s->ninst; i++)
        archiver_stop(s->inst[i]);
    pthread_mutex_unlock(&s->arch_mu);
    return gd_jobs_free(s->jobs, server_free, s);
}

int gd_server_run(const char *config_path, gd_cancel *stop, atomic_bool *reload_flag, gd_err *err)
{
    /* At most four malloc arenas: with one per thread (jobs, readers, the
     * API's), what a burst of region reads freed stayed in arenas no thread
     * used again (bench/server-soak: 69 -> 211 MiB in ten minutes). */
    mallopt(M_ARENA_MAX, 4);
    /* on the heap: jobs left running when this returns keep using it */
    gd_server *s = gd_calloc(1, sizeof *s);
    int rc = server_open(s, config_path, err);
    gd_periodic *sched = NULL;
    if (rc == 0) {
        gd_server_log(GD_LOG_INFO, "started", NULL, "config=%s instances=%zu", config_path,
                      s->cfg->cfg->n_instances);
        apply_instances(s, s->cfg->cfg);
        if (gd_periodic_start(TICK_S, 0, tick, s, &sched) != 0 ||
            gd_periodic_start(VIEWS_S, GD_PERIODIC_AT_ONCE, refresh_views, s, &s->views) != 0)
            rc = gd_err_set(err, GD_E_NOMEM, "cannot start the scheduler threads");
    }
    while (rc == 0 && !gd_cancel_requested(stop)) {
        if (reload_flag && atomic_exchange(reload_flag, false))
            reload(s, &sched);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc == 0)
        gd_server_log(GD_LOG_INFO, "stopping", NULL, NULL);
    gd_periodic_stop(sched);
    size_t left = server_close(s);
    if (rc == 0)
        gd_server_log(GD_LOG_INFO, "stopped", NULL, "jobs_left_running=%zu", left);
    if (left > 0) {
        /* The jobs still hold the server and the libraries they call: no
         * exit handler (OpenSSL's cleanup, the sanitizers') may run under
         * them.  What they did not commit does not exist (commit-last); the
         * next start marks them interrupted. */
        fflush(NULL);
        _exit(rc == 0 ? 0 : 1);
    }
    return rc;
}
