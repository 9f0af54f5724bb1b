#!/usr/bin/env python3
"""bench/lag.py — how long after its commit on the source a transaction is
in a region's binlog archive (the archive's lag, or a copy region's RPO).

    bench/lag.py watch OUT POLL_MS LABEL=DIR[:SUFFIX]...
    bench/lag.py report RECORDS T0 MARKERS=LABEL...

watch: lists each DIR (a region's <instance>/binlog/ directory; SUFFIX
".segment._S3rver_object" for s3rver's data directory) every POLL_MS until
SIGTERM, and writes one line per segment index record the first time it is
seen complete (its trailing line checks: a "sha256" trailer is verified, an
"hmac-sha256" one needs the key and is taken once the file ends with it):
    LABEL  seen(unix s)  mtime  seq  first_seq  gtid_pos  transactions

report: each MARKERS file holds "GTID<TAB>commit time" lines of one source
(bench_markers in bench/lib.sh); a marker's lag is the first sighting,
under its LABEL, of a record whose gtid_pos covers the marker's GTID (same
domain, sequence >=) minus its commit time. The figures are over the
markers of every pair together: "key value" lines markers, missing,
records, merged, p50 p90 p99 max min mean (seconds), first_tenth_mean and
last_tenth_mean (markers in commit order: the trend over the run),
worst_at (seconds after T0 of the worst marker's commit).
"""

import hashlib
import json
import math
import os
import signal
import sys
import time


def record(path):
    """the record's JSON if the file holds a complete, checked record"""
    with open(path, "rb") as f:
        b = f.read()
    if not b.endswith(b"\n") or b"\n" not in b[:-1]:
        raise ValueError("incomplete")
    i = b[:-1].rindex(b"\n") + 1  # the trailer is the last line
    trailer = b[i:].strip().decode()
    if trailer.startswith("sha256 ") and trailer[7:] != hashlib.sha256(b[:i]).hexdigest():
        raise ValueError("incomplete")
    if not trailer.startswith(("sha256 ", "hmac-sha256 ")):
        raise ValueError("incomplete")
    return json.loads(b[:i])


def watch(out, poll_ms, specs):
    dirs = []
    for s in specs:
        label, _, d = s.partition("=")
        d, _, suffix = d.partition(":")
        dirs.append((label, d, suffix or ".segment"))
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    seen = set()
    with open(out, "w") as f:
        while True:
            last_round = stop
            for label, d, suffix in dirs:
                try:
                    names = os.listdir(d)
                except FileNotFoundError:
                    continue
                seen_at = time.time()
                for n in names:
                    if (label, n) in seen or n.startswith(".") or not n.endswith(suffix):
                        continue
                    p = os.path.join(d, n)
                    try:
                        j = record(p)
                        mtime = os.stat(p).st_mtime_ns / 1e9
                    except (OSError, ValueError):
                        continue  # not there yet, or still being written: next round
                    seen.add((label, n))
                    f.write(f"{label}\t{seen_at:.6f}\t{mtime:.6f}\t{j['seq']}\t{j.get('first_seq', j['seq'])}"
                            f"\t{j['gtid_pos']}\t{j.get('transactions', 0)}\n")
                    f.flush()
            if last_round:
                break
            time.sleep(poll_ms / 1000)


def gtid_map(pos):
    p = {}
    for g in pos.split(","):
        if g.strip():
            d, _, s = g.strip().split("-")
            p[int(d)] = int(s)
    return p


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def lags_of(markers_file, recs):
    """(commit time, lag) of every marker of the file found in recs (sorted
    by first sighting), and how many were not found"""
    markers = []
    for line in open(markers_file):
        f = line.split()
        if len(f) == 2 and f[0].count("-") == 2:
            d, _, s = f[0].split("-")
            markers.append((int(d), int(s), float(f[1])))
    out, missing, k = [], 0, 0
    # markers come in commit order: the records seen before the previous
    # marker's hit did not cover it, so they cover no later one
    for d, s, t in markers:
        hit = next((i for i in range(k, len(recs)) if recs[i][3].get(d, -1) >= s), None)
        if hit is None:
            missing += 1
        else:
            k = hit
            out.append((t, recs[hit][0] - t))
    return out, missing


def report(records_file, t0, pairs):
    by_label = {}
    for line in open(records_file):
        r = line.rstrip("\n").split("\t")
        by_label.setdefault(r[0], []).append((float(r[1]), int(r[3]), int(r[4]), gtid_map(r[5])))
    lagged, missing, nrecs, merged = [], 0, 0, 0
    for pair in pairs:
        markers_file, _, label = pair.partition("=")
        recs = sorted(by_label.get(label, []), key=lambda x: x[0])
        nrecs += len(recs)
        merged += sum(1 for x in recs if x[2] != x[1])
        got, miss = lags_of(markers_file, recs)
        lagged += got
        missing += miss
    lagged.sort()
    lags = [x[1] for x in lagged]
    nan = float("nan")
    out = {"markers": len(lags) + missing, "missing": missing, "records": nrecs, "merged": merged}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        out[name] = pct(lags, q)
    out["max"] = max(lags) if lags else nan
    out["min"] = min(lags) if lags else nan
    out["mean"] = sum(lags) / len(lags) if lags else nan
    tenth = max(1, len(lags) // 10)
    out["first_tenth_mean"] = sum(lags[:tenth]) / tenth if lags else nan
    out["last_tenth_mean"] = sum(lags[-tenth:]) / tenth if lags else nan
    out["worst_at"] = lagged[lags.index(max(lags))][0] - t0 if lags else nan
    for key, v in out.items():
        print(key, "nan" if isinstance(v, float) and v != v else (f"{v:.3f}" if isinstance(v, float) else v))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "watch":
        watch(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "report":
        report(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)
