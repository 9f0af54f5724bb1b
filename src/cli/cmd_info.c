#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/pool.h"
#include "common/util.h"
#include "repo/plan.h"
#include "repo/setcheck.h"

static json_t *set_summary(json_t *mf, const char *id)
{
    json_t *t = json_object_get(mf, "totals");
    json_t *sm = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:s}", "set", id, "method",
        gd_json_str(mf, "method", "?"), "start", gd_json_str(mf, "start", ""), "end",
        gd_json_str(mf, "end", ""), "gtid", gd_json_str(mf, "gtid", ""), "tables",
        (json_int_t)gd_json_int(t, "tables", 0), "rows", (json_int_t)gd_json_int(t, "rows", 0),
        "raw_bytes", (json_int_t)gd_json_int(t, "raw_bytes", 0), "stored_bytes",
        (json_int_t)gd_json_int(t, "stored_bytes", 0), "seconds",
        json_real_value(json_object_get(t, "seconds")), "cipher",
        gd_json_str(mf, "cipher", "none"));
    json_object_set_new(sm, "lock_seconds",
                        json_real(json_real_value(json_object_get(mf, "lock_seconds"))));
    json_object_set_new(sm, "nontransactional_tables",
                        json_integer(gd_json_int(mf, "nontransactional_tables", 0)));
    json_object_set_new(
        sm, "nontransactional_locked",
        json_boolean(!json_is_false(json_object_get(mf, "nontransactional_locked"))));
    /* A set written wrong (repo/setcheck.h; the manifest alone, no key
     * needed): restore refuses it, verify names the tables. */
    json_t *problems = json_array();
    if (gd_set_check(mf, NULL, problems) > 0) {
        char *msg = gd_set_check_message(problems);
        json_object_set_new(sm, "unusable", json_string(msg));
        free(msg);
    }
    json_decref(problems);
    return sm;
}

/* The committed sets and the binlog archive of one instance in one region:
 * {"region", "sets", "archive"}; a region that cannot be read gets "error"
 * (a copy region being down must not hide the others). */
