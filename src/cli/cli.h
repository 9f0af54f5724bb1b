/* Shared plumbing of the subcommands: global options, config, output.
 * Subcommands are thin: parse options, call an engine, print. */
#ifndef GD_CLI_CLI_H
#define GD_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "common/config.h"
#include "common/error.h"
#include "mysql/conn.h"
#include "repo/repo.h"
#include "storage/storage.h"

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

int gd_cli_config(gd_cli *cli, gd_err *err);
/* Loads the config and finds an instance by name. */
int gd_cli_instance(gd_cli *cli, const char *name, const gd_instance_cfg **ic, gd_err *err);
/* Opens a region's storage (posix or s3). */
int gd_cli_open_storage(const gd_region_cfg *rc, gd_storage **out, gd_err *err);
/* Copy regions of an instance: brings each up to date (sets when
 * cross-region-backup is on, binlog segments when cross-region-log-backup
 * is on); a region reached for the first time copies what started at
 * since_us or later (0: from now on).  Regions are independent: a failing one is
 * reported in *report ([{region, ok, error?, sets, objects, skipped, bytes,
 * segments}]) and the others go on.  Returns the number of failed regions. */
int gd_cli_copy_regions(gd_cli *cli, const gd_instance_cfg *ic, gd_repo *home, int jobs,
                        int64_t since_us, json_t *report);
/* Opens the repository of an instance in a region (NULL: its home region). */
int gd_cli_open_repo(gd_cli *cli, const gd_instance_cfg *ic, const char *region, bool create,
                     gd_repo **out, gd_err *err);
/* A copy region of the instance, prepared for copies (gd_copy_region_open;
 * since_us, since_out as there), its storage's cancel flag set to cancel
 * (may be NULL). */
int gd_cli_open_copy_region(gd_cli *cli, const gd_instance_cfg *ic, gd_repo *home,
                            const char *region, int64_t since_us, int64_t *since_out,
                            const atomic_bool *cancel, gd_repo **out, gd_err *err);
/* The same for raw copies (gd_repo_open_raw): no key needed or derived. */
int gd_cli_open_repo_raw(gd_cli *cli, const gd_instance_cfg *ic, const char *region, gd_repo **out,
                         gd_err *err);
/* Connection parameters of a configured instance; *password must be freed
 * with gd_cli_free_password. */
int gd_cli_instance_conn(const gd_instance_cfg *ic, gd_conn_params *p, char **password,
                         gd_err *err);
void gd_cli_free_password(char *pw);

/* Prints the error (one line on stderr; with --json also an object on
 * stdout) and returns GD_EXIT_FAIL. */
int gd_cli_fail(gd_cli *cli, const gd_err *err);
/* Usage error: message and hint to --help on stderr, returns GD_EXIT_USAGE. */
int gd_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a JSON value on stdout (steals the reference). */
void gd_cli_print_json(json_t *j);
/* A whole decimal integer in [min, max] ("5abc", "", overflow: false).
 * Every number read from argv goes through here (or gd_cli_real). */
bool gd_cli_int(const char *s, long long min, long long max, long long *out);
/* A whole decimal number in [min, max]. */
bool gd_cli_real(const char *s, double min, double max, double *out);
/* Splits "a,b,c" into a new string vector. */
char **gd_cli_split(const char *s, size_t *n);

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
/* Retention in every region of one instance; appends a report per region.
 * Returns the number of regions that failed. */
int gd_cli_expire_instance(gd_cli *cli, const gd_instance_cfg *ic, bool dry_run, json_t *report);

#endif
