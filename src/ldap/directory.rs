//! [`LdapDirectory`]: Active Directory behind the directory seam. Finds
//! accounts under the playbook's `base_dn`, reads them into the neutral
//! [`Account`], performs operations on them, and finds what makes them
//! privileged ([`crate::ldap::privileges`]).
//!
//! Writes address the account by its extended DN `<GUID=…>` (Active
//! Directory and Samba both accept it), so a rename or move between the
//! read and the write cannot redirect it:
//!
//! - unlock: replace `lockoutTime` with `0`;
//! - reset: one modify replacing `unicodePwd` (UTF-16LE of the quoted
//!   password) and, when the user must change it at next sign-in,
//!   `pwdLastSet` with `0` (Samba 4.17 accepts both in one modify);
//! - enable/disable: read `userAccountControl`, flip only the disable bit,
//!   and write it as "delete the old value, add the new" so that a
//!   concurrent change makes Active Directory refuse the write
//!   (`noSuchAttribute`); remedy then reads again and retries once. Samba
//!   applies such a modify as a replace.
//!
//! `locked` is the LOCKOUT bit of the constructed
//! `msDS-User-Account-Control-Computed`, requested by name (a base-scope
//! read fetches it when a subtree search does not return it).

use std::collections::HashSet;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Mod, Scope};
use secrecy::ExposeSecret as _;

use crate::directory::{Account, DirError, ErrorKind, Op, Privileges, Property, Target, Traffic};
use crate::graph::redact::Redactor;
use crate::ldap::entry::Entry;
use crate::ldap::error::{Call, dir_error, from_result, refused};
use crate::ldap::ids::{Sid, guid_bytes, guid_text};
use crate::ldap::pool::{Connector, Pool};
use crate::ldap::values::{self, UAC_LOCKED};
use crate::ldap::{LdapConfig, LdapError, filter, privileges, tls};
use crate::playbook::checked::LdapSpec;
use crate::playbook::model::FindBy;

/// What remedy reads of an account.
const ACCOUNT_ATTRS: &[&str] = &[
    "objectGUID",
    "userPrincipalName",
    "sAMAccountName",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "pwdLastSet",
    "replPropertyMetaData",
];

/// The hint when sessions would be revoked on Active Directory.
pub const NO_REVOKE_HINT: &str = "Active Directory has no sign-in sessions to revoke over LDAP: Kerberos tickets already issued stay valid until they expire (10 hours by default); run `action: revoke_sessions` against the Microsoft Entra ID target of a hybrid playbook for the cloud sessions";

/// The domain a connection serves.
#[derive(Debug, Clone)]
pub struct Domain {
    /// The domain head's DN (`DC=corp,DC=example`).
    pub head: String,
    /// Its DNS name, lower-case.
    pub dns: String,
    pub sid: Sid,
}

/// Active Directory as a [`crate::directory::Directory`].
pub struct LdapDirectory {
    pool: Pool,
    spec: LdapSpec,
    pub(crate) domain: Domain,
    target: Target,
    concurrency: usize,
    bind_dn: String,
}

impl LdapDirectory {
    /// Opens the pool (TLS, bind) and reads the domain head (`base_dn`'s
    /// `DC=` suffix, else the rootDSE's `defaultNamingContext`): its DNS
    /// name (from its `DC=` labels) and `objectSid`; then checks the
    /// playbook's `domain` pin (DNS name or SID) against them.
    ///
    /// # Errors
    ///
    /// TLS cannot be set up, the connection or the bind fails, the domain
    /// cannot be read, or it is not the pinned one.
    pub async fn connect(config: LdapConfig) -> Result<Self, LdapError> {
        let url = config.spec.url.clone();
        let tls = tls::client_config(&url, config.ca_file.as_deref())?;
        let connector = Connector {
            url: url.clone(),
            bind_dn: config.bind_dn.clone(),
            password: config.password.clone(),
            tls,
            timeout: config.timeout,
        };
        let pool = Pool::open(connector, config.concurrency).await?;
        let domain_error = |reason: String| LdapError::Domain {
            url: url.clone(),
            reason,
        };
        let head = match dc_suffix(&config.spec.base_dn) {
            Some(h) => h,
            None => {
                let root = search(
                    &pool,
                    "",
                    Scope::Base,
                    "(objectClass=*)",
                    &["defaultNamingContext"],
                    Call::Read,
                    &Redactor::new(),
                )
                .await
                .map_err(|e| domain_error(e.message))?;
                root.first()
                    .and_then(|r| r.text("defaultNamingContext"))
                    .map(str::to_owned)
                    .ok_or_else(|| domain_error("the rootDSE has no defaultNamingContext".into()))?
            }
        };
        let found = search(
            &pool,
            &head,
            Scope::Base,
            "(objectClass=*)",
            &["objectSid"],
            Call::Read,
            &Redactor::new(),
        )
        .await
        .map_err(|e| domain_error(e.message))?;
        let sid = found
            .first()
            .and_then(|e| e.bytes("objectSid"))
            .and_then(Sid::from_bytes)
            .ok_or_else(|| domain_error(format!("{head} has no readable objectSid")))?;
        let dns =
            dns_name(&head).ok_or_else(|| domain_error(format!("{head} is not a domain head")))?;
        let domain = Domain { head, dns, sid };
        if let Some(pin) = &config.spec.domain {
            let matches = if pin.starts_with("S-") {
                pin.eq_ignore_ascii_case(&domain.sid.to_string())
            } else {
                pin.eq_ignore_ascii_case(&domain.dns)
            };
            if !matches {
                return Err(LdapError::DomainPin {
                    url,
                    pinned: pin.clone(),
                    dns: domain.dns,
                    sid: domain.sid.to_string(),
                });
            }
        }
        let target = Target {
            provider: "active_directory".to_owned(),
            endpoint: url,
            realm: Some(domain.dns.clone()),
            principal: Some(config.bind_dn.clone()),
            name: None,
        };
        Ok(LdapDirectory {
            pool,
            spec: config.spec,
            domain,
            target,
            concurrency: config.concurrency.max(1),
            bind_dn: config.bind_dn,
        })
    }

