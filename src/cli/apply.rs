//! `remedy apply PLAN`: carries out a saved plan through `remedy run`'s
//! machinery (journal, secrets, resume, reports, confirmation), doing only
//! the planned changes and reporting users that drifted since the plan.

use std::path::PathBuf;

use clap::Args;

use crate::plan::parse_max_age;
use crate::report::progress::ProgressMode;
use crate::session::{Purpose, RunConfig};

use super::ColorChoice;
use super::graph_args::GraphArgs;
use super::send_args::SendArgs;
use super::session::{connection, run_session};

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

    /// Where runs are recorded (journal, secrets, reports).
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Continue an interrupted apply of this plan (the latest run, or the
    /// one named).
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Progress display: bars on a terminal, counter lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Where to write the reports. Default: the run's directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Apply against a built-in Graph emulator on 127.0.0.1 seeded with the
    /// CSV's users (for plans made with `--emulate`).
    #[arg(long)]
    pub emulate: bool,

    /// After the run, read every user back and report drift.
    #[arg(long)]
    pub verify: bool,

    /// Skip the permission preflight (a missing permission then fails user
    /// by user).
    #[arg(long)]
    pub no_preflight: bool,

    #[command(flatten)]
    pub send: SendArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &ApplyArgs, color: ColorChoice) -> u8 {
    let config = RunConfig {
        purpose: Purpose::Apply {
            plan: args.plan.clone(),
            max_age: args.max_age,
        },
        playbook: args.playbook.clone(),
        users: args.users.clone(),
        // Plans and their application cover the whole CSV.
        shard: None,
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
