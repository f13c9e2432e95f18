//! Seeding the directory: users generated or read from a CSV
//! ([`super::seed_csv`]), each given a deterministic state, plus the
//! tenant-wide facts every directory gets (the app's roles, the federated
//! domains).
//!
//! A user's defaults (locked out? disabled? password age) come from
//! SHA-256 of the seed and the lower-cased UPN, not from a stream shared
//! by all users: editing one CSV row, or generating more users, does not
//! change anyone else's state. Generated users draw their kinds (synced,
//! admin, guest, groups, ...) from the same per-user stream, in a fixed
//! order; a new kind is drawn after all the others, so that adding it
//! leaves every existing user as it was.

use uuid::Uuid;

use super::config::{EmulatorConfig, EmulatorError, UserSource};
use super::directory::{Directory, Extras, NewUser, Seeded};
use super::ids::{digest, splitmix64, unit};
use super::roles::Kind;
use super::seed_csv;

const DAY: i64 = 86_400;
/// Share of generated users that are synced from on-premises AD.
const SYNCED_RATE: f64 = 0.01;
/// Share of generated users holding an administrator role.
const ADMIN_RATE: f64 = 0.005;
/// Share of generated users that are guests (`userType` Guest).
const GUEST_RATE: f64 = 0.01;
/// Share of generated users in an ordinary group.
const GROUP_RATE: f64 = 0.02;
/// Share of generated users in an ordinary administrative unit.
const UNIT_RATE: f64 = 0.01;
/// Share of generated users in a role-assignable group (half of them in
/// one that holds Global Administrator).
const ROLE_GROUP_RATE: f64 = 0.002;
/// Share of generated users owning a role-assignable group.
const OWNER_RATE: f64 = 0.001;
/// Share of generated users holding a custom role.
const CUSTOM_ROLE_RATE: f64 = 0.001;
/// Share of generated users holding a role scoped to an administrative unit.
const SCOPED_ROLE_RATE: f64 = 0.001;
/// Share of generated users PIM-eligible for a role.
const ELIGIBLE_RATE: f64 = 0.002;
/// Share of generated users in a restricted management administrative unit.
const RESTRICTED_UNIT_RATE: f64 = 0.001;
/// Share of generated users owning an application (not a privilege).
const OWNED_APP_RATE: f64 = 0.001;

/// Build the directory `config` describes.
///
/// # Errors
///
/// [`EmulatorError::Seed`] with every problem found in the CSV.
pub(crate) fn seed(config: &EmulatorConfig, now: i64) -> Result<Directory, EmulatorError> {
    let mut dir = match &config.users {
        UserSource::Generate(n) => generate(*n, config, now),
        UserSource::Csv(path) => seed_csv::from_csv(path, config, now)?,
    };
    dir.objects.set_federated(&config.federated_domains);
    let paa = config
        .privileged_admin
        .then_some("Privileged Authentication Administrator");
    for name in config.app_roles.iter().map(String::as_str).chain(paa) {
        // Checked by `EmulatorConfig::validate`: every name is a built-in
        // role, so this cannot clash with a custom one.
        if let Ok(role) = dir.roles.intern_as(name, &config.tenant_id, Kind::BuiltIn)
            && !dir.app_roles.contains(&role)
        {
            dir.app_roles.push(role);
        }
    }
    Ok(dir)
}

/// Deterministic draws for one user.
pub(crate) struct Draws {
    digest: [u8; 32],
    state: u64,
}

