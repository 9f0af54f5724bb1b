#include "region/retention.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/gtid.h"
#include "common/log.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/segment.h"

#define LEFTOVER_AGE_S (24 * 3600)

/* True when some archived segment continues after pos (the set at pos is
 * rolled forward by the archive). */
static bool rolled_forward(const gd_segments *segs, const gd_gtid_pos *pos)
{
    for (size_t i = 0; i < segs->n; i++) {
        gd_gtid_pos gp, prev;
        gd_segment_pos(&segs->v[i], &gp);
        gd_segment_prev_pos(&segs->v[i], &prev);
        if (!gd_gtid_pos_le(&gp, pos) && gd_gtid_pos_le(&prev, pos))
            return true;
    }
    return false;
}

static int remove_set(gd_repo *r, gd_set *s, gd_err *err)
{
    char *mname = gd_repo_object_name(r, s->id, "manifest");
    int rc = gd_storage_remove(r->st, mname, err); /* first: the set is gone for readers */
    free(mname);
    char *n = gd_manifest_object_name(r, s->id, &s->mf->schema);
    if (rc == 0)
        rc = gd_storage_remove(r->st, n, err);
    free(n);
    for (size_t t = 0; rc == 0 && t < s->mf->ntables; t++) {
        const gd_mf_table *tab = &s->mf->tables[t];
        for (size_t k = 0; rc == 0 && k < tab->nchunks; k++) {
            char *o = gd_manifest_object_name(r, s->id, &tab->chunks[k]);
            rc = gd_storage_remove(r->st, o, err);
            free(o);
        }
    }
    return rc;
}

/* Set folders without a manifest whose objects are all older than a day. */
struct leftover_ctx {
    char **names;
    size_t n, cap;
    char **dirs_with_manifest;
    size_t nm;
    int64_t cutoff_us;
    gd_buf young; /* "dir\n" of folders with a young object */
    size_t plen;
};

static int leftover_cb(void *ctx, const char *name, const gd_stat *st)
{
    struct leftover_ctx *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->names = gd_realloc(c->names, c->cap * sizeof *c->names);
    }
    c->names[c->n++] = gd_strdup(name);
    if (st->mtime_us > c->cutoff_us) {
        const char *rest = name + c->plen, *slash = strchr(rest, '/');
        if (slash)
            gd_buf_appendf(&c->young, "%.*s\n", (int)(slash - rest), rest);
    }
    return 0;
}

static int remove_leftovers(gd_repo *r, int64_t now_s, bool dry_run, unsigned long long *removed,
                            gd_err *err)
{
    char *prefix = gd_asprintf("%s/backup/", r->instance);
    struct leftover_ctx c = {.cutoff_us = (now_s - LEFTOVER_AGE_S) * 1000000,
                             .plen = strlen(prefix)};
    gd_buf_init(&c.young, 0);
    char **ids = NULL;
    size_t nids = 0;
    int rc = gd_repo_list_sets(r, &ids, &nids, err);
    if (rc == 0)
        rc = gd_storage_list(r->st, prefix, leftover_cb, &c, err);
    char *checked_dir = NULL; /* the last folder whose manifest was looked for */
    bool checked_has_manifest = false;
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        const char *rest = c.names[i] + c.plen, *slash = strchr(rest, '/');
        if (slash == NULL)
            continue;
        char *dir = gd_strndup(rest, (size_t)(slash - rest));
        bool committed = false;
        for (size_t k = 0; k < nids; k++)
            committed |= strcmp(ids[k], dir) == 0;
        char *needle = gd_asprintf("%s\n", dir);
        bool young = c.young.data && (strncmp(c.young.data, needle, strlen(needle)) == 0 ||
                                      strstr(c.young.data, needle) != NULL);
        /* A listing may omit a key (an eventually consistent or hostile
         * endpoint): before anything of a folder is removed, its manifest
         * itself is looked for; found, or not known to be absent, nothing
         * of the folder is touched. */
        if (!committed && !young && (checked_dir == NULL || strcmp(checked_dir, dir) != 0)) {
            free(checked_dir);
            checked_dir = gd_strdup(dir);
            char *mname = gd_asprintf("%s%s/manifest", prefix, dir);
            gd_stat mst;
            gd_err me;
            gd_err_clear(&me);
            int src = gd_storage_stat(r->st, mname, &mst, &me);
            checked_has_manifest = src != GD_E_NOTFOUND;
            if (src != 0 && src != GD_E_NOTFOUND)
                gd_warn("leftovers of %s kept: cannot check for its manifest: %s", dir, me.msg);
            free(mname);
        }
        if (!committed && !young && !checked_has_manifest) {
            if (!dry_run)
                rc = gd_storage_remove(r->st, c.names[i], err);
            (*removed)++;
        }
        free(needle);
        free(dir);
    }
    free(checked_dir);
    gd_strv_free(c.names, c.n);
    gd_strv_free(ids, nids);
    gd_buf_free(&c.young);
    free(prefix);
    return rc;
}

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(((const gd_listed *)a)->name, ((const gd_listed *)b)->name);
}

