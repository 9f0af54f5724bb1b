#!/bin/bash
# geodr server (docs/server.md, docs/api.md): started on a config with one
# instance, it takes the first backup at once and keeps the binlog archived;
# the API reports the recovery window, and a CreateDdrInstance job restores
# a new instance at a chosen second with the source's data of that second.
# On-demand backups are jobs; a backup that fails while the source is down
# is recorded, shown in the API and /metrics, and retried until it works.
# Tokens, malformed requests and unknown operations get JSON errors. SIGHUP
# reloads, SIGTERM stops within 15 s, and a deleted state database loses
# nothing the regions hold. geodr status shows what the server does, and
# says so when the token is wrong or no server answers. A second instance
# (legacy, encrypted, copied to region far) is released through the API:
# no archiver, no backup, its sets stay listed, its copy retention can
# still be changed and its copies expire by it (its key stays in the
# config), across a restart; geodr release --undo takes it back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
require_cmd curl
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(64), n BIGINT) ENGINE=InnoDB;
CREATE TABLE shop.order_items (id INT PRIMARY KEY, o INT, q INT) ENGINE=InnoDB;
INSERT INTO shop.orders SELECT seq, MD5(seq), seq FROM shop.seq_1_to_2000;
INSERT INTO shop.order_items SELECT seq, seq % 2000 + 1, seq FROM shop.seq_1_to_5000;" >/dev/null

