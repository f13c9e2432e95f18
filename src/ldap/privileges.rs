//! What makes an Active Directory account privileged, following
//! Microsoft's "Appendix C: Protected Accounts and Groups in Active
//! Directory": `adminCount` = 1, the built-in Administrator (RID 500) and
//! krbtgt (RID 502), a protected group as primary group, and transitive
//! membership (`LDAP_MATCHING_RULE_IN_CHAIN`) of a protected group.
//!
//! Groups are identified by SID, never by name (names are localised and
//! can be renamed): the domain-relative RIDs 512 Domain Admins, 516
//! Domain Controllers, 518 Schema Admins, 519 Enterprise Admins, 521
//! Read-only Domain Controllers, 526 Key Admins and 527 Enterprise Key
//! Admins, under any domain's SID (Schema and Enterprise Admins live in
//! the forest root domain), and the builtin S-1-5-32-544 Administrators,
//! 548 Account Operators, 549 Server Operators, 550 Print Operators, 551
//! Backup Operators and 552 Replicator.
//!
//! Memberships come from two sources: the in-chain `member` search of this
//! domain (which names each group as the directory does) and the
//! account's constructed `tokenGroups` (which also holds universal groups
//! of other domains of the forest, such as the root domain's Enterprise
//! Admins).
//!
//! A read that fails in a way retrying will not fix becomes an
//! [`Unknown`], which protects the account.

use ldap3::Scope;

use crate::directory::{Cause, DirError, Privileges, Unknown};
use crate::ldap::LdapDirectory;
use crate::ldap::error::Call;
use crate::ldap::filter;
use crate::ldap::ids::Sid;

/// Protected domain-relative groups by RID.
const DOMAIN_GROUPS: &[(u32, &str)] = &[
    (512, "Domain Admins"),
    (516, "Domain Controllers"),
    (518, "Schema Admins"),
    (519, "Enterprise Admins"),
    (521, "Read-only Domain Controllers"),
    (526, "Key Admins"),
    (527, "Enterprise Key Admins"),
];

/// Protected builtin groups (S-1-5-32-RID).
const BUILTIN_GROUPS: &[(u32, &str)] = &[
    (544, "Administrators"),
    (548, "Account Operators"),
    (549, "Server Operators"),
    (550, "Print Operators"),
    (551, "Backup Operators"),
    (552, "Replicator"),
];

/// Built-in accounts by RID.
const BUILT_IN_ACCOUNTS: &[(u32, &str)] = &[(500, "Administrator"), (502, "krbtgt")];

/// The well-known name of a protected group's SID, `None` when it is not
/// one.
pub fn protected_group(sid: &Sid) -> Option<&'static str> {
    let rid = sid.rid()?;
    if sid.is_domain_relative() {
        return DOMAIN_GROUPS
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, n)| *n);
    }
    let builtin = sid.revision == 1 && sid.authority == 5 && sid.sub.len() == 2 && sid.sub[0] == 32;
    if builtin {
        return BUILTIN_GROUPS
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, n)| *n);
    }
    None
}

/// A protected group as the reason shows it: the directory's name, the
/// well-known one when it differs, and the SID.
fn group_label(cn: Option<&str>, well_known: &str, sid: &Sid) -> String {
    match cn {
        Some(cn) if cn.eq_ignore_ascii_case(well_known) => format!("{cn} ({sid})"),
        Some(cn) => format!("{cn} ({well_known}, {sid})"),
        None => format!("{well_known} ({sid})"),
    }
}

/// The causes the account's own attributes show.
pub fn own_causes(
    sid: Option<&Sid>,
    admin_count: Option<i64>,
    primary_group: Option<i64>,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if admin_count == Some(1) {
        causes.push(Cause::AdminCount);
    }
    if let Some(sid) = sid
        && sid.is_domain_relative()
        && let Some(rid) = sid.rid()
        && let Some((_, name)) = BUILT_IN_ACCOUNTS.iter().find(|(r, _)| *r == rid)
    {
        causes.push(Cause::BuiltInAccount {
            name: format!("{name} (RID {rid})"),
        });
    }
    if let (Some(sid), Some(pg)) = (sid, primary_group)
        && let Ok(pg) = u32::try_from(pg)
    {
        let mut group = sid.domain();
        group.sub.push(pg);
        if let Some(name) = protected_group(&group) {
            causes.push(Cause::ProtectedGroup {
                group: format!("{} as primary group", group_label(None, name, &group)),
            });
        }
    }
    causes
}