    /// The account `key` names: by the playbook's `find_by`, or by
    /// `objectGUID` when `key` is a GUID (an id read before). Exactly one
    /// account must match under `base_dn`.
    pub async fn read(&self, key: &str) -> Result<Account, DirError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(refused("not sent: the key is empty".into(), None));
        }
        let (attr, value) = match (guid_bytes(key), self.spec.find_by) {
            (Some(g), _) => ("objectGUID", filter::escape_bytes(&g, true)),
            (None, FindBy::ObjectGuid) => {
                return Err(refused(
                    format!(
                        "not sent: {} is not a GUID (find_by: object_guid)",
                        shown(key)
                    ),
                    None,
                ));
            }
            (None, FindBy::UserPrincipalName) => ("userPrincipalName", filter::escape(key)),
            (None, FindBy::SamAccountName) => ("sAMAccountName", filter::escape(key)),
        };
        let found = self
            .search(
                &self.spec.base_dn,
                Scope::Subtree,
                &filter::account(attr, &value),
                ACCOUNT_ATTRS,
                Call::Read,
            )
            .await?;
        let mut entry = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(DirError {
                    kind: ErrorKind::NotFound,
                    code: Some("noSuchObject".into()),
                    message: format!(
                        "no account with {attr} {} under {}",
                        shown(key),
                        self.spec.base_dn
                    ),
                    request_id: None,
                    retry_after: None,
                    hint: None,
                    fate_unknown: false,
                });
            }
            many => {
                return Err(refused(
                    format!(
                        "{} accounts match {attr} {} under {}",
                        many.len(),
                        shown(key),
                        self.spec.base_dn
                    ),
                    Some("make the key unique, or find accounts by object_guid".into()),
                ));
            }
        };
        if !entry.has("msDS-User-Account-Control-Computed") {
            let again = self
                .search(
                    &entry.dn,
                    Scope::Base,
                    "(objectClass=*)",
                    ACCOUNT_ATTRS,
                    Call::Read,
                )
                .await?;
            if let Some(e) = again.into_iter().next() {
                entry = e;
            }
        }
        let account = account(&entry).ok_or_else(|| {
            refused(
                format!("the entry {} has no readable objectGUID", entry.dn),
                None,
            )
        })?;
        Ok(account)
    }

    /// What makes the account privileged; read failures that are not worth
    /// retrying become [`crate::directory::Unknown`]s (so the account is
    /// protected), and an error is returned only when a read got no
    /// definitive answer.
    pub async fn privileges(&self, id: &str) -> Result<Privileges, DirError> {
        let dn = extended_dn(id)?;
        privileges::read(self, &dn).await
    }

    /// Performs `op` on the account with `objectGUID` `id`.
    pub async fn apply(&self, id: &str, op: &Op) -> Result<(), DirError> {
        let dn = extended_dn(id)?;
        match op {
            Op::Unlock => {
                self.modify(
                    &dn,
                    vec![Mod::Replace(
                        &b"lockoutTime"[..],
                        HashSet::from([&b"0"[..]]),
                    )],
                    Call::Unlock,
                    &Redactor::new(),
                )
                .await
            }
            Op::ResetPassword {
                password,
                force_change,
                with_mfa: _,
            } => {
                let secret = password.expose_secret();
                let secrets = Redactor::new().with(secret);
                let value = values::unicode_pwd(secret);
                let mut mods = vec![Mod::Replace(
                    &b"unicodePwd"[..],
                    HashSet::from([value.as_slice()]),
                )];
                if *force_change {
                    mods.push(Mod::Replace(&b"pwdLastSet"[..], HashSet::from([&b"0"[..]])));
                }
                self.modify(&dn, mods, Call::ResetPassword, &secrets).await
            }
            Op::SetEnabled(enabled) => self.set_enabled(&dn, *enabled).await,
            Op::RevokeSessions => Err(refused(
                "Active Directory has no sign-in sessions to revoke".into(),
                Some(NO_REVOKE_HINT.into()),
            )),
        }
    }

    async fn set_enabled(&self, dn: &str, enabled: bool) -> Result<(), DirError> {
        for attempt in 0..2 {
            let found = self
                .search(
                    dn,
                    Scope::Base,
                    "(objectClass=*)",
                    &["userAccountControl"],
                    Call::SetEnabled,
                )
                .await?;
            let old = found
                .first()
                .and_then(|e| e.int("userAccountControl"))
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| refused(format!("{dn} has no readable userAccountControl"), None))?;
            let new = values::with_enabled(old, enabled);
            if new == old {
                return Ok(());
            }
            let (old, new) = (old.to_string(), new.to_string());
            let mods = vec![
                Mod::Delete(&b"userAccountControl"[..], HashSet::from([old.as_bytes()])),
                Mod::Add(&b"userAccountControl"[..], HashSet::from([new.as_bytes()])),
            ];
            match self
                .modify(dn, mods, Call::SetEnabled, &Redactor::new())
                .await
            {
                Err(e) if attempt == 0 && lost_update(&e) => {}
                other => return other,
            }
        }
        Err(refused(
            format!("userAccountControl of {dn} kept changing while remedy wrote it"),
            Some("another tool is changing the account at the same time; run again".into()),
        ))
    }

    /// Active Directory's attribute names.
    pub fn label(p: Property) -> &'static str {
        match p {
            Property::Enabled => "userAccountControl",
            Property::PasswordChanged => "pwdLastSet",
            // Not kept by Active Directory; the name is for texts only.
            Property::SessionsValidFrom => "sessions",
            Property::Locked => "lockoutTime",
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Operations per second now (Active Directory does not throttle:
    /// there is no pause).
    pub fn pace(&self) -> f64 {
        self.pool.pace()
    }

    /// Operations sent and answered; Active Directory neither throttles
    /// nor needs a budget.
    pub fn traffic(&self) -> Traffic {
        let (calls, answered) = self.pool.operations();
        Traffic {
            calls,
            answered,
            throttled: 0,
            budget_per_second: None,
        }
    }

    /// No throttling on Active Directory: workers never pause.
    pub fn pause(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// An Active Directory account signs in with the password set here.
    pub async fn federated(&self, _account: &Account) -> Result<bool, DirError> {
        Ok(false)
    }

    pub fn users_in_flight(&self) -> usize {
        self.concurrency
    }

    /// Connections opened again after one broke.
    pub fn reconnects(&self) -> usize {
        self.pool.reconnects()
    }

    /// The bind identity (the target's principal).
    pub fn bind_dn(&self) -> &str {
        &self.bind_dn
    }

    pub(crate) fn spec(&self) -> &LdapSpec {
        &self.spec
    }

    pub(crate) async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        call: Call,
    ) -> Result<Vec<Entry>, DirError> {
        search(
            &self.pool,
            base,
            scope,
            filter,
            attrs,
            call,
            &Redactor::new(),
        )
        .await
    }

    pub(crate) async fn whoami(&self) -> Result<Option<String>, DirError> {
        let mut lease = self
            .pool
            .lease()
            .await
            .map_err(|e| crate::ldap::error::connection(&e.to_string(), Call::Read))?;
        let r = lease.ldap.extended(ldap3::exop::WhoAmI).await;
        let broken = matches!(&r, Err(e) if !matches!(e, ldap3::LdapError::LdapResult { .. }));
        lease.done(broken).await;
        match r {
            Ok(ldap3::result::ExopResult(exop, res)) if res.rc == 0 => {
                Ok(exop.val.map(|v| String::from_utf8_lossy(&v).into_owned()))
            }
            // Samba does not implement the operation (protocolError).
            Ok(_) => Ok(None),
            Err(e) => Err(dir_error(&e, Call::Read, &Redactor::new())),
        }
    }

    async fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod<&[u8]>>,
        call: Call,
        secrets: &Redactor,
    ) -> Result<(), DirError> {
        let mut lease = self
            .pool
            .lease()
            .await
            .map_err(|e| crate::ldap::error::connection(&e.to_string(), call))?;
        let r = lease.ldap.modify(dn, mods).await;
        let broken = matches!(&r, Err(e) if !matches!(e, ldap3::LdapError::LdapResult { .. }));
        lease.done(broken).await;
        match r {
            Ok(res) if res.rc == 0 => Ok(()),
            Ok(res) => Err(from_result(res.rc, &res.text, call, secrets)),
            Err(e) => Err(dir_error(&e, call, secrets)),
        }
    }
}

