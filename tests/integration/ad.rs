//! The real `remedy` binary against a real Samba AD domain controller on
//! 127.0.0.1 (and, for hybrid playbooks, the Graph emulator too): unlock
//! of really locked accounts, resets with and without a forced change,
//! enable, a protected Domain Admin left alone, a user not found, a
//! password the policy refuses, dry run, plan and apply, kill and resume,
//! connections cut mid-run, verify, doctor, and no secret in any output or
//! file but `secrets.csv`. Each test returns early when Samba is not
//! installed (outside CI; `.ci/run` installs it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

use crate::samba::{Samba, UAC_DISABLED, User};
use crate::support::{EmulatorProcess, Run, remedy, run};

/// An AD playbook over the shared DC: `steps` under `steps:`.
fn playbook(dir: &Path, s: &Samba, url: &str, steps: &str) -> PathBuf {
    let text = format!(
        "api_version: remedy/v1
name: ad-test
target:
  provider: active_directory
  url: {url}
  base_dn: {base}
  domain: {domain}
input:
  key: userPrincipalName
  columns: [userPrincipalName, temp]
guards:
  protect:
    privileged_roles: true
steps:
{steps}",
        base = s.base_dn(),
        domain = s.dns_domain(),
    );
    let path = dir.join("ad.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

const UNLOCK_RESET_ENABLE: &str = "  - { id: unlock, ensure: unlocked }
  - id: reset
    action: reset_password
    with: { password: generate, force_change_at_next_sign_in: false }
  - { id: enable, ensure: sign_in_allowed }
";

fn csv(dir: &Path, users: &[&str]) -> PathBuf {
    let mut text = String::from("userPrincipalName,temp\n");
    for u in users {
        text.push_str(&format!("{u},\n"));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `remedy ARGS` with the bind identity and the test CA from the
/// environment, never from arguments.
fn remedy_ad(s: &Samba, args: &[&str]) -> Command {
    let mut cmd = remedy();
    cmd.args(args)
        .envs(ad_env(s))
        .env_remove("REMEDY_LDAP_PASSWORD")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(240));
    cmd
}

/// The bind identity (its password by file) and the test CA.
fn ad_env(s: &Samba) -> [(&'static str, std::ffi::OsString); 3] {
    [
        ("REMEDY_LDAP_BIND_DN", s.admin_dn().into()),
        (
            "REMEDY_LDAP_PASSWORD_FILE",
            s.admin_password_file().as_os_str().to_owned(),
        ),
        ("REMEDY_CA_FILE", s.ca_file().as_os_str().to_owned()),
    ]
}

/// How many users the (only) run under `state` has journaled as done.
fn users_done(state: &Path) -> usize {
    std::fs::read_dir(state.join("runs"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("journal.jsonl")).ok())
        .map_or(0, |j| j.matches(r#""type":"user_done""#).count())
}

/// No user of the newest run failed, each has one saved password, and
/// each signs in with it (a reset sent twice with two passwords would
/// break that), enabled.
fn assert_each_user_once(s: &Samba, state: &Path, users: &[User]) {
    let res = results(state);
    assert!(
        res.values().all(|(status, _)| status != "failed"),
        "{res:?}"
    );
    let saved = secrets(state);
    assert_eq!(saved.len(), users.len(), "one password per user");
    for u in users {
        let pw = &saved[&u.upn.to_lowercase()];
        assert!(
            s.can_bind(&u.upn, pw),
            "{} binds with its saved password",
            u.upn
        );
        assert_eq!(s.user_account_control(u) & UAC_DISABLED, 0, "{}", u.upn);
    }
}

fn run_ad(s: &Samba, pb: &Path, users: &Path, state: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "run",
        pb.to_str().unwrap(),
        "--users",
        users.to_str().unwrap(),
        "--yes",
        "--progress",
        "counter",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&mut remedy_ad(s, &args))
}

/// `remedy plan PB --users USERS --out PLAN`.
fn plan_ad(s: &Samba, pb: &Path, users: &Path, plan: &Path, state: &Path) -> Run {
    let (pb, users, plan) = (
        pb.to_str().unwrap(),
        users.to_str().unwrap(),
        plan.to_str().unwrap(),
    );
    let args = [
        "plan",
        pb,
        "--users",
        users,
        "--out",
        plan,
        "--progress",
        "counter",
    ];
    run(remedy_ad(s, &args).arg("--state-dir").arg(state))
}

/// `remedy apply PLAN --yes`.
fn apply_ad(s: &Samba, plan: &Path, state: &Path) -> Run {
    let args = [
        "apply",
        plan.to_str().unwrap(),
        "--yes",
        "--progress",
        "counter",
    ];
    run(remedy_ad(s, &args).arg("--state-dir").arg(state))
}

/// The run directories under `state`, oldest first.
fn runs(state: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// (user, step) → (status, reason) from the newest run's results.csv.
fn results(state: &Path) -> HashMap<(String, String), (String, String)> {
    let run = runs(state).pop().unwrap();
    let mut r = csv::Reader::from_path(run.join("results.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (user, step, status, reason) = (col("user"), col("step"), col("status"), col("reason"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[user].to_lowercase(), rec[step].to_owned()),
                (rec[status].to_owned(), rec[reason].to_owned()),
            )
        })
        .collect()
}

/// UPN (lower-cased) → password from the newest run's secrets.csv.
fn secrets(state: &Path) -> HashMap<String, String> {
    let run = runs(state).pop().unwrap();
    let mut r = csv::Reader::from_path(run.join("secrets.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_lowercase(), rec[1].to_owned())
        })
        .collect()
}

fn status(r: &HashMap<(String, String), (String, String)>, u: &User, step: &str) -> String {
    r.get(&(u.upn.to_lowercase(), step.to_owned()))
        .map(|(s, _)| s.clone())
        .unwrap_or_else(|| panic!("no result for {} {step}: {r:?}", u.upn))
}

fn reason(r: &HashMap<(String, String), (String, String)>, u: &User, step: &str) -> String {
    r[&(u.upn.to_lowercase(), step.to_owned())].1.clone()
}

/// Every file under `dir` (recursively) but `secrets.csv`, as text.
fn written(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            written(&p, out);
        } else if p.file_name().is_some_and(|n| n != "secrets.csv") {
            out.push((
                p.clone(),
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into(),
            ));
        }
    }
}

/// Neither the bind password nor any generated password appears in the
/// output or in any file remedy wrote except `secrets.csv`.
fn assert_no_secret(s: &Samba, state: &Path, outputs: &[&Run]) {
    let mut texts: Vec<(PathBuf, String)> = Vec::new();
    written(state, &mut texts);
    for (i, r) in outputs.iter().enumerate() {
        texts.push((
            PathBuf::from(format!("output {i}")),
            format!("{}{}", r.stdout, r.stderr),
        ));
    }
    let mut secrets: Vec<String> = vec![s.admin_password().to_owned()];
    for run in runs(state) {
        if let Ok(mut r) = csv::Reader::from_path(run.join("secrets.csv")) {
            secrets.extend(r.records().map(|x| x.unwrap()[1].to_owned()));
        }
    }
    for (path, text) in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret appears in {}",
                path.display()
            );
        }
    }
}

