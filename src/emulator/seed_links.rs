//! The privilege columns of a seeding CSV: list cells (`roles`,
//! `customRoles`, `scopedRoles`, `eligibleRoles`, `roleGroups`,
//! `ownedRoleGroups`, `groups`, `units`, `restrictedUnits`,
//! `ownedApplications`) holding names separated by `;`, turned into a
//! user's [`Extras`]. Each role, group, unit or application is created the
//! first time a row names it; later rows naming it (case-insensitively)
//! refer to the same one, and a name used as two kinds is a diagnostic.

use super::directory::{Directory, Extras};
use super::objects::ObjectError;
use super::roles::{Kind, RoleError};
use super::seed_csv::{RowProblem, bad};
use crate::input::Header;

/// Positions of the list columns that give a user roles, groups and units.
pub(crate) struct Links {
    /// Built-in roles held directly, tenant-wide.
    roles: Option<usize>,
    custom_roles: Option<usize>,
    /// `Role Name@Unit Name` entries.
    scoped_roles: Option<usize>,
    eligible_roles: Option<usize>,
    /// `Group Name` or `Group Name=Role Name` entries.
    role_groups: Option<usize>,
    owned_role_groups: Option<usize>,
    groups: Option<usize>,
    units: Option<usize>,
    restricted_units: Option<usize>,
    owned_applications: Option<usize>,
}

impl Links {
    pub(crate) fn new(h: &Header) -> Self {
        Links {
            roles: h.index_of("roles"),
            custom_roles: h.index_of("customRoles"),
            scoped_roles: h.index_of("scopedRoles"),
            eligible_roles: h.index_of("eligibleRoles"),
            role_groups: h.index_of("roleGroups"),
            owned_role_groups: h.index_of("ownedRoleGroups"),
            groups: h.index_of("groups"),
            units: h.index_of("units"),
            restricted_units: h.index_of("restrictedUnits"),
            owned_applications: h.index_of("ownedApplications"),
        }
    }
}

