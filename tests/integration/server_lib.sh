# shellcheck shell=bash
# Helpers of the geodr server tests (server.sh, server_crash.sh), sourced
# after lib.sh; they use $cfg (the config), $URL (the server's base URL) and
# $TOKEN (the API token), set by the test before it calls them.
#
# api OP JSON             POST /api/OP with the token; the answer's body in
#                         API_BODY, its HTTP status in API_STATUS (000: none)
# jq_ EXPR                a value of API_BODY (python: j is the document)
# start_server [PAUSES]   starts the server on $cfg with GEODR_TEST_PAUSE =
#                         PAUSES (log appended to $WORK/server.log, pid in
#                         SRV_PID, killed on exit); waits for /health
# job_wait ID             waits (at most 180 s) for a job to end; its status
#                         in JOB_STATUS
# window_has T [REGION]   DescribeAvailableRecoveryTime (of REGION) lists a
#                         window holding T (the API answers from views a
#                         few seconds old: use with wait_for, as a user polls)

SRV_PID=""
on_exit 'kill -9 $SRV_PID 2>/dev/null || true'

api() {
    local out
    out="$(curl -s -m 60 -o "$WORK/api.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data-binary "$2" "$URL/api/$1")" || out=000
    API_STATUS="$out"
    API_BODY="$(cat "$WORK/api.body" 2>/dev/null || true)"
}

jq_() { python3 -c "import json,sys; j=json.loads(sys.argv[1]); print($1)" "$API_BODY"; }

start_server() {
    GEODR_TEST_PAUSE="${1:-}" "$GEODR" --config "$cfg" server >>"$WORK/server.log" 2>&1 &
    SRV_PID=$!
    wait_for 20 curl -sf "$URL/health"
}

job_wait() {
    local t0=$SECONDS
    JOB_STATUS=Running
    while ((SECONDS - t0 < 180)); do
        api DescribeJobs "{\"JobId\": \"$1\"}"
        JOB_STATUS="$(jq_ 'j["Jobs"][0]["Status"]' 2>/dev/null || echo '?')"
        [[ $JOB_STATUS == Running ]] || return 0
        sleep 0.5
    done
}

window_has() {
    local body='{"DBInstanceId": "shop"}'
    [[ -n "${2:-}" ]] && body="{\"DBInstanceId\": \"shop\", \"RegionId\": \"$2\"}"
    api DescribeAvailableRecoveryTime "$body"
    [[ "$API_STATUS" == 200 ]] || return 1
    [[ "$(python3 -c "
import json,sys
j=json.loads(sys.argv[1]); t=sys.argv[2]
print(any(w['RecoveryBeginTime'] <= t <= w['RecoveryEndTime'] for w in j['RecoveryWindows']))" "$API_BODY" "$1")" == True ]]
}
