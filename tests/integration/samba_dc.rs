//! The Samba AD DC harness's own tests: users it creates exist and bind;
//! a lockout is the domain's real one (bind refused with `data 775`, the
//! computed lockout bit set) and `lockoutTime: 0` clears it; the password
//! policy refuses a weak password; disabling and group membership (also
//! nested) are real; the LDAPS and StartTLS certificates verify with
//! rustls against the test CA only; a plain user may not unlock another;
//! the ldapmodify baseline unlocks, enables and resets. Each test returns
//! early when Samba is not installed (outside CI).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore};

use crate::samba::{Samba, UAC_DISABLED, UAC_NORMAL, User};

fn dc() -> Option<&'static Samba> {
    Samba::shared()
}

#[test]
fn the_dc_is_shared_and_describes_its_domain() {
    let Some(samba) = dc() else { return };
    assert!(std::ptr::eq(samba, Samba::shared().unwrap()));
    assert_eq!(samba.ldaps_url(), "ldaps://127.0.0.1:636");
    assert_eq!(samba.starttls_url(), "ldap://127.0.0.1:389");
    let head = samba
        .read_entry(samba.base_dn(), &["objectSid", "msDS-Behavior-Version"])
        .expect("the domain head exists");
    assert_eq!(head.dn, "DC=example,DC=test");
    assert!(
        samba.domain_sid().starts_with("S-1-5-21-"),
        "{}",
        samba.domain_sid()
    );
    // objectSid is binary: revision 1, 4 sub-authorities, authority 5.
    let sid = head.values("objectSid")[0];
    assert_eq!(&sid[..2], &[1, 4]);
    let admin = samba
        .read_entry(samba.admin_dn(), &["sAMAccountName"])
        .expect("the Administrator exists");
    assert_eq!(
        admin.text("sAMAccountName").as_deref(),
        Some("Administrator")
    );
    assert!(samba.can_bind(samba.admin_upn(), samba.admin_password()));
}

#[test]
fn created_users_exist_are_enabled_and_bind_by_upn_and_dn() {
    let Some(samba) = dc() else { return };
    let user = samba.create_user("bind");
    let found = samba.search(
        &format!("(sAMAccountName={})", user.sam),
        &["userPrincipalName", "userAccountControl"],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].dn, user.dn);
    assert_eq!(
        found[0].text("userPrincipalName").as_deref(),
        Some(user.upn.as_str())
    );
    assert_eq!(samba.user_account_control(&user), UAC_NORMAL);
    assert!(samba.pwd_last_set(&user) > 0);
    assert!(!samba.is_locked(&user));
    assert_eq!(samba.lockout_time(&user), 0);
    assert!(samba.can_bind(&user.upn, &user.password));
    assert!(samba.can_bind(&user.dn, &user.password));
    assert_eq!(
        samba.try_bind(&user.upn, "Not-The-Password-1"),
        Err("52e".to_owned())
    );
    assert_eq!(samba.bad_pwd_count(&user), 1);
}

#[test]
fn bulk_users_are_unique_across_threads_and_all_bind() {
    let Some(samba) = dc() else { return };
    let batches: Vec<Vec<User>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| samba.create_users("bulk", 5)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let users: Vec<&User> = batches.iter().flatten().collect();
    let names: BTreeSet<&str> = users.iter().map(|u| u.sam.as_str()).collect();
    assert_eq!(names.len(), 20);
    let passwords: BTreeSet<&str> = users.iter().map(|u| u.password.as_str()).collect();
    assert_eq!(passwords.len(), 20);
    for user in [users[0], users[7], users[19]] {
        assert!(samba.can_bind(&user.upn, &user.password), "{user:?}");
    }
    let found = samba.search("(sAMAccountName=bulk*)", &["sAMAccountName"]);
    let found: BTreeSet<String> = found
        .iter()
        .filter_map(|e| e.text("sAMAccountName"))
        .collect();
    for name in &names {
        assert!(found.contains(*name), "{name} not found");
    }
}

