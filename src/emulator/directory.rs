//! The emulated directory: users in one `Vec`, two indexes (case-insensitive
//! UPN and object id), per-user locks, the roles, groups, units and
//! applications users refer to, what makes a user privileged, and the
//! state behind each user's lock.
//!
//! The set of users is fixed after seeding (the emulator neither creates
//! nor deletes users), so the `Vec` and the indexes are read without locks;
//! only each user's mutable [`UserState`] sits behind its own `Mutex`,
//! held for microseconds and never across an `.await`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use super::objects::Objects;
use super::roles::RoleTable;

/// A user as seeded: everything except what requests can change.
#[derive(Debug)]
pub(crate) struct User {
    /// UPN, display name, given name and surname back to back: one
    /// allocation per user instead of four.
    text: Box<str>,
    /// Byte lengths of the UPN, display name and given name in `text`.
    lens: [u32; 3],
    pub id: Uuid,
    /// Roles, groups and units: `None` for the many users who have none.
    extras: Option<Box<Extras>>,
    pub synced: bool,
    pub guest: bool,
    seeded: Seeded,
    state: Mutex<UserState>,
}

/// What a few users have: roles, memberships, ownerships. Indexes into the
/// directory's [`RoleTable`] (`u16`) and [`Objects`] (`u32`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Extras {
    /// Built-in roles held directly, tenant-wide.
    pub roles: Vec<u16>,
    /// Custom roles held directly, tenant-wide.
    pub custom_roles: Vec<u16>,
    /// Roles (built-in or custom) held at an administrative unit's scope:
    /// (role, unit).
    pub scoped_roles: Vec<(u16, u32)>,
    /// Roles the user is PIM-eligible for, tenant-wide.
    pub eligible_roles: Vec<u16>,
    /// Groups the user is a member of (role-assignable or not).
    pub groups: Vec<u32>,
    /// Groups the user owns.
    pub owned_groups: Vec<u32>,
    /// Applications the user owns.
    pub owned_apps: Vec<u32>,
    /// Administrative units the user is in (restricted or not).
    pub units: Vec<u32>,
}

impl Extras {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Extras::default()
    }
}

/// The seeded values of what requests can change, for `POST /_reset`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeded {
    pub enabled: bool,
    pub locked: bool,
    pub last_password_change: i64,
    pub sessions_valid_from: i64,
}

/// What requests change. Kept small: 1,000,000 users must fit easily.
#[derive(Debug)]
pub(crate) struct UserState {
    pub enabled: bool,
    pub locked: bool,
    pub force_change: bool,
    pub force_change_mfa: bool,
    /// Set by `PATCH displayName`; `None` keeps the seeded name.
    pub display_name: Option<Box<str>>,
    /// SHA-256 of the last password set through the emulator; `None` while
    /// the seeded (unknown) password is in place.
    pub password_sha256: Option<Box<[u8; 32]>>,
    pub last_password_change: i64,
    pub sessions_valid_from: i64,
    pub reset_count: u32,
    pub revoke_count: u32,
    pub enable_changes: u32,
    /// PATCH and revoke requests received for this user, whatever their
    /// answer (403s and throttled ones included).
    pub write_attempts: u32,
}

impl UserState {
    fn seeded(s: Seeded) -> Self {
        UserState {
            enabled: s.enabled,
            locked: s.locked,
            force_change: false,
            force_change_mfa: false,
            display_name: None,
            password_sha256: None,
            last_password_change: s.last_password_change,
            sessions_valid_from: s.sessions_valid_from,
            reset_count: 0,
            revoke_count: 0,
            enable_changes: 0,
            write_attempts: 0,
        }
    }
}

/// What seeding hands to [`Directory::push`].
pub(crate) struct NewUser<'a> {
    pub upn: &'a str,
    pub id: Uuid,
    pub display_name: &'a str,
    pub given_name: &'a str,
    pub surname: &'a str,
    pub extras: Extras,
    pub synced: bool,
    pub guest: bool,
    pub seeded: Seeded,
}

impl User {
    fn new(u: NewUser<'_>) -> Option<Self> {
        let len = |s: &str| u32::try_from(s.len()).ok();
        let lens = [len(u.upn)?, len(u.display_name)?, len(u.given_name)?];
        let mut text = String::with_capacity(
            u.upn.len() + u.display_name.len() + u.given_name.len() + u.surname.len(),
        );
        for part in [u.upn, u.display_name, u.given_name, u.surname] {
            text.push_str(part);
        }
        Some(User {
            text: text.into_boxed_str(),
            lens,
            id: u.id,
            extras: (!u.extras.is_empty()).then(|| Box::new(shrunk(u.extras))),
            synced: u.synced,
            guest: u.guest,
            seeded: u.seeded,
            state: Mutex::new(UserState::seeded(u.seeded)),
        })
    }

