#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "command/restore.h"
#include "common/util.h"

/* clang-format breaks the lines around GD_STR badly */
// clang-format off
static const char help[] =
    "usage: geodr restore INSTANCE [--region R] [--latest | --time T | --gtid G | --fastest | "
    "--set ID]\n"
    "         (--target HOST:PORT --target-user U --target-password-file F\n"
    "          [--target-ssl-mode M] [--target-ssl-ca F] [--target-ssl-cert F --target-ssl-key F]\n"
    "          | --new-instance DIR --port P)\n"
    "         [--databases A,B] [--tables db.t,...] [--rename old=new,...]\n"
    "         [--replace-existing] [--with-users] [--write-binlog] [--jobs N] [--verify]\n"
    "         [--dry-run [--verify-objects]]\n"
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
    "                        geodr's binlog server for S seconds (default " GD_STR(GD_DEFAULT_REPLAY_STALL_S) ")\n"
    "  --jobs N              parallel connections (default: the instance's jobs)\n"
    "  --verify              after loading the set, before any replay, read every\n"
    "                        table back and compare its rows with the set's (their\n"
    "                        number and digest); a difference fails the restore\n"
    "                        (whole restores only: no --databases/--tables/--rename)\n"
    "  --dry-run             the restore precheck: check the restore point, the set,\n"
    "                        its objects (present, with their recorded sizes), the\n"
    "                        binlog to replay (read back), the target (answers, holds\n"
    "                        none of what would be written) and the room a new\n"
    "                        instance needs; print each check; write nothing\n"
    "  --verify-objects      with --dry-run: read back every object of the set the\n"
    "                        restore loads (SHA-256, decryption, authentication)\n"
    "  --reset-target        only undo what a killed geodr left on --target during a\n"
    "                        replay: geodr's replica configuration, the parallel\n"
    "                        replication settings (to the server's defaults)\n";
// clang-format on

enum {
    O_REGION = 256,
    O_LATEST,
    O_FASTEST,
    O_SET,
    O_TIME,
    O_TARGET,
    O_TUSER,
    O_TPASS,
    O_VERIFY,
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
    O_VERIFY_OBJECTS,
};

/* One --target-ssl-* option into t; false for a mode that is not one. */
static bool target_tls_arg(int opt, const char *arg, gd_tls_opts *t)
{
    if (opt == O_TSSL_MODE)
        return gd_tls_mode_parse(arg, &t->mode);
    *(opt == O_TSSL_CA ? &t->ca : opt == O_TSSL_CERT ? &t->cert : &t->key) = arg;
    return true;
}

/* A point-in-time option: counted (more than one is refused) and kept. */
static void point_arg(int opt, const char *arg, gd_restore_request *rq)
{
    rq->points++;
    if (opt == O_FASTEST)
        rq->fastest = true;
    else if (opt == O_SET)
        rq->set = arg;
    else if (opt == O_TIME)
        rq->time = arg;
    else if (opt == O_GTID)
        rq->gtid = arg;
}

/* --rename may be given more than once: the lists are joined. */
static void rename_arg(const char *arg, char **renames)
{
    char *prev = *renames;
    *renames = prev ? gd_asprintf("%s,%s", prev, arg) : gd_strdup(arg);
    free(prev);
}

/* One option into rq: 0, or a usage error's exit code. */
static int restore_arg(int c, const char *arg, gd_restore_request *rq, char **renames)
{
    long long num = 0;
    switch (c) {
    case O_REGION:
        rq->region = arg;
        return 0;
    case O_LATEST:
    case O_FASTEST:
    case O_SET:
    case O_TIME:
    case O_GTID:
        point_arg(c, arg, rq);
        return 0;
    case O_RESET:
        rq->reset_target = true;
        return 0;
    case O_REPLAY_HOST:
        rq->replay_host = arg;
        if (gd_command_restore_replay_host_warning(arg))
            fprintf(stderr, "geodr: warning: --replay-host %s: %s\n", arg,
                    gd_command_restore_replay_host_warning(arg));
        return 0;
    case O_STALL:
        if (!gd_command_int(arg, 1, 86400, &num))
            return gd_cli_usage("restore", "--replay-stall-timeout must be 1-86400 seconds");
        rq->stall_s = (int)num;
        return 0;
    case O_TARGET:
        rq->target = arg;
        return 0;
    case O_TUSER:
        rq->target_user = arg;
        return 0;
    case O_TPASS:
        rq->target_password_file = arg;
        return 0;
    case O_TSSL_MODE:
    case O_TSSL_CA:
    case O_TSSL_CERT:
    case O_TSSL_KEY:
        if (!target_tls_arg(c, arg, &rq->target_tls))
            return gd_cli_usage("restore",
                                "--target-ssl-mode %s: must be disabled, "
                                "preferred, required, verify-ca or verify-identity",
                                arg);
        rq->target_tls_given = true;
        return 0;
    case O_NEW:
        rq->new_instance = arg;
        return 0;
    case O_PORT:
        if (!gd_command_int(arg, 1, 65535, &num))
            return gd_cli_usage("restore", "--port must be 1-65535");
        rq->port = (unsigned)num;
        return 0;
    case O_DBS:
        rq->load.databases = gd_command_split(arg, &rq->load.ndatabases);
        return 0;
    case O_TABLES:
        rq->load.tables = gd_command_split(arg, &rq->load.ntables);
        return 0;
    case O_RENAME:
        rename_arg(arg, renames);
        return 0;
    case O_REPLACE:
        rq->load.replace_existing = true;
        return 0;
    case O_USERS:
        rq->load.with_users = true;
        return 0;
    case O_JOBS:
        return gd_cli_jobs("restore", arg, &rq->load.jobs);
    case O_DRY:
        rq->load.dry_run = true;
        return 0;
    case O_VERIFY:
        rq->verify = true;
        return 0;
    case O_BINLOG:
        rq->load.write_binlog = true;
        return 0;
    case O_VERIFY_OBJECTS:
        rq->verify_objects = true;
        return 0;
    default:
        return gd_cli_usage("restore", "unknown option");
    }
}

