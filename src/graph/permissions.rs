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
    /// `GET /users/{id}/transitiveMemberOf`: groups, directory roles and
    /// administrative units, direct or through groups.
    ListMemberships,
    /// `GET /users/{id}/ownedObjects`.
    ListOwnedObjects,
    /// `GET /roleManagement/directory/roleAssignments?$filter=principalId eq '…'`.
    ListRoleAssignments,
    /// `GET /roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq '…'`.
    ListRoleEligibility,
    /// `GET /roleManagement/directory/roleDefinitions/{id}`.
    ReadRoleDefinition,
    /// `GET /domains/{name}`.
    ReadDomain,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::ReadUser,
        Operation::ResetPassword,
        Operation::SetAccountEnabled,
        Operation::RevokeSessions,
        Operation::ListDirectoryRoles,
        Operation::ListMemberships,
        Operation::ListOwnedObjects,
        Operation::ListRoleAssignments,
        Operation::ListRoleEligibility,
        Operation::ReadRoleDefinition,
        Operation::ReadDomain,
    ];

    /// Short name used in logs, counters and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ReadUser => "read_user",
            Operation::ResetPassword => "reset_password",
            Operation::SetAccountEnabled => "set_account_enabled",
            Operation::RevokeSessions => "revoke_sessions",
            Operation::ListDirectoryRoles => "list_directory_roles",
            Operation::ListMemberships => "list_memberships",
            Operation::ListOwnedObjects => "list_owned_objects",
            Operation::ListRoleAssignments => "list_role_assignments",
            Operation::ListRoleEligibility => "list_role_eligibility",
            Operation::ReadRoleDefinition => "read_role_definition",
            Operation::ReadDomain => "read_domain",
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
            // With less than a Directory.* permission, Graph still lists the
            // groups, roles and units but "with limited information" (only
            // `@odata.type` and `id`): not enough to tell whether a group is
            // role-assignable or a unit restricted.
            Operation::ListDirectoryRoles
            | Operation::ListMemberships
            | Operation::ListOwnedObjects => {
                &[&["Directory.Read.All"], &["Directory.ReadWrite.All"]]
            }
            Operation::ListRoleAssignments | Operation::ReadRoleDefinition => &[
                &["RoleManagement.Read.Directory"],
                &["Directory.Read.All"],
                &["RoleManagement.Read.All"],
                &["RoleManagement.ReadWrite.Directory"],
                &["Directory.ReadWrite.All"],
            ],
            // Directory.Read.All does not cover PIM's schedules.
            Operation::ListRoleEligibility => &[
                &["RoleEligibilitySchedule.Read.Directory"],
                &["RoleEligibilitySchedule.ReadWrite.Directory"],
                &["RoleManagement.Read.All"],
                &["RoleManagement.Read.Directory"],
                &["RoleManagement.ReadWrite.Directory"],
            ],
            Operation::ReadDomain => &[
                &["Domain.Read.All"],
                &["Directory.Read.All"],
                &["Domain.ReadWrite.All"],
                &["Directory.ReadWrite.All"],
            ],
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
    "RoleEligibilitySchedule.Read.Directory",
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
