#include "common/json.h"
#include "restore/restore.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "repo/setcheck.h"
#include "restore/restore.intern.h"

int gd_restore_defer_keys(const char *create, char **without, char **add_keys)
{
    *without = *add_keys = NULL;
    if (strstr(create, "FOREIGN KEY") != NULL)
        return GD_E_STATE; /* a foreign key needs its index in place */
    const char *body = strchr(create, '\n');
    if (body == NULL)
        return GD_E_STATE;
    body++;
    gd_buf keep, keys;
    gd_buf_init(&keep, 0);
    gd_buf_init(&keys, 0);
    gd_buf_append(&keep, create, (size_t)(body - create));
    const char *p = body;
    size_t nkeep = 0;
    int rc = 0;
    while (*p && *p != ')') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) {
            rc = GD_E_STATE;
            break;
        }
        size_t len = (size_t)(eol - p);
        if (len > 0 && p[len - 1] == ',')
            len--;
        /* Only the regular one-definition-per-line layout of SHOW CREATE
         * TABLE is rewritten; anything else is left alone. */
        static const char *const known[] = {"  `",           "  PRIMARY KEY ",  "  UNIQUE KEY ",
                                            "  KEY `",       "  FULLTEXT KEY ", "  SPATIAL KEY ",
                                            "  CONSTRAINT ", "  CHECK ",        "  PERIOD FOR "};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strncmp(p, known[i], strlen(known[i])) == 0;
        if (!ok) {
            rc = GD_E_STATE;
            break;
        }
        if (strncmp(p, "  KEY `", 7) == 0) {
            gd_buf_appendf(&keys, "%sADD ", keys.len ? ", " : "");
            gd_buf_append(&keys, p + 2, len - 2);
        } else {
            if (nkeep++)
                gd_buf_append(&keep, ",\n", 2);
            gd_buf_append(&keep, p, len);
        }
        p = eol + 1;
    }
    if (rc == 0 && (*p != ')' || keys.len == 0 || nkeep == 0))
        rc = GD_E_STATE;
    if (rc != 0) {
        gd_buf_free(&keep);
        gd_buf_free(&keys);
        return rc;
    }
    gd_buf_append(&keep, "\n", 1);
    gd_buf_append(&keep, p, strlen(p));
    *without = keep.data;
    *add_keys = keys.data;
    return 0;
}

/* ---- selection and renames ---- */

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const char *target_db(const gd_restore_opts *o, const char *db)
{
    for (size_t i = 0; i < o->nrenames; i++)
        if (strcmp(o->rename_from[i], db) == 0)
            return o->rename_to[i];
    return db;
}

static bool want_db(const gd_restore_opts *o, const char *db)
{
    if (o->ndatabases == 0 && o->ntables == 0)
        return true;
    if (in_list(o->databases, o->ndatabases, db))
        return true;
    size_t l = strlen(db);
    for (size_t i = 0; i < o->ntables; i++)
        if (strncmp(o->tables[i], db, l) == 0 && o->tables[i][l] == '.')
            return true;
    return false;
}

/* Whole database selected (views, routines, events come along). */
static bool want_whole_db(const gd_restore_opts *o, const char *db)
{
    return (o->ndatabases == 0 && o->ntables == 0) || in_list(o->databases, o->ndatabases, db);
}

bool gd_restore_wants_table(const gd_restore_opts *o, const char *db, const char *name)
{
    if (want_whole_db(o, db))
        return true;
    char *full = gd_asprintf("%s.%s", db, name);
    bool r = in_list(o->tables, o->ntables, full);
    free(full);
    return r;
}

/* Replaces every "`from`." with "`to`." (views name their tables fully
 * qualified). */
static char *requalify(const char *sql, const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return gd_strdup(sql);
    char *qf = gd_ident(from), *qt = gd_ident(to);
    char *pat = gd_asprintf("%s.", qf);
    size_t pl = strlen(pat);
    gd_buf b;
    gd_buf_init(&b, 0);
    const char *p = sql;
    for (;;) {
        const char *hit = strstr(p, pat);
        if (hit == NULL) {
            gd_buf_append(&b, p, strlen(p));
            break;
        }
        gd_buf_append(&b, p, (size_t)(hit - p));
        gd_buf_appendf(&b, "%s.", qt);
        p = hit + pl;
    }
    free(qf);
    free(qt);
    free(pat);
    return b.data;
}

