#include "command/drill.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "command/restore.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "common/util.h"
#include "restore/provision.h"

static const char OP[] = "drill";

#define SHOWN_DIFFERENCES 5 /* tables named in the message, of all that differ */

/* One table of the set against what the server holds (NULL: missing). */
static void compare_table(const gd_mf_table *t, const gd_table_digest *d, gd_server_check *out,
                          gd_buf *msg)
{
    char *qd = gd_ident(t->db), *qt = gd_ident(t->name);
    const char *sep = msg->len ? "; " : "";
    bool shown = out->differ < SHOWN_DIFFERENCES;
    if (d == NULL) {
        out->differ++;
        if (shown)
            gd_buf_appendf(msg, "%s%s.%s is missing", sep, qd, qt);
    } else if (d->rows != t->rows) {
        out->differ++;
        if (shown)
            gd_buf_appendf(msg, "%s%s.%s has %" PRIu64 " rows, the set %" PRIu64, sep, qd, qt,
                           d->rows, t->rows);
    } else if (t->has_digest && d->digest != t->digest) {
        out->differ++;
        if (shown)
            gd_buf_appendf(msg,
                           "%s%s.%s has the set's %" PRIu64
                           " rows but their values differ (digest %016" PRIx64
                           ", the set %016" PRIx64 ")",
                           sep, qd, qt, d->rows, d->digest, t->digest);
    }
    free(qd);
    free(qt);
}

int gd_command_check_server(const gd_manifest *m, const gd_conn_params *tp, int jobs,
                            gd_server_check *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    gd_backup_opts bo = {.jobs = jobs > 0 ? jobs : 1};
    gd_table_digest *d = NULL;
    size_t n = 0;
    int rc = gd_backup_digest(tp, &bo, m, &d, &n, err);
    if (rc != 0) {
        gd_err_prefix(err, "reading the tables back from %s", tp->what ? tp->what : "the server");
        return rc;
    }
    gd_nameidx ix;
    gd_nameidx_init(&ix);
    for (size_t i = 0; i < n; i++)
        gd_nameidx_add(&ix, d[i].db, d[i].name, i);
    gd_nameidx_seal(&ix);
    gd_buf msg;
    gd_buf_init(&msg, 0);
    for (size_t i = 0; i < m->ntables; i++) {
        const gd_mf_table *t = &m->tables[i];
        size_t k;
        bool found = gd_nameidx_find(&ix, t->db, t->name, &k);
        out->tables++;
        out->no_digest += !t->has_digest;
        if (found)
            out->rows += d[k].rows;
        compare_table(t, found ? &d[k] : NULL, out, &msg);
    }
    if (out->differ > 0)
        rc = gd_err_set(err, GD_E_STATE, "%zu of the %zu tables of set %s differ from it: %.*s%s",
                        out->differ, out->tables, m->set, (int)msg.len, msg.data ? msg.data : "",
                        out->differ > SHOWN_DIFFERENCES ? "; ..." : "");
    gd_buf_free(&msg);
    gd_nameidx_free(&ix);
    gd_table_digests_free(d, n);
    return rc;
}

int gd_command_drill(const gd_command_ctx *ctx, const gd_drill_request *rq, gd_drill_outcome *out,
                     gd_err *err)
{
    memset(out, 0, sizeof *out);
    double t0 = gd_mono();
    char *dir = NULL, *instdir = NULL;
    unsigned port = 0;
    gd_restore_request rr = {.instance = rq->instance, .region = rq->region, .verify = true};
    gd_restore_outcome ro = {0};
    int rc = gd_instance_scratch(rq->parent, "geodr-drill", &dir, &port, err);
    if (rc == 0) {
        instdir = gd_asprintf("%s/instance", dir);
        rr.new_instance = instdir;
        rr.port = port;
        rr.scratch = true;
        gd_command_say(ctx, GD_EVENT_NOTE, OP,
                       "restoring the newest set of %s and its binlog archive into a "
                       "throwaway instance in %s",
                       rq->instance, dir);
        rc = gd_command_restore_check(ctx, &rr, err);
    }
    if (rc == 0)
        rc = gd_command_restore(ctx, &rr, &ro, err);
    out->region = ro.region ? gd_strdup(ro.region) : NULL;
    gd_strlcpy(out->set_id, ro.load.set_id, sizeof out->set_id);
    out->check = ro.verified;
    out->replayed = rc == 0 && ro.replay;
    out->transactions = ro.replayed.transactions;
    gd_strlcpy(out->gtid_pos, ro.replayed.gtid_pos[0] ? ro.replayed.gtid_pos : ro.load.gtid,
               sizeof out->gtid_pos);
    gd_strlcpy(out->last_time, ro.replayed.last_time, sizeof out->last_time);
    if (ro.inst.pid > 0)
        gd_instance_stop(&ro.inst);
    gd_command_restore_outcome_free(&ro);
    gd_command_restore_request_free(&rr);
    if (dir && gd_remove_tree(dir) != 0)
        gd_warn("the drill could not remove its directory %s: remove it by hand", dir);
    free(instdir);
    free(dir);
    out->seconds = gd_mono() - t0;
    if (rc != 0)
        gd_err_prefix(err, "restore drill of %s failed", rq->instance);
    return rc;
}

void gd_command_drill_outcome_free(gd_drill_outcome *out)
{
    free(out->region);
    memset(out, 0, sizeof *out);
}
