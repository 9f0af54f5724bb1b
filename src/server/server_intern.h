/* Internal to src/server: what server.c (lifecycle, scheduler, archivers)
 * and api.c (the operations) share. */
#ifndef GD_SERVER_INTERN_H
#define GD_SERVER_INTERN_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "command/command.h"
#include "common/cancel.h"
#include "common/config.h"
#include "server/jobs.h"
#include "server/schedule.h"
#include "server/state.h"

/* A loaded config shared by everything that runs under it: a reload makes
 * a new one; the old one is freed when its last user lets it go. */
typedef struct gd_cfg_ref {
    gd_config *cfg;
    atomic_int refs;
} gd_cfg_ref;

/* What the server keeps of one configured instance. */
typedef struct gd_inst_rt {
    char *name;
    struct gd_server *srv;
    bool configured; /* in the current config */
    /* the archiver's thread */
    pthread_t arch_thread;
    bool arch_started;
    gd_cancel arch_stop;
    atomic_bool arch_running;   /* connected and archiving */
    atomic_llong arch_restarts; /* times it stopped and was started again */
    /* the schedule (under srv->mu) */
    gd_backup_window window;
    gd_backup_history hist;
    char backup_job[40]; /* the running backup's job ("" none) */
    int64_t next_expire_s;
    char *last_error; /* of the newest failed backup (NULL after a success) */
    double last_duration_s;
    unsigned long long failures;
    /* what its regions hold, refreshed every five minutes and after each backup
     * (the info document, command/info.h; NULL before the first read): the
     * metrics read it instead of the regions */
    json_t *view;
} gd_inst_rt;

typedef struct gd_server {
    pthread_mutex_t mu;
    pthread_mutex_t arch_mu; /* starting and stopping archivers (reload, policy changes) */
    gd_cfg_ref *cfg;         /* the current config (under mu) */
    char *config_path;
    gd_state *state;
    gd_jobs *jobs;
    struct gd_http *http;
    gd_inst_rt **inst;
    size_t ninst;
    int64_t retry_s;           /* after a failed backup */
    int64_t next_released_s;   /* the next retention run for released instances (tick only) */
    struct gd_periodic *views; /* refreshes every instance's view */
    int64_t started_s;
} gd_server;

/* The current config, held until gd_cfg_put. */
gd_cfg_ref *gd_server_cfg_get(gd_server *s);
void gd_cfg_put(gd_cfg_ref *c);
/* The operation context of a job run under config c: the job's cancel
 * token and event callback. */
gd_command_ctx gd_server_job_ctx(gd_cfg_ref *c, gd_job *job);
/* The runtime of a configured instance (NULL: not configured). */
gd_inst_rt *gd_server_inst(gd_server *s, const char *name);

/* Starts a backup job of ir (on_demand: asked through the API).  The job
 * id goes to id.  GD_E_BUSY when one runs for the instance. */
int gd_server_start_backup(gd_server *s, gd_inst_rt *ir, bool on_demand, char id[40], gd_err *err);

/* A new reference to the instance's view (NULL before the first read). */
json_t *gd_server_view(gd_inst_rt *ir);

/* Stops the instance's archiver (it commits what it holds) and starts it
 * again: its shippers then follow the policy in effect. */
void gd_server_restart_archiver(gd_inst_rt *ir);

/* The HTTP API's operations (api.c): the gd_http_api_fn, and /metrics. */
int gd_server_api(void *ctx, const char *op, json_t *params, json_t **answer);
char *gd_server_metrics(void *ctx);

/* One log line per event: "event=<event> instance=<name> key=value ...":
 * fmt as gd_log_kv's (common/log.h), every value escaped. */
void gd_server_log(int level, const char *event, const char *instance, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
