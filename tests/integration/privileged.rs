//! The privileged-account guard end to end: the real binary against the
//! emulator seeded with every kind of privileged account (roles direct,
//! custom, unit-scoped and eligible; role-assignable groups joined and
//! owned; restricted management units), limited information, PIM's
//! licence, and the app's own directory role in the preflight and in
//! `remedy doctor`.
//!
//! They need the emulator's privilege seeding (CSV columns `customRoles`,
//! `scopedRoles`, `eligibleRoles`, `roleGroups`, `ownedRoleGroups`,
//! `groups`, `units`, `restrictedUnits`; flags `--app-role`,
//! `--no-pim-licence`), hence ignored until it is there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::support::{EmulatorProcess, Run, emulator_users, remedy, remedy_run_as, run};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn upn(name: &str) -> String {
    format!("{name}@{DOMAIN}")
}

/// A seeding CSV: `(name, column, value)` per user; users without a
/// column leave it empty.
fn seed(dir: &Path, rows: &[(&str, &str, &str)]) -> PathBuf {
    let columns = [
        "roles",
        "customRoles",
        "scopedRoles",
        "eligibleRoles",
        "roleGroups",
        "ownedRoleGroups",
        "groups",
        "units",
        "restrictedUnits",
    ];
    let mut text = format!(
        "userPrincipalName,displayName,accountEnabled,{}\n",
        columns.join(",")
    );
    for (name, column, value) in rows {
        let cells: Vec<&str> = columns
            .iter()
            .map(|c| if c == column { *value } else { "" })
            .collect();
        text.push_str(&format!("{},{name},true,{}\n", upn(name), cells.join(",")));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn remedy_run(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Run {
    remedy_run_as(emu, "guard-tests", state, args)
}

fn only_run_dir(state: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

/// `(user, step) → (status, reason)` from `results.csv`.
fn results(run_dir: &Path) -> HashMap<(String, String), (String, String)> {
    let mut r = csv::Reader::from_path(run_dir.join("results.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[1].to_owned(), rec[2].to_owned()),
                (rec[3].to_owned(), rec[4].to_owned()),
            )
        })
        .collect()
}

fn reason(res: &HashMap<(String, String), (String, String)>, name: &str) -> (String, String) {
    res[&(upn(name), "reset-password".to_owned())].clone()
}

fn writes(emu: &EmulatorProcess) -> u64 {
    let s = emu.get_json("/_stats");
    let ops = &s["by_operation"];
    ["reset_password", "set_account_enabled", "revoke_sessions"]
        .iter()
        .map(|o| ops[o].as_u64().unwrap_or(0))
        .sum()
}

/// A playbook like unlock-account (a reset and sign-in allowed) with the
/// guard's settings as given.
fn playbook(dir: &Path, protect: &str) -> PathBuf {
    let path = dir.join("playbook.yaml");
    std::fs::write(
        &path,
        format!(
            "api_version: remedy/v1
name: guard-test
target:
  provider: graph
guards:
  protect:
{protect}steps:
  - id: reset-password
    action: reset_password
    with:
      password: generate
  - id: allow-sign-in
    ensure: sign_in_allowed
"
        ),
    )
    .unwrap();
    path
}

#[test]
fn every_kind_of_privileged_account_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(
        dir.path(),
        &[
            ("plain", "", ""),
            ("ordinary", "groups", "Sales;Marketing"),
            ("inunit", "units", "Paris"),
            ("global", "roles", "Global Administrator"),
            ("custom", "customRoles", "Helpdesk Tier 2"),
            ("scoped", "scopedRoles", "Helpdesk Administrator@Executives"),
            ("eligible", "eligibleRoles", "Security Administrator"),
            ("member", "roleGroups", "Sales Ops;Tier0 Admins"),
            (
                "throughgroup",
                "roleGroups",
                "Tier1 Admins=User Administrator",
            ),
            ("owner", "ownedRoleGroups", "Tier0 Admins"),
            ("restricted", "restrictedUnits", "Board"),
        ],
    );
    // One item per page: every list is followed through its nextLinks.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--page-size", "1"]);
    let state = dir.path().join("state");
    let pb = playbook(dir.path(), "    privileged_roles: true\n");
    let r = remedy_run(
        &emu,
        &state,
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&only_run_dir(&state));
    for name in ["plain", "ordinary", "inunit"] {
        assert_eq!(
            reason(&res, name).0,
            "changed",
            "{name}: {:?}",
            reason(&res, name)
        );
    }
    for (name, want) in [
        (
            "global",
            "protected: holds the directory role Global Administrator",
        ),
        (
            "custom",
            "protected: holds the directory role Helpdesk Tier 2",
        ),
        (
            "scoped",
            "protected: holds the directory role Helpdesk Administrator (scoped to the administrative unit ",
        ),
        (
            "eligible",
            "protected: eligible (PIM) for Security Administrator",
        ),
        ("member", "protected: member of the role-assignable group "),
        (
            "throughgroup",
            "protected: holds the directory role User Administrator; member of the role-assignable group Tier1 Admins",
        ),
        (
            "owner",
            "protected: owner of the role-assignable group Tier0 Admins",
        ),
        (
            "restricted",
            "protected: member of the restricted management administrative unit Board",
        ),
    ] {
        let (status, why) = reason(&res, name);
        assert_eq!(status, "skipped", "{name}: {why}");
        assert!(why.starts_with(want), "{name}: {why}");
    }
    // Paged: both groups found.
    let (_, why) = reason(&res, "member");
    assert!(
        why.contains("Sales Ops") && why.contains("Tier0 Admins"),
        "{why}"
    );
    // Nothing was even attempted on a protected account: the three
    // unprivileged users' reset, and nothing else (they are enabled).
    assert_eq!(writes(&emu), 3);
    let users = emulator_users(&emu);
    for name in [
        "global",
        "custom",
        "scoped",
        "eligible",
        "member",
        "owner",
        "restricted",
    ] {
        assert_eq!(users[&upn(name)]["resetCount"], 0, "{name}");
    }
    // Each user's four lists, once (nothing failed), plus the preflight's
    // probe (W4) and the app's own roles (W3).
    let s = emu.get_json("/_stats");
    let ops = &s["by_operation"];
    assert!(ops["list_memberships"].as_u64().unwrap() >= 11, "{s}");
    assert_eq!(ops["list_directory_roles"].as_u64().unwrap_or(0), 0, "{s}");
    assert_eq!(
        ops["read_role_definition"], 1,
        "a custom role's name is read once: {s}"
    );
}

#[test]
fn limited_information_protects_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(
        dir.path(),
        &[
            ("plain", "", ""),
            ("ingroup", "groups", "Sales"),
            ("inunit", "units", "Paris"),
        ],
    );
    // Every permission but Directory.Read.All: groups and units come with
    // limited information. The preflight would refuse it; without it,
    // each such user is protected.
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--roles",
        "User.Read.All,User-PasswordProfile.ReadWrite.All,User.EnableDisableAccount.All,RoleManagement.Read.Directory,RoleEligibilitySchedule.Read.Directory,Domain.Read.All",
    ]);
    let state = dir.path().join("state");
    let pb = playbook(dir.path(), "    privileged_roles: true\n");
    let refused = remedy_run(
        &emu,
        &dir.path().join("refused"),
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "guards.protect.privileged_roles (list_memberships): missing Directory.Read.All"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(writes(&emu), 0);
    let r = remedy_run(
        &emu,
        &state,
        &[
            pb.to_str().unwrap(),
            "--users",
            csv.to_str().unwrap(),
            "--no-preflight",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&only_run_dir(&state));
    assert_eq!(reason(&res, "plain").0, "changed");
    for (name, what) in [
        (
            "ingroup",
            "whether the group(s) the user is in are role-assignable",
        ),
        (
            "inunit",
            "whether the administrative unit(s) the user is in are restricted management units",
        ),
    ] {
        let (status, why) = reason(&res, name);
        assert_eq!(status, "skipped", "{name}: {why}");
        assert!(
            why.starts_with(&format!(
                "protected: cannot tell whether {} is privileged: {what}",
                upn(name)
            )),
            "{name}: {why}"
        );
        assert!(why.contains("limited information"), "{why}");
    }
    assert_eq!(writes(&emu), 1);
}

#[test]
fn without_pims_licence_a_required_eligibility_refuses_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(
        dir.path(),
        &[
            ("plain", "", ""),
            ("global", "roles", "Global Administrator"),
        ],
    );
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--no-pim-licence"]);
    let pb = playbook(dir.path(), "    pim_eligibility: required\n");
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("AadPremiumLicenseRequired"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(
        r.stderr.contains("pim_eligibility: if_licensed"),
        "{}",
        r.stderr
    );
    let s = emu.get_json("/_stats");
    assert_eq!(
        s["by_operation"]["read_user"], 0,
        "refused before any user: {s}"
    );
    assert_eq!(writes(&emu), 0);

    // `if_licensed`: no PIM means no eligibility; the other causes count.
    let pb = playbook(dir.path(), "    pim_eligibility: if_licensed\n");
    let state = dir.path().join("state2");
    let r = remedy_run(
        &emu,
        &state,
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results(&only_run_dir(&state));
    assert_eq!(reason(&res, "plain").0, "changed");
    let (status, why) = reason(&res, "global");
    assert_eq!(status, "skipped");
    assert!(
        why.starts_with("protected: holds the directory role Global Administrator"),
        "{why}"
    );
    assert!(!why.contains("PIM"), "{why}");
    assert_eq!(writes(&emu), 1);

    // A plan with `required` is refused too: every user would be protected.
    let pb = playbook(dir.path(), "");
    let mut cmd = remedy();
    cmd.args([
        "run",
        pb.to_str().unwrap(),
        "--users",
        csv.to_str().unwrap(),
        "--dry-run",
        "--state-dir",
    ])
    .arg(dir.path().join("state3"))
    .envs(emu.client_env("guard-tests", "guard-tests-secret"))
    .env_remove("AZURE_ACCESS_TOKEN");
    let r = run(&mut cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("AadPremiumLicenseRequired"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_token_without_pims_permission_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(dir.path(), &[("plain", "", "")]);
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--roles",
        "User.Read.All,User-PasswordProfile.ReadWrite.All,User.EnableDisableAccount.All,Directory.Read.All",
    ]);
    let pb = playbook(dir.path(), "    privileged_roles: true\n");
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "guards.protect.privileged_roles (list_role_eligibility): missing RoleEligibilitySchedule.Read.Directory"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(writes(&emu), 0);
}

#[test]
fn the_apps_own_role_is_checked_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(dir.path(), &[("plain", "", "")]);
    let pb = playbook(dir.path(), "    privileged_roles: true\n");
    let args = [pb.to_str().unwrap(), "--users", csv.to_str().unwrap()];

    // The default app role (User Administrator): no warning.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let r = remedy_run(&emu, &dir.path().join("a"), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("app's service principal"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("could not be checked"), "{}", r.stderr);

    // No role: warned before the first change (and Graph then refuses).
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--app-role", "none"]);
    let r = remedy_run(&emu, &dir.path().join("b"), &args);
    assert!(
        r.stderr
            .contains("the app's service principal holds none of the directory roles"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("assign the User Administrator role to the app's service principal; Privileged Authentication Administrator to change admins"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("Authorization_RequestDenied"),
        "{}",
        r.stdout
    );
    // A dry run needs no role: no warning.
    let r = remedy_run(
        &emu,
        &dir.path().join("c"),
        &[&args[..], &["--dry-run"]].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("holds none"), "{}", r.stderr);
}

fn doctor(emu: &EmulatorProcess, user: &str) -> Run {
    let mut cmd = remedy();
    cmd.args(["doctor", "--user", user])
        .envs(emu.client_env("guard-doctor", "guard-doctor-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .timeout(std::time::Duration::from_secs(60));
    run(&mut cmd)
}

#[test]
fn doctor_shows_the_guard_the_licence_and_the_apps_role() {
    let dir = tempfile::tempdir().unwrap();
    let csv = seed(
        dir.path(),
        &[("plain", "", ""), ("member", "roleGroups", "Tier0 Admins")],
    );
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let r = doctor(&emu, &upn("plain"));
    assert_eq!(r.code, 0, "{}", r.stdout);
    for needle in [
        "ok   app's directory roles: User Administrator",
        "ok   PIM eligibility can be read",
        "list_role_eligibility",
        "ok   privileged-account guard: plain@contoso.onmicrosoft.com is not privileged",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing `{needle}`:\n{}",
            r.stdout
        );
    }
    let r = doctor(&emu, &upn("member"));
    assert!(
        r.stdout
            .contains("is protected: member of the role-assignable group Tier0 Admins"),
        "{}",
        r.stdout
    );

    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--app-role",
        "none",
        "--no-pim-licence",
    ]);
    let r = doctor(&emu, &upn("plain"));
    assert!(
        r.stdout
            .contains("warn app's directory roles: the app's service principal holds none"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("warn PIM eligibility: the tenant has no Microsoft Entra ID P2"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("pim_eligibility: if_licensed"),
        "{}",
        r.stdout
    );
}
