/* S3's XML answers, read without an XML library: the answers geodr reads
 * (ListObjectsV2, ListMultipartUploads, InitiateMultipartUpload,
 * CompleteMultipartUpload, <Error>) are flat, small (bounded by
 * S3_XML_MAX in http.c) and only a few known tags are looked up in them,
 * so a tag finder and an entity decoder are all it takes (no DTDs, no
 * namespaces to resolve, nothing fetched; neither libxml2 nor expat is
 * linked).  Also the one XML body geodr sends (CompleteMultipartUpload)
 * and the numbers and ISO 8601 dates found in answers and headers. */
#include "storage/s3/s3.intern.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *gd_s3_xml_find(const char *p, const char *end, const char *tag, const char **v,
                           size_t *vn)
{
    size_t tl = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < tl + 2)
            return NULL;
        p = lt + 1;
        if (strncmp(p, tag, tl) != 0)
            continue;
        const char *a = p + tl;
        if (*a == '/' && a + 1 < end && a[1] == '>') { /* <Tag/> */
            *v = a + 2;
            *vn = 0;
            return a + 2;
        }
        if (*a != '>' && *a != ' ' && *a != '\t' && *a != '\r' && *a != '\n')
            continue; /* a longer tag name */
        const char *gt = memchr(a, '>', (size_t)(end - a));
        if (gt == NULL)
            return NULL;
        const char *body = gt + 1;
        /* find "</tag>" */
        const char *q = body;
        for (;;) {
            const char *c = memchr(q, '<', (size_t)(end - q));
            if (c == NULL || (size_t)(end - c) < tl + 3)
                return NULL;
            if (c[1] == '/' && strncmp(c + 2, tag, tl) == 0 && c[2 + tl] == '>') {
                *v = body;
                *vn = (size_t)(c - body);
                return c + tl + 3;
            }
            q = c + 1;
        }
    }
    return NULL;
}

static void put_utf8(gd_buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    gd_buf_append(out, b, n);
}

int gd_s3_xml_unescape(const char *p, size_t n, gd_buf *out)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    gd_buf_append(out, "", 0);
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(p + i, '&', n - i);
        size_t plain = amp ? (size_t)(amp - (p + i)) : n - i;
        gd_buf_append(out, p + i, plain);
        i += plain;
        if (amp == NULL)
            break;
        const char *semi = memchr(amp, ';', n - i);
        if (semi == NULL || semi - amp > 12)
            return GD_E_CORRUPT;
        const char *e = amp + 1;
        size_t el = (size_t)(semi - e);
        bool done = false;
        if (el > 1 && e[0] == '#') {
            unsigned long cp = 0;
            bool hex = e[1] == 'x' || e[1] == 'X';
            size_t k = hex ? 2 : 1;
            if (k >= el)
                return GD_E_CORRUPT;
            for (; k < el; k++) {
                int d;
                char c = e[k];
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (hex && c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
                else
                    return GD_E_CORRUPT;
                cp = cp * (hex ? 16 : 10) + (unsigned long)d;
                if (cp > 0x10FFFF)
                    return GD_E_CORRUPT;
            }
            if (cp == 0)
                return GD_E_CORRUPT;
            put_utf8(out, cp);
            done = true;
        } else {
            for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                if (strlen(ents[k].name) == el && strncmp(e, ents[k].name, el) == 0) {
                    gd_buf_append(out, &ents[k].c, 1);
                    done = true;
                    break;
                }
            }
        }
        if (!done)
            return GD_E_CORRUPT;
        i = (size_t)(semi + 1 - p);
    }
    return 0;
}

static bool digits(const char *p, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return true;
}

