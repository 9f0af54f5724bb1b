#!/bin/bash
# Cross-region: a backup is copied to the copy region at once, the archiver
# ships binlog segments there continuously, and after the home region is
# lost a point-in-time restore from the copy region alone gives the recorded
# state.  Copies resume without copying twice; a copy region that holds the
# instance under another key is refused; a copy region down when a backup
# ends gets its set when it is reached again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE shop;
CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(100), n INT) ENGINE=InnoDB;
INSERT INTO shop.t SELECT seq, MD5(seq), seq FROM shop.seq_1_to_20000;" >/dev/null
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/home" "$WORK/key"
geodr_config_add "$cfg" "copy-regions = far" "cross-region-backup = on" "cross-region-log-backup = on" \
    "copy-retention-days = 30" "archive-interval = 0.3"
geodr_config_add "$cfg" "" "[region far]" "type = posix" "path = $WORK/far"

out="$("$GEODR" --config "$cfg" --quiet backup shop 2>&1)" && rc=0 || rc=$?
is "backup with a copy region succeeds" "$rc" 0
like "... and says it copied the set" "$out" "copied to region far"
homeset="$(ls "$WORK/home/shop/backup")"
is "the copy region holds the same set" "$(ls "$WORK/far/shop/backup")" "$homeset"
check "the copy is byte-identical" diff -r "$WORK/home/shop/backup" "$WORK/far/shop/backup"
out="$("$GEODR" --config "$cfg" --json copy shop)"
is "copy again: nothing to copy" "$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin)["regions"][0]; print(r["objects"], r["sets"])')" "0 0"

"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
for i in $(seq 1 30); do
    mdb_sql src "UPDATE shop.t SET n = n + $i WHERE id % 30 = $i % 30; INSERT INTO shop.t VALUES ($((30000 + i)), 'new', $i)" >/dev/null
    sleep 0.05
done
s0="$(date -u +%s)"; while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
T="$(date -u '+%Y-%m-%d %H:%M:%S')"
want="$(mdb_sql src 'CHECKSUM TABLE shop.t EXTENDED' | cut -f2)"
s0="$(date -u +%s)"; while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
mdb_sql src "DELETE FROM shop.t WHERE id < 1000" >/dev/null
src_pos="$(mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos')"
far_pos() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; c=json.load(sys.stdin)["instances"][0]["copies"][0]; print((c.get("archive") or {}).get("gtid_pos",""))'; }
far_caught_up() { [[ "$(far_pos)" == "$src_pos" ]]; }
check "the copy region receives every transaction" wait_for 30 far_caught_up
kill -TERM "$ARCH_PID"; wait "$ARCH_PID" || true
like "info shows the copy region and its lag" "$("$GEODR" --config "$cfg" info shop)" "copy region far: 1 sets.*behind home by"

