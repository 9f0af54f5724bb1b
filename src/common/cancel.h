/* One cancellation token for a run (a backup, a restore, an archive).
 *
 * Whoever starts a run owns the token; it is set once (by a signal handler,
 * or by a server asking a task to stop) and never cleared during the run.
 * Everything the run calls polls it between steps and, when it is set,
 * finishes what keeps the repository consistent and returns GD_E_CANCEL
 * (or, for the archiver, returns 0 after committing what it holds).
 *
 * The flag is a lock-free atomic_bool: setting it from a signal handler is
 * async-signal-safe, and threads see it without a lock.  A NULL token is
 * never cancelled.  Design: docs/architecture.md (one way for each
 * cross-cutting thing). */
#ifndef GD_COMMON_CANCEL_H
#define GD_COMMON_CANCEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct gd_cancel {
    atomic_bool flag;
} gd_cancel;

/* Asks the run to stop (signal-safe, idempotent). */
static inline void gd_cancel_request(gd_cancel *c)
{
    atomic_store(&c->flag, true);
}

/* True once gd_cancel_request was called; false for NULL. */
static inline bool gd_cancel_requested(const gd_cancel *c)
{
    return c != NULL && atomic_load(&((gd_cancel *)c)->flag);
}

#endif
