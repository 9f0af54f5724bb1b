/* Unit tests for src/io: filters, pipelines, keys.
 *
 * Oracles: published known answers (SHA-256 FIPS 180-2 examples, the GCM
 * specification's AES-256 test cases, RFC 7914 scrypt vectors) and an
 * independent re-implementation of the encrypted object format with EVP
 * calls written from the format description in src/io/crypt.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/util.h"
#include "io/filter.h"
#include "io/key.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = gd_malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    return p;
}

/* Compressible but not trivial: words from a small vocabulary. */
static uint8_t *text_bytes(size_t n)
{
    static const char *words[] = {"INSERT ",   "INTO ",   "t1 ",    "VALUES ",
                                  "(1, ",      "'abc', ", "NULL) ", "2026-11-20 ",
                                  "03:00:00 ", "geodr ",  "\n"};
    uint8_t *p = gd_malloc(n);
    size_t o = 0;
    while (o < n) {
        const char *w = words[rnd_below(sizeof words / sizeof words[0])];
        for (size_t i = 0; w[i] && o < n; i++)
            p[o++] = (uint8_t)w[i];
        if (o < n && rnd_below(4) == 0)
            p[o++] = (uint8_t)('0' + rnd_below(10));
    }
    return p;
}

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    assert_int_equal(gd_unhex(hex, out, n), 0);
}

typedef struct mem_sink {
    gd_buf b;
    size_t calls;
    int fail_at; /* fail on this call (1-based), 0 = never */
} mem_sink;

static int sink_fn(void *ctx, const void *p, size_t n, gd_err *err)
{
    mem_sink *s = ctx;
    s->calls++;
    if (s->fail_at > 0 && (size_t)s->fail_at == s->calls)
        return gd_err_set(err, GD_E_IO, "test sink failed");
    assert_true(n > 0);
    assert_true(n <= GD_PIPE_BUF || s->fail_at < 0);
    assert_int_equal(gd_buf_append(&s->b, p, n), 0);
    return 0;
}

typedef struct mem_source {
    const uint8_t *p;
    size_t len, pos;
    size_t max_chunk; /* returns random sizes in 1..max_chunk; 0 = as much as asked */
    int fail_at_pos;  /* fail once pos >= this, when > 0 */
} mem_source;

