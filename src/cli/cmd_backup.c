#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "common/util.h"

static const char help[] =
    "usage: geodr backup INSTANCE [--jobs N] [--with-users] [--no-lock-nontransactional]\n"
    "\n"
    "Takes a consistent logical backup of INSTANCE into its home region: N\n"
    "connections share one snapshot (a brief global read lock lines them up and\n"
    "reads the GTID position); big tables are split into primary-key ranges.\n"
    "\n"
    "  --jobs N       parallel connections (default: the instance's jobs, 4)\n"
    "  --with-users   also save users and grants\n"
    "  --no-lock-nontransactional\n"
    "                 dump MyISAM/Aria tables after releasing the global read lock\n"
    "                 (shorter lock; such tables are then not as of the set's position\n"
    "                 and the set cannot be replayed onto them)\n"
    "  --json         print the result as JSON\n";

int gd_cmd_backup(gd_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"jobs", required_argument, NULL, 'j'},
                                             {"with-users", no_argument, NULL, 'u'},
                                             {"no-lock-nontransactional", no_argument, NULL, 'L'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int jobs = 0;
    bool with_users = false, no_lock_nontx = false;
    int c;
    long long num = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (!gd_cli_int(optarg, 1, 256, &num))
                return gd_cli_usage("backup", "--jobs must be 1-256");
            jobs = (int)num;
            break;
        case 'u':
            with_users = true;
            break;
        case 'L':
            no_lock_nontx = true;
            break;
        case 'h':
            fputs(help, stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("backup", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("backup", "name one instance");
    const char *name = argv[optind];
    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    char *pw = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, name, &ic, &err);
    gd_conn_params src;
    if (rc == 0)
        rc = gd_cli_instance_conn(ic, &src, &pw, &err);
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, NULL, true, &repo, &err);
    gd_backup_result res;
    /* A copy region enabled before this backup started copies it, even when
     * it is first reached after the backup (nothing waits on a region that
     * is down before the backup starts). */
    int64_t started_us = gd_now_us();
    if (rc == 0) {
        gd_backup_opts o = {.jobs = jobs ? jobs : ic->jobs,
                            .chunk_rows = ic->chunk_rows,
                            .with_users = with_users,
                            .no_lock_nontransactional = no_lock_nontx,
                            .progress = !cli->quiet && !cli->json};
        rc = gd_backup_run(repo, &src, &o, &res, &err);
    }
    gd_cli_free_password(pw);
    if (rc != 0) {
        gd_repo_close(repo);
        return gd_cli_fail(cli, &err);
    }
    json_t *copies = json_array();
    int failed = 0;
    if (ic->cross_region_backup)
        failed = gd_cli_copy_regions(cli, ic, repo, jobs ? jobs : ic->jobs, started_us, copies);
    if (cli->json) {
        gd_cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:o}", "instance", name, "region",
            repo->st->name, "set", res.set_id, "gtid", res.gtid, "tables", (json_int_t)res.tables,
            "rows", (json_int_t)res.rows, "raw_bytes", (json_int_t)res.raw_bytes, "stored_bytes",
            (json_int_t)res.stored_bytes, "seconds", res.seconds, "copies", copies));
    } else {
        char raw[32], stored[32];
        gd_fmt_bytes(res.raw_bytes, raw, sizeof raw);
        gd_fmt_bytes(res.stored_bytes, stored, sizeof stored);
        printf("backup %s of instance %s committed in region %s: %llu tables, %llu rows, %s "
               "of data stored as %s, %.1f s, GTID position %s\n",
               res.set_id, name, repo->st->name, res.tables, res.rows, raw, stored, res.seconds,
               res.gtid[0] ? res.gtid : "(none)");
        size_t i;
        json_t *cp;
        json_array_foreach(copies, i, cp)
        {
            if (json_is_true(json_object_get(cp, "ok")))
                printf("copied to region %s (%lld objects)\n", gd_json_str(cp, "region", ""),
                       gd_json_int(cp, "objects", 0));
        }
        json_decref(copies);
    }
    /* Retention after each backup, in every region of the instance. */
    json_t *exp = json_array();
    gd_cli_expire_instance(cli, ic, false, exp);
    json_decref(exp);
    if (failed) {
        gd_repo_close(repo);
        fprintf(stderr,
                "geodr: error: backup %s is committed in region %s, but copying it to "
                "%d copy region(s) failed (see above): run 'geodr copy %s' when the "
                "region is reachable\n",
                res.set_id, ic->home_region, failed, name);
        return GD_EXIT_FAIL;
    }
    gd_repo_close(repo);
    return GD_EXIT_OK;
}
