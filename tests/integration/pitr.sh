#!/bin/bash
# Point-in-time restore exactness.  While `geodr archive` runs, a randomized
# workload changes every column-type table of the foundation's schema
# (copies of edge values, NULLs, deletes, multi-statement transactions, an
# ALTER TABLE ADD COLUMN and a CREATE/DROP TABLE in the middle).  At several
# instants the test pauses writes, records the time and the CHECKSUM TABLE of
# every table, and resumes.  Restoring to each instant gives exactly those
# checksums; --latest gives the final state.  The replay is done by the
# target's own replication from geodr's binlog server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_load src "$SQL_DIR/alltypes.sql" >/dev/null
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
geodr_config_add "$cfg" "archive-interval = 0.3" "jobs = 2"
check "backup before the workload" "$GEODR" --config "$cfg" --quiet backup shop
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'

TABLES=(ints decimals floats bits temporal strings_utf8 strings_latin1 binaries enums_sets geo big)
mdb_sql src "SELECT table_name, GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR ' '),
    GROUP_CONCAT(IF(is_nullable='YES', column_name, NULL) ORDER BY ordinal_position SEPARATOR ' ')
    FROM information_schema.columns WHERE table_schema='alltypes' AND is_generated='NEVER'
    AND table_name IN ($(printf "'%s'," "${TABLES[@]}" | sed 's/,$//')) GROUP BY table_name" >"$WORK/columns.tsv"

# workload SEED N: N randomized statements (errors, e.g. NULL into NOT NULL, are skipped).
workload() {
    python3 - "$1" "$2" "$WORK/columns.tsv" <<'PY' | mdb_client src --batch --force >/dev/null 2>>"$WORK/workload.err"
import random, sys
seed, n, colfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = random.Random(seed)
tables = {}
for line in open(colfile):
    t, cols, nulls = (line.rstrip("\n").split("\t") + [""])[:3]
    tables[t] = (cols.split(), nulls.split() if nulls != "NULL" else [])
def q(c):
    return "`" + c + "`"
names = sorted(tables)
for i in range(n):
    t = r.choice(names)
    cols, nulls = tables[t]
    rest = [c for c in cols if c != "id"]
    a, b = r.randint(1, 8), r.randint(1, 8)
    op = r.random()
    T = f"alltypes.{q(t)}"
    if op < 0.3:
        new = 100000 + seed * 10000 + i
        print(f"INSERT INTO {T} (id,{','.join(map(q, rest))}) SELECT {new},{','.join(map(q, rest))} FROM {T} WHERE id IN ({a},{b}) LIMIT 1;")
    elif op < 0.55 and rest:
        c = q(r.choice(rest))
        print(f"UPDATE {T} x JOIN {T} y ON y.id = {b} SET x.{c} = y.{c} WHERE x.id = {a};")
    elif op < 0.7 and nulls:
        print(f"UPDATE {T} SET {q(r.choice(nulls))} = NULL WHERE id = {a};")
    elif op < 0.8:
        print(f"DELETE FROM {T} WHERE id = {100000 + seed * 10000 + r.randint(0, i)};")
    else:
        t2 = r.choice(names)
        print(f"START TRANSACTION; DELETE FROM {T} WHERE id = {100000 + seed * 10000 + r.randint(0, i)}; "
              f"UPDATE alltypes.big SET k = k + 1, x = NULL WHERE id = {r.randint(1, 20000)}; "
              f"INSERT INTO alltypes.big (id, k, c) VALUES ({200000 + seed * 10000 + i}, {i}, 'tx {seed}'); COMMIT;")
    if seed == 2 and i == n // 2:
        print("ALTER TABLE alltypes.big ADD COLUMN extra INT DEFAULT 5;")
        print("CREATE TABLE alltypes.temp_t (a INT PRIMARY KEY, b TEXT); INSERT INTO alltypes.temp_t VALUES (1, 'x'), (2, NULL);")
    if seed == 3 and i == n // 2:
        print("DROP TABLE alltypes.temp_t;")
PY
}

# instant NAME: wait into a fresh second, record it, let that second pass
# without writes, so every transaction before has an earlier commit second and
# every one after a later one.
instant() {
    local s0
    s0="$(date -u +%s)"
    while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
    date -u '+%Y-%m-%d %H:%M:%S.%N' | cut -c1-26 >"$WORK/time.$1"
    checksum_all src alltypes >"$WORK/sum.$1"
    mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos' >"$WORK/gtid.$1"
    s0="$(date -u +%s)"
    while [[ "$(date -u +%s)" == "$s0" ]]; do sleep 0.05; done
}

workload 1 300
instant a
workload 2 300
instant b
workload 3 150
# a point by GTID in the middle of the stream (no pause: it falls inside a segment)
mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos' >"$WORK/gtid.m"
checksum_all src alltypes >"$WORK/sum.m"
workload 33 150
instant c
workload 4 200
checksum_all src alltypes >"$WORK/sum.final"
mdb_sql src "SELECT COUNT(*) FROM alltypes.big" >/dev/null

caught_up() { archive_holds "$cfg" shop src; }
check "the archive holds every transaction of the source" wait_for 60 caught_up
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || true

# Replay reads compacted segments as well as fresh ones.
check "compaction of the archive before the restores" "$GEODR" --config "$cfg" --quiet compact shop --min-segments 2 --grace 0

