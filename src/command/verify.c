#include "command/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/open.h"
#include "common/pool.h"
#include "common/util.h"
#include "repo/segment.h"
#include "repo/setcheck.h"

/* Objects read back at once by verify: over a WAN, or from a server that
 * holds back small answers (Ceph RGW's beast with Nagle on costs ~43 ms per
 * object on loopback), each read's round trips cost more than its bytes.
 * As many as the repository's own readers (gd_repo_load_sets). */
#define VERIFY_READERS 16

typedef struct verify_job {
    char *name;        /* object name in the region */
    const char *label; /* as reported ("t.c1", or the name) */
    const char *sha;   /* expected SHA-256 (borrowed) */
    uint64_t size;     /* stored size (for a listing) */
    int rc;
    gd_err err;
} verify_job;

typedef struct verify_worker {
    gd_repo *repo;
    verify_job *jobs;
    const gd_cancel *stop; /* may be NULL */
} verify_worker;

static void add_bad(gd_verify_bads *b, const char *object, const char *error)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->v = gd_realloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = (gd_verify_bad){.object = gd_strdup(object), .error = gd_strdup(error)};
}

void gd_verify_bads_free(gd_verify_bads *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].object);
        free(b->v[i].error);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* One object read to its end (hash and authentication checked); its
 * outcome stays with the job, so one bad object does not stop the others. */
static int verify_job_run(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    (void)err;
    verify_worker *w = wv;
    verify_job *j = &w->jobs[i];
    gd_err_clear(&j->err);
    if (gd_cancel_requested(w->stop))
        j->rc = gd_err_set(&j->err, GD_E_CANCEL, "interrupted before it was read");
    else
        j->rc = gd_obj_verify(w->repo, j->name, j->sha, &j->err);
    return 0;
}

static void job_add(verify_job **jobs, size_t *n, size_t *cap, char *name, const gd_mf_object *o)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *jobs = gd_realloc(*jobs, *cap * sizeof **jobs);
    }
    (*jobs)[(*n)++] =
        (verify_job){.name = name, .label = o->object, .sha = o->sha256, .size = o->size};
}

/* A job for every chunk of every table of the set's manifest that want
 * takes (want NULL: every table). */
static void chunk_jobs(gd_repo *repo, const char *id, const gd_manifest *mf,
                       const gd_verify_filter *want, verify_job **jobs, size_t *n, size_t *cap)
{
    for (size_t k = 0; k < mf->ntables; k++) {
        const gd_mf_table *t = &mf->tables[k];
        if (want && !want->fn(want->arg, t->db, t->name))
            continue;
        for (size_t c = 0; c < t->nchunks; c++)
            job_add(jobs, n, cap, gd_manifest_object_name(repo, id, &t->chunks[c]), &t->chunks[c]);
    }
}

/* Reads jobs[0..n) back, VERIFY_READERS at a time; appends the bad ones to
 * bad in job order and returns how many; frees the names. */
static void read_jobs(gd_repo *repo, verify_job *jobs, size_t n, const gd_cancel *stop)
{
    if (n == 0)
        return;
    int nw = n < VERIFY_READERS ? (int)n : VERIFY_READERS;
    verify_worker *ws = gd_calloc((size_t)nw, sizeof *ws);
    for (int i = 0; i < nw; i++)
        ws[i] = (verify_worker){.repo = repo, .jobs = jobs, .stop = stop};
    gd_err e;
    gd_err_clear(&e);
    (void)gd_pool_run(ws, sizeof *ws, nw, n, verify_job_run, NULL, &e);
    free(ws);
}

static size_t verify_objects(gd_repo *repo, verify_job *jobs, size_t n, const gd_cancel *stop,
                             gd_verify_bads *bad)
{
    size_t nbad = 0;
    read_jobs(repo, jobs, n, stop);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc != 0) {
            add_bad(bad, jobs[i].label, jobs[i].err.msg);
            nbad++;
        }
        free(jobs[i].name);
    }
    return nbad;
}

/* A job for each of segs[0..n) (names owned by the jobs). */
static verify_job *segment_jobs(const gd_segment *segs, size_t n)
{
    verify_job *jobs = gd_calloc(n + 1, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        jobs[i].name = gd_strdup(segs[i].object);
        jobs[i].label = jobs[i].name;
        jobs[i].sha = segs[i].sha256;
    }
    return jobs;
}

