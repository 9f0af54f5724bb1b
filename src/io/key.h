/* Keys: a passphrase (from the instance's key-file) is stretched with scrypt
 * into a 256-bit master key.  The salt and scrypt parameters live in the
 * instance descriptor of the repository (never the key).  The master key is
 * the AES-256-GCM data key; everything else is derived from it with
 * HMAC-SHA256 under a label, so no two uses share a key:
 *   key id       = first 8 bytes of HMAC(key, "geodr key id")  (in every encrypted object header)
 *   key check    = hex of HMAC(key, "geodr key check")          (format 1 descriptors)
 *   key check v2 = hex of HMAC(key, "geodr key check v2")       (format 2 descriptors)
 *   record key   = HMAC(key, "geodr record mac")                (MACs of descriptor and records)
 * so a wrong passphrase is recognised before anything is read or written.
 * The two key checks differ so that a format 2 descriptor cannot be turned
 * into a format 1 one (whose records are not authenticated) by editing. */
#ifndef GD_IO_KEY_H
#define GD_IO_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "io/filter.h"

#define GD_KDF_SALT_LEN 16
#define GD_PASSPHRASE_MIN 16

typedef struct gd_kdf_params {
    uint64_t n; /* scrypt N (power of two), default 32768 */
    uint32_t r; /* default 8 */
    uint32_t p; /* default 1 */
    uint8_t salt[GD_KDF_SALT_LEN];
} gd_kdf_params;

typedef struct gd_key {
    uint8_t key[GD_KEY_LEN];
    uint8_t id[GD_KEY_ID_LEN];
    char check[65];    /* hex, format 1 */
    char check_v2[65]; /* hex, format 2 */
    uint8_t mac[32];   /* the record key */
} gd_key;

/* Fresh parameters with defaults and a random salt. */
int gd_kdf_params_new(gd_kdf_params *out, gd_err *err);
/* Derives the key.  Passphrases shorter than GD_PASSPHRASE_MIN characters
 * (UTF-8 code points) fail with GD_E_INVALID (the message says how to make
 * one: geodr keygen).  out is written only on success. */
int gd_key_derive(const char *passphrase, const gd_kdf_params *kp, gd_key *out, gd_err *err);
/* Reads the key-file (first line) and derives. */
int gd_key_from_file(const char *path, const gd_kdf_params *kp, gd_key *out, gd_err *err);
/* Writes a new random passphrase (32 random bytes, base64url, 43 chars) to
 * path with mode 0600; refuses to overwrite an existing file. */
int gd_keygen_file(const char *path, gd_err *err);

/* Raw scrypt (RFC 7914) of pass with salt into out (outlen bytes).  N must be
 * a power of two > 1, r and p > 0; memory is capped at 1 GiB.  Bad or too
 * costly parameters fail with GD_E_INVALID.  gd_key_derive() uses this; it
 * is public for known-answer tests. */
int gd_scrypt_raw(const void *pass, size_t passlen, const uint8_t *salt, size_t saltlen, uint64_t n,
                  uint32_t r, uint32_t p, uint8_t *out, size_t outlen, gd_err *err);

/* HMAC-SHA256 under the record key of: "geodr-record" NUL name NUL body, in
 * hex (65 bytes with NUL).  name is the object's name relative to the region
 * root (the same in every region), so a record authenticated under one name
 * fails under any other. */
int gd_key_record_mac(const gd_key *k, const char *name, const void *body, size_t len, char out[65],
                      gd_err *err);

/* Cryptographically strong random bytes. */
int gd_random(void *buf, size_t n, gd_err *err);
/* A random one-time password: 36 lowercase hex characters (144 bits). */
#define GD_TOKEN_LEN 36
int gd_random_token(char out[GD_TOKEN_LEN + 1], gd_err *err);
/* SHA-256 of a buffer as hex (65 bytes with NUL). */
void gd_sha256_hex(const void *p, size_t n, char out[65]);
/* Wipes memory holding secrets. */
void gd_wipe(void *p, size_t n);

#endif