n=0
for point in a b c final gtid:m; do
    n=$((n + 1))
    mdb_start "t$n"
    eval "port=\$T${n}_PORT"
    if [[ $point == final ]]; then
        args=(--latest)
        what="--latest"
    elif [[ $point == gtid:* ]]; then
        point="${point#gtid:}"
        args=(--gtid "$(cat "$WORK/gtid.$point")")
        what="--gtid $(cat "$WORK/gtid.$point")"
    else
        args=(--time "$(cat "$WORK/time.$point")")
        what="--time $(cat "$WORK/time.$point")"
    fi
    check "restore $what" "$GEODR" --config "$cfg" --quiet restore shop "${args[@]}" \
        --target "127.0.0.1:$port" --target-user root --target-password-file "$WORK/t$n.pass"
    checksum_all "t$n" alltypes >"$WORK/got.$point"
    check "restore $what: CHECKSUM TABLE of every table as recorded" diff "$WORK/sum.$point" "$WORK/got.$point"
    is "restore $what: the target is no replica afterwards" "$(mdb_sql "t$n" 'SHOW ALL SLAVES STATUS' | wc -l)" 0
    mdb_stop "t$n"
done

# Chosen tables to a point in time, renamed, into a server that already has
# data: replayed on a scratch instance, the target never becomes a replica.
mdb_start existing
mdb_sql existing "CREATE DATABASE keep; CREATE TABLE keep.t (a INT PRIMARY KEY); INSERT INTO keep.t VALUES (1),(2);" >/dev/null
check "restore --tables ... --rename ... --time into an existing server" "$GEODR" --config "$cfg" --quiet \
    restore shop --time "$(cat "$WORK/time.b")" --tables alltypes.ints,alltypes.big --rename alltypes=sub \
    --target "127.0.0.1:$EXISTING_PORT" --target-user root --target-password-file "$WORK/existing.pass"
is "chosen tables: checksums as recorded at instant b" \
    "$(checksum_all existing sub | sed 's/^sub\./alltypes./')" "$(grep -E '^alltypes\.(big|ints) ' "$WORK/sum.b")"
is "chosen tables: only those were restored" \
    "$(mdb_sql existing "SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema='sub'")" "big,ints"
is "chosen tables: the existing data is untouched" "$(mdb_sql existing 'SELECT COUNT(*) FROM keep.t')" 2
is "chosen tables: the target was never made a replica" "$(mdb_sql existing 'SHOW ALL SLAVES STATUS' | wc -l)" 0
is "chosen tables: the scratch instance is gone" "$(ls -d "${TMPDIR:-/tmp}"/geodr-scratch.* 2>/dev/null | wc -l)" 0

# A time before the first backup set: refused before anything is written.
mdb_start early
out="$("$GEODR" --config "$cfg" restore shop --time '2001-01-01 00:00:00' --target "127.0.0.1:$EARLY_PORT" \
    --target-user root --target-password-file "$WORK/early.pass" 2>&1)" && rc=0 || rc=$?
is "a time outside the window fails" "$rc" 1
like "... printing the window" "$out" "outside the recovery window of instance shop in region home: \[.* \.\. .*\]"
is "... and nothing is written to the target" "$(mdb_sql early "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='alltypes'")" 0
# A target that already has replication configured.
mdb_sql early "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='x'" >/dev/null
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$EARLY_PORT" \
    --target-user root --target-password-file "$WORK/early.pass" 2>&1)" && rc=0 || rc=$?
is "a target with replication configured is refused" "$rc" 1
like "... saying what to do" "$out" "already has replication configured.*RESET SLAVE ALL"
out="$("$GEODR" --config "$cfg" restore shop --latest --dry-run --target "127.0.0.1:$EARLY_PORT" \
    --target-user root --target-password-file "$WORK/early.pass" 2>&1)" && rc=0 || rc=$?
like "... and the precheck (--dry-run) fails on its target check" "$rc $out" \
    "^1 .*FAILED target +the target already has replication configured"
is "... and nothing is written to it" "$(mdb_sql early "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='alltypes'")" 0
# A damaged or missing segment stops the restore before the target is touched.
mdb_start late
cp -a "$WORK/region/shop/binlog" "$WORK/binlog.bak"
for seg in "$WORK"/region/shop/binlog/*.binlog.*; do # every segment: whichever the plan uses
    python3 - "$seg" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(bytes(b))
PY
done
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$LATE_PORT" \
    --target-user root --target-password-file "$WORK/late.pass" 2>&1)" && rc=0 || rc=$?
is "a corrupt segment: the restore fails" "$rc" 1
like "... naming the segment and that nothing was written" "$out" "cannot be replayed \(nothing was written.*binlog/[0-9-]+\.binlog"
out="$("$GEODR" --config "$cfg" restore shop --latest --dry-run --target "127.0.0.1:$LATE_PORT" \
    --target-user root --target-password-file "$WORK/late.pass" 2>&1)" && rc=0 || rc=$?
like "... the precheck (--dry-run) fails on its binlog check only, naming the segment" \
    "$rc $(grep -E '^  (ok|FAILED|-) ' <<<"$out" | awk '{print $1, $2}' | tr '\n' ' ')$out" \
    "^1 ok point ok set ok objects FAILED binlog ok target ok empty - room .*binlog +the binlog archive cannot be replayed .*binlog/[0-9-]+\.binlog"
is "... and nothing was written to the target" "$(mdb_sql late "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='alltypes'")" 0
rm -rf "$WORK/region/shop/binlog"
cp -a "$WORK/binlog.bak" "$WORK/region/shop/binlog"
rm -f "$WORK"/region/shop/binlog/*.binlog.*
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$LATE_PORT" \
    --target-user root --target-password-file "$WORK/late.pass" 2>&1)" && rc=0 || rc=$?
is "a missing segment: the restore fails" "$rc" 1
like "... naming it" "$out" "binlog/[0-9-]+\.binlog.*not found"
is "... and nothing was written to the target" "$(mdb_sql late "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='alltypes'")" 0
rm -rf "$WORK/region/shop/binlog"
cp -a "$WORK/binlog.bak" "$WORK/region/shop/binlog"
tap_done
