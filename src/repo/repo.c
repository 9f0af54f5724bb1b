#include "repo/repo.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/util.h"
#include "repo/lock.h"

/* Manifest and record reads are independent requests: over a WAN region
 * their latency, not their size, is the cost, so several are in flight. */
#define READERS 16

#define DESC_MAX (1024 * 1024)

const char *gd_json_str(json_t *o, const char *key, const char *dflt)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : dflt;
}

long long gd_json_int(json_t *o, const char *key, long long dflt)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static int put_json(gd_storage *st, const char *name, json_t *j, gd_err *err)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise %s", name);
    size_t n = strlen(text);
    char *withnl = gd_malloc(n + 2);
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    free(text);
    int rc = gd_storage_put_all(st, name, withnl, n + 1, err);
    free(withnl);
    return rc;
}

static int get_json(gd_storage *st, const char *name, json_t **out, gd_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = gd_storage_get_all(st, name, DESC_MAX, &text, &len, err);
    if (rc != 0)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s is not valid JSON (line %d: %s)",
                          name, st->name, je.line, je.text);
    }
    *out = j;
    return 0;
}

static int ensure_repo_header(gd_storage *st, bool create, gd_err *err)
{
    json_t *j = NULL;
    gd_err e2;
    gd_err_clear(&e2);
    int rc = get_json(st, "repo.json", &j, &e2);
    if (rc == GD_E_NOTFOUND) {
        if (!create)
            return gd_err_set(err, GD_E_NOTFOUND,
                              "region %s holds no geodr repository (no repo.json): check the "
                              "region's path, or run 'geodr backup' first",
                              st->name);
        uint8_t id[16];
        if ((rc = gd_random(id, sizeof id, err)) != 0)
            return rc;
        char hex[33], now[32];
        gd_hex(id, sizeof id, hex);
        gd_fmt_time(gd_now_us(), false, now, sizeof now);
        j = json_pack("{s:s, s:i, s:s, s:s}", "format", "geodr-repository", "version",
                      GD_REPO_FORMAT_VERSION, "id", hex, "created", now);
        rc = put_json(st, "repo.json", j, err);
        json_decref(j);
        return rc;
    }
    if (rc != 0) {
        if (err)
            *err = e2;
        return rc;
    }
    long long v = gd_json_int(j, "version", -1);
    bool is_repo = strcmp(gd_json_str(j, "format", ""), "geodr-repository") == 0;
    json_decref(j);
    if (!is_repo)
        return gd_err_set(err, GD_E_CORRUPT, "repo.json in region %s is not a geodr repository",
                          st->name);
    if (v < 1 || v > GD_REPO_FORMAT_VERSION)
        return gd_err_set(err, GD_E_STATE,
                          "region %s holds repository format %lld; this geodr reads formats 1 "
                          "to %d: use a matching geodr version",
                          st->name, v, GD_REPO_FORMAT_VERSION);
    return 0;
}

static int kdf_from_json(json_t *kdf, gd_kdf_params *kp)
{
    const char *salt = gd_json_str(kdf, "salt", "");
    long long n = gd_json_int(kdf, "n", 0), r = gd_json_int(kdf, "r", 0),
              p = gd_json_int(kdf, "p", 0);
    if (strcmp(gd_json_str(kdf, "name", ""), "scrypt") != 0 || n < 2 || r < 1 || p < 1 ||
        r > UINT32_MAX || p > UINT32_MAX || gd_unhex(salt, kp->salt, sizeof kp->salt) != 0)
        return GD_E_CORRUPT;
    kp->n = (uint64_t)n;
    kp->r = (uint32_t)r;
    kp->p = (uint32_t)p;
    return 0;
}

/* ---- record trailers (docs/repository-format.md, "Checked records") ---- */

#define SHA_TRAILER "sha256 "
#define MAC_TRAILER "hmac-sha256 "

typedef enum { TRAILER_NONE, TRAILER_SHA, TRAILER_MAC } trailer_kind;

/* The trailer kind of a record's last line, the length of what precedes it
 * and the trailer's hex digits. */
static trailer_kind split_trailer(const char *text, size_t len, size_t *body_len, const char **hex)
{
    if (len < 2 || text[len - 1] != '\n')
        return TRAILER_NONE;
    size_t ls = len - 1;
    while (ls > 0 && text[ls - 1] != '\n')
        ls--;
    size_t ll = len - 1 - ls;
    const char *line = text + ls;
    *body_len = ls;
    if (ll == strlen(SHA_TRAILER) + 64 && memcmp(line, SHA_TRAILER, strlen(SHA_TRAILER)) == 0) {
        *hex = line + strlen(SHA_TRAILER);
        return TRAILER_SHA;
    }
    if (ll == strlen(MAC_TRAILER) + 64 && memcmp(line, MAC_TRAILER, strlen(MAC_TRAILER)) == 0) {
        *hex = line + strlen(MAC_TRAILER);
        return TRAILER_MAC;
    }
    return TRAILER_NONE;
}

/* Checks a record's trailer: its SHA-256, or its MAC under the record key
 * and its name (not on a raw handle, which has no key). */
static int check_trailer(gd_repo *r, const char *name, const char *text, size_t len,
                         trailer_kind *kind, size_t *body_len, gd_err *err)
{
    const char *hex = NULL;
    char want[65];
    *kind = split_trailer(text, len, body_len, &hex);
    if (*kind == TRAILER_NONE)
        return gd_err_set(err, GD_E_CORRUPT,
                          "%s in region %s is corrupt (no checksum trailer): run 'geodr verify'",
                          name, r->st->name);
    if (*kind == TRAILER_SHA) {
        gd_sha256_hex(text, *body_len, want);
        if (memcmp(want, hex, 64) != 0)
            return gd_err_set(err, GD_E_CORRUPT,
                              "%s in region %s is corrupt (checksum mismatch): restore from "
                              "another set or region",
                              name, r->st->name);
        return 0;
    }
    if (r->raw)
        return 0; /* no key: moved as stored, authenticated by the reader */
    if (!r->encrypted)
        return gd_err_set(err, GD_E_AUTH,
                          "%s in region %s is authenticated with a key, but the instance's "
                          "descriptor says it is not encrypted: %s/instance.json may have been "
                          "replaced; restore it from another region and set key-file",
                          name, r->st->name, r->instance);
    int rc = gd_key_record_mac(&r->key, name, text, *body_len, want, err);
    if (rc == 0 && CRYPTO_memcmp(want, hex, 64) != 0)
        rc = gd_err_set(err, GD_E_AUTH,
                        "%s in region %s fails authentication: it was altered, forged, or moved "
                        "from another name or set (by whoever can write to the region, or by "
                        "corruption); restore it from another region",
                        name, r->st->name);
    return rc;
}

