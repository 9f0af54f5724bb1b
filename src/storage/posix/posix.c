/* The posix driver: objects are regular files under a root directory.
 *
 * Atomicity comes from rename(): a writer fills ".<base>.tmp.<pid>.<random>"
 * in the object's directory, and commit fsyncs it, renames it over the final
 * name and fsyncs the directory.  Names starting with '.' are never valid
 * object names, so temp files can never be mistaken for objects and list()
 * skips them.  Directories are created on demand and pruned when they become
 * empty, so the tree mirrors the object names and nothing else.  The root
 * too is created by the first write, never by opening the region: reading
 * a region that does not exist finds nothing and creates nothing.
 *
 * No state is shared between calls except the immutable root, so different
 * objects can be used from several threads at once. */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define PX_READ_BUF ((size_t)256 * 1024)
#define PX_OPEN_ATTEMPTS 100

typedef struct px_storage {
    char *root; /* no trailing '/' (except "/" itself) */
} px_storage;

typedef struct px_writer {
    gd_writer w;
    gd_storage *s;
    char *name;
    char *path; /* final file */
    char *tmp;  /* temp file in the same directory */
    char *dir;
    int fd;
    int failed_errno; /* a write failed: the object can't be committed */
} px_writer;

typedef struct px_reader {
    gd_reader r;
    gd_storage *s;
    char *name;
    char *path;
    int fd;
    char *buf; /* allocated on the first small read */
    size_t pos, len;
    bool eof;
} px_reader;

static const gd_writer_ops px_writer_ops;
static const gd_reader_ops px_reader_ops;

static char *px_path(const gd_storage *s, const char *name)
{
    const px_storage *p = s->self;
    if (strcmp(p->root, "/") == 0)
        return gd_asprintf("/%s", name);
    return gd_asprintf("%s/%s", p->root, name);
}

/* "<what> object <name> in region <r> (<path>): <hint>: <strerror>" */
static int px_fail(gd_err *err, int e, const char *what, const gd_storage *s, const char *name,
                   const char *path)
{
    const char *hint = NULL;
    if (e == ENOSPC)
        hint = "disk full";
    else if (e == EDQUOT)
        hint = "disk quota exceeded";
    else if (e == EFBIG)
        hint = "file size limit reached";
    if (hint != NULL)
        return gd_err_sys(err, e, "%s object %s in region %s (%s): %s", what, name, s->name, path,
                          hint);
    return gd_err_sys(err, e, "%s object %s in region %s (%s)", what, name, s->name, path);
}

static int px_bad_name(gd_err *err, const gd_storage *s, const char *name)
{
    return gd_err_set(err, GD_E_INVALID,
                      "invalid object name '%.200s' for region %s: names are relative paths "
                      "without empty, '.'-leading or control-character components",
                      name, s->name);
}

/* fsync a directory so entries created or renamed in it are durable.
 * Returns 0 or an errno. */
static int px_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = 0;
    if (fsync(fd) != 0 && errno != EINVAL)
        e = errno;
    close(fd);
    return e;
}

/* mkdir -p with mode 0700; each directory created is made durable in its
 * parent.  Returns 0 or an errno. */
static int px_mkdir_p(const char *path)
{
    char *p = gd_strdup(path);
    size_t len = strlen(p);
    int e = 0;
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        if (p[i - 1] == '/')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) == 0) {
            char *slash = strrchr(p, '/');
            if (slash != NULL) {
                char *parent = slash == p ? gd_strdup("/") : gd_strndup(p, (size_t)(slash - p));
                e = px_fsync_dir(parent);
                free(parent);
            } else {
                e = px_fsync_dir(".");
            }
        } else if (errno != EEXIST) {
            e = errno;
        }
        p[i] = saved;
        if (e != 0)
            break;
    }
    free(p);
    return e;
}

static uint64_t px_random(void)
{
    static atomic_uint_fast64_t counter;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)gd_now_us() * 0x9E3779B97F4A7C15ull;
    return r ^ (uint64_t)atomic_fetch_add(&counter, 1);
}

/* ---- writer ---- */

static void px_writer_free(px_writer *pw)
{
    free(pw->name);
    free(pw->path);
    free(pw->tmp);
    free(pw->dir);
    free(pw);
}

