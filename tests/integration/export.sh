#!/bin/bash
# geodr export (issue 12, deliver 5): an encrypted set written out decrypted
# as SQL and as TSV, loaded with the stock mariadb client (no geodr) into
# fresh servers, equal to the source at the backup (CHECKSUM TABLE, every
# value, history rows included, SHOW CREATE of every object).  Names and
# types users have: every column type, MyISAM, INET6, system-versioned
# tables, `orders` beside `order_items`, case twins, accents, spaces,
# 64-character names, tables without keys, 16 MiB blobs.  Refusals: an
# existing --out, an unknown set, a wrong key, a corrupt chunk (named, the
# partial export left marked and the user's files untouched); then the same
# export from the copy region (--region).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
for f in alltypes names types_more bigblob; do
    mdb_load src "$SQL_DIR/$f.sql" >/dev/null
done
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
geodr_config_add "$cfg" "chunk-rows = 1000" "jobs = 3" "copy-regions = far" "cross-region-backup = on"
geodr_config_add "$cfg" "" "[region far]" "type = posix" "path = $WORK/far"
check "backup (encrypted)" "$GEODR" --config "$cfg" --quiet backup shop
checksum_all src >"$WORK/src.sum"
values_all src >"$WORK/src.val"
show_create_all src >"$WORK/src.ddl"
set_id="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
# the source moves on after the backup: the exports must not see it
mdb_sql src "INSERT INTO d.orders VALUES (99,'after'); DELETE FROM alltypes.ints" >/dev/null

# compare NAME LABEL: the server NAME equals the source at the backup
compare() {
    checksum_all "$1" >"$WORK/$1.sum"
    values_all "$1" >"$WORK/$1.val"
    show_create_all "$1" >"$WORK/$1.ddl"
    check "$2: CHECKSUM TABLE equal for every table" diff "$WORK/src.sum" "$WORK/$1.sum"
    check "$2: every value equal (history rows included)" diff "$WORK/src.val" "$WORK/$1.val"
    check "$2: SHOW CREATE equal for every object" diff "$WORK/src.ddl" "$WORK/$1.ddl"
}

# modes OUT LABEL: a 0700 directory of 0600 files, nothing left partial
modes() {
    is "$2: the directory is 0700" "$(stat -c %a "$1")" 700
    is "$2: every file is 0600" "$(find "$1" -type f ! -perm 600 | head -3)" ""
    is "$2: every directory is 0700" "$(find "$1" -type d ! -perm 700 | head -3)" ""
    check_fails "$2: no .partial left" test -e "$1.partial"
}

# ---- sql
run "$GEODR" --config "$cfg" --json export shop --set "$set_id" --format sql --out "$WORK/out-sql"
is "sql: export succeeds" "$RUN_RC" 0
json_rows="$(python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rows"] > 0 and j["tables"] > 0 and j["files"] == 2 and j["bytes"] > 0)' <<<"$RUN_OUT")"
is "sql: --json reports files, bytes, rows, tables" "$json_rows" True
modes "$WORK/out-sql" sql
check "sql: README.txt says how to load" grep -q "mariadb --comments" "$WORK/out-sql/README.txt"
if grep -rqa "Ä umlaut" "$WORK/region"; then not_ok "the region holds no plaintext"; else ok "the region holds no plaintext"; fi
check "sql: the dump is in clear" grep -qa "Ä umlaut" "$WORK/out-sql/dump.sql"
check "sql: binary values as hex literals" grep -qa "X'005C0A090D5C4E00005C0A09" "$WORK/out-sql/dump.sql"
check_fails "sql: sql_log_bin is not touched" grep -qa "sql_log_bin" "$WORK/out-sql/dump.sql"
mdb_start dsql
check "sql: stock mariadb loads dump.sql into an empty server" \
    bash -c 'mariadb --defaults-file="$1" --comments < "$2"' _ "$WORK/dsql.cnf" "$WORK/out-sql/dump.sql"
compare dsql sql
is "sql: the sequence hands out the next value" \
    "$(mdb_sql dsql "SELECT NEXTVAL(alltypes.seq_ids)")" "$(mdb_sql src "SELECT NEXTVAL(alltypes.seq_ids)")"

