# shellcheck shell=bash
# S3 endpoints for the integration tests, sourced after lib.sh.  One script
# runs against either backend, chosen by GEODR_S3_BACKEND:
#
#   s3rver (default)  s3rver 3 from npm (.cache/node): fast to start, but it
#                     checks only the access key id, not the signature, and
#                     keeps no multipart uploads across a restart;
#   rgw               Ceph RGW from Debian 12 (ceph-mon, ceph-osd, radosgw,
#                     ceph-common): one monitor and one memstore OSD on
#                     loopback with cephx, no mgr, no systemd; radosgw with
#                     the beast frontend (stock: Nagle on).  It checks every
#                     signature and implements multipart as AWS does.  Starts
#                     in about 12 s and holds in RAM what is stored.
#
# s3_backend_start BUCKET...  start the backend (time-limited; skip_all with
#                             the reason when it cannot run here) and create
#                             the buckets; sets S3_ENDPOINT, S3_ACCESS_KEY,
#                             S3_SECRET_KEY, S3_BACKEND, S3_SIGNATURES (1 when
#                             the endpoint checks signatures).  Torn down on
#                             exit.
# s3_gw_stop / s3_gw_start    stop / restart the S3 endpoint only (an outage):
#                             for rgw the gateway, the cluster stays up.
# s3_credentials FILE PROFILE [SECRET]
#                             append an AWS credentials profile (the secret
#                             defaults to the real one).
# s3_req METHOD PATH [QUERY]  a signed request (tools/s3req.py), body to stdout.

S3_BACKEND="${GEODR_S3_BACKEND:-s3rver}"
S3_PID=""
_S3_DIR=""
_S3_BUCKETS=()

s3_req() {
    S3_ACCESS_KEY="$S3_ACCESS_KEY" S3_SECRET_KEY="$S3_SECRET_KEY" \
        python3 "$GEODR_SRC/tests/integration/tools/s3req.py" "$S3_ENDPOINT" "$@"
}

s3_credentials() {
    (
        umask 077
        printf '[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n' "$2" "$S3_ACCESS_KEY" \
            "${3:-$S3_SECRET_KEY}" >>"$1"
    )
}

# ---- s3rver ----

_s3rver_bin() { printf '%s\n' "$GEODR_SRC/.cache/node/node_modules/.bin/s3rver"; }

_s3rver_prepare() {
    local bin
    bin="$(_s3rver_bin)"
    if [[ ! -x $bin ]]; then
        command -v npm >/dev/null 2>&1 || skip_all "npm not installed (run scripts/setup)"
        mkdir -p "$GEODR_SRC/.cache/node"
        if ! npm install --prefix "$GEODR_SRC/.cache/node" --no-audit --no-fund --loglevel=error \
            s3rver@3 >"$_S3_DIR/npm.log" 2>&1 || [[ ! -x $bin ]]; then
            skip_all "cannot install s3rver with npm: $(tail -n 3 "$_S3_DIR/npm.log" | tr '\n' ' ')"
        fi
    fi
    S3_ACCESS_KEY=S3RVER S3_SECRET_KEY=S3RVER S3_SIGNATURES=0
    S3_PORT="$(free_port)"
    S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
}

_s3rver_gw_start() {
    local b args=()
    for b in "${_S3_BUCKETS[@]}"; do args+=(--configure-bucket "$b"); done
    "$(_s3rver_bin)" -d "$_S3_DIR/data" -a 127.0.0.1 -p "$S3_PORT" --silent "${args[@]}" \
        </dev/null >>"$_S3_DIR/s3rver.log" 2>&1 &
    S3_PID=$!
    wait_for 30 curl -sf -o /dev/null "$S3_ENDPOINT/" ||
        die "s3rver did not start within 30 s: $(tail -5 "$_S3_DIR/s3rver.log")"
}

# ---- Ceph RGW ----

_rgw_conf() {
    local d="$_S3_DIR"
    cat <<EOF
[global]
fsid = $(cat "$d/fsid")
mon host = v2:127.0.0.1:$_RGW_MON_PORT
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $d/\$name.keyring
run dir = $d/run
admin socket = $d/run/\$name.asok
pid file = $d/run/\$name.pid
log file = $d/log/\$name.log
crash dir = $d/crash
osd objectstore = memstore
memstore device bytes = 8589934592
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data = $d/mon
osd data = $d/osd
rgw data = $d/rgw
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT
rgw dns name = 127.0.0.1
rgw enable usage log = false
EOF
}

_rgw_prepare() {
    local c d="$_S3_DIR"
    for c in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
        command -v "$c" >/dev/null 2>&1 ||
            skip_all "$c not installed: Ceph RGW needs ceph-mon ceph-osd radosgw ceph-common (run scripts/setup)"
    done
    mkdir -p "$d/run" "$d/log" "$d/crash" "$d/mon" "$d/osd" "$d/rgw"
    python3 -c 'import uuid; print(uuid.uuid4())' >"$d/fsid"
    _RGW_MON_PORT="$(free_port)"
    S3_PORT="$(free_port)"
    S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    S3_SIGNATURES=1
    _rgw_conf >"$d/ceph.conf"
    _RGW_CEPH=(ceph -c "$d/ceph.conf" --connect-timeout 20)
}

