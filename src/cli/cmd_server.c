#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "server/server.h"

static const char help[] =
    "usage: geodr server\n"
    "\n"
    "Runs in the foreground and protects every configured instance: keeps\n"
    "its binlog archived, takes the daily backup in its backup-window (the\n"
    "first one at once), copies and expires by its policy, and serves the\n"
    "HTTP JSON API and /metrics on [server] listen (docs/server.md,\n"
    "docs/api.md). The config needs a [server] section with token-file.\n"
    "SIGTERM or SIGINT stops it (within 15 s, nothing half-committed);\n"
    "SIGHUP reads the config again. Logs go to stderr, one line per event.\n";

static gd_cancel g_stop;
static atomic_bool g_reload;

static void on_stop(int sig)
{
    (void)sig;
    gd_cancel_request(&g_stop);
}

static void on_hup(int sig)
{
    (void)sig;
    atomic_store(&g_reload, true);
}

static void trap(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int gd_cmd_server(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    gd_cli_args a = {.cmd = "server", .help = help, .lo = lo};
    int c;
    while ((c = gd_cli_opt(&a, argc, argv)) != GD_CLI_OPT_END)
        if (c == GD_CLI_OPT_EXIT)
            return a.exit_code;
    if (optind != argc)
        return gd_cli_usage("server", "takes no operands (the config names the instances)");
    trap(SIGTERM, on_stop);
    trap(SIGINT, on_stop);
    trap(SIGHUP, on_hup);
    gd_err err;
    gd_err_clear(&err);
    if (gd_server_run(gd_config_path(cli->config_opt), &g_stop, &g_reload, &err) != 0)
        return gd_cli_fail(cli, &err);
    return GD_EXIT_OK;
}
