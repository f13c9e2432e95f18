#!/usr/bin/env python3
"""Measure `remedy run` against the emulator on 127.0.0.1.

Usage: python3 scripts/bench_run.py [--no-batch] [USERS] [LATENCY_MS ...]
       (defaults: 10000 users, latencies 0 and 50, batched)

For each latency: starts `remedy emulator` seeded from a generated CSV,
runs `workflows/unlock-account.yaml` with --concurrency 50 and journaling
on, and prints wall time, CPU time and peak RSS of the remedy process (not
the emulator), plus the requests the emulator served. Release build.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "remedy")


def start_emulator(csv_path, latency_ms):
    proc = subprocess.Popen(
        [BIN, "emulator", "--listen", "127.0.0.1:0", "--users", csv_path, "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line[len("listening on "):]


def measure(users, latency_ms, tmp, no_batch):
    csv_path = os.path.join(tmp, "users.csv")
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write("userPrincipalName,displayName\n")
        for i in range(users):
            f.write(f"user{i:06d}@contoso.onmicrosoft.com,User {i}\n")
    emu, url = start_emulator(csv_path, latency_ms)
    try:
        env = dict(os.environ)
        env.update(
            AZURE_TENANT_ID="contoso.onmicrosoft.com",
            AZURE_CLIENT_ID="bench",
            AZURE_CLIENT_SECRET="bench-secret",
            REMEDY_GRAPH_URL=url,
            REMEDY_AUTHORITY_URL=url,
        )
        # The benchmark playbook is unlock-account without the max_users
        # guard, so any USERS works.
        playbook = os.path.join(tmp, "unlock.yaml")
        with open(os.path.join(ROOT, "workflows", "unlock-account.yaml"), encoding="utf-8") as src:
            text = src.read().replace("  max_users: 5000\n", "")
        with open(playbook, "w", encoding="utf-8") as dst:
            dst.write(text)
        state = os.path.join(tmp, f"state-{latency_ms}")
        start = time.monotonic()
        proc = subprocess.Popen(
            [BIN, "run", playbook, "--users", csv_path, "--yes", "--progress", "none",
             "--concurrency", "50", "--state-dir", state] + (["--no-batch"] if no_batch else []),
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        err = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        stats = json.load(urllib.request.urlopen(url + "/_stats"))
    finally:
        emu.kill()
        emu.wait()
    if code != 0:
        print(err[-3000:], file=sys.stderr)
    return {
        "users": users,
        "latency_ms": latency_ms,
        "exit": code,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "requests": stats["requests"],
        "throttled": stats["throttled"],
    }


def main():
    args = sys.argv[1:]
    no_batch = "--no-batch" in args
    args = [a for a in args if a != "--no-batch"]
    users = int(args[0]) if args else 10_000
    latencies = [int(x) for x in args[1:]] or [0, 50]
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    print(f"machine: {os.cpu_count()} cores; mode: {'--no-batch' if no_batch else 'batched'}")
    print(f"{'users':>7} {'latency':>8} {'exit':>4} {'wall s':>8} {'cpu s':>7} {'cpu s/1k users':>15} {'peak RSS MiB':>13} {'requests':>9} {'429s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for lat in latencies:
            r = measure(users, lat, tmp, no_batch)
            print(f"{r['users']:>7} {r['latency_ms']:>6}ms {r['exit']:>4} {r['wall_s']:>8.2f} {r['cpu_s']:>7.2f} "
                  f"{r['cpu_s'] / users * 1000:>15.3f} {r['rss_mib']:>13.1f} {r['requests']:>9} {r['throttled']:>5}")


if __name__ == "__main__":
    main()
