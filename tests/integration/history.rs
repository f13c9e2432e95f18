//! A state directory's history: `remedy runs` lists what `remedy run`
//! recorded, the manifest holds the incident-record fields, and
//! `remedy report` rebuilds a run's summary from its journal.

use std::path::Path;
use std::time::Duration;

use crate::support::{Run, remedy, run};

/// `remedy run` of the README's example against the built-in emulator.
fn emulated_run(state: &Path, extra: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.args([
        "run",
        "workflows/unlock-account.yaml",
        "--users",
        "examples/users.csv",
        "--emulate",
        "--yes",
        "--progress",
        "none",
        "--state-dir",
    ])
    .arg(state)
    .args(extra)
    .env_remove("GITHUB_STEP_SUMMARY")
    .timeout(Duration::from_secs(60));
    run(&mut cmd)
}

fn remedy_at(state: &Path, args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.args(args).arg("--state-dir").arg(state);
    run(&mut cmd)
}

fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn runs_lists_nothing_in_a_fresh_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("never-used");
    let r = remedy_at(&state, &["runs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("no runs recorded"), "{}", r.stderr);
    let r = remedy_at(&state, &["runs", "--format", "json"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "[]"));
    let r = remedy_at(&state, &["report"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("remedy runs"), "{}", r.stderr);
}

#[test]
fn runs_manifest_and_report_describe_recorded_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let dry = emulated_run(&state, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let real = emulated_run(&state, &[]);
    assert_eq!(real.code, 0, "{}", real.stderr);

    let r = remedy_at(&state, &["runs", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (newest, oldest) = (&listed[0], &listed[1]);
    assert_eq!(newest["mode"], "live");
    assert_eq!(oldest["mode"], "dry_run");
    for l in listed {
        assert_eq!(l["status"], "completed");
        assert_eq!(l["emulated"], true);
        assert_eq!(l["counts"]["users"], 6);
        assert_eq!(l["counts"]["processed"], 6);
        assert_eq!(l["counts"]["failed"], 0);
        assert!(l["finished"].is_string());
    }
    let newest_id = newest["id"].as_str().unwrap();
    let oldest_id = oldest["id"].as_str().unwrap();

    let r = remedy_at(&state, &["runs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("RUN "), "{}", r.stdout);
    assert!(lines[1].starts_with(newest_id), "{}", r.stdout);
    assert!(lines[1].contains("completed"), "{}", r.stdout);
    assert!(lines[1].contains("real (emulator)"), "{}", r.stdout);
    assert!(lines[2].contains("dry run (emulator)"), "{}", r.stdout);
    assert!(lines[3].starts_with("2 runs in "), "{}", r.stdout);

    // The manifest is an incident record.
    let run_dir = state.join("runs").join(newest_id);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    let root = crate::support::root();
    assert_eq!(
        m["playbook_sha256"],
        sha256_file(&root.join("workflows/unlock-account.yaml"))
    );
    assert_eq!(
        m["csv_sha256"],
        sha256_file(&root.join("examples/users.csv"))
    );
    assert_eq!(m["remedy_version"], env!("CARGO_PKG_VERSION"));
    assert!(
        m["operator"]["host"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{m}"
    );
    assert!(m["operator"].get("os_user").is_some(), "{m}");
    assert!(m["tenant"].as_str().is_some_and(|t| !t.is_empty()), "{m}");
    assert_eq!(m["app_id"], "remedy-emulate");
    assert_eq!(m["dry_run"], false);
    assert_eq!(m["shard"], serde_json::Value::Null);
    assert_eq!(m["steps"][0]["id"], "reset-password");
    assert!(m["started"].is_string() && m["finished"].is_string(), "{m}");

    // `remedy report` rebuilds summary.md byte for byte; the latest run is
    // the default.
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    for args in [
        &["report", "--format", "md"][..],
        &["report", newest_id][..],
    ] {
        let r = remedy_at(&state, args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, summary);
    }
    let r = remedy_at(&state, &["report", oldest_id]);
    assert!(
        r.stdout.starts_with("# DRY RUN — remedy run: "),
        "{}",
        r.stdout
    );
    let r = remedy_at(&state, &["report", "--format", "text"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Reset the user's password"),
        "{}",
        r.stdout
    );
    let r = remedy_at(&state, &["report", "20990101T000000Z-0000"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
