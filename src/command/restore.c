#include "command/restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "command/open.h"
#include "command/verify.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/segment.h"
#include "replay/subset.h"

static const char OP[] = "restore";

/* ----------------------------------------------------------- the request */

const char *gd_command_restore_replay_host_warning(const char *host)
{
    if (host && (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0))
        return "the binlog server will be reachable from every network of this machine for "
               "the length of the replay; it accepts only a one-time user and a random "
               "password, and only over TLS. Prefer the one address the target reaches this "
               "machine at, on a private network";
    return NULL;
}

int gd_command_restore_parse_time(const char *s, long long *out, gd_err *err)
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

/* The port of "HOST:PORT" (3306 without one); false when out of range. */
static bool parse_target_port(const char *target, unsigned *port)
{
    const char *colon = strrchr(target, ':');
    long long p = 3306;
    if (colon && !gd_command_int(colon + 1, 1, 65535, &p))
        return false;
    *port = (unsigned)p;
    return true;
}

/* "old=new,..." into the load options' rename arrays. */
static int parse_renames(const char *renames, gd_restore_opts *o, gd_err *err)
{
    size_t n = 0;
    char **v = gd_command_split(renames, &n);
    int rc = 0;
    o->rename_from = gd_calloc(n + 1, sizeof(char *));
    o->rename_to = gd_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *eq = strchr(v[i], '=');
        if (eq == NULL || eq == v[i] || eq[1] == '\0') {
            rc = gd_err_set(err, GD_E_INVALID, "--rename takes old=new, got '%s'", v[i]);
            break;
        }
        o->rename_from[i] = gd_strndup(v[i], (size_t)(eq - v[i]));
        o->rename_to[i] = gd_strdup(eq + 1);
        o->nrenames = i + 1;
    }
    gd_strv_free(v, n);
    return rc;
}

/* Where the restore goes and how it logs in to a target. */
static int check_where(const gd_command_ctx *ctx, gd_restore_request *rq, gd_err *err)
{
    char msg[600];
    rq->target_port = 3306;
    if (rq->target && !parse_target_port(rq->target, &rq->target_port))
        return gd_err_set(err, GD_E_INVALID, "--target HOST:PORT: the port must be 1-65535");
    if (rq->target_tls_given && !rq->target)
        return gd_err_set(err, GD_E_INVALID,
                          "--target-ssl-* apply to --target only (a --new-instance is reached "
                          "over its local socket)");
    if (!gd_tls_check(&rq->target_tls, msg, sizeof msg))
        return gd_err_set(err, GD_E_INVALID, "%s", msg);
    if (rq->replay_host && rq->target && rq->target_tls.mode < GD_TLS_VERIFY_CA)
        gd_command_say(ctx, GD_EVENT_WARNING, OP,
                       "--replay-host with --target-ssl-mode %s: the certificate the target "
                       "pins for geodr's binlog server goes over a target connection that is "
                       "not authenticated; use --target-ssl-mode verify-ca or verify-identity",
                       gd_tls_mode_name(rq->target_tls.mode));
    return 0;
}