#[test]
fn a_lockout_is_real_and_lockout_time_zero_clears_it() {
    let Some(samba) = dc() else { return };
    let user = samba.create_user("locked");
    samba.lock_out(&user);
    assert!(samba.is_locked(&user));
    assert!(samba.lockout_time(&user) > 0);
    // userAccountControl does not show a lockout; the computed attribute does.
    assert_eq!(samba.user_account_control(&user), UAC_NORMAL);
    assert_eq!(
        samba.try_bind(&user.upn, &user.password),
        Err("775".to_owned()),
        "the right password is refused while locked"
    );
    samba.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n-\n",
        user.dn
    ));
    assert!(!samba.is_locked(&user));
    assert_eq!(samba.lockout_time(&user), 0);
    assert!(samba.can_bind(&user.upn, &user.password));
}

#[test]
fn the_password_policy_refuses_a_weak_password_and_keeps_the_old_one() {
    let Some(samba) = dc() else { return };
    let user = samba.create_user("policy");
    let before = samba.pwd_last_set(&user);
    let err = samba
        .try_modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
            user.dn,
            crate::samba::unicode_pwd("short")
        ))
        .expect_err("a 5-character password is refused");
    assert!(err.contains("0000052D"), "{err}");
    assert!(err.contains("Constraint violation"), "{err}");
    assert_eq!(samba.pwd_last_set(&user), before);
    assert!(samba.can_bind(&user.upn, &user.password));
}

#[test]
fn disabling_refuses_binds_keeps_other_bits_and_enabling_restores() {
    let Some(samba) = dc() else { return };
    let user = samba.create_user("disabled");
    samba.set_disabled(&user, true);
    assert_eq!(samba.user_account_control(&user), UAC_NORMAL | UAC_DISABLED);
    assert_eq!(
        samba.try_bind(&user.upn, &user.password),
        Err("533".to_owned())
    );
    samba.set_disabled(&user, false);
    assert_eq!(samba.user_account_control(&user), UAC_NORMAL);
    assert!(samba.can_bind(&user.upn, &user.password));
}

#[test]
fn direct_and_nested_group_membership_is_real() {
    let Some(samba) = dc() else { return };
    let direct = samba.create_user("da");
    let nested = samba.create_user("nested");
    let plain = samba.create_user("plain");
    samba.add_to_group(&direct, "Domain Admins");
    let group = samba.create_group("grp");
    samba.add_member("Domain Admins", &group);
    samba.add_member(&group, &nested.dn);
    let admins = samba.group_dn("Domain Admins");
    let transitive = |user: &User| {
        samba
            .search(
                &format!("(member:1.2.840.113556.1.4.1941:={})", user.dn),
                &["cn"],
            )
            .into_iter()
            .map(|e| e.dn)
            .collect::<Vec<_>>()
    };
    assert!(transitive(&direct).contains(&admins));
    let via = transitive(&nested);
    assert!(via.contains(&admins), "{via:?}");
    assert!(via.contains(&group), "{via:?}");
    assert!(!transitive(&plain).contains(&admins));
    let member_of = samba
        .read_entry(&direct.dn, &["memberOf"])
        .unwrap()
        .texts("memberOf");
    assert!(member_of.contains(&admins), "{member_of:?}");
}

#[test]
fn the_ldapmodify_baseline_unlocks_enables_and_resets() {
    let Some(samba) = dc() else { return };
    let users = samba.create_users("batch", 3);
    samba.lock_out(&users[0]);
    samba.set_disabled(&users[1], true);
    let before: Vec<i64> = users.iter().map(|u| samba.pwd_last_set(u)).collect();
    let elapsed = samba.ldapmodify_batch(&users);
    assert!(elapsed > Duration::ZERO);
    for (user, before) in users.iter().zip(before) {
        assert!(!samba.is_locked(user), "{user:?}");
        assert_eq!(samba.user_account_control(user), UAC_NORMAL, "{user:?}");
        assert!(samba.pwd_last_set(user) > before, "{user:?}");
        assert_eq!(
            samba.try_bind(&user.upn, &user.password),
            Err("52e".to_owned()),
            "the old password of {user:?} no longer binds"
        );
    }
}