cfg="$WORK/geodr.conf"
key="$WORK/key"
tokf="$WORK/api-token"
write_key "$key"
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tokf")
TOKEN="$(cat "$tokf")"
PORT="$(free_port)"
write_config "$cfg" shop src "$WORK/region" "$key"
# the window is twelve hours away: every backup below is the first one,
# an on-demand one, or a retry
now_h=$(date -u +%H)
wh=$(( (10#$now_h + 12) % 24 ))
geodr_config_add "$cfg" "archive-interval = 0.5" "backup-window = $(printf '%02d:00-%02d:30' $wh $wh)"
mkdir -p "$WORK/far"
geodr_config_add "$cfg" "" "[region far]" "type = posix" "path = $WORK/far"
geodr_config_add "$cfg" "" "[instance legacy]" "host = 127.0.0.1" "port = $SRC_PORT" "user = root" \
    "password-file = $WORK/src.pass" "key-file = $key" "home-region = home" \
    "backup-window = $(printf '%02d:00-%02d:30' $wh $wh)" "copy-regions = far" \
    "cross-region-backup = on" "copy-retention-days = 7"
geodr_config_add "$cfg" "" "[server]" "listen = 127.0.0.1:$PORT" "token-file = $tokf" \
    "state-dir = $WORK/state" "backup-retry-interval = 5"

URL="http://127.0.0.1:$PORT"
. "$(dirname "$0")/server_lib.sh"
backups() {
    api DescribeBackups '{"DBInstanceId": "shop"}'
    jq_ 'j["TotalRecordCount"]' 2>/dev/null || echo 0
}
# no_running_jobs: DescribeJobs lists no running job
no_running_jobs() {
    api DescribeJobs '{}'
    [[ "$(jq_ 'sum(1 for x in j["Jobs"] if x["Status"] == "Running")')" == 0 ]]
}
# has_backups N: the home region lists at least N sets
has_backups() { [[ $(backups) -ge $1 ]]; }
metric_is() { # metric_is TEXT: /metrics holds TEXT
    curl -s "$URL/metrics" | grep -qF "$1"
}

tap_plan 88
rc=0; start_server || rc=$?
is "server starts and answers /health" "$rc" 0
is "/health needs no token" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" 200

# ---- the first backup at once, and the archive ----
wait_for 120 has_backups 1 || true
is "the first backup is taken at once (no backup yet)" "$(backups)" 1
mdb_sql src "INSERT INTO shop.orders VALUES (99999, 'first', 1);" >/dev/null
check "the archiver runs (the archive holds the source's position)" \
    wait_for 60 archive_holds "$cfg" shop src

# ---- errors ----
is "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$URL/api/DescribeJobs")" 401
is "wrong token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' \
    -d '{}' "$URL/api/DescribeJobs")" 401
api NoSuchThing '{}'
is "unknown operation: 404" "$API_STATUS" 404
like "... with a JSON error naming it" "$API_BODY" '"Code": *"UnknownOperation"'
api DescribeBackups '{"DBInstanceId": '
is "malformed JSON: 400" "$API_STATUS" 400
api DescribeBackups '{"DBInstanceId": "shop", "Colour": "red"}'
is "unknown parameter: 400" "$API_STATUS" 400
like "... naming it" "$API_BODY" 'Colour'
api DescribeBackups '{"DBInstanceId": 7}'
is "wrong type: 400" "$API_STATUS" 400
api DescribeBackups '{"DBInstanceId": "nosuch"}'
is "unknown instance: 404" "$API_STATUS" 404

# ---- a point in time, restored by a job into a new instance ----
mdb_sql src "UPDATE shop.orders SET n = n + 1 WHERE id <= 500; DELETE FROM shop.order_items WHERE id % 7 = 0;" >/dev/null
check "archived" wait_for 60 archive_holds "$cfg" shop src
sleep 1.2
T="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
want="$(checksum_all src shop)"
sleep 1.2
mdb_sql src "UPDATE shop.orders SET v = 'after' WHERE id <= 100; INSERT INTO shop.order_items VALUES (90001, 1, 1);" >/dev/null
check "archived after T" wait_for 60 archive_holds "$cfg" shop src
api DescribeAvailableRecoveryTime '{"DBInstanceId": "shop"}'
is "DescribeAvailableRecoveryTime answers" "$API_STATUS" 200
wait_for 30 window_has "$T" && ok "T lies in the reported recovery window (within seconds)" ||
    not_ok "T lies in the reported recovery window (within seconds)" "$API_BODY"
api CreateDdrInstance "{\"DBInstanceId\": \"shop\", \"RestoreType\": \"BackupTime\", \"RestoreTime\": \"$T\", \"TargetDirectory\": \"$WORK/ddr\", \"TargetPort\": $(free_port)}"
is "CreateDdrInstance starts a job" "$API_STATUS" 200
job="$(jq_ 'j["JobId"]')"
job_wait "$job"
is "the restore job succeeded" "$JOB_STATUS" Succeeded
on_exit "mariadb-admin --defaults-file='$WORK/ddr/client.cnf' shutdown >/dev/null 2>&1 || true"
# The provisioned server was started from the threaded server: it must hold
# none of the server's descriptors (its API socket, state database, region
# files, connections), only its own.
fd_targets() { for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null | grep -v '^/dev/null$' | LC_ALL=C sort -u; }
ddr_pid="$(cat "$WORK/ddr/run/mariadbd.pid" 2>/dev/null || true)"
leaked="cannot read the descriptors of the new instance's server (pid '$ddr_pid')"
if [ -n "$ddr_pid" ] && [ -n "$(fd_targets "$ddr_pid")" ]; then
    leaked="$(LC_ALL=C comm -12 <(fd_targets "$SRV_PID") <(fd_targets "$ddr_pid") | tr '\n' ' ')"
fi
is "the new instance's server inherited no descriptor of geodr's server" "$leaked" ""
got="$(mariadb --defaults-file="$WORK/ddr/client.cnf" --batch -N -e \
    'CHECKSUM TABLE shop.order_items, shop.orders EXTENDED' 2>/dev/null |
    while IFS=$'\t' read -r t line; do printf '%s %s\n' "$t" "$line"; done | LC_ALL=C sort)"
is "the new instance holds the source's data of second T" "$got" "$want"
mariadb-admin --defaults-file="$WORK/ddr/client.cnf" shutdown >/dev/null 2>&1 || true

# ---- the restore precheck (CheckCreateDdrDBInstance): a job whose Result
# lists every check; Succeeded only when every check passed ----
failing() { jq_ '[c["Name"] for c in j["Jobs"][0]["Result"]["Checks"] if c["Passed"] is False]'; }
api CheckCreateDdrDBInstance "{\"DBInstanceId\": \"shop\", \"RestoreType\": \"BackupTime\", \"RestoreTime\": \"$T\", \"TargetDirectory\": \"$WORK/pre-ddr\", \"TargetPort\": $(free_port)}"
is "CheckCreateDdrDBInstance starts a job" "$API_STATUS" 200
job_wait "$(jq_ 'j["JobId"]')"
is "... a new instance at T passes every check (objects read back)" \
    "$JOB_STATUS $(jq_ '(j["Jobs"][0]["Result"]["Passed"], [(c["Name"], c["Passed"]) for c in j["Jobs"][0]["Result"]["Checks"]], j["Jobs"][0]["Result"]["VerifyObjects"])')" \
    "Succeeded (True, [('point', True), ('set', True), ('objects', True), ('binlog', True), ('target', True), ('empty', True), ('room', True)], True)"
check "... and creates nothing" test ! -e "$WORK/pre-ddr"
api CheckCreateDdrDBInstance "{\"DBInstanceId\": \"shop\", \"RestoreType\": \"Fastest\", \"TargetHost\": \"127.0.0.1\", \"TargetPort\": $SRC_PORT, \"TargetUser\": \"root\", \"TargetPasswordFile\": \"$SRC_PASSFILE\", \"Tables\": [\"shop.orders\"], \"VerifyObjects\": false}"
job_wait "$(jq_ 'j["JobId"]')"
is "a table that exists in the server: the job fails on the empty check" "$JOB_STATUS $(failing)" "Failed ['empty']"
like "... its error says what to do" "$(jq_ 'j["Jobs"][0]["Error"]["Message"]')" \
    "restore precheck failed \(empty\): target is not empty: table shop\.orders already exists"
api CheckCreateDdrDBInstance "{\"DBInstanceId\": \"shop\", \"RestoreType\": \"BackupTime\", \"RestoreTime\": \"2001-01-01T00:00:00Z\", \"TargetDirectory\": \"$WORK/pre-ddr\", \"TargetPort\": $(free_port)}"
job_wait "$(jq_ 'j["JobId"]')"
is "a point outside the window: the point check fails" "$JOB_STATUS $(failing)" "Failed ['point']"
api CheckCreateDdrDBInstance "{\"DBInstanceId\": \"shop\", \"TargetDirectory\": \"$WORK/pre-ddr\", \"TargetPort\": 3306, \"TargetHost\": \"127.0.0.1\", \"TargetUser\": \"root\", \"TargetPasswordFile\": \"$SRC_PASSFILE\"}"
is "a new instance and a server at once: 400" "$API_STATUS $(jq_ 'j["Code"]')" "400 InvalidParameter"

# ---- on demand ----
api CreateBackup '{"DBInstanceId": "shop"}'
job="$(jq_ 'j["JobId"]')"
job_wait "$job"
is "an on-demand backup job succeeds" "$JOB_STATUS" Succeeded
is "... and its set is listed" "$(backups)" 2

# ---- the cross-region policy: live, recorded in the region ----
api DescribeInstanceCrossBackupPolicy '{"DBInstanceId": "shop"}'
is "the policy comes from the config at first" "$(jq_ '(j["PolicySource"], j["BackupEnabled"], j["Retention"])')" "('Config', False, 7)"
api ModifyInstanceCrossBackupPolicy '{"DBInstanceId": "shop", "Retention": 3}'
is "a copy retention out of range: 400" "$API_STATUS" 400
like "... naming the parameter and the range" "$API_BODY" "Retention.*7.*1825"
api ModifyInstanceCrossBackupPolicy '{"DBInstanceId": "shop", "BackupEnabled": true}'
is "copying without a copy region: 400" "$API_STATUS" 400
api ModifyInstanceCrossBackupPolicy '{"DBInstanceId": "shop", "BackupEnabled": true, "LogBackupEnabled": true, "CrossBackupRegion": "far", "Retention": 30}'
is "ModifyInstanceCrossBackupPolicy: copies to region far, kept 30 days" \
    "$API_STATUS $(jq_ '(j["PolicySource"], j["BackupEnabled"], j["CrossBackupRegion"], j["Retention"])')" \
    "200 ('Region', True, 'far', 30)"
like "... and the CLI follows the same policy (recorded in the home region)" \
    "$("$GEODR" --config "$cfg" --json info shop)" '"source": *"region"'
# ---- instance legacy: two sets, copied; the ReleaseInstance example releases it ----
legacy_has() { # legacy_has N: its home region lists at least N sets
    api DescribeBackups '{"DBInstanceId": "legacy"}'
    [[ "$(jq_ 'j["TotalRecordCount"]' 2>/dev/null || echo 0)" -ge $1 ]]
}
check "instance legacy: its first backup at once" wait_for 120 legacy_has 1
api CreateBackup '{"DBInstanceId": "legacy"}'
job_wait "$(jq_ 'j["JobId"]')"
is "... and an on-demand one, both copied to region far" \
    "$JOB_STATUS $(ls "$WORK/far/legacy/backup" | wc -l)" "Succeeded 2"
# ---- every example of docs/api.md, as written ----
python3 - "$GEODR_SRC/docs/api.md" "$WORK/examples" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
ops = text[text.index("## Operations"):]
os.makedirs(sys.argv[2], exist_ok=True)
for i, m in enumerate(re.finditer(r"```sh\n(curl .*?)```", ops, re.S)):
    open(os.path.join(sys.argv[2], "%02d.sh" % i), "w").write(m.group(1))
PY
api DescribeBackups '{"DBInstanceId": "shop"}'
export GEODR_URL="$URL" GEODR_TOKEN="$TOKEN" WORK RESTORE_TIME="$T" JOB_ID="$job"
export SET_ID="$(jq_ 'j["Items"][0]["BackupSetId"]')" NEW_PORT="$(free_port)"
export TARGET_PORT="$SRC_PORT" TARGET_PASSWORD_FILE="$SRC_PASSFILE"
bad=""
n=0
for f in "$WORK"/examples/*.sh; do
    n=$((n + 1))
    # each example's answer: JSON, and 200 (or 409 for one that may meet a busy
    # instance or an ended job): a 4xx means the example is wrong
    out="$(bash -c "curl() { command curl -w '\n%{http_code}' \"\$@\"; }; . '$f'" 2>&1)" || true
    status="${out##*$'\n'}"
    body="${out%$'\n'*}"
    if [[ $status != 200 && $status != 409 ]] || ! python3 -c 'import json,sys; json.loads(sys.argv[1])' "$body" 2>/dev/null; then
        bad+=" $(basename "$f"):$status:${body:0:200}"
    fi
done
is "every curl example of docs/api.md is answered ($n examples)" "${bad:-none}" none
check "... and the jobs they started end" wait_for 120 no_running_jobs
api DescribeCrossRegionBackups '{"DBInstanceId": "shop", "CrossBackupRegion": "far"}'
check "the backup after the change was copied to region far (no restart)" test "$(jq_ 'j["TotalRecordCount"]')" -ge 1
mariadb-admin --defaults-file="$WORK/api-example-ddr/client.cnf" shutdown >/dev/null 2>&1 || true
# ---- the released instance (the ReleaseInstance example: legacy) ----
api DescribeCrossRegionBackupDBInstance '{}'
is "DescribeCrossRegionBackupDBInstance: a released instance still configured is Released" \
    "$(jq_ '[(i["DBInstanceId"], i["DBInstanceStatus"], "ReleaseTime" in i) for i in j["Items"]]')" \
    "[('shop', 'Running', False), ('legacy', 'Released', True)]"
check "... its archiver stopped without a restart" grep -q 'event=instance_released instance=legacy' "$WORK/server.log"
api DescribeServerStatus '{}'
is "... DescribeServerStatus: no archiver, no next backup, the release time" \
    "$(jq_ '[(i["ArchiverRunning"], i["NextBackupTime"], i["ReleaseTime"] is not None) for i in j["Instances"] if i["DBInstanceId"] == "legacy"]')" \
    "[(False, None, True)]"
api CreateBackup '{"DBInstanceId": "legacy"}'
is "a backup of the released instance is refused: 409" "$API_STATUS" 409
like "... saying when it was released and how to take that back" "$API_BODY" "released at .*geodr release legacy --undo"
api DescribeBackups '{"DBInstanceId": "legacy"}'
is "its sets stay listed" "$API_STATUS $(jq_ 'j["TotalRecordCount"]')" "200 2"
api ModifyInstanceCrossBackupPolicy '{"DBInstanceId": "legacy", "Retention": 10}'
is "its copy retention can still be changed, and it stays released" \
    "$API_STATUS $(jq_ '(j["Retention"], j["Released"])')" "200 (10, True)"
far_policy() { grep -q '"copy_retention_days": *10' "$WORK/far/legacy/policy" && grep -q '"released_us"' "$WORK/far/legacy/policy"; }
check "... the record (released, 10 days) reaches the copy region" wait_for 30 far_policy
newest="$(ls "$WORK/far/legacy/backup" | tail -n 1)"
e_new="$(python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[:t.rstrip("\n").rindex("\n")])["end_us"] // 1000000)' "$WORK/far/legacy/backup/$newest/manifest")"
GEODR_NOW=$((e_new + 9 * 86400)) "$GEODR" --config "$cfg" --quiet expire legacy >/dev/null
is "the released (encrypted) instance's copies are kept within the changed retention (10 days)" \
    "$(ls "$WORK/far/legacy/backup" | wc -l)" 2
out="$(GEODR_NOW=$((e_new + 11 * 86400)) "$GEODR" --config "$cfg" expire legacy 2>&1)"
is "... and expire after it, the newest kept" "$(ls "$WORK/far/legacy/backup")" "$newest"
like "... saying so" "$out" "expired released instance legacy in region far \(retention 10 days"
# ---- what the regions hold, in /metrics ----
check "/metrics: bytes stored per region and kind" wait_for 30 metric_is \
    'geodr_backup_storage_bytes{instance="shop",region="home",kind="backup"}'
check "/metrics: the newest recovery window's end" wait_for 30 metric_is \
    'geodr_recovery_window_end_timestamp_seconds{instance="shop",region="home"}'
check "/metrics: how far the copy region is behind" wait_for 30 metric_is \
    'geodr_copy_lag_seconds{instance="shop",region="far",kind="log"}'
check "/metrics: the archive's lag is 0 while the source is idle" wait_for 30 metric_is \
    'geodr_archive_lag_seconds{instance="shop",region="home"} 0'
# ---- a failing backup, recorded and retried ----
nsets="$(backups)"
mdb_stop src
api CreateBackup '{"DBInstanceId": "shop"}'
job="$(jq_ 'j["JobId"]')"
job_wait "$job"
is "a backup with the source down fails" "$JOB_STATUS" Failed
like "... and says why" "$(jq_ 'j["Jobs"][0]["Error"]["Message"]')" 'connect|Connect|server'
metrics="$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics")"
like "/metrics shows the failure" "$metrics" 'geodr_backup_last_failed\{instance="shop",region="home"\} 1'
like "/metrics counts it" "$metrics" 'geodr_backup_failures_total\{instance="shop",region="home"\} [1-9]'
like "/metrics: the archive's lag grows while the source is down" "$metrics" \
    'geodr_archive_lag_seconds\{instance="shop",region="home"\} [0-9.]*[1-9]'
mdb_restart src
check "the scheduler retries until a backup works" wait_for 90 has_backups $((nsets + 1))
check "/metrics shows the success" wait_for 30 metric_is 'geodr_backup_last_failed{instance="shop",region="home"} 0'

# ---- reload, stop, a lost state database ----
kill -HUP "$SRV_PID"
check "SIGHUP reloads the config" wait_for 10 grep -q 'event=reloaded' "$WORK/server.log"
t0=$SECONDS
kill -TERM "$SRV_PID"
rc=0; wait "$SRV_PID" || rc=$?
is "SIGTERM: the server exits cleanly" "$rc" 0
check "... within 15 s" test $((SECONDS - t0)) -le 15
rm -rf "$WORK/state"
rc=0; start_server || rc=$?
is "the server starts without its state database" "$rc" 0
is "the regions still show every set" "$(backups)" $((nsets + 1))
api DescribeInstanceCrossBackupPolicy '{"DBInstanceId": "shop"}'
is "the changed policy survives a restart and a lost state database" \
    "$(jq_ '(j["PolicySource"], j["CrossBackupRegion"], j["Retention"])')" "('Region', 'far', 30)"
api DescribeCrossRegionBackupDBInstance '{}'
is "the release survives a restart and a lost state database" \
    "$(jq_ '[i["DBInstanceStatus"] for i in j["Items"] if i["DBInstanceId"] == "legacy"]')" "['Released']"
api DescribeBackups '{"DBInstanceId": "shop"}'
check "verify: nothing partial in the region" "$GEODR" --config "$cfg" --quiet verify shop

# ---- geodr status (DescribeServerStatus) ----
api DescribeServerStatus '{}'
is "DescribeServerStatus answers" "$API_STATUS" 200
is "... the instance, its last backup, next backup and window" "$(jq_ '[(i["DBInstanceId"],
    i["LastBackupTime"] is not None, i["NextBackupTime"] > j["Time"], i["BackupWindow"])
    for i in j["Instances"] if i["DBInstanceId"] == "shop"]')" "[('shop', True, True, '$(printf '%02d:00-%02d:30' $wh $wh)')]"
api DescribeServerStatus '{"Colour": 1}'
is "... refuses an unknown parameter" "$API_STATUS" 400
run "$GEODR" --config "$cfg" status
is "geodr status: exit 0" "$RUN_RC" 0
like "... one block per instance: archiver, last and next backup, jobs" "$RUN_OUT" \
    "instance shop.*binlog archiver: (running|NOT running).*last successful backup: [0-9-]+T.*next backup: [0-9-]+T.* \((a retry; )?daily window [0-9:-]+ UTC\).*running job"
run "$GEODR" --config "$cfg" --json status
is "geodr status --json: the server's answer" "$(API_BODY="$RUN_OUT" jq_ 'j["Instances"][0]["DBInstanceId"]')" shop
(umask 077; echo "wrong-token-0123456789abcdef" >"$WORK/wrong-token")
sed "s|^token-file = .*|token-file = $WORK/wrong-token|" "$cfg" >"$WORK/wrong-token.conf"
run "$GEODR" --config "$WORK/wrong-token.conf" status
is "geodr status with a wrong token: exit 1" "$RUN_RC" 1
like "... naming token-file" "$RUN_ERR" "refused the API token of $WORK/wrong-token \(\[server\] token-file\)"
kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
run "$GEODR" --config "$cfg" status
like "geodr status without a server: says none answers and how to start it" "$RUN_ERR" \
    "^geodr: error: no geodr server answers on 127\.0\.0\.1:$PORT: start it with 'geodr server'"
# ---- on-demand sets: marked, counted, at most GD_MAX_ON_DEMAND ----
n_od="$("$GEODR" --config "$cfg" --json info shop | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin)["instances"][0]["sets"] if x.get("on_demand")))')"
check "the API's on-demand backups are marked on_demand in their manifests" test "$n_od" -ge 2
run env GEODR_TEST_PAUSE="on-demand-max=$n_od" "$GEODR" --config "$cfg" backup shop --on-demand
is "one more on-demand backup than an instance keeps is refused" "$RUN_RC" 1
like "... saying how many there are and when the next can be taken" "$RUN_ERR" \
    "already has $n_od on-demand backup sets in region home, the most it keeps \\($n_od\\)"
# ---- geodr release from the command line ----
run "$GEODR" --config "$cfg" backup legacy
is "geodr backup of a released instance: exit 1" "$RUN_RC" 1
like "... saying when it was released and how to take that back" "$RUN_ERR" \
    "instance legacy was released at .* UTC .*geodr release legacy --undo"
run "$GEODR" --config "$cfg" release legacy --undo
like "geodr release --undo takes the release back" "$RUN_RC $RUN_OUT" "^0 instance legacy is no longer released"
run "$GEODR" --config "$cfg" release legacy
like "geodr release releases it again, deleting nothing" "$RUN_RC $RUN_OUT $(ls "$WORK/far/legacy/backup")" \
    "^0 instance legacy is released at .*10 days in copy regions.* $newest\$"
like "... and geodr info says so, its set still listed" "$("$GEODR" --config "$cfg" info legacy)" \
    "RELEASED at [0-9-]+ [0-9:]+ UTC(.|\n)*$newest"
tap_done
