/* Listing a storage of the S3 driver: ListObjectsV2, page after page
 * (design: docs/s3.md, "Listing, stat, remove"). */
#include "storage/s3/s3.intern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/s3/sigv4.h"

/* 100 million keys at 1000 a page: more is a broken endpoint. */
#define S3_LIST_MAX_PAGES 100000

/* All pages are gathered and sorted before the first callback: S3 returns
 * keys in byte order, but not every S3-compatible server does (s3rver walks
 * its directory tree, which puts "a/b" before "a-b"), and the contract
 * promises name order.  Memory is one entry per object under the prefix,
 * as in the posix driver. */

typedef struct s3_listing {
    const char *prefix; /* as asked, after the storage's prefix */
    const char *opname; /* "objects under 'P'", for messages */
    gd_listed *ents;
    size_t n, cap;
} s3_listing;

/* Adds the <Contents> of one ListObjectsV2 page to l. */
static int list_page(gd_storage *st, const s3_storage *s, s3_listing *l, const gd_buf *body,
                     gd_err *err)
{
    size_t plen = strlen(s->prefix);
    const char *p = body->data, *end = body->data + body->len;
    gd_buf key;
    gd_buf_init(&key, 0);
    int rc = 0;
    for (;;) {
        gd_stat sst;
        int got = gd_s3_xml_contents(&p, end, &key, &sst);
        if (got == 0)
            break;
        if (got == S3_XML_NO_KEY) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: a <Contents> without a readable <Key> "
                            "in the answer of %s",
                            l->opname, st->name, s->endpoint);
            goto out;
        }
        if (got == S3_XML_NO_SIZE) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: object %.200s has no valid <Size> in "
                            "the answer of %s",
                            l->opname, st->name, key.data, s->endpoint);
            goto out;
        }
        if (key.len < plen || strncmp(key.data, s->prefix, plen) != 0)
            continue;
        const char *name = key.data + plen;
        /* Keys that are not object names (e.g. "dir/" markers made by
         * other tools, or '.'-leading parts) are not ours. */
        if (!gd_storage_name_ok(name) || strncmp(name, l->prefix, strlen(l->prefix)) != 0)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 256;
            l->ents = gd_realloc(l->ents, l->cap * sizeof *l->ents);
        }
        l->ents[l->n].name = gd_strdup(name);
        l->ents[l->n].st = sst;
        l->n++;
    }
out:
    gd_buf_free(&key);
    return rc;
}

/* The continuation token of a page that says it is truncated (*next), NULL
 * at the last page.  A token must move the listing on: the same one twice
 * (a broken or hostile endpoint) would list forever; so would endless
 * pages, and a listing slower than t.list_ms. */
static int list_next_token(gd_storage *st, const s3_storage *s, const s3_listing *l,
                           const gd_buf *body, const char *token, int pages, double t0, char **next,
                           gd_err *err)
{
    const char *end = body->data + body->len;
    *next = NULL;
    if (!gd_s3_xml_truncated(body->data, end))
        return 0;
    gd_buf t;
    gd_buf_init(&t, 0);
    if (!gd_s3_xml_value(body->data, end, "NextContinuationToken", &t)) {
        gd_buf_free(&t);
        return gd_err_set(err, GD_E_IO,
                          "cannot list %s in region %s: the S3 endpoint %s said the listing is "
                          "truncated but sent no NextContinuationToken",
                          l->opname, st->name, s->endpoint);
    }
    const char *why = NULL;
    char slow[160];
    if (token != NULL && strcmp(token, t.data) == 0) {
        why = "sent the same continuation token twice (a broken listing)";
    } else if (pages > S3_LIST_MAX_PAGES) {
        why = "sent more pages than any listing needs";
    } else if ((gd_mono() - t0) * 1000 > (double)s->t.list_ms) {
        snprintf(slow, sizeof slow,
                 "was still listing after %ld s (%d pages; GEODR_S3_TIMEOUTS list= sets the limit)",
                 s->t.list_ms / 1000, pages);
        why = slow;
    }
    if (why != NULL) {
        gd_buf_free(&t);
        return gd_err_set(err, GD_E_IO,
                          "cannot list %s in region %s: the S3 endpoint %s %s; check the endpoint",
                          l->opname, st->name, s->endpoint, why);
    }
    *next = t.data;
    return 0;
}

int gd_s3_list(gd_storage *st, const char *prefix, gd_list_fn fn, void *ctx, gd_err *err)
{
    s3_storage *s = st->self;
    if (prefix == NULL)
        prefix = "";
    if (prefix[0] != '\0') {
        char *probe = gd_asprintf("%sx", prefix);
        bool ok = gd_storage_name_ok(probe);
        free(probe);
        if (!ok)
            return gd_err_set(err, GD_E_INVALID, "invalid prefix '%.200s' for listing region %s",
                              prefix, st->name);
    }
    char opname[300];
    snprintf(opname, sizeof opname, "objects under '%.200s'", prefix);
    s3_listing l = {.prefix = prefix, .opname = opname};
    char *full = gd_asprintf("%s%s", s->prefix, prefix);
    char *token = NULL;
    gd_buf qs;
    gd_buf_init(&qs, 0);
    s3_resp r;
    gd_s3_resp_init(&r);
    int rc = 0;
    double t0 = gd_mono();
    for (int pages = 1;; pages++) {
        /* Sorted and encoded: sent as is, and canonical too. */
        gd_buf_reset(&qs);
        if (token != NULL) {
            gd_buf_append(&qs, "continuation-token=", 19);
            gd_sigv4_uri_encode(&qs, token, strlen(token), false);
            gd_buf_append(&qs, "&", 1);
        }
        gd_buf_append(&qs, "list-type=2&prefix=", 19);
        gd_sigv4_uri_encode(&qs, full, strlen(full), false);
        s3_req q = {.method = "GET", .key = NULL, .query = qs.data};
        s3_op op = {.what = "list", .target = opname};
        rc = gd_s3_call(st, s, &q, &r, &op, err);
        if (rc != 0)
            goto out;
        if (r.body_truncated || r.body.data == NULL ||
            strstr(r.body.data, "<ListBucketResult") == NULL) {
            rc = gd_err_set(err, GD_E_IO,
                            "cannot list %s in region %s: the S3 endpoint %s sent an answer that "
                            "is not a ListObjectsV2 result",
                            opname, st->name, s->endpoint);
            goto out;
        }
        char *next = NULL;
        rc = list_page(st, s, &l, &r.body, err);
        if (rc == 0)
            rc = list_next_token(st, s, &l, &r.body, token, pages, t0, &next, err);
        if (rc != 0)
            goto out;
        free(token);
        token = next;
        if (token == NULL)
            break;
    }
    rc = gd_storage_list_emit(l.ents, l.n, fn, ctx);
    l.ents = NULL;
    l.n = 0;
out:
    gd_listed_free(l.ents, l.n);
    free(token);
    free(full);
    gd_buf_free(&qs);
    gd_s3_resp_free(&r);
    return rc;
}
