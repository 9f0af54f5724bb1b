#!/bin/bash
# A malicious or impersonated restore target must not read local files
# (issue 10, finding 4).  A fake server answers a restore's statements and,
# at chosen ones, asks the client for a local file (LOAD DATA LOCAL INFILE):
# the key file.  Whatever connection it asks on (the control connection, a
# loader connection outside geodr's own LOAD DATA), with or without
# --dry-run, it gets nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO d.t VALUES (1,'a');" >/dev/null
cfg="$WORK/geodr.conf"
write_key "$WORK/key" "the-secret-passphrase-of-the-key-file"
write_config "$cfg" shop src "$WORK/region" "$WORK/key"
check "backup" "$GEODR" --config "$cfg" --quiet backup shop
printf 'fakepw\n' >"$WORK/fake.pass"

# fake ASK: start a fake target asking for the key file at statements
# matching ASK; sets FAKE_PORT and FAKE_RECORD.
fake_n=0
fake() {
    fake_n=$((fake_n + 1))
    FAKE_RECORD="$WORK/fake$fake_n.got"
    python3 "$GEODR_SRC/tests/integration/tools/fake_infile_server.py" "$WORK/fake$fake_n.port" \
        "$FAKE_RECORD" "$WORK/key" "$1" ${2:+"$2"} 2>>"$WORK/fake.log" &
    local pid=$!
    on_exit "kill $pid 2>/dev/null || true"
    wait_for 10 test -s "$WORK/fake$fake_n.port" || die "the fake server did not start"
    FAKE_PORT="$(cat "$WORK/fake$fake_n.port")"
}

for mode in dry-run restore; do
    args=()
    [[ $mode == restore ]] || args=(--dry-run)
    fake 'time_zone'
    out="$("$GEODR" --config "$cfg" restore shop --set "$("$GEODR" --config "$cfg" --json info shop |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["set"])')" \
        --target "127.0.0.1:$FAKE_PORT" --target-user root --target-password-file "$WORK/fake.pass" \
        "${args[@]}" 2>&1)" && rc=0 || rc=$?
    is "$mode: a target asking for a file on the first statement: the restore fails" "$rc" 1
    is "$mode: ... and the target got no byte of the file" "$(wc -c <"$FAKE_RECORD")" 0
    if grep -q "the-secret-passphrase" <<<"$out"; then
        not_ok "$mode: ... and no secret in the message"
    else
        ok "$mode: ... and no secret in the message"
    fi
done

# On a loader connection, at a statement that is not geodr's LOAD DATA.
fake 'unique_checks'
out="$("$GEODR" --config "$cfg" restore shop --latest --target "127.0.0.1:$FAKE_PORT" --target-user root \
    --target-password-file "$WORK/fake.pass" 2>&1)" && rc=0 || rc=$?
is "a target asking for a file on a loader connection: the restore fails" "$rc" 1
is "... and the target got no byte of the file" "$(wc -c <"$FAKE_RECORD")" 0

# A server (or an attacker in the middle) that asks for the password in
# clear text at login (mysql_clear_password) gets nothing: geodr allows only
# methods that never send the password itself.
fake 'never' clear-password
out="$("$GEODR" --config "$cfg" restore shop --latest --dry-run --target "127.0.0.1:$FAKE_PORT" \
    --target-user root --target-password-file "$WORK/fake.pass" 2>&1)" && rc=0 || rc=$?
is "a target asking for the password in clear text: the restore fails" "$rc" 1
is "... and it got no byte of the password" "$(wc -c <"$FAKE_RECORD")" 0

