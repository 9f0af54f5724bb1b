/* Internal to src/server: what server.c (lifecycle, scheduler, archivers)
 * and api.c (the operations) share. */
#ifndef GD_SERVER_INTERN_H
#define GD_SERVER_INTERN_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive/archive.h"
#include "command/command.h"
#include "common/cancel.h"
#include "common/config.h"
#include "common/util.h"
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
    /* when it was released (command/release.h; 0: it is not): no backup,
     * no archiver, retention still runs */
    atomic_llong released_us;
    /* the archiver's thread */
    pthread_t arch_thread;
    bool arch_started;
    gd_cancel arch_stop;
    atomic_bool arch_running;   /* connected and archiving */
    atomic_llong arch_restarts; /* times it stopped and was started again */
    gd_archive_live arch_live;  /* its lag (archive/archive.h) */
    /* the schedule (under srv->mu) */
    gd_backup_window window;
    gd_backup_history hist;
    char backup_job[40]; /* the running backup's job ("" none) */
    int64_t next_expire_s;
    char *last_error; /* of the newest failed backup (NULL after a success) */
    double last_duration_s;
    unsigned long long failures;
    /* restore drills (server/drill.c; under srv->mu) */
    int64_t drill_every_s;     /* drill = ...; 0: off */
    char drill_job[40];        /* the running drill's job ("" none) */
    int64_t drill_last_s;      /* start of the newest drill (0: none) */
    bool drill_last_ok;        /* it passed */
    double drill_last_seconds; /* how long it took */
    char *drill_last_error;    /* what failed (NULL after a pass) */
    unsigned long long drill_failures;
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
    int64_t retry_s;            /* after a failed backup */
    int64_t next_released_s;    /* the next retention run for released instances (tick only) */
    struct gd_periodic *views;  /* reads every instance's info document again */
    struct gd_view *views_list; /* what the regions hold, by key (server/view.c; under mu) */
    pthread_cond_t view_cv;     /* a view's read ended */
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

/* Starts a job whose id is kept in mark (an instance's backup_job,
 * drill_job: "" when none runs) while it runs; the job clears mark itself
 * when it ends.  Called with s->mu held, after the caller found mark empty;
 * returns with it released. */
int gd_server_start_marked(gd_server *s, char mark[40], const char *operation, const char *instance,
                           gd_job_fn fn, void *arg, void (*arg_free)(void *), char id[40],
                           gd_err *err);

/* Starts a backup job of ir (on_demand: asked through the API).  The job
 * id goes to id.  GD_E_BUSY when one runs for the instance. */
int gd_server_start_backup(gd_server *s, gd_inst_rt *ir, bool on_demand, char id[40], gd_err *err);

/* A whole number kept in the state database under (instance, key): a
 * failed write is logged; a missing or unreadable one reads 0. */
void gd_server_state_put_int(gd_server *s, const char *instance, const char *key, int64_t v);
int64_t gd_server_state_get_int(gd_server *s, const char *instance, const char *key);

/* Restore drills (server/drill.c, docs/drills.md).  Starts one of ir from
 * region (NULL: home); GD_E_BUSY while a drill runs anywhere in the server
 * (one at a time: each provisions and loads a whole instance). */
int gd_server_start_drill(gd_server *s, gd_inst_rt *ir, const char *region, char id[40],
                          gd_err *err);
/* From the scheduler: starts ir's drill when drill = ... says one is due
 * and no backup of it runs. */
void gd_server_drill_tick(gd_server *s, gd_inst_rt *ir, int64_t now);
/* The newest drill's outcome from the state database, at start. */
void gd_server_drill_load(gd_server *s, gd_inst_rt *ir);

/* Views (server/view.c): documents read from the regions, kept by key
 * (kind, instance, region): "info" (an instance's info document),
 * "segments" (a region's binlog segments), GD_VIEW_RELEASED (instance "":
 * the instances released from the config).  A read fills *doc (a new
 * reference) or fails. */
typedef struct gd_view gd_view;
typedef int (*gd_view_read_fn)(gd_server *s, const char *instance, const char *region, json_t **doc,
                               gd_err *err);
#define GD_VIEW_RELEASED "released"
/* The document kept under (kind, instance, region): at once when there is
 * one, at most 30 s old, and no change of the server's own came since (the
 * view thread reads it again when it is older than max_age_s); else read
 * now by read (one caller at a time, the others wait for it).  Caller
 * json_decrefs *doc. */
int gd_server_view_get(gd_server *s, const char *kind, const char *instance, const char *region,
                       double max_age_s, gd_view_read_fn read, json_t **doc, gd_err *err);
/* The view thread's pass: reads again, one at a time, every document a
 * caller found too old or a change made stale. */
void gd_server_views_refresh(gd_server *s);
/* The key of kind for instance (and region). */
char *gd_server_view_key(const char *kind, const char *instance, const char *region);
/* The document of key as it is (NULL: never read): /metrics reads no
 * region. */
json_t *gd_server_view_peek(gd_server *s, const char *key);
/* What the regions hold of instance changed (a backup, retention, a policy
 * change, a release): its documents, and the released list, are read again
 * before the next answer (NULL: every document, after a reload).  Not under
 * s->mu. */
void gd_server_view_invalidate(gd_server *s, const char *instance);
void gd_server_views_free(gd_server *s);
/* An instance's info document (command/info.h): a configured instance's
 * through its view, another's (released from the config) read now. */
int gd_server_info_doc(gd_server *s, const char *instance, double max_age_s, json_t **doc,
                       gd_err *err);

/* Stops the instance's archiver (it commits what it holds) and starts it
 * again: its shippers then follow the policy in effect.  A released
 * instance's archiver stays stopped. */
void gd_server_restart_archiver(gd_inst_rt *ir);

/* The server follows a release recorded in the region (released_us, 0: the
 * release was undone): a released instance's archiver stops (it commits
 * what it holds) and no backup starts; undone, the archiver starts again.
 * Retention keeps running either way.  Not from the archiver's thread. */
void gd_server_set_released(gd_inst_rt *ir, int64_t released_us);

/* The HTTP API's operations (api.c): the gd_http_api_fn, and /metrics. */
int gd_server_api(void *ctx, const char *op, json_t *params, json_t **answer);
char *gd_server_metrics(void *ctx);

/* One log line per event: "event=<event> instance=<name> key=value ...":
 * fmt as gd_log_kv's (common/log.h), every value escaped. */
void gd_server_log(int level, const char *event, const char *instance, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A gd_cmd_event_fn that logs an operation's warnings (event=warning);
 * ctx: the instance's name. */
void gd_server_log_event(void *ctx, const gd_cmd_event *ev);

#endif