static int region_info(gd_cli *cli, const gd_instance_cfg *ic, const char *region, json_t **out,
                       gd_err *err)
{
    gd_repo *repo = NULL;
    json_t *j = json_pack("{s:s}", "region", region ? region : ic->home_region);
    json_t *sets = json_array();
    json_object_set_new(j, "sets", sets);
    gd_err e;
    gd_err_clear(&e);
    /* With the instance's key, every manifest and record listed is
     * authenticated (a set planted by a region writer shows as an error,
     * not as a restorable set); without one they are only checksummed. */
    bool authenticated = ic->key_file != NULL;
    int rc = authenticated ? gd_cli_open_repo(cli, ic, region, false, &repo, &e)
                           : gd_cli_open_repo_raw(cli, ic, region, &repo, &e);
    json_object_set_new(j, "authenticated", json_boolean(authenticated));
    if (rc == GD_E_NOTFOUND) {
        *out = j;
        return 0;
    }
    if (rc != 0) {
        if (region == NULL) {
            json_decref(j);
            *err = e;
            return rc;
        }
        json_object_set_new(j, "error", json_string(e.msg));
        *out = j;
        return 0;
    }
    char **ids = NULL;
    size_t n = 0;
    rc = gd_repo_list_sets(repo, &ids, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *mf = NULL;
        gd_err me;
        gd_err_clear(&me);
        if (gd_manifest_read(repo, ids[i], &mf, &me) != 0) {
            json_array_append_new(sets, json_pack("{s:s, s:s}", "set", ids[i], "error", me.msg));
            continue;
        }
        json_t *sm = set_summary(mf, ids[i]);
        json_object_set_new(sm, "end_us", json_integer(gd_json_int(mf, "end_us", 0)));
        json_array_append_new(sets, sm);
        json_decref(mf);
    }
    gd_strv_free(ids, n);
    json_t *arch = NULL;
    if (rc == 0 && (rc = gd_repo_archive_summary(repo, &arch, err)) == 0)
        json_object_set_new(j, "archive", arch);
    gd_repo_close(repo);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

static long long newest_set_end_s(json_t *r)
{
    json_t *sets = json_object_get(r, "sets");
    size_t n = json_array_size(sets);
    return n ? gd_json_int(json_array_get(sets, n - 1), "end_us", 0) / 1000000 : 0;
}

/* How far a copy region is behind the home region: newest set and newest
 * archived transaction, in seconds, and the stored bytes of home segments it
 * does not hold yet. */
static void add_lag(json_t *home, json_t *copy)
{
    json_t *ha = json_object_get(home, "archive"), *ca = json_object_get(copy, "archive");
    /* A copy region without sets is not "behind by the age of the epoch":
     * its lag is unknown (null), and info says it holds no set. */
    bool copy_has_sets = json_array_size(json_object_get(copy, "sets")) > 0;
    long long set_lag = newest_set_end_s(home) - newest_set_end_s(copy);
    long long log_lag = 0, bytes = 0;
    /* Binlog lag only once the copy region holds some (it only takes the
     * segments its own sets need). */
    if (ha && ca && gd_json_int(ha, "segments", 0) > 0 && gd_json_int(ca, "segments", 0) > 0) {
        long long hl = gd_json_int(ha, "last_time_s", 0);
        long long cl = ca ? gd_json_int(ca, "last_time_s", 0) : 0;
        log_lag = cl ? hl - cl : 0;
        bytes = gd_json_int(ha, "stored_bytes", 0) - (ca ? gd_json_int(ca, "stored_bytes", 0) : 0);
    }
    json_object_set_new(
        copy, "lag",
        json_pack("{s:o, s:I, s:I}", "sets_seconds",
                  copy_has_sets ? json_integer(set_lag > 0 ? set_lag : 0) : json_null(),
                  "log_seconds", (json_int_t)(log_lag > 0 ? log_lag : 0), "bytes",
                  (json_int_t)(bytes > 0 ? bytes : 0)));
}

static int instance_info(gd_cli *cli, const gd_instance_cfg *ic, json_t **out, gd_err *err)
{
    json_t *home = NULL;
    int rc = region_info(cli, ic, NULL, &home, err);
    if (rc != 0)
        return rc;
    json_t *j = json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:O, s:O}", "name", ic->name, "host", ic->host ? ic->host : "",
        "port", (int)ic->port, "region", ic->home_region, "encrypted", ic->key_file != NULL, "sets",
        json_object_get(home, "sets"), "archive",
        json_object_get(home, "archive") ? json_object_get(home, "archive") : json_null());
    json_t *copies = json_array();
    for (size_t i = 0; i < ic->n_copy_regions; i++) {
        json_t *c = NULL;
        if ((rc = region_info(cli, ic, ic->copy_regions[i], &c, err)) != 0)
            break;
        add_lag(home, c);
        json_array_append_new(copies, c);
    }
    json_object_set_new(j, "copies", copies);
    json_object_set(j, "authenticated", json_object_get(home, "authenticated"));
    json_decref(home);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

static void print_archive(json_t *inst)
{
    json_t *a = json_object_get(inst, "archive");
    if (a == NULL || gd_json_int(a, "segments", 0) == 0) {
        printf("  binlog archive: none yet (run 'geodr archive %s' for point-in-time "
               "restore)\n",
               gd_json_str(inst, "name", ""));
        return;
    }
    char raw[32], st[32];
    gd_fmt_bytes((uint64_t)gd_json_int(a, "raw_bytes", 0), raw, sizeof raw);
    gd_fmt_bytes((uint64_t)gd_json_int(a, "stored_bytes", 0), st, sizeof st);
    printf("  binlog archive: %lld segments, %lld transactions (%s, stored as %s), "
           "%s .. %s UTC, archived up to GTID %s\n",
           gd_json_int(a, "segments", 0), gd_json_int(a, "transactions", 0), raw, st,
           gd_json_str(a, "first_time", ""), gd_json_str(a, "last_time", ""),
           gd_json_str(a, "gtid_pos", ""));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(a, "windows"), i, w)
    {
        printf("  recovery window: %s .. %s UTC (from set %s)\n", gd_json_str(w, "from", ""),
               gd_json_str(w, "to", ""), gd_json_str(w, "set", ""));
    }
    if (json_array_size(json_object_get(a, "windows")) == 0)
        printf("  recovery window: none: no backup set is rolled forward by the archive "
               "(take a backup with 'geodr backup %s')\n",
               gd_json_str(inst, "name", ""));
    json_array_foreach(json_object_get(a, "gaps"), i, w)
    {
        printf("  GAP in the binlog archive between %s and %s (before segment %lld: expected "
               "GTID position %s, found %s): transactions in between are lost to "
               "point-in-time restore; take a new backup so the window starts after it\n",
               gd_json_str(w, "after_time", ""), gd_json_str(w, "before_time", ""),
               gd_json_int(w, "before_seq", 0), gd_json_str(w, "expected", ""),
               gd_json_str(w, "found", ""));
    }
}

