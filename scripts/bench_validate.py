#!/usr/bin/env python3
"""Measure `remedy validate --users` on a generated CSV: wall time, CPU time
and peak RSS of the remedy process.

Usage: python3 scripts/bench_validate.py [ROWS]   (default 1,000,000)

The playbook is tests/corpus/csv/playbook.yaml, which sets no `max_users`
guard (the shipped workflows would refuse a million users).

Builds the release binary, writes a CSV with ROWS unique users into a
temporary directory, runs the validation once and prints the figures. The
figures go into README.md's performance section.
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "remedy")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, "users.csv")
        with open(csv_path, "w", encoding="utf-8", newline="") as f:
            f.write("userPrincipalName,displayName\n")
            for i in range(rows):
                f.write(f"user{i:07d}@contoso.onmicrosoft.com,User {i}\n")
        size_mb = os.path.getsize(csv_path) / 1e6
        start = time.monotonic()
        proc = subprocess.Popen(
            [binary, "validate", "tests/corpus/csv/playbook.yaml", "--users", csv_path],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # wait4 gives the resource usage of this one process, not of every
        # child this script ever had (cargo included).
        stderr = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
    print(f"rows            {rows:,}")
    print(f"csv size        {size_mb:.1f} MB")
    print(f"exit code       {code}")
    print(f"wall time       {wall:.2f} s")
    print(f"cpu time        {usage.ru_utime + usage.ru_stime:.2f} s (user {usage.ru_utime:.2f}, sys {usage.ru_stime:.2f})")
    # ru_maxrss is in KiB on Linux.
    print(f"peak RSS        {usage.ru_maxrss / 1024:.1f} MiB")
    print(f"throughput      {rows / wall:,.0f} rows/s")
    if code != 0:
        print(stderr[-2000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
