#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "command/backup.h"
#include "common/util.h"

/* clang-format breaks the lines around GD_STR badly */
// clang-format off
static const char help[] =
    "usage: geodr backup INSTANCE [--jobs N] [--with-users] [--no-lock-nontransactional]\n"
    "                    [--on-demand]\n"
    "\n"
    "Takes a consistent logical backup of INSTANCE into its home region: N\n"
    "connections share one snapshot (a brief global read lock lines them up and\n"
    "reads the GTID position); big tables are split into primary-key ranges.\n"
    "\n"
    "  --jobs N       parallel connections (default: the instance's jobs, " GD_STR(GD_DEFAULT_JOBS) ")\n"
    "  --with-users   also save users and grants\n"
    "  --no-lock-nontransactional\n"
    "                 dump MyISAM/Aria tables after releasing the global read lock\n"
    "                 (shorter lock; such tables are then not as of the set's position\n"
    "                 and the set cannot be replayed onto them)\n"
    "  --on-demand    mark the set as taken on demand (kept by the same retention;\n"
    "                 at most " GD_STR(GD_MAX_ON_DEMAND) " per instance, the next one is refused)\n"
    "  --json         print the result as JSON\n";
// clang-format on

/* The copy report as --json shows it (geodr copy too). */
json_t *gd_cli_copy_json(const gd_copy_report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const gd_region_copy *c = &r->v[i];
        json_t *j =
            json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "region", c->region, "ok", c->ok,
                      "sets", (json_int_t)c->stats.sets, "objects", (json_int_t)c->stats.objects,
                      "skipped", (json_int_t)c->stats.skipped, "bytes", (json_int_t)c->stats.bytes,
                      "segments", (json_int_t)c->stats.segments);
        if (!c->ok)
            json_object_set_new(j, "error", json_string(c->error));
        json_array_append_new(a, j);
    }
    return a;
}

/* The backup's result, printed once it is copied (before retention runs). */
static void print_backup(gd_cli *cli, const gd_backup_outcome *out, const char *name)
{
    const gd_backup_result *res = &out->set;
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:o}",
                                    "instance", name, "region", out->region, "set", res->set_id,
                                    "gtid", res->gtid, "tables", (json_int_t)res->tables, "rows",
                                    (json_int_t)res->rows, "raw_bytes", (json_int_t)res->raw_bytes,
                                    "stored_bytes", (json_int_t)res->stored_bytes, "seconds",
                                    res->seconds, "copies", gd_cli_copy_json(&out->copies)));
        return;
    }
    char raw[32], stored[32];
    gd_fmt_bytes(res->raw_bytes, raw, sizeof raw);
    gd_fmt_bytes(res->stored_bytes, stored, sizeof stored);
    printf("backup %s of instance %s committed in region %s: %llu tables, %llu rows, %s "
           "of data stored as %s, %.1f s, GTID position %s\n",
           res->set_id, name, out->region, res->tables, res->rows, raw, stored, res->seconds,
           res->gtid[0] ? res->gtid : "(none)");
    for (size_t i = 0; i < out->copies.n; i++) {
        if (out->copies.v[i].ok)
            printf("copied to region %s (%lld objects)\n", out->copies.v[i].region,
                   (long long)out->copies.v[i].stats.objects);
    }
}

typedef struct backup_printer {
    gd_cli *cli;
    const char *name;
} backup_printer;

static void backup_event(void *ctx, const gd_cmd_event *ev)
{
    backup_printer *p = ctx;
    if (ev->kind == GD_EVENT_PHASE_END && strcmp(ev->phase, "copy") == 0)
        print_backup(p->cli, ev->data, p->name);
    else
        gd_cli_on_event(p->cli, ev);
}

int gd_cmd_backup(gd_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"jobs", required_argument, NULL, 'j'},
                                             {"with-users", no_argument, NULL, 'u'},
                                             {"no-lock-nontransactional", no_argument, NULL, 'L'},
                                             {"on-demand", no_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int jobs = 0;
    bool with_users = false, no_lock_nontx = false, on_demand = false;
    int c, rc;
    gd_cli_args args = {.cmd = "backup", .help = help, .lo = longopts, .shorts = "j:h"};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'j':
            if ((rc = gd_cli_jobs("backup", optarg, &jobs)) != 0)
                return rc;
            break;
        case 'u':
            with_users = true;
            break;
        case 'L':
            no_lock_nontx = true;
            break;
        case 'o':
            on_demand = true;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc - 1)
        return gd_cli_usage("backup", "name one instance");
    gd_backup_request rq = {.instance = argv[optind],
                            .jobs = jobs,
                            .with_users = with_users,
                            .no_lock_nontransactional = no_lock_nontx,
                            .on_demand = on_demand};
    backup_printer printer = {.cli = cli, .name = rq.instance};
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_backup_outcome out;
    memset(&out, 0, sizeof out);
    if (gd_cli_ctx(cli, backup_event, &printer, &ctx, &err) != 0 ||
        gd_command_backup(&ctx, &rq, &out, &err) != 0) {
        gd_backup_outcome_free(&out);
        return gd_cli_fail(cli, &err);
    }
    rc = GD_EXIT_OK;
    if (out.copies.failed) {
        fprintf(stderr,
                "geodr: error: backup %s is committed in region %s, but copying it to "
                "%d copy region(s) failed (see above): run 'geodr copy %s' when the "
                "region is reachable\n",
                out.set.set_id, out.region, out.copies.failed, rq.instance);
        rc = GD_EXIT_FAIL;
    }
    gd_backup_outcome_free(&out);
    return rc;
}
