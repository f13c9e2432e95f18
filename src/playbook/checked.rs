//! The checked playbook: what the rest of remedy works with.
//!
//! Built by `check/` only when a document has no errors, so every value
//! here is known good: kinds resolved, defaults applied, expressions
//! compiled once. Nothing downstream sees raw serde types.

use crate::diag::Location;
pub use crate::input::InputSpec;
pub use crate::playbook::expr::Condition;
pub use crate::playbook::model::{ActionKind, ApiVersion, EnsureKind, PimEligibility, Provider};
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
    pub provider: Provider,
    /// Tenant pin: a domain or a GUID, lower-cased.
    pub tenant: Option<String>,
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
    /// Where the step starts in the file (its `id`).
    pub location: Option<Location>,
}

impl Step {
    /// `name`, else `id`: what progress and reports show.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}
