//! Active Directory baseline against a real Samba AD DC on 127.0.0.1 (the
//! test harness in tests/integration/samba.rs): 1,000 users created in
//! bulk, some locked out (real bad-password lockouts) and some disabled,
//! then the fastest plain-tool remediation: ONE `ldapmodify -f` over LDAPS
//! that, with no reads, unlocks, resets the password of and enables every
//! user. Then the same users, damaged again, through the real `remedy
//! run` binary ([`remedy_cli`]: reads, the privileged guard, the journal
//! with its fsyncs, `secrets.csv`, the reports), and through the provider
//! alone without the journal ([`remedy_run`]).
//! Run with `cargo bench --bench ad` (`REMEDY_BENCH_AD_USERS` changes the
//! count, `REMEDY_BENCH_AD_CONCURRENCY=4,8,16,32` sweeps remedy's
//! concurrency); without Samba installed it says so and measures nothing.

#[path = "../tests/integration/samba.rs"]
mod samba;

use std::time::{Duration, Instant};

use samba::{Samba, UAC_DISABLED, UAC_NORMAL, User};

/// Users created, of which the first [`LOCKED`] are locked out and the
/// next [`DISABLED`] disabled before each remediation.
const USERS: usize = 1_000;
const LOCKED: usize = 50;
const DISABLED: usize = 100;

