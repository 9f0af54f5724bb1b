/* geodr server (docs/server.md): one long-running process protecting every
 * configured instance.  Per instance it keeps the binlog archiver running
 * (restarted with backoff), takes the daily backup in its window
 * (server/schedule.h) with copies and retention, runs retention hourly,
 * and serves the HTTP JSON API (server/api.c, docs/api.md) whose long
 * operations are jobs (server/jobs.h).  Its local state (server/state.h)
 * is a cache under the state directory. */
#ifndef GD_SERVER_SERVER_H
#define GD_SERVER_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common/cancel.h"
#include "common/error.h"

/* Runs until stop is set (SIGTERM, SIGINT): then stops the jobs and
 * archivers (each commits what it holds), and returns within about 15 s.
 * When *reload is found set (SIGHUP) it clears it and reads the config
 * again: instances added start, removed ones stop, changed settings apply
 * to the next run of each task; a config that does not load is logged and
 * the old one kept.  Fails at start on a bad config, a [server] section
 * without token-file, an unreadable token, a state directory it cannot
 * use, or an address it cannot listen on.
 *
 * A job still running after the stop's 10 s wait (one that does not heed
 * its cancel) keeps everything it uses (server/jobs.h), and the process
 * ends there with _exit(0) instead of returning: no exit handler runs
 * under the job, and what it had not committed does not exist. */
int gd_server_run(const char *config_path, gd_cancel *stop, atomic_bool *reload, gd_err *err);

#endif