/* ---- checks on the target ---- */

/* The tables of the target's databases that the restore would create, in
 * one query (a query per table costs seconds for 10,000 tables), indexed by
 * exact (db, name).  names keeps the strings the index points at. */
static int target_tables(MYSQL *m, rtable *rts, size_t nrt, gd_nameidx *ix, MYSQL_RES **names,
                         gd_err *err)
{
    json_t *dbs = json_object(); /* a set of the target databases */
    gd_buf in;
    gd_buf_init(&in, 0);
    for (size_t k = 0; k < nrt; k++) {
        if (json_object_get(dbs, rts[k].tdb) != NULL)
            continue;
        json_object_set_new(dbs, rts[k].tdb, json_true());
        char *e = gd_sql_escape(m, rts[k].tdb);
        gd_buf_appendf(&in, "%s'%s'", in.len ? "," : "", e);
        free(e);
    }
    json_decref(dbs);
    int rc = 0;
    if (in.len)
        rc = gd_sql_query(m, names, err,
                          "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
                          "TABLE_SCHEMA IN (%s)",
                          in.data);
    gd_buf_free(&in);
    if (rc != 0 || *names == NULL)
        return rc;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(*names)) != NULL)
        gd_nameidx_add(ix, row[0], row[1], 0);
    gd_nameidx_seal(ix);
    return 0;
}

/* Runs a saved DDL statement with its saved session context. */
static int run_ddl(MYSQL *m, json_t *o, const char *db, const char *sql, gd_err *err)
{
    const char *mode = gd_json_str(o, "sql_mode", NULL);
    const char *cs = gd_json_str(o, "character_set_client", NULL);
    const char *coll = gd_json_str(o, "collation_connection", NULL);
    const char *tz = gd_json_str(o, "time_zone", NULL);
    int rc = 0;
    char *qdb = gd_ident(db);
    if ((rc = gd_sql(m, err, "USE %s", qdb)) != 0)
        goto out;
    if (mode && (rc = gd_sql(m, err, "SET SESSION sql_mode = '%s'", mode)) != 0)
        goto out;
    if (cs && (rc = gd_sql(m, err, "SET SESSION character_set_client = '%s'", cs)) != 0)
        goto out;
    if (coll && (rc = gd_sql(m, err, "SET SESSION collation_connection = '%s'", coll)) != 0)
        goto out;
    if (tz && (rc = gd_sql(m, err, "SET SESSION time_zone = '%s'", tz)) != 0)
        goto out;
    rc = gd_sql(m, err, "%s", sql);
    gd_err e2;
    gd_err_clear(&e2);
    gd_sql(m, &e2,
           "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', character_set_client = "
           "utf8mb4, collation_connection = utf8mb4_general_ci, time_zone = '+00:00'");
out:
    free(qdb);
    return rc;
}

int gd_restore_pick_set(gd_repo *repo, const char *set_id, char **id_out, gd_manifest **manifest,
                        gd_err *err)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (set_id == NULL) {
        if ((rc = gd_repo_list_sets(repo, &ids, &n, err)) != 0)
            return rc;
        if (n == 0) {
            gd_strv_free(ids, n);
            return gd_err_set(err, GD_E_NOTFOUND,
                              "no backup set of instance %s in region %s: run 'geodr backup "
                              "%s' first",
                              repo->instance, repo->st->name, repo->instance);
        }
        set_id = ids[n - 1];
    }
    rc = gd_manifest_read(repo, set_id, manifest, err);
    if (rc == 0)
        *id_out = gd_strdup(set_id);
    gd_strv_free(ids, n);
    return rc;
}

static int cmp_table_size(const void *a, const void *b)
{
    const rtable *x = *(rtable *const *)a, *y = *(rtable *const *)b;
    return x->raw_size < y->raw_size ? 1 : x->raw_size > y->raw_size ? -1 : 0;
}

