/* Checked JSON records (repo.h): the instance descriptor, manifests and
 * segment records end in a sha256 or MAC trailer, written and checked here. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "repo/repo.h"
#include "repo/repo_intern.h"

/* ---- record trailers (docs/repository-format.md, "Checked records") ---- */

#define SHA_TRAILER "sha256 "
#define MAC_TRAILER "hmac-sha256 "

/* The trailer kind of a record's last line, the length of what precedes it
 * and the trailer's hex digits. */
gd_trailer_kind gd_record_split_trailer(const char *text, size_t len, size_t *body_len,
                                        const char **hex)
{
    if (len < 2 || text[len - 1] != '\n')
        return GD_TRAILER_NONE;
    size_t ls = len - 1;
    while (ls > 0 && text[ls - 1] != '\n')
        ls--;
    size_t ll = len - 1 - ls;
    const char *line = text + ls;
    *body_len = ls;
    if (ll == strlen(SHA_TRAILER) + 64 && memcmp(line, SHA_TRAILER, strlen(SHA_TRAILER)) == 0) {
        *hex = line + strlen(SHA_TRAILER);
        return GD_TRAILER_SHA;
    }
    if (ll == strlen(MAC_TRAILER) + 64 && memcmp(line, MAC_TRAILER, strlen(MAC_TRAILER)) == 0) {
        *hex = line + strlen(MAC_TRAILER);
        return GD_TRAILER_MAC;
    }
    return GD_TRAILER_NONE;
}

/* Checks a record's trailer: its SHA-256, or its MAC under the record key
 * and its name (not on a raw handle, which has no key). */
int gd_record_check_trailer(gd_repo *r, const char *name, const char *text, size_t len,
                            gd_trailer_kind *kind, size_t *body_len, gd_err *err)
{
    const char *hex = NULL;
    char want[65];
    *kind = gd_record_split_trailer(text, len, body_len, &hex);
    if (*kind == GD_TRAILER_NONE)
        return gd_err_set(err, GD_E_CORRUPT,
                          "%s in region %s is corrupt (no checksum trailer): run 'geodr verify'",
                          name, r->st->name);
    if (*kind == GD_TRAILER_SHA) {
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
int gd_record_put(gd_repo *r, const char *name, json_t *j, gd_err *err)
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
static int record_policy(gd_repo *r, const char *name, gd_trailer_kind kind, long long version,
                         gd_err *err)
{
    if (r->raw || !r->encrypted)
        return 0;
    if (kind == GD_TRAILER_MAC && r->format < 2)
        return gd_err_set(err, GD_E_AUTH,
                          "%s in region %s is of repository format 2 but %s/instance.json is "
                          "of format 1: the instance was just moved to format 2 (run again), "
                          "or its instance.json was replaced by an old copy (restore it from "
                          "another region)",
                          name, r->st->name, r->instance);
    if (kind == GD_TRAILER_MAC)
        return 0;
    if (version == 1 && gd_repo_legacy_name(r, name)) {
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
static int read_checked(gd_repo *r, const char *name, size_t max, gd_trailer_kind *kind,
                        json_t **out, gd_err *err)
{
    char *text = NULL;
    size_t len = 0, body = 0;
    int rc = gd_storage_get_all(r->st, name, max, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = gd_record_check_trailer(r, name, text, len, kind, &body, err);
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

/* ---- checked JSON records: manifests, segment indexes ---- */

int gd_repo_put_record(gd_repo *r, const char *name, json_t *j, gd_err *err)
{
    int rc = 0;
    if (r->encrypted && !r->raw && r->format < 2) {
        pthread_mutex_lock(&r->mu);
        if (r->format < 2)
            rc = gd_repo_upgrade_descriptor(r, err);
        pthread_mutex_unlock(&r->mu);
    }
    return rc != 0 ? rc : gd_record_put(r, name, j, err);
}

int gd_repo_get_record(gd_repo *r, const char *name, const char *format, json_t **out, gd_err *err)
{
    /* A segment record is a few hundred bytes: one of megabytes is not ours
     * (several are read at once, so each is held to 16 MiB). */
    size_t max = strcmp(format, "geodr-manifest") == 0 ? GD_MANIFEST_MAX : GD_RECORD_MAX;
    gd_trailer_kind kind;
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