/* The trailer of a record being written (b holds its body). */
static int seal_record(gd_repo *r, const char *name, gd_buf *b, gd_err *err)
{
    char hex[65];
    int rc;
    if (r->encrypted && r->raw)
        return gd_err_set(err, GD_E_STATE,
                          "%s in region %s cannot be written without the instance's key (the "
                          "repository was opened for raw copies): records of an encrypted "
                          "instance are copied as stored",
                          name, r->st->name);
    if (r->encrypted) {
        if ((rc = gd_key_record_mac(&r->key, name, b->data, b->len, hex, err)) != 0)
            return rc;
        rc = gd_buf_appendf(b, MAC_TRAILER "%s\n", hex);
    } else {
        gd_sha256_hex(b->data, b->len, hex);
        rc = gd_buf_appendf(b, SHA_TRAILER "%s\n", hex);
    }
    if (rc != 0)
        return gd_err_set(err, GD_E_NOMEM, "%s is too large", name);
    return 0;
}

/* Serialises j (keys sorted) with its trailer and stores it under name. */
static int put_record(gd_repo *r, const char *name, json_t *j, gd_err *err)
{
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise %s", name);
    gd_buf b;
    gd_buf_init(&b, GD_MANIFEST_MAX);
    int rc = gd_buf_appendf(&b, "%s\n", text);
    free(text);
    if (rc != 0)
        rc = gd_err_set(err, GD_E_NOMEM, "%s is too large", name);
    if (rc == 0)
        rc = seal_record(r, name, &b, err);
    if (rc == 0)
        rc = gd_storage_put_all(r->st, name, b.data, b.len, err);
    gd_buf_free(&b);
    return rc;
}

/* True when name belongs to a set or segment written in format 1 (before
 * the instance's move to format 2): only those may lack a MAC or hold
 * format 1 encrypted objects.  Compared by the set's name (names sort by
 * time) and the segment's last counter, both the same in every region. */
static bool legacy_name(const gd_repo *r, const char *name)
{
    if (r->format < 2)
        return true;
    size_t il = strlen(r->instance);
    if (strncmp(name, r->instance, il) != 0 || name[il] != '/')
        return false;
    const char *rest = name + il + 1;
    if (strncmp(rest, "backup/", 7) == 0) {
        const char *set = rest + 7, *slash = strchr(set, '/');
        if (slash == NULL || r->v1_last_set == NULL || r->v1_last_set[0] == '\0')
            return false;
        char *id = gd_strndup(set, (size_t)(slash - set));
        bool le = strcmp(id, r->v1_last_set) <= 0;
        free(id);
        return le;
    }
    if (strncmp(rest, "binlog/", 7) == 0) {
        const char *p = rest + 7;
        char *end = NULL;
        long long last = strtoll(p, &end, 10);
        if (end == p)
            return false;
        if (*end == '-') {
            p = end + 1;
            last = strtoll(p, &end, 10);
            if (end == p)
                return false;
        }
        return *end == '.' && last >= 0 && last <= r->v1_last_seq;
    }
    return false;
}

static void warn_v1(gd_repo *r, const char *name)
{
    if (atomic_exchange(&r->warned_v1, true))
        return;
    gd_warn("instance %s in region %s: %s and other records of repository format 1 are NOT "
            "authenticated (written before geodr 0.3): whoever can write to the region could "
            "have altered them; take a new backup to have an authenticated set",
            r->instance, r->st->name, name);
}

/* What an encrypted instance accepts, once a record's trailer checked. */
static int record_policy(gd_repo *r, const char *name, trailer_kind kind, long long version,
                         gd_err *err)
{
    if (r->raw || !r->encrypted)
        return 0;
    if (kind == TRAILER_MAC && r->format < 2)
        return gd_err_set(err, GD_E_AUTH,
                          "%s in region %s is of repository format 2 but %s/instance.json is "
                          "of format 1: the instance was just moved to format 2 (run again), "
                          "or its instance.json was replaced by an old copy (restore it from "
                          "another region)",
                          name, r->st->name, r->instance);
    if (kind == TRAILER_MAC)
        return 0;
    if (version == 1 && legacy_name(r, name)) {
        warn_v1(r, name);
        return 0;
    }
    return gd_err_set(err, GD_E_AUTH,
                      "%s in region %s is not authenticated (a plain SHA-256 that anyone can "
                      "recompute, no MAC under the instance's key) although instance %s is "
                      "encrypted and of repository format 2: refused as forged or planted by "
                      "whoever can write to the region; remove it, or restore from another "
                      "region",
                      name, r->st->name, r->instance);
}

/* Reads name (at most max bytes), checks its trailer, parses its JSON
 * object; *kind tells which trailer it had. */
static int read_checked(gd_repo *r, const char *name, size_t max, trailer_kind *kind, json_t **out,
                        gd_err *err)
{
    char *text = NULL;
    size_t len = 0, body = 0;
    int rc = gd_storage_get_all(r->st, name, max, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = check_trailer(r, name, text, len, kind, &body, err);
    if (rc == 0) {
        json_error_t je;
        json_t *j = json_loadb(text, body, 0, &je);
        if (j == NULL || !json_is_object(j)) {
            json_decref(j);
            rc = gd_err_set(err, GD_E_CORRUPT, "%s in region %s is not valid JSON", name,
                            r->st->name);
        } else {
            *out = j;
        }
    }
    free(text);
    return rc;
}

/* ---- the instance descriptor ---- */

static int create_descriptor(gd_repo *r, const char *name, const char *key_file, gd_err *err)
{
    char now[32];
    gd_fmt_time(gd_now_us(), false, now, sizeof now);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s}", "format", "geodr-instance", "version",
                          GD_REPO_FORMAT_VERSION, "name", r->instance, "created", now);
    int rc = 0;
    r->format = GD_REPO_FORMAT_VERSION;
    if (key_file) {
        gd_kdf_params kp;
        if ((rc = gd_kdf_params_new(&kp, err)) != 0)
            goto out;
        if ((rc = gd_key_from_file(key_file, &kp, &r->key, err)) != 0)
            goto out;
        char salt[2 * GD_KDF_SALT_LEN + 1];
        gd_hex(kp.salt, sizeof kp.salt, salt);
        json_object_set_new(j, "cipher", json_string("aes-256-gcm"));
        json_object_set_new(j, "kdf",
                            json_pack("{s:s, s:I, s:i, s:i, s:s}", "name", "scrypt", "n",
                                      (json_int_t)kp.n, "r", (int)kp.r, "p", (int)kp.p, "salt",
                                      salt));
        json_object_set_new(j, "key-check", json_string(r->key.check_v2));
        r->encrypted = true;
    } else {
        json_object_set_new(j, "cipher", json_string("none"));
    }
    rc = put_record(r, name, j, err);
