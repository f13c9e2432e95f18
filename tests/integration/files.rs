//! The files a run writes and reads back: report files never follow a
//! planted symlink, an unusable `--report-dir` is refused before anything
//! changes, an unsafe `secrets.csv` makes `--resume` refuse, and
//! expressions that bust their budget are refused by `validate` and
//! bounded at run time.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{EmulatorProcess, Run, remedy, root, run};

fn users_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("userPrincipalName,displayName,accountEnabled,compromised\n");
    for i in 1..=n {
        text.push_str(&format!(
            "user{i:05}@contoso.onmicrosoft.com,User {i},false,yes\n"
        ));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn remedy_cmd(emu: &EmulatorProcess, sub: &str, state: &Path, args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.arg(sub)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .envs(emu.client_env("files-tests", "files-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("REMEDY_CRASH_AT")
        .timeout(Duration::from_secs(120));
    if sub == "run" {
        cmd.args(["--yes", "--progress", "counter"]);
    }
    run(&mut cmd)
}

fn only_run_dir(state: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

/// What the emulator changed.
fn changes(emu: &EmulatorProcess) -> [u64; 3] {
    let s = emu.get_json("/_stats");
    ["resets", "revokes", "enable_changes"].map(|k| s[k].as_u64().unwrap())
}

/// Plants a symlink at each `names` in `dir`, to a file outside holding
/// `keep`; returns the outside files.
fn plant(dir: &Path, outside: &Path, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            let target = outside.join(format!("{name}.outside"));
            std::fs::write(&target, "keep").unwrap();
            std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
            target
        })
        .collect()
}

fn assert_private_regular(dir: &Path, names: &[&str]) {
    for name in names {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is not a regular file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
}

#[test]
fn planted_symlinks_in_report_and_run_dirs_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let csv = users_csv(dir.path(), 6);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let names = ["results.csv", "results.jsonl", "junit.xml", "summary.md"];
    let planted = plant(&reports, &outside, &names);
    let r = remedy_cmd(
        &emu,
        "run",
        &state,
        &[
            "workflows/unlock-account.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in &planted {
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            "keep",
            "{}",
            f.display()
        );
    }
    assert_private_regular(&reports, &names);
    let csv_report = std::fs::read_to_string(reports.join("results.csv")).unwrap();
    assert!(
        csv_report.contains("user00001@contoso.onmicrosoft.com"),
        "{csv_report}"
    );

    // The verify pass writes into the run directory.
    let run_dir = only_run_dir(&state);
    let verify_names = ["verify.jsonl", "verify.md"];
    let planted = plant(&run_dir, &outside, &verify_names);
    let r = remedy_cmd(&emu, "verify", &state, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for f in &planted {
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            "keep",
            "{}",
            f.display()
        );
    }
    assert_private_regular(&run_dir, &verify_names);
    // No temporary file is left behind.
    for d in [&reports, &run_dir] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name} left in {}", d.display());
        }
    }
}

#[test]
fn an_unusable_report_dir_is_refused_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 5);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let mut cases = vec![file.clone(), file.join("reports")];
    // Permissions bind only a user other than root.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    if std::fs::write(locked.join("probe"), "x").is_err() {
        cases.push(locked.clone());
    }
    for (i, report_dir) in cases.iter().enumerate() {
        let state = dir.path().join(format!("state{i}"));
        let r = remedy_cmd(
            &emu,
            "run",
            &state,
            &[
                "workflows/unlock-account.yaml",
                "--users",
                csv.to_str().unwrap(),
                "--report-dir",
                report_dir.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 2, "{}: {}", report_dir.display(), r.stderr);
        assert!(
            r.stderr.contains("cannot write the reports to"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert_eq!(changes(&emu), [0, 0, 0], "{}", report_dir.display());
        assert!(!state.join("runs").exists(), "no run directory");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn resume_refuses_a_secrets_csv_that_is_a_symlink_or_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 20);
    // Slow enough to be killed mid-run.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "50"]);
    let state = dir.path().join("state");
    let args = [
        "workflows/incident-response.yaml",
        "--users",
        csv.to_str().unwrap(),
    ];
    // Killed once it saved two passwords: an interrupted run with a
    // `secrets.csv`.
    crate::support::kill_when(
        std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
            .arg("run")
            .args(args)
            .args(["--yes", "--concurrency", "1", "--state-dir"])
            .arg(&state)
            .envs(emu.client_env("files-tests", "files-test-secret"))
            .env_remove("REMEDY_CRASH_AT")
            .current_dir(root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        || crate::support::saved_passwords(&state) >= 2,
    );
    let secrets = only_run_dir(&state).join("secrets.csv");
    let saved = std::fs::read(&secrets).unwrap();
    let resume = [&args[..], &["--resume"]].concat();

    // Readable by others.
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = crate::support::settled(|| changes(&emu));
    let r = remedy_cmd(&emu, "run", &state, &resume);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("its mode is 0644, not 0600"),
        "{}",
        r.stderr
    );
    assert_eq!(changes(&emu), before);
    assert_eq!(std::fs::read(&secrets).unwrap(), saved);

    // A symlink to a file elsewhere (itself 0600).
    let outside = dir.path().join("elsewhere.csv");
    std::fs::rename(&secrets, &outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&outside, &secrets).unwrap();
    let r = remedy_cmd(&emu, "run", &state, &resume);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("it is a symbolic link"), "{}", r.stderr);
    assert_eq!(changes(&emu), before);
    assert_eq!(std::fs::read(&outside).unwrap(), saved);

    // Put back as remedy made it, the run resumes and completes.
    std::fs::remove_file(&secrets).unwrap();
    std::fs::rename(&outside, &secrets).unwrap();
    let r = remedy_cmd(&emu, "run", &state, &resume);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["users_reset_more_than_once"], 0);
}