static ssize_t source_fn(void *ctx, void *p, size_t n, gd_err *err)
{
    mem_source *s = ctx;
    if (s->fail_at_pos > 0 && s->pos >= (size_t)s->fail_at_pos)
        return gd_err_set(err, GD_E_IO, "test source failed");
    size_t k = s->len - s->pos;
    if (k > n)
        k = n;
    if (s->max_chunk > 0 && k > 1) {
        size_t m = 1 + rnd_below(s->max_chunk);
        if (k > m)
            k = m;
    }
    if (k > 0)
        memcpy(p, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* Pushes data through p in pieces of varying size, then finishes. */
static int push_all(gd_pipe *p, const uint8_t *data, size_t n, gd_err *err)
{
    static const size_t sizes[] = {1, 7, 4096, 65535, 65536, 65537, 200000, 13};
    size_t off = 0, k = rnd_below(8);
    while (off < n) {
        size_t m = sizes[k++ % 8];
        if (m > n - off)
            m = n - off;
        int rc = gd_pipe_write(p, data + off, m, err);
        if (rc < 0)
            return rc;
        off += m;
    }
    return gd_pipe_finish(p, err);
}

/* Reads p to the end into out with reads of at most chunk bytes. */
static int pull_all(gd_pipe *p, gd_buf *out, size_t chunk, gd_err *err)
{
    uint8_t *tmp = gd_malloc(chunk);
    int rc = 0;
    for (;;) {
        size_t want = 1 + rnd_below(chunk);
        ssize_t r = gd_pipe_read(p, tmp, want, err);
        if (r < 0) {
            rc = (int)r;
            break;
        }
        assert_true((size_t)r <= want);
        if (r == 0)
            break;
        assert_int_equal(gd_buf_append(out, tmp, (size_t)r), 0);
    }
    /* After the end, reads keep returning 0. */
    if (rc == 0)
        assert_int_equal(gd_pipe_read(p, tmp, chunk, err), 0);
    free(tmp);
    return rc;
}

static const uint8_t key_a[GD_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                          23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t id_a[GD_KEY_ID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static const uint8_t key_b[GD_KEY_LEN] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                                          21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
                                          10, 9,  8,  7,  6,  5,  4,  3,  2,  1};
static const uint8_t id_b[GD_KEY_ID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};

/* Runs data through one filter in push mode; out gets the result. */
static int run_push(gd_filter *f, const uint8_t *data, size_t n, gd_buf *out, gd_err *err)
{
    gd_pipe *p = gd_pipe_new();
    mem_sink s = {.fail_at = 0};
    gd_buf_init(&s.b, 0);
    gd_pipe_add(p, f);
    gd_pipe_set_sink(p, sink_fn, &s);
    int rc = push_all(p, data, n, err);
    gd_pipe_free(p);
    *out = s.b;
    return rc;
}

/* Runs data through one filter in pull mode with ragged source reads. */
static int run_pull(gd_filter *f, const uint8_t *data, size_t n, gd_buf *out, gd_err *err)
{
    gd_pipe *p = gd_pipe_new();
    mem_source src = {.p = data, .len = n, .max_chunk = 70000};
    gd_pipe_add(p, f);
    gd_pipe_set_source(p, source_fn, &src);
    gd_buf_init(out, 0);
    int rc = pull_all(p, out, 9000, err);
    gd_pipe_free(p);
    return rc;
}

static void encrypt_buf(const uint8_t *pt, size_t n, const uint8_t *key, const uint8_t *id,
                        gd_buf *ct)
{
    gd_err err = {0};
    assert_int_equal(run_push(gd_filter_encrypt(key, id, "obj"), pt, n, ct, &err), 0);
}

/* Decrypts alternately in pull and push mode. */
static int decrypt_buf(const uint8_t *ct, size_t n, const uint8_t *key, const uint8_t *id,
                       gd_buf *pt, gd_err *err)
{
    static unsigned turn;
    if (turn++ % 2)
        return run_pull(gd_filter_decrypt(key, id, "obj", false), ct, n, pt, err);
    return run_push(gd_filter_decrypt(key, id, "obj", false), ct, n, pt, err);
}

static size_t encrypted_size(size_t n)
{
    size_t chunks = n == 0 ? 1 : (n + 65535) / 65536;
    return 21 + n + chunks * 20;
}

/* ---- hashing ---------------------------------------------------------------- */

static void test_sha256_known_answers(void **state)
{
    (void)state;
    char hex[65];
    gd_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gd_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    gd_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* The filter agrees, in both modes, and passes bytes through. */
    const char *inputs[] = {"abc", ""};
    const char *want[] = {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    for (int i = 0; i < 2; i++) {
        for (int pull = 0; pull < 2; pull++) {
            gd_pipe *p = gd_pipe_new();
            gd_filter *f = gd_filter_sha256();
            gd_pipe_add(p, f);
            mem_sink s = {.fail_at = 0};
            gd_buf_init(&s.b, 0);
            mem_source src = {.p = (const uint8_t *)inputs[i], .len = strlen(inputs[i])};
            gd_err err = {0};
            if (pull) {
                gd_pipe_set_source(p, source_fn, &src);
                assert_int_equal(pull_all(p, &s.b, 2, &err), 0);
            } else {
                gd_pipe_set_sink(p, sink_fn, &s);
                assert_int_equal(push_all(p, (const uint8_t *)inputs[i], strlen(inputs[i]), &err),
                                 0);
            }
            assert_int_equal(s.b.len, strlen(inputs[i]));
            if (s.b.len)
                assert_memory_equal(s.b.data, inputs[i], s.b.len);
            gd_filter_sha256_hex(f, hex);
            assert_string_equal(hex, want[i]);
            gd_buf_free(&s.b);
            gd_pipe_free(p);
        }
    }
}

static void test_sha256_large_and_count(void **state)
{
    (void)state;
    size_t n = 3 * GD_PIPE_BUF + 12345;
    uint8_t *data = random_bytes(n);
    char want[65], got[65];
    gd_sha256_hex(data, n, want);

    gd_pipe *p = gd_pipe_new();
    gd_filter *c = gd_filter_count();
    gd_filter *h = gd_filter_sha256();
    gd_pipe_add(p, c);
    gd_pipe_add(p, h);
    mem_sink s = {.fail_at = 0};
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    gd_err err = {0};
    assert_int_equal(push_all(p, data, n, &err), 0);
    assert_int_equal(s.b.len, n);
    assert_memory_equal(s.b.data, data, n);
    assert_int_equal(gd_filter_count_bytes(c), n);
    gd_filter_sha256_hex(h, got);
    assert_string_equal(got, want);
    /* Wrong filter types answer nothing rather than crash. */
    assert_int_equal(gd_filter_count_bytes(h), 0);
    gd_filter_sha256_hex(c, got);
    assert_string_equal(got, "");
    gd_buf_free(&s.b);
    gd_pipe_free(p);
    free(data);
}

/* ---- pipeline mechanics ------------------------------------------------------ */

static void test_pipe_no_filters(void **state)
{
    (void)state;
    size_t n = 300000;
    uint8_t *data = random_bytes(n);
    gd_err err = {0};

    gd_pipe *p = gd_pipe_new();
    mem_sink s = {.fail_at = -1}; /* direct pass-through may hand over big pieces */
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(push_all(p, data, n, &err), 0);
    assert_int_equal(s.b.len, n);
    assert_memory_equal(s.b.data, data, n);
    /* Writing after finish is refused. */
    assert_int_equal(gd_pipe_write(p, data, 1, &err), GD_E_STATE);
    gd_err_clear(&err);
    gd_pipe_free(p);

    p = gd_pipe_new();
    mem_source src = {.p = data, .len = n, .max_chunk = 5000};
    gd_pipe_set_source(p, source_fn, &src);
    gd_buf out;
    gd_buf_init(&out, 0);
    assert_int_equal(pull_all(p, &out, 7000, &err), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    gd_buf_free(&out);
    gd_pipe_free(p);

    /* Empty stream, both modes. */
    p = gd_pipe_new();
    gd_buf_reset(&s.b);
    s.b.len = 0;
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(gd_pipe_finish(p, &err), 0);
    assert_int_equal(s.b.len, 0);
    gd_pipe_free(p);
    p = gd_pipe_new();
    mem_source empty = {.p = data, .len = 0};
    gd_pipe_set_source(p, source_fn, &empty);
    uint8_t b[4];
    assert_int_equal(gd_pipe_read(p, b, sizeof b, &err), 0);
    gd_pipe_free(p);

    gd_buf_free(&s.b);
    free(data);
    gd_pipe_free(NULL);
    gd_filter_free(NULL);
}

static void test_pipe_mode_errors(void **state)
{
    (void)state;
    gd_err err = {0};
    gd_pipe *p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_count());
    uint8_t b[4] = {0};
    assert_int_equal(gd_pipe_write(p, b, 4, &err), GD_E_STATE);
    gd_err_clear(&err);
    assert_int_equal(gd_pipe_read(p, b, 4, &err), GD_E_STATE);
    gd_pipe_free(p);
}

static void test_pipe_sink_and_source_failures(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    uint8_t *data = random_bytes(n);
    gd_err err = {0};

    /* The sink fails on its second call: the error comes back and sticks. */
    gd_pipe *p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_count());
    gd_pipe_add(p, gd_filter_sha256());
    mem_sink s = {.fail_at = 2};
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(push_all(p, data, n, &err), GD_E_IO);
    assert_string_equal(err.msg, "test sink failed");
    gd_err_clear(&err);
    assert_int_equal(gd_pipe_write(p, data, 10, &err), GD_E_IO);
    gd_err_clear(&err);
    assert_int_equal(gd_pipe_finish(p, &err), GD_E_IO);
    gd_err_clear(&err);
    gd_buf_free(&s.b);
    gd_pipe_free(p);

    /* The source fails half way through. */
    gd_buf ct;
    encrypt_buf(data, n, key_a, id_a, &ct);
    p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_decrypt(key_a, id_a, "obj", false));
    mem_source src = {.p = (uint8_t *)ct.data,
                      .len = ct.len,
                      .max_chunk = 10000,
                      .fail_at_pos = (int)(ct.len / 2)};
    gd_pipe_set_source(p, source_fn, &src);
    gd_buf out;
    gd_buf_init(&out, 0);
    assert_int_equal(pull_all(p, &out, 4096, &err), GD_E_IO);
    assert_string_equal(err.msg, "test source failed");
    assert_true(out.len < n);
    assert_memory_equal(out.data, data, out.len);
    gd_err_clear(&err);
    uint8_t b[16];
    assert_int_equal(gd_pipe_read(p, b, sizeof b, &err), GD_E_IO);
    gd_buf_free(&out);
    gd_buf_free(&ct);
    gd_pipe_free(p);
    free(data);
}

/* ---- zstd ------------------------------------------------------------------- */

static void zstd_roundtrip(const uint8_t *data, size_t n, int level)
{
    gd_err err = {0};
    gd_buf z, back;
    assert_int_equal(run_push(gd_filter_zstd_compress(level), data, n, &z, &err), 0);
    assert_true(z.len > 0); /* even an empty stream is one frame */
    assert_int_equal(run_pull(gd_filter_zstd_decompress(), (uint8_t *)z.data, z.len, &back, &err),
                     0);
    assert_int_equal(back.len, n);
    if (n)
        assert_memory_equal(back.data, data, n);
    gd_buf_free(&back);
    /* Compressing in pull mode and decompressing in push mode also works. */
    gd_buf z2;
    assert_int_equal(run_pull(gd_filter_zstd_compress(level), data, n, &z2, &err), 0);
    assert_int_equal(run_push(gd_filter_zstd_decompress(), (uint8_t *)z2.data, z2.len, &back, &err),
                     0);
    assert_int_equal(back.len, n);
    if (n)
        assert_memory_equal(back.data, data, n);
    gd_buf_free(&back);
    gd_buf_free(&z2);
    gd_buf_free(&z);
}

static void test_zstd_roundtrip(void **state)
{
    (void)state;
    uint8_t one = 0x5a;
    zstd_roundtrip(&one, 0, 0);
    zstd_roundtrip(&one, 1, 1);
    uint8_t *r = random_bytes(1 << 20);
    zstd_roundtrip(r, 1 << 20, 3);
    free(r);
    uint8_t *t = text_bytes(3 << 20);
    zstd_roundtrip(t, 256 << 10, 19);
    zstd_roundtrip(t, 3 << 20, -5); /* clamped to 1 */
    free(t);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static int zero_sink(void *ctx, const void *p, size_t n, gd_err *err)
{
    (void)err;
    gd_buf *b = ctx;
    return gd_buf_append(b, p, n);
}

/* 64 MiB of zeros compress to a few KiB; decompressing them in pull mode
 * through a small buffer must come out in pieces with bounded memory. */
static void test_zstd_bomb_bounded(void **state)
{
    (void)state;
    const size_t total = (size_t)64 << 20;
    const size_t bound = (size_t)16 << 20;
    uint8_t *zeros = gd_calloc(1, 1 << 20);
    gd_err err = {0};

    gd_buf z;
    gd_buf_init(&z, 0);
    size_t base = heap_in_use();
    size_t peak = 0;
    gd_pipe *p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_zstd_compress(3));
    gd_pipe_set_sink(p, zero_sink, &z);
    for (size_t off = 0; off < total; off += 1 << 20) {
        assert_int_equal(gd_pipe_write(p, zeros, 1 << 20, &err), 0);
        size_t h = heap_in_use();
        if (h > peak)
            peak = h;
    }
    assert_int_equal(gd_pipe_finish(p, &err), 0);
    gd_pipe_free(p);
    assert_true(z.len < total / 1000);
    assert_true(peak < base + bound);

    uint8_t buf[4096];
    mem_source src = {.p = (uint8_t *)z.data, .len = z.len, .max_chunk = 100};
    base = heap_in_use();
    peak = 0;
    p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_zstd_decompress());
    gd_pipe_add(p, gd_filter_count());
    gd_pipe_set_source(p, source_fn, &src);
    size_t got = 0, reads = 0;
    for (;;) {
        ssize_t r = gd_pipe_read(p, buf, sizeof buf, &err);
        assert_true(r >= 0);
        if (r == 0)
            break;
        assert_true((size_t)r <= sizeof buf);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != 0)
                fail_msg("non-zero byte at %zu", got + (size_t)i);
        got += (size_t)r;
        reads++;
        size_t h = heap_in_use();
        if (h > peak)
            peak = h;
    }
    assert_int_equal(got, total);
    assert_true(reads >= total / sizeof buf);
    assert_true(peak < base + bound);
    gd_pipe_free(p);
    gd_buf_free(&z);
    free(zeros);
}