int gd_verify_segments(gd_repo *repo, const gd_segment *segs, size_t n, const gd_cancel *stop,
                       gd_err *err)
{
    verify_job *jobs = segment_jobs(segs, n);
    read_jobs(repo, jobs, n, stop);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && jobs[i].rc != 0) {
            rc = jobs[i].rc;
            *err = jobs[i].err;
        }
        free(jobs[i].name);
    }
    free(jobs);
    return rc;
}

static int cmp_listed(const void *key, const void *elem)
{
    return strcmp(key, ((const gd_listed *)elem)->name);
}

/* Every job's object in one listing of the set's folder, with its stored
 * size: a missing or truncated object is found without reading it.  Appends
 * the bad ones to bad and returns how many; frees the names. */
static size_t list_objects(gd_repo *repo, const char *id, verify_job *jobs, size_t n,
                           gd_verify_bads *bad)
{
    gd_listed *v = NULL;
    size_t nv = 0, nbad = 0;
    gd_err e;
    gd_err_clear(&e);
    char *prefix = gd_repo_set_prefix(repo, id);
    int lrc = gd_storage_list_all(repo->st, prefix, &v, &nv, &e);
    if (lrc != 0) {
        add_bad(bad, prefix, e.msg);
        nbad++;
    }
    for (size_t i = 0; i < n; i++) {
        const gd_listed *hit = lrc ? NULL : bsearch(jobs[i].name, v, nv, sizeof *v, cmp_listed);
        char msg[160] = "";
        if (lrc == 0 && hit == NULL)
            snprintf(msg, sizeof msg, "missing from region %s", repo->st->name);
        else if (hit && hit->st.size != jobs[i].size)
            snprintf(msg, sizeof msg, "holds %llu bytes where its manifest records %llu",
                     (unsigned long long)hit->st.size, (unsigned long long)jobs[i].size);
        if (msg[0]) {
            add_bad(bad, jobs[i].label, msg);
            nbad++;
        }
        free(jobs[i].name);
    }
    free(prefix);
    gd_listed_free(v, nv);
    return nbad;
}

size_t gd_verify_set_chunks(gd_repo *repo, const char *id, const gd_manifest *mf,
                            const gd_verify_filter *want, bool read, const gd_cancel *stop,
                            gd_verify_bads *bad)
{
    size_t nj = 0, cap = 0;
    verify_job *jobs = NULL;
    chunk_jobs(repo, id, mf, want, &jobs, &nj, &cap);
    if (read)
        verify_objects(repo, jobs, nj, stop, bad);
    else
        list_objects(repo, id, jobs, nj, bad);
    free(jobs);
    return nj;
}

/* Reads every archived binlog segment back. */
static void verify_segments(gd_repo *repo, gd_verify_outcome *out)
{
    gd_segments segs = {0};
    gd_err e;
    gd_err_clear(&e);
    out->binlog = true;
    if (gd_repo_list_segments(repo, &segs, NULL, &e) != 0) {
        add_bad(&out->segs_bad, "binlog", e.msg);
        out->bad++;
        return;
    }
    size_t n = segs.n;
    verify_job *jobs = segment_jobs(segs.v, n);
    out->objects += n;
    out->segments = n;
    out->bad += verify_objects(repo, jobs, n, NULL, &out->segs_bad);
    free(jobs);
    gd_segments_free(&segs);
}

/* The schema object of a set, read once: decoded when it can be (that read
 * checks its hash and authentication too, and gives the CREATE TABLEs the
 * set check compares with: *schema); without the key of an encrypted set
 * its stored bytes are hashed with the chunks (a job). */
