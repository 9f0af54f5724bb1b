#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/release.h"
#include "common/util.h"

static const char release_help[] =
    "usage: geodr release INSTANCE [--undo]\n\n"
    "Releases INSTANCE: it is no longer backed up and its binlog is no longer archived, by "
    "any geodr (geodr backup and geodr archive refuse it; a running geodr server stops its "
    "archiver within the hour, at once on SIGHUP, or use the server's ReleaseInstance). "
    "Nothing is deleted: its backup sets and binlog archive stay listed and restorable, and "
    "expire by the retention recorded in its policy record (home and copy regions), which "
    "ModifyInstanceCrossBackupPolicy can still change. Keep the instance's section in the "
    "config: its key-file is what lets an encrypted instance's backups expire.\n"
    "--undo takes a release back: backups and the archive resume.\n";

int gd_cmd_release(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        {"undo", no_argument, NULL, 'u'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool undo = false;
    int c;
    gd_cli_args args = {.cmd = "release", .help = release_help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0)
        if (c == 'u')
            undo = true;
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("release", "name one instance");
    const char *name = argv[optind];
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_release_result res;
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0 ||
        gd_command_release(&ctx, name, undo, &res, &err) != 0)
        return gd_cli_fail(cli, &err);
    char when[32] = "";
    if (res.released_us)
        gd_fmt_time(res.released_us, false, when, sizeof when);
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:s, s:b, s:s, s:b, s:i, s:i, s:i}", "instance", name,
                                    "released", res.released_us != 0, "released_at", when,
                                    "changed", res.changed, "retention_days", res.retention_days,
                                    "copy_retention_days", res.copy_retention_days,
                                    "regions_failed", res.regions_failed));
    } else if (undo) {
        printf("instance %s is %s: it is backed up and archived again (a running geodr server "
               "resumes within the hour, at once on SIGHUP)\n",
               name, res.changed ? "no longer released" : "not released");
    } else {
        printf("instance %s %s released at %s UTC: it is not backed up or archived any more; "
               "its backups stay restorable and expire by their retention (%d days at home, "
               "%d days in copy regions). Keep its config section (and key-file); "
               "'geodr release %s --undo' takes the release back\n",
               name, res.changed ? "is" : "was already", when, res.retention_days,
               res.copy_retention_days, name);
    }
    return res.regions_failed ? GD_EXIT_FAIL : GD_EXIT_OK;
}
