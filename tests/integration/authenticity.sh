#!/bin/bash
# An encrypted repository is authenticated (issue 10, findings 1 and 3;
# docs/repository-format.md "Authenticity").  Whoever can write to a region
# but has no key cannot make verify or restore accept anything: a planted
# plaintext set, a record with a recomputed sha256, a manifest moved from
# another set, an object swapped between sets, a planted plaintext binlog
# segment, an edited or downgraded descriptor.  Refused with nothing
# written to the target.  A format 1 repository (tools/gdrepo.py to-v1,
# an independent writer of that format) stays readable with a warning, moves
# to format 2 at its next backup, and refuses new unauthenticated sets after.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new
GDREPO="$GEODR_SRC/tests/integration/tools/gdrepo.py"

mdb_start src
mdb_start dst
mdb_sql src "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
INSERT INTO d.t SELECT seq, CONCAT('a', seq) FROM d.seq_1_to_3000;" >/dev/null
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
geodr_config_add "$cfg" "chunk-rows = 1000"
# The forger: the same instance name, no key, its own region.
fcfg="$WORK/forger.conf"
write_config "$fcfg" shop src "$WORK/forged"

R="$WORK/region/shop"
restore_to_dst() {
    "$GEODR" --config "$cfg" restore shop "$@" --target "127.0.0.1:$DST_PORT" --target-user root \
        --target-password-file "$WORK/dst.pass" 2>&1
}
dst_clean() {
    is "$1" "$(mdb_sql dst "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('d', 'evil')")" 0
}

check "backup A" "$GEODR" --config "$cfg" --quiet backup shop
setA="$(ls "$R/backup" | sort | head -1)"
mdb_sql src "UPDATE d.t SET v = CONCAT('b', id)" >/dev/null
sleep 1
check "backup B" "$GEODR" --config "$cfg" --quiet backup shop
setB="$(ls "$R/backup" | sort | tail -1)"
"$GEODR" --config "$cfg" --quiet archive shop --idle-exit 2 >/dev/null 2>&1 &
apid=$!
sleep 1
mdb_sql src "INSERT INTO d.t VALUES (5000, 'genuine')" >/dev/null
wait "$apid" || true

