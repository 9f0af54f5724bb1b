#include "replay/replay.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/defaults.h"
#include "common/gtid.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"
#include "io/key.h"
#include "replay/server.h"

#define GEODR_REPLAY_SERVER_ID 4294967000u

/* Where the pinned certificate goes on the target: its secure_file_priv
 * directory, else the first directory of its tmpdir (no trailing '/').
 * Caller frees *dir. */
static int pin_dir(MYSQL *m, char **dir, gd_err *err)
{
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err, "SELECT @@GLOBAL.secure_file_priv, @@GLOBAL.tmpdir");
    if (rc != 0)
        return rc;
    MYSQL_ROW row = mysql_fetch_row(res);
    const char *d = row && row[0] && row[0][0] ? row[0] : row && row[1] ? row[1] : "/tmp";
    size_t n = strcspn(d, ":"); /* tmpdir may be a list */
    while (n > 1 && d[n - 1] == '/')
        n--;
    *dir = gd_strndup(d, n);
    mysql_free_result(res);
    return 0;
}

static void pin_error(gd_err *err, const char *where)
{
    gd_err_prefix(err,
                  "a replay into a target on another machine (--replay-host) pins the "
                  "certificate of geodr's binlog server on the target by writing it to %s with "
                  "SELECT ... INTO DUMPFILE: grant the target user the FILE privilege (and let "
                  "secure_file_priv allow that directory), or run the restore on the target's "
                  "machine without --replay-host",
                  where);
}

/* Whether the pin can be written, without writing anything: DUMPFILE into
 * "<dir>/." (the directory itself) passes the FILE privilege and
 * secure_file_priv checks and then stops at "file exists". */
static int pin_probe(MYSQL *m, gd_err *err)
{
    char *dir = NULL;
    int rc = pin_dir(m, &dir, err);
    if (rc != 0)
        return rc;
    char *probe = gd_asprintf("%s/.", dir);
    char *ep = gd_sql_escape(m, probe);
    char *q = gd_asprintf("SELECT 1 INTO DUMPFILE '%s'", ep);
    if (mysql_real_query(m, q, strlen(q)) == 0) {
        rc = gd_err_set(err, GD_E_STATE, "%s: wrote a file where a directory should be", q);
    } else if (mysql_errno(m) != ER_FILE_EXISTS_ERROR) {
        rc = gd_sql_error(m, err, q);
        pin_error(err, dir);
    }
    free(q);
    free(ep);
    free(probe);
    free(dir);
    return rc;
}

int gd_replay_check_target(const gd_conn_params *target, bool pin, gd_err *err)
{
    MYSQL *m = NULL;
    MYSQL_RES *res = NULL;
    int rc = gd_conn_open(target, &m, err);
    if (rc == 0 && pin)
        rc = pin_probe(m, err);
    if (rc == 0)
        rc = gd_sql_query(m, &res, err, "SHOW ALL SLAVES STATUS");
    if (rc == 0 && mysql_num_rows(res) > 0) {
        MYSQL_ROW row = mysql_fetch_row(res);
        rc = gd_err_set(err, GD_E_STATE,
                        "the target already has replication configured (connection '%s'): "
                        "point-in-time restore makes it a replica of geodr, so restore into "
                        "a server without replication (or run RESET SLAVE ALL on it first)",
                        row && row[0] ? row[0] : "");
    }
    if (res)
        mysql_free_result(res);
    gd_conn_close(m);
    return rc;
}

