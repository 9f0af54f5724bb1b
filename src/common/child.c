#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static int prepare(const gd_child_opts *o, posix_spawn_file_actions_t *fa, posix_spawnattr_t *at)
{
    int rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0 && o->output != NULL)
        rc = posix_spawn_file_actions_addopen(fa, 1, o->output,
                                              O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    if (rc == 0 && o->output != NULL)
        rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o->new_session)
        flags |= POSIX_SPAWN_SETSID;
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(at, &def);
    if (rc == 0)
        rc = posix_spawnattr_setflags(at, flags);
    return rc;
}

int gd_child_start(char *const argv[], const gd_child_opts *o, pid_t *pid, gd_err *err)
{
    static const gd_child_opts defaults = {0};
    if (o == NULL)
        o = &defaults;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return gd_err_set(err, GD_E_NOMEM, "cannot start %s: out of memory", argv[0]);
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return gd_err_set(err, GD_E_NOMEM, "cannot start %s: out of memory", argv[0]);
    }
    int rc = prepare(o, &fa, &at);
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return gd_err_sys(err, rc, "cannot start %s", argv[0]);
    return 0;
}

int gd_child_wait(pid_t pid, int *status)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    *status = st;
    return r == pid ? 0 : -1;
}

int gd_child_run(char *const argv[], const gd_child_opts *o, gd_err *err)
{
    pid_t pid;
    int rc = gd_child_start(argv, o, &pid, err);
    if (rc != 0)
        return rc;
    int st = 0;
    if (gd_child_wait(pid, &st) != 0)
        return gd_err_sys(err, errno, "cannot wait for %s", argv[0]);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (o != NULL && o->output != NULL)
        return gd_err_set(err, GD_E_STATE, "%s failed (exit %d): see %s", argv[0], code, o->output);
    if (WIFSIGNALED(st))
        return gd_err_set(err, GD_E_STATE, "%s was killed by signal %d", argv[0], WTERMSIG(st));
    return gd_err_set(err, GD_E_STATE, "%s failed (exit %d)", argv[0], code);
}
