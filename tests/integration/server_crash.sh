#!/bin/bash
# geodr server under crashes and stops (docs/server.md), protecting two
# instances with cross-region backup and log backup to one S3 copy region:
#   - kill -9 during the first backups: after a restart nothing partial is
#     listed, the server takes both first backups at once, archives a
#     workload on both, and copies sets and binlog to the S3 region, from
#     which a CreateDdrInstance job restores a chosen second;
#   - kill -9 during a copy to the S3 region: the copy region lists nothing
#     partial, and after a restart the server completes the copy;
#   - SIGTERM during a backup: exit 0 within 15 s, the job is shown as
#     interrupted at the next start, and the next backup succeeds; SIGTERM
#     just before a backup commits: the job's outcome and the region agree.
# GEODR_TEST_PAUSE (src/common/util.h) holds a backup before its manifest
# (backup-commit) and a set copy before its manifest (copy-commit), so the
# kills land inside the work, not by luck.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_backend.sh"
require_geodr
require_cmd curl python3
tmpdir_new

s3_backend_start far
s3_credentials "$WORK/aws" default
export GEODR_S3_TIMEOUTS="connect=1,stall=3,attempts=3,backoff-ms=100"

mdb_start sa
mdb_start sb
mdb_sql sa "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(64), n INT);
INSERT INTO shop.t SELECT seq, MD5(seq), seq FROM shop.seq_1_to_20000;" >/dev/null
mdb_sql sb "CREATE DATABASE crm; CREATE TABLE crm.c (id INT PRIMARY KEY, name VARCHAR(64));
INSERT INTO crm.c SELECT seq, SHA1(seq) FROM crm.seq_1_to_10000;" >/dev/null

