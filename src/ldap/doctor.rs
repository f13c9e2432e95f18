//! `doctor` for an Active Directory target: whether the bind worked and
//! as whom, which domain answered, that one user can be read, and that
//! the bind identity may write what remedy writes.
//!
//! The rights come from the constructed `allowedAttributesEffective` of
//! that user: `lockoutTime`, `userAccountControl`, `pwdLastSet` and
//! `unicodePwd`. Samba lists `unicodePwd` there for an identity that may
//! set it; Active Directory grants a reset through the Reset Password
//! control access right, which that attribute list may not show, so a
//! missing `unicodePwd` is reported as "not shown" rather than as a
//! failure.

use ldap3::Scope;

use crate::ldap::LdapDirectory;
use crate::ldap::error::Call;
use crate::ldap::filter;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub what: String,
    pub detail: String,
}

impl Check {
    fn new(ok: bool, what: &str, detail: String) -> Self {
        Check {
            ok,
            what: what.to_owned(),
            detail,
        }
    }
}

/// The attributes remedy writes, and whether each must be listed.
const WRITES: &[(&str, bool)] = &[
    ("lockoutTime", true),
    ("userAccountControl", true),
    ("pwdLastSet", true),
    ("unicodePwd", false),
];

/// The checks, in order; each says what it found.
pub async fn run(dir: &LdapDirectory, sample_key: Option<&str>) -> Vec<Check> {
    let mut checks = Vec::new();
    let who = match dir.whoami().await {
        Ok(Some(id)) if !id.is_empty() => id,
        _ => dir.bind_dn().to_owned(),
    };
    checks.push(Check::new(
        true,
        "bind",
        format!("bound to {} as {who}", dir.target().endpoint),
    ));
    checks.push(Check::new(
        true,
        "domain",
        format!(
            "{} ({}, {})",
            dir.domain.dns, dir.domain.sid, dir.domain.head
        ),
    ));
    let account = match sample_key {
        Some(key) => dir.read(key).await,
        None => first_user(dir).await,
    };
    let account = match account {
        Ok(a) => {
            checks.push(Check::new(
                true,
                "read a user",
                format!(
                    "{} ({}): enabled {}, locked {}",
                    a.name.as_deref().unwrap_or("?"),
                    a.id,
                    a.enabled.map_or("unknown".into(), |b| b.to_string()),
                    a.locked.map_or("unknown".into(), |b| b.to_string())
                ),
            ));
            a
        }
        Err(e) => {
            checks.push(Check::new(false, "read a user", e.message));
            return checks;
        }
    };
    let dn = format!("<GUID={}>", account.id);
    let allowed = dir
        .search(
            &dn,
            Scope::Base,
            "(objectClass=*)",
            &["allowedAttributesEffective"],
            Call::Read,
        )
        .await;
    match allowed {
        Ok(entries) => {
            let list: Vec<String> = entries
                .first()
                .map(|e| {
                    e.values("allowedAttributesEffective")
                        .iter()
                        .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default();
            for (attr, required) in WRITES {
                let listed = list.iter().any(|a| a == &attr.to_ascii_lowercase());
                let detail = match (listed, required) {
                    (true, _) => "writable (allowedAttributesEffective)".to_owned(),
                    (false, true) => format!("the bind identity may not write {attr} on this user"),
                    (false, false) => "not shown in allowedAttributesEffective (Active Directory grants resets through the Reset Password right, which it may not list)".to_owned(),
                };
                checks.push(Check::new(
                    listed || !required,
                    &format!("write {attr}"),
                    detail,
                ));
            }
        }
        Err(e) => checks.push(Check::new(false, "rights", e.message)),
    }
    checks
}

async fn first_user(
    dir: &LdapDirectory,
) -> Result<crate::directory::Account, crate::directory::DirError> {
    let found = dir
        .search(
            &dir.spec().base_dn,
            Scope::Subtree,
            &filter::account("sAMAccountName", "*"),
            &["objectGUID"],
            Call::Read,
        )
        .await?;
    let id = found
        .iter()
        .find_map(|e| e.bytes("objectGUID").and_then(crate::ldap::ids::guid_text))
        .ok_or_else(|| {
            crate::ldap::error::refused(
                format!("no user account under {}", dir.spec().base_dn),
                None,
            )
        })?;
    dir.read(&id).await
}
