#include "archive/archive.h"

#include <mariadb_rpl.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "archive/compact.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/retry.h"
#include "common/util.h"
#include "repo/lock.h"
#include "mysql/binlog.h"
#include "repo/segment.h"

/* The segment being written. */
typedef struct seg {
    gd_obj_writer *w;
    char *name;    /* object name */
    double opened; /* monotonic time it was opened */
    uint64_t raw;  /* bytes written (plaintext) */
    gd_gtid first, last;
    uint32_t first_time, last_time;
    unsigned long txns, events;
    gd_gtid_pos pos;     /* position after the complete transactions in it */
    gd_ctimes_writer ct; /* commit times later than the GTID event's second */
    unsigned how;        /* GD_CT_* the commit times of its transactions were taken by */
} seg;

typedef struct arch {
    gd_repo *repo;
    const gd_archive_opts *o;
    gd_archive_stats *stats;
    gd_gtid_pos pos; /* committed position */
    unsigned long long next_seq;
    uint8_t *fde; /* the source's current format description event */
    size_t fde_len;
    gd_group grp;
    bool skipping; /* the current transaction is already archived */
    bool have_seg;
    seg s;
    double last_event; /* monotonic time of the last real event */
    /* Commit times.  live: the stream has reached the source's position at
     * connect, so each transaction arrives as it commits.  clock_off: the source's clock minus
     * our boot clock (gd_boottime: never stepped), at its largest (receive times stay upper
     * bounds).  ts_max: the running maximum of event timestamps and of the commit times given so
     * far. */
    bool live;
    gd_gtid_pos live_at; /* the source's @@gtid_binlog_pos at connect */
    double clock_off;
    uint32_t ts_max;
    uint32_t gtid_ts;       /* timestamp of the current transaction's GTID event */
    gd_lock *lk;            /* the instance's archive lock in the home region */
    gd_archive_live *shown; /* opts->live, or the run's own */
} arch;

double gd_archive_lag_s(const gd_archive_live *l, int64_t now_us)
{
    int64_t down = atomic_load(&l->down_since_us), pending = atomic_load(&l->pending_since_us);
    int64_t behind = atomic_load(&l->behind_us);
    int64_t lag = down ? now_us - down : behind ? behind : pending ? now_us - pending : 0;
    return lag > 0 ? (double)lag / 1e6 : 0;
}

uint32_t gd_archive_default_server_id(const char *instance)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = instance; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return 4000000000u + h % 100000000u;
}

/* ---- segments ---- */

static void seg_abort(arch *a)
{
    if (!a->have_seg)
        return;
    gd_obj_abort(a->s.w);
    free(a->s.name);
    gd_ctimes_writer_free(&a->s.ct);
    memset(&a->s, 0, sizeof a->s);
    a->have_seg = false;
}

static int seg_open(arch *a, gd_err *err)
{
    if (a->fde == NULL)
        return gd_err_set(err, GD_E_CORRUPT,
                          "binlog stream from the source has no format description event");
    memset(&a->s, 0, sizeof a->s);
    char *ext = gd_asprintf(".binlog%s", gd_repo_suffix(a->repo));
    a->s.name = gd_repo_segment_name(a->repo, a->next_seq, ext);
    free(ext);
    int rc = gd_obj_create(a->repo, a->s.name, &a->s.w, err);
    if (rc == 0)
        rc = gd_obj_write(a->s.w, GD_BINLOG_MAGIC, GD_BINLOG_MAGIC_LEN, err);
    if (rc == 0)
        rc = gd_obj_write(a->s.w, a->fde, a->fde_len, err);
    if (rc != 0) {
        if (a->s.w)
            gd_obj_abort(a->s.w);
        free(a->s.name);
        memset(&a->s, 0, sizeof a->s);
        return rc;
    }
    gd_ctimes_writer_init(&a->s.ct);
    a->s.raw = GD_BINLOG_MAGIC_LEN + a->fde_len;
    a->s.opened = gd_mono();
    a->s.pos = a->pos;
    a->have_seg = true;
    return 0;
}

/* Commits the open segment (which ends at a transaction boundary), then its
 * index record; only then does the archived position move. */
