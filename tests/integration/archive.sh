#!/bin/bash
# Continuous binlog archiving: segments are valid binlog files that stock
# mariadb-binlog reads (checksums verified); over kill -9 of the archiver and
# a restart of the source, the chain has no gap and no duplicate, and the
# GTIDs archived are exactly the source's.  Sources that cannot be archived
# get a clear error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE shop;
CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(100), n BIGINT, d DATETIME(6)) ENGINE=InnoDB;
INSERT INTO shop.t SELECT seq, MD5(seq), seq, NOW(6) FROM shop.seq_1_to_1000;" >/dev/null
cfg="$WORK/geodr.conf"
key="$WORK/key"
write_key "$key"
write_config "$cfg" shop src "$WORK/region" "$key"
geodr_config_add "$cfg" "archive-interval = 0.5"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
backup_gtid="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["gtid"])')"

start_archive() {
    "$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
    ARCH_PID=$!
}
start_archive
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'

# A workload: single-row changes, multi-statement transactions, DDL.
workload() {
    python3 - "$1" <<'PY' | mdb_client src --batch >/dev/null 2>>"$WORK/workload.err"
import random, sys
r = random.Random(int(sys.argv[1]))
for i in range(400):
    k = r.randint(1, 1200)
    c = r.random()
    if c < 0.3:
        print(f"INSERT INTO shop.t (id, v, n, d) VALUES ({k}, 'v{i}', {r.randint(-2**63, 2**63-1)}, NOW(6)) ON DUPLICATE KEY UPDATE n = n + 1;")
    elif c < 0.6:
        print(f"UPDATE shop.t SET v = NULL, n = {r.randint(0, 9)} WHERE id = {k};")
    elif c < 0.7:
        print(f"DELETE FROM shop.t WHERE id = {k};")
    elif c < 0.95:
        print(f"START TRANSACTION; UPDATE shop.t SET n = n - 1 WHERE id = {k}; INSERT INTO shop.t (id, v, n, d) VALUES ({2000 + i}, 'tx', 0, NULL) ON DUPLICATE KEY UPDATE n = 0; COMMIT;")
    else:
        print(f"CREATE TABLE IF NOT EXISTS shop.x{i} (a INT PRIMARY KEY); INSERT INTO shop.x{i} VALUES (1); DROP TABLE shop.x{i};")
    if i == 200 and sys.argv[1] == "1":
        print("ALTER TABLE shop.t ADD COLUMN extra INT DEFAULT 7;")
PY
}

workload 1
kill -9 "$ARCH_PID"; wait "$ARCH_PID" 2>/dev/null || true
workload 2
start_archive
workload 3
sleep 0.3
kill -9 "$ARCH_PID"; wait "$ARCH_PID" 2>/dev/null || true
start_archive
workload 4
mdb_restart src
workload 5
kill -9 "$ARCH_PID"; wait "$ARCH_PID" 2>/dev/null || true
# The last run compacts as it archives (merging in a thread beside it).
"$GEODR" --config "$cfg" --quiet archive shop --interval 0.1 --compact-every 1 >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
workload 6
# a slow trickle: one segment each, for compaction to merge
for i in $(seq 1 70); do
    mdb_sql src "INSERT INTO shop.t (id, v) VALUES (5000 + $i, 'trickle')" >/dev/null
    sleep 0.1
done
merged() { compgen -G "$WORK/region/shop/binlog/*-*.segment" >/dev/null; }
check "the archiver merges small segments while it archives" wait_for 10 merged

src_pos="$(mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos')"
archived() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["archive"]["gtid_pos"])'; }
caught_up() { [[ "$(archived)" == "$src_pos" ]]; }
if wait_for 60 caught_up; then
    ok "the archive catches up with the source ($src_pos) after kills and a source restart"
else
    not_ok "the archive catches up with the source" "archived $(archived 2>&1), source $src_pos"
fi
kill -TERM "$ARCH_PID"
rc=0; wait "$ARCH_PID" || rc=$?
is "archive stops cleanly on SIGTERM" "$rc" 0

