/* The schema objects of a set: SHOW CREATE of every database, table, view,
 * trigger, routine, event and sequence, users when asked (docs/backup-restore.md). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "backup/backup.intern.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "common/util.h"

/* ---- schema ---- */

/* Runs a SHOW CREATE and appends {name, create, and the named extra
 * columns} to arr. */
static int show_create(MYSQL *m, json_t *arr, json_t *obj, const char *sql, int create_col,
                       const char *const *extra_names, const int *extra_cols, size_t nextra,
                       gd_err *err)
{
    MYSQL_RES *res = NULL;
    int rc = gd_sql_query(m, &res, err, "%s", sql);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned nf = mysql_num_fields(res);
    if (row == NULL || (unsigned)create_col >= nf || row[create_col] == NULL) {
        mysql_free_result(res);
        json_decref(obj);
        return gd_err_set(err, GD_E_AUTH,
                          "%s returned no definition (missing privilege? see "
                          "docs/privileges.md)",
                          sql);
    }
    json_object_set_new(obj, "create", json_string(row[create_col]));
    for (size_t i = 0; i < nextra; i++)
        if ((unsigned)extra_cols[i] < nf && row[extra_cols[i]])
            json_object_set_new(obj, extra_names[i], json_string(row[extra_cols[i]]));
    json_array_append_new(arr, obj);
    mysql_free_result(res);
    return 0;
}

static int list_names(MYSQL *m, const char *sql, MYSQL_RES **res, gd_err *err)
{
    return gd_sql_query(m, res, err, "%s", sql);
}

/* Accounts and their grants (--with-users), appended to the schema as
 * "users". */
static int capture_users(MYSQL *m, json_t *s, gd_err *err)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc;
    json_t *users = json_array();
    json_object_set_new(s, "users", users);
    if ((rc = list_names(m,
                         "SELECT User, Host FROM mysql.user WHERE User NOT IN "
                         "('root','mariadb.sys','') AND is_role='N' ORDER BY 1,2",
                         &res, err)) != 0)
        goto out;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char *u = gd_sql_escape(m, row[0]), *h = gd_sql_escape(m, row[1]);
        char *create = NULL;
        rc = gd_sql_value(m, &create, err, "SHOW CREATE USER '%s'@'%s'", u, h);
        json_t *grants = json_array();
        MYSQL_RES *gr = NULL;
        if (rc == 0)
            rc = gd_sql_query(m, &gr, err, "SHOW GRANTS FOR '%s'@'%s'", u, h);
        if (rc == 0) {
            MYSQL_ROW g;
            while ((g = mysql_fetch_row(gr)) != NULL)
                json_array_append_new(grants, json_string(g[0]));
            mysql_free_result(gr);
            json_array_append_new(users, json_pack("{s:s, s:s, s:s, s:o}", "user", row[0], "host",
                                                   row[1], "create", create, "grants", grants));
        } else {
            json_decref(grants);
        }
        free(create);
        free(u);
        free(h);
        if (rc != 0)
            goto out;
    }
    mysql_free_result(res);
    res = NULL;
out:
    if (res)
        mysql_free_result(res);
    return rc;
}

/* SHOW CREATE DATABASE of every database, SHOW CREATE TABLE of every table
 * the backup takes. */
static int capture_databases_tables(ctx *c, MYSQL *m, json_t *dbs, json_t *tabs, gd_err *err)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = list_names(m,
                        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
                        "SCHEMA_NAME NOT IN (" SYSTEM_DBS ") ORDER BY 1",
                        &res, err);
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        char *q = gd_ident(row[0]);
        char *sql = gd_asprintf("SHOW CREATE DATABASE %s", q);
        rc = show_create(m, dbs, json_pack("{s:s}", "name", row[0]), sql, 1, NULL, NULL, 0, err);
        free(sql);
        free(q);
    }
    if (res)
        mysql_free_result(res);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++) {
        table *t = &c->tables[i];
        char *qd = gd_ident(t->db), *qt = gd_ident(t->name);
        char *sql = gd_asprintf("SHOW CREATE TABLE %s.%s", qd, qt);
        rc = show_create(m, tabs, json_pack("{s:s, s:s}", "db", t->db, "name", t->name), sql, 1,
                         NULL, NULL, 0, err);
        free(sql);
        free(qd);
        free(qt);
    }
    return rc;
}

/* One kind of schema object other than databases and tables: how to list
 * it, how to show it, where its CREATE is, which session settings to keep. */
typedef struct schema_kind {
    const char *list_sql;
    const char *show; /* NULL: the third column of the listing (routines) */
    const char *key;  /* its array in the schema object */
    int create_col;
    const char *const *xn;
    const int *xc;
    size_t nx;
} schema_kind;

static const char *const view_x[] = {"character_set_client", "collation_connection"};
static const int view_c[] = {2, 3};
static const char *const trig_x[] = {"sql_mode", "character_set_client", "collation_connection"};
static const int trig_c[] = {1, 3, 4};
static const char *const rout_x[] = {"sql_mode", "character_set_client", "collation_connection"};
static const int rout_c[] = {1, 3, 4};
static const char *const ev_x[] = {"sql_mode", "time_zone", "character_set_client",
                                   "collation_connection"};
