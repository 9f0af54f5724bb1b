/* Locks and leases kept in a region (docs/locks.md).
 *
 * Every holder writes its own entry object
 *
 *   <instance>/locks/<kind>.L<lease seconds>.<16 hex random>
 *
 * holding JSON ({"kind", "host", "pid", "started", "op", and what it
 * protects}), then lists <instance>/locks/.  Writing before listing is what
 * makes this safe on any store with read-after-write listings (posix, AWS
 * S3, Ceph RGW): of two contenders, the one that lists second always sees the
 * other's entry.  An entry is live while its last write (the storage's own
 * mtime) is younger than its lease; the holder rewrites it every lease/4 s
 * from a thread, so a dead holder's entry goes stale after one lease and is
 * then removed by whoever finds it.  Staleness is judged against the mtime
 * of the finder's own fresh entry, so the clocks of the machines never meet.
 *
 * Kinds and what they exclude:
 *   backup, copy, archive, expire, init   exclusive: one live holder per kind
 *   read                                   shared: any number; expire keeps
 *                                          what a read lease protects, and a
 *                                          read lease waits for a running
 *                                          expire to end before it is granted
 * The functions are thread-safe per lock; a gd_lock belongs to its taker. */
#ifndef GD_REPO_LOCK_H
#define GD_REPO_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/storage.h"

typedef struct gd_lock gd_lock;

/* Default lease (seconds); GEODR_LOCK_LEASE_S overrides it (tests). */
#define GD_LOCK_LEASE_S 300

/* Takes an exclusive lock of kind on instance in st.  op is a short
 * description for the holder's entry and for the error another taker sees
 * ("backup", "copy from home").  While a live holder exists it tries again
 * until wait_s seconds have passed (0: only settles a race between
 * contenders, about a second), then fails with GD_E_BUSY naming the holder
 * (host, pid, since, when its lease ends if it died).  A stale entry is
 * removed with a warning.  st must outlive the lock. */
int gd_lock_take(gd_storage *st, const char *instance, const char *kind, const char *op,
                 double wait_s, gd_lock **out, gd_err *err);

/* Takes a shared read lease: protects set (NULL: everything of the
 * instance in this region) from expire and compaction's pruning; a set is
 * kept, and so every segment after it.  Waits (up to wait_s) for a running
 * expire to end.  The entry says {"detail": {"set": id}} (or null). */
int gd_lock_take_read(gd_storage *st, const char *instance, const char *op, const char *set,
                      double wait_s, gd_lock **out, gd_err *err);
/* Narrows what a read lease protects to one set (once the restore knows
 * it). */
int gd_lock_narrow(gd_lock *l, const char *set, gd_err *err);

/* 0 while the lease is held; GD_E_STATE when renewing it failed for longer
 * than the lease (another process may have taken it over): the holder must
 * not commit. */
int gd_lock_check(gd_lock *l, gd_err *err);

/* Stops renewing and removes the entry (NULL allowed). */
void gd_lock_release(gd_lock *l);

/* The live read leases of the instance in st (expire's view): the set each
 * protects, NULL for one that protects everything (and for an entry that
 * cannot be read). */
typedef struct gd_leases {
    char **sets;
    size_t n;
} gd_leases;
int gd_lock_read_leases(gd_storage *st, const char *instance, gd_leases *out, gd_err *err);
void gd_leases_free(gd_leases *l);

/* True when a live entry of any of the kinds (a NULL-terminated list)
 * exists, from one listing (expire skips killed-backup leftovers while a
 * backup or copy runs). */
int gd_lock_live(gd_storage *st, const char *instance, const char *const *kinds, bool *out,
                 gd_err *err);

#endif
