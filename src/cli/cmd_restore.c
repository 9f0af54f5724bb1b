#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "restore/restore.h"

static const char help[] =
    "usage: geodr restore INSTANCE [--region R] [--latest | --fastest | --set ID]\n"
    "         (--target HOST:PORT --target-user U --target-password-file F\n"
    "          | --new-instance DIR --port P)\n"
    "         [--databases A,B] [--tables db.t,...] [--rename old=new,...]\n"
    "         [--replace-existing] [--with-users] [--write-binlog] [--jobs N] [--dry-run]\n"
    "\n"
    "Restores a backup set of INSTANCE from one region (default: its home region).\n"
    "\n"
    "  --latest / --fastest  the newest backup set (default)\n"
    "  --set ID              a given set (see 'geodr info INSTANCE')\n"
    "  --target HOST:PORT    an existing server; --target-user and\n"
    "                        --target-password-file say how to log in\n"
    "  --new-instance DIR    provision a new local MariaDB in DIR listening on\n"
    "  --port P              127.0.0.1:P, left running (details in DIR/client.cnf)\n"
    "  --databases A,B       only these databases\n"
    "  --tables db.t,...     only these tables\n"
    "  --rename old=new      restore database old under the name new\n"
    "  --replace-existing    drop and recreate tables that exist in the target\n"
    "                        (without it, an existing table stops the restore)\n"
    "  --with-users          also restore saved users and grants\n"
    "  --write-binlog        write the restore to the target's binary log (so its\n"
    "                        replicas receive it); by default the restore runs\n"
    "                        with sql_log_bin = 0 when the target user may set it\n"
    "  --jobs N              parallel connections (default: the instance's jobs)\n"
    "  --dry-run             check everything and print the plan; write nothing\n";

enum {
    O_REGION = 256,
    O_LATEST,
    O_FASTEST,
    O_SET,
    O_TIME,
    O_TARGET,
    O_TUSER,
    O_TPASS,
    O_NEW,
    O_PORT,
    O_DBS,
    O_TABLES,
    O_RENAME,
    O_REPLACE,
    O_USERS,
    O_JOBS,
    O_DRY,
    O_BINLOG,
    O_HELP
};

