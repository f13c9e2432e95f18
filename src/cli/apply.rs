//! `remedy apply PLAN`: carries out a saved plan through `remedy run`'s
//! machinery (journal, secrets, resume, reports, confirmation), doing only
//! the planned changes and reporting users that drifted since the plan.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use crate::journal::{Record, key_hash};
use crate::plan::{PlanIndex, parse_max_age};
use crate::report::progress::ProgressMode;
use crate::rundir;

use super::ColorChoice;
use super::graph_args::GraphArgs;
use super::run::{Mode, RunArgs, execute, fail};
use super::send_args::SendArgs;

/// Drifted users listed on stdout; all of them are in the reports.
const SHOWN: usize = 20;

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
    let plan = match PlanIndex::read(&args.plan) {
        Ok(p) => p,
        Err(e) => return fail(&e, Some(e.hint())),
    };
    let sha256 = match rundir::sha256_file(&args.plan) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot read {}: {e}", args.plan.display()), None),
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let run_args = RunArgs {
        // Plans and their application cover the whole CSV.
        shard: None,
        playbook: args
            .playbook
            .clone()
            .unwrap_or_else(|| PathBuf::from(&plan.header.playbook_file)),
        users: args
            .users
            .clone()
            .unwrap_or_else(|| PathBuf::from(&plan.header.csv_file)),
        dry_run: false,
        send: args.send.clone(),
        state_dir: args.state_dir.clone(),
        resume: args.resume.clone(),
        yes: args.yes,
        progress: args.progress,
        report_dir: args.report_dir.clone(),
        emulate: args.emulate,
        verify: args.verify,
        no_preflight: args.no_preflight,
        graph: args.graph.clone(),
    };
    let mode = Mode::Apply {
        plan: Arc::new(plan),
        file: args.plan.clone(),
        sha256,
        max_age: args.max_age,
    };
    runtime.block_on(execute(&run_args, &mode, color)).code
}

/// Lists (on stdout) the users an apply left alone because they drifted
/// since the plan, and returns how many there were.
pub(super) fn report_drift(journal: &Path) -> u64 {
    let mut users = HashSet::new();
    let mut shown = Vec::new();
    let scanned = crate::report::for_each_record(journal, |record| {
        if let Record::Outcome {
            user,
            step,
            code: Some(code),
            reason,
            ..
        } = record
            && code == "drifted"
            && users.insert(key_hash(&user))
            && shown.len() < SHOWN
        {
            shown.push(format!("  {user} ({step}): {}", reason.unwrap_or_default()));
        }
        Ok(())
    });
    if let Err(e) = scanned {
        eprintln!("error: cannot read the journal to list drifted users: {e}");
        return 0;
    }
    let n = users.len() as u64;
    if n > 0 {
        println!(
            "\n{n} user{} drifted since the plan and {} not changed:",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" }
        );
        for line in &shown {
            println!("{line}");
        }
        if n > shown.len() as u64 {
            println!(
                "  … and {} more (code `drifted` in results.csv)",
                n - shown.len() as u64
            );
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::StepStatus;

    #[test]
    fn drifted_users_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let outcome = |user: &str, step: &str, code: Option<&str>| Record::Outcome {
            row: 2,
            user: user.into(),
            step: step.into(),
            status: StepStatus::Skipped,
            reason: Some("drifted since the plan".into()),
            code: code.map(Into::into),
            request_id: None,
            attempts: 0,
        };
        let records = [
            outcome("a@x.com", "s1", Some("drifted")),
            outcome("a@x.com", "s2", Some("drifted")),
            outcome("b@x.com", "s1", Some("not_planned")),
            outcome("c@x.com", "s1", None),
        ];
        std::fs::write(
            &path,
            records
                .iter()
                .flat_map(Record::to_line)
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        assert_eq!(report_drift(&path), 1);
    }
}