/* Segment objects whose record is gone: expire removes a segment's record
 * first (readers never see a record without its object), so a failed
 * removal of the object leaves it behind with no record naming it.  An
 * object older than a day (never one an archiver or copy is about to name
 * in a record) whose "<stem>.segment" is not listed is removed. */
static int remove_orphan_segments(gd_repo *r, int64_t now_s, bool dry_run,
                                  unsigned long long *removed, gd_err *err)
{
    char *prefix = gd_asprintf("%s/binlog/", r->instance);
    char *tail = gd_asprintf(".binlog%s", gd_repo_suffix(r));
    size_t tlen = strlen(tail), n = 0;
    int64_t cutoff_us = (now_s - LEFTOVER_AGE_S) * 1000000;
    gd_listed *v = NULL; /* in name order: a record is found by bsearch */
    int rc = gd_storage_list_all(r->st, prefix, &v, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len = strlen(v[i].name);
        if (len <= tlen || strcmp(v[i].name + len - tlen, tail) != 0 ||
            v[i].st.mtime_us > cutoff_us)
            continue;
        gd_listed key = {.name = gd_asprintf("%.*s.segment", (int)(len - tlen), v[i].name)};
        if (bsearch(&key, v, n, sizeof *v, cmp_listed) == NULL) {
            if (!dry_run)
                rc = gd_storage_remove(r->st, v[i].name, err);
            (*removed)++;
        }
        free(key.name);
    }
    gd_listed_free(v, n);
    free(tail);
    free(prefix);
    return rc;
}

/* What the live read leases protect: *all when one protects everything
 * (a restore still planning), else the set ids they name. */
typedef struct leases {
    gd_leases list; /* the set each protects (NULL = everything) */
    bool all;
} leases;

static int load_leases(gd_repo *r, leases *l, gd_err *err)
{
    memset(l, 0, sizeof *l);
    int rc = gd_lock_read_leases(r->st, r->instance, &l->list, err);
    for (size_t i = 0; rc == 0 && i < l->list.n; i++)
        l->all |= l->list.sets[i] == NULL;
    return rc;
}

static bool leased(const leases *l, const char *set_id)
{
    if (l->all)
        return true;
    for (size_t i = 0; i < l->list.n; i++)
        if (strcmp(l->list.sets[i], set_id) == 0)
            return true;
    return false;
}

/* The plan: which sets go (expire) and which stay (keep, and of those the
 * ones only a lease keeps); the index of the oldest kept set (n: none). */
static size_t plan_sets(gd_set *sets, size_t n, const gd_segments *segs, int64_t boundary,
                        const leases *ls, json_t *keep, json_t *expire, json_t *held)
{
    /* sets are sorted oldest first (names are start times) */
    size_t newest_expired = n;
    for (size_t i = 0; i < n; i++)
        if (sets[i].end_s < boundary)
            newest_expired = i;
    size_t oldest_kept = n;
    for (size_t i = 0; i < n; i++) {
        bool exp = sets[i].end_s < boundary;
        if (exp && i == newest_expired && rolled_forward(segs, &sets[i].pos))
            exp = false; /* the window still needs it */
        if (i == n - 1)
            exp = false; /* a region never loses its newest set to retention */
        if (exp && leased(ls, sets[i].id)) {
            exp = false; /* a restore reads it now: it goes at a later run */
            json_array_append_new(held, json_string(sets[i].id));
        }
        if (exp) {
            json_array_append_new(expire, json_string(sets[i].id));
        } else {
            json_array_append_new(keep, json_string(sets[i].id));
            if (oldest_kept == n)
                oldest_kept = i;
        }
    }
    return oldest_kept;
}