static void test_zstd_corrupt(void **state)
{
    (void)state;
    gd_err err = {0};
    gd_buf out;

    /* Garbage: zstd's error name is in the message. */
    uint8_t *junk = random_bytes(1000);
    assert_int_equal(run_pull(gd_filter_zstd_decompress(), junk, 1000, &out, &err), GD_E_CORRUPT);
    assert_non_null(strstr(err.msg, "corrupt compressed data: "));
    assert_non_null(strstr(err.msg, "nknown frame descriptor"));
    gd_buf_free(&out);
    free(junk);

    /* Empty input is not a zstd stream. */
    gd_err_clear(&err);
    assert_int_equal(run_push(gd_filter_zstd_decompress(), NULL, 0, &out, &err), GD_E_CORRUPT);
    assert_string_equal(err.msg, "truncated compressed data");
    gd_buf_free(&out);

    /* Every truncation fails, in both modes. */
    size_t n = 200000;
    uint8_t *t = text_bytes(n);
    gd_buf z;
    assert_int_equal(run_push(gd_filter_zstd_compress(1), t, n, &z, &err), 0);
    for (size_t cut = 0; cut < z.len; cut += (cut < 64 || cut > z.len - 64) ? 1 : 97) {
        gd_err_clear(&err);
        int rc = (cut % 2)
                     ? run_pull(gd_filter_zstd_decompress(), (uint8_t *)z.data, cut, &out, &err)
                     : run_push(gd_filter_zstd_decompress(), (uint8_t *)z.data, cut, &out, &err);
        assert_int_equal(rc, GD_E_CORRUPT);
        gd_buf_free(&out);
    }
    /* The checksum catches flipped bytes in the payload. */
    size_t bad = 0;
    for (size_t pos = 20; pos < z.len; pos += z.len / 50) {
        z.data[pos] ^= 0x10;
        gd_err_clear(&err);
        if (run_pull(gd_filter_zstd_decompress(), (uint8_t *)z.data, z.len, &out, &err) ==
            GD_E_CORRUPT)
            bad++;
        z.data[pos] ^= 0x10;
        gd_buf_free(&out);
    }
    assert_true(bad >= 45);

    /* Concatenated frames are one stream. */
    gd_buf z2;
    assert_int_equal(run_push(gd_filter_zstd_compress(1), t, 1000, &z2, &err), 0);
    gd_buf both;
    gd_buf_init(&both, 0);
    gd_buf_append(&both, z.data, z.len);
    gd_buf_append(&both, z2.data, z2.len);
    gd_buf_append(&both, z2.data, z2.len);
    assert_int_equal(
        run_pull(gd_filter_zstd_decompress(), (uint8_t *)both.data, both.len, &out, &err), 0);
    assert_int_equal(out.len, n + 2000);
    assert_memory_equal(out.data, t, n);
    assert_memory_equal(out.data + n, t, 1000);
    assert_memory_equal(out.data + n + 1000, t, 1000);
    gd_buf_free(&out);
    /* ... and garbage after a frame is an error. */
    gd_buf_append(&both, "xyzw", 4);
    gd_err_clear(&err);
    assert_int_equal(
        run_pull(gd_filter_zstd_decompress(), (uint8_t *)both.data, both.len, &out, &err),
        GD_E_CORRUPT);
    gd_buf_free(&out);
    gd_buf_free(&both);
    gd_buf_free(&z2);
    gd_buf_free(&z);
    free(t);
}

/* ---- AES-256-GCM --------------------------------------------------------------- */

static void gcm_seal(const uint8_t *key, const uint8_t *iv, const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv), 1);
    if (aadlen)
        assert_int_equal(EVP_EncryptUpdate(c, NULL, &l, aad, (int)aadlen), 1);
    if (n)
        assert_int_equal(EVP_EncryptUpdate(c, ct, &l, pt, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + n, &l), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(c);
}

