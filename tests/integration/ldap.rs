//! The Active Directory provider (`remedy::ldap`) against a real Samba AD
//! DC: finding accounts by user principal name, sAMAccountName and
//! objectGUID; unlocking a really locked account; resets with and without
//! a forced change (the evidence moves every time, also from pwdLastSet 0
//! to 0); a password policy refusal; enable/disable keeping the other
//! bits; protected accounts and groups (also nested); recovery from
//! dropped connections through a loopback proxy; no password in any
//! error or `Debug` text. Each test returns early when Samba is not
//! installed (outside CI).

use std::sync::atomic::Ordering;
use std::time::Instant;

use remedy::directory::{Cause, ErrorKind, Op};
use remedy::ldap::{LdapConfig, LdapDirectory, LdapError};
use remedy::playbook::checked::LdapSpec;
use remedy::playbook::model::FindBy;
use secrecy::SecretString;
use tokio::runtime::Runtime;

use crate::proxy::Proxy;
use crate::samba::{Samba, UAC_DISABLED};

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn spec(s: &Samba, url: &str, find_by: FindBy) -> LdapSpec {
    LdapSpec {
        url: url.to_owned(),
        base_dn: s.base_dn().to_owned(),
        domain: Some(s.dns_domain().to_owned()),
        find_by,
    }
}

fn config_with(s: &Samba, spec: LdapSpec, password: &str, concurrency: usize) -> LdapConfig {
    let (dn, pw) = (s.admin_dn().to_owned(), password.to_owned());
    LdapConfig::from_env(
        spec,
        move |k| match k {
            "REMEDY_LDAP_BIND_DN" => Some(dn.clone()),
            "REMEDY_LDAP_PASSWORD" => Some(pw.clone()),
            _ => None,
        },
        Some(s.ca_file().to_owned()),
        concurrency,
    )
    .unwrap()
}

fn connect(rt: &Runtime, s: &Samba, find_by: FindBy) -> LdapDirectory {
    let c = config_with(s, spec(s, s.ldaps_url(), find_by), s.admin_password(), 4);
    rt.block_on(LdapDirectory::connect(c))
        .unwrap_or_else(|e| panic!("connect: {e} ({})", e.hint()))
}

fn reset(password: &str, force_change: bool) -> Op {
    Op::ResetPassword {
        password: SecretString::from(password.to_owned()),
        force_change,
        with_mfa: false,
    }
}

#[test]
fn accounts_are_found_by_upn_sam_account_name_and_guid() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let u = s.create_user("ldfind");
    let by_upn = connect(&rt, s, FindBy::UserPrincipalName);
    let a = rt.block_on(by_upn.read(&u.upn)).unwrap();
    assert_eq!(a.name.as_deref(), Some(u.upn.as_str()));
    assert_eq!(
        (a.enabled, a.locked, a.synced),
        (Some(true), Some(false), false)
    );
    assert!(
        a.password_changed.as_deref().unwrap().starts_with('v'),
        "{a:?}"
    );
    // The id is the objectGUID as Windows writes it.
    let entry = s.read_entry(&u.dn, &["objectGUID"]).unwrap();
    let guid = remedy::ldap::guid_text(entry.values("objectGUID")[0]).unwrap();
    assert_eq!(a.id, guid);
    // The engine reads again by the id it got.
    assert_eq!(rt.block_on(by_upn.read(&a.id)).unwrap(), a);
    assert_eq!(
        rt.block_on(by_upn.read(&a.id.to_uppercase())).unwrap().id,
        a.id
    );

    let by_sam = connect(&rt, s, FindBy::SamAccountName);
    assert_eq!(rt.block_on(by_sam.read(&u.sam)).unwrap().id, a.id);
    let by_guid = connect(&rt, s, FindBy::ObjectGuid);
    assert_eq!(rt.block_on(by_guid.read(&a.id)).unwrap().id, a.id);
    let e = rt.block_on(by_guid.read(&u.upn)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains("not a GUID"), "{}", e.message);

    // Not found, and filter metacharacters are values, not syntax.
    for key in ["nobody@example.test", "*", "*)(objectClass=*", "a\\2a"] {
        let e = rt.block_on(by_upn.read(key)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{key}: {}", e.message);
        assert!(
            e.message.contains("no account with userPrincipalName"),
            "{}",
            e.message
        );
        assert!(e.message.contains(s.base_dn()), "{}", e.message);
    }
    let e = rt.block_on(by_sam.read("*")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert_eq!(by_upn.target().provider.as_str(), "active_directory");
    assert_eq!(by_upn.target().realm.as_deref(), Some("example.test"));
    assert_eq!(by_upn.target().principal.as_deref(), Some(s.admin_dn()));
}

#[test]
fn a_locked_out_account_is_unlocked_and_can_sign_in_again() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::UserPrincipalName);
    let u = s.create_user("ldlock");
    s.lock_out(&u);
    assert!(!s.can_bind(&u.upn, &u.password), "locked out");
    let a = rt.block_on(dir.read(&u.upn)).unwrap();
    assert_eq!(a.locked, Some(true));
    rt.block_on(dir.apply(&a.id, &Op::Unlock)).unwrap();
    assert!(!s.is_locked(&u));
    assert_eq!(s.lockout_time(&u), 0);
    assert_eq!(rt.block_on(dir.read(&a.id)).unwrap().locked, Some(false));
    assert!(s.can_bind(&u.upn, &u.password));
}

