//! `remedy doctor` against the emulator: good credentials, a wrong secret,
//! a missing permission, a refused endpoint, an unreachable host; and the
//! secret never appears in anything it prints.

use crate::support::{EmulatorProcess, remedy, run};

const SECRET: &str = "Doctor-Test-Secret-4f1b9c";

fn doctor(emu_url: &str, secret: &str, extra: &[&str]) -> crate::support::Run {
    let mut cmd = remedy();
    cmd.arg("doctor")
        .args(extra)
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
        .env("AZURE_CLIENT_SECRET", secret)
        .env("REMEDY_GRAPH_URL", emu_url)
        .env("REMEDY_AUTHORITY_URL", emu_url)
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .timeout(std::time::Duration::from_secs(60));
    run(&mut cmd)
}

fn assert_no_secret(r: &crate::support::Run, secret: &str) {
    assert!(
        !r.stdout.contains(secret) && !r.stderr.contains(secret),
        "the secret leaked:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn good_credentials_pass() {
    let emu = EmulatorProcess::start(&["--generate", "5"]);
    let r = doctor(
        &emu.url,
        SECRET,
        &["--user", "user0000001@contoso.onmicrosoft.com"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for needle in [
        "token acquired",
        "tenant",
        "app id      11111111-2222-3333-4444-555555555555",
        "User-PasswordProfile.ReadWrite.All",
        "read user user0000001@contoso.onmicrosoft.com",
        "accountEnabled",
        "ok   app's directory roles: User Administrator",
        "ok   PIM eligibility can be read",
        "ok   privileged-account guard: user0000001@contoso.onmicrosoft.com is not privileged",
        "everything remedy needs works",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing `{needle}`:\n{}",
            r.stdout
        );
    }
    assert_no_secret(&r, SECRET);
}

#[test]
fn wrong_secret_is_named_with_a_hint() {
    let emu = EmulatorProcess::start_with_env(
        &["--generate", "5"],
        &[("REMEDY_EMULATOR_CLIENT_SECRET", SECRET)],
    );
    let wrong = "Wrong-Secret-77aa";
    let r = doctor(&emu.url, wrong, &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("AADSTS7000215"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Value, not its Secret ID"),
        "{}",
        r.stdout
    );
    assert_no_secret(&r, wrong);
    assert_no_secret(&r, SECRET);
}

#[test]
fn missing_permission_is_listed() {
    let emu = EmulatorProcess::start(&["--generate", "5", "--roles", "User.Read.All"]);
    let r = doctor(
        &emu.url,
        SECRET,
        &["--user", "user0000001@contoso.onmicrosoft.com"],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("reset_password         missing application permission User-PasswordProfile.ReadWrite.All"), "{}", r.stdout);
    for line in [
        "list_memberships       missing application permission Directory.Read.All",
        "list_role_eligibility  missing application permission RoleEligibilitySchedule.Read.Directory",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    // The direct role list is no longer read.
    assert!(!r.stdout.contains("list_directory_roles"), "{}", r.stdout);
    // The guard cannot read enough: it would protect every user.
    assert!(
        r.stdout
            .contains("FAIL privileged-account guard: protected: cannot tell whether user0000001@contoso.onmicrosoft.com is privileged"),
        "{}",
        r.stdout
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let r = doctor("http://graph.example.com", SECRET, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("use https"), "{}", r.stdout);
}

#[test]
fn unreachable_host_is_reported() {
    let r = doctor("http://127.0.0.1:9", SECRET, &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("cannot reach the token endpoint"),
        "{}",
        r.stdout
    );
    assert_no_secret(&r, SECRET);
}

/// Credentials come only from the environment or files: no command takes a
/// secret on its command line (where `ps` and shell history would see it).
#[test]
fn secrets_are_not_accepted_as_flags() {
    for (command, flag) in [
        ("doctor", "--client-secret"),
        ("doctor", "--access-token"),
        ("doctor", "--token"),
        ("doctor", "--certificate-password"),
        ("run", "--client-secret"),
        ("run", "--password"),
        ("emulator", "--client-secret"),
    ] {
        let r = run(remedy().args([command, flag, SECRET]));
        assert_eq!(r.code, 2, "{command} {flag}: {}", r.stderr);
        assert!(
            r.stderr.contains("unexpected argument"),
            "{command} {flag}: {}",
            r.stderr
        );
        assert_no_secret(&r, SECRET);
    }
}
