/* Encrypted object stream: AES-256-GCM in independently authenticated chunks.
 *
 * Format (all integers big-endian):
 *
 *   header (21 bytes)
 *     magic          4 bytes  "GDE1" (0x47 0x44 0x45 0x31)
 *     version        1 byte   2 (1: format 1 objects, read where allowed)
 *     key id         8 bytes  first 8 bytes of HMAC-SHA256(key, "geodr key id")
 *     nonce prefix   8 bytes  random, fresh for every object
 *
 *   chunks, i = 0, 1, 2, ... (at least one; the last one is marked final)
 *     length field   4 bytes  bit 31 set on the final chunk, clear otherwise;
 *                             bits 0..30 = L, the plaintext length, L <= 65536
 *     ciphertext     L bytes
 *     tag           16 bytes  GCM authentication tag
 *
 *   chunk i is sealed with AES-256-GCM under the 32-byte key with
 *     nonce (12 bytes) = nonce prefix (8) || uint32 i (4)
 *     AAD   (61 bytes) = the 21-byte header || uint32 i (4) || length field (4)
 *                          || SHA-256 of the object's name (32)
 *     (version 1: the same without the name's hash, 29 bytes)
 *
 *   Nothing follows the final chunk.
 *
 * The writer emits chunks of exactly 65536 plaintext bytes except the final
 * one, which holds the rest (0..65536 bytes; empty only for an empty object).
 * The reader accepts any L <= 65536 on any chunk.
 *
 * Why each piece is there: the header in the AAD binds every chunk to this
 * object's key id and nonce prefix; the index in nonce and AAD makes
 * reordering, dropping or duplicating chunks fail authentication; the name
(relative to the region root, the same in every region) makes an object
renamed or moved into another set fail at its first chunk; the final
 * bit in the AAD makes cutting the stream at a chunk boundary detectable (the
 * reader insists on seeing a final chunk, and a non-final chunk cannot be
 * relabelled final).  Random 64-bit prefixes plus the 32-bit counter keep
 * nonces unique per key for far more objects than a repository will hold.
 *
 * The decrypter releases a chunk's plaintext only after its tag verified, so
 * it holds one chunk (64 KiB) of plaintext; the encrypter holds one chunk of
 * plaintext and streams ciphertext straight into the caller's output.
 */
#include "io/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "io/key.h"

#define HDR_LEN 21
#define NONCE_PREFIX_LEN 8
#define CHUNK_MAX 65536u
#define TAG_LEN 16
#define FINAL_BIT 0x80000000u
#define NAME_HASH_LEN 32
#define AAD_LEN (HDR_LEN + 8 + NAME_HASH_LEN)

static const uint8_t magic[4] = {'G', 'D', 'E', '1'};
#define VERSION 2
#define VERSION_1 1

typedef struct crypt_state {
    gd_filter base;
    EVP_CIPHER_CTX *ctx;
    uint8_t key_id[GD_KEY_ID_LEN];
    uint8_t name_hash[NAME_HASH_LEN]; /* SHA-256 of the bound name */
    bool allow_v1;                    /* decrypt: version 1 objects are accepted */
    uint8_t hdr[HDR_LEN];
    size_t hdr_have; /* decrypt: header bytes received */
    uint32_t index;  /* number of chunks sealed / opened so far */
    bool started;    /* encrypt: header made */
    bool finished;   /* final chunk written / verified */

    /* Small bytes in transit: header, length field and tag while encrypting;
     * length field and tag while decrypting. */
    uint8_t small[HDR_LEN + 4];
    size_t small_len, small_pos;

    /* The chunk being sealed or opened. */
    bool in_chunk;
    bool chunk_final;
    uint32_t chunk_len; /* L */
    size_t done_len;    /* ciphertext bytes sealed / opened */

    uint8_t pt[CHUNK_MAX];
    size_t pt_len; /* encrypt: plaintext buffered; decrypt: verified plaintext */
    size_t pt_pos; /* decrypt: verified plaintext already released */
    bool pt_ready; /* decrypt: pt[pt_pos..pt_len) verified, being released */
} crypt_state;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void crypt_free(gd_filter *f)
{
    crypt_state *s = f->self;
    EVP_CIPHER_CTX_free(s->ctx); /* cleanses the key schedule */
    gd_wipe(s, sizeof *s);
    free(s);
}