cfg="$WORK/geodr.conf"
tokf="$WORK/api-token"
write_key "$WORK/key"
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tokf")
TOKEN="$(cat "$tokf")"
PORT="$(free_port)"
# the daily window is twelve hours away: every backup below is a first
# one, an on-demand one, or one the server completes after a crash
now_h=$(date -u +%H)
wh=$(( (10#$now_h + 12) % 24 ))
window="$(printf '%02d:00-%02d:30' $wh $wh)"
copy_lines=("copy-regions = far" "cross-region-backup = on" "cross-region-log-backup = on"
    "copy-retention-days = 30" "archive-interval = 0.3" "backup-window = $window")
write_config "$cfg" shop sa "$WORK/home" "$WORK/key"
geodr_config_add "$cfg" "${copy_lines[@]}" "" "[instance crm]" "host = 127.0.0.1" \
    "port = $SB_PORT" "user = root" "password-file = $SB_PASSFILE" "key-file = $WORK/key" \
    "home-region = home" "${copy_lines[@]}"
geodr_config_add "$cfg" "" "[region far]" "type = s3" "endpoint = $S3_ENDPOINT" \
    "bucket = far" "prefix = geodr/" "region = us-east-1" "credentials-file = $WORK/aws"
geodr_config_add "$cfg" "" "[server]" "listen = 127.0.0.1:$PORT" "token-file = $tokf" \
    "state-dir = $WORK/state" "backup-retry-interval = 5"

URL="http://127.0.0.1:$PORT"
. "$(dirname "$0")/server_lib.sh"
kill9_server() {
    kill -9 "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null || true
}
# info_sets INSTANCE REGION: the number of sets geodr info lists there
info_sets() {
    "$GEODR" --config "$cfg" --json info "$1" | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
r = i if sys.argv[1] == "home" else [c for c in i.get("copies", []) if c["region"] == sys.argv[1]][0]
print(len(r.get("sets", [])))' "$2"
}
has_sets() { [[ "$(info_sets "$1" "$2")" -ge $3 ]]; }
# consistent INSTANCE: every region of INSTANCE shows no error, no set that
# fails and no gap in its archive, and verify reads every region that holds
# a set (nothing partial is visible anywhere)
consistent() {
    local r
    regions_sound "$cfg" "$1" >/dev/null || return 1
    for r in home far; do
        [[ "$(info_sets "$1" "$r")" == 0 ]] ||
            "$GEODR" --config "$cfg" --quiet verify "$1" --region "$r" >/dev/null || return 1
    done
}
# region_holds INSTANCE SERVER REGION: REGION's binlog archive of INSTANCE
# holds the server's whole @@gtid_binlog_pos
region_holds() { archive_holds "$cfg" "$1" "$2" "$3"; }
# at_commit INSTANCE: a backup of INSTANCE waits before its manifest (its
# schema, written last before it, is there; its manifest is not)
at_commit() {
    local d="$WORK/home/$1/backup"
    [[ $(find "$d" -name 'schema.json*' 2>/dev/null | wc -l) -gt $(find "$d" -name 'manifest*' 2>/dev/null | wc -l) ]]
}
# s3_has PREFIX: the bucket far holds objects under geodr/PREFIX
s3_has() { s3_req GET /far "prefix=geodr/$1" | grep -q '<Key>'; }

tap_plan 40

# ---- kill -9 during the first backups ----
rc=0; start_server "backup-commit=60000" || rc=$?
is "the server starts (backups held before their manifest)" "$rc" 0
check "both first backups start at once and write everything but their manifest" \
    wait_for 30 eval 'at_commit shop && at_commit crm'
kill9_server
is "after kill -9 during the first backups: no set listed (shop)" "$(info_sets shop home)" 0
is "... (crm)" "$(info_sets crm home)" 0
check "... and nothing partial or failing in any region" eval 'consistent shop && consistent crm'

rc=0; start_server || rc=$?
is "the server starts again" "$rc" 0
check "it takes both first backups at once (shop, crm)" \
    wait_for 90 eval 'has_sets shop home 1 && has_sets crm home 1'
api DescribeJobs '{"MaxRecords": 200}'
is "the backups the kill interrupted are shown as failed: interrupted" "$(jq_ 'sorted((x["DBInstanceId"], x["Status"], (x.get("Error") or {}).get("Code"))
    for x in j["Jobs"] if x["Operation"] == "CreateBackup" and x["Status"] != "Succeeded")')" \
    "[('crm', 'Failed', 'interrupted'), ('shop', 'Failed', 'interrupted')]"
starts="$(jq_ 'sorted(x["StartTime"] for x in j["Jobs"] if x["Operation"] == "CreateBackup" and x["Status"] == "Succeeded")')"
is "... and the new backups of both instances started together" "$(python3 -c "
import datetime, sys
t = [datetime.datetime.fromisoformat(s.replace('Z', '+00:00')) for s in $starts]
print(len(t), (t[-1] - t[0]).total_seconds() <= 2)")" "2 True"

# ---- a workload on both, archived and copied; a restore from the S3 region ----
mdb_sql sa "UPDATE shop.t SET n = n + 1 WHERE id <= 5000; DELETE FROM shop.t WHERE id % 9 = 0;" >/dev/null
mdb_sql sb "UPDATE crm.c SET name = 'x' WHERE id <= 300; INSERT INTO crm.c VALUES (90001, 'new');" >/dev/null
check "the workload is archived at home (shop, crm)" \
    wait_for 60 eval 'region_holds shop sa home && region_holds crm sb home'
check "... and in the S3 region (shop, crm)" \
    wait_for 60 eval 'region_holds shop sa far && region_holds crm sb far'
check "the S3 region holds both instances' sets" wait_for 60 eval 'has_sets shop far 1 && has_sets crm far 1'
api DescribeCrossRegionBackups '{"DBInstanceId": "crm", "CrossBackupRegion": "far"}'
is "DescribeCrossRegionBackups lists crm's set in far" "$(jq_ '[x["CrossBackupRegion"] for x in j["Items"]]')" "['far']"
sleep 1.2
T="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
want="$(checksum_all sa shop)"
sleep 1.2
mdb_sql sa "UPDATE shop.t SET v = 'after' WHERE id <= 100; INSERT INTO shop.t VALUES (90001, 'after', 1);" >/dev/null
check "archived after T, in the S3 region" wait_for 60 region_holds shop sa far
wait_for 30 window_has "$T" far && ok "DescribeAvailableRecoveryTime in the S3 region: T is in its window" ||
    not_ok "DescribeAvailableRecoveryTime in the S3 region: T is in its window" "$API_BODY"
api CreateDdrInstance "{\"DBInstanceId\": \"shop\", \"RegionId\": \"far\", \"RestoreType\": \"BackupTime\", \"RestoreTime\": \"$T\", \"TargetDirectory\": \"$WORK/ddr\", \"TargetPort\": $(free_port)}"
is "CreateDdrInstance from the S3 region starts a job" "$API_STATUS" 200
job="$(jq_ 'j["JobId"]' 2>/dev/null || echo none)"
job_wait "$job"
is "... which succeeds" "$JOB_STATUS" Succeeded
on_exit "mariadb-admin --defaults-file='$WORK/ddr/client.cnf' shutdown >/dev/null 2>&1 || true"
got="$(mariadb --defaults-file="$WORK/ddr/client.cnf" --batch -N -e 'CHECKSUM TABLE shop.t EXTENDED' 2>/dev/null |
    while IFS=$'\t' read -r t line; do printf '%s %s\n' "$t" "$line"; done | LC_ALL=C sort)"
is "... the new instance holds the source's data of second T" "$got" "$want"
mariadb-admin --defaults-file="$WORK/ddr/client.cnf" shutdown >/dev/null 2>&1 || true

# ---- kill -9 during a copy to the S3 region ----
kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
rc=0; start_server "copy-commit=60000" || rc=$?
is "the server starts (set copies held before their manifest)" "$rc" 0
sleep 1.1 # a new second: a new set id
api CreateBackup '{"DBInstanceId": "shop"}'
check "an on-demand backup commits at home" wait_for 60 has_sets shop home 2
new_set="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
check "... and its objects reach the S3 region" wait_for 30 s3_has "shop/backup/$new_set/"
sleep 2
kill9_server
is "after kill -9 during the copy: the S3 region lists only the earlier set" "$(info_sets shop far)" 1
check "... nothing partial or failing in any region" consistent shop
mdb_sql sa "INSERT INTO shop.t VALUES (90002, 'while down', 2);" >/dev/null
rc=0; start_server || rc=$?
is "the server starts again" "$rc" 0
check "the server completes the copy: the S3 region lists the new set" wait_for 60 has_sets shop far 2
check "... the binlog written meanwhile reaches the S3 region" wait_for 60 region_holds shop sa far
check "... no gap, nothing partial, everything verifies" consistent shop

# ---- SIGTERM during a backup ----
kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
rc=0; start_server "backup-commit=30000" || rc=$?
is "the server starts (backups held before their manifest)" "$rc" 0
sleep 1.1
nsets="$(info_sets crm home)"
api CreateBackup '{"DBInstanceId": "crm"}'
job="$(jq_ 'j["JobId"]' 2>/dev/null || echo none)"
check "a backup of crm writes everything but its manifest" wait_for 30 at_commit crm
t0=$SECONDS
kill -TERM "$SRV_PID"
rc=0; wait "$SRV_PID" || rc=$?
is "SIGTERM during a backup: the server exits with status 0" "$rc" 0
check "... within 15 s" test $((SECONDS - t0)) -le 15
is "... the interrupted backup's set is not listed" "$(info_sets crm home)" "$nsets"
check "... nothing partial or failing in any region" consistent crm
rc=0; start_server || rc=$?
is "the server starts again" "$rc" 0
api DescribeJobs "{\"JobId\": \"$job\"}"
is "the interrupted backup is shown as failed: interrupted" \
    "$(jq_ '(j["Jobs"][0]["Status"], j["Jobs"][0]["Error"]["Code"])')" "('Failed', 'interrupted')"
api CreateBackup '{"DBInstanceId": "crm"}'
job="$(jq_ 'j["JobId"]' 2>/dev/null || echo none)"
job_wait "$job"
is "the next backup succeeds" "$JOB_STATUS" Succeeded
is "... and adds one set" "$(info_sets crm home)" $((nsets + 1))

# A SIGTERM that lands while a backup is about to commit, which it does
# within the stop's wait: the job's outcome and the region agree (Succeeded
# and listed, or Cancelled and not listed); nothing is half-committed.
kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
rc=0; start_server "backup-commit=3000" || rc=$?
sleep 1.1
nsets="$(info_sets crm home)"
api CreateBackup '{"DBInstanceId": "crm"}'
job="$(jq_ 'j["JobId"]' 2>/dev/null || echo none)"
wait_for 30 at_commit crm || true
t0=$SECONDS
kill -TERM "$SRV_PID"
rc=0; wait "$SRV_PID" || rc=$?
is "SIGTERM just before a backup commits: exit 0 within 15 s" "$rc $((SECONDS - t0 <= 15))" "0 1"
rc=0; start_server || rc=$?
api DescribeJobs "{\"JobId\": \"$job\"}"
is "... the job's outcome and the region agree" \
    "$(jq_ 'j["Jobs"][0]["Status"]') $(( $(info_sets crm home) - nsets ))" \
    "$(jq_ '{"Succeeded": "Succeeded 1"}.get(j["Jobs"][0]["Status"], j["Jobs"][0]["Status"] + " 0")')"
check "... nothing partial or failing in any region" consistent crm
note "the backup interrupted just before its commit ended: $(jq_ 'j["Jobs"][0]["Status"], j["Jobs"][0].get("Error")')"
kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
tap_done