static int seg_commit(arch *a, gd_err *err)
{
    if (!a->have_seg)
        return 0;
    if (a->s.txns == 0) {
        seg_abort(a);
        return 0;
    }
    gd_obj_info info;
    int rc = gd_obj_commit(a->s.w, &info, err);
    a->s.w = NULL;
    if (rc != 0) {
        seg_abort(a);
        return rc;
    }
    gd_segment rec = {.first_seq = a->next_seq,
                      .seq = a->next_seq,
                      .record = gd_repo_segment_name(a->repo, a->next_seq, ".segment"),
                      .object = gd_strdup(a->s.name),
                      .first_gtid = a->s.first,
                      .last_gtid = a->s.last,
                      .first_time_s = a->s.first_time,
                      .last_time_s = a->s.last_time,
                      .transactions = a->s.txns,
                      .events = a->s.events,
                      .raw_size = info.raw_size,
                      .size = info.size,
                      .commit_times = gd_strdup(gd_ctimes_str(&a->s.ct)),
                      .ct_how = a->s.how};
    memcpy(rec.sha256, info.sha256, sizeof rec.sha256);
    gd_segment_set_pos(&rec, &a->pos, &a->s.pos);
    rc = gd_lock_check(a->lk, err);
    if (rc == 0)
        rc = gd_segment_write(a->repo, &rec, err);
    if (rc == 0 && a->o->on_segment)
        a->o->on_segment(a->o->on_segment_ctx, &rec);
    gd_segment_free(&rec);
    if (rc != 0) {
        seg_abort(a);
        return rc;
    }
    char first[64], last[64];
    gd_gtid_format(&a->s.first, first, sizeof first);
    gd_gtid_format(&a->s.last, last, sizeof last);
    gd_debug("segment %llu committed: %lu transactions, %s .. %s", a->next_seq, a->s.txns, first,
             last);
    a->pos = a->s.pos;
    a->next_seq++;
    /* what is received now is the open transaction's, if any */
    atomic_store(&a->shown->pending_since_us, a->grp.open ? gd_now_us() : 0);
    a->stats->segments++;
    a->stats->transactions += a->s.txns;
    a->stats->events += a->s.events;
    a->stats->raw_bytes += info.raw_size;
    free(a->s.name);
    gd_ctimes_writer_free(&a->s.ct);
    memset(&a->s, 0, sizeof a->s);
    a->have_seg = false;
    return 0;
}

static bool seg_due(const arch *a)
{
    return a->have_seg && !a->grp.open &&
           (gd_mono() - a->s.opened >= a->o->interval_s || a->s.raw >= a->o->max_segment ||
            a->s.ct.b.len >= GD_CTIMES_MAX);
}

/* ---- events ---- */

/* The commit second of the transaction that just ended.  Live, the moment
 * its last event arrived (on the source's clock) is an upper bound close to
 * the truth; catching up, that moment says nothing about old transactions
 * and the running maximum of event timestamps (each a statement's start,
 * in commit order) is the lower bound used.  Never earlier than the one
 * before: commits are in binlog order. */
static uint32_t commit_time(arch *a)
{
    uint32_t t = a->ts_max;
    if (a->live) {
        double u = gd_boottime() + a->clock_off;
        if (u > (double)t && u < (double)UINT32_MAX)
            t = (uint32_t)u;
    }
    a->ts_max = t;
    return t;
}

/* Records the transaction that just ended in the open segment. */
static int seg_add_txn(arch *a, gd_err *err)
{
    uint32_t t = commit_time(a);
    int rc = gd_ctimes_add(&a->s.ct, a->s.txns, t - a->gtid_ts, err);
    if (rc != 0)
        return rc;
    a->s.how |= a->live ? GD_CT_RECEIVED : GD_CT_EVENTS;
    if (a->s.txns == 0) {
        a->s.first = a->grp.gtid;
        a->s.first_time = t;
    }
    a->s.last = a->grp.gtid;
    a->s.last_time = t;
    a->s.txns++;
    if ((rc = gd_gtid_pos_update(&a->s.pos, &a->grp.gtid, err)) != 0)
        return rc;
    if (!a->live && gd_gtid_pos_le(&a->live_at, &a->s.pos)) {
        /* Caught up with where the source was at connect: from here on
         * transactions arrive as they commit.  A segment takes its commit
         * times one way only. */
        a->live = true;
        return seg_commit(a, err);
    }
    return 0;
}

