/* The server's local state (docs/server.md "State"): an SQLite database
 * under the state directory holding job history and the scheduler's
 * memory (last attempt and outcome per instance and task).  It is a cache:
 * deleting it loses no backup; the server rebuilds what it needs from the
 * regions.  Thread-safe (one connection, serialised by a mutex; WAL, so a
 * reader such as the sqlite3 shell never blocks the server). */
#ifndef GD_SERVER_STATE_H
#define GD_SERVER_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct gd_state gd_state;

/* Opens (creating when missing, mode 0600 in a 0700 directory) dir/state.db.
 * dir is created (0700) when missing, but not its parents; an existing dir
 * keeps its mode.  A database that is corrupt or of an unknown schema
 * version is moved aside (state.db.bad-<time>, its WAL beside it) with a
 * warning and a new one created: it is only a cache.  Then marks the jobs
 * left Running by a previous process as Failed (gd_state_jobs_interrupted)
 * and keeps the newest GD_STATE_JOBS_KEEP ended jobs.  GD_E_IO when the
 * directory or the file cannot be used (permissions, a disk error, another
 * process holding a write lock past the busy timeout). */
int gd_state_open(const char *dir, gd_state **out, gd_err *err);
/* NULL allowed. */
void gd_state_close(gd_state *s);

/* Ended jobs kept in the database (older ones are dropped at open). */
#define GD_STATE_JOBS_KEEP 10000

/* Job history: one row per job, written when it starts and when it ends
 * (a put replaces the row with the same id).  All strings borrowed. */
typedef struct gd_state_job {
    const char *id, *operation, *instance, *status; /* "Running", "Succeeded", ...;
                                                     * instance may be NULL */
    int64_t start_us, end_us;                       /* end 0 while running */
    const char *error_code, *error_message;         /* NULL on success */
    const char *result_json;                        /* NULL: none */
} gd_state_job;
int gd_state_job_put(gd_state *s, const gd_state_job *j, gd_err *err);
/* A new JSON object for j as DescribeJobs shows it, without Progress:
 * {"JobId", "Operation", "DBInstanceId", "Status", "StartTime", "EndTime",
 * "Result", "Error": {"Code", "Message"}}; times as yyyy-MM-ddTHH:mm:ssZ
 * (UTC); DBInstanceId, EndTime, Result, Error null when absent. */
json_t *gd_state_job_json(const gd_state_job *j);
/* *out: a new JSON array of such objects: the one with id (empty when
 * unknown), or the newest jobs (id NULL), newest first, at most limit. */
int gd_state_jobs(gd_state *s, const char *id, size_t limit, json_t **out, gd_err *err);
/* Marks the jobs the database says are running as Failed (code
 * "interrupted": the server stopped while they ran); returns how many, or
 * a gd_code.  gd_state_open calls it: a later call would also mark the jobs
 * of this process. */
int gd_state_jobs_interrupted(gd_state *s, gd_err *err);

/* The scheduler's memory: small values per (instance, key), e.g.
 * ("shop", "backup.last_attempt_us").  get: *value is a new string, or
 * NULL (and 0 returned) when the key was never set. */
int gd_state_get(gd_state *s, const char *instance, const char *key, char **value, gd_err *err);
int gd_state_set(gd_state *s, const char *instance, const char *key, const char *value,
                 gd_err *err);

#endif
