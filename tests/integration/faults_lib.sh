# shellcheck shell=bash
# tests/integration/faults_lib.sh — the storage-fault loop shared by
# faults.sh, faults_s3.sh and faults_restore.sh (sourced after lib.sh; see
# docs/testing.md, "Storage faults").  The instance is always "shop".
#
# faults NAME CONFIG REGION PREP ARGS...
#     runs `geodr --config CONFIG ARGS` (after PREP) once to count the calls
#     to REGION, then once per call index of each kind with that call
#     failing (GEODR_FAULT), each followed by a run without faults.  After
#     the failing run: it completed, or exited 1 with an error naming the
#     fault; $CHECK_FAILED passes.  After the next run (it must complete):
#     $CHECK_NEXT and every function in $AFTER pass.  One TAP line per kind.
#     Settings (shell variables, all optional):
#       KINDS         the kinds to fail (default $ALL_KINDS; KIND+lost: the
#                     call is carried out and only its reply is lost)
#       CHECK_FAILED  command run as `CMD CONFIG REGION` after the failing
#                     run (default consistent); it finds the run's exit
#                     status, output and GEODR_FAULT in FAULT_RC, FAULT_OUT
#                     and FAULT_SPEC
#       BEFORE_NEXT   a command run before the next run (default none)
#       CHECK_NEXT    the same after the next run (default consistent)
#       AFTER         more functions (no arguments) after the next run
#       MAX_RUNS      at most about this many indexes per kind, spread
#                     evenly, the first and the last included (default: all)
#       INDEXES       command run as `CMD N STEP KIND TRACE` printing the
#                     indexes to fail, one a line (default _fault_indexes);
#                     TRACE is the counting run's GEODR_FAULT trace ("geodr:
#                     GEODR_FAULT: KIND INDEX OBJECT in region REGION" lines)
#       RUN_TIMEOUT   seconds a run may take (default 60)
#     Every index of the calls that change or list a region is tried, and
#     every $READ_STEP-th of those that only read (open_read, read, stat;
#     FAULT_READ_STEP, default 2), unless MAX_RUNS spreads them wider.
# faults_source
#     starts server src with the data of the runs: shop.t, 200 small rows.
# consistent CONFIG REGION
#     every region of CONFIG shows no error, no set that fails and no gap in
#     its archive, and verify reads all of REGION when it holds a set (with
#     VERIFY_LAST=N: only its N newest sets, for regions that gain a large
#     set with every run).
# home_has_all, far_has_all (for AFTER)
#     the archive of config $home's home region reaches the GTID position of
#     server src; that of config $copy's copy region "far" the home's.
# new_segment, new_set_and_segment, prep_none, prep_insert (for PREP)
#     a new transaction in shop.t of server src and an archive run of
#     config $home (a segment); and a backup before it; nothing; a new
#     transaction only.

READ_STEP="${FAULT_READ_STEP:-2}"
ALL_KINDS="open_read read open_write write commit stat list remove commit+lost remove+lost"

faults_source() {
    mdb_start src
    mdb_sql src "CREATE DATABASE shop;
CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;
INSERT INTO shop.t SELECT seq, MD5(seq) FROM shop.seq_1_to_200;" >/dev/null
}

consistent() {
    local cfg="$1" region="$2" sets s
    sets="$(regions_sound "$cfg" shop "$region")" || return 1
    [[ -n "$sets" ]] || return 0
    if [[ -z "${VERIFY_LAST:-}" ]]; then
        "$GEODR" --config "$cfg" --quiet verify shop --region "$region" >/dev/null
        return
    fi
    for s in $(tr ' ' '\n' <<<"$sets" | tail -n "$VERIFY_LAST"); do
        "$GEODR" --config "$cfg" --quiet verify shop "$s" --region "$region" >/dev/null || return 1
    done
}

# _fault_indexes N STEP: the call indexes to fail, one a line.
_fault_indexes() {
    local n="$1" step="$2" i last=0
    if ((${MAX_RUNS:-0} >= 2)) && (((n + step - 1) / step > MAX_RUNS)); then
        step=$(((n - 1 + MAX_RUNS - 2) / (MAX_RUNS - 1)))
        ((step > 0)) || step=1
    fi
    for ((i = 1; i <= n; i += step)); do
        echo "$i"
        last="$i"
    done
    # A spread-out sample always ends with the last call.
    ((step == $2 || last == n)) || echo "$n"
}

