//! Seeding the directory from a CSV (any format [`UserReader`] accepts):
//! the columns it reads, each row's account state and privilege facts,
//! and a positioned diagnostic for every bad cell.
//!
//! List cells (`roles`, `groups`, ...) hold names separated by `;`; each
//! role, group, unit or application is created the first time a row names
//! it, and later rows naming it (case-insensitively) refer to the same one.

use std::path::Path;

use uuid::Uuid;

use super::config::{EmulatorConfig, EmulatorError};
use super::directory::{Directory, Extras, NewUser, PushError};
use super::objects::ObjectError;
use super::roles::{Kind, RoleError};
use super::seed::Draws;
use crate::diag::Diagnostic;
use crate::input::{CsvFormat, Header, MAX_DIAGNOSTICS, UserReader, is_guid, is_upn};

/// Column positions of the properties a seeding CSV may carry.
struct Columns {
    upn: Option<usize>,
    id: Option<usize>,
    display_name: Option<usize>,
    given_name: Option<usize>,
    surname: Option<usize>,
    enabled: Option<usize>,
    /// A bulk template's `accountEnabled` is "Block sign in (Yes/No)".
    enabled_inverted: bool,
    synced: Option<usize>,
    user_type: Option<usize>,
    locked: Option<usize>,
    /// The privilege columns; see [`Links`].
    links: Links,
}

