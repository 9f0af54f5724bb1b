#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/plan.h"
#include "replay/replay.h"
#include "repo/segment.h"
#include "replay/subset.h"
#include "restore/provision.h"
#include "restore/restore.h"

static volatile sig_atomic_t g_stop;

/* The first SIGINT/SIGTERM asks the restore to stop cleanly; a second one
 * ends the process at once. */
static void on_signal(int sig)
{
    if (g_stop) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop = 1;
}

static const char help[] =
    "usage: geodr restore INSTANCE [--region R] [--latest | --time T | --gtid G | --fastest | "
    "--set ID]\n"
    "         (--target HOST:PORT --target-user U --target-password-file F\n"
    "          [--target-ssl-mode M] [--target-ssl-ca F] [--target-ssl-cert F --target-ssl-key F]\n"
    "          | --new-instance DIR --port P)\n"
    "         [--databases A,B] [--tables db.t,...] [--rename old=new,...]\n"
    "         [--replace-existing] [--with-users] [--write-binlog] [--jobs N] [--dry-run]\n"
    "\n"
    "Restores a backup set of INSTANCE from one region (default: its home region).\n"
    "\n"
    "  --latest              the newest backup set rolled forward through the whole\n"
    "                        binlog archive (default)\n"
    "  --time T              the state at T ('YYYY-MM-DD HH:MM:SS', UTC unless a zone\n"
    "                        like +02:00 follows): the newest set before T, then every\n"
    "                        archived transaction committed in or before T's second\n"
    "  --gtid POS            the state right after the transaction(s) of a GTID\n"
    "                        position (domain-server-seq[,...])\n"
    "  --fastest             the newest backup set as it is (no binlog replay)\n"
    "  --set ID              a given set (see 'geodr info INSTANCE')\n"
    "  --target HOST:PORT    an existing server; --target-user and\n"
    "                        --target-password-file say how to log in\n"
    "  --target-ssl-mode M   TLS to the target: disabled, preferred (default: TLS\n"
    "                        when offered, certificate not checked), required,\n"
    "                        verify-ca, verify-identity (docs/tls.md)\n"
    "  --target-ssl-ca F     the CA certificate (PEM) that signed the target's\n"
    "                        certificate (verify-ca, verify-identity)\n"
    "  --target-ssl-cert F, --target-ssl-key F\n"
    "                        a client certificate and its key, if the target asks\n"
    "  --new-instance DIR    provision a new local MariaDB in DIR listening on\n"
    "  --port P              127.0.0.1:P, left running (details in DIR/client.cnf)\n"
    "  --databases A,B       only these databases\n"
    "  --tables db.t,...     only these tables\n"
    "  --rename old=new      restore database old under the name new\n"
    "  --replace-existing    drop and recreate tables that exist in the target\n"
    "                        (without it, an existing table stops the restore)\n"
    "  --with-users          also restore saved users and grants\n"
    "  --write-binlog        write the restore to the target's binary log (so its\n"
    "                        replicas receive it); by default the restore runs\n"
    "                        with sql_log_bin = 0 when the target user may set it\n"
    "  --replay-host ADDR    with replay into a --target on another machine: the\n"
    "                        IPv4 address of this machine the target reaches it at\n"
    "                        (geodr's binlog server listens there; default\n"
    "                        127.0.0.1, which only a target on this machine reaches);\n"
    "                        the replication then runs over TLS with a certificate\n"
    "                        the target pins (its user needs the FILE privilege)\n"
    "  --replay-stall-timeout S  fail when the target has not been able to read from\n"
    "                        geodr's binlog server for S seconds (default 60)\n"
    "  --jobs N              parallel connections (default: the instance's jobs)\n"
    "  --dry-run             check everything and print the plan; write nothing\n"
    "  --reset-target        only undo what a killed geodr left on --target during a\n"
    "                        replay: geodr's replica configuration, the parallel\n"
    "                        replication settings (to the server's defaults)\n";

