#!/bin/bash
# Storage faults at every kind of call with S3 regions (src/storage/fault.c,
# GEODR_FAULT; the loop is faults_lib.sh's, see docs/testing.md): backup
# into an S3 home region, archive into it, and copy from a posix home region
# to an S3 copy region, on the suite's S3 endpoint (s3_backend.sh: s3rver by
# default, Ceph RGW with GEODR_S3_BACKEND=rgw).  The checks are faults.sh's:
# the failing run completes or exits 1 naming the fault, nothing partial is
# visible (info; verify of the two newest sets, the failing run's and the
# next one's, as every run adds a 9 MiB set), the next run completes and
# nothing is missing.
#
# The set holds one object larger than the S3 driver's 8 MiB part, so it is
# written as a multipart upload: a failing write there aborts an upload with
# parts sent, a failing commit aborts it instead of completing it, and
# commit+lost completes it though geodr hears it failed.
#
# Sampling (each run moves ~10 MB): every call of the kinds a run makes at
# most 3 of, and of the others 3 or 4 indexes spread evenly from the first
# to the last (MAX_RUNS=3); and always the multipart object's commit and
# its last write (its final part, with earlier parts uploaded), found in
# the trace of the run without faults (jobs = 1: the same order each run).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_backend.sh"
. "$(dirname "$0")/faults_lib.sh"
require_geodr
require_cmd curl python3
tmpdir_new

s3_backend_start geodr
s3_credentials "$WORK/aws" default
export GEODR_S3_TIMEOUTS="connect=1,stall=3,attempts=2,backoff-ms=50"

faults_source
# and shop.big: ~9 MiB once compressed (random hex), one chunk, one object.
mdb_sql src "CREATE TABLE shop.big (id INT PRIMARY KEY, v VARCHAR(1100) NOT NULL) ENGINE=InnoDB;
INSERT INTO shop.big SELECT seq, CONCAT(SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512),
  SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512))
  FROM shop.seq_1_to_18000;" >/dev/null

s3_region() { # s3_region CONFIG NAME PREFIX
    geodr_config_add "$1" "" "[region $2]" "type = s3" "endpoint = $S3_ENDPOINT" "bucket = geodr" \
        "prefix = $3/" "region = us-east-1" "credentials-file = $WORK/aws"
}
# $home: the home region "s3home" on S3; $posix: a posix home region, and
# $copy the same with the copy region "far" on S3.
home="$WORK/home.conf"
write_config "$home" shop src "$WORK/unused"
sed -i 's/^home-region = home$/home-region = s3home/' "$home"
geodr_config_add "$home" "archive-interval = 0.2" "chunk-rows = 100000000" "jobs = 1"
s3_region "$home" s3home backup
posix="$WORK/posix.conf"
write_config "$posix" shop src "$WORK/home"
geodr_config_add "$posix" "archive-interval = 0.2" "chunk-rows = 100000000" "jobs = 1"
copy="$WORK/copy.conf"
cp "$posix" "$copy"
geodr_config_add "$copy" "copy-regions = far" "cross-region-backup = on" "cross-region-log-backup = on"
s3_region "$copy" far copy

# biggest PREFIX: the size of the largest object under PREFIX in the bucket.
biggest() {
    s3_req GET /geodr "list-type=2&prefix=$1" | grep -o '<Size>[0-9]*</Size>' | tr -dc '0-9\n' | sort -n | tail -1
}
# writes CONFIG REGION ARGS...: "M N": the writes of the object written
# most to, and of all objects, in a run of ARGS.
writes() {
    GEODR_FAULT="trace,region=$2" "$GEODR" --config "$1" --quiet "${@:3}" 2>&1 >/dev/null |
        awk '$3 == "write" { c[$5]++; n++ } END { m = 0; for (k in c) if (c[k] > m) m = c[k]; print m, n }'
}

# multipart_indexes N STEP KIND TRACE: the sampled indexes, and for write
# and commit the last of the object written most to.
multipart_indexes() {
    {
        _fault_indexes "$1" "$2"
        if [[ $3 == write || $3 == commit ]]; then
            awk -v k="$3" -v big="$(awk '$3 == "write" { c[$5]++ } END { m = 0; for (o in c) if (c[o] > m) { m = c[o]; b = o }; print b }' "$4")" \
                '$3 == k && $5 == big { i = $4 } END { if (i) print i }' "$4"
        fi
    } | sort -nu
}
export MAX_RUNS=3 INDEXES=multipart_indexes
read -r m n <<<"$(writes "$home" s3home backup shop)"
like "a first backup to the S3 home region: one object takes most writes ($m of $n)" "$((2 * m > n))" '^1$'
size="$(biggest backup/)"
like "... and is larger than a part (8 MiB): a multipart upload ($size bytes)" "$((size > 8388608))" '^1$'
VERIFY_LAST=2 faults "backup (S3)" "$home" s3home prep_none backup shop

check "a first archive run (S3)" "$GEODR" --config "$home" --quiet archive shop --idle-exit 0.2 --compact-every 0
AFTER=home_has_all faults "archive (S3)" "$home" s3home prep_insert archive shop --idle-exit 0.2 --compact-every 0

home="$posix" # new_set_and_segment backs up and archives in the posix home region
check "a set to copy" "$GEODR" --config "$posix" --quiet backup shop
# The copy region takes the sets started after it is first reached
# (docs/regions.md).
check "the copy region is reached" "$GEODR" --config "$copy" --quiet copy shop
new_set_and_segment
check "a first copy to S3" "$GEODR" --config "$copy" --quiet copy shop
like "... with the multipart object" "$(($(biggest copy/) > 8388608))" '^1$'
VERIFY_LAST=2 AFTER=far_has_all faults "copy (to S3)" "$copy" far new_set_and_segment copy shop

# No multipart upload is left open in the bucket (where the endpoint lists
# them: s3rver does not).
if uploads="$(s3_req GET /geodr "uploads&prefix=" 2>/dev/null)"; then
    is "no multipart upload left in the bucket" "$(grep -o '<Key>[^<]*</Key>' <<<"$uploads" || true)" ""
else
    skip "no multipart upload left in the bucket" "$S3_BACKEND does not list multipart uploads"
fi
tap_done
