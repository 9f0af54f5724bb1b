#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/archive.h"
#include "archive/compact.h"
#include "region/ship.h"
#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"

static const char help[] =
    "usage: geodr archive INSTANCE [--server-id N] [--interval SECONDS] [--idle-exit SECONDS]\n"
    "                     [--compact-every SECONDS]\n"
    "\n"
    "Streams INSTANCE's binary log as a replica and archives every transaction\n"
    "into its home region, in segments committed at least every --interval\n"
    "seconds while transactions arrive (default: archive-interval, 1 s).\n"
    "Runs in the foreground until SIGTERM or SIGINT; resumes where it stopped,\n"
    "with no gap and no duplicate. Reconnects by itself when the source\n"
    "restarts or the network drops.\n"
    "\n"
    "  --server-id N       replica server id (default: archive-server-id, or one\n"
    "                      derived from the instance name)\n"
    "  --interval S        commit a segment at least every S seconds\n"
    "  --idle-exit S       stop after S seconds without a transaction (scripts)\n"
    "  --compact-every S   merge small segments every S seconds, beside the\n"
    "                      archiving (default 60; 0: never)\n";

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Opens one copy region for a shipper (in its thread, again after a
 * failure: a region down when the archive starts is reached later). */
typedef struct region_opener {
    gd_cli *cli;
    const gd_instance_cfg *ic;
    gd_repo *home;
    const char *region;
} region_opener;

static int open_copy_region(void *ctx, const atomic_bool *cancel, gd_repo **dst, gd_err *err)
{
    region_opener *ro = ctx;
    return gd_cli_open_copy_region(ro->cli, ro->ic, ro->home, ro->region, 0, NULL, cancel, dst,
                                   err);
}

typedef struct shippers {
    gd_shipper **v;
    size_t n;
} shippers;

static void notify_shippers(void *ctx, json_t *record)
{
    shippers *sh = ctx;
    for (size_t i = 0; i < sh->n; i++)
        gd_shipper_notify(sh->v[i], record);
}

int gd_cmd_archive(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"server-id", required_argument, NULL, 's'},
                                       {"interval", required_argument, NULL, 'i'},
                                       {"idle-exit", required_argument, NULL, 'x'},
                                       {"compact-every", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    unsigned long server_id = 0;
    long long num = 0;
    double interval = 0, idle = 0, compact_every = 60;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!gd_cli_int(optarg, 1, 4294967295LL, &num))
                return gd_cli_usage("archive", "--server-id must be 1-4294967295");
            server_id = (unsigned long)num;
            break;
        case 'i':
            if (!gd_cli_real(optarg, 0.1, 300, &interval))
                return gd_cli_usage("archive", "--interval must be 0.1-300 seconds");
            break;
        case 'x':
            if (!gd_cli_real(optarg, 0.001, 1e9, &idle))
                return gd_cli_usage("archive", "--idle-exit must be a positive number of seconds");
            break;
        case 'c':
            if (!gd_cli_real(optarg, 0, 86400, &compact_every) ||
                (compact_every > 0 && compact_every < 1))
                return gd_cli_usage("archive",
                                    "--compact-every must be 1-86400 seconds, or 0 (never)");
            break;
        case 'h':
            fputs(help, stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("archive", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("archive", "name one instance");
    const char *name = argv[optind];
    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    char *pw = NULL;
    const gd_instance_cfg *ic = NULL;
    gd_conn_params src;
    int rc = gd_cli_instance(cli, name, &ic, &err);
    if (rc == 0)
        rc = gd_cli_instance_conn(ic, &src, &pw, &err);
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, NULL, true, &repo, &err);
    gd_archive_stats st;
    int behind = 0;
    memset(&st, 0, sizeof st);
    if (rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        gd_archive_opts o = {
            .server_id = server_id               ? (uint32_t)server_id
                         : ic->archive_server_id ? ic->archive_server_id
                                                 : gd_archive_default_server_id(ic->name),
            .interval_s = interval > 0 ? interval : ic->archive_interval,
            .max_segment = 64ull << 20,
            .heartbeat_s = 0.5,
            .idle_exit_s = idle,
            .compact_every_s = compact_every,
            .stop = &g_stop,
        };
        if (!cli->quiet && !cli->json)
            fprintf(stderr,
                    "geodr: archiving the binlog of instance %s into region %s "
                    "(Ctrl-C or SIGTERM stops)\n",
                    name, repo->st->name);
        /* One shipper per copy region with log backup on. */
        size_t nc = ic->cross_region_log_backup ? ic->n_copy_regions : 0;
        shippers sh = {.v = gd_calloc(nc + 1, sizeof *sh.v), .n = nc};
        region_opener *ops = gd_calloc(nc + 1, sizeof *ops);
        for (size_t i = 0; i < nc; i++) {
            gd_err e;
            gd_err_clear(&e);
            ops[i] =
                (region_opener){.cli = cli, .ic = ic, .home = repo, .region = ic->copy_regions[i]};
            if (gd_shipper_start(repo, ic->copy_regions[i], open_copy_region, &ops[i],
                                 ic->copy_bandwidth, &sh.v[i], &e) != 0)
                gd_warn("binlog segments are not copied to region %s: %s", ic->copy_regions[i],
                        e.msg);
        }
        o.on_segment = notify_shippers;
        o.on_segment_ctx = &sh;
        rc = gd_archive_run(repo, &src, &o, &st, &err);
        behind = gd_shippers_stop(sh.v, nc);
        free(sh.v);
        free(ops);
    }
    gd_cli_free_password(pw);
    if (rc != 0) {
        gd_repo_close(repo);
        return gd_cli_fail(cli, &err);
    }
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "instance", name,
                                    "region", repo->st->name, "segments", (json_int_t)st.segments,
                                    "transactions", (json_int_t)st.transactions, "raw_bytes",
                                    (json_int_t)st.raw_bytes, "reconnects",
                                    (json_int_t)st.reconnects, "gtid_pos", st.gtid_pos));
    else
        printf("archive of instance %s stopped: %llu segments, %llu transactions written "
               "this run; archived up to GTID position %s\n",
               name, st.segments, st.transactions, st.gtid_pos[0] ? st.gtid_pos : "(none)");
    gd_repo_close(repo);
    /* The home archive is complete, but a copy region is not: a geo-restore
     * from it now would miss the last transactions.  A supervisor must see
     * it (docs/regions.md). */
    if (behind > 0) {
        fprintf(stderr,
                "geodr: error: %d copy region(s) of instance %s are behind the home region's "
                "binlog archive (named above): run 'geodr copy %s' or start 'geodr archive' "
                "again when they answer\n",
                behind, name, name);
        return GD_EXIT_FAIL;
    }
    return GD_EXIT_OK;
}