# Compaction: small segments merged, then the merged-away ones removed.
nsegs() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["archive"]["segments"])'; }
before="$(ls "$WORK"/region/shop/binlog/*.segment | wc -l)" # records, merged-away ones included
check "compact merges small segments" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
check "a second pass removes what the merge covers" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0
after="$(nsegs)"
if ((after < before)); then ok "compaction: $before segments became $after"; else not_ok "compaction reduces the segment count" "$before -> $after"; fi
is "compaction: no index record is left over" "$(ls "$WORK"/region/shop/binlog/*.segment | wc -l)" "$after"
is "compaction: no segment object is left over" "$(ls "$WORK"/region/shop/binlog/*.binlog.* | wc -l)" "$after"

# Every segment is a binlog file mariadb-binlog reads, checksums verified.
mkdir -p "$WORK/segs"
bad=0
n=0
for idx in "$WORK"/region/shop/binlog/*.segment; do
    obj="$(python3 - "$idx" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
print(json.loads(t[:t.rstrip("\n").rindex("\n")])["object"])
PY
)"
    n=$((n + 1))
    "$GEODR" --config "$cfg" cat shop "binlog/$obj" >"$WORK/segs/$n.bin"
    if ! mariadb-binlog --verify-binlog-checksum "$WORK/segs/$n.bin" >"$WORK/segs/$n.txt" 2>"$WORK/segs/$n.err"; then
        bad=$((bad + 1))
        note "mariadb-binlog failed on $obj: $(head -3 "$WORK/segs/$n.err")"
    fi
done
is "mariadb-binlog reads all $n segments without error" "$bad" 0
grep -q "Warning" "$WORK"/segs/*.err && not_ok "mariadb-binlog prints no warnings" "$(cat "$WORK"/segs/*.err | head -3)" || ok "mariadb-binlog prints no warnings"

# The GTIDs archived are exactly those of the source's binlogs after the backup.
for i in $(seq 1 "$n"); do grep -oE 'GTID [0-9]+-[0-9]+-[0-9]+' "$WORK/segs/$i.txt"; done | awk '{print $2}' >"$WORK/archived.gtids"
mariadb-binlog "$SRC_DATA"/mysql-bin.[0-9]* 2>/dev/null | grep -oE 'GTID [0-9]+-[0-9]+-[0-9]+' | awk '{print $2}' |
    awk -F- -v s="${backup_gtid##*-}" '$3 > s' >"$WORK/source.gtids"
is "no duplicate GTID in the archive" "$(sort "$WORK/archived.gtids" | uniq -d | wc -l)" 0
is "archived GTIDs equal the source's since the backup ($(wc -l <"$WORK/source.gtids") transactions)" \
    "$(cat "$WORK/archived.gtids")" "$(cat "$WORK/source.gtids")"
chain="$(python3 - "$backup_gtid" "$WORK"/region/shop/binlog/*.segment <<'PY'
import json, sys
prev = sys.argv[1]
for p in sys.argv[2:]:
    t = open(p).read()
    j = json.loads(t[:t.rstrip("\n").rindex("\n")])
    if j["prev_gtid_pos"] != prev:
        print(f"gap before segment {j['seq']}: {prev} -> {j['prev_gtid_pos']}")
    prev = j["gtid_pos"]
print("ok")
PY
)"
is "the segment chain starts at the backup's GTID and has no gap" "$chain" "ok"
check "verify checks the segments too" "$GEODR" --config "$cfg" --quiet verify shop

# Sources that cannot be archived.
mdb_start nobin --skip-log-bin
write_config "$WORK/nobin.conf" nb nobin "$WORK/region-nb"
out="$("$GEODR" --config "$WORK/nobin.conf" archive nb 2>&1)" && rc=0 || rc=$?
is "binlog disabled: archive fails" "$rc" 1
like "binlog disabled: ... saying what to do" "$out" "binary log is disabled on the source: start it with log-bin"
mdb_start stmt --binlog-format=STATEMENT
write_config "$WORK/stmt.conf" st stmt "$WORK/region-st"
out="$("$GEODR" --config "$WORK/stmt.conf" archive st 2>&1)" && rc=0 || rc=$?
is "binlog_format STATEMENT: archive fails" "$rc" 1
like "binlog_format STATEMENT: ... saying what to do" "$out" "set binlog_format=ROW"
tap_done
