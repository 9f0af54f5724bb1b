#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "cli/cli.h"
#include "command/info.h"
#include "common/util.h"

static void print_archive(json_t *inst)
{
    json_t *a = json_object_get(inst, "archive");
    if (a == NULL || gd_json_int(a, "segments", 0) == 0) {
        printf("  binlog archive: none yet (run 'geodr archive %s' for point-in-time "
               "restore)\n",
               gd_json_str(inst, "name", ""));
        return;
    }
    char raw[32], st[32];
    gd_fmt_bytes((uint64_t)gd_json_int(a, "raw_bytes", 0), raw, sizeof raw);
    gd_fmt_bytes((uint64_t)gd_json_int(a, "stored_bytes", 0), st, sizeof st);
    printf("  binlog archive: %lld segments, %lld transactions (%s, stored as %s), "
           "%s .. %s UTC, archived up to GTID %s\n",
           gd_json_int(a, "segments", 0), gd_json_int(a, "transactions", 0), raw, st,
           gd_json_str(a, "first_time", ""), gd_json_str(a, "last_time", ""),
           gd_json_str(a, "gtid_pos", ""));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(a, "windows"), i, w)
    {
        printf("  recovery window: %s .. %s UTC (from set %s)\n", gd_json_str(w, "from", ""),
               gd_json_str(w, "to", ""), gd_json_str(w, "set", ""));
    }
    if (json_array_size(json_object_get(a, "windows")) == 0)
        printf("  recovery window: none: no backup set is rolled forward by the archive "
               "(take a backup with 'geodr backup %s')\n",
               gd_json_str(inst, "name", ""));
    json_array_foreach(json_object_get(a, "gaps"), i, w)
    {
        printf("  GAP in the binlog archive between %s and %s (before segment %lld: expected "
               "GTID position %s, found %s): transactions in between are lost to "
               "point-in-time restore; take a new backup so the window starts after it\n",
               gd_json_str(w, "after_time", ""), gd_json_str(w, "before_time", ""),
               gd_json_int(w, "before_seq", 0), gd_json_str(w, "expected", ""),
               gd_json_str(w, "found", ""));
    }
}

static void print_copies(json_t *inst)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(inst, "copies"), i, c)
    {
        if (json_object_get(c, "error")) {
            printf("  copy region %s: UNREADABLE: %s\n", gd_json_str(c, "region", ""),
                   gd_json_str(c, "error", ""));
            continue;
        }
        json_t *sets = json_object_get(c, "sets"), *a = json_object_get(c, "archive");
        json_t *lag = json_object_get(c, "lag");
        char b[32];
        gd_fmt_bytes((uint64_t)gd_json_int(lag, "bytes", 0), b, sizeof b);
        size_t n = json_array_size(sets);
        if (n == 0) {
            printf("  copy region %s: holds no backup set yet (it receives copies at the end "
                   "of each backup, or run 'geodr copy %s')\n",
                   gd_json_str(c, "region", ""), gd_json_str(inst, "name", ""));
            continue;
        }
        printf("  copy region %s: %zu sets%s%s, binlog archived up to %s; behind home by "
               "%lld s of sets, %lld s and %s of binlog\n",
               gd_json_str(c, "region", ""), n, n ? ", newest " : "",
               n ? gd_json_str(json_array_get(sets, n - 1), "set", "") : "",
               a && gd_json_int(a, "segments", 0) ? gd_json_str(a, "last_time", "") : "-",
               gd_json_int(lag, "sets_seconds", 0), gd_json_int(lag, "log_seconds", 0), b);
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(a, "windows"), k, w)
        {
            printf("    recovery window in %s: %s .. %s UTC\n", gd_json_str(c, "region", ""),
                   gd_json_str(w, "from", ""), gd_json_str(w, "to", ""));
        }
    }
}

/* The home region holds no repository of the instance: say so, and point
 * at the copy regions that hold sets. */
static void print_no_repository(json_t *inst)
{
    const char *name = gd_json_str(inst, "name", "");
    printf("  home region %s holds no repository for instance %s: %s\n",
           gd_json_str(inst, "region", ""), name, gd_json_str(inst, "note", "nothing there"));
    size_t i, with_sets = 0;
    json_t *c;
    json_array_foreach(json_object_get(inst, "copies"), i, c)
    {
        size_t n = json_array_size(json_object_get(c, "sets"));
        if (n == 0)
            continue;
        with_sets++;
        printf("  copy region %s holds %zu backup sets: see them with 'geodr info %s --region "
               "%s', restore from them with 'geodr restore %s --region %s ...'\n",
               gd_json_str(c, "region", ""), n, name, gd_json_str(c, "region", ""), name,
               gd_json_str(c, "region", ""));
    }
    if (with_sets == 0)
        printf("  no copy region holds a backup set either: if the home region's path or "
               "bucket is right, run 'geodr backup %s'\n",
               name);
}

