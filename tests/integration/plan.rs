//! `remedy plan`, `remedy apply`, `remedy verify` and the permission
//! preflight end to end: the real binary against the emulator binary on
//! 127.0.0.1, checked through the emulator's counters and users.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::{EmulatorProcess, Run, remedy, run};

const UNLOCK: &str = "workflows/unlock-account.yaml";

/// `n` users; every third one disabled.
fn users_csv(dir: &Path, name: &str, n: usize) -> PathBuf {
    let mut text = String::from("userPrincipalName,displayName,accountEnabled\n");
    for i in 1..=n {
        let enabled = if i % 3 == 0 { "false" } else { "true" };
        text.push_str(&format!("{},User {i},{enabled}\n", upn(i)));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn upn(i: usize) -> String {
    format!("user{i:05}@contoso.onmicrosoft.com")
}

/// `remedy SUBCOMMAND ARGS` against `emu`, from the repository root.
fn remedy_at(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.args(args)
        .args(["--state-dir"])
        .arg(state)
        .envs(emu.client_env("plan-tests", "plan-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    run(&mut cmd)
}

fn plan(emu: &EmulatorProcess, state: &Path, playbook: &str, csv: &Path, out: &Path) -> Run {
    remedy_at(
        emu,
        state,
        &[
            "plan",
            playbook,
            "--users",
            csv.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--progress",
            "none",
            "--detailed-exitcode",
        ],
    )
}

fn apply(emu: &EmulatorProcess, state: &Path, plan: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        plan.to_str().unwrap(),
        "--yes",
        "--progress",
        "none",
    ];
    args.extend_from_slice(extra);
    remedy_at(emu, state, &args)
}

/// The plan's user lines.
fn plan_users(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "plan");
    assert_eq!(lines.last().unwrap()["type"], "end", "the plan is complete");
    assert!(
        !text.to_ascii_lowercase().contains("password\":"),
        "no password in a plan"
    );
    lines.into_iter().filter(|l| l["type"] == "user").collect()
}

/// Planned `would_change` steps with this id.
fn planned(users: &[Value], step: &str) -> u64 {
    users
        .iter()
        .flat_map(|u| u["steps"].as_array().unwrap())
        .filter(|s| s["step"] == step && s["result"] == "would_change")
        .count() as u64
}

fn stats(emu: &EmulatorProcess) -> Value {
    emu.get_json("/_stats")
}

fn user(emu: &EmulatorProcess, i: usize) -> Value {
    emu.get_json(&format!("/_users?upn={}", upn(i)))[0].clone()
}

/// Sets `accountEnabled` through Graph itself, as an admin or directory
/// sync would between two remedy commands.
fn set_enabled(emu: &EmulatorProcess, i: usize, enabled: bool) {
    patch_user(emu, i, serde_json::json!({ "accountEnabled": enabled }));
}

/// Resets a user's password through Graph itself, as another admin would
/// between two remedy commands.
fn reset_elsewhere(emu: &EmulatorProcess, i: usize) {
    patch_user(
        emu,
        i,
        serde_json::json!({ "passwordProfile": {
            "password": "Another-Admin-Set-This-7q!",
            "forceChangePasswordNextSignIn": true
        } }),
    );
}

/// `PATCH /v1.0/users/{upn(i)}` with `body`, as another app.
fn patch_user(emu: &EmulatorProcess, i: usize, body: Value) {
    let url = emu.url.clone();
    let key = upn(i);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let token: Value = http
                .post(format!("{url}/contoso.onmicrosoft.com/oauth2/v2.0/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "someone-else"),
                    ("client_secret", "x"),
                    ("scope", "https://graph.microsoft.com/.default"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let r = http
                .patch(format!("{url}/v1.0/users/{key}"))
                .bearer_auth(token["access_token"].as_str().unwrap())
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        });
    })
    .join()
    .unwrap();
}

fn writes(s: &Value) -> (u64, u64, u64) {
    (
        s["resets"].as_u64().unwrap(),
        s["enable_changes"].as_u64().unwrap(),
        s["revokes"].as_u64().unwrap(),
    )
}

#[test]
fn apply_does_exactly_the_plan_and_leaves_everyone_else_alone() {
    let dir = tempfile::tempdir().unwrap();
    // The emulator knows 40 users; the plan covers the first 24.
    let all = users_csv(dir.path(), "all.csv", 40);
    let csv = users_csv(dir.path(), "users.csv", 24);
    let emu = EmulatorProcess::start(&["--users", all.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = dir.path().join("plan.json");
    let r = plan(&emu, &state, UNLOCK, &csv, &out);
    assert_eq!(r.code, 2, "changes pending\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Plan: 32 changes for 24 of 24 users"),
        "{}",
        r.stdout
    );
    let users = plan_users(&out);
    assert_eq!(users.len(), 24);
    let (resets, enables) = (
        planned(&users, "reset-password"),
        planned(&users, "allow-sign-in"),
    );
    assert_eq!((resets, enables), (24, 8));
    let u3 = users.iter().find(|u| u["user"] == upn(3)).unwrap();
    let enable = &u3["steps"][1];
    assert_eq!(enable["change"]["property"], "accountEnabled");
    assert_eq!(
        (&enable["change"]["before"], &enable["change"]["after"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    assert_eq!(writes(&stats(&emu)), (0, 0, 0), "planning changes nothing");

    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(writes(&stats(&emu)), (resets, enables, 0));
    for i in 1..=24 {
        let u = user(&emu, i);
        assert_eq!(u["resetCount"], 1, "{i}");
        assert_eq!(u["accountEnabled"], true, "{i}");
    }
    for i in 25..=40 {
        let u = user(&emu, i);
        assert_eq!(u["resetCount"], 0, "user {i} is not in the plan");
        assert_eq!(
            u["accountEnabled"],
            i % 3 != 0,
            "user {i} is not in the plan"
        );
    }
}

#[test]
fn drifted_users_are_reported_and_not_changed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 9);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = dir.path().join("plan.json");
    // Only the sign-in step, so that each drift is visible on its own.
    let playbook = dir.path().join("allow.yaml");
    std::fs::write(
        &playbook,
        "api_version: remedy/v1\nname: allow\ntarget:\n  provider: graph\ninput:\n  key: userPrincipalName\nsteps:\n  - id: allow\n    ensure: sign_in_allowed\n",
    )
    .unwrap();
    let r = plan(&emu, &state, playbook.to_str().unwrap(), &csv, &out);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    // Users 3, 6 and 9 were to be enabled. Between plan and apply, user 3
    // is enabled by someone else, and user 1 (planned ok) is disabled.
    set_enabled(&emu, 3, true);
    set_enabled(&emu, 1, false);
    let before = writes(&stats(&emu));
    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 1, "drift is reported\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("2 users drifted since the plan"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "{} (allow): drifted since the plan: accountEnabled is now true",
            upn(3)
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "{} (allow): drifted since the plan: accountEnabled is now false",
            upn(1)
        )),
        "{}",
        r.stdout
    );
    let after = writes(&stats(&emu));
    assert_eq!(after.1 - before.1, 2, "only users 6 and 9 were enabled");
    assert_eq!(
        user(&emu, 1)["accountEnabled"],
        false,
        "a drifted user is not changed"
    );
    assert_eq!(user(&emu, 6)["accountEnabled"], true);
}

