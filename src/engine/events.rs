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
    /// The shared rate budget now allows this many requests (or `$batch`
    /// items) per second; sent every half second while users run.
    Pace { per_second: f64 },
    /// A guard stopped scheduling new users.
    GuardTripped { reason: String },
    /// Ctrl-C or SIGTERM: no new users are started.
    Interrupted,
}
