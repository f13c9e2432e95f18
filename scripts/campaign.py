#!/usr/bin/env python3
"""Fault and kill campaigns: `remedy run` against a misbehaving emulator, and killed mid-write.

Usage: python3 scripts/campaign.py {faults,kills,all} [--short] [--no-build] [--seed N]

Builds the release binary with the crash points (`cargo build --release
--features crash-points`; skip with --no-build), starts `remedy emulator` on
127.0.0.1 for each case, runs workflows/incident-response.yaml (reset the
password, revoke sessions, make sure sign-in is allowed) and checks what the
service ended with against what remedy recorded. Exits 1 if any check fails.

faults: one run per fault mix (1,000 users; --short: 200):
  5 % 500/503 answers, dropped connections before and after the change is
  applied, answers slower than remedy's --timeout, a 429 storm, access
  tokens expiring every second mid-run, and all of them at once. Checks: every
  user ends in the desired state (reset, sessions revoked, enabled) or is
  reported failed with a reason in results.jsonl; no password reset or
  session revocation applied twice (emulator counters); secrets.csv holds
  the service's password for every reset user.

kills: one run of 4,000 users (--short: 1,500), killed again and again at
  seeded random points and resumed with --resume until it completes: a
  SIGKILL after a random delay, or a crash half-way through a secrets.csv
  line or a journal group commit (REMEDY_CRASH_AT, see src/crashpoint.rs;
  only a `--features crash-points` build has them).
  At least 24 kills (--short: 12), at least a third inside a write. Checks
  as above, plus: users reset twice 0, users lost 0.

Every process is bounded by a timeout and talks only to 127.0.0.1. Python
3.11 standard library only; it reuses scripts/bench_throughput.py's emulator
and environment helpers.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_throughput as bt  # noqa: E402

ROOT = bt.ROOT
PLAYBOOK = os.path.join(ROOT, "workflows", "incident-response.yaml")
RUN_TIMEOUT_S = 600

# (name, emulator flags, extra `remedy run` flags)
FAULT_MIXES = [
    ("none", [], []),
    ("5% 500/503", ["--fail-rate", "0.10"], []),
    ("dropped connections", ["--reset-rate", "0.05"], []),
    ("slow beyond timeout", ["--slow-rate", "0.02", "--slow-ms", "4000"], ["--timeout", "1"]),
    ("429 storm", ["--rate", "150", "--burst", "30"], []),
    # One call in flight at 100 ms a call: the run outlives many tokens.
    ("token expiry", ["--token-ttl", "1", "--latency-ms", "100"], ["--concurrency", "1"]),
    ("all at once", ["--fail-rate", "0.10", "--reset-rate", "0.05", "--slow-rate", "0.01",
                     "--slow-ms", "4000", "--rate", "300", "--burst", "60", "--token-ttl", "3"],
     ["--timeout", "1"]),
]


def write_users(tmp, n):
    path = os.path.join(tmp, f"users-{n}.csv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("userPrincipalName,displayName,accountEnabled\n")
        f.writelines(f"user{i:07d}@{bt.DOMAIN},User {i},{'false' if i % 3 == 0 else 'true'}\n"
                     for i in range(n))
    return path


def get_json(url):
    with bt.OPENER.open(url, timeout=60) as r:
        return json.load(r)


def run_dir(state):
    runs = os.path.join(state, "runs")
    entries = sorted(os.listdir(runs)) if os.path.isdir(runs) else []
    return os.path.join(runs, entries[-1]) if entries else None


def start_run(csv, url, state, extra, env_extra=None, resume=False):
    argv = [bt.BIN, "run", PLAYBOOK, "--users", csv, "--yes", "--progress", "none",
            "--state-dir", state, *extra]
    if resume:
        argv.append("--resume")
    env = bt.clean_env(url)
    env.update(env_extra or {})
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, timeout=RUN_TIMEOUT_S):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def read_secrets(rdir):
    path = os.path.join(rdir, "secrets.csv")
    saved = {}
    if os.path.exists(path):
        import csv as csvmod
        with open(path, encoding="utf-8", newline="") as f:
            for rec in csvmod.DictReader(f):
                if rec.get("password"):
                    saved[rec["user"].lower()] = rec["password"]
    return saved


def failed_users(rdir):
    """Users results.jsonl reports failed, with their reasons."""
    out = {}
    path = os.path.join(rdir, "results.jsonl")
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["status"] == "failed":
                out.setdefault(r["user"].lower(), []).append(r.get("reason") or "")
    return out


def judge(emu_url, rdir, n):
    """What the service ended with, checked against what remedy recorded."""
    users = {u["userPrincipalName"].lower(): u for u in get_json(emu_url + "/_users")}
    stats = get_json(emu_url + "/_stats")
    saved = read_secrets(rdir)
    failed = failed_users(rdir)
    done = lost = mismatched = reset_twice = revoked_twice = 0
    unexplained = []
    for upn, u in users.items():
        if u["resetCount"] > 1:
            reset_twice += 1
        if u["revokeCount"] > 1:
            revoked_twice += 1
        if u["resetCount"] >= 1:
            want = saved.get(upn)
            if want is None or hashlib.sha256(want.encode()).hexdigest() != u["passwordSha256"]:
                mismatched += 1
        if u["resetCount"] >= 1 and u["revokeCount"] >= 1 and u["accountEnabled"]:
            done += 1
        elif upn in failed and all(failed[upn]):
            pass
        else:
            lost += 1
            unexplained.append(upn)
    return {
        "users": len(users), "done": done, "failed": len(failed), "lost": lost,
        "reset_twice": reset_twice, "revoked_twice": revoked_twice, "mismatched": mismatched,
        "stats": stats, "unexplained": unexplained[:5],
        "reasons": sorted({r for rs in failed.values() for r in rs})[:3],
    }


def ok(j):
    return (j["lost"] == 0 and j["reset_twice"] == 0 and j["revoked_twice"] == 0
            and j["mismatched"] == 0 and j["users"] > 0)


def faults(args, tmp):
    n = 200 if args.short else 1000
    csv = write_users(tmp, n)
    print(f"== fault campaign: {n} users per mix, incident-response, seed {args.seed}")
    cols = ("mix", "exit", "wall s", "requests", "429s", "500/503", "drops", "slow",
            "tokens", "done", "failed", "lost", "reset 2x", "revoke 2x", "pw mismatch", "verdict")
    print(" | ".join(cols))
    bad = 0
    for i, (name, emu_args, run_args) in enumerate(FAULT_MIXES):
        emu = bt.Emulator(csv, ["--seed", str(args.seed + i), *emu_args],
                          os.path.join(tmp, f"emu-f{i}.log"))
        state = os.path.join(tmp, f"state-f{i}")
        try:
            t0 = time.monotonic()
            conc = [] if "--concurrency" in run_args else ["--concurrency", "16"]
            code, out, err = finish(start_run(csv, emu.url, state, [*conc, *run_args]))
            wall = time.monotonic() - t0
            rdir = run_dir(state)
            if rdir is None:
                raise RuntimeError(f"{name}: no run directory; stderr:\n{err[-1500:]}")
            j = judge(emu.url, rdir, n)
        finally:
            emu.close()
        st = j["stats"]
        verdict = "PASS" if ok(j) and code in (0, 1) else "FAIL"
        bad += verdict != "PASS"
        print(" | ".join(str(v) for v in (
            name, code, f"{wall:.1f}", st["requests"], st["throttled"],
            st["faults"]["500"] + st["faults"]["503"],
            st["faults"]["dropped_before_apply"] + st["faults"]["dropped_after_apply"],
            st["faults"]["slow"],
            st["by_operation"]["token"], j["done"], j["failed"], j["lost"], j["reset_twice"],
            j["revoked_twice"], j["mismatched"], verdict)), flush=True)
        if j["reasons"]:
            print(f"   failed users' reasons (first 3): {j['reasons']}")
        if verdict != "PASS":
            print(f"   unexplained users: {j['unexplained']}; exit {code}; stderr tail:\n{err[-1500:]}")
    return bad


def kills(args, tmp):
    # Long enough (about 50 ms per 20 users and step) that the kills,
    # 0.15-0.75 s apart, land well before the run could finish.
    n = 1500 if args.short else 4000
    want_kills = 12 if args.short else 24
    csv = write_users(tmp, n)
    rng = random.Random(args.seed)
    emu = bt.Emulator(csv, ["--latency-ms", "50", "--seed", str(args.seed)],
                      os.path.join(tmp, "emu-k.log"))
    state = os.path.join(tmp, "state-k")
    runs = timed = crash_secrets = crash_journal = 0
    print(f"== kill campaign: {n} users, incident-response, seed {args.seed}, "
          f"at least {want_kills} kills")
    try:
        completed = False
        while not completed and runs < want_kills * 4:
            resume = runs > 0
            kills_so_far = timed + crash_secrets + crash_journal
            mode = None
            if kills_so_far < want_kills:
                mode = rng.choice(["sigkill", "sigkill", "secrets-write", "journal-commit"])
            env = {}
            if mode in ("secrets-write", "journal-commit"):
                # Early enough to land in this run even when little is left.
                env["REMEDY_CRASH_AT"] = f"{mode}:{rng.randint(1, 40 if mode == 'secrets-write' else 12)}"
            # One call in flight: about 20 users a round trip, so a run
            # lasts long enough to be killed many times.
            proc = start_run(csv, emu.url, state, ["--concurrency", "1"], env, resume)
            runs += 1
            if mode == "sigkill":
                time.sleep(0.15 + rng.random() * 0.6)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    timed += 1
                code, out, err = finish(proc)
            else:
                code, out, err = finish(proc)
                if code == -signal.SIGABRT:
                    if mode == "secrets-write":
                        crash_secrets += 1
                    else:
                        crash_journal += 1
            if code is None:
                raise RuntimeError(f"run {runs} did not end within {RUN_TIMEOUT_S} s")
            if code == 0:
                completed = True
            elif code not in (-signal.SIGKILL, -signal.SIGABRT):
                raise RuntimeError(f"run {runs} exited {code}:\n{err[-2000:]}")
        rdir = run_dir(state)
        j = judge(emu.url, rdir, n)
    finally:
        emu.close()
    total = timed + crash_secrets + crash_journal
    print(f"runs {runs}, kills {total} (SIGKILL {timed}, mid secrets.csv line {crash_secrets}, "
          f"mid journal commit {crash_journal}), completed {completed}")
    print(f"users {j['users']}: done {j['done']}, failed {j['failed']}, lost {j['lost']}, "
          f"reset twice {j['reset_twice']}, revoked twice {j['revoked_twice']}, "
          f"secrets.csv mismatches {j['mismatched']}")
    good = (ok(j) and completed and total >= want_kills
            and crash_secrets + crash_journal >= want_kills // 3)
    print("kill campaign:", "PASS" if good else "FAIL")
    return 0 if good else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("campaign", choices=["faults", "kills", "all"])
    ap.add_argument("--short", action="store_true",
                    help="CI sizes: 200 users per mix; 1,500 users and 12 kills")
    ap.add_argument("--no-build", action="store_true",
                    help="use target/release/remedy as it is (built with --features crash-points)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not args.no_build:
        # The crash points exist only with this feature; a build without it
        # ignores REMEDY_CRASH_AT (and says so), and the kill campaign fails.
        subprocess.run(["cargo", "build", "--release", "--locked", "-q", "--features", "crash-points"],
                       cwd=ROOT, check=True,
                       timeout=bt.BUILD_TIMEOUT_S)
    if not os.path.exists(bt.BIN):
        raise SystemExit(f"{bt.BIN} does not exist: build it or drop --no-build")
    bin_dir = tempfile.mkdtemp(prefix="remedy-campaign-bin-")
    shutil.copy2(bt.BIN, os.path.join(bin_dir, "remedy"))
    bt.BIN = os.path.join(bin_dir, "remedy")
    bad = 0
    try:
        with tempfile.TemporaryDirectory(prefix="remedy-campaign-") as tmp:
            if args.campaign in ("faults", "all"):
                bad += faults(args, tmp)
            if args.campaign in ("kills", "all"):
                bad += kills(args, tmp)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    print(f"{'all checks passed' if bad == 0 else f'{bad} campaign(s) failed'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