#[test]
fn locked_and_disabled_accounts_are_unlocked_reset_and_enabled() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let locked = s.create_user("e2e-locked");
    let disabled = s.create_user("e2e-disabled");
    let fine = s.create_user("e2e-fine");
    s.lock_out(&locked);
    s.set_disabled(&disabled, true);
    let before = s.pwd_last_set(&fine);
    let pb = playbook(dir.path(), s, s.ldaps_url(), UNLOCK_RESET_ENABLE);
    let users = csv(dir.path(), &[&locked.upn, &disabled.upn, &fine.upn]);
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &["--verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let res = results(&state);
    assert_eq!(status(&res, &locked, "unlock"), "changed");
    assert_eq!(status(&res, &disabled, "unlock"), "ok");
    assert_eq!(status(&res, &fine, "unlock"), "ok");
    assert_eq!(status(&res, &disabled, "enable"), "changed");
    assert_eq!(status(&res, &fine, "enable"), "ok");
    for u in [&locked, &disabled, &fine] {
        assert_eq!(status(&res, u, "reset"), "changed");
    }
    // What the directory says now (through ldapsearch, not remedy).
    assert!(!s.is_locked(&locked));
    assert_eq!(s.user_account_control(&disabled) & UAC_DISABLED, 0);
    assert_ne!(s.pwd_last_set(&fine), before);
    // The new passwords work; the old ones do not.
    let saved = secrets(&state);
    assert_eq!(saved.len(), 3, "{:?}", saved.keys());
    for u in [&locked, &disabled, &fine] {
        let pw = &saved[&u.upn.to_lowercase()];
        assert!(
            s.can_bind(&u.upn, pw),
            "{} binds with its new password",
            u.upn
        );
        assert!(!s.can_bind(&u.upn, &u.password), "{}'s old password", u.upn);
    }
    assert!(r.stderr.contains("verify"), "{}", r.stderr);
    assert_no_secret(s, &state, &[&r]);
}

