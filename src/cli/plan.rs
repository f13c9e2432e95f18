//! `remedy plan`: a dry run whose per-user, per-step result is saved to a
//! plan file bound to the playbook, the CSV, the tenant and a time, for
//! `remedy apply` to carry out exactly.

use std::path::PathBuf;

use clap::Args;

use crate::exit_code;
use crate::plan::PlanEnd;
use crate::session::{Outcome, Purpose};

use super::ColorChoice;
use super::session::run_session;
use super::session_args::RecordArgs;

/// Exit code of `--detailed-exitcode` when the plan has changes.
pub const CHANGES_PENDING: u8 = 2;

/// Read every user and save what a run would do to a plan file.
///
/// Runs the playbook as a dry run (nothing is changed) and writes, for
/// every user and step, whether it would change (with before → after for
/// accountEnabled), is already ok, does not apply (condition false), or
/// cannot be done (user not found, protected). Never a password. The plan
/// is bound to the SHA-256 of the playbook and the CSV, the tenant of the
/// credentials and its creation time; `remedy apply PLAN` does exactly the
/// planned changes.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy plan workflows/unlock-account.yaml --users locked.csv -o plan.json
  remedy plan workflows/unlock-account.yaml --users locked.csv -o plan.json --detailed-exitcode

Exit codes: 0 plan saved (users not found are part of the plan, not errors), 1 some users could
not be read (the plan is saved without changes for them), 2 invalid input, usage or a missing
read permission, 3 a guard stopped the dry run (no plan saved), 130 interrupted (no plan saved).
With --detailed-exitcode: 0 nothing to do, 2 changes pending, 1 any error (130 stays 130).")]
pub struct PlanArgs {
    /// The playbook (YAML).
    #[arg(value_name = "PLAYBOOK")]
    pub playbook: PathBuf,

    /// The users (CSV: plain, Entra export or bulk template).
    #[arg(long, value_name = "CSV")]
    pub users: PathBuf,

    /// Where to save the plan (JSON Lines; written whole or not at all).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,

    /// Exit 0 when nothing would change, 2 when changes are pending, 1 on
    /// any error (like `terraform plan -detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub record: RecordArgs,
}

pub fn run(args: &PlanArgs, color: ColorChoice) -> u8 {
    let config = args.record.config(
        Purpose::Plan {
            out: args.out.clone(),
        },
        (Some(args.playbook.clone()), Some(args.users.clone())),
        // Plans and their application cover the whole CSV.
        None,
        None,
        color,
    );
    let outcome = run_session(&config, color);
    let code = outcome.as_ref().map_or_else(|c| *c, Outcome::exit_code);
    if !args.detailed_exitcode {
        return code;
    }
    detailed(code, outcome.as_ref().ok().and_then(Outcome::plan))
}

/// `--detailed-exitcode`: 0 nothing to do, 2 changes pending, 1 errors.
fn detailed(code: u8, plan: Option<&PlanEnd>) -> u8 {
    match (code, plan) {
        (exit_code::OK, Some(end)) if end.changes > 0 => CHANGES_PENDING,
        (exit_code::OK, Some(_)) => exit_code::OK,
        (exit_code::INTERRUPTED, _) => exit_code::INTERRUPTED,
        _ => exit_code::PROBLEMS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_exit_codes() {
        let changes = PlanEnd {
            changes: 3,
            ..PlanEnd::default()
        };
        assert_eq!(detailed(0, Some(&changes)), 2);
        assert_eq!(detailed(0, Some(&PlanEnd::default())), 0);
        assert_eq!(detailed(1, Some(&changes)), 1);
        assert_eq!(detailed(2, None), 1);
        assert_eq!(detailed(3, None), 1);
        assert_eq!(detailed(130, None), 130);
    }
}