int gd_s3_parse_iso8601(const char *p, size_t n, int64_t *us)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff...]Z */
    int Y, M, D, h, m, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' ||
        p[16] != ':' || !digits(p, 4, &Y) || !digits(p + 5, 2, &M) || !digits(p + 8, 2, &D) ||
        !digits(p + 11, 2, &h) || !digits(p + 14, 2, &m) || !digits(p + 17, 2, &s))
        return GD_E_CORRUPT;
    size_t i = 19;
    int64_t frac = 0, scale = 1000000;
    if (p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (p[i] - '0') * scale;
            }
            i++;
        }
    }
    if (i + 1 != n || (p[i] != 'Z' && p[i] != 'z'))
        return GD_E_CORRUPT;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60)
        return GD_E_CORRUPT;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    *us = (int64_t)t * 1000000 + frac;
    return 0;
}

void gd_s3_xml_text(const gd_buf *b, const char *tag, char *out, size_t size)
{
    out[0] = '\0';
    if (b->data == NULL)
        return;
    const char *v;
    size_t vn;
    if (gd_s3_xml_find(b->data, b->data + b->len, tag, &v, &vn) == NULL)
        return;
    gd_buf t;
    gd_buf_init(&t, 0);
    if (gd_s3_xml_unescape(v, vn, &t) == 0 && t.data != NULL) {
        /* one line, printable */
        for (char *c = t.data; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = ' ';
        gd_strlcpy(out, t.data, size);
    }
    gd_buf_free(&t);
}

bool gd_s3_xml_truncated(const char *p, const char *end)
{
    const char *v;
    size_t vn;
    return gd_s3_xml_find(p, end, "IsTruncated", &v, &vn) != NULL && vn == 4 &&
           strncmp(v, "true", 4) == 0;
}

void gd_s3_xml_complete_body(gd_buf *body, char *const *etags, int n)
{
    gd_buf_append(body, "<CompleteMultipartUpload>", 25);
    for (int i = 0; i < n; i++) {
        gd_buf_appendf(body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *c = etags[i]; *c; c++) {
            if (*c == '&')
                gd_buf_append(body, "&amp;", 5);
            else if (*c == '<')
                gd_buf_append(body, "&lt;", 4);
            else if (*c == '>')
                gd_buf_append(body, "&gt;", 4);
            else
                gd_buf_append(body, c, 1);
        }
        gd_buf_append(body, "</ETag></Part>", 14);
    }
    gd_buf_append(body, "</CompleteMultipartUpload>", 26);
}

bool gd_s3_parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool gd_s3_xml_value(const char *p, const char *end, const char *tag, gd_buf *out)
{
    const char *v;
    size_t vn;
    return gd_s3_xml_find(p, end, tag, &v, &vn) != NULL && vn > 0 &&
           gd_s3_xml_unescape(v, vn, out) == 0;
}

int gd_s3_xml_contents(const char **p, const char *end, gd_buf *key, gd_stat *st)
{
    const char *c, *v;
    size_t cn, vn;
    const char *next = gd_s3_xml_find(*p, end, "Contents", &c, &cn);
    if (next == NULL)
        return 0;
    *p = next;
    const char *ce = c + cn;
    gd_buf_reset(key);
    memset(st, 0, sizeof *st);
    if (gd_s3_xml_find(c, ce, "Key", &v, &vn) == NULL || gd_s3_xml_unescape(v, vn, key) != 0)
        return S3_XML_NO_KEY;
    if (gd_s3_xml_find(c, ce, "Size", &v, &vn) == NULL || !gd_s3_parse_u64(v, vn, &st->size))
        return S3_XML_NO_SIZE;
    if (gd_s3_xml_find(c, ce, "LastModified", &v, &vn) != NULL)
        (void)gd_s3_parse_iso8601(v, vn, &st->mtime_us);
    return 1;
}

bool gd_s3_xml_upload(const char *p, const char *end, gd_buf *key, gd_buf *id,
                      int64_t *initiated_us)
{
    const char *v;
    size_t vn;
    return gd_s3_xml_find(p, end, "Key", &v, &vn) != NULL && gd_s3_xml_unescape(v, vn, key) == 0 &&
           key->data != NULL && gd_s3_xml_value(p, end, "UploadId", id) &&
           gd_s3_xml_find(p, end, "Initiated", &v, &vn) != NULL &&
           gd_s3_parse_iso8601(v, vn, initiated_us) == 0;
}
