/* Locks and leases in a region: see lock.h and docs/locks.md.  Only writes,
 * listings and removals of whole objects are used, so the one mechanism
 * works on every storage driver. */
#include "common/json.h"
#include "repo/lock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/periodic.h"
#include "common/util.h"
#include "io/key.h"
#include "repo/repo.h"

#define ENTRY_MAX (64 * 1024)

struct gd_lock {
    gd_storage *st;
    char *instance;
    char *name; /* our entry object */
    char *kind;
    json_t *entry;
    int lease_s;
    pthread_mutex_t mu;   /* guards entry, last_ok, lost, warned */
    gd_periodic *renewal; /* rewrites the entry every lease/4 */
    bool lost, warned;
    double last_ok; /* gd_mono() of the last successful write */
};

/* One entry as a listing shows it. */
typedef struct entry {
    char *name;
    char kind[16];
    int lease_s;
    int64_t mtime_us;
} entry;

typedef struct listing {
    char *prefix; /* <instance>/locks/ */
    entry *v;
    size_t n, cap;
    int64_t newest_us; /* the newest write listed: the storage's "now" for a
                        * caller that has just written its own entry */
} listing;

static int lease_seconds(void)
{
    const char *v = getenv("GEODR_LOCK_LEASE_S");
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (v && errno == 0 && end != v && *end == '\0' && n >= 1 && n <= 86400)
        return (int)n;
    return GD_LOCK_LEASE_S;
}

/* "<kind>.L<lease>.<hex>": false for anything else under locks/. */
static bool parse_entry_name(const char *base, entry *e)
{
    const char *dot = strchr(base, '.');
    if (dot == NULL || dot == base || (size_t)(dot - base) >= sizeof e->kind || dot[1] != 'L')
        return false;
    char *end;
    errno = 0;
    long lease = strtol(dot + 2, &end, 10);
    if (errno || end == dot + 2 || *end != '.' || lease < 1 || lease > 86400 || end[1] == '\0')
        return false;
    memcpy(e->kind, base, (size_t)(dot - base));
    e->kind[dot - base] = '\0';
    e->lease_s = (int)lease;
    return true;
}

static int list_cb(void *ctx, const char *name, const gd_stat *st)
{
    listing *l = ctx;
    entry e = {0};
    size_t pl = strlen(l->prefix);
    if (strncmp(name, l->prefix, pl) != 0 || strchr(name + pl, '/') ||
        !parse_entry_name(name + pl, &e))
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = gd_realloc(l->v, l->cap * sizeof *l->v);
    }
    e.name = gd_strdup(name);
    e.mtime_us = st->mtime_us;
    if (e.mtime_us > l->newest_us)
        l->newest_us = e.mtime_us;
    l->v[l->n++] = e;
    return 0;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    free(l->prefix);
    memset(l, 0, sizeof *l);
}

static int list_entries(gd_storage *st, const char *instance, listing *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    out->prefix = gd_asprintf("%s/locks/", instance);
    int rc = gd_storage_list(st, out->prefix, list_cb, out, err);
    if (rc != 0)
        listing_free(out);
    return rc;
}

/* An entry is stale when its last write is older than its lease, measured
 * on the storage's clock against now_us (the mtime of a fresh write). */
static bool stale(const entry *e, int64_t now_us)
{
    return e->mtime_us + (int64_t)e->lease_s * 1000000 < now_us;
}

