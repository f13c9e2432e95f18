//! `remedy run` end to end: the real binary against the emulator binary on
//! 127.0.0.1, checked through the emulator's counters and the files the run
//! leaves behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{EmulatorProcess, Run, emulator_users, remedy, run};

/// A CSV of `n` users, every third one disabled, with a `compromised`
/// column; returns its path.
fn users_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("userPrincipalName,displayName,accountEnabled,compromised\n");
    for i in 1..=n {
        let enabled = if i % 3 == 0 { "false" } else { "true" };
        let compromised = if i % 2 == 0 { "yes" } else { "no" };
        text.push_str(&format!(
            "user{i:05}@contoso.onmicrosoft.com,User {i},{enabled},{compromised}\n"
        ));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `remedy run` against `emu`, non-interactive, counter progress.
fn remedy_run(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Run {
    crate::support::remedy_run_as(emu, "run-tests", state, args)
}

/// `remedy run … --yes` against `emu` as a plain child process (for tests
/// that signal or kill it); output is discarded unless the caller pipes it.
fn run_process(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.arg("run")
        .args(args)
        .arg("--yes")
        .arg("--state-dir")
        .arg(state)
        .envs(emu.client_env("process-tests", "process-test-secret"))
        .current_dir(crate::support::root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

fn only_run_dir(state: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

fn secrets(run_dir: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(run_dir.join("secrets.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_ascii_lowercase(), rec[1].to_owned())
        })
        .collect()
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Every user of the emulator, by lower-cased UPN.

#[test]
fn unlock_account_for_1000_users() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 1000);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--concurrency",
            "50",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    assert_eq!(users.len(), 1000);
    let saved = secrets(&only_run_dir(&state));
    assert_eq!(saved.len(), 1000, "one password per user");
    for (upn, pw) in &saved {
        let u = &users[upn];
        assert_eq!(u["resetCount"], 1, "{upn}");
        assert_eq!(u["accountEnabled"], true, "{upn}");
        assert_eq!(u["lockedOut"], false, "{upn}");
        assert_eq!(
            u["passwordSha256"],
            sha256_hex(pw),
            "{upn}: secrets.csv holds the service's password"
        );
    }
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["users_reset_more_than_once"], 0);
    assert_eq!(stats["resets"], 1000);
    // Only the disabled third needed enabling, and its sign-in travelled
    // in the reset's PATCH: one write per user, not 1.33.
    assert_eq!(stats["enable_changes"], 333);
    assert_eq!(stats["by_operation"]["set_account_enabled"], 333, "{stats}");
    assert_eq!(stats["status"]["204"], 1000, "one PATCH per user: {stats}");
    let results = results(&only_run_dir(&state));
    let changed = |step: &str| {
        results
            .iter()
            .filter(|((_, s), status)| s == step && *status == "changed")
            .count()
    };
    assert_eq!(
        (changed("reset-password"), changed("allow-sign-in")),
        (1000, 333)
    );
    assert!(
        r.stdout.contains("Reset the user's password"),
        "{}",
        r.stdout
    );
    assert_no_password_outside_secrets(&state, &r, &saved);
}

#[test]
fn incident_response_and_block_compromised_for_1000_users() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 1000);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    assert!(
        users
            .values()
            .all(|u| u["resetCount"] == 1 && u["revokeCount"] == 1 && u["accountEnabled"] == true)
    );
    let stats = emu.get_json("/_stats");
    // privileged_roles: every user's memberships, owned objects, role
    // assignments and eligibility are read; the preflight adds one
    // eligibility probe and one read of the app's own roles.
    let ops = &stats["by_operation"];
    assert_eq!(
        (
            ops["list_memberships"].as_u64(),
            ops["list_owned_objects"].as_u64(),
            ops["list_role_assignments"].as_u64(),
            ops["list_role_eligibility"].as_u64(),
            ops["list_directory_roles"].as_u64().unwrap_or(0),
        ),
        (Some(1000), Some(1000), Some(1001), Some(1001), 0),
        "{stats}"
    );

    let state2 = dir.path().join("state2");
    let r = remedy_run(
        &emu,
        &state2,
        &[
            "workflows/block-compromised.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    assert!(
        users
            .values()
            .all(|u| u["accountEnabled"] == false && u["revokeCount"] == 2 && u["resetCount"] == 1)
    );
}

#[test]
fn dry_run_changes_nothing_and_predicts_the_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 300);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let dry = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    assert!(dry.stderr.contains("DRY RUN"), "{}", dry.stderr);
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["resets"], 0);
    assert_eq!(stats["revokes"], 0);
    assert_eq!(stats["enable_changes"], 0);
    assert_eq!(stats["by_operation"]["reset_password"], 0);
    assert_eq!(stats["by_operation"]["set_account_enabled"], 0);
    let plan = results(&only_run_dir(&state));
    assert!(
        !only_run_dir(&state).join("secrets.csv").exists(),
        "a dry run generates no password"
    );

    let real_state = dir.path().join("real");
    let real = remedy_run(
        &emu,
        &real_state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(real.code, 0, "{}\n{}", real.stdout, real.stderr);
    let done = results(&only_run_dir(&real_state));
    assert_eq!(plan.len(), done.len());
    for (key, status) in &plan {
        let real_status = &done[key];
        let expected = if status == "would_change" {
            "changed"
        } else {
            status.as_str()
        };
        assert_eq!(real_status, expected, "{key:?}");
    }
}