static void print_copies(json_t *inst)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(inst, "copies"), i, c)
    {
        if (json_object_get(c, "error")) {
            printf("  copy region %s: UNREADABLE: %s\n", gd_json_str(c, "region", ""),
                   gd_json_str(c, "error", ""));
            continue;
        }
        json_t *sets = json_object_get(c, "sets"), *a = json_object_get(c, "archive");
        json_t *lag = json_object_get(c, "lag");
        char b[32];
        gd_fmt_bytes((uint64_t)gd_json_int(lag, "bytes", 0), b, sizeof b);
        size_t n = json_array_size(sets);
        if (n == 0) {
            printf("  copy region %s: holds no backup set yet (it receives copies at the end "
                   "of each backup, or run 'geodr copy %s')\n",
                   gd_json_str(c, "region", ""), gd_json_str(inst, "name", ""));
            continue;
        }
        printf("  copy region %s: %zu sets%s%s, binlog archived up to %s; behind home by "
               "%lld s of sets, %lld s and %s of binlog\n",
               gd_json_str(c, "region", ""), n, n ? ", newest " : "",
               n ? gd_json_str(json_array_get(sets, n - 1), "set", "") : "",
               a && gd_json_int(a, "segments", 0) ? gd_json_str(a, "last_time", "") : "-",
               gd_json_int(lag, "sets_seconds", 0), gd_json_int(lag, "log_seconds", 0), b);
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(a, "windows"), k, w)
        {
            printf("    recovery window in %s: %s .. %s UTC\n", gd_json_str(c, "region", ""),
                   gd_json_str(w, "from", ""), gd_json_str(w, "to", ""));
        }
    }
}

static void print_human(json_t *inst)
{
    printf("instance %s (%s:%d), home region %s, encryption %s\n", gd_json_str(inst, "name", ""),
           gd_json_str(inst, "host", ""), (int)gd_json_int(inst, "port", 0),
           gd_json_str(inst, "region", ""),
           json_is_true(json_object_get(inst, "encrypted")) ? "on" : "off");
    json_t *sets = json_object_get(inst, "sets");
    if (json_array_size(sets) == 0) {
        printf("  no backup sets yet (run 'geodr backup %s')\n", gd_json_str(inst, "name", ""));
        print_archive(inst);
        print_copies(inst);
        return;
    }
    printf("  %-20s %-19s %-19s %-20s %6s %12s %10s %10s %8s\n", "SET", "START (UTC)", "END (UTC)",
           "GTID", "TABLES", "ROWS", "RAW", "STORED", "SECONDS");
    size_t i;
    json_t *s;
    json_array_foreach(sets, i, s)
    {
        if (json_object_get(s, "error")) {
            printf("  %-20s BAD: %s\n", gd_json_str(s, "set", ""), gd_json_str(s, "error", ""));
            continue;
        }
        char raw[32], st[32];
        gd_fmt_bytes((uint64_t)gd_json_int(s, "raw_bytes", 0), raw, sizeof raw);
        gd_fmt_bytes((uint64_t)gd_json_int(s, "stored_bytes", 0), st, sizeof st);
        printf("  %-20s %-19s %-19s %-20s %6lld %12lld %10s %10s %8.1f\n",
               gd_json_str(s, "set", ""), gd_json_str(s, "start", ""), gd_json_str(s, "end", ""),
               gd_json_str(s, "gtid", ""), gd_json_int(s, "tables", 0), gd_json_int(s, "rows", 0),
               raw, st, json_real_value(json_object_get(s, "seconds")));
        if (json_object_get(s, "unusable"))
            printf("  %-20s UNUSABLE: %s: take a new backup\n", "", gd_json_str(s, "unusable", ""));
        if (gd_json_int(s, "nontransactional_tables", 0) > 0)
            printf("  %-20s %lld non-transactional tables (MyISAM, Aria...) %s; global "
                   "read lock held %.1f s\n",
                   "", gd_json_int(s, "nontransactional_tables", 0),
                   json_is_true(json_object_get(s, "nontransactional_locked"))
                       ? "dumped under the global read lock"
                       : "dumped after the lock (not usable for point-in-time restore)",
                   json_real_value(json_object_get(s, "lock_seconds")));
    }
    print_archive(inst);
    print_copies(inst);
}