static void free_v(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int gd_cmd_restore(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, O_REGION},
                                       {"latest", no_argument, NULL, O_LATEST},
                                       {"fastest", no_argument, NULL, O_FASTEST},
                                       {"set", required_argument, NULL, O_SET},
                                       {"time", required_argument, NULL, O_TIME},
                                       {"target", required_argument, NULL, O_TARGET},
                                       {"target-user", required_argument, NULL, O_TUSER},
                                       {"target-password-file", required_argument, NULL, O_TPASS},
                                       {"new-instance", required_argument, NULL, O_NEW},
                                       {"port", required_argument, NULL, O_PORT},
                                       {"databases", required_argument, NULL, O_DBS},
                                       {"tables", required_argument, NULL, O_TABLES},
                                       {"rename", required_argument, NULL, O_RENAME},
                                       {"replace-existing", no_argument, NULL, O_REPLACE},
                                       {"with-users", no_argument, NULL, O_USERS},
                                       {"jobs", required_argument, NULL, O_JOBS},
                                       {"dry-run", no_argument, NULL, O_DRY},
                                       {"write-binlog", no_argument, NULL, O_BINLOG},
                                       {"help", no_argument, NULL, O_HELP},
                                       {NULL, 0, NULL, 0}};
    const char *region = NULL, *set = NULL, *target = NULL, *tuser = NULL, *tpass = NULL,
               *newdir = NULL, *time_opt = NULL;
    unsigned port = 0;
    gd_restore_opts o = {0};
    char *renames = NULL;
    int c, points = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_REGION:
            region = optarg;
            break;
        case O_LATEST:
        case O_FASTEST:
            points++;
            break;
        case O_SET:
            set = optarg;
            points++;
            break;
        case O_TIME:
            time_opt = optarg;
            points++;
            break;
        case O_TARGET:
            target = optarg;
            break;
        case O_TUSER:
            tuser = optarg;
            break;
        case O_TPASS:
            tpass = optarg;
            break;
        case O_NEW:
            newdir = optarg;
            break;
        case O_PORT:
            port = (unsigned)atoi(optarg);
            if (port < 1 || port > 65535)
                return gd_cli_usage("restore", "--port must be 1-65535");
            break;
        case O_DBS:
            o.databases = gd_cli_split(optarg, &o.ndatabases);
            break;
        case O_TABLES:
            o.tables = gd_cli_split(optarg, &o.ntables);
            break;
        case O_RENAME: {
            char *prev = renames;
            renames = prev ? gd_asprintf("%s,%s", prev, optarg) : gd_strdup(optarg);
            free(prev);
            break;
        }
        case O_REPLACE:
            o.replace_existing = true;
            break;
        case O_USERS:
            o.with_users = true;
            break;
        case O_JOBS:
            o.jobs = atoi(optarg);
            if (o.jobs < 1 || o.jobs > 256)
                return gd_cli_usage("restore", "--jobs must be 1-256");
            break;
        case O_DRY:
            o.dry_run = true;
            break;
        case O_BINLOG:
            o.write_binlog = true;
            break;
        case O_HELP:
            fputs(help, stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("restore", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("restore", "name one instance");
    if (points > 1)
        return gd_cli_usage("restore", "choose one of --latest, --fastest, --set, --time");
    if (time_opt)
        return gd_cli_usage("restore", "--time needs archived binlog (point-in-time "
                                       "restore), which this geodr version does not have "
                                       "yet: use --set ID or --latest");
    if (!!target == !!newdir)
        return gd_cli_usage("restore", "choose where to restore: --target HOST:PORT or "
                                       "--new-instance DIR --port P");
    if (target && (!tuser || !tpass))
        return gd_cli_usage("restore", "--target needs --target-user and "
                                       "--target-password-file");
    if (newdir && !port)
        return gd_cli_usage("restore", "--new-instance needs --port P");
    if (renames) {
        char **v = gd_cli_split(renames, &o.nrenames);
        o.rename_from = gd_calloc(o.nrenames, sizeof(char *));
        o.rename_to = gd_calloc(o.nrenames, sizeof(char *));
        for (size_t i = 0; i < o.nrenames; i++) {
            char *eq = strchr(v[i], '=');
            if (eq == NULL || eq == v[i] || eq[1] == '\0')
                return gd_cli_usage("restore", "--rename takes old=new, got '%s'", v[i]);
            o.rename_from[i] = gd_strndup(v[i], (size_t)(eq - v[i]));
            o.rename_to[i] = gd_strdup(eq + 1);
        }
        free_v(v, o.nrenames);
        free(renames);
    }
    const char *name = argv[optind];
    o.set_id = set;
    o.progress = !cli->quiet && !cli->json;

    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    char *pw = NULL, *host = NULL;
    gd_instance_new inst = {0};
    gd_conn_params tp = {0};
    gd_restore_result res;
    int rc = gd_cli_config(cli, &err);
    const gd_instance_cfg *ic = NULL;
    if (rc == 0 && (ic = gd_config_instance(cli->cfg, name, &err)) == NULL)
        rc = err.code;
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, region, false, &repo, &err);
    if (rc == 0 && o.jobs == 0)
        o.jobs = ic->jobs;
    if (rc == 0 && target) {
        const char *colon = strrchr(target, ':');
        host = colon ? gd_strndup(target, (size_t)(colon - target)) : gd_strdup(target);
        tp.what = "the target";
        tp.host = host;
        tp.port = colon ? (unsigned)atoi(colon + 1) : 3306;
        tp.user = tuser;
        tp.local_infile = true;
        rc = gd_read_secret_file(tpass, &pw, &err);
        tp.password = pw;
        tp.password_source = tpass;
    }
    if (rc == 0 && newdir) {
        /* Check the set and key before creating anything. */
        char *id = NULL;
        json_t *mf = NULL;
        rc = gd_restore_pick_set(repo, set, &id, &mf, &err);
        free(id);
        json_decref(mf);
        if (rc == 0 && !o.dry_run) {
            if (!cli->quiet && !cli->json)
                fprintf(stderr, "geodr: provisioning a new MariaDB instance in %s on port %u\n",
                        newdir, port);
            rc = gd_instance_provision(newdir, port, &inst, &err);
            tp.what = "the new instance";
            tp.socket = inst.socket;
            tp.user = "root";
            tp.password = "";
            tp.local_infile = true;
        }
    }
    if (rc == 0 && !(newdir && o.dry_run))
        rc = gd_restore_run(repo, &tp, &o, &res, &err);
    else if (rc == 0)
        rc = gd_restore_run(repo, NULL, &o, &res, &err);
    if (rc == 0 && newdir && !o.dry_run)
        rc = gd_instance_secure(&inst, &err);
    gd_cli_free_password(pw);
    free(host);
    if (rc != 0) {
        gd_repo_close(repo);
        gd_instance_new_free(&inst);
        return gd_cli_fail(cli, &err);
    }
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:f}", "instance",
                              name, "region", repo->st->name, "set", res.set_id, "gtid", res.gtid,
                              "dry_run", o.dry_run, "tables", (json_int_t)res.tables, "chunks",
                              (json_int_t)res.chunks, "rows", (json_int_t)res.rows, "bytes",
                              (json_int_t)res.bytes, "seconds", res.seconds);
        if (newdir && !o.dry_run)
            json_object_set_new(j, "new_instance",
                                json_pack("{s:s, s:i, s:s, s:s, s:i}", "dir", inst.dir, "port",
                                          (int)inst.port, "socket", inst.socket, "client_cnf",
                                          inst.client_cnf, "pid", inst.pid));
        gd_cli_print_json(j);
    } else if (o.dry_run) {
        char b[32];
        gd_fmt_bytes(res.bytes, b, sizeof b);
        printf("dry run: would restore set %s of instance %s from region %s: %llu tables in "
               "%llu chunks, %s of rows, GTID position %s; nothing was written\n",
               res.set_id, name, repo->st->name, res.tables, res.chunks, b, res.gtid);
    } else {
        char b[32];
        gd_fmt_bytes(res.bytes, b, sizeof b);
        printf("restored set %s of instance %s from region %s: %llu tables, %llu rows, %s, "
               "%.1f s; the data is as of GTID position %s\n",
               res.set_id, name, repo->st->name, res.tables, res.rows, b, res.seconds,
               res.gtid[0] ? res.gtid : "(none)");
        if (newdir)
            printf("new instance running: 127.0.0.1:%u, socket %s, pid %d\n"
                   "  connect:  mariadb --defaults-file=%s\n"
                   "  stop:     mariadb-admin --defaults-file=%s shutdown\n",
                   inst.port, inst.socket, inst.pid, inst.client_cnf, inst.client_cnf);
    }
    gd_instance_new_free(&inst);
    gd_repo_close(repo);
    free_v(o.databases, o.ndatabases);
    free_v(o.tables, o.ntables);
    free_v(o.rename_from, o.nrenames);
    free_v(o.rename_to, o.nrenames);
    return GD_EXIT_OK;
}