out:
    json_decref(j);
    return rc;
}

static int derive_checked(gd_repo *r, const char *key_file, const gd_kdf_params *kp,
                          const char *check, int version, gd_err *err)
{
    int rc = gd_key_from_file(key_file, kp, &r->key, err);
    if (rc != 0)
        return rc;
    if (strcmp(version >= 2 ? r->key.check_v2 : r->key.check, check) != 0) {
        gd_wipe(&r->key, sizeof r->key);
        return gd_err_set(err, GD_E_AUTH,
                          "wrong key: the passphrase in %s does not match the key this "
                          "repository was written with (check key-file)",
                          key_file);
    }
    return 0;
}

/* A format 2 encrypted descriptor, with r->key derived and checked: its
 * MAC, then where format 1 ends. */
static int adopt_v2(gd_repo *r, const char *dname, const char *text, size_t len, json_t *j,
                    gd_err *err)
{
    trailer_kind kind;
    size_t body;
    r->encrypted = true;
    int rc = check_trailer(r, dname, text, len, &kind, &body, err);
    if (rc == 0 && kind != TRAILER_MAC)
        rc = gd_err_set(err, GD_E_AUTH,
                        "%s in region %s is not authenticated (no MAC): it was altered; restore "
                        "it from another region",
                        dname, r->st->name);
    if (rc != 0)
        return rc;
    json_t *v1 = json_object_get(j, "format1");
    free(r->v1_last_set);
    r->v1_last_set = gd_strdup(gd_json_str(v1, "last_set", ""));
    r->v1_last_seq = gd_json_int(v1, "last_seq", 0);
    r->format = 2;
    return 0;
}

static int refuse_downgrade(gd_repo *r, gd_err *err)
{
    /* A configured key and a region that says "none" is a downgrade:
     * never write or trust plaintext because the region says so. */
    return gd_err_set(err, GD_E_AUTH,
                      "instance %s in region %s is stored without encryption, but key-file is "
                      "set for it: refusing (the region's instance.json may have been altered "
                      "to make geodr write in plaintext). If the instance really was backed up "
                      "without a key, remove key-file from [instance %s]; otherwise restore "
                      "%s/instance.json from another region",
                      r->instance, r->st->name, r->instance, r->instance);
}

/* Loads a descriptor: text as stored, j its JSON, kind its trailer
 * (TRAILER_NONE: format 1, plain JSON). */
static int load_descriptor(gd_repo *r, const char *dname, const char *text, size_t len, json_t *j,
                           trailer_kind kind, const char *key_file, gd_err *err)
{
    long long version = gd_json_int(j, "version", -1);
    const char *cipher = gd_json_str(j, "cipher", "");
    if (strcmp(gd_json_str(j, "format", ""), "geodr-instance") != 0 || version < 1 ||
        version > GD_REPO_FORMAT_VERSION)
        return gd_err_set(err, version > GD_REPO_FORMAT_VERSION ? GD_E_STATE : GD_E_CORRUPT,
                          "%s in region %s is not an instance descriptor this geodr reads "
                          "(format %lld, repository format %d): use a matching geodr version",
                          dname, r->st->name, version, GD_REPO_FORMAT_VERSION);
    if ((version == 1) != (kind == TRAILER_NONE))
        return gd_err_set(err, GD_E_AUTH,
                          "%s in region %s says format %lld but %s a trailer: it was altered; "
                          "restore it from another region",
                          dname, r->st->name, version, version == 1 ? "has" : "lacks");
    if (strcmp(gd_json_str(j, "name", r->instance), r->instance) != 0)
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s describes instance '%s'", dname,
                          r->st->name, gd_json_str(j, "name", ""));
    r->format = (int)version;
    bool none = strcmp(cipher, "none") == 0;
    if (r->raw) {
        r->encrypted = !none;
        return 0;
    }
    if (none && key_file)
        return refuse_downgrade(r, err);
    if (none) {
        trailer_kind k2;
        size_t body;
        r->encrypted = false;
        return kind == TRAILER_NONE ? 0 : check_trailer(r, dname, text, len, &k2, &body, err);
    }
    if (strcmp(cipher, "aes-256-gcm") != 0)
        return gd_err_set(err, GD_E_CORRUPT, "instance %s in region %s: unknown cipher '%s'",
                          r->instance, r->st->name, cipher);
    if (key_file == NULL)
        return gd_err_set(err, GD_E_AUTH,
                          "instance %s in region %s is encrypted: set key-file in the "
                          "[instance %s] section to the file holding its passphrase",
                          r->instance, r->st->name, r->instance);
    gd_kdf_params kp;
    if (kdf_from_json(json_object_get(j, "kdf"), &kp) != 0)
        return gd_err_set(err, GD_E_CORRUPT, "instance %s in region %s: bad kdf parameters",
                          r->instance, r->st->name);
    int rc = derive_checked(r, key_file, &kp, gd_json_str(j, "key-check", ""), (int)version, err);
    if (rc == 0 && version >= 2)
        rc = adopt_v2(r, dname, text, len, j, err);
    if (rc == 0 && version < 2) {
        r->encrypted = true;
        gd_warn("instance %s in region %s is of repository format 1: its sets and segments are "
                "NOT authenticated; the next backup or archived segment moves it to format 2",
                r->instance, r->st->name);
        atomic_store(&r->warned_v1, true);
    }
    return rc;
}

/* Reads the descriptor as stored: its text, JSON and trailer kind. */
static int read_descriptor(gd_storage *st, const char *dname, char **text, size_t *len,
                           json_t **out, trailer_kind *kind, gd_err *err)
{
    int rc = gd_storage_get_all(st, dname, DESC_MAX, text, len, err);
    if (rc != 0)
        return rc;
    size_t body;
    const char *hex = NULL;
    *kind = split_trailer(*text, *len, &body, &hex);
    if ((*out = gd_repo_descriptor_parse(*text)) == NULL)
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s is not valid JSON", dname, st->name);
    return 0;
}

