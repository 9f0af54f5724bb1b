#!/bin/bash
# Storage faults at every call of a restore, of expire and of compact
# (src/storage/fault.c, GEODR_FAULT; the loop is faults_lib.sh's, see
# docs/testing.md).  Each call index of each kind fails in turn (every 2nd
# of the calls that only read), then the same command runs without faults.
# The history: three sets with archived segments before, between and after
# them, and an instant recorded in the middle.
# - restore into an existing server (--target, the newest set rolled
#   forward): the failing run exits 1 naming the fault or completes, the
#   target is left no replica of geodr's binlog server, and the next
#   restore gives the source's data (CHECKSUM TABLE);
# - restore to a new instance (--new-instance; 3 or 4 indexes of each kind,
#   the first and the last included, as each run provisions a server): a
#   failing run leaves no server running, and when it provisioned one says
#   to remove its directory before trying again; once it is removed the
#   next run restores the source's data;
# - expire removing a set past retention and the segments only it needed
#   (GEODR_NOW): after a failing run nothing partial is visible, sets 2 and
#   3 are there and the recovery window still covers what an expire without
#   faults leaves; the next expire ends with exactly the objects an expire
#   without faults leaves (this found segment objects left for ever when the
#   removal of a segment failed between its record and its object);
# - compact merging segments, then (second run, --grace 0) removing the
#   ones merged: after a failing run nothing partial is visible and the
#   recovery windows are those before compaction (no gap, nothing lost);
#   after a failing commit or remove a point-in-time restore to the instant
#   inside the compacted range gives the source's data at that instant; the
#   next run completes, ending as one or two runs without faults do.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
require_geodr
tmpdir_new

faults_source
mdb_start dst
cfg="$WORK/geodr.conf"
regiondir="$WORK/home"
write_config "$cfg" shop src "$regiondir"
geodr_config_add "$cfg" "archive-interval = 0.2" "retention-days = 2"
# shellcheck disable=SC2034 # read by new_segment (faults_lib.sh)
home="$cfg"

sets() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(" ".join(s["set"] for s in json.load(sys.stdin)["instances"][0]["sets"]))'; }
# instant NAME: a second without writes; records its time and the data.
instant() {
    local s0
    s0="$(date -u +%s)"
    while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
    date -u '+%Y-%m-%d %H:%M:%S' >"$WORK/time.$1"
    checksum_all src shop >"$WORK/sum.$1"
    s0="$(date -u +%s)"
    while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
}
# The objects of the region (name and size), one a line.
objects() { (cd "$1" && find . -type f -not -path './shop/locks/*' -printf '%p %s\n' | LC_ALL=C sort); }
# snapshot NAME / back_to NAME: keep the region as it is / put it back.
snapshot() { rm -rf "$WORK/snap.$1"; cp -a "$regiondir" "$WORK/snap.$1"; }
back_to() { rm -rf "$regiondir"; cp -a "$WORK/snap.$1" "$regiondir"; }

# A history: set 1, segments, set 2, segments (with an instant between
# them, inside what compact merges), set 3, segments.
check "set 1" "$GEODR" --config "$cfg" --quiet backup shop
for _ in 1 2; do new_segment; done
sleep 1.1
check "set 2" "$GEODR" --config "$cfg" --quiet backup shop
for _ in 1 2 3; do new_segment; done
instant mid
for _ in 1 2 3; do new_segment; done
sleep 1.1
check "set 3" "$GEODR" --config "$cfg" --quiet backup shop
for _ in 1 2; do new_segment; done
checksum_all src shop >"$WORK/sum.final"
read -r _ s2 s3 <<<"$(sets)"
snapshot history

# ---- restore into an existing server ----
not_replica() {
    local n
    n="$(mdb_sql dst 'SHOW ALL SLAVES STATUS' | wc -l)"
    ((n == 0)) || { echo "the target is left a replica: $(mdb_sql dst 'SHOW ALL SLAVES STATUS')"; return 1; }
}
restored_final() {
    not_replica || return 1
    diff "$WORK/sum.final" <(checksum_all dst shop)
}
CHECK_FAILED=not_replica CHECK_NEXT=restored_final RUN_TIMEOUT=90 \
    faults "restore --latest --target" "$cfg" home prep_none restore shop --latest \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" --replace-existing

# ---- restore to a new instance ----
newdir="$WORK/new"
newport="$(free_port)"
prep_new() { stop_procs_under "$newdir" 2>/dev/null; rm -rf "$newdir"; }
no_server_left() {
    local f n=0
    for f in /proc/[0-9]*/cmdline; do
        [[ "$(tr '\0' ' ' <"$f" 2>/dev/null)" == *"$newdir/"* ]] && n=$((n + 1))
    done
    ((n == 0)) || { echo "$n processes left running under $newdir"; return 1; }
}
new_restored() {
    diff "$WORK/sum.final" <(mariadb --defaults-file="$newdir/client.cnf" --batch -N -e 'CHECKSUM TABLE shop.t EXTENDED' |
        while IFS=$'\t' read -r t c; do printf '%s %s\n' "$t" "$c"; done)
}
# A failing run that provisioned the server stops it and says to remove its
# directory before trying again (what BEFORE_NEXT does).
new_failed_cleanly() {
    if ((FAULT_RC == 0)); then
        new_restored
        return
    fi
    no_server_left || return 1
    if [[ -n "$(ls -A "$newdir" 2>/dev/null)" && "$FAULT_OUT" != *"was stopped"*"remove it before trying again"* ]]; then
        echo "the failing run left $newdir without saying to remove it: $FAULT_OUT"
        return 1
    fi
}
CHECK_FAILED=new_failed_cleanly BEFORE_NEXT=prep_new CHECK_NEXT=new_restored MAX_RUNS=3 RUN_TIMEOUT=120 \
    faults "restore --latest --new-instance" "$cfg" home prep_new restore shop --latest \
    --new-instance "$newdir" --port "$newport"
