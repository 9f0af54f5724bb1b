#include "replay/subset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backup/backup.h"
#include "common/log.h"
#include "common/util.h"

/* A free loopback port for the scratch instance. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int rm_rf(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* "db.t,db2.%": the filter that keeps the chosen objects. */
static char *filters(const gd_restore_opts *o)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    for (size_t i = 0; i < o->ndatabases; i++)
        gd_buf_appendf(&b, "%s%s.%%", b.len ? "," : "", o->databases[i]);
    for (size_t i = 0; i < o->ntables; i++)
        gd_buf_appendf(&b, "%s%s", b.len ? "," : "", o->tables[i]);
    return b.data;
}

int gd_replay_subset(gd_repo *repo, json_t *plan, const gd_conn_params *target,
                     const gd_restore_opts *ropts, const gd_replay_opts *popts,
                     gd_restore_result *res, gd_replay_result *rres, gd_err *err)
{
    const char *tmp = getenv("TMPDIR");
    char *base = gd_asprintf("%s/geodr-scratch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(base) == NULL) {
        int rc = gd_err_sys(err, errno, "cannot create a scratch directory under %s",
                            tmp && *tmp ? tmp : "/tmp");
        free(base);
        return rc;
    }
    char *instdir = gd_asprintf("%s/instance", base);
    char *repodir = gd_asprintf("%s/repo", base);
    gd_instance_new inst = {0};
    gd_repo *tmprepo = NULL;
    MYSQL *m = NULL;
    char *filter = filters(ropts);
    gd_log(GD_LOG_INFO,
           "point-in-time restore of chosen objects: replaying through a scratch "
           "instance in %s",
           base);
    int rc = gd_instance_provision(instdir, free_port(), &inst, err);
    gd_conn_params sp = {.what = "the scratch instance",
                         .socket = inst.socket,
                         .user = "root",
                         .password = "",
                         .local_infile = true};
    /* 1. The chosen objects of the set, as they are named in the set. */
    gd_restore_opts so = *ropts;
    so.rename_from = so.rename_to = NULL;
    so.nrenames = 0;
    so.replace_existing = false;
    so.with_users = false;
    gd_restore_result r1;
    if (rc == 0)
        rc = gd_restore_run(repo, &sp, &so, &r1, err);
    /* 2. Replay with filters: only the chosen objects change. */
    if (rc == 0 && (rc = gd_conn_open(&sp, &m, err)) == 0)
        rc = gd_sql(m, err, "SET GLOBAL replicate_wild_do_table = '%s'", filter);
    if (rc == 0)
        rc = gd_replay_run(repo, plan, &sp, popts, rres, err);
    /* 3. Copy into the target through a temporary repository. */
    gd_storage *st = NULL;
    if (rc == 0)
        rc = gd_storage_posix_open("scratch", repodir, &st, err);
    if (rc == 0)
        rc = gd_repo_open(st, "scratch", NULL, true, 1, &tmprepo, err);
    gd_backup_result br;
    if (rc == 0) {
        gd_backup_opts bo = {.jobs = ropts->jobs, .chunk_rows = 500000, .progress = false};
        rc = gd_backup_run(tmprepo, &sp, &bo, &br, err);
    }
    if (rc == 0) {
        gd_restore_opts to = *ropts;
        to.set_id = br.set_id;
        rc = gd_restore_run(tmprepo, target, &to, res, err);
        /* report the original set, and the replayed position */
        gd_strlcpy(res->set_id, r1.set_id, sizeof res->set_id);
        gd_strlcpy(res->gtid, r1.gtid, sizeof res->gtid);
    }
    if (rc != 0)
        gd_err_prefix(err, "point-in-time restore through the scratch instance");
    gd_conn_close(m);
    gd_repo_close(tmprepo);
    gd_instance_stop(&inst);
    gd_instance_new_free(&inst);
    if (rm_rf(base) != 0)
        gd_warn("could not remove the scratch directory %s", base);
    free(filter);
    free(instdir);
    free(repodir);
    free(base);
    return rc;
}