/* argv into rq: -1 when the options are usable, else the exit code. */
static int restore_args(int argc, char **argv, gd_restore_request *rq, char **renames)
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
                                       {"verify", no_argument, NULL, O_VERIFY},
                                       {"write-binlog", no_argument, NULL, O_BINLOG},
                                       {"gtid", required_argument, NULL, O_GTID},
                                       {"replay-host", required_argument, NULL, O_REPLAY_HOST},
                                       {"replay-stall-timeout", required_argument, NULL, O_STALL},
                                       {"reset-target", no_argument, NULL, O_RESET},
                                       {"verify-objects", no_argument, NULL, O_VERIFY_OBJECTS},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int c;
    gd_cli_args args = {.cmd = "restore", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        int rc = restore_arg(c, optarg, rq, renames);
        if (rc != 0)
            return rc;
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    rq->instance = optind == argc - 1 ? argv[optind] : NULL;
    return -1;
}

/* restore --reset-target: undo what a killed geodr left on the target. */
static int reset_target(gd_cli *cli, const gd_restore_request *rq)
{
    char note[512] = "";
    gd_err err;
    gd_err_clear(&err);
    if (gd_command_restore_reset_target(rq, note, sizeof note, &err) != 0)
        return gd_cli_fail(cli, &err);
    printf("target %s reset: geodr's replica configuration removed, parallel replication "
           "settings back to the server's defaults%s%s\n",
           rq->target, note[0] ? "; " : "", note);
    return GD_EXIT_OK;
}

/* Events of a restore: SIGINT/SIGTERM stop it cleanly while it writes the
 * target (a second one ends the process); the rest is printed as usual. */
static void restore_event(void *ctx, const gd_cmd_event *ev)
{
    if (ev->phase && strcmp(ev->phase, "write") == 0) {
        if (ev->kind == GD_EVENT_PHASE_BEGIN)
            gd_cli_trap_signals(true, true);
        else if (ev->kind == GD_EVENT_PHASE_END)
            gd_cli_untrap_signals();
        return;
    }
    gd_cli_on_event(ctx, ev);
}

static void print_json(const gd_restore_request *rq, const gd_restore_outcome *out)
{
    const gd_restore_result *res = &out->load;
    const gd_replay_result *rr = &out->replayed;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:f}", "instance",
                          rq->instance, "region", out->region, "set", res->set_id, "gtid",
                          res->gtid, "dry_run", rq->load.dry_run, "tables", (json_int_t)res->tables,
                          "chunks", (json_int_t)res->chunks, "rows", (json_int_t)res->rows, "bytes",
                          (json_int_t)res->bytes, "seconds", res->seconds);
    json_object_set_new(j, "replay",
                        json_pack("{s:b, s:I, s:I, s:s, s:s, s:f}", "planned", out->replay,
                                  "segments", (json_int_t)out->segments, "transactions",
                                  (json_int_t)rr->transactions, "gtid_pos", rr->gtid_pos,
                                  "last_commit", rr->last_time, "seconds", rr->seconds));
    if (rq->verify && !rq->load.dry_run)
        json_object_set_new(j, "verified",
                            json_pack("{s:I, s:I, s:I}", "tables", (json_int_t)out->verified.tables,
                                      "rows", (json_int_t)out->verified.rows, "count_only",
                                      (json_int_t)out->verified.no_digest));
    if (rq->new_instance && !rq->load.dry_run)
        json_object_set_new(j, "new_instance",
                            json_pack("{s:s, s:i, s:s, s:s, s:i}", "dir", out->inst.dir, "port",
                                      (int)out->inst.port, "socket", out->inst.socket, "client_cnf",
                                      out->inst.client_cnf, "pid", out->inst.pid));
    gd_cli_print_json(j);
}