int gd_command_restore_check(const gd_command_ctx *ctx, gd_restore_request *rq, gd_err *err)
{
    if (rq->instance == NULL)
        return gd_err_set(err, GD_E_INVALID, "name one instance");
    if (rq->points > 1)
        return gd_err_set(err, GD_E_INVALID,
                          "choose one of --latest, --time, --gtid, --fastest, --set");
    int rc = check_where(ctx, rq, err);
    if (rc != 0)
        return rc;
    if (rq->reset_target) {
        if (!rq->target || !rq->target_user || !rq->target_password_file)
            return gd_err_set(err, GD_E_INVALID,
                              "--reset-target needs --target, --target-user and "
                              "--target-password-file");
        return 0;
    }
    rq->stop = rq->fastest || rq->set ? GD_PITR_NONE : GD_PITR_LATEST;
    if (rq->gtid) {
        gd_err ge;
        gd_err_clear(&ge);
        if (gd_gtid_pos_parse(rq->gtid, &rq->stop_gtid, &ge) != 0 || rq->stop_gtid.n == 0)
            return gd_err_set(err, GD_E_INVALID, "--gtid %s",
                              ge.msg[0] ? ge.msg : "needs a position");
    }
    if (rq->time && gd_command_restore_parse_time(rq->time, &rq->stop, err) != 0)
        return GD_E_INVALID;
    if (!!rq->target == !!rq->new_instance)
        return gd_err_set(err, GD_E_INVALID,
                          "choose where to restore: --target HOST:PORT or --new-instance DIR "
                          "--port P");
    if (rq->target && (!rq->target_user || !rq->target_password_file))
        return gd_err_set(err, GD_E_INVALID,
                          "--target needs --target-user and --target-password-file");
    if (rq->verify_objects && !rq->load.dry_run)
        return gd_err_set(err, GD_E_INVALID,
                          "--verify-objects goes with --dry-run (a restore checks every object "
                          "as it loads it)");
    if (rq->new_instance && !rq->port)
        return gd_err_set(err, GD_E_INVALID, "--new-instance needs --port P");
    if (rq->verify && (rq->renames || rq->load.ndatabases || rq->load.ntables))
        return gd_err_set(err, GD_E_INVALID,
                          "--verify checks a whole restore: leave out --databases, --tables and "
                          "--rename (or restore without --verify)");
    if (rq->renames)
        return parse_renames(rq->renames, &rq->load, err);
    return 0;
}

/* Connection parameters of the target; *host and *pw are the caller's to
 * free (gd_command_free_password for pw). */
static int target_conn(const gd_restore_request *rq, gd_conn_params *tp, char **host, char **pw,
                       gd_err *err)
{
    const char *colon = strrchr(rq->target, ':');
    *host = colon ? gd_strndup(rq->target, (size_t)(colon - rq->target)) : gd_strdup(rq->target);
    int rc = gd_read_secret_file(rq->target_password_file, pw, err);
    *tp = (gd_conn_params){.what = "the target",
                           .host = *host,
                           .port = rq->target_port,
                           .user = rq->target_user,
                           .password = *pw,
                           .password_source = rq->target_password_file,
                           .tls = rq->target_tls};
    return rc;
}

int gd_command_restore_reset_target(const gd_restore_request *rq, char *note, size_t notelen,
                                    gd_err *err)
{
    gd_conn_params tp;
    char *host = NULL, *pw = NULL;
    int rc = target_conn(rq, &tp, &host, &pw, err);
    if (rc == 0)
        rc = gd_replay_reset_target(&tp, note, notelen, err);
    gd_command_free_password(pw);
    free(host);
    return rc;
}

/* --------------------------------------------------------------- the run */

typedef struct restore_run {
    const gd_command_ctx *ctx;
    gd_restore_request *rq;
    gd_restore_outcome *out;
    gd_repo *repo;
    gd_lock *lease;
    gd_plan plan;
    gd_conn_params tp;
    char *host, *pw;
    bool subset; /* chosen objects: a replay goes through a scratch instance */
} restore_run;

/* The repository, a read lease on it, and the target's login. */
static int phase_open(restore_run *r, gd_err *err)
{
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(r->ctx->cfg, r->rq->instance, &ic, err);
    if (rc == 0)
        rc = gd_command_open_repo(r->ctx->cfg, ic, r->rq->region, false, &r->repo, err);
    /* A read lease keeps expire away from what this restore reads: all of
     * the instance until the plan is made, then its set (repo/lock.h). */
    if (rc == 0)
        rc =
            gd_lock_take_read(r->repo->st, r->repo->instance, "restore", NULL, 600, &r->lease, err);
    if (rc == 0 && r->rq->load.jobs == 0)
        r->rq->load.jobs = ic->jobs;
    if (rc == 0 && r->rq->target)
        rc = target_conn(r->rq, &r->tp, &r->host, &r->pw, err);
    if (rc == 0)
        r->out->region = gd_strdup(r->repo->st->name);
    return rc;
}

