#!/bin/bash
# Storage faults at every call (src/storage/fault.c, GEODR_FAULT; see
# docs/testing.md): for backup (home region; a new one, then one with sets),
# archive (home region, then its shippers to a copy region) and copy (copy
# region; a new one, then one with sets), a run without faults first counts
# the storage calls of each kind, then each call index is failed in turn
# (alternately with a retryable network error and an I/O error), and commits
# and removes once more with the reply lost after the store acted.  After
# each failing run: the run completed, or exited 1 with an error and the
# fault named; nothing partial is visible (info shows no set that fails and
# no gap in any region's archive, verify reads every committed set and
# segment of the region); and the next run without faults completes, after
# which all of it verifies again and nothing is missing (the home archive
# reaches the source's GTID position, the copy region's the home's).  The data is one small table and the runs
# make at most a dozen calls of a kind, so every index of the calls that
# change or list a region is tried, and every 2nd of those that only read
# (about 210 failing runs, 2.5 minutes on a busy 2-core machine).  The loop
# and the checks are faults_lib.sh's, shared with faults_restore.sh and
# faults_s3.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
require_geodr
tmpdir_new
faults_source
write_key "$WORK/key"
# configs NAME [KEY_FILE]: a home region of its own for each part of the test
# (so that verify reads only that part's sets): $home, and $copy with a copy
# region.  Unencrypted but for one part: deriving the key costs 0.1 s in
# every process, and the storage calls do not depend on it.
configs() {
    home="$WORK/$1.conf"
    copy="$WORK/$1-copy.conf"
    write_config "$home" shop src "$WORK/$1-home" "${2:-}"
    geodr_config_add "$home" "archive-interval = 0.2"
    cp "$home" "$copy"
    geodr_config_add "$copy" "copy-regions = far" "cross-region-backup = on" "cross-region-log-backup = on"
    geodr_config_add "$copy" "" "[region far]" "type = posix" "path = $WORK/$1-far"
}

# Backup into a new region (the repository and instance descriptors are
# written first; encrypted: the descriptor holds the key check), then into
# one that holds sets.
prep_new_home() { rm -rf "$WORK/backup-new-home"; }
configs backup-new "$WORK/key"
KINDS="commit commit+lost" faults "backup (new region, encrypted)" "$home" home prep_new_home backup shop
configs backup-new
faults "backup (new region)" "$home" home prep_new_home backup shop
configs backup
check "a first backup" "$GEODR" --config "$home" --quiet backup shop
faults backup "$home" home prep_none backup shop

configs archive
check "a set for the archive to start from" "$GEODR" --config "$home" --quiet backup shop
check "a first archive run" "$GEODR" --config "$home" --quiet archive shop --idle-exit 0.2 --compact-every 0
AFTER=home_has_all faults archive "$home" home prep_insert archive shop --idle-exit 0.2 --compact-every 0

# The archiver's shippers copying each new segment to a copy region.
configs ship
check "a set in both regions" "$GEODR" --config "$copy" --quiet backup shop
check "a first archive run, shipping" "$GEODR" --config "$copy" --quiet archive shop --idle-exit 0.2 --compact-every 0
AFTER="home_has_all far_has_all" faults "archive (shipping)" "$copy" far prep_insert archive shop --idle-exit 0.2 --compact-every 0

# The first copy into a new copy region (descriptors and copy.json), then
# copies of new sets and segments.
configs copy
check "a set to copy" "$GEODR" --config "$home" --quiet backup shop
prep_new_far() { rm -rf "$WORK/copy-far"; }
faults "copy (new region)" "$copy" far prep_new_far copy shop
# The copy region takes the sets started after it is first reached
# (docs/regions.md).
check "the copy region is reached" "$GEODR" --config "$copy" --quiet copy shop
new_set_and_segment
check "a first copy" "$GEODR" --config "$copy" --quiet copy shop
AFTER=far_has_all faults copy "$copy" far new_set_and_segment copy shop

tap_done
