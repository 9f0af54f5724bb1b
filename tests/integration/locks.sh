#!/bin/bash
# Locks and leases in the repository (docs/locks.md): what runs at once
# loses nothing.  Races are made certain with GEODR_TEST_PAUSE (a named
# sleep inside geodr), not left to luck.
#   - two backups of one instance at once: the second is refused naming the
#     first; the first commits; ids never collide
#   - two first backups into a new encrypted region: one descriptor, every
#     set readable with the key
#   - a lock left by a dead process: on this machine taken over at once; by
#     another machine after its lease, with a warning
#   - two archivers of one instance: the second is refused
#   - expire while a restore reads a set: the set is kept until the restore
#     ends, the restore equals the source; a restore that starts during an
#     expire waits for it
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE shop.order_items (id INT PRIMARY KEY, o INT);
INSERT INTO shop.orders SELECT seq, CONCAT('o', seq) FROM shop.seq_1_to_20000;
INSERT INTO shop.order_items SELECT seq, seq % 100 FROM shop.seq_1_to_30000;" >/dev/null
write_key "$WORK/key"
cfg="$WORK/geodr.conf"
write_config "$cfg" shop src "$WORK/home" "$WORK/key"
geodr_config_add "$cfg" "retention-days = 1"
G=("$GEODR" --config "$cfg")
has_lock() { compgen -G "$WORK/home/shop/locks/$1.*" >/dev/null; }
sets() { ls "$WORK/home/shop/backup" 2>/dev/null | while read -r s; do
    [[ -f "$WORK/home/shop/backup/$s/manifest" ]] && echo "$s"; done; }

# ---- two backups at once
GEODR_TEST_PAUSE=backup-commit=4000 "${G[@]}" --quiet backup shop >"$WORK/b1.out" 2>&1 &
B1=$!
on_exit 'kill -9 $B1 2>/dev/null || true'
wait_for 30 has_lock backup ||
    die "the first backup never took its lock"
run "${G[@]}" backup shop
is "a second backup while one runs fails" "$RUN_RC" 1
like "it names the running backup and what to do" "$RUN_ERR" \
    "another backup of instance shop holds its lock in region home \\(host [^,]+, pid $B1, .*wait for it to finish"
wait "$B1" && rc=0 || rc=$?
is "the first backup commits" "$rc" 0
is "one set committed" "$(sets | wc -l)" 1
check "and it verifies" "${G[@]}" --quiet verify shop
is "no lock is left behind" "$(ls "$WORK/home/shop/locks/" 2>/dev/null | wc -l)" 0

# ids in one second: never the same folder
"${G[@]}" --quiet backup shop >/dev/null
"${G[@]}" --quiet backup shop >/dev/null
is "three sets, three ids" "$(sets | sort -u | wc -l)" 3

# ---- two first backups into a new encrypted region
cfg2="$WORK/geodr2.conf"
write_config "$cfg2" shop src "$WORK/fresh" "$WORK/key"
GEODR_TEST_PAUSE=descriptor-create=2000 "$GEODR" --config "$cfg2" --quiet backup shop \
    >"$WORK/f1.out" 2>&1 &
F1=$!
GEODR_TEST_PAUSE=descriptor-create=2000 "$GEODR" --config "$cfg2" --quiet backup shop \
    >"$WORK/f2.out" 2>&1 &
F2=$!
wait "$F1" && r1=0 || r1=$?
wait "$F2" && r2=0 || r2=$?
note "first backups: $r1 $r2; $(cat "$WORK/f1.out" "$WORK/f2.out")"
ok "at least one of two first backups commits" test $((r1 + r2)) -lt 2
check "every set in the new region verifies with the key (one descriptor)" \
    "$GEODR" --config "$cfg2" --quiet verify shop
if [[ $r1 -ne 0 || $r2 -ne 0 ]]; then
    like "the loser was refused by the backup lock" "$(cat "$WORK/f1.out" "$WORK/f2.out")" \
        "another backup of instance shop holds its lock"
else
    ok "both committed one after the other"
fi

# ---- a lock left by a dead process on this machine: taken over at once
GEODR_TEST_PAUSE=backup-commit=60000 "${G[@]}" --quiet backup shop >/dev/null 2>&1 &
B2=$!
wait_for 30 has_lock backup ||
    die "the backup never took its lock"
