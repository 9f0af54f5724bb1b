#!/bin/bash
# Restore to T gives the state as committed at T (issue 10, finding 6).
# Binlog timestamps are statement start times: an autocommit
# `UPDATE ... WHERE SLEEP(8) = 0` started in second S0 carries S0 in all its
# events (GTID and XID included) although it commits in S0+8.  A restore to
# T = S0+4 must leave it out, keep a transaction committed in S0+1, and the
# recovery window must end at the last commit, not at the last start.
# Commit times survive compaction; a catching-up archiver says it used the
# event timestamps.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE ct; CREATE TABLE ct.t (id INT PRIMARY KEY, v INT, started DATETIME);
    INSERT INTO ct.t VALUES (1, 0, NULL); CREATE TABLE ct.log (id INT PRIMARY KEY)" >/dev/null
cfg="$WORK/geodr.conf"
write_config "$cfg" shop src "$WORK/region"
geodr_config_add "$cfg" "archive-interval = 0.3"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
"$GEODR" --config "$cfg" --quiet archive shop --compact-every 0 >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
mdb_sql src "INSERT INTO ct.log VALUES (0)" >/dev/null
caught_up() { archive_holds "$cfg" shop src; }
check "the archiver is live" wait_for 60 caught_up
# (the segment of row 0 may say "events": the archiver may have connected
# after it was written, and caught up with it)
nlive=$(ls "$WORK"/region/shop/binlog/*.segment | wc -l)

# Into a fresh second S0: the long statement starts in S0 and commits in
# S0+8 or later; a short one commits in S0+1; T = S0+4 (margins of seconds
# on both sides, also for the archiver's receive times).
s=$(date -u +%s)
while [[ "$(date -u +%s)" == "$s" ]]; do sleep 0.02; done
S0=$(date -u +%s)
mdb_sql src "UPDATE ct.t SET v = 1, started = NOW() WHERE id = 1 AND SLEEP(8) = 0" >/dev/null &
LONG=$!
sleep 1.2
mdb_sql src "INSERT INTO ct.log VALUES (1)" >/dev/null
short_done=$(date -u +%s)
wait "$LONG"
T="$(date -u -d "@$((S0 + 4))" '+%Y-%m-%d %H:%M:%S')"
started=$(mdb_sql src "SELECT UNIX_TIMESTAMP(started) FROM ct.t WHERE id = 1")
check "the short transaction committed before T's second" test "$short_done" -lt $((S0 + 4))
check "the long statement started before T's second (its binlog events carry $started)" \
    test "$started" -lt $((S0 + 4))
check "the archive holds both" wait_for 60 caught_up
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || true

info() { "$GEODR" --config "$cfg" --json info shop; }
jq_py() { python3 -c "import json,sys; j=json.load(sys.stdin)['instances'][0]['archive']; print($1)"; }
to_s="$(info | jq_py 'j["windows"][-1]["to_s"]')"
check "the window ends at the last commit ($to_s), not at its statement's start ($started)" \
    test "$to_s" -ge $((started + 8))
check "... and not after the archiver received it" test "$to_s" -le "$(date -u +%s)"
is "the archive's last time is the same commit time" "$(info | jq_py 'j["last_time_s"]')" "$to_s"
# hows [GLOB]: "commit_time commit_times" of each segment record
hows() {
    python3 - "$WORK/region/shop/binlog" "${1:-*}" <<'PY'
import glob, json, sys
for p in sorted(glob.glob(sys.argv[1] + "/" + sys.argv[2] + ".segment")):
    t = open(p).read()
    r = json.loads(t[:t.rindex("sha256 ")])
    print(r.get("commit_time", "none"), r.get("commit_times", ""))
PY
}
is "live segments take receive times" "$(hows | tail -n +$((nlive + 1)) | cut -d' ' -f1 | sort -u)" "received"
like "the long transaction is listed with its commit second" "$(hows)" "received ([0-9]+:[0-9]+,)*[0-9]+:([89]|[1-9][0-9])($|,)"

# Catching up after a pause: transactions are old when they arrive, so their
# receive time says nothing; the record says it used event timestamps.
mdb_sql src "INSERT INTO ct.log VALUES (2)" >/dev/null
check "archive after a pause" "$GEODR" --config "$cfg" --quiet archive shop --idle-exit 2 --compact-every 0
is "the caught-up segment says it used event timestamps" "$(hows | tail -n1 | cut -d' ' -f1)" "events"

check "compaction" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
is "the segments were merged into one" "$(hows '*-*' | grep -c . || true)" 1
like "the merged record keeps the commit times, renumbered" "$(hows '*-*')" "^mixed ([0-9]+:[0-9]+,)*[0-9]+:([89]|[1-9][0-9])($|,)"

mdb_start t1
check "restore --time $T (from the merged segment)" "$GEODR" --config "$cfg" --quiet restore shop --time "$T" \
    --target "127.0.0.1:$T1_PORT" --target-user root --target-password-file "$WORK/t1.pass"
is "restore to T: the transaction committed before T is in" "$(mdb_sql t1 'SELECT GROUP_CONCAT(id ORDER BY id) FROM ct.log')" "0,1"
is "restore to T: the statement that started before T but committed after it is not" \
    "$(mdb_sql t1 'SELECT v FROM ct.t WHERE id = 1')" 0
mdb_stop t1
mdb_start t2
check "restore --latest" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$T2_PORT" --target-user root --target-password-file "$WORK/t2.pass"
is "restore --latest: the long transaction is in" "$(mdb_sql t2 'SELECT v FROM ct.t WHERE id = 1')" 1
is "restore --latest: every row" "$(mdb_sql t2 'SELECT GROUP_CONCAT(id ORDER BY id) FROM ct.log')" "0,1,2"
tap_done
