/* Defaults and limits that more than one place needs: the config file's
 * table (common/config.c) reads its defaults from here, and so do the command
 * line and the engines, so they never disagree (docs/configuration.md). */
#ifndef GD_COMMON_DEFAULTS_H
#define GD_COMMON_DEFAULTS_H

#define GD_DEFAULT_JOBS 4                /* parallel connections of a backup or restore */
#define GD_MAX_JOBS 64                   /* jobs = and --jobs accept 1..this (one limit) */
#define GD_DEFAULT_CHUNK_ROWS 500000     /* target rows per data object */
#define GD_DEFAULT_COMPRESS_LEVEL 1      /* zstd */
#define GD_DEFAULT_RETENTION_DAYS 7      /* home region, 1-35 */
#define GD_DEFAULT_COPY_RETENTION_DAYS 7 /* copy regions, 7-1825 */
#define GD_DEFAULT_ARCHIVE_INTERVAL_S 1  /* a segment committed at least this often */
#define GD_MAX_ARCHIVE_INTERVAL_S 300    /* archive-interval and --interval: 0.1..this */

/* Compaction of the binlog archive (archive/compact.h): what geodr archive
 * runs by itself, and what geodr compact runs without options. */
#define GD_DEFAULT_COMPACT_EVERY_S 60             /* geodr archive: a pass this often */
#define GD_DEFAULT_COMPACT_MIN_SEGMENTS 32        /* merge a run only when it has this many */
#define GD_DEFAULT_COMPACT_SMALL (4u << 20)       /* segments below this raw size are merged */
#define GD_DEFAULT_COMPACT_MAX_MERGED (64u << 20) /* a merged segment stays below this */
#define GD_DEFAULT_COMPACT_GRACE_S 3600           /* merged-away segments stay this long */

/* Replay of a restore (replay/replay.h): the target's IO thread may stay
 * disconnected this long before the restore fails. */
#define GD_DEFAULT_REPLAY_STALL_S 60
#define GD_DEFAULT_LISTEN "127.0.0.1:7480"    /* geodr server's API */
#define GD_DEFAULT_STATE_DIR "/var/lib/geodr" /* geodr server's state database */
#define GD_DEFAULT_BACKUP_RETRY_S 1200        /* after a failed backup: 20 minutes */
#define GD_DEFAULT_SERVER_JOBS 8              /* server jobs at once */
#define GD_MAX_ON_DEMAND 50                   /* on-demand sets an instance keeps at most */

/* A number as the config file would write it. */
#define GD_STR_(x) #x
#define GD_STR(x) GD_STR_(x)

#endif