static int px_write(gd_writer *w, const void *buf, size_t n, gd_err *err)
{
    px_writer *pw = w->self;
    if (pw->failed_errno != 0)
        return px_fail(err, pw->failed_errno, "cannot write (after an earlier failure)", pw->s,
                       pw->name, pw->tmp);
    const char *p = buf;
    while (n > 0) {
        ssize_t r = write(pw->fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            pw->failed_errno = errno;
            return px_fail(err, errno, "cannot write", pw->s, pw->name, pw->tmp);
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void px_abort(gd_writer *w)
{
    px_writer *pw = w->self;
    if (pw->fd >= 0)
        close(pw->fd);
    unlink(pw->tmp);
    px_writer_free(pw);
}

static int px_commit(gd_writer *w, gd_err *err)
{
    px_writer *pw = w->self;
    int rc = 0;
    if (pw->failed_errno != 0) {
        rc = px_fail(err, pw->failed_errno, "cannot commit (a write failed)", pw->s, pw->name,
                     pw->tmp);
        goto fail;
    }
    if (fsync(pw->fd) != 0) {
        rc = px_fail(err, errno, "cannot sync", pw->s, pw->name, pw->tmp);
        goto fail;
    }
    int fd = pw->fd;
    pw->fd = -1;
    if (close(fd) != 0) {
        rc = px_fail(err, errno, "cannot close", pw->s, pw->name, pw->tmp);
        goto fail;
    }
    if (rename(pw->tmp, pw->path) != 0) {
        rc = px_fail(err, errno, "cannot rename into place", pw->s, pw->name, pw->path);
        goto fail;
    }
    int e = px_fsync_dir(pw->dir);
    if (e != 0) {
        /* The object is in place but may not survive a crash: report it so
         * the caller does not treat it as durable. */
        rc = px_fail(err, e, "cannot sync the directory of", pw->s, pw->name, pw->dir);
    }
    px_writer_free(pw);
    return rc;

fail:
    px_abort(w);
    return rc;
}

static const gd_writer_ops px_writer_ops = {
    .write = px_write,
    .commit = px_commit,
    .abort = px_abort,
};

static int px_open_write(gd_storage *s, const char *name, gd_writer **out, gd_err *err)
{
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return px_bad_name(err, s, name);

    px_writer *pw = gd_calloc(1, sizeof *pw);
    int rc = 0;
    pw->fd = -1;
    pw->s = s;
    pw->name = gd_strdup(name);
    pw->path = px_path(s, name);
    const char *slash = strrchr(pw->path, '/');
    pw->dir = slash == pw->path ? gd_strdup("/") : gd_strndup(pw->path, (size_t)(slash - pw->path));
    const char *base = slash + 1;

    for (int attempt = 0;; attempt++) {
        free(pw->tmp);
        /* Long base names are shortened so the temp name fits NAME_MAX. */
        pw->tmp = gd_asprintf("%s/.%.200s.tmp.%ld.%016llx", pw->dir, base, (long)getpid(),
                              (unsigned long long)px_random());
        pw->fd = open(pw->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (pw->fd >= 0)
            break;
        int e = errno;
        if (attempt + 1 < PX_OPEN_ATTEMPTS && e == EEXIST)
            continue;
        /* Missing directory (new prefix, pruned by a concurrent remove of
         * the last object in it, or the root itself before the region's
         * first write): create it and try again. */
        if (attempt + 1 < PX_OPEN_ATTEMPTS && e == ENOENT) {
            int me = px_mkdir_p(pw->dir);
            if (me == 0 || me == ENOENT)
                continue; /* ENOENT: a parent was pruned meanwhile */
            e = me;
        }
        rc = px_fail(err, e, "cannot create", s, name, pw->tmp);
        goto fail;
    }

    pw->w.ops = &px_writer_ops;
    pw->w.self = pw;
    *out = &pw->w;
    return 0;

fail:
    px_writer_free(pw);
    return rc;
}

/* ---- reader ---- */

static ssize_t px_read(gd_reader *r, void *buf, size_t n, gd_err *err)
{
    px_reader *pr = r->self;
    char *dst = buf;
    size_t got = 0;
    while (got < n) {
        if (pr->pos < pr->len) {
            size_t c = pr->len - pr->pos;
            if (c > n - got)
                c = n - got;
            memcpy(dst + got, pr->buf + pr->pos, c);
            pr->pos += c;
            got += c;
            continue;
        }
        if (pr->eof)
            break;
        /* Big reads go straight to the caller's buffer; small ones are
         * served from our own so they don't cost a syscall each. */
        bool direct = n - got >= PX_READ_BUF;
        if (!direct && pr->buf == NULL)
            pr->buf = gd_malloc(PX_READ_BUF);
        ssize_t k = direct ? read(pr->fd, dst + got, n - got) : read(pr->fd, pr->buf, PX_READ_BUF);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return px_fail(err, errno, "cannot read", pr->s, pr->name, pr->path);
        }
        if (k == 0) {
            pr->eof = true;
            break;
        }
        if (direct) {
            got += (size_t)k;
        } else {
            pr->pos = 0;
            pr->len = (size_t)k;
        }
    }
    return (ssize_t)got;
}

static void px_close(gd_reader *r)
{
    px_reader *pr = r->self;
    if (pr->fd >= 0)
        close(pr->fd);
    free(pr->buf);
    free(pr->name);
    free(pr->path);
    free(pr);
}

static const gd_reader_ops px_reader_ops = {
    .read = px_read,
    .close = px_close,
};

static int px_not_found(gd_err *err, const gd_storage *s, const char *name)
{
    return gd_err_set(err, GD_E_NOTFOUND, "object %s not found in region %s", name, s->name);
}

static int px_open_read(gd_storage *s, const char *name, gd_reader **out, gd_err *err)
{
    *out = NULL;
    if (!gd_storage_name_ok(name))
        return px_bad_name(err, s, name);
    px_reader *pr = gd_calloc(1, sizeof *pr);
    int rc = 0;
    pr->r.ops = &px_reader_ops;
    pr->r.self = pr;
    pr->s = s;
    pr->name = gd_strdup(name);
    pr->path = px_path(s, name);
    pr->fd = open(pr->path, O_RDONLY | O_CLOEXEC);
    if (pr->fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = px_not_found(err, s, name);
        else
            rc = px_fail(err, errno, "cannot open", s, name, pr->path);
        goto fail;
    }
    struct stat st;
    if (fstat(pr->fd, &st) != 0) {
        rc = px_fail(err, errno, "cannot stat", s, name, pr->path);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = px_not_found(err, s, name);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = gd_err_set(err, GD_E_IO, "object %s in region %s (%s) is not a regular file", name,
                        s->name, pr->path);
        goto fail;
    }
    (void)posix_fadvise(pr->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = &pr->r;
    return 0;

fail:
    px_close(&pr->r);
    return rc;
}

/* ---- stat, list, remove ---- */

static void px_fill_stat(const struct stat *st, gd_stat *out)
{
    out->size = (uint64_t)st->st_size;
    out->mtime_us = (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
}

static int px_stat(gd_storage *s, const char *name, gd_stat *out, gd_err *err)
{
    if (!gd_storage_name_ok(name))
        return px_bad_name(err, s, name);
    char *path = px_path(s, name);
    int rc = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = px_not_found(err, s, name);
        else
            rc = px_fail(err, errno, "cannot stat", s, name, path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = px_not_found(err, s, name);
        goto out;
    }
    px_fill_stat(&st, out);
out:
    free(path);
    return rc;
}

typedef struct px_list {
    gd_listed *v;
    size_t n, cap;
    const char *prefix;
    size_t prefix_len;
    int err_errno;
    char *err_path;
} px_list;

/* rel is the directory's path relative to root, "" or ending in '/'. */
static void px_walk(int dirfd, gd_buf *rel, px_list *l)
{
    DIR *d = fdopendir(dirfd);
    if (d == NULL) {
        l->err_errno = errno;
        l->err_path = gd_strdup(rel->data);
        close(dirfd);
        return;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0 && l->err_errno == 0) {
                l->err_errno = errno;
                l->err_path = gd_strdup(rel->data);
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue; /* ".", "..", temp files */
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, 0) != 0)
            continue; /* removed meanwhile, or a dangling link */
        size_t keep = rel->len;
        if (gd_buf_append(rel, de->d_name, strlen(de->d_name)) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            gd_buf_append(rel, "/", 1);
            size_t m = rel->len < l->prefix_len ? rel->len : l->prefix_len;
            if (strncmp(rel->data, l->prefix, m) == 0) {
                int sub =
                    openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) {
                    px_walk(sub, rel, l);
                } else if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR &&
                           l->err_errno == 0) {
                    l->err_errno = errno;
                    l->err_path = gd_strdup(rel->data);
                }
            }
        } else if (S_ISREG(st.st_mode) && strncmp(rel->data, l->prefix, l->prefix_len) == 0) {
            if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 64;
                l->v = gd_realloc(l->v, l->cap * sizeof l->v[0]);
            }
            l->v[l->n].name = gd_strndup(rel->data, rel->len);
            px_fill_stat(&st, &l->v[l->n].st);
            l->n++;
        }
        rel->len = keep;
        rel->data[keep] = '\0';
        if (l->err_errno != 0)
            break;
    }
    closedir(d);
}