#[test]
fn a_forced_change_sets_pwd_last_set_to_zero() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let u = s.create_user("e2e-force");
    let pb = playbook(
        dir.path(),
        s,
        s.starttls_url(),
        "  - id: reset\n    action: reset_password\n    with: { password: generate, force_change_at_next_sign_in: true }\n",
    );
    let users = csv(dir.path(), &[&u.upn]);
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(status(&results(&state), &u, "reset"), "changed");
    assert_eq!(s.pwd_last_set(&u), 0, "must change at next sign-in");
    // A second run resets again (a one-shot action), still evidenced.
    let state2 = dir.path().join("state2");
    let r = run_ad(s, &pb, &users, &state2, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(status(&results(&state2), &u, "reset"), "changed");
}

#[test]
fn a_domain_admin_an_unknown_user_and_a_refused_password() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let admin = s.create_user("e2e-da");
    s.add_to_group(&admin, "Domain Admins");
    s.lock_out(&admin);
    let weak = s.create_user("e2e-weak");
    let uac = s.user_account_control(&weak);
    let pwd = s.pwd_last_set(&weak);
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: unlock, ensure: unlocked }
  - id: reset
    action: reset_password
    with: { password: '{{ row.temp }}', force_change_at_next_sign_in: false }
",
    );
    let missing = "nobody-here@example.test";
    let users = dir.path().join("users.csv");
    std::fs::write(
        &users,
        format!(
            "userPrincipalName,temp\n{},Str0ng!Passw0rd-{}\n{missing},x\n{},short\n",
            admin.upn, admin.sam, weak.upn
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &[]);
    assert_eq!(r.code, 1, "two users failed\n{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    // The Domain Admin: skipped as protected, still locked, password kept.
    assert_eq!(status(&res, &admin, "unlock"), "skipped");
    assert!(
        reason(&res, &admin, "unlock").contains("Domain Admins"),
        "{res:?}"
    );
    assert!(s.is_locked(&admin));
    assert!(!s.can_bind(&admin.upn, &format!("Str0ng!Passw0rd-{}", admin.sam)));
    // The unknown user.
    let nobody = res
        .get(&(missing.to_owned(), "unlock".to_owned()))
        .unwrap_or_else(|| panic!("{res:?}"));
    assert_eq!(nobody.0, "failed");
    assert!(nobody.1.contains("not found"), "{}", nobody.1);
    // The policy's refusal, with the server's text; nothing changed.
    assert_eq!(status(&res, &weak, "reset"), "failed");
    let why = reason(&res, &weak, "reset");
    assert!(why.to_lowercase().contains("password"), "{why}");
    assert!(
        !why.contains("short"),
        "the refused password is not echoed: {why}"
    );
    assert_eq!(s.user_account_control(&weak), uac);
    assert_eq!(s.pwd_last_set(&weak), pwd);
    assert_no_secret(s, &state, &[&r]);
}

#[test]
fn dry_run_then_plan_and_apply() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let locked = s.create_user("e2e-plan-locked");
    let disabled = s.create_user("e2e-plan-disabled");
    s.lock_out(&locked);
    s.set_disabled(&disabled, true);
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: unlock, ensure: unlocked }\n  - { id: enable, ensure: sign_in_allowed }\n",
    );
    let users = csv(dir.path(), &[&locked.upn, &disabled.upn]);
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    assert_eq!(status(&res, &locked, "unlock"), "would_change");
    assert_eq!(status(&res, &disabled, "enable"), "would_change");
    assert!(s.is_locked(&locked), "a dry run changes nothing");
    assert_ne!(s.user_account_control(&disabled) & UAC_DISABLED, 0);

    let plan = dir.path().join("plan.jsonl");
    let r = plan_ad(s, &pb, &users, &plan, &state);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let header = std::fs::read_to_string(&plan).unwrap();
    assert!(
        header.contains(r#""provider":"active_directory""#),
        "{header}"
    );
    assert!(header.contains(r#""realm":"example.test""#), "{header}");
    assert!(s.is_locked(&locked), "a plan changes nothing");
    let r = apply_ad(s, &plan, &state);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    assert_eq!(status(&res, &locked, "unlock"), "changed");
    assert_eq!(status(&res, &disabled, "enable"), "changed");
    assert!(!s.is_locked(&locked));
    assert_eq!(s.user_account_control(&disabled) & UAC_DISABLED, 0);
}

#[test]
fn a_wrong_bind_password_or_another_domain_changes_nothing() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let u = s.create_user("e2e-bind");
    s.lock_out(&u);
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: unlock, ensure: unlocked }\n",
    );
    let users = csv(dir.path(), &[&u.upn]);
    let state = dir.path().join("state");
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = remedy_ad(
        s,
        &[
            "run",
            pb.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--yes",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    cmd.env("REMEDY_LDAP_PASSWORD_FILE", &wrong);
    let r = run(&mut cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bind"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
    assert!(s.is_locked(&u));

    // A playbook pinned to another domain is refused before any change.
    let text = std::fs::read_to_string(&pb)
        .unwrap()
        .replace("domain: example.test", "domain: other.example");
    std::fs::write(&pb, text).unwrap();
    let r = run_ad(s, &pb, &users, &state, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("other.example"), "{}", r.stderr);
    assert!(s.is_locked(&u));
}

#[test]
fn doctor_checks_the_ad_target_of_a_playbook() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let u = s.create_user("e2e-doctor");
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: unlock, ensure: unlocked }\n",
    );
    let r = run(&mut remedy_ad(
        s,
        &[
            "doctor",
            "--playbook",
            pb.to_str().unwrap(),
            "--user",
            &u.upn,
        ],
    ));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("== active_directory"), "{}", r.stdout);
    assert!(r.stdout.contains("lockoutTime"), "{}", r.stdout);
    assert!(
        r.stdout.contains("everything remedy needs works"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(s.admin_password()), "{}", r.stdout);
    let r = run(
        remedy_ad(s, &["doctor", "--playbook", pb.to_str().unwrap()])
            .env("REMEDY_LDAP_PASSWORD_FILE", dir.path().join("absent")),
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("FAIL bind"), "{}", r.stdout);
}

