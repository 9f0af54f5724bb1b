#!/bin/bash
# Retention with an injectable clock (GEODR_NOW): sets expire exactly when
# the policy says, never while the recovery window needs them, the newest set
# of a region is kept, copies follow their own (longer) retention, turning
# cross-region backup off keeps the copies, and deleting an unexpired set is
# refused with the date it expires.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_sql src "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, n INT);
INSERT INTO shop.t SELECT seq, seq FROM shop.seq_1_to_1000;" >/dev/null
cfg="$WORK/geodr.conf"
write_config "$cfg" shop src "$WORK/home"
geodr_config_add "$cfg" "retention-days = 2" "copy-regions = far" "cross-region-backup = on" \
    "copy-retention-days = 7" "archive-interval = 0.3"
geodr_config_add "$cfg" "" "[region far]" "type = posix" "path = $WORK/far"

sets() { # sets REGION: the set ids in that region, space-separated
    "$GEODR" --config "$cfg" --json info shop | python3 -c '
import json, sys
i = json.load(sys.stdin)["instances"][0]
r = i if sys.argv[1] == "home" else [c for c in i["copies"] if c["region"] == sys.argv[1]][0]
print(" ".join(s["set"] for s in r["sets"]))' "$1"
}
end_s() { # end_s SET: its end, seconds since the epoch
    python3 - "$WORK/home/shop/backup/$1/manifest" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
print(json.loads(t[:t.rstrip("\n").rindex("\n")])["end_us"] // 1000000)
PY
}

"$GEODR" --config "$cfg" --quiet backup shop >/dev/null
s1="$(sets home)"
"$GEODR" --config "$cfg" --quiet archive shop >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
sleep 1.1
mdb_sql src "UPDATE shop.t SET n = n + 1 WHERE id < 10" >/dev/null
"$GEODR" --config "$cfg" --quiet backup shop >/dev/null
s2="$(sets home | awk '{print $2}')"
mdb_sql src "UPDATE shop.t SET n = n + 1 WHERE id < 20" >/dev/null
sleep 1
kill -TERM "$ARCH_PID"; wait "$ARCH_PID" || true
sleep 2.1
"$GEODR" --config "$cfg" --quiet backup shop >/dev/null
s3="$(sets home | awk '{print $3}')"
is "three sets at home" "$(sets home | wc -w)" 3
is "three sets copied to the copy region" "$(sets far | wc -w)" 3

DAY=86400
e1="$(end_s "$s1")"; e2="$(end_s "$s2")"; e3="$(end_s "$s3")"

GEODR_NOW=$((e3 + DAY)) "$GEODR" --config "$cfg" --quiet expire shop >/dev/null
is "after one day nothing expires" "$(sets home)" "$s1 $s2 $s3"
out="$(GEODR_NOW=$((e3 + DAY)) "$GEODR" --config "$cfg" expire shop --set "$s1" 2>&1)" && rc=0 || rc=$?
is "deleting an unexpired set is refused" "$rc" 1
like "... saying when it expires" "$out" "has not expired: it is kept in region home until .* UTC \(retention 2 days\)"
is "... and it is still there" "$(sets home)" "$s1 $s2 $s3"

# s1 and s2 past retention, s3 not.  s2 is kept: the archive rolls it forward
# and the window must reach back to the boundary.  s1 goes.
GEODR_NOW=$((e2 + 2 * DAY + 1)) "$GEODR" --config "$cfg" --quiet expire shop >/dev/null
is "an expired set the window needs is kept, an older one removed" "$(sets home)" "$s2 $s3"
is "no trace of the removed set" "$(ls "$WORK/home/shop/backup" | tr '\n' ' ' | sed 's/ $//')" "$s2 $s3"
out="$(GEODR_NOW=$((e2 + 2 * DAY + 1)) "$GEODR" --config "$cfg" expire shop --set "$s2" 2>&1)" && rc=0 || rc=$?
like "deleting a set the window still needs is refused" "$out" "still needs it"
is "the copy region keeps its copies (7 days)" "$(sets far)" "$s1 $s2 $s3"

# Cross-region backup turned off: the copies stay until they expire.
sed -i 's/^cross-region-backup = on/cross-region-backup = off/' "$cfg"
GEODR_NOW=$((e3 + 2 * DAY + 1)) "$GEODR" --config "$cfg" --quiet expire shop >/dev/null
is "at home every set but the newest is gone" "$(sets home)" "$s3"
is "copies stay after cross-region backup is turned off" "$(sets far)" "$s1 $s2 $s3"
GEODR_NOW=$((e3 + 7 * DAY + 1)) "$GEODR" --config "$cfg" --quiet expire shop >/dev/null
is "copies expire after their own retention, the newest kept" "$(sets far)" "$s3"
# An instance removed from the config keeps its sets; info --all lists it.
sed 's/^\[instance shop\]/[instance other]/' "$cfg" >"$WORK/released.conf"
"$GEODR" --config "$WORK/released.conf" --quiet expire >/dev/null
like "info --all lists the released instance" "$("$GEODR" --config "$WORK/released.conf" info --all)" \
    "released instance shop .* in region home: 1 backup sets"
is "expire leaves a released instance's sets alone" "$(ls "$WORK/home/shop/backup" | wc -l)" 1

# A released instance's copies expire by the copy retention recorded in the
# copy region (the policy record the copier takes there), and not before.
sed -i 's/^cross-region-backup = off/cross-region-backup = on/' "$cfg"
"$GEODR" --config "$cfg" --quiet backup shop >/dev/null
sleep 1.1
"$GEODR" --config "$cfg" --quiet backup shop >/dev/null
n_far="$(sets far | wc -w)"
s5="$(sets far | awk '{print $NF}')"
e5="$(end_s "$s5")"
python3 - "$WORK/far/shop/policy" <<'PY'
import hashlib, json, sys
body = json.dumps({"format": "geodr-policy", "version": 2, "instance": "shop",
                   "backup_enabled": True, "log_backup_enabled": False, "copy_regions": ["far"],
                   "copy_retention_days": 10, "retention_days": 2, "updated_us": 1}) + "\n"
open(sys.argv[1], "w").write(body + "sha256 " + hashlib.sha256(body.encode()).hexdigest() + "\n")
PY
sed 's/^\[instance shop\]/[instance other]/' "$cfg" >"$WORK/released.conf"
GEODR_NOW=$((e5 + 9 * DAY)) "$GEODR" --config "$WORK/released.conf" --quiet expire >/dev/null
is "a released instance's copies are kept within their recorded retention (10 days)" \
    "$(ls "$WORK/far/shop/backup" | wc -l)" "$n_far"
out="$(GEODR_NOW=$((e5 + 11 * DAY)) "$GEODR" --config "$WORK/released.conf" expire 2>&1)"
is "... and expire after it, the newest kept" "$(ls "$WORK/far/shop/backup" | tr '\n' ' ' | sed 's/ $//')" "$s5"
like "... saying so" "$out" "expired released instance shop in region far \(retention 10 days"
like "... while home, with no recorded policy, is kept and said to be" "$out" \
    "released instance shop in region home: no recorded policy: kept"
tap_done