static bool listed(json_t *arr, const char *id)
{
    size_t k;
    json_t *v;
    json_array_foreach(arr, k, v) if (strcmp(json_string_value(v), id) == 0) return true;
    return false;
}

/* Segments no kept set needs: entirely before the oldest kept set, or
 * all of them when no set is kept and they are past the boundary. */
static int remove_segments(gd_repo *r, gd_lock *lk, const gd_segments *segs, gd_set *oldest_kept,
                           int64_t boundary, bool dry_run, unsigned long long *removed, gd_err *err)
{
    for (size_t i = 0; i < segs->n; i++) {
        const gd_segment *s = &segs->v[i];
        gd_gtid_pos gp;
        gd_segment_pos(s, &gp);
        bool before =
            oldest_kept ? gd_gtid_pos_le(&gp, &oldest_kept->pos) : s->last_time_s < boundary;
        if (!before)
            continue;
        (*removed)++;
        if (dry_run)
            continue;
        int rc = gd_lock_check(lk, err); /* never remove on a lost lock */
        if (rc != 0)
            return rc;
        rc = gd_storage_remove(r->st, s->record, err); /* record first */
        if (rc == 0)
            rc = gd_storage_remove(r->st, s->object, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Expire with the region's expire lock held (or a dry run).  only_set: remove
 * just that set when the plan expires it (gd_region_expire_set). */
static int expire_run(gd_repo *r, gd_lock *lk, int retention_days, int64_t now_s, bool dry_run,
                      const char *only_set, json_t **report, gd_err *err)
{
    gd_set *sets = NULL;
    size_t n = 0;
    gd_segments segs = {0};
    leases ls = {0};
    /* a set whose manifest cannot be read is left out, so never removed:
     * a person should look at it (geodr verify) */
    int rc = load_leases(r, &ls, err);
    if (rc == 0)
        rc = gd_repo_load_sets(r, &sets, &n, NULL, err);
    if (rc == 0)
        rc = gd_repo_list_segments(r, &segs, NULL, err);
    if (rc != 0) {
        gd_repo_sets_free(sets, n);
        gd_leases_free(&ls.list);
        return rc;
    }
    int64_t boundary = now_s - (int64_t)retention_days * 86400;
    char bstr[32];
    gd_fmt_time(boundary * 1000000, false, bstr, sizeof bstr);
    json_t *keep = json_array(), *expire = json_array(), *held = json_array();
    size_t oldest_kept = plan_sets(sets, n, &segs, boundary, &ls, keep, expire, held);
    bool whole = only_set == NULL;
    for (size_t i = 0; rc == 0 && !dry_run && i < n; i++)
        if (listed(expire, sets[i].id) && (whole || strcmp(sets[i].id, only_set) == 0) &&
            (rc = gd_lock_check(lk, err)) == 0)
            rc = remove_set(r, &sets[i], err);
    unsigned long long segs_removed = 0, leftovers = 0;
    /* A lease that protects everything (a restore still planning) keeps every
     * segment too; the next run removes them. */
    if (rc == 0 && whole && !ls.all)
        rc = remove_segments(r, lk, &segs, oldest_kept < n ? &sets[oldest_kept] : NULL, boundary,
                             dry_run, &segs_removed, err);
    bool writer = false;
    static const char *const writers[] = {"backup", "copy", NULL};
    if (rc == 0 && whole && !dry_run)
        rc = gd_lock_live(r->st, r->instance, writers, &writer, err);
    /* leftovers of killed backups; never while a backup or copy writes */
    if (rc == 0 && whole && !writer)
        rc = remove_leftovers(r, now_s, dry_run, &leftovers, err);
    if (rc == 0 && whole && !writer)
        rc = remove_orphan_segments(r, now_s, dry_run, &leftovers, err);
    *report = json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:b, s:I, s:I, s:b}", "region", r->st->name,
                        "retention_days", retention_days, "boundary", bstr, "keep", keep, "expire",
                        expire, "held_by_restore", held, "all_held", ls.all, "segments_removed",
                        (json_int_t)segs_removed, "leftovers_removed", (json_int_t)leftovers,
                        "dry_run", dry_run);
    gd_segments_free(&segs);
    gd_leases_free(&ls.list);
    gd_repo_sets_free(sets, n);
    return rc;
}

/* Nothing is removed without the region's expire lock: one expire at a time,
 * and every restore that holds a read lease is seen (lock.h). */
static int expire_locked(gd_repo *r, int retention_days, int64_t now_s, bool dry_run,
                         const char *only_set, json_t **report, gd_err *err)
{
    gd_lock *lk = NULL;
    int rc = 0;
    if (!dry_run && (rc = gd_lock_take(r->st, r->instance, "expire", "expire", 30, &lk, err)) != 0)
        return rc;
    gd_test_pause("expire-locked");
    rc = expire_run(r, lk, retention_days, now_s, dry_run, only_set, report, err);
    gd_lock_release(lk);
    return rc;
}

int gd_region_expire(gd_repo *r, int retention_days, int64_t now_s, bool dry_run, json_t **report,
                     gd_err *err)
{
    return expire_locked(r, retention_days, now_s, dry_run, NULL, report, err);
}

int gd_region_expire_set(gd_repo *r, const char *set_id, int retention_days, int64_t now_s,
                         gd_err *err)
{
    json_t *rep = NULL;
    int rc = gd_region_expire(r, retention_days, now_s, true, &rep, err);
    if (rc != 0)
        return rc;
    bool expired = false, exists = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rep, "expire"), i, v) expired |=
        strcmp(json_string_value(v), set_id) == 0;
    json_array_foreach(json_object_get(rep, "keep"), i, v) exists |=
        strcmp(json_string_value(v), set_id) == 0;
    bool held = listed(json_object_get(rep, "held_by_restore"), set_id);
    json_decref(rep);
    if (held)
        return gd_err_set(err, GD_E_BUSY,
                          "backup set %s is being read by a restore in region %s: it can be "
                          "removed when the restore ends (run this again then)",
                          set_id, r->st->name);
    if (!expired && !exists)
        return gd_err_set(err, GD_E_NOTFOUND, "backup set %s does not exist in region %s", set_id,
                          r->st->name);
    if (!expired) {
        gd_manifest *mf = NULL;
        if ((rc = gd_manifest_read(r, set_id, &mf, err)) != 0)
            return rc;
        int64_t end = mf->end_us / 1000000;
        gd_manifest_free(mf);
        int64_t when = end + (int64_t)retention_days * 86400;
        char w[32];
        gd_fmt_time(when * 1000000, false, w, sizeof w);
        if (when > now_s)
            return gd_err_set(err, GD_E_STATE,
                              "backup set %s has not expired: it is kept in region %s until %s "
                              "UTC (retention %d days); no command deletes a set earlier",
                              set_id, r->st->name, w, retention_days);
        return gd_err_set(err, GD_E_STATE,
                          "backup set %s expired on %s UTC but the recovery window of region "
                          "%s still needs it (the binlog archive rolls it forward); it goes "
                          "when a newer set has expired too",
                          set_id, w, r->st->name);
    }
    /* Remove exactly this one (expire would remove every expired set),
     * planned again under the lock. */
    rc = expire_locked(r, retention_days, now_s, false, set_id, &rep, err);
    if (rc == 0 && listed(json_object_get(rep, "held_by_restore"), set_id))
        rc = gd_err_set(err, GD_E_BUSY,
                        "backup set %s is being read by a restore in region %s: it can be "
                        "removed when the restore ends (run this again then)",
                        set_id, r->st->name);
    json_decref(rep);
    return rc;
}