# _rgw_run WHAT CMD...: run a setup step, failing the script with its log.
_rgw_run() {
    local what="$1"
    shift
    "$@" >>"$_S3_DIR/log/setup.log" 2>&1 ||
        die "Ceph RGW: $what failed: $(tail -n 5 "$_S3_DIR/log/setup.log" | tr '\n' ' ')"
}

_rgw_cluster_start() {
    local d="$_S3_DIR" conf="$_S3_DIR/ceph.conf"
    _rgw_run "mon keyring" ceph-authtool --create-keyring "$d/mon.a.keyring" --gen-key -n mon. --cap mon 'allow *'
    _rgw_run "admin keyring" ceph-authtool --create-keyring "$d/client.admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
    _rgw_run "keyring import" ceph-authtool "$d/mon.a.keyring" --import-keyring "$d/client.admin.keyring"
    _rgw_run "monmap" monmaptool --create --fsid "$(cat "$d/fsid")" --addv a "[v2:127.0.0.1:$_RGW_MON_PORT]" "$d/monmap"
    _rgw_run "mon mkfs" ceph-mon -c "$conf" --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.a.keyring"
    ceph-mon -c "$conf" -i a -f </dev/null >>"$d/log/mon.out" 2>&1 &
    _RGW_PIDS+=($!)
    _rgw_run "osd create (is the monitor up?)" "${_RGW_CEPH[@]}" osd create
    _rgw_run "osd mkfs" ceph-osd -c "$conf" -i 0 --mkfs --mkkey --no-mon-config
    _rgw_run "osd key" "${_RGW_CEPH[@]}" auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$d/osd.0.keyring"
    _rgw_run "osd crush" "${_RGW_CEPH[@]}" osd crush add osd.0 1.0 host=localhost root=default
    ceph-osd -c "$conf" -i 0 -f </dev/null >>"$d/log/osd.out" 2>&1 &
    _RGW_PIDS+=($!)
    _rgw_run "rgw key" "${_RGW_CEPH[@]}" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
        -o "$d/client.rgw.a.keyring"
    wait_for 30 _rgw_osd_up || die "Ceph RGW: the OSD did not come up within 30 s: $(tail -n 5 "$d/log/osd.0.log" 2>/dev/null | tr '\n' ' ')"
}

_rgw_osd_up() { "${_RGW_CEPH[@]}" osd stat 2>/dev/null | grep -q '1 up'; }

_rgw_gw_start() {
    radosgw -c "$_S3_DIR/ceph.conf" -n client.rgw.a -f </dev/null >>"$_S3_DIR/log/rgw.out" 2>&1 &
    S3_PID=$!
    wait_for 60 curl -s -o /dev/null "$S3_ENDPOINT/" ||
        die "Ceph RGW: radosgw did not answer on $S3_ENDPOINT within 60 s: $(tail -n 5 "$_S3_DIR/log/client.rgw.a.log" 2>/dev/null | tr '\n' ' ')"
}

_rgw_user() {
    local out
    out="$(radosgw-admin -c "$_S3_DIR/ceph.conf" -n client.admin user create --uid=geodr \
        --display-name=geodr 2>>"$_S3_DIR/log/setup.log")" || die "Ceph RGW: radosgw-admin user create failed"
    S3_ACCESS_KEY="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["access_key"])' <<<"$out")"
    S3_SECRET_KEY="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["secret_key"])' <<<"$out")"
}

# ---- the interface ----

_s3_teardown() {
    local p
    s3_gw_stop
    for p in "${_RGW_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${_RGW_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    _RGW_PIDS=()
}

s3_gw_start() { "_${S3_BACKEND}_gw_start"; }

s3_gw_stop() {
    [[ -n "$S3_PID" ]] || return 0
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    S3_PID=""
}

s3_backend_start() {
    local t0=$SECONDS b
    _need_work
    _S3_DIR="$WORK/s3-$S3_BACKEND"
    _S3_BUCKETS=("$@")
    _RGW_PIDS=()
    mkdir -p "$_S3_DIR/data"
    on_exit _s3_teardown
    case "$S3_BACKEND" in
    s3rver)
        _s3rver_prepare
        s3_gw_start
        ;;
    rgw)
        _rgw_prepare
        _rgw_cluster_start
        _rgw_gw_start
        _rgw_user
        for b in "$@"; do
            s3_req PUT "/$b" >/dev/null 2>>"$_S3_DIR/log/setup.log" ||
                die "Ceph RGW: cannot create bucket $b: $(tail -n 3 "$_S3_DIR/log/setup.log" | tr '\n' ' ')"
        done
        ;;
    *) die "GEODR_S3_BACKEND=$S3_BACKEND: expected s3rver or rgw" ;;
    esac
    note "S3 backend $S3_BACKEND on $S3_ENDPOINT (ready in $((SECONDS - t0)) s)"
}
