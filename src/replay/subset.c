#include "replay/subset.h"

#include <jansson.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backup/backup.h"
#include "common/child.h"
#include "common/defaults.h"
#include "common/log.h"
#include "common/util.h"
#include "restore/provision.h"

/* A free loopback port for the scratch instance. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
    return gd_child_run(argv, NULL, NULL);
}

/* The databases the chosen objects live in: the chosen databases and those
 * of the chosen tables (looked up in the set, so a database name with a dot
 * is found whole). */
static json_t *chosen_databases(const gd_manifest *manifest, const gd_restore_opts *o)
{
    json_t *dbs = json_object();
    for (size_t i = 0; i < o->ndatabases; i++)
        json_object_set_new(dbs, o->databases[i], json_true());
    for (size_t i = 0; i < manifest->ntables; i++) {
        const char *db = manifest->tables[i].db, *name = manifest->tables[i].name;
        char *full = gd_asprintf("%s.%s", db, name);
        for (size_t k = 0; k < o->ntables; k++)
            if (strcmp(full, o->tables[k]) == 0)
                json_object_set_new(dbs, db, json_true());
        free(full);
    }
    return dbs;
}

/* The replication filter ("db\.x.%,..."), or NULL when a chosen database
 * name cannot be written in one (a comma separates the list): then every
 * event is replayed.  Wildcards in names are escaped. */
static char *filter_for(json_t *chosen)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    const char *db;
    json_t *v;
    json_object_foreach(chosen, db, v)
    {
        (void)v;
        if (strchr(db, ',') != NULL) {
            gd_buf_free(&b);
            return NULL;
        }
        if (b.len)
            gd_buf_append(&b, ",", 1);
        for (const char *p = db; *p; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                gd_buf_append(&b, "\\", 1);
            gd_buf_append(&b, p, 1);
        }
        gd_buf_append(&b, ".%", 2);
    }
    return b.data ? b.data : gd_strdup("");
}

/* The server's replication filter compares names in its system collation
 * (utf8mb3_general_ci): `Sales.%` also takes `sales`, `é.%` takes `e`.  Every
 * database of the set that the filter takes is restored whole into the
 * scratch instance, so each replayed event finds its table; only the chosen
 * objects are copied out afterwards.  The scratch server itself decides
 * which names are equal. */
static int scratch_databases(MYSQL *m, const gd_manifest *manifest, json_t *chosen, json_t **out,
                             gd_err *err)
{
    json_t *cands = json_object(), *take = json_array();
    for (size_t i = 0; i < manifest->ntables; i++)
        json_object_set_new(cands, manifest->tables[i].db, json_true());
    const char *db, *y;
    json_t *v, *w;
    json_object_foreach(chosen, db, v) json_object_set_new(cands, db, json_true());
    int rc = 0;
    json_object_foreach(cands, db, v)
    {
        bool same = json_object_get(chosen, db) != NULL;
        json_object_foreach(chosen, y, w)
        {
            if (same)
                break;
            char *a = gd_sql_escape(m, db), *bq = gd_sql_escape(m, y);
            char *r = NULL;
            rc = gd_sql_value(m, &r, err,
                              "SELECT CONVERT('%s' USING utf8mb3) COLLATE utf8mb3_general_ci = "
                              "CONVERT('%s' USING utf8mb3) COLLATE utf8mb3_general_ci",
                              a, bq);
            same = rc == 0 && r && strcmp(r, "1") == 0;
            free(r);
            free(a);
            free(bq);
            if (rc != 0)
                break;
        }
        if (rc != 0)
            break;
        if (same)
            json_array_append_new(take, json_string(db));
    }
    json_decref(cands);
    if (rc != 0) {
        json_decref(take);
        return rc;
    }
    *out = take;
    return 0;
}

int gd_replay_subset(gd_repo *repo, const gd_plan *plan, const gd_conn_params *target,
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
    /* Passable, not listable: the scratch server may run as another user
     * (provision.c) and must reach its folder; the repo folder stays 0700. */
    if (chmod(base, 0711) != 0) {
        int rc = gd_err_sys(err, errno, "cannot set the mode of %s", base);
        free(base);
        return rc;
    }
    char *instdir = gd_asprintf("%s/instance", base);
    char *repodir = gd_asprintf("%s/repo", base);
    gd_instance_new inst = {0};
    gd_repo *tmprepo = NULL;
    MYSQL *m = NULL;
    gd_manifest *manifest = NULL;
    json_t *chosen = NULL, *scratch_dbs = NULL;
    char *filter = NULL, **dbv = NULL;
    gd_log(GD_LOG_INFO,
           "point-in-time restore of chosen objects: replaying through a scratch "
           "instance in %s",
           base);
    int rc = gd_instance_provision(instdir, free_port(), &inst, err);
    gd_conn_params sp = {.what = "the scratch instance",
                         .socket = inst.socket,
                         .user = inst.admin_user,
                         .password = ""};
    /* 1. The databases of the chosen objects, as they are named in the set
     * (and those the replication filter cannot tell from them), whole. */
    if (rc == 0)
        rc = gd_manifest_read(repo, plan->set, &manifest, err);
    if (rc == 0 && (rc = gd_conn_open(&sp, &m, err)) == 0) {
        chosen = chosen_databases(manifest, ropts);
        filter = filter_for(chosen);
        rc = scratch_databases(m, manifest, chosen, &scratch_dbs, err);
        gd_conn_close(m); /* not kept idle across the restore */
        m = NULL;
    }
    gd_restore_opts so = *ropts;
    so.rename_from = so.rename_to = NULL;
    so.nrenames = 0;
    so.tables = NULL;
    so.ntables = 0;
    so.replace_existing = false;
    so.with_users = false;
    if (rc == 0 && filter != NULL) {
        so.ndatabases = json_array_size(scratch_dbs);
        so.databases = dbv = gd_calloc(so.ndatabases + 1, sizeof *dbv);
        for (size_t i = 0; i < so.ndatabases; i++)
            dbv[i] = (char *)json_string_value(json_array_get(scratch_dbs, i));
    } else {
        so.databases = NULL; /* no filter: the whole set is replayed */
        so.ndatabases = 0;
    }
    gd_restore_result r1;
    if (rc == 0)
        rc = gd_restore_run(repo, &sp, &so, &r1, err);
    /* 2. Replay with filters: only the chosen databases change. */
    if (rc == 0 && filter != NULL && (rc = gd_conn_open(&sp, &m, err)) == 0) {
        char *q = gd_sql_escape(m, filter);
        rc = gd_sql(m, err, "SET GLOBAL replicate_wild_do_table = '%s'", q);
        free(q);
    }
    /* The scratch instance is on this machine: its replica reaches the
     * binlog server on loopback, whatever --replay-host says for targets. */
    gd_replay_opts po = *popts;
    po.listen = NULL;
    if (rc == 0)
        rc = gd_replay_run(repo, plan, &sp, &po, rres, err);
    /* 3. Copy into the target through a temporary repository. */
    gd_storage *st = NULL;
    if (rc == 0)
        rc = gd_storage_posix_open("scratch", repodir, &st, err);
    if (rc == 0)
        rc = gd_repo_open(st, "scratch", NULL, true, 1, &tmprepo, err);
    gd_backup_result br;
    if (rc == 0) {
        gd_backup_opts bo = {
            .jobs = ropts->jobs, .chunk_rows = GD_DEFAULT_CHUNK_ROWS, .progress = false};
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
    free(dbv);
    json_decref(scratch_dbs);
    json_decref(chosen);
    gd_manifest_free(manifest);
    free(instdir);
    free(repodir);
    free(base);
    return rc;
}
