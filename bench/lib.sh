# shellcheck shell=bash
# bench/lib.sh — helpers of the benchmarks, sourced after
# tests/integration/lib.sh (which starts the MariaDB servers, the work
# directory and the exit cleanup). Needs $WORK and $LOGS (a directory).
#
# log MSG                    a time-stamped line on stderr
# now                        the wall clock, seconds with nanoseconds
# calc EXPR                  awk arithmetic, 3 decimals; nan on nan or an error
# result NAME VALUE UNIT     one `RESULT name value unit` line on stdout
# json_get EXPR              a value of the JSON document on stdin (python: j)
# bench_apt_install PKG      installs a Debian package when its command is
#                            missing (apt-get update only if needed); status 1
#                            when it could not
# bench_s3_wan BUCKET...     s3rver (from scripts/setup, in .cache/node) with
#                            these buckets behind bench/wanproxy.py
#                            ($DELAY_MS each way, $MBIT Mbit/s); sets
#                            S3PORT, S3PID, PROXYPORT, PROXY_PID, ENDPOINT (the
#                            proxy's URL), S3DATA (s3rver's data directory)
#                            and writes the credentials file $WORK/aws;
#                            both stopped on exit
# bench_s3_region CFG NAME BUCKET   appends an s3 region reached through the proxy
# bench_marker_table SERVER  creates bench.lag on a server of mdb_start
# bench_markers SERVER SECONDS MARKER_MS OUT [PID]
#                            one session commits a marker row every MARKER_MS
#                            for SECONDS (or until PID ends) and writes, right
#                            after each commit, its @@last_gtid and the
#                            server's UNIX_TIMESTAMP(NOW(6)) to OUT
#                            (bench/lag.py matches them with segment records)
# bench_sysbench_tps LOG     the transactions/s of a `sysbench run` log (nan)
# bench_lag KEY T0 MARKERS=LABEL...
#                            bench/lag.py's report over these markers files
#                            against $WORK/segments.tsv (bench/lag.py watch):
#                            R[KEY_name] for each figure (R: a global
#                            associative array of the caller); p99 and max
#                            are nan when a marker never appeared

# shellcheck disable=SC2016,SC2034 # on_exit strings are expanded later; PROXY_PID is for the caller

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { r = $1; if (r != r) print \"nan\"; else printf \"%.3f\n\", r }" 2>/dev/null || echo nan; }
result() { printf 'RESULT %s %s %s\n' "$1" "$2" "$3"; }
json_get() { python3 -c 'import json, sys; j = json.load(sys.stdin); print('"$1"')'; }

bench_apt_install() {
    local f="/tmp/geodr-bench-$1.log"
    log "$1 missing: apt-get install $1"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >"$f" 2>&1 ||
        { apt-get update -q >>"$f" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >>"$f" 2>&1; } ||
        { log "$1 could not be installed (see $f)"; return 1; }
}

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

bench_s3_wan() {
    local s3rver="$GEODR_SRC/.cache/node/node_modules/.bin/s3rver" b
    local -a buckets=()
    [[ -x "$s3rver" ]] || die "s3rver missing: scripts/setup installs it into .cache/node"
    for b in "$@"; do
        buckets+=(--configure-bucket "$b")
    done
    S3DATA="$WORK/s3data"
    mkdir -p "$S3DATA"
    S3PORT="$(free_port)"
    PROXYPORT="$(free_port)"
    # s3rver 3.7 makes the continuation token of a listing longer than a
    # page (1,000 keys) with DES, which node 17+ (OpenSSL 3) keeps in the
    # legacy provider: without it every such listing is an HTTP 500.
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" \
        "$s3rver" -d "$S3DATA" -a 127.0.0.1 -p "$S3PORT" --silent "${buckets[@]}" \
        </dev/null >>"$LOGS/s3rver.log" 2>&1 &
    S3PID=$!
    on_exit 'kill $S3PID 2>/dev/null; wait $S3PID 2>/dev/null || true'
    wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$S3PORT/" ||
        die "s3rver did not start: $(tail -n 5 "$LOGS/s3rver.log")"
    python3 "$BENCH_DIR/wanproxy.py" --listen "$PROXYPORT" --target "127.0.0.1:$S3PORT" \
        --delay-ms "$DELAY_MS" --mbit "$MBIT" </dev/null >>"$LOGS/wanproxy.log" 2>&1 &
    PROXY_PID=$!
    on_exit 'kill -TERM $PROXY_PID 2>/dev/null; wait $PROXY_PID 2>/dev/null || true'
    wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PROXYPORT/" ||
        die "wanproxy did not start: $(tail -n 5 "$LOGS/wanproxy.log")"
    ENDPOINT="http://127.0.0.1:$PROXYPORT"
    (umask 077; printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$WORK/aws")
}

bench_s3_region() {
    geodr_config_add "$1" "" "[region $2]" "type = s3" "endpoint = $ENDPOINT" \
        "bucket = $3" "prefix = geodr/" "region = us-east-1" "credentials-file = $WORK/aws"
}

bench_marker_table() {
    mdb_sql "$1" "CREATE DATABASE IF NOT EXISTS bench;
        CREATE TABLE bench.lag (id BIGINT AUTO_INCREMENT PRIMARY KEY, t DATETIME(6) NOT NULL)"
}

bench_markers() {
    local srv="$1" secs="$2" ms="$3" out="$4" pid="${5:-}" pause end
    pause="$(awk "BEGIN { print $ms / 1000 }")"
    end=$((SECONDS + secs))
    while ((SECONDS < end)) && { [[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null; }; do
        echo "INSERT INTO bench.lag (t) VALUES (NOW(6)); SELECT @@last_gtid, UNIX_TIMESTAMP(NOW(6));"
        sleep "$pause"
    done | mdb_client "$srv" --batch -N --unbuffered >"$out" 2>"$out.err" ||
        log "the marker session on $srv failed: $(head -n 3 "$out.err")"
}

bench_sysbench_tps() {
    local tps
    tps="$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$1" 2>/dev/null)"
    echo "${tps:-nan}"
}

bench_lag() {
    local key="$1" t0="$2" k v
    shift 2
    python3 "$BENCH_DIR/lag.py" report "$WORK/segments.tsv" "$t0" "$@" >"$WORK/lag-$key.txt" 2>"$LOGS/lag-$key.err" ||
        log "bench/lag.py report $key failed: $(tail -n 3 "$LOGS/lag-$key.err")"
    while read -r k v; do R[${key}_$k]="$v"; done <"$WORK/lag-$key.txt"
    if [[ "${R[${key}_missing]:-nan}" != 0 ]]; then
        log "$key: ${R[${key}_missing]:-?} of ${R[${key}_markers]:-?} markers never appeared in a segment record"
        R[${key}_p99]=nan
        R[${key}_max]=nan
    fi
}