/* The set and the segments to replay, from the repository alone. */
static int phase_plan(restore_run *r, gd_err *err)
{
    gd_restore_request *rq = r->rq;
    int rc =
        gd_repo_plan(r->repo, rq->stop, rq->gtid ? &rq->stop_gtid : NULL, rq->set, &r->plan, err);
    if (rc != 0)
        return rc;
    rq->load.set_id = r->plan.set;
    gd_strlcpy(r->out->load.set_id, r->plan.set, sizeof r->out->load.set_id);
    rc = gd_lock_narrow(r->lease, rq->load.set_id, err);
    gd_test_pause("restore-planned");
    r->out->segments = r->plan.segs.n;
    r->out->replay = r->plan.replay && r->out->segments > 0;
    for (size_t k = 0; k < r->plan.segs.n; k++)
        r->out->segment_size += r->plan.segs.v[k].raw_size;
    return rc;
}

/* Every segment the replay needs is read and checked before anything
 * touches the target (several at once): a missing or damaged one stops
 * here. */
static int check_segments(gd_repo *repo, const gd_plan *plan, const gd_cancel *stop, gd_err *err)
{
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < plan->segs.n; k++)
        rc = gd_ctimes_check(&plan->segs.v[k], err); /* what the stop point is read from */
    if (rc == 0)
        rc = gd_verify_segments(repo, plan->segs.v, plan->segs.n, stop, err);
    if (rc == GD_E_CANCEL) {
        gd_err_clear(err);
        rc = gd_err_set(err, GD_E_CANCEL,
                        "interrupted while the binlog to replay was read: nothing was written "
                        "to the target");
    } else if (rc != 0) {
        gd_err_prefix(err, "the binlog archive cannot be replayed (nothing was written to "
                           "the target; restore to an earlier point, or from another "
                           "region)");
    }
    return rc;
}

/* What needs no write: the segments, and that the target can replay. */
static int phase_check(restore_run *r, gd_err *err)
{
    const gd_restore_request *rq = r->rq;
    int rc = 0;
    if (r->out->replay)
        rc = check_segments(r->repo, &r->plan, r->ctx->cancel, err);
    r->subset = rq->load.ndatabases || rq->load.ntables;
    r->rq->load.replay_follows = r->out->replay;
    if (rc == 0 && r->out->replay && !r->subset && rq->target && !rq->load.dry_run)
        rc = gd_replay_check_target(&r->tp, rq->replay_host != NULL, err);
    return rc;
}

static int phase_provision(restore_run *r, gd_err *err)
{
    const gd_restore_request *rq = r->rq;
    gd_command_say(r->ctx, GD_EVENT_NOTE, OP,
                   "provisioning a new MariaDB instance in %s on port %u", rq->new_instance,
                   rq->port);
    int rc = gd_instance_provision(rq->new_instance, rq->port, &r->out->inst, err);
    r->out->provisioned = r->out->inst.pid > 0;
    r->tp.what = "the new instance";
    r->tp.socket = r->out->inst.socket;
    r->tp.user = r->out->inst.admin_user;
    r->tp.password = "";
    return rc;
}

/* The set's tables read back from the target, before any replay changes
 * them (command/drill.h). */
static int verify_load(restore_run *r, gd_err *err)
{
    gd_command_say(r->ctx, GD_EVENT_NOTE, OP,
                   "verifying: reading every table back and comparing it with set %s", r->plan.set);
    gd_manifest *m = NULL;
    int rc = gd_manifest_read(r->repo, r->plan.set, &m, err);
    if (rc == 0)
        rc = gd_command_check_server(m, &r->tp, r->rq->load.jobs, &r->out->verified, err);
    if (rc == 0 && r->out->verified.no_digest > 0)
        gd_command_say(r->ctx, GD_EVENT_NOTE, OP,
                       "%zu of the %zu tables were compared by row count only: set %s was "
                       "taken by a geodr that recorded no row digests",
                       r->out->verified.no_digest, r->out->verified.tables, r->plan.set);
    gd_manifest_free(m);
    return rc;
}