/// Entries per page of a subtree search (Active Directory's
/// `MaxPageSize` is 1000 by default).
const PAGE_SIZE: i32 = 500;

/// One search through the pool; referrals are left out. Subtree searches
/// are paged (Simple Paged Results), so a user in more groups than the
/// server's page limit is still read in full.
async fn search(
    pool: &Pool,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
    call: Call,
    secrets: &Redactor,
) -> Result<Vec<Entry>, DirError> {
    let mut lease = pool
        .lease()
        .await
        .map_err(|e| crate::ldap::error::connection(&e.to_string(), call))?;
    let attrs: Vec<String> = attrs.iter().map(|a| (*a).to_owned()).collect();
    let mut adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> =
        vec![Box::new(EntriesOnly::new())];
    if matches!(scope, Scope::Subtree) {
        adapters.push(Box::new(PagedResults::new(PAGE_SIZE)));
    }
    let r = async {
        let mut stream = lease
            .ldap
            .streaming_search_with(adapters, base, scope, filter, attrs)
            .await?;
        let mut raw = Vec::new();
        while let Some(e) = stream.next().await? {
            raw.push(e);
        }
        Ok::<_, ldap3::LdapError>((raw, stream.finish().await))
    }
    .await;
    let broken = matches!(&r, Err(e) if !matches!(e, ldap3::LdapError::LdapResult { .. }));
    lease.done(broken).await;
    let (entries, res) = r.map_err(|e| dir_error(&e, call, secrets))?;
    if res.rc != 0 {
        return Err(from_result(res.rc, &res.text, call, secrets));
    }
    entries
        .iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
        .map(|e| {
            Entry::parse(&e.0).ok_or_else(|| {
                refused(
                    format!("LDAP: an unreadable entry in the answer while searching {base}"),
                    None,
                )
            })
        })
        .collect()
}