# ---- tsv
run "$GEODR" --config "$cfg" --quiet export shop --set "$set_id" --format tsv --out "$WORK/out-tsv"
is "tsv: export succeeds" "$RUN_RC" 0
modes "$WORK/out-tsv" tsv
check "tsv: one directory per database, case twins apart" test -d "$WORK/out-tsv/Sales" -a -d "$WORK/out-tsv/sales"
check "tsv: accents and spaces kept in file names" test -f "$WORK/out-tsv/ÆØÅ db/Ærø.tsv"
check "tsv: <table>.sql holds CREATE TABLE" grep -q "CREATE TABLE \`orders\`" "$WORK/out-tsv/d/orders.sql"
is "tsv: <table>.tsv holds the rows" "$(wc -l <"$WORK/out-tsv/d/order_items.tsv")" 3
mdb_start dtsv
loaded=0
for dir in "$WORK/out-tsv"/*/; do
    (cd "$dir" && mariadb --defaults-file="$WORK/dtsv.cnf" --comments --local-infile=1 <load.sql) ||
        { loaded=1; note "load.sql of $dir failed"; }
done
is "tsv: stock mariadb loads every load.sql" "$loaded" 0
compare dtsv tsv

# ---- refusals
touch "$WORK/mine"
mkdir -p "$WORK/full" && echo keep >"$WORK/full/mine.txt"
run "$GEODR" --config "$cfg" export shop --set "$set_id" --format sql --out "$WORK/full"
is "an existing non-empty --out is refused" "$RUN_RC" 1
like "... saying it never overwrites" "$RUN_ERR" "not an empty directory: geodr export never overwrites"
is "... and the user's file is untouched" "$(ls "$WORK/full")" mine.txt
run "$GEODR" --config "$cfg" export shop --set "$set_id" --format sql --out "$WORK/mine"
is "an existing file as --out is refused" "$RUN_RC" 1
run "$GEODR" --config "$cfg" export shop --set 20000101T000000Z --format sql --out "$WORK/x1"
is "an unknown set is refused" "$RUN_RC" 1
like "... saying geodr info lists the sets" "$RUN_ERR" "no backup set 20000101T000000Z.*geodr info shop lists"
check_fails "... and nothing is written" test -e "$WORK/x1.partial" -o -e "$WORK/x1"
run "$GEODR" --config "$cfg" export shop --set ../../etc --format sql --out "$WORK/x1"
is "a path as set id is refused" "$RUN_RC" 1
like "... as not a set id" "$RUN_ERR" "not a backup set id"
write_key "$WORK/otherkey"
sed "s|key-file = .*|key-file = $WORK/otherkey|" "$cfg" >"$WORK/wrong.conf"
run "$GEODR" --config "$WORK/wrong.conf" export shop --set "$set_id" --format sql --out "$WORK/x2"
is "a wrong key is refused" "$RUN_RC" 1
like "... naming the key" "$RUN_ERR" "key"
check_fails "... and nothing is written" test -e "$WORK/x2.partial" -o -e "$WORK/x2"
run "$GEODR" --config "$cfg" export shop --set "$set_id" --format csv --out "$WORK/x3"
is "an unknown format is a usage error" "$RUN_RC" 2

# a corrupt chunk: the export stops naming it, the partial export stays marked
chunk="$(cd "$WORK/region/shop/backup/$set_id/data" && ls | sort | tail -1)"
python3 - "$WORK/region/shop/backup/$set_id/data/$chunk" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x40
open(p, 'wb').write(bytes(b))
PY
run "$GEODR" --config "$cfg" export shop --set "$set_id" --format tsv --out "$WORK/x4"
is "a corrupt chunk fails the export" "$RUN_RC" 1
like "... naming the object and geodr verify" "$RUN_ERR" "$chunk.*geodr verify shop"
like "... and where the partial export is" "$RUN_ERR" "x4.partial"
check "... which is left as it is" test -d "$WORK/x4.partial"
check_fails "... and --out is not created" test -e "$WORK/x4"
run "$GEODR" --config "$cfg" export shop --set "$set_id" --format tsv --out "$WORK/x4"
is "a partial export in the way is refused" "$RUN_RC" 1
like "... saying to remove it" "$RUN_ERR" "remove it"

# Ctrl-C part way: the partial export stays, marked, and --out is not made
GEODR_TEST_PAUSE=export-chunk=200 "$GEODR" --config "$cfg" --quiet export shop --set "$set_id" \
    --format tsv --out "$WORK/x7" --region far 2>"$WORK/x7.err" &
pid=$!
sleep 1.5
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
is "SIGINT stops the export with a failure" "$rc" 1
like "... saying it was interrupted and where the partial export is" "$(cat "$WORK/x7.err")" "interrupted.*x7.partial"
check "... which is left" test -d "$WORK/x7.partial"
check_fails "... and --out is not created" test -e "$WORK/x7"

run "$GEODR" --config "$cfg" --quiet export shop --set "$set_id" --format sql --out "$WORK/x5" --region far
is "--region far: the copy region's set exports" "$RUN_RC" 0
check "... the same dump as from home before the damage" diff -r "$WORK/out-sql" "$WORK/x5"
mkdir "$WORK/x6"
run "$GEODR" --config "$cfg" --quiet export shop --set "$set_id" --format sql --out "$WORK/x6/" --region far
is "an empty --out (given as DIR/) is used" "$RUN_RC" 0
check "... and holds the dump" test -f "$WORK/x6/dump.sql" -a ! -e "$WORK/x6/.partial" -a ! -e "$WORK/x6.partial"
is "... in a 0700 directory" "$(stat -c %a "$WORK/x6")" 700

tap_done
