/* Internal to src/repo: what the repository's files share (the record
 * trailers, format 1 names, the move to format 2).  Not for use outside
 * src/repo; the contracts are in repo.h. */
#ifndef GD_REPO_INTERN_H
#define GD_REPO_INTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/util.h"
#include "repo/repo.h"

/* Manifest and record reads are independent requests: over a WAN region
 * their latency, not their size, is the cost, so several are in flight. */
#define GD_REPO_READERS 16

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

#endif