    /// The user's roles, groups and units (empty for most users).
    pub(crate) fn extras(&self) -> &Extras {
        static NONE: Extras = Extras {
            roles: Vec::new(),
            custom_roles: Vec::new(),
            scoped_roles: Vec::new(),
            eligible_roles: Vec::new(),
            groups: Vec::new(),
            owned_groups: Vec::new(),
            owned_apps: Vec::new(),
            units: Vec::new(),
        };
        self.extras.as_deref().unwrap_or(&NONE)
    }

    /// Built-in roles held directly, tenant-wide (indexes into the
    /// directory's [`RoleTable`]).
    pub(crate) fn roles(&self) -> &[u16] {
        &self.extras().roles
    }

    fn part(&self, i: usize) -> &str {
        let mut start = 0usize;
        for len in &self.lens[..i] {
            start += *len as usize;
        }
        let end = self
            .lens
            .get(i)
            .map_or(self.text.len(), |l| start + *l as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    pub(crate) fn upn(&self) -> &str {
        self.part(0)
    }

    /// The seeded display name (see [`UserState::display_name`]).
    pub(crate) fn seeded_display_name(&self) -> &str {
        self.part(1)
    }

    pub(crate) fn given_name(&self) -> &str {
        self.part(2)
    }

    pub(crate) fn surname(&self) -> &str {
        self.part(3)
    }

    /// The UPN's local part, without a guest's `#EXT#` suffix.
    pub(crate) fn mail_nickname(&self) -> &str {
        let upn = self.upn();
        let local = upn.split('@').next().unwrap_or(upn);
        local.split("#EXT#").next().unwrap_or(local)
    }

    /// A guest's UPN is `alice_fabrikam.com#EXT#@...`: mail is the
    /// original address; a member's mail is the UPN.
    pub(crate) fn mail(&self) -> String {
        let upn = self.upn();
        match upn.find("#EXT#") {
            Some(i) => {
                let local = &upn[..i];
                match local.rfind('_') {
                    Some(u) => format!("{}@{}", &local[..u], &local[u + 1..]),
                    None => local.to_owned(),
                }
            }
            None => upn.to_owned(),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, UserState> {
        // A panic while holding the lock cannot leave a half-applied change:
        // every change is a few plain assignments. So poisoning is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reset(&self) {
        *self.state() = UserState::seeded(self.seeded);
    }
}

/// `e` without spare capacity: seeding pushes into these lists.
fn shrunk(mut e: Extras) -> Extras {
    e.roles.shrink_to_fit();
    e.custom_roles.shrink_to_fit();
    e.scoped_roles.shrink_to_fit();
    e.eligible_roles.shrink_to_fit();
    e.groups.shrink_to_fit();
    e.owned_groups.shrink_to_fit();
    e.owned_apps.shrink_to_fit();
    e.units.shrink_to_fit();
    e
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PrehashedMap = HashMap<u64, u32, BuildHasherDefault<Prehashed>>;

/// Lower-case `s` character by character, as Entra compares UPNs.
fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn upn_hash(upn: &str) -> u64 {
    let mut h = DefaultHasher::new();
    for c in folded(upn) {
        c.hash(&mut h);
    }
    h.finish()
}

fn same_upn(a: &str, b: &str) -> bool {
    folded(a).eq(folded(b))
}

fn id_key(id: Uuid) -> u64 {
    let (hi, lo) = id.as_u64_pair();
    hi ^ lo.rotate_left(17)
}

/// Why a user could not be added.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    DuplicateUpn,
    DuplicateId,
    TooLarge,
}

/// All users plus the two lookup indexes. Indexes hold 64-bit hashes and
/// a `u32` position, not copies of the keys; a (practically impossible)
/// hash collision spills into a small exact map.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    users: Vec<User>,
    by_upn: PrehashedMap,
    by_id: PrehashedMap,
    upn_spill: HashMap<String, u32>,
    id_spill: HashMap<Uuid, u32>,
    pub roles: RoleTable,
    pub objects: Objects,
    /// The directory roles the app's service principal holds.
    pub app_roles: Vec<u16>,
}

impl Directory {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Directory {
            users: Vec::with_capacity(n),
            by_upn: PrehashedMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            by_id: PrehashedMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            ..Directory::default()
        }
    }

    pub(crate) fn push(&mut self, new: NewUser<'_>) -> Result<(), PushError> {
        if self.find_upn(new.upn).is_some() {
            return Err(PushError::DuplicateUpn);
        }
        if self.by_object_id(new.id).is_some() {
            return Err(PushError::DuplicateId);
        }
        let index = u32::try_from(self.users.len()).map_err(|_| PushError::TooLarge)?;
        let (upn, id) = (new.upn, new.id);
        let user = User::new(new).ok_or(PushError::TooLarge)?;
        self.objects.note_upn(upn);
        // On a hash collision the first owner keeps the index entry and the
        // newcomer goes to the exact spill map.
        match self.by_upn.entry(upn_hash(upn)) {
            Entry::Occupied(_) => {
                self.upn_spill.insert(folded(upn).collect(), index);
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
        match self.by_id.entry(id_key(id)) {
            Entry::Occupied(_) => {
                self.id_spill.insert(id, index);
            }
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
        self.users.push(user);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn users(&self) -> &[User] {
        &self.users
    }

    /// `key` is an object id (GUID) or a UPN (compared case-insensitively).
    pub(crate) fn find(&self, key: &str) -> Option<&User> {
        match Uuid::try_parse(key) {
            Ok(id) => self.by_object_id(id),
            Err(_) => self.find_upn(key),
        }
    }

    pub(crate) fn by_object_id(&self, id: Uuid) -> Option<&User> {
        let hit = self
            .by_id
            .get(&id_key(id))
            .and_then(|i| self.users.get(*i as usize))
            .filter(|u| u.id == id);
        hit.or_else(|| {
            self.id_spill
                .get(&id)
                .and_then(|i| self.users.get(*i as usize))
        })
    }

    /// The user whose UPN is `upn`, compared case-insensitively.
    pub(crate) fn find_upn(&self, upn: &str) -> Option<&User> {
        let hit = self
            .by_upn
            .get(&upn_hash(upn))
            .and_then(|i| self.users.get(*i as usize))
            .filter(|u| same_upn(u.upn(), upn));
        hit.or_else(|| {
            if self.upn_spill.is_empty() {
                return None;
            }
            let key: String = folded(upn).collect();
            self.upn_spill
                .get(&key)
                .and_then(|i| self.users.get(*i as usize))
        })
    }

    /// Restore every user's seeded state (`POST /_reset`).
    pub(crate) fn reset(&self) {
        for user in &self.users {
            user.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user(upn: &str, id: Uuid) -> NewUser<'_> {
        NewUser {
            upn,
            id,
            display_name: "Adele Vance",
            given_name: "Adele",
            surname: "Vance",
            extras: Extras::default(),
            synced: false,
            guest: false,
            seeded: Seeded {
                enabled: true,
                locked: true,
                last_password_change: 10,
                sessions_valid_from: 20,
            },
        }
    }

    #[test]
    fn finds_by_upn_case_insensitively_and_by_id() {
        let mut d = Directory::with_capacity(2);
        let id = Uuid::from_u128(1);
        d.push(new_user("Adele@Contoso.com", id)).unwrap();
        assert_eq!(
            d.push(new_user("adele@contoso.COM", Uuid::from_u128(2))),
            Err(PushError::DuplicateUpn)
        );
        assert_eq!(d.push(new_user("x@y.com", id)), Err(PushError::DuplicateId));
        let u = d.find("ADELE@contoso.com").unwrap();
        assert_eq!(u.upn(), "Adele@Contoso.com");
        assert_eq!(u.given_name(), "Adele");
        assert_eq!(u.surname(), "Vance");
        assert_eq!(u.seeded_display_name(), "Adele Vance");
        assert!(d.find(&id.to_string()).is_some());
        assert!(d.find(&id.to_string().to_uppercase()).is_some());
        assert!(d.find("nobody@contoso.com").is_none());
        assert!(d.find(&Uuid::from_u128(3).to_string()).is_none());
    }

    #[test]
    fn reset_restores_the_seeded_state() {
        let mut d = Directory::default();
        d.push(new_user("a@b.com", Uuid::from_u128(1))).unwrap();
        let u = d.find("a@b.com").unwrap();
        {
            let mut s = u.state();
            s.locked = false;
            s.reset_count = 3;
        }
        d.reset();
        assert!(u.state().locked);
        assert_eq!(u.state().reset_count, 0);
    }

    #[test]
    fn guest_mail_and_nickname() {
        let mut d = Directory::default();
        d.push(new_user(
            "alice_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            Uuid::from_u128(1),
        ))
        .unwrap();
        let u = &d.users()[0];
        assert_eq!(u.mail(), "alice@fabrikam.com");
        assert_eq!(u.mail_nickname(), "alice_fabrikam.com");
    }

    #[test]
    fn user_state_is_small() {
        // The roles, groups and units of the few users who have any cost
        // the others one pointer.
        assert_eq!(std::mem::size_of::<Option<Box<Extras>>>(), 8);
        assert!(
            std::mem::size_of::<User>() <= 152,
            "{}",
            std::mem::size_of::<User>()
        );
    }
}