static void schema_check(gd_repo *repo, const char *id, const gd_manifest *mf, json_t **schema,
                         verify_job **jobs, size_t *nj, size_t *cap, gd_verify_bads *bad)
{
    const gd_mf_object *sch = &mf->schema;
    const char *sobj = sch->object;
    if (repo->raw && repo->encrypted) {
        job_add(jobs, nj, cap, gd_manifest_object_name(repo, id, sch), sch);
        return;
    }
    gd_err e;
    gd_err_clear(&e);
    char *sname = gd_manifest_object_name(repo, id, sch), *text = NULL;
    if (gd_obj_read_all(repo, sname, sch->sha256, GD_SCHEMA_MAX, &text, NULL, &e) != 0)
        add_bad(bad, sobj, e.msg);
    else if ((*schema = json_loads(text, 0, NULL)) == NULL)
        add_bad(bad, sobj, "not valid JSON");
    free(text);
    free(sname);
}

/* Every object of one set read back, then the set's own consistency
 * (repo/setcheck.h): the bad objects and tables into bad. */
static void verify_set(gd_repo *repo, const char *id, unsigned long long *checked,
                       gd_verify_bads *bad)
{
    gd_manifest *mf = NULL;
    json_t *schema = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_manifest_read(repo, id, &mf, &e) != 0) {
        add_bad(bad, "manifest", e.msg);
        return;
    }
    (*checked)++;
    size_t nj = 0, cap = 0;
    verify_job *jobs = NULL;
    schema_check(repo, id, mf, &schema, &jobs, &nj, &cap, bad);
    chunk_jobs(repo, id, mf, NULL, &jobs, &nj, &cap);
    *checked += nj - (repo->raw && repo->encrypted ? 1 : 0);
    verify_objects(repo, jobs, nj, NULL, bad);
    free(jobs);
    gd_set_problems problems = {0};
    gd_set_check(mf, schema, &problems);
    for (size_t k = 0; k < problems.n; k++) {
        char *what = gd_asprintf("table %s", problems.v[k].table);
        char *why =
            gd_asprintf("%s: restore refuses this set, take a new backup", problems.v[k].problem);
        add_bad(bad, what, why);
        free(what);
        free(why);
    }
    gd_set_problems_free(&problems);
    json_decref(schema);
    gd_manifest_free(mf);
}

int gd_command_verify(const gd_command_ctx *ctx, const char *instance, const char *region,
                      const char *set, gd_verify_outcome *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    gd_repo *repo = NULL;
    const gd_instance_cfg *ic = NULL;
    int rc = gd_command_instance(ctx->cfg, instance, &ic, err);
    /* Without a key, the stored bytes are checked against their SHA-256
     * (nothing is decrypted); with it, every object is decoded to its end. */
    if (rc == 0 && ic->key_file == NULL)
        rc = gd_command_open_repo_raw(ctx->cfg, ic, region, &repo, err);
    else if (rc == 0)
        rc = gd_command_open_repo(ctx->cfg, ic, region, false, &repo, err);
    char **ids = NULL;
    size_t n = 0;
    if (rc == 0 && set) {
        ids = gd_calloc(1, sizeof *ids);
        ids[0] = gd_strdup(set);
        n = 1;
    } else if (rc == 0) {
        rc = gd_repo_list_sets(repo, &ids, &n, err);
    }
    /* Nothing to verify is not "verified": an instance without a set has
     * nothing to restore from. */
    if (rc == 0 && n == 0)
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "instance %s in region %s has no backup set: nothing to verify or to "
                        "restore from; run 'geodr backup %s'",
                        instance, repo->st->name, instance);
    if (rc == 0) {
        out->region = gd_strdup(repo->st->name);
        out->sets = gd_calloc(n, sizeof *out->sets);
        for (size_t i = 0; i < n; i++, out->nsets++) {
            out->sets[i].id = gd_strdup(ids[i]);
            verify_set(repo, ids[i], &out->objects, &out->sets[i].bad);
            out->bad += out->sets[i].bad.n;
        }
        if (set == NULL)
            verify_segments(repo, out);
        out->hash_only = repo->raw && repo->encrypted;
        out->encrypted = repo->encrypted;
    }
    gd_strv_free(ids, n);
    gd_repo_close(repo);
    return rc;
}

void gd_verify_outcome_free(gd_verify_outcome *out)
{
    for (size_t i = 0; i < out->nsets; i++) {
        free(out->sets[i].id);
        gd_verify_bads_free(&out->sets[i].bad);
    }
    free(out->sets);
    gd_verify_bads_free(&out->segs_bad);
    free(out->region);
    memset(out, 0, sizeof *out);
}
