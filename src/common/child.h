/* Child processes (mariadb-install-db, mariadbd, rm).  geodr runs threaded
 * (the server, the worker pools), so a child is started with posix_spawn:
 * no fork of a threaded process, no code of ours between fork and exec.
 *
 * A child inherits no descriptor but 0, 1 and 2, whatever their
 * close-on-exec flag: every other one is closed in the child before exec
 * (the server's listening socket, its state database, region files, TLS
 * keys, descriptors a library opened without O_CLOEXEC).  Descriptors geodr
 * opens itself carry O_CLOEXEC / SOCK_CLOEXEC all the same; this is the
 * safety net.  stdin is /dev/null; the signal mask is empty and SIGPIPE is
 * at its default in the child.  Thread-safe. */
#ifndef GD_COMMON_CHILD_H
#define GD_COMMON_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

typedef struct gd_child_opts {
    /* File that gets the child's stdout and stderr: opened for append,
     * created with mode 0600, never through a symlink.  NULL: geodr's own
     * stdout and stderr. */
    const char *output;
    /* In a session of its own (setsid): a signal to geodr's process group
     * or terminal does not reach it. */
    bool new_session;
} gd_child_opts;

/* Starts argv[0] (searched in PATH when it has no '/') with argv; its pid
 * in *pid.  Fails (nothing started) when the program cannot be executed.
 * o may be NULL (the defaults above). */
int gd_child_start(char *const argv[], const gd_child_opts *o, pid_t *pid, gd_err *err);

/* Waits for pid (retrying on EINTR); its wait status in *status.
 * Returns 0, or -1 when pid is not a child of ours. */
int gd_child_wait(pid_t pid, int *status);

/* Starts argv, waits for it and returns 0 when it exited with status 0;
 * else an error naming argv[0], its exit status and, when o->output is
 * set, that file ("see FILE"). */
int gd_child_run(char *const argv[], const gd_child_opts *o, gd_err *err);

#endif
