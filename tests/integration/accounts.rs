//! Accounts a step cannot act on: a guest signs in with its home tenant
//! (no password or sessions here to change), and an account synchronised
//! from on-premises AD has its password and its enabled flag mastered
//! there. Each is skipped with its reason (code `not_applicable`), never
//! reported changed; and a one-shot step after another reads the account
//! again, so its evidence starts from what is true at its intent.

use std::collections::HashMap;
use std::path::Path;

use crate::support::{EmulatorProcess, Run, emulator_users};

const CSV: &str = "userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,userType
plain@contoso.onmicrosoft.com,Plain,false,false,Member
guest_fabrikam.com#EXT#@contoso.onmicrosoft.com,Guest,true,false,Guest
synced@contoso.onmicrosoft.com,Synced,false,true,Member
synced-enabled@contoso.onmicrosoft.com,Synced Enabled,true,true,Member
";

fn remedy_run(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Run {
    crate::support::remedy_run_as(emu, "accounts-tests", state, args)
}

/// (user, step) → (status, code, reason) from the run's results.csv.
fn results(state: &Path) -> HashMap<(String, String), (String, String, String)> {
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    let mut r = csv::Reader::from_path(runs[0].join("results.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
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
            (
                (rec[user].to_owned(), rec[step].to_owned()),
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
fn guests_and_synced_accounts_are_skipped_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(&csv, CSV).unwrap();
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
    let guest = "guest_fabrikam.com#ext#@contoso.onmicrosoft.com";
    // Only the cloud member was changed.
    assert_eq!(users["plain@contoso.onmicrosoft.com"]["resetCount"], 1);
    assert_eq!(users["plain@contoso.onmicrosoft.com"]["revokeCount"], 1);
    for untouched in [guest, "synced@contoso.onmicrosoft.com"] {
        assert_eq!(users[untouched]["resetCount"], 0, "{untouched}");
    }
    assert_eq!(users[guest]["revokeCount"], 0);
    assert_eq!(
        users["synced@contoso.onmicrosoft.com"]["accountEnabled"],
        false
    );
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["resets"], 1, "{stats}");
    // No PATCH of a synced account's accountEnabled was even sent.
    assert_eq!(stats["status"].get("400"), None, "{stats}");

    let res = results(&state);
    let skipped = |user: &str, step: &str| {
        let (status, code, reason) = &res[&(user.to_owned(), step.to_owned())];
        assert_eq!(
            (status.as_str(), code.as_str()),
            ("skipped", "not_applicable"),
            "{user} {step}: {reason}"
        );
        reason.clone()
    };
    let guest_key = "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    assert!(skipped(guest_key, "reset-password").starts_with("guest account"));
    assert!(skipped(guest_key, "revoke-sessions").contains("home tenant"));
    assert!(
        skipped("synced@contoso.onmicrosoft.com", "reset-password")
            .contains("reset it on-premises")
    );
    assert!(skipped("synced@contoso.onmicrosoft.com", "allow-sign-in").contains("on-premises"));
    // Revoking a synced account's sessions works in the cloud; an account
    // already enabled is ok.
    assert_eq!(
        res[&(
            "synced@contoso.onmicrosoft.com".into(),
            "revoke-sessions".into()
        )]
            .0,
        "changed"
    );
    assert_eq!(
        res[&(
            "synced-enabled@contoso.onmicrosoft.com".into(),
            "allow-sign-in".into()
        )]
            .0,
        "ok"
    );
    assert_eq!(
        res[&(
            "plain@contoso.onmicrosoft.com".into(),
            "allow-sign-in".into()
        )]
            .0,
        "changed"
    );

    // The dry run says the same, so a plan never promises these changes.
    let dry = remedy_run(
        &emu,
        &dir.path().join("dry"),
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let dry_res = results(&dir.path().join("dry"));
    assert_eq!(
        dry_res[&(guest_key.into(), "reset-password".into())].1,
        "not_applicable"
    );
    assert_eq!(
        dry_res[&(
            "synced@contoso.onmicrosoft.com".into(),
            "allow-sign-in".into()
        )]
            .1,
        "not_applicable"
    );
}

#[test]
fn a_one_shot_step_after_another_reads_the_account_again() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(
        &csv,
        "userPrincipalName,displayName\na@contoso.onmicrosoft.com,A\nb@contoso.onmicrosoft.com,B\n",
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
    let stats = emu.get_json("/_stats");
    // Per user: the first read, then a read before the revocation (the
    // reset just ran), then nothing more for the ensure step.
    assert_eq!(stats["by_operation"]["read_user"], 4, "{stats}");
    assert_eq!(stats["resets"], 2);
    assert_eq!(stats["revokes"], 2);
    // The revocation's intent journals the account as read after the
    // reset: its password-changed time is the reset's, not the first read's.
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let journal = std::fs::read_to_string(runs[0].join("journal.jsonl")).unwrap();
    let intents: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "intent")
        .collect();
    for user in ["a@contoso.onmicrosoft.com", "b@contoso.onmicrosoft.com"] {
        let before = |step: &str| {
            intents
                .iter()
                .find(|v| v["user"] == user && v["step"] == step)
                .map(|v| v["before"]["last_password_change"].clone())
                .unwrap()
        };
        let (at_reset, at_revoke) = (before("reset-password"), before("revoke-sessions"));
        assert!(at_revoke.is_string(), "{at_revoke}");
        assert_ne!(
            at_reset, at_revoke,
            "{user}: the revocation journaled the first read"
        );
    }
}

const ID_A: &str = "0a1b2c3d-0000-4000-8000-00000000000a";
const ID_BREAKGLASS: &str = "0a1b2c3d-0000-4000-8000-0000000000bb";
const ID_ADMIN2: &str = "0a1b2c3d-0000-4000-8000-0000000000cc";

/// A playbook like incident-response whose protected list names the
/// break-glass account by object id, and two others by sign-in name.
fn protecting_playbook(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("pb.yaml");
    std::fs::write(
        &path,
        format!(
            "api_version: remedy/v1
name: protect-test
target:
  provider: graph
guards:
  protect:
    privileged_roles: true
    users:
      - {ID_BREAKGLASS}
      - josé@contoso.onmicrosoft.com
      - admin2@contoso.onmicrosoft.com
steps:
  - id: reset-password
    action: reset_password
  - id: revoke-sessions
    action: revoke_sessions
"
        ),
    )
    .unwrap();
    path
}

#[test]
fn protection_matches_the_account_as_read_and_each_account_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    // The tenant, with fixed object ids.
    let tenant = dir.path().join("tenant.csv");
    std::fs::write(
        &tenant,
        format!(
            "userPrincipalName,id,displayName
a@contoso.onmicrosoft.com,{ID_A},A
breakglass@contoso.onmicrosoft.com,{ID_BREAKGLASS},Break Glass
josé@contoso.onmicrosoft.com,0a1b2c3d-0000-4000-8000-0000000000dd,José
admin2@contoso.onmicrosoft.com,{ID_ADMIN2},Admin Two
"
        ),
    )
    .unwrap();
    // The CSV names the break-glass account by UPN (the list has its id),
    // José with other case, the second admin by object id (the list has
    // the UPN), and A twice: by UPN and by object id.
    let csv = dir.path().join("u.csv");
    std::fs::write(
        &csv,
        format!(
            "userPrincipalName
a@contoso.onmicrosoft.com
breakglass@contoso.onmicrosoft.com
JOSÉ@contoso.onmicrosoft.com
{ID_ADMIN2}
{ID_A}
"
        ),
    )
    .unwrap();
    let emu = EmulatorProcess::start(&["--users", tenant.to_str().unwrap()]);
    let state = dir.path().join("state");
    let pb = protecting_playbook(dir.path());
    let r = remedy_run(
        &emu,
        &state,
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let users = emulator_users(&emu);
    for protected in [
        "breakglass@contoso.onmicrosoft.com",
        "josé@contoso.onmicrosoft.com",
        "admin2@contoso.onmicrosoft.com",
    ] {
        assert_eq!(users[protected]["resetCount"], 0, "{protected}");
        assert_eq!(users[protected]["revokeCount"], 0, "{protected}");
    }
    // A, named twice, was reset once: one password, one secrets.csv line.
    assert_eq!(users["a@contoso.onmicrosoft.com"]["resetCount"], 1);
    assert_eq!(users["a@contoso.onmicrosoft.com"]["revokeCount"], 1);
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let secrets = std::fs::read_to_string(runs[0].join("secrets.csv")).unwrap();
    assert_eq!(secrets.lines().skip(1).count(), 1, "{secrets}");

    let res = results(&state);
    let (status, code, reason) = &res[&(ID_A.to_owned(), "reset-password".to_owned())];
    assert_eq!(
        (status.as_str(), code.as_str()),
        ("skipped", "duplicate_account")
    );
    assert!(
        reason.contains("another row") && reason.contains(ID_A),
        "{reason}"
    );
    let (status, _, reason) = &res[&(ID_ADMIN2.to_owned(), "reset-password".to_owned())];
    assert_eq!(status, "skipped");
    assert!(
        reason.contains("admin2@contoso.onmicrosoft.com"),
        "{reason}"
    );
    for key in [
        "breakglass@contoso.onmicrosoft.com",
        "JOSÉ@contoso.onmicrosoft.com",
    ] {
        let (status, _, reason) = &res[&(key.to_owned(), "revoke-sessions".to_owned())];
        assert_eq!(status, "skipped", "{key}");
        assert!(reason.starts_with("protected"), "{key}: {reason}");
    }
}

#[test]
fn accounts_of_a_federated_domain_are_not_reset_in_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    let mut text = String::from("userPrincipalName,displayName,accountEnabled\n");
    for i in 0..6 {
        text.push_str(&format!(
            "cloud{i}@contoso.onmicrosoft.com,Cloud {i},false\n"
        ));
        text.push_str(&format!("fed{i}@corp.contoso.com,Fed {i},false\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--federated-domain",
        "corp.contoso.com",
    ]);
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
    let res = results(&state);
    for i in 0..6 {
        let cloud = format!("cloud{i}@contoso.onmicrosoft.com");
        let fed = format!("fed{i}@corp.contoso.com");
        assert_eq!(users[cloud.as_str()]["resetCount"], 1, "{cloud}");
        assert_eq!(users[fed.as_str()]["resetCount"], 0, "{fed}");
        let (status, code, reason) = &res[&(fed.clone(), "reset-password".into())];
        assert_eq!(
            (status.as_str(), code.as_str()),
            ("skipped", "not_applicable")
        );
        assert!(reason.contains("federated"), "{reason}");
        // Entra ID still issues their tokens and keeps their enabled flag.
        assert_eq!(res[&(fed.clone(), "revoke-sessions".into())].0, "changed");
        assert_eq!(res[&(fed.clone(), "allow-sign-in".into())].0, "changed");
        assert_eq!(users[fed.as_str()]["revokeCount"], 1, "{fed}");
    }
    // Each domain is read once per run, however many users share it.
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["by_operation"]["read_domain"], 2, "{stats}");

    // The dry run says the same.
    let dry = remedy_run(
        &emu,
        &dir.path().join("dry"),
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let dry_res = results(&dir.path().join("dry"));
    assert_eq!(
        dry_res[&("fed0@corp.contoso.com".into(), "reset-password".into())].1,
        "not_applicable"
    );
    assert_eq!(
        dry_res[&(
            "cloud0@contoso.onmicrosoft.com".into(),
            "reset-password".into()
        )]
            .0,
        "would_change"
    );
}

#[test]
fn a_domain_that_cannot_be_read_fails_the_reset_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(
        &csv,
        "userPrincipalName,displayName,accountEnabled\nplain@contoso.onmicrosoft.com,Plain,false\n",
    )
    .unwrap();
    // A token without Domain.Read.All or Directory.Read.All: the preflight
    // refuses before any change and names the permission.
    let emu = EmulatorProcess::start(&[
        "--users",
        csv.to_str().unwrap(),
        "--roles",
        "User.Read.All,User-PasswordProfile.ReadWrite.All,User.EnableDisableAccount.All,User.RevokeSessions.All,RoleEligibilitySchedule.Read.Directory,RoleManagement.Read.Directory",
    ]);
    let r = remedy_run(
        &emu,
        &dir.path().join("state"),
        &[
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
        ],
    );
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Domain.Read.All"), "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["resets"], 0);
}

#[test]
fn a_tenant_refusing_a_synced_reset_gets_it_reported_failed_with_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(&csv, CSV).unwrap();
    let emu =
        EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--synced-reset", "refuse"]);
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "api_version: remedy/v1
name: hash-sync
target:
  provider: graph
steps:
  - id: reset-password
    action: reset_password
    with:
      reset_synced_in_cloud: true
",
    )
    .unwrap();
    let state = dir.path().join("state");
    let r = remedy_run(
        &emu,
        &state,
        &[pb.to_str().unwrap(), "--users", csv.to_str().unwrap()],
    );
    // The synced accounts failed (nothing changed); the others did not.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let res = results(&state);
    for synced in [
        "synced@contoso.onmicrosoft.com",
        "synced-enabled@contoso.onmicrosoft.com",
    ] {
        let (status, code, reason) = &res[&(synced.to_owned(), "reset-password".to_owned())];
        assert_eq!(
            (status.as_str(), code.as_str()),
            ("failed", "Request_BadRequest"),
            "{reason}"
        );
        assert!(reason.contains("on-premises"), "{reason}");
    }
    assert_eq!(
        res[&(
            "plain@contoso.onmicrosoft.com".into(),
            "reset-password".into()
        )]
            .0,
        "changed"
    );
    let users = emulator_users(&emu);
    assert_eq!(users["synced@contoso.onmicrosoft.com"]["resetCount"], 0);
    // The refused resets' saved passwords are called out, not handed out
    // as if they worked.
    assert!(
        r.stderr
            .contains("2 of them were never set (the reset failed)"),
        "{}",
        r.stderr
    );
}
