/* The S3-compatible driver: objects are keys <prefix><name> in one bucket,
 * reached over HTTP(S) with libcurl.  Design notes: docs/s3.md; the files
 * of the driver and what they share: s3.intern.h.  This file holds the
 * driver's table, opening and freeing a storage, and the small object
 * calls (stat, remove). */
#include "storage/s3.h"

#include <stdlib.h>
#include <string.h>

#include "storage/s3/s3.intern.h"

/* ---- names ---- */

int gd_s3_bad_name(gd_err *err, const gd_storage *st, const char *name)
{
    return gd_err_set(err, GD_E_INVALID,
                      "invalid object name '%.200s' for region %s: names are relative paths "
                      "without empty, '.'-leading or control-character components",
                      name, st->name);
}

char *gd_s3_key(const s3_storage *s, const char *name)
{
    return gd_asprintf("%s%s", s->prefix, name);
}

/* ---- stat, remove ---- */

int gd_s3_stat(gd_storage *st, const char *name, gd_stat *out, gd_err *err)
{
    s3_storage *s = st->self;
    if (!gd_storage_name_ok(name))
        return gd_s3_bad_name(err, st, name);
    char *key = gd_s3_key(s, name);
    s3_req q = {.method = "HEAD", .key = key};
    s3_resp r;
    gd_s3_resp_init(&r);
    s3_op op = {.what = "stat", .name = name};
    int rc = gd_s3_call(st, s, &q, &r, &op, err);
    if (rc == 0) {
        if (!r.has_length) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot stat object %s in region %s: the S3 endpoint %s sent no "
                            "Content-Length",
                            name, st->name, s->endpoint);
        } else {
            out->size = r.content_length;
            out->mtime_us = r.has_mtime ? r.mtime_us : 0;
        }
    }
    gd_s3_resp_free(&r);
    free(key);
    return rc;
}

int gd_s3_remove(gd_storage *st, const char *name, gd_err *err)
{
    s3_storage *s = st->self;
    if (!gd_storage_name_ok(name))
        return gd_s3_bad_name(err, st, name);
    char *key = gd_s3_key(s, name);
    s3_req q = {.method = "DELETE", .key = key};
    s3_resp r;
    gd_s3_resp_init(&r);
    s3_op op = {.what = "remove", .name = name, .missing_ok = true};
    int rc = gd_s3_call(st, s, &q, &r, &op, err);
    gd_s3_resp_free(&r);
    free(key);
    return rc;
}

/* ---- the table, open, free ---- */

static void s3_free(gd_storage *st)
{
    s3_storage *s = st->self;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->part_cv);
    free(s->waiting);
    for (size_t i = 0; i < s->n_orphans; i++) {
        free(s->orphans[i].key);
        free(s->orphans[i].id_q);
    }
    free(s->orphans);
    gd_s3_settings_free(s);
    free(s);
    st->self = NULL;
}

static const gd_storage_ops s3_ops = {
    .type = "s3",
    .open_read = gd_s3_open_read,
    .open_write = gd_s3_open_write,
    .stat = gd_s3_stat,
    .list = gd_s3_list,
    .remove = gd_s3_remove,
    .free = s3_free,
};

int gd_storage_s3_open(const gd_region_cfg *cfg, gd_storage **out, gd_err *err)
{
    *out = NULL;
    const char *rname = cfg->name ? cfg->name : "?";
    if (cfg->endpoint == NULL || cfg->endpoint[0] == '\0')
        return gd_err_set(err, GD_E_CONFIG, "region %s: s3 region without an endpoint", rname);
    if (cfg->bucket == NULL || cfg->bucket[0] == '\0' || strchr(cfg->bucket, '/'))
        return gd_err_set(err, GD_E_CONFIG, "region %s: s3 region without a valid bucket", rname);
    int rc = gd_s3_http_init(rname, err);
    if (rc != 0)
        return rc;

    s3_storage *s = gd_calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->part_cv, NULL);
    rc = gd_s3_settings_load(cfg, s, err);
    if (rc != 0) {
        gd_storage tmp = {.self = s};
        s3_free(&tmp);
        return rc;
    }
    gd_storage *st = gd_calloc(1, sizeof *st);
    st->ops = &s3_ops;
    st->name = gd_strdup(rname);
    st->self = s;
    *out = st;
    return 0;
}
