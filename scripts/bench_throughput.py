#!/usr/bin/env python3
"""Throughput of `remedy run` against the emulator on 127.0.0.1, next to its theoretical floor.

Usage: python3 scripts/bench_throughput.py [--only S1,S2,S3,S4] [--quick] [--no-build]

Builds the release binary (`cargo build --release --locked -q`, skip with
--no-build), then for each scenario starts a fresh `remedy emulator` seeded
from a generated CSV, runs `remedy run` against it and prints one row per
run: wall time, the theoretical floor and wall/floor, what remedy sent (from
the emulator's `/_stats`: HTTP calls = `requests` - `by_operation.token`,
`$batch` sub-requests, 429s), and the remedy process's CPU seconds and peak
RSS (`os.wait4`, the emulator is not counted), exit code and the targets.

Scenarios (S1-S3 playbook: read, reset_password, ensure sign_in_allowed,
revoke_sessions; every user seeded with accountEnabled=false, so each user
costs exactly 4 Graph operations):

  S1  1,000 users, --latency-ms 50, --concurrency 50, batched and --no-batch.
      Floors: unbatched 4 x users x 0.05 s / 50; batched 4 x ceil(users / (20 x 50)) x 0.05 s.
      Targets: batched >= 10x faster than the unbatched floor; unbatched <= 1.05x floor;
      CPU <= 0.3 s per 1,000 users.
  S2  1,000 users, --rate 100 --burst 1000, --concurrency 50, batched.
      Floor (4 x users - 1000) / 100 s. Target <= 1.03x floor, <= 0.5 % of operations 429.
  S3  100 users, --rate 5 --burst 50, --concurrency 10, batched.
      Floor (4 x users - 50) / 5 s. Target <= 1.03x floor, <= 2 % of operations 429.
  S4  1,000,000 rows, workflows/unlock-account.yaml without max_users, 0 ms latency,
      --concurrency 50: --dry-run, then a real run, then `--resume` of the finished real
      run (must send nothing and finish in seconds). No floor (CPU-bound): users/s
      instead of wall/floor. Target peak RSS <= 64 MiB.

--quick scales down to S2 300 users, S3 40 users, S4 100,000 rows (S1 is unchanged).
"429 share" = 429s / Graph operations, where operations = HTTP calls - $batch
envelopes + $batch items (the emulator throttles items, not envelopes).

Every process is bounded by a timeout (S4: 20 min per run) and everything
talks only to 127.0.0.1. Python 3.11 standard library only.
"""
import argparse
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "remedy")
DOMAIN = "contoso.onmicrosoft.com"
BUILD_TIMEOUT_S = 3600
EMULATOR_START_TIMEOUT_S = 300
HELP_TIMEOUT_S = 30

PLAYBOOK_S123 = """\
api_version: remedy/v1
name: bench
target: {provider: graph}
input: {key: userPrincipalName, columns: [userPrincipalName]}
guards: {protect: {privileged_roles: false}}
steps:
  - {id: reset, action: reset_password}
  - {id: enable, ensure: sign_in_allowed}
  - {id: revoke, action: revoke_sessions}
"""

# Proxies must never see a request to the emulator.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Scenario:
    def __init__(self, name, mode, users, csv_kind, playbook, emulator_args, run_args,
                 floor_s, timeout_s, needs=None):
        self.name = name
        self.mode = mode
        self.users = users
        self.csv_kind = csv_kind          # "disabled" (S1-S3) or "plain" (S4)
        self.playbook = playbook          # "bench" or "unlock"
        self.emulator_args = emulator_args
        self.run_args = run_args
        self.floor_s = floor_s            # None: no floor (CPU-bound)
        self.timeout_s = timeout_s
        self.needs = needs                # a `remedy run` flag that must exist


def scenarios(quick):
    s2_users = 300 if quick else 1000
    s3_users = 40 if quick else 100
    s4_users = 100_000 if quick else 1_000_000
    s1_users, lat, conc = 1000, 0.05, 50
    s1_unbatched = 4 * s1_users * lat / conc
    s1_batched = 4 * math.ceil(s1_users / (20 * conc)) * lat
    return [
        Scenario("S1", "batched", s1_users, "disabled", "bench", ["--latency-ms", "50"],
                 ["--concurrency", "50"], s1_batched, 300),
        Scenario("S1", "unbatched", s1_users, "disabled", "bench", ["--latency-ms", "50"],
                 ["--concurrency", "50", "--no-batch"], s1_unbatched, 300, needs="--no-batch"),
        Scenario("S2", "batched", s2_users, "disabled", "bench", ["--rate", "100", "--burst", "1000"],
                 ["--concurrency", "50"], max(0, 4 * s2_users - 1000) / 100, 600),
        Scenario("S3", "batched", s3_users, "disabled", "bench", ["--rate", "5", "--burst", "50"],
                 ["--concurrency", "10"], max(0, 4 * s3_users - 50) / 5, 900),
        Scenario("S4", "dry-run", s4_users, "plain", "unlock", ["--latency-ms", "0"],
                 ["--concurrency", "50", "--dry-run"], None, 1200),
        Scenario("S4", "real", s4_users, "plain", "unlock", ["--latency-ms", "0"],
                 ["--concurrency", "50"], None, 1200),
    ]


