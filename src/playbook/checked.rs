//! The checked playbook: what the rest of remedy works with.
//!
//! Built by `check/` only when a document has no errors, so every value
//! here is known good: kinds resolved, defaults applied, expressions
//! compiled once. Nothing downstream sees raw serde types.

use crate::diag::Location;
pub use crate::input::InputSpec;
pub use crate::playbook::expr::Condition;
pub use crate::playbook::model::{
    ActionKind, ApiVersion, EnsureKind, FindBy, PimEligibility, Provider,
};
pub use crate::steps::{PasswordSource, ResetPassword, StepKind};

/// Default for `input.key`.
pub const DEFAULT_KEY: &str = "userPrincipalName";

/// A validated `remedy/v1` playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The file it was read from, as the user named it.
    pub file: String,
    pub api_version: ApiVersion,
    pub name: String,
    pub description: Option<String>,
    /// The first step's target's provider.
    pub provider: Provider,
    /// Tenant pin of the first step's target (Graph): a domain or a GUID,
    /// lower-cased.
    pub tenant: Option<String>,
    /// The directories the steps act on; a single `target:` is one named
    /// `target`. Steps refer to them by index ([`Step::target`]).
    pub targets: Vec<TargetSpec>,
    pub input: InputSpec,
    pub guards: Guards,
    pub settings: Settings,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Guards {
    pub max_users: Option<u64>,
    pub max_failures: Option<FailureLimit>,
    /// Skip privileged accounts (and those that cannot be told).
    pub protect_privileged: bool,
    /// Whether a tenant without PIM's licence cannot tell (`Required`)
    /// or has no eligible roles (`IfLicensed`).
    pub pim_eligibility: PimEligibility,
    /// Accounts (UPN or object id) never touched, lower-cased (Unicode):
    /// matched against the CSV key and against the account as read.
    pub protected_users: Vec<String>,
}

/// `max_failures`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureLimit {
    Count(u64),
    /// Percentage of the users in the run, 0 < p ≤ 100.
    Percent(f64),
}

impl FailureLimit {
    /// The number of failed users at which the run stops, for `users` users.
    /// A limit is reached when failures exceed it.
    pub fn allowed(self, users: u64) -> u64 {
        match self {
            FailureLimit::Count(n) => n,
            FailureLimit::Percent(p) => ((users as f64) * p / 100.0).floor() as u64,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub concurrency: Option<u32>,
    pub max_rate: Option<f64>,
    pub batch: Option<bool>,
}

/// One directory a playbook acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The key under `targets:`, or `target` for a single `target:`.
    pub name: String,
    pub provider: Provider,
    /// Graph: the tenant pin, lower-cased.
    pub tenant: Option<String>,
    /// Active Directory: how to reach it.
    pub ldap: Option<LdapSpec>,
}

/// An Active Directory target as the playbook names it (the bind identity
/// and password come from the environment, never from the playbook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSpec {
    /// `ldaps://…` or `ldap://…` (then StartTLS).
    pub url: String,
    pub base_dn: String,
    /// The domain pin: a DNS name (lower-cased) or a SID.
    pub domain: Option<String>,
    pub find_by: FindBy,
}

impl Playbook {
    /// Whether one playbook acts on several directories.
    pub fn is_hybrid(&self) -> bool {
        self.targets.len() > 1
    }
}

/// One step of the playbook.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: Option<String>,
    pub kind: StepKind,
    /// A minijinja expression over `row`, compiled once when the playbook
    /// was checked; `None` means always.
    pub when: Option<Condition>,
    pub retries: Option<u32>,
    pub continue_on_error: bool,
    /// The index in [`Playbook::targets`] of the directory it acts on.
    pub target: usize,
    /// Where the step starts in the file (its `id`).
    pub location: Option<Location>,
}

impl Step {
    /// `name`, else `id`: what progress and reports show.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}