#[test]
fn a_hybrid_playbook_acts_on_samba_and_the_graph_emulator() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = s.create_user("e2e-hy-a");
    let b = s.create_user("e2e-hy-b");
    let admin = s.create_user("e2e-hy-da");
    s.lock_out(&a);
    s.set_disabled(&b, true);
    s.add_to_group(&admin, "Domain Admins");
    s.lock_out(&admin);
    let text = std::fs::read_to_string(crate::support::root().join("workflows/unlock-hybrid.yaml"))
        .unwrap()
        .replace("ldaps://dc1.corp.example", s.ldaps_url())
        .replace("DC=corp,DC=example", s.base_dn())
        .replace(
            "domain: corp.example",
            &format!("domain: {}", s.dns_domain()),
        )
        .replace("    tenant: corp.example\n", "");
    let pb = dir.path().join("hybrid.yaml");
    std::fs::write(&pb, text).unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(
        &users,
        format!(
            "userPrincipalName,displayName\n{},A\n{},B\n{},DA\n",
            a.upn, b.upn, admin.upn
        ),
    )
    .unwrap();
    let emu = EmulatorProcess::start(&["--users", users.to_str().unwrap()]);
    let state = dir.path().join("state");
    let mut cmd = remedy_ad(
        s,
        &[
            "run",
            pb.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--yes",
            "--progress",
            "counter",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    cmd.envs(emu.client_env("hybrid-tests", "hybrid-tests-secret"))
        .env_remove("AZURE_ACCESS_TOKEN");
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    for u in [&a, &b] {
        assert_eq!(status(&res, u, "reset-password"), "changed");
        assert_eq!(status(&res, u, "revoke-sessions"), "changed");
    }
    assert_eq!(status(&res, &a, "unlock"), "changed");
    assert_eq!(status(&res, &b, "enable"), "changed");
    assert!(!s.is_locked(&a));
    assert_eq!(s.user_account_control(&b) & UAC_DISABLED, 0);
    assert_eq!(s.pwd_last_set(&a), 0, "the workflow forces a change");
    // The cloud half happened in the emulator.
    let seen = crate::support::emulator_users(&emu);
    for u in [&a, &b] {
        let v = &seen[&u.upn.to_lowercase()];
        assert!(v["writeAttempts"].as_u64().unwrap_or(0) >= 1, "{v}");
    }
    // Protected on-premises: left alone in both directories.
    for step in ["unlock", "reset-password", "enable", "revoke-sessions"] {
        assert_eq!(status(&res, &admin, step), "skipped", "{step}");
    }
    assert!(
        reason(&res, &admin, "revoke-sessions").contains("Domain Admins"),
        "{res:?}"
    );
    assert!(
        reason(&res, &admin, "revoke-sessions").contains("onprem"),
        "{res:?}"
    );
    assert!(s.is_locked(&admin));
    assert_eq!(seen[&admin.upn.to_lowercase()]["writeAttempts"], 0);
    // The manifest records both targets by name.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs(&state)[0].join("manifest.json")).unwrap(),
    )
    .unwrap();
    let targets: Vec<(&str, &str)> = manifest["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(
        targets,
        [("onprem", "active_directory"), ("cloud", "graph")],
        "{manifest}"
    );
    assert_eq!(manifest["target"]["realm"], s.dns_domain());
    // The incident ticket's summary names both directories.
    let summary = std::fs::read_to_string(runs(&state)[0].join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("**Directory:** onprem: domain {}", s.dns_domain())),
        "{summary}"
    );
    assert!(
        summary.contains("**Directory:** cloud: tenant"),
        "{summary}"
    );
    assert_no_secret(s, &state, &[&r]);
}

