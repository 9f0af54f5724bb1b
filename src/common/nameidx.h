/* Lookup of database objects by their exact identity.
 *
 * A (schema, name) pair is compared as bytes, case-sensitively: `Zed` and
 * `zed`, `Sales` and `sales`, `é` and `e` are different objects, as they are
 * on a server with lower_case_table_names = 0.  Never join two lists of
 * objects by walking them in step: the server sorts names by its collation
 * in one query and by bytes in another, and a step-walk then silently pairs
 * nothing.  Build an index of one list and look every row of the other up.
 *
 * Usage: add every pair, seal once (sorts), then find.  The index keeps
 * pointers to the strings it was given: they must outlive it.  Not
 * thread-safe while adding; finds on a sealed index may run concurrently. */
#ifndef GD_COMMON_NAMEIDX_H
#define GD_COMMON_NAMEIDX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gd_nameidx_ent {
    const char *schema, *name;
    size_t value;
} gd_nameidx_ent;

typedef struct gd_nameidx {
    gd_nameidx_ent *e;
    size_t n, cap;
    bool sealed;
} gd_nameidx;

void gd_nameidx_init(gd_nameidx *ix);
void gd_nameidx_free(gd_nameidx *ix);
/* Adds a pair (schema may be "" for one-level names).  Adding after seal
 * unseals: seal again before the next find. */
void gd_nameidx_add(gd_nameidx *ix, const char *schema, const char *name, size_t value);
/* Sorts the index.  Returns the number of duplicate pairs found (0 for a
 * list of distinct objects); on duplicates, find returns one of them. */
size_t gd_nameidx_seal(gd_nameidx *ix);
/* The value stored for exactly (schema, name); false when absent. */
bool gd_nameidx_find(const gd_nameidx *ix, const char *schema, const char *name, size_t *value);

#endif
