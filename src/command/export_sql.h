/* SQL text for geodr export (command/export.h): literals, and the rows of
 * a set's chunks (LOAD DATA's escaping, as backup/dump.c writes them)
 * turned into multi-row INSERT statements, streaming (docs/backup-restore.md,
 * "Export", for the literal chosen for each value). */
#ifndef GD_COMMAND_EXPORT_SQL_H
#define GD_COMMAND_EXPORT_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"
#include "repo/manifest.h"

/* Appends a string literal of p[0..n); with_binary: with the _binary
 * introducer (the bytes as they are, whatever the column's character set). */
void gd_export_sql_string(gd_buf *b, const char *p, size_t n, bool with_binary);
/* Appends one value as a literal: NULL; an ENUM/SET index as its number;
 * a binary form and any value that is not text as X'..'; printable ASCII
 * as '..'; other well-formed UTF-8 as _binary'..'.  false (nothing
 * appended) for an index that is not a number. */
bool gd_export_sql_value(gd_buf *b, const char *p, size_t n, bool null, gd_mf_form form);

/* Where statements go: n bytes, 0 or an error set in err. */
typedef int (*gd_export_write_fn)(void *ctx, const char *p, size_t n, gd_err *err);

/* The rows of one table: chunks are fed in order, each between _begin and
 * _end; statements of about max_stmt bytes go to write (a row bigger than
 * that makes one statement of its own).  Memory: one row and one statement. */
typedef struct gd_export_inserts gd_export_inserts;
gd_export_inserts *gd_export_inserts_new(const gd_mf_table *mt, size_t max_stmt,
                                         gd_export_write_fn write, void *wctx);
void gd_export_inserts_begin(gd_export_inserts *s, const gd_mf_object *chunk);
/* Decoded bytes of the chunk, cut anywhere.  GD_E_CORRUPT naming the chunk
 * and table for a row with another number of fields than the table has
 * columns or an index that is not a number. */
int gd_export_inserts_feed(gd_export_inserts *s, const char *p, size_t n, gd_err *err);
/* The chunk ended: GD_E_CORRUPT when it ends inside a row or holds another
 * number of rows than the manifest says. */
int gd_export_inserts_end(gd_export_inserts *s, gd_err *err);
/* Writes the last statement. */
int gd_export_inserts_finish(gd_export_inserts *s, gd_err *err);
/* Rows of the chunks ended so far. */
uint64_t gd_export_inserts_rows(const gd_export_inserts *s);
void gd_export_inserts_free(gd_export_inserts *s); /* NULL allowed */

#endif
