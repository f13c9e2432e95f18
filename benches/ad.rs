//! Active Directory baseline against a real Samba AD DC on 127.0.0.1 (the
//! test harness in tests/integration/samba.rs): 1,000 users created in
//! bulk, some locked out (real bad-password lockouts) and some disabled,
//! then the fastest plain-tool remediation: ONE `ldapmodify -f` over LDAPS
//! that, with no reads, unlocks, resets the password of and enables every
//! user. remedy's own run of the same users is timed in [`remedy_run`].
//! Run with `cargo bench --bench ad` (`REMEDY_BENCH_AD_USERS` changes the
//! count); without Samba installed it says so and measures nothing.

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

    damage(samba, &users);
    match remedy_run(samba, &users) {
        Some(elapsed) => {
            check_remediated(samba, &users);
            report(
                "remedy provider (read, guard, unlock, reset, enable)",
                count,
                elapsed,
            );
            println!(
                "ad: remedy took {:.2}x the baseline's time",
                elapsed.as_secs_f64() / baseline.as_secs_f64()
            );
        }
        None => println!("ad: remedy run: not measured yet (see remedy_run in benches/ad.rs)"),
    }
}

// ---------------------------------------------------------------------------
// PROVIDER: time remedy's run of the same users here.
//
// On entry the users are in the state the baseline started from: the first
// LOCKED users locked out, the next DISABLED disabled, all with the password
// the baseline left (unknown here: remedy resets it). Run remedy over all of
// `users` (a CSV of `user.upn` or `user.sam`; target `samba.ldaps_url()`,
// `samba.base_dn()`, bind as `samba.admin_dn()` with
// `samba.admin_password_file()`, `--ca-file samba.ca_file()`), with a
// playbook that unlocks, resets the password and enables, and return the
// wall time of that run only (not the setup). `main` then checks every user
// is unlocked and enabled, as it does for the baseline.
// ---------------------------------------------------------------------------
//
// Until the provider is wired into `remedy run`, this times the provider
// itself as the engine drives it, per user: read, the privileged guard,
// unlock when locked, reset (a fresh complex password), enable when
// disabled, with CONCURRENCY users in flight. It leaves out what the CLI
// adds around it (the journal, secrets.csv, reports).
fn remedy_run(samba: &Samba, users: &[User]) -> Option<Duration> {
    use futures::StreamExt as _;
    use remedy::directory::Op;
    use remedy::ldap::{LdapConfig, LdapDirectory};
    use remedy::playbook::checked::LdapSpec;
    use remedy::playbook::model::FindBy;

    const CONCURRENCY: usize = 8;
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