def help_text(*argv):
    out = subprocess.run([BIN, *argv, "--help"], capture_output=True, text=True, timeout=HELP_TIMEOUT_S)
    return out.stdout + out.stderr


def write_csv(tmp, kind, users, cache):
    key = (kind, users)
    if key in cache:
        return cache[key]
    path = os.path.join(tmp, f"users-{kind}-{users}.csv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if kind == "disabled":
            f.write("userPrincipalName,accountEnabled\n")
            f.writelines(f"user{i:07d}@{DOMAIN},false\n" for i in range(users))
        else:
            f.write("userPrincipalName,displayName\n")
            f.writelines(f"user{i:07d}@{DOMAIN},User {i}\n" for i in range(users))
    cache[key] = path
    return path


def write_playbooks(tmp):
    bench = os.path.join(tmp, "bench.yaml")
    with open(bench, "w", encoding="utf-8") as f:
        f.write(PLAYBOOK_S123)
    with open(os.path.join(ROOT, "workflows", "unlock-account.yaml"), encoding="utf-8") as src:
        text = src.read()
    patched = text.replace("  max_users: 5000\n", "")
    if patched == text:
        raise SystemExit("workflows/unlock-account.yaml has no `  max_users: 5000` line to remove")
    unlock = os.path.join(tmp, "unlock.yaml")
    with open(unlock, "w", encoding="utf-8") as f:
        f.write(patched)
    return {"bench": bench, "unlock": unlock}


def clean_env(url=None):
    """The caller's environment minus proxies, other credentials and CI summary files."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().endswith("_PROXY") and not k.startswith(("AZURE_", "REMEDY_"))
           and k != "GITHUB_STEP_SUMMARY"}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if url:
        env.update(
            AZURE_TENANT_ID=DOMAIN,
            AZURE_CLIENT_ID="bench",
            AZURE_CLIENT_SECRET="bench-secret",
            REMEDY_GRAPH_URL=url,
            REMEDY_AUTHORITY_URL=url,
        )
    return env


class Emulator:
    def __init__(self, csv_path, args, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [BIN, "emulator", "--listen", "127.0.0.1:0", "--users", csv_path, *args],
            stdout=subprocess.PIPE, stderr=self.log, env=clean_env(),
        )
        self.url = None
        line = b""
        deadline = time.monotonic() + EMULATOR_START_TIMEOUT_S
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"emulator did not start within {EMULATOR_START_TIMEOUT_S} s")
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError(f"emulator exited: {self.stderr_tail()}")
            line += chunk
        text = line.decode().strip()
        if not text.startswith("listening on http://127.0.0.1:"):
            raise RuntimeError(f"unexpected emulator output {text!r}")
        self.url = text[len("listening on "):]

    def stats(self):
        with OPENER.open(self.url + "/_stats", timeout=30) as r:
            return json.load(r)

    def stderr_tail(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def wait_with_timeout(pid, timeout_s):
    """wait4 the child, SIGKILLing it after timeout_s. Returns (status, rusage, timed_out)."""
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            if not select.select([pidfd], [], [], timeout_s)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)  # not reaped yet, so still our child
        finally:
            os.close(pidfd)
    else:
        deadline = time.monotonic() + timeout_s
        while True:
            wpid, status, usage = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                return status, usage, False
            if time.monotonic() > deadline:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    _, status, usage = os.wait4(pid, 0)
    return status, usage, timed_out


def run_remedy(sc, playbook, csv_path, url, tmp, index, extra=(), keep_state=False):
    state = os.path.join(tmp, f"state-{index}")
    out_path = os.path.join(tmp, f"run-{index}.out")
    err_path = os.path.join(tmp, f"run-{index}.err")
    argv = [BIN, "run", playbook, "--users", csv_path, "--yes", "--progress", "none",
            "--state-dir", state, *sc.run_args, *extra]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=tmp, env=clean_env(url), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        try:
            status, usage, timed_out = wait_with_timeout(proc.pid, sc.timeout_s)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; keep Popen from waiting again
    with open(err_path, "rb") as f:
        err_tail = f.read()[-1500:].decode(errors="replace")
    with open(out_path, "rb") as f:
        out_head = f.read(1500).decode(errors="replace")  # the summary table and first failures
    if out_head.strip():
        err_tail = "stdout:\n" + "\n".join(out_head.splitlines()[:9]) + "\nstderr tail:\n" + err_tail
    if not keep_state:
        shutil.rmtree(state, ignore_errors=True)  # S4's journal is large
    return wall, code, usage, timed_out, err_tail


def judge(ok, text):
    return f"{text} {'PASS' if ok else 'MISS'}"


def measure(sc, paths, tmp, cache, index):
    """Runs the scenario; S4's real run is followed by `--resume` of the finished run."""
    csv_path = write_csv(tmp, sc.csv_kind, sc.users, cache)
    emu = None
    runs = []
    try:
        emu = Emulator(csv_path, sc.emulator_args, os.path.join(tmp, f"emulator-{index}.log"))
        resume = sc.name == "S4" and sc.mode == "real"
        runs.append((sc, run_remedy(sc, paths[sc.playbook], csv_path, emu.url, tmp, index,
                                    keep_state=resume), emu.stats()))
        if resume:
            again = Scenario("S4", "resume", sc.users, sc.csv_kind, sc.playbook, sc.emulator_args,
                             sc.run_args, None, sc.timeout_s)
            runs.append((again, run_remedy(again, paths[sc.playbook], csv_path, emu.url, tmp,
                                           index, extra=["--resume"]), emu.stats()))
    finally:
        if emu is not None:
            emu.close()
    results = []
    before = None
    for sc, (wall, code, usage, timed_out, err_tail), stats in runs:
        ops = dict(stats["by_operation"])
        requests, throttled = stats["requests"], stats["throttled"]
        if before is not None:  # count only what the resumed run sent
            requests -= before["requests"]
            throttled -= before["throttled"]
            ops = {k: v - before["by_operation"].get(k, 0) for k, v in ops.items()}
        before = stats
        calls = requests - ops["token"]
        graph_ops = calls - ops["batch"] + ops["batch_items"]
        cpu = usage.ru_utime + usage.ru_stime
        results.append({
            "sc": sc, "wall": wall, "code": code, "timed_out": timed_out, "err": err_tail,
            "calls": calls, "batches": ops["batch"], "items": ops["batch_items"],
            "throttled": throttled, "graph_ops": graph_ops, "stats": stats,
            "cpu": cpu, "cpu_per_1k": cpu / sc.users * 1000, "rss": usage.ru_maxrss / 1024,
        })
    return results


def targets(r, unbatched_floor):
    sc = r["sc"]
    out = []
    if r["timed_out"] or r["code"] != 0:
        out.append("MISS (run failed)")
    share = r["throttled"] / r["graph_ops"] if r["graph_ops"] else 0.0
    if sc.name == "S1":
        if sc.mode == "batched" and unbatched_floor:
            speedup = unbatched_floor / r["wall"]
            out.append(judge(speedup >= 10, f"speed-up vs unbatched floor {speedup:.1f}x (>=10x)"))
        if sc.mode == "unbatched":
            out.append(judge(r["wall"] <= 1.05 * sc.floor_s, "wall <=1.05x floor"))
        out.append(judge(r["cpu_per_1k"] <= 0.3, "CPU <=0.3 s/1k"))
    elif sc.name in ("S2", "S3"):
        limit = 0.005 if sc.name == "S2" else 0.02
        out.append(judge(r["wall"] <= 1.03 * sc.floor_s, "wall <=1.03x floor"))
        out.append(judge(share <= limit, f"429 share {share * 100:.2f} % (<={limit * 100:g} %)"))
    elif sc.name == "S4":
        out.append(judge(r["rss"] <= 64, "RSS <=64 MiB"))
        if sc.mode == "resume":
            out.append(judge(r["calls"] == 0, f"{r['calls']} Graph calls (0)"))
    return "; ".join(out)


def notes(r):
    """Facts worth a line under the table: failures and work not done as expected."""
    sc, st = r["sc"], r["stats"]
    n = []
    if r["timed_out"]:
        n.append(f"killed after the {sc.timeout_s} s timeout")
    if r["code"] != 0:
        n.append(f"exit {r['code']}; output:\n    " + r["err"].strip().replace("\n", "\n    "))
    if sc.mode == "batched" and r["items"] == 0:
        n.append("no $batch request was sent in batched mode")
    if sc.csv_kind == "disabled" and sc.mode != "resume":
        done = {"resets": st["resets"], "enable_changes": st["enable_changes"], "revokes": st["revokes"]}
        short = {k: v for k, v in done.items() if v != sc.users}
        if short:
            n.append("applied " + ", ".join(f"{k} {v}/{sc.users}" for k, v in short.items()))
        if st["by_operation"]["read_user"] != sc.users:
            n.append(f"read_user {st['by_operation']['read_user']} for {sc.users} users "
                     "(the emulator counts throttled and retried reads too)")
    if st["users_reset_more_than_once"] or st["users_revoked_more_than_once"]:
        n.append(f"users reset twice {st['users_reset_more_than_once']}, "
                 f"revoked twice {st['users_revoked_more_than_once']}")
    return n


COLUMNS = [("scenario", 8), ("mode", 9), ("users", 9), ("wall s", 8), ("floor s", 8),
           ("wall/floor", 13), ("HTTP calls", 10), ("batch items", 11), ("429s", 6),
           ("CPU s", 7), ("CPU s/1k", 8), ("RSS MiB", 7), ("exit", 4)]


def row(values):
    return " ".join(f"{v:<{w}}" if i < 2 else f"{v:>{w}}"
                    for i, (v, (_, w)) in enumerate(zip(values, COLUMNS)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated scenarios to run, e.g. S1,S3 (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="scale down for a fast check: S2 300 users, S3 40, S4 100,000 rows")
    ap.add_argument("--no-build", action="store_true", help="use target/release/remedy as it is")
    args = ap.parse_args()
    selected = scenarios(args.quick)
    if args.only:
        wanted = {s.strip().upper() for s in args.only.split(",") if s.strip()}
        unknown = wanted - {s.name for s in selected}
        if unknown:
            ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        selected = [s for s in selected if s.name in wanted]

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True,
                       timeout=BUILD_TIMEOUT_S)
    global BIN
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} does not exist: build it or drop --no-build")
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(BIN)))
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip() or "unknown"
    # Run a private copy: a concurrent `cargo build` must not swap the binary mid-benchmark.
    bin_dir = tempfile.mkdtemp(prefix="remedy-bench-bin-")
    shutil.copy2(BIN, os.path.join(bin_dir, "remedy"))
    BIN = os.path.join(bin_dir, "remedy")
    try:
        run_all(selected, args, built, rev)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


