#!/bin/bash
# Names in every order trap (issue 9): `orders` beside `order_items`, case
# twins (`Zed`/`zed`, databases `Sales`/`sales`), accents, punctuation,
# reserved words, backticks, 64-character names, tables without keys.
# Backed up, verified, restored (whole, chosen tables renamed, to a point in
# time, chosen tables to a point in time) and compared table by table with
# CHECKSUM TABLE.  A set written with an empty column list (as geodr before
# this fix wrote them) is refused by verify, info and restore.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_load src "$SQL_DIR/names.sql" >/dev/null
mdb_load src "$SQL_DIR/types_more.sql" >/dev/null
checksum_all src >"$WORK/src.sum"
is "the source has every trap table" "$(grep -vc '^types_more\.' "$WORK/src.sum")" 28

cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
geodr_config_add "$cfg" "jobs = 3" "archive-interval = 0.3"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
set_id="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
check "verify" "$GEODR" --config "$cfg" verify shop

mdb_start dst
check "restore into an empty server, verified against the set's row digests" \
    "$GEODR" --config "$cfg" --quiet restore shop --latest --verify --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"
checksum_all dst >"$WORK/dst.sum"
check "CHECKSUM TABLE equal for every table" diff "$WORK/src.sum" "$WORK/dst.sum"
is "the repro's orders come back" "$(mdb_sql dst "SELECT GROUP_CONCAT(id, v ORDER BY id) FROM d.orders")" "1o1,2o2"
is "order_items (no key) comes back with its values" \
    "$(mdb_sql dst "SELECT GROUP_CONCAT(a, '=', IFNULL(b,'null') ORDER BY a, b) FROM d.order_items")" "1=i1,1=i1,2=null"
is "Zed and zed stay twins" "$(mdb_sql dst "SELECT (SELECT z FROM d.Zed), (SELECT GROUP_CONCAT(zz) FROM d.zed)")" \
    "50	lower,again"
is "the view works" "$(mdb_sql dst "SELECT COUNT(*) FROM d.order_view")" 3

# Chosen tables with trap names, renamed, into an existing server.
mdb_sql dst "CREATE DATABASE keep; CREATE TABLE keep.t (a INT); INSERT INTO keep.t VALUES (1)" >/dev/null
check "restore --tables of twins and accents with --rename" "$GEODR" --config "$cfg" --quiet restore shop \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" \
    --tables 'd.zed,d.order_items,d.é,sales.orders' --rename d=d2,sales=s2
is "chosen tables: exactly those, with their own rows" \
    "$(checksum_all dst d2 s2 | sed -e 's/^d2\./d./' -e 's/^s2\./sales./')" \
    "$(grep -E '^(d\.(zed|order_items|é)|sales\.orders) ' "$WORK/src.sum")"