/// (user, step) → status, from results.csv.
fn results(run_dir: &Path) -> std::collections::HashMap<(String, String), String> {
    let mut r = csv::Reader::from_path(run_dir.join("results.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            ((rec[1].to_owned(), rec[2].to_owned()), rec[3].to_owned())
        })
        .collect()
}

fn assert_no_password_outside_secrets(state: &Path, r: &Run, saved: &[(String, String)]) {
    let mut haystack = format!("{}{}", r.stdout, r.stderr);
    let mut stack = vec![state.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "secrets.csv" {
                haystack.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    for (_, pw) in saved {
        assert!(
            !haystack.contains(pw.as_str()),
            "a generated password leaked outside secrets.csv"
        );
    }
}

#[test]
fn killed_runs_resume_without_repeating_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 1000);
    // Latency makes the run long enough to be killed mid-flight.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "50"]);
    let state = dir.path().join("state");
    let mut rng_state: u64 = 0x5eed_1234;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let mut kills = 0;
    for i in 0..10 {
        let mut cmd = run_process(
            &emu,
            &state,
            &[
                "workflows/incident-response.yaml",
                "--users",
                csv.to_str().unwrap(),
                "--progress",
                "none",
                "--concurrency",
                "1",
            ],
        );
        if i > 0 {
            cmd.arg("--resume");
        }
        let mut child = cmd.spawn().unwrap();
        let delay = Duration::from_millis(300 + next() % 1200);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills >= 5,
        "only {kills} of 10 runs were still running when killed"
    );
    let last = remedy_run(
        &emu,
        &state,
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--resume",
        ],
    );
    assert_eq!(last.code, 0, "{}\n{}", last.stdout, last.stderr);
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["users_reset_more_than_once"], 0, "{stats}");
    assert_eq!(stats["users_revoked_more_than_once"], 0, "{stats}");
    let users = emulator_users(&emu);
    let saved: std::collections::HashMap<String, String> =
        secrets(&only_run_dir(&state)).into_iter().collect();
    for (upn, u) in &users {
        assert_eq!(u["resetCount"], 1, "{upn} was not reset exactly once");
        assert_eq!(u["accountEnabled"], true, "{upn}");
        assert_eq!(
            u["passwordSha256"],
            sha256_hex(&saved[upn]),
            "{upn}: secrets.csv must hold the service's password"
        );
    }
}

#[test]
fn faults_and_throttling_still_end_with_every_user_done() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 250);
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--fail-rate",
        "0.05",
        "--reset-rate",
        "0.03",
        "--rate",
        "400",
        // Smaller than the 40 units a run may send before its first answer:
        // the storm is certain to throttle, however well the pace is kept.
        "--burst",
        "20",
        "--seed",
        "11",
    ]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--concurrency",
            "32",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    for (upn, u) in &users {
        assert_eq!(u["accountEnabled"], true, "{upn}");
        assert_eq!(u["resetCount"], 1, "{upn}: reset once despite faults");
        assert!(u["revokeCount"].as_u64().unwrap() >= 1, "{upn}");
    }
    let stats = emu.get_json("/_stats");
    assert!(
        stats["throttled"].as_u64().unwrap() > 0,
        "the storm throttled: {stats}"
    );
    let requests = stats["requests"].as_u64().unwrap();
    // About 8.3 requests per user without faults (read, the guard's four
    // lists, reset, the read again before the revocation so that its
    // evidence starts after the reset, revoke, and enabling the disabled
    // third); a fault in one of the four lists repeats the four. Retries
    // must stay within about twice that.
    assert!(
        requests < 250 * 17,
        "retries stay bounded: {requests} requests for 250 users"
    );
}