int gd_replay_reset_target(const gd_conn_params *target, char *note, size_t notelen, gd_err *err)
{
    note[0] = '\0';
    MYSQL *m = NULL;
    MYSQL_RES *res = NULL;
    int rc = gd_conn_open(target, &m, err);
    if (rc == 0)
        rc = gd_sql_query(m, &res, err, "SHOW ALL SLAVES STATUS");
    if (rc == 0) {
        MYSQL_FIELD *f = mysql_fetch_fields(res);
        unsigned nf = mysql_num_fields(res);
        int user_col = -1, name_col = -1;
        for (unsigned k = 0; k < nf; k++) {
            if (strcmp(f[k].name, "Master_User") == 0)
                user_col = (int)k;
            if (strcmp(f[k].name, "Connection_name") == 0)
                name_col = (int)k;
        }
        MYSQL_ROW row;
        size_t n = 0;
        while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
            n++;
            if (user_col < 0 || row[user_col] == NULL || strcmp(row[user_col], "geodr_replay") != 0)
                rc = gd_err_set(err, GD_E_STATE,
                                "the target replicates from another primary (connection '%s', "
                                "user %s), not from geodr: nothing was changed",
                                name_col >= 0 && row[name_col] ? row[name_col] : "",
                                user_col >= 0 && row[user_col] ? row[user_col] : "?");
        }
        if (rc == 0 && n == 0)
            rc = gd_err_set(err, GD_E_STATE,
                            "the target has no replica configuration: nothing to reset");
    }
    if (res)
        mysql_free_result(res);
    char *sid = NULL;
    if (rc == 0 && (rc = gd_sql(m, err, "STOP ALL SLAVES")) == 0 &&
        (rc = gd_sql(m, err, "RESET SLAVE ALL")) == 0 &&
        (rc = gd_sql(m, err, "SET GLOBAL slave_parallel_threads = DEFAULT")) == 0 &&
        (rc = gd_sql(m, err, "SET GLOBAL slave_parallel_mode = DEFAULT")) == 0 &&
        (rc = gd_sql_value(m, &sid, err, "SELECT @@GLOBAL.server_id")) == 0 &&
        strtoul(sid, NULL, 10) == GEODR_REPLAY_SERVER_ID - 1)
        snprintf(note, notelen,
                 "server_id is still %s, the id geodr gave the target for the replay: set it "
                 "back to the server's configured value (SET GLOBAL server_id = ...)",
                 sid);
    free(sid);
    gd_conn_close(m);
    return rc;
}

/* Reads one column of SHOW SLAVE STATUS by name into out (size bytes). */
static int slave_status(MYSQL *m, const char *const *cols, char **out, size_t ncols, gd_err *err)
{
    for (size_t i = 0; i < ncols; i++)
        out[i][0] = '\0';
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err, "SHOW SLAVE STATUS");
    if (rc != 0)
        return rc;
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned nf = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    for (unsigned k = 0; row && k < nf; k++)
        for (size_t i = 0; i < ncols; i++)
            if (strcmp(f[k].name, cols[i]) == 0 && row[k])
                gd_strlcpy(out[i], row[k], 1024);
    mysql_free_result(res);
    return 0;
}

/* True when some GTID of the plan's segments has the target's server id:
 * the target would skip those events as its own. */
static bool server_id_collides(const gd_segments *segs, unsigned long target_id)
{
    for (size_t i = 0; i < segs->n; i++) {
        gd_gtid_pos p;
        gd_segment_pos(&segs->v[i], &p);
        for (size_t k = 0; k < p.n; k++)
            if (p.g[k].server == target_id)
                return true;
    }
    return false;
}

/* Waits until everything the binlog server serves is applied by the
 * target (its gtid_slave_pos holds the last transaction served); fails on
 * the target's SQL error, an IO error other than a reconnect, a failed
 * binlog server, or opts->stop. */
