/* The repository of one region (format 2, docs/repository-format.md):
 *
 *   repo.json                                  repository header
 *   <instance>/instance.json                   instance descriptor (cipher, KDF, key check)
 *   <instance>/backup/<set>/data/<T>-<C>.tsv.zst[.gde]   rows of table T, chunk C
 *   <instance>/backup/<set>/schema.json.zst[.gde]        schema objects
 *   <instance>/backup/<set>/manifest           written last: the commit
 *
 * A set without a manifest does not exist for any reader.  Objects are
 * immutable.  This layer knows names and formats; it does not talk to a
 * database.
 *
 * Authenticity (format 2): in an encrypted instance the descriptor,
 * manifests and segment records end in an HMAC-SHA256 trailer under a key
 * derived from the passphrase, over the record's name (relative to the
 * region root) and bytes, and every object must be in the encrypted form
 * with its name in the GCM associated data.  Readers refuse anything else,
 * except records and objects of sets and segments written before the
 * instance moved to format 2 (the descriptor names the last of them), which
 * are read with a warning that they are not authenticated.  Unencrypted
 * instances have no secret: their sha256 trailers detect corruption, not
 * forgery.
 *
 * Where it is defined: descriptor.c (open, close, the instance descriptor,
 * format 1 and 2), record.c (checked JSON records, JSON helpers), object.c
 * (the object pipeline), set.c (sets), manifest.c (manifests,
 * repo/manifest.h), segment_index.c
 * (segment records), plan.c (windows and plans, repo/plan.h); what these
 * files share is in repo_intern.h. */
#ifndef GD_REPO_REPO_H
#define GD_REPO_REPO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"
#include "io/filter.h"
#include "io/key.h"
#include "repo/manifest.h"
#include "storage/storage.h"

#define GD_REPO_FORMAT_VERSION 2 /* what this geodr writes; it reads 1 and 2 */
#define GD_MANIFEST_MAX (256u * 1024 * 1024)
#define GD_SCHEMA_MAX (512u * 1024 * 1024) /* a set's schema object, decoded */
#define GD_RECORD_MAX (16u * 1024 * 1024)  /* any other record (segment records) */

/* An open region repository for one instance, with its key when the
 * instance is encrypted. */
typedef struct gd_repo {
    gd_storage *st; /* owned */
    char *instance; /* instance name */
    bool encrypted;
    bool raw;   /* opened without its key (gd_repo_open_raw) */
    gd_key key; /* valid when encrypted and not raw */
    int compress_level;
    int format;            /* the instance descriptor's version: 1 or 2 */
    char *v1_last_set;     /* format 2 moved from 1: the newest set of format 1 ("" none) */
    long long v1_last_seq; /* ... the newest segment counter of format 1 (0 none) */
    pthread_mutex_t mu;    /* the move from format 1 to 2 */
    atomic_bool warned_v1; /* the "not authenticated" warning was given */
} gd_repo;

/* Opens (and on first use initialises) the repository for an instance in a
 * region.  key_file may be NULL (no encryption).  create: write repo.json and
 * instance.json when missing (backup); otherwise a missing instance is
 * GD_E_NOTFOUND (restore, info).  Checks the key against the descriptor's key
 * check before returning: a wrong key fails here with GD_E_AUTH and a message
 * naming key-file; an encrypted instance opened without a key fails with
 * GD_E_AUTH too, and so does a descriptor whose MAC does not verify or that
 * says "cipher": "none" while key_file is set (a downgrade).  A format 1
 * encrypted descriptor is moved to format 2 when the first record is written
 * through this handle (gd_repo_put_record).  Takes ownership of st (frees it
 * on failure).  That move changes the handle's format fields: it is
 * serialised with other writers of the handle (mu), not with readers, so a
 * handle is not read from other threads while a record is written (the
 * engines write their records after their workers finished). */
int gd_repo_open(gd_storage *st, const char *instance, const char *key_file, bool create,
                 int compress_level, gd_repo **out, gd_err *err);
/* Opens an existing instance's repository for raw copies: objects move as
 * stored bytes and are never encoded or decoded (gd_obj_create/gd_obj_open
 * refuse), so no key is needed and none is derived.  Records are read with
 * their sha256 trailers checked but MAC trailers NOT verified (no key): what
 * a raw handle reads is not authenticated, and it must be moved as stored
 * bytes, never rewritten (gd_repo_put_record refuses in an encrypted
 * instance).  create_header: write the region's repo.json when missing (the
 * instance descriptor must exist). */
int gd_repo_open_raw(gd_storage *st, const char *instance, bool create_header, gd_repo **out,
                     gd_err *err);