/* Sets the nonce for chunk s->index and feeds the AAD. */
static int chunk_begin(crypt_state *s, bool enc, const uint8_t lenfield[4], gd_err *err)
{
    uint8_t iv[12];
    uint8_t aad[AAD_LEN];
    memcpy(iv, s->hdr + HDR_LEN - NONCE_PREFIX_LEN, NONCE_PREFIX_LEN);
    put32(iv + NONCE_PREFIX_LEN, s->index);
    memcpy(aad, s->hdr, HDR_LEN);
    put32(aad + HDR_LEN, s->index);
    memcpy(aad + HDR_LEN + 4, lenfield, 4);
    memcpy(aad + HDR_LEN + 8, s->name_hash, NAME_HASH_LEN);
    int aad_len = s->hdr[4] == VERSION_1 ? HDR_LEN + 8 : AAD_LEN;
    int outl = 0;
    int ok = enc ? EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, iv) &&
                       EVP_EncryptUpdate(s->ctx, NULL, &outl, aad, aad_len)
                 : EVP_DecryptInit_ex(s->ctx, NULL, NULL, NULL, iv) &&
                       EVP_DecryptUpdate(s->ctx, NULL, &outl, aad, aad_len);
    if (!ok)
        return gd_err_set(err, GD_E_STATE, "AES-GCM initialisation failed");
    return 0;
}

/* Copies pending small bytes to out; true when none are left. */
static bool flush_small(crypt_state *s, gd_span_out *out)
{
    size_t n = min_sz(s->small_len - s->small_pos, out->size - out->pos);
    memcpy(out->dst + out->pos, s->small + s->small_pos, n);
    s->small_pos += n;
    out->pos += n;
    if (s->small_pos < s->small_len)
        return false;
    s->small_pos = s->small_len = 0;
    return true;
}

static int seal_start(crypt_state *s, bool final, gd_err *err)
{
    if (s->index == UINT32_MAX && !final)
        return gd_err_set(err, GD_E_INVALID, "object is too large to encrypt (2^32 chunks)");
    uint32_t lf = (uint32_t)s->pt_len | (final ? FINAL_BIT : 0);
    put32(s->small + s->small_len, lf);
    int rc = chunk_begin(s, true, s->small + s->small_len, err);
    if (rc < 0)
        return rc;
    s->small_len += 4;
    s->in_chunk = true;
    s->chunk_final = final;
    s->chunk_len = (uint32_t)s->pt_len;
    s->done_len = 0;
    return 0;
}

static int encrypt_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                           gd_err *err)
{
    crypt_state *s = f->self;
    if (!s->started) {
        memcpy(s->hdr, magic, 4);
        s->hdr[4] = VERSION;
        memcpy(s->hdr + 5, s->key_id, GD_KEY_ID_LEN);
        int rc = gd_random(s->hdr + 5 + GD_KEY_ID_LEN, NONCE_PREFIX_LEN, err);
        if (rc < 0)
            return rc;
        memcpy(s->small, s->hdr, HDR_LEN);
        s->small_len = HDR_LEN;
        s->small_pos = 0;
        s->started = true;
    }
    for (;;) {
        if (!flush_small(s, out))
            return 0;
        if (s->in_chunk) {
            size_t n = min_sz(s->chunk_len - s->done_len, out->size - out->pos);
            if (n > 0) {
                int outl = 0;
                if (!EVP_EncryptUpdate(s->ctx, out->dst + out->pos, &outl, s->pt + s->done_len,
                                       (int)n))
                    return gd_err_set(err, GD_E_STATE, "AES-GCM encryption failed");
                out->pos += n;
                s->done_len += n;
            }
            if (s->done_len < s->chunk_len)
                return 0; /* out is full */
            int outl = 0;
            if (!EVP_EncryptFinal_ex(s->ctx, s->small, &outl) ||
                !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, s->small))
                return gd_err_set(err, GD_E_STATE, "AES-GCM encryption failed");
            s->small_len = TAG_LEN;
            s->small_pos = 0;
            s->in_chunk = false;
            s->pt_len = 0;
            s->index++;
            if (s->chunk_final)
                s->finished = true;
            continue;
        }
        if (s->finished) {
            *done = true;
            return 0;
        }
        size_t n = min_sz(CHUNK_MAX - s->pt_len, in->size - in->pos);
        if (n > 0)
            memcpy(s->pt + s->pt_len, in->src + in->pos, n);
        s->pt_len += n;
        in->pos += n;
        int rc;
        if (s->pt_len == CHUNK_MAX && in->pos < in->size)
            rc = seal_start(s, false, err); /* more follows: not final */
        else if (end && in->pos == in->size)
            rc = seal_start(s, true, err);
        else
            return 0; /* wait for more input (or the end) */
        if (rc < 0)
            return rc;
    }
}

