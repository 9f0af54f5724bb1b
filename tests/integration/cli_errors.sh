#!/bin/bash
# Every bad input gives a clear error and changes nothing: a malformed or
# missing config, unknown names (--region too), a home region lost or
# unreadable, no geodr server for status (and TLS to it), an unreachable
# server, a wrong password, a missing privilege, a non-empty target, a wrong
# or missing key, a missing set, --time, usage errors, keygen over an
# existing file, --json failures.
#
# A failure must print exactly one line on stderr, "geodr: error: ...",
# saying what went wrong and what to do, nothing on stdout (except the JSON
# object with --json), and exit 1. A usage error prints the usage message
# (or "geodr CMD: ..." plus a pointer to --help) and exits 2. No failure may
# write to the region or to the target server, and no output of the whole
# test may contain a password or a key passphrase.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
require_cmd python3 timeout
tmpdir_new

OUT="$WORK/out"     # every captured stdout/stderr, for the secrets check
mkdir -p "$OUT"
_run_n=0

_run_diag() {
    printf 'command: %s\nexit status: %s (expected %s)\nstdout: %s\nstderr: %s' \
        "$RUN_CMD" "$RUN_RC" "$1" "$(printf '%s' "$RUN_OUT" | head -c 2000)" \
        "$(printf '%s' "$RUN_ERR" | head -c 2000)"
}

