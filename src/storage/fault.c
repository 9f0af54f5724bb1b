/* The fault driver (tests only): wraps another storage, counts its calls per
 * kind and fails the Nth call of a chosen kind, the way SQLite's test VFS
 * (src/test_vfs.c) fails the Nth I/O.  docs/testing.md describes the
 * GEODR_FAULT variable and how tests/integration/faults.sh loops over every
 * call index.
 *
 * An injected failure happens before the wrapped driver is called, so it
 * keeps the storage contract: a failed open, stat, list or remove did
 * nothing; a failed write poisons its writer (the commit then fails and
 * aborts the wrapped writer, as the posix driver does after a short write);
 * a failed commit aborts the wrapped writer, so nothing becomes visible.
 * Except with "lost": then a failed commit or remove is carried out and only
 * its reply is lost, as when a network driver's connection drops after the
 * store acted (the one case where a failed commit leaves the object
 * visible; callers must cope with it on S3).
 *
 * Counters are atomics in the gd_fault plan, shared by every storage it
 * wraps, so "the 7th commit" means the 7th of the process whatever thread or
 * region made it (restricted to one region by region=NAME in the
 * environment hook). */
#include "storage/storage.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

enum { FK_N = GD_FAULT_KINDS };

static const char *const kind_names[FK_N] = {
    [GD_FAULT_OPEN_READ] = "open_read",
    [GD_FAULT_READ] = "read",
    [GD_FAULT_OPEN_WRITE] = "open_write",
    [GD_FAULT_WRITE] = "write",
    [GD_FAULT_COMMIT] = "commit",
    [GD_FAULT_STAT] = "stat",
    [GD_FAULT_LIST] = "list",
    [GD_FAULT_REMOVE] = "remove",
};

struct gd_fault {
    uint64_t fail_at[FK_N]; /* 1-based call index to fail, 0: never */
    bool persist;           /* fail every call of the kind from fail_at on */
    int code;               /* GD_E_NET or GD_E_IO */
    char *region;           /* environment hook: wrap only this region */
    bool lost;              /* a failed commit or remove is done, only its reply is lost */
    bool trace;             /* print every call to stderr */
    bool report;            /* environment hook: print counts at exit */
    char *report_path;      /* ... to this file instead of stderr */
    atomic_uint_fast64_t calls[FK_N];
    atomic_uint_fast64_t fired;
};

typedef struct ft_storage {
    gd_storage *inner;
    gd_fault *f;
} ft_storage;

/* A wrapped reader or writer. */
typedef struct ft_stream {
    union {
        gd_reader r;
        gd_writer w;
    } outer; /* what the caller holds */
    union {
        gd_reader *r;
        gd_writer *w;
    } inner;
    gd_storage *s;
    char *name;
    bool failed; /* writer: an injected write failure; commit must fail too */
} ft_stream;

/* ---- the plan ---- */

const char *gd_fault_kind_name(gd_fault_kind k)
{
    return (unsigned)k < FK_N ? kind_names[k] : "?";
}

static int bad_spec(gd_err *err, const char *spec, const char *tok)
{
    return gd_err_set(err, GD_E_CONFIG,
                      "GEODR_FAULT '%.200s': cannot use '%.100s' (want KIND=N with KIND one of "
                      "open_read, read, open_write, write, commit, stat, list, remove; or "
                      "error=net|io, persist, lost, trace, region=NAME, count, count=FILE)",
                      spec, tok);
}