static int on_event(arch *a, const gd_event *ev, gd_err *err)
{
    int rc;
    switch (ev->type) {
    case GD_EV_HEARTBEAT:
    case GD_EV_ROTATE:
    case GD_EV_GTID_LIST:
    case GD_EV_BINLOG_CHECKPOINT:
    case GD_EV_STOP:
        return seg_due(a) ? seg_commit(a, err) : 0;
    case GD_EV_FORMAT_DESCRIPTION: {
        /* A new binlog file on the source.  Segments hold one format
         * description each: finish the current one first. */
        if (a->grp.open)
            return gd_err_set(err, GD_E_CORRUPT, "binlog: format description inside a transaction");
        if ((rc = seg_commit(a, err)) != 0)
            return rc;
        bool dummy;
        if ((rc = gd_group_feed(&a->grp, ev, &dummy, err)) != 0)
            return rc;
        free(a->fde);
        a->fde = gd_malloc(ev->size);
        memcpy(a->fde, ev->data, ev->size);
        a->fde_len = ev->size;
        /* A segment is a complete file: clear "in use" in the copy (and
         * recompute its checksum) so readers do not warn about it. */
        a->fde[17] = (uint8_t)(a->fde[17] & ~1u);
        gd_event_set_crc(a->fde, a->fde_len, a->grp.checksum_alg);
        return 0;
    }
    default:
        break;
    }
    if (ev->flags & GD_EV_F_ARTIFICIAL)
        return 0;
    a->last_event = gd_mono();
    if (ev->timestamp > a->ts_max)
        a->ts_max = ev->timestamp;
    bool starts = ev->type == GD_EV_GTID;
    if (starts)
        a->gtid_ts = ev->timestamp;
    bool ended = false;
    if ((rc = gd_group_feed(&a->grp, ev, &ended, err)) != 0)
        return rc;
    if (starts) {
        a->skipping = gd_gtid_pos_contains(a->have_seg ? &a->s.pos : &a->pos, &a->grp.gtid);
        if (!a->skipping && !a->have_seg && (rc = seg_open(a, err)) != 0)
            return rc;
    }
    if (!a->grp.open && !ended)
        return 0; /* an event outside any transaction (none in a ROW binlog) */
    if (a->skipping)
        return 0;
    if (atomic_load(&a->shown->pending_since_us) == 0)
        atomic_store(&a->shown->pending_since_us, gd_now_us());
    if (!a->live) {
        /* catching up: the newest event's age, on the source's clock */
        double age = gd_boottime() + a->clock_off - (double)ev->timestamp;
        atomic_store(&a->shown->behind_us, age > 0 ? (int64_t)(age * 1e6) : 0);
    } else {
        atomic_store(&a->shown->behind_us, 0);
    }
    if ((rc = gd_obj_write(a->s.w, ev->data, ev->size, err)) != 0)
        return rc;
    a->s.raw += ev->size;
    a->s.events++;
    if (!ended)
        return 0;
    if ((rc = seg_add_txn(a, err)) != 0)
        return rc;
    return seg_due(a) ? seg_commit(a, err) : 0;
}

/* ---- one replication session ---- */

static int check_source(MYSQL *m, gd_err *err)
{
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format");
    if (rc != 0)
        return rc;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row && row[0] && strcmp(row[0], "1") != 0)
        rc = gd_err_set(err, GD_E_STATE,
                        "the binary log is disabled on the source: start it with log-bin and "
                        "binlog_format=ROW so its transactions can be archived");
    else if (row && row[1] && strcasecmp(row[1], "ROW") != 0)
        rc = gd_err_set(err, GD_E_STATE,
                        "the source writes its binary log in %s format: set "
                        "binlog_format=ROW (SET GLOBAL binlog_format=ROW and in its config) "
                        "so point-in-time restore replays exactly what happened",
                        row[1]);
    mysql_free_result(res);
    return rc;
}

/* The source's position and clock at connect: the stream is live once it
 * reaches that position; the clock offset (at its largest: the query ran
 * after `before`) turns receive times into upper bounds on the source's
 * clock. */
static int source_clock(arch *a, MYSQL *m, gd_err *err)
{
    MYSQL_RES *res = NULL;
    /* the offset is taken against a clock that never steps (the wall clock
     * may be stepped back by NTP or a VM resume, which would make receive
     * times too early: no longer upper bounds) and keeps counting across a
     * suspend */
    double before = gd_boottime();
    int rc = gd_sql_query(m, &res, err,
                          "SELECT @@GLOBAL.gtid_binlog_pos, TIMESTAMPDIFF(MICROSECOND, "
                          "'1970-01-01', UTC_TIMESTAMP(6))");
    if (rc != 0)
        return rc;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || row[1] == NULL)
        rc = gd_err_set(err, GD_E_MYSQL, "the source did not return its GTID position and clock");
    else
        rc = gd_gtid_pos_parse(row[0] ? row[0] : "", &a->live_at, err);
    if (rc == 0) {
        a->clock_off = strtod(row[1], NULL) / 1e6 - before;
        a->live = gd_gtid_pos_le(&a->live_at, &a->pos);
    }
    mysql_free_result(res);
    return rc;
}