prep_new

# ---- expire ----
end_s() { # end_s SET: its end, seconds since the epoch
    "$GEODR" --config "$cfg" --json info shop | python3 -c '
import json, sys
print([s for s in json.load(sys.stdin)["instances"][0]["sets"] if s["set"] == sys.argv[1]][0]["end_us"] // 1000000)' "$1"
}
windows() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["instances"][0]["archive"]["windows"]))'; }
# Past set 2's retention: set 1 goes, set 2 stays (the window reaches back
# to it), and so do the segments from set 2 on.
export GEODR_NOW=$(($(end_s "$s2") + 2 * 86400 + 1))
back_to history
check "expire without faults" "$GEODR" --config "$cfg" --quiet expire shop
is "... removes set 1 only" "$(sets)" "$s2 $s3"
objects "$regiondir" >"$WORK/expired.objects"
windows >"$WORK/expired.windows"
like "... and segments" "$(diff <(objects "$WORK/snap.history") "$WORK/expired.objects" | grep -c '^<.*binlog')" '^[1-9]'
# The recovery window still reaches back to set 2 (covers the one an
# expire without faults leaves), and sets 2 and 3 are there.
window_kept() {
    consistent "$@" || return 1
    [[ " $(sets) " == *" $s2 $s3 " ]] || { echo "sets left: $(sets)"; return 1; }
    python3 - "$(cat "$WORK/expired.windows")" "$(windows)" <<'PY'
import json, sys
want, got = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for w in want:
    if not any(g["from"] <= w["from"] and g["to"] >= w["to"] for g in got):
        sys.exit("the recovery window %s..%s is no longer covered: %s" % (w["from"], w["to"], got))
PY
}
expired_as_without_faults() {
    window_kept "$@" || return 1
    diff "$WORK/expired.objects" <(objects "$regiondir")
}
back_to history
prep_history() { back_to history; }
CHECK_FAILED=window_kept CHECK_NEXT=expired_as_without_faults \
    faults expire "$cfg" home prep_history expire shop
unset GEODR_NOW

# ---- compact ----
# compacted_ok CONFIG REGION: consistent, and the recovery windows are those
# before compaction.
back_to history
windows >"$WORK/history.windows"
compacted_ok() {
    consistent "$@" || return 1
    diff "$WORK/history.windows" <(windows)
}
# A point-in-time restore to the instant inside the compacted range.
pitr_mid() {
    local out
    out="$("$GEODR" --config "$cfg" --quiet restore shop --time "$(cat "$WORK/time.mid")" \
        --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" \
        --replace-existing 2>&1)" || { echo "restore --time failed: $out"; return 1; }
    diff "$WORK/sum.mid" <(checksum_all dst shop)
}
back_to history
check "compact without faults" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
objects "$regiondir" >"$WORK/compacted.objects"
like "... merges segments" "$(diff <(objects "$WORK/snap.history") "$WORK/compacted.objects" | grep -c '^>.*binlog')" '^[1-9]'
check "... and a point-in-time restore inside the compacted range gives the data at that instant" pitr_mid
check "a second compact without faults" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
objects "$regiondir" >"$WORK/compacted2.objects"
like "... removes the merged segments (--grace 0)" "$(diff "$WORK/compacted.objects" "$WORK/compacted2.objects" | grep -c '^<.*binlog')" '^[1-9]'
# After a failing run and the next one: the archive as after one compact
# without faults (the failing run merged nothing), or as after two (it did).
compacted_as_without_faults() {
    compacted_ok "$@" || return 1
    objects "$regiondir" >"$WORK/now.objects"
    cmp -s "$WORK/now.objects" "$WORK/compacted.objects" || cmp -s "$WORK/now.objects" "$WORK/compacted2.objects" ||
        { echo "the archive is neither as after one compact nor two:"; diff "$WORK/compacted2.objects" "$WORK/now.objects"; }
}
# After a failing commit or remove (the calls that change the archive), a
# point-in-time restore across the compacted range too.
compacted_ok_and_pitr() {
    compacted_ok "$@" || return 1
    [[ $FAULT_SPEC != commit* && $FAULT_SPEC != remove* ]] || pitr_mid
}
back_to history
CHECK_FAILED=compacted_ok_and_pitr CHECK_NEXT=compacted_as_without_faults \
    faults compact "$cfg" home prep_history compact shop --min-segments 2 --grace 0
# The second step: with the merged segment there, compact removes the
# segments it covers (the next run after a failing one ends as two runs
# without faults do).
back_to history
"$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0 >/dev/null
snapshot merged
prep_merged() { back_to merged; }
pruned_as_without_faults() {
    compacted_ok "$@" || return 1
    diff "$WORK/compacted2.objects" <(objects "$regiondir")
}
CHECK_FAILED=compacted_ok_and_pitr CHECK_NEXT=pruned_as_without_faults \
    faults "compact (removing merged segments)" "$cfg" home prep_merged compact shop --min-segments 2 --grace 0

tap_done
