#!/bin/bash
# A region is not trusted (issue 10): content an attacker or a broken tool
# wrote there ends in a clean error within seconds, with nothing written to
# any server and no crash.  Cases: an encrypted instance's descriptor turned
# to "cipher": "none" (a downgrade to plaintext), scrypt parameters that
# would spin for hours, a manifest whose column name is not a string.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL); INSERT INTO d.t VALUES (1,'a');" >/dev/null
mdb_start dst
cfg="$WORK/geodr.conf"
write_key "$WORK/key"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
desc="$WORK/region/shop/instance.json"
cp "$desc" "$WORK/instance.json.good"
mf="$(ls "$WORK"/region/shop/backup/*/manifest)"
cp "$mf" "$WORK/manifest.good"
sets() { ls "$WORK/region/shop/backup" | wc -l; }
nsets="$(sets)"
dst_dbs() { mdb_sql dst "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'd'"; }

# edit_json FILE PYTHON: run PYTHON on the parsed JSON `j` of FILE, keeping
# its trailer valid: a sha256 anyone can recompute, a MAC with the key (the
# cases below are about what geodr does with a malformed record, not about
# its authentication: tests/integration/authenticity.sh).
edit_json() {
    python3 "$GEODR_SRC/tests/integration/tools/gdrepo.py" edit "$WORK/region" "$1" "$2" "$WORK/key"
}

# 1. Downgrade: the descriptor says "none", the config has a key.
edit_json "$desc" 'j["cipher"] = "none"; j.pop("kdf", None); j.pop("key-check", None)'
out="$("$GEODR" --config "$cfg" backup shop 2>&1)" && rc=0 || rc=$?
is "downgraded descriptor: backup refused" "$rc" 1
like "... saying why and what to do" "$out" "stored without encryption, but key-file is set.*refusing"
is "... and no set was written" "$(sets)" "$nsets"
is "... and no unencrypted object was written" "$(find "$WORK/region" -name '*.zst' | wc -l)" 0
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$DST_PORT" --target-user root \
    --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "downgraded descriptor: restore refused" "$rc" 1
is "... and nothing was written to the target" "$(dst_dbs)" 0
cp "$WORK/instance.json.good" "$desc"

# 2. scrypt parameters that would run for hours.
edit_json "$desc" 'j["kdf"]["p"] = 1000000'
t0=$SECONDS
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$DST_PORT" --target-user root \
    --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "scrypt p = 1000000: restore fails" "$rc" 1
like "... saying the parameters would take too long" "$out" "would take too long"
if ((SECONDS - t0 < 10)); then ok "... within 10 s"; else not_ok "... within 10 s" "took $((SECONDS - t0)) s"; fi
is "... and nothing was written to the target" "$(dst_dbs)" 0
cp "$WORK/instance.json.good" "$desc"

# 3. A column name that is not a string (crashed restore before).
edit_json "$mf" 'j["tables"][0]["columns"][0] = 5'
out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
is "a non-string column name: verify fails" "$rc" 1
like "... naming the table" "$out" 'table `d`.`t`: column 1 of its list is not a name'
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$DST_PORT" --target-user root \
    --target-password-file "$WORK/dst.pass" 2>&1)" && rc=0 || rc=$?
is "... restore fails cleanly (no crash)" "$rc" 1
is "... and nothing was written to the target" "$(dst_dbs)" 0
cp "$WORK/manifest.good" "$mf"
check "the untouched region restores" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"

# A segment record of 20 MiB (they are a few hundred bytes): refused at its
# size, quickly, not read into memory by the dozen.
"$GEODR" --config "$cfg" --quiet archive shop --idle-exit 2 >/dev/null 2>&1 &
apid=$!
sleep 1
mdb_sql src "INSERT INTO d.t VALUES (2,'b')" >/dev/null
wait "$apid" || true
rec="$(ls "$WORK"/region/shop/binlog/*.segment 2>/dev/null | tail -1)"
if [[ -n "$rec" ]]; then
    cp "$rec" "$WORK/record.good"
    head -c $((20 * 1024 * 1024)) /dev/zero >"$rec"
    t0=$SECONDS
    out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
    is "a 20 MiB segment record: verify fails" "$rc" 1
    if ((SECONDS - t0 < 10)); then ok "... within 10 s"; else not_ok "... within 10 s" "took $((SECONDS - t0)) s"; fi
    like "... naming the record as too large" "$out" "$(basename "$rec").*(larger|too large|limit)"
    cp "$WORK/record.good" "$rec"
    # A record that points its object elsewhere (expire removes by it) or
    # says a counter its name does not: refused, nothing removed.
    set1="$(ls "$WORK/region/shop/backup" | sed -n 1p)"
    for edit in "j['object'] = '../backup/$set1/manifest'" "j['seq'] = -1" \
        "j['first_seq'] = 0; j['seq'] = 999999"; do
        edit_json "$rec" "$edit"
        out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
        is "segment record with $edit: verify fails" "$rc" 1
        like "... naming the record" "$out" "$(basename "$rec")"
        out="$(GEODR_NOW=$(($(date +%s) + 400 * 86400)) "$GEODR" --config "$cfg" expire shop 2>&1)" || true
        ok "... and expire removed no set through it" test -f "$WORK/region/shop/backup/$set1/manifest"
        cp "$WORK/record.good" "$rec"
    done
    # A planted empty record whose name "covers" every counter: compaction's
    # pruning must not take it for a merge and delete the real segments.
    nseg_before="$(ls "$WORK"/region/shop/binlog/ | wc -l)"
    planted="$WORK/region/shop/binlog/000000000001-999999999999.segment"
    : >"$planted"
    touch -d '3 hours ago' "$planted"
    "$GEODR" --config "$cfg" --quiet compact shop --min-segments 1000 --grace 0 >"$WORK/planted.out" 2>&1 || true
    rm -f "$planted"
    is "a planted covering record: compaction removed no segment" \
        "$(ls "$WORK"/region/shop/binlog/ | wc -l)" "$nseg_before"
    check "... and the archive verifies" "$GEODR" --config "$cfg" --quiet verify shop
else
    not_ok "a 20 MiB segment record: the archive wrote a record to replace" "$(ls -R "$WORK/region/shop")"
fi

# An empty copy region is "empty", not behind by 56 years; an instance
# without a set does not verify as OK.
mkdir -p "$WORK/far"
cfg2="$WORK/copy.conf"
cp "$cfg" "$cfg2"
geodr_config_add "$cfg2" "copy-regions = far" "cross-region-backup = on" "" "[region far]" \
    "type = posix" "path = $WORK/far"
out="$("$GEODR" --config "$cfg2" info shop 2>&1)"
like "info: an empty copy region holds no backup set yet" "$out" "copy region far: holds no backup set yet"
unlike "... and is not called behind by decades" "$out" "behind home by [0-9]{6,} s"
is "info --json: its set lag is unknown (null)" \
    "$("$GEODR" --config "$cfg2" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["copies"][0]["lag"]["sets_seconds"])')" None
mkdir -p "$WORK/empty"
write_config "$WORK/empty.conf" shop src "$WORK/empty" "$WORK/key"
"$GEODR" --config "$WORK/empty.conf" --quiet archive shop --idle-exit 1 >/dev/null 2>&1 || true
out="$("$GEODR" --config "$WORK/empty.conf" verify shop 2>&1)" && rc=0 || rc=$?
is "verify of an instance without a backup set fails" "$rc" 1
like "... saying there is nothing to restore from" "$out" "has no backup set: nothing to verify or to restore from"
tap_done