#[test]
fn resets_move_the_evidence_with_and_without_a_forced_change() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::UserPrincipalName);
    let u = s.create_user("ldreset");
    let a = rt.block_on(dir.read(&u.upn)).unwrap();
    let mut seen = vec![a.password_changed.clone().unwrap()];

    let p1 = s.fresh_password();
    rt.block_on(dir.apply(&a.id, &reset(&p1, false))).unwrap();
    assert_ne!(s.pwd_last_set(&u), 0);
    assert!(s.can_bind(&u.upn, &p1));
    assert!(!s.can_bind(&u.upn, &u.password));
    seen.push(
        rt.block_on(dir.read(&a.id))
            .unwrap()
            .password_changed
            .unwrap(),
    );

    // Forced change: pwdLastSet 0, in the same modify.
    for _ in 0..2 {
        let p = s.fresh_password();
        rt.block_on(dir.apply(&a.id, &reset(&p, true))).unwrap();
        assert_eq!(s.pwd_last_set(&u), 0);
        // The password is set: the DC says it must be changed (773), not
        // that it is wrong (52e).
        assert_eq!(s.try_bind(&u.upn, &p), Err("773".to_owned()));
        seen.push(
            rt.block_on(dir.read(&a.id))
                .unwrap()
                .password_changed
                .unwrap(),
        );
    }
    // Every reset moved it, also the one from pwdLastSet 0 to 0.
    for w in seen.windows(2) {
        assert_ne!(w[0], w[1], "{seen:?}");
    }
}

#[test]
fn a_password_the_policy_refuses_is_refused_with_the_servers_text() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::UserPrincipalName);
    let u = s.create_user("ldpolicy");
    let a = rt.block_on(dir.read(&u.upn)).unwrap();
    let before = (s.pwd_last_set(&u), a.password_changed.clone());
    let weak = "Ab1zq"; // too short for the default policy
    let e = rt
        .block_on(dir.apply(&a.id, &reset(weak, true)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(!e.fate_unknown());
    assert!(
        e.code
            .as_deref()
            .unwrap()
            .starts_with("constraintViolation 0000052D"),
        "{e:?}"
    );
    assert!(e.message.contains("too short"), "{}", e.message);
    assert!(e.hint.as_deref().unwrap().contains("password policy"));
    for text in [e.message.clone(), format!("{e:?}"), e.hint.clone().unwrap()] {
        assert!(!text.contains(weak), "{text}");
    }
    // Nothing changed: neither pwdLastSet (the forced change was in the
    // same modify) nor the password.
    let after = rt.block_on(dir.read(&a.id)).unwrap();
    assert_eq!((s.pwd_last_set(&u), after.password_changed), before);
    assert!(s.can_bind(&u.upn, &u.password));
}

#[test]
fn enabling_and_disabling_keep_the_other_bits() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::SamAccountName);
    let u = s.create_user("lduac");
    // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD.
    s.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {}\n-\n\n",
        u.dn,
        0x200 | 0x1_0000
    ));
    let a = rt.block_on(dir.read(&u.sam)).unwrap();
    assert_eq!(a.enabled, Some(true));
    rt.block_on(dir.apply(&a.id, &Op::SetEnabled(false)))
        .unwrap();
    assert_eq!(s.user_account_control(&u), 0x200 | 0x1_0000 | UAC_DISABLED);
    assert_eq!(rt.block_on(dir.read(&a.id)).unwrap().enabled, Some(false));
    assert!(!s.can_bind(&u.upn, &u.password));
    // Already disabled: nothing to write, still fine.
    rt.block_on(dir.apply(&a.id, &Op::SetEnabled(false)))
        .unwrap();
    rt.block_on(dir.apply(&a.id, &Op::SetEnabled(true)))
        .unwrap();
    assert_eq!(s.user_account_control(&u), 0x200 | 0x1_0000);
    assert!(s.can_bind(&u.upn, &u.password));
    let e = rt
        .block_on(dir.apply(&a.id, &Op::RevokeSessions))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.hint.is_some());
}

