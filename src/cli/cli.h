/* Shared plumbing of the subcommands: global options, config, output.
 * Subcommands are thin: argv to the options of an operation
 * (src/command), call it, print its result as text or JSON.  No SQL and no
 * repository logic here. */
#ifndef GD_CLI_CLI_H
#define GD_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "command/command.h"
#include "command/copy.h"
#include "common/config.h"
#include "common/defaults.h"
#include "common/error.h"

typedef struct gd_cli {
    const char *config_opt; /* --config */
    bool json;              /* --json: data on stdout as JSON */
    bool quiet;             /* --quiet: no progress */
    gd_config *cfg;         /* loaded on demand */
} gd_cli;

/* Exit codes. */
#define GD_EXIT_OK 0
#define GD_EXIT_FAIL 1
#define GD_EXIT_USAGE 2

/* Loads the config (once). */
int gd_cli_config(gd_cli *cli, gd_err *err);
/* Loads the config and fills *ctx for an operation: progress on a terminal
 * unless --quiet or --json, events to on_event (NULL: gd_cli_on_event), the
 * run's cancel token (set by the signals gd_cli_trap_signals traps). */
int gd_cli_ctx(gd_cli *cli, gd_cmd_event_fn on_event, void *event_ctx, gd_command_ctx *ctx,
               gd_err *err);
/* The default event printer (ctx: the gd_cli): notes on stderr unless
 * --quiet or --json, warnings always; phases are not printed. */
void gd_cli_on_event(void *cli, const gd_cmd_event *ev);
/* SIGINT/SIGTERM set the run's cancel token from now on.  twice_kills: a
 * second signal ends the process at once; restart: SA_RESTART (the loops
 * poll the token; without it a blocked read returns). */
void gd_cli_trap_signals(bool twice_kills, bool restart);
/* Puts back what gd_cli_trap_signals replaced. */
void gd_cli_untrap_signals(void);

/* Prints the error (one line on stderr; with --json also an object on
 * stdout) and returns GD_EXIT_FAIL. */
int gd_cli_fail(gd_cli *cli, const gd_err *err);
/* Usage error: message and hint to --help on stderr, returns GD_EXIT_USAGE. */
int gd_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A subcommand's options, parsed one way for every command: getopt_long
 * over its argv (argv[0] its name, the global options --config, --json,
 * --quiet and --verbose already taken out by main), long options from lo
 * (ending in a zero entry; --help is {"help", no_argument, NULL, 'h'}) and
 * short ones from shorts (NULL: none).  Option arguments are parsed by the
 * command's switch; options shared by several commands have a gd_cli_*
 * parser here (gd_cli_jobs). */
typedef struct gd_cli_args {
    const char *cmd;         /* the subcommand, for usage errors */
    const char *help;        /* printed on stdout by --help */
    const struct option *lo; /* getopt_long's table */
    const char *shorts;      /* getopt's short options, NULL: none */
    int exit_code;           /* set when gd_cli_opt returned GD_CLI_OPT_EXIT */
    bool started;
} gd_cli_args;
#define GD_CLI_OPT_END (-1)  /* no more options: the operands start at optind */
#define GD_CLI_OPT_EXIT (-2) /* --help was printed or a usage error was: return exit_code */
/* The next option (its value in lo, optarg its argument), or GD_CLI_OPT_END,
 * or GD_CLI_OPT_EXIT after --help (exit code 0) or an unknown option or a
 * missing argument (getopt's message, then the usage error: exit code 2). */
int gd_cli_opt(gd_cli_args *a, int argc, char **argv);
/* The option --jobs N of cmd (1-GD_MAX_JOBS) into *jobs: 0, or a usage
 * error's exit code. */
int gd_cli_jobs(const char *cmd, const char *arg, int *jobs);
/* The option --region R of cmd for instance (NULL: any instance): 0 when
 * region is NULL or a configured region, else a usage error naming it and
 * the instance's regions (home and copy regions; without an instance the
 * configured ones) and its exit code.  A config that does not load and an
 * unknown instance give 0: the command reports them. */
int gd_cli_region(gd_cli *cli, const char *cmd, const char *instance, const char *region);
/* Prints a JSON value on stdout (steals the reference). */
void gd_cli_print_json(json_t *j);
/* A copy report as --json shows it (backup, copy): a new array. */
json_t *gd_cli_copy_json(const gd_copy_report *r);

int gd_cmd_backup(gd_cli *cli, int argc, char **argv);
int gd_cmd_restore(gd_cli *cli, int argc, char **argv);
int gd_cmd_info(gd_cli *cli, int argc, char **argv);
int gd_cmd_verify(gd_cli *cli, int argc, char **argv);
int gd_cmd_keygen(gd_cli *cli, int argc, char **argv);
int gd_cmd_archive(gd_cli *cli, int argc, char **argv);
int gd_cmd_cat(gd_cli *cli, int argc, char **argv);
int gd_cmd_compact(gd_cli *cli, int argc, char **argv);
int gd_cmd_copy(gd_cli *cli, int argc, char **argv);
int gd_cmd_expire(gd_cli *cli, int argc, char **argv);
int gd_cmd_server(gd_cli *cli, int argc, char **argv);
int gd_cmd_status(gd_cli *cli, int argc, char **argv);
int gd_cmd_export(gd_cli *cli, int argc, char **argv);
int gd_cmd_drill(gd_cli *cli, int argc, char **argv);
int gd_cmd_release(gd_cli *cli, int argc, char **argv);
#endif
