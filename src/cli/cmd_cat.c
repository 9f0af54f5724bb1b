#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "command/cat.h"

static int write_stdout(void *wctx, const void *buf, size_t n, gd_err *err)
{
    (void)wctx;
    if (fwrite(buf, 1, n, stdout) != n)
        return gd_err_sys(err, 32, "cannot write to standard output");
    return 0;
}

static const char help[] =
    "usage: geodr cat INSTANCE OBJECT [--region R]\n\nWrites the decoded "
    "(decrypted, decompressed) contents of one object of INSTANCE's repository "
    "to standard output, e.g. a binlog segment for mariadb-binlog. OBJECT is "
    "relative to the instance: backup/SET/data/0-0.tsv.zst.gde, "
    "binlog/000000000001.binlog.zst.gde.\n";

int gd_cmd_cat(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *region = NULL;
    int c;
    gd_cli_args args = {.cmd = "cat", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'r':
            region = optarg;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 2)
        return gd_cli_usage("cat", "name an instance and an object");
    int rc = gd_cli_region(cli, "cat", argv[optind], region);
    if (rc != 0)
        return rc;
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    rc = gd_cli_ctx(cli, NULL, NULL, &ctx, &err);
    if (rc == 0)
        rc = gd_command_cat(&ctx, argv[optind], region, argv[optind + 1], write_stdout, NULL, &err);
    if (fflush(stdout) != 0 && rc == 0)
        rc = gd_err_set(&err, GD_E_IO, "cannot write to standard output");
    return rc == 0 ? GD_EXIT_OK : gd_cli_fail(cli, &err);
}
