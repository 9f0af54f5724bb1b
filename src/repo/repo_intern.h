/* Internal to src/repo: what the repository's files share (the checked
 * record codec and its trailers, format 1 names, the move to format 2).
 * Not for use outside src/repo (the unit tests of the region readers use
 * it to plant records); the contracts are in repo.h. */
#ifndef GD_REPO_INTERN_H
#define GD_REPO_INTERN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/error.h"
#include "common/util.h"
#include "repo/manifest.h"
#include "repo/repo.h"

/* Manifest and record reads are independent requests: over a WAN region
 * their latency, not their size, is the cost, so several are in flight. */
#define GD_REPO_READERS 16

/* ---- checked JSON records ----
 * The instance descriptor (format 2), manifests and segment indexes are UTF-8
 * JSON and a newline, followed by a trailer line: in an encrypted instance
 * "hmac-sha256 <hex of gd_key_record_mac(name, every byte before it)>\n",
 * else "sha256 <hex of every byte before it>\n".  put writes it (refusing
 * on a raw handle of an encrypted instance: records move verbatim); get
 * checks the trailer, the rules in the header comment above, that "format"
 * equals the given one and "version" is one this geodr reads.  A MAC that
 * fails, or a record without one where one is required, is GD_E_AUTH. */
int gd_repo_put_record(gd_repo *r, const char *name, json_t *j, gd_err *err);
int gd_repo_get_record(gd_repo *r, const char *name, const char *format, json_t **out, gd_err *err);

/* ---- record trailers (record.c; docs/repository-format.md, "Checked records") ---- */

typedef enum { GD_TRAILER_NONE, GD_TRAILER_SHA, GD_TRAILER_MAC } gd_trailer_kind;

/* The trailer kind of a record's last line, the length of what precedes it
 * and the trailer's hex digits. */
gd_trailer_kind gd_record_split_trailer(const char *text, size_t len, size_t *body_len,
                                        const char **hex);
/* Checks a record's trailer: its SHA-256, or its MAC under the record key
 * and its name (not on a raw handle, which has no key). */
int gd_record_check_trailer(gd_repo *r, const char *name, const char *text, size_t len,
                            gd_trailer_kind *kind, size_t *body_len, gd_err *err);
/* Serialises j (keys sorted) with its trailer and stores it under name
 * (no move to format 2: gd_repo_put_record does that first). */
int gd_record_put(gd_repo *r, const char *name, json_t *j, gd_err *err);

/* ---- repository format 1 and 2 (descriptor.c) ---- */

/* True when name belongs to a set or segment written in format 1 (before
 * the instance's move to format 2). */
bool gd_repo_legacy_name(const gd_repo *r, const char *name);
/* Moves a format 1 encrypted instance to format 2 (under r->mu, before its
 * first format 2 record is written). */
int gd_repo_upgrade_descriptor(gd_repo *r, gd_err *err);

/* ---- manifests (manifest.c) ---- */

/* Decodes and validates a manifest's JSON; name and region are for the
 * message.  0 and a new *out, or GD_E_CORRUPT.  Does not check "format",
 * "version" or the trailer (gd_repo_get_record did). */
int gd_manifest_decode(json_t *j, const char *name, const char *region, gd_manifest **out,
                       gd_err *err);
/* The JSON of m as the backup writes it (format "geodr-manifest", this
 * geodr's version; "start"/"end" formatted from start_us/end_us).  Caller
 * json_decref()s. */
json_t *gd_manifest_encode(const gd_manifest *m);

#endif