struct released_ctx {
    gd_cli *cli;
    const char *region;
    json_t *out;
    gd_storage *st;
};

static int released_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)st;
    struct released_ctx *c = ctx;
    const char *slash = strchr(name, '/');
    if (slash == NULL || strcmp(slash, "/instance.json") != 0)
        return 0;
    char *inst = gd_strndup(name, (size_t)(slash - name));
    bool configured = false;
    for (size_t i = 0; i < c->cli->cfg->n_instances; i++)
        configured |= strcmp(c->cli->cfg->instances[i].name, inst) == 0;
    if (!configured) {
        /* count its sets without a key: manifests are plain */
        gd_repo tmp = {.st = c->st, .instance = inst};
        char **ids = NULL;
        size_t n = 0;
        gd_repo_list_sets(&tmp, &ids, &n, NULL);
        json_array_append_new(c->out, json_pack("{s:s, s:s, s:I}", "name", inst, "region",
                                                c->region, "sets", (json_int_t)n));
        gd_strv_free(ids, n);
    }
    free(inst);
    return 0;
}

/* Instances found in a configured region that the config no longer names:
 * their sets stay until they expire. */
static json_t *released_instances(gd_cli *cli)
{
    json_t *out = json_array();
    for (size_t i = 0; i < cli->cfg->n_regions; i++) {
        const gd_region_cfg *rc = &cli->cfg->regions[i];
        gd_storage *st = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (gd_cli_open_storage(rc, &st, &e) != 0)
            continue;
        struct released_ctx c = {.cli = cli, .region = rc->name, .out = out, .st = st};
        gd_storage_list(st, "", released_cb, &c, &e);
        gd_storage_free(st);
    }
    return out;
}

int gd_cmd_info(gd_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs("usage: geodr info [INSTANCE] [--all] [--json]\n\nLists configured instances, "
              "the committed backup sets in their home region (start and end time, GTID "
              "position, tables, rows, size before and after compression, duration), the "
              "binlog archive, recovery windows, and each copy region. --all also lists "
              "released instances: found in a region, no longer in the config.\n",
              stdout);
        return GD_EXIT_OK;
    }
    bool all_regions = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            all_regions = true;
            for (int k = i; k + 1 <= argc; k++)
                argv[k] = argv[k + 1];
            argc--;
            break;
        }
    }
    if (argc > 2)
        return gd_cli_usage("info", "at most one instance");
    gd_err err;
    gd_err_clear(&err);
    if (gd_cli_config(cli, &err) != 0)
        return gd_cli_fail(cli, &err);
    json_t *released = all_regions ? released_instances(cli) : NULL;
    json_t *all = json_array();
    for (size_t i = 0; i < cli->cfg->n_instances; i++) {
        const gd_instance_cfg *ic = &cli->cfg->instances[i];
        if (argc == 2 && strcmp(ic->name, argv[1]) != 0)
            continue;
        json_t *j = NULL;
        if (instance_info(cli, ic, &j, &err) != 0) {
            json_decref(all);
            return gd_cli_fail(cli, &err);
        }
        json_array_append_new(all, j);
    }
    if (argc == 2 && json_array_size(all) == 0) {
        json_decref(all);
        gd_config_instance(cli->cfg, argv[1], &err);
        return gd_cli_fail(cli, &err);
    }
    if (cli->json) {
        json_t *o = json_pack("{s:o}", "instances", all);
        if (released)
            json_object_set_new(o, "released", released);
        gd_cli_print_json(o);
        return GD_EXIT_OK;
    }
    size_t i;
    json_t *inst;
    json_array_foreach(all, i, inst) print_human(inst);
    json_array_foreach(released, i, inst)
    {
        printf("released instance %s (no longer in the config) in region %s: %lld backup "
               "sets, kept until they expire\n",
               gd_json_str(inst, "name", ""), gd_json_str(inst, "region", ""),
               gd_json_int(inst, "sets", 0));
    }
    json_decref(released);
    json_decref(all);
    return GD_EXIT_OK;
}

