#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/compact.h"

/* clang-format breaks the lines around GD_STR badly */
// clang-format off
static const char help[] =
    "usage: geodr compact INSTANCE [--min-segments N] [--grace SECONDS]\n\n"
    "Merges runs of at least N (default " GD_STR(GD_DEFAULT_COMPACT_MIN_SEGMENTS) ") small consecutive binlog segments "
    "of INSTANCE's home region into one, and removes segments merged more than "
    "--grace seconds ago (default " GD_STR(GD_DEFAULT_COMPACT_GRACE_S) ", so restores reading them can finish). "
    "geodr archive does this by itself every minute.\n";
// clang-format on

int gd_cmd_compact(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"min-segments", required_argument, NULL, 'm'},
                                       {"grace", required_argument, NULL, 'g'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    gd_compact_opts co = GD_COMPACT_DEFAULTS;
    int c;
    long long num = 0;
    gd_cli_args args = {.cmd = "compact", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'm':
            if (!gd_command_int(optarg, 2, 1000000, &num))
                return gd_cli_usage("compact", "--min-segments must be 2-1000000");
            co.min_segments = (unsigned)num;
            break;
        case 'g':
            if (!gd_command_int(optarg, 0, 10LL * 366 * 86400, &num))
                return gd_cli_usage("compact", "--grace must be 0-316224000 seconds (10 years)");
            co.grace_s = num;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("compact", "name one instance");
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_compact_stats st;
    memset(&st, 0, sizeof st);
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0 ||
        gd_command_compact(&ctx, argv[optind], &co, &st, &err) != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:I, s:I, s:I}", "merged_runs", (json_int_t)st.merged_runs,
                                    "merged_segments", (json_int_t)st.merged_segments, "removed",
                                    (json_int_t)st.removed));
    else
        printf("compacted the binlog archive of %s: %llu segments merged into %llu, %llu "
               "merged-away segments removed\n",
               argv[optind], st.merged_segments, st.merged_runs, st.removed);
    return GD_EXIT_OK;
}
