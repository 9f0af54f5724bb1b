/* A backup set's manifest as a typed record (docs/repository-format.md,
 * "manifest"), decoded and validated once where it enters the repository
 * layer (gd_manifest_read) and encoded from the struct where the backup
 * commits a set (gd_manifest_write).  No other layer reads manifest JSON.
 *
 * What decoding guarantees to every reader of a gd_manifest:
 *   - every string is present (possibly ""), every count and size is
 *     >= 0 and fits its type;
 *   - object names are relative to the set's folder: no leading '/', no
 *     empty, "." or ".." component, not "manifest" itself;
 *   - sha256 fields are 64 lower-case hex digits;
 *   - a table has at most GD_MANIFEST_MAX_COLUMNS columns and
 *     GD_MANIFEST_MAX_CHUNKS chunks; arrays hold what the text holds (no
 *     count in a manifest is used to size an allocation);
 *   - a non-empty "gtid" parses (has_pos).
 * What it does not check: that the chunks' rows add up, that a table has
 * columns and chunks, that its columns match its CREATE TABLE: those make a
 * set unusable, not unreadable, and are gd_set_check's (repo/setcheck.h).
 *
 * A manifest that fails is GD_E_CORRUPT, with a message naming the manifest,
 * the region, what is wrong ("table `d`.`t`: ..." for a table's entry) and
 * what to do. */
#ifndef GD_REPO_MANIFEST_H
#define GD_REPO_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/gtid.h"

typedef struct gd_repo gd_repo;

#define GD_MANIFEST_MAX_COLUMNS 65536u  /* a server allows 4096 a table */
#define GD_MANIFEST_MAX_CHUNKS 1048576u /* the backup writes at most 4096 a table */

/* How a column's values are written in a data object ("forms"). */
typedef enum gd_mf_form {
    GD_MF_FORM_TEXT = 0, /* as the server prints it (no "forms" entry) */
    GD_MF_FORM_BINARY,   /* "binary": the bytes, escaped */
    GD_MF_FORM_INDEX,    /* "index": an ENUM/SET value as its number */
} gd_mf_form;

typedef struct gd_mf_column {
    char *name;
    gd_mf_form form;
} gd_mf_column;

/* A stored object of the set: the schema object or one chunk of a table. */
typedef struct gd_mf_object {
    char *object; /* relative to the set's folder (gd_manifest_object_name) */
    uint64_t raw_size, size;
    char sha256[65]; /* of the stored bytes */
    /* chunks only */
    uint64_t rows;
    uint64_t enum_errors; /* ENUM error values written ("enum_errors", 0 when absent) */
} gd_mf_object;

typedef struct gd_mf_table {
    char *db, *name, *engine;
    gd_mf_column *columns; /* in load order */
    size_t ncolumns;
    uint64_t rows;
    gd_mf_object *chunks;
    size_t nchunks;
    bool versioned;  /* system-versioned: rows include history */
    bool consistent; /* as of the set's position (false: "consistent": false) */
    /* The row digest (docs/repository-format.md, "digest"): the sum modulo
     * 2^64 of the XXH3-64 of each row's line as the data objects hold it
     * (without its newline).  Order-free, so the same rows read back from a
     * restored server give the same digest (gd_backup_digest). */
    uint64_t digest;
    bool has_digest; /* sets before 0.3 have none */
} gd_mf_table;

typedef struct gd_mf_totals {
    uint64_t rows, raw_bytes, stored_bytes, tables, objects;
    double seconds;
} gd_mf_totals;

typedef struct gd_manifest {
    char *set, *instance, *method;
    int64_t start_us, end_us;
    char *gtid;      /* the position as the server gave it ("" none) */
    gd_gtid_pos pos; /* parsed, when has_pos */
    bool has_pos;
    char *binlog_file; /* "" when absent */
    int64_t binlog_pos;
    char *server_version, *cipher, *compression; /* cipher "none" when absent */
    double lock_seconds;
    uint64_t nontransactional_tables;
    bool nontransactional_locked; /* true when absent */
    bool legacy;                  /* no "nontransactional_locked": a geodr before 0.2 wrote it */
    bool on_demand;               /* taken on demand (geodr backup --on-demand, CreateBackup) */
    gd_mf_object schema;
    gd_mf_table *tables;
    size_t ntables;
    gd_mf_totals totals; /* zeros when absent */
} gd_manifest;

void gd_manifest_free(gd_manifest *m);

/* Writes <set>/manifest (gd_repo_put_record): this commits the set. */
int gd_manifest_write(gd_repo *r, const char *set_id, const gd_manifest *m, gd_err *err);
/* Reads, checks and decodes <set>/manifest; GD_E_NOTFOUND when the set has
 * none, GD_E_CORRUPT when the trailer does not match, the record is not
 * this set's, or it fails decoding.  Caller gd_manifest_free()s. */
int gd_manifest_read(gd_repo *r, const char *set_id, gd_manifest **out, gd_err *err);

/* The full object name of a set's object (schema or chunk), as the storage
 * knows it.  Caller frees. */
char *gd_manifest_object_name(const gd_repo *r, const char *set_id, const gd_mf_object *o);

#endif
