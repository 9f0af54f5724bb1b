/* Defaults and limits that more than one place needs: the config file's
 * table (common/config.c) reads its defaults from here, and so do the command
 * line and the engines, so they never disagree (docs/configuration.md). */
#ifndef GD_COMMON_DEFAULTS_H
#define GD_COMMON_DEFAULTS_H

#define GD_DEFAULT_JOBS 4                /* parallel connections of a backup or restore */
#define GD_MAX_JOBS 64                   /* jobs = and --jobs accept 1..this */
#define GD_DEFAULT_CHUNK_ROWS 500000     /* target rows per data object */
#define GD_DEFAULT_COMPRESS_LEVEL 1      /* zstd */
#define GD_DEFAULT_RETENTION_DAYS 7      /* home region, 1-35 */
#define GD_DEFAULT_COPY_RETENTION_DAYS 7 /* copy regions, 7-1825 */

/* A number as the config file would write it. */
#define GD_STR_(x) #x
#define GD_STR(x) GD_STR_(x)

#endif