static int wait_applied(MYSQL *m, gd_binlog_server *srv, const gd_replay_opts *opts,
                        gd_progress *prog, gd_replay_result *res, gd_err *err)
{
    int rc = 0;
    unsigned long long shown = 0;
    char b0[1024], b1[1024], b2[1024], b3[1024], b4[1024], b5[1024];
    char *vals[] = {b0, b1, b2, b3, b4, b5};
    static const char *const cols[] = {"Last_SQL_Errno", "Last_SQL_Error",    "Last_IO_Errno",
                                       "Last_IO_Error",  "Slave_SQL_Running", "Slave_IO_Running"};
    /* The target reconnects every second on its own; a target that cannot
     * reach geodr's binlog server at all (a firewall, an address it cannot
     * route) must not wait forever.  A connected IO thread that reads
     * nothing is not a stall: the target may be applying a long ALTER. */
    int stall_s = opts->stall_s > 0 ? opts->stall_s : GD_DEFAULT_REPLAY_STALL_S;
    double io_down_since = -1;
    for (;;) {
        if (gd_cancel_requested(opts->stop)) {
            rc = gd_err_set(err, GD_E_CANCEL,
                            "interrupted: the replay was stopped and the target's replica "
                            "configuration and settings were put back as they were; it holds "
                            "the set and part of the archive");
            return rc;
        }
        gd_binlog_server_state st;
        gd_binlog_server_state_get(srv, &st);
        if (st.failed) {
            if (err)
                *err = st.err;
            rc = st.err.code ? st.err.code : GD_E_STATE;
            return rc;
        }
        gd_progress_add(prog, st.bytes - shown, 0);
        shown = st.bytes;
        /* the control connection lost is not the replica's stall */
        if ((rc = slave_status(m, cols, vals, 6, err)) != 0) {
            gd_err_prefix(err, "lost the connection that watches the target's replication");
            return rc;
        }
        if (b0[0] && strcmp(b0, "0") != 0) {
            rc = gd_err_set(err, GD_E_MYSQL,
                            "the target failed to apply archived binlog: error %s: %s", b0, b1);
            return rc;
        }
        if (b2[0] && strcmp(b2, "0") != 0 && strcmp(b2, "2003") != 0 && strcmp(b2, "2013") != 0) {
            rc = gd_err_set(err, GD_E_STATE,
                            "the target cannot read from geodr's binlog server: error %s: %s", b2,
                            b3);
            return rc;
        }
        if (!st.done && strcmp(b5, "Yes") != 0) {
            double now = gd_mono();
            if (io_down_since < 0)
                io_down_since = now;
            else if (now - io_down_since > stall_s)
                return gd_err_set(err, GD_E_NET,
                                  "the target has not been able to read from geodr's binlog "
                                  "server for %d s (its last error: %s %s): when the target "
                                  "runs on another machine, give --replay-host an address of "
                                  "this machine that it can reach, and check firewalls",
                                  stall_s, b2[0] ? b2 : "none", b3);
        } else {
            io_down_since = -1;
        }
        if (st.done) {
            char *pos = NULL;
            if ((rc = gd_sql_value(m, &pos, err, "SELECT @@GLOBAL.gtid_slave_pos")) != 0)
                return rc;
            gd_gtid_pos applied;
            bool reached =
                gd_gtid_pos_parse(pos, &applied, NULL) == 0 && gd_gtid_pos_le(&st.served, &applied);
            gd_strlcpy(res->gtid_pos, pos, sizeof res->gtid_pos);
            free(pos);
            if (reached) {
                res->transactions = st.transactions;
                res->events = st.events;
                res->bytes = st.bytes;
                if (st.last_time_s > 0)
                    gd_fmt_time((int64_t)st.last_time_s * 1000000, false, res->last_time,
                                sizeof res->last_time);
                return 0;
            }
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* With TLS (a target on another machine): writes the binlog server's
 * certificate where pin_dir() says and returns the CHANGE MASTER options that
 * pin it; without TLS (loopback) MASTER_SSL = 0, said explicitly because
 * newer servers turn replica TLS on by default and geodr's loopback binlog
 * server offers none.  The certificate travels over the target connection,
 * which --target-ssl-mode protects.  Caller frees *clause. */
static int pin_clause(MYSQL *m, gd_binlog_server *srv, char **clause, gd_err *err)
{
    const char *pem = gd_binlog_server_cert_pem(srv);
    *clause = gd_strdup(", MASTER_SSL = 0");
    if (pem == NULL)
        return 0;
    char tok[GD_TOKEN_LEN + 1], *dir = NULL;
    int rc = gd_random_token(tok, err);
    if (rc == 0)
        rc = pin_dir(m, &dir, err);
    if (rc != 0)
        return rc;
    char *path = gd_asprintf("%s/geodr-replay-%s.pem", dir, tok);
    char *epem = gd_sql_escape(m, pem), *epath = gd_sql_escape(m, path);
    rc = gd_sql(m, err, "SELECT '%s' INTO DUMPFILE '%s'", epem, epath);
    if (rc != 0) {
        pin_error(err, path);
    } else {
        free(*clause);
        *clause = gd_asprintf(", MASTER_SSL = 1, MASTER_SSL_CA = '%s', "
                              "MASTER_SSL_VERIFY_SERVER_CERT = 1",
                              epath);
    }
    free(epem);
    free(epath);
    free(path);
    free(dir);
    return rc;
}

int gd_replay_run(gd_repo *repo, const gd_plan *plan, const gd_conn_params *target,
                  const gd_replay_opts *opts, gd_replay_result *res, gd_err *err)
{
    memset(res, 0, sizeof res[0]);
    const gd_segments *segs = &plan->segs;
    char start[GD_GTID_POS_MAX * 64];
    gd_gtid_pos_format(&plan->set_pos, start, sizeof start);
    double t0 = gd_mono();
    MYSQL *m = NULL;
    gd_binlog_server *srv = NULL;
    char *old_threads = NULL, *old_mode = NULL, *old_sid = NULL, *pin = NULL;
    bool replica_set = false;
    gd_progress *prog = NULL;
    char pw[GD_TOKEN_LEN + 1];
    int rc = gd_random_token(pw, err);
    if (rc != 0)
        return rc;
    if ((rc = gd_conn_open(target, &m, err)) != 0)
        goto out;
    if ((rc = gd_sql_value(m, &old_threads, err, "SELECT @@GLOBAL.slave_parallel_threads")) != 0 ||
        (rc = gd_sql_value(m, &old_mode, err, "SELECT @@GLOBAL.slave_parallel_mode")) != 0 ||
        (rc = gd_sql_value(m, &old_sid, err, "SELECT @@GLOBAL.server_id")) != 0)
        goto out;

    gd_binlog_server_opts so = {.repo = repo,
                                .segments = segs,
                                .stop_time_s = opts->stop_time_s,
                                .stop_gtid = opts->stop_gtid,
                                .user = "geodr_replay",
                                .password = pw,
                                .server_id = GEODR_REPLAY_SERVER_ID,
                                .listen = opts->listen,
                                .tls = opts->listen != NULL};
    unsigned port = 0;
    if ((rc = gd_binlog_server_start(&so, &srv, &port, err)) != 0 ||
        (rc = pin_clause(m, srv, &pin, err)) != 0)
        goto out;
    gd_debug("binlog server listening on %s port %u", opts->listen ? opts->listen : "127.0.0.1",
             port);
    /* Tests only: hold the replica back so that other connections reach
     * the binlog server first (tests/integration/interrupt.sh). */
    gd_test_pause("replica-start");
    if (server_id_collides(segs, strtoul(old_sid, NULL, 10))) {
        /* Until replay ends the target takes another id, or it would skip
         * the source's events as its own. */
        if ((rc = gd_sql(m, err, "SET GLOBAL server_id = %u", GEODR_REPLAY_SERVER_ID - 1)) != 0)
            goto out;
    }
    if (opts->parallel > 0 &&
        ((rc = gd_sql(m, err, "SET GLOBAL slave_parallel_threads = %d", opts->parallel)) != 0 ||
         (rc = gd_sql(m, err, "SET GLOBAL slave_parallel_mode = 'optimistic'")) != 0))
        goto out;
    replica_set = true;
    if ((rc = gd_sql(m, err, "SET GLOBAL gtid_slave_pos = '%s'", start)) != 0 ||
        (rc = gd_sql_secret(
             m, err, pw,
             "CHANGE MASTER TO MASTER_HOST = '%s', MASTER_PORT = %u, "
             "MASTER_USER = 'geodr_replay', MASTER_PASSWORD = '%s', MASTER_USE_GTID = "
             "slave_pos, MASTER_CONNECT_RETRY = 1%s",
             opts->listen ? opts->listen : "127.0.0.1", port, pw, pin)) != 0 ||
        (rc = gd_sql(m, err, "START SLAVE")) != 0)
        goto out;
    /* pw stays until the binlog server is stopped: the replica logs in again
     * whenever its connection drops. */

    /* Wait: everything served, and everything served applied. */
    unsigned long long total = 0;
    for (size_t i = 0; i < segs->n; i++)
        total += segs->v[i].raw_size;
    prog = gd_progress_start("replay", "transactions", total, 0, opts->progress);
    if ((rc = wait_applied(m, srv, opts, prog, res, err)) != 0)
        goto out;
out:
    gd_progress_stop(prog);
    if (m && replica_set) {
        /* Leave the target as it was: no replica, its own settings. */
        gd_err e2;
        gd_err_clear(&e2);
        gd_sql(m, &e2, "STOP SLAVE");
        gd_sql(m, &e2, "RESET SLAVE ALL");
        if (old_threads)
            gd_sql(m, &e2, "SET GLOBAL slave_parallel_threads = %s", old_threads);
        if (old_mode)
            gd_sql(m, &e2, "SET GLOBAL slave_parallel_mode = '%s'", old_mode);
        if (e2.code != GD_OK)
            gd_warn("could not reset the target's replica settings: %s", e2.msg);
    }
    if (m && old_sid) {
        gd_err e3;
        gd_err_clear(&e3);
        gd_sql(m, &e3, "SET GLOBAL server_id = %s", old_sid);
    }
    gd_binlog_server_stop(srv);
    gd_conn_close(m);
    gd_wipe(pw, sizeof pw);
    free(old_threads);
    free(old_mode);
    free(old_sid);
    free(pin);
    res->seconds = gd_mono() - t0;
    return rc;
}
