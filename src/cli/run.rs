//! `remedy run`: validate, connect, confirm, then apply the playbook to
//! every user, durably, with progress and reports.

use std::path::PathBuf;

use clap::Args;

use crate::report::progress::ProgressMode;
use crate::session::{Purpose, RunConfig};
use crate::shard::Shard;

use super::ColorChoice;
use super::graph_args::GraphArgs;
use super::send_args::SendArgs;
use super::session::{connection, run_session};

/// Apply a playbook to every user in a CSV.
///
/// Validates the playbook and the CSV first (any error: exit 2, nothing
/// touched), shows what will happen and asks for confirmation, then runs
/// users concurrently while honouring Graph's throttling. Every intent and
/// outcome is journaled under --state-dir, so an interrupted run resumes
/// with --resume without doing anything twice. Generated passwords are
/// written only to the run's secrets.csv (mode 0600).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy run workflows/unlock-account.yaml --users examples/users.csv --emulate --yes
  remedy run workflows/unlock-account.yaml --users locked.csv --dry-run
  remedy run workflows/incident-response.yaml --users compromised.csv
  remedy run workflows/incident-response.yaml --users compromised.csv --resume
  remedy run workflows/unlock-account.yaml --users huge.csv --shard 2/3 --max-rate 6 --yes
  remedy run workflows/unlock-account.yaml --users locked.csv --yes --verify

Exit codes: 0 all users ok/changed/skipped, 1 some users failed (or --verify found drift),
2 invalid input or usage, or a missing permission (nothing changed), 3 a guard stopped the
run, 130 interrupted (resume with --resume).")]
pub struct RunArgs {
    /// The playbook (YAML).
    #[arg(value_name = "PLAYBOOK")]
    pub playbook: PathBuf,

    /// The users (CSV: plain, Entra export or bulk template).
    #[arg(long, value_name = "CSV")]
    pub users: PathBuf,

    /// Read every user and report what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Process only shard I of N (1-based): the users whose key (case-folded)
    /// hashes there, so N processes can split one CSV. The whole CSV is still
    /// validated. The shards share the tenant's throttling budget: give each
    /// about 1/N of it with --max-rate.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,

    /// Where runs are recorded (journal, secrets, reports).
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Continue an interrupted run (the latest, or the one named).
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

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

    /// After the run, read every user back and report drift: sign-in not
    /// as desired, a reset or revocation whose timestamp did not move
    /// (see `remedy verify`).
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,

    /// Skip the permission preflight: the token's `roles` are not checked
    /// before the run, and a missing permission fails user by user.
    #[arg(long)]
    pub no_preflight: bool,

    #[command(flatten)]
    pub send: SendArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &RunArgs, color: ColorChoice) -> u8 {
    let config = RunConfig {
        purpose: Purpose::Run {
            dry_run: args.dry_run,
        },
        playbook: Some(args.playbook.clone()),
        users: Some(args.users.clone()),
        shard: args.shard,
        state_dir: args.state_dir.clone(),
        resume: args.resume.clone(),
        yes: args.yes,
        progress: args.progress,
        color: color.stderr_enabled(),
        report_dir: args.report_dir.clone(),
        connection: connection(args.emulate, &args.graph),
        verify: args.verify,
        preflight: !args.no_preflight,
        send: args.send.overrides(),
    };
    run_session(&config, color).map_or_else(|code| code, |o| o.exit_code())
}
