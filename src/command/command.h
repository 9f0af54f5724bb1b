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