/// An account's neutral form; `None` without a valid `objectGUID`.
pub fn account(e: &Entry) -> Option<Account> {
    let id = guid_text(e.bytes("objectGUID")?)?;
    let uac = e.int("userAccountControl");
    let computed = e.int("msDS-User-Account-Control-Computed");
    Some(Account {
        id,
        name: e
            .text("userPrincipalName")
            .or_else(|| e.text("sAMAccountName"))
            .map(str::to_owned),
        enabled: uac.map(|u| u & i64::from(values::UAC_DISABLED) == 0),
        synced: false,
        password_changed: values::password_evidence(
            e.bytes("replPropertyMetaData"),
            e.int("pwdLastSet"),
        ),
        sessions_valid_from: None,
        kind: Some("member".to_owned()),
        locked: computed.map(|c| c & i64::from(UAC_LOCKED) != 0),
        federated: Some(false),
    })
}

/// Whether a "delete the old value, add the new" modify failed because
/// the old value was no longer there (someone changed it meanwhile).
fn lost_update(e: &DirError) -> bool {
    e.code
        .as_deref()
        .is_some_and(|c| c.starts_with("noSuchAttribute"))
}

/// The extended DN of the account with `objectGUID` `id`; refused before
/// anything is sent when `id` is not a GUID.
pub fn extended_dn(id: &str) -> Result<String, DirError> {
    let bytes = guid_bytes(id).ok_or_else(|| {
        refused(
            format!("not sent: the account id {} is not a GUID", shown(id)),
            None,
        )
    })?;
    let text = guid_text(&bytes).unwrap_or_default();
    Ok(format!("<GUID={text}>"))
}

/// The `DC=` suffix of `dn` (its domain head), `None` when it has none.
pub fn dc_suffix(dn: &str) -> Option<String> {
    let rdns = split_dn(dn);
    let first = rdns.iter().position(|r| {
        r.trim_start()
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("dc="))
    })?;
    let tail = &rdns[first..];
    if !tail.iter().all(|r| {
        r.trim_start()
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("dc="))
    }) {
        return None;
    }
    Some(tail.iter().map(|r| r.trim()).collect::<Vec<_>>().join(","))
}

