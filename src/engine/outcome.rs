//! How one step of one user ended, as the engine records it: the journal's
//! status and reason, plus why a step was skipped or failed and the
//! property change a desired-state step found, which a plan records.

use crate::directory::{Change, DirError};
use crate::journal::StepStatus;

/// Why a step has its status, where the status alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The step ran (or would run) normally.
    Ran,
    ConditionFalse,
    Protected,
    NotFound,
    /// An earlier step of the user failed.
    EarlierFailed,
    /// `apply`: the user's state is no longer what the plan saw.
    Drifted,
    /// `apply`: the plan has nothing to do for this step.
    NotPlanned,
    /// The step cannot act on this kind of account (guest, synced).
    NotApplicable,
    /// Another row of the CSV names the same account, which this run
    /// processes once.
    Duplicate,
}

impl Why {
    /// The machine-readable code journaled for remedy's own skips; Graph
    /// errors keep Graph's code.
    pub fn code(self) -> Option<&'static str> {
        match self {
            Why::Drifted => Some("drifted"),
            Why::NotPlanned => Some("not_planned"),
            Why::NotApplicable => Some("not_applicable"),
            Why::Duplicate => Some("duplicate_account"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub status: StepStatus,
    /// Already journaled by an earlier (resumed) run: not written again.
    pub earlier: bool,
    pub reason: Option<String>,
    pub code: Option<String>,
    pub request_id: Option<String>,
    pub attempts: u32,
    pub why: Why,
    /// Before → after of the property a desired-state step sets.
    pub change: Option<Change>,
}

impl StepOutcome {
    pub fn new(status: StepStatus, reason: impl Into<String>) -> Self {
        StepOutcome {
            status,
            earlier: false,
            reason: Some(reason.into()),
            code: None,
            request_id: None,
            attempts: 0,
            why: Why::Ran,
            change: None,
        }
    }

    /// A skip (or failure) for `why`, with its code.
    pub fn because(status: StepStatus, why: Why, reason: impl Into<String>) -> Self {
        StepOutcome {
            why,
            code: why.code().map(str::to_owned),
            ..StepOutcome::new(status, reason)
        }
    }

    pub fn earlier(status: StepStatus) -> Self {
        StepOutcome {
            earlier: true,
            ..StepOutcome::new(status, "recorded by an earlier run")
        }
    }

    pub fn failed(e: &DirError, attempts: u32) -> Self {
        let mut reason = e.to_string();
        if let Some(h) = &e.hint {
            reason.push_str("; hint: ");
            reason.push_str(h);
        }
        StepOutcome {
            code: e.code.clone(),
            request_id: e.request_id.clone(),
            attempts,
            ..StepOutcome::new(StepStatus::Failed, reason)
        }
    }

    pub fn with_change(mut self, change: Option<Change>) -> Self {
        self.change = change;
        self
    }
}