static const int ev_c[] = {1, 2, 4, 5};

static const schema_kind kinds[] = {
    {"SELECT TABLE_SCHEMA, TABLE_NAME, 'VIEW' FROM information_schema.VIEWS WHERE "
     "TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
     "VIEW", "views", 1, view_x, view_c, 2},
    {"SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
     "WHERE TRIGGER_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
     "TRIGGER", "triggers", 2, trig_x, trig_c, 3},
    {"SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
     "WHERE ROUTINE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
     NULL, "routines", 2, rout_x, rout_c, 3},
    {"SELECT TABLE_SCHEMA, TABLE_NAME, 'SEQUENCE' FROM information_schema.TABLES WHERE "
     "TABLE_TYPE='SEQUENCE' AND TABLE_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
     "SEQUENCE", "sequences", 1, NULL, NULL, 0},
    {"SELECT EVENT_SCHEMA, EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE "
     "EVENT_SCHEMA NOT IN (" SYSTEM_DBS ") ORDER BY 1,2",
     "EVENT", "events", 3, ev_x, ev_c, 4},
};

static int capture_kind(MYSQL *m, const schema_kind *k, json_t *arr, gd_err *err)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = list_names(m, k->list_sql, &res, err);
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        char *qd = gd_ident(row[0]), *qn = gd_ident(row[1]);
        const char *type = k->show ? k->show : row[2];
        char *sql = gd_asprintf("SHOW CREATE %s %s.%s", type, qd, qn);
        rc = show_create(m, arr,
                         json_pack("{s:s, s:s, s:s, s:s}", "db", row[0], "name", row[1], "type",
                                   type, "on", row[2]),
                         sql, k->create_col, k->xn, k->xc, k->nx, err);
        free(sql);
        free(qd);
        free(qn);
    }
    if (res)
        mysql_free_result(res);
    return rc;
}

/* A sequence also needs the next value it will hand out. */
static int capture_sequence_values(MYSQL *m, json_t *seqs, gd_err *err)
{
    size_t si;
    json_t *sq;
    json_array_foreach(seqs, si, sq)
    {
        char *qd = gd_ident(gd_json_str(sq, "db", "")), *qn = gd_ident(gd_json_str(sq, "name", ""));
        char *next = NULL;
        int rc = gd_sql_value(m, &next, err, "SELECT next_not_cached_value FROM %s.%s", qd, qn);
        if (rc == 0)
            json_object_set_new(sq, "next", json_string(next));
        free(next);
        free(qd);
        free(qn);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int capture_schema(ctx *c, MYSQL *m, json_t **out, gd_err *err)
{
    json_t *s = json_pack("{s:[], s:[]}", "databases", "tables");
    /* SHOW CREATE in the layout the restore and the set check read:
     * backquoted names whatever the server's sql_mode (ANSI_QUOTES and
     * ORACLE would print "name"). */
    int rc = gd_sql(m, err, "SET SESSION sql_quote_show_create = 1, sql_mode = ''");
    if (rc == 0)
        rc = capture_databases_tables(c, m, json_object_get(s, "databases"),
                                      json_object_get(s, "tables"), err);
    for (size_t k = 0; rc == 0 && k < sizeof kinds / sizeof kinds[0]; k++) {
        json_t *arr = json_array();
        json_object_set_new(s, kinds[k].key, arr);
        rc = capture_kind(m, &kinds[k], arr, err);
    }
    if (rc == 0)
        rc = capture_sequence_values(m, json_object_get(s, "sequences"), err);
    if (rc == 0 && c->opts->with_users)
        rc = capture_users(m, s, err);
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    *out = s;
    return 0;
}

void *backup_schema_thread(void *arg)
{
    schema_job *sj = arg;
    sj->rc = capture_schema(sj->c, sj->m, &sj->schema, &sj->err);
    return NULL;
}

int backup_write_schema(ctx *c, json_t *schema, gd_mf_object *entry, gd_err *err)
{
    char *text = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise schema");
    char *rel = gd_asprintf("schema.json%s", gd_repo_suffix(c->repo));
    char *name = gd_repo_object_name(c->repo, c->set_id, rel);
    gd_obj_writer *w = NULL;
    gd_obj_info info;
    int rc = gd_obj_create(c->repo, name, &w, err);
    if (rc == 0) {
        rc = gd_obj_write(w, text, strlen(text), err);
        if (rc == 0)
            rc = gd_obj_commit(w, &info, err);
        else
            gd_obj_abort(w);
    }
    if (rc == 0) {
        *entry = (gd_mf_object){.object = rel, .raw_size = info.raw_size, .size = info.size};
        memcpy(entry->sha256, info.sha256, sizeof entry->sha256);
        rel = NULL;
    }
    free(name);
    free(rel);
    free(text);
    return rc;
}