/// The DNS name of a domain head (`DC=corp,DC=example` → `corp.example`).
pub fn dns_name(head: &str) -> Option<String> {
    let labels: Vec<String> = split_dn(head)
        .iter()
        .map(|r| {
            let r = r.trim();
            r.get(..3)
                .filter(|p| p.eq_ignore_ascii_case("dc="))
                .map(|_| r[3..].trim().to_ascii_lowercase())
        })
        .collect::<Option<_>>()?;
    (!labels.is_empty() && labels.iter().all(|l| !l.is_empty())).then(|| labels.join("."))
}

/// The RDNs of `dn`, split at commas not escaped by a backslash.
fn split_dn(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(&dn[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&dn[start..]);
    out
}

/// A key or id as messages show it: quoted, control characters escaped,
/// at most 64 characters.
fn shown(key: &str) -> String {
    format!("{:?}", key.chars().take(64).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_head_and_its_dns_name_come_from_the_dn() {
        assert_eq!(
            dc_suffix("OU=Staff,OU=Paris\\, FR,DC=corp,DC=example").as_deref(),
            Some("DC=corp,DC=example")
        );
        assert_eq!(
            dc_suffix("dc=Example, dc=Test").as_deref(),
            Some("dc=Example,dc=Test")
        );
        assert_eq!(dc_suffix("OU=x,O=y"), None);
        assert_eq!(dc_suffix("DC=a,OU=b,DC=c"), None);
        assert_eq!(
            dns_name("dc=Example,DC=test").as_deref(),
            Some("example.test")
        );
        assert_eq!(dns_name("OU=x,DC=test"), None);
        assert_eq!(dns_name("DC=,DC=test"), None);
    }

    #[test]
    fn an_entry_becomes_an_account() {
        let guid = guid_bytes("a0cbdb5f-2c22-45a1-8a01-68e3b799dd66").unwrap();
        let e = Entry::with(
            "CN=alice,CN=Users,DC=example,DC=test",
            &[
                ("objectGUID", &guid),
                ("sAMAccountName", b"alice"),
                ("userAccountControl", b"514"),
                ("msDS-User-Account-Control-Computed", b"16"),
                ("pwdLastSet", b"0"),
            ],
        );
        let a = account(&e).unwrap();
        assert_eq!(a.id, "a0cbdb5f-2c22-45a1-8a01-68e3b799dd66");
        assert_eq!(a.name.as_deref(), Some("alice"));
        assert_eq!(a.enabled, Some(false));
        assert_eq!(a.locked, Some(true));
        assert_eq!(a.password_changed.as_deref(), Some("pwdLastSet 0"));
        assert_eq!(
            (a.synced, a.federated, a.kind.as_deref()),
            (false, Some(false), Some("member"))
        );
        let e = Entry::with(
            "CN=x",
            &[
                ("objectGUID", &guid),
                ("userPrincipalName", b"x@y.z"),
                ("userAccountControl", b"512"),
            ],
        );
        let a = account(&e).unwrap();
        assert_eq!(
            (a.enabled, a.locked, a.name.as_deref()),
            (Some(true), None, Some("x@y.z"))
        );
        assert_eq!(
            account(&Entry::with("CN=x", &[("objectGUID", b"short")])),
            None
        );
    }

    #[test]
    fn a_value_changed_meanwhile_is_a_lost_update_to_retry() {
        let none = Redactor::new();
        let changed = from_result(
            16,
            "00002077: AtrErr: DSID-03151E6D, #1: 0: 00002077: v1: 0x90008:userAccountControl",
            Call::SetEnabled,
            &none,
        );
        assert!(lost_update(&changed), "{changed:?}");
        assert!(!lost_update(&from_result(50, "", Call::SetEnabled, &none)));
        assert!(!lost_update(&from_result(19, "", Call::SetEnabled, &none)));
    }

    #[test]
    fn writes_address_the_guid_and_refuse_anything_else() {
        assert_eq!(
            extended_dn("A0CBDB5F-2C22-45A1-8A01-68E3B799DD66").unwrap(),
            "<GUID=a0cbdb5f-2c22-45a1-8a01-68e3b799dd66>"
        );
        for bad in ["", "alice@example.test", "CN=alice,DC=x", "<GUID=x>"] {
            let e = extended_dn(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Refused);
            assert!(e.message.contains("not a GUID"), "{}", e.message);
        }
    }
}