#[test]
fn ldaps_presents_a_certificate_rustls_accepts_for_127_0_0_1_only_from_the_test_ca() {
    let Some(samba) = dc() else { return };
    let ca = samba.ca_der().to_vec();
    rustls_handshake(&connect(636), &ca, "127.0.0.1").expect("rustls trusts the LDAPS cert");
    rustls_handshake(&connect(636), &ca, "localhost").expect("the cert names localhost");
    let wrong_name = rustls_handshake(&connect(636), &ca, "dc2.example.test");
    assert!(wrong_name.is_err(), "a name not in the cert is refused");
    let other_ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let untrusted = rustls_handshake(&connect(636), other_ca.der(), "127.0.0.1");
    let err = untrusted.expect_err("another CA does not verify the cert");
    assert!(err.contains("certificate"), "{err}");
    // ldap-utils (GnuTLS) with certificate checks on agrees.
    assert!(samba.can_bind(samba.admin_dn(), samba.admin_password()));
}

#[test]
fn starttls_on_389_presents_the_same_verifiable_certificate() {
    let Some(samba) = dc() else { return };
    let mut socket = connect(389);
    // LDAPMessage { messageID 1, extendedReq { requestName "1.3.6.1.4.1.1466.20037" } }
    let oid = b"1.3.6.1.4.1.1466.20037";
    let mut request = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    request.extend_from_slice(oid);
    socket.write_all(&request).unwrap();
    let response = read_ldap_message(&mut socket);
    assert_eq!(starttls_result(&response), Some(0), "{response:02x?}");
    rustls_handshake(&socket, samba.ca_der(), "127.0.0.1").expect("StartTLS cert verifies");
}

/// The resultCode of an ExtendedResponse (`[APPLICATION 24]`).
fn starttls_result(message: &[u8]) -> Option<u8> {
    let at = message.iter().position(|b| *b == 0x78)?;
    let rest = message.get(at + 2..)?;
    (rest.first() == Some(&0x0a) && rest.get(1) == Some(&0x01)).then(|| rest[2])
}

/// One BER-framed message (short-form or 1-byte long-form length).
fn read_ldap_message(socket: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 2];
    socket.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x30, "an LDAPMessage is a SEQUENCE");
    let len = if head[1] & 0x80 == 0 {
        usize::from(head[1])
    } else {
        assert_eq!(head[1], 0x81, "length form");
        let mut one = [0u8; 1];
        socket.read_exact(&mut one).unwrap();
        usize::from(one[0])
    };
    let mut body = vec![0u8; len];
    socket.read_exact(&mut body).unwrap();
    body
}

fn connect(port: u16) -> TcpStream {
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    socket
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    socket
}

/// A TLS handshake with rustls (aws-lc-rs, as remedy builds it) trusting
/// only `ca_der`, for server name `name`.
fn rustls_handshake(socket: &TcpStream, ca_der: &[u8], name: &str) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut socket = socket;
    while conn.is_handshaking() {
        conn.complete_io(&mut socket).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn a_plain_user_may_not_unlock_another() {
    let Some(samba) = dc() else { return };
    let operator = samba.create_bind_user("operator");
    let victim = samba.create_user("victim");
    samba.lock_out(&victim);
    let unlock = format!(
        "dn: {}\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n-\n",
        victim.dn
    );
    let err = samba
        .try_modify_as(&operator.upn, &operator.password, &unlock)
        .expect_err("a plain user cannot unlock another");
    assert!(err.contains("Insufficient access (50)"), "{err}");
    assert!(!err.contains(&operator.password), "{err}");
    assert!(samba.is_locked(&victim));
    // The same change as Administrator works.
    samba.try_modify(&unlock).expect("Administrator unlocks");
    assert!(!samba.is_locked(&victim));
}
