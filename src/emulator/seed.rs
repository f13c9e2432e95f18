//! Seeding the directory: users read from a CSV (any format
//! [`UserReader`] accepts) or generated, each given a deterministic state.
//!
//! A user's defaults (locked out? disabled? password age) come from
//! SHA-256 of the seed and the lower-cased UPN, not from a stream shared
//! by all users: editing one CSV row, or generating more users, does not
//! change anyone else's state.

use std::path::Path;

use uuid::Uuid;

use super::config::{EmulatorConfig, EmulatorError, UserSource};
use super::directory::{Directory, NewUser, PushError, Seeded};
use super::ids::{digest, splitmix64, unit};
use crate::diag::Diagnostic;
use crate::input::{CsvFormat, Header, MAX_DIAGNOSTICS, UserReader, is_guid, is_upn};

const DAY: i64 = 86_400;
/// Share of generated users that are synced from on-premises AD.
const SYNCED_RATE: f64 = 0.01;
/// Share of generated users holding an administrator role.
const ADMIN_RATE: f64 = 0.005;

/// Build the directory `config` describes.
///
/// # Errors
///
/// [`EmulatorError::Seed`] with every problem found in the CSV.
pub(crate) fn seed(config: &EmulatorConfig, now: i64) -> Result<Directory, EmulatorError> {
    match &config.users {
        UserSource::Generate(n) => Ok(generate(*n, config, now)),
        UserSource::Csv(path) => from_csv(path, config, now),
    }
}

/// Deterministic draws for one user.
struct Draws {
    digest: [u8; 32],
    state: u64,
}

impl Draws {
    fn new(seed: u64, upn: &str) -> Self {
        let folded: String = upn.chars().flat_map(char::to_lowercase).collect();
        let digest = digest(&[
            b"remedy-emulator-user",
            &seed.to_le_bytes(),
            folded.as_bytes(),
        ]);
        let mut state = [0u8; 8];
        state.copy_from_slice(&digest[16..24]);
        Draws {
            digest,
            state: u64::from_le_bytes(state),
        }
    }

    /// The object id a user gets when the CSV does not give one.
    fn id(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn next(&mut self) -> f64 {
        self.state = splitmix64(self.state);
        unit(self.state)
    }

    /// The seeded state; every draw is made whether or not it is used, so
    /// explicit CSV values do not shift the other draws.
    fn seeded(&mut self, config: &EmulatorConfig, now: i64) -> Seeded {
        let enabled = self.next() >= config.disabled_rate;
        let locked = self.next() < config.locked_rate;
        let age_days = 1.0 + self.next() * 399.0;
        let last_password_change = now - seconds(age_days * 86_400.0);
        let newest = (now - 3_600).max(last_password_change);
        let window = (newest - last_password_change).min(30 * DAY);
        #[expect(clippy::cast_precision_loss, reason = "a window of at most 30 days")]
        let offset = self.next() * window as f64;
        Seeded {
            enabled,
            locked,
            last_password_change,
            sessions_valid_from: last_password_change + seconds(offset),
        }
    }
}

fn seconds(x: f64) -> i64 {
    // `x` is a small non-negative number of seconds (below 400 days).
    #[expect(clippy::cast_possible_truncation, reason = "bounded, non-negative")]
    let s = x as i64;
    s
}

fn generate(n: u32, config: &EmulatorConfig, now: i64) -> Directory {
    let mut dir = Directory::with_capacity(n as usize);
    let ga = dir.roles.intern("Global Administrator", &config.tenant_id);
    let ua = dir.roles.intern("User Administrator", &config.tenant_id);
    for i in 1..=n {
        let upn = format!("user{i:07}@{}", config.tenant_domain);
        let mut draws = Draws::new(config.seed, &upn);
        let seeded = draws.seeded(config, now);
        let synced = draws.next() < SYNCED_RATE;
        let admin = draws.next() < ADMIN_RATE;
        let role = if draws.next() < 0.5 { ga } else { ua };
        let number = format!("{i:07}");
        let display = format!("User {number}");
        let pushed = dir.push(NewUser {
            upn: &upn,
            id: draws.id(),
            display_name: &display,
            given_name: "User",
            surname: &number,
            roles: role.filter(|_| admin).into_iter().collect(),
            synced,
            guest: false,
            seeded,
        });
        // Generated UPNs are distinct; an id collision would need two equal
        // SHA-256 prefixes. Neither can happen, so the user is just skipped.
        debug_assert!(pushed.is_ok());
    }
    dir
}

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
    roles: Option<usize>,
    user_type: Option<usize>,
    locked: Option<usize>,
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
            roles: h.index_of("roles"),
            user_type: h.index_of("userType"),
            locked: h.index_of("lockedOut"),
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

fn from_csv(path: &Path, config: &EmulatorConfig, now: i64) -> Result<Directory, EmulatorError> {
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
    let mut roles = Vec::new();
    if let Some(i) = cols.roles {
        for name in cell(Some(i))
            .split(';')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let index = dir.roles.intern(name, &config.tenant_id).ok_or_else(|| {
                bad(
                    i,
                    "emulator::invalid-value",
                    "too many distinct roles".to_owned(),
                    "use at most 65,535 role names",
                )
            })?;
            if !roles.contains(&index) {
                roles.push(index);
            }
        }
    }
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
        roles: roles.into_boxed_slice(),
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
    use crate::emulator::directory::User;

    fn config(users: UserSource) -> EmulatorConfig {
        EmulatorConfig {
            users,
            ..EmulatorConfig::default()
        }
    }

    fn share(users: &[User], f: impl Fn(&User) -> bool) -> f64 {
        let n = users.iter().filter(|u| f(u)).count();
        #[expect(clippy::cast_precision_loss, reason = "test counts")]
        let share = n as f64 / users.len() as f64;
        share
    }

    #[test]
    fn generated_state_follows_the_rates_and_the_seed() {
        let c = config(UserSource::Generate(20_000));
        let dir = seed(&c, 1_795_600_800).unwrap();
        let users = dir.users();
        assert_eq!(users.len(), 20_000);
        assert_eq!(users[0].upn(), "user0000001@contoso.onmicrosoft.com");
        let locked = share(users, |u| u.state().locked);
        let disabled = share(users, |u| !u.state().enabled);
        let synced = share(users, |u| u.synced);
        let admins = share(users, |u| !u.roles.is_empty());
        assert!((0.28..0.32).contains(&locked), "{locked}");
        assert!((0.09..0.11).contains(&disabled), "{disabled}");
        assert!((0.007..0.013).contains(&synced), "{synced}");
        assert!((0.003..0.007).contains(&admins), "{admins}");
        for u in users.iter().take(50) {
            let s = u.state();
            assert!(s.last_password_change < 1_795_600_800);
            assert!(s.sessions_valid_from >= s.last_password_change);
            assert!(s.sessions_valid_from < 1_795_600_800);
        }
        let again = seed(&c, 1_795_600_800).unwrap();
        let other = seed(&EmulatorConfig { seed: 1, ..c }, 1_795_600_800).unwrap();
        let states = |d: &Directory| -> Vec<(Uuid, bool, bool)> {
            d.users()
                .iter()
                .take(200)
                .map(|u| {
                    let s = u.state();
                    (u.id, s.locked, s.enabled)
                })
                .collect()
        };
        assert_eq!(states(&dir), states(&again));
        assert_ne!(states(&dir), states(&other));
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
