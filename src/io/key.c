/* Keys: scrypt stretching of the key-file passphrase, key id / key check,
 * key-file generation, randomness and wiping. */
#include "io/key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "common/util.h"

#define KDF_DEFAULT_N 32768
#define KDF_DEFAULT_R 8
#define KDF_DEFAULT_P 1
/* Defaults need 32 MiB; never let a descriptor make us take more than this. */
#define SCRYPT_MEM_CAP ((uint64_t)1 << 30)
#define SCRYPT_MEM_MIN ((uint64_t)64 << 20)
/* ... nor spin for minutes: N*r*p at most 64 times the defaults' (a few
 * seconds); a hostile descriptor with p = 1000000 would run for hours. */
#define SCRYPT_WORK_CAP ((uint64_t)KDF_DEFAULT_N * KDF_DEFAULT_R * KDF_DEFAULT_P * 64)

void gd_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

int gd_random(void *buf, size_t n, gd_err *err)
{
    uint8_t *p = buf;
    while (n > 0) {
        int k = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, k) != 1)
            return gd_err_set(err, GD_E_IO, "the random number generator failed");
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int gd_kdf_params_new(gd_kdf_params *out, gd_err *err)
{
    gd_kdf_params kp = {.n = KDF_DEFAULT_N, .r = KDF_DEFAULT_R, .p = KDF_DEFAULT_P};
    int rc = gd_random(kp.salt, sizeof kp.salt, err);
    if (rc < 0)
        return rc;
    *out = kp;
    return 0;
}

int gd_scrypt_raw(const void *pass, size_t passlen, const uint8_t *salt, size_t saltlen, uint64_t n,
                  uint32_t r, uint32_t p, uint8_t *out, size_t outlen, gd_err *err)
{
    int rc = 0;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;

    if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0)
        return gd_err_set(err, GD_E_INVALID,
                          "invalid scrypt parameters (N=%llu, r=%u, p=%u): N must be a power "
                          "of two above 1, r and p positive",
                          (unsigned long long)n, (unsigned)r, (unsigned)p);
    /* OpenSSL's accounting: B = 128*r*p bytes, V = 128*r*(N+2) bytes. */
    uint64_t cap = SCRYPT_MEM_CAP;
    if (n > cap / 128 / r || p > cap / 128 / r || 128 * (uint64_t)r * (n + 2 + p) > cap)
        return gd_err_set(err, GD_E_INVALID,
                          "scrypt parameters N=%llu r=%u p=%u need more than 1 GiB of memory",
                          (unsigned long long)n, (unsigned)r, (unsigned)p);
    if (p > SCRYPT_WORK_CAP / r || n > SCRYPT_WORK_CAP / r / p)
        return gd_err_set(err, GD_E_INVALID,
                          "scrypt parameters N=%llu r=%u p=%u would take too long (N*r*p above "
                          "%llu); geodr never writes such a descriptor: the region may have been "
                          "tampered with",
                          (unsigned long long)n, (unsigned)r, (unsigned)p,
                          (unsigned long long)SCRYPT_WORK_CAP);
    uint64_t maxmem = 128 * (uint64_t)r * (n + 2 + p) + ((uint64_t)1 << 20);
    if (maxmem < SCRYPT_MEM_MIN)
        maxmem = SCRYPT_MEM_MIN;

    kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (kdf == NULL) {
        rc = gd_err_set(err, GD_E_STATE, "OpenSSL has no scrypt implementation");
        goto out;
    }
    kctx = EVP_KDF_CTX_new(kdf);
    if (kctx == NULL) {
        rc = gd_err_set(err, GD_E_NOMEM, "cannot create a scrypt context");
        goto out;
    }
    OSSL_PARAM params[7];
    OSSL_PARAM *q = params;
    /* A non-NULL pointer even for empty inputs (OpenSSL copies them). */
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)(passlen ? pass : ""),
                                             passlen);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                             (void *)(saltlen ? (const void *)salt : ""), saltlen);
    *q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    *q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    *q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    *q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    *q = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, outlen, params) != 1) {
        rc = gd_err_set(err, GD_E_INVALID, "scrypt failed (N=%llu, r=%u, p=%u)",
                        (unsigned long long)n, (unsigned)r, (unsigned)p);
        goto out;
    }
out:
    EVP_KDF_CTX_free(kctx); /* cleanses the copied password */
    EVP_KDF_free(kdf);
    return rc;
}

