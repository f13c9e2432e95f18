//! `remedy apply PLAN`: carries out a saved plan through `remedy run`'s
//! machinery (journal, secrets, resume, reports, confirmation), doing only
//! the planned changes and reporting users that drifted since the plan.

use std::path::PathBuf;

use clap::Args;

use crate::plan::parse_max_age;
use crate::session::Purpose;

use super::ColorChoice;
use super::session::run_session;
use super::session_args::{ChangeArgs, RecordArgs};

/// Do exactly what a saved plan says would change.
///
/// Refuses the plan (exit 3, nothing changed) if the playbook or the CSV
/// changed since it was made (SHA-256), the credentials are for another
/// tenant, or it is older than --max-age. Each planned user is read again
/// before anything is done: a step is carried out only if the plan said it
/// would change the user and what the plan saw still holds; a user whose
/// state moved (enabled or disabled by someone else, a re-created account)
/// is reported as drifted and left alone. Users and steps the plan has
/// nothing for are not touched. Journal, secrets.csv, --resume, reports
/// and the confirmation work as for `remedy run`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy plan workflows/unlock-account.yaml --users locked.csv -o plan.json
  remedy apply plan.json
  remedy apply plan.json --yes --verify
  remedy apply plan.json --resume

Exit codes: 0 every planned change made, 1 some users failed or drifted since the plan (or
--verify found drift), 2 invalid input, unreadable plan, usage or a missing permission (nothing
changed), 3 the plan is stale (playbook or CSV changed, other tenant, older than --max-age;
nothing changed) or a guard stopped the run, 130 interrupted (resume with --resume).")]
pub struct ApplyArgs {
    /// The plan saved by `remedy plan -o`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// The playbook, when it is no longer at the path the plan names. Its
    /// bytes must still be the planned ones.
    #[arg(long, value_name = "PLAYBOOK")]
    pub playbook: Option<PathBuf>,

    /// The CSV, when it is no longer at the path the plan names. Its bytes
    /// must still be the planned ones.
    #[arg(long, value_name = "CSV")]
    pub users: Option<PathBuf>,

    /// Refuse plans older than this (`90m`, `24h`, `7d`).
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_max_age)]
    pub max_age: std::time::Duration,

    /// After the run, read every user back and report drift.
    #[arg(long)]
    pub verify: bool,

    #[command(flatten)]
    pub record: RecordArgs,

    #[command(flatten)]
    pub change: ChangeArgs,
}

pub fn run(args: &ApplyArgs, color: ColorChoice) -> u8 {
    let config = args.record.config(
        Purpose::Apply {
            plan: args.plan.clone(),
            max_age: args.max_age,
        },
        // `None`: the paths the plan names.
        (args.playbook.clone(), args.users.clone()),
        // Plans and their application cover the whole CSV.
        None,
        Some((&args.change, args.verify)),
        color,
    );
    run_session(&config, color).map_or_else(|code| code, |o| o.exit_code())
}