/* Load, then replay: the only writes to the target. */
static int phase_write(restore_run *r, gd_err *err)
{
    gd_restore_request *rq = r->rq;
    gd_restore_opts *o = &rq->load;
    gd_restore_outcome *out = r->out;
    o->stop = r->ctx->cancel;
    o->progress = r->ctx->progress;
    gd_replay_opts ro = {.stop = r->ctx->cancel,
                         .parallel = o->jobs,
                         .stop_time_s = rq->stop >= 0 ? rq->stop : -1,
                         .stop_gtid = rq->gtid ? &rq->stop_gtid : NULL,
                         .progress = o->progress,
                         .listen = rq->replay_host,
                         .stall_s = rq->stall_s};
    int rc;
    if (out->replay && r->subset && !o->dry_run)
        rc = gd_replay_subset(r->repo, &r->plan, &r->tp, o, &ro, &out->load, &out->replayed, err);
    else
        rc = gd_restore_run(r->repo, rq->new_instance && o->dry_run ? NULL : &r->tp, o, &out->load,
                            err);
    if (rc == 0 && rq->verify && !o->dry_run)
        rc = verify_load(r, err);
    if (rc == 0 && out->replay && !r->subset && !o->dry_run)
        rc = gd_replay_run(r->repo, &r->plan, &r->tp, &ro, &out->replayed, err);
    if (rc != 0 && gd_cancel_requested(r->ctx->cancel)) {
        if (strstr(err->msg, "interrupted") == NULL) {
            gd_err_clear(err);
            rc = gd_err_set(err, GD_E_CANCEL,
                            "interrupted: the restore stopped part way; the target holds part "
                            "of the set");
        }
        char m2[sizeof err->msg];
        snprintf(m2, sizeof m2, "%s; restore again into an empty server", err->msg);
        gd_strlcpy(err->msg, m2, sizeof err->msg);
    }
    return rc;
}

typedef int (*restore_phase)(restore_run *r, gd_err *err);

/* Runs one named phase between its events. */
static int run_phase(restore_run *r, const char *name, restore_phase fn, gd_err *err)
{
    gd_command_emit(r->ctx, GD_EVENT_PHASE_BEGIN, OP, name, NULL, NULL);
    int rc = fn(r, err);
    gd_command_emit(r->ctx, GD_EVENT_PHASE_END, OP, name, NULL, r->out);
    return rc;
}

/* ------------------------------------------------ the dry run: precheck */

static const char *const check_names[GD_NCHECKS] = {"point",  "set",   "objects", "binlog",
                                                    "target", "empty", "room"};

const char *gd_command_restore_check_name(gd_check_id id)
{
    return (unsigned)id < GD_NCHECKS ? check_names[id] : "?";
}

/* Records a check: passed with msg (owned), or failed with e's message
 * (msg is freed). */
static void check_done(restore_run *r, gd_check_id id, int rc, const gd_err *e, char *msg)
{
    gd_restore_check *c = &r->out->checks[id];
    free(c->message);
    if (rc == 0) {
        *c = (gd_restore_check){.state = GD_CHECK_PASSED, .message = msg};
    } else {
        *c = (gd_restore_check){.state = GD_CHECK_FAILED, .code = rc, .message = gd_strdup(e->msg)};
        free(msg);
    }
}

/* Records a check that was not run, and why. */
static void check_skip(restore_run *r, gd_check_id id, const char *why)
{
    gd_restore_check *c = &r->out->checks[id];
    free(c->message);
    *c = (gd_restore_check){.state = GD_CHECK_NOT_RUN, .message = gd_strdup(why)};
}

static bool passed(const restore_run *r, gd_check_id id)
{
    return r->out->checks[id].state == GD_CHECK_PASSED;
}

