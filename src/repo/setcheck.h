/* Checks that a logical backup set can be restored as it was taken
 * (docs/backup-restore.md, "A set checks itself").
 *
 * A manifest lists, per base table, the columns its data objects hold.  A
 * set is unusable when a table has no columns, or when the columns do not
 * match the table's CREATE TABLE in the set's schema object: the rows would
 * load as NULLs or into the wrong columns.  The backup runs this check
 * before it commits a set; verify, restore and info run it on sets already
 * written (sets of geodr releases before the fix of issue 9 may fail it).
 *
 * This layer knows the formats only; it does not talk to a database. */
#ifndef GD_REPO_SETCHECK_H
#define GD_REPO_SETCHECK_H

/* The one json_t left in src/repo's public headers, on purpose: a set's
 * schema object is a document of SQL statements (databases, CREATE TABLE,
 * views, routines, users) that the restore engine walks as parsed JSON; it
 * is integrity-checked as an object (its SHA-256 and MAC), and what is
 * taken from it is checked where it is used.  Manifests and segment records
 * are typed (repo/manifest.h, repo/segment.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "repo/manifest.h"

/* The columns of a table whose values a logical backup holds, in order,
 * read from its CREATE TABLE statement as SHOW CREATE TABLE prints it:
 * every column definition except generated ones (AS (expr) VIRTUAL /
 * PERSISTENT / STORED, which the server computes).  A system-versioned
 * table's row start and end columns are included (its history is data); when
 * the table is versioned with implicit columns (WITH SYSTEM VERSIONING and no
 * AS ROW START column) they are appended as "row_start" and "row_end", the
 * names the server gives them.  Returns a new JSON array of strings, or
 * NULL when the statement is not in SHOW CREATE TABLE's layout. *versioned
 * (may be NULL) is set when the table is system-versioned. */
json_t *gd_create_table_columns(const char *create, bool *versioned);

/* One table a set check found wrong. */
typedef struct gd_set_problem {
    char *table;   /* "`db`.`name`" */
    char *problem; /* what is wrong with it */
} gd_set_problem;
typedef struct gd_set_problems {
    gd_set_problem *v;
    size_t n;
} gd_set_problems;

/* Checks every base table of a manifest (decoded: its types, names and
 * bounds were checked by gd_manifest_read): it has at least one column and
 * one chunk, its chunks' row counts add up to its row count; and, when
 * schema (the set's schema object, parsed JSON) is given, its columns are
 * those of its CREATE TABLE.  Appends one problem per bad table to problems
 * (zero it first); returns how many were appended. */
size_t gd_set_check(const gd_manifest *m, json_t *schema, gd_set_problems *problems);
void gd_set_problems_free(gd_set_problems *p);

/* "table `d`.`t`: <problem> (and N more tables)": the first problem and
 * the count of the others, for an error message.  Caller frees. */
char *gd_set_check_message(const gd_set_problems *problems);

#endif