/* ---- decrypt -------------------------------------------------------------- */

static int check_header(crypt_state *s, gd_err *err)
{
    if (memcmp(s->hdr, magic, 4) != 0)
        return gd_err_set(err, GD_E_CORRUPT, "not an encrypted object (bad magic)");
    if (s->hdr[4] == VERSION_1 && !s->allow_v1)
        return gd_err_set(err, GD_E_AUTH,
                          "object is in the format 1 encryption (not bound to its name), which "
                          "only sets and segments written before the repository moved to format "
                          "2 may hold: refused (it may have been moved here from elsewhere)");
    if (s->hdr[4] != VERSION && s->hdr[4] != VERSION_1)
        return gd_err_set(err, GD_E_CORRUPT, "unsupported encrypted object version %u",
                          (unsigned)s->hdr[4]);
    if (memcmp(s->hdr + 5, s->key_id, GD_KEY_ID_LEN) != 0) {
        char got[2 * GD_KEY_ID_LEN + 1], want[2 * GD_KEY_ID_LEN + 1];
        gd_hex(s->hdr + 5, GD_KEY_ID_LEN, got);
        gd_hex(s->key_id, GD_KEY_ID_LEN, want);
        return gd_err_set(err, GD_E_AUTH,
                          "object was encrypted with another key (key id %s, expected %s): "
                          "check key-file",
                          got, want);
    }
    return 0;
}

/* Takes up to want bytes from in into s->small; true when it holds want. */
static bool take_small(crypt_state *s, gd_span_in *in, size_t want)
{
    size_t n = min_sz(want - s->small_len, in->size - in->pos);
    if (n > 0)
        memcpy(s->small + s->small_len, in->src + in->pos, n);
    s->small_len += n;
    in->pos += n;
    return s->small_len == want;
}