static int px_list_fn(gd_storage *s, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err)
{
    const px_storage *p = s->self;
    px_list l = {0};
    gd_buf rel;
    gd_buf_init(&rel, 0);
    char *start = NULL;
    int rc = 0;

    if (prefix == NULL)
        prefix = "";
    if (prefix[0] != '\0') {
        /* A valid prefix is one that a valid name can extend. */
        char *probe = gd_asprintf("%sx", prefix);
        bool ok = gd_storage_name_ok(probe);
        free(probe);
        if (!ok) {
            rc = gd_err_set(err, GD_E_INVALID, "invalid prefix '%.200s' for listing region %s",
                            prefix, s->name);
            goto out;
        }
    }
    l.prefix = prefix;
    l.prefix_len = strlen(prefix);

    /* Start at the deepest directory the prefix names completely. */
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
    gd_buf_append(&rel, prefix, dlen);
    if (rel.data == NULL)
        gd_buf_append(&rel, "", 0);
    start = dlen ? px_path(s, rel.data) : gd_strdup(p->root);
    int fd = open(start, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            goto out; /* nothing under this prefix */
        rc = gd_err_sys(err, errno, "cannot list objects under '%s' in region %s (%s)", prefix,
                        s->name, start);
        goto out;
    }
    px_walk(fd, &rel, &l);
    if (l.err_errno != 0) {
        rc = gd_err_sys(err, l.err_errno, "cannot list objects under '%s' in region %s (%s/%s)",
                        prefix, s->name, p->root, l.err_path);
        goto out;
    }
    rc = gd_storage_list_emit(l.v, l.n, fn, ctx);
    l.v = NULL;
    l.n = 0;

out:
    gd_listed_free(l.v, l.n);
    free(l.err_path);
    free(start);
    gd_buf_free(&rel);
    return rc;
}

