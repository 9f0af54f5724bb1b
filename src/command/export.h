/* export: one committed backup set written out decrypted, for stock tools
 * and without geodr (docs/backup-restore.md, "Export").
 *
 *   sql: OUT/dump.sql, one file for every database of the set: databases,
 *        tables (their CREATE TABLE as the set recorded it) and sequences,
 *        then the rows as multi-row INSERTs, then routines, triggers,
 *        events and views; `mariadb < OUT/dump.sql` loads it into an empty
 *        server.
 *   tsv: OUT/<db>/<table>.sql (CREATE TABLE), OUT/<db>/<table>.tsv (the rows
 *        as LOAD DATA reads them: the set's chunks decoded and concatenated)
 *        and OUT/<db>/load.sql, which loads the database from its directory
 *        with `mariadb --local-infile=1`.
 *   Both: OUT/README.txt says what the export holds and how to load it.
 *
 * Contract:
 *   - Everything is read through the repository layer with the instance's
 *     key: every object is authenticated and checked against the manifest;
 *     a corrupt object fails naming it.
 *   - OUT must not exist or be an empty directory (never overwritten).  The
 *     export is written into OUT.partial (0700, files 0600: it is the
 *     user's data in clear) and renamed to OUT when complete.  A failure
 *     leaves OUT.partial as it is (removing nothing the user had) and says
 *     so; an OUT.partial already there is refused, not reused.
 *   - Rows stream: memory is bounded by the biggest row, never a table.
 *   - Users and grants (restore --with-users) are not exported. */
#ifndef GD_COMMAND_EXPORT_H
#define GD_COMMAND_EXPORT_H

#include <stdint.h>

#include "command/command.h"
#include "common/error.h"

typedef enum gd_export_format { GD_EXPORT_SQL, GD_EXPORT_TSV } gd_export_format;

typedef struct gd_export_opts {
    const char *instance;
    const char *region; /* NULL: the home region */
    const char *set_id; /* required */
    gd_export_format format;
    const char *out_dir;
} gd_export_opts;

typedef struct gd_export_result {
    char set_id[64];
    uint64_t files;  /* written, README.txt included */
    uint64_t bytes;  /* written, all files */
    uint64_t rows;   /* of every table */
    uint64_t tables; /* tables with rows in the set */
    double seconds;
} gd_export_result;

/* Runs one export (see above).  GD_E_NOTFOUND for an unknown instance or
 * set (the message says to list the sets with geodr info), GD_E_AUTH for a
 * wrong key, GD_E_EXISTS for an OUT or OUT.partial in the way, GD_E_CORRUPT
 * naming the object for a damaged set, GD_E_CANCEL when ctx->cancel was
 * set.  res is filled as far as the export went. */
int gd_command_export(const gd_command_ctx *ctx, const gd_export_opts *o, gd_export_result *res,
                      gd_err *err);

#endif