enum {
    O_REGION = 256,
    O_LATEST,
    O_FASTEST,
    O_SET,
    O_TIME,
    O_TARGET,
    O_TUSER,
    O_TPASS,
    O_TSSL_MODE,
    O_TSSL_CA,
    O_TSSL_CERT,
    O_TSSL_KEY,
    O_NEW,
    O_PORT,
    O_DBS,
    O_TABLES,
    O_RENAME,
    O_REPLACE,
    O_USERS,
    O_JOBS,
    O_DRY,
    O_BINLOG,
    O_GTID,
    O_REPLAY_HOST,
    O_STALL,
    O_RESET,
    O_HELP
};

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC, or followed by "Z", "UTC" or an
 * offset "+HH:MM" / "-HH:MM".  Binlog commit times have whole seconds, so
 * the point is the second (fractions are accepted and dropped). */
static int parse_time(const char *s, long long *out, gd_err *err)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (p == NULL)
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return gd_err_set(err, GD_E_INVALID,
                          "--time '%s': expected 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC unless a "
                          "zone like +02:00 follows)",
                          s);
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    while (*p == ' ')
        p++;
    long off = 0;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 14 || mm > 59)
            return gd_err_set(err, GD_E_INVALID, "--time '%s': bad zone offset", s);
        off = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
        p += 6;
    } else if (*p == 'Z') {
        p++;
    } else if (strncmp(p, "UTC", 3) == 0) {
        p += 3;
    }
    if (*p != '\0')
        return gd_err_set(err, GD_E_INVALID, "--time '%s': unexpected '%s' at the end", s, p);
    *out = (long long)timegm(&tm) - off;
    return 0;
}