#[test]
fn max_failures_stops_the_run_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 300);
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--roles",
        // The guard can read; the steps cannot write.
        "User.Read.All,Directory.Read.All,RoleEligibilitySchedule.Read.Directory",
    ]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--concurrency",
            "4",
            // Every user is to fail on the missing permission.
            "--no-preflight",
        ],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("max_failures"), "{}", r.stderr);
    let finished = results(&only_run_dir(&state)).len() / 2;
    assert!(
        finished < 300,
        "scheduling stopped early ({finished} users)"
    );
    assert!(
        r.stdout.contains("Authorization_RequestDenied"),
        "{}",
        r.stdout
    );
}

#[test]
fn protected_users_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(
        &csv,
        "userPrincipalName,displayName,roles\nbreakglass@contoso.onmicrosoft.com,Break Glass,\nadmin@contoso.onmicrosoft.com,Admin,Global Administrator\nplain@contoso.onmicrosoft.com,Plain,\n",
    )
    .unwrap();
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    for protected in [
        "breakglass@contoso.onmicrosoft.com",
        "admin@contoso.onmicrosoft.com",
    ] {
        assert_eq!(users[protected]["resetCount"], 0, "{protected}");
        assert_eq!(users[protected]["revokeCount"], 0, "{protected}");
    }
    assert_eq!(users["plain@contoso.onmicrosoft.com"]["resetCount"], 1);
    let res = results(&only_run_dir(&state));
    assert_eq!(
        res[&(
            "admin@contoso.onmicrosoft.com".into(),
            "reset-password".into()
        )],
        "skipped"
    );
}

#[test]
fn tenant_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 5);
    let pinned = dir.path().join("pinned.yaml");
    let text =
        std::fs::read_to_string(crate::support::root().join("workflows/unlock-account.yaml"))
            .unwrap()
            .replace(
                "  provider: graph\n",
                "  provider: graph\n  tenant: 0f0f0f0f-1111-4222-8333-944445555666\n",
            );
    std::fs::write(&pinned, text).unwrap();
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[pinned.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not the pinned"), "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["resets"], 0);
}

#[test]
fn without_yes_and_without_a_terminal_nothing_happens() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 5);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let mut cmd = remedy();
    cmd.args([
        "run",
        "workflows/unlock-account.yaml",
        "--users",
        csv.to_str().unwrap(),
        "--state-dir",
    ])
    .arg(dir.path().join("state"))
    .envs(emu.client_env("c", "s"))
    .write_stdin("y\n");
    let r = run(&mut cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["resets"], 0);
}

#[test]
fn invalid_input_exits_2_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "userPrincipalName,displayName\nnot-a-user,X\n").unwrap();
    let emu = EmulatorProcess::start(&["--generate", "5"]);
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("csv::invalid-key"), "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["requests"], 0);
}

#[test]
fn counter_progress_is_line_based() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 200);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains('\r') && !r.stderr.contains('\u{1b}'),
        "no redraws or escapes in counter mode"
    );
    let progress: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(!progress.is_empty(), "{}", r.stderr);
    let last = progress.last().unwrap();
    assert!(last.contains("200/200"), "{last}");
}

#[test]
fn emulate_runs_the_readme_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = remedy();
    cmd.args([
        "run",
        "workflows/unlock-account.yaml",
        "--users",
        "examples/users.csv",
        "--emulate",
        "--yes",
        "--state-dir",
    ])
    .arg(dir.path())
    .env_remove("AZURE_CLIENT_SECRET")
    .timeout(Duration::from_secs(60));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no real tenant is touched"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("changed"), "{}", r.stdout);
}

#[test]
fn a_second_run_on_the_same_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 400);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "20"]);
    let state = dir.path().join("state");
    let mut first = run_process(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--progress",
            "none",
            "--concurrency",
            "1",
        ],
    );
    let mut child = first.spawn().unwrap();
    // Wait until the first run holds the lock (its run directory exists).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !state.join("runs").exists()
        || std::fs::read_dir(state.join("runs"))
            .unwrap()
            .next()
            .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("another remedy run is using the state directory"),
        "{}",
        second.stderr
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_scheduling_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 600);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "20"]);
    let state = dir.path().join("state");
    let mut cmd = run_process(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--progress",
            "counter",
            "--concurrency",
            "1",
        ],
    );
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let stats = emu.get_json("/_stats");
    assert!(
        stats["resets"].as_u64().unwrap() < 600,
        "scheduling stopped: {stats}"
    );
    // Every user started before the interrupt was finished and journaled.
    let journal = std::fs::read_to_string(only_run_dir(&state).join("journal.jsonl")).unwrap();
    let intents = journal.matches(r#""type":"intent""#).count();
    let outcomes_after_intent = journal.matches(r#""status":"changed""#).count();
    assert!(
        outcomes_after_intent >= intents / 2,
        "in-flight users finished"
    );
    let resumed = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--resume",
        ],
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["resets"], 600);
    assert_eq!(stats["users_reset_more_than_once"], 0);
}