like "records end in a MAC trailer" "$(tail -1 "$R/backup/$setA/manifest")" '^hmac-sha256 [0-9a-f]{64}$'
like "... the descriptor too" "$(tail -1 "$R/instance.json")" '^hmac-sha256 [0-9a-f]{64}$'
like "... and segment records" "$(tail -1 "$(ls "$R"/binlog/*.segment | tail -1)")" '^hmac-sha256 [0-9a-f]{64}$'
check "the genuine repository verifies" "$GEODR" --config "$cfg" verify shop

# The forger backs up a plaintext database and archives a plaintext segment
# with its own (keyless) geodr, then plants them in the encrypted region.
mdb_sql src "CREATE DATABASE evil; CREATE TABLE evil.t (id INT PRIMARY KEY); INSERT INTO evil.t VALUES (666)" >/dev/null
check "forger: plaintext backup" "$GEODR" --config "$fcfg" --quiet backup shop
"$GEODR" --config "$fcfg" --quiet archive shop --idle-exit 2 >/dev/null 2>&1 &
apid=$!
sleep 1
mdb_sql src "INSERT INTO d.t VALUES (6666, 'forged')" >/dev/null
wait "$apid" || true
mdb_sql src "DROP DATABASE evil" >/dev/null
fset="$(ls "$WORK/forged/shop/backup" | sort | tail -1)"

cp -a "$R" "$WORK/good"
reset_region() { rm -rf "$R" && cp -a "$WORK/good" "$R"; }

# 1. A planted plaintext set (plaintext schema and rows, sha256 trailers).
cp -a "$WORK/forged/shop/backup/$fset" "$R/backup/99991231T000000Z"
out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "planted plaintext set: verify fails" "$rc" 1
like "... saying it is not authenticated" "$out" "99991231T000000Z/manifest.*not authenticated"
out="$("$GEODR" --config "$cfg" --json info shop)"
is "... info shows it as an error, not as a set to restore from" "$(printf '%s' "$out" | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
s = [x for x in i["sets"] if x["set"] == "99991231T000000Z"]
print(bool(s) and "error" in s[0] and "not authenticated" in s[0]["error"], i.get("authenticated"))')" "True True"
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "... restore --latest refuses it" "$rc" 1
like "... saying why" "$out" "not authenticated"
dst_clean "... and nothing was written to the target"
# The same plaintext objects under a genuinely MACed manifest are refused
# for being plaintext (the key holder's own mistake or a MAC bug must not
# make geodr read plaintext in an encrypted instance).
python3 "$GDREPO" reseal "$WORK/region" "$R/backup/99991231T000000Z/manifest" \
    'j["set"] = "99991231T000000Z"' "$WORK/key"
out="$("$GEODR" --config "$cfg" verify shop 99991231T000000Z 2>&1)" && rc=0 || rc=$?
is "plaintext objects in an encrypted instance: verify fails" "$rc" 1
like "... naming them as not encrypted" "$out" "is not encrypted, but instance shop is: refused"
out="$(restore_to_dst --set 99991231T000000Z)" && rc=0 || rc=$?
is "... restore refuses" "$rc" 1
dst_clean "... and nothing was written to the target"
reset_region

# 2. A genuine manifest edited, its sha256 recomputed.
python3 "$GDREPO" forge "$R/backup/$setB/manifest" 'j["tables"][0]["rows"] = 1'
out="$("$GEODR" --config "$cfg" verify shop "$setB" 2>&1)" && rc=0 || rc=$?
is "manifest with a recomputed sha256: verify fails" "$rc" 1
like "... not authenticated" "$out" "manifest.*not authenticated"
out="$(restore_to_dst --set "$setB")" && rc=0 || rc=$?
is "... restore refuses" "$rc" 1
dst_clean "... and nothing was written to the target"
reset_region

# 3. Set A's manifest (a valid MAC, for A's name) moved over set B's.
cp "$R/backup/$setA/manifest" "$R/backup/$setB/manifest"
out="$("$GEODR" --config "$cfg" verify shop "$setB" 2>&1)" && rc=0 || rc=$?
is "manifest moved from another set: verify fails" "$rc" 1
like "... it fails authentication" "$out" "fails authentication"
out="$(restore_to_dst --set "$setB")" && rc=0 || rc=$?
is "... restore refuses" "$rc" 1
dst_clean "... and nothing was written to the target"
reset_region

# 4. A segment record renamed to another counter.
last="$(ls "$R"/binlog/*.segment | tail -1)"
mv "$last" "$R/binlog/000000000099.segment"
out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "segment record renamed: verify fails" "$rc" 1
like "... it fails authentication" "$out" "000000000099.segment.*fails authentication"
reset_region

# 5. A data object of set A swapped into set B under B's name (a genuine
# object, encrypted with the right key: its name in the GCM associated data
# gives it away at its first chunk).
obj="$(cd "$R/backup/$setB" && ls data | head -1)"
cp "$R/backup/$setA/data/$obj" "$R/backup/$setB/data/$obj"
out="$("$GEODR" --config "$cfg" verify shop "$setB" 2>&1)" && rc=0 || rc=$?
is "object swapped between sets: verify fails" "$rc" 1
like "... at authentication" "$out" "data/$obj.*authentication failed"
out="$(restore_to_dst --set "$setB")" && rc=0 || rc=$?
is "... restore fails" "$rc" 1
is "... and no row of set A reached the target" \
    "$(mdb_sql dst "SELECT COUNT(*) FROM d.t WHERE v LIKE 'a%'" 2>/dev/null || echo 0)" 0
mdb_sql dst "DROP DATABASE IF EXISTS d" >/dev/null
reset_region

# 6. A planted plaintext binlog segment (the forger's), chained after the
# genuine archive under the next counter, its record's sha256 recomputed.
glast="$(ls "$R"/binlog/*.segment | tail -1)"
gseq="$(python3 "$GDREPO" body "$glast" seq)"
gpos="$(python3 "$GDREPO" body "$glast" gtid_pos)"
nseq=$((gseq + 1))
frec="$(ls "$WORK"/forged/shop/binlog/*.segment | tail -1)"
fobj="$(python3 "$GDREPO" body "$frec" object)"
nname="$(printf '%012d' "$nseq")"
cp "$WORK/forged/shop/binlog/$fobj" "$R/binlog/$nname.binlog.zst"
cp "$frec" "$R/binlog/$nname.segment"
python3 "$GDREPO" forge "$R/binlog/$nname.segment" \
    "j['seq'] = $nseq; j['object'] = '$nname.binlog.zst'; j['prev_gtid_pos'] = '$gpos'"
out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "planted plaintext segment: verify fails" "$rc" 1
like "... not authenticated" "$out" "$nname.segment.*not authenticated"
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "... PITR restore refuses it" "$rc" 1
dst_clean "... and nothing was written to the target"
reset_region

# 7. The descriptor: a field edited with its sha256 recomputed; turned into
# format 1 (no MAC); "cipher": "none" (finding 3).
python3 "$GDREPO" forge "$R/instance.json" 'j["format1"] = {"last_set": "99991231T000000Z", "last_seq": 99}'
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "descriptor edited, sha256 recomputed: restore refuses" "$rc" 1
like "... it is not authenticated" "$out" "instance.json.*not authenticated"
out="$("$GEODR" --config "$cfg" backup shop 2>&1)" && rc=0 || rc=$?
is "... backup refuses too" "$rc" 1
reset_region
python3 - "$R/instance.json" "$GDREPO" <<'PY'
import json, sys, importlib.util
spec = importlib.util.spec_from_file_location("g", sys.argv[2]); g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)
j, _, _ = g.load(sys.argv[1]); j["version"] = 1; j.pop("format1", None)
open(sys.argv[1], "w").write(json.dumps(j, indent=2) + "\n")
PY
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "descriptor stripped to format 1: restore refuses" "$rc" 1
like "... the format 2 key check does not pass as format 1" "$out" "wrong key"
dst_clean "... and nothing was written to the target"
reset_region
python3 "$GDREPO" forge "$R/instance.json" 'j["cipher"] = "none"; j.pop("kdf"); j.pop("key-check")'
out="$("$GEODR" --config "$cfg" backup shop 2>&1)" && rc=0 || rc=$?
is "descriptor downgraded to cipher none: backup refuses" "$rc" 1
like "... saying why" "$out" "stored without encryption, but key-file is set"
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "... restore refuses" "$rc" 1
dst_clean "... and nothing was written to the target"
reset_region

rm "$R/instance.json"
out="$("$GEODR" --config "$cfg" backup shop 2>&1)" && rc=0 || rc=$?
is "descriptor removed: backup refuses to start a new one beside the old sets" "$rc" 1
like "... saying what to do" "$out" "holds backups of instance shop but no shop/instance.json"
is "... and wrote none" "$(ls "$R/instance.json" 2>/dev/null | wc -l)" 0
reset_region

# 8. verify without the key says that authenticity was not checked.
nkcfg="$WORK/nokey.conf"
write_config "$nkcfg" shop src "$WORK/region"
out="$("$GEODR" --config "$nkcfg" verify shop 2>&1)" && rc=0 || rc=$?
is "verify without the key passes the stored bytes" "$rc" 0
like "... and says authenticity was not checked" "$out" "authenticity.*NOT checked"

# 9. Format 1 (geodr 0.2's writing): readable with a warning.
mkdir -p "$WORK/v1root" && cp -a "$WORK/good" "$WORK/v1root/shop" && cp "$WORK/region/repo.json" "$WORK/v1root/"
python3 "$GDREPO" to-v1 "$WORK/v1root" shop "$WORK/key"
V1="$WORK/v1root/shop"
is "fixture: the descriptor is format 1" "$(python3 "$GDREPO" body "$V1/instance.json" version)" 1
like "fixture: records carry a sha256 trailer" "$(tail -1 "$V1/backup/$setA/manifest")" '^sha256 '
v1cfg="$WORK/v1.conf"
write_config "$v1cfg" shop src "$WORK/v1root" "$WORK/key"
out="$("$GEODR" --config "$v1cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "format 1: verify passes" "$rc" 0
like "... warning that it is not authenticated" "$out" "format 1.*NOT authenticated"
out="$("$GEODR" --config "$v1cfg" restore shop --latest --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "format 1: restore --latest works (set and segment of format 1)" "$rc" 0
like "... with the warning" "$out" "NOT authenticated"
is "... and restores the set's rows" "$(mdb_sql dst "SELECT COUNT(*) FROM d.t WHERE v LIKE 'b%'")" 3000
is "... and the archived row" "$(mdb_sql dst "SELECT v FROM d.t WHERE id = 5000")" genuine
mdb_sql dst "DROP DATABASE d" >/dev/null
# A copy region holding the format 1 instance too (as geodr 0.2 copied it).
cp -a "$WORK/v1root" "$WORK/v1far"
geodr_config_add "$v1cfg" "copy-regions = far" "cross-region-backup = on" "" "[region far]" \
    "type = posix" "path = $WORK/v1far"
check "format 1: copy to a format 1 copy region" "$GEODR" --config "$v1cfg" --quiet copy shop
# A plaintext set planted in a format 1 repository: its records cannot be
# told from genuine ones, but its objects are plaintext in an encrypted
# instance, and geodr never writes those.
cp -a "$WORK/forged/shop/backup/$fset" "$V1/backup/99991231T000000Z"
python3 "$GDREPO" forge "$V1/backup/99991231T000000Z/manifest" 'j["version"] = 1; j["set"] = "99991231T000000Z"'
out="$("$GEODR" --config "$v1cfg" restore shop --latest --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "format 1: a planted plaintext set is refused" "$rc" 1
like "... for its plaintext objects" "$out" "is not encrypted, but instance shop is"
dst_clean "... and nothing was written to the target"
rm -rf "$V1/backup/99991231T000000Z"
# The next backup moves the instance to format 2; the old sets stay
# readable (warned), a new unauthenticated set is refused.
cp "$V1/instance.json" "$WORK/v1.descriptor"
check "format 1: a backup moves it to format 2" "$GEODR" --config "$v1cfg" --quiet backup shop
is "... the descriptor is format 2" "$(python3 "$GDREPO" body "$V1/instance.json" version)" 2
is "... and names the last format 1 set" \
    "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["format1"]["last_set"])' "$(python3 "$GDREPO" body "$V1/instance.json")")" "$setB"
out="$("$GEODR" --config "$v1cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "... every set verifies" "$rc" 0
like "... the format 1 ones with the warning" "$out" "NOT authenticated"
check "... a copy brings the new set to the copy region" "$GEODR" --config "$v1cfg" --quiet copy shop
is "... whose descriptor is now the home region's format 2 one" \
    "$(cmp "$V1/instance.json" "$WORK/v1far/shop/instance.json" && echo same)" same
out="$("$GEODR" --config "$v1cfg" verify shop --region far 2>&1)" && rc=0 || rc=$?
is "... and every set verifies there" "$rc" 0
is "... all three of them" "$(grep -c ': OK$' <<<"$out")" 3
# The old format 1 descriptor put back (a bucket snapshot, a region writer):
# the next writer must not move the instance "again" and take the format 2
# sets for format 1 ones.
cp "$V1/instance.json" "$WORK/v2.descriptor"
cp "$WORK/v1.descriptor" "$V1/instance.json"
out="$("$GEODR" --config "$v1cfg" backup shop 2>&1)" && rc=0 || rc=$?
is "a format 1 descriptor put back after the move: backup refused" "$rc" 1
like "... saying the descriptor was replaced by an older one" "$out" "replaced by an older one"
cp "$WORK/v2.descriptor" "$V1/instance.json"
cp -a "$V1/backup/$setB" "$V1/backup/99991231T000000Z"
python3 "$GDREPO" forge "$V1/backup/99991231T000000Z/manifest" 'j["set"] = "99991231T000000Z"'
out="$("$GEODR" --config "$v1cfg" verify shop 99991231T000000Z 2>&1)" && rc=0 || rc=$?
is "... a format 1 set newer than the move is refused" "$rc" 1
like "... as not authenticated" "$out" "not authenticated"
rm -rf "$V1/backup/99991231T000000Z"

# The untouched repository restores (the refusals above were not a broken
# repository).
out="$(restore_to_dst --latest)" && rc=0 || rc=$?
is "the genuine repository restores --latest" "$rc" 0
is "... with the archived row" "$(mdb_sql dst "SELECT v FROM d.t WHERE id = 5000")" genuine
is "... and not the forged one" "$(mdb_sql dst "SELECT COUNT(*) FROM d.t WHERE id = 6666")" 0
tap_done
