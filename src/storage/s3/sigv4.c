/* AWS Signature Version 4, the parts geodr computes itself.
 *
 * The steps follow AWS's "Create a signed AWS API request" guide: canonical
 * request, string to sign, derived signing key, signature.  S3 specifics
 * the callers take care of: the path is encoded once (not twice as for
 * other services) and x-amz-content-sha256 is sent and signed.  OpenSSL
 * does the hashing; nothing here allocates outside the gd_bufs passed in
 * (and small temporaries), nothing keeps state. */
#include "storage/s3/sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char hexdig[] = "0123456789abcdef";
static const char hexup[] = "0123456789ABCDEF";

void gd_sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    if (!EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL) || dl != 32) {
        /* Only on a broken OpenSSL; a wrong hash would fail the signature
         * check at the server, which is reported, never silent. */
        memset(d, 0, sizeof d);
    }
    gd_hex(d, 32, out);
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    unsigned ol = 0;
    if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &ol) == NULL || ol != 32)
        memset(out, 0, 32);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void gd_sigv4_uri_encode(gd_buf *out, const char *s, size_t n, bool keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            gd_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hexup[c >> 4], hexup[c & 15]};
            gd_buf_append(out, e, 3);
        }
    }
}

/* Percent-decodes s[0..n) then re-encodes it canonically.  A '%' not
 * followed by two hex digits is taken literally (and so encoded as %25). */
static void recode(gd_buf *out, const char *s, size_t n)
{
    char *raw = gd_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && gd_hexval(s[i + 1]) >= 0 && gd_hexval(s[i + 2]) >= 0) {
            raw[k++] = (char)(gd_hexval(s[i + 1]) * 16 + gd_hexval(s[i + 2]));
            i += 2;
        } else {
            raw[k++] = s[i];
        }
    }
    gd_sigv4_uri_encode(out, raw, k, false);
    free(raw);
}

typedef struct qpair {
    char *name, *value;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->value, y->value);
}

void gd_sigv4_canonical_query(const char *query, gd_buf *out)
{
    if (query == NULL || query[0] == '\0') {
        gd_buf_append(out, "", 0);
        return;
    }
    size_t n = 1;
    for (const char *p = query; *p; p++)
        n += *p == '&';
    qpair *v = gd_calloc(n, sizeof *v);
    size_t k = 0;
    const char *p = query;
    for (;;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nl = eq ? (size_t)(eq - p) : len;
            gd_buf b;
            gd_buf_init(&b, 0);
            recode(&b, p, nl);
            gd_buf_append(&b, "", 0);
            v[k].name = b.data;
            gd_buf_init(&b, 0);
            if (eq)
                recode(&b, eq + 1, len - nl - 1);
            gd_buf_append(&b, "", 0);
            v[k].value = b.data;
            k++;
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    qsort(v, k, sizeof *v, qpair_cmp);
    gd_buf_append(out, "", 0);
    for (size_t i = 0; i < k; i++) {
        gd_buf_appendf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

typedef struct chdr {
    char *name;  /* lowercased */
    char *value; /* trimmed, inner runs of spaces collapsed */
    size_t order;
} chdr;

static int chdr_cmp(const void *a, const void *b)
{
    const chdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *trimall(const char *s)
{
    size_t n = strlen(s);
    char *o = gd_malloc(n + 1);
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = k > 0;
            continue;
        }
        if (space)
            o[k++] = ' ';
        space = false;
        o[k++] = c;
    }
    o[k] = '\0';
    return o;
}

void gd_sigv4_canonical_request(const gd_sigv4_request *r, gd_buf *out, gd_buf *signed_headers)
{
    gd_buf_appendf(out, "%s\n%s\n", r->method, r->path && r->path[0] ? r->path : "/");
    gd_sigv4_canonical_query(r->query, out);
    gd_buf_append(out, "\n", 1);

    chdr *h = gd_calloc(r->n_headers ? r->n_headers : 1, sizeof *h);
    for (size_t i = 0; i < r->n_headers; i++) {
        h[i].name = gd_strdup(r->headers[i].name);
        for (char *c = h[i].name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        h[i].value = trimall(r->headers[i].value);
        h[i].order = i;
    }
    qsort(h, r->n_headers, sizeof *h, chdr_cmp);
    gd_buf_append(signed_headers, "", 0);
    for (size_t i = 0; i < r->n_headers; i++) {
        bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        bool last = i + 1 == r->n_headers || strcmp(h[i].name, h[i + 1].name) != 0;
        if (first) {
            gd_buf_appendf(out, "%s:", h[i].name);
            gd_buf_appendf(signed_headers, "%s%s", i ? ";" : "", h[i].name);
        } else {
            gd_buf_append(out, ",", 1);
        }
        gd_buf_append(out, h[i].value, strlen(h[i].value));
        if (last)
            gd_buf_append(out, "\n", 1);
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    gd_buf_appendf(out, "\n%s\n%s", signed_headers->data, r->payload_hash);
}

void gd_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
                             size_t creq_len, gd_buf *out)
{
    char hx[65];
    gd_sigv4_sha256_hex(creq, creq_len, hx);
    gd_buf_appendf(out, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hx);
}

void gd_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, uint8_t out[32])
{
    size_t sl = strlen(secret);
    char *k = gd_malloc(sl + 5);
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, sl + 1);
    uint8_t a[32], b[32];
    hmac(k, sl + 4, date8, strlen(date8), a);
    hmac(a, 32, region, strlen(region), b);
    hmac(b, 32, service, strlen(service), a);
    hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, sl + 4);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    free(k);
}

void gd_sigv4_authorization(const gd_sigv4_request *r, const char *amz_date, const char *access_key,
                            const char *secret, const char *region, const char *service,
                            gd_buf *out, char *sig_hex)
{
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    char *scope = gd_asprintf("%s/%s/%s/aws4_request", date8, region, service);

    gd_buf creq, sh, sts;
    gd_buf_init(&creq, 0);
    gd_buf_init(&sh, 0);
    gd_buf_init(&sts, 0);
    gd_sigv4_canonical_request(r, &creq, &sh);
    gd_sigv4_string_to_sign(amz_date, scope, creq.data, creq.len, &sts);

    uint8_t key[32], sig[32];
    gd_sigv4_signing_key(secret, date8, region, service, key);
    hmac(key, 32, sts.data, sts.len, sig);
    char hx[65];
    for (int i = 0; i < 32; i++) {
        hx[2 * i] = hexdig[sig[i] >> 4];
        hx[2 * i + 1] = hexdig[sig[i] & 15];
    }
    hx[64] = '\0';
    gd_buf_appendf(out, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                   access_key, scope, sh.data, hx);
    if (sig_hex != NULL)
        memcpy(sig_hex, hx, 65);
    OPENSSL_cleanse(key, sizeof key);
    free(scope);
    gd_buf_free(&creq);
    gd_buf_free(&sh);
    gd_buf_free(&sts);
}
