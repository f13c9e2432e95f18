//! What a session tells the operator on the way, as values: the CLI
//! decides how each [`Notice`] looks and where it goes (the session never
//! prints), answers the confirmation, and ends the process on a second
//! Ctrl-C.

use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::plan::PlanEnd;
use crate::report::ReportSummary;
use crate::session::outcome::Drifted;
use crate::shard::Shard;
use crate::verify::VerifySummary;

/// Something the operator should hear, in the order it happens.
#[derive(Debug)]
pub enum Notice {
    /// Problems (or warnings) found in the playbook and the CSV.
    Diagnostics(Vec<Diagnostic>),
    Shard {
        shard: Shard,
        users: u64,
        csv_rows: u64,
    },
    /// The run talks to the in-process emulator.
    Emulator {
        url: String,
        tenant: String,
    },
    /// `--no-preflight`.
    PreflightSkipped,
    /// The token is opaque: its permissions cannot be read.
    OpaqueToken,
    /// A dry run's token lacks what a real run needs.
    WouldBeRefused(String),
    Resuming {
        run_id: String,
        done: usize,
    },
    /// A torn last journal line was cut.
    TornJournal {
        bytes: u64,
    },
    /// A torn last line of `secrets.csv` was cut.
    TornSecrets {
        bytes: u64,
    },
    Applying {
        file: PathBuf,
        created: String,
        run_id: String,
        changes: u64,
        users: u64,
    },
    DryRun,
    /// A failure that does not stop the session (its outcome records it).
    Error(String),
    Warning(String),
    /// The end-of-run table.
    Table {
        summary: ReportSummary,
        dry_run: bool,
    },
    /// `remedy plan`: the plan was saved.
    PlanSaved {
        end: PlanEnd,
        out: PathBuf,
    },
    /// `remedy apply`: users left alone because they drifted.
    Drifted(Drifted),
    Verifying {
        run_id: String,
    },
    Verified {
        summary: VerifySummary,
        jsonl: PathBuf,
        md: PathBuf,
    },
    Recorded {
        run_id: String,
        path: PathBuf,
    },
    Secrets {
        path: PathBuf,
        /// Users whose saved password was never set (their reset failed).
        not_set: u64,
    },
    /// Ctrl-C: the command that resumes the run.
    Interrupted {
        again: String,
        run_id: String,
    },
    GuardStopped {
        reason: String,
    },
    /// A resume found the run already completed.
    AlreadyCompleted {
        run_id: String,
        users: u64,
        failed: u64,
        path: PathBuf,
    },
    /// The first Ctrl-C: no new step starts; the requests already sent
    /// (this many) finish.
    Stopping {
        in_flight: usize,
    },
}

/// What the operator is asked to confirm before the first change.
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// The prompt, ending in `[y/N] `.
    pub text: String,
}

/// The operator's side of a session.
pub trait Ui: Send + Sync {
    fn notice(&self, notice: Notice);
    /// Whether a confirmation can be asked (stdin is a terminal).
    fn can_ask(&self) -> bool;
    /// Shows the prompt and reads the answer.
    fn confirm(&self, c: &Confirmation) -> bool;
    /// The second Ctrl-C: end the process now (exit 130); the journal
    /// stays consistent (a torn last line is cut on resume).
    fn abort(&self, run_id: &str) -> !;
}