json_t *gd_repo_descriptor_parse(const char *text)
{
    size_t len = strlen(text), body = len;
    const char *hex = NULL;
    if (split_trailer(text, len, &body, &hex) == TRAILER_NONE)
        body = len;
    json_t *j = json_loadb(text, body, 0, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Moves a format 1 encrypted instance to format 2 before its first format 2
 * record is written: the descriptor gets the format 2 key check, a MAC, and
 * where format 1 ends (the newest set and segment counter there now), so
 * that only those may go without a MAC from now on.  Another process may
 * have moved it meanwhile: then its descriptor is adopted. */
static int upgrade_descriptor(gd_repo *r, gd_err *err)
{
    char *dname = gd_asprintf("%s/instance.json", r->instance), *text = NULL;
    char **ids = NULL;
    size_t n = 0, len = 0;
    json_t *j = NULL, *live = NULL;
    trailer_kind kind;
    int rc = read_descriptor(r->st, dname, &text, &len, &j, &kind, err);
    if (rc == 0 && gd_json_int(j, "version", 0) >= 2) {
        if (strcmp(gd_json_str(j, "key-check", ""), r->key.check_v2) != 0)
            rc = gd_err_set(err, GD_E_AUTH, "%s in region %s changed to another key meanwhile",
                            dname, r->st->name);
        else
            rc = adopt_v2(r, dname, text, len, j, err);
        goto out;
    }
    if (rc == 0)
        rc = gd_repo_list_sets(r, &ids, &n, err);
    if (rc == 0)
        rc = gd_repo_list_segment_ranges(r, &live, NULL, err);
    if (rc != 0)
        goto out;
    long long last = 0;
    size_t i;
    json_t *x;
    json_array_foreach(live, i, x)
    {
        if (gd_json_int(x, "seq", 0) > last)
            last = gd_json_int(x, "seq", 0);
    }
    json_object_set_new(j, "version", json_integer(2));
    json_object_set_new(j, "key-check", json_string(r->key.check_v2));
    json_object_set_new(
        j, "format1",
        json_pack("{s:s, s:I}", "last_set", n ? ids[n - 1] : "", "last_seq", (json_int_t)last));
    if ((rc = put_record(r, dname, j, err)) != 0)
        goto out;
    free(r->v1_last_set);
    r->v1_last_set = gd_strdup(n ? ids[n - 1] : "");
    r->v1_last_seq = last;
    r->format = 2;
    gd_info("instance %s in region %s moved to repository format 2 (authenticated records); "
            "its %zu older set(s) and segments up to %lld stay readable, unauthenticated",
            r->instance, r->st->name, n, last);
out:
    gd_strv_free(ids, n);
    json_decref(live);
    json_decref(j);
    free(text);
    free(dname);
    return rc;
}

static int committed_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)ctx;
    (void)st;
    size_t n = strlen(name);
    return (n > 9 && strcmp(name + n - 9, "/manifest") == 0) ||
           (n > 8 && strcmp(name + n - 8, ".segment") == 0);
}

/* A region holding committed sets or segments of the instance but no
 * descriptor lost it (or had it removed): a new one would carry a new salt,
 * so a new key and a new trust anchor beside the old records.  Refused. */
static int refuse_lost_descriptor(gd_repo *r, gd_err *err)
{
    char *prefix = gd_asprintf("%s/", r->instance);
    int rc = gd_storage_list(r->st, prefix, committed_cb, NULL, err);
    free(prefix);
    if (rc == 1)
        return gd_err_set(err, GD_E_STATE,
                          "region %s holds backups of instance %s but no %s/instance.json: "
                          "refusing to start a new descriptor beside them; restore "
                          "instance.json from another region (or move the old backups away)",
                          r->st->name, r->instance, r->instance);
    return rc;
}

/* The first writer of an instance into a region creates its descriptor,
 * under the instance's init lock and after reading again: two first backups
 * at once must not each write a descriptor with its own salt (the loser's
 * sets would never decrypt). */
static int first_descriptor(gd_repo *r, const char *dname, const char *key_file, gd_err *err)
{
    gd_lock *lk = NULL;
    int rc = gd_lock_take(r->st, r->instance, "init", "first backup", 60, &lk, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    json_t *j = NULL;
    trailer_kind kind = TRAILER_NONE;
    gd_err e2;
    gd_err_clear(&e2);
    rc = read_descriptor(r->st, dname, &text, &len, &j, &kind, &e2);
    if (rc == GD_E_NOTFOUND) {
        gd_test_pause("descriptor-create");
        rc = refuse_lost_descriptor(r, err);
        if (rc == 0)
            rc = create_descriptor(r, dname, key_file, err);
    } else if (rc == 0) {
        rc = load_descriptor(r, dname, text, len, j, kind, key_file, err);
    } else if (err) {
        *err = e2;
    }
    free(text);
    json_decref(j);
    gd_lock_release(lk);
    return rc;
}

static int repo_open(gd_storage *st, const char *instance, const char *key_file, bool create,
                     bool raw, int compress_level, gd_repo **out, gd_err *err)
{
    gd_repo *r = gd_calloc(1, sizeof *r);
    r->raw = raw;
    r->st = st;
    r->instance = gd_strdup(instance);
    r->compress_level = compress_level > 0 ? compress_level : 3;
    pthread_mutex_init(&r->mu, NULL);
    char *dname = gd_asprintf("%s/instance.json", instance);
    json_t *j = NULL;
    int rc = ensure_repo_header(st, create, err);
    if (rc != 0)
        goto out;
    gd_err e2;
    gd_err_clear(&e2);
    char *text = NULL;
    size_t len = 0;
    trailer_kind kind = TRAILER_NONE;
    rc = read_descriptor(st, dname, &text, &len, &j, &kind, &e2);
    if (rc == GD_E_NOTFOUND) {
        if (!create || r->raw) {
            rc = gd_err_set(err, GD_E_NOTFOUND,
                            "region %s holds no backups of instance %s: check the instance "
                            "name or run 'geodr backup %s' first",
                            st->name, instance, instance);
            goto out;
        }
        rc = first_descriptor(r, dname, key_file, err);
    } else if (rc != 0) {
        if (err)
            *err = e2;
    } else {
        rc = load_descriptor(r, dname, text, len, j, kind, key_file, err);
    }
    free(text);
out:
    json_decref(j);
    free(dname);
    if (rc != 0) {
        gd_repo_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int gd_repo_open(gd_storage *st, const char *instance, const char *key_file, bool create,
                 int compress_level, gd_repo **out, gd_err *err)
{
    return repo_open(st, instance, key_file, create, false, compress_level, out, err);
}

int gd_repo_open_raw(gd_storage *st, const char *instance, bool create_header, gd_repo **out,
                     gd_err *err)
{
    return repo_open(st, instance, NULL, create_header, true, 0, out, err);
}

void gd_repo_close(gd_repo *r)
{
    if (r == NULL)
        return;
    gd_storage_free(r->st);
    gd_wipe(&r->key, sizeof r->key);
    pthread_mutex_destroy(&r->mu);
    free(r->v1_last_set);
    free(r->instance);
    free(r);
}

void gd_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

struct list_ctx {
    char **ids;
    size_t n, cap;
    size_t plen;
};

static int list_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)st;
    struct list_ctx *c = ctx;
    const char *rest = name + c->plen;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || strcmp(slash, "/manifest") != 0)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->ids = gd_realloc(c->ids, c->cap * sizeof *c->ids);
    }
    c->ids[c->n++] = gd_strndup(rest, (size_t)(slash - rest));
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int gd_repo_list_sets(gd_repo *r, char ***ids, size_t *n, gd_err *err)
{
    char *prefix = gd_asprintf("%s/backup/", r->instance);
    struct list_ctx c = {.plen = strlen(prefix)};
    int rc = gd_storage_list(r->st, prefix, list_cb, &c, err);
    free(prefix);
    if (rc != 0) {
        gd_strv_free(c.ids, c.n);
        return rc;
    }
    if (c.n > 1)
        qsort(c.ids, c.n, sizeof *c.ids, cmp_str);
    *ids = c.ids;
    *n = c.n;
    return 0;
}

