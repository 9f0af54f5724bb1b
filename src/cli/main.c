#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/copy.h"
#include "common/log.h"
#include "common/util.h"
#include "io/key.h"
#include "storage/s3.h"
#include "storage/storage.h"

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
    "  info [INSTANCE]                             list instances and their backup sets\n"
    "  verify INSTANCE [SET]                       read every object back and check it\n"
    "  keygen FILE                                 write a new random key passphrase (0600)\n"
    "  cat INSTANCE OBJECT                         write one stored object, decoded, to stdout\n"
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

int gd_cli_instance(gd_cli *cli, const char *name, const gd_instance_cfg **ic, gd_err *err)
{
    int rc = gd_cli_config(cli, err);
    if (rc != 0)
        return rc;
    *ic = gd_config_instance(cli->cfg, name, err);
    return *ic ? 0 : (err && err->code ? err->code : GD_E_NOTFOUND);
}

int gd_cli_open_storage(const gd_region_cfg *rc, gd_storage **out, gd_err *err)
{
    int r = rc->type == GD_REGION_POSIX ? gd_storage_posix_open(rc->name, rc->path, out, err)
                                        : gd_storage_s3_open(rc, out, err);
    return r != 0 ? r : gd_storage_fault_from_env(out, err);
}

static int instance_storage(gd_cli *cli, const gd_instance_cfg *ic, const char *region,
                            gd_storage **st, gd_err *err)
{
    const gd_region_cfg *rc = gd_config_region(cli->cfg, region ? region : ic->home_region, err);
    if (rc == NULL)
        return err ? err->code : GD_E_NOTFOUND;
    return gd_cli_open_storage(rc, st, err);
}

int gd_cli_open_repo(gd_cli *cli, const gd_instance_cfg *ic, const char *region, bool create,
                     gd_repo **out, gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cli, ic, region, &st, err);
    if (r != 0)
        return r;
    return gd_repo_open(st, ic->name, ic->key_file, create, ic->compress_level, out, err);
}

int gd_cli_open_copy_region(gd_cli *cli, const gd_instance_cfg *ic, gd_repo *home,
                            const char *region, int64_t since_us, int64_t *since_out,
                            const atomic_bool *cancel, gd_repo **out, gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cli, ic, region, &st, err);
    if (r != 0)
        return r;
    st->cancel = cancel;
    return gd_copy_region_open(home, st, since_us, since_out, out, err);
}

int gd_cli_open_repo_raw(gd_cli *cli, const gd_instance_cfg *ic, const char *region, gd_repo **out,
                         gd_err *err)
{
    gd_storage *st = NULL;
    int r = instance_storage(cli, ic, region, &st, err);
    if (r != 0)
        return r;
    return gd_repo_open_raw(st, ic->name, false, out, err);
}

int gd_cli_instance_conn(const gd_instance_cfg *ic, gd_conn_params *p, char **password, gd_err *err)
{
    int rc = gd_instance_password(ic, password, err);
    if (rc != 0)
        return rc;
    static char what[300], source[600];
    snprintf(what, sizeof what, "instance %s", ic->name);
    if (ic->password_file)
        snprintf(source, sizeof source, "password-file %s", ic->password_file);
    else if (ic->password_env)
        snprintf(source, sizeof source, "environment variable %s (password-env)", ic->password_env);
    else
        snprintf(source, sizeof source, "the config (no password-file or password-env set)");
    memset(p, 0, sizeof *p);
    p->what = what;
    p->host = ic->socket && ic->socket[0] && (!ic->host || !ic->host[0]) ? NULL : ic->host;
    p->port = ic->port;
    p->socket = ic->socket;
    p->user = ic->user;
    p->password = *password;
    p->password_source = source;
    p->tls = gd_instance_tls(ic);
    return 0;
}

void gd_cli_free_password(char *pw)
{
    if (pw) {
        gd_wipe(pw, strlen(pw));
        free(pw);
    }
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

bool gd_cli_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool gd_cli_real(const char *s, double min, double max, double *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

char **gd_cli_split(const char *s, size_t *n)
{
    size_t cap = 4;
    char **v = gd_calloc(cap, sizeof *v);
    *n = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0) {
            if (*n == cap) {
                cap *= 2;
                v = gd_realloc(v, cap * sizeof *v);
            }
            v[(*n)++] = gd_strndup(p, l);
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return v;
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
    int rc;
    if (strcmp(cmd, "backup") == 0)
        rc = gd_cmd_backup(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "restore") == 0)
        rc = gd_cmd_restore(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "info") == 0)
        rc = gd_cmd_info(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "verify") == 0)
        rc = gd_cmd_verify(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "archive") == 0)
        rc = gd_cmd_archive(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "expire") == 0)
        rc = gd_cmd_expire(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "copy") == 0)
        rc = gd_cmd_copy(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "compact") == 0)
        rc = gd_cmd_compact(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "cat") == 0)
        rc = gd_cmd_cat(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "keygen") == 0)
        rc = gd_cmd_keygen(&cli, argc - 1, argv + 1);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (cli.json)
            gd_cli_print_json(json_pack("{s:s}", "version", GEODR_VERSION));
        else
            printf("geodr %s\n", GEODR_VERSION);
        rc = GD_EXIT_OK;
    } else {
        fprintf(stderr, "geodr: unknown command '%s'\n\n%s", cmd, usage);
        rc = GD_EXIT_USAGE;
    }
    gd_config_free(cli.cfg);
    return rc;
}