# --new-instance: no account logs in over TCP without a password, during the
# restore or after it (issue 10 finding 2); a failed restore leaves no server.
nport="$(free_port)"
poll_root() { # tries root@127.0.0.1 without a password until $WORK/stop-poll exists
    while [[ ! -e "$WORK/stop-poll" ]]; do
        for u in root "$(id -un)" mysql ""; do
            if mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$nport" -u"$u" --password= \
                --connect-timeout=1 -e 'SELECT 1' >/dev/null 2>&1; then
                echo "$u" >>"$WORK/poll.in"
            fi
        done
        sleep 0.05
    done
}
: >"$WORK/poll.in"
poll_root &
poll_pid=$!
on_exit "touch '$WORK/stop-poll'; kill $poll_pid 2>/dev/null || true"
check "restore --new-instance" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --new-instance "$WORK/newinst" --port "$nport"
on_exit "mariadb-admin --defaults-file='$WORK/newinst/client.cnf' shutdown >/dev/null 2>&1 || true"
if [[ $(id -u) -eq 0 ]]; then
    is "geodr runs as root, the new instance's server does not (it runs as mysql)" \
        "$(ps -o user= -p "$(cat "$WORK/newinst/run/mariadbd.pid")")" mysql
    is "... which owns only its data and run folders, not the one geodr writes my.cnf and client.cnf in" \
        "$(stat -c %U "$WORK/newinst" "$WORK/newinst/data" "$WORK/newinst/run" "$WORK/newinst/client.cnf" | tr '\n' ' ')" \
        "root mysql mysql root "
    mkdir -m 700 "$WORK/closed"
    out="$("$GEODR" --config "$cfg" restore shop --latest --new-instance "$WORK/closed/inst" \
        --port "$(free_port)" 2>&1)" && rc=0 || rc=$?
    is "a folder the server's user cannot reach: exit 1" "$rc" 1
    like "... saying which folder and what to do" "$out" \
        "runs as user mysql \\(never as root\\), which cannot pass through .*/closed \\(mode 0700\\).*chmod o\\+x"
else
    skip "the server's user (geodr does not run as root)"
    skip "the server's folders (geodr does not run as root)"
    skip "a folder the server's user cannot reach (geodr does not run as root)"
    skip "a folder the server's user cannot reach: message"
fi
sleep 1
touch "$WORK/stop-poll"
wait "$poll_pid" 2>/dev/null || true
is "no account got in over TCP without a password, during or after the restore" "$(sort -u "$WORK/poll.in" | tr '\n' ' ')" ""
is "only root@localhost and root@127.0.0.1 (with the password) and the socket account remain" \
    "$(mariadb --defaults-file="$WORK/newinst/client.cnf" -N -e "SELECT CONCAT(User,'@',Host) FROM mysql.user WHERE User <> 'mariadb.sys' ORDER BY 1" | tr '\n' ' ')" \
    "$(printf '%s\n' root@127.0.0.1 root@localhost "$(id -un)@localhost" | sort -u | tr '\n' ' ')"
mariadb-admin --defaults-file="$WORK/newinst/client.cnf" shutdown >/dev/null 2>&1 || true

mf="$(ls "$WORK"/region/shop/backup/*/manifest | tail -1)"
cp "$mf" "$WORK/manifest.good"
python3 "$GEODR_SRC/tests/integration/tools/gdrepo.py" edit "$WORK/region" "$mf" \
    'j["tables"][0]["columns"] = []' "$WORK/key"
out="$("$GEODR" --config "$cfg" restore shop --latest --new-instance "$WORK/newfail" --port "$(free_port)" 2>&1)" && rc=0 || rc=$?
is "a --new-instance restore that fails after provisioning: exit 1" "$rc" 1
like "... saying the new instance was stopped" "$out" "the new instance in .*newfail was stopped"
procs_with() { # procs_with TEXT: how many processes have TEXT in their command line
    local n=0 f cmd
    for f in /proc/[0-9]*/cmdline; do
        cmd="$(tr '\0' ' ' <"$f" 2>/dev/null)" || continue
        [[ $cmd == *"$1"* ]] && n=$((n + 1))
    done
    echo "$n"
}
is "... and no server is left running" "$(procs_with "$WORK/newfail/")" 0
cp "$WORK/manifest.good" "$mf"

# The real loader still loads (its own LOAD DATA is answered by geodr's handler).
mdb_start dst
check "a real target still restores" "$GEODR" --config "$cfg" --quiet restore shop --latest \
    --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass"
is "... with the data" "$(mdb_sql dst 'SELECT v FROM d.t')" "a"
tap_done