#[test]
fn apply_leaves_alone_an_account_that_moved_since_the_plan() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let locked = s.create_user("e2e-drift-l");
    let reset = s.create_user("e2e-drift-r");
    s.lock_out(&locked);
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: unlock, ensure: unlocked }
  - id: reset
    action: reset_password
    with: { password: generate, force_change_at_next_sign_in: false }
",
    );
    let users = csv(dir.path(), &[&locked.upn, &reset.upn]);
    let state = dir.path().join("state");
    let plan = dir.path().join("plan.jsonl");
    let r = plan_ad(s, &pb, &users, &plan, &state);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Someone else acts between the plan and its apply: the help desk
    // resets one user's password by hand.
    let by_hand = s.fresh_password();
    s.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
        reset.dn,
        crate::samba::unicode_pwd(&by_hand)
    ));
    let r = apply_ad(s, &plan, &state);
    assert_eq!(r.code, 1, "a drifted user\n{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    assert_eq!(status(&res, &locked, "unlock"), "changed");
    assert_eq!(status(&res, &reset, "reset"), "skipped");
    assert!(reason(&res, &reset, "reset").contains("drifted"), "{res:?}");
    // The password the help desk gave out still works.
    assert!(s.can_bind(&reset.upn, &by_hand));
}

/// A run killed with SIGKILL part-way and resumed: every user ends done,
/// and each ends with the one password its `secrets.csv` line holds (a
/// reset sent twice with two passwords would break that for the user).
#[test]
fn a_killed_run_resumes_and_resets_each_user_once() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let users = s.create_users("e2e-kill", 80);
    for u in users.iter().take(6) {
        s.lock_out(u);
    }
    for u in users.iter().skip(6).take(10) {
        s.set_disabled(u, true);
    }
    let pb = playbook(dir.path(), s, s.ldaps_url(), UNLOCK_RESET_ENABLE);
    let upns: Vec<&str> = users.iter().map(|u| u.upn.as_str()).collect();
    let csv_path = csv(dir.path(), &upns);
    let state = dir.path().join("state");
    let args = [
        "run",
        pb.to_str().unwrap(),
        "--users",
        csv_path.to_str().unwrap(),
        "--yes",
        "--progress",
        "none",
        "--concurrency",
        "2",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.args(args)
        .envs(ad_env(s))
        .env_remove("REMEDY_LDAP_PASSWORD")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    crate::support::kill_when(&mut cmd, || users_done(&state) >= 20);
    let done_at_kill = users_done(&state);
    assert!(
        done_at_kill < users.len(),
        "killed mid-run ({done_at_kill})"
    );
    let r = run_ad(s, &pb, &csv_path, &state, &["--resume"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(runs(&state).len(), 1, "the same run, resumed");
    assert_each_user_once(s, &state, &users);
    for u in users.iter().take(6) {
        assert!(!s.is_locked(u));
    }
    assert_no_secret(s, &state, &[&r]);
}

#[test]
fn accounts_are_found_by_sam_account_name_from_the_csv() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let u = s.create_user("e2e-sam");
    s.lock_out(&u);
    let pb = dir.path().join("sam.yaml");
    std::fs::write(
        &pb,
        format!(
            "api_version: remedy/v1
name: sam
target:
  provider: active_directory
  url: {}
  base_dn: {}
  find_by: sam_account_name
input:
  key: sAMAccountName
steps:
  - {{ id: unlock, ensure: unlocked }}
",
            s.ldaps_url(),
            s.base_dn()
        ),
    )
    .unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, format!("sAMAccountName\n{}\nno-such-sam\n", u.sam)).unwrap();
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    assert_eq!(
        res[&(u.sam.to_lowercase(), "unlock".to_owned())].0,
        "changed"
    );
    let missing = &res[&("no-such-sam".to_owned(), "unlock".to_owned())];
    assert_eq!(missing.0, "failed");
    assert!(missing.1.contains("not found"), "{}", missing.1);
    assert!(!s.is_locked(&u));
}