typedef struct set_reader {
    gd_repo *r;
    char **ids;
    gd_set *v;
    gd_err *errs;
} set_reader;

static int read_set(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    (void)err; /* a set that cannot be read is reported, not fatal */
    set_reader *sr = wv;
    json_t *mf = NULL;
    gd_err_clear(&sr->errs[i]);
    if (gd_manifest_read(sr->r, sr->ids[i], &mf, &sr->errs[i]) != 0)
        return 0;
    gd_set *s = &sr->v[i];
    s->id = gd_strdup(sr->ids[i]);
    s->mf = mf;
    s->end_s = gd_json_int(mf, "end_us", 0) / 1000000;
    s->has_pos = gd_gtid_pos_parse(gd_json_str(mf, "gtid", ""), &s->pos, NULL) == 0;
    return 0;
}

void gd_repo_sets_free(gd_set *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        json_decref(v[i].mf);
    }
    free(v);
}

int gd_repo_load_sets(gd_repo *r, gd_set **out, size_t *n, gd_err *bad, gd_err *err)
{
    char **ids = NULL;
    size_t ns = 0;
    int rc = gd_repo_list_sets(r, &ids, &ns, err);
    if (rc != 0)
        return rc;
    size_t nids = ns;
    gd_set *v = gd_calloc(ns + 1, sizeof *v);
    if (ns > 0) {
        gd_err *errs = gd_calloc(ns, sizeof *errs);
        int nw = ns < READERS ? (int)ns : READERS;
        set_reader *ws = gd_calloc((size_t)nw, sizeof *ws);
        for (int i = 0; i < nw; i++)
            ws[i] = (set_reader){.r = r, .ids = ids, .v = v, .errs = errs};
        rc = gd_pool_run(ws, sizeof *ws, nw, ns, read_set, NULL, err);
        free(ws);
        size_t k = 0;
        for (size_t i = 0; i < ns; i++) {
            if (v[i].id != NULL)
                v[k++] = v[i];
            else if (bad && bad->code == GD_OK)
                *bad = errs[i];
        }
        ns = k;
        free(errs);
    }
    gd_strv_free(ids, nids);
    if (rc != 0) {
        gd_repo_sets_free(v, ns);
        return rc;
    }
    *out = v;
    *n = ns;
    return 0;
}

char *gd_repo_set_prefix(const gd_repo *r, const char *set_id)
{
    return gd_asprintf("%s/backup/%s/", r->instance, set_id);
}

char *gd_repo_object_name(const gd_repo *r, const char *set_id, const char *rel)
{
    return gd_asprintf("%s/backup/%s/%s", r->instance, set_id, rel);
}

const char *gd_repo_suffix(const gd_repo *r)
{
    return r->encrypted ? ".zst.gde" : ".zst";
}

/* ---- object writer ---- */

struct gd_obj_writer {
    gd_writer *w;
    gd_pipe *pipe;
    gd_filter *raw_count; /* owned by pipe */
    gd_filter *sha;
    gd_filter *count;
    char *name;
};

static int obj_sink(void *ctx, const void *p, size_t n, gd_err *err)
{
    gd_obj_writer *w = ctx;
    return gd_writer_write(w->w, p, n, err);
}

static int raw_refused(const gd_repo *r, const char *name, gd_err *err)
{
    return gd_err_set(err, GD_E_STATE,
                      "object %s of instance %s in region %s cannot be encoded or decoded: the "
                      "repository was opened for raw copies, without its key",
                      name, r->instance, r->st->name);
}

int gd_obj_create(gd_repo *r, const char *name, gd_obj_writer **out, gd_err *err)
{
    if (r->raw && r->encrypted)
        return raw_refused(r, name, err);
    gd_obj_writer *w = gd_calloc(1, sizeof *w);
    int rc = gd_storage_open_write(r->st, name, &w->w, err);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->name = gd_strdup(name);
    w->pipe = gd_pipe_new();
    w->raw_count = gd_filter_count();
    w->sha = gd_filter_sha256();
    w->count = gd_filter_count();
    gd_pipe_add(w->pipe, w->raw_count);
    gd_pipe_add(w->pipe, gd_filter_zstd_compress(r->compress_level));
    if (r->encrypted)
        gd_pipe_add(w->pipe, gd_filter_encrypt(r->key.key, r->key.id, name));
    gd_pipe_add(w->pipe, w->sha);
    gd_pipe_add(w->pipe, w->count);
    gd_pipe_set_sink(w->pipe, obj_sink, w);
    *out = w;
    return 0;
}

int gd_obj_write(gd_obj_writer *w, const void *p, size_t n, gd_err *err)
{
    return gd_pipe_write(w->pipe, p, n, err);
}

static void obj_writer_free(gd_obj_writer *w)
{
    gd_pipe_free(w->pipe);
    free(w->name);
    free(w);
}

int gd_obj_commit(gd_obj_writer *w, gd_obj_info *info, gd_err *err)
{
    int rc = gd_pipe_finish(w->pipe, err);
    if (rc != 0) {
        gd_writer_abort(w->w);
        obj_writer_free(w);
        return rc;
    }
    rc = gd_writer_commit(w->w, err);
    if (rc == 0 && info) {
        info->raw_size = gd_filter_count_bytes(w->raw_count);
        info->size = gd_filter_count_bytes(w->count);
        gd_filter_sha256_hex(w->sha, info->sha256);
    }
    obj_writer_free(w);
    return rc;
}