/* point: the plan, from the repository alone. */
static void precheck_point(restore_run *r)
{
    const gd_restore_request *rq = r->rq;
    gd_err e;
    gd_err_clear(&e);
    int rc = run_phase(r, "plan", phase_plan, &e);
    char sz[32];
    gd_fmt_bytes(r->out->segment_size, sz, sizeof sz);
    char *upto = rq->time   ? gd_strdup(rq->time)
                 : rq->gtid ? gd_asprintf("GTID %s", rq->gtid)
                            : gd_strdup("the end of the archive");
    char *msg = NULL;
    if (rc == 0 && r->out->replay)
        msg = gd_asprintf("set %s, then %zu binlog segments (%s) up to %s", r->plan.set,
                          r->out->segments, sz, upto);
    else if (rc == 0)
        msg = gd_asprintf("set %s as it is (no binlog to replay)", r->plan.set);
    free(upto);
    check_done(r, GD_CHECK_POINT, rc, &e, msg);
}

static bool wants_table(const void *arg, const char *db, const char *name)
{
    return gd_restore_wants_table(arg, db, name);
}

/* target: a new instance's port is free, or the server answers the login
 * (and, with a replay into it, has no replication configured); empty, for
 * a new instance: its directory. */
static void precheck_target(restore_run *r)
{
    const gd_restore_request *rq = r->rq;
    gd_err e;
    gd_err_clear(&e);
    if (rq->new_instance) {
        int rc = gd_instance_check_port(rq->port, &e);
        check_done(r, GD_CHECK_TARGET, rc, &e,
                   gd_asprintf("127.0.0.1:%u is free for the new instance", rq->port));
        gd_err_clear(&e);
        rc = gd_instance_check_dir(rq->new_instance, &e);
        check_done(r, GD_CHECK_EMPTY, rc, &e,
                   gd_asprintf("%s is absent or empty", rq->new_instance));
        return;
    }
    bool replay = r->out->replay && !r->subset;
    int rc = 0;
    if (replay) {
        rc = gd_replay_check_target(&r->tp, rq->replay_host != NULL, &e);
    } else {
        MYSQL *m = NULL;
        rc = gd_conn_open(&r->tp, &m, &e);
        gd_conn_close(m);
    }
    check_done(r, GD_CHECK_TARGET, rc, &e,
               gd_asprintf("%s answers user %s%s", rq->target, rq->target_user,
                           replay ? " and has no replication configured (it can replay)" : ""));
}

/* set: the dry run of the load (manifest, key, schema, the set's own
 * check, the chosen tables), and empty, for a target that answered: none
 * of the tables to create exists there. */
static void precheck_set(restore_run *r)
{
    gd_restore_request *rq = r->rq;
    gd_restore_result *res = &r->out->load;
    bool target = rq->target && passed(r, GD_CHECK_TARGET);
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_restore_run(r->repo, target ? &r->tp : NULL, &rq->load, res, &e);
    if (res->set_id[0] == '\0') /* a set that failed its checks is still the plan's */
        gd_strlcpy(res->set_id, r->plan.set, sizeof res->set_id);
    char b[32];
    gd_fmt_bytes(res->bytes, b, sizeof b);
    check_done(r, GD_CHECK_SET, res->set_checked ? 0 : rc, &e,
               gd_asprintf("manifest, key and schema of set %s authenticated, and the set "
                           "checks itself: %llu tables in %llu chunks, %s of rows",
                           res->set_id, res->tables, res->chunks, b));
    if (!rq->target)
        return;
    if (!target)
        check_skip(r, GD_CHECK_EMPTY, "not checked: the target did not answer");
    else if (!res->set_checked)
        check_skip(r, GD_CHECK_EMPTY, "not checked: the set's tables are not known");
    else
        check_done(
            r, GD_CHECK_EMPTY, rc, &e,
            rq->load.replace_existing
                ? gd_asprintf("tables of the set that exist in %s will be dropped and "
                              "recreated (replace existing)",
                              rq->target)
                : gd_asprintf("none of the %llu tables exists in %s", res->tables, rq->target));
}

/* The table a chunk (its name in the set) belongs to. */
static const gd_mf_table *table_of(const gd_manifest *mf, const char *object)
{
    for (size_t k = 0; k < mf->ntables; k++)
        for (size_t c = 0; c < mf->tables[k].nchunks; c++)
            if (strcmp(mf->tables[k].chunks[c].object, object) == 0)
                return &mf->tables[k];
    return NULL;
}