/* A signal asked the restore to stop (opts->stop): checked between steps. */
static int interrupted(const gd_restore_opts *opts, gd_err *err)
{
    if (!gd_cancel_requested(opts->stop))
        return 0;
    return gd_err_set(err, GD_E_CANCEL,
                      "interrupted: the restore stopped part way; the target holds part of the "
                      "set");
}

/* ---- the run, phase by phase ---- */

/* 1a. The set: its manifest, its schema object, both checked; the
 * databases asked for are in it. */
static int read_set(rctx *c, gd_err *err)
{
    const gd_restore_opts *opts = c->opts;
    int rc = gd_restore_pick_set(c->repo, opts->set_id, &c->set_id, &c->manifest, err);
    if (rc != 0)
        return rc;
    if (strcmp(c->manifest->method, "logical") != 0)
        return gd_err_set(err, GD_E_STATE,
                          "set %s was taken with method '%s', which this geodr cannot restore",
                          c->set_id, c->manifest->method);
    const gd_mf_object *sch = &c->manifest->schema;
    char *sname = gd_manifest_object_name(c->repo, c->set_id, sch);
    rc = gd_obj_read_all(c->repo, sname, sch->sha256, GD_SCHEMA_MAX, &c->schema_text, NULL, err);
    free(sname);
    if (rc != 0)
        return rc;
    json_error_t je;
    if ((c->schema = json_loads(c->schema_text, 0, &je)) == NULL)
        return gd_err_set(err, GD_E_CORRUPT, "schema of set %s is not valid JSON", c->set_id);
    /* A set written wrong (no columns for a table, columns that are not its
     * CREATE TABLE's) would load NULLs or shifted values: refuse it whole. */
    gd_set_problems problems = {0};
    if (gd_set_check(c->manifest, c->schema, &problems) > 0) {
        char *msg = gd_set_check_message(&problems);
        rc = gd_err_set(err, GD_E_CORRUPT,
                        "set %s cannot be restored as it was taken: %s; nothing was written to "
                        "the target. Restore another set (geodr verify %s names the good ones) "
                        "and take a new backup",
                        c->set_id, msg, c->repo->instance);
        free(msg);
    }
    gd_set_problems_free(&problems);
    for (size_t i = 0; rc == 0 && i < opts->ndatabases; i++) {
        bool found = false;
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(c->schema, "databases"), k, d) found |=
            strcmp(gd_json_str(d, "name", ""), opts->databases[i]) == 0;
        if (!found)
            rc = gd_err_set(err, GD_E_NOTFOUND, "database %s is not in set %s", opts->databases[i],
                            c->set_id);
    }
    c->legacy = c->manifest->legacy;
    return rc;
}

/* One table of the manifest that the restore takes: its chunks become jobs. */
static int add_table(rctx *c, const gd_mf_table *mt, gd_err *err)
{
    const char *db = mt->db, *name = mt->name;
    /* Not as of the set's position: dumped after the lock
     * (--no-lock-nontransactional), or by a geodr before 0.2, which dumped
     * every table but InnoDB's after the lock. */
    bool inconsistent = !mt->consistent || (c->legacy && strcasecmp(mt->engine, "InnoDB") != 0);
    if (c->opts->replay_follows && inconsistent)
        return gd_err_set(err, GD_E_STATE,
                          "table %s.%s (engine %s) of set %s was dumped outside the set's "
                          "snapshot (taken with --no-lock-nontransactional, or by a geodr before "
                          "0.2), so binlog cannot be replayed onto it; restore this set without "
                          "replay (--set %s or --fastest), leave the table out, or use a set "
                          "taken with the default lock",
                          db, name, mt->engine, c->set_id, c->set_id);
    rtable *t = &c->rts[c->nrt++];
    t->mt = mt;
    t->db = db;
    t->tdb = target_db(c->opts, db);
    t->name = name;
    t->load_sql = restore_load_sql(t);
    atomic_init(&t->chunks_left, (int)mt->nchunks); /* <= GD_MANIFEST_MAX_CHUNKS */
    t->first_job = c->njobs;
    t->njobs = mt->nchunks;
    for (size_t k = 0; k < mt->nchunks; k++) {
        const gd_mf_object *ch = &mt->chunks[k];
        c->jobs = gd_realloc(c->jobs, (c->njobs + 1) * sizeof *c->jobs);
        rjob *j = &c->jobs[c->njobs++];
        j->t = t;
        j->chunk = ch;
        j->object = ch->object;
        j->sha256 = ch->sha256;
        j->rows = ch->rows;
        j->raw_size = ch->raw_size;
        /* Sets before geodr 0.2 held ENUM values as text and did not count
         * error values: their 1265 warnings are accepted as then. */
        j->enum_errors = c->legacy ? ULLONG_MAX : ch->enum_errors;
        c->total_bytes += j->raw_size;
        t->raw_size += j->raw_size;
    }
    return 0;
}