/// The number in the first-Ctrl-C notice `stopping: N requests in flight`.
fn in_flight_at_stop(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.starts_with("stopping: "))?;
    line.strip_prefix("stopping: ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

#[cfg(unix)]
#[test]
fn ctrl_c_once_starts_nothing_new_and_the_resume_does_every_user_once() {
    const USERS: u64 = 4000;
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), USERS as usize);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "500"]);
    let state = dir.path().join("state");
    // 50 × 20 = 1,000 users in flight at a time.
    let mut cmd = run_process(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--progress",
            "none",
            "--concurrency",
            "50",
        ],
    );
    cmd.stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let resets = || emu.get_json("/_stats")["resets"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while resets() < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let at_signal = resets();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let after = resets() - at_signal;
    let in_flight = in_flight_at_stop(&stderr);
    eprintln!("resets at the signal {at_signal}, after it {after}, in flight {in_flight:?}");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let in_flight = in_flight.unwrap_or_else(|| panic!("no in-flight count: {stderr}"));
    assert!(stderr.contains("Ctrl-C again to stop now"), "{stderr}");
    // Only changes already sent finished: no reset started after the
    // signal, though 1,000 users were under way (a few batches may have
    // been answered between the count above and the signal's arrival,
    // and so not be in its count).
    assert!(
        after <= in_flight + 40,
        "{after} resets after the signal, {in_flight} requests in flight"
    );
    // The journal is consistent: every reset intent has its outcome, and
    // the manifest counts exactly the users that ended.
    let run_dir = only_run_dir(&state);
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &'static str| records.iter().filter(move |r| r["type"] == t);
    let intents = of("intent")
        .filter(|r| r["step"] == "reset-password")
        .count();
    let reset_outcomes = of("outcome")
        .filter(|r| r["step"] == "reset-password" && r["status"] == "changed")
        .count();
    assert_eq!(
        intents,
        of("outcome")
            .filter(|r| r["step"] == "reset-password")
            .count(),
        "every intent has its outcome"
    );
    assert_eq!(
        reset_outcomes as u64,
        resets(),
        "the journal matches the service"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "interrupted");
    assert_eq!(
        manifest["counts"]["processed"].as_u64().unwrap() as usize,
        of("user_done").count()
    );

    let resumed = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--resume",
            "--concurrency",
            "50",
        ],
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["resets"], USERS);
    assert_eq!(stats["users_reset_more_than_once"], 0);
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    let mut done = std::collections::HashMap::<String, u32>::new();
    let mut steps = std::collections::HashMap::<(String, String), u32>::new();
    for r in journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
    {
        let user = r["user"].as_str().unwrap_or_default().to_ascii_lowercase();
        match r["type"].as_str() {
            Some("user_done") => *done.entry(user).or_default() += 1,
            Some("outcome") => {
                *steps
                    .entry((user, r["step"].as_str().unwrap().to_owned()))
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    assert_eq!(done.len() as u64, USERS, "every user finished");
    assert!(done.values().all(|&n| n == 1), "every user finished once");
    assert_eq!(steps.len() as u64, USERS * 2);
    assert!(
        steps.values().all(|&n| n == 1),
        "every step has one outcome"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "completed");
    let counts = &manifest["counts"];
    assert_eq!(
        counts["processed"].as_u64().unwrap() + counts["done_earlier"].as_u64().unwrap(),
        USERS,
        "{counts}"
    );
}

#[test]
fn resume_refuses_a_changed_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 20);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("extra@contoso.onmicrosoft.com,Extra,true,no\n");
    std::fs::write(&csv, text).unwrap();
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--resume",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("the CSV changed"), "{}", r.stderr);
}

/// A run of `workflows/unlock-account.yaml` over `csv` killed (SIGKILL)
/// once it saved three passwords, so it is recorded as running. `emu`
/// answers slowly enough for that.
fn crashed_run(emu: &EmulatorProcess, state: &Path, csv: &Path) {
    crate::support::kill_when(
        &mut run_process(
            emu,
            state,
            &[
                "workflows/unlock-account.yaml",
                "--users",
                csv.to_str().unwrap(),
                "--progress",
                "none",
                "--concurrency",
                "1",
            ],
        ),
        || crate::support::saved_passwords(state) >= 3,
    );
    let manifest = std::fs::read_to_string(only_run_dir(state).join("manifest.json")).unwrap();
    assert!(manifest.contains(r#""status": "running""#), "{manifest}");
}

/// `REMEDY_CRASH_AT` crashes only a `--features crash-points` build (the
/// kill campaign's). The default build, the one `cargo build --release`
/// and `cargo install` make, has no crash points: it says the variable is
/// ignored and completes the run.
#[test]
fn only_a_crash_points_build_obeys_remedy_crash_at() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 5);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = run_process(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--progress",
            "none",
        ],
    )
    .env("REMEDY_CRASH_AT", "secrets-write:1")
    .stderr(std::process::Stdio::piped())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let resets = emu.get_json("/_stats")["resets"].as_u64().unwrap();
    if cfg!(feature = "crash-points") {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(6), "aborted (SIGABRT): {stderr}");
        assert_eq!(resets, 0, "it died before sending the first reset");
    } else {
        assert!(out.status.success(), "{stderr}");
        assert_eq!(resets, 5, "{stderr}");
        assert_eq!(crate::support::saved_passwords(&state), 5);
        assert!(
            stderr.contains("REMEDY_CRASH_AT is set, but this build has no crash points"),
            "{stderr}"
        );
    }
}

