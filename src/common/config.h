/* The configuration file (INI).  Grammar and every key are documented in
 * docs/configuration.md.  Errors name the file, the line and the key, and say
 * what is accepted ("geodr.conf:12: retention-days = 90: must be 1-35 for the
 * home region").  Unknown sections or keys are errors (a typo must not
 * silently drop a setting).  Secrets are never held here: only the names of
 * the files or environment variables that hold them. */
#ifndef GD_COMMON_CONFIG_H
#define GD_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/tls.h"

#define GD_DEFAULT_CONFIG "/etc/geodr/geodr.conf"

typedef enum gd_region_type { GD_REGION_POSIX = 1, GD_REGION_S3 = 2 } gd_region_type;

typedef struct gd_region_cfg {
    char *name;
    gd_region_type type;
    char *path; /* posix */
    /* s3 (parsed and validated now, used by the S3 driver later) */
    char *endpoint, *bucket, *prefix, *region, *credentials_file, *profile, *ca_file;
    int line; /* where the section starts, for messages */
} gd_region_cfg;

/* A daily backup window in UTC (backup-window = HH:MM-HH:MM; the server's
 * schedule, docs/server.md). */
typedef struct gd_backup_window {
    int start_min; /* minutes after 00:00 UTC, 0-1439 */
    int end_min;   /* the same; before start_min: the window crosses midnight */
} gd_backup_window;

/* Parses "HH:MM-HH:MM" (a trailing 'Z' on each time is accepted, as the
 * managed services write it); an empty window (start = end) is refused. */
int gd_backup_window_parse(const char *s, gd_backup_window *out, gd_err *err);
/* "HH:MM-HH:MM" (out: at least 12 bytes). */
void gd_backup_window_format(const gd_backup_window *w, char *out, size_t size);

typedef struct gd_instance_cfg {
    char *name;
    char *host;          /* default "127.0.0.1" */
    unsigned port;       /* default 3306 */
    char *socket;        /* optional unix socket */
    char *user;          /* required */
    char *password_file; /* at most one of password-file / password-env */
    char *password_env;
    char *key_file;           /* encryption on when set */
    char *home_region;        /* required, must name a [region] */
    int retention_days;       /* home: 1-35, default 7 */
    bool cross_region_backup; /* default off */
    char **copy_regions;      /* names of [region]s, not the home one */
    size_t n_copy_regions;
    int copy_retention_days;           /* 7-1825, default 7 */
    bool cross_region_log_backup;      /* default off */
    int jobs;                          /* default backup/restore parallelism, default 4 */
    int compress_level;                /* zstd level 1-19, default 1 */
    long long chunk_rows;              /* target rows per chunk (GD_DEFAULT_CHUNK_ROWS) */
    unsigned archive_server_id;        /* replica server id of the archiver; 0: derived */
    double archive_interval;           /* seconds between segment commits, default 1 */
    unsigned long long copy_bandwidth; /* bytes/s for copies to copy regions, 0: no limit */
    gd_tls_mode ssl_mode;              /* default preferred */
    char *ssl_ca, *ssl_cert, *ssl_key; /* file names; NULL when not set */
    gd_backup_window backup_window;    /* geodr server's daily backup */
    bool backup_window_set;            /* false: a default fixed per instance */
    long long drill_every_s;           /* geodr server's restore drills; 0: off (default) */
    int line;
} gd_instance_cfg;

/* [server]: geodr server (docs/server.md). */
typedef struct gd_server_cfg {
    bool present;        /* the section is in the file */
    char *listen;        /* default 127.0.0.1:7480 */
    char *token_file;    /* required by geodr server */
    char *state_dir;     /* default /var/lib/geodr */
    char *tls_cert_file; /* both or neither */
    char *tls_key_file;
    int backup_retry_s; /* after a failed backup, default 1200 */
    int max_jobs;       /* jobs at once, default 8 */
    int line;
} gd_server_cfg;

typedef struct gd_config {
    char *path;
    gd_region_cfg *regions;
    size_t n_regions;
    gd_instance_cfg *instances;
    size_t n_instances;
    gd_server_cfg server;
} gd_config;

/* Which file to read: explicit (from --config) if not NULL, else
 * $GEODR_CONFIG if set and non-empty, else GD_DEFAULT_CONFIG. */
const char *gd_config_path(const char *explicit_path);

/* Parses and validates the whole file; on failure *out is NULL and err says
 * "<file>:<line>: <what is wrong and what to write instead>". */
int gd_config_load(const char *path, gd_config **out, gd_err *err);
void gd_config_free(gd_config *c);

/* Lookups; on failure err lists the names that exist. */
const gd_instance_cfg *gd_config_instance(const gd_config *c, const char *name, gd_err *err);
const gd_region_cfg *gd_config_region(const gd_config *c, const char *name, gd_err *err);

/* The instance's TLS settings for gd_conn_params (strings point into ic). */
gd_tls_opts gd_instance_tls(const gd_instance_cfg *ic);

/* The instance's password from password-file or password-env ("" when
 * neither is set).  Caller frees (and should gd_wipe) the string. */
int gd_instance_password(const gd_instance_cfg *ic, char **out, gd_err *err);

/* Generic INI reader used by the config (and tests): calls fn for every
 * "key = value" with its section ("" before the first section; for
 * "[region home]" the section is "region home") and line number; and for
 * every section header with key == NULL.  '#' and ';' start comments at the
 * beginning of a line or after whitespace.  Values are trimmed.  fn returns
 * 0 to continue or a gd_code to stop. */
typedef int (*gd_ini_fn)(void *ctx, const char *section, const char *key, const char *value,
                         int line, gd_err *err);
int gd_ini_parse(const char *text, gd_ini_fn fn, void *ctx, gd_err *err);
/* Same, with syntax errors reading "<origin>:<line>: ..." instead of
 * "line <line>: ..." (origin is the file name, for messages). */
int gd_ini_parse_named(const char *text, const char *origin, gd_ini_fn fn, void *ctx, gd_err *err);

#endif