int gd_cmd_cat(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *region = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r':
            region = optarg;
            break;
        case 'h':
            fputs("usage: geodr cat INSTANCE OBJECT [--region R]\n\nWrites the decoded "
                  "(decrypted, decompressed) contents of one object of INSTANCE's repository "
                  "to standard output, e.g. a binlog segment for mariadb-binlog. OBJECT is "
                  "relative to the instance: backup/SET/data/0-0.tsv.zst.gde, "
                  "binlog/000000000001.binlog.zst.gde.\n",
                  stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("cat", "unknown option");
        }
    }
    if (optind != argc - 2)
        return gd_cli_usage("cat", "name an instance and an object");
    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, argv[optind], &ic, &err);
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, region, false, &repo, &err);
    gd_obj_reader *rd = NULL;
    char *name = NULL;
    if (rc == 0) {
        name = gd_asprintf("%s/%s", ic->name, argv[optind + 1]);
        rc = gd_obj_open(repo, name, NULL, &rd, &err);
    }
    static char buf[1 << 17];
    while (rc == 0) {
        ssize_t n = gd_obj_read(rd, buf, sizeof buf, &err);
        if (n < 0)
            rc = (int)n;
        if (n <= 0)
            break;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            rc = gd_err_sys(&err, 32, "cannot write to standard output");
    }
    gd_obj_close(rd);
    free(name);
    gd_repo_close(repo);
    if (fflush(stdout) != 0 && rc == 0)
        rc = gd_err_set(&err, GD_E_IO, "cannot write to standard output");
    return rc == 0 ? GD_EXIT_OK : gd_cli_fail(cli, &err);
}

int gd_cmd_compact(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"min-segments", required_argument, NULL, 'm'},
                                       {"grace", required_argument, NULL, 'g'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    gd_compact_opts co = {
        .min_segments = 32, .small = 4u << 20, .max_merged = 64u << 20, .grace_s = 3600};
    int c;
    long long num = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (!gd_cli_int(optarg, 2, 1000000, &num))
                return gd_cli_usage("compact", "--min-segments must be 2-1000000");
            co.min_segments = (unsigned)num;
            break;
        case 'g':
            if (!gd_cli_int(optarg, 0, 10LL * 366 * 86400, &num))
                return gd_cli_usage("compact", "--grace must be 0-316224000 seconds (10 years)");
            co.grace_s = num;
            break;
        case 'h':
            fputs("usage: geodr compact INSTANCE [--min-segments N] [--grace SECONDS]\n\n"
                  "Merges runs of at least N (default 32) small consecutive binlog segments "
                  "of INSTANCE's home region into one, and removes segments merged more than "
                  "--grace seconds ago (default 3600, so restores reading them can finish). "
                  "geodr archive does this by itself every minute.\n",
                  stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("compact", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("compact", "name one instance");
    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, argv[optind], &ic, &err);
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, NULL, false, &repo, &err);
    gd_compact_stats st;
    memset(&st, 0, sizeof st);
    if (rc == 0)
        rc = gd_archive_compact(repo, &co, &st, &err);
    gd_repo_close(repo);
    if (rc != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:I, s:I, s:I}", "merged_runs", (json_int_t)st.merged_runs,
                                    "merged_segments", (json_int_t)st.merged_segments, "removed",
                                    (json_int_t)st.removed));
    else
        printf("compacted the binlog archive of %s: %llu segments merged into %llu, %llu "
               "merged-away segments removed\n",
               argv[optind], st.merged_segments, st.merged_runs, st.removed);
    return GD_EXIT_OK;
}
