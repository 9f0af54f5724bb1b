/* Pass-through filters that observe the stream: SHA-256 and a byte counter. */
#include "io/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "io/key.h"

/* Copies what fits from in to out; returns the bytes copied. */
static size_t pass(gd_span_in *in, gd_span_out *out, const uint8_t **p)
{
    size_t n = in->size - in->pos;
    if (n > out->size - out->pos)
        n = out->size - out->pos;
    *p = in->src + in->pos;
    if (n > 0)
        memcpy(out->dst + out->pos, *p, n);
    in->pos += n;
    out->pos += n;
    return n;
}

/* ---- sha256 --------------------------------------------------------------- */

typedef struct sha_state {
    gd_filter base;
    EVP_MD_CTX *md;
    bool final;
    char hex[65];
} sha_state;

static int sha_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                       gd_err *err)
{
    sha_state *s = f->self;
    const uint8_t *p;
    size_t n = pass(in, out, &p);
    if (n > 0 && !EVP_DigestUpdate(s->md, p, n))
        return gd_err_set(err, GD_E_STATE, "SHA-256 failed");
    if (end && in->pos == in->size) {
        if (!s->final) {
            uint8_t d[32];
            unsigned int dl = 0;
            if (!EVP_DigestFinal_ex(s->md, d, &dl))
                return gd_err_set(err, GD_E_STATE, "SHA-256 failed");
            gd_hex(d, sizeof d, s->hex);
            s->final = true;
        }
        *done = true;
    }
    return 0;
}

static void sha_free(gd_filter *f)
{
    sha_state *s = f->self;
    EVP_MD_CTX_free(s->md);
    free(s);
}

static const gd_filter_ops sha_ops = {
    .name = "sha256",
    .process = sha_process,
    .free = sha_free,
};

gd_filter *gd_filter_sha256(void)
{
    sha_state *s = gd_calloc(1, sizeof *s);
    s->md = EVP_MD_CTX_new();
    if (s->md == NULL || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
        fprintf(stderr, "geodr: cannot create a SHA-256 context\n");
        abort();
    }
    s->base = (gd_filter){.ops = &sha_ops, .self = s};
    return &s->base;
}

void gd_filter_sha256_hex(gd_filter *f, char out[65])
{
    out[0] = '\0';
    if (f == NULL || f->ops != &sha_ops)
        return;
    sha_state *s = f->self;
    if (s->final) {
        memcpy(out, s->hex, sizeof s->hex);
        return;
    }
    /* Before the end: the digest of what was seen so far. */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t d[32];
    unsigned int dl = 0;
    if (c != NULL && EVP_MD_CTX_copy_ex(c, s->md) && EVP_DigestFinal_ex(c, d, &dl))
        gd_hex(d, sizeof d, out);
    EVP_MD_CTX_free(c);
}

void gd_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    unsigned int dl = 0;
    if (!EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL)) {
        fprintf(stderr, "geodr: SHA-256 failed\n");
        abort();
    }
    gd_hex(d, sizeof d, out);
}

/* ---- count ---------------------------------------------------------------- */

typedef struct count_state {
    gd_filter base;
    uint64_t bytes;
} count_state;

static int count_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                         gd_err *err)
{
    (void)err;
    count_state *s = f->self;
    const uint8_t *p;
    s->bytes += pass(in, out, &p);
    if (end && in->pos == in->size)
        *done = true;
    return 0;
}

static void count_free(gd_filter *f)
{
    free(f->self);
}

static const gd_filter_ops count_ops = {
    .name = "count",
    .process = count_process,
    .free = count_free,
};

gd_filter *gd_filter_count(void)
{
    count_state *s = gd_calloc(1, sizeof *s);
    s->base = (gd_filter){.ops = &count_ops, .self = s};
    return &s->base;
}

uint64_t gd_filter_count_bytes(gd_filter *f)
{
    if (f == NULL || f->ops != &count_ops)
        return 0;
    return ((count_state *)f->self)->bytes;
}
