/* The state database on SQLite.  One connection behind a mutex: the server
 * writes a few rows a minute, so a pool would buy nothing.  WAL with
 * synchronous=NORMAL: a power cut may lose the last transactions but never
 * corrupts the file, and losing a job row is harmless (it is a cache). */
#include "server/state.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define STATE_VERSION 1
#define STATE_BUSY_MS 5000

static const char SCHEMA[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, operation TEXT NOT NULL, instance TEXT,"
    " status TEXT NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,"
    " error_code TEXT, error_message TEXT, result_json TEXT);"
    "CREATE INDEX jobs_by_start ON jobs (start_us);"
    "CREATE TABLE kv (instance TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (instance, key)) WITHOUT ROWID;";

#define JOB_COLUMNS                                                                                \
    "id, operation, instance, status, start_us, end_us, error_code, error_message, result_json"

/* The prepared statements, in the order of stmt_sql. */
enum { ST_JOB_PUT, ST_JOB_ONE, ST_JOB_LIST, ST_JOB_INTERRUPTED, ST_KV_GET, ST_KV_SET, ST_N };

static const char *const stmt_sql[ST_N] = {
    [ST_JOB_PUT] =
        "INSERT OR REPLACE INTO jobs (" JOB_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_JOB_ONE] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
    [ST_JOB_LIST] = "SELECT " JOB_COLUMNS " FROM jobs ORDER BY start_us DESC, id DESC LIMIT ?1",
    [ST_JOB_INTERRUPTED] = "UPDATE jobs SET status = 'Failed', end_us = ?1,"
                           " error_code = 'interrupted', error_message = ?2"
                           " WHERE status = 'Running'",
    [ST_KV_GET] = "SELECT value FROM kv WHERE instance = ?1 AND key = ?2",
    [ST_KV_SET] = "INSERT OR REPLACE INTO kv (instance, key, value) VALUES (?1, ?2, ?3)",
};

struct gd_state {
    pthread_mutex_t mu;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_N];
};

static bool is_corrupt(int rc)
{
    rc &= 0xff; /* extended codes keep the primary one in the low byte */
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static int db_fail(const char *path, sqlite3 *db, int rc, const char *what, gd_err *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_BUSY)
        return gd_err_set(err, GD_E_IO,
                          "state database %s: %s: %s (is another geodr server using this "
                          "state directory?)",
                          path, what, msg);
    return gd_err_set(err, GD_E_IO,
                      "state database %s: %s: %s (it is only a cache: stop the server and "
                      "delete it if this persists)",
                      path, what, msg);
}

/* The schema is ours and current (*bad false), or the file is something
 * else (*bad true: move it aside).  An empty database gets the schema. */
static int schema_ready(const char *path, sqlite3 *db, bool *bad, gd_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *bad = strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *bad = is_corrupt(rc);
        return *bad ? 0 : db_fail(path, db, rc, "checking it", err);
    }
    if (*bad)
        return 0;

    int tables = -1, version = -1;
    rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        tables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (tables == 0) {
        char *sql = gd_asprintf("BEGIN IMMEDIATE;%sINSERT INTO schema_version VALUES (%d);COMMIT",
                                SCHEMA, STATE_VERSION);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return db_fail(path, db, rc, "creating its tables", err);
        }
        return 0;
    }
    rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    *bad = version != STATE_VERSION;
    return 0;
}

