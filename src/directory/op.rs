//! An operation remedy performs on an account, in the directory's neutral
//! terms; each provider turns it into its own request.

use secrecy::SecretString;

/// What a provider is asked to do to one account.
#[derive(Debug, Clone)]
pub enum Op {
    /// Set a new password (its `Debug` is redacted by `SecretString`).
    ResetPassword {
        password: SecretString,
        force_change: bool,
        with_mfa: bool,
    },
    /// Allow (`true`) or block (`false`) sign-in.
    SetEnabled(bool),
    /// Invalidate the account's sign-in sessions.
    RevokeSessions,
    /// End a lockout (Active Directory: `lockoutTime` to 0).
    Unlock,
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::ResetPassword { .. } => OpKind::ResetPassword,
            Op::SetEnabled(_) => OpKind::SetEnabled,
            Op::RevokeSessions => OpKind::RevokeSessions,
            Op::Unlock => OpKind::Unlock,
        }
    }
}

/// Every kind of call a run makes, reads included: what the permission
/// preflight asks a provider about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Read an account.
    ReadAccount,
    /// Find what makes an account privileged (the protection guard).
    ReadPrivileges,
    /// Find whether an account signs in through another identity provider
    /// (Graph: whether its domain is federated).
    ReadSignInAuthority,
    ResetPassword,
    SetEnabled,
    RevokeSessions,
    Unlock,
}
