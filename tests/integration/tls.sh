#!/bin/bash
# TLS to MariaDB (issue 10, finding 11).  A throwaway CA signs the servers'
# certificates; source and target accept only TLS (require_secure_transport).
# With ssl-mode = verify-ca: backup, the archiver's replica connection and a
# point-in-time restore (loader and replay setup on the target) work.  Every
# way of getting it wrong ends in a sentence saying what is wrong: ssl-mode =
# disabled against a TLS-only server, the wrong CA, a certificate that does
# not name the host (verify-identity), a server without TLS (required).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
require_cmd openssl
tmpdir_new

# expect_fail NAME PATTERN CMD...: CMD exits ${EXPECT_RC:-1} with PATTERN in
# its output and no password in it.
expect_fail() {
    local name="$1" pat="$2" out rc
    shift 2
    out="$("$@" 2>&1)" && rc=0 || rc=$?
    is "$name: fails" "$rc" "${EXPECT_RC:-1}"
    like "$name: ... saying so" "$out" "$pat"
    [[ -z "${SHOW_MSG:-}" ]] || note "$out"
    if grep -qF -e "$SRC_PASS" -e "$DST_PASS" <<<"$out"; then
        not_ok "$name: ... with no password in the message"
    else
        ok "$name: ... with no password in the message"
    fi
}
conf_with() { # FILE SSL-LINES...: shop with other ssl- settings
    local f="$1"
    shift
    write_config "$f" shop src "$WORK/region"
    geodr_config_add "$f" "$@"
}


