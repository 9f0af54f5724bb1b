#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "command/drill.h"

static const char help[] =
    "usage: geodr drill INSTANCE [--region R] [--dir DIR]\n\n"
    "A restore drill: proves that the newest backup of INSTANCE restores.\n"
    "  1. provisions a throwaway MariaDB instance under DIR (default: $TMPDIR, else\n"
    "     /tmp) on a free loopback port;\n"
    "  2. restores the region's newest backup set into it, reads every table back\n"
    "     and compares it with what the backup recorded at its snapshot (the number\n"
    "     of rows and their digest);\n"
    "  3. replays the binlog archive to the end of the recovery window, which must\n"
    "     reach the archive's last transaction;\n"
    "  4. stops the instance and removes it, whatever happened.\n"
    "A failure names what failed (an object that does not authenticate, a table\n"
    "whose rows differ, the position not reached) and exits 1. DIR needs room for\n"
    "the restored instance. --region R drills a copy region.\n";

int gd_cmd_drill(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, 'r'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    gd_drill_request rq = {0};
    int c;
    gd_cli_args args = {.cmd = "drill", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        if (c == 'r')
            rq.region = optarg;
        else if (c == 'd')
            rq.parent = optarg;
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("drill", "name one instance");
    rq.instance = argv[optind];
    if (gd_cli_region(cli, "drill", rq.instance, rq.region) != 0)
        return GD_EXIT_USAGE;
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_drill_outcome out = {0};
    int rc = gd_cli_ctx(cli, NULL, cli, &ctx, &err);
    if (rc == 0) {
        gd_cli_trap_signals(true, true);
        rc = gd_command_drill(&ctx, &rq, &out, &err);
        gd_cli_untrap_signals();
    }
    if (rc == 0 && cli->json) {
        const gd_server_check *k = &out.check;
        gd_cli_print_json(
            json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:b, s:I, s:s, s:s, s:f}", "instance",
                      rq.instance, "region", out.region ? out.region : "", "set", out.set_id,
                      "passed", 1, "tables", (json_int_t)k->tables, "rows", (json_int_t)k->rows,
                      "count_only", (json_int_t)k->no_digest, "replayed", out.replayed,
                      "transactions", (json_int_t)out.transactions, "gtid_pos", out.gtid_pos,
                      "last_commit", out.last_time, "seconds", out.seconds));
    } else if (rc == 0 && !cli->quiet) {
        printf("drill passed for %s from region %s in %.1f s: set %s restored, its %zu tables "
               "(%llu rows) equal to the backup's snapshot",
               rq.instance, out.region, out.seconds, out.set_id, out.check.tables,
               (unsigned long long)out.check.rows);
        if (out.check.no_digest)
            printf(" (%zu compared by row count only: the set has no row digests)",
                   out.check.no_digest);
        if (out.replayed)
            printf("; %llu archived transactions replayed up to %s UTC, GTID position %s",
                   out.transactions, out.last_time[0] ? out.last_time : "-", out.gtid_pos);
        printf("; the throwaway instance was removed\n");
    }
    gd_command_drill_outcome_free(&out);
    return rc == 0 ? GD_EXIT_OK : gd_cli_fail(cli, &err);
}