static int session(arch *a, const gd_conn_params *src, bool *progressed, gd_err *err)
{
    gd_conn_params p = *src;
    unsigned hb_ms = (unsigned)(a->o->heartbeat_s * 1000);
    p.read_timeout_s = 5 + 3 * (hb_ms / 1000);
    MYSQL *m = NULL;
    MARIADB_RPL *rpl = NULL;
    char pos[1024];
    gd_gtid_pos_format(&a->pos, pos, sizeof pos);
    int rc = gd_conn_open(&p, &m, err);
    if (rc != 0)
        return rc;
    if ((rc = check_source(m, err)) != 0 || (rc = source_clock(a, m, err)) != 0)
        goto out;
    if ((rc = gd_sql(m, err,
                     "SET @master_binlog_checksum = @@GLOBAL.binlog_checksum, "
                     "@mariadb_slave_capability = 4, @slave_connect_state = '%s', "
                     "@slave_gtid_strict_mode = 0, @slave_gtid_ignore_duplicates = 0, "
                     "@master_heartbeat_period = %llu",
                     pos, (unsigned long long)hb_ms * 1000000ull)) != 0)
        goto out;
    rpl = mariadb_rpl_init(m);
    if (rpl == NULL) {
        rc = gd_err_set(err, GD_E_NOMEM, "cannot start a replication stream");
        goto out;
    }
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, (unsigned)a->o->server_id);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)4);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, 0u);
    if (mariadb_rpl_open(rpl) != 0) {
        rc = gd_sql_error(m, err, "starting the binlog stream");
        goto out;
    }
    gd_info("archiving from GTID position '%s' (server id %u)", pos, a->o->server_id);
    a->last_event = gd_mono();
    atomic_store(&a->shown->down_since_us, 0);
    for (;;) {
        if (gd_cancel_requested(a->o->stop))
            break;
        if (a->o->idle_exit_s > 0 && !a->grp.open && gd_mono() - a->last_event >= a->o->idle_exit_s)
            break;
        unsigned long len = mysql_net_read_packet(m);
        if (len == packet_error) {
            if (gd_cancel_requested(a->o->stop))
                break;
            unsigned no = mysql_errno(m);
            if (no == ER_MASTER_FATAL_ERROR_READING_BINLOG || no == 1236)
                rc = gd_err_set(err, GD_E_STATE,
                                "the source cannot send binlog from GTID position '%s': %s "
                                "(the binlog was purged before it was archived: take a new "
                                "backup; the archive has a gap before it)",
                                pos, mysql_error(m));
            else
                rc = gd_sql_error(m, err, "reading the binlog stream");
            goto out;
        }
        const uint8_t *pk = m->net.read_pos;
        if (len < 9 && pk[0] == 0xFE) {
            rc = gd_err_set(err, GD_E_NET, "the source ended the binlog stream");
            goto out;
        }
        gd_event ev;
        if ((rc = gd_event_parse(pk + 1, len - 1, &ev, err)) != 0)
            goto out;
        if ((rc = on_event(a, &ev, err)) != 0)
            goto out;
        if (!(ev.flags & GD_EV_F_ARTIFICIAL) && ev.type != GD_EV_HEARTBEAT)
            *progressed = true;
    }
    /* Stopping: keep what is complete, drop a transaction in flight. */
    if (a->grp.open) {
        seg_abort(a);
        gd_group_init(&a->grp);
    }
    rc = seg_commit(a, err);
out:
    if (rc != 0) {
        seg_abort(a);
        gd_group_init(&a->grp);
    }
    /* the stream ends: from now on the source may commit what the region
     * does not get (what was received and not committed is lost with it) */
    if (atomic_load(&a->shown->down_since_us) == 0)
        atomic_store(&a->shown->down_since_us, gd_now_us());
    atomic_store(&a->shown->pending_since_us, 0);
    atomic_store(&a->shown->behind_us, 0);
    if (rpl)
        mariadb_rpl_close(rpl);
    gd_conn_close(m);
    return rc;
}

/* Where to start: after the last committed segment; with none, at the
 * newest backup set's position (so the set can be rolled forward), else at
 * the source's current position. */