/// Reads what makes the account at `dn` (an extended DN) privileged.
pub async fn read(dir: &LdapDirectory, dn: &str) -> Result<Privileges, DirError> {
    let mut found = Privileges::default();
    let own = dir
        .search(
            dn,
            Scope::Base,
            "(objectClass=*)",
            &["objectSid", "adminCount", "primaryGroupID", "tokenGroups"],
            Call::Privileges,
        )
        .await;
    let user = match own {
        Ok(entries) => entries.into_iter().next(),
        Err(e) if e.is_retryable() => return Err(e),
        Err(e) => {
            found.unknown.push(unknown(
                "the account's objectSid, adminCount and primaryGroupID",
                &e,
            ));
            None
        }
    };
    let Some(user) = user else {
        if found.unknown.is_empty() {
            found.unknown.push(Unknown {
                what: "the account".into(),
                why: "it was not returned".into(),
                unlicensed: false,
            });
        }
        return Ok(found);
    };
    let sid = user.bytes("objectSid").and_then(Sid::from_bytes);
    if sid.is_none() {
        found.unknown.push(Unknown {
            what: "the account's objectSid".into(),
            why: "it was not returned or not readable".into(),
            unlicensed: false,
        });
    }
    if !user.has("primaryGroupID") {
        found.unknown.push(Unknown {
            what: "the account's primaryGroupID".into(),
            why: "it was not returned".into(),
            unlicensed: false,
        });
    }
    found.causes.extend(own_causes(
        sid.as_ref(),
        user.int("adminCount"),
        user.int("primaryGroupID"),
    ));
    let groups = dir
        .search(
            &dir.domain.head,
            Scope::Subtree,
            &filter::groups_of(&user.dn),
            &["objectSid", "cn"],
            Call::Privileges,
        )
        .await;
    // SIDs already shown (the primary group's among them).
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    if let (Some(s), Some(pg)) = (sid.as_ref(), user.int("primaryGroupID"))
        && let Ok(pg) = u32::try_from(pg)
    {
        let mut g = s.domain();
        g.sub.push(pg);
        seen.insert(g.to_string());
    }
    match groups {
        Ok(groups) => {
            for g in groups {
                let Some(gsid) = g.bytes("objectSid").and_then(Sid::from_bytes) else {
                    found.unknown.push(Unknown {
                        what: format!("the SID of the group {}", g.dn),
                        why: "it was not returned or not readable".into(),
                        unlicensed: false,
                    });
                    continue;
                };
                if let Some(name) = protected_group(&gsid)
                    && seen.insert(gsid.to_string())
                {
                    found.causes.push(Cause::ProtectedGroup {
                        group: group_label(g.text("cn"), name, &gsid),
                    });
                }
            }
        }
        Err(e) if e.is_retryable() => return Err(e),
        Err(e) => found
            .unknown
            .push(unknown("the account's transitive group memberships", &e)),
    }
    // The constructed tokenGroups also holds groups of other domains of
    // the forest that the member search of this domain cannot see.
    for gsid in user
        .values("tokenGroups")
        .iter()
        .filter_map(|b| Sid::from_bytes(b))
    {
        if let Some(name) = protected_group(&gsid)
            && seen.insert(gsid.to_string())
        {
            found.causes.push(Cause::ProtectedGroup {
                group: group_label(None, name, &gsid),
            });
        }
    }
    Ok(found)
}

fn unknown(what: &str, e: &DirError) -> Unknown {
    Unknown {
        what: what.to_owned(),
        why: e.message.clone(),
        unlicensed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Sid {
        let parts: Vec<&str> = text.split('-').collect();
        Sid {
            revision: parts[1].parse().unwrap(),
            authority: parts[2].parse().unwrap(),
            sub: parts[3..].iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn protected_groups_are_known_by_sid_alone() {
        for (s, name) in [
            ("S-1-5-21-1-2-3-512", "Domain Admins"),
            ("S-1-5-21-9-9-9-519", "Enterprise Admins"),
            ("S-1-5-21-9-9-9-518", "Schema Admins"),
            ("S-1-5-21-1-2-3-516", "Domain Controllers"),
            ("S-1-5-21-1-2-3-521", "Read-only Domain Controllers"),
            ("S-1-5-21-1-2-3-526", "Key Admins"),
            ("S-1-5-21-1-2-3-527", "Enterprise Key Admins"),
            ("S-1-5-32-544", "Administrators"),
            ("S-1-5-32-548", "Account Operators"),
            ("S-1-5-32-549", "Server Operators"),
            ("S-1-5-32-550", "Print Operators"),
            ("S-1-5-32-551", "Backup Operators"),
            ("S-1-5-32-552", "Replicator"),
        ] {
            assert_eq!(protected_group(&sid(s)), Some(name), "{s}");
        }
        for s in [
            "S-1-5-21-1-2-3-513",
            "S-1-5-21-1-2-3-1104",
            "S-1-5-32-545",
            "S-1-5-32",
            "S-1-5-21-1-2-512",
            "S-1-1-0",
        ] {
            assert_eq!(protected_group(&sid(s)), None, "{s}");
        }
    }

    #[test]
    fn the_accounts_own_attributes_show_causes() {
        let user = sid("S-1-5-21-1-2-3-1104");
        assert!(own_causes(Some(&user), Some(0), Some(513)).is_empty());
        assert!(own_causes(Some(&user), None, None).is_empty());
        assert_eq!(
            own_causes(Some(&user), Some(1), Some(513)),
            vec![Cause::AdminCount]
        );
        assert_eq!(
            own_causes(Some(&user), None, Some(512)),
            vec![Cause::ProtectedGroup {
                group: "Domain Admins (S-1-5-21-1-2-3-512) as primary group".into()
            }]
        );
        assert_eq!(
            own_causes(Some(&sid("S-1-5-21-1-2-3-500")), None, Some(513)),
            vec![Cause::BuiltInAccount {
                name: "Administrator (RID 500)".into()
            }]
        );
        assert_eq!(
            own_causes(Some(&sid("S-1-5-21-1-2-3-502")), None, None),
            vec![Cause::BuiltInAccount {
                name: "krbtgt (RID 502)".into()
            }]
        );
        assert_eq!(
            group_label(
                Some("Admins du domaine"),
                "Domain Admins",
                &sid("S-1-5-21-1-2-3-512")
            ),
            "Admins du domaine (Domain Admins, S-1-5-21-1-2-3-512)"
        );
    }
}
