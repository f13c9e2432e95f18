//! An outcome record as the reports see it: one line of `results.csv`
//! and `results.jsonl`, one test case of `junit.xml`, one count in the
//! summary. The reports take the `Outcome` record apart here only.

use serde::Serialize;

use crate::journal::{Record, StepStatus};

/// An `Outcome` record, borrowed: one line of `results.csv` and
/// `results.jsonl`, one test case of `junit.xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutcomeRef<'a> {
    pub row: u64,
    pub user: &'a str,
    pub step: &'a str,
    pub status: StepStatus,
    pub reason: Option<&'a str>,
    pub code: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub attempts: u32,
}

impl<'a> OutcomeRef<'a> {
    /// The outcome in `record`, if it is one.
    pub fn of(record: &'a Record) -> Option<Self> {
        match record {
            Record::Outcome {
                row,
                user,
                step,
                status,
                reason,
                code,
                request_id,
                attempts,
            } => Some(OutcomeRef {
                row: *row,
                user,
                step,
                status: *status,
                reason: reason.as_deref(),
                code: code.as_deref(),
                request_id: request_id.as_deref(),
                attempts: *attempts,
            }),
            _ => None,
        }
    }
}