void gd_repo_close(gd_repo *r);
/* How a copy region's instance descriptor (theirs, its text as stored)
 * compares with the home region's (mine), keyless and NOT authenticated
 * (the copier moves objects as stored bytes): the same cipher, kdf and key
 * check (SAME); the same key at an older format (OLDER: the home region
 * moved to format 2, and the copy region gets its descriptor as stored);
 * or anything else, another key or not a descriptor (OTHER). */
typedef enum { GD_DESC_SAME, GD_DESC_OLDER, GD_DESC_OTHER } gd_descriptor_match;
gd_descriptor_match gd_repo_descriptor_compare(const char *mine, const char *theirs);

/* Lists committed backup set ids (sorted oldest first). Caller frees with
 * gd_strv_free. */
int gd_repo_list_sets(gd_repo *r, char ***ids, size_t *n, gd_err *err);

/* A committed backup set as retention and the recovery windows see it. */
typedef struct gd_set {
    char *id;
    gd_manifest *mf; /* its manifest, decoded (repo/manifest.h) */
    gd_gtid_pos pos; /* its GTID position ("gtid"), when has_pos */
    bool has_pos;
    long long end_s; /* when it ended ("end_us" / 1e6) */
} gd_set;
/* Reads every committed set's manifest (several requests in flight), in set
 * order.  A manifest that cannot be read is left out; the first such error
 * (in set order) goes to bad (may be NULL). */
int gd_repo_load_sets(gd_repo *r, gd_set **out, size_t *n, gd_err *bad, gd_err *err);
void gd_repo_sets_free(gd_set *v, size_t n);
void gd_strv_free(char **v, size_t n);

/* Object name helpers (caller frees). */
char *gd_repo_set_prefix(const gd_repo *r, const char *set_id);
char *gd_repo_object_name(const gd_repo *r, const char *set_id, const char *rel);
/* Suffix of stored data objects: ".zst" or ".zst.gde". */
const char *gd_repo_suffix(const gd_repo *r);

/* ---- writing an object through the pipeline ---- */
typedef struct gd_obj_writer gd_obj_writer;
/* Opens storage writer + pipeline (zstd -> encrypt -> sha256/count). */
int gd_obj_create(gd_repo *r, const char *name, gd_obj_writer **out, gd_err *err);
int gd_obj_write(gd_obj_writer *w, const void *p, size_t n, gd_err *err);
/* Finishes the stream and commits the object; fills the stored size, raw
 * size and sha256 of the stored bytes. Frees w (success or not). */
typedef struct gd_obj_info {
    uint64_t raw_size;
    uint64_t size;
    char sha256[65];
} gd_obj_info;
int gd_obj_commit(gd_obj_writer *w, gd_obj_info *info, gd_err *err);
void gd_obj_abort(gd_obj_writer *w);

/* ---- reading an object back ---- */
typedef struct gd_obj_reader gd_obj_reader;
/* expect_sha256 may be NULL; when given, the stored bytes are hashed and a
 * mismatch at the end of the stream fails with GD_E_CORRUPT naming the
 * object. */
int gd_obj_open(gd_repo *r, const char *name, const char *expect_sha256, gd_obj_reader **out,
                gd_err *err);
/* Returns decoded bytes, 0 at the (verified) end, or a negative gd_code
 * whose message names the object. */
ssize_t gd_obj_read(gd_obj_reader *rd, void *buf, size_t n, gd_err *err);
void gd_obj_close(gd_obj_reader *rd);
/* Streams the stored bytes of name in st (as stored: nothing decoded) to w
 * (may be NULL), hashing them; their SHA-256 in hex.  chunk (may be NULL)
 * runs before each piece is written, with its size; nonzero stops. */
typedef int (*gd_chunk_fn)(void *ctx, size_t n, gd_err *err);
int gd_stream_stored(gd_storage *st, const char *name, gd_writer *w, gd_chunk_fn chunk, void *ctx,
                     char hex[65], gd_err *err);
/* Reads an object to its end: hash (when expect_sha256 is given), and
 * decryption and decompression checks.  0 when it is intact.  In an
 * encrypted repository opened raw (no key), the stored bytes' hash only. */
int gd_obj_verify(gd_repo *r, const char *name, const char *expect_sha256, gd_err *err);
/* Reads a whole decoded object (small ones: schema). */
int gd_obj_read_all(gd_repo *r, const char *name, const char *expect_sha256, size_t max, char **out,
                    size_t *len, gd_err *err);

/* ---- checked records: repo_intern.h (the record codec behind manifests,
 * segment records and the descriptor) ---- */

/* ---- binlog segments: repo/segment.h ---- */

#endif
