//! The three shipped workflows against a tenant with every kind of
//! account at once: privileged in each way the guard knows (roles direct,
//! custom, unit-scoped, PIM-eligible, held through a role-assignable
//! group; owners of such a group; restricted management units), a
//! break-glass account named by object id, a guest, a synced account and
//! an account of a federated domain, beside ordinary ones. The app holds
//! Privileged Authentication Administrator, so the emulator would accept a
//! write to any of them but the restricted unit's: the emulator's
//! per-user `writeAttempts` proves no write was even sent to a protected
//! account, and each skip carries its reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::support::{EmulatorProcess, emulator_users, remedy_run_as};

const D: &str = "contoso.onmicrosoft.com";
const BREAKGLASS_ID: &str = "0b0b0b0b-0000-4000-8000-00000000b1a5";

/// (name, column, value) of each account; the domain is `D` unless the
/// name has one.
const ACCOUNTS: &[(&str, &str, &str)] = &[
    ("plain", "", ""),
    ("sales", "groups", "Sales"),
    ("paris", "units", "Paris"),
    ("ga", "roles", "Global Administrator"),
    ("custom", "customRoles", "Helpdesk Tier 2"),
    ("scoped", "scopedRoles", "User Administrator@Paris"),
    ("eligible", "eligibleRoles", "Security Administrator"),
    ("tier0", "roleGroups", "Tier0 Admins=Global Administrator"),
    ("owner", "ownedRoleGroups", "Tier0 Admins"),
    ("exec", "restrictedUnits", "Executives"),
    ("breakglass", "", ""),
    ("guest_fabrikam.com#EXT#", "userType", "Guest"),
    ("synced", "onPremisesSyncEnabled", "true"),
    ("fed@corp.contoso.com", "", ""),
];

/// The privileged accounts and a word their skip reason must contain.
const PRIVILEGED: &[(&str, &str)] = &[
    ("ga", "Global Administrator"),
    ("custom", "Helpdesk Tier 2"),
    ("scoped", "User Administrator"),
    ("eligible", "Security Administrator"),
    ("tier0", "Tier0 Admins"),
    ("owner", "Tier0 Admins"),
    ("exec", "Executives"),
];

const COLUMNS: &[&str] = &[
    "onPremisesSyncEnabled",
    "userType",
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

fn upn(name: &str) -> String {
    if name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}@{D}")
    }
}

/// The emulator's tenant, and the CSV of users to remediate (every
/// account; the break-glass one by object id).
fn files(dir: &Path) -> (PathBuf, PathBuf) {
    let mut tenant = format!(
        "userPrincipalName,id,displayName,accountEnabled,{}\n",
        COLUMNS.join(",")
    );
    let mut users = String::from("userPrincipalName,displayName\n");
    for (i, (name, column, value)) in ACCOUNTS.iter().enumerate() {
        let id = if *name == "breakglass" {
            BREAKGLASS_ID.to_owned()
        } else {
            format!("0a0a0a0a-0000-4000-8000-{:012}", i + 1)
        };
        let cells: Vec<&str> = COLUMNS
            .iter()
            .map(|c| if c == column { *value } else { "" })
            .collect();
        tenant.push_str(&format!(
            "{},{id},{name},false,{}\n",
            upn(name),
            cells.join(",")
        ));
        let key = if *name == "breakglass" { id } else { upn(name) };
        users.push_str(&format!("{key},{name}\n"));
    }
    let t = dir.join("tenant.csv");
    let u = dir.join("users.csv");
    std::fs::write(&t, tenant).unwrap();
    std::fs::write(&u, users).unwrap();
    (t, u)
}

