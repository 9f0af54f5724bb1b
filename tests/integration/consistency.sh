#!/bin/bash
# Consistency under load: bank transfers run while geodr backs up with several
# connections and many chunks.  The restored copy must (1) keep the invariant
# (sum of balances), (2) hold balances that are exactly what its own transfer
# log says (accounts and log from one snapshot), and (3) hold exactly the
# transactions up to the GTID position the backup recorded.  MyISAM and Aria
# tables are written by the same workload: dumped under the global read lock
# they are as of the set's position too, so a point-in-time restore to
# --latest (set + archived binlog) equals the source; a set taken with
# --no-lock-nontransactional is refused for that.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_geodr
tmpdir_new

mdb_start src
mdb_start dst
ACCOUNTS=20000
mdb_sql src "CREATE DATABASE bank;
CREATE TABLE bank.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, pad CHAR(200) NOT NULL DEFAULT '') ENGINE=InnoDB;
CREATE TABLE bank.transfers (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL) ENGINE=InnoDB;
INSERT INTO bank.accounts (id, balance, pad) SELECT seq, 1000, REPEAT('x', 200) FROM bank.seq_1_to_$ACCOUNTS;
CREATE TABLE bank.audit_myisam (id INT AUTO_INCREMENT PRIMARY KEY, amount INT NOT NULL) ENGINE=MyISAM;
CREATE TABLE bank.audit_aria (id INT AUTO_INCREMENT PRIMARY KEY, amount INT NOT NULL) ENGINE=Aria;
INSERT INTO bank.audit_myisam (amount) SELECT seq FROM bank.seq_1_to_20000;
INSERT INTO bank.audit_aria (amount) SELECT seq FROM bank.seq_1_to_20000;" >/dev/null
start_seq="$(mdb_sql src "SELECT @@GLOBAL.gtid_binlog_pos" | awk -F- '{print $3}')"

# The workload: one transfer per transaction, until $WORK/stop exists.
python3 - "$ACCOUNTS" "$WORK/stop" <<'PY' | mdb_client src --batch >/dev/null 2>"$WORK/workload.err" &
import os, random, sys
n, stop = int(sys.argv[1]), sys.argv[2]
r = random.Random(7)
while not os.path.exists(stop):
    for _ in range(50):
        a, b, x = r.randint(1, n), r.randint(1, n), r.randint(1, 100)
        print(f"START TRANSACTION; UPDATE bank.accounts SET balance=balance-{x} WHERE id={a}; "
              f"UPDATE bank.accounts SET balance=balance+{x} WHERE id={b}; "
              f"INSERT INTO bank.transfers (src,dst,amount) VALUES ({a},{b},{x}); COMMIT; "
              f"INSERT INTO bank.audit_myisam (amount) VALUES ({x}); "
              f"INSERT INTO bank.audit_aria (amount) VALUES ({x});")
    sys.stdout.flush()
PY
wl_pid=$!
on_exit "touch '$WORK/stop'; kill $wl_pid 2>/dev/null || true"
busy() { [[ "$(mdb_sql src 'SELECT COUNT(*) > 1000 FROM bank.transfers')" == 1 ]]; }
wait_for 30 busy || true

cfg="$WORK/geodr.conf"
write_config "$cfg" bank src "$WORK/region"
geodr_config_add "$cfg" "chunk-rows = 1000" "jobs = 4" "archive-interval = 0.3"
"$GEODR" --config "$cfg" --quiet archive bank >>"$WORK/archive.log" 2>&1 &
ARCH_PID=$!
on_exit 'kill -9 $ARCH_PID 2>/dev/null || true'
# An archiver with nothing archived starts at the source's position when it
# connects: the set must come after that to be rolled forward.
archiving() { compgen -G "$WORK/region/bank/binlog/*.segment" >/dev/null; }
check "the archiver is archiving before the backup starts" wait_for 60 archiving
check "backup under a transfer workload" "$GEODR" --config "$cfg" --quiet backup bank
during="$(mdb_sql src 'SELECT COUNT(*) FROM bank.transfers')"
sleep 1
touch "$WORK/stop"
wait "$wl_pid" 2>/dev/null || true
after="$(mdb_sql src 'SELECT COUNT(*) FROM bank.transfers')"
if ((after > during)); then
    ok "workload kept writing across the backup ($during transfers at its end, $after later)"
