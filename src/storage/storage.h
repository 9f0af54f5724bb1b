/* Storage: where a region keeps its objects.  One interface, several drivers
 * (posix now, s3 later).  Object names are relative paths with '/' separators
 * ("shop/backup/20261123T101500Z/manifest"); no "..", no leading '/'.
 *
 * Contracts every driver keeps:
 *  - A written object becomes visible under its name only when
 *    gd_writer_commit() succeeded, and then completely and durably (posix:
 *    temp file, fsync, rename, fsync dir; s3: single PUT or completed
 *    multipart).  gd_writer_abort() (or a crash) leaves nothing visible.
 *  - Commit over an existing name replaces it atomically.
 *  - Reads return short counts only at the end of the object.
 *  - Errors: GD_E_NOTFOUND for a missing object, GD_E_NET (retryable) for
 *    transient failures, GD_E_IO otherwise; messages name the object and
 *    the region.
 * A gd_storage may be used from several threads at once; a reader or writer
 * belongs to one thread. */
#ifndef GD_STORAGE_STORAGE_H
#define GD_STORAGE_STORAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/cancel.h"
#include "common/error.h"

typedef struct gd_storage gd_storage;
typedef struct gd_reader gd_reader;
typedef struct gd_writer gd_writer;

typedef struct gd_stat {
    uint64_t size;
    int64_t mtime_us;
} gd_stat;

/* Called for every object under a prefix (recursively).  name is the full
 * object name.  Return non-zero to stop (that value is returned by list). */
typedef int (*gd_list_fn)(void *ctx, const char *name, const gd_stat *st);

typedef struct gd_storage_ops {
    const char *type;
    int (*open_read)(gd_storage *s, const char *name, gd_reader **out, gd_err *err);
    int (*open_write)(gd_storage *s, const char *name, gd_writer **out, gd_err *err);
    int (*stat)(gd_storage *s, const char *name, gd_stat *out, gd_err *err);
    int (*list)(gd_storage *s, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err);
    /* Removing a missing object succeeds (idempotent). */
    int (*remove)(gd_storage *s, const char *name, gd_err *err);
    /* Releases the driver's self only; gd_storage_free() then frees name
     * and the gd_storage itself. */
    void (*free)(gd_storage *s);
} gd_storage_ops;

typedef struct gd_reader_ops {
    ssize_t (*read)(gd_reader *r, void *buf, size_t n, gd_err *err);
    void (*close)(gd_reader *r);
} gd_reader_ops;

typedef struct gd_writer_ops {
    int (*write)(gd_writer *w, const void *buf, size_t n, gd_err *err);
    int (*commit)(gd_writer *w, gd_err *err); /* frees w, success or not */
    void (*abort)(gd_writer *w);              /* frees w */
} gd_writer_ops;

struct gd_storage {
    const gd_storage_ops *ops;
    char *name; /* region name, for messages */
    void *self;
    /* The owner's token (may be NULL; common/cancel.h): once it is set, a
     * network driver stops retrying and fails its calls with GD_E_CANCEL,
     * so an owner that must stop now (the archiver's shippers) does not
     * wait out a retry budget. */
    const gd_cancel *cancel;
};
struct gd_reader {
    const gd_reader_ops *ops;
    void *self;
};
struct gd_writer {
    const gd_writer_ops *ops;
    void *self;
};

static inline int gd_storage_open_read(gd_storage *s, const char *name, gd_reader **out,
                                       gd_err *err)
{
    return s->ops->open_read(s, name, out, err);
}
static inline int gd_storage_open_write(gd_storage *s, const char *name, gd_writer **out,
                                        gd_err *err)
{
    return s->ops->open_write(s, name, out, err);
}
static inline int gd_storage_stat(gd_storage *s, const char *name, gd_stat *out, gd_err *err)
{
    return s->ops->stat(s, name, out, err);
}
static inline int gd_storage_list(gd_storage *s, const char *prefix, gd_list_fn fn, void *ctx,
                                  gd_err *err)
{
    return s->ops->list(s, prefix, fn, ctx, err);
}
static inline int gd_storage_remove(gd_storage *s, const char *name, gd_err *err)
{
    return s->ops->remove(s, name, err);
}
void gd_storage_free(gd_storage *s); /* NULL allowed */

static inline ssize_t gd_reader_read(gd_reader *r, void *buf, size_t n, gd_err *err)
{
    return r->ops->read(r, buf, n, err);
}
static inline void gd_reader_close(gd_reader *r)
{
    if (r)
        r->ops->close(r);
}
static inline int gd_writer_write(gd_writer *w, const void *buf, size_t n, gd_err *err)
{
    return w->ops->write(w, buf, n, err);
}
static inline int gd_writer_commit(gd_writer *w, gd_err *err)
{
    return w->ops->commit(w, err);
}
static inline void gd_writer_abort(gd_writer *w)
{
    if (w)
        w->ops->abort(w);
}

