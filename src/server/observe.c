/* What the server shows of itself: /metrics and DescribeServerStatus
 * (geodr status; docs/api.md, docs/server.md). */
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

/* ---- metrics ---- */

/* A label value escaped for the Prometheus text format. */
static void label(gd_buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            gd_buf_appendf(b, "\\%c", *p);
        else if (*p == '\n')
            gd_buf_appendf(b, "\\n");
        else
            gd_buf_appendf(b, "%c", *p);
    }
}

static void metric_head(gd_buf *b, const char *name, const char *type, const char *help)
{
    gd_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{instance, region[, kind]} v. */
static void sample(gd_buf *b, const char *name, const char *instance, const char *region,
                   const char *kind, double v)
{
    gd_buf_appendf(b, "%s{instance=\"", name);
    label(b, instance);
    gd_buf_appendf(b, "\",region=\"");
    label(b, region);
    if (kind)
        gd_buf_appendf(b, "\",kind=\"%s", kind);
    gd_buf_appendf(b, "\"} %.17g\n", v);
}

/* The figures of the server's own runtime (under s->mu). */
static void runtime_metrics(gd_server *s, const gd_config *cfg, gd_buf *b)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"geodr_backup_last_success_timestamp_seconds", "gauge",
         "End of the newest successful backup (Unix seconds; 0: none)"},
        {"geodr_backup_last_duration_seconds", "gauge", "Duration of the newest successful backup"},
        {"geodr_backup_failures_total", "counter",
         "Failed backup attempts since the server started"},
        {"geodr_backup_last_failed", "gauge", "1 while the newest backup attempt failed"},
        {"geodr_archive_running", "gauge", "1 while the binlog archiver runs"},
        {"geodr_archive_restarts_total", "counter",
         "Times the archiver stopped and was started again"},
        {"geodr_archive_lag_seconds", "gauge",
         "How much of what the source committed the home region may not hold yet (seconds)"},
        {"geodr_drill_last_timestamp_seconds", "gauge",
         "Start of the newest restore drill (Unix seconds; 0: none)"},
        {"geodr_drill_last_duration_seconds", "gauge", "Duration of the newest restore drill"},
        {"geodr_drill_last_failed", "gauge", "1 while the newest restore drill failed"},
        {"geodr_drill_failures_total", "counter", "Failed restore drills since the server started"},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        metric_head(b, m[k].name, m[k].type, m[k].help);
        for (size_t i = 0; i < s->ninst; i++) {
            const gd_inst_rt *ir = s->inst[i];
            const gd_instance_cfg *ic = NULL;
            if (!ir->configured || gd_command_instance(cfg, ir->name, &ic, NULL) != 0)
                continue;
            double v[] = {(double)ir->hist.last_success_s,
                          ir->last_duration_s,
                          (double)ir->failures,
                          ir->hist.last_failed ? 1 : 0,
                          atomic_load(&ir->arch_running) ? 1 : 0,
                          (double)atomic_load(&ir->arch_restarts),
                          gd_archive_lag_s(&ir->arch_live, gd_now_us()),
                          (double)ir->drill_last_s,
                          ir->drill_last_seconds,
                          ir->drill_last_s && !ir->drill_last_ok ? 1 : 0,
                          (double)ir->drill_failures};
            sample(b, m[k].name, ir->name, ic->home_region, NULL, v[k]);
        }
    }
}