fn causes(rt: &Runtime, dir: &LdapDirectory, key: &str) -> (Vec<Cause>, Option<String>) {
    let a = rt.block_on(dir.read(key)).unwrap();
    let p = rt.block_on(dir.privileges(&a.id)).unwrap();
    assert!(p.unknown.is_empty(), "{p:?}");
    let reason = p.protection(key, true);
    (p.causes, reason)
}

#[test]
fn domain_admins_nested_members_and_builtin_accounts_are_privileged() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::SamAccountName);
    let plain = s.create_user("ldplain");
    let admin = s.create_user("ldda");
    s.add_to_group(&admin, "Domain Admins");
    let nested = s.create_user("ldnest");
    let outer = s.create_group("ldgrpo");
    let inner = s.create_group("ldgrpi");
    // Account Operators is in CN=Builtin.
    s.add_member(
        &format!("CN=Account Operators,CN=Builtin,{}", s.base_dn()),
        &outer,
    );
    s.add_member(&outer, &inner);
    s.add_member(&inner, &nested.dn);

    let (c, reason) = causes(&rt, &dir, &plain.sam);
    assert!(c.is_empty() && reason.is_none(), "{c:?}");

    let (c, reason) = causes(&rt, &dir, &admin.sam);
    let sid = format!("{}-512", s.domain_sid());
    assert!(
        c.iter()
            .any(|c| matches!(c, Cause::ProtectedGroup { group } if group.contains(&sid))),
        "{c:?}"
    );
    assert!(reason.unwrap().contains("Domain Admins"));

    let (c, reason) = causes(&rt, &dir, &nested.sam);
    assert!(
        c.iter().any(
            |c| matches!(c, Cause::ProtectedGroup { group } if group.contains("S-1-5-32-548"))
        ),
        "{c:?}"
    );
    assert!(reason.unwrap().contains("Account Operators"));
    // Found by the member search and in tokenGroups: shown once.
    let shown = c
        .iter()
        .filter(|c| matches!(c, Cause::ProtectedGroup { group } if group.contains("S-1-5-32-548")))
        .count();
    assert_eq!(shown, 1, "{c:?}");

    let (c, _) = causes(&rt, &dir, "Administrator");
    assert!(
        c.iter()
            .any(|c| matches!(c, Cause::BuiltInAccount { name } if name.contains("500"))),
        "{c:?}"
    );
    assert!(c.iter().any(|c| matches!(c, Cause::AdminCount)), "{c:?}");
    let (c, _) = causes(&rt, &dir, "krbtgt");
    assert!(
        c.iter()
            .any(|c| matches!(c, Cause::BuiltInAccount { name } if name.contains("502"))),
        "{c:?}"
    );

    // An id that names nothing cannot be ruled out.
    let p = rt
        .block_on(dir.privileges("00000000-0000-4000-8000-000000000001"))
        .unwrap();
    assert!(p.protection("x", true).is_some(), "{p:?}");
}