static int hmac(const uint8_t key[GD_KEY_LEN], const char *label, uint8_t mac[32], gd_err *err)
{
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, GD_KEY_LEN, (const unsigned char *)label, strlen(label), mac,
             &len) == NULL ||
        len != 32)
        return gd_err_set(err, GD_E_STATE, "HMAC-SHA256 failed");
    return 0;
}

int gd_key_record_mac(const gd_key *k, const char *name, const void *body, size_t len, char out[65],
                      gd_err *err)
{
    static const char label[] = "geodr-record"; /* with its NUL */
    uint8_t mac[32];
    size_t ml = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    int ok = c != NULL && EVP_MAC_init(c, k->mac, sizeof k->mac, params) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)label, sizeof label) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)name, strlen(name) + 1) == 1 &&
             EVP_MAC_update(c, body, len) == 1 && EVP_MAC_final(c, mac, &ml, sizeof mac) == 1 &&
             ml == sizeof mac;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    if (!ok)
        return gd_err_set(err, GD_E_STATE, "HMAC-SHA256 failed");
    gd_hex(mac, sizeof mac, out);
    return 0;
}

/* Characters of a UTF-8 string (bytes that do not continue a sequence). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* The last derivations, kept for the process: opening an instance in a
 * second region (a copy region holds the same descriptor, so the same salt)
 * would stretch the same passphrase again, a quarter of a second of CPU and
 * 32 MiB.  A server opens every instance's regions over and over (each API
 * call that reads them), each instance with its own key, so one entry per
 * key up to KCACHE_N, the oldest replaced first: with a single entry two
 * instances evicted each other and every call stretched again
 * (bench/server-soak).  Matched by a SHA-256 over the passphrase and the
 * parameters; it holds no more than the derived keys the process holds
 * anyway. */
#define KCACHE_N 16
static pthread_mutex_t g_kcache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool valid;
    uint8_t tag[32];
    gd_key key;
} g_kcache[KCACHE_N];
static size_t g_kcache_next; /* the slot the next new key takes */

static pthread_once_t g_kcache_once = PTHREAD_ONCE_INIT;
static uint8_t g_kcache_salt[32]; /* per process: the tag is no offline guessing aid */
static bool g_kcache_salted;

static void kcache_init(void)
{
    g_kcache_salted = RAND_bytes(g_kcache_salt, sizeof g_kcache_salt) == 1;
}

static void kcache_tag(const char *pass, size_t len, const gd_kdf_params *kp, uint8_t tag[32])
{
    pthread_once(&g_kcache_once, kcache_init);
    EVP_MD_CTX *c = g_kcache_salted ? EVP_MD_CTX_new() : NULL;
    unsigned int tl = 32;
    uint64_t nrp[3] = {kp->n, kp->r, kp->p};
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(c, g_kcache_salt, sizeof g_kcache_salt) != 1 ||
        EVP_DigestUpdate(c, nrp, sizeof nrp) != 1 ||
        EVP_DigestUpdate(c, kp->salt, sizeof kp->salt) != 1 ||
        EVP_DigestUpdate(c, pass, len) != 1 || EVP_DigestFinal_ex(c, tag, &tl) != 1)
        memset(tag, 0, 32); /* an all-zero tag never matches: see kcache_get */
    EVP_MD_CTX_free(c);
}

/* The entry of tag, or -1; called with g_kcache_mu held. */
static int kcache_find(const uint8_t tag[32])
{
    static const uint8_t zero[32];
    if (memcmp(tag, zero, 32) == 0)
        return -1;
    for (int i = 0; i < KCACHE_N; i++)
        if (g_kcache[i].valid && CRYPTO_memcmp(tag, g_kcache[i].tag, 32) == 0)
            return i;
    return -1;
}

static bool kcache_get(const uint8_t tag[32], gd_key *out)
{
    pthread_mutex_lock(&g_kcache_mu);
    int i = kcache_find(tag);
    if (i >= 0)
        *out = g_kcache[i].key;
    pthread_mutex_unlock(&g_kcache_mu);
    return i >= 0;
}

static void kcache_put(const uint8_t tag[32], const gd_key *k)
{
    pthread_mutex_lock(&g_kcache_mu);
    if (kcache_find(tag) < 0) {
        size_t i = g_kcache_next++ % KCACHE_N;
        memcpy(g_kcache[i].tag, tag, 32);
        g_kcache[i].key = *k;
        g_kcache[i].valid = true;
    }
    pthread_mutex_unlock(&g_kcache_mu);
}