static int px_remove(gd_storage *s, const char *name, gd_err *err)
{
    if (!gd_storage_name_ok(name))
        return px_bad_name(err, s, name);
    const px_storage *p = s->self;
    char *path = px_path(s, name);
    int rc = 0;
    if (unlink(path) != 0) {
        if (errno == EISDIR || errno == ENOTDIR)
            goto out; /* not an object: nothing to remove */
        if (errno != ENOENT) {
            rc = px_fail(err, errno, "cannot remove", s, name, path);
            goto out;
        }
    }
    /* Prune directories left empty, up to (not including) the root.  rmdir
     * fails on a non-empty directory, which ends the walk; a concurrent
     * writer recreates what it needs (see px_open_write). */
    size_t root_len = strlen(p->root);
    for (;;) {
        char *sl = strrchr(path, '/');
        if (sl == NULL || (size_t)(sl - path) <= root_len)
            break;
        *sl = '\0';
        if (rmdir(path) != 0)
            break;
    }
out:
    free(path);
    return rc;
}

static void px_free(gd_storage *s)
{
    px_storage *p = s->self;
    if (p == NULL)
        return;
    free(p->root);
    free(p);
    s->self = NULL;
}

static const gd_storage_ops px_ops = {
    .type = "posix",
    .open_read = px_open_read,
    .open_write = px_open_write,
    .stat = px_stat,
    .list = px_list_fn,
    .remove = px_remove,
    .free = px_free,
};

int gd_storage_posix_open(const char *region, const char *root, gd_storage **out, gd_err *err)
{
    *out = NULL;
    if (root == NULL || root[0] == '\0')
        return gd_err_set(err, GD_E_INVALID, "region %s: empty path for a posix region", region);
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
        len--;
    char *r = gd_strndup(root, len);
    int rc = 0;
    /* Nothing is created here: a read of a region that does not exist
     * (info on a lost home region) finds nothing and leaves no trace; the
     * first write creates the root (px_open_write). */
    struct stat st;
    if (stat(r, &st) != 0) {
        if (errno != ENOENT) {
            rc = gd_err_sys(err, errno, "region %s: cannot use %s", region, r);
            goto fail;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        rc = gd_err_set(err, GD_E_IO, "region %s: %s exists but is not a directory", region, r);
        goto fail;
    }

    px_storage *p = gd_calloc(1, sizeof *p);
    p->root = r;
    gd_storage *s = gd_calloc(1, sizeof *s);
    s->ops = &px_ops;
    s->name = gd_strdup(region);
    s->self = p;
    *out = s;
    return 0;

fail:
    free(r);
    return rc;
}
