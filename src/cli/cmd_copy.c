#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "cli/cli.h"
#include "command/copy.h"
#include "command/expire.h"
#include "common/util.h"

static const char copy_help[] =
    "usage: geodr copy INSTANCE [--jobs N]\n\nBrings every copy region of "
    "INSTANCE up to date with its home region: backup sets (when "
    "cross-region-backup = on) and binlog segments (when cross-region-log-backup "
    "= on). Objects are copied as stored, verified by SHA-256, manifests and "
    "segment records last; what a region already holds is not copied again. "
    "geodr backup runs this at its end, geodr archive continuously for "
    "segments.\n";

int gd_cmd_copy(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"jobs", required_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int jobs = 0, c, rc;
    gd_cli_args args = {.cmd = "copy", .help = copy_help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'j':
            if ((rc = gd_cli_jobs("copy", optarg, &jobs)) != 0)
                return rc;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("copy", "name one instance");
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_copy_report report;
    memset(&report, 0, sizeof report);
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0 ||
        gd_command_copy(&ctx, argv[optind], jobs, &report, &err) != 0) {
        gd_copy_report_free(&report);
        return gd_cli_fail(cli, &err);
    }
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:s, s:o}", "instance", argv[optind], "regions",
                                    gd_cli_copy_json(&report)));
    } else {
        for (size_t i = 0; i < report.n; i++) {
            const gd_region_copy *r = &report.v[i];
            if (!r->ok)
                continue;
            char b[32];
            gd_fmt_bytes(r->stats.bytes, b, sizeof b);
            printf("region %s is up to date: %lld sets and %lld segments copied (%lld "
                   "objects, %s), %lld objects already there\n",
                   r->region, (long long)r->stats.sets, (long long)r->stats.segments,
                   (long long)r->stats.objects, b, (long long)r->stats.skipped);
        }
    }
    int failed = report.failed;
    gd_copy_report_free(&report);
    return failed ? GD_EXIT_FAIL : GD_EXIT_OK;
}

static const char expire_help[] =
    "usage: geodr expire [INSTANCE] [--dry-run]\n"
    "       geodr expire INSTANCE --set ID [--region R]\n\n"
    "Removes, in every region of the instance (all instances without one), the "
    "backup sets older than the region's retention (retention-days at home, "
    "copy-retention-days in copy regions) that the recovery window no longer "
    "needs, the binlog segments only they needed, and leftovers of killed "
    "backups. With --set, removes that one set if and only if retention allows "
    "it now; there is no way to remove an unexpired set. geodr backup runs this "
    "at its end.\n";

int gd_cmd_expire(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"dry-run", no_argument, NULL, 'n'},
                                       {"set", required_argument, NULL, 's'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    bool dry = false;
    const char *set = NULL, *region = NULL;
    int c;
    gd_cli_args args = {.cmd = "expire", .help = expire_help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'n':
            dry = true;
            break;
        case 's':
            set = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind < argc - 1 || (set && optind != argc - 1))
        return gd_cli_usage("expire", set ? "--set needs the instance" : "at most one instance");
    int rc = gd_cli_region(cli, "expire", optind < argc ? argv[optind] : NULL, region);
    if (rc != 0)
        return rc;
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0)
        return gd_cli_fail(cli, &err);
    const char *only = optind < argc ? argv[optind] : NULL;
    if (set) {
        const char *rname = NULL;
        if (gd_command_expire_set(&ctx, only, region, set, &rname, &err) != 0)
            return gd_cli_fail(cli, &err);
        printf("removed backup set %s of instance %s from region %s\n", set, only, rname);
        return GD_EXIT_OK;
    }
    json_t *report = NULL;
    int failed = 0;
    if (gd_command_expire(&ctx, only, dry, &report, &failed, &err) != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:o}", "regions", report));
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(report, i, r)
        {
            if (json_object_get(r, "error"))
                continue;
            if (json_object_get(r, "note")) {
                printf("released instance %s in region %s: %s\n", gd_json_str(r, "instance", ""),
                       gd_json_str(r, "region", ""), gd_json_str(r, "note", ""));
                continue;
            }
            printf("%s%s %s in region %s (retention %lld days, boundary %s UTC): %zu sets "
                   "%s, %zu kept, %lld binlog segments %s\n",
                   dry ? "would expire" : "expired",
                   json_is_true(json_object_get(r, "released")) ? " released instance" : "",
                   gd_json_str(r, "instance", ""), gd_json_str(r, "region", ""),
                   gd_json_int(r, "retention_days", 0), gd_json_str(r, "boundary", ""),
                   json_array_size(json_object_get(r, "expire")), dry ? "to remove" : "removed",
                   json_array_size(json_object_get(r, "keep")),
                   gd_json_int(r, "segments_removed", 0), dry ? "to remove" : "removed");
        }
        json_decref(report);
    }
    return failed ? GD_EXIT_FAIL : GD_EXIT_OK;
}
