#!/bin/bash
# Corruption: one flipped byte in any stored object makes verify and restore
# fail naming that object (plain and encrypted repositories); a truncated
# object too.  The untouched repository restores fine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_start dst
mdb_sql src "CREATE DATABASE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(255) NOT NULL) ENGINE=InnoDB;
INSERT INTO shop.items SELECT seq, REPEAT(MD5(seq), 3) FROM shop.seq_1_to_30000;
CREATE TABLE shop.small (id INT PRIMARY KEY, note TEXT);
INSERT INTO shop.small VALUES (1, 'one'), (2, 'two');" >/dev/null

flip() { # flip FILE OFFSET_FRACTION
    python3 - "$1" "$2" <<'PY'
import sys
p, frac = sys.argv[1], float(sys.argv[2])
b = bytearray(open(p, "rb").read())
i = min(len(b) - 1, int(len(b) * frac))
b[i] ^= 0x01
open(p, "wb").write(bytes(b))
PY
}

n=0
for mode in plain encrypted; do
    cfg="$WORK/$mode.conf"
    region="$WORK/region-$mode"
    key=""
    if [[ $mode == encrypted ]]; then key="$WORK/key"; write_key "$key"; fi
    write_config "$cfg" shop src "$region" "$key"
    geodr_config_add "$cfg" "chunk-rows = 10000"
    check "$mode: backup" "$GEODR" --config "$cfg" --quiet backup shop
    set_dir="$(find "$region/shop/backup" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)"
    mapfile -t objs < <(cd "$set_dir" && find . -type f ! -name manifest | sed 's|^\./||' | sort)
    objs+=(manifest)
    for obj in "${objs[@]}"; do
        for where in 0.02 0.5 0.999; do
            cp -a "$set_dir" "$WORK/pristine"
            flip "$set_dir/$obj" "$where"
            out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
            is "$mode: byte flipped at $where of $obj: verify fails" "$rc" 1
            like "$mode: ... naming $obj" "$out" "${obj//./\\.}"
            n=$((n + 1))
            out="$("$GEODR" --config "$cfg" --quiet restore shop --target "127.0.0.1:$DST_PORT" \
                --target-user root --target-password-file "$WORK/dst.pass" --rename "shop=r$n" 2>&1)" && rc=0 || rc=$?
            is "$mode: byte flipped at $where of $obj: restore fails" "$rc" 1
            like "$mode: ... naming $obj" "$out" "${obj//./\\.}"
            rm -rf "$set_dir"
            mv "$WORK/pristine" "$set_dir"
        done
    done
    # a truncated data object
    obj="${objs[0]}"
    cp -a "$set_dir" "$WORK/pristine"
    truncate -s -7 "$set_dir/$obj"
    out="$("$GEODR" --config "$cfg" verify shop 2>&1)" && rc=0 || rc=$?
    is "$mode: truncated $obj: verify fails" "$rc" 1
    like "$mode: ... naming it" "$out" "${obj//./\\.}"
    rm -rf "$set_dir"
    mv "$WORK/pristine" "$set_dir"
    check "$mode: the untouched set verifies" "$GEODR" --config "$cfg" --quiet verify shop
    n=$((n + 1))
    check "$mode: the untouched set restores" "$GEODR" --config "$cfg" --quiet restore shop \
        --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" --rename "shop=ok$n"
    is "$mode: ... with equal data" "$(mdb_sql dst "CHECKSUM TABLE ok$n.items EXTENDED" | cut -f2)" \
        "$(mdb_sql src 'CHECKSUM TABLE shop.items EXTENDED' | cut -f2)"
done
tap_done