fn main() {
    let count = std::env::var("REMEDY_BENCH_AD_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(USERS)
        .max(LOCKED + DISABLED);
    let Some(samba) = Samba::shared() else {
        println!("ad: Samba AD DC not installed; nothing measured");
        return;
    };
    println!(
        "ad: provision {:.1} s, start to ready {:.1} s",
        samba.provision_time.as_secs_f64(),
        samba.ready_time.as_secs_f64()
    );

    let started = Instant::now();
    let users = samba.create_users("bench", count);
    report(
        "bulk creation (one ldapmodify of adds)",
        count,
        started.elapsed(),
    );

    let started = Instant::now();
    damage(samba, &users);
    println!(
        "ad: {LOCKED} locked out and {DISABLED} disabled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let baseline = samba.ldapmodify_batch(&users);
    check_remediated(samba, &users);
    report(
        "baseline: one ldapmodify (unlock, reset, enable; no reads)",
        count,
        baseline,
    );

    let sweep: Vec<usize> = std::env::var("REMEDY_BENCH_AD_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![CONCURRENCY]);
    for concurrency in sweep {
        damage(samba, &users);
        let dir = tempfile::tempdir().expect("temp dir");
        let elapsed = remedy_cli(samba, &users, concurrency, dir.path());
        check_remediated(samba, &users);
        report(
            &format!(
                "remedy run --concurrency {concurrency} (read, guard, unlock, reset, enable; journal, fsync, secrets.csv, reports)"
            ),
            count,
            elapsed,
        );
        println!(
            "ad: remedy run took {:.2}x the baseline's time (goal: within 2x)",
            elapsed.as_secs_f64() / baseline.as_secs_f64()
        );
    }

    damage(samba, &users);
    if let Some(elapsed) = remedy_run(samba, &users) {
        check_remediated(samba, &users);
        report(
            "the provider alone, no journal (read, guard, unlock, reset, enable)",
            count,
            elapsed,
        );
    }
}

/// Users in flight in the timed `remedy run` (the best of 4, 8, 16 and 32
/// measured on two cores; `REMEDY_BENCH_AD_CONCURRENCY=4,8,16` sweeps).
const CONCURRENCY: usize = 16;

/// Times the real binary: `remedy run` of the unlock-reset-enable
/// playbook over `users`, the bind identity from the environment, as an
/// operator runs it.
fn remedy_cli(
    samba: &Samba,
    users: &[User],
    concurrency: usize,
    dir: &std::path::Path,
) -> Duration {
    let playbook = dir.join("bench.yaml");
    std::fs::write(
        &playbook,
        format!(
            "api_version: remedy/v1
name: bench-ad
target:
  provider: active_directory
  url: {}
  base_dn: {}
  domain: {}
steps:
  - {{ id: unlock, ensure: unlocked }}
  - id: reset
    action: reset_password
    with: {{ password: generate, force_change_at_next_sign_in: false }}
  - {{ id: enable, ensure: sign_in_allowed }}
",
            samba.ldaps_url(),
            samba.base_dn(),
            samba.dns_domain()
        ),
    )
    .expect("playbook");
    let csv = dir.join("users.csv");
    let mut text = String::from("userPrincipalName\n");
    for u in users {
        text.push_str(&u.upn);
        text.push('\n');
    }
    std::fs::write(&csv, text).expect("csv");
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("run")
        .arg(&playbook)
        .arg("--users")
        .arg(&csv)
        .args(["--yes", "--progress", "none", "--concurrency"])
        .arg(concurrency.to_string())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env("REMEDY_LDAP_BIND_DN", samba.admin_dn())
        .env("REMEDY_LDAP_PASSWORD_FILE", samba.admin_password_file())
        .env("REMEDY_CA_FILE", samba.ca_file())
        .env_remove("REMEDY_LDAP_PASSWORD")
        .output()
        .expect("remedy runs");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "remedy run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// The provider itself as the engine drives it, per user: read, the
/// privileged guard, unlock when locked, reset (a fresh complex password),
/// enable when disabled, with [`CONCURRENCY`] users in flight; without
/// what `remedy run` adds around it (the journal, `secrets.csv`, reports).
/// The gap to [`remedy_cli`] is what that record costs.
fn remedy_run(samba: &Samba, users: &[User]) -> Option<Duration> {
    use futures::StreamExt as _;
    use remedy::directory::Op;
    use remedy::ldap::{LdapConfig, LdapDirectory};
    use remedy::playbook::checked::LdapSpec;
    use remedy::playbook::model::FindBy;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()?;
    let spec = LdapSpec {
        url: samba.ldaps_url().to_owned(),
        base_dn: samba.base_dn().to_owned(),
        domain: Some(samba.dns_domain().to_owned()),
        find_by: FindBy::UserPrincipalName,
    };
    let (dn, file) = (
        samba.admin_dn().to_owned(),
        samba.admin_password_file().display().to_string(),
    );
    let config = LdapConfig::from_env(
        spec,
        move |k| match k {
            "REMEDY_LDAP_BIND_DN" => Some(dn.clone()),
            "REMEDY_LDAP_PASSWORD_FILE" => Some(file.clone()),
            _ => None,
        },
        Some(samba.ca_file().to_owned()),
        CONCURRENCY,
    )
    .expect("bench config");
    let passwords: Vec<String> = users.iter().map(|_| samba.fresh_password()).collect();
    let dir = rt
        .block_on(LdapDirectory::connect(config))
        .expect("bench connect");
    let started = Instant::now();
    rt.block_on(async {
        futures::stream::iter(users.iter().zip(&passwords))
            .map(|(user, password)| {
                let dir = &dir;
                async move {
                    let account = dir.read(&user.upn).await.expect("read");
                    let found = dir.privileges(&account.id).await.expect("privileges");
                    assert!(found.protection(&user.upn, true).is_none(), "{found:?}");
                    if account.locked == Some(true) {
                        dir.apply(&account.id, &Op::Unlock).await.expect("unlock");
                    }
                    let reset = Op::ResetPassword {
                        password: secrecy::SecretString::from(password.clone()),
                        force_change: false,
                        with_mfa: false,
                    };
                    dir.apply(&account.id, &reset).await.expect("reset");
                    if account.enabled == Some(false) {
                        dir.apply(&account.id, &Op::SetEnabled(true))
                            .await
                            .expect("enable");
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    });
    let elapsed = started.elapsed();
    println!(
        "ad: remedy's provider at concurrency {CONCURRENCY}: {:.0} operations/s measured",
        dir.pace()
    );
    Some(elapsed)
}

/// Locks out the first [`LOCKED`] users (real bad-password binds) and
/// disables the next [`DISABLED`] (one ldapmodify).
fn damage(samba: &Samba, users: &[User]) {
    // A locked user's bad-password count is reset by the unlock, so the
    // same users lock out again on the second round.
    for user in &users[..LOCKED] {
        samba.lock_out(user);
    }
    let mut ldif = String::new();
    for user in &users[LOCKED..LOCKED + DISABLED] {
        ldif.push_str(&format!(
            "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {}\n-\n\n",
            user.dn,
            UAC_NORMAL | UAC_DISABLED
        ));
    }
    samba.modify(&ldif);
}

/// Asserts (with two searches, not a read per user) that no bench user
/// is locked or disabled.
fn check_remediated(samba: &Samba, users: &[User]) {
    let locked = samba.search("(&(sAMAccountName=bench*)(lockoutTime>=1))", &["dn"]);
    let disabled = samba.search(
        "(&(sAMAccountName=bench*)(userAccountControl:1.2.840.113556.1.4.803:=2))",
        &["dn"],
    );
    assert!(
        locked.is_empty() && disabled.is_empty(),
        "after remediation of {} users: {} still locked, {} still disabled",
        users.len(),
        locked.len(),
        disabled.len()
    );
}

fn report(what: &str, users: usize, elapsed: Duration) {
    #[expect(clippy::cast_precision_loss, reason = "user counts")]
    let rate = users as f64 / elapsed.as_secs_f64();
    println!(
        "ad: {what}: {users} users in {:.1} s ({rate:.0} users/s)",
        elapsed.as_secs_f64()
    );
}
