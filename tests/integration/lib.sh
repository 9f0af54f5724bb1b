# shellcheck shell=bash
# tests/integration/lib.sh — helpers for geodr integration tests and benchmarks.
#
# Source it from a bash test script:
#
#     #!/bin/bash
#     set -euo pipefail
#     . "$(dirname "$0")/lib.sh"
#     tmpdir_new                       # sets $WORK, removed on exit
#     mdb_start src                    # exports SRC_PORT SRC_SOCK SRC_PID SRC_PASS ...
#     mdb_load src "$SQL_DIR/alltypes.sql"
#     write_config "$WORK/geodr.conf" shop src "$WORK/repo"
#     check "backup" "$GEODR" --config "$WORK/geodr.conf" backup shop
#     tap_done
#
# Everything the helpers print that is not TAP goes to stderr, so stdout stays
# a clean TAP stream for meson. Servers started here are stopped, and work
# directories removed, when the script exits (also on error or a signal);
# processes whose command line names a work directory (e.g. a server that
# `geodr restore --new-instance` left running) are stopped too.
# KEEP_WORK=1 keeps the work directories (servers are still stopped).
# LIB_NO_TAP=1 (benchmarks) turns off the TAP report of an early exit.
#
# TAP:     tap_plan N, ok, not_ok NAME [DIAG], skip NAME REASON, todo,
#          check NAME CMD..., check_fails NAME CMD..., is/isnt NAME GOT EXP,
#          like/unlike NAME TEXT REGEX, last_ok, skip_all, bail_out, tap_done.
#          Assertions always return 0 (set -e keeps going); a script that
#          ends without tap_done gets a final "not ok".
#          check captures output with $(...): not for commands that leave
#          a background process holding stdout.
# Work:    tmpdir_new [VAR], on_exit CMD, free_port, wait_for SECS CMD...,
#          require_cmd CMD..., require_geodr, note MSG, die MSG.
# MariaDB: mdb_start NAME [mariadbd args], mdb_stop, mdb_kill, mdb_restart,
#          mdb_stop_all, mdb_client NAME [args], mdb_sql NAME [SQL],
#          mdb_sql_db NAME DB [SQL], mdb_load NAME FILE [DB], mdb_gtid NAME,
#          checksum_all NAME [DB...], show_create_all NAME [DB...].
#          Call mdb_start/stop/kill/restart in the test's own shell, not in
#          $(...) or a pipeline (they keep state in shell variables).
# geodr:   $GEODR, $GEODR_SRC, $SQL_DIR, geodr_config FILE [LINE...],
#          geodr_config_add FILE [LINE...], write_config CFG INSTANCE SERVER
#          REGION_DIR [KEY_FILE], write_key FILE [PASSPHRASE],
#          archive_pos CFG INSTANCE [REGION], archive_holds CFG INSTANCE
#          SERVER [REGION], regions_sound CFG INSTANCE [REGION].

if [[ -n "${_GEODR_LIB_SH:-}" ]]; then
    return 0
fi
_GEODR_LIB_SH=1

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SQL_DIR="$LIB_DIR/sql"
export SQL_DIR
if [[ -z "${GEODR_SRC:-}" ]]; then
    GEODR_SRC="$(cd "$LIB_DIR/../.." && pwd)"
fi
if [[ -z "${GEODR:-}" ]]; then
    if [[ -x "$GEODR_SRC/build/geodr" ]]; then
        GEODR="$GEODR_SRC/build/geodr"
    elif [[ -x ./build/geodr ]]; then
        GEODR="$(pwd)/build/geodr"
    else
        GEODR="$GEODR_SRC/build/geodr"
    fi
fi
export GEODR GEODR_SRC
: "${MARIADBD:=/usr/sbin/mariadbd}"

# ---------------------------------------------------------------- logging --

# note MSG...: a line on stderr (never on the TAP stream).
note() { printf '%s\n' "$*" | sed 's/^/# /' >&2; }

# die MSG: fatal error outside of any assertion; the EXIT trap reports it.
die() {
    printf 'lib.sh: %s\n' "$*" >&2
    exit 1
}

# ------------------------------------------------------------------- TAP --

_tap_n=0
_tap_failed=0
_tap_plan=""
_tap_done=0
_tap_last=0     # 0 if the last assertion passed, 1 if it failed

# tap_plan N: print the plan up front (optional; tap_done prints it otherwise).
tap_plan() {
    _tap_plan="$1"
    printf '1..%s\n' "$1"
}

