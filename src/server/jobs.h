/* Jobs of the server (docs/server.md "Jobs"): long operations (a backup, a
 * restore, a copy, a drill) run each on a thread of its own, observable and
 * cancellable through the API (DescribeJobs, CancelJob) while they run, and
 * remembered in the state database (server/state.h) after they end.
 *
 * A job's function gets the job: its cancel token to hand to the operation
 * (gd_command_ctx.cancel), and gd_job_on_event as the operation's event
 * callback, which keeps the job's phase and last note; the engines' progress
 * counters (bytes, rows, items, totals, ETA) reach the job through
 * common/progress.h's observer, which the job installs on its thread (so
 * progress objects must be started on the job's thread, as the engines do).
 *
 * Every function here is thread-safe. */
#ifndef GD_SERVER_JOBS_H
#define GD_SERVER_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command/command.h"
#include "common/cancel.h"
#include "common/error.h"

typedef struct gd_jobs gd_jobs;
typedef struct gd_job gd_job;

typedef enum { GD_JOB_RUNNING, GD_JOB_SUCCEEDED, GD_JOB_FAILED, GD_JOB_CANCELLED } gd_job_status;

/* Runs the job's work on its thread.  Returns 0 or a gd_code with err set;
 * a non-zero return after the job's token was requested ends as Cancelled,
 * any other non-zero one as Failed (a 0 return is Succeeded even when a
 * cancel came too late to stop it).  *result (may stay NULL) is a JSON
 * object the job keeps as its "Result" (stolen, also on failure). */
typedef int (*gd_job_fn)(void *arg, gd_job *job, json_t **result, gd_err *err);

/* Ended jobs kept in memory for DescribeJobs (older ones are read from the
 * state database). */
#define GD_JOBS_KEEP 200

/* A registry; state may be NULL (nothing remembered past the process) and
 * is borrowed: the registry stops writing to it in gd_jobs_stop.
 * max_running: more concurrent jobs are refused with GD_E_BUSY (0: no
 * limit). */
struct gd_state;
gd_jobs *gd_jobs_new(struct gd_state *state, size_t max_running);

/* Ending the registry, and what a job may use.
 *
 * A job's function, and its arg_free, use only: their arg, the job (its
 * token, gd_job_on_event), and what the registry's owner hands to
 * gd_jobs_free's release.  Nothing else a job touches may be freed while
 * it runs.  release is the one place where the owner frees what its jobs
 * use (the server: itself, its instances, its state database), and it runs
 * only after every job has ended: a job that ignores its cancel and
 * outlives the owner's wait keeps all of it alive, so no deadline can turn
 * into a use after free.  (The server's process then ends with the job
 * still running: server/server.h.)
 *
 * gd_jobs_stop: no new job starts (GD_E_STATE), every running one is
 * cancelled, and it waits at most wait_s seconds for them to end; then the
 * registry no longer writes to the state database (the caller may close
 * it once no job uses it).  Returns how many still run (logged when any).
 * Calls other than gd_jobs_free may follow.
 *
 * gd_jobs_free: stops as gd_jobs_stop (no wait), then frees the registry
 * and calls release(ctx) (may be NULL): at once when no job runs, else on
 * the thread of the last job to end, after its last touch of anything.
 * Returns how many jobs still ran (0: release has run).  js NULL: release
 * runs at once.  No other call on js may run concurrently or follow (stop
 * the API first). */
size_t gd_jobs_stop(gd_jobs *js, double wait_s);
size_t gd_jobs_free(gd_jobs *js, void (*release)(void *ctx), void *ctx);

/* Starts a job: operation ("CreateBackup") and instance (may be NULL) name
 * it; fn runs with arg on a new thread; arg_free (may be NULL) frees arg
 * after fn returns, on the job's thread, and also when the start fails.
 * id gets the job's id ("j-<UTC yyyymmddThhmmss>-<8 hex random>", stable
 * across restarts in the state database).  GD_E_BUSY when max_running jobs
 * run, GD_E_STATE once gd_jobs_stop began, GD_E_NOMEM when no thread could
 * be made. */
int gd_jobs_start(gd_jobs *js, const char *operation, const char *instance, gd_job_fn fn, void *arg,
                  void (*arg_free)(void *), char id[40], gd_err *err);

/* The job's token (for gd_command_ctx.cancel) and event callback
 * (gd_command_ctx.on_event with event_ctx = the job): PHASE_BEGIN sets the
 * job's Phase, NOTE and WARNING its Note (a warning as "warning: ...").
 * Both are for the job's own function and what it calls. */
gd_cancel *gd_job_cancel_token(gd_job *j);
void gd_job_on_event(void *job, const gd_cmd_event *ev);

/* {"Jobs": [{"JobId", "Operation", "DBInstanceId", "Status", "StartTime",
 * "EndTime", "Progress": {"Phase", "Bytes", "TotalBytes", "Rows", "Items",
 * "TotalItems", "EtaSeconds", "Note"}, "Result", "Error": {"Code",
 * "Message"}}]}: one job (id) or all (id NULL; running ones and the most
 * recent ended ones, newest first, at most limit; 0: GD_JOBS_KEEP).  Times
 * are yyyy-MM-ddTHH:mm:ssZ; absent values are null (EndTime while running,
 * Result, Error on success, DBInstanceId, EtaSeconds when unknown, Phase,
 * Note); Progress holds the counters of the progress object running now,
 * else of the last one that ran (zeros before any), and is null for jobs
 * read back from the state database (those of an earlier process).
 * Error.Code is gd_code_name's ("io", "cancel", ...; "interrupted" for a
 * job the server stopped during).  GD_E_NOTFOUND for an unknown id. */
int gd_jobs_describe(gd_jobs *js, const char *id, size_t limit, json_t **out, gd_err *err);
/* Asks a running job to stop (its operation stops at its next check and
 * leaves nothing half-committed); returns at once.  GD_E_NOTFOUND for an
 * unknown id, GD_E_STATE for one that already ended. */
int gd_jobs_cancel(gd_jobs *js, const char *id, gd_err *err);
/* How many run now (metrics). */
size_t gd_jobs_running(gd_jobs *js);

#endif
