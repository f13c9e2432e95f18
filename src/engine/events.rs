//! `RunEvent`: the only interface from the engine to whoever shows
//! progress. The engine never prints; the CLI turns events into bars or
//! counter lines. (Reports are built from the journal, not from events, so
//! a resumed run's reports cover the whole run.)

use std::time::Duration;

use crate::journal::StepStatus;

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// Users in the CSV (known after validation).
    Total { users: u64, already_done: u64 },
    /// A step of a user ended.
    Step { step: usize, status: StepStatus },
    /// A user finished (all steps have an outcome).
    UserFinished { failed: bool },
    /// A user failed; the reason is already formatted for people.
    Failure {
        user: String,
        step: String,
        reason: String,
    },
    /// Graph asked remedy to slow down; every worker waits `for_`.
    Throttled { for_: Duration },
    /// The run's traffic, summed over its directories; sent every half
    /// second while users run, and once more when they are done.
    Pace {
        /// Requests (or `$batch` items) answered per second, measured
        /// over the last two seconds.
        answered_per_second: f64,
        /// Requests (or `$batch` items) answered so far, any status.
        answered: u64,
        /// 429 answers so far (items included): not pauses, answers.
        throttled: u64,
        /// What the directories' rate budgets allow now, per second;
        /// `None` when none keeps one (Active Directory).
        budget_per_second: Option<f64>,
    },
    /// A guard stopped scheduling new users.
    GuardTripped { reason: String },
    /// Ctrl-C or SIGTERM: no new users are started.
    Interrupted,
}