# ---- certificates: CA, server cert for 127.0.0.1, one for another name,
# and an unrelated CA.
pki="$WORK/pki"
mkdir -p "$pki"
ossl() { openssl "$@" 2>>"$WORK/openssl.log" >/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
    -subj "/CN=geodr test CA"
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/other-ca.key" -out "$pki/other-ca.pem" \
    -days 2 -subj "/CN=some other CA"
server_cert() { # NAME CN SAN
    ossl req -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=%s\n' "$3" >"$pki/$1.ext"
    ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/$1.pem" -days 2 -extfile "$pki/$1.ext"
}
server_cert good 127.0.0.1 "IP:127.0.0.1,DNS:localhost"
server_cert badname db.example.invalid "DNS:db.example.invalid"
chmod 644 "$pki"/*.key
tls_args() { # CERTNAME
    printf '%s\n' --ssl-ca="$pki/ca.pem" --ssl-cert="$pki/$1.pem" --ssl-key="$pki/$1.key" \
        --require-secure-transport=ON
}
mapfile -t good_args < <(tls_args good)
mapfile -t badname_args < <(tls_args badname)

mdb_start src "${good_args[@]}"
mdb_start dst "${good_args[@]}"
# The test's own client (mdb_sql) logs in over TLS too.
for s in src dst; do printf '[client]\nssl-ca=%s\n' "$pki/ca.pem" >>"$WORK/$s.cnf"; done
is "the source refuses a login without TLS" \
    "$(mariadb --no-defaults --skip-ssl -h127.0.0.1 -P"$SRC_PORT" -uroot -p"$SRC_PASS" \
        -e 'SELECT 1' >/dev/null 2>&1 && echo accepted || echo refused)" refused
mdb_sql src "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20));
    INSERT INTO d.t VALUES (1,'before backup'),(2,'x');"

cfg="$WORK/geodr.conf"
write_config "$cfg" shop src "$WORK/region"
geodr_config_add "$cfg" "ssl-mode = verify-ca" "ssl-ca = $pki/ca.pem"
check "backup with ssl-mode = verify-ca" "$GEODR" --config "$cfg" --quiet backup shop

# The archiver's replica connection uses the same settings.
"$GEODR" --config "$cfg" --quiet archive shop --interval 0.2 >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
mdb_sql src "INSERT INTO d.t VALUES (3,'after backup'); UPDATE d.t SET v='y' WHERE id=2;"
if wait_for 60 archive_holds "$cfg" shop src; then
    ok "the archiver (verify-ca) archives the source's binlog"
else
    not_ok "the archiver (verify-ca) archives the source's binlog"
    note "$(tail -n 5 "$WORK/archive.log")"
fi
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" 2>/dev/null || true

# Restore to a TLS-only target, to the latest point (load + replay).
tls_target=(--target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$DST_PASSFILE")
check "restore --latest to a TLS-only target with --target-ssl-mode verify-ca" \
    "$GEODR" --config "$cfg" --quiet restore shop --latest "${tls_target[@]}" \
    --target-ssl-mode verify-ca --target-ssl-ca "$pki/ca.pem"
is "the target holds the source's rows, archived ones included" \
    "$(checksum_all dst d)" "$(checksum_all src d)"

# A target on another machine (--replay-host): the binlog server offers only
# TLS, with a certificate made at start that the target pins (written to it
# over the verified target connection, MASTER_SSL_VERIFY_SERVER_CERT = 1).
mdb_sql src "INSERT INTO d.t VALUES (4,'replayed over TLS');"
"$GEODR" --config "$cfg" --quiet archive shop --interval 0.2 >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
wait_for 60 archive_holds "$cfg" shop src || note "archive did not catch up"
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" 2>/dev/null || true
# The replica is held back 3 s so the test can knock first: a client without
# TLS is refused, one with TLS is asked for the one-time password.  The
# target's general log shows the CHANGE MASTER geodr sent.
mdb_sql dst "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1;"
GEODR_TEST_PAUSE=replica-start=3000 "$GEODR" --config "$cfg" --verbose restore shop --latest \
    "${tls_target[@]}" --target-ssl-mode verify-ca --target-ssl-ca "$pki/ca.pem" \
    --replay-host 127.0.0.1 --replace-existing >"$WORK/replay-tls.out" 2>&1 &
rpid=$!
listening() { grep -q "binlog server listening on 127.0.0.1 port" "$WORK/replay-tls.out"; }
wait_for 120 listening || note "the binlog server did not start: $(tail -n 5 "$WORK/replay-tls.out")"
bport="$(grep -o 'binlog server listening on 127.0.0.1 port [0-9]*' "$WORK/replay-tls.out" | awk '{print $NF}')"
like "a client without TLS is refused by the binlog server" \
    "$(mariadb --no-defaults --skip-ssl -h127.0.0.1 -P"${bport:-1}" -ugeodr_replay -px -e 'SELECT 1' 2>&1)" \
    "accepts only TLS connections"
like "a client with TLS gets to the login (and no further without the password)" \
    "$(mariadb --no-defaults --ssl -h127.0.0.1 -P"${bport:-1}" -ugeodr_replay -px -e 'SELECT 1' 2>&1)" \
    "Access denied \(geodr binlog server\)"
wait "$rpid" && rc=0 || rc=$?
out="$(cat "$WORK/replay-tls.out")"
is "restore --latest with --replay-host: replication from geodr's binlog server over TLS" "$rc" 0 ||
    note "$(tail -n 20 <<<"$out")"
like "... CHANGE MASTER pins the binlog server's certificate" \
    "$(mdb_sql dst "SELECT argument FROM mysql.general_log WHERE argument LIKE 'CHANGE MASTER%'")" \
    "MASTER_SSL = 1, MASTER_SSL_CA = '[^']*/geodr-replay-[^']*\.pem', MASTER_SSL_VERIFY_SERVER_CERT = 1"
mdb_sql dst "SET GLOBAL general_log = 0;"
like "... the target's replica connected over TLS" "$out" \
    "binlog server: a client connected over TLSv1\.[23]"
is "... and the target holds every row" "$(checksum_all dst d)" "$(checksum_all src d)"
pin="$(find "$DST_DIR/tmp" -name 'geodr-replay-*.pem' | head -n 1)"
is "... the pinned certificate names the replay address" \
    "$(openssl x509 -in "$pin" -noout -ext subjectAltName 2>/dev/null | tail -n 1 | tr -d ' ')" \
    "IPAddress:127.0.0.1"
mdb_sql dst "CREATE USER nofile@'%' IDENTIFIED BY '$DST_PASS'; GRANT ALL ON *.* TO nofile@'%';
    REVOKE FILE ON *.* FROM nofile@'%';
    INSERT INTO d.t VALUES (100, 'kept');"
expect_fail "--replay-host with a target user without the FILE privilege" \
    "pins the certificate of geodr's binlog server on the target .*grant the target user the FILE privilege" \
    "$GEODR" --config "$cfg" --quiet restore shop --latest --target "127.0.0.1:$DST_PORT" \
    --target-user nofile --target-password-file "$DST_PASSFILE" --target-ssl-mode verify-ca \
    --target-ssl-ca "$pki/ca.pem" --replay-host 127.0.0.1 --replace-existing
is "... and the target is left without a replica configuration" \
    "$(mdb_sql dst 'SHOW ALL SLAVES STATUS' | wc -l)" 0
is "... and the refusal comes before the load (the target's table was not replaced)" \
    "$(mdb_sql dst 'SELECT v FROM d.t WHERE id = 100')" kept

# With secure_file_priv set on the target, the certificate goes there.
mkdir -p "$WORK/dstfiles"
mdb_restart dst "${good_args[@]}" --secure-file-priv="$WORK/dstfiles"
check "restore --latest with --replay-host into a target with secure_file_priv" \
    "$GEODR" --config "$cfg" --quiet restore shop --latest "${tls_target[@]}" \
    --target-ssl-mode verify-ca --target-ssl-ca "$pki/ca.pem" --replay-host 127.0.0.1 \
    --replace-existing
is "... the pinned certificate is in the secure_file_priv directory" \
    "$(find "$WORK/dstfiles" -name 'geodr-replay-*.pem' | wc -l)" 1
is "... and the target holds every row" "$(checksum_all dst d)" "$(checksum_all src d)"

# Chosen databases to a point in time replay into geodr's local scratch
# instance: loopback, no TLS needed there, even with --replay-host.
out="$("$GEODR" --config "$cfg" --verbose restore shop --latest --databases d --rename d=sub \
    "${tls_target[@]}" --target-ssl-mode verify-ca --target-ssl-ca "$pki/ca.pem" \
    --replay-host 127.0.0.1 2>&1)" && rc=0 || rc=$?
is "restore --databases --latest with --replay-host into a TLS-only target" "$rc" 0 ||
    note "$(tail -n 20 <<<"$out")"
unlike "... the scratch instance replays over loopback (no pin, no TLS)" "$out" \
    "connected over TLS"
is "... and the target holds the database under its new name" \
    "$(checksum_all dst sub | sed 's/^sub\./d./')" "$(checksum_all src d)"

conf_with "$WORK/disabled.conf" "ssl-mode = disabled"
expect_fail "ssl-mode = disabled against a TLS-only source" \
    "accepts this login only over TLS \(require_secure_transport = ON\) but ssl-mode = disabled: set ssl-mode = verify-ca" \
    "$GEODR" --config "$WORK/disabled.conf" --quiet backup shop
expect_fail "--target-ssl-mode disabled against a TLS-only target" \
    "the target .*accepts this login only over TLS .*--target-ssl-mode = disabled" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${tls_target[@]}" \
    --target-ssl-mode disabled --dry-run
printf 'not-the-password' >"$WORK/wrong.pass"
expect_fail "ssl-mode = disabled with a wrong password: still an access denied" \
    "Access denied.*check the user and the password" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/wrong.pass" --target-ssl-mode disabled --dry-run

conf_with "$WORK/wrongca.conf" "ssl-mode = verify-ca" "ssl-ca = $pki/other-ca.pem"
expect_fail "verify-ca with the wrong CA" \
    "certificate was refused .*check that ssl-ca $pki/other-ca.pem is the CA that signed" \
    "$GEODR" --config "$WORK/wrongca.conf" --quiet backup shop
expect_fail "--target-ssl-mode verify-ca with the wrong CA" \
    "certificate was refused .*--target-ssl-ca" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${tls_target[@]}" \
    --target-ssl-mode verify-ca --target-ssl-ca "$pki/other-ca.pem" --dry-run
conf_with "$WORK/nofile.conf" "ssl-mode = verify-ca" "ssl-ca = $pki/missing.pem"
expect_fail "an ssl-ca that cannot be read" "cannot read ssl-ca $pki/missing.pem" \
    "$GEODR" --config "$WORK/nofile.conf" --quiet backup shop

write_config "$WORK/default.conf" shop src "$WORK/region"
check "no ssl- keys (preferred): TLS, since the TLS-only source accepts nothing else" \
    "$GEODR" --config "$WORK/default.conf" --quiet backup shop
conf_with "$WORK/identity.conf" "ssl-mode = verify-identity" "ssl-ca = $pki/ca.pem"
check "verify-identity with a certificate naming 127.0.0.1" \
    "$GEODR" --config "$WORK/identity.conf" --quiet backup shop
conf_with "$WORK/sysca.conf" "ssl-mode = verify-identity"
expect_fail "verify-identity without ssl-ca: the system's CA store does not know the test CA" \
    "TLS failed \(.*\): with ssl-mode = verify-identity, set ssl-ca to the CA that signed" \
    "$GEODR" --config "$WORK/sysca.conf" --quiet backup shop
mdb_restart src "${badname_args[@]}"
check "verify-ca does not look at the name" "$GEODR" --config "$cfg" --quiet backup shop
expect_fail "verify-identity with a certificate for another name" \
    "does not name the host .*ssl-mode = verify-identity" \
    "$GEODR" --config "$WORK/identity.conf" --quiet backup shop

# A server without TLS: preferred goes on without it, required refuses.
mdb_restart dst --skip-ssl
sed -i '/^ssl-ca=/d' "$WORK/dst.cnf"
plain_target=(--target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$DST_PASSFILE")
expect_fail "--target-ssl-mode required against a server without TLS" \
    "the server does not offer TLS but --target-ssl-mode = required" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${plain_target[@]}" \
    --target-ssl-mode required --dry-run
expect_fail "--target-ssl-mode verify-identity against a server without TLS" \
    "the server does not offer TLS but --target-ssl-mode = verify-identity" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${plain_target[@]}" \
    --target-ssl-mode verify-identity --target-ssl-ca "$pki/ca.pem" --dry-run
check "the default (preferred) restores into a server without TLS" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${plain_target[@]}" --dry-run \
    --replace-existing

# Settings that contradict each other are refused before any connection.
EXPECT_RC=2 expect_fail "--target-ssl-ca with --target-ssl-mode required (a usage error)" \
    "--target-ssl-ca is set but --target-ssl-mode = required does not check" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${plain_target[@]}" \
    --target-ssl-mode required --target-ssl-ca "$pki/ca.pem" --dry-run

like "--replay-host without a verified target connection: a warning" \
    "$("$GEODR" --config "$cfg" restore shop --fastest "${plain_target[@]}" --replay-host 127.0.0.1 \
        --replace-existing --dry-run 2>&1)" \
    "warning: --replay-host with --target-ssl-mode preferred: .*use --target-ssl-mode verify-ca"
EXPECT_RC=2 expect_fail "--target-ssl-mode with a mode that is not one (a usage error)" \
    "--target-ssl-mode verify-full: must be disabled, preferred, required, verify-ca or verify-identity" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest "${plain_target[@]}" \
    --target-ssl-mode verify-full --dry-run
EXPECT_RC=2 expect_fail "--target-ssl-* with --new-instance (a usage error)" \
    "--target-ssl-\* apply to --target only" \
    "$GEODR" --config "$cfg" --quiet restore shop --fastest --new-instance "$WORK/n" --port 1 \
    --target-ssl-mode required --dry-run

tap_done