faults() {
    local name="$1" cfg="$2" region="$3" prep="$4" kind spec n i step err out out2 rc fired problems runs failed after
    local check_failed="${CHECK_FAILED:-consistent}" check_next="${CHECK_NEXT:-consistent}" tmo="${RUN_TIMEOUT:-60}"
    local -a kinds
    read -ra kinds <<<"${KINDS:-$ALL_KINDS}"
    shift 4
    "$prep"
    if GEODR_FAULT="count=$WORK/counts,trace,region=$region" "$GEODR" --config "$cfg" --quiet "$@" >"$WORK/out" 2>&1 &&
        $check_next "$cfg" "$region" >>"$WORK/out" 2>&1; then
        grep 'GEODR_FAULT: ' "$WORK/out" >"$WORK/trace.$name" || true
        ok "$name without faults: $(grep -v '^fired' "$WORK/counts" | tr '\n' ' ')"
    else
        not_ok "$name without faults" "$(grep -v 'GEODR_FAULT: ' "$WORK/out")"
        return 0
    fi
    cp "$WORK/counts" "$WORK/counts.$name"
    for kind in "${kinds[@]}"; do
        n="$(awk -v k="${kind%+lost}" '$1 == k { print $2 }' "$WORK/counts.$name")"
        if ((n == 0)); then
            skip "$name: no $kind call to fail" "the run makes none"
            continue
        fi
        problems=""
        runs=0
        failed=0
        step=1
        [[ "$kind" != open_read && "$kind" != read && "$kind" != stat ]] || step="$READ_STEP"
        for i in $(${INDEXES:-_fault_indexes} "$n" "$step" "${kind%+lost}" "$WORK/trace.$name"); do
            err=net
            ((runs % 2 == 0)) || err=io
            spec="${kind%+lost}=$i,error=$err"
            [[ "$kind" != *+lost ]] || spec+=",lost"
            "$prep"
            rc=0
            out="$(GEODR_FAULT="$spec,region=$region,count=$WORK/fired" \
                timeout -k 5 "$tmo" "$GEODR" --config "$cfg" --quiet "$@" 2>&1)" || rc=$?
            fired="$(awk '$1 == "fired" { print $2 }' "$WORK/fired" 2>/dev/null || echo '?')"
            runs=$((runs + 1))
            # (a) completed, or failed with a clear error (no crash, no hang).
            if ((rc == 1)) && [[ "$out" == *"error: "* && "$out" == *"injected fault"* ]]; then
                failed=$((failed + 1))
            elif ((rc != 0)); then
                problems+="$kind=$i ($err): exit status $rc, no error naming the fault: $out"$'\n'
            fi
            # (b) nothing partial visible.
            # shellcheck disable=SC2034 # read by CHECK_FAILED
            FAULT_RC="$rc" FAULT_OUT="$out" FAULT_SPEC="$spec"
            if ! out2="$($check_failed "$cfg" "$region" 2>&1)"; then
                problems+="$kind=$i ($err, fired $fired, exit $rc): after the failing run: $out2"$'\n'
            fi
            # (c) the next run completes, and all of it checks out.
            ${BEFORE_NEXT:-}
            if ! out2="$(timeout -k 5 "$tmo" "$GEODR" --config "$cfg" --quiet "$@" 2>&1)"; then
                problems+="$kind=$i ($err, fired $fired): the next run failed: $out2"$'\n'
            elif ! out2="$($check_next "$cfg" "$region" 2>&1)"; then
                problems+="$kind=$i ($err, fired $fired): after the next run: $out2"$'\n'
            fi
            for after in ${AFTER:-}; do
                out2="$("$after" 2>&1)" || problems+="$kind=$i ($err, fired $fired): after the next run: $out2"$'\n'
            done
        done
        if [[ -z "$problems" ]]; then
            ok "$name: $runs failing $kind calls (of $n) each leave nothing partial ($failed runs failed naming the fault, the others completed), and the next run completes"
        else
            not_ok "$name: failing $kind calls leave nothing partial, and the next run completes" "$problems"
        fi
    done
}

# Nothing lost: the home archive holds every transaction of the source, and
# the copy region every segment of the home archive ($home and $copy are the
# calling script's).
# shellcheck disable=SC2154
home_has_all() {
    local want got
    want="$(mdb_sql src 'SELECT @@GLOBAL.gtid_binlog_pos')"
    got="$(archive_pos "$home" shop)"
    [[ "$got" == "$want" ]] || { echo "the home archive reaches '$got', the source '$want'"; return 1; }
}
# shellcheck disable=SC2154
far_has_all() {
    local want got
    want="$(archive_pos "$copy" shop)"
    got="$(archive_pos "$copy" shop far)"
    [[ "$got" == "$want" ]] || { echo "the copy region's archive reaches '$got', the home's '$want'"; return 1; }
}

# A new transaction and a new segment of it in the home region.
new_segment() {
    mdb_sql src "INSERT INTO shop.t VALUES ($((RANDOM + 1000)), 'new') ON DUPLICATE KEY UPDATE v = 'again'" >/dev/null
    "$GEODR" --config "$home" --quiet archive shop --idle-exit 0.2 --compact-every 0 >/dev/null 2>&1
}
# What copy has to copy: a new set and a new segment in the home region.
new_set_and_segment() {
    "$GEODR" --config "$home" --quiet backup shop >/dev/null 2>&1
    new_segment
}
prep_none() { :; }
prep_insert() {
    mdb_sql src "INSERT INTO shop.t VALUES ($((RANDOM + 40000)), 'new') ON DUPLICATE KEY UPDATE v = 'again'" >/dev/null
}