# A segment lost in the middle of a copy region's chain (far2, a copy of far): the gap is shown,
# and a point after it is refused before any target is touched.
cp -a "$WORK/far" "$WORK/far2"
sed 's/^copy-regions = far$/copy-regions = far, far2/' "$cfg" >"$WORK/gap.conf"
geodr_config_add "$WORK/gap.conf" "" "[region far2]" "type = posix" "path = $WORK/far2"
records=("$WORK"/far2/shop/binlog/*.segment)
if (( ${#records[@]} >= 4 )); then ok "the copy region holds ${#records[@]} segment records"; else not_ok "the copy region holds at least 4 segment records" "${#records[@]}"; fi
field() { python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[:t.rstrip("\n").rindex("\n")])[sys.argv[2]])' "$1" "$2"; }
after_gap="$(field "${records[2]}" gtid_pos)" # after the gap, before the newest set
obj="$(field "${records[1]}" object)"
rm -f "${records[1]}" "$WORK/far2/shop/binlog/$obj"
gaps="$("$GEODR" --config "$WORK/gap.conf" --json info shop | python3 -c 'import json,sys; c=json.load(sys.stdin)["instances"][0]["copies"][1]; print(len(c["archive"]["gaps"]))')"
is "info shows the gap in the copy region's archive" "$gaps" 1
out="$("$GEODR" --config "$WORK/gap.conf" restore shop --region far2 --gtid "$after_gap" --dry-run \
    --target "127.0.0.1:$SRC_PORT" --target-user root --target-password-file "$WORK/src.pass" 2>&1)" && rc=0 || rc=$?
is "restore to a point past the gap is refused" "$rc" 1
like "... printing the recovery window" "$out" "outside the recovery window of instance shop in region far2"
# The home region's compaction reaches the copy region: `geodr copy` ships
# the merged segments, and what they cover goes after the grace period.
check "compaction at home" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
nmerged="$(ls "$WORK"/home/shop/binlog/ | grep -c -- '-.*\.segment$' || true)"
if ((nmerged >= 1)); then ok "home holds $nmerged merged segment(s)"; else not_ok "home holds a merged segment" "$nmerged"; fi
check "geodr copy after the compaction" "$GEODR" --config "$cfg" --quiet copy shop
is "the copy region holds the merged segments" "$(ls "$WORK"/far/shop/binlog/ | grep -c -- '-.*\.segment$' || true)" "$nmerged"
touch -d '2 hours ago' "$WORK"/far/shop/binlog/*-*.segment
check "geodr copy past the grace period" "$GEODR" --config "$cfg" --quiet copy shop
live_home="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["archive"]["segments"])')"
is "the copy region keeps only the records home's live archive has" "$(ls "$WORK"/far/shop/binlog/*.segment | wc -l)" "$live_home"
is "... and no segment object more" "$(ls "$WORK"/far/shop/binlog/*.binlog.* | wc -l)" "$live_home"

# Copying needs no key: objects move as stored, verified by their SHA-256.
sed 's/^cross-region-backup = on/cross-region-backup = off/' "$cfg" >"$WORK/home-only.conf"
check "a set in the home region only" "$GEODR" --config "$WORK/home-only.conf" --quiet backup shop
sed '/^key-file/d' "$cfg" >"$WORK/nokey.conf"
flip() { python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)' "$1"; }
newset="$(ls "$WORK/home/shop/backup" | tail -n 1)"
bad="$(ls "$WORK"/home/shop/backup/"$newset"/data/* | head -n 1)"
flip "$bad"
out="$("$GEODR" --config "$WORK/nokey.conf" copy shop 2>&1)" && rc=0 || rc=$?
is "a corrupt object at home is not copied" "$rc" 1
like "... naming it" "$out" "$(basename "$bad") in region home is corrupt.*not copied to region far"
is "... and the set is not committed in the copy region" "$(ls "$WORK/far/shop/backup/$newset/manifest" 2>/dev/null | wc -l)" 0
flip "$bad"
out="$("$GEODR" --config "$WORK/nokey.conf" copy shop 2>&1)" && rc=0 || rc=$?
is "geodr copy without the key succeeds" "$rc" 0
like "... and copies the new set" "$out" "up to date: 1 set"
like "geodr info needs no key either" "$("$GEODR" --config "$WORK/nokey.conf" info shop 2>&1)" "copy region far: 2 sets"
out="$("$GEODR" --config "$WORK/nokey.conf" verify shop --region far 2>&1)" && rc=0 || rc=$?
is "verify without the key checks the stored bytes" "$rc" 0
like "... and says it did not decrypt" "$out" "not decrypted"
victim="$(ls "$WORK"/far/shop/backup/*/data/* | head -n 1)"
flip "$victim"
out="$("$GEODR" --config "$WORK/nokey.conf" verify shop --region far 2>&1)" && rc=0 || rc=$?
is "... and finds a flipped bit without the key" "$rc" 1
like "... naming the object" "$out" "BAD .*$(basename "$victim")"
flip "$victim"

# A copy region that cannot be reached when a backup ends still gets that
# backup's set once it is reached: the moment copies to it started is
# recorded at home before the region is contacted (not at first contact).
printf 'not a directory\n' >"$WORK/far3"
sed 's/^copy-regions = far$/copy-regions = far, far3/' "$cfg" >"$WORK/far3.conf"
geodr_config_add "$WORK/far3.conf" "" "[region far3]" "type = posix" "path = $WORK/far3"
run "$GEODR" --config "$WORK/far3.conf" --quiet backup shop
like "a backup whose copy region cannot be reached says so (the set is committed at home)" "$RUN_ERR" "far3"
far3set="$(ls "$WORK/home/shop/backup" | tail -n 1)"
rm "$WORK/far3"
mkdir "$WORK/far3"
check "geodr copy once the region is back" "$GEODR" --config "$WORK/far3.conf" --quiet copy shop
is "... copies the set taken while it could not be reached" "$(ls "$WORK/far3/shop/backup" 2>/dev/null | tr '\n' ' ')" "$far3set "

# The home region is lost.
rm -rf "$WORK/home"
mdb_start dst
check "restore --time from the copy region alone" "$GEODR" --config "$cfg" --quiet restore shop --region far \
    --time "$T" --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"
is "the state at $T, from the copy region alone" "$(mdb_sql dst 'CHECKSUM TABLE shop.t EXTENDED' | cut -f2)" "$want"
check "verify reads every object of the copy region" "$GEODR" --config "$cfg" --quiet verify shop --region far
out="$("$GEODR" --config "$cfg" info shop 2>&1)" || true
like "info with the home region lost: it holds no repository; the copy region's sets, with --region" \
    "$out" "home region home holds no repository for instance shop(.|\n)*copy region far holds [0-9]+ backup sets: see them with 'geodr info shop --region far'"
like "info --region far: the copy region's own view, its sets and recovery window" \
    "$("$GEODR" --config "$cfg" info shop --region far 2>&1)" \
    "region far \(not its home region; home region home\)(.|\n)*[0-9]{8}T[0-9]{6}Z(.|\n)*recovery window: "

# A region that holds the instance under another key is refused.
write_key "$WORK/key2"
sed "s|key-file = .*|key-file = $WORK/key2|; s|path = $WORK/home|path = $WORK/home2|" "$cfg" >"$WORK/other.conf"
out="$("$GEODR" --config "$WORK/other.conf" backup shop 2>&1)" && rc=0 || rc=$?
is "copying into a region that holds the instance under another key fails" "$rc" 1
like "... saying so, and the backup is still committed at home" "$out" "under another key(.|\n)*committed in region home"

tap_done