/// (lower-cased user as read, step) → (status, code, reason).
fn results(state: &Path) -> HashMap<(String, String), (String, String, String)> {
    let run = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut r = csv::Reader::from_path(run.join("results.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (user, step, status, code, reason) = (
        col("user"),
        col("step"),
        col("status"),
        col("code"),
        col("reason"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let key = if &rec[user] == BREAKGLASS_ID {
                upn("breakglass")
            } else {
                rec[user].to_lowercase()
            };
            (
                (key, rec[step].to_owned()),
                (
                    rec[status].to_owned(),
                    rec[code].to_owned(),
                    rec[reason].to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn the_three_workflows_touch_no_protected_account_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let (tenant, users) = files(dir.path());
    for (i, workflow) in [
        "workflows/incident-response.yaml",
        "workflows/block-compromised.yaml",
        "workflows/unlock-account.yaml",
    ]
    .into_iter()
    .enumerate()
    {
        // A fresh tenant per workflow, so each one's writes are its own.
        let emu = EmulatorProcess::start(&[
            "--users",
            tenant.to_str().unwrap(),
            "--privileged-admin",
            "--federated-domain",
            "corp.contoso.com",
        ]);
        let state = dir.path().join(format!("state{i}"));
        let r = remedy_run_as(
            &emu,
            "tenant-tests",
            &state,
            &[workflow, "--users", users.to_str().unwrap()],
        );
        assert_eq!(r.code, 0, "{workflow}\n{}\n{}", r.stdout, r.stderr);
        let seen = emulator_users(&emu);
        let res = results(&state);
        let lists_breakglass = !workflow.contains("unlock");
        let steps = res
            .keys()
            .map(|(_, step)| step)
            .collect::<std::collections::HashSet<_>>()
            .len();
        assert!(steps >= 2, "{workflow}");
        let mut protected: Vec<(String, &str)> =
            PRIVILEGED.iter().map(|(n, why)| (upn(n), *why)).collect();
        if lists_breakglass {
            protected.push((upn("breakglass"), "guards.protect.users"));
        }
        for (user, why) in &protected {
            assert_eq!(
                seen[&user.to_lowercase()]["writeAttempts"],
                0,
                "{workflow}: {user} was sent a write"
            );
            let mut rows = 0;
            for ((u, step), (status, code, reason)) in &res {
                if u == &user.to_lowercase() {
                    rows += 1;
                    assert_eq!(status, "skipped", "{workflow} {user} {step}: {reason}");
                    assert!(
                        reason.starts_with("protected") && reason.contains(why),
                        "{workflow} {user} {step} ({code}): {reason}"
                    );
                }
            }
            assert_eq!(rows, steps, "{workflow}: {user} has a result per step");
        }
        // Ordinary accounts, in ordinary groups and units, are changed.
        for name in ["plain", "sales", "paris"] {
            let u = &seen[&upn(name)];
            assert!(
                u["writeAttempts"].as_u64().unwrap() > 0,
                "{workflow}: {name}"
            );
        }
        if !lists_breakglass {
            assert!(seen[&upn("breakglass")]["writeAttempts"].as_u64().unwrap() > 0);
        }
        // Accounts a step cannot honestly change are skipped per step.
        let step_of = |u: &str, kind: &str| {
            res.iter()
                .find(|((user, step), _)| user == u && step.contains(kind))
                .map(|(_, v)| v.clone())
        };
        let guest = upn("guest_fabrikam.com#EXT#").to_lowercase();
        let synced = upn("synced");
        let fed = upn("fed@corp.contoso.com");
        if let Some((status, code, reason)) = step_of(&guest, "reset") {
            assert_eq!(
                (status.as_str(), code.as_str()),
                ("skipped", "not_applicable"),
                "{reason}"
            );
        }
        let resets = usize::from(workflow.contains("block")) ^ 1;
        assert_eq!(
            [&guest, &synced, &fed]
                .iter()
                .filter(|u| step_of(u, "reset").is_some())
                .count(),
            3 * resets,
            "{workflow}"
        );
        if let Some((status, code, reason)) = step_of(&synced, "reset") {
            assert_eq!(
                (status.as_str(), code.as_str()),
                ("skipped", "not_applicable"),
                "{reason}"
            );
            assert!(reason.contains("on-premises"), "{reason}");
        }
        if let Some((status, code, reason)) = step_of(&fed, "reset") {
            assert_eq!(
                (status.as_str(), code.as_str()),
                ("skipped", "not_applicable"),
                "{reason}"
            );
            assert!(reason.contains("federated"), "{reason}");
        }
        for u in [&guest, &synced, &fed] {
            assert_eq!(seen[u.as_str()]["resetCount"], 0, "{workflow}: {u}");
        }
        // No write was refused: remedy sent none it should not have.
        let stats = emu.get_json("/_stats");
        assert_eq!(stats["status"].get("403"), None, "{workflow}: {stats}");
        assert_eq!(stats["status"].get("400"), None, "{workflow}: {stats}");
    }
}
