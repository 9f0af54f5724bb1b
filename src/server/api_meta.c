/* What a region holds, in detail (docs/api.md "Backups"): the databases and
 * tables of a set, and the binlog files of the archive. */
#include <stdlib.h>
#include <string.h>

#include "command/info.h"
#include "common/util.h"
#include "server/api_intern.h"
#include "server/http.h"
#include "server/server_intern.h"

/* The set's databases with their tables (rows, engine). */
static json_t *meta_items(const gd_manifest *m)
{
    json_t *dbs = json_object();
    for (size_t i = 0; i < m->ntables; i++) {
        const gd_mf_table *t = &m->tables[i];
        json_t *d = json_object_get(dbs, t->db);
        if (d == NULL) {
            d = json_pack("{s:s, s:[]}", "Database", t->db, "Tables");
            json_object_set_new(dbs, t->db, d);
        }
        json_array_append_new(json_object_get(d, "Tables"),
                              json_pack("{s:s, s:s, s:I, s:b}", "Table", t->name, "Engine",
                                        t->engine ? t->engine : "", "Rows", (json_int_t)t->rows,
                                        "SystemVersioned", t->versioned));
    }
    json_t *items = json_array(), *d;
    const char *k;
    json_object_foreach(dbs, k, d) json_array_append(items, d);
    json_decref(dbs);
    return items;
}

int gd_api_describe_meta_list(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    const char *set = gd_param_str(p, "BackupSetId", true);
    const char *region = gd_param_str(p, "RegionId", false);
    int rc = gd_api_begin(s, p, name, answer);
    if (rc != 0)
        return rc;
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg};
    gd_manifest *m = NULL;
    gd_err e;
    gd_err_clear(&e);
    rc = gd_command_set_manifest(&ctx, name, region, set, &m, &e);
    gd_cfg_put(c);
    if (rc != 0)
        return gd_api_fail(answer, &e);
    *answer = json_pack("{s:s, s:s, s:o}", "DBInstanceId", name, "BackupSetId", set, "Items",
                        meta_items(m));
    gd_manifest_free(m);
    return 200;
}

/* A region's binlog segments as the answer's items (a view: read once for
 * every caller, server/view.c). */
static int log_files_read(gd_server *s, const char *instance, const char *region, json_t **doc,
                          gd_err *err)
{
    gd_cfg_ref *c = gd_server_cfg_get(s);
    gd_command_ctx ctx = {.cfg = c->cfg};
    gd_segments segs;
    int rc = gd_command_segments(&ctx, instance, region, &segs, err);
    gd_cfg_put(c);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < segs.n; i++) {
        const gd_segment *g = &segs.v[i];
        const char *base = strrchr(g->object, '/');
        char pos[GD_GTID_POS_MAX * 64];
        gd_segment_pos_text(g, pos, sizeof pos);
        json_array_append_new(items, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I, s:s}", "LogFileName",
                                               base ? base + 1 : g->object, "LogBeginTime",
                                               gd_api_time(g->first_time_s), "LogEndTime",
                                               gd_api_time(g->last_time_s), "FileSize",
                                               (json_int_t)g->size, "RawSize",
                                               (json_int_t)g->raw_size, "Transactions",
                                               (json_int_t)g->transactions, "GtidPosition", pos));
    }
    gd_segments_free(&segs);
    *doc = items;
    return 0;
}

int gd_api_describe_log_files(gd_server *s, gd_params *p, json_t **answer)
{
    const char *name = gd_param_str(p, "DBInstanceId", true);
    const char *region = gd_param_str(p, "RegionId", false);
    int rc = gd_api_begin(s, p, name, answer);
    if (rc != 0)
        return rc;
    json_t *items = NULL;
    gd_err e;
    gd_err_clear(&e);
    rc = gd_server_view_get(s, "segments", name, region, GD_API_VIEW_MAX_AGE_S, log_files_read,
                            &items, &e);
    if (rc != 0)
        return gd_api_fail(answer, &e);
    *answer = json_pack("{s:s, s:I, s:o}", "DBInstanceId", name, "TotalRecordCount",
                        (json_int_t)json_array_size(items), "Items", items);
    return 200;
}