/// The entries of a list cell: `;`-separated, trimmed, empty ones dropped.
fn entries(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|n| !n.is_empty())
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// A row's roles, groups, units and applications, each created in `dir`
/// on first use.
pub(crate) fn links(
    fields: &[String],
    cols: &Links,
    tenant: &str,
    dir: &mut Directory,
) -> Result<Extras, RowProblem> {
    let cell = |i: usize| fields.get(i).map_or("", |s| s.trim());
    let role_problem = |i: usize| {
        move |e: RoleError| {
            let (message, hint) = e.describe();
            bad(i, "emulator::invalid-value", message, hint)
        }
    };
    let object_problem = |i: usize| {
        move |e: ObjectError| {
            let (message, hint) = e.describe();
            bad(i, "emulator::invalid-value", message, hint)
        }
    };
    let mut e = Extras::default();
    let role_columns = [
        (cols.roles, Kind::BuiltIn, &mut e.roles),
        (cols.custom_roles, Kind::Custom, &mut e.custom_roles),
        (cols.eligible_roles, Kind::Any, &mut e.eligible_roles),
    ];
    for (column, kind, list) in role_columns {
        let Some(i) = column else { continue };
        for name in entries(cell(i)) {
            let role = dir
                .roles
                .intern_as(name, tenant, kind)
                .map_err(role_problem(i))?;
            push_new(list, role);
        }
    }
    if let Some(i) = cols.scoped_roles {
        for entry in entries(cell(i)) {
            let (role, unit) = entry
                .split_once('@')
                .map(|(r, u)| (r.trim(), u.trim()))
                .filter(|(r, u)| !r.is_empty() && !u.is_empty())
                .ok_or_else(|| {
                    bad(
                        i,
                        "emulator::invalid-value",
                        format!("`{entry}` is not a scoped role"),
                        "write `Role Name@Unit Name`, e.g. `Helpdesk Administrator@Executives`",
                    )
                })?;
            let role = dir
                .roles
                .intern_as(role, tenant, Kind::Any)
                .map_err(role_problem(i))?;
            let unit = dir
                .objects
                .unit(unit, tenant, None)
                .map_err(object_problem(i))?;
            push_new(&mut e.scoped_roles, (role, unit));
        }
    }
    for (column, owned) in [(cols.role_groups, false), (cols.owned_role_groups, true)] {
        let Some(i) = column else { continue };
        for entry in entries(cell(i)) {
            let (name, role) = match entry.split_once('=') {
                Some((g, r)) => (g.trim(), Some(r.trim())),
                None => (entry, None),
            };
            if name.is_empty() || role.is_some_and(str::is_empty) {
                return Err(bad(
                    i,
                    "emulator::invalid-value",
                    format!("`{entry}` is not a group"),
                    "write `Group Name`, or `Group Name=Role Name` for a group holding a built-in role",
                ));
            }
            let group = dir
                .objects
                .group(name, tenant, true)
                .map_err(object_problem(i))?;
            if let Some(role) = role {
                let role = dir
                    .roles
                    .intern_as(role, tenant, Kind::BuiltIn)
                    .map_err(role_problem(i))?;
                dir.objects.grant(group, role);
            }
            push_new(
                if owned {
                    &mut e.owned_groups
                } else {
                    &mut e.groups
                },
                group,
            );
        }
    }
    if let Some(i) = cols.groups {
        for name in entries(cell(i)) {
            if name.contains('=') {
                return Err(bad(
                    i,
                    "emulator::invalid-value",
                    format!("`{name}`: an ordinary group cannot hold a role"),
                    "list a group that holds a role in `roleGroups` (`Group Name=Role Name`)",
                ));
            }
            let group = dir
                .objects
                .group(name, tenant, false)
                .map_err(object_problem(i))?;
            push_new(&mut e.groups, group);
        }
    }
    for (column, restricted) in [(cols.units, false), (cols.restricted_units, true)] {
        let Some(i) = column else { continue };
        for name in entries(cell(i)) {
            let unit = dir
                .objects
                .unit(name, tenant, Some(restricted))
                .map_err(object_problem(i))?;
            push_new(&mut e.units, unit);
        }
    }
    if let Some(i) = cols.owned_applications {
        for name in entries(cell(i)) {
            let app = dir.objects.app(name, tenant).map_err(object_problem(i))?;
            push_new(&mut e.owned_apps, app);
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::emulator::config::{EmulatorConfig, EmulatorError, UserSource};
    use crate::emulator::seed::seed;

    fn config(users: UserSource) -> EmulatorConfig {
        EmulatorConfig {
            users,
            ..EmulatorConfig::default()
        }
    }

    fn csv(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn privilege_columns_create_names_once_and_link_them() {
        let f = csv(&crate::emulator::testing::FIXTURE.replace(
            "plain@contoso.com,,,,,,,Sales,,,,",
            "plain@contoso.com,,,,,,,Sales; SALES ;sales;,,,,",
        ));
        let dir = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap();
        let view = |upn: &str| dir.view(dir.find(upn).unwrap());
        let plain = view("plain@contoso.com");
        assert_eq!(plain.groups, ["Sales"]);
        assert!(!plain.privileged);
        let member = view("member@contoso.com");
        assert_eq!(member.roles, ["User Administrator"]);
        assert_eq!(member.role_groups, ["Tier0 Admins", "Identity Operators"]);
        assert_eq!(member.roles_through_groups, ["Global Administrator"]);
        assert_eq!(
            (member.groups.as_slice(), member.units.as_slice()),
            (&["Sales".to_owned()][..], &["Region West".to_owned()][..])
        );
        let owner = view("owner@contoso.com");
        assert_eq!(owner.owned_role_groups, ["Tier0 Admins"]);
        assert_eq!(owner.owned_applications, ["Payroll"]);
        assert!(owner.role_groups.is_empty() && owner.privileged);
        assert_eq!(view("custom@contoso.com").custom_roles, ["Helpdesk Tier 2"]);
        assert_eq!(
            view("scoped@contoso.com").scoped_roles,
            ["Helpdesk Administrator@Region West"]
        );
        assert_eq!(
            view("eligible@contoso.com").eligible_roles,
            ["Privileged Authentication Administrator"]
        );
        let restricted = view("restricted@contoso.com");
        assert_eq!(
            (
                restricted.units.as_slice(),
                restricted.restricted_units.as_slice()
            ),
            (
                &["Region West".to_owned()][..],
                &["Executives".to_owned()][..]
            )
        );
        // One object per name, whatever the case and the row.
        assert_eq!(dir.objects.groups.len(), 3);
        assert_eq!(dir.objects.units.len(), 2);
        let tier0 = &dir.objects.groups
            [dir.find("member@contoso.com").unwrap().extras().groups[0] as usize];
        assert_eq!(
            dir.find("owner@contoso.com").unwrap().extras().owned_groups,
            [dir.find("member@contoso.com").unwrap().extras().groups[0]]
        );
        assert!(tier0.assignable);
        assert!(
            !dir.objects
                .groups
                .iter()
                .find(|g| &*g.name == "Sales")
                .unwrap()
                .assignable
        );
        for upn in ["synced@contoso.com", "fed@fabrikam.com"] {
            let v = view(upn);
            assert!(!v.privileged, "{upn}");
        }
    }

    #[test]
    fn a_unit_named_as_a_scope_first_can_still_be_restricted() {
        let f = csv("userPrincipalName,scopedRoles,restrictedUnits\n\
                     a@contoso.com,User Administrator@Executives,\n\
                     b@contoso.com,,executives\n");
        let dir = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap();
        assert_eq!(dir.objects.units.len(), 1);
        assert!(dir.objects.units[0].restricted);
        let b = dir.view(dir.find("b@contoso.com").unwrap());
        assert_eq!(b.restricted_units, ["Executives"]);
        assert!(b.privileged);
    }

    #[test]
    fn bad_privilege_cells_are_positioned() {
        let f = csv(
            "userPrincipalName,customRoles,scopedRoles,roleGroups,groups,units,restrictedUnits,roles\n\
                     a@contoso.com,Global Administrator,,,,,,\n\
                     b@contoso.com,,Helpdesk Administrator,,,,,\n\
                     c@contoso.com,,@Executives,,,,,\n\
                     d@contoso.com,,,=Global Administrator,,,,\n\
                     e@contoso.com,,,Tier0=,,,,\n\
                     f@contoso.com,,,Tier0,tier0,,,\n\
                     g@contoso.com,,,,Sales=User Administrator,,,\n\
                     h@contoso.com,,,,,West,west,\n\
                     i@contoso.com,Tier 2,,,,,,\n\
                     j@contoso.com,,,,,,,tier 2\n\
                     k@contoso.com,,,Ops=Tier 2,,,,\n\
                     l@contoso.com,,,,,,,Global Administrator\n",
        );
        let err = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap_err();
        let EmulatorError::Seed { diagnostics, .. } = err else {
            panic!("{err}")
        };
        let found: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.code, d.location.map(|l| (l.line, l.column))))
            .collect();
        let at = |line, column| ("emulator::invalid-value", Some((line, column)));
        assert_eq!(
            found,
            [
                at(2, 15),
                at(3, 16),
                at(4, 16),
                at(5, 17),
                at(6, 17),
                at(7, 23),
                at(8, 18),
                at(9, 24),
                at(11, 21),
                at(12, 17),
            ],
            "{diagnostics:#?}"
        );
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        for (i, want) in [
            (
                0,
                "`Global Administrator` is a built-in role, not a custom one",
            ),
            (1, "`Helpdesk Administrator` is not a scoped role"),
            (3, "`=Global Administrator` is not a group"),
            (
                5,
                "the group `Tier0` is named both as role-assignable and as an ordinary group",
            ),
            (6, "an ordinary group cannot hold a role"),
            (7, "named both as restricted and as not restricted"),
            (
                8,
                "`Tier 2` is used both as a custom role and as a built-in role",
            ),
        ] {
            assert!(messages[i].contains(want), "{i}: {}", messages[i]);
            assert!(messages[i].starts_with("row "), "{}", messages[i]);
        }
    }
}