/* Objects read back at once by verify: over a WAN, or from a server that
 * holds back small answers (Ceph RGW's beast with Nagle on costs ~43 ms per
 * object on loopback), each read's round trips cost more than its bytes.
 * As many as the repository's own readers (gd_repo_load_sets). */
#define VERIFY_READERS 16

typedef struct verify_job {
    char *name;        /* object name in the region */
    const char *label; /* as reported ("t.c1", or the name) */
    const char *sha;   /* expected SHA-256 (borrowed) */
    int rc;
    gd_err err;
} verify_job;

typedef struct verify_worker {
    gd_repo *repo;
    verify_job *jobs;
} verify_worker;

/* One object read to its end (hash and authentication checked); its
 * outcome stays with the job, so one bad object does not stop the others. */
static int verify_job_run(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    (void)err;
    verify_worker *w = wv;
    verify_job *j = &w->jobs[i];
    gd_err_clear(&j->err);
    j->rc = gd_obj_verify(w->repo, j->name, j->sha, &j->err);
    return 0;
}

static void job_add(verify_job **jobs, size_t *n, size_t *cap, char *name, const char *label,
                    const char *sha)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *jobs = gd_realloc(*jobs, *cap * sizeof **jobs);
    }
    (*jobs)[(*n)++] = (verify_job){.name = name, .label = label, .sha = sha};
}

/* A job for every chunk of every table of the set's manifest. */
static void chunk_jobs(gd_repo *repo, const char *id, json_t *mf, verify_job **jobs, size_t *n,
                       size_t *cap)
{
    size_t k, c;
    json_t *t, *ch;
    json_array_foreach(json_object_get(mf, "tables"), k, t)
    {
        json_array_foreach(json_object_get(t, "chunks"), c, ch)
        {
            const char *rel = gd_json_str(ch, "object", "");
            job_add(jobs, n, cap, gd_repo_object_name(repo, id, rel), rel,
                    gd_json_str(ch, "sha256", ""));
        }
    }
}

/* Reads jobs[0..n) back, VERIFY_READERS at a time; appends the bad ones to
 * bad in job order ({object, error}) and returns how many; frees the names. */
static size_t verify_objects(gd_repo *repo, verify_job *jobs, size_t n, json_t *bad)
{
    size_t nbad = 0;
    if (n > 0) {
        int nw = n < VERIFY_READERS ? (int)n : VERIFY_READERS;
        verify_worker *ws = gd_calloc((size_t)nw, sizeof *ws);
        for (int i = 0; i < nw; i++)
            ws[i] = (verify_worker){.repo = repo, .jobs = jobs};
        gd_err e;
        gd_err_clear(&e);
        (void)gd_pool_run(ws, sizeof *ws, nw, n, verify_job_run, NULL, &e);
        free(ws);
    }
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc != 0) {
            json_array_append_new(
                bad, json_pack("{s:s, s:s}", "object", jobs[i].label, "error", jobs[i].err.msg));
            nbad++;
        }
        free(jobs[i].name);
    }
    return nbad;
}

/* Reads every archived binlog segment back; returns the number of bad ones
 * and appends them to bad. */
