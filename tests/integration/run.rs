//! `remedy run` end to end: the real binary against the emulator binary on
//! 127.0.0.1, checked through the emulator's counters and the files the run
//! leaves behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{EmulatorProcess, Run, remedy, run};

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
    let mut cmd = remedy();
    cmd.arg("run")
        .args(args)
        .args(["--yes", "--progress", "counter", "--state-dir"])
        .arg(state)
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "run-tests")
        .env("AZURE_CLIENT_SECRET", "run-test-secret")
        .env("REMEDY_GRAPH_URL", &emu.url)
        .env("REMEDY_AUTHORITY_URL", &emu.url)
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(240));
    run(&mut cmd)
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
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "process-tests")
        .env("AZURE_CLIENT_SECRET", "process-test-secret")
        .env("REMEDY_GRAPH_URL", &emu.url)
        .env("REMEDY_AUTHORITY_URL", &emu.url)
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
fn emulator_users(emu: &EmulatorProcess) -> std::collections::HashMap<String, serde_json::Value> {
    emu.get_json("/_users")
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userPrincipalName"]
                    .as_str()
                    .unwrap()
                    .to_ascii_lowercase(),
                u.clone(),
            )
        })
        .collect()
}

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
    // Only the disabled third needed enabling.
    assert_eq!(stats["enable_changes"], 333);
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
    assert_eq!(
        stats["by_operation"]["list_directory_roles"], 1000,
        "privileged_roles: every user's roles are checked"
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
        "--burst",
        "40",
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
    // About 4.3 requests per user without faults (read, roles, reset,
    // revoke, and enabling the disabled third); retries must stay within
    // twice that.
    assert!(
        requests < 250 * 9,
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
        "User.Read.All,Directory.Read.All",
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
    .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    .env("AZURE_CLIENT_ID", "c")
    .env("AZURE_CLIENT_SECRET", "s")
    .env("REMEDY_GRAPH_URL", &emu.url)
    .env("REMEDY_AUTHORITY_URL", &emu.url)
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

#[test]
fn no_secret_leaks_from_any_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 60);
    for wf in ["unlock-account", "incident-response", "block-compromised"] {
        let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
        let state = dir.path().join(format!("state-{wf}"));
        let r = remedy_run(
            &emu,
            &state,
            &[
                &format!("workflows/{wf}.yaml"),
                "--users",
                csv.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "{wf}: {}", r.stderr);
        assert!(
            !format!("{}{}", r.stdout, r.stderr).contains("run-test-secret"),
            "{wf}: the client secret leaked"
        );
        let run_dir = only_run_dir(&state);
        if run_dir.join("secrets.csv").exists() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(run_dir.join("secrets.csv"))
                        .unwrap()
                        .permissions()
                        .mode()
                        & 0o777,
                    0o600
                );
            }
            let saved = secrets(&run_dir);
            assert_eq!(saved.len(), 60, "{wf}");
            assert_no_password_outside_secrets(&state, &r, &saved);
        }
        let mut all = String::new();
        for e in std::fs::read_dir(&run_dir).unwrap() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.unwrap().path()).unwrap(),
            ));
        }
        assert!(
            !all.contains("run-test-secret"),
            "{wf}: the client secret reached a file"
        );
    }
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
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stats = emu.get_json("/_stats");
    let items = stats["by_operation"]["batch_items"].as_u64().unwrap();
    let throttled = stats["throttled"].as_u64().unwrap();
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