/* 1b. The tables the options choose, their jobs, and the order the loaders
 * take them in (biggest first); the tables asked for are in the set. */
static int plan_tables(rctx *c, gd_err *err)
{
    const gd_restore_opts *opts = c->opts;
    const gd_manifest *mf = c->manifest;
    c->rts = gd_calloc(mf->ntables + 1, sizeof *c->rts);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < mf->ntables; i++) {
        if (gd_restore_wants_table(opts, mf->tables[i].db, mf->tables[i].name))
            rc = add_table(c, &mf->tables[i], err);
    }
    if (rc != 0)
        return rc;
    for (size_t r = 0; r < c->nrt; r++)
        gd_nameidx_add(&c->rix, c->rts[r].db, c->rts[r].name, r);
    gd_nameidx_seal(&c->rix);
    for (size_t k = 0; k < opts->ntables; k++) {
        bool found = false;
        for (size_t r = 0; r < c->nrt && !found; r++) {
            char *full = gd_asprintf("%s.%s", c->rts[r].db, c->rts[r].name);
            found = strcmp(full, opts->tables[k]) == 0;
            free(full);
        }
        if (!found)
            return gd_err_set(err, GD_E_NOTFOUND, "table %s is not in set %s", opts->tables[k],
                              c->set_id);
    }
    c->order = gd_calloc(c->nrt + 1, sizeof *c->order);
    for (size_t k = 0; k < c->nrt; k++)
        c->order[k] = &c->rts[k];
    qsort(c->order, c->nrt, sizeof *c->order, cmp_table_size);
    return 0;
}

/* 2. The target: reachable, and nothing of ours would be overwritten. */
static int check_target(rctx *c, gd_err *err)
{
    int rc = gd_conn_open(c->target, &c->m, err);
    if (rc == 0)
        rc = target_tables(c->m, c->rts, c->nrt, &c->existing, &c->existing_names, err);
    for (size_t k = 0; rc == 0 && k < c->nrt; k++) {
        const rtable *t = &c->rts[k];
        if (gd_nameidx_find(&c->existing, t->tdb, t->name, NULL) && !c->opts->replace_existing)
            rc = gd_err_set(err, GD_E_EXISTS,
                            "target is not empty: table %s.%s already exists (restore into an "
                            "empty server, choose --rename %s=NEWDB, or pass "
                            "--replace-existing to drop and recreate it)",
                            t->tdb, t->name, t->db);
    }
    return rc;
}