static const entry *find(const listing *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

/* Writes the entry.  The holder counts its lease from the moment the write
 * started (the storage stamps it later, so others count from later), and
 * holds it only while less than half a lease has passed since: a write that
 * succeeds after that may come after another process judged the entry
 * stale and took over, so the lease is lost for good (never revived by a
 * late success). */
static int write_entry(gd_lock *l, gd_err *err)
{
    pthread_mutex_lock(&l->mu);
    char *text = json_dumps(l->entry, JSON_COMPACT | JSON_SORT_KEYS);
    pthread_mutex_unlock(&l->mu);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise the lock entry %s", l->name);
    double t0 = gd_mono();
    int rc = gd_storage_put_all(l->st, l->name, text, strlen(text), err);
    free(text);
    if (rc == 0) {
        pthread_mutex_lock(&l->mu);
        if (l->last_ok > 0 && t0 - l->last_ok > l->lease_s / 2.0)
            l->lost = true;
        l->last_ok = t0;
        pthread_mutex_unlock(&l->mu);
    }
    return rc;
}

/* One renewal (the periodic worker calls it every lease/4): rewrites the
 * entry; a lease not renewed for its whole length is lost. */
static void renew(void *arg, gd_periodic_call *call)
{
    (void)call;
    gd_lock *l = arg;
    gd_err e;
    gd_err_clear(&e);
    int rc = write_entry(l, &e);
    pthread_mutex_lock(&l->mu);
    if (rc != 0 && !l->warned)
        gd_warn("cannot renew the %s lock of instance %s in region %s: %s", l->kind, l->instance,
                l->st->name, e.msg);
    l->warned = rc != 0;
    if (gd_mono() - l->last_ok > l->lease_s / 2.0)
        l->lost = true;
    pthread_mutex_unlock(&l->mu);
}

/* This machine's boot id: with the host name it tells whether a holder's
 * pid can be checked here (same kernel, same pid space). */
static void boot_id(char *out, size_t size)
{
    gd_strlcpy(out, "", size);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f == NULL)
        return;
    if (fgets(out, (int)size, f) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* A holder that ran on this machine and whose process is gone (killed, or
 * the machine's restarted service) holds nothing: no need to wait out its
 * lease.  Anything unreadable counts as alive. */
/* This process's pid namespace ("pid:[4026531836]"): two containers of one
 * machine can share its host name and boot id but not their pids. */
static void pid_ns(char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/ns/pid", out, size - 1);
    out[n > 0 ? n : 0] = '\0';
}

static bool holder_dead_here(gd_lock *l, const entry *e)
{
    char *text = NULL;
    if (gd_storage_get_all(l->st, e->name, ENTRY_MAX, &text, NULL, NULL) != 0)
        return false;
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    json_t *mine = l->entry;
    long long pid = gd_json_int(j, "pid", 0);
    bool dead = j && pid > 0 && pid <= INT32_MAX &&
                strcmp(gd_json_str(j, "host", "?"), gd_json_str(mine, "host", "")) == 0 &&
                gd_json_str(mine, "boot", "")[0] != '\0' &&
                strcmp(gd_json_str(j, "boot", ""), gd_json_str(mine, "boot", "")) == 0 &&
                gd_json_str(mine, "pidns", "")[0] != '\0' &&
                strcmp(gd_json_str(j, "pidns", ""), gd_json_str(mine, "pidns", "")) == 0 &&
                kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    json_decref(j);
    return dead;
}

static gd_lock *lock_new(gd_storage *st, const char *instance, const char *kind, const char *op,
                         gd_err *err)
{
    unsigned char rnd[8];
    char hex[17], host[256] = "?", now[32];
    if (gd_random(rnd, sizeof rnd, err) != 0)
        return NULL;
    gd_hex(rnd, sizeof rnd, hex);
    if (gethostname(host, sizeof host) != 0)
        gd_strlcpy(host, "?", sizeof host);
    host[sizeof host - 1] = '\0';
    gd_fmt_time(gd_now_us(), false, now, sizeof now);
    gd_lock *l = gd_calloc(1, sizeof *l);
    l->st = st;
    l->instance = gd_strdup(instance);
    l->kind = gd_strdup(kind);
    l->lease_s = lease_seconds();
    l->name = gd_asprintf("%s/locks/%s.L%d.%s", instance, kind, l->lease_s, hex);
    char boot[64], ns[64];
    boot_id(boot, sizeof boot);
    pid_ns(ns, sizeof ns);
    for (char *p = host; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?'; /* JSON strings are UTF-8; a host name need not be */
    l->entry = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:i}", "kind", kind, "host", host,
                         "boot", boot, "pidns", ns, "pid", (json_int_t)getpid(), "started", now,
                         "op", op, "lease_s", l->lease_s);
    if (l->entry == NULL) /* op not UTF-8: still a valid entry */
        l->entry = json_pack("{s:s, s:s}", "kind", kind, "host", host);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

static void lock_free(gd_lock *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    json_decref(l->entry);
    free(l->name);
    free(l->kind);
    free(l->instance);
    free(l);
}

static void remove_quietly(gd_storage *st, const char *name)
{
    gd_err e;
    gd_err_clear(&e);
    if (gd_storage_remove(st, name, &e) != 0)
        gd_warn("cannot remove lock entry %s in region %s: %s", name, st->name, e.msg);
}

/* Lists and finds our own entry's mtime: the storage's "now". */
static int list_with_self(gd_lock *l, listing *ls, int64_t *now_us, gd_err *err)
{
    int rc = list_entries(l->st, l->instance, ls, err);
    if (rc != 0)
        return rc;
    const entry *me = find(ls, l->name);
    if (me == NULL) {
        listing_free(ls);
        return gd_err_set(err, GD_E_STATE,
                          "region %s did not list the lock entry %s just written: its "
                          "listings are not consistent with its writes, so geodr cannot lock "
                          "in it (use a store with read-after-write listings)",
                          l->st->name, l->name);
    }
    *now_us = me->mtime_us;
    return 0;
}

/* The first live entry of kind other than ours, after removing stale ones
 * (a dead holder's); NULL when there is none.  The result points into ls. */
static const entry *live_other(gd_lock *l, listing *ls, const char *kind, int64_t now_us)
{
    const entry *live = NULL;
    for (size_t i = 0; i < ls->n; i++) {
        entry *e = &ls->v[i];
        if (strcmp(e->kind, kind) != 0 || strcmp(e->name, l->name) == 0)
            continue;
        if (stale(e, now_us)) {
            gd_warn("removing the stale %s lock %s in region %s: its holder stopped renewing "
                    "it more than %d s ago",
                    kind, e->name, l->st->name, e->lease_s);
            remove_quietly(l->st, e->name);
            continue;
        }
        if (holder_dead_here(l, e)) {
            gd_warn("removing the %s lock %s in region %s: its holder was a process on this "
                    "machine that no longer runs",
                    kind, e->name, l->st->name);
            remove_quietly(l->st, e->name);
            continue;
        }
        if (live == NULL)
            live = e;
    }
    return live;
}

static int busy_error(gd_lock *l, const entry *holder, int64_t now_us, gd_err *err)
{
    char *text = NULL;
    json_t *j = NULL;
    if (gd_storage_get_all(l->st, holder->name, ENTRY_MAX, &text, NULL, NULL) == 0)
        j = json_loads(text, 0, NULL);
    free(text);
    long long left = (holder->mtime_us + (int64_t)holder->lease_s * 1000000 - now_us) / 1000000;
    int rc = gd_err_set(err, GD_E_BUSY,
                        "another %s of instance %s holds its lock in region %s (host %s, pid "
                        "%lld, since %s UTC): wait for it to finish. If that process is gone, "
                        "its lease runs out within %lld s and the next try takes over",
                        gd_json_str(j, "op", holder->kind), l->instance, l->st->name,
                        gd_json_str(j, "host", "?"), gd_json_int(j, "pid", 0),
                        gd_json_str(j, "started", "?"), left > 0 ? left + 1 : 1);
    json_decref(j);
    if (err)
        err->retryable = true;
    return rc;
}

static void sleep_random_ms(int lo, int hi)
{
    unsigned char r[2] = {0, 0};
    gd_random(r, sizeof r, NULL);
    int ms = lo + (int)(((unsigned)r[0] << 8 | r[1]) % (unsigned)(hi - lo + 1));
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int start_renewal(gd_lock *l, gd_err *err)
{
    if (gd_periodic_start(l->lease_s / 4.0, 0, renew, l, &l->renewal) != 0)
        return gd_err_set(err, GD_E_NOMEM, "cannot start the lock renewal thread");
    return 0;
}

int gd_lock_take(gd_storage *st, const char *instance, const char *kind, const char *op,
                 double wait_s, gd_lock **out, gd_err *err)
{
    *out = NULL;
    gd_lock *l = lock_new(st, instance, kind, op, err);
    if (l == NULL)
        return GD_E_NOMEM;
    double deadline = gd_mono() + wait_s;
    int rc;
    for (int attempt = 1;; attempt++) {
        if ((rc = write_entry(l, err)) != 0)
            break;
        listing ls;
        int64_t now_us = 0;
        if ((rc = list_with_self(l, &ls, &now_us, err)) != 0) {
            remove_quietly(st, l->name);
            break;
        }
        const entry *holder = live_other(l, &ls, kind, now_us);
        if (holder == NULL) {
            listing_free(&ls);
            /* A listing that took long (a slow region) leaves little of the
             * lease: renew once before the caller relies on it. */
            if (gd_mono() - l->last_ok > l->lease_s / 4.0 && (rc = write_entry(l, err)) == 0)
                rc = gd_lock_check(l, err);
            if (rc == 0 && (rc = start_renewal(l, err)) == 0) {
                *out = l;
                return 0;
            }
            remove_quietly(st, l->name);
            break;
        }
        /* Both contenders may see each other and step back: try again after
         * a random pause, so one of them wins. */
        remove_quietly(st, l->name);
        if (attempt >= 4 && gd_mono() >= deadline) {
            rc = busy_error(l, holder, now_us, err);
            listing_free(&ls);
            break;
        }
        listing_free(&ls);
        sleep_random_ms(50, attempt < 4 ? 400 : 1000);
    }
    lock_free(l);
    return rc;
}

/* What a read lease's entry says it protects. */
static json_t *lease_detail(const char *set)
{
    return set ? json_pack("{s:s}", "set", set) : json_null();
}

int gd_lock_take_read(gd_storage *st, const char *instance, const char *op, const char *set,
                      double wait_s, gd_lock **out, gd_err *err)
{
    *out = NULL;
    gd_lock *l = lock_new(st, instance, "read", op, err);
    if (l == NULL)
        return GD_E_NOMEM;
    json_object_set_new(l->entry, "detail", lease_detail(set));
    double deadline = gd_mono() + wait_s;
    int rc = write_entry(l, err);
    if (rc == 0)
        rc = start_renewal(l, err);
    /* A lease is granted when no expire runs: one that starts later lists
     * after our write and sees the lease. */
    while (rc == 0) {
        listing ls;
        int64_t now_us = 0;
        if ((rc = list_with_self(l, &ls, &now_us, err)) != 0)
            break;
        const entry *exp = live_other(l, &ls, "expire", now_us);
        if (exp == NULL) {
            listing_free(&ls);
            *out = l;
            return 0;
        }
        if (gd_mono() >= deadline)
            rc = busy_error(l, exp, now_us, err);
        listing_free(&ls);
        if (rc == 0)
            sleep_random_ms(300, 700);
    }
    gd_lock_release(l);
    return rc;
}

int gd_lock_narrow(gd_lock *l, const char *set, gd_err *err)
{
    pthread_mutex_lock(&l->mu);
    json_object_set_new(l->entry, "detail", lease_detail(set));
    pthread_mutex_unlock(&l->mu);
    return write_entry(l, err);
}

int gd_lock_check(gd_lock *l, gd_err *err)
{
    if (l == NULL)
        return 0;
    pthread_mutex_lock(&l->mu);
    bool lost = l->lost || gd_mono() - l->last_ok > l->lease_s / 2.0;
    pthread_mutex_unlock(&l->mu);
    if (lost)
        return gd_err_set(err, GD_E_STATE,
                          "the %s lock of instance %s in region %s could not be renewed for "
                          "%d s (half its lease): another process may take it over, so "
                          "nothing more is committed (check the region's reachability and "
                          "run it again)",
                          l->kind, l->instance, l->st->name, l->lease_s / 2);
    return 0;
}

void gd_lock_release(gd_lock *l)
{
    if (l == NULL)
        return;
    gd_periodic_stop(l->renewal);
    remove_quietly(l->st, l->name);
    lock_free(l);
}

void gd_leases_free(gd_leases *l)
{
    for (size_t i = 0; l && i < l->n; i++)
        free(l->sets[i]);
    if (l) {
        free(l->sets);
        *l = (gd_leases){0};
    }
}

int gd_lock_read_leases(gd_storage *st, const char *instance, gd_leases *out, gd_err *err)
{
    *out = (gd_leases){0};
    listing ls;
    int rc = list_entries(st, instance, &ls, err);
    if (rc != 0)
        return rc;
    int64_t now_us = ls.newest_us;
    gd_leases v = {gd_calloc(ls.n + 1, sizeof(char *)), 0};
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        const entry *e = &ls.v[i];
        if (strcmp(e->kind, "read") != 0)
            continue;
        if (stale(e, now_us)) { /* a killed restore's */
            remove_quietly(st, e->name);
            continue;
        }
        char *text = NULL;
        gd_err e2;
        gd_err_clear(&e2);
        int r2 = gd_storage_get_all(st, e->name, ENTRY_MAX, &text, NULL, &e2);
        if (r2 == GD_E_NOTFOUND)
            continue; /* released meanwhile */
        if (r2 != 0) {
            rc = r2;
            if (err)
                *err = e2;
            break;
        }
        json_t *j = json_loads(text, 0, NULL);
        free(text);
        json_t *set = json_object_get(json_object_get(j, "detail"), "set");
        /* Anything unreadable protects everything. */
        v.sets[v.n++] = json_is_string(set) ? gd_strdup(json_string_value(set)) : NULL;
        json_decref(j);
    }
    listing_free(&ls);
    if (rc != 0) {
        gd_leases_free(&v);
        return rc;
    }
    *out = v;
    return 0;
}

int gd_lock_live(gd_storage *st, const char *instance, const char *const *kinds, bool *out,
                 gd_err *err)
{
    *out = false;
    listing ls;
    int rc = list_entries(st, instance, &ls, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < ls.n; i++)
        for (const char *const *k = kinds; *k; k++)
            if (strcmp(ls.v[i].kind, *k) == 0 && !stale(&ls.v[i], ls.newest_us))
                *out = true;
    listing_free(&ls);
    return 0;
}