/* The GCM specification (McGrew & Viega), appendix B, AES-256 cases. */
static void test_gcm_known_answers(void **state)
{
    (void)state;
    uint8_t key[32], iv[12], pt[64], ct[64], want[64], tag[16], wtag[16], aad[20];

    /* Test case 14: zero key, zero IV, one zero block. */
    memset(key, 0, sizeof key);
    memset(iv, 0, sizeof iv);
    memset(pt, 0, 16);
    gcm_seal(key, iv, NULL, 0, pt, 16, ct, tag);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", wtag, 16);
    assert_memory_equal(ct, want, 16);
    assert_memory_equal(tag, wtag, 16);

    /* Test case 15: 64 bytes, no AAD. */
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    unhex("cafebabefacedbaddecaf888", iv, 12);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
          pt, 64);
    gcm_seal(key, iv, NULL, 0, pt, 64, ct, tag);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
          "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
          want, 64);
    unhex("b094dac5d93471bdec1a502270e3cc6c", wtag, 16);
    assert_memory_equal(ct, want, 64);
    assert_memory_equal(tag, wtag, 16);

    /* Test case 16: 60 bytes with 20 bytes of AAD. */
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    gcm_seal(key, iv, aad, 20, pt, 60, ct, tag);
    unhex("76fc6ece0f4e1768cddf8853bb2d551b", wtag, 16);
    assert_memory_equal(ct, want, 60);
    assert_memory_equal(tag, wtag, 16);
}

/* Builds an encrypted object from the format description, with the given
 * plaintext chunk lengths (the last is final): format 2 bound to the name
 * "obj" (the name the helpers above use), or format 1 (no name) when
 * version is 1. */