# _tap_diag TEXT: every line of TEXT as a "# " line on stdout.
_tap_diag() {
    local line
    [[ -n "${1:-}" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        printf '#   %s\n' "$line"
    done <<<"$1"
}

# ok NAME
ok() {
    _tap_n=$((_tap_n + 1))
    _tap_last=0
    printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# not_ok NAME [DIAGNOSTIC]
not_ok() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    _tap_last=1
    printf 'not ok %d - %s\n' "$_tap_n" "$1"
    _tap_diag "${2:-}"
}

# skip NAME REASON
skip() {
    _tap_n=$((_tap_n + 1))
    _tap_last=0
    printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "${2:-}"
}

# todo NAME REASON CMD...: like check, but a failure is a TODO (not counted).
todo() {
    local name="$1" reason="$2" out rc=0
    shift 2
    out="$("$@" 2>&1)" || rc=$?
    _tap_n=$((_tap_n + 1))
    _tap_last=$((rc != 0))
    if [[ $rc -eq 0 ]]; then
        printf 'ok %d - %s # TODO %s\n' "$_tap_n" "$name" "$reason"
    else
        printf 'not ok %d - %s # TODO %s\n' "$_tap_n" "$name" "$reason"
        _tap_diag "$out"
    fi
}

# check NAME CMD [ARGS...]: ok if CMD exits 0; else not ok with its output
# (stdout and stderr) and exit status as diagnostics.
check() {
    local name="$1" out rc=0
    shift
    out="$("$@" 2>&1)" || rc=$?
    if [[ $rc -eq 0 ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf 'command: %s\nexit status: %d\n%s' "$*" "$rc" "$(printf '%s\n' "$out" | tail -n 60)")"
    fi
}

# check_fails NAME CMD [ARGS...]: ok if CMD exits non-zero (and is not killed
# by a signal: status >= 128 counts as a failure of the test).
check_fails() {
    local name="$1" out rc=0
    shift
    out="$("$@" 2>&1)" || rc=$?
    if [[ $rc -ne 0 && $rc -lt 128 ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf 'command: %s\nexpected failure, exit status: %d\n%s' "$*" "$rc" "$(printf '%s\n' "$out" | tail -n 60)")"
    fi
}

# is NAME GOT EXPECTED: string equality; shows a diff for multi-line values.
is() {
    local name="$1" got="$2" exp="$3"
    if [[ "$got" == "$exp" ]]; then
        ok "$name"
    elif [[ "$got" == *$'\n'* || "$exp" == *$'\n'* ]]; then
        not_ok "$name" "$(diff -u --label expected --label got <(printf '%s\n' "$exp") <(printf '%s\n' "$got") | head -n 80)"
    else
        not_ok "$name" "$(printf "     got: '%s'\nexpected: '%s'" "$got" "$exp")"
    fi
}

# isnt NAME GOT UNEXPECTED
isnt() {
    if [[ "$2" != "$3" ]]; then
        ok "$1"
    else
        not_ok "$1" "$(printf "got: '%s'\nexpected anything else" "$2")"
    fi
}

# like NAME TEXT REGEX: bash extended regex match ([[ =~ ]]).
like() {
    local name="$1" text="$2" re="$3"
    if [[ "$text" =~ $re ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf "text: '%s'\ndoes not match: '%s'" "$(printf '%s' "$text" | head -c 4000)" "$re")"
    fi
}

# unlike NAME TEXT REGEX
unlike() {
    local name="$1" text="$2" re="$3"
    if [[ ! "$text" =~ $re ]]; then
        ok "$name"
    else
        not_ok "$name" "$(printf "text: '%s'\nmatches: '%s'" "$(printf '%s' "$text" | head -c 4000)" "$re")"
    fi
}

# last_ok: status 0 if the last assertion passed (assertions themselves always
# return 0 so that `set -e` scripts keep going), e.g.
#     check "backup" "$GEODR" ... backup shop; last_ok || bail_out "no backup"
last_ok() { return "$_tap_last"; }

# tap_failed_count: number of failed assertions so far.
tap_failed_count() { printf '%d\n' "$_tap_failed"; }

# skip_all REASON: the whole script is skipped (only before any assertion).
skip_all() {
    printf '1..0 # SKIP %s\n' "$1"
    _tap_done=1
    exit 0
}

# bail_out REASON: abort the whole test run.
bail_out() {
    printf 'Bail out! %s\n' "$1"
    _tap_done=1
    exit 1
}

# tap_done: print the plan if none was given, exit 1 if anything failed or
# the planned count was not met, else exit 0.
tap_done() {
    _tap_done=1
    if [[ -z "$_tap_plan" ]]; then
        printf '1..%d\n' "$_tap_n"
    elif [[ "$_tap_plan" != "$_tap_n" ]]; then
        printf '# planned %s tests but ran %d\n' "$_tap_plan" "$_tap_n"
        exit 1
    fi
    if [[ $_tap_failed -gt 0 ]]; then
        printf '# failed %d of %d\n' "$_tap_failed" "$_tap_n"
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- cleanup --

_cleanup_cmds=()

# on_exit CMD: run the string CMD (eval) when the script exits; LIFO order.
# Use this instead of `trap ... EXIT`, which would replace the library's trap.
on_exit() { _cleanup_cmds+=("$1"); }

_lib_exit() {
    local rc=$? i
    set +e
    trap - ERR
    if [[ "${LIB_NO_TAP:-0}" == 1 ]]; then
        _tap_done=1
    fi
    # An assertion stream that ended without tap_done (error under set -e,
    # an unexpected exit): report it as a failure so it cannot look green.
    if [[ $_tap_done -eq 0 && ( $_tap_n -gt 0 || -n "$_tap_plan" ) ]]; then
        _tap_n=$((_tap_n + 1))
        printf 'not ok %d - test script ended early (exit status %d)\n' "$_tap_n" "$rc"
        [[ -n "$_tap_plan" ]] || printf '1..%d\n' "$_tap_n"
        [[ $rc -ne 0 ]] || rc=1
    elif [[ $_tap_done -eq 0 && $rc -ne 0 ]]; then
        printf '1..1\nnot ok 1 - test script failed before any test (exit status %d)\n' "$rc"
    fi
    mdb_stop_all
    for i in "${_work_dirs[@]}"; do
        stop_procs_under "$i"
    done
    for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
        eval "${_cleanup_cmds[$i]}" || true
    done
    _cleanup_cmds=()
    exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

_work_dirs=()

# _pid_alive PID: running (not a zombie)
_pid_alive() {
    local st=""
    kill -0 "$1" 2>/dev/null || return 1
    read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 0
    [[ $st != Z ]]
}

# stop_procs_under DIR: SIGTERM every process of ours whose command line
# mentions DIR (e.g. a server that `geodr restore --new-instance` left
# running in the work dir), SIGKILL after 30 s. Runs for every tmpdir_new
# directory on exit.
stop_procs_under() {
    local dir="$1" f pid t0
    local -a pids=()
    [[ -n "$dir" && -d /proc/self ]] || return 0
    for f in /proc/[0-9]*/cmdline; do
        pid="${f#/proc/}"
        pid="${pid%/cmdline}"
        [[ $pid != "$$" && $pid != "$BASHPID" && -O $f ]] 2>/dev/null || continue
        local -a argv=()
        mapfile -d '' argv <"$f" 2>/dev/null || continue
        if [[ " ${argv[*]} " == *"$dir/"* ]]; then
            pids+=("$pid")
        fi
    done
    [[ ${#pids[@]} -gt 0 ]] || return 0
    note "stopping leftover processes under $dir: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    t0=$SECONDS
    while :; do
        local -a alive=()
        for pid in "${pids[@]}"; do
            _pid_alive "$pid" && alive+=("$pid")
        done
        pids=("${alive[@]}")
        [[ ${#pids[@]} -gt 0 ]] || return 0
        ((SECONDS - t0 < 30)) || break
        sleep 0.2
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
}

# tmpdir_new [VAR]: create ${TMPDIR:-/tmp}/geodr-test.XXXX, removed on exit,
# and store its path in VAR (default WORK; exported).
tmpdir_new() {
    local var="${1:-WORK}" d
    d="$(mktemp -d "${TMPDIR:-/tmp}/geodr-test.XXXX")" || die "mktemp failed"
    chmod 755 "$d"
    _work_dirs+=("$d")
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then
        on_exit "printf '# kept %s\n' '$d' >&2"
    else
        on_exit "rm -rf '$d'"
    fi
    printf -v "$var" '%s' "$d"
    export "${var?}"
}

_need_work() {
    if [[ -z "${WORK:-}" || ! -d "${WORK:-}" ]]; then
        tmpdir_new WORK
    fi
}

# ------------------------------------------------------------------ ports --

_ports_given=" "

_port_is_free() {
    local p="$1"
    if command -v ss >/dev/null 2>&1; then
        [[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]]
    else
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

# free_port: print a loopback TCP port that is free now and was not handed
# out before by this script.
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=""
        if command -v python3 >/dev/null 2>&1; then
            p="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null)" || p=""
        fi
        if [[ -z "$p" ]]; then
            p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
            _port_is_free "$p" || continue
        fi
        if [[ "$_ports_given" != *" $p "* ]]; then
            _ports_given+="$p "
            printf '%s\n' "$p"
            return 0
        fi
    done
    die "free_port: no free port found"
}

# --------------------------------------------------------------- mariadb --

declare -A _mdb_pid=() _mdb_dir=() _mdb_port=() _mdb_sid=() _mdb_args=()
_mdb_next_id=$(( (RANDOM % 1000) * 100 + 10 ))

# _mdb_var NAME: NAME as a variable prefix (src -> SRC, dr-1 -> DR_1).
_mdb_var() {
    local v="${1^^}"
    printf '%s\n' "${v//[^A-Z0-9_]/_}"
}

_mdb_exports() {
    local name="$1" v dir
    v="$(_mdb_var "$name")"
    dir="${_mdb_dir[$name]}"
    printf -v "${v}_PORT" '%s' "${_mdb_port[$name]}"
    printf -v "${v}_SOCK" '%s' "$(cat "$dir/sockpath")"
    printf -v "${v}_PID" '%s' "${_mdb_pid[$name]:-}"
    printf -v "${v}_PASS" '%s' "$(cat "$WORK/$name.pass")"
    printf -v "${v}_PASSFILE" '%s' "$WORK/$name.pass"
    printf -v "${v}_CNF" '%s' "$WORK/$name.cnf"
    printf -v "${v}_DIR" '%s' "$dir"
    printf -v "${v}_DATA" '%s' "$dir/data"
    printf -v "${v}_LOG" '%s' "$dir/error.log"
    printf -v "${v}_SERVER_ID" '%s' "${_mdb_sid[$name]}"
    # shellcheck disable=SC2163
    export "${v}_PORT" "${v}_SOCK" "${v}_PID" "${v}_PASS" "${v}_PASSFILE" \
        "${v}_CNF" "${v}_DIR" "${v}_DATA" "${v}_LOG" "${v}_SERVER_ID"
}

_mdb_alive() {
    local pid="${_mdb_pid[$1]:-}"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# _mdb_launch NAME: start mariadbd on the existing data directory.
_mdb_launch() {
    local name="$1" dir sock port pid t0 logsz
    dir="${_mdb_dir[$name]}"
    sock="$(cat "$dir/sockpath")"
    port="${_mdb_port[$name]}"
    local -a cmd=("$MARIADBD" --no-defaults
        --datadir="$dir/data" --socket="$sock" --pid-file="$dir/mariadbd.pid"
        --tmpdir="$dir/tmp" --port="$port" --bind-address=127.0.0.1
        --skip-name-resolve --log-bin=mysql-bin --server-id="${_mdb_sid[$name]}"
        --binlog-format=ROW --log-error="$dir/error.log"
        --innodb-buffer-pool-size=128M --innodb-log-file-size=64M
        --innodb-flush-log-at-trx-commit=2 --max-allowed-packet=64M
        --local-infile=1 --secure-file-priv="" --character-set-server=utf8mb4
        --collation-server=utf8mb4_general_ci)
    [[ $(id -u) -ne 0 ]] || cmd+=(--user=root)
    # shellcheck disable=SC2206
    eval "local -a extra=(${_mdb_args[$name]})"
    cmd+=("${extra[@]}")
    logsz=$(stat -c %s "$dir/error.log" 2>/dev/null || echo 0)
    printf '%s\n' "${cmd[*]}" >"$dir/cmdline"
    "${cmd[@]}" </dev/null >>"$dir/mariadbd.out" 2>&1 &
    pid=$!
    _mdb_pid[$name]=$pid
    t0=$SECONDS
    while ((SECONDS - t0 < 60)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            unset "_mdb_pid[$name]"
            if tail -c +$((logsz + 1)) "$dir/error.log" 2>/dev/null |
                grep -qiE 'Address already in use|Bind on TCP/IP port'; then
                return 2
            fi
            printf 'mdb_start %s: mariadbd exited during startup; error log tail:\n' "$name" >&2
            tail -n 30 "$dir/error.log" >&2 2>/dev/null || true
            return 1
        fi
        if mariadb-admin --no-defaults --socket="$sock" -uroot \
            --connect-timeout=2 ping >/dev/null 2>&1 ||
            mariadb-admin --defaults-file="$WORK/$name.cnf" \
                --connect-timeout=2 ping >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    printf 'mdb_start %s: no answer after 60 s; error log tail:\n' "$name" >&2
    tail -n 30 "$dir/error.log" >&2 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "_mdb_pid[$name]"
    return 1
}

# mdb_start NAME [mariadbd args...]: new MariaDB server in $WORK/NAME on a
# free loopback port (creates $WORK with tmpdir_new if needed). Later args
# override the defaults (e.g. --server-id=7, --gtid-strict-mode=1).
# Exports for NAME=src: SRC_PORT SRC_SOCK SRC_PID SRC_PASS SRC_PASSFILE
# ($WORK/src.pass, mode 600, password without newline), SRC_CNF
# ($WORK/src.cnf: [client] section for --defaults-file), SRC_DIR, SRC_DATA,
# SRC_LOG (error log), SRC_SERVER_ID.
# root@localhost (socket, no password), root@127.0.0.1 and root@'%'
# (password $SRC_PASS) have all privileges.
mdb_start() {
    local name="$1" dir sock pass _try rc=0 out
    shift
    [[ "$name" =~ ^[A-Za-z][A-Za-z0-9_-]*$ ]] || die "mdb_start: bad name '$name'"
    if _mdb_alive "$name"; then
        die "mdb_start: server '$name' already running"
    fi
    _need_work
    dir="$WORK/$name"
    [[ ! -e "$dir" ]] || die "mdb_start: $dir exists (use mdb_restart)"
    mkdir -p "$dir/data" "$dir/tmp"
    sock="$dir/mariadbd.sock"
    if ((${#sock} > 100)); then
        local sd
        sd="$(mktemp -d /tmp/geodr-sock.XXXX)"
        on_exit "rm -rf '$sd'"
        sock="$sd/$name.sock"
    fi
    printf '%s\n' "$sock" >"$dir/sockpath"
    local -a install=(mariadb-install-db --no-defaults --datadir="$dir/data"
        --auth-root-authentication-method=normal --skip-test-db
        --innodb-log-file-size=64M --tmpdir="$dir/tmp")
    if [[ $(id -u) -eq 0 ]]; then
        install+=(--user=root)
    else
        install+=(--user="$(id -un)")
    fi
    if ! out="$("${install[@]}" 2>&1)"; then
        printf 'mdb_start %s: mariadb-install-db failed:\n%s\n' "$name" "$out" >&2
        return 1
    fi
    printf '%s\n' "$out" >"$dir/install-db.log"
    _mdb_dir[$name]="$dir"
    _mdb_sid[$name]=$((_mdb_next_id++))
    _mdb_args[$name]=""
    [[ $# -eq 0 ]] || _mdb_args[$name]="$(printf '%q ' "$@")"
    pass="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
    (umask 077; printf '%s' "$pass" >"$WORK/$name.pass")
    for _try in 1 2 3 4 5; do
        _mdb_port[$name]="$(free_port)"
        _mdb_write_cnf "$name" "$pass"
        rc=0
        _mdb_launch "$name" || rc=$?
        [[ $rc -eq 2 ]] || break
        note "mdb_start $name: port ${_mdb_port[$name]} taken, retrying"
    done
    if [[ $rc -ne 0 ]]; then
        return 1
    fi
    mariadb --no-defaults --socket="$sock" -uroot --batch <<SQL || { printf 'mdb_start %s: user setup failed\n' "$name" >&2; return 1; }
CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE OR REPLACE USER 'root'@'%' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
    _mdb_exports "$name"
    note "mdb_start $name: port ${_mdb_port[$name]} pid ${_mdb_pid[$name]} dir $dir"
}

_mdb_write_cnf() {
    local name="$1" pass="$2"
    (umask 077; cat >"$WORK/$name.cnf" <<EOF
[client]
host=127.0.0.1
port=${_mdb_port[$name]}
user=root
password=$pass
protocol=TCP

[mysql]
max-allowed-packet=1G
local-infile=1
default-character-set=utf8mb4

[mysqldump]
max-allowed-packet=1G
EOF
    )
}

# mdb_stop NAME: clean shutdown (mariadb-admin shutdown); kill -9 after 30 s.
mdb_stop() {
    local name="$1" pid dir t0
    pid="${_mdb_pid[$name]:-}"
    dir="${_mdb_dir[$name]:-}"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        timeout 30 mariadb-admin --no-defaults --socket="$(cat "$dir/sockpath")" \
            -uroot --connect-timeout=5 shutdown >/dev/null 2>&1 ||
            kill -TERM "$pid" 2>/dev/null || true
        t0=$SECONDS
        while kill -0 "$pid" 2>/dev/null && ((SECONDS - t0 < 30)); do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            note "mdb_stop $name: no clean shutdown in 30 s, kill -9"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "_mdb_pid[$name]"
    local v
    v="$(_mdb_var "$name")"
    printf -v "${v}_PID" '%s' ""
}

# mdb_kill NAME: kill -9 (crash), no shutdown.
mdb_kill() {
    local name="$1" pid="${_mdb_pid[$1]:-}"
    [[ -n "$pid" ]] || return 0
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "_mdb_pid[$name]"
    local v
    v="$(_mdb_var "$name")"
    printf -v "${v}_PID" '%s' ""
}

# mdb_restart NAME [mariadbd args...]: stop if running, start again on the
# same data directory and port (new args replace the extra args if given).
mdb_restart() {
    local name="$1"
    shift
    [[ -n "${_mdb_dir[$name]:-}" ]] || die "mdb_restart: unknown server '$name'"
    mdb_stop "$name"
    if [[ $# -gt 0 ]]; then
        _mdb_args[$name]="$(printf '%q ' "$@")"
    fi
    _mdb_launch "$name" || return 1
    _mdb_exports "$name"
}

# mdb_stop_all: stop every server this script started.
mdb_stop_all() {
    local name
    for name in "${!_mdb_pid[@]}"; do
        mdb_stop "$name"
    done
}

# mdb_client NAME [mariadb args...]: the mariadb client connected over TCP
# as root (e.g. `mdb_client src sbtest <dump.sql`).
mdb_client() {
    local name="$1"
    shift
    [[ -f "$WORK/$name.cnf" ]] || die "mdb_client: unknown server '$name'"
    mariadb --defaults-file="$WORK/$name.cnf" "$@"
}

# mdb_sql NAME "SQL": run SQL over TCP as root; tab-separated rows, no
# header, raw (no escaping). Without SQL, reads statements from stdin.
mdb_sql() {
    local name="$1"
    if [[ $# -ge 2 ]]; then
        mdb_client "$name" --batch -N --raw -e "$2"
    else
        mdb_client "$name" --batch -N --raw
    fi
}

# mdb_sql_db NAME DB "SQL": same, with DB as the default database.
mdb_sql_db() {
    local name="$1" db="$2"
    if [[ $# -ge 3 ]]; then
        mdb_client "$name" --batch -N --raw --database="$db" -e "$3"
    else
        mdb_client "$name" --batch -N --raw --database="$db"
    fi
}

# mdb_load NAME FILE [DB]: run an SQL script file (e.g. $SQL_DIR/alltypes.sql).
mdb_load() {
    local name="$1" file="$2"
    if [[ $# -ge 3 ]]; then
        mdb_client "$name" --batch --database="$3" <"$file"
    else
        mdb_client "$name" --batch <"$file"
    fi
}

# mdb_gtid NAME: the server's @@gtid_current_pos.
mdb_gtid() { mdb_sql "$1" "SELECT @@GLOBAL.gtid_current_pos"; }

_sys_dbs="'mysql','sys','information_schema','performance_schema'"

# _db_filter DBS...: SQL condition on column table_schema / schema column.
_db_filter() {
    local col="$1" d list=""
    shift
    if [[ $# -eq 0 ]]; then
        printf '%s NOT IN (%s)' "$col" "$_sys_dbs"
        return
    fi
    for d in "$@"; do
        list+="${list:+,}'${d//\'/\'\'}'"
    done
    printf '%s IN (%s)' "$col" "$list"
}

# _qi NAME: NAME as a quoted identifier.
# shellcheck disable=SC2016
_qi() { printf '`%s`' "${1//\`/\`\`}"; }

# checksum_all NAME [DB...]: "db.table checksum" for every base table (all
# non-system databases, or the given ones), sorted. CHECKSUM TABLE EXTENDED.
checksum_all() {
    local name="$1" db t sql="" line
    shift
    local -a tabs=()
    while IFS=$'\t' read -r db t; do
        [[ -n "$db" ]] || continue
        tabs+=("$(_qi "$db").$(_qi "$t")")
    done < <(mdb_client "$name" --batch -N -e "SELECT table_schema, table_name
        FROM information_schema.tables WHERE table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')
        AND $(_db_filter table_schema "$@") ORDER BY 1, 2")
    [[ ${#tabs[@]} -gt 0 ]] || return 0
    for t in "${tabs[@]}"; do
        sql+="${sql:+, }$t"
    done
    sql="CHECKSUM TABLE $sql EXTENDED"
    mdb_client "$name" --batch -N -e "$sql" | while IFS=$'\t' read -r t line; do
        printf '%s %s\n' "$t" "$line"
    done | LC_ALL=C sort
}

# values_all NAME [DB...]: "db.table md5" for every base table: the MD5 of
# every row's values (HEX of each stored column, history rows and their row
# start/end of system-versioned tables included), rows sorted.  A value by
# value comparison beside CHECKSUM TABLE.
values_all() {
    local name="$1" db t sel vers
    shift
    mdb_client "$name" --batch -N -e "SET SESSION group_concat_max_len = 1048576;
        SELECT c.table_schema, c.table_name,
        GROUP_CONCAT(CONCAT('IFNULL(HEX(\`', REPLACE(c.column_name, '\`', '\`\`'), '\`),''-'')')
            ORDER BY c.ordinal_position SEPARATOR ','),
        MAX(t.table_type = 'SYSTEM VERSIONED') + MAX(c.is_generated = 'ALWAYS')
        FROM information_schema.columns c JOIN information_schema.tables t
          ON BINARY t.table_schema = BINARY c.table_schema AND BINARY t.table_name = BINARY c.table_name
        WHERE t.table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') AND (c.is_generated = 'NEVER'
          OR c.generation_expression IN ('ROW START', 'ROW END'))
        AND $(_db_filter c.table_schema "$@") GROUP BY BINARY c.table_schema, BINARY c.table_name" |
    while IFS=$'\t' read -r db t sel vers; do
        # vers: 0 plain, 1 versioned with implicit row start/end, 2 explicit
        if [[ $vers == 1 ]]; then
            sel="$sel,HEX(ROW_START),HEX(ROW_END)"
        fi
        if [[ $vers != 0 ]]; then
            vers=" FOR SYSTEM_TIME ALL"
        else
            vers=""
        fi
        printf '%s.%s %s\n' "$db" "$t" "$(mdb_client "$name" --batch -N -e "SELECT CONCAT_WS(',', $sel) AS r
            FROM $(_qi "$db").$(_qi "$t")$vers ORDER BY r" | md5sum | cut -c1-32)"
    done | LC_ALL=C sort
}

# show_create_all NAME [DB...]: SHOW CREATE output of every database, table,
# sequence, view, trigger, procedure, function and event (all non-system
# databases, or the given ones), one block per object, sorted by kind and
# name, with AUTO_INCREMENT=N removed. Each block is "-- KIND db.name" then
# the statement, then sql_mode / charset context lines where the server
# reports them. Meant to be diffed between a source and a restored copy.
show_create_all() {
    local name="$1"
    shift
    {
        _sc_kind "$name" DATABASE "SELECT schema_name, '' FROM information_schema.schemata WHERE $(_db_filter schema_name "$@")" \
            'SHOW CREATE DATABASE %s' 2
        _sc_kind "$name" TABLE "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type IN ('BASE TABLE','SYSTEM VERSIONED') AND $(_db_filter table_schema "$@")" \
            'SHOW CREATE TABLE %s' 2
        _sc_kind "$name" SEQUENCE "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'SEQUENCE' AND $(_db_filter table_schema "$@")" \
            'SHOW CREATE SEQUENCE %s' 2
        _sc_kind "$name" VIEW "SELECT table_schema, table_name FROM information_schema.views WHERE $(_db_filter table_schema "$@")" \
            'SHOW CREATE VIEW %s' 2,3:character_set_client,4:collation_connection
        _sc_kind "$name" TRIGGER "SELECT trigger_schema, trigger_name FROM information_schema.triggers WHERE $(_db_filter trigger_schema "$@")" \
            'SHOW CREATE TRIGGER %s' 3,2:sql_mode,4:character_set_client,5:collation_connection,6:db_collation
        _sc_kind "$name" PROCEDURE "SELECT routine_schema, routine_name FROM information_schema.routines WHERE routine_type = 'PROCEDURE' AND $(_db_filter routine_schema "$@")" \
            'SHOW CREATE PROCEDURE %s' 3,2:sql_mode,4:character_set_client,5:collation_connection,6:db_collation
        _sc_kind "$name" FUNCTION "SELECT routine_schema, routine_name FROM information_schema.routines WHERE routine_type = 'FUNCTION' AND $(_db_filter routine_schema "$@")" \
            'SHOW CREATE FUNCTION %s' 3,2:sql_mode,4:character_set_client,5:collation_connection,6:db_collation
        _sc_kind "$name" EVENT "SELECT event_schema, event_name FROM information_schema.events WHERE $(_db_filter event_schema "$@")" \
            'SHOW CREATE EVENT %s' 4,2:sql_mode,3:time_zone,5:character_set_client,6:collation_connection,7:db_collation
    } | LC_ALL=C sort -s -t $'\t' -k1,1 | while IFS=$'\t' read -r key text; do
        printf -- '-- %s\n' "$key"
        # batch mode escapes \n \t \\ and NUL; undo for readability.
        printf '%s\n' "$text" | sed -e 's/\\n/\n/g' -e 's/\\t/\t/g' \
            -e 's/ AUTO_INCREMENT=[0-9]*//'
    done
}

# _sc_kind NAME KIND LIST_SQL SHOW_FMT FIELDS: one line per object,
# "KIND db.name<TAB>statement\n  /* label = value */..." (batch-escaped).
# FIELDS: the statement's column number, then N:label for context columns.
_sc_kind() {
    local name="$1" kind="$2" list="$3" fmt="$4" fields="$5" db obj sql="" ident
    local -a keys=()
    while IFS=$'\t' read -r db obj; do
        [[ -n "$db" ]] || continue
        if [[ $kind == DATABASE ]]; then
            ident="$(_qi "$db")"
            keys+=("$kind $db")
        else
            ident="$(_qi "$db").$(_qi "$obj")"
            keys+=("$kind $db.$obj")
        fi
        # shellcheck disable=SC2059
        sql+="$(printf "$fmt" "$ident");"
    done < <(mdb_client "$name" --batch -N -e "$list")
    [[ ${#keys[@]} -gt 0 ]] || return 0
    local i=0 line out f
    local -a fl
    IFS=, read -ra fl <<<"$fields"
    while IFS= read -r line; do
        local -a cols
        # a non-whitespace IFS keeps empty fields (e.g. an empty sql_mode)
        line="${line//$'\t'/$'\x1f'}"
        IFS=$'\x1f' read -ra cols <<<"$line"
        out="${cols[$((fl[0] - 1))]:-}"
        for f in "${fl[@]:1}"; do
            out+="\\n  /* ${f#*:} = ${cols[$((${f%%:*} - 1))]:-} */"
        done
        printf '%s\t%s\n' "${keys[$i]}" "$out"
        i=$((i + 1))
    done < <(mdb_client "$name" --batch -N -e "$sql")
}

# ---------------------------------------------------------- geodr config --

# geodr_config FILE [LINE...]: write FILE (mode 600) from the given lines,
# or from stdin when no line is given (use a heredoc).
geodr_config() {
    local file="$1"
    shift
    (
        umask 077
        if [[ $# -gt 0 ]]; then
            printf '%s\n' "$@" >"$file"
        else
            cat >"$file"
        fi
    )
}

# write_config CONFIG_FILE INSTANCE SERVER REGION_DIR [KEY_FILE]: one posix
# region "home" at REGION_DIR (created) and one instance INSTANCE for the
# server SERVER started by mdb_start (host 127.0.0.1, user root, password
# file $WORK/SERVER.pass). Append more sections with geodr_config_add.
write_config() {
    local cfg="$1" inst="$2" srv="$3" region="$4" key="${5:-}"
    [[ -n "${_mdb_port[$srv]:-}" ]] || die "write_config: unknown server '$srv'"
    mkdir -p "$region"
    {
        printf '[region home]\ntype = posix\npath = %s\n\n' "$region"
        printf '[instance %s]\nhost = 127.0.0.1\nport = %s\nuser = root\n' "$inst" "${_mdb_port[$srv]}"
        printf 'password-file = %s\n' "$WORK/$srv.pass"
        [[ -z "$key" ]] || printf 'key-file = %s\n' "$key"
        printf 'home-region = home\n'
    } | geodr_config "$cfg"
}

# geodr_config_add FILE [LINE...]: append lines (or stdin) to a config.
geodr_config_add() {
    local file="$1"
    shift
    if [[ $# -gt 0 ]]; then
        printf '%s\n' "$@" >>"$file"
    else
        cat >>"$file"
    fi
}

# write_key FILE [PASSPHRASE]: a key file (mode 600), random passphrase
# unless given.
write_key() {
    local file="$1" pass="${2:-}"
    [[ -n "$pass" ]] || pass="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
    (umask 077; printf '%s\n' "$pass" >"$file")
}

# ------------------------------------------------------------------ misc --

# run CMD...: run CMD (under a time limit) with stdout, stderr, exit status
# and wall time captured in RUN_OUT, RUN_ERR, RUN_RC, RUN_SECS (files kept
# under $OUT, default $WORK/run).
_run_n=0
run() {
    _run_n=$((_run_n + 1))
    local dir="${OUT:-$WORK/run}" t0 t1
    mkdir -p "$dir"
    local base="$dir/$_run_n"
    printf '%s\n' "$*" >"$base.cmd"
    t0="$(date +%s.%N)"
    RUN_RC=0
    timeout -k 5 120 "$@" >"$base.out" 2>"$base.err" || RUN_RC=$?
    t1="$(date +%s.%N)"
    RUN_SECS="$(python3 -c "print(round($t1 - $t0, 1))")"
    RUN_OUT="$(cat "$base.out")"
    RUN_ERR="$(cat "$base.err")"
    RUN_CMD="$*"
}

# wait_for TIMEOUT_S CMD...: retry CMD (silenced) every 0.2 s until it
# succeeds; status 1 on timeout.
wait_for() {
    local t="$1" t0=$SECONDS
    shift
    while ! "$@" >/dev/null 2>&1; do
        ((SECONDS - t0 < t)) || return 1
        sleep 0.2
    done
}

# archive_pos CONFIG INSTANCE [REGION]: the GTID position the binlog
# archive of INSTANCE reaches in REGION (default: its home region).
archive_pos() {
    "$GEODR" --config "$1" --json info "$2" | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
r = i if sys.argv[1] == "home" else [c for c in i.get("copies", []) if c["region"] == sys.argv[1]][0]
print((r.get("archive") or {}).get("gtid_pos", ""))' "${3:-home}"
}

# archive_holds CONFIG INSTANCE SERVER [REGION]: true when REGION's (default:
# the home region's) binlog archive of INSTANCE holds the server's whole
# @@gtid_binlog_pos (use with wait_for while the archive runs).
archive_holds() {
    local pos arch
    pos="$(mdb_sql "$3" 'SELECT @@GLOBAL.gtid_binlog_pos')"
    arch="$(archive_pos "$1" "$2" "${4:-home}")" || return 1
    [[ "$arch" == "$pos" ]]
}

# regions_sound CONFIG INSTANCE [REGION]: every region of INSTANCE shows no
# error, no set that fails and no gap in its archive (else the problems on
# stderr, status 1); prints the sets REGION (default home) lists.
regions_sound() {
    "$GEODR" --config "$1" --json info "$2" | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
bad = []
sets = []
for r in [dict(i, region="home")] + i.get("copies", []):
    if "error" in r:
        bad.append("region %s: %s" % (r["region"], r["error"]))
    for s in r.get("sets", []):
        if "error" in s or "unusable" in s:
            bad.append("region %s: set %s: %s" % (r["region"], s["set"], s.get("error") or s.get("unusable")))
    a = r.get("archive") or {}
    if a.get("gaps"):
        bad.append("region %s: archive gaps %s" % (r["region"], a["gaps"]))
    if r["region"] == sys.argv[1]:
        sets = [s["set"] for s in r.get("sets", [])]
if bad:
    sys.exit("\n".join(bad))
print(" ".join(sets))' "${3:-home}"
}

# require_cmd CMD...: skip the whole script if a command is missing.
require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed (run scripts/setup)"
    done
}

# require_geodr: skip the whole script if the geodr binary is not built.
require_geodr() {
    [[ -x "$GEODR" ]] || skip_all "geodr binary $GEODR not built"
}
