#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"

static const char usage[] =
    "usage: geodr [--config FILE] [--json] [--quiet] [--verbose] COMMAND [ARGS]\n"
    "\n"
    "Backups, point-in-time restore and copies across regions for MariaDB/MySQL.\n"
    "\n"
    "commands:\n"
    "  backup INSTANCE [--jobs N] [--with-users]   take a consistent full backup\n"
    "  archive INSTANCE                            archive the binlog continuously (foreground)\n"
    "  compact INSTANCE                            merge small binlog segments (archive does it "
    "too)\n"
    "  copy INSTANCE [--jobs N]                    bring the copy regions up to date\n"
    "  restore INSTANCE ...                        restore a backup set (see restore --help)\n"
    "  expire [INSTANCE] [--dry-run]               apply retention in every region\n"
    "  info [INSTANCE] [--region R]                list instances and their backup sets\n"
    "  release INSTANCE [--undo]                   stop protecting an instance, keep its backups\n"
    "  verify INSTANCE [SET]                       read every object back and check it\n"
    "  drill INSTANCE [--region R]                 restore into a throwaway instance and check "
    "it\n"
    "  keygen FILE                                 write a new random key passphrase (0600)\n"
    "  cat INSTANCE OBJECT                         write one stored object, decoded, to stdout\n"
    "  export INSTANCE ...                         write a backup set decrypted (see export "
    "--help)\n"
    "  server                                      run everything on a schedule, with an HTTP "
    "API\n"
    "  status                                      ask the running server for its state\n"
    "  version                                     print the version\n"
    "\n"
    "The config file is --config FILE, else $GEODR_CONFIG, else " GD_DEFAULT_CONFIG ".\n"
    "Every command takes --help. Exit status: 0 success, 1 failure, 2 usage error.\n";

int gd_cli_config(gd_cli *cli, gd_err *err)
{
    if (cli->cfg)
        return 0;
    return gd_config_load(gd_config_path(cli->config_opt), &cli->cfg, err);
}

/* The run's cancel token: one run per process. */
static gd_cancel g_cancel;
static bool g_twice_kills;
static struct sigaction g_old_int, g_old_term;

/* SIGINT/SIGTERM ask the run to stop cleanly; with g_twice_kills a second
 * one ends the process at once. */
static void on_signal(int sig)
{
    if (g_twice_kills && gd_cancel_requested(&g_cancel)) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    gd_cancel_request(&g_cancel);
}

void gd_cli_trap_signals(bool twice_kills, bool restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    g_twice_kills = twice_kills;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
}

void gd_cli_untrap_signals(void)
{
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
}

void gd_cli_on_event(void *ctx, const gd_cmd_event *ev)
{
    gd_cli *cli = ctx;
    if (ev->kind == GD_EVENT_NOTE && !cli->quiet && !cli->json)
        fprintf(stderr, "geodr: %s\n", ev->msg);
    else if (ev->kind == GD_EVENT_WARNING)
        fprintf(stderr, "geodr: warning: %s\n", ev->msg);
}

int gd_cli_ctx(gd_cli *cli, gd_cmd_event_fn on_event, void *event_ctx, gd_command_ctx *ctx,
               gd_err *err)
{
    int rc = gd_cli_config(cli, err);
    *ctx = (gd_command_ctx){.cfg = cli->cfg,
                            .cancel = &g_cancel,
                            .progress = !cli->quiet && !cli->json,
                            .on_event = on_event ? on_event : gd_cli_on_event,
                            .event_ctx = on_event ? event_ctx : cli};
    return rc;
}

int gd_cli_fail(gd_cli *cli, const gd_err *err)
{
    const char *msg = err && err->msg[0] ? err->msg : "failed";
    fprintf(stderr, "geodr: error: %s\n", msg);
    if (cli && cli->json)
        gd_cli_print_json(json_pack("{s:{s:s, s:s, s:b}}", "error", "code",
                                    gd_code_name(err ? err->code : GD_E_STATE), "message", msg,
                                    "retryable", err ? err->retryable : 0));
    return GD_EXIT_FAIL;
}

int gd_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "geodr %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'geodr %s --help')\n", cmd);
    return GD_EXIT_USAGE;
}