static size_t verify_segments(gd_repo *repo, json_t *bad, unsigned long long *checked,
                              bool quiet_ok)
{
    json_t *segs = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_repo_list_segments(repo, &segs, NULL, &e) != 0) {
        json_array_append_new(bad, json_pack("{s:s, s:s}", "object", "binlog", "error", e.msg));
        return 1;
    }
    size_t n = json_array_size(segs), i;
    verify_job *jobs = gd_calloc(n + 1, sizeof *jobs);
    json_t *sg;
    json_array_foreach(segs, i, sg)
    {
        jobs[i].name = gd_asprintf("%s/binlog/%s", repo->instance, gd_json_str(sg, "object", ""));
        jobs[i].label = jobs[i].name;
        jobs[i].sha = gd_json_str(sg, "sha256", "");
    }
    *checked += n;
    size_t nbad = verify_objects(repo, jobs, n, bad);
    free(jobs);
    if (!quiet_ok && n > 0 && nbad == 0)
        printf("binlog archive: %zu segments OK\n", n);
    json_decref(segs);
    return nbad;
}

static void add_bad(json_t *badv, const char *object, const char *error)
{
    json_array_append_new(badv, json_pack("{s:s, s:s}", "object", object, "error", error));
}

/* Every object of one set read back, then the set's own consistency
 * (repo/setcheck.h).  The schema object is read once: decoded when it can
 * be (that read checks its hash and authentication too, and gives the
 * CREATE TABLEs the check compares with); without the key of an encrypted
 * set its stored bytes are hashed and only the manifest is checked.
 * Returns the bad objects and tables. */
static json_t *verify_set(gd_repo *repo, const char *id, unsigned long long *checked)
{
    json_t *badv = json_array(), *mf = NULL, *schema = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_manifest_read(repo, id, &mf, &e) != 0) {
        add_bad(badv, "manifest", e.msg);
        return badv;
    }
    json_t *sch = json_object_get(mf, "schema");
    const char *sobj = gd_json_str(sch, "object", "");
    (*checked)++;
    gd_err_clear(&e);
    size_t nj = 0, cap = 0;
    verify_job *jobs = NULL;
    if (repo->raw && repo->encrypted) {
        job_add(&jobs, &nj, &cap, gd_repo_object_name(repo, id, sobj), sobj,
                gd_json_str(sch, "sha256", ""));
    } else {
        char *sname = gd_repo_object_name(repo, id, sobj), *text = NULL;
        if (gd_obj_read_all(repo, sname, gd_json_str(sch, "sha256", ""), GD_SCHEMA_MAX, &text, NULL,
                            &e) != 0)
            add_bad(badv, sobj, e.msg);
        else if ((schema = json_loads(text, 0, NULL)) == NULL)
            add_bad(badv, sobj, "not valid JSON");
        free(text);
        free(sname);
    }
    chunk_jobs(repo, id, mf, &jobs, &nj, &cap);
    *checked += nj - (repo->raw && repo->encrypted ? 1 : 0);
    verify_objects(repo, jobs, nj, badv);
    free(jobs);
    json_t *problems = json_array();
    gd_set_check(mf, schema, problems);
    size_t k;
    json_t *pb;
    json_array_foreach(problems, k, pb)
    {
        char *what = gd_asprintf("table %s", gd_json_str(pb, "table", ""));
        char *why = gd_asprintf("%s: restore refuses this set, take a new backup",
                                gd_json_str(pb, "problem", ""));
        add_bad(badv, what, why);
        free(what);
        free(why);
    }
    json_decref(problems);
    json_decref(schema);
    json_decref(mf);
    return badv;
}

