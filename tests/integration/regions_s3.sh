#!/bin/bash
# A copy region on an S3 endpoint that goes away: while it is down the
# archiver keeps committing at home and `geodr copy` fails clearly; when it is
# back the copy completes, the archive chain in the S3 region has no gap, no
# object there is partial or corrupt, and a point-in-time restore from the
# S3 region alone (home deleted) gives the recorded state.  Multipart
# uploads geodr left behind are aborted by a later successful copy; a wrong
# secret key is refused (where the endpoint checks signatures).
#
# The endpoint is s3rver, or Ceph RGW with GEODR_S3_BACKEND=rgw (the suite
# runs both: tests/meson.build, regions_s3_rgw).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_backend.sh"
require_geodr
require_cmd curl python3
tmpdir_new

s3_backend_start far
s3_credentials "$WORK/aws" default

mdb_start src
mdb_sql src "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(64), n INT);
INSERT INTO shop.t SELECT seq, MD5(seq), seq FROM shop.seq_1_to_30000;" >/dev/null
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/home" "$WORK/key"
geodr_config_add "$cfg" "copy-regions = far" "cross-region-backup = on" "cross-region-log-backup = on" \
    "copy-retention-days = 30" "archive-interval = 0.3"
geodr_config_add "$cfg" "" "[region far]" "type = s3" "endpoint = $S3_ENDPOINT" \
    "bucket = far" "prefix = geodr/" "region = us-east-1" "credentials-file = $WORK/aws"
export GEODR_S3_TIMEOUTS="connect=1,stall=3,attempts=3,backoff-ms=100"

check "backup, copied to the S3 region" "$GEODR" --config "$cfg" --quiet backup shop

# A wrong secret key: refused by an endpoint that checks signatures, with
# a clear error and no secret shown.
wrong_secret="wrong-$RANDOM-secret"
s3_credentials "$WORK/aws" wrong "$wrong_secret"
sed 's|^credentials-file = .*|&\nprofile = wrong|' "$cfg" >"$WORK/wrong.conf"
if [[ $S3_SIGNATURES == 1 ]]; then
    out="$("$GEODR" --config "$WORK/wrong.conf" copy shop 2>&1)" && rc=0 || rc=$?
    is "wrong secret key: geodr copy fails" "$rc" 1
    like "... saying access was denied and what to check" "$out" "access denied by the S3 endpoint $S3_ENDPOINT for bucket far.*check credentials-file/profile"
    unlike "... without showing either secret" "$out" "$wrong_secret|$S3_SECRET_KEY"
else
    skip "wrong secret key refused" "$S3_BACKEND does not check signatures"
fi

# verify reads a set's objects in parallel: against stock RGW (beast with
# Nagle on) each small object read alone costs ~43 ms (200 one-row tables:
# 9.4 s one at a time, 0.9 s 16 at a time).  s3rver answers small reads
# fast either way, so the timing says nothing there.
if [[ $S3_BACKEND == rgw ]]; then
    sql="CREATE DATABASE many;"
    for t in $(seq 1 200); do sql+="CREATE TABLE many.t$t (id INT PRIMARY KEY); INSERT INTO many.t$t VALUES ($t);"; done
    mdb_sql src "$sql" >/dev/null
    sleep 1.1 # a new second: a new set id
    check "a backup of 200 one-row tables, copied to the S3 region" "$GEODR" --config "$cfg" --quiet backup shop
    set_many="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
    t0="$(date +%s%N)"
    check "verify of that set in the S3 region" "$GEODR" --config "$cfg" --quiet verify shop "$set_many" --region far
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if ((ms < 4000)); then ok "... reads its 200 objects in parallel ($ms ms)"; else not_ok "... reads its 200 objects in parallel" "took $ms ms (one at a time takes about 9 s)"; fi
    mdb_sql src "DROP DATABASE many" >/dev/null
else
    skip "verify reads a set's objects in parallel (timing)" "$S3_BACKEND answers small reads at once"
fi

# Multipart uploads left in the bucket: one of geodr's, old (a process
# killed, or an abort that failed while the endpoint was down), one of
# geodr's started just before the final copy (it may be in progress), one
# of another tool under the same prefix.
s3_uploads() { s3_req GET /far "uploads&prefix=geodr/"; }
mpu_ok=0
if s3_req POST /far/geodr/shop/backup/20200101T000000Z/t.c1 uploads >/dev/null 2>&1 &&
    s3_req POST /far/geodr/other-tool.iso uploads >/dev/null 2>&1 &&
    [[ "$(s3_uploads 2>/dev/null)" == *"20200101T000000Z/t.c1"* ]]; then
    mpu_ok=1
    t_mpu="$(date +%s)"
fi
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
writes() { for i in $(seq "$1" "$2"); do mdb_sql src "UPDATE shop.t SET n = n + 1 WHERE id % 50 = $((i % 50)); INSERT INTO shop.t VALUES ($((100000 + i)), 'w', $i)" >/dev/null; sleep 0.05; done; }
writes 1 20

