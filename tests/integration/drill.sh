#!/bin/bash
# Restore drills (docs/drills.md).  geodr drill restores the newest set into
# a throwaway instance, compares every table with the row digests the backup
# recorded at its snapshot, replays the archive to its end and removes the
# instance.  It passes on a good repository; it fails, naming the table, when
# the restored rows differ from what the set recorded (a manifest resealed by
# the key holder with another digest), and naming the object when a chunk
# is corrupt; it leaves nothing behind either way.  The server runs a drill
# on its own when drill = ... says one is due, and on CreateRestoreDrill; the
# outcome is in DescribeJobs, DescribeServerStatus and /metrics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
require_cmd curl
tmpdir_new
GDREPO="$GEODR_SRC/tests/integration/tools/gdrepo.py"

mdb_start src
mdb_sql src "CREATE DATABASE d;
CREATE TABLE d.orders (id INT PRIMARY KEY, v VARCHAR(64), at TIMESTAMP(6) NULL) ENGINE=InnoDB;
CREATE TABLE d.order_items (a INT, b VARCHAR(10)) ENGINE=InnoDB;
CREATE TABLE d.\`Order Items é\` (x INT PRIMARY KEY, ip INET6, f FLOAT) ENGINE=MyISAM;
INSERT INTO d.orders SELECT seq, MD5(seq), '2026-01-01 00:00:00.5' FROM d.seq_1_to_3000;
INSERT INTO d.order_items VALUES (1,'i1'),(1,'i1'),(2,NULL);
INSERT INTO d.\`Order Items é\` VALUES (1,'::1',0.1),(2,NULL,-3.5e10);" >/dev/null

cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
geodr_config_add "$cfg" "archive-interval = 0.3" "jobs = 2"
R="$WORK/region/shop"

tap_plan 28

check "backup" "$GEODR" --config "$cfg" --quiet backup shop
set_id="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
like "the manifest records a row digest per table" \
    "$(python3 "$GDREPO" body "$R/backup/$set_id/manifest" | python3 -c 'import json,sys; print(" ".join(t.get("digest","-") for t in json.load(sys.stdin)["tables"]))')" \
    '^[0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16}$'
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill $ARCH_PID 2>/dev/null || true'
mdb_sql src "INSERT INTO d.orders SELECT seq, 'after', NULL FROM d.seq_3001_to_3100;
DELETE FROM d.order_items WHERE b IS NULL;" >/dev/null
check "the archive holds the changes made after the backup" wait_for 60 archive_holds "$cfg" shop src

mkdir -m 0711 "$WORK/drills"
out="$("$GEODR" --config "$cfg" drill shop --dir "$WORK/drills" 2>&1)" && rc=0 || rc=$?
is "drill: passes on a good repository" "$rc" 0
like "... saying the set's tables equal the backup's snapshot" "$out" "drill passed for shop .*set $set_id restored, its 3 tables \\(3005 rows\\) equal to the backup's snapshot"
like "... and that the archive was replayed" "$out" "2 archived transactions replayed"
is "... and leaves nothing in its directory" "$(ls -A "$WORK/drills")" ""
is "... nor a server running" "$(pgrep -f "$WORK/drills" | wc -l)" 0
js="$("$GEODR" --config "$cfg" --json drill shop --dir "$WORK/drills" 2>/dev/null)"
is "drill --json: passed, tables, rows, transactions" \
    "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["passed"], j["tables"], j["rows"], j["count_only"], j["transactions"])' "$js")" \
    "True 3 3005 0 2"

# The key holder reseals the manifest with another digest for d.orders: the
# restored rows then differ from what the set says it holds.
cp "$R/backup/$set_id/manifest" "$WORK/manifest.good"
python3 "$GDREPO" reseal "$WORK/region" "$R/backup/$set_id/manifest" \
    'next(t for t in j["tables"] if t["name"] == "orders")["digest"] = "0123456789abcdef"' "$WORK/key"
out="$("$GEODR" --config "$cfg" drill shop --dir "$WORK/drills" 2>&1)" && rc=0 || rc=$?
is "rows that differ from the set: the drill fails" "$rc" 1
like "... naming the table and that its values differ" "$out" 'restore drill of shop failed.*1 of the 3 tables of set .* differ from it: `d`.`orders` has the set.s 3000 rows but their values differ'
is "... and leaves nothing behind" "$(ls -A "$WORK/drills"; pgrep -f "$WORK/drills" | wc -l)" "0"
mdb_start dst
out="$("$GEODR" --config "$cfg" restore shop --set "$set_id" --verify --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "restore --verify into a server: fails the same way" "$rc" 1
like "... naming the table" "$out" '`d`.`orders` has the set.s 3000 rows but their values differ'
out="$("$GEODR" --config "$cfg" restore shop --set "$set_id" --verify --tables d.orders \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "restore --verify with --tables: refused" "$rc" 2
like "... saying it checks whole restores" "$out" "--verify checks a whole restore"
cp "$WORK/manifest.good" "$R/backup/$set_id/manifest"

# A corrupt chunk: the drill fails naming the object.
chunk="$(ls "$R/backup/$set_id/data/" | head -1)"
python3 - "$R/backup/$set_id/data/$chunk" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
out="$("$GEODR" --config "$cfg" drill shop --dir "$WORK/drills" 2>&1)" && rc=0 || rc=$?
is "a corrupt chunk: the drill fails" "$rc" 1
like "... naming the object" "$out" "data/$chunk"
is "... and leaves nothing behind" "$(ls -A "$WORK/drills"; pgrep -f "$WORK/drills" | wc -l)" "0"

# The server: drill = 1h runs one as soon as the instance has a backup; the
# outcome is in the jobs, the status and the metrics; CreateRestoreDrill runs
# one on demand.
kill "$ARCH_PID" 2>/dev/null || true
wait "$ARCH_PID" 2>/dev/null || true
check "a new backup (the corrupt set stays)" "$GEODR" --config "$cfg" --quiet backup shop
tokf="$WORK/api-token"
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tokf")
TOKEN="$(cat "$tokf")"
PORT="$(free_port)"
geodr_config_add "$cfg" "drill = 1h"
geodr_config_add "$cfg" "" "[server]" "listen = 127.0.0.1:$PORT" "token-file = $tokf" \
    "state-dir = $WORK/state"
URL="http://127.0.0.1:$PORT"
. "$(dirname "$0")/server_lib.sh"
start_server
on_exit 'kill $SRV_PID 2>/dev/null || true'
drill_job() {
    api DescribeJobs '{}'
    [[ "$(jq_ 'next((x["JobId"] for x in j["Jobs"] if x["Operation"] == "CreateRestoreDrill"), "")')" != "" ]]
}
API_BODY='{}'
wait_for 60 drill_job && ok "server: drill = 1h starts a drill by itself" ||
    not_ok "server: drill = 1h starts a drill by itself"
job_wait "$(jq_ 'next(x["JobId"] for x in j["Jobs"] if x["Operation"] == "CreateRestoreDrill")')"
is "... which passes" "$JOB_STATUS" "Succeeded"
api DescribeServerStatus '{}'
is "DescribeServerStatus: LastDrill passed" "$(jq_ 'j["Instances"][0]["LastDrill"]["Passed"]')" "True"
metrics="$(curl -s "$URL/metrics")"
like "/metrics: geodr_drill_last_failed 0" "$metrics" 'geodr_drill_last_failed\{instance="shop",region="[^"]*"\} 0'
# the newest set's first chunk corrupted: an on-demand drill fails
set2="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
chunk="$(ls "$R/backup/$set2/data/" | head -1)"
printf 'x' | dd of="$R/backup/$set2/data/$chunk" bs=1 seek=20 conv=notrunc 2>/dev/null
api CreateRestoreDrill '{"DBInstanceId": "shop"}'
job_wait "$(jq_ 'j["JobId"]')"
is "CreateRestoreDrill on a corrupt set: the job fails" "$JOB_STATUS" "Failed"
metrics="$(curl -s "$URL/metrics")"
like "/metrics: geodr_drill_last_failed 1" "$metrics" 'geodr_drill_last_failed\{instance="shop",region="[^"]*"\} 1'
like "the log names the object" "$(cat "$WORK/server.log")" "event=drill_failed instance=shop .*data/$chunk"
kill -TERM "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
is "the server stopped, no drill instance is left" "$(ls -A "$WORK/state/drills"; pgrep -f "$WORK/state/drills" | wc -l)" "0"
tap_done