#[test]
fn a_password_reset_since_the_plan_is_drift() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 6);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = dir.path().join("plan.json");
    assert_eq!(plan(&emu, &state, UNLOCK, &csv, &out).code, 2);
    // Between plan and apply, another admin resets user 2's password.
    reset_elsewhere(&emu, 2);
    let changed = user(&emu, 2)["lastPasswordChangeDateTime"].clone();
    let before = stats(&emu)["resets"].as_u64().unwrap();
    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 1, "drift is reported\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 user drifted since the plan"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "{} (reset-password): drifted since the plan: lastPasswordChangeDateTime moved since the plan",
            upn(2)
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        stats(&emu)["resets"].as_u64().unwrap() - before,
        5,
        "every planned user but user 2 was reset"
    );
    assert_eq!(
        user(&emu, 2)["lastPasswordChangeDateTime"],
        changed,
        "the other admin's password stands"
    );
    let run = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let saved = std::fs::read_to_string(run.join("secrets.csv")).unwrap();
    assert!(
        !saved.contains(&upn(2)),
        "no new password for user 2: {saved}"
    );
    assert_eq!(saved.lines().count(), 1 + 5, "{saved}");
}

#[test]
fn a_plan_is_applied_at_most_once() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 6);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = dir.path().join("plan.json");
    assert_eq!(plan(&emu, &state, UNLOCK, &csv, &out).code, 2);
    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = |state: &Path| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let applied = runs(&state).pop().unwrap();
    let secrets = std::fs::read(applied.join("secrets.csv")).unwrap();
    let first = stats(&emu);
    assert_eq!(first["resets"], 6);

    // The same plan file again: refused before anything changes.
    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let id = applied.file_name().unwrap().to_str().unwrap();
    assert!(
        r.stderr.contains(&format!(
            "was already applied by run {id} (completed); a plan is applied at most once; nothing was changed"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: make a new plan"), "{}", r.stderr);
    // `--resume` of that completed apply has nothing left to do.
    let r = apply(&emu, &state, &out, &["--resume"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("already completed"), "{}", r.stderr);
    let again = stats(&emu);
    assert_eq!(writes(&again), writes(&first), "no second reset");
    assert_eq!(again["users_reset_more_than_once"], 0);
    assert_eq!(
        std::fs::read(applied.join("secrets.csv")).unwrap(),
        secrets,
        "the first secrets.csv still holds the users' passwords"
    );
    let new_secrets = runs(&state)
        .iter()
        .filter(|r| r.join("secrets.csv").exists())
        .count();
    assert_eq!(new_secrets, 1, "no second secrets.csv");
    // A new plan, made (and reviewed) after the first apply, applies.
    let out2 = dir.path().join("plan2.json");
    assert_eq!(plan(&emu, &state, UNLOCK, &csv, &out2).code, 2);
    let r = apply(&emu, &state, &out2, &[]);
    assert_eq!(r.code, 0, "a new plan applies\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_changed_csv_or_an_expired_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 6);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let out = dir.path().join("plan.json");
    assert_eq!(plan(&emu, &state, UNLOCK, &csv, &out).code, 2);

    std::thread::sleep(Duration::from_millis(2100));
    let r = apply(&emu, &state, &out, &["--max-age", "1s"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("more than --max-age 1s allows; nothing was changed"),
        "{}",
        r.stderr
    );

    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str(&format!("{},Late,false\n", upn(7)));
    std::fs::write(&csv, text).unwrap();
    let r = apply(&emu, &state, &out, &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("the CSV changed since the plan was made"),
        "{}",
        r.stderr
    );
    let s = stats(&emu);
    assert_eq!(writes(&s), (0, 0, 0));
    assert_eq!(s["by_operation"]["reset_password"], 0);
}

#[test]
fn detailed_exitcode_says_whether_anything_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 6);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let playbook = dir.path().join("allow.yaml");
    std::fs::write(
        &playbook,
        "api_version: remedy/v1\nname: allow\ntarget:\n  provider: graph\ninput:\n  key: userPrincipalName\nsteps:\n  - id: allow\n    ensure: sign_in_allowed\n",
    )
    .unwrap();
    let enabled_only = dir.path().join("enabled.csv");
    std::fs::write(
        &enabled_only,
        format!("userPrincipalName\n{}\n{}\n", upn(1), upn(2)),
    )
    .unwrap();
    let out = dir.path().join("plan.json");
    let r = plan(
        &emu,
        &state,
        playbook.to_str().unwrap(),
        &enabled_only,
        &out,
    );
    assert_eq!(r.code, 0, "nothing to do\n{}\n{}", r.stdout, r.stderr);
    assert!(out.exists(), "an empty plan is still saved");
    let r = plan(&emu, &state, playbook.to_str().unwrap(), &csv, &out);
    assert_eq!(r.code, 2, "changes pending\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn verify_passes_a_clean_run_and_catches_a_user_disabled_again() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 9);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let state = dir.path().join("state");
    let r = remedy_at(
        &emu,
        &state,
        &[
            "run",
            UNLOCK,
            "--users",
            csv.to_str().unwrap(),
            "--yes",
            "--progress",
            "none",
            "--verify",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Verify: 9 users, 18 checks: 18 ok, 0 drift, 0 errors"),
        "{}",
        r.stdout
    );

    // Directory sync (say) disables user 6 again.
    set_enabled(&emu, 6, false);
    let r = remedy_at(&emu, &state, &["verify"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("17 ok, 1 drift"), "{}", r.stdout);
    let line = r.stdout.lines().find(|l| l.starts_with("DRIFT")).unwrap();
    assert!(
        line.contains(&upn(6)) && line.contains("accountEnabled"),
        "{line}"
    );
    let run_dir = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = std::fs::read_to_string(run_dir.join("verify.jsonl")).unwrap();
    let drift: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["status"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0]["user"], upn(6));
    assert_eq!(
        (&drift[0]["expected"], &drift[0]["actual"]),
        (&Value::from("true"), &Value::from("false"))
    );
    assert!(run_dir.join("verify.md").is_file());
}

#[test]
fn preflight_names_missing_permissions_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), "users.csv", 6);
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--roles",
        "User.Read.All,Directory.Read.All,User.EnableDisableAccount.All",
    ]);
    let state = dir.path().join("state");
    let r = remedy_at(
        &emu,
        &state,
        &[
            "run",
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--yes",
            "--progress",
            "none",
        ],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "step `reset-password` (reset_password): missing User-PasswordProfile.ReadWrite.All"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("step `revoke-sessions` (revoke_sessions): missing User.RevokeSessions.All"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("allow-sign-in"),
        "a granted step is not listed\n{}",
        r.stderr
    );
    let s = stats(&emu);
    let ops = &s["by_operation"];
    assert_eq!(
        (
            ops["reset_password"].as_u64(),
            ops["set_account_enabled"].as_u64(),
            ops["revoke_sessions"].as_u64(),
            ops["read_user"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "no request reached Graph: {s}"
    );
}
