//! What makes an account privileged, in neutral terms: the causes a
//! provider found (roles held or eligible for, at which scope; membership
//! or ownership of role-assignable groups; membership of a restricted
//! management unit) and what it could not establish, and the one sentence
//! a protected account's skip reason gives.
//!
//! "Cannot tell" protects: an account is left alone when any cause is
//! found, and also when any read that could have shown one did not answer
//! in a way that rules it out (except a missing licence for eligibility,
//! when the playbook says such a directory has none).

/// Names shown per kind of cause before "and N more": a reason stays one
/// readable line even for an account in thousands of groups.
const NAMES_SHOWN: usize = 10;
/// Unknowns shown before "and N more".
const UNKNOWNS_SHOWN: usize = 5;
/// Characters of one name (from the directory) shown.
const NAME_CHARS: usize = 128;

/// Where a role applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole directory (Graph: `directoryScopeId` `/`).
    Directory,
    /// One administrative unit, by name when known, else by id.
    Unit(String),
    /// One other object (an application, a group…), by id.
    Object(String),
}

/// One reason an account is privileged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Holds a role (built-in or custom) at `scope`.
    Role { name: String, scope: Scope },
    /// May activate a role (Privileged Identity Management).
    EligibleRole { name: String, scope: Scope },
    /// Member of a group that can hold roles.
    RoleGroupMember { group: String },
    /// Owner of a group that can hold roles.
    RoleGroupOwner { group: String },
    /// Member of an administrative unit whose members only a role scoped
    /// to it may change.
    RestrictedUnit { unit: String },
    /// Active Directory: a member, directly, through nested groups or as
    /// its primary group, of a protected group (Domain Admins, Account
    /// Operators, …), named as the directory calls it, with its SID.
    ProtectedGroup { group: String },
    /// Active Directory: `adminCount` is 1 (AdminSDHolder protects the
    /// account, which is or was in a protected group).
    AdminCount,
    /// Active Directory: a built-in account (Administrator, krbtgt).
    BuiltInAccount { name: String },
}

/// Something that could have shown a cause but did not rule it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// What could not be established, e.g. `the user's role assignments`.
    pub what: String,
    /// Why, e.g. the provider's error with its code and request id.
    pub why: String,
    /// The directory has no licence for the feature that would show it
    /// (PIM eligibility): there may be nothing to read at all.
    pub unlicensed: bool,
}

/// What a provider found about one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Privileges {
    pub causes: Vec<Cause>,
    pub unknown: Vec<Unknown>,
}

impl Privileges {
    /// The skip reason when the account must be left alone, `None` when
    /// it is established that nothing makes it privileged. `subject` names
    /// the account (its sign-in name or id). `unlicensed_protects`: a
    /// directory without the licence that eligibility needs cannot tell
    /// (`true`), or has no eligibility at all (`false`).
    pub fn protection(&self, subject: &str, unlicensed_protects: bool) -> Option<String> {
        let unknown: Vec<&Unknown> = self
            .unknown
            .iter()
            .filter(|u| unlicensed_protects || !u.unlicensed)
            .collect();
        if self.causes.is_empty() && unknown.is_empty() {
            return None;
        }
        let unknowns = describe_unknowns(&unknown);
        if self.causes.is_empty() {
            return Some(format!(
                "protected: cannot tell whether {} is privileged: {unknowns}",
                clip(subject)
            ));
        }
        let mut s = format!("protected: {}", describe_causes(&self.causes));
        if !unknown.is_empty() {
            s.push_str("; also could not read: ");
            s.push_str(&unknowns);
        }
        Some(s)
    }
}