kill -9 "$B2"
wait "$B2" 2>/dev/null || true
run "${G[@]}" backup shop
is "a killed backup's lock does not block the next one" "$RUN_RC" 0
like "the takeover is said" "$RUN_ERR" "holder was a process on this machine that no longer runs"

# ---- a lock held by another machine: refused while its lease runs, taken
# over after it, with a warning
entry="$WORK/home/shop/locks/backup.L3.00112233aabbccdd"
mkdir -p "${entry%/*}"
printf '{"host":"db-far-away","pid":4242,"boot":"x","started":"2026-01-01 00:00:00","op":"backup","kind":"backup","lease_s":3}' >"$entry"
run "${G[@]}" backup shop
is "a live lock of another machine refuses the backup" "$RUN_RC" 1
like "naming that machine" "$RUN_ERR" "host db-far-away, pid 4242"
like "and saying when its lease runs out" "$RUN_ERR" "lease runs out within [0-9]+ s"
sleep 4
run "${G[@]}" backup shop
is "after its lease, the lock is taken over" "$RUN_RC" 0
like "with a warning" "$RUN_ERR" "removing the stale backup lock"

# ---- two archivers
"${G[@]}" --quiet archive shop >"$WORK/a1.log" 2>&1 &
A1=$!
on_exit 'kill -9 $A1 2>/dev/null || true'
wait_for 30 has_lock archive ||
    die "the archiver never took its lock"
run "${G[@]}" archive shop
is "a second archiver is refused" "$RUN_RC" 1
like "naming the first" "$RUN_ERR" "another archive of instance shop holds its lock.*pid $A1"
kill -TERM "$A1"
wait "$A1" || true

# ---- expire while a restore reads a set
mdb_sql src "UPDATE shop.orders SET v = 'changed' WHERE id <= 100" >/dev/null
"${G[@]}" --quiet backup shop >/dev/null
old="$(sets | sed -n 1p)"
checksum_all src shop >"$WORK/sum.now"
far=$(($(date +%s) + 10 * 86400)) # every set but the newest has expired
mdb_start t1
GEODR_TEST_PAUSE=restore-planned=5000 "${G[@]}" --quiet restore shop --set "$old" \
    --target "127.0.0.1:$T1_PORT" --target-user root --target-password-file "$WORK/t1.pass" \
    >"$WORK/r1.out" 2>&1 &
R1=$!
wait_for 30 has_lock read ||
    die "the restore never took its lease"
sleep 1 # the restore has its plan and names its set in its lease
out="$(GEODR_NOW=$far "${G[@]}" --json expire shop)"
held="$(printf '%s' "$out" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["regions"][0]["held_by_restore"]))' 2>&1)"
is "expire during the restore keeps the set it reads" "$held" "$old"
ok "the set is still there" test -f "$WORK/home/shop/backup/$old/manifest"
wait "$R1" && rc=0 || rc=$?
is "the restore completes" "$rc" 0
mdb_sql t1 "SELECT COUNT(*), SUM(v = 'changed') FROM shop.orders" >"$WORK/t1.count"
is "the restore holds every row of its set" "$(cat "$WORK/t1.count")" "20000	0"
GEODR_NOW=$far "${G[@]}" --quiet expire shop >/dev/null
ok "after the restore, the next expire removes the set" test ! -e "$WORK/home/shop/backup/$old/manifest"
mdb_stop t1

# a restore that starts during an expire waits for it, then plans
mdb_start t2
GEODR_TEST_PAUSE=expire-locked=3000 GEODR_NOW=$far "${G[@]}" --quiet expire shop >/dev/null 2>&1 &
E1=$!
wait_for 30 has_lock expire ||
    die "expire never took its lock"
t0=$SECONDS
check "a restore during an expire succeeds" "${G[@]}" --quiet restore shop \
    --target "127.0.0.1:$T2_PORT" --target-user root --target-password-file "$WORK/t2.pass"
ok "after waiting for the expire to end" test $((SECONDS - t0)) -ge 1
wait "$E1" || true
checksum_all t2 shop >"$WORK/sum.t2"
check "and equals the source" diff "$WORK/sum.now" "$WORK/sum.t2"
is "no lock is left behind" "$(ls "$WORK/home/shop/locks/" 2>/dev/null | wc -l)" 0

tap_done