#[test]
fn reads_succeed_again_after_every_connection_was_cut() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let u = s.create_user("ldproxy");
    let proxy = rt.block_on(Proxy::start("127.0.0.1:636".parse().unwrap()));
    let url = format!("ldaps://127.0.0.1:{}", proxy.addr.port());
    let c = config_with(
        s,
        spec(s, &url, FindBy::UserPrincipalName),
        s.admin_password(),
        2,
    );
    let dir = rt.block_on(LdapDirectory::connect(c)).unwrap();
    let a = rt.block_on(dir.read(&u.upn)).unwrap();
    // Both connections of the pool in use.
    rt.block_on(async {
        let (x, y) = tokio::join!(dir.read(&a.id), dir.read(&a.id));
        x.unwrap();
        y.unwrap();
    });
    let before = proxy.accepted.load(Ordering::SeqCst);
    assert_eq!(before, 2);
    proxy.cut_all();
    // A call that meets a dead connection fails with a connection error
    // (a write's fate would be unknown); the next ones reconnect.
    let mut failures = 0;
    let mut ok = 0;
    for _ in 0..6 {
        match rt.block_on(dir.read(&a.id)) {
            Ok(b) => {
                assert_eq!(b.id, a.id);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
                assert!(e.is_retryable());
                failures += 1;
            }
        }
    }
    assert!(failures <= 2, "{failures} failures");
    assert!(ok >= 4, "{ok}");
    assert!(proxy.accepted.load(Ordering::SeqCst) > before);
    assert!(dir.reconnects() >= 1);
    // A write in doubt is flagged.
    proxy.cut_all();
    let mut flagged = 0;
    for _ in 0..3 {
        if let Err(e) = rt.block_on(dir.apply(&a.id, &Op::Unlock)) {
            assert!(e.fate_unknown(), "{e:?}");
            flagged += 1;
        }
    }
    assert!(flagged <= 2);
}

#[test]
fn starttls_the_domain_pin_and_a_wrong_password() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let mut sp = spec(s, s.starttls_url(), FindBy::SamAccountName);
    sp.domain = Some(s.domain_sid().to_owned());
    let dir = rt
        .block_on(LdapDirectory::connect(config_with(
            s,
            sp.clone(),
            s.admin_password(),
            1,
        )))
        .unwrap();
    rt.block_on(dir.read("Administrator")).unwrap();

    sp.domain = Some("other.test".into());
    let e = rt
        .block_on(LdapDirectory::connect(config_with(
            s,
            sp.clone(),
            s.admin_password(),
            1,
        )))
        .err()
        .unwrap();
    assert!(matches!(e, LdapError::DomainPin { .. }), "{e}");
    assert!(e.to_string().contains("example.test"), "{e}");

    sp.domain = None;
    let wrong = "Wr0ng-Passw0rd!";
    let config = config_with(s, sp, wrong, 1);
    assert!(!format!("{config:?}").contains(wrong));
    let e = rt.block_on(LdapDirectory::connect(config)).err().unwrap();
    assert!(matches!(e, LdapError::Bind { .. }), "{e}");
    assert!(e.to_string().contains("invalidCredentials"), "{e}");
    for text in [e.to_string(), format!("{e:?}"), e.hint()] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(s.admin_password()), "{text}");
    }
}

#[test]
fn doctor_reports_the_bind_the_domain_a_user_and_the_rights() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::SamAccountName);
    let u = s.create_user("lddoc");
    let checks = rt.block_on(dir.doctor(Some(&u.sam)));
    for c in &checks {
        assert!(c.ok, "{c:?}");
    }
    let whats: Vec<&str> = checks.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "bind",
            "domain",
            "read a user",
            "write lockoutTime",
            "write userAccountControl",
            "write pwdLastSet",
            "write unicodePwd"
        ]
    );
    assert!(checks[1].detail.contains(s.domain_sid()), "{checks:?}");
    let first = rt.block_on(dir.doctor(None));
    assert!(first[2].ok, "{first:?}");
}

