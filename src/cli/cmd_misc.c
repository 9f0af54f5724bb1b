#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/keygen.h"

int gd_cmd_keygen(gd_cli *cli, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs("usage: geodr keygen FILE\n\nWrites a new random key passphrase to FILE (mode "
              "0600). Point an instance's key-file at it to encrypt its backups. Keep a copy "
              "somewhere safe: without it the backups cannot be read.\n",
              stdout);
        return GD_EXIT_OK;
    }
    if (argc != 2)
        return gd_cli_usage("keygen", "name the file to write");
    gd_err err;
    gd_err_clear(&err);
    if (gd_command_keygen(argv[1], &err) != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s}", "key_file", argv[1]));
    else
        printf("wrote a new key passphrase to %s (mode 0600): keep a copy outside this "
               "machine\n",
               argv[1]);
    return GD_EXIT_OK;
}