/* The figures of what one region holds (its part of an instance's view). */
static void region_samples(gd_buf *b, int k, const char *instance, json_t *r, bool copy)
{
    const char *region = gd_json_str(r, "region", "");
    json_t *a = json_object_get(r, "archive"), *w = json_object_get(a, "windows"), *set;
    json_t *lastw = json_array_get(w, json_array_size(w) - 1);
    json_t *lag = json_object_get(r, "lag");
    long long sets = 0;
    size_t i;
    json_array_foreach(json_object_get(r, "sets"), i, set) sets +=
        gd_json_int(set, "stored_bytes", 0);
    switch (k) {
    case 0:
        sample(b, "geodr_region_readable", instance, region, NULL,
               json_object_get(r, "error") ? 0 : 1);
        break;
    case 1:
        sample(b, "geodr_backup_storage_bytes", instance, region, "backup", (double)sets);
        sample(b, "geodr_backup_storage_bytes", instance, region, "log",
               (double)gd_json_int(a, "stored_bytes", 0));
        break;
    case 2:
        if (lastw)
            sample(b, "geodr_recovery_window_start_timestamp_seconds", instance, region, NULL,
                   (double)gd_json_int(lastw, "from_s", 0));
        break;
    case 3:
        if (lastw)
            sample(b, "geodr_recovery_window_end_timestamp_seconds", instance, region, NULL,
                   (double)gd_json_int(lastw, "to_s", 0));
        break;
    case 4:
        if (gd_json_int(a, "segments", 0) > 0)
            sample(b, "geodr_archive_last_commit_timestamp_seconds", instance, region, NULL,
                   (double)gd_json_int(a, "last_time_s", 0));
        break;
    case 5:
        if (copy && json_is_integer(json_object_get(lag, "sets_seconds")))
            sample(b, "geodr_copy_lag_seconds", instance, region, "sets",
                   (double)gd_json_int(lag, "sets_seconds", 0));
        if (copy && lag)
            sample(b, "geodr_copy_lag_seconds", instance, region, "log",
                   (double)gd_json_int(lag, "log_seconds", 0));
        break;
    case 6:
        if (copy && lag)
            sample(b, "geodr_copy_lag_bytes", instance, region, NULL,
                   (double)gd_json_int(lag, "bytes", 0));
        break;
    }
}

/* The figures of what the regions hold, from each instance's view (read
 * every five minutes and after each backup: the scrape reads no region). */