#[test]
fn resume_refuses_another_tenant_or_another_graph_root() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 20);
    // Slow enough to be killed mid-run.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "50"]);
    let other = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--tenant-id",
        "aaaaaaaa-1111-4222-8333-944445555666",
    ]);
    let state = dir.path().join("state");
    crashed_run(&emu, &state, &csv);
    let manifest = only_run_dir(&state).join("manifest.json");
    let recorded = std::fs::read(&manifest).unwrap();
    let writes = |e: &EmulatorProcess| {
        let s = e.get_json("/_stats");
        (
            s["resets"].as_u64().unwrap(),
            s["enable_changes"].as_u64().unwrap(),
        )
    };
    let before = crate::support::settled(|| writes(&emu));
    let args = [
        "workflows/unlock-account.yaml",
        "--users",
        csv.to_str().unwrap(),
        "--resume",
    ];
    // Credentials for another tenant (its token names tenant aaaaaaaa-…).
    let mut cmd = remedy();
    cmd.arg("run")
        .args(args)
        .args(["--yes", "--progress", "none", "--state-dir"])
        .arg(&state)
        .envs(other.client_env("run-tests", "run-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .timeout(Duration::from_secs(60));
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "changed tenant 5c8e2f1a-7d4b-4e9c-a3f6-0b2d9e7c4a18, but the credentials are for tenant aaaaaaaa-1111-4222-8333-944445555666"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("refusing to resume"), "{}", r.stderr);
    // The same tenant behind another Graph root (`--graph-url`).
    let elsewhere = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let mut cmd = remedy();
    cmd.arg("run")
        .args(args)
        .args(["--yes", "--progress", "none", "--state-dir"])
        .arg(&state)
        .args([
            "--graph-url",
            &elsewhere.url,
            "--authority-url",
            &elsewhere.url,
        ])
        .envs(emu.client_env("run-tests", "run-test-secret"))
        .env_remove("REMEDY_GRAPH_URL")
        .env_remove("REMEDY_AUTHORITY_URL")
        .env_remove("AZURE_ACCESS_TOKEN")
        .timeout(Duration::from_secs(60));
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "run {} talked to {}, but this connection is to {}; refusing to resume",
            only_run_dir(&state).file_name().unwrap().to_str().unwrap(),
            emu.url,
            elsewhere.url
        )),
        "{}",
        r.stderr
    );
    assert_eq!(
        writes(&elsewhere),
        (0, 0),
        "nothing changed behind the other root"
    );
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        recorded,
        "manifest untouched"
    );
    assert_eq!(writes(&emu), before, "nothing changed in the run's tenant");
    assert_eq!(
        writes(&other),
        (0, 0),
        "nothing changed in the other tenant"
    );
    // With the run's own connection it resumes and finishes.
    let r = remedy_run(&emu, &state, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = emu.get_json("/_stats");
    assert_eq!(s["resets"], 20);
    assert_eq!(s["users_reset_more_than_once"], 0);
}