static void print_human(json_t *inst)
{
    const char *home = json_string_value(json_object_get(inst, "home_region"));
    bool at_home = home && strcmp(home, gd_json_str(inst, "region", "")) == 0;
    if (home) /* --region: one region's view */
        printf("instance %s (%s:%d), region %s (%s%s), encryption %s\n",
               gd_json_str(inst, "name", ""), gd_json_str(inst, "host", ""),
               (int)gd_json_int(inst, "port", 0), gd_json_str(inst, "region", ""),
               at_home ? "its home region" : "not its home region; home region ",
               at_home ? "" : home,
               json_is_true(json_object_get(inst, "encrypted")) ? "on" : "off");
    else
        printf("instance %s (%s:%d), home region %s, encryption %s\n",
               gd_json_str(inst, "name", ""), gd_json_str(inst, "host", ""),
               (int)gd_json_int(inst, "port", 0), gd_json_str(inst, "region", ""),
               json_is_true(json_object_get(inst, "encrypted")) ? "on" : "off");
    const char *released = gd_json_str(json_object_get(inst, "policy"), "released_at", NULL);
    if (released)
        printf("  RELEASED at %s UTC: not backed up or archived; its backups stay until they "
               "expire ('geodr release %s --undo' takes it back)\n",
               released, gd_json_str(inst, "name", ""));
    json_t *sets = json_object_get(inst, "sets");
    if (home && json_is_false(json_object_get(inst, "repository"))) {
        printf("  region %s holds no repository for instance %s: %s\n",
               gd_json_str(inst, "region", ""), gd_json_str(inst, "name", ""),
               gd_json_str(inst, "note", "nothing there"));
        return;
    }
    if (json_is_false(json_object_get(inst, "repository"))) {
        print_no_repository(inst);
        print_copies(inst);
        return;
    }
    if (json_array_size(sets) == 0) {
        if (home)
            printf("  no backup sets in region %s\n", gd_json_str(inst, "region", ""));
        else
            printf("  no backup sets yet (run 'geodr backup %s')\n", gd_json_str(inst, "name", ""));
        print_archive(inst);
        print_copies(inst);
        return;
    }
    printf("  %-20s %-19s %-19s %-20s %6s %12s %10s %10s %8s\n", "SET", "START (UTC)", "END (UTC)",
           "GTID", "TABLES", "ROWS", "RAW", "STORED", "SECONDS");
    size_t i;
    json_t *s;
    json_array_foreach(sets, i, s)
    {
        if (json_object_get(s, "error")) {
            printf("  %-20s BAD: %s\n", gd_json_str(s, "set", ""), gd_json_str(s, "error", ""));
            continue;
        }
        char raw[32], st[32];
        gd_fmt_bytes((uint64_t)gd_json_int(s, "raw_bytes", 0), raw, sizeof raw);
        gd_fmt_bytes((uint64_t)gd_json_int(s, "stored_bytes", 0), st, sizeof st);
        printf("  %-20s %-19s %-19s %-20s %6lld %12lld %10s %10s %8.1f\n",
               gd_json_str(s, "set", ""), gd_json_str(s, "start", ""), gd_json_str(s, "end", ""),
               gd_json_str(s, "gtid", ""), gd_json_int(s, "tables", 0), gd_json_int(s, "rows", 0),
               raw, st, json_real_value(json_object_get(s, "seconds")));
        if (json_object_get(s, "unusable"))
            printf("  %-20s UNUSABLE: %s: take a new backup\n", "", gd_json_str(s, "unusable", ""));
        if (gd_json_int(s, "nontransactional_tables", 0) > 0)
            printf("  %-20s %lld non-transactional tables (MyISAM, Aria...) %s; global "
                   "read lock held %.1f s\n",
                   "", gd_json_int(s, "nontransactional_tables", 0),
                   json_is_true(json_object_get(s, "nontransactional_locked"))
                       ? "dumped under the global read lock"
                       : "dumped after the lock (not usable for point-in-time restore)",
                   json_real_value(json_object_get(s, "lock_seconds")));
    }
    print_archive(inst);
    print_copies(inst);
}

static const char help[] =
    "usage: geodr info [INSTANCE] [--region R] [--all] [--json]\n\nLists configured instances, "
    "the committed backup sets in their home region (start and end time, GTID "
    "position, tables, rows, size before and after compression, duration), the "
    "binlog archive, recovery windows, and each copy region. --region R shows only "
    "what region R holds of each instance (or of INSTANCE): its sets, binlog archive "
    "and recovery windows, read with the key when key-file is set (e.g. after losing "
    "the home region). --all also lists released instances: found in a region, no "
    "longer in the config.\n";

int gd_cmd_info(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"all", no_argument, NULL, 'a'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    bool all_regions = false;
    const char *region = NULL;
    int c, rc;
    gd_cli_args args = {.cmd = "info", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'a':
            all_regions = true;
            break;
        case 'r':
            region = optarg;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (argc - optind > 1)
        return gd_cli_usage("info", "at most one instance");
    const char *instance = optind < argc ? argv[optind] : NULL;
    if ((rc = gd_cli_region(cli, "info", instance, region)) != 0)
        return rc;
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    json_t *all = NULL, *released = NULL;
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0)
        return gd_cli_fail(cli, &err);
    if (region)
        rc = gd_command_info_region(&ctx, instance, region, &all, &err);
    else
        rc = gd_command_info(&ctx, instance, all_regions, &all, &released, &err);
    if (rc == 0 && region && all_regions)
        released = gd_command_released(&ctx);
    if (rc != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json) {
        json_t *o = json_pack("{s:o}", "instances", all);
        if (released)
            json_object_set_new(o, "released", released);
        gd_cli_print_json(o);
        return GD_EXIT_OK;
    }
    size_t i;
    json_t *inst;
    json_array_foreach(all, i, inst) print_human(inst);
    json_array_foreach(released, i, inst)
    {
        printf("released instance %s (no longer in the config) in region %s: %lld backup "
               "sets, kept until they expire\n",
               gd_json_str(inst, "name", ""), gd_json_str(inst, "region", ""),
               gd_json_int(inst, "sets", 0));
    }
    json_decref(released);
    json_decref(all);
    return GD_EXIT_OK;
}