# A second set, in the home region only (cross-region-backup off for it),
# for a `geodr copy` that the outage interrupts: the default retry budget
# (2 minutes of elapsed time, docs/s3.md) rides it out, at a bandwidth that
# keeps it going when the endpoint stops.
sed 's/^cross-region-backup = on/cross-region-backup = off/' "$cfg" >"$WORK/home-only.conf"
sed 's/^cross-region-backup = on/cross-region-backup = on\ncopy-bandwidth = 100K/' "$cfg" >"$WORK/slow.conf"
check "a second set, home region only" "$GEODR" --config "$WORK/home-only.conf" --quiet backup shop
GEODR_S3_TIMEOUTS="" "$GEODR" --config "$WORK/slow.conf" copy shop >"$WORK/copy.log" 2>&1 &
COPY_PID=$!
on_exit 'kill -9 $COPY_PID 2>/dev/null || true'
sleep 1
s3_gw_stop
t_stop="$(date +%s)"
note "S3 endpoint stopped for 30 s, during archiving and during a copy"
i=21
while (( $(date +%s) - t_stop < 12 )); do writes $i $i; i=$((i + 1)); done
home_pos() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["archive"]["gtid_pos"])'; }
src_pos="$(mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos')"
home_ok() { [[ "$(home_pos)" == "$src_pos" ]]; }
check "while the S3 region is down the archiver keeps committing at home ($((i - 21)) write transactions)" wait_for 20 home_ok
check "the interrupted copy is still retrying" kill -0 "$COPY_PID"
# An archiver whose copy region is down stops within a few seconds, not
# after its S3 retry budget (here over 40 s): the next run catches up.
kill -TERM "$ARCH_PID"; wait "$ARCH_PID" || true
GEODR_S3_TIMEOUTS="connect=1,stall=3,attempts=40,backoff-ms=1000,backoff-max-ms=2000" \
    "$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive2.log" 2>&1 &
ARCH_PID=$!
writes $i $((i + 20)); i=$((i + 21))
t0="$(date +%s)"
kill -TERM "$ARCH_PID"; wait "$ARCH_PID" && rc=0 || rc=$?
took=$(( $(date +%s) - t0 ))
# The home archive is complete but the copy region is not: a supervisor
# must see it (docs/regions.md).
is "archive stopped by SIGTERM while its copy region is down exits 1" "$rc" 1
if ((took <= 15)); then ok "... within $took s (a 10 s grace, not the retry budget)"; else not_ok "... within 15 s" "took $took s"; fi
like "... saying the region is behind, by how much, and that the next run catches up" "$(cat "$WORK/archive2.log")" \
    "region far is behind the home region's binlog archive( by [0-9]+ segment)?.*the next 'geodr archive' or 'geodr copy' catches up"
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
out="$("$GEODR" --config "$cfg" copy shop 2>&1)" && rc=0 || rc=$?
is "a geodr copy that gives up while the endpoint is down fails" "$rc" 1
like "... naming the endpoint" "$out" "127.0.0.1:$S3_PORT"
while (( $(date +%s) - t_stop < 30 )); do sleep 0.2; done
s3_gw_start
note "S3 endpoint back after $(( $(date +%s) - t_stop )) s"
wait "$COPY_PID" && rc=0 || rc=$?
is "the copy interrupted by the outage completes once the endpoint is back" "$rc" 0
like "... and copied the second set" "$(cat "$WORK/copy.log")" "up to date: 1 set"
writes 100001 100020
s0="$(date -u +%s)"; while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
T="$(date -u '+%Y-%m-%d %H:%M:%S')"
want="$(mdb_sql src 'CHECKSUM TABLE shop.t EXTENDED' | cut -f2)"
s0="$(date -u +%s)"; while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
writes 100021 100030
src_pos="$(mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos')"
far_pos() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; c=json.load(sys.stdin)["instances"][0]["copies"][0]; print((c.get("archive") or {}).get("gtid_pos",""))'; }
far_ok() { [[ "$(far_pos)" == "$src_pos" ]]; }
check "the S3 region catches up after the outage" wait_for 60 far_ok
kill -TERM "$ARCH_PID"; wait "$ARCH_PID" && rc=0 || rc=$?
is "archive stopped by SIGTERM with its copy region in step exits 0" "$rc" 0
check "geodr copy completes" "$GEODR" --config "$cfg" --quiet copy shop
if [[ $mpu_ok == 1 ]]; then
    s3_req POST /far/geodr/shop/backup/20200102T000000Z/t.c1 uploads >/dev/null
    age=$(( $(date +%s) - t_mpu - 5 ))
    GEODR_S3_TIMEOUTS="stale-upload=$age" check "a later backup, copied to the S3 region" \
        "$GEODR" --config "$cfg" --quiet backup shop
    ups="$(s3_uploads)"
    unlike "... aborted geodr's multipart upload left over for ${age} s and more" "$ups" "20200101T000000Z/t.c1"
    like "... but not geodr's upload started just before (it may be in progress)" "$ups" "20200102T000000Z/t.c1"
    like "... nor another tool's upload under the same prefix" "$ups" "other-tool.iso"
else
    skip "stale multipart uploads aborted" "$S3_BACKEND does not list multipart uploads"
fi
gaps="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; c=json.load(sys.stdin)["instances"][0]["copies"][0]; print(len(c["archive"]["gaps"]))')"
is "the archive chain in the S3 region has no gap" "$gaps" 0
check "every object in the S3 region verifies (none partial or corrupt)" "$GEODR" --config "$cfg" --quiet verify shop --region far

rm -rf "$WORK/home"
mdb_start dst
check "the precheck from the S3 region alone passes (objects listed, then read back)" \
    "$GEODR" --config "$cfg" --quiet restore shop --region far --time "$T" --dry-run \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"
like "... --verify-objects reads the objects from S3" "$("$GEODR" --config "$cfg" --quiet restore shop \
    --region far --time "$T" --dry-run --verify-objects --target "127.0.0.1:$DST_PORT" --target-user root \
    --target-password-file "$WORK/dst.pass" 2>&1)" "objects +the [1-9][0-9]* objects of set .* read back"
check "restore --time from the S3 region alone" "$GEODR" --config "$cfg" --quiet restore shop --region far --time "$T" \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"
is "the recorded state at $T" "$(mdb_sql dst 'CHECKSUM TABLE shop.t EXTENDED' | cut -f2)" "$want"
tap_done