# To a point in time: changes made while the archiver runs.
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
mdb_sql src "INSERT INTO d.orders VALUES (3,'o3'); INSERT INTO d.order_items VALUES (3,'i3');
UPDATE d.Zed SET z = 51; INSERT INTO d.zed VALUES (8,'eight',8); DELETE FROM d.zeta WHERE q = 7;
UPDATE sales.orders SET note = 'changed'; INSERT INTO Sales.orders VALUES (3,'UP3');
UPDATE d.\`back\`\`tick\` SET \`c'd\` = 'new'; INSERT INTO d.\`é\` VALUES (2,'è');
INSERT INTO \`ÆØÅ db\`.\`Ærø\` VALUES (2,'fjord'); UPDATE \`%db\`.t SET v = 3;
INSERT INTO \`with space\`.\`with space\` VALUES (2,2);
UPDATE types_more.sv_implicit SET v = 'after', a6 = '::ffff:192.0.2.1' WHERE id = 1;
DELETE FROM types_more.sv_explicit WHERE id = 1; INSERT INTO types_more.inet (id, n6) VALUES (900, '2001:db8::1:2:34');
INSERT INTO types_more.enum_set (id, e, en, s, sn) VALUES (900, '', '', '', '1,x y');" >/dev/null
checksum_all src >"$WORK/src2.sum"
caught_up() { archive_holds "$cfg" shop src; }
check "the archive holds the changes" wait_for 60 caught_up
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || true

mdb_start pitr
check "restore --latest (set + replay)" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$PITR_PORT" --target-user root --target-password-file "$WORK/pitr.pass"
checksum_all pitr >"$WORK/pitr.sum"
check "point in time: CHECKSUM TABLE equal for every table" diff "$WORK/src2.sum" "$WORK/pitr.sum"
check "point in time: every value equal, history rows included" diff <(values_all src) <(values_all pitr)

check "chosen twin tables to a point in time, renamed" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" \
    --tables 'd.Zed,d.order_items,Sales.orders,%db.t' --rename d=d3,Sales=S3,%db=P3
is "chosen tables to a point in time: exactly those, as at the end" \
    "$(checksum_all dst d3 S3 P3 | sed -e 's/^d3\./d./' -e 's/^S3\./Sales./' -e 's/^P3\./%db./' | LC_ALL=C sort)" \
    "$(grep -E '^(d\.(Zed|order_items)|Sales\.orders|%db\.t) ' "$WORK/src2.sum")"
is "... the target was never made a replica" "$(mdb_sql dst 'SHOW ALL SLAVES STATUS' | wc -l)" 0

# A set with an empty column list for a table (what geodr before this fix
# wrote for these names): verify, info and restore refuse it.
plain="$WORK/plain.conf"
write_config "$plain" shop src "$WORK/region-plain"
check "unencrypted backup" "$GEODR" --config "$plain" --quiet backup shop
pset="$("$GEODR" --config "$plain" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
forge() { # forge MANIFEST PYTHON-EXPR-ON-m
    python3 - "$1" "$2" <<'PY'
import hashlib, json, sys
path, expr = sys.argv[1], sys.argv[2]
text = open(path).read()
m = json.loads(text[:text.rstrip("\n").rindex("\n")])
for t in m["tables"]:
    exec(expr)
body = json.dumps(m) + "\n"
open(path, "w").write(body + "sha256 " + hashlib.sha256(body.encode()).hexdigest() + "\n")
PY
}
mf="$WORK/region-plain/shop/backup/$pset/manifest"
cp "$mf" "$WORK/manifest.good"
forge "$mf" 'if t["name"] in ("orders", "zeta"): t["columns"] = []'
out="$("$GEODR" --config "$plain" verify shop "$pset" 2>&1)" && rc=0 || rc=$?
is "verify fails a set with an empty column list" "$rc" 1
like "... naming the table" "$out" 'table `d`.`orders`: the set holds no columns for it'
out="$("$GEODR" --config "$plain" info shop 2>&1)"
like "info marks the set unusable" "$out" "UNUSABLE: table .* take a new backup"
mdb_start refuse
out="$("$GEODR" --config "$plain" restore shop --set "$pset" --target "127.0.0.1:$REFUSE_PORT" \
    --target-user root --target-password-file "$WORK/refuse.pass" 2>&1)" && rc=0 || rc=$?
is "restore refuses it" "$rc" 1
like "... saying to take a new backup" "$out" "cannot be restored as it was taken: table .*no columns.*take a new backup"
is "... and nothing was written to the target" \
    "$(mdb_sql refuse "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('d','sales')")" 0
cp "$WORK/manifest.good" "$mf"
forge "$mf" 'if t["name"] == "zed": t["columns"] = t["columns"][:2]'
out="$("$GEODR" --config "$plain" verify shop "$pset" 2>&1)" && rc=0 || rc=$?
is "verify fails a set whose columns differ from the CREATE TABLE" "$rc" 1
like "... naming the table and the counts" "$out" 'table `d`.`zed`: the set holds 2 columns for it but its CREATE TABLE has 3'
cp "$WORK/manifest.good" "$mf"
check "the untouched set verifies" "$GEODR" --config "$plain" verify shop "$pset"

# A set whose schema says NOT NULL where its rows hold NULL (a damaged or
# hand-edited set): the restore stops at the first changed value instead of
# loading '' quietly.
sobj="$(python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[:t.rstrip("\n").rindex("\n")])["schema"]["object"])' "$mf")"
spath="$WORK/region-plain/shop/backup/$pset/$sobj"
zstd -q -d -c "$spath" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for t in s["tables"]:
    if t["db"] == "d" and t["name"] == "order_items":
        t["create"] = t["create"].replace("`b` varchar(20) DEFAULT NULL", "`b` varchar(20) NOT NULL")
        assert "NOT NULL" in t["create"]
sys.stdout.write(json.dumps(s))' | zstd -q -c >"$WORK/schema.new"
cp "$WORK/schema.new" "$spath"
python3 - "$mf" "$spath" <<'PY'
import hashlib, json, sys
path, spath = sys.argv[1], sys.argv[2]
text = open(path).read()
m = json.loads(text[:text.rstrip("\n").rindex("\n")])
b = open(spath, "rb").read()
m["schema"]["sha256"] = hashlib.sha256(b).hexdigest()
m["schema"]["size"] = len(b)
body = json.dumps(m) + "\n"
open(path, "w").write(body + "sha256 " + hashlib.sha256(body.encode()).hexdigest() + "\n")
PY
mdb_start notnull
out="$("$GEODR" --config "$plain" restore shop --set "$pset" --target "127.0.0.1:$NOTNULL_PORT" \
    --target-user root --target-password-file "$WORK/notnull.pass" 2>&1)" && rc=0 || rc=$?
is "a restore that would load NULL into a NOT NULL column fails" "$rc" 1
like "... naming the table, the chunk and the warning" "$out" 'loading `d`.`order_items` from data/.*: the target changed values: Warning 1263'
tap_done
