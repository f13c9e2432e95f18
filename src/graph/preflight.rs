//! The permission preflight: which Graph application permissions a
//! playbook's run needs (reading users, the privileged-role guard, each
//! step) and which of them the access token's `roles` claim lacks, found
//! before the first change so that a run never fails halfway on a 403.

use crate::directory::OpKind;
use crate::graph::permissions::Operation;
use crate::playbook::Playbook;

/// One use of Graph that the token does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The step id, or what else needs the operation.
    pub needed_by: String,
    pub operation: Operation,
    /// Permissions of the least privileged sufficient set that the token
    /// lacks.
    pub permissions: Vec<&'static str>,
}

impl Missing {
    /// `step `x` (reset_password): missing P (or: A; B)`.
    pub fn describe(&self) -> String {
        let others: Vec<String> = self
            .operation
            .sufficient()
            .iter()
            .skip(1)
            .map(|set| set.join(" + "))
            .collect();
        let mut s = format!(
            "{} ({}): missing {}",
            self.needed_by,
            self.operation.as_str(),
            self.permissions.join(" + ")
        );
        if !others.is_empty() {
            s.push_str(&format!(" (or instead: {})", others.join(", ")));
        }
        s
    }
}

/// The Graph operation that performs a neutral one.
pub fn operation(op: OpKind) -> Operation {
    match op {
        OpKind::ReadAccount => Operation::ReadUser,
        OpKind::ReadPrivileges => Operation::ListDirectoryRoles,
        OpKind::ReadSignInAuthority => Operation::ReadDomain,
        OpKind::ResetPassword => Operation::ResetPassword,
        OpKind::SetEnabled => Operation::SetAccountEnabled,
        OpKind::RevokeSessions => Operation::RevokeSessions,
    }
}

/// Every Graph operation a run of `playbook` performs, with what needs it.
/// A dry run (or a plan) only reads.
pub fn operations(playbook: &Playbook, writes: bool) -> Vec<(String, Operation)> {
    let mut ops = vec![("reading each user".to_owned(), OpKind::ReadAccount)];
    if playbook.guards.protect_privileged {
        ops.push((
            "guards.protect.privileged_roles".to_owned(),
            OpKind::ReadPrivileges,
        ));
    }
    if writes {
        ops.extend(crate::steps::operations(
            playbook.steps.iter().map(|s| (s.id.as_str(), &s.kind)),
        ));
    }
    ops.into_iter()
        .map(|(by, op)| (by, operation(op)))
        .collect()
}

/// What the granted `roles` do not cover, in playbook order.
pub fn missing<S: AsRef<str>>(playbook: &Playbook, writes: bool, roles: &[S]) -> Vec<Missing> {
    operations(playbook, writes)
        .into_iter()
        .filter(|(_, op)| !op.granted_by(roles))
        .map(|(needed_by, operation)| Missing {
            needed_by,
            operation,
            permissions: operation
                .least_privileged()
                .iter()
                .copied()
                .filter(|p| !roles.iter().any(|r| r.as_ref() == *p))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::permissions::REMEDY_PERMISSIONS;

    fn playbook() -> Playbook {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workflows/incident-response.yaml"),
        )
        .unwrap();
        crate::playbook::load_str("incident-response.yaml", &text)
            .playbook
            .unwrap()
    }

    #[test]
    fn names_each_step_and_the_exact_permissions_it_lacks() {
        let p = playbook();
        assert!(missing(&p, true, REMEDY_PERMISSIONS).is_empty());
        let roles = [
            "User.Read.All",
            "User.EnableDisableAccount.All",
            "Directory.Read.All",
        ];
        let m = missing(&p, true, &roles);
        let ops: Vec<Operation> = m.iter().map(|m| m.operation).collect();
        assert_eq!(ops, [Operation::ResetPassword, Operation::RevokeSessions]);
        assert_eq!(m[0].permissions, ["User-PasswordProfile.ReadWrite.All"]);
        assert!(m[0].describe().starts_with("step `reset-password` (reset_password): missing User-PasswordProfile.ReadWrite.All (or instead: User.ReadWrite.All, Directory.ReadWrite.All)"), "{}", m[0].describe());
        // A dry run needs only reads.
        assert!(missing(&p, false, &roles).is_empty());
        let m = missing(&p, true, &["User.EnableDisableAccount.All"]);
        assert_eq!(m[0].operation, Operation::ReadUser);
        let enable = m
            .iter()
            .find(|m| m.operation == Operation::SetAccountEnabled)
            .unwrap();
        assert_eq!(enable.permissions, ["User.Read.All"]);
    }
}
