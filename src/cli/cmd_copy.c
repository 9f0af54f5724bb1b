#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "region/copy.h"
#include "region/retention.h"

int gd_cli_copy_regions(gd_cli *cli, const gd_instance_cfg *ic, gd_repo *home, int jobs,
                        int64_t since_us, json_t *report)
{
    int failed = 0;
    if (!ic->cross_region_backup && !ic->cross_region_log_backup)
        return 0;
    for (size_t i = 0; i < ic->n_copy_regions; i++) {
        gd_err err;
        gd_err_clear(&err);
        gd_repo *dst = NULL;
        gd_copy_stats cs;
        memset(&cs, 0, sizeof cs);
        int64_t since = 0;
        int r = gd_cli_open_copy_region(cli, ic, home, ic->copy_regions[i], since_us, &since, NULL,
                                        &dst, &err);
        if (r == 0) {
            gd_copy_opts o = {.jobs = jobs,
                              .bandwidth = ic->copy_bandwidth,
                              .sets = ic->cross_region_backup,
                              .segments = ic->cross_region_log_backup,
                              .since_us = since};
            r = gd_copy_run(home, dst, &o, &cs, &err);
        }
        gd_repo_close(dst);
        json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "region", ic->copy_regions[i],
                              "ok", r == 0, "sets", (json_int_t)cs.sets, "objects",
                              (json_int_t)cs.objects, "skipped", (json_int_t)cs.skipped, "bytes",
                              (json_int_t)cs.bytes, "segments", (json_int_t)cs.segments);
        if (r != 0) {
            json_object_set_new(j, "error", json_string(err.msg));
            gd_error("%s", err.msg);
            failed++;
        }
        if (report)
            json_array_append_new(report, j);
        else
            json_decref(j);
    }
    return failed;
}

int gd_cmd_copy(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"jobs", required_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int jobs = 0, c;
    long long num = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (!gd_cli_int(optarg, 1, 256, &num))
                return gd_cli_usage("copy", "--jobs must be 1-256");
            jobs = (int)num;
            break;
        case 'h':
            fputs("usage: geodr copy INSTANCE [--jobs N]\n\nBrings every copy region of "
                  "INSTANCE up to date with its home region: backup sets (when "
                  "cross-region-backup = on) and binlog segments (when cross-region-log-backup "
                  "= on). Objects are copied as stored, verified by SHA-256, manifests and "
                  "segment records last; what a region already holds is not copied again. "
                  "geodr backup runs this at its end, geodr archive continuously for "
                  "segments.\n",
                  stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("copy", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("copy", "name one instance");
    gd_err err;
    gd_err_clear(&err);
    gd_repo *home = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, argv[optind], &ic, &err);
    if (rc == 0 && ic->n_copy_regions == 0)
        rc = gd_err_set(&err, GD_E_CONFIG,
                        "instance %s has no copy regions: set copy-regions and "
                        "cross-region-backup / cross-region-log-backup in its config section",
                        ic->name);
    /* Objects move as stored: no key is needed to copy. */
    if (rc == 0)
        rc = gd_cli_open_repo_raw(cli, ic, NULL, &home, &err);
    if (rc != 0)
        return gd_cli_fail(cli, &err);
    json_t *report = json_array();
    int failed = gd_cli_copy_regions(cli, ic, home, jobs ? jobs : ic->jobs, 0, report);
    gd_repo_close(home);
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:s, s:o}", "instance", ic->name, "regions", report));
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(report, i, r)
        {
            if (json_is_true(json_object_get(r, "ok"))) {
                char b[32];
                gd_fmt_bytes((uint64_t)gd_json_int(r, "bytes", 0), b, sizeof b);
                printf("region %s is up to date: %lld sets and %lld segments copied (%lld "
                       "objects, %s), %lld objects already there\n",
                       gd_json_str(r, "region", ""), gd_json_int(r, "sets", 0),
                       gd_json_int(r, "segments", 0), gd_json_int(r, "objects", 0), b,
                       gd_json_int(r, "skipped", 0));
            }
        }
        json_decref(report);
    }
    return failed ? GD_EXIT_FAIL : GD_EXIT_OK;
}