# fails NAME REGEX CMD...: one TAP test: CMD exits 1, prints nothing on
# stdout and exactly one line on stderr, "geodr: error: " followed by text
# that matches REGEX (bash ERE).
fails() {
    local name="$1" re="$2" why=""
    shift 2
    run "$@"
    [[ $RUN_RC -eq 1 ]] || why+="exit status is not 1; "
    [[ -z $RUN_OUT ]] || why+="stdout is not empty; "
    [[ $RUN_ERR != *$'\n'* ]] || why+="stderr has more than one line; "
    [[ $RUN_ERR == "geodr: error: "* ]] || why+="stderr does not start with 'geodr: error: '; "
    [[ $RUN_ERR =~ $re ]] || why+="message does not match /$re/; "
    if [[ -z $why ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf '%s\n' "$why"; _run_diag 1)"
    fi
}

# usage_fails NAME REGEX CMD...: one TAP test: CMD exits 2, prints nothing on
# stdout, and stderr is the usage message or "geodr CMD: ..." and matches
# REGEX.
usage_fails() {
    local name="$1" re="$2" why=""
    shift 2
    run "$@"
    [[ $RUN_RC -eq 2 ]] || why+="exit status is not 2; "
    [[ -z $RUN_OUT ]] || why+="stdout is not empty; "
    [[ $RUN_ERR =~ ^(usage:\ geodr|geodr(\ [a-z]+)?:\ ) ]] || why+="stderr is not a usage message; "
    [[ $RUN_ERR =~ $re ]] || why+="message does not match /$re/; "
    if [[ -z $why ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf '%s\n' "$why"; _run_diag 2)"
    fi
}

# region_state DIR: every file with size and mtime, every directory.
region_state() {
    [[ -d "$1" ]] || { echo "(absent)"; return; }
    find "$1" -mindepth 1 \( -type d -printf 'd %P\n' \) -o -printf '%y %P %s %T@\n' | LC_ALL=C sort
}

# schemata NAME: the databases of server NAME, comma-separated.
schemata() { mdb_sql "$1" "SELECT COUNT(*), GROUP_CONCAT(schema_name ORDER BY schema_name) FROM information_schema.schemata"; }

# ---------------------------------------------------------------- set up --

mdb_start src
mdb_start dst
mdb_sql src "CREATE DATABASE shopdb;
    CREATE TABLE shopdb.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT);
    INSERT INTO shopdb.orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', 7);"

REGION="$WORK/region"
KEYA="$WORK/keyA"
KEYB="$WORK/keyB"
run "$GEODR" keygen "$KEYA"
is "keygen writes key A" "$RUN_RC" 0
run "$GEODR" keygen "$KEYB"
is "keygen writes key B" "$RUN_RC" 0
KEYA_PASS="$(head -n 1 "$KEYA")"
KEYB_PASS="$(head -n 1 "$KEYB")"

CFG="$WORK/geodr.conf"
write_config "$CFG" shop src "$REGION" "$KEYA"
run "$GEODR" --config "$CFG" --quiet backup shop
is "backup with key A" "$RUN_RC" 0
last_ok || bail_out "no backup to restore from: $RUN_ERR"
SET_ID="$(ls "$REGION/shop/backup")"
like "one backup set" "$SET_ID" '^[0-9]{8}T[0-9]{6}Z$'
REGION_STATE="$(region_state "$REGION")"

TARGET=(--target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$DST_PASSFILE")
DST_SCHEMATA="$(schemata dst)"

# ------------------------------------------------------ malformed config --

NEVER="$WORK/never-created"     # region path of the broken configs
bad_config() {  # bad_config FILE LINE...: a valid config with LINE... appended
    local f="$1"
    shift
    geodr_config "$f" "[region home]" "type = posix" "path = $NEVER" "" \
        "[instance shop]" "host = 127.0.0.1" "port = $SRC_PORT" "user = root" \
        "password-file = $SRC_PASSFILE" "home-region = home" "$@"
}
bad_config "$WORK/noeq.conf" "jobs 3"
fails "config: a line without '=' names file and line" \
    "noeq\.conf:11: .*expected 'key = value'" "$GEODR" --config "$WORK/noeq.conf" backup shop
bad_config "$WORK/unknown.conf" "prot = 3306"
fails "config: an unknown key names file, line, key and the valid keys" \
    "unknown\.conf:11: unknown key 'prot' in \[instance shop\].*(did you mean 'port'|valid keys are: .*port)" \
    "$GEODR" --config "$WORK/unknown.conf" backup shop
bad_config "$WORK/range.conf" "retention-days = 90"
fails "config: retention out of range names file, line and the range" \
    "range\.conf:11: retention-days = 90: .*1-35" "$GEODR" --config "$WORK/range.conf" backup shop
fails "config: a missing --config file is named, with what to do" \
    "cannot read config $WORK/missing\.conf: No such file or directory \(pass --config FILE or set GEODR_CONFIG\)" \
    "$GEODR" --config "$WORK/missing.conf" backup shop
fails "config: a missing \$GEODR_CONFIG file is named, with what to do" \
    "cannot read config $WORK/missing-env\.conf: No such file or directory .*(--config|GEODR_CONFIG)" \
    env GEODR_CONFIG="$WORK/missing-env.conf" "$GEODR" backup shop
is "config: a broken config creates no region directory" "$(region_state "$NEVER")" "(absent)"

# ------------------------------------------------------------ bad names --

fails "unknown instance: named, with the configured ones" \
    "unknown instance 'nope' \(configured: shop\)" "$GEODR" --config "$CFG" backup nope
# --region names a region of the config: every command that reads one
# refuses an unknown name as a usage error listing the instance's regions
usage_fails "restore --region unknown: named, with the instance's regions" \
    "^geodr restore: unknown region 'nope' \(instance shop's regions: home \(home\)\)" \
    "$GEODR" --config "$CFG" restore shop --region nope "${TARGET[@]}"
usage_fails "info --region unknown: named, with the instance's regions" \
    "^geodr info: unknown region 'nope' \(instance shop's regions: home \(home\)\)" \
    "$GEODR" --config "$CFG" info shop --region nope
usage_fails "info --region unknown without an instance: named, with the configured regions" \
    "^geodr info: unknown region 'nope' \(configured: home\)" \
    "$GEODR" --config "$CFG" info --region nope
usage_fails "verify --region unknown" "^geodr verify: unknown region 'nope' \(instance shop's" \
    "$GEODR" --config "$CFG" verify shop --region nope
usage_fails "cat --region unknown" "^geodr cat: unknown region 'nope' \(instance shop's" \
    "$GEODR" --config "$CFG" cat shop repo.json --region nope
usage_fails "expire --set --region unknown" "^geodr expire: unknown region 'nope' \(instance shop's" \
    "$GEODR" --config "$CFG" expire shop --set "$SET_ID" --region nope

# ------------------------------------------- the home region lost or empty --

# The home region "lost" is an empty directory (its disk lost, or an empty
# bucket prefix); the region holding the set is now a copy region.
sed -e "s/^home-region = home/home-region = lost\ncopy-regions = home/" "$CFG" >"$WORK/lost.conf"
geodr_config_add "$WORK/lost.conf" "" "[region lost]" "type = posix" "path = $WORK/lost-home"
run "$GEODR" --config "$WORK/lost.conf" info shop
is "info, home region empty: exit 0" "$RUN_RC" 0
like "... says the home region holds no repository for the instance" "$RUN_OUT" \
    "home region lost holds no repository for instance shop"
unlike "... not 'no backup sets yet'" "$RUN_OUT" "no backup sets yet"
is "... and creates nothing where the home region should be" \
    "$(if [[ -e $WORK/lost-home ]]; then echo "$WORK/lost-home created"; else echo none; fi)" none
like "... and that the copy region holds the set, with --region" "$RUN_OUT" \
    "copy region home holds 1 backup sets: see them with 'geodr info shop --region home'"
run "$GEODR" --config "$WORK/lost.conf" --json info shop
is "info --json, home region empty: \"repository\": false, the copy's true" "$(python3 -c '
import json, sys
i = json.loads(sys.stdin.read())["instances"][0]
print(i["repository"], i["sets"], i["copies"][0]["repository"], len(i["copies"][0]["sets"]))' <<<"$RUN_OUT")" \
    "False [] True 1"
run "$GEODR" --config "$WORK/lost.conf" info shop --region home
is "info --region: the copy region's view, exit 0" "$RUN_RC" 0
like "... lists its set, the key configured" "$RUN_OUT" \
    "region home \(not its home region; home region lost\), encryption on.*$SET_ID"
run "$GEODR" --config "$WORK/lost.conf" --json info shop --region home
is "info --region --json: that region's sets, authenticated" "$(python3 -c '
import json, sys
i = json.loads(sys.stdin.read())["instances"][0]
print(i["region"], i["home_region"], [s["set"] for s in i["sets"]], i["authenticated"], i["copies"])' <<<"$RUN_OUT")" \
    "home lost ['$SET_ID'] True []"
: >"$WORK/not-a-dir"
sed "s|^path = $WORK/lost-home|path = $WORK/not-a-dir/x|" "$WORK/lost.conf" >"$WORK/unreadable.conf"
fails "info, home region unreadable: an error naming the region" \
    "cannot read region lost of instance shop" "$GEODR" --config "$WORK/unreadable.conf" info shop

# ------------------------------------------------------------ geodr status --

STATUS_PORT="$(free_port)"
(umask 077; echo "status-token-0123456789abcdef" >"$WORK/api-token")
cp "$CFG" "$WORK/status.conf"
geodr_config_add "$WORK/status.conf" "" "[server]" "listen = 127.0.0.1:$STATUS_PORT" \
    "token-file = $WORK/api-token"
fails "status without a server: none answers, with how to start it" \
    "no geodr server answers on 127\.0\.0\.1:$STATUS_PORT: start it with 'geodr server' or 'systemctl start geodr'" \
    "$GEODR" --config "$WORK/status.conf" status
fails "status without [server] token-file: says what to set" \
    "no \[server\] token-file" "$GEODR" --config "$CFG" status
if command -v openssl >/dev/null 2>&1; then
    # over TLS: the server's certificate verifies against tls-cert-file as
    # the CA, and another one is refused naming that file (the instance of
    # this server is down: the server only needs to answer)
    for c in api other; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/$c.key" -out "$WORK/$c.crt" >/dev/null 2>&1
    done
    TLS_PORT="$(free_port)"
    geodr_config "$WORK/tls-server.conf" "[region ghost]" "type = posix" "path = $WORK/ghost-region" \
        "" "[instance ghost]" "host = 127.0.0.1" "port = $(free_port)" "user = root" \
        "password-file = $SRC_PASSFILE" "home-region = ghost" "" "[server]" \
        "listen = 127.0.0.1:$TLS_PORT" "token-file = $WORK/api-token" "state-dir = $WORK/ghost-state" \
        "tls-cert-file = $WORK/api.crt" "tls-key-file = $WORK/api.key"
    "$GEODR" --config "$WORK/tls-server.conf" server >"$WORK/tls-server.log" 2>&1 &
    TLS_PID=$!
    on_exit "kill -9 $TLS_PID 2>/dev/null || true"
    wait_for 20 curl -sf --cacert "$WORK/api.crt" "https://127.0.0.1:$TLS_PORT/health" ||
        note "the TLS server did not start: $(tail -n 3 "$WORK/tls-server.log")"
    run "$GEODR" --config "$WORK/tls-server.conf" status
    is "status over TLS: exit 0" "$RUN_RC" 0
    like "... the server's instance" "$RUN_OUT" "instance ghost"
    sed "s|^tls-cert-file = .*|tls-cert-file = $WORK/other.crt|" "$WORK/tls-server.conf" >"$WORK/tls-other.conf"
    fails "status over TLS, another certificate: refused, naming tls-cert-file" \
        "TLS to the geodr server on 127\.0\.0\.1:$TLS_PORT failed .*tls-cert-file $WORK/other\.crt" \
        "$GEODR" --config "$WORK/tls-other.conf" status
    kill -TERM "$TLS_PID"
    wait "$TLS_PID" || true
else
    skip "status over TLS" "no openssl"
fi

# ------------------------------------------------ connection and access --

NOPORT="$(free_port)"
sed "s/^port = .*/port = $NOPORT/" "$CFG" >"$WORK/unreach.conf"
fails "unreachable server: 'cannot connect' with host:port" \
    "cannot connect .*127\.0\.0\.1:$NOPORT" "$GEODR" --config "$WORK/unreach.conf" backup shop
if python3 -c "import sys; sys.exit(0 if $RUN_SECS < 15 else 1)"; then
    ok "unreachable server: fails within 15 s ($RUN_SECS s)"
else
    not_ok "unreachable server: fails within 15 s" "took $RUN_SECS s"
fi

WRONG_PASS="wrongPw$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
(umask 077; printf '%s\n' "$WRONG_PASS" >"$WORK/wrong.pass")
sed "s|^password-file = .*|password-file = $WORK/wrong.pass|" "$CFG" >"$WORK/wrongpw.conf"
fails "wrong password: access denied, pointing at the password file" \
    "[Aa]ccess denied.*password" "$GEODR" --config "$WORK/wrongpw.conf" backup shop
# docs/configuration.md, "Secrets": error messages name the file or variable
# that holds a secret.
like "wrong password: the message names the password file" "$RUN_ERR" "$WORK/wrong\.pass"
if [[ "$RUN_OUT$RUN_ERR" == *"$WRONG_PASS"* ]]; then
    not_ok "wrong password: the password is not printed"
else
    ok "wrong password: the password is not printed"
fi

RO_PASS="ro$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
mdb_sql src "CREATE USER 'ro'@'%' IDENTIFIED BY '$RO_PASS'; GRANT SELECT ON *.* TO 'ro'@'%';"
(umask 077; printf '%s\n' "$RO_PASS" >"$WORK/ro.pass")
sed -e "s|^password-file = .*|password-file = $WORK/ro.pass|" -e "s/^user = .*/user = ro/" \
    "$CFG" >"$WORK/ro.conf"
fails "missing privilege: names the privilege and where to find the GRANT" \
    "RELOAD.*(docs/privileges\.md|GRANT )" "$GEODR" --config "$WORK/ro.conf" backup shop
doc="$(grep -oE 'docs/[A-Za-z0-9_.-]+\.md' <<<"$RUN_ERR" | head -n 1 || true)"
if [[ -z $doc || -f "$GEODR_SRC/$doc" ]]; then
    ok "missing privilege: the document the message points at exists (${doc:-none})"
else
    not_ok "missing privilege: the document the message points at exists" \
        "the message points at $doc, which is not in $GEODR_SRC"
fi

is "failed backups wrote nothing to the region" "$(region_state "$REGION")" "$REGION_STATE"

# ------------------------------------------------------- restore errors --

write_config "$WORK/keyb.conf" shop src "$REGION" "$KEYB"
fails "wrong key: refused, naming the key-file" \
    "(wrong key|does not match).*$KEYB|$KEYB.*(wrong key|does not match)" \
    "$GEODR" --config "$WORK/keyb.conf" restore shop "${TARGET[@]}"
like "wrong key: ... and saying to check key-file" "$RUN_ERR" "key-file"
is "wrong key: no database created in the target" "$(schemata dst)" "$DST_SCHEMATA"

write_config "$WORK/nokey.conf" shop src "$REGION"
fails "encrypted repository, no key-file: says to set key-file" \
    "encrypted.*set key-file" "$GEODR" --config "$WORK/nokey.conf" restore shop "${TARGET[@]}"
is "no key-file: no database created in the target" "$(schemata dst)" "$DST_SCHEMATA"

fails "restore --set NONEXISTENT: the set does not exist" \
    "backup set NONEXISTENT .*does not exist.*geodr info" \
    "$GEODR" --config "$CFG" restore shop --set NONEXISTENT "${TARGET[@]}"
fails "restore --time outside the recovery window: says so and what the restore points are" \
    "restore time 2026-01-01 00:00:00 UTC is outside the recovery window.*geodr archive.*backup sets end at" \
    "$GEODR" --config "$CFG" restore shop --time '2026-01-01 00:00:00' "${TARGET[@]}"
usage_fails "restore --time with a malformed time" \
    "--time 'yesterday': expected 'YYYY-MM-DD HH:MM:SS" \
    "$GEODR" --config "$CFG" restore shop --time 'yesterday' "${TARGET[@]}"
is "failed restores: no database created in the target" "$(schemata dst)" "$DST_SCHEMATA"
run "$GEODR" --config "$CFG" restore shop --dry-run --replay-host 0.0.0.0 "${TARGET[@]}"
like "--replay-host 0.0.0.0 warns that the binlog server is reachable from the network" "$RUN_ERR" \
    "warning: --replay-host 0.0.0.0: the binlog server will be reachable from every network.*one-time user and a random password"

run "$GEODR" --config "$CFG" --quiet restore shop "${TARGET[@]}"
is "restore into the empty target" "$RUN_RC" 0
DST_SUM="$(mdb_sql dst "CHECKSUM TABLE shopdb.orders EXTENDED")"
is "restored data equals the source" "$DST_SUM" "$(mdb_sql src "CHECKSUM TABLE shopdb.orders EXTENDED")"
DST_SCHEMATA="$(schemata dst)"
fails "restore twice: target is not empty, with what to do" \
    "target is not empty: table shopdb\.orders already exists.*(--rename|--replace-existing)" \
    "$GEODR" --config "$CFG" restore shop "${TARGET[@]}"
is "restore twice: the target's data is unchanged" \
    "$(mdb_sql dst "CHECKSUM TABLE shopdb.orders EXTENDED")" "$DST_SUM"
is "restore twice: no database created in the target" "$(schemata dst)" "$DST_SCHEMATA"

# ------------------------------------------- the dry run: restore precheck --
# (docs/backup-restore.md "Dry run: the restore precheck"): every check
# printed, the failed ones named with what to do, nothing written.
checks() { # the "state name" of each check printed by the last run
    awk '/^  (ok|FAILED|-) /{print $1, $2}' <<<"$RUN_OUT" | tr '\n' ' '
}
run "$GEODR" --config "$CFG" restore shop --dry-run --verify-objects --rename shopdb=shopdb_pre "${TARGET[@]}"
is "precheck into a server, renamed: passes" "$RUN_RC" 0
is "... every check printed (room cannot be known over SQL)" "$(checks)" \
    "ok point ok set ok objects ok binlog ok target ok empty - room "
like "... the objects were read back" "$RUN_OUT" "objects +the 1 objects of set $SET_ID read back"
like "... and what the restore writes there, to check by hand" "$RUN_OUT" "room +not checked: .*writes about"
run "$GEODR" --config "$CFG" restore shop --dry-run "${TARGET[@]}"
is "precheck into a server that holds the table: fails" "$RUN_RC" 1
is "... on the empty check only" "$(checks)" "ok point ok set ok objects ok binlog ok target FAILED empty - room "
like "... one error line naming the check and what to do" "$RUN_ERR" \
    "^geodr: error: the restore precheck failed \(empty\): target is not empty: table shopdb\.orders already exists.*--replace-existing"
run "$GEODR" --config "$CFG" restore shop --dry-run --time '2026-01-01 00:00:00' "${TARGET[@]}"
is "precheck to a point outside the window: fails" "$RUN_RC" 1
is "... the point fails; what needs a plan is not run, the target is still checked" "$(checks)" \
    "FAILED point - set - objects - binlog ok target - empty - room "
like "... printing the recovery window" "$RUN_OUT" "point +restore time 2026-01-01 00:00:00 UTC is outside the recovery window"
run "$GEODR" --json --config "$CFG" restore shop --dry-run --time '2026-01-01 00:00:00' "${TARGET[@]}"
is "--json: the API's answer (Passed, each check's Name and Passed)" "$(python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print(d["Passed"], [(c["Name"], c["Passed"]) for c in d["Checks"]][:5], d["DBInstanceId"], d["RegionId"])' <<<"$RUN_OUT" 2>&1)" \
    "False [('point', False), ('set', None), ('objects', None), ('binlog', None), ('target', True)] shop home"
is "prechecks wrote nothing to the target" "$(schemata dst)" "$DST_SCHEMATA"

# a damaged and a missing object, in a copy of the region
cp -a "$REGION" "$WORK/region-bad"
write_config "$WORK/bad.conf" shop src "$WORK/region-bad" "$KEYA"
chunk="$(find "$WORK/region-bad/shop/backup/$SET_ID" -type f -name '*.zst*' ! -name 'schema*' | head -n 1)"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(40); b = f.read(1); f.seek(40); f.write(bytes([b[0] ^ 0xff]))' "$chunk" # always a change
run "$GEODR" --config "$WORK/bad.conf" restore shop --dry-run --rename shopdb=shopdb_pre "${TARGET[@]}"
is "a damaged object of the same size: the listing does not see it" "$RUN_RC" 0
run "$GEODR" --config "$WORK/bad.conf" restore shop --dry-run --verify-objects --rename shopdb=shopdb_pre "${TARGET[@]}"
is "--verify-objects: the damaged object fails the precheck" "$(checks)" \
    "ok point ok set FAILED objects ok binlog ok target ok empty - room "
like "... naming it and what to do" "$RUN_ERR" \
    "precheck failed \(objects\): 1 of the 1 objects of set $SET_ID .* damaged in region home: table shopdb\.orders, object data/[^:]*: .*restore another set or from another region"
rm -f "$chunk"
run "$GEODR" --config "$WORK/bad.conf" restore shop --dry-run --rename shopdb=shopdb_pre "${TARGET[@]}"
like "a missing object: named without reading anything" "$RUN_ERR" \
    "precheck failed \(objects\): .*: table shopdb\.orders, object data/[^:]*: missing from region home"

# a new instance: a directory that holds something, a port in use, room
mkdir -p "$WORK/notempty" && touch "$WORK/notempty/file"
run "$GEODR" --config "$CFG" restore shop --dry-run --new-instance "$WORK/notempty" --port "$DST_PORT"
is "precheck of a new instance in a non-empty directory on a port in use: fails" "$(checks)" \
    "ok point ok set ok objects ok binlog FAILED target FAILED empty ok room "
like "... naming the port" "$RUN_OUT" "target +port $DST_PORT is in use on 127\.0\.0\.1: choose another port"
like "... and the directory" "$RUN_OUT" "empty +$WORK/notempty is not empty: .*remove what it holds"
run "$GEODR" --config "$CFG" restore shop --dry-run --new-instance "$WORK/fresh/ddr" --port "$(free_port)"
is "precheck of a new instance: passes" "$(checks)" \
    "ok point ok set ok objects ok binlog ok target ok empty ok room "
check "... and created nothing" test ! -e "$WORK/fresh"
mkdir -p "$WORK/small"
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=16m tmpfs "$WORK/small" 2>/dev/null; then
    on_exit "umount '$WORK/small' 2>/dev/null || true"
    run "$GEODR" --config "$CFG" restore shop --dry-run --new-instance "$WORK/small/ddr" --port "$(free_port)"
    is "precheck of a new instance on a 16 MiB filesystem: the room check fails" "$(checks)" \
        "ok point ok set ok objects ok binlog ok target ok empty FAILED room "
    like "... saying how much is free and needed" "$RUN_ERR" \
        "precheck failed \(room\): only 1[0-9.]+ MiB free in the filesystem of $WORK/small/ddr, and the new instance needs about 5[0-9.]+ MiB"
    umount "$WORK/small"
else
    skip "precheck of a new instance on a 16 MiB filesystem" "needs root and mount -t tmpfs"
    skip "... saying how much is free and needed" "needs root and mount -t tmpfs"
fi
is "prechecks wrote nothing to the region" "$(region_state "$REGION")" "$REGION_STATE"

# --------------------------------------------------------- usage errors --

usage_fails "usage: geodr without a command" '^usage: geodr .*COMMAND' "$GEODR"
usage_fails "usage: an unknown command is named" \
    "unknown command 'nosuchcmd'.*usage: geodr" "$GEODR" nosuchcmd
usage_fails "usage: restore without a target" \
    "--target HOST:PORT.*--new-instance" "$GEODR" --config "$CFG" restore shop
usage_fails "usage: backup without an instance" \
    "^geodr backup: .*instance" "$GEODR" --config "$CFG" backup
usage_fails "usage: backup --jobs 0" \
    "^geodr backup: --jobs must be 1-" "$GEODR" --config "$CFG" backup shop --jobs 0
usage_fails "usage: restore --jobs 0" \
    "^geodr restore: --jobs must be 1-" "$GEODR" --config "$CFG" restore shop --jobs 0 "${TARGET[@]}"
usage_fails "usage: --jobs 4abc is not a number" \
    "^geodr backup: --jobs must be 1-" "$GEODR" --config "$CFG" backup shop --jobs 4abc
usage_fails "usage: compact --grace beyond any sane range (no overflow)" \
    "^geodr compact: --grace must be 0-" "$GEODR" --config "$CFG" compact shop --grace 10000000000000
usage_fails "usage: restore --target with a port out of range" \
    "^geodr restore: --target HOST:PORT: the port must be 1-65535" \
    "$GEODR" --config "$CFG" restore shop --target 127.0.0.1:99999 --target-user root --target-password-file /dev/null
usage_fails "usage: restore --verify-objects without --dry-run" \
    "^geodr restore: --verify-objects goes with --dry-run" \
    "$GEODR" --config "$CFG" restore shop --verify-objects "${TARGET[@]}"
is "usage errors wrote nothing to the region" "$(region_state "$REGION")" "$REGION_STATE"
is "usage errors wrote nothing to the target" "$(schemata dst)" "$DST_SCHEMATA"

# --------------------------------------------------------------- keygen --

KEYA_SUM="$(sha256sum <"$KEYA")"
fails "keygen refuses to overwrite an existing file" \
    "$KEYA.*(exists|overwrite)" "$GEODR" keygen "$KEYA"
is "keygen: the existing key is unchanged" "$(sha256sum <"$KEYA")" "$KEYA_SUM"

# ----------------------------------------------------------------- json --

json_error() {  # json_error NAME CODE_RE: stdout of the last run is {"error": ...}
    local got
    got="$(python3 -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("not JSON: %s" % e); sys.exit()
if not isinstance(d, dict) or "error" not in d:
    print("no \"error\" member"); sys.exit()
e = d["error"]
msg = e.get("message", "") if isinstance(e, dict) else str(e)
print("ok" if msg else "empty error message")
' <<<"$RUN_OUT")"
    if [[ $got == ok && $RUN_RC -eq 1 ]]; then
        ok "$1"
    else
        not_ok "$1" "$(printf '%s\n' "$got"; _run_diag 1)"
    fi
}
run "$GEODR" --json --config "$CFG" backup nope
json_error "--json: unknown instance gives {\"error\": ...} on stdout, exit 1"
run "$GEODR" --json --config "$WORK/unreach.conf" backup shop
json_error "--json: unreachable server gives {\"error\": ...} on stdout, exit 1"
run "$GEODR" --json --config "$CFG" restore shop --set NONEXISTENT "${TARGET[@]}"
json_error "--json: missing set gives {\"error\": ...} on stdout, exit 1"

# -------------------------------------------------------------- secrets --

leaks=""
for secret in "$SRC_PASS" "$DST_PASS" "$RO_PASS" "$WRONG_PASS" "$KEYA_PASS" "$KEYB_PASS"; do
    [[ -n $secret ]] || continue
    if files="$(grep -rlF -- "$secret" "$OUT")"; then
        leaks+="a secret of ${#secret} characters appears in: $(cd "$OUT" && for f in $files; do
            printf '%s (%s) ' "${f##*/}" "$(cat "${f%.*}.cmd")"; done)"$'\n'
    fi
done
if [[ -z $leaks ]]; then
    ok "no password or key passphrase in any output ($_run_n commands)"
else
    not_ok "no password or key passphrase in any output" "$leaks"
fi

tap_done