static void close_db(gd_state *s)
{
    for (int i = 0; i < ST_N; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    sqlite3_close(s->db);
    s->db = NULL;
}

/* Opens s->path into s->db with its statements prepared; *bad when the
 * file is not a usable state database. */
static int open_db(gd_state *s, bool *bad, gd_err *err)
{
    *bad = false;
    /* Created here, not by SQLite, so that it is 0600 whatever the umask
     * (SQLite gives the WAL and shm files the database's mode). */
    int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return gd_err_sys(err, errno, "state database %s: cannot open it", s->path);
    int frc = fchmod(fd, 0600);
    close(fd);
    if (frc != 0)
        return gd_err_sys(err, errno, "state database %s: cannot make it private", s->path);

    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int r = db_fail(s->path, s->db, rc, "opening it", err);
        close_db(s);
        return r;
    }
    sqlite3_busy_timeout(s->db, STATE_BUSY_MS);
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", NULL, NULL,
                      NULL);
    int r = 0;
    if (rc != SQLITE_OK) {
        *bad = is_corrupt(rc);
        if (!*bad)
            r = db_fail(s->path, s->db, rc, "setting it up", err);
    } else {
        r = schema_ready(s->path, s->db, bad, err);
    }
    for (int i = 0; r == 0 && !*bad && i < ST_N; i++)
        if ((rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                     NULL)) != SQLITE_OK)
            r = db_fail(s->path, s->db, rc, "preparing its statements", err);
    if (r != 0 || *bad)
        close_db(s);
    return r;
}

/* state.db -> state.db.bad-<time>, its WAL with it; the shm index is
 * rebuilt from the WAL, so it goes. */
static int move_aside(const char *path, gd_err *err)
{
    char t[32];
    gd_fmt_time_compact(gd_now_us(), t, sizeof t);
    char *bad = gd_asprintf("%s.bad-%s", path, t);
    for (int n = 2; access(bad, F_OK) == 0 && n < 1000; n++) { /* keep every bad copy */
        free(bad);
        bad = gd_asprintf("%s.bad-%s-%d", path, t, n);
    }
    char *wal = gd_asprintf("%s-wal", path);
    char *badwal = gd_asprintf("%s-wal", bad);
    char *shm = gd_asprintf("%s-shm", path);
    int rc = 0;
    if (rename(path, bad) != 0)
        rc = gd_err_sys(err, errno, "state database %s: cannot move it aside", path);
    else if (rename(wal, badwal) != 0 && errno != ENOENT)
        rc = gd_err_sys(err, errno, "state database %s: cannot move its WAL aside", path);
    else if (unlink(shm) != 0 && errno != ENOENT)
        rc = gd_err_sys(err, errno, "state database %s: cannot remove %s", path, shm);
    if (rc == 0)
        gd_log_kv(GD_LOG_WARN,
                  "event=state_database_replaced path=%s moved_to=%s reason=\"corrupt or of an "
                  "unknown version: a new one was created (it is only a cache: the backups are in "
                  "the regions)\"",
                  path, bad);
    free(bad);
    free(wal);
    free(badwal);
    free(shm);
    return rc;
}

/* Traversable, not listable: a restore drill's instance (drills/ under it)
 * runs as user mysql when the server runs as root, and must reach its
 * folder; the files here are 0600. */
static int make_dir(const char *dir, gd_err *err)
{
    if (mkdir(dir, 0711) == 0)
        return 0;
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return gd_err_sys(err, errno == EEXIST ? ENOTDIR : errno,
                      "state directory %s: cannot create it", dir);
}