static int decrypt_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                           gd_err *err)
{
    crypt_state *s = f->self;
    int rc;
    for (;;) {
        if (s->pt_ready) {
            size_t n = min_sz(s->pt_len - s->pt_pos, out->size - out->pos);
            memcpy(out->dst + out->pos, s->pt + s->pt_pos, n);
            out->pos += n;
            s->pt_pos += n;
            if (s->pt_pos < s->pt_len)
                return 0; /* out is full */
            s->pt_ready = false;
            s->pt_len = s->pt_pos = 0;
        }
        if (s->hdr_have < HDR_LEN) {
            size_t n = min_sz(HDR_LEN - s->hdr_have, in->size - in->pos);
            if (n > 0)
                memcpy(s->hdr + s->hdr_have, in->src + in->pos, n);
            s->hdr_have += n;
            in->pos += n;
            if (s->hdr_have < HDR_LEN)
                break;
            rc = check_header(s, err);
            if (rc < 0)
                return rc;
            continue;
        }
        if (s->finished) {
            if (in->pos < in->size)
                return gd_err_set(err, GD_E_CORRUPT,
                                  "encrypted data is corrupt (data after the final chunk)");
            if (end)
                *done = true;
            return 0;
        }
        if (!s->in_chunk) {
            if (!take_small(s, in, 4))
                break;
            uint32_t lf = get32(s->small);
            s->chunk_final = (lf & FINAL_BIT) != 0;
            s->chunk_len = lf & ~FINAL_BIT;
            if (s->chunk_len > CHUNK_MAX)
                return gd_err_set(err, GD_E_CORRUPT,
                                  "encrypted data is corrupt (chunk %u length %u)",
                                  (unsigned)s->index, (unsigned)s->chunk_len);
            rc = chunk_begin(s, false, s->small, err);
            if (rc < 0)
                return rc;
            s->small_len = 0;
            s->in_chunk = true;
            s->done_len = 0;
            continue;
        }
        if (s->done_len < s->chunk_len) {
            size_t n = min_sz(s->chunk_len - s->done_len, in->size - in->pos);
            int outl = 0;
            if (n > 0 &&
                !EVP_DecryptUpdate(s->ctx, s->pt + s->done_len, &outl, in->src + in->pos, (int)n))
                return gd_err_set(err, GD_E_STATE, "AES-GCM decryption failed");
            in->pos += n;
            s->done_len += n;
            if (s->done_len < s->chunk_len)
                break;
        }
        if (!take_small(s, in, TAG_LEN))
            break;
        int outl = 0;
        if (!EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, s->small) ||
            EVP_DecryptFinal_ex(s->ctx, s->pt + s->chunk_len, &outl) <= 0) {
            gd_wipe(s->pt, s->chunk_len);
            return gd_err_set(err, GD_E_AUTH,
                              "authentication failed: object was modified or is corrupt");
        }
        s->small_len = 0;
        s->in_chunk = false;
        s->pt_len = s->chunk_len;
        s->pt_pos = 0;
        s->pt_ready = true;
        if (s->chunk_final)
            s->finished = true;
        else if (s->index == UINT32_MAX)
            return gd_err_set(err, GD_E_CORRUPT, "encrypted data is corrupt (too many chunks)");
        s->index++;
    }
    /* All input is consumed and more is needed. */
    if (end)
        return gd_err_set(err, GD_E_CORRUPT, "encrypted data is truncated");
    return 0;
}

static const gd_filter_ops encrypt_ops = {
    .name = "encrypt",
    .process = encrypt_process,
    .free = crypt_free,
};

static const gd_filter_ops decrypt_ops = {
    .name = "decrypt",
    .process = decrypt_process,
    .free = crypt_free,
};

static gd_filter *crypt_new(const gd_filter_ops *ops, bool enc, const uint8_t *key,
                            const uint8_t *key_id, const char *name, bool allow_v1)
{
    crypt_state *s = gd_calloc(1, sizeof *s);
    s->ctx = EVP_CIPHER_CTX_new();
    if (s->ctx == NULL) {
        fprintf(stderr, "geodr: out of memory creating a cipher context\n");
        abort();
    }
    /* AES-256-GCM with the default 12-byte IV; the IV is set per chunk.
     * This only fails when the library is broken. */
    int ok = enc ? EVP_EncryptInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, key, NULL)
                 : EVP_DecryptInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, key, NULL);
    if (!ok) {
        fprintf(stderr, "geodr: OpenSSL cannot initialise AES-256-GCM\n");
        abort();
    }
    memcpy(s->key_id, key_id, GD_KEY_ID_LEN);
    unsigned int hl = NAME_HASH_LEN;
    if (!EVP_Digest(name, strlen(name), s->name_hash, &hl, EVP_sha256(), NULL)) {
        fprintf(stderr, "geodr: OpenSSL cannot compute SHA-256\n");
        abort();
    }
    s->allow_v1 = allow_v1;
    s->base = (gd_filter){.ops = ops, .self = s};
    return &s->base;
}

gd_filter *gd_filter_encrypt(const uint8_t key[GD_KEY_LEN], const uint8_t key_id[GD_KEY_ID_LEN],
                             const char *name)
{
    return crypt_new(&encrypt_ops, true, key, key_id, name, false);
}

gd_filter *gd_filter_decrypt(const uint8_t key[GD_KEY_LEN], const uint8_t key_id[GD_KEY_ID_LEN],
                             const char *name, bool allow_v1)
{
    return crypt_new(&decrypt_ops, false, key, key_id, name, allow_v1);
}