/* objects: the chunks the load reads, listed or read back as verify does. */
static void precheck_objects(restore_run *r)
{
    const gd_restore_request *rq = r->rq;
    const char *set = r->plan.set;
    gd_manifest *mf = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_manifest_read(r->repo, set, &mf, &e) != 0) {
        check_done(r, GD_CHECK_OBJECTS, e.code, &e, NULL);
        return;
    }
    gd_verify_filter want = {.fn = wants_table, .arg = &rq->load};
    gd_verify_bads bad = {0};
    if (rq->verify_objects)
        gd_command_say(r->ctx, GD_EVENT_NOTE, OP, "reading back the %llu objects of set %s",
                       r->out->load.chunks, set);
    r->out->objects =
        gd_verify_set_chunks(r->repo, set, mf, &want, rq->verify_objects, r->ctx->cancel, &bad);
    if (bad.n > 0 && gd_cancel_requested(r->ctx->cancel)) {
        gd_err_set(&e, GD_E_CANCEL, "interrupted while the objects of set %s were read", set);
    } else if (bad.n > 0) {
        const gd_mf_table *t = table_of(mf, bad.v[0].object);
        gd_err_set(&e, GD_E_CORRUPT,
                   "%zu of the %zu objects of set %s that the restore reads are missing or "
                   "damaged in region %s: table %s.%s, object %s: %s%s; restore another set or "
                   "from another region ('geodr verify %s --region %s' lists what is intact)",
                   bad.n, r->out->objects, set, r->repo->st->name, t ? t->db : "?",
                   t ? t->name : "?", bad.v[0].object, bad.v[0].error,
                   bad.n > 1 ? " (and more)" : "", rq->instance, r->repo->st->name);
    }
    check_done(
        r, GD_CHECK_OBJECTS, bad.n ? e.code : 0, &e,
        rq->verify_objects
            ? gd_asprintf("the %zu objects of set %s read back: SHA-256, decryption and "
                          "authentication checked",
                          r->out->objects, set)
            : gd_asprintf("the %zu objects of set %s are present with their recorded sizes "
                          "(not read back: --verify-objects, VerifyObjects in the API, reads them)",
                          r->out->objects, set));
    gd_verify_bads_free(&bad);
    gd_manifest_free(mf);
}

/* binlog: every segment of the plan read back (as the restore's own check
 * phase does). */
static void precheck_binlog(restore_run *r)
{
    gd_err e;
    gd_err_clear(&e);
    int rc = r->out->replay ? check_segments(r->repo, &r->plan, r->ctx->cancel, &e) : 0;
    char sz[32];
    gd_fmt_bytes(r->out->segment_size, sz, sizeof sz);
    check_done(r, GD_CHECK_BINLOG, rc, &e,
               r->out->replay ? gd_asprintf("the %zu segments to replay (%s) read back: "
                                            "SHA-256, authentication and commit times checked",
                                            r->out->segments, sz)
                              : gd_strdup("nothing to replay"));
}

/* Free bytes of the filesystem dir is (or would be) in: its nearest
 * existing folder's. */
static int free_bytes(const char *dir, unsigned long long *out, gd_err *err)
{
    char *p = gd_strdup(dir);
    struct statvfs sv;
    int rc = 0;
    while (statvfs(p, &sv) != 0) {
        char *slash = strrchr(p, '/');
        if (errno != ENOENT || (slash == NULL && strcmp(p, ".") == 0)) {
            rc = gd_err_sys(err, errno, "cannot read the free space of %s", p);
            break;
        }
        if (slash == NULL) {
            free(p);
            p = gd_strdup(".");
        } else
            slash[slash == p ? 1 : 0] = '\0';
    }
    if (rc == 0)
        *out = (unsigned long long)sv.f_bavail * sv.f_frsize;
    free(p);
    return rc;
}

/* A new data directory without rows: system tables, the 256 MiB redo log
 * provision.c configures, undo and the system tablespace. */
#define NEW_DATADIR_BYTES (512ULL << 20)

/* room: for a new instance, the free space of its directory's filesystem
 * against an estimate (docs/backup-restore.md states the rule); for an
 * existing server, what it would need (its free space is not known). */
