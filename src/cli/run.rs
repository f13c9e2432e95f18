//! `remedy run`: validate, connect, confirm, then apply the playbook to
//! every user, durably, with progress and reports.

use std::path::PathBuf;

use clap::Args;

use crate::session::Purpose;
use crate::shard::Shard;

use super::ColorChoice;
use super::session::run_session;
use super::session_args::{ChangeArgs, RecordArgs};

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

    /// After the run, read every user back and report drift: sign-in not
    /// as desired, a reset or revocation whose timestamp did not move
    /// (see `remedy verify`).
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,

    #[command(flatten)]
    pub record: RecordArgs,

    #[command(flatten)]
    pub change: ChangeArgs,
}

pub fn run(args: &RunArgs, color: ColorChoice) -> u8 {
    let config = args.record.config(
        Purpose::Run {
            dry_run: args.dry_run,
        },
        (Some(args.playbook.clone()), Some(args.users.clone())),
        args.shard,
        Some((&args.change, args.verify)),
        color,
    );
    run_session(&config, color).map_or_else(|code| code, |o| o.exit_code())
}