static void region_metrics(gd_server *s, gd_buf *b)
{
    static const struct {
        const char *name, *help;
    } m[] = {
        {"geodr_region_readable", "1 when the region could be read at the last look"},
        {"geodr_backup_storage_bytes", "Bytes stored in the region (kind: backup sets, log)"},
        {"geodr_recovery_window_start_timestamp_seconds",
         "Start of the newest recovery window the region gives (Unix seconds)"},
        {"geodr_recovery_window_end_timestamp_seconds",
         "End of the newest recovery window the region gives (Unix seconds)"},
        {"geodr_archive_last_commit_timestamp_seconds",
         "Commit time of the newest transaction archived in the region"},
        {"geodr_copy_lag_seconds", "How far the copy region is behind home (kind: sets, log)"},
        {"geodr_copy_lag_bytes", "Stored bytes of binlog the copy region does not hold yet"},
    };
    pthread_mutex_lock(&s->mu);
    size_t n = s->ninst;
    json_t **views = gd_calloc(n + 1, sizeof *views);
    const char **names = gd_calloc(n + 1, sizeof *names);
    bool *configured = gd_calloc(n + 1, sizeof *configured);
    for (size_t i = 0; i < n; i++) {
        configured[i] = s->inst[i]->configured;
        names[i] = s->inst[i]->name; /* runtimes live as long as the server */
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        char *key = gd_server_view_key("info", names[i], NULL);
        views[i] = configured[i] ? gd_server_view_peek(s, key) : NULL;
        free(key);
    }
    free(configured);
    for (int k = 0; k < (int)(sizeof m / sizeof m[0]); k++) {
        metric_head(b, m[k].name, "gauge", m[k].help);
        for (size_t i = 0; i < n; i++) {
            if (views[i] == NULL)
                continue;
            region_samples(b, k, names[i], views[i], false);
            size_t j;
            json_t *c;
            json_array_foreach(json_object_get(views[i], "copies"), j, c)
                region_samples(b, k, names[i], c, true);
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(views[i]);
    free(views);
    free(names);
}

char *gd_server_metrics(void *ctx)
{
    gd_server *s = ctx;
    gd_buf b;
    gd_buf_init(&b, 0);
    gd_cfg_ref *c = gd_server_cfg_get(s);
    pthread_mutex_lock(&s->mu);
    runtime_metrics(s, c->cfg, &b);
    pthread_mutex_unlock(&s->mu);
    gd_cfg_put(c);
    region_metrics(s, &b);
    metric_head(&b, "geodr_jobs_running", "gauge", "Jobs running now");
    gd_buf_appendf(&b, "geodr_jobs_running %zu\n", gd_jobs_running(s->jobs));
    return b.data;
}

/* ---- DescribeServerStatus (geodr status) ---- */

/* Into it: "CopyRegions", the instance's copy regions and how far each is
 * behind its home region (the info document's "lag"); when the home region
 * cannot be read, an empty list and "CopyRegionsError". */
static void status_copies(gd_server *s, json_t *it)
{
    json_t *doc = NULL, *err = NULL, *out = json_array();
    json_object_set_new(it, "CopyRegions", out);
    if (gd_api_doc(s, gd_json_str(it, "DBInstanceId", ""), &doc, &err) != 0) {
        json_object_set(it, "CopyRegionsError", json_object_get(err, "Message"));
        json_decref(err);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "copies"), i, c)
    {
        json_t *lag = json_object_get(c, "lag");
        json_t *r = json_pack("{s:s, s:I}", "RegionId", gd_json_str(c, "region", ""), "Sets",
                              (json_int_t)json_array_size(json_object_get(c, "sets")));
        json_object_set(r, "SetsLagSeconds", json_object_get(lag, "sets_seconds"));
        json_object_set(r, "LogLagSeconds", json_object_get(lag, "log_seconds"));
        json_object_set(r, "LagBytes", json_object_get(lag, "bytes"));
        if (json_object_get(c, "error"))
            json_object_set(r, "Error", json_object_get(c, "error"));
        json_array_append_new(out, r);
    }
    json_decref(doc);
}

/* What the server does for each configured instance now: its archiver, its
 * newest backup and the next one, its running jobs, its copy regions' lag. */
int gd_api_describe_server_status(gd_server *s, gd_params *p, json_t **answer)
{
    int rc = gd_params_end(p);
    if (rc != 0)
        return rc;
    json_t *jobs = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_jobs_describe(s->jobs, NULL, 0, &jobs, &e) != 0)
        return gd_api_fail(answer, &e);
    int64_t now = (int64_t)time(NULL);
    json_t *items = json_array();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ninst; i++) {
        const gd_inst_rt *ir = s->inst[i];
        if (!ir->configured)
            continue;
        char w[16];
        gd_backup_window_format(&ir->window, w, sizeof w);
        int64_t next = gd_backup_next(&ir->window, &ir->hist, now, s->retry_s);
        json_t *it = json_pack(
            "{s:s, s:b, s:I, s:o, s:b, s:o, s:f, s:I, s:o, s:s}", "DBInstanceId", ir->name,
            "ArchiverRunning", atomic_load(&ir->arch_running), "ArchiverRestarts",
            (json_int_t)atomic_load(&ir->arch_restarts), "LastBackupTime",
            ir->hist.last_success_s ? gd_api_time(ir->hist.last_success_s) : json_null(),
            "LastBackupFailed", ir->hist.last_failed, "LastError",
            ir->last_error ? json_string(ir->last_error) : json_null(), "LastBackupDurationSeconds",
            ir->last_duration_s, "BackupFailures", (json_int_t)ir->failures, "NextBackupTime",
            gd_api_time(next > now ? next : now), "BackupWindow", w);
        if (ir->drill_last_s)
            json_object_set_new(
                it, "LastDrill",
                json_pack("{s:o, s:b, s:f, s:o}", "Time", gd_api_time(ir->drill_last_s), "Passed",
                          ir->drill_last_ok, "DurationSeconds", ir->drill_last_seconds, "Error",
                          ir->drill_last_error ? json_string(ir->drill_last_error) : json_null()));
        json_t *running = json_array();
        size_t k;
        json_t *j;
        json_array_foreach(json_object_get(jobs, "Jobs"), k, j)
        {
            if (strcmp(gd_json_str(j, "Status", ""), "Running") == 0 &&
                strcmp(gd_json_str(j, "DBInstanceId", ""), ir->name) == 0)
                json_array_append(running, j);
        }
        json_object_set_new(it, "RunningJobs", running);
        int64_t released = atomic_load(&ir->released_us); /* command/release.h */
        json_object_set_new(it, "ReleaseTime",
                            released ? gd_api_time(released / 1000000) : json_null());
        if (released)
            json_object_set_new(it, "NextBackupTime", json_null());
        json_array_append_new(items, it);
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(jobs);
    /* the regions are read outside the lock: they may be slow */
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) status_copies(s, it);
    *answer = json_pack("{s:o, s:I, s:o}", "Time", gd_api_time(now), "JobsRunning",
                        (json_int_t)gd_jobs_running(s->jobs), "Instances", items);
    return 200;
}
