#!/bin/bash
# An interrupted point-in-time restore (issue 10 finding 8): SIGTERM or
# SIGINT while the target replays the archive stops the replay and leaves
# the target as it was: no replica configuration, its own
# slave_parallel_threads and server_id; geodr exits 1 saying so.  The next
# restore into a fresh server works.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT NOT NULL);" >/dev/null
cfg="$WORK/geodr.conf"
write_config "$cfg" shop src "$WORK/region"
geodr_config_add "$cfg" "archive-interval = 0.3"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
# Enough transactions that replaying them takes a few seconds.
python3 -c '
for i in range(1, 40001):
    print(f"INSERT INTO d.t VALUES ({i}, {i});")' | mdb_client src --batch >/dev/null
caught_up() { archive_holds "$cfg" shop src; }
check "the archive holds the workload" wait_for 120 caught_up
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || true

for sig in TERM INT; do
    mdb_start "t$sig"
    eval "port=\$T${sig}_PORT"
    before="$(mdb_sql "t$sig" 'SELECT @@GLOBAL.slave_parallel_threads, @@GLOBAL.slave_parallel_mode, @@GLOBAL.server_id')"
    "$GEODR" --config "$cfg" --quiet restore shop --latest --jobs 4 --target "127.0.0.1:$port" \
        --target-user root --target-password-file "$WORK/t$sig.pass" >"$WORK/r$sig.out" 2>&1 &
    rpid=$!
    replaying() { [[ "$(mdb_sql "t$sig" 'SHOW ALL SLAVES STATUS' | wc -l)" -gt 0 ]]; }
    if wait_for 60 replaying; then
        sleep 0.3
        kill -"$sig" "$rpid"
    fi
    rc=0
    wait "$rpid" || rc=$?
    is "SIG$sig during the replay: geodr exits 1" "$rc" 1
    like "... saying it was interrupted and the target put back" "$(cat "$WORK/r$sig.out")" \
        "interrupted: the replay was stopped and the target's replica configuration and settings were put back"
    is "... the target is no replica" "$(mdb_sql "t$sig" 'SHOW ALL SLAVES STATUS' | wc -l)" 0
    is "... with its own parallel threads, mode and server_id" \
        "$(mdb_sql "t$sig" 'SELECT @@GLOBAL.slave_parallel_threads, @@GLOBAL.slave_parallel_mode, @@GLOBAL.server_id')" "$before"
    is "... and only part of the archive applied" \
        "$(mdb_sql "t$sig" 'SELECT COUNT(*) < 40000 FROM d.t')" 1
    mdb_stop "t$sig"
done

# Idle connections to the binlog server (a port scanner, a stuck client)
# reach it before the target's replica: the restore still completes.
mdb_start idle
GEODR_TEST_PAUSE=replica-start=3000 timeout 90 "$GEODR" --config "$cfg" --verbose restore shop --latest \
    --target "127.0.0.1:$IDLE_PORT" --target-user root --target-password-file "$WORK/idle.pass" \
    >"$WORK/idle.out" 2>&1 &
rpid=$!
listening() { grep -q "binlog server listening on 127.0.0.1 port" "$WORK/idle.out"; }
if wait_for 120 listening; then
    bport="$(grep -o 'binlog server listening on 127.0.0.1 port [0-9]*' "$WORK/idle.out" | awk '{print $NF}')"
    python3 - "$bport" <<'PY' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(3)]
time.sleep(200)
PY
    idle_pid=$!
    on_exit "kill $idle_pid 2>/dev/null || true"
fi
rc=0
wait "$rpid" || rc=$?
is "three idle connections to the binlog server: the restore still completes" "$rc" 0
is "... with every transaction" "$(mdb_sql idle 'SELECT COUNT(*) FROM d.t')" 40000
kill "$idle_pid" 2>/dev/null || true

# A target that cannot reach the binlog server at all (a firewall drops
# every connection): the restore fails after the stall timeout, saying what
# to do, and undoes the target's replica configuration.
mdb_start walled
t0=$SECONDS
out="$(GEODR_TEST_PAUSE=binlog-refuse=1 timeout 120 "$GEODR" --config "$cfg" restore shop --latest \
    --replay-stall-timeout 5 --target "127.0.0.1:$WALLED_PORT" --target-user root \
    --target-password-file "$WORK/walled.pass" 2>&1)" && rc=0 || rc=$?
is "a target that cannot reach the binlog server: the restore fails" "$rc" 1
like "... saying why and what to do" "$out" \
    "has not been able to read from geodr's binlog server for 5 s.*--replay-host"
ok "... after the stall timeout, not never" test $((SECONDS - t0)) -lt 60
is "... and the target is no replica afterwards" "$(mdb_sql walled 'SHOW ALL SLAVES STATUS' | wc -l)" 0
mdb_stop walled

# SIGKILL cannot be undone by geodr itself: --reset-target does it afterwards.
mdb_start killed
before="$(mdb_sql killed 'SELECT @@GLOBAL.slave_parallel_threads, @@GLOBAL.slave_parallel_mode')"
"$GEODR" --config "$cfg" --quiet restore shop --latest --jobs 4 --target "127.0.0.1:$KILLED_PORT" \
    --target-user root --target-password-file "$WORK/killed.pass" >/dev/null 2>&1 &
rpid=$!
replaying_k() { [[ "$(mdb_sql killed 'SHOW ALL SLAVES STATUS' | wc -l)" -gt 0 ]]; }
wait_for 60 replaying_k && sleep 0.3
kill -9 "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true
is "SIGKILL during the replay leaves the target a replica" "$(mdb_sql killed 'SHOW ALL SLAVES STATUS' | wc -l)" 1
out="$("$GEODR" --config "$cfg" restore shop --reset-target --target "127.0.0.1:$KILLED_PORT" \
    --target-user root --target-password-file "$WORK/killed.pass" 2>&1)" && rc=0 || rc=$?
is "restore --reset-target undoes it" "$rc" 0
like "... saying what it did" "$out" "target .* reset: geodr's replica configuration removed"
is "... the target is no replica" "$(mdb_sql killed 'SHOW ALL SLAVES STATUS' | wc -l)" 0
is "... with its parallel replication settings back" \
    "$(mdb_sql killed 'SELECT @@GLOBAL.slave_parallel_threads, @@GLOBAL.slave_parallel_mode')" "$before"
out="$("$GEODR" --config "$cfg" restore shop --reset-target --target "127.0.0.1:$KILLED_PORT" \
    --target-user root --target-password-file "$WORK/killed.pass" 2>&1)" && rc=0 || rc=$?
is "--reset-target on a clean target: nothing to reset, exit 1" "$rc" 1
mdb_sql killed "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='app'" >/dev/null
out="$("$GEODR" --config "$cfg" restore shop --reset-target --target "127.0.0.1:$KILLED_PORT" \
    --target-user root --target-password-file "$WORK/killed.pass" 2>&1)" && rc=0 || rc=$?
is "--reset-target refuses a target replicating from another primary" "$rc" 1
like "... saying so" "$out" "replicates from another primary .*user app.*nothing was changed"
is "... and leaves that configuration alone" "$(mdb_sql killed 'SHOW ALL SLAVES STATUS' | wc -l)" 1
mdb_stop killed

mdb_start again
check "a restore into a fresh server then works" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$AGAIN_PORT" --target-user root --target-password-file "$WORK/again.pass"
is "... with every transaction" "$(mdb_sql again 'SELECT COUNT(*) FROM d.t')" 40000
tap_done
