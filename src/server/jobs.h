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
 * is borrowed: close it after gd_jobs_free.  max_running: more concurrent
 * jobs are refused with GD_E_BUSY (0: no limit). */
struct gd_state;
gd_jobs *gd_jobs_new(struct gd_state *state, size_t max_running);
/* Cancels every running job, waits for them (at most wait_s seconds, then
 * returns anyway: their threads end on their own, free what the registry
 * holds when the last one ends, and no longer write to the state
 * database), frees the registry.  NULL allowed.  No other call on js
 * may run concurrently or follow (stop the API first). */
void gd_jobs_free(gd_jobs *js, double wait_s);

/* Starts a job: operation ("CreateBackup") and instance (may be NULL) name
 * it; fn runs with arg on a new thread; arg_free (may be NULL) frees arg
 * after fn returns, on the job's thread, and also when the start fails.
 * id gets the job's id ("j-<UTC yyyymmddThhmmss>-<8 hex random>", stable
 * across restarts in the state database).  GD_E_BUSY when max_running jobs
 * run, GD_E_STATE once gd_jobs_free began, GD_E_NOMEM when no thread could
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