static int parse_token(gd_fault *f, const char *spec, char *tok, gd_err *err)
{
    char *eq = strchr(tok, '=');
    char *val = eq ? eq + 1 : NULL;
    if (eq)
        *eq = '\0';
    if (strcmp(tok, "persist") == 0 && val == NULL) {
        f->persist = true;
        return 0;
    }
    if (strcmp(tok, "lost") == 0 && val == NULL) {
        f->lost = true;
        return 0;
    }
    if (strcmp(tok, "trace") == 0 && val == NULL) {
        f->trace = true;
        return 0;
    }
    if (strcmp(tok, "count") == 0) {
        f->report = true;
        if (val != NULL && val[0] != '\0')
            f->report_path = gd_strdup(val);
        return 0;
    }
    if (val == NULL || val[0] == '\0')
        return bad_spec(err, spec, tok);
    if (strcmp(tok, "region") == 0) {
        free(f->region);
        f->region = gd_strdup(val);
        return 0;
    }
    if (strcmp(tok, "error") == 0) {
        if (strcmp(val, "net") != 0 && strcmp(val, "io") != 0)
            return bad_spec(err, spec, val);
        f->code = strcmp(val, "net") == 0 ? GD_E_NET : GD_E_IO;
        return 0;
    }
    for (int k = 0; k < FK_N; k++) {
        if (strcmp(tok, kind_names[k]) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(val, &end, 10);
        if (errno != 0 || *end != '\0' || n == 0 || val[0] == '-')
            return bad_spec(err, spec, val);
        f->fail_at[k] = n;
        return 0;
    }
    return bad_spec(err, spec, tok);
}

int gd_fault_new(const char *spec, gd_fault **out, gd_err *err)
{
    gd_fault *f = gd_calloc(1, sizeof *f);
    f->code = GD_E_NET;
    char *copy = gd_strdup(spec ? spec : "");
    int rc = 0;
    for (char *p = copy; rc == 0 && p != NULL;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (p[0] != '\0')
            rc = parse_token(f, spec, p, err);
        p = comma ? comma + 1 : NULL;
    }
    free(copy);
    if (rc != 0) {
        gd_fault_free(f);
        f = NULL;
    }
    *out = f;
    return rc;
}

void gd_fault_free(gd_fault *f)
{
    if (f == NULL)
        return;
    free(f->region);
    free(f->report_path);
    free(f);
}

uint64_t gd_fault_calls(const gd_fault *f, gd_fault_kind k)
{
    return (unsigned)k < FK_N ? atomic_load(&f->calls[k]) : 0;
}

uint64_t gd_fault_fired(const gd_fault *f)
{
    return atomic_load(&f->fired);
}

int gd_fault_report(const gd_fault *f, FILE *out)
{
    for (int k = 0; k < FK_N; k++)
        fprintf(out, "%s %llu\n", kind_names[k], (unsigned long long)gd_fault_calls(f, k));
    fprintf(out, "fired %llu\n", (unsigned long long)gd_fault_fired(f));
    return fflush(out) == 0 ? 0 : GD_E_IO;
}

/* Counts a call of kind k on s; returns 0, or the injected error. */
static int tick(gd_storage *s, gd_fault_kind k, const char *name, gd_err *err)
{
    ft_storage *fs = s->self;
    gd_fault *f = fs->f;
    /* The caller sets s->cancel after open; the first call hands it on
     * (before any other thread can use s) so network drivers see it. */
    if (fs->inner->cancel != s->cancel)
        fs->inner->cancel = s->cancel;
    uint64_t n = atomic_fetch_add(&f->calls[k], 1) + 1;
    uint64_t at = f->fail_at[k];
    if (f->trace)
        fprintf(stderr, "geodr: GEODR_FAULT: %s %llu %s in region %s\n", kind_names[k],
                (unsigned long long)n, name ? name : "-", s->name);
    if (at == 0 || n < at || (n > at && !f->persist))
        return 0;
    atomic_fetch_add(&f->fired, 1);
    char msg[600];
    snprintf(msg, sizeof msg, "injected fault (GEODR_FAULT): %s call %llu failed for object %s",
             kind_names[k], (unsigned long long)n, name ? name : "-");
    if (f->code == GD_E_IO)
        return gd_err_sys(err, EIO, "%s in region %s", msg, s->name);
    return gd_err_set(err, f->code, "%s in region %s", msg, s->name);
}

static gd_fault *fs_plan(gd_storage *s)
{
    return ((ft_storage *)s->self)->f;
}

static gd_storage *fs_inner(gd_storage *s)
{
    return ((ft_storage *)s->self)->inner;
}

/* ---- readers and writers ---- */

static void ft_stream_free(ft_stream *fw)
{
    free(fw->name);
    free(fw);
}

/* Counts the open of kind k; on success *st is a new stream for name whose
 * inner reader or writer the caller sets. */
static int ft_stream_open(gd_storage *s, gd_fault_kind k, const char *name, ft_stream **st,
                          gd_err *err)
{
    *st = NULL;
    int rc = tick(s, k, name, err);
    if (rc != 0)
        return rc;
    *st = gd_calloc(1, sizeof **st);
    (*st)->s = s;
    (*st)->name = gd_strdup(name);
    return 0;
}

static int ft_write(gd_writer *w, const void *buf, size_t n, gd_err *err)
{
    ft_stream *fw = w->self;
    int rc = tick(fw->s, GD_FAULT_WRITE, fw->name, err);
    if (rc != 0) {
        fw->failed = true;
        return rc;
    }
    return gd_writer_write(fw->inner.w, buf, n, err);
}

static int ft_commit(gd_writer *w, gd_err *err)
{
    ft_stream *fw = w->self;
    int rc = tick(fw->s, GD_FAULT_COMMIT, fw->name, err);
    if (rc == 0 && fw->failed)
        rc = gd_err_set(err, GD_E_IO, "cannot commit object %s in region %s: a write failed",
                        fw->name, fw->s->name);
    if (rc == 0)
        rc = gd_writer_commit(fw->inner.w, err);
    else if (fs_plan(fw->s)->lost && !fw->failed)
        gd_writer_commit(fw->inner.w, NULL); /* done, but the caller hears it failed */
    else
        gd_writer_abort(fw->inner.w);
    ft_stream_free(fw);
    return rc;
}

static void ft_abort(gd_writer *w)
{
    ft_stream *fw = w->self;
    gd_writer_abort(fw->inner.w);
    ft_stream_free(fw);
}

static const gd_writer_ops ft_writer_ops = {
    .write = ft_write,
    .commit = ft_commit,
    .abort = ft_abort,
};

static int ft_open_write(gd_storage *s, const char *name, gd_writer **out, gd_err *err)
{
    ft_stream *fw = NULL;
    *out = NULL;
    int rc = ft_stream_open(s, GD_FAULT_OPEN_WRITE, name, &fw, err);
    if (rc == 0 && (rc = gd_storage_open_write(fs_inner(s), name, &fw->inner.w, err)) != 0)
        ft_stream_free(fw);
    if (rc != 0)
        return rc;
    fw->outer.w = (gd_writer){.ops = &ft_writer_ops, .self = fw};
    *out = &fw->outer.w;
    return 0;
}

static ssize_t ft_read(gd_reader *r, void *buf, size_t n, gd_err *err)
{
    ft_stream *fr = r->self;
    int rc = tick(fr->s, GD_FAULT_READ, fr->name, err);
    if (rc != 0)
        return rc;
    return gd_reader_read(fr->inner.r, buf, n, err);
}

static void ft_close(gd_reader *r)
{
    ft_stream *fr = r->self;
    gd_reader_close(fr->inner.r);
    ft_stream_free(fr);
}

static const gd_reader_ops ft_reader_ops = {
    .read = ft_read,
    .close = ft_close,
};

static int ft_open_read(gd_storage *s, const char *name, gd_reader **out, gd_err *err)
{
    ft_stream *fr = NULL;
    *out = NULL;
    int rc = ft_stream_open(s, GD_FAULT_OPEN_READ, name, &fr, err);
    if (rc == 0 && (rc = gd_storage_open_read(fs_inner(s), name, &fr->inner.r, err)) != 0)
        ft_stream_free(fr);
    if (rc != 0)
        return rc;
    fr->outer.r = (gd_reader){.ops = &ft_reader_ops, .self = fr};
    *out = &fr->outer.r;
    return 0;
}

/* ---- the rest of the storage ---- */

static int ft_stat(gd_storage *s, const char *name, gd_stat *out, gd_err *err)
{
    ft_storage *fs = s->self;
    int rc = tick(s, GD_FAULT_STAT, name, err);
    return rc != 0 ? rc : gd_storage_stat(fs->inner, name, out, err);
}

static int ft_list(gd_storage *s, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err)
{
    ft_storage *fs = s->self;
    int rc = tick(s, GD_FAULT_LIST, prefix, err);
    return rc != 0 ? rc : gd_storage_list(fs->inner, prefix, fn, ctx, err);
}

static int ft_remove(gd_storage *s, const char *name, gd_err *err)
{
    ft_storage *fs = s->self;
    int rc = tick(s, GD_FAULT_REMOVE, name, err);
    if (rc != 0 && fs->f->lost)
        gd_storage_remove(fs->inner, name, NULL); /* done, but the caller hears it failed */
    return rc != 0 ? rc : gd_storage_remove(fs->inner, name, err);
}

static void ft_free(gd_storage *s)
{
    ft_storage *fs = s->self;
    if (fs == NULL)
        return;
    gd_storage_free(fs->inner);
    free(fs);
    s->self = NULL;
}

static const gd_storage_ops ft_ops = {
    .type = "fault",
    .open_read = ft_open_read,
    .open_write = ft_open_write,
    .stat = ft_stat,
    .list = ft_list,
    .remove = ft_remove,
    .free = ft_free,
};

gd_storage *gd_storage_fault_open(gd_storage *inner, gd_fault *f)
{
    ft_storage *fs = gd_calloc(1, sizeof *fs);
    fs->inner = inner;
    fs->f = f;
    gd_storage *s = gd_calloc(1, sizeof *s);
    s->ops = &ft_ops;
    s->name = gd_strdup(inner->name);
    s->self = fs;
    s->cancel = inner->cancel;
    return s;
}

/* ---- the environment hook ---- */

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static gd_fault *env_plan; /* lives until exit: storages may outlive main's frees */
static gd_err env_err;

static void env_report(void)
{
    FILE *out = stderr;
    if (env_plan->report_path != NULL && (out = fopen(env_plan->report_path, "we")) == NULL) {
        fprintf(stderr, "geodr: GEODR_FAULT: cannot write %s: %s\n", env_plan->report_path,
                strerror(errno));
        return;
    }
    gd_fault_report(env_plan, out);
    if (out != stderr)
        fclose(out);
}

static void env_init(void)
{
    gd_err_clear(&env_err);
    const char *spec = getenv("GEODR_FAULT");
    if (spec == NULL || spec[0] == '\0')
        return;
    if (gd_fault_new(spec, &env_plan, &env_err) == 0 && env_plan->report)
        atexit(env_report);
}

int gd_storage_fault_from_env(gd_storage **s, gd_err *err)
{
    pthread_once(&env_once, env_init);
    if (env_err.code != GD_OK) {
        gd_storage_free(*s);
        *s = NULL;
        return gd_err_set(err, env_err.code, "%s", env_err.msg);
    }
    if (env_plan == NULL || (env_plan->region != NULL && strcmp(env_plan->region, (*s)->name) != 0))
        return 0;
    *s = gd_storage_fault_open(*s, env_plan);
    return 0;
}