static int start_position(arch *a, const gd_conn_params *src, gd_err *err)
{
    gd_segments segs = {0};
    int rc = gd_repo_list_segments(a->repo, &segs, NULL, err);
    if (rc != 0)
        return rc;
    const char *pos = NULL;
    char *owned = NULL;
    if (segs.n > 0) {
        const gd_segment *last = &segs.v[segs.n - 1];
        a->next_seq = last->seq + 1;
        gd_segment_pos(last, &a->pos);
        a->ts_max = (uint32_t)last->last_time_s;
    } else {
        a->next_seq = 1;
        char **ids = NULL;
        size_t ns = 0;
        gd_manifest *mf = NULL;
        if ((rc = gd_repo_list_sets(a->repo, &ids, &ns, err)) != 0)
            goto out;
        if (ns > 0 && gd_manifest_read(a->repo, ids[ns - 1], &mf, err) == 0) {
            owned = gd_strdup(mf->gtid);
            gd_manifest_free(mf);
        }
        gd_strv_free(ids, ns);
        if (owned == NULL) {
            MYSQL *m = NULL;
            if ((rc = gd_conn_open(src, &m, err)) != 0)
                goto out;
            rc = gd_sql_value(m, &owned, err, "SELECT @@GLOBAL.gtid_binlog_pos");
            gd_conn_close(m);
            if (rc != 0)
                goto out;
        }
        pos = owned;
    }
    if (pos != NULL)
        rc = gd_gtid_pos_parse(pos, &a->pos, err);
out:
    free(owned);
    gd_segments_free(&segs);
    return rc;
}

/* ---- compaction, beside the event loop ---- */

typedef struct compactor {
    gd_repo *repo;
    const gd_cancel *stop;
} compactor;

/* One compaction pass (the periodic worker calls it every compact_every_s
 * in a thread of its own): a merge reads and rewrites megabytes, and the
 * event loop (the archive's lag) must not wait for it.  It touches committed
 * segments only; the archiver never rewrites those, so the two need no lock. */
static void compact_pass(void *arg, gd_periodic_call *call)
{
    (void)call;
    compactor *c = arg;
    if (gd_cancel_requested(c->stop))
        return;
    gd_compact_opts co = GD_COMPACT_DEFAULTS;
    gd_compact_stats cs;
    gd_err ce;
    gd_err_clear(&ce);
    if (gd_archive_compact(c->repo, &co, &cs, &ce) != 0)
        gd_warn("compaction of the binlog archive failed (archiving goes on): %s", ce.msg);
}

/* The compaction worker, or NULL when the run does not compact. */
static gd_periodic *compactor_start(compactor *c, gd_repo *repo, const gd_archive_opts *o)
{
    *c = (compactor){.repo = repo, .stop = o->stop};
    gd_periodic *p = NULL;
    if (o->compact_every_s <= 0)
        return NULL;
    double every_s = o->compact_every_s < 1 ? 1 : o->compact_every_s;
    if (gd_periodic_start(every_s, 0, compact_pass, c, &p) != 0)
        gd_warn("cannot start the compaction thread: the binlog archive is not compacted this run");
    return p;
}

int gd_archive_run(gd_repo *repo, const gd_conn_params *src, const gd_archive_opts *opts,
                   gd_archive_stats *stats, gd_err *err)
{
    gd_archive_live own = {0};
    arch a = {.repo = repo, .o = opts, .stats = stats, .shown = opts->live ? opts->live : &own};
    memset(stats, 0, sizeof *stats);
    if (atomic_load(&a.shown->down_since_us) == 0)
        atomic_store(&a.shown->down_since_us, gd_now_us()); /* until the stream starts */
    gd_group_init(&a.grp);
    /* One archiver per instance: two would write the same segment names. */
    int rc = gd_lock_take(repo->st, repo->instance, "archive", "archive", 0, &a.lk, err);
    if (rc != 0)
        return rc;
    rc = start_position(&a, src, err);
    compactor comp;
    gd_periodic *compacting = rc == 0 ? compactor_start(&comp, repo, opts) : NULL;
    /* reconnects: 1 s doubling to 30 s, from 1 s again after a session that
     * archived something */
    gd_retry rt;
    gd_retry_start(&rt, &(gd_retry_policy){.first_ms = 1000, .max_ms = 30000});
    while (rc == 0 && !gd_cancel_requested(opts->stop)) {
        bool progressed = false;
        gd_err e;
        gd_err_clear(&e);
        rc = session(&a, src, &progressed, &e);
        if (rc == 0)
            break; /* stopped or idle */
        if (!e.retryable) {
            if (err)
                *err = e;
            break;
        }
        if (progressed)
            gd_retry_restart(&rt);
        long ms = gd_retry_next(&rt); /* no budget: never -1 */
        gd_warn("%s; reconnecting in %.0f s", e.msg, (double)ms / 1000);
        stats->reconnects++;
        gd_retry_sleep(ms, opts->stop);
        rc = 0;
    }
    gd_periodic_stop(compacting);
    gd_gtid_pos_format(&a.pos, stats->gtid_pos, sizeof stats->gtid_pos);
    seg_abort(&a);
    free(a.fde);
    gd_lock_release(a.lk);
    return rc;
}