#[test]
fn figures_reads_and_resets_per_second() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let users = s.create_users("ldfig", 60);
    let dir = connect(&rt, s, FindBy::UserPrincipalName);
    let passwords: Vec<String> = users.iter().map(|_| s.fresh_password()).collect();
    let (reads, ids) = rt.block_on(async {
        let started = Instant::now();
        let accounts = futures::future::join_all(users.iter().map(|u| dir.read(&u.upn))).await;
        let took = started.elapsed();
        let ids: Vec<String> = accounts.into_iter().map(|a| a.unwrap().id).collect();
        (took, ids)
    });
    let dir = &dir;
    let resets = rt.block_on(async {
        let started = Instant::now();
        let done = futures::future::join_all(
            ids.iter()
                .zip(&passwords)
                .map(|(id, p)| async move { dir.apply(id, &reset(p, false)).await }),
        )
        .await;
        for d in done {
            d.unwrap();
        }
        started.elapsed()
    });
    assert!(dir.pace() >= 0.0);
    assert_eq!(dir.users_in_flight(), 4);
    eprintln!(
        "ldap figures (Samba, concurrency 4, {} users): {:.0} reads/s, {:.0} resets/s",
        users.len(),
        users.len() as f64 / reads.as_secs_f64(),
        users.len() as f64 / resets.as_secs_f64()
    );
    assert!(s.can_bind(&users[0].upn, &passwords[0]));
}

#[test]
fn a_member_of_more_groups_than_a_page_is_read_in_full() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let dir = connect(&rt, s, FindBy::SamAccountName);
    let u = s.create_user("ldpages");
    // More groups than one page (500) of the paged search; the protected
    // one is created last.
    let mut ldif = String::new();
    let names: Vec<String> = (0..620).map(|i| format!("{}-g{i}", u.sam)).collect();
    for n in &names {
        ldif.push_str(&format!(
            "dn: CN={n},CN=Users,{base}\nchangetype: add\nobjectClass: group\nsAMAccountName: {n}\nmember: {dn}\n\n",
            base = s.base_dn(),
            dn = u.dn
        ));
    }
    s.modify(&ldif);
    let last = format!("CN={},CN=Users,{}", names[names.len() - 1], s.base_dn());
    s.add_member(
        &format!("CN=Backup Operators,CN=Builtin,{}", s.base_dn()),
        &last,
    );
    let (c, _) = causes(&rt, &dir, &u.sam);
    assert!(
        c.iter().any(
            |c| matches!(c, Cause::ProtectedGroup { group } if group.contains("S-1-5-32-551"))
        ),
        "{c:?}"
    );
}

#[test]
fn a_bind_identity_without_rights_is_refused_with_the_right_it_lacks() {
    let Some(s) = Samba::shared() else { return };
    let rt = rt();
    let helper = s.create_bind_user("ldweak");
    let victim = s.create_user("ldvictim");
    s.lock_out(&victim);
    let (dn, pw) = (helper.dn.clone(), helper.password.clone());
    let config = LdapConfig::from_env(
        spec(s, s.ldaps_url(), FindBy::UserPrincipalName),
        move |k| match k {
            "REMEDY_LDAP_BIND_DN" => Some(dn.clone()),
            "REMEDY_LDAP_PASSWORD" => Some(pw.clone()),
            _ => None,
        },
        Some(s.ca_file().to_owned()),
        2,
    )
    .unwrap();
    let dir = rt.block_on(LdapDirectory::connect(config)).unwrap();
    let a = rt.block_on(dir.read(&victim.upn)).unwrap();
    assert_eq!(a.locked, Some(true));
    let e = rt.block_on(dir.apply(&a.id, &Op::Unlock)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(
        e.code
            .as_deref()
            .unwrap()
            .starts_with("insufficientAccessRights"),
        "{e:?}"
    );
    assert!(
        e.hint.as_deref().unwrap().contains("Write lockoutTime"),
        "{e:?}"
    );
    let p = s.fresh_password();
    let e = rt
        .block_on(dir.apply(&a.id, &reset(&p, false)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
    assert!(!format!("{e:?}").contains(&p));
    assert!(s.is_locked(&victim));
    assert!(!s.can_bind(&victim.upn, &p));
    // doctor says which writes the identity lacks.
    let checks = rt.block_on(dir.doctor(Some(&victim.upn)));
    let lockout = checks
        .iter()
        .find(|c| c.what == "write lockoutTime")
        .unwrap();
    assert!(!lockout.ok, "{checks:?}");
    assert!(checks[0].detail.contains(&helper.dn), "{checks:?}");
}