impl Draws {
    pub(crate) fn new(seed: u64, upn: &str) -> Self {
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
    pub(crate) fn id(&self) -> Uuid {
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
    pub(crate) fn seeded(&mut self, config: &EmulatorConfig, now: i64) -> Seeded {
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

    /// One draw against `rate`: `None` (the usual case), or `Some(first)`
    /// where `first` picks one of two fixtures. One draw either way, so
    /// the draws after it stay where they were.
    fn pick(&mut self, rate: f64) -> Option<bool> {
        let x = self.next();
        (x < rate).then(|| x < rate / 2.0)
    }
}

fn seconds(x: f64) -> i64 {
    // `x` is a small non-negative number of seconds (below 400 days).
    #[expect(clippy::cast_possible_truncation, reason = "bounded, non-negative")]
    let s = x as i64;
    s
}

/// The roles, groups, units and applications generated users refer to.
struct Fixtures {
    ga: u16,
    ua: u16,
    paa: u16,
    helpdesk: u16,
    custom: u16,
    tier0: u32,
    operators: u32,
    sales: u32,
    staff: u32,
    west: u32,
    east: u32,
    executives: u32,
    payroll: u32,
}

impl Fixtures {
    /// `None` only if a name clashed, which fixed names cannot.
    fn new(dir: &mut Directory, tenant: &str) -> Option<Self> {
        let mut role = |name: &str, kind: Kind| dir.roles.intern_as(name, tenant, kind).ok();
        let ga = role("Global Administrator", Kind::BuiltIn)?;
        let ua = role("User Administrator", Kind::BuiltIn)?;
        let paa = role("Privileged Authentication Administrator", Kind::BuiltIn)?;
        let helpdesk = role("Helpdesk Administrator", Kind::BuiltIn)?;
        let custom = role("Helpdesk Tier 2", Kind::Custom)?;
        let o = &mut dir.objects;
        let tier0 = o.group("Tier0 Admins", tenant, true).ok()?;
        o.grant(tier0, ga);
        Some(Fixtures {
            ga,
            ua,
            paa,
            helpdesk,
            custom,
            tier0,
            operators: o.group("Identity Operators", tenant, true).ok()?,
            sales: o.group("Sales", tenant, false).ok()?,
            staff: o.group("All Staff", tenant, false).ok()?,
            west: o.unit("Region West", tenant, Some(false)).ok()?,
            east: o.unit("Region East", tenant, Some(false)).ok()?,
            executives: o.unit("Executives", tenant, Some(true)).ok()?,
            payroll: o.app("Payroll Connector", tenant).ok()?,
        })
    }

    /// Draw everything after the account state, in a fixed order (append
    /// new kinds at the end). Returns (synced, guest, extras).
    fn draw(&self, draws: &mut Draws) -> (bool, bool, Extras) {
        let synced = draws.next() < SYNCED_RATE;
        let admin = draws.next() < ADMIN_RATE;
        let role = if draws.next() < 0.5 { self.ga } else { self.ua };
        let mut e = Extras::default();
        if admin {
            e.roles.push(role);
        }
        let guest = draws.next() < GUEST_RATE;
        if let Some(first) = draws.pick(GROUP_RATE) {
            e.groups.push(if first { self.sales } else { self.staff });
        }
        if let Some(first) = draws.pick(UNIT_RATE) {
            e.units.push(if first { self.west } else { self.east });
        }
        if let Some(first) = draws.pick(ROLE_GROUP_RATE) {
            e.groups
                .push(if first { self.tier0 } else { self.operators });
        }
        if let Some(first) = draws.pick(OWNER_RATE) {
            e.owned_groups
                .push(if first { self.tier0 } else { self.operators });
        }
        if draws.pick(CUSTOM_ROLE_RATE).is_some() {
            e.custom_roles.push(self.custom);
        }
        if let Some(first) = draws.pick(SCOPED_ROLE_RATE) {
            e.scoped_roles.push(if first {
                (self.helpdesk, self.west)
            } else {
                (self.custom, self.east)
            });
        }
        if let Some(first) = draws.pick(ELIGIBLE_RATE) {
            e.eligible_roles
                .push(if first { self.ga } else { self.paa });
        }
        if draws.pick(RESTRICTED_UNIT_RATE).is_some() {
            e.units.push(self.executives);
        }
        if draws.pick(OWNED_APP_RATE).is_some() {
            e.owned_apps.push(self.payroll);
        }
        (synced, guest, e)
    }
}

fn generate(n: u32, config: &EmulatorConfig, now: i64) -> Directory {
    let mut dir = Directory::with_capacity(n as usize);
    let Some(fixtures) = Fixtures::new(&mut dir, &config.tenant_id) else {
        return dir;
    };
    for i in 1..=n {
        let upn = format!("user{i:07}@{}", config.tenant_domain);
        let mut draws = Draws::new(config.seed, &upn);
        let seeded = draws.seeded(config, now);
        let (synced, guest, extras) = fixtures.draw(&mut draws);
        let number = format!("{i:07}");
        let display = format!("User {number}");
        let pushed = dir.push(NewUser {
            upn: &upn,
            id: draws.id(),
            display_name: &display,
            given_name: "User",
            surname: &number,
            extras,
            synced,
            guest,
            seeded,
        });
        // Generated UPNs are distinct; an id collision would need two equal
        // SHA-256 prefixes. Neither can happen, so the user is just skipped.
        debug_assert!(pushed.is_ok());
    }
    dir
}

#[cfg(test)]
mod tests {
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
        let admins = share(users, |u| !u.roles().is_empty());
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

    /// The users generated before the privilege kinds existed keep their
    /// state, sync flag and roles: these values come from an independent
    /// re-implementation of the original draws (SHA-256 + SplitMix64).
    #[test]
    fn new_kinds_leave_existing_users_as_they_were() {
        let dir = seed(&config(UserSource::Generate(2_000)), 1_795_600_800).unwrap();
        let users = dir.users();
        let number = |u: &User| u.surname().parse::<u32>().unwrap();
        let synced: Vec<u32> = users.iter().filter(|u| u.synced).map(number).collect();
        assert_eq!(
            synced,
            [
                235, 325, 418, 440, 524, 609, 801, 873, 903, 1252, 1360, 1369, 1462, 1500, 1573,
                1625, 1771, 1992
            ]
        );
        let admins: Vec<(u32, Vec<String>)> = users
            .iter()
            .filter(|u| !u.roles().is_empty())
            .map(|u| (number(u), dir.role_names(u)))
            .collect();
        let ga = || vec!["Global Administrator".to_owned()];
        let ua = || vec!["User Administrator".to_owned()];
        assert_eq!(
            admins,
            [
                (45, ua()),
                (291, ga()),
                (444, ua()),
                (881, ga()),
                (1055, ga()),
                (1149, ga()),
                (1318, ga()),
                (1426, ga()),
                (1515, ua()),
                (1801, ga())
            ]
        );
        let locked = users.iter().filter(|u| u.state().locked).count();
        let disabled = users.iter().filter(|u| !u.state().enabled).count();
        assert_eq!((locked, disabled), (614, 183));
    }

    #[test]
    fn every_generated_kind_appears_at_its_share() {
        let n = 200_000;
        let dir = seed(&config(UserSource::Generate(n)), 1_795_600_800).unwrap();
        let users = dir.users();
        let o = &dir.objects;
        let in_group = |u: &User, assignable: bool| {
            u.extras()
                .groups
                .iter()
                .any(|g| o.group_at(*g).unwrap().assignable == assignable)
        };
        let in_unit = |u: &User, restricted: bool| {
            u.extras()
                .units
                .iter()
                .any(|x| o.unit_at(*x).unwrap().restricted == restricted)
        };
        type Is<'a> = &'a dyn Fn(&User) -> bool;
        let cases: [(&str, f64, Is<'_>); 11] = [
            ("guest", GUEST_RATE, &|u| u.guest),
            ("group", GROUP_RATE, &|u| in_group(u, false)),
            ("unit", UNIT_RATE, &|u| in_unit(u, false)),
            ("role group", ROLE_GROUP_RATE, &|u| in_group(u, true)),
            ("owner", OWNER_RATE, &|u| {
                !u.extras().owned_groups.is_empty()
            }),
            ("custom", CUSTOM_ROLE_RATE, &|u| {
                !u.extras().custom_roles.is_empty()
            }),
            ("scoped", SCOPED_ROLE_RATE, &|u| {
                !u.extras().scoped_roles.is_empty()
            }),
            ("eligible", ELIGIBLE_RATE, &|u| {
                !u.extras().eligible_roles.is_empty()
            }),
            ("restricted", RESTRICTED_UNIT_RATE, &|u| in_unit(u, true)),
            ("app owner", OWNED_APP_RATE, &|u| {
                !u.extras().owned_apps.is_empty()
            }),
            ("admin", ADMIN_RATE, &|u| !u.roles().is_empty()),
        ];
        for (name, rate, f) in cases {
            let got = share(users, f);
            assert!(
                (rate * 0.7..rate * 1.3).contains(&got),
                "{name}: {got} vs {rate}"
            );
        }
        // Both fixtures of a two-way pick appear.
        let tier0 = users
            .iter()
            .filter(|u| !dir.roles_through_groups(u).is_empty())
            .count();
        let role_groups = users.iter().filter(|u| in_group(u, true)).count();
        assert!(tier0 > 0 && tier0 < role_groups, "{tier0} of {role_groups}");
        let privileged = share(users, |u| dir.facts(u).privileged);
        assert!((0.011..0.016).contains(&privileged), "{privileged}");
        // Most users carry no extras at all: the memory stays with the few.
        let plain = share(users, |u| u.extras().is_empty());
        assert!(plain > 0.94, "{plain}");
    }

    #[test]
    fn the_apps_roles_come_from_the_config() {
        let ids = |c: &EmulatorConfig| -> Vec<String> {
            let dir = seed(c, 0).unwrap();
            dir.app_roles
                .iter()
                .map(|r| dir.roles.get(*r).unwrap().name.to_string())
                .collect()
        };
        let c = config(UserSource::Generate(1));
        assert_eq!(ids(&c), ["User Administrator"]);
        let c = EmulatorConfig {
            privileged_admin: true,
            ..c
        };
        assert_eq!(
            ids(&c),
            [
                "User Administrator",
                "Privileged Authentication Administrator"
            ]
        );
        let c = EmulatorConfig {
            app_roles: Vec::new(),
            privileged_admin: false,
            ..c
        };
        assert!(ids(&c).is_empty());
    }
}