/// Positions of the list columns that give a user roles, groups and units.
struct Links {
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

impl Columns {
    fn new(h: &Header) -> Self {
        Columns {
            upn: h.index_of("userPrincipalName"),
            id: h.index_of("id").or_else(|| h.index_of("objectId")),
            display_name: h.index_of("displayName"),
            given_name: h.index_of("givenName"),
            surname: h.index_of("surname"),
            enabled: h.index_of("accountEnabled"),
            enabled_inverted: h.format == CsvFormat::BulkTemplate,
            synced: h
                .index_of("onPremisesSyncEnabled")
                .or_else(|| h.index_of("directorySynced")),
            user_type: h.index_of("userType"),
            locked: h.index_of("lockedOut"),
            links: Links {
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
            },
        }
    }
}

/// Collects problems, keeping at most [`MAX_DIAGNOSTICS`].
struct Problems {
    file: String,
    list: Vec<Diagnostic>,
    dropped: usize,
}

impl Problems {
    fn push(&mut self, d: Diagnostic) {
        if self.list.len() < MAX_DIAGNOSTICS {
            self.list.push(d);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> EmulatorError {
        if self.dropped > 0 {
            self.list.push(Diagnostic::warning(
                "csv::too-many-problems",
                &self.file,
                format!("{} more problems are not shown", self.dropped),
            ));
        }
        EmulatorError::Seed {
            file: self.file,
            diagnostics: self.list,
        }
    }
}

pub(crate) fn from_csv(
    path: &Path,
    config: &EmulatorConfig,
    now: i64,
) -> Result<Directory, EmulatorError> {
    let name = path.display().to_string();
    let seed_error = |d: Diagnostic| EmulatorError::Seed {
        file: name.clone(),
        diagnostics: vec![d],
    };
    let mut reader = UserReader::open(path, &name).map_err(seed_error)?;
    let cols = Columns::new(reader.header());
    if cols.upn.is_none() && cols.id.is_none() {
        return Err(seed_error(
            Diagnostic::error(
                "csv::missing-key-column",
                &name,
                format!("`{name}` has neither a `userPrincipalName` nor an `id`/`objectId` column"),
            )
            .with_hint("the emulator needs one of these columns to name its users"),
        ));
    }
    let mut dir = Directory::default();
    let mut problems = Problems {
        file: name.clone(),
        list: Vec::new(),
        dropped: 0,
    };
    let mut rows = 0u64;
    while let Some(row) = reader.next_row() {
        rows += 1;
        let row = match row {
            Ok(row) => row,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        if let Err(p) = parse_row(&row.fields, &cols, config, now, &mut dir) {
            let mut d = Diagnostic::error(p.code, &name, format!("row {}: {}", row.row, p.message))
                .with_hint(p.hint);
            if let Some(raw) = reader.last_raw() {
                d = d.at(raw.field(p.column)).with_source(raw.source(&name));
            }
            problems.push(d);
        }
    }
    if rows == 0 {
        problems.push(
            Diagnostic::error("csv::no-rows", &name, format!("`{name}` has no users"))
                .with_hint("add at least one user row below the header"),
        );
    }
    if problems.list.is_empty() {
        Ok(dir)
    } else {
        Err(problems.finish())
    }
}

struct RowProblem {
    column: usize,
    code: &'static str,
    message: String,
    hint: &'static str,
}

fn bad(column: usize, code: &'static str, message: String, hint: &'static str) -> RowProblem {
    RowProblem {
        column,
        code,
        message,
        hint,
    }
}

fn parse_row(
    fields: &[String],
    cols: &Columns,
    config: &EmulatorConfig,
    now: i64,
    dir: &mut Directory,
) -> Result<(), RowProblem> {
    let cell = |i: Option<usize>| i.and_then(|i| fields.get(i)).map_or("", |s| s.trim());
    let id = match cols.id.map(|i| (i, cell(Some(i)))) {
        Some((_, "")) | None => None,
        Some((i, text)) => {
            let id = if is_guid(text) {
                Uuid::try_parse(text).ok()
            } else {
                None
            };
            let invalid = || {
                bad(
                    i,
                    "csv::invalid-key",
                    format!("`{text}` is not an object id (GUID)"),
                    "write the id as 8-4-4-4-12 hex digits",
                )
            };
            Some(id.ok_or_else(invalid)?)
        }
    };
    let upn = match cols.upn {
        Some(i) => {
            let upn = cell(Some(i));
            if upn.is_empty() {
                return Err(bad(
                    i,
                    "csv::empty-key",
                    "the `userPrincipalName` cell is empty".to_owned(),
                    "every user needs a user principal name",
                ));
            }
            if !is_upn(upn) {
                return Err(bad(
                    i,
                    "csv::invalid-key",
                    format!("`{upn}` is not a user principal name"),
                    "a UPN looks like `name@domain`",
                ));
            }
            upn.to_owned()
        }
        None => match id {
            Some(id) => format!("{id}@{}", config.tenant_domain),
            None => {
                let i = cols.id.unwrap_or(0);
                return Err(bad(
                    i,
                    "csv::empty-key",
                    "the `id` cell is empty".to_owned(),
                    "every user needs an object id when there is no `userPrincipalName` column",
                ));
            }
        },
    };
    let upn_column = cols.upn.or(cols.id).unwrap_or(0);
    let flag = |column: Option<usize>, name: &str| -> Result<Option<bool>, RowProblem> {
        let Some(i) = column else { return Ok(None) };
        let text = cell(Some(i));
        if text.is_empty() {
            return Ok(None);
        }
        parse_bool(text).map(Some).ok_or_else(|| {
            bad(
                i,
                "emulator::invalid-value",
                format!("`{text}` is not a valid `{name}` (true/false or yes/no)"),
                "write true, false, yes or no",
            )
        })
    };
    let enabled = flag(cols.enabled, "accountEnabled")?.map(|v| v != cols.enabled_inverted);
    let synced = flag(cols.synced, "onPremisesSyncEnabled")?.unwrap_or(false);
    let locked = flag(cols.locked, "lockedOut")?;
    let guest = match cols.user_type.map(|i| (i, cell(Some(i)))) {
        Some((_, t)) if t.eq_ignore_ascii_case("guest") => true,
        Some((_, t)) if t.eq_ignore_ascii_case("member") => false,
        Some((_, "")) | None => upn.contains("#EXT#"),
        Some((i, t)) => {
            return Err(bad(
                i,
                "emulator::invalid-value",
                format!("`{t}` is not a valid `userType`"),
                "write Member or Guest",
            ));
        }
    };
    let extras = links(fields, &cols.links, &config.tenant_id, dir)?;
    let mut draws = Draws::new(config.seed, &upn);
    let mut seeded = draws.seeded(config, now);
    seeded.enabled = enabled.unwrap_or(seeded.enabled);
    seeded.locked = locked.unwrap_or(seeded.locked);
    let local = upn.split('@').next().unwrap_or(&upn);
    let display_name = match cell(cols.display_name) {
        "" => local,
        name => name,
    };
    let pushed = dir.push(NewUser {
        upn: &upn,
        id: id.unwrap_or_else(|| draws.id()),
        display_name,
        given_name: cell(cols.given_name),
        surname: cell(cols.surname),
        extras,
        synced,
        guest,
        seeded,
    });
    match pushed {
        Ok(()) => Ok(()),
        Err(PushError::DuplicateUpn) => Err(bad(
            upn_column,
            "csv::duplicate-key",
            format!("`{upn}` appears more than once"),
            "list each user once",
        )),
        Err(PushError::DuplicateId) => Err(bad(
            cols.id.unwrap_or(upn_column),
            "csv::duplicate-key",
            "this object id appears more than once".to_owned(),
            "give each user its own id",
        )),
        Err(PushError::TooLarge) => Err(bad(
            upn_column,
            "emulator::invalid-value",
            "the row is too large".to_owned(),
            "keep cells below 4 GiB",
        )),
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
fn links(
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

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::emulator::config::UserSource;
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
    fn reads_explicit_state_from_a_plain_csv() {
        let f = csv(
            "userPrincipalName,id,displayName,givenName,surname,accountEnabled,onPremisesSyncEnabled,roles,lockedOut,userType\n\
                     adele@contoso.com,8a1c0e2f-1b2c-4d3e-8f4a-5b6c7d8e9f01,Adele Vance,Adele,Vance,False,true,Global Administrator; Helpdesk Administrator,yes,\n\
                     bob@contoso.com,,,,,,,,,Guest\n",
        );
        let dir = seed(&config(UserSource::Csv(f.path().to_owned())), 1_795_600_800).unwrap();
        let adele = dir.find("ADELE@contoso.com").unwrap();
        assert_eq!(adele.id.to_string(), "8a1c0e2f-1b2c-4d3e-8f4a-5b6c7d8e9f01");
        assert!(!adele.state().enabled);
        assert!(adele.state().locked);
        assert!(adele.synced);
        assert_eq!(
            dir.role_names(adele),
            ["Global Administrator", "Helpdesk Administrator"]
        );
        let bob = dir.find("bob@contoso.com").unwrap();
        assert!(bob.guest);
        assert_eq!(bob.seeded_display_name(), "bob");
        assert_eq!(bob.id, Draws::new(0, "Bob@Contoso.com").id());
    }

    #[test]
    fn bulk_template_block_sign_in_is_inverted() {
        let f = csv("version:v1.0,,\n\
                     Name [displayName] Required,User name [userPrincipalName] Required,Block sign in (Yes/No) [accountEnabled] Required\n\
                     Example: Chris Green,Example: chris@contoso.com,Example: No\n\
                     Alice,alice@contoso.com,Yes\n\
                     Bob,bob@contoso.com,No\n");
        let dir = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap();
        assert_eq!(dir.len(), 2);
        assert!(!dir.find("alice@contoso.com").unwrap().state().enabled);
        assert!(dir.find("bob@contoso.com").unwrap().state().enabled);
    }

    #[test]
    fn entra_export_with_directory_synced() {
        let f = csv(
            "userPrincipalName,displayName,id,userType,accountEnabled,directorySynced\n\
                     a@contoso.com,A,0f8fad5b-d9cb-469f-a165-70867728950e,Member,True,True\n",
        );
        let dir = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap();
        let a = dir.find("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        assert!(a.synced && a.state().enabled);
    }

    #[test]
    fn bad_rows_fail_with_every_diagnostic() {
        let f = csv("userPrincipalName,id,accountEnabled\n\
                     a@contoso.com,not-a-guid,true\n\
                     b@contoso.com,,maybe\n\
                     A@contoso.com,,\n\
                     a@CONTOSO.com,,\n\
                     c@contoso.com,x\n");
        let err = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap_err();
        let EmulatorError::Seed { diagnostics, .. } = err else {
            panic!("{err}")
        };
        let found: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.code, d.location.map(|l| (l.line, l.column))))
            .collect();
        assert_eq!(
            found,
            [
                ("csv::invalid-key", Some((2, 15))),
                ("emulator::invalid-value", Some((3, 16))),
                ("csv::duplicate-key", Some((5, 1))),
                ("csv::field-count", Some((6, 1))),
            ]
        );
        let f = csv("displayName\nA\n");
        let err = seed(&config(UserSource::Csv(f.path().to_owned())), 0).unwrap_err();
        assert!(err.to_string().contains("1 problem"), "{err}");
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