/* The precheck's checks, one a line, then what the restore would do. */
static void print_dry_run(const gd_restore_request *rq, const gd_restore_outcome *out, bool ok)
{
    printf("restore precheck of instance %s (region %s):\n", rq->instance, out->region);
    for (int i = 0; i < GD_NCHECKS; i++) {
        const gd_restore_check *c = &out->checks[i];
        printf("  %-6s %-8s %s\n",
               c->state == GD_CHECK_PASSED   ? "ok"
               : c->state == GD_CHECK_FAILED ? "FAILED"
                                             : "-",
               gd_command_restore_check_name((gd_check_id)i), c->message ? c->message : "");
    }
    if (!ok)
        return;
    const gd_restore_result *res = &out->load;
    char b[32];
    gd_fmt_bytes(res->bytes, b, sizeof b);
    printf("dry run: would restore set %s of instance %s from region %s: %llu tables in "
           "%llu chunks, %s of rows, GTID position %s",
           res->set_id, rq->instance, out->region, res->tables, res->chunks, b, res->gtid);
    if (out->replay) {
        char sbs[32];
        gd_fmt_bytes(out->segment_size, sbs, sizeof sbs);
        printf("; then replay %zu binlog segments (%s) up to %s", out->segments, sbs,
               rq->time   ? rq->time
               : rq->gtid ? rq->gtid
                          : "the end of the archive");
    }
    printf("; nothing was written\n");
}

static void print_text(const gd_restore_request *rq, const gd_restore_outcome *out)
{
    const gd_restore_result *res = &out->load;
    const gd_replay_result *rr = &out->replayed;
    const gd_instance_new *inst = &out->inst;
    char b[32];
    gd_fmt_bytes(res->bytes, b, sizeof b);
    printf("restored set %s of instance %s from region %s: %llu tables, %llu rows, %s, "
           "%.1f s; the data is as of GTID position %s\n",
           res->set_id, rq->instance, out->region, res->tables, res->rows, b, res->seconds,
           res->gtid[0] ? res->gtid : "(none)");
    if (rq->verify)
        printf("verified: the %zu tables read back hold the set's rows (%llu)%s\n",
               out->verified.tables, (unsigned long long)out->verified.rows,
               out->verified.no_digest ? " (some by count only: see above)" : "");
    if (out->replay)
        printf("replayed %llu transactions from the binlog archive through the target's "
               "replication in %.1f s: last commit %s UTC, GTID position %s\n",
               rr->transactions, rr->seconds, rr->last_time[0] ? rr->last_time : "-", rr->gtid_pos);
    if (rq->new_instance)
        printf("new instance running: 127.0.0.1:%u, socket %s, pid %d\n"
               "  connect:  mariadb --defaults-file=%s\n"
               "  stop:     mariadb-admin --defaults-file=%s shutdown\n",
               inst->port, inst->socket, inst->pid, inst->client_cnf, inst->client_cnf);
}

int gd_cmd_restore(gd_cli *cli, int argc, char **argv)
{
    gd_restore_request rq = {.target_tls = {.prefix = "--target-ssl-"}};
    char *renames = NULL;
    int rc = restore_args(argc, argv, &rq, &renames);
    rq.renames = renames;
    gd_command_ctx ctx = {.on_event = gd_cli_on_event, .event_ctx = cli};
    gd_err err;
    gd_err_clear(&err);
    if (rc < 0 && gd_command_restore_check(&ctx, &rq, &err) != 0)
        rc = gd_cli_usage("restore", "%s", err.msg);
    if (rc < 0 && !rq.reset_target && gd_cli_region(cli, "restore", rq.instance, rq.region) != 0)
        rc = GD_EXIT_USAGE;
    if (rc < 0 && rq.reset_target)
        rc = reset_target(cli, &rq);
    gd_restore_outcome out;
    memset(&out, 0, sizeof out);
    int run = -1;
    if (rc < 0 && gd_cli_ctx(cli, restore_event, cli, &ctx, &err) == 0)
        run = gd_command_restore(&ctx, &rq, &out, &err);
    /* A precheck that ran prints its checks, passed or not. */
    bool checked = rq.load.dry_run && out.region != NULL;
    if (checked && cli->json)
        gd_cli_print_json(gd_command_restore_precheck_json(&rq, &out));
    else if (checked)
        print_dry_run(&rq, &out, run == 0);
    else if (run == 0 && cli->json)
        print_json(&rq, &out);
    else if (run == 0)
        print_text(&rq, &out);
    if (rc < 0 && run == 0) {
        rc = GD_EXIT_OK;
    } else if (rc < 0 && checked) { /* the checks are the --json answer */
        fprintf(stderr, "geodr: error: %s\n", err.msg);
        rc = GD_EXIT_FAIL;
    } else if (rc < 0) {
        rc = gd_cli_fail(cli, &err);
    }
    gd_command_restore_outcome_free(&out);
    gd_command_restore_request_free(&rq);
    free(renames);
    return rc;
}
