/* Typed manifests for unit tests (repo/manifest.h): one table `db`.`t`
 * with columns id and v and one chunk, as a backup would fill it.  The
 * objects it names are placeholders. */
#ifndef GD_TEST_MANIFEST_FIXTURE_H
#define GD_TEST_MANIFEST_FIXTURE_H

#include <string.h>

#include "common/util.h"
#include "repo/manifest.h"

#define FX_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Set id of instance "shop" ended at end_s (Unix seconds), at GTID
 * position gtid ("" none).  Caller gd_manifest_free()s. */
static inline gd_manifest *fx_manifest(const char *id, long long end_s, const char *gtid,
                                       const char *db)
{
    gd_manifest *m = gd_calloc(1, sizeof *m);
    *m = (gd_manifest){.set = gd_strdup(id),
                       .instance = gd_strdup("shop"),
                       .method = gd_strdup("logical"),
                       .start_us = (end_s - 1) * 1000000,
                       .end_us = end_s * 1000000,
                       .gtid = gd_strdup(gtid),
                       .binlog_file = gd_strdup(""),
                       .server_version = gd_strdup("11.4.2-MariaDB"),
                       .cipher = gd_strdup("none"),
                       .compression = gd_strdup("zstd"),
                       .nontransactional_locked = true,
                       .schema = {.object = gd_strdup("schema.json.zst"), .size = 1, .raw_size = 1},
                       .ntables = 1};
    m->has_pos = gtid[0] != '\0' && gd_gtid_pos_parse(gtid, &m->pos, NULL) == 0;
    memcpy(m->schema.sha256, FX_SHA, sizeof m->schema.sha256);
    m->tables = gd_calloc(2, sizeof *m->tables);
    gd_mf_table *t = &m->tables[0];
    *t = (gd_mf_table){.db = gd_strdup(db),
                       .name = gd_strdup("t"),
                       .engine = gd_strdup("InnoDB"),
                       .ncolumns = 2,
                       .rows = 1,
                       .nchunks = 1,
                       .consistent = true};
    t->columns = gd_calloc(3, sizeof *t->columns);
    t->columns[0].name = gd_strdup("id");
    t->columns[1].name = gd_strdup("v");
    t->chunks = gd_calloc(2, sizeof *t->chunks);
    t->chunks[0] = (gd_mf_object){
        .object = gd_strdup("data/0-0.tsv.zst"), .rows = 1, .size = 1, .raw_size = 1};
    memcpy(t->chunks[0].sha256, FX_SHA, sizeof t->chunks[0].sha256);
    m->totals =
        (gd_mf_totals){.rows = 1, .raw_bytes = 2, .stored_bytes = 2, .tables = 1, .objects = 2};
    return m;
}

#endif
