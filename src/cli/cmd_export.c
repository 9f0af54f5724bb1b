#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/export.h"

static const char help[] =
    "usage: geodr export INSTANCE --set ID --format sql|tsv --out DIR [--region R]\n\n"
    "Writes backup set ID of INSTANCE decrypted, for stock tools and without geodr:\n"
    "  sql  DIR/dump.sql: every database as SQL (schema, then rows as INSERTs, then\n"
    "       routines, triggers, events, views); load it into an empty server with\n"
    "       mariadb --comments < DIR/dump.sql\n"
    "  tsv  DIR/<db>/<table>.sql (CREATE TABLE), DIR/<db>/<table>.tsv (rows as LOAD\n"
    "       DATA reads them) and DIR/<db>/load.sql: cd DIR/<db> && mariadb --comments\n"
    "       --local-infile=1 < load.sql\n"
    "DIR must not exist or be empty; the export is written into DIR.partial (0700,\n"
    "files 0600: the data is in clear) and renamed to DIR when complete. geodr info\n"
    "INSTANCE lists the sets. --region R reads a copy region.\n";

int gd_cmd_export(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        {"set", required_argument, NULL, 's'}, {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'}, {"region", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    gd_export_opts o = {.format = GD_EXPORT_SQL};
    const char *format = NULL;
    int c;
    gd_cli_args args = {.cmd = "export", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 's':
            o.set_id = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            o.out_dir = optarg;
            break;
        case 'r':
            o.region = optarg;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("export", "name one instance");
    if (o.set_id == NULL || o.out_dir == NULL || format == NULL)
        return gd_cli_usage("export",
                            "--set, --format and --out are required (geodr info %s "
                            "lists the sets)",
                            argv[optind]);
    if (strcmp(format, "tsv") == 0)
        o.format = GD_EXPORT_TSV;
    else if (strcmp(format, "sql") != 0)
        return gd_cli_usage("export", "--format is sql or tsv, not '%s'", format);
    if (o.out_dir[0] == '\0')
        return gd_cli_usage("export", "--out needs a directory");
    o.instance = argv[optind];
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_export_result res;
    int rc = gd_cli_ctx(cli, NULL, cli, &ctx, &err);
    if (rc == 0) {
        gd_cli_trap_signals(true, true);
        rc = gd_command_export(&ctx, &o, &res, &err);
        gd_cli_untrap_signals();
    }
    if (rc != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f}", "instance",
                                    o.instance, "set", res.set_id, "format", format, "out",
                                    o.out_dir, "files", (json_int_t)res.files, "bytes",
                                    (json_int_t)res.bytes, "rows", (json_int_t)res.rows, "tables",
                                    (json_int_t)res.tables, "seconds", res.seconds));
    else if (!cli->quiet)
        printf("exported set %s of %s into %s: %llu tables, %llu rows, %llu files, %llu bytes "
               "in %.1f s\n",
               res.set_id, o.instance, o.out_dir, (unsigned long long)res.tables,
               (unsigned long long)res.rows, (unsigned long long)res.files,
               (unsigned long long)res.bytes, res.seconds);
    return GD_EXIT_OK;
}