fn playbook(dir: &Path, name: &str, steps: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "api_version: remedy/v1\nname: budgets\ntarget:\n  provider: graph\n\
             input:\n  key: userPrincipalName\n  columns: [userPrincipalName, displayName]\n\
             steps:\n{steps}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn budget_busting_expressions_are_refused_by_validate_and_bounded_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    // Refused by validate, quickly.
    for (name, steps, code) in [
        (
            "macro.yaml",
            "  - id: reset\n    action: reset_password\n    with:\n      password: \"{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}{{ row.displayName }}\"\n",
            "playbook::template-statement",
        ),
        (
            "big.yaml",
            "  - id: reset\n    action: reset_password\n    with:\n      password: \"{{ 'a' * 100000000 }}\"\n",
            "playbook::over-budget",
        ),
        (
            "when.yaml",
            "  - id: revoke\n    action: revoke_sessions\n    when: \"('a' * 100000000 ~ 'b' * 100000000) | length > 0\"\n",
            "playbook::over-budget",
        ),
        (
            "constant.yaml",
            "  - id: reset\n    action: reset_password\n    with:\n      password: \"{{ 'Spring2024!' }}\"\n",
            "playbook::constant-password",
        ),
    ] {
        let path = playbook(dir.path(), name, steps);
        let started = std::time::Instant::now();
        let r = run(remedy()
            .arg("validate")
            .arg(&path)
            .timeout(Duration::from_secs(60)));
        assert_eq!(r.code, 1, "{name}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(code) || r.stderr.contains(code),
            "{name}: {}",
            r.stdout
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{name}");
    }

    // Past validate (the row decides), bounded at run time: the users fail
    // with the reason and nothing is sent for them.
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        format!(
            "userPrincipalName,displayName\nuser00001@contoso.onmicrosoft.com,{}\nuser00002@contoso.onmicrosoft.com,{}\n",
            "P".repeat(300),
            "Q".repeat(100_000),
        ),
    )
    .unwrap();
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let when = playbook(
        dir.path(),
        "when-rows.yaml",
        "  - id: revoke\n    action: revoke_sessions\n    when: \"row.displayName | length > 5 and ('a' * 100000000 ~ 'b' * 100000000) | length > 0\"\n",
    );
    let password = playbook(
        dir.path(),
        "password-rows.yaml",
        "  - id: reset\n    action: reset_password\n    with:\n      password: \"{{ row.displayName }}\"\n",
    );
    for (i, (path, reasons)) in [
        (&when, &["evaluation budget", "evaluation budget"][..]),
        (
            &password,
            &[
                "rendered 300 characters, more than the 256 a password may have; nothing was sent",
                "more than the 65536 a template may",
            ][..],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let state = dir.path().join(format!("state{i}"));
        let started = std::time::Instant::now();
        let r = remedy_cmd(
            &emu,
            "run",
            &state,
            &[path.to_str().unwrap(), "--users", csv.to_str().unwrap()],
        );
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(30));
        let results = std::fs::read_to_string(only_run_dir(&state).join("results.csv")).unwrap();
        for reason in reasons {
            assert!(results.contains(reason), "{reason}: {results}");
        }
        assert_eq!(changes(&emu), [0, 0, 0]);
    }
}
