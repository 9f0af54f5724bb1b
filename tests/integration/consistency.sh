#!/bin/bash
# Consistency under load: bank transfers run while geodr backs up with several
# connections and many chunks.  The restored copy must (1) keep the invariant
# (sum of balances), (2) hold balances that are exactly what its own transfer
# log says (accounts and log from one snapshot), and (3) hold exactly the
# transactions up to the GTID position the backup recorded.
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
INSERT INTO bank.accounts (id, balance, pad) SELECT seq, 1000, REPEAT('x', 200) FROM bank.seq_1_to_$ACCOUNTS;" >/dev/null
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
              f"INSERT INTO bank.transfers (src,dst,amount) VALUES ({a},{b},{x}); COMMIT;")
    sys.stdout.flush()
PY
wl_pid=$!
on_exit "touch '$WORK/stop'; kill $wl_pid 2>/dev/null || true"
busy() { [[ "$(mdb_sql src 'SELECT COUNT(*) > 1000 FROM bank.transfers')" == 1 ]]; }
wait_for 30 busy || true

cfg="$WORK/geodr.conf"
write_config "$cfg" bank src "$WORK/region"
geodr_config_add "$cfg" "chunk-rows = 1000" "jobs = 4"
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
check "restore" "$GEODR" --config "$cfg" --quiet restore bank --target "127.0.0.1:$DST_PORT" \
    --target-user root --target-password-file "$WORK/dst.pass" --jobs 4

is "invariant: sum of balances" "$(mdb_sql dst 'SELECT SUM(balance) FROM bank.accounts')" "$((ACCOUNTS * 1000))"
mismatch="$(mdb_sql dst "SELECT COUNT(*) FROM bank.accounts a LEFT JOIN (
    SELECT id, SUM(d) AS d FROM (SELECT src AS id, -amount AS d FROM bank.transfers
                                 UNION ALL SELECT dst, amount FROM bank.transfers) x GROUP BY id) t
    ON t.id = a.id WHERE a.balance <> 1000 + IFNULL(t.d, 0)")"
is "accounts and transfer log come from one snapshot" "$mismatch" 0
restored="$(mdb_sql dst 'SELECT COUNT(*) FROM bank.transfers')"
gtid_seq="${gtid##*-}"
is "restored copy holds exactly the transactions up to the recorded GTID $gtid" "$restored" "$((gtid_seq - start_seq))"
if ((restored > 0 && restored < after)); then
    ok "the snapshot is a point inside the workload"
else
    not_ok "the snapshot is a point inside the workload" "restored=$restored after=$after"
fi
tap_done