int gd_cmd_verify(gd_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs("usage: geodr verify INSTANCE [SET] [--region R] [--json]\n\nReads every object of "
              "a backup set (default: every set, and every binlog segment) back from the home "
              "region (or R), checks its SHA-256 and, "
              "when encrypted, its authentication; names each bad object. Exit 1 if any is "
              "bad.\n",
              stdout);
        return GD_EXIT_OK;
    }
    const char *region = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--region") == 0 && i + 1 < argc) {
            region = argv[i + 1];
            for (int k = i; k + 2 <= argc; k++)
                argv[k] = argv[k + 2];
            argc -= 2;
            break;
        }
    }
    if (argc < 2 || argc > 3)
        return gd_cli_usage("verify", "name an instance and optionally a set");
    gd_err err;
    gd_err_clear(&err);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_cli_instance(cli, argv[1], &ic, &err);
    /* Without a key, the stored bytes are checked against their SHA-256
     * (nothing is decrypted); with it, every object is decoded to its end. */
    if (rc == 0 && ic->key_file == NULL)
        rc = gd_cli_open_repo_raw(cli, ic, region, &repo, &err);
    else if (rc == 0)
        rc = gd_cli_open_repo(cli, ic, region, false, &repo, &err);
    char **ids = NULL;
    size_t n = 0;
    if (rc == 0 && argc == 3) {
        ids = gd_calloc(1, sizeof *ids);
        ids[0] = gd_strdup(argv[2]);
        n = 1;
    } else if (rc == 0) {
        rc = gd_repo_list_sets(repo, &ids, &n, &err);
    }
    /* Nothing to verify is not "verified": an instance without a set has
     * nothing to restore from. */
    if (rc == 0 && n == 0)
        rc = gd_err_set(&err, GD_E_NOTFOUND,
                        "instance %s in region %s has no backup set: nothing to verify or to "
                        "restore from; run 'geodr backup %s'",
                        argv[1], repo->st->name, argv[1]);
    if (rc != 0) {
        gd_strv_free(ids, n);
        gd_repo_close(repo);
        return gd_cli_fail(cli, &err);
    }
    json_t *report = json_array();
    unsigned long long bad = 0, checked = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *badv = verify_set(repo, ids[i], &checked);
        bad += json_array_size(badv);
        if (!cli->json) {
            if (json_array_size(badv) == 0)
                printf("set %s: OK\n", ids[i]);
            size_t k;
            json_t *b;
            json_array_foreach(badv, k, b)
            {
                printf("set %s: BAD %s: %s\n", ids[i], gd_json_str(b, "object", ""),
                       gd_json_str(b, "error", ""));
            }
        }
        json_array_append_new(report, json_pack("{s:s, s:b, s:o}", "set", ids[i], "ok",
                                                json_array_size(badv) == 0, "bad", badv));
    }
    gd_strv_free(ids, n);
    json_t *segbad = json_array();
    if (argc == 2) {
        bad += verify_segments(repo, segbad, &checked, cli->json);
        size_t k;
        json_t *b;
        if (!cli->json)
            json_array_foreach(segbad, k, b)
            {
                printf("binlog: BAD %s: %s\n", gd_json_str(b, "object", ""),
                       gd_json_str(b, "error", ""));
            }
    }
    bool hash_only = repo->raw && repo->encrypted, encrypted = repo->encrypted;
    gd_repo_close(repo);
    if (hash_only && !cli->quiet && !cli->json)
        fprintf(stderr,
                "geodr: no key-file for instance %s: authenticity was NOT checked (the "
                "manifests' and records' MACs need the key; whoever can write to the region "
                "could have forged them); the stored bytes were checked against their SHA-256, "
                "not decrypted, and each table's columns were not compared with its CREATE "
                "TABLE; set key-file for a full check\n",
                argv[1]);
    if (cli->json)
        gd_cli_print_json(json_pack("{s:s, s:I, s:I, s:b, s:b, s:o, s:o}", "instance", argv[1],
                                    "objects", (json_int_t)checked, "bad", (json_int_t)bad,
                                    "decrypted", !hash_only, "authenticated",
                                    !hash_only && encrypted, "sets", report, "binlog", segbad));
    else {
        json_decref(report);
        json_decref(segbad);
    }
    if (bad) {
        fprintf(stderr,
                "geodr: error: %llu bad object(s) or table(s) in instance %s: restore from "
                "another set or region\n",
                bad, argv[1]);
        return GD_EXIT_FAIL;
    }
    return GD_EXIT_OK;
}