void gd_obj_abort(gd_obj_writer *w)
{
    if (w == NULL)
        return;
    gd_writer_abort(w->w);
    obj_writer_free(w);
}

/* ---- object reader ---- */

struct gd_obj_reader {
    gd_reader *rd;
    gd_pipe *pipe;
    gd_filter *sha;
    char *name;
    char *region;
    char expect[65];
    bool ended;
};

static ssize_t obj_source(void *ctx, void *p, size_t n, gd_err *err)
{
    gd_obj_reader *o = ctx;
    return gd_reader_read(o->rd, p, n, err);
}

int gd_obj_open(gd_repo *r, const char *name, const char *expect_sha256, gd_obj_reader **out,
                gd_err *err)
{
    if (r->raw && r->encrypted)
        return raw_refused(r, name, err);
    gd_obj_reader *o = gd_calloc(1, sizeof *o);
    int rc = gd_storage_open_read(r->st, name, &o->rd, err);
    if (rc != 0) {
        free(o);
        return rc;
    }
    o->name = gd_strdup(name);
    o->region = gd_strdup(r->st->name);
    if (expect_sha256)
        gd_strlcpy(o->expect, expect_sha256, sizeof o->expect);
    o->pipe = gd_pipe_new();
    o->sha = gd_filter_sha256();
    gd_pipe_add(o->pipe, o->sha);
    /* Whether an object is decrypted follows from the (authenticated)
     * descriptor, never from the object's name: in an encrypted instance a
     * plaintext object can only have been planted. */
    size_t nl = strlen(name);
    bool enc = nl > 4 && strcmp(name + nl - 4, ".gde") == 0;
    if (enc && !r->encrypted) {
        gd_obj_close(o);
        return gd_err_set(err, GD_E_AUTH,
                          "object %s is encrypted but no key is configured: set key-file", name);
    }
    if (!enc && r->encrypted) {
        gd_obj_close(o);
        return gd_err_set(err, GD_E_AUTH,
                          "object %s in region %s is not encrypted, but instance %s is: refused "
                          "(geodr never writes plaintext there; it was planted by whoever can "
                          "write to the region); restore from another set or region",
                          name, r->st->name, r->instance);
    }
    if (enc)
        gd_pipe_add(o->pipe, gd_filter_decrypt(r->key.key, r->key.id, name, legacy_name(r, name)));
    gd_pipe_add(o->pipe, gd_filter_zstd_decompress());
    gd_pipe_set_source(o->pipe, obj_source, o);
    *out = o;
    return 0;
}

ssize_t gd_obj_read(gd_obj_reader *o, void *buf, size_t n, gd_err *err)
{
    if (o->ended)
        return 0;
    ssize_t got = gd_pipe_read(o->pipe, buf, n, err);
    if (got < 0) {
        gd_err_prefix(err, "object %s in region %s", o->name, o->region);
        return got;
    }
    if (got == 0) {
        o->ended = true;
        if (o->expect[0]) {
            char hex[65];
            gd_filter_sha256_hex(o->sha, hex);
            if (strcmp(hex, o->expect) != 0)
                return gd_err_set(err, GD_E_CORRUPT,
                                  "object %s in region %s is corrupt: SHA-256 %s, manifest says "
                                  "%s",
                                  o->name, o->region, hex, o->expect);
        }
    }
    return got;
}

void gd_obj_close(gd_obj_reader *o)
{
    if (o == NULL)
        return;
    gd_reader_close(o->rd);
    gd_pipe_free(o->pipe);
    free(o->name);
    free(o->region);
    free(o);
}

int gd_stream_stored(gd_storage *st, const char *name, gd_writer *w, gd_chunk_fn chunk, void *ctx,
                     char hex[65], gd_err *err)
{
    gd_reader *rd = NULL;
    int rc = gd_storage_open_read(st, name, &rd, err);
    if (rc != 0)
        return rc;
    gd_filter *sha = gd_filter_sha256();
    uint8_t *buf = gd_malloc(GD_PIPE_BUF), *out = gd_malloc(GD_PIPE_BUF);
    for (;;) {
        ssize_t n = gd_reader_read(rd, buf, GD_PIPE_BUF, err);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        gd_span_in in = {buf, (size_t)n, 0};
        gd_span_out o = {out, GD_PIPE_BUF, 0};
        bool done = false;
        if ((rc = gd_filter_process(sha, &in, &o, n == 0, &done, err)) != 0 || n == 0)
            break;
        if (chunk && (rc = chunk(ctx, (size_t)n, err)) != 0)
            break;
        if (w && (rc = gd_writer_write(w, buf, (size_t)n, err)) != 0)
            break;
    }
    if (rc == 0)
        gd_filter_sha256_hex(sha, hex);
    gd_reader_close(rd);
    gd_filter_free(sha);
    free(buf);
    free(out);
    return rc;
}

/* A raw repository's check: the stored bytes against their SHA-256. */
static int verify_stored(gd_repo *r, const char *name, const char *expect_sha256, gd_err *err)
{
    char hex[65];
    int rc = gd_stream_stored(r->st, name, NULL, NULL, NULL, hex, err);
    if (rc == 0 && expect_sha256 && strcmp(hex, expect_sha256) != 0)
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "object %s in region %s is corrupt (SHA-256 %s, expected %s): "
                        "restore from another set or region",
                        name, r->st->name, hex, expect_sha256);
    return rc;
}

int gd_obj_verify(gd_repo *r, const char *name, const char *expect_sha256, gd_err *err)
{
    if (r->raw && r->encrypted)
        return verify_stored(r, name, expect_sha256, err);
    gd_obj_reader *rd = NULL;
    int rc = gd_obj_open(r, name, expect_sha256, &rd, err);
    if (rc != 0)
        return rc;
    char *buf = gd_malloc(GD_PIPE_BUF);
    ssize_t n;
    while ((n = gd_obj_read(rd, buf, GD_PIPE_BUF, err)) > 0)
        ;
    free(buf);
    gd_obj_close(rd);
    return n < 0 ? (int)n : 0;
}