static void free_v(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The port of "HOST:PORT" (3306 without one); false when out of range. */
static bool parse_target_port(const char *target, unsigned *port)
{
    const char *colon = strrchr(target, ':');
    long long p = 3306;
    if (colon && !gd_cli_int(colon + 1, 1, 65535, &p))
        return false;
    *port = (unsigned)p;
    return true;
}

/* Connection parameters of --target; *host and *pw are the caller's to
 * free (gd_cli_free_password for pw). */
static int target_conn(const char *target, unsigned port, const char *user, const char *pwfile,
                       const gd_tls_opts *tls, gd_conn_params *tp, char **host, char **pw,
                       gd_err *err)
{
    const char *colon = strrchr(target, ':');
    *host = colon ? gd_strndup(target, (size_t)(colon - target)) : gd_strdup(target);
    int rc = gd_read_secret_file(pwfile, pw, err);
    *tp = (gd_conn_params){.what = "the target",
                           .host = *host,
                           .port = port,
                           .user = user,
                           .password = *pw,
                           .password_source = pwfile,
                           .tls = *tls};
    return rc;
}

/* One --target-ssl-* option into t; false for a mode that is not one. */
static bool target_tls_arg(int opt, const char *arg, gd_tls_opts *t)
{
    if (opt == O_TSSL_MODE)
        return gd_tls_mode_parse(arg, &t->mode);
    *(opt == O_TSSL_CA ? &t->ca : opt == O_TSSL_CERT ? &t->cert : &t->key) = arg;
    return true;
}

/* The --target-ssl-* options together: 0, or the usage error's exit code. */
static int check_target_tls(bool given, const char *target, const gd_tls_opts *t)
{
    char msg[600];
    if (given && !target)
        return gd_cli_usage("restore", "--target-ssl-* apply to --target only (a --new-instance "
                                       "is reached over its local socket)");
    if (!gd_tls_check(t, msg, sizeof msg))
        return gd_cli_usage("restore", "%s", msg);
    return 0;
}

/* restore --reset-target: undo what a killed geodr left on the target. */
static int reset_target_cmd(gd_cli *cli, const char *target, unsigned port, const char *user,
                            const char *pwfile, const gd_tls_opts *tls)
{
    gd_conn_params tp;
    char *host = NULL, *pw = NULL, note[512] = "";
    gd_err err;
    gd_err_clear(&err);
    int rc = target_conn(target, port, user, pwfile, tls, &tp, &host, &pw, &err);
    if (rc == 0)
        rc = gd_replay_reset_target(&tp, note, sizeof note, &err);
    gd_cli_free_password(pw);
    free(host);
    if (rc != 0)
        return gd_cli_fail(cli, &err);
    printf("target %s reset: geodr's replica configuration removed, parallel replication "
           "settings back to the server's defaults%s%s\n",
           target, note[0] ? "; " : "", note);
    return GD_EXIT_OK;
}

/* Every segment the replay needs is read and checked before anything
 * touches the target: a missing or damaged one stops here. */
static int check_segments(gd_repo *repo, json_t *plan, gd_err *err)
{
    size_t k;
    json_t *sg;
    json_array_foreach(json_object_get(plan, "segments"), k, sg)
    {
        char *sname = gd_asprintf("%s/binlog/%s", repo->instance, gd_json_str(sg, "object", ""));
        int rc = gd_obj_verify(repo, sname, gd_json_str(sg, "sha256", ""), err);
        if (rc == 0)
            rc = gd_ctimes_check(sg, err); /* what the stop point is read from */
        free(sname);
        if (rc != 0) {
            gd_err_prefix(err, "the binlog archive cannot be replayed (nothing was written to "
                               "the target; restore to an earlier point, or from another "
                               "region)");
            return rc;
        }
    }
    return 0;
}

int gd_cmd_restore(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, O_REGION},
                                       {"latest", no_argument, NULL, O_LATEST},
                                       {"fastest", no_argument, NULL, O_FASTEST},
                                       {"set", required_argument, NULL, O_SET},
                                       {"time", required_argument, NULL, O_TIME},
                                       {"target", required_argument, NULL, O_TARGET},
                                       {"target-user", required_argument, NULL, O_TUSER},
                                       {"target-password-file", required_argument, NULL, O_TPASS},
                                       {"target-ssl-mode", required_argument, NULL, O_TSSL_MODE},
                                       {"target-ssl-ca", required_argument, NULL, O_TSSL_CA},
                                       {"target-ssl-cert", required_argument, NULL, O_TSSL_CERT},
                                       {"target-ssl-key", required_argument, NULL, O_TSSL_KEY},
                                       {"new-instance", required_argument, NULL, O_NEW},
                                       {"port", required_argument, NULL, O_PORT},
                                       {"databases", required_argument, NULL, O_DBS},
                                       {"tables", required_argument, NULL, O_TABLES},
                                       {"rename", required_argument, NULL, O_RENAME},
                                       {"replace-existing", no_argument, NULL, O_REPLACE},
                                       {"with-users", no_argument, NULL, O_USERS},
                                       {"jobs", required_argument, NULL, O_JOBS},
                                       {"dry-run", no_argument, NULL, O_DRY},
                                       {"write-binlog", no_argument, NULL, O_BINLOG},
                                       {"gtid", required_argument, NULL, O_GTID},
                                       {"replay-host", required_argument, NULL, O_REPLAY_HOST},
                                       {"replay-stall-timeout", required_argument, NULL, O_STALL},
                                       {"reset-target", no_argument, NULL, O_RESET},
                                       {"help", no_argument, NULL, O_HELP},
                                       {NULL, 0, NULL, 0}};
    const char *region = NULL, *set = NULL, *target = NULL, *tuser = NULL, *tpass = NULL,
               *newdir = NULL, *time_opt = NULL, *gtid_opt = NULL, *replay_host = NULL;
    bool reset_target = false, target_tls = false;
    gd_tls_opts ttls = {.prefix = "--target-ssl-"};
    unsigned port = 0;
    int stall_s = 0;
    gd_restore_opts o = {0};
    char *renames = NULL;
    int c, points = 0;
    bool fastest = false;
    long long num = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_REGION:
            region = optarg;
            break;
        case O_LATEST:
            points++;
            break;
        case O_FASTEST:
            fastest = true;
            points++;
            break;
        case O_SET:
            set = optarg;
            points++;
            break;
        case O_TIME:
            time_opt = optarg;
            points++;
            break;
        case O_GTID:
            gtid_opt = optarg;
            points++;
            break;
        case O_RESET:
            reset_target = true;
            break;
        case O_REPLAY_HOST:
            replay_host = optarg;
            if (strcmp(optarg, "0.0.0.0") == 0 || strcmp(optarg, "::") == 0)
                fprintf(stderr,
                        "geodr: warning: --replay-host %s: the binlog server will be reachable "
                        "from every network of this machine for the length of the replay; it "
                        "accepts only a one-time user and a random password, and only over TLS. "
                        "Prefer the one address the target reaches this machine at, on a "
                        "private network\n",
                        optarg);
            break;
        case O_STALL:
            if (!gd_cli_int(optarg, 1, 86400, &num))
                return gd_cli_usage("restore", "--replay-stall-timeout must be 1-86400 seconds");
            stall_s = (int)num;
            break;
        case O_TARGET:
            target = optarg;
            break;
        case O_TUSER:
            tuser = optarg;
            break;
        case O_TPASS:
            tpass = optarg;
            break;
        case O_TSSL_MODE:
        case O_TSSL_CA:
        case O_TSSL_CERT:
        case O_TSSL_KEY:
            if (!target_tls_arg(c, optarg, &ttls))
                return gd_cli_usage("restore",
                                    "--target-ssl-mode %s: must be disabled, "
                                    "preferred, required, verify-ca or verify-identity",
                                    optarg);
            target_tls = true;
            break;
        case O_NEW:
            newdir = optarg;
            break;
        case O_PORT:
            if (!gd_cli_int(optarg, 1, 65535, &num))
                return gd_cli_usage("restore", "--port must be 1-65535");
            port = (unsigned)num;
            break;
        case O_DBS:
            o.databases = gd_cli_split(optarg, &o.ndatabases);
            break;
        case O_TABLES:
            o.tables = gd_cli_split(optarg, &o.ntables);
            break;
        case O_RENAME: {
            char *prev = renames;
            renames = prev ? gd_asprintf("%s,%s", prev, optarg) : gd_strdup(optarg);
            free(prev);
            break;
        }
        case O_REPLACE:
            o.replace_existing = true;
            break;
        case O_USERS:
            o.with_users = true;
            break;
        case O_JOBS:
            if (!gd_cli_int(optarg, 1, 256, &num))
                return gd_cli_usage("restore", "--jobs must be 1-256");
            o.jobs = (int)num;
            break;
        case O_DRY:
            o.dry_run = true;
            break;
        case O_BINLOG:
            o.write_binlog = true;
            break;
        case O_HELP:
            fputs(help, stdout);
            return GD_EXIT_OK;
        default:
            return gd_cli_usage("restore", "unknown option");
        }
    }
    if (optind != argc - 1)
        return gd_cli_usage("restore", "name one instance");
    if (points > 1)
        return gd_cli_usage("restore", "choose one of --latest, --time, --gtid, --fastest, --set");
    unsigned tport = 3306;
    if (target && !parse_target_port(target, &tport))
        return gd_cli_usage("restore", "--target HOST:PORT: the port must be 1-65535");
    if ((c = check_target_tls(target_tls, target, &ttls)) != 0)
        return c;
    if (replay_host && target && ttls.mode < GD_TLS_VERIFY_CA)
        fprintf(stderr,
                "geodr: warning: --replay-host with --target-ssl-mode %s: the certificate the "
                "target pins for geodr's binlog server goes over a target connection that is not "
                "authenticated; use --target-ssl-mode verify-ca or verify-identity\n",
                gd_tls_mode_name(ttls.mode));
    if (reset_target) {
        if (!target || !tuser || !tpass)
            return gd_cli_usage("restore", "--reset-target needs --target, --target-user and "
                                           "--target-password-file");
        return reset_target_cmd(cli, target, tport, tuser, tpass, &ttls);
    }
    long long stop = fastest || set ? GD_PITR_NONE : GD_PITR_LATEST;
    gd_gtid_pos stop_gtid;
    if (gtid_opt) {
        gd_err ge;
        gd_err_clear(&ge);
        if (gd_gtid_pos_parse(gtid_opt, &stop_gtid, &ge) != 0 || stop_gtid.n == 0)
            return gd_cli_usage("restore", "--gtid %s", ge.msg[0] ? ge.msg : "needs a position");
    }
    if (time_opt) {
        gd_err te;
        gd_err_clear(&te);
        if (parse_time(time_opt, &stop, &te) != 0)
            return gd_cli_usage("restore", "%s", te.msg);
    }
    if (!!target == !!newdir)
        return gd_cli_usage("restore", "choose where to restore: --target HOST:PORT or "
                                       "--new-instance DIR --port P");
    if (target && (!tuser || !tpass))
        return gd_cli_usage("restore", "--target needs --target-user and "
                                       "--target-password-file");
    if (newdir && !port)
        return gd_cli_usage("restore", "--new-instance needs --port P");
    if (renames) {
        char **v = gd_cli_split(renames, &o.nrenames);
        o.rename_from = gd_calloc(o.nrenames, sizeof(char *));
        o.rename_to = gd_calloc(o.nrenames, sizeof(char *));
        for (size_t i = 0; i < o.nrenames; i++) {
            char *eq = strchr(v[i], '=');
            if (eq == NULL || eq == v[i] || eq[1] == '\0')
                return gd_cli_usage("restore", "--rename takes old=new, got '%s'", v[i]);
            o.rename_from[i] = gd_strndup(v[i], (size_t)(eq - v[i]));
            o.rename_to[i] = gd_strdup(eq + 1);
        }
        free_v(v, o.nrenames);
        free(renames);
    }
    const char *name = argv[optind];
    o.progress = !cli->quiet && !cli->json;

    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    char *pw = NULL, *host = NULL;
    gd_instance_new inst = {0};
    gd_conn_params tp = {0};
    gd_restore_result res;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, name, &ic, &err);
    if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, region, false, &repo, &err);
    /* A read lease keeps expire away from what this restore reads: all of
     * the instance until the plan is made, then its set (repo/lock.h). */
    gd_lock *lease = NULL;
    if (rc == 0)
        rc = gd_lock_take_read(repo->st, repo->instance, "restore", NULL, 600, &lease, &err);
    if (rc == 0 && o.jobs == 0)
        o.jobs = ic->jobs;
    if (rc == 0 && target)
        rc = target_conn(target, tport, tuser, tpass, &ttls, &tp, &host, &pw, &err);
    /* The plan (set, segments) and every check that needs no target. */
    json_t *plan = NULL;
    bool replay = false;
    if (rc == 0)
        rc = gd_repo_plan(repo, stop, gtid_opt ? &stop_gtid : NULL, set, &plan, &err);
    if (rc == 0) {
        o.set_id = gd_json_str(plan, "set", NULL);
        rc = gd_lock_set_detail(lease, json_pack("{s:s}", "set", o.set_id), &err);
        gd_test_pause("restore-planned");
    }
    if (rc == 0) {
        replay = json_is_true(json_object_get(plan, "replay")) &&
                 json_array_size(json_object_get(plan, "segments")) > 0;
    }
    if (rc == 0 && replay)
        rc = check_segments(repo, plan, &err);
    /* Chosen objects to a point in time go through a scratch instance: the
     * target itself never becomes a replica. */
    bool subset = o.ndatabases || o.ntables;
    o.replay_follows = replay;
    if (rc == 0 && replay && !subset && target && !o.dry_run)
        rc = gd_replay_check_target(&tp, replay_host != NULL, &err);
    if (rc == 0 && newdir) {
        if (!o.dry_run) {
            if (!cli->quiet && !cli->json)
                fprintf(stderr, "geodr: provisioning a new MariaDB instance in %s on port %u\n",
                        newdir, port);
            rc = gd_instance_provision(newdir, port, &inst, &err);
            tp.what = "the new instance";
            tp.socket = inst.socket;
            tp.user = inst.admin_user;
            tp.password = "";
        }
    }
    gd_replay_result rr;
    memset(&rr, 0, sizeof rr);
    /* SIGINT/SIGTERM: the restore stops at the next step or buffer, a
     * replay stops and undoes the target's replica configuration
     * (replay.h) instead of dying with the target left a replica of a dead
     * port. */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the loops below poll the flag */
    sigemptyset(&sa.sa_mask);
    o.stop = &g_stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    gd_replay_opts ro = {.stop = &g_stop,
                         .parallel = o.jobs,
                         .stop_time_s = stop >= 0 ? stop : -1,
                         .stop_gtid = gtid_opt ? &stop_gtid : NULL,
                         .progress = o.progress,
                         .listen = replay_host,
                         .stall_s = stall_s};
    if (rc == 0 && replay && subset && !o.dry_run)
        rc = gd_replay_subset(repo, plan, &tp, &o, &ro, &res, &rr, &err);
    else if (rc == 0 && !(newdir && o.dry_run))
        rc = gd_restore_run(repo, &tp, &o, &res, &err);
    else if (rc == 0)
        rc = gd_restore_run(repo, NULL, &o, &res, &err);
    if (rc == 0 && replay && !subset && !o.dry_run)
        rc = gd_replay_run(repo, plan, &tp, &ro, &rr, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc != 0 && g_stop) {
        if (strstr(err.msg, "interrupted") == NULL) {
            gd_err_clear(&err);
            rc = gd_err_set(&err, GD_E_CANCEL,
                            "interrupted: the restore stopped part way; the target holds part "
                            "of the set");
        }
        char m2[sizeof err.msg];
        snprintf(m2, sizeof m2, "%s; restore again into an empty server", err.msg);
        gd_strlcpy(err.msg, m2, sizeof err.msg);
    }
    if (rc == 0 && newdir && !o.dry_run)
        rc = gd_instance_secure(&inst, &err);
    gd_cli_free_password(pw);
    free(host);
    if (rc != 0) {
        /* Nothing geodr started stays running after a failure. */
        if (inst.pid > 0) {
            gd_instance_stop(&inst);
            gd_err_prefix(&err,
                          "the new instance in %s was stopped (its directory is left for "
                          "inspection: remove it before trying again)",
                          inst.dir);
        }
        json_decref(plan);
        gd_lock_release(lease);
        gd_repo_close(repo);
        gd_instance_new_free(&inst);
        return gd_cli_fail(cli, &err);
    }
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:f}", "instance",
                              name, "region", repo->st->name, "set", res.set_id, "gtid", res.gtid,
                              "dry_run", o.dry_run, "tables", (json_int_t)res.tables, "chunks",
                              (json_int_t)res.chunks, "rows", (json_int_t)res.rows, "bytes",
                              (json_int_t)res.bytes, "seconds", res.seconds);
        json_object_set_new(
            j, "replay",
            json_pack("{s:b, s:I, s:I, s:s, s:s, s:f}", "planned", replay, "segments",
                      (json_int_t)json_array_size(json_object_get(plan, "segments")),
                      "transactions", (json_int_t)rr.transactions, "gtid_pos", rr.gtid_pos,
                      "last_commit", rr.last_time, "seconds", rr.seconds));
        if (newdir && !o.dry_run)
            json_object_set_new(j, "new_instance",
                                json_pack("{s:s, s:i, s:s, s:s, s:i}", "dir", inst.dir, "port",
                                          (int)inst.port, "socket", inst.socket, "client_cnf",
                                          inst.client_cnf, "pid", inst.pid));
        gd_cli_print_json(j);
    } else if (o.dry_run) {
        char b[32];
        gd_fmt_bytes(res.bytes, b, sizeof b);
        printf("dry run: would restore set %s of instance %s from region %s: %llu tables in "
               "%llu chunks, %s of rows, GTID position %s",
               res.set_id, name, repo->st->name, res.tables, res.chunks, b, res.gtid);
        if (replay) {
            unsigned long long sb = 0;
            size_t k;
            json_t *sg;
            json_array_foreach(json_object_get(plan, "segments"), k, sg) sb +=
                (unsigned long long)gd_json_int(sg, "raw_size", 0);
            char sbs[32];
            gd_fmt_bytes(sb, sbs, sizeof sbs);
            printf("; then replay %zu binlog segments (%s) up to %s", k, sbs,
                   time_opt   ? time_opt
                   : gtid_opt ? gtid_opt
                              : "the end of the archive");
        }
        printf("; nothing was written\n");
    } else {
        char b[32];
        gd_fmt_bytes(res.bytes, b, sizeof b);
        printf("restored set %s of instance %s from region %s: %llu tables, %llu rows, %s, "
               "%.1f s; the data is as of GTID position %s\n",
               res.set_id, name, repo->st->name, res.tables, res.rows, b, res.seconds,
               res.gtid[0] ? res.gtid : "(none)");
        if (replay)
            printf("replayed %llu transactions from the binlog archive through the target's "
                   "replication in %.1f s: last commit %s UTC, GTID position %s\n",
                   rr.transactions, rr.seconds, rr.last_time[0] ? rr.last_time : "-", rr.gtid_pos);
        if (newdir)
            printf("new instance running: 127.0.0.1:%u, socket %s, pid %d\n"
                   "  connect:  mariadb --defaults-file=%s\n"
                   "  stop:     mariadb-admin --defaults-file=%s shutdown\n",
                   inst.port, inst.socket, inst.pid, inst.client_cnf, inst.client_cnf);
    }
    gd_instance_new_free(&inst);
    json_decref(plan);
    gd_lock_release(lease);
    gd_repo_close(repo);
    free_v(o.databases, o.ndatabases);
    free_v(o.tables, o.ntables);
    free_v(o.rename_from, o.nrenames);
    free_v(o.rename_to, o.nrenames);
    return GD_EXIT_OK;
}