int gd_cli_opt(gd_cli_args *a, int argc, char **argv)
{
    if (!a->started) {
        optind = 1; /* a fresh scan: main's own parse is not getopt's */
        a->started = true;
    }
    int c = getopt_long(argc, argv, a->shorts ? a->shorts : "", a->lo, NULL);
    if (c == -1)
        return GD_CLI_OPT_END;
    if (c == 'h') {
        fputs(a->help, stdout);
        a->exit_code = GD_EXIT_OK;
        return GD_CLI_OPT_EXIT;
    }
    if (c == '?') {
        a->exit_code = gd_cli_usage(a->cmd, "unknown option");
        return GD_CLI_OPT_EXIT;
    }
    return c;
}

int gd_cli_jobs(const char *cmd, const char *arg, int *jobs)
{
    long long num = 0;
    if (!gd_command_int(arg, 1, GD_MAX_JOBS, &num))
        return gd_cli_usage(cmd, "--jobs must be 1-%d", GD_MAX_JOBS);
    *jobs = (int)num;
    return 0;
}

int gd_cli_region(gd_cli *cli, const char *cmd, const char *instance, const char *region)
{
    gd_err err;
    gd_err_clear(&err);
    if (region == NULL || gd_cli_config(cli, &err) != 0 ||
        gd_config_region(cli->cfg, region, NULL) != NULL)
        return 0;
    const gd_instance_cfg *ic = instance ? gd_config_instance(cli->cfg, instance, NULL) : NULL;
    if (instance && ic == NULL)
        return 0;
    gd_buf b;
    gd_buf_init(&b, 0);
    if (ic) {
        gd_buf_appendf(&b, "instance %s's regions: %s (home)", ic->name, ic->home_region);
        for (size_t i = 0; i < ic->n_copy_regions; i++)
            gd_buf_appendf(&b, ", %s (copy)", ic->copy_regions[i]);
    } else {
        gd_buf_appendf(&b, "configured:");
        for (size_t i = 0; i < cli->cfg->n_regions; i++)
            gd_buf_appendf(&b, "%s %s", i ? "," : "", cli->cfg->regions[i].name);
    }
    int rc = gd_cli_usage(cmd, "unknown region '%s' (%s)", region, b.data);
    gd_buf_free(&b);
    return rc;
}

void gd_cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
}

/* The commands: name and function. */
static const struct {
    const char *name;
    int (*run)(gd_cli *cli, int argc, char **argv);
} commands[] = {
    {"backup", gd_cmd_backup}, {"restore", gd_cmd_restore}, {"info", gd_cmd_info},
    {"verify", gd_cmd_verify}, {"archive", gd_cmd_archive}, {"expire", gd_cmd_expire},
    {"copy", gd_cmd_copy},     {"compact", gd_cmd_compact}, {"cat", gd_cmd_cat},
    {"keygen", gd_cmd_keygen}, {"server", gd_cmd_server},   {"status", gd_cmd_status},
    {"export", gd_cmd_export}, {"drill", gd_cmd_drill}, {"release", gd_cmd_release},
};

static int version(gd_cli *cli)
{
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s}", "version", GEODR_VERSION));
    else
        printf("geodr %s\n", GEODR_VERSION);
    return GD_EXIT_OK;
}

int main(int argc, char **argv)
{
    gd_cli cli = {0};
    /* A peer that went away (an S3 endpoint, a replica) is an error to
     * handle, not a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    /* Global options may appear anywhere; take them out of argv. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            cli.quiet = true;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            gd_log_set_level(GD_LOG_DEBUG);
        } else if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "geodr: --config needs a file name\n");
                return GD_EXIT_USAGE;
            }
            cli.config_opt = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            cli.config_opt = a + 9;
        } else {
            argv[n++] = argv[i];
        }
    }
    argc = n;
    argv[argc] = NULL;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? GD_EXIT_USAGE : GD_EXIT_OK;
    }
    const char *cmd = argv[1];
    int rc = -1;
    for (size_t i = 0; rc < 0 && i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            rc = commands[i].run(&cli, argc - 1, argv + 1);
    }
    if (rc < 0 && (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)) {
        rc = version(&cli);
    } else if (rc < 0) {
        fprintf(stderr, "geodr: unknown command '%s'\n\n%s", cmd, usage);
        rc = GD_EXIT_USAGE;
    }
    gd_config_free(cli.cfg);
    return rc;
}