static void build_object_v(int version, const uint8_t *key, const uint8_t *id,
                           const uint8_t prefix[8], const uint8_t *pt, const size_t *lens,
                           size_t nchunks, gd_buf *out)
{
    uint8_t hdr[21], name_hash[32];
    unsigned int hl = 32;
    assert_int_equal(EVP_Digest("obj", 3, name_hash, &hl, EVP_sha256(), NULL), 1);
    memcpy(hdr, "GDE1", 4);
    hdr[4] = (uint8_t)version;
    memcpy(hdr + 5, id, 8);
    memcpy(hdr + 13, prefix, 8);
    gd_buf_init(out, 0);
    gd_buf_append(out, hdr, sizeof hdr);
    size_t off = 0;
    for (size_t i = 0; i < nchunks; i++) {
        uint32_t lf = (uint32_t)lens[i] | (i + 1 == nchunks ? 0x80000000u : 0);
        uint8_t lfb[4] = {(uint8_t)(lf >> 24), (uint8_t)(lf >> 16), (uint8_t)(lf >> 8),
                          (uint8_t)lf};
        uint8_t idx[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        uint8_t iv[12], aad[61], tag[16];
        memcpy(iv, prefix, 8);
        memcpy(iv + 8, idx, 4);
        memcpy(aad, hdr, 21);
        memcpy(aad + 21, idx, 4);
        memcpy(aad + 25, lfb, 4);
        memcpy(aad + 29, name_hash, 32);
        uint8_t *ct = gd_malloc(lens[i] + 1);
        gcm_seal(key, iv, aad, version == 1 ? 29 : sizeof aad, pt + off, lens[i], ct, tag);
        gd_buf_append(out, lfb, 4);
        gd_buf_append(out, ct, lens[i]);
        gd_buf_append(out, tag, 16);
        free(ct);
        off += lens[i];
    }
}

static void build_object(const uint8_t *key, const uint8_t *id, const uint8_t prefix[8],
                         const uint8_t *pt, const size_t *lens, size_t nchunks, gd_buf *out)
{
    build_object_v(2, key, id, prefix, pt, lens, nchunks, out);
}

/* The filter's output equals an independent implementation of the format,
 * and the filter reads objects chunked differently. */
static void test_encrypt_format(void **state)
{
    (void)state;
    size_t n = 2 * 65536 + 8928;
    uint8_t *pt = random_bytes(n);
    gd_buf ct;
    encrypt_buf(pt, n, key_a, id_a, &ct);
    assert_int_equal(ct.len, encrypted_size(n));
    assert_memory_equal(ct.data, "GDE1\x02", 5);
    assert_memory_equal(ct.data + 5, id_a, 8);

    size_t lens[] = {65536, 65536, 8928};
    gd_buf want;
    build_object(key_a, id_a, (uint8_t *)ct.data + 13, pt, lens, 3, &want);
    assert_int_equal(want.len, ct.len);
    assert_memory_equal(want.data, ct.data, ct.len);
    gd_buf_free(&want);

    /* Two objects of the same plaintext differ (fresh nonce prefix). */
    gd_buf ct2;
    encrypt_buf(pt, n, key_a, id_a, &ct2);
    assert_int_equal(ct2.len, ct.len);
    assert_true(memcmp(ct2.data + 13, ct.data + 13, 8) != 0);
    gd_buf_free(&ct2);

    /* Exact multiples of the chunk size end with a full final chunk; an
     * empty object is one empty final chunk. */
    size_t n2 = 2 * 65536;
    gd_buf ct3;
    encrypt_buf(pt, n2, key_a, id_a, &ct3);
    size_t lens2[] = {65536, 65536};
    build_object(key_a, id_a, (uint8_t *)ct3.data + 13, pt, lens2, 2, &want);
    assert_int_equal(want.len, ct3.len);
    assert_memory_equal(want.data, ct3.data, ct3.len);
    gd_buf_free(&want);
    gd_buf_free(&ct3);
    encrypt_buf(pt, 0, key_a, id_a, &ct3);
    size_t lens0[] = {0};
    build_object(key_a, id_a, (uint8_t *)ct3.data + 13, pt, lens0, 1, &want);
    assert_int_equal(ct3.len, 21 + 4 + 16);
    assert_memory_equal(want.data, ct3.data, ct3.len);
    gd_buf_free(&want);
    gd_buf_free(&ct3);

    /* Odd chunking, including empty non-final chunks, decrypts. */
    uint8_t prefix[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    size_t odd[] = {10, 0, 65536, 1, 50000, 0, 20000, 13, n - 10 - 65536 - 1 - 50000 - 20000 - 13};
    gd_buf obj, back;
    build_object(key_b, id_b, prefix, pt, odd, 9, &obj);
    gd_err err = {0};
    assert_int_equal(decrypt_buf((uint8_t *)obj.data, obj.len, key_b, id_b, &back, &err), 0);
    assert_int_equal(back.len, n);
    assert_memory_equal(back.data, pt, n);
    gd_buf_free(&back);
    assert_int_equal(decrypt_buf((uint8_t *)obj.data, obj.len, key_b, id_b, &back, &err), 0);
    assert_int_equal(back.len, n);
    gd_buf_free(&back);
    gd_buf_free(&obj);

    /* A chunk claiming more than 65536 bytes is refused before anything. */
    size_t big[] = {65537};
    uint8_t *pt2 = random_bytes(65537);
    build_object(key_b, id_b, prefix, pt2, big, 1, &obj);
    assert_int_equal(decrypt_buf((uint8_t *)obj.data, obj.len, key_b, id_b, &back, &err),
                     GD_E_CORRUPT);
    assert_non_null(strstr(err.msg, "length 65537"));
    assert_int_equal(back.len, 0);
    gd_buf_free(&back);
    gd_buf_free(&obj);
    free(pt2);

    gd_buf_free(&ct);
    free(pt);
}

/* Format 2 binds the object's name: the same bytes under another name fail
 * at the first chunk; format 1 objects (no name bound) are read only where
 * the caller allows them. */
static void test_encrypt_name_bound(void **state)
{
    (void)state;
    uint8_t *pt = random_bytes(70000);
    gd_buf ct, back;
    gd_err err = {0};
    encrypt_buf(pt, 70000, key_a, id_a, &ct);
    assert_int_equal(run_push(gd_filter_decrypt(key_a, id_a, "obj2", true), (uint8_t *)ct.data,
                              ct.len, &back, &err),
                     GD_E_AUTH);
    assert_int_equal(back.len, 0); /* nothing of it was released */
    gd_buf_free(&back);
    gd_buf_free(&ct);

    uint8_t prefix[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t lens[] = {65536, 4464};
    build_object_v(1, key_a, id_a, prefix, pt, lens, 2, &ct);
    gd_err_clear(&err);
    assert_int_equal(run_push(gd_filter_decrypt(key_a, id_a, "obj", false), (uint8_t *)ct.data,
                              ct.len, &back, &err),
                     GD_E_AUTH);
    assert_non_null(strstr(err.msg, "format 1"));
    assert_int_equal(back.len, 0);
    gd_buf_free(&back);
    gd_err_clear(&err);
    assert_int_equal(run_push(gd_filter_decrypt(key_a, id_a, "any name", true), (uint8_t *)ct.data,
                              ct.len, &back, &err),
                     0);
    assert_int_equal(back.len, 70000);
    assert_memory_equal(back.data, pt, 70000);
    gd_buf_free(&back);
    gd_buf_free(&ct);
    free(pt);
}

static void test_encrypt_roundtrip(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 15, 16, 17, 65535, 65536, 65537, 131072, 131073, 1000000};
    uint8_t *pt = random_bytes(1000000);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        gd_err err = {0};
        gd_buf ct, back;
        encrypt_buf(pt, n, key_a, id_a, &ct);
        assert_int_equal(ct.len, encrypted_size(n));
        assert_int_equal(decrypt_buf((uint8_t *)ct.data, ct.len, key_a, id_a, &back, &err), 0);
        assert_int_equal(back.len, n);
        if (n)
            assert_memory_equal(back.data, pt, n);
        gd_buf_free(&back);
        /* Encrypting in pull mode gives an equivalent object. */
        gd_buf ct2;
        assert_int_equal(run_pull(gd_filter_encrypt(key_a, id_a, "obj"), pt, n, &ct2, &err), 0);
        assert_int_equal(ct2.len, ct.len);
        assert_int_equal(decrypt_buf((uint8_t *)ct2.data, ct2.len, key_a, id_a, &back, &err), 0);
        assert_int_equal(back.len, n);
        if (n)
            assert_memory_equal(back.data, pt, n);
        gd_buf_free(&back);
        gd_buf_free(&ct2);
        gd_buf_free(&ct);
    }
    free(pt);
}

/* Decrypting a damaged object must fail with AUTH or CORRUPT, and whatever
 * came out before the failure is a prefix of the plaintext no longer than
 * limit (the chunks before the damage: nothing unverified is released). */
static void expect_damaged(const uint8_t *ct, size_t len, const uint8_t *pt, size_t limit,
                           const char *what, size_t where)
{
    gd_err err = {0};
    gd_buf back;
    int rc = decrypt_buf(ct, len, key_a, id_a, &back, &err);
    if (rc != GD_E_AUTH && rc != GD_E_CORRUPT)
        fail_msg("%s at %zu: rc %d (%s)", what, where, rc, err.msg);
    if (back.len > limit)
        fail_msg("%s at %zu: %zu bytes released, at most %zu allowed (%s)", what, where, back.len,
                 limit, err.msg);
    if (back.len)
        assert_memory_equal(back.data, pt, back.len);
    gd_buf_free(&back);
}

#define CSZ ((size_t)4 + 65536 + 16)

/* Plaintext bytes in the whole chunks that end at or before byte pos. */
static size_t whole_chunks_before(size_t pos)
{
    return pos < 21 ? 0 : (pos - 21) / CSZ * 65536;
}

static void test_encrypt_tamper(void **state)
{
    (void)state;
    /* Small object: every bit of every byte. */
    uint8_t small[50];
    for (size_t i = 0; i < sizeof small; i++)
        small[i] = (uint8_t)i;
    gd_buf ct;
    encrypt_buf(small, sizeof small, key_a, id_a, &ct);
    uint8_t *c = (uint8_t *)ct.data;
    for (size_t pos = 0; pos < ct.len; pos++)
        for (int bit = 0; bit < 8; bit++) {
            c[pos] ^= (uint8_t)(1u << bit);
            expect_damaged(c, ct.len, small, 0, "flip", pos);
            c[pos] ^= (uint8_t)(1u << bit);
        }
    for (size_t cut = 0; cut < ct.len; cut++)
        expect_damaged(c, cut, small, 0, "truncate", cut);
    gd_buf_free(&ct);

    /* Larger object: 3 chunks. */
    size_t n = 2 * 65536 + 8928;
    uint8_t *pt = random_bytes(n);
    encrypt_buf(pt, n, key_a, id_a, &ct);
    c = (uint8_t *)ct.data;
    const size_t csz = 4 + 65536 + 16;
    const size_t b1 = 21 + csz, b2 = 21 + 2 * csz; /* chunk starts */
    size_t marks[] = {0, 21, b1, b2, ct.len};
    for (size_t m = 0; m < 5; m++) {
        size_t lo = marks[m] > 30 ? marks[m] - 30 : 0;
        for (size_t pos = lo; pos < marks[m] + 30 && pos < ct.len; pos++) {
            c[pos] ^= 0x80;
            expect_damaged(c, ct.len, pt, whole_chunks_before(pos), "flip", pos);
            c[pos] ^= 0x01;
            expect_damaged(c, ct.len, pt, whole_chunks_before(pos), "flip", pos);
            c[pos] ^= 0x81;
        }
        for (size_t cut = lo; cut < marks[m] + 30 && cut < ct.len; cut++)
            expect_damaged(c, cut, pt, whole_chunks_before(cut), "truncate", cut);
    }
    gd_buf_free(&ct);

    /* Random single-byte changes, each on a fresh copy. */
    encrypt_buf(pt, n, key_a, id_a, &ct);
    uint8_t *copy = gd_malloc(ct.len);
    for (int k = 0; k < 150; k++) {
        memcpy(copy, ct.data, ct.len);
        size_t pos = rnd_below(ct.len);
        copy[pos] ^= (uint8_t)(1 + rnd_below(255));
        expect_damaged(copy, ct.len, pt, whole_chunks_before(pos), "random change", pos);
        size_t cut = rnd_below(ct.len);
        expect_damaged((uint8_t *)ct.data, cut, pt, whole_chunks_before(cut), "random truncate",
                       cut);
    }

    /* Swap chunks 0 and 1 (same length): authentication fails. */
    memcpy(copy, ct.data, ct.len);
    memcpy(copy + 21, ct.data + b1, csz);
    memcpy(copy + b1, ct.data + 21, csz);
    gd_err err = {0};
    gd_buf back;
    assert_int_equal(decrypt_buf(copy, ct.len, key_a, id_a, &back, &err), GD_E_AUTH);
    assert_string_equal(err.msg, "authentication failed: object was modified or is corrupt");
    assert_int_equal(back.len, 0);
    gd_buf_free(&back);

    /* Drop the middle chunk. */
    memcpy(copy, ct.data, b1);
    memcpy(copy + b1, ct.data + b2, ct.len - b2);
    expect_damaged(copy, ct.len - csz, pt, 65536, "drop chunk", 1);

    /* Cut exactly after a whole non-final chunk: the end is missing. */
    gd_err_clear(&err);
    assert_int_equal(decrypt_buf((uint8_t *)ct.data, b2, key_a, id_a, &back, &err), GD_E_CORRUPT);
    assert_string_equal(err.msg, "encrypted data is truncated");
    assert_true(back.len <= 2 * 65536);
    gd_buf_free(&back);

    /* Data after the final chunk. */
    gd_buf longer;
    gd_buf_init(&longer, 0);
    gd_buf_append(&longer, ct.data, ct.len);
    gd_buf_append(&longer, "\0", 1);
    gd_err_clear(&err);
    assert_int_equal(decrypt_buf((uint8_t *)longer.data, longer.len, key_a, id_a, &back, &err),
                     GD_E_CORRUPT);
    assert_non_null(strstr(err.msg, "after the final chunk"));
    gd_buf_free(&back);
    /* ... a whole second object appended, too. */
    longer.len = ct.len;
    gd_buf_append(&longer, ct.data, ct.len);
    gd_err_clear(&err);
    assert_int_equal(decrypt_buf((uint8_t *)longer.data, longer.len, key_a, id_a, &back, &err),
                     GD_E_CORRUPT);
    gd_buf_free(&back);
    gd_buf_free(&longer);

    /* Not an encrypted object at all. */
    gd_err_clear(&err);
    assert_int_equal(decrypt_buf(pt, 1000, key_a, id_a, &back, &err), GD_E_CORRUPT);
    assert_non_null(strstr(err.msg, "not an encrypted object"));
    gd_buf_free(&back);

    free(copy);
    gd_buf_free(&ct);
    free(pt);
}

static void test_encrypt_wrong_key(void **state)
{
    (void)state;
    size_t n = 100000;
    uint8_t *pt = random_bytes(n);
    gd_buf ct, back;
    gd_err err = {0};
    encrypt_buf(pt, n, key_a, id_a, &ct);

    assert_int_equal(decrypt_buf((uint8_t *)ct.data, ct.len, key_b, id_b, &back, &err), GD_E_AUTH);
    assert_string_equal(err.msg, "object was encrypted with another key (key id a1a2a3a4a5a6a7a8, "
                                 "expected b1b2b3b4b5b6b7b8): check key-file");
    assert_int_equal(back.len, 0);
    gd_buf_free(&back);

    /* Right id, wrong key: the first tag fails, nothing is released. */
    gd_err_clear(&err);
    assert_int_equal(decrypt_buf((uint8_t *)ct.data, ct.len, key_b, id_a, &back, &err), GD_E_AUTH);
    assert_string_equal(err.msg, "authentication failed: object was modified or is corrupt");
    assert_int_equal(back.len, 0);
    gd_buf_free(&back);
    gd_buf_free(&ct);
    free(pt);
}

/* ---- pipelines of real filters ------------------------------------------------- */

static void combo(const uint8_t *data, size_t n)
{
    gd_err err = {0};
    char h_write[65], h_read[65], h_direct[65];

    gd_pipe *p = gd_pipe_new();
    gd_filter *count_in = gd_filter_count();
    gd_filter *sha_w = gd_filter_sha256();
    gd_pipe_add(p, count_in);
    gd_pipe_add(p, gd_filter_zstd_compress(1));
    gd_pipe_add(p, gd_filter_encrypt(key_a, id_a, "obj"));
    gd_pipe_add(p, sha_w);
    mem_sink s = {.fail_at = 0};
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(push_all(p, data, n, &err), 0);
    assert_int_equal(gd_filter_count_bytes(count_in), n);
    gd_filter_sha256_hex(sha_w, h_write);
    gd_sha256_hex(s.b.data, s.b.len, h_direct);
    assert_string_equal(h_write, h_direct);
    gd_pipe_free(p);

    p = gd_pipe_new();
    gd_filter *sha_r = gd_filter_sha256();
    gd_filter *count_out = gd_filter_count();
    gd_pipe_add(p, sha_r);
    gd_pipe_add(p, gd_filter_decrypt(key_a, id_a, "obj", false));
    gd_pipe_add(p, gd_filter_zstd_decompress());
    gd_pipe_add(p, count_out);
    mem_source src = {.p = (uint8_t *)s.b.data, .len = s.b.len, .max_chunk = 30000};
    gd_pipe_set_source(p, source_fn, &src);
    gd_buf out;
    gd_buf_init(&out, 0);
    assert_int_equal(pull_all(p, &out, 100000, &err), 0);
    assert_int_equal(out.len, n);
    if (n)
        assert_memory_equal(out.data, data, n);
    gd_filter_sha256_hex(sha_r, h_read);
    assert_string_equal(h_read, h_write);
    assert_int_equal(gd_filter_count_bytes(count_out), n);
    gd_pipe_free(p);
    gd_buf_free(&out);
    gd_buf_free(&s.b);
}

static void test_pipeline_combo(void **state)
{
    (void)state;
    combo(NULL, 0);
    uint8_t one = 'x';
    combo(&one, 1);
    uint8_t *r = random_bytes(1 << 20);
    combo(r, 1 << 20);
    free(r);
    uint8_t *t = text_bytes(5 << 20);
    combo(t, 5 << 20);
    free(t);
}

/* A filter that moves at most 3 bytes per call, to make the pipeline drive
 * its stages many times; and one that never moves anything. */
static int trickle_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                           gd_err *err)
{
    (void)f;
    (void)err;
    size_t n = in->size - in->pos;
    if (n > 3)
        n = 3;
    if (n > out->size - out->pos)
        n = out->size - out->pos;
    if (n)
        memcpy(out->dst + out->pos, in->src + in->pos, n);
    in->pos += n;
    out->pos += n;
    if (end && in->pos == in->size)
        *done = true;
    return 0;
}