/// The causes grouped by kind, in a fixed order: roles, groups, owned
/// groups, units, protected groups, built-in accounts, `adminCount`,
/// eligibility.
fn describe_causes(causes: &[Cause]) -> String {
    let pick =
        |f: fn(&Cause) -> Option<String>| -> Vec<String> { causes.iter().filter_map(f).collect() };
    let groups = [
        (
            "holds the directory role ",
            pick(|c| match c {
                Cause::Role { name, scope } => Some(scoped(name, scope)),
                _ => None,
            }),
        ),
        (
            "member of the role-assignable group ",
            pick(|c| match c {
                Cause::RoleGroupMember { group } => Some(clip(group)),
                _ => None,
            }),
        ),
        (
            "owner of the role-assignable group ",
            pick(|c| match c {
                Cause::RoleGroupOwner { group } => Some(clip(group)),
                _ => None,
            }),
        ),
        (
            "member of the restricted management administrative unit ",
            pick(|c| match c {
                Cause::RestrictedUnit { unit } => Some(clip(unit)),
                _ => None,
            }),
        ),
        (
            "member of the protected group ",
            pick(|c| match c {
                Cause::ProtectedGroup { group } => Some(clip(group)),
                _ => None,
            }),
        ),
        (
            "the built-in account ",
            pick(|c| match c {
                Cause::BuiltInAccount { name } => Some(clip(name)),
                _ => None,
            }),
        ),
        (
            "",
            pick(|c| match c {
                Cause::AdminCount => {
                    Some("adminCount is 1 (AdminSDHolder protects the account)".to_owned())
                }
                _ => None,
            }),
        ),
        (
            "eligible (PIM) for ",
            pick(|c| match c {
                Cause::EligibleRole { name, scope } => Some(scoped(name, scope)),
                _ => None,
            }),
        ),
    ];
    groups
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(lead, names)| format!("{lead}{}", listed(&names, NAMES_SHOWN)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_unknowns(unknown: &[&Unknown]) -> String {
    let parts: Vec<String> = unknown
        .iter()
        .map(|u| format!("{}: {}", u.what, u.why))
        .collect();
    listed_with(&parts, UNKNOWNS_SHOWN, "; ")
}

fn scoped(name: &str, scope: &Scope) -> String {
    match scope {
        Scope::Directory => clip(name),
        Scope::Unit(u) => format!(
            "{} (scoped to the administrative unit {})",
            clip(name),
            clip(u)
        ),
        Scope::Object(o) => format!("{} (scoped to the object {})", clip(name), clip(o)),
    }
}

fn listed(names: &[String], shown: usize) -> String {
    listed_with(names, shown, ", ")
}

fn listed_with(items: &[String], shown: usize, sep: &str) -> String {
    let mut s = items
        .iter()
        .take(shown)
        .cloned()
        .collect::<Vec<_>>()
        .join(sep);
    if items.len() > shown {
        s.push_str(&format!(" and {} more", items.len() - shown));
    }
    s
}

/// A name from the directory, cut to [`NAME_CHARS`] characters.
fn clip(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(NAME_CHARS).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Cause {
        Cause::Role {
            name: name.into(),
            scope: Scope::Directory,
        }
    }

    fn unknown(what: &str, unlicensed: bool) -> Unknown {
        Unknown {
            what: what.into(),
            why: "it failed".into(),
            unlicensed,
        }
    }

    #[test]
    fn nothing_found_and_nothing_unknown_is_not_privileged() {
        assert_eq!(Privileges::default().protection("a@b.c", true), None);
    }

    #[test]
    fn the_reason_names_every_cause_found() {
        let p = Privileges {
            causes: vec![
                Cause::EligibleRole {
                    name: "Security Administrator".into(),
                    scope: Scope::Directory,
                },
                Cause::RoleGroupMember {
                    group: "Tier0 Admins".into(),
                },
                role("Global Administrator"),
            ],
            unknown: vec![],
        };
        assert_eq!(
            p.protection("a@b.c", true).unwrap(),
            "protected: holds the directory role Global Administrator; member of the role-assignable group Tier0 Admins; eligible (PIM) for Security Administrator"
        );
        let p = Privileges {
            causes: vec![
                Cause::Role {
                    name: "Helpdesk Administrator".into(),
                    scope: Scope::Unit("Executives".into()),
                },
                role("User Administrator"),
                Cause::RoleGroupOwner {
                    group: "Tier0 Admins".into(),
                },
                Cause::RestrictedUnit {
                    unit: "Board".into(),
                },
                Cause::EligibleRole {
                    name: "Application Administrator".into(),
                    scope: Scope::Object("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
                },
            ],
            unknown: vec![],
        };
        assert_eq!(
            p.protection("a@b.c", true).unwrap(),
            "protected: holds the directory role Helpdesk Administrator (scoped to the administrative unit Executives), User Administrator; owner of the role-assignable group Tier0 Admins; member of the restricted management administrative unit Board; eligible (PIM) for Application Administrator (scoped to the object 0f8fad5b-d9cb-469f-a165-70867728950e)"
        );
    }

    #[test]
    fn active_directory_causes_have_their_reasons() {
        let p = Privileges {
            causes: vec![
                Cause::AdminCount,
                Cause::ProtectedGroup {
                    group: "Domain Admins (S-1-5-21-1-2-3-512)".into(),
                },
                Cause::BuiltInAccount {
                    name: "Administrator (RID 500)".into(),
                },
                Cause::ProtectedGroup {
                    group: "Opérateurs de compte (S-1-5-32-548)".into(),
                },
            ],
            unknown: vec![],
        };
        assert_eq!(
            p.protection("admin@corp.example", true).unwrap(),
            "protected: member of the protected group Domain Admins (S-1-5-21-1-2-3-512), Opérateurs de compte (S-1-5-32-548); the built-in account Administrator (RID 500); adminCount is 1 (AdminSDHolder protects the account)"
        );
    }

    #[test]
    fn cannot_tell_protects_and_says_what_could_not_be_read() {
        let p = Privileges {
            causes: vec![],
            unknown: vec![unknown("the user's role assignments", false)],
        };
        assert_eq!(
            p.protection("adele@contoso.com", false).unwrap(),
            "protected: cannot tell whether adele@contoso.com is privileged: the user's role assignments: it failed"
        );
        // With a cause, the unknowns follow it.
        let p = Privileges {
            causes: vec![role("Global Administrator")],
            unknown: vec![unknown("the user's role assignments", false)],
        };
        assert_eq!(
            p.protection("a@b.c", false).unwrap(),
            "protected: holds the directory role Global Administrator; also could not read: the user's role assignments: it failed"
        );
    }

    #[test]
    fn a_missing_licence_protects_only_when_eligibility_is_required() {
        let p = Privileges {
            causes: vec![],
            unknown: vec![unknown("PIM eligibility", true)],
        };
        assert!(
            p.protection("a@b.c", true)
                .unwrap()
                .starts_with("protected: cannot tell whether a@b.c is privileged: PIM eligibility")
        );
        assert_eq!(p.protection("a@b.c", false), None);
        // Anything else unknown still protects.
        let p = Privileges {
            causes: vec![],
            unknown: vec![unknown("PIM eligibility", true), unknown("groups", false)],
        };
        let r = p.protection("a@b.c", false).unwrap();
        assert!(r.ends_with("groups: it failed"), "{r}");
        assert!(!r.contains("PIM"), "{r}");
    }

    #[test]
    fn long_lists_and_names_stay_bounded() {
        let p = Privileges {
            causes: (0..25)
                .map(|i| Cause::RoleGroupMember {
                    group: format!("g{i}"),
                })
                .collect(),
            unknown: (0..8).map(|i| unknown(&format!("u{i}"), false)).collect(),
        };
        let r = p.protection("a@b.c", true).unwrap();
        assert!(r.contains("g9 and 15 more"), "{r}");
        assert!(!r.contains("g10"), "{r}");
        assert!(r.contains("u4: it failed and 3 more"), "{r}");
        let long = "x".repeat(1000);
        let p = Privileges {
            causes: vec![role(&long)],
            unknown: vec![],
        };
        let r = p.protection("a@b.c", true).unwrap();
        assert!(r.chars().count() < 200, "{r}");
        assert!(r.ends_with('…'), "{r}");
    }
}
