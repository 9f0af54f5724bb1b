#!/bin/bash
# Round trip of every MariaDB column type and schema object: backup, then
# restore into an empty server, with and without encryption; CHECKSUM TABLE
# and SHOW CREATE must be equal.  Also: subsets and renames into an existing
# server, refusal to overwrite, --replace-existing, --new-instance.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_load src "$SQL_DIR/alltypes.sql" >/dev/null
mdb_load src "$SQL_DIR/bigblob.sql" >/dev/null
mdb_load src "$SQL_DIR/types_more.sql" >/dev/null
checksum_all src >"$WORK/src.sum"
values_all src >"$WORK/src.val"
show_create_all src >"$WORK/src.ddl"

for mode in plain encrypted; do
    key=""
    if [[ $mode == encrypted ]]; then
        key="$WORK/key"
        check "keygen writes a key file" "$GEODR" keygen "$key"
        is "key file has mode 600" "$(stat -c %a "$key")" "600"
    fi
    cfg="$WORK/$mode.conf"
    write_config "$cfg" shop src "$WORK/region-$mode" "$key"
    geodr_config_add "$cfg" "chunk-rows = 1000" "jobs = 3"

    check "$mode: backup" "$GEODR" --config "$cfg" --quiet backup shop
    set_id="$("$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')"
    like "$mode: info lists the set" "$set_id" '^[0-9]{8}T[0-9]{6}Z'
    big_chunks="$(python3 - "$WORK/region-$mode/shop/backup/$set_id/manifest" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
m = json.loads(text[:text.rstrip("\n").rindex("\n")])
print(max(len(t["chunks"]) for t in m["tables"]))
PY
)"
    like "$mode: the 20000-row table is split into several chunks" "$big_chunks" '^([2-9]|[1-9][0-9]+)$'
    if [[ $mode == encrypted ]]; then
        # no plaintext in the region
        if grep -rqa "Zürich" "$WORK/region-$mode"; then
            not_ok "$mode: stored objects hold no plaintext" "found a sample string"
        else
            ok "$mode: stored objects hold no plaintext"
        fi
    fi
    check "$mode: verify" "$GEODR" --config "$cfg" verify shop

    mdb_start "dst$mode"
    eval "port=\$DST${mode^^}_PORT"
    check "$mode: restore into an empty server, verified against the set's row digests" \
        "$GEODR" --config "$cfg" --quiet restore shop --latest --verify \
        --target "127.0.0.1:$port" --target-user root \
        --target-password-file "$WORK/dst$mode.pass" --jobs 3
    checksum_all "dst$mode" >"$WORK/dst$mode.sum"
    values_all "dst$mode" >"$WORK/dst$mode.val"
    show_create_all "dst$mode" >"$WORK/dst$mode.ddl"
    check "$mode: CHECKSUM TABLE equal for every table" diff "$WORK/src.sum" "$WORK/dst$mode.sum"
    check "$mode: every value equal in every table (history rows included)" diff "$WORK/src.val" "$WORK/dst$mode.val"
    check "$mode: SHOW CREATE equal for every object" diff "$WORK/src.ddl" "$WORK/dst$mode.ddl"

    out="$("$GEODR" --config "$cfg" restore shop --target "127.0.0.1:$port" --target-user root \
        --target-password-file "$WORK/dst$mode.pass" 2>&1)" && rc=0 || rc=$?
    is "$mode: restoring again is refused" "$rc" 1
    like "$mode: ... saying the target is not empty" "$out" "target is not empty: table .* already exists"
done

# Subsets and renames into the existing server dstplain.
cfg="$WORK/plain.conf"
check "subset: --tables with --rename" "$GEODR" --config "$cfg" --quiet restore shop \
    --target "127.0.0.1:$DSTPLAIN_PORT" --target-user root --target-password-file "$WORK/dstplain.pass" \
    --tables alltypes.ints,alltypes.big --rename alltypes=copy1
is "subset: exactly the chosen tables exist" \
    "$(mdb_sql dstplain "SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema='copy1'")" "big,ints"
is "subset: rows equal" \
    "$(mdb_sql dstplain "CHECKSUM TABLE copy1.big EXTENDED" | cut -f2)" \
    "$(mdb_sql src "CHECKSUM TABLE alltypes.big EXTENDED" | cut -f2)"
check "subset: --databases with --rename brings views and routines" "$GEODR" --config "$cfg" --quiet \
    restore shop --target "127.0.0.1:$DSTPLAIN_PORT" --target-user root \
    --target-password-file "$WORK/dstplain.pass" --databases alltypes --rename alltypes=copy2
is "subset: renamed database has the same checksums" \
    "$(checksum_all dstplain copy2 | sed 's/^copy2\./alltypes./')" "$(checksum_all src alltypes)"
is "subset: renamed database has its views" \
    "$(mdb_sql dstplain "SELECT COUNT(*) FROM information_schema.views WHERE table_schema='copy2'")" \
    "$(mdb_sql src "SELECT COUNT(*) FROM information_schema.views WHERE table_schema='alltypes'")"