#[test]
fn resuming_a_completed_run_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 30);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let args = [
        "workflows/unlock-account.yaml",
        "--users",
        csv.to_str().unwrap(),
    ];
    let r = remedy_run(&emu, &state, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = emu.get_json("/_stats")["requests"].as_u64().unwrap();
    let r = remedy_run(&emu, &state, &[&args[..], &["--resume"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already completed"), "{}", r.stderr);
    // Only the token request of the resumed process reaches the service.
    let after = emu.get_json("/_stats")["requests"].as_u64().unwrap();
    assert!(after - before <= 1, "{before} -> {after}");
}

/// The client secret of the hygiene test: checked by its emulator, so a run
/// that gets a token has really sent it.
const HYGIENE_SECRET: &str = "Hygiene-Client-Secret-5d2e8a71c4";

/// `remedy run` for the hygiene test: everything it writes goes to
/// `state`, `reports` and the step summary `summary`; stdout and stderr are
/// piped so the caller can read them even from a killed run.
fn hygiene_run(
    emu: &EmulatorProcess,
    dirs: (&Path, &Path, &Path),
    workflow: &Path,
    csv: &Path,
    extra: &[&str],
) -> std::process::Command {
    let (state, reports, summary) = dirs;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.arg("run")
        .arg(workflow)
        .arg("--users")
        .arg(csv)
        .args(["--yes", "--progress", "counter", "--state-dir"])
        .arg(state)
        .arg("--report-dir")
        .arg(reports)
        .args(extra)
        .envs(emu.client_env("hygiene-tests", HYGIENE_SECRET))
        .env("GITHUB_STEP_SUMMARY", summary)
        .env("NO_COLOR", "1")
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("REMEDY_CA_FILE")
        .current_dir(crate::support::root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Waits for `child`; returns its exit code (None if killed) and appends
/// its stdout and stderr to `out`.
fn finish(child: std::process::Child, out: &mut Vec<u8>) -> Option<i32> {
    let o = child.wait_with_output().unwrap();
    out.extend_from_slice(&o.stdout);
    out.extend_from_slice(&o.stderr);
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(!text.contains("panicked"), "remedy panicked:\n{text}");
    o.status.code()
}

/// Every file under `dir`, recursively, with its bytes.
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                found.push((p, bytes));
            }
        }
    }
    found
}

/// `bytes` as written, and as a reader would decode it (XML entities of
/// junit.xml, Markdown and JSON backslash escapes), so an escaped password
/// is still found.
fn decoded_forms(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let xml = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    let unslashed = text.replace('\\', "");
    vec![bytes.to_vec(), xml.into_bytes(), unslashed.into_bytes()]
}

/// The passwords (all of one length) that occur in `haystack`.
fn passwords_in<'a>(
    haystack: &[u8],
    passwords: &std::collections::HashSet<&'a [u8]>,
) -> Vec<&'a [u8]> {
    let Some(len) = passwords.iter().next().map(|p| p.len()) else {
        return Vec::new();
    };
    let mut hits: Vec<&[u8]> = Vec::new();
    for form in decoded_forms(haystack) {
        for w in form.windows(len) {
            if let Some(p) = passwords.get(w)
                && !hits.contains(p)
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every workflow in `workflows/`, with generated passwords and a client
/// secret the emulator checks: a run killed with SIGKILL mid-flight and
/// resumed, a run whose every step fails (the app lacks the permissions)
/// and a run whose token request is refused. Then every byte remedy wrote
/// (stdout, stderr, every file of the state and report directories, the
/// step summary) is read: each generated password is found only in
/// `secrets.csv`, the client secret nowhere, no run panicked, and the
/// state directory, run directories and `secrets.csv` are private.
#[cfg(unix)]
#[test]
fn no_secret_leaks_from_any_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 120);
    let workflows = crate::support::files(&crate::support::root().join("workflows"), &["yaml"]);
    assert!(workflows.len() >= 3, "{workflows:?}");
    let mut resets = 0;
    for wf in &workflows {
        let name = wf.file_stem().unwrap().to_str().unwrap();
        // A workflow with an Active Directory target needs a domain
        // controller: `ad::a_hybrid_playbook_acts_on_samba_and_the_graph_emulator` runs it
        // against Samba and the emulator.
        if std::fs::read_to_string(wf)
            .unwrap()
            .contains("provider: active_directory")
        {
            continue;
        }
        let base = dir.path().join(name);
        let (state, reports, summary) = (
            base.join("state"),
            base.join("reports"),
            base.join("summary.md"),
        );
        std::fs::create_dir_all(&base).unwrap();
        let dirs = (state.as_path(), reports.as_path(), summary.as_path());
        let mut out = Vec::new();

        // 1. Killed mid-run (SIGKILL: no handler runs), then resumed.
        let emu = EmulatorProcess::start_with_env(
            &["--users", csv.to_str().unwrap(), "--latency-ms", "20"],
            &[("REMEDY_EMULATOR_CLIENT_SECRET", HYGIENE_SECRET)],
        );
        let mut child = hygiene_run(&emu, dirs, wf, &csv, &["--concurrency", "1", "--no-batch"])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let journal = std::fs::read_dir(state.join("runs"))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| std::fs::read_to_string(e.unwrap().path().join("journal.jsonl")).ok())
                .unwrap_or_default();
            if journal.matches(r#""type":"user_done""#).count() >= 5 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the run never got going"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        assert_eq!(finish(child, &mut out), None, "{name}: killed mid-run");
        let resumed = hygiene_run(&emu, dirs, wf, &csv, &["--resume"])
            .spawn()
            .unwrap();
        assert_eq!(
            finish(resumed, &mut out),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(
            emu.get_json("/_stats")["users_reset_more_than_once"],
            0,
            "{name}"
        );
        drop(emu);

        // 2. Every step fails: the token lacks the permissions.
        let emu = EmulatorProcess::start_with_env(
            &[
                "--users",
                csv.to_str().unwrap(),
                "--roles",
                // The guard can read (else every user is protected); the
                // steps cannot write.
                "User.Read.All,Directory.Read.All,RoleEligibilitySchedule.Read.Directory",
            ],
            &[("REMEDY_EMULATOR_CLIENT_SECRET", HYGIENE_SECRET)],
        );
        let failing = hygiene_run(&emu, dirs, wf, &csv, &["--no-preflight"])
            .spawn()
            .unwrap();
        let code = finish(failing, &mut out);
        assert!(matches!(code, Some(1 | 3)), "{name}: {code:?}");
        drop(emu);

        // 3. The token request is refused (the emulator wants another secret).
        let emu = EmulatorProcess::start_with_env(
            &["--users", csv.to_str().unwrap()],
            &[("REMEDY_EMULATOR_CLIENT_SECRET", "another-secret")],
        );
        let refused = hygiene_run(&emu, dirs, wf, &csv, &[]).spawn().unwrap();
        assert_eq!(finish(refused, &mut out), Some(2), "{name}");
        assert!(
            String::from_utf8_lossy(&out).contains("AADSTS7000215"),
            "{name}"
        );
        drop(emu);

        // Permissions: the state directory, its runs and secrets.csv.
        assert_eq!(mode(&state), 0o700, "{name}: state dir");
        assert_eq!(mode(&state.join("runs")), 0o700, "{name}: runs dir");
        let run_dirs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            run_dirs.len(),
            2,
            "{name}: the killed/resumed run and the failing run"
        );
        let mut saved = Vec::new();
        for run_dir in &run_dirs {
            assert_eq!(mode(run_dir), 0o700, "{name}: {}", run_dir.display());
            let secrets_csv = run_dir.join("secrets.csv");
            if secrets_csv.exists() {
                assert_eq!(mode(&secrets_csv), 0o600, "{name}");
                saved.extend(secrets(run_dir).into_iter().map(|(_, pw)| pw));
            }
        }
        let with_reset = std::fs::read_to_string(wf)
            .unwrap()
            .contains("reset_password");
        if with_reset {
            // The resumed run reset every user exactly once; the failing
            // run journaled its passwords before Graph refused them.
            assert!(saved.len() >= 120, "{name}: {}", saved.len());
        } else {
            assert!(saved.is_empty(), "{name}: no password without a reset step");
        }
        resets += saved.len();

        // Every byte written: outputs, state dir, report dir, step summary.
        let mut written = every_file(&state);
        written.extend(every_file(&reports));
        written.extend(every_file(&base).into_iter().filter(|(p, _)| p == &summary));
        written.push((PathBuf::from("<stdout and stderr>"), out));
        assert!(
            written.iter().any(|(p, _)| p.ends_with("journal.jsonl"))
                && written.iter().any(|(p, _)| p.ends_with("manifest.json"))
                && written.iter().any(|(p, _)| p.ends_with("junit.xml"))
                && written.iter().any(|(p, _)| p == &summary),
            "{name}: {:?}",
            written.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
        let passwords: std::collections::HashSet<&[u8]> =
            saved.iter().map(|p| p.as_bytes()).collect();
        // The search itself works: it finds every password in secrets.csv,
        // and finds one again once XML-escaped as junit.xml would write it.
        let mut found_in_secrets = std::collections::HashSet::new();
        if let Some(pw) = saved.first() {
            let escaped = pw
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let probe = format!("<failure message=\"{escaped}\"/>");
            assert_eq!(passwords_in(probe.as_bytes(), &passwords), [pw.as_bytes()]);
        }
        for (path, bytes) in &written {
            let in_secrets_csv = path.file_name().is_some_and(|f| f == "secrets.csv");
            // secrets.csv is where `saved` came from; every other file
            // must hold none of them.
            if in_secrets_csv {
                found_in_secrets.extend(passwords_in(bytes, &passwords));
            } else {
                assert!(
                    passwords_in(bytes, &passwords).is_empty(),
                    "{name}: a password leaked into {}",
                    path.display()
                );
            }
            for form in decoded_forms(bytes) {
                assert!(
                    !form
                        .windows(HYGIENE_SECRET.len())
                        .any(|w| w == HYGIENE_SECRET.as_bytes()),
                    "{name}: the client secret leaked into {}",
                    path.display()
                );
            }
        }
        assert_eq!(found_in_secrets.len(), passwords.len(), "{name}");
    }
    assert!(resets >= 240, "two workflows reset passwords: {resets}");
}

#[test]
fn a_throttled_batched_run_wastes_few_calls() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 300);
    // 300 users × about 3.3 operations against 200 operations/s.
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--rate",
        "200",
        "--burst",
        "100",
    ]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--concurrency",
            "8",
            // The preflight's reads of the app's roles go around the run's
            // dispatcher; without them every call but the tokens is the run's.
            "--no-preflight",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stats = emu.get_json("/_stats");
    let items = stats["by_operation"]["batch_items"].as_u64().unwrap();
    let throttled = stats["throttled"].as_u64().unwrap();
    // The manifest's traffic is what the service saw: every HTTP call but
    // the token requests, each answer (direct requests and batch items; no
    // faults, so every call is answered) and each 429.
    let run = only_run_dir(&state);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let traffic = &manifest["traffic"];
    let requests = stats["requests"].as_u64().unwrap();
    let tokens = stats["by_operation"]["token"].as_u64().unwrap();
    let envelopes = stats["by_operation"]["batch"].as_u64().unwrap();
    assert_eq!(traffic["calls"], requests - tokens, "{traffic} {stats}");
    assert_eq!(
        traffic["answered"],
        requests - tokens - envelopes + items,
        "{traffic} {stats}"
    );
    assert_eq!(traffic["throttled"], throttled, "{traffic} {stats}");
    assert_eq!(traffic["attempts"], 1);
    let duration = traffic["duration_s"].as_f64().unwrap();
    let paused = traffic["paused_s"].as_f64().unwrap();
    assert!(duration > 0.0 && paused <= duration, "{traffic}");
    // A 429 pauses every worker for its Retry-After (a second at least).
    assert_eq!(paused > 0.0, throttled > 0, "{traffic}");
    let summary = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("- **429 answers:** {throttled}\n")),
        "{summary}"
    );
    assert!(
        r.stderr
            .contains(&format!(" calls/s · 429s {throttled} · ")),
        "the final progress line counts the 429 answers: {}",
        r.stderr
    );
    assert!(items > 0, "requests were batched: {stats}");
    // Alone this run wastes 1-4 %; the bound leaves room for a loaded CI
    // machine (timing shifts when the first 429 lands). Clients that retry
    // each 429 on their own waste far more (see the throughput benchmark).
    assert!(
        throttled * 10 < items,
        "at most 10 % of batch items answered 429: {throttled} of {items}"
    );
    assert_eq!(stats["users_reset_more_than_once"], 0);
    assert!(
        emulator_users(&emu)
            .values()
            .all(|u| u["resetCount"] == 1 && u["accountEnabled"] == true)
    );
}

