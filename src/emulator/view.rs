//! [`UserView`]: one user as `GET /_users` shows it, including what Graph
//! does not expose (lockout, counters, every privilege fact in one place).

use serde::{Deserialize, Serialize};

use super::clock;
use super::directory::{Directory, User};

/// One user as `GET /_users` shows it: the emulator's whole view,
/// including what Graph does not expose (lockout, counters). Never a
/// password: only the SHA-256 of the last one set through the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_principal_name: String,
    pub id: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `true` for synced users, `null` otherwise (as Graph shows it).
    pub on_premises_sync_enabled: Option<bool>,
    pub locked_out: bool,
    /// Built-in roles held directly, tenant-wide.
    pub roles: Vec<String>,
    /// Custom roles held directly, tenant-wide.
    #[serde(default)]
    pub custom_roles: Vec<String>,
    /// Roles held at an administrative unit's scope, as `Role@Unit`.
    #[serde(default)]
    pub scoped_roles: Vec<String>,
    /// Roles the user is PIM-eligible for.
    #[serde(default)]
    pub eligible_roles: Vec<String>,
    /// Role-assignable groups the user is a member of.
    #[serde(default)]
    pub role_groups: Vec<String>,
    /// Built-in roles held through those groups.
    #[serde(default)]
    pub roles_through_groups: Vec<String>,
    /// Groups the user owns (role-assignable ones, as seeded).
    #[serde(default)]
    pub owned_role_groups: Vec<String>,
    /// Applications the user owns.
    #[serde(default)]
    pub owned_applications: Vec<String>,
    /// Ordinary groups the user is a member of.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Administrative units (not restricted) the user is in.
    #[serde(default)]
    pub units: Vec<String>,
    /// Restricted management administrative units the user is in.
    #[serde(default)]
    pub restricted_units: Vec<String>,
    /// Any of the above that makes a user privileged: only a Privileged
    /// Authentication Administrator or Global Administrator may reset or
    /// disable it (nobody, in a restricted unit).
    #[serde(default)]
    pub privileged: bool,
    /// The UPN's domain is federated (`--federated-domain`).
    #[serde(default)]
    pub federated: bool,
    /// `Member` or `Guest`.
    pub user_type: String,
    pub reset_count: u32,
    pub revoke_count: u32,
    pub enable_changes: u32,
    /// PATCH and revoke requests received for this user, whatever their
    /// answer (403s, throttled and failed ones included).
    #[serde(default)]
    pub write_attempts: u32,
    /// Hex SHA-256 of the last password set; `null` while the seeded,
    /// unknown password is in place.
    pub password_sha256: Option<String>,
    pub force_change_password_next_sign_in: bool,
    pub last_password_change_date_time: String,
    pub sign_in_sessions_valid_from_date_time: String,
}

impl Directory {
    fn role_list(&self, roles: &[u16]) -> Vec<String> {
        roles
            .iter()
            .filter_map(|r| self.roles.get(*r))
            .map(|r| r.name.to_string())
            .collect()
    }

    /// Built-in roles `user` holds directly.
    pub(crate) fn role_names(&self, user: &User) -> Vec<String> {
        self.role_list(user.roles())
    }

    pub(crate) fn view(&self, user: &User) -> UserView {
        let e = user.extras();
        let o = &self.objects;
        let groups = |assignable: bool, list: &[u32]| -> Vec<String> {
            list.iter()
                .filter_map(|g| o.group_at(*g))
                .filter(|g| g.assignable == assignable)
                .map(|g| g.name.to_string())
                .collect()
        };
        let units = |restricted: bool| -> Vec<String> {
            e.units
                .iter()
                .filter_map(|u| o.unit_at(*u))
                .filter(|u| u.restricted == restricted)
                .map(|u| u.name.to_string())
                .collect()
        };
        let scoped_roles = e
            .scoped_roles
            .iter()
            .filter_map(|(r, u)| Some((self.roles.get(*r)?, o.unit_at(*u)?)))
            .map(|(r, u)| format!("{}@{}", r.name, u.name))
            .collect();
        let owned_role_groups = e
            .owned_groups
            .iter()
            .filter_map(|g| o.group_at(*g))
            .map(|g| g.name.to_string())
            .collect();
        let view = UserView {
            user_principal_name: user.upn().to_owned(),
            id: user.id.to_string(),
            display_name: String::new(),
            account_enabled: false,
            on_premises_sync_enabled: user.synced.then_some(true),
            locked_out: false,
            roles: self.role_names(user),
            custom_roles: self.role_list(&e.custom_roles),
            scoped_roles,
            eligible_roles: self.role_list(&e.eligible_roles),
            role_groups: groups(true, &e.groups),
            roles_through_groups: self.role_list(&self.roles_through_groups(user)),
            owned_role_groups,
            owned_applications: e
                .owned_apps
                .iter()
                .filter_map(|a| o.app_at(*a))
                .map(|a| a.name.to_string())
                .collect(),
            groups: groups(false, &e.groups),
            units: units(false),
            restricted_units: units(true),
            privileged: self.facts(user).privileged,
            federated: o.upn_is_federated(user.upn()),
            user_type: if user.guest { "Guest" } else { "Member" }.to_owned(),
            reset_count: 0,
            revoke_count: 0,
            enable_changes: 0,
            write_attempts: 0,
            password_sha256: None,
            force_change_password_next_sign_in: false,
            last_password_change_date_time: String::new(),
            sign_in_sessions_valid_from_date_time: String::new(),
        };
        let s = user.state();
        UserView {
            display_name: s
                .display_name
                .as_deref()
                .unwrap_or(user.seeded_display_name())
                .to_owned(),
            account_enabled: s.enabled,
            locked_out: s.locked,
            reset_count: s.reset_count,
            revoke_count: s.revoke_count,
            enable_changes: s.enable_changes,
            write_attempts: s.write_attempts,
            password_sha256: s.password_sha256.as_deref().map(hex::encode),
            force_change_password_next_sign_in: s.force_change,
            last_password_change_date_time: clock::iso(s.last_password_change),
            sign_in_sessions_valid_from_date_time: clock::iso(s.sessions_valid_from),
            ..view
        }
    }
}