mdb_sql dstplain "UPDATE copy1.ints SET id = id" >/dev/null
mdb_sql dstplain "DELETE FROM copy1.big LIMIT 10" >/dev/null
check "subset: --replace-existing drops and reloads" "$GEODR" --config "$cfg" --quiet restore shop \
    --target "127.0.0.1:$DSTPLAIN_PORT" --target-user root --target-password-file "$WORK/dstplain.pass" \
    --tables alltypes.big --rename alltypes=copy1 --replace-existing
is "subset: replaced table equals the backup" \
    "$(mdb_sql dstplain "CHECKSUM TABLE copy1.big EXTENDED" | cut -f2)" \
    "$(mdb_sql src "CHECKSUM TABLE alltypes.big EXTENDED" | cut -f2)"

# Users and grants travel with --with-users.
mdb_sql src "CREATE USER 'app'@'10.0.0.%' IDENTIFIED BY 'app-secret-pw';
GRANT SELECT, INSERT ON alltypes.* TO 'app'@'10.0.0.%';
GRANT SELECT (id) ON alltypes.ints TO 'app'@'10.0.0.%';" >/dev/null
check "users: backup --with-users" "$GEODR" --config "$cfg" --quiet backup shop --with-users
mdb_start users
check "users: restore --with-users" "$GEODR" --config "$cfg" --quiet restore shop \
    --target "127.0.0.1:$USERS_PORT" --target-user root --target-password-file "$WORK/users.pass" --with-users
is "users: grants equal" "$(mdb_sql users "SHOW GRANTS FOR 'app'@'10.0.0.%'" | sort)" \
    "$(mdb_sql src "SHOW GRANTS FOR 'app'@'10.0.0.%'" | sort)"
hash_sql="SELECT JSON_VALUE(Priv, '\$.authentication_string') FROM mysql.global_priv WHERE User='app'"
is "users: password hash equal" "$(mdb_sql users "$hash_sql")" "$(mdb_sql src "$hash_sql")"
if grep -rqa "app-secret-pw" "$WORK/region-plain"; then
    not_ok "users: no clear-text password in the repository"
else
    ok "users: no clear-text password in the repository"
fi

# Data and settings users have: more ENUM error values than a server lists
# warnings for, a date stored under ALLOW_INVALID_DATES, a source whose
# sql_mode has ANSI_QUOTES, a target that speaks German.
mdb_sql src "SET SESSION sql_mode = ''; CREATE DATABASE edge;
CREATE TABLE edge.en (id INT AUTO_INCREMENT PRIMARY KEY, e ENUM('a','b') NOT NULL, s SET('x','y'));
INSERT INTO edge.en (e, s) SELECT IF(seq % 3 = 0, 'a', 'zzz'), IF(seq % 2 = 0, 'x,y', '') FROM edge.seq_1_to_300;
SET SESSION sql_mode = 'ALLOW_INVALID_DATES';
CREATE TABLE edge.d (id INT PRIMARY KEY, d DATE, dt DATETIME); INSERT INTO edge.d VALUES (1, '2020-02-31', '2021-04-31 10:00:00');
SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',ANSI_QUOTES');" >/dev/null
check "edge: backup while the source's sql_mode has ANSI_QUOTES" "$GEODR" --config "$cfg" --quiet backup shop
mdb_sql src "SET GLOBAL sql_mode = DEFAULT" >/dev/null
mdb_start edge
mdb_sql edge "SET GLOBAL lc_messages = 'de_DE'" >/dev/null
check "edge: restore into a German-speaking target" "$GEODR" --config "$cfg" --quiet restore shop \
    --databases edge --target "127.0.0.1:$EDGE_PORT" --target-user root --target-password-file "$WORK/edge.pass"
is "edge: 200 ENUM error values, SETs and invalid-but-allowed dates come back" \
    "$(checksum_all edge edge)" "$(checksum_all src edge)"

# A new instance provisioned by geodr.
nport="$(free_port)"
out="$("$GEODR" --config "$cfg" --quiet restore shop --new-instance "$WORK/newinst" --port "$nport" 2>&1)" && rc=0 || rc=$?
is "new instance: restore succeeds" "$rc" 0
on_exit "mariadb-admin --defaults-file='$WORK/newinst/client.cnf' shutdown >/dev/null 2>&1 || true"
like "new instance: prints how to connect" "$out" "mariadb --defaults-file=.*client.cnf"
is "new instance: client.cnf is private" "$(stat -c %a "$WORK/newinst/client.cnf")" "600"
got="$(mariadb --defaults-file="$WORK/newinst/client.cnf" --batch -N -e "CHECKSUM TABLE alltypes.big, bigblob.blobs EXTENDED")"
want="$(mdb_sql src "CHECKSUM TABLE alltypes.big, bigblob.blobs EXTENDED")"
is "new instance: data equal" "$got" "$want"
mariadb-admin --defaults-file="$WORK/newinst/client.cnf" shutdown >/dev/null 2>&1 || true

tap_done
