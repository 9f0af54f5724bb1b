/* The operations layer: one function per operation (backup, restore,
 * archive, copy, expire, verify, info, cat, compact), called by the command
 * line (src/cli) and by the coming server alike.
 *
 * An operation takes typed options, the loaded config and a gd_command_ctx;
 * it never prints.  What it has to say while it runs (a note, a warning, the
 * start and end of a phase) goes to the ctx's event callback; what it did
 * comes back in a result struct of the operation, its failure in a gd_err.
 * Cancellation is the ctx's token (common/cancel.h): set it to stop a run.
 *
 * Concurrency (what a caller such as the server may do):
 *   - Every gd_command_* may run concurrently with any other, on one instance
 *     or on distinct ones, each call on a thread of the caller's: an
 *     operation keeps its state in its request, outcome and the stack or
 *     heap, never in static or global variables (the few process-wide
 *     things are behind a lock or a once: the key cache of io/key.c, the
 *     S3 driver's curl_global_init, the GEODR_FAULT hook).
 *   - What must not run twice on one instance is refused by the region's
 *     locks (repo/lock.h, docs/locks.md), not queued: a second backup or
 *     archiver of an instance fails at once naming the first; a second set
 *     copier into one region, or a second expire of one region, is refused
 *     the same way; restores and other reads run alongside anything (their
 *     read leases keep what they read from being expired).
 *   - Several calls may share one gd_config (read only: it must outlive
 *     them and not change while they run).  Each call needs its own
 *     ctx->cancel token (setting a token stops every call that holds it)
 *     and its own event callback state; ctx->progress draws on the process's
 *     stderr, so a server leaves it false.
 *   - Process-wide state an operation relies on and never changes: the
 *     environment (read with getenv: nobody may setenv while calls run),
 *     SIGPIPE ignored (the caller's job), the log level (common/log.h).
 *
 * Layering: command includes engines (backup, restore, replay, archive),
 * repo, mysql, storage and common; nothing below includes command.
 * Design: docs/architecture.md. */
#ifndef GD_COMMAND_COMMAND_H
#define GD_COMMAND_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cancel.h"
#include "common/config.h"

typedef enum gd_cmd_event_kind {
    GD_EVENT_NOTE,        /* a line worth showing on a terminal (msg) */
    GD_EVENT_WARNING,     /* something the operator must hear about (msg) */
    GD_EVENT_PHASE_BEGIN, /* a named phase starts (phase) */
    GD_EVENT_PHASE_END,   /* a named phase ended (phase; data: the operation's
                           * result so far, as documented per operation) */
} gd_cmd_event_kind;

typedef struct gd_cmd_event {
    gd_cmd_event_kind kind;
    const char *op;    /* "restore", "backup", ... */
    const char *phase; /* PHASE_*: the phase's name */
    const char *msg;   /* NOTE, WARNING: one line, no newline */
    const void *data;  /* PHASE_END: see the operation's header; else NULL */
} gd_cmd_event;

/* Called on the operation's thread; must not call back into the operation. */
typedef void (*gd_cmd_event_fn)(void *ctx, const gd_cmd_event *ev);

typedef struct gd_command_ctx {
    const gd_config *cfg;     /* loaded config (borrowed) */
    gd_cancel *cancel;        /* the run's token; may be NULL */
    bool progress;            /* engines may draw their progress line on stderr */
    gd_cmd_event_fn on_event; /* may be NULL */
    void *event_ctx;
} gd_command_ctx;

/* Sends one event (nothing when ctx->on_event is NULL). */
void gd_command_emit(const gd_command_ctx *ctx, gd_cmd_event_kind kind, const char *op,
                     const char *phase, const char *msg, const void *data);
/* A NOTE or WARNING with a formatted message. */
void gd_command_say(const gd_command_ctx *ctx, gd_cmd_event_kind kind, const char *op,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A whole decimal integer in [min, max] ("5abc", "", overflow: false). */
bool gd_command_int(const char *s, long long min, long long max, long long *out);
/* A decimal number in [min, max]. */
bool gd_command_real(const char *s, double min, double max, double *out);
/* Splits "a,b,c" into a new string vector (empty items dropped); free it
 * with gd_strv_free. */
char **gd_command_split(const char *s, size_t *n);

#endif
