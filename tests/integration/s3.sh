#!/bin/bash
# S3 regions end to end: backup to an s3 home region, verify, restore into
# an empty server (CHECKSUM TABLE equal); the endpoint stopped for 10 s in
# the middle of a 50 MB backup (the backup rides it out, or fails naming the
# endpoint; never a committed corrupt set); wrong credentials, a missing
# bucket, an unreachable endpoint and an unverifiable TLS certificate each
# give a clear error.
#
# The endpoint is s3rver (default) or Ceph RGW (GEODR_S3_BACKEND=rgw), see
# s3_backend.sh.  s3rver checks only the access key id of a SigV4 request,
# not the signature: a wrong *secret* is refused by RGW in regions_s3.sh
# and by the fake server of tests/unit/test_s3.c.  The TLS checks run a
# second s3rver with a private CA.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_backend.sh"
require_geodr
require_cmd curl python3
tmpdir_new

BUCKET=geodr
s3_backend_start "$BUCKET"
ENDPOINT="$S3_ENDPOINT"
s3_credentials "$WORK/aws-credentials" s3rver
(umask 077; printf '[wrong]\naws_access_key_id = NOBODY\naws_secret_access_key = %s\n' "$S3_SECRET_KEY" >>"$WORK/aws-credentials")

# mkcfg FILE [KEY=VALUE...]: instance shop on src, home region "s3" (the
# s3rver bucket unless overridden: endpoint=, bucket=, profile=, ca-file=).
mkcfg() {
    local file="$1" endpoint="$ENDPOINT" bucket="$BUCKET" profile=s3rver ca="" kv
    shift
    for kv in "$@"; do
        case "$kv" in
        endpoint=*) endpoint="${kv#*=}" ;;
        bucket=*) bucket="${kv#*=}" ;;
        profile=*) profile="${kv#*=}" ;;
        ca-file=*) ca="${kv#*=}" ;;
        esac
    done
    mkdir -p "$WORK/home"
    {
        printf '[region home]\ntype = posix\npath = %s\n\n' "$WORK/home"
        printf '[region s3]\ntype = s3\nendpoint = %s\nbucket = %s\nprefix = test/\n' "$endpoint" "$bucket"
        printf 'region = us-east-1\ncredentials-file = %s\nprofile = %s\n' "$WORK/aws-credentials" "$profile"
        [[ -z "$ca" ]] || printf 'ca-file = %s\n' "$ca"
        printf '\n[instance shop]\nhost = 127.0.0.1\nport = %s\nuser = root\n' "${SRC_PORT:-3306}"
        printf 'password-file = %s\nhome-region = s3\nchunk-rows = 5000\njobs = 4\n' "$WORK/src.pass"
    } | geodr_config "$file"
}

cfg="$WORK/geodr.conf"
mkcfg "$cfg"
out="$("$GEODR" --config "$cfg" info shop 2>&1)" || true
if [[ "$out" == *"cannot use yet"* ]]; then
    skip_all "this geodr binary does not support type = s3 regions yet"
fi

mdb_start src
mdb_load src "$SQL_DIR/alltypes.sql" >/dev/null
mkcfg "$cfg"

sets() { "$GEODR" --config "$cfg" --json info shop | python3 -c 'import json,sys; print(" ".join(s["set"] for s in json.load(sys.stdin)["instances"][0]["sets"]))'; }
# objects stored under the prefix (at most 1000: one listing page)
stored() { s3_req GET "/$BUCKET" "list-type=2&prefix=test/shop/" 2>/dev/null | grep -o '<Key>' | wc -l; }

# ---- round trip ----
check "backup to the s3 region" "$GEODR" --config "$cfg" --quiet backup shop
like "the set's objects are in the bucket under the prefix" "$(stored)" '^[1-9][0-9]*$'
like "info lists the set (list over s3)" "$(sets)" '^[0-9]{8}T[0-9]{6}Z$'
check "verify reads every object back" "$GEODR" --config "$cfg" --quiet verify shop
mdb_start dst
check "restore from the s3 region into an empty server" "$GEODR" --config "$cfg" --quiet restore shop \
    --latest --target "127.0.0.1:$DST_PORT" --target-user root --target-password-file "$WORK/dst.pass" --jobs 3
check "CHECKSUM TABLE equal for every table" diff <(checksum_all src) <(checksum_all dst)

# ---- the endpoint stops for 10 s in the middle of a 50 MB backup ----
mdb_sql src "CREATE DATABASE big;
CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(1100) NOT NULL) ENGINE=InnoDB;
INSERT INTO big.t SELECT seq, CONCAT(SHA2(seq, 512), SHA2(seq + 1, 512), SHA2(RAND(), 512),
  SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512))
  FROM big.seq_1_to_50000;" >/dev/null
note "big.t: $(mdb_sql src "SELECT ROUND(SUM(LENGTH(v)) / 1048576) FROM big.t") MiB"
before_sets="$(sets)"
before="$(stored)"
sleep 1.1 # a new second: a new set id
# The pause before the manifest keeps the backup running until the endpoint
# is down even when the data went up before the listing saw it: at least
# the commit meets the outage.
GEODR_TEST_PAUSE=backup-commit=3000 "$GEODR" --config "$cfg" --verbose backup shop \
    >"$WORK/outage.out" 2>&1 &