/// Every connection to the DC cut twice while a run is in flight (a
/// loopback proxy in front of it): the pool reconnects, a write whose
/// answer was lost is confirmed by reading the account back, and every
/// user ends in the wanted state with no failure and no second reset.
#[test]
fn connections_cut_mid_run_lose_nothing_and_fail_nothing() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let users = s.create_users("e2e-cut", 60);
    for u in users.iter().take(15) {
        s.set_disabled(u, true);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(crate::proxy::Proxy::start("127.0.0.1:636".parse().unwrap()));
    let url = format!("ldaps://127.0.0.1:{}", proxy.addr.port());
    let pb = playbook(dir.path(), s, &url, UNLOCK_RESET_ENABLE);
    let upns: Vec<&str> = users.iter().map(|u| u.upn.as_str()).collect();
    let csv_path = csv(dir.path(), &upns);
    let state = dir.path().join("state");
    let r = std::thread::scope(|scope| {
        let cutter = scope.spawn(|| {
            let mut cuts = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            for at in [10, 30] {
                while users_done(&state) < at && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                proxy.cut_all();
                cuts += 1;
            }
            cuts
        });
        let r = run_ad(s, &pb, &csv_path, &state, &["--concurrency", "4"]);
        assert_eq!(cutter.join().unwrap(), 2);
        r
    });
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        proxy.accepted.load(std::sync::atomic::Ordering::SeqCst) > 4,
        "the pool reconnected"
    );
    assert_each_user_once(s, &state, &users);
}

#[test]
fn verify_reads_an_ad_run_back_and_reports_what_did_not_stick() {
    let Some(s) = Samba::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = s.create_user("e2e-ver-a");
    let b = s.create_user("e2e-ver-b");
    s.set_disabled(&a, true);
    s.set_disabled(&b, true);
    let pb = playbook(
        dir.path(),
        s,
        s.ldaps_url(),
        "  - { id: enable, ensure: sign_in_allowed }\n",
    );
    let users = csv(dir.path(), &[&a.upn, &b.upn]);
    let state = dir.path().join("state");
    let r = run_ad(s, &pb, &users, &state, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let verify = |s: &Samba| run(remedy_ad(s, &["verify", "--state-dir"]).arg(&state));
    let r = verify(s);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Someone disables one of them again: verify says so.
    s.set_disabled(&b, true);
    let r = verify(s);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let md = std::fs::read_to_string(runs(&state)[0].join("verify.md")).unwrap();
    assert!(md.contains(&b.upn), "{md}");
    assert!(md.contains("userAccountControl"), "{md}");
    assert!(!md.contains(&a.upn), "{md}");
}