/* 3a. The control connection's session, and the databases. */
static int create_databases(rctx *c, gd_err *err)
{
    int rc =
        gd_sql(c->m, err, "SET SESSION foreign_key_checks = 0, sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
    if (rc != 0)
        return rc;
    if (!c->opts->write_binlog) {
        gd_err e2;
        gd_err_clear(&e2);
        if (gd_sql(c->m, &e2, "SET SESSION sql_log_bin = 0") != 0)
            gd_warn("the target writes the restore to its binary log: %s", e2.msg);
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(c->schema, "databases"), i, d)
    {
        const char *db = gd_json_str(d, "name", "");
        if (!want_db(c->opts, db))
            continue;
        const char *create = gd_json_str(d, "create", "");
        char *qsrc = gd_ident(db), *qdst = gd_ident(target_db(c->opts, db));
        size_t skip = strlen("CREATE DATABASE ") + strlen(qsrc);
        const char *rest = strlen(create) >= skip ? create + skip : "";
        rc = gd_sql(c->m, err, "CREATE DATABASE IF NOT EXISTS %s%s", qdst, rest);
        free(qsrc);
        free(qdst);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* 3b. One table: dropped first with --replace-existing; the plain secondary
 * indexes of a big table are built after its rows (one sort per index; for
 * a small one the extra ALTER costs more than it saves). */
static int create_table(rctx *c, json_t *d, gd_err *err)
{
    const char *db = gd_json_str(d, "db", ""), *name = gd_json_str(d, "name", "");
    const char *tdb = target_db(c->opts, db);
    int rc = interrupted(c->opts, err);
    if (rc == 0 && c->opts->replace_existing) {
        char *qd = gd_ident(tdb), *qt = gd_ident(name);
        rc = gd_sql(c->m, err, "DROP TABLE IF EXISTS %s.%s", qd, qt);
        free(qd);
        free(qt);
    }
    if (rc != 0)
        return rc;
    const char *create = gd_json_str(d, "create", "");
    char *without = NULL;
    size_t rk;
    rtable *rt = gd_nameidx_find(&c->rix, db, name, &rk) ? &c->rts[rk] : NULL;
    if (rt && rt->raw_size >= DEFER_KEYS_MIN &&
        gd_restore_defer_keys(create, &without, &rt->add_keys) == 0)
        create = without;
    rc = run_ddl(c->m, d, tdb, create, err);
    free(without);
    return rc;
}

/* 3c. A sequence, and the next value it hands out. */
static int create_sequence(rctx *c, json_t *d, gd_err *err)
{
    const char *tdb = target_db(c->opts, gd_json_str(d, "db", ""));
    char *qd = gd_ident(tdb), *qt = gd_ident(gd_json_str(d, "name", ""));
    int rc = 0;
    if (c->opts->replace_existing)
        rc = gd_sql(c->m, err, "DROP SEQUENCE IF EXISTS %s.%s", qd, qt);
    if (rc == 0)
        rc = run_ddl(c->m, d, tdb, gd_json_str(d, "create", ""), err);
    if (rc == 0)
        rc = gd_sql(c->m, err, "DO SETVAL(%s.%s, %lld, 0)", qd, qt,
                    strtoll(gd_json_str(d, "next", "1"), NULL, 10));
    free(qd);
    free(qt);
    return rc;
}

/* 3. Databases, tables and sequences, before any row. */
static int create_tables(rctx *c, gd_err *err)
{
    int rc = create_databases(c, err);
    static const char *const kinds[] = {"tables", "sequences"};
    for (size_t k = 0; rc == 0 && k < 2; k++) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(c->schema, kinds[k]), i, d)
        {
            if (rc != 0 || !gd_restore_wants_table(c->opts, gd_json_str(d, "db", ""),
                                                   gd_json_str(d, "name", "")))
                continue;
            rc = k == 0 ? create_table(c, d, err) : create_sequence(c, d, err);
        }
    }
    return rc;
}

/* 5. Routines, triggers (a trigger follows its table), events. */
static int create_code(rctx *c, gd_err *err)
{
    const gd_restore_opts *opts = c->opts;
    static const char *const kinds[] = {"routines", "triggers", "events"};
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(c->schema, kinds[k]), i, d)
        {
            const char *db = gd_json_str(d, "db", "");
            if (!want_whole_db(opts, db) &&
                (k != 1 || !want_db(opts, db) ||
                 !gd_restore_wants_table(opts, db, gd_json_str(d, "on", ""))))
                continue;
            int rc = run_ddl(c->m, d, target_db(opts, db), gd_json_str(d, "create", ""), err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* 6. Views, after routines (a view may call a function), retried while
 * some succeed (one view may use another). */
static int create_views(rctx *c, gd_err *err)
{
    const gd_restore_opts *opts = c->opts;
    json_t *views = json_object_get(c->schema, "views");
    size_t nv = json_array_size(views), left = 0;
    bool *done = gd_calloc(nv + 1, sizeof *done);
    for (size_t k = 0; k < nv; k++) {
        done[k] = !want_whole_db(opts, gd_json_str(json_array_get(views, k), "db", ""));
        left += !done[k];
    }
    int rc = 0;
    gd_err last;
    gd_err_clear(&last);
    while (left > 0) {
        size_t before = left;
        for (size_t k = 0; k < nv; k++) {
            if (done[k])
                continue;
            json_t *v = json_array_get(views, k);
            const char *db = gd_json_str(v, "db", "");
            char *sql = requalify(gd_json_str(v, "create", ""), db, target_db(opts, db));
            gd_err_clear(&last);
            if (run_ddl(c->m, v, target_db(opts, db), sql, &last) == 0) {
                done[k] = true;
                left--;
            }
            free(sql);
        }
        if (left == before) {
            if (err)
                *err = last;
            rc = last.code ? last.code : GD_E_MYSQL;
            break;
        }
    }
    free(done);
    return rc;
}

/* 7. Users and grants (--with-users): a user that cannot be created is
 * warned about; a grant that fails stops the restore. */
static int create_users(rctx *c, gd_err *err)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(c->schema, "users"), i, d)
    {
        gd_err e2;
        gd_err_clear(&e2);
        if (gd_sql(c->m, &e2, "%s", gd_json_str(d, "create", "")) != 0) {
            gd_warn("user %s@%s not created: %s", gd_json_str(d, "user", ""),
                    gd_json_str(d, "host", ""), e2.msg);
            continue;
        }
        size_t g;
        json_t *gv;
        json_array_foreach(json_object_get(d, "grants"), g, gv)
        {
            int rc = gd_sql(c->m, err, "%s", json_string_value(gv));
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void rctx_free(rctx *c)
{
    for (int k = 0; k < c->nws; k++)
        gd_conn_close(c->ws[k].m);
    free(c->ws);
    gd_conn_close(c->m);
    for (size_t k = 0; k < c->nrt; k++) {
        free(c->rts[k].load_sql);
        free(c->rts[k].add_keys);
    }
    free(c->rts);
    gd_nameidx_free(&c->rix);
    gd_nameidx_free(&c->existing);
    if (c->existing_names)
        mysql_free_result(c->existing_names);
    free(c->jobs);
    free(c->order);
    json_decref(c->schema);
    gd_manifest_free(c->manifest);
    free(c->schema_text);
    free(c->set_id);
}

int gd_restore_run(gd_repo *repo, const gd_conn_params *target, const gd_restore_opts *opts,
                   gd_restore_result *res, gd_err *err)
{
    rctx c = {.repo = repo, .opts = opts, .target = target, .stop = opts->stop};
    gd_nameidx_init(&c.rix);
    gd_nameidx_init(&c.existing);
    c.nws = opts->jobs > 0 ? opts->jobs : 1;
    c.ws = gd_calloc((size_t)c.nws, sizeof *c.ws);
    double t0 = gd_mono();
    memset(res, 0, sizeof *res);

    /* Everything that can be checked without touching the target, then the
     * target (none: a dry run for an instance not provisioned yet), then
     * the writes, each phase only after the one before succeeded. */
    int rc = read_set(&c, err);
    if (rc == 0) {
        gd_strlcpy(res->set_id, c.set_id, sizeof res->set_id);
        gd_strlcpy(res->gtid, c.manifest->gtid, sizeof res->gtid);
        rc = plan_tables(&c, err);
        res->set_checked = rc == 0;
    }
    if (rc == 0 && target)
        rc = check_target(&c, err);
    if (rc == 0 && target && !opts->dry_run) {
        if ((rc = create_tables(&c, err)) == 0 && (rc = restore_open_loaders(&c, err)) == 0 &&
            (rc = interrupted(opts, err)) == 0 && (rc = restore_load_rows(&c, err)) == 0 &&
            (rc = interrupted(opts, err)) == 0 && (rc = create_code(&c, err)) == 0 &&
            (rc = create_views(&c, err)) == 0 && opts->with_users)
            rc = create_users(&c, err);
        res->rows = atomic_load(&c.rows);
    }
    res->tables = c.nrt;
    res->chunks = c.njobs;
    res->bytes = c.total_bytes;
    res->seconds = gd_mono() - t0;
    rctx_free(&c);
    return rc;
}