int gd_obj_read_all(gd_repo *r, const char *name, const char *expect_sha256, size_t max, char **out,
                    size_t *len, gd_err *err)
{
    gd_obj_reader *o = NULL;
    int rc = gd_obj_open(r, name, expect_sha256, &o, err);
    if (rc != 0)
        return rc;
    gd_buf b;
    gd_buf_init(&b, max);
    char tmp[65536];
    for (;;) {
        ssize_t got = gd_obj_read(o, tmp, sizeof tmp, err);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0)
            break;
        if (gd_buf_append(&b, tmp, (size_t)got) != 0) {
            rc = gd_err_set(err, GD_E_CORRUPT, "object %s is larger than %zu bytes", name, max);
            break;
        }
    }
    gd_obj_close(o);
    if (rc != 0) {
        gd_buf_free(&b);
        return rc;
    }
    if (b.data == NULL)
        gd_buf_append(&b, "", 0);
    *out = b.data;
    if (len)
        *len = b.len;
    return 0;
}

/* ---- binlog segments ---- */

char *gd_repo_segment_name(const gd_repo *r, unsigned long long seq, const char *ext)
{
    return gd_asprintf("%s/binlog/%012llu%s", r->instance, seq, ext);
}

struct seg_list {
    char **names;
    int64_t *mtimes;
    size_t n, cap;
};

static int seg_cb(void *ctx, const char *name, const gd_stat *st)
{
    struct seg_list *l = ctx;
    size_t len = strlen(name);
    if (len < 8 || strcmp(name + len - 8, ".segment") != 0)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->names = gd_realloc(l->names, l->cap * sizeof *l->names);
        l->mtimes = gd_realloc(l->mtimes, l->cap * sizeof *l->mtimes);
    }
    l->mtimes[l->n] = st ? st->mtime_us : 0;
    l->names[l->n++] = gd_strdup(name);
    return 0;
}

long long gd_segment_first_seq(json_t *rec)
{
    return gd_json_int(rec, "first_seq", gd_json_int(rec, "seq", 0));
}

bool gd_segment_covers(json_t *outer, json_t *inner)
{
    return gd_segment_first_seq(outer) <= gd_segment_first_seq(inner) &&
           gd_json_int(outer, "seq", 0) >= gd_json_int(inner, "seq", 0);
}

static int cmp_records(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    long long fx = gd_segment_first_seq(x), fy = gd_segment_first_seq(y);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    long long sx = gd_json_int(x, "seq", 0), sy = gd_json_int(y, "seq", 0);
    return sx > sy ? -1 : sx < sy; /* the widest first */
}

/* The counter range a record's name gives: "<seq>.segment" or
 * "<first>-<last>.segment" (compaction's merged records). */
static bool record_range(const char *name, long long *first, long long *last)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char *end = NULL;
    long long a = strtoll(base, &end, 10), b = a;
    if (end == base || a < 0)
        return false;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtoll(p, &end, 10);
        if (end == p || b < a)
            return false;
    }
    if (strcmp(end, ".segment") != 0)
        return false;
    *first = a;
    *last = b;
    return true;
}

typedef struct rec_reader {
    gd_repo *r;
    char **names;
    json_t **recs;
} rec_reader;

/* A segment record must say what its name says: its counters, and an object
 * named after it in this repository's form.  Anything else was altered, and
 * its "object" is never used to build a name (expire removes by it). */
static int check_segment_record(const gd_repo *r, const char *name, json_t *j, gd_err *err)
{
    long long first = 0, last = 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *obj = gd_json_str(j, "object", "");
    size_t stem = strlen(base) - strlen(".segment");
    json_t *seq = json_object_get(j, "seq"), *fs = json_object_get(j, "first_seq");
    bool ok = record_range(name, &first, &last) && json_is_integer(seq) &&
              json_integer_value(seq) == last &&
              (fs == NULL ? first == last
                          : json_is_integer(fs) && json_integer_value(fs) == first) &&
              strncmp(obj, base, stem) == 0 && strncmp(obj + stem, ".binlog", 7) == 0 &&
              strcmp(obj + stem + 7, gd_repo_suffix(r)) == 0 &&
              gd_json_int(j, "size", -1) >= 0 && gd_json_int(j, "raw_size", -1) >= 0 &&
              gd_json_int(j, "transactions", -1) >= 0;
    if (!ok)
        return gd_err_set(err, GD_E_CORRUPT,
                          "segment record %s in region %s does not match its name (counters, "
                          "object or sizes were altered): it is not used; run 'geodr verify' "
                          "and restore the record from another region",
                          name, r->st->name);
    return 0;
}

static int read_record(gd_pool *pool, void *wv, size_t i, gd_err *err)
{
    (void)pool;
    rec_reader *rr = wv;
    json_t *j = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_repo_get_record(rr->r, rr->names[i], "geodr-segment", &j, &e);
    if (rc == GD_E_NOTFOUND)
        return 0; /* removed since the listing (compaction): not part of it */
    if (rc == 0 && (rc = check_segment_record(rr->r, rr->names[i], j, &e)) != 0)
        json_decref(j);
    if (rc != 0 && err)
        *err = e;
    if (rc == 0) {
        json_object_set_new(j, "record", json_string(rr->names[i]));
        rr->recs[i] = j;
    }
    return rc;
}

static int list_records(gd_repo *r, bool contents, json_t **out, json_t **covered, gd_err *err)
{
    char *prefix = gd_asprintf("%s/binlog/", r->instance);
    struct seg_list l = {0};
    int rc = gd_storage_list(r->st, prefix, seg_cb, &l, err);
    free(prefix);
    json_t **recs = gd_calloc(l.n + 1, sizeof *recs);
    size_t n = 0;
    if (rc == 0 && contents && l.n > 0) {
        int nw = l.n < READERS ? (int)l.n : READERS;
        rec_reader *ws = gd_calloc((size_t)nw, sizeof *ws);
        for (int i = 0; i < nw; i++)
            ws[i] = (rec_reader){.r = r, .names = l.names, .recs = recs};
        rc = gd_pool_run(ws, sizeof *ws, nw, l.n, read_record, NULL, err);
        free(ws);
        for (size_t i = 0; i < l.n; i++)
            if (recs[i] != NULL)
                recs[n++] = recs[i];
    } else if (rc == 0) {
        for (size_t i = 0; i < l.n; i++) {
            long long f, s;
            if (record_range(l.names[i], &f, &s))
                recs[n++] = json_pack("{s:I, s:I, s:s, s:I}", "first_seq", (json_int_t)f, "seq",
                                      (json_int_t)s, "record", l.names[i], "mtime_us",
                                      (json_int_t)l.mtimes[i]);
        }
    }
    gd_strv_free(l.names, l.n);
    free(l.mtimes);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            json_decref(recs[i]);
        free(recs);
        return rc;
    }
    json_t *live = json_array(), *cov = json_array();
    if (n > 1)
        qsort(recs, n, sizeof *recs, cmp_records);
    /* A record whose range lies inside an earlier (wider) one was merged
     * into it by compaction and is left for cleanup. */
    long long reach = -1;
    for (size_t i = 0; i < n; i++) {
        long long last = gd_json_int(recs[i], "seq", 0);
        if (last <= reach) {
            json_array_append_new(cov, recs[i]);
        } else {
            json_array_append_new(live, recs[i]);
            reach = last;
        }
    }
    free(recs);
    *out = live;
    if (covered)
        *covered = cov;
    else
        json_decref(cov);
    return 0;
}