static int stuck_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                         gd_err *err)
{
    (void)f, (void)in, (void)out, (void)end, (void)done, (void)err;
    return 0;
}

static const gd_filter_ops trickle_ops = {.name = "trickle", .process = trickle_process};
static const gd_filter_ops stuck_ops = {.name = "stuck", .process = stuck_process};

static gd_filter *test_filter(const gd_filter_ops *ops)
{
    gd_filter *f = gd_malloc(sizeof *f); /* ops->free is NULL: gd_filter_free frees f */
    f->ops = ops;
    f->self = NULL;
    return f;
}

static void test_pipeline_trickle_and_stuck(void **state)
{
    (void)state;
    size_t n = 200000;
    uint8_t *t = text_bytes(n);
    gd_err err = {0};

    gd_pipe *p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_zstd_compress(1));
    gd_pipe_add(p, test_filter(&trickle_ops));
    gd_pipe_add(p, gd_filter_encrypt(key_a, id_a, "obj"));
    mem_sink s = {.fail_at = 0};
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(push_all(p, t, n, &err), 0);
    gd_pipe_free(p);

    /* Read back through a trickle with reads of 1..3 bytes. */
    p = gd_pipe_new();
    gd_pipe_add(p, test_filter(&trickle_ops));
    gd_pipe_add(p, gd_filter_decrypt(key_a, id_a, "obj", false));
    gd_pipe_add(p, test_filter(&trickle_ops));
    gd_pipe_add(p, gd_filter_zstd_decompress());
    mem_source src = {.p = (uint8_t *)s.b.data, .len = s.b.len, .max_chunk = 5};
    gd_pipe_set_source(p, source_fn, &src);
    gd_buf out;
    gd_buf_init(&out, 0);
    assert_int_equal(pull_all(p, &out, 3, &err), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, t, n);
    gd_buf_free(&out);
    gd_pipe_free(p);
    gd_buf_free(&s.b);

    /* A filter that never progresses fails the pipe instead of spinning. */
    p = gd_pipe_new();
    gd_pipe_add(p, test_filter(&stuck_ops));
    gd_buf_init(&s.b, 0);
    gd_pipe_set_sink(p, sink_fn, &s);
    assert_int_equal(gd_pipe_write(p, t, 10, &err), GD_E_STATE);
    assert_non_null(strstr(err.msg, "stuck"));
    gd_pipe_free(p);
    gd_err_clear(&err);
    p = gd_pipe_new();
    gd_pipe_add(p, gd_filter_count());
    gd_pipe_add(p, test_filter(&stuck_ops));
    mem_source src2 = {.p = t, .len = n};
    gd_pipe_set_source(p, source_fn, &src2);
    uint8_t b[16];
    assert_int_equal(gd_pipe_read(p, b, sizeof b, &err), GD_E_STATE);
    gd_pipe_free(p);
    gd_buf_free(&s.b);
    free(t);
}