bpid=$!
t0=$SECONDS
until (($(stored) >= before + 3)) || ! kill -0 "$bpid" 2>/dev/null || ((SECONDS - t0 > 120)); do
    sleep 0.05
done
if kill -0 "$bpid" 2>/dev/null; then
    now="$(stored)"
    s3_gw_stop
    note "$S3_BACKEND stopped with $((now - before)) new objects stored"
    sleep 10
    s3_gw_start
    ok "$S3_BACKEND stopped for 10 s while the backup was running"
else
    not_ok "$S3_BACKEND stopped for 10 s while the backup was running" "the backup ended first: $(cat "$WORK/outage.out")"
fi
brc=0
wait "$bpid" || brc=$?
outage_out="$(cat "$WORK/outage.out")"
retries="$(grep -c 'retrying in' "$WORK/outage.out" || true)"
note "backup exit status $brc after $((SECONDS - t0)) s, $retries retried requests"
if [[ $brc -eq 0 ]]; then
    ok "the backup rode out the outage"
    like "... by retrying the requests made while the endpoint was down" "$retries" '^[1-9][0-9]*$'

    check "... and its set verifies" "$GEODR" --config "$cfg" --quiet verify shop
    mdb_start dst2
    check "... and restores" "$GEODR" --config "$cfg" --quiet restore shop --latest \
        --target "127.0.0.1:$DST2_PORT" --target-user root --target-password-file "$WORK/dst2.pass" --jobs 4
    is "... with equal CHECKSUM TABLE" "$(checksum_all dst2 big)" "$(checksum_all src big)"
else
    like "the failed backup names the endpoint" "$outage_out" "$ENDPOINT"
    is "the failed backup committed no set" "$(sets)" "$before_sets"
fi
bad=""
for s in $(sets); do
    "$GEODR" --config "$cfg" --quiet verify shop "$s" >/dev/null 2>&1 || bad+=" $s"
done
is "every committed set verifies (no corrupt set)" "$bad" ""

# ---- clear errors ----
mkcfg "$WORK/wrongkey.conf" profile=wrong
out="$("$GEODR" --config "$WORK/wrongkey.conf" backup shop 2>&1)" && rc=0 || rc=$?
is "wrong access key: backup fails" "$rc" 1
like "... saying access was denied and what to check" "$out" "access denied by the S3 endpoint $ENDPOINT for bucket $BUCKET.*check credentials-file/profile"
unlike "... without showing the secret" "$out" "$S3_SECRET_KEY"

mkcfg "$WORK/nobucket.conf" bucket=nosuchbucket
out="$("$GEODR" --config "$WORK/nobucket.conf" backup shop 2>&1)" && rc=0 || rc=$?
is "missing bucket: backup fails" "$rc" 1
like "... saying the bucket does not exist at the endpoint" "$out" "bucket nosuchbucket does not exist at $ENDPOINT"

deadport="$(free_port)"
mkcfg "$WORK/dead.conf" endpoint="http://127.0.0.1:$deadport"
t0=$SECONDS
out="$(GEODR_S3_TIMEOUTS="connect=1,attempts=3,backoff-ms=50" "$GEODR" --config "$WORK/dead.conf" backup shop 2>&1)" && rc=0 || rc=$?
is "unreachable endpoint: backup fails" "$rc" 1
like "... naming the endpoint and that it was retried" "$out" "S3 endpoint http://127.0.0.1:$deadport failed 3 times.*try again later"
like "... quickly with short timeouts" "$((SECONDS - t0))" '^[0-9]$|^[1-2][0-9]$'

# ---- TLS: verified, with ca-file for a private CA ----
if command -v openssl >/dev/null 2>&1 && [[ -x "$(_s3rver_bin)" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1
    tport="$(free_port)"
    "$(_s3rver_bin)" -d "$WORK/s3tls" -a 127.0.0.1 -p "$tport" --silent --configure-bucket "$BUCKET" \
        --key "$WORK/tls.key" --cert "$WORK/tls.crt" </dev/null >>"$WORK/s3rver-tls.log" 2>&1 &
    tpid=$!
    on_exit "kill $tpid 2>/dev/null || true"
    wait_for 30 curl -sf -o /dev/null --cacert "$WORK/tls.crt" "https://127.0.0.1:$tport/" || note "TLS s3rver did not start"
    (umask 077; printf '[tls]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >>"$WORK/aws-credentials")
    mkcfg "$WORK/tls-noca.conf" endpoint="https://127.0.0.1:$tport" profile=tls
    out="$(GEODR_S3_TIMEOUTS="attempts=2,backoff-ms=50" "$GEODR" --config "$WORK/tls-noca.conf" info shop 2>&1)" && rc=0 || rc=$?
    is "TLS with an unknown CA: refused" "$rc" 1
    like "... saying to set ca-file" "$out" "could not be verified.*set ca-file"
    mkcfg "$WORK/tls.conf" endpoint="https://127.0.0.1:$tport" ca-file="$WORK/tls.crt" profile=tls
    check "TLS with ca-file: backup" "$GEODR" --config "$WORK/tls.conf" --quiet backup shop
    check "TLS with ca-file: verify" "$GEODR" --config "$WORK/tls.conf" --quiet verify shop
else
    skip "TLS checks" "openssl or s3rver not installed"
fi

tap_done
