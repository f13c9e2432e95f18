#!/usr/bin/env python3
"""remedy run under Graph's throttling shapes, next to the floor the binding budget sets.

Usage: python3 scripts/bench_limits.py [--users 3000] [--latency 1,30,100]
                                      [--shapes A,B,C,D] [--no-naive] [--no-build]

Builds the release binary (skip with --no-build), then for each throttle shape and
emulator latency starts a fresh `remedy emulator` seeded with N users (every third
disabled), runs `remedy run workflows/incident-response.yaml` against it and prints
one row: wall time, the floor, wall/floor, HTTP calls, Graph operations, writes,
429s and their share of operations, and the exit code.

Shapes (the emulator's flags):
  A  remedy's own bucket: --rate 300 --burst 600 (flat costs; level header past 80 %).
     Floor (operations - 600) / 300 s.
  B  a fixed 10 s window of 1,000 calls, no level header:
     --rate 100 --window-s 10 --level-header never.
     Floor: the start of the window the last operation needs, (ceil(ops / 1000) - 1) x 10 s.
  C  Graph's identity limits, no level header: resource units by the published costs,
     8,000 per 10 s (--rate 800 --burst 8000 --costs graph) and the write quota of
     3,000 per 150 s (--write-rate 20), --level-header never.
     Floor max((writes - 3000) / 20, (units - 8000) / 800) s.
  D  the same, with the level header past 80 %.

Operations are what remedy needed (answers other than 429); the floors count only
those. Targets (issue: Graph's real budget): wall <= 1.05 x floor and <= 1 % of
operations answered 429 in every cell.

Unless --no-naive, the write-bound shape C at 30 ms is also run by a plain script
that does what an admin's loop does (16 threads; per user PATCH the password,
POST revokeSignInSessions, PATCH accountEnabled; on a 429 wait its Retry-After and
send again), against a fresh emulator, for remedy's wall time beside it (target:
remedy <= 0.5 x the script).

Every process has a timeout and everything talks only to 127.0.0.1. Python 3.11
standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_throughput as bt  # noqa: E402
from campaign import write_users  # noqa: E402

ROOT = bt.ROOT
PLAYBOOK = os.path.join(ROOT, "workflows", "incident-response.yaml")
RUN_TIMEOUT_S = 1800

IDENTITY = ["--rate", "800", "--burst", "8000", "--costs", "graph", "--write-rate", "20"]
SHAPES = {
    "A": ("bucket 300/s, burst 600, level past 80 %", ["--rate", "300", "--burst", "600"]),
    "B": ("fixed window 1,000 / 10 s, no level", ["--rate", "100", "--window-s", "10",
                                                   "--level-header", "never"]),
    "C": ("identity: RU 8,000/10 s + writes 3,000/150 s, no level",
          [*IDENTITY, "--level-header", "never"]),
    "D": ("identity: RU 8,000/10 s + writes 3,000/150 s, level past 80 %",
          [*IDENTITY, "--level-header", "above-80"]),
}


def operations(st):
    """Graph operations the emulator answered (items count, envelopes and tokens do not)."""
    ops = st["by_operation"]
    return st["requests"] - ops["token"] - ops.get("batch", 0) + ops.get("batch_items", 0)


def floor_of(shape, st):
    ops = operations(st) - st["throttled"]
    if shape == "A":
        return max(0, ops - 600) / 300
    if shape == "B":
        return (math.ceil(ops / 1000) - 1) * 10
    by = st.get("throttled_by_scope", {})
    writes = st.get("writes", 0) - by.get("write", 0)
    units = st.get("resource_units", 0)
    # Refused requests were charged too; the floor counts only the ones needed.
    units = max(0, units - st["throttled"])
    return max(max(0, writes - 3000) / 20, max(0, units - 8000) / 800)


def run_remedy(csv, url, state):
    argv = [bt.BIN, "run", PLAYBOOK, "--users", csv, "--yes", "--progress", "none",
            "--state-dir", state]
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=ROOT, env=bt.clean_env(url), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=RUN_TIMEOUT_S)
    return p.returncode, time.monotonic() - t0, p.stderr.decode(errors="replace")


def naive(url, n, threads=16):
    """An admin's loop: three writes per user, Retry-After honoured. Returns seconds."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    form = urllib.parse.urlencode({"client_id": "bench", "client_secret": "bench-secret",
                                   "grant_type": "client_credentials",
                                   "scope": "https://graph.microsoft.com/.default"}).encode()
    with opener.open(f"{url}/{bt.DOMAIN}/oauth2/v2.0/token", data=form, timeout=30) as r:
        token = json.load(r)["access_token"]
    users = json.load(opener.open(url + "/_users", timeout=60))
    ids = [u["id"] for u in users][:n]
    lock = threading.Lock()
    queue = list(ids)
    count = {"429": 0}

    def send(method, path, body):
        data = json.dumps(body).encode() if body is not None else None
        while True:
            req = urllib.request.Request(url + "/v1.0" + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
            try:
                opener.open(req, timeout=60).read()
                return
            except urllib.error.HTTPError as e:
                e.read()
                if e.code == 429:
                    with lock:
                        count["429"] += 1
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                raise

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                uid = queue.pop()
            send("PATCH", f"/users/{uid}", {"passwordProfile": {
                "password": "Naive-Loop-Pa55!", "forceChangePasswordNextSignIn": True}})
            send("POST", f"/users/{uid}/revokeSignInSessions", None)
            send("PATCH", f"/users/{uid}", {"accountEnabled": True})

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(RUN_TIMEOUT_S)
    return time.monotonic() - t0, count["429"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--latency", default="1,30,100")
    ap.add_argument("--shapes", default="A,B,C,D")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True,
                       timeout=bt.BUILD_TIMEOUT_S)
    latencies = [int(x) for x in args.latency.split(",")]
    shapes = args.shapes.split(",")
    cols = ("shape", "latency ms", "exit", "wall s", "floor s", "wall/floor", "calls",
            "operations", "writes", "429s", "429 share", "verdict")
    print(f"== {args.users} users, incident-response, every third disabled")
    print(" | ".join(cols))
    bad = 0
    remedy_c30 = None
    with tempfile.TemporaryDirectory(prefix="remedy-limits-") as tmp:
        csv = write_users(tmp, args.users)
        for shape in shapes:
            desc, flags = SHAPES[shape]
            for ms in latencies:
                emu = bt.Emulator(csv, [*flags, "--latency-ms", str(ms)],
                                  os.path.join(tmp, f"emu-{shape}-{ms}.log"))
                try:
                    code, wall, err = run_remedy(csv, emu.url, os.path.join(tmp, f"st-{shape}-{ms}"))
                    st = emu.stats()
                finally:
                    emu.close()
                ops = operations(st) - st["throttled"]
                floor = floor_of(shape, st)
                share = st["throttled"] / max(1, operations(st))
                ratio = wall / floor if floor > 0 else float("nan")
                ok = code == 0 and share <= 0.01 and (floor <= 0 or ratio <= 1.05)
                bad += not ok
                calls = st["requests"] - st["by_operation"]["token"]
                print(" | ".join(str(v) for v in (
                    shape, ms, code, f"{wall:.1f}", f"{floor:.1f}", f"{ratio:.3f}", calls, ops,
                    st.get("writes", "?"), st["throttled"], f"{share:.2%}",
                    "PASS" if ok else "MISS")), flush=True)
                by = st.get("throttled_by_scope", {})
                print(f"   429s by scope: read {by.get('read', 0)}, write {by.get('write', 0)}, "
                      f"readwrite {by.get('readwrite', 0)}")
                if code != 0:
                    print("   stderr tail:", err[-800:])
                if shape == "C" and ms == 30:
                    remedy_c30 = wall
            print(f"   ({shape}: {desc})")
        if not args.no_naive and remedy_c30 is not None:
            emu = bt.Emulator(csv, [*SHAPES["C"][1], "--latency-ms", "30"],
                              os.path.join(tmp, "emu-naive.log"))
            try:
                secs, refused = naive(emu.url, args.users)
                st = emu.stats()
            finally:
                emu.close()
            ratio = remedy_c30 / secs
            ok = ratio <= 0.5
            bad += not ok
            print(f"== write-bound (C, 30 ms): a loop of one write per step took {secs:.1f} s "
                  f"({st.get('writes', '?')} writes, {refused} 429s); remedy {remedy_c30:.1f} s: "
                  f"{ratio:.2f} x ({'PASS' if ok else 'MISS'}, target <= 0.5)")
    print("all targets met" if bad == 0 else f"{bad} cell(s) missed a target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