/* Expires one instance in its home region and every copy region. */
int gd_cli_expire_instance(gd_cli *cli, const gd_instance_cfg *ic, bool dry_run, json_t *report)
{
    int failed = 0;
    int64_t now = gd_clock_now_s();
    for (size_t i = 0; i <= ic->n_copy_regions; i++) {
        const char *region = i == 0 ? ic->home_region : ic->copy_regions[i - 1];
        int days = i == 0 ? ic->retention_days : ic->copy_retention_days;
        gd_err err;
        gd_err_clear(&err);
        gd_repo *repo = NULL;
        json_t *rep = NULL;
        int rc = gd_cli_open_repo(cli, ic, region, false, &repo, &err);
        if (rc == GD_E_NOTFOUND) {
            gd_repo_close(repo);
            continue; /* nothing of this instance there */
        }
        if (rc == 0)
            rc = gd_repo_expire(repo, days, now, dry_run, &rep, &err);
        gd_repo_close(repo);
        if (rc != 0) {
            gd_error("expire in region %s: %s", region, err.msg);
            rep = json_pack("{s:s, s:s}", "region", region, "error", err.msg);
            failed++;
        }
        json_object_set_new(rep, "instance", json_string(ic->name));
        json_array_append_new(report, rep);
    }
    return failed;
}

int gd_cmd_expire(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"dry-run", no_argument, NULL, 'n'},
                                       {"set", required_argument, NULL, 's'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    bool dry = false;
    const char *set = NULL, *region = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            dry = true;
            break;
        case 's':
            set = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'h':
            fputs("usage: geodr expire [INSTANCE] [--dry-run]\n"
                  "       geodr expire INSTANCE --set ID [--region R]\n\n"
                  "Removes, in every region of the instance (all instances without one), the "
                  "backup sets older than the region's retention (retention-days at home, "
                  "copy-retention-days in copy regions) that the recovery window no longer "
                  "needs, the binlog segments only they needed, and leftovers of killed "
                  "backups. With --set, removes that one set if and only if retention allows "
                  "it now; there is no way to remove an unexpired set. geodr backup runs this "
                  "at its end.\n",
                  stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("expire", "unknown option");
        }
    }
    if (optind < argc - 1 || (set && optind != argc - 1))
        return gd_cli_usage("expire", set ? "--set needs the instance" : "at most one instance");
    gd_err err;
    gd_err_clear(&err);
    if (gd_cli_config(cli, &err) != 0)
        return gd_cli_fail(cli, &err);
    const char *only = optind < argc ? argv[optind] : NULL;
    if (only && gd_config_instance(cli->cfg, only, &err) == NULL)
        return gd_cli_fail(cli, &err);
    if (set) {
        const gd_instance_cfg *ic = gd_config_instance(cli->cfg, only, &err);
        const char *rname = region ? region : ic->home_region;
        int days =
            strcmp(rname, ic->home_region) == 0 ? ic->retention_days : ic->copy_retention_days;
        gd_repo *repo = NULL;
        int rc = gd_cli_open_repo(cli, ic, rname, false, &repo, &err);
        if (rc == 0)
            rc = gd_repo_expire_set(repo, set, days, gd_clock_now_s(), &err);
        gd_repo_close(repo);
        if (rc != 0)
            return gd_cli_fail(cli, &err);
        printf("removed backup set %s of instance %s from region %s\n", set, only, rname);
        return GD_EXIT_OK;
    }
    json_t *report = json_array();
    int failed = 0;
    for (size_t i = 0; i < cli->cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &cli->cfg->instances[i];
        if (only && strcmp(ic->name, only) != 0)
            continue;
        failed += gd_cli_expire_instance(cli, ic, dry, report);
    }
    if (cli->json) {
        gd_cli_print_json(json_pack("{s:o}", "regions", report));
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(report, i, r)
        {
            if (json_object_get(r, "error"))
                continue;
            printf("%s %s in region %s (retention %lld days, boundary %s UTC): %zu sets "
                   "%s, %zu kept, %lld binlog segments %s\n",
                   dry ? "would expire" : "expired", gd_json_str(r, "instance", ""),
                   gd_json_str(r, "region", ""), gd_json_int(r, "retention_days", 0),
                   gd_json_str(r, "boundary", ""), json_array_size(json_object_get(r, "expire")),
                   dry ? "to remove" : "removed", json_array_size(json_object_get(r, "keep")),
                   gd_json_int(r, "segments_removed", 0), dry ? "to remove" : "removed");
        }
        json_decref(report);
    }
    return failed ? GD_EXIT_FAIL : GD_EXIT_OK;
}
