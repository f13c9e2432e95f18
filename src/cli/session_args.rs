//! The flags that `run`, `plan` and `apply` share, flattened into each:
//! where the run is recorded, how it is shown, what it connects to and how
//! it sends (`RecordArgs`), and how a run that changes accounts is
//! confirmed and resumed (`ChangeArgs`).

use std::path::PathBuf;

use clap::Args;

use crate::report::progress::ProgressMode;

use super::graph_args::GraphArgs;
use super::send_args::SendArgs;

#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Where runs are recorded (journal, secrets, reports).
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Progress display: bars on a terminal, counter lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Where to write results.csv, results.jsonl, junit.xml and summary.md.
    /// Default: the run's directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Run against a built-in Graph emulator on 127.0.0.1 seeded with the
    /// CSV's users. No real tenant is touched.
    #[arg(long)]
    pub emulate: bool,

    #[command(flatten)]
    pub send: SendArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Continue an interrupted run (the latest, or the one named). An
    /// apply resumes only with the plan file it started with.
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Skip the permission preflight: the token's `roles` are not checked
    /// before the run, and a missing permission fails user by user.
    #[arg(long)]
    pub no_preflight: bool,
}