def run_all(selected, args, built, rev):
    run_help = help_text("run")
    emu_help = help_text("emulator")
    rates = ["--locked-rate", "0", "--disabled-rate", "0"] \
        if "--locked-rate" in emu_help and "--disabled-rate" in emu_help else []
    for sc in selected:
        if sc.csv_kind == "disabled" and sc.mode != "resume":
            sc.emulator_args = sc.emulator_args + rates

    print(f"machine: {os.cpu_count()} cores; remedy built {built} from {rev}; "
          f"{'quick' if args.quick else 'full'} sizes")
    print("HTTP calls = emulator requests - token requests; 429s counts requests and $batch items")
    header = row([c for c, _ in COLUMNS]) + "  targets"
    print(header)
    print("-" * len(header))
    all_notes = []
    unbatched_floor = None
    with tempfile.TemporaryDirectory(prefix="remedy-bench-") as tmp:
        paths = write_playbooks(tmp)
        cache = {}
        for i, sc in enumerate(selected):
            if sc.name == "S1" and sc.mode == "batched":
                unbatched_floor = next(s.floor_s for s in scenarios(args.quick)
                                       if s.name == "S1" and s.mode == "unbatched")
            floor = "n/a" if sc.floor_s is None else f"{sc.floor_s:.2f}"
            if sc.needs and sc.needs not in run_help:
                print(row([sc.name, sc.mode, sc.users, "", floor, "", "", "", "", "", "", "", ""])
                      + f"  n/a (no {sc.needs})", flush=True)
                continue
            try:
                results = measure(sc, paths, tmp, cache, i)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(row([sc.name, sc.mode, sc.users, "", floor, "", "", "", "", "", "", "", ""])
                      + f"  error: {e}", flush=True)
                continue
            for r in results:
                rsc = r["sc"]
                if rsc.floor_s is None:
                    ratio = f"{rsc.users / r['wall']:,.0f} users/s"
                elif rsc.floor_s > 0:
                    ratio = f"{r['wall'] / rsc.floor_s:.2f}x"
                else:
                    ratio = "n/a"
                print(row([rsc.name, rsc.mode, rsc.users, f"{r['wall']:.2f}", floor, ratio,
                           r["calls"], r["items"], r["throttled"], f"{r['cpu']:.2f}",
                           f"{r['cpu_per_1k']:.3f}", f"{r['rss']:.1f}",
                           "timeout" if r["timed_out"] else r["code"]])
                      + "  " + targets(r, unbatched_floor), flush=True)
                all_notes += [f"{rsc.name} {rsc.mode}: {n}" for n in notes(r)]
    for n in all_notes:
        print("note: " + n)


if __name__ == "__main__":
    main()
