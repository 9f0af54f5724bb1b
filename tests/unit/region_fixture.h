/* A posix region in a temp dir for unit tests of what reads sets and
 * segment records (the planner, retention): sets and segment records are
 * written through the repository's own writer (gd_manifest_write,
 * gd_segment_write), so every reader gets past their trailers and checks,
 * as with records a backup or the archiver wrote.  No server is involved:
 * the objects are placeholders, never decoded.
 *
 * Times are Unix seconds (FX_T0 + ...); GTID positions are "0-1-<n>". */
#ifndef GD_TEST_REGION_FIXTURE_H
#define GD_TEST_REGION_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "io/key.h"
#include "manifest_fixture.h"
#include "repo/repo.h"
#include "repo/segment.h"
#include "storage/storage.h"

#define FX_T0 1761955200LL /* 2025-11-01 00:00:00 UTC */
#define FX_DAY 86400LL

typedef struct fx_region {
    char dir[64];
    gd_repo *r;
} fx_region;

static inline void fx_rm_rf(const char *dir)
{
    char *cmd = gd_asprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    free(cmd);
}

/* A new region holding instance "shop" (unencrypted); NULL on failure. */
static inline fx_region *fx_open(void)
{
    fx_region *f = gd_calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/gd_region_fx_XXXXXX");
    gd_storage *st = NULL;
    if (mkdtemp(f->dir) == NULL || gd_storage_posix_open("home", f->dir, &st, NULL) != 0 ||
        gd_repo_open(st, "shop", NULL, true, 0, &f->r, NULL) != 0) {
        free(f);
        return NULL;
    }
    return f;
}

static inline void fx_close(fx_region *f)
{
    if (f == NULL)
        return;
    gd_repo_close(f->r);
    fx_rm_rf(f->dir);
    free(f);
}

static inline bool fx_exists(fx_region *f, const char *name)
{
    char *path = gd_asprintf("%s/%s", f->dir, name);
    bool ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* Stores placeholder bytes under name (an object a record names). */
static inline int fx_put_object(fx_region *f, const char *name)
{
    return gd_storage_put_all(f->r->st, name, "x", 1, NULL);
}

/* Commits set id, ended at end_s, at GTID position gtid, with its
 * schema object and one chunk object. */
static inline int fx_add_set(fx_region *f, const char *id, long long end_s, const char *gtid)
{
    gd_manifest *mf = fx_manifest(id, end_s, gtid, "schema");
    char *schema = gd_repo_object_name(f->r, id, "schema.json.zst");
    char *data = gd_repo_object_name(f->r, id, "data/0-0.tsv.zst");
    int rc = fx_put_object(f, schema);
    if (rc == 0)
        rc = fx_put_object(f, data);
    if (rc == 0)
        rc = gd_manifest_write(f->r, id, mf, NULL);
    free(schema);
    free(data);
    gd_manifest_free(mf);
    return rc;
}

/* The record name of segment first..seq ("<seq>.segment", or
 * "<first>-<seq>.segment" for a merged one); caller frees. */
static inline char *fx_segment_record(fx_region *f, long long first, long long seq)
{
    if (first == seq)
        return gd_repo_segment_name(f->r, (unsigned long long)seq, ".segment");
    return gd_asprintf("%s/binlog/%012lld-%012lld.segment", f->r->instance, first, seq);
}

/* Commits segment first..seq (first == seq: an ordinary one, else a merged
 * one) holding the transactions after prev up to pos, committed between
 * t1 and t2. */
static inline int fx_add_segment_range(fx_region *f, long long first, long long seq,
                                       const char *prev, const char *pos, long long t1,
                                       long long t2)
{
    char *rname = fx_segment_record(f, first, seq);
    char *ext = first == seq ? gd_asprintf(".binlog%s", gd_repo_suffix(f->r))
                             : gd_asprintf("-%012lld.binlog%s", seq, gd_repo_suffix(f->r));
    gd_segment s = {.first_seq = (unsigned long long)first,
                    .seq = (unsigned long long)seq,
                    .record = rname,
                    .object = gd_repo_segment_name(f->r, (unsigned long long)first, ext),
                    .first_time_s = t1,
                    .last_time_s = t2,
                    .transactions = 1,
                    .raw_size = 1,
                    .size = 1};
    free(ext);
    gd_sha256_hex("x", 1, s.sha256); /* fx_put_object's bytes */
    gd_gtid_pos p0, p1;
    if (gd_gtid_pos_parse(prev, &p0, NULL) != 0 || gd_gtid_pos_parse(pos, &p1, NULL) != 0) {
        gd_segment_free(&s);
        return -1;
    }
    gd_segment_set_pos(&s, &p0, &p1);
    int rc = fx_put_object(f, s.object);
    if (rc == 0)
        rc = gd_segment_write(f->r, &s, NULL);
    gd_segment_free(&s);
    return rc;
}

static inline int fx_add_segment(fx_region *f, long long seq, const char *prev, const char *pos,
                                 long long t1, long long t2)
{
    return fx_add_segment_range(f, seq, seq, prev, pos, t1, t2);
}

/* True when the JSON array of strings holds s. */
static inline bool fx_listed(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

#endif