int gd_state_open(const char *dir, gd_state **out, gd_err *err)
{
    *out = NULL;
    int rc = make_dir(dir, err);
    if (rc != 0)
        return rc;
    gd_state *s = gd_calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->path = gd_asprintf("%s/state.db", dir);
    bool bad = false;
    rc = open_db(s, &bad, err);
    if (rc == 0 && bad && (rc = move_aside(s->path, err)) == 0) {
        rc = open_db(s, &bad, err);
        if (rc == 0 && bad)
            rc = gd_err_set(err, GD_E_CORRUPT,
                            "state database %s: a new database could not be created", s->path);
    }
    if (rc == 0) {
        int n = gd_state_jobs_interrupted(s, err);
        rc = n < 0 ? n : 0;
        if (n > 0)
            gd_log_kv(GD_LOG_WARN, "event=jobs_interrupted jobs=%d status=Failed", n);
    }
    if (rc == 0) {
        char *sql = gd_asprintf("DELETE FROM jobs WHERE status <> 'Running' AND id NOT IN "
                                "(SELECT id FROM jobs ORDER BY start_us DESC LIMIT %d)",
                                GD_STATE_JOBS_KEEP);
        int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        free(sql);
        if (src != SQLITE_OK)
            rc = db_fail(s->path, s->db, src, "dropping old jobs", err);
    }
    if (rc != 0) {
        gd_state_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void gd_state_close(gd_state *s)
{
    if (s == NULL)
        return;
    close_db(s);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a bound statement that returns no rows, then resets it. */
static int step_done(gd_state *s, sqlite3_stmt *st, const char *what, gd_err *err)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : db_fail(s->path, s->db, rc, what, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r;
}

int gd_state_job_put(gd_state *s, const gd_state_job *j, gd_err *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_JOB_PUT];
    bind_text(st, 1, j->id);
    bind_text(st, 2, j->operation);
    bind_text(st, 3, j->instance);
    bind_text(st, 4, j->status);
    sqlite3_bind_int64(st, 5, j->start_us);
    sqlite3_bind_int64(st, 6, j->end_us);
    bind_text(st, 7, j->error_code);
    bind_text(st, 8, j->error_message);
    bind_text(st, 9, j->result_json);
    int rc = step_done(s, st, "recording a job", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void fmt_iso(int64_t us, char *buf, size_t size)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *gd_state_job_json(const gd_state_job *j)
{
    char start[32], end[32];
    fmt_iso(j->start_us, start, sizeof start);
    fmt_iso(j->end_us, end, sizeof end);
    json_t *result = j->result_json ? json_loads(j->result_json, 0, NULL) : NULL;
    json_t *error = json_null();
    if (j->error_code || j->error_message)
        error = json_pack("{s:o, s:o}", "Code", str_or_null(j->error_code), "Message",
                          str_or_null(j->error_message));
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o}", "JobId", j->id, "Operation",
                     j->operation, "DBInstanceId", str_or_null(j->instance), "Status", j->status,
                     "StartTime", start, "EndTime", j->end_us ? json_string(end) : json_null(),
                     "Result", result ? result : json_null(), "Error", error);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int gd_state_jobs(gd_state *s, const char *id, size_t limit, json_t **out, gd_err *err)
{
    *out = json_array();
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[id ? ST_JOB_ONE : ST_JOB_LIST];
    if (id)
        bind_text(st, 1, id);
    else
        sqlite3_bind_int64(st, 1, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        gd_state_job j = {
            .id = col(st, 0),
            .operation = col(st, 1),
            .instance = col(st, 2),
            .status = col(st, 3),
            .start_us = sqlite3_column_int64(st, 4),
            .end_us = sqlite3_column_int64(st, 5),
            .error_code = col(st, 6),
            .error_message = col(st, 7),
            .result_json = col(st, 8),
        };
        json_array_append_new(*out, gd_state_job_json(&j));
    }
    int r = rc == SQLITE_DONE ? 0 : db_fail(s->path, s->db, rc, "reading jobs", err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&s->mu);
    if (r != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return r;
}

int gd_state_jobs_interrupted(gd_state *s, gd_err *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_JOB_INTERRUPTED];
    sqlite3_bind_int64(st, 1, gd_now_us());
    bind_text(st, 2,
              "the server stopped while this job ran; nothing it did is half-committed: "
              "run it again");
    int rc = step_done(s, st, "marking interrupted jobs", err);
    if (rc == 0)
        rc = sqlite3_changes(s->db);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gd_state_get(gd_state *s, const char *instance, const char *key, char **value, gd_err *err)
{
    *value = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_KV_GET];
    bind_text(st, 1, instance);
    bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW)
        *value = gd_strdup(col(st, 0));
    else if (rc != SQLITE_DONE)
        r = db_fail(s->path, s->db, rc, "reading the scheduler's state", err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&s->mu);
    return r;
}

int gd_state_set(gd_state *s, const char *instance, const char *key, const char *value, gd_err *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[ST_KV_SET];
    bind_text(st, 1, instance);
    bind_text(st, 2, key);
    bind_text(st, 3, value);
    int rc = step_done(s, st, "writing the scheduler's state", err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