/* ---- keys ------------------------------------------------------------------------ */

static void test_scrypt_known_answers(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    gd_err err = {0};
    /* RFC 7914 section 12. */
    assert_int_equal(gd_scrypt_raw("", 0, (const uint8_t *)"", 0, 16, 1, 1, out, 64, &err), 0);
    unhex("77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
          "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
          want, 64);
    assert_memory_equal(out, want, 64);
    assert_int_equal(
        gd_scrypt_raw("password", 8, (const uint8_t *)"NaCl", 4, 1024, 8, 16, out, 64, &err), 0);
    unhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
          "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
          want, 64);
    assert_memory_equal(out, want, 64);

    /* Bad parameters. */
    /* a hostile descriptor's p = 1000000 is refused at once, not run for hours */
    gd_err_clear(&err);
    assert_int_equal(
        gd_scrypt_raw("x", 1, (const uint8_t *)"y", 1, 32768, 8, 1000000, out, 32, &err),
        GD_E_INVALID);
    assert_non_null(strstr(err.msg, "would take too long"));
    gd_err_clear(&err);
    assert_int_equal(gd_scrypt_raw("x", 1, (const uint8_t *)"y", 1, 1000, 8, 1, out, 32, &err),
                     GD_E_INVALID);
    gd_err_clear(&err);
    assert_int_equal(gd_scrypt_raw("x", 1, (const uint8_t *)"y", 1, 1024, 0, 1, out, 32, &err),
                     GD_E_INVALID);
    gd_err_clear(&err);
    assert_int_equal(
        gd_scrypt_raw("x", 1, (const uint8_t *)"y", 1, (uint64_t)1 << 30, 8, 1, out, 32, &err),
        GD_E_INVALID);
    assert_non_null(strstr(err.msg, "1 GiB"));
}

