//! [`Directory`]: the seam between the engine and a provider. An enum
//! over the implementations rather than a trait object, because the
//! calls are `async` (async trait methods are not object-safe) and the
//! set of providers is closed and known at compile time.

use std::time::Duration;

use crate::directory::{Account, DirError, Op, OpKind, Privileges, Property, Target, Traffic};
use crate::graph::GraphDirectory;
use crate::ldap::LdapDirectory;

/// A directory a run reads and changes accounts in.
#[expect(
    clippy::large_enum_variant,
    reason = "a run holds one per target, built once; never moved in a hot path"
)]
pub enum Directory {
    /// Microsoft Entra ID through Microsoft Graph.
    Graph(GraphDirectory),
    /// On-premises Active Directory over LDAP (shared by the run and its
    /// verify pass: one pool of bound connections).
    Ldap(std::sync::Arc<LdapDirectory>),
}

impl Directory {
    /// Reads the account named by a CSV key (a sign-in name or an id).
    pub async fn read(&self, key: &str) -> Result<Account, DirError> {
        match self {
            Directory::Graph(g) => g.read(key).await,
            Directory::Ldap(l) => l.read(key).await,
        }
    }

    /// What makes the account privileged, and what could not be
    /// established ([`Privileges::protection`] says whether to leave it
    /// alone). An error only when the provider got no definitive answer.
    pub async fn privileges(&self, id: &str) -> Result<Privileges, DirError> {
        match self {
            Directory::Graph(g) => g.privileges(id).await,
            Directory::Ldap(l) => l.privileges(id).await,
        }
    }

    /// Whether the account signs in through another identity provider (a
    /// password set here is not the one it signs in with).
    pub async fn federated(&self, account: &Account) -> Result<bool, DirError> {
        match self {
            Directory::Graph(g) => g.federated(account).await,
            Directory::Ldap(l) => l.federated(account).await,
        }
    }

    /// Performs `op` on the account with directory id `id`.
    pub async fn apply(&self, id: &str, op: &Op) -> Result<(), DirError> {
        match self {
            Directory::Graph(g) => g.apply(id, op).await,
            Directory::Ldap(l) => l.apply(id, op).await,
        }
    }

    /// Whether steps whose operations are of kinds `a` and `b` (in that
    /// order, on one account) may be sent as one request, which the
    /// directory applies whole or not at all.
    pub fn folds(&self, a: OpKind, b: OpKind) -> bool {
        match self {
            Directory::Graph(_) => GraphDirectory::folds(a, b),
            // A reset and `userAccountControl` could share one modify, but
            // the flag's write is its own delete-and-add: kept apart.
            Directory::Ldap(_) => false,
        }
    }

    /// Performs `ops`, which [`Directory::folds`] accepted, as one request.
    pub async fn apply_together(&self, id: &str, ops: &[&Op]) -> Result<(), DirError> {
        match (self, ops) {
            (_, [op]) => self.apply(id, op).await,
            (Directory::Graph(g), _) => g.apply_together(id, ops).await,
            (Directory::Ldap(_), _) => Err(DirError {
                kind: crate::directory::ErrorKind::Refused,
                code: None,
                message: "not sent: Active Directory operations are sent one at a time".to_owned(),
                request_id: None,
                retry_after: None,
                hint: None,
                fate_unknown: false,
            }),
        }
    }

    /// The provider's name of a property, as reports and plans show it.
    pub fn label(&self, p: Property) -> &'static str {
        self.label_fn()(p)
    }

    /// [`Directory::label`] as a function, for step kinds' texts.
    pub fn label_fn(&self) -> fn(Property) -> &'static str {
        match self {
            Directory::Graph(_) => GraphDirectory::label,
            Directory::Ldap(_) => LdapDirectory::label,
        }
    }

    /// What the run addresses.
    pub fn target(&self) -> &Target {
        match self {
            Directory::Graph(g) => g.target(),
            Directory::Ldap(l) => l.target(),
        }
    }

    /// How long every worker waits now because the service throttled the
    /// app (zero when it does not).
    pub fn pause(&self) -> Duration {
        match self {
            Directory::Graph(g) => g.pace().1,
            Directory::Ldap(l) => l.pause(),
        }
    }

    /// What was sent to this directory so far and what came back, and
    /// the rate budget it keeps (for the display and the manifest).
    pub fn traffic(&self) -> Traffic {
        match self {
            Directory::Graph(g) => g.traffic(),
            Directory::Ldap(l) => l.traffic(),
        }
    }

    /// How many users must be in flight to keep the provider busy.
    pub fn users_in_flight(&self) -> usize {
        match self {
            Directory::Graph(g) => g.users_in_flight(),
            Directory::Ldap(l) => l.users_in_flight(),
        }
    }
}