int gd_key_derive(const char *passphrase, const gd_kdf_params *kp, gd_key *out, gd_err *err)
{
    gd_key k;
    uint8_t mac[32];
    size_t len = strlen(passphrase);
    size_t chars = utf8_chars(passphrase);
    int rc;

    if (chars < GD_PASSPHRASE_MIN)
        return gd_err_set(err, GD_E_INVALID,
                          "key passphrase is too short (%zu characters, at least %d): make one "
                          "with 'geodr keygen FILE'",
                          chars, GD_PASSPHRASE_MIN);
    uint8_t tag[32];
    kcache_tag(passphrase, len, kp, tag);
    if (kcache_get(tag, out)) {
        gd_wipe(tag, sizeof tag);
        return 0;
    }
    rc = gd_scrypt_raw(passphrase, len, kp->salt, sizeof kp->salt, kp->n, kp->r, kp->p, k.key,
                       sizeof k.key, err);
    if (rc < 0)
        goto out;
    rc = hmac(k.key, "geodr key id", mac, err);
    if (rc < 0)
        goto out;
    memcpy(k.id, mac, GD_KEY_ID_LEN);
    rc = hmac(k.key, "geodr key check", mac, err);
    if (rc < 0)
        goto out;
    gd_hex(mac, sizeof mac, k.check);
    rc = hmac(k.key, "geodr key check v2", mac, err);
    if (rc < 0)
        goto out;
    gd_hex(mac, sizeof mac, k.check_v2);
    rc = hmac(k.key, "geodr record mac", k.mac, err);
    if (rc < 0)
        goto out;
    *out = k;
    kcache_put(tag, &k);
out:
    gd_wipe(tag, sizeof tag);
    gd_wipe(&k, sizeof k);
    gd_wipe(mac, sizeof mac);
    return rc;
}

int gd_key_from_file(const char *path, const gd_kdf_params *kp, gd_key *out, gd_err *err)
{
    char *pass = NULL;
    int rc = gd_read_secret_file(path, &pass, err);
    if (rc < 0) {
        gd_err_prefix(err, "key-file");
        return rc;
    }
    rc = gd_key_derive(pass, kp, out, err);
    if (rc < 0)
        gd_err_prefix(err, "key-file %s", path);
    gd_wipe(pass, strlen(pass));
    free(pass);
    return rc;
}

/* base64url without padding; out holds 4*ceil(n/3)+1 bytes. */
static size_t b64url(const uint8_t *p, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

/* Syncs the directory holding path so the new name survives a crash.  Best
 * effort: the file itself is already synced, and some filesystems refuse
 * fsync on directories. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? gd_strdup(".")
                : slash == path ? gd_strdup("/")
                                : gd_strndup(path, (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int gd_keygen_file(const char *path, gd_err *err)
{
    uint8_t raw[32];
    char text[48];
    int fd = -1;
    bool created = false;
    int rc = gd_random(raw, sizeof raw, err);
    if (rc < 0)
        goto out;
    size_t len = b64url(raw, sizeof raw, text);
    text[len++] = '\n';

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = gd_err_set(err, GD_E_EXISTS, "%s exists: geodr keygen never overwrites a key",
                            path);
        else
            rc = gd_err_sys(err, errno, "cannot create key-file %s", path);
        goto out;
    }
    created = true;
    /* The umask may have removed bits; the mode must be exactly 0600. */
    if (fchmod(fd, 0600) != 0) {
        rc = gd_err_sys(err, errno, "cannot set mode 0600 on key-file %s", path);
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = gd_err_sys(err, errno, "cannot write key-file %s", path);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = gd_err_sys(err, errno, "cannot sync key-file %s", path);
        goto out;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = gd_err_sys(err, errno, "cannot close key-file %s", path);
        goto out;
    }
    sync_parent(path);
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && created)
        unlink(path);
    gd_wipe(raw, sizeof raw);
    gd_wipe(text, sizeof text);
    return rc;
}

int gd_random_token(char out[GD_TOKEN_LEN + 1], gd_err *err)
{
    uint8_t rnd[GD_TOKEN_LEN / 2];
    int rc = gd_random(rnd, sizeof rnd, err);
    if (rc == 0)
        gd_hex(rnd, sizeof rnd, out);
    gd_wipe(rnd, sizeof rnd);
    return rc;
}
