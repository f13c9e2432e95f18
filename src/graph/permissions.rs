//! Which Microsoft Graph application permissions (the token's `roles`
//! claim) each operation remedy performs needs. One table, used by the
//! client's error hints, `remedy doctor`, the permission preflight and the
//! emulator's 403s, so they cannot disagree.

/// An operation remedy performs against Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /users/{id}` with `$select`.
    ReadUser,
    /// `PATCH /users/{id}` with `passwordProfile`.
    ResetPassword,
    /// `PATCH /users/{id}` with `accountEnabled`.
    SetAccountEnabled,
    /// `POST /users/{id}/revokeSignInSessions`.
    RevokeSessions,
    /// `GET /users/{id}/memberOf/microsoft.graph.directoryRole`.
    ListDirectoryRoles,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::ReadUser,
        Operation::ResetPassword,
        Operation::SetAccountEnabled,
        Operation::RevokeSessions,
        Operation::ListDirectoryRoles,
    ];

    /// Short name used in logs, counters and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ReadUser => "read_user",
            Operation::ResetPassword => "reset_password",
            Operation::SetAccountEnabled => "set_account_enabled",
            Operation::RevokeSessions => "revoke_sessions",
            Operation::ListDirectoryRoles => "list_directory_roles",
        }
    }

    /// Sets of application permissions that each suffice, least privileged
    /// first. Any one complete set grants the operation.
    pub fn sufficient(self) -> &'static [&'static [&'static str]] {
        match self {
            Operation::ReadUser => &[
                &["User.Read.All"],
                &["User.ReadWrite.All"],
                &["Directory.Read.All"],
                &["Directory.ReadWrite.All"],
            ],
            Operation::ResetPassword => &[
                &["User-PasswordProfile.ReadWrite.All"],
                &["User.ReadWrite.All"],
                &["Directory.ReadWrite.All"],
            ],
            Operation::SetAccountEnabled => &[
                &["User.EnableDisableAccount.All", "User.Read.All"],
                &["User.ReadWrite.All"],
                &["Directory.ReadWrite.All"],
            ],
            Operation::RevokeSessions => &[
                &["User.RevokeSessions.All"],
                &["User.ReadWrite.All"],
                &["Directory.ReadWrite.All"],
            ],
            Operation::ListDirectoryRoles => {
                &[&["Directory.Read.All"], &["Directory.ReadWrite.All"]]
            }
        }
    }

    /// The least privileged permission set, as shown in hints.
    pub fn least_privileged(self) -> &'static [&'static str] {
        self.sufficient()[0]
    }

    /// The Entra directory role the app's service principal must also hold,
    /// where a permission alone is not enough.
    pub fn directory_role(self) -> Option<&'static str> {
        match self {
            Operation::ResetPassword => {
                Some("User Administrator (Privileged Authentication Administrator to reset admins)")
            }
            // accountEnabled is one of the sensitive properties: changing it
            // for an admin takes a role above the admin's.
            Operation::SetAccountEnabled => Some(
                "User Administrator (Privileged Authentication Administrator to enable or disable admins)",
            ),
            _ => None,
        }
    }

    /// Whether the granted `roles` allow this operation.
    pub fn granted_by<S: AsRef<str>>(self, roles: &[S]) -> bool {
        self.sufficient()
            .iter()
            .any(|set| set.iter().all(|p| roles.iter().any(|r| r.as_ref() == *p)))
    }
}

/// Every permission remedy can use, least privileged sets: what the
/// emulator grants by default and what the docs tell admins to consent to.
pub const REMEDY_PERMISSIONS: &[&str] = &[
    "User.Read.All",
    "User-PasswordProfile.ReadWrite.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
    "Directory.Read.All",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_permissions_grant_every_operation() {
        for op in Operation::ALL {
            assert!(op.granted_by(REMEDY_PERMISSIONS), "{op:?}");
        }
    }

    #[test]
    fn sign_in_changes_name_the_role_rule_too() {
        let role = Operation::SetAccountEnabled.directory_role().unwrap();
        assert!(
            role.contains("User Administrator") && role.contains("admins"),
            "{role}"
        );
        assert!(Operation::ReadUser.directory_role().is_none());
    }

    #[test]
    fn partial_sets_do_not_grant() {
        assert!(!Operation::SetAccountEnabled.granted_by(&["User.EnableDisableAccount.All"]));
        assert!(Operation::SetAccountEnabled.granted_by(&["User.ReadWrite.All"]));
        assert!(!Operation::ResetPassword.granted_by(&["User.Read.All"]));
    }
}
