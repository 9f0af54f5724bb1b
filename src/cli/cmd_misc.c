#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/keygen.h"

static const char help[] =
    "usage: geodr keygen FILE\n\nWrites a new random key passphrase to FILE (mode "
    "0600). Point an instance's key-file at it to encrypt its backups. Keep a copy "
    "somewhere safe: without it the backups cannot be read.\n";

int gd_cmd_keygen(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    gd_cli_args args = {.cmd = "keygen", .help = help, .lo = lo};
    if (gd_cli_opt(&args, argc, argv) == GD_CLI_OPT_EXIT) /* --help is its only option */
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("keygen", "name the file to write");
    const char *file = argv[optind];
    gd_err err;
    gd_err_clear(&err);
    if (gd_command_keygen(file, &err) != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s}", "key_file", file));
    else
        printf("wrote a new key passphrase to %s (mode 0600): keep a copy outside this "
               "machine\n",
               file);
    return GD_EXIT_OK;
}
