//! `remedy run --shard i/N` end to end: N runs over one CSV against one
//! emulator process touch every user exactly once, each run records its
//! shard, and a resume with another shard is refused.

use std::path::Path;
use std::time::Duration;

use crate::support::{EmulatorProcess, Run, remedy, run};

/// `remedy run` against `emu`, non-interactive, with `state` as state dir.
pub fn remedy_run(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.arg("run")
        .args(args)
        .args(["--yes", "--progress", "none", "--state-dir"])
        .arg(state)
        .envs(emu.client_env("shard-tests", "shard-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    run(&mut cmd)
}

/// A plain CSV of `n` users with mixed-case keys.
pub fn users_csv(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut text = String::from("userPrincipalName,displayName\n");
    for i in 1..=n {
        let upn = if i % 2 == 0 {
            format!("User{i:04}@Contoso.onmicrosoft.com")
        } else {
            format!("user{i:04}@contoso.onmicrosoft.com")
        };
        text.push_str(&format!("{upn},User {i}\n"));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The manifest of the only run in `state`.
pub fn manifest(state: &Path) -> serde_json::Value {
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    serde_json::from_str(&std::fs::read_to_string(runs[0].join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn three_shards_reset_every_user_exactly_once() {
    const USERS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), USERS as usize);
    let csv = csv.to_str().unwrap();
    let emu = EmulatorProcess::start(&["--users", csv]);
    let mut covered = 0;
    for i in 1..=3 {
        let state = dir.path().join(format!("state-{i}"));
        let shard = format!("{i}/3");
        let r = remedy_run(
            &emu,
            &state,
            &[
                "workflows/unlock-account.yaml",
                "--users",
                csv,
                "--shard",
                &shard,
            ],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let m = manifest(&state);
        assert_eq!(m["shard"], shard.as_str());
        assert_eq!(m["counts"]["csv_rows"], USERS);
        let users = m["counts"]["users"].as_u64().unwrap();
        assert!(users > 0 && users < USERS, "shard {shard}: {users}");
        assert_eq!(m["counts"]["processed"], users);
        assert!(
            r.stderr.contains(&format!(
                "shard {shard}: {users} of the CSV's {USERS} users"
            )),
            "{}",
            r.stderr
        );
        let run_dir = std::fs::read_dir(state.join("runs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
        assert!(
            summary.contains(&format!("- **Shard:** {shard} ")),
            "{summary}"
        );
        covered += users;
    }
    assert_eq!(covered, USERS, "the shards partition the CSV");
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["resets"], USERS, "{stats}");
    assert_eq!(stats["users_reset_more_than_once"], 0, "{stats}");
    let users = emu.get_json("/_users");
    let users = users.as_array().unwrap();
    assert_eq!(users.len() as u64, USERS);
    assert!(users.iter().all(|u| u["resetCount"] == 1));

    // Resuming shard 1's run as another shard (or unsharded) is refused
    // before anything is sent.
    let state = dir.path().join("state-1");
    for other in [&["--shard", "2/3"][..], &[]] {
        let mut args = vec!["workflows/unlock-account.yaml", "--users", csv, "--resume"];
        args.extend_from_slice(other);
        let r = remedy_run(&emu, &state, &args);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("refusing to resume"), "{}", r.stderr);
    }
    // The same shard resumes (nothing is left to do).
    let r = remedy_run(
        &emu,
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv,
            "--resume",
            "--shard",
            "1/3",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["resets"], USERS);
}

#[test]
fn a_malformed_shard_is_a_usage_error() {
    for bad in ["0/3", "4/3", "3", "1/0"] {
        let r = run(remedy().args([
            "run",
            "workflows/unlock-account.yaml",
            "--users",
            "examples/users.csv",
            "--shard",
            bad,
        ]));
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("invalid shard"), "{bad}: {}", r.stderr);
    }
}
