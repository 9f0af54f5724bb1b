#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/archive.h"

/* clang-format breaks the lines around GD_STR badly */
// clang-format off
static const char help[] =
    "usage: geodr archive INSTANCE [--server-id N] [--interval SECONDS] [--idle-exit SECONDS]\n"
    "                     [--compact-every SECONDS]\n"
    "\n"
    "Streams INSTANCE's binary log as a replica and archives every transaction\n"
    "into its home region, in segments committed at least every --interval\n"
    "seconds while transactions arrive (default: archive-interval, " GD_STR(GD_DEFAULT_ARCHIVE_INTERVAL_S) " s).\n"
    "Runs in the foreground until SIGTERM or SIGINT; resumes where it stopped,\n"
    "with no gap and no duplicate. Reconnects by itself when the source\n"
    "restarts or the network drops.\n"
    "\n"
    "  --server-id N       replica server id (default: archive-server-id, or one\n"
    "                      derived from the instance name)\n"
    "  --interval S        commit a segment at least every S seconds\n"
    "  --idle-exit S       stop after S seconds without a transaction (scripts)\n"
    "  --compact-every S   merge small segments every S seconds, beside the\n"
    "                      archiving (default " GD_STR(GD_DEFAULT_COMPACT_EVERY_S) "; 0: never)\n";
// clang-format on

/* SIGINT/SIGTERM stop the archiver cleanly once it runs. */
static void archive_event(void *ctx, const gd_cmd_event *ev)
{
    if (ev->kind == GD_EVENT_PHASE_BEGIN && strcmp(ev->phase, "archive") == 0)
        gd_cli_trap_signals(false, false); /* no SA_RESTART: a blocked read returns */
    else
        gd_cli_on_event(ctx, ev);
}

int gd_cmd_archive(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"server-id", required_argument, NULL, 's'},
                                       {"interval", required_argument, NULL, 'i'},
                                       {"idle-exit", required_argument, NULL, 'x'},
                                       {"compact-every", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    unsigned long server_id = 0;
    long long num = 0;
    double interval = 0, idle = 0, compact_every = GD_DEFAULT_COMPACT_EVERY_S;
    int c;
    gd_cli_args args = {.cmd = "archive", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 's':
            if (!gd_command_int(optarg, 1, 4294967295LL, &num))
                return gd_cli_usage("archive", "--server-id must be 1-4294967295");
            server_id = (unsigned long)num;
            break;
        case 'i':
            if (!gd_command_real(optarg, 0.1, GD_MAX_ARCHIVE_INTERVAL_S, &interval))
                return gd_cli_usage("archive", "--interval must be 0.1-%d seconds",
                                    GD_MAX_ARCHIVE_INTERVAL_S);
            break;
        case 'x':
            if (!gd_command_real(optarg, 0.001, 1e9, &idle))
                return gd_cli_usage("archive", "--idle-exit must be a positive number of seconds");
            break;
        case 'c':
            if (!gd_command_real(optarg, 0, 86400, &compact_every) ||
                (compact_every > 0 && compact_every < 1))
                return gd_cli_usage("archive",
                                    "--compact-every must be 1-86400 seconds, or 0 (never)");
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("archive", "name one instance");
    const char *name = argv[optind];
    gd_archive_request rq = {.instance = name,
                             .server_id = (uint32_t)server_id,
                             .interval_s = interval,
                             .idle_exit_s = idle,
                             .compact_every_s = compact_every};
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_archive_outcome out;
    memset(&out, 0, sizeof out);
    if (gd_cli_ctx(cli, archive_event, cli, &ctx, &err) != 0 ||
        gd_command_archive(&ctx, &rq, &out, &err) != 0) {
        gd_archive_outcome_free(&out);
        return gd_cli_fail(cli, &err);
    }
    const gd_archive_stats *st = &out.stats;
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "instance", name,
                                    "region", out.region, "segments", (json_int_t)st->segments,
                                    "transactions", (json_int_t)st->transactions, "raw_bytes",
                                    (json_int_t)st->raw_bytes, "reconnects",
                                    (json_int_t)st->reconnects, "gtid_pos", st->gtid_pos));
    else
        printf("archive of instance %s stopped: %llu segments, %llu transactions written "
               "this run; archived up to GTID position %s\n",
               name, st->segments, st->transactions, st->gtid_pos[0] ? st->gtid_pos : "(none)");
    gd_archive_outcome_free(&out);
    /* The home archive is complete, but a copy region is not: a geo-restore
     * from it now would miss the last transactions.  A supervisor must see
     * it (docs/regions.md). */
    if (out.behind > 0) {
        fprintf(stderr,
                "geodr: error: %d copy region(s) of instance %s are behind the home region's "
                "binlog archive (named above): run 'geodr copy %s' or start 'geodr archive' "
                "again when they answer\n",
                out.behind, name, name);
        return GD_EXIT_FAIL;
    }
    return GD_EXIT_OK;
}
