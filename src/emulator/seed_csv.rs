//! Seeding the directory from a CSV (any format [`UserReader`] accepts):
//! the columns it reads, each row's account state (its privilege lists
//! are [`super::seed_links`]'s), and a positioned diagnostic for every bad
//! cell.

use std::path::Path;

use uuid::Uuid;

use super::config::{EmulatorConfig, EmulatorError};
use super::directory::{Directory, NewUser, PushError};
use super::seed::Draws;
use super::seed_links::{Links, links};
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
    /// The privilege columns.
    links: Links,
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
            links: Links::new(h),
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

pub(crate) struct RowProblem {
    column: usize,
    code: &'static str,
    message: String,
    hint: &'static str,
}

pub(crate) fn bad(
    column: usize,
    code: &'static str,
    message: String,
    hint: &'static str,
) -> RowProblem {
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
}