/* Whole small objects (manifests, descriptors). */
int gd_storage_get_all(gd_storage *s, const char *name, size_t max, char **out, size_t *len,
                       gd_err *err);
int gd_storage_put_all(gd_storage *s, const char *name, const void *p, size_t n, gd_err *err);
/* What a driver's list gathers before it calls back: every object under the
 * prefix with its stat.  Drivers gather all, then hand them to
 * gd_storage_list_emit, which keeps the contract's name order. */
typedef struct gd_listed {
    char *name; /* owned */
    gd_stat st;
} gd_listed;
/* Sorts v by name and calls fn for each, once per name (a name listed
 * twice, as an S3 key repeated across pages, is given once); returns fn's
 * first nonzero value.  Frees every name and v itself. */
int gd_storage_list_emit(gd_listed *v, size_t n, gd_list_fn fn, void *ctx);
/* Frees what a listing gathered when it stops before emitting. */
void gd_listed_free(gd_listed *v, size_t n);
/* Every object under prefix with its stat, in name order, into *out (free
 * with gd_listed_free): for callers that need the whole listing at hand. */
int gd_storage_list_all(gd_storage *s, const char *prefix, gd_listed **out, size_t *n, gd_err *err);

/* Validates an object name (see above). */
bool gd_storage_name_ok(const char *name);

/* Drivers. */
/* posix: objects are files under root.  Opening creates nothing: a missing
 * root reads as an empty region (not found, empty listings), and the first
 * write creates it (mode 0700, with any missing parent).  Fails when root
 * exists but is not a directory, or cannot be looked up (EACCES, ENOTDIR). */
int gd_storage_posix_open(const char *region, const char *root, gd_storage **out, gd_err *err);

/* fault (tests only; docs/testing.md): wraps another storage, counts its
 * calls per kind and fails the Nth call of a kind with GD_E_NET (or GD_E_IO)
 * before the wrapped driver sees it, keeping the contracts above (a failed
 * commit or a commit after a failed write leaves nothing visible).  A plan
 * (gd_fault) holds what to fail and the counters; it is thread-safe, may be
 * shared by several storages and must outlive them.  spec: comma-separated
 *   KIND=N     fail the Nth call of KIND (open_read read open_write write
 *              commit stat list remove; N from 1)
 *   error=net|io   GD_E_NET, retryable (the default), or GD_E_IO
 *   persist    fail every call of KIND from the Nth on
 *   lost       a failed commit or remove is carried out and only its reply
 *              is lost (as when a connection drops after S3 acted): the
 *              object is visible, or gone, though the call failed
 *   trace      print every call to stderr
 *   region=NAME, count[=FILE]   used by gd_storage_fault_from_env only */
typedef enum gd_fault_kind {
    GD_FAULT_OPEN_READ,
    GD_FAULT_READ,
    GD_FAULT_OPEN_WRITE,
    GD_FAULT_WRITE,
    GD_FAULT_COMMIT,
    GD_FAULT_STAT,
    GD_FAULT_LIST,
    GD_FAULT_REMOVE,
    GD_FAULT_KINDS
} gd_fault_kind;
typedef struct gd_fault gd_fault;
int gd_fault_new(const char *spec, gd_fault **out, gd_err *err); /* GD_E_CONFIG on a bad spec */
void gd_fault_free(gd_fault *f);                                 /* NULL allowed */
uint64_t gd_fault_calls(const gd_fault *f, gd_fault_kind k);     /* calls made, failed included */
uint64_t gd_fault_fired(const gd_fault *f);                      /* failures injected */
const char *gd_fault_kind_name(gd_fault_kind k);
/* Writes "KIND N" lines for every kind, then "fired N". */
int gd_fault_report(const gd_fault *f, FILE *out);
/* Takes inner (freed with the result); never fails. */
gd_storage *gd_storage_fault_open(gd_storage *inner, gd_fault *f);
/* The hook where regions' storages are opened: when the environment variable
 * GEODR_FAULT holds a spec (read once per process), replaces *s by a fault
 * storage wrapping it (unless region=NAME names another region), with one
 * plan for the whole process; count[=FILE] prints the counts (stderr or
 * FILE) at exit.  A bad spec frees *s, sets it NULL and returns GD_E_CONFIG.
 * Without the variable it does nothing. */
int gd_storage_fault_from_env(gd_storage **s, gd_err *err);

#endif