int gd_repo_list_segments(gd_repo *r, json_t **out, json_t **covered, gd_err *err)
{
    return list_records(r, true, out, covered, err);
}

int gd_repo_list_segment_ranges(gd_repo *r, json_t **out, json_t **covered, gd_err *err)
{
    return list_records(r, false, out, covered, err);
}

int gd_repo_prune_covered(gd_repo *r, int64_t grace_s, unsigned long long *removed, gd_err *err)
{
    json_t *live = NULL, *cov = NULL, *leases = NULL;
    gd_lock *lk = NULL;
    int rc = gd_repo_list_segment_ranges(r, &live, &cov, err);
    /* A remover like expire: under the expire lock, and not while a restore
     * holds a read lease (it may have planned with the covered records).
     * A busy lock or a lease only postpones the pruning to the next pass. */
    if (rc == 0 && json_array_size(cov) > 0) {
        gd_err e;
        gd_err_clear(&e);
        rc = gd_lock_take(r->st, r->instance, "expire", "compaction pruning", 0, &lk, &e);
        if (rc == 0)
            rc = gd_lock_read_leases(r->st, r->instance, &leases, &e);
        if (rc == GD_E_BUSY || (rc == 0 && json_array_size(leases) > 0)) {
            rc = 0;
            json_array_clear(cov);
        } else if (rc != 0 && err) {
            *err = e;
        }
    }
    int64_t now = gd_now_us();
    size_t i;
    json_t *c;
    json_array_foreach(cov, i, c)
    {
        if (rc != 0)
            break;
        json_t *cover = NULL, *x;
        size_t k;
        json_array_foreach(live, k, x)
        {
            if (cover == NULL && gd_segment_covers(x, c))
                cover = x;
        }
        int64_t mt = cover ? gd_json_int(cover, "mtime_us", 0) : 0;
        if (mt <= 0 || now - mt < grace_s * 1000000)
            continue; /* a restore that listed before the merge may still read it */
        json_t *rec = NULL;
        const char *rname = gd_json_str(c, "record", "");
        gd_err e;
        gd_err_clear(&e);
        if ((rc = gd_repo_get_record(r, rname, "geodr-segment", &rec, &e)) == GD_E_NOTFOUND) {
            rc = 0; /* removed meanwhile by another pass */
            continue;
        }
        if (rc != 0) {
            if (err)
                *err = e;
            break;
        }
        /* the object first: a record left alone is still covered, and the
         * next pass removes it */
        char *obj = gd_asprintf("%s/binlog/%s", r->instance, gd_json_str(rec, "object", ""));
        rc = gd_storage_remove(r->st, obj, err);
        free(obj);
        json_decref(rec);
        if (rc == 0)
            rc = gd_storage_remove(r->st, rname, err);
        if (rc == 0 && removed)
            (*removed)++;
    }
    gd_lock_release(lk);
    json_decref(leases);
    json_decref(live);
    json_decref(cov);
    return rc;
}

/* ---- checked JSON records: manifests, segment indexes ---- */

int gd_repo_put_record(gd_repo *r, const char *name, json_t *j, gd_err *err)
{
    int rc = 0;
    if (r->encrypted && !r->raw && r->format < 2) {
        pthread_mutex_lock(&r->mu);
        if (r->format < 2)
            rc = upgrade_descriptor(r, err);
        pthread_mutex_unlock(&r->mu);
    }
    return rc != 0 ? rc : put_record(r, name, j, err);
}

int gd_repo_get_record(gd_repo *r, const char *name, const char *format, json_t **out, gd_err *err)
{
    /* A segment record is a few hundred bytes: one of megabytes is not ours
     * (several are read at once, so each is held to 16 MiB). */
    size_t max = strcmp(format, "geodr-manifest") == 0 ? GD_MANIFEST_MAX : GD_RECORD_MAX;
    trailer_kind kind;
    json_t *j = NULL;
    int rc = read_checked(r, name, max, &kind, &j, err);
    if (rc != 0)
        return rc;
    long long v = gd_json_int(j, "version", -1);
    if (strcmp(gd_json_str(j, "format", ""), format) != 0 || v < 1 || v > GD_REPO_FORMAT_VERSION) {
        rc = gd_err_set(err, GD_E_STATE,
                        "%s in region %s has format '%s' version %lld; this geodr reads %s "
                        "versions 1 to %d: use a matching geodr version",
                        name, r->st->name, gd_json_str(j, "format", "?"), v, format,
                        GD_REPO_FORMAT_VERSION);
    }
    if (rc == 0)
        rc = record_policy(r, name, kind, v, err);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

int gd_manifest_write(gd_repo *r, const char *set_id, json_t *manifest, gd_err *err)
{
    char *name = gd_repo_object_name(r, set_id, "manifest");
    int rc = gd_repo_put_record(r, name, manifest, err);
    free(name);
    return rc;
}

int gd_manifest_read(gd_repo *r, const char *set_id, json_t **out, gd_err *err)
{
    char *name = gd_repo_object_name(r, set_id, "manifest");
    int rc = gd_repo_get_record(r, name, "geodr-manifest", out, err);
    if (rc == 0 && (strcmp(gd_json_str(*out, "set", set_id), set_id) != 0 ||
                    strcmp(gd_json_str(*out, "instance", r->instance), r->instance) != 0)) {
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "%s in region %s is the manifest of set %s of instance %s, not of this "
                        "set: it was moved; restore from another set or region",
                        name, r->st->name, gd_json_str(*out, "set", "?"),
                        gd_json_str(*out, "instance", "?"));
        json_decref(*out);
        *out = NULL;
    }
    if (rc == GD_E_NOTFOUND) {
        gd_err_clear(err);
        rc = gd_err_set(err, GD_E_NOTFOUND,
                        "backup set %s of instance %s does not exist in region %s (see 'geodr "
                        "info %s')",
                        set_id, r->instance, r->st->name, r->instance);
    }
    free(name);
    return rc;
}