static void precheck_room(restore_run *r)
{
    const gd_restore_request *rq = r->rq;
    gd_restore_outcome *out = r->out;
    out->need = out->load.bytes + out->load.bytes / 2 + out->segment_size;
    char need[32], rows[32], segs[32], room[32];
    gd_fmt_bytes(out->load.bytes, rows, sizeof rows);
    gd_fmt_bytes(out->segment_size, segs, sizeof segs);
    if (rq->target) {
        gd_fmt_bytes(out->need, need, sizeof need);
        char *why = gd_asprintf("not checked: a server's free disk space cannot be read over "
                                "SQL; the restore writes about %s into %s (1.5 x the rows' %s "
                                "plus the binlog's %s): make sure its data directory has room",
                                need, rq->target, rows, segs);
        check_skip(r, GD_CHECK_ROOM, why);
        free(why);
        return;
    }
    out->need += NEW_DATADIR_BYTES;
    gd_fmt_bytes(out->need, need, sizeof need);
    gd_err e;
    gd_err_clear(&e);
    int rc = free_bytes(rq->new_instance, &out->room, &e);
    gd_fmt_bytes(out->room, room, sizeof room);
    if (rc == 0 && out->room < out->need)
        rc = gd_err_set(&e, GD_E_STATE,
                        "only %s free in the filesystem of %s, and the new instance needs "
                        "about %s (1.5 x the rows' %s, the binlog's %s, 512 MiB for a new data "
                        "directory): free space there, or choose a directory on a larger "
                        "filesystem",
                        room, rq->new_instance, need, rows, segs);
    check_done(r, GD_CHECK_ROOM, rc, &e,
               gd_asprintf("%s free in the filesystem of %s, about %s needed (1.5 x the "
                           "rows' %s, the binlog's %s, 512 MiB for a new data directory)",
                           room, rq->new_instance, need, rows, segs));
}

/* The checks that need a restore point, after the target's. */
static int phase_precheck(restore_run *r, gd_err *err)
{
    (void)err;
    precheck_target(r);
    if (!passed(r, GD_CHECK_POINT)) {
        static const gd_check_id later[] = {GD_CHECK_SET, GD_CHECK_OBJECTS, GD_CHECK_BINLOG,
                                            GD_CHECK_ROOM};
        for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
            check_skip(r, later[i], "not checked: there is no restore plan");
        if (r->rq->target)
            check_skip(r, GD_CHECK_EMPTY, "not checked: the set's tables are not known");
        return 0;
    }
    precheck_set(r);
    if (passed(r, GD_CHECK_SET))
        precheck_objects(r);
    else
        check_skip(r, GD_CHECK_OBJECTS, "not checked: the set cannot be used");
    precheck_binlog(r);
    if (passed(r, GD_CHECK_SET))
        precheck_room(r);
    else
        check_skip(r, GD_CHECK_ROOM, "not checked: the set's size is not known");
    return 0;
}

/* The dry run: every check, each recorded; fails with the first failed
 * check's code and message. */
static int run_precheck(restore_run *r, gd_err *err)
{
    gd_restore_request *rq = r->rq;
    r->subset = rq->load.ndatabases || rq->load.ntables;
    precheck_point(r);
    rq->load.replay_follows = r->out->replay;
    (void)run_phase(r, "check", phase_precheck, err);
    size_t nfailed = 0, first = GD_NCHECKS;
    for (size_t i = 0; i < GD_NCHECKS; i++) {
        if (r->out->checks[i].state == GD_CHECK_FAILED && nfailed++ == 0)
            first = i;
    }
    if (gd_cancel_requested(r->ctx->cancel))
        return gd_err_set(err, GD_E_CANCEL,
                          "interrupted: the precheck stopped before its end (nothing was written)");
    if (nfailed == 0)
        return 0;
    const gd_restore_check *c = &r->out->checks[first];
    return gd_err_set(err, c->code, "the restore precheck failed (%s%s): %s", check_names[first],
                      nfailed > 1 ? " and more" : "", c->message);
}

