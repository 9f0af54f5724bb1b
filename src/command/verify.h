/* verify: every object of a backup set (default: every set, and every
 * binlog segment) read back from a region and checked: its SHA-256, and
 * when the key is at hand its decoding and authentication; then each set's
 * own consistency (repo/setcheck.h).  Without the instance's key the stored
 * bytes are hashed only (hash_only). */
#ifndef GD_COMMAND_VERIFY_H
#define GD_COMMAND_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "command/command.h"
#include "common/cancel.h"
#include "common/error.h"
#include "repo/manifest.h"
#include "repo/segment.h"

/* One bad object or table. */
typedef struct gd_verify_bad {
    char *object; /* "t.c1" chunk, "manifest", "table db.t", a segment name */
    char *error;
} gd_verify_bad;

typedef struct gd_verify_bads {
    gd_verify_bad *v;
    size_t n, cap;
} gd_verify_bads;

typedef struct gd_verify_set {
    char *id;
    gd_verify_bads bad;
} gd_verify_set;

typedef struct gd_verify_outcome {
    char *region;
    gd_verify_set *sets; /* in set order */
    size_t nsets;
    bool binlog;             /* the binlog archive was verified (no set named) */
    size_t segments;         /* segments read back */
    gd_verify_bads segs_bad; /* bad segments */
    unsigned long long objects, bad;
    bool hash_only; /* no key: stored bytes hashed, nothing decrypted */
    bool encrypted;
} gd_verify_outcome;

/* Which tables of a set gd_verify_set_chunks takes: fn(arg, db, name). */
typedef struct gd_verify_filter {
    bool (*fn)(const void *arg, const char *db, const char *name);
    const void *arg;
} gd_verify_filter;

/* The chunks of set id (mf: its manifest, read and authenticated) of the
 * tables want takes (NULL: all), checked as verify checks them: with read,
 * each read back to its end (SHA-256 against the manifest, decoded and
 * authenticated when the repository has the key), several at once; without,
 * one listing of the set's folder: each present with the stored size its
 * manifest records.  Appends the bad ones to bad (labelled by the chunk's
 * name in the set); returns how many chunks were checked.  Once stop (may
 * be NULL) is requested, the chunks not read yet are bad with GD_E_CANCEL
 * ("interrupted before it was read"). */
size_t gd_verify_set_chunks(gd_repo *repo, const char *id, const gd_manifest *mf,
                            const gd_verify_filter *want, bool read, const gd_cancel *stop,
                            gd_verify_bads *bad);
void gd_verify_bads_free(gd_verify_bads *b);
/* Reads segs[0..n) back as verify does (several at once, SHA-256 against
 * their records, decoded and authenticated); 0, or the error of the first
 * bad one in their order (GD_E_CANCEL for one not read once stop (may be
 * NULL) was requested). */
int gd_verify_segments(gd_repo *repo, const gd_segment *segs, size_t n, const gd_cancel *stop,
                       gd_err *err);

/* set NULL: every set and the binlog archive.  Fails when the region holds
 * no set (nothing to restore from) or cannot be read; bad objects do not
 * fail the call: out->bad counts them. */
int gd_command_verify(const gd_command_ctx *ctx, const char *instance, const char *region,
                      const char *set, gd_verify_outcome *out, gd_err *err);
void gd_verify_outcome_free(gd_verify_outcome *out);

#endif