static void test_key_derive(void **state)
{
    (void)state;
    gd_err err = {0};
    gd_kdf_params kp, kp2;
    assert_int_equal(gd_kdf_params_new(&kp, &err), 0);
    assert_int_equal(kp.n, 32768);
    assert_int_equal(kp.r, 8);
    assert_int_equal(kp.p, 1);
    assert_int_equal(gd_kdf_params_new(&kp2, &err), 0);
    assert_true(memcmp(kp.salt, kp2.salt, sizeof kp.salt) != 0);

    /* Small N keeps the test fast. */
    kp.n = 1024;
    kp.r = 1;
    const char *pass = "correct horse battery staple";
    gd_key k1, k2;
    assert_int_equal(gd_key_derive(pass, &kp, &k1, &err), 0);
    assert_int_equal(gd_key_derive(pass, &kp, &k2, &err), 0);
    assert_memory_equal(&k1, &k2, sizeof k1);

    uint8_t raw[32], mac[32];
    char hex[65];
    unsigned int ml = 0;
    assert_int_equal(
        gd_scrypt_raw(pass, strlen(pass), kp.salt, sizeof kp.salt, 1024, 1, 1, raw, 32, &err), 0);
    assert_memory_equal(raw, k1.key, 32);
    HMAC(EVP_sha256(), raw, 32, (const uint8_t *)"geodr key id", 12, mac, &ml);
    assert_memory_equal(k1.id, mac, 8);
    HMAC(EVP_sha256(), raw, 32, (const uint8_t *)"geodr key check", 15, mac, &ml);
    gd_hex(mac, 32, hex);
    assert_string_equal(k1.check, hex);
    HMAC(EVP_sha256(), raw, 32, (const uint8_t *)"geodr key check v2", 18, mac, &ml);
    gd_hex(mac, 32, hex);
    assert_string_equal(k1.check_v2, hex);
    /* The record key is its own subkey, and a record's MAC binds its name:
     * HMAC(HMAC(key, "geodr record mac"), "geodr-record" NUL name NUL body). */
    uint8_t rk[32];
    HMAC(EVP_sha256(), raw, 32, (const uint8_t *)"geodr record mac", 16, rk, &ml);
    assert_memory_equal(k1.mac, rk, 32);
    assert_true(memcmp(k1.mac, k1.key, 32) != 0);
    const char rmsg[] = "geodr-record\0shop/backup/S/manifest\0{}\n";
    HMAC(EVP_sha256(), rk, 32, (const uint8_t *)rmsg, sizeof rmsg - 1, mac, &ml);
    gd_hex(mac, 32, hex);
    char got[65];
    assert_int_equal(gd_key_record_mac(&k1, "shop/backup/S/manifest", "{}\n", 3, got, &err), 0);
    assert_string_equal(got, hex);
    assert_int_equal(gd_key_record_mac(&k1, "shop/backup/T/manifest", "{}\n", 3, got, &err), 0);
    assert_string_not_equal(got, hex);

    /* Another salt, another key. */
    kp2.n = 1024;
    kp2.r = 1;
    assert_int_equal(gd_key_derive(pass, &kp2, &k2, &err), 0);
    assert_true(memcmp(k1.key, k2.key, 32) != 0);
    assert_true(memcmp(k1.id, k2.id, 8) != 0);
    /* Both stay cached (a server alternates between its instances' keys):
     * each again gives its own key, whatever the order. */
    gd_key k3;
    assert_int_equal(gd_key_derive(pass, &kp, &k3, &err), 0);
    assert_memory_equal(&k1, &k3, sizeof k1);
    assert_int_equal(gd_key_derive(pass, &kp2, &k3, &err), 0);
    assert_memory_equal(&k2, &k3, sizeof k2);

    /* Too short. */
    assert_int_equal(gd_key_derive("fifteen chars!!", &kp, &k2, &err), GD_E_INVALID);
    assert_string_equal(err.msg, "key passphrase is too short (15 characters, at least 16): make "
                                 "one with 'geodr keygen FILE'");
    gd_err_clear(&err);
    assert_int_equal(gd_key_derive("sixteen chars!!!", &kp, &k2, &err), 0);
    /* Characters, not bytes: 15 two-byte characters are still too short. */
    assert_int_equal(gd_key_derive("ééééééééééééééé", &kp, &k2, &err), GD_E_INVALID);
    assert_non_null(strstr(err.msg, "(15 characters"));
    gd_err_clear(&err);

    /* Derived keys drive the filters. */
    uint8_t msg[100] = "hello";
    gd_buf ct, back;
    encrypt_buf(msg, sizeof msg, k1.key, k1.id, &ct);
    assert_int_equal(decrypt_buf((uint8_t *)ct.data, ct.len, k1.key, k1.id, &back, &err), 0);
    assert_memory_equal(back.data, msg, sizeof msg);
    gd_buf_free(&back);
    gd_buf_free(&ct);

    uint8_t w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, z[8] = {0};
    gd_wipe(w, sizeof w);
    assert_memory_equal(w, z, 8);
    gd_wipe(NULL, 0);
    uint8_t r1[32], r2[32];
    assert_int_equal(gd_random(r1, sizeof r1, &err), 0);
    assert_int_equal(gd_random(r2, sizeof r2, &err), 0);
    assert_true(memcmp(r1, r2, 32) != 0);
}

static void test_keygen_and_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/geodr-test-io-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = gd_asprintf("%s/key", dir);
    gd_err err = {0};

    mode_t old = umask(022);
    assert_int_equal(gd_keygen_file(path, &err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 44);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(gd_read_small_file(path, 100, &text, &len, &err), 0);
    assert_int_equal(len, 44);
    assert_int_equal(text[43], '\n');
    for (size_t i = 0; i < 43; i++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", text[i]));

    /* Never overwrites. */
    assert_int_equal(gd_keygen_file(path, &err), GD_E_EXISTS);
    char *want = gd_asprintf("%s exists: geodr keygen never overwrites a key", path);
    assert_string_equal(err.msg, want);
    free(want);
    char *text2 = NULL;
    assert_int_equal(gd_read_small_file(path, 100, &text2, &len, &err), 0);
    assert_string_equal(text, text2);
    free(text2);

    /* The file drives key derivation. */
    gd_kdf_params kp = {.n = 1024, .r = 1, .p = 1};
    memcpy(kp.salt, "0123456789abcdef", 16);
    gd_key k1, k2;
    gd_err_clear(&err);
    assert_int_equal(gd_key_from_file(path, &kp, &k1, &err), 0);
    text[43] = '\0';
    assert_int_equal(gd_key_derive(text, &kp, &k2, &err), 0);
    assert_memory_equal(&k1, &k2, sizeof k1);

    /* Missing file: the message names it. */
    char *missing = gd_asprintf("%s/nope", dir);
    assert_int_equal(gd_key_from_file(missing, &kp, &k1, &err), GD_E_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "key-file"));
    gd_err_clear(&err);

    /* Short passphrase in a file: the message names the file, not the secret. */
    char *shortp = gd_asprintf("%s/short", dir);
    FILE *fp = fopen(shortp, "w");
    assert_non_null(fp);
    fputs("hunter2secret\r\nsecond line\n", fp);
    fclose(fp);
    assert_int_equal(gd_key_from_file(shortp, &kp, &k1, &err), GD_E_INVALID);
    assert_non_null(strstr(err.msg, shortp));
    assert_non_null(strstr(err.msg, "too short (13 characters"));
    assert_non_null(strstr(err.msg, "geodr keygen"));
    assert_null(strstr(err.msg, "hunter2"));
    gd_err_clear(&err);

    /* A directory that does not exist. */
    char *nodir = gd_asprintf("%s/no/such/key", dir);
    assert_int_equal(gd_keygen_file(nodir, &err), GD_E_IO);
    assert_non_null(strstr(err.msg, nodir));

    unlink(shortp);
    unlink(path);
    rmdir(dir);
    free(nodir);
    free(shortp);
    free(missing);
    free(text);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_sha256_large_and_count),
        cmocka_unit_test(test_pipe_no_filters),
        cmocka_unit_test(test_pipe_mode_errors),
        cmocka_unit_test(test_pipe_sink_and_source_failures),
        cmocka_unit_test(test_zstd_roundtrip),
        cmocka_unit_test(test_zstd_bomb_bounded),
        cmocka_unit_test(test_zstd_corrupt),
        cmocka_unit_test(test_gcm_known_answers),
        cmocka_unit_test(test_encrypt_format),
        cmocka_unit_test(test_encrypt_name_bound),
        cmocka_unit_test(test_encrypt_roundtrip),
        cmocka_unit_test(test_encrypt_tamper),
        cmocka_unit_test(test_encrypt_wrong_key),
        cmocka_unit_test(test_pipeline_combo),
        cmocka_unit_test(test_pipeline_trickle_and_stuck),
        cmocka_unit_test(test_scrypt_known_answers),
        cmocka_unit_test(test_key_derive),
        cmocka_unit_test(test_keygen_and_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