else
    not_ok "workload kept writing across the backup" "during=$during after=$after"
fi

gtid="$("$GEODR" --config "$cfg" --json info bank | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["sets"][-1]["gtid"])')"
check "restore the set alone" "$GEODR" --config "$cfg" --quiet restore bank --fastest --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/dst.pass" --jobs 4

is "invariant: sum of balances" "$(mdb_sql dst 'SELECT SUM(balance) FROM bank.accounts')" "$((ACCOUNTS * 1000))"
mismatch="$(mdb_sql dst "SELECT COUNT(*) FROM bank.accounts a LEFT JOIN (
    SELECT id, SUM(d) AS d FROM (SELECT src AS id, -amount AS d FROM bank.transfers
                                 UNION ALL SELECT dst, amount FROM bank.transfers) x GROUP BY id) t
    ON t.id = a.id WHERE a.balance <> 1000 + IFNULL(t.d, 0)")"
is "accounts and transfer log come from one snapshot" "$mismatch" 0
restored="$(mdb_sql dst 'SELECT COUNT(*) FROM bank.transfers')"
# each transfer is followed by one MyISAM and one Aria insert: 3 GTIDs
n=$((${gtid##*-} - start_seq))
is "restored copy holds exactly the transactions up to the recorded GTID $gtid" "$restored" "$(((n + 2) / 3))"
if ((restored > 0 && restored < after)); then
    ok "the snapshot is a point inside the workload"
else
    not_ok "the snapshot is a point inside the workload" "restored=$restored after=$after"
fi
# Each MyISAM/Aria insert follows its transfer: as of the set's position
# both hold the initial rows and one per restored transfer.
is "MyISAM table as of the set's position" "$(mdb_sql dst 'SELECT COUNT(*) FROM bank.audit_myisam')" "$((20000 + (n + 1) / 3))"
is "Aria table as of the set's position" "$(mdb_sql dst 'SELECT COUNT(*) FROM bank.audit_aria')" "$((20000 + n / 3))"
like "info shows the non-transactional tables and the lock time" "$("$GEODR" --config "$cfg" info bank)" \
    "2 non-transactional tables .* dumped under the global read lock; global read lock held [0-9.]+ s"

checksum_all src bank >"$WORK/src.sum"
caught_up() { archive_holds "$cfg" bank src; }
check "the archive holds the whole workload" wait_for 60 caught_up
mdb_start latest
check "restore --latest (the set taken under load, then the archive)" "$GEODR" --config "$cfg" --quiet \
    restore bank --latest --target "127.0.0.1:$LATEST_PORT" --target-user root \
    --target-password-file "$WORK/latest.pass" --jobs 4
checksum_all latest bank >"$WORK/latest.sum"
check "--latest equals the source, MyISAM and Aria tables included" diff "$WORK/src.sum" "$WORK/latest.sum"

# Opting out of the lock: the set says it cannot be replayed onto those tables.
check "backup --no-lock-nontransactional" "$GEODR" --config "$cfg" --quiet backup bank --no-lock-nontransactional
mdb_sql src "INSERT INTO bank.audit_myisam (amount) VALUES (1)" >/dev/null
check "the archive holds a write after that set" wait_for 60 caught_up
mdb_start nolock
out="$("$GEODR" --config "$cfg" restore bank --latest --target "127.0.0.1:$NOLOCK_PORT" \
    --target-user root --target-password-file "$WORK/nolock.pass" 2>&1)" && rc=0 || rc=$?
is "a point-in-time restore of such a set is refused" "$rc" 1
like "... naming the table and what to do" "$out" "table bank.audit_(myisam|aria) \(engine (MyISAM|Aria)\) of set .* was dumped outside the set's snapshot"
is "... and nothing was written to the target" "$(mdb_sql nolock "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='bank'")" 0
check "... while restoring that set without replay works" "$GEODR" --config "$cfg" --quiet \
    restore bank --fastest --target "127.0.0.1:$NOLOCK_PORT" --target-user root --target-password-file "$WORK/nolock.pass"
kill -TERM "$ARCH_PID"
wait "$ARCH_PID" || true
tap_done