#[test]
fn no_batch_sends_one_request_per_operation() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 50);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--no-batch",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["by_operation"]["batch"], 0, "{stats}");
    assert_eq!(stats["resets"], 50);
}

#[test]
fn a_tight_write_quota_is_learned_and_nothing_is_done_twice() {
    // Graph's write quota, scaled down: 10 writes a second after 20 at
    // once, no level header. Every user is disabled, so each costs one
    // folded PATCH (reset and sign-in together).
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("userPrincipalName,displayName,accountEnabled\n");
    for i in 1..=80 {
        text.push_str(&format!(
            "user{i:05}@contoso.onmicrosoft.com,User {i},false\n"
        ));
    }
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, text).unwrap();
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--costs",
        "graph",
        "--write-rate",
        "10",
        "--write-burst",
        "20",
        "--level-header",
        "never",
    ]);
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stats = emu.get_json("/_stats");
    // remedy starts from Graph's published 3,000 writes at once, so this
    // quota refuses it; only writes were refused, and it settled.
    let by = &stats["throttled_by_scope"];
    assert!(by["write"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(
        (by["read"].as_u64(), by["readwrite"].as_u64()),
        (Some(0), Some(0)),
        "{stats}"
    );
    // (A quota 150 times smaller than the published one costs the first
    // calls in flight, then the budget settles: measured 27 of 107.)
    assert!(
        by["write"].as_u64().unwrap() * 2 <= 80,
        "half as many refusals as writes at most: {stats}"
    );
    assert_eq!(stats["resets"], 80);
    assert_eq!(stats["enable_changes"], 80);
    assert_eq!(stats["users_reset_more_than_once"], 0);
    // One write per user reached the service, besides the refused ones.
    let writes = stats["writes"].as_u64().unwrap();
    assert_eq!(writes - by["write"].as_u64().unwrap(), 80, "{stats}");
}