json_t *gd_command_restore_precheck_json(const gd_restore_request *rq,
                                         const gd_restore_outcome *out)
{
    json_t *checks = json_array();
    bool ok = true;
    for (size_t i = 0; i < GD_NCHECKS; i++) {
        const gd_restore_check *c = &out->checks[i];
        ok &= c->state != GD_CHECK_FAILED;
        json_array_append_new(checks, json_pack("{s:s, s:o, s:s}", "Name", check_names[i], "Passed",
                                                c->state == GD_CHECK_NOT_RUN
                                                    ? json_null()
                                                    : json_boolean(c->state == GD_CHECK_PASSED),
                                                "Message", c->message ? c->message : ""));
    }
    const char *set = out->load.set_id[0] ? out->load.set_id : NULL;
    json_t *j = json_pack(
        "{s:s, s:s?, s:s?, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:b}", "DBInstanceId", rq->instance,
        "RegionId", out->region, "BackupSetId", set, "Passed", ok, "Checks", checks, "Tables",
        (json_int_t)out->load.tables, "RawBytes", (json_int_t)out->load.bytes, "Segments",
        (json_int_t)out->segments, "SegmentBytes", (json_int_t)out->segment_size, "ObjectsChecked",
        (json_int_t)out->objects, "VerifyObjects", rq->verify_objects);
    json_object_set_new(j, "EstimatedBytes",
                        out->need ? json_integer((json_int_t)out->need) : json_null());
    json_object_set_new(j, "FreeBytes",
                        rq->new_instance && out->room ? json_integer((json_int_t)out->room)
                                                      : json_null());
    return j;
}

/* The restore itself: plan, check, provision, write. */
static int run_restore(restore_run *r, gd_err *err)
{
    bool provision = r->rq->new_instance != NULL;
    int rc = run_phase(r, "plan", phase_plan, err);
    if (rc == 0)
        rc = run_phase(r, "check", phase_check, err);
    if (rc == 0 && provision)
        rc = run_phase(r, "provision", phase_provision, err);
    if (rc == 0)
        rc = run_phase(r, "write", phase_write, err);
    if (rc == 0 && provision)
        rc = gd_instance_secure(&r->out->inst, err);
    return rc;
}

int gd_command_restore(const gd_command_ctx *ctx, gd_restore_request *rq, gd_restore_outcome *out,
                       gd_err *err)
{
    memset(out, 0, sizeof *out);
    restore_run r = {.ctx = ctx, .rq = rq, .out = out};
    int rc = phase_open(&r, err);
    if (rc == 0)
        rc = rq->load.dry_run ? run_precheck(&r, err) : run_restore(&r, err);
    gd_command_free_password(r.pw);
    free(r.host);
    /* Nothing geodr started stays running after a failure. */
    if (rc != 0 && out->inst.pid > 0) {
        gd_instance_stop(&out->inst);
        if (!rq->scratch)
            gd_err_prefix(err,
                          "the new instance in %s was stopped (its directory is left for "
                          "inspection: remove it before trying again)",
                          out->inst.dir);
    }
    rq->load.set_id = NULL; /* it pointed into the plan */
    gd_plan_free(&r.plan);
    gd_lock_release(r.lease);
    gd_repo_close(r.repo);
    return rc;
}

void gd_command_restore_outcome_free(gd_restore_outcome *out)
{
    free(out->region);
    for (size_t i = 0; i < GD_NCHECKS; i++)
        free(out->checks[i].message);
    gd_instance_new_free(&out->inst);
    memset(out, 0, sizeof *out);
}

void gd_command_restore_request_free(gd_restore_request *rq)
{
    gd_restore_opts *o = &rq->load;
    gd_strv_free(o->databases, o->ndatabases);
    gd_strv_free(o->tables, o->ntables);
    gd_strv_free(o->rename_from, o->nrenames);
    gd_strv_free(o->rename_to, o->nrenames);
    o->databases = o->tables = o->rename_from = o->rename_to = NULL;
    o->ndatabases = o->ntables = o->nrenames = 0;
}
